"""Columns that call the Spark-semantics definitions of ``quarry.logical.spark_functions``."""

from __future__ import annotations

import pyarrow as pa

from quarry.api.column import Column, lit
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import Call as CallExpr
from quarry.logical.expressions import Literal

__all__ = ["ansi_cast", "const", "internal", "interval_cast", "legacy_cast", "order_key", "try_cast"]


def const(value, dtype: pa.DataType | None = None) -> Column:
    return lit(value, dtype) if dtype is not None else lit(value)


def internal(fname: str, *args) -> Column:
    """A call of the internal function ``fname``; ``args`` are Columns or Python constants."""
    columns = [a if isinstance(a, Column) else const(a) for a in args]

    def bind(ctx):
        return FN.call(fname, [c.bind(ctx) for c in columns])
    return Column(bind, fname)


def _spark_integral_text(value, target):
    """Spark casts '2.7' to the integer 2 (the fraction is dropped, not rounded as in quarry's SQL)."""
    if T.is_string(value.dtype) and T.is_integer(target):
        return FN.call("spark_string", [FN.lit("regexp_replace"), value,
                                        FN.lit(r"^(\s*[+-]?[0-9]+)\.[0-9]*(\s*)$"), FN.lit("$1$2")])
    return value


def _numeric_cast(value, target: pa.DataType, mode: str):
    """A number cast to another numeric type as Spark casts it (``spark_cast``: a fraction dropped toward
    an integer, overflow by ``mode``), or None when ``value`` or ``target`` is not a number. A day-time
    interval casts to Spark's text (``INTERVAL '0 05:00:00' DAY TO SECOND``); any other cast from or to
    one (Spark's single-field numbers, the parsing of its text) is refused: quarry's would give
    microseconds."""
    if _interval(value.dtype) or _interval(target):
        return interval_cast(value, target)
    if value.dtype != target and T.is_numeric(value.dtype) and T.is_numeric(target):
        return CallExpr("spark_cast", (value, Literal(mode, T.STRING)), target, True)
    return None


def timestamp_number_cast(value, target: pa.DataType, time_zone: str, mode: str):
    """Spark's casts between TIMESTAMP and numbers (allowed in ANSI mode since Spark 3.3), or None for
    other casts: a timestamp (a wall time in the session zone ``time_zone``) is its instant's seconds since
    the epoch, whole (``floorDiv``) for an integer type, with the fraction for FLOAT and DOUBLE; a number
    is the timestamp of that many seconds. ``mode`` is ``spark_cast``'s (an integer out of range)."""
    from quarry.spark.functions.dates import _UTC
    if pa.types.is_timestamp(value.dtype) and T.is_string(target):
        return CallExpr("spark_timestamp_text", (value,), T.STRING, True)     # 12:00:00, 12:00:00.5
    if T.is_float(value.dtype) and T.is_string(target):
        return CallExpr("spark_double_text", (value,), T.STRING, True)        # 1.0, 1.0E10, NaN
    if pa.types.is_timestamp(value.dtype) and T.is_numeric(target):
        if T.is_decimal(target):
            from quarry.spark.errors import not_supported
            raise not_supported("a cast from TIMESTAMP to DECIMAL; cast to DOUBLE or BIGINT")
        utc = value if time_zone in _UTC else FN.call("spark_zone_shift", [value, FN.lit(time_zone), FN.lit(True)])
        if T.is_float(target):
            micros = FN.call("spark_epoch_seconds", [utc, FN.lit(1, T.INT64)])
            return FN.cast(FN.call("divide", [FN.cast(micros, T.FLOAT64), FN.lit(1_000_000.0)]), target)
        seconds = FN.call("spark_epoch_seconds", [utc, FN.lit(1_000_000, T.INT64)])
        return seconds if target == T.INT64 else CallExpr("spark_cast", (seconds, Literal(mode, T.STRING)),
                                                          target, True)
    if pa.types.is_timestamp(target) and (T.is_integer(value.dtype) or T.is_float(value.dtype)):
        instant = FN.call("spark_from_epoch", [value, FN.lit(1_000_000)])
        if time_zone in _UTC:
            return instant
        return FN.call("spark_zone_shift", [instant, FN.lit(time_zone), FN.lit(False)])
    return None


def _interval(t: pa.DataType) -> bool:
    from quarry.logical.spark_functions import is_calendar, is_year_month
    return pa.types.is_duration(t) or is_year_month(t) or is_calendar(t)


def interval_cast(value, target: pa.DataType):
    """A cast from or to a day-time interval: to STRING Spark's text (``INTERVAL '0 05:00:00' DAY TO
    SECOND``), to itself nothing; any other is refused (Spark's single-field numbers and the parsing of
    its text are not implemented)."""
    if value.dtype == target:
        return value
    from quarry.logical.spark_functions import (is_calendar, is_year_month, spark_calendar_text,
                                                spark_type_name, spark_year_month_unary)
    if pa.types.is_duration(value.dtype) and T.is_string(target):
        return CallExpr("spark_interval", (Literal("text", T.STRING), value), target, True)
    if is_year_month(value.dtype) and T.is_string(target):
        return spark_year_month_unary("text", value)
    if is_calendar(value.dtype) and T.is_string(target):
        return spark_calendar_text(value)
    from quarry.spark.errors import not_supported
    raise not_supported(f"a cast from {spark_type_name(value.dtype)} to {spark_type_name(target)} "
                        "(intervals cast only to STRING)")


def try_cast(column: Column, target: pa.DataType) -> Column:
    """``TRY_CAST(column AS target)``: a value that does not cast, or is out of the target's range,
    becomes NULL (Spark's ``try_cast``)."""
    def bind(ctx):
        value = _spark_integral_text(column.bind(ctx), target)
        if value.dtype == target:
            return value
        numeric = _numeric_cast(value, target, "try")
        if numeric is not None:
            return numeric
        if T.is_string(value.dtype) and (T.is_numeric(target) or T.is_temporal(target) or target == T.BOOL):
            return CallExpr("try_cast", (value,), target, True)
        return FN.cast(value, target, explicit=True)
    return Column(bind, "try_cast")


def legacy_cast(column: Column, target: pa.DataType) -> Column:
    """``CAST(column AS target)`` without ANSI mode: text that does not cast is NULL, a number out of an
    integer type's range wraps as the JVM narrows it, and one out of a decimal's range is NULL."""
    def bind(ctx):
        value = column.bind(ctx)
        numeric = _numeric_cast(value, target, "legacy")
        return numeric if numeric is not None else try_cast(Column(lambda _: value, "cast"), target).bind(ctx)
    return Column(bind, "cast")


def ansi_cast(column: Column, target: pa.DataType) -> Column:
    """``CAST(column AS target)`` evaluated when the query runs, even of a constant, so a bad value raises
    CAST_INVALID_INPUT (a number out of range CAST_OVERFLOW) as Spark's ANSI mode does, not a bind-time
    type error."""
    def bind(ctx):
        value = _spark_integral_text(column.bind(ctx), target)
        numeric = _numeric_cast(value, target, "ansi")
        return numeric if numeric is not None else FN.cast(value, target, explicit=True)
    return Column(bind, "cast")


def order_key(column: Column) -> Column:
    """What an ORDER BY item sorts by: the value itself, but an ARRAY or STRUCT by a sort key in
    Spark's order (element by element, NULL elements and fields before every value, a shorter array
    first). quarry's own key is DuckDB's order, NULL elements last. Spark cannot order MAP values."""
    def bind(ctx):
        value = column.bind(ctx)
        from quarry.logical.spark_functions import is_calendar, is_year_month, ym_months
        if is_year_month(value.dtype):
            return ym_months(value)                         # a year-month interval sorts by its months
        if is_calendar(value.dtype):
            from quarry.spark.errors import SparkError
            raise SparkError("cannot sort by a calendar interval (Spark's CalendarIntervalType has no order)",
                             error_class="DATATYPE_MISMATCH.INVALID_ORDERING_TYPE")
        if pa.types.is_map(value.dtype):
            from quarry.spark.errors import SparkError
            raise SparkError(f"cannot sort by a value of type {T.sql_name(value.dtype)}",
                             error_class="DATATYPE_MISMATCH.INVALID_ORDERING_TYPE")
        if not T.is_nested(value.dtype):
            return value
        from quarry.logical.nested import refuse_unkeyable
        from quarry.logical.nested_functions import nested_key
        refuse_unkeyable(value.dtype, "ORDER BY")
        return nested_key(value, nulls_first=True)
    return Column(bind, column._default_name)
