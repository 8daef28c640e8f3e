"""Python user-defined functions in the logical layer: their definitions, calls and plan nodes.

A Python UDF is a :class:`~quarry.logical.functions.FunctionDef` like any built-in
(:class:`PythonFunction`), so the optimizer asks it the same questions
(deterministic? foldable? NULL-rejecting?). Built-ins are found by name; a Python
function is carried by the expression that calls it (:class:`UDFCall`,
:class:`UDAFCall`), because two sessions may define two different ``score``
functions and a worker process has no session to look a name up in. The plan that
travels to the workers therefore holds the function itself: :meth:`PythonFunction.__reduce__`
ships it with cloudpickle (by value, so lambdas, closures and functions of ``__main__``
or a notebook work).

Whole-table Python steps are plan nodes: :class:`MapBatches` (``df.map_batches``,
a table function over a subquery), :class:`MapGroups` (``group_by(...).apply``) and
:class:`TableFunctionScan` (a table function without a table argument).

Which argument types a call accepts is the declaration's: with ``args=[...]`` each
argument is cast to its declared type; without, the function gets the argument
types as they are. The result type is always declared.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from dataclasses import dataclass, field as dc_field, replace
from functools import cached_property
from typing import Any, Callable

import pyarrow as pa

from quarry.errors import QuarryError, UDFError, UnsupportedError
from quarry.logical import types as T
from quarry.logical.expressions import AggCall, Call, Expr, Field
from quarry.logical.functions import BUILTINS, FunctionDef, Nulls, cast
from quarry.logical.plan import LogicalPlan

SCALAR_KINDS = ("arrow", "pandas", "numpy", "row")
AGGREGATE_KINDS = ("arrow", "pandas", "numpy")
TABLE_KINDS = ("arrow", "pandas")


@dataclass(eq=False)
class PythonFunction(FunctionDef):
    """A user's Python function as a quarry function: scalar (``kind="scalar"``) or aggregate.

    ``style`` says what the function receives: ``arrow`` (pyarrow Arrays, the default),
    ``pandas`` (Series), ``numpy`` (ndarrays) or ``row`` (one Python value per argument,
    once per row: the only per-value path, and slow). ``returns`` is the declared Arrow
    type of the result, ``arg_types`` the declared argument types (None: any).
    """

    func: Callable | None = None
    style: str = "arrow"
    returns: pa.DataType = dc_field(default_factory=pa.float64)
    arg_types: tuple[pa.DataType, ...] | None = None
    result_nullable: bool = True
    null_calls: bool = False        # row style: call the function on NULL arguments too (PySpark's udf)

    def __post_init__(self):
        if self.bind is None:
            self.bind = self._bind

    @property
    def foldable(self) -> bool:
        """Never: folding would run the user's code while planning, in the driver."""
        return False

    def _bind(self, name: str, args: list[Expr]) -> Expr:
        if self.arg_types is not None:
            args = [cast(a, t) for a, t in zip(args, self.arg_types)]
        if self.kind == "aggregate":
            return UDAFCall(self.name, tuple(args), self.returns, function=self)
        return UDFCall(self.name, tuple(args), self.returns, self.result_nullable, function=self)

    def describe(self) -> str:
        """``p90 (pandas aggregate UDF)``: how EXPLAIN names it."""
        what = "aggregate UDF" if self.kind == "aggregate" else "UDF"
        return f"{self.name} ({self.style} {what}{'' if self.deterministic else ', non-deterministic'})"

    def __reduce__(self):
        return _restore_function, (_pickled(self.func, self.name), self.name, self.kind, self.min_args,
                                   self.max_args, self.volatility, self.style, self.returns, self.arg_types,
                                   self.result_nullable, id(self), os.getpid(), self.null_calls)

    def __repr__(self) -> str:
        return f"PythonFunction({self.name!r}, {self.kind}, {self.style})"


_RESTORED: dict = {}      # (pid, id) of the caller's definition -> this process's copy, so one plan shares one


def _restore_function(payload: bytes, name, kind, min_args, max_args, volatility, style, returns, arg_types,
                      result_nullable, origin_id, origin_pid, null_calls=False) -> PythonFunction:
    key = (origin_pid, origin_id, payload)
    found = _RESTORED.get(key)
    if found is not None:
        return found
    try:
        func = _load(payload)
    except Exception as exc:
        raise UDFError(f"UDF `{name}` cannot be loaded in a worker process: {type(exc).__name__}: {exc}",
                       hint="the modules the function uses must be installed where the workers run",
                       subject=name) from None
    fdef = PythonFunction(name, kind, None, min_args, max_args, volatility=volatility, nulls=Nulls.TOLERANT,
                          func=func, style=style, returns=returns, arg_types=arg_types,
                          result_nullable=result_nullable, null_calls=null_calls)
    if len(_RESTORED) > 256:
        _RESTORED.clear()
    _RESTORED[key] = fdef
    return fdef


def _load(payload: bytes):
    """The function :func:`_pickled` wrote, with its source file names back (see :func:`_refile`)."""
    import pickle
    import cloudpickle  # noqa: F401  (cloudpickle's output loads with pickle once it is importable)
    filename, func = pickle.loads(payload)
    if filename:
        _refile(func, filename)
    return func


def _refile(func, filename: str) -> None:
    """Give the functions that came by value their file name again. cloudpickle writes every code
    object's file as ``<dynamic-code>``; a traceback of the user's code should name the user's file."""
    import types

    def fixed(code):
        consts = tuple(fixed(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
        return code.replace(co_filename=filename, co_consts=consts) if code.co_filename == "<dynamic-code>" else code
    module = getattr(func, "__module__", None)
    seen = [func] + [g for g in getattr(func, "__globals__", {}).values()
                     if isinstance(g, types.FunctionType) and g.__module__ == module]
    for cell in getattr(func, "__closure__", None) or ():
        try:
            if isinstance(cell.cell_contents, types.FunctionType):
                seen.append(cell.cell_contents)
        except ValueError:
            pass
    for f in seen:
        if isinstance(f, types.FunctionType):
            f.__code__ = fixed(f.__code__)


_PICKLED: dict = {}       # id(func) -> (func, bytes): a function is pickled once, not once per task


def _pickled(func, name: str) -> bytes:
    """``func`` as cloudpickle bytes, by value unless it lives in an installed package."""
    cached = _PICKLED.get(id(func))
    if cached is not None and cached[0] is func:
        return cached[1]
    import cloudpickle
    module = sys.modules.get(getattr(func, "__module__", None) or "")
    by_value = module is not None and module.__name__ != "__main__" and _is_users_module(module)
    try:
        if by_value:
            cloudpickle.register_pickle_by_value(module)
        try:
            code = getattr(func, "__code__", None)
            data = cloudpickle.dumps((code.co_filename if code is not None else None, func))
        finally:
            if by_value:
                cloudpickle.unregister_pickle_by_value(module)
    except Exception as exc:
        raise UDFError(f"UDF `{name}` cannot be sent to the worker processes: it is not picklable "
                       f"({type(exc).__name__}: {exc})",
                       hint="a UDF must not hold open files, locks, sockets or connections; create them "
                            "inside the function, or run with workers=0 to stay in this process",
                       subject=name) from None
    _PICKLED[id(func)] = (func, data)
    return data


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(os.path.realpath(p) for p in {paths.get("stdlib"), paths.get("platstdlib"), paths.get("purelib"),
                                                 paths.get("platlib")} if p)


def _is_users_module(module) -> bool:
    """Whether ``module`` is the user's own code (a script, a test, a notebook helper), not an installed
    package: the workers may not be able to import it, so its functions travel by value."""
    path = getattr(module, "__file__", None)
    if not path or module.__name__.split(".")[0] in ("quarry", "cloudpickle"):
        return False
    real = os.path.realpath(path)
    return not any(real.startswith(root + os.sep) for root in _installed_roots())


@dataclass(frozen=True, eq=True)
class UDFCall(Call):
    """A call of a Python scalar UDF; ``function`` is its :class:`PythonFunction` (compared by identity)."""

    function: Any = None


@dataclass(frozen=True, eq=True)
class UDAFCall(AggCall):
    """A call of a Python aggregate UDF (always aggregated in one phase: its states do not merge)."""

    function: Any = None


def is_python_call(e: Expr) -> bool:
    return isinstance(e, (UDFCall, UDAFCall))


def contains_python_udf(e: Expr) -> bool:
    """Whether ``e`` calls a Python UDF anywhere (the optimizer keeps those out of scans, and never
    duplicates them)."""
    return any(is_python_call(x) for x in e.walk())


def python_calls(exprs) -> list[PythonFunction]:
    """The distinct Python functions ``exprs`` call, in order of appearance."""
    out: list = []
    for e in exprs:
        for x in e.walk():
            if is_python_call(x) and x.function not in out:
                out.append(x.function)
    return out


# ------------------------------------------------------------------------ declarations


def check_name(name: str, what: str) -> str:
    """A UDF may not take a built-in function's name: plans find built-ins by name."""
    if not isinstance(name, str) or not name.isidentifier():
        raise QuarryError(f"{what}: `{name}` is not a valid function name", hint="use letters, digits and _")
    if BUILTINS.get(name) is not None:
        raise QuarryError(f"{what}: `{name}` is a built-in function", subject=name,
                          hint="give the UDF another name: udf(..., name='my_" + name + "')")
    return name.lower()


def check_kind(style: str, allowed: tuple[str, ...], what: str) -> str:
    if style not in allowed:
        raise UnsupportedError(f"{what}: kind={style!r}", hint="kind is one of " + ", ".join(map(repr, allowed)))
    return style


# ------------------------------------------------------------------------ plan nodes


@dataclass(frozen=True, eq=False)
class PythonTableStep:
    """A user's function over whole tables: ``func(batch) -> rows`` (map_batches, table functions)
    or ``func(group) -> rows`` (grouped map). Pickled like a :class:`PythonFunction`."""

    name: str
    func: Callable
    style: str                      # "arrow" | "pandas"
    schema: pa.Schema               # declared output
    args: tuple = ()                # constant extra arguments (a table function's)

    def __reduce__(self):
        return _restore_step, (self.name, _pickled(self.func, self.name), self.style, self.schema, self.args)


def _restore_step(name, payload, style, schema, args) -> PythonTableStep:
    try:
        func = _load(payload)
    except Exception as exc:
        raise UDFError(f"function `{name}` cannot be loaded in a worker process: {type(exc).__name__}: {exc}",
                       subject=name) from None
    return PythonTableStep(name, func, style, schema, args)


def fields_for(schema: pa.Schema) -> tuple[Field, ...]:
    return tuple(Field(f.name, f.type, True) for f in schema)


@dataclass(frozen=True, eq=False)
class MapBatches(LogicalPlan):
    """Rows of ``step.func`` applied to each batch of ``input`` (``df.map_batches``, a table function)."""

    input: LogicalPlan
    step: PythonTableStep
    fields: tuple[Field, ...]
    _child_fields = ("input",)

    @cached_property
    def schema(self):
        return self.fields

    def describe(self):
        return f"MapBatches: {self.step.name} ({self.step.style}) -> [{', '.join(f.name for f in self.fields)}]"


@dataclass(frozen=True, eq=False)
class MapGroups(LogicalPlan):
    """Rows of ``step.func`` applied to each group of ``input`` by ``keys`` (``group_by(...).apply``)."""

    input: LogicalPlan
    keys: tuple[Expr, ...]
    step: PythonTableStep
    fields: tuple[Field, ...]
    _child_fields = ("input",)
    _expr_fields = ("keys",)

    @cached_property
    def schema(self):
        return self.fields

    def describe(self):
        return (f"MapGroups: {self.step.name} ({self.step.style}) by [{', '.join(map(str, self.keys))}] "
                f"-> [{', '.join(f.name for f in self.fields)}]")


@dataclass(frozen=True, eq=False)
class TableFunctionScan(LogicalPlan):
    """The rows a table function returns from constant arguments (``FROM numbers(10)``)."""

    step: PythonTableStep
    fields: tuple[Field, ...]

    @cached_property
    def schema(self):
        return self.fields

    def describe(self):
        return f"TableFunction: {self.step.name}({', '.join(map(repr, self.step.args))}) ({self.step.style})"


def with_function(call: Expr, fdef: PythonFunction) -> Expr:
    """``call`` (a UDFCall/UDAFCall) pointing at ``fdef``."""
    return replace(call, function=fdef)
