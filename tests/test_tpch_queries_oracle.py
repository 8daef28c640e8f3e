"""Validate the TPC-H query texts: each parses with sqlglot and runs in DuckDB on SF 0.01."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from quarry.tpch import QUERY_NUMBERS, load_query
from quarry.tpch.benchmark import has_top_level_order_by

# Answer sizes at SF 0.01 (tpchgen-cli output is identical to dbgen's). At this scale
# Q17 returns its single row with a NULL avg_yearly: no lineitem qualifies.
SF001_ROW_COUNTS = {
    1: 4, 2: 4, 3: 10, 4: 5, 5: 5, 6: 1, 7: 4, 8: 2, 9: 173, 10: 20, 11: 359,
    12: 2, 13: 33, 14: 1, 15: 1, 16: 296, 17: 1, 18: 2, 19: 1, 20: 1, 21: 1, 22: 7,
}  # fmt: skip

UNORDERED_QUERIES = {6, 14, 17, 19}  # single-row aggregates without ORDER BY


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_query_parses_as_one_statement(n: int) -> None:
    sql = load_query(n)
    assert not sql.endswith(";")
    statements = sqlglot.parse(sql)
    assert len(statements) == 1
    assert isinstance(statements[0], exp.Query)


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_query_runs_in_duckdb(n: int, duckdb_tpch) -> None:
    sql = load_query(n)
    table = duckdb_tpch.sql(sql).to_arrow_table()
    assert table.num_rows == SF001_ROW_COUNTS[n]
    assert table.num_columns == len(sqlglot.parse_one(sql).selects)


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_top_level_order_by_detected(n: int) -> None:
    assert has_top_level_order_by(load_query(n)) == (n not in UNORDERED_QUERIES)


def test_load_query_rejects_unknown_numbers() -> None:
    with pytest.raises(ValueError, match="1 to 22"):
        load_query(23)
