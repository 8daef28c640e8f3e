"""Time quarry against DuckDB on TPC-H and check quarry's answers against DuckDB's.

Both engines read the same Parquet files in one process: quarry through
``con.register(table, path)``, DuckDB through views over ``read_parquet``. For each
query the benchmark does the warm-up runs, then reports the median of the timed
runs (including materialising the result as an Arrow table), and compares the
answers with `quarry.testing.compare_tables` (in order when the outermost statement
has an ORDER BY).

With ``--workers N`` (N > 0) quarry runs twice per query: with ``workers=N`` (the
process pool) and with ``workers=0`` (the serial baseline: one partition in this
process), so one run reports both the parallel speedup (serial / parallel) and the
ratio to DuckDB. ``--no-baseline`` skips the serial run; ``--baseline`` adds it to a
run with the default workers. DuckDB gets as many threads as quarry has workers
unless ``--duckdb-threads`` says otherwise.

A failure inside quarry, including failing to import or connect, is recorded as an
ERROR for that query; DuckDB still runs, so the report is complete. The exit status
is 0 even when answers differ, unless ``--strict`` is given.

Usage::

    python -m quarry.tpch.benchmark --sf 1 [--queries 1,6,14] [--runs 3] [--warmup 1]
                             [--workers N] [--baseline | --no-baseline]
                             [--duckdb-threads N] [--data DIR] [--json bench.json]
                             [--strict]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from quarry.tpch import QUERY_NUMBERS, create_duckdb_views, load_query, register_tables
from quarry.tpch.datagen import (
    DataGenerationError,
    default_dir,
    generate,
    missing_tables,
    scale_label,
)

__all__ = ["QueryResult", "correct_cell", "has_top_level_order_by", "main", "run_benchmark"]

_MAX_DIFFERENCE_CHARS = 4000

# Run once per session before timing. A scan, an aggregate and a shuffle make every
# worker process start and import what the queries need, so the pool's start-up
# (seconds) is not charged to the first timed query when --warmup is 0.
_STARTUP_SQL = "select n_regionkey, count(*) as n from nation group by n_regionkey"


@dataclass
class QueryResult:
    """Timings and the correctness verdicts of one TPC-H query.

    ``quarry_*`` is the run with the requested workers, ``serial_*`` the workers=0
    baseline (all None when there is no baseline). ``correct`` is the verdict over
    both quarry runs: ``"yes"`` only when each equals DuckDB's answer.
    """

    query: int
    quarry_s: float | None = None
    serial_s: float | None = None
    duckdb_s: float | None = None
    quarry_runs: list[float] = field(default_factory=list)
    serial_runs: list[float] = field(default_factory=list)
    duckdb_runs: list[float] = field(default_factory=list)
    speedup: float | None = None  # serial_s / quarry_s
    ratio: float | None = None  # quarry_s / duckdb_s
    correct: str = "ERROR"  # "yes", "NO" or "ERROR"
    quarry_correct: str = "ERROR"
    serial_correct: str | None = None  # None without a baseline
    ordered: bool = False
    quarry_rows: int | None = None
    serial_rows: int | None = None
    duckdb_rows: int | None = None
    error: str | None = None
    serial_error: str | None = None
    difference: str | None = None
    serial_difference: str | None = None


def has_top_level_order_by(sql: str) -> bool:
    """Return whether the outermost statement of ``sql`` has an ORDER BY.

    >>> has_top_level_order_by("select a from t order by a")
    True
    >>> has_top_level_order_by("select a from (select a from t order by a) s")
    False
    """
    import sqlglot

    try:
        statement = sqlglot.parse_one(sql)
    except sqlglot.errors.ParseError:
        return False
    return statement.args.get("order") is not None


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


def _timed(run: Callable[[], pa.Table], warmup: int, runs: int) -> tuple[pa.Table, list[float]]:
    """Call ``run`` ``warmup`` times untimed, then ``runs`` times timed; return the last answer."""
    result = None
    for _ in range(warmup):
        result = run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    assert result is not None
    return result, times


class QuarryRunner:
    """Run queries in one quarry session, remembering why quarry is unusable when it is.

    ``workers`` is passed to ``quarry.connect(workers=...)``; None keeps the session
    default (the process pool, one worker per core). ``executor`` and ``workers`` are
    what the session reports it uses.
    """

    def __init__(self, data_dir: Path, workers: int | None) -> None:
        self.connection: Any = None
        self.error: str | None = None
        self.version = "unavailable"
        self.requested_workers = workers
        self.executor = "unavailable"
        self.workers: int | None = None
        self.startup_s: float | None = None
        try:
            import quarry
        except Exception as exc:  # The engine may be half-written; report, don't crash.
            self.error = f"import quarry failed: {_first_line(exc)}"
            return
        self.version = _version_of(quarry, "quarry")
        try:
            session = quarry.connect() if workers is None else quarry.connect(workers=workers)
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
        self.startup_s = time.perf_counter() - start

    def run(self, sql: str) -> pa.Table:
        """Return quarry's answer to ``sql``."""
        if self.connection is None:
            raise RuntimeError(self.error or "quarry is unavailable")
        return _as_table(self.connection.sql(sql).to_arrow())

    def close(self) -> None:
        """Release the session (worker pools stay up until the process exits)."""
        if self.connection is not None and hasattr(self.connection, "close"):
            try:
                self.connection.close()
            except Exception:
                pass


def _version_of(module: Any, distribution: str) -> str:
    """Return a module's version from ``__version__`` or its installed distribution."""
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    try:
        from importlib.metadata import version as dist_version

        return dist_version(distribution)
    except Exception:
        return "unknown"


@dataclass
class _RunOutcome:
    """One quarry session's timings and verdict for one query."""

    seconds: float | None = None
    runs: list[float] = field(default_factory=list)
    rows: int | None = None
    correct: str = "ERROR"
    error: str | None = None
    difference: str | None = None


def _run_quarry(
    runner: QuarryRunner,
    sql: str,
    expected: pa.Table,
    *,
    ordered: bool,
    runs: int,
    warmup: int,
    rel_tol: float,
) -> _RunOutcome:
    """Time ``sql`` in ``runner`` and compare its answer with DuckDB's ``expected``."""
    outcome = _RunOutcome()
    if runner.connection is None:
        outcome.error = runner.error
        return outcome
    try:
        actual, outcome.runs = _timed(lambda: runner.run(sql), warmup, runs)
    except Exception as exc:
        outcome.error = _first_line(exc)
        return outcome
    outcome.seconds = statistics.median(outcome.runs)
    outcome.rows = actual.num_rows
    try:
        # Imported only now: quarry ran, so the package imports.
        from quarry.testing import compare_tables

        difference = compare_tables(actual, expected, ordered=ordered, rel_tol=rel_tol)
    except Exception as exc:
        outcome.error = f"comparison failed: {_first_line(exc)}"
        return outcome
    if difference is None:
        outcome.correct = "yes"
    else:
        outcome.correct = "NO"
        outcome.difference = difference[:_MAX_DIFFERENCE_CHARS]
    return outcome


def _overall_verdict(*verdicts: str | None) -> str:
    """Return ``"ERROR"`` if any run errored, else ``"NO"`` if any was wrong, else ``"yes"``."""
    present = [v for v in verdicts if v is not None]
    for verdict in ("ERROR", "NO"):
        if verdict in present:
            return verdict
    return "yes"


def run_query(
    n: int,
    quarry: QuarryRunner,
    duckdb_con: Any,
    *,
    serial: QuarryRunner | None = None,
    runs: int,
    warmup: int,
    rel_tol: float,
) -> QueryResult:
    """Time query ``n`` in DuckDB, quarry and the serial baseline; check both quarry answers.

    DuckDB runs first: its answer is the reference. ``serial`` is the workers=0 session,
    None when there is no baseline.
    """
    sql = load_query(n)
    result = QueryResult(query=n, ordered=has_top_level_order_by(sql))
    if serial is not None:
        result.serial_correct = "ERROR"
    try:
        expected, result.duckdb_runs = _timed(
            lambda: duckdb_to_arrow(duckdb_con.sql(sql)), warmup, runs
        )
    except Exception as exc:
        result.error = f"duckdb failed: {_first_line(exc)}"
        return result
    result.duckdb_s = statistics.median(result.duckdb_runs)
    result.duckdb_rows = expected.num_rows

    options = dict(ordered=result.ordered, runs=runs, warmup=warmup, rel_tol=rel_tol)
    parallel = _run_quarry(quarry, sql, expected, **options)
    result.quarry_s = parallel.seconds
    result.quarry_runs = parallel.runs
    result.quarry_rows = parallel.rows
    result.quarry_correct = parallel.correct
    result.error = parallel.error
    result.difference = parallel.difference
    if result.quarry_s is not None and result.duckdb_s > 0:
        result.ratio = result.quarry_s / result.duckdb_s
    if serial is not None:
        baseline = _run_quarry(serial, sql, expected, **options)
        result.serial_s = baseline.seconds
        result.serial_runs = baseline.runs
        result.serial_rows = baseline.rows
        result.serial_correct = baseline.correct
        result.serial_error = baseline.error
        result.serial_difference = baseline.difference
        if result.serial_s is not None and result.quarry_s:
            result.speedup = result.serial_s / result.quarry_s
    result.correct = _overall_verdict(result.quarry_correct, result.serial_correct)
    return result


def geometric_mean(values: Sequence[float]) -> float | None:
    """Return the geometric mean of positive values, or None when there are none."""
    positive = [v for v in values if v is not None and v > 0]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def summarize(results: Sequence[QueryResult]) -> dict[str, Any]:
    """Return the counts of verdicts and the geometric means over the queries every run completed.

    The time columns, the speedup and the ratio are all averaged over the same queries
    (those where quarry, the serial baseline if there is one, and DuckDB all ran), so
    ``geomean_speedup`` equals ``geomean_serial_s / geomean_quarry_s``.
    """
    baseline = any(r.serial_correct is not None for r in results)
    ran = [
        r
        for r in results
        if r.quarry_s is not None
        and r.duckdb_s is not None
        and (not baseline or r.serial_s is not None)
    ]
    return {
        "queries_ran": len(ran),
        "queries_correct": sum(r.correct == "yes" for r in results),
        "queries_wrong": sum(r.correct == "NO" for r in results),
        "queries_error": sum(r.correct == "ERROR" for r in results),
        "geomean_quarry_s": geometric_mean([r.quarry_s for r in ran]),
        "geomean_serial_s": geometric_mean([r.serial_s for r in ran]) if baseline else None,
        "geomean_duckdb_s": geometric_mean([r.duckdb_s for r in ran]),
        "geomean_speedup": (
            geometric_mean([r.speedup for r in ran if r.speedup is not None]) if baseline else None
        ),
        "geomean_ratio": geometric_mean([r.ratio for r in ran if r.ratio is not None]),
        "geomean_duckdb_s_all": geometric_mean(
            [r.duckdb_s for r in results if r.duckdb_s is not None]
        ),
    }


def _seconds(value: float | None) -> str:
    """Format seconds for the table, ``-`` when missing."""
    return "-" if value is None else f"{value:.4f}"


def _ratio(value: float | None) -> str:
    """Format a ratio for the table, ``-`` when missing."""
    return "-" if value is None else f"{value:.2f}x"


def correct_cell(r: QueryResult) -> str:
    """Return the ``correct`` column: the verdict, naming the run that failed if only one did.

    >>> correct_cell(QueryResult(1, correct="NO", quarry_correct="yes", serial_correct="NO"))
    'NO (serial)'
    >>> correct_cell(QueryResult(1, correct="yes", quarry_correct="yes", serial_correct="yes"))
    'yes'
    """
    if r.serial_correct is None or r.serial_correct == r.quarry_correct:
        return r.correct
    runs = (("parallel", r.quarry_correct), ("serial", r.serial_correct))
    return ", ".join(f"{verdict} ({run})" for run, verdict in runs if verdict != "yes")


def _columns(baseline: bool) -> list[tuple[str, int]]:
    """Return the result table's (header, width) columns, with the baseline's when there is one."""
    middle = [("quarry s", 10)]
    if baseline:
        middle += [("serial s", 10), ("speedup", 9)]
    middle += [("duckdb s", 10), ("ratio", 9)]
    return [("query", 7), *middle, ("correct", 7)]


def _format_row(columns: list[tuple[str, int]], cells: Sequence[str]) -> str:
    """Lay out one table line: the first and last columns left-aligned, numbers right-aligned."""
    (_, first), *middle, (_, last) = columns
    parts = [f"{cells[0]:<{first}}"]
    parts += [f"{cell:>{width}}" for (_, width), cell in zip(middle, cells[1:-1])]
    return (" ".join(parts) + f"  {cells[-1]:<{last}}").rstrip()


def _rule(columns: list[tuple[str, int]]) -> str:
    return _format_row(columns, ["-" * width for _, width in columns])


def _print_header(metadata: dict[str, Any], columns: list[tuple[str, int]]) -> None:
    """Print the run's metadata and the result table's header."""
    load = metadata["load_average"]
    load_note = "" if load is None else f", load average {load:.2f}"
    print(
        f"TPC-H SF {metadata['scale_factor']}: median of {metadata['runs']} runs "
        f"after {metadata['warmup']} warm-up; {metadata['cores']} cores{load_note}"
    )
    setup = [f"quarry {metadata['quarry_setup']}"]
    if metadata["baseline"] is not None:
        setup.append(f"serial baseline {metadata['baseline']['setup']}")
    setup.append(
        f"duckdb threads {metadata['duckdb_threads']} ({metadata['duckdb_threads_from']})"
    )
    print("; ".join(setup))
    print(
        f"quarry {metadata['quarry_version']}, pyarrow {metadata['pyarrow_version']}, "
        f"duckdb {metadata['duckdb_version']}, "
        f"Python {metadata['python_version']} on {metadata['platform']}"
    )
    startup = [
        f"{name} -" if seconds is None else f"{name} {seconds:.2f} s"
        for name, seconds in metadata["startup_s"].items()
    ]
    print(f"start-up query (untimed): {', '.join(startup)}")
    print(f"data: {metadata['data_dir']}")
    print()
    print(_format_row(columns, [name for name, _ in columns]))
    print(_rule(columns))


def _row_cells(r: QueryResult, baseline: bool) -> list[str]:
    """Return one query's cells, in the order of `_columns`."""
    cells = [f"Q{r.query:02d}", _seconds(r.quarry_s)]
    if baseline:
        cells += [_seconds(r.serial_s), _ratio(r.speedup)]
    cells += [_seconds(r.duckdb_s), _ratio(r.ratio), correct_cell(r)]
    return cells


def _print_summary(
    results: Sequence[QueryResult],
    summary: dict[str, Any],
    columns: list[tuple[str, int]],
    baseline: bool,
) -> None:
    """Print the geometric means, then the errors and wrong answers in detail."""
    print(_rule(columns))
    cells = ["geomean", _seconds(summary["geomean_quarry_s"])]
    if baseline:
        cells += [_seconds(summary["geomean_serial_s"]), _ratio(summary["geomean_speedup"])]
    cells += [
        _seconds(summary["geomean_duckdb_s"]),
        _ratio(summary["geomean_ratio"]),
        f"{summary['queries_correct']}/{len(results)}",
    ]
    print(_format_row(columns, cells))
    if baseline:
        print(
            f"(geometric means over the {summary['queries_ran']} queries all three runs "
            f"completed; speedup = serial / quarry, ratio = quarry / duckdb)"
        )
    else:
        print(
            f"(geometric means over the {summary['queries_ran']} queries both engines ran; "
            f"ratio = quarry / duckdb)"
        )
    if summary["queries_ran"] < len(results) and summary["geomean_duckdb_s_all"] is not None:
        print(
            f"(duckdb geometric mean over all {len(results)} queries: "
            f"{_seconds(summary['geomean_duckdb_s_all'])} s)"
        )
    errors = [(r, "parallel", r.error) for r in results if r.error]
    errors += [(r, "serial", r.serial_error) for r in results if r.serial_error]
    if errors:
        print("\nerrors:")
        for r, run, error in sorted(errors, key=lambda e: e[0].query):
            label = f" ({run})" if baseline and not error.startswith("duckdb failed") else ""
            print(f"  Q{r.query:02d}{label}: {error}")
    wrong = [(r, "parallel", r.difference) for r in results if r.quarry_correct == "NO"]
    wrong += [(r, "serial", r.serial_difference) for r in results if r.serial_correct == "NO"]
    for r, run, difference in sorted(wrong, key=lambda w: w[0].query):
        label = f" ({run})" if baseline else ""
        print(f"\nQ{r.query:02d} wrong answer{label}:")
        lines = (difference or "").splitlines()
        for line in lines[:25]:
            print(f"  {line}")
        if len(lines) > 25:
            print(f"  ... ({len(lines) - 25} more lines in the JSON report)")


def parse_queries(text: str | None) -> list[int]:
    """Return the query numbers in ``"1,6,14"`` (all 22 when ``text`` is empty)."""
    if not text:
        return list(QUERY_NUMBERS)
    numbers = []
    for part in text.split(","):
        part = part.strip().lower().lstrip("q")
        if not part:
            continue
        if "-" in part:
            low, high = (int(x) for x in part.split("-", 1))
            numbers.extend(range(low, high + 1))
        else:
            numbers.append(int(part))
    invalid = [n for n in numbers if n not in QUERY_NUMBERS]
    if invalid:
        raise ValueError(f"TPC-H queries are numbered 1 to 22, got {invalid}")
    return list(dict.fromkeys(numbers))


def wants_baseline(args: argparse.Namespace) -> bool:
    """Return whether to time the workers=0 baseline: per ``--baseline``, else if workers > 0."""
    if args.baseline is not None:
        return bool(args.baseline)
    return args.workers is not None and args.workers > 0


def duckdb_threads_for(args: argparse.Namespace) -> tuple[int | None, str]:
    """Return the DuckDB ``threads`` to set (None: DuckDB's default) and why.

    DuckDB gets as many threads as quarry has workers, so the ratio compares engines
    given the same cores; workers=0 (one partition) maps to one thread.
    """
    if args.duckdb_threads:
        return int(args.duckdb_threads), "--duckdb-threads"
    if args.workers == 0:
        return 1, "one, as --workers 0 is serial"
    if args.workers is not None:
        return args.workers, "same as --workers"
    return None, "DuckDB's default: all cores"


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def run_benchmark(args: argparse.Namespace) -> tuple[list[QueryResult], dict[str, Any]]:
    """Run the benchmark described by parsed command-line ``args``; return results and report."""
    import duckdb

    queries = parse_queries(args.queries)
    data_dir = Path(args.data).expanduser() if args.data else default_dir(args.sf)
    if missing_tables(data_dir):
        print(f"generating TPC-H SF {scale_label(args.sf)} into {data_dir} ...", file=sys.stderr)
    data_dir = generate(args.sf, data_dir)

    duckdb_con = duckdb.connect()
    threads, threads_from = duckdb_threads_for(args)
    if threads is not None:
        duckdb_con.execute(f"set threads = {threads}")
    create_duckdb_views(duckdb_con, data_dir)
    # fetchall(): DuckDB 2.0 relations have no fetchone(), and a half-read execute()
    # result would block the connection.
    duckdb_threads = duckdb_con.sql("select current_setting('threads')").fetchall()[0][0]

    quarry = QuarryRunner(data_dir, args.workers)
    serial = QuarryRunner(data_dir, 0) if wants_baseline(args) else None
    if quarry.error:
        print(f"warning: {quarry.error}; reporting every query as ERROR", file=sys.stderr)
    startup = {"quarry": quarry}
    if serial is not None:
        startup["serial"] = serial
    for runner in startup.values():
        runner.start()

    metadata = {
        "scale_factor": scale_label(args.sf),
        "queries": queries,
        "runs": args.runs,
        "warmup": args.warmup,
        "rel_tol": args.rel_tol,
        "workers_requested": args.workers,
        "workers": quarry.workers,
        "executor": quarry.executor,
        "quarry_setup": quarry.describe(),
        "baseline": None if serial is None else {
            "workers": serial.workers,
            "executor": serial.executor,
            "setup": serial.describe(),
        },
        "duckdb_threads": duckdb_threads,
        "duckdb_threads_from": threads_from,
        "startup_s": {name: runner.startup_s for name, runner in startup.items()},
        "cores": os.cpu_count(),
        "load_average": _load_average(),
        "quarry_version": quarry.version,
        "pyarrow_version": pa.__version__,
        "duckdb_version": duckdb.__version__,
        "python_version": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "data_dir": str(data_dir),
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    columns = _columns(serial is not None)
    _print_header(metadata, columns)
    results = []
    try:
        for n in queries:
            result = run_query(
                n,
                quarry,
                duckdb_con,
                serial=serial,
                runs=args.runs,
                warmup=args.warmup,
                rel_tol=args.rel_tol,
            )
            results.append(result)
            print(_format_row(columns, _row_cells(result, serial is not None)), flush=True)
    finally:
        for runner in startup.values():
            runner.close()
        duckdb_con.close()
    summary = summarize(results)
    _print_summary(results, summary, columns, serial is not None)
    report = {"metadata": metadata, "summary": summary, "queries": [asdict(r) for r in results]}
    return results, report


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of ``python -m quarry.tpch.benchmark``."""
    parser = argparse.ArgumentParser(
        prog="python -m quarry.tpch.benchmark",
        description="Time quarry against DuckDB on TPC-H and check quarry's answers.",
    )
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    parser.add_argument(
        "--queries", default=None, help="query numbers or ranges, e.g. 1,6,14 or 1-5 (default all)"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per query (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="quarry.connect(workers=N) (default: the session default, one per core); "
        "N > 0 also times the workers=0 serial baseline",
    )
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time the workers=0 serial baseline too and report the speedup "
        "(default: on when --workers N > 0)",
    )
    parser.add_argument(
        "--duckdb-threads",
        type=int,
        default=None,
        help="DuckDB threads (default: as --workers, else all cores)",
    )
    parser.add_argument(
        "--data", default=None, help="TPC-H Parquet directory (default: the datagen cache)"
    )
    parser.add_argument(
        "--json", default=None, help="write the report here (default bench-sf<SF>.json)"
    )
    parser.add_argument(
        "--rel-tol", type=float, default=1e-9, help="relative tolerance for floats (default 1e-9)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit non-zero if any answer is wrong or errors"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    if args.workers is not None and args.workers < 0:
        parser.error("--workers must be at least 0 (0 runs serially in this process)")
    if args.baseline and args.workers == 0:
        parser.error("--baseline compares with workers=0; --workers 0 is the baseline itself")
    try:
        parse_queries(args.queries)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        results, report = run_benchmark(args)
    except DataGenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json_path = Path(args.json or f"bench-sf{scale_label(args.sf)}.json")
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nreport written to {json_path}")
    if args.strict and any(r.correct != "yes" for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
