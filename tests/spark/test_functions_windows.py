"""Spark's window functions through the real pyspark-client; expected values from Spark's
documentation (pyspark docstring examples) and its result types."""

from __future__ import annotations

import pytest
from pyspark.errors import PySparkException
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType


@pytest.fixture(scope="module")
def df(spark):
    # the pyspark docstring frame for lag/lead/nth_value: ("a", 1), ("a", 2), ("a", 3), ("b", 8), ("b", 2)
    return spark.createDataFrame([("a", 1), ("a", 2), ("a", 3), ("b", 8), ("b", 2)], "c1 string, c2 int")


W = Window.partitionBy("c1").orderBy("c2")

CASES = [
    ("row_number", F.row_number(), [1, 2, 3, 1, 2]),
    ("lag", F.lag("c2"), [None, 1, 2, None, 2]),
    ("lag with default", F.lag("c2", 1, 0), [0, 1, 2, 0, 2]),
    ("lag 2", F.lag("c2", 2, -1), [-1, -1, 1, -1, -1]),
    ("lead", F.lead("c2"), [2, 3, None, 8, None]),
    ("lead with default", F.lead("c2", 1, 0), [2, 3, 0, 8, 0]),
    ("nth_value", F.nth_value("c2", 1), [1, 1, 1, 2, 2]),
    ("nth_value 2", F.nth_value("c2", 2), [None, 2, 2, None, 8]),
    ("ntile", F.ntile(2), [1, 1, 2, 1, 2]),
    ("cume_dist", F.cume_dist(), [pytest.approx(1 / 3), pytest.approx(2 / 3), 1.0, 0.5, 1.0]),
    ("percent_rank", F.percent_rank(), [0.0, 0.5, 1.0, 0.0, 1.0]),
]


@pytest.mark.parametrize("column, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_window_function(df, column, expected):
    out = df.select("c1", "c2", column.over(W).alias("v")).orderBy("c1", "c2")
    assert [r["v"] for r in out.collect()] == expected


def test_rank_and_dense_rank_with_ties(spark):
    # pyspark docstring: rank/dense_rank of [1, 1, 2, 3, 3, 4]
    t = spark.createDataFrame([(v,) for v in [1, 1, 2, 3, 3, 4]], "value int")
    w = Window.orderBy("value")
    out = t.select("value", F.rank().over(w).alias("r"), F.dense_rank().over(w).alias("d")).orderBy("value")
    assert [(r["r"], r["d"]) for r in out.collect()] == [(1, 1), (1, 1), (3, 2), (4, 3), (4, 3), (6, 4)]


def test_ranking_types_are_int(df):
    out = df.select(F.row_number().over(W), F.rank().over(W), F.dense_rank().over(W), F.ntile(3).over(W),
                    F.percent_rank().over(W))
    assert [f.dataType for f in out.schema.fields] == [IntegerType()] * 4 + [DoubleType()]
    assert out.columns[0] == "row_number() OVER (PARTITION BY c1 ORDER BY c2 ASC NULLS FIRST)"


def test_lag_over_nulls_and_empty_partition(spark):
    t = spark.createDataFrame([(1, None), (2, 5), (3, None)], "t int, v int")
    w = Window.orderBy("t")
    assert [r[1] for r in t.select("t", F.lag("v").over(w)).orderBy("t").collect()] == [None, None, 5]
    empty = spark.createDataFrame([], "t int, v int")
    assert empty.select(F.row_number().over(w)).collect() == []


@pytest.fixture(scope="module")
def gaps(spark):
    return spark.createDataFrame([("a", 1, None), ("a", 2, 10), ("a", 3, None), ("a", 4, 30), ("a", 5, None),
                                  ("b", 1, None), ("b", 2, 7)], "k string, t int, v int")


def test_nth_value_ignore_nulls(gaps):
    w = Window.partitionBy("k").orderBy("t")
    out = gaps.select("k", "t", F.nth_value("v", 2, ignoreNulls=True).over(w).alias("n"),
                      F.nth_value("v", 2).over(w).alias("plain")).orderBy("k", "t")
    assert [(r["n"], r["plain"]) for r in out.collect()] == [
        (None, None), (None, 10), (None, 10), (30, 10), (30, 10), (None, None), (None, 7)]


def test_lag_lead_ignore_nulls(gaps):
    # Spark's lag/lead(..., ignoreNulls = true): the offset counts non-NULL rows only (stays in the partition)
    w = Window.partitionBy("k").orderBy("t")
    lag = F.call_function("lag", F.col("v"), F.lit(1), F.lit(None), F.lit(True))
    lead = F.call_function("lead", F.col("v"), F.lit(1), F.lit(-1), F.lit(True))
    out = gaps.select("k", "t", lag.over(w).alias("lag"), lead.over(w).alias("lead")).orderBy("k", "t")
    assert [(r["lag"], r["lead"]) for r in out.collect()] == [
        (None, 10), (None, 30), (10, 30), (10, -1), (30, -1), (None, 7), (None, -1)]


def test_aggregates_over_windows(gaps):
    w = Window.partitionBy("k").orderBy("t")
    whole = Window.partitionBy("k")
    last_seen = gaps.select("k", "t", F.last("v", True).over(w).alias("li")).orderBy("k", "t")
    assert [r["li"] for r in last_seen.collect()] == [None, 10, 10, 30, 30, None, 7]
    out = gaps.select("k", "t", F.first("v").over(w).alias("f"), F.first("v", True).over(w).alias("fi"),
                      F.last("v").over(w).alias("l"), F.sum("v").over(w).alias("s"),
                      F.bool_or(F.col("v") > 20).over(whole).alias("b"),
                      F.count("v").over(whole).alias("d"))
    assert [tuple(r)[2:] for r in out.orderBy("k", "t").collect()] == [
        (None, None, None, None, True, 2), (None, 10, 10, 10, True, 2), (None, 10, None, 10, True, 2),
        (None, 10, 30, 40, True, 2), (None, 10, None, 40, True, 2), (None, None, None, None, False, 1),
        (None, 7, 7, 7, False, 1)]


def test_collect_list_over_windows(gaps):
    running = Window.partitionBy("k").orderBy("t")
    sliding = Window.partitionBy("k").orderBy("t").rowsBetween(-1, 1)
    out = gaps.select("k", "t", F.collect_list("v").over(running).alias("run"),
                      F.collect_list("t").over(sliding).alias("near"),
                      F.collect_set("v").over(Window.partitionBy("k")).alias("all")).orderBy("k", "t")
    rows = [(r["run"], r["near"], sorted(r["all"])) for r in out.collect()]
    assert rows == [([], [1, 2], [10, 30]), ([10], [1, 2, 3], [10, 30]), ([10], [2, 3, 4], [10, 30]),
                    ([10, 30], [3, 4, 5], [10, 30]), ([10, 30], [4, 5], [10, 30]), ([], [1, 2], [7]),
                    ([7], [1, 2], [7])]


RANGE_ROWS = [("a", 1, 10.0), ("a", 2, 20.0), ("a", 4, 40.0), ("a", None, 5.0), ("a", 4, None),
              ("b", 1, 1.0), ("b", 1, 2.0), ("b", 3, 3.0), ("b", -2, 7.5)]


@pytest.mark.parametrize("ascending", [True, False])
@pytest.mark.parametrize("lower, upper, sql_frame", [
    (-1, 0, "1 PRECEDING AND CURRENT ROW"),
    (-2, 1, "2 PRECEDING AND 1 FOLLOWING"),
    (1, 3, "1 FOLLOWING AND 3 FOLLOWING"),
    (Window.unboundedPreceding, -1, "UNBOUNDED PRECEDING AND 1 PRECEDING"),
    (0, 2, "CURRENT ROW AND 2 FOLLOWING"),
])
def test_range_frames_with_offsets_match_duckdb(spark, ascending, lower, upper, sql_frame):
    # rangeBetween(start, end): the rows whose ORDER BY value is within start..end of the row's (a NULL
    # value frames its peers); DuckDB's RANGE frames have the same meaning, and the same NULL order is asked
    import duckdb
    df = spark.createDataFrame(RANGE_ROWS, "k string, x int, v double")
    order = F.col("x") if ascending else F.desc("x")
    w = Window.partitionBy("k").orderBy(order).rangeBetween(lower, upper)
    got = sorted((r.k, r.x if r.x is not None else -99, r.v if r.v is not None else -1.0, r.s, r.c)
                 for r in df.select("k", "x", "v", F.sum("v").over(w).alias("s"),
                                    F.count("v").over(w).alias("c")).collect())
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR, x INTEGER, v DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", RANGE_ROWS)
    direction = "ASC NULLS FIRST" if ascending else "DESC NULLS LAST"
    want = sorted((k, x if x is not None else -99, v if v is not None else -1.0, s, c) for k, x, v, s, c in con.execute(
        f"SELECT k, x, v, sum(v) OVER w, count(v) OVER w FROM t "
        f"WINDOW w AS (PARTITION BY k ORDER BY x {direction} RANGE BETWEEN {sql_frame})").fetchall())
    assert got == want


def test_a_range_frame_with_offsets_needs_one_numeric_or_date_key(spark):
    df = spark.createDataFrame([("a", 1)], "s string, x int")
    with pytest.raises(PySparkException, match="exactly one ORDER BY key"):
        df.select(F.sum("x").over(Window.orderBy("s", "x").rangeBetween(-1, 0))).collect()
    with pytest.raises(PySparkException, match="ORDER BY key of type"):
        df.select(F.sum("x").over(Window.orderBy("s").rangeBetween(-1, 0))).collect()


TS_ROWS = [("a", "2024-01-01 10:00:00", 1), ("a", "2024-01-01 10:30:00", 2), ("a", "2024-01-01 11:00:00", 4),
           ("a", "2024-01-01 12:30:00", 8), ("a", None, 16), ("a", "2024-01-01 10:30:00", 32),
           ("b", "2024-01-02 00:00:00", 64), ("b", "2024-01-01 23:59:59.5", 128)]


@pytest.mark.parametrize("direction", ["ASC NULLS FIRST", "DESC NULLS LAST"])
@pytest.mark.parametrize("spark_frame, duck_frame", [
    ("INTERVAL 1 HOUR PRECEDING AND CURRENT ROW", "INTERVAL 1 HOUR PRECEDING AND CURRENT ROW"),
    ("INTERVAL '30' MINUTE PRECEDING AND INTERVAL '30' MINUTE FOLLOWING",
     "INTERVAL 30 MINUTE PRECEDING AND INTERVAL 30 MINUTE FOLLOWING"),
    ("CURRENT ROW AND INTERVAL '0 01:00:00' DAY TO SECOND FOLLOWING", "CURRENT ROW AND INTERVAL 1 HOUR FOLLOWING"),
    ("UNBOUNDED PRECEDING AND INTERVAL 1 SECOND PRECEDING", "UNBOUNDED PRECEDING AND INTERVAL 1 SECOND PRECEDING"),
])
def test_range_frames_over_timestamps_take_intervals(spark, direction, spark_frame, duck_frame):
    # Spark: a RANGE frame over a timestamp ORDER BY key has day-time interval bounds
    # (SpecifiedWindowFrame's RANGE_FRAME_INVALID_TYPE rule); DuckDB's interval RANGE frames mean the same
    import duckdb
    spark.createDataFrame(TS_ROWS, "k string, ts string, v int") \
        .selectExpr("k", "CAST(ts AS TIMESTAMP) AS ts", "v").createOrReplaceTempView("ts_frames")
    got = sorted(tuple(r) for r in spark.sql(
        f"SELECT k, v, sum(v) OVER (PARTITION BY k ORDER BY ts {direction} RANGE BETWEEN {spark_frame}) AS s "
        "FROM ts_frames").collect())
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR, ts TIMESTAMP, v INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, CAST(? AS TIMESTAMP), ?)", TS_ROWS)
    want = sorted(con.execute(f"SELECT k, v, sum(v) OVER (PARTITION BY k ORDER BY ts {direction} "
                              f"RANGE BETWEEN {duck_frame}) FROM t").fetchall())
    assert got == want
    spark.catalog.dropTempView("ts_frames")


def test_range_frames_over_timestamps_by_hand(spark):
    # 10:00 -> 1, 10:30 -> 2, 11:00 -> 4, 12:30 -> 8; the hour before each row, both ends included
    rows = [("2024-01-01 10:00:00", 1), ("2024-01-01 10:30:00", 2), ("2024-01-01 11:00:00", 4),
            ("2024-01-01 12:30:00", 8)]
    spark.createDataFrame(rows, "ts string, v int").selectExpr("CAST(ts AS TIMESTAMP) AS ts", "v") \
        .createOrReplaceTempView("ts_hand")
    out = spark.sql("SELECT v, sum(v) OVER (ORDER BY ts RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW) "
                    "AS s FROM ts_hand ORDER BY ts").collect()
    assert [(r.v, r.s) for r in out] == [(1, 1), (2, 3), (4, 7), (8, 8)]
    spark.catalog.dropTempView("ts_hand")


def test_range_frame_bound_types_follow_spark(spark):
    from pyspark.errors import AnalysisException
    ts = spark.createDataFrame([("2024-01-01 10:00:00", 1)], "ts string, v int") \
        .selectExpr("CAST(ts AS TIMESTAMP) AS ts", "CAST(ts AS DATE) AS d", "v")
    ts.createOrReplaceTempView("ts_types")
    # numbers over a timestamp key: Spark's RANGE_FRAME_INVALID_TYPE (rangeBetween takes only numbers)
    with pytest.raises(AnalysisException, match="takes interval bounds"):
        ts.select(F.sum("v").over(Window.orderBy("ts").rangeBetween(-3600, 0))).collect()
    with pytest.raises(AnalysisException, match="takes interval bounds"):
        spark.sql("SELECT sum(v) OVER (ORDER BY ts RANGE BETWEEN 3600 PRECEDING AND CURRENT ROW) FROM ts_types") \
            .collect()
    # a day-time interval over a date key, or as a ROWS bound: also refused by Spark's analyzer
    with pytest.raises(AnalysisException, match="needs a TIMESTAMP"):
        spark.sql("SELECT sum(v) OVER (ORDER BY d RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW) "
                  "FROM ts_types").collect()
    with pytest.raises(AnalysisException, match="ROWS frame"):
        spark.sql("SELECT sum(v) OVER (ORDER BY ts ROWS BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW) "
                  "FROM ts_types").collect()
    # month bounds over a number: Spark's RANGE_FRAME_INVALID_TYPE too
    with pytest.raises(AnalysisException, match="month bounds needs a DATE or TIMESTAMP"):
        spark.sql("SELECT sum(v) OVER (ORDER BY v RANGE BETWEEN INTERVAL 1 MONTH PRECEDING AND CURRENT ROW) "
                  "FROM ts_types").collect()
    spark.catalog.dropTempView("ts_types")


def test_range_frames_with_month_bounds_by_hand(spark):
    # Spark adds a year-month interval bound on the calendar (dateAddMonths: the day of month kept, or the
    # target month's last): 2024-03-30 minus a month is 2024-02-29, 2024-01-31 plus a month 2024-02-29
    import datetime
    rows = [(datetime.date(2024, 1, 31), 1), (datetime.date(2024, 2, 29), 2), (datetime.date(2024, 3, 30), 4)]
    spark.createDataFrame(rows, "d date, v int").createOrReplaceTempView("ym_hand")

    def sums(frame, direction="ASC"):
        return [tuple(r) for r in spark.sql(f"SELECT v, sum(v) OVER (ORDER BY d {direction} RANGE BETWEEN {frame}) "
                                            "AS s FROM ym_hand ORDER BY d").collect()]
    assert sums("INTERVAL '1' MONTH PRECEDING AND CURRENT ROW") == [(1, 1), (2, 3), (4, 6)]
    assert sums("CURRENT ROW AND INTERVAL 1 MONTH FOLLOWING") == [(1, 3), (2, 2), (4, 4)]
    # descending: PRECEDING is the later dates, up to a month after the row's
    assert sums("INTERVAL '0-1' YEAR TO MONTH PRECEDING AND CURRENT ROW", "DESC") == [(1, 3), (2, 2), (4, 4)]
    times = [(datetime.datetime(2024, 1, 31, 12), 1), (datetime.datetime(2024, 2, 29, 11), 2),
             (datetime.datetime(2024, 2, 29, 13), 4)]
    spark.createDataFrame(times, "t timestamp, v int").createOrReplaceTempView("ym_times")
    out = spark.sql("SELECT v, sum(v) OVER (ORDER BY t RANGE BETWEEN CURRENT ROW AND INTERVAL 1 MONTH FOLLOWING) "
                    "AS s FROM ym_times ORDER BY t").collect()
    assert [tuple(r) for r in out] == [(1, 3), (2, 6), (4, 4)]      # the time of day is kept
    spark.catalog.dropTempView("ym_hand")
    spark.catalog.dropTempView("ym_times")


@pytest.mark.parametrize("make", [F.row_number, F.rank, F.dense_rank, F.percent_rank, F.cume_dist,
                                  lambda: F.ntile(2), lambda: F.lag("c2"), lambda: F.lead("c2")])
def test_ranking_and_offset_functions_need_an_ordered_window(df, make):
    # Spark's analyzer refuses them over rows in no order ("requires window to be ordered")
    from pyspark.errors import AnalysisException
    with pytest.raises(AnalysisException, match="requires window to be ordered"):
        df.select(make().over(Window.partitionBy("c1"))).collect()
