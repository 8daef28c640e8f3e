"""The Flight SQL protocol messages, declared from the specification without generated code.

pyarrow ships no Flight SQL message classes, and quarry does not run ``protoc``:
this module describes each message it needs (name, field numbers, types) the way
``FlightSql.proto`` defines them, builds a ``FileDescriptorProto`` from that table,
and lets protobuf's message factory make the classes. The wire format is therefore
the specification's; a few details are simplified where the wire cannot tell:

- enum-typed fields are declared ``int32`` (both are varints on the wire); the enum
  values live in :class:`IntEnum` classes below;
- ``map<string, string> options`` is declared as the repeated ``OptionsEntry``
  message that a map is on the wire;
- ``CancelFlightInfoRequest.info`` (a ``FlightInfo`` message in ``Flight.proto``) is
  declared ``bytes`` and decoded with :meth:`pyarrow.flight.FlightInfo.deserialize`.

Commands travel packed in ``google.protobuf.Any`` (type URL
``type.googleapis.com/arrow.flight.protocol.sql.<Message>``), as the specification
requires; :func:`pack` and :func:`unpack` do that.

    >>> cmd = MESSAGES["CommandStatementQuery"](query="SELECT 1")
    >>> unpack(pack(cmd)).query
    'SELECT 1'
"""

from __future__ import annotations

import enum

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

SQL_PACKAGE = "arrow.flight.protocol.sql"
FLIGHT_PACKAGE = "arrow.flight.protocol"
TYPE_URL_PREFIX = "type.googleapis.com/"

_T = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "string": _T.TYPE_STRING, "bytes": _T.TYPE_BYTES, "bool": _T.TYPE_BOOL,
    "int32": _T.TYPE_INT32, "int64": _T.TYPE_INT64, "uint32": _T.TYPE_UINT32,
    "sfixed64": _T.TYPE_SFIXED64, "double": _T.TYPE_DOUBLE,
}

# name -> [(field, number, type, label)]; label is "" (proto3 implicit), "optional" (proto3 explicit
# presence) or "repeated"; a type that is not a scalar names another message of the same package.
# Field numbers and labels are those of FlightSql.proto.
_SQL_MESSAGES: dict[str, list[tuple[str, int, str, str]]] = {
    # -- metadata commands (GetFlightInfo / GetSchema, then DoGet) -----------------------------
    "CommandGetSqlInfo": [("info", 1, "uint32", "repeated")],
    "CommandGetXdbcTypeInfo": [("data_type", 1, "int32", "optional")],
    "CommandGetCatalogs": [],
    "CommandGetDbSchemas": [("catalog", 1, "string", "optional"),
                            ("db_schema_filter_pattern", 2, "string", "optional")],
    "CommandGetTables": [("catalog", 1, "string", "optional"),
                         ("db_schema_filter_pattern", 2, "string", "optional"),
                         ("table_name_filter_pattern", 3, "string", "optional"),
                         ("table_types", 4, "string", "repeated"),
                         ("include_schema", 5, "bool", "")],
    "CommandGetTableTypes": [],
    "CommandGetPrimaryKeys": [("catalog", 1, "string", "optional"), ("db_schema", 2, "string", "optional"),
                              ("table", 3, "string", "")],
    "CommandGetExportedKeys": [("catalog", 1, "string", "optional"), ("db_schema", 2, "string", "optional"),
                               ("table", 3, "string", "")],
    "CommandGetImportedKeys": [("catalog", 1, "string", "optional"), ("db_schema", 2, "string", "optional"),
                               ("table", 3, "string", "")],
    "CommandGetCrossReference": [("pk_catalog", 1, "string", "optional"), ("pk_db_schema", 2, "string", "optional"),
                                 ("pk_table", 3, "string", ""), ("fk_catalog", 4, "string", "optional"),
                                 ("fk_db_schema", 5, "string", "optional"), ("fk_table", 6, "string", "")],
    # -- prepared statements (DoAction) ---------------------------------------------------------
    "ActionCreatePreparedStatementRequest": [("query", 1, "string", ""),
                                             ("transaction_id", 2, "bytes", "optional")],
    "ActionCreatePreparedStatementResult": [("prepared_statement_handle", 1, "bytes", ""),
                                            ("dataset_schema", 2, "bytes", ""),
                                            ("parameter_schema", 3, "bytes", "")],
    "ActionClosePreparedStatementRequest": [("prepared_statement_handle", 1, "bytes", "")],
    "ActionCancelQueryRequest": [("info", 1, "bytes", "")],
    "ActionCancelQueryResult": [("result", 1, "int32", "")],
    "ActionBeginTransactionRequest": [],
    # -- queries and updates ---------------------------------------------------------------------
    "CommandStatementQuery": [("query", 1, "string", ""), ("transaction_id", 2, "bytes", "optional")],
    "CommandStatementSubstraitPlan": [("plan", 1, "bytes", ""), ("transaction_id", 2, "bytes", "optional")],
    "TicketStatementQuery": [("statement_handle", 1, "bytes", "")],
    "CommandPreparedStatementQuery": [("prepared_statement_handle", 1, "bytes", "")],
    "CommandStatementUpdate": [("query", 1, "string", ""), ("transaction_id", 2, "bytes", "optional")],
    "CommandPreparedStatementUpdate": [("prepared_statement_handle", 1, "bytes", "")],
    "CommandStatementIngest.TableDefinitionOptions": [("if_not_exist", 1, "int32", ""),
                                                      ("if_exists", 2, "int32", "")],
    "CommandStatementIngest.OptionsEntry": [("key", 1, "string", ""), ("value", 2, "string", "")],
    "CommandStatementIngest": [("table_definition_options", 1, "CommandStatementIngest.TableDefinitionOptions", ""),
                               ("table", 2, "string", ""),
                               ("schema", 3, "string", "optional"),
                               ("catalog", 4, "string", "optional"),
                               ("temporary", 5, "bool", ""),
                               ("transaction_id", 6, "bytes", "optional"),
                               ("options", 1000, "CommandStatementIngest.OptionsEntry", "repeated")],
    "DoPutUpdateResult": [("record_count", 1, "int64", "")],
    "DoPutPreparedStatementResult": [("prepared_statement_handle", 1, "bytes", "optional")],
}

# Flight.proto (the core protocol): the CancelFlightInfo and CloseSession actions' messages.
_FLIGHT_MESSAGES: dict[str, list[tuple[str, int, str, str]]] = {
    "CancelFlightInfoRequest": [("info", 1, "bytes", "")],
    "CancelFlightInfoResult": [("status", 1, "int32", "")],
    "CloseSessionRequest": [],
    "CloseSessionResult": [("status", 1, "int32", "")],
    # session options (the SetSessionOptions / GetSessionOptions actions); the `oneof option_value`
    # members are declared `optional`, which is the same on the wire and says which one is set
    "SessionOptionValue": [("string_value", 1, "string", "optional"), ("bool_value", 2, "bool", "optional"),
                           ("int64_value", 3, "sfixed64", "optional"), ("double_value", 4, "double", "optional"),
                           ("string_list_value", 5, "SessionOptionValue.StringListValue", "optional")],
    "SessionOptionValue.StringListValue": [("values", 1, "string", "repeated")],
    "SetSessionOptionsRequest": [("session_options", 1, "SetSessionOptionsRequest.SessionOptionsEntry",
                                  "repeated")],
    "SetSessionOptionsRequest.SessionOptionsEntry": [("key", 1, "string", ""),
                                                     ("value", 2, "SessionOptionValue", "")],
    "SetSessionOptionsResult": [("errors", 1, "SetSessionOptionsResult.ErrorsEntry", "repeated")],
    "SetSessionOptionsResult.Error": [("value", 1, "int32", "")],
    "SetSessionOptionsResult.ErrorsEntry": [("key", 1, "string", ""), ("value", 2, "SetSessionOptionsResult.Error", "")],
    "GetSessionOptionsRequest": [],
    "GetSessionOptionsResult": [("session_options", 1, "GetSessionOptionsResult.SessionOptionsEntry", "repeated")],
    "GetSessionOptionsResult.SessionOptionsEntry": [("key", 1, "string", ""),
                                                    ("value", 2, "SessionOptionValue", "")],
}


class SqlInfo(enum.IntEnum):
    """The ``SqlInfo`` ids quarry answers (a subset of the specification's enum, same numbers)."""

    FLIGHT_SQL_SERVER_NAME = 0
    FLIGHT_SQL_SERVER_VERSION = 1
    FLIGHT_SQL_SERVER_ARROW_VERSION = 2
    FLIGHT_SQL_SERVER_READ_ONLY = 3
    FLIGHT_SQL_SERVER_SQL = 4
    FLIGHT_SQL_SERVER_SUBSTRAIT = 5
    FLIGHT_SQL_SERVER_TRANSACTION = 8
    FLIGHT_SQL_SERVER_CANCEL = 9
    FLIGHT_SQL_SERVER_BULK_INGESTION = 10
    FLIGHT_SQL_SERVER_INGEST_TRANSACTIONS_SUPPORTED = 11
    FLIGHT_SQL_SERVER_STATEMENT_TIMEOUT = 100
    FLIGHT_SQL_SERVER_TRANSACTION_TIMEOUT = 101
    SQL_DDL_CATALOG = 500
    SQL_DDL_SCHEMA = 501
    SQL_DDL_TABLE = 502
    SQL_IDENTIFIER_CASE = 503
    SQL_IDENTIFIER_QUOTE_CHAR = 504
    SQL_QUOTED_IDENTIFIER_CASE = 505
    SQL_ALL_TABLES_ARE_SELECTABLE = 506
    SQL_NULL_ORDERING = 507
    SQL_KEYWORDS = 508
    SQL_NUMERIC_FUNCTIONS = 509
    SQL_STRING_FUNCTIONS = 510
    SQL_SYSTEM_FUNCTIONS = 511
    SQL_DATETIME_FUNCTIONS = 512
    SQL_SEARCH_STRING_ESCAPE = 513
    SQL_EXTRA_NAME_CHARACTERS = 514
    SQL_SUPPORTS_COLUMN_ALIASING = 515
    SQL_NULL_PLUS_NULL_IS_NULL = 516
    SQL_SUPPORTS_CONVERT = 517
    SQL_SUPPORTS_TABLE_CORRELATION_NAMES = 518
    SQL_SUPPORTS_DIFFERENT_TABLE_CORRELATION_NAMES = 519
    SQL_SUPPORTS_EXPRESSIONS_IN_ORDER_BY = 520
    SQL_SUPPORTS_ORDER_BY_UNRELATED = 521
    SQL_SUPPORTED_GROUP_BY = 522
    SQL_SUPPORTS_LIKE_ESCAPE_CLAUSE = 523
    SQL_SUPPORTS_NON_NULLABLE_COLUMNS = 524
    SQL_SUPPORTED_GRAMMAR = 525
    SQL_ANSI92_SUPPORTED_LEVEL = 526
    SQL_SUPPORTS_INTEGRITY_ENHANCEMENT_FACILITY = 527
    SQL_OUTER_JOINS_SUPPORT_LEVEL = 528
    SQL_SCHEMA_TERM = 529
    SQL_PROCEDURE_TERM = 530
    SQL_CATALOG_TERM = 531
    SQL_CATALOG_AT_START = 532
    SQL_SCHEMAS_SUPPORTED_ACTIONS = 533
    SQL_CATALOGS_SUPPORTED_ACTIONS = 534
    SQL_SUPPORTED_POSITIONED_COMMANDS = 535
    SQL_SELECT_FOR_UPDATE_SUPPORTED = 536
    SQL_STORED_PROCEDURES_SUPPORTED = 537
    SQL_SUPPORTED_SUBQUERIES = 538
    SQL_CORRELATED_SUBQUERIES_SUPPORTED = 539
    SQL_SUPPORTED_UNIONS = 540
    SQL_MAX_STATEMENT_LENGTH = 557
    SQL_DEFAULT_TRANSACTION_ISOLATION = 562
    SQL_TRANSACTIONS_SUPPORTED = 563
    SQL_SUPPORTED_TRANSACTIONS_ISOLATION_LEVELS = 564
    SQL_DATA_DEFINITION_CAUSES_TRANSACTION_COMMIT = 565
    SQL_DATA_DEFINITIONS_IN_TRANSACTIONS_IGNORED = 566
    SQL_SUPPORTED_RESULT_SET_TYPES = 567
    SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_UNSPECIFIED = 568
    SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_FORWARD_ONLY = 569
    SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_SCROLL_SENSITIVE = 570
    SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_SCROLL_INSENSITIVE = 571
    SQL_BATCH_UPDATES_SUPPORTED = 572
    SQL_SAVEPOINTS_SUPPORTED = 573
    SQL_NAMED_PARAMETERS_SUPPORTED = 574
    SQL_LOCATORS_UPDATE_COPY = 575
    SQL_STORED_FUNCTIONS_USING_CALL_SYNTAX_SUPPORTED = 576


class TableNotExistOption(enum.IntEnum):
    """``CommandStatementIngest.TableDefinitionOptions.TableNotExistOption``."""

    UNSPECIFIED = 0
    CREATE = 1
    FAIL = 2


class TableExistsOption(enum.IntEnum):
    """``CommandStatementIngest.TableDefinitionOptions.TableExistsOption``."""

    UNSPECIFIED = 0
    FAIL = 1
    APPEND = 2
    REPLACE = 3


class CancelStatus(enum.IntEnum):
    """``CancelStatus`` of Flight.proto (also the values of the legacy ``ActionCancelQueryResult``)."""

    UNSPECIFIED = 0
    CANCELLED = 1
    CANCELLING = 2
    NOT_CANCELLABLE = 3


def _file_proto(package: str, file_name: str, messages: dict) -> descriptor_pb2.FileDescriptorProto:
    """A proto3 file declaring ``messages`` (``Outer.Inner`` names become nested messages)."""
    proto = descriptor_pb2.FileDescriptorProto(name=file_name, package=package, syntax="proto3")
    built: dict[str, descriptor_pb2.DescriptorProto] = {}
    for name in sorted(messages, key=lambda n: n.count(".")):       # outer messages before inner ones
        outer, _, inner = name.rpartition(".")
        parent = built[outer].nested_type if outer else proto.message_type
        msg = parent.add(name=inner)
        built[name] = msg
        for field_name, number, type_name, label in messages[name]:
            field = msg.field.add(name=field_name, number=number,
                                  label=_T.LABEL_REPEATED if label == "repeated" else _T.LABEL_OPTIONAL)
            if type_name in _SCALARS:
                field.type = _SCALARS[type_name]
            else:
                field.type = _T.TYPE_MESSAGE
                field.type_name = f".{package}.{type_name}"
            if label == "optional":
                # proto3 `optional`: a synthetic one-field oneof gives the field presence (HasField)
                field.proto3_optional = True
                field.oneof_index = len(msg.oneof_decl)
                msg.oneof_decl.add(name=f"_{field_name}")
    return proto


def _build() -> dict[str, type]:
    pool = descriptor_pool.DescriptorPool()
    classes = {}
    for package, file_name, messages in ((SQL_PACKAGE, "quarry_flight_sql.proto", _SQL_MESSAGES),
                                         (FLIGHT_PACKAGE, "quarry_flight.proto", _FLIGHT_MESSAGES)):
        pool.Add(_file_proto(package, file_name, messages))
        for name in messages:
            classes[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
    return classes


MESSAGES: dict[str, type] = _build()
"""Message classes by name: ``MESSAGES["CommandStatementQuery"](query="SELECT 1")``."""

_BY_FULL_NAME = {cls.DESCRIPTOR.full_name: cls for cls in MESSAGES.values()}


class ProtocolError(ValueError):
    """Bytes that are not a Flight SQL message quarry understands."""


def pack(message) -> bytes:
    """Serialize ``message`` wrapped in ``google.protobuf.Any``."""
    wrapper = any_pb2.Any()
    wrapper.Pack(message)
    return wrapper.SerializeToString()


def unpack(data: bytes):
    """Parse an ``Any``-wrapped Flight SQL message; ProtocolError when it is none quarry knows."""
    wrapper = any_pb2.Any()
    try:
        wrapper.ParseFromString(data)
    except Exception as exc:   # protobuf raises its own DecodeError family
        raise ProtocolError(f"not a protobuf Any message: {exc}") from None
    if not wrapper.type_url.startswith(TYPE_URL_PREFIX):
        raise ProtocolError(f"unexpected type URL `{wrapper.type_url}`")
    cls = _BY_FULL_NAME.get(wrapper.type_url[len(TYPE_URL_PREFIX):])
    if cls is None:
        raise ProtocolError(f"unsupported Flight SQL command `{wrapper.type_url}`")
    message = cls()
    try:
        message.ParseFromString(wrapper.value)
    except Exception as exc:
        raise ProtocolError(f"malformed {cls.DESCRIPTOR.name}: {exc}") from None
    return message


def name_of(message) -> str:
    """The message's short name: ``name_of(cmd) == "CommandStatementQuery"``."""
    return message.DESCRIPTOR.name


def optional(message, field: str):
    """The value of a proto3 ``optional`` field, or None when the client left it unset."""
    return getattr(message, field) if message.HasField(field) else None


__all__ = ["MESSAGES", "SqlInfo", "TableNotExistOption", "TableExistsOption", "CancelStatus", "ProtocolError",
           "pack", "unpack", "name_of", "optional"]
