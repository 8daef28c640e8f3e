"""The pipeline AST: one frozen dataclass per verb, each remembering where it was written.

The parser (``quarry.dsl.parser``) builds it from the lark tree; the compiler
(``quarry.dsl.compiler``) turns it into DataFrame API calls. Expressions stay
SQL source text (:class:`Fragment`): the DataFrame API parses and binds them
with the SQL expression binder, so the DSL has exactly SQL's expression syntax.

    >>> from quarry.dsl import parse_pipeline
    >>> p = parse_pipeline("from t | filter x > 1 | take 5")
    >>> [s.verb for s in p.steps]
    ['filter', 'take']
    >>> p.steps[0].condition.text
    'x > 1'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """Where a piece of the pipeline is: character offsets ``[start, end)``, 1-based line and column."""

    start: int
    end: int
    line: int
    column: int


@dataclass(frozen=True)
class Fragment:
    """A SQL expression, as written (``l_extendedprice * (1 - l_discount)``)."""

    text: str
    span: Span


@dataclass(frozen=True)
class NamedExpr:
    """``name = expression``, or an expression the API names (``name`` is None)."""

    name: str | None
    expr: Fragment
    span: Span


@dataclass(frozen=True)
class Relation:
    """What ``from``, ``join`` and the set operations read.

    ``kind`` is ``"table"`` (a catalog name), ``"path"`` (a quoted file path),
    ``"function"`` (``read_parquet('x', ...)``: ``name`` and ``args``) or
    ``"pipeline"`` (a parenthesized pipeline). ``alias`` is the ``as`` name.
    """

    kind: str
    span: Span
    name: str | None = None
    args: tuple[NamedExpr, ...] = ()
    pipeline: "Pipeline | None" = None
    alias: str | None = None


# ------------------------------------------------------------------ steps


@dataclass(frozen=True)
class Step:
    """Base of the verbs; ``span`` covers the verb and its arguments."""

    span: Span

    @property
    def verb(self) -> str:
        return _VERBS[type(self)]


@dataclass(frozen=True)
class Select(Step):
    """``select a, b, c = expr``: ``df.select(...)``."""

    items: tuple[NamedExpr, ...]


@dataclass(frozen=True)
class Filter(Step):
    """``filter <condition>``: ``df.filter(...)``."""

    condition: Fragment


@dataclass(frozen=True)
class Derive(Step):
    """``derive name = expr, ...``: ``df.with_columns(...)``."""

    items: tuple[NamedExpr, ...]


@dataclass(frozen=True)
class Group(Step):
    """``group k1, k2 (name = agg(...), ...)``: ``df.group_by(...).agg(...)``."""

    keys: tuple[NamedExpr, ...]
    aggregates: tuple[NamedExpr, ...]


@dataclass(frozen=True)
class Aggregate(Step):
    """``aggregate (name = agg(...), ...)``: ``df.agg(...)`` over the whole frame."""

    aggregates: tuple[NamedExpr, ...]


@dataclass(frozen=True)
class Window(Step):
    """``window [over (spec)] name = f(...) [over (spec)], ...``: ``df.with_columns(...)``.

    ``over`` is the text inside the shared ``over (...)``; an item without its own
    OVER clause uses it.
    """

    over: Fragment | None
    items: tuple[NamedExpr, ...]


@dataclass(frozen=True)
class Join(Step):
    """``join [kind] <relation> [on <condition> | on (k1, k2)]``: ``df.join(other, on=..., how=kind)``.

    Exactly one of ``condition`` and ``using`` is set, except for a cross join (neither).
    """

    kind: str
    relation: Relation
    condition: Fragment | None = None
    using: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SortKey:
    """One ``sort`` key: ``expr [asc | desc] [nulls first | nulls last]``.

    ``nulls_first`` is None when not written (the API's default applies).
    """

    expr: Fragment
    descending: bool
    nulls_first: bool | None
    span: Span


@dataclass(frozen=True)
class Sort(Step):
    """``sort k1, k2 desc``: ``df.sort(...)``."""

    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Take(Step):
    """``take n [offset m]``: ``df.limit(n, offset=m)``."""

    limit: int
    offset: int = 0


@dataclass(frozen=True)
class Distinct(Step):
    """``distinct`` (``df.distinct()``) or ``distinct a, b`` (``df.drop_duplicates([a, b])``)."""

    subset: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetOperation(Step):
    """``union [all] r``, ``intersect [all] r``, ``except [all] r``."""

    op: str            # "union" | "intersect" | "except"
    all: bool
    relation: Relation

    @property
    def verb(self) -> str:
        return self.op


@dataclass(frozen=True)
class Rename(Step):
    """``rename new = old, ...``: ``df.rename({old: new, ...})``."""

    pairs: tuple[tuple[str, str], ...]     # (new, old)


@dataclass(frozen=True)
class Drop(Step):
    """``drop a, b``: ``df.drop(a, b)``."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Pipeline:
    """``from <relation> | step | step ...``."""

    source: Relation
    steps: tuple[Step, ...]
    span: Span


_VERBS = {
    Select: "select", Filter: "filter", Derive: "derive", Group: "group", Aggregate: "aggregate",
    Window: "window", Join: "join", Sort: "sort", Take: "take", Distinct: "distinct",
    SetOperation: "set operation", Rename: "rename", Drop: "drop",
}

__all__ = [
    "Span", "Fragment", "NamedExpr", "Relation", "Step", "Select", "Filter", "Derive", "Group", "Aggregate",
    "Window", "Join", "SortKey", "Sort", "Take", "Distinct", "SetOperation", "Rename", "Drop", "Pipeline",
]
