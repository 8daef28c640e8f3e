"""Time quarry against DuckDB on TPC-H, measure their memory, and check quarry's answers.

Both engines read the same Parquet files: quarry through ``con.register(table, path)``,
DuckDB through views over ``read_parquet``. For each query the benchmark does the
warm-up runs, then reports the median of the timed runs (including materialising the
result as an Arrow table), and compares the answers with
`quarry.testing.compare_tables` (in order when the outermost statement has an ORDER BY).

By default every engine runs in this process. With ``--memory`` each engine's runs of
each query happen in a fresh process (`quarry.tpch.engines.ProcessRunner`), so
caches and memory arenas of earlier queries do not count, and the benchmark polls the
peak resident set size of that process tree (quarry's driver plus its worker
processes; DuckDB's one process) through ``/proc``, see `quarry.tpch.procmem`. The
child sends its answer back as an Arrow IPC file, and the answer is checked as before.

With ``--workers N`` (N > 0) quarry runs twice per query: with ``workers=N`` (the
process pool) and with ``workers=0`` (the serial baseline: one partition in one
process), so one run reports both the parallel speedup (serial / parallel) and the
ratio to DuckDB. ``--no-baseline`` skips the serial run; ``--baseline`` adds it to a
run with the default workers. DuckDB gets as many threads as quarry has workers
unless ``--duckdb-threads`` says otherwise. ``--config KEY=VALUE`` passes settings to
``quarry.connect``; ``--engines quarry,duckdb,sail`` adds Sail (``pip install
'quarry[bench-sail]'``) through Spark Connect.

quarry's ``spill_dir`` is a fresh directory per session (under the ``spill_dir`` given
with ``--config``, else the system temp directory), and it must be empty after every
query: a file left there (a shuffle or spill file quarry did not remove) makes the
query an ERROR. ``--timeout S`` bounds each run of a query on each engine.

A failure inside quarry, including failing to import or connect, is recorded as an
ERROR for that query; DuckDB still runs, so the report is complete. The exit status
is 0 even when answers differ, unless ``--strict`` is given.

Usage::

    python -m quarry.tpch.benchmark --sf 1 [--queries 1,6,14] [--runs 3] [--warmup 1]
                             [--workers N] [--baseline | --no-baseline]
                             [--memory] [--config KEY=VALUE ...] [--timeout S]
                             [--duckdb-threads N] [--duckdb-config KEY=VALUE ...]
                             [--engines quarry,duckdb[,sail]] [--parts N]
                             [--data DIR] [--json bench.json] [--strict]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from quarry.tpch import QUERY_NUMBERS, load_query
from quarry.tpch.datagen import (
    DataGenerationError,
    default_dir,
    generate,
    missing_tables,
    scale_label,
)
from quarry.tpch.engines import (
    DuckDBRunner,
    ProcessRunner,
    QuarryRunner,
    RunOutcome,
    Runner,
    SailRunner,
    _first_line,
    duckdb_to_arrow,
    sail_missing,
)

__all__ = [
    "QueryResult",
    "correct_cell",
    "duckdb_to_arrow",
    "has_top_level_order_by",
    "main",
    "parse_settings",
    "run_benchmark",
    "run_query",
    "spark_decimals_as_floats",
]

_MAX_DIFFERENCE_CHARS = 4000
_MAX_LEFTOVERS_LISTED = 20

ENGINES = ("quarry", "duckdb", "sail")

DEFAULT_RSS_INTERVAL_S = 0.02

@dataclass
class QueryResult:
    """Timings, peak memory and correctness verdicts of one TPC-H query.

    ``quarry_*`` is the run with the requested workers, ``serial_*`` the workers=0
    baseline (all None when there is no baseline), ``sail_*`` Sail (None unless it
    ran). ``correct`` is the verdict over both quarry runs: ``"yes"`` only when each
    equals DuckDB's answer and left no file in its spill directory. The ``*_rss``
    fields (bytes) are set with ``--memory`` only.
    """

    query: int
    quarry_s: float | None = None
    serial_s: float | None = None
    duckdb_s: float | None = None
    sail_s: float | None = None
    quarry_runs: list[float] = field(default_factory=list)
    serial_runs: list[float] = field(default_factory=list)
    duckdb_runs: list[float] = field(default_factory=list)
    sail_runs: list[float] = field(default_factory=list)
    speedup: float | None = None  # serial_s / quarry_s
    ratio: float | None = None  # quarry_s / duckdb_s
    sail_ratio: float | None = None  # sail_s / duckdb_s
    correct: str = "ERROR"  # "yes", "NO" or "ERROR"
    quarry_correct: str = "ERROR"
    serial_correct: str | None = None  # None without a baseline
    sail_correct: str | None = None  # None without Sail
    ordered: bool = False
    quarry_rows: int | None = None
    serial_rows: int | None = None
    duckdb_rows: int | None = None
    sail_rows: int | None = None
    quarry_peak_rss: int | None = None
    serial_peak_rss: int | None = None
    duckdb_peak_rss: int | None = None
    sail_peak_rss: int | None = None
    rss_ratio: float | None = None  # quarry_peak_rss / duckdb_peak_rss
    quarry_start_rss: int | None = None
    serial_start_rss: int | None = None
    duckdb_start_rss: int | None = None
    sail_start_rss: int | None = None
    quarry_max_process_rss: int | None = None
    serial_max_process_rss: int | None = None
    duckdb_max_process_rss: int | None = None
    sail_max_process_rss: int | None = None
    leftover_files: list[str] = field(default_factory=list)
    serial_leftover_files: list[str] = field(default_factory=list)
    error: str | None = None
    serial_error: str | None = None
    duckdb_error: str | None = None
    sail_error: str | None = None
    difference: str | None = None
    serial_difference: str | None = None
    sail_difference: str | None = None


# Where each engine's outcome goes in a QueryResult: the quarry run keeps the
# unprefixed ``error``/``difference``/``leftover_files`` names of earlier reports.
_FIELDS = {
    "quarry": {"error": "error", "difference": "difference", "leftover": "leftover_files"},
    "serial": {"error": "serial_error", "difference": "serial_difference",
               "leftover": "serial_leftover_files"},
    "duckdb": {"error": "duckdb_error"},
    "sail": {"error": "sail_error", "difference": "sail_difference"},
}


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


# --- settings -----------------------------------------------------------------------


def parse_settings(items: Sequence[str] | None) -> dict[str, Any]:
    """Return ``{key: value}`` for ``KEY=VALUE`` items; a value is JSON if it parses, else text.

    >>> parse_settings(["memory_limit=256MB", "broadcast_rows=0", 'disabled_rules=["a", "b"]'])
    {'memory_limit': '256MB', 'broadcast_rows': 0, 'disabled_rules': ['a', 'b']}
    """
    settings: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"expected KEY=VALUE (e.g. memory_limit=256MB), got {item!r}")
        text = text.strip()
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        settings[key] = value
    return settings


def _as_process(
    runner: Runner, spec: dict[str, Any], args: argparse.Namespace, work_dir: str
) -> ProcessRunner:
    """Wrap ``runner`` so that each query runs in a fresh, measured process."""
    return ProcessRunner(
        runner, spec, work_dir=work_dir, interval=args.rss_interval, timeout=args.timeout
    )


# --- one query ---------------------------------------------------------------------------


def spark_decimals_as_floats(actual: pa.Table, expected: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Compare a Spark decimal column with DuckDB's double to one unit in its last place.

    Spark's rules make ``avg`` of a decimal a decimal with 6 digits of scale, where
    DuckDB returns a double; and Sail cuts the quotient off at that scale where Spark
    rounds it. Such a column becomes a double on the Spark side, and a DuckDB value
    within one unit of the decimal's last place (10^-scale) of the Spark value, row by
    row, is taken as equal to it; other values, and every other column, are left as
    they are, for the comparison to judge.

    >>> import decimal
    >>> a = pa.table({"x": pa.array([decimal.Decimal("0.050081")], pa.decimal128(10, 6))})
    >>> e = pa.table({"x": [0.05008133906964238]})
    >>> spark_decimals_as_floats(a, e)[1]["x"].to_pylist()
    [0.050081]
    """
    import pyarrow.compute as pc

    if actual.num_columns != expected.num_columns or actual.num_rows != expected.num_rows:
        return actual, expected
    actual_columns, expected_columns = list(actual.columns), list(expected.columns)
    for i, (mine, theirs) in enumerate(zip(actual_columns, expected_columns)):
        if pa.types.is_decimal(mine.type) and pa.types.is_floating(theirs.type):
            unit = 10.0 ** -mine.type.scale
            mine = pc.cast(mine, pa.float64())
            close = pc.less_equal(pc.abs(pc.subtract(mine, theirs)), unit)
            actual_columns[i] = mine
            expected_columns[i] = pc.if_else(pc.fill_null(close, False), mine, theirs)
    return (
        pa.table(actual_columns, names=actual.column_names),
        pa.table(expected_columns, names=expected.column_names),
    )


def _judge(
    table: pa.Table | None,
    outcome: RunOutcome,
    expected: pa.Table | None,
    *,
    ordered: bool,
    rel_tol: float,
    align: Callable[[pa.Table, pa.Table], tuple[pa.Table, pa.Table]] | None = None,
) -> tuple[str, str | None, str | None]:
    """Return (verdict, error, difference) of one engine's answer against DuckDB's.

    ``align`` adapts both tables to each other before the comparison (Sail's decimals).
    """
    error = outcome.error
    verdict = "ERROR"
    difference = None
    if error is None and expected is None:
        error = "not checked: DuckDB gave no answer"
    elif error is None and table is not None:
        try:
            # Imported only now: quarry ran, so the package imports.
            from quarry.testing import compare_tables

            if align is not None:
                table, expected = align(table, expected)
            difference = compare_tables(table, expected, ordered=ordered, rel_tol=rel_tol)
        except Exception as exc:
            error = f"comparison failed: {_first_line(exc)}"
        else:
            verdict = "yes" if difference is None else "NO"
            if difference is not None:
                difference = difference[:_MAX_DIFFERENCE_CHARS]
    if outcome.leftover:
        listed = ", ".join(outcome.leftover[:_MAX_LEFTOVERS_LISTED])
        more = len(outcome.leftover) - _MAX_LEFTOVERS_LISTED
        note = (
            f"left {len(outcome.leftover)} file(s) in its spill_dir: {listed}"
            + (f" (+{more} more)" if more > 0 else "")
        )
        error = f"{error}; {note}" if error else note
        verdict = "ERROR"
    return verdict, error, difference


def _store(result: QueryResult, engine: str, outcome: RunOutcome) -> None:
    """Copy one engine's timings and memory into ``result``'s ``<engine>_*`` fields."""
    setattr(result, f"{engine}_s", outcome.seconds)
    setattr(result, f"{engine}_runs", outcome.runs)
    setattr(result, f"{engine}_rows", outcome.rows)
    for name in ("peak_rss", "start_rss", "max_process_rss"):
        setattr(result, f"{engine}_{name}", getattr(outcome, name))
    if "leftover" in _FIELDS[engine]:
        setattr(result, _FIELDS[engine]["leftover"], outcome.leftover)


def _quotient(top: float | None, bottom: float | None) -> float | None:
    """Return ``top / bottom``, or None when either is missing or ``bottom`` is 0."""
    if top is None or not bottom:
        return None
    return top / bottom


def _overall_verdict(*verdicts: str | None) -> str:
    """Return ``"ERROR"`` if any run errored, else ``"NO"`` if any was wrong, else ``"yes"``."""
    present = [v for v in verdicts if v is not None]
    for verdict in ("ERROR", "NO"):
        if verdict in present:
            return verdict
    return "yes"


def run_query(
    n: int,
    quarry: Runner,
    duckdb: Runner,
    *,
    serial: Runner | None = None,
    sail: Runner | None = None,
    runs: int,
    warmup: int,
    rel_tol: float,
) -> QueryResult:
    """Time query ``n`` on DuckDB, quarry, the serial baseline and Sail; check their answers.

    DuckDB runs first: its answer is the reference. When DuckDB fails the others still
    run (their times and memory are reported) but their answers cannot be checked.
    ``serial`` is the workers=0 session and ``sail`` Sail, each None when not run.
    """
    sql = load_query(n)
    result = QueryResult(query=n, ordered=has_top_level_order_by(sql))
    expected, reference = duckdb.measure(sql, warmup=warmup, runs=runs)
    _store(result, "duckdb", reference)
    result.duckdb_error = reference.error
    options = dict(ordered=result.ordered, rel_tol=rel_tol)

    engines: list[tuple[str, Runner]] = [("quarry", quarry)]
    if serial is not None:
        engines.append(("serial", serial))
    if sail is not None:
        engines.append(("sail", sail))
    for engine, runner in engines:
        table, outcome = runner.measure(sql, warmup=warmup, runs=runs)
        _store(result, engine, outcome)
        align = spark_decimals_as_floats if engine == "sail" else None
        verdict, error, difference = _judge(table, outcome, expected, align=align, **options)
        setattr(result, "quarry_correct" if engine == "quarry" else f"{engine}_correct", verdict)
        setattr(result, _FIELDS[engine]["error"], error)
        setattr(result, _FIELDS[engine]["difference"], difference)
        del table  # the next engine's process should not share the machine with it

    result.ratio = _quotient(result.quarry_s, result.duckdb_s)
    result.speedup = _quotient(result.serial_s, result.quarry_s)
    result.sail_ratio = _quotient(result.sail_s, result.duckdb_s)
    result.rss_ratio = _quotient(result.quarry_peak_rss, result.duckdb_peak_rss)
    result.correct = _overall_verdict(result.quarry_correct, result.serial_correct)
    return result


# --- the summary ----------------------------------------------------------------------


def geometric_mean(values: Sequence[float | None]) -> float | None:
    """Return the geometric mean of positive values, or None when there are none."""
    positive = [v for v in values if v is not None and v > 0]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def _engines_in(results: Sequence[QueryResult]) -> list[str]:
    """Return the engines of a run besides DuckDB: quarry, and serial and sail if they ran."""
    engines = ["quarry"]
    if any(r.serial_correct is not None for r in results):
        engines.append("serial")
    if any(r.sail_correct is not None for r in results):
        engines.append("sail")
    return engines


def summarize(results: Sequence[QueryResult]) -> dict[str, Any]:
    """Return the counts of verdicts, and geometric means and totals over the queries that ran.

    Times, peak RSS, the speedup and the ratios are all averaged (and times added up)
    over the same queries, those every engine of the run completed, so
    ``geomean_speedup`` equals ``geomean_serial_s / geomean_quarry_s``. The ``max_*``
    peaks are over every query that engine ran. Fields of an engine (or of
    ``--memory``) that did not run are None.
    """
    engines = _engines_in(results)
    timed = [*engines, "duckdb"]
    ran = [r for r in results if all(getattr(r, f"{e}_s") is not None for e in timed)]
    memory = any(r.duckdb_peak_rss is not None for r in results)
    summary: dict[str, Any] = {
        "queries_ran": len(ran),
        "queries_correct": sum(r.correct == "yes" for r in results),
        "queries_wrong": sum(r.correct == "NO" for r in results),
        "queries_error": sum(r.correct == "ERROR" for r in results),
        "queries_leftover": sum(bool(r.leftover_files or r.serial_leftover_files) for r in results),
    }
    for engine in ("quarry", "serial", "duckdb", "sail"):
        present = engine == "duckdb" or engine in engines
        seconds = [getattr(r, f"{engine}_s") for r in ran]
        summary[f"geomean_{engine}_s"] = geometric_mean(seconds) if present else None
        summary[f"total_{engine}_s"] = sum(seconds) if present and ran else None
        peaks = [getattr(r, f"{engine}_peak_rss") for r in ran]
        every_peak = [getattr(r, f"{engine}_peak_rss") for r in results]
        every_peak = [p for p in every_peak if p is not None]
        with_memory = present and memory
        summary[f"geomean_{engine}_peak_rss"] = geometric_mean(peaks) if with_memory else None
        summary[f"max_{engine}_peak_rss"] = max(every_peak) if with_memory and every_peak else None
    summary["geomean_speedup"] = (
        geometric_mean([r.speedup for r in ran]) if "serial" in engines else None
    )
    summary["geomean_ratio"] = geometric_mean([r.ratio for r in ran])
    summary["geomean_rss_ratio"] = geometric_mean([r.rss_ratio for r in ran]) if memory else None
    summary["geomean_sail_ratio"] = (
        geometric_mean([r.sail_ratio for r in ran]) if "sail" in engines else None
    )
    summary["sail_correct"] = (
        sum(r.sail_correct == "yes" for r in results) if "sail" in engines else None
    )
    summary["geomean_duckdb_s_all"] = geometric_mean(
        [r.duckdb_s for r in results if r.duckdb_s is not None]
    )
    return summary


# --- the printed report -----------------------------------------------------------------


def _seconds(value: float | None) -> str:
    """Format seconds for the table, ``-`` when missing."""
    return "-" if value is None else f"{value:.4f}"


def _ratio(value: float | None) -> str:
    """Format a ratio for the table, ``-`` when missing."""
    return "-" if value is None else f"{value:.2f}x"


def _mib(value: int | float | None) -> str:
    """Format bytes as MiB for the table, ``-`` when missing."""
    return "-" if value is None else f"{value / (1 << 20):.0f}"


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


@dataclass(frozen=True)
class _Column:
    """One column of the result table: its header, width, query cell and summary cells."""

    header: str
    width: int
    cell: Callable[[QueryResult], str]
    # summary row label ("geomean", "total", "max") -> cell from the summary dict
    summary: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)


def _engine_columns(engine: str, memory: bool) -> list[_Column]:
    """Return an engine's seconds column and, with ``--memory``, its peak RSS column."""
    columns = [
        _Column(
            f"{engine} s",
            10,
            lambda r: _seconds(getattr(r, f"{engine}_s")),
            {
                "geomean": lambda s: _seconds(s[f"geomean_{engine}_s"]),
                "total": lambda s: _seconds(s[f"total_{engine}_s"]),
            },
        )
    ]
    if memory:
        columns.append(
            _Column(
                f"{engine} MiB",
                10,
                lambda r: _mib(getattr(r, f"{engine}_peak_rss")),
                {
                    "geomean": lambda s: _mib(s[f"geomean_{engine}_peak_rss"]),
                    "max": lambda s: _mib(s[f"max_{engine}_peak_rss"]),
                },
            )
        )
    return columns


def _columns(baseline: bool, memory: bool = False, sail: bool = False) -> list[_Column]:
    """Return the result table's columns for a run with or without baseline, memory and Sail."""
    columns = [_Column("query", 7, lambda r: f"Q{r.query:02d}", {})]
    columns += _engine_columns("quarry", memory)
    if baseline:
        columns += _engine_columns("serial", memory)
        columns.append(
            _Column("speedup", 9, lambda r: _ratio(r.speedup),
                    {"geomean": lambda s: _ratio(s["geomean_speedup"])})
        )
    columns += _engine_columns("duckdb", memory)
    columns.append(
        _Column("ratio", 9, lambda r: _ratio(r.ratio),
                {"geomean": lambda s: _ratio(s["geomean_ratio"])})
    )
    if memory:
        columns.append(
            _Column("mem ratio", 9, lambda r: _ratio(r.rss_ratio),
                    {"geomean": lambda s: _ratio(s["geomean_rss_ratio"])})
        )
    if sail:
        columns += _engine_columns("sail", memory)
        columns.append(
            _Column("sail ratio", 10, lambda r: _ratio(r.sail_ratio),
                    {"geomean": lambda s: _ratio(s["geomean_sail_ratio"])})
        )
        columns.append(
            _Column("sail ok", 7, lambda r: r.sail_correct or "-",
                    {"geomean": lambda s: f"{s['sail_correct']}/{s['queries']}"})
        )
    columns.append(
        _Column("correct", 7, correct_cell,
                {"geomean": lambda s: f"{s['queries_correct']}/{s['queries']}"})
    )
    return columns


def _format_row(columns: Sequence[_Column], cells: Sequence[str]) -> str:
    """Lay out one table line: the first and last columns left-aligned, numbers right-aligned."""
    first, *middle, last = columns
    parts = [f"{cells[0]:<{first.width}}"]
    parts += [f"{cell:>{column.width}}" for column, cell in zip(middle, cells[1:-1])]
    return (" ".join(parts) + f"  {cells[-1]:<{last.width}}").rstrip()


def _rule(columns: Sequence[_Column]) -> str:
    return _format_row(columns, ["-" * column.width for column in columns])


def _print_header(metadata: dict[str, Any], columns: Sequence[_Column]) -> None:
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
    if metadata["sail"] is not None:
        setup.append(f"sail {metadata['sail']['setup']}")
    print("; ".join(setup))
    if metadata["quarry_settings"] or metadata["duckdb_settings"]:
        quarry_settings = ", ".join(f"{k}={v}" for k, v in metadata["quarry_settings"].items())
        duckdb_settings = ", ".join(f"{k}={v}" for k, v in metadata["duckdb_settings"].items())
        print(f"settings: quarry {quarry_settings or '-'}; duckdb {duckdb_settings or '-'}")
    versions = (
        f"quarry {metadata['quarry_version']}, pyarrow {metadata['pyarrow_version']}, "
        f"duckdb {metadata['duckdb_version']}"
    )
    if metadata["sail"] is not None:
        versions += f", pysail {metadata['sail']['version']}"
    print(f"{versions}, Python {metadata['python_version']} on {metadata['platform']}")
    if metadata["memory"]:
        interval_ms = metadata["rss_interval_s"] * 1000
        print(
            "memory: each engine runs each query in a fresh process; MiB = peak RSS of its "
            f"process tree, polled every {interval_ms:g} ms"
        )
        print("start-up query (untimed): run in each quarry process before its query")
    else:
        startup = [
            f"{name} -" if seconds is None else f"{name} {seconds:.2f} s"
            for name, seconds in metadata["startup_s"].items()
        ]
        print(f"start-up (untimed): {', '.join(startup)}")
    if metadata["timeout_s"] is not None:
        print(f"timeout: {metadata['timeout_s']:g} s per run")
    print(f"data: {metadata['data_dir']}")
    print()
    print(_format_row(columns, [column.header for column in columns]))
    print(_rule(columns))


def _row_cells(columns: Sequence[_Column], r: QueryResult) -> list[str]:
    """Return one query's cells, in the order of ``columns``."""
    return [column.cell(r) for column in columns]


def _print_summary(
    results: Sequence[QueryResult],
    summary: dict[str, Any],
    columns: Sequence[_Column],
    engines: Sequence[str],
) -> None:
    """Print the geometric means, totals and peaks, then the errors and wrong answers."""
    print(_rule(columns))
    values = {**summary, "queries": len(results)}
    for label in ("geomean", "total", "max"):
        if not any(label in column.summary for column in columns):
            continue
        cells = [label] + [
            column.summary[label](values) if label in column.summary else ""
            for column in columns[1:]
        ]
        print(_format_row(columns, cells))
    ran = summary["queries_ran"]
    which = f"the {ran} queries every run completed"
    memory = summary["max_duckdb_peak_rss"] is not None
    if memory:
        which += "; max over all queries"
    notes = []
    if "serial" in engines:
        notes.append("speedup = serial / quarry")
    notes.append("ratio = quarry / duckdb")
    if memory:
        notes.append("mem ratio = quarry MiB / duckdb MiB")
    if "sail" in engines:
        notes.append("sail ratio = sail / duckdb")
    print(f"(geometric means and totals over {which}; {', '.join(notes)})")
    if ran < len(results) and summary["geomean_duckdb_s_all"] is not None:
        print(
            f"(duckdb geometric mean over all {len(results)} queries: "
            f"{_seconds(summary['geomean_duckdb_s_all'])} s)"
        )
    labels = {"quarry": "parallel", "serial": "serial", "duckdb": "duckdb", "sail": "sail"}
    # The quarry run is unlabelled when it is the only quarry run, as in earlier reports.
    show = (lambda engine: engine != "quarry" or "serial" in engines)
    errors = []
    for engine in ("quarry", "serial", "duckdb", "sail"):
        name = _FIELDS[engine]["error"]
        errors += [(r, engine, getattr(r, name)) for r in results if getattr(r, name)]
    if errors:
        print("\nerrors:")
        for r, engine, error in sorted(errors, key=lambda e: e[0].query):
            label = f" ({labels[engine]})" if show(engine) else ""
            print(f"  Q{r.query:02d}{label}: {error}")
    wrong = []
    for engine, verdict in (("quarry", "quarry_correct"), ("serial", "serial_correct"),
                            ("sail", "sail_correct")):
        name = _FIELDS[engine]["difference"]
        wrong += [(r, engine, getattr(r, name)) for r in results if getattr(r, verdict) == "NO"]
    for r, engine, difference in sorted(wrong, key=lambda w: w[0].query):
        label = f" ({labels[engine]})" if show(engine) else ""
        print(f"\nQ{r.query:02d} wrong answer{label}:")
        lines = (difference or "").splitlines()
        for line in lines[:25]:
            print(f"  {line}")
        if len(lines) > 25:
            print(f"  ... ({len(lines) - 25} more lines in the JSON report)")


# --- the command line -------------------------------------------------------------------


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


def parse_engines(text: str | None) -> list[str]:
    """Return the engines of ``"quarry,duckdb,sail"``; quarry and DuckDB are always there.

    >>> parse_engines("quarry,duckdb,sail")
    ['quarry', 'duckdb', 'sail']
    """
    if not text:
        return ["quarry", "duckdb"]
    engines = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engine(s) {', '.join(unknown)}: choose from {', '.join(ENGINES)}")
    missing = [e for e in ("quarry", "duckdb") if e not in engines]
    if missing:
        raise ValueError(
            f"--engines must include {' and '.join(missing)}: the benchmark measures quarry "
            "and checks every answer against DuckDB's"
        )
    return list(dict.fromkeys(engines))


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


def check_quarry_settings(settings: dict[str, Any]) -> str | None:
    """Return why ``quarry.connect(**settings)`` would fail (a bad ``--config``), else None.

    ``workers`` and ``executor`` are options of the benchmark, not settings.
    """
    for key, option in (("workers", "--workers"), ("executor", "--workers")):
        if key in settings:
            return f"--config {key}=... is not a setting: use {option}"
    try:
        import quarry
    except Exception:
        return None  # Every query will report that quarry does not import.
    try:
        quarry.connect(workers=0, **settings).close()
    except Exception as exc:
        return f"--config: {_first_line(exc)}"
    return None


def run_benchmark(args: argparse.Namespace) -> tuple[list[QueryResult], dict[str, Any]]:
    """Run the benchmark described by parsed command-line ``args``; return results and report."""
    import duckdb

    queries = parse_queries(args.queries)
    engines = parse_engines(args.engines)
    settings = parse_settings(args.config)
    duckdb_settings = parse_settings(args.duckdb_config)
    data_dir = Path(args.data).expanduser() if args.data else default_dir(args.sf)
    if missing_tables(data_dir):
        print(f"generating TPC-H SF {scale_label(args.sf)} into {data_dir} ...", file=sys.stderr)
    data_dir = generate(args.sf, data_dir, parts=args.parts)

    threads, threads_from = duckdb_threads_for(args)
    timeout = args.timeout
    reference = DuckDBRunner(data_dir, threads, duckdb_settings, timeout=timeout)
    quarry = QuarryRunner(data_dir, args.workers, settings, timeout=timeout)
    serial = QuarryRunner(data_dir, 0, settings, timeout=timeout) if wants_baseline(args) else None
    sail: Runner | None = None
    sail_skipped = None
    if "sail" in engines:
        sail_skipped = sail_missing()
        if sail_skipped is None:
            sail = SailRunner(data_dir, threads, timeout=timeout)
        else:
            print(f"warning: sail skipped: {sail_skipped}", file=sys.stderr)
    if quarry.error:
        print(f"warning: {quarry.error}; reporting every query as ERROR", file=sys.stderr)
    in_process: dict[str, Runner] = {"quarry": quarry}
    if serial is not None:
        in_process["serial"] = serial
    if sail is not None:
        in_process["sail"] = sail

    work_dir = tempfile.mkdtemp(prefix="quarry-bench-")
    runners: dict[str, Runner] = {"duckdb": reference, **in_process}
    if args.memory:
        base = {"data_dir": str(data_dir), "timeout": timeout}
        specs = {
            "duckdb": {**base, "engine": "duckdb", "threads": threads, "settings": duckdb_settings},
            "quarry": {**base, "engine": "quarry", "workers": args.workers, "settings": settings,
                       "spill_root": quarry.spill_root},
            "serial": {**base, "engine": "quarry", "workers": 0, "settings": settings,
                       "spill_root": quarry.spill_root},
            "sail": {**base, "engine": "sail", "threads": threads},
        }
        runners = {
            name: _as_process(runner, specs[name], args, work_dir)
            for name, runner in runners.items()
        }
    else:
        for runner in in_process.values():
            runner.start()

    metadata = {
        "scale_factor": scale_label(args.sf),
        "queries": queries,
        "runs": args.runs,
        "warmup": args.warmup,
        "rel_tol": args.rel_tol,
        "memory": bool(args.memory),
        "rss_interval_s": args.rss_interval if args.memory else None,
        "timeout_s": timeout,
        "engines": [e for e in engines if e != "sail" or sail is not None],
        "workers_requested": args.workers,
        "workers": quarry.workers,
        "executor": quarry.executor,
        "quarry_setup": quarry.describe(),
        "quarry_settings": settings,
        "spill_root": quarry.spill_root,
        "baseline": None if serial is None else {
            "workers": serial.workers,
            "executor": serial.executor,
            "setup": serial.describe(),
        },
        "duckdb_threads": reference.threads,
        "duckdb_threads_from": threads_from,
        "duckdb_settings": duckdb_settings,
        "sail": None if sail is None else {"version": sail.version, "setup": sail.describe()},
        "sail_skipped": sail_skipped,
        "startup_s": (
            None if args.memory else {name: r.startup_s for name, r in in_process.items()}
        ),
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
    columns = _columns(serial is not None, bool(args.memory), sail is not None)
    _print_header(metadata, columns)
    results = []
    try:
        for n in queries:
            result = run_query(
                n,
                runners["quarry"],
                runners["duckdb"],
                serial=runners.get("serial"),
                sail=runners.get("sail"),
                runs=args.runs,
                warmup=args.warmup,
                rel_tol=args.rel_tol,
            )
            results.append(result)
            print(_format_row(columns, _row_cells(columns, result)), flush=True)
    finally:
        for runner in (reference, *in_process.values()):
            runner.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    summary = summarize(results)
    _print_summary(results, summary, columns, _engines_in(results))
    report = {"metadata": metadata, "summary": summary, "queries": [asdict(r) for r in results]}
    return results, report


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of ``python -m quarry.tpch.benchmark``."""
    parser = argparse.ArgumentParser(
        prog="python -m quarry.tpch.benchmark",
        description="Time quarry against DuckDB on TPC-H, measure memory, and check answers.",
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
        "--memory",
        action="store_true",
        help="run each engine's query in a fresh process and report its peak RSS",
    )
    parser.add_argument(
        "--rss-interval",
        type=float,
        default=DEFAULT_RSS_INTERVAL_S,
        metavar="SECONDS",
        help=f"how often --memory polls RSS (default {DEFAULT_RSS_INTERVAL_S:g} s)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a quarry setting for quarry.connect(**settings), e.g. memory_limit=256MB "
        "(repeatable; VALUE is JSON if it parses, else text)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds one run of a query may take on one engine (default: no limit)",
    )
    parser.add_argument(
        "--duckdb-threads",
        type=int,
        default=None,
        help="DuckDB threads (default: as --workers, else all cores)",
    )
    parser.add_argument(
        "--duckdb-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a DuckDB setting (SET KEY = VALUE), e.g. memory_limit=1GB (repeatable)",
    )
    parser.add_argument(
        "--engines",
        default=None,
        help="engines to run: quarry,duckdb (the default) or quarry,duckdb,sail",
    )
    parser.add_argument(
        "--parts",
        type=int,
        default=None,
        help="when generating data, files per table (default: 1 below SF 100, else SF/10)",
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
    if args.timeout is not None and not args.timeout > 0:
        parser.error("--timeout must be a positive number of seconds")
    if not args.rss_interval > 0:
        parser.error("--rss-interval must be a positive number of seconds")
    if args.parts is not None and args.parts < 1:
        parser.error("--parts must be at least 1")
    if args.memory and not os.path.isdir("/proc/self/task"):
        parser.error("--memory reads /proc: it needs Linux")
    try:
        parse_queries(args.queries)
        parse_engines(args.engines)
        settings = parse_settings(args.config)
        parse_settings(args.duckdb_config)
    except ValueError as exc:
        parser.error(str(exc))
    problem = check_quarry_settings(settings)
    if problem:
        parser.error(problem)
    try:
        results, report = run_benchmark(args)
    except DataGenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if type(exc).__module__.startswith("duckdb"):  # a bad --duckdb-config, for one
            print(f"error: DuckDB: {_first_line(exc)}", file=sys.stderr)
            return 2
        raise
    json_path = Path(args.json or f"bench-sf{scale_label(args.sf)}.json")
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nreport written to {json_path}")
    if args.strict and any(r.correct != "yes" for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
