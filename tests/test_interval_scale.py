"""INTERVAL * and / a DOUBLE against DuckDB over random intervals and factors: every field, to the
microsecond (the carrying of month and day fractions and the rounding are DuckDB's)."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

import quarry

duckdb = pytest.importorskip("duckdb")


def _table(rows: int = 20000) -> pa.Table:
    rng = random.Random(5)
    intervals, factors = [], []
    for _ in range(rows):
        intervals.append(pa.MonthDayNano([rng.randint(-400, 400), rng.randint(-900, 900),
                                          rng.randint(-10**12, 10**12) * 1000]))
        factors.append(rng.choice([rng.uniform(-20, 20), rng.randint(-99, 99) / rng.choice([2, 3, 7, 10, 1000]),
                                   1 / 3, 0.7, -1.5, 2.5, 1e-7, None]))
    intervals[::41] = [None] * len(intervals[::41])
    return pa.table({"id": list(range(rows)), "i": pa.array(intervals, pa.month_day_nano_interval()),
                     "f": pa.array(factors, pa.float64())})


@pytest.mark.parametrize("expr", ["i * f", "f * i", "i / f", "i * (f / 3)::DECIMAL(18, 6)", "i / 7", "i * 1.25"])
def test_like_duckdb(expr):
    table = _table()
    d = duckdb.connect()
    d.register("t", table)
    # a divisor near 0 takes the interval out of range (an error in both, tested in tests/sql)
    sql = f"SELECT {expr} AS v FROM t WHERE abs(f) > 0.05 OR f IS NULL ORDER BY id"
    want = d.sql(sql).arrow()
    want = want.read_all() if isinstance(want, pa.RecordBatchReader) else want
    con = quarry.connect()
    con.register("t", table)
    got = con.sql(sql).to_arrow()
    assert got.column("v").type == pa.month_day_nano_interval()
    assert got.column("v").to_pylist() == want.column("v").to_pylist()
