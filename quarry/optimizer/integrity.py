"""Plan integrity: every column a node's expressions read is one its inputs produce.

Catalyst checks a plan's integrity after each rule; this is quarry's version of
the check that matters most with id-based columns. A ``ColumnRef`` in a node's
expressions must name a field of one of the node's children (a ``Scan``'s
filters may read any column of its table), or, inside a subquery, a column of
the query around it (a correlated, outer reference). A rule that moves a
predicate above the projection that computes its column, or prunes a column
something still reads, leaves a *dangling* reference, which otherwise shows up
only at run time as "column ... is missing from the batch".

    >>> dangling_reference(plan) is None          # doctest: +SKIP
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from quarry.logical.expressions import ColumnRef, Expr, SubqueryExpr
from quarry.logical.plan import LogicalPlan, Scan


@dataclass(frozen=True)
class DanglingReference:
    """A column read by ``node`` that neither its inputs nor an enclosing query produce."""

    node: LogicalPlan
    column: ColumnRef

    def __str__(self) -> str:
        return f"`{self.column}` (id {self.column.field.id}) read by `{self.node.describe()}`"


def _visible(node: LogicalPlan) -> frozenset[int]:
    """The column ids ``node``'s own expressions may read (besides outer references)."""
    if isinstance(node, Scan):
        return frozenset(f.id for f in node.table_fields)
    ids: set[int] = set()
    for child in node.children():
        ids |= child.schema_ids
    return frozenset(ids)


def _check_expr(e: Expr, node: LogicalPlan, visible: frozenset[int]) -> DanglingReference | None:
    for x in e.walk():
        if isinstance(x, ColumnRef) and x.field.id not in visible:
            return DanglingReference(node, x)
        if isinstance(x, SubqueryExpr):
            # the subquery sees the columns this node sees, as outer references
            found = dangling_reference(x.plan, visible)
            if found is not None:
                return found
    return None


def dangling_reference(plan: LogicalPlan, outer: frozenset[int] = frozenset()) -> DanglingReference | None:
    """The first column reference in ``plan`` that resolves to nothing, or None when all resolve.

    ``outer`` holds the ids of the enclosing queries, which a subquery's plan may read.
    """
    stack = [(plan, outer)]
    while stack:
        node, seen = stack.pop()
        visible = _visible(node) | seen
        for e in node.expressions():
            found = _check_expr(e, node, visible)
            if found is not None:
                return found
        for child in node.children():
            # a lateral join's right side reads its left side's columns
            lateral = getattr(node, "lateral", False) and child is node.right
            stack.append((child, seen | node.left.schema_ids if lateral else seen))
    return None
