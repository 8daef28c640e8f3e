"""Run the tasks of a stage graph as Ray tasks, moving their output through Ray's object store.

    >>> con = quarry.connect(executor="ray", workers=4)                    # doctest: +SKIP
    >>> con = quarry.connect(executor="ray", address="ray://head:10001")    # doctest: +SKIP

Without ``address`` quarry starts a local Ray with ``workers`` CPUs (or uses the
Ray this process already started with ``ray.init``); ``address`` connects to a
running cluster (``"auto"``, ``"ray://host:port"``). The scheduler
(:mod:`quarry.execution.scheduler`) decides what runs when, exactly as with the
process pool; this module only runs one task:

* A task is one Ray task (one CPU) with ``buckets + 1`` return values: one
  Arrow IPC stream per output bucket (None when the bucket is empty), bucketed by
  :class:`~quarry.execution.stages.MemoryShuffleWriter` exactly as the pool's
  files are, and last the task's reply (rows, bytes, operator metrics, or an
  error as :func:`~quarry.execution.worker.encode_error` describes it).
* The stage's plan is put into the object store once per stage, not once per task.
* Consumers read through a :class:`RaySource`, which holds the object refs of every
  task's buckets and fetches only those a partition reads; the result stage reads
  them in the calling process.
* Ray retries a task whose worker died (``task_max_attempts - 1`` times) and
  rebuilds lost output from lineage; an exception raised by a task is not retried.
* Objects live while the query's run does: when the
  :class:`~quarry.execution.scheduler.StageRun` is gone its refs are dropped,
  even if EXPLAIN ANALYZE keeps the stage graph.

Remote clusters: every node needs quarry installed (``pip install quarry[ray]``,
the same version as the driver, with the same pyarrow and ray), because tasks
import it; nothing is shipped with the job. Files that scans read (Parquet,
CSV) must be at the same path on every node, or on shared storage; in-memory
tables travel inside the plan. For a local Ray that quarry starts, workers
import quarry from where this process did.

Only this module imports ray.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass, field
from functools import partial
from typing import Iterator

import pyarrow as pa
import pyarrow.ipc as ipc
import ray

import quarry
from quarry.execution.stages import MemoryShuffleWriter, Stage
from quarry.execution.worker import encode_error, run_task


@ray.remote
def _run_stage_task(plan: bytes, message: dict):
    """One task in a Ray worker: its output buckets, then its reply."""
    message["plan"] = plan
    try:
        reply = run_task(message, make_writer=MemoryShuffleWriter)
        buffers = reply.pop("buffers")
    except Exception as exc:          # reported like a pool worker does; KeyboardInterrupt is Ray's cancel
        reply, buffers = encode_error(exc), [None] * message["buckets"]
    reply["bucket_bytes"] = [0 if b is None else b.size for b in buffers]
    return (*buffers, reply)


@dataclass
class RaySource:
    """What consumers of a finished stage read: per task, one object ref per bucket (None: empty).

    Reading follows :class:`~quarry.execution.stages.FileSource`: ``hash`` reads
    bucket ``partition`` of every task, ``broadcast`` and ``gather`` every bucket of
    every task, ``forward`` task ``partition`` only.
    """

    outputs: list[list]

    def read(self, mode: str, partition: int) -> Iterator[pa.RecordBatch]:
        if mode == "forward":
            chosen = [self.outputs[partition]] if partition < len(self.outputs) else []
        else:
            chosen = self.outputs
        bucket = partition if mode == "hash" else None
        refs = [ref for buckets in chosen
                for ref in (buckets if bucket is None else buckets[bucket:bucket + 1]) if ref is not None]
        for ref in refs:            # one bucket at a time: a partition's input need not fit in memory at once
            yield from ipc.open_stream(ray.get(ref))


@dataclass
class _RunObjects:
    """The objects one run owns: stage plans and task outputs, dropped when the run is gone."""

    plans: dict = field(default_factory=dict)           # stage id -> ref of the plan bytes
    outputs: list = field(default_factory=list)         # the per-task bucket ref lists handed out

    def release(self) -> None:
        self.plans.clear()
        for buckets in self.outputs:
            buckets.clear()           # the stage graph may outlive the run (EXPLAIN ANALYZE): keep no refs
        self.outputs.clear()


@dataclass(eq=False)
class _Task:
    run: object
    stage: Stage
    task: int
    refs: list                        # the task's bucket refs, then its reply ref
    objects: _RunObjects


class RayBackend:
    """Runs stage tasks on Ray (see the module docstring); the scheduler's backend interface."""

    shared_files = False              # workers may be on other machines: tables travel in the plan

    def __init__(self, address: str | None = None, workers: int = 1):
        self.address = address
        self.workers = max(1, workers)
        self._owns_ray = _acquire_ray(address, self.workers)
        self._lock = threading.Lock()
        self._tasks: dict[tuple[int, int, int], _Task] = {}     # (query, stage, task) -> running
        self._runs: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._closed = False

    def submit(self, run, stage: Stage, task: int, inputs: dict) -> None:
        message = run.message(stage, task, 1, inputs)
        plan = message.pop("plan")
        message.pop("path", None)                     # output goes to the object store, not a file
        objects = self._objects(run)
        plan_ref = objects.plans.get(stage.id)
        if plan_ref is None:
            plan_ref = objects.plans[stage.id] = ray.put(plan)
        remote = _run_stage_task.options(
            num_returns=stage.buckets + 1, max_retries=max(0, run.config.task_max_attempts - 1),
            retry_exceptions=False, name=f"quarry q{run.query} stage {stage.id} task {task}")
        refs = remote.remote(plan_ref, message)
        key = (run.query, stage.id, task)
        with self._lock:
            self._tasks[key] = _Task(run, stage, task, list(refs), objects)
        # registered after the task is recorded: the callback may run at once, on a Ray thread
        refs[-1].future().add_done_callback(partial(self._finished, key))

    def source(self, outputs: list) -> RaySource:
        return RaySource(list(outputs))

    def cancel(self, run) -> None:
        """Cancel the run's tasks; they will not reply, so they leave the run's in-flight count now."""
        with self._lock:
            keys = [key for key, t in self._tasks.items() if t.run is run]
            dropped = [self._tasks.pop(key) for key in keys]
        for t in dropped:
            try:
                ray.cancel(t.refs[-1], force=False)
            except Exception:         # already finished, or Ray is going away
                pass
            run.in_flight -= 1

    def close(self) -> None:
        """Disconnect from Ray, and stop it if this backend started it (a user's own Ray stays up)."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._tasks.clear()
        _release_ray(self._owns_ray)

    # -- internals ----------------------------------------------------------------------------

    def _objects(self, run) -> _RunObjects:
        with self._lock:
            objects = self._runs.get(run)
            if objects is None:
                objects = self._runs[run] = _RunObjects()
                finalizer = weakref.finalize(run, objects.release)
                finalizer.atexit = False
            return objects

    def _finished(self, key, future) -> None:
        with self._lock:
            t = self._tasks.pop(key, None)
        if t is None:
            return                    # cancelled: the run already stopped counting it
        try:
            reply = future.result()
            if reply.get("ok"):
                sizes = reply.pop("bucket_bytes")
                output = [ref if size else None for ref, size in zip(t.refs[:-1], sizes)]
                t.objects.outputs.append(output)
                reply["output"] = output
        except BaseException as exc:
            reply = _failure_reply(exc, t)
        t.run.deliver(t.stage, t.task, reply)


def _failure_reply(exc: BaseException, t: _Task) -> dict:
    """A task Ray could not finish, as the reply a pool worker would have sent."""
    from ray import exceptions as rex
    label = f"stage {t.stage.id} task {t.task}"
    if isinstance(exc, rex.TaskCancelledError):
        return {"ok": False, "quarry": "ExecutionError", "message": "query cancelled"}
    if isinstance(exc, rex.RayTaskError):
        cause = getattr(exc, "cause", None)
        return encode_error(cause if isinstance(cause, BaseException) else exc)
    first_line = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, (rex.WorkerCrashedError, rex.OutOfMemoryError, rex.NodeDiedError)):
        attempts = t.run.config.task_max_attempts
        return {"ok": False, "quarry": "ExecutionError",
                "message": f"a Ray worker died running {label} ({type(exc).__name__}: {first_line}), "
                           f"{attempts} time{'s' if attempts != 1 else ''}",
                "hint": "a worker that runs out of memory is killed: lower memory_limit so operators "
                        "spill sooner, or raise task_max_attempts"}
    return {"ok": False, "quarry": "ExecutionError",
            "message": f"Ray could not run {label}: {type(exc).__name__}: {first_line}",
            "hint": "check that the Ray cluster is up and every node has the same quarry, pyarrow and ray"}


# -- the Ray connection, shared by the backends of a process -------------------------------------

_RAY_LOCK = threading.Lock()
_RAY_USERS = 0                # backends using a Ray that quarry started or connected; 0: not ours


def _acquire_ray(address: str | None, workers: int) -> bool:
    """Make sure this process is connected to Ray; True if quarry did it (so it may shut it down)."""
    global _RAY_USERS
    with _RAY_LOCK:
        if ray.is_initialized():
            if _RAY_USERS:
                _RAY_USERS += 1
                return True
            return False              # the user's own ray.init: theirs to shut down
        if address is not None:
            ray.init(address=address, ignore_reinit_error=True)
        else:
            _start_local_ray(workers)
        _RAY_USERS = 1
        return True


def _release_ray(owned: bool) -> None:
    global _RAY_USERS
    if not owned:
        return
    with _RAY_LOCK:
        _RAY_USERS -= 1
        if _RAY_USERS == 0 and ray.is_initialized():
            ray.shutdown()


def _start_local_ray(workers: int) -> None:
    """Start a Ray on this machine whose workers import quarry from where this process did.

    The raylet, and so every worker it starts, inherits this process's environment,
    so PYTHONPATH is set only while Ray starts. (A job runtime_env would do the same
    but keeps Ray from using the workers it starts ahead of time, costing seconds.)
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(quarry.__file__)))
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, saved) if p)
    try:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
