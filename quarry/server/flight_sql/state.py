"""Server-side state between RPCs: prepared statements and results waiting to be fetched.

Both live in a :class:`HandleTable` keyed by random 128-bit handles, remember the
user that created them (another user's handle is reported as unknown), and expire:
a prepared statement ``statement_ttl`` seconds after its last use, a pending result
``result_ttl`` seconds after GetFlightInfo if DoGet never came (DoGet takes the result
out of the table, so a result being streamed never expires). Expired entries are
swept by a janitor thread and on every lookup; an expired pending result has its
query cancelled.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import pyarrow as pa

from quarry.server.flight_sql.errors import NotFound
from quarry.server.flight_sql.params import ParsedStatement

V = TypeVar("V")


@dataclass
class PreparedStatement:
    """A parsed statement, its result schema when known, and the parameters bound by DoPut."""

    statement: ParsedStatement
    dataset_schema: pa.Schema | None
    parameters: pa.Table | None = None


@dataclass
class PendingResult:
    """A query planned by GetFlightInfo, waiting for the DoGet that streams it.

    ``runs`` are the executions to stream one after another (one per bound parameter
    row), all with ``schema``; ``table`` is an already computed result (statements that
    ran at once, such as DDL).
    """

    schema: pa.Schema
    runs: list = field(default_factory=list)
    table: pa.Table | None = None
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True
        for run in self.runs:
            run.cancel()


@dataclass
class _Entry(Generic[V]):
    value: V
    owner: str
    expires: float


class HandleTable(Generic[V]):
    """Handles to values, per owner, with a time to live renewed on every use."""

    def __init__(self, kind: str, ttl: float, on_expire=None):
        self.kind = kind
        self.ttl = float(ttl)
        self._entries: dict[bytes, _Entry[V]] = {}
        self._lock = threading.Lock()
        self._on_expire = on_expire

    def add(self, value: V, owner: str) -> bytes:
        handle = secrets.token_bytes(16)
        with self._lock:
            self._entries[handle] = _Entry(value, owner, time.monotonic() + self.ttl)
        return handle

    def get(self, handle: bytes, owner: str) -> V:
        """The value for ``handle`` (its lifetime renewed); NotFound when unknown, expired or not the caller's."""
        self.sweep()
        with self._lock:
            entry = self._entry(handle, owner)
            entry.expires = time.monotonic() + self.ttl
            return entry.value

    def pop(self, handle: bytes, owner: str) -> V:
        """Remove and return the value for ``handle`` (atomically: only one caller gets it)."""
        self.sweep()
        with self._lock:
            value = self._entry(handle, owner).value
            del self._entries[handle]
            return value

    def _entry(self, handle: bytes, owner: str) -> _Entry[V]:
        entry = self._entries.get(handle)
        if entry is None or entry.owner != owner:
            raise NotFound(f"{self.kind} not found: it was closed, has expired (after {self.ttl:g} s unused), "
                           "was already used, or belongs to another user")
        return entry

    def discard(self, handle: bytes) -> None:
        with self._lock:
            self._entries.pop(handle, None)

    def sweep(self) -> int:
        """Drop expired entries; return how many."""
        now = time.monotonic()
        with self._lock:
            expired = [h for h, e in self._entries.items() if e.expires <= now]
            values = [self._entries.pop(h).value for h in expired]
        if self._on_expire is not None:
            for v in values:
                self._on_expire(v)
        return len(values)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class Janitor(threading.Thread):
    """Sweeps the handle tables every ``interval`` seconds until stopped."""

    def __init__(self, tables: list[HandleTable], interval: float):
        super().__init__(name="quarry-server-janitor", daemon=True)
        self.tables = tables
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            for table in self.tables:
                table.sweep()

    def stop(self) -> None:
        self._stop_event.set()


__all__ = ["PreparedStatement", "PendingResult", "HandleTable", "Janitor"]
