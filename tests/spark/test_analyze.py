"""AnalyzePlan through the real ``pyspark-client``: ``sameSemantics`` and ``semanticHash``.

What is expected comes from Spark's definition: ``df.sameSemantics(other)`` is true when the two
analyzed plans are equal once canonicalized (expression ids renumbered, alias names erased,
commutative operands ordered), and ``semanticHash`` is the hash of that canonical plan, so it is
equal for frames that are ``sameSemantics``.
"""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

ROWS = [(1, "x", 2.0), (2, "y", 3.0), (3, None, 1.0)]


@pytest.fixture(scope="module")
def df(spark):
    return spark.createDataFrame(ROWS, "a int, b string, c double")


def _agree(x, y) -> bool:
    """sameSemantics both ways, with the hashes equal exactly when the frames are the same (a 32-bit hash
    could collide; these do not)."""
    same = x.sameSemantics(y)
    assert y.sameSemantics(x) is same
    assert isinstance(x.semanticHash(), int) and -2 ** 31 <= x.semanticHash() < 2 ** 31     # a Java int
    assert (x.semanticHash() == y.semanticHash()) is same
    return same


def test_the_same_query_built_twice(df):
    assert _agree(df.filter(F.col("a") > 1).select("b"), df.filter(F.col("a") > 1).select("b")) is True


def test_sql_text_and_column_expressions_resolve_alike(df):
    assert _agree(df.filter("a > 1").select("b"), df.filter(F.col("A") > 1).select(df["b"])) is True


def test_intermediate_alias_names_do_not_matter(df):
    x = df.select(F.col("a").alias("x"), "b").filter(F.col("x") > 1).select("b")
    y = df.select(F.col("a").alias("y"), "b").filter(F.col("y") > 1).select("b")
    assert _agree(x, y) is True


def test_commutative_operands_and_mirrored_comparisons(df):
    assert _agree(df.filter("a > 1"), df.filter("1 < a")) is True
    assert _agree(df.filter("a = 2 AND b = 'y'"), df.filter("b = 'y' AND 2 = a")) is True
    assert _agree(df.select((F.col("a") + F.col("c")).alias("s")), df.select((F.col("c") + F.col("a")).alias("s"))) \
        is True


def test_a_different_constant_column_or_operator_differs(df):
    base = df.filter(F.col("a") > 1).select("b")
    assert _agree(base, df.filter(F.col("a") > 2).select("b")) is False
    assert _agree(base, df.filter(F.col("a") > 1).select("c")) is False
    assert _agree(base, df.filter(F.col("a") >= 1).select("b")) is False
    assert _agree(base, df.filter(F.col("a") > 1)) is False
    assert _agree(df.select((F.col("a") - F.col("c")).alias("d")), df.select((F.col("c") - F.col("a")).alias("d"))) \
        is False
    assert base.semanticHash() != df.filter(F.col("a") > 2).select("b").semanticHash()


def test_different_local_data_differs(spark, df):
    other = spark.createDataFrame([(1, "x", 2.0), (2, "z", 3.0), (3, None, 1.0)], "a int, b string, c double")
    same = spark.createDataFrame(ROWS, "a int, b string, c double")
    assert _agree(df.select("b"), other.select("b")) is False
    assert _agree(df.select("b"), same.select("b")) is True


def test_catalog_tables_joins_and_aggregates(spark):
    def query(name):
        n = spark.table("nation")
        r = spark.table("region")
        return (n.join(r, n.n_regionkey == r.r_regionkey).groupBy("r_name")
                .agg(F.count("*").alias(name)).orderBy("r_name"))
    assert _agree(query("n"), query("how_many")) is True
    assert _agree(query("n"), query("n").limit(3)) is False


def test_cached_and_uncached_frames_are_the_same_plan(spark, df):
    cached = df.filter(F.col("a") > 1).select("b")
    cached.cache()
    try:
        assert cached.count() == 2
        assert _agree(cached, df.filter(F.col("a") > 1).select("b")) is True
    finally:
        cached.unpersist()


def test_python_udfs_compare_by_their_function(df):
    # Spark compares a Python UDF by its pickled function: the same udf called twice is the same plan
    plus_one = F.udf(lambda x: x + 1, "int")
    times_two = F.udf(lambda x: x * 2, "int")
    assert _agree(df.select(plus_one("a").alias("r")), df.select(plus_one("a").alias("r"))) is True
    assert _agree(df.select(plus_one("a").alias("r")), df.select(times_two("a").alias("r"))) is False
    assert _agree(df.select(plus_one("a").alias("r")), df.select(plus_one("c").alias("r"))) is False


def test_map_in_pandas_compares_by_its_function(df):
    def keep(frames):
        yield from frames

    def drop(frames):
        for f in frames:
            yield f.iloc[0:0]
    assert _agree(df.mapInPandas(keep, df.schema), df.mapInPandas(keep, df.schema)) is True
    assert _agree(df.mapInPandas(keep, df.schema), df.mapInPandas(drop, df.schema)) is False


def test_two_reads_of_the_same_parquet_files_are_the_same_relation(spark, tmp_path):
    # Spark compares file relations by their location: the same path read twice is the same plan
    import pyarrow as pa
    import pyarrow.parquet as pq
    for name, rows in (("one", [1, 2]), ("two", [3])):
        pq.write_table(pa.table({"a": pa.array(rows, pa.int64())}), tmp_path / f"{name}.parquet")
    one, two = str(tmp_path / "one.parquet"), str(tmp_path / "two.parquet")
    assert _agree(spark.read.parquet(one).filter("a > 1"), spark.read.parquet(one).filter("1 < a")) is True
    assert _agree(spark.read.parquet(one).filter("a > 1"), spark.read.parquet(two).filter("a > 1")) is False
