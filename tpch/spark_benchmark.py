"""TPC-H through Spark Connect: quarry's Spark Connect server, Sail, and quarry's own API, in one run.

Each query is run, as SQL text, by

- ``quarry``: quarry's own API (``con.sql(sql).to_arrow()``);
- ``quarry-spark``: PySpark (``spark.sql(sql).toArrow()``) against quarry's Spark Connect
  server (:mod:`quarry.spark`), started in this process over the *same* quarry session, so
  both quarry columns use the same worker pool and the difference between them is the
  protocol (planning through the Spark front end, Arrow batches over gRPC, PySpark's client);
- ``sail``: PySpark against Sail (``pysail``, a Spark Connect server on DataFusion), started
  in this process on a free port (skipped with a note when ``pysail`` is not installed).

DuckDB answers each query once, untimed: the reference every engine's answer is checked
against (`quarry.testing.compare_tables`, in order when the query has a top-level ORDER
BY; Spark's decimal averages are compared to DuckDB's doubles to their last digit). Each
engine gets ``--warmup`` untimed runs, then ``--runs`` timed rounds run every engine once
each, in turn (so load from elsewhere on the machine falls on all engines alike), and the
median of each engine's timed runs is reported, with the ratios quarry-spark / quarry (the protocol's overhead) and
quarry-spark / sail (below 1: quarry is faster), and their geometric means over the
queries every engine answered.

Usage::

    python -m quarry.tpch.spark_benchmark --sf 1 [--queries 1,6,14] [--runs 3] [--warmup 1]
                                   [--workers N] [--engines quarry,quarry-spark,sail]
                                   [--timeout S] [--data DIR] [--json out.json]

``--workers`` is quarry's worker processes and Sail's parallelism (default: the cores).
The data is the benchmark's cache (``~/.cache/quarry/tpch/sf<SF>``), generated with
``tpchgen-cli`` when missing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from quarry.tpch import QUERY_NUMBERS, load_query
from quarry.tpch.benchmark import (
    _judge, geometric_mean, has_top_level_order_by, parse_queries, spark_decimals_as_floats,
)
from quarry.tpch.datagen import default_dir, generate, missing_tables, scale_label
from quarry.tpch.engines import (
    _STARTUP_SQL, DuckDBRunner, QuarryRunner, RunOutcome, Runner, SailRunner, _as_table, _Deadline,
    _first_line, _version_of,
)

__all__ = ["QuarrySparkRunner", "SparkQueryResult", "run", "main", "ENGINES"]

ENGINES = ("quarry", "quarry-spark", "sail")


class QuarrySparkRunner(Runner):
    """PySpark against quarry's Spark Connect server, in this process, over the quarry session
    ``session`` (its tables, its worker pool)."""

    name = "quarry-spark"

    def __init__(self, session: Any, *, timeout: float | None = None) -> None:
        self.session = session
        self.timeout = timeout
        self.server: Any = None
        self.spark: Any = None
        self.error = None if session is not None else "quarry is unavailable"
        try:
            import pyspark
            self.version = f"pyspark-client {pyspark.__version__}"
        except ImportError:
            self.error = "pyspark-client is not installed; pip install 'quarry[spark]'"

    def start(self) -> None:
        if self.error is not None:
            return
        os.environ.setdefault("SPARK_CONNECT_MODE_ENABLED", "1")
        start = time.perf_counter()
        try:
            import quarry.spark
            from pyspark.sql import SparkSession
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.server = quarry.spark.serve(self.session, "127.0.0.1", 0)
                self.spark = SparkSession.builder.remote(self.server.url).create()
            self.spark.sql(_STARTUP_SQL).toArrow()
        except Exception as exc:
            self.error = f"quarry spark-connect setup failed: {_first_line(exc)}"
            return
        self.startup_s = time.perf_counter() - start

    def run(self, sql: str) -> pa.Table:
        if self.spark is None:
            raise RuntimeError(self.error or "quarry spark-connect was not started")
        deadline = _Deadline(self.timeout, self.spark.interruptAll)
        try:
            with deadline:
                return _as_table(self.spark.sql(sql).toArrow())
        except Exception:
            if deadline.fired:
                raise deadline.error() from None
            raise

    def close(self) -> None:
        if self.spark is not None:
            try:
                self.spark.stop()
            except Exception:
                pass
        if self.server is not None:
            self.server.stop(0)


@dataclass
class SparkQueryResult:
    """One query: each engine's median time (s), its verdict against DuckDB, and what went wrong."""

    query: int
    seconds: dict[str, float | None] = field(default_factory=dict)
    runs: dict[str, list[float]] = field(default_factory=dict)
    correct: dict[str, str] = field(default_factory=dict)        # "yes" | "NO" | "ERROR"
    errors: dict[str, str] = field(default_factory=dict)

    def ratio(self, top: str, bottom: str) -> float | None:
        a, b = self.seconds.get(top), self.seconds.get(bottom)
        return a / b if a is not None and b else None


def run_query(n: int, runners: dict[str, Runner], reference: DuckDBRunner, *, runs: int, warmup: int,
              rel_tol: float = 1e-6) -> SparkQueryResult:
    """Query ``n`` on every engine, checked against DuckDB's answer.

    The engines take turns: each does its warm-up runs, then each timed round runs every engine
    once (starting with a different one each round), so a burst of load on a shared machine
    falls on all of them alike rather than on whichever engine's runs it happened to meet.
    """
    import statistics
    sql = load_query(n)
    result = SparkQueryResult(query=n)
    expected, ref = reference.measure(sql, warmup=0, runs=1)
    ordered = has_top_level_order_by(sql)
    names = [name for name, runner in runners.items() if runner.error is None]
    for name, runner in runners.items():
        result.runs[name] = []
        if runner.error is not None:
            result.errors[name] = runner.error
    last: dict[str, pa.Table] = {}

    def once(name: str) -> float | None:
        runner = runners[name]
        try:
            start = time.perf_counter()
            last[name] = runner.run(sql)
            return time.perf_counter() - start
        except Exception as exc:
            result.errors[name] = _first_line(exc)
            return None
        finally:
            runner.leftovers()

    for name in list(names):
        for _ in range(warmup):
            if once(name) is None:
                names.remove(name)
                break
    for round_ in range(runs):
        for name in names[round_ % len(names):] + names[:round_ % len(names)] if names else []:
            if name in result.errors:
                continue
            seconds = once(name)
            if seconds is not None:
                result.runs[name].append(seconds)
    for name in runners:
        outcome = RunOutcome(error=result.errors.get(name))
        if outcome.error is None and result.runs[name]:
            outcome.seconds = statistics.median(result.runs[name])
        result.seconds[name] = outcome.seconds
        align = spark_decimals_as_floats if name != "quarry" else None
        verdict, error, difference = _judge(last.get(name), outcome, expected if ref.error is None else None,
                                            ordered=ordered, rel_tol=rel_tol, align=align)
        result.correct[name] = verdict
        if error or difference:
            result.errors[name] = (error or difference or "")[:500]
    return result


def summarize(results: list[SparkQueryResult], engines: list[str]) -> dict[str, Any]:
    """Geometric means over the queries every engine answered correctly, and the verdict counts."""
    complete = [r for r in results if all(r.correct.get(e) == "yes" for e in engines)]
    summary: dict[str, Any] = {"queries": len(results), "compared": len(complete)}
    for e in engines:
        summary[f"{e}_correct"] = sum(r.correct.get(e) == "yes" for r in results)
        summary[f"geomean_{e}_s"] = geometric_mean([r.seconds.get(e) for r in complete])
        summary[f"total_{e}_s"] = sum(r.seconds.get(e) or 0.0 for r in complete) if complete else None
    for top, bottom in _RATIOS:
        if top in engines and bottom in engines:
            summary[f"geomean_{top}_vs_{bottom}"] = geometric_mean([r.ratio(top, bottom) for r in complete])
    return summary


_RATIOS = (("quarry-spark", "quarry"), ("quarry-spark", "sail"), ("sail", "quarry"))


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_report(results: list[SparkQueryResult], engines: list[str], summary: dict[str, Any],
                 header: dict[str, Any], out=sys.stdout) -> None:
    ratios = [(t, b) for t, b in _RATIOS if t in engines and b in engines]
    print(f"TPC-H SF {header['sf']} through Spark Connect: {', '.join(engines)} "
          f"(median of {header['runs']} runs after {header['warmup']} warm-up)", file=out)
    for e in engines:
        print(f"  {e}: {header['versions'].get(e, '')}", file=out)
    print(f"  data: {header['data_dir']}; machine: {header['machine']}; load: {header['load']}", file=out)
    titles = ["query"] + [f"{e} s" for e in engines] + [f"{t}/{b}" for t, b in ratios] + ["correct"]
    widths = [max(7, len(t)) for t in titles]
    print("  ".join(t.rjust(w) for t, w in zip(titles, widths)), file=out)
    for r in results:
        verdicts = ",".join(r.correct.get(e, "-") for e in engines)
        cells = [f"Q{r.query:02d}"] + [_cell(r.seconds.get(e), ".3f") for e in engines] + \
            [_cell(r.ratio(t, b), ".2f") for t, b in ratios] + [verdicts]
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths)), file=out)
    cells = ["geomean"] + [_cell(summary.get(f"geomean_{e}_s"), ".3f") for e in engines] + \
        [_cell(summary.get(f"geomean_{t}_vs_{b}"), ".2f") for t, b in ratios] + [""]
    print("  ".join(c.rjust(w) for c, w in zip(cells, widths)), file=out)
    print(f"over {summary['compared']} of {summary['queries']} queries every engine answered correctly; correct: "
          + ", ".join(f"{e} {summary[f'{e}_correct']}/{summary['queries']}" for e in engines), file=out)
    for r in results:
        for e, text in r.errors.items():
            print(f"  Q{r.query:02d} {e}: {text.splitlines()[0] if text else ''}", file=out)


def run(args: argparse.Namespace) -> tuple[list[SparkQueryResult], dict[str, Any], dict[str, Any]]:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    data_dir = Path(args.data).expanduser() if args.data else default_dir(args.sf)
    if missing_tables(data_dir):
        print(f"generating TPC-H SF {scale_label(args.sf)} into {data_dir} ...", file=sys.stderr)
        data_dir = generate(args.sf, data_dir)
    queries = parse_queries(args.queries) if args.queries else list(QUERY_NUMBERS)
    reference = DuckDBRunner(data_dir, args.workers, timeout=args.timeout)
    own = QuarryRunner(data_dir, args.workers, timeout=args.timeout)
    runners: dict[str, Runner] = {}
    if "quarry" in engines:
        runners["quarry"] = own
    if "quarry-spark" in engines:
        runners["quarry-spark"] = QuarrySparkRunner(own.connection, timeout=args.timeout)
    if "sail" in engines:
        runners["sail"] = SailRunner(data_dir, args.workers, timeout=args.timeout)
    try:
        own.start()
        for runner in runners.values():
            if runner is not own:
                runner.start()
        versions = {name: runner.describe() if name != "quarry-spark" else
                    f"{_version_of(__import__('quarry'), 'quarry')}, {runner.version}"
                    for name, runner in runners.items()}
        results = []
        for n in queries:
            result = run_query(n, runners, reference, runs=args.runs, warmup=args.warmup)
            results.append(result)
            print(f"Q{n:02d} " + "  ".join(f"{e}={_cell(result.seconds.get(e), '.3f')}s/{result.correct.get(e)}"
                                            for e in runners), file=sys.stderr, flush=True)
    finally:
        for runner in runners.values():
            runner.close()
        if own not in runners.values():
            own.close()
        reference.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    header = {"sf": scale_label(args.sf), "runs": args.runs, "warmup": args.warmup, "data_dir": str(data_dir),
              "versions": versions, "workers": args.workers, "load": None if load is None else round(load, 2),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    return results, summarize(results, list(runners)), header


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m quarry.tpch.spark_benchmark",
                                     description="TPC-H through Spark Connect: quarry, quarry's own API and Sail")
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    parser.add_argument("--queries", default=None, help="query numbers or ranges, e.g. 1,6,14 or 1-5 (default all)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per query (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--workers", type=int, default=None,
                        help="quarry's worker processes, Sail's parallelism and DuckDB's threads (default: cores)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"of {', '.join(ENGINES)} (default all)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per run of a query (default none)")
    parser.add_argument("--data", default=None, help="TPC-H Parquet directory (default: the datagen cache)")
    parser.add_argument("--json", default=None, help="also write the results as JSON to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    results, summary, header = run(args)
    print_report(results, list(results[0].seconds) if results else [], summary, header)
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "summary": summary,
                                               "results": [asdict(r) for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
