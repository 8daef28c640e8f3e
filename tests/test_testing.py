"""Tests of the result comparator in quarry.testing."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quarry.testing import assert_tables_equal, compare_tables


def table(**columns: pa.Array | list) -> pa.Table:
    """Build a table from keyword columns."""
    return pa.table(columns)


def equal(actual: pa.Table, expected: pa.Table, **kwargs) -> bool:
    """Return whether the comparator finds the tables equal (ordered unless told)."""
    kwargs.setdefault("ordered", True)
    return compare_tables(actual, expected, **kwargs) is None


# --- decimals and integers ----------------------------------------------------


def test_decimals_with_different_precision_and_scale_are_equal_by_value() -> None:
    actual = table(x=pa.array([Decimal("1.50"), Decimal("-3.10"), None], pa.decimal128(38, 2)))
    expected = table(x=pa.array([Decimal("1.5"), Decimal("-3.1"), None], pa.decimal128(18, 1)))
    assert equal(actual, expected)


def test_decimals_differing_in_the_last_digit_are_reported() -> None:
    actual = table(x=pa.array([Decimal("1.50"), Decimal("2.01")], pa.decimal128(38, 2)))
    expected = table(x=pa.array([Decimal("1.50"), Decimal("2.00")], pa.decimal128(15, 2)))
    message = compare_tables(actual, expected, ordered=True)
    assert message is not None
    assert "1 of 2 compared rows differ" in message
    assert "2.01 *" in message and "2.00 *" in message


def test_decimal_against_float_is_a_kind_mismatch() -> None:
    actual = table(x=pa.array([Decimal("1.5")], pa.decimal128(38, 2)))
    expected = table(x=pa.array([1.5], pa.float64()))
    message = compare_tables(actual, expected, ordered=True)
    assert message is not None
    assert "kinds differ" in message and "decimal" in message and "float" in message


def test_integers_of_any_width_and_scale_zero_decimals_are_equal() -> None:
    expected = table(x=pa.array([1, 2**40, None], pa.int64()))
    assert equal(table(x=pa.array([1, 2**40, None], pa.decimal128(38, 0))), expected)
    assert equal(table(x=pa.array([1, 2, None], pa.int32())), table(x=pa.array([1, 2, None])))


def test_integer_against_scaled_decimal_is_a_kind_mismatch() -> None:
    actual = table(x=pa.array([Decimal("1.00")], pa.decimal128(15, 2)))
    message = compare_tables(actual, table(x=pa.array([1], pa.int64())), ordered=True)
    assert message is not None and "kinds differ" in message


# --- floats -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (1.0, 1.0 + 0.9e-9, True),  # inside the default rel_tol of 1e-9
        (1.0, 1.0 + 1.1e-9, False),  # just outside it
        (1e6, 1e6 * (1 + 0.9e-9), True),  # the tolerance is relative
        (1e6, 1e6 + 0.01, False),
        (0.0, 0.9e-12, True),  # absolute tolerance near zero
        (0.0, 1.1e-12, False),
        (-0.0, 0.0, True),
        (math.nan, math.nan, True),
        (math.nan, 1.0, False),
        (math.inf, math.inf, True),
        (math.inf, -math.inf, False),
        (math.inf, 1e308, False),
    ],
)
def test_float_tolerance_boundary(a: float, b: float, same: bool) -> None:
    assert equal(table(x=[a]), table(x=[b])) is same
    assert equal(table(x=[b]), table(x=[a])) is same


def test_rel_tol_is_configurable() -> None:
    assert not equal(table(x=[1.0]), table(x=[1.001]))
    assert equal(table(x=[1.0]), table(x=[1.001]), rel_tol=1e-2)


def test_float32_and_float64_are_one_kind() -> None:
    assert equal(table(x=pa.array([0.5], pa.float32())), table(x=pa.array([0.5], pa.float64())))


# --- NULLs, strings, dates ----------------------------------------------------------


def test_null_equals_only_null() -> None:
    assert equal(table(x=pa.array([None], pa.int64())), table(x=pa.array([None], pa.int64())))
    assert not equal(table(x=[None]), table(x=[0]))
    assert not equal(table(x=pa.array([None], pa.string())), table(x=[""]))
    assert not equal(table(x=pa.array([None], pa.float64())), table(x=[math.nan]))


def test_all_null_column_matches_any_kind() -> None:
    assert equal(table(x=pa.nulls(2)), table(x=pa.array([None, None], pa.decimal128(38, 2))))


def test_string_types_are_one_kind_and_compared_exactly() -> None:
    expected = table(s=pa.array(["a", "b", None], pa.string()))
    for string_type in (pa.large_string(), pa.string_view()):
        assert equal(table(s=pa.array(["a", "b", None], string_type)), expected)
    assert equal(table(s=pa.array(["a", "b", None]).dictionary_encode()), expected)
    assert not equal(table(s=["a", "b ", None]), expected)
    assert not equal(table(s=["A", "b", None]), expected)


def test_date_equals_timestamp_at_midnight_only() -> None:
    dates = table(d=pa.array([datetime.date(1998, 9, 2)], pa.date32()))
    midnight = table(d=pa.array([datetime.datetime(1998, 9, 2)], pa.timestamp("us")))
    noon = table(d=pa.array([datetime.datetime(1998, 9, 2, 12)], pa.timestamp("us")))
    assert equal(dates, midnight)
    assert equal(midnight, dates)
    assert not equal(dates, noon)


def test_boolean_against_integer_is_a_kind_mismatch() -> None:
    message = compare_tables(table(b=[True]), table(b=[1]), ordered=True)
    assert message is not None and "kinds differ" in message


# --- order -----------------------------------------------------------------------


def test_order_matters_only_when_ordered() -> None:
    actual = table(k=["b", "a", None], v=[2.0, 1.0, math.nan])
    expected = table(k=[None, "a", "b"], v=[math.nan, 1.0 + 1e-12, 2.0])
    assert equal(actual, expected, ordered=False)
    message = compare_tables(actual, expected, ordered=True)
    assert message is not None and "ordered comparison" in message


def test_unordered_comparison_counts_duplicates() -> None:
    assert not equal(table(x=[1, 1, 2]), table(x=[1, 2, 2]), ordered=False)
    assert equal(table(x=[1, 2, 1]), table(x=[1, 1, 2]), ordered=False)


def test_unordered_comparison_sorts_mixed_integer_and_decimal_sides_alike() -> None:
    actual = table(x=pa.array([3, None, 1], pa.int64()), y=["c", "n", "a"])
    expected = table(x=pa.array([1, 3, None], pa.decimal128(38, 0)), y=["a", "c", "n"])
    assert equal(actual, expected, ordered=False)


def test_nested_columns_fall_back_to_python_comparison() -> None:
    assert equal(table(l=[[2], [1, None]]), table(l=[[1, None], [2]]), ordered=False)
    assert not equal(table(l=[[2], [1]]), table(l=[[1], [3]]), ordered=False)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | st.integers(-5, 5),
            st.none() | st.floats(allow_nan=True, allow_infinity=True),
            st.none() | st.sampled_from(["", "a", "b", "é"]),
        ),
        max_size=30,
    ),
    st.randoms(use_true_random=False),
)
def test_any_permutation_is_equal_unordered(rows, rnd) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)

    def build(data):
        i, f, s = zip(*data) if data else ((), (), ())
        return pa.table(
            {
                "i": pa.array(i, pa.int64()),
                "f": pa.array(f, pa.float64()),
                "s": pa.array(s, pa.string()),
            }
        )

    assert_tables_equal(build(shuffled), build(rows), ordered=False)


# --- columns and messages --------------------------------------------------------


def test_column_names_compare_case_insensitively() -> None:
    assert equal(table(L_RETURNFLAG=["A"]), table(l_returnflag=["A"]))
    message = compare_tables(table(a=[1]), table(b=[1]), ordered=True)
    assert message is not None and "column names differ" in message and "'a' vs 'b'" in message
    assert equal(table(a=[1]), table(b=[1]), check_names=False)


def test_column_count_mismatch_is_reported() -> None:
    message = compare_tables(table(a=[1], b=[2]), table(a=[1]), ordered=False)
    assert message is not None
    assert "column count: actual has 2 [a, b], expected 1 [a]" in message


def test_row_count_mismatch_message_is_readable_unordered() -> None:
    actual = table(
        flag=["A", "N"],
        qty=pa.array([Decimal("1.00"), Decimal("2.00")], pa.decimal128(38, 2)),
    )
    expected = table(
        flag=["A", "N", "R"],
        qty=pa.array([Decimal("1.0"), Decimal("2.0"), Decimal("3.5")], pa.decimal128(18, 1)),
    )
    # the decimals differ in precision and scale but not in value: A and N match, only R is missing,
    # and the message shows it as a small table under the column names, each value as SQL would
    assert compare_tables(actual, expected, ordered=False) == (
        "tables differ (unordered comparison, rel_tol=1e-09):\n"
        "  - row count: actual has 2 rows, expected 3\n"
        "  - 1 row only in expected; first 1:\n"
        "    flag | qty\n"
        "    'R'  | 3.5")
    # a value that really differs shows on both sides, each in its own table's scale
    expected = expected.set_column(1, "qty", pa.array([Decimal("1.0"), Decimal("2.1"), Decimal("3.5")],
                                                      pa.decimal128(18, 1)))
    assert compare_tables(actual, expected, ordered=False) == (
        "tables differ (unordered comparison, rel_tol=1e-09):\n"
        "  - row count: actual has 2 rows, expected 3\n"
        "  - 1 row only in actual; first 1:\n"
        "    flag | qty\n"
        "    'N'  | 2.00\n"
        "  - 2 rows only in expected; first 2:\n"
        "    flag | qty\n"
        "    'N'  | 2.1\n"
        "    'R'  | 3.5")


def test_row_count_mismatch_message_is_readable_ordered() -> None:
    message = compare_tables(table(x=[1, 2, 3, 4]), table(x=[1, 2]), ordered=True)
    assert message is not None
    assert "row count: actual has 4 rows, expected 2" in message
    assert "actual has 2 more rows" in message
    assert "compared rows differ" not in message


def test_first_differing_rows_are_shown_side_by_side() -> None:
    actual = table(k=list(range(20)), v=[f"v{i}" for i in range(20)])
    expected = table(k=list(range(20)), v=[f"w{i}" if i % 2 else f"v{i}" for i in range(20)])
    message = compare_tables(actual, expected, ordered=True, max_rows=3)
    assert message is not None
    assert "10 of 20 compared rows differ; first 3:" in message
    lines = message.splitlines()
    row_1 = next(i for i, line in enumerate(lines) if line.strip().startswith("1 "))
    assert "actual" in lines[row_1] and "'v1' *" in lines[row_1]
    assert "expected" in lines[row_1 + 1] and "'w1' *" in lines[row_1 + 1]


def test_assert_tables_equal_raises_with_the_description() -> None:
    assert_tables_equal(table(x=[1]), table(x=[1]), ordered=True)
    with pytest.raises(AssertionError, match="row count"):
        assert_tables_equal(table(x=[1]), table(x=[1, 1]), ordered=False)


def test_record_batches_are_accepted() -> None:
    batch = pa.record_batch({"x": [1, 2]})
    assert equal(batch, table(x=[1, 2]))


def test_large_tables_compare_unordered() -> None:
    n = 200_000
    ints = pa.array(range(n), pa.int64())
    prices = pa.array([Decimal(i) / 100 for i in range(n)], pa.decimal128(15, 2))
    actual = pa.table({"k": ints, "p": prices, "f": pa.array([i / 7 for i in range(n)])})
    expected = actual.take(pa.array(range(n - 1, -1, -1)))
    assert_tables_equal(actual, expected, ordered=False)
