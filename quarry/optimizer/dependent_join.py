"""General decorrelation: the dependent join pushed down, after Neumann & Kemper ("Unnesting Arbitrary Queries").

A correlated subquery ``S`` reads columns ``C`` of the query around it (``outer``). The
*domain* ``D`` is the distinct values of ``C`` in ``outer``. The dependent join
``outer ⋈ S`` equals ``outer ⋈[C ≐ D] S'``, where ``S'`` computes ``S`` once for every
domain row, with the domain's columns as extra output. ``S'`` is built by pushing ``D``
down through ``S``, node by node, until a subtree no longer reads ``C``, where the
dependent join becomes a plain cross join ``D × subtree``:

    Filter p(C)(X)         ->  Filter p(D)(X')
    Project e(C)(X)        ->  Project e(D), D (X')
    Aggregate g; a (X)     ->  Aggregate g, D; a (X')     (a scalar aggregate, no g, is then
                                                         left-joined to D again, so a domain row
                                                         with no input rows still gets one row:
                                                         count 0, the rest NULL -- the count bug)
    X join Y               ->  X' join Y  (only X correlated)  or  X' join Y' on D_x ≐ D_y
    Window over X          ->  the same window, partitioned by D too
    Sort k fetch n / Limit ->  row_number() over (partition by D order by k) <= n
    Union, Intersect, ...  ->  every input pushed, D a column of the result

``≐`` is NULL-safe equality (a NULL outer value is a domain value like any other), written
as two plain equalities (``x IS NULL = y IS NULL`` and ``coalesce(x, 0) = coalesce(y, 0)``)
so the hash join takes it as keys. What the pushed-down plan computes for a non-equality
correlation (``x.b < t.b``) is a join of ``D`` and the subquery's table on that predicate:
the nested-loop join. Each use of ``D`` re-reads ``outer`` (a fresh copy with its own
column ids). Node kinds with no rule here raise "Not supported: ..." naming them.
"""

from __future__ import annotations

import datetime
import decimal

import pyarrow as pa

from quarry.errors import UnsupportedError
from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.logical.expressions import (
    AggCall, Call, ColumnRef, Expr, Field, Literal, SortKey, WindowCall, and_all, new_id, replace_columns,
)
from quarry.logical.plan import (
    Aggregate, Filter, Join, Limit, LogicalPlan, Project, SetOp, SingleRow, Sort, Union, Window, outer_references,
)
from quarry.logical.plan_copy import fresh_copy


def _zero(dtype: pa.DataType):
    """A non-NULL literal of ``dtype`` (what coalesce puts in place of NULL), or None."""
    if pa.types.is_boolean(dtype):
        return Literal(False, dtype)
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
        return Literal(0, dtype)
    if pa.types.is_decimal(dtype):
        return Literal(decimal.Decimal(0), dtype)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return Literal("", dtype)
    if pa.types.is_date32(dtype):
        return Literal(datetime.date(1970, 1, 1), dtype)
    return None


def null_safe_equal(a: Expr, b: Expr) -> list[Expr]:
    """Conjuncts that are TRUE exactly when ``a IS NOT DISTINCT FROM b``, as hash-joinable equalities."""
    if not a.nullable and not b.nullable:
        return [F.call("equal", [a, b])]
    zero = _zero(a.dtype) if a.dtype == b.dtype else None
    if zero is None:
        return [F.call("is_not_distinct_from", [a, b])]
    return [F.call("equal", [F.call("is_null", [a]), F.call("is_null", [b])]),
            F.call("equal", [F.call("coalesce", [a, zero]), F.call("coalesce", [b, zero])])]


def empty_value(a: AggCall) -> Literal:
    """What an aggregate returns over no rows: 0 for counts, NULL otherwise."""
    if a.name in ("count", "count_star", "approx_count_distinct", "count_if", "regr_count"):
        return Literal(0, a.dtype)
    return Literal(None, a.dtype)


class DomainPusher:
    """Pushes the domain of ``cols`` (columns of ``outer``) down through subquery plans."""

    def __init__(self, outer: LogicalPlan, cols: list[Field]):
        for c in cols:
            if pa.types.is_nested(c.dtype):
                raise UnsupportedError(f"a subquery correlated with the {T.sql_name(c.dtype)} column `{c.name}` "
                                       "other than by equality", hint="correlate on a scalar column")
        self.outer = outer
        self.cols = cols
        self.ids = {c.id for c in cols}

    # ------------------------------------------------------------------ helpers

    def domain(self) -> tuple[LogicalPlan, dict[int, Field]]:
        """A fresh plan of the distinct values of the correlated columns, and their fields by outer id."""
        source = domain_source(self.outer, self.ids)
        proj = fresh_copy(Project(source, tuple(ColumnRef(c) for c in self.cols), tuple(self.cols)))
        fields = tuple(Field(c.name, c.dtype, c.nullable, new_id()) for c in self.cols)
        agg = Aggregate(proj, tuple(ColumnRef(f) for f in proj.schema), fields, (), ())
        return agg, {c.id: f for c, f in zip(self.cols, fields)}

    def correlated(self, plan: LogicalPlan) -> bool:
        return bool(outer_references(plan) & self.ids)

    @staticmethod
    def subst(e: Expr, dmap: dict[int, Field]) -> Expr:
        return replace_columns(e, {i: ColumnRef(f) for i, f in dmap.items()})

    def dfields(self, dmap) -> tuple[Field, ...]:
        return tuple(dmap[c.id] for c in self.cols)

    def drefs(self, dmap) -> tuple[Expr, ...]:
        return tuple(ColumnRef(f) for f in self.dfields(dmap))

    def equal_domains(self, a: dict[int, Field], b: dict[int, Field]) -> list[Expr]:
        out: list[Expr] = []
        for c in self.cols:
            out += null_safe_equal(ColumnRef(a[c.id]), ColumnRef(b[c.id]))
        return out

    def join_outer(self, dmap) -> list[Expr]:
        """The condition joining the outer query to a pushed-down plan: outer columns ≐ domain."""
        out: list[Expr] = []
        for c in self.cols:
            out += null_safe_equal(ColumnRef(c), ColumnRef(dmap[c.id]))
        return out

    def _fresh_dmap(self, dmap):
        return {i: Field(f.name, f.dtype, f.nullable, new_id()) for i, f in dmap.items()}

    # ------------------------------------------------------------------ the push-down

    def push(self, plan: LogicalPlan) -> tuple[LogicalPlan, dict[int, Field]]:
        """``plan`` computed for every domain row: its columns plus the domain's (and maybe others)."""
        if not self.correlated(plan):
            d, dmap = self.domain()
            return Join(d, plan, "cross", None), dmap
        method = getattr(self, "_" + type(plan).__name__, None)
        if method is None:
            raise UnsupportedError(f"a correlated subquery containing {type(plan).__name__} is not supported",
                                   hint="rewrite the subquery as a join")
        return method(plan)

    def _Filter(self, node: Filter):
        child, dmap = self.push(node.input)
        return Filter(child, self.subst(node.predicate, dmap)), dmap

    def _Project(self, node: Project):
        child, dmap = self.push(node.input)
        exprs = tuple(self.subst(e, dmap) for e in node.exprs) + self.drefs(dmap)
        return Project(child, exprs, node.fields + self.dfields(dmap)), dmap

    def _Aggregate(self, node: Aggregate):
        if node.grouping_sets is not None:
            raise UnsupportedError("GROUPING SETS, ROLLUP or CUBE inside a correlated subquery")
        child, dmap = self.push(node.input)
        new = self._fresh_dmap(dmap)
        groups = tuple(self.subst(g, dmap) for g in node.group_exprs) + self.drefs(dmap)
        gfields = node.group_fields + self.dfields(new)
        aggs = tuple(self.subst(a, dmap) for a in node.aggs)
        if node.group_exprs:
            return Aggregate(child, groups, gfields, aggs, node.agg_fields), new
        # a scalar aggregate gives one row for every domain row, even one no input row matched
        inner_fields = tuple(Field(f.name, f.dtype, True, new_id()) for f in node.agg_fields)
        agg = Aggregate(child, groups, gfields, aggs, inner_fields)
        d, dd = self.domain()
        joined = Join(d, agg, "left", and_all(self.equal_domains(dd, new)))
        exprs = []
        for a, f in zip(node.aggs, inner_fields):
            empty = empty_value(a)
            exprs.append(ColumnRef(f) if empty.value is None else F.call("coalesce", [ColumnRef(f), empty]))
        return Project(joined, tuple(exprs) + self.drefs(dd), node.agg_fields + self.dfields(dd)), dd

    def _Join(self, node: Join):
        if node.null_aware and self.correlated(node.right):
            raise UnsupportedError("NOT IN over a subquery correlated with an enclosing query",
                                   hint="use NOT EXISTS")
        lc, rc = self.correlated(node.left), self.correlated(node.right)
        kind = node.kind
        cond = node.condition
        if kind == "full":
            raise UnsupportedError("a FULL JOIN inside a correlated subquery")
        one_left = (not rc) if kind in ("inner", "cross", "left", "semi", "anti") else False
        one_right = (not lc) if kind in ("inner", "cross", "right") else False
        if one_left:
            left, dmap = self.push(node.left)
            c = self.subst(cond, dmap) if cond is not None else None
            return Join(left, node.right, kind, c, node.null_aware), dmap
        elif one_right:
            right, dmap = self.push(node.right)
            c = self.subst(cond, dmap) if cond is not None else None
            return Join(node.left, right, kind, c, node.null_aware), dmap
        left, lm = self.push(node.left)
        right, rm = self.push(node.right)
        main = rm if kind == "right" else lm
        parts = ([self.subst(cond, main)] if cond is not None else []) + self.equal_domains(lm, rm)
        return Join(left, right, "inner" if kind == "cross" else kind, and_all(parts), node.null_aware), main

    def _Sort(self, node: Sort):
        if node.fetch is None:
            # order inside a subquery means nothing without a limit
            return self.push(node.input)
        return self._first_rows(node.input, node.keys, node.fetch, 0)

    def _Limit(self, node: Limit):
        if node.percent is not None:
            raise UnsupportedError("LIMIT ... PERCENT inside a correlated subquery")
        inner = node.input
        keys: tuple = ()
        if isinstance(inner, Sort) and inner.fetch is None:
            keys, inner = inner.keys, inner.input
        return self._first_rows(inner, keys, node.limit, node.offset)

    def _first_rows(self, input_plan, keys, limit, offset):
        """The first rows for every domain row: row_number() over (partition by D order by keys)."""
        child, dmap = self.push(input_plan)
        keys = tuple(SortKey(self.subst(k.expr, dmap), k.ascending, k.nulls_first) for k in keys)
        rn = Field("__rn", T.INT64, False, new_id())
        win = Window(child, (WindowCall(F.call("row_number", []), self.drefs(dmap), keys, None),), (rn,))
        conds = []
        if offset:
            conds.append(F.call("greater", [ColumnRef(rn), Literal(offset, T.INT64)]))
        if limit is not None:
            conds.append(F.call("less_equal", [ColumnRef(rn), Literal(offset + limit, T.INT64)]))
        out: LogicalPlan = Filter(win, and_all(conds)) if conds else win
        return Project(out, tuple(ColumnRef(f) for f in child.schema), child.schema), dmap

    def _Window(self, node: Window):
        child, dmap = self.push(node.input)
        exprs = tuple(WindowCall(self.subst(w.func, dmap), tuple(self.subst(p, dmap) for p in w.partition_by)
                                 + self.drefs(dmap),
                                 tuple(SortKey(self.subst(k.expr, dmap), k.ascending, k.nulls_first)
                                       for k in w.order_by), w.frame)
                      for w in node.exprs)
        return Window(child, exprs, node.fields), dmap

    def _Unnest(self, node):
        from quarry.logical.nested import Unnest
        child, dmap = self.push(node.input)
        return Unnest(child, tuple(self.subst(e, dmap) for e in node.lists), node.fields), dmap

    def _SingleRow(self, node: SingleRow):
        child, dmap = self.push(node.input)
        return self.at_most_one_row(child, dmap, node.input.schema), dmap

    def at_most_one_row(self, plan: LogicalPlan, dmap, fields) -> LogicalPlan:
        """``plan`` unchanged, failing at run time if a domain row has more than one row."""
        cnt = Field("__rows", T.INT64, False, new_id())
        win = Window(plan, (WindowCall(F.agg("count", []), self.drefs(dmap), (), None),), (cnt,))
        exprs = []
        for f in plan.schema:
            if f.id in {x.id for x in fields}:
                exprs.append(Call("check_single_row", (ColumnRef(f), ColumnRef(cnt)), f.dtype, True))
            else:
                exprs.append(ColumnRef(f))
        return Project(win, tuple(exprs), plan.schema)

    def _Values(self, node):
        """VALUES rows that read outer columns: each row computed over the domain, then a union."""
        branches = []
        for row in node.rows:
            d, dmap = self.domain()
            fields = tuple(Field(f.name, f.dtype, True, new_id()) for f in node.fields)
            branches.append(Project(d, tuple(self.subst(e, dmap) for e in row) + self.drefs(dmap),
                                    fields + self.dfields(dmap)))
        new = self._fresh_dmap(dmap)
        if len(branches) == 1:
            only = branches[0]
            return Project(only, tuple(ColumnRef(f) for f in only.schema), node.fields + self.dfields(new)), new
        return Union(tuple(branches), node.fields + self.dfields(new)), new

    def _set_inputs(self, inputs):
        outs, maps = [], []
        for inp in inputs:
            p, m = self.push(inp)
            outs.append(Project(p, tuple(ColumnRef(f) for f in inp.schema) + self.drefs(m),
                                inp.schema + self.dfields(m)))
            maps.append(m)
        return outs, maps

    def _Union(self, node: Union):
        outs, maps = self._set_inputs(node.inputs)
        new = self._fresh_dmap(maps[0])
        return Union(tuple(outs), node.fields + self.dfields(new)), new

    def _SetOp(self, node: SetOp):
        (left, right), maps = self._set_inputs((node.left, node.right))
        new = self._fresh_dmap(maps[0])
        return SetOp(left, right, node.kind, node.all, node.fields + self.dfields(new)), new


def domain_source(plan: LogicalPlan, ids: set[int]) -> LogicalPlan:
    """The smallest part of ``plan`` whose rows hold every value ``ids`` take in ``plan`` (maybe more).

    Filters and the joins that keep only left rows' values (inner, cross, left, semi, anti) may
    be looked through while their left side produces ``ids``: the domain may hold values no outer
    row has (they join nothing), never miss one. This keeps the domain of the second of several
    subqueries from re-reading the joins that computed the first.
    """
    while True:
        if isinstance(plan, Filter) and ids <= plan.input.schema_ids:
            plan = plan.input
        elif isinstance(plan, Join) and plan.kind in ("inner", "cross", "left", "semi", "anti") \
                and ids <= plan.left.schema_ids:
            plan = plan.left
        elif isinstance(plan, Project) and ids <= plan.input.schema_ids and all(
                isinstance(e, ColumnRef) and e.field.id == f.id for e, f in zip(plan.exprs, plan.fields)
                if f.id in ids):
            plan = plan.input
        else:
            return plan


def is_scalar_aggregate(plan: LogicalPlan) -> bool:
    """True when ``plan`` is projections over an aggregate without GROUP BY: exactly one row."""
    while isinstance(plan, Project):
        plan = plan.input
    return isinstance(plan, Aggregate) and not plan.group_exprs and plan.grouping_sets is None


def correlated_columns(outer: LogicalPlan, sub: LogicalPlan) -> list[Field]:
    refs = outer_references(sub)
    return [f for f in outer.schema if f.id in refs]
