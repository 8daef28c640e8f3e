"""information_schema.tables / columns / schemata, checked against DuckDB's for the same tables."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

import quarry
from quarry.errors import UnknownTableError

DDL = [
    "CREATE TABLE people (id INTEGER NOT NULL, name VARCHAR, born DATE, salary DECIMAL(10,2))",
    "CREATE TABLE events (happened TIMESTAMP, kind VARCHAR NOT NULL, weight DOUBLE, ok BOOLEAN, n BIGINT)",
    "CREATE VIEW adults AS SELECT id, name FROM people WHERE born < DATE '2000-01-01'",
]


@pytest.fixture()
def both():
    con = quarry.connect(workers=0)
    duck = duckdb.connect()
    for sql in DDL:
        con.sql(sql)
        duck.execute(sql)
    yield con, duck
    duck.close()


def _duck(duck, sql: str) -> list[dict]:
    cursor = duck.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _rows(result, columns):
    return sorted(tuple(r[c] for c in columns) for r in result)


def test_tables_agree_with_duckdb(both):
    con, duck = both
    ours = con.sql("SELECT * FROM information_schema.tables").to_arrow()
    assert ours.schema.names == ["table_catalog", "table_schema", "table_name", "table_type"]
    theirs = _duck(duck, "SELECT table_schema, table_name, table_type FROM information_schema.tables")
    columns = ["table_schema", "table_name", "table_type"]
    assert _rows(ours.to_pylist(), columns) == _rows(theirs, columns)
    assert set(ours.column("table_catalog").to_pylist()) == {"quarry"}


def test_columns_agree_with_duckdb(both):
    con, duck = both
    sql = ("SELECT table_name, column_name, ordinal_position, is_nullable, data_type FROM information_schema.columns "
           "WHERE table_schema = 'main'")
    ours = con.sql(sql).to_arrow().to_pylist()
    theirs = _duck(duck, sql)
    # names and positions agree everywhere; nullability for tables (DuckDB calls every view column nullable)
    assert _rows(ours, ["table_name", "column_name", "ordinal_position"]) == \
        _rows(theirs, ["table_name", "column_name", "ordinal_position"])
    tables = [r for r in ours if r["table_name"] != "adults"]
    assert _rows(tables, ["table_name", "column_name", "is_nullable"]) == \
        _rows([r for r in theirs if r["table_name"] != "adults"], ["table_name", "column_name", "is_nullable"])
    # the types are spelled in SQL; where both engines use the same spelling they agree
    same = {(r["table_name"], r["column_name"]): r["data_type"] for r in theirs}
    for r in ours:
        if r["data_type"] in ("INTEGER", "VARCHAR", "DATE", "DECIMAL(10,2)", "TIMESTAMP", "DOUBLE", "BOOLEAN",
                              "BIGINT"):
            assert same[(r["table_name"], r["column_name"])] == r["data_type"]
    assert {r["data_type"] for r in ours} >= {"INTEGER", "DECIMAL(10,2)", "TIMESTAMP"}


def test_schemata_and_qualified_names(both):
    con, _ = both
    schemata = con.sql("SELECT catalog_name, schema_name FROM quarry.information_schema.schemata").to_arrow()
    assert schemata.to_pylist() == [{"catalog_name": "quarry", "schema_name": "main"},
                                    {"catalog_name": "quarry", "schema_name": "information_schema"}]
    joined = con.sql("SELECT t.table_name, count(*) AS n FROM information_schema.tables t "
                     "JOIN information_schema.columns c ON c.table_name = t.table_name "
                     "WHERE t.table_type = 'BASE TABLE' GROUP BY 1 ORDER BY 1").to_arrow()
    assert joined.to_pylist() == [{"table_name": "events", "n": 5}, {"table_name": "people", "n": 4}]


def test_views_follow_the_catalog(both):
    con, _ = both
    con.register("later", pa.table({"x": [1]}))
    con.sql("DROP VIEW adults")
    names = con.sql("SELECT table_name FROM information_schema.tables ORDER BY 1").to_arrow()
    assert names.column("table_name").to_pylist() == ["events", "later", "people"]


def test_unknown_information_schema_view(both):
    con, _ = both
    with pytest.raises(UnknownTableError, match="did you mean `columns`"):
        con.sql("SELECT * FROM information_schema.colums")
