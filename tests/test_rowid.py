"""The ``rowid`` pseudo-column (quarry/sql/rowid.py), checked against DuckDB on the same data.

DuckDB numbers a table's rows from 0 as they are inserted; DELETE leaves gaps, INSERT continues
after the highest number given, UPDATE keeps the numbers unless it changes a LIST/MAP/ARRAY value
(the row is deleted and inserted again). DuckDB has no rowid for Parquet or CSV files, so those
are compared with a DuckDB table made from the same file.
"""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.errors import QuarryError

duckdb = pytest.importorskip("duckdb")


def both(statements, workers=0):
    q, d = quarry.connect(workers=workers), duckdb.connect()
    for s in statements:
        q.statement(s) if not s.lstrip().upper().startswith(("SELECT", "FROM")) else None
        d.execute(s)
    return q, d


def rows(table: pa.Table) -> list[tuple]:
    return list(zip(*[c.to_pylist() for c in table.columns])) if table.num_columns else []


def same(q, d, sql, sort=False):
    got = rows(q.sql(sql).to_arrow())
    want = d.sql(sql).fetchall()
    if sort:
        got, want = sorted(got, key=repr), sorted(want, key=repr)
    assert got == want, sql
    return got


SETUP = ["CREATE TABLE t AS SELECT * FROM (VALUES (10, 'a', [1]), (20, 'b', [2]), (30, NULL, []), "
         "(40, 'd', NULL), (NULL, 'e', [5, 5])) v(x, s, l)"]


def test_select_where_order_and_type():
    q, d = both(SETUP)
    same(q, d, "SELECT rowid, * FROM t")
    same(q, d, "SELECT * FROM t WHERE rowid = 2")
    same(q, d, "SELECT rowid FROM t WHERE rowid >= 3 OR x IS NULL ORDER BY rowid DESC")
    same(q, d, "SELECT typeof(max(rowid)), max(rowid), count(rowid) FROM t")
    same(q, d, "SELECT t.rowid AS r, x FROM t ORDER BY x NULLS FIRST")
    same(q, d, "SELECT a.rowid, b.rowid FROM t a JOIN t b ON a.rowid = b.rowid + 1 ORDER BY 1")
    same(q, d, "SELECT b.rowid FROM t a LEFT JOIN t b ON a.x = b.x + 10 ORDER BY a.rowid")
    same(q, d, "SELECT x FROM t t1 WHERE rowid = (SELECT max(rowid) FROM t t2 WHERE t2.x < t1.x) ORDER BY x")
    same(q, d, "SELECT rowid + 1, count(*) FROM t GROUP BY rowid", sort=True)
    same(q, d, "SELECT * EXCLUDE (l), rowid FROM t ORDER BY rowid")
    same(q, d, "SELECT rowid FROM t UNION ALL SELECT 100 ORDER BY 1")
    # `*` leaves rowid out, and so does every name DuckDB gives the columns
    assert q.sql("SELECT * FROM t").columns == ["x", "s", "l"]
    assert q.sql("SELECT rowid, * FROM t").columns == d.sql("SELECT rowid, * FROM t").columns


def test_where_the_rowid_is_not():
    q, d = both(SETUP + ["CREATE VIEW v AS SELECT * FROM t"])
    for sql in ["SELECT rowid FROM t a, t b", "SELECT rowid FROM (SELECT * FROM t)", "SELECT rowid FROM v",
                "WITH c AS (SELECT * FROM t) SELECT rowid FROM c", "SELECT rowid FROM t JOIN t u USING (x)"]:
        with pytest.raises(duckdb.Error):
            d.sql(sql).fetchall()
        with pytest.raises(QuarryError):
            q.sql(sql).to_arrow()


def test_a_real_column_named_rowid_hides_it():
    q, d = both(["CREATE TABLE r AS SELECT * FROM (VALUES (7, 1), (5, 2)) v(rowid, y)",
                 "CREATE TABLE w(RowId VARCHAR, a INT)", "INSERT INTO w VALUES ('x', 1)"])
    same(q, d, "SELECT rowid, * FROM r")
    same(q, d, "SELECT rowid FROM w")
    same(q, d, "SELECT r.rowid, w.rowid FROM r, w ORDER BY 1")
    q.statement("DELETE FROM r WHERE rowid = 5")
    d.execute("DELETE FROM r WHERE rowid = 5")
    same(q, d, "SELECT * FROM r")


def test_delete_insert_update_keep_duckdbs_numbers():
    q, d = both(SETUP + [
        "DELETE FROM t WHERE rowid = 1",
        "INSERT INTO t VALUES (50, 'f', [6])",
        "UPDATE t SET x = x + 1 WHERE rowid = 3",
        "UPDATE t SET s = s || '!' WHERE rowid = 0",
        "UPDATE t SET l = [9, 9] WHERE x = 50",        # a LIST value: the row is inserted again
        "DELETE FROM t WHERE rowid IN (SELECT max(rowid) FROM t WHERE x IS NOT NULL)",
        "INSERT INTO t SELECT x * 2, s, l FROM t WHERE rowid < 3",
    ])
    same(q, d, "SELECT rowid, * FROM t ORDER BY rowid")
    same(q, d, "SELECT rowid, * FROM t")            # the storage order too
    q.statement("DELETE FROM t")
    d.execute("DELETE FROM t")
    for con in (q.statement, d.execute):
        con("INSERT INTO t VALUES (1, 'q', [])")
    same(q, d, "SELECT rowid, * FROM t")
    # a new table made from it numbers its rows afresh
    for con in (q.statement, d.execute):
        con("CREATE TABLE u AS SELECT * FROM t")
    same(q, d, "SELECT rowid, * FROM u")


def test_update_of_struct_list_and_map_values():
    q, d = both(["CREATE TABLE t AS SELECT * FROM (VALUES (1, {'a': 1}, {'b': [1]}, MAP {1: 2}), "
                 "(2, {'a': 2}, {'b': [2]}, MAP {3: 4}), (3, {'a': 3}, {'b': [3]}, MAP {5: 6})) v(x, st, sl, m)"])
    for sql in ["UPDATE t SET st = {'a': 9} WHERE x = 1",          # a STRUCT: in place
                "UPDATE t SET sl = {'b': [9]} WHERE x = 2",        # a STRUCT holding a LIST: moved
                "UPDATE t SET m = MAP {7: 8} WHERE x = 1",
                "UPDATE t SET x = x * 10 WHERE rowid = 4"]:
        q.statement(sql)
        d.execute(sql)
        same(q, d, "SELECT rowid, x FROM t")


def test_random_dml_sequences_against_duckdb():
    rng = random.Random(12)
    for _ in range(8):
        statements = ["CREATE TABLE t (a INT, b VARCHAR)",
                      "INSERT INTO t SELECT i, 'v' || (i % 3) FROM range(20) r(i)"]
        for _ in range(12):
            kind = rng.choice(["delete", "insert", "update", "delete_rowid"])
            k = rng.randrange(0, 25)
            if kind == "delete":
                statements.append(f"DELETE FROM t WHERE a % 5 = {k % 5}")
            elif kind == "delete_rowid":
                statements.append(f"DELETE FROM t WHERE rowid = {k} OR rowid > {k + 30}")
            elif kind == "insert":
                statements.append(f"INSERT INTO t SELECT i + {k}, 'n' FROM range({k % 4}) r(i)")
            else:
                statements.append(f"UPDATE t SET a = a + 1, b = 'u' WHERE rowid % 3 = {k % 3}")
        q, d = both(statements)
        same(q, d, "SELECT rowid, a, b FROM t ORDER BY rowid")


def test_parallel_scans_number_rows_as_stored():
    table = pa.table({"i": pa.array(range(25_000), pa.int64())})
    q, d = quarry.connect(workers=2, target_partitions=3), duckdb.connect()
    q.register("big", table)
    d.register("big_src", table)
    d.execute("CREATE TABLE big AS SELECT * FROM big_src")
    same(q, d, "SELECT count(*), sum(rowid), min(rowid), max(rowid) FROM big WHERE rowid <> i")
    same(q, d, "SELECT rowid, i FROM big WHERE rowid % 5000 = 7 ORDER BY rowid")


def test_parquet_and_csv_files(tmp_path):
    table = pa.table({"i": pa.array([5, None, 3, 9, 1, 1, 8], pa.int32()), "s": list("abcdefg")})
    for n, path in enumerate([tmp_path / "one.parquet", tmp_path / "two.parquet"]):
        pq.write_table(table.slice(4 * n, 4), path, row_group_size=2)
    csv_path = tmp_path / "t.csv"
    pcsv.write_csv(table, csv_path)
    q, d = quarry.connect(workers=0), duckdb.connect()
    q.register("p", str(tmp_path / "*.parquet"))
    d.execute(f"CREATE TABLE p AS SELECT * FROM read_parquet('{tmp_path}/*.parquet')")
    d.execute(f"CREATE TABLE c AS SELECT * FROM '{csv_path}'")
    q.statement(f"CREATE VIEW unused AS SELECT 1")       # the catalog holds other things too
    for sql in ["SELECT rowid, * FROM p", "SELECT rowid, s FROM p WHERE rowid BETWEEN 2 AND 5",
                "SELECT count(*), sum(rowid) FROM p WHERE i > 2", "SELECT rowid FROM p WHERE rowid = 6",
                "SELECT max(rowid) FROM p"]:
        same(q, d, sql)
    # the row groups a rowid condition rules out are not read
    plan = q.sql("EXPLAIN ANALYZE SELECT s FROM p WHERE rowid = 6").to_arrow().column(0)[0].as_py()
    assert "row_groups_skipped=3" in plan
    for sql in ["SELECT rowid, * FROM c", "SELECT rowid FROM c WHERE i IS NULL"]:
        assert rows(q.sql(sql.replace("FROM c", f"FROM '{csv_path}'")).to_arrow()) == d.sql(sql).fetchall()
    # Parquet files cannot be changed, rowid or not
    with pytest.raises(QuarryError, match="Not supported"):
        q.statement("DELETE FROM p WHERE rowid = 1")
