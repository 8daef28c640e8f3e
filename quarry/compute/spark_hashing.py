"""Spark's hash functions with Spark's exact values, vectorized with numpy over all rows at once.

- ``hash`` is Murmur3 x86_32 with seed 42, folded over the columns (each column's hash seeds the next;
  a NULL leaves the seed as it is), over Spark's binary form of each type: INT-sized values (and
  booleans, dates) as one 4-byte word, BIGINT-sized (timestamps, decimals up to 18 digits) as two,
  floats by their IEEE bits (-0.0 as 0.0), strings and binaries by their bytes, where Spark mixes each
  trailing byte (sign-extended) as a whole word.
- ``xxhash64`` is XXH64 with seed 42, folded the same way.
- nested values fold the same way inside a column: an array's elements in order, a struct's fields, a
  map's entries key then value (element ``j`` of every row is one vectorized step); a decimal over 18
  digits hashes the bytes of Java's ``BigInteger.toByteArray`` of its unscaled value.
- ``md5``, ``sha1``, ``sha2`` (224, 256, 384, 512) and ``crc32`` follow their RFC/FIPS definitions.

Variable-length inputs run block by block: rows are sorted by their number of blocks, so block ``j``
is processed for the prefix of rows that have one, as one numpy operation per step of the algorithm.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.compute.kernels import kernel, to_array
from quarry.errors import UnsupportedError
from quarry.logical import types as T

U32 = np.uint32
U64 = np.uint64


def _bytes(x, n):
    from quarry.compute.spark_kernels import _bytes_of
    return _bytes_of(x, n)


def _rotl32(x, r):
    return (x << U32(r)) | (x >> U32(32 - r))


def _rotr32(x, r):
    return (x >> U32(r)) | (x << U32(32 - r))


def _rotl64(x, r):
    return (x << U64(r)) | (x >> U64(64 - r))


def _rotr64(x, r):
    return (x >> U64(r)) | (x << U64(64 - r))


# ------------------------------------------------------------------ Murmur3 x86_32 (Spark's variant)

_C1, _C2 = U32(0xCC9E2D51), U32(0x1B873593)


def _mix_k1(k):
    k = k * _C1
    k = _rotl32(k, 15)
    return k * _C2


def _mix_h1(h, k):
    h = h ^ k
    h = _rotl32(h, 13)
    return h * U32(5) + U32(0xE6546B64)


def _fmix32(h, length):
    h = h ^ length
    h = h ^ (h >> U32(16))
    h = h * U32(0x85EBCA6B)
    h = h ^ (h >> U32(13))
    h = h * U32(0xC2B2AE35)
    return h ^ (h >> U32(16))


def _m3_int(v: np.ndarray, seed: np.ndarray) -> np.ndarray:
    return _fmix32(_mix_h1(seed, _mix_k1(v.astype(np.int64).astype(U32))), U32(4))


def _m3_long(v: np.ndarray, seed: np.ndarray) -> np.ndarray:
    u = v.astype(np.int64).view(U64)
    low = (u & U64(0xFFFFFFFF)).astype(U32)
    high = (u >> U64(32)).astype(U32)
    h = _mix_h1(seed, _mix_k1(low))
    h = _mix_h1(h, _mix_k1(high))
    return _fmix32(h, U32(8))


def _m3_bytes(data, offsets, seed):
    lengths = np.diff(offsets)
    h = seed.copy()
    n = len(lengths)
    aligned = lengths - lengths % 4
    padded = np.concatenate([data, np.zeros(8, np.uint8)])
    starts = offsets[:-1]
    words = aligned // 4
    order = np.argsort(-words, kind="stable")
    sorted_words = words[order]
    for j in range(int(sorted_words[0]) if n else 0):
        active = order[:int((sorted_words > j).sum())]
        pos = starts[active] + 4 * j
        k = (padded[pos].astype(U32) | (padded[pos + 1].astype(U32) << U32(8)) |
             (padded[pos + 2].astype(U32) << U32(16)) | (padded[pos + 3].astype(U32) << U32(24)))
        h[active] = _mix_h1(h[active], _mix_k1(k))
    tail = lengths % 4
    for t in range(3):
        rows = np.flatnonzero(tail > t)
        if len(rows):
            b = padded[starts[rows] + aligned[rows] + t].astype(np.int8).astype(np.int32).astype(U32)
            h[rows] = _mix_h1(h[rows], _mix_k1(b))
    return _fmix32(h, lengths.astype(U32))


# ------------------------------------------------------------------ XXH64

_P1, _P2, _P3 = U64(0x9E3779B185EBCA87), U64(0xC2B2AE3D27D4EB4F), U64(0x165667B19E3779F9)
_P4, _P5 = U64(0x85EBCA77C2B2AE63), U64(0x27D4EB2F165667C5)


def _fmix64(h):
    h = h ^ (h >> U64(33))
    h = h * _P2
    h = h ^ (h >> U64(29))
    h = h * _P3
    return h ^ (h >> U64(32))


def _xx_int(v, seed):
    h = seed + _P5 + U64(4)
    h = h ^ ((v.astype(np.int64).view(U64) & U64(0xFFFFFFFF)) * _P1)
    h = _rotl64(h, 23) * _P2 + _P3
    return _fmix64(h)


def _xx_round(acc, word):
    acc = acc + word * _P2
    acc = _rotl64(acc, 31)
    return acc * _P1


def _xx_long(v, seed):
    h = seed + _P5 + U64(8)
    h = h ^ _xx_round(np.zeros_like(h), v.astype(np.int64).view(U64))
    h = _rotl64(h, 27) * _P1 + _P4
    return _fmix64(h)


def _words64(padded, pos):
    w = np.zeros(len(pos), U64)
    for i in range(8):
        w |= padded[pos + i].astype(U64) << U64(8 * i)
    return w


def _words32(padded, pos):
    w = np.zeros(len(pos), U64)
    for i in range(4):
        w |= padded[pos + i].astype(U64) << U64(8 * i)
    return w


def _xx_bytes(data, offsets, seed):
    lengths = np.diff(offsets)
    n = len(lengths)
    starts = offsets[:-1]
    padded = np.concatenate([data, np.zeros(40, np.uint8)])
    h = np.zeros(n, U64)
    long_rows = np.flatnonzero(lengths >= 32)
    consumed = np.zeros(n, np.int64)
    if len(long_rows):
        s = seed[long_rows]
        v1, v2, v3, v4 = s + _P1 + _P2, s + _P2, s.copy(), s - _P1
        stripes = lengths[long_rows] // 32
        order = np.argsort(-stripes, kind="stable")
        ss = stripes[order]
        for j in range(int(ss[0])):
            act = order[:int((ss > j).sum())]
            base = starts[long_rows[act]] + 32 * j
            v1[act] = _xx_round(v1[act], _words64(padded, base))
            v2[act] = _xx_round(v2[act], _words64(padded, base + 8))
            v3[act] = _xx_round(v3[act], _words64(padded, base + 16))
            v4[act] = _xx_round(v4[act], _words64(padded, base + 24))
        acc = _rotl64(v1, 1) + _rotl64(v2, 7) + _rotl64(v3, 12) + _rotl64(v4, 18)
        for v in (v1, v2, v3, v4):
            acc = acc ^ _xx_round(np.zeros_like(acc), v)
            acc = acc * _P1 + _P4
        h[long_rows] = acc
        consumed[long_rows] = stripes * 32
    short = lengths < 32
    h[short] = seed[short] + _P5
    h = h + lengths.astype(U64)
    rest = lengths - consumed
    words8 = rest // 8
    order = np.argsort(-words8, kind="stable")
    sw = words8[order]
    for j in range(int(sw[0]) if n else 0):
        act = order[:int((sw > j).sum())]
        pos = starts[act] + consumed[act] + 8 * j
        k = _xx_round(np.zeros(len(act), U64), _words64(padded, pos))
        hh = h[act] ^ k
        h[act] = _rotl64(hh, 27) * _P1 + _P4
    consumed = consumed + words8 * 8
    rows = np.flatnonzero(lengths - consumed >= 4)
    if len(rows):
        pos = starts[rows] + consumed[rows]
        hh = h[rows] ^ (_words32(padded, pos) * _P1)
        h[rows] = _rotl64(hh, 23) * _P2 + _P3
        consumed[rows] += 4
    for t in range(3):
        rows = np.flatnonzero(lengths - consumed > t)
        if len(rows):
            b = padded[starts[rows] + consumed[rows] + t].astype(U64)
            hh = h[rows] ^ (b * _P5)
            h[rows] = _rotl64(hh, 11) * _P1
    return _fmix64(h)


# ------------------------------------------------------------------ hash() and xxhash64()


def _column_values(arr: pa.Array, n: int):
    """How Spark hashes a column: ('int'|'long'|'bytes', values, validity)."""
    t = arr.type
    valid = None if arr.null_count == 0 else np.asarray(arr.is_valid())
    if pa.types.is_boolean(t):
        return "int", np.asarray(pc.fill_null(arr, False).cast(pa.int32())), valid
    if pa.types.is_integer(t) and t.bit_width <= 32:
        return "int", np.asarray(pc.fill_null(arr, 0).cast(pa.int32())), valid
    if pa.types.is_integer(t):
        return "long", np.asarray(pc.fill_null(arr, 0).cast(pa.int64())), valid
    if pa.types.is_date32(t):
        return "int", np.asarray(pc.fill_null(arr.cast(pa.int32()), 0)), valid
    if pa.types.is_timestamp(t):
        us = arr.cast(pa.timestamp("us", t.tz)).cast(pa.int64())
        return "long", np.asarray(pc.fill_null(us, 0)), valid
    if pa.types.is_float32(t):
        f = np.asarray(pc.fill_null(arr, 0.0)).astype(np.float32)
        f = np.where(f == 0, np.float32(0), f)
        bits = f.view(np.int32)
        bits = np.where(np.isnan(f), np.int32(0x7FC00000), bits)
        return "int", bits, valid
    if pa.types.is_float64(t):
        f = np.asarray(pc.fill_null(arr, 0.0)).astype(np.float64)
        f = np.where(f == 0, 0.0, f)
        bits = f.view(np.int64)
        bits = np.where(np.isnan(f), np.int64(0x7FF8000000000000), bits)
        return "long", bits, valid
    if pa.types.is_decimal(t) and t.precision <= 18:
        unscaled = pa.Array.from_buffers(pa.decimal128(t.precision, t.scale), len(arr), arr.buffers(),
                                         offset=arr.offset)
        raw = np.frombuffer(unscaled.buffers()[1], dtype=np.int64)[2 * arr.offset:2 * (arr.offset + len(arr))]
        low = raw[0::2].copy()
        if valid is not None:
            low[~valid] = 0
        return "long", low, valid
    if pa.types.is_decimal128(t):
        return "bytes", _decimal_bytes(arr), valid
    if T.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "bytes", arr, valid
    raise UnsupportedError(f"Not supported: hashing a column of type {T.sql_name(t)} (hash, xxhash64)")


def _decimal_bytes(arr: pa.Array) -> pa.Array:
    """The unscaled values of a decimal over 18 digits as Java's ``BigInteger.toByteArray``: big-endian two's
    complement in the fewest bytes that keep the sign bit (what Spark hashes for them)."""
    n = len(arr)
    raw = np.frombuffer(arr.buffers()[1], np.uint8)[16 * arr.offset:16 * (arr.offset + n)].reshape(n, 16)
    big = raw[:, ::-1]                                          # Arrow stores them little-endian
    sign = np.where(big[:, 0] & 0x80, np.uint8(0xFF), np.uint8(0))
    # a leading byte is redundant when it is all sign bits and the next byte carries the same sign bit
    redundant = (big[:, :-1] == sign[:, None]) & ((big[:, 1:] & 0x80) == (sign[:, None] & 0x80))
    skip = np.cumprod(redundant, axis=1).sum(axis=1)
    keep = np.arange(16)[None, :] >= skip[:, None]
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(16 - skip, out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(big[keep].tobytes())])


def _hash_column(arr: pa.Array, seed: np.ndarray, width: int) -> np.ndarray:
    """Spark's hash of each row's value with that row's running ``seed``; a NULL keeps its seed. An array
    hashes its elements in order, each seeding the next; a struct its fields; a map each entry's key,
    then its value."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    n = len(arr)
    if pa.types.is_null(t) or n == 0:
        return seed
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_struct(t):
        for child in arr.flatten():                 # a NULL struct makes every field NULL: the seed stays
            seed = _hash_column(child, seed, width)
        return seed
    if pa.types.is_map(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = np.asarray(arr.offsets).astype(np.int64)
        lengths = np.diff(offsets)
        if arr.null_count:
            lengths = np.where(np.asarray(arr.is_valid()), lengths, 0)
        children = [arr.keys, arr.items] if pa.types.is_map(t) else [arr.values]
        order = np.argsort(-lengths, kind="stable")
        ranked = lengths[order]
        seed = seed.copy()
        # element j of every row that has one, as one vectorized step: the elements of a row run in order
        for j in range(int(ranked[0]) if n else 0):
            active = order[:int((ranked > j).sum())]
            at = pa.array(offsets[:-1][active] + j)
            h = seed[active]
            for child in children:
                h = _hash_column(child.take(at), h, width)
            seed[active] = h
        return seed
    kind, values, valid = _column_values(arr, n)
    if kind == "int":
        h = _m3_int(values, seed) if width == 32 else _xx_int(values, seed)
    elif kind == "long":
        h = _m3_long(values, seed) if width == 32 else _xx_long(values, seed)
    else:
        data, offsets, _ = _bytes(values, n)
        h = _m3_bytes(data, offsets, seed) if width == 32 else _xx_bytes(data, offsets, seed)
    return h if valid is None else np.where(valid, h, seed)


def _fold(args, n, width):
    seed = np.full(n, 42, U32 if width == 32 else U64)
    for a in args:
        if isinstance(a, pa.Scalar) and not a.is_valid:
            continue
        seed = _hash_column(to_array(a, n), seed, width)
    return seed


@kernel("spark_murmur3")
def _murmur3(name, args, dtype, n):
    scalar = all(isinstance(a, pa.Scalar) for a in args)
    out = pa.array(_fold(args, max(n, 1) if scalar else n, 32).view(np.int32), T.INT32)
    return out[0] if scalar else out


@kernel("spark_xxhash64")
def _xxhash64(name, args, dtype, n):
    scalar = all(isinstance(a, pa.Scalar) for a in args)
    out = pa.array(_fold(args, max(n, 1) if scalar else n, 64).view(np.int64), T.INT64)
    return out[0] if scalar else out


# ------------------------------------------------------------------ digests


def _padded(data, offsets, block: int, length_bytes: int, big_endian: bool):
    """Each row padded as MD5/SHA pad a message: (buffer, row starts, blocks per row)."""
    lengths = np.diff(offsets)
    n = len(lengths)
    blocks = (lengths + 1 + length_bytes + block - 1) // block
    size = blocks * block
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(size, out=starts[1:])
    buf = np.zeros(int(starts[-1]), np.uint8)
    row_of = np.repeat(np.arange(n), lengths)
    buf[starts[:-1][row_of] + (np.arange(len(data)) - offsets[:-1][row_of])] = data[:len(row_of)]
    buf[starts[:-1] + lengths] = 0x80
    bits = (lengths.astype(np.uint64) * np.uint64(8))
    end = starts[1:]
    for i in range(8):
        byte = ((bits >> np.uint64(8 * i)) & np.uint64(0xFF)).astype(np.uint8)
        pos = end - 1 - i if big_endian else end - length_bytes + i
        buf[pos] = byte
    return buf, starts[:-1], blocks


def _blocks(buf, starts, blocks, block):
    """For each block index, the rows that have it and their block's position."""
    order = np.argsort(-blocks, kind="stable")
    sb = blocks[order]
    for j in range(int(sb[0]) if len(sb) else 0):
        act = order[:int((sb > j).sum())]
        yield act, starts[act] + block * j


def _gather_words(buf, pos, count, size, big_endian):
    dt = U32 if size == 4 else U64
    idx = pos[:, None] + np.arange(count * size).reshape(count, size)[None, :, :].reshape(1, -1)
    raw = buf[idx].reshape(len(pos), count, size).astype(dt)
    shifts = (np.arange(size)[::-1] if big_endian else np.arange(size)).astype(dt) * dt(8)
    return np.bitwise_or.reduce(raw << shifts, axis=2)


_MD5_S = np.array([7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4)
_MD5_K = [U32(int(abs(math.sin(i + 1)) * 2 ** 32) & 0xFFFFFFFF) for i in range(64)]


def _md5(data, offsets):
    buf, starts, blocks = _padded(data, offsets, 64, 8, False)
    n = len(blocks)
    state = np.tile(np.array([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476], U32), (n, 1))
    for act, pos in _blocks(buf, starts, blocks, 64):
        m = _gather_words(buf, pos, 16, 4, False)
        a, b, c, d = (state[act, i].copy() for i in range(4))
        for i in range(64):
            if i < 16:
                f, g = (b & c) | (~b & d), i
            elif i < 32:
                f, g = (d & b) | (~d & c), (5 * i + 1) % 16
            elif i < 48:
                f, g = b ^ c ^ d, (3 * i + 5) % 16
            else:
                f, g = c ^ (b | ~d), (7 * i) % 16
            f = f + a + _MD5_K[i] + m[:, g]
            a, d, c = d, c, b
            b = b + _rotl32(f, int(_MD5_S[i]))
        state[act] += np.stack([a, b, c, d], axis=1)
    return state.astype("<u4").view(np.uint8).reshape(n, 16)


def _sha1(data, offsets):
    buf, starts, blocks = _padded(data, offsets, 64, 8, True)
    n = len(blocks)
    state = np.tile(np.array([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0], U32), (n, 1))
    for act, pos in _blocks(buf, starts, blocks, 64):
        w = list(_gather_words(buf, pos, 16, 4, True).T)
        for i in range(16, 80):
            w.append(_rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1))
        a, b, c, d, e = (state[act, i].copy() for i in range(5))
        for i in range(80):
            if i < 20:
                f, k = (b & c) | (~b & d), U32(0x5A827999)
            elif i < 40:
                f, k = b ^ c ^ d, U32(0x6ED9EBA1)
            elif i < 60:
                f, k = (b & c) | (b & d) | (c & d), U32(0x8F1BBCDC)
            else:
                f, k = b ^ c ^ d, U32(0xCA62C1D6)
            t = _rotl32(a, 5) + f + e + k + w[i]
            e, d, c, b, a = d, c, _rotl32(b, 30), a, t
        state[act] += np.stack([a, b, c, d, e], axis=1)
    return state.astype(">u4").view(np.uint8).reshape(n, 20)


def _primes(count):
    out, k = [], 2
    while len(out) < count:
        if all(k % p for p in out if p * p <= k):
            out.append(k)
        k += 1
    return out


def _iroot(x, r):
    """floor(x ** (1/r)) for big integers."""
    lo, hi = 0, 1 << (x.bit_length() // r + 2)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid ** r <= x:
            lo = mid
        else:
            hi = mid - 1
    return lo


_PR = _primes(80)
_K256 = np.array([_iroot(p << 96, 3) & 0xFFFFFFFF for p in _PR[:64]], U32)
_H256 = np.array([_iroot(p << 64, 2) & 0xFFFFFFFF for p in _PR[:8]], U32)
_H224 = np.array([(_iroot(p << 128, 2) & 0xFFFFFFFF) for p in _PR[8:16]], U32)
_K512 = np.array([_iroot(p << 192, 3) & 0xFFFFFFFFFFFFFFFF for p in _PR[:80]], U64)
_H512 = np.array([_iroot(p << 128, 2) & 0xFFFFFFFFFFFFFFFF for p in _PR[:8]], U64)
_H384 = np.array([_iroot(p << 128, 2) & 0xFFFFFFFFFFFFFFFF for p in _PR[8:16]], U64)


# The two SHA-2 shapes (FIPS 180-4): 32-bit words, 64 rounds over 64-byte blocks (SHA-224/256), and
# 64-bit words, 80 rounds over 128-byte blocks (SHA-384/512); they differ in these constants only.
_SHA2_32 = dict(word=4, rounds=64, k=_K256, rotr=_rotr32, kind=U32, big=">u4",
                sigma=((7, 18, 3), (17, 19, 10)), big_sigma=((2, 13, 22), (6, 11, 25)))
_SHA2_64 = dict(word=8, rounds=80, k=_K512, rotr=_rotr64, kind=U64, big=">u8",
                sigma=((1, 8, 7), (19, 61, 6)), big_sigma=((28, 34, 39), (14, 18, 41)))


def _sha2(data, offsets, init, shape):
    word, rounds, K, rotr, kind = shape["word"], shape["rounds"], shape["k"], shape["rotr"], shape["kind"]
    (r0a, r0b, sh0), (r1a, r1b, sh1) = shape["sigma"]
    (a0, a1, a2), (e0, e1, e2) = shape["big_sigma"]
    block = 16 * word
    buf, starts, blocks = _padded(data, offsets, block, 2 * word, True)
    n = len(blocks)
    state = np.tile(init, (n, 1))
    for act, pos in _blocks(buf, starts, blocks, block):
        w = list(_gather_words(buf, pos, 16, word, True).T)
        for i in range(16, rounds):
            s0 = rotr(w[i - 15], r0a) ^ rotr(w[i - 15], r0b) ^ (w[i - 15] >> kind(sh0))
            s1 = rotr(w[i - 2], r1a) ^ rotr(w[i - 2], r1b) ^ (w[i - 2] >> kind(sh1))
            w.append(w[i - 16] + s0 + w[i - 7] + s1)
        a, b, c, d, e, f, g, h = (state[act, i].copy() for i in range(8))
        for i in range(rounds):
            s1 = rotr(e, e0) ^ rotr(e, e1) ^ rotr(e, e2)
            t1 = h + s1 + ((e & f) ^ (~e & g)) + K[i] + w[i]
            s0 = rotr(a, a0) ^ rotr(a, a1) ^ rotr(a, a2)
            t2 = s0 + ((a & b) ^ (a & c) ^ (b & c))
            h, g, f, e, d, c, b, a = g, f, e, d + t1, c, b, a, t1 + t2
        state[act] += np.stack([a, b, c, d, e, f, g, h], axis=1)
    return state.astype(shape["big"]).view(np.uint8).reshape(n, 8 * word)


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _hex_rows(digest: np.ndarray, valid) -> pa.Array:
    from quarry.compute.spark_kernels import _fixed_rows_to_strings
    n, width = digest.shape
    out = np.empty((n, 2 * width), np.uint8)
    out[:, 0::2] = _HEX[digest >> 4]
    out[:, 1::2] = _HEX[digest & 15]
    return _fixed_rows_to_strings(out, np.full(n, 2 * width, np.int64), valid, right_aligned=False)


_DIGESTS = {
    "md5": lambda d, o: _md5(d, o), "sha1": lambda d, o: _sha1(d, o),
    "sha224": lambda d, o: _sha2(d, o, _H224, _SHA2_32)[:, :28], "sha256": lambda d, o: _sha2(d, o, _H256, _SHA2_32),
    "sha384": lambda d, o: _sha2(d, o, _H384, _SHA2_64)[:, :48], "sha512": lambda d, o: _sha2(d, o, _H512, _SHA2_64),
}


@kernel("spark_digest")
def _digest(name, args, dtype, n):
    algorithm = args[0].as_py()
    if algorithm not in _DIGESTS:
        return pa.nulls(n, T.STRING) if not isinstance(args[1], pa.Scalar) else pa.scalar(None, T.STRING)
    scalar = isinstance(args[1], pa.Scalar)
    arr = to_array(args[1], max(n, 1) if scalar else n)
    data, offsets, valid = _bytes(arr, len(arr))
    out = _hex_rows(_DIGESTS[algorithm](data, offsets), valid)
    return out[0] if scalar else out


def _crc_table():
    table = np.zeros(256, U32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[i] = c
    return table


_CRC = _crc_table()


@kernel("spark_crc32")
def _crc32(name, args, dtype, n):
    scalar = isinstance(args[0], pa.Scalar)
    arr = to_array(args[0], max(n, 1) if scalar else n)
    data, offsets, valid = _bytes(arr, len(arr))
    lengths = np.diff(offsets)
    crc = np.full(len(lengths), 0xFFFFFFFF, U32)
    order = np.argsort(-lengths, kind="stable")
    sl = lengths[order]
    starts = offsets[:-1]
    for j in range(int(sl[0]) if len(sl) else 0):
        act = order[:int((sl > j).sum())]
        b = data[starts[act] + j].astype(U32)
        c = crc[act]
        crc[act] = _CRC[((c ^ b) & U32(0xFF)).astype(np.intp)] ^ (c >> U32(8))
    out = (crc ^ U32(0xFFFFFFFF)).astype(np.int64)
    result = pa.array(out, T.INT64, mask=None if valid is None else ~valid)
    return result[0] if scalar else result
