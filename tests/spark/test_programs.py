"""PySpark programs, written as a Spark user writes them, run against quarry through the real
``pyspark-client``. Each answer is compared with DuckDB's or with one written by hand."""

from __future__ import annotations

import datetime
import decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.errors import AnalysisException, ParseException, UnsupportedOperationException
from pyspark.sql import Row, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, LongType, StringType, StructField, StructType


@pytest.fixture(scope="module")
def people(spark):
    return spark.createDataFrame(
        [(1, "alice", "paris", 31, 1200.0), (2, "bob", "paris", 45, None), (3, "carol", "rome", 27, 800.0),
         (4, "dan", "rome", None, 950.0), (5, "erin", "oslo", 38, 2100.0)],
        ["id", "name", "city", "age", "salary"])


def rows(df):
    return [tuple(r) for r in df.collect()]


# -- reading files ---------------------------------------------------------------------------------

def test_text_file_lines(spark, tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("the quick brown fox\njumps over the lazy dog\nthe end\n")
    lines = spark.read.text(str(path))
    assert lines.columns == ["value"]
    counts = lines.select(F.length("value").alias("n"), F.upper("value").alias("u")).orderBy("n")
    assert rows(counts) == [(7, "THE END"), (19, "THE QUICK BROWN FOX"), (23, "JUMPS OVER THE LAZY DOG")]
    assert lines.filter(F.col("value").contains("fox")).count() == 1


def test_csv_etl_to_partitioned_parquet(spark, tmp_path, duckdb_con):
    src = tmp_path / "trips.csv"
    src.write_text("city,driver,fare\nparis,ann,12.5\nrome,bo,7.0\nparis,cy,30.25\noslo,di,\n")
    df = spark.read.option("header", True).csv(str(src), inferSchema=True)
    assert dict(df.dtypes) == {"city": "string", "driver": "string", "fare": "double"}
    out = tmp_path / "out"
    df.filter(F.col("fare").isNotNull()).write.partitionBy("city").parquet(str(out))
    back = spark.read.parquet(str(out))
    got = sorted((r["city"], r["driver"], r["fare"]) for r in back.collect())
    expected = sorted(duckdb_con.sql(f"SELECT city, driver, fare FROM read_csv_auto('{src}') "
                                     "WHERE fare IS NOT NULL").fetchall())
    assert got == expected
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["city=paris", "city=rome"]


def test_csv_without_infer_schema_reads_strings(spark, tmp_path):
    src = tmp_path / "plain.csv"
    src.write_text("1,a\n2,b\n")
    df = spark.read.csv(str(src))
    assert df.columns == ["_c0", "_c1"]
    assert rows(df) == [("1", "a"), ("2", "b")]


def test_csv_with_a_ddl_schema(spark, tmp_path):
    src = tmp_path / "typed.csv"
    src.write_text("id,price\n1,2.50\n2,3.75\n")
    df = spark.read.schema("id INT, price DOUBLE").option("header", "true").csv(str(src))
    assert df.schema == StructType([StructField("id", IntegerType(), True), StructField("price", DoubleType(), True)])
    assert df.agg(F.sum("price")).collect()[0][0] == 6.25


def test_json_lines(spark, tmp_path):
    src = tmp_path / "events.json"
    src.write_text('{"user": "a", "clicks": 3}\n{"user": "b", "clicks": 5}\n{"user": "a", "clicks": 1}\n')
    df = spark.read.json(str(src))
    assert df.columns == ["clicks", "user"]            # Spark orders inferred JSON fields by name
    assert rows(df.groupBy("user").agg(F.sum("clicks").alias("c")).orderBy("user")) == [("a", 4), ("b", 5)]


def test_parquet_table_by_name_and_sql_over_a_file(spark, tmp_path, duckdb_tpch):
    got = spark.table("nation").filter(F.col("n_regionkey") == 1).select("n_name").orderBy("n_name")
    expected = duckdb_tpch.sql("SELECT n_name FROM nation WHERE n_regionkey = 1 ORDER BY n_name").fetchall()
    assert rows(got) == expected
    path = tmp_path / "small.parquet"
    pq.write_table(pa.table({"city": ["a", "b", "a"]}), path)
    counted = spark.sql(f"SELECT city, count(*) AS n FROM parquet.`{path}` GROUP BY city ORDER BY city")
    assert rows(counted) == [("a", 2), ("b", 1)]


def test_orc_is_refused(spark, tmp_path):
    with pytest.raises(UnsupportedOperationException, match="Not supported: reading the `orc` format"):
        spark.read.orc(str(tmp_path)).collect()


# -- createDataFrame ----------------------------------------------------------------------------------

def test_create_dataframe_from_pandas(spark):
    pdf = pd.DataFrame({"k": ["x", "y", "x"], "v": [1.5, 2.0, 3.5]})
    df = spark.createDataFrame(pdf)
    out = df.groupBy("k").agg(F.avg("v").alias("m")).orderBy("k").toPandas()
    assert out.to_dict("list") == {"k": ["x", "y"], "m": [2.5, 2.0]}


def test_create_dataframe_from_rows_and_dicts_with_schema(spark):
    schema = StructType([StructField("name", StringType()), StructField("score", LongType())])
    a = spark.createDataFrame([Row(name="a", score=1), Row(name="b", score=2)])
    b = spark.createDataFrame([{"name": "c", "score": 3}], schema=schema)
    c = spark.createDataFrame([("d", 4)], "name string, score long")
    together = a.unionByName(b).union(c).orderBy("score")
    assert rows(together) == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    assert together.schema == schema


def test_create_dataframe_from_arrow(spark):
    table = pa.table({"x": [3, 1, 2]})
    assert [r.x for r in spark.createDataFrame(table.to_pandas()).orderBy(F.desc("x")).collect()] == [3, 2, 1]


def test_range(spark):
    df = spark.range(0, 10, 3)
    assert [r.id for r in df.collect()] == [0, 3, 6, 9]
    assert spark.range(5).agg(F.max("id")).collect()[0][0] == 4


# -- columns and rows -------------------------------------------------------------------------------

def test_with_column_when_otherwise_and_nulls(people):
    df = people.withColumn("band", F.when(F.col("age") >= 35, "senior").when(F.col("age") < 30, "junior")
                           .otherwise("mid")).withColumn("pay", F.coalesce("salary", F.lit(0.0)))
    assert rows(df.orderBy("id").select("name", "band", "pay")) == [
        ("alice", "mid", 1200.0), ("bob", "senior", 0.0), ("carol", "junior", 800.0),
        ("dan", "mid", 950.0), ("erin", "senior", 2100.0)]


def test_filters_with_strings_and_columns(people):
    assert rows(people.filter("age > 30 AND city = 'paris'").select("name")) == [("alice",), ("bob",)]
    assert rows(people.where(F.col("salary").isNull()).select("id")) == [(2,)]
    assert rows(people.filter(F.col("name").startswith("c") | F.col("name").like("%rin"))
                .select("name").orderBy("name")) == [("carol",), ("erin",)]
    assert rows(people.filter(F.col("city").isin("oslo", "rome")).select("id").orderBy("id")) == [(3,), (4,), (5,)]
    assert rows(people.filter(people.age != 31).select("id").orderBy("id")) == [(2,), (3,), (5,)]


def test_rename_drop_todf_and_case_insensitive_names(people):
    df = people.withColumnRenamed("name", "who").withColumnRenamed("missing", "x").drop("salary", "nothing")
    assert df.columns == ["id", "who", "city", "age"]
    assert people.select("NAME").toDF("n").columns == ["n"]
    assert rows(people.select(F.col("CITY")).distinct().orderBy("city")) == [("oslo",), ("paris",), ("rome",)]


def test_string_functions(people):
    df = people.select(F.upper("name").alias("u"), F.length("city").alias("l"),
                       F.substring("name", 1, 2).alias("s"), F.concat("name", F.lit("@"), "city").alias("c"))
    assert rows(df.orderBy("u").limit(2)) == [("ALICE", 5, "al", "alice@paris"), ("BOB", 5, "bo", "bob@paris")]


def test_sort_puts_nulls_first_ascending_and_last_descending(people):
    assert [r.age for r in people.orderBy("age").collect()] == [None, 27, 31, 38, 45]
    assert [r.age for r in people.orderBy(F.col("age").desc()).collect()] == [45, 38, 31, 27, None]
    assert [r.age for r in people.orderBy(F.col("age").asc_nulls_last()).collect()] == [27, 31, 38, 45, None]


def test_limit_offset_distinct_and_drop_duplicates(people):
    assert [r.id for r in people.orderBy("id").offset(1).limit(2).collect()] == [2, 3]
    assert people.select("city").distinct().count() == 3
    assert sorted(r.city for r in people.dropDuplicates(["city"]).collect()) == ["oslo", "paris", "rome"]


def test_dates(spark):
    df = spark.createDataFrame([(datetime.date(2024, 1, 31), datetime.date(2024, 3, 1))], ["a", "b"])
    out = df.select(F.year("a").alias("y"), F.month("b").alias("m"), F.dayofmonth("a").alias("d"),
                    F.datediff("b", "a").alias("days"), F.date_add("a", 1).alias("next"),
                    F.dayofweek("a").alias("dow")).collect()[0]
    # 2024-01-31 is a Wednesday: Spark's dayofweek counts Sunday as 1
    assert tuple(out) == (2024, 3, 31, 30, datetime.date(2024, 2, 1), 4)


def test_cast_and_arithmetic(people):
    out = people.select((F.col("age") + 1).alias("a"), (F.col("salary") / 2).alias("h"),
                        F.col("id").cast("string").alias("s")).orderBy("s").first()
    assert tuple(out) == (32, 600.0, "1")


# -- aggregation, joins, windows, set operations ----------------------------------------------------

def test_group_by_agg_against_duckdb(spark, duckdb_tpch):
    li = spark.table("lineitem")
    got = (li.filter(F.col("l_shipdate") <= F.lit(datetime.date(1998, 9, 2)))
           .groupBy("l_returnflag", "l_linestatus")
           .agg(F.sum("l_quantity").alias("sum_qty"), F.avg("l_discount").alias("avg_disc"),
                F.count("*").alias("n"), F.countDistinct("l_suppkey").alias("suppliers"))
           .orderBy("l_returnflag", "l_linestatus"))
    expected = duckdb_tpch.sql(
        "SELECT l_returnflag, l_linestatus, sum(l_quantity), avg(l_discount), count(*), count(DISTINCT l_suppkey) "
        "FROM lineitem WHERE l_shipdate <= DATE '1998-09-02' GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    actual = rows(got)
    # avg of a decimal is a decimal in Spark (precision + 4, scale + 4); DuckDB answers a double
    assert [r[:3] + r[4:] for r in actual] == [r[:3] + r[4:] for r in expected]
    assert all(abs(float(a[3]) - float(e[3])) < 1e-6 for a, e in zip(actual, expected))


def test_tpch_q3_with_the_dataframe_api(spark, duckdb_tpch):
    c, o, li = spark.table("customer"), spark.table("orders"), spark.table("lineitem")
    q = (c.filter(c.c_mktsegment == "BUILDING")
         .join(o, c.c_custkey == o.o_custkey)
         .join(li, F.col("l_orderkey") == F.col("o_orderkey"))
         .filter((F.col("o_orderdate") < F.lit(datetime.date(1995, 3, 15)))
                 & (F.col("l_shipdate") > F.lit(datetime.date(1995, 3, 15))))
         .groupBy("l_orderkey", "o_orderdate", "o_shippriority")
         .agg(F.sum(F.col("l_extendedprice") * (1 - F.col("l_discount"))).alias("revenue"))
         .orderBy(F.desc("revenue"), "o_orderdate").limit(10))
    expected = duckdb_tpch.sql(
        "SELECT l_orderkey, o_orderdate, o_shippriority, sum(l_extendedprice * (1 - l_discount)) AS revenue "
        "FROM customer, orders, lineitem WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey "
        "AND l_orderkey = o_orderkey AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15' "
        "GROUP BY 1, 2, 3 ORDER BY revenue DESC, o_orderdate LIMIT 10").fetchall()
    assert [(r[0], r[1], r[2], decimal.Decimal(r[3])) for r in rows(q)] == \
        [(r[0], r[1], r[2], decimal.Decimal(r[3])) for r in expected]


@pytest.mark.parametrize("how, expected", [
    ("inner", [(1, "x", 10.0), (2, "y", None)]),
    ("left", [(1, "x", 10.0), (2, "y", None), (4, "z", None)]),
    ("right", [(1, "x", 10.0), (2, "y", None), (3, None, 30.0)]),
    ("full", [(1, "x", 10.0), (2, "y", None), (3, None, 30.0), (4, "z", None)]),
    ("left_semi", [(1, "x"), (2, "y")]),
    ("left_anti", [(4, "z")]),
])
def test_joins_of_every_kind_on_a_column(spark, how, expected):
    a = spark.createDataFrame([(1, "x"), (2, "y"), (4, "z")], ["id", "a"])
    b = spark.createDataFrame([(1, 10.0), (2, None), (3, 30.0)], ["id", "b"])
    assert rows(a.join(b, "id", how).orderBy("id")) == expected


def test_join_on_a_condition_with_same_named_columns_and_cross_join(spark):
    a = spark.createDataFrame([(1, "x"), (2, "y")], ["id", "v"])
    b = spark.createDataFrame([(2, "p"), (3, "q")], ["id", "v"])
    joined = a.join(b, a.id == b.id, "left").select(a.id, a.v, b.v.alias("w")).orderBy(a.id)
    assert rows(joined) == [(1, "x", None), (2, "y", "p")]
    assert a.crossJoin(b).count() == 4
    assert a.join(b, ["id", "v"], "outer").count() == 4


def test_window_row_number_rank_and_running_sum(spark):
    df = spark.createDataFrame([("a", 1), ("a", 3), ("a", 3), ("b", 2), ("b", None)], ["g", "x"])
    w = Window.partitionBy("g").orderBy(F.desc("x"))
    out = df.select("g", "x", F.row_number().over(w).alias("rn"), F.rank().over(w).alias("rk"),
                    F.sum("x").over(Window.partitionBy("g").orderBy("x")
                                    .rowsBetween(Window.unboundedPreceding, Window.currentRow)).alias("run"))
    got = sorted(rows(out), key=lambda r: (r[0], r[2]))
    assert got == [("a", 3, 1, 1, 7), ("a", 3, 2, 1, 4), ("a", 1, 3, 3, 1), ("b", 2, 1, 1, 2), ("b", None, 2, 2, None)] \
        or got == [("a", 3, 1, 1, 4), ("a", 3, 2, 1, 7), ("a", 1, 3, 3, 1), ("b", 2, 1, 1, 2), ("b", None, 2, 2, None)]


def test_top_n_per_group_as_in_the_issue(spark):
    df = spark.createDataFrame([("paris", "a", 10.0), ("paris", "b", 30.0), ("paris", "c", 20.0),
                                ("paris", "d", 5.0), ("rome", "e", 8.0)], ["city", "driver", "fare"])
    w = Window.partitionBy("city").orderBy(F.desc("fare"))
    out = (df.withColumn("rank", F.row_number().over(w)).filter("rank <= 3")
           .groupBy("city").agg(F.avg("fare").alias("avg_fare"), F.count("driver").alias("n")).orderBy("city"))
    assert rows(out) == [("paris", 20.0, 3), ("rome", 8.0, 1)]


def test_pivot(spark):
    df = spark.createDataFrame([("a", "x", 1), ("a", "y", 2), ("b", "x", 3), ("a", "x", 4)], ["k", "p", "v"])
    out = df.groupBy("k").pivot("p", ["x", "y"]).agg(F.sum("v")).orderBy("k")
    assert out.columns == ["k", "x", "y"]
    assert rows(out) == [("a", 5, 2), ("b", 3, None)]


def test_set_operations(spark):
    a = spark.createDataFrame([(1,), (2,), (2,), (3,)], ["x"])
    b = spark.createDataFrame([(2,), (3,), (4,)], ["x"])
    assert sorted(r.x for r in a.union(b).collect()) == [1, 2, 2, 2, 3, 3, 4]
    assert sorted(r.x for r in a.intersect(b).collect()) == [2, 3]
    assert sorted(r.x for r in a.subtract(b).collect()) == [1]
    assert sorted(r.x for r in a.exceptAll(b).collect()) == [1, 2]
    c = spark.createDataFrame([(5, "z")], ["x", "y"])
    assert rows(a.unionByName(c, allowMissingColumns=True).filter("x > 4")) == [(5, "z")]


# -- temp views, SQL, configuration, caching ------------------------------------------------------------

def test_temp_views_and_sql_with_arguments(spark, people):
    people.createOrReplaceTempView("people")
    out = spark.sql("SELECT city, count(*) AS n FROM people WHERE age > :min_age GROUP BY city ORDER BY city",
                    args={"min_age": 30})
    assert rows(out) == [("oslo", 1), ("paris", 2)]
    assert rows(spark.sql("SELECT name FROM people WHERE id = ?", args=[3])) == [("carol",)]
    with pytest.raises(AnalysisException, match="already exists"):
        people.createTempView("people")


def test_sessions_are_isolated(spark_server, spark, people):
    from pyspark.sql import SparkSession
    people.createOrReplaceTempView("only_here")
    other = SparkSession.builder.remote(spark_server.url).create()
    try:
        with pytest.raises(AnalysisException) as err:
            other.sql("SELECT * FROM only_here").collect()
        assert err.value.getCondition() == "TABLE_OR_VIEW_NOT_FOUND"
        other.conf.set("spark.sql.session.timeZone", "Europe/Paris")
        assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    finally:
        other.stop()


def test_config_calls(spark):
    spark.conf.set("my.setting", "42")
    assert spark.conf.get("my.setting") == "42"
    assert spark.conf.get("not.there", "fallback") == "fallback"
    assert spark.conf.isModifiable("spark.sql.shuffle.partitions")
    spark.conf.unset("my.setting")
    with pytest.raises(Exception) as err:
        spark.conf.get("my.setting")
    assert err.value.getCondition() == "SQL_CONF_NOT_FOUND"
    assert "spark.sql.session.timeZone" in spark.conf.getAll


def test_cache_keeps_rows(spark, people):
    cached = people.filter("age > 30").cache()
    assert cached.is_cached
    assert cached.count() == 3
    assert cached.storageLevel.useMemory
    cached.unpersist()
    assert not cached.storageLevel.useMemory


# -- show(), printSchema(), explain() ------------------------------------------------------------------

def test_show_prints_as_spark_does(people, capsys):
    people.select("id", "name", "age").orderBy("id").show(3)
    assert capsys.readouterr().out == (
        "+---+-----+---+\n"
        "| id| name|age|\n"
        "+---+-----+---+\n"
        "|  1|alice| 31|\n"
        "|  2|  bob| 45|\n"
        "|  3|carol| 27|\n"
        "+---+-----+---+\n"
        "only showing top 3 rows\n\n")


def test_show_truncates_and_left_aligns_without_truncation(spark, capsys):
    df = spark.createDataFrame([("a" * 25, None, 1.0, True)], "long string, missing int, d double, b boolean")
    df.show()
    df.show(truncate=False)
    assert capsys.readouterr().out == (
        "+--------------------+-------+---+----+\n"
        "|                long|missing|  d|   b|\n"
        "+--------------------+-------+---+----+\n"
        "|aaaaaaaaaaaaaaaaa...|   NULL|1.0|true|\n"
        "+--------------------+-------+---+----+\n\n"
        "+-------------------------+-------+---+----+\n"
        "|long                     |missing|d  |b   |\n"
        "+-------------------------+-------+---+----+\n"
        "|aaaaaaaaaaaaaaaaaaaaaaaaa|NULL   |1.0|true|\n"
        "+-------------------------+-------+---+----+\n\n")


def test_show_never_cuts_column_names(spark):
    # Spark's getRows puts the names before the truncated rows: a 31-character name prints whole, in the
    # text and in the HTML (the cell below it is cut to 20 as usual)
    df = spark.createDataFrame([("b" * 25,)], "salary_proportion_in_department string")
    assert df._show_string() == (
        "+-------------------------------+\n"
        "|salary_proportion_in_department|\n"
        "+-------------------------------+\n"
        "|           bbbbbbbbbbbbbbbbb...|\n"
        "+-------------------------------+\n")
    spark.conf.set("spark.sql.repl.eagerEval.enabled", "true")
    try:
        assert "<th>salary_proportion_in_department</th>" in df._repr_html_()
    finally:
        spark.conf.unset("spark.sql.repl.eagerEval.enabled")


def test_show_vertical(spark, capsys):
    spark.createDataFrame([(1, "ab")], ["id", "v"]).show(vertical=True)
    # the name column and the value column are each at least 3 wide
    assert capsys.readouterr().out == "-RECORD 0--\n id  | 1   \n v   | ab  \n\n"


def test_print_schema_and_explain(people, capsys):
    people.select("id", "name").printSchema()
    assert capsys.readouterr().out == "root\n |-- id: long (nullable = true)\n |-- name: string (nullable = true)\n\n"
    people.filter("age > 30").explain()
    assert "Filter" in capsys.readouterr().out


# -- errors ------------------------------------------------------------------------------------------------

def test_unknown_column_is_an_analysis_exception_with_a_hint(people):
    with pytest.raises(AnalysisException) as err:
        people.select("nmae").collect()
    assert err.value.getCondition() == "UNRESOLVED_COLUMN.WITH_SUGGESTION"
    assert "`nmae`" in str(err.value) and "name" in str(err.value)
    assert "Traceback" not in str(err.value)


def test_unknown_table_and_syntax_errors(spark):
    with pytest.raises(AnalysisException) as err:
        spark.table("no_such_table").collect()
    assert err.value.getCondition() == "TABLE_OR_VIEW_NOT_FOUND"
    with pytest.raises(ParseException):
        spark.sql("SELEC 1").collect()


def test_an_unknown_function_is_an_unresolved_routine(spark, people):
    with pytest.raises(AnalysisException) as err:
        spark.sql("SELECT no_such_function(1)").collect()
    assert err.value.getCondition() == "UNRESOLVED_ROUTINE"
    assert err.value.getSqlState() == "42883"
    assert "`no_such_function`" in str(err.value)
    with pytest.raises(AnalysisException) as err:
        people.selectExpr("no_such_function(id)").collect()
    assert err.value.getCondition() == "UNRESOLVED_ROUTINE"


def test_unsupported_things_are_refused_by_name(people):
    with pytest.raises(UnsupportedOperationException,
                       match="Not supported: the function `transform_keys` \\(a map higher-order function"):
        people.select(F.transform_keys(F.create_map("id", "name"), lambda k, v: k)).collect()
    with pytest.raises(UnsupportedOperationException, match="Not supported: the relation `with_watermark`"):
        people.withWatermark("name", "1 minute").collect()
