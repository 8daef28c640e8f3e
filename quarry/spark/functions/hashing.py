"""Spark's hash functions, with Spark's exact values (see ``quarry.compute.spark_hashing``)."""

from __future__ import annotations

from quarry.api.column import lit
from quarry.spark.errors import SparkError
from quarry.spark.functions.base import Call, spark_function
from quarry.spark.functions.internal import internal

__all__: list[str] = []


@spark_function("md5")
def _md5(call: Call):
    call.expect(1)
    return internal("spark_digest", "md5", call.args[0])


@spark_function("sha1", "sha")
def _sha1(call: Call):
    call.expect(1)
    return internal("spark_digest", "sha1", call.args[0])


@spark_function("sha2")
def _sha2(call: Call):
    call.expect(2)
    bits = call.literal(1)
    if not isinstance(bits, int):
        raise SparkError("`sha2` takes the number of bits as an integer (224, 256, 384 or 512)")
    if bits not in (0, 224, 256, 384, 512):
        return lit(None, "string")                   # Spark: NULL for an unsupported bit length
    return internal("spark_digest", f"sha{bits or 256}", call.args[0])


@spark_function("crc32")
def _crc32(call: Call):
    call.expect(1)
    return internal("spark_crc32", call.args[0])


@spark_function("hash")
def _hash(call: Call):
    call.expect(1, -1)
    return internal("spark_murmur3", *call.args)


@spark_function("xxhash64")
def _xxhash64(call: Call):
    call.expect(1, -1)
    return internal("spark_xxhash64", *call.args)
