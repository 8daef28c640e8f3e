"""Spark's miscellaneous functions (see docs/spark.md, "Functions").

- ``monotonically_increasing_id()``: Spark's value, the partition's index shifted left by 33 bits plus the
  row's index within its partition (the partitions of quarry's plan where the select runs);
- ``spark_partition_id()``: the index of that partition;
- ``input_file_name()``: '' (what Spark returns when the file is not known);
- ``rand(seed)``/``randn(seed)``: Spark's values (its XORShiftRandom per partition, ``quarry.compute.spark_random``);
- ``uuid()``: random version-4 UUIDs; ``typeof(x)``: Spark's simple type name of ``x``.
"""

from __future__ import annotations

import pyarrow as pa

from quarry.api.column import Column, lit
from quarry.logical.expressions import Literal
from quarry.spark.errors import SparkError
from quarry.spark.functions.base import Call, spark_function
from quarry.spark.functions.internal import internal

__all__: list[str] = []


@spark_function("monotonically_increasing_id", namer=lambda n, a, c: "monotonically_increasing_id()")
def _monotonic(call: Call):
    call.expect(0)
    return internal("spark_row_id")


@spark_function("spark_partition_id", namer=lambda n, a, c: "SPARK_PARTITION_ID()")
def _partition_id(call: Call):
    call.expect(0)
    return internal("spark_partition_index")


@spark_function("input_file_name", namer=lambda n, a, c: "input_file_name()")
def _input_file_name(call: Call):
    call.expect(0)
    return lit("")


for _name in ("rand", "random", "randn"):
    def _rand(call: Call, kind=_name):
        call.expect(0, 1)
        seed = call.literal(0)
        if seed is not None and not isinstance(seed, int):
            raise SparkError(f"`{call.name}` takes an integer seed")
        return internal("spark_rand", "randn" if kind == "randn" else "rand", lit(seed, pa.int64()))
    spark_function(_name)(_rand)


@spark_function("uuid", namer=lambda n, a, c: "uuid()")
def _uuid(call: Call):
    call.expect(0, 1)
    return internal("spark_uuid")


@spark_function("typeof")
def _typeof(call: Call):
    call.expect(1)
    from quarry.spark.types import from_arrow, simple_string
    inner = call.args[0]

    def bind(ctx):
        e = inner.bind(ctx)
        return Literal(simple_string(from_arrow(e.dtype)), pa.string())
    return Column(bind, "typeof")


@spark_function("raise_error")
def _raise_error(call: Call):
    call.expect(1)
    return internal("spark_raise_error", call.args[0])


@spark_function("assert_true")
def _assert_true(call: Call):
    call.expect(1, 2)
    message = call.args[1] if len(call.protos) > 1 else lit(f"'{call.translator.translate(call.protos[0]).name}' "
                                                            "is not true!")
    return internal("spark_assert_true", call.args[0], message)


@spark_function("current_catalog", namer=lambda n, a, c: "current_catalog()")
def _current_catalog(call: Call):
    call.expect(0)
    return lit("spark_catalog")


@spark_function("current_database", "current_schema", namer=lambda n, a, c: "current_schema()")
def _current_database(call: Call):
    call.expect(0)
    return lit("default")


for _name in ("input_file_block_length", "input_file_block_start"):
    def _block(call: Call, name=_name):
        call.expect(0)
        return lit(-1, pa.int64())
    spark_function(_name, namer=(lambda name: lambda n, a, c: f"{name}()")(_name))(_block)


@spark_function("uniform")
def _uniform(call: Call):
    call.expect(2, 3)
    low, high = call.args[0], call.args[1]
    seed = call.literal(2)
    draw = internal("spark_rand", "rand", lit(seed, pa.int64()))
    return low + draw * (high - low)
