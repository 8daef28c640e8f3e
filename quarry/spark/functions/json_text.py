"""Spark's JSON functions (see docs/spark.md, "Functions"), over the vectorized JSON kernel of
``quarry.compute.json_kernels``.

``get_json_object`` returns strings without their quotes, other values as compact JSON text and NULL
for a missing path, JSON null or text that is not JSON; ``from_json`` parses into a struct of scalar
(and struct) fields, a value that does not convert becoming NULL (Spark's PERMISSIVE mode);
``schema_of_json`` infers Spark's DDL from a literal (fields sorted by name, integers BIGINT).
"""

from __future__ import annotations

import json

import pyarrow as pa

from quarry.api.column import Column, _function_column, lit
from quarry.logical import functions as FN
from quarry.logical.expressions import Call as CallExpr, Literal
from quarry.logical.spark_functions import type_to_hex
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.functions.base import Call, spark_function
from quarry.spark.functions.internal import internal

__all__: list[str] = []


def _literal(call: Call, i: int, what: str):
    if not call.is_literal(i):
        raise not_supported(f"`{call.name}` with a {what} that is not a constant")
    return call.literal(i)


@spark_function("get_json_object")
def _get_json_object(call: Call):
    call.expect(2)
    return internal("spark_json_string", "get_json_object", call.args[0], _literal(call, 1, "path"))


@spark_function("json_array_length")
def _json_array_length(call: Call):
    call.expect(1)
    return internal("spark_json_int", "json_array_length", call.args[0])


@spark_function("json_object_keys")
def _json_object_keys(call: Call):
    call.expect(1)
    return internal("spark_json_keys", call.args[0])


def _no_options(call: Call, at: int):
    if len(call.protos) > at:
        raise not_supported(f"`{call.name}` with options")


@spark_function("from_json")
def _from_json(call: Call):
    call.expect(2, 3)
    _no_options(call, 2)
    from quarry.spark.relations import _json_type
    from quarry.spark.types import parse_ddl
    text = _literal(call, 1, "schema")
    try:
        stripped = str(text).strip()
        # a StructType/ArrayType/MapType as Spark's JSON form, or DDL (`a INT, b STRING`, `array<int>`)
        target = _json_type(json.loads(stripped), call.translator.time_zone) if stripped.startswith("{") else \
            parse_ddl(stripped, call.translator.time_zone)
    except SparkError:
        raise
    except Exception as exc:
        raise SparkError(f"from_json: cannot read the schema `{text}`: {exc}",
                         error_class="INVALID_SCHEMA.PARSE_ERROR") from None
    source = call.args[0]

    def bind(ctx):
        e = source.bind(ctx)
        e = e if pa.types.is_string(e.dtype) else FN.cast(e, pa.string())
        return CallExpr("spark_from_json", (e, Literal(type_to_hex(target), pa.string())), target, True)
    return Column(bind, "from_json")


@spark_function("to_json")
def _to_json(call: Call):
    call.expect(1, 2)
    _no_options(call, 1)
    return _function_column("to_json", call.args[:1])


def _ddl(value) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT" if -2 ** 63 <= value < 2 ** 63 else "DECIMAL(38,0)"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, str) or value is None:
        return "STRING"
    if isinstance(value, list):
        inner = {_ddl(v) for v in value if v is not None}
        if not inner:
            return "ARRAY<STRING>"
        if inner <= {"BIGINT", "DOUBLE"}:
            return f"ARRAY<{'DOUBLE' if 'DOUBLE' in inner else 'BIGINT'}>"
        return f"ARRAY<{inner.pop() if len(inner) == 1 else 'STRING'}>"
    fields = ", ".join(f"{k}: {_ddl(v)}" for k, v in sorted(value.items()))
    return f"STRUCT<{fields}>"


@spark_function("schema_of_json")
def _schema_of_json(call: Call):
    call.expect(1, 2)
    _no_options(call, 1)
    text = _literal(call, 0, "JSON text")
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        # Spark's parser allows unquoted field names ({a: 1}); quote them and try again
        import re
        try:
            value = json.loads(re.sub(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:", r'\1"\2":', text))
        except ValueError:
            raise SparkError(f"schema_of_json: `{text}` is not JSON", error_class="INVALID_JSON_SCHEMA") from None
    return lit(_ddl(value))
