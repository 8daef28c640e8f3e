"""Isolation and limits: queries run in the server's worker processes, each under a memory cap, at
most ``--max-queries`` at once with a line beyond; cancel stops their work; results stream.

Every server here runs with ``--workers 2`` and small caps, so the whole file stays within a
few hundred MB and a few seconds per test on a shared two-core machine.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest

from flight_harness import adbc, call_options, connect, flight_client, query, server_status, start_server, wait_until
from quarry.server.flight_sql.protocol import MESSAGES, pack
from quarry.testing import assert_tables_equal
from quarry.tpch import load_query

NUMBERS = 5_000_000
QUERY_MEMORY_MB = 256
# holds ~1.2 GB of strings in one aggregation group, which cannot spill: over the cap within a second
OVER_THE_CAP = ("SELECT o_orderstatus, string_agg(l_comment || o_comment, ',') AS s FROM lineitem, "
                "(SELECT o_comment, o_orderstatus FROM orders LIMIT 200) o GROUP BY 1")
# the runaway: a self-join on a column with ~600 rows per key and a residual filter (17.7M rows)
RUNAWAY_JOIN = ("SELECT a.l_orderkey, b.l_orderkey AS other, a.l_comment FROM lineitem a JOIN lineitem b "
                "ON a.l_suppkey = b.l_suppkey WHERE a.l_quantity < b.l_quantity")
TPCH = (1, 3, 6, 12)


@pytest.fixture(scope="module")
def numbers_dir(tmp_path_factory):
    """A table ``numbers`` of 5M rows in 20 row groups (so a scan has several partitions)."""
    root = tmp_path_factory.mktemp("numbers")
    x = np.arange(NUMBERS, dtype=np.int64)
    pq.write_table(pa.table({"x": x, "y": x * 2.0}), root / "numbers.parquet", row_group_size=NUMBERS // 20)
    return root


@pytest.fixture(scope="module")
def limited(request, tmp_path_factory, tpch_sf001, numbers_dir):
    return start_server(request, tmp_path_factory,
                        ["--data", str(tpch_sf001), "--data", str(numbers_dir), "--workers", "2",
                         "--query-memory", f"{QUERY_MEMORY_MB}MB", "--max-queries", "3"], name="limited")


def tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and all its descendants (the worker processes)."""
    out = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,rss="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for line in out.splitlines():
        p, parent, kb = map(int, line.split())
        children.setdefault(parent, []).append(p)
        rss[p] = kb * 1024
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


# -- isolation ------------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_queries_run_in_the_servers_worker_processes(limited, tpch_session):
    sql = "SELECT l_returnflag, count(*) AS n FROM lineitem JOIN orders ON l_orderkey = o_orderkey GROUP BY 1"
    assert_tables_equal(query(limited, sql), tpch_session.sql(sql).to_arrow(), ordered=False)
    status = server_status(limited)
    assert status["executor"] == "processes"
    assert len(status["worker_pids"]) == 2
    assert all(_parent_of(pid) == limited.proc.pid for pid in status["worker_pids"])
    assert status["query_memory"] == QUERY_MEMORY_MB << 20 and status["max_queries"] == 3


def test_a_query_over_its_memory_cap_fails_alone_with_a_clear_error(limited, tpch_session):
    with pytest.raises(adbc.Error) as info:
        query(limited, OVER_THE_CAP)
    message = str(info.value)
    assert f"query exceeded its memory cap of {QUERY_MEMORY_MB} MB" in message
    assert "--query-memory" in message and "Traceback" not in message
    # the server and its (replaced) workers go on
    sql = "SELECT count(*) AS n FROM lineitem JOIN orders ON l_orderkey = o_orderkey"
    assert query(limited, sql).to_pylist() == tpch_session.sql(sql).to_pylist()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_a_runaway_query_fails_or_is_cancelled_while_others_succeed(limited, duckdb_tpch):
    query(limited, load_query(TPCH[0]))                       # workers started, plans and files warm
    baseline = tree_rss(limited.proc.pid)
    outcome: dict = {}
    streaming = threading.Event()
    cursor_box: dict = {}

    def runaway_client():
        with connect(limited) as con:
            with con.cursor() as cur:
                try:
                    cur.execute(OVER_THE_CAP)
                    cur.fetch_arrow_table()
                except adbc.Error as exc:
                    outcome["capped"] = str(exc)
            with con.cursor() as cur:
                cursor_box["cur"] = cur
                try:
                    cur.execute(RUNAWAY_JOIN)
                    reader = cur.fetch_record_batch()
                    rows = reader.read_next_batch().num_rows
                    streaming.set()
                    for batch in reader:                      # a slow client of a result that never ends
                        rows += batch.num_rows
                        time.sleep(0.05)
                    outcome["finished"] = rows
                except Exception as exc:                  # noqa: BLE001 - the cancel, as the driver reports it
                    outcome["stopped"] = str(exc)
                finally:
                    streaming.set()

    thread = threading.Thread(target=runaway_client)
    thread.start()
    try:
        assert streaming.wait(60)
        with connect(limited) as con, con.cursor() as cur:
            for n in TPCH:
                sql = load_query(n)
                cur.execute(sql)
                assert_tables_equal(cur.fetch_arrow_table(), duckdb_tpch.sql(sql).to_arrow_table(),
                                    ordered=False)
        assert server_status(limited)["running_queries"] >= 1           # the runaway still streams
        cursor_box["cur"].adbc_cancel()
        stopped_at = time.monotonic()
    finally:
        thread.join(60)
    assert not thread.is_alive()
    assert f"memory cap of {QUERY_MEMORY_MB} MB" in outcome["capped"]
    assert "finished" not in outcome and "cancel" in outcome["stopped"].lower()
    assert wait_until(lambda: server_status(limited)["running_queries"] == 0, timeout=5)
    assert time.monotonic() - stopped_at < 5
    # the server's memory (all its processes) comes back near where it started
    assert wait_until(lambda: tree_rss(limited.proc.pid) < baseline + (200 << 20), timeout=10), \
        (tree_rss(limited.proc.pid) >> 20, baseline >> 20)


# -- cancellation ---------------------------------------------------------------------------------


def _statement(sql: str) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(pack(MESSAGES["CommandStatementQuery"](query=sql)))


def test_cancel_flight_info_stops_the_workers_within_a_second(limited):
    # a query whose work is all in worker tasks: a partitioned self-join counted per key
    sql = ("SELECT a.l_suppkey, count(*) AS n FROM lineitem a JOIN lineitem b ON a.l_suppkey = b.l_suppkey "
           "WHERE a.l_quantity < b.l_quantity GROUP BY 1")
    client = flight_client(limited)
    try:
        info = client.get_flight_info(_statement(sql), call_options())
        reader = client.do_get(info.endpoints[0].ticket, call_options())
        done = {}
        thread = threading.Thread(target=lambda: done.setdefault("error", _read_all_error(reader)))
        thread.start()
        busy = wait_until(lambda: _busy_workers(limited), timeout=30)
        assert busy, "the query never ran in a worker"
        request = MESSAGES["CancelFlightInfoRequest"](info=info.serialize())
        start = time.monotonic()
        list(client.do_action(flight.Action("CancelFlightInfo", request.SerializeToString()), call_options()))
        assert wait_until(lambda: not _busy_workers(limited), timeout=5, interval=0.02)
        assert time.monotonic() - start < 1.5
        thread.join(10)
        assert isinstance(done["error"], flight.FlightCancelledError)
    finally:
        client.close()


def _read_all_error(reader):
    # chunk by chunk: pyarrow's read_all() answers a CANCELLED stream by raising SIGINT in the main thread
    try:
        while True:
            reader.read_chunk()
    except StopIteration:
        return None
    except Exception as exc:                          # noqa: BLE001 - returned for the test to check
        return exc


def _busy_workers(server) -> list[int]:
    """Worker processes of ``server`` using the CPU now (a task running)."""
    busy = []
    for pid in server_status(server)["worker_pids"]:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "R":
            busy.append(pid)
    return busy


# -- streaming ------------------------------------------------------------------------------------


def test_the_first_batch_leaves_before_the_result_is_complete_and_a_slow_reader_holds_the_producer(limited):
    with connect(limited) as con, con.cursor() as cur:
        cur.execute("SELECT x, y FROM numbers")
        reader = cur.fetch_record_batch()
        first = reader.read_next_batch()
        assert first.num_rows > 0
        (stream,) = server_status(limited)["streams"]
        # the executor is still producing when the client holds its first batch...
        assert stream["producing"] and stream["rows_produced"] < NUMBERS
        time.sleep(1.0)                                    # ... and a client that stops reading
        (stream,) = server_status(limited)["streams"]      # pauses it: back-pressure, not buffering
        assert stream["producing"] and stream["rows_produced"] < NUMBERS // 2
        rows = first.num_rows + sum(b.num_rows for b in reader)
    assert rows == NUMBERS


# -- admission ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_at_a_time(request, tmp_path_factory, tpch_sf001, numbers_dir):
    return start_server(request, tmp_path_factory,
                        ["--data", str(tpch_sf001), "--data", str(numbers_dir), "--workers", "2",
                         "--max-queries", "1", "--max-queued", "1", "--queue-timeout", "2"], name="one")


def test_a_second_query_waits_in_line_then_runs_and_overflow_is_refused(one_at_a_time):
    server = one_at_a_time
    with connect(server) as con, con.cursor() as cur:
        cur.execute("SELECT x FROM numbers")
        reader = cur.fetch_record_batch()
        reader.read_next_batch()                           # holds the only slot while it streams
        second: dict = {}

        def waiting_client():
            second["table"] = query(server, "SELECT count(*) AS n FROM nation")

        thread = threading.Thread(target=waiting_client)
        thread.start()
        assert wait_until(lambda: server_status(server)["queued_queries"] == 1, timeout=10)
        assert "table" not in second
        # the line is full: a third query is refused at once, with the reason
        start = time.monotonic()
        with pytest.raises(adbc.Error) as info:
            query(server, "SELECT count(*) AS n FROM region")
        assert time.monotonic() - start < 2
        message = str(info.value)
        assert "Unavailable" in message and "resource exhausted: 1 running and 1 waiting queries" in message
        assert "--max-queries 1" in message and "--max-queued 1" in message
        # the first query ends: the waiting one runs
        rows = sum(b.num_rows for b in reader)
        assert rows > 0
    thread.join(30)
    assert second["table"].to_pylist() == [{"n": 25}]
    status = server_status(server)
    assert status["queued_queries"] == 0 and status["admitted_queries"] == 0


def test_a_query_that_waits_too_long_is_refused(one_at_a_time):
    server = one_at_a_time
    with connect(server) as con, con.cursor() as cur:
        cur.execute("SELECT x FROM numbers")
        reader = cur.fetch_record_batch()
        reader.read_next_batch()
        start = time.monotonic()
        with pytest.raises(adbc.Error) as info:
            query(server, "SELECT count(*) AS n FROM nation")
        waited = time.monotonic() - start
        assert 1.5 < waited < 10
        message = str(info.value)
        assert "Unavailable" in message and "waited 2 s" in message and "--queue-timeout" in message
        cur.adbc_cancel()
    assert wait_until(lambda: server_status(server)["admitted_queries"] == 0, timeout=5)
    assert query(server, "SELECT count(*) AS n FROM nation").to_pylist() == [{"n": 25}]


def test_bad_limits_are_clear_errors(tpch_sf001):
    import quarry
    import quarry.server
    from quarry.errors import QuarryError
    con = quarry.connect(workers=0)
    for options, text in (({"query_memory": "lots"}, "is not a size"), ({"query_memory": "1MB"}, "too small"),
                          ({"max_queries": 0}, "at least 1"), ({"queue_timeout": 0}, "more than 0")):
        with pytest.raises(QuarryError, match=text):
            quarry.server.serve(con, "127.0.0.1", 0, block=False, **options)


@pytest.fixture(scope="module")
def short_ttl(request, tmp_path_factory, numbers_dir):
    return start_server(request, tmp_path_factory,
                        ["--data", str(numbers_dir), "--workers", "2", "--max-queries", "1", "--result-ttl", "1"],
                        name="stall")


def test_a_reader_that_stops_reading_loses_its_query_after_the_result_ttl(short_ttl):
    server = short_ttl
    with connect(server) as con, con.cursor() as cur:
        cur.execute("SELECT x, y FROM numbers")
        reader = cur.fetch_record_batch()
        reader.read_next_batch()                           # then reads nothing while holding the stream
        assert server_status(server)["admitted_queries"] == 1
        # after --result-ttl seconds with a full queue the query is cancelled and its slot freed,
        # though the stream itself stays open
        assert wait_until(lambda: server_status(server)["admitted_queries"] == 0, timeout=10)
        assert wait_until(lambda: not server_status(server)["streams"][0]["producing"], timeout=5)
        assert server_status(server)["streams"][0]["rows_produced"] < NUMBERS
        assert query(server, "SELECT count(*) AS n FROM numbers").to_pylist() == [{"n": NUMBERS}]
        with pytest.raises(Exception, match="(?i)query cancelled"):       # what the driver raises varies
            for _ in reader:
                pass
