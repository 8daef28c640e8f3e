"""The function registry: every scalar, aggregate and window function quarry knows.

One registry serves SQL, the DataFrame API and the DSL. Each function has one
:class:`FunctionDef`: how a call is typed (it coerces the arguments, inserting
casts, and fixes the result type), its volatility, its NULL handling, and, once
``quarry.compute.kernels`` is imported, its kernel. Every other part of the engine
asks the definition (:func:`is_deterministic`, :func:`rejects_nulls`,
``FunctionDef.foldable``) instead of keeping its own list of names.

Build calls with :func:`call`, :func:`agg` and :func:`cast`, never by hand, so
every expression in a plan is well typed::

    >>> e = call("add", [ColumnRef(f), lit(1)])     # doctest: +SKIP

docs/adding-a-function.md walks through adding one.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime
import decimal
import enum
import re
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa

from quarry.errors import BindError, QuarryTypeError, UnknownFunctionError, UnsupportedError, suggest
from quarry.logical import types as T
from quarry.logical.expressions import AggCall, Call, ColumnRef, Expr, Literal

# ---------------------------------------------------------------------------
# literals and casts


def lit(value, dtype: pa.DataType | None = None) -> Literal:
    """A typed literal from a Python value (int -> INTEGER/BIGINT, float -> DOUBLE, Decimal -> DECIMAL)."""
    if dtype is not None:
        return Literal(value, dtype)
    if value is None:
        return Literal(None, T.NULL)
    if isinstance(value, bool):
        return Literal(value, T.BOOL)
    if isinstance(value, int):
        return Literal(value, T.INT32 if -2**31 <= value < 2**31 else T.INT64)
    if isinstance(value, float):
        return Literal(value, T.FLOAT64)
    if isinstance(value, decimal.Decimal):
        return Literal(value, T.decimal_for_literal(value))
    if isinstance(value, str):
        return Literal(value, T.STRING)
    if isinstance(value, datetime.datetime):
        return Literal(value, T.TIMESTAMP)
    if isinstance(value, datetime.date):
        return Literal(value, T.DATE)
    if isinstance(value, bytes):
        return Literal(value, T.BINARY)
    raise QuarryTypeError(f"cannot use a Python {type(value).__name__} as a literal")


def _can_cast(src: pa.DataType, dst: pa.DataType) -> bool:
    if src == dst or T.is_null(src):
        return True
    if T.is_nested(src) or T.is_nested(dst):
        return _can_cast_nested(src, dst)
    if T.is_string(src) or T.is_string(dst):
        return True
    if T.is_numeric(src) and T.is_numeric(dst):
        return True
    if T.is_temporal(src) and T.is_temporal(dst):
        return True
    if T.is_time(dst) and (T.is_time(src) or pa.types.is_timestamp(src)):
        return True                       # the time of day of a timestamp; a DATE has none (DuckDB)
    if src == T.BOOL and (T.is_numeric(dst)) or dst == T.BOOL and T.is_numeric(src):
        return True
    return False


def _can_cast_nested(src: pa.DataType, dst: pa.DataType) -> bool:
    """Lists cast element by element, maps key and value, structs field by field (same fields, by
    position, as Arrow casts them); a nested value casts to VARCHAR as DuckDB prints it."""
    if T.is_string(dst):
        return True
    if T.is_list(src) and T.is_list(dst):
        return _can_cast(src.value_type, dst.value_type)
    if T.is_map(src) and T.is_map(dst):
        return _can_cast(src.key_type, dst.key_type) and _can_cast(src.item_type, dst.item_type)
    if T.is_struct(src) and T.is_struct(dst):
        return [f.name.lower() for f in src] == [f.name.lower() for f in dst] and \
            all(_can_cast(a.type, b.type) for a, b in zip(src, dst))
    return False


def is_empty_map(e: Expr) -> bool:
    """``MAP {}`` / ``map()``: a map without entries, which takes the type of the maps around it (DuckDB's is
    ``MAP("NULL", "NULL")``, which Arrow cannot hold: a map's key type is never NULL)."""
    return isinstance(e, Call) and e.name == "empty_map"


def cast(e: Expr, dtype: pa.DataType, *, explicit: bool = False) -> Expr:
    """``CAST(e AS dtype)``; a no-op when the type already matches. Literals fold at once."""
    if e.dtype == dtype:
        return e
    if is_empty_map(e) and T.is_map(dtype):
        return Call("empty_map", (), dtype, False)      # MAP {} takes any map type
    if not _can_cast(e.dtype, dtype):
        raise QuarryTypeError(f"cannot cast {T.sql_name(e.dtype)} to {T.sql_name(dtype)}")
    if isinstance(e, Literal) and not explicit:
        folded = _fold_literal_cast(e, dtype)
        if folded is not None:
            return folded
    return Call("cast", (e,), dtype, e.nullable)


# Python's default decimal context keeps 28 digits; a DECIMAL(38, s) literal needs more
_WIDE = decimal.Context(prec=100, Emax=1000, Emin=-1000)

_TRUE_WORDS = {"true", "t", "1", "yes"}        # the words the cast kernel accepts
_FALSE_WORDS = {"false", "f", "0", "no"}


def parse_literal_text(text: str, dtype: pa.DataType):
    """The value of a string literal cast to ``dtype`` (as the cast kernel computes it), or raise ValueError.

    Spaces around the text are ignored, and numbers round half away from zero.

    >>> parse_literal_text(" 2.5 ", pa.int32())
    3
    """
    text = text.strip()
    if T.is_integer(dtype) or T.is_decimal(dtype):
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise ValueError(text) from None
        if not number.is_finite():
            raise ValueError(text)
        scale = dtype.scale if T.is_decimal(dtype) else 0
        number = number.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP,
                                 context=_WIDE)
        if T.is_decimal(dtype):
            if len(number.as_tuple().digits) > dtype.precision and number != 0:
                raise ValueError(text)
            return number
        bits = dtype.bit_width - 1
        if not -2**bits <= number < 2**bits:
            raise ValueError(text)
        return int(number)
    if T.is_float(dtype):
        return float(text)
    if T.is_time(dtype):
        return _parse_time(text)
    if dtype == T.BOOL:
        if text.lower() in _TRUE_WORDS:
            return True
        if text.lower() in _FALSE_WORDS:
            return False
        raise ValueError(text)
    return pa.scalar(text).cast(dtype).as_py()


def _parse_time(text: str) -> datetime.time:
    """A TIME literal's value, read as the cast kernel reads it (``T.TIME_PATTERN``)."""
    m = re.match(T.TIME_PATTERN, text)
    if m is None or int(m["h"]) > 23 or int(m["m"]) > 59 or int(m["s"] or 0) > 59:
        raise ValueError(text)
    return datetime.time(int(m["h"]), int(m["m"]), int(m["s"] or 0), int((m["f"] or "0").ljust(6, "0")))


def _fold_literal_cast(e: Literal, dtype: pa.DataType) -> Literal | None:
    if e.value is None:
        return Literal(None, dtype)
    if T.is_string(e.dtype) and (T.is_numeric(dtype) or T.is_temporal(dtype) or T.is_time(dtype)
                                 or dtype == T.BOOL):
        try:
            return Literal(parse_literal_text(e.value, dtype), dtype)
        except (ValueError, OverflowError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise QuarryTypeError(f"cannot convert {e} to {T.sql_name(dtype)}",
                                  hint=f"write the value as a valid {T.sql_name(dtype)}") from exc
    if T.is_decimal(dtype) and isinstance(e.value, (int, decimal.Decimal)) and not isinstance(e.value, bool):
        value = decimal.Decimal(e.value).quantize(decimal.Decimal(1).scaleb(-dtype.scale),
                                                  rounding=decimal.ROUND_HALF_UP, context=_WIDE)
        if len(value.as_tuple().digits) > dtype.precision and value != 0:
            raise QuarryTypeError(f"{e} does not fit {T.sql_name(dtype)}")
        return Literal(value, dtype)
    # as the cast kernel does (Arrow's cast differs from DuckDB here): a decimal becomes the
    # nearest double, and numbers print as DuckDB prints them
    if T.is_decimal(e.dtype) and dtype == T.FLOAT64:
        return Literal(float(e.value), dtype)
    if T.is_decimal(e.dtype) and T.is_string(dtype):
        scaled = decimal.Decimal(e.value).quantize(decimal.Decimal(1).scaleb(-e.dtype.scale), context=_WIDE)
        return Literal(format(scaled, "f"), dtype)
    if e.dtype == T.FLOAT64 and T.is_string(dtype) and isinstance(e.value, float):
        return Literal(repr(e.value), dtype)
    if (pa.types.is_timestamp(e.dtype) or T.is_time(e.dtype)) and T.is_string(dtype):
        return None         # the cast kernel prints them as DuckDB does (Arrow's cast keeps six zeros)
    try:
        value = pa.scalar(e.value, e.dtype).cast(dtype).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        if T.is_string(e.dtype):
            raise QuarryTypeError(f"cannot convert {e} to {T.sql_name(dtype)}",
                                  hint=f"write the value as a valid {T.sql_name(dtype)}") from exc
        return None
    return Literal(value, dtype)


def coerce_pair(a: Expr, b: Expr, what: str) -> tuple[Expr, Expr]:
    """Cast two operands of a comparison (or CASE branches) to their common type."""
    ta, tb = a.dtype, b.dtype
    if ta == tb:
        return a, b
    # A string literal next to a date/number takes the other side's type (date '...' shorthand).
    if T.is_string(tb) and isinstance(b, Literal) and not T.is_string(ta) and not T.is_null(ta):
        return a, cast(b, ta)
    if T.is_string(ta) and isinstance(a, Literal) and not T.is_string(tb) and not T.is_null(tb):
        return cast(a, tb), b
    # An INTERVAL constant without months next to a duration (Arrow data: Spark's day-time intervals)
    # is that many microseconds.
    if pa.types.is_duration(ta) and _fixed_interval(b) is not None:
        return a, Literal(_fixed_interval(b), ta)
    if pa.types.is_duration(tb) and _fixed_interval(a) is not None:
        return Literal(_fixed_interval(a), tb), b
    if T.is_decimal(ta) and T.is_integer(tb) and isinstance(b, Literal) and b.value is not None:
        target = T.numeric_common(ta, T.decimal_for_literal(b.value))
        return cast(a, target), cast(b, target)
    if T.is_decimal(tb) and T.is_integer(ta) and isinstance(a, Literal) and a.value is not None:
        target = T.numeric_common(T.decimal_for_literal(a.value), tb)
        return cast(a, target), cast(b, target)
    if is_empty_map(a) and T.is_map(tb):
        return cast(a, tb), b
    if is_empty_map(b) and T.is_map(ta):
        return a, cast(b, ta)
    target = T.common_type(ta, tb)
    if target is None:
        raise QuarryTypeError(f"cannot {what} {T.sql_name(ta)} and {T.sql_name(tb)}",
                              hint="add an explicit CAST to make the types agree")
    return cast(a, target), cast(b, target)


def _fixed_interval(e: Expr):
    """An INTERVAL constant without months as a ``timedelta`` (whole microseconds), else None."""
    if isinstance(e, Literal) and pa.types.is_interval(e.dtype) and e.value is not None:
        months, days, nanos = tuple(e.value)
        if months == 0:
            import datetime
            return datetime.timedelta(days=days, microseconds=nanos // 1000)
    return None


def _literal_decimal_type(e: Expr) -> pa.DataType:
    if isinstance(e, Literal) and T.is_integer(e.dtype) and e.value is not None:
        return T.decimal_for_literal(e.value)
    return e.dtype


# ---------------------------------------------------------------------------
# function definitions


class Volatility(enum.Enum):
    """How a function's result may change for the same arguments (PostgreSQL's and DataFusion's levels)."""

    IMMUTABLE = "immutable"   # same arguments, same result: may be folded, deduplicated, moved, shared
    STABLE = "stable"         # the same within one query (now(), current_date): quarry binds it to a constant
    VOLATILE = "volatile"     # may differ on every row (random()): never folded, deduplicated, moved or shared


class Nulls(enum.Enum):
    """What a NULL argument does to a scalar function's result."""

    STRICT = "strict"         # any NULL argument makes the result NULL; the evaluator answers, not the kernel
    TOLERANT = "tolerant"     # the kernel decides (coalesce, concat, IS NULL, AND, CASE, ...)


# How a boolean function passes NULL-rejection on from its arguments (see `rejects_nulls`).
REJECT_ANY = "any"            # not TRUE when any argument is not TRUE: AND, IS TRUE
REJECT_ALL = "all"            # not TRUE when every argument is not TRUE: OR
REJECT_NULL_ARG = "null_arg"  # FALSE when its argument is NULL: IS NOT NULL, IS FALSE


@dataclass(eq=False)
class FunctionDef:
    """Everything quarry knows about one function, in one object (DataFusion's ``ScalarUDFImpl``).

    The logical layer fills in the signature and the properties; the compute layer
    attaches the kernel by name when ``quarry.compute.kernels`` is imported (the
    logical layer never imports compute). A Python UDF is the same kind of object,
    built with its ``kernel`` given at once. Every "is this foldable / deterministic /
    NULL-tolerant / NULL-rejecting" question in the engine is answered from here:

    - ``bind(name, args)`` coerces the arguments (inserting casts) and returns the
      typed call, whose result type it fixes (or another expression: ``year(d)`` is
      ``date_part('year', d)``, marked ``rewrite``). None for an ``internal`` function
      that the binder or a rule builds directly (``try_cast``, ``check_single_row``).
    - ``volatility``: see :class:`Volatility`.
    - ``nulls``: see :class:`Nulls`. A NULL-tolerant function may list ``strict_args``,
      the arguments where a NULL still makes the result NULL (the tested value of
      ``x IN (...)``, the first argument of ``nullif``).
    - ``null_rejection``: for boolean functions, how they pass on NULL-rejection from
      their arguments (``REJECT_ANY``, ``REJECT_ALL``, ``REJECT_NULL_ARG``).
    - ``kernel(name, args, result_type, num_rows)``: how a scalar function runs (see
      ``quarry.compute.kernels``). Aggregates run in the aggregate operator and window
      functions in the window operator, by name.

    >>> lookup("coalesce").nulls is Nulls.TOLERANT, lookup("random").deterministic
    (True, False)
    """

    name: str
    kind: str                                               # "scalar" | "aggregate" | "window"
    bind: Callable[[str, list[Expr]], Expr] | None          # typed call from arguments
    min_args: int = 0
    max_args: int | None = None
    aliases: tuple[str, ...] = ()
    volatility: Volatility = Volatility.IMMUTABLE
    nulls: Nulls = Nulls.STRICT
    strict_args: tuple[int, ...] = ()
    null_rejection: str | None = None
    internal: bool = False          # not callable by name from SQL or the DataFrame API
    rewrite: bool = False           # binding always yields other expressions: no kernel of its own
    doc: str = ""
    kernel: Callable | None = None

    @property
    def deterministic(self) -> bool:
        """Whether two evaluations on the same row agree (false only for volatile functions)."""
        return self.volatility is not Volatility.VOLATILE

    @property
    def foldable(self) -> bool:
        """Whether a call on constants may be evaluated once at plan time.

        Stable functions may: the optimizer runs once per query, like DataFusion's simplifier.
        """
        return self.volatility is not Volatility.VOLATILE

    @property
    def strict(self) -> bool:
        """Whether any NULL argument makes the result NULL (``Nulls.STRICT``)."""
        return self.nulls is Nulls.STRICT

    def null_propagating_args(self, n: int) -> range | tuple[int, ...]:
        """Positions among ``n`` arguments where a NULL makes the result NULL."""
        return range(n) if self.strict else tuple(i for i in self.strict_args if i < n)

    def attach_kernel(self, kernel: Callable) -> None:
        """Give this function its implementation (once: a second kernel for one name is a bug)."""
        if self.kind != "scalar" or self.rewrite:
            raise ValueError(f"function `{self.name}` is a {self.kind} {'rewrite ' if self.rewrite else ''}"
                             "function and takes no scalar kernel")
        if self.kernel is not None and self.kernel is not kernel:
            raise ValueError(f"function `{self.name}` already has a kernel")
        self.kernel = kernel

    def __repr__(self) -> str:
        return f"FunctionDef({self.name!r}, {self.kind})"


class FunctionRegistry:
    """Function definitions by name and alias.

    ``BUILTINS`` holds quarry's own. A registry with a ``parent`` sees the parent's
    definitions under its own, which is how a session's Python UDFs will sit on top
    of the built-ins without copying them.
    """

    def __init__(self, parent: "FunctionRegistry | None" = None):
        self.parent = parent
        self.functions: dict[str, FunctionDef] = {}     # callable by name
        self.internal: dict[str, FunctionDef] = {}      # built by the binder or a rule only
        self.aliases: dict[str, str] = {}

    def add(self, fdef: FunctionDef) -> FunctionDef:
        """Register ``fdef`` under its name and aliases (a name is defined once)."""
        key = fdef.name.lower()
        if key in self.functions or key in self.internal or key in self.aliases:
            raise ValueError(f"function `{fdef.name}` is already defined")
        (self.internal if fdef.internal else self.functions)[key] = fdef
        for alias in fdef.aliases:
            self.aliases[alias.lower()] = key
        return fdef

    def remove(self, name: str) -> None:
        """Forget the function ``name`` and its aliases (a dropped UDF)."""
        key = name.lower()
        fdef = self.functions.pop(key, None) or self.internal.pop(key, None)
        if fdef is not None:
            for alias in fdef.aliases:
                self.aliases.pop(alias.lower(), None)

    def get(self, name: str) -> FunctionDef | None:
        """The definition of ``name`` (an alias or an internal function too), or None."""
        key = name.lower()
        key = self.aliases.get(key, key)
        found = self.functions.get(key) or self.internal.get(key)
        if found is None and self.parent is not None:
            return self.parent.get(name)
        return found

    def lookup(self, name: str) -> FunctionDef:
        """The function a query calls by ``name``; unknown names raise with a suggestion."""
        fdef = self.get(name)
        if fdef is None or fdef.internal:
            raise UnknownFunctionError(name, hint=suggest(name.lower(), self.names())
                                       or "see docs/sql.md for the function list")
        return fdef

    def definitions(self) -> list[FunctionDef]:
        """Every definition, internal ones included (the parent's first)."""
        own = list(self.functions.values()) + list(self.internal.values())
        return (self.parent.definitions() if self.parent is not None else []) + own

    def names(self) -> list[str]:
        """Every name a query may call: functions and aliases."""
        own = set(self.functions) | set(self.aliases)
        return sorted(own | (set(self.parent.names()) if self.parent is not None else set()))


BUILTINS = FunctionRegistry()
REGISTRY = BUILTINS.functions          # name -> definition, for listings (Flight SQL metadata)
ALIASES = BUILTINS.aliases


# The registry of the session whose statement is being bound (its Python UDFs over BUILTINS), set by
# the session around SQL and DSL binding; None: built-ins only. Plans never need it afterwards: a call
# of a Python UDF carries its definition (see quarry.logical.udf).
_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("quarry_functions", default=None)


@contextlib.contextmanager
def using_functions(registry: "FunctionRegistry"):
    """Resolve function names through ``registry`` (a session's) inside the block."""
    token = _ACTIVE.set(registry)
    try:
        yield registry
    finally:
        _ACTIVE.reset(token)


def _active() -> FunctionRegistry:
    return _ACTIVE.get() or BUILTINS


def register(name, kind, bind, min_args=0, max_args=None, aliases=(), doc="", **properties) -> FunctionDef:
    """Define a built-in function; ``properties`` are :class:`FunctionDef` fields (volatility, nulls, ...)."""
    return BUILTINS.add(FunctionDef(name, kind, bind, min_args, max_args, tuple(aliases), doc=doc, **properties))


def lookup(name: str) -> FunctionDef:
    """Find a function by SQL name (the binding session's UDFs too); unknown names raise with a suggestion."""
    return _active().lookup(name)


def definition(name: str) -> FunctionDef | None:
    """The definition behind a ``Call``/``AggCall`` name in a plan (internal functions too), or None."""
    return BUILTINS.get(name)


def definition_of(e: Expr) -> FunctionDef | None:
    """The definition a ``Call``/``AggCall`` calls: a Python UDF's own, else the built-in of its name."""
    return getattr(e, "function", None) or BUILTINS.get(e.name)


def call(name: str, args: list[Expr]) -> Expr:
    """A typed call of the function ``name`` on ``args`` (coercing arguments)."""
    fdef = BUILTINS.get(name) or lookup(name)
    if fdef.bind is None:
        raise BindError(f"function `{name}` cannot be called directly")
    _check_arity(fdef, name, len(args))
    return fdef.bind(fdef.name, list(args))


def _check_arity(fdef: FunctionDef, name: str, n: int) -> None:
    """Raise a type error naming the accepted argument counts when ``n`` is not one of them."""
    if n < fdef.min_args or (fdef.max_args is not None and n > fdef.max_args):
        expected = (str(fdef.min_args) if fdef.max_args == fdef.min_args
                    else f"{fdef.min_args}..{fdef.max_args if fdef.max_args is not None else 'n'}")
        raise QuarryTypeError(f"function `{name}` takes {expected} arguments, got {n}",
                              hint=f"check the arguments of {name}()")


def fixed_signature(arg_types: list[pa.DataType], result_type: pa.DataType) -> Callable[[str, list[Expr]], Expr]:
    """A ``bind`` for a function of fixed argument types: casts each argument, then types the call.

    What a Python UDF declares (``(BIGINT, VARCHAR) -> DOUBLE``)::

        >>> b = fixed_signature([T.INT64], T.FLOAT64); str(b("f", [lit(1)]).type)
        'double'
    """
    def bind(name, args):
        typed = [cast(a, t) for a, t in zip(args, arg_types)]
        return Call(name, tuple(typed), result_type, True)
    return bind


# -- what the optimizer and the operators ask of expressions ------------------------------


def is_deterministic(e: Expr) -> bool:
    """Whether ``e`` gives the same value every time it is evaluated on a row (no volatile call inside).

    A call of an unknown name counts as volatile, which only keeps rules from moving it.
    """
    for x in e.walk():
        if isinstance(x, (Call, AggCall)):
            fdef = definition_of(x)
            if fdef is None or not fdef.deterministic:
                return False
    return True


def null_if_null(e: Expr, ids: frozenset[int] | set[int]) -> bool:
    """Whether ``e`` is NULL whenever every column in ``ids`` is NULL (by the definitions' strictness)."""
    if isinstance(e, ColumnRef):
        return e.field.id in ids
    if isinstance(e, Literal):
        return e.value is None
    if isinstance(e, Call):
        fdef = definition_of(e)
        if fdef is None:
            return False
        return any(null_if_null(e.args[i], ids) for i in fdef.null_propagating_args(len(e.args)))
    return False


def rejects_nulls(e: Expr, ids: frozenset[int] | set[int]) -> bool:
    """Whether the predicate ``e`` cannot be TRUE when every column in ``ids`` is NULL.

    A filter with such a predicate drops the NULL-extended rows of an outer join (so the
    join may become inner), and a conjunct over one dictionary column with it may be
    evaluated on the dictionary alone (a NULL index then means FALSE). Conservative:
    False when unsure.

    >>> from quarry.logical.expressions import Field
    >>> x = ColumnRef(Field("x", T.INT64, id=1)); rejects_nulls(call("equal", [x, lit(1)]), {1})
    True
    >>> rejects_nulls(call("is_null", [x]), {1}), rejects_nulls(call("coalesce", [x, lit(1)]), {1})
    (False, False)
    """
    if null_if_null(e, ids):
        return True
    if not isinstance(e, Call):
        return False
    fdef = definition_of(e)
    rule = fdef.null_rejection if fdef is not None else None
    if rule == REJECT_ANY:
        return any(rejects_nulls(a, ids) for a in e.args)
    if rule == REJECT_ALL:
        return bool(e.args) and all(rejects_nulls(a, ids) for a in e.args)
    if rule == REJECT_NULL_ARG:
        return any(null_if_null(a, ids) for a in e.args)
    return False


def _nullable(args) -> bool:
    return any(a.nullable for a in args)


def _mk(name, args, dtype, nullable=None):
    return Call(name, tuple(args), dtype, _nullable(args) if nullable is None else nullable)


# -- front-end casts -----------------------------------------------------------

# A front end whose SQL casts mean something else binds ``CAST``/``TRY_CAST`` through its own binder while
# this is set: ``bind(value, target, mode) -> Expr | None`` with ``mode`` 'cast', 'try_cast' or 'lenient'
# (a TRY_CAST a front end wrote for its CAST, as Spark without ANSI mode; None: quarry's rules).
# quarry.spark.sql sets it around spark.sql(...) for Spark's numeric casts.
_CAST_OVERRIDE: contextvars.ContextVar = contextvars.ContextVar("quarry_cast", default=None)


@contextlib.contextmanager
def _overriding(var: contextvars.ContextVar, bind):
    """``var`` set to ``bind`` inside the block (a front end's binding rules, see below)."""
    token = var.set(bind)
    try:
        yield
    finally:
        var.reset(token)


def cast_rules(bind):
    """Bind SQL casts through ``bind(value, target, mode)`` first inside the block (see ``_CAST_OVERRIDE``)."""
    return _overriding(_CAST_OVERRIDE, bind)


def front_end_cast(value: Expr, target: pa.DataType, mode: str) -> Expr | None:
    """The cast the active :func:`cast_rules` binds, or None."""
    override = _CAST_OVERRIDE.get()
    return override(value, target, mode) if override is not None else None


# -- arithmetic ----------------------------------------------------------------


# A front end whose decimal arithmetic has other result types binds ``+ - * / %`` through its own binder
# while this is set: ``bind(name, a, b) -> Expr | None`` (None: quarry's rules). quarry.spark.sql sets it
# around spark.sql(...) for Spark's DecimalPrecision rules.
_ARITHMETIC_OVERRIDE: contextvars.ContextVar = contextvars.ContextVar("quarry_arithmetic", default=None)


def arithmetic_rules(bind):
    """Bind arithmetic through ``bind(name, a, b)`` first inside the block (see ``_ARITHMETIC_OVERRIDE``)."""
    return _overriding(_ARITHMETIC_OVERRIDE, bind)


# A front end's aggregates of its own types (Spark's sum and avg of intervals): ``bind(name, args,
# distinct, filter)`` returns the expression (over aggregate calls) or None for quarry's own.
_AGGREGATE_OVERRIDE: contextvars.ContextVar = contextvars.ContextVar("quarry_aggregates", default=None)


def aggregate_rules(bind):
    """Bind aggregate calls through ``bind(name, args, distinct, filter)`` first inside the block."""
    return _overriding(_AGGREGATE_OVERRIDE, bind)


def front_end_aggregate(name: str, args: list[Expr], distinct: bool, filter: Expr | None) -> Expr | None:
    """The aggregate expression the active :func:`aggregate_rules` binds, or None."""
    override = _AGGREGATE_OVERRIDE.get()
    return override(name, args, distinct, filter) if override is not None else None


def _bind_arith(op):
    def bind(name, args):
        a, b = args
        override = _ARITHMETIC_OVERRIDE.get()
        if override is not None:
            bound = override(name, a, b)
            if bound is not None:
                return bound
        ta, tb = a.dtype, b.dtype
        if T.is_time(ta) or T.is_time(tb):
            return _bind_time_arith(name, op, a, b)
        if name in ("add", "subtract") and (T.is_null(ta) and T.is_temporal(tb) or
                                            T.is_temporal(ta) and T.is_null(tb)):
            # a NULL operand makes the result NULL, of the type DuckDB gives it (NULL - ts is an INTERVAL)
            if T.is_null(tb) or name == "add":
                return Literal(None, tb if T.is_null(ta) else ta)
            return Literal(None, T.INTERVAL if pa.types.is_timestamp(tb) else T.INT64)
        if T.is_decimal(ta) or T.is_decimal(tb):
            # an integer literal next to a decimal takes the smallest decimal that holds it
            ta, tb = _literal_decimal_type(a), _literal_decimal_type(b)
        if pa.types.is_date(a.dtype) or pa.types.is_timestamp(a.dtype):
            return _bind_date_arith(name, a, b)
        if name in ("add", "subtract") and pa.types.is_interval(ta) and (pa.types.is_interval(tb) or T.is_null(tb)) \
                or name == "add" and T.is_null(ta) and pa.types.is_interval(tb):
            # INTERVAL ± INTERVAL adds field by field (months, days, time), as DuckDB does
            if T.is_null(ta) or T.is_null(tb):
                return Literal(None, T.INTERVAL)
            return Call("interval_" + name, (a, b), T.INTERVAL, _nullable([a, b]))
        if name in ("multiply", "divide") and (pa.types.is_interval(ta) and not T.is_temporal(tb) or
                                               pa.types.is_interval(tb) and name == "multiply"
                                               and not T.is_temporal(ta)):
            return _bind_interval_arith(name, a, b)
        if T.is_string(ta) and isinstance(a, Literal):
            a, ta = cast(a, T.FLOAT64), T.FLOAT64
        if T.is_string(tb) and isinstance(b, Literal):
            b, tb = cast(b, T.FLOAT64), T.FLOAT64
        try:
            result = T.arithmetic_type(op, ta, tb)
        except QuarryTypeError:
            if name == "add" and pa.types.is_interval(a.dtype) and T.is_temporal(b.dtype):
                return _bind_date_arith(name, b, a)
            raise
        if T.is_decimal(result):
            a = cast(a, ta) if T.is_decimal(ta) else cast(a, T.decimal_for_integer(a.dtype)) if T.is_integer(a.dtype) else a
            b = cast(b, tb) if T.is_decimal(tb) else cast(b, T.decimal_for_integer(b.dtype)) if T.is_integer(b.dtype) else b
        elif result == T.FLOAT64:
            a, b = cast(a, T.FLOAT64), cast(b, T.FLOAT64)
        else:
            a, b = cast(a, result), cast(b, result)
        nullable = _nullable(args) or name in ("divide", "modulo")
        return Call(name, (a, b), result, nullable)
    return bind


def _bind_time_arith(name, op, a, b):
    """DuckDB's TIME arithmetic: ``DATE + TIME`` is a TIMESTAMP, ``TIME ± INTERVAL`` a TIME that wraps
    around midnight (the interval's months and days do not move it); nothing else."""
    if name == "add" and (pa.types.is_date(a.dtype) and T.is_time(b.dtype) or
                          T.is_time(a.dtype) and pa.types.is_date(b.dtype)):
        d, t = (a, b) if pa.types.is_date(a.dtype) else (b, a)
        return Call("date_add_time", (d, t), T.TIMESTAMP, _nullable([d, t]))
    if name == "add" and pa.types.is_interval(a.dtype) and T.is_time(b.dtype):
        a, b = b, a
    if name in ("add", "subtract") and T.is_time(a.dtype) and pa.types.is_interval(b.dtype):
        return Call("time_" + name + "_interval", (a, b), T.TIME, _nullable([a, b]))
    raise QuarryTypeError(f"cannot apply `{op}` to {T.sql_name(a.dtype)} and {T.sql_name(b.dtype)}",
                          hint="DATE + TIME is a TIMESTAMP and TIME ± INTERVAL a TIME; compute other things "
                               "with hour(t), minute(t), second(t)")


INTERVAL_UNITS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond",
                  "microsecond")


def interval_of(x: Expr, unit: str) -> Expr:
    """``INTERVAL (x) unit`` of a non-constant ``x``: an INTERVAL per row, as DuckDB's to_days(x), to_hours(x),
    ... make it (a fractional x counts whole units, except seconds and milliseconds, which keep it)."""
    if unit not in INTERVAL_UNITS:
        raise UnsupportedError(f"INTERVAL (expression) {unit.upper() or 'without a unit'}",
                               hint="give a unit: INTERVAL (x) DAY, HOUR, MONTH, ...")
    if T.is_integer(x.dtype) or T.is_null(x.dtype):
        x = cast(x, T.INT64)
    elif T.is_numeric(x.dtype) or T.is_string(x.dtype):
        x = cast(x, T.FLOAT64)
    else:
        raise QuarryTypeError(f"INTERVAL (x) {unit.upper()} takes a number, got {T.sql_name(x.dtype)}",
                              hint=f"INTERVAL (n) {unit.upper()} with n an integer column")
    return Call("interval_of", (Literal(unit, T.STRING), x), T.INTERVAL, x.nullable)


register("interval_of", "scalar", None, 2, 2, internal=True)       # built by interval_of()


def _bind_interval_arith(name, a, b):
    """INTERVAL * integer (either way round) multiplies each of its fields, as DuckDB does; INTERVAL * or /
    any other number is DuckDB's scaling by a DOUBLE, whose fractions of months and days carry down."""
    interval, factor = (a, b) if pa.types.is_interval(a.dtype) else (b, a)
    if pa.types.is_interval(factor.dtype):
        raise QuarryTypeError(f"cannot {name} an INTERVAL by an INTERVAL")
    if T.is_null(factor.dtype) or T.is_null(interval.dtype):
        return Literal(None, T.INTERVAL)
    if not T.is_numeric(factor.dtype):
        raise QuarryTypeError(f"cannot {name} an INTERVAL by {T.sql_name(factor.dtype)}",
                              hint="scale an interval by a number: INTERVAL 1 DAY * 1.5")
    if name == "multiply" and T.is_integer(factor.dtype):
        return Call("interval_multiply", (interval, cast(factor, T.INT64)), T.INTERVAL,
                    _nullable([interval, factor]))
    return Call("interval_scale", (interval, cast(factor, T.FLOAT64), lit(name == "divide")), T.INTERVAL,
                _nullable([interval, factor]))


register("interval_multiply", "scalar", None, 2, 2, internal=True)   # built by _bind_interval_arith
register("interval_scale", "scalar", None, 3, 3, internal=True)      # INTERVAL * or / a DOUBLE (the same)
register("interval_add", "scalar", None, 2, 2, internal=True)        # INTERVAL + INTERVAL (_bind_arith)
register("interval_subtract", "scalar", None, 2, 2, internal=True)


def _bind_date_arith(name, a, b):
    if pa.types.is_interval(b.dtype):
        if name not in ("add", "subtract"):
            raise QuarryTypeError(f"cannot apply `{name}` to a date and an interval")
        result = a.dtype
        if pa.types.is_date(a.dtype) and not (isinstance(b, Literal) and b.value is not None and b.value[2] == 0):
            result = T.TIMESTAMP   # hours, minutes or seconds make a date a timestamp (as in DuckDB)
        return Call("date_" + name + "_interval", (a, b), result, _nullable([a, b]))
    if T.is_temporal(b.dtype) and name == "subtract":
        if pa.types.is_date(a.dtype) and pa.types.is_date(b.dtype):
            return Call("date_diff_days", (a, b), T.INT64, _nullable([a, b]))
        # DuckDB: a TIMESTAMP minus a TIMESTAMP (or DATE) is an INTERVAL of days and microseconds
        if (a.dtype.tz if pa.types.is_timestamp(a.dtype) else None) != \
                (b.dtype.tz if pa.types.is_timestamp(b.dtype) else None):
            raise QuarryTypeError(f"cannot subtract {T.sql_name(b.dtype)} from {T.sql_name(a.dtype)}",
                                  hint="CAST both to TIMESTAMP or both to TIMESTAMPTZ")
        a, b = (cast(x, T.TIMESTAMP) if pa.types.is_date(x.dtype) else x for x in (a, b))
        return Call("timestamp_subtract", (a, b), T.INTERVAL, _nullable([a, b]))
    if (T.is_integer(b.dtype) or T.is_null(b.dtype)) and pa.types.is_date(a.dtype):
        return Call("date_" + name + "_days", (a, cast(b, T.INT64)), a.dtype, _nullable([a, b]))
    raise QuarryTypeError(f"cannot apply `{name}` to {T.sql_name(a.dtype)} and {T.sql_name(b.dtype)}")


for _name, _op in (("add", "+"), ("subtract", "-"), ("multiply", "*"), ("divide", "/"), ("modulo", "%")):
    register(_name, "scalar", _bind_arith(_op), 2, 2, aliases=("mod",) if _name == "modulo" else ())
# what `date + interval`, `date + n` and `date - date` bind to (see _bind_date_arith)
for _name in ("date_add_interval", "date_subtract_interval", "date_add_days", "date_subtract_days", "date_diff_days",
              "timestamp_subtract", "date_add_time", "time_add_interval", "time_subtract_interval"):
    register(_name, "scalar", None, 2, 2, internal=True)


def _bind_int_divide(name, args):
    """``a // b``: truncating integer division of integers; on other numbers DuckDB's ``//`` is ``/``."""
    a, b = args
    if all(T.is_integer(x.dtype) or T.is_null(x.dtype) for x in (a, b)):
        result = T.arithmetic_type("%", a.dtype, b.dtype)
        return Call("int_divide", (cast(a, result), cast(b, result)), result, True)
    return call("divide", [a, b])


register("int_divide", "scalar", _bind_int_divide, 2, 2, aliases=("div",))


def _bind_negate(name, args):
    (a,) = args
    override = _ARITHMETIC_OVERRIDE.get()
    if override is not None:            # a front end's own negatable types (Spark's intervals)
        bound = override(name, a, None)
        if bound is not None:
            return bound
    if T.is_null(a.dtype):
        return cast(a, T.INT32)
    if not T.is_numeric(a.dtype) and not pa.types.is_interval(a.dtype):
        raise QuarryTypeError(f"cannot negate {T.sql_name(a.dtype)}")
    if isinstance(a, Literal) and a.value is not None and not pa.types.is_interval(a.dtype):
        return Literal(-a.value, a.dtype)
    return _mk("negate", args, a.dtype)


register("negate", "scalar", _bind_negate, 1, 1)

# -- comparison and logic ----------------------------------------------------------


def _bind_compare(name, args):
    override = _ARITHMETIC_OVERRIDE.get()
    if override is not None:            # a front end's own comparable types (Spark's year-month intervals)
        bound = override(name, args[0], args[1])
        if bound is not None:
            return bound
    a, b = coerce_pair(args[0], args[1], "compare")
    if T.is_nested(a.dtype):
        # compared by their sort keys: element by element, a NULL element above every value (DuckDB's order)
        from quarry.logical.nested import refuse_unkeyable
        refuse_unkeyable(a.dtype, "comparing")
    if pa.types.is_interval(a.dtype):
        # DuckDB compares intervals normalized (a month is 30 days, a day 24 hours), which is comparing
        # their lengths in microseconds; Arrow has no comparison kernel for intervals
        a, b = (Call("interval_micros", (x,), T.INT64, x.nullable) for x in (a, b))
    return _mk(name, (a, b), T.BOOL)


for _name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
    register(_name, "scalar", _bind_compare, 2, 2)


def _bind_distinct_from(name, args):
    a, b = coerce_pair(args[0], args[1], "compare")
    return _mk(name, (a, b), T.BOOL, False)


register("is_distinct_from", "scalar", _bind_distinct_from, 2, 2, nulls=Nulls.TOLERANT)
register("is_not_distinct_from", "scalar", _bind_distinct_from, 2, 2, nulls=Nulls.TOLERANT)


def _to_bool(e: Expr, what: str) -> Expr:
    if e.dtype == T.BOOL:
        return e
    if T.is_null(e.dtype):
        return cast(e, T.BOOL)
    raise QuarryTypeError(f"{what} expects a BOOLEAN, got {T.sql_name(e.dtype)} in `{e}`",
                          hint="compare the value with something, e.g. `x <> 0`")


def _bind_logic(name, args):
    return _mk(name, [_to_bool(a, name.upper()) for a in args], T.BOOL)


# NULL AND FALSE is FALSE, NULL OR TRUE is TRUE: both are NULL-tolerant; NOT NULL is NULL
register("and", "scalar", _bind_logic, 2, 2, nulls=Nulls.TOLERANT, null_rejection=REJECT_ANY)
register("or", "scalar", _bind_logic, 2, 2, nulls=Nulls.TOLERANT, null_rejection=REJECT_ALL)
register("not", "scalar", _bind_logic, 1, 1)


def _bind_is(name, args):
    return _mk(name, args, T.BOOL, False)


register("is_null", "scalar", _bind_is, 1, 1, nulls=Nulls.TOLERANT)
register("is_not_null", "scalar", _bind_is, 1, 1, nulls=Nulls.TOLERANT, null_rejection=REJECT_NULL_ARG)


def _bind_is_bool(name, args):
    return _mk(name, [_to_bool(args[0], name)], T.BOOL, False)


register("is_true", "scalar", _bind_is_bool, 1, 1, nulls=Nulls.TOLERANT, null_rejection=REJECT_ANY)
register("is_false", "scalar", _bind_is_bool, 1, 1, nulls=Nulls.TOLERANT, null_rejection=REJECT_NULL_ARG)
register("is_not_true", "scalar", _bind_is_bool, 1, 1, nulls=Nulls.TOLERANT)
register("is_not_false", "scalar", _bind_is_bool, 1, 1, nulls=Nulls.TOLERANT)


def _bind_in_list(name, args):
    target = args[0]
    items = list(args[1:])
    common = target.dtype
    for it in items:
        if isinstance(it, Literal) and T.is_string(it.dtype) and not T.is_string(common):
            continue
        if T.is_decimal(common) and isinstance(it, Literal) and T.is_integer(it.dtype):
            common = T.numeric_common(common, T.decimal_for_literal(it.value)) if it.value is not None else common
            continue
        nxt = T.common_type(common, it.dtype)
        if nxt is None:
            raise QuarryTypeError(f"cannot compare {T.sql_name(target.dtype)} with {T.sql_name(it.dtype)} in IN list")
        common = nxt
    return _mk("in_list", [cast(target, common)] + [cast(i, common) for i in items], T.BOOL)


# 1 IN (1, NULL) is TRUE, but NULL IN (...) is NULL
register("in_list", "scalar", _bind_in_list, 2, nulls=Nulls.TOLERANT, strict_args=(0,))


def _bind_like(name, args):
    a, pattern = args[0], args[1]
    for x in (a, pattern):
        if not (T.is_string(x.dtype) or T.is_null(x.dtype)):
            raise QuarryTypeError(f"{name.upper()} expects strings, got {T.sql_name(x.dtype)}",
                                  hint="CAST the value to VARCHAR")
    rest = list(args[2:])
    return _mk(name, [cast(a, T.STRING), cast(pattern, T.STRING)] + rest, T.BOOL)


register("like", "scalar", _bind_like, 2, 3)
register("ilike", "scalar", _bind_like, 2, 3)


def _common_of(exprs: list[Expr], what: str) -> pa.DataType:
    maps = [e for e in exprs if not is_empty_map(e)]
    if len(maps) < len(exprs) and any(T.is_map(e.dtype) for e in maps):
        exprs = maps                    # an empty MAP {} takes the other maps' type
    common = T.NULL
    for e in exprs:
        t = _literal_decimal_type(e) if T.is_decimal(common) else e.dtype
        if T.is_decimal(t) and isinstance(e, Literal) is False and T.is_integer(common):
            pass
        nxt = T.common_type(common, t)
        if nxt is None:
            if isinstance(e, Literal) and T.is_string(e.dtype):
                continue
            raise QuarryTypeError(f"{what} mixes {T.sql_name(common)} and {T.sql_name(e.dtype)}",
                                  hint="CAST the values to one type")
        common = nxt
    return common


def _bind_case(name, args):
    # args: cond1, val1, cond2, val2, ..., else
    conds = [_to_bool(args[i], "CASE WHEN") for i in range(0, len(args) - 1, 2)]
    values = [args[i] for i in range(1, len(args) - 1, 2)] + [args[-1]]
    common = _common_of(values, "CASE")
    values = [cast(v, common) for v in values]
    out = []
    for c, v in zip(conds, values[:-1]):
        out += [c, v]
    out.append(values[-1])
    return Call("case", tuple(out), common, any(v.nullable for v in values))


register("case", "scalar", _bind_case, 3, nulls=Nulls.TOLERANT)


def _bind_coalesce(name, args):
    common = _common_of(args, name.upper())
    args = [cast(a, common) for a in args]
    return Call(name, tuple(args), common, all(a.nullable for a in args))


register("coalesce", "scalar", _bind_coalesce, 1, aliases=("ifnull", "nvl"), nulls=Nulls.TOLERANT)


def _bind_nullif(name, args):
    a, b = coerce_pair(args[0], args[1], "compare")
    return Call("nullif", (a, b), a.dtype, True)


# nullif(NULL, b) is NULL, nullif(a, NULL) is a
register("nullif", "scalar", _bind_nullif, 2, 2, nulls=Nulls.TOLERANT, strict_args=(0,))


def _bind_if(name, args):
    return _bind_case("case", [args[0], args[1], args[2] if len(args) > 2 else lit(None)])


register("if", "scalar", _bind_if, 2, 3, aliases=("iff",), rewrite=True)


def _bind_greatest(name, args):
    common = _common_of(args, name.upper())
    if T.is_null(common):
        common = T.INT32                   # greatest(NULL, NULL): Arrow has no kernel for the null type
    return Call(name, tuple(cast(a, common) for a in args), common, all(a.nullable for a in args))


# greatest(NULL, 1) is 1: NULLs are skipped, as in DuckDB
register("greatest", "scalar", _bind_greatest, 1, nulls=Nulls.TOLERANT)
register("least", "scalar", _bind_greatest, 1, nulls=Nulls.TOLERANT)


# -- strings ------------------------------------------------------------------------


def _str_arg(e: Expr, fname: str) -> Expr:
    if T.is_string(e.dtype) or T.is_null(e.dtype):
        return cast(e, T.STRING)
    raise QuarryTypeError(f"function `{fname}` expects a VARCHAR, got {T.sql_name(e.dtype)}",
                          hint=f"CAST the argument to VARCHAR: {fname}(CAST(x AS VARCHAR))")


def _int_arg(e: Expr, fname: str) -> Expr:
    if T.is_integer(e.dtype) or T.is_null(e.dtype):
        return cast(e, T.INT64)
    if T.is_decimal(e.dtype) or T.is_float(e.dtype):
        return cast(e, T.INT64)
    raise QuarryTypeError(f"function `{fname}` expects an integer, got {T.sql_name(e.dtype)}")


def _string_fn(result=T.STRING, ints=()):
    def bind(name, args):
        typed = [(_int_arg(a, name) if i in ints else _str_arg(a, name)) for i, a in enumerate(args)]
        return _mk(name, typed, result)
    return bind


register("upper", "scalar", _string_fn(), 1, 1, aliases=("ucase",))
register("lower", "scalar", _string_fn(), 1, 1, aliases=("lcase",))
register("trim", "scalar", _string_fn(), 1, 2, aliases=("btrim",))
register("ltrim", "scalar", _string_fn(), 1, 2)
register("rtrim", "scalar", _string_fn(), 1, 2)
def _bind_length(name, args):
    if T.is_list(args[0].dtype) or T.is_map(args[0].dtype):
        from quarry.logical.nested_functions import list_length   # len() of a list or map
        return list_length(args[0])
    return _string_fn(T.INT64)(name, args)


register("length", "scalar", _bind_length, 1, 1, aliases=("char_length", "character_length", "len"))
register("length_grapheme", "scalar", _string_fn(T.INT64), 1, 1,
         doc="length_grapheme(s): the number of grapheme clusters (user-perceived characters) of s")
register("reverse", "scalar", _string_fn(), 1, 1)
register("replace", "scalar", _string_fn(), 3, 3)
register("substring", "scalar", _string_fn(ints=(1, 2)), 2, 3, aliases=("substr",))
register("left", "scalar", _string_fn(ints=(1,)), 2, 2)
register("right", "scalar", _string_fn(ints=(1,)), 2, 2)
register("lpad", "scalar", _string_fn(ints=(1,)), 2, 3)
register("rpad", "scalar", _string_fn(ints=(1,)), 2, 3)
register("repeat", "scalar", _string_fn(ints=(1,)), 2, 2)
register("starts_with", "scalar", _string_fn(T.BOOL), 2, 2, aliases=("startswith", "prefix"))
register("ends_with", "scalar", _string_fn(T.BOOL), 2, 2, aliases=("endswith", "suffix"))
register("contains", "scalar", _string_fn(T.BOOL), 2, 2)
register("strpos", "scalar", _string_fn(T.INT64), 2, 2, aliases=("position", "instr"))
register("split_part", "scalar", _string_fn(ints=(2,)), 3, 3)
register("regexp_matches", "scalar", _string_fn(T.BOOL), 2, 3, aliases=("regexp_like", "rlike"))
register("regexp_replace", "scalar", _string_fn(), 3, 4)


def _bind_regexp_extract_all(name, args):
    typed = [_int_arg(a, name) if i == 2 else _str_arg(a, name) for i, a in enumerate(args)]
    return _mk(name, typed, pa.list_(T.STRING))


# regexp_extract_all(s, pattern [, group [, options]]): every non-overlapping match (or its group) as a list
register("regexp_extract_all", "scalar", _bind_regexp_extract_all, 2, 4)


def _constant_names(e: Expr) -> list[str] | None:
    """The strings of a constant list of strings (``['a', 'b']``), else None."""
    if isinstance(e, Literal) and T.is_list(e.dtype) and isinstance(e.value, list):
        values = e.value
    elif isinstance(e, Call) and e.name == "list_value" and all(isinstance(a, Literal) for a in e.args):
        values = [a.value for a in e.args]
    else:
        return None
    return values if all(isinstance(v, str) for v in values) else None


def _bind_regexp_extract(name, args):
    """``regexp_extract(s, pattern [, group | names [, options]])``: the first match (or its group) of a
    constant pattern, '' when there is none (DuckDB's); with a list of names, a STRUCT of the first groups
    under those names."""
    s, pattern = _str_arg(args[0], name), _str_arg(args[1], name)
    group = args[2] if len(args) > 2 else lit(0)
    options = [_str_arg(args[3], name)] if len(args) > 3 else []
    names = _constant_names(group)
    if names is not None:
        if not names or len(set(n.lower() for n in names)) != len(names) or "" in names:
            raise QuarryTypeError(f"{name}(): the group names must be distinct and not empty",
                                  hint="regexp_extract(s, '(\\w+)-(\\d+)', ['word', 'number'])")
        dtype = pa.struct([pa.field(n, T.STRING) for n in names])
        return Call(name, (s, pattern, lit(0, T.INT64), *options), dtype, _nullable([s, pattern]))
    if not isinstance(group, Literal) or not (T.is_integer(group.dtype) or T.is_null(group.dtype)):
        raise QuarryTypeError(f"{name}() takes the group as a constant integer (or a constant list of names)",
                              hint="regexp_extract(s, '([a-z]+)([0-9]+)', 2)")
    return Call(name, (s, pattern, cast(group, T.INT64), *options), T.STRING, _nullable([s, pattern]))


# regexp_extract(s, NULL) is NULL, but a NULL group extracts '' as in DuckDB
register("regexp_extract", "scalar", _bind_regexp_extract, 2, 4, nulls=Nulls.TOLERANT, strict_args=(0, 1, 3),
         doc="regexp_extract(s, pattern [, group | names [, options]]): the first match of pattern in s, or "
             "its group (0 is the whole match); '' when nothing matches")


def _bind_concat_ws(name, args):
    sep = _str_arg(args[0], name)
    rest = []
    for a in args[1:]:
        if T.is_nested(a.dtype):
            raise UnsupportedError(f"{name}() of a {T.sql_name(a.dtype)} value",
                                   hint="join the list's elements with array_to_string(list, sep)")
        rest.append(cast(a, T.STRING))
    return Call("concat_ws", (sep, *rest), T.STRING, sep.nullable)


# concat_ws(sep, a, NULL, b) skips the NULL; a NULL separator makes it NULL
register("concat_ws", "scalar", _bind_concat_ws, 2, nulls=Nulls.TOLERANT, strict_args=(0,),
         doc="concat_ws(sep, a, b, ...): the non-NULL arguments as text, joined by sep")


def _bytes_arg(e: Expr, fname: str) -> Expr:
    if T.is_string(e.dtype) or T.is_null(e.dtype):
        return cast(e, T.BINARY)
    if pa.types.is_binary(e.dtype) or pa.types.is_large_binary(e.dtype):
        return e
    raise QuarryTypeError(f"function `{fname}` expects a VARCHAR or BLOB, got {T.sql_name(e.dtype)}",
                          hint=f"CAST the argument to VARCHAR: {fname}(CAST(x AS VARCHAR))")


def _bind_digest(name, args):
    # the digest kernels the Spark front end's md5/sha2 use (same definitions), as lowercase hex
    return Call("spark_digest", (lit(name), _bytes_arg(args[0], name)), T.STRING, args[0].nullable)


register("md5", "scalar", _bind_digest, 1, 1, rewrite=True, doc="md5(s): the MD5 digest of s as 32 hex digits")
register("sha256", "scalar", _bind_digest, 1, 1, rewrite=True,
         doc="sha256(s): the SHA-256 digest of s as 64 hex digits")
register("sha1", "scalar", _bind_digest, 1, 1, rewrite=True, doc="sha1(s): the SHA-1 digest of s as 40 hex digits")


def _bind_ascii(name, args):
    # the code point of the first character (0 for ''): the kernel of the Spark front end's ascii()
    s = _str_arg(args[0], name)
    return Call("spark_string_int", (lit("ascii"), s), T.INT32, s.nullable)


register("ascii", "scalar", _bind_ascii, 1, 1, rewrite=True,
         doc="ascii(s): the Unicode code point of the first character of s (0 for '')")


def _bind_chr(name, args):
    x = args[0]
    if not (T.is_integer(x.dtype) or T.is_null(x.dtype)):
        raise QuarryTypeError(f"function `chr` expects an INTEGER code point, got {T.sql_name(x.dtype)}",
                              hint="chr(65) is 'A'")
    return _mk("chr", [cast(x, T.INT64)], T.STRING)


register("chr", "scalar", _bind_chr, 1, 1, doc="chr(n): the character of Unicode code point n")


def _bind_format(name, args):
    """``printf(fmt, ...)`` and ``format(fmt, ...)``: the format must be a constant; its fields are checked
    against the argument types here, as DuckDB checks them (``%d`` takes an integer, ``%f`` a number)."""
    from quarry.logical import format_strings
    fmt, values = _str_arg(args[0], name), list(args[1:])
    if not isinstance(fmt, Literal):
        raise UnsupportedError(f"{name}() with a format that is not a constant string",
                               hint=f"write the format as a string literal: {name}('...', x)")
    if fmt.value is not None:
        for spec in format_strings.parse(name, fmt.value):
            if isinstance(spec, str):
                continue
            if spec.arg >= len(values):
                raise BindError(f"{name}(): the format `{fmt.value}` reads argument {spec.arg + 1}, "
                                f"but {len(values)} were given")
            t = values[spec.arg].dtype
            if T.is_null(t):
                continue
            if pa.types.is_nested(t):
                raise UnsupportedError(f"{name}() of a {T.sql_name(t)} value", hint="format its elements instead")
            number = T.is_numeric(t)
            whole = T.is_integer(t) or t == T.BOOL or T.is_decimal(t) and t.scale == 0   # 2**63 - 1 is a DECIMAL
            fits = {"d": whole, "x": whole, "X": whole, "o": whole, "b": whole, "f": T.is_float(t) or T.is_decimal(t),
                    "s": not number, "": not (number and spec.precision is not None)}[spec.conversion]
            if not fits or (spec.plus or spec.zero or spec.space) and not number:
                raise QuarryTypeError(f"{name}(): the field {spec.conversion or '{}'} cannot format a value of "
                                      f"type {T.sql_name(t)}",
                                      hint="%d/{:d} take integers, %f/{:f} numbers, %s/{:s} text; CAST the "
                                           "argument to another type")
    return _mk(name, [fmt] + values, T.STRING)


register("printf", "scalar", _bind_format, 1)
register("format", "scalar", _bind_format, 1)


def _bind_levenshtein(name, args):
    # the edit distance in characters (code points), as DuckDB counts it; the kernel is the one the
    # Spark front end's levenshtein uses (same definition), its INT result widened to DuckDB's BIGINT
    a, b = _str_arg(args[0], name), _str_arg(args[1], name)
    return cast(Call("spark_levenshtein", (a, b), T.INT32, _nullable([a, b])), T.INT64)


register("levenshtein", "scalar", _bind_levenshtein, 2, 2, aliases=("editdist3",), rewrite=True,
         doc="levenshtein(a, b): the fewest single-character edits that turn a into b")


def _bind_concat(name, args):
    return _mk("concat", [cast(a, T.STRING) for a in args], T.STRING,
               _nullable(args) if name == "concat_op" else False)


register("concat", "scalar", _bind_concat, 1, nulls=Nulls.TOLERANT)
# `a || b` is NULL when either side is NULL; concat() skips NULLs (like DuckDB).
def _bind_concat_op(name, args):
    if any(pa.types.is_list(a.dtype) for a in args):       # [1] || [2] is list concatenation, as in DuckDB
        from quarry.logical.nested_functions import bind_list_concat_op
        return bind_list_concat_op(args)
    return Call("concat_op", tuple(cast(x, T.STRING) for x in args), T.STRING, _nullable(args))


register("concat_op", "scalar", _bind_concat_op, 2, 2)

# -- math ------------------------------------------------------------------------------


def _num_arg(e, fname):
    if T.is_numeric(e.dtype) or T.is_null(e.dtype):
        return e
    raise QuarryTypeError(f"function `{fname}` expects a number, got {T.sql_name(e.dtype)}")


def _bind_same_numeric(name, args):
    a = _num_arg(args[0], name)
    return _mk(name, [a], a.dtype if not T.is_null(a.dtype) else T.FLOAT64)


register("abs", "scalar", _bind_same_numeric, 1, 1)
# sign() is a TINYINT -1, 0 or 1 for every numeric type, as in DuckDB
register("sign", "scalar", lambda n, a: _mk(n, [cast(_num_arg(a[0], n), T.FLOAT64)], T.INT8), 1, 1)
# isnan()/isinf()/isfinite() of a number, as in DuckDB (NaN = NaN is true in comparisons, so x <> x cannot find one)
for _name in ("isnan", "isinf", "isfinite"):
    register(_name, "scalar", lambda n, a: _mk(n, [cast(_num_arg(a[0], n), T.FLOAT64)], T.BOOL), 1, 1)


def _bind_round(name, args):
    a = _num_arg(args[0], name)
    digits = 0
    if len(args) > 1:
        if not isinstance(args[1], Literal) or not (T.is_integer(args[1].dtype) or args[1].value is None):
            raise QuarryTypeError("round() takes a constant integer number of digits")
        if args[1].value is None:
            return Literal(None, a.dtype if not T.is_null(a.dtype) else T.FLOAT64)
        digits = args[1].value
    if T.is_decimal(a.dtype):
        scale = max(min(digits, a.dtype.scale), 0)
        result = pa.decimal128(a.dtype.precision, scale)
    elif T.is_integer(a.dtype):
        result = a.dtype
    else:
        result = T.FLOAT64
        a = cast(a, T.FLOAT64)
    return Call(name, (a, lit(digits)), result, a.nullable)


register("round", "scalar", _bind_round, 1, 2)


def _bind_floor_ceil(name, args):
    a = _num_arg(args[0], name)
    if T.is_decimal(a.dtype):
        return _mk(name, [a], pa.decimal128(a.dtype.precision, 0))
    if T.is_integer(a.dtype):
        return a
    return _mk(name, [cast(a, T.FLOAT64)], T.FLOAT64)


register("floor", "scalar", _bind_floor_ceil, 1, 1)
register("ceil", "scalar", _bind_floor_ceil, 1, 1, aliases=("ceiling",))


def _float_fn(n_args=1):
    def bind(name, args):
        return _mk(name, [cast(_num_arg(a, name), T.FLOAT64) for a in args], T.FLOAT64)
    return bind


for _name, _al in (("sqrt", ()), ("ln", ()), ("log10", ()), ("log2", ()), ("exp", ()), ("cbrt", ()),
                   ("sin", ()), ("cos", ()), ("tan", ()), ("atan", ())):
    register(_name, "scalar", _float_fn(), 1, 1, aliases=_al)
register("power", "scalar", _float_fn(2), 2, 2, aliases=("pow",))
register("log", "scalar", _float_fn(), 1, 2)
register("random", "scalar", lambda n, a: Call("random", (), T.FLOAT64, False), 0, 0, aliases=("rand",),
         volatility=Volatility.VOLATILE)
register("pi", "scalar", lambda n, a: Literal(3.141592653589793, T.FLOAT64), 0, 0, rewrite=True)
# a random (version 4) UUID per row, in its canonical text (quarry keeps UUIDs as VARCHAR)
register("gen_random_uuid", "scalar", lambda n, a: Call("gen_random_uuid", (), T.STRING, False), 0, 0,
         aliases=("uuid", "uuidv4"), volatility=Volatility.VOLATILE)


def uuid_cast(e: Expr, *, try_cast: bool = False) -> Expr:
    """``CAST(e AS UUID)``: the text checked (32 hex digits, hyphens anywhere, optionally in braces, as
    DuckDB reads it) and written in canonical form, ``a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11``; a bad value
    fails the cast, or is NULL for TRY_CAST."""
    if not (T.is_string(e.dtype) or T.is_null(e.dtype)):
        raise QuarryTypeError(f"cannot cast {T.sql_name(e.dtype)} to UUID", hint="cast a VARCHAR to UUID")
    return Call("try_uuid" if try_cast else "uuid_text", (cast(e, T.STRING),), T.STRING,
                True if try_cast else e.nullable)


register("uuid_text", "scalar", None, 1, 1, internal=True)     # built by uuid_cast()
register("interval_micros", "scalar", None, 1, 1, internal=True)   # built by _bind_compare
register("try_uuid", "scalar", None, 1, 1, internal=True)

# -- dates ---------------------------------------------------------------------------------

DATE_PARTS = {"year", "quarter", "month", "week", "day", "dayofweek", "dow", "dayofyear", "doy", "hour",
              "minute", "second", "millisecond", "microsecond", "epoch", "isodow", "isoyear", "century",
              "millennium", "yearweek", "weekday"}
TIME_PARTS = {"hour", "minute", "second", "millisecond", "microsecond"}      # the parts a TIME has


def _temporal_arg(e, fname, time_ok: bool = False):
    if T.is_temporal(e.dtype) or T.is_null(e.dtype) or time_ok and T.is_time(e.dtype):
        return e
    if isinstance(e, Literal) and T.is_string(e.dtype):
        return cast(e, T.DATE)
    raise QuarryTypeError(f"function `{fname}` expects a DATE or TIMESTAMP, got {T.sql_name(e.dtype)}")


def _bind_date_part(name, args):
    part_expr, value = args
    if not isinstance(part_expr, Literal) or not isinstance(part_expr.value, str):
        raise QuarryTypeError(f"{name}() takes the part as a constant string, e.g. 'year'")
    part = part_expr.value.lower()
    if part not in DATE_PARTS:
        raise QuarryTypeError(f"unknown date part `{part}`", hint=suggest(part, DATE_PARTS))
    value = _temporal_arg(value, name, time_ok=part in TIME_PARTS)
    result = T.FLOAT64 if part == "epoch" else T.INT64
    return Call("date_part", (Literal(part, T.STRING), value), result, value.nullable)


register("date_part", "scalar", _bind_date_part, 2, 2, aliases=("datepart", "extract"))
for _part in ("year", "month", "day", "quarter", "hour", "minute", "second", "dayofweek", "dayofyear", "week"):
    register(_part, "scalar", (lambda p: lambda n, a: _bind_date_part("date_part", [lit(p), a[0]]))(_part), 1, 1,
             rewrite=True)


def _bind_date_trunc(name, args):
    part_expr, value = args
    if not isinstance(part_expr, Literal) or not isinstance(part_expr.value, str):
        raise QuarryTypeError("date_trunc() takes the part as a constant string, e.g. 'month'")
    value = _temporal_arg(value, name)
    part = part_expr.value.lower()
    if part not in ("year", "quarter", "month", "week", "day", "hour", "minute", "second"):
        raise QuarryTypeError(f"date_trunc: unknown part `{part}`")
    result = T.TIMESTAMP if part in ("hour", "minute", "second") and pa.types.is_timestamp(value.dtype) else value.dtype
    return Call("date_trunc", (Literal(part, T.STRING), value), result, value.nullable)


register("date_trunc", "scalar", _bind_date_trunc, 2, 2, aliases=("datetrunc",))


def _bind_date_diff(name, args):
    part_expr, a, b = args
    if not isinstance(part_expr, Literal):
        raise QuarryTypeError("date_diff() takes the part as a constant string")
    a, b = _temporal_arg(a, name), _temporal_arg(b, name)
    return Call("date_diff", (part_expr, a, b), T.INT64, _nullable([a, b]))


register("date_diff", "scalar", _bind_date_diff, 3, 3, aliases=("datediff",))
# Stable: bound to the time the statement is bound, so one query sees one value everywhere
register("current_date", "scalar", lambda n, a: Literal(datetime.date.today(), T.DATE), 0, 0, aliases=("today",),
         volatility=Volatility.STABLE, rewrite=True)
register("now", "scalar", lambda n, a: Literal(datetime.datetime.now().replace(microsecond=0), T.TIMESTAMP),
         0, 0, aliases=("current_timestamp",), volatility=Volatility.STABLE, rewrite=True)


def _bind_make_date(name, args):
    return _mk(name, [_int_arg(a, name) for a in args], T.DATE)


register("make_date", "scalar", _bind_make_date, 3, 3)


def _bind_age(name, args):
    if len(args) == 1:             # age(ts): from midnight today, as DuckDB
        args = [Literal(datetime.datetime.combine(datetime.date.today(), datetime.time()), T.TIMESTAMP)] + list(args)
    a, b = (cast(x, T.TIMESTAMP) if pa.types.is_date(x.dtype) or T.is_null(x.dtype) else x for x in args)
    for x in (a, b):
        if not pa.types.is_timestamp(x.dtype):
            raise QuarryTypeError(f"age() expects a TIMESTAMP or DATE, got {T.sql_name(x.dtype)}")
    if a.dtype.tz != b.dtype.tz:
        raise QuarryTypeError("age() of a TIMESTAMP and a TIMESTAMP WITH TIME ZONE",
                              hint="CAST both to TIMESTAMP or both to TIMESTAMPTZ")
    return _mk("age", [a, b], T.INTERVAL)


# age(a, b): a - b in years, months and days of the calendar (DuckDB's and PostgreSQL's), then the time
register("age", "scalar", _bind_age, 1, 2)
register("strftime", "scalar", lambda n, a: _mk(n, [_temporal_arg(a[0], n), _str_arg(a[1], n)], T.STRING), 2, 2)
register("to_date", "scalar", lambda n, a: cast(_str_arg(a[0], n), T.DATE, explicit=True), 1, 1, rewrite=True)

# DuckDB's strptime format codes that Arrow's strptime reads the same way ('-' flags: Arrow takes the
# numbers without leading zeros anyway)
STRPTIME_CODES = set("YmdHMSybBjpIaA%")


def _bind_strptime(name, args):
    s, fmt = _str_arg(args[0], name), args[1]
    if T.is_list(fmt.dtype):
        raise UnsupportedError(f"{name}() with a list of formats", hint=f"coalesce(try_strptime(s, 'a'), ...)")
    fmt = _str_arg(fmt, name)
    if not isinstance(fmt, Literal):
        raise UnsupportedError(f"{name}() with a format that is not a constant string",
                               hint=f"write the format as a string literal: {name}(s, '%Y-%m-%d')")
    if fmt.value is None:
        return Literal(None, T.TIMESTAMP)
    codes = re.findall(r"%-?(.?)", fmt.value)
    for code in codes:
        if code not in STRPTIME_CODES:
            raise UnsupportedError(f"{name}() with the format code `%{code}`",
                                   hint="the codes quarry reads are %" + ", %".join(sorted(STRPTIME_CODES)))
    arrow_format = re.sub(r"%-", "%", fmt.value)
    return Call(name, (s, Literal(arrow_format, T.STRING)), T.TIMESTAMP, True if name == "try_strptime" else s.nullable)


register("strptime", "scalar", _bind_strptime, 2, 2,
         doc="strptime(s, format): the TIMESTAMP that s spells in format (DuckDB's codes: %Y, %m, %d, ...)")
register("try_strptime", "scalar", _bind_strptime, 2, 2,
         doc="try_strptime(s, format): strptime(), but NULL where s does not match the format")


def _epoch_arg(e: Expr, fname: str) -> Expr:
    if T.is_temporal(e.dtype) or T.is_time(e.dtype):
        return e
    if T.is_null(e.dtype):
        return cast(e, T.TIMESTAMP)
    raise QuarryTypeError(f"function `{fname}` expects a DATE, TIMESTAMP or TIME, got {T.sql_name(e.dtype)}",
                          hint=f"{fname}(TIMESTAMP '2020-01-01 00:00:00')")


def _bind_epoch(name, args):
    x = args[0]
    if name == "epoch_ms" and (T.is_integer(x.dtype) or T.is_null(x.dtype)):
        # epoch_ms(n): the TIMESTAMP n milliseconds after 1970-01-01 (DuckDB's inverse form)
        return _mk("epoch_ms", [cast(x, T.INT64)], T.TIMESTAMP)
    x = _epoch_arg(x, name)
    return _mk(name, [x], T.FLOAT64 if name == "epoch" else T.INT64)


register("epoch", "scalar", _bind_epoch, 1, 1, doc="epoch(ts): the seconds since 1970-01-01 as a DOUBLE")
register("epoch_ms", "scalar", _bind_epoch, 1, 1,
         doc="epoch_ms(ts): the milliseconds since 1970-01-01 (BIGINT); epoch_ms(n): the TIMESTAMP n ms after it")
register("epoch_us", "scalar", _bind_epoch, 1, 1, doc="epoch_us(ts): the microseconds since 1970-01-01")
register("epoch_ns", "scalar", _bind_epoch, 1, 1, doc="epoch_ns(ts): the nanoseconds since 1970-01-01")


# -- DuckDB's date helpers (issue #12) --------------------------------------------------------

for _part in ("isoyear", "century", "millennium", "yearweek", "weekday"):
    register(_part, "scalar", (lambda p: lambda n, a: _bind_date_part("date_part", [lit(p), a[0]]))(_part), 1, 1,
             rewrite=True, doc=f"{_part}(d): date_part('{_part}', d)")


def _bind_day_month_name(name, args):
    # the English name of the weekday or month: strftime's %A / %B (Arrow's C locale)
    value = _temporal_arg(args[0], name)
    return _mk("strftime", [value, lit("%A" if name == "dayname" else "%B")], T.STRING)


register("dayname", "scalar", _bind_day_month_name, 1, 1, rewrite=True,
         doc="dayname(d): the English name of the weekday of d ('Monday')")
register("monthname", "scalar", _bind_day_month_name, 1, 1, rewrite=True,
         doc="monthname(d): the English name of the month of d ('January')")
register("last_day", "scalar", lambda n, a: _mk(n, [_temporal_arg(a[0], n)], T.DATE), 1, 1,
         doc="last_day(d): the DATE of the last day of d's month")

# to_days(n), to_hours(n), ...: DuckDB's interval constructors. Its integer forms take INTEGER or BIGINT (no
# fractions); to_seconds and to_milliseconds take a DOUBLE and keep the fraction to the microsecond.
_INTERVAL_CONSTRUCTORS = {"to_years": ("year", T.INT32), "to_quarters": ("quarter", T.INT32),
                          "to_months": ("month", T.INT32), "to_weeks": ("week", T.INT32),
                          "to_days": ("day", T.INT32), "to_hours": ("hour", T.INT64),
                          "to_minutes": ("minute", T.INT64), "to_seconds": ("second", T.FLOAT64),
                          "to_milliseconds": ("millisecond", T.FLOAT64), "to_microseconds": ("microsecond", T.INT64)}


def _bind_interval_constructor(name, args):
    unit, arg_type = _INTERVAL_CONSTRUCTORS[name]
    x = args[0]
    if T.is_null(x.dtype):
        return Literal(None, T.INTERVAL)
    if arg_type == T.FLOAT64:
        if not T.is_numeric(x.dtype):
            raise QuarryTypeError(f"function `{name}` expects a number, got {T.sql_name(x.dtype)}",
                                  hint=f"{name}(1.5)")
        return interval_of(cast(x, T.FLOAT64), unit)
    if not T.is_integer(x.dtype):
        raise QuarryTypeError(f"function `{name}` expects an integer, got {T.sql_name(x.dtype)}",
                              hint=f"CAST the argument to INTEGER: {name}(CAST(x AS INTEGER))")
    # an INTEGER argument out of its range fails, as DuckDB's implicit cast to it does
    return interval_of(cast(x, arg_type), unit)


for _name in _INTERVAL_CONSTRUCTORS:
    register(_name, "scalar", _bind_interval_constructor, 1, 1, rewrite=True,
             doc=f"{_name}(n): an INTERVAL of n {_INTERVAL_CONSTRUCTORS[_name][0]}s")


def _bind_to_timestamp(name, args):
    x = args[0]
    if T.is_string(x.dtype) and isinstance(x, Literal):
        x = cast(x, T.FLOAT64)
    if not (T.is_numeric(x.dtype) or T.is_null(x.dtype)):
        raise QuarryTypeError(f"function `{name}` expects the seconds since 1970-01-01 as a number, got "
                              f"{T.sql_name(x.dtype)}",
                              hint="to_timestamp(1700000000); strptime(s, format) reads a timestamp from text")
    return _mk(name, [cast(x, T.FLOAT64)], pa.timestamp("us", tz="UTC"))


register("to_timestamp", "scalar", _bind_to_timestamp, 1, 1,
         doc="to_timestamp(seconds): the TIMESTAMP WITH TIME ZONE that many seconds after 1970-01-01 UTC")


def _bind_make_timestamp(name, args):
    if len(args) == 1:
        # make_timestamp(micros): the TIMESTAMP that many microseconds after 1970-01-01
        return _mk(name, [_int_arg(args[0], name)], T.TIMESTAMP)
    if len(args) != 6:
        raise QuarryTypeError(f"{name}() takes 6 arguments (year, month, day, hour, minute, seconds) or 1 "
                              f"(microseconds since 1970), got {len(args)}",
                              hint="make_timestamp(2024, 1, 2, 3, 4, 5.5)")
    fields = [_int_arg(a, name) for a in args[:5]]
    return _mk(name, [*fields, cast(_num_arg(args[5], name), T.FLOAT64)], T.TIMESTAMP)


register("make_timestamp", "scalar", _bind_make_timestamp, 1, 6,
         doc="make_timestamp(year, month, day, hour, minute, seconds) or make_timestamp(microseconds)")


def _bind_date_add(name, args):
    """DuckDB's ``date_add(a, b)`` is ``a + b``, except that a DATE plus an INTERVAL is always a TIMESTAMP
    (``+`` keeps a DATE for an interval of whole days and months)."""
    a, b = args
    if T.is_null(a.dtype) and pa.types.is_interval(b.dtype) or T.is_null(b.dtype) and pa.types.is_interval(a.dtype):
        raise QuarryTypeError(f"{name}() of NULL and an INTERVAL is ambiguous",
                              hint=f"CAST the NULL: {name}(CAST(NULL AS DATE), INTERVAL 1 DAY)")
    out = F_add("add", [a, b])
    dates = [x for x in (a, b) if pa.types.is_date(x.dtype)]
    if dates and any(pa.types.is_interval(x.dtype) for x in (a, b)) and pa.types.is_date(out.dtype):
        return cast(out, T.TIMESTAMP)
    return out


F_add = _bind_arith("+")
register("date_add", "scalar", _bind_date_add, 2, 2, rewrite=True,
         doc="date_add(d, interval): d + interval, a TIMESTAMP for a DATE d (d + n days stays a DATE)")


# -- DuckDB's string and binary helpers (issue #12) ---------------------------------------------

def _constant_str(e: Expr, fname: str, what: str) -> Expr:
    e = _str_arg(e, fname)
    if not isinstance(e, Literal):
        raise UnsupportedError(f"{fname}() with {what} that is not a constant string",
                               hint=f"write {what} as a string literal")
    return e


def _bind_translate(name, args):
    s = _str_arg(args[0], name)
    src, dst = _constant_str(args[1], name, "the characters to replace"), _constant_str(args[2], name, "the replacements")
    return _mk(name, [s, src, dst], T.STRING)


register("translate", "scalar", _bind_translate, 3, 3,
         doc="translate(s, from, to): each character of s found in from replaced by the character at the same "
             "place in to, or removed when to is shorter")


def _blob_arg(e: Expr, fname: str) -> Expr:
    """A BLOB argument, as DuckDB's BLOB-only functions take it: a BLOB, or a string literal of plain ASCII
    (DuckDB reads a literal's \\x escapes as bytes, which quarry does not)."""
    if pa.types.is_binary(e.dtype) or pa.types.is_large_binary(e.dtype) or T.is_null(e.dtype):
        return cast(e, T.BINARY)
    if T.is_string(e.dtype) and isinstance(e, Literal):
        if e.value is None or (e.value.isascii() and "\\" not in e.value):
            return cast(e, T.BINARY)
        raise UnsupportedError(f"{fname}() of a string literal with non-ASCII characters or \\ escapes",
                               hint=f"{fname}(encode(s)) takes the UTF-8 bytes of s")
    raise QuarryTypeError(f"function `{fname}` expects a BLOB, got {T.sql_name(e.dtype)}",
                          hint=f"{fname}(encode(s)) takes the UTF-8 bytes of a VARCHAR s")


def _bind_hex_bin(name, args):
    x = args[0]
    if T.is_null(x.dtype):
        return Literal(None, T.STRING)
    if T.is_integer(x.dtype):
        # the 64-bit two's complement digits without leading zeros (hex(-1) is 16 F's), as DuckDB's
        x = cast(x, T.INT64)
        if name == "hex":
            return Call("spark_hex", (x,), T.STRING, x.nullable)
        return Call("spark_int_unary", (lit("bin"), x), T.STRING, x.nullable)
    if T.is_string(x.dtype) or pa.types.is_binary(x.dtype) or pa.types.is_large_binary(x.dtype):
        b = cast(x, T.BINARY)
        return Call("spark_hex" if name == "hex" else "bin_bytes", (b,), T.STRING, b.nullable)
    if T.is_float(x.dtype):
        # DuckDB casts a DOUBLE to its arbitrary-precision integer (halves to even) and writes a sign and
        # the magnitude's digits: hex(-255.7) is '-100', hex(1e300) has 250 digits
        x = cast(x, T.FLOAT64)
        return Call("float_radix_text", (lit(16 if name == "hex" else 2), x), T.STRING, x.nullable)
    # a DECIMAL is refused as DuckDB refuses it (no signature takes one)
    raise QuarryTypeError(f"function `{name}` expects an integer, DOUBLE, VARCHAR or BLOB, got {T.sql_name(x.dtype)}",
                          hint=f"{name}(CAST(x AS BIGINT)) gives the digits of the integer part")


register("hex", "scalar", _bind_hex_bin, 1, 1, aliases=("to_hex",), rewrite=True,
         doc="hex(x): the bytes of a VARCHAR/BLOB, or an integer or DOUBLE (rounded), as upper-case hexadecimal digits")
register("bin", "scalar", _bind_hex_bin, 1, 1, aliases=("to_binary",), rewrite=True,
         doc="bin(x): the bits of a VARCHAR/BLOB's bytes, or of an integer or DOUBLE (rounded), as 0s and 1s")
register("bin_bytes", "scalar", None, 1, 1, internal=True)          # bin() of bytes (_bind_hex_bin)
register("float_radix_text", "scalar", None, 2, 2, internal=True)   # hex()/bin() of a DOUBLE (_bind_hex_bin)
register("unhex", "scalar", lambda n, a: _mk(n, [_str_arg(a[0], n)], T.BINARY), 1, 1, aliases=("from_hex",),
         doc="unhex(s): the BLOB whose hexadecimal digits s is (an odd count reads a leading 0)")
register("unbin", "scalar", lambda n, a: _mk(n, [_str_arg(a[0], n)], T.BINARY), 1, 1, aliases=("from_binary",),
         doc="unbin(s): the BLOB whose bits s spells (a count not a multiple of 8 reads leading 0s)")
register("to_base64", "scalar", lambda n, a: Call("spark_base64", (_blob_arg(a[0], n),), T.STRING, a[0].nullable),
         1, 1, aliases=("base64",), rewrite=True, doc="to_base64(b): the BLOB b in base64")
register("from_base64", "scalar", lambda n, a: _mk(n, [_str_arg(a[0], n)], T.BINARY), 1, 1,
         doc="from_base64(s): the BLOB that the base64 text s encodes")


def _bind_encode(name, args):
    s = _str_arg(args[0], name)
    return cast(s, T.BINARY)           # the UTF-8 bytes, as they are stored


register("encode", "scalar", _bind_encode, 1, 1, rewrite=True, doc="encode(s): the UTF-8 bytes of s as a BLOB")
register("decode", "scalar", lambda n, a: _mk(n, [_blob_arg(a[0], n)], T.STRING), 1, 1,
         doc="decode(b): the BLOB b read as UTF-8 text (an error for bytes that are not UTF-8)")


def _bind_bit_length(name, args):
    x = args[0]
    if T.is_null(x.dtype):
        return Literal(None, T.INT64)
    if name == "octet_length":
        x = _blob_arg(x, name)
    elif not T.is_string(x.dtype):
        raise QuarryTypeError(f"function `{name}` expects a VARCHAR, got {T.sql_name(x.dtype)}",
                              hint="octet_length(b) * 8 is the bits of a BLOB b")
    return _mk("byte_length", [x, lit(8 if name == "bit_length" else 1, T.INT64)], T.INT64)   # strlen: 1


register("bit_length", "scalar", _bind_bit_length, 1, 1, rewrite=True,
         doc="bit_length(s): the number of bits of the VARCHAR s's UTF-8 bytes")
register("octet_length", "scalar", _bind_bit_length, 1, 1, rewrite=True,
         doc="octet_length(b): the number of bytes of the BLOB b")
register("strlen", "scalar", _bind_bit_length, 1, 1, rewrite=True,
         doc="strlen(s): the number of bytes of the VARCHAR s's UTF-8 (length(s) counts characters)")
register("byte_length", "scalar", None, 2, 2, internal=True)        # bytes x factor (_bind_bit_length)
register("unicode", "scalar", lambda n, a: _mk(n, [_str_arg(a[0], n)], T.INT32), 1, 1, aliases=("ord",),
         doc="unicode(s): the code point of the first character of s (-1 for '')")
register("hamming", "scalar", lambda n, a: _mk(n, [_str_arg(a[0], n), _str_arg(a[1], n)], T.INT64), 2, 2,
         aliases=("mismatches",),
         doc="hamming(a, b): at how many positions the characters of a and b (of the same length) differ")


def _bind_jaro(name, args):
    a, b = _str_arg(args[0], name), _str_arg(args[1], name)
    cutoff = lit(0.0, T.FLOAT64)
    if len(args) > 2:
        c = args[2]
        if not isinstance(c, Literal) or not (T.is_numeric(c.dtype) or T.is_null(c.dtype)):
            raise UnsupportedError(f"{name}() with a score cutoff that is not a constant number",
                                   hint=f"{name}(a, b, 0.8)")
        if c.value is None:
            return Literal(None, T.FLOAT64)
        cutoff = lit(float(c.value), T.FLOAT64)
    return Call("jaro", (lit(name == "jaro_winkler_similarity"), a, b, cutoff), T.FLOAT64, _nullable([a, b]))


register("jaro_similarity", "scalar", _bind_jaro, 2, 3, rewrite=True,
         doc="jaro_similarity(a, b [, cutoff]): the Jaro similarity of a and b, 0 to 1 (0 below cutoff)")
register("jaro_winkler_similarity", "scalar", _bind_jaro, 2, 3, rewrite=True,
         doc="jaro_winkler_similarity(a, b [, cutoff]): the Jaro-Winkler similarity (a common prefix of up to "
             "4 characters weighs 0.1), 0 below cutoff")
register("jaro", "scalar", None, 4, 4, internal=True)          # built by _bind_jaro


# -- DuckDB's math helpers (issue #12) ---------------------------------------------------------

def _bigint_arg(e: Expr, fname: str) -> Expr:
    if T.is_integer(e.dtype) or T.is_null(e.dtype):
        return cast(e, T.INT64)
    raise QuarryTypeError(f"function `{fname}` expects integers, got {T.sql_name(e.dtype)}",
                          hint=f"CAST the argument to BIGINT: {fname}(CAST(x AS BIGINT), ...)")


register("gcd", "scalar", lambda n, a: _mk(n, [_bigint_arg(x, n) for x in a], T.INT64), 2, 2, aliases=("greatest_common_divisor",),
         doc="gcd(a, b): the greatest common divisor of two integers (0 for gcd(0, 0))")
register("lcm", "scalar", lambda n, a: _mk(n, [_bigint_arg(x, n) for x in a], T.INT64), 2, 2, aliases=("least_common_multiple",),
         doc="lcm(a, b): the least common multiple of two integers (an error past BIGINT)")
register("factorial", "scalar", lambda n, a: _mk(n, [_bigint_arg(a[0], n)], pa.decimal128(38, 0)), 1, 1,
         doc="factorial(n): n! as a HUGEINT (up to 33!; a negative n is an error)")


def _bind_bit_count(name, args):
    x = args[0]
    if T.is_null(x.dtype):
        return Literal(None, T.INT8)
    if not T.is_integer(x.dtype):
        raise QuarryTypeError(f"function `bit_count` expects an integer, got {T.sql_name(x.dtype)}",
                              hint="bit_count(CAST(x AS BIGINT))")
    return _mk(name, [x], T.INT8)        # the bits of x's own width: bit_count(-1::SMALLINT) is 16


register("bit_count", "scalar", _bind_bit_count, 1, 1, doc="bit_count(x): how many bits of the integer x are set")
register("even", "scalar", lambda n, a: _mk(n, [cast(_num_arg(a[0], n), T.FLOAT64)], T.FLOAT64), 1, 1,
         doc="even(x): x rounded away from zero to the next even integer, as a DOUBLE")
register("signbit", "scalar", lambda n, a: _mk(n, [cast(_num_arg(a[0], n), T.FLOAT64)], T.BOOL), 1, 1,
         doc="signbit(x): whether the sign bit of x (as a DOUBLE) is set: true for -0.0 and -NaN")


def _bind_nextafter(name, args):
    a, b = (_num_arg(x, name) for x in args)
    dtype = T.FLOAT32 if a.dtype == T.FLOAT32 and b.dtype == T.FLOAT32 else T.FLOAT64
    return _mk(name, [cast(a, dtype), cast(b, dtype)], dtype)


register("nextafter", "scalar", _bind_nextafter, 2, 2,
         doc="nextafter(x, y): the floating-point number next to x in the direction of y")


def _bind_trunc(name, args):
    a = _num_arg(args[0], name)
    digits = 0
    if len(args) > 1:
        d = args[1]
        if not isinstance(d, Literal) or not (T.is_integer(d.dtype) or T.is_null(d.dtype)):
            raise QuarryTypeError("trunc() takes a constant integer number of digits",
                                  hint="trunc(x, 2); date_trunc('month', d) truncates a date")
        if d.value is None:
            return Literal(None, T.NULL)
        digits = d.value
    if T.is_null(a.dtype):
        return Literal(None, T.INT64)
    if T.is_decimal(a.dtype):
        result = pa.decimal128(a.dtype.precision, max(min(digits, a.dtype.scale), 0))
    elif T.is_integer(a.dtype):
        if digits >= 0:
            return a
        result = a.dtype
    else:
        result, a = T.FLOAT64, cast(a, T.FLOAT64)
    return Call(name, (a, lit(digits)), result, a.nullable)


register("trunc", "scalar", _bind_trunc, 1, 2,
         doc="trunc(x [, digits]): x cut towards zero to that many decimal digits (0 by default)")


# -- range(...) / generate_series(...) as scalar functions: the LIST of the series (issue #12) ------

def _bind_series_list(name, args):
    if len(args) == 1:
        args = [lit(0, T.INT64), args[0]]
    for a in args:
        if T.is_temporal(a.dtype) or pa.types.is_interval(a.dtype):
            raise UnsupportedError(f"{name}() of dates or timestamps as a list",
                                   hint=f"the table function FROM {name}(start, stop, INTERVAL ...) gives them as rows")
    start, stop = (_bigint_arg(a, name) for a in args[:2])
    step = _bigint_arg(args[2], name) if len(args) > 2 else lit(1, T.INT64)
    return Call("series_list", (lit(name), start, stop, step), pa.list_(T.INT64), _nullable([start, stop, step]))


register("range", "scalar", _bind_series_list, 1, 3, rewrite=True,
         doc="range([start,] stop [, step]): the LIST of BIGINTs from start (0) by step (1) up to, not including, stop")
register("generate_series", "scalar", _bind_series_list, 1, 3, rewrite=True,
         doc="generate_series([start,] stop [, step]): range() with stop included")
register("series_list", "scalar", None, 4, 4, internal=True)          # built by _bind_series_list

# -- made by the binder and the rules, not callable by name ---------------------------------

# DuckDB's unsigned integer types are stored in a wider signed type (UTINYINT as SMALLINT, ...); a cast to
# one checks DuckDB's range, which the storage type alone would not. UBIGINT is held as BIGINT, so it stops
# at BIGINT's maximum.
UNSIGNED_TYPES = {"UTINYINT": (T.INT16, 2**8 - 1), "USMALLINT": (T.INT32, 2**16 - 1),
                  "UINTEGER": (T.INT64, 2**32 - 1), "UBIGINT": (T.INT64, 2**63 - 1)}


def unsigned_cast(e: Expr, type_name: str, *, try_cast: bool = False) -> Expr:
    """``CAST(e AS UTINYINT)`` and its kin: a cast to BIGINT, the range check, then the storage type.

    A value outside ``0 .. max`` fails the cast (``check_unsigned`` raises), or is NULL for TRY_CAST.
    """
    storage, top = UNSIGNED_TYPES[type_name]
    if try_cast:
        # a narrower integer always fits BIGINT; text, decimals and doubles may not
        wide = cast(e, T.INT64) if T.is_integer(e.dtype) or T.is_null(e.dtype) else \
            Call("try_cast", (e,), T.INT64, True)
        fits = call("and", [call("greater_equal", [wide, Literal(0, T.INT64)]),
                            call("less_equal", [wide, Literal(top, T.INT64)])])
        # CASE evaluates its branch on every row, so the branch must not fail where `fits` is false
        return call("case", [fits, Call("try_cast", (wide,), storage, True), Literal(None, storage)])
    wide = cast(e, T.INT64, explicit=True)
    checked = Call("check_unsigned", (wide, Literal(top, T.INT64), Literal(type_name, T.STRING)), T.INT64,
                   wide.nullable)
    return cast(checked, storage)


register("cast", "scalar", None, 1, 1, internal=True)           # built by cast()
register("check_unsigned", "scalar", None, 3, 3, internal=True)     # built by unsigned_cast()
register("try_cast", "scalar", None, 1, 1, internal=True)       # a bad value becomes NULL; NULL stays NULL
# GROUPING(a, b): a placeholder the binder replaces by grouping_bits(grouping id, 'positions')
register("grouping", "scalar", None, 1, internal=True, rewrite=True)
register("grouping_bits", "scalar", None, 2, 2, internal=True)
# The value of a decorrelated scalar subquery, failing when a key matched several rows. NULL-tolerant:
# a NULL value must not skip the row count check (a subquery of `SELECT NULL` still has rows).
register("check_single_row", "scalar", None, 2, 2, internal=True, nulls=Nulls.TOLERANT)
# range(a, b, c) / generate_series(a, b, c) of each row as a list, for a lateral call
# (FROM t, range(t.n)); NULL if an argument is NULL
register("__range_list", "scalar", None, 3, 3, internal=True)
register("__generate_series_list", "scalar", None, 3, 3, internal=True)

# ---------------------------------------------------------------------------
# aggregates

def agg(name: str, args: list[Expr], *, distinct: bool = False, filter: Expr | None = None) -> AggCall:
    """A typed aggregate call: ``agg("sum", [x])``; ``agg("count", [])`` is ``count(*)``."""
    fdef = lookup(name)
    if fdef.kind != "aggregate":
        raise BindError(f"`{name}` is not an aggregate function")
    _check_arity(fdef, name, len(args))
    # an untyped NULL argument (count(DISTINCT NULL)) gets a type the aggregate kernels know
    args = [cast(a, T.INT32) if T.is_null(a.dtype) and fdef.name in ("count", "approx_count_distinct") else a
            for a in args]
    result = fdef.bind(fdef.name, list(args))
    if filter is not None:
        filter = _to_bool(filter, "FILTER")
    # replace() keeps what a subclass carries (a Python aggregate's definition)
    return dataclasses.replace(result, distinct=distinct, filter=filter)


def _agg_bind(result_fn, min_args=1, max_args=1):
    def bind(name, args):
        if name == "count" and not args:
            return AggCall("count_star", (), T.INT64)
        typed = list(args)
        dtype = result_fn(name, typed)
        return AggCall(name, tuple(typed), dtype)
    return bind


# a sum of BIGINT values is exact: it is summed as DECIMAL(38, 0), DuckDB's HUGEINT range up to
# 38 digits (DuckDB widens to HUGEINT; a BIGINT result would wrap past 2**63 - 1)
SUM_OF_BIGINT = pa.decimal128(38, 0)


def _wide_integer(t: pa.DataType) -> bool:
    return t in (pa.int64(), pa.uint64())


def _sum_type(name, args):
    t = args[0].dtype
    if _wide_integer(t):
        args[0] = cast(args[0], SUM_OF_BIGINT)
        return SUM_OF_BIGINT
    if T.is_integer(t):
        return T.INT64
    if T.is_decimal(t):
        return pa.decimal128(38, t.scale)
    if T.is_float(t) or T.is_null(t):
        args[0] = cast(args[0], T.FLOAT64)
        return T.FLOAT64
    raise QuarryTypeError(f"{name}() expects a number, got {T.sql_name(t)}", hint="CAST the argument to a number")


def _avg_type(name, args):
    if not (T.is_numeric(args[0].dtype) or T.is_null(args[0].dtype)):
        raise QuarryTypeError(f"{name}() expects a number, got {T.sql_name(args[0].dtype)}")
    if name == "avg" and _wide_integer(args[0].dtype):
        args[0] = cast(args[0], SUM_OF_BIGINT)     # its sum state must not wrap either
    return T.FLOAT64


def _same_type(name, args):
    return args[0].dtype


def _bool_type(name, args):
    args[0] = _to_bool(args[0], name)
    return T.BOOL


register("count", "aggregate", _agg_bind(lambda n, a: T.INT64), 0, 1)
register("count_star", "aggregate", _agg_bind(lambda n, a: T.INT64), 0, 0)
register("sum", "aggregate", _agg_bind(_sum_type), 1, 1)
register("product", "aggregate", _agg_bind(lambda n, a: (a.__setitem__(0, cast(a[0], T.FLOAT64)), T.FLOAT64)[1]), 1, 1)
register("avg", "aggregate", _agg_bind(_avg_type), 1, 1, aliases=("mean",))
def _ordered_type(name, args):
    if pa.types.is_duration(args[0].dtype):         # Arrow has no min/max kernel for durations
        raise UnsupportedError(f"{name}() of a duration (interval) column",
                               hint="the Spark front end's min/max take day-time intervals")
    return args[0].dtype


register("min", "aggregate", _agg_bind(_ordered_type), 1, 1)
register("max", "aggregate", _agg_bind(_ordered_type), 1, 1)
register("any_value", "aggregate", _agg_bind(_same_type), 1, 1)
register("median", "aggregate", _agg_bind(_avg_type), 1, 1)
register("approx_count_distinct", "aggregate", _agg_bind(lambda n, a: T.INT64), 1, 1)
for _name, _al in (("stddev_samp", ("stddev", "std")), ("stddev_pop", ()), ("var_samp", ("variance", "var")),
                   ("var_pop", ())):
    register(_name, "aggregate", _agg_bind(_avg_type), 1, 1, aliases=_al)
def _bind_count_if(name, args):
    # DuckDB's count_if is a sum of the condition as 0/1: HUGEINT, and NULL over no rows (or only NULL
    # conditions), not 0 as count() gives; count_if(DISTINCT c) counts the distinct TRUE, so it is 1 at most
    cond = args[0]
    if isinstance(cond, Literal) and T.is_string(cond.dtype):
        cond = cast(cond, T.BOOL)          # count_if('true'), as DuckDB reads the literal
    one = cast(_to_bool(cond, name), T.INT64)
    return AggCall("sum", (cast(one, SUM_OF_BIGINT),), SUM_OF_BIGINT)


register("count_if", "aggregate", _bind_count_if, 1, 1, aliases=("countif",))
register("bool_and", "aggregate", _agg_bind(_bool_type), 1, 1, aliases=("every",))
register("bool_or", "aggregate", _agg_bind(_bool_type), 1, 1)


def _string_agg_type(name, args):
    from quarry.logical.expressions import SortKey
    args[0] = cast(args[0], T.STRING)
    # string_agg(s, sep ORDER BY k, ...): the sort keys come after the separator
    if isinstance(args[0], SortKey) or (len(args) > 1 and isinstance(args[1], SortKey)) or \
            any(not isinstance(a, SortKey) for a in args[2:]):
        raise BindError("string_agg() takes a value, a separator, then ORDER BY keys",
                        hint="string_agg(s, ',' ORDER BY s)")
    return T.STRING


register("string_agg", "aggregate", _agg_bind(_string_agg_type, 1, 2), 1, None, aliases=("group_concat", "listagg"))


# -- aggregates over each group's rows (the aggregate operator's single mode): mode, arg_max, quantiles,
# correlation and regression

def _plain_value(e: Expr, fname: str, what: str = "values") -> Expr:
    if T.is_null(e.dtype):
        return cast(e, T.INT32)
    if T.is_nested(e.dtype) or pa.types.is_interval(e.dtype):
        raise UnsupportedError(f"{fname}() of {T.sql_name(e.dtype)} {what}",
                               hint=f"{fname}() takes numbers, strings, dates and timestamps")
    return e


def _bind_mode(name, args):
    x = _plain_value(args[0], name)
    return AggCall(name, (x,), x.dtype)


register("mode", "aggregate", _bind_mode, 1, 1,
         doc="mode(x): the most frequent non-NULL value (of equally frequent ones, the first in input order)")


def _bind_arg_extreme(name, args):
    if len(args) > 2:
        raise UnsupportedError(f"{name}(x, y, n), the list of the n values at the largest (smallest) y",
                               hint=f"{name}(x, y) gives the one value")
    x = args[0] if not T.is_null(args[0].dtype) else cast(args[0], T.INT32)
    y = _plain_value(args[1], name, "keys")
    return AggCall(name, (x, y), x.dtype)


register("arg_max", "aggregate", _bind_arg_extreme, 2, 3, aliases=("argmax", "max_by"),
         doc="arg_max(x, y): x at the row of the largest y (rows where x or y is NULL do not count)")
register("arg_min", "aggregate", _bind_arg_extreme, 2, 3, aliases=("argmin", "min_by"),
         doc="arg_min(x, y): x at the row of the smallest y (rows where x or y is NULL do not count)")


def quantile_fractions(e: Expr) -> tuple[list[float], bool] | None:
    """The constant quantile argument of quantile_cont/quantile_disc: its numbers and whether it is a
    list, or None when it is not a constant (a NULL in it is a None)."""
    if isinstance(e, Literal) and (T.is_numeric(e.dtype) or T.is_null(e.dtype)):
        return [None if e.value is None else float(e.value)], False
    if isinstance(e, Literal) and T.is_list(e.dtype) and isinstance(e.value, (list, tuple)):
        return [None if v is None else float(v) for v in e.value], True
    if isinstance(e, Call) and e.name == "list_value" and all(isinstance(a, Literal) for a in e.args) \
            and all(T.is_numeric(a.dtype) or T.is_null(a.dtype) for a in e.args):
        return [None if a.value is None else float(a.value) for a in e.args], True
    return None


def _bind_quantile(name, args):
    x = _plain_value(args[0], name)
    q = quantile_fractions(args[1])
    if q is None:
        raise QuarryTypeError(f"{name}() takes the quantile as a constant number or a constant list of numbers",
                              hint=f"{name}(x, 0.5) or {name}(x, [0.25, 0.5, 0.75])")
    if any(v is None for v in q[0]):
        raise QuarryTypeError(f"the quantile of {name}() cannot be NULL", hint=f"{name}(x, 0.5)")
    if any(not -1 <= v <= 1 for v in q[0]):
        raise QuarryTypeError(f"the quantile of {name}() must be between -1 and 1",
                              hint="0.5 is the median; a negative quantile counts from the top")
    if any(v < 0 for v in q[0]) and any(v >= 0 for v in q[0]):
        raise QuarryTypeError(f"the quantiles of {name}() must all be negative or all not",
                              hint="a negative quantile counts from the top: -0.1 is 0.9")
    if name == "quantile_cont":
        if not (T.is_integer(x.dtype) or T.is_float(x.dtype)):
            raise UnsupportedError(f"quantile_cont() of {T.sql_name(x.dtype)} values",
                                   hint="CAST them to DOUBLE, or use quantile_disc(), which picks a value")
        x = cast(x, T.FLOAT64)
    return AggCall(name, (x, args[1]), pa.list_(x.dtype) if q[1] else x.dtype)


register("quantile_cont", "aggregate", _bind_quantile, 2, 2,
         doc="quantile_cont(x, q): the q-quantile of x, interpolated between the two nearest values")
register("quantile_disc", "aggregate", _bind_quantile, 2, 2, aliases=("quantile",),
         doc="quantile_disc(x, q): the value of x at the q-quantile")


def _bind_statistic(name, args):
    y, x = args
    for e in (y, x):
        if not (T.is_numeric(e.dtype) or T.is_null(e.dtype)):
            raise QuarryTypeError(f"{name}() expects numbers, got {T.sql_name(e.dtype)}",
                                  hint="CAST the arguments to DOUBLE")
    return AggCall(name, (cast(y, T.FLOAT64), cast(x, T.FLOAT64)), T.INT64 if name == "regr_count" else T.FLOAT64)


# two-argument statistics over the rows where neither argument is NULL; the regr_ functions take (y, x)
STATISTICS = ("corr", "covar_pop", "covar_samp", "regr_slope", "regr_intercept", "regr_r2", "regr_count",
              "regr_avgx", "regr_avgy", "regr_sxx", "regr_syy", "regr_sxy")
for _name in STATISTICS:
    register(_name, "aggregate", _bind_statistic, 2, 2)

# the aggregates above are computed from each group's rows (with DISTINCT: its first row of each distinct
# combination of the arguments that are not constants)
ROW_AGGREGATES = frozenset(("mode", "arg_max", "arg_min", "quantile_cont", "quantile_disc") + STATISTICS)

# ---------------------------------------------------------------------------
# window-only functions

def _bind_ranking(result):
    def bind(name, args):
        return Call(name, tuple(args), result, False)
    return bind


register("row_number", "window", _bind_ranking(T.INT64), 0, 0)
register("rank", "window", _bind_ranking(T.INT64), 0, 0)
register("dense_rank", "window", _bind_ranking(T.INT64), 0, 0)
register("percent_rank", "window", _bind_ranking(T.FLOAT64), 0, 0)
register("cume_dist", "window", _bind_ranking(T.FLOAT64), 0, 0)
register("ntile", "window", lambda n, a: Call(n, (_int_arg(a[0], n),), T.INT64, False), 1, 1)


def _bind_offset(name, args):
    value = args[0]
    offset = args[1] if len(args) > 1 else lit(1)
    if not isinstance(offset, Literal) or not T.is_integer(offset.dtype):
        raise QuarryTypeError(f"{name}() takes a constant integer offset")
    default = args[2] if len(args) > 2 else Literal(None, value.dtype)
    common = T.common_type(value.dtype, default.dtype) or value.dtype
    return Call(name, (cast(value, common), offset, cast(default, common)), common, True)


register("lag", "window", _bind_offset, 1, 3)
register("lead", "window", _bind_offset, 1, 3)
register("first_value", "window", lambda n, a: Call(n, (a[0],), a[0].dtype, True), 1, 1)
register("last_value", "window", lambda n, a: Call(n, (a[0],), a[0].dtype, True), 1, 1)
register("nth_value", "window", lambda n, a: Call(n, (a[0], a[1]), a[0].dtype, True), 2, 2)


def function_names() -> list[str]:
    """Every callable name (for shell completion and docs)."""
    return BUILTINS.names()


# LIST, STRUCT and MAP functions (registered on import; they use the helpers above)
from quarry.logical import nested_functions  # noqa: E402,F401

# derived from the definitions above, never listed by hand
AGGREGATES = frozenset(d.name for d in BUILTINS.definitions() if d.kind == "aggregate")
WINDOW_FUNCTIONS = frozenset(d.name for d in BUILTINS.definitions() if d.kind == "window")

# functions with Spark's semantics, built by the Spark Connect translator (internal: not callable by name)
from quarry.logical import spark_functions  # noqa: E402,F401
