"""The ``SparkConnectService`` gRPC servicer: one method per RPC of the Spark Connect protocol.

=================  ==========================================================================
RPC                what quarry does
=================  ==========================================================================
ExecutePlan        a relation: its schema, then its rows as Arrow IPC batches (with row counts
                   and start offsets), its operators' metrics, then ``result_complete``; a
                   command (``spark.sql``, temp and global temp views, writes, ``writeTo``,
                   checkpoints): its result, then ``result_complete``. Always run as a
                   reattachable :class:`~quarry.spark.operations.Operation`.
ReattachExecute    the responses of a running or finished operation after the last one seen
ReleaseExecute     drops responses the client has (``release_until``) or the operation
AnalyzePlan        schema, explain (all modes; codegen finds no generated code), tree_string, is_local,
                   is_streaming, input_files, spark_version, ddl_parse, json_to_ddl,
                   same_semantics / semantic_hash (the plans' canonical forms,
                   :mod:`quarry.logical.canonical`), persist / unpersist / get_storage_level
Config             set, get, get_with_default, get_option, get_all, unset, is_modifiable
Interrupt          all of the session's operations, those with a tag, or one by id
ReleaseSession     cancels what runs and forgets the session
FetchErrorDetails  nothing to add: every error travels whole in its status
AddArtifacts       a session's Python files (``pyfiles/``) and cached blobs (``cache/``), chunked
                   or batched, CRC-checked, under the session's own directory
                   (:mod:`quarry.spark.artifacts`); JARs, archives and files are refused
ArtifactStatus     whether the session holds each named artifact
GetStatus          the state of the session's operations (running, succeeded, failed, cancelled;
                   unknown once released)
CloneSession       refused
=================  ==========================================================================

Every failure reaches the client as PySpark's own exception (:mod:`quarry.spark.errors`).
Sessions are isolated per ``session_id`` (:mod:`quarry.spark.session`); a request of a
session must come from the user that opened it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time

import grpc
import pyarrow as pa

from pyspark.sql.connect.proto import base_pb2, base_pb2_grpc, relations_pb2

from quarry.spark.errors import SparkError, not_supported, to_status
from quarry.spark.metadata import with_metadata
from quarry.spark.operations import Operation
from quarry.spark.relations import RelationTranslator
from quarry.spark.session import SparkSessionState
from quarry.spark.types import from_arrow, parse_ddl, schema_from_arrow, simple_string

log = logging.getLogger("quarry.spark")

__all__ = ["SparkConnectService"]

_BATCH_BYTES = 4 << 20          # Arrow data per response, well under gRPC's message limit
_AUTH_CACHE_SECONDS = 300.0     # a checked token is not re-hashed for this long


def _created_tables(statements) -> list[str]:
    """The names of the tables ``CREATE TABLE`` statements among ``statements`` make."""
    from sqlglot import exp
    names = []
    for st in statements:
        if isinstance(st, exp.Create) and (st.args.get("kind") or "").upper() == "TABLE":
            table = st.this if isinstance(st.this, exp.Table) else st.this.find(exp.Table)
            if table is not None:
                names.append(table.name)
    return names


def _client_version() -> str:
    import pyspark
    return pyspark.__version__


class SparkConnectService(base_pb2_grpc.SparkConnectServiceServicer):
    """Serve quarry to PySpark clients. ``new_session(user)`` makes the quarry Session of a new Spark session
    (the server's tables, sandbox, role guard); ``users`` (a :class:`quarry.server.auth.Users`) turns on
    token checks; ``admission`` limits how many queries run at once."""

    def __init__(self, new_session, users=None, admission=None, python_role: str | None = "write"):
        from quarry.spark.artifacts import ArtifactStore
        self._new_session = new_session
        self.users = users
        self.admission = admission
        self.python_role = python_role          # the least role that may run Python code (None: nobody)
        self.artifacts = ArtifactStore()
        self.sessions: dict[str, SparkSessionState] = {}
        self._lock = threading.Lock()
        self._verified: dict[tuple[str, bytes], float] = {}
        self._global_views: dict[str, dict] = {}     # user -> that user's global temp views

    # -- sessions and auth -----------------------------------------------------------------------

    def _user(self, request, context) -> str:
        user = request.user_context.user_id or "anonymous"
        if not self.users:
            return user
        token = None
        for key, value in context.invocation_metadata():
            if key.lower() == "authorization" and value.lower().startswith("bearer "):
                token = value[7:]
        if token is None:
            raise SparkError("authentication required: connect with sc://host:port/;user_id=USER;token=PASSWORD",
                             error_class="UNAUTHENTICATED", code=grpc.StatusCode.UNAUTHENTICATED)
        digest = hmac.new(b"quarry-spark", token.encode(), hashlib.sha256).digest()
        now = time.monotonic()
        seen = self._verified.get((user, digest))
        if seen is None or now - seen > _AUTH_CACHE_SECONDS:
            if not self.users.check(user, token):
                raise SparkError("invalid user or token", error_class="UNAUTHENTICATED",
                                 code=grpc.StatusCode.UNAUTHENTICATED)
            self._verified[(user, digest)] = now
        return user

    def state(self, request, context, create: bool = True) -> SparkSessionState:
        user = self._user(request, context)
        sid = request.session_id
        if not sid:
            raise SparkError("the request has no session_id", error_class="INVALID_HANDLE.FORMAT")
        with self._lock:
            state = self.sessions.get(sid)
            if state is None:
                if not create:
                    raise SparkError(f"INVALID_HANDLE.SESSION_NOT_FOUND: no session `{sid}`",
                                     error_class="INVALID_HANDLE.SESSION_NOT_FOUND")
                state = SparkSessionState(sid, user, self._new_session(user))
                state.global_store = self._global_views.setdefault(user, {})
                self._python_hooks(state)
                self.sessions[sid] = state
        if state.user != user:
            raise SparkError("the session belongs to another user", error_class="INVALID_HANDLE.SESSION_NOT_FOUND",
                             code=grpc.StatusCode.PERMISSION_DENIED)
        observed = getattr(request, "client_observed_server_side_session_id", "")
        if observed and observed != state.server_side_session_id:
            raise SparkError("the server-side session changed (the server restarted)",
                             error_class="INVALID_HANDLE.SESSION_CHANGED")
        return state

    def _python_hooks(self, state: SparkSessionState) -> None:
        """What :mod:`quarry.spark.udfs` asks a session: may it run Python code, and where are its pyfiles."""
        store, sid, needed = self.artifacts, state.session_id, self.python_role

        def check_python(what: str) -> None:
            from quarry.server.access import role_allows
            guard = getattr(state.session, "command_guard", None)
            role = getattr(guard, "role", None)
            if needed is None or (role is not None and not role_allows(role, needed)):
                raise SparkError(f"running Python code (`{what}`) needs the role `{needed or 'none'}` on this "
                                 f"server" + (f"; `{state.user}` has `{role}`" if role else ""),
                                 error_class="INSUFFICIENT_PERMISSIONS", code=grpc.StatusCode.PERMISSION_DENIED)

        state.check_python = check_python
        state.python_paths = lambda: store.python_paths(sid)

    def _stamp(self, response, state: SparkSessionState):
        response.session_id = state.session_id
        response.server_side_session_id = state.server_side_session_id
        return response

    # -- ExecutePlan ---------------------------------------------------------------------------

    def ExecutePlan(self, request, context):
        try:
            state = self.state(request, context)
            op_id = request.operation_id or None
            if op_id and op_id in state.operations:
                raise SparkError(f"the operation `{op_id}` already exists",
                                 error_class="INVALID_HANDLE.OPERATION_ALREADY_EXISTS")
            holder: dict = {}
            op = Operation(op_id, request.tags, lambda: self._produce(state, request.plan, holder, op),
                           lambda: state.session.cancel(origin=holder.get("plan")) if holder.get("plan") else None)
            reattachable = any(o.reattach_options.reattachable for o in request.request_options
                               if o.HasField("reattach_options"))
            state.operations[op.operation_id] = op
            op.start()
            try:
                yield from op.read(alive=context.is_active)
            finally:
                if not reattachable and op.done:
                    state.operations.pop(op.operation_id, None)
        except Exception as err:
            context.abort_with_status(to_status(err))

    def _response(self, state, op, **fields):
        response = base_pb2.ExecutePlanResponse(operation_id=op.operation_id, **fields)
        return self._stamp(response, state)

    def _produce(self, state: SparkSessionState, plan, holder: dict, op: Operation):
        kind = plan.WhichOneof("op_type")
        if kind == "root":
            yield from self._relation_results(state, plan.root, holder, op)
        elif kind == "command":
            yield from self._command(state, plan.command, holder, op)
        else:
            raise not_supported("compressed plans")
        yield self._response(state, op, result_complete=base_pb2.ExecutePlanResponse.ResultComplete())

    def _relation_results(self, state, rel, holder, op):
        translator = RelationTranslator(state)
        df = translator.translate_result(rel)
        schema = df.schema
        yield self._response(state, op, schema=with_metadata(schema_from_arrow(schema), rel))
        wire = wire_schema(schema)
        plan = df.logical_plan
        holder["plan"] = plan
        sent = 0
        slot = self.admission.slot(lambda: op.interrupted) if self.admission is not None else _NoSlot()
        session = state.session
        physical = session.physical_plan(session.optimize(plan))
        with slot:
            for batch in session.execute_stream(physical, origin=plan):
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema) \
                    if batch.schema != schema else batch
                if wire is not schema:
                    batch = _on_the_wire(batch, wire)
                for piece in _pieces(batch):
                    yield self._arrow(state, op, piece, sent)
                    sent += piece.num_rows
        if sent == 0:
            # no rows: one empty batch, so the client still learns the column types
            yield self._arrow(state, op, pa.RecordBatch.from_pylist([], schema=wire), 0)
        yield self._response(state, op, metrics=plan_metrics(physical))
        observed = translator.observed_metrics() if translator.observations else []
        if observed:
            yield self._response(state, op, observed_metrics=observed)

    def _arrow(self, state, op, batch: pa.RecordBatch, offset: int):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        arrow = base_pb2.ExecutePlanResponse.ArrowBatch(row_count=batch.num_rows, data=sink.getvalue().to_pybytes(),
                                                        start_offset=offset)
        return self._response(state, op, arrow_batch=arrow)

    # -- commands ------------------------------------------------------------------------------

    def _command(self, state, command, holder, op):
        kind = command.WhichOneof("command_type")
        if kind == "sql_command":
            yield self._response(state, op, sql_command_result=self._sql_command(state, command.sql_command))
        elif kind == "create_dataframe_view":
            self._create_view(state, command.create_dataframe_view)
        elif kind == "register_function":
            from quarry.spark.udfs import register
            register(state, command.register_function)
        elif kind == "write_operation":
            from quarry.spark.writes import write
            write(state, RelationTranslator(state), command.write_operation)
        elif kind == "write_operation_v2":
            from quarry.spark.writes import write_v2
            write_v2(state, RelationTranslator(state), command.write_operation_v2)
        elif kind == "checkpoint_command":
            # df.checkpoint() / localCheckpoint(): the rows kept under an id the client's DataFrame names
            c = command.checkpoint_command
            relation_id = state.checkpoint(RelationTranslator(state).translate(c.relation).to_arrow())
            result = base_pb2.CheckpointCommandResult()
            result.relation.relation_id = relation_id
            yield self._response(state, op, checkpoint_command_result=result)
        elif kind == "remove_cached_remote_relation_command":
            state.release_checkpoint(command.remove_cached_remote_relation_command.relation.relation_id)
        else:
            raise not_supported(f"the command `{kind}`")

    def _sql_command(self, state, c) -> base_pb2.ExecutePlanResponse.SqlCommandResult:
        from quarry.spark.sql import parse_spark_sql, run_spark_sql
        from sqlglot import exp
        translator = RelationTranslator(state)
        result = base_pb2.ExecutePlanResponse.SqlCommandResult()
        if c.HasField("input"):
            # newer clients send the query as a SQL relation (with its arguments)
            if c.input.WhichOneof("rel_type") != "sql":
                raise not_supported(f"sql over a `{c.input.WhichOneof('rel_type')}` input")
            c = c.input.sql
            text = c.query
        else:
            text = c.sql
        from quarry.spark.sql import spark_sql_setting
        setting = spark_sql_setting(state, text)          # SET / RESET: the session's configuration
        if setting is not None:
            result.relation.local_relation.data = _ipc_bytes(setting)
            return result
        from quarry.spark.catalog import describe_column
        described = describe_column(translator, text)     # DESCRIBE t col: sqlglot has no grammar for it
        if described is not None:
            result.relation.local_relation.data = _ipc_bytes(described)
            return result
        statements = parse_spark_sql(text)
        if len(statements) == 1:
            from quarry.spark.catalog import sql_statement
            answer = sql_statement(translator, statements[0])   # SHOW TABLES, USE, CACHE / UNCACHE TABLE
            if answer is not None:
                result.relation.local_relation.data = _ipc_bytes(answer)
                return result
        queries = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)
        if len(statements) == 1 and isinstance(statements[0], queries):
            # a query stays lazy: the client runs the relation it gets back
            sql = relations_pb2.SQL(query=text)
            for k, v in c.args.items():
                sql.args[k].CopyFrom(v)
            sql.pos_args.extend(c.pos_args)
            for k, v in c.named_arguments.items():
                sql.named_arguments[k].CopyFrom(v)
            sql.pos_arguments.extend(c.pos_arguments)
            result.relation.sql.CopyFrom(sql)
            return result
        named, positional = translator.sql_arguments(c)
        created = _created_tables(statements)
        catalog = state.session.catalog
        before = {n: catalog.get(n) if catalog.exists(n) else None for n in created}
        outcome = run_spark_sql(state.session, text, named, positional, state.global_store, ansi=state.ansi,
                                time_zone=state.time_zone)
        for name, provider in before.items():               # CREATE TABLE made it (not IF NOT EXISTS of one there)
            if catalog.exists(name) and catalog.get(name) is not provider:
                state.table_created(name)
        from quarry.sql.commands import QueryPlan
        table = state.session.run(outcome.plan).table if isinstance(outcome, QueryPlan) else outcome.table()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        result.relation.local_relation.data = sink.getvalue().to_pybytes()
        return result

    def _create_view(self, state, c) -> None:
        df = RelationTranslator(state).translate(c.input)
        if c.is_global:
            from quarry.catalog.providers import ViewTable
            from quarry.logical.plan_copy import fresh_copy
            if not c.replace and c.name.lower() in state.global_store:
                raise SparkError(f"the temporary view `global_temp.{c.name}` already exists",
                                 error_class="TEMP_TABLE_OR_VIEW_ALREADY_EXISTS",
                                 parameters={"relationName": f"`global_temp`.`{c.name}`"})
            plan = df.logical_plan
            state.global_store[c.name.lower()] = ViewTable(c.name, lambda: fresh_copy(plan), df.schema)
            return
        if not c.replace and state.session.catalog.exists(c.name):
            raise SparkError(f"the temporary view `{c.name}` already exists",
                             error_class="TEMP_TABLE_OR_VIEW_ALREADY_EXISTS", parameters={"relationName": c.name})
        df.create_view(c.name, replace=True)

    # -- ReattachExecute / ReleaseExecute ------------------------------------------------------

    def ReattachExecute(self, request, context):
        try:
            state = self.state(request, context, create=False)
            op = state.operations.get(request.operation_id)
            if op is None:
                raise SparkError(f"INVALID_HANDLE.OPERATION_NOT_FOUND: no operation `{request.operation_id}`",
                                 error_class="INVALID_HANDLE.OPERATION_NOT_FOUND")
            after = request.last_response_id if request.HasField("last_response_id") else None
            yield from op.read(after, alive=context.is_active)
        except Exception as err:
            context.abort_with_status(to_status(err))

    def ReleaseExecute(self, request, context):
        try:
            state = self.state(request, context, create=False)
            op = state.operations.get(request.operation_id)
            if op is not None:
                if request.HasField("release_all"):
                    op.release_all()
                    state.operations.pop(request.operation_id, None)
                else:
                    op.release_until(request.release_until.response_id)
            response = base_pb2.ReleaseExecuteResponse(operation_id=request.operation_id)
            return self._stamp(response, state)
        except Exception as err:
            context.abort_with_status(to_status(err))

    # -- AnalyzePlan -----------------------------------------------------------------------------

    def AnalyzePlan(self, request, context):
        try:
            state = self.state(request, context)
            response = self._stamp(base_pb2.AnalyzePlanResponse(), state)
            kind = request.WhichOneof("analyze")
            translate = RelationTranslator(state).translate
            if kind == "schema":
                root = request.schema.plan.root
                schema = RelationTranslator(state).translate_result(root).schema
                response.schema.schema.CopyFrom(with_metadata(schema_from_arrow(schema), root))
            elif kind == "explain":
                response.explain.explain_string = self._explain(state.session, translate(request.explain.plan.root),
                                                                request.explain.explain_mode)
            elif kind == "tree_string":
                level = request.tree_string.level if request.tree_string.HasField("level") else None
                response.tree_string.tree_string = tree_string(translate(request.tree_string.plan.root).schema, level)
            elif kind == "is_local":
                response.is_local.is_local = request.is_local.plan.root.WhichOneof("rel_type") == "local_relation"
            elif kind == "is_streaming":
                response.is_streaming.is_streaming = False
            elif kind == "input_files":
                root = request.input_files.plan.root
                response.input_files.files.extend(_input_files(translate(root), root))
            elif kind == "spark_version":
                response.spark_version.version = _client_version()
            elif kind == "ddl_parse":
                t = parse_ddl(request.ddl_parse.ddl_string, state.time_zone)
                response.ddl_parse.parsed.CopyFrom(from_arrow(t))
            elif kind == "json_to_ddl":
                from quarry.spark.types import json_to_ddl
                response.json_to_ddl.ddl_string = json_to_ddl(request.json_to_ddl.json_string)
            elif kind == "persist":
                rel = request.persist.relation
                state.persist(rel, translate(rel).to_arrow())
                response.persist.SetInParent()
            elif kind == "unpersist":
                state.unpersist(request.unpersist.relation)
                response.unpersist.SetInParent()
            elif kind == "same_semantics":
                from quarry.logical.canonical import same_semantics
                analyzed = RelationTranslator(state, use_cache=False).translate
                r = request.same_semantics
                response.same_semantics.result = same_semantics(analyzed(r.target_plan.root).logical_plan,
                                                                analyzed(r.other_plan.root).logical_plan)
            elif kind == "semantic_hash":
                from quarry.logical.canonical import semantic_hash
                analyzed = RelationTranslator(state, use_cache=False).translate
                response.semantic_hash.result = semantic_hash(analyzed(request.semantic_hash.plan.root).logical_plan,
                                                              _table_digest)
            elif kind == "get_storage_level":
                cached = state.is_cached(request.get_storage_level.relation)
                level = response.get_storage_level.storage_level
                level.use_memory = cached
                level.deserialized = cached
                level.replication = 1
            else:
                raise not_supported(f"AnalyzePlan `{kind}`")
            return response
        except Exception as err:
            context.abort_with_status(to_status(err))

    @staticmethod
    def _explain(session, df, mode: int) -> str:
        modes = base_pb2.AnalyzePlanRequest.Explain.ExplainMode
        if mode == modes.EXPLAIN_MODE_EXTENDED:
            return df.explain_string("logical").rstrip("\n") + "\n\n" + df.explain_string("plan").rstrip("\n") + "\n"
        if mode == modes.EXPLAIN_MODE_COST:
            # Spark's cost mode: the optimized logical plan with each node's statistics, then the physical plan
            from quarry.logical.statistics import estimate_rows
            optimized = session.optimize(df.logical_plan)
            lines = []

            def add(node, depth):
                lines.append(f"{'  ' * depth}{node.describe()}, Statistics(rowCount={int(estimate_rows(node))})")
                for child in node.children():
                    add(child, depth + 1)
            add(optimized, 0)
            return ("== Optimized Logical Plan ==\n" + "\n".join(lines) + "\n\n== Physical Plan ==\n"
                    + session.physical_plan(optimized).pretty() + "\n")
        if mode == modes.EXPLAIN_MODE_CODEGEN:
            # Spark's text for a plan without whole-stage code generation: quarry's operators run Arrow
            # kernels and generate no code
            return "Found 0 WholeStageCodegen subtrees.\n"
        return df.explain_string("plan").rstrip("\n") + "\n"      # quarry's own sections and headers

    # -- Config ----------------------------------------------------------------------------------

    def Config(self, request, context):
        try:
            state = self.state(request, context)
            response = self._stamp(base_pb2.ConfigResponse(), state)
            op = request.operation
            kind = op.WhichOneof("op_type")
            pairs = response.pairs
            if kind == "set":
                for kv in op.set.pairs:
                    state.set(kv.key, kv.value)
            elif kind == "get":
                for key in op.get.keys:
                    pairs.add(key=key, value=state.get(key))
            elif kind == "get_with_default":
                for kv in op.get_with_default.pairs:
                    if kv.key in state.conf:
                        pairs.add(key=kv.key, value=state.conf[kv.key])
                    elif kv.HasField("value"):
                        pairs.add(key=kv.key, value=kv.value)
                    else:
                        pairs.add(key=kv.key)
            elif kind == "get_option":
                for key in op.get_option.keys:
                    if key in state.conf:
                        pairs.add(key=key, value=state.conf[key])
                    else:
                        pairs.add(key=key)
            elif kind == "get_all":
                prefix = op.get_all.prefix if op.get_all.HasField("prefix") else ""
                for key in sorted(state.conf):
                    if key.startswith(prefix):
                        pairs.add(key=key, value=state.conf[key])
            elif kind == "unset":
                for key in op.unset.keys:
                    state.unset(key)
            elif kind == "is_modifiable":
                for key in op.is_modifiable.keys:
                    pairs.add(key=key, value="true" if state.is_modifiable(key) else "false")
            else:
                raise not_supported(f"Config `{kind}`")
            return response
        except Exception as err:
            context.abort_with_status(to_status(err))

    # -- Interrupt / ReleaseSession / errors / artifacts -------------------------------------------

    def Interrupt(self, request, context):
        try:
            state = self.state(request, context)
            kinds = base_pb2.InterruptRequest.InterruptType
            if request.interrupt_type == kinds.INTERRUPT_TYPE_TAG:
                chosen = [op for op in state.operations.values() if request.operation_tag in op.tags]
            elif request.interrupt_type == kinds.INTERRUPT_TYPE_OPERATION_ID:
                chosen = [op for op in state.operations.values() if op.operation_id == request.operation_id]
            else:
                chosen = list(state.operations.values())
            response = self._stamp(base_pb2.InterruptResponse(), state)
            response.interrupted_ids.extend(op.operation_id for op in chosen if op.interrupt())
            return response
        except Exception as err:
            context.abort_with_status(to_status(err))

    def ReleaseSession(self, request, context):
        try:
            self._user(request, context)
            with self._lock:
                state = self.sessions.pop(request.session_id, None)
            response = base_pb2.ReleaseSessionResponse(session_id=request.session_id)
            if state is not None:
                response.server_side_session_id = state.server_side_session_id
                state.close()
                self.artifacts.release(state.session_id)
            return response
        except Exception as err:
            context.abort_with_status(to_status(err))

    def FetchErrorDetails(self, request, context):
        try:
            state = self.state(request, context)
            return self._stamp(base_pb2.FetchErrorDetailsResponse(), state)
        except Exception as err:
            context.abort_with_status(to_status(err))

    def GetStatus(self, request, context):
        try:
            state = self.state(request, context)
            response = self._stamp(base_pb2.GetStatusResponse(), state)
            if request.HasField("operation_status"):
                states = base_pb2.GetStatusResponse.OperationStatus.OperationState
                ops = dict(state.operations)
                wanted = list(request.operation_status.operation_ids) or list(ops)
                for op_id in wanted:
                    op = ops.get(op_id)
                    name = "UNKNOWN" if op is None else op.state.upper()
                    response.operation_statuses.add(operation_id=op_id,
                                                    state=states.Value(f"OPERATION_STATE_{name}"))
            return response
        except Exception as err:
            context.abort_with_status(to_status(err))

    def CloneSession(self, request, context):
        try:
            self.state(request, context)
            raise not_supported("CloneSession (copying a session's views, settings, functions and cache)")
        except Exception as err:
            context.abort_with_status(to_status(err))

    def AddArtifacts(self, request_iterator, context):
        try:
            first = next(iter(request_iterator), None)
            if first is None:
                raise SparkError("an AddArtifacts call without requests", error_class="INVALID_ARTIFACT_STREAM")
            state = self.state(first, context)
            import itertools
            requests = itertools.chain([first], request_iterator)

            def checked():
                for request in requests:
                    names = [a.name for a in request.batch.artifacts] if request.HasField("batch") else \
                        [request.begin_chunk.name] if request.HasField("begin_chunk") else []
                    if any(n.startswith("pyfiles/") for n in names):
                        state.check_python(names[0])
                    yield request
            response = self._stamp(base_pb2.AddArtifactsResponse(), state)
            for name, ok in self.artifacts.add(state.session_id, checked()):
                response.artifacts.add(name=name, is_crc_successful=ok)
            return response
        except Exception as err:
            context.abort_with_status(to_status(err))

    def ArtifactStatus(self, request, context):
        try:
            state = self.state(request, context)
            response = self._stamp(base_pb2.ArtifactStatusesResponse(), state)
            for name in request.names:
                response.statuses[name].exists = self.artifacts.exists(state.session_id, name)
            return response
        except Exception as err:
            context.abort_with_status(to_status(err))

    def close(self) -> None:
        with self._lock:
            states = list(self.sessions.values())
            self.sessions.clear()
        for state in states:
            state.close()
        self.artifacts.close()


class _NoSlot:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def wire_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema a result goes to the client in (``schema`` itself when nothing changes): a calendar
    interval as Arrow's MONTH_DAY_NANO interval, as Spark 4 sends its CalendarIntervalType (the client
    then refuses to collect it, as it does against Spark). A year-month interval, which Spark sends as
    Arrow's YEAR_MONTH interval, is refused here: pyarrow cannot hold that type, and the client converts
    it to no Python value against Spark either."""
    from quarry.logical.spark_functions import is_calendar, is_year_month

    def has(t, test):
        if test(t):
            return True
        if pa.types.is_struct(t):
            return any(has(f.type, test) for f in t)
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return has(t.value_type, test)
        if pa.types.is_map(t):
            return has(t.key_type, test) or has(t.item_type, test)
        return False
    for f in schema:
        if has(f.type, is_year_month):
            raise not_supported(f"collecting the year-month interval column `{f.name}` (PySpark has no Python "
                                "type for YearMonthIntervalType: its client cannot convert one from Spark "
                                "either); cast it to STRING, or look at it with show()")
        if has(f.type, is_calendar) and not is_calendar(f.type):
            raise not_supported(f"a calendar interval inside the nested column `{f.name}` in a result")
    if not any(is_calendar(f.type) for f in schema):
        return schema
    return pa.schema([f.with_type(f.type.storage_type) if is_calendar(f.type) else f for f in schema],
                     metadata=schema.metadata)


def _on_the_wire(batch: pa.RecordBatch, wire: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([c.storage if isinstance(c, pa.ExtensionArray) else c
                                       for c in batch.columns], schema=wire)


def _pieces(batch: pa.RecordBatch):
    """``batch`` cut into slices of about :data:`_BATCH_BYTES` each."""
    if batch.num_rows == 0:
        return
    size = batch.nbytes
    rows = batch.num_rows if size <= _BATCH_BYTES else max(1, batch.num_rows * _BATCH_BYTES // size)
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


def tree_string(schema: pa.Schema, level: int | None = None) -> str:
    """``printSchema()`` text as Spark writes it: ``root``, then `` |-- name: type (nullable = true)`` per
    column with Spark's type names (``integer``, ``long``, ``decimal(10,2)``, ``struct``), nested fields,
    array elements (``containsNull``) and map keys and values (``valueContainsNull``) indented, down to
    ``level`` levels (all of them when ``level`` is None or not positive)."""
    lines = ["root"]

    def type_name(t: pa.DataType) -> str:
        dt = from_arrow(t)
        kind = dt.WhichOneof("kind")
        if kind in ("decimal", "char", "var_char", "day_time_interval", "year_month_interval"):
            return simple_string(dt)
        return {"null": "void", "calendar_interval": "interval"}.get(kind, kind)

    # ``depth`` is how many levels may still be shown (Spark's maxDepth): each struct, array or map
    # entered takes one, so a struct's fields and an array's element are one level below their column
    def field(name: str, t: pa.DataType, nullable: bool, prefix: str, depth: float):
        if depth > 0:
            lines.append(f"{prefix}-- {name}: {type_name(t)} (nullable = {str(nullable).lower()})")
            nested(t, prefix + "    |", depth - 1)

    def nested(t: pa.DataType, prefix: str, depth: float):
        if depth <= 0:
            return
        if pa.types.is_struct(t):
            for i in range(t.num_fields):
                field(t.field(i).name, t.field(i).type, t.field(i).nullable, prefix, depth)
        elif pa.types.is_list(t) or pa.types.is_large_list(t):
            lines.append(f"{prefix}-- element: {type_name(t.value_type)} "
                         f"(containsNull = {str(t.value_field.nullable).lower()})")
            nested(t.value_type, prefix + "    |", depth - 1)
        elif pa.types.is_map(t):
            lines.append(f"{prefix}-- key: {type_name(t.key_type)}")
            nested(t.key_type, prefix + "    |", depth - 1)
            lines.append(f"{prefix}-- value: {type_name(t.item_type)} "
                         f"(valueContainsNull = {str(t.item_field.nullable).lower()})")
            nested(t.item_type, prefix + "    |", depth - 1)

    for f in schema:
        field(f.name, f.type, f.nullable, " |", level if level is not None and level > 0 else float("inf"))
    return "\n".join(lines) + "\n"


def _table_digest(table: pa.Table) -> str:
    """An order-sensitive digest of a table's rows for ``semanticHash`` (equal tables, equal digests):
    the vectorized row hashes of the exchanges, weighted by position. Types the row hash does not take
    (nested ones) leave it out."""
    import numpy as np
    from quarry.compute.hashing import hash_columns
    if table.num_rows == 0 or table.num_columns == 0:
        return "empty"
    try:
        rows = hash_columns([table.column(i) for i in range(table.num_columns)])
    except (TypeError, ValueError, pa.ArrowException):
        return "unhashed"
    with np.errstate(over="ignore"):
        total = (rows * np.arange(1, len(rows) + 1, dtype=np.uint64)).sum(dtype=np.uint64)
    return format(int(total), "016x")


def plan_metrics(physical) -> base_pb2.ExecutePlanResponse.Metrics:
    """What running ``physical`` measured, per operator, as Spark reports a plan's metrics after its rows
    (``df.executionInfo.metrics``): ``numOutputRows``, ``numOutputBatches``, ``time`` (the operator's own,
    ms) and each operator's own counters (spill, peaks). Operators are numbered in a walk from the root,
    ``parent`` -1 for the root; run in stages, each stage's operators, a stage's root under the root of
    the stage that reads it."""
    out = base_pb2.ExecutePlanResponse.Metrics()
    graph = getattr(physical, "stage_graph", None)
    trees = [(stage.id, stage.root) for stage in reversed(graph.stages)] if graph is not None else [(None, physical)]
    consumer = {i: stage.id for stage in graph.stages for i in stage.inputs} if graph is not None else {}
    root_ids: dict = {}

    def add(node, parent: int) -> None:
        number = len(out.metrics)
        m = out.metrics.add(name=node.name, plan_id=number, parent=parent)
        own = {"numOutputRows": ("rows", "sum"), "numOutputBatches": ("batches", "sum")}
        for spark_name, (key, kind) in own.items():
            m.execution_metrics[spark_name].CopyFrom(
                base_pb2.ExecutePlanResponse.Metrics.MetricValue(name=spark_name, value=int(node.metrics.get(key, 0)),
                                                                 metric_type=kind))
        m.execution_metrics["time"].CopyFrom(base_pb2.ExecutePlanResponse.Metrics.MetricValue(
            name="time", value=int(node.exclusive_time() * 1000), metric_type="timing"))
        for key, value in node.metrics.items():
            if key not in ("rows", "batches", "time"):
                m.execution_metrics[key].CopyFrom(base_pb2.ExecutePlanResponse.Metrics.MetricValue(
                    name=key, value=int(value), metric_type="max" if key.startswith("peak_") else "sum"))
        for child in node.children:
            add(child, number)

    for stage_id, root in trees:
        parent = root_ids.get(consumer.get(stage_id), -1)
        root_ids[stage_id] = len(out.metrics)
        add(root, parent)
    return out


def _input_files(df, rel) -> list[str]:
    """The files ``df.inputFiles()`` names: those of the tables its plan scans, and those of the
    ``spark.read`` sources in the relation ``rel`` (read whole into memory, they leave no scan behind)."""
    import os
    from quarry.catalog.filesystems import is_remote
    from quarry.catalog.providers import expand_paths
    from quarry.logical.plan import Scan
    files: list[str] = []

    def walk(plan):
        if isinstance(plan, Scan):
            files.extend(getattr(plan.source, "files", ()) or ())
        for child in plan.children():
            walk(child)
    walk(df.logical_plan)

    def reads(message):
        if isinstance(message, relations_pb2.Read) and message.HasField("data_source"):
            source = message.data_source
            paths = list(source.paths) or [v for k, v in source.options.items() if k.lower() == "path"]
            with df._session.using_storage():
                files.extend(expand_paths(paths))
        for field, value in message.ListFields():
            if field.message_type is None or (field.is_repeated and field.message_type.GetOptions().map_entry):
                continue
            for item in (value if field.is_repeated else [value]):
                reads(item)
    reads(rel)
    return sorted({f if is_remote(f) else os.path.abspath(f) for f in files})
