"""All 22 TPC-H queries through ``spark.sql`` (parsed with sqlglot's Spark dialect) match DuckDB."""

from __future__ import annotations

import pytest
import sqlglot

from quarry.testing import assert_tables_equal
from quarry.tpch import QUERY_NUMBERS, load_query


def _ordered(sql: str) -> bool:
    return sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_query_through_spark_sql_matches_duckdb(n, spark, duckdb_tpch):
    sql = load_query(n)
    expected = duckdb_tpch.sql(sql).to_arrow_table()
    actual = spark.sql(sql).toArrow()
    assert_tables_equal(actual, expected, ordered=_ordered(sql))
