"""Spark's math functions and arithmetic operators, with Spark's semantics (see docs/spark.md, "Functions").

- ``/`` is DOUBLE division for integers and doubles; on decimals ``+ - * / %`` and ``pmod`` take Spark's
  result precision and scale (``DecimalPrecision``) and round HALF_UP;
- ``%`` and ``pmod`` of integers are integers (``%`` takes the dividend's sign, ``pmod`` is never negative);
- under ANSI mode (``spark.sql.ansi.enabled``, on by default) a division by zero raises DIVIDE_BY_ZERO and
  an integer overflow ARITHMETIC_OVERFLOW; with it off a division by zero is NULL and overflow wraps;
- ``round`` is HALF_UP and ``bround`` HALF_EVEN, on the decimal value a double prints as;
- logarithms are NULL outside their domain; ``floor``/``ceil`` of a double are BIGINT.
"""

from __future__ import annotations

import math

import pyarrow as pa

from quarry.api.column import Column, lit
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.spark_functions import (bind_spark_decimal, bind_spark_interval, is_year_month,
                                            spark_interval_unary, spark_year_month_unary)
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.functions.base import Call, spark_function
from quarry.spark.functions.internal import internal

__all__: list[str] = []


def shown(display: str):
    """A namer that shows the function as ``display(args)`` (Spark's upper-case pretty names)."""
    return lambda name, args, call: f"{display}({', '.join(args)})"


def infix(op: str):
    return lambda name, args, call: f"({args[0]} {op} {args[1]})"


# -- operators --------------------------------------------------------------------------------------


def _arith(op: str, call: Call) -> Column:
    call.expect(2)
    a, b = call.args
    ansi = call.translator.ansi
    method = {"add": "__add__", "subtract": "__sub__", "multiply": "__mul__", "divide": "__truediv__",
              "remainder": "__mod__"}[op]

    def bind(ctx):
        ea, eb = a.bind(ctx), b.bind(ctx)
        ta, tb = ea.dtype, eb.dtype
        plain = (T.is_integer(ta) or T.is_null(ta) or T.is_float(ta)) and \
                (T.is_integer(tb) or T.is_null(tb) or T.is_float(tb))
        if plain and not (T.is_null(ta) and T.is_null(tb)):
            if op in ("add", "subtract", "multiply") and (T.is_float(ta) or T.is_float(tb)):
                return FN.call(op, [ea, eb])
            return FN.call("spark_arith", [FN.lit(op), ea, eb, FN.lit(ansi)])
        interval = bind_spark_interval(op, ea, eb)
        if interval is not None:
            return interval
        decimal = bind_spark_decimal(op, ea, eb, ansi)
        if decimal is not None:
            return decimal
        return getattr(_Bound(ea), method)(_Bound(eb)).bind(ctx)
    return Column(bind, op)


def _decimal_or(op: str, a: Column, b: Column, ansi: bool, otherwise: str) -> Column:
    """``op`` with Spark's decimal rules when an operand is a decimal, else the internal ``otherwise``."""
    def bind(ctx):
        ea, eb = a.bind(ctx), b.bind(ctx)
        decimal = bind_spark_decimal(op, ea, eb, ansi)
        if decimal is not None:
            return decimal
        return FN.call(otherwise, [FN.lit(op), ea, eb, FN.lit(ansi)])
    return Column(bind, op)


class _Bound(Column):
    """An already bound expression as a Column (so the Column API's operators apply to it)."""

    def __init__(self, e):
        super().__init__(lambda ctx, e=e: e, "bound")


for _name, _op, _sym in (("+", "add", "+"), ("-", "subtract", "-"), ("*", "multiply", "*"),
                         ("/", "divide", "/"), ("%", "remainder", "%")):
    spark_function(_name, namer=infix(_sym))((lambda op: lambda call: _arith(op, call))(_op))


@spark_function("mod", namer=infix("%"))
def _mod(call: Call):
    return _arith("remainder", call)


@spark_function("pmod")
def _pmod(call: Call):
    call.expect(2)
    a, b = call.args
    return _decimal_or("pmod", a, b, call.translator.ansi, "spark_arith")


@spark_function("try_divide")
def _try_divide(call: Call):
    call.expect(2)
    return _decimal_or("divide", call.args[0], call.args[1], False, "spark_arith")


@spark_function("try_mod")
def _try_mod(call: Call):
    call.expect(2)
    return _decimal_or("remainder", call.args[0], call.args[1], False, "spark_arith")


# -- one-argument double functions -----------------------------------------------------------------

_UPPER = {"acos": "ACOS", "acosh": "ACOSH", "asin": "ASIN", "asinh": "ASINH", "atan": "ATAN", "atanh": "ATANH",
          "cbrt": "CBRT", "cos": "COS", "cosh": "COSH", "cot": "COT", "csc": "CSC", "degrees": "DEGREES",
          "exp": "EXP", "expm1": "EXPM1", "log10": "LOG10", "log1p": "LOG1P", "log2": "LOG2",
          "radians": "RADIANS", "sec": "SEC", "signum": "SIGNUM", "sin": "SIN", "sinh": "SINH", "sqrt": "SQRT",
          "tan": "TAN", "tanh": "TANH"}
_LOWER = {"ln": "ln", "rint": "rint", "sign": "sign"}

for _name, _display in {**_UPPER, **_LOWER}.items():
    _op = {"sign": "signum"}.get(_name, _name)

    def _unary(call: Call, op=_op):
        call.expect(1)
        return internal("spark_unary_double", op, call.args[0])
    spark_function(_name, namer=shown(_display))(_unary)

spark_function("toDegrees", namer=shown("DEGREES"))(lambda call: internal("spark_unary_double", "degrees",
                                                                          call.args[0]))
spark_function("toRadians", namer=shown("RADIANS"))(lambda call: internal("spark_unary_double", "radians",
                                                                          call.args[0]))


def _log_name(name, args, call):
    return f"ln({args[0]})" if len(args) == 1 else f"LOG({args[0]}, {args[1]})"


@spark_function("log", namer=_log_name)
def _log(call: Call):
    call.expect(1, 2)
    if len(call.protos) == 1:
        return internal("spark_unary_double", "ln", call.args[0])
    return internal("spark_binary_double", "log", call.args[0], call.args[1])


for _name, _display, _op in (("atan2", "ATAN2", "atan2"), ("hypot", "HYPOT", "hypot"),
                             ("power", "POWER", "pow"), ("pow", "POWER", "pow")):
    def _binary(call: Call, op=_op):
        call.expect(2)
        return internal("spark_binary_double", op, call.args[0], call.args[1])
    spark_function(_name, namer=shown(_display))(_binary)


@spark_function("e", namer=shown("E"))
def _e(call: Call):
    call.expect(0)
    return lit(math.e)


@spark_function("pi", namer=shown("PI"))
def _pi(call: Call):
    call.expect(0)
    return lit(math.pi)


def _floor_ceil_name(display):
    return lambda name, args, call: f"{display}({', '.join(args)})" if len(args) == 1 else \
        f"{display.lower()}({', '.join(args)})"


for _name, _display in (("floor", "FLOOR"), ("ceil", "CEIL"), ("ceiling", "CEIL")):
    def _floor_ceil(call: Call, op=_name.replace("ceiling", "ceil")):
        call.expect(1, 2)
        if len(call.protos) == 2:
            raise not_supported(f"`{op}` with a scale")
        return internal("spark_floor_ceil", op, call.args[0])
    spark_function(_name, namer=_floor_ceil_name(_display))(_floor_ceil)


def _round_name(name, args, call):
    return f"{name.lower()}({args[0]}, {args[1] if len(args) > 1 else 0})"


for _name in ("round", "bround"):
    def _round(call: Call, mode=_name):
        call.expect(1, 2)
        digits = call.literal(1, 0)
        if not isinstance(digits, int):
            raise SparkError(f"`{mode}` takes an integer number of digits")
        return internal("spark_round", mode, call.args[0], digits)
    spark_function(_name, namer=_round_name)(_round)


def _interval_or(kind: str, column: Column, otherwise: Column) -> Column:
    """``kind`` ('negate', 'abs') of a day-time interval, or ``otherwise`` for other values."""
    def bind(ctx):
        e = column.bind(ctx)
        if pa.types.is_duration(e.dtype):
            return spark_interval_unary(kind, e)
        if is_year_month(e.dtype):
            return spark_year_month_unary(kind, e)
        return otherwise.bind(ctx)
    return Column(bind, otherwise.name)


@spark_function("abs")
def _abs(call: Call):
    call.expect(1)
    from quarry.api.column import _function_column
    return _interval_or("abs", call.args[0], _function_column("abs", call.args))


@spark_function("negative", namer=lambda n, a, c: f"negative({a[0]})")
def _negative(call: Call):
    call.expect(1)
    return _interval_or("negate", call.args[0], -call.args[0])


@spark_function("positive", namer=lambda n, a, c: f"(+ {a[0]})")
def _positive(call: Call):
    call.expect(1)
    return call.args[0]


@spark_function("factorial")
def _factorial(call: Call):
    call.expect(1)
    return internal("spark_int_unary", "factorial", call.args[0])


@spark_function("bin")
def _bin(call: Call):
    call.expect(1)
    return internal("spark_int_unary", "bin", call.args[0])


@spark_function("bit_count")
def _bit_count(call: Call):
    call.expect(1)
    return internal("spark_int_unary", "bit_count", call.args[0])


@spark_function("bitwise_not", "bitwiseNOT", "~", namer=lambda n, a, c: f"~{a[0]}")
def _bitwise_not(call: Call):
    call.expect(1)
    return internal("spark_int_unary", "bitwise_not", call.args[0])


for _name, _op, _sym in (("&", "and", "&"), ("|", "or", "|"), ("^", "xor", "^"),
                         ("bitwiseAND", "and", "&"), ("bitwiseOR", "or", "|"), ("bitwiseXOR", "xor", "^")):
    def _bitwise(call: Call, op=_op):
        call.expect(2)
        return internal("spark_bitwise", op, call.args[0], call.args[1])
    spark_function(_name, namer=infix(_sym))(_bitwise)


def _shift_builder(op):
    def build(call: Call):
        call.expect(2)
        return internal("spark_shift", op, call.args[0], call.args[1])
    return build


spark_function("shiftleft", "<<", namer=lambda n, a, c: f"shiftleft({a[0]}, {a[1]})")(_shift_builder("left"))
spark_function("shiftright", ">>", namer=lambda n, a, c: f"shiftright({a[0]}, {a[1]})")(_shift_builder("right"))
spark_function("shiftrightunsigned", ">>>", namer=lambda n, a, c: f"shiftrightunsigned({a[0]}, {a[1]})")(
    _shift_builder("right_unsigned"))


@spark_function("hex")
def _hex(call: Call):
    call.expect(1)
    return internal("spark_hex", call.args[0])


@spark_function("unhex")
def _unhex(call: Call):
    call.expect(1)
    return internal("spark_unhex", call.args[0])


@spark_function("conv")
def _conv(call: Call):
    call.expect(3)
    return internal("spark_conv", call.args[0], call.literal(1), call.literal(2))


@spark_function("width_bucket")
def _width_bucket(call: Call):
    call.expect(4)
    return internal("spark_width_bucket", *call.args)


@spark_function("bit_get", "getbit")
def _bit_get(call: Call):
    call.expect(2)
    shifted = internal("spark_shift", "right", call.args[0], call.args[1])
    return internal("spark_bitwise", "and", shifted, 1).cast("tinyint")


for _name in ("try_add", "try_subtract", "try_multiply"):
    def _try(call: Call, op=_name):
        call.expect(2)
        a, b = call.args

        def bind(ctx):
            ea, eb = a.bind(ctx), b.bind(ctx)
            if (T.is_integer(ea.dtype) or T.is_null(ea.dtype)) and (T.is_integer(eb.dtype) or T.is_null(eb.dtype)):
                return FN.call("spark_arith", [FN.lit(op), ea, eb, FN.lit(False)])
            decimal = bind_spark_decimal(op[4:], ea, eb, False)
            if decimal is not None:
                return decimal
            return getattr(_Bound(ea), {"try_add": "__add__", "try_subtract": "__sub__",
                                        "try_multiply": "__mul__"}[op])(_Bound(eb)).bind(ctx)
        return Column(bind, op)
    spark_function(_name)(_try)
