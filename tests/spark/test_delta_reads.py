"""``spark.read.format("delta").load(path)``, with Delta's ``versionAsOf`` / ``timestampAsOf``: the rows
deltalake itself reads at that version."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

deltalake = pytest.importorskip("deltalake")


@pytest.fixture(scope="module")
def delta_table(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("spark_delta") / "sales")
    deltalake.write_deltalake(uri, pa.table({"id": pa.array([1, 2, 3], pa.int64()), "day": ["a", "a", "b"]}),
                              partition_by=["day"])
    deltalake.write_deltalake(uri, pa.table({"id": pa.array([4], pa.int64()), "day": ["c"]}), mode="append")
    return uri


def _ids(rows):
    return sorted(r["id"] for r in rows)


def test_read_delta_latest_and_by_version(spark, delta_table):
    latest = deltalake.DeltaTable(delta_table).to_pyarrow_table()
    assert _ids(spark.read.format("delta").load(delta_table).collect()) == sorted(latest.column("id").to_pylist())
    first = deltalake.DeltaTable(delta_table, version=0).to_pyarrow_table()
    rows = spark.read.format("delta").option("versionAsOf", 0).load(delta_table).collect()
    assert _ids(rows) == sorted(first.column("id").to_pylist())
    assert sorted({r["day"] for r in rows}) == sorted(set(first.column("day").to_pylist()))


def test_read_delta_by_timestamp_and_bad_options(spark, delta_table):
    history = deltalake.DeltaTable(delta_table).history()
    first_commit = min(h["timestamp"] for h in history)
    at = datetime.datetime.fromtimestamp(first_commit / 1000, datetime.timezone.utc).isoformat()
    first = deltalake.DeltaTable(delta_table, version=0).to_pyarrow_table()
    rows = spark.read.format("delta").option("timestampAsOf", at).load(delta_table).collect()
    assert _ids(rows) == sorted(first.column("id").to_pylist())
    with pytest.raises(Exception, match="Not supported: the delta option `mergeschema`"):
        spark.read.format("delta").option("mergeSchema", "true").load(delta_table).collect()
    with pytest.raises(Exception, match="versionAsOf takes a version number"):
        spark.read.format("delta").option("versionAsOf", "latest").load(delta_table).collect()
    with pytest.raises(Exception, match="no snapshot version 9"):
        spark.read.format("delta").option("versionAsOf", 9).load(delta_table).collect()
