"""The TPC-H benchmark's report: the serial baseline, the speedup and ratio columns, the JSON,
``--memory`` (a process per engine per query, peak RSS), ``--config``, the spill-directory
check, ``--timeout``, data in directories of parts, and Sail when it is installed.

The end-to-end tests run ``tpch.benchmark.main`` on SF 0.01 with two queries, one
timed run and no warm-up, so they take seconds (most of it the worker pool's start).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import quarry.tpch.benchmark as benchmark
import quarry.tpch.engines as engines
from quarry.tpch import create_duckdb_views, load_query, register_tables
from quarry.tpch.benchmark import (
    QueryResult,
    build_parser,
    correct_cell,
    duckdb_threads_for,
    main,
    parse_settings,
    run_query,
    spark_decimals_as_floats,
    summarize,
    wants_baseline,
)
from quarry.tpch.datagen import generate, missing_tables, table_paths
from quarry.tpch.engines import DuckDBRunner, QuarryRunner, Runner
from quarry.tpch.procmem import run_measured

pytest.importorskip("duckdb")

FAST = ["--sf", "0.01", "--queries", "1,6", "--runs", "1", "--warmup", "0"]


def _run(args: list[str], data: Path, tmp_path: Path, capsys) -> tuple[str, dict[str, Any]]:
    """Run the benchmark; return what it printed and the JSON report."""
    report_path = tmp_path / "bench.json"
    status = main([*FAST, *args, "--data", str(data), "--json", str(report_path)])
    assert status == 0
    out = capsys.readouterr().out
    return out, json.loads(report_path.read_text(encoding="utf-8"))


def _table_lines(out: str) -> dict[str, list[str]]:
    """Return the result table's lines, split into cells, keyed by their first cell."""
    lines = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and (cells[0] in ("query", "geomean", "total", "max") or cells[0].startswith("Q")):
            lines[cells[0]] = cells
    return lines


def test_workers_n_reports_speedup_over_serial_and_ratio_to_duckdb(
    tpch_sf001: Path, tmp_path: Path, capsys
) -> None:
    out, report = _run(["--workers", "2"], tpch_sf001, tmp_path, capsys)

    assert "quarry workers 2 (executor processes); " in out
    assert "serial baseline workers 0 (executor inline); " in out
    assert "duckdb threads 2 (same as --workers)" in out
    table = _table_lines(out)
    header = "query quarry s serial s speedup duckdb s ratio correct".split()
    assert table["query"] == header
    for row in ("Q01", "Q06"):
        cells = table[row]
        assert len(cells) == 7 and cells[-1] == "yes"
        assert cells[3].endswith("x") and cells[5].endswith("x")  # speedup, ratio
    assert table["geomean"][-1] == "2/2"
    assert "speedup = serial / quarry, ratio = quarry / duckdb" in out

    metadata, summary = report["metadata"], report["summary"]
    assert metadata["workers"] == 2 and metadata["executor"] == "processes"
    assert metadata["baseline"]["workers"] == 0 and metadata["baseline"]["executor"] == "inline"
    assert metadata["duckdb_threads"] == 2
    assert set(metadata["startup_s"]) == {"quarry", "serial"}
    for q in report["queries"]:
        assert q["correct"] == q["quarry_correct"] == q["serial_correct"] == "yes"
        assert len(q["serial_runs"]) == 1 and q["serial_rows"] == q["duckdb_rows"]
        assert q["speedup"] == pytest.approx(q["serial_s"] / q["quarry_s"])
        assert q["ratio"] == pytest.approx(q["quarry_s"] / q["duckdb_s"])
    assert summary["queries_ran"] == 2
    assert summary["geomean_speedup"] == pytest.approx(
        summary["geomean_serial_s"] / summary["geomean_quarry_s"]
    )
    assert summary["geomean_ratio"] > 0


def test_no_baseline_keeps_the_quarry_against_duckdb_table(
    tpch_sf001: Path, tmp_path: Path, capsys
) -> None:
    out, report = _run(["--workers", "2", "--no-baseline"], tpch_sf001, tmp_path, capsys)

    assert "serial baseline" not in out
    assert _table_lines(out)["query"] == "query quarry s duckdb s ratio correct".split()
    assert report["metadata"]["baseline"] is None
    assert report["summary"]["geomean_speedup"] is None
    assert all(q["serial_s"] is None and q["serial_correct"] is None for q in report["queries"])


def test_workers_0_is_serial_with_one_duckdb_thread(
    tpch_sf001: Path, tmp_path: Path, capsys
) -> None:
    out, report = _run(["--workers", "0"], tpch_sf001, tmp_path, capsys)

    assert "quarry workers 0 (executor inline); duckdb threads 1" in out
    assert report["metadata"]["baseline"] is None
    assert [q["correct"] for q in report["queries"]] == ["yes", "yes"]


def test_baseline_defaults_follow_workers() -> None:
    parse = build_parser().parse_args
    assert wants_baseline(parse(["--workers", "2"]))
    assert not wants_baseline(parse(["--workers", "2", "--no-baseline"]))
    assert not wants_baseline(parse([]))
    assert wants_baseline(parse(["--baseline"]))
    assert not wants_baseline(parse(["--workers", "0"]))
    assert duckdb_threads_for(parse(["--workers", "3"]))[0] == 3
    assert duckdb_threads_for(parse(["--workers", "0"]))[0] == 1
    assert duckdb_threads_for(parse(["--workers", "3", "--duckdb-threads", "1"]))[0] == 1
    assert duckdb_threads_for(parse([]))[0] is None


def test_workers_0_with_baseline_is_rejected(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--workers", "0", "--baseline"])
    assert "--workers 0 is the baseline itself" in capsys.readouterr().err


class _FakeRunner(Runner):
    """A stand-in for QuarryRunner that answers every query with a fixed table."""

    def __init__(self, answer: pa.Table) -> None:
        self.answer = answer

    def run(self, sql: str) -> pa.Table:
        return self.answer


def test_a_wrong_serial_answer_names_the_serial_run(duckdb_tpch, tpch_sf001: Path) -> None:
    expected = duckdb_tpch.sql(load_query(6)).to_arrow_table()
    wrong = pa.table({"revenue": pa.array([0.0])})
    reference = DuckDBRunner(tpch_sf001)
    try:
        result = run_query(
            6,
            _FakeRunner(expected),
            reference,
            serial=_FakeRunner(wrong),
            runs=1,
            warmup=0,
            rel_tol=1e-9,
        )
    finally:
        reference.close()
    assert (result.quarry_correct, result.serial_correct, result.correct) == ("yes", "NO", "NO")
    assert result.serial_difference and result.difference is None
    assert correct_cell(result) == "NO (serial)"
    assert summarize([result])["queries_wrong"] == 1


def test_correct_cell_lists_each_failing_run() -> None:
    both_wrong = QueryResult(1, correct="NO", quarry_correct="NO", serial_correct="NO")
    mixed = QueryResult(1, correct="ERROR", quarry_correct="NO", serial_correct="ERROR")
    no_baseline = QueryResult(1, correct="yes", quarry_correct="yes")
    assert correct_cell(both_wrong) == "NO"
    assert correct_cell(mixed) == "NO (parallel), ERROR (serial)"
    assert correct_cell(no_baseline) == "yes"


# --- --memory: one process per engine per query, peak RSS of its process tree ---------


def test_memory_runs_each_query_in_a_fresh_process_and_reports_peak_rss(
    tpch_sf001: Path, tmp_path: Path, capsys
) -> None:
    # One query, three processes (DuckDB, quarry with 2 workers, the serial baseline):
    # each process starts Python and quarry, which takes seconds on a loaded machine.
    out, report = _run(
        ["--queries", "6", "--memory", "--workers", "2", "--config", "memory_limit=1MB"],
        tpch_sf001,
        tmp_path,
        capsys,
    )

    assert "memory: each engine runs each query in a fresh process" in out
    assert "polled every 20 ms" in out
    assert "settings: quarry memory_limit=1MB; duckdb -" in out
    table = _table_lines(out)
    assert table["query"] == (
        "query quarry s quarry MiB serial s serial MiB speedup duckdb s duckdb MiB "
        "ratio mem ratio correct".split()
    )
    cells = table["Q06"]
    assert cells[-1] == "yes"
    assert all(int(cells[i]) > 0 for i in (2, 4, 7))  # MiB of quarry, serial, duckdb
    assert all(cells[i].endswith("x") for i in (5, 8, 9))  # speedup, ratio, mem ratio
    # The max row has the peaks only, the total row the seconds only.
    assert table["max"] == ["max", cells[2], cells[4], cells[7]]
    assert table["total"] == ["total", cells[1], cells[3], cells[6]]

    metadata, summary = report["metadata"], report["summary"]
    assert metadata["memory"] is True and metadata["rss_interval_s"] == 0.02
    assert metadata["quarry_settings"] == {"memory_limit": "1MB"}
    assert metadata["startup_s"] is None
    (q,) = report["queries"]
    assert q["correct"] == q["serial_correct"] == "yes"
    assert q["leftover_files"] == q["serial_leftover_files"] == []
    # The driver and its two workers are added up: more than the largest one alone.
    assert q["quarry_peak_rss"] > q["quarry_max_process_rss"] > 0
    assert q["quarry_peak_rss"] >= q["quarry_start_rss"] > 0
    # workers=0 and DuckDB are one process each: the peak is its kernel high-water mark.
    assert q["serial_peak_rss"] == q["serial_max_process_rss"] > 0
    assert q["duckdb_peak_rss"] == q["duckdb_max_process_rss"] > 0
    assert q["quarry_peak_rss"] > q["serial_peak_rss"]
    assert q["rss_ratio"] == pytest.approx(q["quarry_peak_rss"] / q["duckdb_peak_rss"])
    assert summary["max_quarry_peak_rss"] == q["quarry_peak_rss"]
    assert summary["geomean_rss_ratio"] == pytest.approx(q["rss_ratio"])
    assert summary["total_serial_s"] == pytest.approx(q["serial_s"])


def test_summary_totals_geomeans_and_max_peaks() -> None:
    def result(n: int, quarry_s: float, duckdb_s: float, quarry_rss: int, duckdb_rss: int):
        return QueryResult(
            n, quarry_s=quarry_s, duckdb_s=duckdb_s, ratio=quarry_s / duckdb_s,
            quarry_peak_rss=quarry_rss, duckdb_peak_rss=duckdb_rss,
            rss_ratio=quarry_rss / duckdb_rss, correct="yes", quarry_correct="yes",
        )

    failed = QueryResult(3, duckdb_s=1.0, duckdb_peak_rss=900, quarry_peak_rss=5000)
    summary = summarize([result(1, 1.0, 0.5, 400, 100), result(2, 4.0, 2.0, 100, 100), failed])
    assert summary["queries_ran"] == 2 and summary["queries_error"] == 1
    assert summary["total_quarry_s"] == 5.0 and summary["total_duckdb_s"] == 2.5
    assert summary["geomean_quarry_s"] == pytest.approx(2.0)
    assert summary["geomean_quarry_peak_rss"] == pytest.approx(200)
    assert summary["geomean_rss_ratio"] == pytest.approx(2.0)
    # The peaks' maximum covers every query, also one that failed (it ran out of time,
    # for instance, and its peak says how far it got).
    assert summary["max_quarry_peak_rss"] == 5000 and summary["max_duckdb_peak_rss"] == 900
    assert summary["geomean_serial_s"] is None and summary["max_sail_peak_rss"] is None


def test_a_child_past_its_time_is_killed_and_reported(
    tpch_sf001: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(engines, "SETUP_GRACE_S", 0.0)  # so the limit is 1 run x 0.3 s
    report_path = tmp_path / "bench.json"
    status = main(
        ["--sf", "0.01", "--queries", "6", "--runs", "1", "--warmup", "0", "--memory",
         "--workers", "0", "--timeout", "0.3", "--data", str(tpch_sf001),
         "--json", str(report_path)]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "timeout: 0.3 s per run" in out
    (q,) = json.loads(report_path.read_text(encoding="utf-8"))["queries"]
    assert q["duckdb_error"].startswith("killed after")
    assert q["error"].startswith("killed after") and q["correct"] == "ERROR"
    assert q["quarry_s"] is None and q["quarry_peak_rss"] > 0


def test_run_measured_adds_up_the_tree_and_kills_it_on_timeout(tmp_path: Path) -> None:
    script = tmp_path / "alloc.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "n = int(sys.argv[1])\n"
        "child = subprocess.Popen([sys.executable, __file__, sys.argv[2]]) "
        "if len(sys.argv) > 2 else None\n"
        "print('ready', flush=True)\n"
        "x = bytearray(n)\n"
        "x[::4096] = b'x' * len(x[::4096])\n"  # touch every page, so it is resident
        "time.sleep(0.5)\n"
        "if child: child.wait()\n",
        encoding="utf-8",
    )
    measured = run_measured([sys.executable, str(script), str(150 << 20), str(100 << 20)])
    assert measured.returncode == 0 and "ready" in measured.marks
    assert measured.max_process_rss >= 150 << 20
    assert measured.peak_rss >= (250 << 20)  # both processes at once

    slow = run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert slow.timed_out and slow.returncode == -9 and slow.elapsed_s < 10


# --- --config, the spill directory, --timeout -------------------------------------------


def test_parse_settings_reads_json_values_and_text() -> None:
    assert parse_settings(["memory_limit=256MB", "broadcast_rows=0", "timeout=2.5"]) == {
        "memory_limit": "256MB", "broadcast_rows": 0, "timeout": 2.5,
    }
    assert parse_settings(['disabled_rules=["reorder_joins"]']) == {
        "disabled_rules": ["reorder_joins"]
    }
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_settings(["memory_limit"])


def test_a_misspelt_setting_stops_the_run_with_a_suggestion(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--config", "memory_limt=1MB"])
    err = capsys.readouterr().err
    assert "unknown setting `memory_limt`" in err
    with pytest.raises(SystemExit):
        main(["--config", "workers=2"])
    assert "use --workers" in capsys.readouterr().err


def test_quarry_runner_passes_settings_and_spills_into_a_fresh_directory(
    tpch_sf001: Path, tmp_path: Path
) -> None:
    root = tmp_path / "spill"
    runner = QuarryRunner(
        tpch_sf001, 0, {"memory_limit": "1MB", "spill_dir": str(root)}, timeout=60
    )
    try:
        assert runner.error is None
        config = runner.connection.config
        assert config["memory_limit"] == "1MB" and config["timeout"] == 60
        assert Path(config["spill_dir"]).parent == root
        assert config["spill_dir"] == runner.spill_dir and os.listdir(runner.spill_dir) == []
    finally:
        runner.close()
    assert not os.path.exists(runner.spill_dir)


def test_a_file_left_in_the_spill_directory_fails_the_query(
    tpch_sf001: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    original = QuarryRunner.run

    def leaky_run(self: QuarryRunner, sql: str) -> pa.Table:
        table = original(self, sql)
        (Path(self.spill_dir) / "stray.arrow").write_bytes(b"x")
        return table

    monkeypatch.setattr(QuarryRunner, "run", leaky_run)
    out, report = _run(["--workers", "0"], tpch_sf001, tmp_path, capsys)

    assert _table_lines(out)["Q06"][-1] == "ERROR"
    assert "Q06: left 1 file(s) in its spill_dir: stray.arrow" in out
    for q in report["queries"]:
        # The answer itself is right; the file left behind is the failure.
        assert q["leftover_files"] == ["stray.arrow"] and q["correct"] == "ERROR"
        assert q["difference"] is None and q["quarry_s"] is not None
    assert report["summary"]["queries_leftover"] == 2


def test_duckdb_runner_applies_settings_and_stops_at_the_timeout(tpch_sf001: Path) -> None:
    runner = DuckDBRunner(tpch_sf001, 1, {"memory_limit": "1GB"}, timeout=0.3)
    try:
        con = runner.connection
        assert con.sql("select current_setting('memory_limit')").fetchall()[0][0] in (
            "1.0 GiB", "953.6 MiB", "1GB", "1.0GB",
        )
        assert runner.threads == 1
        start = time.perf_counter()
        with pytest.raises(TimeoutError, match=r"timed out after 0.3 s"):
            runner.run("select sum(i * i) from range(100000000000) t(i)")
        assert time.perf_counter() - start < 10
    finally:
        runner.close()


# --- data in directories of parts ---------------------------------------------------------


def test_tables_generated_in_parts_are_read_as_one_table(
    tpch_sf001: Path, tmp_path: Path, duckdb_con
) -> None:
    import quarry

    parts = generate(0.01, tmp_path / "parts", parts=2)
    paths = table_paths(parts)
    assert paths["lineitem"].is_dir() and len(list(paths["lineitem"].glob("*.parquet"))) == 2
    assert missing_tables(parts) == []

    create_duckdb_views(duckdb_con, parts)
    con = register_tables(quarry.connect(workers=0), parts)
    single = duckdb_con.sql(
        f"select count(*) from read_parquet('{table_paths(tpch_sf001)['lineitem']}')"
    ).fetchall()[0][0]
    assert duckdb_con.sql("select count(*) from lineitem").fetchall()[0][0] == single
    assert con.sql("select count(*) as n from lineitem").to_arrow()["n"][0].as_py() == single


# --- Sail ----------------------------------------------------------------------------------


def test_spark_decimals_are_compared_to_one_unit_in_their_last_place() -> None:
    import decimal

    spark = pa.table({"avg": pa.array([decimal.Decimal("0.050081"), decimal.Decimal("1.5")],
                                      pa.decimal128(10, 6))})
    duckdb_answer = pa.table({"avg": [0.05008133906964238, 1.6]})
    actual, expected = spark_decimals_as_floats(spark, duckdb_answer)
    assert actual["avg"].to_pylist() == [0.050081, 1.5]
    assert expected["avg"].to_pylist() == [0.050081, 1.6]  # 1.6 stays: a real difference


def test_sail_is_skipped_with_a_warning_when_not_installed(
    tpch_sf001: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(benchmark, "sail_missing", lambda: "pysail is not installed; ...")
    out, report = _run(
        ["--workers", "0", "--queries", "6", "--engines", "quarry,duckdb,sail"],
        tpch_sf001, tmp_path, capsys,
    )
    assert "sail" not in _table_lines(out)["query"]
    assert report["metadata"]["sail"] is None and report["metadata"]["engines"] == [
        "quarry", "duckdb"
    ]
    assert report["metadata"]["sail_skipped"].startswith("pysail is not installed")


def test_engines_must_include_quarry_and_duckdb(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--engines", "quarry,sail"])
    assert "--engines must include duckdb" in capsys.readouterr().err


def test_sail_answers_are_checked_against_duckdb(tpch_sf001: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("pysail")
    pytest.importorskip("pyspark")
    out, report = _run(
        ["--workers", "0", "--engines", "quarry,duckdb,sail"], tpch_sf001, tmp_path, capsys
    )
    assert _table_lines(out)["query"] == (
        "query quarry s duckdb s ratio sail s sail ratio sail ok correct".split()
    )
    for q in report["queries"]:
        assert q["sail_correct"] == "yes", q["sail_difference"] or q["sail_error"]
        assert q["sail_ratio"] == pytest.approx(q["sail_s"] / q["duckdb_s"])
    assert report["summary"]["sail_correct"] == 2
