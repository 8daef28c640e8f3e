"""Relations #15 lists that had no test of their own, and what quarry refuses, each refused by name.

Answers are DuckDB's over the same rows or written by hand from Spark's documentation; a refusal
must be PySpark's ``UnsupportedOperationException`` with quarry's ``Not supported: <what>``.
"""

from __future__ import annotations

import pytest
from pyspark.errors import ParseException, UnsupportedOperationException
from pyspark.sql import Row, Window
from pyspark.sql import functions as F

PAIRS = [(1, "a"), (2, "b"), (2, "b"), (2, "b"), (3, None), (None, "d")]
OTHER = [(2, "b"), (2, "b"), (3, None), (4, "e")]


def _sorted(rows):
    return sorted((tuple(r) for r in rows), key=lambda t: tuple((v is None, v) for v in t))


@pytest.fixture(scope="module")
def frames(spark):
    return (spark.createDataFrame(PAIRS, "k int, v string"), spark.createDataFrame(OTHER, "k int, v string"))


@pytest.fixture
def duck_pairs(duckdb_con):
    for name, data in (("a", PAIRS), ("b", OTHER)):
        duckdb_con.execute(f"CREATE TABLE {name} (k INTEGER, v VARCHAR)")
        duckdb_con.executemany(f"INSERT INTO {name} VALUES (?, ?)", data)
    return duckdb_con


# -- set operations with duplicates and NULLs, against DuckDB ---------------------------------------


@pytest.mark.parametrize("method, sql", [
    ("intersectAll", "SELECT * FROM a INTERSECT ALL SELECT * FROM b"),
    ("intersect", "SELECT * FROM a INTERSECT SELECT * FROM b"),
    ("exceptAll", "SELECT * FROM a EXCEPT ALL SELECT * FROM b"),
    ("subtract", "SELECT * FROM a EXCEPT SELECT * FROM b"),
    ("unionAll", "SELECT * FROM a UNION ALL SELECT * FROM b"),
])
def test_set_operations_match_duckdb(frames, duck_pairs, method, sql):
    a, b = frames
    assert _sorted(getattr(a, method)(b).collect()) == _sorted(duck_pairs.execute(sql).fetchall())


def test_union_then_distinct_matches_duckdb(frames, duck_pairs):
    a, b = frames
    expected = duck_pairs.execute("SELECT * FROM a UNION SELECT * FROM b").fetchall()
    assert _sorted(a.union(b).distinct().collect()) == _sorted(expected)


def test_drop_duplicates_with_a_subset_keeps_one_row_per_key(frames, duck_pairs):
    a, _ = frames
    out = a.dropDuplicates(["k"]).select("k").collect()
    assert _sorted(out) == _sorted(duck_pairs.execute("SELECT DISTINCT k FROM a").fetchall())


EMPLOYEES = [(1, "ann", None), (2, "bob", 1), (3, "cy", 1), (4, "dee", 2), (5, "eve", 9)]


@pytest.mark.parametrize("how, sql", [
    ("inner", "JOIN"), ("left", "LEFT JOIN"), ("right", "RIGHT JOIN"), ("full", "FULL JOIN"),
    ("leftouter", "LEFT JOIN"), ("outer", "FULL JOIN"), ("left_semi", "SEMI JOIN"), ("semi", "SEMI JOIN"),
    ("left_anti", "ANTI JOIN"), ("anti", "ANTI JOIN"),
])
def test_self_join_through_aliases_on_a_condition_matches_duckdb(spark, duckdb_con, how, sql):
    duckdb_con.execute("CREATE TABLE emp (id INTEGER, name VARCHAR, boss INTEGER)")
    duckdb_con.executemany("INSERT INTO emp VALUES (?, ?, ?)", EMPLOYEES)
    emp = spark.createDataFrame(EMPLOYEES, "id int, name string, boss int")
    e, b = emp.alias("e"), emp.alias("b")
    joined = e.join(b, F.col("e.boss") == F.col("b.id"), how)
    if "SEMI" in sql or "ANTI" in sql:
        got = joined.select("e.name").collect()
        expected = duckdb_con.execute(f"SELECT e.name FROM emp e {sql} emp b ON e.boss = b.id").fetchall()
    else:
        got = joined.select(F.col("e.name"), F.col("b.name").alias("boss_name")).collect()
        expected = duckdb_con.execute(f"SELECT e.name, b.name FROM emp e {sql} emp b ON e.boss = b.id").fetchall()
    assert _sorted(got) == _sorted(expected)


def test_stars(spark):
    df = spark.createDataFrame([(1, "a", (2, (3, "z")))], "k int, v string, s struct<x:int, n:struct<p:int, q:string>>")
    assert df.select("*").columns == ["k", "v", "s"]
    assert df.select("*", (F.col("k") + 1).alias("k1")).columns == ["k", "v", "s", "k1"]
    assert df.select(F.col("*")).columns == ["k", "v", "s"]
    assert df.selectExpr("*", "k * 2 AS d").columns == ["k", "v", "s", "d"]
    # the star of a struct column: its fields, as Spark expands s.*
    assert [tuple(r) for r in df.select("s.*").collect()] == [(2, (3, "z"))]
    assert df.select("s.*").columns == ["x", "n"]
    assert [tuple(r) for r in df.select("s.n.*").collect()] == [(3, "z")]
    assert df.selectExpr("s.*").columns == ["x", "n"]
    # the star of a DataFrame alias: its columns only
    other = spark.createDataFrame([(1, 9.5)], "k int, w double")
    joined = df.alias("l").join(other.alias("r"), F.col("l.k") == F.col("r.k"))
    assert joined.select("r.*").columns == ["k", "w"]
    assert [tuple(r) for r in joined.select("r.*", "l.v").collect()] == [(1, 9.5, "a")]
    assert joined.selectExpr("l.*").columns == ["k", "v", "s"]


# -- WithColumns, WithColumnsRenamed, LocalRelation without a schema, Hint, Tail -------------------------


def test_with_columns_and_with_columns_renamed(frames):
    a, _ = frames
    out = a.withColumns({"k2": F.col("k") * 2, "tag": F.lit("t")}).withColumnsRenamed({"k": "key", "v": "value"})
    assert out.columns == ["key", "value", "k2", "tag"]
    first = out.filter("key = 1").collect()
    assert [tuple(r) for r in first] == [(1, "a", 2, "t")]
    # withColumns replaces a column that exists, in its place
    assert a.withColumns({"k": F.col("k") + 10}).columns == ["k", "v"]
    assert sorted(r.k for r in a.withColumns({"k": F.col("k") + 10}).collect() if r.k is not None) == \
        [11, 12, 12, 12, 13]


def test_create_dataframe_without_a_schema(spark):
    # Spark names tuple columns _1, _2, ... and infers long for Python ints, string for str
    tuples = spark.createDataFrame([(1, "a"), (2, None)])
    assert tuples.columns == ["_1", "_2"]
    assert [f.dataType.simpleString() for f in tuples.schema.fields] == ["bigint", "string"]
    assert [tuple(r) for r in tuples.orderBy("_1").collect()] == [(1, "a"), (2, None)]
    rows = spark.createDataFrame([Row(name="x", n=1.5), Row(name="y", n=None)])
    assert rows.columns == ["name", "n"]
    assert [f.dataType.simpleString() for f in rows.schema.fields] == ["string", "double"]
    dicts = spark.createDataFrame([{"a": 1, "b": True}, {"a": 2, "b": False}])
    assert sorted(dicts.columns) == ["a", "b"]
    assert sorted(r.a for r in dicts.filter("b").collect()) == [1]


def test_create_dataframe_from_an_arrow_table(spark):
    import datetime
    import pyarrow as pa
    table = pa.table({"k": pa.array([3, 1, None], pa.int32()), "s": ["c", "a", "b"],
                      "d": pa.array([datetime.date(2024, 1, 3), None, datetime.date(2024, 1, 1)]),
                      "l": pa.array([[1], [], None], pa.list_(pa.int64()))})
    df = spark.createDataFrame(table)
    assert [f.dataType.simpleString() for f in df.schema.fields] == ["int", "string", "date", "array<bigint>"]
    assert [tuple(r) for r in df.orderBy("s").collect()] == [
        (1, "a", None, []), (None, "b", datetime.date(2024, 1, 1), None), (3, "c", datetime.date(2024, 1, 3), [1])]
    assert df.toArrow().column("k").to_pylist() == [3, 1, None]


def test_hints_are_accepted_and_change_nothing(spark):
    n, r = spark.table("nation"), spark.table("region")
    plain = n.join(r, n.n_regionkey == r.r_regionkey).count()
    assert n.join(r.hint("broadcast"), n.n_regionkey == r.r_regionkey).count() == plain == 25
    assert n.hint("coalesce", 3).count() == 25


def test_tail_and_sort_within_partitions(spark):
    df = spark.range(10)
    assert [r.id for r in df.orderBy("id").tail(3)] == [7, 8, 9]
    assert sorted(r.id for r in df.sortWithinPartitions(F.desc("id")).collect()) == list(range(10))


def test_a_syntax_error_is_parse_syntax_error(spark):
    with pytest.raises(ParseException) as err:
        spark.sql("SELECT FROM WHERE").collect()
    assert err.value.getCondition() == "PARSE_SYNTAX_ERROR"


def test_day_time_intervals_travel_as_spark_types_them(spark):
    import datetime
    from pyspark.sql.types import DayTimeIntervalType
    values = [(1, datetime.timedelta(days=1, seconds=5)), (2, None), (3, datetime.timedelta(microseconds=-7))]
    df = spark.createDataFrame(values, "k int, d interval day to second")
    # Spark's DayTimeIntervalType(DAY, SECOND) is (0, 3); any day-time field range is that type's values
    assert df.schema["d"].dataType == DayTimeIntervalType(0, 3)
    assert [tuple(r) for r in df.orderBy("k").collect()] == values
    assert [r.k for r in df.orderBy("d").collect()] == [2, 3, 1]          # NULL first ascending
    assert spark.createDataFrame([(datetime.timedelta(hours=3),)], "d interval hour to minute").collect()[0].d == \
        datetime.timedelta(hours=3)
    # the client itself cannot send a year-month interval (it has no Arrow conversion for one)
    from pyspark.errors import PySparkTypeError
    with pytest.raises(PySparkTypeError, match="UNSUPPORTED_DATA_TYPE_FOR_ARROW_CONVERSION"):
        spark.createDataFrame([(1,)], "d interval year to month").collect()


@pytest.mark.parametrize("text, precision, scale", [
    ("12.345", 10, 3), ("1E+3", 10, 0), ("0.001", 10, 3), ("-7", 10, 0), ("123456789012.5", 13, 1)])
def test_decimal_literals_keep_their_digits(spark, text, precision, scale):
    # PySpark sends every Decimal as decimal(10,0); Spark's server raises each of precision and scale to
    # the value's own, so the literal is never rounded
    import decimal
    from pyspark.sql.types import DecimalType
    df = spark.range(1).select(F.lit(decimal.Decimal(text)).alias("x"))
    assert df.schema["x"].dataType == DecimalType(precision, scale)
    assert df.collect()[0].x == decimal.Decimal(text)


def test_literals_of_each_type(spark):
    import datetime
    import decimal
    import numpy as np
    values = [True, 7, 2 ** 40, 1.5, np.float32(2.5), np.int8(3), np.int16(300), "hé", b"\x00\x01",
              datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 13, 14, 15, 123456), None, [1, 2, None],
              [[1], [2, 3]], decimal.Decimal("2.50")]
    out = spark.range(1).select(*[F.lit(v).alias(f"c{i}") for i, v in enumerate(values)])
    # PySpark's own inference: int -> int (long past 32 bits), float -> double, numpy widths kept
    # (the timestamp's type is left out: Spark's is `timestamp`, quarry's `timestamp_ntz`, a known difference)
    types = [f.dataType.simpleString() for f in out.schema.fields]
    assert types[:10] + types[11:] == [
        "boolean", "int", "bigint", "double", "float", "tinyint", "smallint", "string", "binary", "date",
        "void", "array<int>", "array<array<int>>", "decimal(10,2)"]
    assert list(out.collect()[0]) == values            # the session zone is UTC: the same wall time


def test_parquet_files_with_different_columns_are_merged(spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"a": [1]}), tmp_path / "p1.parquet")
    pq.write_table(pa.table({"a": [2], "b": ["x"]}), tmp_path / "p2.parquet")
    # Spark with mergeSchema=true: the union of the columns, NULL where a file lacks one
    df = spark.read.option("mergeSchema", "true").parquet(str(tmp_path))
    assert df.columns == ["a", "b"]
    assert _sorted(df.collect()) == [(1, None), (2, "x")]


def test_ansi_casts_that_overflow_raise_cast_overflow(spark):
    # Spark 4 (ANSI mode) raises SparkArithmeticException [CAST_OVERFLOW] for a number that does not fit
    from pyspark.errors import ArithmeticException
    df = spark.createDataFrame([(300, 1e20)], "i int, d double")
    for column, target in (("i", "tinyint"), ("d", "bigint"), ("d", "decimal(5,2)")):
        with pytest.raises(ArithmeticException) as err:
            df.select(F.col(column).cast(target)).collect()
        assert err.value.getCondition() == "CAST_OVERFLOW"
        assert err.value.getSqlState() == "22003"


# -- what is refused, by name ------------------------------------------------------------------------


def test_apply_in_pandas_with_state_is_refused_by_name(frames):
    from pyspark.sql.streaming.state import GroupStateTimeout
    a, _ = frames
    with pytest.raises(UnsupportedOperationException, match="Not supported: the relation `apply_in_pandas_with_state`"):
        a.groupBy("k").applyInPandasWithState(lambda key, pdfs, state: pdfs, "k int", "k int", "Append",
                                              GroupStateTimeout.NoTimeout).collect()


def test_python_udtfs_are_refused_by_name(spark):
    from pyspark.sql.functions import udtf

    @udtf(returnType="x: int")
    class Numbers:
        def eval(self, n: int):
            for i in range(n):
                yield (i,)
    with pytest.raises(UnsupportedOperationException, match="Not supported: the relation "
                                                            "`common_inline_user_defined_table_function`"):
        Numbers(F.lit(3)).collect()
    with pytest.raises(UnsupportedOperationException, match="Not supported: the command `register_table_function`"):
        spark.udtf.register("numbers", Numbers)


def test_streaming_is_refused_by_name(spark, tmp_path):
    with pytest.raises(UnsupportedOperationException, match="Not supported: streaming reads"):
        spark.readStream.format("rate").load().collect()
    with pytest.raises(UnsupportedOperationException,
                       match="Not supported: the command `write_stream_operation_start`"):
        spark.readStream.format("rate").load().writeStream.format("console").start()


def test_ml_is_refused_by_name(frames):
    from pyspark.ml.feature import VectorAssembler
    a, _ = frames
    with pytest.raises(UnsupportedOperationException, match="Not supported: the relation `ml_relation`"):
        VectorAssembler(inputCols=["k"], outputCol="features").transform(a).collect()


def test_reader_options_quarry_does_not_honour_are_refused_by_name(spark, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    with pytest.raises(UnsupportedOperationException, match="Not supported: the csv option `locale`"):
        spark.read.option("locale", "fr-FR").csv(str(path)).collect()
    with pytest.raises(UnsupportedOperationException, match="Not supported: multiLine JSON"):
        spark.read.option("multiLine", True).json(str(path)).collect()
    with pytest.raises(UnsupportedOperationException, match="Not supported: reading the `orc` format"):
        spark.read.orc(str(path)).collect()


def test_observe_gives_its_metrics_after_an_action(spark):
    # Spark's observed metrics: aggregates over the rows that pass through observe(), whatever comes after
    from pyspark.sql import Observation
    df = spark.createDataFrame([(1, 2.0), (2, None), (3, 4.0)], "id int, v double")
    stats = Observation("stats")
    out = df.observe(stats, F.count(F.lit(1)).alias("rows"), F.max("id").alias("top"), F.sum("v")).filter("id > 1")
    assert [r.id for r in out.collect()] == [2, 3]
    assert stats.get == {"rows": 3, "top": 3, "sum(v)": 6.0}
    unnamed = Observation()
    assert df.observe(unnamed, F.avg("v")).count() == 3
    assert unnamed.get == {"avg(v)": 3.0}


def test_range_frames_over_several_keys_are_refused_by_name(frames):
    # a RANGE frame with offsets orders by one key (test_functions_windows checks them against DuckDB)
    a, _ = frames
    w = Window.orderBy("k", "k").rangeBetween(-1, 0)
    with pytest.raises(UnsupportedOperationException, match="needs exactly one ORDER BY key"):
        a.select(F.sum("k").over(w)).collect()


# -- writes to a path: format, modes ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_path_writes_with_every_mode(spark, tmp_path, fmt):
    from pyspark.errors import AnalysisException
    path = str(tmp_path / f"out_{fmt}")
    df = spark.createDataFrame([(1, "a"), (2, None)], "k int, v string")

    def read():
        reader = spark.read.format(fmt)
        if fmt == "csv":
            reader = reader.option("header", True).schema("k int, v string")
        elif fmt == "json":
            reader = reader.schema("k int, v string")
        return _sorted(reader.load(path).collect())
    def writer(frame, mode=None):
        w = frame.write.format(fmt)
        w = w.option("header", True) if fmt == "csv" else w
        return w.mode(mode) if mode else w
    writer(df).save(path)
    assert read() == [(1, "a"), (2, None)]
    # Spark's default mode is errorifexists: an existing path is an error, and nothing changes
    with pytest.raises(AnalysisException) as err:
        writer(df).save(path)
    assert err.value.getCondition() == "PATH_ALREADY_EXISTS"
    writer(df.filter("k = 1"), "ignore").save(path)
    assert read() == [(1, "a"), (2, None)]
    writer(df.filter("k = 1"), "append").save(path)
    assert read() == [(1, "a"), (1, "a"), (2, None)]
    writer(df.filter("k = 2"), "overwrite").save(path)
    assert read() == [(2, None)]
