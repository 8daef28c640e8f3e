"""What runs inside a worker: one task of a stage, from its message to its output file.

:func:`run_task` is shared by every backend: the process pool's workers call it
on the messages the scheduler sends, and it works just as well in the calling
process. A task message names the stage's plan (serialized once per stage),
the partition to run, where earlier stages left their output, and where to
write this task's file. The reply carries no rows, only the file's bucket index
and the operators' metrics, which the scheduler adds to the plan it holds.
(The Ray backend passes a writer that keeps the buckets in memory and returns
them through Ray's object store instead of a file.)
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback

from quarry.errors import ExecutionError, QuarryError, disk_full
from quarry.execution import serialize
from quarry.compute.expr_eval import evaluate_array
from quarry.physical.base import metric_deltas
from quarry.physical.runtime_filter import KeyCollector
from quarry.execution.stages import BucketWriter, ShuffleWriter, task_counters
from quarry.physical.base import ExecContext


def run_task(message: dict, cancel_check=None, make_writer=None, scan_progress=None) -> dict:
    """Run one task described by ``message``; returns its reply (see the module docstring).

    ``make_writer(schema, mode, keys, buckets, batch_rows)`` makes the task's output writer; by default
    a :class:`ShuffleWriter` to ``message["path"]``. The writer's ``location()`` goes into the reply.
    """
    start = time.perf_counter()
    root, keys = serialize.loads(message["plan"])
    # metrics travel back as what this task added: some start non-zero (a scan's file count)
    initial = [dict(node.metrics) for node in root.walk()]
    ctx = ExecContext(message["config"])
    ctx.shuffle_sources = message["inputs"]
    ctx.cancel_check = cancel_check
    ctx.scan_progress = scan_progress
    ctx.runtime_filters = dict(message.get("runtime_filters") or {})
    # a build stage collects the join keys it writes, for the filters of the probe scans
    collectors = {fid: (key, KeyCollector()) for fid, key in (message.get("filter_sources") or {}).items()}
    batch_rows = message["config"].batch_rows
    if make_writer is None:
        writer = ShuffleWriter(message["path"], root.schema, message["mode"], keys, message["buckets"], batch_rows)
    else:
        writer = make_writer(root.schema, message["mode"], keys, message["buckets"], batch_rows)
    fault = message.get("fault") or {}
    try:
        for batch in root.execute(message["task"], ctx):
            writer.write(batch)
            for key, collector in collectors.values():
                collector.add(evaluate_array(key, batch))
            _inject(fault, writer)
        _inject(fault, writer, end=True)
        out_bytes = writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        counters = task_counters(root, ctx)
        ctx.release()
    return {"ok": True, **writer.location(), "rows_out": writer.rows,
            "bytes_out": writer.bytes, "shuffle_write_bytes": out_bytes,
            "metrics": [metric_deltas(node.metrics, before) for node, before in zip(root.walk(), initial)],
            "filters": {fid: collector.result() for fid, (_, collector) in collectors.items()},
            "time": time.perf_counter() - start, **counters}


def _inject(fault: dict, writer: BucketWriter, end: bool = False) -> None:
    """Faults that tests ask for: die mid-task like a killed or crashed process, raise (an OSError too),
    or hold memory that no budget knows of (as a join exploding inside one kernel call would)."""
    if not fault:
        return
    if "hold_bytes" in fault:
        held = b"\x01" * fault["hold_bytes"]          # written, so every page is resident
        deadline = time.monotonic() + fault.get("hold_seconds", 30)
        while time.monotonic() < deadline:
            time.sleep(0.01)
        del held
    if "kill_after_rows" in fault and (writer.rows >= fault["kill_after_rows"] or end):
        os.kill(os.getpid(), signal.SIGKILL)
    if "raise" in fault:
        raise RuntimeError(fault["raise"])
    if "os_error" in fault:              # an errno, as a full disk (ENOSPC) raises it
        raise OSError(fault["os_error"], os.strerror(fault["os_error"]))


def encode_error(exc: BaseException) -> dict:
    """An exception as plain data that crosses a process boundary whatever its class."""
    if isinstance(exc, QuarryError):
        return {"ok": False, "quarry": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    full = disk_full(exc)
    if full is not None:
        return {"ok": False, "quarry": "ExecutionError", "message": full.message, "hint": full.hint}
    if isinstance(exc, MemoryError):
        return {"ok": False, "quarry": "ExecutionError", "message": "a task ran out of memory",
                "hint": "lower memory_limit so operators spill sooner, or add filters"}
    return {"ok": False, "exception": type(exc).__name__, "module": type(exc).__module__,
            "message": str(exc), "traceback": traceback.format_exc(limit=20)}


def decode_error(reply: dict) -> BaseException:
    """The exception a failed task reply describes (a QuarryError subclass where possible)."""
    import quarry.errors as errors
    if "quarry" in reply:
        cls = getattr(errors, reply["quarry"], errors.ExecutionError)
        try:
            return cls(reply["message"], hint=reply.get("hint"))
        except TypeError:
            return errors.ExecutionError(reply["message"], hint=reply.get("hint"))
    exc = _rebuild(reply)
    if exc is not None:
        exc.__quarry_remote_traceback__ = reply.get("traceback")
        return exc
    return ExecutionError(f"a task failed: {reply['exception']}: {reply['message']}",
                          hint="this is a bug in quarry; rerun with the failing query in a report")


def _rebuild(reply: dict) -> BaseException | None:
    """The original exception type for builtins and pyarrow errors, so callers can catch them as usual."""
    import builtins
    import pyarrow as pa
    name = reply["exception"]
    cls = getattr(builtins, name, None) if reply.get("module") == "builtins" else getattr(pa, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(reply["message"])
        except TypeError:
            return None
    return None


def main() -> None:
    """Entry point of a worker process: ``python -c ... <socket fd> <flag file> <slot>``."""
    import mmap
    import socket
    import struct
    from multiprocessing.connection import Connection
    import pyarrow as pa
    fd, flag_path, slot = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if len(sys.argv) > 4:
        pa.set_cpu_count(int(sys.argv[4]))
    with open(flag_path, "r+b") as f:
        flags = mmap.mmap(f.fileno(), 0)
    offset = 8 * slot
    from quarry.execution.pool import scan_offset
    counters = scan_offset(slot)

    def cancelled(query: int) -> bool:
        return struct.unpack_from("q", flags, offset)[0] == query

    def scanned(rows: int, nbytes: int) -> None:
        """Add to this slot's scan counters (``rows < 0``: reset them, a new task starts)."""
        if rows < 0:
            struct.pack_into("qq", flags, counters, 0, 0)
            return
        old_rows, old_bytes = struct.unpack_from("qq", flags, counters)
        struct.pack_into("qq", flags, counters, old_rows + rows, old_bytes + nbytes)

    conn = Connection(socket.socket(fileno=fd).detach())
    conn.send_bytes(serialize.dumps({"ready": os.getpid()}))     # the pool sends tasks from now on
    worker_loop(conn, cancelled, scanned)


def worker_loop(conn, cancelled, scanned=None) -> None:
    """Receive a task, run it, reply; until the pipe closes.

    ``cancelled(query)`` reads shared memory the pool sets to a query's id to stop that
    query's task at its next batch. Ctrl-C in a terminal reaches the whole process
    group, so workers ignore SIGINT: the caller cancels through the pool instead.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        message = serialize.loads(data)
        if message is None:
            return
        query = message["query"]
        launched = time.time()
        try:
            if message.get("cwd") and message["cwd"] != os.getcwd():
                os.chdir(message["cwd"])      # relative paths mean what they mean to the caller
            if scanned is not None:
                scanned(-1, 0)
            reply = run_task(message, lambda: cancelled(query), scan_progress=scanned)
        except BaseException as exc:      # reported to the caller; the worker lives on
            reply = encode_error(exc)
        reply.update(worker=os.getpid(), launched=launched)       # who ran it and when, for the web UI
        try:
            conn.send_bytes(serialize.dumps(reply))
        except (EOFError, OSError, BrokenPipeError):
            return
