"""Spark's aggregate functions through the real pyspark-client; expected values from Spark's
documentation (pyspark docstring examples) and its NULL and result-type rules."""

from __future__ import annotations

import decimal

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, DoubleType, LongType


@pytest.fixture(scope="module")
def data(spark):
    return spark.createDataFrame(
        [("a", 2, 1.0), ("a", None, 2.0), ("a", 5, 3.0), ("a", 5, None), ("b", None, 4.0), ("c", 1, 1.0)],
        "k string, x int, y double")


def one(df, column):
    return df.agg(column.alias("v")).collect()[0]["v"]


def by_key(df, column):
    return {r["k"]: r["v"] for r in df.groupBy("k").agg(column.alias("v")).collect()}


CASES = [
    ("collect_list skips NULL", F.collect_list("x"), {"a": [2, 5, 5], "b": [], "c": [1]}),
    ("collect_set", F.array_sort(F.collect_set("x")), {"a": [2, 5], "b": [], "c": [1]}),
    ("first keeps NULL", F.first("x"), {"a": 2, "b": None, "c": 1}),
    ("first ignorenulls", F.first("x", ignorenulls=True), {"a": 2, "b": None, "c": 1}),
    ("last", F.last("x"), {"a": 5, "b": None, "c": 1}),
    ("last ignorenulls", F.last("y", ignorenulls=True), {"a": 3.0, "b": 4.0, "c": 1.0}),
    ("last keeps NULL", F.last("y"), {"a": None, "b": 4.0, "c": 1.0}),
    ("count_distinct", F.count_distinct("x"), {"a": 2, "b": 0, "c": 1}),
    # Spark: "the number of rows for which the supplied expression(s) are unique and non-null"
    ("count_distinct of two columns", F.count_distinct("x", "y"), {"a": 2, "b": 0, "c": 1}),
    ("approx_count_distinct", F.approx_count_distinct("x"), {"a": 2, "b": 0, "c": 1}),
    ("count_if", F.count_if(F.col("x") > 2), {"a": 2, "b": 0, "c": 0}),
    ("sum", F.sum("x"), {"a": 12, "b": None, "c": 1}),
    ("avg", F.avg("x"), {"a": 4.0, "b": None, "c": 1.0}),
    ("max_by", F.max_by("y", "x"), {"a": 3.0, "b": None, "c": 1.0}),
    ("min_by", F.min_by("y", "x"), {"a": 1.0, "b": None, "c": 1.0}),
    ("mode", F.mode("x"), {"a": 5, "b": None, "c": 1}),
    ("median", F.median("x"), {"a": 5.0, "b": None, "c": 1.0}),
    ("percentile", F.percentile("x", 0.25), {"a": 3.5, "b": None, "c": 1.0}),
    ("percentile_approx", F.percentile_approx("x", 0.5), {"a": 5, "b": None, "c": 1}),
    ("percentile_approx list", F.percentile_approx("x", [0.0, 1.0]), {"a": [2, 5], "b": None, "c": [1, 1]}),
    ("stddev of one row is NULL", F.stddev("x"), {"a": pytest.approx(1.7320508075688772), "b": None, "c": None}),
    ("var_pop", F.var_pop("x"), {"a": 2.0, "b": None, "c": 0.0}),
    ("bool_and", F.bool_and(F.col("x") > 1), {"a": True, "b": None, "c": False}),
    ("bool_or", F.bool_or(F.col("x") > 4), {"a": True, "b": None, "c": False}),
    ("listagg", F.listagg(F.col("x").cast("string"), F.lit(",")), {"a": "2,5,5", "b": None, "c": "1"}),
]


@pytest.mark.parametrize("column, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_grouped_aggregate(data, column, expected):
    assert by_key(data, column) == expected


def test_moments_from_docs(spark):
    # pyspark docstrings: corr / covar of a = [1..20], b = [1..20] * ... ; skewness/kurtosis of [1, 1, 1, 2] etc.
    df = spark.createDataFrame([(float(a), float(b)) for a, b in zip(range(20), [1, 5, 2, 7, 4, 9, 3, 1, 8, 2,
                                                                                 6, 3, 9, 1, 4, 7, 2, 8, 5, 6])],
                               "a double, b double")
    n = 20
    xs, ys = [float(v) for v in range(20)], [1, 5, 2, 7, 4, 9, 3, 1, 8, 2, 6, 3, 9, 1, 4, 7, 2, 8, 5, 6]
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    assert one(df, F.covar_pop("a", "b")) == pytest.approx(cov / n)
    assert one(df, F.covar_samp("a", "b")) == pytest.approx(cov / (n - 1))
    sx = sum((x - mx) ** 2 for x in xs) ** 0.5
    sy = sum((y - my) ** 2 for y in ys) ** 0.5
    assert one(df, F.corr("a", "b")) == pytest.approx(cov / (sx * sy))
    s = spark.createDataFrame([(v,) for v in [-10.0, -20.0, 100.0, 1000.0]], "c double")
    # pyspark docstring values
    assert one(s, F.skewness("c")) == pytest.approx(1.1135657469022011)
    assert one(s, F.kurtosis("c")) == pytest.approx(-0.7014368047529627)


def test_empty_and_constant_inputs(spark):
    empty = spark.createDataFrame([], "x int")
    assert one(empty, F.collect_list("x")) == []
    assert one(empty, F.sum("x")) is None
    same = spark.createDataFrame([(2.0,), (2.0,)], "x double")
    assert one(same, F.skewness("x")) is None                  # 0 / 0 is NULL (not legacy statisticalAggregate)
    assert one(same, F.corr("x", "x")) is None


def test_result_types_and_names(spark):
    df = spark.createDataFrame([(1, decimal.Decimal("1.50"))], "i int, d decimal(10,2)")
    out = df.agg(F.sum("i"), F.avg("i"), F.sum("d"), F.avg("d"), F.first("i", True), F.collect_list("i"))
    types = [f.dataType for f in out.schema.fields]
    assert types[:4] == [LongType(), DoubleType(), DecimalType(20, 2), DecimalType(14, 6)]
    assert out.columns == ["sum(i)", "avg(i)", "sum(d)", "avg(d)", "first(i)", "collect_list(i)"]
    assert tuple(out.collect()[0]) == (1, 1.0, decimal.Decimal("1.50"), decimal.Decimal("1.500000"), 1, [1])


def test_sum_of_bigints_is_a_bigint(spark):
    # Spark: sum of an integral column is a bigint (quarry sums BIGINTs exactly, as DECIMAL(38,0), first);
    # past the bigint range it raises under ANSI mode
    from pyspark.errors import PySparkException
    df = spark.createDataFrame([(2,), (3,), (None,)], "l long")
    out = df.agg(F.sum("l"))
    assert out.schema.fields[0].dataType == LongType() and out.collect()[0][0] == 5
    assert df.groupBy().sum("l").schema.fields[0].dataType == LongType()
    big = spark.createDataFrame([(2 ** 62,), (2 ** 62,)], "l long")
    with pytest.raises(PySparkException):
        big.agg(F.sum("l")).collect()


def test_regression_aggregates(spark):
    # y = 2x + 1 on four points, one pair with a NULL (skipped)
    df = spark.createDataFrame([(3.0, 1.0), (5.0, 2.0), (7.0, 3.0), (9.0, 4.0), (None, 5.0)], "y double, x double")
    row = df.agg(F.regr_count("y", "x"), F.regr_slope("y", "x"), F.regr_intercept("y", "x"), F.regr_r2("y", "x"),
                 F.regr_avgx("y", "x"), F.regr_avgy("y", "x"), F.regr_sxx("y", "x"), F.regr_syy("y", "x"),
                 F.regr_sxy("y", "x")).collect()[0]
    assert tuple(row) == (4, pytest.approx(2.0), pytest.approx(1.0), pytest.approx(1.0), 2.5, 6.0,
                          pytest.approx(5.0), pytest.approx(20.0), pytest.approx(10.0))


def test_listagg_distinct(spark):
    df = spark.createDataFrame([("a",), ("b",), ("a",), (None,)], "s string")
    got = df.agg(F.listagg_distinct("s", F.lit("-")).alias("v")).collect()[0]["v"]
    assert sorted(got.split("-")) == ["a", "b"]


def test_pivot_takes_any_aggregate(data):
    out = data.groupBy("k").pivot("x", [2, 5]).agg(F.collect_list("y")).orderBy("k")
    assert [tuple(r) for r in out.collect()] == [("a", [1.0], [3.0]), ("b", [], []), ("c", [], [])]
    # a count pivots in Spark's two steps (PivotFirst): a group without the value gets NULL
    counted = data.groupBy("k").pivot("x", [5]).count().orderBy("k")
    assert [tuple(r) for r in counted.collect()] == [("a", 2), ("b", None), ("c", None)]


def test_count_distinct_of_several_columns_counts_distinct_rows(spark):
    rows = [("a:", "b", 0.0), ("a", ":b", -0.0), ("a:", "b", -0.0), ("a", ":b", 1.0), (None, "b", 0.0), ("", "", 0.0)]
    df = spark.createDataFrame(rows, "s string, t string, z double")
    # distinct non-NULL (s, t): ('a:', 'b'), ('a', ':b'), ('', ''); with z, where -0.0 equals 0.0:
    # ('a:', 'b', 0), ('a', ':b', 0), ('a', ':b', 1), ('', '', 0)
    out = df.agg(F.count_distinct("s", "t").alias("two"), F.countDistinct("s", "t", "z").alias("three")).collect()[0]
    assert (out.two, out.three) == (3, 4)


def test_try_sum_and_try_avg_are_null_on_overflow(spark):
    # the pyspark.sql.functions.try_sum / try_avg docstring examples
    from pyspark.sql.types import DecimalType
    assert spark.range(10).select(F.try_sum("id")).collect()[0][0] == 45
    ab = spark.createDataFrame([(1, 2), (3, 4)], ["A", "B"])
    assert ab.select(F.try_sum(F.col("A") + F.col("B"))).collect()[0][0] == 10
    ages = spark.createDataFrame([(1982, None), (1990, 2), (2000, 4)], ["birth", "age"])
    assert tuple(ages.select(F.try_sum("age"), F.try_avg("age")).collect()[0]) == (6, 3.0)
    assert spark.createDataFrame([(1982, 15), (1990, 2)], ["birth", "age"]).select(
        F.try_avg("age")).collect()[0][0] == 8.5
    ones = spark.createDataFrame([(decimal.Decimal("1" * 38),)] * 10, "number DECIMAL(38, 0)")
    assert ones.select(F.try_sum(ones.number)).collect()[0][0] is None
    pair = spark.createDataFrame([(decimal.Decimal("1" * 38),), (decimal.Decimal(0),)], "number DECIMAL(38, 0)")
    assert pair.select(F.try_avg(pair.number)).collect()[0][0] is None
    # a bigint sum past 2^63 - 1 is NULL; the types are sum's and avg's
    longs = spark.createDataFrame([(2 ** 62,), (2 ** 62,)], "l long")
    assert longs.select(F.try_sum("l")).collect()[0][0] is None
    d = spark.createDataFrame([(decimal.Decimal("1.25"),), (decimal.Decimal("2.50"),)], "d decimal(5,2)")
    out = d.select(F.try_sum("d"), F.try_avg("d"))
    assert [f.dataType for f in out.schema.fields] == [DecimalType(15, 2), DecimalType(9, 6)]
    assert tuple(out.collect()[0]) == (decimal.Decimal("3.75"), decimal.Decimal("1.875000"))
    assert out.columns == ["try_sum(d)", "try_avg(d)"]


@pytest.mark.parametrize("dtype", ["tinyint", "int", "bigint"])
def test_bit_and_or_xor(spark, dtype):
    # the docstring examples (bit_and of 1, 1, 2 is 0; of 1, NULL, 2 is 0; of NULLs NULL; of 5 is 5), then
    # two's complement values of each width against Python's own & | ^
    import functools
    import operator
    from pyspark.sql.types import ByteType, IntegerType, LongType
    top = {"tinyint": 2 ** 7, "int": 2 ** 31, "bigint": 2 ** 63}[dtype]
    groups = {"doc1": [1, 1, 2], "doc2": [1, None, 2], "nulls": [None, None], "one": [5],
              "signs": [-1, -8, 6, None], "edges": [-top, top - 1, -top + 3, 0x55 % top]}
    rows = [(k, v) for k, vs in groups.items() for v in vs]
    df = spark.createDataFrame(rows, f"k string, c {dtype}")
    out = df.groupBy("k").agg(F.bit_and("c"), F.bit_or("c"), F.bit_xor("c"))
    assert out.columns == ["k", "bit_and(c)", "bit_or(c)", "bit_xor(c)"]
    kind = {"tinyint": ByteType(), "int": IntegerType(), "bigint": LongType()}[dtype]
    assert [f.dataType for f in out.schema.fields[1:]] == [kind] * 3
    got = {r[0]: tuple(r[1:]) for r in out.collect()}
    for k, vs in groups.items():
        values = [v for v in vs if v is not None]
        want = tuple(functools.reduce(f, values) if values else None for f in (operator.and_, operator.or_,
                                                                                 operator.xor))
        assert got[k] == want, k


def test_sum_of_decimals_past_their_type_raises_in_ansi_mode_and_is_null_without(spark):
    # Spark's sum of a DECIMAL(38, 0) is a DECIMAL(38, 0) (min(38, p + 10)); ten 38-digit values overflow it
    from pyspark.errors import ArithmeticException
    ones = spark.createDataFrame([(decimal.Decimal("1" * 38),)] * 10, "number DECIMAL(38, 0)")
    with pytest.raises(ArithmeticException):
        ones.select(F.sum(ones.number)).collect()
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        assert ones.select(F.sum(ones.number)).collect()[0][0] is None
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "true")
