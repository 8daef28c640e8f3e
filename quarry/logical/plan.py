"""Logical plan nodes: immutable, each with an output schema of :class:`Field`s.

A plan says *what* to compute. Nodes are frozen dataclasses; the structural API
is ``children()`` / ``with_children()`` and, for rules that rewrite expressions
in any node, ``expressions()`` / ``with_expressions()``. ``schema`` is computed
once per node (cached) from the node's own fields and its children's schemas.

    >>> print(plan.pretty())          # doctest: +SKIP
    Sort: revenue DESC NULLS LAST
      Aggregate: group=[l_orderkey] aggs=[sum(...) AS revenue]
        Scan: lineitem columns=[l_orderkey, l_extendedprice] filters=[...]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Callable

import pyarrow as pa

from quarry.logical.tree import TreeNode, gather, rebuild
from quarry.logical.expressions import (
    AggCall, ColumnRef, Expr, Field, SortKey, SubqueryExpr, WindowCall, WindowFrame,
)

JOIN_KINDS = ("inner", "left", "right", "full", "semi", "anti", "cross")


class LogicalPlan(TreeNode):
    """Base of plan nodes (frozen dataclasses); ``_expr_fields`` lists expression-valued fields."""

    _expr_fields: tuple[str, ...] = ()

    @property
    def schema(self) -> tuple[Field, ...]:  # pragma: no cover - overridden
        raise NotImplementedError

    def expressions(self) -> tuple[Expr, ...]:
        """The node's own expressions (not its children's)."""
        return gather(self, self._expr_fields)

    def with_expressions(self, exprs) -> "LogicalPlan":
        return rebuild(self, self._expr_fields, exprs)

    def map_expressions(self, fn: Callable[[Expr], Expr]) -> "LogicalPlan":
        """Apply ``fn`` to each top-level expression of this node only."""
        exprs = self.expressions()
        return self.with_expressions(tuple(fn(e) for e in exprs)) if exprs else self

    @cached_property
    def schema_ids(self) -> frozenset[int]:
        return frozenset(f.id for f in self.schema)

    # -- display ---------------------------------------------------------------------------

    def describe(self) -> str:
        """One line: node name and its arguments."""
        return type(self).__name__

    def pretty(self, indent: int = 0, show_schema: bool = False) -> str:
        """The plan as an indented tree, one node a line."""
        line = "  " * indent + self.describe()
        if show_schema:
            line += "  -> [" + ", ".join(f.name for f in self.schema) + "]"
        lines = [line]
        for c in self.children():
            lines.append(c.pretty(indent + 1, show_schema))
        for e in self.expressions():
            for sub in e.walk():
                if isinstance(sub, SubqueryExpr):
                    lines.append("  " * (indent + 1) + f"<{type(sub).__name__}>")
                    lines.append(sub.plan.pretty(indent + 2, show_schema))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.pretty()


def _names(exprs, fields_) -> str:
    parts = []
    for e, f in zip(exprs, fields_):
        text = str(e)
        parts.append(text if (isinstance(e, ColumnRef) and e.field.name == f.name) else f"{text} AS {f.name}")
    return ", ".join(parts)


class TableSource:
    """What a Scan reads: implemented by the catalog's table providers.

    Providers expose ``name``, ``schema`` (a normalized ``pa.Schema``) and
    ``statistics()``; the physical planner asks them for scan operators.
    Identity is by object (eq=False semantics).
    """

    name: str
    schema: pa.Schema


@dataclass(frozen=True, eq=False)
class Scan(LogicalPlan):
    """Read a table. ``projection`` picks columns of ``table_fields``; ``filters`` are pushed predicates."""

    source: Any
    table_fields: tuple[Field, ...]
    projection: tuple[int, ...] | None = None
    filters: tuple[Expr, ...] = ()
    alias: str | None = None
    _expr_fields = ("filters",)

    @cached_property
    def schema(self):
        if self.projection is None:
            return self.table_fields
        return tuple(self.table_fields[i] for i in self.projection)

    def describe(self):
        text = f"Scan: {self.source.name}"
        if self.alias and self.alias != self.source.name:
            text += f" AS {self.alias}"
        text += " columns=[" + ", ".join(f.name for f in self.schema) + "]"
        if self.filters:
            text += " filters=[" + ", ".join(map(str, self.filters)) + "]"
        return text


@dataclass(frozen=True, eq=False)
class Values(LogicalPlan):
    """Literal rows (``VALUES (...), (...)``; also the one empty row of ``SELECT 1``)."""

    rows: tuple[tuple[Expr, ...], ...]
    fields: tuple[Field, ...]

    @property
    def schema(self):
        return self.fields

    def expressions(self):
        return tuple(e for row in self.rows for e in row)

    def with_expressions(self, exprs):
        exprs = tuple(exprs)
        if all(a is b for a, b in zip(exprs, self.expressions())):
            return self
        width = len(self.fields)
        rows = tuple(exprs[i:i + width] for i in range(0, len(exprs), width))
        return replace(self, rows=rows)

    def describe(self):
        return f"Values: {len(self.rows)} rows [" + ", ".join(f.name for f in self.fields) + "]"


@dataclass(frozen=True, eq=False)
class Filter(LogicalPlan):
    """Keep rows where ``predicate`` is TRUE (NULL and FALSE drop the row)."""

    input: LogicalPlan
    predicate: Expr
    _child_fields = ("input",)
    _expr_fields = ("predicate",)

    @property
    def schema(self):
        return self.input.schema

    def describe(self):
        return f"Filter: {self.predicate}"


@dataclass(frozen=True, eq=False)
class Project(LogicalPlan):
    """Compute ``exprs``; output column i is ``fields[i]``.

    A plain column passed through keeps its field (same id), so predicates above
    and below a projection speak of the same column.
    """

    input: LogicalPlan
    exprs: tuple[Expr, ...]
    fields: tuple[Field, ...]
    _child_fields = ("input",)
    _expr_fields = ("exprs",)

    @property
    def schema(self):
        return self.fields

    def describe(self):
        return f"Project: {_names(self.exprs, self.fields)}"


@dataclass(frozen=True, eq=False)
class Aggregate(LogicalPlan):
    """GROUP BY ``group_exprs``, computing ``aggs``.

    Output: group fields then aggregate fields. With ``grouping_sets`` (tuples of
    indexes into the group list), each set is aggregated separately, missing keys
    are NULL, and ``grouping_id`` (a bit per key, 1 = not in the set) is appended.
    """

    input: LogicalPlan
    group_exprs: tuple[Expr, ...]
    group_fields: tuple[Field, ...]
    aggs: tuple[AggCall, ...]
    agg_fields: tuple[Field, ...]
    grouping_sets: tuple[tuple[int, ...], ...] | None = None
    grouping_id: Field | None = None
    _child_fields = ("input",)
    _expr_fields = ("group_exprs", "aggs")

    @cached_property
    def schema(self):
        extra = (self.grouping_id,) if self.grouping_id is not None else ()
        return self.group_fields + self.agg_fields + extra

    def describe(self):
        text = f"Aggregate: group=[{_names(self.group_exprs, self.group_fields)}]"
        text += f" aggs=[{_names(self.aggs, self.agg_fields)}]"
        if self.grouping_sets is not None:
            sets = ["(" + ", ".join(self.group_fields[i].name for i in s) + ")" for s in self.grouping_sets]
            text += " sets=[" + ", ".join(sets) + "]"
        return text


@dataclass(frozen=True, eq=False)
class Join(LogicalPlan):
    """Join ``left`` and ``right`` on ``condition``.

    kind: inner, left, right, full, semi, anti, cross. semi/anti output only the
    left columns. ``null_aware`` marks the anti join of ``NOT IN``: a NULL on either
    side makes the membership unknown, so the left row is dropped. ``lateral`` (LATERAL, or a
    FROM subquery naming an earlier FROM item) lets ``right`` read ``left``'s columns; the
    decorrelation rule removes it, like a subquery expression.
    """

    left: LogicalPlan
    right: LogicalPlan
    kind: str
    condition: Expr | None = None
    null_aware: bool = False
    lateral: bool = False
    _child_fields = ("left", "right")
    _expr_fields = ("condition",)

    @cached_property
    def schema(self):
        if self.kind in ("semi", "anti"):
            return self.left.schema
        left = self.left.schema
        right = self.right.schema
        if self.kind in ("right", "full"):
            left = tuple(replace(f, nullable=True) for f in left)
        if self.kind in ("left", "full"):
            right = tuple(replace(f, nullable=True) for f in right)
        return left + right

    def describe(self):
        text = f"Join: {self.kind}"
        if self.lateral:
            text += " lateral"
        if self.null_aware:
            text += " (null-aware)"
        if self.condition is not None:
            text += f" on {self.condition}"
        return text


@dataclass(frozen=True, eq=False)
class Window(LogicalPlan):
    """Append window function results (``exprs``) as ``fields`` to the input's columns."""

    input: LogicalPlan
    exprs: tuple[WindowCall, ...]
    fields: tuple[Field, ...]
    _child_fields = ("input",)
    _expr_fields = ("exprs",)

    @cached_property
    def schema(self):
        return self.input.schema + self.fields

    def describe(self):
        return f"Window: {_names(self.exprs, self.fields)}"


@dataclass(frozen=True, eq=False)
class Sort(LogicalPlan):
    """ORDER BY ``keys``; ``fetch`` keeps only the first rows (top-k) when set."""

    input: LogicalPlan
    keys: tuple[SortKey, ...]
    fetch: int | None = None
    _child_fields = ("input",)
    _expr_fields = ("keys",)

    @property
    def schema(self):
        return self.input.schema

    def describe(self):
        text = "Sort: " + ", ".join(map(str, self.keys))
        if self.fetch is not None:
            text += f" fetch={self.fetch}"
        return text


@dataclass(frozen=True, eq=False)
class Limit(LogicalPlan):
    """Skip ``offset`` rows then keep at most ``limit`` (None = all).

    With ``percent`` (``LIMIT 50 PERCENT``, then ``limit`` is None) the rows kept are
    ``floor(percent / 100 * n)`` of the ``n`` input rows (counted before the offset is
    skipped), as DuckDB does.
    """

    input: LogicalPlan
    limit: int | None
    offset: int = 0
    percent: float | None = None
    _child_fields = ("input",)

    @property
    def schema(self):
        return self.input.schema

    def describe(self):
        text = f"Limit: {self.limit if self.limit is not None else 'ALL'}" if self.percent is None else \
            f"Limit: {self.percent:g} PERCENT"
        if self.offset:
            text += f" offset={self.offset}"
        return text


@dataclass(frozen=True, eq=False)
class Union(LogicalPlan):
    """UNION ALL of inputs with the same column count; columns become ``fields``."""

    inputs: tuple[LogicalPlan, ...]
    fields: tuple[Field, ...]
    _child_fields = ("inputs",)

    @property
    def schema(self):
        return self.fields

    def describe(self):
        return "Union: [" + ", ".join(f.name for f in self.fields) + "]"


@dataclass(frozen=True, eq=False)
class SetOp(LogicalPlan):
    """INTERSECT / EXCEPT [ALL] of two inputs (rows compared NULL-safely)."""

    left: LogicalPlan
    right: LogicalPlan
    kind: str          # "intersect" | "except"
    all: bool
    fields: tuple[Field, ...]
    _child_fields = ("left", "right")

    @property
    def schema(self):
        return self.fields

    def describe(self):
        return f"SetOp: {self.kind.upper()}{' ALL' if self.all else ''}"


@dataclass(frozen=True, eq=False)
class Cached(LogicalPlan):
    """A materialized result (``df.cache()``, or a small table made during planning)."""

    table: Any               # pyarrow.Table with columns named by field key
    fields: tuple[Field, ...]
    label: str = "cached"

    @property
    def schema(self):
        return self.fields

    def describe(self):
        return f"Cached: {self.label} rows={self.table.num_rows}"


@dataclass(frozen=True, eq=False)
class SingleRow(LogicalPlan):
    """Pass the input through, failing at run time if it has more than one row (scalar subqueries)."""

    input: LogicalPlan
    _child_fields = ("input",)

    @property
    def schema(self):
        return self.input.schema

    def describe(self):
        return "SingleRow"


# ---------------------------------------------------------------------------

def produced_ids(plan: LogicalPlan) -> set[int]:
    """Every column id produced anywhere inside ``plan``."""
    ids: set[int] = set()
    for node in plan.walk():
        ids |= node.schema_ids
        if isinstance(node, Scan):
            ids |= {f.id for f in node.table_fields}
    return ids


def referenced_ids(plan: LogicalPlan) -> set[int]:
    """Every column id read by an expression anywhere inside ``plan`` (subqueries included)."""
    ids: set[int] = set()
    for node in plan.walk():
        for e in node.expressions():
            ids |= e.column_ids()
    return ids


def outer_references(plan: LogicalPlan) -> set[int]:
    """Ids a (sub)plan reads but does not produce: its correlation with an outer query."""
    return referenced_ids(plan) - produced_ids(plan)


def has_subquery(plan: LogicalPlan) -> bool:
    """True if any expression anywhere in ``plan`` still holds a subquery."""
    return any(isinstance(e, SubqueryExpr) for n in plan.walk() for x in n.expressions() for e in x.walk())


__all__ = [
    "LogicalPlan", "Scan", "Values", "Filter", "Project", "Aggregate", "Join", "Window", "Sort", "Limit",
    "Union", "SetOp", "Cached", "SingleRow", "TableSource", "produced_ids", "referenced_ids", "outer_references",
    "has_subquery", "JOIN_KINDS", "WindowFrame",
]
