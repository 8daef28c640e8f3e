"""Kernels of the ``spark_*`` date, aggregate and collection functions (``quarry.logical.spark_support``): whole columns at a time with
Arrow compute and numpy, never a Python loop over rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.compute.kernels import kernel, to_array
from quarry.compute.nested_kernels import build_list, parts
from quarry.errors import DataError, UnsupportedError

_DAY_US = 86_400_000_000


def _valid(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _days(x, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A DATE argument as (numpy datetime64[D] values, valid mask)."""
    arr = to_array(x, n)
    valid = _valid(arr)
    days = np.asarray(pc.fill_null(arr.cast(pa.int32()), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return days.astype("datetime64[D]"), valid


def _micros(x, n: int) -> tuple[np.ndarray, np.ndarray]:
    arr = to_array(x, n)
    valid = _valid(arr)
    us = np.asarray(pc.fill_null(arr.cast(pa.int64()), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return us, valid


def _ints(x, n: int) -> tuple[np.ndarray, np.ndarray]:
    arr = to_array(x, n)
    valid = _valid(arr)
    return np.asarray(pc.fill_null(arr.cast(pa.int64()), 0).to_numpy(zero_copy_only=False), dtype=np.int64), valid


def _dates_out(days: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(days.astype("datetime64[D]").astype(np.int64).astype(np.int32), pa.int32(),
                    mask=~valid).cast(pa.date32())


def _timestamps_out(us: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(us, pa.int64(), mask=~valid).cast(pa.timestamp("us"))


def _month_parts(days: np.ndarray):
    """(month start as datetime64[M], day of month 1..31, days in the month) of each date."""
    months = days.astype("datetime64[M]")
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    length = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)
    return months, day, length


@kernel("spark_add_months")
def _add_months(name, args, dtype, n):
    days, v1 = _days(args[0], n)
    k, v2 = _ints(args[1], n)
    months, day, _ = _month_parts(days)
    target = months + k.astype("timedelta64[M]")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    # the same day of the month, or the target month's last day when it is shorter (Spark's rule)
    out = target.astype("datetime64[D]") + (np.minimum(day, length) - 1).astype("timedelta64[D]")
    return _dates_out(out, v1 & v2)


@kernel("spark_date_add")
def _date_add(name, args, dtype, n):
    days, v1 = _days(args[0], n)
    k, v2 = _ints(args[1], n)
    return _dates_out(days + k.astype("timedelta64[D]"), v1 & v2)


@kernel("spark_last_day")
def _last_day(name, args, dtype, n):
    days, valid = _days(args[0], n)
    months = days.astype("datetime64[M]")
    return _dates_out((months + 1).astype("datetime64[D]") - np.timedelta64(1, "D"), valid)


_WEEKDAYS = {"MO": 0, "MON": 0, "MONDAY": 0, "TU": 1, "TUE": 1, "TUESDAY": 1, "WE": 2, "WED": 2, "WEDNESDAY": 2,
             "TH": 3, "THU": 3, "THURSDAY": 3, "FR": 4, "FRI": 4, "FRIDAY": 4, "SA": 5, "SAT": 5, "SATURDAY": 5,
             "SU": 6, "SUN": 6, "SUNDAY": 6}


@kernel("spark_next_day")
def _next_day(name, args, dtype, n):
    days, valid = _days(args[0], n)
    names = pc.utf8_upper(pc.utf8_trim_whitespace(to_array(args[1], n)))
    # the few day names, looked up per distinct value (an Arrow kernel), not per row
    keys = pa.array(list(_WEEKDAYS))
    index = pc.index_in(names, value_set=keys)
    lookup = np.array(list(_WEEKDAYS.values()), dtype=np.int64)
    known = _valid(index) & _valid(names)
    if (valid & _valid(names) & ~known).any():
        bad = names.filter(pa.array(valid & _valid(names) & ~known))[0].as_py()
        raise DataError(f"next_day(): `{bad}` is not a day of the week",
                        hint="use MO, TU, WE, TH, FR, SA, SU (or Mon, Monday, ...)")
    target = lookup[np.asarray(pc.fill_null(index, 0).to_numpy(zero_copy_only=False), dtype=np.int64)]
    # 1970-01-01 was a Thursday (3 with Monday = 0)
    weekday = (days.astype(np.int64) + 3) % 7
    ahead = (target - weekday - 1) % 7 + 1
    return _dates_out(days + ahead.astype("timedelta64[D]"), valid & known)


@kernel("spark_months_between")
def _months_between(name, args, dtype, n):
    us1, v1 = _micros(args[0], n)
    us2, v2 = _micros(args[1], n)
    round_off = bool(args[2].as_py())
    d1, d2 = np.floor_divide(us1, _DAY_US), np.floor_divide(us2, _DAY_US)
    t1, t2 = us1 - d1 * _DAY_US, us2 - d2 * _DAY_US
    m1, day1, len1 = _month_parts(d1.astype("datetime64[D]"))
    m2, day2, len2 = _month_parts(d2.astype("datetime64[D]"))
    month_diff = (m1.astype(np.int64) - m2.astype(np.int64)).astype(np.float64)
    # Spark: the same day of the month, or both last days of their months, is a whole number of months
    whole = (day1 == day2) | ((day1 == len1) & (day2 == len2))
    seconds = (day1 - day2) * 86_400.0 + (t1 - t2) / 1e6
    out = np.where(whole, month_diff, month_diff + seconds / (31 * 86_400.0))
    if round_off:
        out = np.round(out, 8)
    return pa.array(out, pa.float64(), mask=~(v1 & v2))


@kernel("spark_format")
def _format(name, args, dtype, n):
    arr = to_array(args[0], n).cast(pa.timestamp("us"))
    fmt, digits = args[1].as_py(), args[2].as_py()
    # %S prints the fraction of the timestamp's unit: floor to the digits the pattern asks for
    unit = {0: "s", 3: "ms", 6: "us"}[digits]
    if unit != "us":
        arr = pc.floor_temporal(arr, unit="second" if unit == "s" else "millisecond").cast(pa.timestamp(unit))
    return pc.strftime(arr, format=fmt, locale="C")


@kernel("spark_parse")
def _parse(name, args, dtype, n):
    text = to_array(args[0], n)
    fmt, as_date = args[1].as_py(), args[2].as_py()
    out = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    failed = _valid(text) & ~_valid(out)
    if failed.any() and not (len(args) > 3 and args[3].as_py()):
        bad = text.filter(pa.array(failed))[0].as_py()
        raise DataError(f"[CANNOT_PARSE_TIMESTAMP] Text '{bad}' could not be parsed with the pattern",
                        hint="use try_to_timestamp, or set spark.sql.ansi.enabled to false")
    out = out.cast(pa.timestamp("us"))
    return out.cast(pa.date32()) if as_date else out


@kernel("spark_zone_shift")
def _zone_shift(name, args, dtype, n):
    arr = to_array(args[0], n).cast(pa.timestamp("us"))
    zone_arr = args[1]
    if not isinstance(zone_arr, pa.Scalar):
        raise UnsupportedError("from_utc_timestamp / to_utc_timestamp with a zone that is not a constant")
    zone = zone_arr.as_py()
    to_utc = bool(args[2].as_py())
    try:
        if to_utc:
            # the wall time in `zone` -> the same instant's wall time in UTC (a gap moves forward, as Spark)
            zoned = pc.assume_timezone(arr, timezone=zone, ambiguous="earliest", nonexistent="earliest")
            return zoned.cast(pa.int64()).cast(pa.timestamp("us"))
        return pc.local_timestamp(arr.cast(pa.int64()).cast(pa.timestamp("us", tz=zone))).cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"invalid time zone `{zone}`: {exc}") from None


@kernel("spark_time_bucket")
def _time_bucket(name, args, dtype, n):
    us, valid = _micros(args[0], n)
    width, start, end = int(args[1].as_py()), int(args[2].as_py()), bool(args[3].as_py())
    return _timestamps_out(us - np.mod(us - start, width) + (width if end else 0), valid)


@kernel("spark_make_timestamp")
def _make_timestamp(name, args, dtype, n):
    cols = [_ints(a, n) for a in args[:5]]
    sec_arr = to_array(args[5], n)
    valid = np.logical_and.reduce([v for _, v in cols] + [_valid(sec_arr)])
    sec_us = np.asarray(pc.fill_null(pc.multiply(sec_arr, pa.scalar(1_000_000, pa.decimal128(16, 6))).cast(
        pa.int64()), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    (y, _), (mo, _), (d, _), (h, _), (mi, _) = cols
    bad = valid & ((mo < 1) | (mo > 12) | (d < 1) | (h < 0) | (h > 23) | (mi < 0) | (mi > 59) |
                   (sec_us < 0) | (sec_us > 60_000_000))
    months = (y - 1970) * 12 + (mo - 1)
    start = np.where(valid, months, 0).astype("datetime64[M]").astype("datetime64[D]")
    length = ((np.where(valid, months, 0).astype("datetime64[M]") + 1).astype("datetime64[D]") - start).astype(np.int64)
    bad |= valid & (d > length)
    if bad.any():
        if len(args) < 7 or bool(args[6].as_py()):
            raise DataError("[DATETIME_FIELD_OUT_OF_BOUNDS] make_timestamp(): a field is out of range",
                            hint="use try_make_timestamp, or set spark.sql.ansi.enabled to false")
        valid &= ~bad                              # try_make_timestamp, or without ANSI mode: NULL
    day_us = (start.astype(np.int64) + d - 1) * _DAY_US
    return _timestamps_out(day_us + h * 3_600_000_000 + mi * 60_000_000 + sec_us, valid)


@kernel("spark_epoch_seconds")
def _epoch_seconds(name, args, dtype, n):
    us, valid = _micros(args[0], n)
    per = int(args[1].as_py()) if len(args) > 1 else 1_000_000      # microseconds per unit
    return pa.array(np.floor_divide(us, per), pa.int64(), mask=~valid)


@kernel("spark_from_epoch")
def _from_epoch(name, args, dtype, n):
    arr = to_array(args[0], n)
    scale = int(args[1].as_py())            # microseconds per unit of the argument
    if pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        values = pc.multiply(arr.cast(pa.float64()), float(scale))
        us = np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), dtype=np.float64).astype(np.int64)
    else:
        us = np.asarray(pc.fill_null(arr.cast(pa.int64()), 0).to_numpy(zero_copy_only=False), dtype=np.int64) * scale
    return _timestamps_out(us, _valid(arr))


# -- lists ---------------------------------------------------------------------------------------

@kernel("spark_sequence")
def _sequence(name, args, dtype, n):
    start, v1 = _ints(args[0], n)
    stop, v2 = _ints(args[1], n)
    step, v3 = _ints(args[2], n)
    valid = v1 & v2 & v3
    if (valid & (step == 0) & (start != stop)).any() or \
            (valid & (step != 0) & (np.sign(stop - start) * np.sign(step) < 0)).any():
        raise DataError("[ILLEGAL_SEQUENCE_BOUNDARIES] sequence(): the step does not lead from start to stop")
    safe = np.where(step == 0, 1, step)
    lengths = np.where(valid, (stop - start) // safe + 1, 0).astype(np.int64)
    total = int(lengths.sum())
    if total > 100_000_000:
        raise DataError("sequence(): too many elements")
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    values = start[rows] + within * step[rows]
    return build_list(lengths, pa.array(values, pa.int64()), valid, dtype)


@kernel("spark_element_at")
def _element_at(name, args, dtype, n):
    p = parts(args[0], n)
    index, ivalid = _ints(args[1], n)
    zero_based = bool(args[2].as_py())
    live = p.valid & ivalid
    if zero_based:
        pos = index
    else:
        if (live & (index == 0)).any():
            raise DataError("[INVALID_INDEX_OF_ZERO] The index 0 is invalid: element_at counts from 1",
                            hint="use 1 for the first element, -1 for the last")
        pos = np.where(index > 0, index - 1, p.lengths + index)
    inside = (pos >= 0) & (pos < p.lengths)
    if (live & ~inside).any():
        i = int(index[live & ~inside][0])
        size = int(p.lengths[live & ~inside][0])
        raise DataError(f"[INVALID_ARRAY_INDEX] The index {i} is out of bounds. The array has {size} elements",
                        hint="use try_element_at (or get) to get NULL instead")
    take = np.where(live & inside, p.starts + pos, 0)
    if len(p.flat) == 0:
        return pa.nulls(n, dtype)
    return p.flat.take(pa.array(take, pa.int64(), mask=~(live & inside))).cast(dtype)


@kernel("spark_array_distinct")
def _array_distinct(name, args, dtype, n):
    p = parts(args[0], n)
    if pa.types.is_nested(p.flat.type):
        raise UnsupportedError("array_distinct() of an array of nested values")
    flat_index = np.arange(len(p.flat), dtype=np.int64)
    table = pa.table({"p": pa.array(p.parents, pa.int64()), "v": p.flat, "i": pa.array(flat_index)})
    # NULLs group together in Arrow's group_by: each list keeps its first NULL, as Spark does
    firsts = table.group_by(["p", "v"], use_threads=False).aggregate([("i", "min")])
    keep = np.sort(np.asarray(firsts.column("i_min").to_numpy(), dtype=np.int64))
    rows = p.parents[keep]
    return build_list(np.bincount(rows, minlength=n).astype(np.int64), p.flat.take(pa.array(keep, pa.int64())),
                      p.valid, dtype)


@kernel("spark_map_entries")
def _map_entries(name, args, dtype, n):
    arr = to_array(args[0], n)
    entries = pa.StructArray.from_arrays([arr.keys, arr.items], fields=list(dtype.value_type))
    return pa.ListArray.from_arrays(arr.offsets, entries, mask=arr.is_null() if arr.null_count else None)


@kernel("spark_list_mode")
def _list_mode(name, args, dtype, n):
    p = parts(args[0], n)
    keep = p.flat.is_valid()
    table = pa.table({"p": pa.array(p.parents, pa.int64()).filter(keep), "v": p.flat.filter(keep)})
    counts = table.group_by(["p", "v"], use_threads=False).aggregate([("v", "count")])
    order = pc.sort_indices(counts, sort_keys=[("p", "ascending"), ("v_count", "descending"), ("v", "ascending")])
    counts = counts.take(order)
    rows = np.asarray(counts.column("p").to_numpy(), dtype=np.int64)
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    out = np.full(n, -1, dtype=np.int64)
    out[rows[first]] = np.nonzero(first)[0]
    values = counts.column("v").combine_chunks()
    if len(values) == 0:
        return pa.nulls(n, dtype)
    return values.take(pa.array(out, pa.int64(), mask=out < 0)).cast(dtype)


@kernel("spark_list_percentile")
def _list_percentile(name, args, dtype, n):
    p = parts(args[0], n)
    wanted = args[1].as_py()
    interpolate = bool(args[2].as_py())
    many = isinstance(wanted, (list, tuple))
    ps = list(wanted) if many else [wanted]
    if any(q is None or not 0 <= q <= 1 for q in ps):
        raise DataError("[INVALID_PARAMETER_VALUE] the percentage must be between 0.0 and 1.0")
    keep = p.flat.is_valid()
    table = pa.table({"p": pa.array(p.parents, pa.int64()).filter(keep), "v": p.flat.filter(keep)})
    table = table.take(pc.sort_indices(table, sort_keys=[("p", "ascending"), ("v", "ascending")]))
    rows = np.asarray(table.column("p").to_numpy(), dtype=np.int64)
    values = table.column("v").combine_chunks()
    counts = np.bincount(rows, minlength=n).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    has = counts > 0
    outs = []
    for q in map(float, ps):                                   # per requested percentage (a constant list), not per row
        if interpolate:
            nums = np.asarray(values.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64) \
                if len(values) else np.zeros(1)
            pos = q * (counts - 1)
            lo = np.floor(pos).astype(np.int64)
            hi = np.ceil(pos).astype(np.int64)
            lo_v = nums[np.where(has, starts + lo, 0)] if len(values) else np.zeros(n)
            hi_v = nums[np.where(has, starts + hi, 0)] if len(values) else np.zeros(n)
            outs.append(pa.array(lo_v + (pos - lo) * (hi_v - lo_v), pa.float64(), mask=~has))
        else:
            # the smallest value with at least q of the values at or below it
            k = np.maximum(np.ceil(q * counts).astype(np.int64) - 1, 0)
            if len(values) == 0:
                outs.append(pa.nulls(n, values.type))
            else:
                outs.append(values.take(pa.array(np.where(has, starts + k, 0), pa.int64(), mask=~has)))
    if not many:
        return outs[0].cast(dtype)
    element = dtype.value_type
    stacked = pa.concat_arrays([o.cast(element) for o in outs]) if outs else pa.array([], element)
    order = np.arange(len(ps) * n, dtype=np.int64).reshape(len(ps), n).T.reshape(-1)
    flat = stacked.take(pa.array(order, pa.int64()))
    return build_list(np.full(n, len(ps), dtype=np.int64), flat, has, dtype)


__all__: list[str] = []


# -- higher-order functions with two-parameter lambdas ------------------------------------------

def _evaluate_lambda(bound, params: list, rows: np.ndarray) -> pa.Array:
    """``bound`` (a BoundLambda) evaluated with its parameters set to ``params`` (arrays, one value per
    entry of ``rows``) and its outer columns taken at ``rows``."""
    from quarry.compute.expr_eval import evaluate_array
    from quarry.logical.expressions import ColumnRef
    fn = bound.fn
    columns, names = [], []
    for param, data in zip(fn.params, params):
        columns.append(data if data.type == param.dtype else data.cast(param.dtype))
        names.append(param.key)
    outer = {e.field.key for e in fn.body.walk() if isinstance(e, ColumnRef)}
    take = pa.array(rows, pa.int64())
    for key in sorted(outer):
        column = bound.batch.column(key)
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        columns.append(column.take(take))
        names.append(key)
    out = evaluate_array(fn.body, pa.RecordBatch.from_arrays(columns, names=names))
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


@kernel("spark_fold")
def _fold(name, args, dtype, n):
    p = parts(args[0], n)
    acc_type = args[2].fn.params[0].dtype
    acc = to_array(args[1], n).cast(acc_type)
    longest = int(p.lengths.max()) if n else 0
    for k in range(longest):                      # one step per element position, over all rows at once
        rows = np.nonzero(p.lengths > k)[0]
        x = p.flat.take(pa.array(p.starts[rows] + k, pa.int64()))
        merged = _evaluate_lambda(args[2], [acc.take(pa.array(rows, pa.int64())), x], rows).cast(acc_type)
        index = np.arange(n, dtype=np.int64)
        index[rows] = n + np.arange(len(rows), dtype=np.int64)
        acc = pa.concat_arrays([acc, merged]).take(pa.array(index, pa.int64()))
    if len(args) > 3:
        acc = _evaluate_lambda(args[3], [acc], np.arange(n, dtype=np.int64))
    mask = ~p.valid
    return pc.if_else(pa.array(mask), pa.nulls(n, acc.type), acc).cast(dtype) if mask.any() else acc.cast(dtype)


def _comparisons(bound, p, rows: np.ndarray, a_flat: np.ndarray, b_flat: np.ndarray) -> np.ndarray:
    """The comparator on pairs of flat elements (one pair per entry of ``rows``), as int64."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    out = _evaluate_lambda(bound, [p.flat.take(pa.array(a_flat, pa.int64())),
                                   p.flat.take(pa.array(b_flat, pa.int64()))], rows)
    if out.null_count:
        raise DataError("[COMPARATOR_RETURNS_NULL] the comparator of array_sort returned NULL")
    return np.asarray(out.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _small_sort(bound, p, rows: np.ndarray) -> np.ndarray:
    """Java's sort of arrays under 32 elements (what Spark's array_sort runs for them): the leading run
    (a strictly descending one reversed), then binary insertion of each later element. Vectorized over
    ``rows``: each comparison step is one evaluation of the comparator for every row at that step."""
    lengths = p.lengths[rows]
    width = int(lengths.max()) if len(rows) else 0
    cols = np.arange(width, dtype=np.int64)
    a = np.where(cols[None, :] < lengths[:, None], p.starts[rows][:, None] + cols[None, :], -1)
    m = len(rows)
    # the leading run: c(a[k], a[k-1]) for every k at once
    run = np.ones(m, dtype=np.int64)
    if width > 1:
        ks = np.nonzero((cols[None, 1:] < lengths[:, None]))
        c = np.zeros((m, width), dtype=np.int64)
        c[ks[0], ks[1] + 1] = _comparisons(bound, p, rows[ks[0]], a[ks[0], ks[1] + 1], a[ks[0], ks[1]])
        descending = (lengths > 1) & (c[:, 1] < 0)
        inside = cols[None, 1:] < lengths[:, None]
        ok = np.where(descending[:, None], c[:, 1:] < 0, c[:, 1:] >= 0) & inside
        run = 1 + np.cumprod(ok, axis=1).sum(axis=1)
        run = np.where(lengths > 1, run, lengths)
        # reverse a descending run
        rev = descending[:, None] & (cols[None, :] < run[:, None])
        source = np.where(rev, run[:, None] - 1 - cols[None, :], cols[None, :])
        a = np.take_along_axis(a, source, axis=1)
    for start in range(1, width):
        active = (start >= run) & (start < lengths)
        if not active.any():
            continue
        pivot = a[:, start]
        left = np.zeros(m, dtype=np.int64)
        right = np.full(m, start, dtype=np.int64)
        while True:
            searching = active & (left < right)
            if not searching.any():
                break
            idx = np.nonzero(searching)[0]
            mid = (left[idx] + right[idx]) >> 1
            c = _comparisons(bound, p, rows[idx], pivot[idx], a[idx, mid])
            right[idx] = np.where(c < 0, mid, right[idx])
            left[idx] = np.where(c < 0, left[idx], mid + 1)
        shift = active[:, None] & (cols[None, :] > left[:, None]) & (cols[None, :] <= start)
        source = np.where(shift, cols[None, :] - 1, cols[None, :])
        moved = np.take_along_axis(a, source, axis=1)
        moved[active, left[active]] = pivot[active]
        a = np.where(active[:, None], moved, a)
    return a


@kernel("spark_sort_by")
def _sort_by(name, args, dtype, n):
    p = parts(args[0], n)
    order = np.arange(len(p.flat), dtype=np.int64)
    small = np.nonzero((p.lengths > 1) & (p.lengths < 32))[0]
    if len(small):
        a = _small_sort(args[1], p, small)
        valid = a >= 0
        targets = p.starts[small][:, None] + np.arange(a.shape[1], dtype=np.int64)[None, :]
        order[targets[valid]] = a[valid]
    large = np.nonzero(p.lengths >= 32)[0]
    if len(large):
        # a longer array: each element's place is how many elements sort before it (equal ones keep their
        # order) — what any stable sort gives for a consistent comparator
        sizes = p.lengths[large] ** 2
        if int(sizes.sum()) > 50_000_000:
            raise UnsupportedError("array_sort with a comparator over arrays this long",
                                   hint="sort with sort_array or array_sort(col) without a comparator")
        rows = np.repeat(large, sizes)
        within = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        length = p.lengths[rows]
        i = p.starts[rows] + within // length
        j = p.starts[rows] + within % length
        c = _comparisons(args[1], p, rows, j, i)
        before = (c < 0) | ((c == 0) & (j < i))
        rank = np.bincount(i[before], minlength=len(p.flat)).astype(np.int64)
        members = np.nonzero(np.isin(p.parents, large))[0]
        order[p.starts[p.parents[members]] + rank[members]] = members
    return build_list(p.lengths, p.flat.take(pa.array(order, pa.int64())), p.valid, dtype)


@kernel("spark_sliding_windows")
def _sliding_windows(name, args, dtype, n):
    us, valid = _micros(args[0], n)
    width, slide, start = (int(a.as_py()) for a in args[1:])
    count = -(-width // slide)                     # the most windows one instant can be in
    last = us - np.mod(us - start, slide)          # the latest window start at or before ts
    starts = last[:, None] - slide * np.arange(count - 1, -1, -1, dtype=np.int64)[None, :]
    keep = (starts + width > us[:, None]) & valid[:, None]
    lengths = keep.sum(axis=1).astype(np.int64)
    flat_starts = starts[keep]
    entries = pa.StructArray.from_arrays(
        [pa.array(flat_starts, pa.int64()).cast(pa.timestamp("us")),
         pa.array(flat_starts + width, pa.int64()).cast(pa.timestamp("us"))], fields=list(dtype.value_type))
    return build_list(lengths, entries, valid, dtype)


@kernel("spark_array_insert")
def _array_insert(name, args, dtype, n):
    """Each row is ``arr[:cut] + NULL * before + [value] + NULL * after + arr[cut:]``: for a position p > 0 the
    value lands at index p (NULLs fill up to it); for p < 0 it lands |p| - 1 places before the end of the new
    array (-1: after the last element), NULLs between it and the array when |p| passes its start."""
    lists = parts(args[0], n)
    pos, pos_valid = _ints(args[1], n)
    values = to_array(args[2], n)
    valid = lists.valid & pos_valid
    if (valid & (pos == 0)).any():
        raise DataError("[INVALID_INDEX_OF_ZERO] The index 0 is invalid. An index shall be either < 0 or > 0 "
                        "(the first element has index 1).")
    size = lists.lengths
    k = -pos
    cut = np.where(pos > 0, np.minimum(pos - 1, size), np.where(k <= size, size + 1 - k, 0))
    before = np.where(pos > 0, np.maximum(pos - 1 - size, 0), 0)
    after = np.where((pos < 0) & (k > size), k - 1 - size, 0)
    length = np.where(valid, size + before + 1 + after, 0)
    cut, before, after = (np.where(valid, x, 0) for x in (cut, before, after))
    total = int(length.sum())
    row = np.repeat(np.arange(n), length)
    starts_out = np.concatenate([[0], np.cumsum(length)[:-1]]) if n else np.zeros(0, np.int64)
    j = np.arange(total) - starts_out[row]
    c, b, a = cut[row], before[row], after[row]
    flat_size = len(lists.flat)
    null_at = flat_size + n                            # the index of a NULL appended after the values
    source = np.where(j < c, lists.starts[row] + j,
                      np.where(j < c + b, null_at,
                               np.where(j == c + b, flat_size + row,
                                        np.where(j <= c + b + a, null_at, lists.starts[row] + j - b - 1 - a))))
    pool = pa.concat_arrays([lists.flat.cast(dtype.value_type), values.cast(dtype.value_type),
                             pa.nulls(1, dtype.value_type)])
    return build_list(length, pool.take(pa.array(source, pa.int64())), valid, dtype)


@kernel("spark_shuffle")
def _shuffle(name, args, dtype, n):
    """Each array's elements in a random order: a random key per element, sorted within its row (one
    lexsort over the batch). Seeded by the seed, the partition and the batch's first row, so a seeded
    shuffle repeats; not Spark's own sequence of permutations."""
    from quarry.compute.position import current_position
    lists = parts(args[0], n)
    seed = args[1].as_py() if isinstance(args[1], pa.Scalar) else None
    at = current_position()
    entropy = None if seed is None else [int(seed) & 0xFFFFFFFFFFFFFFFF, at.partition, at.offset]
    keys = np.random.default_rng(entropy).random(len(lists.flat))
    order = np.lexsort((keys, lists.parents)) if len(keys) else np.zeros(0, np.int64)
    return build_list(lists.lengths, lists.flat.take(pa.array(order, pa.int64())), lists.valid, dtype)


_POLICIES = ("EXCEPTION", "LAST_WIN")


def _policy(x) -> str:
    """A ``spark.sql.mapKeyDedupPolicy`` constant argument."""
    value = str(x.as_py()).upper()
    if value not in _POLICIES:
        raise UnsupportedError(f"Not supported: spark.sql.mapKeyDedupPolicy={value}",
                               hint="use EXCEPTION (Spark's default) or LAST_WIN")
    return value


@kernel("spark_map_concat")
def _map_concat(name, args, dtype, n):
    """The maps' entries row by row, the first map's first; a key met twice in a row raises Spark's
    DUPLICATED_MAP_KEY (its default spark.sql.mapKeyDedupPolicy, EXCEPTION), or with a first argument
    'LAST_WIN' (the policy; a map is never a string) keeps the later value."""
    policy = "EXCEPTION"
    if pa.types.is_string(args[0].type):
        policy, args = _policy(args[0]), args[1:]
    maps = [to_array(a, n) for a in args]
    valid = np.ones(n, bool)
    rows, which, keys, items = [], [], [], []
    for j, m in enumerate(maps):
        valid &= _valid(m)
        p = parts(m, n)                              # a map is a list of (key, value) entries
        rows.append(p.parents)
        which.append(np.full(len(p.parents), j))
        keys.append(pc.struct_field(p.flat, [0]))
        items.append(pc.struct_field(p.flat, [1]))
    row = np.concatenate(rows)
    keep = valid[row]
    order = np.lexsort((np.concatenate(which), row))          # row, then map, then position (stable)
    order = order[keep[order]]
    key = pa.concat_arrays(keys).take(pa.array(order, pa.int64()))
    item = pa.concat_arrays(items).take(pa.array(order, pa.int64()))
    return _build_map(row[order], key, item, valid, n, dtype, policy)


@kernel("spark_map_dedup")
def _map_dedup(name, args, dtype, n):
    """A map's repeated keys under ``spark.sql.mapKeyDedupPolicy`` (the second argument): EXCEPTION raises
    DUPLICATED_MAP_KEY, LAST_WIN keeps the key where it first appears with the value it had last."""
    m = to_array(args[0], n)
    p = parts(m, n)
    key, item = pc.struct_field(p.flat, [0]), pc.struct_field(p.flat, [1])
    return _build_map(p.parents, key, item, _valid(m), n, dtype, _policy(args[1]))


def _build_map(owner, key, item, valid, n, dtype, policy: str = "EXCEPTION"):
    """A MapArray of ``n`` rows from entries in row order (``owner``: each entry's row); a key twice in a
    row raises Spark's DUPLICATED_MAP_KEY (its default spark.sql.mapKeyDedupPolicy, EXCEPTION), or under
    LAST_WIN stays where it first appears with its last value (Spark's ``ArrayBasedMapBuilder``)."""
    entries = pa.table({"r": owner, "k": key, "i": np.arange(len(owner), dtype=np.int64)})
    counts = entries.group_by(["r", "k"], use_threads=False).aggregate([("i", "min"), ("i", "max"), ("i", "count")])
    twice = pc.greater(counts["i_count"], 1)
    if pc.any(twice).as_py():
        if policy != "LAST_WIN":
            dup = counts.filter(twice)["k"][0].as_py()
            raise DataError(f"[DUPLICATED_MAP_KEY] Duplicate map key {dup} was found, please check the input "
                            "data.", hint="set spark.sql.mapKeyDedupPolicy to LAST_WIN to keep the last value")
        first = counts["i_min"].to_numpy()
        order = np.argsort(first, kind="stable")
        first, last = first[order], counts["i_max"].to_numpy()[order]
        owner = np.asarray(owner)[first]
        key = key.take(pa.array(first, pa.int64()))
        item = item.take(pa.array(last, pa.int64()))
    lengths = np.bincount(owner, minlength=n) if len(owner) else np.zeros(n, np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32), pa.int32())
    out = pa.MapArray.from_arrays(offsets, key.cast(dtype.key_type), item.cast(dtype.item_type))
    return out if valid.all() else pc.if_else(pa.array(valid), out, pa.scalar(None, out.type))


@kernel("spark_str_to_map")
def _str_to_map(name, args, dtype, n):
    """``str_to_map(text, pairDelim, keyValueDelim)``: the text split at the pair delimiter (a regex; empty
    pieces kept), each piece at the first key-value delimiter (a regex); no delimiter: a NULL value."""
    text = to_array(args[0], n)
    pair, kv = args[1].as_py(), args[2].as_py()
    valid = _valid(text)
    pieces = pc.split_pattern_regex(pc.fill_null(text, ""), pair)
    p = parts(pieces, n)
    owner = p.parents[valid[p.parents]]
    flat = p.flat.filter(pa.array(valid[p.parents]))
    halves = pc.split_pattern_regex(flat, kv, max_splits=1)
    key = pc.list_element(halves, 0)
    has_value = pc.greater(pc.list_value_length(halves), 1)
    item = pc.if_else(has_value, _second(halves), pa.scalar(None, pa.string()))
    return _build_map(owner, key, item, valid, n, dtype, _policy(args[3]) if len(args) > 3 else "EXCEPTION")


def _second(halves: pa.Array) -> pa.Array:
    """The second element of each list of one or two strings ('' where there is none)."""
    padded = pc.list_slice(halves, 1, 2, return_fixed_size_list=False)
    return pc.list_element(pc.if_else(pc.equal(pc.list_value_length(padded), 0),
                                      pa.scalar([""], padded.type), padded), 0)


_UNIT_US = {"MICROSECOND": 1, "MILLISECOND": 1_000, "SECOND": 1_000_000, "MINUTE": 60_000_000,
            "HOUR": 3_600_000_000}
_UNIT_DAYS = {"DAY": 1, "DAYOFYEAR": 1, "WEEK": 7}
_UNIT_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


def _time_unit(unit: str, fname: str) -> str:
    key = str(unit).upper()
    if key not in _UNIT_US and key not in _UNIT_DAYS and key not in _UNIT_MONTHS:
        raise DataError(f"[INVALID_PARAMETER_VALUE.DATETIME_UNIT] {fname}: the unit `{unit}` is not one of "
                        "MICROSECOND, MILLISECOND, SECOND, MINUTE, HOUR, DAY, DAYOFYEAR, WEEK, MONTH, QUARTER, YEAR")
    return key


def _truncated_div(a: np.ndarray, b) -> np.ndarray:
    return np.sign(a) * (np.abs(a) // b)                 # toward zero, as Java's long division


@kernel("spark_timestamp_add")
def _timestamp_add(name, args, dtype, n):
    """Spark's ``timestampadd``: sub-day units add to the wall time, days and weeks add calendar days, months
    (quarters, years) add months keeping the time of day, a day past the month's end becoming its last."""
    unit = _time_unit(args[0].as_py(), "timestampadd")
    q, q_valid = _ints(args[1], n)
    us, valid = _micros(args[2], n)
    valid = valid & q_valid
    if unit in _UNIT_US:
        return _timestamps_out(us + q * _UNIT_US[unit], valid)
    if unit in _UNIT_DAYS:
        return _timestamps_out(us + q * _UNIT_DAYS[unit] * _DAY_US, valid)
    days = np.floor_divide(us, _DAY_US)
    time_of_day = us - days * _DAY_US
    d = days.astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    day_of_month = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + q * _UNIT_MONTHS[unit]
    last = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64) - 1
    new_days = target.astype("datetime64[D]").astype(np.int64) + np.minimum(day_of_month, last)
    return _timestamps_out(new_days * _DAY_US + time_of_day, valid)


@kernel("spark_timestamp_diff")
def _timestamp_diff(name, args, dtype, n):
    """Spark's ``timestampdiff`` (java.time's ``ChronoUnit.between`` of the wall times): whole units from start
    to end, toward zero; for days and longer a day counts only once the end's time of day reaches the start's."""
    unit = _time_unit(args[0].as_py(), "timestampdiff")
    start, v1 = _micros(args[1], n)
    end, v2 = _micros(args[2], n)
    valid = v1 & v2
    if unit in _UNIT_US:
        out = _truncated_div(end - start, _UNIT_US[unit])
        return pa.array(out, pa.int64(), mask=~valid)
    d1, d2 = np.floor_divide(start, _DAY_US), np.floor_divide(end, _DAY_US)
    t1, t2 = start - d1 * _DAY_US, end - d2 * _DAY_US
    d2 = np.where((d2 > d1) & (t2 < t1), d2 - 1, np.where((d2 < d1) & (t2 > t1), d2 + 1, d2))
    if unit in _UNIT_DAYS:
        return pa.array(_truncated_div(d2 - d1, _UNIT_DAYS[unit]), pa.int64(), mask=~valid)

    def packed(days):                                   # java.time's (proleptic month * 32 + day of month)
        day = days.astype("datetime64[D]")
        month = day.astype("datetime64[M]")
        return month.astype(np.int64) * 32 + (day - month.astype("datetime64[D]")).astype(np.int64) + 1
    months = _truncated_div(packed(d2) - packed(d1), 32)
    return pa.array(_truncated_div(months, _UNIT_MONTHS[unit]), pa.int64(), mask=~valid)
