"""Window functions: ``WindowExec`` appends one column per ``func OVER (...)`` to its input rows.

The planner puts a hash Repartition on the PARTITION BY keys (or a Gather) below
this operator, so every input partition holds whole window partitions. One input
partition is computed like this, with Arrow and numpy doing all per-row work (no
Python loop over rows or over window partitions):

1. Window expressions sharing a (PARTITION BY, ORDER BY) spec are grouped, and
   the rows are sorted once per spec by the partition keys, then the order keys.
2. A :class:`_Layout` describes the sorted rows: where each window partition and
   each peer group (rows equal on ORDER BY) starts and ends. Boundaries come from
   comparing each key row with the previous one, NULL equal to NULL.
3. Each frame becomes two per-row index arrays, ``start`` and ``end`` (exclusive).
4. The functions are computed from those arrays:

   - ranking functions from positions (``rank`` = first peer, ``dense_rank`` =
     peer groups so far, ...), ``lag``/``lead``/``*_value`` by ``take``;
   - ``count``, ``bool_and``/``bool_or`` and integer/decimal ``sum``/``avg`` from
     prefix sums. Integer and decimal sums are exact: values are split into 32-bit
     limbs whose prefix sums cannot overflow, and the frame sum is reassembled
     (overflow is detected exactly, not wrapped);
   - ``min``/``max`` (on dense ranks, so any orderable type works), float sums,
     ``product`` and the variance family (Welford states merged pairwise) by
     *doubling*: every frame is covered by at most log2(width) disjoint
     power-of-two blocks, combined in O(n log w) vectorized steps;
   - DISTINCT aggregates, ``median``, ``string_agg`` and ``approx_count_distinct``
     only over the whole partition, by Arrow's grouped aggregation on the
     partition id, joined back by ``take``.

Rows leave in the sort order of the first spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import DataError, QuarryTypeError, UnsupportedError
from quarry.logical import types as T
from quarry.logical.expressions import (
    AggCall, Call, ColumnRef, Expr, Field, Literal, SortKey, WindowCall, WindowFrame,
)
from quarry.physical.aggregate import (
    HISTOGRAMS, ROW_AGGREGATES, HashAggregateExec, _aggregate_lists, _exact_median, distinct_positions,
    first_of_each_value,
    histogram_of, row_aggregate,
)
from quarry.compute.nested_kernels import build_list, sort_key
from quarry.physical.base import ExecNode, batches_of
from quarry.compute.expr_eval import evaluate, evaluate_array
from quarry.compute.kernels import cast_value, to_array
from quarry.compute.udf import aggregate_slices
from quarry.logical.udf import UDAFCall
from quarry.physical.operators import sort_indices

RANKING_FUNCTIONS = {"row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile"}
OFFSET_FUNCTIONS = {"lag", "lead", "lag_ignore_nulls", "lead_ignore_nulls"}
VALUE_FUNCTIONS = {"first_value", "last_value", "nth_value", "nth_value_ignore_nulls", "last_value_ignore_nulls"}
# Aggregates computed over any frame (prefix sums or doubling).
FRAMED_AGGREGATES = {"count", "count_star", "sum", "avg", "min", "max", "any_value", "bool_and", "bool_or",
                     "product", "var_samp", "var_pop", "stddev_samp", "stddev_pop", "array_agg"}
# Aggregates computed by grouped aggregation, so only over the whole window partition.
WHOLE_PARTITION_AGGREGATES = {"median", "string_agg", "approx_count_distinct", "histogram", "histogram_exact",
                              *ROW_AGGREGATES}
# For these, DISTINCT does not change the answer, so any frame works.
_DISTINCT_INSENSITIVE = {"min", "max", "any_value", "bool_and", "bool_or"}

_WHOLE_PARTITION_HINT = ("drop ORDER BY and the frame so the aggregate covers the whole partition, "
                         "or aggregate in a subquery grouped by the partition keys and join it back")


class WindowExec(ExecNode):
    """Append one column per window expression (``exprs[i]`` as ``fields[i]``) to the child's rows."""

    name = "Window"

    def __init__(self, child: ExecNode, exprs, fields):
        super().__init__([child], tuple(child.fields) + tuple(fields), child.partitions)
        self.exprs: tuple[WindowCall, ...] = tuple(exprs)
        self.window_fields: tuple[Field, ...] = tuple(fields)
        for w in self.exprs:
            check_window_call(w)
        self.metrics["sorts"] = 0

    def describe(self):
        return "Window: " + ", ".join(f"{w} AS {f.name}" for w, f in zip(self.exprs, self.window_fields))

    def _execute(self, partition, ctx):
        table = self.collect_child(self.children[0], partition, ctx)
        if table.num_rows == 0:
            return
        specs: dict[tuple, list[int]] = {}
        for i, w in enumerate(self.exprs):
            specs.setdefault(_spec_key(w), []).append(i)

        results: list[pa.Array | None] = [None] * len(self.exprs)
        first: _Layout | None = None
        for positions in specs.values():
            spec = self.exprs[positions[0]]
            layout = _Layout.build(table, spec.partition_by, spec.order_by)
            if layout.order is not None:
                self.metrics["sorts"] += 1
            to_first = None if first is None else first.reorder_from(layout)
            for i in positions:
                ctx.check_cancelled()
                column = compute_window(self.exprs[i], layout, table)
                column = cast_value(column, self.window_fields[i].dtype)
                results[i] = column if to_first is None else column.take(to_first)
            if first is None:
                first = layout

        rows = table if first.order is None else table.take(first.order_array)
        out = pa.Table.from_arrays(list(rows.columns) + results, schema=self.schema)
        yield from batches_of(out, ctx.config.batch_rows)


def _spec_key(w: WindowCall) -> tuple:
    """What decides the sort: expressions sharing this key are computed over one sorted copy."""
    key = (tuple(w.partition_by), tuple(w.order_by))
    try:
        hash(key)
    except TypeError:   # a literal holding a list or dict: give the expression its own sort
        return ("unshared", id(w))
    return key


def check_window_call(w: WindowCall) -> None:
    """Raise UnsupportedError, at planning time, for window expressions this operator cannot run."""
    func = w.func
    frame = w.frame or default_frame(bool(w.order_by))
    if frame.mode not in ("rows", "range"):
        raise UnsupportedError(f"{frame.mode.upper()} window frames are not supported", hint="use ROWS or RANGE")
    if frame.mode == "range" and (frame.start not in (None, 0) or frame.end not in (None, 0)):
        if len(w.order_by) != 1:
            raise UnsupportedError("a RANGE frame with offsets needs exactly one ORDER BY key",
                                   hint="order by one column, or use a ROWS frame")
        t = w.order_by[0].expr.dtype
        if pa.types.is_timestamp(t) and not frame.interval:
            raise QuarryTypeError(f"a RANGE frame over an ORDER BY key of type {T.sql_name(t)} takes interval "
                                  "bounds, not numbers",
                                  hint="write RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW in SQL, or "
                                       "order by the timestamp cast to seconds (CAST(ts AS BIGINT))")
        if frame.months and not (pa.types.is_timestamp(t) or pa.types.is_date(t)):
            raise QuarryTypeError(f"a RANGE frame with month bounds needs a DATE or TIMESTAMP ORDER BY key, not "
                                  f"{T.sql_name(t)}", hint="a number takes numbers as bounds: 1 PRECEDING")
        if frame.interval and not frame.months and not pa.types.is_timestamp(t):
            raise QuarryTypeError(f"a RANGE frame with interval bounds needs a TIMESTAMP ORDER BY key, not "
                                  f"{T.sql_name(t)}", hint="a date or a number takes numbers as bounds: 1 PRECEDING")
        if not (T.is_integer(t) or T.is_float(t) or T.is_decimal(t) or pa.types.is_date(t)
                or pa.types.is_timestamp(t)):
            raise UnsupportedError(f"a RANGE frame with offsets over an ORDER BY key of type {T.sql_name(t)}",
                                   hint="order by a number, a date or a timestamp, or use a ROWS frame")
    if isinstance(func, UDAFCall):
        if func.filter is not None:
            raise UnsupportedError(f"FILTER on the Python aggregate `{func.name}` over a window",
                                   hint="filter the rows in a subquery first")
        return
    if isinstance(func, AggCall):
        name = func.name
        if name not in FRAMED_AGGREGATES | WHOLE_PARTITION_AGGREGATES:
            raise UnsupportedError(f"aggregate `{name}` cannot be used as a window function",
                                   hint="compute it with GROUP BY and join the result back")
        if any(isinstance(x, SortKey) for x in func.args) and not (name == "array_agg" and func.distinct):
            raise UnsupportedError(f"{name}(... ORDER BY ...) as a window function",
                                   hint="aggregate with GROUP BY and join the result back")
        grouped = name in WHOLE_PARTITION_AGGREGATES or (func.distinct and name not in _DISTINCT_INSENSITIVE)
        if grouped and not covers_whole_partition(w):
            what = f"{name}(DISTINCT ...)" if func.distinct else f"{name}()"
            raise UnsupportedError(f"{what} over a window frame is only supported when the frame is the "
                                   "whole partition", hint=_WHOLE_PARTITION_HINT)
        return
    if isinstance(func, Call) and func.name in RANKING_FUNCTIONS | OFFSET_FUNCTIONS | VALUE_FUNCTIONS:
        if func.name in OFFSET_FUNCTIONS and not isinstance(func.args[1], Literal):
            raise UnsupportedError(f"{func.name}() takes a constant offset", hint=f"write e.g. {func.name}(x, 2)")
        return
    name = func.name if isinstance(func, Call) else type(func).__name__
    raise UnsupportedError(f"`{name}` cannot be used as a window function",
                           hint="use an aggregate or one of: " + ", ".join(
                               sorted(RANKING_FUNCTIONS | OFFSET_FUNCTIONS | VALUE_FUNCTIONS)))


def default_frame(ordered: bool) -> WindowFrame:
    """The SQL default frame: up to the current row's last peer with ORDER BY, else the whole partition."""
    return WindowFrame("range", None, 0) if ordered else WindowFrame("rows", None, None)


def covers_whole_partition(w: WindowCall) -> bool:
    """Whether the frame of ``w`` is the whole window partition for every row, whatever the data.

    >>> covers_whole_partition(WindowCall(AggCall("count_star", (), pa.int64()), (), (), None))
    True
    """
    frame = w.frame or default_frame(bool(w.order_by))
    if frame.start is None and frame.end is None:
        return True
    # Without ORDER BY every row is a peer of every other, so CURRENT ROW in RANGE mode spans the partition.
    return frame.mode == "range" and not w.order_by and frame.start in (None, 0) and frame.end in (None, 0)


# --------------------------------------------------------------------------------- layout


@dataclass
class _Layout:
    """Rows sorted for one window spec, with per-row partition and peer-group bounds.

    ``order[j]`` is the input row at sorted position j (None: input order kept,
    no keys). The ``*_start`` arrays hold the first sorted position of the row's
    window partition or peer group, ``*_end`` one past the last.
    """

    n: int
    order: np.ndarray | None
    order_array: pa.Array | None
    part_id: np.ndarray
    part_start: np.ndarray
    part_end: np.ndarray
    peer_id: np.ndarray
    peer_start: np.ndarray
    peer_end: np.ndarray
    order_key: pa.Array | None = None          # the one ORDER BY key, sorted (RANGE frames with offsets)
    order_sort: SortKey | None = None

    @staticmethod
    def build(table: pa.Table, partition_by: tuple[Expr, ...], order_by: tuple[SortKey, ...]) -> "_Layout":
        n = table.num_rows
        keys = [SortKey(e) for e in partition_by] + list(order_by)
        columns = [to_array(evaluate_array(k.expr, table), n) for k in keys]
        order = order_array = None
        if keys:
            # sort with ORDER BY's own helper (same NULL and NaN placement), over the evaluated keys
            fields = [Field(f"window_key{i}", c.type) for i, c in enumerate(columns)]
            key_table = pa.table({f.key: c for f, c in zip(fields, columns)})
            try:
                order_array = sort_indices(key_table, tuple(SortKey(ColumnRef(f), k.ascending, k.nulls_first)
                                                            for f, k in zip(fields, keys)))
            except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise UnsupportedError(f"cannot sort a window by {', '.join(map(str, keys))}: {exc}",
                                       hint="PARTITION BY and ORDER BY need orderable types") from exc
            order = np.asarray(order_array.to_numpy(), dtype=np.int64)
            columns = [c.take(order_array) for c in columns]
        part_change = _changes(columns[:len(partition_by)], n)
        peer_change = part_change | _changes(columns[len(partition_by):], n)
        part_id, part_start, part_end = _segments(part_change)
        peer_id, peer_start, peer_end = _segments(peer_change)
        single = len(order_by) == 1
        return _Layout(n, order, order_array, part_id, part_start, part_end, peer_id, peer_start, peer_end,
                       columns[-1] if single else None, order_by[0] if single else None)

    def take(self, values) -> pa.Array:
        """``values`` (in input row order, an array or a scalar) as an array in sorted order."""
        values = to_array(values, self.n)
        return values if self.order is None else values.take(self.order_array)

    def reorder_from(self, other: "_Layout") -> pa.Array | None:
        """Indices that move a column from ``other``'s sorted order into this layout's order."""
        if other.order is None and self.order is None:
            return None
        if other.order is None:
            return self.order_array
        position = np.empty(self.n, dtype=np.int64)
        position[other.order] = np.arange(self.n, dtype=np.int64)
        return pa.array(position if self.order is None else position[self.order])


def _changes(columns: list[pa.Array], n: int) -> np.ndarray:
    """Per sorted row: does any key differ from the previous row's (row 0 always starts a segment)."""
    flags = np.zeros(n, dtype=bool)
    flags[0] = True
    for column in columns:
        flags[1:] |= _differs_from_previous(column)
    return flags


def _differs_from_previous(column: pa.Array) -> np.ndarray:
    """``column[i] IS DISTINCT FROM column[i - 1]`` for i >= 1; NaN equals NaN like in GROUP BY."""
    n = len(column)
    if n < 2:
        return np.zeros(0, dtype=bool)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_null(column.type):
        return np.zeros(n - 1, dtype=bool)
    current, previous = column.slice(1), column.slice(0, n - 1)
    try:
        differs = _bools(pc.fill_null(pc.not_equal(current, previous), False))
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise UnsupportedError(f"cannot compare values of type {T.sql_name(column.type)} in a window's "
                               "PARTITION BY or ORDER BY", hint="partition and order by scalar columns") from exc
    if column.null_count:
        # fill_null(False) made "NULL vs value" equal; it is a change.
        differs |= _bools(pc.is_null(current)) != _bools(pc.is_null(previous))
    if pa.types.is_floating(column.type):
        differs &= ~(_bools(pc.is_nan(current)) & _bools(pc.is_nan(previous)))
    return differs


def _segments(starts_flag: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: segment id, first row of its segment, one past its last row."""
    n = len(starts_flag)
    seg_id = np.cumsum(starts_flag, dtype=np.int64) - 1
    first = np.flatnonzero(starts_flag)
    last = np.append(first[1:], n)
    return seg_id, first[seg_id], last[seg_id]


def _bools(array) -> np.ndarray:
    return np.asarray(to_array(array, len(array)).to_numpy(zero_copy_only=False), dtype=bool)


# -------------------------------------------------------------------------------- dispatch


def compute_window(w: WindowCall, layout: _Layout, table: pa.Table) -> pa.Array:
    """The values of ``w`` for every row, in ``layout``'s sorted order."""
    func = w.func
    if isinstance(func, AggCall):
        return _aggregate(w, func, layout, table)
    name = func.name
    if name in RANKING_FUNCTIONS:
        return _ranking(name, func, layout, table)
    if name in OFFSET_FUNCTIONS:
        return _offset(name, func, layout, table)
    start, end = frame_bounds(layout, w.frame or default_frame(bool(w.order_by)))
    return _value(name, func, layout, table, start, end)


def frame_bounds(layout: _Layout, frame: WindowFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per sorted row, the frame as [start, end) sorted positions; an empty frame has start == end."""
    n = layout.n
    if frame.mode == "rows":
        position = np.arange(n, dtype=np.int64)

        def bound(offset):
            # clamping the offset first keeps the arithmetic far from int64 overflow
            offset = max(min(offset, n + 1), -n - 1)
            return np.clip(position + offset, layout.part_start, layout.part_end)
        start = layout.part_start if frame.start is None else bound(frame.start)
        end = layout.part_end if frame.end is None else bound(frame.end + 1)
    elif frame.start in (None, 0) and frame.end in (None, 0):
        start = layout.part_start if frame.start is None else layout.peer_start
        end = layout.part_end if frame.end is None else layout.peer_end
    else:
        start, end = _range_offsets(layout, frame)
    return start, np.maximum(end, start)


def _range_offsets(layout: _Layout, frame: WindowFrame) -> tuple[np.ndarray, np.ndarray]:
    """A RANGE frame with offsets: the rows of the partition whose ORDER BY value lies within ``start`` to
    ``end`` of the row's (a descending key counts PRECEDING as larger values), found for all rows at once
    by a binary search over (partition, value) pairs. A row whose value is NULL (or NaN) frames its peers."""
    key = layout.order_key
    ascending = layout.order_sort.ascending
    if frame.months:
        return _month_range_offsets(layout, frame)
    if pa.types.is_date(key.type):
        key = pc.cast(pc.cast(key, pa.int32()), pa.int64())
    elif pa.types.is_timestamp(key.type):
        # microseconds since the epoch, the unit of an interval frame's bounds (exact in a DOUBLE to 2**53 µs,
        # beyond the year 2255)
        key = pc.cast(pc.cast(key, pa.timestamp("us", key.type.tz)), pa.int64())
    if pa.types.is_integer(key.type):
        values = np.asarray(pc.fill_null(pc.cast(key, pa.int64()), 0).to_numpy(zero_copy_only=False), np.float64)
    else:
        values = np.asarray(pc.fill_null(pc.cast(key, pa.float64()), 0.0).to_numpy(zero_copy_only=False),
                            np.float64)
    if not ascending:
        values = -values
    null = np.asarray(key.is_null().to_numpy(zero_copy_only=False), bool)
    nan = np.isnan(values) & ~null
    odd = null | nan
    # NULLs and NaNs (the largest values) sit at an end of their partition; as ±inf they stay in sorted
    # order and out of every finite row's frame
    values = np.where(null, -np.inf if layout.order_sort.nulls_first else np.inf, values)
    values = np.where(nan, np.inf if ascending else -np.inf, values)
    return _searched_bounds(layout, frame, values, lambda offset: values + offset, odd)


def _searched_bounds(layout: _Layout, frame: WindowFrame, ordered: np.ndarray, probe_at,
                     peers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A RANGE frame's start and end for each row, by binary search over the (partition, ``ordered``)
    pairs: a bound's probe is ``probe_at(bound)`` (each row's key moved by it, in ``ordered``'s order);
    rows in ``peers`` (NULL or NaN keys) frame their peers on a bounded side."""
    pairs = np.empty(layout.n, np.dtype([("p", "<i8"), ("v", ordered.dtype)]))
    pairs["p"], pairs["v"] = layout.part_id, ordered

    def search(bound, side):
        probe = np.empty(layout.n, pairs.dtype)
        probe["p"], probe["v"] = layout.part_id, probe_at(bound)
        return np.searchsorted(pairs, probe, side).astype(np.int64)
    start = layout.part_start if frame.start is None else search(frame.start, "left")
    end = layout.part_end if frame.end is None else search(frame.end, "right")
    start = np.where(peers, layout.peer_start if frame.start is not None else start, start)
    end = np.where(peers, layout.peer_end if frame.end is not None else end, end)
    return start, end


def _add_months(days: np.ndarray, months: int) -> np.ndarray:
    """Days since the epoch plus ``months`` calendar months, the day of month kept or clamped to the target
    month's last day (Spark's dateAddMonths: 2024-01-31 + 1 month = 2024-02-29), for all rows at once."""
    dates = days.astype("datetime64[D]")
    month = dates.astype("datetime64[M]")
    day = (dates - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.timedelta64(months, "M")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    return target.astype("datetime64[D]").astype(np.int64) + np.minimum(day, length - 1)


def _month_range_offsets(layout: _Layout, frame: WindowFrame) -> tuple[np.ndarray, np.ndarray]:
    """A RANGE frame whose bounds are months, over a DATE or TIMESTAMP key: each row's bounds are its own
    value moved by the months (:func:`_add_months`; a timestamp keeps its time of day), found by a binary
    search over (partition, value) pairs; a descending key counts PRECEDING as later values. A NULL key
    frames its peers."""
    key = layout.order_key
    ascending = layout.order_sort.ascending
    null = np.asarray(key.is_null().to_numpy(zero_copy_only=False), bool)
    if pa.types.is_date(key.type):
        values = np.asarray(pc.fill_null(pc.cast(pc.cast(key, pa.int32()), pa.int64()), 0).to_numpy(
            zero_copy_only=False), np.int64)
        per_day = 1
    else:
        values = np.asarray(pc.fill_null(pc.cast(pc.cast(key, pa.timestamp("us", key.type.tz)), pa.int64()), 0)
                            .to_numpy(zero_copy_only=False), np.int64)
        per_day = 86_400_000_000
    days = np.floor_divide(values, per_day)
    time_of_day = values - days * per_day

    def moved(months: int) -> np.ndarray:
        return _add_months(days, months) * per_day + time_of_day

    sign = 1 if ascending else -1
    ordered = values * sign
    ordered = np.where(null, np.iinfo(np.int64).min if layout.order_sort.nulls_first else np.iinfo(np.int64).max,
                       ordered)
    return _searched_bounds(layout, frame, ordered, lambda months: moved(months * sign) * sign, null)


# --------------------------------------------------------------------------- ranking, offset


def _ranking(name: str, func: Call, layout: _Layout, table: pa.Table) -> pa.Array:
    n = layout.n
    position = np.arange(n, dtype=np.int64) - layout.part_start
    size = layout.part_end - layout.part_start
    if name == "row_number":
        return pa.array(position + 1)
    if name == "rank":
        return pa.array(layout.peer_start - layout.part_start + 1)
    if name == "dense_rank":
        return pa.array(layout.peer_id - layout.peer_id[layout.part_start] + 1)
    if name == "percent_rank":
        rank = layout.peer_start - layout.part_start
        return pa.array(np.where(size > 1, rank / np.maximum(size - 1, 1), 0.0))
    if name == "cume_dist":
        return pa.array((layout.peer_end - layout.part_start) / size)
    # ntile(buckets): the first (size % buckets) buckets hold one row more than the others.
    buckets, known = _int_argument(func.args[0], layout, table)
    if (known & (buckets <= 0)).any():
        raise DataError("ntile() needs a positive number of buckets", hint="pass an integer >= 1")
    buckets = np.where(known, buckets, 1)
    small = size // buckets
    remainder = size % buckets
    big_rows = remainder * (small + 1)
    tile = np.where(position < big_rows, position // (small + 1),
                    remainder + (position - big_rows) // np.maximum(small, 1))
    return pa.array(tile + 1, mask=~known)


def _offset(name: str, func: Call, layout: _Layout, table: pa.Table) -> pa.Array:
    value_expr, offset_expr, default_expr = func.args
    n = layout.n
    values = layout.take(evaluate_array(value_expr, table))
    default = layout.take(evaluate_array(default_expr, table))
    if offset_expr.value is None:
        return pa.nulls(n, func.type)
    offset = max(min(int(offset_expr.value), n + 1), -n - 1)
    if name.endswith("_ignore_nulls"):
        target = _skipping_nulls(values, offset if name.startswith("lead") else -offset)
    else:
        target = np.arange(n, dtype=np.int64) + (offset if name == "lead" else -offset)
    inside = (target >= layout.part_start) & (target < layout.part_end)
    taken = values.take(pa.array(np.where(inside, target, 0)))
    return pc.if_else(pa.array(inside), taken, default)


def _value(name: str, func: Call, layout: _Layout, table: pa.Table, start: np.ndarray,
           end: np.ndarray) -> pa.Array:
    values = layout.take(evaluate_array(func.args[0], table))
    if name == "first_value":
        row, present = start, end > start
    elif name == "last_value_ignore_nulls":
        # the frame's last non-NULL value: by the running count of non-NULL rows
        valid = _bools(pc.is_valid(values))
        positions = np.flatnonzero(valid)
        running = np.concatenate([[0], np.cumsum(valid)])
        k = running[np.maximum(end, start)] - 1
        present = (end > start) & (k >= running[start]) & (k >= 0)
        row = positions[np.clip(k, 0, max(len(positions) - 1, 0))] if len(positions) else np.zeros_like(k)
        return _take_or_null(values, row, present)
    elif name == "last_value":
        row, present = end - 1, end > start
    else:
        nth, known = _int_argument(func.args[1], layout, table)
        if (known & (nth <= 0)).any():
            raise DataError("nth_value() needs a position >= 1", hint="positions in the frame count from 1")
        if name == "nth_value_ignore_nulls":
            # the nth non-NULL value of the frame: by the running count of non-NULL rows
            valid = _bools(pc.is_valid(values))
            positions = np.flatnonzero(valid)
            before = np.concatenate([[0], np.cumsum(valid)])[start]
            k = before + np.where(known, nth, 1) - 1
            row = positions[np.minimum(k, max(len(positions) - 1, 0))] if len(positions) else np.zeros_like(k)
            present = known & (k < len(positions)) & (row < end) & (end > start)
            return _take_or_null(values, row, present)
        row = start + np.where(known, nth, 1) - 1
        present = known & (row < end)
    return _take_or_null(values, row, present)


def _skipping_nulls(values: pa.Array, offset: int) -> np.ndarray:
    """Per row, the row ``offset`` non-NULL rows away (negative: before it), or -1 when there is none
    (the caller keeps it inside the row's partition)."""
    n = len(values)
    valid = _bools(pc.is_valid(values))
    positions = np.flatnonzero(valid)
    counts = np.cumsum(valid)                     # non-NULL rows up to and including each row
    if offset < 0:
        k = counts - valid.astype(np.int64) + offset      # index among non-NULL rows
    elif offset > 0:
        k = counts + offset - 1
    else:
        return np.arange(n, dtype=np.int64)
    ok = (k >= 0) & (k < len(positions))
    return np.where(ok, positions[np.clip(k, 0, max(len(positions) - 1, 0))] if len(positions) else -1, -1)


def _int_argument(expr: Expr, layout: _Layout, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """An integer argument per sorted row, with its validity (NULL gives False)."""
    values = cast_value(layout.take(evaluate(expr, table)), T.INT64)
    known = _bools(pc.is_valid(values))
    return np.asarray(pc.fill_null(values, 0).to_numpy(), dtype=np.int64), known


def _take_or_null(values: pa.Array, rows: np.ndarray, present: np.ndarray) -> pa.Array:
    """``values[rows]``, NULL where not ``present``."""
    return values.take(pa.array(np.where(present, rows, 0), mask=~present))


# ------------------------------------------------------------------------------ aggregates


def _aggregate(w: WindowCall, agg: AggCall, layout: _Layout, table: pa.Table) -> pa.Array:
    if isinstance(agg, UDAFCall):
        return _python_aggregate(w, agg, layout, table)
    name = agg.name
    if name in WHOLE_PARTITION_AGGREGATES or (agg.distinct and name not in _DISTINCT_INSENSITIVE):
        return _grouped_aggregate(agg, layout, table)
    start, end = frame_bounds(layout, w.frame or default_frame(bool(w.order_by)))
    if name == "array_agg" and agg.filter is None:
        # each frame's values as a list (NULLs included, as array_agg), by one take of the frames' ranges
        from quarry.compute.nested_kernels import build_list, take_ranges
        values = layout.take(evaluate_array(agg.args[0], table))
        lengths = np.maximum(end - start, 0).astype(np.int64)
        return build_list(lengths, take_ranges(values, start.astype(np.int64), lengths), None, agg.dtype)
    values, valid = _aggregate_input(agg, layout, table)
    count = _frame_sum_of_counts(valid, start, end)
    if name in ("count", "count_star"):
        return pa.array(count)
    present = count > 0
    if name in ("bool_and", "bool_or"):
        true_count = _frame_sum_of_counts(valid & _bools(pc.fill_null(values, False)), start, end)
        result = true_count == count if name == "bool_and" else true_count > 0
        return pa.array(result, mask=~present)
    if name in ("min", "max"):
        return _frame_min_max(name, values, valid, start, end, present)
    if name == "any_value":
        return _frame_first_valid(values, valid, start, end)
    kind = values.type
    if name in ("sum", "avg") and (pa.types.is_integer(kind) or pa.types.is_decimal(kind)):
        return _exact_sum_or_avg(name, agg, values, valid, start, end, present, count)
    numbers = _float_values(values, valid, 0.0 if name != "product" else 1.0)
    if name in ("sum", "avg"):
        (total,) = frame_reduce((numbers,), _add, start, end)
        result = total if name == "sum" else total / np.maximum(count, 1)
        return pa.array(result, mask=~present)
    if name == "product":
        (result,) = frame_reduce((numbers,), _multiply, start, end)
        return pa.array(result, mask=~present)
    return _variance(name, numbers, valid, start, end)


def _aggregate_input(agg: AggCall, layout: _Layout, table: pa.Table) -> tuple[pa.Array | None, np.ndarray]:
    """The argument in sorted order and which rows count: non-NULL and passing FILTER."""
    if agg.name == "count_star":
        values, valid = None, np.ones(layout.n, dtype=bool)
    else:
        values = layout.take(evaluate_array(agg.args[0], table))
        valid = _bools(pc.is_valid(values)) if values.null_count else np.ones(layout.n, dtype=bool)
    if agg.filter is not None:
        valid &= _bools(pc.fill_null(layout.take(evaluate_array(agg.filter, table)), False))
    return values, valid


def _frame_sum_of_counts(flags: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """How many rows of each frame are flagged, from one prefix sum."""
    prefix = np.zeros(len(flags) + 1, dtype=np.int64)
    np.cumsum(flags, out=prefix[1:])
    return prefix[end] - prefix[start]


def _float_values(values: pa.Array, valid: np.ndarray, fill: float) -> np.ndarray:
    """The argument as float64 with ``fill`` (the operation's identity) where it does not count."""
    numbers = cast_value(values, T.FLOAT64)
    numbers = np.asarray(pc.fill_null(numbers, fill).to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.where(valid, numbers, fill)


def _frame_first_valid(values: pa.Array, valid: np.ndarray, start: np.ndarray, end: np.ndarray) -> pa.Array:
    """any_value: the first counted value of each frame."""
    n = len(valid)
    candidate = np.where(valid, np.arange(n, dtype=np.int64), n)
    next_valid = np.append(np.minimum.accumulate(candidate[::-1])[::-1], n)
    row = next_valid[start]
    return _take_or_null(values, row, row < end)


def _frame_min_max(name: str, values: pa.Array, valid: np.ndarray, start: np.ndarray, end: np.ndarray,
                   present: np.ndarray) -> pa.Array:
    """min/max of any orderable type: reduce dense ranks (NaN ranks highest, like DuckDB), then look up."""
    try:
        ranks = pc.rank(values, sort_keys="ascending", tiebreaker="dense")
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise UnsupportedError(f"{name}() over a window is not supported for {T.sql_name(values.type)}",
                               hint="use a column of an orderable type") from exc
    ranks = np.asarray(ranks.to_numpy(), dtype=np.int64)
    sentinel = len(ranks) + 1 if name == "min" else 0
    (best,) = frame_reduce((np.where(valid, ranks, sentinel),), _minimum if name == "min" else _maximum,
                           start, end)
    row_of_rank = np.zeros(len(ranks) + 2, dtype=np.int64)
    row_of_rank[ranks] = np.arange(len(ranks), dtype=np.int64)
    return _take_or_null(values, row_of_rank[np.where(present, best, 0)], present)


def _variance(name: str, numbers: np.ndarray, valid: np.ndarray, start: np.ndarray,
              end: np.ndarray) -> pa.Array:
    """var/stddev, sample or population, from Welford states merged pairwise (stable, no cancellation)."""
    states = (valid.astype(np.float64), np.where(valid, numbers, 0.0), np.zeros(len(numbers)))
    count, _, m2 = frame_reduce(states, _merge_welford, start, end)
    sample = name.endswith("samp")
    divisor = count - 1 if sample else count
    present = divisor > 0 if sample else count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        result = m2 / np.where(present, divisor, 1.0)
    if name.startswith("stddev"):
        result = np.sqrt(np.maximum(result, 0.0))
    return pa.array(result, mask=~present)


# --------------------------------------------------------------------- doubling reduction


def _add(a, b):
    return (a[0] + b[0],)


def _multiply(a, b):
    return (a[0] * b[0],)


def _minimum(a, b):
    return (np.minimum(a[0], b[0]),)


def _maximum(a, b):
    return (np.maximum(a[0], b[0]),)


def _merge_welford(a, b):
    """Chan et al.'s merge of (count, mean, M2) states."""
    count_a, mean_a, m2_a = a
    count_b, mean_b, m2_b = b
    count = count_a + count_b
    weight_b = np.divide(count_b, count, out=np.zeros_like(count), where=count > 0)
    delta = mean_b - mean_a
    return count, mean_a + delta * weight_b, m2_a + m2_b + delta * delta * count_a * weight_b


def frame_reduce(states: tuple[np.ndarray, ...], combine, start: np.ndarray, end: np.ndarray):
    """Combine ``states[start:end]`` for every row, with an associative ``combine``, in O(n log w).

    Each row's frame is split by the binary digits of its length into disjoint
    power-of-two blocks, consumed left to right. ``level`` holds, for every
    position i, the combination of the block of the current size starting at i;
    the next size is built from two blocks of this one. Rows that must not count
    (NULLs, filtered out) hold the operation's identity: 0 for sums, a sentinel
    for min/max, an empty Welford state. An empty frame gives zeros.

    >>> frame_reduce((np.array([1, 2, 3, 4]),), _add, np.array([0, 0, 1, 2]), np.array([1, 3, 4, 2]))
    (array([1, 6, 9, 0]),)
    """
    n = len(start)
    length = end - start
    longest = int(length.max()) if n else 0
    accumulator = tuple(np.zeros(n, dtype=s.dtype) for s in states)
    filled = np.zeros(n, dtype=bool)
    cursor = start.copy()
    level = states
    step = 1
    while step <= longest:
        rows = np.flatnonzero(length & step)
        if rows.size:
            block = tuple(s[cursor[rows]] for s in level)
            fresh = ~filled[rows]
            merged = combine(tuple(a[rows] for a in accumulator), block)
            for acc, m, b in zip(accumulator, merged, block):
                # a row's first block is taken as is, so no identity value is ever needed
                acc[rows] = np.where(fresh, b, m)
            filled[rows] = True
            cursor[rows] += step
        if 2 * step <= longest:
            level = combine(tuple(s[:-step] for s in level), tuple(s[step:] for s in level))
        step *= 2
    return accumulator


# ------------------------------------------------------------------------- exact sums


_LIMB = np.uint64(0xFFFFFFFF)
_WORD = np.uint64(0xFFFFFFFFFFFFFFFF)
_SHIFT32 = np.uint64(32)
_SHIFT63 = np.uint64(63)
_TEN38 = 10 ** 38


def _words(values: pa.Array, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value as a 128-bit two's complement integer (a decimal's unscaled value): (low, high) words.

    Rows that do not count are 0.
    """
    n = len(values)
    if pa.types.is_integer(values.type):
        ints = np.asarray(pc.fill_null(cast_value(values, T.INT64), 0).to_numpy(), dtype=np.int64)
        low = ints.view(np.uint64).copy()
        high = np.where(ints < 0, _WORD, np.uint64(0))
    else:
        if not pa.types.is_decimal128(values.type):
            values = cast_value(values, pa.decimal128(38, values.type.scale))
        words = np.frombuffer(values.buffers()[1], dtype=np.uint64)
        words = words[2 * values.offset: 2 * (values.offset + n)].reshape(n, 2)
        low, high = words[:, 0].copy(), words[:, 1].copy()
    low[~valid] = 0
    high[~valid] = 0
    return low, high


def frame_sum_128(low: np.ndarray, high: np.ndarray, start: np.ndarray,
                  end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact frame sums of 128-bit integers: (low word, high word, fits in 128 bits).

    The values are split into five 32-bit limbs (the fifth is the sign
    extension), so each limb's prefix sum stays below 2**64 for fewer than 2**31
    rows and the frame sum of every limb is an exact difference. Carrying the
    limbs back together gives the sum modulo 2**160, which is the true sum since
    it cannot exceed 2**159 in magnitude.
    """
    sign = np.where((high >> _SHIFT63) == 1, _LIMB, np.uint64(0))
    limbs = (low & _LIMB, low >> _SHIFT32, high & _LIMB, high >> _SHIFT32, sign)
    carry = np.zeros(len(start), dtype=np.uint64)
    out = []
    for limb in limbs:
        prefix = np.zeros(len(limb) + 1, dtype=np.uint64)
        np.cumsum(limb, out=prefix[1:])
        total = prefix[end] - prefix[start] + carry
        out.append(total & _LIMB)
        carry = total >> _SHIFT32
    fits = out[4] == np.where((out[3] >> np.uint64(31)) == 1, _LIMB, np.uint64(0))
    return out[0] | (out[1] << _SHIFT32), out[2] | (out[3] << _SHIFT32), fits


def _exact_sum_or_avg(name: str, agg: AggCall, values: pa.Array, valid: np.ndarray, start: np.ndarray,
                      end: np.ndarray, present: np.ndarray, count: np.ndarray) -> pa.Array:
    low, high = _words(values, valid)
    low, high, fits = frame_sum_128(low, high, start, end)
    signed_high = high.view(np.int64)
    scale = values.type.scale if pa.types.is_decimal(values.type) else 0
    if name == "avg":
        # in three steps, so that small negative sums (high word -1) do not cancel catastrophically
        upper = signed_high.astype(np.float64) * 2.0 ** 32 + (low >> _SHIFT32).astype(np.float64)
        total = upper * 2.0 ** 32 + (low & _LIMB).astype(np.float64)
        return pa.array(total / np.maximum(count, 1) / 10.0 ** scale, mask=~present)
    if pa.types.is_integer(values.type):
        fits &= high == np.where((low >> _SHIFT63) == 1, _WORD, np.uint64(0))
        if (present & ~fits).any():
            raise DataError(f"integer overflow in window {agg}: a frame's sum does not fit BIGINT",
                            hint="CAST the argument to DECIMAL(38, 0) or DOUBLE")
        return pa.array(low.view(np.int64), mask=~present)
    # |v| < 10**38: compare (high, low) as a 128-bit number against the bounds' words
    top_high, top_low = np.int64(_TEN38 >> 64), np.uint64(_TEN38 & 0xFFFFFFFFFFFFFFFF)
    negative = (1 << 128) - _TEN38
    bottom_high, bottom_low = np.int64((negative >> 64) - (1 << 64)), np.uint64(negative & 0xFFFFFFFFFFFFFFFF)
    too_big = (signed_high > top_high) | ((signed_high == top_high) & (low >= top_low))
    too_small = (signed_high < bottom_high) | ((signed_high == bottom_high) & (low <= bottom_low))
    if (present & (~fits | too_big | too_small)).any():
        raise DataError(f"decimal overflow in window {agg}: a frame's sum does not fit DECIMAL(38, {scale})",
                        hint="CAST the argument to DOUBLE")
    words = np.empty((len(low), 2), dtype=np.uint64)
    words[:, 0] = low
    words[:, 1] = high
    validity = pa.array(present).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(38, scale), len(low), [validity, pa.py_buffer(words)])


# --------------------------------------------------------------------- grouped aggregates


def _grouped_aggregate(agg: AggCall, layout: _Layout, table: pa.Table) -> pa.Array:
    """An aggregate over each whole window partition, by Arrow's grouped kernels on the partition id."""
    if agg.name == "array_agg" and agg.distinct:
        return _distinct_lists(agg, layout, table)
    if agg.name in ROW_AGGREGATES:
        # mode, arg_max, quantiles, statistics: each partition's row positions, as the aggregate operator
        # computes them (NULL positions: rows FILTER leaves out)
        from quarry.compute.udf import udaf_positions
        positions = layout.take(udaf_positions(agg, table))
        if agg.distinct:
            positions = distinct_positions(agg, table, [pa.array(layout.part_id)], positions, arrange=layout.take)
        work = pa.table({"part": pa.array(layout.part_id), "value": positions})
        grouped = work.group_by("part", use_threads=False).aggregate([("value", "list")])
        result = row_aggregate(agg, table, grouped.column("value_list"))
        slot = np.empty(len(grouped), dtype=np.int64)
        slot[np.asarray(grouped.column("part").to_numpy(), dtype=np.int64)] = np.arange(len(grouped), dtype=np.int64)
        return cast_value(to_array(result, len(grouped)).take(pa.array(slot[layout.part_id])), agg.dtype)
    values, valid = _aggregate_input(agg, layout, table)
    if values is None:
        values = pa.array(np.ones(layout.n, dtype=bool))
    if not valid.all():
        values = pc.if_else(pa.array(valid), values, pa.scalar(None, values.type))
    name = agg.name
    if name in HISTOGRAMS:
        spec, finish = ("list", None), "histogram"
    elif agg.distinct and name not in ("count", "approx_count_distinct"):
        spec, finish = ("distinct", pc.CountOptions(mode="only_valid")), "distinct"
    else:
        if name in ("median", "var_samp", "var_pop", "stddev_samp", "stddev_pop", "avg"):
            values = cast_value(values, T.FLOAT64)
        fn, options = HashAggregateExec._single_function(agg)
        spec, finish = (fn, options), name
    work = pa.table({"part": pa.array(layout.part_id), "value": values})
    grouped = work.group_by("part", use_threads=False).aggregate([("value",) + spec])
    result = grouped.column(f"value_{spec[0]}").combine_chunks()
    if finish == "distinct" and name == "string_agg":
        separator = agg.args[1] if len(agg.args) > 1 else None
        result = pc.binary_join(result, separator.value if isinstance(separator, Literal) else ",")
        result = pc.if_else(pc.greater(pc.list_value_length(grouped.column("value_distinct")), 0), result,
                            pa.scalar(None, result.type))
    elif finish == "distinct":
        result = _aggregate_lists(result, name)
    elif finish == "median":
        result = _exact_median(result)
    elif finish == "histogram":
        result = histogram_of(agg, result)
    elif finish == "string_agg":
        separator = agg.args[1] if len(agg.args) > 1 else None
        result = pc.binary_join(result, separator.value if isinstance(separator, Literal) else ",")
    elif finish in ("count", "approx_count_distinct"):
        result = pc.fill_null(result, 0)
    # groups come back in an order of Arrow's choosing: index them by partition id
    slot = np.empty(len(grouped), dtype=np.int64)
    slot[np.asarray(grouped.column("part").to_numpy(), dtype=np.int64)] = np.arange(len(grouped), dtype=np.int64)
    return cast_value(to_array(result, len(grouped)).take(pa.array(slot[layout.part_id])), agg.dtype)


def _distinct_lists(agg: AggCall, layout: _Layout, table: pa.Table) -> pa.Array:
    """``array_agg(DISTINCT x [ORDER BY x])`` over each whole window partition: its distinct values (NULL
    one of them) in the order of their first rows, or by the ORDER BY; NULL when FILTER keeps no row."""
    values = layout.take(evaluate_array(agg.args[0], table))
    counted = np.ones(layout.n, dtype=bool) if agg.filter is None else \
        _bools(pc.fill_null(layout.take(evaluate_array(agg.filter, table)), False))
    positions = pa.array(np.arange(layout.n, dtype=np.int64), mask=~counted)
    firsts = first_of_each_value(values, [pa.array(layout.part_id)], positions)
    rows = np.asarray(firsts.drop_null().to_numpy(), dtype=np.int64)
    parts = layout.part_id[rows]
    columns = {"part": pa.array(parts)}
    sort_keys = [("part", "ascending")]
    for j, key in enumerate(agg.args[1:]):      # ORDER BY the argument itself (the binder checks)
        column = values.take(pa.array(rows))
        columns[f"o{j}"] = sort_key(column, len(column)) if T.is_nested(column.type) else column
        sort_keys.append((f"o{j}", "ascending" if key.ascending else "descending",
                          "at_start" if key.nulls_first else "at_end"))
    columns["row"] = pa.array(rows)
    sort_keys.append(("row", "ascending"))
    order = pc.sort_indices(pa.table(columns), sort_keys=sort_keys)
    taken = values.take(pa.array(rows).take(order))
    n_parts = int(layout.part_id.max()) + 1 if layout.n else 0
    lengths = np.bincount(parts, minlength=n_parts).astype(np.int64)
    lists = build_list(lengths, taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken,
                       lengths > 0, agg.dtype)
    return lists.take(pa.array(layout.part_id))


def _python_aggregate(w: WindowCall, agg: UDAFCall, layout: _Layout, table: pa.Table) -> pa.Array:
    """A Python aggregate UDF over window frames: one call per window partition when the frame is
    the whole partition, else one call per row on that row's frame (zero-copy slices of the sorted
    arguments either way); an empty frame is NULL."""
    args = [layout.take(evaluate_array(a, table)) for a in agg.args]
    if covers_whole_partition(w):
        if layout.n == 0:
            return pa.array([], agg.dtype)
        firsts = np.flatnonzero(np.r_[True, layout.part_id[1:] != layout.part_id[:-1]])
        values = aggregate_slices(agg.function, args, layout.part_start[firsts], layout.part_end[firsts], agg.dtype)
        return values.take(pa.array(layout.part_id))
    start, end = frame_bounds(layout, w.frame or default_frame(bool(w.order_by)))
    return aggregate_slices(agg.function, args, start, end, agg.dtype)
