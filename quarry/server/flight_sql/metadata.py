"""Answers to the Flight SQL metadata commands, in exactly the result schemas of the specification.

Each ``*_SCHEMA`` below is transcribed from the comment above the command in
``FlightSql.proto`` (field names, types, nullability, list child names); each
``get_*`` function builds the rows from the shared catalog. quarry's namespace is
flat, so it is presented as one catalog, ``quarry``, holding one schema, ``main``
(the binder accepts ``main.t`` and ``quarry.main.t``).

    >>> get_table_types().to_pylist()
    [{'table_type': 'TABLE'}, {'table_type': 'VIEW'}]
"""

from __future__ import annotations

import re

import pyarrow as pa

import quarry
from quarry.catalog.information_schema import CATALOG_NAME, SCHEMA_NAME
from quarry.logical import types as T
from quarry.server.flight_sql.protocol import SqlInfo

CATALOG = CATALOG_NAME            # the names information_schema uses too
DB_SCHEMA = SCHEMA_NAME
TABLE_TYPES = ("TABLE", "VIEW")

# -- result schemas (FlightSql.proto) ------------------------------------------------------------

CATALOGS_SCHEMA = pa.schema([pa.field("catalog_name", pa.utf8(), False)])

DB_SCHEMAS_SCHEMA = pa.schema([pa.field("catalog_name", pa.utf8(), True),
                               pa.field("db_schema_name", pa.utf8(), False)])

_TABLES_FIELDS = [pa.field("catalog_name", pa.utf8(), True),
                  pa.field("db_schema_name", pa.utf8(), True),
                  pa.field("table_name", pa.utf8(), False),
                  pa.field("table_type", pa.utf8(), False)]
TABLES_SCHEMA = pa.schema(_TABLES_FIELDS)
TABLES_WITH_SCHEMA_SCHEMA = pa.schema(_TABLES_FIELDS + [pa.field("table_schema", pa.binary(), False)])

TABLE_TYPES_SCHEMA = pa.schema([pa.field("table_type", pa.utf8(), False)])

PRIMARY_KEYS_SCHEMA = pa.schema([pa.field("catalog_name", pa.utf8(), True),
                                 pa.field("db_schema_name", pa.utf8(), True),
                                 pa.field("table_name", pa.utf8(), False),
                                 pa.field("column_name", pa.utf8(), False),
                                 pa.field("key_name", pa.utf8(), True),
                                 pa.field("key_sequence", pa.int32(), False)])

# GetExportedKeys, GetImportedKeys and GetCrossReference share one schema
FOREIGN_KEYS_SCHEMA = pa.schema([pa.field("pk_catalog_name", pa.utf8(), True),
                                 pa.field("pk_db_schema_name", pa.utf8(), True),
                                 pa.field("pk_table_name", pa.utf8(), False),
                                 pa.field("pk_column_name", pa.utf8(), False),
                                 pa.field("fk_catalog_name", pa.utf8(), True),
                                 pa.field("fk_db_schema_name", pa.utf8(), True),
                                 pa.field("fk_table_name", pa.utf8(), False),
                                 pa.field("fk_column_name", pa.utf8(), False),
                                 pa.field("key_sequence", pa.int32(), False),
                                 pa.field("fk_key_name", pa.utf8(), True),
                                 pa.field("pk_key_name", pa.utf8(), True),
                                 pa.field("update_rule", pa.uint8(), False),
                                 pa.field("delete_rule", pa.uint8(), False)])

XDBC_TYPE_INFO_SCHEMA = pa.schema([
    pa.field("type_name", pa.utf8(), False),
    pa.field("data_type", pa.int32(), False),
    pa.field("column_size", pa.int32(), True),
    pa.field("literal_prefix", pa.utf8(), True),
    pa.field("literal_suffix", pa.utf8(), True),
    pa.field("create_params", pa.list_(pa.field("item", pa.utf8(), False)), True),
    pa.field("nullable", pa.int32(), False),
    pa.field("case_sensitive", pa.bool_(), False),
    pa.field("searchable", pa.int32(), False),
    pa.field("unsigned_attribute", pa.bool_(), True),
    pa.field("fixed_prec_scale", pa.bool_(), False),
    pa.field("auto_increment", pa.bool_(), True),
    pa.field("local_type_name", pa.utf8(), True),
    pa.field("minimum_scale", pa.int32(), True),
    pa.field("maximum_scale", pa.int32(), True),
    pa.field("sql_data_type", pa.int32(), False),
    pa.field("datetime_subcode", pa.int32(), True),
    pa.field("num_prec_radix", pa.int32(), True),
    pa.field("interval_precision", pa.int32(), True),
])

# the dense union's children, in type-code order 0..5, as the specification lists them
_SQL_INFO_VALUE_FIELDS = [
    pa.field("string_value", pa.utf8()),
    pa.field("bool_value", pa.bool_()),
    pa.field("bigint_value", pa.int64()),
    pa.field("int32_bitmask", pa.int32()),
    pa.field("string_list", pa.list_(pa.field("string_data", pa.utf8()))),
    pa.field("int32_to_int32_list_map", pa.map_(pa.int32(), pa.list_(pa.field("$data$", pa.int32())))),
]
SQL_INFO_VALUE_TYPE = pa.dense_union(_SQL_INFO_VALUE_FIELDS, type_codes=list(range(6)))
SQL_INFO_SCHEMA = pa.schema([pa.field("info_name", pa.uint32(), False),
                             pa.field("value", SQL_INFO_VALUE_TYPE, False)])


# -- catalog browsing -----------------------------------------------------------------------------


def like_pattern(pattern: str | None) -> re.Pattern | None:
    """A regex for a JDBC search pattern (``%`` any run, ``_`` one character, ``\\`` escapes); None matches all.

    Names match case-insensitively, as quarry's catalog does.

    >>> like_pattern("line%").fullmatch("LINEITEM") is not None
    True
    """
    if pattern is None:
        return None
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _matches(regex: re.Pattern | None, name: str) -> bool:
    return regex is None or regex.fullmatch(name) is not None


def _catalog_matches(catalog: str | None) -> bool:
    # an empty string asks for objects without a catalog, of which quarry has none
    return catalog is None or catalog.lower() == CATALOG


def get_catalogs(external=()) -> pa.Table:
    """``CommandGetCatalogs``: quarry's own catalog, then each Iceberg catalog with a table in ``external``
    (:class:`quarry.catalog.iceberg.CatalogTable` entries)."""
    names = [CATALOG] + sorted({t.catalog for t in external} - {CATALOG})
    return pa.Table.from_pylist([{"catalog_name": n} for n in names], schema=CATALOGS_SCHEMA)


def _named(name: str, wanted: str | None) -> bool:
    return wanted is None or wanted.lower() == name.lower()


def get_db_schemas(catalog: str | None, schema_pattern: str | None, external=()) -> pa.Table:
    """``CommandGetDbSchemas``: ``main`` and the namespaces of the Iceberg tables in ``external``, if the
    filters let them through."""
    rows = []
    regex = like_pattern(schema_pattern)
    if _catalog_matches(catalog) and _matches(regex, DB_SCHEMA):
        rows.append({"catalog_name": CATALOG, "db_schema_name": DB_SCHEMA})
    for catalog_name, namespace in sorted({(t.catalog, t.namespace) for t in external}):
        if _named(catalog_name, catalog) and _matches(regex, namespace):
            rows.append({"catalog_name": catalog_name, "db_schema_name": namespace})
    return pa.Table.from_pylist(rows, schema=DB_SCHEMAS_SCHEMA)


def table_type_of(provider) -> str:
    return "VIEW" if provider.kind == "view" else "TABLE"


def column_metadata(table_name: str, schema: pa.Schema, catalog: str = CATALOG,
                    db_schema: str = DB_SCHEMA) -> pa.Schema:
    """``schema`` with the optional ``ARROW:FLIGHT:SQL:*`` field metadata JDBC tools read."""
    fields = []
    for f in schema:
        meta = {"ARROW:FLIGHT:SQL:CATALOG_NAME": catalog, "ARROW:FLIGHT:SQL:DB_SCHEMA_NAME": db_schema,
                "ARROW:FLIGHT:SQL:TABLE_NAME": table_name, "ARROW:FLIGHT:SQL:TYPE_NAME": T.sql_name(f.type),
                "ARROW:FLIGHT:SQL:IS_AUTO_INCREMENT": "0",
                "ARROW:FLIGHT:SQL:IS_CASE_SENSITIVE": "1" if T.is_string(f.type) else "0",
                "ARROW:FLIGHT:SQL:IS_READ_ONLY": "0", "ARROW:FLIGHT:SQL:IS_SEARCHABLE": "1"}
        if pa.types.is_decimal(f.type):
            meta["ARROW:FLIGHT:SQL:PRECISION"] = str(f.type.precision)
            meta["ARROW:FLIGHT:SQL:SCALE"] = str(f.type.scale)
        fields.append(f.with_metadata(meta))
    return pa.schema(fields)


def get_tables(catalog_object, catalog: str | None, schema_pattern: str | None, table_pattern: str | None,
               table_types: list[str], include_schema: bool, external=()) -> pa.Table:
    """``CommandGetTables`` over ``catalog_object`` (a :class:`quarry.catalog.Catalog`), then the Iceberg
    catalogs' tables in ``external`` (:class:`quarry.catalog.iceberg.CatalogTable`; with schemas when
    ``include_schema``)."""
    schema = TABLES_WITH_SCHEMA_SCHEMA if include_schema else TABLES_SCHEMA
    rows = []
    wanted = {t.upper() for t in table_types}
    regex = like_pattern(table_pattern)
    schema_regex = like_pattern(schema_pattern)
    if not wanted or "TABLE" in wanted:
        for t in external:
            if _named(t.catalog, catalog) and _matches(schema_regex, t.namespace) and _matches(regex, t.name):
                row = {"catalog_name": t.catalog, "db_schema_name": t.namespace, "table_name": t.name,
                       "table_type": "TABLE"}
                if include_schema:
                    row["table_schema"] = column_metadata(t.name, t.schema, t.catalog, t.namespace) \
                        .serialize().to_pybytes()
                rows.append(row)
    if _catalog_matches(catalog) and _matches(schema_regex, DB_SCHEMA):
        for provider in catalog_object.providers():
            kind = table_type_of(provider)
            if (wanted and kind not in wanted) or not _matches(regex, provider.name):
                continue
            row = {"catalog_name": CATALOG, "db_schema_name": DB_SCHEMA, "table_name": provider.name,
                   "table_type": kind}
            if include_schema:
                row["table_schema"] = column_metadata(provider.name, provider.schema).serialize().to_pybytes()
            rows.append(row)
    # the specification's order: catalog, schema, table name
    rows.sort(key=lambda r: (r["catalog_name"] != CATALOG, r["catalog_name"], r["db_schema_name"],
                             r["table_name"].lower(), r["table_type"]))
    return pa.Table.from_pylist(rows, schema=schema)


def get_table_types() -> pa.Table:
    """``CommandGetTableTypes``: TABLE (Parquet, CSV, in-memory) and VIEW."""
    return pa.Table.from_pylist([{"table_type": t} for t in TABLE_TYPES], schema=TABLE_TYPES_SCHEMA)


# -- XDBC type info -------------------------------------------------------------------------------

# (type_name, data_type, column_size, literal prefix/suffix, create_params, case_sensitive,
#  unsigned, min/max scale, sql_data_type, datetime_subcode, num_prec_radix); XdbcDataType codes
_XDBC_TYPES = [
    ("BOOLEAN", -7, 1, None, None, None, False, None, None, None, -7, None, None),
    ("TINYINT", -6, 3, None, None, None, False, False, 0, 0, -6, None, 10),
    ("BIGINT", -5, 19, None, None, None, False, False, 0, 0, -5, None, 10),
    ("BLOB", -3, None, None, None, None, False, None, None, None, -3, None, None),
    ("DECIMAL", 3, 38, None, None, ["precision", "scale"], False, False, 0, 38, 3, None, 10),
    ("INTEGER", 4, 10, None, None, None, False, False, 0, 0, 4, None, 10),
    ("SMALLINT", 5, 5, None, None, None, False, False, 0, 0, 5, None, 10),
    ("FLOAT", 6, 24, None, None, None, False, False, None, None, 6, None, 2),
    ("DOUBLE", 8, 53, None, None, None, False, False, None, None, 8, None, 2),
    ("VARCHAR", 12, None, "'", "'", None, True, None, None, None, 12, None, None),
    ("DATE", 91, 10, "DATE '", "'", None, False, None, None, None, 9, 1, None),
    ("TIMESTAMP", 93, 26, "TIMESTAMP '", "'", None, False, None, None, None, 9, 3, None),
]


def get_xdbc_type_info(data_type: int | None) -> pa.Table:
    """``CommandGetXdbcTypeInfo``: the SQL types quarry accepts, ordered by data_type then name."""
    rows = []
    for (name, code, size, prefix, suffix, params, case, unsigned, min_scale, max_scale, sql_code, subcode,
         radix) in _XDBC_TYPES:
        if data_type is not None and code != data_type:
            continue
        numeric = radix is not None
        rows.append({
            "type_name": name, "data_type": code, "column_size": size, "literal_prefix": prefix,
            "literal_suffix": suffix, "create_params": params, "nullable": 1, "case_sensitive": case,
            "searchable": 3, "unsigned_attribute": unsigned, "fixed_prec_scale": False,
            "auto_increment": False if numeric else None, "local_type_name": name, "minimum_scale": min_scale,
            "maximum_scale": max_scale, "sql_data_type": sql_code, "datetime_subcode": subcode,
            "num_prec_radix": radix, "interval_precision": None})
    rows.sort(key=lambda r: (r["data_type"], r["type_name"]))
    return pa.Table.from_pylist(rows, schema=XDBC_TYPE_INFO_SCHEMA)


# -- SqlInfo --------------------------------------------------------------------------------------

_KEYWORDS = ["ANALYZE", "ASC", "BETWEEN", "CASE", "COPY", "DESC", "DESCRIBE", "DISTINCT", "EXCEPT", "EXPLAIN",
             "FULL", "ILIKE", "INTERSECT", "INTERVAL", "LIMIT", "LOCATION", "OFFSET", "OVER", "PARTITION",
             "QUALIFY", "SHOW", "USING", "VERBOSE", "WINDOW"]
_CONVERT_TYPES = [0, 2, 3, 4, 5, 6, 7, 12, 13, 14, 16, 17, 19]     # SqlSupportsConvert values CAST handles


def _function_names() -> dict[str, list[str]]:
    """Function names by JDBC category, from quarry's function registry."""
    from quarry.logical import functions
    names = sorted(n.upper() for n in functions.REGISTRY if n.isidentifier())
    datetime_words = ("DATE", "TIME", "YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "EPOCH", "NOW",
                      "EXTRACT", "INTERVAL", "WEEK", "QUARTER")
    string_words = ("STR", "CHAR", "LIKE", "UPPER", "LOWER", "TRIM", "CONCAT", "REPLACE", "SUBSTR", "LENGTH",
                    "LEFT", "RIGHT", "REVERSE", "REGEXP", "SPLIT", "PAD", "PREFIX", "SUFFIX", "POSITION", "REPEAT")
    numeric_words = ("ABS", "CEIL", "FLOOR", "ROUND", "SQRT", "POW", "EXP", "LN", "LOG", "MOD", "SIGN", "PI",
                     "SIN", "COS", "TAN", "TRUNC", "RANDOM", "GREATEST", "LEAST", "CBRT", "DEGREES", "RADIANS")
    groups = {"datetime": [], "string": [], "numeric": [], "system": []}
    for n in names:
        if any(w in n for w in datetime_words):
            groups["datetime"].append(n)
        elif any(w in n for w in string_words):
            groups["string"].append(n)
        elif any(w in n for w in numeric_words):
            groups["numeric"].append(n)
        else:
            groups["system"].append(n)
    return groups


def sql_info_values(statement_timeout_ms: int) -> dict[int, object]:
    """Every SqlInfo value quarry reports, by id.

    A Python ``str`` is a string_value, ``bool`` a bool_value, :class:`Int32` an
    int32_bitmask (the specification's int32 answers), ``int`` a bigint_value, a
    list of str a string_list and a dict of int to list of int an int32_to_int32_list_map.
    """
    functions = _function_names()
    convert = {src: [dst for dst in _CONVERT_TYPES if dst != src] for src in _CONVERT_TYPES}
    I = SqlInfo
    return {
        I.FLIGHT_SQL_SERVER_NAME: "quarry",
        I.FLIGHT_SQL_SERVER_VERSION: quarry.__version__,
        I.FLIGHT_SQL_SERVER_ARROW_VERSION: pa.__version__,
        I.FLIGHT_SQL_SERVER_READ_ONLY: False,
        I.FLIGHT_SQL_SERVER_SQL: True,
        I.FLIGHT_SQL_SERVER_SUBSTRAIT: False,
        I.FLIGHT_SQL_SERVER_TRANSACTION: Int32(0),            # SQL_SUPPORTED_TRANSACTION_NONE
        I.FLIGHT_SQL_SERVER_CANCEL: True,
        I.FLIGHT_SQL_SERVER_BULK_INGESTION: True,
        I.FLIGHT_SQL_SERVER_INGEST_TRANSACTIONS_SUPPORTED: False,
        I.FLIGHT_SQL_SERVER_STATEMENT_TIMEOUT: Int32(statement_timeout_ms),
        I.FLIGHT_SQL_SERVER_TRANSACTION_TIMEOUT: Int32(0),
        I.SQL_DDL_CATALOG: False,
        I.SQL_DDL_SCHEMA: False,
        I.SQL_DDL_TABLE: True,
        I.SQL_IDENTIFIER_CASE: Int32(1),                      # SQL_CASE_SENSITIVITY_CASE_INSENSITIVE
        I.SQL_IDENTIFIER_QUOTE_CHAR: '"',
        I.SQL_QUOTED_IDENTIFIER_CASE: Int32(1),
        I.SQL_ALL_TABLES_ARE_SELECTABLE: True,
        I.SQL_NULL_ORDERING: Int32(3),                        # SQL_NULLS_SORTED_AT_END (ASC and DESC)
        I.SQL_KEYWORDS: _KEYWORDS,
        I.SQL_NUMERIC_FUNCTIONS: functions["numeric"],
        I.SQL_STRING_FUNCTIONS: functions["string"],
        I.SQL_SYSTEM_FUNCTIONS: functions["system"],
        I.SQL_DATETIME_FUNCTIONS: functions["datetime"],
        I.SQL_SEARCH_STRING_ESCAPE: "\\",
        I.SQL_EXTRA_NAME_CHARACTERS: "",
        I.SQL_SUPPORTS_COLUMN_ALIASING: True,
        I.SQL_NULL_PLUS_NULL_IS_NULL: True,
        I.SQL_SUPPORTS_CONVERT: convert,
        I.SQL_SUPPORTS_TABLE_CORRELATION_NAMES: True,
        I.SQL_SUPPORTS_DIFFERENT_TABLE_CORRELATION_NAMES: False,
        I.SQL_SUPPORTS_EXPRESSIONS_IN_ORDER_BY: True,
        I.SQL_SUPPORTS_ORDER_BY_UNRELATED: True,
        I.SQL_SUPPORTED_GROUP_BY: Int32(0b11),                # UNRELATED, BEYOND_SELECT
        I.SQL_SUPPORTS_LIKE_ESCAPE_CLAUSE: False,
        I.SQL_SUPPORTS_NON_NULLABLE_COLUMNS: True,
        I.SQL_SUPPORTED_GRAMMAR: Int32(0b011),                # MINIMUM, CORE
        I.SQL_ANSI92_SUPPORTED_LEVEL: Int32(0b001),           # ENTRY
        I.SQL_SUPPORTS_INTEGRITY_ENHANCEMENT_FACILITY: False,
        I.SQL_OUTER_JOINS_SUPPORT_LEVEL: Int32(2),            # SQL_FULL_OUTER_JOINS
        I.SQL_SCHEMA_TERM: "schema",
        I.SQL_PROCEDURE_TERM: "procedure",
        I.SQL_CATALOG_TERM: "catalog",
        I.SQL_CATALOG_AT_START: True,
        I.SQL_SCHEMAS_SUPPORTED_ACTIONS: Int32(0),
        I.SQL_CATALOGS_SUPPORTED_ACTIONS: Int32(0),
        I.SQL_SUPPORTED_POSITIONED_COMMANDS: Int32(0),
        I.SQL_SELECT_FOR_UPDATE_SUPPORTED: False,
        I.SQL_STORED_PROCEDURES_SUPPORTED: False,
        I.SQL_SUPPORTED_SUBQUERIES: Int32(0b1111),            # comparisons, EXISTS, IN, quantified
        I.SQL_CORRELATED_SUBQUERIES_SUPPORTED: True,
        I.SQL_SUPPORTED_UNIONS: Int32(0b11),                  # UNION, UNION ALL
        I.SQL_MAX_STATEMENT_LENGTH: 0,                        # no limit
        I.SQL_DEFAULT_TRANSACTION_ISOLATION: Int32(0),        # SQL_TRANSACTION_NONE
        I.SQL_TRANSACTIONS_SUPPORTED: False,
        I.SQL_SUPPORTED_TRANSACTIONS_ISOLATION_LEVELS: Int32(0),
        I.SQL_DATA_DEFINITION_CAUSES_TRANSACTION_COMMIT: False,
        I.SQL_DATA_DEFINITIONS_IN_TRANSACTIONS_IGNORED: False,
        I.SQL_SUPPORTED_RESULT_SET_TYPES: Int32(0b10),        # FORWARD_ONLY
        I.SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_UNSPECIFIED: Int32(0),
        I.SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_FORWARD_ONLY: Int32(0b10),   # READ_ONLY
        I.SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_SCROLL_SENSITIVE: Int32(0),
        I.SQL_SUPPORTED_CONCURRENCIES_FOR_RESULT_SET_SCROLL_INSENSITIVE: Int32(0),
        I.SQL_BATCH_UPDATES_SUPPORTED: True,
        I.SQL_SAVEPOINTS_SUPPORTED: False,
        I.SQL_NAMED_PARAMETERS_SUPPORTED: False,
        I.SQL_LOCATORS_UPDATE_COPY: False,
        I.SQL_STORED_FUNCTIONS_USING_CALL_SYNTAX_SUPPORTED: False,
    }


class Int32(int):
    """An int that SqlInfo reports in the ``int32_bitmask`` slot (the specification's int32 answers)."""


def get_sql_info(requested: list[int], values: dict[int, object]) -> pa.Table:
    """``CommandGetSqlInfo``: one row per requested id that quarry knows (all of them if none requested)."""
    ids = [i for i in requested if i in values] if requested else sorted(values)
    type_ids, offsets = [], []
    children: list[list] = [[] for _ in _SQL_INFO_VALUE_FIELDS]
    for i in ids:
        value = values[i]
        if isinstance(value, bool):
            code = 1
        elif isinstance(value, str):
            code = 0
        elif isinstance(value, Int32):
            code = 3
        elif isinstance(value, int):
            code = 2
        elif isinstance(value, dict):
            code, value = 5, list(value.items())
        else:
            code = 4
        type_ids.append(code)
        offsets.append(len(children[code]))
        children[code].append(value)
    arrays = [pa.array(values_, type=f.type) for values_, f in zip(children, _SQL_INFO_VALUE_FIELDS)]
    union = pa.UnionArray.from_dense(pa.array(type_ids, pa.int8()), pa.array(offsets, pa.int32()), arrays,
                                     [f.name for f in _SQL_INFO_VALUE_FIELDS], list(range(6)))
    return pa.Table.from_arrays([pa.array(ids, pa.uint32()), union], schema=SQL_INFO_SCHEMA)


__all__ = ["CATALOG", "DB_SCHEMA", "SQL_INFO_SCHEMA", "CATALOGS_SCHEMA", "DB_SCHEMAS_SCHEMA", "TABLES_SCHEMA",
           "TABLES_WITH_SCHEMA_SCHEMA", "TABLE_TYPES_SCHEMA", "XDBC_TYPE_INFO_SCHEMA", "PRIMARY_KEYS_SCHEMA",
           "FOREIGN_KEYS_SCHEMA", "get_catalogs", "get_db_schemas", "get_tables", "get_table_types",
           "get_xdbc_type_info", "get_sql_info", "sql_info_values", "like_pattern", "Int32"]
