"""All 22 TPC-H queries through ``spark.sql`` (parsed with sqlglot's Spark dialect) match DuckDB."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlglot

from quarry.testing import assert_tables_equal
from quarry.tpch import QUERY_NUMBERS, load_query


def _ordered(sql: str) -> bool:
    return sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None


def _as_spark_decimals(actual: pa.Table, expected: pa.Table) -> pa.Table:
    """Spark's ``/`` of decimals is a decimal (``DecimalPrecision``: the DECIMAL(38,6) of Q8, Q14 and Q17)
    where DuckDB's is a DOUBLE: Spark answers the exact quotient rounded HALF_UP to that scale, so DuckDB's
    double is rounded so (half away from zero) to compare."""
    columns = []
    for a_type, column in zip(actual.schema.types, expected.columns):
        if pa.types.is_decimal(a_type) and pa.types.is_floating(column.type):
            column = pc.round(column, a_type.scale, round_mode="half_towards_infinity").cast(a_type)
        columns.append(column)
    return pa.table(columns, names=expected.column_names)


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_query_through_spark_sql_matches_duckdb(n, spark, duckdb_tpch):
    sql = load_query(n)
    expected = duckdb_tpch.sql(sql).to_arrow_table()
    actual = spark.sql(sql).toArrow()
    assert_tables_equal(actual, _as_spark_decimals(actual, expected), ordered=_ordered(sql))
