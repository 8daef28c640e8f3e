"""The Flight SQL server: quarry behind ``pyarrow.flight.FlightServerBase``.

How each Flight RPC is used (the Flight SQL specification's mapping):

=================  =====================================================================================
RPC                commands
=================  =====================================================================================
GetFlightInfo      CommandStatementQuery, CommandPreparedStatementQuery (plan the query, keep it as a
                   pending result, answer with a ticket), and every metadata command (the ticket is
                   the command itself)
GetSchema          the same commands, schema only
DoGet              TicketStatementQuery (stream the pending result batch by batch), metadata commands
DoPut              CommandStatementUpdate, CommandPreparedStatementUpdate (run, answer
                   DoPutUpdateResult), CommandPreparedStatementQuery (bind parameters),
                   CommandStatementIngest (create or append a table from the client's stream)
DoAction           CreatePreparedStatement, ClosePreparedStatement, CancelFlightInfo, CancelQuery,
                   Get/SetSessionOptions (the current catalog and schema, :mod:`.session_options`),
                   ``quarry.status`` (counts of running queries, pending results, prepared statements)
=================  =====================================================================================

Concurrency and isolation: every RPC gets its own :class:`quarry.Session` sharing one
:class:`quarry.catalog.Catalog` (so every client sees the same tables, the way a Spark
Thrift server shares its metastore), with the server's
:class:`~quarry.catalog.sandbox.FileSandbox` (files only inside the data directories,
writes only inside the writable one) and a :class:`~quarry.server.access.RoleGuard` for
the caller's role. Each query runs under its own ``ExecContext``, so one client's error or
cancellation never touches another's query. Statements that change the catalog or a
table (DDL, INSERT, COPY, ingest) run one at a time under the server's write lock;
queries take no lock (a table being appended to is replaced atomically, so a reader
sees it before or after the append). The sessions run on the served session's executor
(its worker processes, by default), under the limits of ``limits`` (a memory cap per
query) and ``admission`` (how many queries run at once, and the line beyond).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading

import pyarrow as pa
import pyarrow.flight as flight

from quarry.catalog.providers import MemoryTable
from quarry.errors import BindError, CatalogError, DataError, UnknownTableError
from quarry.server.flight_sql import metadata, session_options
from quarry.server.flight_sql.admission import Admission
from quarry.server.access import RoleGuard, TableOwners
from quarry.server.auth import AuthMiddlewareFactory, NoOpAuthHandler, TokenStore, Users, principal_of
from quarry.server.flight_sql.errors import InvalidArgument, NotFound, Unimplemented, to_flight_error, translate_errors
from quarry.server.flight_sql.params import ParsedStatement, parse_statement, rows_of
from quarry.server.flight_sql.protocol import (
    MESSAGES, CancelStatus, ProtocolError, TableExistsOption, TableNotExistOption, name_of, optional, pack, unpack,
)
from quarry.server.flight_sql.state import HandleTable, Janitor, PendingResult, PreparedStatement
from quarry.server.flight_sql.limits import QueryLimits, stream_status
from quarry.server.flight_sql.streaming import QueryRun, TableRun
from quarry.sql.commands import QueryPlan

log = logging.getLogger("quarry.server")

_METADATA_SCHEMAS = {
    "CommandGetCatalogs": metadata.CATALOGS_SCHEMA,
    "CommandGetDbSchemas": metadata.DB_SCHEMAS_SCHEMA,
    "CommandGetTableTypes": metadata.TABLE_TYPES_SCHEMA,
    "CommandGetSqlInfo": metadata.SQL_INFO_SCHEMA,
    "CommandGetXdbcTypeInfo": metadata.XDBC_TYPE_INFO_SCHEMA,
    "CommandGetPrimaryKeys": metadata.PRIMARY_KEYS_SCHEMA,
    "CommandGetExportedKeys": metadata.FOREIGN_KEYS_SCHEMA,
    "CommandGetImportedKeys": metadata.FOREIGN_KEYS_SCHEMA,
    "CommandGetCrossReference": metadata.FOREIGN_KEYS_SCHEMA,
}

_ACTIONS = [
    ("CreatePreparedStatement", "Create a prepared statement (ActionCreatePreparedStatementRequest)."),
    ("ClosePreparedStatement", "Close a prepared statement (ActionClosePreparedStatementRequest)."),
    ("CancelFlightInfo", "Cancel the query behind a FlightInfo (CancelFlightInfoRequest)."),
    ("CancelQuery", "Deprecated form of CancelFlightInfo (ActionCancelQueryRequest)."),
    ("CloseSession", "Accepted for JDBC clients; quarry keeps no per-session state (CloseSessionRequest)."),
    ("GetSessionOptions", "The current catalog and schema (GetSessionOptionsRequest)."),
    ("SetSessionOptions", "Accepts catalog=quarry and schema=main, the only ones (SetSessionOptionsRequest)."),
    ("quarry.status", "JSON counts of running queries, pending results and prepared statements."),
]


class QuarryFlightSqlServer(flight.FlightServerBase):
    """A Flight SQL endpoint over a quarry session's catalog.

    Use :func:`quarry.server.serve` rather than constructing this directly; it applies
    the security checks (no open server off loopback) and starts serving.
    """

    def __init__(self, session, location: str, *, users: Users | None = None, token_ttl: float = 3600.0,
                 tls_certificates: list | None = None, allowed_paths: list[str] | None = None,
                 statement_ttl: float = 1800.0, result_ttl: float = 300.0, sweep_interval: float = 5.0,
                 writable_dir: str | None = None, anonymous_role: str = "write",
                 limits: "QueryLimits | None" = None):
        from quarry.catalog.sandbox import FileSandbox
        self.catalog = session.catalog
        self.limits = limits or QueryLimits()
        self.config = self.limits.session_config(session.config, session.executor)
        self.admission = Admission(self.limits.max_queries, self.limits.max_queued, self.limits.queue_timeout)
        self.result_ttl = float(result_ttl)
        # requests run on the served session's executor (its pool of worker processes, by default)
        self.served = session
        self.sandbox = FileSandbox(allowed_paths or [], writable_dir)
        self.allowed_paths = list(self.sandbox.roots)
        self.users = users or Users()
        self.anonymous_role = anonymous_role
        self.owners = TableOwners()          # tables clients created; the served ones have no owner
        self.tokens = TokenStore(token_ttl)
        self.write_lock = threading.RLock()
        self.prepared: HandleTable[PreparedStatement] = HandleTable("prepared statement", statement_ttl)
        self.results: HandleTable[PendingResult] = HandleTable("query result", result_ttl,
                                                               on_expire=lambda p: p.cancel())
        self._stats_lock = threading.Lock()
        self._streaming: dict[bytes, tuple[PendingResult, str]] = {}     # handle -> (result, owner) in DoGet
        self._cancelled = 0
        self._sql_info = metadata.sql_info_values(int(statement_ttl * 1000))
        super().__init__(location, auth_handler=NoOpAuthHandler(), tls_certificates=tls_certificates,
                         middleware={"auth": AuthMiddlewareFactory(self.users, self.tokens)})
        self._janitor = Janitor([self.prepared, self.results], sweep_interval)
        self._janitor.start()

    # -- sessions and statements -----------------------------------------------------------------

    def new_session(self, user: str):
        """A session for one request of ``user``: the shared catalog, the server's settings, restricted
        file access, and the statements ``user``'s role allows."""
        from quarry.session import Session
        served = self.served
        session = Session(self.config, executor=served.executor, workers=served.workers, address=served.address)
        session.catalog = self.catalog
        if served.executor != "inline":
            session._backend_obj = served._backend()       # one pool (or Ray connection) for every request
        session.sandbox = self.sandbox
        session.iceberg_catalogs = served.iceberg_catalogs   # the server's catalogs; clients cannot add one
        session.secrets = dict(served.secrets)       # the server's object-store secrets (clients cannot change them)
        session.command_guard = RoleGuard(user, self.role_of(user), self.owners, self.catalog)
        return session

    def _iceberg_tables(self, columns: bool = False) -> list:
        """The tables of the served session's Iceberg catalogs (see :mod:`quarry.catalog.iceberg`)."""
        return self.served.iceberg_catalog_tables(columns) if self.served.iceberg_catalogs else []

    def role_of(self, user: str) -> str:
        """``user``'s role: from the users file, or the anonymous role when authentication is off."""
        return self.users.role_of(user) if self.users else self.anonymous_role

    def _run_statement(self, session, text: str, read_only: bool):
        """The typed result of ``text`` (:mod:`quarry.sql.commands`); statements that may change the
        catalog or a table run under the write lock."""
        if read_only:
            return session.statement(text)
        with self.admission.slot(), self.write_lock:
            return session.statement(text)

    def _statement_results(self, session, statement: ParsedStatement, parameters: pa.Table | None) -> PendingResult:
        """Plan ``statement`` once per bound parameter row (statements that are not queries run now;
        an ``INSERT ... VALUES (?, ...)`` runs once for the whole batch)."""
        if statement.parameter_count:
            if parameters is None or parameters.num_rows == 0:
                raise InvalidArgument(f"the statement has {statement.parameter_count} parameter(s) but none are "
                                      "bound; bind them (DoPut) before executing")
            if statement.takes_batch:          # INSERT ... VALUES (?, ...): every row in one append
                with self.write_lock:
                    results = [statement.insert_batch(session, parameters)]
            else:
                results = [self._run_bound(session, statement, row) for row in rows_of(parameters)]
        else:
            results = [self._run_statement(session, statement.text, statement.read_only)]
        schema = _result_schema(results[0])
        return PendingResult(schema, [QueryRun(session, r.plan, schema) if isinstance(r, QueryPlan)
                                      else TableRun(r.table(), schema) for r in results])

    def _run_bound(self, session, statement: ParsedStatement, row: list):
        """The typed result of ``statement`` with one row of parameter values bound (as typed literals)."""
        if statement.read_only:
            return statement.run(session, row)
        with self.write_lock:
            return statement.run(session, row)

    def _execute_update(self, session, statement: ParsedStatement, parameters: pa.Table | None) -> int:
        """Run ``statement`` (for every parameter row); the number of rows it changed, or -1 if unknown.

        ``INSERT INTO t VALUES (?, ...)`` takes the whole parameter batch in one append (atomic);
        other statements run once per parameter row.
        """
        if statement.parameter_count:
            if parameters is None or parameters.num_rows == 0:
                raise InvalidArgument(f"the statement has {statement.parameter_count} parameter(s) but none are "
                                      "bound")
            if statement.takes_batch:
                with self.write_lock:
                    return statement.insert_batch(session, parameters).rows_changed
            runs = [lambda row=row: statement.run(session, row) for row in rows_of(parameters)]
        else:
            if parameters is not None and parameters.num_columns and parameters.num_rows:
                raise BindError(f"the statement has no parameters, {parameters.num_columns} were bound")
            runs = [lambda: session.statement(statement.text)]
        total, known = 0, True
        with self.admission.slot(), self.write_lock if not statement.read_only else contextlib.nullcontext():
            for run in runs:
                result = run()
                if isinstance(result, QueryPlan):
                    session.run(result.plan)               # a query sent as an update: run it, count unknown
                    known = False
                elif result.rows_changed is None:
                    known = False                          # EXPLAIN: nothing changed, but not a count either
                else:
                    total += result.rows_changed           # DDL: 0; INSERT, CREATE TABLE AS, COPY: rows
        return total if known else -1

    # -- GetFlightInfo / GetSchema ------------------------------------------------------------------

    def get_flight_info(self, context, descriptor):
        with translate_errors():
            command = self._command(descriptor)
            kind = name_of(command)
            user = principal_of(context).user
            if kind in ("CommandStatementQuery", "CommandPreparedStatementQuery"):
                pending = self._plan(command, user)
                handle = self.results.add(pending, user)
                ticket = pack(MESSAGES["TicketStatementQuery"](statement_handle=handle))
                return self._info(descriptor, pending.schema, ticket)
            if kind in _METADATA_SCHEMAS or kind == "CommandGetTables":
                # metadata is computed at DoGet; the ticket is the command itself
                return self._info(descriptor, self._metadata_schema(command), descriptor.command)
            raise self._unsupported(kind)

    def get_schema(self, context, descriptor):
        with translate_errors():
            command = self._command(descriptor)
            kind = name_of(command)
            user = principal_of(context).user
            if kind == "CommandStatementQuery":
                statement = parse_statement(command.query)
                if not statement.read_only:
                    raise InvalidArgument("only queries have a result schema; this statement changes data")
                return flight.SchemaResult(self._dataset_schema(self.new_session(user), statement)
                                           or pa.schema([]))
            if kind == "CommandPreparedStatementQuery":
                prepared = self.prepared.get(command.prepared_statement_handle, user)
                if prepared.dataset_schema is not None:
                    return flight.SchemaResult(prepared.dataset_schema)
                if not prepared.statement.read_only:      # planning it would run it
                    raise InvalidArgument("only queries have a result schema; this statement changes data")
                return flight.SchemaResult(self._plan(command, user).schema)   # with the bound parameters
            if kind in _METADATA_SCHEMAS or kind == "CommandGetTables":
                return flight.SchemaResult(self._metadata_schema(command))
            raise self._unsupported(kind)

    def _plan(self, command, user: str) -> PendingResult:
        session = self.new_session(user)
        if name_of(command) == "CommandStatementQuery":
            self._refuse_transaction(command)
            statement = parse_statement(command.query)
            if statement.parameter_count:
                raise InvalidArgument("the statement has `?` parameters; create a prepared statement and bind them")
            return self._statement_results(session, statement, None)
        prepared = self.prepared.get(command.prepared_statement_handle, user)
        return self._statement_results(session, prepared.statement, prepared.parameters)

    @staticmethod
    def _info(descriptor, schema: pa.Schema, ticket: bytes) -> flight.FlightInfo:
        return flight.FlightInfo(schema, descriptor, [flight.FlightEndpoint(ticket, [])], -1, -1)

    def _metadata_schema(self, command) -> pa.Schema:
        if name_of(command) == "CommandGetTables":
            return metadata.TABLES_WITH_SCHEMA_SCHEMA if command.include_schema else metadata.TABLES_SCHEMA
        return _METADATA_SCHEMAS[name_of(command)]

    # -- DoGet --------------------------------------------------------------------------------------

    def do_get(self, context, ticket):
        with translate_errors():
            command = unpack(ticket.ticket)
            kind = name_of(command)
            if kind == "TicketStatementQuery":
                return self._stream_result(context, command.statement_handle)
            if kind in _METADATA_SCHEMAS or kind == "CommandGetTables":
                return flight.RecordBatchStream(self._metadata_table(command))
            raise InvalidArgument(f"`{kind}` is not a ticket")

    def _stream_result(self, context, handle: bytes):
        user = principal_of(context).user
        pending = self.results.pop(handle, user)            # a ticket is good for one DoGet
        if pending.cancelled:
            raise flight.FlightCancelledError("query cancelled")
        return flight.GeneratorStream(pending.schema, self._batches(context, pending, handle, user))

    def _batches(self, context, pending: PendingResult, handle: bytes, user: str):
        """The generator DoGet streams; runs on the gRPC thread, between the client's reads."""
        with self._stats_lock:
            self._streaming[handle] = (pending, user)      # CancelFlightInfo finds it here while it streams
        try:
            # the query waits here for a slot (see admission.py), then runs and streams; a reader that
            # stalls blocks this generator inside Flight, so the producer gives the slot back then
            with self.admission.slot(cancelled=lambda: pending.cancelled or context.is_cancelled()) as slot:
                for run in pending.runs:
                    yield from run.batches(client_gone=context.is_cancelled, stall_timeout=self.result_ttl,
                                           on_stall=slot.release)
        except Exception as exc:
            if not pending.cancelled and context.is_cancelled():      # the client hung up while we waited
                self._count_cancelled()
            raise to_flight_error(exc) from None
        except GeneratorExit:
            # the client went away mid-stream (Flight stopped pulling): stop the query
            if not pending.cancelled:
                self._count_cancelled()
            raise
        finally:
            pending.cancel()
            with self._stats_lock:
                self._streaming.pop(handle, None)

    def _metadata_table(self, command) -> pa.Table:
        kind = name_of(command)
        # the tables of the Iceberg catalogs the server was started with, listed under their names
        if kind == "CommandGetCatalogs":
            return metadata.get_catalogs(self._iceberg_tables())
        if kind == "CommandGetDbSchemas":
            return metadata.get_db_schemas(optional(command, "catalog"), optional(command, "db_schema_filter_pattern"),
                                           self._iceberg_tables())
        if kind == "CommandGetTables":
            external = self._iceberg_tables(columns=command.include_schema)
            # the write lock keeps DDL from changing the catalog while it is listed
            with self.write_lock:
                return metadata.get_tables(self.catalog, optional(command, "catalog"),
                                           optional(command, "db_schema_filter_pattern"),
                                           optional(command, "table_name_filter_pattern"),
                                           list(command.table_types), command.include_schema, external)
        if kind == "CommandGetTableTypes":
            return metadata.get_table_types()
        if kind == "CommandGetSqlInfo":
            return metadata.get_sql_info(list(command.info), self._sql_info)
        if kind == "CommandGetXdbcTypeInfo":
            return metadata.get_xdbc_type_info(optional(command, "data_type"))
        # quarry has no keys: the key commands answer with no rows
        return _METADATA_SCHEMAS[kind].empty_table()

    # -- DoPut --------------------------------------------------------------------------------------

    def do_put(self, context, descriptor, reader, writer):
        with translate_errors():
            command = self._command(descriptor)
            kind = name_of(command)
            user = principal_of(context).user
            if kind == "CommandStatementUpdate":
                self._refuse_transaction(command)
                statement = parse_statement(command.query)
                if statement.parameter_count:
                    raise InvalidArgument("the statement has `?` parameters; create a prepared statement and bind "
                                          "them")
                count = self._execute_update(self.new_session(user), statement, None)
                writer.write(MESSAGES["DoPutUpdateResult"](record_count=count).SerializeToString())
            elif kind == "CommandPreparedStatementQuery":
                handle = command.prepared_statement_handle
                prepared = self.prepared.get(handle, user)
                prepared.parameters = _read_parameters(reader)
                writer.write(MESSAGES["DoPutPreparedStatementResult"](
                    prepared_statement_handle=handle).SerializeToString())
            elif kind == "CommandPreparedStatementUpdate":
                prepared = self.prepared.get(command.prepared_statement_handle, user)
                parameters = _read_parameters(reader)
                if parameters is None or (parameters.num_columns == 0 and parameters.num_rows == 0):
                    parameters = prepared.parameters
                count = self._execute_update(self.new_session(user), prepared.statement, parameters)
                writer.write(MESSAGES["DoPutUpdateResult"](record_count=count).SerializeToString())
            elif kind == "CommandStatementIngest":
                count = self._ingest(command, reader, user)
                writer.write(MESSAGES["DoPutUpdateResult"](record_count=count).SerializeToString())
            else:
                raise self._unsupported(kind)

    def _ingest(self, command, reader, user: str) -> int:
        """CommandStatementIngest: create, append to or replace a table with the client's batches."""
        self._refuse_transaction(command)
        guard = RoleGuard(user, self.role_of(user), self.owners, self.catalog)
        guard.require("write", f"ingest into `{command.table}`")
        if command.temporary:
            raise Unimplemented("temporary tables are not supported; ingest into a regular table")
        catalog, schema = optional(command, "catalog"), optional(command, "schema")
        if catalog is not None and catalog.lower() != metadata.CATALOG:
            raise NotFound(f"catalog `{catalog}` does not exist; quarry has one catalog, `{metadata.CATALOG}`")
        if schema is not None and schema.lower() not in (metadata.DB_SCHEMA, "memory"):
            raise NotFound(f"schema `{schema}` does not exist; quarry has one schema, `{metadata.DB_SCHEMA}`")
        name = command.table
        if not name:
            raise InvalidArgument("the ingest command names no table")
        options = command.table_definition_options
        if_not_exist, if_exists = options.if_not_exist, options.if_exists
        if if_not_exist == TableNotExistOption.UNSPECIFIED or if_exists == TableExistsOption.UNSPECIFIED:
            raise InvalidArgument("the ingest command must say what to do if the table exists and if it does not")
        table = reader.read_all()
        with self.write_lock:
            if self.catalog.exists(name) and if_exists != TableExistsOption.FAIL:
                guard.require(guard.table_change(name), f"ingest into `{name}`")
            if self.catalog.exists(name):
                if if_exists == TableExistsOption.FAIL:
                    raise InvalidArgument(str(CatalogError(f"table `{name}` already exists",
                                                           hint="ingest in append or replace mode")))
                if if_exists == TableExistsOption.APPEND:
                    provider = self.catalog.get(name)
                    if not isinstance(provider, MemoryTable):
                        raise InvalidArgument(f"cannot append to `{name}`: only in-memory tables take new rows")
                    provider.append(_columns_like(table, provider.schema, name))
                    return table.num_rows
            elif if_not_exist == TableNotExistOption.FAIL:
                raise NotFound(str(UnknownTableError(name, hint="ingest in create mode to create it")))
            self.catalog.register(name, MemoryTable(name, table), replace=True)
            self.owners.created(name, user)
        return table.num_rows

    # -- DoAction -----------------------------------------------------------------------------------

    def list_actions(self, context):
        return [flight.ActionType(name, description) for name, description in _ACTIONS]

    def do_action(self, context, action):
        with translate_errors():
            kind = action.type
            user = principal_of(context).user
            body = action.body.to_pybytes() if action.body is not None else b""
            if kind == "CreatePreparedStatement":
                return [self._create_prepared(unpack(body), user)]
            if kind == "ClosePreparedStatement":
                self.prepared.discard(unpack(body).prepared_statement_handle)
                return []
            if kind == "CancelFlightInfo":
                request = MESSAGES["CancelFlightInfoRequest"]()
                request.ParseFromString(body)
                status = self._cancel(flight.FlightInfo.deserialize(request.info), user)
                return [MESSAGES["CancelFlightInfoResult"](status=status).SerializeToString()]
            if kind == "CancelQuery":
                info = flight.FlightInfo.deserialize(unpack(body).info)
                return [pack(MESSAGES["ActionCancelQueryResult"](result=self._cancel(info, user)))]
            if kind == "CloseSession":
                # clients (the JDBC driver) close their session on disconnect; there is nothing to release
                return [MESSAGES["CloseSessionResult"](status=1).SerializeToString()]      # CLOSED
            if kind == "GetSessionOptions":
                return [session_options.get_session_options(body)]
            if kind == "SetSessionOptions":
                return [session_options.set_session_options(body)]
            if kind == "quarry.status":
                return [json.dumps(self.status()).encode()]
            if kind in ("BeginTransaction", "EndTransaction", "BeginSavepoint", "EndSavepoint"):
                raise Unimplemented("quarry has no transactions; every statement commits on its own")
            raise Unimplemented(f"unknown action `{kind}`")

    def _create_prepared(self, request, user: str) -> bytes:
        if name_of(request) != "ActionCreatePreparedStatementRequest":
            raise InvalidArgument(f"expected ActionCreatePreparedStatementRequest, got {name_of(request)}")
        self._refuse_transaction(request)
        statement = parse_statement(request.query)
        dataset_schema = None
        if statement.read_only and not statement.parameter_count:
            dataset_schema = self._dataset_schema(self.new_session(user), statement)     # binds: unknown names fail now
        handle = self.prepared.add(PreparedStatement(statement, dataset_schema), user)
        result = MESSAGES["ActionCreatePreparedStatementResult"](prepared_statement_handle=handle)
        if dataset_schema is not None:
            result.dataset_schema = dataset_schema.serialize().to_pybytes()
        if statement.parameter_count:
            # parameters are untyped until bound: the specification suggests the null type as a wildcard
            result.parameter_schema = pa.schema([pa.field(f"parameter_{i + 1}", pa.null())
                                                 for i in range(statement.parameter_count)]).serialize().to_pybytes()
        return pack(result)

    def _dataset_schema(self, session, statement: ParsedStatement) -> pa.Schema | None:
        return _result_schema(session.statement(statement.text)) if statement.read_only else None

    def _cancel(self, info: flight.FlightInfo, user: str) -> int:
        """Cancel the query behind ``info``; a CancelStatus value."""
        found = False
        for endpoint in info.endpoints:
            try:
                ticket = unpack(endpoint.ticket.ticket)
            except ProtocolError:
                continue
            if name_of(ticket) != "TicketStatementQuery":
                return CancelStatus.NOT_CANCELLABLE            # metadata: nothing runs until DoGet
            pending = self._find_result(ticket.statement_handle, user)
            if not pending.cancelled:
                pending.cancel()
                self._count_cancelled()
            found = True
        if not found:
            raise NotFound("the FlightInfo names no query of this server")
        return CancelStatus.CANCELLED

    def _find_result(self, handle: bytes, user: str) -> PendingResult:
        """The result behind a ticket, waiting for DoGet or being streamed; NotFound otherwise."""
        with self._stats_lock:
            streaming = self._streaming.get(handle)
        if streaming is not None and streaming[1] == user:
            return streaming[0]
        return self.results.get(handle, user)

    def _count_cancelled(self) -> None:
        with self._stats_lock:
            self._cancelled += 1

    def status(self) -> dict:
        """Counts for monitoring (also the ``quarry.status`` action)."""
        with self.write_lock:
            tables = len(self.catalog.names())
        with self._stats_lock:
            streams = [stream_status(pending) for pending, _ in self._streaming.values()]
            counts = {"running_queries": len(self._streaming), "pending_results": len(self.results),
                      "prepared_statements": len(self.prepared), "cancelled_queries": self._cancelled,
                      "tables": tables}
        admitted = self.admission.counts()
        return {**counts, "admitted_queries": admitted["running"], "queued_queries": admitted["queued"],
                "streams": streams, **self.limits.status(self.served)}

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _command(descriptor):
        if descriptor.descriptor_type != flight.DescriptorType.CMD:
            raise InvalidArgument("quarry serves Flight SQL commands; path descriptors are not supported")
        try:
            return unpack(descriptor.command)
        except ProtocolError as exc:
            raise Unimplemented(str(exc)) from None

    @staticmethod
    def _refuse_transaction(command) -> None:
        if command.HasField("transaction_id"):
            raise Unimplemented("quarry has no transactions; send the statement without a transaction id")

    @staticmethod
    def _unsupported(kind: str) -> Exception:
        if kind == "CommandStatementSubstraitPlan":
            return Unimplemented("Substrait plans are not supported; send SQL")
        return InvalidArgument(f"`{kind}` cannot be used with this RPC")

    def stop_background_work(self) -> None:
        """Stop the thread that expires statements and results (``shutdown`` does it too)."""
        self._janitor.stop()

    def shutdown(self):
        """Stop serving, waiting for the calls in progress (call from another thread than a handler)."""
        self.stop_background_work()
        super().shutdown()


def _result_schema(result) -> pa.Schema:
    """The schema a statement's result streams with: a query's output schema, else its status table's."""
    return result.schema if isinstance(result, QueryPlan) else result.table().schema


def _read_parameters(reader) -> pa.Table | None:
    """The batches a client sent with DoPut, or None when it sent no data (only the command)."""
    try:
        return reader.read_all()
    except (pa.ArrowInvalid, OSError, flight.FlightError):
        return None


def _columns_like(table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    """``table``'s columns reordered (by case-insensitive name) to ``schema``'s order, cast to its types."""
    by_name = {n.lower(): i for i, n in enumerate(table.column_names)}
    arrays = []
    for f in schema:
        i = by_name.get(f.name.lower())
        if i is None:
            raise DataError(f"the data ingested into `{name}` has no column `{f.name}`",
                            hint="send every column of the table")
        column = table.column(i)
        arrays.append(column if column.type == f.type else column.cast(f.type))
    if len(by_name) != len(schema):
        extra = sorted(set(by_name) - {f.name.lower() for f in schema})
        raise DataError(f"the data ingested into `{name}` has columns the table lacks: {extra}")
    return pa.Table.from_arrays(arrays, schema=schema)


__all__ = ["QuarryFlightSqlServer"]
