"""Cut a physical plan into stages at its exchanges, and move rows between stages as Arrow IPC files.

A stage is a subtree of the physical plan with no exchange inside. It runs as
one *task* per partition; each task writes its output to one Arrow IPC file,
and the consuming stage reads those files where the exchange used to be::

    Gather                                 stage 2 (result, in the caller)
      HashAggregate(final)                   HashAggregate(final)
        Repartition: hash(k) into 2   ==>      ShuffleRead: stage 1 (hash)
          HashAggregate(partial)           stage 1 (2 tasks, output hashed on k into 2 buckets)
            ParquetScan                      HashAggregate(partial)
                                               ParquetScan

How a stage's output is written and read depends on the exchange it replaces:

* ``hash`` (Repartition): each task splits its batches by the hash of the keys
  into buckets; consumer partition i reads bucket i of every task's file.
* ``broadcast``: every consumer partition reads every task's whole file.
* ``gather``: the single consumer partition reads every task's file.
* ``forward`` (below a MergeSorted): consumer partition i reads task i's file,
  so each sorted run stays separate for the k-way merge.

The top stage (``result``) runs in the calling process and streams its batches.

Backends whose workers share no disk (Ray) keep each task's output in memory
instead, one IPC stream per bucket (:class:`MemoryShuffleWriter`), bucketed the
same way, and read it through a source of their own with the same modes.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections import Counter
import datetime
import decimal
import os
from dataclasses import dataclass, field
from typing import Iterator

import pyarrow as pa
import pyarrow.ipc as ipc

from quarry.logical.expressions import AggCall, Call, Expr, Field
from quarry.logical.functions import definition_of
from quarry.physical.base import COALESCE_BYTES, Coalescer, ExecConfig, ExecContext, ExecNode
from quarry.compute.expr_eval import evaluate_array
from quarry.compute.hashing import partition_ids, split_by_ids
from quarry.physical.join import HashJoinExec, NestedLoopJoinExec
from quarry.physical.operators import BroadcastExec, GatherExec, MergeSortedExec, RepartitionExec


@dataclass
class Stage:
    """One stage: ``root`` runs as ``tasks`` tasks; its output goes to ``mode`` exchange files."""

    id: int
    root: ExecNode
    mode: str                        # hash | broadcast | gather | forward | result
    buckets: int                     # output buckets per task (hash: the consumer's partitions; else 1)
    keys: list = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    exchange: ExecNode | None = None     # the exchange node this stage's output replaces
    # filled in while running
    outputs: dict = field(default_factory=dict)      # task -> (path, bucket index), or a backend's own
    metrics: dict = field(default_factory=lambda: {
        "tasks": 0, "attempts": 0, "rows_in": 0, "rows_out": 0, "bytes_in": 0, "bytes_out": 0,
        "shuffle_read_bytes": 0, "shuffle_write_bytes": 0, "spill_bytes": 0, "time": 0.0})

    @property
    def tasks(self) -> int:
        return self.root.partitions

    def describe(self) -> str:
        text = f"Stage {self.id} ({self.mode}"
        if self.mode == "hash":
            text += f" into {self.buckets}"
        text += f", {self.tasks} task{'s' if self.tasks != 1 else ''})"
        return text


@dataclass
class StageGraph:
    """Stages in dependency order (inputs first); the last is the result stage."""

    stages: list[Stage]
    physical: ExecNode                   # the plan as the planner made it (for EXPLAIN)

    @property
    def result(self) -> Stage:
        return self.stages[-1]

    def by_id(self, stage_id: int) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def pretty(self, analyze: bool = False) -> str:
        """The stages, top (result) first, each with its operators and (``analyze``) its metrics."""
        lines = []
        for stage in reversed(self.stages):
            line = stage.describe()
            if analyze:
                line += "  (" + stage_metric_text(stage) + ")"
            lines.append(line)
            lines.append(stage.root.pretty(1, analyze))
        return "\n".join(lines)


def stage_metric_text(stage: Stage) -> str:
    m = stage.metrics
    parts = [f"tasks={m['tasks']}", f"attempts={m['attempts']}", f"rows_in={m['rows_in']}",
             f"rows_out={m['rows_out']}", f"bytes_in={_bytes(m['bytes_in'])}", f"bytes_out={_bytes(m['bytes_out'])}",
             f"shuffle_read={_bytes(m['shuffle_read_bytes'])}", f"shuffle_write={_bytes(m['shuffle_write_bytes'])}",
             f"spill={_bytes(m['spill_bytes'])}", f"time={m['time'] * 1000:.1f}ms"]
    return " ".join(parts)


def _bytes(n: float) -> str:
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}GB"


class ShuffleReadExec(ExecNode):
    """Read the output files of an earlier stage, where an exchange stood in the plan."""

    name = "ShuffleRead"

    def __init__(self, stage_id: int, mode: str, partitions: int, fields, label: str):
        super().__init__([], fields, partitions)
        self.stage_id = stage_id
        self.mode = mode
        self.label = label
        self.metrics.update({"shuffle_read_bytes": 0})

    def describe(self):
        return f"ShuffleRead: stage {self.stage_id} ({self.mode}) for {self.label}"

    def _execute(self, partition, ctx):
        source = ctx.shuffle_sources[self.stage_id]
        for batch in source.read(self.mode, partition):
            self.add_metric("shuffle_read_bytes", batch.nbytes)
            if batch.schema.names != self.schema.names:
                # a stage shared by equal subtrees names its columns by the first one's ids
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
            yield batch


@dataclass
class FileSource:
    """Where the tasks of a finished stage left their output: one (path, bucket index) per task.

    ``index[b]`` lists the record batches of bucket b in the task's IPC file.
    """

    outputs: list[tuple[str, list[list[int]]]]

    def read(self, mode: str, partition: int) -> Iterator[pa.RecordBatch]:
        if mode == "forward":
            chosen = [self.outputs[partition]] if partition < len(self.outputs) else []
            bucket = None
        else:
            chosen = self.outputs
            bucket = partition if mode == "hash" else None
        for path, index in chosen:
            if bucket is not None and not index[bucket]:
                continue
            # read, not memory-mapped: a mapped file's pages count in the reader's RSS until
            # unmapped, so a consumer of many shuffle files would look as big as their sum
            with pa.OSFile(path) as source:
                reader = ipc.open_file(source)
                numbers = index[bucket] if bucket is not None else range(reader.num_record_batches)
                for i in numbers:
                    yield reader.get_batch(i)


class BucketWriter:
    """Split one task's output batches into ``buckets`` by the hash of ``keys``; subclasses keep them.

    Every backend buckets rows the same way, so a consumer partition reads the same rows
    whether they came through a file (:class:`ShuffleWriter`) or memory (:class:`MemoryShuffleWriter`).
    """

    def __init__(self, schema: pa.Schema, mode: str, keys: list, buckets: int, batch_rows: int = ExecConfig.batch_rows):
        self.schema = schema
        self.mode = mode
        self.keys = keys
        self.buckets = buckets
        self.rows = 0
        self.bytes = 0
        # each bucket's small pieces gathered into batches of some size (a consumer pays per batch);
        # what all buckets hold together stays under COALESCE_BYTES
        self._gather = [Coalescer(batch_rows, max(COALESCE_BYTES // max(buckets, 1), 256 << 10))
                        for _ in range(max(buckets, 1))]

    def write(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        self.bytes += batch.nbytes
        if self.mode != "hash" or self.buckets == 1:
            self._append(0, batch)
            return
        pid = partition_ids([evaluate_array(k, batch) for k in self.keys], self.buckets)
        for i, piece in split_by_ids(batch, pid, self.buckets):
            self._append(i, piece)

    def _append(self, bucket: int, batch: pa.RecordBatch) -> None:
        if batch.schema != self.schema:
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        for ready in self._gather[bucket].add(batch):
            self._store(bucket, ready)

    def flush(self) -> None:
        """Store what the buckets still hold (before the output is finished)."""
        for bucket, gather in enumerate(self._gather):
            for held in gather.flush():
                self._store(bucket, held)

    def _store(self, bucket: int, batch: pa.RecordBatch) -> None:
        raise NotImplementedError

    def close(self) -> int:
        """Finish the output; the bytes it takes."""
        raise NotImplementedError

    def abort(self) -> None:
        """Drop a half-written output (the task failed)."""

    def location(self) -> dict:
        """Where the output is, as fields of the task's reply."""
        raise NotImplementedError


class ShuffleWriter(BucketWriter):
    """Write one task's output batches to an IPC file, split into ``buckets`` by the hash of ``keys``."""

    def __init__(self, path: str, schema: pa.Schema, mode: str, keys: list, buckets: int, batch_rows: int = ExecConfig.batch_rows):
        super().__init__(schema, mode, keys, buckets, batch_rows)
        self.path = path
        self.tmp = path + ".tmp"
        self.index: list[list[int]] = [[] for _ in range(buckets)]
        self._count = 0
        self._sink = pa.OSFile(self.tmp, "wb")
        self._writer = ipc.new_file(self._sink, schema)

    def _store(self, bucket: int, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)
        self.index[bucket].append(self._count)
        self._count += 1

    def close(self) -> int:
        """Finish the file (renamed into place only now, so a dead task leaves no half file); its size."""
        self.flush()
        self._writer.close()
        self._sink.close()
        os.replace(self.tmp, self.path)
        return os.path.getsize(self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
            self._sink.close()
        except Exception:
            pass
        try:
            os.remove(self.tmp)
        except OSError:
            pass

    def location(self) -> dict:
        return {"path": self.path, "index": self.index}


class MemoryShuffleWriter(BucketWriter):
    """Keep one task's output in memory: one Arrow IPC stream per bucket (None for an empty bucket).

    For backends that move task output through their own store (Ray's object store)
    rather than files on a disk every worker sees.
    """

    def __init__(self, schema: pa.Schema, mode: str, keys: list, buckets: int, batch_rows: int = ExecConfig.batch_rows):
        super().__init__(schema, mode, keys, buckets, batch_rows)
        self._sinks: list[pa.BufferOutputStream | None] = [None] * buckets
        self._writers: list[ipc.RecordBatchStreamWriter | None] = [None] * buckets
        self.buffers: list[pa.Buffer | None] = [None] * buckets

    def _store(self, bucket: int, batch: pa.RecordBatch) -> None:
        writer = self._writers[bucket]
        if writer is None:
            self._sinks[bucket] = pa.BufferOutputStream()
            writer = self._writers[bucket] = ipc.new_stream(self._sinks[bucket], self.schema)
        writer.write_batch(batch)

    def close(self) -> int:
        self.flush()
        for i, writer in enumerate(self._writers):
            if writer is not None:
                writer.close()
                self.buffers[i] = self._sinks[i].getvalue()
        self._sinks = [None] * self.buckets
        self._writers = [None] * self.buckets
        return sum(b.size for b in self.buffers if b is not None)

    def abort(self) -> None:
        self._sinks = [None] * self.buckets
        self._writers = [None] * self.buckets
        self.buffers = [None] * self.buckets

    def location(self) -> dict:
        return {"buffers": self.buffers}


class PadPartitionsExec(ExecNode):
    """``child`` with more partitions: the extra ones are empty (a probe side joined to a broadcast)."""

    name = "PadPartitions"

    def __init__(self, child: ExecNode, partitions: int):
        super().__init__([child], child.fields, partitions)

    def describe(self):
        return f"PadPartitions: {self.children[0].partitions} to {self.partitions}"

    def _execute(self, partition, ctx):
        if partition < self.children[0].partitions:
            yield from self.children[0].execute(partition, ctx)


def _is_exchange(node: ExecNode) -> str | None:
    if isinstance(node, RepartitionExec):
        return "hash"
    if isinstance(node, BroadcastExec):
        return "broadcast"
    if isinstance(node, GatherExec):
        return "gather"
    return None


# attributes of operators that only label them for display, or are derived from others
_NOT_SEMANTIC = {"children", "metrics", "schema", "label", "splits", "acero_filter", "dictionary_names",
                 "estimates", "bases", "runtime_filter", "runtime_filters",
                 "dictionary_keys", "stage_graph", "name"}


class _Volatile(Exception):
    pass


def signature(node: ExecNode, keys=(), mode: str = "", buckets: int = 0, filters: dict | None = None):
    """A value equal for two subtrees exactly when they compute the same rows (up to column ids).

    Spark's ReuseExchange idea: a query that spells the same subquery twice (TPC-H Q15's
    revenue view, Q11's HAVING subquery, Q21's two scans of late lineitems) shuffles it
    once. Column ids are replaced by the order in which they first appear, so two copies
    that differ only in ids and table aliases match, while any other difference (an
    operator, a constant, a column's position, another table object) does not. A subtree
    with a volatile function (``random()``) never matches, and returns None.

    Join filters on scans (``runtime_filters``) count only if ``filters`` is given: it maps a
    filter id to a value standing for what the filter holds (the signature of its join's build
    side and key), so copies filtered by equal build sides match and others do not.
    """
    ids: dict[int, int] = {}

    def norm(obj):
        if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
            return obj
        if isinstance(obj, (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal)):
            return ("v", type(obj).__name__, repr(obj))
        if isinstance(obj, Field):
            return ("F", ids.setdefault(obj.id, len(ids)), obj.name, str(obj.dtype))
        if isinstance(obj, ExecNode):
            attrs = tuple((k, norm(v)) for k, v in sorted(vars(obj).items()) if k not in _NOT_SEMANTIC)
            if filters is not None and getattr(obj, "runtime_filters", None):
                attrs += (("runtime_filters", tuple(sorted(
                    repr((filters.get(fid, ("O", fid)), norm(field))) for fid, field in obj.runtime_filters))),)
            return (type(obj).__name__, obj.partitions, attrs, tuple(norm(c) for c in obj.children))
        # a volatile call (random(), a Python UDF made with deterministic=False), by its definition
        if isinstance(obj, (Call, AggCall)) and \
                not getattr(definition_of(obj), "deterministic", isinstance(obj, AggCall)):
            raise _Volatile
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and isinstance(obj, Expr):
            return (type(obj).__name__,) + tuple(norm(getattr(obj, f.name)) for f in dataclasses.fields(obj))
        if isinstance(obj, (list, tuple)):
            return ("L",) + tuple(norm(x) for x in obj)
        if isinstance(obj, (set, frozenset)):
            return ("S",) + tuple(sorted(repr(norm(x)) for x in obj))
        if isinstance(obj, dict):
            return ("D",) + tuple(sorted((repr(norm(k)), repr(norm(v))) for k, v in obj.items()))
        if isinstance(obj, pa.DataType):
            return ("T", str(obj))
        if isinstance(obj, pa.Scalar):
            return ("V", str(obj.type), repr(obj.as_py()))
        return ("O", id(obj))      # anything else (a table provider, a pyarrow table): the same object only

    try:
        return (mode, buckets, norm(node), norm(list(keys)))
    except _Volatile:
        return None


def cut_stages(physical: ExecNode, stream_result: bool = False) -> StageGraph:
    """Split ``physical`` at its exchanges into stages (see the module docstring).

    The plan's own nodes are reused, not copied, so metrics that tasks report back
    land on the operators EXPLAIN ANALYZE prints. Two exchanges over equal subtrees
    (see :func:`signature`) share one stage.

    With ``stream_result`` a Gather at the top of the plan over a pipeline that only streams
    (see :func:`streamed_gather`) stays in the result stage, so its rows leave as they are
    produced instead of after a stage of tasks has written them all.
    """
    try:
        from quarry.physical.operators import MergeSortedExec
    except ImportError:        # pragma: no cover - older trees without a k-way merge
        MergeSortedExec = ()
    stages: list[Stage] = []
    by_signature: dict = {}
    # join-filter identities are needed only when a shared stage has filtered scans: made once, then
    filters = functools.cache(lambda: _filter_identities(physical))

    def new_stage(child: ExecNode, mode: str, buckets: int, keys, exchange) -> Stage:
        # a full signature walks the whole subtree, and nested exchanges made that quadratic (Q2: 58
        # ms); only subtrees whose cheap fingerprint another exchange shares can be equal
        twins = fingerprints[(_fingerprint(child, memo), mode, buckets, len(keys))] > 1
        sig = signature(child, keys, mode, buckets) if twins else None
        if sig is not None and sig in by_signature:
            shared, strict = by_signature[sig]
            # equal but for join filters (one copy feeds a join that filters it): sharing the stage
            # saves a whole computation, the filters only part of one, so the shared copy drops
            # them, unless both copies are filtered alike (by equal build sides: TPC-H Q11)
            if signature(child, keys, mode, buckets, filters()) != strict:
                for node in shared.root.walk():
                    if getattr(node, "runtime_filters", None):
                        node.runtime_filters = []
            return shared
        inputs: list[int] = []
        root = rewrite(child, inputs)
        stage = Stage(len(stages) + 1, root, mode, buckets, list(keys), inputs, exchange)
        stages.append(stage)
        if sig is not None:
            # the filter-aware signature differs only where a scan below carries join filters
            filtered = any(getattr(n, "runtime_filters", None) for n in child.walk())
            by_signature[sig] = (stage, signature(child, keys, mode, buckets, filters()) if filtered else sig)
        return stage

    def rewrite(node: ExecNode, inputs: list[int]) -> ExecNode:
        mode = _is_exchange(node)
        if mode is not None and node is not kept_gather:
            child = node.children[0]
            stage = new_stage(child, mode, *_exchange_output(node, mode), node)
            if stage.id not in inputs:
                inputs.append(stage.id)
            return ShuffleReadExec(stage.id, mode, node.partitions, node.fields, node.describe())
        if isinstance(node, MergeSortedExec):
            child = node.children[0]
            stage = new_stage(child, "forward", 1, [], None)
            if stage.id not in inputs:
                inputs.append(stage.id)
            reader = ShuffleReadExec(stage.id, "forward", child.partitions, child.fields, "sorted runs")
            node.children = [reader]
            return node
        node.children = [rewrite(c, inputs) for c in node.children]
        return node

    # the cut replaces children, so it works on a shallow copy of every node: the planner's tree stays
    # intact for EXPLAIN and for a second run of the same plan
    plan = _copy_tree(physical)
    memo: dict = {}
    fingerprints = Counter(_exchange_fingerprints(plan, memo))
    kept_gather = streamed_gather(plan) if stream_result else None
    if kept_gather is None and _worker_only_in_stage(plan):
        # the result stage runs in the calling process, beyond the reach of the pool's memory cap and
        # of killing a task: a join there (a plan over inputs of one partition has no exchange under
        # it), or a Python function (which only a kill stops mid-batch when its query is cancelled),
        # runs as a stage on the workers instead, and the result stage reads its rows
        plan = GatherExec(plan)
    result_inputs: list[int] = []
    root = rewrite(plan, result_inputs)
    stages.append(Stage(len(stages) + 1, root, "result", 1, [], result_inputs, None))
    return StageGraph(stages, physical)


def _fingerprint(node: ExecNode, memo: dict) -> tuple:
    """What two subtrees with equal signatures (see :func:`signature`) must share: operator types,
    partitions and column types, without ids or constants; computed once per node (``memo``)."""
    fp = memo.get(id(node))
    if fp is None:
        fp = (type(node).__name__, node.partitions, tuple(str(f.dtype) for f in node.fields),
              tuple(_fingerprint(c, memo) for c in node.children))
        memo[id(node)] = fp
    return fp


def _exchange_output(node: ExecNode, mode: str) -> tuple[int, list]:
    """(buckets per task, hash keys) of the stage that replaces exchange ``node``."""
    return (node.partitions, node.keys) if mode == "hash" else (1, [])


def _exchange_fingerprints(plan: ExecNode, memo: dict):
    """The fingerprint of every subtree ``cut_stages`` may make a stage of, as ``new_stage`` keys it."""
    for node in plan.walk():
        mode = _is_exchange(node)
        if mode is not None:
            buckets, keys = _exchange_output(node, mode)
            yield (_fingerprint(node.children[0], memo), mode, buckets, len(keys))
        elif isinstance(node, MergeSortedExec):
            yield (_fingerprint(node.children[0], memo), "forward", 1, 0)


def _worker_only_in_stage(node: ExecNode) -> bool:
    """Whether a join or a Python function (a UDF, ``map_batches``, a grouped map, a table function)
    runs in ``node``'s own stage: under it, but above every exchange (and every sorted merge, whose input
    is a stage of its own)."""
    from quarry.physical.udf import MapBatchesExec, MapGroupsExec, TableFunctionExec, UDFFilterExec, UDFProjectExec
    if isinstance(node, (HashJoinExec, NestedLoopJoinExec, UDFProjectExec, UDFFilterExec, MapBatchesExec,
                         MapGroupsExec, TableFunctionExec)):
        return True
    if _is_exchange(node) is not None or isinstance(node, MergeSortedExec):
        return False
    return any(_worker_only_in_stage(c) for c in node.children)


def streamed_gather(root: ExecNode) -> ExecNode | None:
    """The Gather at the top of ``root`` (under only filters, projections and limits) whose input
    is a pipeline that streams: scans, filters, projections, limits and unions, no exchange, no
    operator that holds rows (join, aggregate, sort, window). None if there is none.

    Such a pipeline holds a few batches whatever its size, so running it in the result stage
    costs the calling process no memory to speak of, and its first rows leave at once.
    """
    from quarry.physical.operators import (
        FilterExec, LimitExec, MemoryScanExec, ParquetScanExec, ProjectExec, UnionExec, ValuesExec,
    )
    streaming = (ParquetScanExec, MemoryScanExec, ValuesExec, FilterExec, ProjectExec, LimitExec, UnionExec)
    node = root
    while isinstance(node, (FilterExec, ProjectExec, LimitExec)) and len(node.children) == 1:
        node = node.children[0]
    if not isinstance(node, GatherExec):
        return None
    if all(type(n) in streaming for n in node.children[0].walk()):
        return node
    return None


def _filter_identities(physical: ExecNode) -> dict:
    """Filter id -> what the filter holds: the signature of its join's build side and key. A build
    side without one (a volatile function) is left out, so its filter matches no other."""
    from quarry.physical.join import HashJoinExec
    out = {}
    for node in physical.walk():
        if isinstance(node, HashJoinExec) and node.runtime_filter is not None:
            fid, key = node.runtime_filter
            identity = signature(node.children[node.build_side], [key])
            if identity is not None:
                out[fid] = repr(identity)
    return out


def _copy_tree(node: ExecNode) -> ExecNode:
    clone = copy.copy(node)
    clone.metrics = dict(node.metrics)
    clone.children = [_copy_tree(c) for c in node.children]
    return clone


def task_counters(root: ExecNode, ctx: ExecContext) -> dict:
    """rows/bytes in (what the stage's leaves produced) and spill bytes of one task."""
    rows_in = bytes_in = shuffle_read = 0
    for node in root.walk():
        if not node.children:
            rows_in += int(node.metrics.get("rows", 0))
            bytes_in += int(node.metrics.get("bytes_read", 0) or node.metrics.get("shuffle_read_bytes", 0))
        if isinstance(node, ShuffleReadExec):
            shuffle_read += int(node.metrics.get("shuffle_read_bytes", 0))
    spill = ctx._memory.spill_bytes if ctx._memory is not None else 0
    return {"rows_in": rows_in, "bytes_in": bytes_in, "shuffle_read_bytes": shuffle_read, "spill_bytes": spill}


