"""Errors become the right Flight status, cancellation and disconnects stop queries, state expires,
and clients do not disturb each other."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flight_harness import (
    REPO_ROOT, adbc, call_options, connect, flight_client, query, server_status, start_server, wait_until,
)
from quarry.server.flight_sql.protocol import MESSAGES, pack, unpack
from quarry.testing import assert_tables_equal

# a result of ~1.5 million rows: streamed in many batches, so a test can stop it midway
LONG_QUERY = "SELECT l_orderkey, l_partkey, l_comment, n_name FROM lineitem, nation"


def _statement(sql: str) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(pack(MESSAGES["CommandStatementQuery"](query=sql)))


def _idle(server) -> bool:
    return server_status(server)["running_queries"] == 0


# -- errors ---------------------------------------------------------------------------------------


def test_bad_sql_is_invalid_argument_with_quarrys_message(server):
    with pytest.raises(adbc.ProgrammingError) as info:
        query(server, "SELEC n_name FROM nation")
    message = str(info.value)
    assert "INVALID_ARGUMENT" in message
    assert "Parser error: syntax error: `SELEC` does not start a statement" in message
    assert "LINE 1: SELEC n_name FROM nation" in message and "HINT: did you mean SELECT?" in message
    assert "Traceback" not in message and ".py" not in message


def test_unknown_table_is_not_found(server):
    with pytest.raises(adbc.ProgrammingError) as info:
        query(server, "SELECT * FROM lineitems")
    message = str(info.value)
    assert "NOT_FOUND" in message and "table `lineitems` does not exist" in message
    assert "did you mean `lineitem`?" in message
    assert "Traceback" not in message


def test_unknown_column_is_invalid_argument(server):
    with pytest.raises(adbc.ProgrammingError, match="INVALID_ARGUMENT") as info:
        query(server, "SELECT l_quantityy FROM lineitem")
    assert "did you mean `l_quantity`?" in str(info.value)


def test_errors_while_running_reach_the_client_cleanly(server):
    client = flight_client(server)
    try:
        info = client.get_flight_info(_statement("SELECT CAST(n_name AS INTEGER) AS x FROM nation"), call_options())
        with pytest.raises(pa.ArrowInvalid) as error:
            client.do_get(info.endpoints[0].ticket, call_options()).read_all()
        message = str(error.value)
        assert "cannot cast a string to INTEGER" in message and "HINT:" in message
        assert "Traceback" not in message
    finally:
        client.close()


def test_unsupported_requests_are_unimplemented(server):
    client = flight_client(server)
    try:
        with pytest.raises(NotImplementedError):
            client.get_flight_info(flight.FlightDescriptor.for_command(b"not a protobuf message"), call_options())
        with pytest.raises(NotImplementedError, match="transactions"):
            list(client.do_action(flight.Action("BeginTransaction", b""), call_options()))
        with pytest.raises(NotImplementedError):
            client.get_flight_info(flight.FlightDescriptor.for_command(
                pack(MESSAGES["CommandStatementSubstraitPlan"](plan=b"x"))), call_options())
    finally:
        client.close()


def test_parameter_count_mismatch(server):
    with pytest.raises(adbc.Error, match="2 parameter"):
        query(server, "SELECT ? + ? AS s", (1,))


# -- cancellation ---------------------------------------------------------------------------------


def test_query_cancelled_mid_stream(server):
    before = server_status(server)["cancelled_queries"]
    with connect(server) as con, con.cursor() as cur:
        cur.execute(LONG_QUERY)
        reader = cur.fetch_record_batch()
        first = reader.read_next_batch()
        assert first.num_rows > 0
        cur.adbc_cancel()
        with pytest.raises(Exception, match="(?i)cancel"):
            for _ in range(1000):
                reader.read_next_batch()
    assert wait_until(lambda: _idle(server), timeout=10)
    assert server_status(server)["cancelled_queries"] > before
    assert query(server, "SELECT count(*) AS n FROM region").to_pylist() == [{"n": 5}]


def test_client_killed_mid_stream_stops_the_query(server):
    child = (
        "import sys, pyarrow.flight as fl\n"
        "from quarry.server.flight_sql.protocol import MESSAGES, pack\n"
        f"c = fl.connect('{server.uri}')\n"
        f"d = fl.FlightDescriptor.for_command(pack(MESSAGES['CommandStatementQuery'](query={LONG_QUERY!r})))\n"
        "info = c.get_flight_info(d)\n"
        "reader = c.do_get(info.endpoints[0].ticket)\n"
        "reader.read_chunk()\n"
        "print('reading', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "reading"
        assert server_status(server)["running_queries"] >= 1
        before = server_status(server)["cancelled_queries"]
    finally:
        proc.kill()
        proc.wait(10)
    assert wait_until(lambda: _idle(server), timeout=10)
    assert server_status(server)["cancelled_queries"] > before


def test_cancel_flight_info(server):
    client = flight_client(server)
    try:
        info = client.get_flight_info(_statement(LONG_QUERY), call_options())
        request = MESSAGES["CancelFlightInfoRequest"](info=info.serialize())
        body = next(iter(client.do_action(flight.Action("CancelFlightInfo", request.SerializeToString()),
                                          call_options()))).body.to_pybytes()
        result = MESSAGES["CancelFlightInfoResult"]()
        result.ParseFromString(body)
        assert result.status == 1                                    # CANCEL_STATUS_CANCELLED
        with pytest.raises(flight.FlightCancelledError):
            client.do_get(info.endpoints[0].ticket, call_options()).read_all()
        # cancelling what no longer exists is NOT_FOUND
        with pytest.raises(KeyError):
            list(client.do_action(flight.Action("CancelFlightInfo", request.SerializeToString()), call_options()))
        # the deprecated Flight SQL action works too
        info = client.get_flight_info(_statement(LONG_QUERY), call_options())
        legacy = pack(MESSAGES["ActionCancelQueryRequest"](info=info.serialize()))
        body = next(iter(client.do_action(flight.Action("CancelQuery", legacy), call_options()))).body.to_pybytes()
        assert unpack(body).result == 1
    finally:
        client.close()


def test_cancel_during_streaming_with_cancel_flight_info(server):
    client = flight_client(server)
    try:
        info = client.get_flight_info(_statement(LONG_QUERY), call_options())
        reader = client.do_get(info.endpoints[0].ticket, call_options())
        reader.read_chunk()
        request = MESSAGES["CancelFlightInfoRequest"](info=info.serialize())
        list(client.do_action(flight.Action("CancelFlightInfo", request.SerializeToString()), call_options()))
        with pytest.raises(flight.FlightCancelledError):
            for _ in range(1000):
                reader.read_chunk()
    finally:
        client.close()
    assert wait_until(lambda: _idle(server), timeout=10)


# -- isolation ------------------------------------------------------------------------------------


def test_one_clients_error_or_cancellation_does_not_touch_another(server, tpch_session):
    expected = tpch_session.sql("SELECT l_orderkey, l_linenumber, l_comment FROM lineitem").to_arrow()
    outcome = {}

    def steady_reader():
        with connect(server) as con, con.cursor() as cur:
            cur.execute("SELECT l_orderkey, l_linenumber, l_comment FROM lineitem")
            reader = cur.fetch_record_batch()
            batches = []
            for batch in reader:
                batches.append(batch)
                time.sleep(0.05)               # a slow client, still reading while the others act
            outcome["table"] = pa.Table.from_batches(batches)

    thread = threading.Thread(target=steady_reader)
    thread.start()
    try:
        for _ in range(3):
            with pytest.raises(adbc.Error):
                query(server, "SELECT * FROM nowhere")
            with connect(server) as con, con.cursor() as cur:
                cur.execute(LONG_QUERY)
                cur.fetch_record_batch().read_next_batch()
                cur.adbc_cancel()
    finally:
        thread.join(60)
    assert not thread.is_alive()
    assert_tables_equal(outcome["table"], expected, ordered=False)


# -- expiry ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_ttl_server(request, tmp_path_factory, tpch_sf001):
    return start_server(request, tmp_path_factory, ["--data", str(tpch_sf001), "--statement-ttl", "1",
                                                    "--result-ttl", "1"], name="ttl")


def test_prepared_statements_expire(short_ttl_server):
    client = flight_client(short_ttl_server)
    try:
        request = pack(MESSAGES["ActionCreatePreparedStatementRequest"](query="SELECT n_name FROM nation"))
        body = next(iter(client.do_action(flight.Action("CreatePreparedStatement", request), call_options())))
        handle = unpack(body.body.to_pybytes()).prepared_statement_handle
        descriptor = flight.FlightDescriptor.for_command(
            pack(MESSAGES["CommandPreparedStatementQuery"](prepared_statement_handle=handle)))
        info = client.get_flight_info(descriptor, call_options())              # in use: lifetime renewed
        assert client.do_get(info.endpoints[0].ticket, call_options()).read_all().num_rows == 25
        time.sleep(1.5)
        with pytest.raises(KeyError, match="expired"):
            client.get_flight_info(descriptor, call_options())
    finally:
        client.close()


def test_pending_results_expire(short_ttl_server):
    client = flight_client(short_ttl_server)
    try:
        info = client.get_flight_info(_statement("SELECT * FROM region"), call_options())
        time.sleep(1.5)
        with pytest.raises(KeyError, match="expired"):
            client.do_get(info.endpoints[0].ticket, call_options()).read_all()
        assert server_status(short_ttl_server)["pending_results"] == 0
    finally:
        client.close()


def test_a_ticket_is_used_once(server):
    client = flight_client(server)
    try:
        info = client.get_flight_info(_statement("SELECT * FROM region"), call_options())
        assert client.do_get(info.endpoints[0].ticket, call_options()).read_all().num_rows == 5
        with pytest.raises(KeyError):
            client.do_get(info.endpoints[0].ticket, call_options()).read_all()
    finally:
        client.close()
