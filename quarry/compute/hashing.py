"""Vectorized hashing of key columns, for hash-partitioned exchanges.

Arrow's compute module has no public row hash, so keys are hashed with numpy
over the Arrow buffers: fixed-width values are mixed 64 bits at a time; strings
are hashed with a polynomial over their bytes using ``np.add.reduceat`` on the
offsets, so no Python code runs per row. Equal values hash equally wherever
they appear, which is all a shuffle needs; NULL hashes to a fixed value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.compute.masks import bool_array

_MUL = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_NULL_HASH = np.uint64(0x51ED2701)


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(31))
    h = h * _MIX
    return h ^ (h >> np.uint64(29))


def _as_array(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _fixed_width_words(arr: pa.Array) -> np.ndarray:
    """The values of a fixed-width array as uint64 words, one row per line (rows x words)."""
    t = arr.type
    if pa.types.is_boolean(t):
        return np.asarray(pc.fill_null(arr, False).cast(pa.uint8()), dtype=np.uint64)[:, None]
    if pa.types.is_decimal(t):
        width = t.byte_width // 8
        buf = arr.buffers()[1]
        raw = np.frombuffer(buf, dtype=np.uint64, count=(len(arr) + arr.offset) * width)
        return raw[arr.offset * width:].reshape(len(arr), width)
    if pa.types.is_date32(t) or pa.types.is_timestamp(t) or pa.types.is_date64(t) or pa.types.is_duration(t) \
            or pa.types.is_time(t):
        arr = arr.cast(pa.int64()) if not pa.types.is_date32(t) else arr.cast(pa.int32()).cast(pa.int64())
        t = arr.type
    if pa.types.is_floating(t):
        values = np.asarray(pc.fill_null(arr.cast(pa.float64()), 0.0))
        values = np.where(values == 0.0, 0.0, values)   # -0.0 and 0.0 are equal
        values = np.where(np.isnan(values), np.nan, values)   # so are NaNs with other payload bits
        return values.view(np.uint64)[:, None]
    if t == pa.int64() and not arr.null_count:
        values = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=len(arr) + arr.offset)[arr.offset:]
    else:
        values = np.asarray(pc.fill_null(arr.cast(pa.int64()), 0)).astype(np.int64)
    return values.view(np.uint64)[:, None]


def _string_hash(arr: pa.Array) -> np.ndarray:
    if not (pa.types.is_string(arr.type) or pa.types.is_binary(arr.type)):
        arr = arr.cast(pa.string())     # large strings; BINARY (nested sort keys) is not UTF-8, keep it
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1 + arr.offset)[arr.offset:]
    data_buf = arr.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets).astype(np.int64)
    h = _mix(lengths.astype(np.uint64) * _MUL)
    if end > start:
        data = np.frombuffer(data_buf, dtype=np.uint8, count=end)[start:end].astype(np.uint64)
        rel = offsets[:-1].astype(np.int64) - start
        pos = np.arange(end - start, dtype=np.int64) - np.repeat(rel, lengths)
        weights = _powers(int(lengths.max()))
        contrib = data * weights[pos]
        nonempty = lengths > 0
        sums = np.zeros(n, dtype=np.uint64)
        if nonempty.any():
            sums[nonempty] = np.add.reduceat(contrib, rel[nonempty])
        h = _mix(h ^ sums)
    return h


_POW_CACHE = {"p": np.ones(1, dtype=np.uint64)}


def _powers(n: int) -> np.ndarray:
    p = _POW_CACHE["p"]
    if len(p) < n:
        size = max(n, 2 * len(p))
        with np.errstate(over="ignore"):
            out = np.cumprod(np.full(size, 1099511628211, dtype=np.uint64), dtype=np.uint64)
        out = np.concatenate([np.ones(1, dtype=np.uint64), out[:-1]])
        _POW_CACHE["p"] = out
        p = out
    return p


def hash_columns(columns: list) -> np.ndarray:
    """A uint64 hash per row of the given key columns (all of equal length)."""
    h = None
    with np.errstate(over="ignore"):
        for col in columns:
            arr = _as_array(col)
            if pa.types.is_dictionary(arr.type):
                arr = arr.cast(arr.type.value_type)
            if pa.types.is_nested(arr.type):
                # LIST, STRUCT, MAP: their sort key, equal exactly for the values SQL calls equal
                from quarry.compute.nested_kernels import sort_key
                arr = sort_key(arr, len(arr))
            if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_binary(arr.type):
                ch = _string_hash(arr)
            else:
                words = _fixed_width_words(arr)
                ch = np.zeros(len(arr), dtype=np.uint64)
                for w in range(words.shape[1]):
                    ch = _mix(ch ^ (words[:, w] * _MUL))
            if arr.null_count:
                ch = np.where(np.asarray(arr.is_null()), _NULL_HASH, ch)
            h = ch if h is None else _mix(h * _MUL ^ ch)
    return h if h is not None else np.zeros(0, dtype=np.uint64)


def partition_ids(columns: list, n: int, seed: int = 0) -> np.ndarray:
    """Which of ``n`` partitions each row goes to.

    A non-zero ``seed`` gives an independent assignment: a spilling operator inside
    partition i of a hash exchange must not reuse the exchange's hash, or every row
    it holds would land in the same spill partition.
    """
    h = hash_columns(columns)
    if seed:
        with np.errstate(over="ignore"):
            h = _mix(h ^ (np.uint64(seed) * _MUL))
    return (h % np.uint64(n)).astype(np.int64)


def split_by_ids(data, ids: np.ndarray, n: int):
    """Yield ``(i, rows of data whose id is i)`` for each non-empty bucket i of ``n``, in order.

    ``data`` is a RecordBatch or Table; ``ids`` one bucket number per row (from
    :func:`partition_ids`). A few boolean filters beat a stable sort of the ids;
    with many buckets it is one sort, one take and a slice per bucket.
    """
    if n <= 8:
        for i in range(n):
            mask = ids == i
            if mask.all():
                yield i, data
                return
            if mask.any():
                yield i, data.filter(bool_array(mask))
        return
    counts = np.bincount(ids, minlength=n)
    if np.count_nonzero(counts) > 1:
        data = data.take(pa.array(np.argsort(ids, kind="stable")))
    starts = np.cumsum(counts) - counts
    for i in np.flatnonzero(counts):          # a loop over buckets, not rows
        yield int(i), data.slice(int(starts[i]), int(counts[i]))


def canonical_key(arr):
    """``arr`` with the float values SQL calls equal made identical, for Arrow's hash grouping
    and joins (which compare bits): -0.0 becomes 0.0 (adding 0.0 does it), as in DuckDB, where
    ``count(DISTINCT x)`` over 0.0 and -0.0 is 1, and every NaN (whatever its sign and payload
    bits) becomes the one NaN, so all NaNs are one group. Other types pass through unchanged."""
    if not pa.types.is_floating(arr.type):
        return arr
    return pc.if_else(pc.is_nan(arr), pa.scalar(float("nan"), arr.type), pc.add(arr, pa.scalar(0.0, arr.type)))



# -- short strings as 64-bit keys --------------------------------------------------------------

SHORT_STRING_BYTES = 7        # bytes a packed string may have; the eighth byte holds its length
_LITTLE_ENDIAN = __import__("sys").byteorder == "little"


def pack_short_strings(arr) -> pa.Array | None:
    """A string column whose values all have the same length, of at most 7 bytes, as one uint64 per
    row (the bytes, then the length in the top byte; NULLs stay NULL), or None.

    Grouping hashes and compares variable-length keys byte by byte through offsets; as fixed-width
    integers the same keys group several times faster (TPC-H Q1 groups 6M rows by two one-letter
    flags, and hashing them as strings was a quarter of the query). Codes and flags have one
    length, and then the packing is a pass or two over the bytes; other columns are left alone
    (packing them costs about what it saves). :func:`unpack_short_strings` gives the strings back,
    so only the grouping sees the integers.
    """
    arr = _as_array(arr)
    if not _LITTLE_ENDIAN or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    n = len(arr)
    if n == 0:
        return None
    _, offsets_buf, data_buf = arr.buffers()[:3]
    offsets = np.frombuffer(offsets_buf, np.int32 if pa.types.is_string(arr.type) else np.int64,
                            count=arr.offset + n + 1)[arr.offset:]
    first = int(offsets[0])
    width = int(offsets[1]) - first
    if width > SHORT_STRING_BYTES or int(offsets[-1]) - first != width * n or \
            (width and not (np.diff(offsets) == width).all()):
        return None
    packed = np.full(n, width << 56, dtype=np.uint64)
    if width:
        data = np.frombuffer(data_buf, np.uint8, count=first + width * n)[first:]
        if width == 1:
            packed |= data.astype(np.uint64)
        else:
            rows = data.reshape(n, width)
            for j in range(width):
                packed |= rows[:, j].astype(np.uint64) << np.uint64(8 * j)
    if arr.null_count:
        return pa.array(packed, pa.uint64(), mask=np.asarray(arr.is_null().to_numpy(zero_copy_only=False)))
    return pa.array(packed, pa.uint64())


def unpack_short_strings(arr, dtype: pa.DataType) -> pa.Array:
    """The strings (of type ``dtype``, string or large_string) :func:`pack_short_strings` packed."""
    arr = _as_array(arr)
    n = len(arr)
    values = np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.uint64) if arr.null_count \
        else np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.uint64)
    lengths = (values >> np.uint64(56)).astype(np.int64)
    matrix = values.view(np.uint8).reshape(n, 8)
    data = matrix[np.arange(8)[None, :] < lengths[:, None]]
    offsets = np.zeros(n + 1, dtype=np.int64 if pa.types.is_large_string(dtype) else np.int32)
    np.cumsum(lengths, out=offsets[1:])
    validity = None
    if arr.null_count:
        validity = pa.array(np.asarray(arr.is_valid().to_numpy(zero_copy_only=False))).buffers()[1]
    return pa.Array.from_buffers(dtype, n, [validity, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())],
                                 arr.null_count)
