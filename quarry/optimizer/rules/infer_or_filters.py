"""Derive single-table filters from an OR that spans tables, so each table can be filtered early.

    Filter: (n1.name = 'FRANCE' AND n2.name = 'GERMANY')          Filter: <the same OR>
         OR (n1.name = 'GERMANY' AND n2.name = 'FRANCE')   ==>       AND (n1.name = 'FRANCE' OR n1.name = 'GERMANY')
                                                                     AND (n2.name = 'GERMANY' OR n2.name = 'FRANCE')

For each scanned table below the filter, if every branch of the OR has
conjuncts that use only that table, the OR of those conjuncts is implied by the
original predicate (each branch implies its own part), so adding it never
changes the result; the original OR stays. ``push_down_filter`` then moves the
derived predicates into the scans. Runs once, before pushdown (as a fixed point
it would add the same predicates again and again).
"""

from __future__ import annotations

from quarry.logical.expressions import Call, and_all, conjuncts, disjuncts, or_all
from quarry.logical.functions import is_deterministic
from quarry.logical.plan import Filter, Join, LogicalPlan, Scan
from quarry.optimizer.rule import rule


def _tables(plan: LogicalPlan) -> list[frozenset[int]]:
    """Column-id sets of the scans reachable through inner joins and filters."""
    if isinstance(plan, Scan):
        return [frozenset(f.id for f in plan.table_fields)]
    if isinstance(plan, Filter):
        return _tables(plan.input)
    if isinstance(plan, Join) and plan.kind in ("inner", "cross"):
        return _tables(plan.left) + _tables(plan.right)
    return []


def _infer(node: LogicalPlan) -> LogicalPlan:
    if not isinstance(node, Filter):
        return node
    tables = _tables(node.input)
    parts = conjuncts(node.predicate)
    added = []
    for c in parts:
        if not (isinstance(c, Call) and c.name == "or") or not is_deterministic(c):
            continue
        branches = disjuncts(c)
        for ids in tables:
            if c.column_ids() <= ids:
                continue   # already single-table
            per_branch = [and_all([x for x in conjuncts(b) if x.column_ids() and x.column_ids() <= ids])
                          for b in branches]
            if all(p is not None for p in per_branch):
                derived = or_all(per_branch)
                if derived not in parts and derived not in added:
                    added.append(derived)
    if not added:
        return node
    return Filter(node.input, and_all(parts + added))


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return plan.transform_up(_infer)
