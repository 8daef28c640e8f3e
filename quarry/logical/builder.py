"""Build logical plans: the one place that decides the shape of a plan, for every front end.

SQL's binder, the DataFrame API and (through the API) the DSL each resolve names
and types their own way; then they hand typed expressions to these functions,
which build the nodes. So the same query reaches the optimizer as the same plan
whichever front end wrote it, as DataFusion's ``LogicalPlanBuilder`` does for its
SQL planner and its DataFrame:

- a select list with aggregates is an ``Aggregate`` (group fields, then aggregate
  fields named by their text) under a ``Project``; a column that is neither a key
  nor aggregated is a :class:`~quarry.errors.NotGroupedError` (:func:`aggregate`,
  :func:`over_aggregate`, :func:`select`);
- window functions are computed in one ``Window`` node under the projection
  (:func:`lift_windows`);
- DISTINCT is an ``Aggregate`` grouping by every column (:func:`distinct`);
- set operations take the common type of each column pair (:func:`set_operation`);
- ``JOIN ... USING`` merges each key into one column, DuckDB's output shape
  (:func:`join_using`);
- a condition must be BOOLEAN (:func:`condition`); an aggregate may not appear
  where it is not allowed, nor inside another one (:func:`aggregate_call`).

Errors are raised as the subclasses of :mod:`quarry.errors` that carry their facts
as attributes (``NotGroupedError.name``, ...), in SQL's words; a front end that
speaks differently rewords them by class, never by reading the message.

This module builds plans only: it imports the logical layer and ``errors``, never
a front end (``sql/``, ``api/``, ``dsl/``) or anything below the logical plan.

    >>> from quarry.logical import types as T
    >>> from quarry.logical.expressions import ColumnRef, Field
    >>> from quarry.logical.plan import Values
    >>> x = Field("x", T.INT64, False)
    >>> rows = Values(((F.lit(1),),), (x,))
    >>> print(distinct(rows).pretty())
    Aggregate: group=[x] aggs=[]
      Values: 1 rows [x]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import pyarrow as pa

from quarry.errors import (
    MisplacedAggregateError, NestedAggregateError, NotBooleanError, NotGroupedError, SetOperationError,
    UnsupportedError,
)
from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.logical.expressions import (
    AggCall, ColumnRef, Expr, Field, Literal, SortKey, WindowCall, and_all, new_id,
)
from quarry.logical.plan import Aggregate, Join, LogicalPlan, Project, Scan, SetOp, Union, Window
from quarry.logical.nested import refuse_unkeyable

__all__ = [
    "scan_of", "output_fields", "project", "project_fields", "cast_plan_output", "condition", "distinct",
    "collect_aggregates", "aggregate", "replace_exprs", "over_aggregate", "lift_windows", "select",
    "aggregate_call", "set_operation", "join_using", "UsingJoin",
]


# ---------------------------------------------------------------------------- scans and projections

def scan_of(source, alias: str | None = None) -> Scan:
    """A Scan of every column of ``source`` (a table provider: ``name`` and ``schema``) with fresh ids,
    qualified by ``alias`` or the table's name."""
    qualifier = alias or source.name
    fields = tuple(Field(f.name, f.type, f.nullable, new_id(), qualifier) for f in source.schema)
    return Scan(source, fields, None, (), alias)


def output_fields(exprs: Sequence[Expr], names: Sequence[str], available: set[int] | None = None) -> list[Field]:
    """The fields a select list produces: a column passed through under its own name keeps
    its field (so filters above and below speak of the same id); anything else is new. With
    ``available`` (the input's column ids), a column that is not one of them (an outer column a
    subquery selects) is new too, so the subquery's output is never the outer column itself."""
    fields: list[Field] = []
    used: set[int] = set()
    for e, name in zip(exprs, names):
        if isinstance(e, ColumnRef) and e.field.name == name and e.field.id not in used and \
                (available is None or e.field.id in available):
            fields.append(e.field)
        else:
            qualifier = e.field.qualifier if isinstance(e, ColumnRef) else None
            fields.append(Field(name, e.dtype, e.nullable, new_id(), qualifier))
        used.add(fields[-1].id)
    return fields


def project(plan: LogicalPlan, exprs: Sequence[Expr], names: Sequence[str]) -> Project:
    """``SELECT exprs AS names FROM plan``, with the fields of :func:`output_fields`."""
    return Project(plan, tuple(exprs), tuple(output_fields(exprs, names)))


def project_fields(plan: LogicalPlan, fields: Sequence[Field]) -> LogicalPlan:
    """Keep just ``fields`` (columns of ``plan``), in that order; ``plan`` itself when that is all of it."""
    if tuple(fields) == tuple(plan.schema):
        return plan
    return Project(plan, tuple(ColumnRef(f) for f in fields), tuple(fields))


def cast_plan_output(plan: LogicalPlan, types: Sequence[pa.DataType]) -> LogicalPlan:
    """Project ``plan`` so its columns have ``types`` (no-op when they already do)."""
    if all(f.dtype == t for f, t in zip(plan.schema, types)):
        return plan
    exprs, fields = [], []
    for f, t in zip(plan.schema, types):
        if f.dtype == t:
            exprs.append(ColumnRef(f))
            fields.append(f)
        else:
            exprs.append(F.cast(ColumnRef(f), t, explicit=True))
            fields.append(Field(f.name, t, f.nullable, new_id(), f.qualifier))
    return Project(plan, tuple(exprs), tuple(fields))


def condition(e: Expr, what: str = "the condition") -> Expr:
    """``e`` as a filter or join condition: it must be BOOLEAN (an untyped NULL becomes one).

    ``what`` names it in the error: ``WHERE condition must be BOOLEAN, got INTEGER``.
    """
    if e.dtype != T.BOOL and not T.is_null(e.dtype):
        raise NotBooleanError(what, T.sql_name(e.dtype))
    return F.cast(e, T.BOOL)


def distinct(plan: LogicalPlan) -> Aggregate:
    """SELECT DISTINCT as an aggregate grouping by every column."""
    groups = tuple(ColumnRef(f) for f in plan.schema)
    _refuse_nested_keys(groups, "SELECT DISTINCT over")
    fields = tuple(Field(f.name, f.dtype, f.nullable, new_id(), f.qualifier) for f in plan.schema)
    return Aggregate(plan, groups, fields, (), ())


# ---------------------------------------------------------------------------- aggregation

def aggregate_call(name: str, bind_arguments: Callable[[], list[Expr]], *, allowed: bool, place: str = "here",
                   distinct: bool = False, filter: Expr | None = None) -> AggCall:
    """The aggregate ``name(args)`` where an aggregate is ``allowed``; else a MisplacedAggregateError
    (``place`` says where: ``here``, ``in filter``).

    ``bind_arguments`` binds the arguments with aggregates *not* allowed, so an aggregate
    among them becomes a NestedAggregateError: ``sum(sum(x))`` outside a window.
    """
    if not allowed:
        raise MisplacedAggregateError(name, place)
    try:
        args = bind_arguments()
    except MisplacedAggregateError:
        raise NestedAggregateError(name) from None
    front_end = F.front_end_aggregate(name, args, distinct, filter)
    if front_end is not None:
        return front_end
    return F.agg(name, args, distinct=distinct, filter=filter)


def collect_aggregates(exprs: Sequence[Expr]) -> list[AggCall]:
    """The distinct aggregate calls in ``exprs``, in order of appearance. An aggregate used as a
    window function is the Window node's; aggregates in its arguments are the Aggregate's."""
    out: list[AggCall] = []

    def walk(e: Expr) -> None:
        if isinstance(e, AggCall):
            if e not in out:
                out.append(e)
            return
        if isinstance(e, WindowCall):
            for c in e.func.children() + e.partition_by + e.order_by:
                walk(c)
            return
        for c in e.children():
            walk(c)

    for e in exprs:
        walk(e)
    return out


def _key_name(e: Expr) -> str:
    return e.field.name if isinstance(e, ColumnRef) else str(e)


def _refuse_nested_keys(keys: Sequence[Expr], what: str) -> None:
    """LIST, STRUCT and MAP grouping keys are grouped by their sort keys (physical/planner.py); the
    few inner types those cannot encode (INTERVAL) are refused here, at planning."""
    for k in keys:
        if T.is_nested(k.dtype):
            refuse_unkeyable(k.dtype, what)


def refuse_nested_sort_keys(keys) -> None:
    """LIST, STRUCT and MAP ORDER BY keys sort by their sort keys; refuse the ones those cannot encode."""
    for k in keys:
        if T.is_nested(k.expr.dtype):
            refuse_unkeyable(k.expr.dtype, "ORDER BY")


# aggregates that take DISTINCT over LIST, STRUCT and MAP values (min, max and any_value give what they
# give without it)
_NESTED_DISTINCT = frozenset({"count", "approx_count_distinct", "array_agg", "min", "max", "any_value", "first", "last",
                              "arg_max", "arg_min"})


def aggregate(plan: LogicalPlan, group_exprs: Sequence[Expr], aggs: Sequence[AggCall],
              grouping_sets=None) -> tuple[Aggregate, dict]:
    """An Aggregate of ``plan`` and the map from each key / aggregate to the column holding it.

    With ``grouping_sets`` (tuples of indexes into ``group_exprs``) every key is nullable
    and a ``__grouping_id`` column is appended.
    """
    _refuse_nested_keys(group_exprs, "GROUP BY")
    for a in aggs:
        if a.distinct and a.args and T.is_nested(a.args[0].dtype) and a.name not in _NESTED_DISTINCT:
            raise UnsupportedError(f"{a.name}(DISTINCT ...) of a {T.sql_name(a.args[0].dtype)} value",
                                   hint="aggregate over SELECT DISTINCT in a subquery")
        if a.distinct and a.args and T.is_nested(a.args[0].dtype):
            refuse_unkeyable(a.args[0].dtype, f"{a.name}(DISTINCT ...) of")
        if a.name in ("min", "max") and a.args and T.is_nested(a.args[0].dtype):
            refuse_unkeyable(a.args[0].dtype, f"{a.name}() of")     # the smallest by its sort key
    gfields = tuple(Field(_key_name(g), g.dtype, g.nullable or grouping_sets is not None, new_id(),
                          g.field.qualifier if isinstance(g, ColumnRef) else None)
                    for g in group_exprs)
    afields = tuple(Field(str(a), a.dtype, a.nullable, new_id()) for a in aggs)
    gid = Field("__grouping_id", T.INT64, False, new_id()) if grouping_sets is not None else None
    agg = Aggregate(plan, tuple(group_exprs), gfields, tuple(aggs), afields, grouping_sets, gid)
    mapping: dict = {}
    for e, f in list(zip(group_exprs, gfields)) + list(zip(aggs, afields)):
        mapping.setdefault(e, ColumnRef(f))
    return agg, mapping


def replace_exprs(e: Expr, mapping: dict) -> Expr:
    """``e`` with every subexpression that is a key of ``mapping`` replaced by its value
    (outermost first: a replaced subtree is not entered), window calls included."""
    if not mapping:
        return e

    def hit(node):
        try:
            return mapping.get(node)
        except TypeError:          # an unhashable expression is no key
            return None

    def sub(node):
        found = hit(node)
        if found is not None:
            return found
        if isinstance(node, WindowCall):
            func = node.func
            new_func = func.with_children(tuple(replace_exprs(c, mapping) for c in func.children()))
            parts = tuple(replace_exprs(p, mapping) for p in node.partition_by)
            order = tuple(SortKey(replace_exprs(k.expr, mapping), k.ascending, k.nulls_first)
                          for k in node.order_by)
            return WindowCall(new_func, parts, order, node.frame)
        return node

    def down(node):
        out = sub(node)
        if out is not node:
            return out
        kids = node.children()
        new = tuple(down(k) for k in kids)
        return node if all(a is b for a, b in zip(kids, new)) else node.with_children(new)

    return down(e)


def replace_in_subqueries(e: Expr, mapping: dict) -> Expr:
    """``e`` with the outer references of its subqueries (at any depth) to the keys of
    ``mapping`` (an Aggregate's keys: columns or expressions of the outer query) replaced."""
    import dataclasses
    from quarry.logical.expressions import SubqueryExpr
    if not mapping:
        return e
    reads = set().union(*(k.column_ids() for k in mapping))

    def in_plan(plan):
        return plan.transform_up(lambda n: n.map_expressions(
            lambda x: replace_in_subqueries(replace_exprs(x, mapping), mapping)))

    def fn(x):
        if isinstance(x, SubqueryExpr) and x.outer_ids() & reads:
            return dataclasses.replace(x, plan=in_plan(x.plan))
        return x
    return e.transform_up(fn)


def check_grouped(e: Expr, input_ids: set[int]) -> Expr:
    """``e`` (already over an Aggregate's output) if it reads no column of the aggregated input;
    else a NotGroupedError naming the first such column."""
    bad = [x for x in e.walk() if isinstance(x, ColumnRef) and x.field.id in input_ids]
    if bad:
        raise NotGroupedError(bad[0].field.name)
    from quarry.logical.expressions import SubqueryExpr
    for x in e.walk():
        if isinstance(x, SubqueryExpr) and x.outer_ids() & input_ids:
            fid = next(iter(x.outer_ids() & input_ids))
            names = [f.name for n in x.plan.walk() for ex in n.expressions() for f in
                     (c.field for c in ex.walk() if isinstance(c, ColumnRef)) if f.id == fid]
            raise NotGroupedError(names[0] if names else f"#{fid}")
    return e


def over_aggregate(e: Expr, mapping: dict, input_ids: set[int]) -> Expr:
    """``e`` rewritten to read an Aggregate's output (keys and aggregates by their columns);
    a column that is neither a key nor aggregated is a NotGroupedError."""
    return check_grouped(replace_exprs(e, mapping), input_ids)


# ---------------------------------------------------------------------------- windows and select lists

def lift_windows(plan: LogicalPlan, exprs: Sequence[Expr]) -> tuple[LogicalPlan, list[Expr]]:
    """Compute every window function in ``exprs`` in one Window node over ``plan``; return it
    and ``exprs`` with each window call replaced by the column that holds its result."""
    windows: list[WindowCall] = []
    for e in exprs:
        for x in e.walk():
            if isinstance(x, WindowCall) and x not in windows:
                windows.append(x)
    if not windows:
        return plan, list(exprs)
    wfields = tuple(Field(str(w.func), w.dtype, True, new_id()) for w in windows)
    wmap = {w: ColumnRef(f) for w, f in zip(windows, wfields)}
    return Window(plan, tuple(windows), wfields), [replace_exprs(e, wmap) for e in exprs]


def lift_unnests(plan: LogicalPlan, exprs: Sequence[Expr]) -> tuple[LogicalPlan, list[Expr]]:
    """Compute every ``unnest(list)`` in ``exprs`` in one Unnest node over ``plan`` (so several
    unnests of one SELECT are aligned, as in DuckDB); return it and ``exprs`` with each unnest
    replaced by the column of its elements."""
    from quarry.logical.nested import Unnest, UnnestExpr
    found: list[UnnestExpr] = []
    for e in exprs:
        for x in e.walk():
            if isinstance(x, UnnestExpr) and x not in found:
                if any(isinstance(y, UnnestExpr) for y in x.arg.walk()):
                    from quarry.errors import UnsupportedError
                    raise UnsupportedError("unnest() inside unnest()", hint="unnest in a subquery first, "
                                           "or use flatten()")
                found.append(x)
    if not found:
        return plan, list(exprs)
    ufields = tuple(Field("unnest", u.dtype, True, new_id()) for u in found)
    umap = {u: ColumnRef(f) for u, f in zip(found, ufields)}
    return Unnest(plan, tuple(u.arg for u in found), ufields), [replace_exprs(e, umap) for e in exprs]


def select(plan: LogicalPlan, exprs: Sequence[Expr], names: Sequence[str],
           group_exprs: Sequence[Expr] | None = None) -> Project:
    """``SELECT exprs AS names FROM plan [GROUP BY group_exprs]``: an Aggregate when there are keys
    (``group_exprs`` not None, possibly empty) or aggregates, a Window for window functions, the
    Project on top. SQL's binder composes the same steps, with HAVING and ORDER BY between them.
    """
    exprs = list(exprs)
    aggs = collect_aggregates(exprs)
    if group_exprs is not None or aggs:
        input_ids = {f.id for f in plan.schema}
        keys: list[Expr] = []
        for g in group_exprs or ():
            if g not in keys:
                keys.append(g)
        plan, mapping = aggregate(plan, keys, aggs)
        exprs = [over_aggregate(e, mapping, input_ids) for e in exprs]
    plan, exprs = lift_windows(plan, exprs)
    plan, exprs = lift_unnests(plan, exprs)      # generators (the Spark front end's explode)
    return project(plan, exprs, names)


# ---------------------------------------------------------------------------- set operations

def align_by_name(left: LogicalPlan, right: LogicalPlan) -> tuple[LogicalPlan, LogicalPlan]:
    """The two inputs of ``UNION [ALL] BY NAME``, projected so their columns pair up by position.

    Names match case-insensitively (DuckDB's rule): the output holds the left's columns in
    their order, then the right's columns the left lacks; a side without a column gives
    NULL for it.
    """
    def by_lower(plan: LogicalPlan, side: str) -> dict[str, Field]:
        out: dict[str, Field] = {}
        for f in plan.schema:
            if f.name.lower() in out:
                raise SetOperationError(f"the {side} input of UNION BY NAME has two columns named `{f.name}`",
                                        hint="alias one of them", name=f.name)
            out[f.name.lower()] = f
        return out
    lefts, rights = by_lower(left, "left"), by_lower(right, "right")
    names = [f.name for f in left.schema] + [f.name for f in right.schema if f.name.lower() not in lefts]

    def side(plan: LogicalPlan, fields: dict[str, Field]) -> LogicalPlan:
        exprs = [ColumnRef(fields[n.lower()]) if n.lower() in fields else Literal(None, T.NULL) for n in names]
        return project(plan, exprs, names)
    return side(left, lefts), side(right, rights)


def set_operation(op: str, left: LogicalPlan, right: LogicalPlan, *, all: bool) -> LogicalPlan:  # noqa: A002
    """``left UNION / INTERSECT / EXCEPT [ALL] right`` (``op`` is ``union``, ``intersect`` or ``except``).

    Columns pair up by position and take their common type (each side cast where it
    differs); names come from the left. UNION without ALL is a distinct Aggregate over
    the Union; INTERSECT and EXCEPT are a SetOp.
    """
    if len(left.schema) != len(right.schema):
        raise SetOperationError(f"the {op.upper()} inputs have {len(left.schema)} and {len(right.schema)} columns",
                                hint="both sides of UNION/INTERSECT/EXCEPT must select the same number of columns",
                                widths=(len(left.schema), len(right.schema)))
    types = []
    for lf, rf in zip(left.schema, right.schema):
        t = T.common_type(lf.dtype, rf.dtype)
        if t is None:
            raise SetOperationError(
                f"column `{lf.name}` is {T.sql_name(lf.dtype)} on one side and {T.sql_name(rf.dtype)} on the other",
                hint="CAST one side so the types agree", name=lf.name)
        types.append(t)
    left, right = cast_plan_output(left, types), cast_plan_output(right, types)
    fields = tuple(Field(lf.name, t, lf.nullable or rf.nullable)
                   for lf, rf, t in zip(left.schema, right.schema, types))
    if op == "union":
        plan: LogicalPlan = Union((left, right), fields)
        return plan if all else distinct(plan)
    return SetOp(left, right, op, all, fields)


# ---------------------------------------------------------------------------- USING joins

@dataclass(frozen=True)
class UsingJoin:
    """What ``left JOIN right USING (keys)`` builds.

    ``plan`` holds every column of both sides (so ``l.k`` and ``r.k`` still name each
    side's own key) plus, for a FULL join, the merged keys. ``fields`` is the output
    DuckDB gives ``*``; ``merged`` maps each key (lowercase) to the column an
    unqualified name means.
    """

    plan: LogicalPlan
    fields: tuple[Field, ...]
    merged: dict[str, Field]

    def output(self) -> LogicalPlan:
        """The join narrowed to ``fields``: what the DataFrame API returns."""
        return project_fields(self.plan, self.fields)


def join_using(left: LogicalPlan, right: LogicalPlan, kind: str, keys: Sequence[tuple[str, Field, Field]],
               left_fields: Sequence[Field] | None = None, right_fields: Sequence[Field] | None = None) -> UsingJoin:
    """``left <kind> JOIN right USING (k, ...)``; ``keys`` are ``(name, left field, right field)``.

    The output shape is DuckDB's: the left side's columns, each key in its place as one
    merged column, then the right side's other columns. The merged key is the left's
    column for inner and left joins (and semi / anti, which output the left side only), the
    right's for a right join, and ``coalesce(left, right)`` for a full join, each with the
    nullability the join gives it. ``left_fields`` / ``right_fields`` are the columns each
    side shows to ``*`` (default: all of its columns), e.g. after an earlier USING join.
    """
    condition_ = and_all([F.call("equal", [ColumnRef(lf), ColumnRef(rf)]) for _, lf, rf in keys])
    join = Join(left, right, kind, condition_)
    current = {f.id: f for f in join.schema}           # with the join's nullability
    left_fields = [current[f.id] for f in (left_fields if left_fields is not None else left.schema)]
    if kind in ("semi", "anti"):
        return UsingJoin(join, tuple(left_fields), {name.lower(): current[lf.id] for name, lf, _ in keys})
    right_fields = [current[f.id] for f in (right_fields if right_fields is not None else right.schema)]
    plan: LogicalPlan = join
    merged: dict[int, Field] = {}                       # left key id -> merged column
    by_name: dict[str, Field] = {}
    extra_exprs, extra_fields = [], []
    for name, lf, rf in keys:
        lf, rf = current[lf.id], current[rf.id]
        if kind in ("inner", "left"):
            out = lf
        elif kind == "right":
            out = rf
        else:
            value = F.call("coalesce", [ColumnRef(lf), ColumnRef(rf)])
            out = Field(lf.name, value.dtype, value.nullable, new_id())
            extra_exprs.append(value)
            extra_fields.append(out)
        merged[lf.id] = out
        by_name[name.lower()] = out
    if extra_fields:
        plan = Project(join, tuple(ColumnRef(f) for f in join.schema) + tuple(extra_exprs),
                       tuple(join.schema) + tuple(extra_fields))
    right_keys = {rf.id for _, _, rf in keys}
    fields = [merged.get(f.id, f) for f in left_fields] + [f for f in right_fields if f.id not in right_keys]
    return UsingJoin(plan, tuple(fields), by_name)
