"""Reattachable executions: an ExecutePlan's responses, produced once, read by one or more streams.

PySpark (by default) runs every query as a *reattachable* execution: it sends ExecutePlan
with an operation id, reads the response stream, and tells the server with
``ReleaseExecute`` which responses it has (``release_until``) or that it is done
(``release_all``). If the stream breaks before ``result_complete`` arrived, the client calls
``ReattachExecute`` with the last response id it saw and expects the rest.

So an :class:`Operation` runs its query on its own thread, appending responses to a buffer;
ExecutePlan and every ReattachExecute are readers of that buffer from some position on.
Released responses are dropped. The producer runs at most :data:`AHEAD` responses ahead of
what any reader has taken, so a result is never held whole in memory for a slow client.
"""

from __future__ import annotations

import threading
import uuid

import grpc

from quarry.spark.errors import SparkError

__all__ = ["Operation", "AHEAD"]

AHEAD = 16            # responses produced beyond the furthest one a reader has taken


def _cancelled() -> SparkError:
    """The status a cancelled query reports (quarry.spark.errors), whichever side saw it first."""
    return SparkError("the operation was interrupted", error_class="OPERATION_CANCELED",
                      exception="SparkException", code=grpc.StatusCode.CANCELLED)


class Operation:
    """One execution: ``produce`` (a generator of ExecutePlanResponse) run on a thread of its own."""

    def __init__(self, operation_id: str, tags, produce, cancel):
        self.operation_id = operation_id or str(uuid.uuid4())
        self.tags = set(tags)
        self._produce = produce
        self._cancel = cancel
        self._responses: list = []           # (response id, response), from position _base on
        self._base = 0                       # how many responses were released before _responses[0]
        self._taken = 0                      # the furthest position any reader has reached
        self._done = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self.interrupted = False
        self._thread = threading.Thread(target=self._run, name=f"spark-op-{self.operation_id[:8]}", daemon=True)

    def start(self) -> "Operation":
        self._thread.start()
        return self

    # -- producer ------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            for response in self._produce():
                response.response_id = str(uuid.uuid4())
                with self._cond:
                    while not self.interrupted and self._base + len(self._responses) - self._taken >= AHEAD:
                        self._cond.wait(0.5)
                    if self.interrupted:
                        break
                    self._responses.append((response.response_id, response))
                    self._cond.notify_all()
            if self.interrupted and self._error is None:
                self._error = _cancelled()
        except BaseException as err:          # reported to the readers, as the client's exception
            # a query stopped by the interrupt ("query cancelled") reports the interrupt
            self._error = _cancelled() if self.interrupted else err
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    # -- readers -------------------------------------------------------------------------------

    def read(self, after_response_id: str | None = None, alive=lambda: True):
        """Yield the responses after ``after_response_id`` (from the first kept one when None) until the
        last; raise the execution's error when it failed. ``alive()`` false stops reading (the client
        went away; the execution stays for a reattach)."""
        with self._cond:
            position = self._base
            if after_response_id is not None:
                ids = [rid for rid, _ in self._responses]
                if after_response_id in ids:
                    position = self._base + ids.index(after_response_id) + 1
        while True:
            with self._cond:
                while position >= self._base + len(self._responses) and not self._done:
                    if self.interrupted:
                        # the reader stops at the interrupt, whether or not the query has stopped yet (a
                        # Python function in the calling process finishes its batch first)
                        raise _cancelled()
                    self._cond.wait(0.5)
                    if not alive():
                        return
                if position < self._base:
                    position = self._base
                if position < self._base + len(self._responses):
                    response = self._responses[position - self._base][1]
                    position += 1
                    if position > self._taken:
                        self._taken = position
                        self._cond.notify_all()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield response

    def release_until(self, response_id: str) -> None:
        with self._cond:
            ids = [rid for rid, _ in self._responses]
            if response_id in ids:
                cut = ids.index(response_id) + 1
                del self._responses[:cut]
                self._base += cut
                self._cond.notify_all()

    def release_all(self) -> None:
        self.interrupt(quiet=True)
        with self._cond:
            self._base += len(self._responses)
            self._responses.clear()

    @property
    def done(self) -> bool:
        return self._done

    @property
    def state(self) -> str:
        """``running``, ``succeeded``, ``failed`` or ``cancelled`` (what GetStatus reports)."""
        if self.interrupted:              # (its query may take a moment more to stop)
            return "cancelled"
        if not self._done:
            return "running"
        return "failed" if self._error is not None else "succeeded"

    def interrupt(self, quiet: bool = False) -> bool:
        """Stop the execution (its running query is cancelled); whether it was still running."""
        with self._cond:
            running = not self._done
            if running:
                self.interrupted = True
                self._cond.notify_all()
        if running:
            self._cancel()
        return running
