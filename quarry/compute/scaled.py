"""Decimal arithmetic on scaled 64-bit integers, wherever the values allow it.

Arrow stores a DECIMAL(p, s) value v as the 128-bit integer ``v * 10**s``. Arrow's
decimal128 kernels work on all 128 bits, and a product goes through a rescaling
cast; DuckDB instead computes DECIMAL(p <= 18) as plain 64-bit integers. This module
does the same where it is provably exact: it evaluates a tree of ``+``, ``-``, ``*``,
negation and scale-raising casts over decimal (and integer) columns as numpy int64
arithmetic on the unscaled integers, and only the result becomes decimal128 again.

Exactness comes from the values, not the types: every operand carries a bound on the
magnitude of its integers (read from the data: ``max(|min|, |max|)``, NULL slots
included), and a step runs only if its result's bound stays below 2**63. TPC-H's
``l_extendedprice * (1 - l_discount) * (1 + l_tax)`` is typed DECIMAL(38, 6) but its
integers stay below 10**12, so all of it runs in 64 bits. When any step could
overflow, or a node is not one of these, :func:`scaled` returns None and the caller
uses the decimal128 kernels.

    >>> import pyarrow as pa, decimal
    >>> from quarry.logical.expressions import ColumnRef, Field
    >>> t = pa.table({"p#1": pa.array([decimal.Decimal("1.50")], pa.decimal128(15, 2))})
    >>> s = scaled(ColumnRef(Field("p", pa.decimal128(15, 2), False, 1)), t)
    >>> (s.values.tolist(), s.scale, s.bound)
    ([150], 2, 150)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from quarry.logical.expressions import Call, ColumnRef, Expr, Literal

_LIMIT = (1 << 63) - 1
_LITTLE_ENDIAN = sys.byteorder == "little"
_ARITHMETIC = frozenset({"add", "subtract", "multiply", "negate"})


@dataclass
class Scaled:
    """Unscaled integers of a decimal value: ``values[i] / 10**scale`` is row i.

    ``values`` is an int64 array (or a Python int for a constant), ``bound`` bounds every
    ``|values[i]|``, and ``valid`` is the mask of non-NULL rows (None: no NULLs).
    """

    values: np.ndarray | int
    scale: int
    bound: int
    valid: np.ndarray | None = None

    @property
    def is_constant(self) -> bool:
        return not isinstance(self.values, np.ndarray)


def is_decimal_arithmetic(e: Expr) -> bool:
    """Whether ``e`` is a decimal ``+ - *`` or negation, the nodes :func:`scaled` speeds up."""
    return isinstance(e, Call) and e.name in _ARITHMETIC and pa.types.is_decimal128(e.type)


def scaled(e: Expr, batch, cache: dict | None = None) -> Scaled | None:
    """``e`` over ``batch`` as scaled int64 values, or None where that is not exact or not supported.

    ``cache`` (one dict per batch) keeps results by expression, so aggregates over shared
    subexpressions (``sum(p)``, ``sum(p * (1 - d))``, ...) read each column once.
    """
    if not _LITTLE_ENDIAN:
        return None
    if cache is not None:
        if e in cache:
            return cache[e]
        cache[e] = result = scaled(e, batch)
        return result
    if isinstance(e, ColumnRef):
        return _column(batch.column(e.field.key))
    if isinstance(e, Literal):
        return _constant(e.value, e.type)
    if not isinstance(e, Call):
        return None
    if e.name == "cast" and len(e.args) == 1:
        inner = scaled(e.args[0], batch, cache)
        if inner is None or not pa.types.is_decimal128(e.type):
            return None
        return _rescale(inner, e.type.scale)
    if e.name not in _ARITHMETIC or not pa.types.is_decimal128(e.type):
        return None
    args = [scaled(a, batch, cache) for a in e.args]
    if any(a is None for a in args) or all(a.is_constant for a in args):
        return None
    scale = e.type.scale
    if e.name == "negate":
        (a,) = args
        return _rescale(Scaled(-a.values, a.scale, a.bound, a.valid), scale)
    a, b = args
    valid = _both_valid(a.valid, b.valid)
    if e.name == "multiply":
        if a.scale + b.scale != scale or a.bound * b.bound > _LIMIT:
            return None
        return Scaled(a.values * b.values, scale, a.bound * b.bound, valid)
    a, b = _rescale(a, scale), _rescale(b, scale)
    if a is None or b is None or a.bound + b.bound > _LIMIT:
        return None
    values = a.values + b.values if e.name == "add" else a.values - b.values
    return Scaled(values, scale, a.bound + b.bound, valid)


def to_decimal_array(s: Scaled, dtype: pa.DataType, length: int) -> pa.Array:
    """The decimal128 array of type ``dtype`` (same scale) holding ``s``: each int64 sign-extended."""
    values = s.values if not s.is_constant else np.full(length, s.values, dtype=np.int64)
    words = np.empty(2 * len(values), dtype=np.int64)
    words[0::2] = values
    np.right_shift(values, 63, out=words[1::2])
    validity = None
    null_count = 0
    if s.valid is not None:
        validity = pa.array(s.valid, pa.bool_()).buffers()[1]
        null_count = int(len(s.valid) - np.count_nonzero(s.valid))
    return pa.Array.from_buffers(dtype, len(values), [validity, pa.py_buffer(words)], null_count)


def to_int64_array(s: Scaled, length: int) -> pa.Array:
    """The unscaled integers as an Arrow int64 array (NULLs kept)."""
    values = s.values if not s.is_constant else np.full(length, s.values, dtype=np.int64)
    return pa.array(values, pa.int64(), mask=None if s.valid is None else ~s.valid)


def int64_to_decimal(values, dtype: pa.DataType) -> pa.Array:
    """An int64 array of unscaled integers as decimal128 ``dtype`` (exact: every int64 fits 38 digits)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    ints = values.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False) \
        if values.null_count else np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset:
                                                                                     values.offset + len(values)]
    valid = None if not values.null_count else np.asarray(values.is_valid().to_numpy(zero_copy_only=False))
    return to_decimal_array(Scaled(ints, dtype.scale, 0, valid), dtype, len(values))


def column_as_int64(col) -> Scaled | None:
    """A decimal128 or integer column's unscaled int64 values, or None when some do not fit 64 bits."""
    return _column(col)


# -- leaves ---------------------------------------------------------------------------------


def _column(col) -> Scaled | None:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    t = col.type
    if pa.types.is_decimal128(t):
        data = col.buffers()[1]
        if data is None:
            return None
        words = np.frombuffer(data, dtype=np.int64)[2 * col.offset: 2 * (col.offset + len(col))]
        values, high = words[0::2], words[1::2]
        if len(values) == 0:
            return Scaled(values, t.scale, 0)
        lo_min, lo_max = int(values.min()), int(values.max())
        # DECIMAL(p <= 18) values fit 64 bits by their type (|v| < 10**18); wider ones only if each
        # high word is its low word's sign extension
        if t.precision > 18:
            hi_min, hi_max = int(high.min()), int(high.max())
            if hi_min == hi_max == 0:
                fits = lo_min >= 0
            elif hi_min == hi_max == -1:
                fits = lo_max < 0
            else:
                fits = hi_min >= -1 and hi_max <= 0 and bool(np.array_equal(high, values >> 63))
            if not fits:
                return None
        valid = None
        if col.null_count:
            valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        return Scaled(values, t.scale, max(abs(lo_min), abs(lo_max)), valid)
    elif pa.types.is_integer(t) and t.bit_width <= 64 and not (pa.types.is_uint64(t)):
        values = col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        scale = 0
    else:
        return None
    bound = _bound(values)
    valid = None
    if col.null_count:
        valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return Scaled(values, scale, bound, valid)


def _constant(value, dtype: pa.DataType) -> Scaled | None:
    if value is None:
        return None
    if pa.types.is_decimal128(dtype):
        number = int(value.scaleb(dtype.scale))
        scale = dtype.scale
    elif pa.types.is_integer(dtype) and not isinstance(value, bool):
        number, scale = int(value), 0
    else:
        return None
    if abs(number) > _LIMIT:
        return None
    return Scaled(number, scale, abs(number))


def _bound(values: np.ndarray) -> int:
    if len(values) == 0:
        return 0
    return max(abs(int(values.min())), abs(int(values.max())))


def _rescale(s: Scaled, scale: int) -> Scaled | None:
    """``s`` with ``scale`` digits after the point: only raising the scale is exact."""
    if scale == s.scale:
        return s
    if scale < s.scale:
        return None
    factor = 10 ** (scale - s.scale)
    if s.bound * factor > _LIMIT:
        return None
    return Scaled(s.values * factor, scale, s.bound * factor, s.valid)


def _both_valid(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b
