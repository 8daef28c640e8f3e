"""The TPC-H benchmark's report: the serial baseline, the speedup and ratio columns, the JSON.

The end-to-end tests run ``tpch.benchmark.main`` on SF 0.01 with two queries, one
timed run and no warm-up, so they take seconds (most of it the worker pool's start).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from quarry.tpch import create_duckdb_views, load_query, register_tables
from quarry.tpch.benchmark import (
    QueryResult,
    build_parser,
    correct_cell,
    duckdb_threads_for,
    main,
    run_query,
    summarize,
    wants_baseline,
)
from quarry.tpch.datagen import generate, missing_tables, table_paths

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
        if cells and (cells[0] in ("query", "geomean") or cells[0].startswith("Q")):
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


class _FakeRunner:
    """A stand-in for QuarryRunner that answers every query with a fixed table."""

    error = None
    connection = object()

    def __init__(self, answer: pa.Table) -> None:
        self.answer = answer

    def run(self, sql: str) -> pa.Table:
        return self.answer


def test_a_wrong_serial_answer_names_the_serial_run(duckdb_tpch) -> None:
    expected = duckdb_tpch.sql(load_query(6)).to_arrow_table()
    wrong = pa.table({"revenue": pa.array([0.0])})
    result = run_query(
        6,
        _FakeRunner(expected),  # type: ignore[arg-type]
        duckdb_tpch,
        serial=_FakeRunner(wrong),  # type: ignore[arg-type]
        runs=1,
        warmup=0,
        rel_tol=1e-9,
    )
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
