"""Spark's date and time functions through the real pyspark-client; expected values from Spark's
documentation (pyspark docstring examples, session time zone UTC) and its calendar rules."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.errors import PySparkException
from pyspark.sql import Row
from pyspark.sql import functions as F

D = lambda s: F.lit(s).cast("date")                       # noqa: E731
TS = lambda s: F.lit(s).cast("timestamp")                 # noqa: E731
NULL_DATE = F.lit(None).cast("date")

CASES = [
    ("date_format", F.date_format(D("2015-04-08"), "MM/dd/yyy"), "04/08/2015"),
    ("date_format time", F.date_format(TS("2024-02-29 13:05:09"), "yyyy-MM-dd HH:mm:ss"), "2024-02-29 13:05:09"),
    ("date_format millis", F.date_format(TS("2024-02-29 13:05:09.123456"), "HH:mm:ss.SSS"), "13:05:09.123"),
    ("date_format names", F.date_format(D("2024-02-29"), "EEE, d MMM yyyy".replace(" d ", " dd ")), "Thu, 29 Feb 2024"),
    ("date_format quoted", F.date_format(TS("2024-02-29 13:05:09"), "yyyy-MM-dd'T'HH:mm"), "2024-02-29T13:05"),
    ("date_format NULL", F.date_format(NULL_DATE, "yyyy"), None),
    ("to_date pattern", F.to_date(F.lit("1997-02-28 10:30:00"), "yyyy-MM-dd HH:mm:ss"), dt.date(1997, 2, 28)),
    ("to_date other order", F.to_date(F.lit("29/02/2024"), "dd/MM/yyyy"), dt.date(2024, 2, 29)),
    ("to_date no pattern", F.to_date(F.lit("1997-02-28")), dt.date(1997, 2, 28)),
    ("to_timestamp pattern", F.to_timestamp(F.lit("1997-02-28 10:30:00"), "yyyy-MM-dd HH:mm:ss"),
     dt.datetime(1997, 2, 28, 10, 30)),
    ("to_timestamp NULL", F.to_timestamp(F.lit(None).cast("string"), "yyyy-MM-dd"), None),
    ("unix_timestamp", F.unix_timestamp(F.lit("2015-04-08"), "yyyy-MM-dd"), 1428451200),
    ("unix_timestamp default pattern", F.unix_timestamp(F.lit("1970-01-01 00:01:00")), 60),
    ("from_unixtime", F.from_unixtime(F.lit(1428451200)), "2015-04-08 00:00:00"),
    ("from_unixtime pattern", F.from_unixtime(F.lit(0), "yyyy/MM/dd"), "1970/01/01"),
    ("timestamp_seconds", F.timestamp_seconds(F.lit(1230219000)), dt.datetime(2008, 12, 25, 15, 30)),
    ("timestamp_millis", F.timestamp_millis(F.lit(1230219000123)), dt.datetime(2008, 12, 25, 15, 30, 0, 123000)),
    ("date_add", F.date_add(D("2015-04-08"), 2), dt.date(2015, 4, 10)),
    ("date_add negative", F.date_add(D("2015-04-08"), -1), dt.date(2015, 4, 7)),
    ("date_add leap day", F.date_add(D("2024-02-28"), 1), dt.date(2024, 2, 29)),
    ("date_sub", F.date_sub(D("2015-04-08"), 1), dt.date(2015, 4, 7)),
    ("date_sub year start", F.date_sub(D("2024-01-01"), 1), dt.date(2023, 12, 31)),
    ("add_months", F.add_months(D("2015-04-08"), 1), dt.date(2015, 5, 8)),
    ("add_months end of month", F.add_months(D("2024-01-31"), 1), dt.date(2024, 2, 29)),
    ("add_months non-leap", F.add_months(D("2023-01-31"), 1), dt.date(2023, 2, 28)),
    ("add_months negative", F.add_months(D("2024-03-31"), -1), dt.date(2024, 2, 29)),
    ("add_months NULL", F.add_months(NULL_DATE, 1), None),
    ("months_between", F.months_between(TS("1997-02-28 10:30:00"), D("1996-10-30")), 3.94959677),
    ("months_between no rounding", F.months_between(TS("1997-02-28 10:30:00"), D("1996-10-30"), False),
     3.9495967741935485),
    ("months_between month ends", F.months_between(D("2024-02-29"), D("2024-01-31")), 1.0),
    ("months_between same day", F.months_between(D("2024-03-15"), D("2024-01-15")), 2.0),
    ("next_day", F.next_day(D("2015-01-14"), "TU"), dt.date(2015, 1, 20)),
    ("next_day same weekday is next week", F.next_day(D("2015-01-13"), "Tuesday"), dt.date(2015, 1, 20)),
    ("last_day", F.last_day(D("2004-01-01")), dt.date(2004, 1, 31)),
    ("last_day leap", F.last_day(D("2024-02-10")), dt.date(2024, 2, 29)),
    ("last_day non-leap", F.last_day(D("2100-02-10")), dt.date(2100, 2, 28)),
    ("trunc year", F.trunc(D("1997-02-28"), "year"), dt.date(1997, 1, 1)),
    ("trunc mon", F.trunc(D("1997-02-28"), "mon"), dt.date(1997, 2, 1)),
    ("trunc unknown unit", F.trunc(D("1997-02-28"), "bogus"), None),
    ("date_trunc year", F.date_trunc("year", TS("1997-02-28 05:02:11")), dt.datetime(1997, 1, 1)),
    ("date_trunc mon", F.date_trunc("mon", TS("1997-02-28 05:02:11")), dt.datetime(1997, 2, 1)),
    ("date_trunc hour", F.date_trunc("hour", TS("1997-02-28 05:02:11")), dt.datetime(1997, 2, 28, 5)),
    ("datediff", F.datediff(D("2015-04-08"), D("2015-05-10")), -32),
    ("datediff across leap day", F.datediff(D("2024-03-01"), D("2024-02-28")), 2),
    ("make_date", F.make_date(F.lit(2020), F.lit(6), F.lit(26)), dt.date(2020, 6, 26)),
    ("make_timestamp", F.make_timestamp(F.lit(2014), F.lit(12), F.lit(28), F.lit(6), F.lit(30), F.lit(45.887)),
     dt.datetime(2014, 12, 28, 6, 30, 45, 887000)),
    ("from_utc_timestamp", F.from_utc_timestamp(TS("1997-02-28 10:30:00"), "Asia/Tokyo"),
     dt.datetime(1997, 2, 28, 19, 30)),
    ("to_utc_timestamp", F.to_utc_timestamp(TS("1997-02-28 10:30:00"), "Asia/Tokyo"),
     dt.datetime(1997, 2, 28, 1, 30)),
    ("from_utc_timestamp summer time", F.from_utc_timestamp(TS("2024-07-01 12:00:00"), "America/New_York"),
     dt.datetime(2024, 7, 1, 8)),
    ("to_utc_timestamp ambiguous hour takes the earlier offset",
     F.to_utc_timestamp(TS("2024-11-03 01:30:00"), "America/New_York"), dt.datetime(2024, 11, 3, 5, 30)),
    ("dayofweek", F.dayofweek(D("2015-04-08")), 4),
    ("dayofweek sunday", F.dayofweek(D("2024-03-03")), 1),
    ("weekday", F.weekday(D("2009-07-30")), 3),
    ("weekday sunday", F.weekday(D("2024-03-03")), 6),
    ("extract year", F.extract(F.lit("YEAR"), D("2024-02-29")), 2024),
    ("date_part month", F.date_part(F.lit("month"), D("2024-02-29")), 2),
    ("year", F.year(D("2024-02-29")), 2024),
    ("dayofyear leap", F.dayofyear(D("2024-12-31")), 366),
    ("quarter", F.quarter(D("2024-08-01")), 3),
    ("hour", F.hour(TS("2024-02-29 13:05:09")), 13),
    ("window", F.window(TS("2016-03-11 09:00:07"), "5 seconds"),
     Row(start=dt.datetime(2016, 3, 11, 9, 0, 5), end=dt.datetime(2016, 3, 11, 9, 0, 10))),
    ("window with start", F.window(TS("2016-03-11 09:07:00"), "10 minutes", startTime="5 minutes"),
     Row(start=dt.datetime(2016, 3, 11, 9, 5), end=dt.datetime(2016, 3, 11, 9, 15))),
    ("window NULL", F.window(F.lit(None).cast("timestamp"), "5 seconds"), None),
    ("current_timezone", F.current_timezone(), "UTC"),
]


@pytest.mark.parametrize("column, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_datetime_function(spark, column, expected):
    assert spark.range(1).select(column.alias("v")).collect()[0]["v"] == expected


def test_names_as_spark(spark):
    df = spark.createDataFrame([(dt.date(2024, 1, 31),)], "d date")
    out = df.select(F.add_months("d", 1), F.date_format("d", "yyyy"), F.datediff("d", "d"), F.last_day("d"))
    assert out.columns == ["add_months(d, 1)", "date_format(d, yyyy)", "datediff(d, d)", "last_day(d)"]


def test_tumbling_window_groups(spark):
    df = spark.createDataFrame([(dt.datetime(2016, 3, 11, 9, 0, 7), 1), (dt.datetime(2016, 3, 11, 9, 0, 8), 2),
                                (dt.datetime(2016, 3, 11, 9, 0, 12), 3)], "date timestamp, val int")
    out = df.groupBy(F.window("date", "5 seconds")).agg(F.sum("val").alias("sum"))
    assert out.columns == ["window", "sum"]
    got = sorted((r["window"]["start"].second, r["window"]["end"].second, r["sum"]) for r in out.collect())
    assert got == [(5, 10, 3), (10, 15, 3)]


def test_unparsable_text_raises_under_ansi(spark):
    with pytest.raises(PySparkException, match="CANNOT_PARSE_TIMESTAMP"):
        spark.range(1).select(F.to_date(F.lit("not a date"), "yyyy-MM-dd")).collect()


@pytest.mark.parametrize("pattern, letter", [("yyyy QQ", "QQ"), ("G yyyy", "G"), ("yyyy-ww", "ww"),
                                             ("HH:mm:ss.SSS", "S")])
def test_untranslatable_pattern_letters_are_refused_by_name(spark, pattern, letter):
    fn = F.to_date if letter == "S" else F.date_format
    arg = F.lit("00:00:00.000") if letter == "S" else D("2024-01-01")
    with pytest.raises(PySparkException, match=f"Not supported.*`{letter}"):
        spark.range(1).select(fn(arg, pattern)).collect()


def test_sliding_windows(spark):
    df = spark.createDataFrame([(dt.datetime(2016, 3, 11, 9, 0, 7), 1), (dt.datetime(2016, 3, 11, 9, 0, 12), 2)],
                               "date timestamp, val int")
    # each row is in every 10-second window that slides by 5 seconds over it
    rows = df.select("val", F.window("date", "10 seconds", "5 seconds").alias("w")).collect()
    got = sorted((r["val"], r["w"]["start"].second, r["w"]["end"].second) for r in rows)
    assert got == [(1, 0, 10), (1, 5, 15), (2, 5, 15), (2, 10, 20)]
    out = df.groupBy(F.window("date", "10 seconds", "5 seconds")).agg(F.sum("val").alias("sum"))
    assert sorted((r["window"]["start"].second, r["sum"]) for r in out.collect()) == [(0, 1), (5, 3), (10, 2)]


@pytest.fixture
def los_angeles(spark):
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    yield spark
    spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_session_time_zone_is_honoured(los_angeles):
    spark = los_angeles
    row = spark.range(1).select(
        F.unix_timestamp(F.lit("2015-04-08"), "yyyy-MM-dd").alias("u"),
        F.from_unixtime(F.lit(1428476400)).alias("f"),
        F.timestamp_seconds(F.lit(1230219000)).alias("t"),
        F.current_timezone().alias("z")).collect()[0]
    # pyspark docstrings, session zone America/Los_Angeles
    assert tuple(row) == (1428476400, "2015-04-08 00:00:00", dt.datetime(2008, 12, 25, 7, 30), "America/Los_Angeles")


def test_timestamps_from_the_client_are_session_wall_times(los_angeles):
    spark = los_angeles
    df = spark.createDataFrame([(dt.datetime(2024, 1, 1, 8, 0, tzinfo=dt.timezone.utc),)], "ts timestamp")
    row = df.select(F.hour("ts").alias("h"), F.date_format("ts", "yyyy-MM-dd HH:mm").alias("s"),
                    F.unix_timestamp("ts").alias("u")).collect()[0]
    assert tuple(row) == (0, "2024-01-01 00:00", 1704096000)


MORE = [
    ("try_to_timestamp bad text", F.try_to_timestamp(F.lit("nope"), F.lit("yyyy-MM-dd")), None),
    ("try_to_timestamp", F.try_to_timestamp(F.lit("2024-02-29"), F.lit("yyyy-MM-dd")), dt.datetime(2024, 2, 29)),
    ("dayname", F.dayname(D("2024-02-29")), "Thu"),
    ("monthname", F.monthname(D("2024-02-29")), "Feb"),
    ("date_from_unix_date", F.date_from_unix_date(F.lit(1)), dt.date(1970, 1, 2)),
    ("to_unix_timestamp", F.to_unix_timestamp(F.lit("2016-04-08"), F.lit("yyyy-MM-dd")), 1460073600),
]


@pytest.mark.parametrize("column, expected", [c[1:] for c in MORE], ids=[c[0] for c in MORE])
def test_more_datetime_functions(spark, column, expected):
    assert spark.range(1).select(column.alias("v")).collect()[0]["v"] == expected


def test_convert_timezone_docstring_examples(spark):
    # pyspark.sql.functions.convert_timezone, with the session zone America/Los_Angeles: 2015-04-08 00:00 there
    # is 15:00 in Hong Kong (UTC-7 and UTC+8 in April), and back
    import datetime
    from pyspark.sql import functions as sf
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        df = spark.createDataFrame([("2015-04-08 00:00:00",)], ["ts"])
        out = df.select(sf.convert_timezone(None, sf.lit("Asia/Hong_Kong"), sf.col("ts").cast("timestamp_ntz")))
        assert out.columns == ["convert_timezone(current_timezone(), Asia/Hong_Kong, CAST(ts AS TIMESTAMP_NTZ))"]
        assert out.collect()[0][0] == datetime.datetime(2015, 4, 8, 15, 0)
        df = spark.createDataFrame([("2015-04-08 15:00:00",), (None,)], ["ts"])
        out = df.select(sf.convert_timezone(sf.lit("Asia/Hong_Kong"), sf.lit("America/Los_Angeles"),
                                            sf.col("ts").cast("timestamp_ntz")))
        assert [r[0] for r in out.collect()] == [datetime.datetime(2015, 4, 8, 0, 0), None]
    finally:
        spark.conf.unset("spark.sql.session.timeZone")


def test_try_make_timestamp_and_make_timestamp_without_ansi_give_null(spark):
    # pyspark's try_make_timestamp docstring: (2014, 12, 28, 6, 30, 45.887) is 2014-12-28 06:30:45.887 and a
    # month of 13 is NULL; make_timestamp raises DATETIME_FIELD_OUT_OF_BOUNDS under ANSI mode, NULL without
    import datetime
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as sf
    df = spark.createDataFrame([[2014, 12, 28, 6, 30, 45.887], [2014, 13, 28, 6, 30, 45.887],
                                [2023, 2, 29, 0, 0, 0.0]], ["year", "month", "day", "hour", "min", "sec"])
    fields = (df.year, df.month, df.day, df.hour, df.min, df.sec)
    out = df.select(sf.try_make_timestamp(*fields))
    assert out.columns == ["try_make_timestamp(year, month, day, hour, min, sec)"]
    assert [r[0] for r in out.collect()] == [datetime.datetime(2014, 12, 28, 6, 30, 45, 887000), None, None]
    with pytest.raises(PySparkException, match="DATETIME_FIELD_OUT_OF_BOUNDS"):
        df.select(sf.make_timestamp(*fields)).collect()
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        assert [r[0] for r in df.select(sf.make_timestamp(*fields)).collect()][1:] == [None, None]
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "true")


def test_unix_millis_and_micros_docstring_examples(spark):
    # pyspark's docstrings, in the session zone America/Los_Angeles
    from pyspark.sql import functions as sf
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        df = spark.createDataFrame([("2015-07-22 10:00:00",), ("2022-10-09 11:12:13",), (None,)], ["ts"])
        out = df.select(sf.unix_millis(sf.to_timestamp("ts")), sf.unix_micros(sf.to_timestamp("ts")),
                        sf.unix_seconds(sf.to_timestamp("ts")))
        assert out.columns[:2] == ["unix_millis(to_timestamp(ts))", "unix_micros(to_timestamp(ts))"]
        assert [tuple(r) for r in out.collect()] == [(1437584400000, 1437584400000000, 1437584400),
                                                     (1665339133000, 1665339133000000, 1665339133),
                                                     (None, None, None)]
    finally:
        spark.conf.unset("spark.sql.session.timeZone")


def test_window_time_is_a_microsecond_before_the_window_end(spark):
    # pyspark's window_time docstring: the 5-second window {09:00:05, 09:00:10} has the event time
    # 2016-03-11 09:00:09.999999
    import datetime
    from pyspark.sql import functions as sf
    df = spark.createDataFrame([(datetime.datetime(2016, 3, 11, 9, 0, 7), 1)], ["dt", "v"])
    out = df.groupBy(sf.window("dt", "5 seconds")).agg(sf.sum("v")).select("*", sf.window_time("window"))
    assert out.columns == ["window", "sum(v)", "window_time(window)"]
    assert out.collect()[0][2] == datetime.datetime(2016, 3, 11, 9, 0, 9, 999999)


def test_timestamp_add_and_diff(spark):
    # pyspark's docstring examples, then java.time's rules Spark uses: plusMonths keeps the time of day and
    # clamps the day to the month's end; ChronoUnit.between counts whole units toward zero, a day (and so a
    # month) only once the end's time of day reaches the start's
    import datetime
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as sf
    D = datetime.datetime
    df = spark.createDataFrame([(D(2016, 3, 11, 9, 0, 7), 2), (D(2024, 4, 2, 9, 0, 7), 3)], ["ts", "quantity"])
    out = df.select(sf.timestamp_add("year", "quantity", "ts"), sf.timestamp_add("WEEK", sf.lit(5), df.ts),
                    sf.timestamp_add("day", sf.lit(-5), "ts"))
    assert out.columns == ["timestampadd(year, quantity, ts)", "timestampadd(WEEK, 5, ts)",
                           "timestampadd(day, -5, ts)"]
    assert [tuple(r) for r in out.collect()] == [
        (D(2018, 3, 11, 9, 0, 7), D(2016, 4, 15, 9, 0, 7), D(2016, 3, 6, 9, 0, 7)),
        (D(2027, 4, 2, 9, 0, 7), D(2024, 5, 7, 9, 0, 7), D(2024, 3, 28, 9, 0, 7))]
    df = spark.createDataFrame([(D(2016, 3, 11, 9, 0, 7), D(2024, 4, 2, 9, 0, 7))], ["ts1", "ts2"])
    out = df.select(sf.timestamp_diff("year", "ts1", "ts2"), sf.timestamp_diff("WEEK", "ts1", "ts2"),
                    sf.timestamp_diff("day", df.ts2, df.ts1))
    assert out.columns == ["timestampdiff(year, ts1, ts2)", "timestampdiff(WEEK, ts1, ts2)",
                           "timestampdiff(day, ts2, ts1)"]
    assert tuple(out.collect()[0]) == (8, 420, -2944)
    edge = spark.createDataFrame([(D(2024, 1, 31, 10, 0), D(2024, 2, 29, 9, 0), None)],
                                 "a timestamp, b timestamp, c timestamp")
    row = edge.select(sf.timestamp_add("MONTH", sf.lit(1), "a"), sf.timestamp_add("QUARTER", sf.lit(-1), "a"),
                      sf.timestamp_diff("DAY", "a", "b"), sf.timestamp_diff("MONTH", "a", "b"),
                      sf.timestamp_diff("HOUR", "b", "a"), sf.timestamp_diff("MINUTE", "a", "c"),
                      sf.timestamp_add("HOUR", sf.lit(-11), "a")).collect()[0]
    assert tuple(row) == (D(2024, 2, 29, 10, 0), D(2023, 10, 31, 10, 0), 28, 0, -695, None, D(2024, 1, 30, 23, 0))
    with pytest.raises(PySparkException, match="DATETIME_UNIT"):
        edge.select(sf.timestamp_add("FORTNIGHT", sf.lit(1), "a")).collect()
