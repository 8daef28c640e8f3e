"""Function definitions the Spark front end (``quarry.spark.functions``) builds Spark's semantics from,
where no quarry function already computes the same thing: Spark's calendar rules (``add_months``,
``months_between``, ``next_day``), Java-pattern formatting and parsing (the pattern is translated to
an strftime format once, before any row is seen), zone shifts, time buckets, and a few list
functions (``sequence``, ``element_at`` with Spark's index rules, per-list ``mode`` / percentile).

They are registered under ``spark_*`` names (internal to the Spark translator, though callable) and
imported with the nested functions, so every process that has the registry has them; the kernels are
in :mod:`quarry.compute.spark_support_kernels`.
"""

from __future__ import annotations

import pyarrow as pa

from quarry.errors import QuarryTypeError
from quarry.logical import types as T
from quarry.logical.expressions import Call, Expr, Literal
from quarry.logical.functions import Nulls, Volatility, _mk, cast
from quarry.logical.functions import register as _register


def register(name, kind, bind, min_args=0, max_args=None, **properties):
    """Register an internal definition: built by the Spark translator, not callable from quarry's SQL."""
    return _register(name, kind, bind, min_args, max_args, internal=True, **properties)


def _date(e: Expr, fname: str) -> Expr:
    if T.is_null(e.dtype):
        return cast(e, T.DATE)
    if pa.types.is_timestamp(e.dtype) or T.is_string(e.dtype):
        return cast(e, T.DATE, explicit=True)
    if e.dtype == T.DATE:
        return e
    raise QuarryTypeError(f"{fname}() expects a DATE, got {T.sql_name(e.dtype)}")


def _timestamp(e: Expr, fname: str) -> Expr:
    if T.is_null(e.dtype) or e.dtype == T.DATE or T.is_string(e.dtype):
        return cast(e, T.TIMESTAMP, explicit=True)
    if pa.types.is_timestamp(e.dtype):
        return cast(e, T.TIMESTAMP)
    raise QuarryTypeError(f"{fname}() expects a TIMESTAMP, got {T.sql_name(e.dtype)}")


def _int(e: Expr, fname: str) -> Expr:
    if T.is_null(e.dtype) or T.is_integer(e.dtype):
        return cast(e, T.INT64)
    raise QuarryTypeError(f"{fname}() expects an integer, got {T.sql_name(e.dtype)}")


def _const(e: Expr, fname: str):
    if not isinstance(e, Literal):
        raise QuarryTypeError(f"{fname}() takes a constant here")
    return e


# -- dates ---------------------------------------------------------------------------------------

register("spark_add_months", "scalar", lambda n, a: _mk(n, [_date(a[0], n), _int(a[1], n)], T.DATE), 2, 2)
register("spark_date_add", "scalar", lambda n, a: _mk(n, [_date(a[0], n), _int(a[1], n)], T.DATE), 2, 2)
register("spark_last_day", "scalar", lambda n, a: _mk(n, [_date(a[0], n)], T.DATE), 1, 1)
register("spark_next_day", "scalar", lambda n, a: _mk(n, [_date(a[0], n), cast(a[1], T.STRING)], T.DATE), 2, 2)
register("spark_months_between", "scalar",
         lambda n, a: _mk(n, [_timestamp(a[0], n), _timestamp(a[1], n), _const(a[2], n)], T.FLOAT64), 3, 3)
# spark_format(value, strftime format, fraction digits): the format comes translated from a Java pattern
register("spark_format", "scalar",
         lambda n, a: _mk(n, [_timestamp(a[0], n), _const(a[1], n), _const(a[2], n)], T.STRING), 3, 3)
# spark_parse(text, strptime format, date?): NULL text is NULL; text that does not parse is an error
# (a fourth argument TRUE: text that does not parse is NULL, the try_ forms)
register("spark_parse", "scalar",
         lambda n, a: _mk(n, [cast(a[0], T.STRING)] + [_const(x, n) for x in a[1:]],
                          T.DATE if a[2].value else T.TIMESTAMP), 3, 4)
# spark_zone_shift(ts, zone, to_utc): wall time in UTC -> wall time in zone, or back
register("spark_zone_shift", "scalar",
         lambda n, a: _mk(n, [_timestamp(a[0], n), cast(a[1], T.STRING), _const(a[2], n)], T.TIMESTAMP), 3, 3)
# spark_time_bucket(ts, width_us, start_us, end?): the start (or end) of ts's tumbling window
register("spark_time_bucket", "scalar",
         lambda n, a: _mk(n, [_timestamp(a[0], n), _const(a[1], n), _const(a[2], n), _const(a[3], n)], T.TIMESTAMP),
         4, 4)
# spark_make_timestamp(y, mo, d, h, mi, s[, raise]): a field out of range raises (ANSI) or gives NULL
register("spark_make_timestamp", "scalar",
         lambda n, a: _mk(n, [_int(x, n) for x in a[:5]] + [cast(a[5], pa.decimal128(16, 6))] + list(a[6:]),
                          T.TIMESTAMP), 6, 7)
# epoch seconds <-> timestamps
# (the optional second argument: microseconds per unit, 1000 for unix_millis, 1 for unix_micros)
register("spark_epoch_seconds", "scalar", lambda n, a: _mk(n, [_timestamp(a[0], n), *a[1:]], T.INT64), 1, 2)
register("spark_from_epoch", "scalar",
         lambda n, a: _mk(n, [a[0], _const(a[1], n)], T.TIMESTAMP), 2, 2)


# -- lists ---------------------------------------------------------------------------------------

def _list(e: Expr, fname: str) -> Expr:
    if T.is_list(e.dtype):
        return e
    if T.is_null(e.dtype):
        return cast(e, pa.list_(T.NULL))
    raise QuarryTypeError(f"{fname}() expects an array, got {T.sql_name(e.dtype)}")


register("spark_sequence", "scalar",
         lambda n, a: _mk(n, [_int(a[0], n), _int(a[1], n), _int(a[2], n)], pa.list_(T.INT64)), 3, 3)


def _bind_element_at(name, args):
    target = _list(args[0], name)
    return Call(name, (target, _int(args[1], name), _const(args[2], name)), target.dtype.value_type, True)


# spark_element_at(list, index, zero_based): Spark's index rules (1-based, negative from the end;
# or 0-based for arr[i]); an index out of range is an error, as in Spark's ANSI mode
register("spark_element_at", "scalar", _bind_element_at, 3, 3)


def _bind_array_distinct(name, args):
    target = _list(args[0], name)
    return _mk(name, [target], target.dtype)


# distinct elements in first-seen order, one NULL kept (Spark's array_distinct)
register("spark_array_distinct", "scalar", _bind_array_distinct, 1, 1)


def _bind_map_entries(name, args):
    m = args[0]
    if not T.is_map(m.dtype):
        raise QuarryTypeError(f"map_entries() expects a MAP, got {T.sql_name(m.dtype)}")
    entry = pa.struct([pa.field("key", m.dtype.key_type, False), pa.field("value", m.dtype.item_type)])
    return _mk(name, [m], pa.list_(entry))


register("spark_map_entries", "scalar", _bind_map_entries, 1, 1)


def _bind_list_mode(name, args):
    target = _list(args[0], name)
    return _mk(name, [target], target.dtype.value_type, True)


# the most frequent non-NULL element (ties: the smallest), NULL for an empty list
register("spark_list_mode", "scalar", _bind_list_mode, 1, 1)


def _bind_list_percentile(name, args):
    target = _list(args[0], name)
    p = _const(args[1], name)
    interpolate = bool(_const(args[2], name).value)
    element = T.FLOAT64 if interpolate else target.dtype.value_type
    result = pa.list_(element) if isinstance(p.value, (list, tuple)) else element
    return Call(name, (target, p, args[2]), result, True)


# spark_list_percentile(list, p or [p...], interpolate): Spark's percentile (linear interpolation, DOUBLE)
# or percentile_approx (an element of the list: the smallest with at least p of the values at or below it)
register("spark_list_percentile", "scalar", _bind_list_percentile, 3, 3)

__all__: list[str] = []


# -- higher-order functions with two-parameter lambdas ------------------------------------------

def _bind_fold(name, args):
    from quarry.logical.nested import Lambda
    target, zero, merge = _list(args[0], name), args[1], args[2]
    finish = args[3] if len(args) > 3 else None
    if not isinstance(merge, Lambda) or (finish is not None and not isinstance(finish, Lambda)):
        raise QuarryTypeError(f"{name}() takes lambdas for merge and finish")
    if merge.body.dtype != zero.dtype:
        merge = Lambda(merge.params, cast(merge.body, zero.dtype))
    out = (target, zero, merge) + ((finish,) if finish is not None else ())
    return Call(name, out, (finish.dtype if finish is not None else zero.dtype), True)


# spark_fold(list, zero, (acc, x) -> merge [, acc -> finish]): Spark's aggregate(); evaluated one element
# position at a time over every row that has that position (a loop over positions, not rows)
register("spark_fold", "scalar", _bind_fold, 3, 4, nulls=Nulls.TOLERANT, strict_args=(0,))


def _bind_sort_by(name, args):
    from quarry.logical.nested import Lambda
    target, cmp = _list(args[0], name), args[1]
    if not isinstance(cmp, Lambda):
        raise QuarryTypeError(f"{name}() takes a comparator lambda")
    return Call(name, (target, cmp), target.dtype, target.nullable)


# spark_sort_by(list, (a, b) -> int): array_sort with a comparator; every pair of a list's elements is
# compared in one evaluation of the comparator (lists are sorted by how many elements precede each)
register("spark_sort_by", "scalar", _bind_sort_by, 2, 2, nulls=Nulls.TOLERANT, strict_args=(0,))


# -- window functions that skip NULLs (Spark's ignoreNulls) ---------------------------------------

def _bind_offset_ignoring_nulls(name, args):
    from quarry.logical.functions import _bind_offset
    return _bind_offset(name, args)


register("lag_ignore_nulls", "window", _bind_offset_ignoring_nulls, 1, 3)
register("lead_ignore_nulls", "window", _bind_offset_ignoring_nulls, 1, 3)
register("nth_value_ignore_nulls", "window", lambda n, a: Call(n, (a[0], a[1]), a[0].dtype, True), 2, 2)


def _bind_sliding(name, args):
    ts = _timestamp(args[0], name)
    entry = pa.struct([pa.field("start", T.TIMESTAMP), pa.field("end", T.TIMESTAMP)])
    return Call(name, (ts,) + tuple(_const(a, name) for a in args[1:]), pa.list_(entry), True)


# spark_sliding_windows(ts, width_us, slide_us, start_us): every window [start, end) of the sliding
# series that holds ts, earliest first (a NULL ts has none)
register("spark_sliding_windows", "scalar", _bind_sliding, 4, 4)
register("last_value_ignore_nulls", "window", lambda n, a: Call(n, (a[0],), a[0].dtype, True), 1, 1)


def _bind_array_insert(name, args):
    arr, pos, value = args
    if not pa.types.is_list(arr.dtype):
        raise QuarryTypeError(f"array_insert() expects an array, got {T.sql_name(arr.dtype)}")
    element = arr.dtype.value_type
    if T.is_null(element):
        element = value.dtype
        arr = cast(arr, pa.list_(element))
    return Call(name, (arr, cast(pos, T.INT32), cast(value, element)), arr.dtype, True)


# spark_array_insert(arr, pos, value): Spark 4's array_insert (1-based; -1 appends; past either end pads NULLs)
register("spark_array_insert", "scalar", _bind_array_insert, 3, 3, nulls=Nulls.TOLERANT)


def _bind_shuffle(name, args):
    arr, seed = args
    if not pa.types.is_list(arr.dtype):
        raise QuarryTypeError(f"shuffle() expects an array, got {T.sql_name(arr.dtype)}")
    return Call(name, (arr, cast(seed, T.INT64)), arr.dtype, arr.nullable)


# spark_shuffle(arr, seed): a random permutation of each array (seeded per partition and batch position)
register("spark_shuffle", "scalar", _bind_shuffle, 2, 2, nulls=Nulls.TOLERANT, volatility=Volatility.VOLATILE)


def _bind_map_concat(name, args):
    policy = ()
    if args and T.is_string(args[0].dtype):             # the dedup policy (a map is never a string)
        policy, args = (args[0],), args[1:]
    maps = [a for a in args if not T.is_null(a.dtype)]
    for a in maps:
        if not pa.types.is_map(a.dtype):
            raise QuarryTypeError(f"map_concat() expects maps, got {T.sql_name(a.dtype)}")
    if not maps:
        return Literal(None, pa.map_(T.STRING, T.STRING))
    first = maps[0].dtype
    return Call(name, policy + tuple(cast(a, first) for a in args), first, True)


# spark_map_concat([policy,] m1, m2, ...): the entries of every map in order; NULL if any is NULL; a key twice
# raises, or with the policy 'LAST_WIN' keeps its last value (spark.sql.mapKeyDedupPolicy)
register("spark_map_concat", "scalar", _bind_map_concat, 1, 10_000)

# spark_str_to_map(text, pairDelim, keyValueDelim[, policy]): a map<string, string> (the delimiters are
# constant regexes; the policy as spark_map_concat's)
register("spark_str_to_map", "scalar",
         lambda n, a: Call(n, (cast(a[0], T.STRING),) + tuple(a[1:]), pa.map_(T.STRING, T.STRING), True), 3, 4)


def _bind_map_dedup(name, args):
    m, policy = args
    if not pa.types.is_map(m.dtype):
        raise QuarryTypeError(f"expected a map, got {T.sql_name(m.dtype)}")
    return Call(name, (m, policy), m.dtype, m.nullable)


# spark_map_dedup(m, policy): the map's repeated keys under spark.sql.mapKeyDedupPolicy
register("spark_map_dedup", "scalar", _bind_map_dedup, 2, 2)

# spark_timestamp_add(unit, quantity, ts) and spark_timestamp_diff(unit, start, end) (the unit a constant)
register("spark_timestamp_add", "scalar",
         lambda n, a: _mk(n, [cast(a[0], T.STRING), cast(a[1], T.INT64), _timestamp(a[2], n)], T.TIMESTAMP), 3, 3)
register("spark_timestamp_diff", "scalar",
         lambda n, a: _mk(n, [cast(a[0], T.STRING), _timestamp(a[1], n), _timestamp(a[2], n)], T.INT64), 3, 3)
