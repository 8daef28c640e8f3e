"""Turn comma joins plus WHERE conditions into joins with conditions.

    Filter: a.k = b.k AND a.x > 1               Filter: a.x > 1
      Join: cross                        ==>      Join: inner on a.k = b.k
        Scan a   Scan b                             Scan a   Scan b

A conjunct of a Filter directly above an inner or cross join that references
columns of both sides moves into the join condition (the join becomes inner).
Correct because, for inner joins, a WHERE conjunct and an ON conjunct mean the
same thing. ``push_down_filter`` then moves single-side conjuncts further down,
including those of join conditions of lower joins in a chain of comma joins.
"""

from __future__ import annotations

from quarry.logical.expressions import and_all, conjuncts
from quarry.logical.functions import is_deterministic
from quarry.logical.plan import Filter, Join, LogicalPlan
from quarry.optimizer.rule import rule


def _extract(node: LogicalPlan) -> LogicalPlan:
    if not (isinstance(node, Filter) and isinstance(node.input, Join) and node.input.kind in ("inner", "cross")):
        return node
    join = node.input
    left_ids, right_ids = join.left.schema_ids, join.right.schema_ids
    moved, kept = [], []
    for c in conjuncts(node.predicate):
        ids = c.column_ids()
        if is_deterministic(c) and ids & left_ids and ids & right_ids and ids <= (left_ids | right_ids):
            moved.append(c)
        else:
            kept.append(c)
    if not moved:
        return node
    cond = and_all(conjuncts(join.condition) + moved)
    new_join = Join(join.left, join.right, "inner", cond)
    return Filter(new_join, and_all(kept)) if kept else new_join


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return plan.transform_down(_extract)
