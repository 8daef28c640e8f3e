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


# -- short string keys grouped as integers ------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from quarry.compute.hashing import pack_short_strings, unpack_short_strings  # noqa: E402


@given(st.integers(0, 9), st.lists(st.text(min_size=0, max_size=4), min_size=1, max_size=40), st.booleans())
@settings(max_examples=200, deadline=None)
def test_packed_strings_unpack_to_the_same_strings(width, words, large):
    # strings of one byte length pack (up to 7 bytes); any other column is left alone
    values = [(w.encode()[:width].ljust(width, b"-")).decode("utf-8", "replace") for w in words]
    dtype = pa.large_string() if large else pa.string()
    arr = pa.array(values, dtype)
    packed = pack_short_strings(arr)
    same_length = len({len(v.encode()) for v in values}) == 1
    if not same_length or len(values[0].encode()) > 7:
        assert packed is None
    else:
        assert packed.type == pa.uint64()
        assert unpack_short_strings(packed, dtype).to_pylist() == values
        # equal strings pack equal, different ones differ
        assert len(set(packed.to_pylist())) == len(set(values))


def test_group_by_short_string_keys_matches_duckdb_across_batches_of_other_shapes():
    rng = np.random.default_rng(3)
    n = 30_000
    flags = np.array(["A", "N", "R"])[rng.integers(0, 3, n)].tolist()
    # later batches: NULLs, an empty string, longer strings (not packed): the groups still merge
    flags[20_000:] = [None if i % 5 == 0 else ("" if i % 7 == 0 else ("A" if i % 2 else "LONGER_FLAG"))
                      for i in range(n - 20_000)]
    t = pa.table({"f": pa.array(flags), "g": pa.array(np.array(["xy", "zw"])[rng.integers(0, 2, n)]),
                  "v": pa.array(rng.integers(0, 100, n))})
    con = quarry.connect(workers=0, batch_rows=4_096)
    con.register("t", t)
    oracle = duckdb.connect()
    oracle.register("t", t)
    sql = "SELECT f, g, count(*), sum(v) FROM t GROUP BY f, g ORDER BY f NULLS FIRST, g"
    ours = [tuple(r.values()) for r in con.sql(sql).to_arrow().to_pylist()]
    assert ours == oracle.execute(sql).fetchall()
    assert len(ours) >= 8
