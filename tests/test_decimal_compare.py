"""Comparisons of short decimals (DECIMAL(p <= 18)) with constants run on their 64-bit integers;
they must give exactly what Arrow's decimal128 comparison gives."""

import decimal

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings, strategies as st

from quarry.compute.kernels import _compare

OPS = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(-10**15 + 1, 10**15 - 1), min_size=1, max_size=50),
       scale=st.integers(0, 4), constant=st.integers(-10**16, 10**16), constant_scale=st.integers(0, 6),
       op=st.sampled_from(OPS), flip=st.booleans(), offset=st.integers(0, 3))
def test_short_decimal_comparisons_match_arrow(values, scale, constant, constant_scale, op, flip, offset):
    column = pa.array([decimal.Decimal(v).scaleb(-scale) for v in values], pa.decimal128(18, scale))
    column = column.slice(min(offset, len(values) - 1))
    value = pa.scalar(decimal.Decimal(constant).scaleb(-constant_scale), pa.decimal128(20, constant_scale))
    args = [value, column] if flip else [column, value]
    assert _compare(op, args, None, len(column)).equals(getattr(pc, op)(*args))


def test_columns_with_nulls_and_integer_constants_match_arrow():
    column = pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("-3.00")], pa.decimal128(15, 2))
    for op in OPS:
        for constant in (pa.scalar(1, pa.int64()), pa.scalar(decimal.Decimal("-3"), pa.decimal128(3, 0))):
            assert _compare(op, [column, constant], None, 3).equals(getattr(pc, op)(column, constant))
