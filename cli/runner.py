"""Run a statement in a worker thread so Ctrl-C can cancel it and a spinner can show progress.

The main thread waits on an event (which a KeyboardInterrupt interrupts at once);
on Ctrl-C it calls ``Session.cancel()`` and returns to the prompt without waiting:
the engine stops the query at its next batch boundary, and the abandoned worker is
a daemon thread, so it can never keep the process alive.

Progress comes from :func:`engine_progress`, which reads ``Session.progress()``: when
the query scans Parquet, a bar of the input scanned so far (bytes read or pruned, out
of what the files' footers say the scans may read) with the row counts; otherwise the
stages and tasks done out of their totals, as the scheduler reports them.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

R = TypeVar("R")

SPINNER_DELAY = 1.0          # seconds before the indicator appears: quick queries stay quiet
_FRAMES_UTF8 = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_FRAMES_ASCII = "|/-\\"


class QueryCancelled(Exception):
    """The user pressed Ctrl-C while a statement ran; it was cancelled."""


def engine_progress(con, unicode: bool = True) -> str | None:
    """What the engine says about the running query, e.g. ``"▕████▌   ▏ 45% · 27.1k/60.2k rows"``;
    None when it says nothing.

    Reads ``con.progress()`` (a :class:`quarry.execution.scheduler.Progress`, see
    :func:`describe_progress`; a fraction 0..1 or text also work); None when idle.
    """
    hook = getattr(con, "progress", None)
    if not callable(hook):
        return None
    try:
        value = hook()
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return f"{100 * float(value):.0f}%"
        return describe_progress(value, unicode)
    except Exception:         # progress is decoration: never let it break a query
        return None


def describe_progress(progress, unicode: bool = True) -> str:
    """A progress line: a bar of the input scanned, when the query scans Parquet, else stages and tasks.

    >>> from quarry.execution.scheduler import Progress
    >>> describe_progress(Progress(1, 0, 2, 1, 3, rows_scanned=30_000, rows_to_scan=60_175,
    ...                            bytes_scanned=5, bytes_to_scan=10), unicode=False)
    '[#####     ]  50% . 30.0k/60.2k rows'
    """
    fraction = getattr(progress, "scan_fraction", None)
    if fraction is None:
        return str(progress)
    dot = "·" if unicode else "."
    text = (f"{bar(fraction, 10, unicode)} {100 * fraction:3.0f}% {dot} "
            f"{count_text(progress.rows_scanned)}/{count_text(progress.rows_to_scan)} rows")
    if fraction >= 1.0 and progress.stages_done < progress.stages_total:
        # everything is read; what remains (joins, aggregates, sorts) shows as stages
        text += f" {dot} stage {progress.stages_done}/{progress.stages_total}"
    return text


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int, unicode: bool = True) -> str:
    """A bar ``width`` cells wide, filled to ``fraction`` (eighths of a cell in Unicode).

    >>> bar(0.5, 4, unicode=False), bar(0.55, 4)
    ('[##  ]', '▕██▏ ▏')
    """
    fraction = min(max(fraction, 0.0), 1.0)
    if not unicode:
        filled = int(fraction * width)
        return "[" + "#" * filled + " " * (width - filled) + "]"
    eighths = int(fraction * width * 8)
    full, part = divmod(eighths, 8)
    cells = "█" * full + (_EIGHTHS[part] if part else "")
    return "▕" + cells.ljust(width) + "▏"


def count_text(n: int) -> str:
    """A count in three digits: ``950``, ``60.2k``, ``6.0M``, ``1.2B``."""
    for div, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def is_unicode_stream(stream) -> bool:
    """Whether ``stream`` writes UTF-8 (so the spinner and the bar may use box characters)."""
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return encoding.startswith("utf")


class Spinner:
    """An elapsed-time indicator on a terminal stream, drawn by a background thread.

    ``status`` returns extra text to show (the engine's progress), or None.
    """

    def __init__(self, stream, status: Callable[[], str | None] = lambda: None,
                 delay: float = SPINNER_DELAY, interval: float = 0.1):
        self.stream = stream
        self.status = status
        self.delay = delay
        self.interval = interval
        self.frames = _FRAMES_UTF8 if is_unicode_stream(stream) else _FRAMES_ASCII
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def start(self) -> "Spinner":
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="quarry-spinner", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        i = 0
        while not self._stop.is_set():
            elapsed = time.perf_counter() - self._started
            extra = self.status()
            text = f"{self.frames[i % len(self.frames)]} running {elapsed:.1f}s"
            if extra:
                text += f"  {extra}"
            text += "  (Ctrl-C to cancel)"
            try:
                self.stream.write("\r\x1b[2K" + text)
                self.stream.flush()
            except (OSError, ValueError):
                return
            self._drawn = True
            i += 1
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            try:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()
            except (OSError, ValueError):
                pass


class QueryRunner:
    """Runs callables for the shell, cancellably, with an optional progress indicator."""

    def __init__(self, con, *, spinner_stream=None):
        self.con = con
        self.spinner_stream = spinner_stream      # a tty (stderr) to draw on, or None
        self._abandoned: list[threading.Thread] = []

    def busy(self) -> bool:
        """Whether a cancelled statement is still winding down in the background."""
        self._abandoned = [t for t in self._abandoned if t.is_alive()]
        return bool(self._abandoned)

    def run(self, work: Callable[[], R]) -> R:
        """Return ``work()``, run in a worker thread; raise what it raises.

        Ctrl-C (KeyboardInterrupt in this thread) cancels the session's running
        queries and raises :class:`QueryCancelled` at once.
        """
        box: dict = {}
        done = threading.Event()

        def target():
            try:
                box["value"] = work()
            except BaseException as exc:       # handed to the main thread, which reports it
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=target, name="quarry-query", daemon=True)
        spinner = None
        if self.spinner_stream is not None:
            unicode = is_unicode_stream(self.spinner_stream)
            spinner = Spinner(self.spinner_stream, lambda: engine_progress(self.con, unicode))
        try:
            worker.start()
            if spinner is not None:
                spinner.start()
            while not done.wait(0.05):
                pass
        except KeyboardInterrupt:
            self.con.cancel()
            self._abandoned.append(worker)
            raise QueryCancelled() from None
        finally:
            if spinner is not None:
                spinner.stop()
        if "error" in box:
            raise box["error"]
        return box["value"]


def stream_is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["QueryRunner", "QueryCancelled", "Spinner", "bar", "describe_progress", "engine_progress",
           "stream_is_tty"]
