"""Remove projections that do nothing and merge stacked ones.

    Project: a, b                         Project: a, (x * 2) AS b
      Project: a, (x * 2) AS b     ==>      Scan: t
        Scan: t

A Project that outputs exactly its input's columns disappears. A Project over a
Project is merged by substituting the inner expressions into the outer ones,
but only where no inner expression that computes something would be evaluated
twice (so ``disc_price`` used by two aggregates is still computed once).
"""

from __future__ import annotations

from quarry.logical.expressions import ColumnRef, Literal, replace_columns
from quarry.logical.plan import LogicalPlan, Project
from quarry.optimizer.rule import rule


def _merge(node: LogicalPlan) -> LogicalPlan:
    if not isinstance(node, Project):
        return node
    child = node.input
    if tuple(node.fields) == tuple(child.schema) and all(
            isinstance(e, ColumnRef) and e.field.id == f.id for e, f in zip(node.exprs, node.fields)):
        return child
    if isinstance(child, Project):
        uses: dict[int, int] = {}
        for e in node.exprs:
            for x in e.walk():
                if isinstance(x, ColumnRef):
                    uses[x.field.id] = uses.get(x.field.id, 0) + 1
        for e, f in zip(child.exprs, child.fields):
            if not isinstance(e, (ColumnRef, Literal)) and uses.get(f.id, 0) > 1:
                return node
        mapping = {f.id: e for f, e in zip(child.fields, child.exprs)}
        return Project(child.input, tuple(replace_columns(e, mapping) for e in node.exprs), node.fields)
    return node


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return plan.transform_up(_merge)
