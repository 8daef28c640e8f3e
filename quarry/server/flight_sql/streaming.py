"""Run a query batch by batch for DoGet, so results stream instead of being materialized.

:class:`QueryRun` plans a query once (optimized logical plan, then physical plan)
and :meth:`QueryRun.batches` executes it: a thread runs the plan on the session's
executor (stages on the worker pool, by default) and pushes the result batches into a
small bounded queue; the DoGet thread
takes them from the queue and hands them to Flight. The bound gives backpressure
(a slow client slows the query down instead of buffering the whole result), and
because the consumer waits on the queue with a timeout it can notice in time that
the client went away or that CancelFlightInfo arrived, and then set
``ExecContext.cancelled``, which stops every operator at its next batch (and the
query's tasks in the worker processes, see quarry.execution.pool). A client that
takes no batch for ``stall_timeout`` seconds (the server's result TTL) while the
queue is full has its query cancelled too, so a reader that stops reading without
hanging up does not hold a query slot forever.

Batches leave with the columns renamed from physical keys (``name#id``) to the
query's output names and cast to :attr:`QueryRun.schema`, so the stream's schema is
exactly the one announced in FlightInfo.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterator

import pyarrow as pa

from quarry.errors import DataError, ExecutionError, QuarryError
from quarry.sql.commands import output_schema

_DONE = object()
QUEUE_BATCHES = 4          # batches buffered ahead of a slow client, per query
POLL_SECONDS = 0.05        # how often a waiting consumer checks for cancellation
MAX_MESSAGE_BYTES = 4 << 20  # batches are sliced to about this size: gRPC clients refuse messages over 16 MiB


class QueryRun:
    """One execution of a query (a logical plan): its physical plan, its ExecContext (the
    cancellation switch), and the schema it streams (the plan's output names and types)."""

    def __init__(self, session, plan, schema: pa.Schema | None = None):
        self.session = session
        self.schema = schema if schema is not None else output_schema(plan)
        if len(self.schema) != len(plan.schema):
            raise ExecutionError(f"a result has {len(plan.schema)} columns, expected {len(self.schema)}",
                                 hint="every parameter row must produce the same columns")
        optimized = session.optimize(plan)
        self.physical = session.physical_plan(optimized)
        self.ctx = session.new_context(plan)
        self.rows_produced = 0          # rows the executor handed over so far (for quarry.status)
        self.producing = False          # the executor is running (not finished, failed or stopped)
        self.stalled = False            # the client read nothing for ``stall_timeout`` s: cancelled

    def cancel(self) -> None:
        self.ctx.cancelled = True

    @property
    def cancelled(self) -> bool:
        return self.ctx.cancelled

    def batches(self, client_gone: Callable[[], bool] = lambda: False, stall_timeout: float | None = None,
                on_stall: Callable[[], None] = lambda: None) -> Iterator[pa.RecordBatch]:
        """Yield the result batches; stop (raising "query cancelled") once cancelled or the client is gone,
        or once the client has taken no batch for ``stall_timeout`` seconds while the queue was full
        (then ``on_stall()`` runs on the producer's thread: the consumer is blocked in Flight)."""
        root, ctx = self.physical, self.ctx
        ctx.check_cancelled()
        out: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)

        def put(item) -> bool:
            # a full queue pauses the executor here: back-pressure from a slow client
            waited_since = time.monotonic()
            while not ctx.cancelled:
                try:
                    out.put(item, timeout=POLL_SECONDS)
                    return True
                except queue.Full:
                    if stall_timeout is not None and time.monotonic() - waited_since > stall_timeout:
                        self.stalled = True
                        ctx.cancelled = True
                        on_stall()
                    continue
            return False

        def work():
            # the session's executor runs the plan (stages on the worker pool, or inline);
            # this thread only moves result batches into the bounded queue
            try:
                for batch in self.session.execute_stream(root, ctx):
                    self.rows_produced += batch.num_rows
                    if not put(batch):
                        return
            except BaseException as exc:        # handed to the consumer, which raises it
                put(exc)
                return
            finally:
                self.producing = False
            put(_DONE)

        self.producing = True
        n_workers = 1
        workers = [threading.Thread(target=work, name="quarry-doget", daemon=True)]
        for w in workers:
            w.start()
        finished = 0
        try:
            while finished < n_workers:
                try:
                    item = out.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    if client_gone():
                        ctx.cancelled = True
                    ctx.check_cancelled()
                    continue
                if item is _DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise _as_quarry_error(item)
                else:
                    yield from _split(self._conform(item))
            ctx.check_cancelled()
        finally:
            # normal end, error, cancellation or the generator being closed (client gone): stop the workers
            ctx.cancelled = True
            for w in workers:
                w.join(timeout=5)
            ctx.buffers.clear()

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with the announced names and types."""
        columns = [col if col.type == f.type else col.cast(f.type) for col, f in zip(batch.columns, self.schema)]
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)


def _split(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
    """``batch`` in slices of at most about MAX_MESSAGE_BYTES (gRPC clients refuse messages over 16 MiB)."""
    size = batch.nbytes
    if size <= MAX_MESSAGE_BYTES or batch.num_rows <= 1:
        yield batch
        return
    rows = max(1, batch.num_rows * MAX_MESSAGE_BYTES // size)
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


def _as_quarry_error(exc: BaseException) -> BaseException:
    """The error family the session's own executor raises for the same failure."""
    if isinstance(exc, QuarryError):
        return exc
    if isinstance(exc, (pa.ArrowInvalid, OSError)):
        return DataError(f"query failed: {exc}")
    if isinstance(exc, (pa.ArrowNotImplementedError, pa.ArrowTypeError)):
        return ExecutionError(f"query failed: {exc}", hint="this operation is not supported on these types")
    if isinstance(exc, MemoryError):
        return ExecutionError("query ran out of memory", hint="add filters or a LIMIT")
    return exc


class TableRun:
    """A result computed already (a DDL status, an EXPLAIN text), streamed like a query's."""

    def __init__(self, table: pa.Table, schema: pa.Schema | None = None):
        self.schema = schema if schema is not None else table.schema
        if len(self.schema) != table.num_columns:
            raise ExecutionError(f"a result has {table.num_columns} columns, expected {len(self.schema)}",
                                 hint="every parameter row must produce the same columns")
        self.table = table
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def batches(self, client_gone: Callable[[], bool] = lambda: False, stall_timeout: float | None = None,
                on_stall: Callable[[], None] = lambda: None) -> Iterator[pa.RecordBatch]:
        for batch in self.table.to_batches():
            if self.cancelled or client_gone():
                raise ExecutionError("query cancelled")
            yield pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)


__all__ = ["QueryRun", "TableRun"]
