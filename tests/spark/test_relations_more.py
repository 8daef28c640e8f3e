"""More PySpark programs through the real ``pyspark-client``: rollup/cube/grouping sets, pivot,
the na and stat functions, unpivot, HTML output, seeded sampling, tables and the catalog.

Each answer is DuckDB's over the same rows, or written by hand from Spark's documentation
(the pyspark docstring examples of describe, summary, crosstab, unpivot, na.fill, ...)."""

from __future__ import annotations

import datetime
import math

import pytest
from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import Row
from pyspark.sql import functions as F

SALES = [("paris", "tea", 2024, 10.0), ("paris", "tea", 2025, 12.5), ("paris", "coffee", 2024, 7.0),
         ("rome", "coffee", 2024, 3.0), ("rome", "coffee", 2025, None), ("oslo", "tea", 2025, 4.5)]


@pytest.fixture(scope="module")
def sales(spark):
    return spark.createDataFrame(SALES, "city string, item string, year int, amount double")


@pytest.fixture
def duck_sales(duckdb_con):
    duckdb_con.execute("CREATE TABLE sales (city VARCHAR, item VARCHAR, year INTEGER, amount DOUBLE)")
    duckdb_con.executemany("INSERT INTO sales VALUES (?, ?, ?, ?)", SALES)
    return duckdb_con


def rows(df):
    return [tuple(r) for r in df.collect()]


def _key(row):
    return tuple((v is None, v) for v in row)


# -- rollup, cube, grouping sets, pivot ----------------------------------------------------------

def test_rollup_with_grouping(sales, duck_sales):
    got = sales.rollup("city", "item").agg(F.sum("amount").alias("total"), F.count("*").alias("n"),
                                          F.grouping("city").alias("gc"), F.grouping_id().alias("gid"))
    assert got.columns == ["city", "item", "total", "n", "gc", "gid"]
    expected = duck_sales.sql("SELECT city, item, sum(amount), count(*), grouping(city), grouping(city, item) "
                              "FROM sales GROUP BY ROLLUP (city, item)").fetchall()
    assert sorted(rows(got), key=_key) == sorted(expected, key=_key)
    assert dict(got.dtypes)["gc"] == "tinyint" and dict(got.dtypes)["gid"] == "bigint"


def test_cube_counts_every_combination(sales, duck_sales):
    got = sales.cube("city", "year").agg(F.max("amount").alias("top")).orderBy("city", "year")
    expected = duck_sales.sql("SELECT city, year, max(amount) FROM sales GROUP BY CUBE (city, year)").fetchall()
    assert sorted(rows(got), key=_key) == sorted(expected, key=_key)
    assert len(rows(got)) == len(expected) == 11          # 5 pairs, 3 cities, 2 years, the total


def test_grouping_sets(sales, duck_sales):
    got = sales.groupingSets([["city"], ["item"], []], "city", "item").agg(F.sum("amount").alias("s"))
    expected = duck_sales.sql("SELECT city, item, sum(amount) FROM sales "
                              "GROUP BY GROUPING SETS ((city), (item), ())").fetchall()
    assert sorted(rows(got), key=_key) == sorted(expected, key=_key)


def test_grouping_without_rollup_is_refused_as_in_spark(sales):
    with pytest.raises(AnalysisException, match="GroupingSets / Cube / Rollup"):
        sales.groupBy("city").agg(F.grouping_id()).collect()
    with pytest.raises(AnalysisException, match="GroupingSets / Cube / Rollup"):
        sales.select(F.grouping("city")).collect()


def test_pivot_without_values_finds_them(sales, duck_sales):
    got = sales.groupBy("city").pivot("year").sum("amount").orderBy("city")
    assert got.columns == ["city", "2024", "2025"]
    expected = duck_sales.sql("SELECT city, sum(amount) FILTER (WHERE year = 2024), "
                              "sum(amount) FILTER (WHERE year = 2025) FROM sales GROUP BY city ORDER BY city").fetchall()
    assert rows(got) == expected


def test_pivot_of_any_aggregate_matches_duckdb(sales, duck_sales):
    got = sales.groupBy("item").pivot("year", [2024, 2025]).agg(
        (F.sum(F.col("amount") * 2) + F.countDistinct("city")).alias("x")).orderBy("item")
    expected = duck_sales.sql(
        "SELECT item, sum(amount * 2) FILTER (WHERE year = 2024) + count(DISTINCT city) FILTER (WHERE year = 2024), "
        "sum(amount * 2) FILTER (WHERE year = 2025) + count(DISTINCT city) FILTER (WHERE year = 2025) "
        "FROM sales GROUP BY item ORDER BY item").fetchall()
    assert rows(got) == expected


def test_pivot_with_two_aggregates_names_value_then_aggregate(sales):
    got = sales.groupBy("item").pivot("city", ["paris", "rome"]).agg(F.count("*").alias("n"),
                                                                  F.min("year").alias("y")).orderBy("item")
    assert got.columns == ["item", "paris_n", "paris_y", "rome_n", "rome_y"]
    assert rows(got) == [("coffee", 1, 2024, 2, 2024), ("tea", 2, 2024, None, None)]    # NULL, not 0, as Spark


# -- na functions: the pyspark docstring examples --------------------------------------------------

@pytest.fixture(scope="module")
def people(spark):
    return spark.createDataFrame([(10, 80.5, "Alice", None), (5, None, "Bob", None), (None, None, "Tom", None),
                                  (None, None, None, True)], schema=["age", "height", "name", "bool"])


def test_fillna_by_type(people):
    assert rows(people.na.fill(50)) == [(10, 80.5, "Alice", None), (5, 50.0, "Bob", None),
                                        (50, 50.0, "Tom", None), (50, 50.0, None, True)]
    assert rows(people.fillna(False).select("bool")) == [(False,), (False,), (False,), (True,)]
    assert rows(people.fillna({"age": 50, "name": "unknown"})) == [
        (10, 80.5, "Alice", None), (5, None, "Bob", None), (50, None, "Tom", None), (50, None, "unknown", True)]
    # a string fills only string columns; a subset limits the columns
    assert rows(people.na.fill("x")) == rows(people.na.fill({"name": "x"}))
    assert rows(people.na.fill(1.9, subset=["age"]).select("age", "height")) == [
        (10, 80.5), (5, None), (1, None), (1, None)]


def test_fillna_fills_nan_too(spark):
    df = spark.createDataFrame([(float("nan"),), (None,), (2.0,)], "x double")
    assert rows(df.na.fill(0.0)) == [(0.0,), (0.0,), (2.0,)]


def test_na_and_describe_with_odd_column_names(spark):
    df = spark.createDataFrame([(1, None), (None, "x")], "`a.b` int, `c d` string")
    assert rows(df.na.fill(0).na.fill("-")) == [(1, "-"), (0, "x")]
    assert rows(df.dropna(subset=["c d"])) == [(None, "x")]
    assert df.describe().columns == ["summary", "a.b", "c d"]
    assert rows(df.describe().select("`a.b`"))[:1] == [("1",)]


def test_dropna_how_thresh_subset(people, duckdb_con):
    assert rows(people.na.drop()) == []
    assert rows(people.dropna(thresh=2)) == [(10, 80.5, "Alice", None), (5, None, "Bob", None)]
    assert rows(people.na.drop(how="all", subset=["age", "height"])) == [(10, 80.5, "Alice", None),
                                                                         (5, None, "Bob", None)]
    assert rows(people.na.drop(subset=["name"]).select("name")) == [("Alice",), ("Bob",), ("Tom",)]


def test_replace(people):
    assert rows(people.na.replace(10, 20).select("age")) == [(20,), (5,), (None,), (None,)]
    assert rows(people.na.replace("Alice", None).select("name")) == [(None,), ("Bob",), ("Tom",), (None,)]
    assert rows(people.na.replace({"Alice": "A", "Bob": "B"}, subset=["name"]).select("name")) == [
        ("A",), ("B",), ("Tom",), (None,)]
    assert rows(people.replace(["Alice", "Bob"], ["A", "B"], "name").select("name")) == [
        ("A",), ("B",), ("Tom",), (None,)]
    assert rows(people.replace(80.5, 1.0).select("height")) == [(1.0,), (None,), (None,), (None,)]


# -- describe / summary: the pyspark docstring example ---------------------------------------------

@pytest.fixture(scope="module")
def measures(spark):
    return spark.createDataFrame([("Bob", 13, 40.3, 150.5), ("Alice", 12, 37.8, 142.3), ("Tom", 11, 44.1, 142.2)],
                                 ["name", "age", "weight", "height"])


DESCRIBED = """+-------+----+------------------+-----------------+
|summary| age|            weight|           height|
+-------+----+------------------+-----------------+
|  count|   3|                 3|                3|
|   mean|12.0| 40.73333333333333|            145.0|
| stddev| 1.0|3.1722757341273704|4.763402145525822|
|    min|  11|              37.8|            142.2|
|    max|  13|              44.1|            150.5|
+-------+----+------------------+-----------------+
"""

SUMMARY = """+-------+----+------------------+-----------------+
|summary| age|            weight|           height|
+-------+----+------------------+-----------------+
|  count|   3|                 3|                3|
|   mean|12.0| 40.73333333333333|            145.0|
| stddev| 1.0|3.1722757341273704|4.763402145525822|
|    min|  11|              37.8|            142.2|
|    25%|  11|              37.8|            142.2|
|    50%|  12|              40.3|            142.3|
|    75%|  13|              44.1|            150.5|
|    max|  13|              44.1|            150.5|
+-------+----+------------------+-----------------+
"""


def test_describe_and_summary_print_as_in_spark(measures, capsys):
    measures.describe(["age", "weight", "height"]).show()
    measures.select("age", "weight", "height").summary().show()
    measures.select("age", "weight", "height").summary("count", "min", "25%", "75%", "max").show()
    out = capsys.readouterr().out
    assert out == DESCRIBED + "\n" + SUMMARY + "\n" + """+-------+---+------+------+
|summary|age|weight|height|
+-------+---+------+------+
|  count|  3|     3|     3|
|    min| 11|  37.8| 142.2|
|    25%| 11|  37.8| 142.2|
|    75%| 13|  44.1| 150.5|
|    max| 13|  44.1| 150.5|
+-------+---+------+------+

"""


def test_describe_covers_string_columns_with_strings(measures):
    df = measures.describe()
    assert df.columns == ["summary", "name", "age", "weight", "height"]
    assert dict(df.dtypes) == {c: "string" for c in df.columns}
    assert rows(df.select("summary", "name")) == [("count", "3"), ("mean", None), ("stddev", None),
                                                  ("min", "Alice"), ("max", "Tom")]


def test_describe_of_decimals_and_of_no_rows(spark):
    import decimal
    df = spark.createDataFrame([(decimal.Decimal("1.50"),), (decimal.Decimal("2.25"),)], "x decimal(10,2)")
    # Spark's avg of a decimal(10,2) is a decimal(14,6); min and max keep the column's scale
    assert rows(df.describe()) == [("count", "2"), ("mean", "1.875000"), ("stddev", "0.5303300858899106"),
                                   ("min", "1.50"), ("max", "2.25")]
    assert rows(spark.range(0).describe()) == [("count", "0"), ("mean", None), ("stddev", None), ("min", None),
                                               ("max", None)]


def test_summary_percentiles_match_spark_rank_rule(spark):
    values = [7, 1, 9, 4, 4, 12, 3, 8, 10, 2, 6]
    df = spark.createDataFrame([(v,) for v in values], "v int")
    got = df.summary("10%", "50%", "90%", "count_distinct").collect()
    ordered = sorted(values)
    # Spark's percentile: the value at rank ceil(p * n) among the n sorted values
    expected = [str(ordered[max(math.ceil(p * len(values)), 1) - 1]) for p in (0.1, 0.5, 0.9)]
    assert [r["v"] for r in got] == expected + [str(len(set(values)))]


# -- stat functions --------------------------------------------------------------------------------

def test_crosstab_docstring_example(spark, capsys):
    df = spark.createDataFrame([(1, 11), (1, 11), (3, 10), (4, 8), (4, 8)], ["c1", "c2"])
    df.crosstab("c1", "c2").sort("c1_c2").show()
    assert capsys.readouterr().out == """+-----+---+---+---+
|c1_c2| 10| 11|  8|
+-----+---+---+---+
|    1|  0|  2|  0|
|    3|  1|  0|  0|
|    4|  0|  0|  2|
+-----+---+---+---+

"""


def test_freq_items(spark):
    df = spark.createDataFrame([(1, 11), (1, 11), (3, 10), (4, 8), (4, 8)], ["c1", "c2"])
    got = df.freqItems(["c1", "c2"]).collect()[0]
    assert sorted(got["c1_freqItems"]) == [1, 3, 4] and sorted(got["c2_freqItems"]) == [8, 10, 11]
    many = spark.range(1000).withColumn("k", F.when(F.col("id") < 600, F.lit(0)).otherwise(F.col("id")))
    assert many.stat.freqItems(["k"], 0.5).collect()[0][0] == [0]


def test_corr_cov_match_duckdb(sales, duck_sales):
    got_corr = sales.corr("year", "amount")
    got_cov = sales.stat.cov("year", "amount")
    corr, cov = duck_sales.sql("SELECT corr(year, amount), covar_samp(year, amount) FROM sales").fetchall()[0]
    assert got_corr == pytest.approx(corr) and got_cov == pytest.approx(cov)


def test_approx_quantile(spark):
    values = [float(v) for v in [5, 3, 9, 1, 7, 2, 8, 6, 4, 10]]
    df = spark.createDataFrame([(v, v * 2) for v in values] + [(None, None)], "a double, b double")
    ordered = sorted(values)
    want = [ordered[max(math.ceil(p * len(values)), 1) - 1] for p in (0.0, 0.25, 0.5, 0.95, 1.0)]
    assert df.approxQuantile("a", [0.0, 0.25, 0.5, 0.95, 1.0], 0.0) == want
    assert df.approxQuantile(["a", "b"], [0.5], 0.01) == [[want[2]], [want[2] * 2]]
    # within relativeError of either end, Spark's summary answers the smallest or the largest value
    assert df.approxQuantile("a", [0.05, 0.96], 0.1) == [1.0, 10.0]


# -- unpivot ---------------------------------------------------------------------------------------

def test_unpivot_docstring_example(spark, capsys):
    df = spark.createDataFrame([(1, 11, 1.1), (2, 12, 1.2)], ["id", "int", "double"])
    df.unpivot("id", ["int", "double"], "var", "val").show()
    assert capsys.readouterr().out == """+---+------+----+
| id|   var| val|
+---+------+----+
|  1|   int|11.0|
|  1|double| 1.1|
|  2|   int|12.0|
|  2|double| 1.2|
+---+------+----+

"""


def test_melt_without_values_matches_duckdb(sales, duck_sales):
    mixed = sales.select("city", "item", "year").melt(["city"], None, "key", "value")
    with pytest.raises(AnalysisException, match="UNPIVOT_VALUE_DATA_TYPE_MISMATCH|no common type"):
        mixed.collect()                                  # a string and an int: Spark refuses them too
    expected = duck_sales.sql("SELECT city, key, value FROM (UNPIVOT (SELECT city, item, year::VARCHAR AS year "
                              "FROM sales) ON item, year INTO NAME key VALUE value)").fetchall()
    strings = sales.select("city", "item", F.col("year").cast("string").alias("year")).melt(
        ["city"], None, "key", "value")
    assert strings.columns == ["city", "key", "value"]
    assert sorted(rows(strings)) == sorted(expected)


# -- HTML ------------------------------------------------------------------------------------------

def test_repr_html_is_spark_html_string(spark):
    spark.conf.set("spark.sql.repl.eagerEval.enabled", True)
    spark.conf.set("spark.sql.repl.eagerEval.maxNumRows", 2)
    try:
        df = spark.createDataFrame([("a<b", 1), ("café & thé", None), ("c", 3)], ["s", "n"])
        assert df._repr_html_() == (
            "<table border='1'>\n"
            "<tr><th>s</th><th>n</th></tr>\n"
            "<tr><td>a&lt;b</td><td>1</td></tr>\n"
            "<tr><td>caf&eacute; &amp; th&eacute;</td><td>NULL</td></tr>\n"
            "</table>\n"
            "only showing top 2 rows\n")
    finally:
        spark.conf.unset("spark.sql.repl.eagerEval.enabled")
        spark.conf.unset("spark.sql.repl.eagerEval.maxNumRows")


# -- sampling --------------------------------------------------------------------------------------

def test_sample_with_a_seed_is_repeatable(spark):
    df = spark.range(1000)
    once = [r.id for r in df.sample(fraction=0.1, seed=42).collect()]
    again = [r.id for r in df.sample(fraction=0.1, seed=42).collect()]
    other = [r.id for r in df.sample(fraction=0.1, seed=43).collect()]
    assert sorted(once) == sorted(again) and sorted(once) != sorted(other)
    assert 50 < len(once) < 150
    doubled = df.sample(True, 2.0, seed=1).count()
    assert 1800 < doubled < 2200                     # with replacement: rows repeat, Poisson(2) times each


def test_random_split_partitions_the_rows(spark):
    df = spark.range(500).withColumn("v", F.col("id") % 7)
    a, b, c = df.randomSplit([0.2, 0.3, 0.5], seed=11)
    ids = [sorted(r.id for r in part.collect()) for part in (a, b, c)]
    assert sorted(ids[0] + ids[1] + ids[2]) == list(range(500))
    assert [sorted(r.id for r in part.collect()) for part in df.randomSplit([0.2, 0.3, 0.5], seed=11)] == ids
    assert 50 < len(ids[0]) < 150 and 175 < len(ids[2]) < 325


def test_sample_by_strata(spark):
    df = spark.range(3000).withColumn("k", F.col("id") % 3)
    got = df.sampleBy("k", fractions={0: 0.1, 1: 1.0}, seed=0)
    counts = dict(rows(got.groupBy("k").count()))
    assert set(counts) == {0, 1} and counts[1] == 1000 and 50 < counts[0] < 150
    assert sorted(rows(got)) == sorted(rows(df.sampleBy("k", fractions={0: 0.1, 1: 1.0}, seed=0)))


# -- tables, views, catalog ------------------------------------------------------------------------

def test_save_as_table_modes_and_insert_into(spark):
    df = spark.createDataFrame([(1, "a"), (2, "b")], ["id", "v"])
    df.write.saveAsTable("kept")
    try:
        with pytest.raises(AnalysisException, match="already exists"):
            df.write.saveAsTable("kept")
        df.write.mode("ignore").saveAsTable("kept")
        assert spark.table("kept").count() == 2
        df.write.mode("append").saveAsTable("kept")
        assert sorted(rows(spark.table("kept"))) == [(1, "a"), (1, "a"), (2, "b"), (2, "b")]
        df.filter("id = 1").write.mode("overwrite").saveAsTable("kept")
        assert rows(spark.table("kept")) == [(1, "a")]
        df.select(F.col("id") + 10, F.upper("v")).write.insertInto("kept")
        assert sorted(rows(spark.sql("SELECT * FROM kept"))) == [(1, "a"), (11, "A"), (12, "B")]
        df.write.insertInto("kept", overwrite=True)
        assert sorted(rows(spark.table("kept"))) == [(1, "a"), (2, "b")]
        with pytest.raises(AnalysisException, match="cannot be found"):
            df.write.insertInto("missing_table")
    finally:
        spark.catalog.dropTable("kept")
    assert not spark.catalog.tableExists("kept")


def test_write_to_v2(spark):
    df = spark.createDataFrame([(1, "a"), (2, "b")], ["id", "v"])
    df.writeTo("v2").create()
    try:
        with pytest.raises(AnalysisException, match="already exists"):
            df.writeTo("v2").create()
        df.select("v", "id").writeTo("v2").append()                 # by name
        assert sorted(rows(spark.table("v2"))) == [(1, "a"), (1, "a"), (2, "b"), (2, "b")]
        df.filter("id = 2").select("v").writeTo("v2").replace()     # a new table, its own columns
        assert spark.table("v2").columns == ["v"] and rows(spark.table("v2")) == [("b",)]
        df.writeTo("v2").createOrReplace()
        df.filter("id = 1").writeTo("v2").overwrite(F.lit(True))
        assert rows(spark.table("v2")) == [(1, "a")]
        df.writeTo("v2").overwritePartitions()
        assert sorted(rows(spark.table("v2"))) == [(1, "a"), (2, "b")]
        with pytest.raises(AnalysisException, match="cannot be found"):
            df.writeTo("v2_missing").append()
    finally:
        spark.catalog.dropTable("v2")


def test_catalog_calls(spark):
    df = spark.createDataFrame([(1, "a")], "id bigint, v string")
    df.createOrReplaceTempView("cat_view")
    df.write.saveAsTable("cat_table")
    try:
        assert spark.catalog.currentDatabase() == "default"
        assert spark.catalog.currentCatalog() == "spark_catalog"
        assert [d.name for d in spark.catalog.listDatabases()] == ["default"]
        tables = {t.name: t for t in spark.catalog.listTables(pattern="cat_*")}
        assert set(tables) == {"cat_view", "cat_table"}
        assert tables["cat_view"].isTemporary and tables["cat_view"].tableType == "TEMPORARY"
        assert not tables["cat_table"].isTemporary and tables["cat_table"].namespace == ["default"]
        assert "nation" in {t.name for t in spark.catalog.listTables()}      # the server's tables
        assert [(c.name, c.dataType) for c in spark.catalog.listColumns("cat_table")] == [
            ("id", "bigint"), ("v", "string")]
        assert spark.catalog.tableExists("cat_table") and spark.catalog.tableExists("default.cat_view")
        assert not spark.catalog.tableExists("nothing_here")
        assert spark.catalog.databaseExists("default") and not spark.catalog.databaseExists("other")
        assert spark.catalog.getTable("cat_table").tableType == "MANAGED"
        assert not spark.catalog.isCached("cat_table")
        spark.catalog.cacheTable("cat_table")
        assert spark.catalog.isCached("cat_table")
        assert rows(spark.table("cat_table")) == [(1, "a")]
        df.write.insertInto("cat_table")                       # a cached table keeps its new rows cached
        assert spark.catalog.isCached("cat_table") and rows(spark.table("cat_table")) == [(1, "a"), (1, "a")]
        spark.catalog.uncacheTable("cat_table")
        assert not spark.catalog.isCached("cat_table")
        spark.catalog.cacheTable("cat_table")
        spark.catalog.clearCache()
        assert not spark.catalog.isCached("cat_table")
        assert [f.name for f in spark.catalog.listFunctions(pattern="upp*|lower")] == ["lower", "upper"]
        assert spark.catalog.functionExists("upper") and not spark.catalog.functionExists("no_such_function")
        with pytest.raises(AnalysisException, match="cannot be found"):
            spark.catalog.getFunction("no_such_function")
        spark.catalog.truncateTable("cat_table")
        assert spark.table("cat_table").count() == 0 and spark.table("cat_table").columns == ["id", "v"]
        assert spark.catalog.dropTempView("cat_view") is True
        assert spark.catalog.dropTempView("cat_view") is False
    finally:
        spark.catalog.dropTable("cat_table")


def test_global_temp_view(spark, spark_server):
    from pyspark.sql import SparkSession
    df = spark.createDataFrame([(1,), (2,)], "x int")
    df.createGlobalTempView("shared")
    try:
        with pytest.raises(AnalysisException, match="already exists"):
            df.createGlobalTempView("shared")
        other = SparkSession.builder.remote(spark_server.url).create()   # another session sees it
        try:
            assert rows(other.table("global_temp.shared").orderBy("x")) == [(1,), (2,)]
        finally:
            other.stop()
        assert [t.name for t in spark.catalog.listTables("global_temp")] == ["shared"]
        assert rows(spark.sql("SELECT a.x FROM global_temp.shared a JOIN global_temp.shared b ON a.x = b.x "
                              "WHERE a.x > 1")) == [(2,)]
    finally:
        assert spark.catalog.dropGlobalTempView("shared") is True
    assert spark.catalog.dropGlobalTempView("shared") is False


def test_create_external_table_over_parquet_and_refresh(spark, tmp_path, duckdb_con):
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder = tmp_path / "ext"
    folder.mkdir()
    pq.write_table(pa.table({"n": [1, 2]}), folder / "a.parquet")
    spark.catalog.createTable("ext_t", path=str(folder))
    try:
        assert spark.catalog.getTable("ext_t").tableType == "EXTERNAL"
        pq.write_table(pa.table({"n": [3]}), folder / "b.parquet")       # seen after a refresh, as in Spark
        spark.catalog.refreshTable("ext_t")
        expected = duckdb_con.sql(f"SELECT sum(n)::BIGINT FROM read_parquet('{folder}/*.parquet')").fetchall()[0][0]
        assert spark.table("ext_t").agg(F.sum("n")).collect()[0][0] == expected == 6
    finally:
        spark.catalog.dropTable("ext_t")


def test_create_table_over_files(spark, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    df = spark.catalog.createTable("from_csv", path=str(path), source="csv", header="true", inferSchema="true")
    try:
        assert rows(df.orderBy("a")) == [(1, "x"), (2, "y")]
        assert spark.catalog.tableExists("from_csv")
        from pyspark.sql.types import LongType, StringType, StructField, StructType
        empty = spark.catalog.createTable("empty_t", schema=StructType([StructField("n", LongType()),
                                                                       StructField("s", StringType())]))
        assert empty.columns == ["n", "s"] and empty.count() == 0
        spark.createDataFrame([(5, "e")], "n bigint, s string").write.insertInto("empty_t")
        assert rows(spark.table("empty_t")) == [(5, "e")]
    finally:
        spark.catalog.dropTable("from_csv")
        if spark.catalog.tableExists("empty_t"):
            spark.catalog.dropTable("empty_t")


def test_persist_storage_level_and_api_odds_and_ends(spark):
    df = spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], ["id", "v"])
    df.persist()
    assert df.is_cached and df.storageLevel.useMemory
    df.unpersist()
    assert not df.is_cached
    assert [tuple(r) for r in df.orderBy("id").tail(1)] == [(3, "c")]
    assert rows(df.orderBy("id").offset(2)) == [(3, "c")]
    assert df.hint("broadcast").repartition(3).coalesce(1).repartition(2, "id").count() == 3
    assert df.toDF("x", "y").columns == ["x", "y"]
    assert df.transform(lambda d, k: d.filter(d.id > k), 1).count() == 2
    assert df.select(df.colRegex("`(i|v)d?`")).columns == ["id", "v"]
    assert df.select(df.colRegex("`V`")).columns == ["v"]          # case-insensitive, as in Spark


def test_checkpoint_and_local_checkpoint(spark, duckdb_con):
    df = spark.range(10).withColumn("sq", F.col("id") * F.col("id"))
    local = df.localCheckpoint()
    kept = df.checkpoint()
    expected = duckdb_con.sql("SELECT i, i * i FROM range(10) t(i) WHERE i > 6 ORDER BY i").fetchall()
    assert rows(local.filter("id > 6").orderBy("id")) == expected
    assert rows(kept.filter(F.col("id") > 6).orderBy("id")) == expected


def test_to_schema_reorders_casts_and_projects(spark):
    from pyspark.sql.types import DoubleType, IntegerType, LongType, StringType, StructField, StructType
    df = spark.createDataFrame([(1, "a", 2.5)], ["i", "j", "k"])
    out = df.to(StructType([StructField("J", StringType()), StructField("i", IntegerType())]))
    assert out.schema == StructType([StructField("J", StringType()), StructField("i", IntegerType())])
    assert rows(out) == [("a", 1)]
    with pytest.raises(AnalysisException, match="not a column"):
        df.to(StructType([StructField("zz", StringType())])).collect()
    with pytest.raises(AnalysisException, match="cannot become"):
        df.to(StructType([StructField("j", LongType()), StructField("k", DoubleType())])).collect()


def test_transpose_docstring_example(spark, capsys):
    df = spark.createDataFrame([("B", 3, 4), ("A", 1, 2)], ["id", "val1", "val2"])
    df.transpose().show()
    df.transpose(df.id).show()
    table = """+----+---+---+
| key|  A|  B|
+----+---+---+
|val1|  1|  3|
|val2|  2|  4|
+----+---+---+

"""
    assert capsys.readouterr().out == table + table
    mixed = spark.createDataFrame([(2, 1.5, 3)], ["n", "x", "y"]).transpose()
    assert rows(mixed) == [("x", 1.5), ("y", 3.0)] and mixed.columns == ["key", "2"]


def test_with_metadata_reaches_the_schema(spark):
    df = spark.createDataFrame([(1, "a")], ["id", "v"])
    tagged = df.withMetadata("id", {"comment": "key"})
    assert tagged.schema["id"].metadata == {"comment": "key"} and tagged.schema["v"].metadata == {}
    later = tagged.filter("id > 0").select("id", F.col("v").alias("w", metadata={"x": 1})).withColumnRenamed("id", "k")
    assert [f.metadata for f in later.schema.fields] == [{"comment": "key"}, {"x": 1}]
    assert tagged.select((F.col("id") + 1).alias("id")).schema["id"].metadata == {}    # computed anew: none
    assert rows(later) == [(1, "a")]


def test_quarry_spark_session_stays_a_function_after_a_server_starts(spark_server):
    import quarry.spark
    # the service's import of the submodule quarry.spark.session must not shadow the function
    assert callable(quarry.spark.session) and quarry.spark.session.__module__ == "quarry.spark"


def test_repartition_before_a_write_makes_that_many_files(spark, tmp_path, duckdb_con):
    import pyarrow.parquet as pq
    df = spark.range(100).withColumn("k", F.col("id") % 7)
    df.repartition(3).write.parquet(str(tmp_path / "three"))
    files = sorted(p.name for p in (tmp_path / "three").iterdir() if p.name.startswith("part-"))
    assert [f[:10] for f in files] == ["part-00000", "part-00001", "part-00002"]
    assert sorted(r.id for r in spark.read.parquet(str(tmp_path / "three")).collect()) == list(range(100))
    df.coalesce(1).write.csv(str(tmp_path / "one"))
    assert len([p for p in (tmp_path / "one").iterdir() if p.name.startswith("part-")]) == 1
    df.repartition(2, "k").write.parquet(str(tmp_path / "bykey"))
    keys = [set(pq.read_table(p).column("k").to_pylist()) for p in sorted((tmp_path / "bykey").iterdir())
            if p.name.startswith("part-")]
    assert len(keys) == 2 and not keys[0] & keys[1] and keys[0] | keys[1] == set(range(7))
    expected = duckdb_con.sql(f"SELECT count(*), sum(id) FROM read_parquet('{tmp_path / 'bykey'}/*.parquet')").fetchall()
    assert expected == [(100, sum(range(100)))]


def test_csv_writes_quote_as_spark(spark, tmp_path):
    # Spark's CSV writer (univocity with Spark's write defaults): the header and values unquoted unless
    # they need it (the delimiter, a quote, a line break, or an empty string, which is "" while NULL is
    # nothing), a quote inside quotes escaped with a backslash (and a backslash doubled there), leading
    # and trailing spaces dropped (ignoreLeadingWhiteSpace/ignoreTrailingWhiteSpace are true on write)
    rows = [("plain", 'q"x', "a,b", "", None, " pad ", "back\\slash", "line\nbreak", 'x\\"y', 7)]
    df = spark.createDataFrame(rows, "s string, q string, c string, e string, n string, w string, b string, "
                                     "l string, m string, i int")
    df.coalesce(1).write.option("header", True).csv(str(tmp_path / "q"))
    [part] = [p for p in (tmp_path / "q").iterdir() if p.name.startswith("part-")]
    assert part.read_text() == ('s,q,c,e,n,w,b,l,m,i\n'
                                'plain,"q\\"x","a,b","",,pad,back\\slash,"line\nbreak","x\\\\\\"y",7\n')
    df.select("s", "c").write.option("sep", ";").csv(str(tmp_path / "semi"))
    [part] = [p for p in (tmp_path / "semi").iterdir() if p.name.startswith("part-")]
    assert part.read_text() == "plain;a,b\n"
    # doubles as Java's Double.toString (UnivocityGenerator writes getDouble(i).toString)
    nums = spark.createDataFrame([(1.0, 1e10, 0.5, None)], "a double, b double, c float, d double")
    nums.write.csv(str(tmp_path / "nums"))
    [part] = [p for p in (tmp_path / "nums").iterdir() if p.name.startswith("part-")]
    assert part.read_text() == "1.0,1.0E10,0.5,\n"


def test_json_writes_as_spark(spark, tmp_path):
    # Spark's JSON writer (JacksonGenerator with ignoreNullFields=true): NULL fields left out (an all-NULL
    # row is {}), inside arrays a NULL is null; doubles as Java's toString, NaN quoted; strings escaped as
    # Jackson escapes them (control characters \u00XX, uppercase); dates and timestamps as strings in
    # the default dateFormat / timestampFormat; decimals as BigDecimal's text
    import datetime
    import decimal
    rows = [(1, 'a"b\\c\nd\x01', None, 1.0, 1e10, float("nan"), datetime.date(2024, 1, 2),
             datetime.datetime(2024, 1, 2, 3, 4, 5, 120000), True, decimal.Decimal("1.50"), [1, None, 3],
             {"k": 1}, (1, None)),
            (None,) * 13]
    df = spark.createDataFrame(rows, "i int, s string, n string, d double, big double, nan double, dt date, "
                                     "ts timestamp, b boolean, dec decimal(5,2), arr array<int>, "
                                     "m map<string,int>, st struct<x:int,y:string>")
    df.coalesce(1).write.json(str(tmp_path / "j"))
    [part] = [p for p in (tmp_path / "j").iterdir() if p.name.startswith("part-")]
    assert part.read_text() == (
        '{"i":1,"s":"a\\"b\\\\c\\nd\\u0001","d":1.0,"big":1.0E10,"nan":"NaN","dt":"2024-01-02",'
        '"ts":"2024-01-02T03:04:05.120Z","b":true,"dec":1.50,"arr":[1,null,3],"m":{"k":1},"st":{"x":1}}\n'
        '{}\n')
    back = spark.read.json(str(tmp_path / "j"))
    assert back.count() == 2 and "n" not in back.columns      # a field never written is not read back


def test_csv_writes_timestamps_in_spark_s_format(spark, tmp_path):
    # Spark's CSV timestampFormat default yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]: milliseconds (truncated) and the
    # session zone's offset at that instant, Z for UTC
    import datetime
    t = datetime.datetime
    df = spark.createDataFrame([(t(2024, 1, 2, 3, 4, 5, 120999), 1), (t(2024, 7, 1, 12, 0), 2), (None, 3)],
                               "ts timestamp, i int")
    df.coalesce(1).write.csv(str(tmp_path / "utc"))
    [part] = [p for p in (tmp_path / "utc").iterdir() if p.name.startswith("part-")]
    assert part.read_text() == "2024-01-02T03:04:05.120Z,1\n2024-07-01T12:00:00.000Z,2\n,3\n"
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        # the instants 2024-01-02 03:04:05Z and 2024-07-01 12:00Z in New York: EST (-05:00), then EDT (-04:00)
        df.where("i < 3").coalesce(1).write.csv(str(tmp_path / "ny"))
        [part] = [p for p in (tmp_path / "ny").iterdir() if p.name.startswith("part-")]
        assert part.read_text() == "2024-01-01T22:04:05.120-05:00,1\n2024-07-01T08:00:00.000-04:00,2\n"
    finally:
        spark.conf.unset("spark.sql.session.timeZone")


def test_show_and_html_escape_control_characters_as_spark(spark, capsys):
    # Spark's getRows escapes meta characters (SchemaUtils.escapeMetaCharacters) before truncating
    df = spark.createDataFrame([("a\nb", "t\tab")], ["x", "y\nz"])
    df.show()
    assert capsys.readouterr().out == """+----+-----+
|   x| y\\nz|
+----+-----+
|a\\nb|t\\tab|
+----+-----+

"""
    spark.conf.set("spark.sql.repl.eagerEval.enabled", True)
    try:
        assert "<tr><td>a\\nb</td><td>t\\tab</td></tr>" in df._repr_html_()
    finally:
        spark.conf.unset("spark.sql.repl.eagerEval.enabled")


def test_a_cross_join_on_columns_is_an_inner_join_on_them(spark):
    # Spark's UsingJoin takes Cross as Inner: df.join(other, "id", "cross")
    a = spark.createDataFrame([(1, "x"), (2, "y")], "id int, v string")
    b = spark.createDataFrame([(1, "p"), (3, "q")], "id int, w string")
    assert [tuple(r) for r in a.join(b, "id", "cross").collect()] == [(1, "x", "p")]
    assert [tuple(r) for r in a.join(b, ["id"], "cross").collect()] == [(1, "x", "p")]


def test_foreach_and_foreach_partition_call_the_function_on_every_row(spark, tmp_path):
    # the client runs foreach as a UDF returning an empty struct, which the schema must be able to say
    import os
    out = str(tmp_path)

    def touch(row):
        open(os.path.join(out, f"row-{row.id}"), "w").close()

    def touch_all(rows):
        for row in rows:
            open(os.path.join(out, f"part-{row.id}"), "w").close()
    df = spark.range(4)
    df.foreach(touch)
    df.foreachPartition(touch_all)
    assert sorted(os.listdir(out)) == [f"part-{i}" for i in range(4)] + [f"row-{i}" for i in range(4)]


def test_is_empty_and_a_select_of_no_columns(spark, tmp_path):
    # the client's isEmpty() is len(df.select().take(1)) == 0: rows without columns
    df = spark.range(5)
    assert df.isEmpty() is False
    assert df.filter("id > 10").isEmpty() is True
    assert df.select().collect() == [Row()] * 5
    assert df.select().count() == 5
    # Spark's showString of no columns: the separators and one empty cell row per row
    assert df.select()._show_string() == "++\n||\n++\n" + "||\n" * 5 + "++\n"
    path = str(tmp_path / "ids")
    df.write.parquet(path)
    assert spark.read.parquet(path).isEmpty() is False
    assert spark.read.parquet(path).filter("id > 3").select().count() == 1


def test_show_tables_use_and_cache_table_statements(spark):
    # Spark's SHOW TABLES rows: namespace ('' for a temporary view), tableName, isTemporary
    spark.range(3).write.mode("overwrite").saveAsTable("shown_t")
    spark.range(2).createOrReplaceTempView("shown_v")
    try:
        rows = {tuple(r) for r in spark.sql("SHOW TABLES").collect()}
        assert {("default", "shown_t", False), ("", "shown_v", True)} <= rows
        assert [tuple(r) for r in spark.sql("SHOW TABLES IN default LIKE 'shown_t*'").collect()] == \
            [("default", "shown_t", False)]
        assert spark.sql("SHOW TABLES").columns == ["namespace", "tableName", "isTemporary"]
        assert spark.sql("USE default").collect() == []
        with pytest.raises(PySparkException, match="current database other than"):
            spark.sql("USE elsewhere").collect()
        spark.sql("CACHE TABLE shown_t").collect()
        assert spark.catalog.isCached("shown_t")
        spark.sql("UNCACHE TABLE shown_t").collect()
        assert not spark.catalog.isCached("shown_t")
        assert spark.sql("UNCACHE TABLE IF EXISTS never_made").collect() == []
        with pytest.raises(PySparkException, match="Not supported: SHOW PARTITIONS"):
            spark.sql("SHOW PARTITIONS shown_t").collect()
    finally:
        spark.catalog.dropTempView("shown_v")


def test_show_databases_and_columns(spark):
    # Spark: SHOW DATABASES / SCHEMAS / NAMESPACES is one column `namespace` (global_temp is not listed),
    # the pattern with or without LIKE; SHOW COLUMNS is one column `col_name`, in the table's order
    for word in ("DATABASES", "SCHEMAS", "NAMESPACES"):
        df = spark.sql(f"SHOW {word}")
        assert df.columns == ["namespace"]
        assert [tuple(r) for r in df.collect()] == [("default",)]
    assert [tuple(r) for r in spark.sql("SHOW DATABASES LIKE 'def*'").collect()] == [("default",)]
    assert spark.sql("SHOW SCHEMAS 'other*'").collect() == []
    assert [tuple(r) for r in spark.sql("SHOW NAMESPACES IN spark_catalog").collect()] == [("default",)]
    spark.createDataFrame([(1, "a", 2.0)], "id int, v string, w double").write.mode("overwrite") \
        .saveAsTable("shown_cols")
    spark.createDataFrame([(1, "a")], "k int, name string").createOrReplaceTempView("shown_cols_v")
    try:
        for q in ("SHOW COLUMNS IN shown_cols", "SHOW COLUMNS FROM shown_cols IN default",
                  "SHOW COLUMNS IN default.shown_cols"):
            df = spark.sql(q)
            assert df.columns == ["col_name"]
            assert [tuple(r) for r in df.collect()] == [("id",), ("v",), ("w",)]
        assert [r.col_name for r in spark.sql("SHOW COLUMNS IN shown_cols_v").collect()] == ["k", "name"]
        with pytest.raises(AnalysisException):
            spark.sql("SHOW COLUMNS IN never_made").collect()
    finally:
        spark.catalog.dropTempView("shown_cols_v")
        spark.catalog.dropTable("shown_cols")


def test_describe_lists_columns_with_spark_s_type_names(spark):
    import decimal
    spark.createDataFrame([(1, "x", decimal.Decimal("2.5"), [1])],
                          "id bigint, s string, d decimal(10,2), a array<int>").write.mode("overwrite") \
        .saveAsTable("described")
    want = [("id", "bigint", None), ("s", "string", None), ("d", "decimal(10,2)", None), ("a", "array<int>", None)]
    assert [tuple(r) for r in spark.sql("DESCRIBE described").collect()] == want
    assert [tuple(r) for r in spark.sql("DESC TABLE described").collect()] == want
    assert [tuple(r) for r in spark.sql("DESCRIBE SELECT s, id + 1 AS n FROM described").collect()] == \
        [("s", "string", None), ("n", "bigint", None)]
    assert spark.sql("DESCRIBE described").columns == ["col_name", "data_type", "comment"]
    # EXTENDED / FORMATTED: the columns, an empty row, then '# Detailed Table Information' and the table's
    # details (Spark's DescribeTableCommand; comment '' on those rows)
    # (CatalogTable.toLinkedHashMap: Owner, Created Time as java.util.Date prints it, Last Access UNKNOWN for a
    # table never accessed, Created By "Spark <version>", between Table and Type)
    details = [("", "", ""), ("# Detailed Table Information", "", ""), ("Catalog", "spark_catalog", ""),
               ("Database", "default", ""), ("Table", "described", "")]
    import pyspark
    for q in ("DESCRIBE EXTENDED described", "DESCRIBE TABLE EXTENDED described", "DESC FORMATTED described"):
        rows = [tuple(r) for r in spark.sql(q).collect()]
        assert rows[:len(want) + 5] == want + details
        assert [r[0] for r in rows[len(want) + 5:]] == ["Owner", "Created Time", "Last Access", "Created By", "Type"]
        assert rows[-3:] == [("Last Access", "UNKNOWN", ""), ("Created By", f"Spark {pyspark.__version__}", ""),
                             ("Type", "MANAGED", "")]
    # of a temp view, Spark lists only the columns
    spark.createDataFrame([(1, "x")], "k int, v string").createOrReplaceTempView("described_v")
    try:
        assert [tuple(r) for r in spark.sql("DESCRIBE EXTENDED described_v").collect()] == \
            [("k", "int", None), ("v", "string", None)]
    finally:
        spark.catalog.dropTempView("described_v")
    with pytest.raises(PySparkException, match="Not supported: DESCRIBE ... AS JSON"):
        spark.sql("DESCRIBE EXTENDED described AS JSON").collect()


def test_describe_extended_gives_owner_and_creation_time_of_tables_the_session_made(spark_server):
    import time
    from pyspark.sql import SparkSession
    alice = SparkSession.builder.remote(spark_server.url + "/;user_id=alice").create()
    try:
        before = time.time()
        alice.createDataFrame([(1,)], "k int").write.saveAsTable("owned")
        alice.sql("CREATE TABLE owned_sql (a INT)")
        alice.createDataFrame([(1,)], "k int").writeTo("owned_v2").create()
        from pyspark.sql.types import IntegerType, StructField, StructType
        alice.catalog.createTable("owned_cat", schema=StructType([StructField("a", IntegerType())]))
        after = time.time()
        for table in ("owned", "owned_sql", "owned_v2", "owned_cat"):
            rows = {r.col_name: r.data_type for r in alice.sql(f"DESCRIBE EXTENDED {table}").collect()}
            assert rows["Owner"] == "alice"
            # java.util.Date.toString: EEE MMM dd HH:mm:ss zzz yyyy, in the session zone (UTC by default)
            created = datetime.datetime.strptime(rows["Created Time"], "%a %b %d %H:%M:%S UTC %Y")
            created = created.replace(tzinfo=datetime.timezone.utc).timestamp()
            assert int(before) <= created <= after
        # appending keeps the table's creation; overwriting makes a new table
        first = {r.col_name: r.data_type for r in alice.sql("DESCRIBE EXTENDED owned").collect()}["Created Time"]
        time.sleep(1.1)
        alice.createDataFrame([(2,)], "k int").write.mode("append").saveAsTable("owned")
        assert {r.col_name: r.data_type for r in alice.sql("DESCRIBE EXTENDED owned").collect()}["Created Time"] \
            == first
        alice.createDataFrame([(2,)], "k int").write.mode("overwrite").saveAsTable("owned")
        assert {r.col_name: r.data_type for r in alice.sql("DESCRIBE EXTENDED owned").collect()}["Created Time"] \
            != first
    finally:
        alice.stop()


def test_describe_extended_of_an_external_table_names_its_files(spark, tmp_path):
    path = tmp_path / "ext"
    spark.range(2).write.parquet(str(path))
    spark.catalog.createTable("described_ext", path=str(path))
    try:
        rows = {r.col_name: r.data_type for r in spark.sql("DESCRIBE EXTENDED described_ext").collect()}
        assert rows["Type"] == "EXTERNAL"
        assert rows["Provider"] == "parquet"
        assert rows["Location"] == "file:" + str(path)
    finally:
        spark.catalog.dropTable("described_ext")


def test_map_values_have_no_equality(spark):
    # Spark refuses to compare, deduplicate or set-operate on MAP values (its maps have no equality)
    df = spark.createDataFrame([(1, {"k": 1})], "id int, m map<string,int>")
    with pytest.raises(AnalysisException) as err:
        df.select(F.col("m") == F.col("m")).collect()
    assert err.value.getCondition() == "DATATYPE_MISMATCH.INVALID_ORDERING_TYPE"
    for refused in (df.distinct(), df.dropDuplicates(["m"]), df.union(df).distinct(), df.intersect(df),
                    df.exceptAll(df), df.subtract(df)):
        with pytest.raises(AnalysisException) as err:
            refused.collect()
        assert err.value.getCondition() == "UNSUPPORTED_FEATURE.SET_OPERATION_ON_MAP_TYPE"
    assert df.dropDuplicates(["id"]).count() == 1          # keys without a map are fine
    assert df.unionAll(df).count() == 2


def _part(folder):
    [part] = [p for p in folder.iterdir() if p.name.startswith("part-")]
    return part


def test_csv_reads_back_what_spark_writes(spark, tmp_path):
    # Spark's reader (Univocity, escape '\\', quote '"'): inside quotes \" is a quote and \\ a backslash,
    # a backslash elsewhere is kept as it is (Windows paths, \\srv); a quoted empty string "" reads as
    # emptyValue, by default "", which is also the default nullValue, so NULL as Spark reads it
    rows = [("plain", 'q"x', "a,b", "", None, " pad ", "back\\slash", "line\nbreak", 'x\\"y', 7, "C:\\dir\\", "\\\\srv")]
    df = spark.createDataFrame(rows, "s string, q string, c string, e string, n string, w string, b string, "
                                     "l string, m string, i int, t string, u string")
    df.coalesce(1).write.option("header", True).csv(str(tmp_path / "q"))
    back = spark.read.option("header", True).option("multiLine", True).csv(str(tmp_path / "q")).collect()
    assert [tuple(r) for r in back] == [("plain", 'q"x', "a,b", None, None, "pad", "back\\slash", "line\nbreak",
                                         'x\\"y', "7", "C:\\dir\\", "\\\\srv")]
    typed = spark.read.csv(str(tmp_path / "q"), header=True, multiLine=True, inferSchema=True)
    assert dict(typed.dtypes)["i"] == "int"          # Spark infers int for integers that fit


def test_csv_read_options(spark, tmp_path):
    src = tmp_path / "o.csv"
    src.write_text('a;b\n NA ;""\n"NA";\nv;w\\x\n')
    # nullValue matches quoted and unquoted fields; an unquoted empty field is NULL, a quoted one emptyValue
    rows = spark.read.csv(str(src), sep=";", header=True, nullValue="NA", emptyValue="E").collect()
    assert [tuple(r) for r in rows] == [(" NA ", "E"), (None, None), ("v", "w\\x")]
    rows = spark.read.csv(str(src), sep=";", header=True, nullValue="NA", ignoreLeadingWhiteSpace=True,
                          ignoreTrailingWhiteSpace=True).collect()
    assert [tuple(r) for r in rows] == [(None, ""), (None, None), ("v", "w\\x")]
    # another quote and escape character; escape equal to the quote is RFC 4180's doubled quote
    src.write_text("k|v\n1|'it''s'\n2|'a|b'\n")
    rows = spark.read.option("delimiter", "|").option("quote", "'").option("escape", "'").csv(str(src), header=True)
    assert [tuple(r) for r in rows.collect()] == [("1", "it's"), ("2", "a|b")]
    src.write_text('x,"y\n')
    assert [tuple(r) for r in spark.read.csv(str(src), quote="").collect()] == [("x", '"y')]
    from pyspark.errors import UnsupportedOperationException
    for name, value in [("locale", "fr-FR"), ("samplingRatio", "0.5"), ("maxColumns", "3")]:
        with pytest.raises(UnsupportedOperationException, match=f"Not supported: the csv option `{name.lower()}`"):
            spark.read.option(name, value).csv(str(src)).collect()
    src.write_text("a,b\n1,2,3\n")
    with pytest.raises(PySparkException) as err:
        spark.read.csv(str(src), header=True, mode="FAILFAST").collect()
    assert err.value.getCondition() == "MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION"
    with pytest.raises(PySparkException):
        spark.read.csv(str(src), mode="SOMETIMES").collect()


def test_csv_parse_modes(spark, tmp_path):
    # Spark's CSV data source, option `mode`: PERMISSIVE (the default) sets the fields that do not parse to
    # NULL, a record with too few fields gets NULLs for the rest and one with too many has the extra ones
    # dropped, and the malformed record's text goes to the schema's `columnNameOfCorruptRecord` column
    # (`_corrupt_record` by default); DROPMALFORMED drops malformed records; FAILFAST raises
    src = tmp_path / "m.csv"
    src.write_text("a,b,c\n1,2,3\n4,5\nx,7,8\n9,10,11,12\n")
    schema = "a int, b int, c int, _corrupt_record string"
    rows = spark.read.csv(str(src), header=True, schema=schema).collect()
    assert [tuple(r) for r in rows] == [(1, 2, 3, None), (4, 5, None, "4,5"), (None, 7, 8, "x,7,8"),
                                        (9, 10, 11, "9,10,11,12")]
    assert [tuple(r) for r in spark.read.csv(str(src), header=True, schema="a int, b int, c int").collect()] == \
        [(1, 2, 3), (4, 5, None), (None, 7, 8), (9, 10, 11)]
    assert [tuple(r) for r in spark.read.csv(str(src), header=True, schema=schema, mode="DROPMALFORMED").collect()] \
        == [(1, 2, 3, None)]
    # without a schema every value parses as a string; only the field counts can be wrong
    assert [tuple(r) for r in spark.read.csv(str(src), header=True, mode="DROPMALFORMED").collect()] == \
        [("1", "2", "3"), ("x", "7", "8")]
    assert [tuple(r) for r in spark.read.csv(str(src), header=True, inferSchema=True, mode="DROPMALFORMED")
            .collect()] == [("1", 2, 3), ("x", 7, 8)]
    with pytest.raises(PySparkException, match="4,5"):
        spark.read.csv(str(src), header=True, schema=schema, mode="FAILFAST").collect()
    # another corrupt record column; the column may stand anywhere in the schema
    rows = spark.read.csv(str(src), header=True, schema="bad string, a int, b int, c int",
                          columnNameOfCorruptRecord="bad").collect()
    assert [r.bad for r in rows] == [None, "4,5", "x,7,8", "9,10,11,12"]
    with pytest.raises(PySparkException, match="string type and nullable"):
        spark.read.csv(str(src), header=True, schema="a int, _corrupt_record int").collect()


def test_csv_values_that_do_not_parse_are_null_in_permissive_mode(spark, tmp_path):
    # Spark parses an int with Integer.parseInt (no spaces, no fraction, in range), a boolean as
    # true/false in any case, a double with parseDouble or nanValue/positiveInf/negativeInf (NaN, Inf,
    # -Inf), a decimal that must fit its precision; the record's text, quotes and escapes as in the file
    src = tmp_path / "v.csv"
    src.write_text('i,f,b,d\n 1,1.5,TRUE,1.25\n1.0,NaN,yes,123456\n2147483648,-Inf,false,x\n+7,1e3,False,-0.5\n'
                   '"8",2,"q\\"z",1\n')
    rows = spark.read.csv(str(src), header=True,
                          schema="i int, f double, b boolean, d decimal(5,2), _corrupt_record string").collect()
    import decimal
    import math
    assert [(r.i, r.b, r.d, r._corrupt_record) for r in rows] == [
        (None, True, decimal.Decimal("1.25"), " 1,1.5,TRUE,1.25"),
        (None, None, None, "1.0,NaN,yes,123456"),
        (None, False, None, "2147483648,-Inf,false,x"),
        (7, False, decimal.Decimal("-0.50"), None),
        (8, None, decimal.Decimal("1.00"), '"8",2,"q\\"z",1')]
    assert math.isnan(rows[1].f) and rows[2].f == -math.inf and rows[3].f == 1000.0
    assert spark.read.csv(str(src), header=True, schema="i int, f double, b boolean, d decimal(5,2)",
                          mode="DROPMALFORMED").count() == 1
    # without a dateFormat/timestampFormat Spark falls back to its cast's parser: a timestamp with Z or an
    # offset is that instant (in the session zone, UTC here), a date the text before a T or a space; so
    # timestamps Spark's writer wrote (2024-01-02T03:04:05.120Z) read back
    src.write_text("t,d\n2024-01-02T03:04:05.120Z,2024-01-02 10:00:00\n2024-01-02T03:04:05+01:00,2024-01-03\n"
                   "2024-01-02 03:04:05,2024-02-30\n")
    rows = spark.read.csv(str(src), header=True, schema="t timestamp, d date").collect()
    assert [tuple(r) for r in rows] == [
        (datetime.datetime(2024, 1, 2, 3, 4, 5, 120000), datetime.date(2024, 1, 2)),
        (datetime.datetime(2024, 1, 2, 2, 4, 5), datetime.date(2024, 1, 3)),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), None)]
    times = spark.createDataFrame([(datetime.datetime(2024, 5, 6, 7, 8, 9, 500000),)], "t timestamp")
    times.write.csv(str(tmp_path / "times"))
    assert spark.read.csv(str(tmp_path / "times"), schema="t timestamp").collect()[0].t == \
        datetime.datetime(2024, 5, 6, 7, 8, 9, 500000)
    # nanValue, positiveInf, negativeInf: the words a double column reads as NaN and the infinities
    src.write_text("v\nnope\nbig\n-big\nNaN\n2.5\n")
    rows = spark.read.csv(str(src), header=True, schema="v double", nanValue="nope", positiveInf="big",
                          negativeInf="-big").collect()
    assert math.isnan(rows[0].v) and rows[1].v == math.inf and rows[2].v == -math.inf
    assert math.isnan(rows[3].v) and rows[4].v == 2.5          # Java's Double.parseDouble reads NaN too
    # a quoted value over two lines (multiLine) is one record
    src.write_text('a,b\n"x\ny",1\n5\n')
    rows = spark.read.csv(str(src), header=True, multiLine=True, schema="a string, b int, _corrupt_record string")
    assert [tuple(r) for r in rows.collect()] == [("x\ny", 1, None), ("5", None, "5")]


def test_csv_comment_line_sep_and_datetime_formats(spark, tmp_path):
    # comment: lines that start with the character are skipped; lineSep: the one character that ends
    # lines; dateFormat / timestampFormat: Spark's datetime patterns for date and timestamp columns
    src = tmp_path / "c.csv"
    src.write_text("# a comment\nk;d;t\n1;02/03/2024;02/03/2024 10:11:12\n#x;y\n2;bad;2024-01-01\n")
    rows = spark.read.csv(str(src), sep=";", header=True, comment="#", dateFormat="dd/MM/yyyy",
                          timestampFormat="dd/MM/yyyy HH:mm:ss",
                          schema="k int, d date, t timestamp, _corrupt_record string").collect()
    assert [tuple(r) for r in rows] == [
        (1, datetime.date(2024, 3, 2), datetime.datetime(2024, 3, 2, 10, 11, 12), None),
        (2, None, None, "2;bad;2024-01-01")]
    assert [tuple(r) for r in spark.read.csv(str(src), sep=";", comment="#").collect()][0] == ("k", "d", "t")
    src.write_text("1,2024-01-05|2,2024-02-30|3,2024-13-01|")
    rows = spark.read.csv(str(src), lineSep="|", schema="k int, d date", dateFormat="yyyy-MM-dd").collect()
    assert [tuple(r) for r in rows] == [(1, datetime.date(2024, 1, 5)), (2, None), (3, None)]
    from pyspark.errors import UnsupportedOperationException
    with pytest.raises(UnsupportedOperationException, match="Not supported: the datetime pattern `ww`"):
        spark.read.csv(str(src), lineSep="|", schema="k int, d date", dateFormat="yyyy-ww").collect()
    with pytest.raises(UnsupportedOperationException, match="Not supported: line breaks"):
        (tmp_path / "nl.csv").write_text("1|2\n3|")
        spark.read.csv(str(tmp_path / "nl.csv"), lineSep="|").collect()


def test_show_functions_describe_function(spark):
    # ShowFunctionsCommand: one column `function`, sorted; a registered Python function is a temporary
    # (unqualified) USER function; LIKE patterns take * and | and ignore case
    spark.udf.register("plus_one_sf", lambda x: x + 1, "int")
    rows = spark.sql("SHOW FUNCTIONS LIKE 'YEA*|months_b*'").collect()
    assert spark.sql("SHOW FUNCTIONS LIKE 'year'").columns == ["function"]
    assert [r.function for r in rows] == ["months_between", "year"]
    assert [r.function for r in spark.sql("SHOW USER FUNCTIONS").collect()] == ["plus_one_sf"]
    assert [r.function for r in spark.sql("SHOW FUNCTIONS 'plus_one*'").collect()] == ["plus_one_sf"]
    assert [r.function for r in spark.sql("SHOW SYSTEM FUNCTIONS LIKE 'plus_one*'").collect()] == []
    # Spark lists these operators too, besides its function registry
    assert {"!=", "<>", "between", "case", "||"} <= {r.function for r in spark.sql("SHOW SYSTEM FUNCTIONS").collect()}
    desc = spark.sql("DESCRIBE FUNCTION abs")
    assert desc.columns == ["function_desc"]
    assert desc.collect()[0].function_desc == "Function: abs"
    assert spark.sql("DESC FUNCTION PLUS_ONE_SF").collect()[0].function_desc == "Function: plus_one_sf"
    from pyspark.errors import AnalysisException, UnsupportedOperationException
    with pytest.raises(AnalysisException) as err:
        spark.sql("DESCRIBE FUNCTION no_such_fn").collect()
    assert err.value.getCondition() == "UNRESOLVED_ROUTINE"
    with pytest.raises(UnsupportedOperationException, match="Not supported: DESCRIBE FUNCTION EXTENDED"):
        spark.sql("DESCRIBE FUNCTION EXTENDED abs").collect()


def test_show_create_table(spark, tmp_path):
    # ShowCreateTableCommand of a data source table: "CREATE TABLE <qualified> (" then each column's
    # StructField.toDDL on its own line, "USING <provider>", and LOCATION for an external table only
    df = spark.createDataFrame([(1, "a", 2.5)], "id bigint, `my col` string, x double")
    df.write.parquet(str(tmp_path / "p"))
    spark.sql(f"CREATE TABLE sct_ext USING parquet LOCATION '{tmp_path / 'p'}'")
    df.write.saveAsTable("sct_kept")
    [row] = spark.sql("SHOW CREATE TABLE sct_ext").collect()
    assert row.createtab_stmt == ("CREATE TABLE spark_catalog.default.sct_ext (\n  id BIGINT,\n  `my col` STRING,\n"
                                  f"  x DOUBLE)\nUSING parquet\nLOCATION 'file:{tmp_path / 'p'}'\n")
    assert spark.sql("SHOW CREATE TABLE default.sct_kept").collect()[0][0] == (
        "CREATE TABLE spark_catalog.default.sct_kept (\n  id BIGINT,\n  `my col` STRING,\n  x DOUBLE)\nUSING parquet\n")
    df.createOrReplaceTempView("sct_view")
    from pyspark.errors import AnalysisException
    with pytest.raises(AnalysisException) as err:
        spark.sql("SHOW CREATE TABLE sct_view").collect()
    assert err.value.getCondition() == "UNSUPPORTED_SHOW_CREATE_TABLE.ON_TEMPORARY_VIEW"
    spark.catalog.dropTable("sct_ext")
    spark.catalog.dropTable("sct_kept")


def test_describe_a_column(spark):
    # DescribeColumnCommand: info_name/info_value rows col_name (the table's spelling), data_type
    # (catalogString), comment ("NULL" without one); EXTENDED adds the statistics rows, "NULL" unanalyzed
    spark.createDataFrame([(1, [1.5])], "Id int, xs array<double>").createOrReplaceTempView("dc_view")
    rows = spark.sql("DESCRIBE dc_view id").collect()
    assert spark.sql("DESCRIBE dc_view id").columns == ["info_name", "info_value"]
    assert [tuple(r) for r in rows] == [("col_name", "Id"), ("data_type", "int"), ("comment", "NULL")]
    rows = spark.sql("DESC TABLE EXTENDED dc_view xs").collect()
    assert [tuple(r) for r in rows] == [("col_name", "xs"), ("data_type", "array<double>"), ("comment", "NULL"),
                                        ("min", "NULL"), ("max", "NULL"), ("num_nulls", "NULL"),
                                        ("distinct_count", "NULL"), ("avg_col_len", "NULL"), ("max_col_len", "NULL"),
                                        ("histogram", "NULL")]
    from pyspark.errors import AnalysisException
    with pytest.raises(AnalysisException):
        spark.sql("DESCRIBE dc_view nope").collect()
    # DESCRIBE of the table itself keeps working
    assert [r.col_name for r in spark.sql("DESCRIBE TABLE dc_view").collect()] == ["Id", "xs"]


def test_table_valued_functions(spark):
    # Spark 4's spark.tvf: range is a Range; the generators are UnresolvedTableValuedFunction relations,
    # with the columns Spark's generators name (col; pos, col; key, value; the struct's fields; c0, c1, ...)
    from pyspark.sql import functions as F
    assert [tuple(r) for r in spark.tvf.range(1, 7, 2).collect()] == [(1,), (3,), (5,)]
    df = spark.tvf.explode(F.array(F.lit(1), F.lit(2), F.lit(3)))
    assert df.columns == ["col"] and [r.col for r in df.collect()] == [1, 2, 3]
    assert [tuple(r) for r in spark.tvf.posexplode(F.array(F.lit("a"), F.lit("b"))).collect()] == [(0, "a"), (1, "b")]
    assert spark.tvf.explode(F.create_map(F.lit("k"), F.lit(1))).columns == ["key", "value"]
    inline = spark.tvf.inline(F.array(F.struct(F.lit(1).alias("x"), F.lit("a").alias("y"))))
    assert [tuple(r) for r in inline.collect()] == [(1, "a")] and inline.columns == ["x", "y"]
    assert [tuple(r) for r in spark.tvf.explode_outer(F.array().cast("array<int>")).collect()] == [(None,)]
    assert [tuple(r) for r in spark.tvf.json_tuple(F.lit('{"a":1,"b":"x"}'), F.lit("a"), F.lit("b")).collect()] == \
        [("1", "x")]
    # stack(n, ...): n rows of the values, in columns col0, col1, ... (NULL after the last value)
    df = spark.tvf.stack(F.lit(2), F.lit(1), F.lit(2), F.lit(3))
    assert df.columns == ["col0", "col1"] and [tuple(r) for r in df.collect()] == [(1, 2), (3, None)]
    people = spark.createDataFrame([(1, "a", "b")], "k int, s string, t string")
    df = people.select("k", F.stack(F.lit(2), "s", "t").alias("v"))
    assert df.columns == ["k", "v"] and [tuple(r) for r in df.collect()] == [(1, "a"), (1, "b")]
    with pytest.raises(AnalysisException):            # a column's values of two types (STACK_COLUMN_DIFF_TYPES)
        people.select(F.stack(F.lit(2), "k", "s")).collect()
    with pytest.raises(AnalysisException):            # the number of rows is a constant
        people.select(F.stack("k", "s")).collect()


def test_table_functions_in_sql(spark):
    # Spark SQL's range(end) / range(start, end[, step[, numPartitions]]): a bigint column id; explode in FROM
    assert [r.id for r in spark.sql("SELECT * FROM range(3)").collect()] == [0, 1, 2]
    assert spark.sql("SELECT * FROM range(3)").dtypes == [("id", "bigint")]
    assert [r.id for r in spark.sql("SELECT * FROM range(5, 0, -2)").collect()] == [5, 3, 1]
    assert [r.d for r in spark.sql("SELECT id * 2 AS d FROM range(2, 10, 3, 4) WHERE id > 2").collect()] == [10, 16]
    assert [r.x for r in spark.sql("SELECT t.x FROM range(2) AS t(x)").collect()] == [0, 1]
    assert [tuple(r) for r in spark.sql("SELECT * FROM explode(array(1, 2))").collect()] == [(1,), (2,)]
    assert spark.sql("SELECT * FROM explode(array('a'))").columns == ["col"]
    assert [r.v for r in spark.sql("SELECT * FROM explode(array(1, 2)) AS t(v)").collect()] == [1, 2]
    # Spark's generator functions as table functions (examples of Spark's SQL function reference)
    df = spark.sql("SELECT * FROM posexplode(array(10, 20))")
    assert df.columns == ["pos", "col"] and [tuple(r) for r in df.collect()] == [(0, 10), (1, 20)]
    assert df.dtypes[0] == ("pos", "int")
    df = spark.sql("SELECT * FROM inline(array(struct(1, 'a'), struct(2, 'b')))")
    assert df.columns == ["col1", "col2"] and [tuple(r) for r in df.collect()] == [(1, "a"), (2, "b")]
    df = spark.sql("SELECT * FROM stack(2, 1, 2, 3)")
    assert df.columns == ["col0", "col1"] and [tuple(r) for r in df.collect()] == [(1, 2), (3, None)]
    assert [tuple(r) for r in spark.sql("SELECT a, b FROM stack(2, 'x', 1, 'y', 2) AS t(a, b)").collect()] == \
        [("x", 1), ("y", 2)]
    assert [tuple(r) for r in spark.sql("SELECT * FROM inline(array(struct(1, 'a'))) AS t(p, q)").collect()] == \
        [(1, "a")]


def test_generators_in_sql_select_lists_and_lateral_views(spark):
    spark.createDataFrame([(1, [10, 20], [(1, "a"), (2, "b")], "p", "q"), (2, [], [], "r", "s"),
                           (3, None, None, "t", "u")],
                          "k int, arr array<int>, st array<struct<x:int,y:string>>, s string, t string") \
        .createOrReplaceTempView("gens")
    try:
        # in a select list: the generator's columns in its place (col; pos, col; the struct's fields; col0, ...)
        df = spark.sql("SELECT k, posexplode(arr) FROM gens")
        assert df.columns == ["k", "pos", "col"]
        assert [tuple(r) for r in df.collect()] == [(1, 0, 10), (1, 1, 20)]
        assert spark.sql("SELECT k, explode(arr) FROM gens").columns == ["k", "col"]
        assert [tuple(r) for r in spark.sql("SELECT k, explode_outer(arr) FROM gens").collect()] == \
            [(1, 10), (1, 20), (2, None), (3, None)]
        assert [tuple(r) for r in spark.sql("SELECT k, posexplode_outer(arr) FROM gens").collect()] == \
            [(1, 0, 10), (1, 1, 20), (2, None, None), (3, None, None)]
        df = spark.sql("SELECT k, inline(st) FROM gens")
        assert df.columns == ["k", "x", "y"] and [tuple(r) for r in df.collect()] == [(1, 1, "a"), (1, 2, "b")]
        assert [tuple(r) for r in spark.sql("SELECT k, inline_outer(st) FROM gens WHERE k > 1").collect()] == \
            [(2, None, None), (3, None, None)]
        df = spark.sql("SELECT k, stack(2, s, t) AS v FROM gens WHERE k = 1")
        assert df.columns == ["k", "v"] and [tuple(r) for r in df.collect()] == [(1, "p"), (1, "q")]
        assert spark.sql("SELECT posexplode(arr) AS (i, e) FROM gens").columns == ["i", "e"]
        assert [tuple(r) for r in spark.sql("SELECT inline(st) AS (p, q) FROM gens").collect()] == [(1, "a"), (2, "b")]
        with pytest.raises(AnalysisException):
            spark.sql("SELECT explode(arr), explode(arr) FROM gens").collect()
        # LATERAL VIEW [OUTER] gen(...) t AS names: a row per generated row, joined to its input row
        df = spark.sql("SELECT k, p, v FROM gens LATERAL VIEW posexplode(arr) t AS p, v")
        assert [tuple(r) for r in df.collect()] == [(1, 0, 10), (1, 1, 20)]
        df = spark.sql("SELECT k, v FROM gens LATERAL VIEW OUTER explode(arr) t AS v")
        assert [tuple(r) for r in df.collect()] == [(1, 10), (1, 20), (2, None), (3, None)]
        df = spark.sql("SELECT k, a, b FROM gens LATERAL VIEW inline(st) t AS a, b")
        assert [tuple(r) for r in df.collect()] == [(1, 1, "a"), (1, 2, "b")]
        assert spark.sql("SELECT t.* FROM gens LATERAL VIEW inline(st) t").columns == ["x", "y"]
        df = spark.sql("SELECT k, a, b FROM gens LATERAL VIEW stack(2, k, s, k * 10, t) t AS a, b WHERE k < 3")
        assert [tuple(r) for r in df.collect()] == [(1, 1, "p"), (1, 10, "q"), (2, 2, "r"), (2, 20, "s")]
        assert spark.sql("SELECT k, a FROM gens LATERAL VIEW OUTER stack(1, s) t AS a").count() == 3
        df = spark.sql("SELECT k, x, y FROM gens LATERAL VIEW explode(arr) a AS x LATERAL VIEW explode(arr) b AS y")
        assert sorted(tuple(r) for r in df.collect()) == [(1, 10, 10), (1, 10, 20), (1, 20, 10), (1, 20, 20)]
        with pytest.raises(AnalysisException):
            spark.sql("SELECT explode(k) FROM gens").collect()
        assert [tuple(r) for r in spark.sql("SELECT explode_outer(array())").collect()] == [(None,)]
        assert [tuple(r) for r in spark.sql("SELECT posexplode_outer(array())").collect()] == [(None, None)]
    finally:
        spark.catalog.dropTempView("gens")


def test_generators_of_maps_in_sql(spark):
    # a map explodes into key and value (and pos for posexplode), as Spark's generators name them
    spark.createDataFrame([(1, {"a": 1}), (2, {}), (3, None)], "k int, m map<string,int>") \
        .createOrReplaceTempView("mgen")
    try:
        df = spark.sql("SELECT k, explode(m) FROM mgen")
        assert df.columns == ["k", "key", "value"] and [tuple(r) for r in df.collect()] == [(1, "a", 1)]
        df = spark.sql("SELECT k, posexplode_outer(m) FROM mgen")
        assert df.columns == ["k", "pos", "key", "value"]
        assert [tuple(r) for r in df.collect()] == [(1, 0, "a", 1), (2, None, None, None), (3, None, None, None)]
        assert [tuple(r) for r in spark.sql("SELECT k, a, b FROM mgen LATERAL VIEW explode(m) t AS a, b").collect()] \
            == [(1, "a", 1)]
        assert [tuple(r) for r in spark.sql("SELECT * FROM explode(map('x', 1, 'y', 2))").collect()] == \
            [("x", 1), ("y", 2)]
        assert spark.sql("SELECT explode(m) AS (kk, vv) FROM mgen").columns == ["kk", "vv"]
        with pytest.raises(AnalysisException):
            spark.sql("SELECT explode(m) AS (kk) FROM mgen").collect()
    finally:
        spark.catalog.dropTempView("mgen")


def test_sql_sums_have_sparks_types(spark):
    # Spark's Sum: integral input -> bigint, decimal(p, s) -> decimal(min(38, p + 10), s), in SQL text as in
    # DataFrame calls; FILTER and OVER take the same types
    import decimal
    df = spark.createDataFrame([(1, 2, decimal.Decimal("1.50")), (2, 3, decimal.Decimal("2.25"))],
                               "k int, v bigint, d decimal(15,2)")
    df.createOrReplaceTempView("sums_t")
    out = spark.sql("SELECT sum(k) AS a, sum(v) AS b, sum(d) AS c, sum(DISTINCT k) AS e, "
                    "sum(v) FILTER (WHERE k > 1) AS f FROM sums_t")
    assert out.dtypes == [("a", "bigint"), ("b", "bigint"), ("c", "decimal(25,2)"), ("e", "bigint"), ("f", "bigint")]
    assert tuple(out.collect()[0]) == (3, 5, decimal.Decimal("3.75"), 3, 3)
    assert df.selectExpr("sum(k) AS s").dtypes == [("s", "bigint")]
    window = spark.sql("SELECT k, sum(v) OVER (ORDER BY k) AS w FROM sums_t ORDER BY k")
    assert window.dtypes == [("k", "int"), ("w", "bigint")] and [r.w for r in window.collect()] == [2, 5]
    from pyspark.errors import ArithmeticException
    with pytest.raises(ArithmeticException):
        spark.sql("SELECT sum(9223372036854775807) FROM sums_t").collect()
    spark.catalog.dropTempView("sums_t")


def test_sql_items_are_named_as_spark_names_them(spark):
    # Spark's Count(*) is count(1) (its parser reads * there as the literal 1), also inside an expression
    df = spark.createDataFrame([(1,), (1,)], "k int")
    df.createOrReplaceTempView("cs_t")
    assert spark.sql("SELECT count(*), count(*) + 1 FROM cs_t").columns == ["count(1)", "(count(1) + 1)"]
    assert [tuple(r) for r in spark.sql("SELECT k, count(*) FROM cs_t GROUP BY k HAVING count(*) > 1").collect()] \
        == [(1, 2)]
    assert df.selectExpr("count(*)").columns == ["count(1)"]
    # Spark's Literal prints a string as its text; a Cast names the type as DataType.sql writes it
    assert spark.sql("SELECT concat('x', k), coalesce(k, 0) FROM cs_t").columns == ["concat(x, k)", "coalesce(k, 0)"]
    assert spark.sql("SELECT upper('a'), CAST(k AS STRING), CAST(k AS DECIMAL(10, 2)), TRY_CAST(k AS SMALLINT), "
                     "CAST('2024-01-01' AS DATE), 'lit' FROM cs_t").columns == \
        ["upper(a)", "CAST(k AS STRING)", "CAST(k AS DECIMAL(10,2))", "TRY_CAST(k AS SMALLINT)",
         "CAST(2024-01-01 AS DATE)", "lit"]
    assert df.selectExpr("CAST(k AS STRING)").columns == ["CAST(k AS STRING)"]
    # Spark's Like.sql (`a LIKE x%`; NOT LIKE is Not's `(NOT ...)`), Substring (the length Integer.MAX_VALUE when
    # not given), CaseWhen.sql, UnaryMinus.sql (`(- k)`) and concat_ws's prettyName
    spark.createDataFrame([("abc", 2, "x")], "s string, k int, t string").createOrReplaceTempView("cs_n")
    assert spark.sql("SELECT s LIKE 'a%', s NOT LIKE 'a%', substring(s, 1, 2), substring(s, 2), "
                     "CASE WHEN k > 1 THEN 1 ELSE 0 END, CASE k WHEN 1 THEN 'a' END, -k, -1, concat_ws('-', s, t) "
                     "FROM cs_n").columns == \
        ["s LIKE a%", "(NOT s LIKE a%)", "substring(s, 1, 2)", "substring(s, 2, 2147483647)",
         "CASE WHEN (k > 1) THEN 1 ELSE 0 END", "CASE WHEN (k = 1) THEN a END", "(- k)", "-1", "concat_ws(-, s, t)"]
    assert tuple(spark.sql("SELECT s LIKE 'a%', substring(s, 2), -k, concat_ws('-', s, t) FROM cs_n").collect()[0]) \
        == (True, "bc", -2, "abc-x")
    spark.catalog.dropTempView("cs_n")
    spark.catalog.dropTempView("cs_t")


def test_order_by_a_column_the_select_dropped(spark):
    # Spark's ResolveMissingReferences: a sort column the select dropped is read from the select's input
    df = spark.createDataFrame([(1, "b", 3), (2, "a", 1), (3, "c", 2)], "k int, s string, v int")
    assert [r.s for r in df.select("s").orderBy("v").collect()] == ["a", "c", "b"]
    assert [r.s for r in df.select("s").orderBy(F.col("v").desc()).collect()] == ["b", "c", "a"]
    assert [r.s for r in df.select("s").orderBy(df.v).collect()] == ["a", "c", "b"]
    out = df.select(F.upper("s").alias("u"), "k").orderBy("V")
    assert out.columns == ["u", "k"] and [tuple(r) for r in out.collect()] == [("A", 2), ("C", 3), ("B", 1)]
    # an aggregate's input columns are gone (Spark refuses this too), as is a column no input has
    with pytest.raises(AnalysisException):
        df.groupBy("s").agg(F.sum("k")).orderBy("v").collect()
    with pytest.raises(AnalysisException):
        df.select("s").orderBy("nope").collect()
