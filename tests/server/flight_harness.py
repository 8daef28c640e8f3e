"""Helpers for the Flight SQL server tests: real ``python -m quarry.server`` processes on loopback.

Every server runs as a subprocess on 127.0.0.1 with a free port; a finalizer stops it
(SIGTERM, then SIGKILL after a few seconds), so no process outlives its fixture. Every
wait is bounded. Clients are the real ADBC Flight SQL driver (through its DB-API) and,
where the test needs raw Flight calls, ``pyarrow.flight``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

adbc = pytest.importorskip("adbc_driver_flightsql.dbapi")
flight = pytest.importorskip("pyarrow.flight")

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
CALL_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One ``python -m quarry.server`` subprocess; ``stop()`` always ends it."""

    def __init__(self, args: list[str], log_path: Path, env: dict | None = None, tls: bool = False):
        self.port = free_port()
        self.log_path = log_path
        self.scheme = "grpc+tls" if tls else "grpc"
        self._log = open(log_path, "w")
        full_env = dict(os.environ, PYTHONUNBUFFERED="1")
        full_env.pop("QUARRY_SERVER_USER", None)
        full_env.pop("QUARRY_SERVER_PASSWORD", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quarry.server", "--host", "127.0.0.1", "--port", str(self.port), *args],
            cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=full_env)

    @property
    def uri(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self) -> "ServerProcess":
        """Block until the server announces it is serving (bounded); fail with its log otherwise."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if "serving Flight SQL" in self.log():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start within {START_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self._log.close()


def start_server(request, tmp_path_factory, args: list[str], *, env: dict | None = None, tls: bool = False,
                 name: str = "server") -> ServerProcess:
    """Start a server for the requesting fixture, registering its stop as a finalizer first."""
    log_path = tmp_path_factory.mktemp(name) / "server.log"
    server = ServerProcess(args, log_path, env=env, tls=tls)
    request.addfinalizer(server.stop)
    return server.wait_ready()


def connect(server: ServerProcess, **db_kwargs):
    """An ADBC DB-API connection to ``server`` (autocommit: quarry has no transactions)."""
    return adbc.connect(server.uri, db_kwargs=db_kwargs or None, autocommit=True)


def query(server: ServerProcess, sql: str, parameters=None, **db_kwargs) -> pa.Table:
    """Run one query on a fresh connection; the result as an Arrow table."""
    with connect(server, **db_kwargs) as con, con.cursor() as cur:
        cur.execute(sql, parameters)
        return cur.fetch_arrow_table()


def flight_client(server: ServerProcess, **kwargs):
    return flight.connect(server.uri, **kwargs)


def call_options() -> "flight.FlightCallOptions":
    return flight.FlightCallOptions(timeout=CALL_TIMEOUT)


def server_status(server: ServerProcess, headers=None) -> dict:
    """The server's ``quarry.status`` counters (running queries, pending results, ...)."""
    client = flight_client(server)
    try:
        options = flight.FlightCallOptions(timeout=CALL_TIMEOUT, headers=headers or [])
        result = next(iter(client.do_action(flight.Action("quarry.status", b""), options)))
        return json.loads(result.body.to_pybytes())
    finally:
        client.close()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` passes (last value)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value
