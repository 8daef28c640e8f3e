"""All 22 TPC-H queries return DuckDB's answers on the same SF 0.01 files.

Decimals compare exactly, floats to 1e-9 relative. Each query also runs with
four partitions per stage, which sends every row through the hash exchanges.
"""

from __future__ import annotations

import pytest
import sqlglot

import quarry
from quarry.testing import assert_tables_equal
from tpch import QUERY_NUMBERS, load_query, register_tables




@pytest.fixture(scope="module")
def quarry_tpch(tpch_sf001):
    return register_tables(quarry.connect(), tpch_sf001)


@pytest.fixture(scope="module")
def quarry_tpch_partitioned(tpch_sf001):
    return register_tables(quarry.connect(target_partitions=4), tpch_sf001)


def _ordered(sql: str) -> bool:
    return sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_query_matches_duckdb(n, quarry_tpch, duckdb_tpch):
    sql = load_query(n)
    expected = duckdb_tpch.sql(sql).to_arrow_table()
    actual = quarry_tpch.sql(sql).to_arrow()
    assert_tables_equal(actual, expected, ordered=_ordered(sql))


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_query_partitioned_matches_duckdb(n, quarry_tpch_partitioned, duckdb_tpch):
    sql = load_query(n)
    expected = duckdb_tpch.sql(sql).to_arrow_table()
    actual = quarry_tpch_partitioned.sql(sql).to_arrow()
    assert_tables_equal(actual, expected, ordered=_ordered(sql))


def test_decimal_sums_stay_decimal(quarry_tpch):
    result = quarry_tpch.sql(load_query(1)).to_arrow()
    assert str(result.schema.field("sum_qty").type).startswith("decimal128")
    assert str(result.schema.field("sum_charge").type).startswith("decimal128")
    assert result.schema.field("avg_qty").type == "double"
