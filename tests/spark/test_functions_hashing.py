"""Spark's hash functions through the real pyspark-client, with Spark's exact values.

Expected values: the pyspark.sql.functions docstrings (``hash('ABC') = -757602832``, ``hash('ABC', 'DEF')
= 599895104``, ``xxhash64('ABC') = 4105715581806190027``, ``xxhash64('ABC', 'DEF') = 3233247871021311208``,
``crc32('ABC') = 2743272264``, ``md5('ABC')``, ``sha1('ABC')``, ``sha2('Alice', 256)``, ``sha2('Bob',
256)``), Spark's rule that a NULL leaves the seed (42) as it is, and the published test vectors of
MurmurHash3 x86_32 and XXH64 for the primitives. Larger inputs are checked against Python's hashlib and
zlib (the RFC/FIPS algorithms), over many rows of varied lengths, so the block-by-block vectorized
kernels are exercised.
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np
import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import check, fn_spark  # noqa: E402,F401

S = "s string"
AB = "c1 string, c2 string"

CASES = [
    ("hash", AB, [("ABC", "DEF")], lambda F, d: F.hash("c1"), [-757602832], "hash(c1)"),
    ("hash-two", AB, [("ABC", "DEF")], lambda F, d: F.hash("c1", "c2"), [599895104], "hash(c1, c2)"),
    ("hash-null-is-seed", AB, [(None, None)], lambda F, d: F.hash("c1"), [42], None),
    ("hash-null-skipped", AB, [("ABC", None)], lambda F, d: F.hash("c1", "c2"), [-757602832], None),
    ("hash-int", "i int", [(1,)], lambda F, d: F.hash("i"), [-559580957], None),
    ("xxhash64", AB, [("ABC", "DEF")], lambda F, d: F.xxhash64("c1"), [4105715581806190027], "xxhash64(c1)"),
    ("xxhash64-two", AB, [("ABC", "DEF")], lambda F, d: F.xxhash64("c1", "c2"), [3233247871021311208],
     "xxhash64(c1, c2)"),
    ("xxhash64-null-is-seed", AB, [(None, None)], lambda F, d: F.xxhash64("c1"), [42], None),
    ("crc32", S, [("ABC",), ("",), (None,)], lambda F, d: F.crc32("s"), [2743272264, 0, None], "crc32(s)"),
    ("md5", S, [("ABC",), ("",), (None,)], lambda F, d: F.md5("s"),
     ["902fbdd2b1df0c4f70b4a5d23525e932", "d41d8cd98f00b204e9800998ecf8427e", None], "md5(s)"),
    ("sha1", S, [("ABC",), (None,)], lambda F, d: F.sha1("s"), ["3c01bdbb26f358bab27f267924aa2c9a03fcfdb8", None],
     "sha1(s)"),
    ("sha2-256", "name string", [("Alice",), ("Bob",)], lambda F, d: F.sha2("name", 256),
     ["3bc51062973c458d5a6f2d8d64a023246354ad7e064b1e4e009ec8a0699a3043",
      "cd9fb1e148ccd8442e5aa74904cc73bf6fb54d1d54d333bd596aa9bb4bb4e961"], "sha2(name, 256)"),
    ("sha2-0-is-256", "name string", [("Alice",)], lambda F, d: F.sha2("name", 0),
     ["3bc51062973c458d5a6f2d8d64a023246354ad7e064b1e4e009ec8a0699a3043"], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hashing(fn_spark, case):
    check(fn_spark, case)


def _texts():
    rng = np.random.default_rng(7)
    lengths = list(range(0, 140)) + [255, 256, 1000, 5000]
    alphabet = "abcdefghijklmnopqrstuvwxyzé€ "
    return ["".join(rng.choice(list(alphabet), size=k)) for k in lengths] + [None]


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512", "crc32"])
def test_digests_of_many_lengths(fn_spark, algorithm):
    from pyspark.sql import functions as F
    texts = _texts()
    df = fn_spark.createDataFrame([(t,) for t in texts], "s string")
    if algorithm == "crc32":
        column, ref = F.crc32("s"), lambda b: zlib.crc32(b)
    elif algorithm in ("md5", "sha1"):
        column, ref = getattr(F, algorithm)("s"), lambda b: hashlib.new(algorithm, b).hexdigest()
    else:
        column = F.sha2("s", int(algorithm[3:]))
        ref = lambda b: hashlib.new(algorithm, b).hexdigest()  # noqa: E731
    got = [r[0] for r in df.select(column).collect()]
    want = [None if t is None else ref(t.encode()) for t in texts]
    assert got == want


def test_murmur3_and_xxh64_primitives_match_published_vectors():
    """Spark's Murmur3 equals the reference one on whole 4-byte words; XXH64 is the reference one."""
    import quarry.compute.kernels  # noqa: F401  (attaches the kernels)
    from quarry.compute import spark_hashing as H

    def m3(data: bytes, seed: int) -> int:
        return int(H._m3_bytes(np.frombuffer(data, np.uint8), np.array([0, len(data)]),
                               np.array([seed], np.uint32))[0])

    def xx(data: bytes, seed: int) -> int:
        return int(H._xx_bytes(np.frombuffer(data, np.uint8), np.array([0, len(data)]),
                               np.array([seed], np.uint64))[0])

    assert m3(b"", 0) == 0
    assert m3(b"", 1) == 0x514E28B7
    assert m3(b"", 0xFFFFFFFF) == 0x81F16F39
    assert m3(b"\x00\x00\x00\x00", 0) == 0x2362F9DE
    assert m3(b"aaaa", 0x9747B28C) == 0x5A97808A
    assert xx(b"", 0) == 0xEF46DB3751D8E999
    assert xx(b"a", 0) == 0xD24EC4F1A98C6E5B
    assert xx(b"abc", 0) == 0x44BC2CF5AD770999


NESTED = "c1 string, c2 string, i int, j int"
NESTED_ROWS = [("ABC", "DEF", 1, 2)]


@pytest.mark.parametrize("width", ["hash", "xxhash64"])
def test_hash_of_nested_values_folds_their_parts(fn_spark, width):
    # Spark hashes an array's elements in order, each with the running hash as its seed, a struct's fields
    # the same way and a map's entries key then value; a NULL element leaves the seed. So an array, a
    # struct or a map of ('ABC', 'DEF') hashes as hash('ABC', 'DEF') does: 599895104 and
    # xxhash64 3233247871021311208 in pyspark's docstrings; of 'ABC' alone -757602832 / 4105715581806190027.
    from pyspark.sql import functions as F
    two, one = {"hash": (599895104, -757602832), "xxhash64": (3233247871021311208, 4105715581806190027)}[width]
    fn = getattr(F, width)
    df = fn_spark.createDataFrame(NESTED_ROWS, NESTED)
    row = df.select(fn(F.array("c1", "c2")), fn(F.struct("c1", "c2")), fn(F.create_map("c1", "c2")),
                    fn(F.array(F.array("c1"), F.array("c2"))), fn(F.array("c1", F.lit(None).cast("string"))),
                    fn(F.array("c1").alias("a"), "c2"), fn(F.struct(F.struct("c1"), F.array("c2"))),
                    fn(F.array(F.struct("c1", "c2"))),
                    fn(F.array().cast("array<string>")), fn(F.lit(None).cast("array<int>")),
                    fn(F.array("i", "j")), fn("i", "j")).collect()[0]
    assert list(row[:8]) == [two, two, two, two, one, two, two, two]
    assert list(row[8:10]) == [42, 42]                          # nothing hashed: the seed
    assert row[10] == row[11]                                   # hash(array(1, 2)) = hash(1, 2)


def _to_byte_array(unscaled: int) -> bytes:
    """Java's BigInteger.toByteArray: big-endian two's complement in bitLength() / 8 + 1 bytes, where
    bitLength() excludes the sign bit (for a negative x it is the bit length of -x - 1)."""
    bits = (~unscaled).bit_length() if unscaled < 0 else unscaled.bit_length()
    return unscaled.to_bytes(bits // 8 + 1, "big", signed=True)


def test_hash_of_a_wide_decimal_is_the_hash_of_its_unscaled_bytes(fn_spark):
    # Spark: a decimal over 18 digits hashes BigInteger.toByteArray of its unscaled value with
    # hashUnsafeBytes, as a binary value is hashed
    from decimal import Decimal
    from pyspark.sql import functions as F
    values = [Decimal("0.00"), Decimal("1.00"), Decimal("-1.00"), Decimal("1.27"), Decimal("1.28"), Decimal("-1.28"),
              Decimal("-1.29"), Decimal("12345678901234567890123456789012345.67"),
              Decimal("-99999999999999999999999999999999999.99"), Decimal("655.35"), Decimal("-327.68")]
    rows = [(v, _to_byte_array(int(str(v).replace(".", "")))) for v in values] + [(None, None)]   # scale 2
    df = fn_spark.createDataFrame(rows, "d decimal(38,2), b binary")
    out = df.select(F.hash("d"), F.hash("b"), F.xxhash64("d"), F.xxhash64("b")).collect()
    assert [(r[0], r[2]) for r in out] == [(r[1], r[3]) for r in out]
    assert out[-1][0] == 42 and len({r[0] for r in out}) == len(out)


def test_hash_of_many_rows_is_one_value_per_row(fn_spark):
    from pyspark.sql import functions as F
    texts = _texts()
    df = fn_spark.createDataFrame([(t, i) for i, t in enumerate(texts)], "s string, i long")
    rows = df.select(F.hash("s", "i"), F.xxhash64("s", "i"), F.hash(F.lit("ABC"))).collect()
    assert len(rows) == len(texts)
    assert len({r[0] for r in rows}) == len(texts)           # distinct inputs, distinct hashes
    assert {r[2] for r in rows} == {-757602832}
