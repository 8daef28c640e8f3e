"""The physical plan: operators over streams of ``pyarrow.RecordBatch``, one stream per partition.

Every operator has ``partitions`` output partitions and ``execute(i, ctx)``
yields partition i's batches. Batches name their columns by field key
(``name#id``), so no two columns ever collide. Operators record metrics (rows,
batches, time, plus their own counters) for EXPLAIN ANALYZE.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator

import pyarrow as pa

from quarry.compute.udf import RUNNING
from quarry.logical.expressions import Field


@dataclass
class ExecConfig:
    """Knobs the physical planner and operators read."""

    target_partitions: int = 1
    batch_rows: int = 1 << 17
    broadcast_rows: int = 200_000
    threads: int = 2
    # bytes of operator state (hash tables, sort buffers) one task may hold before it spills
    memory_limit: int = 2 << 30
    spill_dir: str | None = None     # where spill files go (default: the system temp directory)
    task_max_attempts: int = 3       # runs of a task whose worker died before the query fails
    runtime_filters: bool = True     # join filters from build sides applied in probe scans
    arrow_threads: bool = True       # may Arrow's thread pool run kernels (False for workers=0)
    # bytes a query's tasks may hold in worker processes, all together, before they are killed
    memory_cap: int | None = None


@dataclass(eq=False)
class ExecContext:
    """State of one query run: configuration, and exchange buffers shared by consumers."""

    config: ExecConfig = field(default_factory=ExecConfig)
    buffers: dict = field(default_factory=dict)
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    _exchange_locks: dict = field(default_factory=dict)
    # shuffle outputs of earlier stages, by stage id (set by the stage executor; see
    # quarry.execution.shuffle.ShuffleReadExec)
    shuffle_sources: dict = field(default_factory=dict)
    _memory: object = None
    # a worker process asks its pool whether the query was cancelled, and tells it how far its
    # scans got (see quarry.execution.pool)
    cancel_check: object = None
    scan_progress: object = None
    deadline: float | None = None     # time.monotonic() after which the query is cancelled
    origin: object = None             # what started the query (a DataFrame's plan), for cancel(origin)
    # join filters known so far, by id (see quarry.physical.runtime_filter)
    runtime_filters: dict = field(default_factory=dict)

    @property
    def memory(self):
        """The memory budget operators of this run reserve their state from (see physical/spill.py)."""
        with self.lock:
            if self._memory is None:
                from quarry.physical.spill import MemoryBudget
                self._memory = MemoryBudget(self.config.memory_limit, self.config.spill_dir)
            return self._memory

    def release(self) -> None:
        """Drop exchange buffers and remove any spill files left (after success, error or cancel)."""
        self.buffers.clear()
        if self._memory is not None:
            self._memory.cleanup()

    def exchange_lock(self, key) -> threading.Lock:
        """The lock that makes an exchange compute its buffers exactly once."""
        with self.lock:
            return self._exchange_locks.setdefault(key, threading.Lock())

    def check_cancelled(self):
        if self.cancelled or (self.cancel_check is not None and self.cancel_check()):
            from quarry.errors import ExecutionError
            raise ExecutionError("query cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            from quarry.errors import ExecutionError
            self.cancelled = True
            raise ExecutionError("query timed out", hint="raise the `timeout` setting, or add filters")


def schema_of(fields: tuple[Field, ...] | list[Field]) -> pa.Schema:
    """The physical schema for logical fields: one column per field, named by key."""
    # nullability is a logical property; physical batches are all declared nullable so that
    # operators never disagree with their inputs about it
    return pa.schema([pa.field(f.key, f.dtype, True) for f in fields])


def empty_table(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


class ExecNode:
    """Base of physical operators."""

    name = "Exec"

    def __init__(self, children: list["ExecNode"], fields, partitions: int):
        self.children = list(children)
        self.fields = tuple(fields)
        self.schema = schema_of(self.fields)
        self.partitions = partitions
        self.metrics: dict[str, float] = {"rows": 0, "batches": 0, "time": 0.0}

    # -- execution --------------------------------------------------------------------------

    def execute(self, partition: int, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """Yield the batches of one output partition, recording rows, batches and time."""
        it = self._execute(partition, ctx)
        while True:
            ctx.check_cancelled()
            start = time.perf_counter()
            outer, RUNNING.node = getattr(RUNNING, "node", None), self    # whose metrics a Python UDF adds to
            try:
                batch = next(it)
            except StopIteration:
                self.add_metric("time", time.perf_counter() - start)
                return
            finally:
                RUNNING.node = outer
            elapsed = time.perf_counter() - start
            with _METRICS_LOCK:
                self.metrics["time"] += elapsed
                if batch.num_rows:
                    self.metrics["rows"] += batch.num_rows
                    self.metrics["batches"] += 1
            if batch.num_rows == 0:
                continue
            yield batch

    def add_metric(self, name: str, value: float) -> None:
        """Add to a counter (partitions may run on several threads)."""
        with _METRICS_LOCK:
            self.metrics[name] = self.metrics.get(name, 0) + value

    def note_peak(self, name: str, value: float) -> None:
        """Raise a ``peak_...`` metric to ``value`` if it is higher (a maximum over partitions and tasks)."""
        with _METRICS_LOCK:
            if value > self.metrics.get(name, 0):
                self.metrics[name] = value

    def _execute(self, partition: int, ctx: ExecContext) -> Iterator[pa.RecordBatch]:  # pragma: no cover
        raise NotImplementedError

    def collect(self, partition: int, ctx: ExecContext) -> pa.Table:
        """All of one partition as a Table (an empty one with the schema if there are no rows)."""
        batches = list(self.execute(partition, ctx))
        if not batches:
            return self.schema.empty_table()
        return pa.Table.from_batches(batches, schema=self.schema)

    def collect_child(self, child: "ExecNode", partition: int, ctx: ExecContext) -> pa.Table:
        batches = list(child.execute(partition, ctx))
        if not batches:
            return child.schema.empty_table()
        return pa.Table.from_batches(batches, schema=child.schema)

    # -- display ------------------------------------------------------------------------------

    def describe(self) -> str:
        return self.name

    def exclusive_time(self) -> float:
        return max(self.metrics["time"] - sum(c.metrics["time"] for c in self.children), 0.0)

    def metric_text(self) -> str:
        m = self.metrics
        parts = [f"rows={int(m['rows'])}", f"batches={int(m['batches'])}", f"time={self.exclusive_time() * 1000:.1f}ms"]
        for k, v in m.items():
            if k in ("rows", "batches", "time"):
                continue
            parts.append(f"{k}={_fmt(v)}")
        return " ".join(parts)

    def pretty(self, indent: int = 0, analyze: bool = False) -> str:
        line = "  " * indent + self.describe()
        if self.partitions != 1:
            line += f" [partitions={self.partitions}]"
        if analyze:
            line += "  (" + self.metric_text() + ")"
        lines = [line]
        for c in self.children:
            lines.append(c.pretty(indent + 1, analyze))
        return "\n".join(lines)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


_METRICS_LOCK = threading.Lock()


def metric_deltas(metrics: dict, before: dict) -> dict:
    """What a task added to an operator's metrics; a ``peak_`` metric is its value (peaks merge by max)."""
    return {k: v if is_peak_metric(k) else v - before.get(k, 0) for k, v in metrics.items()}


def is_peak_metric(name: str) -> bool:
    """Metrics named ``peak_...`` are maxima over tasks, not sums."""
    return name.startswith("peak_")


def merge_metrics(into: dict, delta: dict) -> None:
    """Add a task's metric deltas to an operator's metrics (maxima for ``peak_`` metrics)."""
    for key, value in delta.items():
        if is_peak_metric(key):
            into[key] = max(into.get(key, 0), value)
        else:
            into[key] = into.get(key, 0) + value


def run_partitions(node: ExecNode, ctx: ExecContext) -> list[list[pa.RecordBatch]]:
    """All batches of every partition of ``node``, partitions running on threads.

    Arrow's readers and kernels release the GIL, so partitions of a stage really
    run in parallel; each call gets its own threads, so nested exchanges cannot
    starve each other.
    """
    n = node.partitions
    if n == 1:
        return [list(node.execute(0, ctx))]
    with ThreadPoolExecutor(max_workers=min(n, ctx.config.threads)) as pool:
        return list(pool.map(lambda p: list(node.execute(p, ctx)), range(n)))


_DONE = object()


def stream_partitions(node: ExecNode, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
    """The batches of every partition of ``node`` as they are produced, partitions on threads.

    Unlike :func:`run_partitions` nothing is collected: a bounded queue hands batches to the
    caller, so a gather or the result of an in-process query holds a few batches, not the
    partitions. If the caller stops early (or fails), the producing threads stop at their
    next batch.
    """
    n = node.partitions
    if n == 1:
        yield from node.execute(0, ctx)
        return
    import queue
    out: queue.Queue = queue.Queue(maxsize=2 * min(n, ctx.config.threads) + 2)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce(partition: int) -> None:
        try:
            for batch in node.execute(partition, ctx):
                if not put(batch):
                    return
        except BaseException as exc:       # handed to the consumer, which raises it
            put(("error", exc))
            return
        put(_DONE)

    pool = ThreadPoolExecutor(max_workers=min(n, ctx.config.threads))
    try:
        for p in range(n):
            pool.submit(produce, p)
        finished = 0
        while finished < n:
            item = out.get()
            if item is _DONE:
                finished += 1
            elif isinstance(item, tuple):
                raise item[1]
            else:
                yield item
    finally:
        stop.set()
        pool.shutdown(wait=True)


def _fmt(v) -> str:
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.3f}"
    return str(int(v))


COALESCE_ROWS = 1 << 14        # batches smaller than this are gathered before they go on (see Coalescer)
COALESCE_BYTES = 8 << 20       # ... unless the gathered rows already take this many bytes


class Coalescer:
    """Gather small batches, in order, into batches of at least ``min_rows`` rows.

    A selective filter leaves a few thousand rows of each row group (TPC-H Q5's join filter
    keeps 3% of lineitem's), and a shuffle splits those again by partition; every operator
    above pays a fixed cost per batch (key columns evaluated, Acero's source and output batches
    rebuilt), which at 1,700 rows a batch was most of a five-join stage. Only batches smaller
    than ``min_rows`` are held, until together they reach it (or ``max_bytes``); ``min_rows`` is
    at most half of ``batch_rows``, so a gathered batch stays within the session's batch size.
    """

    def __init__(self, batch_rows: int, max_bytes: int = COALESCE_BYTES):
        self.min_rows = max(1, min(COALESCE_ROWS, batch_rows // 2))
        self.max_bytes = max_bytes
        self.pending: list[pa.RecordBatch] = []
        self.rows = 0
        self.bytes = 0

    def add(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        """The batches ready to go on once ``batch`` is added (in order; often none)."""
        if batch.num_rows >= self.min_rows:
            return [*self.flush(), batch]
        if batch.num_rows == 0:
            return []
        self.pending.append(batch)
        self.rows += batch.num_rows
        self.bytes += batch.nbytes
        if self.rows >= self.min_rows or self.bytes >= self.max_bytes:
            return self.flush()
        return []

    def flush(self) -> list[pa.RecordBatch]:
        """What is held, as one batch (none if nothing is)."""
        if not self.pending:
            return []
        out = self.pending[0] if len(self.pending) == 1 else pa.concat_batches(self.pending)
        self.pending, self.rows, self.bytes = [], 0, 0
        return [out]


def batches_of(table: pa.Table, max_rows: int) -> Iterator[pa.RecordBatch]:
    """Split a table into record batches of at most ``max_rows``."""
    if table.num_rows == 0:
        return
    for b in table.to_batches(max_chunksize=max_rows):
        if b.num_rows:
            yield b
