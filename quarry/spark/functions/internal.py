"""Columns that call the Spark-semantics definitions of ``quarry.logical.spark_functions``."""

from __future__ import annotations

import pyarrow as pa

from quarry.api.column import Column, lit
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import Call as CallExpr

__all__ = ["ansi_cast", "const", "internal", "try_cast"]


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


def try_cast(column: Column, target: pa.DataType) -> Column:
    """``TRY_CAST(column AS target)``: a value that does not cast becomes NULL (Spark without ANSI mode)."""
    def bind(ctx):
        value = _spark_integral_text(column.bind(ctx), target)
        if value.dtype == target:
            return value
        if T.is_string(value.dtype) and (T.is_numeric(target) or T.is_temporal(target) or target == T.BOOL):
            return CallExpr("try_cast", (value,), target, True)
        return FN.cast(value, target, explicit=True)
    return Column(bind, "try_cast")


def ansi_cast(column: Column, target: pa.DataType) -> Column:
    """``CAST(column AS target)`` evaluated when the query runs, even of a constant, so a bad value raises
    CAST_INVALID_INPUT as Spark's ANSI mode does (not a bind-time type error)."""
    def bind(ctx):
        value = _spark_integral_text(column.bind(ctx), target)
        return FN.cast(value, target, explicit=True)
    return Column(bind, "cast")
