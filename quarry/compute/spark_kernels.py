"""Kernels of the Spark-semantics functions (``quarry.logical.spark_functions``), vectorized.

Per-row work is Arrow compute or numpy over whole columns; constant parameters (an operation
name, a regex, a position) are read once per batch.
"""

from __future__ import annotations

import base64 as _b64
import re
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.compute.kernels import cast_value, kernel, to_array
from quarry.errors import ArithmeticOverflowError, DataError, DivideByZeroError, ExecutionError, UnsupportedError
from quarry.logical import types as T


def _const(x):
    return x.as_py() if isinstance(x, pa.Scalar) else x


def _np(x, n, dtype=None):
    """A column as a numpy array (NULLs as zero) and its validity (None: all valid)."""
    arr = to_array(x, n)
    valid = None if arr.null_count == 0 else np.asarray(arr.is_valid())
    fill = 0 if dtype is None or not np.issubdtype(np.dtype(dtype), np.floating) else 0.0
    if arr.null_count:
        arr = pc.fill_null(arr, pa.scalar(fill, arr.type) if not pa.types.is_boolean(arr.type) else False)
    out = arr.to_numpy(zero_copy_only=False)
    return (out.astype(dtype) if dtype is not None else out), valid


def _from_np(values, valid, dtype):
    mask = None if valid is None else ~valid
    return pa.array(values, type=dtype, mask=mask)


# ------------------------------------------------------------------ math

_UNARY = {
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
    "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "cot": lambda x: 1.0 / np.tan(x),
    "csc": lambda x: 1.0 / np.sin(x), "sec": lambda x: 1.0 / np.cos(x), "degrees": np.degrees,
    "radians": np.radians, "expm1": np.expm1, "exp": np.exp, "sqrt": np.sqrt, "cbrt": np.cbrt,
    "rint": np.rint, "signum": np.sign, "abs": np.abs,
    "ln": np.log, "log": np.log, "log10": np.log10, "log2": np.log2, "log1p": np.log1p,
}
# Spark's logarithms are NULL (not NaN or -Infinity) outside their domain
_LOG_DOMAIN = {"ln": 0.0, "log": 0.0, "log10": 0.0, "log2": 0.0, "log1p": -1.0}


@kernel("spark_unary_double")
def _unary_double(name, args, dtype, n):
    op = _const(args[0])
    x, valid = _np(args[1], n, np.float64)
    with np.errstate(all="ignore"):
        out = _UNARY[op](x)
    if op in _LOG_DOMAIN:
        ok = x > _LOG_DOMAIN[op]
        valid = ok if valid is None else (valid & ok)
    if isinstance(args[1], pa.Scalar):
        return pa.scalar(None if valid is not None and not valid[0] else float(out[0]), T.FLOAT64) if n else \
            pa.scalar(None, T.FLOAT64)
    return _from_np(out, valid, T.FLOAT64)


@kernel("spark_binary_double")
def _binary_double(name, args, dtype, n):
    op = _const(args[0])
    x, vx = _np(args[1], n, np.float64)
    y, vy = _np(args[2], n, np.float64)
    valid = vx if vy is None else (vy if vx is None else vx & vy)
    with np.errstate(all="ignore"):
        if op == "atan2":
            out = np.arctan2(x, y)
        elif op == "hypot":
            out = np.hypot(x, y)
        elif op == "pow":
            out = np.power(x, y)
        elif op == "log":                               # log(base, x): NULL when either is <= 0
            out = np.log(y) / np.log(x)
            ok = (x > 0) & (y > 0)
            valid = ok if valid is None else valid & ok
        else:
            raise ExecutionError(f"unknown operation `{op}`")
    return _from_np(out, valid, T.FLOAT64)


@kernel("spark_floor_ceil")
def _floor_ceil(name, args, dtype, n):
    op, x = _const(args[0]), args[1]
    if T.is_decimal(x.type):
        fn = pc.floor if op == "floor" else pc.ceil
        return cast_value(fn(x), dtype)
    if T.is_integer(x.type):
        return cast_value(x, T.INT64)
    fn = pc.floor if op == "floor" else pc.ceil
    out = fn(x)
    # Spark casts the double to BIGINT saturating at its range (NaN -> 0)
    out = pc.if_else(pc.is_nan(out), 0.0, out)
    out = pc.max_element_wise(pc.min_element_wise(out, 9.223372036854775e18, skip_nulls=False),
                              -9.223372036854775e18, skip_nulls=False)
    return cast_value(out, T.INT64, safe=False)


def _round_float(x: np.ndarray, digits: int, half_even: bool) -> np.ndarray:
    """``x`` rounded to ``digits`` decimals as Spark rounds a double: the decimal value the double
    prints as (its shortest representation) rounded HALF_UP or HALF_EVEN."""
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        if digits >= 0:
            p = 10.0 ** digits
            y = ax * p
            fl = np.floor(y)
            tie = (fl + 0.5) / p == ax
        else:
            p = 10.0 ** (-digits)
            y = ax / p
            fl = np.floor(y)
            tie = (fl + 0.5) * p == ax
        nearest = np.floor(y + 0.5)
        nearest = np.where(np.abs(y - fl - 0.5) < 1e-9 * np.maximum(y, 1.0), np.where(y - fl >= 0.5, fl + 1, fl),
                           nearest)
        if half_even:
            up = fl + (np.mod(fl, 2.0) == 1.0)
        else:
            up = fl + 1.0
        r = np.where(tie, up, nearest)
        out = (r / p if digits >= 0 else r * p) * np.sign(x)
        # values too large to have decimals at this scale, and NaN/Infinity, stay as they are
        keep = ~np.isfinite(y) | (ax >= 2.0 ** 52 / max(p if digits >= 0 else 1.0, 1.0))
        if digits >= 0:
            keep |= ax >= 2.0 ** 52
        out = np.where(keep & (digits >= 0), x, out)
    return out


@kernel("spark_round")
def _round(name, args, dtype, n):
    mode, x, digits = _const(args[0]), args[1], _const(args[2])
    half_even = mode == "bround"
    if T.is_decimal(x.type):
        out = pc.round(x, digits, round_mode="half_to_even" if half_even else "half_towards_infinity")
        return cast_value(out, dtype)
    if T.is_integer(x.type):
        if digits >= 0:
            return x
        v, valid = _np(x, n, np.int64)
        q = np.int64(10) ** np.int64(min(-digits, 18)) if -digits <= 18 else None
        if q is None:
            return _from_np(np.zeros(len(v), np.int64), valid, dtype)
        a = np.abs(v)
        fl, rem = a // q, a % q
        half = q // 2
        up = (rem > half) | ((rem == half) & (~half_even | (fl % 2 == 1)))
        r = (fl + up) * q * np.sign(v)
        return cast_value(_from_np(r, valid, T.INT64), dtype, safe=False)
    v, valid = _np(x, n, np.float64)
    out = _round_float(v, digits, half_even)
    return cast_value(_from_np(out, valid, T.FLOAT64), dtype)


_FACTORIALS = np.array([1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800, 479001600,
                        6227020800, 87178291200, 1307674368000, 20922789888000, 355687428096000,
                        6402373705728000, 121645100408832000, 2432902008176640000], dtype=np.int64)


@kernel("spark_int_unary")
def _int_unary(name, args, dtype, n):
    op, x = _const(args[0]), to_array(args[1], n)
    if op == "factorial":                             # NULL outside 0..20, as in Spark
        v, valid = _np(x, n, np.int64)
        ok = (v >= 0) & (v <= 20)
        valid = ok if valid is None else valid & ok
        return _from_np(_FACTORIALS[np.clip(v, 0, 20)], valid, T.INT64)
    if op == "bitwise_not":
        return pc.bit_wise_not(x)
    if op == "bit_count":
        if pa.types.is_boolean(x.type):
            return pc.cast(x, T.INT32)
        v, valid = _np(x, n)
        u = v.astype(np.int64).view(np.uint64) if v.dtype.itemsize == 8 else \
            v.astype(np.int64).astype(np.uint64) & np.uint64((1 << (8 * v.dtype.itemsize)) - 1)
        counts = np.zeros(len(u), np.int32)
        for shift in range(0, 64, 8):
            counts += _POPCOUNT[((u >> np.uint64(shift)) & np.uint64(0xFF)).astype(np.intp)]
        return _from_np(counts, valid, T.INT32)
    if op == "bin":
        return _radix_text(x, 2)
    raise ExecutionError(f"unknown operation `{op}`")


@kernel("spark_shift")
def _shift(name, args, dtype, n):
    op = _const(args[0])
    v, valid = _np(args[1], n)
    k, vk = _np(args[2], n, np.int64)
    width = v.dtype.itemsize * 8
    k = (k & (width - 1)).astype(v.dtype)
    if op == "left":
        out = np.left_shift(v, k)
    elif op == "right":
        out = np.right_shift(v, k)
    else:
        unsigned = v.view(np.dtype(f"u{v.dtype.itemsize}"))
        out = np.right_shift(unsigned, k.view(unsigned.dtype)).view(v.dtype)
    if vk is not None:
        valid = vk if valid is None else valid & vk
    out = _from_np(out, valid, dtype)
    return out[0] if isinstance(args[1], pa.Scalar) and isinstance(args[2], pa.Scalar) and n == 1 else out


@kernel("spark_bitwise")
def _bitwise(name, args, dtype, n):
    op = _const(args[0])
    fn = {"and": pc.bit_wise_and, "or": pc.bit_wise_or, "xor": pc.bit_wise_xor}[op]
    return fn(args[1], args[2])


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)
_DIGITS = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


def _radix_text(x, radix: int, lower: bool = False) -> pa.Array:
    """Each BIGINT as an unsigned (two's complement) number in ``radix``, vectorized by digit position."""
    n = len(x)
    v, valid = _np(x, n, np.int64)
    u = v.view(np.uint64)
    width = {2: 64, 16: 16, 8: 22}.get(radix) or 64
    digits = np.zeros((n, width), dtype=np.uint8)
    count = np.ones(n, dtype=np.int64)
    rest = u.copy()
    r = np.uint64(radix)
    for i in range(width):
        digits[:, width - 1 - i] = _DIGITS[(rest % r).astype(np.intp)]
        rest //= r
        count = np.where(rest > 0, i + 2, count)
    count = np.minimum(count, width)
    return _fixed_rows_to_strings(digits, count, valid, right_aligned=True, lower=lower)


def _fixed_rows_to_strings(rows: np.ndarray, lengths: np.ndarray, valid, *, right_aligned: bool,
                           lower: bool = False) -> pa.Array:
    """A string array from a (rows x width) uint8 matrix, keeping ``lengths`` bytes of each row."""
    n, width = rows.shape
    cols = np.arange(width)
    keep = (cols[None, :] >= (width - lengths)[:, None]) if right_aligned else (cols[None, :] < lengths[:, None])
    data = rows[keep]
    if lower:
        data = np.where((data >= 65) & (data <= 90), data + 32, data).astype(np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    validity = None if valid is None else pa.array(valid, pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(pa.string(), n, [validity, pa.py_buffer(offsets.tobytes()),
                                                  pa.py_buffer(data.tobytes())],
                                 null_count=-1 if valid is not None else 0)


def _bytes_of(x, n):
    """A string/binary column's bytes as (data uint8, offsets int64, validity)."""
    arr = to_array(x, n)
    if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        arr = arr.cast(pa.binary() if pa.types.is_large_binary(arr.type) else pa.string())
    if arr.offset or arr.null_count:
        arr = pc.fill_null(arr, pa.scalar(b"" if pa.types.is_binary(arr.type) else "", arr.type)) \
            if arr.null_count else arr
        arr = pa.concat_arrays([arr]) if arr.offset else arr
    valid = None if x is None or to_array(x, n).null_count == 0 else np.asarray(to_array(x, n).is_valid())
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=len(arr) + 1).astype(np.int64) if len(arr) else \
        np.zeros(1, np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    if len(arr) and offsets[0]:
        data = data[offsets[0]:]
        offsets = offsets - offsets[0]
    return data[:offsets[-1]], offsets, valid


@kernel("spark_hex")
def _hex(name, args, dtype, n):
    x = to_array(args[0], n)
    if T.is_integer(x.type):
        return _radix_text(x, 16)
    data, offsets, valid = _bytes_of(x, n)
    hi = _DIGITS[(data >> 4).astype(np.intp)]
    lo = _DIGITS[(data & 15).astype(np.intp)]
    out = np.empty(2 * len(data), np.uint8)
    out[0::2], out[1::2] = hi, lo
    return _strings_from(out, offsets * 2, valid, pa.string())


def _strings_from(data: np.ndarray, offsets: np.ndarray, valid, dtype) -> pa.Array:
    n = len(offsets) - 1
    validity = None if valid is None else pa.array(valid, pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(dtype, n, [validity, pa.py_buffer(offsets.astype(np.int32).tobytes()),
                                            pa.py_buffer(np.ascontiguousarray(data, np.uint8).tobytes())],
                                 null_count=-1 if valid is not None else 0)


_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789"):
    _HEX_VALUE[_c] = _i
for _i, _c in enumerate(b"abcdef"):
    _HEX_VALUE[_c] = 10 + _i
    _HEX_VALUE[_c - 32] = 10 + _i


@kernel("spark_unhex")
def _unhex(name, args, dtype, n):
    data, offsets, valid = _bytes_of(args[0], n)
    lengths = np.diff(offsets)
    odd = (lengths % 2).astype(bool)
    # an odd number of digits reads as if a leading 0 were there (Spark's rule)
    if odd.any():
        starts = offsets[:-1]
        ins = np.repeat(starts[odd], 1)
        data = np.insert(data, ins, ord("0"))
        lengths = lengths + odd
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
    values = _HEX_VALUE[data.astype(np.intp)]
    bad_byte = values == 255
    row_of = np.repeat(np.arange(len(lengths)), lengths)
    bad_rows = np.zeros(len(lengths), bool)
    bad_rows[row_of[bad_byte]] = True
    out = (values[0::2] << 4) | values[1::2]
    ok = ~bad_rows if valid is None else valid & ~bad_rows
    return _strings_from(out.astype(np.uint8), offsets // 2, None if ok.all() else ok, pa.binary())


@kernel("spark_conv")
def _conv(name, args, dtype, n):
    src = to_array(args[0], n)
    from_base, to_base = int(_const(args[1])), int(_const(args[2]))
    if not (2 <= from_base <= 36 and 2 <= abs(to_base) <= 36):
        return pa.nulls(n, T.STRING)
    # digits of the source base, vectorized by position (Spark reads the longest valid prefix)
    text = pc.utf8_upper(pc.utf8_trim_whitespace(src))
    negative = pc.fill_null(pc.starts_with(text, "-"), False)
    text = pc.utf8_ltrim(text, "-")
    data, offsets, valid = _bytes_of(text, n)
    lengths = np.diff(offsets)
    width = int(lengths.max()) if len(lengths) else 0
    value = np.zeros(n, np.uint64)
    alive = np.ones(n, bool)
    overflow = np.zeros(n, bool)
    table = np.full(256, 255, np.uint8)
    for i, c in enumerate(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        table[c] = i
    b = np.uint64(from_base)
    for i in range(width):
        has = alive & (lengths > i)
        pos = np.where(has, offsets[:-1] + i, 0)
        d = table[data[pos].astype(np.intp)] if len(data) else np.zeros(n, np.uint8)
        ok = has & (d < from_base)
        alive = ok
        limit = (np.uint64(2 ** 64 - 1) - d.astype(np.uint64)) // b
        overflow |= ok & (value > limit)
        value = np.where(ok, value * b + d.astype(np.uint64), value)
    value = np.where(overflow, np.uint64(2 ** 64 - 1), value)
    neg = np.asarray(negative)
    if to_base > 0:
        value = np.where(neg, (~value) + np.uint64(1), value)
        out_neg = np.zeros(n, bool)
    else:
        # a negative target base prints signed: the input's own sign, or the sign of its 64-bit value
        signed = value.view(np.int64)
        out_neg = np.where(neg, value != 0, signed < 0)
        value = np.where(neg, value, np.where(signed < 0, (~value) + np.uint64(1), value))
    r = np.uint64(abs(to_base))
    digits = np.zeros((n, 64), np.uint8)
    count = np.ones(n, np.int64)
    rest = value.copy()
    for i in range(64):
        digits[:, 63 - i] = _DIGITS[(rest % r).astype(np.intp)]
        rest //= r
        count = np.where(rest > 0, i + 2, count)
    count = np.minimum(count, 64)
    out = _fixed_rows_to_strings(digits, count, valid, right_aligned=True)
    if out_neg.any():
        out = pc.if_else(pa.array(out_neg), pc.binary_join_element_wise("-", out, ""), out)
    return out


def _ansi_error(op: str, zero: bool, kind: str = "integer"):
    if zero:
        return DivideByZeroError("Division by zero. Use `try_divide` to tolerate divisor being 0 and return "
                                 "NULL instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to "
                                 "bypass this error.", hint=None)
    return ArithmeticOverflowError(f"{kind} overflow. Use 'try_{op}' to tolerate overflow and return NULL "
                                   "instead. If necessary set \"spark.sql.ansi.enabled\" to \"false\" to bypass "
                                   "this error.")


_CHECKED = {"add": pc.add_checked, "subtract": pc.subtract_checked, "multiply": pc.multiply_checked}
_WRAPPED = {"add": pc.add, "subtract": pc.subtract, "multiply": pc.multiply}


@kernel("spark_arith")
def _arith(name, args, dtype, n):
    op, a, b, ansi = _const(args[0]), args[1], args[2], bool(_const(args[3]))
    if op.startswith("try_"):
        return _try_arith(op[4:], a, b, dtype, n)
    if op in _CHECKED:
        if T.is_float(dtype) or T.is_decimal(dtype):
            return _WRAPPED[op](a, b)
        if not ansi:
            return _WRAPPED[op](a, b)
        try:
            return _CHECKED[op](a, b)
        except pa.ArrowInvalid:
            raise _ansi_error(op, False, "long" if dtype == T.INT64 else "integer") from None
    zero = pc.fill_null(pc.equal(b, pa.scalar(0, b.type)), False)
    any_zero = pc.any(zero).as_py() if not isinstance(zero, pa.Scalar) else zero.as_py()
    if any_zero and ansi:
        a_valid = pc.is_valid(a)
        hit = pc.and_(zero, a_valid)
        if (pc.any(hit).as_py() if not isinstance(hit, pa.Scalar) else hit.as_py()):
            raise _ansi_error(op, True)
    if op == "divide":
        fa, fb = cast_value(a, T.FLOAT64), cast_value(b, T.FLOAT64)
        out = pc.divide(fa, pc.if_else(zero, 1.0, fb))
        return pc.if_else(zero, pa.scalar(None, T.FLOAT64), out)
    if T.is_float(dtype) or T.is_decimal(dtype):
        fa, va = _np(cast_value(a, T.FLOAT64), n, np.float64)
        fb, vb = _np(cast_value(b, T.FLOAT64), n, np.float64)
        z = fb == 0
        safe = np.where(z, 1.0, fb)
        with np.errstate(all="ignore"):
            rem = np.fmod(fa, safe)
            if op == "pmod":                      # Spark: r = a % n; r < 0 ? (r + n) % n : r
                rem = np.where(rem < 0, np.fmod(rem + safe, safe), rem)
        valid = ~z
        for v in (va, vb):
            if v is not None:
                valid &= v
        out = _from_np(rem, None if valid.all() else valid, T.FLOAT64)
        return cast_value(out, dtype, safe=False) if T.is_decimal(dtype) else cast_value(out, dtype)
    av, va = _np(a, n, np.int64)
    bv, vb = _np(b, n, np.int64)
    z = bv == 0
    safe = np.where(z, 1, bv)
    rem = np.fmod(av, safe)                        # the sign of the dividend, as in Java
    if op == "pmod":
        rem = np.where(rem < 0, np.fmod(rem + safe, safe), rem)
    valid = ~z
    for v in (va, vb):
        if v is not None:
            valid &= v
    out = _from_np(rem, None if valid.all() else valid, T.INT64)
    return cast_value(out, dtype, safe=False)


def _try_arith(op, a, b, dtype, n):
    """``try_add``/``try_subtract``/``try_multiply``: NULL where the integer result overflows."""
    if not T.is_integer(dtype):
        return _WRAPPED[op](a, b)
    av, va = _np(cast_value(a, T.INT64), n, np.int64)
    bv, vb = _np(cast_value(b, T.INT64), n, np.int64)
    with np.errstate(all="ignore"):
        r = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply}[op](av, bv)
        if dtype == T.INT64:
            if op == "add":
                bad = ((av ^ r) & (bv ^ r)) < 0
            elif op == "subtract":
                bad = ((av ^ bv) & (av ^ r)) < 0
            else:
                nz = av != 0
                safe = np.where(nz, av, 1)
                bad = nz & ((r // safe != bv) | ((av == -1) & (bv == np.iinfo(np.int64).min)))
        else:
            info = np.iinfo(dtype.to_pandas_dtype())
            bad = (r < info.min) | (r > info.max)
    valid = ~bad
    for v in (va, vb):
        if v is not None:
            valid &= v
    return cast_value(_from_np(r, None if valid.all() else valid, T.INT64), dtype, safe=False)


# -- decimal arithmetic (Spark's DecimalPrecision result types; quarry.logical.spark_functions) -----------
#
# Each operation is computed exactly in Arrow's decimal256 (76 digits), then rounded HALF_UP (Java's: ties
# away from zero) to the result's scale, as Spark's Decimal does with BigDecimal; a value over the result's
# precision raises under ANSI mode and is NULL without it. Division truncates a quotient carried one digit
# past the result's scale and rounds that digit: the digits a truncation keeps are the exact quotient's, so
# HALF_UP of it is HALF_UP of the exact quotient.

_WIDE = 76


def _wide(x, t: pa.DataType, n: int):
    return cast_value(to_array(x, n), pa.decimal256(t.precision, t.scale))


def _fit(x):
    """``x`` (decimal256) declared only as wide as this batch's values need: Arrow types a product or a
    quotient by the declared precisions (a DECIMAL(38,10) by a DECIMAL(38,10) would need 77 digits), while
    the values of a wide column are mostly short."""
    t = x.type
    top = pc.max(pc.abs(x)).as_py()
    if top is None or not top:
        digits = 1
    else:
        parts = top.as_tuple()
        digits = len(parts.digits) + parts.exponent + t.scale      # the digits of the unscaled value
    return cast_value(x, pa.decimal256(max(digits, t.scale, 1), t.scale))


def _decimal_too_wide(op: str, a: pa.DataType, b: pa.DataType):
    return UnsupportedError(f"Not supported: the decimal {op} of {T.sql_name(a)} and {T.sql_name(b)} "
                            f"(its exact result needs more than {_WIDE} digits)")


def _truncated_quotient(a, b, ta, tb, scale: int):
    """``a / b`` truncated toward zero at ``scale`` digits or more (the divisor has no zeros)."""
    p1, s1, p2, s2 = ta.precision, ta.scale, tb.precision, tb.scale
    # Arrow's decimal division: the quotient's scale is max(4, s1' + p2 - s2 + 1) for a dividend at scale s1'
    target = max(scale, s1 + p2 - s2 + 1, 4)
    s1_wide = target - p2 + s2 - 1
    if p1 - s1 + s2 + target > _WIDE or p1 - s1 + s1_wide > _WIDE:
        raise _decimal_too_wide("division", ta, tb)
    a = cast_value(a, pa.decimal256(p1 - s1 + s1_wide, s1_wide))
    return pc.divide(a, b)


def _round_half_up(x, scale: int):
    """``x`` (decimal256) rounded HALF_UP to ``scale`` digits, as a decimal256 of that scale."""
    t = x.type
    if t.scale <= scale:
        return x
    room = min(_WIDE, t.precision + 1)                 # rounding 9.99 up to 10.0 takes one more digit
    x = pc.round(cast_value(x, pa.decimal256(room, t.scale)), scale, round_mode="half_towards_infinity")
    return cast_value(x, pa.decimal256(room - t.scale + scale, scale))


@kernel("spark_decimal_arith")
def _decimal_arith(name, args, dtype, n):
    op, ansi = _const(args[0]), bool(_const(args[3]))
    a, b = _wide(args[1], args[1].type, n), _wide(args[2], args[2].type, n)
    zero = None
    if op in ("divide", "remainder", "pmod"):
        zero = pc.fill_null(pc.equal(b, pa.scalar(0, b.type)), False)
        if pc.any(zero).as_py():
            if ansi and pc.any(pc.and_(zero, pc.is_valid(a))).as_py():
                raise _ansi_error("divide", True)
            b = pc.if_else(zero, pa.scalar(1, pa.decimal256(args[2].type.precision, args[2].type.scale)),
                           cast_value(b, pa.decimal256(args[2].type.precision, args[2].type.scale)))
        else:
            zero = None
    a, b = _fit(a), _fit(b)
    ta, tb = a.type, b.type
    try:
        if op in ("add", "subtract", "multiply"):
            out = getattr(pc, op)(a, b)
        elif op == "divide":
            out = _truncated_quotient(a, b, ta, tb, dtype.scale + 1)
        else:                        # remainder: a - trunc(a / b) * b, with the sign of the dividend (Java's)
            whole = pc.round(_truncated_quotient(a, b, ta, tb, 0), 0, round_mode="towards_zero")
            whole = _fit(cast_value(whole, pa.decimal256(whole.type.precision - whole.type.scale, 0)))
            out = pc.subtract(a, pc.multiply(whole, b))
            if op == "pmod":         # Spark: r < 0 ? (r + n) % n : r, which is r + n for n > 0 and r for n < 0
                fix = pc.and_(pc.less(out, pa.scalar(0, out.type)), pc.greater(b, pa.scalar(0, b.type)))
                out = pc.if_else(fix, pc.add(out, b), out)
    except pa.ArrowInvalid as err:
        if "precision out of range" in str(err).lower():
            raise _decimal_too_wide({"add": "addition", "subtract": "subtraction",
                                     "multiply": "multiplication"}.get(op, op), ta, tb) from None
        raise
    out = _round_half_up(out, dtype.scale)
    if zero is not None:
        out = pc.if_else(zero, pa.scalar(None, out.type), out)
    return _within_precision(out, dtype, ansi)


def _within_precision(out, dtype: pa.DataType, ansi: bool):
    """``out`` (decimal256 at ``dtype``'s scale) as ``dtype``: a value over its precision raises under ANSI
    mode (Spark's NUMERIC_VALUE_OUT_OF_RANGE) and is NULL without."""
    limit = pa.scalar(10 ** (dtype.precision - dtype.scale), pa.decimal256(dtype.precision - dtype.scale + 1, 0))
    over = pc.fill_null(pc.greater_equal(pc.abs(out), limit), False)
    if pc.any(over).as_py():
        if ansi:
            bad = out.filter(over)[0].as_py()
            raise ArithmeticOverflowError(
                f"[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION] {bad} cannot be represented as "
                f"Decimal({dtype.precision}, {dtype.scale}). If necessary set \"spark.sql.ansi.enabled\" to "
                "\"false\" to bypass this error, and return NULL instead.")
        out = pc.if_else(over, pa.scalar(None, out.type), out)
    return cast_value(out, dtype)


@kernel("spark_decimal_check")
def _decimal_check(name, args, dtype, n):
    x = to_array(args[0], n)
    wide = x.cast(pa.decimal256(76, x.type.scale), safe=False)     # the exact value, however many digits
    return _within_precision(_round_half_up(wide, dtype.scale), dtype, bool(_const(args[1])))


@kernel("spark_cast")
def _spark_cast(name, args, dtype, n):
    """CAST between numeric types as Spark casts: a DOUBLE or DECIMAL to an integer type drops its fraction
    (toward zero; quarry's SQL rounds), a DECIMAL target rounds HALF_UP. A value out of the target's range
    raises CAST_OVERFLOW in mode 'ansi' and is NULL in mode 'try'; in mode 'legacy' (Spark without ANSI
    mode) a DECIMAL target is NULL too, but an integer target takes the JVM's narrowing conversion, as
    Spark's docs show for ``CAST(2147483648L AS INT) = -2147483648``: an integer or a decimal keeps its low
    bits; a DOUBLE first saturates at INT's bounds (BIGINT's for a BIGINT target; NaN is 0), and then
    keeps the low bits of that for TINYINT and SMALLINT."""
    from quarry.compute.kernels import _cast, _try_cast
    mode = _const(args[1])
    x = to_array(args[0], n)
    if T.is_integer(dtype) and (T.is_float(x.type) or T.is_decimal(x.type)):
        x = pc.trunc(x)
    if mode == "ansi":
        return _cast("cast", [x], dtype, n)
    if mode == "try" or not T.is_integer(dtype):
        return _try_cast("try_cast", [x], dtype, n)
    if T.is_integer(x.type):
        return pc.cast(x, dtype, safe=False)            # two's complement: the low bits
    if T.is_decimal(x.type):
        return pc.cast(_decimal_low_word(x), dtype, safe=False)
    wide = T.INT64 if dtype == T.INT64 else T.INT32
    info = np.iinfo(wide.to_pandas_dtype())
    limit = 2.0 ** (info.bits - 1)
    # NaN (and NULL, whose slot reads as NaN) is 0; infinities become the largest doubles, so saturate
    values = np.nan_to_num(x.to_numpy(zero_copy_only=False).astype(np.float64), nan=0.0)
    narrowed = np.where((values > -limit) & (values < limit), values, 0).astype(info.dtype)
    narrowed = np.where(values >= limit, info.max, np.where(values <= -limit, info.min, narrowed))
    valid = ~np.asarray(x.is_null())
    out = _from_np(narrowed.astype(wide.to_pandas_dtype()), None if valid.all() else valid, wide)
    return pc.cast(out, dtype, safe=False)


def _decimal_low_word(x: pa.Array) -> pa.Array:
    """The low 64 bits of each (integral) decimal's unscaled value, as a BIGINT: Java's
    ``BigDecimal.longValue()``. Read from the two's complement 128-bit words Arrow stores."""
    x = pc.cast(x, pa.decimal128(38, 0)) if x.type.scale or not pa.types.is_decimal128(x.type) else x
    words = np.frombuffer(x.buffers()[1], dtype=np.int64)[2 * x.offset: 2 * (x.offset + len(x))]
    low = words[0::2] if sys.byteorder == "little" else words[1::2]
    valid = ~np.asarray(x.is_null())
    return _from_np(np.array(low, np.int64), None if valid.all() else valid, T.INT64)


_DAY_TIME = pa.duration("us")


def _micros(x, n) -> tuple[np.ndarray, np.ndarray | None]:
    """A day-time interval's microseconds (int64) and validity (None: all valid)."""
    return _np(pc.cast(to_array(x, n), pa.int64()), n, np.int64)


def _overflow(what: str):
    return ArithmeticOverflowError(f"interval overflow: {what} does not fit a day-time interval",
                                   hint="use smaller values")


@kernel("spark_interval")
def _spark_interval(name, args, dtype, n):
    """The day-time interval operations (``bind_spark_interval``): ``between`` two timestamps, a timestamp
    plus or minus an interval, intervals added, an interval times or divided by a number (HALF_UP to
    the microsecond, as Spark's ``MultiplyDTInterval``/``DivideDTInterval``); overflow raises, as in Spark
    whatever its ANSI mode, and so does a division by zero (``INTERVAL_DIVIDED_BY_ZERO``)."""
    kind = _const(args[0])
    a = to_array(args[1], n)
    if kind == "to_us":
        return pc.cast(a, _DAY_TIME)
    if kind == "from_interval":
        return _interval_as_day_time(a)
    if kind == "micros":
        return pc.cast(a, pa.int64())
    if kind == "from_micros":                  # an aggregate of microseconds (a sum may be a DECIMAL)
        try:
            return pc.cast(pc.cast(a, pa.int64()), _DAY_TIME)
        except pa.ArrowInvalid as exc:
            raise _overflow("a sum") from exc
    if kind == "text":
        return _day_time_strings(a)
    if kind in ("negate", "abs"):
        try:
            return pc.cast(getattr(pc, kind + "_checked")(pc.cast(a, pa.int64())), _DAY_TIME)
        except pa.ArrowInvalid as exc:
            raise _overflow(f"the {kind} of an interval") from exc
    b = to_array(args[2], n)
    try:
        if kind == "between":
            return pc.subtract_checked(a, b)
        if kind in ("add", "subtract") and (pa.types.is_timestamp(a.type) or pa.types.is_duration(b.type)):
            return getattr(pc, kind + "_checked")(a, b)
    except pa.ArrowInvalid as exc:
        raise _overflow("the result") from exc
    micros, valid = _micros(a, n)
    if kind == "multiply" and T.is_integer(b.type):
        factor, fvalid = _np(b, n, np.int64)
        try:
            product = pc.multiply_checked(pa.array(micros), pa.array(factor)).to_numpy()
        except pa.ArrowInvalid as exc:
            raise _overflow("a product") from exc
        return _from_np(product, _both(valid, fvalid), _DAY_TIME)
    if kind == "multiply":
        factor, fvalid = _np(b, n, np.float64)
        return _rounded(micros * factor, _both(valid, fvalid))
    if kind == "divide":
        safe, both = _interval_divisor(b, n, valid)
        if T.is_float(b.type):
            return _rounded(micros / safe, both)
        return _from_np(_divide_half_up(micros, safe), both, _DAY_TIME)
    raise ExecutionError(f"unknown interval operation `{kind}`")


def _interval_divisor(b, n, valid):
    """The divisor of an interval (as numpy, zeros where it is NULL made 1) and the rows valid in both;
    DIVIDE_BY_ZERO if a valid row divides by zero."""
    divisor, dvalid = _np(b, n, np.float64 if T.is_float(b.type) else np.int64)
    both = _both(valid, dvalid)
    if np.any((divisor == 0) & (both if both is not None else True)):
        raise DivideByZeroError("an interval divided by zero", hint="use try_divide, or filter out the zeros")
    return np.where(divisor == 0, 1, divisor), both


def _divide_half_up(values: np.ndarray, divisor: np.ndarray) -> np.ndarray:
    """Exact integer quotients rounded half away from zero (Guava's LongMath HALF_UP, as Spark):
    |q| = (|v| + |d| // 2) // |d|."""
    magnitude = (np.abs(values) + np.abs(divisor) // 2) // np.abs(divisor)
    return np.where((values < 0) != (divisor < 0), -magnitude, magnitude)


_MONTH_DAY_NANO = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])


def _interval_as_day_time(a: pa.Array) -> pa.Array:
    """quarry's INTERVAL values (months, days, nanoseconds) as day-time intervals; one with months has no
    day-time equivalent (it is Spark's year-month or calendar interval) and is refused."""
    fields = np.frombuffer(a.buffers()[1], dtype=_MONTH_DAY_NANO)[a.offset: a.offset + len(a)]
    valid = None if a.null_count == 0 else np.asarray(a.is_valid())
    live = valid if valid is not None else np.ones(len(a), bool)
    if np.any(live & (fields["months"] != 0)):
        raise UnsupportedError("Not supported: an interval with months or years in a result (Spark's year-month "
                               "and calendar intervals)", hint="use days, hours, minutes and seconds")
    micros = fields["days"].astype(np.int64) * 86_400_000_000 + fields["nanos"] // 1000
    return _from_np(np.where(live, micros, 0), valid, _DAY_TIME)


def _day_time_strings(a: pa.Array) -> pa.Array:
    """Day-time intervals as Spark casts them to STRING: ``INTERVAL '-1 02:03:04.5' DAY TO SECOND``
    (the fraction of a second without trailing zeros, none when whole)."""
    micros, valid = _micros(a, len(a))
    magnitude = np.abs(micros)
    days, rest = np.divmod(magnitude, 86_400_000_000)
    hours, rest = np.divmod(rest, 3_600_000_000)
    minutes, rest = np.divmod(rest, 60_000_000)
    seconds, fraction = np.divmod(rest, 1_000_000)

    def padded(values, width):
        return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width, padding="0")
    tail = pc.utf8_rtrim(padded(fraction, 6), characters="0")
    tail = pc.if_else(pa.array(fraction != 0), pc.binary_join_element_wise(".", tail, ""), "")
    sign = pc.if_else(pa.array(micros < 0), "-", "")
    text = pc.binary_join_element_wise(
        "INTERVAL '", sign, pc.cast(pa.array(days), pa.string()), " ", padded(hours, 2), ":", padded(minutes, 2),
        ":", padded(seconds, 2), tail, "' DAY TO SECOND", "")
    return text if valid is None else pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def _both(x, y):
    return y if x is None else x if y is None else x & y


def _rounded(values: np.ndarray, valid) -> pa.Array:
    """Microseconds as DOUBLEs rounded HALF_UP to an interval; a value out of its range raises."""
    rounded = np.where(values < 0, -np.floor(-values + 0.5), np.floor(values + 0.5))
    live = valid if valid is not None else np.ones(len(values), bool)
    if np.any(live & ~(np.abs(np.nan_to_num(rounded, nan=np.inf)) < 2.0 ** 63)):
        raise _overflow("a product")
    return _from_np(np.where(live, rounded, 0).astype(np.int64), valid, _DAY_TIME)


@kernel("spark_make_dt_interval")
def _make_dt_interval(name, args, dtype, n):
    """``make_dt_interval(days, hours, mins, secs)`` in microseconds; overflow raises."""
    from quarry.compute.kernels import _relabel_decimal
    parts = [pc.cast(to_array(a, n), pa.int64()) for a in args[:3]]
    secs = to_array(args[3], n)
    micros = _relabel_decimal(secs, pa.decimal128(18, 0))          # DECIMAL(18,6): the unscaled value is µs
    total = pc.cast(micros, pa.int64())
    try:
        for part, unit in zip(parts, (86_400_000_000, 3_600_000_000, 60_000_000)):
            total = pc.add_checked(total, pc.multiply_checked(part, unit))
    except pa.ArrowInvalid as exc:
        raise _overflow("make_dt_interval") from exc
    return pc.cast(total, _DAY_TIME)


_MICROS_DAY = 86_400_000_000


def _ym_type():
    from quarry.logical.spark_functions import YEAR_MONTH
    return YEAR_MONTH


def _calendar_type():
    from quarry.logical.spark_functions import CALENDAR
    return CALENDAR


def _storage(x, n) -> pa.Array:
    """An extension array's storage (the months of a year-month interval, the INTERVAL of a calendar one)."""
    a = to_array(x, n)
    return a.storage if isinstance(a, pa.ExtensionArray) else a


def _months_array(months: np.ndarray, valid) -> pa.Array:
    """Year-month intervals of int64 month counts; one outside INT's range raises (Spark's ``toIntExact``)."""
    live = valid if valid is not None else np.ones(len(months), bool)
    if np.any(live & ((months > np.iinfo(np.int32).max) | (months < np.iinfo(np.int32).min))):
        raise ArithmeticOverflowError("integer overflow: the months do not fit a year-month interval",
                                      hint="use smaller values")
    storage = _from_np(np.where(live, months, 0).astype(np.int32), valid, pa.int32())
    return pa.ExtensionArray.from_storage(_ym_type(), storage)


def _half_up_float(values: np.ndarray) -> np.ndarray:
    return np.where(values < 0, -np.floor(-values + 0.5), np.floor(values + 0.5))


def _plus_months(days: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Days since the epoch moved by whole months, the day of month kept or clamped to the target month's
    last (java.time's ``plusMonths``)."""
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    day = (d - m.astype("datetime64[D]")).astype(np.int64)
    target = m + months.astype("timedelta64[M]")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]"))
    return (target.astype("datetime64[D]").astype(np.int64)
            + np.minimum(day, length.astype(np.int64) - 1))


def _moved(a: pa.Array, months: np.ndarray, days: np.ndarray, micros: np.ndarray, valid, n) -> pa.Array:
    """Dates or timestamps moved by months, then days, then microseconds (a date by no microseconds)."""
    if pa.types.is_date(a.type):
        start, avalid = _np(pc.cast(a, pa.int32()), n, np.int64)
        out = _plus_months(start, months) + days
        both = _both(avalid, valid)
        live = both if both is not None else np.ones(n, bool)
        if np.any(live & (np.abs(out) > 2_932_896)):              # past 9999-12-31 or before 0001-01-01
            raise ArithmeticOverflowError("the date is out of range after adding the interval",
                                          hint="use a smaller interval")
        return pc.cast(_from_np(np.where(live, out, 0).astype(np.int32), both, pa.int32()), pa.date32())
    start, avalid = _np(pc.cast(a, pa.int64()), n, np.int64)
    day = np.floor_divide(start, _MICROS_DAY)
    out = (_plus_months(day, months) + days) * _MICROS_DAY + (start - day * _MICROS_DAY) + micros
    both = _both(avalid, valid)
    live = both if both is not None else np.ones(n, bool)
    return pc.cast(_from_np(np.where(live, out, 0), both, pa.int64()), a.type)


_YM_EXACT = {"add": pc.add_checked, "subtract": pc.subtract_checked}


@kernel("spark_ym")
def _spark_ym(name, args, dtype, n):
    """The year-month and calendar interval operations (``bind_spark_year_month``); overflow raises, as in
    Spark whatever its ANSI mode, and so does a division by zero (``INTERVAL_DIVIDED_BY_ZERO``)."""
    kind = _const(args[0])
    if kind == "months_of":
        return _months_array(np.full(n, _const(args[1]), np.int64), None)
    if kind == "make":
        years, yvalid = _np(args[1], n, np.int64)
        months, mvalid = _np(args[2], n, np.int64)
        return _months_array(_exact_sum(_exact_product(years, np.full(n, 12, np.int64)), months),
                             _both(yvalid, mvalid))
    if kind in ("make_calendar", "try_make_calendar"):
        return _make_calendar(args[1:], n, lenient=kind == "try_make_calendar")
    if kind == "calendar_text":
        return _calendar_strings(_storage(args[1], n))
    if kind in ("calendar_add", "calendar_subtract"):
        return _calendar_op(kind, args, n)
    a = _storage(args[1], n)
    if kind == "months":
        return a
    months, valid = _np(a, n, np.int64)
    if kind == "text":
        return _ym_strings(months, valid)
    if kind == "from_months":                     # an aggregate of months (a sum may be a DECIMAL)
        return _months_array(months, valid)
    if kind == "negate":
        return _months_array(-months, valid)
    if kind == "abs":
        return _months_array(np.abs(months), valid)
    if kind in ("months_add", "months_subtract"):
        temporal = to_array(args[1], n)
        step, svalid = _np(_storage(args[2], n), n, np.int64)
        step = -step if kind == "months_subtract" else step
        zeros = np.zeros(n, np.int64)
        return _moved(temporal, step, zeros, zeros, svalid, n)
    other = to_array(args[2], n)
    if kind in ("add", "subtract"):
        b, bvalid = _np(_storage(other, n), n, np.int64)
        return _months_array(months + b if kind == "add" else months - b, _both(valid, bvalid))
    if kind == "multiply" and T.is_integer(other.type):
        factor, fvalid = _np(other, n, np.int64)
        return _months_array(_exact_product(months, factor), _both(valid, fvalid))
    if kind == "multiply":
        factor, fvalid = _np(other, n, np.float64)
        return _months_array(_checked_round(months * factor, _both(valid, fvalid)), _both(valid, fvalid))
    if kind == "divide":
        safe, both = _interval_divisor(other, n, valid)
        if T.is_float(other.type):
            return _months_array(_checked_round(months / safe, both), both)
        return _months_array(_divide_half_up(months, safe), both)
    raise ExecutionError(f"unknown interval operation `{kind}`")


def _exact_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return pc.multiply_checked(pa.array(a), pa.array(b)).to_numpy()
    except pa.ArrowInvalid as exc:
        raise ArithmeticOverflowError("integer overflow: the months do not fit a year-month interval",
                                      hint="use smaller values") from exc


def _exact_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return pc.add_checked(pa.array(a), pa.array(b)).to_numpy()
    except pa.ArrowInvalid as exc:
        raise ArithmeticOverflowError("integer overflow: the months do not fit a year-month interval",
                                      hint="use smaller values") from exc


def _checked_round(values: np.ndarray, valid) -> np.ndarray:
    rounded = _half_up_float(values)
    live = valid if valid is not None else np.ones(len(values), bool)
    if np.any(live & ~(np.abs(np.nan_to_num(rounded, nan=np.inf)) < 2.0 ** 31)):
        raise ArithmeticOverflowError("integer overflow: the months do not fit a year-month interval",
                                      hint="use smaller values")
    return np.where(live, rounded, 0).astype(np.int64)


def _ym_strings(months: np.ndarray, valid) -> pa.Array:
    """Year-month intervals as Spark casts them to STRING: ``INTERVAL '-1-2' YEAR TO MONTH``."""
    magnitude = np.abs(months)
    text = pc.binary_join_element_wise(
        "INTERVAL '", pc.if_else(pa.array(months < 0), "-", ""), pc.cast(pa.array(magnitude // 12), pa.string()),
        "-", pc.cast(pa.array(magnitude % 12), pa.string()), "' YEAR TO MONTH", "")
    return text if valid is None else pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def _calendar_parts(a: pa.Array):
    """A calendar interval's months, days and microseconds (int64) and validity."""
    fields = np.frombuffer(a.buffers()[1], dtype=_MONTH_DAY_NANO)[a.offset: a.offset + len(a)]
    valid = None if a.null_count == 0 else np.asarray(a.is_valid())
    return (fields["months"].astype(np.int64), fields["days"].astype(np.int64), fields["nanos"] // 1000), valid


def _calendar_array(months, days, micros, valid) -> pa.Array:
    live = valid if valid is not None else np.ones(len(months), bool)
    small = (np.abs(months) <= np.iinfo(np.int32).max) & (np.abs(days) <= np.iinfo(np.int32).max) \
        & (np.abs(micros) < 2 ** 63 // 1000)
    if np.any(live & ~small):
        raise ArithmeticOverflowError("integer overflow: the interval's fields do not fit a calendar interval",
                                      hint="use smaller values")
    data = np.zeros(len(months), _MONTH_DAY_NANO)
    data["months"] = np.where(live, months, 0)
    data["days"] = np.where(live, days, 0)
    data["nanos"] = np.where(live, micros, 0) * 1000
    validity = None if valid is None else pa.array(valid).buffers()[1]
    storage = pa.Array.from_buffers(pa.month_day_nano_interval(), len(months), [validity, pa.py_buffer(data.tobytes())],
                                    null_count=0 if valid is None else int((~valid).sum()))
    return pa.ExtensionArray.from_storage(_calendar_type(), storage)


def _make_calendar(args, n, lenient: bool = False) -> pa.Array:
    """``make_interval(years, months, weeks, days, hours, mins, secs)``; a field out of range raises.
    ``lenient`` (``try_make_interval``): such a row is NULL instead."""
    from quarry.compute.kernels import _relabel_decimal
    parts, valid = [], None
    for x in args[:6]:
        values, v = _np(x, n, np.int64)
        parts.append(values)
        valid = _both(valid, v)
    secs = to_array(args[6], n)
    micros, svalid = _np(pc.cast(_relabel_decimal(secs, pa.decimal128(18, 0)), pa.int64()), n, np.int64)
    valid = _both(valid, svalid)
    if lenient:
        return _try_make_calendar(parts, micros, valid)
    years, months, weeks, days, hours, mins = (pa.array(p) for p in parts)
    try:
        total_months = pc.add_checked(pc.multiply_checked(years, 12), months)
        total_days = pc.add_checked(pc.multiply_checked(weeks, 7), days)
        total_micros = pc.add_checked(pc.add_checked(pc.multiply_checked(hours, 3_600_000_000),
                                                     pc.multiply_checked(mins, 60_000_000)), pa.array(micros))
    except pa.ArrowInvalid as exc:
        raise ArithmeticOverflowError("integer overflow in make_interval", hint="use smaller values") from exc
    return _calendar_array(total_months.to_numpy(), total_days.to_numpy(), total_micros.to_numpy(), valid)


def _try_make_calendar(parts, micros, valid) -> pa.Array:
    """``try_make_interval``: as ``make_interval``, with a row whose arguments (Spark's INTs) or fields
    overflow NULL. With every argument within INT's range the sums cannot overflow int64 (hours times
    3.6e9 stays below 7.8e18, and a DECIMAL(18,6) of seconds below 1e18 microseconds), so they are
    computed whole and the rows out of range masked after."""
    limit = np.iinfo(np.int32).max
    fits = np.ones(len(micros), bool)
    for p in parts:
        fits &= (p >= -limit - 1) & (p <= limit)
    years, months, weeks, days, hours, mins = (np.where(fits, p, 0) for p in parts)
    total_months = years * 12 + months
    total_days = weeks * 7 + days
    total_micros = hours * 3_600_000_000 + mins * 60_000_000 + np.where(fits, micros, 0)
    fits &= (np.abs(total_months) <= limit) & (np.abs(total_days) <= limit) & (np.abs(total_micros) < 2 ** 63 // 1000)
    valid = _both(valid, fits)
    return _calendar_array(np.where(fits, total_months, 0), np.where(fits, total_days, 0),
                           np.where(fits, total_micros, 0), valid)


def _calendar_op(kind, args, n) -> pa.Array:
    """A date or timestamp plus or minus a calendar interval (Spark's ``TimeAdd``/``DateAddInterval``), or
    two calendar intervals added or subtracted field by field (``addExact``)."""
    sign = -1 if kind == "calendar_subtract" else 1
    (months, days, micros), valid = _calendar_parts(_storage(args[2], n))
    first = to_array(args[1], n)
    if isinstance(first, pa.ExtensionArray):
        (m0, d0, u0), v0 = _calendar_parts(first.storage)
        return _calendar_array(m0 + sign * months, d0 + sign * days, u0 + sign * micros, _both(v0, valid))
    if pa.types.is_date(first.type):
        live = valid if valid is not None else np.ones(n, bool)
        if np.any(live & (micros != 0) & np.asarray(first.is_valid())):
            raise DataError("Cannot add hours, minutes or seconds, milliseconds, microseconds to a date",
                            hint="add the interval to a timestamp, or use make_interval with days only")
    return _moved(first, sign * months, sign * days, sign * micros, valid, n)


def _calendar_strings(a: pa.Array) -> pa.Array:
    """Calendar intervals as Spark prints them (``CalendarInterval.toString``): ``1 years 2 months 3 days
    4 hours 5 minutes 6.5 seconds``, each part only when not zero, ``0 seconds`` when all are."""
    (months, days, micros), valid = _calendar_parts(a)
    def toward_zero(x, unit):                  # Java's long division
        return np.sign(x) * (np.abs(x) // unit)
    hours = toward_zero(micros, 3_600_000_000)
    rest = micros - hours * 3_600_000_000
    minutes = toward_zero(rest, 60_000_000)
    rest = rest - minutes * 60_000_000
    whole, fraction = np.abs(rest) // 1_000_000, np.abs(rest) % 1_000_000
    seconds = pc.binary_join_element_wise(
        pc.if_else(pa.array(rest < 0), "-", ""), pc.cast(pa.array(whole), pa.string()),
        pc.if_else(pa.array(fraction != 0), pc.binary_join_element_wise(
            ".", pc.utf8_rtrim(pc.utf8_lpad(pc.cast(pa.array(fraction), pa.string()), 6, padding="0"),
                               characters="0"), ""), ""), "")

    def part(values, unit, text=None):
        text = pc.cast(pa.array(values), pa.string()) if text is None else text
        return pc.if_else(pa.array(values != 0), pc.binary_join_element_wise(text, f" {unit} ", ""), "")
    years = toward_zero(months, 12)
    joined = pc.binary_join_element_wise(part(years, "years"), part(months - years * 12, "months"),
                                         part(days, "days"), part(hours, "hours"), part(minutes, "minutes"),
                                         part(rest, "seconds", seconds), "")
    text = pc.utf8_rtrim(joined, characters=" ")
    text = pc.if_else(pc.equal(text, ""), "0 seconds", text)
    return text if valid is None else pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


@kernel("spark_double_text")
def _spark_double_text(name, args, dtype, n):
    return java_double_text(to_array(args[0], n))


def java_double_text(values: pa.Array) -> pa.Array:
    """DOUBLE and FLOAT values as Spark casts them to STRING (Java's ``Double.toString``/``Float.toString``):
    the shortest digits that read back as the value (Arrow's shortest form, as Java's since JDK 19), written
    plainly with at least one decimal between 1e-3 and 1e7 (``1.0``, ``0.001``, ``1234567.5``) and as
    ``d.dddE±n`` outside (``1.0E10``, ``1.5E-7``); ``NaN``, ``Infinity``, ``-Infinity``, ``-0.0``."""
    text = pc.cast(values, pa.string())                   # 1, 0.1, 1e+10, 1.5e-07, nan, inf, -0
    negative = pc.starts_with(text, "-")
    body = pc.utf8_ltrim(text, characters="-")
    mantissa = pc.replace_substring_regex(body, r"e.*$", "")
    exponent_text = pc.replace_substring_regex(body, r"^[^e]*e?\+?", "")
    exponent = np.asarray(pc.fill_null(pc.cast(pc.if_else(pc.equal(exponent_text, ""), "0", exponent_text),
                                               pa.int64(), safe=False), 0), np.int64) \
        if len(body) else np.zeros(0, np.int64)
    whole = pc.replace_substring_regex(mantissa, r"\..*$", "")
    fraction = pc.replace_substring_regex(mantissa, r"^[^.]*\.?", "")
    whole_len = np.asarray(pc.fill_null(pc.utf8_length(whole), 0), np.int64)
    frac_zeros = np.asarray(pc.fill_null(pc.subtract(pc.utf8_length(fraction),
                                                     pc.utf8_length(pc.utf8_ltrim(fraction, characters="0"))), 0),
                            np.int64)
    leading_zero = np.asarray(pc.fill_null(pc.equal(whole, "0"), False), bool)
    # the decimal exponent of the first significant digit
    power = np.where(leading_zero, exponent - frac_zeros - 1, exponent + whole_len - 1)
    digits = pc.utf8_ltrim(pc.binary_join_element_wise(whole, fraction, ""), characters="0")
    digits = pc.utf8_rtrim(digits, characters="0")
    digits = pc.if_else(pc.equal(digits, ""), "0", digits)
    plain_range = (power >= -3) & (power < 7)
    finite = pc.fill_null(pc.is_finite(values), False)
    # plain: Arrow's text already is the shortest plain decimal there (it writes no exponent in that range),
    # with ".0" added to a whole number
    plain = pc.if_else(pc.match_substring(body, "."), body, pc.binary_join_element_wise(body, ".0", ""))
    tail = pc.utf8_slice_codeunits(digits, 1)
    scientific = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(digits, 0, 1), ".", pc.if_else(pc.equal(tail, ""), "0", tail), "E",
        pc.cast(pa.array(power, pa.int64()), pa.string()), "")
    unsigned = pc.if_else(pa.array(plain_range), plain, scientific)
    zero = pc.fill_null(pc.equal(values, 0), False)
    unsigned = pc.if_else(zero, "0.0", unsigned)
    signed = pc.if_else(negative, pc.binary_join_element_wise("-", unsigned, ""), unsigned)
    special = pc.if_else(pc.is_nan(values), "NaN", pc.if_else(pc.greater(values, 0), "Infinity", "-Infinity"))
    out = pc.if_else(finite, signed, special)
    return pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), out)


@kernel("spark_csv_timestamp")
def _spark_csv_timestamp(name, args, dtype, n):
    """Timestamps (wall times in the session zone ``args[1]``) as Spark's CSV and JSON writers print them,
    with their default ``timestampFormat`` ``yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]``: the milliseconds always
    (truncated), then the zone's offset at that time, ``Z`` when it is zero (``2024-01-02T03:04:05.120Z``)."""
    ts = to_array(args[0], n)
    zone = _const(args[1])
    ts = pc.cast(ts, pa.timestamp("us")) if ts.type.unit != "us" or ts.type.tz is not None else ts
    micros, valid = _np(pc.cast(ts, pa.int64()), n, np.int64)
    seconds = np.floor_divide(micros, 1_000_000)
    millis = np.floor_divide(np.mod(micros, 1_000_000), 1000)
    text = pc.strftime(pa.array(seconds, pa.int64()).cast(pa.timestamp("s")), "%Y-%m-%dT%H:%M:%S")
    fraction = pc.utf8_lpad(pc.cast(pa.array(millis), pa.string()), 3, padding="0")
    if zone in ("UTC", "Etc/UTC", "Z", "+00:00", "GMT"):
        offset = pa.scalar("Z")
    else:
        instant = pc.assume_timezone(ts, zone, ambiguous="earliest", nonexistent="earliest")
        shift = np.floor_divide(micros - np.asarray(pc.fill_null(pc.cast(pc.cast(instant, pa.timestamp("us")),
                                                                         pa.int64()), 0), np.int64), 60_000_000)
        hours = pc.utf8_lpad(pc.cast(pa.array(np.abs(shift) // 60), pa.string()), 2, padding="0")
        minutes = pc.utf8_lpad(pc.cast(pa.array(np.abs(shift) % 60), pa.string()), 2, padding="0")
        signed = pc.binary_join_element_wise(pc.if_else(pa.array(shift < 0), "-", "+"), hours, ":", minutes, "")
        offset = pc.if_else(pa.array(shift == 0), "Z", signed)
    out = pc.binary_join_element_wise(text, ".", fraction, offset, "")
    return out if valid is None else pc.if_else(pa.array(valid), out, pa.scalar(None, pa.string()))


@kernel("spark_timestamp_text")
def _spark_timestamp_text(name, args, dtype, n):
    """Timestamps as Spark casts them to STRING: ``2024-01-01 12:00:00``, the fraction of a second without
    trailing zeros (``12:00:00.5``), none when whole."""
    ts = to_array(args[0], n)
    ts = pc.cast(ts, pa.timestamp("us", ts.type.tz)) if ts.type.unit != "us" else ts
    micros, valid = _np(pc.cast(ts, pa.int64()), n, np.int64)
    fraction = np.mod(micros, 1_000_000)
    digits = pc.utf8_rtrim(pc.utf8_lpad(pc.cast(pa.array(fraction), pa.string()), 6, padding="0"), characters="0")
    tail = pc.if_else(pa.array(fraction != 0), pc.binary_join_element_wise(".", digits, ""), "")
    whole = pa.array((micros - fraction) // 1_000_000, pa.int64()).cast(pa.timestamp("s"))   # (%S of µs has a fraction)
    text = pc.binary_join_element_wise(pc.strftime(whole, "%Y-%m-%d %H:%M:%S"), tail, "")
    return text if valid is None else pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


@kernel("spark_width_bucket")
def _width_bucket(name, args, dtype, n):
    v, vv = _np(args[0], n, np.float64)
    lo, vl = _np(args[1], n, np.float64)
    hi, vh = _np(args[2], n, np.float64)
    k, vk = _np(args[3], n, np.int64)
    valid = np.ones(n, bool)
    for m in (vv, vl, vh, vk):
        if m is not None:
            valid &= m
    with np.errstate(all="ignore"):
        ok = (k > 0) & (lo != hi) & np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi)
        asc = lo < hi
        frac = np.where(asc, (v - lo) / (hi - lo), (lo - v) / (lo - hi))
        bucket = np.floor(frac * k).astype(np.int64) + 1
        bucket = np.where(frac < 0, 0, np.where(frac >= 1, k + 1, bucket))
    valid &= ok
    return _from_np(bucket, None if valid.all() else valid, T.INT64)


# ------------------------------------------------------------------ strings


@kernel("spark_concat")
def _concat(name, args, dtype, n):
    arrays = [cast_value(a, T.STRING) if not T.is_string(a.type) else a for a in args]
    if len(arrays) == 1:
        return arrays[0]
    return pc.binary_join_element_wise(*arrays, "", null_handling="emit_null")


@kernel("spark_concat_ws")
def _concat_ws(name, args, dtype, n):
    sep = args[0]
    if not isinstance(sep, pa.Scalar):
        raise UnsupportedError("Not supported: concat_ws with a separator that is not a constant")
    if not sep.is_valid:
        return pa.nulls(n, T.STRING) if n else pa.array([], T.STRING)
    parts = [a for a in args[1:] if not (isinstance(a, pa.Scalar) and not a.is_valid)]
    if not parts:
        return pa.scalar("", T.STRING)
    if len(parts) == 1:
        return pc.fill_null(parts[0], "") if not isinstance(parts[0], pa.Scalar) else parts[0]
    if all(isinstance(p, pa.Scalar) for p in parts):
        return pc.binary_join_element_wise(*parts, sep, null_handling="skip")
    # Arrow 26 drops the rows whose values are all NULL in "skip" mode: such a row gets one '' value
    arrays = [to_array(p, n).cast(T.STRING) for p in parts]
    all_null = arrays[0].is_null()
    for a in arrays[1:]:
        all_null = pc.and_(all_null, a.is_null())
    arrays[0] = pc.if_else(all_null, "", arrays[0])
    return pc.binary_join_element_wise(*arrays, sep, null_handling="skip")


def _java_replacement(text: str) -> str:
    """A Java regex replacement (``$1``, ``\\$``) as RE2's (``\\1``)."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
            continue
        if ch == "$" and i + 1 < len(text) and text[i + 1].isdigit():
            j = i + 1
            while j < len(text) and text[j].isdigit():
                j += 1
            out.append("\\" + text[i + 1:j])
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _matches_empty(pattern: str) -> bool:
    try:
        return re.fullmatch(pattern, "") is not None
    except re.error:
        return False


def _group_count(pattern: str) -> int:
    try:
        return re.compile(pattern).groups
    except re.error:
        return 0


def _slice(s, start: int, stop):
    return pc.utf8_slice_codeunits(s, start, stop) if stop is not None else pc.utf8_slice_codeunits(s, start)


def spark_substring(s, pos: int, length):
    """Spark's ``substring(s, pos, len)``: 1-based; 0 reads as 1; a negative position counts from the end."""
    big = 2 ** 62
    if length is not None and length <= 0:
        return pc.utf8_slice_codeunits(s, 0, 0)
    if pos > 0:
        start = pos - 1
        return _slice(s, start, None if length is None else min(start + length, big))
    if pos == 0:
        return _slice(s, 0, None if length is None else length)
    stop = None if length is None or pos + length >= 0 else pos + length
    return _slice(s, pos, stop)


_SOUNDEX = np.frombuffer(b"01230127022455012623017202", np.uint8)


def _soundex(s, n):
    """Spark's soundex over the bytes: the first letter, then up to three codes (H and W are skipped,
    vowels separate equal codes); a string not starting with a letter is returned as it is."""
    arr = to_array(s, n)
    data, offsets, valid = _bytes_of(arr, n)
    lengths = np.diff(offsets)
    width = int(lengths.max()) if n else 0
    padded = np.concatenate([data, np.zeros(1, np.uint8)])

    def upper_at(i):
        has = lengths > i
        b = np.where(has, padded[np.where(has, offsets[:-1] + i, len(data))], 0).astype(np.int64)
        b = np.where((b >= 97) & (b <= 122), b - 32, b)
        return b, has
    first, has = upper_at(0)
    letter = has & (first >= 65) & (first <= 90)
    out = np.full((n, 4), ord("0"), np.uint8)
    out[:, 0] = np.where(letter, first, 0).astype(np.uint8)
    last = np.where(letter, _SOUNDEX[np.clip(first - 65, 0, 25)], ord("0")).astype(np.uint8)
    count = np.ones(n, np.int64)
    for i in range(1, width):
        b, has = upper_at(i)
        active = has & letter & (count < 4)
        is_letter = (b >= 65) & (b <= 90)
        code = _SOUNDEX[np.clip(b - 65, 0, 25)]
        code = np.where(is_letter, code, ord("0")).astype(np.uint8)
        skip = is_letter & (code == ord("7"))
        emit = active & ~skip & (code != ord("0")) & (code != last)
        rows = np.flatnonzero(emit)
        out[rows, count[rows]] = code[rows]
        count = count + emit
        last = np.where(active & ~skip, code, last)
    coded = _fixed_rows_to_strings(out, np.full(n, 4, np.int64), None, right_aligned=False)
    result = pc.if_else(pa.array(letter), coded, arr)
    return result


def _url_encode(s, n):
    data, offsets, valid = _bytes_of(s, n)
    keep = ((data >= 48) & (data <= 57)) | ((data >= 65) & (data <= 90)) | ((data >= 97) & (data <= 122)) | \
        np.isin(data, np.frombuffer(b".-*_", np.uint8))
    space = data == 32
    width = np.where(keep | space, 1, 3)
    starts = np.concatenate([[0], np.cumsum(width)])
    out = np.empty(int(starts[-1]), np.uint8)
    pos = starts[:-1]
    out[pos] = np.where(keep, data, np.where(space, ord("+"), ord("%")))
    enc = np.flatnonzero(~keep & ~space)
    hexd = np.frombuffer(b"0123456789ABCDEF", np.uint8)
    out[pos[enc] + 1] = hexd[data[enc] >> 4]
    out[pos[enc] + 2] = hexd[data[enc] & 15]
    return _strings_from(out, starts[offsets], valid, pa.string())


def _url_decode(s, n, strict: bool):
    data, offsets, valid = _bytes_of(s, n)
    lengths = np.diff(offsets)
    row_of = np.repeat(np.arange(n), lengths)
    row_end = offsets[1:][row_of] if len(data) else np.zeros(0, np.int64)
    pct = np.flatnonzero(data == ord("%"))
    padded = np.concatenate([data, np.zeros(2, np.uint8)])
    hi, lo = _HEX_VALUE[padded[pct + 1]], _HEX_VALUE[padded[pct + 2]]
    ok = (pct + 2 < row_end[pct]) & (hi != 255) & (lo != 255) if len(pct) else np.zeros(0, bool)
    bad_rows = np.zeros(n, bool)
    bad_rows[row_of[pct[~ok]]] = True
    if strict and bad_rows.any():
        raise DataError("url_decode: the input has an invalid percent escape (use try_url_decode to get NULL)")
    out = np.where(data == ord("+"), ord(" "), data).astype(np.uint8)
    good = pct[ok]
    out[good] = (hi[ok] << 4) | lo[ok]
    keep = np.ones(len(data), bool)
    keep[good + 1] = False
    keep[good + 2] = False
    kept = np.bincount(row_of[keep], minlength=n) if len(data) else np.zeros(n, np.int64)
    new_offsets = np.concatenate([[0], np.cumsum(kept)])
    ok_rows = ~bad_rows if valid is None else (valid & ~bad_rows)
    try:
        return _strings_from(out[keep], new_offsets, None if ok_rows.all() else ok_rows, pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        raise DataError("url_decode: the decoded bytes are not valid UTF-8") from None


def spark_substring_columns(s, pos, length, n):
    """``substring`` with a position and/or length that vary by row (Spark's rule, row by row in numpy)."""
    arr = to_array(s, n)
    chars = np.asarray(pc.fill_null(pc.utf8_length(arr), 0)).astype(np.int64)
    p, vp = _np(cast_value(pos, T.INT64), n, np.int64)
    big = np.int64(1 << 40)
    if length is None:
        ln, vl = np.full(n, big), None
    else:
        ln, vl = _np(cast_value(length, T.INT64), n, np.int64)
    start = np.where(p > 0, p - 1, np.where(p < 0, chars + p, 0))
    end = np.minimum(start + np.minimum(ln, big), chars)
    start = np.maximum(start, 0)
    end = np.maximum(end, start)
    out = _keep_chars(_drop_chars(arr, start), end - start)
    valid = np.asarray(arr.is_valid())
    for v in (vp, vl):
        if v is not None:
            valid &= v
    return out if valid.all() else pc.if_else(pa.array(valid), out, pa.scalar(None, T.STRING))


def _per_pattern(s, patterns, replacements, n, fn):
    """``fn(strings, pattern, replacement)`` where the pattern/replacement vary by row: once per distinct
    (pattern, replacement) pair of the batch, over the rows that have it (a regex compiles once per pair)."""
    arr = to_array(s, n)
    pat, rep = to_array(patterns, n), to_array(replacements, n)
    distinct = pa.table({"p": pat, "r": rep}).group_by(["p", "r"]).aggregate([])
    out = pa.nulls(n, T.STRING)
    for pair in distinct.to_pylist():                     # distinct pairs, not rows
        if pair["p"] is None or pair["r"] is None:
            continue
        mask = pc.and_(pc.equal(pat, pair["p"]), pc.equal(rep, pair["r"]))
        mask = pc.fill_null(mask, False)
        done = fn(arr, pair["p"], pair["r"])
        out = pc.if_else(mask, done, out)
    return out


@kernel("spark_string")
def _string(name, args, dtype, n):
    op = _const(args[0])
    s = args[1]
    if op == "substring" and any(not isinstance(a, pa.Scalar) for a in args[2:]):
        return spark_substring_columns(s, args[2], args[3] if len(args) > 3 else None, n)
    if op == "repeat" and not isinstance(args[2], pa.Scalar):
        counts = pc.max_element_wise(cast_value(args[2], T.INT64), 0, skip_nulls=False)
        return pc.binary_repeat(s, counts)
    if op == "regexp_replace" and any(not isinstance(a, pa.Scalar) for a in args[2:]):
        return _per_pattern(s, args[2], args[3], n,
                            lambda part, pattern, repl: pc.replace_substring_regex(part, pattern,
                                                                                   _java_replacement(repl)))
    p = [_const(a) for a in args[2:]]
    if op == "substring":
        return spark_substring(s, int(p[0]), None if len(p) < 2 or p[1] is None else int(p[1]))
    if op == "substring_index":
        delim, count = p[0], int(p[1])
        if count == 0 or delim == "":
            return pc.utf8_slice_codeunits(s, 0, 0)
        if count > 0:
            parts = pc.split_pattern(s, delim, max_splits=count)
            return pc.binary_join(pc.list_slice(parts, 0, count), delim)
        rs = pc.utf8_reverse(s)
        rd = delim[::-1]
        parts = pc.split_pattern(rs, rd, max_splits=-count)
        return pc.utf8_reverse(pc.binary_join(pc.list_slice(parts, 0, -count), rd))
    if op == "regexp_replace":
        pattern, replacement = p[0], p[1]
        return pc.replace_substring_regex(s, pattern, _java_replacement(replacement))
    if op == "regexp_extract":
        pattern, idx = p[0], int(p[1])
        groups = _group_count(pattern)
        if idx < 0 or idx > groups:
            raise DataError(f"regexp_extract: the group index {idx} is out of range: the regex `{pattern}` "
                            f"has {groups} group(s)")
        matched = pc.match_substring_regex(s, pattern)
        got = pc.replace_substring_regex(s, f"(?s)^.*?({pattern}).*$", f"\\{idx + 1}", max_replacements=1)
        return pc.if_else(matched, got, "")
    if op == "translate":
        matching, replace = p[0], p[1]
        out = s
        seen = []
        for ch in matching:
            if ch in seen:
                continue
            seen.append(ch)
        for i, ch in enumerate(seen):
            out = pc.replace_substring(out, ch, chr(0xF0000 + i))
        for i, ch in enumerate(seen):
            j = matching.index(ch)
            out = pc.replace_substring(out, chr(0xF0000 + i), replace[j] if j < len(replace) else "")
        return out
    if op == "initcap":
        arr = to_array(s, n)
        words = to_array(pc.split_pattern(pc.utf8_lower(arr), " "), n)
        caps = pc.utf8_capitalize(words.values)
        rebuilt = pa.ListArray.from_arrays(words.offsets, caps, mask=words.is_null())
        return pc.binary_join(rebuilt, " ")
    if op in ("trim", "ltrim", "rtrim", "btrim"):
        chars = " " if not p or p[0] is None else p[0]
        if chars == "":
            return s
        fn = {"trim": pc.utf8_trim, "btrim": pc.utf8_trim, "ltrim": pc.utf8_ltrim, "rtrim": pc.utf8_rtrim}[op]
        return fn(s, chars)
    if op == "repeat":
        k = int(p[0])
        return pc.binary_repeat(s, max(k, 0))
    if op == "replace":
        return pc.replace_substring(s, p[0], p[1] if len(p) > 1 and p[1] is not None else "")
    if op == "upper":
        return pc.utf8_upper(s)
    if op == "lower":
        return pc.utf8_lower(s)
    if op == "reverse":
        return pc.utf8_reverse(s)
    if op == "left":
        k = int(p[0])
        return pc.utf8_slice_codeunits(s, 0, max(k, 0))
    if op == "right":
        k = int(p[0])
        return pc.utf8_slice_codeunits(s, -k) if k > 0 else pc.utf8_slice_codeunits(s, 0, 0)
    if op == "soundex":
        return _soundex(s, n)
    if op == "url_encode":
        return _url_encode(s, n)
    if op in ("url_decode", "try_url_decode"):
        return _url_decode(s, n, op == "url_decode")
    if op == "quote":
        inner = pc.replace_substring(s, "'", "\\'")
        return pc.binary_join_element_wise("'", inner, "'", "")
    raise ExecutionError(f"unknown string operation `{op}`")


@kernel("spark_string_int")
def _string_int(name, args, dtype, n):
    op = _const(args[0])
    s = args[1]
    p = [_const(a) for a in args[2:]]
    if op in ("instr", "locate") and not isinstance(args[2], pa.Scalar):
        # the substring varies by row: once per distinct substring of the batch
        subs = to_array(args[2], n)
        out = pa.nulls(n, T.INT32)
        for value in pc.unique(subs).to_pylist():
            if value is None:
                continue
            rows = pc.fill_null(pc.equal(subs, value), False)
            done = _string_int(name, [args[0], s, pa.scalar(value, T.STRING), *args[3:]], dtype, n)
            out = pc.if_else(rows, done, out)
        return out
    if op in ("instr", "locate"):
        sub = p[0]
        pos = int(p[1]) if len(p) > 1 else 1
        if sub == "":                                   # the empty string is found at the start position
            length = pc.utf8_length(s)
            at = pa.scalar(max(pos, 1), T.INT64)
            return cast_value(pc.if_else(pc.less_equal(at, pc.add(length, 1)), at, 0), T.INT32)
        if op == "locate" and pos < 1:
            return pc.if_else(pc.is_valid(to_array(s, n)), pa.scalar(0, T.INT32), pa.scalar(None, T.INT32))
        tail = pc.utf8_slice_codeunits(s, pos - 1) if pos > 1 else s
        head = pc.list_element(pc.split_pattern(tail, sub, max_splits=1), 0)
        found = pc.match_substring(tail, sub)
        at = pc.add(pc.utf8_length(head), pos)
        return cast_value(pc.if_else(found, at, 0), T.INT32)
    if op == "length":
        arr = s
        return cast_value(pc.utf8_length(arr), T.INT32)
    if op == "ascii":
        first = pc.cast(pc.utf8_slice_codeunits(s, 0, 1), pa.binary())
        data, offsets, valid = _bytes_of(first, n)
        lengths = np.diff(offsets)
        starts = offsets[:-1]
        padded = np.concatenate([data, np.zeros(4, np.uint8)]).astype(np.int64)
        b0, b1 = padded[starts], padded[starts + 1]
        b2, b3 = padded[starts + 2], padded[starts + 3]
        cp = np.select([lengths == 0, lengths == 1, lengths == 2, lengths == 3],
                       [0, b0, ((b0 & 0x1F) << 6) | (b1 & 0x3F),
                        ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)],
                       ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F))
        return _from_np(cp.astype(np.int32), valid, T.INT32)
    if op == "regexp_count":
        return cast_value(pc.count_substring_regex(s, p[0]), T.INT32)
    if op == "regexp_instr":
        pattern = p[0]
        matched = pc.match_substring_regex(s, pattern)
        prefix = pc.replace_substring_regex(s, f"(?s)^(.*?)(?:{pattern}).*$", "\\1", max_replacements=1)
        return cast_value(pc.if_else(matched, pc.add(pc.utf8_length(prefix), 1), 0), T.INT32)
    raise ExecutionError(f"unknown string operation `{op}`")


@kernel("spark_string_list")
def _string_list(name, args, dtype, n):
    op = _const(args[0])
    s = args[1]
    p = [_const(a) for a in args[2:]]
    if op == "split":
        pattern, limit = p[0], int(p[1]) if len(p) > 1 and p[1] is not None else -1
        if pattern == "":
            # Spark splits into characters: mark the end of each one, then split at the marks
            marked = pc.replace_substring_regex(s, "(?s)(.)", "\\1\x01")
            marked = pc.utf8_slice_codeunits(marked, 0, -1)
            return pc.split_pattern(marked, "\x01", max_splits=limit - 1 if limit > 0 else None)
        if _matches_empty(pattern):
            # Arrow's regex split does not advance past an empty match
            raise UnsupportedError(f"Not supported: split with a pattern that matches the empty string (`{pattern}`)")
        if limit == 1:
            return pc.split_pattern_regex(s, pattern, max_splits=0)
        return pc.split_pattern_regex(s, pattern, max_splits=limit - 1 if limit > 0 else None)
    if op == "regexp_extract_all":
        pattern, idx = p[0], int(p[1]) if len(p) > 1 else 1
        groups = _group_count(pattern)
        if idx < 0 or idx > groups:
            raise DataError(f"regexp_extract_all: the group index {idx} is out of range: the regex `{pattern}` "
                            f"has {groups} group(s)")
        marked = pc.replace_substring_regex(s, f"(?s).*?({pattern})", f"\x01\\{idx + 1}\x01")
        parts = pc.split_pattern(marked, "\x01")
        return pc.list_slice(parts, 1, None, 2)
    raise ExecutionError(f"unknown string operation `{op}`")


@kernel("spark_find_in_set")
def _find_in_set(name, args, dtype, n):
    s, lst = to_array(args[0], n), to_array(args[1], n)
    parts = to_array(pc.split_pattern(lst, ","), n)
    flat = parts.values
    parent = np.asarray(pc.list_parent_indices(parts))
    target = s.take(pa.array(parent, pa.int64())) if len(parent) else pa.array([], T.STRING)
    eq = np.asarray(pc.fill_null(pc.equal(flat, target), False)) if len(parent) else np.zeros(0, bool)
    offsets = np.asarray(parts.offsets)
    out = np.zeros(n, np.int32)
    idx = np.flatnonzero(eq)
    rows = parent[idx]
    out[rows[::-1]] = (idx - offsets[rows] + 1)[::-1]
    has_comma = np.asarray(pc.fill_null(pc.match_substring(s, ","), False))
    out = np.where(has_comma, 0, out)
    valid = np.asarray(pc.and_(s.is_valid(), lst.is_valid()))
    return _from_np(out, None if valid.all() else valid, T.INT32)


@kernel("spark_format_number")
def _format_number(name, args, dtype, n):
    digits = _const(args[1])
    if not isinstance(digits, int):
        raise UnsupportedError("Not supported: format_number with a format pattern (only a number of decimals)")
    x, valid = _np(cast_value(args[0], T.FLOAT64), n, np.float64)
    if digits < 0:
        return pa.nulls(n, T.STRING)
    r = _round_float(x, digits, True)
    neg = np.signbit(r) & (r != 0)
    ax = np.abs(r)
    whole = np.floor(ax)
    frac = np.rint((ax - whole) * 10.0 ** digits)
    carry = frac >= 10.0 ** digits
    whole, frac = whole + carry, np.where(carry, 0, frac)
    text = pa.array(whole.astype(np.int64)).cast(pa.string())
    data, offsets, _ = _bytes_of(text, n)
    lengths = np.diff(offsets)
    commas = np.maximum(lengths - 1, 0) // 3
    row_of = np.repeat(np.arange(n), lengths)
    j = np.arange(len(data)) - offsets[:-1][row_of]
    k = lengths[row_of] - j
    before = commas[row_of] - (k - 1) // 3
    new_len = lengths + commas
    new_off = np.concatenate([[0], np.cumsum(new_len)])
    out = np.full(int(new_off[-1]), ord(","), np.uint8)
    out[new_off[:-1][row_of] + j + before] = data
    grouped = _strings_from(out, new_off, None, pa.string())
    if digits:
        f = pc.utf8_lpad(pa.array(frac.astype(np.int64)).cast(pa.string()), digits, "0")
        grouped = pc.binary_join_element_wise(grouped, f, ".")
    grouped = pc.if_else(pa.array(neg), pc.binary_join_element_wise("-", grouped, ""), grouped)
    if valid is not None:
        grouped = pc.if_else(pa.array(valid), grouped, pa.scalar(None, T.STRING))
    return grouped


@kernel("spark_pad")
def _pad(name, args, dtype, n):
    op, s, width, pad = _const(args[0]), args[1], args[2], args[3]
    if not isinstance(width, pa.Scalar) or not isinstance(pad, pa.Scalar):
        return _pad_columns(op, s, width, pad, n)
    if not width.is_valid or not pad.is_valid:
        return pa.nulls(n, T.STRING)
    w, fill = max(int(width.as_py()), 0), pad.as_py()
    cut = pc.utf8_slice_codeunits(s, 0, w)
    if fill == "":
        return cut
    # pad with a long enough run of the pad text, then cut to the width
    run = fill * (w // len(fill) + 1)
    if op == "lpad":
        # the first (w - length) characters of the run, then the string
        arr = to_array(cut, n)
        need = w - np.asarray(pc.fill_null(pc.utf8_length(arr), 0)).astype(np.int64)
        prefix = _keep_chars(to_array(pa.scalar(run, T.STRING), n), np.maximum(need, 0))
        return pc.binary_join_element_wise(prefix, arr, "")
    padded = pc.binary_join_element_wise(cut, run, "")
    return pc.utf8_slice_codeunits(padded, 0, w)


def _pad_columns(op, s, width, pad, n):
    """``lpad``/``rpad`` with a length or pad per row: each string cut to its length, then as many
    characters of its pad repeated as it lacks (none for an empty pad), before it or after it."""
    s, pad = to_array(s, n), to_array(pad, n)
    w, w_valid = _np(cast_value(width, T.INT64), n, np.int64)
    w = np.maximum(w, 0)
    length = np.asarray(pc.fill_null(pc.utf8_length(s), 0)).astype(np.int64)
    pad_length = np.asarray(pc.fill_null(pc.utf8_length(pad), 0)).astype(np.int64)
    cut = _keep_chars(s, np.minimum(length, w))
    need = np.where(pad_length > 0, np.maximum(w - length, 0), 0)
    times = -(-need // np.maximum(pad_length, 1))                   # ceil(need / pad length) copies
    run = _keep_chars(pc.binary_repeat(pc.fill_null(pad, ""), pa.array(times)), need)
    out = pc.binary_join_element_wise(run, cut, "") if op == "lpad" else pc.binary_join_element_wise(cut, run, "")
    valid = pc.and_(pc.is_valid(s), pc.is_valid(pad))
    if w_valid is not None:
        valid = pc.and_(valid, pa.array(w_valid))
    return pc.if_else(valid, out, pa.scalar(None, T.STRING))


_CHR_TABLE = pa.array([chr(i) for i in range(256)] + [""], pa.string())


@kernel("spark_chr")
def _chr(name, args, dtype, n):
    v, valid = _np(args[0], n, np.int64)
    idx = np.where(v < 0, 256, v % 256)
    out = _CHR_TABLE.take(pa.array(idx))
    if valid is not None:
        out = pc.if_else(pa.array(valid), out, pa.scalar(None, T.STRING))
    return out


_UTF8 = {"utf-8", "utf8"}


@kernel("spark_encode")
def _encode(name, args, dtype, n):
    charset = str(_const(args[1])).lower()
    if charset not in _UTF8:
        raise UnsupportedError(f"Not supported: encode with the charset `{_const(args[1])}` (only UTF-8)")
    return pc.cast(args[0], pa.binary())


@kernel("spark_decode")
def _decode(name, args, dtype, n):
    charset = str(_const(args[1])).lower()
    if charset not in _UTF8:
        raise UnsupportedError(f"Not supported: decode with the charset `{_const(args[1])}` (only UTF-8)")
    try:
        return pc.cast(args[0], pa.string())
    except pa.ArrowInvalid:
        raise DataError("decode: the bytes are not valid UTF-8") from None


@kernel("spark_base64")
def _base64(name, args, dtype, n):
    data, offsets, valid = _bytes_of(args[0], n)
    lengths = np.diff(offsets)
    groups = (lengths + 2) // 3
    padded_len = groups * 3
    starts_in = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(padded_len, out=starts_in[1:])
    buf = np.zeros(int(starts_in[-1]), np.uint8)
    row_of = np.repeat(np.arange(len(lengths)), lengths)
    pos = starts_in[:-1][row_of] + (np.arange(len(data)) - offsets[:-1][row_of])
    buf[pos] = data
    enc = np.frombuffer(_b64.b64encode(buf.tobytes()), dtype=np.uint8).copy()
    out_offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(groups * 4, out=out_offsets[1:])
    # each row's zero padding became 'A's: its last (3 - len % 3) % 3 characters are '='
    pad = (padded_len - lengths)
    ends = out_offsets[1:]
    for k in (1, 2):
        rows = pad >= k
        enc[ends[rows] - k] = ord("=")
    return _strings_from(enc, out_offsets, valid, pa.string())


@kernel("spark_unbase64")
def _unbase64(name, args, dtype, n):
    text = pc.replace_substring_regex(args[0], r"\s", "")
    data, offsets, valid = _bytes_of(text, n)
    lengths = np.diff(offsets)
    # rows without padding get it: each row is then a whole number of 4-character groups
    missing = (-lengths) % 4
    if missing.any():
        text = pc.binary_join_element_wise(text, pa.array(np.array(["", "=", "==", "==="])[missing]), "")
        data, offsets, _ = _bytes_of(text, n)
        lengths = np.diff(offsets)
    row_of = np.repeat(np.arange(len(lengths)), lengths)
    is_pad = data == ord("=")
    pads = np.bincount(row_of[is_pad], minlength=len(lengths)) if len(data) else np.zeros(len(lengths), np.int64)
    clean = np.where(is_pad, ord("A"), data).astype(np.uint8)
    try:
        raw = np.frombuffer(_b64.b64decode(clean.tobytes(), validate=True), dtype=np.uint8)
    except ValueError:
        raise DataError("unbase64: the input is not valid base64") from None
    out_len = lengths // 4 * 3 - pads
    starts = offsets[:-1] // 4 * 3
    keep_row = np.repeat(np.arange(len(lengths)), np.maximum(out_len, 0))
    within = np.arange(len(keep_row)) - np.repeat(np.cumsum(np.maximum(out_len, 0)) - np.maximum(out_len, 0),
                                                  np.maximum(out_len, 0))
    picked = raw[starts[keep_row] + within] if len(keep_row) else np.zeros(0, np.uint8)
    out_offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(np.maximum(out_len, 0), out=out_offsets[1:])
    return _strings_from(picked, out_offsets, valid, pa.binary())


def _flat_codepoints(x, n):
    """The code points of all the strings, one string after another, and how many each string has (a NULL
    has none)."""
    arr = to_array(x, n)
    lengths = np.asarray(pc.fill_null(pc.utf8_length(arr), 0)).astype(np.int64)
    # UTF-32 via Arrow is not available: decode UTF-8 with numpy
    data, offsets, _ = _bytes_of(arr, n)
    lead = (data & 0xC0) != 0x80
    cp_start = np.flatnonzero(lead)
    padded = np.concatenate([data, np.zeros(4, np.uint8)]).astype(np.int32)
    b0, b1, b2, b3 = (padded[cp_start + k] for k in range(4))
    cp = np.select([b0 < 0x80, b0 < 0xE0, b0 < 0xF0],
                   [b0, ((b0 & 0x1F) << 6) | (b1 & 0x3F), ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)],
                   ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F))
    return cp, lengths


def _codepoints(x, n):
    """Strings as a (rows x max length) int32 matrix of code points, and their lengths."""
    cp, lengths = _flat_codepoints(x, n)
    width = int(lengths.max()) if n else 0
    matrix = np.full((n, max(width, 1)), -1, np.int32)
    row = np.repeat(np.arange(n), lengths)
    col = np.arange(len(row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    matrix[row, col] = cp
    return matrix, lengths


@kernel("spark_levenshtein")
def _levenshtein(name, args, dtype, n):
    a, b = to_array(args[0], n), to_array(args[1], n)
    valid = np.asarray(pc.and_(pc.is_valid(a), pc.is_valid(b)))
    ma, la = _codepoints(a, n)
    mb, lb = _codepoints(b, n)
    wa, wb = int(la.max()) if n else 0, int(lb.max()) if n else 0
    # the classic dynamic programme over anti-diagonals (i + j = k): one numpy step per diagonal computes
    # that diagonal's cells for every pair at once. diag[:, i] holds D[i][k - i].
    big = np.int64(1 << 40)
    i_all = np.arange(wa + 1)
    prev2 = np.full((n, wa + 1), big)                   # diagonal k - 2
    prev = np.full((n, wa + 1), big)                    # diagonal k - 1
    prev[:, 0] = 0                                      # k = 0: D[0][0]
    out = np.zeros(n, np.int64)
    out[(la == 0) & (lb == 0)] = 0
    mb_pad = np.concatenate([mb, np.full((n, 1), -2, np.int32)], axis=1)
    for k in range(1, wa + wb + 1):
        cur = np.full((n, wa + 1), big)
        lo_i, hi_i = max(0, k - wb), min(wa, k)
        i = i_all[lo_i:hi_i + 1]
        j = k - i
        inner = (i >= 1) & (j >= 1)
        ii, jj = i[inner], j[inner]
        if len(ii):
            cost = (ma[:, ii - 1] != mb_pad[:, jj - 1]).astype(np.int64)
            cur[:, ii] = np.minimum(np.minimum(prev[:, ii - 1] + 1, prev[:, ii] + 1), prev2[:, ii - 1] + cost)
        if lo_i == 0:
            cur[:, 0] = k                                # D[0][k]
        if hi_i == k:
            cur[:, k] = k                                # D[k][0]
        done = (la + lb) == k
        if done.any():
            rows = np.flatnonzero(done)
            out[rows] = cur[rows, la[rows]]
        prev2, prev = prev, cur
    if len(args) > 2:
        threshold = _const(args[2])
        if threshold is not None:
            out = np.where(out > int(threshold), -1, out)
    return _from_np(out.astype(np.int32), None if valid.all() else valid, T.INT32)


_FORMAT = re.compile(r"%(?:(\d+)\$)?([-#+ 0,(<]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


@kernel("spark_format_string")
def _format_string(name, args, dtype, n):
    fmt = _const(args[0])
    if fmt is None:
        return pa.nulls(n, T.STRING)
    values = args[1:]
    pieces, pos, next_arg = [], 0, 0
    for m in _FORMAT.finditer(fmt):
        pieces.append(fmt[pos:m.start()])
        pos = m.end()
        index, flags, width, precision, conv = m.groups()
        if conv == "%":
            pieces.append("%")
            continue
        if conv == "n":
            pieces.append("\n")
            continue
        i = int(index) - 1 if index else next_arg
        if not index:
            next_arg += 1
        if i >= len(values):
            raise DataError(f"format_string: the format `{fmt}` needs more arguments")
        v = values[i]
        if conv in ("s", "S"):
            text = pc.fill_null(cast_value(v, T.STRING), "null") if not T.is_string(v.type) else \
                pc.fill_null(v, "null")
            if precision:
                text = pc.utf8_slice_codeunits(text, 0, int(precision))
            if conv == "S":
                text = pc.utf8_upper(text)
        elif conv == "d" and (T.is_integer(v.type) or T.is_null(v.type)):
            if flags.replace("-", "").replace("0", ""):
                raise UnsupportedError(f"Not supported: the format flags `{flags}` in format_string")
            text = pc.fill_null(cast_value(v, T.STRING), "null")
            if "0" in flags and width:
                text = pc.utf8_lpad(text, int(width), "0")
                width = None
        elif conv == "f" and (T.is_numeric(v.type) or T.is_null(v.type)):
            if flags.replace("-", ""):
                raise UnsupportedError(f"Not supported: the format flags `{flags}` in format_string")
            digits = 6 if precision is None else int(precision)
            fv, valid = _np(cast_value(v, T.FLOAT64), n, np.float64)
            r = _round_float(fv, digits, False)
            text = _fixed_decimals(r, digits, valid)
            text = pc.fill_null(text, "null")
        else:
            raise UnsupportedError(f"Not supported: the conversion `%{conv}` in format_string")
        if width:
            fn = pc.utf8_rpad if "-" in flags else pc.utf8_lpad
            text = fn(text, int(width), " ")
        pieces.append(text)
    pieces.append(fmt[pos:])
    pieces = [p for p in pieces if not (isinstance(p, str) and p == "")]
    if not pieces:
        return pa.scalar("", T.STRING)
    if len(pieces) == 1:
        return pieces[0] if not isinstance(pieces[0], str) else pa.scalar(pieces[0], T.STRING)
    return pc.binary_join_element_wise(*pieces, "")


def _fixed_decimals(x: np.ndarray, digits: int, valid) -> pa.Array:
    """Each double printed with exactly ``digits`` decimals (the value already rounded to them)."""
    neg = np.signbit(x) & (x != 0)
    ax = np.abs(x)
    whole = np.floor(ax)
    frac = np.rint((ax - whole) * 10.0 ** digits)
    carry = frac >= 10.0 ** digits
    whole = whole + carry
    frac = np.where(carry, 0, frac)
    w = pa.array(whole.astype(np.int64)).cast(pa.string())
    if digits:
        f = pc.utf8_lpad(pa.array(frac.astype(np.int64)).cast(pa.string()), digits, "0")
        text = pc.binary_join_element_wise(w, f, ".")
    else:
        text = w
    text = pc.if_else(pa.array(neg), pc.binary_join_element_wise("-", text, ""), text)
    if valid is not None:
        text = pc.if_else(pa.array(valid), text, pa.scalar(None, T.STRING))
    return text


@kernel("spark_overlay")
def _overlay(name, args, dtype, n):
    s, r = args[0], args[1]
    pos, length = _const(args[2]), _const(args[3])
    head = spark_substring(s, 1, pos - 1)
    if length is None or length < 0:
        # the replacement's own length, row by row: drop that many characters after the head
        skip = np.asarray(pc.fill_null(pc.utf8_length(to_array(r, n)), 0)).astype(np.int64) + max(pos - 1, 0)
        tail = _drop_chars(to_array(s, n), skip)
    else:
        tail = spark_substring(s, pos + length, None)
    return pc.binary_join_element_wise(head, r, tail, "")


def _keep_chars(arr: pa.Array, k: np.ndarray) -> pa.Array:
    """Each string cut to its first ``k[i]`` characters (vectorized over the UTF-8 bytes)."""
    return _drop_chars(arr, k, keep_first=True)


def _drop_chars(arr: pa.Array, k: np.ndarray, keep_first: bool = False) -> pa.Array:
    """Each string without its first ``k[i]`` characters (vectorized over the UTF-8 bytes)."""
    data, offsets, valid = _bytes_of(arr, len(arr))
    n = len(offsets) - 1
    lead = ((data & 0xC0) != 0x80).astype(np.int64)
    row_of = np.repeat(np.arange(n), np.diff(offsets))
    # the character each byte belongs to, counted overall (a continuation byte goes with its lead byte)
    char_of = np.cumsum(lead) - 1
    row_first = np.zeros(n, np.int64)
    nonempty = np.diff(offsets) > 0
    row_first[nonempty] = char_of[offsets[:-1][nonempty]]
    keep = (char_of - row_first[row_of]) >= k[row_of]
    if keep_first:
        keep = ~keep
    kept = np.bincount(row_of[keep], minlength=n) if len(data) else np.zeros(n, np.int64)
    out_offsets = np.zeros(n + 1, np.int64)
    np.cumsum(kept, out=out_offsets[1:])
    return _strings_from(data[keep], out_offsets, valid, pa.string())


@kernel("spark_octet_length")
def _octet_length(name, args, dtype, n):
    return cast_value(pc.binary_length(args[0]), T.INT32)


# ------------------------------------------------------------------ misc


@kernel("spark_rand")
def _rand(name, args, dtype, n):
    from quarry.compute.position import current_position
    from quarry.compute.spark_random import spark_rand, spark_randn
    kind, seed = _const(args[0]), _const(args[1])
    if seed is None:                            # Spark draws a seed when none is given
        seed = int(np.random.default_rng().integers(-2 ** 63, 2 ** 63 - 1))
    seed = (int(seed) + 2 ** 63) % 2 ** 64 - 2 ** 63          # a Java long
    at = current_position()
    if kind == "randn":
        values = spark_randn(seed, at.partition, at.offset, n, at.state)
    else:
        values = spark_rand(seed, at.partition, at.offset, n)
    return pa.array(values, T.FLOAT64)


@kernel("spark_row_id")
def _row_id(name, args, dtype, n):
    from quarry.compute.position import current_position
    at = current_position()
    return pa.array((np.int64(at.partition) << np.int64(33)) + at.offset + np.arange(n, dtype=np.int64), T.INT64)


@kernel("spark_partition_index")
def _partition_index(name, args, dtype, n):
    from quarry.compute.position import current_position
    return pa.array(np.full(n, current_position().partition, np.int32), T.INT32)


_HEXCHARS = np.frombuffer(b"0123456789abcdef", np.uint8)


@kernel("spark_uuid")
def _uuid(name, args, dtype, n):
    raw = np.frombuffer(np.random.default_rng().bytes(16 * n), np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40                 # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80                 # RFC 4122 variant
    hexes = np.empty((n, 32), np.uint8)
    hexes[:, 0::2] = _HEXCHARS[raw >> 4]
    hexes[:, 1::2] = _HEXCHARS[raw & 15]
    dash = np.full((n, 1), ord("-"), np.uint8)
    rows = np.concatenate([hexes[:, :8], dash, hexes[:, 8:12], dash, hexes[:, 12:16], dash, hexes[:, 16:20],
                           dash, hexes[:, 20:]], axis=1)
    return _fixed_rows_to_strings(rows, np.full(n, 36, np.int64), None, right_aligned=False)


@kernel("spark_raise_error")
def _raise_error(name, args, dtype, n):
    if n == 0:
        return pa.nulls(0, T.NULL)
    message = args[0]
    text = message.as_py() if isinstance(message, pa.Scalar) else to_array(message, n)[0].as_py()
    raise ExecutionError(str(text))


@kernel("spark_assert_true")
def _assert_true(name, args, dtype, n):
    cond = to_array(args[0], n)
    bad = pc.invert(pc.fill_null(cond, False))
    if n and pc.any(bad).as_py():
        message = args[1]
        text = message.as_py() if isinstance(message, pa.Scalar) else \
            to_array(message, n).filter(bad)[0].as_py()
        raise ExecutionError(str(text))
    return pa.nulls(n, T.STRING)


@kernel("spark_nanvl")
def _nanvl(name, args, dtype, n):
    a, b = args
    return pc.if_else(pc.fill_null(pc.is_nan(a), False), b, a)


from quarry.compute import spark_hashing  # noqa: E402,F401  (md5, sha*, crc32, hash, xxhash64)


# ------------------------------------------------------------------ JSON


def _json_index(x, n):
    from quarry.compute.json_kernels import JsonIndex
    return JsonIndex(to_array(x, n))


@kernel("spark_json_string")
def _json_string(name, args, dtype, n):
    from quarry.compute.json_kernels import parse_path
    op = _const(args[0])
    index = _json_index(args[1], n)
    if op == "get_json_object":
        lo, hi, valid = index.follow(parse_path(_const(args[2])))
        return index.value(lo, hi, valid)
    if op == "json_tuple":                     # a top-level field, named as written (no path syntax)
        lo, hi, valid = index.follow([_const(args[2])])
        return index.value(lo, hi, valid)
    raise ExecutionError(f"unknown JSON operation `{op}`")


@kernel("spark_json_int")
def _json_int(name, args, dtype, n):
    op = _const(args[0])
    index = _json_index(args[1], n)
    if op == "json_array_length":
        count, ok = index.array_length(index.lo, index.hi, index.valid)
        return _from_np(count.astype(np.int32), None if ok.all() else ok, T.INT32)
    raise ExecutionError(f"unknown JSON operation `{op}`")


@kernel("spark_json_keys")
def _json_keys(name, args, dtype, n):
    index = _json_index(args[0], n)
    return index.object_keys(index.lo, index.hi, index.valid)


def _json_field(index, lo, hi, valid, dtype, n):
    """The values of one from_json field, converted to ``dtype``."""
    from quarry.compute.kernels import _try_cast
    if pa.types.is_struct(dtype):
        first = index.kind(lo, hi, valid)
        ok = valid & (first == 123)
        children = []
        for f in dtype:
            clo, chi, cvalid = index.follow([f.name], lo, hi, ok)
            children.append(_json_field(index, clo, chi, cvalid, f.type, n))
        return pa.StructArray.from_arrays(children, fields=list(dtype), mask=pa.array(~ok))
    if pa.types.is_list(dtype) and not T.is_nested(dtype.value_type):
        rows, e_lo, e_hi, ok = index.elements(lo, hi, valid)
        values = _json_scalar(index, e_lo, e_hi, np.ones(len(e_lo), bool), dtype.value_type, len(e_lo))
        counts = np.bincount(rows, minlength=len(lo)) if len(rows) else np.zeros(len(lo), np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), values, type=dtype, mask=pa.array(~ok))
    if pa.types.is_map(dtype) and T.is_string(dtype.key_type) and not T.is_nested(dtype.item_type):
        from quarry.compute.json_kernels import JsonSpans, unescape
        rows, k_lo, k_hi, v_lo, v_hi, ok = index.members(lo, hi, valid)
        order = np.argsort(rows, kind="stable")
        rows, k_lo, k_hi, v_lo, v_hi = rows[order], k_lo[order], k_hi[order], v_lo[order], v_hi[order]
        keys = unescape(JsonSpans(index, k_lo, k_hi).text())
        items = _json_scalar(index, v_lo, v_hi, np.ones(len(v_lo), bool), dtype.item_type, len(v_lo))
        counts = np.bincount(rows, minlength=len(lo)) if len(rows) else np.zeros(len(lo), np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return pa.MapArray.from_arrays(pa.array(offsets), keys, items, type=dtype, mask=pa.array(~ok))
    if T.is_nested(dtype):
        raise UnsupportedError("Not supported: from_json into nested arrays or maps (arrays and string-keyed "
                               "maps of scalars, and structs, are supported)")
    return _json_scalar(index, lo, hi, valid, dtype, n)


def _json_scalar(index, lo, hi, valid, dtype, n):
    from quarry.compute.kernels import _try_cast
    text = index.value(lo, hi, valid)
    if T.is_string(dtype):
        return text
    if dtype == T.BOOL:
        return pc.if_else(pc.equal(text, "true"), True, pc.if_else(pc.equal(text, "false"), False,
                                                                 pa.scalar(None, T.BOOL)))
    return _try_cast("try_cast", [text], dtype, n)


@kernel("spark_from_json")
def _from_json(name, args, dtype, n):
    index = _json_index(args[0], n)
    return _json_field(index, index.lo, index.hi, index.valid, dtype, n)


@kernel("json_extract")
def _json_extract(name, args, dtype, n):
    from quarry.compute.json_kernels import parse_path
    path = args[1]
    if not isinstance(path, pa.Scalar):
        raise UnsupportedError("Not supported: json_extract with a path that is not a constant")
    index = _json_index(args[0], n)
    lo, hi, valid = index.follow(parse_path(path.as_py()))
    return index.text(lo, hi, valid)


@kernel("json_extract_string")
def _json_extract_string(name, args, dtype, n):
    from quarry.compute.json_kernels import parse_path
    path = args[1]
    if not isinstance(path, pa.Scalar):
        raise UnsupportedError("Not supported: json_extract_string with a path that is not a constant")
    index = _json_index(args[0], n)
    lo, hi, valid = index.follow(parse_path(path.as_py()))
    return index.value(lo, hi, valid)
