"""Day-time intervals through the real pyspark-client.

Spark (3.2+, with ANSI intervals, its default) gives a ``DayTimeIntervalType`` for a timestamp or date minus
another, adds one to a timestamp or date to give a timestamp, and multiplies or divides one by a number,
rounding HALF_UP to the microsecond (``MultiplyDTInterval``/``DivideDTInterval``); its Arrow form is a
duration in microseconds, which the client reads as ``datetime.timedelta``. The expected values below are
Python's datetime arithmetic, which is exact to the microsecond.
"""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import fn_spark  # noqa: E402,F401

ROWS = [
    (dt.datetime(2024, 1, 1, 10, 30), dt.datetime(2024, 1, 2, 12, 0, 0, 250), dt.date(2024, 1, 31),
     dt.date(2024, 3, 1), dt.timedelta(hours=5, microseconds=5)),
    (dt.datetime(2024, 2, 29, 23, 59), dt.datetime(2023, 12, 31), dt.date(2024, 2, 29), dt.date(2024, 2, 1),
     dt.timedelta(days=-2, seconds=7)),
    (None, dt.datetime(2024, 1, 1), None, dt.date(2024, 1, 1), None),
]
SCHEMA = "a timestamp, b timestamp, d date, e date, iv interval day to second"


@pytest.fixture(scope="module")
def frame(fn_spark):
    return fn_spark.createDataFrame(ROWS, SCHEMA)


def _column(df, column):
    return [r[0] for r in df.select(column).collect()]


def _minus(x, y):
    return None if x is None or y is None else x - y


def _midnight(d):
    return None if d is None else dt.datetime.combine(d, dt.time())


def _half_up(micros, n):
    """The exact quotient, halves away from zero (Spark's HALF_UP for an interval's average)."""
    q, r = divmod(abs(micros), n)
    return (q + (2 * r >= n)) * (1 if micros >= 0 else -1)

def test_differences_of_timestamps_and_dates_are_day_time_intervals(frame):
    from pyspark.sql import functions as F
    from pyspark.sql.types import DayTimeIntervalType
    out = frame.select((F.col("b") - F.col("a")).alias("ts"), (F.col("e") - F.col("d")).alias("days"),
                       (F.col("b") - F.col("d")).alias("mixed"))
    assert all(isinstance(f.dataType, DayTimeIntervalType) for f in out.schema.fields)
    assert [tuple(r) for r in out.collect()] == [
        (_minus(b, a), _minus(e, d), _minus(b, _midnight(d))) for a, b, d, e, _ in ROWS]


def test_an_interval_moves_a_timestamp_or_a_date(frame):
    from pyspark.sql import functions as F
    assert _column(frame, F.col("a") + F.col("iv")) == [None if a is None or iv is None else a + iv
                                                        for a, _, _, _, iv in ROWS]
    assert _column(frame, F.col("iv") + F.col("a")) == _column(frame, F.col("a") + F.col("iv"))
    assert _column(frame, F.col("a") - F.col("iv")) == [None if a is None or iv is None else a - iv
                                                        for a, _, _, _, iv in ROWS]
    assert _column(frame, F.col("d") + F.col("iv")) == [None if d is None or iv is None else _midnight(d) + iv
                                                        for _, _, d, _, iv in ROWS]


def test_interval_arithmetic_rounds_half_up_to_the_microsecond(fn_spark):
    from pyspark.sql import functions as F
    us = dt.timedelta(microseconds=1)
    values = [5 * us, -5 * us, dt.timedelta(hours=3), None]
    df = fn_spark.createDataFrame([(v,) for v in values], "iv interval day to second")

    def half_up(micros):          # HALF_UP: halves away from zero
        return int(micros + 0.5) if micros >= 0 else -int(-micros + 0.5)
    micros = [None if v is None else v // us for v in values]
    assert _column(df, F.col("iv") / 2) == [None if m is None else half_up(m / 2) * us for m in micros]
    assert _column(df, F.col("iv") * 1.5) == [None if m is None else half_up(m * 1.5) * us for m in micros]
    assert _column(df, F.col("iv") * 3) == [None if v is None else v * 3 for v in values]
    assert _column(df, F.col("iv") + F.col("iv")) == [None if v is None else v + v for v in values]
    assert _column(df, F.col("iv") - F.expr("INTERVAL 1 HOUR")) == \
        [None if v is None else v - dt.timedelta(hours=1) for v in values]
    assert _column(df, F.col("iv") > F.expr("INTERVAL 1 HOUR")) == [False, False, True, None]


def test_an_interval_divided_by_zero_raises(fn_spark):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(dt.timedelta(seconds=1),)], "iv interval day to second")
    with pytest.raises(ArithmeticException):
        df.select(F.col("iv") / 0).collect()


@pytest.mark.parametrize("text, expected", [
    ("INTERVAL 3 DAYS", dt.timedelta(days=3)),
    ("INTERVAL '1' HOUR", dt.timedelta(hours=1)),
    ("INTERVAL '1 2:03:04.5' DAY TO SECOND", dt.timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
    ("INTERVAL '-1 2' DAY TO HOUR", -dt.timedelta(days=1, hours=2)),
    ("INTERVAL '2:30' HOUR TO MINUTE", dt.timedelta(hours=2, minutes=30)),
    ("TIMESTAMP'2024-01-02 12:00:00' - TIMESTAMP'2024-01-01 10:30:00'", dt.timedelta(days=1, minutes=90)),
    ("DATE'2024-03-01' - DATE'2024-01-01'", dt.timedelta(days=60)),
    ("TIMESTAMP'2024-01-01 10:30:00' - INTERVAL '1' HOUR", dt.datetime(2024, 1, 1, 9, 30)),
    ("DATE'2024-01-31' + INTERVAL 3 DAYS", dt.date(2024, 2, 3)),
])
def test_intervals_in_sql_text(fn_spark, text, expected):
    assert fn_spark.sql(f"SELECT {text} AS x").collect()[0].x == expected


def test_an_interval_of_months_is_a_year_month_interval_which_is_not_collected(fn_spark):
    # Spark's INTERVAL 1 MONTH is a YearMonthIntervalType, which the client has no Python type for
    from pyspark.errors import PySparkException
    from pyspark.sql.types import YearMonthIntervalType
    df = fn_spark.sql("SELECT INTERVAL 1 MONTH AS x")
    assert isinstance(df.schema["x"].dataType, YearMonthIntervalType)
    with pytest.raises(PySparkException, match="Not supported: collecting the year-month interval column `x`"):
        df.collect()


def test_interval_text_with_a_time_of_day_needs_a_span(fn_spark):
    from pyspark.errors import PySparkException
    # read as numbers, '2:30' would have added up to 32 hours
    with pytest.raises(PySparkException, match="Not supported: the interval text `2:30`"):
        fn_spark.sql("SELECT INTERVAL '2:30' HOUR AS x").collect()


def test_make_dt_interval(fn_spark):
    from decimal import Decimal
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(1, 2, 3, Decimal("4.500001")), (0, -1, 0, Decimal("0")), (None, 1, 1, None)],
                                  "d int, h int, m int, s decimal(10,6)")
    assert _column(df, F.make_dt_interval("d", "h", "m", "s")) == [
        dt.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500001), dt.timedelta(hours=-1), None]
    assert _column(df, F.make_dt_interval()) == [dt.timedelta(0)] * 3
    assert _column(df, F.make_dt_interval(F.lit(2))) == [dt.timedelta(days=2)] * 3


def test_intervals_negate_and_aggregate_as_intervals(fn_spark):
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import DayTimeIntervalType
    us = dt.timedelta(microseconds=1)
    rows = [(1, dt.timedelta(hours=5)), (1, dt.timedelta(days=-2) + us), (2, None), (2, 5 * us)]
    df = fn_spark.createDataFrame(rows, "k int, iv interval day to second")
    assert _column(df, -F.col("iv")) == [None if v is None else -v for _, v in rows]
    assert _column(df, F.abs("iv")) == [None if v is None else abs(v) for _, v in rows]
    out = df.groupBy("k").agg(F.min("iv"), F.max("iv"), F.sum("iv"), F.avg("iv")).orderBy("k")
    assert all(isinstance(f.dataType, DayTimeIntervalType) for f in out.schema.fields[1:])

    want = []
    for k in (1, 2):
        values = [v for key, v in rows if key == k and v is not None]
        total = sum(values, dt.timedelta(0))
        want.append((k, min(values), max(values), total, _half_up(total // us, len(values)) * us))
    assert [tuple(r) for r in out.collect()] == want
    running = df.select("k", "iv", F.sum("iv").over(Window.partitionBy("k").orderBy("iv")).alias("s"))
    got = sorted((r.k, r.iv if r.iv is not None else dt.timedelta.min, r.s) for r in running.collect())
    assert [s for _, _, s in got] == [dt.timedelta(days=-2) + us, dt.timedelta(days=-2, hours=5) + us, None, 5 * us]


def test_intervals_cast_to_spark_s_text_and_other_casts_are_refused(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    values = [dt.timedelta(hours=5), -dt.timedelta(days=1, seconds=1, microseconds=500000),
              dt.timedelta(days=12, minutes=3, microseconds=7), None]
    df = fn_spark.createDataFrame([(v,) for v in values], "iv interval day to second")
    # Spark's form for DAY TO SECOND: sign, days, hh:mm:ss and the fraction without trailing zeros
    assert _column(df, F.col("iv").cast("string")) == [
        "INTERVAL '0 05:00:00' DAY TO SECOND", "INTERVAL '-1 00:00:01.5' DAY TO SECOND",
        "INTERVAL '12 00:03:00.000007' DAY TO SECOND", None]
    with pytest.raises(PySparkException, match="Not supported: a cast from INTERVAL"):
        df.select(F.col("iv").cast("bigint")).collect()


def test_a_timedelta_literal_is_a_day_time_interval(frame):
    # the client sends lit(timedelta) as a DayTimeIntervalType literal: a date plus one is a timestamp
    # (Spark's TimeAdd), and its column name is Spark's text of the interval
    from pyspark.sql import functions as F
    from pyspark.sql.types import DayTimeIntervalType
    one_day, hour = dt.timedelta(days=1), dt.timedelta(hours=1, microseconds=500000)
    out = frame.select(F.lit(hour).alias("h"), F.col("d") + F.lit(one_day), F.col("iv") > F.lit(hour))
    assert isinstance(out.schema["h"].dataType, DayTimeIntervalType)
    assert out.columns[1:] == ["(d + INTERVAL '1 00:00:00' DAY TO SECOND)",
                               "(iv > INTERVAL '0 01:00:00.5' DAY TO SECOND)"]
    assert [tuple(r) for r in out.collect()] == [
        (hour, None if d is None else _midnight(d) + one_day, None if iv is None else iv > hour)
        for _, _, d, _, iv in ROWS]


def test_intervals_in_sql_text_compare_and_cast_to_text(fn_spark):
    fn_spark.createDataFrame([(dt.timedelta(hours=5),), (dt.timedelta(minutes=5),)],
                             "iv interval day to second").createOrReplaceTempView("spans")
    rows = fn_spark.sql("SELECT iv > INTERVAL 1 HOUR AS longer, CAST(iv AS STRING) AS text FROM spans "
                        "WHERE iv < INTERVAL '6' HOUR").collect()
    assert sorted(tuple(r) for r in rows) == [(False, "INTERVAL '0 00:05:00' DAY TO SECOND"),
                                              (True, "INTERVAL '0 05:00:00' DAY TO SECOND")]
    assert fn_spark.sql("SELECT TIMESTAMP'2024-01-02 00:00:00' - TIMESTAMP'2024-01-01 00:00:00' "
                        "> INTERVAL 23 HOURS AS x").collect()[0].x is True


def test_interval_aggregates_and_negation_in_sql_text(fn_spark):
    us = dt.timedelta(microseconds=1)
    rows = [(1, dt.timedelta(hours=5)), (1, dt.timedelta(days=-2) + us), (2, None), (2, 5 * us), (2, 2 * us)]
    fn_spark.createDataFrame(rows, "k int, iv interval day to second").createOrReplaceTempView("iv_rows")
    out = fn_spark.sql("SELECT k, sum(iv) AS s, avg(iv) AS a, min(iv) AS lo, max(iv) AS hi FROM iv_rows "
                       "GROUP BY k ORDER BY k").collect()

    want = []
    for k in (1, 2):
        values = [v for key, v in rows if key == k and v is not None]
        total = sum(values, dt.timedelta(0))
        want.append((k, total, _half_up(total // us, len(values)) * us, min(values), max(values)))
    assert [tuple(r) for r in out] == want          # k = 2: 7 µs over 2 values is 3.5, HALF_UP 4
    assert fn_spark.sql("SELECT k FROM iv_rows GROUP BY k HAVING sum(iv) > INTERVAL '1' DAY").collect() == []
    assert sorted(r[0] for r in fn_spark.sql("SELECT -iv FROM iv_rows WHERE iv IS NOT NULL").collect()) == \
        sorted(-v for _, v in rows if v is not None)
    # selectExpr and expr text bind aggregates as spark.sql does
    df = fn_spark.table("iv_rows")
    from pyspark.sql import functions as F
    assert df.selectExpr("sum(iv)").collect()[0][0] == sum((v for _, v in rows if v is not None), dt.timedelta(0))
    assert df.agg(F.expr("max(iv)")).collect()[0][0] == dt.timedelta(hours=5)


def test_interval_aggregates_over_windows_in_sql_text(fn_spark):
    rows = [(1, dt.timedelta(hours=1)), (1, dt.timedelta(hours=3)), (2, None)]
    fn_spark.createDataFrame(rows, "k int, iv interval day to second").createOrReplaceTempView("iv_windows")
    out = fn_spark.sql("SELECT k, sum(iv) OVER (PARTITION BY k ORDER BY iv) AS s, avg(iv) OVER (PARTITION BY k) AS a, "
                       "max(iv) OVER () AS m FROM iv_windows ORDER BY k, s").collect()
    hour = dt.timedelta(hours=1)
    assert [tuple(r) for r in out] == [(1, hour, 2 * hour, 3 * hour), (1, 4 * hour, 2 * hour, 3 * hour),
                                       (2, None, None, 3 * hour)]
