"""Peak resident memory of a process tree, measured by polling ``/proc`` (Linux).

`run_measured` starts a command in a new session and, every ``interval`` seconds
until it exits, adds up the resident set size (``VmRSS`` in ``/proc/<pid>/status``) of the
command's process and all its descendants (found through
``/proc/<pid>/task/<tid>/children``). The largest sum is the tree's peak RSS.

What that number is, and is not:

- RSS counts every resident page mapped by a process: its heap and Arrow's
  allocations, but also the pages of files it has memory-mapped and touched
  (shuffle and spill files read through ``mmap``, Parquet files if mapped) and
  of shared libraries. Pages shared by several processes (libarrow in every
  worker, a file mapped by two workers) count once per process, so the sum can
  exceed the memory the tree really takes from the machine.
- It does not count the kernel's page cache for files read with ``read()``, nor
  memory of processes outside the tree.
- Polling misses a peak shorter than the interval. The kernel's own high-water
  mark of each process (``VmHWM`` in ``/proc/<pid>/status``, read at every poll)
  does not, so the largest of them is returned too, and the peak is never below it: for
  a one-process engine the peak is then exact, up to what happens in the last
  interval. (``ru_maxrss`` from
  ``wait4`` is no use here: it includes the RSS of the parent at ``fork``.)

Only the Python standard library is used (no psutil).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Measurement", "run_measured", "tree_pids", "tree_rss"]

def _children(pid: int) -> list[int]:
    """Return the direct children of ``pid`` (empty when it has gone)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue  # the thread ended between listdir and read
        found.extend(int(child) for child in text.split())
    return found


def tree_pids(root: int) -> list[int]:
    """Return ``root`` and all its descendants that are alive now, root first."""
    pids = [root]
    index = 0
    while index < len(pids):
        pids.extend(_children(pids[index]))
        index += 1
    return pids


def _memory(pid: int) -> tuple[int, int]:
    """Return ``(VmRSS, VmHWM)`` of ``pid`` in bytes ((0, 0) when it has gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    values = {}
    for line in text.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, amount = line.split(":", 1)
            values[name] = int(amount.split()[0]) * 1024  # the kernel writes kB
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def tree_rss(root: int, high_water: dict[int, int] | None = None) -> int:
    """Return the summed resident set size, in bytes, of ``root`` and its descendants.

    When ``high_water`` is given, each process's kernel high-water mark (VmHWM) is
    recorded in it by pid.
    """
    total = 0
    for pid in tree_pids(root):
        rss, hwm = _memory(pid)
        total += rss
        if high_water is not None and hwm:
            high_water[pid] = max(high_water.get(pid, 0), hwm)
    return total


@dataclass
class Measurement:
    """How a measured command ended and the memory its process tree used.

    ``peak_rss`` is the tree's peak, in bytes: the largest polled sum over the tree,
    or the largest process's own high-water mark if that is higher (as it is when
    polling missed a short peak of a one-process command). ``marks`` maps
    each line the command printed on stdout to the tree's RSS when the line arrived
    (a command prints ``ready`` to mark the end of its set-up, for instance).
    ``max_process_rss`` is the largest kernel high-water mark (VmHWM) of any single
    process of the tree, as last read, in bytes.
    ``returncode`` is negative for a signal (-9: killed), None if unknown.
    """

    returncode: int | None = None
    timed_out: bool = False
    elapsed_s: float = 0.0
    peak_rss: int = 0
    max_process_rss: int | None = None
    samples: int = 0
    marks: dict[str, int] = field(default_factory=dict)


def _kill_tree(pids: Sequence[int]) -> None:
    """SIGKILL every process in ``pids`` (a tree this module started), ignoring the gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def run_measured(
    command: Sequence[str],
    *,
    timeout: float | None = None,
    interval: float = 0.02,
    env: dict[str, str] | None = None,
    stderr_path: str | Path | None = None,
) -> Measurement:
    """Run ``command``, polling its process tree's RSS every ``interval`` seconds.

    After ``timeout`` seconds the whole tree is killed (SIGKILL) and ``timed_out``
    is set. The command's stderr goes to ``stderr_path`` (discarded when None).

    >>> m = run_measured(["python3", "-c", "print('ready'); x = bytearray(50_000_000)"])
    >>> m.returncode, m.peak_rss > 0, "ready" in m.marks
    (0, True, True)
    """
    stderr = open(stderr_path, "wb") if stderr_path is not None else subprocess.DEVNULL
    start = time.monotonic()
    try:
        # A session of its own, so the command's terminal signals (Ctrl-C) reach only us
        # and we decide when to stop it.
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            start_new_session=True,
        )
    finally:
        if stderr is not subprocess.DEVNULL:
            stderr.close()
    measurement = Measurement()
    assert process.stdout is not None
    out_fd = process.stdout.fileno()
    os.set_blocking(out_fd, False)
    selector = selectors.DefaultSelector()
    selector.register(out_fd, selectors.EVENT_READ)
    open_output = True
    pending = b""
    deadline = None if timeout is None else start + timeout
    status = None
    high_water: dict[int, int] = {}
    try:
        while True:
            rss = tree_rss(process.pid, high_water)
            measurement.samples += 1
            measurement.peak_rss = max(measurement.peak_rss, rss)
            if open_output:
                for _key, _events in selector.select(interval):
                    chunk = os.read(out_fd, 65536)
                    if not chunk:
                        selector.unregister(out_fd)
                        open_output = False
                        break
                    pending += chunk
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        mark = tree_rss(process.pid, high_water)
                        measurement.peak_rss = max(measurement.peak_rss, mark)
                        measurement.marks[line.decode(errors="replace").strip()] = mark
            else:
                time.sleep(interval)
            pid, status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                measurement.timed_out = True
                _kill_tree(tree_pids(process.pid))
                _pid, status = os.waitpid(process.pid, 0)
                break
    except BaseException:
        # Interrupted (Ctrl-C) or failed: leave nothing of the tree running.
        _kill_tree(tree_pids(process.pid))
        process.wait()
        raise
    finally:
        selector.close()
        process.stdout.close()
    measurement.elapsed_s = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    measurement.returncode = process.returncode
    if high_water:
        measurement.max_process_rss = max(high_water.values())
        # The tree's peak is at least its largest process's: this catches what polling
        # missed, and makes the peak of a one-process command exact.
        measurement.peak_rss = max(measurement.peak_rss, measurement.max_process_rss)
    return measurement
