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

Semi and anti joins (EXISTS, IN, NOT EXISTS) that pushdown left on an input are
taken off it and placed again where their left side is estimated smallest: on the
input itself, or above any join of the new order once that input is in. TPC-H Q21
filters lineitem by two correlated EXISTS over lineitem; applied after lineitem
has met the suppliers of one nation (1/25 of it), they hash and probe far fewer
rows than on all of lineitem::

    Join: inner s.nk = n.nk                  Join: anti on l1.ok = l3.ok ...
      Join: inner l1.sk = s.sk                 Join: semi on l1.ok = l2.ok ...
        Join: anti on l1.ok = l3.ok   ==>        Join: inner s.nk = n.nk
          Join: semi on l1.ok = l2.ok ...          Join: inner l1.sk = s.sk
            Scan: l1                                 Scan: l1
      ...                                            ...

Correct because a semi/anti join keeps or drops a row by that row's columns of
one input only: inner joins above that input neither change those columns nor
let a dropped row's matches survive. On ties the lowest place wins (as pushed),
so an EXISTS that filters a small input stays on it (Q18's IN on orders). The
"pushdown again" batch must not push them back down, so push_down_semi_join is
not in it (see rules/__init__.py).
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


def _peel(leaf: LogicalPlan) -> tuple[LogicalPlan, list[Join]]:
    """``leaf`` without the semi/anti joins on top of it, and those joins, innermost first."""
    peeled: list[Join] = []
    while isinstance(leaf, Join) and leaf.kind in ("semi", "anti"):
        peeled.append(leaf)
        leaf = leaf.left
    return leaf, peeled[::-1]


def _with_semi(base: LogicalPlan, semi: Join) -> Join:
    return Join(base, semi.right, semi.kind, semi.condition, semi.null_aware)


def reorder(plan: Join) -> LogicalPlan:
    leaves: list[LogicalPlan] = []
    conds: list[Expr] = []
    _flatten(plan, leaves, conds)
    if len(leaves) < 3:
        return plan
    peeled = []                     # (leaf index, semi/anti join) for every join taken off a leaf
    for i, leaf in enumerate(leaves):
        base, semis = _peel(leaf)
        if semis:
            leaves[i] = base
            peeled.extend((i, j) for j in semis)
    rows = [estimate_rows(l) for l in leaves]
    ids = [set(l.schema_ids) for l in leaves]
    remaining = list(range(len(leaves)))
    first = max(remaining, key=lambda i: (rows[i], -i))
    remaining.remove(first)
    current, cur_ids, cur_rows = leaves[first], set(ids[first]), rows[first]
    pending = list(conds)
    order = [first]
    steps = [(None, None, cur_rows)]           # (leaf joined, its condition, estimated rows after)
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
        steps.append((i, cond, cur_rows))
    if peeled:
        current = _rebuild_with_semis(leaves, rows, order, steps, peeled)
    if pending:
        # conjuncts over a single input or none (constants): keep them on top, push_down_filter moves them
        current = Filter(current, and_all(pending))
    if order == sorted(order) and _same_shape(plan, current):
        return plan
    if tuple(f.id for f in current.schema) == tuple(f.id for f in plan.schema):
        return current
    return Project(current, tuple(ColumnRef(f) for f in plan.schema), plan.schema)


def _rebuild_with_semis(leaves, rows, order, steps, peeled) -> LogicalPlan:
    """The joined inputs in ``order`` with each peeled semi/anti join where its left side is estimated
    smallest: on its own input (``rows`` of it) or after a later step; ties go to the lowest place."""
    position = {leaf: k for k, leaf in enumerate(order)}
    on_leaf: dict[int, list[Join]] = {}
    after_step: dict[int, list[Join]] = {}
    for leaf, semi in peeled:
        k = position[leaf]
        best_step, best_rows = None, rows[leaf]
        for step in range(max(k, 1), len(steps)):
            if steps[step][2] < best_rows:
                best_step, best_rows = step, steps[step][2]
        (on_leaf.setdefault(leaf, []) if best_step is None else after_step.setdefault(best_step, [])).append(semi)

    def leaf_plan(i: int) -> LogicalPlan:
        plan = leaves[i]
        for semi in on_leaf.get(i, ()):
            plan = _with_semi(plan, semi)
        return plan

    current = leaf_plan(order[0])
    for step in range(len(steps)):
        if step:
            i, cond, _ = steps[step]
            current = Join(current, leaf_plan(i), "inner" if cond is not None else "cross", cond)
        for semi in after_step.get(step, ()):
            current = _with_semi(current, semi)
    return current


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
