"""Statements other than plain queries, and the ways data gets in and out.

DDL and DML (CREATE TABLE [AS], INSERT, CREATE VIEW, DROP, SHOW TABLES, DESCRIBE),
COPY to Parquet and CSV, file-backed tables (Parquet files, directories, globs,
hive partitions, CSV), registering pandas and Arrow streams, scripts of several
statements, and EXPLAIN [ANALYZE]. Answers are checked against DuckDB where DuckDB
can read the same thing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal as D
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.errors import CatalogError, QuarryError
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")


@pytest.fixture
def con():
    return quarry.connect()


@pytest.fixture
def people() -> pa.Table:
    return pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int32()),
        "name": pa.array(["ann", None, "cy", ""]),
        "salary": pa.array([D("10.50"), D("20.25"), None, D("0.01")], pa.decimal128(15, 2)),
        "hired": pa.array([dt.date(2020, 1, 31), None, dt.date(2021, 2, 28), dt.date(2019, 12, 1)]),
        "score": pa.array([1.5, None, -2.0, 0.0]),
    })


def rows(con, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in con.sql(sql).to_arrow().to_pylist()]


# ---------------------------------------------------------------------------- tables

def test_create_table_as_select(con, people):
    con.register("people", people)
    status = con.sql("CREATE TABLE rich AS SELECT id, salary FROM people WHERE salary > 5").to_arrow()
    assert status.to_pylist() == [{"count": 2}]
    assert rows(con, "SELECT id, salary FROM rich ORDER BY id") == [(1, D("10.50")), (2, D("20.25"))]
    assert con.sql("SELECT * FROM rich").schema.field("salary").type == pa.decimal128(15, 2)


def test_create_table_as_is_a_snapshot(con, people):
    con.register("people", people)
    con.sql("CREATE TABLE snap AS SELECT * FROM people")
    con.register("people", people.slice(0, 1))
    assert rows(con, "SELECT count(*) FROM snap") == [(4,)]


def test_create_or_replace_and_if_not_exists(con):
    con.sql("CREATE TABLE t AS SELECT 1 AS x")
    with pytest.raises(CatalogError, match="already exists"):
        con.sql("CREATE TABLE t AS SELECT 2 AS x")
    con.sql("CREATE TABLE IF NOT EXISTS t AS SELECT 3 AS x")
    assert rows(con, "SELECT x FROM t") == [(1,)]
    con.sql("CREATE OR REPLACE TABLE t AS SELECT 4 AS x")
    assert rows(con, "SELECT x FROM t") == [(4,)]


def test_create_table_with_columns_then_insert(con, people):
    con.register("people", people)
    con.sql("CREATE TABLE t (k INTEGER NOT NULL, v VARCHAR, d DECIMAL(10,2), dt DATE, f DOUBLE)")
    assert con.sql("SELECT * FROM t").to_arrow().num_rows == 0
    assert con.sql("INSERT INTO t VALUES (1, 'a', 1.5, DATE '2020-01-01', 0.5), "
                   "(2, NULL, NULL, NULL, NULL)").to_pylist() == [{"count": 2}]
    # values are CAST to the column types: integers and long decimals into DECIMAL(10,2), strings to DATE
    con.sql("INSERT INTO t VALUES (3, 'c', 2, '2021-01-01', 1), (4, 'd', 2.555, NULL, NULL)")
    con.sql("INSERT INTO t SELECT id + 10, name, salary, hired, score FROM people WHERE id <= 2")
    assert rows(con, "SELECT * FROM t ORDER BY k") == [
        (1, "a", D("1.50"), dt.date(2020, 1, 1), 0.5),
        (2, None, None, None, None),
        (3, "c", D("2.00"), dt.date(2021, 1, 1), 1.0),
        (4, "d", D("2.56"), None, None),
        (11, "ann", D("10.50"), dt.date(2020, 1, 31), 1.5),
        (12, None, D("20.25"), None, None),
    ]
    schema = con.sql("SELECT * FROM t").schema
    assert [f.type for f in schema] == [pa.int32(), pa.string(), pa.decimal128(10, 2), pa.date32(), pa.float64()]


def test_insert_with_column_list(con):
    con.sql("CREATE TABLE t (a INTEGER, b VARCHAR, c DOUBLE)")
    con.sql("INSERT INTO t (c, A) VALUES (0.5, 1), (NULL, 2)")     # any order, names case-insensitive
    con.sql("INSERT INTO t (b) SELECT 'only b'")
    assert rows(con, "SELECT * FROM t") == [(1, None, 0.5), (2, None, None), (None, "only b", None)]


def test_insert_values_round_like_cast(con):
    con.sql("CREATE TABLE t (i INTEGER, d DECIMAL(4,1))")
    con.sql("INSERT INTO t VALUES (9.5, 1.25), (-2.5, -1.25), ('7', '3.14')")
    assert rows(con, "SELECT * FROM t") == [(10, D("1.3")), (-3, D("-1.3")), (7, D("3.1"))]


def test_insert_into_file_table_is_refused(con, tmp_path):
    pq.write_table(pa.table({"x": [1]}), tmp_path / "x.parquet")
    con.register("f", str(tmp_path / "x.parquet"))
    with pytest.raises(QuarryError, match="only in-memory tables"):
        con.sql("INSERT INTO f VALUES (2)")


def test_drop_table_and_view(con):
    con.sql("CREATE TABLE t AS SELECT 1 AS x")
    con.sql("CREATE VIEW v AS SELECT x + 1 AS y FROM t")
    assert rows(con, "SELECT y FROM v") == [(2,)]
    with pytest.raises(CatalogError, match="is a table, not a view"):
        con.sql("DROP VIEW t")
    con.sql("DROP VIEW v")
    con.sql("DROP VIEW IF EXISTS v")
    con.sql("DROP TABLE t")
    con.sql("DROP TABLE IF EXISTS t")
    assert con.tables() == []
    with pytest.raises(CatalogError):
        con.sql("SELECT * FROM t")


def test_view_sees_later_inserts_and_replacement(con):
    con.sql("CREATE TABLE t (x INTEGER)")
    con.sql("CREATE VIEW total AS SELECT count(*) AS n, sum(x) AS s FROM t")
    con.sql("INSERT INTO t VALUES (1), (2)")
    assert rows(con, "SELECT * FROM total") == [(2, 3)]
    con.sql("CREATE OR REPLACE VIEW total AS SELECT max(x) AS m FROM t")
    assert rows(con, "SELECT * FROM total") == [(2,)]


def test_show_tables(con, people):
    con.register("people", people)
    con.sql("CREATE TABLE b AS SELECT 1 AS x")
    con.sql("CREATE VIEW a AS SELECT * FROM b")
    shown = con.sql("SHOW TABLES").to_arrow().to_pylist()
    assert [(r["name"], r["kind"], r["columns"]) for r in shown] == [
        ("a", "view", 1), ("b", "memory", 1), ("people", "memory", 5)]


def test_describe_table_and_query(con, people):
    con.register("people", people)
    described = con.sql("DESCRIBE people").to_arrow().to_pylist()
    assert [(r["column_name"], r["column_type"]) for r in described] == [
        ("id", "INTEGER"), ("name", "VARCHAR"), ("salary", "DECIMAL(15,2)"), ("hired", "DATE"),
        ("score", "DOUBLE")]
    query = con.sql("DESCRIBE SELECT id * 2 AS twice, sum(salary) AS total, name || '!' AS loud "
                    "FROM people GROUP BY ALL").to_arrow().to_pylist()
    assert [(r["column_name"], r["column_type"]) for r in query] == [
        ("twice", "BIGINT"), ("total", "DECIMAL(38,2)"), ("loud", "VARCHAR")]


# ---------------------------------------------------------------------------- COPY and files

def test_copy_to_parquet_and_read_back(con, people, tmp_path):
    con.register("people", people)
    target = tmp_path / "out" / "people.parquet"
    assert con.sql(f"COPY (SELECT * FROM people WHERE id > 1) TO '{target}'").to_pylist() == [{"count": 3}]
    written = pq.read_table(target)
    assert written.schema.field("salary").type == pa.decimal128(15, 2)
    assert_tables_equal(written, people.slice(1), ordered=True)
    # and through quarry: a quoted path in FROM, and read_parquet()
    assert_tables_equal(con.sql(f"SELECT * FROM '{target}'").to_arrow(), people.slice(1), ordered=False)
    assert rows(con, f"SELECT sum(salary) FROM read_parquet('{target}')") == [(D("20.26"),)]


def test_copy_table_to_csv_and_read_back(con, people, tmp_path):
    con.register("people", people)
    target = tmp_path / "people.csv"
    con.sql(f"COPY people TO '{target}'")
    back = pcsv.read_csv(target)
    assert back.column_names == people.column_names
    assert back.num_rows == 4
    got = rows(con, f"SELECT id, name, hired FROM read_csv('{target}') ORDER BY id")
    # NULL is written as an empty field and '' as "", and both read back as they were
    assert got == [(1, "ann", dt.date(2020, 1, 31)), (2, None, None), (3, "cy", dt.date(2021, 2, 28)),
                   (4, "", dt.date(2019, 12, 1))]
    assert rows(con, f"SELECT count(*) FROM '{target}'") == [(4,)]


def test_copy_with_format_option(con, tmp_path):
    target = tmp_path / "data.out"
    con.sql(f"COPY (SELECT 1 AS a, 'x' AS b) TO '{target}' (FORMAT csv)")
    assert target.read_text().splitlines()[0].replace('"', "") == "a,b"


@pytest.fixture
def parquet_dir(tmp_path) -> Path:
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.table({"x": [1, 2], "s": ["a", "b"]}), folder / "a.parquet")
    pq.write_table(pa.table({"x": [3], "s": [None]}), folder / "b.parquet")
    (folder / "_SUCCESS").write_text("")            # marker files are skipped
    return folder


def test_create_table_using_parquet_location(con, parquet_dir):
    con.sql(f"CREATE TABLE p USING parquet LOCATION '{parquet_dir}'")
    assert rows(con, "SELECT sum(x), count(s) FROM p") == [(6, 2)]
    assert con.sql("SHOW TABLES").to_pylist()[0]["kind"] == "parquet"


def test_read_parquet_glob(con, parquet_dir):
    assert rows(con, f"SELECT sum(x) FROM read_parquet('{parquet_dir}/*.parquet')") == [(6,)]
    assert rows(con, f"SELECT count(*) FROM '{parquet_dir}/*.parquet'") == [(3,)]
    assert rows(con, f"SELECT x FROM read_parquet(['{parquet_dir}/b.parquet', '{parquet_dir}/a.parquet']) "
                     "ORDER BY x") == [(1,), (2,), (3,)]


def test_read_csv_options(con, tmp_path):
    (tmp_path / "semi.csv").write_text("a;b\n1;x\n2;\n")
    (tmp_path / "plain.tsv").write_text("a\tb\n3\ty\n")
    assert rows(con, f"SELECT a, b FROM read_csv('{tmp_path}/semi.csv', delim=';') ORDER BY a") == [
        (1, "x"), (2, None)]
    assert rows(con, f"SELECT * FROM read_csv('{tmp_path}/plain.tsv')") == [(3, "y")]
    (tmp_path / "nohead.csv").write_text("5,z\n")
    assert rows(con, f"SELECT * FROM read_csv('{tmp_path}/nohead.csv', header=false)") == [(5, "z")]


@pytest.fixture
def hive_dir(tmp_path) -> Path:
    """year=int / day=date / region=string folders, one small file each (plus a NULL year)."""
    root = tmp_path / "hive"
    for year in (2020, 2021, 2022):
        for day in ("2020-01-01", "2021-06-30"):
            folder = root / f"year={year}" / f"day={day}" / f"region=r{year % 2}"
            folder.mkdir(parents=True)
            pq.write_table(pa.table({"v": [year, year + 1], "s": ["a", None]}), folder / "part-0.parquet")
    folder = root / "year=__HIVE_DEFAULT_PARTITION__" / "day=2020-01-01" / "region=rx"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"v": [7], "s": ["n"]}), folder / "part-0.parquet")
    return root


def test_hive_partitions_are_typed_columns(con, hive_dir):
    con.sql(f"CREATE TABLE h USING parquet LOCATION '{hive_dir}'")
    types = {r["column_name"]: r["column_type"] for r in con.sql("DESCRIBE h").to_pylist()}
    assert types == {"v": "BIGINT", "s": "VARCHAR", "year": "BIGINT", "day": "DATE", "region": "VARCHAR"}
    oracle = duckdb.connect()
    glob = f"{hive_dir}/**/*.parquet"
    for sql in ("SELECT year, day, region, sum(v), count(s) FROM {t} GROUP BY year, day, region",
                "SELECT v, s, year, day, region FROM {t} WHERE year >= 2021 AND day < DATE '2021-01-01'",
                "SELECT count(*) FROM {t} WHERE year IS NULL"):
        expected = oracle.sql(sql.format(t=f"read_parquet('{glob}', hive_partitioning = true)")).to_arrow_table()
        assert_tables_equal(con.sql(sql.format(t="h")).to_arrow(), expected, ordered=False, check_names=False)


def _scan_metric(plan_text: str, name: str) -> int:
    return int(re.search(rf"\b{name}=(\d+)", plan_text).group(1))


def test_filter_on_partition_column_reads_fewer_files(con, hive_dir):
    con.register("h", str(hive_dir))
    full = con.sql("EXPLAIN ANALYZE SELECT sum(v) FROM h").to_pylist()[0]["plan"]
    assert _scan_metric(full, "row_groups_skipped") == 0
    filtered = con.sql("EXPLAIN ANALYZE SELECT sum(v) FROM h WHERE year = 2021").to_pylist()[0]["plan"]
    assert _scan_metric(filtered, "files") == 7
    assert _scan_metric(filtered, "row_groups_skipped") == 5          # only year=2021's two files are read
    assert _scan_metric(filtered, "rows_read") == 4
    both = con.sql("EXPLAIN ANALYZE SELECT sum(v) FROM h WHERE day = DATE '2020-01-01' "
                   "AND region = 'r0'").to_pylist()[0]["plan"]
    assert _scan_metric(both, "row_groups_skipped") == 5
    assert rows(con, "SELECT sum(v) FROM h WHERE year = 2021") == [(2021 * 4 + 2,)]


def test_read_parquet_without_hive_partitioning(con, hive_dir):
    columns = con.sql(f"SELECT * FROM read_parquet('{hive_dir}', hive_partitioning = false)").columns
    assert columns == ["v", "s"]


# ---------------------------------------------------------------------------- registering data

def test_register_pandas_dataframe(con):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1, 2, None], "s": ["x", None, "z"], "c": pd.Categorical(["p", "q", "p"])})
    con.register("frame", frame)
    assert rows(con, "SELECT sum(a), count(s), count(DISTINCT c) FROM frame") == [(3.0, 2, 2)]
    assert con.sql("SELECT c FROM frame").schema.field("c").type == pa.string()   # dictionaries are decoded


def test_register_record_batch_reader(con):
    schema = pa.schema([("z", pa.int64()), ("t", pa.string_view())])
    batches = [pa.record_batch([pa.array([1, 2]), pa.array(["a", "b"], pa.string_view())], schema=schema),
               pa.record_batch([pa.array([3]), pa.array([None], pa.string_view())], schema=schema)]
    con.register("stream", pa.RecordBatchReader.from_batches(schema, batches))
    assert rows(con, "SELECT sum(z), count(t), max(t) FROM stream") == [(6, 2, "b")]


def test_register_record_batch_and_dataframe(con, people):
    con.register("one", pa.record_batch([pa.array([5, 6])], names=["n"]))
    assert rows(con, "SELECT sum(n) FROM one") == [(11,)]
    con.register("people", people)
    con.register("adults", con.sql("SELECT * FROM people WHERE id > 2"))     # a quarry DataFrame is a view
    assert rows(con, "SELECT count(*) FROM adults") == [(2,)]


# ---------------------------------------------------------------------------- scripts and EXPLAIN

def test_several_statements_return_the_last(con):
    result = con.sql("CREATE TABLE t AS SELECT 1 AS a; INSERT INTO t VALUES (2);\n"
                     "-- a comment; with a semicolon\n"
                     "INSERT INTO t SELECT a + 10 FROM t; SELECT sum(a) AS s, ';' AS semi FROM t;")
    assert result.to_pylist() == [{"s": 26, "semi": ";"}]


def test_script_error_points_into_the_whole_script(con):
    with pytest.raises(QuarryError) as info:
        con.sql("SELECT 1;\nSELECT 2; SELECT nope FROM (SELECT 1 AS yes)")
    err = info.value
    assert (err.line, err.column) == (2, 18)
    assert "LINE 2: SELECT 2; SELECT nope FROM" in str(err)


def test_explain(con, people):
    con.register("people", people)
    plan = con.sql("EXPLAIN SELECT name, count(*) FROM people WHERE id > 1 GROUP BY name").to_pylist()[0]["plan"]
    assert "== Optimized Logical Plan ==" in plan and "== Physical Plan ==" in plan
    assert "Aggregate" in plan and "people" in plan
    assert "rows=" not in plan                               # nothing ran


def test_explain_analyze_runs_the_query(con, people):
    con.register("people", people)
    plan = con.sql("EXPLAIN ANALYZE SELECT count(*) FROM people WHERE id > 1").to_pylist()[0]["plan"]
    assert "analyzed: 1 rows" in plan
    assert re.search(r"MemoryScan.*rows=3", plan)


def test_explain_verbose_lists_rules(con, people):
    con.register("people", people)
    plan = con.sql("EXPLAIN VERBOSE SELECT id FROM people WHERE id > 1").to_pylist()[0]["plan"]
    assert "== Initial Logical Plan ==" in plan and "push_down_filter" in plan


def test_statements_from_a_file_path_in_from(con, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"k": [1, 2, 3]}), "local.parquet")
    assert rows(con, "SELECT sum(k) FROM 'local.parquet'") == [(6,)]
    assert rows(con, "SELECT l.k FROM 'local.parquet' l WHERE l.k > 2") == [(3,)]
    assert os.path.exists("local.parquet")


# ---------------------------------------------------------------------------- typed results

def test_statements_return_typed_results(con, people):
    from quarry.sql.commands import ExplainText, QueryPlan, RowCount, Status
    con.register("people", people)
    query = con.statement("SELECT id FROM people")
    assert isinstance(query, QueryPlan) and query.schema.names == ["id"] and query.rows_changed is None
    assert con.statement("CREATE TABLE t AS SELECT * FROM people WHERE id > 1") == RowCount("CREATE TABLE", 3)
    assert con.statement("INSERT INTO t SELECT * FROM people") == RowCount("INSERT", 4)
    assert con.statement("CREATE VIEW v AS SELECT 1 AS count") == Status("CREATE VIEW")
    assert con.statement("DROP VIEW v").rows_changed == 0
    explained = con.statement("EXPLAIN SELECT count(*) FROM t")
    assert isinstance(explained, ExplainText) and "== Physical Plan ==" in explained.text
    # a query whose columns look like a status is still a query
    assert isinstance(con.statement("SELECT 'CREATE VIEW' AS status"), QueryPlan)
    assert con.execute("SELECT 3 AS count").to_pylist() == [{"count": 3}]


def test_queries_run_lazily_and_ddl_at_once(con, people):
    con.register("people", people)
    con.sql("CREATE TABLE snap AS SELECT * FROM people")        # ran: the table exists
    pending = con.statement("SELECT * FROM snap")
    con.sql("INSERT INTO snap SELECT * FROM people")
    assert con.run(pending.plan).table.num_rows == 8            # the query sees rows inserted after it was bound


def test_the_sql_layer_does_not_import_the_dataframe_api():
    import ast
    import quarry.sql
    folder = Path(quarry.sql.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("quarry.api", "quarry.session")), f"{path.name}: {node.module}"


def test_describe_spells_types_as_sql(con, tmp_path):
    (tmp_path / "items.csv").write_text("id,unit price,note\n1,2.5,\n2,3.0,\n")
    con.register("items", str(tmp_path / "items.csv"))
    described = con.sql("DESCRIBE items").to_pylist()
    # an all-empty CSV column is VARCHAR, as DuckDB reads it (Arrow alone says `null`)
    expected = duckdb.sql(f"DESCRIBE SELECT * FROM read_csv('{tmp_path / 'items.csv'}')").fetchall()
    assert [(r["column_name"], r["column_type"]) for r in described] == [(r[0], r[1]) for r in expected]
    con.sql("INSERT INTO items VALUES (3, 1.0, 'now a note')")
    assert rows(con, "SELECT note FROM items WHERE id = 3") == [("now a note",)]
