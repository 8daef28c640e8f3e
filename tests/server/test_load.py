"""Load: 16 concurrent ADBC clients, 50 queries each, small queries mixed with TPC-H; every answer checked.

Run with ``pytest -s`` to see throughput and latency percentiles.
"""

from __future__ import annotations

import random
import statistics
import threading
import time

from flight_harness import connect, query, server_status
from quarry.testing import compare_tables
from quarry.tpch import load_query

CLIENTS = 16
QUERIES_PER_CLIENT = 50
TPCH_SHARE = 4                  # every 4th query of a client is a TPC-H query
TPCH_QUERIES = (1, 3, 5, 6, 10, 12, 14, 19)
SMALL_QUERIES = [
    ("SELECT 1 AS one", None),
    ("SELECT count(*) AS n FROM nation", None),
    ("SELECT n_name FROM nation WHERE n_nationkey = ?", (7,)),
    ("SELECT r_name FROM region ORDER BY r_name", None),
    ("SELECT s_suppkey, s_name FROM supplier WHERE s_nationkey = ? ORDER BY s_suppkey LIMIT 5", (3,)),
    ("SELECT o_orderpriority, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1", None),
]


def _expected(tpch_session) -> dict:
    """The in-process answer to every query of the mix, keyed by its SQL."""
    answers = {}
    for sql, params in SMALL_QUERIES:
        text = sql
        for p in params or ():
            text = text.replace("?", str(p), 1)
        answers[sql] = tpch_session.sql(text).to_arrow()
    for n in TPCH_QUERIES:
        answers[load_query(n)] = tpch_session.sql(load_query(n)).to_arrow()
    return answers


def test_sixteen_concurrent_clients(server, tpch_session):
    expected = _expected(tpch_session)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        rng = random.Random(index)
        plan = []
        for i in range(QUERIES_PER_CLIENT):
            if i % TPCH_SHARE == 0:
                plan.append((load_query(rng.choice(TPCH_QUERIES)), None))
            else:
                plan.append(rng.choice(SMALL_QUERIES))
        try:
            with connect(server) as con, con.cursor() as cur:
                start_gate.wait(30)
                for sql, params in plan:
                    began = time.perf_counter()
                    cur.execute(sql, params)
                    table = cur.fetch_arrow_table()
                    elapsed = time.perf_counter() - began
                    problem = compare_tables(table, expected[sql], ordered=False)
                    with lock:
                        latencies.append(elapsed)
                        if problem:
                            failures.append(f"client {index}: {sql[:60]!r}: {problem}")
        except Exception as exc:            # recorded, so one failing client cannot hang the others
            with lock:
                failures.append(f"client {index}: {type(exc).__name__}: {exc}")
            start_gate.abort()

    threads = [threading.Thread(target=client, args=(i,), name=f"load-client-{i}") for i in range(CLIENTS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    wall = time.perf_counter() - began

    assert not any(t.is_alive() for t in threads), "a client did not finish within 120 s"
    assert not failures, "\n".join(failures[:10])
    assert len(latencies) == CLIENTS * QUERIES_PER_CLIENT

    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * len(ordered))) - 1)]
    print(f"\nload: {len(latencies)} queries from {CLIENTS} clients in {wall:.1f} s = "
          f"{len(latencies) / wall:.1f} queries/s; latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {ordered[-1] * 1000:.0f} ms")

    # the server still answers, and nothing is left running
    assert query(server, "SELECT count(*) AS n FROM region").to_pylist() == [{"n": 5}]
    assert server_status(server)["running_queries"] == 0
