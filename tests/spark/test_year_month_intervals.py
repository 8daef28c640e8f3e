"""Year-month and calendar intervals through the real pyspark-client.

Spark's ``YearMonthIntervalType`` (``make_ym_interval``, ``INTERVAL '1-2' YEAR TO MONTH``) is a number of
months: a date plus one is a date (the day kept, or the target month's last), a timestamp plus one a
timestamp; they add, compare, and multiply or divide by numbers HALF_UP to the month. Its
``CalendarIntervalType`` (``make_interval``) holds months, days and microseconds. Neither has a Python type
in PySpark: the texts below are Spark's casts to STRING and its ``show()`` output, as its documentation
prints them (``INTERVAL '2015-0' YEAR TO MONTH``, ``100 years 11 months 8 days 12 hours 30 minutes 1.001001
seconds``); the dates are worked out by hand with the calendar.
"""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import fn_spark  # noqa: E402,F401


def _column(df, column):
    return [r[0] for r in df.select(column).collect()]


def test_make_ym_interval_shows_as_spark_documents_it(fn_spark):
    from pyspark.sql import functions as F
    from pyspark.sql.types import YearMonthIntervalType
    df = fn_spark.createDataFrame([[2014, 12]], ["year", "month"])
    out = df.select(F.make_ym_interval(df.year, df.month).alias("r"))
    assert out.schema["r"].dataType == YearMonthIntervalType(0, 1)
    assert out._show_string(truncate=False) == (
        "+-------------------------------+\n"
        "|r                              |\n"
        "+-------------------------------+\n"
        "|INTERVAL '2015-0' YEAR TO MONTH|\n"
        "+-------------------------------+\n")


@pytest.mark.parametrize("years, months, text", [
    (100, 5, "INTERVAL '100-5' YEAR TO MONTH"), (0, 13, "INTERVAL '1-1' YEAR TO MONTH"),
    (1, -1, "INTERVAL '0-11' YEAR TO MONTH"), (-1, 1, "INTERVAL '-0-11' YEAR TO MONTH"),
    (100, None, None)])
def test_make_ym_interval_casts_to_spark_s_text(fn_spark, years, months, text):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(years, months)], "y int, m int")
    assert _column(df, F.make_ym_interval("y", "m").cast("string")) == [text]


def test_default_fields_are_zero(fn_spark):
    from pyspark.sql import functions as F
    row = fn_spark.range(1).select(F.make_ym_interval().cast("string"), F.make_ym_interval(F.lit(2)).cast("string"),
                                   F.make_interval().cast("string")).collect()[0]
    assert tuple(row) == ("INTERVAL '0-0' YEAR TO MONTH", "INTERVAL '2-0' YEAR TO MONTH", "0 seconds")


def test_a_date_or_timestamp_plus_months_keeps_the_day_or_takes_the_month_s_last(fn_spark):
    from pyspark.sql import functions as F
    rows = [(dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 10, 30), 1, 1),
            (dt.date(2024, 3, 31), dt.datetime(2023, 3, 31, 23, 59, 59), 0, -1),
            (dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 0, 0, 1), 1, 0),
            (None, None, 0, 1)]
    df = fn_spark.createDataFrame(rows, "d date, ts timestamp, y int, m int")
    ym = F.make_ym_interval("y", "m")
    out = df.select((F.col("d") + ym).alias("plus"), (F.col("d") - ym).alias("minus"),
                    (F.col("ts") + ym).alias("ts_plus"), (ym + F.col("d")).alias("flipped"))
    assert [tuple(r) for r in out.collect()] == [
        (dt.date(2025, 2, 28), dt.date(2022, 12, 31), dt.datetime(2025, 2, 28, 10, 30), dt.date(2025, 2, 28)),
        (dt.date(2024, 2, 29), dt.date(2024, 4, 30), dt.datetime(2023, 2, 28, 23, 59, 59), dt.date(2024, 2, 29)),
        (dt.date(2025, 2, 28), dt.date(2023, 2, 28), dt.datetime(2025, 2, 28, 0, 0, 1), dt.date(2025, 2, 28)),
        (None, None, None, None)]


def test_year_month_arithmetic_rounds_half_up_to_the_month(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(14,), (-17,), (5,), (None,)], "m int")
    ym = F.make_ym_interval(F.lit(0), "m")

    def text(months):
        if months is None:
            return None
        sign = "-" if months < 0 else ""
        return f"INTERVAL '{sign}{abs(months) // 12}-{abs(months) % 12}' YEAR TO MONTH"

    def half_up(x):
        return int(x + 0.5) if x >= 0 else -int(-x + 0.5)
    values = [14, -17, 5, None]
    assert _column(df, (ym + ym).cast("string")) == [text(None if m is None else 2 * m) for m in values]
    assert _column(df, (ym - F.make_ym_interval(F.lit(1))).cast("string")) == \
        [text(None if m is None else m - 12) for m in values]
    assert _column(df, (ym * 1.5).cast("string")) == [text(None if m is None else half_up(m * 1.5)) for m in values]
    assert _column(df, (ym / 4).cast("string")) == [text(None if m is None else half_up(m / 4)) for m in values]
    assert _column(df, (ym * 3).cast("string")) == [text(None if m is None else 3 * m) for m in values]
    assert _column(df, (-ym).cast("string")) == [text(None if m is None else -m) for m in values]
    assert _column(df, F.abs(ym).cast("string")) == [text(None if m is None else abs(m)) for m in values]
    assert _column(df, ym > F.make_ym_interval(F.lit(1))) == [True, False, False, None]
    assert _column(df, ym == F.expr("INTERVAL '1-2' YEAR TO MONTH")) == [True, False, False, None]


def test_a_year_month_interval_divided_by_zero_raises(fn_spark):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import functions as F
    with pytest.raises(ArithmeticException):
        fn_spark.range(1).select((F.make_ym_interval(F.lit(1)) / 0).cast("string")).collect()


def test_months_that_do_not_fit_raise(fn_spark):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import functions as F
    with pytest.raises(ArithmeticException):
        fn_spark.range(1).select(F.make_ym_interval(F.lit(200_000_000)).cast("string")).collect()


def test_year_month_intervals_sort_group_and_aggregate(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([("a", 5), ("a", -2), ("b", 7), ("b", 7), ("c", None)], "k string, m int")
    ym = df.select("k", F.make_ym_interval(F.lit(0), "m").alias("y"))
    assert _column(ym.orderBy("y"), F.col("y").cast("string")) == [
        None, "INTERVAL '-0-2' YEAR TO MONTH", "INTERVAL '0-5' YEAR TO MONTH", "INTERVAL '0-7' YEAR TO MONTH",
        "INTERVAL '0-7' YEAR TO MONTH"]
    grouped = ym.groupBy("y").count().select(F.col("y").cast("string").alias("y"), "count")
    assert sorted((r.y or "", r["count"]) for r in grouped.collect()) == [
        ("", 1), ("INTERVAL '-0-2' YEAR TO MONTH", 1), ("INTERVAL '0-5' YEAR TO MONTH", 1),
        ("INTERVAL '0-7' YEAR TO MONTH", 2)]
    agg = ym.groupBy("k").agg(F.sum("y").cast("string").alias("s"), F.avg("y").cast("string").alias("a"),
                              F.min("y").cast("string").alias("lo")).orderBy("k")
    # a: 3 months over 2 rows is 1.5, HALF_UP 2; b: 14 over 2 is 7; c: no values
    assert [tuple(r) for r in agg.collect()] == [
        ("a", "INTERVAL '0-3' YEAR TO MONTH", "INTERVAL '0-2' YEAR TO MONTH", "INTERVAL '-0-2' YEAR TO MONTH"),
        ("b", "INTERVAL '1-2' YEAR TO MONTH", "INTERVAL '0-7' YEAR TO MONTH", "INTERVAL '0-7' YEAR TO MONTH"),
        ("c", None, None, None)]


def test_collecting_a_year_month_interval_is_refused_with_a_way_out(fn_spark):
    # the client has no Python type for YearMonthIntervalType (against Spark it cannot convert one either)
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.range(1).select(F.make_ym_interval(F.lit(1), F.lit(2)).alias("y"))
    with pytest.raises(PySparkException, match="Not supported: collecting the year-month interval column `y`"):
        df.collect()
    with pytest.raises(PySparkException, match="cast it to STRING"):
        df.toPandas()
    assert df.select(F.col("y").cast("string")).collect()[0][0] == "INTERVAL '1-2' YEAR TO MONTH"


@pytest.mark.parametrize("text, expected", [
    ("CAST(INTERVAL '1-2' YEAR TO MONTH AS STRING)", "INTERVAL '1-2' YEAR TO MONTH"),
    ("CAST(INTERVAL '-1-2' YEAR TO MONTH AS STRING)", "INTERVAL '-1-2' YEAR TO MONTH"),
    ("CAST(INTERVAL 3 MONTHS AS STRING)", "INTERVAL '0-3' YEAR TO MONTH"),
    ("CAST(INTERVAL '2' YEAR * 2 AS STRING)", "INTERVAL '4-0' YEAR TO MONTH"),
    ("CAST(-INTERVAL '1-2' YEAR TO MONTH AS STRING)", "INTERVAL '-1-2' YEAR TO MONTH"),
    ("CAST(make_ym_interval(1, 2) AS STRING)", "INTERVAL '1-2' YEAR TO MONTH"),
    ("INTERVAL '1-2' YEAR TO MONTH > INTERVAL 13 MONTHS", True),
    ("DATE'2024-01-31' + INTERVAL 1 MONTH", dt.date(2024, 2, 29)),
    ("DATE'2024-03-31' - INTERVAL '1' MONTH", dt.date(2024, 2, 29)),
    ("TIMESTAMP'2024-01-31 10:00:00' + INTERVAL '1-1' YEAR TO MONTH", dt.datetime(2025, 2, 28, 10, 0)),
])
def test_year_month_intervals_in_sql_text(fn_spark, text, expected):
    assert fn_spark.sql(f"SELECT {text} AS x").collect()[0].x == expected


def test_sql_aggregates_of_year_month_intervals(fn_spark):
    fn_spark.createDataFrame([(1, 5), (1, -2), (2, 7)], "k int, m int").createOrReplaceTempView("ym_months")
    rows = fn_spark.sql("SELECT k, CAST(sum(make_ym_interval(0, m)) AS STRING) s, "
                        "CAST(avg(make_ym_interval(0, m)) AS STRING) a FROM ym_months GROUP BY k ORDER BY k").collect()
    assert [tuple(r) for r in rows] == [(1, "INTERVAL '0-3' YEAR TO MONTH", "INTERVAL '0-2' YEAR TO MONTH"),
                                        (2, "INTERVAL '0-7' YEAR TO MONTH", "INTERVAL '0-7' YEAR TO MONTH")]


# -- calendar intervals ---------------------------------------------------------------------------


def test_make_interval_shows_as_spark_documents_it(fn_spark):
    from pyspark.sql import functions as F
    from pyspark.sql.types import CalendarIntervalType
    df = fn_spark.createDataFrame([[100, 11, 1, 1, 12, 30, 01.001001]],
                                  ["year", "month", "week", "day", "hour", "min", "sec"])
    out = df.select(F.make_interval(df.year, df.month, df.week, df.day, df.hour, df.min, df.sec).alias("r"))
    assert out.schema["r"].dataType == CalendarIntervalType()
    assert out._show_string(truncate=False) == (
        "+---------------------------------------------------------------+\n"
        "|r                                                              |\n"
        "+---------------------------------------------------------------+\n"
        "|100 years 11 months 8 days 12 hours 30 minutes 1.001001 seconds|\n"
        "+---------------------------------------------------------------+\n")


@pytest.mark.parametrize("text, expected", [
    ("make_interval(100, 11, 1, 1, 12, 30, 01.001001)", "100 years 11 months 8 days 12 hours 30 minutes 1.001001 seconds"),
    ("make_interval(100, null, 3)", None),
    ("make_interval(0, 1, 0, 1, 0, 0, 100.000001)", "1 months 1 days 1 minutes 40.000001 seconds"),
    ("make_interval(0, 0, 0, 0, -1, -30)", "-1 hours -30 minutes"),
    ("make_interval(1) + make_interval(0, 2)", "1 years 2 months"),
])
def test_make_interval_in_sql_text_casts_to_spark_s_text(fn_spark, text, expected):
    assert fn_spark.sql(f"SELECT CAST({text} AS STRING) AS x").collect()[0].x == expected


@pytest.mark.parametrize("text, expected", [
    # Spark's documented examples of try_make_interval: make_interval's values, NULL on overflow
    ("try_make_interval(100, 11, 1, 1, 12, 30, 01.001001)",
     "100 years 11 months 8 days 12 hours 30 minutes 1.001001 seconds"),
    ("try_make_interval(100, null, 3)", None),
    ("try_make_interval(0, 1, 0, 1, 0, 0, 100.000001)", "1 months 1 days 1 minutes 40.000001 seconds"),
    ("try_make_interval(2147483647)", None),          # 2147483647 years is more months than an INT holds
    ("try_make_interval(0, 0, 2147483647)", None),    # and as many weeks more days
])
def test_try_make_interval_is_null_on_overflow(fn_spark, text, expected):
    assert fn_spark.sql(f"SELECT CAST({text} AS STRING) AS x").collect()[0].x == expected


def test_try_make_interval_in_dataframe_calls(fn_spark):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(1, 2), (2147483647, 0), (None, 1)], "y int, m int")
    out = df.select(F.try_make_interval(df.y, df.m).cast("string").alias("v"))
    assert [r.v for r in out.collect()] == ["1 years 2 months", None, None]
    # make_interval raises on the same row (ARITHMETIC_OVERFLOW), row by row the others keep their values
    with pytest.raises(ArithmeticException):
        df.select(F.make_interval(df.y, df.m).cast("string")).collect()


def test_a_calendar_interval_moves_dates_and_timestamps(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 10, 0)), (None, None)],
                                  "d date, ts timestamp")
    # months first (Jan 31 + 1 month is Feb 29), then days, then the time
    month_and_a_week = F.make_interval(F.lit(0), F.lit(1), F.lit(1))
    later = F.make_interval(F.lit(0), F.lit(1), F.lit(0), F.lit(1), F.lit(2), F.lit(0), F.lit(0.5))
    out = df.select(F.col("d") + month_and_a_week, F.col("ts") + later, F.col("ts") - later)
    assert [tuple(r) for r in out.collect()] == [
        (dt.date(2024, 3, 7), dt.datetime(2024, 3, 1, 12, 0, 0, 500000), dt.datetime(2023, 12, 30, 7, 59, 59, 500000)),
        (None, None, None)]


def test_a_date_plus_a_calendar_interval_with_a_time_raises(fn_spark):
    # Spark's DateAddInterval under ANSI mode
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(dt.date(2024, 1, 31),)], "d date")
    with pytest.raises(PySparkException, match="Cannot add hours, minutes or seconds"):
        df.select(F.col("d") + F.make_interval(F.lit(0), F.lit(0), F.lit(0), F.lit(0), F.lit(1))).collect()


def test_calendar_intervals_do_not_compare_or_sort(fn_spark):
    from pyspark.errors import AnalysisException, PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.range(2).select(F.make_interval(F.col("id")).alias("c"))
    with pytest.raises(AnalysisException, match="cannot compare a calendar interval"):
        df.select(F.col("c") > F.make_interval(F.lit(1))).collect()
    with pytest.raises(PySparkException, match="cannot sort by a calendar interval"):
        df.orderBy("c").select(F.col("c").cast("string")).collect()


def test_collecting_a_calendar_interval_fails_in_the_client_as_against_spark(fn_spark):
    # Spark 4 sends a CalendarIntervalType as Arrow's MONTH_DAY_NANO interval, which the client's collect()
    # refuses; toPandas() gives pandas' DateOffset for it
    from pyspark.errors import PySparkTypeError
    from pyspark.sql import functions as F
    df = fn_spark.range(1).select(F.make_interval(F.lit(1), F.lit(2), F.lit(0), F.lit(3)).alias("c"))
    with pytest.raises(PySparkTypeError, match="UNSUPPORTED_DATA_TYPE_FOR_ARROW_CONVERSION"):
        df.collect()
    offset = df.toPandas()["c"][0]
    assert (offset.months, offset.days) == (14, 3)


def test_distinct_year_month_intervals_and_what_is_refused(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(1,), (13,), (1,)], "m int").select(F.make_ym_interval(F.lit(0), "m").alias("y"))
    assert sorted(r[0] for r in df.distinct().select(F.col("y").cast("string")).collect()) == \
        ["INTERVAL '0-1' YEAR TO MONTH", "INTERVAL '1-1' YEAR TO MONTH"]
    assert df.union(df).distinct().count() == 2
    with pytest.raises(PySparkException, match="Not supported: a join on the interval column `y`"):
        df.join(df, "y").count()
    with pytest.raises(PySparkException, match="Not supported: intersect or except of the interval column"):
        df.intersect(df).count()
    # a join on a comparison of intervals is fine
    other = fn_spark.createDataFrame([(13,)], "m int").select(F.make_ym_interval(F.lit(1), F.lit(1)).alias("z"))
    assert df.join(other, df.y == other.z).count() == 1
