"""Logical expressions: immutable trees typed at construction.

Every column a plan produces is a :class:`Field` with a plan-unique ``id``; a
:class:`ColumnRef` points at a field by that id. Names are only for people:
two ``n_name`` columns of a self-join are different fields, so rules can move
expressions around without ever re-resolving a name.

All nodes are frozen dataclasses. ``children()`` and ``with_children()`` are the
whole structural API; ``transform_up``/``transform_down`` return the very same
object when nothing changed, so "did the rule fire" is ``new is not old``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from quarry.logical.tree import TreeNode

_next_id = itertools.count(1)


def new_id() -> int:
    """A fresh column id, unique in this process."""
    return next(_next_id)


@dataclass(frozen=True)
class Field:
    """One output column of a plan node: a name for people, an id for the engine."""

    name: str
    dtype: pa.DataType
    nullable: bool = True
    id: int = field(default_factory=new_id)
    qualifier: str | None = None

    @property
    def key(self) -> str:
        """The column's name inside physical batches: unique, stable, readable."""
        return f"{self.name}#{self.id}"

    def renamed(self, name: str, qualifier: str | None = None) -> "Field":
        """The same column under another name (same id)."""
        return replace(self, name=name, qualifier=qualifier)

    def fresh(self, name: str | None = None, qualifier: str | None = None) -> "Field":
        """A new column (new id) with this one's type."""
        return Field(name or self.name, self.dtype, self.nullable, new_id(), qualifier)

    def __repr__(self) -> str:
        return self.key


class Expr(TreeNode):
    """Base of all expressions. Subclasses are frozen dataclasses listing their
    expression-valued fields in ``_child_fields``; ``walk`` does not enter subquery plans."""

    @property
    def dtype(self) -> pa.DataType:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def nullable(self) -> bool:
        return True

    def column_ids(self) -> set[int]:
        """Ids of every column this expression reads (subquery outer references included)."""
        ids = set()
        for e in self.walk():
            if isinstance(e, ColumnRef):
                ids.add(e.field.id)
            elif isinstance(e, SubqueryExpr):
                ids |= e.outer_ids()
        return ids

    def contains(self, kind: type) -> bool:
        return any(isinstance(e, kind) for e in self.walk())


@dataclass(frozen=True, eq=True)
class ColumnRef(Expr):
    """A reference to a column by its field id."""

    field: Field

    @property
    def dtype(self):
        return self.field.dtype

    @property
    def nullable(self):
        return self.field.nullable

    def __str__(self):
        return self.field.name if self.field.qualifier is None else f"{self.field.qualifier}.{self.field.name}"


@dataclass(frozen=True, eq=True)
class Literal(Expr):
    """A constant; ``value`` is a Python value (None for NULL) of type ``type``."""

    value: Any
    type: pa.DataType

    @property
    def dtype(self):
        return self.type

    @property
    def nullable(self):
        return self.value is None

    def __str__(self):
        if self.value is None:
            return "NULL"
        if isinstance(self.value, str):
            return "'" + self.value.replace("'", "''") + "'"
        if pa.types.is_date(self.type):
            return f"DATE '{self.value}'"
        if pa.types.is_interval(self.type):
            m, d, ns = self.value
            return f"INTERVAL '{m} months {d} days {ns} ns'"
        if isinstance(self.value, bool):
            return "TRUE" if self.value else "FALSE"
        return str(self.value)


# Operators that print infix, by function name.
INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "modulo": "%",
         "equal": "=", "not_equal": "<>", "less": "<", "less_equal": "<=", "greater": ">",
         "greater_equal": ">=", "and": "AND", "or": "OR", "concat": "||"}


@dataclass(frozen=True, eq=True)
class Call(Expr):
    """A scalar function or operator applied to arguments; ``type`` is fixed at binding.

    Operators are calls too (``add``, ``equal``, ``and``, ``not``, ``case``, ``cast``,
    ``in_list``, ``like``, ...), so one registry types and runs all of them.
    """

    name: str
    args: tuple[Expr, ...]
    type: pa.DataType
    is_nullable: bool = True
    _child_fields = ("args",)

    @property
    def dtype(self):
        return self.type

    @property
    def nullable(self):
        return self.is_nullable

    def __str__(self):
        a = self.args
        if self.name in INFIX and len(a) == 2:
            return f"({a[0]} {INFIX[self.name]} {a[1]})"
        if self.name == "not":
            return f"(NOT {a[0]})"
        if self.name == "negate":
            return f"(- {a[0]})"
        if self.name == "is_null":
            return f"({a[0]} IS NULL)"
        if self.name == "is_not_null":
            return f"({a[0]} IS NOT NULL)"
        if self.name == "cast":
            from quarry.logical.types import sql_name
            return f"CAST({a[0]} AS {sql_name(self.type)})"
        if self.name == "in_list":
            return f"({a[0]} IN ({', '.join(map(str, a[1:]))}))"
        if self.name in ("like", "ilike"):
            return f"({a[0]} {self.name.upper()} {a[1]})"
        if self.name == "case":
            parts = ["CASE"]
            for i in range(0, len(a) - 1, 2):
                parts.append(f"WHEN {a[i]} THEN {a[i + 1]}")
            parts.append(f"ELSE {a[-1]} END")
            return " ".join(parts)
        return f"{self.name}({', '.join(map(str, a))})"


@dataclass(frozen=True, eq=True)
class AggCall(Expr):
    """An aggregate function: ``sum(x)``, ``count(DISTINCT x)``, ``count(*)`` (no args)."""

    name: str
    args: tuple[Expr, ...]
    type: pa.DataType
    distinct: bool = False
    filter: Expr | None = None
    _child_fields = ("args", "filter")

    @property
    def dtype(self):
        return self.type

    @property
    def nullable(self):
        return self.name not in ("count", "count_star")

    def __str__(self):
        inner = "*" if not self.args else ", ".join(map(str, self.args))
        if self.distinct:
            inner = "DISTINCT " + inner
        text = f"{self.name}({inner})"
        if self.filter is not None:
            text += f" FILTER (WHERE {self.filter})"
        return text


@dataclass(frozen=True, eq=True)
class SortKey(Expr):
    """An ORDER BY item. quarry's default, like DuckDB's, is NULLS LAST in both directions."""

    expr: Expr
    ascending: bool = True
    nulls_first: bool = False
    _child_fields = ("expr",)

    @property
    def dtype(self):
        return self.expr.dtype

    def __str__(self):
        return f"{self.expr} {'ASC' if self.ascending else 'DESC'} NULLS {'FIRST' if self.nulls_first else 'LAST'}"


@dataclass(frozen=True, eq=True)
class WindowFrame:
    """ROWS or RANGE frame; bounds are ints (negative = preceding), 0 = current row, None = unbounded.

    ``interval``: the bounds came as day-time INTERVALs (``RANGE BETWEEN INTERVAL 1 HOUR PRECEDING ...``)
    and are microseconds, for a TIMESTAMP ORDER BY key; a frame of plain numbers never applies to one.
    ``months`` (with ``interval``): the bounds are whole months (``INTERVAL 1 MONTH PRECEDING``), added to a
    DATE or TIMESTAMP key as calendar months (the day of month kept, or the target month's last)."""

    mode: str = "range"        # "rows" | "range"
    start: int | None = None   # None = UNBOUNDED PRECEDING
    end: int | None = 0        # None = UNBOUNDED FOLLOWING
    interval: bool = False
    months: bool = False

    def __str__(self):
        def bound(b, side):
            if b is None:
                return f"UNBOUNDED {side}"
            if b == 0:
                return "CURRENT ROW"
            unit = "MONTH" if self.months else "MICROSECOND"
            amount = f"INTERVAL '{abs(b)}' {unit}" if self.interval else str(abs(b))
            return f"{amount} {'PRECEDING' if b < 0 else 'FOLLOWING'}"
        return f"{self.mode.upper()} BETWEEN {bound(self.start, 'PRECEDING')} AND {bound(self.end, 'FOLLOWING')}"


@dataclass(frozen=True, eq=True)
class WindowCall(Expr):
    """``func OVER (PARTITION BY ... ORDER BY ... frame)``; func is an AggCall or a ranking Call."""

    func: Expr
    partition_by: tuple[Expr, ...] = ()
    order_by: tuple[SortKey, ...] = ()
    frame: WindowFrame | None = None
    _child_fields = ("func", "partition_by", "order_by")

    @property
    def dtype(self):
        return self.func.dtype

    def __str__(self):
        spec = []
        if self.partition_by:
            spec.append("PARTITION BY " + ", ".join(map(str, self.partition_by)))
        if self.order_by:
            spec.append("ORDER BY " + ", ".join(map(str, self.order_by)))
        if self.frame is not None:
            spec.append(str(self.frame))
        return f"{self.func} OVER ({' '.join(spec)})"


class SubqueryExpr(Expr):
    """An expression holding a logical plan: removed by decorrelation before execution."""

    plan: Any

    def outer_ids(self) -> set[int]:
        """Ids the subquery reads that its own plan does not produce (correlation)."""
        from quarry.logical.plan import outer_references
        return outer_references(self.plan)


@dataclass(frozen=True, eq=False)
class ScalarSubquery(SubqueryExpr):
    """``(SELECT one_value ...)``."""

    plan: Any

    @property
    def dtype(self):
        return self.plan.schema[0].dtype

    def __str__(self):
        return "scalar-subquery(" + ", ".join(f.key for f in self.plan.schema) + ")"


@dataclass(frozen=True, eq=False)
class Exists(SubqueryExpr):
    """``EXISTS (SELECT ...)``; ``NOT EXISTS`` is ``not(Exists)``."""

    plan: Any

    @property
    def dtype(self):
        return pa.bool_()

    @property
    def nullable(self):
        return False

    def __str__(self):
        return "exists(subquery)"


@dataclass(frozen=True, eq=False)
class InSubquery(SubqueryExpr):
    """``expr IN (SELECT col ...)``, and the quantified comparisons ``expr op ANY|ALL (SELECT ...)``.

    ``op`` is a comparison function name (``equal``, ``less``, ...), ``quantifier`` "any" or "all";
    IN is ``= ANY``, ``NOT IN`` is ``not(InSubquery)`` (three-valued). ``expr`` may be a
    :class:`Row` when the subquery returns several columns: ``(a, b) IN (SELECT x, y ...)``.
    """

    expr: Expr
    plan: Any
    op: str = "equal"
    quantifier: str = "any"
    _child_fields = ("expr",)

    @property
    def dtype(self):
        return pa.bool_()

    @property
    def items(self) -> tuple[Expr, ...]:
        """The compared values: the row's items, or the one expression."""
        return self.expr.items if isinstance(self.expr, Row) else (self.expr,)

    def __str__(self):
        if self.op == "equal" and self.quantifier == "any":
            return f"({self.expr} IN subquery)"
        return f"({self.expr} {INFIX.get(self.op, self.op)} {self.quantifier.upper()} subquery)"


@dataclass(frozen=True, eq=True)
class Row(Expr):
    """A row value ``(a, b)`` on the left of ``IN (SELECT a, b ...)``: only inside an InSubquery."""

    items: tuple[Expr, ...]
    _child_fields = ("items",)

    @property
    def dtype(self):
        return pa.struct([(f"v{i}", e.dtype) for i, e in enumerate(self.items)])

    def __str__(self):
        return "(" + ", ".join(map(str, self.items)) + ")"


# ---------------------------------------------------------------------------
# small helpers used everywhere

TRUE = Literal(True, pa.bool_())
FALSE = Literal(False, pa.bool_())


def conjuncts(e: Expr | None) -> list[Expr]:
    """Split ``a AND b AND c`` into ``[a, b, c]``."""
    if e is None:
        return []
    if isinstance(e, Call) and e.name == "and":
        return conjuncts(e.args[0]) + conjuncts(e.args[1])
    return [e]


def disjuncts(e: Expr) -> list[Expr]:
    """Split ``a OR b OR c`` into ``[a, b, c]``."""
    if isinstance(e, Call) and e.name == "or":
        return disjuncts(e.args[0]) + disjuncts(e.args[1])
    return [e]


def and_all(parts: list[Expr]) -> Expr | None:
    """Join predicates with AND; None for an empty list."""
    out = None
    for p in parts:
        out = p if out is None else Call("and", (out, p), pa.bool_(), out.nullable or p.nullable)
    return out


def or_all(parts: list[Expr]) -> Expr | None:
    out = None
    for p in parts:
        out = p if out is None else Call("or", (out, p), pa.bool_(), out.nullable or p.nullable)
    return out


def replace_columns(e: Expr, mapping: dict[int, Expr]) -> Expr:
    """Substitute column references by id (used to push expressions through projections)."""
    if not mapping:
        return e

    def sub(node):
        if isinstance(node, ColumnRef) and node.field.id in mapping:
            return mapping[node.field.id]
        return node
    return e.transform_up(sub)


