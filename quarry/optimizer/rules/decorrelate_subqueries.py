"""Rewrite subquery expressions (EXISTS, IN, ANY/ALL, scalar) and LATERAL joins into joins.

    Filter: EXISTS(Filter: l.k = o.k AND l.x > 1 (Scan l))      Join: semi on l.k = o.k
      Scan o                                             ==>      Scan o
                                                                  Filter: l.x > 1 (Scan l)

* ``[NOT] EXISTS`` conjuncts become semi (anti) joins whose condition is the
  subquery's correlated predicates, pulled up out of its Filters.
* ``x IN (subquery)`` becomes a semi join on ``x = col``; ``NOT IN`` a
  *null-aware* anti join (a NULL in the subquery empties the result; a NULL ``x``
  is dropped unless the subquery is empty), as SQL's three-valued logic demands.
* A scalar subquery becomes a LEFT join. Uncorrelated, its single row (checked at
  run time) joins every row. Correlated through equalities below an aggregate, the
  aggregate is grouped by the correlated columns and joined on them; an outer row
  with no matching rows gets the value the subquery has over an empty group (so
  ``count(*) + 1`` is 1, not NULL: the "count bug"). Without an aggregate, the
  matching rows are counted per key and more than one is an error at run time.

* Anything else -- EXISTS / IN / ``x op ANY|ALL`` under OR, in CASE, in the select
  list (a *mark*) -- becomes scalar subqueries whose values give TRUE, FALSE or NULL
  as SQL's three-valued logic says (``_mark_value``): EXISTS is ``count(*) > 0``,
  ``x op ANY`` reads the subquery's min or max, row count and NULLs (``=`` a keyed
  lookup of ``x``), a row value ``(a, b) IN`` a lookup of the row and of a row that
  compares NULL; ALL is NOT ANY of the negated comparison.
* A subquery correlated in any other way (a non-equality, an outer column in the
  select list or inside an aggregate, a correlated LIMIT, UNION or window) is the
  dependent join of Neumann & Kemper, pushed down by
  :mod:`quarry.optimizer.dependent_join` and joined back on the domain columns.
  The equality pull-up is tried first; the general path is the fallback.
* ``LATERAL`` joins (``Join.lateral``) are the same dependent join with the FROM
  items on the left; a right side of projections and unnests over one VALUES row
  (``unnest(t.l)``, ``range(t.n)``) is just evaluated over the left side.
* A subquery in a join's ON condition goes above an inner join, below the inner
  side of an outer one, onto the preserved side when it reads only that, and
  otherwise turns ``L LEFT JOIN R ON p`` into ``L LEFT JOIN LATERAL (R WHERE p)``. In a FULL
  JOIN (both sides preserved) it goes onto the side it reads.
  An aggregate's argument, a window's key: a projection below computes it.

Shapes with no rewrite (a subquery in a FULL JOIN's ON reading both sides, a correlated
subquery holding a FULL JOIN or GROUPING SETS, ...) raise an UnsupportedError
naming the construct. Runs first: every later rule and the physical planner
assume there are no subquery expressions (or lateral joins) left. Cannot be
disabled (``disabled_rules`` refuses it), for the same reason.
"""

from __future__ import annotations

from dataclasses import replace as _replace

from quarry.errors import UnsupportedError
from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.logical.expressions import (
    AggCall, Call, ColumnRef, Exists, Expr, Field, InSubquery, Literal, ScalarSubquery, SubqueryExpr, and_all,
    conjuncts, new_id, replace_columns,
)
from quarry.logical.plan import (
    Aggregate, Filter, Join, Limit, LogicalPlan, Project, Sort, Window, outer_references, produced_ids,
)
from quarry.logical.plan import SingleRow
from quarry.logical.plan_copy import fresh_copy
from quarry.optimizer.rule import rule
from quarry.optimizer.dependent_join import (
    DomainPusher, correlated_columns, empty_value, is_scalar_aggregate,
)
from quarry.optimizer.rules.simplify_expressions import simplify


def _has_subquery(e: Expr) -> bool:
    return any(isinstance(x, SubqueryExpr) for x in e.walk())


def _passthrough(plan: LogicalPlan) -> tuple[list[Expr], list[Field]]:
    return [ColumnRef(f) for f in plan.schema], list(plan.schema)


def _restore(plan: LogicalPlan, fields) -> LogicalPlan:
    """Project ``plan`` back to exactly ``fields`` (dropping columns the rewrite added)."""
    if tuple(f.id for f in plan.schema) == tuple(f.id for f in fields):
        return plan
    return Project(plan, tuple(ColumnRef(f) for f in fields), tuple(fields))


# -------------------------------------------------------------------------- pulling up predicates


def pull_up(plan: LogicalPlan, outer: set[int]) -> tuple[LogicalPlan, list[Expr]]:
    """Remove predicates that reference ``outer`` ids from ``plan``; return the plan and them."""
    if not (outer_references(plan) & outer):
        return plan, []
    if isinstance(plan, Filter):
        corr = [c for c in conjuncts(plan.predicate) if c.column_ids() & outer]
        rest = [c for c in conjuncts(plan.predicate) if not (c.column_ids() & outer)]
        child, below = pull_up(plan.input, outer)
        return (Filter(child, and_all(rest)) if rest else child), corr + below
    if isinstance(plan, Project):
        for e in plan.exprs:
            if e.column_ids() & outer:
                raise UnsupportedError("a subquery's select list that uses outer columns is not supported",
                                       hint="move the outer column into the WHERE clause of the subquery")
        child, conds = pull_up(plan.input, outer)
        needed = set().union(*(c.column_ids() for c in conds)) - outer if conds else set()
        have = {f.id for f in plan.fields}
        exprs, fields = list(plan.exprs), list(plan.fields)
        for f in child.schema:
            if f.id in needed and f.id not in have:
                exprs.append(ColumnRef(f))
                fields.append(f)
        return Project(child, tuple(exprs), tuple(fields)), conds
    if isinstance(plan, Join) and plan.kind in ("inner", "cross"):
        left, lc = pull_up(plan.left, outer)
        right, rc = pull_up(plan.right, outer)
        corr = [c for c in conjuncts(plan.condition) if c.column_ids() & outer]
        rest = [c for c in conjuncts(plan.condition) if not (c.column_ids() & outer)]
        cond = and_all(rest)
        kind = plan.kind if cond is not None or plan.kind == "cross" else "cross"
        if kind == "cross" and cond is not None:
            kind = "inner"
        return Join(left, right, kind, cond), corr + lc + rc
    if isinstance(plan, Join) and plan.kind in ("semi", "anti", "left"):
        if outer_references(plan.right) & outer:
            raise UnsupportedError("correlation inside the inner side of a nested join is not supported")
        left, lc = pull_up(plan.left, outer)
        if plan.condition is not None and plan.condition.column_ids() & outer:
            raise UnsupportedError("correlation in a join condition inside a subquery is not supported")
        return Join(left, plan.right, plan.kind, plan.condition, plan.null_aware), lc
    if isinstance(plan, Sort) and plan.fetch is None:
        child, conds = pull_up(plan.input, outer)
        return Sort(child, plan.keys, plan.fetch), conds
    raise UnsupportedError(f"a correlated subquery containing {type(plan).__name__} is not supported",
                           hint="rewrite the subquery as a join")


def _strip_for_membership(plan: LogicalPlan) -> LogicalPlan:
    """ORDER BY inside EXISTS/IN does not matter."""
    while isinstance(plan, Sort) and plan.fetch is None:
        plan = plan.input
    return plan


# -------------------------------------------------------------------------- predicates


def _compare(items, values, op: str) -> Expr:
    """``items op values`` for a row: the AND of item-wise equalities (``=``) or its negation (``<>``)."""
    if len(items) == 1:
        return F.call(op, [items[0], values[0]])
    if op not in ("equal", "not_equal"):
        raise UnsupportedError("a row value compared with ANY / ALL other than by = or <>")
    eq = and_all([F.call("equal", [a, b]) for a, b in zip(items, values)])
    return eq if op == "equal" else F.call("not", [eq])


def _general_semi(input_plan: LogicalPlan, plan: LogicalPlan, extra: list[Expr], kind: str) -> LogicalPlan:
    """Semi/anti join of ``input_plan`` with ``plan`` correlated in any way (the dependent join)."""
    cols = correlated_columns(input_plan, plan)
    pusher = DomainPusher(input_plan, cols)
    pushed, dmap = pusher.push(plan)
    return Join(input_plan, pushed, kind, and_all(extra + pusher.join_outer(dmap)))


def _semi_anti(input_plan: LogicalPlan, sub: Expr, negated: bool) -> LogicalPlan:
    outer = produced_ids(input_plan)
    kind = "anti" if negated else "semi"
    if isinstance(sub, Exists):
        plan = _strip_for_membership(decorrelate(sub.plan))
        try:
            pulled, corr = pull_up(plan, outer)
        except UnsupportedError:
            return _general_semi(input_plan, plan, [], kind)
        if not corr:
            # uncorrelated EXISTS: one row of the subquery decides for every outer row
            pulled = Limit(pulled, 1)
        return Join(input_plan, pulled, kind, and_all(corr))
    assert isinstance(sub, InSubquery) and sub.quantifier == "any" and not negated
    plan = _strip_for_membership(decorrelate(sub.plan))
    match = _compare(sub.items, [ColumnRef(f) for f in plan.schema], sub.op)
    try:
        pulled, corr = pull_up(plan, outer)
    except UnsupportedError:
        return _general_semi(input_plan, plan, [match], kind)
    return Join(input_plan, pulled, "semi", and_all([match] + corr))


def _null_aware_anti(input_plan: LogicalPlan, sub: InSubquery) -> LogicalPlan | None:
    """``x NOT IN (uncorrelated subquery)`` as a null-aware anti join, or None for other shapes."""
    if sub.op != "equal" or sub.quantifier != "any" or len(sub.items) != 1:
        return None
    plan = _strip_for_membership(decorrelate(sub.plan))
    value = plan.schema[0]
    if outer_references(plan) and (sub.expr.nullable or value.nullable):
        # correlated (with this query or one around it): the mark form keeps NULLs per outer row
        return None
    if outer_references(plan) & produced_ids(input_plan):
        plan, corr = pull_up(plan, produced_ids(input_plan))
        cond = and_all([F.call("equal", [sub.expr, ColumnRef(value)])] + corr)
        return Join(input_plan, plan, "anti", cond)
    cond = F.call("equal", [sub.expr, ColumnRef(value)])
    return Join(input_plan, plan, "anti", cond, null_aware=sub.expr.nullable or value.nullable)


# -------------------------------------------------------------------------- mark joins

_NEGATE = {"equal": "not_equal", "not_equal": "equal", "less": "greater_equal", "less_equal": "greater",
           "greater": "less_equal", "greater_equal": "less"}
_BOOL_NULL = Literal(None, T.BOOL)
_TRUE = Literal(True, T.BOOL)
_FALSE = Literal(False, T.BOOL)


def _scalar_agg(plan: LogicalPlan, agg: AggCall) -> ScalarSubquery:
    f = Field("__mark", agg.dtype, True, new_id())
    return ScalarSubquery(Aggregate(plan, (), (), (agg,), (f,)))


def _exists_value(plan: LogicalPlan) -> Expr:
    """EXISTS as a value: ``(SELECT count(*) FROM (...)) > 0`` (over one row when uncorrelated)."""
    inner = plan if outer_references(plan) else Limit(plan, 1)
    return F.call("greater", [_scalar_agg(inner, F.agg("count", [])), Literal(0, T.INT64)])


def _state(plan: LogicalPlan) -> Expr:
    """NULL for an empty subquery, 2 when its value column has a NULL, else 1."""
    copy = fresh_copy(plan)
    v = ColumnRef(copy.schema[0])
    return _scalar_agg(copy, F.agg("max", [F.call("case", [F.call("is_null", [v]), Literal(2, T.INT64),
                                                           Literal(1, T.INT64)])]))


def _any_value(items, plan: LogicalPlan, op: str) -> Expr:
    """``items op ANY (plan)``, three-valued: TRUE if a row compares TRUE, else NULL if one compares
    NULL, else FALSE (so FALSE over an empty subquery)."""
    if len(items) != len(plan.schema):
        raise UnsupportedError(f"comparing {len(items)} values with a subquery of {len(plan.schema)} columns")
    if len(items) == 1 and op != "equal":
        # min / max of the subquery decide, with its row count and NULLs (all scalar aggregates)
        x = items[0]
        state = _state(plan)
        if op == "not_equal":
            lo, hi = fresh_copy(plan), fresh_copy(plan)
            cmp = F.call("or", [F.call("not_equal", [x, _scalar_agg(lo, F.agg("min", [ColumnRef(lo.schema[0])]))]),
                                F.call("not_equal", [x, _scalar_agg(hi, F.agg("max", [ColumnRef(hi.schema[0])]))])])
        else:
            copy = fresh_copy(plan)
            which = "min" if op in ("greater", "greater_equal") else "max"
            cmp = F.call(op, [x, _scalar_agg(copy, F.agg(which, [ColumnRef(copy.schema[0])]))])
        unknown = F.call("or", [F.call("equal", [state, Literal(2, T.INT64)]), F.call("is_null", [x])])
        return F.call("case", [F.call("is_null", [state]), _FALSE, cmp, _TRUE, unknown, _BOOL_NULL, _FALSE])
    if len(items) == 1:
        # x = ANY: a keyed lookup of x (a hash join), plus whether the subquery is empty or has a NULL
        x = items[0]
        copy = fresh_copy(plan)
        matched = _scalar_agg(Filter(copy, F.call("equal", [x, ColumnRef(copy.schema[0])])),
                              F.agg("max", [Literal(1, T.INT64)]))
        state = _state(plan)
        unknown = F.call("or", [F.call("equal", [state, Literal(2, T.INT64)]), F.call("is_null", [x])])
        return F.call("case", [F.call("is_not_null", [matched]), _TRUE, F.call("is_null", [state]), _FALSE,
                               unknown, _BOOL_NULL, _FALSE])
    # a row value: a row that compares TRUE, else one that compares NULL
    hit, maybe = fresh_copy(plan), fresh_copy(plan)
    matched = _scalar_agg(Filter(hit, _compare(items, [ColumnRef(f) for f in hit.schema], op)),
                          F.agg("max", [Literal(1, T.INT64)]))
    unknown = _scalar_agg(Filter(maybe, F.call("is_null", [_compare(items, [ColumnRef(f) for f in maybe.schema],
                                                                      op)])),
                          F.agg("max", [Literal(1, T.INT64)]))
    return F.call("case", [F.call("is_not_null", [matched]), _TRUE, F.call("is_not_null", [unknown]), _BOOL_NULL,
                           _FALSE])


def _mark_value(x: Expr) -> Expr:
    """EXISTS / IN / ANY / ALL as a boolean value computed by scalar subqueries (the mark join)."""
    if isinstance(x, Exists):
        return _exists_value(_strip_for_membership(x.plan))
    assert isinstance(x, InSubquery)
    plan = _strip_for_membership(x.plan)
    if x.quantifier == "all":
        return F.call("not", [_any_value(x.items, plan, _NEGATE[x.op])])
    return _any_value(x.items, plan, x.op)


def _marks(e: Expr) -> Expr:
    """``e`` with every EXISTS / IN / ANY / ALL replaced by its value over scalar subqueries."""
    def fn(x):
        return _mark_value(x) if isinstance(x, (Exists, InSubquery)) else x
    return e.transform_down(fn)


def _filter_with_subqueries(node: Filter) -> LogicalPlan:
    plan = node.input
    rest = []
    for c in conjuncts(node.predicate):
        if isinstance(c, Exists) or (isinstance(c, InSubquery) and c.quantifier == "any"
                                     and (c.op == "equal" or len(c.items) > 1)):
            plan = _semi_anti(plan, c, False)
            continue
        if isinstance(c, Call) and c.name == "not" and isinstance(c.args[0], Exists):
            plan = _semi_anti(plan, c.args[0], True)
            continue
        if isinstance(c, Call) and c.name == "not" and isinstance(c.args[0], InSubquery):
            anti = _null_aware_anti(plan, c.args[0])
            if anti is not None:
                plan = anti
                continue
        if _has_subquery(c):
            plan, c = _scalar_subqueries(plan, _marks(c))
        rest.append(c)
    if rest:
        plan = Filter(plan, and_all(rest))
    return _restore(plan, node.schema)


# -------------------------------------------------------------------------- scalar subqueries


def _decorrelate_scalar(sub: LogicalPlan, outer: set[int]):
    """Rewrite a correlated scalar subquery for a LEFT join.

    Returns (plan, join conjuncts, empties, marker): ``empties`` maps output ids to the
    value they take for an outer row with no matching rows (a COUNT is 0 there, not
    NULL), and ``marker`` is a column that is NULL after the join exactly for such rows.
    """
    if isinstance(sub, Project) and _aggregate_below_projections(sub):
        child, conds, empties, marker = _decorrelate_scalar(sub.input, outer)
        for e in sub.exprs:
            if e.column_ids() & outer:
                raise UnsupportedError("a scalar subquery whose result uses outer columns is not supported")
        needed = set().union(*(c.column_ids() for c in conds)) - outer if conds else set()
        if marker is not None:
            needed.add(marker.id)
        exprs, fields = list(sub.exprs), list(sub.fields)
        for f in child.schema:
            if f.id in needed and f.id not in {x.id for x in fields}:
                exprs.append(ColumnRef(f))
                fields.append(f)
        new_empties = {}
        for e, f in zip(sub.exprs, sub.fields):
            if e.column_ids() and e.column_ids() <= set(empties):
                new_empties[f.id] = simplify(replace_columns(e, empties))
        return Project(child, tuple(exprs), tuple(fields)), conds, new_empties, marker
    if isinstance(sub, Aggregate) and sub.grouping_sets is None:
        if sub.group_exprs and outer_references(sub.input) & outer:
            raise UnsupportedError("a correlated scalar subquery with GROUP BY is not supported")
        if any(a.column_ids() & outer for a in sub.aggs):
            raise UnsupportedError("an aggregate over outer columns inside a subquery is not supported",
                                   hint="compute the aggregate of the subquery's own columns and combine "
                                        "it with the outer column outside the subquery")
        child, corr = pull_up(sub.input, outer)
        groups, gfields, conds = _group_by_correlation(corr, outer, list(sub.group_exprs),
                                                       list(sub.group_fields))
        agg = Aggregate(child, tuple(groups), tuple(gfields), sub.aggs, sub.agg_fields)
        marker = Field("__matched", T.BOOL, False, new_id())
        # aggregates first (the value stays the first column), then the keys and the marker
        out = Project(agg, tuple(ColumnRef(f) for f in sub.agg_fields + tuple(gfields)) + (Literal(True, T.BOOL),),
                      sub.agg_fields + tuple(gfields) + (marker,))
        empties = {f.id: empty_value(a) for a, f in zip(sub.aggs, sub.agg_fields)}
        return out, conds, empties, marker
    # no aggregate: at most one row may match each outer row; count them to check at run time
    child, corr = pull_up(sub, outer)
    value = sub.schema[0]
    groups, gfields, conds = _group_by_correlation(corr, outer, [], [])
    any_value = F.agg("any_value", [ColumnRef(value)])
    count = F.agg("count", [])
    any_field = Field(value.name, value.dtype, True, new_id())
    count_field = Field("__rows", T.INT64, False, new_id())
    agg = Aggregate(child, tuple(groups), tuple(gfields), (any_value, count), (any_field, count_field))
    checked = Field(value.name, value.dtype, True, new_id())
    check = Call("check_single_row", (ColumnRef(any_field), ColumnRef(count_field)), value.dtype, True)
    out = Project(agg, (check,) + tuple(ColumnRef(f) for f in gfields), (checked,) + tuple(gfields))
    return out, conds, {}, None


def _aggregate_below_projections(plan: LogicalPlan) -> bool:
    while isinstance(plan, Project):
        plan = plan.input
    return isinstance(plan, Aggregate) and plan.grouping_sets is None


def _group_by_correlation(corr, outer, groups, gfields):
    """Turn correlation equalities into grouping keys and join conditions on them."""
    conds = []
    for c in corr:
        if not (isinstance(c, Call) and c.name == "equal"):
            raise UnsupportedError("a correlated scalar subquery must be correlated through equalities "
                                   "(inner.col = outer.col)", hint="rewrite the subquery as a join")
        a, b = c.args
        inner_side, outer_side = (a, b) if not (a.column_ids() & outer) else (b, a)
        if inner_side.column_ids() & outer or not (outer_side.column_ids() <= outer):
            raise UnsupportedError("unsupported correlation predicate in a scalar subquery")
        f = Field(str(inner_side), inner_side.dtype, inner_side.nullable, new_id())
        groups.append(inner_side)
        gfields.append(f)
        conds.append(F.call("equal", [outer_side, ColumnRef(f)]))
    return groups, gfields, conds


def _general_scalar(plan: LogicalPlan, sub: LogicalPlan) -> tuple[LogicalPlan, Expr]:
    """A scalar subquery correlated in any way: the dependent join, left-joined on the domain."""
    pusher = DomainPusher(plan, correlated_columns(plan, sub))
    value = sub.schema[0]
    if is_scalar_aggregate(sub):
        joined, refs = _general_scalar_aggregate(plan, sub, pusher)
        return joined, refs[value.id]
    pushed, dmap = pusher.push(sub)
    pushed = pusher.at_most_one_row(pushed, dmap, sub.schema)
    return Join(plan, pushed, "left", and_all(pusher.join_outer(dmap))), ColumnRef(_replace(value, nullable=True))


def _general_scalar_aggregate(plan: LogicalPlan, sub: LogicalPlan, pusher: DomainPusher):
    """Projections over an aggregate without GROUP BY, correlated in any way: the aggregate is
    grouped by the domain, and an outer row with no group gets the value over no rows (the
    count bug), computed from the outer row itself, so the domain is read only once."""
    chain = []
    node = sub
    while isinstance(node, Project):
        chain.append(node)
        node = node.input
    agg = node
    child, dmap = pusher.push(agg.input)
    dfields = tuple(Field(f.name, f.dtype, f.nullable, new_id()) for f in pusher.dfields(dmap))
    new = {c.id: f for c, f in zip(pusher.cols, dfields)}
    marker = Field("__matched", T.BOOL, False, new_id())
    aggs = tuple(pusher.subst(a, dmap) for a in agg.aggs)
    top: LogicalPlan = Aggregate(child, pusher.drefs(dmap), dfields, aggs, agg.agg_fields)
    top = Project(top, tuple(ColumnRef(f) for f in agg.agg_fields) + pusher.drefs(new) + (Literal(True, T.BOOL),),
                  agg.agg_fields + dfields + (marker,))
    empties: dict[int, Expr] = {f.id: empty_value(a) for a, f in zip(agg.aggs, agg.agg_fields)}
    for proj in reversed(chain):
        exprs = tuple(pusher.subst(e, new) for e in proj.exprs) + pusher.drefs(new) + (ColumnRef(marker),)
        top = Project(top, exprs, proj.fields + dfields + (marker,))
        # the value over no rows, in terms of the outer row's own columns
        empties = {f.id: simplify(replace_columns(e, empties)) for e, f in zip(proj.exprs, proj.fields)}
    joined = Join(plan, top, "left", and_all(pusher.join_outer(new)))
    refs: dict[int, Expr] = {}
    for f in sub.schema:
        ref: Expr = ColumnRef(_replace(f, nullable=True))
        empty = empties.get(f.id)
        if empty is not None and not (isinstance(empty, Literal) and empty.value is None):
            ref = F.call("case", [F.call("is_null", [ColumnRef(_replace(marker, nullable=True))]), empty, ref])
        refs[f.id] = ref
    return joined, refs


def _scalar_subqueries(plan: LogicalPlan, e: Expr) -> tuple[LogicalPlan, Expr]:
    """Join every scalar subquery in ``e`` onto ``plan``; return the plan and ``e`` rewritten."""
    replacements: dict[int, Expr] = {}

    def visit(x: Expr):
        nonlocal plan
        if isinstance(x, ScalarSubquery) and id(x) not in replacements:
            sub = decorrelate(x.plan)
            value = sub.schema[0]
            outer = produced_ids(plan)
            if not (outer_references(sub) & outer):
                plan = Join(plan, SingleRow(sub), "left", None)
                replacements[id(x)] = ColumnRef(value)
            else:
                try:
                    sub2, conds, empties, marker = _decorrelate_scalar(sub, outer)
                except UnsupportedError:
                    # correlated in a way the equality pull-up cannot take: the dependent join
                    plan, ref = _general_scalar(plan, sub)
                    replacements[id(x)] = ref
                    return
                plan = Join(plan, sub2, "left", and_all(conds))
                ref = ColumnRef(sub2.schema[0])
                empty = empties.get(sub2.schema[0].id)
                if marker is not None and isinstance(empty, Literal) and empty.value is not None:
                    # no matching rows: the subquery's value over an empty group (count bug)
                    ref = F.call("case", [F.call("is_null", [ColumnRef(marker)]), empty, ref])
                replacements[id(x)] = ref
            return
        elif isinstance(x, (Exists, InSubquery)):
            raise AssertionError("EXISTS / IN are rewritten to scalar subqueries first")
        for c in x.children():
            visit(c)
    visit(e)

    def sub_fn(x):
        return replacements.get(id(x), x) if isinstance(x, ScalarSubquery) else x
    return plan, e.transform_down(sub_fn)


def _project_with_subqueries(node: Project) -> LogicalPlan:
    plan = node.input
    exprs = []
    for e in node.exprs:
        if _has_subquery(e):
            plan, e = _scalar_subqueries(plan, _marks(e))
        exprs.append(e)
    return Project(plan, tuple(exprs), node.fields)


# -------------------------------------------------------------------------- the rule


def _join_with_subqueries(node: Join) -> LogicalPlan:
    """A subquery in a join's ON condition: above an inner join, or below the inner side of an outer one."""
    subs = [c for c in conjuncts(node.condition) if _has_subquery(c)]
    rest = [c for c in conjuncts(node.condition) if not _has_subquery(c)]
    reads = set().union(*(c.column_ids() for c in subs))
    if node.kind in ("inner", "cross"):
        joined = Join(node.left, node.right, "inner" if rest else "cross", and_all(rest), lateral=node.lateral)
        return _filter_with_subqueries(Filter(_lateral(joined) if node.lateral else joined, and_all(subs)))
    if node.kind == "left" and not (reads & produced_ids(node.left)):
        right = _filter_with_subqueries(Filter(node.right, and_all(subs)))
        joined = Join(node.left, right, "left", and_all(rest), lateral=node.lateral)
        return _lateral(joined) if node.lateral else joined
    if node.kind == "right" and not (reads & produced_ids(node.right)):
        left = _filter_with_subqueries(Filter(node.left, and_all(subs)))
        return Join(left, node.right, "right", and_all(rest))
    if node.kind == "left" and not node.lateral:
        # subqueries that read only the preserved side: their values become columns of that side
        sub_reads = set().union(*(x.outer_ids() for c in subs for x in c.walk() if isinstance(x, SubqueryExpr)))
        if not (sub_reads & produced_ids(node.right)):
            left = node.left
            conds = []
            for c in subs:
                left, c = _scalar_subqueries(left, _marks(c))
                conds.append(c)
            return _restore(Join(left, node.right, "left", and_all(rest + conds)), node.schema)
        # otherwise L LEFT JOIN R ON p is L LEFT JOIN LATERAL (SELECT * FROM R WHERE p) ON true
        right = _filter_with_subqueries(Filter(node.right, node.condition))
        return _restore(_lateral(Join(node.left, right, "left", None, lateral=True)), node.schema)
    if node.kind == "right" and not node.lateral:
        # the mirror image: R LEFT JOIN L, columns put back in order
        mirrored = _join_with_subqueries(Join(node.right, node.left, "left", node.condition))
        return _restore(mirrored, node.schema)
    if node.kind == "full" and not node.lateral:
        # both sides are preserved: a subquery whose value depends on one side's row only (its
        # correlation, and the compared value of an IN / ANY, read that side) becomes a column of
        # that side, computed for every row of it, matched or not, as in the LEFT JOIN case above
        left, right = node.left, node.right
        left_ids, right_ids = produced_ids(left), produced_ids(right)
        conds = []
        for c in subs:
            marked = _marks(c)
            sub_reads = set().union(*(x.outer_ids() for x in marked.walk() if isinstance(x, SubqueryExpr)))
            if not (sub_reads & right_ids):
                left, marked = _scalar_subqueries(left, marked)
            elif not (sub_reads & left_ids):
                right, marked = _scalar_subqueries(right, marked)
            else:
                raise UnsupportedError("a subquery in the ON condition of a FULL JOIN that reads both of its sides",
                                       hint="compute the subquery's value in a derived table first")
            conds.append(marked)
        return _restore(Join(left, right, "full", and_all(rest + conds)), node.schema)
    raise UnsupportedError(f"a subquery in the ON condition of a {node.kind.upper()} JOIN that reads "
                           "its preserved side", hint="compute the subquery's value in a derived table first")


def _below(node: LogicalPlan) -> LogicalPlan:
    """A node of one input with subqueries in its expressions (an aggregate's argument, a window's
    key): each subquery's value is computed by a projection below it, then read as a column."""
    fields: dict[int, Field] = {}
    values: list[Expr] = []

    def lift(x):
        if isinstance(x, SubqueryExpr) or (isinstance(x, Call) and x.name == "not"
                                           and isinstance(x.args[0], SubqueryExpr)):
            f = Field("__subquery", x.dtype, True, new_id())
            fields[id(x)] = f
            values.append(x)
            return ColumnRef(f)
        return x
    new = node.map_expressions(lambda e: e.transform_down(lift))
    child = node.input
    proj = Project(child, tuple(ColumnRef(f) for f in child.schema) + tuple(values),
                   child.schema + tuple(fields[id(v)] for v in values))
    return new.with_children((_project_with_subqueries(proj),))


def _lateral_direct(right: LogicalPlan, left: LogicalPlan) -> LogicalPlan | None:
    """``right`` with its one-row VALUES leaf replaced by ``left``, when ``right`` is only
    projections, filters and unnests over it (``LATERAL unnest(t.l)``, ``LATERAL (SELECT t.a + 1)``):
    then the inner lateral join is that plan, no join needed. None for other shapes."""
    from quarry.logical.nested import Unnest
    from quarry.logical.plan import Values
    if isinstance(right, Values):
        if len(right.rows) != 1 or any(e.column_ids() for e in right.rows[0]):
            return None
        return Project(left, tuple(ColumnRef(f) for f in left.schema) + right.rows[0],
                       left.schema + right.fields)
    if isinstance(right, (Project, Filter, Unnest)):
        child = _lateral_direct(right.input, left)
        if child is None:
            return None
        if isinstance(right, Project):
            return Project(child, tuple(ColumnRef(f) for f in left.schema) + right.exprs, left.schema + right.fields)
        return right.with_children((child,))
    return None


def _lateral(node: Join) -> LogicalPlan:
    """``left JOIN LATERAL right``: right computed for every left row (the dependent join)."""
    left, right = node.left, node.right
    if node.kind in ("inner", "cross"):
        direct = _lateral_direct(right, left)
        if direct is not None:
            out: LogicalPlan = Filter(direct, node.condition) if node.condition is not None else direct
            return _restore(out, node.schema)
    outer = produced_ids(left)
    try:
        pulled, corr = pull_up(right, outer)
    except UnsupportedError:
        pulled = None
    if pulled is not None and not (outer_references(pulled) & outer):
        cond = and_all(conjuncts(node.condition) + corr)
        kind = "inner" if node.kind == "cross" and cond is not None else node.kind
        return _restore(Join(left, pulled, kind, cond), node.schema)
    pusher = DomainPusher(left, correlated_columns(left, right))
    if is_scalar_aggregate(right) and node.kind in ("inner", "cross", "left"):
        # one row for every left row: the aggregate grouped by the domain, left-joined
        joined, refs = _general_scalar_aggregate(left, right, pusher)
        if node.kind == "left" and node.condition is not None:
            # the ON condition decides whether the one row joins: NULLs where it is not TRUE
            inner = tuple(Field(f.name, f.dtype, True, new_id()) for f in right.schema)
            out: LogicalPlan = Project(joined, tuple(ColumnRef(f) for f in left.schema)
                                       + tuple(refs[f.id] for f in right.schema), left.schema + inner)
            cond = replace_columns(node.condition, {f.id: ColumnRef(g) for f, g in zip(right.schema, inner)})
            out = Project(out, tuple(ColumnRef(f) for f in left.schema) + tuple(
                F.call("case", [cond, ColumnRef(g), Literal(None, g.dtype)]) for g in inner),
                left.schema + tuple(_replace(f, nullable=True) for f in right.schema))
        else:
            out = Project(joined, tuple(ColumnRef(f) for f in left.schema)
                          + tuple(refs[f.id] for f in right.schema), left.schema + right.schema)
            if node.condition is not None:
                out = Filter(out, node.condition)
        return _restore(out, node.schema)
    pushed, dmap = pusher.push(right)
    cond = and_all(conjuncts(node.condition) + pusher.join_outer(dmap))
    kind = "inner" if node.kind == "cross" else node.kind
    return _restore(Join(left, pushed, kind, cond), node.schema)


def decorrelate(plan: LogicalPlan) -> LogicalPlan:
    """Remove every subquery expression from ``plan`` (recursively)."""
    def fn(node: LogicalPlan) -> LogicalPlan:
        if isinstance(node, Join) and any(_has_subquery(e) for e in node.expressions()):
            return _join_with_subqueries(node)
        if isinstance(node, Join) and node.lateral:
            return _lateral(node)
        if not any(_has_subquery(e) for e in node.expressions()):
            return node
        if isinstance(node, Filter):
            return _filter_with_subqueries(node)
        if isinstance(node, Project):
            return _project_with_subqueries(node)
        if isinstance(node, (Aggregate, Window)):
            return _below(node)
        raise UnsupportedError(f"subqueries are not supported inside {type(node).__name__}",
                               hint="move the subquery into WHERE, HAVING or the select list")
    return plan.transform_up(fn)


@rule(excludable=False)      # the physical planner cannot run a subquery expression
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return decorrelate(plan)



