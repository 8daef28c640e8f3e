"""Spark's ``rand(seed)`` and ``randn(seed)``: the values Spark computes, vectorized with numpy.

Spark draws them from an ``XORShiftRandom`` per partition, seeded with ``seed + partition index``:

- the seed is scrambled first (``hashSeed``): its 8 big-endian bytes are hashed with MurmurHash3 x86_32
  (seed ``0x3c074a61``) into the low word, and again with the low word as seed into the high word;
- each ``next(bits)`` steps the 64-bit state ``s ^= s << 21; s ^= s >>> 35; s ^= s << 4`` and returns its
  low ``bits`` bits;
- ``rand`` is ``java.util.Random.nextDouble``: ``((next(26) << 27) + next(27)) * 2^-53``, so row ``r`` of a
  partition uses steps ``2r + 1`` and ``2r + 2``;
- ``randn`` is ``java.util.Random.nextGaussian``, the polar method: two doubles ``v1 = 2d - 1``, ``v2 = 2d - 1``
  per attempt, kept when ``0 < s = v1² + v2² < 1``, giving ``v1·m`` and then (the next row) ``v2·m`` with
  ``m = sqrt(-2 ln s / s)``.

The generator is sequential, but its step is linear over GF(2)^64, so it jumps: ``k`` steps are a 64x64 bit
matrix ``M^k`` (64 column words, squared ``log k`` times). A batch of ``k`` states is then computed as
``~sqrt(k)`` lanes, each started by one jump from the previous lane, stepped together ``~sqrt(k)`` times as
numpy operations over the lanes. ``rand`` starts each batch by jumping over the rows before it in its
partition; ``randn`` consumes a varying number of steps per row, so a batch leaves where it stopped (the
state and a pending second value) in the partition's state for the next batch.
"""

from __future__ import annotations

import math

import numpy as np

from quarry.compute.spark_hashing import _fmix32, _mix_h1, _mix_k1

__all__ = ["spark_rand", "spark_randn"]

U64 = np.uint64
_MURMUR_ARRAY_SEED = 0x3C074A61          # scala.util.hashing.MurmurHash3.arraySeed


def _bytes_hash(data: bytes, seed: int) -> int:
    """Scala's ``MurmurHash3.bytesHash`` of a whole number of 4-byte words (little-endian words)."""
    h = np.array([seed], np.uint32)
    for i in range(0, len(data), 4):
        h = _mix_h1(h, _mix_k1(np.array([int.from_bytes(data[i:i + 4], "little")], np.uint32)))
    return int(_fmix32(h, np.uint32(len(data)))[0])


def hash_seed(seed: int) -> int:
    """Spark's ``XORShiftRandom.hashSeed``: the seed spread over all 64 bits."""
    data = (seed & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
    low = _bytes_hash(data, _MURMUR_ARRAY_SEED)
    high = _bytes_hash(data, low)
    return (high << 32) | low


def _step(s: np.ndarray) -> np.ndarray:
    s = s ^ (s << U64(21))
    s = s ^ (s >> U64(35))
    return s ^ (s << U64(4))


_BITS = np.arange(64, dtype=U64)
_ONE_STEP = _step(U64(1) << _BITS)        # column i: one step of the state with only bit i set


def _apply(columns: np.ndarray, state: int) -> int:
    """The matrix (64 column words) times the state."""
    chosen = ((U64(state) >> _BITS) & U64(1)).astype(bool)
    return int(np.bitwise_xor.reduce(columns[chosen])) if chosen.any() else 0


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The matrix ``a · b`` (b first, then a)."""
    return np.array([_apply(a, int(c)) for c in b], U64)         # 64 columns, not rows of data


def _power(k: int) -> np.ndarray:
    """``M^k``: ``k`` steps as one matrix."""
    result = U64(1) << _BITS                 # the identity
    square = _ONE_STEP
    while k:
        if k & 1:
            result = _compose(square, result)
        k >>= 1
        if k:
            square = _compose(square, square)
    return result


def _jump(state: int, k: int) -> int:
    return _apply(_power(k), state) if k else state


def _states(state: int, count: int) -> np.ndarray:
    """The ``count`` states after ``state`` (what ``next`` would leave after each of ``count`` calls)."""
    if count <= 0:
        return np.zeros(0, U64)
    lanes = max(1, math.isqrt(count))
    length = -(-count // lanes)
    jump = _power(length)
    starts = np.empty(lanes, U64)
    starts[0] = state
    for lane in range(1, lanes):             # one jump per lane: ~sqrt(count) of them
        starts[lane] = _apply(jump, int(starts[lane - 1]))
    out = np.empty((length, lanes), U64)
    current = starts
    for t in range(length):                  # ~sqrt(count) steps, each over all lanes at once
        current = _step(current)
        out[t] = current
    return out.T.reshape(-1)[:count]


def _doubles(states: np.ndarray) -> np.ndarray:
    """``nextDouble`` from pairs of consecutive states."""
    high = (states[0::2] & U64((1 << 26) - 1)).astype(np.int64)
    low = (states[1::2] & U64((1 << 27) - 1)).astype(np.int64)
    return ((high << 27) + low) * (2.0 ** -53)


def spark_rand(seed: int, partition: int, offset: int, n: int) -> np.ndarray:
    """Rows ``offset .. offset + n`` of ``rand(seed)`` in partition ``partition``."""
    start = _jump(hash_seed(seed + partition), 2 * offset)
    return _doubles(_states(start, 2 * n))


def spark_randn(seed: int, partition: int, offset: int, n: int, state: dict) -> np.ndarray:
    """Rows ``offset .. offset + n`` of ``randn(seed)`` in partition ``partition``; ``state`` is the
    partition's dictionary, which carries the generator from one batch to the next."""
    key = ("randn", seed, partition)
    saved = state.get((key, offset))
    if saved is None:
        current, pending = hash_seed(seed + partition), None
        skip = offset                          # a batch out of sequence: draw the rows before it again
    else:
        current, pending = saved
        skip = 0
    want = skip + n
    out: list[np.ndarray] = []
    if pending is not None and want:
        out.append(np.array([pending]))
        pending = None
    have = sum(len(a) for a in out)
    while have < want:
        attempts = max(8, int((want - have) / 2 / 0.78) + 8)
        states = _states(current, 4 * attempts)
        d = _doubles(states)
        v1, v2 = 2 * d[0::2] - 1, 2 * d[1::2] - 1
        s = v1 * v1 + v2 * v2
        kept = np.flatnonzero((s < 1) & (s != 0))
        need_pairs = -(-(want - have) // 2)
        used = kept[:need_pairs]
        m = np.sqrt(-2 * np.log(s[used]) / s[used])
        pairs = np.empty(2 * len(used))
        pairs[0::2], pairs[1::2] = v1[used] * m, v2[used] * m
        if len(used) < need_pairs:             # not enough kept pairs in this draw: all of it is used
            current = int(states[-1])
            out.append(pairs)
            have += len(pairs)
            continue
        current = int(states[4 * used[-1] + 3])
        extra = have + len(pairs) - want
        if extra:                              # the second value of the last pair waits for the next row
            pending = float(pairs[-1])
            pairs = pairs[:-1]
        out.append(pairs)
        have += len(pairs)
    state[(key, offset + n)] = (current, pending)
    values = np.concatenate(out) if out else np.zeros(0)
    return values[skip:skip + n]
