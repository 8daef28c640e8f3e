"""The Ray executor on a local two-CPU Ray: the 22 TPC-H answers, task errors and dead workers,
cancel, EXPLAIN ANALYZE, and objects released after a query.

Each TPC-H query must give DuckDB's answer and the answer of quarry in one process
(``workers=0``). Ray starts once for the module (about ten seconds), with usage
statistics and the dashboard off.
"""

from __future__ import annotations

import time

import pytest
import sqlglot

pytest.importorskip("ray")

import quarry  # noqa: E402
from quarry.errors import ExecutionError  # noqa: E402
from quarry.testing import assert_tables_equal  # noqa: E402
from quarry.tpch import QUERY_NUMBERS, load_query, register_tables  # noqa: E402


@pytest.fixture(scope="module")
def ray_tpch(tpch_sf001):
    with pytest.MonkeyPatch.context() as env:
        # set before Ray starts: its processes read them at startup
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.setenv("RAY_AUTH_MODE", "disabled")
        con = quarry.connect(executor="ray", workers=2)
        register_tables(con, tpch_sf001)
        con.sql("SELECT 1 AS one").to_arrow()           # starts Ray inside the environment above
        yield con
        con.close()


@pytest.fixture(scope="module")
def inline_tpch(tpch_sf001):
    return register_tables(quarry.connect(workers=0), tpch_sf001)


def _ordered(sql: str) -> bool:
    return sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_on_ray_matches_duckdb_and_inline(n, ray_tpch, inline_tpch, duckdb_tpch):
    sql = load_query(n)
    actual = ray_tpch.sql(sql).to_arrow()
    assert_tables_equal(actual, duckdb_tpch.sql(sql).to_arrow_table(), ordered=_ordered(sql))
    assert_tables_equal(actual, inline_tpch.sql(sql).to_arrow(), ordered=_ordered(sql))


def test_task_error_is_a_quarry_error_and_the_next_query_runs(ray_tpch):
    sql = load_query(3)
    ray_tpch.inject_faults({("any", 0, 1): {"raise": "boom"}})
    with pytest.raises(ExecutionError, match="boom"):
        ray_tpch.sql(sql).to_arrow()
    assert ray_tpch.sql(sql).to_arrow().num_rows == 10


def test_worker_that_keeps_dying_fails_the_query_after_its_attempts(ray_tpch):
    # Ray reruns the task in a new worker (max_retries); every run gets the same fault
    ray_tpch.set_config(task_max_attempts=2)
    ray_tpch.inject_faults({("any", 0, 1): {"kill_after_rows": 0}})
    try:
        with pytest.raises(ExecutionError, match="Ray worker died .* 2 times"):
            ray_tpch.sql(load_query(6)).to_arrow()
    finally:
        ray_tpch.set_config(task_max_attempts=3)
    assert ray_tpch.sql(load_query(6)).to_arrow().num_rows == 1


def test_timed_out_query_stops_its_ray_tasks_and_the_next_query_runs(ray_tpch, inline_tpch):
    sql = load_query(9)
    ray_tpch.set_config(timeout=1e-6)
    start = time.perf_counter()
    try:
        with pytest.raises(ExecutionError, match="timed out"):
            ray_tpch.sql(sql).to_arrow()
    finally:
        ray_tpch.set_config(timeout=None)
    assert time.perf_counter() - start < 8          # the run did not wait out its tasks
    assert_tables_equal(ray_tpch.sql(sql).to_arrow(), inline_tpch.sql(sql).to_arrow(), ordered=True)


def test_explain_analyze_shows_stages_run_on_ray(ray_tpch):
    text = ray_tpch.sql(load_query(3)).explain_string("analyze")
    assert "Stage 1 (" in text
    assert "ShuffleRead: stage" in text
    assert "tasks=2" in text
    assert "shuffle_write=0B" in text.split("(result")[1].splitlines()[0]   # the result stage writes nothing


def test_finished_query_drops_its_objects_though_the_stage_graph_stays(ray_tpch):
    import gc
    result = ray_tpch.run(ray_tpch.sql(load_query(3)).logical_plan)
    gc.collect()
    stages = result.physical.stage_graph.stages[:-1]
    assert all(s.outputs for s in stages)                    # the tasks delivered output ...
    assert all(refs == [] for s in stages for refs in s.outputs.values())   # ... no longer held


def test_ray_workers_read_s3_with_no_shared_disk(ray_tpch, s3_server, tmp_path, duckdb_con):
    """Parquet with hive partitions and a Delta table in the local S3 endpoint (moto), read by tasks
    on the Ray workers: the local copy is deleted before the query, so the bytes can only come from
    the store, with the credentials that travel inside the plan."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq
    deltalake = pytest.importorskip("deltalake")
    from quarry.catalog.delta import storage_options
    from quarry.catalog.filesystems import make_storage

    s3_server.create_bucket("raylake")
    local = tmp_path / "events"
    frames = []
    for d in range(1, 5):
        folder = local / f"day={d}"
        folder.mkdir(parents=True)
        part = pa.table({"id": pa.array(range(d * 1000, d * 1000 + 1000), pa.int64()),
                         "v": pa.array([float(i % 13) for i in range(1000)])})
        pq.write_table(part, folder / "part-0.parquet", row_group_size=250)
        frames.append(part.append_column("day", pa.array([d] * 1000, pa.int64())))
    s3_server.upload_dir(str(local), "raylake/events")
    shutil.rmtree(local)                               # nothing on the local disk to fall back on
    expected_table = pa.concat_tables(frames)
    options = storage_options("s3://raylake/delta", make_storage(s3_server.config(), ()))
    deltalake.write_deltalake("s3://raylake/delta", expected_table, partition_by=["day"], storage_options=options)

    con = quarry.connect(executor="ray", workers=2, config=s3_server.config())
    try:
        con.register("events", "s3://raylake/events/")
        con.register("delta_events", "s3://raylake/delta")
        sql = "SELECT day, count(*) AS n, sum(v) AS s FROM {} WHERE day >= 3 AND id % 2 = 0 GROUP BY day"
        duckdb_con.register("expected_events", expected_table)
        expected = duckdb_con.sql(sql.format("expected_events")).to_arrow_table()
        for table in ("events", "delta_events"):
            assert_tables_equal(con.sql(sql.format(table)).to_arrow(), expected, ordered=False)
        text = con.sql(sql.format("events")).explain_string("analyze")
        assert "Stage 1 (" in text                        # stages ran as Ray tasks
        fetched = [int(x.split("=")[1].split()[0].rstrip(",")) for x in text.split() if x.startswith("bytes_fetched=")]
        assert fetched and sum(fetched) > 0               # ... which fetched the bytes from the store
    finally:
        con.close()
