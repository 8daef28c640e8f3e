"""Move filters as close to the data as they can go, and into the scans.

    Filter: l_shipdate <= DATE '1998-09-02'           Project: ...
      Project: l_returnflag, l_shipdate, ...    ==>      Scan: lineitem filters=[l_shipdate <= DATE '1998-09-02']
        Scan: lineitem

Where a conjunct may go:
* through a Project, rewritten in terms of the projection's inputs;
* into either side of an inner/cross join; into the preserved side only of an
  outer join (a filter on the NULL-supplying side would be wrong below it),
  except that a NULL-rejecting filter on that side first turns LEFT into INNER;
  into the left side of a semi join (never the left of an anti join);
* below an Aggregate when it only uses grouping keys (rewritten to the key expressions);
* below a Sort without fetch, into every input of a Union, below a Window when it
  only uses that window's partition keys;
* into the Scan, which prunes row groups with it and filters rows as it reads.
Join conditions are pushed too: a conjunct of an ON clause that uses one side
only goes to that side when the join kind allows it.
Non-deterministic conjuncts stay where they are. A conjunct calling a Python UDF stops above
the Scan (never a scan predicate), and never moves below the projection that computes the
UDF's value (it would run the UDF twice).
"""

from __future__ import annotations

from quarry.logical.expressions import ColumnRef, Expr, and_all, conjuncts, replace_columns
from quarry.logical.functions import is_deterministic, rejects_nulls
from quarry.logical.udf import contains_python_udf
from quarry.logical.plan import (
    Aggregate, Filter, Join, LogicalPlan, Project, Scan, Sort, Union, Window,
)
from quarry.optimizer.rule import rule

def null_rejecting(e: Expr, ids: frozenset[int]) -> bool:
    """True when ``e`` cannot be TRUE if every column in ``ids`` is NULL (conservative).

    Decided by the function definitions' NULL handling (``quarry.logical.functions.rejects_nulls``):
    ``r.x = 1`` rejects NULLs, ``r.x IS NULL``, ``coalesce(r.x, 0) = 0`` and ``(r.x IS NOT NULL) = FALSE``
    do not.
    """
    return bool(e.column_ids() & ids) and rejects_nulls(e, ids)


def _wrap(plan: LogicalPlan, parts: list[Expr]) -> LogicalPlan:
    pred = and_all(parts)
    return Filter(plan, pred) if pred is not None else plan


def _push_into_join(join: Join, parts: list[Expr]) -> tuple[LogicalPlan, list[Expr]]:
    left_ids, right_ids = join.left.schema_ids, join.right.schema_ids
    kind = join.kind
    if kind == "left" and any(null_rejecting(c, right_ids) for c in parts):
        kind = "inner"
    to_left, to_right, keep = [], [], []
    for c in parts:
        ids = c.column_ids()
        if not is_deterministic(c):
            keep.append(c)
        elif ids <= left_ids and kind in ("inner", "cross", "left", "semi", "anti"):
            to_left.append(c)
        elif ids <= right_ids and kind in ("inner", "cross", "right"):
            to_right.append(c)
        else:
            keep.append(c)
    if not to_left and not to_right and kind == join.kind:
        return join, parts
    new = Join(_wrap(join.left, to_left), _wrap(join.right, to_right), kind, join.condition, join.null_aware)
    return new, keep


def _push_join_condition(join: Join) -> LogicalPlan:
    """Move one-sided conjuncts of the ON clause into the join's inputs."""
    if join.condition is None:
        return join
    left_ids, right_ids = join.left.schema_ids, join.right.schema_ids
    push_left_ok = join.kind in ("inner", "semi", "right")
    push_right_ok = join.kind in ("inner", "semi", "anti", "left")
    to_left, to_right, keep = [], [], []
    for c in conjuncts(join.condition):
        ids = c.column_ids()
        if not is_deterministic(c) or not ids:
            keep.append(c)
        elif ids <= left_ids and push_left_ok:
            to_left.append(c)
        elif ids <= right_ids and push_right_ok:
            to_right.append(c)
        else:
            keep.append(c)
    if not to_left and not to_right:
        return join
    kind = join.kind
    cond = and_all(keep)
    if cond is None and kind == "inner":
        kind = "cross"
    return Join(_wrap(join.left, to_left), _wrap(join.right, to_right), kind, cond, join.null_aware)


def _push(node: LogicalPlan) -> LogicalPlan:
    if isinstance(node, Join) and node.kind != "cross":
        return _push_join_condition(node)
    if not isinstance(node, Filter):
        return node
    child = node.input
    parts = conjuncts(node.predicate)
    if isinstance(child, Filter):
        return Filter(child.input, and_all(conjuncts(child.predicate) + parts))
    if isinstance(child, Project):
        mapping = {f.id: e for f, e in zip(child.fields, child.exprs)}
        # a conjunct moves only if what it reads is deterministic too: `r < 0.5` over
        # `random() AS r` below the projection would draw a second, different random()
        # nor if it would compute a Python UDF of the projection a second time below it
        movable = [c for c in parts if is_deterministic(c) and is_deterministic(replace_columns(c, mapping))
                   and (contains_python_udf(c) or not contains_python_udf(replace_columns(c, mapping)))]
        if not movable:
            return node
        keep = [c for c in parts if c not in movable]
        pushed = Project(Filter(child.input, and_all([replace_columns(c, mapping) for c in movable])),
                         child.exprs, child.fields)
        return _wrap(pushed, keep)
    if isinstance(child, Join):
        new_join, keep = _push_into_join(child, parts)
        if new_join is child:
            return node
        return _wrap(new_join, keep)
    if isinstance(child, Aggregate) and child.grouping_sets is None:
        group_ids = {f.id for f in child.group_fields}
        mapping = {f.id: e for f, e in zip(child.group_fields, child.group_exprs)}
        down = [c for c in parts if c.column_ids() and c.column_ids() <= group_ids and is_deterministic(c)]
        if not down:
            return node
        keep = [c for c in parts if c not in down]
        new_input = Filter(child.input, and_all([replace_columns(c, mapping) for c in down]))
        return _wrap(Aggregate(new_input, child.group_exprs, child.group_fields, child.aggs, child.agg_fields),
                     keep)
    if isinstance(child, Sort) and child.fetch is None:
        return Sort(Filter(child.input, node.predicate), child.keys)
    if isinstance(child, Union):
        movable = [c for c in parts if is_deterministic(c)]
        if not movable:
            return node
        inputs = []
        for inp in child.inputs:
            mapping = {f.id: ColumnRef(g) for f, g in zip(child.fields, inp.schema)}
            inputs.append(Filter(inp, and_all([replace_columns(c, mapping) for c in movable])))
        keep = [c for c in parts if not is_deterministic(c)]
        return _wrap(Union(tuple(inputs), child.fields), keep)
    if isinstance(child, Window):
        common = None
        for w in child.exprs:
            keys = {p.field.id for p in w.partition_by if isinstance(p, ColumnRef)}
            common = keys if common is None else common & keys
        common = common or set()
        down = [c for c in parts if c.column_ids() and c.column_ids() <= common and is_deterministic(c)]
        if not down:
            return node
        keep = [c for c in parts if c not in down]
        return _wrap(Window(Filter(child.input, and_all(down)), child.exprs, child.fields), keep)
    if isinstance(child, Scan):
        # a Python UDF never goes into a scan: the scan's predicate prunes row groups and runs
        # inside the reader, and a UDF there would run per row group, before cheaper filters
        movable = [c for c in parts if is_deterministic(c) and not contains_python_udf(c)]
        if not movable:
            return node
        keep = [c for c in parts if c not in movable]
        new_filters = tuple(child.filters) + tuple(c for c in movable if c not in child.filters)
        scan = Scan(child.source, child.table_fields, child.projection, new_filters, child.alias)
        return _wrap(scan, keep)
    return node


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return plan.transform_down(_push)
