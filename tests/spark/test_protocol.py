"""The Spark Connect RPCs themselves, through the real ``pyspark-client`` and, where the client hides a
step (reattaching, interrupting one operation id, FetchErrorDetails), through a gRPC stub built from
the protocol definitions the client ships (``pyspark.sql.connect.proto``).

Expected values are written by hand from the protocol's comments (``base.proto``) and Spark's
documentation, or are what pyspark's own client-side code prints (``StructType.treeString``).
"""

from __future__ import annotations

import threading
import time
import uuid

import grpc
import pandas as pd
import pyarrow as pa
import pytest
from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import functions as F
from pyspark.sql.connect.proto import base_pb2, base_pb2_grpc


@pytest.fixture(scope="module")
def stub(spark_server):
    channel = grpc.insecure_channel(f"localhost:{spark_server.port}")
    yield base_pb2_grpc.SparkConnectServiceStub(channel)
    channel.close()


def _user():
    return base_pb2.UserContext(user_id="tester")


def _plan(df):
    return df._plan.to_proto(df._session.client)


def _rows(responses) -> list:
    batches = []
    for r in responses:
        if r.HasField("arrow_batch"):
            with pa.ipc.open_stream(r.arrow_batch.data) as reader:
                batches.append(reader.read_all())
    return pa.concat_tables(batches).to_pylist() if batches else []


# -- ExecutePlan, ReattachExecute, ReleaseExecute -----------------------------------------------


def test_execute_plan_sends_schema_batches_with_counts_and_completes(spark, stub):
    sid = str(uuid.uuid4())
    request = base_pb2.ExecutePlanRequest(session_id=sid, user_context=_user(), plan=_plan(spark.range(5)))
    responses = list(stub.ExecutePlan(request))
    assert responses[0].HasField("schema")
    assert [f.name for f in responses[0].schema.struct.fields] == ["id"]
    batches = [r.arrow_batch for r in responses if r.HasField("arrow_batch")]
    assert sum(b.row_count for b in batches) == 5
    assert [b.start_offset for b in batches] == [sum(x.row_count for x in batches[:i]) for i in range(len(batches))]
    assert _rows(responses) == [{"id": i} for i in range(5)]
    assert responses[-1].HasField("result_complete")
    assert all(r.session_id == sid and r.operation_id == responses[0].operation_id for r in responses)
    stub.ReleaseSession(base_pb2.ReleaseSessionRequest(session_id=sid, user_context=_user()))


def test_execute_plan_reports_each_operators_metrics(spark, stub):
    # ids 0..99 divisible by 3: 34 rows; id % 5 of those: 5 groups
    df = spark.range(100).filter("id % 3 = 0").selectExpr("id % 5 AS k").groupBy("k").count()
    request = base_pb2.ExecutePlanRequest(session_id=spark.client._session_id, plan=_plan(df))
    request.user_context.user_id = spark.client._user_id or "anonymous"
    responses = list(stub.ExecutePlan(request))
    metrics = [r.metrics for r in responses if r.HasField("metrics")]
    assert len(metrics) == 1 and responses[-1].HasField("result_complete")
    nodes = {m.plan_id: m for m in metrics[0].metrics}
    roots = [m for m in nodes.values() if m.parent == -1]
    assert len(roots) == 1 and roots[0].execution_metrics["numOutputRows"].value == 5
    assert all(m.parent in nodes for m in nodes.values() if m.parent != -1)
    rows_of = {m.name: m.execution_metrics["numOutputRows"].value for m in nodes.values()}
    assert rows_of["Filter"] == 34
    assert all(m.execution_metrics["numOutputRows"].metric_type == "sum" for m in nodes.values())
    # and PySpark hands them to the program
    assert len(df.collect()) == 5
    assert "Filter(numOutputRows: 34 (sum))" in df.executionInfo.metrics.toText()


def test_a_broken_stream_is_reattached_after_the_last_response_seen(spark, stub):
    sid, op = str(uuid.uuid4()), str(uuid.uuid4())
    option = base_pb2.ExecutePlanRequest.RequestOption(
        reattach_options=base_pb2.ReattachOptions(reattachable=True))
    request = base_pb2.ExecutePlanRequest(session_id=sid, user_context=_user(), operation_id=op,
                                          plan=_plan(spark.range(10)), request_options=[option])
    stream = stub.ExecutePlan(request)
    first = next(stream)                       # the schema; then the stream breaks
    stream.cancel()
    assert first.HasField("schema") and first.response_id
    rest = list(stub.ReattachExecute(base_pb2.ReattachExecuteRequest(
        session_id=sid, user_context=_user(), operation_id=op, last_response_id=first.response_id)))
    assert not any(r.HasField("schema") for r in rest)
    assert _rows(rest) == [{"id": i} for i in range(10)]
    assert rest[-1].HasField("result_complete")
    # the responses stay until released: reattaching again from the start replays them all
    again = list(stub.ReattachExecute(base_pb2.ReattachExecuteRequest(
        session_id=sid, user_context=_user(), operation_id=op)))
    assert again[0].HasField("schema") and _rows(again) == [{"id": i} for i in range(10)]
    # released up to the schema, a reattach starts after it; released whole, the operation is gone
    stub.ReleaseExecute(base_pb2.ReleaseExecuteRequest(
        session_id=sid, user_context=_user(), operation_id=op,
        release_until=base_pb2.ReleaseExecuteRequest.ReleaseUntil(response_id=first.response_id)))
    after = list(stub.ReattachExecute(base_pb2.ReattachExecuteRequest(
        session_id=sid, user_context=_user(), operation_id=op)))
    assert not after[0].HasField("schema") and _rows(after) == [{"id": i} for i in range(10)]
    released = stub.ReleaseExecute(base_pb2.ReleaseExecuteRequest(
        session_id=sid, user_context=_user(), operation_id=op,
        release_all=base_pb2.ReleaseExecuteRequest.ReleaseAll()))
    assert released.operation_id == op
    with pytest.raises(grpc.RpcError) as err:
        list(stub.ReattachExecute(base_pb2.ReattachExecuteRequest(
            session_id=sid, user_context=_user(), operation_id=op)))
    assert "INVALID_HANDLE.OPERATION_NOT_FOUND" in err.value.details()
    stub.ReleaseSession(base_pb2.ReleaseSessionRequest(session_id=sid, user_context=_user()))


def test_an_operation_id_cannot_be_used_twice(spark, stub):
    sid, op = str(uuid.uuid4()), str(uuid.uuid4())
    option = base_pb2.ExecutePlanRequest.RequestOption(reattach_options=base_pb2.ReattachOptions(reattachable=True))
    request = base_pb2.ExecutePlanRequest(session_id=sid, user_context=_user(), operation_id=op,
                                          plan=_plan(spark.range(1)), request_options=[option])
    list(stub.ExecutePlan(request))
    with pytest.raises(grpc.RpcError) as err:
        list(stub.ExecutePlan(request))
    assert "already exists" in err.value.details()
    stub.ReleaseSession(base_pb2.ReleaseSessionRequest(session_id=sid, user_context=_user()))


# -- Interrupt ---------------------------------------------------------------------------------


def _slow(spark):
    """A query that takes 10 s, in 20 batches of 10 rows (a union of 20 frames) of a UDF that sleeps
    50 ms a row: a cancel stops it between batches."""
    import functools

    @F.udf("long")
    def slow(x):
        import time as t
        t.sleep(0.05)
        return x
    parts = functools.reduce(lambda a, b: a.union(b), [spark.range(10) for _ in range(20)])
    return parts.select(slow("id").alias("x"))


def _run_in_thread(fn):
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as err:     # handed to the test
            outcome["error"] = err
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def _running_ops(spark_server, spark, tag=None, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = spark_server.service.sessions.get(spark.client._session_id)
        # (an interrupted query may still be winding down after its caller got the interrupt)
        ops = [] if state is None else [o for o in list(state.operations.values())
                                        if not o.done and not o.interrupted and (tag is None or tag in o.tags)]
        if ops:
            return ops
        time.sleep(0.05)
    raise AssertionError("the query never started")


def test_interrupt_by_tag_cancels_only_the_tagged_query(spark_server, spark):
    df = _slow(spark)

    def tagged():
        spark.addTag("slow-one")            # tags belong to the thread that sets them
        try:
            return df.collect()
        finally:
            spark.removeTag("slow-one")
    thread, outcome = _run_in_thread(tagged)
    ops = _running_ops(spark_server, spark, "slow-one")
    assert spark.interruptTag("other-tag") == []
    started = time.monotonic()
    assert spark.interruptTag("slow-one") == [ops[0].operation_id]
    thread.join(60)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), PySparkException)
    assert outcome["error"].getCondition() == "OPERATION_CANCELED"
    assert time.monotonic() - started < 5           # cancelled, not run to its end
    assert spark.range(3).count() == 3              # the session goes on


def test_interrupt_all(spark_server, spark):
    thread, outcome = _run_in_thread(_slow(spark).collect)
    ops = _running_ops(spark_server, spark)
    assert ops[0].operation_id in spark.interruptAll()
    thread.join(60)
    assert outcome["error"].getCondition() == "OPERATION_CANCELED"


def test_interrupt_one_operation_by_id(spark_server, spark, stub):
    sid, op = spark.client._session_id, str(uuid.uuid4())
    request = base_pb2.ExecutePlanRequest(session_id=sid, operation_id=op, plan=_plan(_slow(spark)))
    request.user_context.user_id = spark.client._user_id or "anonymous"
    thread, outcome = _run_in_thread(lambda: list(stub.ExecutePlan(request)))
    _running_ops(spark_server, spark)
    other = spark.interruptOperation(str(uuid.uuid4()))
    assert other == []
    assert spark.interruptOperation(op) == [op]
    thread.join(60)
    assert isinstance(outcome.get("error"), grpc.RpcError)
    assert outcome["error"].code() == grpc.StatusCode.CANCELLED


def test_get_status_reports_running_and_cancelled_operations(spark_server, spark):
    states = base_pb2.GetStatusResponse.OperationStatus.OperationState
    thread, outcome = _run_in_thread(_slow(spark).collect)
    op = _running_ops(spark_server, spark)[0]
    status = spark.client._get_operation_statuses([op.operation_id, "no-such-operation"])
    assert [(s.operation_id, s.state) for s in status.operation_statuses] == [
        (op.operation_id, states.OPERATION_STATE_RUNNING), ("no-such-operation", states.OPERATION_STATE_UNKNOWN)]
    assert op.operation_id in [s.operation_id for s in spark.client._get_operation_statuses().operation_statuses]
    spark.interruptOperation(op.operation_id)
    thread.join(60)
    assert outcome["error"].getCondition() == "OPERATION_CANCELED"
    assert op.state == "cancelled"


def _sleeping_frames(spark):
    """Queries whose Python function sleeps 30 s in its first batch: a UDF, a pandas UDF, mapInPandas."""
    from pyspark.sql.functions import pandas_udf

    @F.udf("long")
    def sleepy(x):
        import time as t
        t.sleep(30)
        return x

    @pandas_udf("long")
    def sleepy_batch(x: pd.Series) -> pd.Series:
        import time as t
        t.sleep(30)
        return x

    def sleepy_map(batches):
        import time as t
        for batch in batches:
            t.sleep(30)
            yield batch
    frame = spark.range(4)
    return {"udf": frame.select(sleepy("id").alias("x")), "pandas_udf": frame.select(sleepy_batch("id").alias("x")),
            "mapInPandas": frame.mapInPandas(sleepy_map, "id long")}


@pytest.mark.parametrize("kind", ["udf", "pandas_udf", "mapInPandas"])
def test_interrupt_stops_a_python_function_in_the_middle_of_a_batch(spark_server, spark, kind):
    # the function runs on a worker, which the pool kills when its query is cancelled and replaces
    df = _sleeping_frames(spark)[kind]
    thread, outcome = _run_in_thread(df.collect)
    op = _running_ops(spark_server, spark)[0]
    time.sleep(1.0)                                 # inside the 30 s sleep by now
    started = time.monotonic()
    assert spark.interruptAll() == [op.operation_id]
    thread.join(20)
    assert not thread.is_alive()
    assert outcome["error"].getCondition() == "OPERATION_CANCELED"
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 10               # the query itself stops too, not just the reply
    while not op.done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert op.done and op.state == "cancelled"
    assert spark.range(5).select(F.udf(lambda x: x + 1, "long")("id")).count() == 5     # the pool goes on


def test_interrupt_returns_at_once_when_the_function_runs_in_the_servers_process():
    # workers=0: the function runs in the server's process, where nothing can stop it mid-batch; the
    # interrupted call still returns at once, and the server serves the next query meanwhile
    import quarry
    import quarry.spark
    from pyspark.sql import SparkSession
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0)
    session = SparkSession.builder.remote(server.url).create()
    try:
        @F.udf("long")
        def sleepy(x):
            import time as t
            t.sleep(4)
            return x
        thread, outcome = _run_in_thread(session.range(2).select(sleepy("id")).collect)
        _running_ops(server, session)
        time.sleep(0.5)
        started = time.monotonic()
        session.interruptAll()
        thread.join(20)
        assert outcome["error"].getCondition() == "OPERATION_CANCELED"
        assert time.monotonic() - started < 2
        assert session.range(3).count() == 3
    finally:
        session.stop()
        server.stop(0)


def test_clone_session_is_refused_by_name(spark):
    # PySpark hands CloneSession's gRPC error on as it is, without its own exception class
    with pytest.raises(grpc.RpcError, match="Not supported: CloneSession"):
        spark.cloneSession()


# -- AnalyzePlan -------------------------------------------------------------------------------


def _analyze(stub, spark, **kind):
    request = base_pb2.AnalyzePlanRequest(session_id=spark.client._session_id, **kind)
    request.user_context.user_id = spark.client._user_id or "anonymous"
    return stub.AnalyzePlan(request)


NESTED = ("a int, s struct<x:int, y:array<bigint>>, m map<string, array<double>>, d decimal(10,2), t date, "
          "l array<struct<p:string, q:map<int, boolean>>>, b binary, f float")


@pytest.mark.parametrize("level", [None, 0, 1, 2, 3, 4])
def test_tree_string_is_printschema_text(spark, stub, level):
    df = spark.createDataFrame([(1, (2, [3]), {"k": [1.5]}, None, None, [("p", {1: True})], None, 1.0)], NESTED)
    tree = base_pb2.AnalyzePlanRequest.TreeString(plan=_plan(df), **({} if level is None else {"level": level}))
    text = _analyze(stub, spark, tree_string=tree).tree_string.tree_string
    # pyspark's own client-side printSchema text (Spark's format)
    assert text == (df.schema.treeString(level) if level else df.schema.treeString())


def test_explain_modes(spark, capsys):
    df = spark.table("nation").filter("n_regionkey = 1")
    df.explain()
    simple = capsys.readouterr().out
    df.explain("extended")
    extended = capsys.readouterr().out
    df.explain("formatted")
    formatted = capsys.readouterr().out
    assert "== Physical Plan ==" in simple and "== Physical Plan ==" in formatted
    assert "== Logical Plan ==" in extended and "== Physical Plan ==" in extended
    # quarry generates no code: Spark's text for a plan with no whole-stage codegen subtrees
    assert df._explain_string(mode="codegen") == "Found 0 WholeStageCodegen subtrees.\n"
    # cost: each node of the optimized plan with its row count (nation has 25 rows, region 5)
    spark.table("region").explain("cost")
    cost = capsys.readouterr().out
    assert cost.startswith("== Optimized Logical Plan ==\n") and "== Physical Plan ==" in cost
    assert "Statistics(rowCount=5)" in cost.split("== Physical Plan ==")[0]
    df.explain("cost")
    assert all("Statistics(rowCount=" in line for line in capsys.readouterr().out.split("\n\n")[0].splitlines()[1:])


def test_is_local_input_files_and_version(spark, tmp_path):
    import pyspark
    import pyarrow.parquet as pq
    assert spark.createDataFrame([(1,)], "a int").isLocal() is True
    assert spark.table("nation").isLocal() is False
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "one.parquet")
    pq.write_table(pa.table({"a": [3]}), tmp_path / "two.parquet")
    files = spark.read.parquet(str(tmp_path)).filter("a > 1").inputFiles()
    assert files == [str(tmp_path / "one.parquet"), str(tmp_path / "two.parquet")]
    csv = tmp_path / "c.csv"
    csv.write_text("a\n1\n")
    joined = spark.read.parquet(str(tmp_path / "one.parquet")).union(
        spark.read.option("header", True).csv(str(csv)).select(F.col("a").cast("long")))
    assert joined.inputFiles() == [str(csv), str(tmp_path / "one.parquet")]
    # a catalog table names the files it scans
    import os
    table_files = spark.table("nation").inputFiles()
    assert table_files and all(os.path.isabs(f) and os.path.exists(f) for f in table_files)
    assert spark.range(3).inputFiles() == []
    # the server speaks the protocol of the client it is installed with
    assert spark.version == pyspark.__version__


def test_ddl_parse(spark, stub):
    parsed = _analyze(stub, spark, ddl_parse=base_pb2.AnalyzePlanRequest.DDLParse(
        ddl_string="a INT NOT NULL, b ARRAY<STRING>, c DECIMAL(10, 2)")).ddl_parse.parsed
    fields = parsed.struct.fields
    assert [f.name for f in fields] == ["a", "b", "c"]
    assert [f.data_type.WhichOneof("kind") for f in fields] == ["integer", "array", "decimal"]
    assert [f.nullable for f in fields] == [False, True, True]
    assert (fields[2].data_type.decimal.precision, fields[2].data_type.decimal.scale) == (10, 2)
    assert fields[1].data_type.array.element_type.WhichOneof("kind") == "string"


# -- Config --------------------------------------------------------------------------------------


def test_static_configs_are_not_modifiable(spark):
    assert spark.conf.isModifiable("spark.sql.ansi.enabled") is True
    assert spark.conf.isModifiable("spark.executor.memory") is False
    with pytest.raises(AnalysisException) as err:
        spark.conf.set("spark.executor.memory", "4g")
    assert err.value.getCondition() == "CANNOT_MODIFY_CONFIG"
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"          # Spark 4's default
    spark.conf.set("spark.sql.ansi.enabled", "false")
    spark.conf.unset("spark.sql.ansi.enabled")
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"          # unset restores the default
    assert dict(spark.conf.getAll)["spark.sql.session.timeZone"] == spark.conf.get("spark.sql.session.timeZone")


# -- sessions ------------------------------------------------------------------------------------


def test_cached_data_and_config_belong_to_one_session(spark_server, spark):
    from pyspark.sql import SparkSession
    other = SparkSession.builder.remote(spark_server.url).create()
    try:
        mine = spark.range(4).filter("id > 1")
        mine.cache()
        assert mine.storageLevel.useMemory is True
        theirs = other.range(4).filter("id > 1")
        assert theirs.storageLevel.useMemory is False
        other.conf.set("my.key", "theirs")
        assert spark.conf.get("my.key", None) is None
        mine.unpersist()
    finally:
        other.stop()


def test_release_session_forgets_the_session(spark_server):
    from pyspark.sql import SparkSession
    s = SparkSession.builder.remote(spark_server.url).create()
    s.range(2).createOrReplaceTempView("soon_gone")
    sid = s.client._session_id
    assert sid in spark_server.service.sessions
    s.stop()
    assert sid not in spark_server.service.sessions


def test_fetch_error_details_answers_with_nothing_more(spark, stub):
    with pytest.raises(AnalysisException) as err:
        spark.sql("SELECT no_such_column FROM nation").collect()
    assert err.value.getCondition() == "UNRESOLVED_COLUMN.WITH_SUGGESTION"
    request = base_pb2.FetchErrorDetailsRequest(session_id=spark.client._session_id, error_id=str(uuid.uuid4()))
    request.user_context.user_id = spark.client._user_id or "anonymous"
    response = stub.FetchErrorDetails(request)
    assert response.session_id == spark.client._session_id and len(response.errors) == 0


def test_json_to_ddl_is_struct_type_to_ddl(spark):
    from pyspark.sql.types import (ArrayType, DecimalType, IntegerType, LongType, MapType, StringType, StructField,
                                   StructType, TimestampType)
    schema = StructType([
        StructField("a", IntegerType()),
        StructField("b", ArrayType(StringType()), False),
        StructField("c", MapType(StringType(), DecimalType(10, 2))),
        StructField("d e", StructType([StructField("x", LongType(), False), StructField("y", TimestampType())])),
        StructField("n", StringType(), metadata={"comment": "it's"}),
    ])
    # Spark's StructType.toDDL: fields joined by ",", DataType.sql names, names quoted only when needed,
    # NOT NULL and COMMENT '...' (with \ and ' escaped) after the type
    assert schema.toDDL() == ("a INT,b ARRAY<STRING> NOT NULL,c MAP<STRING, DECIMAL(10,2)>,"
                              "`d e` STRUCT<x: BIGINT NOT NULL, y: TIMESTAMP>,n STRING COMMENT 'it\\'s'")


def test_malformed_plans_get_clear_errors(spark, stub):
    from pyspark.sql.connect.proto import relations_pb2

    def run(rel):
        request = base_pb2.ExecutePlanRequest(session_id=spark.client._session_id, plan=base_pb2.Plan(root=rel))
        request.user_context.user_id = spark.client._user_id or "anonymous"
        with pytest.raises(grpc.RpcError) as err:
            list(stub.ExecutePlan(request))
        assert "Traceback" not in err.value.details()
        return err.value
    assert "a relation with nothing in it" in run(relations_pb2.Relation()).details()
    no_condition = relations_pb2.Relation()
    no_condition.filter.input.range.end = 3
    no_condition.filter.input.range.step = 1
    assert "an expression with nothing in it" in run(no_condition).details()
    # Spark refuses a range whose step is 0 (it would never end)
    zero_step = relations_pb2.Relation()
    zero_step.range.end = 3
    zero_step.range.step = 0
    assert "step of a range cannot be 0" in run(zero_step).details()


def test_set_and_reset_statements_in_sql_text(spark):
    # Spark's SET takes the text after '=' as the value (a zone name with '/' too) and answers key/value rows
    try:
        assert [tuple(r) for r in spark.sql("SET spark.sql.shuffle.partitions=5").collect()] == \
            [("spark.sql.shuffle.partitions", "5")]
        assert spark.conf.get("spark.sql.shuffle.partitions") == "5"
        assert [tuple(r) for r in spark.sql("SET spark.sql.shuffle.partitions").collect()] == \
            [("spark.sql.shuffle.partitions", "5")]
        assert spark.sql("SET my.never.set").collect()[0].value == "<undefined>"
        spark.sql("SET spark.sql.session.timeZone = America/Los_Angeles").collect()
        assert spark.conf.get("spark.sql.session.timeZone") == "America/Los_Angeles"
        spark.sql("SET TIME ZONE 'Europe/Paris'").collect()
        assert spark.conf.get("spark.sql.session.timeZone") == "Europe/Paris"
        everything = {r.key: r.value for r in spark.sql("SET").collect()}
        assert everything["spark.sql.session.timeZone"] == "Europe/Paris"
        spark.sql("SET spark.sql.ansi.enabled=false").collect()
        assert spark.sql("SELECT 1 / 0 AS x").collect()[0].x is None          # the setting is honoured
        spark.sql("RESET spark.sql.shuffle.partitions").collect()
        assert spark.conf.get("spark.sql.shuffle.partitions") == "200"
        with pytest.raises(PySparkException, match="INVALID_CONF_VALUE.TIME_ZONE|invalid time zone"):
            spark.sql("SET TIME ZONE 'Nowhere/Nothing'").collect()
    finally:
        spark.sql("RESET").collect()
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
