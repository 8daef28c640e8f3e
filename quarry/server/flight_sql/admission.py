"""Admission control: at most ``max_queries`` queries run at once, the next ones wait in line.

A query takes a slot when it starts to run (DoGet of its result, or a statement that
runs at once) and gives it back when it ends, however it ends. When every slot is
taken, a query waits in a first-come, first-served queue of at most ``max_queued``
entries, for at most ``queue_timeout`` seconds; a query that finds the queue full, or
that waits too long, fails with UNAVAILABLE ("resource exhausted: ...", retry later).
A waiting query whose client hangs up or cancels it leaves the queue at once.

    >>> gate = Admission(max_queries=1, max_queued=0, queue_timeout=1.0)
    >>> with gate.slot():
    ...     gate.counts()
    {'running': 1, 'queued': 0}
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Callable

import pyarrow.flight as flight

from quarry.errors import ExecutionError

POLL_SECONDS = 0.05        # how often a waiting query checks whether it was cancelled


class ResourceExhausted(flight.FlightUnavailableError):
    """The server is full: the client sees UNAVAILABLE with the reason, and may retry later.

    (gRPC's RESOURCE_EXHAUSTED would fit too, but pyarrow's Flight server cannot send it.)
    """


class Admission:
    """Slots for running queries and a FIFO line for the ones that wait (see the module docstring)."""

    def __init__(self, max_queries: int, max_queued: int, queue_timeout: float):
        if max_queries < 1:
            raise ValueError("max_queries must be at least 1")
        self.max_queries = int(max_queries)
        self.max_queued = max(0, int(max_queued))
        self.queue_timeout = float(queue_timeout)
        self._running = 0
        self._line: deque[object] = deque()
        self._changed = threading.Condition()

    def counts(self) -> dict:
        with self._changed:
            return {"running": self._running, "queued": len(self._line)}

    @contextmanager
    def slot(self, cancelled: Callable[[], bool] = lambda: False):
        """Hold a slot for the body; wait in line for one first if they are all taken."""
        held = self.acquire(cancelled)
        try:
            yield held
        finally:
            held.release()

    def acquire(self, cancelled: Callable[[], bool] = lambda: False) -> "Slot":
        """Take a slot (waiting in line for one); the caller must ``release()`` it."""
        self._acquire(cancelled)
        return Slot(self)

    def _release(self) -> None:
        with self._changed:
            self._running -= 1
            self._changed.notify_all()

    def _acquire(self, cancelled: Callable[[], bool]) -> None:
        ticket = object()
        with self._changed:
            if self._running < self.max_queries and not self._line:
                self._running += 1
                return
            if len(self._line) >= self.max_queued:
                raise ResourceExhausted(
                    f"resource exhausted: {self._running} running and {len(self._line)} waiting queries are the "
                    f"most this server allows (--max-queries {self.max_queries}, --max-queued "
                    f"{self.max_queued}). HINT: retry later")
            self._line.append(ticket)
            deadline = time.monotonic() + self.queue_timeout
            try:
                while True:
                    if self._line[0] is ticket and self._running < self.max_queries:
                        self._running += 1
                        return
                    if cancelled():
                        raise ExecutionError("query cancelled")
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ResourceExhausted(
                            f"resource exhausted: the query waited {self.queue_timeout:g} s for one of the "
                            f"{self.max_queries} query slots (--max-queries) and none came free (--queue-timeout). "
                            "HINT: retry later")
                    self._changed.wait(min(left, POLL_SECONDS))
            finally:
                if ticket in self._line:
                    self._line.remove(ticket)
                self._changed.notify_all()


class Slot:
    """One taken slot; ``release()`` gives it back, once, whoever calls it first (the stream's end,
    or the producer of a stream whose reader stalled)."""

    def __init__(self, admission: Admission):
        self._admission = admission
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._admission._release()


__all__ = ["Admission", "ResourceExhausted", "Slot"]
