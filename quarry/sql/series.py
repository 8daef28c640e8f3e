"""The ``range`` and ``generate_series`` table functions, with DuckDB's meaning.

``range(stop)``, ``range(start, stop[, step])`` give BIGINTs from ``start`` (default 0) by ``step``
(default 1) up to but excluding ``stop``; ``generate_series`` takes the same arguments and includes
``stop``. With a DATE or TIMESTAMP ``start`` and ``stop`` and an INTERVAL ``step`` they give
TIMESTAMPs. The one column is named after the function (``range``, ``generate_series``). A NULL
argument gives no rows; a zero step is an error. The arguments are constants (they are evaluated
once, when the statement is bound) and the rows are computed with numpy, not row by row.

    >>> import quarry
    >>> quarry.connect(workers=0).sql("SELECT * FROM range(1, 7, 2)").to_arrow().column(0).to_pylist()
    [1, 3, 5]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sqlglot import exp

from quarry.catalog.providers import MemoryTable
from quarry.compute.expr_eval import evaluate
from quarry.errors import BindError, DataError, QuarryTypeError, UnsupportedError
from quarry.logical import types as T
from quarry.logical.builder import scan_of
from quarry.sql.expr_binder import ExprBinder
from quarry.sql.scope import Scope

# the most rows one call makes (they are held in memory)
MAX_ROWS = 100_000_000
_ONE_ROW = pa.record_batch([pa.array([None], pa.null())], names=["__one"])


def series_scan(binder, node: exp.GenerateSeries, scope: Scope | None = None):
    """The scan of the rows ``range(...)`` / ``generate_series(...)`` gives, and its default alias.

    With arguments that read earlier FROM items (``FROM t, range(t.n)``, a lateral call) the plan
    is instead an unnest of a per-row list of integers, which the lateral join then runs for each
    row of those items."""
    name = "range" if node.args.get("is_end_exclusive") else "generate_series"
    args = [node.args.get(k) for k in ("start", "end", "step")]
    if node.args.get("end") is None:
        raise BindError(f"{name}() needs a stop value", hint=f"e.g. {name}(10) or {name}(1, 10, 2)")
    values = []
    eb = ExprBinder(binder, Scope())
    if scope is not None and scope.relations:
        try:
            for arg in args:
                if arg is not None:
                    eb.bind(arg)
        except BindError:
            return _lateral_series(binder, name, args, scope), name
    for arg in args:
        if arg is None:
            values.append(None)
            continue
        bound = eb.bind(arg)
        try:
            value = evaluate(bound, _ONE_ROW)
        except Exception as exc:        # noqa: BLE001 - a column reference or a non-constant
            raise UnsupportedError(f"{name}() with arguments that are not constants ({exc})",
                                   hint="its arguments must be constants") from None
        if not isinstance(value, pa.Scalar):
            value = value[0]
        values.append((bound.dtype, value))
    start, stop, step = values
    if any(v is not None and (T.is_temporal(v[0]) or v[0] == T.INTERVAL) for v in values):
        column = _timestamps(name, start, stop, step)
    else:
        column = _integers(name, start, stop, step)
    table = pa.table({name: column})
    return scan_of(MemoryTable(name, table)), name


def _lateral_series(binder, name: str, args, scope: Scope):
    """``range(t.a)`` reading another FROM item: unnest(series list of each row's arguments)."""
    from quarry.logical import builder as B
    from quarry.logical import functions as F
    from quarry.logical.expressions import Call, Field, Literal, new_id
    from quarry.logical.nested import UnnestExpr
    from quarry.logical.plan import Project, Values
    eb = ExprBinder(binder, scope.child())
    bound = [eb.bind(a) if a is not None else None for a in args]
    start, stop, step = bound
    if start is None:
        start = Literal(0, T.INT64)
    if step is None:
        step = Literal(1, T.INT64)
    parts = []
    for e in (start, stop, step):
        if not (T.is_integer(e.dtype) or T.is_null(e.dtype)):
            raise UnsupportedError(f"{name}() of {T.sql_name(e.dtype)} values that read another FROM item",
                                   hint="only BIGINT bounds may come from another FROM item")
        parts.append(e if e.dtype == T.INT64 else F.cast(e, T.INT64))
    series = Call("__" + name + "_list", tuple(parts), pa.list_(pa.int64()), True)
    one = Field("__one", T.BOOL, True, new_id())
    rows = Values(((Literal(None, T.BOOL),),), (one,))
    plan, refs = B.lift_unnests(rows, [UnnestExpr(series)])
    fields = [Field(name, T.INT64, True, new_id())]
    return Project(plan, tuple(refs), tuple(fields))


def _integers(name: str, start, stop, step) -> pa.Array:
    # an integer literal past BIGINT's positive end (-9223372036854775808) binds as DECIMAL(19,0)
    start, stop, step = (_whole_decimal(name, v) for v in (start, stop, step))
    for v in (start, stop, step):
        if v is not None and not (T.is_integer(v[0]) or T.is_null(v[0])):
            raise QuarryTypeError(f"{name}() takes BIGINT arguments (or TIMESTAMP, TIMESTAMP, INTERVAL), "
                                  f"not {T.sql_name(v[0])}", hint="CAST the argument to BIGINT")
    given = [v[1].as_py() for v in (start, stop, step) if v is not None]
    if any(g is None for g in given):
        return pa.array([], pa.int64())
    lo, hi = start[1].as_py(), stop[1].as_py()
    by = step[1].as_py() if step is not None else 1
    if by == 0:
        raise DataError(f"{name}() step cannot be 0")
    count = _count(name, hi - lo, by)
    return pa.array(np.int64(lo) + np.int64(by) * np.arange(count, dtype=np.int64))


def _whole_decimal(name: str, v):
    """``v`` as a BIGINT when it is a DECIMAL with no fraction digits; otherwise unchanged."""
    if v is None or not T.is_decimal(v[0]) or v[0].scale != 0:
        return v
    value = v[1].as_py()
    if value is not None and not -2 ** 63 <= value < 2 ** 63:
        raise DataError(f"{name}() argument {value} is out of BIGINT's range")
    return T.INT64, pa.scalar(None if value is None else int(value), pa.int64())


def _count(name: str, span: int, by: int) -> int:
    """How many values ``start + i * by`` lie before ``stop`` (``span = stop - start``): range excludes
    ``stop``, generate_series includes it."""
    inclusive = name == "generate_series"
    if (span > 0 and by < 0) or (span < 0 and by > 0):
        return 0
    if span == 0:
        return 1 if inclusive else 0
    count = abs(span) // abs(by) + (1 if inclusive else 0) if abs(span) % abs(by) == 0 else \
        abs(span) // abs(by) + 1
    if count > MAX_ROWS:
        raise UnsupportedError(f"{name}() of more than {MAX_ROWS:,} rows (this one has {count:,})",
                               hint="the rows of a table function are held in memory")
    return count


def _timestamps(name: str, start, stop, step) -> pa.Array:
    if step is None or stop is None:
        raise BindError(f"{name}() over dates or timestamps takes (start, stop, step INTERVAL)")
    for v, what in ((start, "start"), (stop, "stop")):
        if not (T.is_temporal(v[0]) or T.is_null(v[0])):
            raise QuarryTypeError(f"{name}() {what} must be a DATE or TIMESTAMP, not {T.sql_name(v[0])}")
        if pa.types.is_timestamp(v[0]) and v[0].tz is not None:
            raise UnsupportedError(f"{name}() over TIMESTAMP WITH TIME ZONE")
    if step[0] != T.INTERVAL and not T.is_null(step[0]):
        raise QuarryTypeError(f"{name}() over timestamps takes an INTERVAL step, not {T.sql_name(step[0])}")
    if not (start[1].is_valid and stop[1].is_valid and step[1].is_valid):
        return pa.array([], T.TIMESTAMP)
    lo = start[1].cast(T.TIMESTAMP).cast(pa.int64()).as_py()
    hi = stop[1].cast(T.TIMESTAMP).cast(pa.int64()).as_py()
    months, days, nanos = step[1].as_py()
    if months == 0:
        by = days * 86_400_000_000 + nanos // 1000
        if by == 0:
            raise DataError(f"{name}() step cannot be 0")
        count = _count(name, hi - lo, by)
        return pa.array(np.int64(lo) + np.int64(by) * np.arange(count, dtype=np.int64)).cast(T.TIMESTAMP)
    if days or nanos:
        raise UnsupportedError(f"{name}() with a step of months and days together",
                               hint="step by months or by days, not both")
    # whole months: the same day of the month (the month's last day when it is shorter) and time of day
    first = np.datetime64(lo, "us")
    month0 = first.astype("datetime64[M]")
    day = (first.astype("datetime64[D]") - month0.astype("datetime64[D]")).astype(np.int64)
    time_of_day = (first - first.astype("datetime64[D]")).astype(np.int64)
    span_months = (np.datetime64(hi, "us").astype("datetime64[M]") - month0).astype(np.int64)
    count = _count("generate_series", span_months, months) + 1
    k = np.arange(count, dtype=np.int64)
    month_starts = month0 + k * months
    month_days = ((month_starts + 1).astype("datetime64[D]") - month_starts.astype("datetime64[D]")).astype(np.int64)
    # each value is the one before plus the step (as DuckDB adds it), so a day cut short stays short
    day = np.minimum.accumulate(np.minimum(day, month_days - 1))
    values = (month_starts.astype("datetime64[D]") + day).astype("datetime64[us]") \
        + time_of_day
    values = values.astype(np.int64)
    keep = (values < hi if months > 0 else values > hi) if name == "range" else \
        (values <= hi if months > 0 else values >= hi)
    return pa.array(values[keep]).cast(T.TIMESTAMP)


__all__ = ["series_scan", "MAX_ROWS"]
