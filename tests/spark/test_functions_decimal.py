"""Decimal arithmetic with Spark's result types (``DecimalPrecision``), through the real pyspark-client.

The expected types come from the rules in Spark's ``DecimalPrecision`` documentation, written out below
(``spark_type``), with ``spark.sql.decimalOperations.allowPrecisionLoss`` on (Spark's default):

=========  ==========================================  ======================
operation  result precision                            result scale
=========  ==========================================  ======================
e1 + e2    max(s1, s2) + max(p1 - s1, p2 - s2) + 1     max(s1, s2)
e1 - e2    max(s1, s2) + max(p1 - s1, p2 - s2) + 1     max(s1, s2)
e1 * e2    p1 + p2 + 1                                 s1 + s2
e1 / e2    p1 - s1 + s2 + max(6, s1 + p2 + 1)          max(6, s1 + p2 + 1)
e1 % e2    min(p1 - s1, p2 - s2) + max(s1, s2)         max(s1, s2)
=========  ==========================================  ======================

A precision over 38 keeps the integer digits and gives up scale down to min(scale, 6). An INT operand is a
DECIMAL(10,0), a BIGINT DECIMAL(20,0), an integer literal the digits it has. The values are the exact result
rounded HALF_UP to that scale (Python's ``decimal`` here), NULL or an error when it does not fit.
"""

from __future__ import annotations

import decimal
from decimal import Decimal as D

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import fn_spark  # noqa: E402,F401


def spark_type(op: str, p1: int, s1: int, p2: int, s2: int) -> tuple[int, int]:
    if op in "+-":
        p, s = max(s1, s2) + max(p1 - s1, p2 - s2) + 1, max(s1, s2)
    elif op == "*":
        p, s = p1 + p2 + 1, s1 + s2
    elif op == "/":
        s = max(6, s1 + p2 + 1)
        p = p1 - s1 + s2 + s
    else:
        p, s = min(p1 - s1, p2 - s2) + max(s1, s2), max(s1, s2)
    if p > 38:
        s = max(38 - (p - s), min(s, 6))
        p = 38
    return p, s


def exact(op: str, a: D, b: D, p: int, s: int) -> D | None:
    if a is None or b is None:
        return None
    with decimal.localcontext() as ctx:
        ctx.prec = 200
        value = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                 "%": lambda: a % b}[op]()
        value = value.quantize(D(1).scaleb(-s), rounding=decimal.ROUND_HALF_UP)
    return None if abs(value) >= D(10) ** (p - s) else value


PAIRS = [
    # (p1, s1, p2, s2, rows)
    (5, 2, 4, 1, [(D("1.00"), D("3.0")), (D("10.50"), D("0.7")), (D("-2.00"), D("3.0")), (None, D("1.0")),
                  (D("999.99"), D("-0.1"))]),
    (10, 2, 10, 2, [(D("1.00"), D("3.00")), (D("-12345678.91"), D("0.07"))]),
    # wide operands: the adjusted scale of 6 rounds HALF_UP (a tie goes away from zero)
    (38, 10, 38, 10, [(D("1.0000001"), D("2")), (D("-1.0000001"), D("2")), (D("0.0000015"), D("1")),
                      (D("-0.0000015"), D("1")), (D("12345678901234567890.1234567891"), D("0.0000000003"))]),
    (38, 0, 38, 38, [(D("1"), D("0.5")), (D("-7"), D("0.33333333333333333333333333333333333333"))]),
]


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%"])
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"d{p[0]}_{p[1]}-d{p[2]}_{p[3]}")
def test_decimal_operators_take_spark_result_types(fn_spark, op, pair):
    from pyspark.sql.types import DecimalType
    p1, s1, p2, s2, rows = pair
    df = fn_spark.createDataFrame(rows, f"a decimal({p1},{s1}), b decimal({p2},{s2})")
    build = {"+": lambda: df.a + df.b, "-": lambda: df.a - df.b, "*": lambda: df.a * df.b,
             "/": lambda: df.a / df.b, "%": lambda: df.a % df.b}[op]
    out = df.select(build())
    p, s = spark_type(op, p1, s1, p2, s2)
    assert out.schema.fields[0].dataType == DecimalType(p, s)
    assert out.columns == [f"(a {op} b)"]
    fn_spark.conf.set("spark.sql.ansi.enabled", "false")      # the over-wide products are NULL, not errors
    try:
        got = [r[0] for r in out.collect()]
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")
    assert got == [exact(op, a, b, p, s) for a, b in rows]


def test_spark_sql_decimal_arithmetic_takes_spark_result_types(fn_spark):
    from pyspark.sql.types import DecimalType
    out = fn_spark.sql("SELECT CAST(1 AS DECIMAL(10,2)) / CAST(3 AS DECIMAL(10,2)) AS q, "
                       "CAST(1.5 AS DECIMAL(38,10)) * CAST(3 AS DECIMAL(38,10)) AS m, "
                       "CAST(2.5 AS DECIMAL(5,2)) + CAST(1 AS DECIMAL(4,1)) AS s, "
                       "CAST(-7.5 AS DECIMAL(3,1)) % 2 AS r")
    want = [("q", "/", 10, 2, 10, 2, D("1"), D("3")), ("m", "*", 38, 10, 38, 10, D("1.5"), D("3")),
            ("s", "+", 5, 2, 4, 1, D("2.5"), D("1")), ("r", "%", 3, 1, 1, 0, D("-7.5"), D("2"))]
    row = out.collect()[0]
    for (name, op, p1, s1, p2, s2, a, b), field in zip(want, out.schema.fields):
        p, s = spark_type(op, p1, s1, p2, s2)
        assert field.dataType == DecimalType(p, s), name
        assert row[name] == exact(op, a, b, p, s), name


def test_integer_operands_widen_as_spark_does(fn_spark):
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType
    df = fn_spark.createDataFrame([(D("1.25"), 3, 7)], "d decimal(5,2), i int, l long")
    out = df.select(df.d / df.i, df.d * df.l, df.d + F.lit(100), df.d / 3)
    types = [f.dataType for f in out.schema.fields]
    # INT is DECIMAL(10,0), BIGINT DECIMAL(20,0), the literal 100 DECIMAL(3,0) and 3 DECIMAL(1,0)
    assert types == [DecimalType(*spark_type("/", 5, 2, 10, 0)), DecimalType(*spark_type("*", 5, 2, 20, 0)),
                     DecimalType(*spark_type("+", 5, 2, 3, 0)), DecimalType(*spark_type("/", 5, 2, 1, 0))]
    row = out.collect()[0]
    assert list(row) == [exact("/", D("1.25"), D(3), *spark_type("/", 5, 2, 10, 0)),
                         exact("*", D("1.25"), D(7), *spark_type("*", 5, 2, 20, 0)),
                         exact("+", D("1.25"), D(100), *spark_type("+", 5, 2, 3, 0)),
                         exact("/", D("1.25"), D(3), *spark_type("/", 5, 2, 1, 0))]


def test_a_double_operand_makes_the_operation_double(fn_spark):
    from pyspark.sql.types import DoubleType
    df = fn_spark.createDataFrame([(D("1.50"), 0.25)], "d decimal(5,2), x double")
    out = df.select(df.d * df.x)
    assert out.schema.fields[0].dataType == DoubleType()
    assert out.collect()[0][0] == 0.375


def test_pmod_of_decimals_is_never_negative_for_a_positive_divisor(fn_spark):
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType
    rows = [(D("-7.5"), D("2")), (D("7.5"), D("-2")), (D("-7.5"), D("-2")), (D("7.5"), D("2")), (None, D("2"))]
    df = fn_spark.createDataFrame(rows, "a decimal(3,1), b decimal(1,0)")
    out = df.select(F.pmod("a", "b"))
    assert out.schema.fields[0].dataType == DecimalType(*spark_type("%", 3, 1, 1, 0))
    # Spark: r = a % n; if r < 0 then (r + n) % n else r
    assert [r[0] for r in out.collect()] == [D("0.5"), D("1.5"), D("-1.5"), D("1.5"), None]


def test_decimal_overflow_raises_in_ansi_mode_and_is_null_without(fn_spark):
    from pyspark.errors import ArithmeticException
    big = D("9" * 38)
    df = fn_spark.createDataFrame([(big, D("1"))], "a decimal(38,0), b decimal(38,0)")
    with pytest.raises(ArithmeticException):
        df.select(df.a + df.b).collect()
    fn_spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        assert df.select(df.a + df.b, df.a - df.b).collect()[0][:] == (None, D("9" * 37 + "8"))
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")


def test_decimal_division_by_zero_is_null_without_ansi_mode(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(D("1.50"), D("0.00"))], "a decimal(10,2), b decimal(10,2)")
    assert df.select(F.try_divide("a", "b"), F.try_mod("a", "b")).collect()[0][:] == (None, None)
    fn_spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        assert df.select(df.a / df.b, df.a % df.b).collect()[0][:] == (None, None)
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")


def test_select_expr_arithmetic_is_spark_sqls(fn_spark):
    # selectExpr/expr text binds as spark.sql does: Spark's decimal types, and Spark's names for them
    from pyspark.sql.types import DecimalType
    df = fn_spark.createDataFrame([(D("1.50"), D("3.0"))], "d decimal(5,2), e decimal(4,1)")
    out = df.selectExpr("d / e", "d * e")
    assert out.columns == ["(d / e)", "(d * e)"]
    assert [f.dataType for f in out.schema.fields] == [DecimalType(*spark_type("/", 5, 2, 4, 1)),
                                                       DecimalType(*spark_type("*", 5, 2, 4, 1))]
    assert list(out.collect()[0]) == [exact("/", D("1.50"), D("3.0"), *spark_type("/", 5, 2, 4, 1)),
                                      exact("*", D("1.50"), D("3.0"), *spark_type("*", 5, 2, 4, 1))]


@pytest.mark.parametrize("text", ["a / b", "a % b", "x / y", "d / e"])
def test_division_by_zero_in_sql_text_raises_in_ansi_mode_and_is_null_without(fn_spark, text):
    from pyspark.errors import ArithmeticException
    df = fn_spark.createDataFrame([(1, 0, 1.5, 0.0, D("1.50"), D("0.0"))],
                                  "a int, b int, x double, y double, d decimal(5,2), e decimal(4,1)")
    df.createOrReplaceTempView("zeros")
    for run in (lambda: df.selectExpr(text).collect(), lambda: fn_spark.sql(f"SELECT {text} FROM zeros").collect()):
        with pytest.raises(ArithmeticException) as info:
            run()
        assert info.value.getErrorClass() == "DIVIDE_BY_ZERO"
    fn_spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        assert df.selectExpr(text).collect()[0][0] is None
        assert fn_spark.sql(f"SELECT {text} FROM zeros").collect()[0][0] is None
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")


def test_cast_in_sql_text_raises_in_ansi_mode_and_try_cast_does_not(fn_spark):
    from pyspark.errors import PySparkException
    df = fn_spark.createDataFrame([("x",)], "s string")
    df.createOrReplaceTempView("texts")
    with pytest.raises(PySparkException, match="'x'"):
        fn_spark.sql("SELECT CAST(s AS INT) FROM texts").collect()
    with pytest.raises(PySparkException, match="'x'"):
        df.selectExpr("CAST(s AS INT)").collect()
    assert fn_spark.sql("SELECT TRY_CAST(s AS INT) FROM texts").collect()[0][0] is None
    fn_spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        assert fn_spark.sql("SELECT CAST(s AS INT) FROM texts").collect()[0][0] is None
        assert df.selectExpr("CAST(s AS INT)").collect()[0][0] is None
    finally:
        fn_spark.conf.set("spark.sql.ansi.enabled", "true")
