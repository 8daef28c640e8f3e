"""Run a stage graph: each stage's tasks once its inputs are done, the result stage in the caller.

:class:`StageRun` is one query's run. The calling thread owns all scheduling
state; backends only deliver task replies into its queue. A stage becomes
ready when every stage it reads is complete; all tasks of all ready stages are
submitted at once, so independent stages (the two sides of a join) overlap.
When the result stage's inputs are complete, the caller runs it and streams its
batches.

However the run ends (rows all read, an error, Ctrl-C, cancel or timeout), the
query's queued and running tasks are stopped and its directory of shuffle
files is removed.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import pyarrow as pa

from quarry.execution import serialize
from quarry.logical.expressions import ColumnRef
from quarry.execution.stages import FileSource, Stage, StageGraph, task_counters
from quarry.physical.base import ExecConfig, ExecContext, merge_metrics

POLL = 0.1       # seconds between checks for cancellation while waiting for tasks


SWAP_BUILD_RATIO = 2.0     # a join hashes its probe side instead when the build side wrote this many times more
DRIVER_STAGE_ROWS = 20_000  # a one-task stage that only scans (and filters) at most this many rows runs here


def _shuffled_sides(join):
    """(build, probe) of a join whose two inputs are both hash-exchange reads, else None."""
    from quarry.execution.stages import ShuffleReadExec
    build, probe = (join.children[0], join.children[1]) if join.build_left else (join.children[1], join.children[0])
    if isinstance(build, ShuffleReadExec) and isinstance(probe, ShuffleReadExec) \
            and build.mode == "hash" and probe.mode == "hash":
        return build, probe
    return None


@dataclass
class Progress:
    """How far a query got: stages and tasks done out of the totals. ``str()`` gives a short line."""

    query: int
    stages_done: int
    stages_total: int
    tasks_done: int
    tasks_total: int
    running: list[int] = field(default_factory=list)    # ids of stages with tasks in flight
    elapsed: float = 0.0
    finished: bool = False
    # the query's Parquet scans: rows read, and bytes of the needed columns read or skipped (pruned),
    # out of the totals their row groups hold (from the footers); 0 totals when nothing scans Parquet
    rows_scanned: int = 0
    rows_to_scan: int = 0
    bytes_scanned: int = 0
    bytes_to_scan: int = 0

    @property
    def fraction(self) -> float:
        return self.tasks_done / self.tasks_total if self.tasks_total else 1.0

    @property
    def scan_fraction(self) -> float | None:
        """How much of the input the scans have got through (0..1), or None without Parquet scans."""
        if self.bytes_to_scan:
            return min(1.0, self.bytes_scanned / self.bytes_to_scan)
        return min(1.0, self.rows_scanned / self.rows_to_scan) if self.rows_to_scan else None

    def __str__(self) -> str:
        return f"stage {self.stages_done}/{self.stages_total} · tasks {self.tasks_done}/{self.tasks_total}"


class StageRun:
    """One execution of a :class:`StageGraph` on a backend (the process pool or Ray)."""

    def __init__(self, graph: StageGraph, backend, config: ExecConfig, ctx: ExecContext,
                 progress: Callable[[Progress], None] | None = None, faults: dict | None = None,
                 listener=None):
        from quarry.execution.pool import new_query_id
        self.graph = graph
        self.backend = backend
        self.config = config
        self.ctx = ctx
        self.query = new_query_id()
        self.progress_callback = progress
        self.faults = faults or {}
        # told of stages submitted and completed and of every task attempt's reply (the web UI's
        # quarry.ui.events.QueryRecord); None when nothing listens
        self.listener = listener
        self.replies: queue.Queue = queue.Queue()
        self.done: set[int] = set()
        self.submitted: set[int] = set()
        self.remaining: dict[int, int] = {}
        self.in_flight = 0
        self.tasks_done = 0
        self.started = time.perf_counter()
        self.dir: str | None = None
        self.plans: dict[int, bytes] = {}
        self.table_files: dict = {}
        self.scans = _parquet_scans(graph)          # for Progress: (scan, rows, bytes) from the footers
        self.progress = self._progress()
        # partitioned joins that may become broadcast joins once their build side is known:
        # build stage id -> [(join, index of the probe child, probe stage)]; probe stages wait
        self.adaptive: dict[int, list] = {}
        self.deferred: set[int] = set()
        self._find_adaptive_joins()
        # join filters (quarry.physical.runtime_filter): the build stage that makes each one, and
        # the keys it collects; stages whose scans apply one wait for that stage
        self.filter_sources: dict[int, dict[int, object]] = {}      # stage id -> {filter id: build key}
        self.filter_waits: dict[int, set[int]] = {}                  # stage id -> build stages it waits for
        self.filter_parts: dict[int, list] = {}                      # filter id -> one JoinFilter per task
        self.filters: dict[int, object] = ctx.runtime_filters        # filter id -> JoinFilter, once known
        self._filter_wire: dict[int, tuple] = {}                     # filter id -> (filter, its Encoded)
        self._wire_lock = threading.Lock()                           # table_files is shared by the pool's thread
        self._plan_filters()

    # -- driving ------------------------------------------------------------------------------

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Run every stage, then yield the result stage's batches; clean up however it ends."""
        try:
            result = self.graph.result
            if any(s.mode != "result" for s in self.graph.stages):
                root = self.config.spill_dir or tempfile.gettempdir()
                os.makedirs(root, exist_ok=True)
                self.dir = tempfile.mkdtemp(prefix=f"quarry-q{self.query}-", dir=root)
                self._report()          # nothing scanned yet: reported before a worker can start
                self._submit_ready()
                while not self._ready(result):
                    self._wait_one()
            self.ctx.shuffle_sources = {sid: self._source(self.graph.by_id(sid)) for sid in result.inputs}
            if self.listener is not None:
                self.listener.stage_submitted(result)
            start = time.perf_counter()
            rows = 0
            for batch in result.root.execute(0, self.ctx):
                rows += batch.num_rows
                yield batch
            self._finish_result(result, rows, time.perf_counter() - start)
        finally:
            self._stop()

    def _plan_filters(self) -> None:
        """Find where each join filter is made and used; drop those whose wait would be circular."""
        from quarry.execution.stages import ShuffleReadExec
        from quarry.physical.join import HashJoinExec
        from quarry.physical.operators import ParquetScanExec
        source_of: dict[int, int] = {}
        for stage in self.graph.stages:
            for node in stage.root.walk():
                if isinstance(node, HashJoinExec) and node.runtime_filter is not None:
                    build = node.children[node.build_side]
                    if isinstance(build, ShuffleReadExec):
                        fid, key = node.runtime_filter
                        source = self.graph.by_id(build.stage_id)
                        # a stage shared by equal subtrees names its columns by the first one's ids
                        by_position = {f.id: g for f, g in zip(build.fields, source.root.fields)}
                        key = key.transform_up(lambda e: ColumnRef(by_position[e.field.id])
                                               if isinstance(e, ColumnRef) and e.field.id in by_position else e)
                        source_of[fid] = source.id
                        self.filter_sources.setdefault(source.id, {})[fid] = key
        for stage in self.graph.stages:
            for node in stage.root.walk():
                if not isinstance(node, ParquetScanExec) or not node.runtime_filters:
                    continue
                kept = []
                for fid, field in node.runtime_filters:
                    source = source_of.get(fid)
                    if source is None or source == stage.id or stage.id in self._upstream(source):
                        continue          # no build stage to wait for, or it needs this stage's output
                    kept.append((fid, field))
                    self.filter_waits.setdefault(stage.id, set()).add(source)
                node.runtime_filters = kept

    def _upstream(self, stage_id: int) -> set[int]:
        """Every stage ``stage_id`` waits for, directly or not: stages whose output it reads, and the
        build stages of the join filters its scans apply (so no wait can close a circle)."""
        seen: set[int] = set()
        todo = list(self.graph.by_id(stage_id).inputs) + list(self.filter_waits.get(stage_id, ()))
        while todo:
            sid = todo.pop()
            if sid not in seen:
                seen.add(sid)
                todo.extend(self.graph.by_id(sid).inputs)
                todo.extend(self.filter_waits.get(sid, ()))
        return seen

    def _ready(self, stage: Stage) -> bool:
        return set(stage.inputs) <= self.done and self.filter_waits.get(stage.id, set()) <= self.done

    def _find_adaptive_joins(self) -> None:
        from quarry.physical.join import HashJoinExec
        from quarry.execution.stages import ShuffleReadExec
        if self.config.target_partitions <= 1:
            return
        readers: dict[int, int] = {}
        for stage in self.graph.stages:
            for node in stage.root.walk():
                if isinstance(node, ShuffleReadExec):
                    readers[node.stage_id] = readers.get(node.stage_id, 0) + 1
        for stage in self.graph.stages:
            for node in stage.root.walk():
                if not isinstance(node, HashJoinExec) or not node.may_broadcast_build():
                    continue
                sides = _shuffled_sides(node)
                if sides is None:
                    continue
                build, probe = sides
                p = 1 if node.build_left else 0
                probe_stage = self.graph.by_id(probe.stage_id)
                if probe_stage.tasks > node.partitions or probe_stage.id in self.deferred \
                        or readers.get(probe_stage.id, 0) > 1:     # a shared stage must still run
                    continue
                self.adaptive.setdefault(build.stage_id, []).append((stage, node, p, probe_stage))
                self.deferred.add(probe_stage.id)

    def _decide_adaptive_joins(self, build_stage: Stage) -> None:
        """The build side of some partitioned joins is complete: broadcast it if it turned out small.

        The join then reads all of the build side in every partition, and the probe side's
        stage is not run on its own: its plan moves into the join's stage, unshuffled.
        """
        from quarry.execution.stages import PadPartitionsExec, ShuffleReadExec
        for stage, join, probe_index, probe_stage in self.adaptive.pop(build_stage.id, []):
            self.deferred.discard(probe_stage.id)
            if not join.broadcast_pays_now(build_stage.metrics["rows_out"], self.config) or stage.id in self.submitted:
                continue
            build_index = 1 - probe_index
            old = join.children[build_index]
            children = list(join.children)
            children[build_index] = ShuffleReadExec(old.stage_id, "broadcast", join.partitions, old.fields,
                                                    old.label)
            probe_root = probe_stage.root
            children[probe_index] = probe_root if probe_root.partitions == join.partitions else \
                PadPartitionsExec(probe_root, join.partitions)
            join.children = children
            join.add_metric("switched_to_broadcast", 1)
            stage.inputs = [i for i in stage.inputs if i != probe_stage.id] + probe_stage.inputs
            self.graph.stages.remove(probe_stage)
            # joins that wait on stages inside the moved plan now live in this stage
            for entries in self.adaptive.values():
                for k, (s, j, pi, ps) in enumerate(entries):
                    if s is probe_stage:
                        entries[k] = (stage, j, pi, ps)

    def _choose_build_sides(self, stage: Stage) -> None:
        """Hash the smaller input of each partitioned join in ``stage``, by the bytes its input
        stages actually wrote (both are complete now), whatever side the estimates chose.

        A join's output does not depend on which side it hashes, and a bad estimate (a join
        filter, a correlated predicate) can make the planner build on the side 75 times larger
        (Q7 at SF 10 built 1.46M lineitem rows against 120k customers)."""
        from quarry.physical.join import HashJoinExec
        for node in stage.root.walk():
            if not isinstance(node, HashJoinExec) or node.mode != "partitioned" or node.null_aware:
                continue
            sides = _shuffled_sides(node)
            if sides is None:
                continue
            build, probe = sides
            build_bytes = self.graph.by_id(build.stage_id).metrics["shuffle_write_bytes"]
            probe_bytes = self.graph.by_id(probe.stage_id).metrics["shuffle_write_bytes"]
            if build_bytes > SWAP_BUILD_RATIO * max(probe_bytes, 1):
                node.build_left = not node.build_left
                node.add_metric("build_side_swapped", 1)

    def _submit_ready(self) -> None:
        for stage in self.graph.stages[:-1]:
            if stage.id in self.submitted or stage.id in self.deferred or not self._ready(stage):
                continue
            self.submitted.add(stage.id)
            self._choose_build_sides(stage)
            self.remaining[stage.id] = stage.tasks
            stage.metrics["tasks"] = stage.tasks
            if self.listener is not None:
                self.listener.stage_submitted(stage)
            if stage.tasks == 0:
                self.done.add(stage.id)
                if self.listener is not None:
                    self.listener.stage_completed(stage)
                continue
            # large in-memory tables go to files next to the shuffle files, where workers map them;
            # a backend whose workers may be on other machines gets them inline
            table_dir = self.dir if getattr(self.backend, "shared_files", True) else None
            with self._wire_lock:
                self.plans[stage.id] = serialize.dumps((stage.root, stage.keys), table_dir, self.table_files)
            inputs = {sid: self._source(self.graph.by_id(sid)) for sid in stage.inputs}
            if self._runs_in_driver(stage):
                self.in_flight += 1
                threading.Thread(target=self._run_in_driver, args=(stage, inputs), daemon=True,
                                 name=f"quarry-q{self.query}-s{stage.id}").start()
                continue
            for task in range(stage.tasks):
                self.in_flight += 1
                self.backend.submit(self, stage, task, inputs)
        self._report()

    def _runs_in_driver(self, stage: Stage) -> bool:
        """Whether ``stage`` is a scan of a small table (nation, region, a few thousand suppliers) that
        this process runs itself, on a thread, instead of queueing it behind the workers' tasks.

        Such stages head the chains of join filters (region -> nation -> supplier -> lineitem in
        TPC-H Q5): on a worker each waited for a free process (Q5's region scan, 2 ms of work, started
        40 ms late, behind the orders scan) and paid a round trip. Only plain scans, filters and
        projections qualify (no Python function: those run only in workers), and not when a test
        injects faults.
        """
        from quarry.physical.operators import FilterExec, ParquetScanExec, ProjectExec
        if stage.tasks != 1 or self.faults or not isinstance(self.backend, PoolBackend):
            return False
        nodes = list(stage.root.walk())
        if not all(type(n) in (ParquetScanExec, FilterExec, ProjectExec) for n in nodes):
            return False
        rows = {id(scan): n for scan, n, _ in self.scans}
        return sum(rows.get(id(n), DRIVER_STAGE_ROWS + 1) for n in nodes if isinstance(n, ParquetScanExec)) \
            <= DRIVER_STAGE_ROWS

    def _run_in_driver(self, stage: Stage, inputs: dict) -> None:
        """Run the one task of ``stage`` here (see :meth:`_runs_in_driver`) and deliver its reply."""
        from quarry.execution.worker import encode_error, run_task
        launched = time.time()
        try:
            # through the wire format, as a worker gets it (runtime filters travel encoded)
            message = serialize.loads(serialize.dumps(self.message(stage, 0, 0, inputs)))
            reply = run_task(message, lambda: self.ctx.cancelled)
        except BaseException as exc:      # reported like a worker's failure
            reply = encode_error(exc)
        reply.update(worker="driver", launched=launched)
        self.deliver(stage, 0, reply)

    def message(self, stage: Stage, task: int, attempt: int, inputs: dict) -> dict:
        """The message a worker needs to run one attempt of a task (see quarry.execution.worker)."""
        msg = {"query": self.query, "stage": stage.id, "task": task, "attempt": attempt,
               "plan": self.plans[stage.id], "config": self.config, "inputs": inputs,
               "path": os.path.join(self.dir, f"s{stage.id}-t{task}-a{attempt}.arrow"),
               "mode": stage.mode, "buckets": stage.buckets, "cwd": os.getcwd(),
               "filter_sources": self.filter_sources.get(stage.id, {}),
               "runtime_filters": {fid: self._encoded_filter(fid, f) for fid, f in list(self.filters.items())
                                   if fid in self._filters_used(stage)}}
        fault = self.faults.get((stage.id, task, attempt)) or self.faults.get(("any", task, attempt))
        if fault and stage.mode != "result":
            msg["fault"] = fault
        return msg

    def _encoded_filter(self, fid: int, filter):
        """A runtime filter as it travels to workers: pickled once per query, however many tasks get it
        (Q21's filters hold 730k order keys, 6 MB), its keys in a file the workers map where files
        are shared."""
        encoded = self._filter_wire.get(fid)
        if encoded is None or encoded[0] is not filter:
            table_dir = self.dir if getattr(self.backend, "shared_files", True) else None
            with self._wire_lock:
                encoded = (filter, serialize.Encoded(filter, table_dir, self.table_files))
            self._filter_wire[fid] = encoded
        return encoded[1]

    @staticmethod
    def _filters_used(stage: Stage) -> set[int]:
        from quarry.physical.operators import ParquetScanExec
        return {fid for node in stage.root.walk() if isinstance(node, ParquetScanExec)
                for fid, _ in node.runtime_filters}

    def deliver(self, stage: Stage, task: int, reply: dict) -> None:
        """Called by the backend, on any thread, with a task's reply."""
        self.replies.put((stage, task, reply))

    def _wait_one(self) -> None:
        while True:
            self.ctx.check_cancelled()
            try:
                stage, task, reply = self.replies.get(timeout=POLL)
            except queue.Empty:
                continue
            self._handle(stage, task, reply)
            return

    def _handle(self, stage: Stage, task: int, reply: dict) -> None:
        if self.listener is not None:
            self.listener.task_ended(stage, task, reply)
        if reply.get("retry"):
            stage.metrics["attempts"] += 1     # the dead attempt; the next one counts when it replies
            return
        self.in_flight -= 1
        stage.metrics["attempts"] += 1
        if not reply.get("ok"):
            from quarry.execution.worker import decode_error
            raise decode_error(reply)
        stage.outputs[task] = reply["output"] if "output" in reply else (reply["path"], reply["index"])
        m = stage.metrics
        for key in ("rows_in", "rows_out", "bytes_in", "bytes_out", "shuffle_read_bytes", "shuffle_write_bytes",
                    "spill_bytes"):
            m[key] += reply.get(key, 0)
        m["time"] += reply.get("time", 0.0)
        for node, metrics in zip(stage.root.walk(), reply.get("metrics", [])):
            merge_metrics(node.metrics, metrics)
        for fid, part in reply.get("filters", {}).items():
            self.filter_parts.setdefault(fid, []).append(part)
        self.tasks_done += 1
        self.remaining[stage.id] -= 1
        if self.remaining[stage.id] == 0:
            from quarry.physical.runtime_filter import JoinFilter
            for fid in self.filter_sources.get(stage.id, {}):
                self.filters[fid] = JoinFilter.merge(self.filter_parts.pop(fid, []))
            self.done.add(stage.id)
            if self.listener is not None:
                self.listener.stage_completed(stage)
            self._decide_adaptive_joins(stage)
            self._submit_ready()
        else:
            self._report()

    def _source(self, stage: Stage):
        """What consumers of ``stage`` read: its tasks' outputs, in task order."""
        outputs = [stage.outputs[t] for t in range(stage.tasks)]
        make = getattr(self.backend, "source", None)
        return make(outputs) if make is not None else FileSource(outputs)

    def _finish_result(self, result: Stage, rows: int, elapsed: float) -> None:
        m = result.metrics
        m["tasks"] = m["attempts"] = 1
        counters = task_counters(result.root, self.ctx)
        for key, value in counters.items():
            m[key] += value
        m["rows_out"] += rows
        m["time"] += elapsed
        self.tasks_done += 1
        self.done.add(result.id)
        if self.listener is not None:
            self.listener.task_ended(result, 0, {"ok": True, "time": elapsed, "worker": "driver", "rows_out": rows,
                                                 **counters})
            self.listener.stage_completed(result)
        self._report(finished=True)

    # -- progress and cleanup ---------------------------------------------------------------------

    def _progress(self, finished: bool = False) -> Progress:
        stages = self.graph.stages
        running = [sid for sid in self.submitted if sid not in self.done]
        return Progress(self.query, len(self.done), len(stages), self.tasks_done,
                        sum(s.tasks for s in stages[:-1]) + 1, sorted(running),
                        time.perf_counter() - self.started, finished, **self._scanned())

    def _scanned(self) -> dict:
        """The scan counters: task metrics merged so far, what running tasks have scanned so far,
        and the result stage's scans (they run in this process) as they read."""
        rows = sum(node.metrics.get("rows_read", 0) for node, _, _ in self.scans)
        done = sum(node.metrics.get("bytes_read", 0) + node.metrics.get("bytes_skipped", 0)
                   for node, _, _ in self.scans)
        live = getattr(getattr(self.backend, "pool", None), "scanned", None)
        if live is not None:
            # tasks still running report their scans through the pool's shared counters
            live_rows, live_bytes = live(self.query)
            rows, done = rows + live_rows, done + live_bytes
        return {"rows_scanned": int(rows), "rows_to_scan": sum(r for _, r, _ in self.scans),
                "bytes_scanned": int(done), "bytes_to_scan": sum(b for _, _, b in self.scans)}

    def current_progress(self) -> Progress:
        """The progress as last reported, with the scan counters read now."""
        return replace(self.progress, **self._scanned())

    def _report(self, finished: bool = False) -> None:
        self.progress = self._progress(finished)
        if self.progress_callback is not None:
            try:
                self.progress_callback(self.progress)
            except Exception:        # progress is decoration: never let it break a query
                pass

    def _stop(self) -> None:
        """Stop this query's tasks (if any still run) and remove its files."""
        try:
            if self.in_flight:
                self.backend.cancel(self)
                deadline = time.monotonic() + 10
                while self.in_flight > 0 and time.monotonic() < deadline:
                    try:
                        _, _, reply = self.replies.get(timeout=POLL)
                    except queue.Empty:
                        continue
                    if not reply.get("retry"):
                        self.in_flight -= 1
        finally:
            self.ctx.release()
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)


class PoolBackend:
    """Runs tasks on a :class:`~quarry.execution.pool.WorkerPool`."""

    def __init__(self, pool):
        self.pool = pool

    def submit(self, run: StageRun, stage: Stage, task: int, inputs: dict) -> None:
        from quarry.execution.pool import PoolTask

        def payload(attempt: int) -> bytes:
            return serialize.dumps(run.message(stage, task, attempt, inputs))

        self.pool.submit(PoolTask(run.query, f"stage {stage.id} task {task}", payload,
                                  lambda reply: run.deliver(stage, task, reply),
                                  max_attempts=run.config.task_max_attempts,
                                  memory_cap=run.config.memory_cap))

    def cancel(self, run: StageRun) -> None:
        dropped = self.pool.cancel(run.query)
        for _ in dropped:
            run.in_flight -= 1


def _parquet_scans(graph: StageGraph) -> list[tuple]:
    """``(scan, rows, bytes)`` for every Parquet scan of ``graph``: the rows and column bytes of the
    row groups it may read, from the files' footers, known before anything runs."""
    from quarry.physical.operators import ParquetScanExec
    scans, seen = [], set()
    for stage in graph.stages:
        for node in stage.root.walk():
            if isinstance(node, ParquetScanExec) and id(node) not in seen:
                seen.add(id(node))
                groups = [rg for split in node.splits for rg in split]
                scans.append((node, sum(rg.num_rows for rg in groups),
                              sum(node._column_bytes(rg) for rg in groups)))
    return scans
