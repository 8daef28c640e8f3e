"""A partial aggregation computes each distinct (argument, function) pair once: ``sum(x)`` and
``avg(x)`` share the sum of ``x``, every ``count(*)`` is one count. The answers must not change:
checked against DuckDB over NULLs, FILTER clauses, floats, integers and decimals."""

import decimal

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import quarry
from quarry.physical.aggregate import HashAggregateExec


def _partials(plan):
    found = [plan] if isinstance(plan, HashAggregateExec) and plan.mode == "partial" else []
    for child in plan.children:
        found += _partials(child)
    return found


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(5)
    n = 20_000
    t = pa.table({
        "k": pa.array(rng.integers(0, 7, n)),
        "i": pa.array([None if j % 11 == 0 else int(v) for j, v in enumerate(rng.integers(-50, 50, n))], pa.int64()),
        "f": pa.array(rng.random(n).astype(np.float32)),
        "d": pa.array([None if j % 13 == 0 else decimal.Decimal(int(v)).scaleb(-2)
                       for j, v in enumerate(rng.integers(0, 100_000, n))], pa.decimal128(15, 2)),
    })
    con = quarry.connect(workers=0)
    con.register("t", t)
    oracle = duckdb.connect()
    oracle.register("t", t)
    return con, oracle


def test_shared_arguments_are_aggregated_once(tables):
    con, _ = tables
    sql = ("SELECT k, sum(d), avg(d), sum(d * 2), avg(d * 2), count(*), count(*) + 1, count(d), "
           "min(i), max(i), count(i) FROM t GROUP BY k")
    (partial,) = _partials(con.physical_plan(con.optimize(con.sql(sql).logical_plan)))
    pairs = {(col, fn) for col, fn, _ in partial._partial_specs()}
    # sum(d) [shared with avg(d)], count(d) [avg's and count(d)], sum(d*2), count(d*2), count(*),
    # min(i), max(i), count(i)
    assert len(partial._partial_specs()) == len(pairs) == 8


@pytest.mark.parametrize("select", [
    "sum(d), avg(d), count(d), count(*), sum(d * 2), avg(d * 2)",
    "sum(f), avg(f), min(f), max(f), count(f)",
    "sum(i), avg(i), count(i), min(i), max(i), count(*)",
    "sum(d) FILTER (WHERE i > 0), avg(d) FILTER (WHERE i > 0), avg(d), sum(d), count(*) FILTER (WHERE i > 0), count(*)",
    "avg(i) FILTER (WHERE f > 0.5), sum(i) FILTER (WHERE f > 0.5), sum(i), avg(f) FILTER (WHERE i IS NULL)",
])
def test_answers_with_shared_states_match_duckdb(tables, select):
    con, oracle = tables
    sql = f"SELECT k, {select} FROM t GROUP BY k ORDER BY k"
    ours = [tuple(r.values()) for r in con.sql(sql).to_arrow().to_pylist()]
    theirs = oracle.execute(sql).fetchall()
    assert len(ours) == len(theirs) == 7
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            if isinstance(x, float) or isinstance(y, float):
                assert x == pytest.approx(float(y), rel=1e-5)
            else:
                assert x == y
