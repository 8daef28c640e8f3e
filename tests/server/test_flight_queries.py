"""Queries, statements, prepared statements and ingest through the real ADBC Flight SQL driver."""

from __future__ import annotations

import datetime
import decimal

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from quarry.server.flight_sql.protocol import MESSAGES, pack
from quarry.testing import assert_tables_equal
from quarry.tpch import QUERY_NUMBERS, load_query

from flight_harness import adbc, call_options, connect, flight_client, query


# -- queries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_query_matches_in_process_quarry(n, server, tpch_session):
    sql = load_query(n)
    remote = query(server, sql)
    local = tpch_session.sql(sql).to_arrow()
    assert remote.schema.names == local.schema.names
    assert [f.type for f in remote.schema] == [f.type for f in local.schema]
    assert_tables_equal(remote, local, ordered=False)


def test_flight_info_schema_equals_stream_schema(server):
    client = flight_client(server)
    try:
        for sql in ("SELECT l_returnflag, sum(l_quantity) AS q, avg(l_discount) AS d FROM lineitem GROUP BY 1",
                    "SELECT n_name, r_name FROM nation JOIN region ON n_regionkey = r_regionkey WHERE false",
                    "SELECT 1 AS one, NULL AS nothing, DATE '1994-01-01' AS d"):
            descriptor = flight.FlightDescriptor.for_command(pack(MESSAGES["CommandStatementQuery"](query=sql)))
            info = client.get_flight_info(descriptor, call_options())
            table = client.do_get(info.endpoints[0].ticket, call_options()).read_all()
            assert info.schema == table.schema
            assert client.get_schema(descriptor, call_options()).schema == table.schema
    finally:
        client.close()


def test_results_stream_in_several_batches(server):
    with connect(server) as con, con.cursor() as cur:
        cur.execute("SELECT l_orderkey, l_comment FROM lineitem, region")
        reader = cur.fetch_record_batch()
        batches = list(reader)
    assert sum(b.num_rows for b in batches) == 60175 * 5
    assert len(batches) > 1


def test_ddl_insert_view_and_drop(server):
    with connect(server) as con, con.cursor() as cur:
        cur.execute("CREATE TABLE q_people (id INTEGER NOT NULL, name VARCHAR)")
        cur.fetchall()
        cur.execute("INSERT INTO q_people VALUES (1, 'ann'), (2, 'bob')")
        assert cur.fetchall() == [(2,)]
        cur.execute("CREATE VIEW q_people_b AS SELECT name FROM q_people WHERE name LIKE 'b%'")
        cur.fetchall()
        cur.execute("SELECT * FROM q_people_b")
        assert cur.fetchall() == [("bob",)]
        cur.execute("DROP VIEW q_people_b")
        cur.fetchall()
        cur.execute("DROP TABLE q_people")
        cur.fetchall()
    with pytest.raises(adbc.ProgrammingError, match="NOT_FOUND"):
        query(server, "SELECT * FROM q_people")


def test_statement_update_returns_the_row_count(server):
    client = flight_client(server)
    try:
        for sql, expected in (("CREATE TABLE q_upd AS SELECT * FROM nation", 25),
                              ("INSERT INTO q_upd SELECT * FROM nation WHERE n_regionkey = 1", 5),
                              ("DROP TABLE q_upd", 0),
                              # a query sent as an update changes nothing and has no count, whatever its
                              # columns are called (the count comes from the statement's type, not a name)
                              ("SELECT 7 AS count", -1),
                              ("SELECT 'DROP TABLE' AS status", -1)):
            descriptor = flight.FlightDescriptor.for_command(pack(MESSAGES["CommandStatementUpdate"](query=sql)))
            writer, reader = client.do_put(descriptor, pa.schema([]), call_options())
            writer.done_writing()
            result = MESSAGES["DoPutUpdateResult"]()
            result.ParseFromString(reader.read().to_pybytes())
            writer.close()
            assert result.record_count == expected
    finally:
        client.close()


def test_csv_and_hive_partitioned_folder_are_tables(server):
    assert query(server, "SELECT count(*) AS n FROM small").to_pylist() == [{"n": 3}]
    rows = query(server, "SELECT year, sum(v) AS s FROM events GROUP BY year ORDER BY year").to_pylist()
    assert rows == [{"year": 2020, "s": 3}, {"year": 2021, "s": 3}]


# -- prepared statements --------------------------------------------------------------------------


def test_prepared_statement_with_parameters(server, tpch_session):
    sql = ("SELECT o_orderkey, o_totalprice FROM orders WHERE o_custkey = ? AND o_orderdate >= ? "
           "AND o_orderstatus = ? ORDER BY o_orderkey")
    with connect(server) as con, con.cursor() as cur:
        for custkey in (1, 2, 4):
            cur.execute(sql, (custkey, datetime.date(1995, 1, 1), "O"))
            remote = cur.fetch_arrow_table()
            local = tpch_session.sql(sql.replace("?", "{}").format(
                custkey, "DATE '1995-01-01'", "'O'")).to_arrow()
            assert_tables_equal(remote, local, ordered=True)


@pytest.mark.parametrize("value, arrow_type", [
    (42, pa.int64()),
    (-7, pa.int64()),
    (2.5, pa.float64()),
    ("O'Brien; DROP TABLE nation; --", pa.string()),
    ("ünïcödé ? 'quoted' \\ --", pa.string()),
    (True, pa.bool_()),
    (datetime.date(1994, 1, 1), pa.date32()),
    (datetime.datetime(1994, 1, 1, 12, 30, 5), None),
    (decimal.Decimal("1234.56"), None),
])
def test_parameters_keep_their_value_and_type(server, value, arrow_type):
    table = query(server, "SELECT ? AS v", (value,))
    assert table.column("v").to_pylist() == [value]
    if arrow_type is not None:
        assert table.schema.field("v").type == arrow_type


def test_null_parameter(server):
    assert query(server, "SELECT ? IS NULL AS n", (None,)).to_pylist() == [{"n": True}]


def test_parameters_are_values_never_sql(server):
    # a string parameter that looks like SQL stays a string; nation is untouched
    table = query(server, "SELECT count(*) AS n FROM nation WHERE n_name = ?", ("x' OR '1'='1",))
    assert table.to_pylist() == [{"n": 0}]
    assert query(server, "SELECT count(*) AS n FROM nation").to_pylist() == [{"n": 25}]


def test_question_marks_in_strings_are_not_parameters(server):
    table = query(server, "SELECT '?' AS q, ? AS p", ("x",))
    assert table.to_pylist() == [{"q": "?", "p": "x"}]


def test_prepared_statement_reports_schemas(server):
    with connect(server) as con, con.cursor() as cur:
        parameter_schema = cur.adbc_prepare("SELECT n_name FROM nation WHERE n_nationkey = ? AND n_regionkey = ?")
        assert len(parameter_schema) == 2
        assert cur.adbc_execute_schema("SELECT n_name, n_nationkey FROM nation").names == ["n_name", "n_nationkey"]


def test_executemany_inserts_every_row(server):
    with connect(server) as con, con.cursor() as cur:
        cur.execute("CREATE TABLE q_many (id BIGINT, label VARCHAR, score DOUBLE)")
        cur.fetchall()
        rows = [(i, f"row {i}'s", i / 4) for i in range(500)]
        cur.executemany("INSERT INTO q_many VALUES (?, ?, ?)", rows)
        assert cur.rowcount == 500
        cur.executemany("INSERT INTO q_many (id, label) VALUES (?, ?)", [(1000, "a"), (1001, None)])
        cur.execute("INSERT INTO q_many VALUES (?, ?, ?)", (2000, "one more", 0.5))
        assert cur.fetchall() == [(1,)]
        cur.execute("SELECT count(*), sum(id), count(score), max(label) FROM q_many")
        assert cur.fetchall() == [(503, sum(range(500)) + 4001, 501, "row 99's")]
        cur.execute("DROP TABLE q_many")
        cur.fetchall()


def test_executemany_with_a_non_insert_statement(server):
    with connect(server) as con, con.cursor() as cur:
        cur.execute("CREATE TABLE q_many2 (id BIGINT)")
        cur.fetchall()
        cur.executemany("INSERT INTO q_many2 SELECT ? + 100", [(1,), (2,), (3,)])
        cur.execute("SELECT id FROM q_many2 ORDER BY id")
        assert cur.fetchall() == [(101,), (102,), (103,)]


# -- bulk ingest ----------------------------------------------------------------------------------


def test_adbc_ingest_create_append_replace(server):
    data = pa.table({"k": pa.array([1, 2, 3], pa.int64()), "s": ["a", None, "c"],
                     "d": pa.array([datetime.date(2024, 1, d) for d in (1, 2, 3)], pa.date32())})
    with connect(server) as con, con.cursor() as cur:
        assert cur.adbc_ingest("q_ingest", data, mode="create") == 3
        assert cur.adbc_ingest("q_ingest", data.slice(0, 2), mode="append") == 2
        cur.execute("SELECT count(*), count(s), max(d) FROM q_ingest")
        assert cur.fetchall() == [(5, 3, datetime.date(2024, 1, 3))]
        with pytest.raises(adbc.Error, match="already exists"):
            cur.adbc_ingest("q_ingest", data, mode="create")
        assert cur.adbc_ingest("q_ingest", data.slice(0, 1), mode="replace") == 1
        cur.execute("SELECT k, s FROM q_ingest")
        assert cur.fetchall() == [(1, "a")]
        with pytest.raises(adbc.Error, match="NOT_FOUND|does not exist"):
            cur.adbc_ingest("q_ingest_missing", data, mode="append")
        assert cur.adbc_ingest("q_ingest_batches", data.to_reader(max_chunksize=1), mode="create_append") == 3


def test_ingested_table_is_listed_with_its_schema(server):
    data = pa.table({"x": pa.array([1.5], pa.float64()), "y": ["z"]})
    with connect(server) as con, con.cursor() as cur:
        cur.adbc_ingest("q_listed", data, mode="create")
        schema = con.adbc_get_table_schema("q_listed")
    assert [(f.name, f.type) for f in schema] == [("x", pa.float64()), ("y", pa.string())]

