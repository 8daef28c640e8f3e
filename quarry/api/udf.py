"""Python UDFs in the DataFrame API: ``F.udf``, ``F.udaf``, and what sessions register.

    >>> import quarry.functions as F, pyarrow.compute as pc
    >>> @F.udf(returns="double")
    ... def net(price, disc):
    ...     return pc.multiply(price, pc.subtract(1, disc))
    >>> net("l_extendedprice", "l_discount").name
    'net(l_extendedprice, l_discount)'

A :class:`UserFunction` is called with columns (names or Columns) and gives a Column; the
same object registered with ``con.register_function(name, fn)`` is callable by name from SQL
and the DSL. See docs/udf.md.
"""

from __future__ import annotations

import inspect
from typing import Callable

import pyarrow as pa

from quarry.api.column import Column, _joined, to_column
from quarry.errors import BindError, MisplacedAggregateError, NestedAggregateError, QuarryError, UnsupportedError
from quarry.logical import types as T
from quarry.logical import udf as U
from quarry.logical.functions import Nulls, Volatility, _check_arity
from quarry.sql.expression import parse_type_name


class UserFunction:
    """A Python function made a quarry function by :func:`udf` or :func:`udaf`; call it with columns.

    ``definition`` is its :class:`~quarry.logical.udf.PythonFunction`; ``func`` the Python function.
    """

    def __init__(self, definition: U.PythonFunction):
        self.definition = definition
        self.func = definition.func
        self.__name__ = definition.name
        self.__doc__ = getattr(definition.func, "__doc__", None)
        self.__wrapped__ = definition.func

    @property
    def name(self) -> str:
        return self.definition.name

    def __call__(self, *args) -> Column:
        fdef = self.definition
        _check_arity(fdef, fdef.name, len(args))
        columns = [to_column(a) for a in args]
        display = (f"{fdef.name}(", *_joined(columns), ")")
        if fdef.kind == "aggregate":
            return Column(_aggregate_binder(fdef, columns), display, window_func=fdef.name)
        return Column(lambda ctx: fdef.bind(fdef.name, [c.bind(ctx) for c in columns]), display)

    def renamed(self, name: str) -> "UserFunction":
        """The same function under another name (``register_function("net", f)``)."""
        from dataclasses import replace
        name = U.check_name(name, "register_function")
        if name == self.definition.name:
            return self
        return UserFunction(replace(self.definition, name=name, bind=None))

    def __repr__(self) -> str:
        return f"<{self.definition.describe()}>"


def _aggregate_binder(fdef: U.PythonFunction, columns: list[Column]):
    def bind(ctx):
        if ctx.window_function:
            arg_ctx = ctx.derive(window_function=False, allow_windows=False)
            return fdef.bind(fdef.name, [c.bind(arg_ctx) for c in columns])
        if not ctx.allow_aggregates:
            raise MisplacedAggregateError(fdef.name, f"in {ctx.method}")
        inner = ctx.derive(allow_aggregates=False, allow_windows=False)
        try:
            args = [c.bind(inner) for c in columns]
        except MisplacedAggregateError:
            raise NestedAggregateError(fdef.name) from None
        return fdef.bind(fdef.name, args)
    return bind


def _arity(func: Callable, declared) -> tuple[int, int | None]:
    if declared is not None:
        return len(declared), len(declared)
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):          # a builtin or C function: any count
        return 0, None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return len(required), None
    return len(required), len(positional)


def make_function(func: Callable, *, returns, kind: str, name: str | None, deterministic: bool,
                  nullable: bool, args, aggregate: bool, what: str) -> UserFunction:
    """The :class:`UserFunction` for ``func`` (shared by :func:`udf`, :func:`udaf` and ``register_function``)."""
    if not callable(func):
        raise QuarryError(f"{what}: {func!r} is not callable", hint=f"pass a function: {what}(my_function, ...)")
    if returns is None:
        raise QuarryError(f"{what}: the result type is missing", hint=f"declare it: {what}(..., returns='double')")
    style = U.check_kind(kind, U.AGGREGATE_KINDS if aggregate else U.SCALAR_KINDS, what)
    raw = name or getattr(func, "__name__", None) or "udf"
    fname = U.check_name("lambda_udf" if raw == "<lambda>" else raw, what)
    arg_types = None if args is None else tuple(parse_type(t, what) for t in args)
    min_args, max_args = _arity(func, arg_types)
    fdef = U.PythonFunction(fname, "aggregate" if aggregate else "scalar", None, min_args, max_args,
                            volatility=Volatility.IMMUTABLE if deterministic else Volatility.VOLATILE,
                            nulls=Nulls.TOLERANT, func=func, style=style, returns=parse_type(returns, what),
                            arg_types=arg_types, result_nullable=bool(nullable),
                            doc=(getattr(func, "__doc__", None) or "").strip())
    return UserFunction(fdef)


def _decorator(aggregate: bool, what: str, func, options: dict):
    unknown = set(options) - {"returns", "kind", "name", "deterministic", "nullable", "args"}
    if unknown:
        raise UnsupportedError(f"{what}() option {', '.join(sorted(unknown))}",
                               hint="options: returns, kind, name, deterministic, nullable, args")
    settings = dict(returns=options.get("returns"), kind=options.get("kind", "arrow"), name=options.get("name"),
                    deterministic=options.get("deterministic", True), nullable=options.get("nullable", True),
                    args=options.get("args"))
    if func is not None:
        return make_function(func, aggregate=aggregate, what=what, **settings)
    return lambda f: make_function(f, aggregate=aggregate, what=what, **settings)


def udf(func: Callable | None = None, /, **options):
    """A scalar Python UDF: ``@F.udf(returns="double")`` over a function, or ``F.udf(fn, returns=...)``.

    Options: ``returns`` (a type name such as ``"double"``, or a pyarrow type; required), ``kind``
    (``"arrow"``, the default: pyarrow Arrays in, an Array out; ``"pandas"``: Series; ``"numpy"``:
    ndarrays; ``"row"``: one value per argument and row, slow), ``name`` (default: the function's),
    ``deterministic`` (False: never folded, moved across filters or shared), ``nullable`` (False:
    NULL results are an error) and ``args`` (argument types to cast to; default: as given).

    >>> plus_one = udf(lambda x: pc.add(x, 1), returns="bigint", name="plus_one")   # doctest: +SKIP
    """
    return _decorator(False, "udf", func, options)


def udaf(func: Callable | None = None, /, **options):
    """An aggregate Python UDF: the function gets all of a group's values and returns one value.

    Same options as :func:`udf`; ``kind`` is ``"arrow"`` (default), ``"pandas"`` or ``"numpy"``.
    Usable in ``agg(...)`` and over a window (``p90("x").over(F.window(partition_by="k"))``).
    """
    return _decorator(True, "udaf", func, options)


def as_user_function(fn, name: str, options: dict, what: str = "register_function") -> UserFunction:
    """What ``register_function(name, fn, **options)`` registers: a UserFunction named ``name``."""
    if isinstance(fn, UserFunction):
        if options:
            raise BindError(f"{what}: `{fn.name}` is already a UDF; its options are set where it was made",
                            hint=f"register it as it is: {what}('{name}', {fn.name})")
        return fn.renamed(name)
    aggregate = bool(options.pop("aggregate", False))
    options.setdefault("name", name)
    return _decorator(aggregate, what, fn, options)


# ------------------------------------------------------------------------ whole-table functions


def _step(fn, schema, kind: str, what: str, args: tuple = ()) -> U.PythonTableStep:
    if not callable(fn):
        raise QuarryError(f"{what}: {fn!r} is not callable", hint=f"pass a function: {what}(my_function, schema=...)")
    if schema is None:
        raise QuarryError(f"{what}: the output schema is missing",
                          hint=f"declare it: {what}(fn, schema='id bigint, score double')")
    style = U.check_kind(kind, U.TABLE_KINDS, what)
    raw = getattr(fn, "__name__", None) or what
    return U.PythonTableStep("lambda" if raw == "<lambda>" else raw, fn, style, parse_schema(schema, what), args)


def map_batches_plan(df, fn, schema, kind: str):
    """The plan of ``df.map_batches(fn, schema=..., kind=...)``."""
    step = _step(fn, schema, kind, "map_batches")
    return U.MapBatches(df._plan, step, U.fields_for(step.schema))


def apply_plan(grouped, fn, schema, kind: str):
    """The plan of ``df.group_by(keys).apply(fn, schema=..., kind=...)`` (grouped map)."""
    step = _step(fn, schema, kind, "apply")
    df = grouped._df
    ctx = df._ctx("apply")
    keys = tuple(k.bind(ctx) for k in grouped._keys)
    if any(k.contains(AggCall) or k.contains(WindowCall) for k in keys):
        raise BindError("apply: group keys cannot be aggregates or window functions")
    return U.MapGroups(df._plan, keys, step, U.fields_for(step.schema))


from quarry.logical.expressions import AggCall, WindowCall  # noqa: E402


# ------------------------------------------------------------------------ declarations


def parse_type(spec, what: str) -> pa.DataType:
    """An Arrow type from a pyarrow type or a quarry/DuckDB type name (``"double"``, ``"DECIMAL(15,2)"``)."""
    if isinstance(spec, pa.DataType):
        return T.normalize(spec)
    if isinstance(spec, str):
        return parse_type_name(spec)
    raise QuarryError(f"{what}: cannot use a {type(spec).__name__} as a type",
                      hint="pass a type name such as 'double' or 'bigint', or a pyarrow type")


def parse_schema(spec, what: str) -> pa.Schema:
    """A schema from a DDL string (``"l_suppkey bigint, slope double"``), a ``pa.Schema`` or a dict."""
    if isinstance(spec, pa.Schema):
        return pa.schema([pa.field(f.name, T.normalize(f.type), f.nullable) for f in spec])
    if isinstance(spec, dict):
        return pa.schema([(k, parse_type(v, what)) for k, v in spec.items()])
    if isinstance(spec, str):
        fields = []
        for part in _split_top_level(spec):
            bits = part.strip().split(None, 1)
            if len(bits) != 2:
                raise QuarryError(f"{what}: `{part.strip()}` is not `name type`",
                                  hint="write the schema as 'name type, name type', e.g. 'id bigint, score double'")
            name, type_text = bits
            fields.append(pa.field(name.strip('"'), parse_type(type_text, what)))
        if not fields:
            raise QuarryError(f"{what}: the schema is empty", hint="write it as 'name type, name type'")
        return pa.schema(fields)
    raise QuarryError(f"{what}: cannot use a {type(spec).__name__} as a schema",
                      hint="pass a DDL string such as 'id bigint, score double', or a pyarrow schema")


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses (``decimal(15, 2)`` stays one type)."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


