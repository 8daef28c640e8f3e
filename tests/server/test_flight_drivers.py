"""What real drivers send: parameters of every type, LIMIT ?, bound batches, session options, tokens.

Every client here is a real driver, the ADBC Flight SQL driver (its DB-API), or, where
noted, raw ``pyarrow.flight`` calls that send each parameter as a dense union, as the
``flightsql-dbapi`` driver does.
"""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pyarrow as pa
import pytest

from flight_harness import adbc, call_options, connect, flight, flight_client, query


# -- parameters -----------------------------------------------------------------------------------


def test_limit_and_offset_parameters(server):
    sql = "SELECT n_nationkey FROM nation ORDER BY n_nationkey LIMIT ? OFFSET ?"
    with connect(server) as con, con.cursor() as cur:
        for limit, offset in ((3, 0), (2, 5), (10, 20), (0, 0)):
            cur.execute(sql, (limit, offset))
            assert [r[0] for r in cur.fetchall()] == list(range(25))[offset:offset + limit]
        with pytest.raises(adbc.Error, match="LIMIT must be a non-negative integer"):
            cur.execute(sql, (-1, 0))


@pytest.mark.parametrize("value, arrow_type", [
    (b"\x00\xffbytes'", pa.binary()),
    (datetime.time(13, 45, 30, 250), pa.time64("us")),
    (datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc), pa.timestamp("us", tz="UTC")),
    (datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=2))), None),
])
def test_binary_time_and_zoned_timestamp_parameters(server, value, arrow_type):
    table = query(server, "SELECT ? AS v", (value,))
    assert table.column("v").to_pylist() == [value]
    if arrow_type is not None:
        assert table.schema.field("v").type == arrow_type


def test_parameters_compare_with_columns_of_their_type(server, tpch_session):
    sql = "SELECT count(*) AS n FROM lineitem WHERE l_shipdate >= ? AND l_discount > ? AND l_shipmode = ?"
    args = (datetime.date(1996, 1, 1), decimal.Decimal("0.05"), "MAIL")
    remote = query(server, sql, args)
    local = tpch_session.sql("SELECT count(*) AS n FROM lineitem WHERE l_shipdate >= DATE '1996-01-01' "
                             "AND l_discount > 0.05 AND l_shipmode = 'MAIL'").to_arrow()
    assert remote.to_pylist() == local.to_pylist() and local.column("n")[0].as_py() > 0


def test_arrow_parameter_batch_of_a_query_runs_once_per_row(server):
    params = pa.record_batch({"k": pa.array([1, 3], pa.int64())})
    with connect(server) as con, con.cursor() as cur:
        cur.execute("SELECT n_name FROM nation WHERE n_nationkey = ?", params)
        assert sorted(r[0] for r in cur.fetchall()) == ["ARGENTINA", "CANADA"]


# -- executemany and bulk ingest ------------------------------------------------------------------


def _five_columns(n: int) -> pa.Table:
    """n rows of five types, with NULLs in every column but the key."""
    keys = np.arange(n, dtype=np.int64)
    holes = pa.array(keys % 11 == 0)
    import pyarrow.compute as pc

    def with_nulls(array):
        return pc.if_else(holes, pa.nulls(n, array.type), array)

    return pa.table({
        "id": pa.array(keys),
        "label": with_nulls(pc.binary_join_element_wise("row ", pc.cast(pa.array(keys), pa.string()), "'s", "")),
        "score": with_nulls(pa.array(keys / 7.0)),
        "day": with_nulls(pa.array((keys % 20000).astype("datetime64[D]"))),
        "flag": with_nulls(pa.array(keys % 3 == 0)),
    })


def test_executemany_binds_the_whole_batch_exactly(server):
    data = _five_columns(100_000)
    with connect(server) as con, con.cursor() as cur:
        cur.execute("CREATE OR REPLACE TABLE q_bulk (id BIGINT, label VARCHAR, score DOUBLE, day DATE, flag BOOLEAN)")
        cur.fetchall()
        cur.executemany("INSERT INTO q_bulk VALUES (?, ?, ?, ?, ?)", data)
        assert cur.rowcount == data.num_rows
        cur.execute("SELECT * FROM q_bulk ORDER BY id")
        back = cur.fetch_arrow_table()
        cur.execute("DROP TABLE q_bulk")
        cur.fetchall()
    assert back.schema.names == data.schema.names
    assert [f.type for f in back.schema] == [f.type for f in data.schema]
    assert back.equals(data)
    assert back.column("label").null_count == data.column("label").null_count > 0


def test_executemany_converts_to_the_column_types_and_is_atomic(server):
    with connect(server) as con, con.cursor() as cur:
        cur.execute("CREATE OR REPLACE TABLE q_conv (id INTEGER, amount DECIMAL(10,2), note VARCHAR)")
        cur.fetchall()
        cur.executemany("INSERT INTO q_conv (note, id, amount) VALUES (?, ?, ?)",
                        [("a", 1, decimal.Decimal("1.50")), (None, 2, None)])
        cur.execute("SELECT id, amount, note FROM q_conv ORDER BY id")
        assert cur.fetchall() == [(1, decimal.Decimal("1.50"), "a"), (2, None, None)]
        with pytest.raises(adbc.Error, match="oops") as failure:
            cur.executemany("INSERT INTO q_conv VALUES (?, ?, ?)", [(3, "1.25", "ok"), (4, "oops", "bad")])
        assert "INTERNAL" not in str(failure.value)
        cur.execute("SELECT count(*) FROM q_conv")
        assert cur.fetchall() == [(2,)]          # the failing batch left nothing behind
        cur.execute("DROP TABLE q_conv")
        cur.fetchall()


def test_bulk_ingest_keeps_rows_nulls_and_types(server):
    data = _five_columns(50_000)
    with connect(server) as con, con.cursor() as cur:
        assert cur.adbc_ingest("q_ingest_exact", data, mode="replace") == data.num_rows
        cur.execute("SELECT * FROM q_ingest_exact ORDER BY id")
        back = cur.fetch_arrow_table()
        cur.execute("DROP TABLE q_ingest_exact")
        cur.fetchall()
    assert back.equals(data)


# -- information_schema ---------------------------------------------------------------------------


def test_information_schema_over_flight_sql(server):
    with connect(server) as con, con.cursor() as cur:
        cur.execute("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = ? "
                    "ORDER BY table_name", ("main",))
        tables = dict(cur.fetchall())
        schema = con.adbc_get_table_schema("lineitem")
        cur.execute("SELECT column_name, ordinal_position, is_nullable FROM information_schema.columns "
                    "WHERE table_name = 'lineitem' ORDER BY ordinal_position")
        columns = cur.fetchall()
        cur.execute("SELECT catalog_name, schema_name FROM information_schema.schemata")
        schemata = cur.fetchall()
    assert {"lineitem", "nation", "orders", "small", "events"} <= set(tables)
    assert tables["lineitem"] == "BASE TABLE"
    assert [(name, position) for name, position, _ in columns] == [(n, i) for i, n in enumerate(schema.names, 1)]
    assert [nullable for _, _, nullable in columns] == ["YES" if f.nullable else "NO" for f in schema]
    assert ("quarry", "main") in schemata and ("quarry", "information_schema") in schemata


# -- session options ------------------------------------------------------------------------------


def test_current_catalog_and_schema(server):
    with connect(server) as con:
        assert con.adbc_current_catalog == "quarry"
        assert con.adbc_current_db_schema == "main"
        con.adbc_current_catalog = "quarry"              # the current ones: accepted
        con.adbc_current_db_schema = "MAIN"
        assert con.adbc_current_db_schema == "main"
        with pytest.raises(adbc.Error, match="Not supported: setting the current catalog to 'elsewhere'"):
            con.adbc_current_catalog = "elsewhere"
        with pytest.raises(adbc.Error, match="Not supported: setting the current schema to 'sales'"):
            con.adbc_current_db_schema = "sales"
        with con.cursor() as cur:                        # the connection still works
            cur.execute("SELECT count(*) FROM nation")
            assert cur.fetchall() == [(25,)]


def test_unknown_session_options_are_refused(server):
    from quarry.server.flight_sql.protocol import MESSAGES
    from flight_harness import call_options, flight, flight_client
    request = MESSAGES["SetSessionOptionsRequest"]()
    request.session_options.add(key="timezone").value.string_value = "UTC"
    client = flight_client(server)
    try:
        with pytest.raises(pa.ArrowNotImplementedError, match="Not supported: session option `timezone`"):
            list(client.do_action(flight.Action("SetSessionOptions", request.SerializeToString()), call_options()))
    finally:
        client.close()


# -- login tokens ---------------------------------------------------------------------------------

SHORT_TTL = 6.0          # a renewal every half-life needs calls under 3 s apart, also on a loaded machine


@pytest.fixture(scope="module")
def short_token_server(request, tmp_path_factory, tpch_sf001):
    from flight_harness import start_server
    users = tmp_path_factory.mktemp("short-users") / "users.txt"
    users.write_text("ana:s3cret\n")
    return start_server(request, tmp_path_factory,
                        ["--data", str(tpch_sf001), "--users", str(users), "--token-ttl", str(SHORT_TTL)],
                        name="short-token")


def test_a_connection_in_use_outlives_its_first_token(short_token_server):
    import time
    con = connect(short_token_server, username="ana", password="s3cret")
    try:
        cur = con.cursor()
        start = time.monotonic()
        while time.monotonic() - start < 2 * SHORT_TTL:      # well past the first token's expiry
            cur.execute("SELECT count(*) FROM region")
            assert cur.fetchall() == [(5,)]
            time.sleep(SHORT_TTL / 12)
        assert con.adbc_current_catalog == "quarry"         # actions carry the renewed token too
        cur.close()
        time.sleep(SHORT_TTL + 0.5)                         # idle past a whole lifetime: the token is gone
        cur = con.cursor()
        with pytest.raises(adbc.Error, match="UNAUTHENTICATED") as failure:
            cur.execute("SELECT 1")
        assert "the login token has expired" in str(failure.value) and "connect again" in str(failure.value)
        with pytest.raises(adbc.Error, match="the login token has expired"):
            con.adbc_current_catalog
        cur.close()
    finally:
        con.close()
    with connect(short_token_server, username="ana", password="s3cret") as con, con.cursor() as cur:
        cur.execute("SELECT 1")                             # reconnecting logs in again
        assert cur.fetchall() == [(1,)]


# -- dense-union parameters, as flightsql-dbapi sends them ----------------------------------------
# flightsql-dbapi (a second Python driver) pins SQLAlchemy < 2, which pyiceberg's SQL catalog cannot
# share an environment with; what it puts on the wire is reproduced here with pyarrow.flight: a
# prepared statement, then DoPut of one row whose every parameter is a dense union of (int64,
# float64, utf8, binary, bool), then GetFlightInfo and DoGet.

_UNION_MEMBERS = [(int, pa.int64()), (float, pa.float64()), (str, pa.string()), (bytes, pa.binary()),
                  (bool, pa.bool_())]


def _dense_union(value) -> pa.UnionArray:
    code = next(i for i, (t, _) in enumerate(_UNION_MEMBERS) if type(value) is t)
    children = [pa.array([value] if i == code else [], arrow) for i, (_, arrow) in enumerate(_UNION_MEMBERS)]
    return pa.UnionArray.from_dense(pa.array([code], pa.int8()), pa.array([0], pa.int32()), children,
                                    [t.__name__ for t, _ in _UNION_MEMBERS])


def _run_with_union_parameters(client, sql, rows):
    """Prepare ``sql``, bind each row of ``rows`` (a DoPut per row, as the driver's executemany does),
    and return the last result (None for a statement without one)."""
    from quarry.server.flight_sql.protocol import MESSAGES, pack, unpack
    request = pack(MESSAGES["ActionCreatePreparedStatementRequest"](query=sql))
    body = next(iter(client.do_action(flight.Action("CreatePreparedStatement", request), call_options())))
    handle = unpack(body.body.to_pybytes()).prepared_statement_handle
    descriptor = flight.FlightDescriptor.for_command(
        pack(MESSAGES["CommandPreparedStatementQuery"](prepared_statement_handle=handle)))
    result = None
    try:
        for row in rows:
            if not row:           # no parameters: the driver sends no DoPut
                info = client.get_flight_info(descriptor, call_options())
                result = client.do_get(info.endpoints[0].ticket, call_options()).read_all()
                continue
            batch = pa.RecordBatch.from_arrays([_dense_union(v) for v in row], names=[str(i) for i in range(len(row))])
            writer, reader = client.do_put(descriptor, batch.schema, call_options())
            writer.write_batch(batch)
            writer.done_writing()
            reader.read()
            writer.close()
            info = client.get_flight_info(descriptor, call_options())
            result = client.do_get(info.endpoints[0].ticket, call_options()).read_all()
    finally:
        close = pack(MESSAGES["ActionClosePreparedStatementRequest"](prepared_statement_handle=handle))
        list(client.do_action(flight.Action("ClosePreparedStatement", close), call_options()))
    return result


def test_dense_union_parameters_over_the_wire(server, tpch_session):
    client = flight_client(server)
    try:
        remote = _run_with_union_parameters(
            client, "SELECT o_orderkey, o_totalprice FROM orders WHERE o_custkey = ? AND o_orderstatus = ? "
                    "AND o_totalprice > ? ORDER BY o_orderkey LIMIT ?", [(4, "O", 1000.5, 3)])
        local = tpch_session.sql("SELECT o_orderkey, o_totalprice FROM orders WHERE o_custkey = 4 AND "
                                 "o_orderstatus = 'O' AND o_totalprice > 1000.5 ORDER BY o_orderkey LIMIT 3")
        assert remote.to_pylist() == local.to_arrow().to_pylist() and remote.num_rows
        mixed = _run_with_union_parameters(client, "SELECT ? AS b, ? AS t, ? || '!' AS s, ? * 2 AS i",
                                           [(b"\x00raw", True, "it's", 21)])
        assert mixed.to_pylist() == [{"b": b"\x00raw", "t": True, "s": "it's!", "i": 42}]
        _run_with_union_parameters(client, "CREATE OR REPLACE TABLE q_union (id BIGINT, name VARCHAR, ok BOOLEAN)",
                                   [()])
        _run_with_union_parameters(client, "INSERT INTO q_union VALUES (?, ?, ?)", [(1, "ann", True), (2, "bob", False)])
        rows = _run_with_union_parameters(client, "SELECT id, name, ok FROM q_union ORDER BY id", [()])
        assert rows.to_pylist() == [{"id": 1, "name": "ann", "ok": True}, {"id": 2, "name": "bob", "ok": False}]
        _run_with_union_parameters(client, "DROP TABLE q_union", [()])
    finally:
        client.close()
