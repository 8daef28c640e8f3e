"""Spark's math functions and arithmetic through the real pyspark-client, table-driven.

Expected values are Spark's, from its documentation (pyspark.sql.functions docstrings and the Spark SQL
function reference): e.g. ``pmod(-10.0, 3.0) = 2.0``, ``bround(2.5, 0) = 2.0``, ``round(2.5, 0) = 3.0``,
``width_bucket(5.3, 0.2, 10.6, 5) = 3``, ``conv('010101', 2, 16) = '15'``.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import check, fn_spark  # noqa: E402,F401

NAN = float("nan")
X = "x double"
I = "i int"
L = "l long"

CASES = [
    # operators: / is DOUBLE division, % keeps the integer type, names as Spark's
    ("divide-int", "a int, b int", [(5, 2), (None, 2), (-7, 2)], lambda F, d: d.a / d.b, [2.5, None, -3.5], "(a / b)"),
    ("remainder-int", "a int, b int", [(5, 2), (-7, 2), (7, -2), (None, 1)], lambda F, d: d.a % d.b, [1, -1, 1, None],
     "(a % b)"),
    ("add-int", "a int, b int", [(1, 2), (None, 2)], lambda F, d: d.a + d.b, [3, None], "(a + b)"),
    ("multiply-long", "a long, b long", [(3, 4)], lambda F, d: d.a * d.b, [12], "(a * b)"),
    ("subtract-double", "a double, b double", [(1.5, 0.25)], lambda F, d: d.a - d.b, [1.25], "(a - b)"),
    ("pmod-double", "a double, b double",
     [(1.0, NAN), (NAN, 2.0), (10.0, 3.0), (-3.0, 4.0), (-10.0, 3.0), (-5.0, -6.0), (7.0, -8.0), (1.0, 2.0)],
     lambda F, d: F.pmod("a", "b"), [NAN, NAN, 1.0, 1.0, 2.0, -5.0, 7.0, 1.0], "pmod(a, b)"),
    ("pmod-int", "a int, b int", [(-7, 3), (7, 3), (-7, -3), (None, 3)], lambda F, d: F.pmod("a", "b"),
     [2, 1, -1, None], "pmod(a, b)"),
    # rounding: round HALF_UP, bround HALF_EVEN, on the decimal value the double prints as
    ("round-half-up", X, [(2.5,), (-2.5,), (0.5,), (None,)], lambda F, d: F.round("x"), [3.0, -3.0, 1.0, None],
     "round(x, 0)"),
    ("round-digits", X, [(2.1267,), (2.675,), (1.005,)], lambda F, d: F.round("x", 2), [2.13, 2.68, 1.01],
     "round(x, 2)"),
    ("round-negative-digits", I, [(15,), (25,), (-15,), (14,)], lambda F, d: F.round("i", -1), [20, 30, -20, 10],
     "round(i, -1)"),
    ("bround-half-even", X, [(2.5,), (3.5,), (-2.5,), (None,)], lambda F, d: F.bround("x"), [2.0, 4.0, -2.0, None],
     "bround(x, 0)"),
    ("bround-digits", X, [(2.1267,), (2.125,)], lambda F, d: F.bround("x", 2), [2.13, 2.12], "bround(x, 2)"),
    ("bround-int", I, [(25,), (35,), (-25,)], lambda F, d: F.bround("i", -1), [20, 40, -20], "bround(i, -1)"),
    ("floor-bigint", X, [(2.5,), (-0.1,), (None,)], lambda F, d: F.floor("x"), [2, -1, None], "FLOOR(x)"),
    ("ceil-bigint", X, [(-0.1,), (2.1,)], lambda F, d: F.ceil("x"), [0, 3], "CEIL(x)"),
    ("rint", X, [(10.6,), (10.3,), (2.5,)], lambda F, d: F.rint("x"), [11.0, 10.0, 2.0], "rint(x)"),
    # logarithms: NULL outside the domain; log(base, x)
    ("ln", X, [(math.e,), (0.0,), (-1.0,), (None,)], lambda F, d: F.log("x"), [1.0, None, None, None], "ln(x)"),
    ("log-base", X, [(8.0,), (0.0,)], lambda F, d: F.log(2.0, d.x), [3.0, None], "LOG(2.0, x)"),
    ("log10", X, [(100.0,), (-5.0,)], lambda F, d: F.log10("x"), [2.0, None], "LOG10(x)"),
    ("log2", X, [(8.0,)], lambda F, d: F.log2("x"), [3.0], "LOG2(x)"),
    ("log1p", X, [(0.0,), (-1.0,)], lambda F, d: F.log1p("x"), [0.0, None], "LOG1P(x)"),
    ("sqrt", X, [(4.0,), (-1.0,), (None,)], lambda F, d: F.sqrt("x"), [2.0, NAN, None], "SQRT(x)"),
    ("exp", X, [(0.0,)], lambda F, d: F.exp("x"), [1.0], "EXP(x)"),
    ("expm1", X, [(0.0,)], lambda F, d: F.expm1("x"), [0.0], "EXPM1(x)"),
    ("cbrt", X, [(27.0,)], lambda F, d: F.cbrt("x"), [3.0], "CBRT(x)"),
    ("pow", "a double, b double", [(2.0, 10.0), (None, 1.0)], lambda F, d: F.pow("a", "b"), [1024.0, None],
     "POWER(a, b)"),
    ("hypot", "a double, b double", [(3.0, 4.0)], lambda F, d: F.hypot("a", "b"), [5.0], "HYPOT(a, b)"),
    ("atan2", "a double, b double", [(1.0, 1.0)], lambda F, d: F.atan2("a", "b"), [math.pi / 4], "ATAN2(a, b)"),
    # trigonometry
    ("asin", X, [(1.0,), (2.0,)], lambda F, d: F.asin("x"), [math.pi / 2, NAN], "ASIN(x)"),
    ("acos", X, [(1.0,)], lambda F, d: F.acos("x"), [0.0], "ACOS(x)"),
    ("atan", X, [(0.0,)], lambda F, d: F.atan("x"), [0.0], "ATAN(x)"),
    ("sin", X, [(0.0,)], lambda F, d: F.sin("x"), [0.0], "SIN(x)"),
    ("cos", X, [(0.0,)], lambda F, d: F.cos("x"), [1.0], "COS(x)"),
    ("tan", X, [(0.0,)], lambda F, d: F.tan("x"), [0.0], "TAN(x)"),
    ("cot", X, [(math.pi / 4,)], lambda F, d: F.cot("x"), [1.0 / math.tan(math.pi / 4)], "COT(x)"),
    ("csc", X, [(math.pi / 2,)], lambda F, d: F.csc("x"), [1.0], "CSC(x)"),
    ("sec", X, [(0.0,)], lambda F, d: F.sec("x"), [1.0], "SEC(x)"),
    ("sinh", X, [(0.0,)], lambda F, d: F.sinh("x"), [0.0], "SINH(x)"),
    ("cosh", X, [(0.0,)], lambda F, d: F.cosh("x"), [1.0], "COSH(x)"),
    ("tanh", X, [(0.0,)], lambda F, d: F.tanh("x"), [0.0], "TANH(x)"),
    ("asinh", X, [(0.0,)], lambda F, d: F.asinh("x"), [0.0], "ASINH(x)"),
    ("acosh", X, [(1.0,)], lambda F, d: F.acosh("x"), [0.0], "ACOSH(x)"),
    ("atanh", X, [(0.0,)], lambda F, d: F.atanh("x"), [0.0], "ATANH(x)"),
    ("degrees", X, [(math.pi,)], lambda F, d: F.degrees("x"), [180.0], "DEGREES(x)"),
    ("radians", X, [(180.0,)], lambda F, d: F.radians("x"), [math.pi], "RADIANS(x)"),
    ("signum", X, [(-5.0,), (6.0,), (NAN,), (None,)], lambda F, d: F.signum("x"), [-1.0, 1.0, NAN, None],
     "SIGNUM(x)"),
    ("e", I, [(1,)], lambda F, d: F.e(), [math.e], "E()"),
    ("pi", I, [(1,)], lambda F, d: F.pi(), [math.pi], "PI()"),
    ("abs", I, [(-3,), (None,)], lambda F, d: F.abs("i"), [3, None], "abs(i)"),
    ("negative", I, [(3,)], lambda F, d: F.negative("i"), [-3], "negative(i)"),
    # integers
    ("factorial", I, [(5,), (0,), (20,), (21,), (-1,), (None,)], lambda F, d: F.factorial("i"),
     [120, 1, 2432902008176640000, None, None, None], "factorial(i)"),
    ("bin", L, [(5,), (0,), (-1,)], lambda F, d: F.bin("l"), ["101", "0", "1" * 64], "bin(l)"),
    ("hex-int", L, [(17,), (-1,), (None,)], lambda F, d: F.hex("l"), ["11", "F" * 16, None], "hex(l)"),
    ("hex-string", "s string", [("Spark SQL",), ("",)], lambda F, d: F.hex("s"), ["537061726B2053514C", ""],
     "hex(s)"),
    ("unhex", "s string", [("537061726B2053514C",), ("A",), ("zz",)], lambda F, d: F.unhex("s"),
     [b"Spark SQL", b"\n", None], "unhex(s)"),
    ("conv", "n string", [("010101",), ("101",), ("001",)], lambda F, d: F.conv(d.n, 2, 16), ["15", "5", "1"],
     "conv(n, 2, 16)"),
    ("conv-negative-base", "n string", [("-10",)], lambda F, d: F.conv(d.n, 16, -10), ["-16"], None),
    ("conv-negative-unsigned", "n string", [("-10",)], lambda F, d: F.conv(d.n, 16, 10), ["18446744073709551600"],
     None),
    ("shiftleft", I, [(21,), (1,)], lambda F, d: F.shiftleft("i", 1), [42, 2], "shiftleft(i, 1)"),
    ("shiftright", I, [(42,), (-8,)], lambda F, d: F.shiftright("i", 1), [21, -4], "shiftright(i, 1)"),
    ("shiftrightunsigned", L, [(-8,)], lambda F, d: F.shiftrightunsigned("l", 60), [15],
     "shiftrightunsigned(l, 60)"),
    ("shift-int-overflow", I, [(1,)], lambda F, d: F.shiftleft("i", 31), [-2147483648], None),
    ("bitwise-not", I, [(0,), (5,)], lambda F, d: F.bitwise_not("i"), [-1, -6], "~i"),
    ("bitwise-and", "a int, b int", [(12, 10)], lambda F, d: d.a.bitwiseAND(d.b), [8], "(a & b)"),
    ("bitwise-or", "a int, b int", [(12, 10)], lambda F, d: d.a.bitwiseOR(d.b), [14], "(a | b)"),
    ("bitwise-xor", "a int, b int", [(12, 10)], lambda F, d: d.a.bitwiseXOR(d.b), [6], "(a ^ b)"),
    ("bit-count", L, [(7,), (0,), (-1,)], lambda F, d: F.bit_count("l"), [3, 0, 64], "bit_count(l)"),
    ("bit-get", L, [(11,), (11,)], lambda F, d: F.bit_get("l", F.lit(0)), [1, 1], None),
    ("getbit", L, [(11,)], lambda F, d: F.getbit("l", F.lit(2)), [0], None),
    ("try-add-overflow", "a int, b int", [(2147483647, 1), (1, 2)], lambda F, d: F.try_add("a", "b"), [None, 3],
     None),
    ("try-subtract-overflow", "a long, b long", [(-9223372036854775808, 1), (5, 2)],
     lambda F, d: F.try_subtract("a", "b"), [None, 3], None),
    ("try-multiply-overflow", "a long, b long", [(9223372036854775807, 2), (6, 7)],
     lambda F, d: F.try_multiply("a", "b"), [None, 42], None),
    ("width-bucket", "v double, mn double, mx double, n long",
     [(5.3, 0.2, 10.6, 5), (-2.1, 1.3, 3.4, 3), (8.1, 0.0, 5.7, 4), (-0.9, 5.2, 0.5, 2)],
     lambda F, d: F.width_bucket("v", "mn", "mx", "n"), [3, 0, 5, 3], "width_bucket(v, mn, mx, n)"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_math(fn_spark, case):
    check(fn_spark, case)


def test_integer_division_by_zero_raises_in_ansi_mode(fn_spark):
    from pyspark.errors import ArithmeticException
    df = fn_spark.createDataFrame([(1, 0)], "a int, b int")
    for build in (lambda d: d.a / d.b, lambda d: d.a % d.b):
        with pytest.raises(ArithmeticException) as info:
            df.select(build(df)).collect()
        assert info.value.getErrorClass() == "DIVIDE_BY_ZERO"


def test_decimal_division_by_zero_raises_in_ansi_mode(fn_spark):
    from decimal import Decimal
    from pyspark.errors import ArithmeticException
    df = fn_spark.createDataFrame([(Decimal("1.50"), Decimal("0.00"))], "a decimal(10,2), b decimal(10,2)")
    with pytest.raises(ArithmeticException) as info:
        df.select(df.a / df.b).collect()
    assert info.value.getErrorClass() == "DIVIDE_BY_ZERO"
    ok = fn_spark.createDataFrame([(Decimal("1.50"), Decimal("0.50"))], "a decimal(10,2), b decimal(10,2)")
    assert float(ok.select(ok.a / ok.b).collect()[0][0]) == 3.0


def test_integer_overflow_raises_in_ansi_mode(fn_spark):
    from pyspark.errors import ArithmeticException
    df = fn_spark.createDataFrame([(2147483647, 1)], "a int, b int")
    with pytest.raises(ArithmeticException) as info:
        df.select(df.a + df.b).collect()
    assert info.value.getErrorClass() == "ARITHMETIC_OVERFLOW"


def test_invalid_cast_raises_in_ansi_mode(fn_spark):
    from pyspark.errors import NumberFormatException
    from pyspark.sql import functions as F
    with pytest.raises(NumberFormatException) as info:
        fn_spark.range(1).select(F.lit("a").cast("int")).collect()
    assert info.value.getErrorClass() == "CAST_INVALID_INPUT"


def test_string_to_integer_cast_drops_the_fraction(fn_spark):
    df = fn_spark.createDataFrame([("2.7",), ("-2.7",), (" 7 ",), (None,)], "s string")
    assert [r[0] for r in df.select(df.s.cast("int")).collect()] == [2, -2, 7, None]


def test_ansi_off_gives_null_and_wraps(fn_spark):
    from pyspark.sql import functions as F
    fn_spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        df = fn_spark.createDataFrame([(1, 0, 2147483647, "a")], "a int, b int, c int, s string")
        row = df.select(df.a / df.b, df.a % df.b, F.pmod("a", "b"), df.c + df.a, df.s.cast("int")).collect()[0]
        assert list(row) == [None, None, None, -2147483648, None]
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")
    assert fn_spark.conf.get("spark.sql.ansi.enabled") == "true"


def test_try_divide_is_null_in_ansi_mode(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(1, 0), (6, 3)], "a int, b int")
    assert [r[0] for r in df.select(F.try_divide("a", "b")).collect()] == [None, 2.0]
