"""NaN as DuckDB has it, where Parquet statistics and join filters could hide it (see tests/sql/nan.test
for the SQL-level cases): float statistics leave NaN out, so a row group whose max is 1.0 may still
hold a NaN, which is above every number. The reference is DuckDB over the same rows in a table (DuckDB
reading this Parquet file prunes the row group of [1.0, NaN] for ``x > 5``, against its own rule)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry

duckdb = pytest.importorskip("duckdb")

NAN = float("nan")


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    p = tmp_path_factory.mktemp("nan") / "f.parquet"
    t = pa.table({"x": [1.0, NAN, 2.0, 3.0, 7.0, 8.0, None, -NAN], "k": list(range(1, 9))})
    pq.write_table(t, p, row_group_size=2)
    return str(p)


QUERIES = [
    "SELECT k FROM '{p}' WHERE x > 5 ORDER BY k",
    "SELECT k FROM '{p}' WHERE x >= 8.5 ORDER BY k",
    "SELECT k FROM '{p}' WHERE x <> 1 AND k < 3 ORDER BY k",
    "SELECT k FROM '{p}' WHERE x = 'nan'::DOUBLE ORDER BY k",
    "SELECT max(x), min(x), count(DISTINCT x) FROM '{p}'",
    "SELECT k % 2 AS m, max(x) FROM '{p}' GROUP BY m ORDER BY m",
    "SELECT a.k, b.k FROM '{p}' a JOIN '{p}' b ON a.x = b.x ORDER BY a.k, b.k",
    "SELECT a.k FROM '{p}' a JOIN (SELECT 'nan'::DOUBLE AS y UNION ALL SELECT 7.0) b ON a.x = b.y ORDER BY a.k",
    "SELECT a.k FROM '{p}' a JOIN (SELECT 'nan'::DOUBLE AS y, 3 AS z) b ON a.x = b.y AND a.x > b.z ORDER BY a.k",
]


@pytest.mark.parametrize("workers", [0, 2])
def test_nan_through_parquet_statistics_and_joins(path, workers):
    con = quarry.connect(workers=workers)
    ref = duckdb.connect()
    ref.execute(f"CREATE TABLE f AS SELECT * FROM read_parquet('{path}')")
    try:
        for sql in QUERIES:
            result = con.execute(sql.format(p=path))
            got = list(zip(*(c.to_pylist() for c in result.columns)))
            want = ref.execute(sql.replace("'{p}'", "f")).fetchall()
            assert repr(got) == repr(want), sql
    finally:
        con.close()
        ref.close()


def test_a_null_compared_with_nan_is_null_as_in_duckdb():
    # found by the Parquet fuzzer: NULL = NaN was false, so NOT (d = f) kept the row
    import math
    t = pa.table({"id": pa.array([0, 1, 2, 3, 4], pa.int32()),
                  "d": pa.array([None, None, None, 1, 2], pa.decimal128(9, 2)),
                  "f": pa.array([None, 1.0, math.nan, math.nan, 2.0]),
                  "g": pa.array([math.nan, None, math.nan, None, math.nan])})
    con = quarry.connect(workers=0)
    con.register("a", t)
    oracle = duckdb.connect()
    oracle.register("a", t)
    oracle.execute("SET ieee_floating_point_ops = false")
    for op in ("=", "<>", "<", "<=", ">", ">="):
        for left, right in (("d", "f"), ("f", "g"), ("f", "'nan'::DOUBLE"), ("NULL::DOUBLE", "g")):
            sql = f"SELECT id, {left} {op} {right} AS x, NOT ({left} {op} {right}) AS y FROM a ORDER BY id"
            ours = [tuple(r.values()) for r in con.sql(sql).to_arrow().to_pylist()]
            assert ours == oracle.execute(sql).fetchall(), sql
