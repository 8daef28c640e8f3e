"""The unchecked decimal product gives exactly what Arrow's checked decimal path gives.

`kernels._unchecked_multiply` multiplies decimal128 values and relabels the product with
the result type when a bound on the operands proves nothing can overflow; otherwise the
`multiply` kernel falls back to `kernels._decimal_multiply`. Hypothesis draws operand
types (any precision and scale), values (NULLs, negatives, zero, the largest and smallest
values of the type, values that fit 64 bits inside wide types), layouts (plain, sliced,
chunked, a scalar operand) and arbitrary bytes in NULL slots; the kernel must return the
same type and values as the checked path, or raise the same error. A few expressions are
also checked end to end against DuckDB, types included.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quarry
from quarry.errors import DataError
from quarry.logical import types as T
from quarry.compute import kernels
from quarry.logical.functions import definition
from quarry.testing import assert_tables_equal

MULTIPLY = definition("multiply").kernel

SETTINGS = dict(deadline=None, derandomize=True, database=None, max_examples=400,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------- values

@st.composite
def decimal_type(draw) -> pa.DataType:
    precision = draw(st.one_of(st.integers(1, 38), st.sampled_from([15, 16, 18, 19, 31, 37, 38])))
    scale = draw(st.integers(0, min(precision, 8)))
    return pa.decimal128(precision, scale)


def unscaled_values(dtype: pa.DataType):
    """Unscaled integers that fit ``dtype``, with its edges and 64-bit edges drawn often."""
    limit = 10 ** dtype.precision - 1
    edges = [v for v in (0, 1, -1, limit, -limit, 2 ** 63 - 1, -2 ** 63, 2 ** 64, -2 ** 64, 10 ** 18)
             if abs(v) <= limit]
    small = min(limit, 10 ** 12)
    return st.one_of(st.integers(-limit, limit), st.integers(-small, small), st.sampled_from(edges))


def decimal_array(unscaled: list[int | None], dtype: pa.DataType, garbage: list[int]) -> pa.Array:
    """A decimal128 array built from its unscaled values; NULL slots hold ``garbage`` bytes."""
    words = bytearray()
    for j, v in enumerate(unscaled):
        raw = garbage[j % len(garbage)] if v is None else v
        words += raw.to_bytes(16, "little", signed=True)
    valid = pa.array([v is not None for v in unscaled], pa.bool_())
    bitmap = valid.buffers()[1] if None in unscaled else None
    return pa.Array.from_buffers(dtype, len(unscaled), [bitmap, pa.py_buffer(bytes(words))])


def as_decimal(v: int, scale: int) -> Decimal:
    with decimal.localcontext() as ctx:
        ctx.prec = 100
        return Decimal(v).scaleb(-scale)


@st.composite
def operand(draw, dtype: pa.DataType, n: int):
    """A decimal array (plain, sliced or chunked) of ``n`` values of ``dtype``, or a scalar."""
    values = unscaled_values(dtype)
    if draw(st.integers(0, 5)) == 0:
        return pa.scalar(as_decimal(draw(values), dtype.scale), dtype)
    pad = draw(st.integers(0, 3))
    unscaled = draw(st.lists(st.one_of(st.none(), values), min_size=n + pad, max_size=n + pad))
    garbage = draw(st.lists(st.integers(-2 ** 127, 2 ** 127 - 1), min_size=1, max_size=3))
    arr = decimal_array(unscaled, dtype, garbage).slice(pad)
    layout = draw(st.sampled_from(["plain", "chunked"]))
    if layout == "chunked":
        cut = draw(st.integers(0, n))
        return pa.chunked_array([arr.slice(0, cut), arr.slice(cut)], dtype)
    return arr


def plain_multiply(a, b, dtype):
    """The checked path, with the final cast `evaluate` applies to a kernel's result."""
    out = kernels._decimal_multiply(a, b, dtype)
    return out if out.type == dtype else out.cast(dtype)


def outcome(fn):
    try:
        out = fn()
    except DataError:
        return "overflow"
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks() if out.num_chunks else pa.array([], out.type)
    return out.type, out.to_pylist() if not isinstance(out, pa.Scalar) else out.as_py()


# ---------------------------------------------------------------------------- kernel

@settings(**SETTINGS)
@given(st.data(), decimal_type(), decimal_type(), st.integers(0, 12))
def test_multiply_matches_checked_path(data, ta, tb, n):
    dtype = T.arithmetic_type("*", ta, tb)
    if not T.is_decimal(dtype):
        return
    a, b = data.draw(operand(ta, n)), data.draw(operand(tb, n))
    if isinstance(a, pa.Scalar) and isinstance(b, pa.Scalar):
        return
    fast = outcome(lambda: MULTIPLY("multiply", [a, b], dtype, n))
    expected = outcome(lambda: plain_multiply(a, b, dtype))
    assert fast == expected


@settings(**SETTINGS)
@given(st.data(), st.integers(1, 200))
def test_unchecked_multiply_fires_on_fitting_values(data, n):
    """Q1's shape: DECIMAL(31,4) * DECIMAL(16,2), typed DECIMAL(38,6), values far from the limit."""
    left = data.draw(st.lists(st.one_of(st.none(), st.integers(-10 ** 17, 10 ** 17)), min_size=n, max_size=n))
    right = data.draw(st.lists(st.one_of(st.none(), st.integers(-10 ** 15, 10 ** 15)), min_size=n, max_size=n))
    a = decimal_array(left, pa.decimal128(31, 4), [0])   # (arbitrary NULL slots may make it decline)
    b = decimal_array(right, pa.decimal128(16, 2), [-2 ** 100])
    dtype = pa.decimal128(38, 6)
    out = kernels._unchecked_multiply(a, b, dtype)
    assert out is not None and out.type == dtype
    assert out.to_pylist() == plain_multiply(a, b, dtype).to_pylist()


def test_unchecked_multiply_declines_what_might_overflow():
    a = pa.array([Decimal("9" * 37)], pa.decimal128(38, 0))
    b = pa.array([Decimal("99")], pa.decimal128(2, 0))
    assert kernels._unchecked_multiply(a, b, pa.decimal128(38, 0)) is None
    with pytest.raises(DataError):
        MULTIPLY("multiply", [a, b], pa.decimal128(38, 0), 1)


def test_value_digits_bounds_every_value():
    values = [0, 1, -1, 2 ** 63, -2 ** 63 - 1, 10 ** 30, -10 ** 37]
    for v in values:
        arr = decimal_array([v], pa.decimal128(38, 0), [0])
        assert 10 ** kernels._value_digits(arr) > abs(v)
    arr = decimal_array(list(np.arange(-5, 5).tolist()), pa.decimal128(38, 2), [0])
    assert kernels._value_digits(arr) == 20     # values fitting 64 bits: below 2**64 < 10**20


# ---------------------------------------------------------------------------- end to end

def test_tpch_style_expressions_match_duckdb(monkeypatch):
    """Values as DuckDB's; types and values as quarry's checked path (DuckDB types some differently)."""
    duckdb = pytest.importorskip("duckdb")
    rng = np.random.default_rng(7)
    n = 5000
    price = rng.integers(-10 ** 8, 10 ** 8, n)      # DuckDB multiplies DECIMAL(18) in 64 bits
    price[:4] = [10 ** 8 - 1, -(10 ** 8 - 1), 0, 1]
    disc = rng.integers(0, 11, n)
    tax = rng.integers(0, 9, n)
    table = pa.table({
        "g": pa.array(rng.integers(0, 4, n), pa.int32()),
        "price": pa.array([None if j % 97 == 0 else as_decimal(int(v), 2) for j, v in enumerate(price)],
                          pa.decimal128(15, 2)),
        "disc": pa.array([as_decimal(int(v), 2) for v in disc], pa.decimal128(15, 2)),
        "tax": pa.array([None if j % 89 == 0 else as_decimal(int(v), 2) for j, v in enumerate(tax)],
                        pa.decimal128(15, 2)),
    })
    queries = [
        "select g, price * (1 - disc) * (1 + tax) as charge, price * disc as revenue, "
        "(price - disc) * (tax + 1.5) as mixed from t order by g, price, disc, tax",
        "select g, sum(price * (1 - disc)) as disc_price, sum(price * (1 - disc) * (1 + tax)) as charge, "
        "sum(price * disc) as revenue, avg(price * (1 + tax)) as mean from t group by g order by g",
        "select sum(price * price) as squares, sum(price * (1 - disc) * (1 + tax) * 3) as wide, "
        "sum(cast(price as decimal(38, 2)) * (1 + tax)) as cast_wide from t",
    ]
    oracle = duckdb.connect()
    oracle.register("t", table)
    sessions = [quarry.connect(workers=0), quarry.connect(target_partitions=3)]
    for con in sessions:
        con.register("t", table)
    fast = {sql: [con.sql(sql).to_arrow() for con in sessions] for sql in queries}
    monkeypatch.setattr(kernels, "_unchecked_multiply", lambda a, b, dtype: None)
    for sql in queries:
        expected = oracle.sql(sql).to_arrow_table()
        for con, actual in zip(sessions, fast[sql]):
            assert actual.equals(con.sql(sql).to_arrow()), sql      # identical to the checked path
            assert_tables_equal(actual, expected, ordered=True, check_names=False)
