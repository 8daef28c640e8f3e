"""LIST, STRUCT and MAP columns end to end: Parquet files written by pyarrow, read by quarry and by
DuckDB (the oracle), through scans, pruning, joins, aggregates, sorts and worker-process shuffles."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqllogic import python_value  # noqa: E402

duckdb = pytest.importorskip("duckdb")

N = 3000


@pytest.fixture(scope="module")
def nested_file(tmp_path_factory) -> str:
    """A Parquet file with NULL lists, NULL elements, empty lists, NULL structs and maps, in row groups."""
    k = list(range(N))
    lists = [None if i % 7 == 0 else [] if i % 5 == 0 else [i, None, i * 2][: i % 3 + 1] for i in k]
    structs = [None if i % 11 == 0 else {"a": i % 4 if i % 3 else None, "b": f"s{i % 13}"} for i in k]
    maps = [None if i % 9 == 0 else [("x", i), ("y", None)][: i % 2 + 1] for i in k]
    table = pa.table({"k": pa.array(k, pa.int64()), "g": pa.array([i % 10 for i in k], pa.int32()),
                      "l": pa.array(lists, pa.list_(pa.int64())),
                      "s": pa.array(structs, pa.struct([("a", pa.int64()), ("b", pa.string())])),
                      "m": pa.array(maps, pa.map_(pa.string(), pa.int64()))})
    path = tmp_path_factory.mktemp("nested") / "n.parquet"
    pq.write_table(table, path, row_group_size=500)
    return str(path)


QUERIES = [
    "SELECT * FROM '{f}' ORDER BY k",
    "SELECT k, l FROM '{f}' WHERE g = 3 ORDER BY k DESC",
    "SELECT k, s.a, s.b, l[1], l[-1], m['x'], len(l) FROM '{f}' ORDER BY k",
    "SELECT a.k, b.l, b.s, b.m FROM '{f}' a JOIN '{f}' b ON a.k = b.k + 1 WHERE a.g < 3 ORDER BY a.k",
    "SELECT a.k, b.l FROM '{f}' a LEFT JOIN (SELECT * FROM '{f}' WHERE g = 1) b ON a.k = b.k ORDER BY a.k",
    "SELECT g, count(*), sum(len(l)), array_agg(k ORDER BY k)[1:3] FROM '{f}' GROUP BY g ORDER BY g",
    "SELECT g, list_sort(array_agg(s.b ORDER BY k DESC))[1:2] FROM '{f}' WHERE s IS NOT NULL GROUP BY g ORDER BY g",
    "SELECT k, unnest(l) FROM '{f}' WHERE k < 50 ORDER BY k, 2",
    "SELECT count(*), sum(x) FROM (SELECT unnest(l) AS x FROM '{f}')",
    "SELECT k, list_transform(l, x -> x + k), list_filter(l, x -> x % 2 = 0) FROM '{f}' WHERE k < 40 ORDER BY k",
    "SELECT k, l FROM (SELECT k, l, row_number() OVER (PARTITION BY g ORDER BY k) AS r FROM '{f}') WHERE r = 1 ORDER BY k",
    # nested values as GROUP BY, DISTINCT, ORDER BY and join keys (compared by value, NULL elements equal)
    "SELECT l, count(*), min(k) FROM '{f}' GROUP BY l ORDER BY min(k)",
    "SELECT s, m, count(*) FROM '{f}' GROUP BY s, m ORDER BY min(k)",
    "SELECT g, s, count(*) FROM '{f}' GROUP BY ROLLUP (g, s) "
    "ORDER BY g NULLS FIRST, s NULLS FIRST, grouping(s), 3",
    "SELECT count(*) FROM (SELECT DISTINCT l, s FROM '{f}')",
    "SELECT count(DISTINCT l), count(DISTINCT s), count(DISTINCT m) FROM '{f}'",
    "SELECT k, l FROM '{f}' ORDER BY l, k",
    "SELECT k, l FROM '{f}' ORDER BY l DESC, k LIMIT 40",
    "SELECT k, s FROM '{f}' ORDER BY s NULLS FIRST, k",
    "SELECT k, m FROM '{f}' ORDER BY m DESC NULLS LAST, k",
    "SELECT a.k, count(*) FROM '{f}' a JOIN '{f}' b ON a.l = b.l WHERE a.k < 200 GROUP BY a.k ORDER BY a.k",
    "SELECT a.k AS ak, b.k AS bk FROM '{f}' a JOIN '{f}' b ON a.s = b.s AND a.m = b.m WHERE a.k < 60 AND b.k < 300 ORDER BY 1, 2",
    "SELECT a.k AS ak, b.k AS bk FROM (SELECT * FROM '{f}' WHERE k < 30) a LEFT JOIN (SELECT * FROM '{f}' WHERE k > 2900) b "
    "ON a.l = b.l ORDER BY 1, 2",
    "SELECT l FROM '{f}' WHERE k < 100 INTERSECT SELECT l FROM '{f}' WHERE k > 2900 ORDER BY 1",
    "SELECT k, l < [5], l >= [5, NULL], s > {{'a': 1, 'b': 's5'}}, l = [k] FROM '{f}' WHERE k < 100 ORDER BY k",
]


def _duckdb_rows(sql: str):
    con = duckdb.connect()
    con.execute("SET lambda_syntax='ENABLE_SINGLE_ARROW'")
    return con.execute(sql).fetchall()


def _quarry_rows(con, sql: str):
    result = con.execute(sql)
    types = [f.type for f in result.schema]
    return [tuple(python_value(v, t) for v, t in zip(r.values(), types)) for r in result.to_pylist()]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("sql", QUERIES)
def test_nested_parquet_answers_match_duckdb(nested_file, workers, sql):
    con = quarry.connect(workers=workers)
    try:
        text = sql.format(f=nested_file)
        got = _quarry_rows(con, text)
    finally:
        con.close()
    expected = _duckdb_rows(text)
    assert len(got) == len(expected)
    assert [tuple(_norm(v) for v in r) for r in got] == [tuple(_norm(v) for v in r) for r in expected]


def _norm(v):
    """Numbers compared by value (DuckDB's HUGEINT sums are ints, quarry's DECIMAL(38,0) Decimals)."""
    import decimal
    if isinstance(v, decimal.Decimal) and v == v.to_integral_value():
        return int(v)
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return v


def test_describe_names_nested_types_as_duckdb(nested_file):
    con = quarry.connect(workers=0)
    try:
        ours = {r["column_name"]: r["column_type"] for r in con.execute(f"DESCRIBE SELECT * FROM '{nested_file}'").to_pylist()}
    finally:
        con.close()
    theirs = dict(duckdb.connect().execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{nested_file}')").fetchall())
    assert ours == theirs


def test_nested_columns_round_trip_through_copy(nested_file, tmp_path):
    """quarry writes nested columns to Parquet and JSON; DuckDB reads back what pyarrow wrote."""
    con = quarry.connect(workers=0)
    try:
        # JSON has no MAP: a map comes back as a struct, so the JSON file leaves it out
        for name, cols in (("out.parquet", "k, l, s, m"), ("out.json", "k, l, s")):
            target = tmp_path / name
            con.execute(f"COPY (SELECT {cols} FROM '{nested_file}' WHERE k < 200) TO '{target}'")
            expected = _duckdb_rows(f"SELECT {cols} FROM '{nested_file}' WHERE k < 200 ORDER BY k")
            assert _duckdb_rows(f"SELECT {cols} FROM '{target}' ORDER BY k") == expected
            assert _quarry_rows(con, f"SELECT {cols} FROM '{target}' ORDER BY k") == expected
    finally:
        con.close()


def test_projection_prunes_whole_nested_columns(nested_file):
    con = quarry.connect(workers=0)
    try:
        plan = con.execute(f"EXPLAIN SELECT k, s.b FROM '{nested_file}'").to_pylist()
    finally:
        con.close()
    text = "\n".join(str(v) for r in plan for v in r.values())
    assert "Scan: n.parquet AS n columns=[k, s]" in text, text
