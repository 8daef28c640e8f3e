"""The Spark Connect benchmark (quarry.tpch.spark_benchmark) runs, checks answers and reports ratios."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


def _module():
    try:
        import quarry.tpch.spark_benchmark as module
        return module
    except ImportError:            # quarry.tpch installed from another checkout: this one's file
        path = Path(__file__).resolve().parents[2] / "tpch" / "spark_benchmark.py"
        spec = importlib.util.spec_from_file_location("quarry.tpch.spark_benchmark", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module


def test_quarry_through_spark_connect_and_its_own_api(tpch_sf001, tmp_path, capsys):
    bench = _module()
    out = tmp_path / "bench.json"
    assert bench.main(["--data", str(tpch_sf001), "--queries", "1,6", "--runs", "1", "--warmup", "0",
                       "--workers", "0", "--engines", "quarry,quarry-spark", "--json", str(out)]) == 0
    report = capsys.readouterr().out
    assert "quarry-spark/quarry" in report and "geomean" in report
    data = json.loads(out.read_text())
    assert [r["query"] for r in data["results"]] == [1, 6]
    assert all(r["correct"] == {"quarry": "yes", "quarry-spark": "yes"} for r in data["results"])
    assert data["summary"]["compared"] == 2
    assert data["summary"]["geomean_quarry-spark_vs_quarry"] > 0


def test_an_unknown_engine_is_refused():
    with pytest.raises(SystemExit, match="unknown engine"):
        _module().main(["--engines", "quarry,spark-ish", "--sf", "0.01"])
