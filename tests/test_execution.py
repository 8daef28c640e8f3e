"""The process executor: stages and tasks, faults, cancellation, cleanup, progress, metrics.

Faults are injected with ``Session.inject_faults`` for the next query: a worker
kills itself with SIGKILL in the middle of a task (after writing rows), or a
task raises. Every test checks the answer against the same query run with
``workers=0``, and that no shuffle file is left in the spill directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pyarrow as pa
import pytest

import quarry
from quarry.errors import ExecutionError, QuarryError
from quarry.execution.pool import get_pool
from quarry.execution.serialize import dumps, loads, table_to_ipc
from quarry.execution.stages import ShuffleReadExec
from quarry.testing import assert_tables_equal
from quarry.tpch import load_query, register_tables

JOIN_AGG = """
    SELECT o_orderpriority, count(*) AS n, sum(l_quantity) AS q
    FROM lineitem JOIN orders ON l_orderkey = o_orderkey
    WHERE l_shipdate > DATE '1995-01-01'
    GROUP BY o_orderpriority ORDER BY o_orderpriority
"""


@pytest.fixture(scope="module")
def reference(tpch_sf001):
    return register_tables(quarry.connect(workers=0), tpch_sf001)


@pytest.fixture
def spill_dir(tmp_path):
    d = tmp_path / "spill"
    d.mkdir()
    return d


@pytest.fixture
def con(tpch_sf001, spill_dir):
    # broadcast off, so the join shuffles both sides through hash exchanges
    return register_tables(quarry.connect(workers=2, spill_dir=str(spill_dir), broadcast_rows=0), tpch_sf001)


def leftovers(path) -> list[str]:
    return [os.path.join(root, f) for root, _, files in os.walk(path) for f in files]


def test_default_is_a_process_pool_of_one_worker_per_core():
    con = quarry.connect()
    assert con.executor == "processes"
    assert con.workers == (os.cpu_count() or 1)
    assert quarry.connect(workers=0).executor == "inline"


def test_stages_run_in_worker_processes(con, reference, spill_dir):
    result = con.sql(JOIN_AGG).to_arrow()
    assert_tables_equal(result, reference.sql(JOIN_AGG).to_arrow(), ordered=True)
    pool = get_pool(2)
    assert len(pool.pids()) == 2 and os.getpid() not in pool.pids()
    assert leftovers(spill_dir) == []


def test_the_pool_outlives_queries(con):
    pids = get_pool(2).pids()
    for _ in range(3):
        con.sql(JOIN_AGG).to_arrow()
    assert get_pool(2).pids() == pids


def test_explain_analyze_shows_stages_with_metrics(con):
    text = con.sql(JOIN_AGG).explain_string("analyze")
    assert "== Stages" in text
    stage_lines = [line for line in text.splitlines() if line.startswith("Stage ")]
    # scan lineitem, scan orders (each hashed on the join key), join + partial agg, final agg + sort, result
    assert len(stage_lines) >= 4
    assert any("(hash into 2" in line for line in stage_lines)
    assert stage_lines[0].startswith("Stage") and "(result" in stage_lines[0]
    for key in ("tasks=", "attempts=", "rows_in=", "rows_out=", "bytes_in=", "bytes_out=", "shuffle_read=",
                "shuffle_write=", "spill=", "time="):
        assert all(key in line for line in stage_lines), key
    assert "ShuffleRead: stage" in text


def test_a_worker_killed_mid_task_is_replaced_and_the_task_rerun(con, reference, spill_dir):
    pool = get_pool(2)
    restarts = pool.restarts
    # the first attempt of task 0 of every stage: the worker SIGKILLs itself after writing rows
    con.inject_faults({("any", 0, 1): {"kill_after_rows": 1}})
    df = con.sql(JOIN_AGG)
    result = con.run(df.logical_plan)
    assert_tables_equal(result.table, reference.sql(JOIN_AGG).to_arrow(), ordered=True)
    assert pool.restarts > restarts
    graph = result.physical.stage_graph
    worker_stages = [s for s in graph.stages if s.mode != "result"]
    assert any(s.metrics["attempts"] > s.metrics["tasks"] for s in worker_stages)
    assert leftovers(spill_dir) == []
    # and the session (and pool) go on working
    assert_tables_equal(con.sql(JOIN_AGG).to_arrow(), reference.sql(JOIN_AGG).to_arrow(), ordered=True)


def test_a_worker_killed_from_outside_mid_query(tpch_sf001, reference, spill_dir):
    """SIGKILL a busy worker from the test while a query runs; the query still returns the right answer."""
    con = register_tables(quarry.connect(workers=2, spill_dir=str(spill_dir), broadcast_rows=0), tpch_sf001)
    pool = get_pool(2)
    killed = []

    def kill_a_busy_worker(progress):
        if killed or progress.finished:
            return
        busy = pool.busy_pids(progress.query)
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            killed.append(busy[0])

    con.on_progress(kill_a_busy_worker)
    sql = load_query(9)
    result = con.sql(sql).to_arrow()
    assert killed, "no task was running when progress was reported"
    assert_tables_equal(result, reference.sql(sql).to_arrow(), ordered=True)
    assert killed[0] not in pool.pids()
    assert leftovers(spill_dir) == []


def test_a_task_that_keeps_dying_fails_the_query_cleanly(con, reference, spill_dir):
    con.set_config(task_max_attempts=2)
    con.inject_faults({("any", 0, 1): {"kill_after_rows": 0}, ("any", 0, 2): {"kill_after_rows": 0}})
    with pytest.raises(ExecutionError) as info:
        con.sql(JOIN_AGG).to_arrow()
    assert "worker process died" in info.value.message and "2 times" in info.value.message
    assert "SIGKILL" in info.value.message
    assert info.value.hint
    assert leftovers(spill_dir) == []
    assert_tables_equal(con.sql(JOIN_AGG).to_arrow(), reference.sql(JOIN_AGG).to_arrow(), ordered=True)


def test_a_task_exception_fails_the_query_and_the_session_stays_usable(con, reference, spill_dir):
    con.inject_faults({("any", 1, 1): {"raise": "boom in a task"}})
    with pytest.raises(QuarryError) as info:
        con.sql(JOIN_AGG).to_arrow()
    assert "boom in a task" in str(info.value)
    assert leftovers(spill_dir) == []
    assert_tables_equal(con.sql(JOIN_AGG).to_arrow(), reference.sql(JOIN_AGG).to_arrow(), ordered=True)


def test_a_full_disk_fails_the_query_with_a_hint_to_move_spill_dir(con, reference, spill_dir):
    import errno
    con.inject_faults({("any", 0, 1): {"os_error": errno.ENOSPC}})
    with pytest.raises(ExecutionError) as info:
        con.sql(JOIN_AGG).to_arrow()
    assert "no space left" in info.value.message and "spill_dir" in info.value.hint
    assert leftovers(spill_dir) == []
    assert_tables_equal(con.sql(JOIN_AGG).to_arrow(), reference.sql(JOIN_AGG).to_arrow(), ordered=True)


def test_a_quarry_error_inside_a_task_keeps_its_class_and_hint(tmp_path, spill_dir):
    import pyarrow.parquet as pq
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"k": list(range(100)) * 3, "v": [1] * 300}), path, row_group_size=100)
    con = quarry.connect(workers=2, spill_dir=str(spill_dir))
    con.register("t", str(path))
    os.remove(path)                    # the file vanishes after registration
    with pytest.raises(quarry.errors.DataError) as info:
        con.sql("SELECT k, sum(v) FROM t GROUP BY k").to_arrow()
    assert "cannot read" in info.value.message and info.value.hint


def test_cancel_stops_the_tasks_and_removes_shuffle_files(con, spill_dir):
    seen = []

    def cancel_after_first_task(progress):
        seen.append(progress)
        if progress.tasks_done >= 1:
            con.cancel()

    con.on_progress(cancel_after_first_task)
    with pytest.raises(ExecutionError, match="cancelled"):
        con.sql(load_query(9)).to_arrow()
    assert seen and not seen[-1].finished
    assert leftovers(spill_dir) == []
    assert get_pool(2).busy_pids() == []
    con._progress_callbacks.clear()
    assert con.sql("SELECT count(*) AS n FROM nation").to_pylist() == [{"n": 25}]


def test_timeout_cancels_a_query(con, spill_dir):
    con.set_config(timeout=0.000001)
    with pytest.raises(ExecutionError, match="timed out") as info:
        con.sql(JOIN_AGG).to_arrow()
    assert "timeout" in info.value.hint
    assert leftovers(spill_dir) == []
    con.set_config(timeout=None)
    assert con.sql(JOIN_AGG).to_arrow().num_rows == 5


def test_progress_reports_stages_and_tasks(con):
    events = []
    con.on_progress(events.append)
    con.sql(JOIN_AGG).to_arrow()
    assert events[-1].finished
    last = events[-1]
    assert last.stages_done == last.stages_total >= 4
    assert last.tasks_done == last.tasks_total
    assert [e.tasks_done for e in events] == sorted(e.tasks_done for e in events)
    assert "stage" in str(last) and "tasks" in str(last)
    assert con.progress() is None       # nothing runs now


def test_large_in_memory_tables_travel_as_mapped_files(spill_dir):
    con = quarry.connect(workers=2, spill_dir=str(spill_dir))
    n = 400_000
    con.register("big", pa.table({"k": pa.array(range(n)) , "g": pa.array([i % 7 for i in range(n)])}))
    result = con.sql("SELECT g, count(*) AS c, sum(k) AS s FROM big GROUP BY g ORDER BY g").to_pylist()
    assert result == [{"g": g, "c": len(range(g, n, 7)), "s": sum(range(g, n, 7))} for g in range(7)]
    assert leftovers(spill_dir) == []


def test_ipc_serialization_sends_only_the_rows_of_a_slice():
    table = pa.table({"x": pa.array(range(1_000_000))})
    piece = table.slice(10, 5)
    assert len(table_to_ipc(piece)) < 2_000
    assert len(dumps(piece)) < 2_000
    assert loads(dumps(piece)).equals(piece)
    assert loads(dumps(pa.scalar(3, pa.decimal128(10, 2)))) == pa.scalar(3, pa.decimal128(10, 2))
    assert loads(dumps(pa.struct([("a", pa.int8())]))) == pa.struct([("a", pa.int8())])


def test_a_script_without_a_main_guard_can_use_worker_processes(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import pyarrow as pa, quarry
        con = quarry.connect(workers=2)
        con.register("t", pa.table({"k": list(range(50000)), "v": [1] * 50000}))
        print([(r["m"], int(r["s"])) for r in con.sql("SELECT k % 3 AS m, sum(v) AS s FROM t GROUP BY m ORDER BY m").to_pylist()])
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "[(0, 16667), (1, 16667), (2, 16666)]" in out.stdout


def test_bad_executor_settings_are_clear_errors():
    with pytest.raises(QuarryError) as info:
        quarry.connect(executor="threads")
    assert "executor" in info.value.message and "inline" in info.value.hint
    with pytest.raises(QuarryError):
        quarry.connect(workers=-1)
    with pytest.raises(QuarryError) as info:
        quarry.connect(address="ray://x:10001")
    assert "ray" in info.value.hint


def test_a_query_over_its_memory_cap_fails_alone_and_its_workers_are_replaced(con, reference, spill_dir):
    # a task holds 300 MB that no operator reserved (as a join exploding inside one kernel call
    # would): the pool's memory watch kills it within a poll, without waiting for it to finish
    con.set_config(memory_cap="100MB")
    pool = get_pool(2)
    restarts = pool.restarts
    con.inject_faults({("any", 0, 1): {"hold_bytes": 300 << 20, "hold_seconds": 60}})
    start = time.monotonic()
    with pytest.raises(ExecutionError) as info:
        con.sql(JOIN_AGG).to_arrow()
    assert time.monotonic() - start < 20
    assert "exceeded its memory cap of 100 MB" in info.value.message
    assert "memory_cap" in info.value.hint
    assert pool.restarts > restarts and pool.busy_pids() == []
    assert leftovers(spill_dir) == []
    # the same query under the cap, and the session, go on working
    assert_tables_equal(con.sql(JOIN_AGG).to_arrow(), reference.sql(JOIN_AGG).to_arrow(), ordered=True)
    with pytest.raises(QuarryError):
        con.set_config(memory_cap="lots")


def test_stream_results_keeps_a_streaming_pipeline_in_the_result_stage(tmp_path, spill_dir):
    import pyarrow.parquet as pq
    from quarry.execution.stages import cut_stages
    path = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"x": pa.array(range(200_000), pa.int64())}), path, row_group_size=25_000)
    con = quarry.connect(workers=2, spill_dir=str(spill_dir))
    con.register("numbers", str(path))
    scan = "SELECT x, x * 2 AS y FROM numbers WHERE x % 3 = 0"
    plan = con.physical_plan(con.optimize(con.sql(scan).logical_plan))
    assert len(cut_stages(plan).stages) == 2                      # the scan's tasks write files first
    assert len(cut_stages(plan, stream_result=True).stages) == 1  # the scan streams from the result stage
    # operators that hold rows stay in worker stages
    agg = con.physical_plan(con.optimize(con.sql("SELECT x % 7 AS k, count(*) AS n FROM numbers GROUP BY 1")
                                         .logical_plan))
    assert len(cut_stages(agg, stream_result=True).stages) == len(cut_stages(agg).stages) > 1
    expected = con.sql(scan).to_arrow()
    con.set_config(stream_results=True)
    assert_tables_equal(con.sql(scan).to_arrow(), expected, ordered=False)
    assert expected.num_rows == 66_667


def test_memory_limit_accepts_sizes():
    con = quarry.connect(workers=0, memory_limit="64MB")
    assert con.exec_config().memory_limit == 64 << 20
    with pytest.raises(QuarryError) as info:
        con.set_config(memory_limit="lots")
    assert "512MB" in info.value.hint


def test_single_partition_queries_run_in_the_caller_without_tasks(con):
    events = []
    con.on_progress(events.append)
    start = time.perf_counter()
    assert con.sql("SELECT 1 AS x").to_pylist() == [{"x": 1}]
    assert time.perf_counter() - start < 5
    assert events[-1].stages_total == 1 and events[-1].tasks_total == 1


def test_the_shell_spinner_shows_engine_progress(con, tpch_sf001):
    import pyarrow.parquet as pq
    from quarry.cli.runner import count_text, engine_progress
    texts, events = [], []
    con.on_progress(lambda p: (events.append(p), texts.append(engine_progress(con))))
    con.sql(JOIN_AGG).to_arrow()
    shown = [t for t in texts if t]
    # a Parquet query shows a bar of the rows scanned, out of the totals in the files' footers
    total = sum(pq.ParquetFile(tpch_sf001 / f"{t}.parquet").metadata.num_rows for t in ("lineitem", "orders"))
    assert shown and all(t.endswith(f"/{count_text(total)} rows") or f"/{count_text(total)} rows ·" in t
                         for t in shown)
    assert events[0].rows_scanned == 0 and events[-1].rows_scanned == events[-1].rows_to_scan == total
    fractions = [e.scan_fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert engine_progress(con) is None


def test_progress_without_parquet_scans_counts_stages_and_tasks(spill_dir):
    from quarry.cli.runner import engine_progress
    con = quarry.connect(workers=2, spill_dir=str(spill_dir), broadcast_rows=0)
    con.register("t", pa.table({"k": list(range(1000)), "v": list(range(1000))}))
    texts = []
    con.on_progress(lambda p: texts.append(engine_progress(con)))
    con.sql("SELECT a.k % 7 AS g, count(*) FROM t a JOIN t b ON a.k = b.v GROUP BY 1").to_arrow()
    shown = [t for t in texts if t]
    assert shown and all(t.startswith("stage ") and "tasks" in t for t in shown)


def test_a_partitioned_join_switches_to_broadcast_when_its_build_side_turns_out_small(tmp_path, spill_dir):
    import pyarrow.parquet as pq
    n = 200_000
    pq.write_table(pa.table({"k": pa.array(range(n)), "v": pa.array([i % 13 for i in range(n)])}),
                   tmp_path / "fact.parquet", row_group_size=25_000)
    pq.write_table(pa.table({"dk": pa.array(range(0, n, 2)), "x": pa.array(range(n // 2))}),
                   tmp_path / "dim.parquet", row_group_size=25_000)
    sql = ("SELECT count(*) AS c, sum(v) AS s FROM fact JOIN dim ON k = dk "
           "WHERE x % 1000 = 0")                  # far more selective than any estimate knows
    results = {}
    for workers in (0, 2):
        con = quarry.connect(workers=workers, spill_dir=str(spill_dir), broadcast_rows=1000)
        con.register("fact", str(tmp_path / "fact.parquet"))
        con.register("dim", str(tmp_path / "dim.parquet"))
        results[workers] = con.sql(sql).to_pylist()
        if workers:
            plan = con.sql(sql).explain_string("plan")
            assert "partitioned" in plan
            text = con.sql(sql).explain_string("analyze")
            assert "switched_to_broadcast=1" in text
            assert "ShuffleRead: stage" in text and "(broadcast)" in text
    assert results[0] == results[2] == [{"c": 100, "s": sum((2 * 1000 * i) % 13 for i in range(100))}]
    assert leftovers(spill_dir) == []


def test_a_partitioned_join_hashes_the_side_that_turned_out_smaller(tmp_path, spill_dir):
    import duckdb
    import pyarrow.parquet as pq
    n = 200_000
    pq.write_table(pa.table({"k": pa.array(range(n)), "v": pa.array([i % 13 for i in range(n)])}),
                   tmp_path / "fact.parquet", row_group_size=25_000)
    pq.write_table(pa.table({"dk": pa.array(range(0, 40_000, 2)), "x": pa.array(range(20_000))}),
                   tmp_path / "dim.parquet", row_group_size=5_000)
    # the estimate keeps a tenth of fact (20k rows, as many as dim has) where the filter keeps 200:
    # the planner hashes dim, and the run finds fact's side a hundred times smaller
    sql = "SELECT count(*) AS c, sum(v) AS s, sum(x) AS sx FROM fact JOIN dim ON k = dk WHERE k % 1000 = 0"
    con = quarry.connect(workers=2, spill_dir=str(spill_dir), broadcast_rows=0, runtime_filters=False)
    con.register("fact", str(tmp_path / "fact.parquet"))
    con.register("dim", str(tmp_path / "dim.parquet"))
    assert "HashJoin(inner, partitioned, build=right)" in con.sql(sql).explain_string("plan")
    text = con.sql(sql).explain_string("analyze")
    assert "build_side_swapped=1" in text and "build=left" in text
    expected = duckdb.sql(sql.replace("fact", f"'{tmp_path / 'fact.parquet'}' fact")
                          .replace("JOIN dim", f"JOIN '{tmp_path / 'dim.parquet'}' dim")).fetchall()
    assert [tuple(r.values()) for r in con.sql(sql).to_pylist()] == expected
    assert leftovers(spill_dir) == []


def test_dataframe_cancel_stops_only_its_own_query(con, spill_dir, duckdb_tpch):
    df = con.sql(load_query(9))
    other = con.sql(JOIN_AGG)
    expected = duckdb_tpch.sql(load_query(9)).to_arrow_table()
    con.on_progress(lambda p: other.cancel() if p.tasks_done >= 1 else None)   # not this query's DataFrame
    # cancelling another DataFrame, many times over, lets this one run to the end with the right answer
    assert_tables_equal(con.sql(load_query(9)).to_arrow(), expected, ordered=True)
    con._progress_callbacks.clear()
    con.on_progress(lambda p: df.cancel() if p.tasks_done >= 1 else None)
    with pytest.raises(ExecutionError, match="query cancelled"):
        df.to_arrow()
    assert leftovers(spill_dir) == []
    con._progress_callbacks.clear()
    # a cancel reaches only queries running at the time: both DataFrames still run, and right
    assert_tables_equal(other.to_arrow(), duckdb_tpch.sql(JOIN_AGG).to_arrow_table(), ordered=True)
    assert_tables_equal(df.to_arrow(), expected, ordered=True)


def test_workers_0_is_serial_and_workers_share_the_cores():
    from quarry.execution.pool import worker_command
    assert quarry.connect(workers=0).exec_config().arrow_threads is False
    assert quarry.connect(executor="inline", workers=2).exec_config().arrow_threads is True
    assert quarry.connect(workers=2).exec_config().arrow_threads is True
    assert worker_command(3, "/f", 0, 1)[-1] == "1"


def test_ctrl_c_stops_the_query_and_cleans_up(con, reference, spill_dir):
    """KeyboardInterrupt in the querying thread (Ctrl-C) stops the tasks and removes the shuffle files."""
    def interrupt(progress):
        if progress.tasks_done >= 1 and not progress.finished:
            raise KeyboardInterrupt

    con.on_progress(interrupt)
    with pytest.raises(KeyboardInterrupt):
        con.sql(load_query(9)).to_arrow()
    con._progress_callbacks.clear()
    assert leftovers(spill_dir) == []
    assert get_pool(2).busy_pids() == []
    assert_tables_equal(con.sql(JOIN_AGG).to_arrow(), reference.sql(JOIN_AGG).to_arrow(), ordered=True)


def test_state_several_times_the_budget_spills_in_worker_processes(tpch_sf001, reference, spill_dir):
    """An aggregation, a join and a sort that each hold more than memory_limit, on the process pool."""
    con = register_tables(quarry.connect(workers=2, spill_dir=str(spill_dir), memory_limit="64KB",
                                         broadcast_rows=0), tpch_sf001)
    sql = """
        SELECT l_orderkey, o_orderdate, count(*) AS n, sum(l_extendedprice) AS total
        FROM lineitem JOIN orders ON l_orderkey = o_orderkey
        GROUP BY l_orderkey, o_orderdate
        ORDER BY total DESC, l_orderkey
    """
    result = con.run(con.sql(sql).logical_plan)
    assert_tables_equal(result.table, reference.sql(sql).to_arrow(), ordered=True)
    graph = result.physical.stage_graph
    assert sum(s.metrics["spill_bytes"] for s in graph.stages) > 0
    spilled = {node.name for s in graph.stages for node in s.root.walk() if node.metrics.get("spill_bytes", 0) > 0}
    assert {"HashJoin", "HashAggregate", "Sort"} <= spilled
    text = graph.pretty(analyze=True)
    assert "spill_bytes=" in text
    assert leftovers(spill_dir) == []


def test_parquet_providers_are_decoded_once_per_process(tpch_sf001):
    con = register_tables(quarry.connect(workers=0), tpch_sf001)
    provider = con.catalog.get("lineitem")
    first, second = loads(dumps(provider)), loads(dumps(provider))
    assert first is second and first is not provider
    assert first.schema == provider.schema and len(first.row_groups) == len(provider.row_groups)
    # registering the table again makes a new provider, which is decoded afresh
    register_tables(con, tpch_sf001)
    assert loads(dumps(con.catalog.get("lineitem"))) is not first


def test_equal_subtrees_share_one_stage(tpch_sf001, reference, duckdb_tpch):
    """Spark's ReuseExchange: Q15's revenue view appears twice in the plan and is computed once."""
    con = register_tables(quarry.connect(workers=2), tpch_sf001)
    sql = load_query(15)
    result = con.run(con.sql(sql).logical_plan)
    assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=True)
    graph = result.physical.stage_graph
    reads = [n.stage_id for s in graph.stages for n in s.root.walk() if isinstance(n, ShuffleReadExec)]
    assert len(reads) > len(set(reads))                     # some stage is read twice
    scans = [n for s in graph.stages for n in s.root.walk() if n.name == "ParquetScan" and "lineitem" in n.label]
    assert len(scans) == 1                                  # lineitem is scanned once, not twice


def test_subtrees_that_differ_do_not_share_a_stage(tpch_sf001, duckdb_tpch):
    con = register_tables(quarry.connect(workers=2), tpch_sf001)
    # the same shape, different constants / columns / volatile functions: nothing may be shared
    cases = [
        "SELECT a.k, a.n, b.n AS m FROM (SELECT l_suppkey AS k, count(*) AS n FROM lineitem WHERE l_quantity < 10 "
        "GROUP BY 1) a JOIN (SELECT l_suppkey AS k, count(*) AS n FROM lineitem WHERE l_quantity < 20 GROUP BY 1) b "
        "ON a.k = b.k ORDER BY 1",
        "SELECT a.k, a.n, b.n AS m FROM (SELECT l_suppkey AS k, sum(l_quantity) AS n FROM lineitem GROUP BY 1) a "
        "JOIN (SELECT l_suppkey AS k, sum(l_tax) AS n FROM lineitem GROUP BY 1) b ON a.k = b.k ORDER BY 1",
        "SELECT a.k, b.k AS k2 FROM (SELECT l_orderkey AS k, l_suppkey AS s FROM lineitem) a "
        "JOIN (SELECT l_suppkey AS k, l_orderkey AS s FROM lineitem) b ON a.k = b.k AND a.s = b.s ORDER BY 1, 2",
    ]
    for sql in cases:
        result = con.run(con.sql(sql).logical_plan)
        assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=True)
        graph = result.physical.stage_graph
        reads = [n.stage_id for s in graph.stages for n in s.root.walk() if isinstance(n, ShuffleReadExec)]
        assert len(reads) == len(set(reads)), sql
    volatile = ("SELECT count(*) AS n FROM (SELECT l_suppkey, random() AS r FROM lineitem) a JOIN "
                "(SELECT l_suppkey, random() AS r FROM lineitem) b ON a.l_suppkey = b.l_suppkey AND a.r = b.r")
    graph = con.run(con.sql(volatile).logical_plan).physical.stage_graph
    reads = [n.stage_id for s in graph.stages for n in s.root.walk() if isinstance(n, ShuffleReadExec)]
    assert len(reads) == len(set(reads))


def test_nans_with_different_bits_hash_alike_and_buckets_split_every_row_once():
    import numpy as np
    from quarry.compute.hashing import hash_columns, partition_ids, split_by_ids
    other_nan = np.frombuffer(np.uint64(0x7FF8000000000123).tobytes(), dtype=np.float64)[0]
    values = pa.array([float("nan"), other_nan, 0.0, -0.0])
    h = hash_columns([values])
    assert h[0] == h[1] and h[2] == h[3]
    batch = pa.record_batch({"k": pa.array(range(1000))})
    for n in (1, 3, 8, 16):
        ids = partition_ids([batch.column("k")], n)
        pieces = list(split_by_ids(batch, ids, n))
        assert [i for i, _ in pieces] == sorted({int(i) for i in ids})
        assert sorted(v for _, piece in pieces for v in piece.column("k").to_pylist()) == list(range(1000))
        for i, piece in pieces:
            assert set(partition_ids([piece.column("k")], n).tolist()) == {i}


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# self-joins on a key with few values: billions of pairs, minutes of work in every operator that
# streams (probe, join output, aggregation), so a cancel lands in the middle of long kernel work.
# Each join's build side is small (one hash table build is a single Acero call, and bounded by its
# input, not by a cancel)
LONG = """SELECT a.l_returnflag, count(*) AS n, sum(a.l_quantity * b.l_discount) AS s
          FROM lineitem a JOIN (SELECT * FROM lineitem WHERE l_suppkey < 40) b ON a.l_suppkey = b.l_suppkey
          JOIN (SELECT * FROM lineitem WHERE l_suppkey < 40) c ON a.l_suppkey = c.l_suppkey GROUP BY 1"""


@pytest.mark.parametrize("settings", [dict(workers=2), dict(workers=2, executor="inline"), dict(workers=0)],
                         ids=["processes", "inline", "workers0"])
def test_a_cancelled_query_stops_using_cpu_within_a_second(tpch_sf001, spill_dir, settings):
    # the timeout only guards the suite should cancelling fail; the test cancels long before it
    con = register_tables(quarry.connect(**settings, spill_dir=str(spill_dir), broadcast_rows=0, timeout=120),
                          tpch_sf001)
    if settings["workers"] and settings.get("executor") is None:
        # a worker an earlier test killed may still be starting: its imports use CPU for no query
        assert get_pool(2).wait_ready(60)
    cancelled_at = []

    def cancel():
        cancelled_at.append(time.monotonic())
        con.cancel()

    timer = threading.Timer(1.5, cancel)
    timer.start()
    try:
        with pytest.raises(ExecutionError, match="cancelled"):
            con.sql(LONG).to_arrow()
    finally:
        timer.cancel()
    returned = time.monotonic()
    assert cancelled_at, "the query finished before it could be cancelled: make LONG longer"
    # the caller gets its error within a second of the cancel ...
    assert returned - cancelled_at[0] < 1.0
    # ... and no worker process keeps working for the query afterwards
    if settings["workers"] and settings.get("executor") is None:
        pool = get_pool(2)
        assert pool.busy_pids() == []
        before = {pid: _cpu_seconds(pid) for pid in pool.pids()}
        time.sleep(0.5)
        assert all(_cpu_seconds(pid) - cpu < 0.1 for pid, cpu in before.items())
    assert leftovers(spill_dir) == []


def test_a_task_waits_in_the_queue_until_its_worker_has_started():
    # a worker is busy importing quarry for a second or more after it starts, and cannot see a
    # cancel until then: a task must wait in the queue (where a cancel drops it), not in the worker
    from quarry.execution.pool import PoolTask, WorkerPool, new_query_id
    pool = WorkerPool(1)
    try:
        replies = []
        task = PoolTask(query=new_query_id(), label="stage 0 task 0", payload=lambda attempt: dumps({}),
                        on_reply=replies.append)
        pool.submit(task)
        time.sleep(0.05)                    # the dispatcher has seen the task
        assert pool.cancel(task.query) == [task]
        assert pool.wait_ready(60)
        time.sleep(0.1)
        assert pool.restarts == 0 and pool.busy_pids() == [] and replies == []
    finally:
        pool.close()


def test_queued_tasks_fail_with_a_hint_when_no_worker_can_start(monkeypatch):
    # tasks wait for a worker to start; where none can (a broken install), they must fail, not wait for good
    from quarry.execution import pool as pool_module
    monkeypatch.setattr(pool_module, "worker_command",
                        lambda *args: [sys.executable, "-c", "import sys; sys.exit(3)"])
    pool = pool_module.WorkerPool(1)
    try:
        replies = []
        done = threading.Event()
        task = pool_module.PoolTask(query=pool_module.new_query_id(), label="stage 0 task 0",
                                    payload=lambda attempt: dumps({}),
                                    on_reply=lambda reply: (replies.append(reply), done.set()))
        pool.submit(task)
        assert done.wait(60)
        assert replies[0]["ok"] is False and "die while they start" in replies[0]["message"]
        assert "exit code 3" in replies[0]["message"]
        assert "import quarry" in replies[0]["hint"]
    finally:
        pool.close()


def test_a_join_takes_its_probe_input_only_as_fast_as_it_probes():
    # Acero's reader source pulls as fast as the input comes; the gate keeps a join from running its
    # probe input ahead of what its reader asks for (and a cancel from waiting on that work)
    import pyarrow.acero as acero
    from quarry.physical.join import PROBE_AHEAD, ProbeGate
    build = pa.table({"k": [i % 40 for i in range(4000)], "x": list(range(4000))})
    probe = pa.record_batch({"k": list(range(40)) * 4, "p": list(range(160))})
    gate = ProbeGate()
    given = []

    def slices():
        while len(given) < 100_000 and gate.admit():
            given.append(1)
            yield probe

    reader = pa.RecordBatchReader.from_batches(probe.schema, slices())
    join = acero.Declaration("hashjoin", acero.HashJoinNodeOptions("inner", ["k"], ["k"], left_output=["k", "p"],
                                                                   right_output=["x"]),
                             inputs=[gate.source(reader), acero.Declaration("table_source",
                                                                            acero.TableSourceNodeOptions(build))])
    out = join.to_reader(use_threads=False)
    rows = sum(next(out).num_rows for _ in range(10))
    time.sleep(0.3)                          # the producer runs on its own thread meanwhile
    probed = -(-rows // (probe.num_rows * 100))      # each slice makes 16,000 rows
    assert len(given) <= probed + 2 * PROBE_AHEAD + 8
    gate.halt()
    started = time.monotonic()
    out.close()
    assert time.monotonic() - started < 0.5


def test_progress_counts_rows_scanned_while_a_task_still_runs(tmp_path):
    """A worker reports each row group it scans through shared memory, so the progress bar moves
    during a long task, not only when it ends."""
    import pyarrow.parquet as pq
    import numpy as np
    rng = np.random.default_rng(3)
    words = pa.array(["".join(w) for w in rng.choice(list("abcdefgh"), size=(4000, 12))])
    table = pa.table({"s": pa.concat_arrays([words] * 100)})
    path = tmp_path / "words.parquet"
    pq.write_table(table, path, row_group_size=4000)             # 100 row groups, one task
    con = quarry.connect(workers=1)
    con.register("words", str(path))
    seen = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            p = con.progress()
            if p is not None:
                seen.append((p.tasks_done, p.rows_scanned, p.rows_to_scan))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        n = con.sql("SELECT count(*) AS n FROM words WHERE regexp_matches(s, '(a|b)+(c|d)+(e|f)+g')") \
            .to_pylist()[0]["n"]
    finally:
        done.set()
        watcher.join()
    assert n >= 0
    mid_task = [rows for tasks, rows, total in seen if tasks == 0 and 0 < rows < total]
    assert mid_task, f"no progress seen inside the task: {seen[:5]} ... {seen[-5:]}"


def test_a_join_over_single_partition_inputs_runs_on_a_worker_not_in_the_result_stage(spill_dir):
    # inputs of one partition need no exchange under the join; the result stage (this process, out
    # of reach of the memory cap and of killing a task) must still not run it
    import duckdb
    from quarry.physical.join import HashJoinExec, NestedLoopJoinExec
    a = pa.table({"k": [i % 7 for i in range(300)], "v": list(range(300))})
    b = pa.table({"k": list(range(7)), "w": [10 * i for i in range(7)]})
    con = quarry.connect(workers=2, spill_dir=str(spill_dir))
    con.register("a", a)
    con.register("b", b)
    queries = ["SELECT a.v, b.w FROM a JOIN b ON a.k = b.k ORDER BY a.v DESC LIMIT 20",
               "SELECT a.v, b.w FROM a JOIN b ON a.k < b.k ORDER BY 1, 2 LIMIT 50"]
    duck = duckdb.connect()
    duck.register("a", a)
    duck.register("b", b)
    for sql in queries:
        result = con.run(con.sql(sql).logical_plan)
        graph = result.physical.stage_graph
        (final,) = [s for s in graph.stages if s.mode == "result"]
        assert not [n for n in final.root.walk() if isinstance(n, (HashJoinExec, NestedLoopJoinExec))]
        assert any(isinstance(n, (HashJoinExec, NestedLoopJoinExec)) for s in graph.stages if s.mode != "result"
                   for n in s.root.walk())
        assert_tables_equal(result.table, duck.sql(sql).to_arrow_table(), ordered=True)


def _sleeps_in_its_batch(x):
    time.sleep(30)
    return x


def test_a_python_udf_over_single_partition_inputs_runs_on_a_worker_and_a_cancel_stops_it(spill_dir):
    # the result stage runs in this process, where a function busy with a batch could not be stopped:
    # the UDF runs on a worker, which the pool kills when the query is cancelled (and replaces)
    import quarry.functions as F
    from quarry.physical.udf import UDFProjectExec
    con = quarry.connect(workers=2, spill_dir=str(spill_dir))
    con.register("t", pa.table({"x": [1, 2, 3]}))
    sleepy = F.udf(_sleeps_in_its_batch, returns="bigint")
    df = con.table("t").select(sleepy("x").alias("y"))
    graph = con.run(con.table("t").select(F.udf(lambda x: x, returns="bigint", name="same")("x").alias("y"))
                    .logical_plan).physical.stage_graph
    (final,) = [s for s in graph.stages if s.mode == "result"]
    assert not [n for n in final.root.walk() if isinstance(n, UDFProjectExec)]
    outcome = {}

    def run():
        try:
            df.to_arrow()
        except QuarryError as err:
            outcome["error"] = err
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(1.5)                                   # the worker is inside the 30 s sleep
    started = time.monotonic()
    df.cancel()
    thread.join(20)
    assert not thread.is_alive() and "cancelled" in str(outcome.get("error"))
    assert time.monotonic() - started < 5
    assert con.sql("SELECT sum(x) AS s FROM t").to_pylist() == [{"s": 6}]
