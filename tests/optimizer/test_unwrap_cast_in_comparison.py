"""unwrap_cast_in_comparison: compare a column in its own type instead of casting it to the literal's.

Each case: SQL -> bound plan -> unwrap_cast_in_comparison once -> snapshot -> both
plans executed and compared. Cases that must not fire assert the very same object.
"""

from __future__ import annotations

import decimal

import pyarrow as pa
import pytest

from quarry.errors import QuarryError
from quarry.optimizer.rules import unwrap_cast_in_comparison

from rule_harness import apply_once, assert_plan, assert_same_rows, bound, execute, rewrite


@pytest.fixture
def nums(con):
    """``n(x BIGINT, q INTEGER, p DECIMAL(15,2), f FLOAT)``; x holds a value beyond INTEGER's range."""
    con.register("n", pa.table({
        "x": pa.array([1, 5, 261, 10_000_000_000], pa.int64()),
        "q": pa.array([1, 2, 3, 4], pa.int32()),
        "p": pa.array([decimal.Decimal("1.50"), decimal.Decimal("11.00"), decimal.Decimal("12.25"), None],
                      pa.decimal128(15, 2)),
        "f": pa.array([1.0, 2.5, 3.0, 4.0], pa.float32()),
    }))
    return con


def test_widening_integer_cast_is_removed_and_literal_side_flipped(nums):
    plan = bound(nums, "SELECT q FROM n WHERE 2 < CAST(q AS BIGINT)")
    assert_plan(plan, """
        Project: n.q
          Filter: (2 < CAST(n.q AS BIGINT))
            Scan: n columns=[x, q, p, f]
    """)
    new = rewrite(unwrap_cast_in_comparison, plan)
    assert_plan(new, """
        Project: n.q
          Filter: (n.q > 2)
            Scan: n columns=[x, q, p, f]
    """)
    rows = assert_same_rows(nums, plan, new)
    assert sorted(rows.column("q").to_pylist()) == [3, 4]


def test_integer_to_wide_enough_decimal_cast_is_removed_inside_an_or(nums):
    plan = bound(nums, "SELECT q FROM n WHERE q + 0 = 2 OR CAST(q AS DECIMAL(12,2)) = 3.00")
    new = rewrite(unwrap_cast_in_comparison, plan)
    assert_plan(new, """
        Project: n.q
          Filter: (((CAST(n.q AS BIGINT) + 0) = 2) OR (n.q = 3))
            Scan: n columns=[x, q, p, f]
    """)
    assert_same_rows(nums, plan, new)


@pytest.mark.parametrize("sql", [
    "SELECT q FROM n WHERE q = 2.5",            # 2.5 is no INTEGER: CAST(q AS DECIMAL(11,1)) stays
    "SELECT q FROM n WHERE p <= 11.001",        # 11.001 does not fit DECIMAL(15,2)
    "SELECT q FROM n WHERE f > 2",              # float casts can round
    "SELECT q FROM n WHERE p * 1 <= 11",        # not a cast of a column
])
def test_casts_that_cannot_be_unwrapped_exactly_are_left_alone(nums, sql):
    plan = bound(nums, sql)
    assert apply_once(unwrap_cast_in_comparison, plan) is plan


# ------------------------------------------------------------------- regressions (bugs these tests found)


@pytest.mark.parametrize("sql", ["SELECT x FROM n WHERE CAST(x AS INTEGER) = 5",
                                 "SELECT x FROM n WHERE CAST(x AS DECIMAL(3,1)) < 6",
                                 "SELECT q FROM n WHERE CAST(q AS DECIMAL(10,2)) = 3.00"])
def test_narrowing_cast_is_not_unwrapped(nums, sql):
    # BIGINT -> INTEGER and INTEGER -> DECIMAL(10,2) cannot hold every value: unwrapping them
    # would hide the overflow error of the cast (unoptimized quarry and DuckDB raise one)
    plan = bound(nums, sql)
    assert apply_once(unwrap_cast_in_comparison, plan) is plan


@pytest.mark.parametrize("sql", ["SELECT x FROM n WHERE CAST(x AS INTEGER) = 5",
                                 "SELECT x FROM n WHERE CAST(x AS DECIMAL(3,1)) < 6"])
def test_narrowing_cast_keeps_its_out_of_range_error(nums, sql):
    plan = bound(nums, sql)
    new = rewrite(unwrap_cast_in_comparison, plan)
    for p in (plan, new):
        with pytest.raises(QuarryError, match="cannot cast"):
            execute(nums, p)
