"""``Column``: an unresolved expression of the DataFrame API, resolved against a plan when used.

A Column is a recipe, as in Spark: ``col("l_quantity") * 2`` names no table and
has no type until a DataFrame method binds it against its input's columns.
Binding goes through the function registry (``quarry.logical.functions``) and
the plan builder's rules (``quarry.logical.builder.aggregate_call``), and SQL
text goes through ``quarry.sql.expression.bind_expression``, so a DataFrame
expression and the same SQL expression become the very same typed logical
expression::

    >>> from quarry import col, lit
    >>> revenue = (col("l_extendedprice") * (1 - col("l_discount"))).alias("revenue")
    >>> revenue.name
    'revenue'
    >>> (col("l_quantity") < 24).name
    '(l_quantity < 24)'

A Column's ``name`` (when not aliased) is its SQL-like text, which becomes the
output column name in ``select``/``agg``. Python values next to a Column are
literals (``col("x") + 1``); a Python ``float`` next to a DECIMAL becomes an
exact decimal literal, the way SQL reads ``0.05``.
"""

from __future__ import annotations

import contextvars
import datetime
import decimal
import re
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace as dc_replace
from typing import Any, Callable

import pyarrow as pa

from quarry.errors import (
    AmbiguousColumnError, BindError, MisplacedWindowError, ParseError, QuarryTypeError, UnsupportedError, suggest,
)
from quarry.logical import builder as B
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import (
    AggCall, ColumnRef, Expr, Field, Literal, SortKey, WindowCall, WindowFrame,
)
from quarry.sql.expression import bind_expression, parse_expression, parse_type_name
from quarry.sql.scope import Relation, Scope

__all__ = ["Column", "WindowSpec", "BindContext", "col", "lit", "expr", "to_column", "parse_type"]


# ---------------------------------------------------------------------------
# the context a Column is bound in

# the scope of the query a subquery is bound inside of (a correlated subquery built with the DataFrame
# API: Spark's ``df.scalar()``, ``lateralJoin``): a name no input column has resolves there, as an outer
# reference, as SQL's binder resolves a subquery's names outward
_OUTER_SCOPE: contextvars.ContextVar = contextvars.ContextVar("quarry_outer_scope", default=None)


@contextmanager
def outer_scope(scope):
    """Bind the DataFrame calls made inside with ``scope`` (a :class:`Scope`) as their outer scope."""
    token = _OUTER_SCOPE.set(scope)
    try:
        yield
    finally:
        _OUTER_SCOPE.reset(token)


@dataclass
class BindContext:
    """What a Column is resolved against: the input columns of one DataFrame method call.

    ``method`` names the DataFrame method (for error messages); ``remap`` maps column
    ids of a DataFrame that was copied into a self-join to its copy's columns.
    """

    session: Any
    fields: tuple[Field, ...]
    method: str
    allow_aggregates: bool = False
    allow_windows: bool = False
    remap: dict[int, Field] = field(default_factory=dict)
    window_function: bool = False     # binding the function of ``over()``: aggregates are allowed there
    # (plan, {old id: field}) per input of a join: how ``df["x"]`` of that input's DataFrame maps here
    owners: tuple = ()

    def __post_init__(self):
        by_qualifier: dict[str | None, list[Field]] = {}
        for f in self.fields:
            by_qualifier.setdefault(f.qualifier, []).append(f)
        self.scope = Scope(relations=[Relation(q, fs) for q, fs in by_qualifier.items()], parent=_OUTER_SCOPE.get())
        self._by_id = {f.id: f for f in self.fields}

    def derive(self, **changes) -> "BindContext":
        """The same context with some settings changed (``allow_aggregates=False``, ...)."""
        return dc_replace(self, **changes)

    def resolve(self, name: str) -> Field:
        """The input column called ``name`` (``"x"`` or ``"t.x"``), raising with a suggestion."""
        if name in ("*",) or name.endswith(".*"):
            raise BindError("`*` is only allowed in select(...) and count()",
                            hint="write select('*') or F.count()")
        try:
            return self.scope.resolve(name)
        except BindError as err:
            if isinstance(err, AmbiguousColumnError):
                self._explain_ambiguity(err)
            if "." not in name:
                raise
            qualifier, _, short = name.partition(".")
            try:
                return self.scope.resolve(short, qualifier)
            except BindError:
                raise err from None

    def _explain_ambiguity(self, err: AmbiguousColumnError) -> None:
        """When both same-named columns have the same qualifier (a self-join), qualifying cannot help."""
        if len(set(err.qualifiers)) < len(err.qualifiers):
            err.reword(hint="both inputs have this column under the same name: name them with alias(), e.g. "
                            "a, b = df.alias('a'), df.alias('b'); a.join(b, col('a.x') == col('b.x')); "
                            "or use df['x'] for one DataFrame's column")

    def field_by_id(self, fid: int, owner=None) -> Field | None:
        """The current field of column id ``fid`` of the DataFrame whose plan is ``owner``, or None.

        A self-join copies its right input with new ids (``remap``), so an id may name a column
        on both sides; the owner's plan says which side is meant, and without it that is an error.
        """
        for plan, mapping in self.owners:
            if plan is owner:
                target = mapping.get(fid)
                return self._by_id.get(target.id if target is not None else fid)
        direct = self._by_id.get(fid)
        copied = self._by_id.get(self.remap[fid].id) if fid in self.remap else None
        if direct is not None and copied is not None and direct.id != copied.id:
            raise BindError(f"column `{direct.name}` is ambiguous: both inputs of the self-join come from the "
                            "same DataFrame", hint="name the two sides with alias() and use col('a.x'), col('b.x')")
        return direct if direct is not None else copied

    def bind_sql(self, text: str) -> Expr:
        """Bind a SQL expression (``"l_quantity < 24"``) against the input columns, as SQL binds it."""
        registry = getattr(self.session, "functions", None)
        with FN.using_functions(registry) if registry is not None else nullcontext():
            return bind_expression(self.session, text, self.scope, allow_aggregates=self.allow_aggregates,
                                   allow_windows=self.allow_windows)

    def column_named(self, name: str) -> Field | None:
        """The input column whose name is exactly ``name`` (ignoring case), or None."""
        lowered = name.lower()
        matches = [f for f in self.fields if f.name.lower() == lowered]
        if not matches:
            return None
        return self.resolve(matches[0].name) if len(matches) > 1 else matches[0]


def parse_type(dtype) -> pa.DataType:
    """An Arrow type from a ``pa.DataType`` or a SQL type name (``"DECIMAL(15,2)"``, ``"int"``, ``"date"``).

    >>> parse_type("decimal(15, 2)")
    Decimal128Type(decimal128(15, 2))
    """
    if isinstance(dtype, pa.DataType):
        return T.normalize(dtype)
    if not isinstance(dtype, str):
        raise QuarryTypeError(f"cannot use a {type(dtype).__name__} as a type",
                              hint="pass a SQL type name such as 'BIGINT' or a pyarrow type")
    return parse_type_name(dtype)


# ---------------------------------------------------------------------------
# Column

_NO_VALUE = object()


def _literal_name(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime.datetime):
        return f"TIMESTAMP '{value}'"
    if isinstance(value, datetime.date):
        return f"DATE '{value}'"
    if isinstance(value, datetime.timedelta):
        return f"INTERVAL '{value}'"
    return str(value)


def _literal_expr(value, dtype: pa.DataType | None = None) -> Expr:
    if isinstance(value, datetime.timedelta):
        nanos = (value.seconds * 10**6 + value.microseconds) * 1000
        return Literal((0, value.days, nanos), T.INTERVAL)
    if isinstance(value, float) and value != value:
        return Literal(value, T.FLOAT64)
    return FN.lit(value, dtype)


class _ColumnOrText:
    """A piece of a Column's name that depends on the input: ``text`` when the input has a column
    of exactly that name (then the string *is* that column), else ``display`` (its SQL reading)."""

    __slots__ = ("text", "display")

    def __init__(self, text: str, display: str):
        self.text = text
        self.display = display

    def render(self, ctx: "BindContext | None") -> str:
        if ctx is None:
            return self.display
        try:
            return self.text if ctx.column_named(self.text) is not None else self.display
        except BindError:
            return self.text            # ambiguous: binding reports it


def _render(name, ctx: "BindContext | None" = None) -> str:
    """A Column's name from its parts: text, child Columns (by their own names) and input-dependent pieces."""
    if isinstance(name, str):
        return name
    out = []
    for part in name:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Column):
            out.append(part.name if ctx is None else part.name_in(ctx))
        else:
            out.append(part.render(ctx))
    return "".join(out)


class Column:
    """An expression over a DataFrame's columns; build with :func:`col`, :func:`lit`, operators and ``F.*``.

    >>> from quarry import col
    >>> expr = (col("price") * 1.2).alias("gross")
    >>> expr.name
    'gross'
    """

    __slots__ = ("_fn", "_default_name", "_alias", "_sort", "_value", "_window_func")

    def __init__(self, bind: Callable[[BindContext], Expr], name, *, alias: str | None = None,
                 sort: tuple[bool, bool] | None = None, value=_NO_VALUE, window_func: str | None = None):
        self._fn = bind
        # a string, or a tuple of parts (strings, child Columns, _ColumnOrText) joined into one
        self._default_name = name
        self._alias = alias
        self._sort = sort
        self._value = value              # the Python value of a literal, for decimal adaptation
        self._window_func = window_func  # registry name when this is a function that .over() may take

    # -- identity --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The output column name: the alias, else the expression's SQL-like text.

        >>> col("x").name, (col("x") + 1).name, col("x").alias("y").name
        ('x', '(x + 1)', 'y')
        """
        return self._alias if self._alias is not None else _render(self._default_name)

    def name_in(self, ctx: BindContext) -> str:
        """The output column name when bound in ``ctx``: as :attr:`name`, except that a string that
        is exactly a column name of the input names that column (``"unit price"``, not SQL's
        ``unit AS price``)."""
        return self._alias if self._alias is not None else _render(self._default_name, ctx)

    def _copy(self, **changes) -> "Column":
        out = Column(self._fn, self._default_name, alias=self._alias, sort=self._sort, value=self._value,
                     window_func=self._window_func)
        for k, v in changes.items():
            setattr(out, "_" + k, v)
        return out

    def bind(self, ctx: BindContext) -> Expr:
        """Resolve against ``ctx``'s input columns; the typed logical expression."""
        return self._fn(ctx)

    def _bind_next_to(self, ctx: BindContext, other: Expr) -> Expr:
        """Bind, reading a Python float literal as an exact decimal when ``other`` is a DECIMAL."""
        if isinstance(self._value, float) and not isinstance(self._value, bool) and T.is_decimal(other.dtype) \
                and self._value == self._value and abs(self._value) != float("inf"):
            return FN.lit(decimal.Decimal(repr(self._value)))
        return self.bind(ctx)

    def __repr__(self) -> str:
        text = self.name
        if self._sort is not None:
            text += (" ASC" if self._sort[0] else " DESC") + (" NULLS FIRST" if self._sort[1] else " NULLS LAST")
        return f"Column<{text}>"

    def __bool__(self):
        raise QuarryTypeError("a Column has no truth value",
                              hint="combine conditions with & (and), | (or), ~ (not), with parentheses: "
                                   "(col('a') > 1) & (col('b') < 2)")

    __hash__ = None   # == builds an expression, so Columns cannot be dict keys

    def __iter__(self):
        raise TypeError("a Column is not iterable")

    # -- naming and types -----------------------------------------------------------------

    def alias(self, name: str) -> "Column":
        """Name the output column.

        >>> (col("a") + col("b")).alias("total").name
        'total'
        """
        if not isinstance(name, str) or not name:
            raise BindError("alias: the name must be a non-empty string")
        return self._copy(alias=name)

    def cast(self, dtype) -> "Column":
        """``CAST(self AS dtype)``; ``dtype`` is a SQL type name or a pyarrow type.

        >>> col("l_quantity").cast("integer").name
        'CAST(l_quantity AS INTEGER)'
        """
        target = parse_type(dtype)

        def bind(ctx):
            value = self.bind(ctx)
            if isinstance(value, Literal) and value.value is not None and T.is_string(value.dtype):
                return FN.cast(value, target)
            return FN.cast(value, target, explicit=True)
        return Column(bind, ("CAST(", self, f" AS {T.sql_name(target)})"))

    astype = cast

    # -- operators ------------------------------------------------------------------------

    def _binary(self, fname: str, symbol: str, other, reverse: bool = False) -> "Column":
        other = to_column(other, literal_strings=True)
        left, right = (other, self) if reverse else (self, other)

        def bind(ctx):
            a = left.bind(ctx) if left._value is _NO_VALUE else None
            b = right.bind(ctx) if right._value is _NO_VALUE else None
            if a is None and b is None:
                a, b = left.bind(ctx), right.bind(ctx)
            elif a is None:
                a = left._bind_next_to(ctx, b)
            elif b is None:
                b = right._bind_next_to(ctx, a)
            return FN.call(fname, [a, b])
        return Column(bind, ("(", left, f" {symbol} ", right, ")"))

    def __add__(self, o): return self._binary("add", "+", o)
    def __radd__(self, o): return self._binary("add", "+", o, True)
    def __sub__(self, o): return self._binary("subtract", "-", o)
    def __rsub__(self, o): return self._binary("subtract", "-", o, True)
    def __mul__(self, o): return self._binary("multiply", "*", o)
    def __rmul__(self, o): return self._binary("multiply", "*", o, True)
    def __truediv__(self, o): return self._binary("divide", "/", o)
    def __rtruediv__(self, o): return self._binary("divide", "/", o, True)
    def __floordiv__(self, o): return self._binary("int_divide", "//", o)
    def __rfloordiv__(self, o): return self._binary("int_divide", "//", o, True)
    def __mod__(self, o): return self._binary("modulo", "%", o)
    def __rmod__(self, o): return self._binary("modulo", "%", o, True)
    def __eq__(self, o): return self._binary("equal", "=", o)          # type: ignore[override]
    def __ne__(self, o): return self._binary("not_equal", "<>", o)     # type: ignore[override]
    def __lt__(self, o): return self._binary("less", "<", o)
    def __le__(self, o): return self._binary("less_equal", "<=", o)
    def __gt__(self, o): return self._binary("greater", ">", o)
    def __ge__(self, o): return self._binary("greater_equal", ">=", o)
    def __and__(self, o): return self._binary("and", "AND", o)
    def __rand__(self, o): return self._binary("and", "AND", o, True)
    def __or__(self, o): return self._binary("or", "OR", o)
    def __ror__(self, o): return self._binary("or", "OR", o, True)

    def __neg__(self):
        return Column(lambda ctx: FN.call("negate", [self.bind(ctx)]), ("(- ", self, ")"))

    def __invert__(self):
        return Column(lambda ctx: FN.call("not", [self.bind(ctx)]), ("(NOT ", self, ")"))

    def __pos__(self):
        return self

    # -- predicates -------------------------------------------------------------------------

    def _unary(self, fname: str, name) -> "Column":
        return Column(lambda ctx: FN.call(fname, [self.bind(ctx)]), name)

    def is_null(self) -> "Column":
        """``self IS NULL``.

        >>> col("c_comment").is_null().name
        '(c_comment IS NULL)'
        """
        return self._unary("is_null", ("(", self, " IS NULL)"))

    def is_not_null(self) -> "Column":
        """``self IS NOT NULL``.

        >>> col("c_comment").is_not_null().name
        '(c_comment IS NOT NULL)'
        """
        return self._unary("is_not_null", ("(", self, " IS NOT NULL)"))

    def eq_null_safe(self, other) -> "Column":
        """``self IS NOT DISTINCT FROM other``: equal, with NULL equal to NULL.

        >>> col("a").eq_null_safe(col("b")).name
        '(a IS NOT DISTINCT FROM b)'
        """
        return self._binary("is_not_distinct_from", "IS NOT DISTINCT FROM", other)

    def isin(self, *values) -> "Column":
        """``self IN (values...)``; takes values or one list of them.

        >>> col("l_shipmode").isin("MAIL", "SHIP").name
        "(l_shipmode IN ('MAIL', 'SHIP'))"
        """
        if len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset)):
            values = tuple(values[0])
        if not values:
            raise BindError("isin: give at least one value", hint="col('x').isin(1, 2, 3)")
        items = [to_column(v, literal_strings=True) for v in values]

        def bind(ctx):
            target = self.bind(ctx)
            return FN.call("in_list", [target] + [i._bind_next_to(ctx, target) for i in items])
        return Column(bind, ("(", self, " IN (", *_joined(items), "))"))

    def between(self, low, high) -> "Column":
        """``low <= self AND self <= high`` (both ends included).

        >>> col("p_size").between(1, 5).name
        '(p_size BETWEEN 1 AND 5)'
        """
        lo, hi = to_column(low, literal_strings=True), to_column(high, literal_strings=True)

        def bind(ctx):
            target = self.bind(ctx)
            return FN.call("and", [FN.call("greater_equal", [target, lo._bind_next_to(ctx, target)]),
                                   FN.call("less_equal", [target, hi._bind_next_to(ctx, target)])])
        return Column(bind, ("(", self, " BETWEEN ", lo, " AND ", hi, ")"))

    def _pattern(self, fname: str, word: str, pattern) -> "Column":
        pat = to_column(pattern, literal_strings=True)
        return Column(lambda ctx: FN.call(fname, [self.bind(ctx), pat.bind(ctx)]), ("(", self, f" {word} ", pat, ")"))

    def like(self, pattern) -> "Column":
        """SQL ``LIKE``: ``%`` matches any text, ``_`` one character.

        >>> col("p_type").like("%BRASS").name
        "(p_type LIKE '%BRASS')"
        """
        return self._pattern("like", "LIKE", pattern)

    def ilike(self, pattern) -> "Column":
        """Case-insensitive ``LIKE``.

        >>> col("p_name").ilike("%green%").name
        "(p_name ILIKE '%green%')"
        """
        return self._pattern("ilike", "ILIKE", pattern)

    def rlike(self, pattern) -> "Column":
        """Whether the regular expression ``pattern`` matches somewhere in the value.

        >>> col("p_name").rlike("^for").name
        "regexp_matches(p_name, '^for')"
        """
        return _function_column("regexp_matches", [self, to_column(pattern, literal_strings=True)])

    def startswith(self, prefix) -> "Column":
        """Whether the value starts with ``prefix``.

        >>> col("p_type").startswith("PROMO").name
        "starts_with(p_type, 'PROMO')"
        """
        return _function_column("starts_with", [self, to_column(prefix, literal_strings=True)])

    def endswith(self, suffix) -> "Column":
        """Whether the value ends with ``suffix``.

        >>> col("p_type").endswith("BRASS").name
        "ends_with(p_type, 'BRASS')"
        """
        return _function_column("ends_with", [self, to_column(suffix, literal_strings=True)])

    def contains(self, text) -> "Column":
        """Whether the value contains ``text``.

        >>> col("p_name").contains("green").name
        "contains(p_name, 'green')"
        """
        return _function_column("contains", [self, to_column(text, literal_strings=True)])

    def substr(self, start, length=None) -> "Column":
        """``substring(self, start, length)`` (1-based ``start``).

        >>> col("c_phone").substr(1, 2).name
        'substring(c_phone, 1, 2)'
        """
        args = [self, to_column(start, literal_strings=True)]
        if length is not None:
            args.append(to_column(length, literal_strings=True))
        return _function_column("substring", args)

    # -- sort order ------------------------------------------------------------------------

    def asc(self) -> "Column":
        """Ascending sort key (NULLs last, as in quarry's SQL).

        >>> col("o_orderdate").asc()
        Column<o_orderdate ASC NULLS LAST>
        """
        return self._copy(sort=(True, False))

    def desc(self) -> "Column":
        """Descending sort key (NULLs last, as in quarry's SQL).

        >>> col("revenue").desc()
        Column<revenue DESC NULLS LAST>
        """
        return self._copy(sort=(False, False))

    def asc_nulls_first(self) -> "Column":
        """Ascending, NULLs first. ``col("x").asc_nulls_first()``."""
        return self._copy(sort=(True, True))

    def asc_nulls_last(self) -> "Column":
        """Ascending, NULLs last. ``col("x").asc_nulls_last()``."""
        return self._copy(sort=(True, False))

    def desc_nulls_first(self) -> "Column":
        """Descending, NULLs first. ``col("x").desc_nulls_first()``."""
        return self._copy(sort=(False, True))

    def desc_nulls_last(self) -> "Column":
        """Descending, NULLs last. ``col("x").desc_nulls_last()``."""
        return self._copy(sort=(False, False))

    def sort_key(self, ctx: BindContext) -> SortKey:
        """This Column as a bound ORDER BY key (ascending, NULLs last unless set): ``col("x").desc().sort_key(ctx)``."""
        ascending, nulls_first = self._sort if self._sort is not None else (True, False)
        return SortKey(self.bind(ctx), ascending, nulls_first)

    # -- CASE -------------------------------------------------------------------------------

    def when(self, condition, value) -> "Column":
        """Add a branch to ``F.when(...)``: ``F.when(c1, v1).when(c2, v2).otherwise(v3)``."""
        raise BindError("when() continues an F.when(...) expression",
                        hint="start with F.when(condition, value)")

    def otherwise(self, value) -> "Column":
        """The ELSE value of ``F.when(...)``."""
        raise BindError("otherwise() ends an F.when(...) expression",
                        hint="start with F.when(condition, value)")

    # -- windows ----------------------------------------------------------------------------

    def over(self, window: "WindowSpec | None" = None) -> "Column":
        """Compute this aggregate or ranking function over a window.

        >>> import quarry.api.functions as F
        >>> F.row_number().over(F.window(partition_by="o_custkey", order_by="o_orderdate")).name
        'row_number() OVER (PARTITION BY o_custkey ORDER BY o_orderdate ASC NULLS LAST)'
        """
        spec = window if window is not None else WindowSpec()
        if not isinstance(spec, WindowSpec):
            raise BindError("over() takes a window: F.window(partition_by=..., order_by=...)")
        if self._window_func is None:
            raise BindError(f"`{self.name}` is not an aggregate or window function, so it cannot be used with over()",
                            hint="use F.row_number(), F.rank(), F.lag(...), F.sum(...), ... with over()")
        func_col = self

        def bind(ctx):
            if not ctx.allow_windows:
                raise MisplacedWindowError(f"in {ctx.method}")
            inner = ctx.derive(allow_windows=False)
            func = func_col.bind(inner.derive(window_function=True))
            partition = tuple(to_column(p).bind(inner) for p in spec.partition)
            order = tuple(to_sort_column(o).sort_key(inner) for o in spec.order)
            frame = spec.frame_for(bool(order))
            if isinstance(func, AggCall) and func.distinct and order:
                raise UnsupportedError("DISTINCT aggregates over an ordered window are not supported")
            return WindowCall(func, partition, order, frame)
        return Column(bind, (self, " OVER (", *spec.describe_parts(), ")"))


class CaseColumn(Column):
    """``CASE WHEN ... THEN ... ELSE ... END``, built by ``F.when(...)``."""

    __slots__ = ("_branches", "_else")

    def __init__(self, branches: list[tuple[Column, Column]], default: Column | None = None):
        self._branches = branches
        self._else = default

        def bind(ctx):
            args = []
            for cond, value in branches:
                args += [cond.bind(ctx), value.bind(ctx)]
            args.append(default.bind(ctx) if default is not None else FN.lit(None))
            return FN.call("case", args)
        parts: list = ["CASE"]
        for c, v in branches:
            parts += [" WHEN ", c, " THEN ", v]
        if default is not None:
            parts += [" ELSE ", default]
        parts.append(" END")
        super().__init__(bind, tuple(parts))

    def when(self, condition, value) -> "CaseColumn":
        """Add a ``WHEN condition THEN value`` branch.

        >>> import quarry.api.functions as F
        >>> F.when(col("x") > 1, "big").when(col("x") > 0, "small").otherwise("none").name
        "CASE WHEN (x > 1) THEN 'big' WHEN (x > 0) THEN 'small' ELSE 'none' END"
        """
        if self._else is not None:
            raise BindError("when() after otherwise()", hint="put every when() before otherwise()")
        return CaseColumn(self._branches + [(to_condition(condition), to_column(value, literal_strings=True))])

    def otherwise(self, value) -> "Column":
        """The value when no branch matched (NULL without it).

        >>> import quarry.api.functions as F
        >>> F.when(col("x") > 1, 1).otherwise(0).name
        'CASE WHEN (x > 1) THEN 1 ELSE 0 END'
        """
        if self._else is not None:
            raise BindError("otherwise() was already given")
        return CaseColumn(self._branches, to_column(value, literal_strings=True))


# ---------------------------------------------------------------------------
# windows


@dataclass(frozen=True)
class WindowSpec:
    """A window: partitioning, ordering and frame. Build it with ``F.window(...)``.

    Frame bounds are ints: negative = preceding, 0 = current row, positive = following,
    None = unbounded. Without a frame, an ordered window runs from the partition start to
    the current row (and its peers); an unordered one is the whole partition.

    >>> import quarry.api.functions as F
    >>> F.window(partition_by="k", order_by="t", rows=(-2, 0)).describe()
    'PARTITION BY k ORDER BY t ASC NULLS LAST ROWS BETWEEN 2 PRECEDING AND CURRENT ROW'
    """

    partition: tuple = ()
    order: tuple = ()
    frame: WindowFrame | None = None

    def partition_by(self, *cols) -> "WindowSpec":
        """The same window partitioned by ``cols``. ``F.window().partition_by("k")``."""
        return dc_replace(self, partition=tuple(_flatten(cols)))

    def order_by(self, *cols) -> "WindowSpec":
        """The same window ordered by ``cols``. ``F.window().order_by(col("t").desc())``."""
        return dc_replace(self, order=tuple(_flatten(cols)))

    def rows_between(self, start: int | None, end: int | None) -> "WindowSpec":
        """A ROWS frame: ``rows_between(-2, 0)`` is the current row and the two before it."""
        return dc_replace(self, frame=_frame("rows", start, end))

    def range_between(self, start: int | None, end: int | None) -> "WindowSpec":
        """A RANGE frame (bounds None or 0 only): ``range_between(None, 0)``."""
        return dc_replace(self, frame=_frame("range", start, end))

    def frame_for(self, ordered: bool) -> WindowFrame:
        if self.frame is not None:
            return self.frame
        # the SQL binder's defaults, so DataFrame and SQL windows are the same plan
        return WindowFrame("range", None, 0) if ordered else WindowFrame("rows", None, None)

    def describe(self) -> str:
        """The window as SQL text (``PARTITION BY k ORDER BY t ASC NULLS LAST``)."""
        return _render(self.describe_parts())

    def describe_parts(self) -> tuple:
        """:meth:`describe` as name parts, so column names can follow the input they are bound in."""
        clauses: list[list] = []
        if self.partition:
            clauses.append(["PARTITION BY ", *_joined([to_column(p) for p in self.partition])])
        if self.order:
            keys: list = []
            for o in self.order:
                c = to_sort_column(o)
                asc, nf = c._sort if c._sort is not None else (True, False)
                keys.append((c, f" {'ASC' if asc else 'DESC'} NULLS {'FIRST' if nf else 'LAST'}"))
            clauses.append(["ORDER BY ", *_joined(keys)])
        if self.frame is not None:
            clauses.append([str(self.frame)])
        parts: list = []
        for i, clause in enumerate(clauses):
            parts += ([" "] if i else []) + clause
        return tuple(parts)


def _frame(mode: str, start, end) -> WindowFrame:
    for b in (start, end):
        if b is not None and (not isinstance(b, int) or isinstance(b, bool)):
            raise QuarryTypeError("window frame bounds are ints (negative = preceding) or None (unbounded)",
                                  hint="rows=(-2, 0) is the current row and the two before it")
    if start is not None and end is not None and start > end:
        raise QuarryTypeError("the window frame starts after it ends",
                              hint="give (earlier bound, later bound), e.g. rows=(-2, 0)")
    return WindowFrame(mode, start, end)


def _joined(items, separator: str = ", ") -> list:
    """Name parts of ``items`` (Columns, or tuples of parts) separated by ``separator``."""
    out: list = []
    for i, item in enumerate(items):
        if i:
            out.append(separator)
        out.extend(item if isinstance(item, tuple) else (item,))
    return out


def _flatten(items) -> list:
    out = []
    for it in items:
        if isinstance(it, (list, tuple)):
            out.extend(_flatten(it))
        elif it is not None:
            out.append(it)
    return out


# ---------------------------------------------------------------------------
# constructors


_SIMPLE_NAME = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")


def col(name: str) -> Column:
    """A column of the DataFrame the expression is used on: ``col("l_quantity")``, ``col("o.o_orderkey")``.

    A qualified name (``"n1.n_name"``) picks the column of the table or alias ``n1``.

    >>> col("l_quantity").name
    'l_quantity'
    """
    if not isinstance(name, str):
        raise BindError(f"col() takes a column name, got {type(name).__name__}")
    if name == "*" or name.endswith(".*"):
        return _StarColumn(None if name == "*" else name[:-2])

    def bind(ctx):
        return ColumnRef(ctx.resolve(name))
    short = name.split(".", 1)[1] if "." in name and _SIMPLE_NAME.match(name) else name
    return Column(bind, short)


column = col


class _StarColumn(Column):
    """``col("*")`` / ``col("t.*")``: every column (only meaningful in select and count)."""

    __slots__ = ("qualifier",)

    def __init__(self, qualifier: str | None):
        self.qualifier = qualifier

        def bind(ctx):
            raise BindError("`*` is only allowed in select(...) and F.count()",
                            hint="write select('*') or F.count()")
        super().__init__(bind, "*" if qualifier is None else f"{qualifier}.*")

    def fields(self, ctx: BindContext) -> list[Field]:
        if self.qualifier is None:
            return list(ctx.fields)
        fields = [f for f in ctx.fields if f.qualifier and f.qualifier.lower() == self.qualifier.lower()]
        if not fields:
            quals = {f.qualifier for f in ctx.fields if f.qualifier}
            raise BindError(f"table `{self.qualifier}` is not an input here",
                            hint=suggest(self.qualifier, quals) or "give the DataFrame a name with alias(...)")
        return fields


def field_column(f: Field, owner=None) -> Column:
    """A Column fixed to one field of one DataFrame (``df["x"]``; ``owner`` is its plan): unambiguous in joins."""

    def bind(ctx):
        found = ctx.field_by_id(f.id, owner)
        if found is None:
            raise BindError(f"column `{f.name}` of another DataFrame is not an input of {ctx.method}",
                            hint=f"use col('{f.name}') to refer to it by name, or join that DataFrame first")
        return ColumnRef(found)
    return Column(bind, f.name)


def lit(value, dtype=None) -> Column:
    """A constant: ``lit(1)``, ``lit("BUILDING")``, ``lit(datetime.date(1995, 3, 15))``, ``lit(None)``.

    ``dtype`` (a SQL type name or pyarrow type) fixes the type: ``lit(0, "DECIMAL(15,2)")``.

    >>> lit(5).name, lit("x").name
    ('5', "'x'")
    """
    if isinstance(value, Column):
        return value
    target = parse_type(dtype) if dtype is not None else None

    def bind(ctx):
        if target is not None:
            return FN.cast(_literal_expr(value), target)
        return _literal_expr(value)
    return Column(bind, _literal_name(value), value=value if target is None else _NO_VALUE)


def expr(text: str) -> Column:
    """A SQL expression, bound like SQL: ``expr("l_extendedprice * (1 - l_discount)")``.

    ``"expr AS name"`` names it; aggregates, window functions and subqueries work where
    they would in SQL (``expr("sum(l_quantity)")`` in ``agg``).

    >>> expr("l_quantity < 24").name
    '(l_quantity < 24)'
    """
    if not isinstance(text, str):
        raise BindError(f"expr() takes SQL text, got {type(text).__name__}")
    # named as SQL names it (``age * 2``), so SQL text names the same column here and in con.sql
    parsed = parse_expression(text)

    def bind(ctx):
        return ctx.bind_sql(text)
    return Column(bind, parsed.name, alias=parsed.alias)


def to_column(value, *, literal_strings: bool = False) -> Column:
    """A Column from a Column, a column name (or a literal when ``literal_strings``), or a Python value."""
    if isinstance(value, Column):
        return value
    if isinstance(value, str) and not literal_strings:
        return col(value) if _SIMPLE_NAME.match(value) or value == "*" or value.endswith(".*") else _sql_or_col(value)
    if isinstance(value, (list, tuple, dict, set)):
        raise QuarryTypeError(f"cannot use a Python {type(value).__name__} as one column",
                              hint="pass the columns as separate arguments")
    return lit(value)


def _sql_or_col(text: str) -> Column:
    """A string that is not a plain name: the column with exactly that name when the input has one
    (``"unit price"``, named so too), else SQL text (``"x + 1"``, ``"x * 2 AS y"``)."""

    def bind(ctx):
        found = ctx.column_named(text)
        return ColumnRef(found) if found is not None else ctx.bind_sql(text)
    try:
        parsed = parse_expression(text)
    except ParseError:
        return Column(bind, text)
    return Column(bind, (_ColumnOrText(text, parsed.name),))


def to_condition(value) -> Column:
    """A boolean Column from a Column or SQL text (``"l_quantity < 24"``)."""
    if isinstance(value, Column):
        return value
    if isinstance(value, str):
        return expr(value)
    if isinstance(value, bool):
        return lit(value)
    raise QuarryTypeError(f"a condition must be a Column or SQL text, got {type(value).__name__}",
                          hint="write col('x') > 1, or \"x > 1\"")


_SORT_TEXT = re.compile(r"^(.*?)\s+(asc|desc)?\s*(nulls\s+(first|last))?\s*$", re.IGNORECASE)


def to_sort_column(value) -> Column:
    """A sort key: a Column (``col("x").desc()``) or text (``"x"``, ``"x desc"``, ``"x desc nulls first"``)."""
    if isinstance(value, Column):
        return value
    if isinstance(value, str):
        m = _SORT_TEXT.match(value)
        if m and (m.group(2) or m.group(3)):
            base = to_column(m.group(1).strip())
            asc = (m.group(2) or "asc").lower() == "asc"
            nulls_first = (m.group(4) or "last").lower() == "first"
            return base._copy(sort=(asc, nulls_first))
        return to_column(value)
    raise QuarryTypeError(f"cannot sort by a Python {type(value).__name__}", hint="pass column names or Columns")


# ---------------------------------------------------------------------------
# function calls through the registry


def _function_column(fname: str, args: list[Column], *, distinct: bool = False, display: str | None = None,
                     star: bool = False) -> Column:
    """A call of the registry function ``fname``: scalar, aggregate or window, typed at binding."""
    fdef = FN.lookup(fname)
    kind = fdef.kind
    shown = display if display is not None else fname.lower()
    inner: list = ["*"] if star else _joined(args)
    if distinct:
        inner = ["DISTINCT "] + inner
    name = (f"{shown}(", *inner, ")")

    def bind(ctx):
        if kind == "aggregate":
            inner_ctx = ctx.derive(allow_aggregates=False, allow_windows=False)
            return B.aggregate_call(fname, lambda: [a.bind(inner_ctx) for a in args],
                                    allowed=ctx.allow_aggregates, place=f"in {ctx.method}", distinct=distinct)
        if kind == "window":
            raise BindError(f"window function `{fname}` needs over(...)",
                            hint=f"write F.{fname}(...).over(F.window(order_by=...))")
        bound = []
        for a in args:
            bound.append(a.bind(ctx))
        return FN.call(fname, bound)

    def bind_any(ctx):
        if not ctx.window_function:
            return bind(ctx)
        # the function of a window (see Column.over). Its arguments may hold aggregates where the
        # enclosing call allows them (SUM(SUM(x)) OVER ... in agg): the Aggregate below computes those.
        arg_ctx = ctx.derive(window_function=False, allow_windows=False,
                             allow_aggregates=ctx.allow_aggregates and kind == "aggregate")
        bound = [a.bind(arg_ctx) for a in args]
        if kind == "window":
            return FN.call(fname, bound)
        return FN.agg(fname, bound, distinct=distinct)
    return Column(bind_any, name, window_func=fname if kind in ("aggregate", "window") else None)
