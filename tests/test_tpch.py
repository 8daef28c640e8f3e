"""All 22 TPC-H queries return DuckDB's answers on the same SF 0.01 files.

Decimals compare exactly, floats to 1e-9 relative. Each query runs with every
executor setting: ``workers=0`` (one partition, in this process), 2 and 4 worker
processes (stages as tasks, shuffles through Arrow IPC files), and 4 partitions
on threads in this process (``executor="inline"``). The Ray executor has its own
test (tests/test_ray.py).
"""

from __future__ import annotations

import pytest
import sqlglot

import quarry
from quarry.testing import assert_tables_equal
from quarry.tpch import QUERY_NUMBERS, load_query, register_tables




SETTINGS = {
    "workers=0": dict(workers=0),
    "workers=2": dict(workers=2),
    "workers=4": dict(workers=4),
    "inline, 4 partitions": dict(executor="inline", workers=4),
}


@pytest.fixture(scope="module")
def quarry_tpch(tpch_sf001):
    return register_tables(quarry.connect(), tpch_sf001)


@pytest.fixture(scope="module", params=list(SETTINGS))
def quarry_tpch_setting(request, tpch_sf001):
    return register_tables(quarry.connect(**SETTINGS[request.param]), tpch_sf001)


@pytest.fixture(scope="module")
def quarry_tpch_inline(tpch_sf001):
    return register_tables(quarry.connect(workers=0), tpch_sf001)


def _ordered(sql: str) -> bool:
    return sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_query_matches_duckdb(n, quarry_tpch_setting, duckdb_tpch):
    sql = load_query(n)
    expected = duckdb_tpch.sql(sql).to_arrow_table()
    actual = quarry_tpch_setting.sql(sql).to_arrow()
    assert_tables_equal(actual, expected, ordered=_ordered(sql))


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_query_same_with_workers_as_inline(n, quarry_tpch, quarry_tpch_inline):
    """The default (a worker process per core) and workers=0 give the same answers."""
    sql = load_query(n)
    assert_tables_equal(quarry_tpch.sql(sql).to_arrow(), quarry_tpch_inline.sql(sql).to_arrow(),
                        ordered=_ordered(sql))


def test_decimal_sums_stay_decimal(quarry_tpch):
    result = quarry_tpch.sql(load_query(1)).to_arrow()
    assert str(result.schema.field("sum_qty").type).startswith("decimal128")
    assert str(result.schema.field("sum_charge").type).startswith("decimal128")
    assert result.schema.field("avg_qty").type == "double"


def test_large_build_sides_split_joins_into_more_partitions(tpch_sf001, duckdb_tpch, monkeypatch):
    """A join whose build side is estimated above ``JOIN_TASK_BUILD_ROWS`` a task gets more partitions
    than the stages around it (here: every join, with the limit set to 500 rows); answers stay DuckDB's."""
    from quarry.physical import planner
    from quarry.physical.join import HashJoinExec
    monkeypatch.setattr(planner, "JOIN_TASK_BUILD_ROWS", 500)
    con = register_tables(quarry.connect(workers=2, broadcast_rows=0), tpch_sf001)
    for n in (3, 5, 13, 18, 21):
        sql = load_query(n)
        result = con.run(con.sql(sql).logical_plan)
        assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=_ordered(sql))
        joins = [node for stage in result.physical.stage_graph.stages for node in stage.root.walk()
                 if isinstance(node, HashJoinExec) and node.mode == "partitioned"]
        assert joins and max(j.partitions for j in joins) > 2, n
