"""Kernels of ``printf`` and ``format``: each field of the (constant) format rendered over the whole column.

The format is parsed once per batch (:mod:`quarry.logical.format_strings`); each field becomes a string
column by casts and Arrow's padding kernels, and ``binary_join_element_wise`` glues the pieces. Numbers
with ``%.nf`` go through ``decimal256(40, 20)``, which Arrow fills with the double's exact digits, and are
rounded half to even there, as C rounds the exact binary value (``printf('%.2f', 2.675)`` is ``2.67``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import UnsupportedError
from quarry.logical import format_strings
from quarry.logical import types as T
from quarry.compute.kernels import cast_value, kernel, to_array

_FIXED_LIMIT = 10**17                 # |x| below this has 17 integer digits at most
_MAX_PRECISION = 20


def _fixed(x: pa.Array, precision: int) -> tuple[pa.Array, pa.Array]:
    """``x`` in fixed-point with ``precision`` decimals: (is negative, the digits without a sign).

    A DECIMAL is formatted as the DOUBLE it converts to, as DuckDB does. The double's exact value, to
    20 decimals, is a decimal256(40, 20); it is rounded half to even there, and 10**17 is added so that
    Arrow prints it in plain notation with a fixed layout (``1``, 17 integer digits, ``.``, 20 more).
    """
    if precision > _MAX_PRECISION:
        raise UnsupportedError(f"printf/format precision {precision} for a number",
                               hint=f"use at most {_MAX_PRECISION} decimals")
    x = cast_value(x, T.FLOAT64)
    values = np.asarray(pc.fill_null(x, 0.0))
    negative = pa.array(np.signbit(values))
    magnitude = pc.abs(x)
    finite = pc.is_finite(magnitude)
    if pc.any(pc.and_(finite, pc.greater_equal(magnitude, float(_FIXED_LIMIT)))).as_py():
        raise UnsupportedError("printf/format %f of a number of 1e17 or more",
                               hint="use %s or {} for such numbers, which print them in full")
    wide = pa.decimal256(40, _MAX_PRECISION)
    exact = pc.cast(pc.if_else(finite, magnitude, 0.0), wide, safe=False)
    rounded = pc.round(exact, precision, round_mode="half_to_even")
    text = pc.cast(pc.add(rounded, pa.scalar(_FIXED_LIMIT, pa.decimal256(40, 0)).cast(wide)), T.STRING)
    whole = pc.utf8_ltrim(pc.utf8_slice_codeunits(text, 1, 18), "0")
    whole = pc.if_else(pc.equal(pc.utf8_length(whole), 0), "0", whole)
    digits = pc.binary_join_element_wise(whole, pc.utf8_slice_codeunits(text, 18, 19 + precision), "") \
        if precision else whole
    special = pc.if_else(pc.is_nan(magnitude), "nan", "inf")
    return negative, pc.if_else(finite, digits, special)


def _integer(x: pa.Array) -> tuple[pa.Array, pa.Array]:
    if x.type == T.BOOL:
        x = pc.cast(x, T.INT8)
    elif T.is_decimal(x.type):
        x = cast_value(x, T.INT64)          # a DECIMAL(p, 0): the binder let only those through
    text = pc.cast(x, T.STRING)
    negative = pc.fill_null(pc.starts_with(text, "-"), False)
    return negative, pc.if_else(negative, pc.utf8_slice_codeunits(text, 1), text)


_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_RADIX = {"x": 16, "X": 16, "o": 8, "b": 2}


def _radix(x: pa.Array, conversion: str, twos_complement: bool) -> tuple[pa.Array, pa.Array]:
    """Integers in hex, octal or binary: (is negative, the digits). printf writes a negative value's
    64-bit two's complement (``%x`` of -1 is ``ffffffffffffffff``), format its sign and magnitude.

    The digits are computed for all rows at once, one digit position at a time (at most 64)."""
    if x.type == T.BOOL:
        x = pc.cast(x, T.INT8)
    elif T.is_decimal(x.type):
        x = cast_value(x, T.INT64)
    values = np.asarray(pc.fill_null(pc.cast(x, T.INT64), 0))
    negative = values < 0
    if twos_complement:
        magnitude = values.view(np.uint64)
        negative = np.zeros(len(values), bool)
    else:          # -(v + 1) + 1 keeps INT64's minimum in range
        magnitude = np.where(negative, (-(values + 1)).astype(np.uint64) + np.uint64(1), values.astype(np.uint64))
    base = np.uint64(_RADIX[conversion])
    width = {16: 16, 8: 22, 2: 64}[int(base)]
    digits = np.empty((len(values), width), np.uint8)
    rest = magnitude.copy()
    for position in range(width - 1, -1, -1):
        digits[:, position] = _DIGITS[(rest % base).astype(np.int64)]
        rest //= base
    if conversion == "X":
        digits = np.where(digits >= ord("a"), digits - 32, digits).astype(np.uint8)
    # significant digits: the leading zeros dropped, one digit kept for 0
    nonzero = digits != ord("0")
    used = width - np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), width - 1)
    keep = np.arange(width)[None, :] >= (width - used)[:, None]
    offsets = np.concatenate([[0], np.cumsum(used)]).astype(np.int32)
    text = pa.Array.from_buffers(T.STRING, len(values), [None, pa.py_buffer(offsets.tobytes()),
                                                         pa.py_buffer(digits[keep].tobytes())])
    return pa.array(negative), text


def _as_text(x: pa.Array) -> pa.Array:
    """A value printed as DuckDB's ``{}`` and ``%s`` print it (a DECIMAL as a DOUBLE, as fmt does)."""
    if T.is_string(x.type):
        return x
    if T.is_decimal(x.type):
        x = cast_value(x, T.FLOAT64)
    return cast_value(x, T.STRING)


def _pad(text: pa.Array, width: int, align: str, fill: str) -> pa.Array:
    if width <= 0:
        return text
    if align == "<":
        return pc.utf8_rpad(text, width, fill)
    if align == "^":
        return pc.utf8_center(text, width, fill)
    return pc.utf8_lpad(text, width, fill)


def _field(spec: format_strings.Spec, x: pa.Array, printf: bool) -> pa.Array:
    number = T.is_numeric(x.type)
    if spec.conversion == "d" or (spec.conversion == "" and T.is_integer(x.type)):
        negative, digits = _integer(x)
    elif spec.conversion == "f":
        negative, digits = _fixed(x, 6 if spec.precision is None else spec.precision)
    elif spec.conversion in _RADIX:
        negative, digits = _radix(x, spec.conversion, twos_complement=printf)
    else:
        text = _as_text(x)
        if spec.precision is not None:
            text = pc.utf8_slice_codeunits(text, 0, spec.precision)
        align = spec.align or (">" if number else "<")       # fmt's defaults (printf's spec has one)
        return _pad(text, spec.width, align, spec.fill)
    prefix = _prefix(spec, printf)
    sign = pc.if_else(negative, "-", "+" if spec.plus else " " if spec.space else "")
    if spec.zero and spec.width:
        # zeros go between the sign (and 0x) and the digits: -0042, 0x00ff
        with_sign = pc.binary_join_element_wise(sign, pa.scalar(prefix),
                                                _pad(digits, spec.width - 1 - len(prefix), ">", "0"), "")
        bare = pc.binary_join_element_wise(pa.scalar(prefix), _pad(digits, spec.width - len(prefix), ">", "0"), "")
        return pc.if_else(pc.equal(pc.utf8_length(sign), 0), bare, with_sign)
    return _pad(pc.binary_join_element_wise(sign, pa.scalar(prefix), digits, ""), spec.width, spec.align or ">",
                spec.fill)


def _prefix(spec: format_strings.Spec, printf: bool) -> str:
    """What ``#`` writes before hex, octal or binary digits (C: ``0x``, ``0``; fmt: ``0x``, ``0o``, ``0b``)."""
    if not spec.alternate:
        return ""
    return {"x": "0x", "X": "0X", "o": "0" if printf else "0o", "b": "0b"}[spec.conversion]


@kernel("printf")
@kernel("format")
def _format(name, args, dtype, n):
    fmt = args[0]
    if not isinstance(fmt, pa.Scalar):
        raise UnsupportedError(f"{name}() with a format that is not a constant string")
    constant = all(isinstance(a, pa.Scalar) for a in args)
    rows = 1 if constant else n
    values = [to_array(a, rows) for a in args[1:]]
    pieces = [p if isinstance(p, str) else _field(p, values[p.arg], name == "printf")
              for p in format_strings.parse(name, fmt.as_py())]
    if all(isinstance(p, str) for p in pieces):          # no fields: the text itself on every row
        out = to_array(pa.scalar("".join(pieces), T.STRING), rows)
    else:
        out = pc.binary_join_element_wise(*pieces, "")
    # a NULL argument makes the result NULL even where the format does not read it, as in DuckDB
    for v in values:
        if v.null_count:
            out = pc.if_else(v.is_valid(), out, pa.scalar(None, T.STRING))
    return out[0] if constant else out
