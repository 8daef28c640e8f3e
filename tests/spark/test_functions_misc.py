"""Spark's miscellaneous functions through the real pyspark-client.

From Spark's documentation: ``monotonically_increasing_id`` is "guaranteed to be monotonically increasing
and unique, but not consecutive"; ``spark_partition_id`` is the partition id; ``input_file_name`` is the
empty string when unknown; ``rand(seed)`` is uniform in [0.0, 1.0) and ``randn(seed)`` standard normal,
deterministic for a seed, with the values of pyspark's docstrings (``rand(seed=42)`` over one partition is
0.619189370225..., 0.5096018842446...) and of a clean-room reference of Spark's XORShiftRandom below;
``uuid`` is "a canonical UUID 36-character string"; ``typeof`` is the DDL name of the type (``typeof(1) = 'int'``, ``typeof(array(1)) = 'array<int>'``).
"""

from __future__ import annotations

import math
import re
import struct

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import check, fn_spark  # noqa: E402,F401

CASES = [
    ("typeof-int", "i int", [(1,)], lambda F, d: F.typeof("i"), ["int"], "typeof(i)"),
    ("typeof-literals", "i int", [(1,)], lambda F, d: F.typeof(F.lit("a")), ["string"], "typeof(a)"),
    ("typeof-double", "x double", [(1.0,)], lambda F, d: F.typeof("x"), ["double"], None),
    ("typeof-bigint", "l long", [(1,)], lambda F, d: F.typeof("l"), ["bigint"], None),
    ("spark-partition-id", "i int", [(1,), (2,)], lambda F, d: F.spark_partition_id(), [0, 0],
     "SPARK_PARTITION_ID()"),
    ("input-file-name", "i int", [(1,)], lambda F, d: F.input_file_name(), [""], "input_file_name()"),
    ("lit", "i int", [(1,)], lambda F, d: F.lit(5), [5], "5"),
    ("col", "i int", [(1,)], lambda F, d: F.col("i"), [1], "i"),
    ("expr", "i int", [(3,)], lambda F, d: F.expr("i + 1"), [4], None),
    ("current-schema", "i int", [(1,)], lambda F, d: F.current_schema(), ["default"], None),
    ("current-catalog", "i int", [(1,)], lambda F, d: F.current_catalog(), ["spark_catalog"], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_misc(fn_spark, case):
    check(fn_spark, case)


def test_monotonically_increasing_id_is_increasing_and_unique(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(i,) for i in range(50)], "i int")
    ids = [r[0] for r in df.select(F.monotonically_increasing_id()).collect()]
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert df.select(F.monotonically_increasing_id()).columns == ["monotonically_increasing_id()"]


@pytest.fixture(scope="module")
def three_partitions(tmp_path_factory):
    """A PySpark session over a quarry server whose table ``t`` (three Parquet files) scans as three
    partitions, of 4, 5 and 6 rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import quarry
    import quarry.spark
    from pyspark.sql import SparkSession
    folder = tmp_path_factory.mktemp("parts")
    for k in range(3):
        pq.write_table(pa.table({"i": list(range(k * 10, k * 10 + 4 + k))}), folder / f"part{k}.parquet")
    session = quarry.connect(executor="inline", target_partitions=3)
    session.register("t", str(folder))
    server = quarry.spark.serve(session, "127.0.0.1", 0)
    spark = SparkSession.builder.remote(server.url).create()
    try:
        yield spark
    finally:
        spark.stop()
        server.stop(0)


def _ids_by_partition(rows):
    by: dict = {}
    for partition, row_id in rows:
        by.setdefault(partition, []).append(row_id)
    return by


def test_monotonically_increasing_id_is_sparks_value_per_partition(three_partitions):
    # Spark: "The current implementation puts the partition ID in the upper 31 bits, and the record number
    # within each partition in the lower 33 bits"
    from pyspark.sql import functions as F
    df = three_partitions.table("t")
    for frame in (df, df.filter("i % 2 = 0")):       # after a filter the record numbers count its rows
        rows = frame.select(F.spark_partition_id(), F.monotonically_increasing_id()).collect()
        by = _ids_by_partition(rows)
        assert sorted(by) == [0, 1, 2]
        for partition, ids in by.items():
            assert ids == [(partition << 33) + k for k in range(len(ids))]
    counts = {p: len(ids) for p, ids in _ids_by_partition(
        df.select(F.spark_partition_id(), F.lit(0)).collect()).items()}
    assert sorted(counts.values()) == [4, 5, 6]


def test_rand_with_a_seed_is_deterministic_and_in_range(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(i,) for i in range(100)], "i int")
    first = [r[0] for r in df.select(F.rand(42)).collect()]
    again = [r[0] for r in df.select(F.rand(42)).collect()]
    other = [r[0] for r in df.select(F.rand(7)).collect()]
    assert first == again and first != other
    assert all(0.0 <= v < 1.0 for v in first)
    assert df.select(F.rand(42)).columns == ["rand(42)"]
    normal = [r[0] for r in df.select(F.randn(42)).collect()]
    assert normal == [r[0] for r in df.select(F.randn(42)).collect()]
    assert any(v < 0 for v in normal) and any(v > 0 for v in normal)


# -- rand/randn: a clean-room reference of Spark's generator, written from its definition -------------------
# XORShiftRandom(seed + partition index): the seed scrambled by hashSeed (MurmurHash3 x86_32 of its 8
# big-endian bytes, seed 0x3c074a61, for the low word; again with the low word as seed for the high word);
# next(bits) steps s ^= s << 21, s ^= s >>> 35, s ^= s << 4 and returns the low bits; nextDouble and
# nextGaussian are java.util.Random's. One Python step per value: the test's reference, not the kernel.

M32 = 0xFFFFFFFF; M64 = (1 << 64) - 1
def rotl(x, r): return ((x << r) | (x >> (32 - r))) & M32
def mix_k(k):
    k = (k * 0xCC9E2D51) & M32; k = rotl(k, 15); return (k * 0x1B873593) & M32
def mix(h, k):
    h ^= mix_k(k); h = rotl(h, 13); return (h * 5 + 0xE6546B64) & M32
def fmix(h, n):
    h ^= n; h ^= h >> 16; h = (h * 0x85EBCA6B) & M32; h ^= h >> 13; h = (h * 0xC2B2AE35) & M32; return h ^ (h >> 16)
def bytes_hash(data, seed):
    h = seed
    for i in range(0, len(data) // 4 * 4, 4):
        h = mix(h, int.from_bytes(data[i:i+4], "little"))
    assert len(data) % 4 == 0
    return fmix(h, len(data))
def hash_seed(seed):
    b = struct.pack(">q", seed)
    low = bytes_hash(b, 0x3C074A61)
    high = bytes_hash(b, low)
    return ((high << 32) | low) & M64
class XOR:
    def __init__(self, seed): self.s = hash_seed(seed); self.have = False
    def next(self, bits):
        s = self.s
        s ^= (s << 21) & M64; s ^= s >> 35; s ^= (s << 4) & M64
        self.s = s
        v = s & ((1 << bits) - 1)
        return v
    def next_double(self): return ((self.next(26) << 27) + self.next(27)) * 2.0 ** -53
    def gauss(self):
        if self.have:
            self.have = False; return self.nn
        while True:
            v1 = 2 * self.next_double() - 1; v2 = 2 * self.next_double() - 1; s = v1 * v1 + v2 * v2
            if 0 < s < 1: break
        m = math.sqrt(-2 * math.log(s) / s); self.nn = v2 * m; self.have = True; return v1 * m


def _reference(kind: str, seed: int, partition: int, n: int) -> list[float]:
    r = XOR(seed + partition)
    return [r.next_double() if kind == "rand" else r.gauss() for _ in range(n)]


def test_rand_and_randn_are_sparks_published_values(fn_spark):
    # pyspark.sql.functions.rand / randn docstrings: spark.range(0, 2, 1, 1).select(rand(seed=42)) shows
    # 0.619189370225... and 0.5096018842446...; randn(seed=42) 2.384479054241... and 0.1920934041293...
    from pyspark.sql import functions as F
    df = fn_spark.range(0, 2, 1, 1)
    rand = [r[0] for r in df.select(F.rand(seed=42)).collect()]
    randn = [r[0] for r in df.select(F.randn(seed=42)).collect()]
    assert [repr(v)[:len(p)] for v, p in zip(rand, ("0.619189370225", "0.5096018842446"))] == \
        ["0.619189370225", "0.5096018842446"]
    assert [repr(v)[:len(p)] for v, p in zip(randn, ("2.384479054241", "0.1920934041293"))] == \
        ["2.384479054241", "0.1920934041293"]


def test_rand_and_randn_follow_sparks_generator_per_partition(fn_spark, three_partitions):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(i,) for i in range(300)], "i int")
    for kind, seed in (("rand", 42), ("randn", 42), ("rand", -7), ("randn", 2 ** 40)):
        got = [r[0] for r in df.select(getattr(F, kind)(seed)).collect()]
        assert got == pytest.approx(_reference(kind, seed, 0, 300), rel=1e-15, abs=0)
    rows = three_partitions.table("t").select(F.spark_partition_id(), F.rand(5), F.randn(5)).collect()
    by: dict = {}
    for partition, u, g in rows:
        by.setdefault(partition, []).append((u, g))
    assert sorted(by) == [0, 1, 2]
    for partition, values in by.items():              # seeded with seed + partition index
        assert [u for u, _ in values] == _reference("rand", 5, partition, len(values))
        assert [g for _, g in values] == pytest.approx(_reference("randn", 5, partition, len(values)), rel=1e-15)


def test_rand_kernels_continue_across_batches():
    from quarry.compute.spark_random import spark_rand, spark_randn
    want_u, want_g = _reference("rand", 11, 2, 1000), _reference("randn", 11, 2, 1000)
    state: dict = {}
    u, g = [], []
    for start, stop in ((0, 1), (1, 334), (334, 335), (335, 1000)):     # batches of odd sizes
        u += list(spark_rand(11, 2, start, stop - start))
        g += list(spark_randn(11, 2, start, stop - start, state))
    assert u == want_u
    assert g == pytest.approx(want_g, rel=1e-15, abs=0)
    assert list(spark_randn(11, 2, 500, 7, {})) == pytest.approx(want_g[500:507], rel=1e-15)   # out of order


def test_uuid_is_a_canonical_version_4_uuid(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(i,) for i in range(20)], "i int")
    values = [r[0] for r in df.select(F.uuid()).collect()]
    assert len(set(values)) == 20
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", v) for v in values)


def test_raise_error_and_assert_true(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([(1,)], "i int")
    with pytest.raises(PySparkException, match="boom"):
        df.select(F.raise_error(F.lit("boom"))).collect()
    assert df.select(F.assert_true(df.i == 1)).collect()[0][0] is None
    with pytest.raises(PySparkException, match="is not true"):
        df.select(F.assert_true(df.i == 2)).collect()


@pytest.mark.parametrize("sql", [
    "SELECT chr(321)", "SELECT regexp_extract('a1', '([a-z])([0-9])')", "SELECT max_by(x, y) FROM VALUES (1, 2) t(x, y)",
    "SELECT corr(x, y) FROM VALUES (1, 2) t(x, y)", "SELECT mode(x) FROM VALUES (1) t(x)",
    # issue #12's dates: Spark's weekday counts from Monday, its dayname is 'Mon', make_timestamp NULL on bad fields
    "SELECT weekday(DATE'2024-01-01')", "SELECT dayname(DATE'2024-01-01')", "SELECT monthname(DATE'2024-01-01')",
    "SELECT make_timestamp(2024, 2, 30, 0, 0, 0)", "SELECT last_day(DATE'2024-01-01')",
    "SELECT unhex('zz')", "SELECT hex(1.5)", "SELECT bin(5)", "SELECT base64('abc')", "SELECT unbase64('YW')",
    "SELECT encode('a', 'utf-8')", "SELECT decode(encode('a', 'utf-8'), 'utf-8')", "SELECT octet_length('abc')",
    "SELECT factorial(21)", "SELECT sequence(5, 1)", "SELECT range(3)",
    "SELECT array_intersect(array(1, NULL), array(NULL))", "SELECT reduce(array(1, 2), 0, (acc, x) -> acc + x)",
])
def test_duckdb_meanings_of_spark_names_are_refused_in_sql_text(fn_spark, sql):
    """quarry's SQL functions of these names have DuckDB's meaning (chr of 321 is 'Ł', Spark's 'A'):
    Spark SQL text refuses them instead of answering the DuckDB way."""
    from pyspark.errors import PySparkException
    with pytest.raises(PySparkException, match="in Spark SQL text"):
        fn_spark.sql(sql).collect()


def test_spark_sql_text_takes_the_functions_whose_meaning_is_the_same(fn_spark):
    row = fn_spark.sql("SELECT md5('abc') AS a, sha1('abc') AS b, ascii('A') AS c, concat_ws('-', 'x', NULL, 'y') AS d, "
                       "sha2('abc', 256) AS e").collect()[0]
    assert (row.a, row.b, row.c, row.d) == ("900150983cd24fb0d6963f7d28e17f72",
                                             "a9993e364706816aba3e25717850c26c9cd0d89d", 65, "x-y")
    assert row.e == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_duckdb_meanings_are_refused_in_expression_strings_too(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    with pytest.raises(PySparkException, match="in Spark SQL text"):
        fn_spark.range(3).select(F.expr("chr(id + 65)")).collect()
    assert [r[0] for r in fn_spark.range(2).select(F.chr(F.col("id") + 321)).collect()] == ["A", "B"]
