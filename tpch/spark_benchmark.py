"""TPC-H through Spark Connect: quarry's Spark Connect server, Sail, and quarry's own API, in one run.

Each query is run, as SQL text, by

- ``quarry``: quarry's own API (``con.sql(sql).to_arrow()``);
- ``quarry-spark``: PySpark (``spark.sql(sql).toArrow()``) against quarry's Spark Connect
  server (:mod:`quarry.spark`) over the same files with as many workers, so the difference
  from ``quarry`` is the protocol (the Spark front end, Arrow batches over gRPC, PySpark's
  client);
- ``sail``: PySpark against Sail (``pysail``, a Spark Connect server on DataFusion), the
  tables registered as temporary views over the files (an ERROR column when ``pysail`` is
  not installed).

Each server runs in a process of its own (this file, run with ``--serve quarry|sail``), on a
free loopback port, as a deployed server would: inside the benchmark's process it would share
the interpreter and the CPU with the client and with the other server.

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
    _STARTUP_SQL, DuckDBRunner, QuarryRunner, RunOutcome, Runner, _as_table, _Deadline, _first_line,
    _version_of,
)

__all__ = ["SparkServerRunner", "serve_child", "SparkQueryResult", "run", "main", "ENGINES"]

ENGINES = ("quarry", "quarry-spark", "sail")


class SparkServerRunner(Runner):
    """PySpark in this process against a Spark Connect server in a process of its own: quarry's
    (``kind="quarry"``: ``quarry.spark.serve`` over the TPC-H tables, ``workers`` worker processes)
    or Sail's (``kind="sail"``: ``pysail``'s server, ``workers`` its parallelism; the tables are
    registered as temporary views over the Parquet files, as Spark users do).

    Each server has its own process, as a deployed server would: a server inside the benchmark's
    process would share its CPU and interpreter with the client and with the other server (Sail's
    runtime threads in the same process slowed both Spark columns 2-5x in trials)."""

    def __init__(self, kind: str, data_dir: Path, workers: int | None, *, timeout: float | None = None) -> None:
        self.name = "quarry-spark" if kind == "quarry" else "sail"
        self.kind = kind
        self.data_dir = data_dir
        self.workers = workers
        self.timeout = timeout
        self.process: Any = None
        self.spark: Any = None
        self.error = None
        try:
            import pyspark
            self.client = f"pyspark-client {pyspark.__version__}"
        except ImportError:
            self.error = "pyspark-client is not installed; pip install 'quarry[spark]'"
        if kind == "sail":
            from quarry.tpch.engines import _distribution_version, sail_missing
            self.error = self.error or sail_missing()
            self.version = f"pysail {_distribution_version('pysail')}"
        else:
            import quarry
            self.version = f"quarry {_version_of(quarry, 'quarry')}"

    def describe(self) -> str:
        threads = "cores" if self.workers is None else self.workers
        what = "workers" if self.kind == "quarry" else "parallelism"
        return f"{self.version}, {what} {threads}, its own process; {getattr(self, 'client', '')}"

    def start(self) -> None:
        if self.error is not None:
            return
        import subprocess
        os.environ.setdefault("SPARK_CONNECT_MODE_ENABLED", "1")
        start = time.perf_counter()
        command = [sys.executable, os.path.abspath(__file__), "--serve", self.kind, "--data", str(self.data_dir)]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            line = self.process.stdout.readline().strip()          # "port N" once it listens
            if not line.startswith("port "):
                raise RuntimeError(f"the {self.kind} server did not start (it printed {line!r})")
            from pyspark.sql import SparkSession
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.spark = SparkSession.builder.remote(f"sc://localhost:{line.split()[1]}").create()
            if self.kind == "sail":
                from quarry.tpch.datagen import table_paths
                for name, path in table_paths(self.data_dir).items():
                    self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
            self.spark.sql(_STARTUP_SQL).toArrow()
        except Exception as exc:
            self.error = f"{self.name} setup failed: {_first_line(exc)}"
            return
        self.startup_s = time.perf_counter() - start

    def run(self, sql: str) -> pa.Table:
        if self.spark is None:
            raise RuntimeError(self.error or f"{self.name} was not started")
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
        if self.process is not None:
            try:
                self.process.stdin.close()               # the server stops at the end of its stdin
                self.process.wait(timeout=30)
            except Exception:
                self.process.kill()
                self.process.wait()


def serve_child(kind: str, data_dir: str, workers: int | None) -> int:
    """``--serve quarry|sail``: a Spark Connect server on a free port; prints ``port N``, serves until
    its stdin ends."""
    if kind == "quarry":
        import quarry
        import quarry.spark
        from quarry.tpch import register_tables
        session = register_tables(quarry.connect(workers=workers), data_dir)
        server = quarry.spark.serve(session, "127.0.0.1", 0)
        port = server.port
    else:
        if workers is not None:
            os.environ["SAIL_EXECUTION__DEFAULT_PARALLELISM"] = str(workers)
        os.environ.setdefault("RUST_LOG", "warn")
        from pysail.spark import SparkConnectServer
        server = SparkConnectServer("127.0.0.1", 0)
        server.start(background=True)
        port = server.listening_address[1]
    print(f"port {port}", flush=True)
    sys.stdin.read()
    server.stop(0) if kind == "quarry" else server.stop()
    return 0


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
    reference = DuckDBRunner(data_dir, args.workers or None, timeout=args.timeout)
    own = QuarryRunner(data_dir, args.workers, timeout=args.timeout)
    runners: dict[str, Runner] = {}
    if "quarry" in engines:
        runners["quarry"] = own
    if "quarry-spark" in engines:
        runners["quarry-spark"] = SparkServerRunner("quarry", data_dir, args.workers, timeout=args.timeout)
    if "sail" in engines:
        runners["sail"] = SparkServerRunner("sail", data_dir, args.workers or None, timeout=args.timeout)
    try:
        own.start()
        for runner in runners.values():
            if runner is not own:
                runner.start()
        versions = {name: runner.describe() for name, runner in runners.items()}
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
    parser.add_argument("--serve", choices=("quarry", "sail"), default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve:
        return serve_child(args.serve, args.data, args.workers)
    results, summary, header = run(args)
    print_report(results, list(results[0].seconds) if results else [], summary, header)
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "summary": summary,
                                               "results": [asdict(r) for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
