"""The Spark-semantics functions run in quarry's worker processes too (a TPC-H table, workers=2):
their definitions are internal to the registry, which the workers import with the kernels."""

from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")


def test_spark_functions_over_a_table_in_the_workers(spark):
    from pyspark.sql import functions as F
    df = spark.table("nation").orderBy("n_nationkey")
    rows = df.select("n_name", F.md5("n_name").alias("m"), F.substring("n_name", -3, 2).alias("s"),
                     F.concat_ws("-", "n_name", F.lit(None), "n_regionkey").alias("c"),
                     F.hash("n_name").alias("h"), (df.n_nationkey / F.lit(2)).alias("d"),
                     F.get_json_object(F.concat(F.lit('{"k": "'), df.n_name, F.lit('"}')), "$.k").alias("j")
                     ).collect()
    assert len(rows) == 25
    for r in rows:
        assert r.m == hashlib.md5(r.n_name.encode()).hexdigest()
        assert r.s == r.n_name[-3:][:2]
        assert r.j == r.n_name
        assert r.c.startswith(r.n_name + "-")
    assert rows[3].d == 1.5
    assert len({r.h for r in rows}) == 25
