"""Function definitions with Spark's semantics, for the Spark Connect front end (``quarry.spark.functions``).

They are internal (SQL and the DataFrame API do not call them by name): the Spark translator builds
them. Many are one definition for a family of operations named by a constant first argument
(``spark_unary_double('asin', x)``), so the kernels in ``quarry.compute.spark_kernels`` dispatch on
it once per batch. Arguments named ``ansi`` are a constant BOOLEAN: whether Spark's ANSI mode was
on when the call was translated (errors) or off (NULL or wrapped results).
"""

from __future__ import annotations

import datetime

import pyarrow as pa

from quarry.errors import QuarryTypeError, UnsupportedError
from quarry.logical import types as T
from quarry.logical.expressions import Call, Expr, Literal
from quarry.logical.functions import Nulls, Volatility, cast, register

__all__: list[str] = []

TOLERANT = {"nulls": Nulls.TOLERANT}


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t)


def _num(e: Expr, fname: str) -> Expr:
    if T.is_numeric(e.dtype) or T.is_null(e.dtype):
        return e
    if T.is_string(e.dtype):
        return cast(e, T.FLOAT64)           # Spark casts a string argument of a math function implicitly
    raise QuarryTypeError(f"function `{fname}` expects a number, got {T.sql_name(e.dtype)}")


def _dbl(e: Expr, fname: str) -> Expr:
    return cast(_num(e, fname), T.FLOAT64)


def _str(e: Expr, fname: str = "this string function") -> Expr:
    if T.is_nested(e.dtype):
        # arrays and maps are the collection functions' (concat of arrays, reverse of an array, ...)
        raise UnsupportedError(f"Not supported: {fname} of a {T.sql_name(e.dtype)} value")
    return e if T.is_string(e.dtype) else cast(e, T.STRING)


def _long(e: Expr, fname: str) -> Expr:
    if T.is_integer(e.dtype) or T.is_null(e.dtype):
        return cast(e, T.INT64)
    if T.is_string(e.dtype):
        return cast(e, T.INT64)
    raise QuarryTypeError(f"function `{fname}` expects an integer, got {T.sql_name(e.dtype)}")


def _integral(e: Expr, fname: str) -> Expr:
    """An integer argument keeping its width (a NULL becomes INT)."""
    if T.is_integer(e.dtype):
        return e
    if T.is_null(e.dtype):
        return cast(e, T.INT32)
    raise QuarryTypeError(f"function `{fname}` expects an integer, got {T.sql_name(e.dtype)}")


def _call(name, args, dtype, nullable=True):
    return Call(name, tuple(args), dtype, nullable)


def _internal(name, bind, lo, hi=None, **props):
    register(name, "scalar", bind, lo, hi if hi is not None else lo, internal=True, **props)


# -- math ---------------------------------------------------------------------------------------

_internal("spark_unary_double", lambda n, a: _call(n, [a[0], _dbl(a[1], a[0].value)], T.FLOAT64), 2)
_internal("spark_binary_double",
          lambda n, a: _call(n, [a[0], _dbl(a[1], a[0].value), _dbl(a[2], a[0].value)], T.FLOAT64), 3)


def _bind_floor_ceil(name, args):
    op, x = args
    x = _num(x, op.value)
    if T.is_decimal(x.dtype):
        p, s = x.dtype.precision, x.dtype.scale
        return _call(name, [op, x], pa.decimal128(min(max(p - s + 1, 1), 38), 0))
    return _call(name, [op, x if T.is_integer(x.dtype) else cast(x, T.FLOAT64)], T.INT64)


_internal("spark_floor_ceil", _bind_floor_ceil, 2)


def _bind_round(name, args):
    mode, x, digits = args
    x = _num(x, "round")
    if T.is_decimal(x.dtype):
        p, s = x.dtype.precision, x.dtype.scale
        d = digits.value
        scale = max(min(d, s), 0)
        precision = min(max(p - s + scale + 1, 1), 38)
        return _call(name, [mode, x, digits], pa.decimal128(precision, scale))
    if T.is_integer(x.dtype):
        return _call(name, [mode, x, digits], x.dtype)
    if T.is_null(x.dtype):
        x = cast(x, T.FLOAT64)
    return _call(name, [mode, x, digits], x.dtype if x.dtype == pa.float32() else T.FLOAT64)


_internal("spark_round", _bind_round, 3)


def _bind_int_unary(name, args):
    op, x = args
    fname = op.value
    if fname in ("bin",):
        return _call(name, [op, _long(x, fname)], T.STRING)
    if fname in ("factorial",):
        return _call(name, [op, cast(_integral(x, fname), T.INT32)], T.INT64)
    if fname == "bit_count":
        x = x if T.is_integer(x.dtype) or x.dtype == T.BOOL else _integral(x, fname)
        return _call(name, [op, x], T.INT32)
    x = _integral(x, fname)
    return _call(name, [op, x], x.dtype)           # bitwise_not


_internal("spark_int_unary", _bind_int_unary, 2)


def _bind_shift(name, args):
    op, x, k = args
    x = _integral(x, op.value)
    if x.dtype.bit_width < 32:
        x = cast(x, T.INT32)
    return _call(name, [op, x, cast(_integral(k, op.value), T.INT32)], x.dtype)


_internal("spark_shift", _bind_shift, 3)


def _bind_bitwise(name, args):
    op, a, b = args
    a, b = _integral(a, op.value), _integral(b, op.value)
    t = T.common_type(a.dtype, b.dtype) or T.INT64
    return _call(name, [op, cast(a, t), cast(b, t)], t)


_internal("spark_bitwise", _bind_bitwise, 3)


def _bind_hex(name, args):
    x = args[0]
    if T.is_integer(x.dtype) or T.is_null(x.dtype):
        return _call(name, [cast(x, T.INT64)], T.STRING)
    if _is_binary(x.dtype) or T.is_string(x.dtype):
        return _call(name, [x], T.STRING)
    if T.is_numeric(x.dtype):
        return _call(name, [cast(x, T.INT64)], T.STRING)
    raise QuarryTypeError(f"function `hex` expects a number, string or binary, got {T.sql_name(x.dtype)}")


_internal("spark_hex", _bind_hex, 1)
_internal("spark_unhex", lambda n, a: _call(n, [_str(a[0])], T.BINARY), 1)
_internal("spark_conv", lambda n, a: _call(n, [_str(a[0]), a[1], a[2]], T.STRING), 3)


def _bind_arith(name, args):
    """``spark_arith(op, a, b, ansi)`` on two integers (+, -, *: the wider type; overflow raises under
    ANSI and wraps without) or ``spark_divide``/``spark_remainder``/``spark_pmod``."""
    op, a, b, ansi = args
    ta, tb = a.dtype, b.dtype
    if T.is_null(ta):
        ta = tb if not T.is_null(tb) else T.INT32
    if T.is_null(tb):
        tb = ta
    t = T.common_type(ta, tb) or T.FLOAT64
    if op.value == "divide":
        t = T.FLOAT64
    if T.is_integer(t) and t.bit_width < 32 and op.value in ("add", "subtract", "multiply"):
        pass                                   # Spark keeps TINYINT/SMALLINT (and overflows there)
    return _call(name, [op, cast(a, t), cast(b, t), ansi], t)


_internal("spark_arith", _bind_arith, 4)


# -- decimal arithmetic: Spark's DecimalPrecision rules ---------------------------------------------

# the decimal type Spark widens an integer operand to (DecimalType.forType: BYTE 3, SHORT 5, INT 10, LONG 20
# digits; quarry's own BIGINT is DECIMAL(19,0)); an integer literal takes its own digits (fromLiteral)
_SPARK_INT_DIGITS = {8: 3, 16: 5, 32: 10, 64: 20}
MINIMUM_ADJUSTED_SCALE = 6


def spark_decimal_operand(e: Expr) -> pa.DataType | None:
    """The decimal type ``e`` takes in Spark's decimal arithmetic, or None (not a decimal operand)."""
    if T.is_decimal(e.dtype):
        return e.dtype
    if T.is_integer(e.dtype):
        if isinstance(e, Literal) and e.value is not None:
            return T.decimal_for_literal(e.value)
        return pa.decimal128(_SPARK_INT_DIGITS.get(e.dtype.bit_width, 20), 0)
    return None


def adjust_precision_scale(precision: int, scale: int) -> pa.DataType:
    """Spark's ``DecimalType.adjustPrecisionScale`` (``spark.sql.decimalOperations.allowPrecisionLoss``, on
    by default): a result wider than 38 digits keeps its integer digits and gives up scale, down to 6 digits
    (or the scale it had, when less).

    >>> adjust_precision_scale(45, 14)
    Decimal128Type(decimal128(38, 7))
    """
    if precision <= T.MAX_DECIMAL_PRECISION:
        return pa.decimal128(precision, scale)
    int_digits = precision - scale
    min_scale = min(scale, MINIMUM_ADJUSTED_SCALE)
    return pa.decimal128(T.MAX_DECIMAL_PRECISION, max(T.MAX_DECIMAL_PRECISION - int_digits, min_scale))


def spark_decimal_result(op: str, a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The result type of ``a <op> b`` on decimals (Spark's ``DecimalPrecision``).

    >>> spark_decimal_result("divide", pa.decimal128(5, 2), pa.decimal128(4, 1))
    Decimal128Type(decimal128(11, 7))
    """
    p1, s1, p2, s2 = a.precision, a.scale, b.precision, b.scale
    if op in ("add", "subtract"):
        scale = max(s1, s2)
        return adjust_precision_scale(max(p1 - s1, p2 - s2) + scale + 1, scale)
    if op == "multiply":
        return adjust_precision_scale(p1 + p2 + 1, s1 + s2)
    if op == "divide":
        scale = max(MINIMUM_ADJUSTED_SCALE, s1 + p2 + 1)
        return adjust_precision_scale(p1 - s1 + s2 + scale, scale)
    if op in ("remainder", "pmod"):
        scale = max(s1, s2)
        return adjust_precision_scale(min(p1 - s1, p2 - s2) + scale, scale)
    raise ValueError(f"not a decimal operation: {op}")


def bind_spark_decimal(op: str, a: Expr, b: Expr, ansi: bool) -> Expr | None:
    """``a <op> b`` with Spark's decimal result type, when one operand is a decimal and the other a decimal,
    an integer or NULL; None otherwise (a DOUBLE operand makes the operation DOUBLE, as in Spark)."""
    ta, tb = spark_decimal_operand(a), spark_decimal_operand(b)
    if not (T.is_decimal(a.dtype) or T.is_decimal(b.dtype)):
        return None
    if ta is None and T.is_null(a.dtype):
        ta = tb
    if tb is None and T.is_null(b.dtype):
        tb = ta
    if ta is None or tb is None:
        return None
    result = spark_decimal_result(op, ta, tb)
    return _call("spark_decimal_arith", [Literal(op, T.STRING), cast(a, ta), cast(b, tb), Literal(ansi, T.BOOL)],
                 result)


_internal("spark_decimal_arith", lambda n, a: _call(n, a, spark_decimal_result(a[0].value, a[1].dtype, a[2].dtype)),
          4)

# spark_decimal_check(x, ansi): a decimal result put in its Spark type (the call's), raising under ANSI or NULL
# where it has too many digits (quarry's exact sum of a DECIMAL(38, s) may hold 39)
_internal("spark_decimal_check", lambda n, a: _call(n, a, a[0].dtype), 2)
# spark_cast(x, mode): a number cast to another numeric type (the call's) as Spark casts it, ``mode`` being
# 'ansi' (raise on overflow), 'try' (NULL) or 'legacy' (without ANSI mode); built with its type, not bound
_internal("spark_cast", lambda n, a: _call(n, a, a[0].dtype), 2)
_internal("spark_width_bucket",
          lambda n, a: _call(n, [_dbl(a[0], "width_bucket"), _dbl(a[1], "width_bucket"),
                                 _dbl(a[2], "width_bucket"), _long(a[3], "width_bucket")], T.INT64), 4)

# -- day-time intervals -------------------------------------------------------------------------
# Spark's DayTimeIntervalType is an Arrow duration in microseconds (its Arrow mapping); quarry's own
# INTERVAL constants (month, day, nanosecond) stand for one when they have no months.

DAY_TIME = pa.duration("us")


def as_day_time(e: Expr) -> Expr | None:
    """``e`` as a day-time interval: a duration, or an INTERVAL constant without months
    (``INTERVAL '3' DAY``, ``INTERVAL '1' HOUR``); None for anything else."""
    if pa.types.is_duration(e.dtype):
        return e if e.dtype == DAY_TIME else _call("spark_interval", [Literal("to_us", T.STRING), e], DAY_TIME)
    if isinstance(e, Literal) and pa.types.is_interval(e.dtype) and e.value is not None:
        months, days, nanos = tuple(e.value)
        if months == 0:
            return Literal(datetime.timedelta(days=days, microseconds=nanos // 1000), DAY_TIME)
    return None


def _temporal(t: pa.DataType) -> bool:
    return pa.types.is_date(t) or pa.types.is_timestamp(t)


def _as_timestamp(e: Expr) -> Expr:
    return cast(e, T.TIMESTAMP) if pa.types.is_date(e.dtype) else e


def bind_spark_interval(op: str, a: Expr, b: Expr) -> Expr | None:
    """``a <op> b`` where Spark's answer is or takes a day-time interval, or None when neither operand is one
    and the operation is not a difference of dates or timestamps (quarry's own rules then apply, which
    already add INTERVAL constants to dates and timestamps).

    - a timestamp (or date) minus a timestamp (or date) is the interval between them (Spark's
      ``SubtractTimestamps``/``SubtractDates`` with ANSI intervals, its default);
    - a timestamp or date plus or minus a day-time interval is a timestamp;
    - intervals add and subtract; an interval times or divided by a number is an interval, rounded HALF_UP
      to the microsecond."""
    ym = bind_spark_year_month(op, a, b)
    if ym is not None:
        return ym
    ta, tb = a.dtype, b.dtype
    if op == "subtract" and _temporal(ta) and _temporal(tb):
        return _call("spark_interval", [Literal("between", T.STRING), _as_timestamp(a), _as_timestamp(b)],
                     DAY_TIME)
    if not (pa.types.is_duration(ta) or pa.types.is_duration(tb)):
        return None
    da, db = as_day_time(a), as_day_time(b)
    kind = Literal(op, T.STRING)
    if op in ("add", "subtract") and _temporal(ta) and db is not None:
        return _call("spark_interval", [kind, _as_timestamp(a), db], T.TIMESTAMP)
    if op == "add" and da is not None and _temporal(tb):
        return _call("spark_interval", [kind, _as_timestamp(b), da], T.TIMESTAMP)
    if op in ("add", "subtract") and da is not None and db is not None:
        return _call("spark_interval", [kind, da, db], DAY_TIME)
    number = lambda t: T.is_integer(t) or T.is_float(t)          # noqa: E731
    if op == "multiply" and da is not None and number(tb):
        return _call("spark_interval", [kind, da, b], DAY_TIME)
    if op == "multiply" and db is not None and number(ta):
        return _call("spark_interval", [kind, db, a], DAY_TIME)
    if op == "divide" and da is not None and number(tb):
        return _call("spark_interval", [kind, da, b], DAY_TIME)
    if op in ("multiply", "divide") and (T.is_decimal(ta) or T.is_decimal(tb)):
        raise UnsupportedError(f"Not supported: `{op}` of a day-time interval and a DECIMAL",
                               hint="cast the number to DOUBLE")
    raise QuarryTypeError(f"cannot apply `{op}` to {T.sql_name(ta)} and {T.sql_name(tb)}")


def spark_interval_unary(kind: str, e: Expr) -> Expr:
    """A day-time interval's ``negate`` or ``abs``, its ``micros`` (BIGINT), or ``from_micros`` (the
    interval of a BIGINT or DECIMAL(38,0) number of microseconds: an aggregate of ``micros``)."""
    dtype = T.INT64 if kind == "micros" else DAY_TIME
    return _call("spark_interval", [Literal(kind, T.STRING), e], dtype)


# spark_interval(kind, x, y): the day-time interval operations of bind_spark_interval (typed when built)
_internal("spark_interval", lambda n, a: _call(n, a, DAY_TIME), 2, 3)


def bind_spark_make_dt_interval(days: Expr, hours: Expr, mins: Expr, secs: Expr) -> Expr:
    """``make_dt_interval(days, hours, mins, secs)``: Spark's interval of that many days, hours, minutes and
    seconds (``secs`` a DECIMAL(18,6), so to the microsecond)."""
    return _call("spark_make_dt_interval", [_long(days, "make_dt_interval"), _long(hours, "make_dt_interval"),
                                            _long(mins, "make_dt_interval"),
                                            cast(_num(secs, "make_dt_interval"), pa.decimal128(18, 6))],
                 DAY_TIME)


_internal("spark_make_dt_interval", lambda n, a: bind_spark_make_dt_interval(*a), 4)


# -- year-month and calendar intervals ----------------------------------------------------------
# Spark's YearMonthIntervalType is a number of months (Arrow's YEAR_MONTH interval, which pyarrow cannot hold:
# here an extension type over int32), its CalendarIntervalType (``make_interval``) months, days and
# microseconds (Arrow's MONTH_DAY_NANO, as Spark 4 sends it; an extension type over quarry's INTERVAL, which
# stands for SQL text's interval constants). Both are distinct types, so a plan knows which it holds.


class _SparkIntervalType(pa.ExtensionType):
    """A Spark interval type over an Arrow storage type: no parameters, equal by name."""

    STORAGE: pa.DataType
    NAME: str

    def __init__(self):
        super().__init__(self.STORAGE, self.NAME)

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type, serialized):
        return cls()

    def __reduce__(self):
        return type(self), ()

    def __hash__(self):           # a plan's expressions are hashed with their types
        return hash(self.extension_name)


class YearMonthIntervalType(_SparkIntervalType):
    """Spark's ``interval year to month``: int32 months."""

    STORAGE = pa.int32()
    NAME = "quarry.spark.year_month_interval"


class CalendarIntervalType(_SparkIntervalType):
    """Spark's ``interval`` (CalendarIntervalType): months, days and nanoseconds (whole microseconds)."""

    STORAGE = pa.month_day_nano_interval()
    NAME = "quarry.spark.calendar_interval"


YEAR_MONTH = YearMonthIntervalType()
CALENDAR = CalendarIntervalType()
for _type in (YEAR_MONTH, CALENDAR):
    try:
        pa.register_extension_type(_type)
    except pa.ArrowKeyError:          # registered already (a module reloaded)
        pass


def is_year_month(t: pa.DataType) -> bool:
    return isinstance(t, YearMonthIntervalType)


def is_calendar(t: pa.DataType) -> bool:
    return isinstance(t, CalendarIntervalType)


def as_year_month(e: Expr) -> Expr | None:
    """``e`` as a year-month interval: one already, or an INTERVAL constant of whole months
    (``INTERVAL 3 MONTHS``, ``INTERVAL '1-2' YEAR TO MONTH``); None for anything else."""
    if is_year_month(e.dtype):
        return e
    if isinstance(e, Literal) and pa.types.is_interval(e.dtype) and e.value is not None:
        months, days, nanos = tuple(e.value)
        if days == 0 and nanos == 0:
            return _call("spark_ym", [Literal("months_of", T.STRING), Literal(months, T.INT32)], YEAR_MONTH)
    return None


def ym_months(e: Expr) -> Expr:
    """A year-month interval's months, INT (what it compares, sorts and aggregates by)."""
    return _call("spark_ym", [Literal("months", T.STRING), e], T.INT32)


def bind_spark_year_month(op: str, a: Expr, b: Expr) -> Expr | None:
    """``a <op> b`` where an operand is a year-month or a calendar interval, None otherwise:

    - a date plus or minus a year-month interval is a date, a timestamp one a timestamp (Spark's
      ``DateAddYMInterval``/``TimestampAddYMInterval``: the month moved, the day kept or clamped to the
      month's last);
    - a date or timestamp plus or minus a calendar interval moves by its months, then its days, then its
      microseconds (Spark's ``TimeAdd``; a date stays a date, ``DateAddInterval``, and ANSI mode refuses
      a time part);
    - year-month intervals add, subtract and compare; one times or divided by a number is one (HALF_UP
      to the month, Spark's ``MultiplyYMInterval``/``DivideYMInterval``); calendar intervals add and
      subtract, and do not compare (Spark's ``CalendarIntervalType`` has no order)."""
    ta, tb = a.dtype, b.dtype
    if not any(is_year_month(t) or is_calendar(t) for t in (ta, tb)):
        return None
    kind = Literal(op, T.STRING)
    comparison = op in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
    if any(is_calendar(t) for t in (ta, tb)):
        if comparison:
            raise QuarryTypeError(f"cannot compare a calendar interval (`{op}`): Spark's CalendarIntervalType "
                                  "has no order", hint="compare make_dt_interval or make_ym_interval values")
        if op in ("add", "subtract") and _temporal(ta) and is_calendar(tb):
            return _call("spark_ym", [Literal("calendar_" + op, T.STRING), a, b],
                         T.DATE if pa.types.is_date(ta) else T.TIMESTAMP)
        if op == "add" and is_calendar(ta) and _temporal(tb):
            return _call("spark_ym", [Literal("calendar_add", T.STRING), b, a],
                         T.DATE if pa.types.is_date(tb) else T.TIMESTAMP)
        if op in ("add", "subtract") and is_calendar(ta) and is_calendar(tb):
            return _call("spark_ym", [Literal("calendar_" + op, T.STRING), a, b], CALENDAR)
        raise QuarryTypeError(f"cannot apply `{op}` to {spark_type_name(ta)} and {spark_type_name(tb)}")
    ya, yb = as_year_month(a), as_year_month(b)
    if comparison:
        if ya is None or yb is None:
            raise QuarryTypeError(f"cannot compare {spark_type_name(ta)} and {spark_type_name(tb)}")
        from quarry.logical.functions import call
        return call(op, [ym_months(ya), ym_months(yb)])
    if op in ("add", "subtract") and _temporal(ta) and yb is not None:
        return _call("spark_ym", [Literal("months_" + op, T.STRING), a, yb], ta)
    if op == "add" and ya is not None and _temporal(tb):
        return _call("spark_ym", [Literal("months_add", T.STRING), b, ya], tb)
    if op in ("add", "subtract") and ya is not None and yb is not None:
        return _call("spark_ym", [kind, ya, yb], YEAR_MONTH)
    number = lambda t: T.is_integer(t) or T.is_float(t)          # noqa: E731
    if op == "multiply" and ya is not None and number(tb):
        return _call("spark_ym", [kind, ya, b], YEAR_MONTH)
    if op == "multiply" and yb is not None and number(ta):
        return _call("spark_ym", [kind, yb, a], YEAR_MONTH)
    if op == "divide" and ya is not None and number(tb):
        return _call("spark_ym", [kind, ya, b], YEAR_MONTH)
    if op in ("multiply", "divide") and (T.is_decimal(ta) or T.is_decimal(tb)):
        raise UnsupportedError(f"Not supported: `{op}` of a year-month interval and a DECIMAL",
                               hint="cast the number to DOUBLE")
    raise QuarryTypeError(f"cannot apply `{op}` to {spark_type_name(ta)} and {spark_type_name(tb)}")


def spark_type_name(t: pa.DataType) -> str:
    """A type's name in messages, Spark's for the interval types."""
    if is_year_month(t):
        return "INTERVAL YEAR TO MONTH"
    if is_calendar(t):
        return "INTERVAL (a calendar interval)"
    if pa.types.is_duration(t):
        return "INTERVAL DAY TO SECOND"
    return T.sql_name(t)


def spark_year_month_unary(kind: str, e: Expr) -> Expr:
    """A year-month interval's ``negate``/``abs`` (an interval), ``text`` (Spark's STRING cast), or
    ``from_months`` (the interval of an aggregate of its months: BIGINT or DECIMAL)."""
    dtype = T.STRING if kind == "text" else YEAR_MONTH
    return _call("spark_ym", [Literal(kind, T.STRING), e], dtype)


def spark_calendar_text(e: Expr) -> Expr:
    """A calendar interval as Spark casts it to STRING (``1 years 2 months 3 days 4.5 seconds``)."""
    return _call("spark_ym", [Literal("calendar_text", T.STRING), e], T.STRING)


def bind_spark_make_ym_interval(years: Expr, months: Expr) -> Expr:
    """``make_ym_interval(years, months)``: Spark's interval of ``years * 12 + months`` months (INT
    arguments; overflow raises)."""
    return _call("spark_ym", [Literal("make", T.STRING), _long(years, "make_ym_interval"),
                              _long(months, "make_ym_interval")], YEAR_MONTH)


def bind_spark_make_interval(years, months, weeks, days, hours, mins, secs, *, lenient: bool = False) -> Expr:
    """``make_interval(years, months, weeks, days, hours, mins, secs)``: Spark's calendar interval
    (``secs`` a DECIMAL(18,6), so to the microsecond; overflow raises). ``lenient``: ``try_make_interval``,
    NULL where a row overflows."""
    fname = "try_make_interval" if lenient else "make_interval"
    parts = [_long(x, fname) for x in (years, months, weeks, days, hours, mins)]
    kind = "try_make_calendar" if lenient else "make_calendar"
    return _call("spark_ym", [Literal(kind, T.STRING), *parts,
                              cast(_num(secs, fname), pa.decimal128(18, 6))], CALENDAR)


def bind_spark_try_make_interval(years, months, weeks, days, hours, mins, secs) -> Expr:
    return bind_spark_make_interval(years, months, weeks, days, hours, mins, secs, lenient=True)


# spark_double_text(x): Spark's STRING of a DOUBLE or FLOAT (Java's Double.toString: 1.0, 1.0E10, NaN)
_internal("spark_double_text", lambda n, a: _call(n, a, T.STRING), 1)
# spark_csv_timestamp(ts, zone): a timestamp as Spark's CSV writer prints it (2024-01-02T03:04:05.120Z)
_internal("spark_csv_timestamp", lambda n, a: _call(n, a, T.STRING), 2)
# spark_timestamp_text(ts): Spark's STRING of a timestamp (the fraction without trailing zeros)
_internal("spark_timestamp_text", lambda n, a: _call(n, a, T.STRING), 1)

# spark_ym(kind, ...): the year-month and calendar interval operations above (typed when built)
_internal("spark_ym", lambda n, a: _call(n, a, YEAR_MONTH), 2, 8)


# -- strings ------------------------------------------------------------------------------------


def _texts(args):
    return [a if T.is_string(a.dtype) or _is_binary(a.dtype) else _str(a, "concat") for a in args]


_internal("spark_concat", lambda n, a: _call(n, _texts(a), T.STRING), 1, 10_000)
_internal("spark_concat_ws", lambda n, a: _call(n, [_str(x) for x in a], T.STRING), 1, 10_000, **TOLERANT)
# spark_string(op, s, *constants): one string -> string operation with constant parameters
_internal("spark_string", lambda n, a: _call(n, [a[0], _str(a[1], a[0].value), *a[2:]], T.STRING), 2, 10)
_internal("spark_string_int", lambda n, a: _call(n, [a[0], _str(a[1]), *a[2:]], T.INT32), 2, 10)
_internal("spark_string_list",
          lambda n, a: _call(n, [a[0], _str(a[1]), *a[2:]], pa.list_(T.STRING)), 2, 10)
_internal("spark_find_in_set", lambda n, a: _call(n, [_str(a[0]), _str(a[1])], T.INT32), 2)
_internal("spark_format_number", lambda n, a: _call(n, [a[0], a[1]], T.STRING), 2)


def _bind_pad(name, args):
    op, s, width, pad = args
    if _is_binary(pad.dtype):
        raise UnsupportedError(f"Not supported: `{op.value}` with a binary pad")
    return _call(name, [op, _str(s, op.value), _long(width, op.value), _str(pad, op.value)], T.STRING)


_internal("spark_pad", _bind_pad, 4)
_internal("spark_chr", lambda n, a: _call(n, [_long(a[0], "chr")], T.STRING), 1)
_internal("spark_encode", lambda n, a: _call(n, [_str(a[0]), a[1]], T.BINARY), 2)
_internal("spark_decode", lambda n, a: _call(n, [cast(a[0], T.BINARY) if T.is_string(a[0].dtype) else a[0], a[1]],
                                               T.STRING), 2)
_internal("spark_base64", lambda n, a: _call(n, [cast(a[0], T.BINARY) if not _is_binary(a[0].dtype) else a[0]],
                                               T.STRING), 1)
_internal("spark_unbase64", lambda n, a: _call(n, [_str(a[0])], T.BINARY), 1)
_internal("spark_levenshtein", lambda n, a: _call(n, [_str(a[0]), _str(a[1]), *a[2:]], T.INT32), 2, 3)
_internal("spark_format_string", lambda n, a: _call(n, [a[0], *a[1:]], T.STRING), 1, 10_000, **TOLERANT)
_internal("spark_overlay", lambda n, a: _call(n, [_str(a[0]), _str(a[1]), a[2], a[3]], T.STRING), 4)
_internal("spark_octet_length", lambda n, a: _call(n, [cast(a[0], T.BINARY) if T.is_string(a[0].dtype) else a[0]],
                                                     T.INT32), 1)

# -- hashing ------------------------------------------------------------------------------------

_internal("spark_digest", lambda n, a: _call(n, [a[0], cast(a[1], T.BINARY) if not _is_binary(a[1].dtype)
                                                  else a[1]], T.STRING), 2)
_internal("spark_crc32", lambda n, a: _call(n, [cast(a[0], T.BINARY) if not _is_binary(a[0].dtype) else a[0]],
                                              T.INT64), 1)
_internal("spark_murmur3", lambda n, a: _call(n, list(a), T.INT32, False), 1, 10_000, **TOLERANT)
_internal("spark_xxhash64", lambda n, a: _call(n, list(a), T.INT64, False), 1, 10_000, **TOLERANT)

# -- misc ---------------------------------------------------------------------------------------

_internal("spark_rand", lambda n, a: _call(n, list(a), T.FLOAT64, False), 2, 2,
          volatility=Volatility.VOLATILE)
# Spark's monotonically_increasing_id (partition << 33 plus the row's index in its partition) and
# spark_partition_id: from the position of the batch in its partition (quarry.compute.position)
_internal("spark_row_id", lambda n, a: _call(n, [], T.INT64, False), 0, 0, volatility=Volatility.VOLATILE)
_internal("spark_partition_index", lambda n, a: _call(n, [], T.INT32, False), 0, 0,
          volatility=Volatility.VOLATILE)
_internal("spark_uuid", lambda n, a: _call(n, [], T.STRING, False), 0, 0, volatility=Volatility.VOLATILE)
_internal("spark_raise_error", lambda n, a: _call(n, [_str(a[0])], T.NULL), 1, 1, volatility=Volatility.VOLATILE)
_internal("spark_assert_true", lambda n, a: _call(n, [a[0], _str(a[1])], T.STRING), 2, 2,
          volatility=Volatility.VOLATILE, **TOLERANT)
_internal("spark_nanvl", lambda n, a: _call(n, [_dbl(a[0], "nanvl"), _dbl(a[1], "nanvl")], T.FLOAT64), 2,
          **TOLERANT)


# -- JSON (quarry.compute.json_kernels) ------------------------------------------------------------


def _type_from_hex(text: str) -> pa.DataType:
    """An Arrow type sent as the hex of a one-field IPC schema (how the Spark layer passes a parsed schema)."""
    return pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(text))).field(0).type


def type_to_hex(t: pa.DataType) -> str:
    return pa.schema([pa.field("t", t)]).serialize().to_pybytes().hex()


_internal("spark_json_string", lambda n, a: _call(n, [a[0], _str(a[1]), *a[2:]], T.STRING), 2, 3)
_internal("spark_json_int", lambda n, a: _call(n, [a[0], _str(a[1]), *a[2:]], T.INT32), 2, 3)
_internal("spark_json_keys", lambda n, a: _call(n, [_str(a[0])], pa.list_(T.STRING)), 1)
_internal("spark_from_json", lambda n, a: _call(n, [_str(a[0]), a[1]], _type_from_hex(a[1].value)), 2)

# SQL's json_extract (JSON text of the value at a path) and json_extract_string (its string value)
register("json_extract", "scalar", lambda n, a: _call(n, [_str(a[0]), _str(a[1])], T.STRING), 2, 2,
         doc="json_extract(json, '$.path'): the JSON text of the value at the path (NULL when absent)")
register("json_extract_string", "scalar", lambda n, a: _call(n, [_str(a[0]), _str(a[1])], T.STRING), 2, 2,
         doc="json_extract_string(json, '$.path'): the value at the path as a string (NULL when absent)")
