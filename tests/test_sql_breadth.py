"""Issue #12's functions on many generated values, each answer compared with DuckDB's.

tests/sql/sql_breadth.test pins the edge cases one by one; these tests feed the same functions a few
thousand seeded random values (month ends, negative differences, ties in rounding, NULLs) and compare
whole columns with DuckDB, so a rule that holds for the handpicked cases but not in general shows up.
Values are compared as text (``CAST(... AS VARCHAR)``) where DuckDB's Python types differ from Arrow's.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import quarry
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")

ROWS = 3000


def _both(table: pa.Table, sql: str, ordered: bool = True) -> None:
    con = quarry.connect(workers=0)
    try:
        con.register("t", table)
        ours = con.sql(sql).to_arrow()
    finally:
        con.close()
    duck = duckdb.connect()
    try:
        duck.register("t", table)
        theirs = duck.sql(sql).to_arrow_table()
    finally:
        duck.close()
    assert_tables_equal(ours, theirs, ordered=ordered)


def _timestamps(rng: np.random.Generator, n: int) -> pa.Array:
    start = np.datetime64("2018-12-25T00:00:00", "us").astype(np.int64)
    # a fifth of the values fall on midnight of a month's last or first day, where borrowing is subtle
    micros = start + rng.integers(0, 4 * 365 * 86_400 * 10**6, n)
    month_edges = (np.datetime64("2019-01", "M") + rng.integers(0, 48, n)).astype("datetime64[D]")
    edge = (month_edges - rng.integers(0, 2, n)).astype("datetime64[us]").astype(np.int64)
    values = np.where(rng.random(n) < 0.2, edge, micros)
    return pa.array(values, pa.timestamp("us"), mask=rng.random(n) < 0.05)


def test_timestamp_subtraction_and_age_agree_with_duckdb():
    rng = np.random.default_rng(12)
    table = pa.table({"i": np.arange(ROWS), "a": _timestamps(rng, ROWS), "b": _timestamps(rng, ROWS)})
    _both(table, "SELECT i, CAST(a - b AS VARCHAR) AS diff, CAST(age(a, b) AS VARCHAR) AS age, "
                 "CAST(age(CAST(a AS DATE), CAST(b AS DATE)) AS VARCHAR) AS age_days FROM t ORDER BY i")


def test_printf_fixed_point_rounding_agrees_with_duckdb():
    rng = np.random.default_rng(5)
    # halves and near-halves at several scales, where rounding the double's exact value matters
    base = rng.integers(-10**6, 10**6, ROWS) / 1000 + rng.choice([0, 0.0005, 0.005, 0.05, 0.5], ROWS)
    values = np.where(rng.random(ROWS) < 0.1, rng.standard_normal(ROWS) * 1e12, base)
    table = pa.table({"i": np.arange(ROWS), "x": pa.array(values, mask=rng.random(ROWS) < 0.05),
                      "n": rng.integers(-99999, 99999, ROWS)})
    _both(table, "SELECT i, printf('%.2f|%.0f|%08.3f|%+.1f|%-12.4f|%f', x, x, x, x, x, x) AS p, "
                 "printf('%d|%6d|%-6d|%06d|%+d|%x|%#o|%08X', n, n, n, n, n, n, n, n) AS q, "
                 "format('{:x}|{:#b}|{:>8o}', n, n, n) AS r, "
                 "format('{:.3f}|{:>9d}|{}', x, n, n) AS f FROM t ORDER BY i")


def test_regexp_extract_all_agrees_with_duckdb():
    rng = np.random.default_rng(7)
    alphabet = np.array(list("ab1 2-xyé"))
    lengths = rng.integers(0, 12, ROWS)
    chars = alphabet[rng.integers(0, len(alphabet), lengths.sum())]
    cuts = np.concatenate([[0], np.cumsum(lengths)])
    strings = ["".join(chars[cuts[k]:cuts[k + 1]]) for k in range(ROWS)]      # building the input only
    table = pa.table({"i": np.arange(ROWS), "s": pa.array(strings, mask=rng.random(ROWS) < 0.05)})
    _both(table, r"SELECT i, regexp_extract_all(s, '\d+') AS d, regexp_extract_all(s, '([a-z])(\d*)', 1) AS g1, "
                 r"regexp_extract_all(s, '([a-z])(\d*)', 2) AS g2, regexp_extract_all(s, 'A', 0, 'i') AS ci, "
                 r"regexp_extract_all(s, '[^ -]+') AS words FROM t ORDER BY i")


def test_histogram_and_count_if_agree_with_duckdb():
    rng = np.random.default_rng(3)
    table = pa.table({"g": rng.integers(0, 40, ROWS),
                      "x": pa.array(rng.integers(-5, 6, ROWS), mask=rng.random(ROWS) < 0.1),
                      "s": pa.array(rng.choice(["a", "B", "b", "ab"], ROWS), mask=rng.random(ROWS) < 0.1)})
    _both(table, "SELECT g, CAST(histogram(x) AS VARCHAR) AS hx, CAST(histogram(s) AS VARCHAR) AS hs, "
                 "count_if(x > 0) AS pos, count_if(s = 'b') FILTER (WHERE x IS NOT NULL) AS b "
                 "FROM t GROUP BY g ORDER BY g")


def test_binned_histograms_agree_with_duckdb():
    rng = np.random.default_rng(4)
    doubles = rng.normal(0, 10, ROWS)
    doubles[rng.random(ROWS) < 0.02] = np.nan
    table = pa.table({"g": rng.integers(0, 40, ROWS),
                      "x": pa.array(rng.integers(-50, 60, ROWS), mask=rng.random(ROWS) < 0.1),
                      "d": pa.array(doubles, mask=rng.random(ROWS) < 0.1),
                      "s": pa.array(rng.choice(["a", "B", "b", "ab", "c"], ROWS), mask=rng.random(ROWS) < 0.1)})
    _both(table, "SELECT g, CAST(histogram(x, [-10, 0, 10, 50]) AS VARCHAR) AS hx, "
                 "CAST(histogram(d, [-5.5, 0, 7.25]) AS VARCHAR) AS hd, "
                 "CAST(histogram(s, ['a', 'b']) AS VARCHAR) AS hs, "
                 "CAST(histogram_exact(x, [0, 1, 2]) AS VARCHAR) AS he, "
                 "CAST(histogram(DISTINCT x, [0]) FILTER (WHERE x > -20) AS VARCHAR) AS hf "
                 "FROM t GROUP BY g ORDER BY g")


def test_unsigned_casts_agree_with_duckdb():
    rng = np.random.default_rng(9)
    values = rng.integers(-2**33, 2**33, ROWS) >> rng.integers(0, 34, ROWS)
    table = pa.table({"i": np.arange(ROWS), "x": pa.array(values, mask=rng.random(ROWS) < 0.05)})
    _both(table, "SELECT i, TRY_CAST(x AS UTINYINT) AS a, TRY_CAST(x AS USMALLINT) AS b, "
                 "TRY_CAST(x AS UINTEGER) AS c, TRY_CAST(x AS UBIGINT) AS d, "
                 "TRY_CAST(CAST(x AS VARCHAR) AS UTINYINT) AS e FROM t ORDER BY i")


def test_time_columns_of_every_unit_read_as_duckdb_reads_them(tmp_path):
    import datetime
    import pyarrow.parquet as pq
    table = pa.table({"i": [1, 2, 3],
                      "s": pa.array([datetime.time(1, 2, 3), None, datetime.time(23, 59, 59)], pa.time32("s")),
                      "ms": pa.array([3_723_250, 0, None], pa.time32("ms")),
                      "ns": pa.array([3_723_000_001_000, 60_000_000_000, None], pa.time64("ns"))})
    pq.write_table(table, tmp_path / "times.parquet")
    path = str(tmp_path / "times.parquet")
    sql = (f"SELECT i, s, ms, ns, CAST(ms AS VARCHAR) AS text, s > TIME '02:00' AS late, hour(ns) AS h "
           f"FROM read_parquet('{path}') ORDER BY i")
    _both(pa.table({"x": [1]}), sql)
