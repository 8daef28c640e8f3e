"""A pool of worker processes that outlive queries, with retries when a worker dies.

Each worker is a ``python -c`` subprocess running
:func:`quarry.execution.worker.worker_loop` behind a socket; it runs one task at
a time. Workers are not started with :mod:`multiprocessing`, so they never
re-import the user's ``__main__`` script (a script without an
``if __name__ == "__main__"`` guard just works). One dispatcher thread per pool
sends queued tasks to idle workers and waits on every worker's socket at once:
it is readable on a reply, and at end-of-file when the worker dies (killed,
segfault, out of memory), so both are learned the same way. A dead worker is
replaced at once and its task goes back to the front of the queue with its
attempt count raised; a task that has used up its attempts fails its query.

A worker takes tasks only once it has said it started (its first message, sent when quarry is
imported: a second or more on a loaded machine), so a task never waits inside a process that
cannot yet see a cancel, and a cancel drops it from the queue instead of killing the worker.

Cancelling a query drops its queued tasks and raises a flag in shared memory
that the query's running tasks check at every batch; a worker that does not
stop within ``CANCEL_GRACE`` seconds is killed and replaced.

A query may have a memory cap (``memory_cap``): while its tasks run, the dispatcher reads
each of their workers' anonymous resident memory every ``MEMORY_POLL`` seconds, and when
what they hold above what each held when its task started adds up to more than the cap, it
kills them all: the query fails with "query exceeded its memory cap", and no other query's
task is touched (spilling operators stay under their ``memory_limit``; the cap catches what
cannot spill). Only Linux reports the numbers (``/proc``); elsewhere there is no cap.

Pools are shared by all sessions of a process that ask for the same number of
workers (see :func:`get_pool`) and shut down when the process exits.
"""

from __future__ import annotations

import atexit
import itertools
import mmap
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Callable

from quarry.execution import serialize

CANCEL_GRACE = 1.0        # seconds a cancelled task may take to stop before its worker is killed (0.5 was
                          # tried: kills became common, and each replacement's start-up used the CPU again)
STARTUP_ATTEMPTS = 3      # workers in a row that die while starting before the queued tasks fail
MEMORY_POLL = 0.1         # seconds between reads of the memory of tasks whose query has a cap

_QUERY_IDS = itertools.count(1)


def new_query_id() -> int:
    return next(_QUERY_IDS)


@dataclass(eq=False)
class PoolTask:
    """A task as the pool sees it: who it belongs to, how to encode each attempt, where replies go."""

    query: int
    label: str                                   # "stage 2 task 1", for error messages
    payload: Callable[[int], bytes]              # attempt number -> message bytes
    on_reply: Callable[[dict], None]             # called on the dispatcher thread
    max_attempts: int = 3
    attempt: int = 1
    memory_cap: int | None = None                # bytes the query's running tasks may hold together


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen
    conn: Connection
    slot: int                                    # this worker's cancel flag in the pool's flag file
    task: PoolTask | None = None
    kill_at: float | None = None
    base_memory: int = 0                         # anonymous RSS when the task started (for memory caps)
    over_cap: str | None = None                  # why the memory watch killed this worker's task
    ready: bool = False                          # the worker has imported quarry and said so


class CancelFlags:
    """A small memory-mapped file the pool and its workers share, one record per worker slot:
    the id of a query whose running task must stop (workers read theirs at every batch, without
    a system call), and the rows and column bytes the slot's running task has scanned so far
    (workers add to them at every row group, so progress moves while a long task runs).

    Layout: ``SLOTS`` int64 cancel flags, then ``SLOTS`` pairs of int64 scan counters.
    """

    SLOTS = 1024

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="quarry-flags-")
        os.ftruncate(fd, 24 * self.SLOTS)
        self._map = mmap.mmap(fd, 24 * self.SLOTS)
        os.close(fd)

    def set(self, slot: int, query: int) -> None:
        struct.pack_into("q", self._map, 8 * slot, query)

    def reset_scanned(self, slot: int) -> None:
        struct.pack_into("qq", self._map, scan_offset(slot), 0, 0)

    def scanned(self, slot: int) -> tuple[int, int]:
        """(rows, bytes) the task running in ``slot`` has scanned so far."""
        return struct.unpack_from("qq", self._map, scan_offset(slot))

    def close(self) -> None:
        self._map.close()
        try:
            os.remove(self.path)
        except OSError:
            pass


def scan_offset(slot: int) -> int:
    """Where a slot's scan counters are in the flag file."""
    return 8 * CancelFlags.SLOTS + 16 * slot


def worker_command(fd: int, flags: str, slot: int, threads: int) -> list[str]:
    return [sys.executable, "-c", "from quarry.execution.worker import main; main()", str(fd), flags, str(slot),
            str(threads)]


class WorkerPool:
    """``size`` worker processes and the thread that feeds them (see the module docstring)."""

    def __init__(self, size: int):
        self.size = max(1, size)
        self._flags = CancelFlags()
        self._slots = itertools.count()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)    # notified when a worker has started
        self._pending: deque[PoolTask] = deque()
        self._cancelled: set[int] = set()
        self._closed = False
        self.restarts = 0                       # workers replaced after dying, for tests and metrics
        self._start_failures = 0                # workers in a row that died before they started
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._workers = [self._spawn() for _ in range(self.size)]
        self._thread = threading.Thread(target=self._loop, name="quarry-pool", daemon=True)
        self._thread.start()

    # -- public -------------------------------------------------------------------------------

    def submit(self, task: PoolTask) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            self._pending.append(task)
        self._wake()

    def cancel(self, query: int) -> list[PoolTask]:
        """Stop a query: drop its queued tasks (returned) and ask its running tasks to stop."""
        now = time.monotonic()
        with self._lock:
            dropped = [t for t in self._pending if t.query == query]
            self._pending = deque(t for t in self._pending if t.query != query)
            for w in self._workers:
                if w.task is not None and w.task.query == query:
                    self._flags.set(w.slot, query)
                    w.kill_at = now + CANCEL_GRACE
        self._wake()
        return dropped

    def scanned(self, query: int) -> tuple[int, int]:
        """(rows, bytes) scanned so far by the tasks of ``query`` running now (not yet replied)."""
        rows = nbytes = 0
        with self._lock:
            for w in self._workers:
                if w.task is not None and w.task.query == query:
                    r, b = self._flags.scanned(w.slot)
                    rows += r
                    nbytes += b
        return rows, nbytes

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker has started (True), or ``timeout`` seconds (False)."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while not all(w.ready for w in self._workers):
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._ready.wait(left)
        return True

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._lock:
            return [w.process.pid for w in self._workers]

    def busy_pids(self, query: int | None = None) -> list[int]:
        """Process ids of workers running a task (of ``query``, if given)."""
        with self._lock:
            return [w.process.pid for w in self._workers
                    if w.task is not None and (query is None or w.task.query == query)]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
        self._wake()
        self._thread.join(timeout=5)
        for w in workers:
            try:
                w.conn.send_bytes(serialize.dumps(None))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2
        for w in workers:
            try:
                w.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.process.kill()
                w.process.wait(timeout=1)
            w.conn.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._flags.close()

    # -- the dispatcher -------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        slot = next(self._slots) % CancelFlags.SLOTS
        self._flags.set(slot, 0)
        env = dict(os.environ)
        # the worker imports quarry from wherever this process did
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        # the workers share the cores: each sizes Arrow's thread pool to its share
        threads = max(1, (os.cpu_count() or 1) // self.size)
        process = subprocess.Popen(worker_command(child.fileno(), self._flags.path, slot, threads),
                                   pass_fds=(child.fileno(),),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
        child.close()
        conn = Connection(parent.detach())
        return _Worker(process, conn, slot)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                self._dispatch()
                waitables = {self._wake_r: None}
                for w in self._workers:
                    waitables[w.conn] = w           # readable on a reply, and at EOF when the worker dies
                deadline = min((w.kill_at for w in self._workers if w.kill_at is not None), default=None)
                capped = any(w.task is not None and w.task.memory_cap for w in self._workers)
            timeout = MEMORY_POLL if capped else 0.5
            timeout = timeout if deadline is None else max(0.0, min(timeout, deadline - time.monotonic()))
            ready = wait(list(waitables), timeout=timeout)
            callbacks = []
            with self._lock:
                for obj in ready:
                    if obj == self._wake_r:
                        try:
                            os.read(self._wake_r, 4096)
                        except OSError:
                            pass
                        continue
                    w = waitables[obj]
                    if w not in self._workers:
                        continue                        # already replaced this round
                    if obj is w.conn:
                        try:
                            data = w.conn.recv_bytes()
                        except (EOFError, OSError):
                            callbacks += self._replace(w)
                            continue
                        if not w.ready:
                            w.ready = True              # its first message: started, takes tasks now
                            self._ready.notify_all()
                            continue
                        task, w.task, w.kill_at = w.task, None, None
                        self._flags.set(w.slot, 0)
                        if task is not None:
                            callbacks.append((task, serialize.loads(data)))
                now = time.monotonic()
                for w in list(self._workers):
                    if w.kill_at is not None and now >= w.kill_at and w.task is not None:
                        w.process.kill()                 # a cancelled task that would not stop
                        callbacks += self._replace(w)
                if capped:
                    callbacks += self._enforce_memory_caps()
            for task, reply in callbacks:
                try:
                    task.on_reply(reply)
                except Exception:      # a scheduler bug must not kill the dispatcher
                    pass

    def _dispatch(self) -> None:
        """Hand queued tasks to idle workers (called with the lock held)."""
        for w in self._workers:
            if not self._pending:
                return
            if w.task is not None or not w.ready:
                continue                            # busy, or still starting (it could not stop a task)
            task = self._pending.popleft()
            # the previous task's scan counts stay in the slot until the worker reads the message
            self._flags.reset_scanned(w.slot)
            try:
                w.conn.send_bytes(task.payload(task.attempt))
            except (OSError, ValueError):
                self._pending.appendleft(task)      # the worker died: its socket reports it next
                continue
            except Exception as exc:   # the message could not be built: fail the task, not the pool
                from quarry.execution.worker import encode_error
                reply = encode_error(exc)
                threading.Thread(target=task.on_reply, args=(reply,), daemon=True).start()
                continue
            w.task = task
            if task.memory_cap:
                w.base_memory = anonymous_memory(w.process.pid)

    def _died_starting(self, code) -> list:
        """A worker died before it said it started (lock held): after ``STARTUP_ATTEMPTS`` such deaths in
        a row no worker can start here, and every queued task fails rather than waiting for good."""
        self._start_failures += 1
        if self._start_failures < STARTUP_ATTEMPTS:
            return []
        failed, self._pending = list(self._pending), deque()
        return [(task, _startup_failure(code)) for task in failed]

    def _enforce_memory_caps(self) -> list:
        """Kill the running tasks of every query whose workers hold more than its cap (lock held)."""
        held: dict[int, list] = {}
        for w in self._workers:
            if w.task is not None and w.task.memory_cap and w.kill_at is None:
                grown = max(0, anonymous_memory(w.process.pid) - w.base_memory)
                held.setdefault(w.task.query, []).append((w, grown))
        callbacks = []
        for query, workers in held.items():
            cap = workers[0][0].task.memory_cap
            total = sum(grown for _, grown in workers)
            if total <= cap:
                continue
            reason = (f"query exceeded its memory cap of {format_bytes(cap)}: its tasks held "
                      f"{format_bytes(total)} in {len(workers)} worker process(es)")
            for w, _ in workers:
                w.over_cap = reason
                w.process.kill()
                callbacks += self._replace(w)
        return callbacks

    def _replace(self, w: _Worker) -> list:
        """A worker died: start another; retry its task or fail it. Returns replies to deliver."""
        try:
            code = w.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            w.process.kill()
            code = w.process.wait()
        try:
            w.conn.close()
        except OSError:
            pass
        index = self._workers.index(w)
        self.restarts += 1
        self._flags.set(w.slot, 0)
        self._workers[index] = self._spawn() if not self._closed else w
        if not w.ready:
            return self._died_starting(code)
        self._start_failures = 0
        task = w.task
        if task is None:
            return []
        if w.over_cap is not None:
            return [(task, {"ok": False, "quarry": "ExecutionError", "message": w.over_cap,
                            "hint": "add filters, or raise the cap (`memory_cap`; the server's --query-memory)"})]
        if w.kill_at is not None:
            return [(task, {"ok": False, "quarry": "ExecutionError", "message": "query cancelled"})]
        if task.attempt < task.max_attempts:
            task.attempt += 1
            self._pending.appendleft(task)
            return [(task, {"ok": None, "retry": True, "exitcode": code, "worker": w.process.pid})]
        return [(task, {"ok": False, "quarry": "ExecutionError",
                        "message": f"a worker process died running {task.label} "
                                   f"({describe_exit(code)}), {task.attempt} times",
                        "hint": "a worker that runs out of memory is killed: lower memory_limit so operators "
                                "spill sooner, or raise task_max_attempts"})]


def _startup_failure(code) -> dict:
    return {"ok": False, "quarry": "ExecutionError",
            "message": f"worker processes die while they start ({describe_exit(code)}), "
                       f"{STARTUP_ATTEMPTS} times in a row",
            "hint": f"run `{sys.executable} -c \"import quarry\"` to see why; workers import quarry "
                    "from the same paths as this process"}


def anonymous_memory(pid: int) -> int:
    """Bytes of anonymous resident memory of process ``pid`` (heap, Arrow buffers; not mapped files),
    0 where ``/proc`` does not tell."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def format_bytes(n: int) -> str:
    """``n`` bytes for a message: ``"300 MB"``, ``"1.5 GB"``."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    return f"{n / (1 << 20):.0f} MB"


def describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        import signal
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


_POOLS: dict[int, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def get_pool(size: int) -> WorkerPool:
    """The process's shared pool of ``size`` workers, started on first use."""
    with _POOLS_LOCK:
        pool = _POOLS.get(size)
        if pool is None or pool._closed:
            pool = _POOLS[size] = WorkerPool(size)
        return pool


def shutdown_pools() -> None:
    """Stop every worker pool of this process (also done at exit)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()


atexit.register(shutdown_pools)
