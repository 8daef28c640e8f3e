"""Numeric casts through the real pyspark-client, with Spark's three evaluation modes.

The expected values follow Spark's documentation ("ANSI Compliance", Cast): under ANSI mode a value out of
the target's range raises CAST_OVERFLOW; ``try_cast`` gives NULL for it; without ANSI mode an integer target
takes the JVM's narrowing conversion (the docs' example: ``CAST(2147483648L AS INT)`` is ``-2147483648``),
which the Java Language Specification (5.1.3) defines: an integer keeps its low bits, a double first rounds
toward zero and saturates at INT's (BIGINT's) bounds, NaN being 0, then keeps the low bits of that. A decimal
that does not fit is NULL without ANSI mode. A fraction cast to an integer type is dropped (toward zero).
"""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import fn_spark  # noqa: E402,F401

BITS = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64}


def low_bits(value: int, bits: int) -> int:
    """Java's narrowing of an integer: its two's complement low ``bits``."""
    return (value + 2 ** (bits - 1)) % 2 ** bits - 2 ** (bits - 1)


def java_double_to(value: float, bits: int) -> int:
    """Java's ``(byte)``/``(short)``/``(int)``/``(long)`` of a double (JLS 5.1.3)."""
    wide = 64 if bits == 64 else 32
    if value != value:
        whole = 0
    else:
        whole = max(-2 ** (wide - 1), min(2 ** (wide - 1) - 1, int(value))) if abs(value) != float("inf") \
            else (2 ** (wide - 1) - 1 if value > 0 else -2 ** (wide - 1))
    return low_bits(whole, bits)


def in_range(value: int, bits: int):
    return value if -2 ** (bits - 1) <= value < 2 ** (bits - 1) else None


LONGS = [1, 300, -129, 2 ** 31, -5, None, 127, -2 ** 63]
DOUBLES = [2.7, -2.7, 1e20, float("nan"), -1e20, 127.9, -128.9, None, 3e9]


@pytest.fixture()
def without_ansi(fn_spark):
    fn_spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        yield fn_spark
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")


def _values(spark, schema, rows, column):
    return [r[0] for r in spark.createDataFrame([(v,) for v in rows], schema).select(column).collect()]


@pytest.mark.parametrize("target", list(BITS))
def test_try_cast_nulls_only_the_numbers_out_of_range(fn_spark, target):
    from pyspark.sql import functions as F
    bits = BITS[target]
    got = _values(fn_spark, "x bigint", LONGS, F.col("x").try_cast(target))
    assert got == [None if v is None else in_range(v, bits) for v in LONGS]
    got = _values(fn_spark, "x double", DOUBLES, F.col("x").try_cast(target))
    want = [None if v is None or v != v else in_range(int(v), bits) for v in DOUBLES]   # toward zero
    assert got == want


@pytest.mark.parametrize("target", list(BITS))
def test_cast_without_ansi_mode_narrows_as_the_jvm(without_ansi, target):
    from pyspark.sql import functions as F
    bits = BITS[target]
    assert _values(without_ansi, "x bigint", LONGS, F.col("x").cast(target)) == \
        [None if v is None else low_bits(v, bits) for v in LONGS]
    assert _values(without_ansi, "x double", DOUBLES, F.col("x").cast(target)) == \
        [None if v is None else java_double_to(v, bits) for v in DOUBLES]


def test_the_documented_example_wraps_without_ansi_mode(without_ansi):
    from pyspark.sql import functions as F
    assert _values(without_ansi, "x bigint", [2147483648], F.col("x").cast("int")) == [-2147483648]


def test_ansi_cast_drops_the_fraction_and_raises_only_out_of_range(fn_spark):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import functions as F
    assert _values(fn_spark, "x double", [2.7, -2.7, 127.9], F.col("x").cast("tinyint")) == [2, -2, 127]
    assert _values(fn_spark, "x decimal(5,2)", [D("2.99"), D("-2.99")], F.col("x").cast("int")) == [2, -2]
    with pytest.raises(ArithmeticException) as err:
        _values(fn_spark, "x double", [2.7, 128.5], F.col("x").cast("tinyint"))
    assert err.value.getCondition() == "CAST_OVERFLOW"


def test_decimal_overflow_is_null_without_ansi_mode_and_in_try_cast(fn_spark, without_ansi):
    from pyspark.sql import functions as F
    rows = [D("12.34"), D("1234.5"), D("-99.96"), D("-99.94"), None]
    # HALF_UP to one digit; 1234.5 and -99.96 (-> -100.0) need four integer digits
    want = [D("12.3"), None, None, D("-99.9"), None]
    assert _values(without_ansi, "x decimal(10,2)", rows, F.col("x").cast("decimal(3,1)")) == want
    assert _values(without_ansi, "x decimal(10,2)", rows, F.col("x").try_cast("decimal(3,1)")) == want
    doubles = [1.25, 1e10, -0.05]
    assert _values(without_ansi, "x double", doubles, F.col("x").cast("decimal(4,1)")) == [D("1.3"), None, D("-0.1")]
    # a decimal to an integer type keeps the low bits of its integral part, as Java's longValue()
    big = [D("12345678901234567890.7"), D("-3.9")]
    assert _values(without_ansi, "x decimal(30,1)", big, F.col("x").cast("bigint")) == \
        [low_bits(12345678901234567890, 64), -3]


def test_text_that_does_not_cast_is_null_only_for_itself(fn_spark):
    from pyspark.sql import functions as F
    texts = ["1", "300", "x", "-5", None, "127"]
    want = [1, None, None, -5, None, 127]
    assert _values(fn_spark, "s string", texts, F.col("s").try_cast("tinyint")) == want
    fn_spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        assert _values(fn_spark, "s string", texts, F.col("s").cast("tinyint")) == want
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")
    days = ["2024-02-29", "2023-02-29", "2024-13-01", "nope", "2024-12-31"]
    assert _values(fn_spark, "s string", days, F.col("s").try_cast("date")) == \
        [datetime.date(2024, 2, 29), None, None, None, datetime.date(2024, 12, 31)]


def test_try_cast_in_sql_text_keeps_the_good_values(fn_spark):
    import duckdb
    texts = ["1", "300", "x", "-5", "2.5", "127"]
    fn_spark.createDataFrame([(t,) for t in texts], "s string").createOrReplaceTempView("mixed_texts")
    got = [r[0] for r in fn_spark.sql("SELECT TRY_CAST(s AS TINYINT) FROM mixed_texts").collect()]
    want = [r[0] for r in duckdb.sql("SELECT TRY_CAST(s AS TINYINT) FROM (VALUES " +
                                     ", ".join(f"('{t}', {i})" for i, t in enumerate(texts)) +
                                     ") v(s, i) ORDER BY i").fetchall()]
    assert got == want and got[0] == 1 and got[1] is None


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_casts_in_sql_text_are_the_dataframe_casts(fn_spark, ansi):
    from pyspark.errors import ArithmeticException
    from pyspark.sql import functions as F
    rows = [(2.7, 300), (-2.7, 5), (1e20, 2 ** 31), (None, None)]
    df = fn_spark.createDataFrame(rows, "d double, b bigint")
    df.createOrReplaceTempView("numbers")
    fn_spark.conf.set("spark.sql.ansi.enabled", ansi)
    try:
        for text, column in (("TRY_CAST(d AS INT)", F.col("d").try_cast("int")),
                             ("TRY_CAST(b AS TINYINT)", F.col("b").try_cast("tinyint")),
                             ("CAST(d AS DECIMAL(3,1))", F.col("d").cast("decimal(3,1)")),
                             ("CAST(d AS TINYINT)", F.col("d").cast("tinyint")),
                             ("CAST(b AS INT)", F.col("b").cast("int"))):
            if ansi == "true" and text.startswith("CAST"):
                for run in (lambda: fn_spark.sql(f"SELECT {text} FROM numbers").collect(),
                            lambda: df.selectExpr(text).collect()):
                    with pytest.raises(ArithmeticException):
                        run()
                continue
            want = [r[0] for r in df.select(column).collect()]
            assert [r[0] for r in fn_spark.sql(f"SELECT {text} FROM numbers").collect()] == want, text
            assert [r[0] for r in df.selectExpr(text).collect()] == want, text
        # the fraction is dropped, not rounded, in either mode
        assert fn_spark.sql("SELECT CAST(d AS INT) AS x FROM numbers WHERE abs(d) < 10").collect() == \
            [(2,), (-2,)]
        if ansi == "false":           # the documented example
            assert fn_spark.sql("SELECT CAST(2147483648L AS INT) AS x").collect()[0].x == -2147483648
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")


@pytest.fixture()
def in_los_angeles(fn_spark):
    fn_spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    yield fn_spark
    fn_spark.conf.unset("spark.sql.session.timeZone")


def _epoch(wall: datetime.datetime, zone: str) -> float:
    from zoneinfo import ZoneInfo
    return wall.replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_timestamps_cast_to_and_from_seconds_since_the_epoch(in_los_angeles):
    # Spark allows these casts in ANSI mode (SPARK-37714): a timestamp is its instant's seconds since the
    # epoch, whole (floorDiv) for integer types; a number of seconds is the timestamp of that instant.
    # The literal is a wall time in the session zone.
    spark = in_los_angeles
    wall = datetime.datetime(2024, 1, 1, 12, 0, 0, 500000)
    seconds = _epoch(wall, "America/Los_Angeles")
    row = spark.sql("SELECT CAST(TIMESTAMP'2024-01-01 12:00:00.5' AS BIGINT) AS l, "
                    "CAST(TIMESTAMP'2024-01-01 12:00:00.5' AS DOUBLE) AS d, "
                    "CAST(TIMESTAMP'1969-12-31 15:59:59.5' AS BIGINT) AS before, "
                    "CAST(TIMESTAMP'2024-01-01 12:00:00.5' AS STRING) AS s").collect()[0]
    assert (row.l, row.d, row.s) == (int(seconds // 1), seconds, "2024-01-01 12:00:00.5")
    assert row.before == -1                       # half a second before the epoch floors to -1
    from pyspark.sql import functions as F
    df = spark.sql("SELECT TIMESTAMP'2024-01-01 12:00:00.5' AS t, 1704139200 AS n")
    out = df.select(F.col("t").cast("long"), F.col("t").cast("int"), F.col("n").cast("timestamp").cast("string"),
                    F.col("t").cast("string")).collect()[0]
    assert tuple(out) == (int(seconds // 1), int(seconds // 1), "2024-01-01 12:00:00", "2024-01-01 12:00:00.5")
    assert df.selectExpr("CAST(t AS BIGINT)").collect()[0][0] == int(seconds // 1)


def test_a_timestamp_cast_to_int_out_of_range_raises(fn_spark):
    from pyspark.errors import ArithmeticException
    with pytest.raises(ArithmeticException):
        fn_spark.sql("SELECT CAST(TIMESTAMP'2100-01-01 00:00:00' AS INT) AS x").collect()


def test_sql_cast_of_text_to_timestamp_is_the_wall_time(spark):
    # Spark's CAST('...' AS TIMESTAMP) reads the text in the session zone (no offset needed), with any
    # fraction of a second; it was refused as a TIMESTAMP WITH TIME ZONE that needs an offset
    import datetime
    got = spark.sql("SELECT CAST('2024-01-01 23:59:59.5' AS TIMESTAMP) AS a, "
                    "CAST('2024-01-01T08:00:00' AS TIMESTAMP) AS b, TRY_CAST('x' AS TIMESTAMP) AS c").collect()[0]
    assert got.a == datetime.datetime(2024, 1, 1, 23, 59, 59, 500000)
    assert got.b == datetime.datetime(2024, 1, 1, 8, 0)
    assert got.c is None
    df = spark.createDataFrame([("2024-03-01 12:30:00",)], "s string")
    assert df.selectExpr("CAST(s AS TIMESTAMP) AS t").collect()[0].t == datetime.datetime(2024, 3, 1, 12, 30)


@pytest.mark.parametrize("value, text", [
    # Java's Double.toString (Spark's CAST(double AS STRING)): plain with at least one decimal in
    # [1e-3, 1e7), else one digit, the point, the rest of the shortest digits and E with the exponent
    (1.0, "1.0"), (0.1, "0.1"), (2.5, "2.5"), (0.001, "0.001"), (9999999.0, "9999999.0"), (1e7, "1.0E7"),
    (1e10, "1.0E10"), (123456789.0, "1.23456789E8"), (1e-5, "1.0E-5"), (-0.00099, "-9.9E-4"),
    (1.5e-7, "1.5E-7"), (-2.5e300, "-2.5E300"), (0.0, "0.0"), (-0.0, "-0.0"),
    (float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"), (None, None),
])
def test_double_to_string_is_java_s_text(spark, value, text):
    from pyspark.sql import functions as F
    df = spark.createDataFrame([(value,)], "x double")
    assert df.select(F.col("x").cast("string").alias("s")).collect()[0].s == text
    df.createOrReplaceTempView("dtext")
    assert spark.sql("SELECT CAST(x AS STRING) AS s FROM dtext").collect()[0].s == text


def test_float_to_string_is_java_s_text(spark):
    # Float.toString: the float's own shortest digits (0.1f is 0.1, not 0.10000000149011612)
    from pyspark.sql import functions as F
    df = spark.createDataFrame([(0.1, 1e10, 3.0)], "a float, b float, c float")
    assert [tuple(r) for r in df.select(*[F.col(c).cast("string") for c in "abc"]).collect()] == \
        [("0.1", "1.0E10", "3.0")]
