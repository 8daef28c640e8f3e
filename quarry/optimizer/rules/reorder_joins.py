"""Order a chain of inner joins greedily by estimated size, never forming needless cross products.

    Join: a.x = c.x                              Project: (original column order)
      Join: cross                                  Join: a.x = c.x
        Scan: a (6M rows)              ==>           Join: b.y = a.y
        Scan: b (10 rows, filtered)                    Scan: a
      Scan: c                                          Scan: b
                                                     Scan: c

A maximal tree of inner/cross joins is flattened into its inputs and the
conjuncts of its conditions. Starting from the largest input (the fact table,
which becomes the probe side of every hash join), the next input is always one
connected to what is joined so far by a condition, choosing the one whose join
is estimated smallest (a selective filter on a dimension shrinks the result),
and each conjunct is attached to the lowest join where all its columns exist.
Only when no input is connected is a cross join formed. Correct because inner
joins are associative and commutative; a Project on top restores the original
column order. Statistics come from ``quarry.logical.statistics``. Runs after
filters have been pushed down, so the estimates see them.
"""

from __future__ import annotations

from quarry.logical.expressions import Call, ColumnRef, Expr, and_all, conjuncts
from quarry.logical.plan import Filter, Join, LogicalPlan, Project
from quarry.optimizer.rule import rule
from quarry.logical.statistics import estimate_rows


def _flatten(plan: LogicalPlan, leaves: list, conds: list) -> None:
    if isinstance(plan, Join) and plan.kind in ("inner", "cross"):
        _flatten(plan.left, leaves, conds)
        _flatten(plan.right, leaves, conds)
        conds.extend(conjuncts(plan.condition))
    else:
        leaves.append(plan)


def _join_estimate(current: LogicalPlan, cur_rows: float, leaf: LogicalPlan, leaf_rows: float,
                   cond: Expr | None) -> float:
    """Estimated rows of joining ``current`` with ``leaf`` on ``cond``."""
    if cond is None:
        return cur_rows * leaf_rows
    probe = Join(current, leaf, "inner", cond)
    return estimate_rows(probe)


def reorder(plan: Join) -> LogicalPlan:
    leaves: list[LogicalPlan] = []
    conds: list[Expr] = []
    _flatten(plan, leaves, conds)
    if len(leaves) < 3:
        return plan
    rows = [estimate_rows(l) for l in leaves]
    ids = [set(l.schema_ids) for l in leaves]
    remaining = list(range(len(leaves)))
    first = max(remaining, key=lambda i: (rows[i], -i))
    remaining.remove(first)
    current, cur_ids, cur_rows = leaves[first], set(ids[first]), rows[first]
    pending = list(conds)
    order = [first]
    while remaining:
        best = None
        for i in remaining:
            usable = [c for c in pending if c.column_ids() <= cur_ids | ids[i]
                      and c.column_ids() & ids[i] and c.column_ids() & cur_ids]
            # only an equality between the two sides makes a hash join; anything else would be
            # a nested loop, so such inputs wait until an equality connects them
            if not any(_is_equi(c, cur_ids, ids[i]) for c in usable):
                continue
            est = _join_estimate(current, cur_rows, leaves[i], rows[i], and_all(usable))
            if best is None or est < best[0] or (est == best[0] and rows[i] < rows[best[1]]):
                best = (est, i, usable)
        if best is None:
            # nothing connected: cross join the smallest remaining input
            i = min(remaining, key=lambda k: rows[k])
            est, usable = cur_rows * rows[i], []
        else:
            est, i, usable = best
        remaining.remove(i)
        order.append(i)
        cond = and_all(usable)
        pending = [c for c in pending if not any(c is u for u in usable)]
        current = Join(current, leaves[i], "inner" if cond is not None else "cross", cond)
        cur_ids |= ids[i]
        cur_rows = max(est, 1.0)
    if pending:
        # conjuncts over a single input or none (constants): keep them on top, push_down_filter moves them
        current = Filter(current, and_all(pending))
    if order == sorted(order) and _same_shape(plan, current):
        return plan
    if tuple(f.id for f in current.schema) == tuple(f.id for f in plan.schema):
        return current
    return Project(current, tuple(ColumnRef(f) for f in plan.schema), plan.schema)


def _is_equi(c: Expr, left: set[int], right: set[int]) -> bool:
    if not (isinstance(c, Call) and c.name == "equal"):
        return False
    a, b = (x.column_ids() for x in c.args)
    return bool(a and b) and ((a <= left and b <= right) or (a <= right and b <= left))


def _same_shape(a: LogicalPlan, b: LogicalPlan) -> bool:
    return a.pretty() == b.pretty()


def _visit(node: LogicalPlan) -> LogicalPlan:
    """Reorder every join chain once, innermost inputs first (chains below aggregates, subqueries)."""
    if isinstance(node, Join) and node.kind in ("inner", "cross"):
        leaves: list[LogicalPlan] = []
        _flatten(node, leaves, [])
        if len(leaves) >= 3:
            new_leaves = [_visit(leaf) for leaf in leaves]
            if any(a is not b for a, b in zip(leaves, new_leaves)):
                node = _replace_leaves(node, iter(new_leaves))
            return reorder(node)
    kids = node.children()
    new = [_visit(k) for k in kids]
    return node.with_children(new) if kids else node


def _replace_leaves(plan: LogicalPlan, it) -> LogicalPlan:
    if isinstance(plan, Join) and plan.kind in ("inner", "cross"):
        left = _replace_leaves(plan.left, it)
        right = _replace_leaves(plan.right, it)
        return plan.with_children([left, right])
    return next(it)


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return _visit(plan)
