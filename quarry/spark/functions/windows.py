"""Spark's window functions, with Spark's semantics (see docs/spark.md, "Functions").

quarry's ranking and offset functions mean what Spark's do; what differs is the result type
(Spark's ``row_number``, ``rank``, ``dense_rank`` and ``ntile`` are ``int``, quarry's ``bigint``),
which the ``finish`` step casts after the window, and the arguments PySpark sends
(``lag(col, offset, default)``, ``nth_value(col, n, ignoreNulls)``).
"""

from __future__ import annotations

import pyarrow as pa

from quarry.api.column import Column, _function_column
from quarry.logical import functions as FN
from quarry.spark.errors import SparkError
from quarry.spark.functions.base import Call, Function, spark_function

__all__: list[str] = []


def _int32(column):
    return column.cast(pa.int32())


def _ranking(int_result: bool):
    def builder(call: Call):
        call.expect(0)
        return Function(_function_column(call.name, []), _int32 if int_result else None)
    return builder


for _name in ("row_number", "rank", "dense_rank"):
    spark_function(_name)(_ranking(True))
for _name in ("percent_rank", "cume_dist"):
    spark_function(_name)(_ranking(False))


@spark_function("ntile")
def _ntile(call: Call):
    call.expect(1)
    n = call.literal(0)
    if not isinstance(n, int) or n <= 0:
        raise SparkError("ntile() takes a positive number of buckets", error_class="DATATYPE_MISMATCH")
    return Function(_function_column("ntile", call.args), _int32)


def _skipping_nulls(name: str, args: list) -> Column:
    """The window function ``name`` that skips NULL values (an internal definition: built here, not by name)."""
    def bind(ctx):
        if not ctx.window_function:
            raise SparkError(f"`{name.removesuffix('_ignore_nulls')}` needs over(...)",
                             error_class="WINDOW_FUNCTION_WITHOUT_OVER_CLAUSE")
        inner = ctx.derive(window_function=False, allow_windows=False, allow_aggregates=False)
        return FN.call(name, [a.bind(inner) for a in args])
    return Column(bind, name, window_func=name)


def _offset(call: Call):
    call.expect(1, 4)
    offset = call.literal(1, 1)
    if not isinstance(offset, int):
        raise SparkError(f"{call.name}() takes a whole number as its offset", error_class="DATATYPE_MISMATCH")
    args = call.args[:3]
    if call.is_literal(3) and call.literal(3):
        return Function(_skipping_nulls(f"{call.name}_ignore_nulls", args))
    return Function(_function_column(call.name, args))


def _offset_name(name, args, call):
    return f"{name}({', '.join(args[:3] + (['NULL'] if len(args) == 2 else []))})"


spark_function("lag", namer=_offset_name)(_offset)
spark_function("lead", namer=_offset_name)(_offset)


def _nth_name(name, args, call):
    return f"nth_value({args[0]}, {args[1]})"


@spark_function("nth_value", namer=_nth_name)
def _nth_value(call: Call):
    call.expect(2, 3)
    n = call.literal(1)
    if not isinstance(n, int) or n <= 0:
        raise SparkError("nth_value() takes a positive position", error_class="DATATYPE_MISMATCH")
    if call.is_literal(2) and call.literal(2):
        return Function(_skipping_nulls("nth_value_ignore_nulls", call.args[:2]))
    return Function(_function_column("nth_value", call.args[:2]))
