"""Python UDFs of PySpark programs on quarry's UDF machinery: ``F.udf``, ``pandas_udf``, ``arrow_udf``,
``spark.udf.register``, ``mapInPandas``/``mapInArrow``, ``groupBy().applyInPandas/applyInArrow`` and
``cogroup().applyInPandas/applyInArrow``.

The client sends a function as a ``CommonInlineUserDefinedFunction``: its name, its arguments,
and a ``PythonUDF`` with the declared output type, the *eval type* (what the function receives
and returns, :class:`pyspark.util.PythonEvalType`) and the *command*: pyspark's own cloudpickle
of ``(func, return_type)``. quarry never unpickles the command in the server: a
:class:`SparkFunction` carries the bytes into the plan, quarry's UDF machinery ships it to the
worker processes with the plan (:mod:`quarry.logical.udf`), and it is unpickled there, on
first use, with pyspark's serializer. The eval type picks quarry's style:

=============================================  ======================================================
eval type (PySpark API)                        on quarry
=============================================  ======================================================
SQL_BATCHED_UDF, SQL_ARROW_BATCHED_UDF         a ``row`` UDF: one call per row, None for NULLs, as
(``udf``, ``udf(useArrow=True)``)              in Spark (quarry batches the rows through the call)
SQL_SCALAR_PANDAS_UDF / _ITER_UDF              a ``pandas`` UDF: Series in, Series out; the iterator
(``pandas_udf``, ``Iterator[pd.Series]``)      form gets an iterator over each batch
SQL_SCALAR_ARROW_UDF / _ITER_UDF               an ``arrow`` UDF (pyarrow Arrays)
(``arrow_udf``)
SQL_GROUPED_AGG_PANDAS/ARROW_UDF (and _ITER)   an aggregate UDF (``F.udaf``): groupBy().agg, SQL's
(``pandas_udf`` Series -> scalar)              GROUP BY, and over windows
SQL_MAP_PANDAS/ARROW_ITER_UDF                  ``map_batches``: the function gets an iterator over
(``mapInPandas``, ``mapInArrow``)              each batch of the input
SQL_GROUPED_MAP_PANDAS/ARROW_UDF (and _ITER)   grouped map (``group_by(...).apply``): one call per
(``applyInPandas``, ``applyInArrow``)          group, with the key first when the function takes it
SQL_COGROUPED_MAP_PANDAS/ARROW_UDF             grouped map over the union of both sides, tagged by
(``cogroup().applyInPandas/applyInArrow``)     side and split again per group
=============================================  ======================================================

Everything else (UDTFs, ``applyInPandasWithState``, Scala and Java UDFs, named arguments)
is refused with ``Not supported: ...``. An exception inside the function reaches PySpark as
its ``PythonException``, with the function's name, the exception and the user's own frames.

A session's Python artifacts (``spark.addArtifacts("helpers.py", pyfile=True)``, see
:mod:`quarry.spark.artifacts`) are importable while the function loads and runs: the
directories travel with the function, and a worker puts them first on ``sys.path`` (and
forgets modules another session's artifacts brought) before unpickling.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading

import pyarrow as pa

from quarry.spark.errors import SparkError, not_supported

__all__ = ["SparkFunction", "udf_expression", "register", "map_partitions", "group_map", "cogroup_map",
           "EVAL_NAMES"]

# pyspark.util.PythonEvalType, by number (the server does not need pyspark.util to plan)
BATCHED, ARROW_BATCHED = 100, 101
SCALAR_PANDAS, GROUPED_MAP_PANDAS, GROUPED_AGG_PANDAS, WINDOW_AGG_PANDAS, SCALAR_PANDAS_ITER = 200, 201, 202, 203, 204
MAP_PANDAS_ITER, COGROUPED_MAP_PANDAS, MAP_ARROW_ITER = 205, 206, 207
GROUPED_MAP_ARROW, COGROUPED_MAP_ARROW, GROUPED_MAP_ARROW_ITER, GROUPED_MAP_PANDAS_ITER = 209, 210, 215, 216
GROUPED_AGG_PANDAS_ITER = 217
SCALAR_ARROW, SCALAR_ARROW_ITER, GROUPED_AGG_ARROW, WINDOW_AGG_ARROW, GROUPED_AGG_ARROW_ITER = 250, 251, 252, 253, 254

EVAL_NAMES = {
    BATCHED: "SQL_BATCHED_UDF", ARROW_BATCHED: "SQL_ARROW_BATCHED_UDF", SCALAR_PANDAS: "SQL_SCALAR_PANDAS_UDF",
    GROUPED_MAP_PANDAS: "SQL_GROUPED_MAP_PANDAS_UDF", GROUPED_AGG_PANDAS: "SQL_GROUPED_AGG_PANDAS_UDF",
    WINDOW_AGG_PANDAS: "SQL_WINDOW_AGG_PANDAS_UDF", SCALAR_PANDAS_ITER: "SQL_SCALAR_PANDAS_ITER_UDF",
    MAP_PANDAS_ITER: "SQL_MAP_PANDAS_ITER_UDF", COGROUPED_MAP_PANDAS: "SQL_COGROUPED_MAP_PANDAS_UDF",
    MAP_ARROW_ITER: "SQL_MAP_ARROW_ITER_UDF", GROUPED_MAP_ARROW: "SQL_GROUPED_MAP_ARROW_UDF",
    COGROUPED_MAP_ARROW: "SQL_COGROUPED_MAP_ARROW_UDF", GROUPED_MAP_ARROW_ITER: "SQL_GROUPED_MAP_ARROW_ITER_UDF",
    GROUPED_MAP_PANDAS_ITER: "SQL_GROUPED_MAP_PANDAS_ITER_UDF", GROUPED_AGG_PANDAS_ITER: "SQL_GROUPED_AGG_PANDAS_ITER_UDF",
    SCALAR_ARROW: "SQL_SCALAR_ARROW_UDF", SCALAR_ARROW_ITER: "SQL_SCALAR_ARROW_ITER_UDF",
    GROUPED_AGG_ARROW: "SQL_GROUPED_AGG_ARROW_UDF", WINDOW_AGG_ARROW: "SQL_WINDOW_AGG_ARROW_UDF",
    GROUPED_AGG_ARROW_ITER: "SQL_GROUPED_AGG_ARROW_ITER_UDF",
}

# scalar eval types -> quarry style; aggregate ones; whole-table ones
_SCALAR = {BATCHED: "row", ARROW_BATCHED: "row", SCALAR_PANDAS: "pandas", SCALAR_PANDAS_ITER: "pandas",
           SCALAR_ARROW: "arrow", SCALAR_ARROW_ITER: "arrow"}
_AGGREGATE = {GROUPED_AGG_PANDAS: "pandas", WINDOW_AGG_PANDAS: "pandas", GROUPED_AGG_PANDAS_ITER: "pandas",
              GROUPED_AGG_ARROW: "arrow", WINDOW_AGG_ARROW: "arrow", GROUPED_AGG_ARROW_ITER: "arrow"}
_MAP = {MAP_PANDAS_ITER: "pandas", MAP_ARROW_ITER: "arrow"}
_GROUP_MAP = {GROUPED_MAP_PANDAS: "pandas", GROUPED_MAP_PANDAS_ITER: "pandas", GROUPED_MAP_ARROW: "arrow",
              GROUPED_MAP_ARROW_ITER: "arrow"}
_COGROUP_MAP = {COGROUPED_MAP_PANDAS: "pandas", COGROUPED_MAP_ARROW: "arrow"}
_ITERATORS = {SCALAR_PANDAS_ITER, SCALAR_ARROW_ITER, GROUPED_AGG_PANDAS_ITER, GROUPED_AGG_ARROW_ITER,
              MAP_PANDAS_ITER, MAP_ARROW_ITER, GROUPED_MAP_ARROW_ITER, GROUPED_MAP_PANDAS_ITER}

_KEY = "__quarry_key"         # hidden grouping-key columns of grouped and cogrouped maps
_SIDE = "__quarry_side"


def _eval_name(eval_type: int) -> str:
    return EVAL_NAMES.get(eval_type, f"eval type {eval_type}")


# ---------------------------------------------------------------------------- the function


_LOAD_LOCK = threading.Lock()
_ARTIFACT_PATHS: list[str] = []          # the artifact directories this process put on sys.path
_CURRENT = [()]                          # the artifact paths of the session whose function last ran here


def _use_paths(paths: tuple[str, ...]) -> None:
    """Put a session's artifact directories first on ``sys.path``; forget the paths and modules of other
    sessions' artifacts, so two sessions' ``helpers.py`` never mix in one worker (a module a function
    imports as it runs is imported again after another session's function ran)."""
    if paths == _CURRENT[0]:
        return
    with _LOAD_LOCK:
        wanted = [os.path.realpath(p) for p in paths]
        stale = [p for p in _ARTIFACT_PATHS if p not in wanted]
        for p in stale:
            while p in sys.path:
                sys.path.remove(p)
            _ARTIFACT_PATHS.remove(p)
            prefix = p + os.sep
            for name, module in list(sys.modules.items()):
                file = getattr(module, "__file__", None) or ""
                if file and (file == p or os.path.realpath(file).startswith(prefix)):
                    del sys.modules[name]
        for p in reversed(wanted):
            if p not in _ARTIFACT_PATHS:
                sys.path.insert(0, p)
                _ARTIFACT_PATHS.append(p)
        _CURRENT[0] = paths


class SparkFunction:
    """A PySpark function as quarry's UDF machinery calls it (see the module docstring).

    Holds pyspark's pickled command (unpickled where it runs, on first call) and adapts the
    call: iterator forms get an iterator over the one batch or group they are given, grouped
    maps get their key, cogrouped maps their two sides, and results are made quarry's shapes
    (a table of the declared columns, by name or by position as in Spark).
    """

    def __init__(self, name: str, command: bytes, eval_type: int, n_args: int = 0, schema: pa.Schema | None = None,
                 keys: int = 0, sides: tuple = (), paths: tuple[str, ...] = ()):
        self.__name__ = name
        self.command = command
        self.eval_type = eval_type
        self.n_args = n_args
        self.schema = schema            # the declared output of a whole-table function
        self.keys = keys                # grouped maps: how many hidden key columns lead the input
        self.sides = sides              # cogrouped maps: (left names, right names)
        self.paths = paths              # the session's artifact directories (pyfiles, archives)
        self.key_shown = True           # False: the one key column is a constant (groupBy() without keys)
        self._func = None
        self._with_key = None

    def semantic_key(self) -> tuple:
        """What makes two of these the same function for ``sameSemantics`` (Spark compares a Python UDF by
        its pickled command): the command's digest, the eval type, the argument count, schema and keys."""
        import hashlib
        return (self.__name__, hashlib.blake2b(self.command, digest_size=16).hexdigest(), self.eval_type,
                self.n_args, str(self.schema), self.keys, self.sides)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_func"] = state["_with_key"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    @property
    def func(self):
        if self.paths != _CURRENT[0]:
            _use_paths(self.paths)
        if self._func is None:
            with _LOAD_LOCK:
                if self._func is None:
                    # a worker process is no Spark Connect client, but what the function refers to
                    # (pyspark.sql.connect.functions, say) imports only in Connect mode
                    os.environ.setdefault("SPARK_CONNECT_MODE_ENABLED", "1")
                    from pyspark.serializers import CloudPickleSerializer
                    func, _ = CloudPickleSerializer().loads(self.command)
                    self._func = func
        return self._func

    def _takes_key(self, plain: int) -> bool:
        """Whether a grouped function takes the group key first (Spark: one more positional parameter)."""
        if self._with_key is None:
            try:
                params = [p for p in inspect.signature(self.func).parameters.values()
                          if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                self._with_key = len(params) == plain + 1
            except (TypeError, ValueError):
                self._with_key = False
        return self._with_key

    # -- the call -----------------------------------------------------------------------------

    def __call__(self, *args):
        kind = self.eval_type
        func = self.func
        if kind in (BATCHED, ARROW_BATCHED):
            return func(*args)
        if kind in _SCALAR:
            if kind in _ITERATORS:
                batch = args[0] if len(args) == 1 else tuple(args)
                out = _concat(list(func(iter([batch]))), kind == SCALAR_PANDAS_ITER)
            else:
                out = func(*args)
            return _struct_from_frame(out)
        if kind in _AGGREGATE:
            if kind in _ITERATORS:
                return func(iter([args[0] if len(args) == 1 else tuple(args)]))
            return func(*args)
        if kind in _MAP:
            return self._map(func, args[0])
        if kind in _GROUP_MAP:
            return self._group(func, args[0])
        if kind in _COGROUP_MAP:
            return self._cogroup(func, args[0])
        raise AssertionError(kind)

    def python_values(self, arrays: list) -> list[list]:
        """The Python values a row-at-a-time UDF gets, as PySpark's worker gives them: a struct as a
        ``Row``, a map as a ``dict`` (Arrow's are dicts and lists of pairs), nested ones too."""
        return [_spark_values(a.to_pylist(), a.type) if _needs_conversion(a.type) else a.to_pylist()
                for a in arrays]

    def _map(self, func, batch):
        pandas = self.eval_type == MAP_PANDAS_ITER
        return self._table(list(func(iter([batch]))), pandas)

    def _group(self, func, piece):
        pandas = self.eval_type in (GROUPED_MAP_PANDAS, GROUPED_MAP_PANDAS_ITER)
        key, data = self._split_key(piece, pandas)
        if self.eval_type in _ITERATORS:
            batches = iter([data] if pandas else data.to_batches() or [pa.RecordBatch.from_pylist([], schema=data.schema)])
            out = list(func(key, batches) if self._takes_key(1) else func(batches))
            return self._table(out, pandas)
        out = func(key, data) if self._takes_key(1) else func(data)
        return self._table([out], pandas)

    def _cogroup(self, func, piece):
        pandas = self.eval_type == COGROUPED_MAP_PANDAS
        key, data = self._split_key(piece, pandas)
        left_names, right_names = self.sides
        nl = len(left_names)
        if pandas:
            side = data[_SIDE].to_numpy()
            rest = data.drop(columns=[_SIDE])
            left = rest[side == 0].iloc[:, :nl].reset_index(drop=True)
            right = rest[side == 1].iloc[:, nl:].reset_index(drop=True)
            left.columns, right.columns = list(left_names), list(right_names)
        else:
            import pyarrow.compute as pc
            side = data.column(_SIDE)
            rest = data.drop_columns([_SIDE])
            left = rest.filter(pc.equal(side, 0)).select(list(range(nl))).rename_columns(list(left_names))
            right = rest.filter(pc.equal(side, 1)).select(list(range(nl, nl + len(right_names)))) \
                .rename_columns(list(right_names))
        out = func(key, left, right) if self._takes_key(2) else func(left, right)
        return self._table([out], pandas)

    def _split_key(self, piece, pandas: bool):
        """The group key (a tuple, as Spark gives it) and the group's rows without the hidden key columns."""
        if not self.keys:
            return (), piece
        names = [f"{_KEY}{i}" for i in range(self.keys)]
        if pandas:
            key = tuple(piece[n].iloc[0] for n in names) if len(piece) else (None,) * self.keys
            return (key if self.key_shown else ()), piece.drop(columns=names)
        key = tuple(piece.column(n)[0] for n in names) if piece.num_rows else (None,) * self.keys
        return (key if self.key_shown else ()), piece.drop_columns(names)

    def _table(self, outs: list, pandas: bool) -> pa.Table:
        """What a whole-table function returned (DataFrames, Tables or RecordBatches), as one table of
        the declared columns: by name when the result names them all, else by position (Spark's rule)."""
        schema = self.schema
        tables = []
        for out in outs:
            if pandas:
                if not type(out).__module__.startswith("pandas") or not hasattr(out, "columns"):
                    raise TypeError(f"the function returned a {type(out).__name__}, not a pandas.DataFrame")
                labels = list(out.columns)
                if not labels and len(out) == 0:
                    continue                  # an empty DataFrame without columns: no rows (as Spark allows)
                if all(isinstance(c, str) for c in labels) and set(schema.names) <= set(labels):
                    out = out[list(schema.names)]
                elif len(labels) != len(schema):
                    raise ValueError(f"the returned pandas.DataFrame has {len(labels)} columns, "
                                     f"the declared schema {len(schema)} ({', '.join(schema.names)})")
                columns = [pa.Array.from_pandas(out.iloc[:, i]) for i in range(len(schema))]
                table = pa.Table.from_arrays(columns, names=schema.names)
            else:
                if isinstance(out, pa.RecordBatch):
                    out = pa.Table.from_batches([out])
                if not isinstance(out, pa.Table):
                    raise TypeError(f"the function returned a {type(out).__name__}, not a pyarrow "
                                    "RecordBatch or Table")
                names = out.column_names
                if set(schema.names) <= set(names):
                    out = out.select(list(schema.names))
                elif len(names) != len(schema):
                    raise ValueError(f"the returned table has {len(names)} columns, the declared schema "
                                     f"{len(schema)} ({', '.join(schema.names)})")
                table = out.rename_columns(list(schema.names))
            tables.append(table)
        if not tables:
            return schema.empty_table()
        tables = [t.cast(schema) if t.schema != schema else t for t in tables] if len(tables) > 1 else tables
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def __repr__(self) -> str:
        return f"<PySpark function {self.__name__} ({_eval_name(self.eval_type)})>"


def _needs_conversion(t: pa.DataType) -> bool:
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return True
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _needs_conversion(t.value_type)
    return False


def _spark_values(values: list, t: pa.DataType) -> list:
    """``values`` (``to_pylist`` of type ``t``) with structs as Rows and maps as dicts."""
    if not _needs_conversion(t):
        return values
    if pa.types.is_struct(t):
        from pyspark.sql.types import _create_row
        names = [f.name for f in t]
        fields = [_spark_values([None if v is None else v[n] for v in values], f.type) if _needs_conversion(f.type)
                  else None for n, f in zip(names, t)]
        out = []
        for i, v in enumerate(values):
            if v is None:
                out.append(None)
                continue
            out.append(_create_row(names, [fields[j][i] if fields[j] is not None else v[n]
                                           for j, n in enumerate(names)]))
        return out
    if pa.types.is_map(t):
        convert_keys, convert_items = _needs_conversion(t.key_type), _needs_conversion(t.item_type)
        out = []
        for v in values:
            if v is None:
                out.append(None)
                continue
            keys = [k for k, _ in v]
            items = [x for _, x in v]
            if convert_keys:
                keys = _spark_values(keys, t.key_type)
            if convert_items:
                items = _spark_values(items, t.item_type)
            out.append(dict(zip(keys, items)))
        return out
    return [None if v is None else _spark_values(v, t.value_type) for v in values]


def _concat(outs: list, pandas: bool):
    if pandas:
        import pandas as pd
        if not outs:
            return pd.Series([], dtype=object)
        return pd.concat(outs, ignore_index=True) if len(outs) > 1 else outs[0]
    if not outs:
        return pa.array([])
    arrays = [o.combine_chunks() if isinstance(o, pa.ChunkedArray) else o for o in outs]
    return pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]


def _struct_from_frame(out):
    """A pandas UDF declared to return a struct returns a DataFrame: its columns become the struct's fields."""
    if type(out).__module__.startswith("pandas") and hasattr(out, "columns"):
        return pa.StructArray.from_arrays([pa.Array.from_pandas(out.iloc[:, i]) for i in range(out.shape[1])],
                                          names=[str(c) for c in out.columns])
    return out


# ---------------------------------------------------------------------------- planning


def _python_udf(f, what: str):
    """The PythonUDF of a CommonInlineUserDefinedFunction, or the refusal of what it is instead."""
    kind = f.WhichOneof("function")
    if kind != "python_udf":
        raise not_supported(f"{'Scala' if kind == 'scalar_scala_udf' else 'Java'} UDFs (`{f.function_name}`)")
    if any(a.WhichOneof("expr_type") == "named_argument_expression" for a in f.arguments):
        raise not_supported(f"named arguments of the Python UDF `{f.function_name}`")
    here = "%d.%d" % sys.version_info[:2]
    if f.python_udf.python_ver and f.python_udf.python_ver != here:
        # pickled code objects load only in the Python version that made them
        raise SparkError(f"the Python UDF `{f.function_name}` comes from Python {f.python_udf.python_ver}, "
                         f"the server's workers run Python {here}: run the client on Python {here}",
                         error_class="PYTHON_VERSION_MISMATCH", exception="PythonException")
    return f.python_udf


def _check_python(state, name: str) -> None:
    """Refuse a client's Python code where the server does not allow it (see ``serve(python_role=...)``)."""
    check = getattr(state, "check_python", None)
    if check is not None:
        check(name)


def _returns(py, time_zone: str) -> pa.DataType:
    from quarry.spark.types import to_arrow
    t = to_arrow(py.output_type, time_zone)
    return _zone_free_type(t)


def _zone_free_type(t: pa.DataType) -> pa.DataType:
    """quarry computes timestamps without a zone (see docs/spark.md)."""
    if pa.types.is_timestamp(t) and t.tz is not None:
        return pa.timestamp("us")
    if pa.types.is_struct(t):
        return pa.struct([pa.field(t.field(i).name, _zone_free_type(t.field(i).type), t.field(i).nullable)
                          for i in range(t.num_fields)])
    if pa.types.is_list(t):
        return pa.list_(pa.field("element", _zone_free_type(t.value_type), t.value_field.nullable))
    return t


def _safe_name(name: str) -> str:
    """A quarry function name for a PySpark UDF: an identifier, never a built-in's name."""
    from quarry.logical.functions import BUILTINS
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name).strip("_") or "udf"
    if cleaned[0].isdigit():
        cleaned = "udf_" + cleaned
    if cleaned == "lambda":
        cleaned = "lambda_udf"
    if BUILTINS.get(cleaned.lower()) is not None:
        cleaned = "udf_" + cleaned
    return cleaned.lower()


def user_function(state, f, n_args: int):
    """The quarry :class:`~quarry.api.udf.UserFunction` of a scalar or aggregate PySpark UDF."""
    from quarry.api.udf import UserFunction
    from quarry.logical import udf as U
    from quarry.logical.functions import Nulls, Volatility
    py = _python_udf(f, "a UDF")
    eval_type = py.eval_type
    if eval_type in _SCALAR:
        kind, style = "scalar", _SCALAR[eval_type]
    elif eval_type in _AGGREGATE:
        kind, style = "aggregate", _AGGREGATE[eval_type]
    else:
        raise not_supported(f"the Python UDF `{f.function_name}` of type {_eval_name(eval_type)} as a column "
                            "expression")
    _check_python(state, f.function_name)
    func = SparkFunction(f.function_name, py.command, eval_type, n_args, paths=_paths(state))
    fdef = U.PythonFunction(_safe_name(f.function_name), kind, None, n_args, n_args,
                            volatility=Volatility.IMMUTABLE if f.deterministic else Volatility.VOLATILE,
                            nulls=Nulls.TOLERANT, func=func, style=style,
                            returns=_returns(py, state.time_zone), arg_types=None, result_nullable=True,
                            null_calls=style == "row")
    return UserFunction(fdef)


def _paths(state) -> tuple[str, ...]:
    paths = getattr(state, "python_paths", None)
    return tuple(paths()) if callable(paths) else ()


def udf_expression(translator, f):
    """A ``CommonInlineUserDefinedFunction`` in an expression: the column and Spark's name for it
    (``plus_one(x)``). ``translator`` is the :class:`~quarry.spark.expressions.ExpressionTranslator`."""
    from quarry.spark.expressions import Translated
    state = getattr(translator, "state", None)
    if state is None:
        raise not_supported(f"the Python UDF `{f.function_name}` here")
    args = [translator.translate(a) for a in f.arguments]
    function = user_function(state, f, len(args))
    column = function(*[a.column for a in args])
    return Translated(column, f"{f.function_name}({', '.join(a.name for a in args)})")


def register(state, f) -> None:
    """``spark.udf.register(name, f)``: the function, callable by name from ``spark.sql`` and ``expr``."""
    py = _python_udf(f, "a registered UDF")
    if py.eval_type not in _SCALAR and py.eval_type not in _AGGREGATE:
        raise not_supported(f"registering a function of type {_eval_name(py.eval_type)}")
    # the argument count is not sent: any count is accepted, the function itself checks
    from dataclasses import replace
    from quarry.api.udf import UserFunction
    from quarry.logical import udf as U
    name = f.function_name
    if not name.isidentifier():
        raise SparkError(f"`{name}` is not a valid function name", error_class="INVALID_FUNCTION_NAME")
    function = user_function(state, f, 0)
    definition = replace(function.definition, name=U.check_name(name, "spark.udf.register"), bind=None,
                         min_args=0, max_args=None)
    state.session.register_function(name, UserFunction(definition))


def registered_call(translator, f):
    """``F.call_udf("name", ...)`` of a function the session registered: its Column, or None."""
    state = getattr(translator, "state", None)
    if state is None:
        return None
    from quarry.api.udf import UserFunction
    from quarry.logical.udf import PythonFunction
    definition = state.session.functions.functions.get(f.function_name.lower())
    if not isinstance(definition, PythonFunction):
        return None
    return UserFunction(definition)(*[translator.column(a) for a in f.arguments])


# ---------------------------------------------------------------------------- relations


def _table_function(state, f, style_table: dict, what: str, schema: pa.Schema, **extra) -> SparkFunction:
    py = _python_udf(f, what)
    if py.eval_type not in style_table:
        raise not_supported(f"{what} with a function of type {_eval_name(py.eval_type)}")
    _check_python(state, f.function_name)
    return SparkFunction(f.function_name, py.command, py.eval_type, schema=schema, paths=_paths(state), **extra)


def _output_schema(state, f) -> pa.Schema:
    from quarry.spark.types import schema_to_arrow
    schema = schema_to_arrow(f.python_udf.output_type, state.time_zone)
    return pa.schema([pa.field(x.name, _zone_free_type(x.type), True) for x in schema])


def map_partitions(translator, m):
    """``mapInPandas`` / ``mapInArrow``: the function over each batch of the input."""
    if m.is_barrier:
        raise not_supported("barrier mode (mapInPandas(..., barrier=True))")
    state = translator.state
    df = translator.translate(m.input)
    schema = _output_schema(state, m.func)
    fn = _table_function(state, m.func, _MAP, "mapInPandas/mapInArrow", schema)
    return df.map_batches(fn, schema=schema, kind=_MAP[fn.eval_type])


def _with_keys(translator, df, key_exprs):
    """``df`` with the grouping expressions as hidden columns after its own."""
    keys = [translator.expressions.column(e).alias(f"{_KEY}{i}") for i, e in enumerate(key_exprs)]
    return df.select("*", *keys) if keys else df


def group_map(translator, g):
    """``groupBy(...).applyInPandas`` / ``applyInArrow``: the function over each group."""
    if g.is_map_groups_with_state or g.HasField("initial_input") or g.sorting_expressions:
        raise not_supported("flatMapGroupsWithState, transformWithState and sorted grouped maps")
    state = translator.state
    df = translator.translate(g.input)
    schema = _output_schema(state, g.func)
    n = len(g.grouping_expressions)
    fn = _table_function(state, g.func, _GROUP_MAP, "applyInPandas/applyInArrow", schema, keys=n)
    keyed = _with_keys(translator, df, g.grouping_expressions)
    keys = [f"{_KEY}{i}" for i in range(n)]
    if not n:
        # groupBy() without keys: one group of every row, grouped by a constant the function never sees
        keyed, keys = _constant_key(keyed, fn)
    return keyed.group_by(*keys).apply(fn, schema=schema, kind=_GROUP_MAP[fn.eval_type])


def _constant_key(df, fn: SparkFunction):
    from quarry.api.column import lit
    fn.keys, fn.key_shown = 1, False
    return df.select("*", lit(0).alias(f"{_KEY}0")), [f"{_KEY}0"]


def cogroup_map(translator, c):
    """``df1.groupBy(k).cogroup(df2.groupBy(k)).applyInPandas/applyInArrow``: the function over each key's
    rows of both sides. Both sides become one relation (a side tag, the keys, the left columns and the
    right columns, NULL on the other side's rows), grouped by the keys and split again in the worker."""
    from quarry.api.column import col, lit
    if c.input_sorting_expressions or c.other_sorting_expressions:
        raise not_supported("sorted cogrouped maps")
    if len(c.input_grouping_expressions) != len(c.other_grouping_expressions):
        raise SparkError("cogroup needs as many grouping columns on both sides",
                         error_class="COGROUP_KEYS_MISMATCH")
    state = translator.state
    left = translator.translate(c.input)
    right = translator.translate(c.other)
    n = len(c.input_grouping_expressions)
    lkeyed = _with_keys(translator, left, c.input_grouping_expressions)
    rkeyed = _with_keys(translator, right, c.other_grouping_expressions)
    lnames, rnames = list(left.columns), list(right.columns)
    lschema, rschema, kschema = left.schema, right.schema, lkeyed.schema
    schema = _output_schema(state, c.func)
    fn = _table_function(state, c.func, _COGROUP_MAP, "cogroup().applyInPandas/applyInArrow", schema, keys=n,
                         sides=(tuple(lnames), tuple(rnames)))
    keys = [f"{_KEY}{i}" for i in range(n)]
    ltypes = {k: kschema.field(k).type for k in keys}
    lcols = [col(f"{_KEY}{i}") for i in range(n)] + [lkeyed[lnames[j]].alias(f"__l{j}")
                                                     for j in range(len(lnames))]
    lcols += [lit(None, rschema.field(j).type).alias(f"__r{j}") for j in range(len(rnames))]
    rcols = [rkeyed[k].cast(ltypes[k]).alias(k) for k in keys]
    rcols += [lit(None, lschema.field(j).type).alias(f"__l{j}") for j in range(len(lnames))]
    rcols += [rkeyed[rnames[j]].alias(f"__r{j}") for j in range(len(rnames))]
    both = lkeyed.select(lit(0).alias(_SIDE), *lcols).union(rkeyed.select(lit(1).alias(_SIDE), *rcols))
    if not n:
        both, keys = _constant_key(both, fn)
    return both.group_by(*keys).apply(fn, schema=schema, kind=_COGROUP_MAP[fn.eval_type])
