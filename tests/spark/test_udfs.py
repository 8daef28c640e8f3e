"""Python UDFs of PySpark programs, written as a Spark user writes them, run on quarry's workers through
the real ``pyspark-client``. Expected answers come from pandas, DuckDB or are written by hand."""

from __future__ import annotations

import warnings
from typing import Iterator, Tuple

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.errors import PySparkException, PythonException, UnsupportedOperationException
from pyspark.sql import Row, Window
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import DoubleType, IntegerType, LongType, StringType, StructField, StructType

warnings.filterwarnings("ignore", message=".*pandas.*", category=UserWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

SALES = [(1, "north", "apple", 3, 1.5), (2, "north", "pear", None, 2.0), (3, "south", "apple", 5, 1.25),
         (4, "south", "plum", 2, None), (5, "south", "apple", 7, 1.5), (6, "east", "pear", 1, 3.0)]
COLUMNS = ["id", "region", "fruit", "qty", "price"]


@pytest.fixture(scope="module")
def sales(spark):
    return spark.createDataFrame(SALES, COLUMNS)


@pytest.fixture(scope="module")
def sales_pd():
    return pd.DataFrame(SALES, columns=COLUMNS)


def rows(df):
    return [tuple(r) for r in df.collect()]


# -- row-at-a-time udf -------------------------------------------------------------------------------

def test_udf_lambda_with_a_ddl_return_type(sales):
    plus_one = F.udf(lambda q: q + 1 if q is not None else -1, "int")
    out = sales.select("id", plus_one("qty")).orderBy("id")
    assert out.columns == ["id", "<lambda>(qty)"]
    assert rows(out) == [(1, 4), (2, -1), (3, 6), (4, 3), (5, 8), (6, 2)]     # None reaches the function


def test_udf_decorator_with_a_data_type_and_two_columns(sales):
    @F.udf(returnType=DoubleType())
    def revenue(qty, price):
        if qty is None or price is None:
            return None
        return qty * price

    out = sales.withColumn("revenue", revenue(F.col("qty"), "price")).orderBy("id").select("revenue")
    assert [r.revenue for r in out.collect()] == [4.5, None, 6.25, None, 10.5, 3.0]


def test_udf_default_return_type_is_string(sales):
    shout = F.udf(lambda s: s.upper() + "!")
    out = sales.select(shout("fruit").alias("s")).distinct().orderBy("s")
    assert out.schema["s"].dataType == StringType()
    assert [r.s for r in out.collect()] == ["APPLE!", "PEAR!", "PLUM!"]


def test_udf_returning_arrays_and_structs(sales):
    split = F.udf(lambda s: list(s), "array<string>")
    pair = F.udf(lambda i, s: Row(n=i * 10, f=s[:2]), "struct<n:int,f:string>")
    out = sales.filter("id = 1").select(split("fruit").alias("letters"), pair("id", "fruit").alias("p"))
    row = out.collect()[0]
    assert row.letters == ["a", "p", "p", "l", "e"]
    assert (row.p.n, row.p.f) == (10, "ap")


def test_udf_in_filter_and_in_aggregate_argument(sales, sales_pd):
    is_fruit = F.udf(lambda f: f in ("apple", "plum"), "boolean")
    total = sales.filter(is_fruit("fruit")).agg(F.sum("qty").alias("q")).collect()[0].q
    assert total == sales_pd[sales_pd.fruit.isin(["apple", "plum"])].qty.sum()


def test_udf_as_nondeterministic_still_runs(sales):
    tagged = F.udf(lambda i: f"row-{i}", StringType()).asNondeterministic()
    assert [r[0] for r in sales.orderBy("id").select(tagged("id")).collect()][:2] == ["row-1", "row-2"]


def test_arrow_optimized_udf(sales):
    double = F.udf(lambda q: None if q is None else 2 * q, "long", useArrow=True)
    assert [r[0] for r in sales.orderBy("id").select(double("qty")).collect()] == [6, None, 10, 4, 14, 2]


# -- pandas_udf -----------------------------------------------------------------------------------

def test_pandas_udf_scalar(sales, sales_pd):
    @pandas_udf("double")
    def with_tax(price: pd.Series, qty: pd.Series) -> pd.Series:
        return price * qty * 1.2

    out = sales.orderBy("id").select(with_tax("price", "qty").alias("t"))
    expected = (sales_pd.price * sales_pd.qty * 1.2).tolist()
    got = [r.t for r in out.collect()]
    assert [None if pd.isna(e) else pytest.approx(e) for e in expected] == got


def test_pandas_udf_iterator(sales):
    @pandas_udf("long")
    def offset(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        base = 100                         # the expensive set-up runs once per iterator
        for s in batches:
            yield s + base

    assert [r[0] for r in sales.orderBy("id").select(offset("id")).collect()] == [101, 102, 103, 104, 105, 106]


def test_pandas_udf_iterator_of_tuples(sales):
    @pandas_udf("string")
    def label(batches: Iterator[Tuple[pd.Series, pd.Series]]) -> Iterator[pd.Series]:
        for region, fruit in batches:
            yield region.str[0] + "-" + fruit

    assert [r[0] for r in sales.orderBy("id").select(label("region", "fruit")).collect()][:3] == \
        ["n-apple", "n-pear", "s-apple"]


def test_pandas_udf_returning_a_struct(sales):
    @pandas_udf("first string, length int")
    def describe(s: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"first": s.str[0], "length": s.str.len()})

    row = sales.filter("id = 3").select(describe("fruit").alias("d")).collect()[0]
    assert (row.d.first, row.d.length) == ("a", 5)


def test_pandas_udf_grouped_aggregate(sales, sales_pd):
    @pandas_udf("double")
    def mean_price(p: pd.Series) -> float:
        return p.mean()

    out = sales.groupBy("region").agg(mean_price("price").alias("m"), F.count("*").alias("n")).orderBy("region")
    expected = sales_pd.groupby("region").agg(m=("price", "mean"), n=("id", "size")).sort_index()
    assert rows(out) == [(k, pytest.approx(r.m), r.n) for k, r in expected.iterrows()]


def test_pandas_udf_aggregate_over_a_window(sales, sales_pd):
    @pandas_udf("double")
    def region_mean(q: pd.Series) -> float:
        return q.mean()

    w = Window.partitionBy("region")
    out = sales.withColumn("avg_qty", region_mean("qty").over(w)).orderBy("id").select("id", "avg_qty")
    means = sales_pd.groupby("region").qty.mean()
    assert rows(out) == [(i, pytest.approx(means[r])) for i, r in zip(sales_pd.id, sales_pd.region)]


def test_pandas_udf_aggregate_without_groups(sales, sales_pd):
    @pandas_udf("long")
    def spread(q: pd.Series) -> int:
        return int(q.max() - q.min())

    assert sales.agg(spread("qty")).collect()[0][0] == int(sales_pd.qty.max() - sales_pd.qty.min())


# -- spark.udf.register and SQL -------------------------------------------------------------------

def test_register_a_function_and_call_it_from_sql(spark, sales):
    spark.udf.register("initials", lambda r, f: (r[0] + f[0]).upper(), "string")
    sales.createOrReplaceTempView("sales_udf")
    out = spark.sql("SELECT id, initials(region, fruit) AS i FROM sales_udf WHERE id <= 3 ORDER BY id")
    assert rows(out) == [(1, "NA"), (2, "NP"), (3, "SA")]


def test_register_a_pandas_aggregate_for_sql_group_by(spark, sales, sales_pd):
    @pandas_udf("double")
    def total_value(q: pd.Series, p: pd.Series) -> float:
        return float((q * p).sum())

    spark.udf.register("total_value", total_value)
    sales.createOrReplaceTempView("sales_agg")
    out = spark.sql("SELECT region, total_value(qty, price) AS v FROM sales_agg GROUP BY region ORDER BY region")
    expected = (sales_pd.qty * sales_pd.price).groupby(sales_pd.region).sum().sort_index()
    assert rows(out) == [(k, pytest.approx(v)) for k, v in expected.items()]


def test_registered_udf_returned_object_works_in_dataframes(spark, sales):
    squared = spark.udf.register("squared", lambda x: x * x, LongType())
    assert [r[0] for r in sales.orderBy("id").select(squared("id")).collect()] == [1, 4, 9, 16, 25, 36]
    assert spark.sql("SELECT squared(7) AS s").collect()[0].s == 49


def test_call_udf_calls_a_registered_function(spark, sales):
    spark.udf.register("fruit_len", lambda s: len(s), IntegerType())
    out = sales.orderBy("id").select(F.call_udf("fruit_len", F.col("fruit")).alias("n"))
    assert [r.n for r in out.collect()] == [5, 4, 5, 4, 5, 4]
    assert sales.selectExpr("max(fruit_len(fruit)) AS m").collect()[0].m == 5


def test_udfs_of_two_sessions_are_their_own(spark_server):
    from pyspark.sql import SparkSession
    one = SparkSession.builder.remote(spark_server.url).create()
    two = SparkSession.builder.remote(spark_server.url).create()
    try:
        one.udf.register("which", lambda: "one", "string")
        two.udf.register("which", lambda: "two", "string")
        assert one.sql("SELECT which() AS w").collect()[0].w == "one"
        assert two.sql("SELECT which() AS w").collect()[0].w == "two"
    finally:
        one.stop()
        two.stop()


# -- mapInPandas / mapInArrow ---------------------------------------------------------------------

def test_map_in_pandas(sales, sales_pd):
    def expensive(frames):
        for pdf in frames:
            big = pdf[pdf.qty >= 3]
            yield pd.DataFrame({"id": big.id, "value": big.qty * big.price})

    out = sales.mapInPandas(expensive, "id long, value double").orderBy("id")
    big = sales_pd[sales_pd.qty >= 3]
    assert rows(out) == [(i, pytest.approx(v) if not pd.isna(v) else None)
                         for i, v in zip(big.id, big.qty * big.price)]


def test_map_in_pandas_matches_columns_by_position_without_names(sales):
    def positional(frames):
        for pdf in frames:
            yield pd.DataFrame([[i * 2] for i in pdf.id])       # an integer column label: by position

    assert sorted(r.twice for r in sales.mapInPandas(positional, "twice long").collect()) == [2, 4, 6, 8, 10, 12]


def test_map_in_arrow(sales):
    def cheap(batches):
        for b in batches:
            keep = b.filter(pc.less(b["price"], 2.0))
            yield pa.RecordBatch.from_arrays([keep["fruit"], pc.multiply(keep["price"], 100)],
                                             names=["fruit", "cents"])

    out = sales.mapInArrow(cheap, StructType([StructField("fruit", StringType()),
                                              StructField("cents", DoubleType())]))
    assert sorted(rows(out)) == [("apple", 125.0), ("apple", 150.0), ("apple", 150.0)]


def test_map_in_pandas_barrier_is_refused(sales):
    with pytest.raises(UnsupportedOperationException, match="Not supported: barrier"):
        sales.mapInPandas(lambda it: it, sales.schema, barrier=True).collect()


# -- grouped maps -----------------------------------------------------------------------------------

def test_apply_in_pandas_subtracts_the_group_mean(sales, sales_pd):
    def center(pdf: pd.DataFrame) -> pd.DataFrame:
        return pdf.assign(qty=pdf.qty - pdf.qty.mean())[["id", "region", "qty"]]

    out = sales.groupBy("region").applyInPandas(center, "id long, region string, qty double").orderBy("id")
    expected = sales_pd.assign(qty=sales_pd.qty - sales_pd.groupby("region").qty.transform("mean"))
    assert rows(out) == [(i, r, None if pd.isna(q) else pytest.approx(q))
                         for i, r, q in zip(expected.id, expected.region, expected.qty)]


def test_apply_in_pandas_with_the_key(sales, sales_pd):
    def summary(key, pdf):
        return pd.DataFrame({"region": [key[0]], "fruit": [key[1]], "n": [len(pdf)]})

    out = sales.groupBy("region", "fruit").applyInPandas(summary, "region string, fruit string, n long")
    expected = sales_pd.groupby(["region", "fruit"]).size()
    assert sorted(rows(out)) == sorted((r, f, n) for (r, f), n in expected.items())


def test_apply_in_pandas_by_an_expression(sales):
    def count(key, pdf):
        return pd.DataFrame({"big": [bool(key[0])], "n": [len(pdf)]})

    out = sales.groupBy(F.col("id") > 3).applyInPandas(count, "big boolean, n long")
    assert sorted(rows(out)) == [(False, 3), (True, 3)]


def test_apply_in_arrow(sales):
    def top(table: pa.Table) -> pa.Table:
        best = pc.max(table["qty"]).as_py()
        return pa.table({"region": table["region"].slice(0, 1), "best": pa.array([best], pa.int64())})

    out = sales.groupBy("region").applyInArrow(top, "region string, best long").orderBy("region")
    assert rows(out) == [("east", 1), ("north", 3), ("south", 7)]


def test_apply_in_arrow_with_the_key(sales):
    def sizes(key, table):
        return pa.table({"region": [key[0].as_py()], "n": [table.num_rows]})

    assert sorted(rows(sales.groupBy("region").applyInArrow(sizes, "region string, n long"))) == \
        [("east", 1), ("north", 2), ("south", 3)]


def test_cogroup_apply_in_pandas(spark):
    # the asof-join example of Spark's documentation
    df1 = spark.createDataFrame([(20000101, 1, 1.0), (20000101, 2, 2.0), (20000102, 1, 3.0), (20000102, 2, 4.0)],
                                ("time", "id", "v1"))
    df2 = spark.createDataFrame([(20000101, 1, "x"), (20000101, 2, "y")], ("time", "id", "v2"))

    def asof_join(left, right):
        return pd.merge_asof(left, right, on="time", by="id")

    out = df1.groupby("id").cogroup(df2.groupby("id")).applyInPandas(
        asof_join, schema="time int, id int, v1 double, v2 string").orderBy("time", "id")
    assert rows(out) == [(20000101, 1, 1.0, "x"), (20000101, 2, 2.0, "y"), (20000102, 1, 3.0, "x"),
                         (20000102, 2, 4.0, "y")]


def test_cogroup_with_the_key_and_one_sided_groups(spark):
    left = spark.createDataFrame([(1, "a"), (1, "b"), (2, "c")], ["k", "l"])
    right = spark.createDataFrame([(1, 10.0), (3, 30.0)], ["k", "r"])

    def sizes(key, l, r):
        return pd.DataFrame({"k": [key[0]], "nl": [len(l)], "nr": [len(r)], "cols": [",".join(l.columns) + "|" +
                                                                                      ",".join(r.columns)]})

    out = left.groupBy("k").cogroup(right.groupBy("k")).applyInPandas(sizes, "k long, nl long, nr long, cols string")
    assert rows(out.orderBy("k")) == [(1, 2, 1, "k,l|k,r"), (2, 1, 0, "k,l|k,r"), (3, 0, 1, "k,l|k,r")]


def test_cogroup_apply_in_arrow(spark):
    left = spark.createDataFrame([(1, 5), (2, 6)], ["k", "x"])
    right = spark.createDataFrame([(1, 7), (1, 8)], ["k", "y"])

    def total(l: pa.Table, r: pa.Table) -> pa.Table:
        return pa.table({"s": [sum(l["x"].to_pylist()) + sum(r["y"].to_pylist())]})

    out = left.groupBy("k").cogroup(right.groupBy("k")).applyInArrow(total, "s long")
    assert sorted(r.s for r in out.collect()) == [6, 20]


# -- on TPC-H, against DuckDB -----------------------------------------------------------------------

def test_pandas_udfs_on_lineitem_match_duckdb(spark, tpch_sf001):
    @pandas_udf("double")
    def net(price: pd.Series, disc: pd.Series) -> pd.Series:
        return price * (1 - disc)

    @pandas_udf("double")
    def p90(v: pd.Series) -> float:
        return float(v.quantile(0.9, interpolation="lower"))

    lineitem = spark.table("lineitem")
    out = (lineitem.withColumn("net", net(F.col("l_extendedprice").cast("double"), F.col("l_discount").cast("double")))
           .groupBy("l_returnflag").agg(F.sum("net").alias("s"), p90("l_quantity").alias("q"))
           .orderBy("l_returnflag"))
    path = str(tpch_sf001 / "lineitem.parquet")
    expected = duckdb.sql(f"""SELECT l_returnflag, sum(l_extendedprice::DOUBLE * (1 - l_discount::DOUBLE)),
                                     quantile_disc(l_quantity::DOUBLE, 0.9)
                              FROM read_parquet('{path}') GROUP BY 1 ORDER BY 1""").fetchall()
    assert [(f, pytest.approx(s), q) for f, s, q in rows(out)] == [(f, pytest.approx(s), q) for f, s, q in expected]


# -- errors -------------------------------------------------------------------------------------------

def test_an_exception_in_a_udf_is_a_python_exception(sales):
    def parse(fruit):
        return int(fruit)

    with pytest.raises(PythonException) as info:
        sales.select(F.udf(parse, "int")("fruit")).collect()
    text = str(info.value)
    assert "ValueError: invalid literal for int() with base 10: 'apple'" in text
    assert "return int(fruit)" in text               # the user's own frame
    assert "quarry/" not in text                     # no server frames


def test_an_exception_in_a_grouped_map_is_a_python_exception(sales):
    def broken(pdf):
        raise RuntimeError("no good")

    with pytest.raises(PythonException, match="RuntimeError: no good"):
        sales.groupBy("region").applyInPandas(broken, "id long").collect()


def test_a_wrong_result_type_names_the_udf(sales):
    def wrong_type(q):
        return "not a number"

    with pytest.raises(PySparkException, match="wrong_type"):
        sales.select(F.udf(wrong_type, "int")("qty")).collect()


def test_python_udfs_can_be_refused(tpch_sf001):
    import quarry
    import quarry.spark
    from pyspark.sql import SparkSession
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0, python_role=None)
    spark = SparkSession.builder.remote(server.url).create()
    try:
        with pytest.raises(PySparkException, match="running Python code"):
            spark.range(2).select(F.udf(lambda x: x, "long")("id")).collect()
        assert spark.range(2).count() == 2
    finally:
        spark.stop()
        server.stop(0)


def test_a_udf_from_another_python_version_is_refused(sales, monkeypatch):
    from pyspark.sql.connect import expressions as E
    original = E.PythonUDF.to_plan

    def from_old_python(self, session):
        plan = original(self, session)
        plan.python_ver = "3.1"
        return plan

    monkeypatch.setattr(E.PythonUDF, "to_plan", from_old_python)
    with pytest.raises(PythonException, match="comes from Python 3.1"):
        sales.select(F.udf(lambda x: x, "long")("id")).collect()


def test_arrow_udf_scalar_and_aggregate(sales, sales_pd):
    from pyspark.sql.functions import arrow_udf

    @arrow_udf("long")
    def doubled(q: pa.Array) -> pa.Array:
        return pc.multiply(q, 2)

    @arrow_udf("double")
    def total(p: pa.Array) -> float:
        return pc.sum(p).as_py()

    assert [r[0] for r in sales.orderBy("id").select(doubled("qty")).collect()] == [6, None, 10, 4, 14, 2]
    out = sales.groupBy("region").agg(total("price").alias("t")).orderBy("region")
    expected = sales_pd.groupby("region").price.sum().sort_index()
    assert rows(out) == [(k, pytest.approx(v)) for k, v in expected.items()]


def test_pandas_udf_aggregate_over_an_iterator(sales, sales_pd):
    @pandas_udf("long")
    def count_big(batches: Iterator[pd.Series]) -> int:
        return int(sum((b > 2).sum() for b in batches))

    out = sales.groupBy("region").agg(count_big("qty").alias("n")).orderBy("region")
    expected = (sales_pd.qty > 2).groupby(sales_pd.region).sum().sort_index()
    assert rows(out) == [(k, int(v)) for k, v in expected.items()]


def test_apply_in_pandas_over_an_iterator_of_frames(sales, sales_pd):
    def sizes(key: Tuple, frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        yield pd.DataFrame({"region": [key[0]], "n": [sum(len(f) for f in frames)]})

    out = sales.groupBy("region").applyInPandas(sizes, "region string, n long").orderBy("region")
    assert rows(out) == [(k, v) for k, v in sales_pd.groupby("region").size().sort_index().items()]


def test_a_registered_aggregate_over_a_sql_window(spark, sales, sales_pd):
    @pandas_udf("double")
    def spread(p: pd.Series) -> float:
        return float(p.max() - p.min())

    spark.udf.register("price_spread", spread)
    sales.createOrReplaceTempView("sales_win")
    out = spark.sql("SELECT id, price_spread(price) OVER (PARTITION BY region) AS s FROM sales_win ORDER BY id")
    by_region = sales_pd.groupby("region").price.agg(lambda p: p.max() - p.min())
    assert rows(out) == [(i, pytest.approx(by_region[r])) for i, r in zip(sales_pd.id, sales_pd.region)]


def test_the_python_role_option_and_its_default():
    import quarry
    import quarry.spark
    from quarry.errors import QuarryError
    from quarry.server.auth import Users
    from quarry.spark.cli import build_parser
    assert build_parser().parse_args(["--python-role", "none"]).python_role == "none"
    assert build_parser().parse_args([]).python_role is None             # auto: write, or admin with users
    with pytest.raises(QuarryError, match="unknown role"):
        quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0, python_role="root")
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0, users=Users({"ann": "pw:write"}))
    try:
        assert server.service.python_role == "admin"
    finally:
        server.stop(0)


def test_a_udf_takes_a_struct_as_a_row_and_a_map_as_a_dict(spark):
    # as PySpark's worker gives them (Arrow's Python values are a dict and a list of pairs)
    from pyspark.sql import Row
    from pyspark.sql import functions as F
    df = spark.createDataFrame([(1, {"a": 1}, [1, 2])], "id int, m map<string,int>, arr array<int>")
    describe = F.udf(lambda v: f"{type(v).__name__}:{v!r}")
    out = df.select(describe(F.struct("id", "arr")), describe("m"), describe("arr"),
                    describe(F.array(F.struct("id"))), describe(F.create_map(F.lit("k"), F.struct("id")))).collect()[0]
    assert tuple(out) == ("Row:Row(id=1, arr=[1, 2])", "dict:{'a': 1}", "list:[1, 2]", "list:[Row(id=1)]",
                          "dict:{'k': Row(id=1)}")
    total = F.udf(lambda r: r.id + sum(r.arr), "int")
    assert df.select(total(F.struct("id", "arr"))).collect()[0][0] == 4
