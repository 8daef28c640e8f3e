"""Clauses quarry does not implement are refused, never ignored; and a few fixed edge cases.

Each refusal is a ``Not supported`` QuarryError that names the clause, so no query
silently runs as if a QUALIFY or TABLESAMPLE were not there.
"""

from __future__ import annotations

import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.errors import UnsupportedError
from quarry.testing import assert_tables_equal

T = pa.table({"x": [3, None, 1, 2], "g": [1, 1, 2, 2], "d": [datetime.date(2024, 1, 31)] * 4})


@pytest.fixture
def con():
    c = quarry.connect()
    c.register("t", T)
    return c


@pytest.mark.parametrize("sql, clause", [
    ("SELECT x FROM t TABLESAMPLE (10 PERCENT)", "TABLESAMPLE"),
    ("SELECT x FROM t USING SAMPLE 10%", "TABLESAMPLE"),
    ("SELECT * INTO u FROM t", "INTO"),
    ("SELECT x FROM t ORDER BY x FETCH FIRST 2 ROWS WITH TIES", "WITH TIES"),
    ("SELECT lag(x) IGNORE NULLS OVER (ORDER BY g) FROM t", "IGNORE NULLS"),
])
def test_unimplemented_clauses_are_refused(con, sql, clause):
    with pytest.raises(UnsupportedError) as err:
        con.sql(sql).to_arrow()
    assert clause in err.value.message
    assert err.value.line is not None


def test_fetch_first_is_a_limit(con, duckdb_con):
    sql = "SELECT x FROM t ORDER BY x NULLS LAST OFFSET 1 ROWS FETCH FIRST 2 ROWS ONLY"
    duckdb_con.register("t", T)
    assert_tables_equal(con.sql(sql).to_arrow(), duckdb_con.sql(sql).to_arrow_table(), ordered=True)


@pytest.mark.parametrize("func", ["sum(x)", "count(x)", "min(x)", "avg(x)"])
def test_ignore_nulls_on_an_aggregate_changes_nothing(con, duckdb_con, func):
    """Aggregates skip NULLs anyway, so IGNORE NULLS gives DuckDB's answer without it (DuckDB does
    not accept the clause on an aggregate)."""
    duckdb_con.register("t", T)
    window = "OVER (ORDER BY g, x NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    expected = duckdb_con.sql(f"SELECT g, x, {func} {window} AS s FROM t ORDER BY g, x NULLS FIRST").to_arrow_table()
    assert expected.column("s")[0].as_py() in (None, 0)      # the first row is the NULL x: ignored
    ignoring = con.sql(f"SELECT g, x, {func} IGNORE NULLS {window} AS s FROM t ORDER BY g, x NULLS FIRST")
    assert_tables_equal(ignoring.to_arrow(), expected, ordered=True)


def test_date_plus_hours_is_a_timestamp(con, duckdb_con):
    sql = "SELECT d + INTERVAL '36 hours' AS ts, d + INTERVAL '1 month' AS next_month FROM t LIMIT 1"
    row = con.sql(sql).to_pylist()[0]
    assert row == {"ts": datetime.datetime(2024, 2, 1, 12, 0), "next_month": datetime.date(2024, 2, 29)}
    duckdb_con.register("t", T)
    assert duckdb_con.sql(sql).fetchall()[0][0] == row["ts"]


def test_cube_root_of_a_negative_number(con):
    assert con.sql("SELECT cbrt(-8.0) AS a, cbrt(27.0) AS b").to_pylist() == [{"a": -2.0, "b": 3.0}]


def test_parquet_files_with_different_columns_read_as_one_table(tmp_path, duckdb_con):
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "old.parquet")
    pq.write_table(pa.table({"a": [3], "b": ["new"]}), tmp_path / "new.parquet")
    con = quarry.connect()
    con.register("events", str(tmp_path))
    actual = con.sql("SELECT a, b FROM events ORDER BY a").to_arrow()
    expected = duckdb_con.sql(f"SELECT a, b FROM read_parquet('{tmp_path}/*.parquet', union_by_name=true) "
                              "ORDER BY a").to_arrow_table()
    assert_tables_equal(actual, expected, ordered=True)
