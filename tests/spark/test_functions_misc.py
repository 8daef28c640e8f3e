"""Spark's miscellaneous functions through the real pyspark-client.

From Spark's documentation: ``monotonically_increasing_id`` is "guaranteed to be monotonically increasing
and unique, but not consecutive"; ``spark_partition_id`` is the partition id; ``input_file_name`` is the
empty string when unknown; ``rand(seed)`` is uniform in [0.0, 1.0) and ``randn(seed)`` standard normal,
deterministic for a seed; ``uuid`` is "a canonical UUID 36-character string"; ``typeof`` is the DDL
name of the type (``typeof(1) = 'int'``, ``typeof(array(1)) = 'array<int>'``).
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import check, fn_spark  # noqa: E402,F401

CASES = [
    ("typeof-int", "i int", [(1,)], lambda F, d: F.typeof("i"), ["int"], "typeof(i)"),
    ("typeof-literals", "i int", [(1,)], lambda F, d: F.typeof(F.lit("a")), ["string"], "typeof(a)"),
    ("typeof-double", "x double", [(1.0,)], lambda F, d: F.typeof("x"), ["double"], None),
    ("typeof-bigint", "l long", [(1,)], lambda F, d: F.typeof("l"), ["bigint"], None),
    ("spark-partition-id", "i int", [(1,), (2,)], lambda F, d: F.spark_partition_id(), [0, 0],
     "SPARK_PARTITION_ID()"),
    ("input-file-name", "i int", [(1,)], lambda F, d: F.input_file_name(), [""], "input_file_name()"),
    ("lit", "i int", [(1,)], lambda F, d: F.lit(5), [5], "5"),
    ("col", "i int", [(1,)], lambda F, d: F.col("i"), [1], "i"),
    ("expr", "i int", [(3,)], lambda F, d: F.expr("i + 1"), [4], None),
    ("current-schema", "i int", [(1,)], lambda F, d: F.current_schema(), ["default"], None),
    ("current-catalog", "i int", [(1,)], lambda F, d: F.current_catalog(), ["spark_catalog"], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_misc(fn_spark, case):
    check(fn_spark, case)


def test_monotonically_increasing_id_is_increasing_and_unique(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(i,) for i in range(50)], "i int")
    ids = [r[0] for r in df.select(F.monotonically_increasing_id()).collect()]
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert df.select(F.monotonically_increasing_id()).columns == ["monotonically_increasing_id()"]


@pytest.fixture(scope="module")
def three_partitions(tmp_path_factory):
    """A PySpark session over a quarry server whose table ``t`` (three Parquet files) scans as three
    partitions, of 4, 5 and 6 rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import quarry
    import quarry.spark
    from pyspark.sql import SparkSession
    folder = tmp_path_factory.mktemp("parts")
    for k in range(3):
        pq.write_table(pa.table({"i": list(range(k * 10, k * 10 + 4 + k))}), folder / f"part{k}.parquet")
    session = quarry.connect(executor="inline", target_partitions=3)
    session.register("t", str(folder))
    server = quarry.spark.serve(session, "127.0.0.1", 0)
    spark = SparkSession.builder.remote(server.url).create()
    try:
        yield spark
    finally:
        spark.stop()
        server.stop(0)


def _ids_by_partition(rows):
    by: dict = {}
    for partition, row_id in rows:
        by.setdefault(partition, []).append(row_id)
    return by


def test_monotonically_increasing_id_is_sparks_value_per_partition(three_partitions):
    # Spark: "The current implementation puts the partition ID in the upper 31 bits, and the record number
    # within each partition in the lower 33 bits"
    from pyspark.sql import functions as F
    df = three_partitions.table("t")
    for frame in (df, df.filter("i % 2 = 0")):       # after a filter the record numbers count its rows
        rows = frame.select(F.spark_partition_id(), F.monotonically_increasing_id()).collect()
        by = _ids_by_partition(rows)
        assert sorted(by) == [0, 1, 2]
        for partition, ids in by.items():
            assert ids == [(partition << 33) + k for k in range(len(ids))]
    counts = {p: len(ids) for p, ids in _ids_by_partition(
        df.select(F.spark_partition_id(), F.lit(0)).collect()).items()}
    assert sorted(counts.values()) == [4, 5, 6]


def test_rand_with_a_seed_is_deterministic_and_in_range(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(i,) for i in range(100)], "i int")
    first = [r[0] for r in df.select(F.rand(42)).collect()]
    again = [r[0] for r in df.select(F.rand(42)).collect()]
    other = [r[0] for r in df.select(F.rand(7)).collect()]
    assert first == again and first != other
    assert all(0.0 <= v < 1.0 for v in first)
    assert df.select(F.rand(42)).columns == ["rand(42)"]
    normal = [r[0] for r in df.select(F.randn(42)).collect()]
    assert normal == [r[0] for r in df.select(F.randn(42)).collect()]
    assert any(v < 0 for v in normal) and any(v > 0 for v in normal)


def test_uuid_is_a_canonical_version_4_uuid(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(i,) for i in range(20)], "i int")
    values = [r[0] for r in df.select(F.uuid()).collect()]
    assert len(set(values)) == 20
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", v) for v in values)


def test_raise_error_and_assert_true(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(1,)], "i int")
    with pytest.raises(PySparkException, match="boom"):
        df.select(F.raise_error(F.lit("boom"))).collect()
    assert df.select(F.assert_true(df.i == 1)).collect()[0][0] is None
    with pytest.raises(PySparkException, match="is not true"):
        df.select(F.assert_true(df.i == 2)).collect()
