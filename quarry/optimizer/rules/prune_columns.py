"""Keep only the columns a query needs, all the way down to the scans.

    Project: l_returnflag                         Project: l_returnflag
      Filter: l_quantity > 10              ==>      Filter: l_quantity > 10
        Scan: lineitem (16 columns)                   Scan: lineitem columns=[l_returnflag, l_quantity]

Walks top-down with the set of column ids the parent needs: a Project drops
unused expressions, an Aggregate unused aggregates, a Window unused window
functions, and a Scan reads only the needed columns (the columns its pushed
filters use are read separately by the scan operator). The root keeps its exact
output. Union, INTERSECT and EXCEPT keep all their columns, since their inputs
match by position. Runs last, after every rule that moves expressions.
"""

from __future__ import annotations

from quarry.logical.plan import (
    Aggregate, Filter, Join, Limit, LogicalPlan, Project, Scan, SingleRow, Sort, Window,
)
from quarry.optimizer.rule import rule


def _ids(exprs) -> set[int]:
    out: set[int] = set()
    for e in exprs:
        out |= e.column_ids()
    return out


def prune(node: LogicalPlan, required: set[int]) -> LogicalPlan:
    """``node`` producing at least the ``required`` ids (and usually nothing more)."""
    if isinstance(node, Project):
        keep = [(e, f) for e, f in zip(node.exprs, node.fields) if f.id in required]
        child = prune(node.input, _ids(e for e, _ in keep))
        if len(keep) == len(node.exprs) and child is node.input:
            return node
        return Project(child, tuple(e for e, _ in keep), tuple(f for _, f in keep))
    if isinstance(node, Filter):
        child = prune(node.input, required | node.predicate.column_ids())
        return node if child is node.input else Filter(child, node.predicate)
    if isinstance(node, Scan):
        wanted = tuple(i for i, f in enumerate(node.table_fields) if f.id in required)
        current = node.projection if node.projection is not None else tuple(range(len(node.table_fields)))
        if current == wanted:
            return node
        return Scan(node.source, node.table_fields, wanted, node.filters, node.alias)
    if isinstance(node, Aggregate):
        if node.grouping_sets is not None:
            child = prune(node.input, _ids(node.group_exprs) | _ids(node.aggs))
            return node if child is node.input else node.with_children([child])
        keep = [(a, f) for a, f in zip(node.aggs, node.agg_fields) if f.id in required]
        if not keep and not node.group_exprs and node.aggs:
            # an aggregate without keys always yields one row; keep an aggregate so it still does
            keep = [(node.aggs[0], node.agg_fields[0])]
        child = prune(node.input, _ids(node.group_exprs) | _ids(a for a, _ in keep))
        if len(keep) == len(node.aggs) and child is node.input:
            return node
        return Aggregate(child, node.group_exprs, node.group_fields, tuple(a for a, _ in keep),
                         tuple(f for _, f in keep))
    if isinstance(node, Join):
        cond = node.condition.column_ids() if node.condition is not None else set()
        need = required | cond
        left = prune(node.left, need & node.left.schema_ids)
        right = prune(node.right, need & node.right.schema_ids)
        if left is node.left and right is node.right:
            return node
        return Join(left, right, node.kind, node.condition, node.null_aware)
    if isinstance(node, Window):
        keep = [(w, f) for w, f in zip(node.exprs, node.fields) if f.id in required]
        if not keep:
            return prune(node.input, required - {f.id for f in node.fields})
        child = prune(node.input, (required - {f.id for f in node.fields}) | _ids(w for w, _ in keep))
        if len(keep) == len(node.exprs) and child is node.input:
            return node
        return Window(child, tuple(w for w, _ in keep), tuple(f for _, f in keep))
    if isinstance(node, Sort):
        child = prune(node.input, required | _ids(node.keys))
        return node if child is node.input else Sort(child, node.keys, node.fetch)
    if isinstance(node, (Limit, SingleRow)):
        child = prune(node.input, required)
        return node if child is node.input else node.with_children([child])
    # Union, SetOp, Values, Cached: inputs are positional or literal; prune below them afresh
    kids = node.children()
    new = [prune(k, set(k.schema_ids)) for k in kids]
    return node.with_children(new) if kids else node


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    pruned = prune(plan, set(plan.schema_ids))
    if tuple(f.id for f in pruned.schema) != tuple(f.id for f in plan.schema):
        # the root may only drop nothing: restore its exact output
        return Project(pruned, tuple(_ref(f) for f in plan.schema), plan.schema)
    return pruned


def _ref(f):
    from quarry.logical.expressions import ColumnRef
    return ColumnRef(f)
