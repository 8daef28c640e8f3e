"""Run Python UDFs over Arrow data: hand the batch over whole, check what comes back.

Each style gets the arguments of a whole batch at once:

* ``arrow``: ``pa.Array`` per argument (as evaluated, zero-copy);
* ``pandas``: ``pd.Series`` per argument (``Array.to_pandas``: zero-copy for numbers without NULLs);
* ``numpy``: ``np.ndarray`` per argument (``Array.to_numpy``: zero-copy for numbers without NULLs;
  NULLs become NaN for numbers, None in an object array otherwise);
* ``row``: one Python value per argument and row, from ``to_pylist()`` of the batch, in one list
  comprehension. A row with a NULL argument gives NULL without calling the function (unless the
  definition says ``null_calls``, as PySpark's ``udf`` does: then it gets None). The only
  per-value path, and the slow one.

The result must have one value per row; it is converted to Arrow and, if its type is not the
declared one, cast safely (``int64`` to ``double`` yes, ``double`` 1.5 to ``bigint`` no). A wrong
length, a failed cast, or NULLs where the declaration says ``nullable=False`` raise a
:class:`~quarry.errors.UDFError` naming the UDF; an exception inside the function becomes one
too, with the user's own frames of the traceback (quarry's are left out). A UDFError is an
ordinary task failure: the scheduler fails the query at once and retries nothing (only a worker
process that died is retried).

The rows a UDF saw and the seconds it took are added to the metrics of the operator that
evaluates it (``RUNNING``), which EXPLAIN ANALYZE prints as ``name.rows`` and ``name.time_ms``.
"""

from __future__ import annotations

import os
import threading
import time
import traceback

import numpy as np
import pyarrow as pa

from quarry.errors import QuarryError, UDFError
from quarry.logical import types as T

_QUARRY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_local = threading.local()


# ------------------------------------------------------------------------ metrics

# The operator whose batch is being computed on this thread (set by ExecNode.execute): a UDF's rows
# and time go to its metrics, whatever evaluates the UDF (a projection, a filter, an aggregate's argument).
RUNNING = threading.local()


def _record(name: str, rows: int, seconds: float) -> None:
    node = getattr(RUNNING, "node", None)
    if node is not None:
        node.add_metric(f"{name}.rows", rows)
        node.add_metric(f"{name}.time_ms", seconds * 1000)


# ------------------------------------------------------------------------ errors


def user_frames(exc: BaseException) -> str:
    """The traceback of ``exc`` without quarry's own frames: what the user's code did."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_QUARRY_DIR + os.sep)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def raised(name: str, exc: BaseException) -> UDFError:
    """The UDFError for an exception raised inside the UDF ``name``."""
    frames = user_frames(exc)
    return UDFError(f"UDF `{name}` raised {type(exc).__name__}: {exc}\n"
                    f"Traceback of the UDF (most recent call last):\n{frames}",
                    hint="fix the function; the query was stopped, nothing was retried", subject=name)


def call_user(name: str, func, args):
    """``func(*args)``, its exceptions as UDFErrors."""
    try:
        return func(*args)
    except QuarryError:
        raise
    except Exception as exc:
        raise raised(name, exc) from None


# ------------------------------------------------------------------------ arguments


def to_array(value, n: int) -> pa.Array:
    if isinstance(value, pa.Scalar):
        return pa.array([value.as_py()] * n, value.type) if n else pa.array([], value.type)
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks() if value.num_chunks != 1 else value.chunk(0)
    return value


def as_style(array: pa.Array, style: str):
    """One argument as the function's style wants it (arrow, pandas, numpy)."""
    if style == "arrow":
        return array
    if style == "pandas":
        return array.to_pandas()
    if style == "numpy":
        return array.to_numpy(zero_copy_only=False)
    raise AssertionError(style)


# ------------------------------------------------------------------------ results


def to_arrow_result(name: str, out, returns: pa.DataType, n: int | None, what: str = "values") -> pa.Array:
    """The function's result as an Arrow array of type ``returns`` (cast safely), ``n`` long if given."""
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    if not isinstance(out, pa.Array):
        if isinstance(out, pa.Scalar) or np.isscalar(out) or out is None:
            raise UDFError(f"UDF `{name}` returned one value ({type(out).__name__}), not one value per row",
                           hint="return an array as long as the arguments", subject=name)
        try:
            if type(out).__module__.startswith("pandas") and isinstance(getattr(out, "dtype", None), np.dtype) \
                    and out.dtype.kind in "biuf":
                # a numpy-backed Series of numbers: far faster than Array.from_pandas (NaN is NULL in both)
                values = out.to_numpy()
                nan = np.isnan(values) if values.dtype.kind == "f" else None
                out = pa.array(values, mask=nan) if nan is not None and nan.any() else pa.array(values)
            elif hasattr(out, "__arrow_array__") or type(out).__module__.startswith("pandas"):
                out = pa.Array.from_pandas(out)
            elif isinstance(out, np.ndarray):
                out = pa.array(out) if out.ndim == 1 else _bad_shape(name, out)
            else:
                out = pa.array(out, type=returns)
        except QuarryError:
            raise
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
            raise UDFError(f"UDF `{name}` returned {what} that are not {T.sql_name(returns)}: {exc}",
                           hint=f"return {T.sql_name(returns)} values, or declare returns= to match",
                           subject=name) from None
    if n is not None and len(out) != n:
        raise UDFError(f"UDF `{name}` returned {len(out)} {what} for {n} rows",
                       hint="a scalar UDF returns one value per input row", subject=name)
    if out.type != returns:
        try:
            out = out.cast(returns, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise UDFError(f"UDF `{name}` returned {T.sql_name(out.type)}, declared {T.sql_name(returns)}, "
                           f"and the values do not convert: {exc}",
                           hint=f"return {T.sql_name(returns)} values, or declare returns= to match",
                           subject=name) from None
    return out


def _bad_shape(name, out):
    raise UDFError(f"UDF `{name}` returned an array of shape {out.shape}, not one value per row", subject=name)


def check_nulls(fdef, out: pa.Array) -> pa.Array:
    if not fdef.result_nullable and out.null_count:
        raise UDFError(f"UDF `{fdef.name}` returned {out.null_count} NULLs, but is declared nullable=False",
                       hint="return a value for every row, or declare the UDF nullable", subject=fdef.name)
    return out


# ------------------------------------------------------------------------ scalar UDFs


def evaluate_udf(call, args: list, n: int) -> pa.Array:
    """The values of the scalar UDF ``call`` (a UDFCall) on evaluated ``args`` over ``n`` rows."""
    fdef = call.function
    arrays = [to_array(a, n) for a in args]
    start = time.perf_counter()
    if fdef.style == "row":
        out = _run_rows(fdef, arrays, n)
    else:
        out = call_user(fdef.name, fdef.func, [as_style(a, fdef.style) for a in arrays])
    result = check_nulls(fdef, to_arrow_result(fdef.name, out, call.type, n))
    _record(fdef.name, n, time.perf_counter() - start)
    return result


def _run_rows(fdef, arrays: list[pa.Array], n: int) -> list:
    """One call per row (NULL in, NULL out), in one comprehension over the batch's Python values."""
    func = fdef.func
    # a front end's own Python values (a PySpark UDF takes a struct as a Row and a map as a dict)
    python_values = getattr(func, "python_values", None)
    columns = python_values(arrays) if python_values is not None else [a.to_pylist() for a in arrays]
    has_nulls = not fdef.null_calls and any(a.null_count for a in arrays)
    try:
        if not columns:
            return [func() for _ in range(n)]
        if len(columns) == 1:
            col = columns[0]
            if has_nulls:
                return [None if v is None else func(v) for v in col]
            return [func(v) for v in col]
        if has_nulls:
            return [None if None in row else func(*row) for row in zip(*columns)]
        return [func(*row) for row in zip(*columns)]
    except Exception as exc:
        raise raised(fdef.name, exc) from None


# ------------------------------------------------------------------------ aggregate UDFs


def aggregate_slices(fdef, arrays: list[pa.Array], starts: np.ndarray, ends: np.ndarray,
                     returns: pa.DataType) -> pa.Array:
    """The aggregate UDF ``fdef`` over the rows ``[starts[i], ends[i])`` of ``arrays``: one value per slice.

    ``arrays`` hold the rows with each group's rows next to each other; each call gets zero-copy
    slices (Arrow slices, pandas ``iloc`` views, numpy views).
    """
    func, style = fdef.func, fdef.style
    if style == "pandas":
        whole = [a.to_pandas() for a in arrays]
        def piece(i, a, b): return whole[i].iloc[a:b]  # noqa: E704
    elif style == "numpy":
        whole = [a.to_numpy(zero_copy_only=False) for a in arrays]
        def piece(i, a, b): return whole[i][a:b]  # noqa: E704
    else:
        def piece(i, a, b): return arrays[i].slice(a, b - a)  # noqa: E704
    start = time.perf_counter()
    out = []
    try:
        for a, b in zip(starts.tolist(), ends.tolist()):
            if a >= b:
                out.append(None)          # an empty frame: NULL, as for the built-in aggregates
                continue
            value = func(*[piece(i, a, b) for i in range(len(arrays))])
            out.append(value.as_py() if isinstance(value, pa.Scalar) else
                       value.item() if isinstance(value, np.generic) else value)
    except QuarryError:
        raise
    except Exception as exc:
        raise raised(fdef.name, exc) from None
    result = check_nulls(fdef, to_arrow_result(fdef.name, out, returns, len(starts), "results"))
    _record(fdef.name, int((ends - starts).sum()) if len(starts) else 0, time.perf_counter() - start)
    return result


def udaf_positions(agg, table) -> pa.Array:
    """Row positions of ``table`` for a UDAFCall's grouped ``list``: NULL where its FILTER is not TRUE."""
    from quarry.compute.expr_eval import evaluate_predicate
    positions = pa.array(np.arange(table.num_rows, dtype=np.int64))
    if agg.filter is None:
        return positions
    mask = evaluate_predicate(agg.filter, table)
    if isinstance(mask, bool):
        return positions if mask else pa.nulls(table.num_rows, pa.int64())
    import pyarrow.compute as pc
    return pc.if_else(mask, positions, pa.scalar(None, pa.int64()))


def grouped_udaf(agg, table, index_lists) -> pa.Array:
    """A UDAFCall over groups given as lists of row positions of ``table`` (one list per group, from
    Arrow's grouped ``list`` aggregate; a NULL position is a row FILTER left out)."""
    import pyarrow.compute as pc
    from quarry.compute.expr_eval import evaluate_array
    lists = index_lists.combine_chunks() if isinstance(index_lists, pa.ChunkedArray) else index_lists
    flat = pc.list_flatten(lists)
    parents = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
    keep = np.asarray(flat.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    positions = flat.filter(pa.array(keep)) if not keep.all() else flat
    parents = parents[keep]
    groups = len(lists)
    counts = np.bincount(parents, minlength=groups) if len(parents) else np.zeros(groups, dtype=np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    args = [to_array(evaluate_array(a, table), table.num_rows).take(positions) for a in agg.args]
    return aggregate_slices(agg.function, args, starts, ends, agg.type)


# ------------------------------------------------------------------------ table steps


def table_result(step, out, n_hint: str) -> pa.Table:
    """What a map_batches / grouped-map / table function returned, as a table of ``step.schema``."""
    name = step.name
    if isinstance(out, pa.RecordBatch):
        out = pa.Table.from_batches([out])
    elif not isinstance(out, pa.Table):
        if type(out).__module__.startswith("pandas"):
            out = pa.Table.from_pandas(out, preserve_index=False)
        elif isinstance(out, dict):
            try:
                out = pa.table(out)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
                raise UDFError(f"function `{name}` returned columns that do not make a table: {exc}",
                               subject=name) from None
        else:
            raise UDFError(f"function `{name}` returned a {type(out).__name__}, not a table",
                           hint=f"return {n_hint}", subject=name)
    schema = step.schema
    missing = [f.name for f in schema if f.name not in out.column_names]
    if missing:
        raise UDFError(f"function `{name}` returned columns ({', '.join(out.column_names)}) without "
                       f"{', '.join(missing)} of its declared schema", hint="return every declared column",
                       subject=name)
    cols = []
    for f in schema:
        col = out.column(f.name)
        if col.type != f.type:
            try:
                col = col.cast(f.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise UDFError(f"function `{name}` returned column `{f.name}` as {T.sql_name(col.type)}, "
                               f"declared {T.sql_name(f.type)}, and the values do not convert: {exc}",
                               subject=name) from None
        cols.append(col)
    return pa.Table.from_arrays(cols, names=schema.names)


def table_argument(table: pa.Table, style: str):
    if style == "pandas":
        return table.to_pandas()
    return table
