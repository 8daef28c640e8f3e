"""How each registered scalar function runs: vectorized over Arrow arrays.

Each kernel takes the evaluated arguments (``pa.Array``/``pa.ChunkedArray`` or
``pa.Scalar``), the call's result type and the number of rows, and returns an
array or scalar of that type. All per-row work is done by Arrow's C++ compute
functions (or numpy for the few things Arrow lacks, such as month arithmetic).

``@kernel("name", ...)`` attaches the function to the definition of that name in
``quarry.logical.functions`` when this module is imported, so a function's
signature, properties and implementation are one object. A kernel for a name
with no definition fails the import. A strict function's kernel (most of them,
see ``Nulls``) never sees a NULL constant or a NULL-typed column: the evaluator
answers NULL first. It still sees arrays that contain NULLs.
"""

from __future__ import annotations

import decimal
import math
import os
import re
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import CastOverflowError, DataError, ExecutionError, InvalidCastError, UnsupportedError
from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.compute.hashing import canonical_key


def kernel(*names):
    """Attach the decorated function as the kernel of each named function definition."""
    def deco(fn):
        for n in names:
            fdef = F.definition(n)
            if fdef is None or fdef.name != n:
                raise RuntimeError(f"kernel for `{n}`, which has no function definition of that name")
            fdef.attach_kernel(fn)
        return fn
    return deco


def _is_scalar(x) -> bool:
    return isinstance(x, pa.Scalar)


def to_array(x, n: int) -> pa.Array:
    """Broadcast a scalar to an array of length n (arrays pass through)."""
    if isinstance(x, pa.Scalar):
        if not x.is_valid:
            return pa.nulls(n, x.type)
        return pa.array([x.as_py()], x.type).take(pa.array(np.zeros(n, dtype=np.int32))) if n else pa.array([], x.type)
    if isinstance(x, pa.ChunkedArray):
        return x.combine_chunks() if x.num_chunks != 1 else x.chunk(0)
    return x


def cast_value(x, dtype: pa.DataType, safe: bool = True):
    """Arrow's cast, except where its answer differs from DuckDB's: DECIMAL and DOUBLE print as
    DuckDB prints them, and DECIMAL to DOUBLE is correctly rounded (Arrow scales by an inexact
    power of ten: 2.01 became 2.0100000000000002; the decimal's text parses to the nearest double)."""
    if x.type == dtype:
        return x
    if T.is_decimal(x.type) and (T.is_string(dtype) or T.is_float(dtype)):
        x = _decimal_text(x)
    elif T.is_float(x.type) and T.is_string(dtype):
        x = _float_text(x)
    elif pa.types.is_interval(x.type) and T.is_string(dtype):
        x = interval_text(x)
    elif T.is_time(x.type) and T.is_string(dtype):
        x = _time_text(x)
    elif pa.types.is_timestamp(x.type) and x.type.tz is None and T.is_string(dtype):
        x = _timestamp_text(x)
    elif T.is_string(x.type) and T.is_time(dtype):
        x, ok = string_to_time(x)
        if not (pc.all(pc.fill_null(ok, True)).as_py() if not _is_scalar(ok) else ok.as_py() is not False):
            raise InvalidCastError("cannot cast a string to TIME: expected [YYYY-MM-DD ]HH:MM[:SS[.ffffff]]",
                                   hint="check the data, or use TRY_CAST to get NULL for bad values")
    if x.type == dtype:
        return x
    try:
        return pc.cast(x, dtype, safe=safe)
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot cast value to {T.sql_name(dtype)}: {exc}",
                        hint="check the data, or use TRY_CAST to get NULL for bad values") from exc
    except pa.ArrowNotImplementedError as exc:
        raise UnsupportedError(f"cast from {T.sql_name(x.type)} to {T.sql_name(dtype)} is not supported") from exc


# ---------------------------------------------------------------- arithmetic

def _fit_decimal(x, precision: int, scale: int):
    """Cast a decimal value to (precision, scale), checking for overflow."""
    target = pa.decimal128(min(max(precision, scale + 1, 1), T.MAX_DECIMAL_PRECISION), scale)
    if x.type == target:
        return x
    try:
        return pc.cast(x, target)
    except pa.ArrowInvalid as exc:
        raise DataError(f"decimal overflow: a value does not fit DECIMAL({target.precision},{scale})",
                        hint="CAST the operands to DOUBLE, or to a DECIMAL with fewer digits") from exc


# Decimal products without a checked cast. Arrow types a * b as DECIMAL(pa + pb + 1) and
# multiplies the 128-bit integers; the DuckDB type we return is DECIMAL(pa + pb) (at most
# 38 digits), so `_decimal_multiply` casts the product down with an overflow check (a
# second pass as long as the multiply), and when pa + pb + 1 > 38 goes through decimal256
# (several times slower still). But |a| < 10**da and |b| < 10**db give
# |a * b| < 10**(da + db): when da + db digits fit the result type, no value can overflow,
# and the product's buffer is relabelled with the result type (no copy, no pass over the
# data). da and db are the operand precisions or, when those are too wide (a product of
# products, as in TPC-H Q1's `price * (1 - discount) * (1 + tax)`), a bound read from the
# high 64-bit words of the values. Anything that might not fit takes the checked path,
# which also raises the overflow errors.
#
# Decimal + and - are left to Arrow: their result type always holds the exact sum, so
# there is no cast to save, and an int64 detour measured no faster (converting to and
# from decimal128 costs as much as Arrow's add). Nor do sums need help: in TPC-H Q1's
# grouping, hashing the keys costs the time, a decimal sum no more than an int64 one.

_LITTLE_ENDIAN = sys.byteorder == "little"


def _relabel_decimal(x, dtype: pa.DataType):
    """``x``'s decimal128 values under type ``dtype`` (same scale), with no copy and no check.

    Only for values known to fit ``dtype``'s precision.
    """
    if isinstance(x, pa.ChunkedArray):
        return pa.chunked_array([_relabel_decimal(c, dtype) for c in x.chunks], dtype)
    return pa.Array.from_buffers(dtype, len(x), x.buffers(), x.null_count, x.offset)


def _value_digits(x) -> int | None:
    """A number of digits every value of decimal128 ``x`` (array or valid scalar) has at most.

    From the high 64-bit word of each value (a negative high word h means v >= h * 2**64, a
    non-negative one v < (h + 1) * 2**64), so it is cheap and may overstate by a digit or two;
    NULL slots count too (their content is arbitrary, which can only make the bound worse).
    None when there is nothing to read.
    """
    if isinstance(x, pa.Scalar):
        if not x.is_valid:
            return None
        with decimal.localcontext() as ctx:
            ctx.prec = 2 * T.MAX_DECIMAL_PRECISION
            return len(str(abs(int(x.as_py().scaleb(x.type.scale)))))
    if not _LITTLE_ENDIAN or not pa.types.is_decimal128(x.type):
        return None
    lowest, highest = 0, -1
    for c in (x.chunks if isinstance(x, pa.ChunkedArray) else [x]):
        if len(c) == 0:
            continue
        if c.buffers()[1] is None:
            return None
        high = np.frombuffer(c.buffers()[1], dtype=np.int64)[2 * c.offset + 1: 2 * (c.offset + len(c)): 2]
        lowest, highest = min(lowest, int(high.min())), max(highest, int(high.max()))
    bound = max(-lowest, highest + 1) << 64       # every |value| <= bound
    return len(str(bound))                          # 10**digits > bound


def _unchecked_multiply(a, b, dtype):
    """Decimal ``a * b`` of type ``dtype`` when it provably cannot overflow, else None."""
    if not (pa.types.is_decimal128(a.type) and pa.types.is_decimal128(b.type) and pa.types.is_decimal128(dtype)):
        return None
    sa, sb = a.type.scale, b.type.scale
    if dtype.scale != sa + sb or isinstance(a, pa.Scalar) and isinstance(b, pa.Scalar):
        return None
    # digits the two operands may have together: the result type's, and one fewer than
    # Arrow's 38 for its own product type DECIMAL(da + db + 1)
    room = min(dtype.precision, T.MAX_DECIMAL_PRECISION - 1)
    da, db = a.type.precision, b.type.precision
    for which in ("a", "b") if da >= db else ("b", "a"):   # the wider one first: often enough
        if da + db <= room:
            break
        if which == "a":
            da = min(da, _value_digits(a) or da)
        else:
            db = min(db, _value_digits(b) or db)
    da, db = max(da, sa, 1), max(db, sb, 1)
    if da + db > room:
        return None
    if da != a.type.precision:
        a = pc.cast(a, pa.decimal128(da, sa)) if isinstance(a, pa.Scalar) else _relabel_decimal(a, pa.decimal128(da, sa))
    if db != b.type.precision:
        b = pc.cast(b, pa.decimal128(db, sb)) if isinstance(b, pa.Scalar) else _relabel_decimal(b, pa.decimal128(db, sb))
    return _relabel_decimal(pc.multiply(a, b), dtype)


@kernel("add", "subtract")
def _add_sub(name, args, dtype, n):
    a, b = args
    if T.is_decimal(dtype):
        p, s = dtype.precision, dtype.scale
        a = _fit_decimal(a, min(p - 1, 37), s) if a.type.scale != s or a.type.precision > p - 1 else a
        b = _fit_decimal(b, min(p - 1, 37), s) if b.type.scale != s or b.type.precision > p - 1 else b
        out = getattr(pc, name)(a, b)
        return cast_value(out, dtype)
    fn = pc.add_checked if name == "add" else pc.subtract_checked
    try:
        return fn(a, b) if not T.is_float(dtype) else getattr(pc, name)(a, b)
    except pa.ArrowInvalid as exc:
        raise DataError(f"integer overflow in `{name}`", hint="CAST the operands to BIGINT or DOUBLE") from exc


@kernel("multiply")
def _multiply(name, args, dtype, n):
    a, b = args
    if T.is_decimal(dtype):
        fast = _unchecked_multiply(a, b, dtype)
        return fast if fast is not None else _decimal_multiply(a, b, dtype)
    if T.is_float(dtype):
        return pc.multiply(a, b)
    try:
        return pc.multiply_checked(a, b)
    except pa.ArrowInvalid as exc:
        raise DataError("integer overflow in `*`", hint="CAST the operands to BIGINT or DOUBLE") from exc


def _decimal_multiply(a, b, dtype):
    """Decimal ``a * b`` with Arrow's decimal kernels (any operands)."""
    pa_, pb = a.type.precision, b.type.precision
    if pa_ + pb + 1 <= T.MAX_DECIMAL_PRECISION:
        return _fit_decimal(pc.multiply(a, b), dtype.precision, dtype.scale)
    # Arrow types a product DECIMAL(pa + pb + 1): multiply in 256 bits (up to 76 digits),
    # then check that the exact product fits the result type
    if pa_ + pb + 1 > 76:
        # two DECIMAL(38, s) operands: give up one integer digit of the one with more of them
        if pa_ - a.type.scale >= pb - b.type.scale:
            a = _fit_decimal(a, pa_ - 1, a.type.scale)
        else:
            b = _fit_decimal(b, pb - 1, b.type.scale)
    wide_a = pc.cast(a, pa.decimal256(a.type.precision, a.type.scale))
    wide_b = pc.cast(b, pa.decimal256(b.type.precision, b.type.scale))
    return _fit_decimal(pc.multiply(wide_a, wide_b), dtype.precision, dtype.scale)


@kernel("divide")
def _divide(name, args, dtype, n):
    a, b = (cast_value(x, T.FLOAT64) for x in args)
    zero = pc.equal(b, 0.0)
    out = pc.divide(a, b)
    # like DuckDB and Spark, x / 0 is NULL rather than an error or infinity
    return pc.if_else(zero, pa.scalar(None, T.FLOAT64), out)


@kernel("int_divide")
def _int_divide(name, args, dtype, n):
    a, b = args
    zero = pc.equal(b, 0)
    safe_b = pc.if_else(zero, pa.scalar(1, b.type), b)
    try:
        out = pc.divide_checked(a, safe_b)      # Arrow's integer division truncates toward zero
    except pa.ArrowInvalid as exc:
        raise DataError("integer overflow in `//`", hint="CAST the operands to DOUBLE") from exc
    return pc.if_else(zero, pa.scalar(None, dtype), out)


@kernel("modulo")
def _modulo(name, args, dtype, n):
    a, b = args
    if T.is_decimal(dtype):
        fa, fb = cast_value(a, T.FLOAT64), cast_value(b, T.FLOAT64)
        out = pc.subtract(fa, pc.multiply(pc.trunc(pc.divide(fa, fb)), fb))
        out = pc.if_else(pc.equal(fb, 0.0), pa.scalar(None, T.FLOAT64), out)
        return cast_value(pc.round(out, dtype.scale), dtype)
    if T.is_float(dtype):
        out = pc.subtract(a, pc.multiply(pc.trunc(pc.divide(a, b)), b))
        return pc.if_else(pc.equal(b, 0), pa.scalar(None, dtype), out)
    zero = pc.equal(b, 0)
    safe_b = pc.if_else(zero, pa.scalar(1, b.type), b)
    # SQL remainder takes the sign of the dividend (truncated division)
    fa, fb = cast_value(a, T.FLOAT64), cast_value(safe_b, T.FLOAT64)
    q = cast_value(pc.trunc(pc.divide(fa, fb)), dtype, safe=False)
    out = pc.subtract(a, pc.multiply(q, safe_b))
    return pc.if_else(zero, pa.scalar(None, dtype), out)


@kernel("negate")
def _negate(name, args, dtype, n):
    (a,) = args
    if pa.types.is_interval(dtype):
        raise UnsupportedError("negating an interval column is not supported")
    return pc.negate_checked(a) if T.is_integer(dtype) else pc.negate(a)


# ---------------------------------------------------------------- comparison and logic

_CMP = {"equal": pc.equal, "not_equal": pc.not_equal, "less": pc.less, "less_equal": pc.less_equal,
        "greater": pc.greater, "greater_equal": pc.greater_equal}


_NUMPY_CMP = {"equal": np.equal, "not_equal": np.not_equal, "less": np.less, "less_equal": np.less_equal,
              "greater": np.greater, "greater_equal": np.greater_equal}
_FLIPPED = {"equal": "equal", "not_equal": "not_equal", "less": "greater", "less_equal": "greater_equal",
            "greater": "less", "greater_equal": "less_equal"}


@kernel(*_CMP)
def _compare(name, args, dtype, n):
    a, b = args
    if pa.types.is_nested(a.type) or pa.types.is_nested(b.type):
        return _compare_nested(name, a, b, n)
    if _is_scalar(a) and not _is_scalar(b):
        fast = _compare_short_decimal(_FLIPPED[name], b, a)
    else:
        fast = _compare_short_decimal(name, a, b)
    if fast is not None:
        return fast
    if pa.types.is_floating(a.type) or pa.types.is_floating(b.type):
        return _compare_floats(name, a, b)
    return _CMP[name](a, b)


def _compare_nested(name, a, b, n):
    """Comparisons of LIST, STRUCT and MAP values as DuckDB makes them: element by element (field by
    field), a NULL element equal to a NULL element (``[1, NULL] = [1, NULL]`` is true) and above every
    value (``[1, 2] < [1, NULL]``), a shorter list before its extensions; NULL only for a NULL value.
    Values of one type compare by their sort keys (``nested_kernels.sort_key``, whose byte order is
    that order). Equality of two different types (the binder casts both sides to one) compares their
    canonical JSON texts (strings quoted and escaped, so distinct values never share a text)."""
    from quarry.compute.nested_kernels import render, sort_key
    if a.type == b.type:
        return _CMP[name](sort_key(a, n), sort_key(b, n))
    if name not in ("equal", "not_equal"):
        raise UnsupportedError(f"comparing {T.sql_name(a.type)} and {T.sql_name(b.type)} values with `{name}`")

    def text(x):
        arr = to_array(x, n)
        return render(arr, json=True)
    return _CMP[name](text(a), text(b))


def _nan_mask(x):
    """``is_nan`` of a float array or scalar (NULL stays NULL); None when ``x`` holds no NaN."""
    if not pa.types.is_floating(x.type):
        return None
    if _is_scalar(x):
        return pc.is_nan(x) if x.is_valid and math.isnan(x.as_py()) else None
    mask = pc.is_nan(x)
    return mask if pc.any(mask).as_py() else None


def _compare_floats(name, a, b):
    """Comparisons as DuckDB makes them: NaN equals NaN and is greater than every other number
    (Arrow's IEEE comparisons say NaN is neither equal to, above nor below anything). Without a NaN
    on either side it is Arrow's comparison."""
    an, bn = _nan_mask(a), _nan_mask(b)
    plain = _CMP[name](a, b)
    if an is None and bn is None:
        return plain
    false = pa.scalar(False)
    an = false if an is None else an
    bn = false if bn is None else bn
    either = pc.or_(an, bn)
    if name in ("equal", "not_equal"):
        nan_case = pc.and_(an, bn)
    elif name == "less":
        nan_case = pc.and_(pc.invert(an), bn)
    elif name == "less_equal":
        nan_case = bn
    elif name == "greater":
        nan_case = pc.and_(an, pc.invert(bn))
    else:
        nan_case = an
    if name == "not_equal":
        nan_case = pc.invert(nan_case)
    # a NULL on either side is NULL, NaN or not (Arrow's comparison already says so)
    use_nan = pc.and_(pc.fill_null(either, False), pc.and_(pc.is_valid(a), pc.is_valid(b)))
    return pc.if_else(use_nan, nan_case, plain)


def _compare_short_decimal(name, column, constant):
    """``column <op> constant`` for a DECIMAL(p <= 18) column without NULLs, compared as the 64-bit
    integers its values are (the low word of each 128-bit value; p <= 18 digits always fit), which
    takes two thirds of the time of Arrow's decimal128 comparison; None where that does not apply."""
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks != 1:
            return None
        column = column.chunk(0)
    if not isinstance(column, pa.Array) or not pa.types.is_decimal128(column.type) \
            or column.type.precision > 18 or column.null_count or sys.byteorder != "little" \
            or not _is_scalar(constant) \
            or not constant.is_valid or not (pa.types.is_decimal(constant.type) or pa.types.is_integer(constant.type)):
        return None
    unscaled = decimal.Decimal(constant.as_py()).scaleb(column.type.scale)
    if unscaled != unscaled.to_integral_value() or abs(unscaled) >= 1 << 63:
        return None
    words = np.frombuffer(column.buffers()[1], dtype=np.int64)[2 * column.offset: 2 * (column.offset + len(column))]
    hit = _NUMPY_CMP[name](words[0::2], np.int64(int(unscaled)))
    return pa.Array.from_buffers(pa.bool_(), len(column), [None, pa.py_buffer(np.packbits(hit, bitorder="little"))])


@kernel("is_distinct_from", "is_not_distinct_from")
def _distinct_from(name, args, dtype, n):
    a, b = args
    if pa.types.is_null(a.type) and pa.types.is_null(b.type):
        a, b = cast_value(a, T.BOOL), cast_value(b, T.BOOL)   # Arrow compares no null-typed values
    eq = _compare("equal", (a, b), dtype, n)
    an, bn = pc.is_null(a), pc.is_null(b)
    same = pc.if_else(pc.or_(an, bn), pc.and_(an, bn), eq)
    return same if name == "is_not_distinct_from" else pc.invert(same)


@kernel("and")
def _and(name, args, dtype, n):
    return pc.and_kleene(*args)


@kernel("or")
def _or(name, args, dtype, n):
    return pc.or_kleene(*args)


@kernel("not")
def _not(name, args, dtype, n):
    return pc.invert(args[0])


@kernel("is_null")
def _is_null(name, args, dtype, n):
    return pc.is_null(args[0], nan_is_null=False)


@kernel("is_not_null")
def _is_not_null(name, args, dtype, n):
    return pc.is_valid(args[0])


@kernel("is_true", "is_false", "is_not_true", "is_not_false")
def _is_bool(name, args, dtype, n):
    a = args[0]
    want = name.endswith("true")
    hit = pc.fill_null(pc.equal(a, pa.scalar(want)), False)
    return pc.invert(hit) if "_not_" in name else hit


@kernel("in_list")
def _in_list(name, args, dtype, n):
    target, items = args[0], args[1:]
    if all(_is_scalar(i) for i in items) and not pa.types.is_nested(target.type):
        values = [i for i in items if i.is_valid]
        has_null = len(values) < len(items)
        value_set = pa.array([v.as_py() for v in values], target.type)
        if _is_scalar(target) and not target.is_valid:
            return pa.scalar(None, pa.bool_())
        if pa.types.is_null(target.type):
            return pa.nulls(n, pa.bool_())
        if pa.types.is_floating(target.type):
            # Arrow's set lookup compares bits: -nan would miss nan, -0.0 miss 0.0
            target_key = canonical_key(target) if not _is_scalar(target) else \
                canonical_key(pa.array([target.as_py()], target.type))[0]
            hit = pc.is_in(target_key, value_set=canonical_key(value_set), skip_nulls=True)
        else:
            hit = pc.is_in(target, value_set=value_set, skip_nulls=True)
        # three-valued: x IN (...) is NULL when x is NULL, or when not found and the list has a NULL
        if has_null:
            hit = pc.if_else(hit, True, pa.scalar(None, pa.bool_()))
        return pc.if_else(pc.is_null(target), pa.scalar(None, pa.bool_()), hit) if not _is_scalar(target) else hit
    out = None
    for item in items:
        eq = _compare("equal", (target, item), dtype, n)
        out = eq if out is None else pc.or_kleene(out, eq)
    return out


def like_to_arrow_pattern(pattern: str, escape: str | None) -> str:
    """SQL LIKE pattern to Arrow's (which treats backslash as its escape)."""
    if escape is None:
        return pattern.replace("\\", "\\\\")
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == escape and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\" + nxt if nxt in "%_\\" else nxt)
            i += 2
            continue
        out.append("\\\\" if ch == "\\" else ch)
        i += 1
    return "".join(out)


@kernel("like", "ilike")
def _like(name, args, dtype, n):
    value, pattern = args[0], args[1]
    escape = args[2].as_py() if len(args) > 2 else None
    if not _is_scalar(pattern):
        raise UnsupportedError("LIKE with a non-constant pattern is not supported")
    if not pattern.is_valid:
        return pa.nulls(n, pa.bool_()) if not _is_scalar(value) else pa.scalar(None, pa.bool_())
    p = like_to_arrow_pattern(pattern.as_py(), escape)
    return pc.match_like(value, p, ignore_case=(name == "ilike"))


@kernel("case")
def _case(name, args, dtype, n):
    conds = [args[i] for i in range(0, len(args) - 1, 2)]
    values = [args[i] for i in range(1, len(args) - 1, 2)]
    default = args[-1]
    if len(conds) == 1:
        c = conds[0]
        c = pc.fill_null(c, False) if not _is_scalar(c) else (c if c.is_valid else pa.scalar(False))
        return pc.if_else(c, values[0], default)
    cond_arrays = [pc.fill_null(to_array(c, n), False) for c in conds]
    struct = pa.StructArray.from_arrays(cond_arrays, names=[f"c{i}" for i in range(len(cond_arrays))])
    vals = [to_array(v, n) for v in values] + [to_array(default, n)]
    return pc.case_when(struct, *vals)


@kernel("coalesce")
def _coalesce(name, args, dtype, n):
    return pc.coalesce(*args) if len(args) > 1 else args[0]


@kernel("nullif")
def _nullif(name, args, dtype, n):
    a, b = args
    eq = pc.fill_null(pc.equal(a, b), False)
    return pc.if_else(eq, pa.scalar(None, dtype), a)


@kernel("greatest", "least")
def _greatest(name, args, dtype, n):
    fn = pc.max_element_wise if name == "greatest" else pc.min_element_wise
    out = fn(*args, skip_nulls=True)
    if not pa.types.is_floating(dtype):
        return out
    # Arrow passes over NaN; DuckDB's NaN is above every number: greatest is NaN when any argument
    # is, least only when every non-NULL argument is
    masks = [m for m in (_nan_mask(a) for a in args) if m is not None]
    if not masks:
        return out
    if name == "greatest":
        hit = masks[0]
        for m in masks[1:]:
            hit = pc.or_kleene(hit, m)
        hit = pc.fill_null(hit, False)
    else:
        # every argument NaN or NULL (and not all NULL): Arrow's minimum is then NaN or NULL already
        return out
    return pc.if_else(hit, pa.scalar(float("nan"), dtype), out)


def _string_to_decimal(text, scale: int, target: pa.DataType | None = None):
    """Parse strings as decimals rounded (half away from zero) to ``scale`` digits.

    Arrow parses a decimal string only when the target scale keeps every digit, so
    ``'1.005'`` fails at scale 2; parse at growing scales, then round.
    """
    last = None
    for wide in sorted({scale, min(scale + 6, 37), min(scale + 18, 37), 37}):
        if wide < scale:
            continue
        try:
            parsed = pc.cast(text, pa.decimal128(38, wide))
        except pa.ArrowInvalid as exc:
            last = exc
            continue
        if wide != scale:
            parsed = pc.cast(pc.round(parsed, scale, round_mode="half_towards_infinity"), pa.decimal128(38, scale))
        return parsed
    what = T.sql_name(target) if target is not None else "DECIMAL"
    raise DataError(f"cannot cast a string to {what}: {last}",
                    hint="check the data, or use TRY_CAST to get NULL for bad values") from last


def _cast_string(a, dtype):
    """CAST of VARCHAR values: surrounding spaces are ignored and numbers round like DuckDB's."""
    trimmed = pc.utf8_trim_whitespace(a)
    if T.is_decimal(dtype):
        return cast_value(_string_to_decimal(trimmed, dtype.scale, dtype), dtype)
    if T.is_integer(dtype):
        try:
            return pc.cast(trimmed, dtype)
        except pa.ArrowInvalid:
            pass
        # '2.5', '+5', '1e2': parse as a number, then round half away from zero like DuckDB
        return cast_value(_string_to_decimal(trimmed, 0, dtype), dtype)
    return cast_value(trimmed, dtype)


def _widen_decimal(a):
    """``a`` with one more digit of precision, so rounding 9.5 up to 10.0 still fits."""
    t = a.type
    if t.precision >= T.MAX_DECIMAL_PRECISION:
        return a
    return pc.cast(a, pa.decimal128(t.precision + 1, t.scale))


def _decimal_text(a):
    """DECIMAL values as DuckDB prints them: every digit of the scale, never an exponent.

    Arrow writes ``0E-10`` for a zero at scale 10; here the unscaled integer is printed
    and the point put in place with string kernels.
    """
    if _is_scalar(a):
        return _decimal_text(pa.array([a.as_py()], a.type))[0]
    scale = a.type.scale
    digits = pc.cast(_relabel_decimal(a, pa.decimal128(38, 0)), pa.string())
    if scale <= 0:
        return digits
    negative = pc.starts_with(digits, "-")
    magnitude = pc.utf8_lpad(pc.utf8_ltrim(digits, characters="-"), scale + 1, padding="0")
    text = pc.binary_join_element_wise(pc.utf8_slice_codeunits(magnitude, 0, -scale),
                                       pc.utf8_slice_codeunits(magnitude, -scale), ".")
    return pc.if_else(negative, pc.binary_join_element_wise("-", text, ""), text)


def string_to_time(text):
    """Strings as TIME values (``T.TIME_PATTERN``), and whether each was one: (times, ok). A string that
    is not a time (or says 25:00) is NULL in ``times`` and False in ``ok``; a NULL string is NULL in both."""
    scalar = _is_scalar(text)
    text = to_array(text, 1) if scalar else text
    matched = pc.fill_null(pc.match_substring_regex(text, T.TIME_PATTERN), False)
    parts = pc.extract_regex(pc.if_else(matched, text, "00:00"), T.TIME_PATTERN)

    def number(key: str, width: int = 0):
        digits = parts.field(key)
        digits = pc.if_else(pc.equal(digits, ""), "0", digits)      # an optional part left out
        return pc.cast(pc.utf8_rpad(digits, width, "0") if width else digits, T.INT64)

    hour, minute, second, fraction = number("h"), number("m"), number("s"), number("f", 6)
    ok = pc.and_(matched, pc.and_(pc.and_(pc.less(hour, 24), pc.less(minute, 60)), pc.less(second, 60)))
    micros = pc.add(pc.multiply(pc.add(pc.multiply(pc.add(pc.multiply(hour, 60), minute), 60), second),
                                1_000_000), fraction)
    times = pc.cast(pc.if_else(ok, micros, pa.scalar(None, T.INT64)), T.TIME)
    ok = pc.if_else(text.is_valid(), ok, pa.scalar(None, T.BOOL))
    return (times[0], ok[0]) if scalar else (times, ok)


def _time_text(x):
    """TIME values as DuckDB prints them: ``12:30:00``, with the fraction only when there is one (``.25``)."""
    text = pc.cast(pc.cast(x, T.TIME), T.STRING)          # HH:MM:SS.ffffff
    return pc.utf8_rtrim(pc.utf8_rtrim(text, "0"), ".")


def _timestamp_text(x):
    """TIMESTAMP values as DuckDB prints them: ``2020-01-01 10:00:00``, the fraction without its trailing
    zeros and only when there is one (``10:00:00.5``)."""
    text = pc.cast(x, T.STRING)                           # YYYY-MM-DD HH:MM:SS[.fraction]
    return pc.replace_substring_regex(text, r"\.0+$|(\.[0-9]*[1-9])0+$", r"\1")


def _float_text(a):
    """DOUBLE / FLOAT values as DuckDB prints them: the shortest text that reads back as the same
    value, laid out as Python's repr (``3.0``, ``1e+16``, ``1.5e-07``), which is what DuckDB writes.

    numpy's float-to-string conversion (C, per array) gives exactly that layout; Arrow's does not
    (``3``, ``1.5e-7``). A FLOAT is printed by its shortest digits, read as a DOUBLE.
    """
    if _is_scalar(a):
        return _float_text(pa.array([a.as_py()], a.type))[0]
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    values = a.to_numpy(zero_copy_only=False)
    if a.type == pa.float32():
        values = values.astype(str).astype(np.float64)
    text = pa.array(values.astype(str), pa.string())
    return pc.if_else(pc.is_valid(a), text, pa.scalar(None, pa.string())) if a.null_count else text


def _float_to_decimal(a, dtype, *, errors: bool):
    """DOUBLE to DECIMAL, rounded half away from zero; a value that does not fit (or NaN, inf)
    is an error, or NULL when ``errors`` is False (TRY_CAST)."""
    a = pc.round(a, dtype.scale, round_mode="half_towards_infinity")
    limit = 10.0 ** (dtype.precision - dtype.scale)
    bad = pc.fill_null(pc.invert(pc.less(pc.abs(a), limit)), False)     # NaN compares false: bad too
    if pc.any(bad).as_py() if not _is_scalar(bad) else bad.as_py():
        if errors:
            raise CastOverflowError(f"could not cast a DOUBLE value to {T.sql_name(dtype)}: it is out of range",
                            hint="use a DECIMAL with more digits, or TRY_CAST to get NULL")
        a = pc.if_else(bad, pa.scalar(None, a.type), a)
    return pc.cast(a, dtype, safe=False)


@kernel("cast")
def _cast(name, args, dtype, n):
    a = args[0]
    if T.is_nested(a.type) or T.is_nested(dtype):
        from quarry.compute.nested_kernels import cast_nested
        return cast_nested(a, dtype, n, lambda x, t: _cast(name, [x], t, len(x)))
    if T.is_integer(a.type) and T.is_float(dtype):
        return cast_value(a, dtype, safe=False)        # a BIGINT past 2**53 rounds, as in DuckDB
    if T.is_float(a.type) and T.is_decimal(dtype):
        return _float_to_decimal(a, dtype, errors=True)
    if T.is_string(a.type) and (T.is_numeric(dtype) or T.is_temporal(dtype)):
        try:
            return _cast_string(a, dtype)
        except (DataError, pa.ArrowInvalid) as exc:
            detail = exc.message if isinstance(exc, DataError) else str(exc)
            raise InvalidCastError(detail if isinstance(exc, DataError) else
                                   f"cannot cast a string to {T.sql_name(dtype)}: {detail}",
                                   hint="check the data, or use TRY_CAST to get NULL for bad values") from exc
    if T.is_string(a.type) and dtype == T.BOOL:
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(a))
        ok = pc.is_in(lowered, value_set=pa.array(["true", "false", "t", "f", "1", "0", "yes", "no"]))
        if not pc.all(pc.fill_null(ok, True)).as_py():
            raise InvalidCastError("cannot cast a string to BOOLEAN", hint="use 'true' or 'false'")
        return pc.is_in(lowered, value_set=pa.array(["true", "t", "1", "yes"]))
    if T.is_integer(a.type) and T.is_decimal(dtype):
        # Arrow wants room for every value of the integer type; go through that decimal, then check
        a = cast_value(a, T.decimal_for_integer(a.type))
        return _fit_decimal(a, dtype.precision, dtype.scale) if dtype.scale == 0 else \
            cast_value(cast_value(a, pa.decimal128(38, dtype.scale)), dtype)
    if T.is_float(a.type) and T.is_integer(dtype):
        a = pc.round(a, round_mode="half_to_even")      # DuckDB rounds DOUBLE -> integer to even
    if T.is_decimal(a.type) and T.is_integer(dtype):
        a = pc.round(_widen_decimal(a), round_mode="half_towards_infinity")
    if T.is_decimal(a.type) and T.is_decimal(dtype) and dtype.scale < a.type.scale:
        a = pc.round(_widen_decimal(a), dtype.scale, round_mode="half_towards_infinity")
    if T.is_numeric(a.type) and T.is_numeric(dtype):
        try:
            return cast_value(a, dtype)
        except DataError as exc:          # a number out of the target's range: front ends name it so
            raise CastOverflowError(exc.message, hint=exc.hint) from exc
    return cast_value(a, dtype)


@kernel("try_cast")
def _try_cast(name, args, dtype, n):
    a = args[0]
    if T.is_nested(a.type) or T.is_nested(dtype):
        from quarry.compute.nested_kernels import cast_nested
        return cast_nested(a, dtype, n, lambda x, t: _try_cast(name, [x], t, len(x)))
    if T.is_float(a.type) and T.is_decimal(dtype):
        return _float_to_decimal(a, dtype, errors=False)
    try:
        return _cast(name, args, dtype, n)
    except (DataError, pa.ArrowInvalid):
        pass
    # some value does not cast: find which, with masks over the whole batch, and NULL only those
    arr = to_array(a, n)
    if T.is_numeric(arr.type) and T.is_numeric(dtype):
        return _try_narrow(arr, dtype)
    if T.is_string(arr.type) and T.is_time(dtype):
        return string_to_time(arr)[0]
    if T.is_string(arr.type) and T.is_numeric(dtype):
        return _try_string_number(pc.utf8_trim_whitespace(arr), dtype)
    if T.is_string(arr.type) and dtype == T.BOOL:
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
        known = pc.is_in(lowered, value_set=pa.array(["true", "false", "t", "f", "1", "0", "yes", "no"]))
        value = pc.is_in(lowered, value_set=pa.array(["true", "t", "1", "yes"]))
        return pc.if_else(known, value, pa.scalar(None, T.BOOL))
    if T.is_string(arr.type) and (pa.types.is_date32(dtype) or pa.types.is_timestamp(dtype)):
        return _try_string_datetime(pc.utf8_trim_whitespace(arr), dtype)
    raise UnsupportedError(f"Not supported: TRY_CAST from {T.sql_name(arr.type)} to {T.sql_name(dtype)} "
                           "of values some of which do not cast", hint="use CAST, or cast through VARCHAR")


_NUMBER_TEXT = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
# the digits of the largest magnitude of each integer type (2**63 has 19)
_INTEGER_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19}


def _try_string_number(text: pa.Array, dtype: pa.DataType) -> pa.Array:
    """TRY_CAST of trimmed strings to a number: NULL for each string that is not a number or whose
    value does not fit ``dtype``, the others as CAST converts them (rounded half away from zero).

    A string without an exponent is read exactly: its integer digits counted (more than the target
    holds is out of range), its fraction cut after the one digit that decides the rounding, so every
    remaining string parses into one wide decimal, which is rounded and checked against the target's
    range. A string with an exponent (rare) is read as a DOUBLE and converted as a DOUBLE is."""
    number = pc.fill_null(pc.match_substring_regex(text, _NUMBER_TEXT), False)
    if T.is_float(dtype):
        as_double = pc.cast(pc.if_else(number, text, pa.scalar(None, text.type)), pa.float64())
        return _try_narrow(as_double, dtype) if dtype != pa.float64() else as_double
    exponent = pc.and_(number, pc.match_substring_regex(text, "[eE]"))
    plain = pc.and_(number, pc.invert(exponent))
    scale = dtype.scale if T.is_decimal(dtype) else 0
    integer_digits = dtype.precision - scale if T.is_decimal(dtype) else _INTEGER_DIGITS[dtype.bit_width]
    # '+007.50' -> '7.50' -> ... ; '.5' -> '0.5'; '5.' -> '5.0'
    digits = pc.replace_substring_regex(text, r"^\+", "")
    digits = pc.replace_substring_regex(digits, r"^(-?)0+(\d)", r"\1\2")
    digits = pc.replace_substring_regex(digits, r"^(-?)\.", r"\10.")
    digits = pc.replace_substring_regex(digits, r"\.$", ".0")
    digits = pc.replace_substring_regex(digits, r"^(-?\d*\.\d{0,%d})\d*$" % (scale + 1), r"\1")
    whole = pc.utf8_length(pc.replace_substring_regex(digits, r"^-?(\d*).*$", r"\1"))
    fits_digits = pc.fill_null(pc.and_(plain, pc.less_equal(whole, integer_digits)), False)
    # room for the digits, one carried by the rounding, and the deciding fraction digit
    precision = integer_digits + 1 + scale + 1
    wide = (pa.decimal128 if precision <= T.MAX_DECIMAL_PRECISION else pa.decimal256)
    parsed = pc.cast(pc.if_else(fits_digits, digits, pa.scalar(None, digits.type)), wide(precision, scale + 1))
    rounded = pc.cast(pc.round(parsed, scale, round_mode="half_towards_infinity"), wide(precision, scale))
    if T.is_decimal(dtype):
        limit = pa.scalar(decimal.Decimal(10) ** integer_digits, rounded.type)
        fits = pc.less(pc.abs(rounded), limit)
    else:
        info = np.iinfo(dtype.to_pandas_dtype())
        fits = pc.and_(pc.greater_equal(rounded, pa.scalar(decimal.Decimal(int(info.min)), rounded.type)),
                       pc.less_equal(rounded, pa.scalar(decimal.Decimal(int(info.max)), rounded.type)))
    exact = pc.cast(pc.if_else(pc.fill_null(fits, False), rounded, pa.scalar(None, rounded.type)), dtype)
    if not pc.any(exponent).as_py():
        return exact
    as_double = pc.cast(pc.if_else(exponent, text, pa.scalar(None, text.type)), pa.float64())
    if T.is_decimal(dtype):
        scientific = _float_to_decimal(as_double, dtype, errors=False)
    else:        # strings round half away from zero (DOUBLEs to even): round first, the rest is exact
        scientific = _try_narrow(pc.round(as_double, round_mode="half_towards_infinity"), dtype)
    return pc.coalesce(exact, scientific)


_DATE_TEXT = r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
_TIME_TEXT = r"(?:[T ](?P<hh>\d{2})(?::(?P<mi>\d{2})(?::(?P<ss>\d{2})(?:\.\d{1,9})?)?)?)?"
_MONTH_DAYS = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())


def _try_string_datetime(text: pa.Array, dtype: pa.DataType) -> pa.Array:
    """TRY_CAST of trimmed strings to DATE or TIMESTAMP: NULL for each string not in the ISO form CAST
    reads (``YYYY-MM-DD``, then for a TIMESTAMP an optional ``[T ]hh[:mm[:ss[.f]]]``) or naming a day or
    time that does not exist (month 13, February 30th outside leap years, hour 24)."""
    timestamp = pa.types.is_timestamp(dtype)
    parts = pc.extract_regex(text, _DATE_TEXT + (_TIME_TEXT if timestamp else "") + "$")
    names = ["y", "m", "d", "hh", "mi", "ss"] if timestamp else ["y", "m", "d"]
    field = {}
    for i, f in enumerate(names):
        digits = pc.struct_field(parts, [i])             # '' where an optional time field is absent
        field[f] = pc.cast(pc.if_else(pc.equal(digits, ""), pa.scalar(None, digits.type), digits), pa.int64())
    year, month, day = field["y"], field["m"], field["d"]
    leap = pc.and_(pc.equal(pc.bit_wise_and(year, 3), 0),
                   pc.or_(pc.not_equal(pc.remainder(year, 100), 0), pc.equal(pc.remainder(year, 400), 0)))
    ok = pc.and_(pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12)), pc.greater_equal(day, 1))
    month_days = pc.take(_MONTH_DAYS, pc.if_else(ok, month, 0))
    month_days = pc.add(month_days, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int64()))
    ok = pc.and_(ok, pc.less_equal(day, month_days))
    if timestamp:
        for f, top in (("hh", 23), ("mi", 59), ("ss", 59)):
            ok = pc.and_(ok, pc.fill_null(pc.less_equal(field[f], top), True))
    ok = pc.fill_null(ok, False)
    return cast_value(pc.if_else(ok, text, pa.scalar(None, text.type)), dtype)


def _try_narrow(arr: pa.Array, dtype: pa.DataType) -> pa.Array:
    """TRY_CAST of numbers some of which do not fit ``dtype``: NULL for those only. A value fits when it
    survives the round trip: rounded as CAST rounds, cast without checks, and cast back unchanged
    (300 as TINYINT wraps to 44, 1e20 as INTEGER to garbage, NaN to anything: none comes back equal)."""
    source = arr
    if T.is_float(arr.type) and T.is_integer(dtype):
        source = pc.round(arr, round_mode="half_to_even")
    elif T.is_decimal(arr.type) and T.is_integer(dtype):
        source = pc.round(_widen_decimal(arr), round_mode="half_towards_infinity")
    elif T.is_decimal(arr.type) and T.is_decimal(dtype) and dtype.scale < arr.type.scale:
        source = pc.round(_widen_decimal(arr), dtype.scale, round_mode="half_towards_infinity")
    try:
        unchecked = pc.cast(source, dtype, safe=False)
        back = pc.cast(unchecked, source.type, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(arr), dtype)
    fits = pc.equal(back, source)
    if T.is_decimal(dtype):
        # an unchecked decimal cast keeps digits past the precision (1000.0 as DECIMAL(3,1)): bound it
        limit = 10.0 ** (dtype.precision - dtype.scale)
        fits = pc.and_(fits, pc.less(pc.abs(pc.cast(source, pa.float64(), safe=False)), limit))
    fits = pc.fill_null(fits, False)
    # cast again from only the values that fit, so no out-of-range value hides under a NULL
    return pc.cast(pc.if_else(fits, source, pa.scalar(None, source.type)), dtype, safe=False)


# ---------------------------------------------------------------- strings

@kernel("upper")
def _upper(name, args, dtype, n):
    return pc.utf8_upper(args[0])


@kernel("lower")
def _lower(name, args, dtype, n):
    return pc.utf8_lower(args[0])


@kernel("trim", "ltrim", "rtrim")
def _trim(name, args, dtype, n):
    fn = {"trim": "utf8_trim", "ltrim": "utf8_ltrim", "rtrim": "utf8_rtrim"}[name]
    if len(args) == 1:
        return getattr(pc, fn)(args[0], characters=" ")
    chars = args[1]
    if not _is_scalar(chars):
        raise UnsupportedError(f"{name}() with non-constant characters is not supported")
    return getattr(pc, fn)(args[0], characters=chars.as_py() or "")


@kernel("length")
def _length(name, args, dtype, n):
    return cast_value(pc.utf8_length(args[0]), T.INT64)


@kernel("length_grapheme")
def _length_grapheme(name, args, dtype, n):
    """The grapheme clusters of each string, as DuckDB counts them: a string of ASCII alone counts its bytes
    (so CR LF is two there), any other is segmented by Unicode's rules (quarry/compute/graphemes.py)."""
    from quarry.compute.graphemes import cluster_counts
    from quarry.compute.spark_kernels import _flat_codepoints
    scalar = _is_scalar(args[0])
    rows = 1 if scalar else n
    arr = to_array(args[0], rows)
    codepoints, lengths = _flat_codepoints(arr, rows)
    counts = cluster_counts(codepoints, lengths)
    ascii_only = np.asarray(pc.fill_null(pc.string_is_ascii(arr), False), bool)
    counts = np.where(ascii_only, np.asarray(pc.fill_null(pc.binary_length(arr), 0), np.int64), counts)
    out = pa.array(counts, pa.int64(), mask=np.asarray(pc.is_null(arr), bool) if arr.null_count else None)
    return out[0] if scalar else out


@kernel("reverse")
def _reverse(name, args, dtype, n):
    return pc.utf8_reverse(args[0])


@kernel("replace")
def _replace(name, args, dtype, n):
    s, old, new = args
    if not (_is_scalar(old) and _is_scalar(new)):
        raise UnsupportedError("replace() with non-constant patterns is not supported")
    if not old.is_valid or not new.is_valid:
        return pa.nulls(n, T.STRING)
    if old.as_py() == "":
        return s
    return pc.replace_substring(s, old.as_py(), new.as_py())


def _slice_bounds(start: int, length: int | None) -> tuple[int, int | None]:
    """SQL substring(start, length) as Arrow slice bounds (``end`` None = to the end), DuckDB's rules.

    Positions are 1-based; a negative start counts from the end; start 0 is just before the
    first character; a negative length takes the characters *before* start.

    >>> _slice_bounds(2, 3), _slice_bounds(-3, None), _slice_bounds(4, -2)
    ((1, 4), (-3, None), (1, 3))
    """
    if length is None:
        return (start - 1 if start > 0 else min(start, 0)), None
    if length >= 0:
        if start > 0:
            return start - 1, start - 1 + length
        if start == 0:
            return 0, max(length - 1, 0)
        end = start + length
        return start, (end if end < 0 else None)
    if start > 0:
        return max(start - 1 + length, 0), start - 1
    if start == 0:
        return 0, 0
    return start + length, start


# DuckDB's range for a substring position or length; positions beyond it are refused, not clamped
_SUBSTRING_RANGE = (-(2 ** 32), 2 ** 32 - 1)
# any string is shorter than this, so a longer count means "all of it" (and stays inside int64)
_NO_STRING_IS_LONGER = 2 ** 62


def _in_substring_range(value: int, fname: str, what: str) -> int:
    low, high = _SUBSTRING_RANGE
    if not low <= value <= high:
        raise DataError(f"{fname}() {what} {value} is outside the supported range [{low}, {high}]")
    return value


def _clamp_count(value: int) -> int:
    """An integer argument counting characters, clamped to what a string can hold (no int64 overflow)."""
    return max(-_NO_STRING_IS_LONGER, min(_NO_STRING_IS_LONGER, value))


@kernel("substring")
def _substring(name, args, dtype, n):
    s = args[0]
    start = args[1]
    length = args[2] if len(args) > 2 else None
    if _is_scalar(start) and (length is None or _is_scalar(length)):
        first = _in_substring_range(start.as_py(), "substring", "offset")
        count = _in_substring_range(length.as_py(), "substring", "length") if length is not None else None
        begin, end = _slice_bounds(first, count)
        if end is None:
            return pc.utf8_slice_codeunits(s, begin)
        return pc.utf8_slice_codeunits(s, begin, end)
    raise UnsupportedError("substring() with non-constant positions is not supported",
                           hint="use constant start and length")


@kernel("left")
def _left(name, args, dtype, n):
    s, k = args
    if not _is_scalar(k):
        raise UnsupportedError("left() with a non-constant length is not supported")
    return pc.utf8_slice_codeunits(s, 0, _clamp_count(k.as_py()))


@kernel("right")
def _right(name, args, dtype, n):
    s, k = args
    if not _is_scalar(k):
        raise UnsupportedError("right() with a non-constant length is not supported")
    kk = _clamp_count(k.as_py())
    if kk == 0:
        return pc.utf8_slice_codeunits(s, 0, 0)
    # the last k characters; right(s, -k) is s without its first k characters
    return pc.utf8_slice_codeunits(s, -kk)


# lpad/rpad widths are DuckDB's INTEGER
_PAD_WIDTH_MAX = 2 ** 31 - 1


@kernel("lpad", "rpad")
def _pad(name, args, dtype, n):
    s, width = args[0], args[1]
    fill = args[2].as_py() if len(args) > 2 else " "
    if not _is_scalar(width) or (len(args) > 2 and not _is_scalar(args[2])):
        raise UnsupportedError(f"{name}() with a non-constant width or fill is not supported")
    if abs(width.as_py()) > _PAD_WIDTH_MAX:
        raise DataError(f"{name}() width {width.as_py()} is outside the supported range",
                        hint=f"the width is an INTEGER, at most {_PAD_WIDTH_MAX}")
    w = max(width.as_py(), 0)
    truncated = pc.utf8_slice_codeunits(s, 0, w)       # longer strings are cut to the width
    missing = pc.subtract(pa.scalar(w, pa.int64()), cast_value(pc.utf8_length(truncated), T.INT64))
    if not fill:
        if pc.any(pc.greater(missing, 0)).as_py():
            raise DataError(f"{name}() needs padding but the fill string is empty")
        return truncated
    # one padding string per distinct missing length (a loop over the distinct lengths, never
    # over the rows), taken per row by index
    if _is_scalar(missing):
        k = missing.as_py()
        padding = pa.scalar(None if k is None else (fill * (k // len(fill) + 1))[:k], pa.string())
    else:
        lengths = pc.unique(missing).drop_null()
        pads = pa.array([(fill * (k // len(fill) + 1))[:k] for k in lengths.to_pylist()], pa.string())
        padding = pads.take(pc.index_in(missing, lengths))
    parts = (padding, truncated) if name == "lpad" else (truncated, padding)
    return pc.binary_join_element_wise(*parts, "")


@kernel("repeat")
def _repeat(name, args, dtype, n):
    # a negative count repeats nothing (DuckDB); Arrow refuses it
    count = args[1]
    if _is_scalar(count):
        count = pa.scalar(max(count.as_py(), 0), count.type) if count.is_valid else count
    else:
        count = pc.if_else(pc.less(count, 0), pa.scalar(0, count.type), count)
    try:
        return pc.binary_repeat(args[0], count)
    except (pa.ArrowCapacityError, pa.ArrowInvalid, MemoryError) as exc:
        raise DataError("repeat() result is too large", hint="a string holds at most 2 GB") from exc


@kernel("starts_with")
def _starts(name, args, dtype, n):
    if not _is_scalar(args[1]):
        raise UnsupportedError("starts_with() with a non-constant prefix is not supported")
    return pc.starts_with(args[0], args[1].as_py())


@kernel("ends_with")
def _ends(name, args, dtype, n):
    if not _is_scalar(args[1]):
        raise UnsupportedError("ends_with() with a non-constant suffix is not supported")
    return pc.ends_with(args[0], args[1].as_py())


@kernel("contains")
def _contains(name, args, dtype, n):
    if not _is_scalar(args[1]):
        raise UnsupportedError("contains() with a non-constant needle is not supported")
    return pc.match_substring(args[0], args[1].as_py())


@kernel("strpos")
def _strpos(name, args, dtype, n):
    if not _is_scalar(args[1]):
        raise UnsupportedError("strpos() with a non-constant needle is not supported")
    needle = args[1].as_py()
    if needle == "":
        return cast_value(pc.if_else(pc.is_valid(args[0]), pa.scalar(1, T.INT64), pa.scalar(None, T.INT64)),
                          T.INT64)
    # Arrow's find_substring counts bytes; SQL counts characters: measure the text before the match
    found = pc.extract_regex(args[0], "(?s)^(?P<before>.*?)" + _re2_escape(needle))
    before = pc.struct_field(found, "before")
    position = pc.add(cast_value(pc.utf8_length(before), T.INT64), pa.scalar(1, T.INT64))
    return pc.if_else(pc.is_valid(args[0]), pc.fill_null(position, 0), pa.scalar(None, T.INT64))


def _re2_escape(text: str) -> str:
    """``text`` as an RE2 pattern matching it literally."""
    return "".join("\\" + ch if not (ch.isalnum() or ch == "_" or ord(ch) > 127) else ch for ch in text)


@kernel("split_part")
def _split_part(name, args, dtype, n):
    s, sep, idx = args
    if not (_is_scalar(sep) and _is_scalar(idx)):
        raise UnsupportedError("split_part() with non-constant arguments is not supported")
    i, separator = idx.as_py(), sep.as_py()
    if i == 0:
        return pc.if_else(pc.is_valid(s), pa.scalar("", T.STRING), pa.scalar(None, T.STRING))
    if separator == "":
        # an empty separator splits into characters (DuckDB)
        return pc.utf8_slice_codeunits(s, i - 1, i) if i > 0 else \
            (pc.utf8_slice_codeunits(s, i, i + 1) if i < -1 else pc.utf8_slice_codeunits(s, -1))
    if i < 0:
        # count from the end: split the reversed text by the reversed separator
        rev = _split_part(name, [pc.utf8_reverse(s), pa.scalar(separator[::-1]), pa.scalar(-i, pa.int64())],
                          dtype, n)
        return pc.utf8_reverse(rev)
    parts = pc.split_pattern(s, separator)
    lengths = pc.list_value_length(parts)
    ok = pc.greater_equal(lengths, i)
    safe = pc.if_else(ok, parts, pa.scalar([""] * i, parts.type))
    return pc.if_else(ok, pc.list_element(safe, i - 1), "")


def _regex_flags(args, position: int) -> str:
    """The option letters of a regexp function (``'i'``, ``'g'``, ...) from argument ``position``."""
    if len(args) <= position:
        return ""
    if not _is_scalar(args[position]):
        raise UnsupportedError("regexp options must be a constant string")
    return args[position].as_py() or ""


def _with_flags(pattern: str, flags: str) -> str:
    inline = "".join(f for f in flags if f in "ims")
    return f"(?{inline}){pattern}" if inline else pattern


@kernel("regexp_matches")
def _regexp_matches(name, args, dtype, n):
    if not _is_scalar(args[1]):
        raise UnsupportedError("regexp_matches() with a non-constant pattern is not supported")
    return pc.match_substring_regex(args[0], _with_flags(args[1].as_py(), _regex_flags(args, 2)))


@kernel("regexp_replace")
def _regexp_replace(name, args, dtype, n):
    if not (_is_scalar(args[1]) and _is_scalar(args[2])):
        raise UnsupportedError("regexp_replace() with a non-constant pattern is not supported")
    flags = _regex_flags(args, 3)
    repl = re.sub(r"\\(\d)", r"\\\1", args[2].as_py())
    return pc.replace_substring_regex(args[0], _with_flags(args[1].as_py(), flags), repl,
                                      max_replacements=None if "g" in flags else 1)


def regex_groups(pattern: str) -> tuple[int, set[int]]:
    """The number of capturing groups of an RE2 ``pattern``, and those that may take no part in a match.

    A group may be left out when it, or a group around it, is followed by a quantifier that allows zero
    repetitions, or when an alternation (``|``) sits in a group around it (or at the top level).

    >>> regex_groups("([a-z])(\\d+)?")
    (2, {2})
    """
    count, optional = 0, set()
    # one frame per open parenthesis: (its group number or None, the groups opened inside it)
    frames: list[tuple[int | None, list[int]]] = [(None, [])]
    alternated: list[bool] = [False]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            rest = pattern[i + 1:]
            named = rest.startswith(("?P<", "?<")) and not rest.startswith(("?<=", "?<!"))
            capturing = not rest.startswith("?") or named
            group = None
            if capturing:
                count += 1
                group = count
                for frame in frames:
                    frame[1].append(group)
            frames.append((group, []))
            alternated.append(False)
        elif c == ")" and len(frames) > 1:
            group, inside = frames.pop()
            if alternated.pop():
                optional.update(inside)
            if pattern[i + 1:i + 2] in ("?", "*") or re.match(r"\{0+(,\d*)?\}", pattern[i + 1:]):
                optional.update(inside + ([group] if group else []))
        elif c == "|":
            alternated[-1] = True
        i += 1
    if alternated[0]:
        optional.update(frames[0][1])
    return count, optional


@kernel("regexp_extract_all")
def _regexp_extract_all(name, args, dtype, n):
    """Every non-overlapping match of a constant pattern, or its ``group``, as a VARCHAR[].

    One regex replacement per batch turns each match into its group between two U+0001 marks (the
    text between matches is consumed by a lazy prefix), and a split at the marks keeps every second
    piece: ``'a1b22'`` with ``\\d+`` becomes ``'\x011\x01\x0122\x01'``, then ``['1', '22']``.
    """
    if not all(_is_scalar(a) for a in args[1:]):
        raise UnsupportedError("regexp_extract_all() with a non-constant pattern, group or options",
                               hint="write the pattern as a string literal")
    pattern = args[1].as_py()
    group = args[2].as_py() if len(args) > 2 else 0
    flags = _regex_flags(args, 3)
    unknown = set(flags) - set("cims")
    if unknown:
        raise UnsupportedError(f"regexp_extract_all() option `{sorted(unknown)[0]}`",
                               hint="the options quarry takes are 'i' (ignore case), 'c', 'm' and 's'")
    count, optional = regex_groups(pattern)
    if group < 0 or group > count:
        raise DataError(f"regexp_extract_all(): the pattern `{pattern}` has {count} group(s), "
                        f"there is no group {group}",
                        hint="group 0 is the whole match, 1 the first parenthesized group")
    if group in optional:
        # Arrow's replacement writes '' for a group that took no part; DuckDB gives NULL there
        raise UnsupportedError(f"regexp_extract_all() of group {group} of `{pattern}`, which may "
                               "take no part in a match", hint="extract a group that every match contains")
    inline = "".join(f for f in flags if f in "ims")
    inner = f"(?{inline}:{pattern})" if inline else pattern
    if pc.match_substring_regex(pa.scalar(""), f"^(?:{inner})$").as_py():
        # after a non-empty match, DuckDB also finds an empty one where it ends; Arrow's replacement does not
        raise UnsupportedError(f"regexp_extract_all() with a pattern that matches the empty string (`{pattern}`)",
                               hint="make the pattern match at least one character, e.g. x+ for x*")
    s = args[0]
    if _is_scalar(s):
        s = to_array(s, 1)
    if pc.any(pc.match_substring(s, "\x01")).as_py():
        raise UnsupportedError("regexp_extract_all() of a string holding the character U+0001")
    marked = pc.replace_substring_regex(s, f"(?s:.*?)({inner})", f"\x01\\{group + 1}\x01")
    out = pc.list_slice(pc.split_pattern(marked, "\x01"), 1, None, 2)
    return out[0] if _is_scalar(args[0]) else out


def _first_group(s, inner: str, group: int):
    """Group ``group`` (0: the whole match) of the first match of ``inner`` in each string; '' where
    nothing matches or the group took no part (DuckDB's regexp_extract). One regex replacement: a lazy
    prefix, the pattern, the rest of the string, replaced by the group."""
    wrapped = f"({inner})" if group == 0 else f"(?:{inner})"
    got = pc.replace_substring_regex(s, f"^(?s:.*?){wrapped}(?s:.*)$", f"\\{max(group, 1)}", max_replacements=1)
    return pc.if_else(pc.match_substring_regex(s, inner), got, pa.scalar("", pa.string()))


@kernel("regexp_extract")
def _regexp_extract(name, args, dtype, n):
    if not all(_is_scalar(a) for a in args[1:]):
        raise UnsupportedError("regexp_extract() with a non-constant pattern or options",
                               hint="write the pattern as a string literal")
    pattern = args[1].as_py()
    flags = _regex_flags(args, 3)
    unknown = set(flags) - set("cims")
    if unknown:
        raise UnsupportedError(f"regexp_extract() option `{sorted(unknown)[0]}`",
                               hint="the options quarry takes are 'i' (ignore case), 'c', 'm' and 's'")
    inline = "".join(f for f in flags if f in "ims")
    inner = f"(?{inline}:{pattern})" if inline else pattern
    try:
        pc.match_substring_regex(pa.scalar(""), inner)
    except pa.ArrowInvalid as exc:
        raise DataError(f"regexp_extract(): the pattern `{pattern}` is not a valid regular expression "
                        f"({str(exc).split(': ', 1)[-1]})", hint="patterns use RE2 syntax") from None
    s = to_array(args[0], 1) if _is_scalar(args[0]) else args[0]
    count, _ = regex_groups(pattern)
    if pa.types.is_struct(dtype):
        if count < dtype.num_fields:
            raise DataError(f"regexp_extract(): the pattern `{pattern}` has {count} group(s), too few for "
                            f"{dtype.num_fields} names", hint="give as many names as the pattern has groups, or fewer")
        fields = [_first_group(s, inner, j + 1) for j in range(dtype.num_fields)]
        fields = [f.combine_chunks() if isinstance(f, pa.ChunkedArray) else f for f in fields]
        out = pa.StructArray.from_arrays(fields, fields=list(dtype), mask=pc.is_null(s))
    else:
        group = args[2].as_py()
        if group is not None and not 0 <= group <= 9:
            raise DataError(f"regexp_extract(): the group index must be between 0 and 9, not {group}",
                            hint="group 0 is the whole match, 1 the first parenthesized group")
        if group is None or group > count:
            out = pc.if_else(pc.is_valid(s), pa.scalar("", pa.string()), pa.scalar(None, pa.string()))
        else:
            out = _first_group(s, inner, group)
    return out[0] if _is_scalar(args[0]) else out


@kernel("concat_ws")
def _concat_ws(name, args, dtype, n):
    """The non-NULL parts of each row, joined by its separator: the parts become one list per row (NULLs
    dropped), which Arrow's binary_join joins (its element-wise join with null_handling='skip' loses
    trailing rows whose parts are all NULL)."""
    sep, parts = args[0], args[1:]
    scalar = all(_is_scalar(a) for a in args)
    rows = 1 if scalar else n
    arrays = [to_array(a, rows).cast(pa.string()) for a in parts]
    k = len(arrays)
    stacked = pa.concat_arrays(arrays)
    order = (np.arange(k, dtype=np.int64)[None, :] * rows + np.arange(rows, dtype=np.int64)[:, None]).ravel()
    flat = stacked.take(pa.array(order))
    valid = np.asarray(flat.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    counts = valid.reshape(rows, k).sum(axis=1) if rows else np.zeros(0, np.int64)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), flat.filter(pa.array(valid)))
    out = pc.binary_join(lists, sep if _is_scalar(sep) else to_array(sep, rows))
    return out[0] if scalar else out


def _utf8_of_code_points(cp: np.ndarray, valid) -> pa.Array:
    """Each code point (checked: 0 .. 0x10FFFF, no surrogates) as a one-character string."""
    from quarry.compute.spark_kernels import _fixed_rows_to_strings
    bad = ((cp < 0) | (cp > 0x10FFFF) | ((cp >= 0xD800) & (cp <= 0xDFFF)))
    if valid is not None:
        bad &= valid
    if bad.any():
        raise DataError(f"chr(): {int(cp[bad][0])} is not a Unicode code point",
                        hint="give a code point from 0 to 1114111 (0x10FFFF), outside the surrogates")
    cp = cp.astype(np.int64)
    lengths = np.select([cp < 0x80, cp < 0x800, cp < 0x10000], [1, 2, 3], 4)
    cont = lambda shift: 0x80 | ((cp >> shift) & 0x3F)
    rows = np.zeros((len(cp), 4), np.int64)
    rows[:, 0] = np.select([lengths == 1, lengths == 2, lengths == 3],
                           [cp, 0xC0 | (cp >> 6), 0xE0 | (cp >> 12)], 0xF0 | (cp >> 18))
    rows[:, 1] = np.select([lengths == 2, lengths == 3], [cont(0), cont(6)], cont(12))
    rows[:, 2] = np.where(lengths == 3, cont(0), cont(6))
    rows[:, 3] = cont(0)
    return _fixed_rows_to_strings(rows.astype(np.uint8), lengths, valid, right_aligned=False)


@kernel("chr")
def _chr(name, args, dtype, n):
    x = args[0]
    arr = to_array(x, 1) if _is_scalar(x) else to_array(x, n)
    valid = None if arr.null_count == 0 else np.asarray(arr.is_valid().to_numpy(zero_copy_only=False))
    cp = np.asarray(pc.fill_null(arr, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    out = _utf8_of_code_points(cp, valid)
    return out[0] if _is_scalar(x) else out


@kernel("concat")
def _concat(name, args, dtype, n):
    parts = [pc.fill_null(a, "") if not _is_scalar(a) else (a if a.is_valid else pa.scalar("")) for a in args]
    return pc.binary_join_element_wise(*parts, "")


@kernel("concat_op")
def _concat_op(name, args, dtype, n):
    return pc.binary_join_element_wise(*args, "")


# ---------------------------------------------------------------- math

@kernel("abs")
def _abs(name, args, dtype, n):
    return pc.abs(args[0])


@kernel("isnan", "isinf", "isfinite")
def _float_class(name, args, dtype, n):
    x = args[0]
    if name == "isnan":
        return pc.is_nan(x)
    return pc.is_inf(x) if name == "isinf" else pc.is_finite(x)


@kernel("sign")
def _sign(name, args, dtype, n):
    return cast_value(pc.sign(args[0]), dtype, safe=False)       # -1.0, 0.0 and 1.0 are exact in TINYINT


def _two_product_error(x: np.ndarray, p: float) -> np.ndarray:
    """The rounding error of the double product ``x * p``: ``x * p == fl(x * p) + error`` exactly
    (Dekker's TwoProduct with Veltkamp splitting, so no fused multiply-add is needed)."""
    split = 134217729.0        # 2**27 + 1
    def halves(v):
        c = split * v
        high = c - (c - v)
        return high, v - high
    xh, xl = halves(x)
    ph, pl = halves(np.float64(p))
    y = x * p
    return ((xh * ph - y) + xh * pl + xl * ph) + xl * pl


def _round_double(x, digits: int):
    """Round doubles half away from zero at ``digits`` decimals, deciding by the double's exact
    binary value (0.95 is 0.94999999999999995559..., so it rounds to 0.9, as in DuckDB).

    ``x * 10**digits`` is rounded by the multiplication itself; only a product that lands
    exactly on a half can be on the wrong side, and the product's exact error
    (:func:`_two_product_error`) says which side the true value is on. The rounded integer
    over ``10**digits`` is then correctly rounded, both being exact doubles.
    """
    if isinstance(x, pa.ChunkedArray):
        x = x.combine_chunks()
    if digits < 0 or digits > 22:
        # 10**digits is not an exact double; Arrow's rounding is close enough there, and past
        # 17 significant digits rounding changes nothing a double holds
        if digits > 300:
            return x
        return pc.round(x, digits, round_mode="half_towards_infinity")
    values = x.to_numpy(zero_copy_only=False).astype(np.float64)
    p = 10.0 ** digits
    with np.errstate(all="ignore"):
        y = values * p
        whole = np.trunc(y)
        frac = y - whole
        away = np.abs(frac) >= 0.5
        tie = np.abs(frac) == 0.5
        error = _two_product_error(values, p)
        below = np.sign(error) == -np.sign(y)          # the true product is nearer zero than y
        rounded = np.where(away & ~(tie & below), whole + np.sign(y), whole)     # keeps -0.0
        out = rounded / p
        # huge values (no digits after the point), NaN and inf stay as they are
        keep = ~np.isfinite(y) | (np.abs(y) >= 2.0 ** 52)
        out = np.where(keep, values, out)
    mask = pc.is_null(x).to_numpy(zero_copy_only=False) if x.null_count else None
    return pa.array(out, x.type if x.type == pa.float64() else pa.float64(), mask=mask)


@kernel("round")
def _round(name, args, dtype, n):
    x, digits = args
    d = digits.as_py()
    if T.is_float(x.type):
        out = _round_double(x, d) if not _is_scalar(x) else \
            _round_double(pa.array([x.as_py()], x.type), d)[0]
    else:
        out = pc.round(x, d, round_mode="half_towards_infinity")
    return cast_value(out, dtype) if out.type != dtype else out


@kernel("floor", "ceil")
def _floor_ceil(name, args, dtype, n):
    return cast_value(getattr(pc, name)(args[0]), dtype)


@kernel("sqrt", "ln", "log10", "log2", "exp", "sin", "cos", "tan", "atan")
def _float1(name, args, dtype, n):
    fn = {"ln": pc.ln, "log10": pc.log10, "log2": pc.log2, "exp": pc.exp, "sqrt": pc.sqrt, "sin": pc.sin,
          "cos": pc.cos, "tan": pc.tan, "atan": pc.atan}[name]
    return fn(args[0])


@kernel("cbrt")
def _cbrt(name, args, dtype, n):
    x = args[0]
    # a real cube root: pow() of a negative base with a fractional exponent is NaN
    return pc.multiply(pc.sign(x), pc.power(pc.abs(x), 1.0 / 3.0))


@kernel("power")
def _power(name, args, dtype, n):
    return pc.power(args[0], args[1])


@kernel("log")
def _log(name, args, dtype, n):
    if len(args) == 1:
        return pc.log10(args[0])
    return pc.divide(pc.ln(args[1]), pc.ln(args[0]))


@kernel("random")
def _random(name, args, dtype, n):
    return pa.array(np.random.random(n))


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
# where the 32 hex digits go among the 36 characters of a canonical UUID (hyphens at 8, 13, 18, 23)
_UUID_DIGIT_AT = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


@kernel("gen_random_uuid")
def _gen_random_uuid(name, args, dtype, n):
    """``n`` random version-4 UUIDs as canonical text, built as one byte matrix (no row loop). The bytes
    come from ``os.urandom``, so forked worker processes never repeat each other's values."""
    raw = np.frombuffer(os.urandom(16 * n), np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40          # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80          # the RFC 4122 variant
    chars = np.full((n, 36), ord("-"), np.uint8)
    digits = np.empty((n, 32), np.uint8)
    digits[:, 0::2], digits[:, 1::2] = _HEX_DIGITS[raw >> 4], _HEX_DIGITS[raw & 0x0F]
    chars[:, _UUID_DIGIT_AT] = digits
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.Array.from_buffers(T.STRING, n, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(chars.tobytes())])


def _uuid_canonical(text) -> tuple[pa.Array, pa.Array]:
    """Text as canonical UUIDs and whether each was one: 32 hex digits, hyphens anywhere, the whole
    optionally in braces (DuckDB's reading); (NULL, False) where it was not, (NULL, NULL) for NULL."""
    braced = pc.and_(pc.starts_with(text, "{"), pc.ends_with(text, "}"))
    inner = pc.if_else(braced, pc.utf8_slice_codeunits(text, 1, -1), text)
    digits = pc.utf8_lower(pc.replace_substring(inner, "-", ""))
    ok = pc.match_substring_regex(digits, "^[0-9a-f]{32}$")
    pieces = [pc.utf8_slice_codeunits(digits, a, b) for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    canonical = pc.binary_join_element_wise(*pieces, "-")
    return pc.if_else(pc.fill_null(ok, False), canonical, pa.scalar(None, T.STRING)), ok


@kernel("uuid_text", "try_uuid")
def _uuid_text(name, args, dtype, n):
    scalar = _is_scalar(args[0])
    text = to_array(args[0], 1) if scalar else args[0]
    canonical, ok = _uuid_canonical(text)
    if name == "uuid_text" and not pc.all(pc.fill_null(ok, True)).as_py():
        bad = pc.filter(text, pc.invert(pc.fill_null(ok, True)))[0].as_py()
        raise InvalidCastError(f"cannot cast '{bad}' to UUID",
                               hint="a UUID is 32 hex digits, e.g. 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'")
    return canonical[0] if scalar else canonical


# ---------------------------------------------------------------- dates

def _np_days(a) -> tuple[np.ndarray, np.ndarray | None]:
    arr = to_array(a, len(a)) if not _is_scalar(a) else a
    ints = pc.cast(arr, pa.int32()) if pa.types.is_date32(arr.type) else pc.cast(arr, pa.int64())
    mask = np.asarray(pc.is_null(ints)) if ints.null_count else None
    return np.asarray(pc.fill_null(ints, 0)), mask


def _add_months_days(dates, months, days, n: int):
    """Dates shifted by whole months (the day clamped to the month's end), then days; ``months`` and
    ``days`` are numbers or numpy arrays of one per row."""
    is_scalar = _is_scalar(dates)
    arr = to_array(dates, 1 if is_scalar else n)
    if isinstance(months, np.ndarray) or isinstance(days, np.ndarray):
        values, mask = _np_days(arr)
        d = values.astype("datetime64[D]")
        m = d.astype("datetime64[M]")
        day = (d - m.astype("datetime64[D]")).astype(np.int64)
        nm = m + np.asarray(months, dtype=np.int64).astype("timedelta64[M]")
        month_len = ((nm + np.timedelta64(1, "M")).astype("datetime64[D]") - nm.astype("datetime64[D]")).astype(np.int64)
        res = nm.astype("datetime64[D]") + np.minimum(day, month_len - 1) + \
            np.asarray(days, dtype=np.int64).astype("timedelta64[D]")
        out = pa.array(res.astype(np.int32), pa.int32(), mask=mask).cast(pa.date32())
        return out[0] if is_scalar else out
    if months == 0:
        out = pc.cast(pc.add(pc.cast(arr, pa.int32()), pa.scalar(days, pa.int32())), pa.date32())
        return out[0] if is_scalar else out
    values, mask = _np_days(arr)
    d = values.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    day = (d - m.astype("datetime64[D]")).astype(np.int64)
    nm = m + np.timedelta64(months, "M")
    month_len = ((nm + np.timedelta64(1, "M")).astype("datetime64[D]") - nm.astype("datetime64[D]")).astype(np.int64)
    res = nm.astype("datetime64[D]") + np.minimum(day, month_len - 1) + np.timedelta64(days, "D")
    out = pa.array(res.astype(np.int32), pa.int32(), mask=mask).cast(pa.date32())
    return out[0] if is_scalar else out


def _date_interval_column(name, d, interval, dtype, n):
    """A date or timestamp plus (minus) an INTERVAL column: months first (the day clamped to the month's
    end), then days and the time, row by row in numpy; NULL where either is NULL."""
    interval = to_array(interval, n)
    parts = interval_parts(interval)
    sign = -1 if name == "date_subtract_interval" else 1
    months = sign * parts["months"].astype(np.int64)
    days = sign * parts["days"].astype(np.int64)
    micros = sign * (parts["nanos"] // 1000)
    ts = cast_value(to_array(d, n), T.TIMESTAMP) if _is_scalar(d) or pa.types.is_date(d.type) else to_array(d, n)
    date_part = cast_value(ts, T.DATE, safe=False)
    shifted = _add_months_days(date_part, months, days, n)
    moved = pc.add(cast_value(shifted, T.TIMESTAMP), pc.subtract(ts, cast_value(date_part, T.TIMESTAMP)))
    out = pc.add(moved, pa.array(micros, pa.duration("us")))
    out = pc.if_else(interval.is_valid(), out, pa.scalar(None, out.type))
    return cast_value(out, dtype) if out.type != dtype else out


@kernel("date_add_interval", "date_subtract_interval")
def _date_interval(name, args, dtype, n):
    d, interval = args
    if not _is_scalar(interval):
        return _date_interval_column(name, d, interval, dtype, n)
    months, days, nanos = interval.as_py() if interval.is_valid else (0, 0, 0)
    if name == "date_subtract_interval":
        months, days, nanos = -months, -days, -nanos
    if pa.types.is_date(d.type):
        if nanos:
            ts = cast_value(d, T.TIMESTAMP)
            return _ts_add(ts, months, days, nanos, n)
        return _add_months_days(d, months, days, n)
    return _ts_add(d, months, days, nanos, n)


def _ts_add(ts, months, days, nanos, n):
    out = ts
    if months:
        date_part = cast_value(ts, T.DATE, safe=False)
        shifted = _add_months_days(date_part, months, 0, n)
        delta = pc.subtract(cast_value(shifted, T.TIMESTAMP), cast_value(date_part, T.TIMESTAMP))
        out = pc.add(out, delta)
    total_us = days * 86_400_000_000 + nanos // 1000
    if total_us:
        out = pc.add(out, pa.scalar(total_us, pa.duration("us")))
    return cast_value(out, T.TIMESTAMP) if out.type != T.TIMESTAMP else out


def _day_numbers(x):
    """Days since the epoch of a date or timestamp value, as int64.

    Arrow casts date32 only to int32 (its storage type), so widen in two steps.
    """
    if not pa.types.is_date32(x.type):
        x = pc.cast(x, pa.date32())
    return pc.cast(pc.cast(x, pa.int32()), pa.int64())


@kernel("date_add_days", "date_subtract_days")
def _date_days(name, args, dtype, n):
    d, k = args
    ints = _day_numbers(d)
    out = pc.add_checked(ints, k) if name == "date_add_days" else pc.subtract_checked(ints, k)
    return pc.cast(pc.cast(out, pa.int32()), pa.date32())


# Arrow's month_day_nano_interval: int32 months, int32 days, int64 nanoseconds per value
_INTERVAL_LAYOUT = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])
_MICROS_PER_DAY = 86_400_000_000


def interval_parts(x) -> np.ndarray:
    """The months, days and nanoseconds of an INTERVAL array, as a numpy structured array (zero-copy)."""
    x = x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x
    return np.frombuffer(x.buffers()[1], _INTERVAL_LAYOUT, count=x.offset + len(x))[x.offset:]


def interval_array(months: np.ndarray, days: np.ndarray, nanos: np.ndarray, valid: np.ndarray) -> pa.Array:
    """An INTERVAL array from its parts; NULL where ``valid`` is False."""
    data = np.zeros(len(months), _INTERVAL_LAYOUT)
    data["months"], data["days"], data["nanos"] = months, days, nanos
    validity = None if valid.all() else pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(T.INTERVAL, len(months), [validity, pa.py_buffer(data.tobytes())],
                                 null_count=int((~valid).sum()))


_INT32 = (-2**31, 2**31 - 1)


def _interval_fields(months, days, nanos, valid, what: str) -> pa.Array:
    for part in (months, days):
        if len(part) and (part[valid].min(initial=0) < _INT32[0] or part[valid].max(initial=0) > _INT32[1]):
            raise DataError(f"{what}: the interval is out of range", hint="use a smaller number or a smaller unit")
    return interval_array(months, days, nanos, valid)


_UNIT_FIELDS = {"year": (12, 0, 0), "quarter": (3, 0, 0), "month": (1, 0, 0), "week": (0, 7, 0), "day": (0, 1, 0),
                "hour": (0, 0, 3_600_000_000_000), "minute": (0, 0, 60_000_000_000), "second": (0, 0, 10**9),
                "millisecond": (0, 0, 10**6), "microsecond": (0, 0, 1000)}


@kernel("interval_of")
def _interval_of(name, args, dtype, n):
    """INTERVAL (x) unit per row: whole units of x (seconds and milliseconds keep a fraction, to the
    microsecond), as DuckDB's to_days(x), to_seconds(x), ..."""
    unit = args[0].as_py()
    scalar = _is_scalar(args[1])
    arr = to_array(args[1], 1 if scalar else n)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    months_per, days_per, nanos_per = _UNIT_FIELDS[unit]
    if pa.types.is_floating(arr.type):
        x = np.asarray(pc.fill_null(arr, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
        valid &= np.isfinite(x)
        if not np.isfinite(x[np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)]).all():
            raise DataError(f"INTERVAL (x) {unit.upper()} of an infinite or NaN number",
                            hint="filter such rows out, or map them to NULL with nullif/CASE")
        x = np.where(valid, x, 0.0)
        if unit in ("second", "millisecond"):
            nanos = np.round(x * (nanos_per // 1000)).astype(np.int64) * 1000
            months = days = np.zeros(len(x), np.int64)
            out = _interval_fields(months, days, nanos, valid, f"INTERVAL (x) {unit.upper()}")
            return out[0] if scalar else out
        whole = np.trunc(x).astype(np.int64)
    else:
        whole = np.asarray(pc.fill_null(arr, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    with np.errstate(over="raise"):
        try:
            months, days, nanos = whole * months_per, whole * days_per, whole * nanos_per
        except FloatingPointError:
            raise DataError(f"INTERVAL (x) {unit.upper()}: the interval is out of range",
                            hint="use a smaller number or a larger unit") from None
    if nanos_per and len(whole) and np.abs(whole[valid]).max(initial=0) > (2**63 - 1) // nanos_per:
        raise DataError(f"INTERVAL (x) {unit.upper()}: the interval is out of range",
                        hint="use a smaller number or a larger unit")
    out = _interval_fields(months, days, nanos, valid, f"INTERVAL (x) {unit.upper()}")
    return out[0] if scalar else out


@kernel("interval_add", "interval_subtract")
def _interval_add(name, args, dtype, n):
    """INTERVAL ± INTERVAL: months, days and nanoseconds each added (subtracted)."""
    scalar = all(_is_scalar(a) for a in args)
    rows = 1 if scalar else n
    a, b = (to_array(x, rows) for x in args)
    pa_, pb = interval_parts(a), interval_parts(b)
    sign = -1 if name == "interval_subtract" else 1
    valid = np.asarray(pc.and_(a.is_valid(), b.is_valid()).to_numpy(zero_copy_only=False), dtype=bool)
    months = pa_["months"].astype(np.int64) + sign * pb["months"].astype(np.int64)
    days = pa_["days"].astype(np.int64) + sign * pb["days"].astype(np.int64)
    nanos = pa_["nanos"].astype(np.float64) + sign * pb["nanos"].astype(np.float64)
    if (np.abs(nanos[valid]) >= 2.0**63).any():
        raise DataError("INTERVAL ± INTERVAL: the interval is out of range",
                        hint="its time part must stay within about 292 years")
    out = _interval_fields(months, days, pa_["nanos"] + sign * pb["nanos"], valid, "INTERVAL ± INTERVAL")
    return out[0] if scalar else out


@kernel("interval_multiply")
def _interval_multiply(name, args, dtype, n):
    """INTERVAL * integer: each field multiplied, as DuckDB does; a field past its range is an error."""
    scalar = all(_is_scalar(a) for a in args)
    rows = 1 if scalar else n
    interval, k = to_array(args[0], rows), to_array(args[1], rows)
    parts = interval_parts(interval)
    valid = np.asarray(pc.and_(interval.is_valid(), k.is_valid()).to_numpy(zero_copy_only=False), dtype=bool)
    factor = np.where(valid, np.asarray(pc.fill_null(k, 0).to_numpy(zero_copy_only=False), dtype=np.int64), 0)
    months, days = parts["months"].astype(np.int64) * factor, parts["days"].astype(np.int64) * factor
    nanos = parts["nanos"].astype(np.int64)
    big = np.abs(nanos).astype(np.float64) * np.abs(factor).astype(np.float64) >= 2.0**63
    if (big & valid).any():
        raise DataError("INTERVAL * integer: the interval is out of range", hint="multiply by a smaller number")
    out = _interval_fields(months, days, nanos * factor, valid, "INTERVAL * integer")
    return out[0] if scalar else out


def _split(a: np.ndarray):
    """Veltkamp's split of doubles into a high and a low half whose products are exact."""
    c = 134217729.0 * a                         # 2**27 + 1
    high = c - (c - a)
    return high, a - high


def _fused_multiply_add(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * b + c`` with the product not rounded before the sum, as a fused multiply-add gives it (numpy has
    none): the product's rounding error (Dekker) and the sum's (Knuth) are added back."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    product_error = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    z = s - p
    sum_error = (p - (s - z)) + (c - z)
    return s + (sum_error + product_error)


@kernel("interval_scale")
def _interval_scale(name, args, dtype, n):
    """INTERVAL * DOUBLE (and INTERVAL / DOUBLE, a product with its inverse), as DuckDB computes it (after
    PostgreSQL): each field is scaled and truncated; the fraction of the months carries down as days (30 a
    month, to the micro-day), what is left of the days as seconds (to the microsecond, a whole day of them
    carried back up), and the microseconds are rounded, halves to even. DuckDB's build fuses the multiply-adds
    of that arithmetic (the product is not rounded before the sum), so they are fused here too: without, one
    result in a few hundred is a microsecond off."""
    divide = args[2].as_py()
    scalar = _is_scalar(args[0]) and _is_scalar(args[1])
    rows = 1 if scalar else n
    interval, factor = to_array(args[0], rows), to_array(args[1], rows)
    parts = interval_parts(interval)
    valid = np.asarray(pc.and_(interval.is_valid(), factor.is_valid()).to_numpy(zero_copy_only=False), dtype=bool)
    r = np.where(valid, np.asarray(pc.fill_null(factor, 1.0).to_numpy(zero_copy_only=False), dtype=np.float64), 1.0)
    what = "INTERVAL / DOUBLE" if divide else "INTERVAL * DOUBLE"
    if divide:
        if (r == 0).any():
            raise DataError(f"{what}: division by zero", hint="divide by a number other than 0")
        r = 1.0 / r

    def micro_round(x):                        # to the nearest millionth, halves to even
        return np.rint(x * 1e6) / 1e6

    with np.errstate(invalid="ignore", over="ignore"):
        scaled_months = parts["months"] * r
        scaled_days = parts["days"] * r
        months, days = np.trunc(scaled_months), np.trunc(scaled_days)
        month_rest = micro_round(_fused_multiply_add(parts["months"].astype(np.float64), r, -months) * 30)
        day_rest = np.trunc(month_rest)
        day_fraction = _fused_multiply_add(parts["days"].astype(np.float64), r, -days)
        seconds = micro_round((day_fraction + month_rest - day_rest) * 86400)
        whole_days = np.where(np.abs(seconds) >= 86400, np.trunc(seconds / 86400), 0.0)
        days, seconds = days + whole_days + day_rest, seconds - whole_days * 86400
        micros = np.rint(_fused_multiply_add((parts["nanos"] // 1000).astype(np.float64), r, seconds * 1e6))
    finite = np.isfinite(scaled_months) & np.isfinite(scaled_days) & np.isfinite(micros)
    in_range = finite & (np.abs(micros) < 2.0**63) & (months >= _INT32[0]) & (months <= _INT32[1]) \
        & (days >= _INT32[0]) & (days <= _INT32[1])
    if (valid & ~in_range).any():
        raise DataError(f"{what}: the interval is out of range", hint="scale by a smaller number")
    ok = valid & in_range
    out = interval_array(np.where(ok, months, 0).astype(np.int32), np.where(ok, days, 0).astype(np.int32),
                         np.where(ok, micros, 0).astype(np.int64) * 1000, valid)
    return out[0] if scalar else out


def _time_micros(t) -> pa.Array:
    return pc.cast(pc.cast(t, T.TIME), T.INT64)


@kernel("date_add_time")
def _date_add_time(name, args, dtype, n):
    """DATE + TIME: the timestamp at that time of that day."""
    d, t = args
    midnight = pc.cast(cast_value(d, T.TIMESTAMP), T.INT64)
    return pc.cast(pc.add(midnight, _time_micros(t)), T.TIMESTAMP)


@kernel("time_add_interval", "time_subtract_interval")
def _time_interval(name, args, dtype, n):
    """TIME ± INTERVAL: the interval's hours, minutes and seconds added around the clock (DuckDB wraps past
    midnight and ignores the months and days)."""
    scalar = all(_is_scalar(x) for x in args)
    t, interval = (to_array(x, 1 if scalar else n) for x in args)
    valid = np.asarray(pc.and_(t.is_valid(), interval.is_valid()))
    step = interval_parts(interval)["nanos"] // 1000
    if name == "time_subtract_interval":
        step = -step
    micros = (np.asarray(pc.fill_null(_time_micros(t), 0)) + step) % _MICROS_PER_DAY
    out = pa.array(micros, T.INT64, mask=~valid).cast(T.TIME)
    return out[0] if scalar else out


@kernel("timestamp_subtract")
def _timestamp_subtract(name, args, dtype, n):
    """``a - b`` of timestamps, as DuckDB: whole days (toward zero) and the microseconds left, no months."""
    scalar = all(_is_scalar(x) for x in args)
    a, b = (to_array(x, 1 if scalar else n) for x in args)
    valid = np.asarray(pc.and_(a.is_valid(), b.is_valid()))
    a_us, b_us = (np.asarray(pc.fill_null(pc.cast(x.cast(pa.timestamp("us", x.type.tz)), pa.int64()), 0))
                  for x in (a, b))
    micros = a_us - b_us
    days = np.sign(micros) * (np.abs(micros) // _MICROS_PER_DAY)
    out = interval_array(np.zeros(len(micros), np.int32), days.astype(np.int32),
                         (micros - days * _MICROS_PER_DAY) * 1000, valid)
    return out[0] if scalar else out


def _year_month_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    month, year = d.astype("datetime64[M]"), d.astype("datetime64[Y]")
    return (year.astype(np.int64) + 1970, (month - year.astype("datetime64[M]")).astype(np.int64) + 1,
            (d - month.astype("datetime64[D]")).astype(np.int64) + 1)


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    first = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    return ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)


@kernel("age")
def _age(name, args, dtype, n):
    """``age(a, b)``: the later minus the earlier field by field (years, months, days, time of day), a
    negative field borrowing from the next (a day borrows the length of the earlier value's month), and
    the sign put back on every part, as DuckDB and PostgreSQL count it."""
    scalar = all(_is_scalar(x) for x in args)
    a, b = (to_array(x, 1 if scalar else n) for x in args)
    valid = np.asarray(pc.and_(a.is_valid(), b.is_valid()))
    a_us, b_us = (np.asarray(pc.fill_null(pc.cast(x.cast(pa.timestamp("us", x.type.tz)), pa.int64()), 0))
                  for x in (a, b))
    negative = a_us < b_us
    later, earlier = np.where(negative, b_us, a_us), np.where(negative, a_us, b_us)
    later_day, earlier_day = later // _MICROS_PER_DAY, earlier // _MICROS_PER_DAY
    (y1, m1, d1), (y0, m0, d0) = _year_month_day(later_day), _year_month_day(earlier_day)
    years, months, days = y1 - y0, m1 - m0, d1 - d0
    micros = (later - later_day * _MICROS_PER_DAY) - (earlier - earlier_day * _MICROS_PER_DAY)
    borrow = micros < 0
    micros, days = np.where(borrow, micros + _MICROS_PER_DAY, micros), days - borrow
    borrow = days < 0
    days, months = np.where(borrow, days + _days_in_month(y0, m0), days), months - borrow
    borrow = months < 0
    months, years = np.where(borrow, months + 12, months), years - borrow
    sign = np.where(negative, -1, 1)
    out = interval_array((sign * (years * 12 + months)).astype(np.int32), (sign * days).astype(np.int32),
                         sign * micros * 1000, valid)
    return out[0] if scalar else out


def interval_micros(x) -> pa.Array:
    """INTERVAL values' lengths in microseconds, a month counted as 30 days: what DuckDB compares and
    sorts by (it normalizes 30 days to a month and 24 hours to a day first, which orders the same)."""
    scalar = _is_scalar(x)
    x = to_array(x, 1) if scalar else x
    x = x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x
    parts = interval_parts(x)
    micros = (parts["months"].astype(np.int64) * 30 + parts["days"]) * _MICROS_PER_DAY + parts["nanos"] // 1000
    out = pa.array(micros, T.INT64, mask=np.asarray(x.is_null()) if x.null_count else None)
    return out[0] if scalar else out


@kernel("interval_micros")
def _interval_micros(name, args, dtype, n):
    return interval_micros(args[0])


def interval_text(x) -> pa.Array:
    """INTERVAL values printed as DuckDB prints them: ``1 year 2 months 3 days 04:05:06.5``; the
    parts that are 0 left out, each with its own sign (``-60 days -01:00:00``); ``00:00:00`` for 0."""
    scalar = _is_scalar(x)
    x = to_array(x, 1) if scalar else x
    parts = interval_parts(x)
    months = parts["months"].astype(np.int64)
    years = np.sign(months) * (np.abs(months) // 12)
    months = months - 12 * years
    micros = np.sign(parts["nanos"]) * (np.abs(parts["nanos"]) // 1000)

    def unit(values: np.ndarray, word: str) -> pa.Array:
        # "3 days " (a space after each part), or "" when the part is 0
        text = pc.binary_join_element_wise(pa.array(values).cast(T.STRING),
                                           pa.array(np.where(np.abs(values) == 1, f" {word} ", f" {word}s ")), "")
        return pc.if_else(pa.array(values != 0), text, "")

    magnitude = np.abs(micros)
    seconds = magnitude // 1_000_000

    def two(values: np.ndarray) -> pa.Array:
        return pc.utf8_lpad(pa.array(values).cast(T.STRING), 2, "0")

    fraction = pc.utf8_rtrim(pc.utf8_lpad(pa.array(magnitude % 1_000_000).cast(T.STRING), 6, "0"), "0")
    clock = pc.binary_join_element_wise(two(seconds // 3600), two(seconds // 60 % 60), two(seconds % 60), ":")
    clock = pc.if_else(pc.equal(pc.utf8_length(fraction), 0), clock,
                       pc.binary_join_element_wise(clock, fraction, "."))
    clock = pc.binary_join_element_wise(pa.array(np.where(micros < 0, "-", "")), clock, "")
    clock = pc.if_else(pa.array(micros != 0), clock, "")
    # (not null_handling="skip": Arrow 26 drops the rows where every part is NULL)
    text = pc.utf8_rtrim(pc.binary_join_element_wise(unit(years, "year"), unit(months, "month"),
                                                     unit(parts["days"], "day"), clock, ""), " ")
    text = pc.if_else(pc.equal(text, ""), "00:00:00", text)
    out = pc.if_else(x.is_valid(), text, pa.scalar(None, T.STRING))
    return out[0] if scalar else out


@kernel("date_diff_days")
def _date_diff_days(name, args, dtype, n):
    a, b = (_day_numbers(x) for x in args)
    return pc.subtract(a, b)


_PART_FN = {"year": pc.year, "month": pc.month, "day": pc.day, "quarter": pc.quarter, "hour": pc.hour,
            "minute": pc.minute, "second": pc.second, "millisecond": pc.millisecond,
            "microsecond": pc.microsecond, "dayofyear": pc.day_of_year}


@kernel("date_part")
def _date_part(name, args, dtype, n):
    part = args[0].as_py()
    x = args[1]
    if part in _PART_FN:
        if part in ("hour", "minute", "second", "millisecond", "microsecond") and pa.types.is_date(x.type):
            x = cast_value(x, T.TIMESTAMP)
        return cast_value(_PART_FN[part](x), T.INT64)
    if part in ("dayofweek", "dow"):
        # SQL convention: Sunday = 0
        return cast_value(pc.day_of_week(x, count_from_zero=True, week_start=7), T.INT64)
    if part == "isodow":
        return cast_value(pc.day_of_week(x, count_from_zero=False, week_start=1), T.INT64)
    if part == "week":
        return cast_value(pc.iso_week(x), T.INT64)
    if part == "isoyear":
        return cast_value(pc.iso_year(x), T.INT64)
    if part == "yearweek":
        return pc.add(pc.multiply(cast_value(pc.iso_year(x), T.INT64), 100), cast_value(pc.iso_week(x), T.INT64))
    if part in ("century", "millennium"):
        return _century_of(pc.year(x), 100 if part == "century" else 1000)
    if part == "weekday":
        return cast_value(pc.day_of_week(x, count_from_zero=True, week_start=7), T.INT64)
    if part == "epoch":
        ts = cast_value(x, T.TIMESTAMP)
        return pc.divide(cast_value(pc.cast(ts, pa.int64()), T.FLOAT64), 1e6)
    raise UnsupportedError(f"date part `{part}` is not supported")


@kernel("date_trunc")
def _date_trunc(name, args, dtype, n):
    part = args[0].as_py()
    x = args[1]
    if part == "week":
        out = pc.floor_temporal(x, unit="week", week_starts_monday=True)
    else:
        out = pc.floor_temporal(x, unit=part)
    return cast_value(out, dtype) if out.type != dtype else out


@kernel("date_diff")
def _date_diff(name, args, dtype, n):
    part = args[0].as_py()
    a, b = args[1], args[2]
    if part == "day":
        return _date_diff_days(name, [b, a], dtype, n)
    if part == "week":
        # DuckDB counts whole weeks between the dates (days / 7, truncated), not week boundaries
        days = _date_diff_days(name, [b, a], dtype, n)
        return pc.divide(days, pa.scalar(7, pa.int64()))
    if part in ("month", "quarter", "year"):
        months = pc.subtract(pc.add(pc.multiply(pc.year(b), 12), pc.month(b)),
                             pc.add(pc.multiply(pc.year(a), 12), pc.month(a)))
        div = {"month": 1, "quarter": 3, "year": 12}[part]
        if part == "year":
            return cast_value(pc.subtract(pc.year(b), pc.year(a)), T.INT64)
        if part == "quarter":
            qb = pc.add(pc.multiply(pc.year(b), 4), pc.quarter(b))
            qa = pc.add(pc.multiply(pc.year(a), 4), pc.quarter(a))
            return cast_value(pc.subtract(qb, qa), T.INT64)
        return cast_value(pc.divide(months, div), T.INT64)
    fn = {"hour": pc.hours_between, "minute": pc.minutes_between, "second": pc.seconds_between,
          "millisecond": pc.milliseconds_between}.get(part)
    if fn is None:
        raise UnsupportedError(f"date_diff part `{part}` is not supported")
    return cast_value(fn(a, b), T.INT64)


@kernel("make_date")
def _make_date(name, args, dtype, n):
    y, m, d = (to_array(a, n) for a in args)
    text = pc.binary_join_element_wise(
        pc.utf8_lpad(pc.cast(y, pa.string()), width=4, padding="0"),
        pc.utf8_lpad(pc.cast(m, pa.string()), width=2, padding="0"),
        pc.utf8_lpad(pc.cast(d, pa.string()), width=2, padding="0"), "-")
    return cast_value(text, T.DATE)


@kernel("strftime")
def _strftime(name, args, dtype, n):
    return pc.strftime(args[0], format=args[1].as_py())


# the numeric fields of a strptime format: regex width, and the part of the result each must equal
_STRPTIME_FIELDS = {"Y": (4, lambda t: pc.year(t)), "m": (2, lambda t: pc.month(t)), "d": (2, lambda t: pc.day(t)),
                    "H": (2, lambda t: pc.hour(t)), "M": (2, lambda t: pc.minute(t)),
                    "S": (2, lambda t: pc.second(t)), "j": (3, lambda t: pc.day_of_year(t)),
                    "y": (2, lambda t: pc.subtract(pc.year(t), pc.multiply(pc.divide(pc.year(t), 100), 100)))}


def _strptime_fields_regex(fmt: str):
    """A regex that reads each numeric field of a strptime format as a named group (None if the format
    has none): Arrow's parser rolls an out-of-range day or second over into the next month or minute
    (2020-02-30 is March 1), where DuckDB fails, so the fields read are compared with the result's."""
    out, names = "^", []
    for literal, code in re.findall(r"([^%]*)(%-?.|$)", fmt):
        out += "".join(r"\s*" if ch.isspace() else re.escape(ch) for ch in literal)
        code = code.replace("-", "")
        if code in ("%b", "%B", "%a", "%A", "%p"):
            out += r"\s*[A-Za-z]+"
        elif code == "%%":
            out += "%"
        elif code[1:] in _STRPTIME_FIELDS and code[1:] not in names:
            names.append(code[1:])
            out += rf"\s*(?P<{code[1:]}>\d{{1,{_STRPTIME_FIELDS[code[1:]][0]}}})"
        elif code == "%I":
            out += r"\s*\d{1,2}"
    return (out + r"\s*$", names) if names else (None, [])


@kernel("strptime", "try_strptime")
def _strptime(name, args, dtype, n):
    # the binder checked the format's codes; a string that does not match fails (try_strptime: NULL)
    fmt = args[1].as_py()
    try:
        out = pc.strptime(args[0], format=fmt, unit="us", error_is_null=name == "try_strptime")
    except pa.ArrowInvalid as exc:
        raise DataError(f"strptime(): a string does not match the format `{fmt}` ({exc})",
                        hint="use try_strptime() for NULL instead of an error") from None
    pattern, names = _strptime_fields_regex(fmt)
    if pattern is not None:
        fields = pc.extract_regex(args[0], pattern)
        wrong = None
        for key in names:
            read = pc.cast(pc.struct_field(fields, key), pa.int64())
            got = _STRPTIME_FIELDS[key][1](out)
            differs = pc.fill_null(pc.not_equal(read, pc.cast(got, pa.int64())), False)
            wrong = differs if wrong is None else pc.or_(wrong, differs)
        if pc.any(wrong).as_py():
            if name == "strptime":
                bad = pc.filter(to_array(args[0], 1) if _is_scalar(args[0]) else args[0],
                                to_array(wrong, 1) if _is_scalar(wrong) else wrong)[0]
                raise DataError(f"strptime(): `{bad}` is not a valid date or time in the format `{fmt}`",
                                hint="use try_strptime() for NULL instead of an error")
            out = pc.if_else(wrong, pa.scalar(None, out.type), out)
    return cast_value(out, dtype) if out.type != dtype else out



def _epoch_micros(x):
    """Microseconds since 1970-01-01 (since midnight for a TIME) of a DATE, TIMESTAMP or TIME, as int64."""
    if pa.types.is_time(x.type):
        return pc.cast(pc.cast(x, pa.time64("us")), pa.int64())
    if pa.types.is_date(x.type):
        x = cast_value(x, T.TIMESTAMP)
    if x.type.unit != "us" or x.type.tz is not None:
        x = pc.cast(x, pa.timestamp("us", x.type.tz)) if x.type.unit != "us" else x
    return pc.cast(x, pa.int64())


@kernel("epoch", "epoch_ms", "epoch_us", "epoch_ns")
def _epoch(name, args, dtype, n):
    x = args[0]
    if name == "epoch_ms" and pa.types.is_integer(x.type):
        micros = pc.multiply_checked(x, pa.scalar(1000, pa.int64()))
        return pc.cast(micros, pa.timestamp("us"))
    micros = _epoch_micros(x)
    if name == "epoch":
        return pc.divide(pc.cast(micros, pa.float64()), 1e6)
    if name == "epoch_us":
        return micros
    if name == "epoch_ns":
        return pc.multiply_checked(micros, pa.scalar(1000, pa.int64()))
    # milliseconds, rounded to the nearest, halves away from zero, as DuckDB rounds them (-0.5 ms is -1)
    scalar = _is_scalar(micros)
    arr = to_array(micros, 1) if scalar else to_array(micros, n)
    values = np.asarray(pc.fill_null(arr, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    mask = None if arr.null_count == 0 else np.asarray(arr.is_null().to_numpy(zero_copy_only=False))
    out = pa.array(np.sign(values) * ((np.abs(values) + 500) // 1000), pa.int64(), mask=mask)
    return out[0] if scalar else out


# ---------------------------------------------------------------- DuckDB's date helpers (issue #12)

def _century_of(year, size):
    # DuckDB's: years 1..100 are century 1; year 0 and before count down from -1
    year = cast_value(year, T.INT64)
    positive = pc.add(pc.divide(pc.subtract(year, 1), size), 1)
    negative = pc.subtract(pc.divide(year, size), 1)
    return pc.if_else(pc.greater(year, 0), positive, negative)


@kernel("last_day")
def _last_day(name, args, dtype, n):
    # the day before the first of the next month, in numpy's calendar months
    x = args[0]
    scalar = _is_scalar(x)
    days = to_array(cast_value(x, T.DATE), 1 if scalar else n)
    mask = np.asarray(days.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    d = np.asarray(pc.fill_null(days.cast(pa.int32()), 0).to_numpy(zero_copy_only=False)).astype("datetime64[D]")
    last = ((d.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1).astype(np.int64).astype(np.int32)
    out = pa.array(last, pa.int32(), mask=mask).cast(T.DATE)
    return out[0] if scalar else out


@kernel("to_timestamp")
def _to_timestamp(name, args, dtype, n):
    x = args[0]
    scalar = _is_scalar(x)
    arr = to_array(x, 1) if scalar else to_array(x, n)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    seconds = np.asarray(pc.fill_null(arr, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        micros = np.rint(seconds * 1e6)      # halves to even, as DuckDB rounds them
        bad = valid & ~(np.abs(micros) < 2.0**63)
    if bad.any():
        raise DataError(f"to_timestamp(): {float(seconds[bad][0])!r} epoch seconds is out of range for TIMESTAMP WITH TIME ZONE",
                        hint="the seconds must lie within about ±292,000 years of 1970")
    out = pa.array(np.where(valid, micros, 0).astype(np.int64), pa.int64(), mask=~valid).cast(dtype)
    return out[0] if scalar else out


@kernel("make_timestamp")
def _make_timestamp(name, args, dtype, n):
    if len(args) == 1:
        return pc.cast(cast_value(args[0], T.INT64), T.TIMESTAMP)
    arrays = [to_array(a, n) for a in args]
    valid = np.ones(n, dtype=bool)
    for a in arrays:
        valid &= np.asarray(a.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    y, mo, d, h, mi = (np.asarray(pc.fill_null(a, 1).to_numpy(zero_copy_only=False), dtype=np.int64)
                       for a in arrays[:5])
    h, mi = np.where(valid, h, 0), np.where(valid, mi, 0)
    sec = np.where(valid, np.asarray(pc.fill_null(arrays[5], 0.0).to_numpy(zero_copy_only=False), np.float64), 0.0)
    y, mo, d = (np.where(valid, v, 1) for v in (y, mo, d))
    # the date must exist (DuckDB fails on 2020-02-30), the time lie within a day (seconds may reach 60)
    with np.errstate(invalid="ignore"):
        month_ok = (mo >= 1) & (mo <= 12) & (y >= -290000) & (y <= 290000)
        first = np.where(month_ok, (y - 1970) * 12 + (mo - 1), 0).astype("datetime64[M]")
        length = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
        date_ok = month_ok & (d >= 1) & (d <= length)
        time_ok = (h >= 0) & (h < 24) & (mi >= 0) & (mi < 60) & (sec >= 0) & (sec <= 60) & np.isfinite(sec) \
            | (h == 24) & (mi == 0) & (sec == 0)      # 24:00:00 is the next midnight, as in DuckDB
    bad = ~(date_ok & time_ok)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "date" if not date_ok[i] else "time"
        raise DataError(f"make_timestamp(): {what} out of range: {y[i]}-{mo[i]}-{d[i]} {h[i]}:{mi[i]}:{sec[i]}",
                        hint="month 1-12, a day the month has, hour 0-23, minute 0-59, seconds 0-60 (or 24:00:00)")
    days = first.astype("datetime64[D]").astype(np.int64) + d - 1
    # the seconds to the microsecond, halves up (DuckDB's; to_timestamp rounds them to even)
    micros = days * 86_400_000_000 + (h * 3600 + mi * 60) * 1_000_000 + np.floor(sec * 1e6 + 0.5).astype(np.int64)
    return pa.array(micros, pa.int64(), mask=~valid).cast(T.TIMESTAMP)


# ---------------------------------------------------------------- DuckDB's string helpers (issue #12)

def _utf8_characters(x, n):
    """The characters of each string: (a string array of one character each, per-row offsets into it),
    found with numpy from the UTF-8 bytes (a character starts at each byte that is not 10xxxxxx)."""
    from quarry.compute.spark_kernels import _bytes_of
    data, offsets, _ = _bytes_of(x, n)
    starts = np.flatnonzero((data & 0xC0) != 0x80)
    char_offsets = np.append(starts, len(data)).astype(np.int32)
    chars = pa.Array.from_buffers(pa.string(), len(starts), [None, pa.py_buffer(char_offsets.tobytes()),
                                                             pa.py_buffer(data.tobytes())])
    return chars, np.searchsorted(starts, offsets).astype(np.int64)


def _rejoin(chars: pa.Array, row_offsets: np.ndarray, valid: pa.Array) -> pa.Array:
    lists = pa.ListArray.from_arrays(pa.array(row_offsets.astype(np.int32)), chars)
    out = pc.binary_join(lists, "")
    return pc.if_else(valid, out, pa.scalar(None, pa.string()))


@kernel("translate")
def _translate(name, args, dtype, n):
    s, src, dst = args
    scalar = _is_scalar(s)
    arr = to_array(s, 1 if scalar else n)
    src_chars, dst_chars = list(src.as_py()), list(dst.as_py())
    first = {}
    for i, c in enumerate(src_chars):         # the constant's characters, not rows: the first mapping wins
        first.setdefault(c, i)
    chars, offsets = _utf8_characters(arr, len(arr))
    if not first:
        return s
    keys = pa.array(list(first), pa.string())
    targets = pa.array([dst_chars[i] if i < len(dst_chars) else None for i in first.values()], pa.string())
    idx = pc.index_in(chars, value_set=keys)
    found = pc.is_valid(idx)
    replaced = pc.if_else(found, pc.take(targets, idx), chars)
    keep = np.asarray(pc.is_valid(replaced).to_numpy(zero_copy_only=False), dtype=bool)
    kept = np.concatenate([[0], np.cumsum(keep)])[offsets]
    out = _rejoin(pc.filter(replaced, pa.array(keep)), kept, arr.is_valid())
    return out[0] if scalar else out


_BIT_TEXT = np.array([[ord("1") if b & (1 << (7 - k)) else ord("0") for k in range(8)] for b in range(256)],
                     dtype=np.uint8)


@kernel("bin_bytes")
def _bin_bytes(name, args, dtype, n):
    from quarry.compute.spark_kernels import _bytes_of, _strings_from
    scalar = _is_scalar(args[0])
    rows = 1 if scalar else n
    data, offsets, valid = _bytes_of(args[0], rows)
    out = _strings_from(_BIT_TEXT[data.astype(np.intp)].reshape(-1), offsets * 8, valid, pa.string())
    return out[0] if scalar else out


@kernel("float_radix_text")
def _float_radix_text(name, args, dtype, n):
    """hex()/bin() of a DOUBLE as DuckDB gives them: the value rounded to an integer (halves to even), as a
    sign and the digits of its magnitude, however large (a double of 2**53 or more is its 53-bit mantissa
    followed by zero bits, so its digits are the mantissa's, shifted, and a run of zeros)."""
    from quarry.compute.spark_kernels import _np, _radix_text
    radix = args[0].as_py()
    scalar = _is_scalar(args[1])
    rows = 1 if scalar else n
    x, valid = _np(args[1], rows, np.float64)
    bad = ~np.isfinite(x) if valid is None else ~np.isfinite(x) & valid
    if bad.any():
        fname = "hex" if radix == 16 else "bin"
        raise DataError(f"{fname}(): the DOUBLE {float(x[bad][0])!r} has no integer digits",
                        hint="NaN and infinity cannot be written as an integer; filter them out first")
    magnitude = np.abs(x)
    fraction, exponent = np.frexp(magnitude)                   # magnitude = fraction * 2**exponent
    big = magnitude >= 2.0 ** 53
    mantissa = np.where(big, np.ldexp(fraction, 53), np.rint(magnitude)).astype(np.int64)
    zero_bits = np.where(big, exponent - 53, 0)
    bits_per_digit = 4 if radix == 16 else 1
    mantissa <<= zero_bits % bits_per_digit
    digits = _radix_text(pa.array(mantissa, pa.int64()), radix)
    zeros = pc.binary_repeat(pa.scalar("0"), pa.array(zero_bits // bits_per_digit, pa.int64()))
    sign = pc.if_else(pa.array((x < 0) & (mantissa != 0)), pa.scalar("-"), pa.scalar(""))
    out = pc.binary_join_element_wise(sign, digits, zeros, "")
    if valid is not None:
        out = pc.if_else(pa.array(valid), out, pa.scalar(None, pa.string()))
    return out[0] if scalar else out


def _refuse_new_nulls(out, x, n, fname: str, what: str, hint: str):
    """A DataError where ``out`` is NULL for a non-NULL input (Spark's lenient kernels give NULL there)."""
    bad = pc.and_(pc.is_valid(to_array(x, n)), pc.is_null(out))
    if pc.any(bad).as_py():
        value = pc.filter(to_array(x, n), bad)[0].as_py()
        raise DataError(f"{fname}(): {value!r} is not {what}", hint=hint)
    return out


@kernel("unhex")
def _unhex_strict(name, args, dtype, n):
    from quarry.compute.spark_kernels import _unhex
    scalar = _is_scalar(args[0])
    rows = 1 if scalar else n
    out = _refuse_new_nulls(_unhex(name, [to_array(args[0], rows)], dtype, rows), args[0], rows, "unhex",
                            "hexadecimal digits", "give the digits 0-9 and a-f (A-F)")
    return out[0] if scalar else out


@kernel("unbin")
def _unbin(name, args, dtype, n):
    from quarry.compute.spark_kernels import _bytes_of, _strings_from
    scalar = _is_scalar(args[0])
    rows = 1 if scalar else n
    data, offsets, valid = _bytes_of(args[0], rows)
    bits = data.astype(np.int64) - ord("0")
    if len(bits) and ((bits < 0) | (bits > 1)).any():
        arr = to_array(args[0], rows)
        bad = pc.invert(pc.fill_null(pc.match_substring_regex(arr, r"^[01]*$"), True))
        raise DataError(f"unbin(): {pc.filter(arr, bad)[0].as_py()!r} is not binary digits", hint="give only 0s and 1s")
    lengths = np.diff(offsets)
    out_lengths = (lengths + 7) // 8
    # each row's bits right-aligned in whole bytes: pad on the left to a multiple of 8
    pad = out_lengths * 8 - lengths
    padded = np.zeros(int(out_lengths.sum()) * 8, np.uint8)
    dest = np.repeat(np.concatenate([[0], np.cumsum(out_lengths * 8)[:-1]]) + pad, lengths) + \
        (np.arange(len(bits)) - np.repeat(offsets[:-1], lengths))
    padded[dest] = bits
    out = np.packbits(padded.reshape(-1, 8), axis=1).reshape(-1) if len(padded) else np.zeros(0, np.uint8)
    offsets_out = np.concatenate([[0], np.cumsum(out_lengths)])
    result = _strings_from(out, offsets_out, valid, pa.binary())
    return result[0] if scalar else result


@kernel("from_base64")
def _from_base64(name, args, dtype, n):
    from quarry.compute.spark_kernels import _unbase64
    scalar = _is_scalar(args[0])
    rows = 1 if scalar else n
    arr = to_array(args[0], rows)
    # DuckDB's strict reading: whole groups of 4 of the base64 alphabet, '=' only at the end
    ok = pc.match_substring_regex(arr, r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
    bad = pc.invert(pc.fill_null(ok, True))
    if pc.any(bad).as_py():
        value = pc.filter(arr, bad)[0].as_py()
        raise DataError(f"from_base64(): could not decode {value!r} as base64",
                        hint="base64 text has a multiple of 4 characters of A-Z, a-z, 0-9, + and /, "
                             "padded with = at the end")
    out = _unbase64(name, [arr], dtype, rows)
    return out[0] if scalar else out


@kernel("decode")
def _decode_utf8(name, args, dtype, n):
    x = args[0]
    try:
        return pc.cast(x, pa.string())
    except pa.ArrowInvalid:
        raise DataError("decode(): the BLOB is not valid UTF-8",
                        hint="only UTF-8 bytes decode to text; hex(b) shows the bytes") from None


@kernel("byte_length")
def _byte_length(name, args, dtype, n):
    return pc.multiply(cast_value(pc.binary_length(args[0]), T.INT64), args[1])


@kernel("unicode")
def _unicode(name, args, dtype, n):
    from quarry.compute.spark_kernels import _bytes_of
    scalar = _is_scalar(args[0])
    rows = 1 if scalar else n
    arr = to_array(args[0], rows)
    data, offsets, valid = _bytes_of(arr, rows)
    lengths = np.diff(offsets)
    padded = np.concatenate([data, np.zeros(4, np.uint8)]).astype(np.int64)
    at = offsets[:-1]
    b0, b1, b2, b3 = (padded[at + k] for k in range(4))
    cp = np.select([b0 < 0x80, b0 < 0xE0, b0 < 0xF0],
                   [b0, ((b0 & 0x1F) << 6) | (b1 & 0x3F), ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)],
                   ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F))
    cp = np.where(lengths == 0, -1, cp).astype(np.int32)          # '' is -1, as in DuckDB
    out = pa.array(cp, pa.int32(), mask=None if valid is None else ~np.asarray(valid, dtype=bool))
    return out[0] if scalar else out


@kernel("hamming")
def _hamming(name, args, dtype, n):
    a, b = (to_array(x, n) for x in args)
    valid = pc.and_(a.is_valid(), b.is_valid())
    la, lb = pc.fill_null(pc.utf8_length(a), 0), pc.fill_null(pc.utf8_length(b), 0)
    mask = np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)
    la_np, lb_np = (np.asarray(v.to_numpy(zero_copy_only=False), dtype=np.int64) for v in (la, lb))
    if (mask & (la_np != lb_np)).any():
        raise DataError("hamming(): the strings must be of the same length",
                        hint="compare strings of equal length, or use levenshtein(a, b)")
    if (mask & (la_np == 0)).any():
        raise DataError("hamming(): the strings must not be empty", hint="filter out '' first")
    # rows where either is NULL count as empty on both sides, so the characters line up
    a = pc.if_else(valid, a, pa.scalar("", pa.string()))
    b = pc.if_else(valid, b, pa.scalar("", pa.string()))
    ca, offsets = _utf8_characters(a, n)
    cb, _ = _utf8_characters(b, n)
    differ = np.asarray(pc.not_equal(ca, cb).to_numpy(zero_copy_only=False), dtype=np.int64)
    counts = np.concatenate([[0], np.cumsum(differ)])
    out = counts[offsets[1:]] - counts[offsets[:-1]]
    return pa.array(out, pa.int64(), mask=~mask)


# ---------------------------------------------------------------- DuckDB's math helpers (issue #12)

def _int64_columns(args, n):
    arrays = [to_array(a, n) for a in args]
    valid = np.ones(n, dtype=bool)
    for a in arrays:
        valid &= np.asarray(a.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    values = [np.asarray(pc.fill_null(a, 0).to_numpy(zero_copy_only=False), dtype=np.int64) for a in arrays]
    return values, valid


@kernel("gcd", "lcm")
def _gcd_lcm(name, args, dtype, n):
    scalar = all(_is_scalar(a) for a in args)
    rows = 1 if scalar else n
    (a, b), valid = _int64_columns(args, rows)
    a, b = np.where(valid, a, 0), np.where(valid, b, 0)
    lowest = np.iinfo(np.int64).min
    if ((a == lowest) | (b == lowest)).any():
        raise DataError(f"{name}(): overflow on abs(-9223372036854775808)", hint="the arguments must fit BIGINT once made positive")
    g = np.gcd(a, b)
    if name == "gcd":
        out = g
    else:
        # |a / g * b|, checked against BIGINT as DuckDB checks it
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.abs(np.where(g == 0, 0, a // np.where(g == 0, 1, g)))
        b_abs = np.abs(b)
        over = (b_abs != 0) & (q > np.iinfo(np.int64).max // np.where(b_abs == 0, 1, b_abs))
        if over.any():
            raise DataError("lcm(): the value is out of range for BIGINT", hint="use smaller numbers")
        out = q * b_abs
    result = pa.array(out, pa.int64(), mask=~valid)
    return result[0] if scalar else result


# n! for n = 0 .. 33, the ones a HUGEINT holds (a table of 34 constants, not a per-row computation)
_FACTORIALS = [math.factorial(i) for i in range(34)]


@kernel("factorial")
def _factorial(name, args, dtype, n):
    scalar = _is_scalar(args[0])
    rows = 1 if scalar else n
    (x,), valid = _int64_columns(args, rows)
    x = np.where(valid, x, 0)
    if (x < 0).any():
        raise DataError("factorial(): the factorial of a negative number is undefined", hint="give n >= 0")
    if (x > 33).any():
        raise DataError(f"factorial({int(x.max())}): the value is out of range for HUGEINT",
                        hint="33! is the largest factorial a HUGEINT holds; use exp(lgamma(n + 1)) for larger n")
    table = pa.array([decimal.Decimal(v) for v in _FACTORIALS], dtype)
    out = pc.take(table, pa.array(x, pa.int64(), mask=~valid))
    return out[0] if scalar else out


@kernel("bit_count")
def _bit_count(name, args, dtype, n):
    x = args[0]
    scalar = _is_scalar(x)
    arr = to_array(x, 1 if scalar else n)
    width = arr.type.bit_width
    unsigned = np.dtype(f"uint{width}")
    values = np.asarray(pc.fill_null(arr, 0).to_numpy(zero_copy_only=False)).view(unsigned)
    bits = np.unpackbits(values.astype(unsigned).view(np.uint8).reshape(len(values), width // 8), axis=1)
    out = pa.array(bits.sum(axis=1).astype(np.int8), pa.int8(), mask=np.asarray(arr.is_null().to_numpy(zero_copy_only=False)))
    return out[0] if scalar else out


def _float_values(x, n):
    scalar = _is_scalar(x)
    arr = to_array(x, 1 if scalar else n)
    values = np.asarray(pc.fill_null(arr, 0).to_numpy(zero_copy_only=False))
    return scalar, arr, values, np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


@kernel("even")
def _even(name, args, dtype, n):
    scalar, arr, x, mask = _float_values(args[0], n)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.copysign(np.ceil(np.abs(x) / 2) * 2, x)
    out = np.where(np.isfinite(out) | ~np.isfinite(x), out, x)     # 1e308 stays itself, as in DuckDB
    result = pa.array(out.astype(np.float64), pa.float64(), mask=mask)
    return result[0] if scalar else result


@kernel("signbit")
def _signbit(name, args, dtype, n):
    scalar, arr, x, mask = _float_values(args[0], n)
    result = pa.array(np.signbit(x), pa.bool_(), mask=mask)
    return result[0] if scalar else result


@kernel("nextafter")
def _nextafter(name, args, dtype, n):
    scalar = all(_is_scalar(a) for a in args)
    rows = 1 if scalar else n
    a, b = (to_array(x, rows) for x in args)
    mask = np.asarray(pc.or_(a.is_null(), b.is_null()).to_numpy(zero_copy_only=False), dtype=bool)
    np_type = np.float32 if dtype == T.FLOAT32 else np.float64
    av, bv = (np.asarray(pc.fill_null(v, 0).to_numpy(zero_copy_only=False), dtype=np_type) for v in (a, b))
    result = pa.array(np.nextafter(av, bv), dtype, mask=mask)
    return result[0] if scalar else result


@kernel("trunc")
def _trunc(name, args, dtype, n):
    x, digits = args[0], args[1].as_py()
    if T.is_decimal(dtype):
        out = pc.round(x, digits, round_mode="towards_zero")
        return cast_value(out, dtype) if out.type != dtype else out
    if T.is_integer(dtype):
        # negative digits: cut to a multiple of 10^-digits, towards zero
        unit = pa.scalar(10 ** -digits if -digits < 19 else 0, dtype)
        if unit.as_py() == 0:
            return pc.multiply(x, pa.scalar(0, dtype))
        return pc.multiply(pc.divide(x, unit), unit)
    if digits == 0:
        return pc.trunc(x)
    scale = pa.scalar(10.0 ** digits, pa.float64())
    return pc.divide(pc.trunc(pc.multiply(x, scale)), scale)


@kernel("jaro")
def _jaro(name, args, dtype, n):
    """Jaro (-Winkler) similarity of every pair at once: the greedy matching runs one numpy step per
    character position of the longest first string, over a (rows x length) matrix of code points."""
    from quarry.compute.spark_kernels import _codepoints
    winkler, cutoff = bool(args[0].as_py()), float(args[3].as_py())
    scalar = _is_scalar(args[1]) and _is_scalar(args[2])
    rows = 1 if scalar else n
    a, b = to_array(args[1], rows), to_array(args[2], rows)
    valid = np.asarray(pc.and_(pc.is_valid(a), pc.is_valid(b)).to_numpy(zero_copy_only=False), dtype=bool)
    ma, la = _codepoints(pc.fill_null(a, ""), rows)
    mb, lb = _codepoints(pc.fill_null(b, ""), rows)
    bound = np.maximum(np.maximum(la, lb) // 2 - 1, 0)
    cols = np.arange(mb.shape[1])
    matched_a = np.zeros(ma.shape, dtype=bool)
    matched_b = np.zeros(mb.shape, dtype=bool)
    for i in range(int(la.max()) if rows else 0):
        lo, hi = np.maximum(i - bound, 0), np.minimum(i + bound + 1, lb)
        cand = (mb == ma[:, i][:, None]) & ~matched_b & (cols[None, :] >= lo[:, None]) & (cols[None, :] < hi[:, None])
        cand &= (i < la)[:, None]
        has = cand.any(axis=1)
        j = np.argmax(cand, axis=1)
        hit = np.flatnonzero(has)
        matched_b[hit, j[hit]] = True
        matched_a[hit, i] = True
    m = matched_a.sum(axis=1)
    # the matched characters of each side in order (row-major), compared pairwise: half the differences
    row_of = np.nonzero(matched_a)[0]
    differ = ma[matched_a] != mb[matched_b]
    t = np.bincount(row_of[differ], minlength=rows) // 2 if len(row_of) else np.zeros(rows, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sim = np.where(m > 0, (m / np.maximum(la, 1) + m / np.maximum(lb, 1) + (m - t) / np.maximum(m, 1)) / 3, 0.0)
    if winkler:
        width = min(4, ma.shape[1], mb.shape[1])
        same = (ma[:, :width] == mb[:, :width]) & (np.arange(width)[None, :] < np.minimum(la, lb)[:, None])
        prefix = np.argmin(np.concatenate([same, np.zeros((rows, 1), bool)], axis=1), axis=1)
        if cutoff > 0.7:
            # DuckDB's (rapidfuzz's) cutoff first bounds the Jaro score the prefix bonus has to start from
            bonus = prefix * 0.1
            sim = np.where(sim >= np.maximum(0.7, (bonus - cutoff) / (bonus - 1.0)), sim, 0.0)
        sim = np.where(sim > 0.7, sim + prefix * 0.1 * (1.0 - sim), sim)
    sim = np.where(sim >= cutoff, sim, 0.0)
    out = pa.array(sim, pa.float64(), mask=~valid)
    return out[0] if scalar else out


@kernel("grouping_bits")
def _grouping_bits(name, args, dtype, n):
    gid, positions = args
    pos = [int(p) for p in positions.as_py().split(",")]
    # the Aggregate encodes bit (k-1-i) for key i; GROUPING(a, b) puts a's bit above b's
    total = None
    for j, p in enumerate(pos):
        shift = len(pos) - 1 - j
        # the aggregate operator stores key i's "aggregated away" flag at bit i of the grouping id
        bit = pc.bit_wise_and(pc.shift_right(gid, pa.scalar(p, pa.int64())), 1)
        term = pc.shift_left(bit, pa.scalar(shift, pa.int64()))
        total = term if total is None else pc.bit_wise_or(total, term)
    return total


def unsupported(name: str):
    raise ExecutionError(f"function `{name}` has no implementation",
                         hint="this is a bug in quarry; please report it")


@kernel("check_unsigned")
def _check_unsigned(name, args, dtype, n):
    """A BIGINT value cast to an unsigned type (``UTINYINT``...), failing outside ``0 .. top``."""
    value, top, type_name = (a.as_py() if isinstance(a, pa.Scalar) and i else a for i, a in enumerate(args))
    bad = pc.or_(pc.less(value, 0), pc.greater(value, top))
    if isinstance(value, pa.Scalar):
        first = value.as_py() if bad.as_py() else None
    else:
        wrong = pc.filter(value, bad)
        first = wrong[0].as_py() if len(wrong) else None
    if first is not None:
        raise CastOverflowError(f"cannot cast value to {type_name}: {first} is out of range 0 to {top}",
                                hint="check the data, or use TRY_CAST to get NULL for bad values")
    return value


@kernel("check_single_row")
def _check_single_row(name, args, dtype, n):
    """The value of a correlated scalar subquery, failing if a key matched several rows."""
    value, count = args
    if not isinstance(count, pa.Scalar) and pc.any(pc.greater(count, 1)).as_py():
        raise ExecutionError("more than one row returned by a subquery used as an expression",
                             hint="add an aggregate (max, any_value) or a LIMIT 1 to the subquery")
    return value


def series_lists(name: str, start: np.ndarray, stop: np.ndarray, step: np.ndarray, valid: np.ndarray) -> pa.Array:
    """The list ``range(start, stop, step)`` (``generate_series``: stop included) of each row, vectorized."""
    if np.any(valid & (step == 0)):
        raise DataError(f"{name}() step cannot be 0")
    step = np.where(valid, step, 1)
    span = np.where(valid, stop - start, 0)
    if name == "range":
        count = np.where(step > 0, (span + step - 1) // step, (span + step + 1) // step)
    else:
        count = np.where((span >= 0) == (step > 0), span // step + 1, 0)
        count = np.where(span == 0, 1, count)
    count = np.where(valid, np.maximum(count, 0), 0).astype(np.int64)
    total = int(count.sum())
    if total > 100_000_000:
        raise DataError(f"{name}() would make {total} rows, more than 100000000")
    offsets = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=offsets[1:])
    within = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], count)
    values = np.repeat(start, count) + np.repeat(step, count) * within
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values, pa.int64()),
                                         mask=pa.array(~valid)).cast(pa.list_(pa.int64()))


@kernel("__range_list", "__generate_series_list")
def _series_list(name, args, dtype, n):
    """Each row's range / generate_series as a list (quarry.sql.series.series_lists)."""
    cols = [pa.array([a.as_py()] * n, pa.int64()) if isinstance(a, pa.Scalar) else a.cast(pa.int64())
            for a in args]
    valid = np.ones(n, dtype=bool)
    for c in cols:
        valid &= ~np.asarray(c.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = [np.asarray(c.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64) for c in cols]
    return series_lists(name.strip("_").removesuffix("_list"), *values, valid)


@kernel("series_list")
def _scalar_series_list(name, args, dtype, n):
    """range(...) / generate_series(...) in an expression: each row's series as a list; a zero step
    gives an empty list there, as in DuckDB (the table functions fail on it)."""
    scalar = all(_is_scalar(a) for a in args[1:])
    rows = 1 if scalar else n
    cols = [to_array(a, rows) for a in args[1:]]
    valid = np.ones(rows, dtype=bool)
    for c in cols:
        valid &= ~np.asarray(c.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    start, stop, step = (np.asarray(pc.fill_null(c, 0).to_numpy(zero_copy_only=False), dtype=np.int64) for c in cols)
    zero = step == 0
    stop, step = np.where(zero, start, stop), np.where(zero, 1, step)
    out = series_lists(args[0].as_py(), start, stop, step, valid)
    if args[0].as_py() == "generate_series" and zero.any():
        # generate_series(a, a) is [a]; with a zero step DuckDB's is empty
        lengths = np.where(zero | ~valid, 0, np.asarray(pc.list_value_length(out).fill_null(0).to_numpy(zero_copy_only=False)))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat = pc.list_flatten(pc.if_else(pa.array(zero), pa.scalar([], out.type), out))
        out = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), flat, mask=pa.array(~valid))
    return out[0] if scalar else out


# the LIST, STRUCT and MAP kernels attach themselves to their definitions on import
from quarry.compute import nested_kernels  # noqa: E402,F401

# the kernels of the Spark-semantics functions (quarry.logical.spark_functions)
from quarry.compute import spark_kernels  # noqa: E402,F401
from quarry.compute import format_kernels  # noqa: E402,F401
