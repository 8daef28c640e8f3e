"""Move semi and anti joins (EXISTS, IN) below inner joins, to the input they filter.

    Join: semi on o.k = s.k                        Join: inner on o.c = c.c
      Join: inner on o.c = c.c          ==>          Join: semi on o.k = s.k
        Scan: orders   Scan: customer                  Scan: orders   Scan: subquery
      Scan: subquery                                 Scan: customer

A semi/anti join keeps or drops each left row depending only on that row's
columns named in the condition. If those all come from one input of an inner
join (or from the preserved left input of a left join), filtering that input
first and joining afterwards gives the same rows, and the later joins see
fewer of them. The same holds through a Project that passes the columns on
unchanged, and through a Filter, but only when the join can then go further
down: a semi join and a Filter right above a node neither can cross (a Limit,
an Aggregate) stay as ``push_down_filter`` leaves them, Filter first (it is the
cheaper of the two). Swapping them anyway would undo ``push_down_filter``, which
would swap them back, round after round, until the batch hit its limit.

Runs with filter pushdown, before join ordering, so the reorderer sees the
filtered input with its smaller estimate.
"""

from __future__ import annotations

from quarry.logical.expressions import ColumnRef
from quarry.logical.plan import Filter, Join, LogicalPlan, Project
from quarry.optimizer.rule import rule


def _push(node: LogicalPlan) -> LogicalPlan:
    if not (isinstance(node, Join) and node.kind in ("semi", "anti")):
        return node
    left, right = node.left, node.right
    used = (node.condition.column_ids() if node.condition is not None else set()) & left.schema_ids

    def below(child: LogicalPlan) -> Join:
        return Join(child, right, node.kind, node.condition, node.null_aware)

    if isinstance(left, Join) and left.kind in ("inner", "cross", "left"):
        if used and used <= left.left.schema_ids:
            return Join(below(left.left), left.right, left.kind, left.condition, left.null_aware)
        if used and used <= left.right.schema_ids and left.kind in ("inner", "cross"):
            return Join(left.left, below(left.right), left.kind, left.condition, left.null_aware)
        return node
    if isinstance(left, Filter):
        moved = below(left.input)
        further = _push(moved)
        return Filter(further, left.predicate) if further is not moved else node
    if isinstance(left, Project):
        passthrough = {f.id for e, f in zip(left.exprs, left.fields) if isinstance(e, ColumnRef) and e.field.id == f.id}
        if used <= passthrough:
            return Project(below(left.input), left.exprs, left.fields)
    return node


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return plan.transform_down(_push)
