"""Grouping by runs of equal keys (`aggregate_runs`), for input that arrives clustered by key.

The unit tests compare with Arrow's hash grouping of the same rows: a partial's runs, merged
by key, must give Arrow's groups; a final's (``exact``) runs must be them. The end-to-end
tests query Parquet files stored in key order, with NULL keys and values and keys that come
back in later runs, and compare with DuckDB, inline and on the worker pool.
"""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

import quarry
from quarry.physical.aggregate import aggregate_runs, _options
from quarry.testing import assert_tables_equal
from quarry.tpch.engines import duckdb_to_arrow

SPECS = [("v", "sum", _options("sum")), ("v", "count", _options("count")), ("v", "min", _options("min")),
         ("v", "max", _options("max")), ("f", "sum", _options("sum")), ("d", "max", _options("max"))]


def _arrow_groups(table: pa.Table, keys: list[str], specs) -> pa.Table:
    out = table.group_by(keys, use_threads=False).aggregate([(c, fn, o) for c, fn, o in specs])
    return out.select(keys + [f"{c}_{fn}" for c, fn, _ in specs])


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending", "at_end") for k in keys])


@st.composite
def clustered(draw):
    """Rows whose keys come in runs (a key may come back in a later run), with NULLs."""
    runs = draw(st.lists(st.tuples(st.one_of(st.none(), st.integers(-5, 5)), st.integers(1, 6)),
                         min_size=1, max_size=30))
    keys = [k for k, length in runs for _ in range(length)]
    n = len(keys)
    values = draw(st.lists(st.one_of(st.none(), st.integers(-10**6, 10**6)), min_size=n, max_size=n))
    return pa.table({
        "k": pa.array(keys, pa.int64()),
        "s": pa.array([None if k is None else f"s{k % 3}" for k in keys]),
        "v": pa.array(values, pa.int64()),
        "f": pa.array([None if v is None else v / 8 for v in values], pa.float64()),
        "d": pa.array([None if v is None else datetime.date(2000, 1, 1) + datetime.timedelta(days=v % 900)
                       for v in values], pa.date32()),
    })


@settings(max_examples=150, deadline=None)
@given(clustered(), st.sampled_from([["k"], ["k", "s"]]))
def test_partial_runs_merged_by_key_equal_arrows_groups(table, keys):
    runs = aggregate_runs(table, keys, SPECS)
    expected = _arrow_groups(table, keys, SPECS)
    if runs is None:
        return            # not clustered enough: Arrow groups it
    assert runs.num_rows >= expected.num_rows
    merge = [("v_sum", "sum"), ("v_count", "sum"), ("v_min", "min"), ("v_max", "max"), ("f_sum", "sum"),
             ("d_max", "max")]
    merged = runs.group_by(keys, use_threads=False).aggregate([(c, fn, _options(fn)) for c, fn in merge])
    merged = pa.table({c: merged.column(f"{c}_{fn}") if c not in keys else merged.column(c)
                       for c, fn in [(k, None) for k in keys] + merge})
    assert_tables_equal(_sorted(merged, keys), _sorted(expected.cast(merged.schema), keys), ordered=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 8), min_size=2, max_size=40), st.integers(0, 3))
def test_exact_runs_of_ordered_keys_are_the_groups(lengths, nulls_every):
    keys = [i for i, length in enumerate(lengths) for _ in range(length)]
    values = [None if nulls_every and j % (nulls_every + 1) == 0 else j for j in range(len(keys))]
    table = pa.table({"k": pa.array(keys, pa.int64()), "v": pa.array(values, pa.int64()),
                      "f": pa.array([None if v is None else v * 0.5 for v in values]),
                      "d": pa.array([datetime.date(2001, 1, 1)] * len(keys))})
    runs = aggregate_runs(table, ["k"], SPECS, exact=True)
    assert runs is not None
    expected = _arrow_groups(table, ["k"], SPECS)
    assert_tables_equal(runs, _sorted(expected, ["k"]).cast(runs.schema), ordered=True)


def test_exact_sorts_a_key_a_little_out_of_order_and_refuses_nulls_many_keys_or_disorder():
    specs = SPECS[:2]
    few = aggregate_runs(pa.table({"k": [1, 1, 2, 1], "v": [1, 2, 3, 4]}), ["k"], specs, exact=True)
    assert few.to_pydict() == {"k": [1, 2], "v_sum": [7, 3], "v_count": [3, 1]}
    shuffled = np.random.default_rng(3).permutation(1000)
    assert aggregate_runs(pa.table({"k": shuffled, "v": shuffled}), ["k"], specs, exact=True) is None
    assert aggregate_runs(pa.table({"k": [1, 1, None, None], "v": [1, 2, 3, 4]}), ["k"], specs, exact=True) is None
    assert aggregate_runs(pa.table({"k": [1, 1, 2, 2], "j": [1, 2, 1, 2], "v": [1, 2, 3, 4]}), ["k", "j"],
                          specs, exact=True) is None


def test_keys_in_no_order_and_other_functions_go_to_arrow():
    rng = np.random.default_rng(1)
    table = pa.table({"k": rng.integers(0, 4, 1000), "v": rng.integers(0, 9, 1000),
                      "x": rng.random(1000)})
    assert aggregate_runs(table, ["k"], [("v", "sum", _options("sum"))]) is None       # 4 keys, shuffled
    ordered = table.sort_by("k")
    assert aggregate_runs(ordered, ["k"], [("x", "min", _options("min"))]) is None      # float min: NaN rules
    assert aggregate_runs(ordered, ["k"], [("v", "one", None)]) is None


@pytest.fixture(scope="module")
def ordered_files(tmp_path_factory):
    """A table stored in key order (as lineitem is by l_orderkey), and one whose keys come back."""
    base = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(7)
    n = 60_000
    k = np.sort(rng.integers(0, 15_000, n))
    v = rng.integers(-1000, 1000, n)
    vmask = rng.random(n) < 0.05
    price = pa.array([None if m else decimal.Decimal(int(x) * 37).scaleb(-2) for x, m in zip(v, vmask)],
                     pa.decimal128(12, 2))
    ordered = pa.table({"k": pa.array(k, mask=np.arange(n) >= n - 50),      # NULL keys at the end
                        "g": pa.array(k % 7), "v": pa.array(v, mask=vmask), "price": price,
                        "day": pa.array((k % 1000).astype(np.int32)).cast(pa.int32()).view(pa.date32()),
                        "s": pa.array([f"name{x % 11}" for x in k])})
    pq.write_table(ordered, base / "ordered.parquet", row_group_size=7_000)
    # runs of 4-8 rows whose keys recur: 0..99 over and over
    lengths = rng.integers(4, 9, 9000)
    keys = np.repeat(np.arange(len(lengths)) % 100, lengths)
    recurring = pa.table({"k": keys, "v": rng.integers(0, 50, len(keys))})
    pq.write_table(recurring, base / "recurring.parquet", row_group_size=10_000)
    return base


QUERIES = [
    "SELECT k, sum(v) AS s, count(v) AS c, count(*) AS n, min(v) AS lo, max(v) AS hi, avg(v) AS a FROM ordered GROUP BY k",
    "SELECT k, sum(price) AS p, avg(price) AS ap, max(day) AS last_day, min(day) AS first_day FROM ordered GROUP BY k",
    "SELECT k, g, sum(v) AS s, count(*) AS n FROM ordered GROUP BY k, g",
    "SELECT k, s, sum(v) AS total FROM ordered GROUP BY k, s HAVING sum(v) > 100",
    "SELECT k, sum(v) AS s, count(*) AS n, max(v) AS hi FROM recurring GROUP BY k",
    "SELECT count(*) AS groups, sum(s) AS total FROM (SELECT k, sum(v) AS s FROM recurring GROUP BY k)",
]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("sql", QUERIES)
def test_grouping_clustered_parquet_matches_duckdb(ordered_files, duckdb_con, sql, workers):
    con = quarry.connect(workers=workers)
    for name in ("ordered", "recurring"):
        path = str(ordered_files / f"{name}.parquet")
        con.register(name, path)
        duckdb_con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    expected = duckdb_to_arrow(duckdb_con.sql(sql))
    assert_tables_equal(con.sql(sql).to_arrow(), expected, ordered=False)


def test_the_ordered_scan_is_grouped_by_runs(ordered_files):
    con = quarry.connect(workers=0)
    con.register("ordered", str(ordered_files / "ordered.parquet"))
    text = con.sql("EXPLAIN ANALYZE SELECT k, sum(v) FROM ordered GROUP BY k").to_arrow().column(0).to_pylist()
    text = "\n".join(str(t) for t in text)
    assert "run_grouped_rows=" in text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=40), st.integers(1, 4), st.randoms(use_true_random=False))
def test_exact_runs_sort_a_key_in_a_few_sorted_pieces(lengths, pieces, rnd):
    """A final's states arrive as a few sorted pieces (tasks' outputs, merged states): it sorts them."""
    keys = [i for i, length in enumerate(lengths) for _ in range(length)]
    cuts = sorted(rnd.sample(range(1, len(keys)), min(pieces, len(keys) - 1)))
    parts = [keys[a:b] for a, b in zip([0] + cuts, cuts + [len(keys)])]
    rnd.shuffle(parts)
    keys = [k for p in parts for k in p]
    values = [decimal.Decimal(rnd.randint(-10**6, 10**6)).scaleb(-2) if rnd.random() > 0.1 else None
              for _ in keys]
    table = pa.table({"k": pa.array(keys, pa.int64()), "p": pa.array(values, pa.decimal128(38, 2))})
    specs = [("p", "sum", _options("sum")), ("p", "count", _options("count"))]
    runs = aggregate_runs(table, ["k"], specs, exact=True)
    assert runs is not None
    expected = _sorted(_arrow_groups(table, ["k"], specs), ["k"])
    assert_tables_equal(runs, expected.cast(runs.schema), ordered=True)
    assert runs.schema.field("p_sum").type == pa.decimal128(38, 2)


def test_decimal_sums_that_could_overflow_64_bits_go_to_arrow():
    big = decimal.Decimal(2**62).scaleb(-2)
    table = pa.table({"k": [1, 1, 1, 2], "p": pa.array([big, big, big, big], pa.decimal128(38, 2))})
    assert aggregate_runs(table, ["k"], [("p", "sum", _options("sum"))], exact=True) is None
