"""The engines the TPC-H benchmark runs, in this process or one fresh process per query.

A `Runner` answers SQL and `Runner.measure` times a query's warm-up and timed runs:
`QuarryRunner` (a quarry session, spilling into a directory of its own that must be
empty after every query), `DuckDBRunner` (the reference) and `SailRunner` (Sail, a
Spark Connect server on DataFusion, through PySpark). `ProcessRunner` runs another
runner's query in a fresh process, ``python -m quarry.tpch.engines SPEC``
(`child_main`), and measures the peak RSS of that process tree with
`quarry.tpch.procmem`; the child sends its answer back as an Arrow IPC file.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from quarry.tpch import create_duckdb_views, register_tables
from quarry.tpch.datagen import table_paths

__all__ = [
    "DuckDBRunner",
    "ProcessRunner",
    "QuarryRunner",
    "RunOutcome",
    "Runner",
    "SailRunner",
    "child_main",
    "duckdb_to_arrow",
    "sail_missing",
]

# Run once per session before timing. A scan, an aggregate and a shuffle make every
# worker process start and import what the queries need, so the pool's start-up
# (seconds) is not charged to the first timed query when --warmup is 0.
_STARTUP_SQL = "select n_regionkey, count(*) as n from nation group by n_regionkey"

# Seconds a --memory child may take beyond (warm-up + timed runs) x --timeout before it
# is killed: importing the engine, connecting, and (quarry) starting the worker pool.
SETUP_GRACE_S = 60.0

_SAIL_HINT = "install it with `pip install -e '.[bench-sail]'` (pysail and pyspark-client)"


def _first_line(exc: BaseException) -> str:
    """Return ``exc`` as one line, prefixed with its class unless it is a QuarryError."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    name = type(exc).__name__
    quarry_error = any(cls.__name__ == "QuarryError" for cls in type(exc).__mro__)
    if quarry_error and message:
        return message
    return f"{name}: {message}" if message else name


def _as_table(result: Any) -> pa.Table:
    """Return a query result as a pyarrow Table (accepting a RecordBatchReader too)."""
    if isinstance(result, pa.Table):
        return result
    if isinstance(result, pa.RecordBatchReader):
        return result.read_all()
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    raise TypeError(f"expected a pyarrow.Table, got {type(result).__name__}")


def duckdb_to_arrow(relation: Any) -> pa.Table:
    """Return a DuckDB relation's result as a pyarrow Table.

    DuckDB 1.4+ names this ``to_arrow_table()`` (``fetch_arrow_table()`` is deprecated
    and ``arrow()`` returns a RecordBatchReader); older versions only have ``arrow()``.
    """
    if hasattr(relation, "to_arrow_table"):
        return relation.to_arrow_table()
    return _as_table(relation.arrow())


def _timed(
    run: Callable[[], pa.Table],
    warmup: int,
    runs: int,
    after_each: Callable[[], None] | None = None,
) -> tuple[pa.Table, list[float]]:
    """Call ``run`` ``warmup`` times untimed, then ``runs`` times timed; return the last answer.

    ``after_each`` is called after every run, also one that raised (to check that the
    run cleaned up after itself), outside the timed region.
    """
    result = None
    times = []
    for index in range(warmup + runs):
        try:
            start = time.perf_counter()
            result = run()
            elapsed = time.perf_counter() - start
        finally:
            if after_each is not None:
                after_each()
        if index >= warmup:
            times.append(elapsed)
    assert result is not None
    return result, times


def _sql_literal(value: Any) -> str:
    """Return ``value`` as a DuckDB SET literal: numbers and booleans bare, text quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _list_leftovers(directory: str) -> list[str]:
    """Return the entries under ``directory`` (paths relative to it), directories included."""
    found = []
    for root, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            found.append(os.path.relpath(os.path.join(root, name), directory))
    return sorted(found)


def _clear_directory(directory: str) -> None:
    """Remove everything inside ``directory``, keeping the directory itself."""
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


@dataclass
class RunOutcome:
    """One engine's runs of one query: timings, memory, and what went wrong.

    ``leftover`` lists the files a quarry run left in its spill directory. The
    ``*_rss`` fields (bytes) are filled by `ProcessRunner` only.
    """

    seconds: float | None = None
    runs: list[float] = field(default_factory=list)
    rows: int | None = None
    error: str | None = None
    leftover: list[str] = field(default_factory=list)
    peak_rss: int | None = None
    start_rss: int | None = None
    max_process_rss: int | None = None


class Runner:
    """An engine that answers SQL; `measure` times a query's runs on it.

    Subclasses set ``name``, ``version`` and ``error`` (why the engine is unusable,
    None when it is fine) and implement `run`.
    """

    name = "engine"
    version = "unavailable"
    error: str | None = None
    startup_s: float | None = None

    def start(self) -> None:
        """Prepare before the timed queries (start worker pools, servers)."""

    def run(self, sql: str) -> pa.Table:
        """Return the engine's answer to ``sql``."""
        raise NotImplementedError

    def leftovers(self) -> list[str]:
        """Return (and remove) files a query left behind; nothing for most engines."""
        return []

    def describe(self) -> str:
        """Return how the engine is set up, for the report's header."""
        return self.version

    def measure(self, sql: str, *, warmup: int, runs: int) -> tuple[pa.Table | None, RunOutcome]:
        """Run ``sql`` ``warmup`` times untimed and ``runs`` times timed; return the last answer.

        The answer is None when a run failed; the outcome then says why.
        """
        outcome = RunOutcome()
        if self.error is not None:
            outcome.error = self.error
            return None, outcome
        leftover: list[str] = []
        table = None
        try:
            table, outcome.runs = _timed(
                lambda: self.run(sql), warmup, runs, lambda: leftover.extend(self.leftovers())
            )
        except Exception as exc:
            outcome.error = _first_line(exc)
        outcome.leftover = sorted(set(leftover))
        if table is not None:
            outcome.seconds = statistics.median(outcome.runs)
            outcome.rows = table.num_rows
        return table, outcome

    def close(self) -> None:
        """Release what the engine holds."""


class _Deadline:
    """Interrupt a query after ``seconds`` by calling ``interrupt`` from a timer thread."""

    def __init__(self, seconds: float | None, interrupt: Callable[[], None]) -> None:
        self.seconds = seconds
        self.fired = False
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._fire, args=(interrupt,))
            self._timer.daemon = True

    def _fire(self, interrupt: Callable[[], None]) -> None:
        self.fired = True
        interrupt()

    def __enter__(self) -> _Deadline:
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def error(self) -> TimeoutError:
        return TimeoutError(f"timed out after {self.seconds:g} s (--timeout)")


class QuarryRunner(Runner):
    """Run queries in one quarry session, remembering why quarry is unusable when it is.

    ``workers`` is passed to ``quarry.connect(workers=...)``; None keeps the session
    default (the process pool, one worker per core). ``settings`` go to
    ``quarry.connect(**settings)``, except ``spill_dir``: the session spills into a
    fresh directory inside it (``spill_dir`` when given, else a new one), which
    `leftovers` checks. ``timeout`` becomes quarry's ``timeout`` setting unless
    ``settings`` has one. ``executor`` and ``workers`` are what the session reports.
    """

    name = "quarry"

    def __init__(
        self,
        data_dir: Path,
        workers: int | None,
        settings: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        spill_dir: str | None = None,
    ) -> None:
        self.connection: Any = None
        self.error: str | None = None
        self.requested_workers = workers
        self.executor = "unavailable"
        self.workers: int | None = None
        self.startup_s: float | None = None
        self.settings = dict(settings or {})
        root = self.settings.pop("spill_dir", None) or tempfile.gettempdir()
        self.spill_root = str(root)
        self._own_spill_dir = spill_dir is None
        if spill_dir is None:
            os.makedirs(self.spill_root, exist_ok=True)
            spill_dir = tempfile.mkdtemp(prefix="quarry-bench-spill-", dir=self.spill_root)
        self.spill_dir = spill_dir
        connect_settings = {**self.settings, "spill_dir": spill_dir}
        if timeout is not None:
            connect_settings.setdefault("timeout", timeout)
        try:
            import quarry
        except Exception as exc:  # The engine may be half-written; report, don't crash.
            self.error = f"import quarry failed: {_first_line(exc)}"
            return
        self.version = _version_of(quarry, "quarry")
        try:
            if workers is None:
                session = quarry.connect(**connect_settings)
            else:
                session = quarry.connect(workers=workers, **connect_settings)
            self.executor = str(getattr(session, "executor", "unknown"))
            self.workers = getattr(session, "workers", workers)
            self.connection = register_tables(session, data_dir)
        except Exception as exc:
            self.connection = None
            self.error = f"quarry setup failed: {_first_line(exc)}"

    def describe(self) -> str:
        """Return ``"workers 2 (executor processes)"``, saying when those are the defaults."""
        if self.connection is None and self.workers is None:
            return "unavailable"
        default = ", the default" if self.requested_workers is None else ""
        return f"workers {self.workers} (executor {self.executor}{default})"

    def start(self) -> None:
        """Run the untimed start-up query, recording its time (None if it failed)."""
        if self.connection is None:
            return
        start = time.perf_counter()
        try:
            self.run(_STARTUP_SQL)
        except Exception as exc:  # Each timed query reports its own error.
            print(f"warning: quarry start-up query failed: {_first_line(exc)}", file=sys.stderr)
            return
        finally:
            self.leftovers()  # not charged to the first query
        self.startup_s = time.perf_counter() - start

    def run(self, sql: str) -> pa.Table:
        """Return quarry's answer to ``sql``."""
        if self.connection is None:
            raise RuntimeError(self.error or "quarry is unavailable")
        return _as_table(self.connection.sql(sql).to_arrow())

    def leftovers(self) -> list[str]:
        """Return what is in the spill directory after a query, then empty it."""
        if not os.path.isdir(self.spill_dir):
            return []
        found = _list_leftovers(self.spill_dir)
        if found:
            _clear_directory(self.spill_dir)
        return found

    def close(self) -> None:
        """Release the session (worker pools stay up until the process exits)."""
        if self.connection is not None and hasattr(self.connection, "close"):
            try:
                self.connection.close()
            except Exception:
                pass
        if self._own_spill_dir:
            shutil.rmtree(self.spill_dir, ignore_errors=True)


class DuckDBRunner(Runner):
    """DuckDB, the reference, with views over the TPC-H files.

    ``threads`` sets DuckDB's ``threads`` (None: its default, all cores); ``settings``
    are more ``SET key = value`` statements. Unless ``settings`` names a
    ``temp_directory``, DuckDB spills into a fresh one, removed by `close`.
    """

    name = "duckdb"

    def __init__(
        self,
        data_dir: Path,
        threads: int | None = None,
        settings: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        import duckdb

        self.version = duckdb.__version__
        self.timeout = timeout
        self.settings = dict(settings or {})
        self._temp_dir = None
        options = dict(self.settings)
        if threads is not None:
            options.setdefault("threads", threads)
        if "temp_directory" not in options:
            self._temp_dir = tempfile.mkdtemp(prefix="quarry-bench-duckdb-")
            options["temp_directory"] = self._temp_dir
        self.connection = duckdb.connect()
        for key, value in options.items():
            self.connection.execute(f"set {key} = {_sql_literal(value)}")
        create_duckdb_views(self.connection, data_dir)
        # fetchall(): DuckDB 2.0 relations have no fetchone(), and a half-read execute()
        # result would block the connection.
        self.threads = self.connection.sql("select current_setting('threads')").fetchall()[0][0]

    def describe(self) -> str:
        return f"threads {self.threads}"

    def run(self, sql: str) -> pa.Table:
        """Return DuckDB's answer to ``sql``, interrupted after ``timeout`` seconds."""
        deadline = _Deadline(self.timeout, self.connection.interrupt)
        try:
            with deadline:
                return duckdb_to_arrow(self.connection.sql(sql))
        except Exception:
            if deadline.fired:
                raise deadline.error() from None
            raise

    def close(self) -> None:
        self.connection.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)


def sail_missing() -> str | None:
    """Return why Sail cannot run (its packages are not installed), or None if it can."""
    from importlib.util import find_spec

    for module, package in (("pysail", "pysail"), ("pyspark", "pyspark-client")):
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{package} is not installed; {_SAIL_HINT}"
    return None


class SailRunner(Runner):
    """Sail (a Spark Connect server on DataFusion) run in this process, queried with PySpark.

    `start` starts the server on a free local port and registers one temporary view
    per TPC-H table. ``parallelism`` sets Sail's ``execution.default_parallelism``
    (through its environment variable; None: all cores).
    """

    name = "sail"

    def __init__(
        self, data_dir: Path, parallelism: int | None = None, *, timeout: float | None = None
    ) -> None:
        self.data_dir = data_dir
        self.parallelism = parallelism
        self.timeout = timeout
        self.server: Any = None
        self.spark: Any = None
        self.error = sail_missing()
        self.version = _distribution_version("pysail")

    def describe(self) -> str:
        threads = "all cores" if self.parallelism is None else self.parallelism
        return f"{self.version}, parallelism {threads}"

    def start(self) -> None:
        """Start the server and register the tables; a failure makes every query an ERROR."""
        if self.error is not None:
            return
        if self.parallelism is not None:
            os.environ["SAIL_EXECUTION__DEFAULT_PARALLELISM"] = str(self.parallelism)
        os.environ.setdefault("RUST_LOG", "warn")  # Sail logs every session at INFO
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # pyspark warns (on connecting) about pandas versions it was not tested with.
                warnings.simplefilter("ignore", FutureWarning)
                from pysail.spark import SparkConnectServer
                from pyspark.sql import SparkSession

                self.server = SparkConnectServer("127.0.0.1", 0)
                self.server.start(background=True)
                host, port = self.server.listening_address
                self.spark = SparkSession.builder.remote(f"sc://{host}:{port}").getOrCreate()
            for name, path in table_paths(self.data_dir).items():
                self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
        except Exception as exc:
            self.error = f"sail setup failed: {_first_line(exc)}"
            return
        self.startup_s = time.perf_counter() - start

    def run(self, sql: str) -> pa.Table:
        """Return Sail's answer to ``sql``, interrupted after ``timeout`` seconds."""
        if self.spark is None:
            raise RuntimeError(self.error or "sail was not started")
        deadline = _Deadline(self.timeout, self.spark.interruptAll)
        try:
            with deadline:
                return _as_table(self.spark.sql(sql).toArrow())
        except Exception:
            if deadline.fired:
                raise deadline.error() from None
            raise

    def close(self) -> None:
        for stop in (getattr(self.spark, "stop", None), getattr(self.server, "stop", None)):
            if stop is not None:
                try:
                    stop()
                except Exception:
                    pass


def _version_of(module: Any, distribution: str) -> str:
    """Return a module's version from ``__version__`` or its installed distribution."""
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    return _distribution_version(distribution)


def _distribution_version(distribution: str) -> str:
    """Return an installed distribution's version, ``"unavailable"`` when it is not installed."""
    try:
        from importlib.metadata import version as dist_version

        return dist_version(distribution)
    except Exception:
        return "unavailable"


# --- one process per engine per query (--memory) -------------------------------------------

# The child is `python -m quarry.tpch.engines SPEC`, not `python -c`: PySpark takes a
# __main__ without a __spec__ or __file__ for its doctest runner, and exits.
_CHILD_MODULE = "quarry.tpch.engines"


def _runner_from_spec(spec: dict[str, Any]) -> Runner:
    """Build the runner a `ProcessRunner` child asked for."""
    data_dir = Path(spec["data_dir"])
    engine = spec["engine"]
    if engine == "quarry":
        return QuarryRunner(
            data_dir,
            spec["workers"],
            spec["settings"],
            timeout=spec["timeout"],
            spill_dir=spec["spill_dir"],
        )
    if engine == "duckdb":
        return DuckDBRunner(
            data_dir, spec["threads"], spec["settings"], timeout=spec["timeout"]
        )
    if engine == "sail":
        return SailRunner(data_dir, spec["threads"], timeout=spec["timeout"])
    raise ValueError(f"unknown engine {engine!r}")


def child_main(spec_path: str) -> int:
    """Run one engine's runs of one query as a `ProcessRunner` child; return the exit status.

    Reads the spec (JSON) at ``spec_path``, sets the engine up and runs its start-up,
    prints ``ready`` on stdout (the parent notes the process tree's RSS then), runs
    the query, and writes the answer (Arrow IPC) and a `RunOutcome` (JSON) where the
    spec says.
    """
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    # Keep the real stdout for the ready line only; anything the engines print goes to
    # stderr, which the parent saves.
    ready = os.dup(1)
    os.dup2(2, 1)
    runner: Runner | None = None
    outcome = RunOutcome()
    try:
        runner = _runner_from_spec(spec)
        runner.start()
        os.write(ready, b"ready\n")
        table, outcome = runner.measure(spec["sql"], warmup=spec["warmup"], runs=spec["runs"])
        if table is not None:
            with pa.OSFile(spec["result_path"], "wb") as sink:
                with pa.ipc.new_file(sink, table.schema) as writer:
                    writer.write_table(table)
    except Exception as exc:
        outcome.error = f"{spec['engine']} failed: {_first_line(exc)}"
    finally:
        if runner is not None:
            runner.close()
    Path(spec["outcome_path"]).write_text(json.dumps(asdict(outcome)), encoding="utf-8")
    return 0


def _exit_description(returncode: int | None, stderr_path: Path) -> str:
    """Say how a child that wrote no outcome ended, with the last line of its stderr."""
    if returncode is not None and returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        reason = f"the process was killed by {name}"
        if returncode == -signal.SIGKILL:
            reason += " (out of memory?)"
    else:
        reason = f"the process exited with status {returncode}"
    try:
        lines = stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return f"{reason}: {lines[-1]}" if lines else reason


class ProcessRunner(Runner):
    """Run each query of ``inner``'s engine in a fresh process and measure its memory.

    ``inner`` is the engine as set up in this process; it describes the engine and
    supplies what the child needs (``spec``), but runs nothing. Each `measure` starts
    ``python -m quarry.tpch.engines SPEC`` (`child_main`), polls the RSS of its process tree every ``interval``
    seconds (`quarry.tpch.procmem.run_measured`), and kills the tree when it exceeds
    ``(warmup + runs) * timeout + SETUP_GRACE_S`` seconds.
    """

    def __init__(
        self,
        inner: Runner,
        spec: dict[str, Any],
        *,
        work_dir: str,
        interval: float,
        timeout: float | None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.error = inner.error
        self.spec = spec
        self.work_dir = work_dir
        self.interval = interval
        self.timeout = timeout

    def describe(self) -> str:
        return self.inner.describe()

    def measure(self, sql: str, *, warmup: int, runs: int) -> tuple[pa.Table | None, RunOutcome]:
        """Run the query's runs in a child process; return its answer and outcome with RSS."""
        from quarry.tpch.procmem import run_measured

        if self.error is not None:
            return None, RunOutcome(error=self.error)
        scratch = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.work_dir))
        spec = {
            **self.spec,
            "sql": sql,
            "warmup": warmup,
            "runs": runs,
            "result_path": str(scratch / "result.arrow"),
            "outcome_path": str(scratch / "outcome.json"),
        }
        spill_dir = None
        if spec["engine"] == "quarry":
            spill_root = spec.pop("spill_root")
            os.makedirs(spill_root, exist_ok=True)
            spill_dir = tempfile.mkdtemp(prefix="quarry-bench-spill-", dir=spill_root)
            spec["spill_dir"] = spill_dir
        spec_path = scratch / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = dict(os.environ)
        # The child imports quarry from wherever this process did.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        limit = None if self.timeout is None else (warmup + runs) * self.timeout + SETUP_GRACE_S
        try:
            measured = run_measured(
                [sys.executable, "-m", _CHILD_MODULE, str(spec_path)],
                timeout=limit,
                interval=self.interval,
                env=env,
                stderr_path=scratch / "stderr.txt",
            )
            outcome_path = Path(spec["outcome_path"])
            if measured.timed_out:
                outcome = RunOutcome(
                    error=f"killed after {measured.elapsed_s:.0f} s "
                    f"({warmup + runs} runs x --timeout {self.timeout:g} s + "
                    f"{SETUP_GRACE_S:g} s to start)"
                )
            elif outcome_path.is_file():
                outcome = RunOutcome(**json.loads(outcome_path.read_text(encoding="utf-8")))
            else:
                outcome = RunOutcome(
                    error=_exit_description(measured.returncode, scratch / "stderr.txt")
                )
            outcome.peak_rss = measured.peak_rss
            outcome.start_rss = measured.marks.get("ready")
            outcome.max_process_rss = measured.max_process_rss
            table = None
            result_path = Path(spec["result_path"])
            if outcome.error is None and result_path.is_file():
                # Read into memory (not a memory map): the file is deleted below.
                data = pa.py_buffer(result_path.read_bytes())
                table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
            if spill_dir is not None:
                # A killed child cannot clean up; its files are reported all the same.
                outcome.leftover = sorted(set(outcome.leftover) | set(_list_leftovers(spill_dir)))
        finally:
            if spill_dir is not None:
                shutil.rmtree(spill_dir, ignore_errors=True)
            shutil.rmtree(scratch, ignore_errors=True)
        return table, outcome


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
