"""Time quarry against DuckDB on TPC-H and check quarry's answers against DuckDB's.

Both engines read the same Parquet files in one process: quarry through
``con.register(table, path)``, DuckDB through views over ``read_parquet``. For each
query the benchmark does the warm-up runs, then reports the median of the timed
runs (including materialising the result as an Arrow table), and compares the two
answers with `quarry.testing.compare_tables` (in order when the outermost statement
has an ORDER BY).

A failure inside quarry, including failing to import or connect, is recorded as an
ERROR for that query; DuckDB still runs, so the report is complete. The exit status
is 0 even when answers differ, unless ``--strict`` is given.

Usage::

    python -m tpch.benchmark --sf 1 [--queries 1,6,14] [--runs 3] [--warmup 1]
                             [--workers N] [--data DIR] [--json bench.json] [--strict]
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

from tpch import QUERY_NUMBERS, create_duckdb_views, load_query, register_tables
from tpch.datagen import (
    DataGenerationError,
    default_dir,
    generate,
    missing_tables,
    scale_label,
)

__all__ = ["QueryResult", "has_top_level_order_by", "main", "run_benchmark"]

_MAX_DIFFERENCE_CHARS = 4000


@dataclass
class QueryResult:
    """Timings and the correctness verdict of one TPC-H query."""

    query: int
    quarry_s: float | None = None
    duckdb_s: float | None = None
    quarry_runs: list[float] = field(default_factory=list)
    duckdb_runs: list[float] = field(default_factory=list)
    ratio: float | None = None
    correct: str = "ERROR"  # "yes", "NO" or "ERROR"
    ordered: bool = False
    quarry_rows: int | None = None
    duckdb_rows: int | None = None
    error: str | None = None
    difference: str | None = None


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
    """Run queries in quarry, remembering why quarry is unusable when it is."""

    def __init__(self, data_dir: Path, workers: int | None) -> None:
        self.connection: Any = None
        self.error: str | None = None
        self.version = "unavailable"
        self.workers_note = "default" if workers is None else str(workers)
        try:
            import quarry
        except Exception as exc:  # The engine may be half-written; report, don't crash.
            self.error = f"import quarry failed: {_first_line(exc)}"
            return
        self.version = _version_of(quarry, "quarry")
        try:
            self.connection = register_tables(self._connect(quarry, workers), data_dir)
        except Exception as exc:
            self.connection = None
            self.error = f"quarry setup failed: {_first_line(exc)}"

    def _connect(self, quarry: Any, workers: int | None) -> Any:
        """Return ``quarry.connect(workers=N)``, or ``quarry.connect()`` if that is unsupported."""
        if workers is None:
            return quarry.connect()
        try:
            return quarry.connect(workers=workers)
        except TypeError:
            print(
                f"warning: quarry.connect() does not accept workers={workers}; "
                "using quarry.connect()",
                file=sys.stderr,
            )
            self.workers_note = f"{workers} requested, unsupported (default used)"
            return quarry.connect()

    def run(self, sql: str) -> pa.Table:
        """Return quarry's answer to ``sql``."""
        if self.connection is None:
            raise RuntimeError(self.error or "quarry is unavailable")
        return _as_table(self.connection.sql(sql).to_arrow())


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


def run_query(
    n: int,
    quarry: QuarryRunner,
    duckdb_con: Any,
    *,
    runs: int,
    warmup: int,
    rel_tol: float,
) -> QueryResult:
    """Time query ``n`` in DuckDB and quarry and compare quarry's answer with DuckDB's."""
    sql = load_query(n)
    result = QueryResult(query=n, ordered=has_top_level_order_by(sql))
    try:
        expected, result.duckdb_runs = _timed(
            lambda: duckdb_to_arrow(duckdb_con.sql(sql)), warmup, runs
        )
    except Exception as exc:
        result.error = f"duckdb failed: {_first_line(exc)}"
        return result
    result.duckdb_s = statistics.median(result.duckdb_runs)
    result.duckdb_rows = expected.num_rows

    if quarry.connection is None:
        result.error = quarry.error
        return result
    try:
        actual, result.quarry_runs = _timed(lambda: quarry.run(sql), warmup, runs)
    except Exception as exc:
        result.error = _first_line(exc)
        return result
    result.quarry_s = statistics.median(result.quarry_runs)
    result.quarry_rows = actual.num_rows
    if result.duckdb_s > 0:
        result.ratio = result.quarry_s / result.duckdb_s

    try:
        # Imported only now: quarry ran, so the package imports.
        from quarry.testing import compare_tables

        difference = compare_tables(actual, expected, ordered=result.ordered, rel_tol=rel_tol)
    except Exception as exc:
        result.error = f"comparison failed: {_first_line(exc)}"
        return result
    if difference is None:
        result.correct = "yes"
    else:
        result.correct = "NO"
        result.difference = difference[:_MAX_DIFFERENCE_CHARS]
    return result


def geometric_mean(values: Sequence[float]) -> float | None:
    """Return the geometric mean of positive values, or None when there are none."""
    positive = [v for v in values if v is not None and v > 0]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def summarize(results: Sequence[QueryResult]) -> dict[str, Any]:
    """Return the geometric means over the queries both engines ran."""
    ran = [r for r in results if r.quarry_s is not None and r.duckdb_s is not None]
    return {
        "queries_ran": len(ran),
        "queries_correct": sum(r.correct == "yes" for r in results),
        "queries_wrong": sum(r.correct == "NO" for r in results),
        "queries_error": sum(r.correct == "ERROR" for r in results),
        "geomean_quarry_s": geometric_mean([r.quarry_s for r in ran]),
        "geomean_duckdb_s": geometric_mean([r.duckdb_s for r in ran]),
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


_ROW = "{:<7} {:>10} {:>10} {:>9}  {:<7}"


def _print_header(metadata: dict[str, Any]) -> None:
    """Print the run's metadata and the result table's header."""
    print(
        f"TPC-H SF {metadata['scale_factor']}: median of {metadata['runs']} runs "
        f"after {metadata['warmup']} warm-up; workers {metadata['workers']}; "
        f"{metadata['cores']} cores"
    )
    print(
        f"quarry {metadata['quarry_version']}, pyarrow {metadata['pyarrow_version']}, "
        f"duckdb {metadata['duckdb_version']} (threads {metadata['duckdb_threads']}), "
        f"Python {metadata['python_version']} on {metadata['platform']}"
    )
    print(f"data: {metadata['data_dir']}")
    print()
    print(_ROW.format("query", "quarry s", "duckdb s", "ratio", "correct").rstrip())
    print(_ROW.format("-" * 7, "-" * 10, "-" * 10, "-" * 9, "-" * 7))


def _print_row(r: QueryResult) -> None:
    """Print one query's line of the result table."""
    cells = (_seconds(r.quarry_s), _seconds(r.duckdb_s), _ratio(r.ratio), r.correct)
    print(_ROW.format(f"Q{r.query:02d}", *cells).rstrip(), flush=True)


def _print_summary(results: Sequence[QueryResult], summary: dict[str, Any]) -> None:
    """Print the geometric means, then the errors and wrong answers in detail."""
    print(_ROW.format("-" * 7, "-" * 10, "-" * 10, "-" * 9, "-" * 7))
    print(
        _ROW.format(
            "geomean",
            _seconds(summary["geomean_quarry_s"]),
            _seconds(summary["geomean_duckdb_s"]),
            _ratio(summary["geomean_ratio"]),
            f"{summary['queries_correct']}/{len(results)}",
        ).rstrip()
    )
    print(
        f"(geometric means over the {summary['queries_ran']} queries both engines ran; "
        f"ratio = quarry / duckdb)"
    )
    if summary["queries_ran"] < len(results) and summary["geomean_duckdb_s_all"] is not None:
        print(
            f"(duckdb geometric mean over all {len(results)} queries: "
            f"{_seconds(summary['geomean_duckdb_s_all'])} s)"
        )
    errors = [r for r in results if r.error]
    if errors:
        print("\nerrors:")
        for r in errors:
            print(f"  Q{r.query:02d}: {r.error}")
    wrong = [r for r in results if r.correct == "NO"]
    for r in wrong:
        print(f"\nQ{r.query:02d} wrong answer:")
        lines = (r.difference or "").splitlines()
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


def run_benchmark(args: argparse.Namespace) -> tuple[list[QueryResult], dict[str, Any]]:
    """Run the benchmark described by parsed command-line ``args``; return results and report."""
    import duckdb

    queries = parse_queries(args.queries)
    data_dir = Path(args.data).expanduser() if args.data else default_dir(args.sf)
    if missing_tables(data_dir):
        print(f"generating TPC-H SF {scale_label(args.sf)} into {data_dir} ...", file=sys.stderr)
    data_dir = generate(args.sf, data_dir)

    duckdb_con = duckdb.connect()
    if args.duckdb_threads:
        duckdb_con.execute(f"set threads = {int(args.duckdb_threads)}")
    create_duckdb_views(duckdb_con, data_dir)
    # fetchall(): DuckDB 2.0 relations have no fetchone(), and a half-read execute()
    # result would block the connection.
    duckdb_threads = duckdb_con.sql("select current_setting('threads')").fetchall()[0][0]

    quarry = QuarryRunner(data_dir, args.workers)
    if quarry.error:
        print(f"warning: {quarry.error}; reporting every query as ERROR", file=sys.stderr)

    metadata = {
        "scale_factor": scale_label(args.sf),
        "queries": queries,
        "runs": args.runs,
        "warmup": args.warmup,
        "rel_tol": args.rel_tol,
        "workers": quarry.workers_note,
        "duckdb_threads": duckdb_threads,
        "cores": os.cpu_count(),
        "quarry_version": quarry.version,
        "pyarrow_version": pa.__version__,
        "duckdb_version": duckdb.__version__,
        "python_version": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "data_dir": str(data_dir),
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    _print_header(metadata)
    results = []
    for n in queries:
        result = run_query(
            n, quarry, duckdb_con, runs=args.runs, warmup=args.warmup, rel_tol=args.rel_tol
        )
        results.append(result)
        _print_row(result)
    summary = summarize(results)
    _print_summary(results, summary)
    report = {"metadata": metadata, "summary": summary, "queries": [asdict(r) for r in results]}
    return results, report


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of ``python -m tpch.benchmark``."""
    parser = argparse.ArgumentParser(
        prog="python -m tpch.benchmark",
        description="Time quarry against DuckDB on TPC-H and check quarry's answers.",
    )
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    parser.add_argument(
        "--queries", default=None, help="query numbers or ranges, e.g. 1,6,14 or 1-5 (default all)"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per query (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--workers", type=int, default=None, help="quarry.connect(workers=N)")
    parser.add_argument(
        "--duckdb-threads", type=int, default=None, help="DuckDB threads (default: all cores)"
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
