"""Parquet scans read only the needed columns and skip row groups their statistics rule out."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.physical.operators import ParquetScanExec
from quarry.tpch import load_query
from quarry.tpch.datagen import table_paths


def _scan_metrics(con, sql):
    df = con.sql(sql)
    optimized = con.optimize(df.logical_plan)
    physical = con.physical_plan(optimized)
    from quarry.execution.executor import run_physical
    from quarry.physical.base import ExecContext
    table = run_physical(physical, ExecContext(con.exec_config()))
    table = table.rename_columns([f.name for f in df.logical_plan.schema])   # physical names are name#id
    scans = [n for n in physical.walk() if isinstance(n, ParquetScanExec)]
    return table, scans


@pytest.fixture
def sorted_file(tmp_path):
    """10 row groups of 1000 rows, sorted on k, so each group covers a disjoint range of k."""
    n = 10_000
    table = pa.table({"k": pa.array(range(n), pa.int64()),
                      "v": pa.array([i % 7 for i in range(n)], pa.int64()),
                      "s": pa.array([f"row{i}" for i in range(n)])})
    path = tmp_path / "sorted.parquet"
    pq.write_table(table, path, row_group_size=1000)
    return path


def test_range_predicate_skips_row_groups(sorted_file):
    con = quarry.connect()
    con.register("t", str(sorted_file))
    table, scans = _scan_metrics(con, "SELECT count(*) AS n, sum(v) AS s FROM t WHERE k >= 2500 AND k < 4000")
    assert table.column("n")[0].as_py() == 1500
    (scan,) = scans
    assert scan.metrics["row_groups"] == 10
    assert scan.metrics["row_groups_skipped"] == 8      # only groups [2000, 3000) and [3000, 4000) can match
    assert scan.metrics["rows_read"] == 2000
    assert scan.metrics["bytes_skipped"] > scan.metrics["bytes_read"]


def test_equality_and_in_list_prune(sorted_file):
    con = quarry.connect()
    con.register("t", str(sorted_file))
    table, (scan,) = _scan_metrics(con, "SELECT s FROM t WHERE k IN (5, 9005)")
    assert sorted(table.column("s").to_pylist()) == ["row5", "row9005"]
    assert scan.metrics["row_groups_skipped"] == 8


def test_no_pruning_without_usable_statistics(sorted_file):
    con = quarry.connect()
    con.register("t", str(sorted_file))
    table, (scan,) = _scan_metrics(con, "SELECT count(*) AS n FROM t WHERE v = 3")
    assert scan.metrics["row_groups_skipped"] == 0
    assert table.column("n")[0].as_py() == sum(1 for i in range(10_000) if i % 7 == 3)


def test_hive_partition_values_prune_files(tmp_path):
    for year in (2020, 2021, 2022):
        d = tmp_path / "events" / f"year={year}"
        d.mkdir(parents=True)
        pq.write_table(pa.table({"x": pa.array(range(year - 2019), pa.int64())}), d / "part-0.parquet")
    con = quarry.connect()
    con.register("events", str(tmp_path / "events"))
    table, (scan,) = _scan_metrics(con, "SELECT year, sum(x) AS s FROM events WHERE year >= 2021 GROUP BY year ORDER BY year")
    assert table.to_pylist() == [{"year": 2021, "s": 1}, {"year": 2022, "s": 3}]
    assert scan.metrics["row_groups_skipped"] == 1


def test_explain_analyze_q6_reads_only_q6_columns(tpch_sf001):
    con = quarry.connect()
    for name, path in table_paths(tpch_sf001).items():
        con.register(name, str(path))
    text = con.sql("EXPLAIN ANALYZE " + load_query(6)).to_arrow().column("plan")[0].as_py()
    scan_line = next(line for line in text.splitlines() if "ParquetScan: lineitem" in line)
    columns = re.search(r"columns=\[([^\]]*)\]", scan_line).group(1).split(", ")
    # Q6 outputs l_extendedprice and l_discount; its filter also reads l_shipdate and l_quantity
    assert set(columns) == {"l_extendedprice", "l_discount"}
    assert "rows_read=" in scan_line and "bytes_read=" in scan_line and "row_groups_skipped=" in scan_line
    _, (scan,) = _scan_metrics(con, load_query(6))
    assert {f.name for f in scan.read_fields} == {"l_extendedprice", "l_discount", "l_shipdate", "l_quantity"}
