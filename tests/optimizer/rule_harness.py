"""Helpers for optimizer rule tests: bind SQL, apply one rule, snapshot the plan, run both plans.

Every rule test follows the same four steps (see /work/shared/STYLE.md):

1. bind SQL to an unoptimized logical plan (``bound``);
2. apply the one rule under test, after its prerequisites (``rewrite``);
3. compare the rewritten plan's text with a snapshot written in the test (``assert_plan``);
4. execute the plan before and after with the physical planner alone, no optimizer,
   and compare the rows (``assert_same_rows``), so the rewrite is proven to keep its meaning.

Negative cases assert ``rewrite(...) is plan``: rules return the very same object
when they do not fire.
"""

from __future__ import annotations

import textwrap
from types import ModuleType

import pyarrow as pa

from quarry.execution.executor import run_physical
from quarry.logical.plan import LogicalPlan
from quarry.optimizer.rule import OptimizerContext
from quarry.physical.base import ExecContext
from quarry.physical.planner import PhysicalPlanner
from quarry.testing import assert_tables_equal

# The tables of the ``con`` fixture (see conftest.py): small, with NULLs and unmatched keys.
EMP = pa.table({
    "id": pa.array([1, 2, 3, 4, 5, 6, 7, 8], pa.int64()),
    "dept_id": pa.array([10, 10, 20, 20, 20, 30, None, 40], pa.int64()),
    "salary": pa.array([100, 200, 150, None, 300, 50, 80, 120], pa.int64()),
    "name": ["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal"],
})
DEPT = pa.table({
    "id": pa.array([10, 20, 30, 50], pa.int64()),
    "dname": ["eng", "ops", "hr", "legal"],
    "budget": pa.array([1000.0, 500.0, None, 200.0], pa.float64()),
})
EVENTS = pa.table({
    "day": pa.array(list(range(1, 13)), pa.int64()),
    "kind": ["a", "b", "c"] * 4,
    "amount": pa.array([float(i * 10) for i in range(1, 13)], pa.float64()),
})


def bound(con, sql: str) -> LogicalPlan:
    """The bound, unoptimized logical plan of ``sql``."""
    return con.sql(sql).logical_plan


def apply_once(rule: ModuleType, plan: LogicalPlan) -> LogicalPlan:
    """Apply ``rule`` (a module of ``quarry.optimizer.rules``) one time."""
    return rule.apply(plan, OptimizerContext({}))


def to_fixed_point(plan: LogicalPlan, *rules: ModuleType, limit: int = 30) -> LogicalPlan:
    """Apply ``rules`` in order, round after round, until none changes the plan (like a FixedPoint batch)."""
    for _ in range(limit):
        before = plan
        for r in rules:
            plan = apply_once(r, plan)
        if plan is before:
            return plan
    raise AssertionError(f"rules {[r.__name__ for r in rules]} did not reach a fixed point in {limit} rounds")


def rewrite(rule: ModuleType, plan: LogicalPlan, prerequisites: tuple[ModuleType, ...] = ()) -> LogicalPlan:
    """Run ``prerequisites`` to a fixed point (if any), then ``rule`` once; returns the new plan."""
    if prerequisites:
        plan = to_fixed_point(plan, *prerequisites)
    return apply_once(rule, plan)


def snapshot(text: str) -> str:
    """A plan snapshot written as an indented triple-quoted string in a test."""
    return textwrap.dedent(text).strip("\n")


def assert_plan(plan: LogicalPlan, expected: str) -> None:
    """The plan's ``pretty()`` text equals the ``expected`` snapshot (dedented)."""
    actual = plan.pretty()
    expected = snapshot(expected)
    assert actual == expected, f"plan differs from snapshot\n--- actual ---\n{actual}\n--- expected ---\n{expected}"


def execute(con, plan: LogicalPlan) -> pa.Table:
    """Run ``plan`` as it is (no optimizer) with the physical planner."""
    config = con.exec_config()
    table = run_physical(PhysicalPlanner(config).plan(plan), ExecContext(config))
    return pa.Table.from_arrays(table.columns, names=[f.name for f in plan.schema])


def execute_physical(con, plan: LogicalPlan):
    """Run ``plan`` (no optimizer); return (table, physical plan) so tests can read operator metrics."""
    config = con.exec_config()
    physical = PhysicalPlanner(config).plan(plan)
    return run_physical(physical, ExecContext(config)), physical


def assert_same_rows(con, before: LogicalPlan, after: LogicalPlan, *, ordered: bool = False) -> pa.Table:
    """Both plans produce the same rows (as multisets unless ``ordered``); returns the rows."""
    expected = execute(con, before)
    actual = execute(con, after)
    assert_tables_equal(actual, expected, ordered=ordered, check_names=False)
    return actual


def assert_rows_like_duckdb(con, duck, plan: LogicalPlan, sql: str, *, ordered: bool = False) -> pa.Table:
    """``plan`` (run by quarry, no optimizer) gives DuckDB's answer to ``sql``."""
    actual = execute(con, plan)
    expected = duck.sql(sql).to_arrow_table()
    assert_tables_equal(actual, expected, ordered=ordered, check_names=False)
    return actual
