"""Spark's conditional functions (see docs/spark.md, "Functions").

``when``/``otherwise`` is a CASE; ``coalesce``, ``nvl``, ``ifnull`` take the first non-NULL value;
``nvl2(a, b, c)`` is ``b`` when ``a`` is not NULL, else ``c``; ``greatest``/``least`` skip NULLs (NULL only
when every argument is NULL), as Spark's do; ``nanvl(a, b)`` is ``b`` where ``a`` is NaN.
"""

from __future__ import annotations

from quarry.api import functions as QF
from quarry.api.column import _function_column, lit
from quarry.spark.errors import SparkError
from quarry.spark.functions.base import Call, spark_function
from quarry.spark.functions.internal import internal

__all__: list[str] = []


@spark_function("coalesce")
def _coalesce(call: Call):
    call.expect(1, -1)
    return _function_column("coalesce", call.args)


@spark_function("nvl", "ifnull")
def _nvl(call: Call):
    call.expect(2)
    return _function_column("coalesce", call.args)


@spark_function("nvl2")
def _nvl2(call: Call):
    call.expect(3)
    a, b, c = call.args
    return QF.when(a.is_not_null(), b).otherwise(c)


@spark_function("nullif")
def _nullif(call: Call):
    call.expect(2)
    return _function_column("nullif", call.args)


@spark_function("greatest", "least")
def _greatest(call: Call):
    if len(call.protos) < 2:
        raise SparkError(f"`{call.name}` takes at least 2 arguments, got {len(call.protos)}",
                         error_class="WRONG_NUM_ARGS.WITHOUT_SUGGESTION")
    return _function_column(call.name, call.args)


@spark_function("nanvl")
def _nanvl(call: Call):
    call.expect(2)
    return internal("spark_nanvl", *call.args)


@spark_function("nullifzero")
def _nullifzero(call: Call):
    call.expect(1)
    return _function_column("nullif", [call.args[0], lit(0)])


@spark_function("zeroifnull")
def _zeroifnull(call: Call):
    call.expect(1)
    return _function_column("coalesce", [call.args[0], lit(0)])


@spark_function("equal_null", namer=lambda n, a, c: f"equal_null({a[0]}, {a[1]})")
def _equal_null(call: Call):
    call.expect(2)
    return call.args[0].eq_null_safe(call.args[1])


@spark_function("isnan")
def _isnan(call: Call):
    call.expect(1)
    x = call.args[0]
    return QF.when(x.is_null(), lit(False)).otherwise(_function_column("isnan", [x]))


@spark_function("if", "iff")
def _if(call: Call):
    call.expect(3)
    cond, a, b = call.args
    return QF.when(cond, a).otherwise(b)
