"""One-task stages that only scan a small table run on a thread of the driver, not on a worker:
answers match DuckDB's, and Python functions, large scans and injected faults stay on workers."""

from __future__ import annotations

import pytest

import quarry
from quarry.execution import scheduler
from quarry.testing import assert_tables_equal
from quarry.tpch import load_query, register_tables

duckdb = pytest.importorskip("duckdb")


@pytest.fixture
def ran_on(monkeypatch):
    """Every task reply of the queries run in the test: (stage id, worker), worker 'driver' or a pid."""
    seen = []
    handle = scheduler.StageRun._handle

    def record(self, stage, task, reply):
        seen.append((stage.id, reply.get("worker")))
        return handle(self, stage, task, reply)

    monkeypatch.setattr(scheduler.StageRun, "_handle", record)
    return seen


def test_small_scans_run_in_the_driver_and_answers_hold(tpch_sf001, duckdb_tpch, ran_on):
    con = register_tables(quarry.connect(workers=2), tpch_sf001)
    for q in (5, 7, 9):          # region, nation and supplier (100 rows at SF 0.01) head their join filters
        sql = load_query(q)
        assert_tables_equal(con.sql(sql).to_arrow(), duckdb_tpch.sql(sql).to_arrow_table(), ordered=True,
                            check_names=False)
    workers = {w for _, w in ran_on}
    assert "driver" in workers and len(workers - {"driver"}) >= 1
    # lineitem (60k rows) is never scanned in the driver
    con.sql("SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1").to_arrow()
    ran_on.clear()
    con.sql("SELECT count(*) FROM lineitem WHERE l_quantity > 10").to_arrow()
    assert ran_on and all(w != "driver" for _, w in ran_on)


def test_python_functions_and_faults_stay_on_workers(tpch_sf001, duckdb_tpch, ran_on):
    import pyarrow.compute as pc
    con = register_tables(quarry.connect(workers=2), tpch_sf001)
    con.register_function("twice", lambda x: pc.multiply(x, 2), returns="bigint")
    # the nation stage evaluates a Python function: a worker runs it; region (no function) the driver
    sql = ("SELECT sum(twice(n_nationkey)) AS s FROM nation JOIN region ON n_regionkey = r_regionkey "
           "WHERE r_name = 'ASIA' AND twice(n_nationkey) >= 0")
    expected = duckdb_tpch.sql(sql.replace("twice(n_nationkey)", "(n_nationkey * 2)")).fetchall()[0][0]
    assert con.sql(sql).to_arrow().column(0).to_pylist() == [expected]
    assert any(w != "driver" for _, w in ran_on)
    ran_on.clear()
    # an injected fault (a test's way to crash a task) always reaches a worker process
    con.inject_faults({("any", 0, 1): {"raise": "injected"}})
    with pytest.raises(Exception, match="injected"):
        con.sql("SELECT n_name FROM nation JOIN region ON n_regionkey = r_regionkey").to_arrow()
    assert ran_on and all(w != "driver" for _, w in ran_on)
