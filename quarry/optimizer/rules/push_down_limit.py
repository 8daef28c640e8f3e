"""Push LIMIT toward the data: into a Sort as a top-k, below projections, into union inputs.

    Limit: 10                         Limit: 10
      Sort: revenue DESC       ==>      Sort: revenue DESC fetch=10
        ...                               ...

Correct because a projection neither adds nor removes rows, the first n rows of
a sort are the top n, and the first n rows of a UNION ALL come from the first n
of each input. The Limit stays on top (it also applies OFFSET); the pushed copy
only lets the lower operator stop early.
"""

from __future__ import annotations

from quarry.logical.plan import Limit, LogicalPlan, Project, Sort, Union
from quarry.optimizer.rule import rule


def _push(node: LogicalPlan) -> LogicalPlan:
    if not isinstance(node, Limit) or node.limit is None:
        return node
    n = node.limit + node.offset
    child = node.input
    if isinstance(child, Sort) and (child.fetch is None or child.fetch > n):
        return Limit(Sort(child.input, child.keys, n), node.limit, node.offset)
    if isinstance(child, Project):
        return Project(Limit(child.input, node.limit, node.offset), child.exprs, child.fields)
    if isinstance(child, Limit) and child.percent is None:
        # Limit(Limit(x, a, o1), b, o2): rows o1+o2 .. of x, at most min(b, a - o2)
        inner_limit = child.limit
        limit = node.limit if inner_limit is None else max(0, min(node.limit, inner_limit - node.offset))
        return Limit(child.input, limit, child.offset + node.offset)
    if isinstance(child, Union) and any(_max_rows(i) is None or _max_rows(i) > n for i in child.inputs):
        inputs = tuple(i if _max_rows(i) is not None and _max_rows(i) <= n else Limit(i, n)
                       for i in child.inputs)
        return Limit(Union(inputs, child.fields), node.limit, node.offset)
    return node


def _max_rows(plan: LogicalPlan) -> int | None:
    """An upper bound on the rows ``plan`` yields, when a Limit or top-k below it fixes one."""
    if isinstance(plan, Limit):
        return plan.limit if plan.percent is None else None
    if isinstance(plan, Sort) and plan.fetch is not None:
        return plan.fetch
    if isinstance(plan, (Project, Sort)):
        return _max_rows(plan.input)
    return None


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return plan.transform_down(_push)
