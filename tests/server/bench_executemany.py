"""Benchmark: rows per second of ``executemany`` and ``adbc_ingest`` into a server, through ADBC.

Not a test (timings depend on the machine); run it by hand:

    PYTHONPATH=. python tests/server/bench_executemany.py [--rows 100000] [--repeat 3]

It starts ``python -m quarry.server`` on a free loopback port, creates a 5-column table
and times ``cursor.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", batch)`` (the
driver binds the Arrow batch; the server appends it in one step) and ``adbc_ingest``,
checking every time that the table holds exactly the rows sent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flight_harness import ServerProcess, connect  # noqa: E402
from test_flight_drivers import _five_columns  # noqa: E402

CREATE = "CREATE OR REPLACE TABLE bench (id BIGINT, label VARCHAR, score DOUBLE, day DATE, flag BOOLEAN)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = _five_columns(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess([], Path(tmp) / "server.log")
        try:
            server.wait_ready()
            with connect(server) as con, con.cursor() as cur:
                for label, load in (
                        ("executemany", lambda: cur.executemany("INSERT INTO bench VALUES (?, ?, ?, ?, ?)", data)),
                        ("adbc_ingest", lambda: cur.adbc_ingest("bench", data, mode="append"))):
                    best = float("inf")
                    for _ in range(args.repeat):
                        cur.execute(CREATE)
                        cur.fetchall()
                        start = time.perf_counter()
                        load()
                        best = min(best, time.perf_counter() - start)
                        cur.execute("SELECT * FROM bench ORDER BY id")
                        if not cur.fetch_arrow_table().equals(data):
                            print(f"{label}: the table does not hold the rows sent", file=sys.stderr)
                            return 1
                    print(f"{label:12s} {args.rows} rows x 5 columns: {best:.3f} s, {args.rows / best:,.0f} rows/s")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
