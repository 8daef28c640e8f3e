"""Helpers for the table-driven tests of Spark's function library (tests/spark/test_functions_*.py).

``fn_spark`` (a fixture the test modules import) is a PySpark session on a quarry Spark Connect server
over an empty quarry session (no tables needed). ``run(spark, schema, rows, build)`` selects
``build(F, df)`` over a DataFrame of ``rows`` and returns (column name, values).
"""

from __future__ import annotations

import math
import os

import pytest

os.environ.setdefault("SPARK_CONNECT_MODE_ENABLED", "1")


@pytest.fixture(scope="module")
def fn_spark():
    import quarry
    import quarry.spark
    from pyspark.sql import SparkSession
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0)
    spark = SparkSession.builder.remote(server.url).create()
    try:
        yield spark
    finally:
        spark.stop()
        server.stop(0)


def run(spark, schema: str, rows: list[tuple], build):
    from pyspark.sql import functions as F
    df = spark.createDataFrame(rows, schema)
    out = df.select(build(F, df))
    return out.columns[0], [r[0] for r in out.collect()]


def same(got, want) -> bool:
    """Equal, with floats compared to 1e-12 relative and NaN equal to NaN."""
    if isinstance(want, float) and isinstance(got, float):
        if math.isnan(want):
            return math.isnan(got)
        return got == want or abs(got - want) <= 1e-12 * max(abs(want), 1.0)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    return got == want and type(got) is type(want) if isinstance(want, bool) else got == want


def check(spark, case):
    """``case``: (id, schema, rows, build, expected values, expected column name or None)."""
    _, schema, rows, build, want, name = case
    got_name, got = run(spark, schema, rows, build)
    assert same(got, want), f"got {got!r}, want {want!r}"
    if name is not None:
        assert got_name == name
