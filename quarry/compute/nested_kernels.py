"""Kernels of the LIST, STRUCT and MAP functions (``quarry.logical.nested_functions``).

Every kernel works on whole columns: a list column is taken apart into its flat
values (``pc.list_flatten``), the row each value belongs to (``pc.list_parent_indices``)
and each row's start and length among them; the work is done on the flat values with
Arrow kernels or numpy, and the result is put back together from new lengths with
``pa.ListArray.from_arrays``. No kernel loops over rows in Python.

A lambda (``list_transform(l, x -> x + 1)``) is evaluated the same way: its body runs
once, with the expression evaluator, on a batch of the flat values (and the outer
columns it reads, repeated to the flat values' rows).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import DataError, UnsupportedError
from quarry.logical import types as T
from quarry.compute.kernels import cast_value, kernel, to_array


# -- taking lists apart and putting them together ------------------------------------------------


def as_list_array(x, n: int) -> pa.ListArray:
    """``x`` (array, chunked array or scalar) as one ListArray of ``n`` rows; a MAP becomes the
    list of its entries (``struct<key, value>``)."""
    arr = to_array(x, n)
    if pa.types.is_map(arr.type):
        entries = pa.StructArray.from_arrays([arr.keys, arr.items], ["key", "value"])
        return pa.ListArray.from_arrays(arr.offsets, entries, mask=arr.is_null() if arr.null_count else None)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.list_(pa.null()))
    return arr


class Parts:
    """A list column taken apart: ``flat`` values, each value's ``parents`` row, and per row
    ``starts`` (into ``flat``), ``lengths`` (0 for a NULL list) and ``valid``."""

    def __init__(self, lists: pa.ListArray):
        self.lists = lists
        self.n = len(lists)
        self.flat = pc.list_flatten(lists)
        self.parents = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), dtype=np.int64)
        lengths = pc.fill_null(pc.list_value_length(lists), 0)
        self.lengths = np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64) if self.n \
            else np.zeros(0, dtype=np.int64)
        self.valid = np.asarray(lists.is_valid().to_numpy(zero_copy_only=False), dtype=bool)

    def positions(self) -> np.ndarray:
        """The 0-based position of each flat value inside its own list."""
        return np.arange(len(self.flat), dtype=np.int64) - self.starts[self.parents]


def parts(x, n: int) -> Parts:
    return Parts(as_list_array(x, n))


def build_list(lengths: np.ndarray, values: pa.Array, valid: np.ndarray | None, dtype: pa.DataType | None = None):
    """A ListArray of rows with ``lengths`` over the consecutive ``values``, NULL where not ``valid``."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    mask = None if valid is None or valid.all() else pa.array(~valid)
    if dtype is not None and values.type != dtype.value_type:
        values = values.cast(dtype.value_type)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)


def take_ranges(values: pa.Array, starts: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """The values ``values[starts[i] : starts[i] + lengths[i]]`` of every i, one after another."""
    total = int(lengths.sum())
    if total == 0:
        return values.slice(0, 0)
    ends = np.cumsum(lengths)
    pos = np.arange(total, dtype=np.int64) - np.repeat(ends - lengths - starts, lengths)
    return values.take(pa.array(pos, pa.int64()))


def _int_values(x, n: int) -> tuple[np.ndarray, np.ndarray]:
    """An integer argument as (int64 values, valid mask) of ``n`` rows."""
    arr = to_array(x, n)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(pc.fill_null(arr.cast(pa.int64()), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return values, valid


def _scatter(n: int, rows: np.ndarray, values: pa.Array, dtype: pa.DataType) -> pa.Array:
    """An array of ``n`` rows holding ``values`` at ``rows`` and NULL elsewhere."""
    index = np.full(n, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows), dtype=np.int64)
    return values.take(pa.array(index, mask=index < 0)).cast(dtype)


def _first_match(p: Parts, match: np.ndarray) -> np.ndarray:
    """Per row, the flat position of its first value where ``match`` holds, or -1."""
    hits = np.nonzero(match)[0]
    rows = p.parents[hits]
    out = np.full(p.n, -1, dtype=np.int64)
    uniq, first = np.unique(rows, return_index=True)
    out[uniq] = hits[first]
    return out


def _mask_of(arr) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


# -- constructors --------------------------------------------------------------------------------


@kernel("list_value")
def _list_value(name, args, dtype, n):
    k = len(args)
    element = dtype.value_type
    if k == 0:
        return build_list(np.zeros(n, dtype=np.int64), pa.array([], element), None)
    arrays = [to_array(a, n).cast(element) for a in args]
    values = pa.concat_arrays(arrays)
    order = (np.arange(n, dtype=np.int64)[:, None] + np.arange(k, dtype=np.int64)[None, :] * n).ravel()
    return build_list(np.full(n, k, dtype=np.int64), values.take(pa.array(order)), None)


@kernel("struct_pack")
def _struct_pack(name, args, dtype, n):
    arrays = [to_array(a, n).cast(f.type) for a, f in zip(args, dtype)]
    return pa.StructArray.from_arrays(arrays, fields=list(dtype))


@kernel("empty_map")
def _empty_map(name, args, dtype, n):
    return pa.MapArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], dtype.key_type),
                                   pa.array([], dtype.item_type))


@kernel("map_from_lists")
def _map_from_lists(name, args, dtype, n):
    keys, values = parts(args[0], n), parts(args[1], n)
    both = keys.valid & values.valid
    if (keys.lengths[both] != values.lengths[both]).any():
        raise DataError("a map needs as many keys as values", hint="give map() two lists of one length")
    lengths = np.where(both, keys.lengths, 0)
    key_values = take_ranges(keys.flat, keys.starts, lengths)
    if key_values.null_count:
        raise DataError("a map key cannot be NULL")
    keep_duplicates = len(args) > 2 and bool(args[2].as_py())
    if not keep_duplicates and len(key_values) > 1:
        owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
        counts = pa.table({"r": owner, "k": key_values}).group_by(["r", "k"], use_threads=False) \
            .aggregate([("r", "count")])
        if pc.any(pc.greater(counts["r_count"], 1)).as_py():
            raise DataError("map keys must be unique: a map has a key twice",
                            hint="give each key once (DuckDB refuses such a map too)")
    item_values = take_ranges(values.flat, values.starts, lengths)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32), pa.int32())
    out = pa.MapArray.from_arrays(offsets, key_values.cast(dtype.key_type), item_values.cast(dtype.item_type))
    if not both.all():
        out = pc.if_else(pa.array(both), out, pa.scalar(None, out.type))
    return out


# -- access ---------------------------------------------------------------------------------------


@kernel("list_extract")
def _list_extract(name, args, dtype, n):
    p = parts(args[0], n)
    index, index_valid = _int_values(args[1], n)
    at = np.where(index > 0, index - 1, p.lengths + index)
    ok = p.valid & index_valid & (index != 0) & (at >= 0) & (at < p.lengths)
    pos = np.where(ok, p.starts + at, 0)
    return p.flat.take(pa.array(pos, mask=~ok)) if len(p.flat) else pa.nulls(n, dtype)


def _slice_bound(value: np.ndarray, lengths: np.ndarray, end: bool) -> np.ndarray:
    """A 1-based (negative: from the end) slice bound as a 0-based position, clamped to the list."""
    if end:
        out = np.where(value >= 0, value, lengths + value + 1)
    else:
        out = np.where(value > 0, value - 1, np.where(value == 0, 0, lengths + value))
    return np.clip(out, 0, lengths)


@kernel("list_slice")
def _list_slice(name, args, dtype, n):
    p = parts(args[0], n)
    begin, begin_valid = _int_values(args[1], n)
    end, end_valid = _int_values(args[2], n)
    start = _slice_bound(begin, p.lengths, False)
    stop = _slice_bound(end, p.lengths, True)
    valid = p.valid & begin_valid & end_valid
    lengths = np.where(valid, np.maximum(stop - start, 0), 0)
    return build_list(lengths, take_ranges(p.flat, p.starts + start, lengths), valid, dtype)


@kernel("struct_extract")
def _struct_extract(name, args, dtype, n):
    return pc.struct_field(to_array(args[0], n), [args[1].as_py()])


def _map_matches(name, args, n) -> tuple[Parts, np.ndarray]:
    p = parts(args[0], n)
    keys = pc.struct_field(p.flat, [0])
    wanted = to_array(args[1], n).take(pa.array(p.parents)) if len(p.flat) else keys
    return p, _first_match(p, _mask_of(pc.equal(keys, wanted)))


@kernel("map_extract_value")
def _map_extract_value(name, args, dtype, n):
    p, pos = _map_matches(name, args, n)
    found = pos >= 0
    if not len(p.flat):
        return pa.nulls(n, dtype)
    return pc.struct_field(p.flat, [1]).take(pa.array(np.where(found, pos, 0), mask=~found))


@kernel("map_extract")
def _map_extract(name, args, dtype, n):
    p, pos = _map_matches(name, args, n)
    found = pos >= 0
    items = pc.struct_field(p.flat, [1]) if len(p.flat) else pa.array([], dtype.value_type)
    values = items.take(pa.array(pos[found])) if found.any() else items.slice(0, 0)
    return build_list(found.astype(np.int64), values, p.valid, dtype)


@kernel("list_length", "cardinality")
def _list_length(name, args, dtype, n):
    return pc.list_value_length(as_list_array(args[0], n)).cast(pa.int64())


@kernel("map_keys", "map_values")
def _map_part(name, args, dtype, n):
    p = parts(args[0], n)
    field = 0 if name == "map_keys" else 1
    values = pc.struct_field(p.flat, [field]) if len(p.flat) else pa.array([], dtype.value_type)
    return build_list(p.lengths, values, p.valid, dtype)


# -- searching ------------------------------------------------------------------------------------


def _position(args, n) -> tuple[Parts, np.ndarray]:
    p = parts(args[0], n)
    if not len(p.flat):
        return p, np.full(n, -1, dtype=np.int64)
    from quarry.compute.kernels import _compare          # SQL's equality: NaN equals NaN
    wanted = to_array(args[1], n).take(pa.array(p.parents))
    return p, _first_match(p, _mask_of(_compare("equal", (p.flat, wanted), pa.bool_(), len(wanted))))


@kernel("list_contains")
def _list_contains(name, args, dtype, n):
    p, pos = _position(args, n)
    return pa.array(pos >= 0, mask=~p.valid)


@kernel("list_position")
def _list_position(name, args, dtype, n):
    p, pos = _position(args, n)
    found = pos >= 0
    return pa.array(np.where(found, pos - p.starts + 1, 0).astype(np.int32), mask=~(found & p.valid))


_NEGATED = {"equal": "not_equal", "not_equal": "equal", "less": "greater_equal", "less_equal": "greater",
            "greater": "less_equal", "greater_equal": "less"}


@kernel("list_quantified")
def _list_quantified(name, args, dtype, n):
    """``x op ANY (list)``: TRUE when ``x op e`` is TRUE for some element, else NULL when it is NULL for
    some, else FALSE (also for a NULL or empty list); ``x op ALL (list)`` is ``NOT (x negated-op ANY
    (list))``. One comparison over all the elements, counted per row."""
    from quarry.compute.kernels import _compare
    op, quantifier = args[2].as_py(), args[3].as_py()
    if quantifier == "all":
        op = _NEGATED[op]
    p = parts(args[0], n)
    hit = np.zeros(n, dtype=bool)
    unknown = np.zeros(n, dtype=bool)
    if len(p.flat):
        wanted = to_array(args[1], n).take(pa.array(p.parents))
        found = _compare(op, (wanted, p.flat), pa.bool_(), len(wanted))
        true = np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
        null = np.asarray(pc.is_null(found).to_numpy(zero_copy_only=False), dtype=bool)
        hit = np.bincount(p.parents[true], minlength=n) > 0
        unknown = (np.bincount(p.parents[null], minlength=n) > 0) & ~hit
    return pa.array(~hit if quantifier == "all" else hit, mask=unknown)


# -- rearranging ----------------------------------------------------------------------------------


@kernel("list_concat", "list_concat_op")
def _list_concat(name, args, dtype, n):
    a, b = parts(args[0], n), parts(args[1], n)
    combined = pa.concat_arrays([a.flat.cast(dtype.value_type), b.flat.cast(dtype.value_type)])
    starts = np.stack([a.starts, b.starts + len(a.flat)], axis=1).ravel()
    lengths = np.stack([a.lengths, b.lengths], axis=1).ravel()
    # list_concat is never NULL: DuckDB's list_concat(NULL, NULL) is [] (a NULL list counts as empty);
    # l || m is NULL when either is
    valid = a.valid & b.valid if name == "list_concat_op" else np.ones(n, dtype=bool)
    return build_list(a.lengths + b.lengths, take_ranges(combined, starts, lengths), valid, dtype)


def _refuse_unkeyable_elements(p: Parts, fname: str) -> None:
    """Nested elements sort and compare by their sort keys; those holding INTERVALs have none."""
    from quarry.logical.nested import unkeyable_type
    if T.is_nested(p.flat.type) and unkeyable_type(p.flat.type) is not None:
        raise UnsupportedError(f"{fname}() of a list of {T.sql_name(p.flat.type)} values")


def _lists_by_parent(pairs: pa.Table, values: pa.Array, n: int, valid, dtype) -> pa.Array:
    """``n`` lists of ``values``, one per row: ``pairs`` (sorted by its row column ``p``) says whose each is."""
    rows = np.asarray(pairs.column("p").to_numpy(), dtype=np.int64)
    return build_list(np.bincount(rows, minlength=n).astype(np.int64), values, valid, dtype)


@kernel("list_distinct")
def _list_distinct(name, args, dtype, n):
    p = parts(args[0], n)
    _refuse_unkeyable_elements(p, name)
    keep = p.flat.is_valid()
    if T.is_nested(p.flat.type):
        # nested elements: one per distinct sort key, the first of them, in the order they come
        pairs = pa.table({"p": pa.array(p.parents).filter(keep), "v": sort_key(p.flat, len(p.flat)).filter(keep),
                          "i": pa.array(np.arange(len(p.flat), dtype=np.int64)).filter(keep)})
        unique = pairs.group_by(["p", "v"], use_threads=False).aggregate([("i", "min")])
        unique = unique.take(pc.sort_indices(unique, sort_keys=[("p", "ascending"), ("i_min", "ascending")]))
        return _lists_by_parent(unique, p.flat.take(unique.column("i_min").combine_chunks()), n, p.valid, dtype)
    pairs = pa.table({"p": pa.array(p.parents).filter(keep), "v": p.flat.filter(keep)})
    unique = pairs.group_by(["p", "v"], use_threads=False).aggregate([])
    unique = unique.take(pc.sort_indices(unique, sort_keys=[("p", "ascending")]))
    return _lists_by_parent(unique, unique.column("v").combine_chunks(), n, p.valid, dtype)


@kernel("list_sort")
def _list_sort(name, args, dtype, n):
    p = parts(args[0], n)
    _refuse_unkeyable_elements(p, name)
    ascending, nulls_first = args[1].as_py(), args[2].as_py()
    values = sort_key(p.flat, len(p.flat)) if T.is_nested(p.flat.type) else p.flat
    table = pa.table({"p": pa.array(p.parents, pa.int64()), "v": values})
    order = pc.sort_indices(table, sort_keys=[("p", "ascending"), ("v", "ascending" if ascending else "descending",
                                                                  "at_start" if nulls_first else "at_end")])
    return build_list(p.lengths, p.flat.take(order), p.valid, dtype)


@kernel("list_reverse")
def _list_reverse(name, args, dtype, n):
    p = parts(args[0], n)
    starts, lengths = p.starts[p.parents], p.lengths[p.parents]
    pos = starts + lengths - 1 - (np.arange(len(p.flat), dtype=np.int64) - starts)
    return build_list(p.lengths, p.flat.take(pa.array(pos, pa.int64())), p.valid, dtype)


@kernel("flatten")
def _flatten(name, args, dtype, n):
    outer = parts(args[0], n)
    inner = Parts(as_list_array(outer.flat, len(outer.flat)))
    lengths = np.bincount(outer.parents, weights=inner.lengths, minlength=n).astype(np.int64) \
        if len(outer.flat) else np.zeros(n, dtype=np.int64)
    return build_list(lengths, inner.flat, outer.valid, dtype)


_LIST_AGGREGATE = {"list_sum": "sum", "list_min": "min", "list_max": "max", "list_avg": "mean"}


@kernel(*_LIST_AGGREGATE)
def _list_aggregate(name, args, dtype, n):
    p = parts(args[0], n)
    if not len(p.flat) or pa.types.is_null(p.flat.type):
        return pa.nulls(n, dtype)
    values = p.flat if name != "list_avg" else cast_value(p.flat, T.FLOAT64)
    fn = _LIST_AGGREGATE[name]
    opts = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
    nan_max = fn == "max" and pa.types.is_floating(values.type)
    columns = {"p": pa.array(p.parents, pa.int64()), "v": values}
    specs = [("v", fn, opts)]
    if nan_max:
        # Arrow's max passes over NaN; DuckDB's NaN is above every number
        columns["nan"] = pc.is_nan(values)
        specs.append(("nan", "any", opts))
    grouped = pa.table(columns).group_by("p", use_threads=False).aggregate(specs)
    rows = np.asarray(grouped.column("p").to_numpy(), dtype=np.int64)
    result = grouped.column(1).combine_chunks()
    if nan_max:
        hit = pc.fill_null(grouped.column(2).combine_chunks(), False)
        result = pc.if_else(hit, pa.scalar(float("nan"), result.type), result)
    return _scatter(n, rows, result if result.type == dtype else cast_value(result, dtype), dtype)


# -- strings ------------------------------------------------------------------------------------


@kernel("string_split")
def _string_split(name, args, dtype, n):
    sep = args[1]
    if not isinstance(sep, pa.Scalar):
        raise UnsupportedError("string_split() with a separator that varies by row",
                               hint="use a constant separator")
    if sep.as_py() == "":
        raise UnsupportedError("string_split() with an empty separator")
    text = to_array(args[0], n)
    return pc.split_pattern(text, pattern=sep.as_py())


@kernel("array_to_string")
def _array_to_string(name, args, dtype, n):
    sep = args[1]
    if not isinstance(sep, pa.Scalar):
        raise UnsupportedError("array_to_string() with a separator that varies by row",
                               hint="use a constant separator")
    p = parts(args[0], n)
    keep = p.flat.is_valid()
    lengths = np.bincount(p.parents[_mask_of(keep)], minlength=n).astype(np.int64) if len(p.flat) \
        else np.zeros(n, dtype=np.int64)
    # DuckDB: a list of only NULLs joins to NULL (an empty list to '')
    strings = build_list(lengths, p.flat.filter(keep).cast(pa.string()), p.valid & ~((p.lengths > 0) & (lengths == 0)))
    return pc.binary_join(strings, sep.as_py())


# -- lambdas --------------------------------------------------------------------------------------


def _apply_lambda(fn, p: Parts):
    """The lambda's body evaluated once over the flat values of ``p`` (``fn`` is a BoundLambda)."""
    return fn.apply(p.flat, p.parents, p.positions())


@kernel("list_transform")
def _list_transform(name, args, dtype, n):
    p = parts(args[0], n)
    values = _apply_lambda(args[1], p)
    return build_list(p.lengths, values, p.valid, dtype)


@kernel("list_filter")
def _list_filter(name, args, dtype, n):
    p = parts(args[0], n)
    keep = _mask_of(_apply_lambda(args[1], p))
    lengths = np.bincount(p.parents[keep], minlength=n).astype(np.int64) if len(p.flat) \
        else np.zeros(n, dtype=np.int64)
    return build_list(lengths, p.flat.filter(pa.array(keep)), p.valid, dtype)


# -- printing nested values -----------------------------------------------------------------------


def _quote_json(strings: pa.Array) -> pa.Array:
    out = strings
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                         ("\b", "\\b"), ("\f", "\\f")):
        out = pc.replace_substring(out, raw, escaped)
    return pc.binary_join_element_wise('"', out, '"', "")


def render(arr: pa.Array, json: bool) -> pa.Array:
    """Each value's text: as DuckDB casts it to VARCHAR (``[1, 2]``, ``{'a': 1}``, ``{k=1}``), or as
    JSON. NULL stays NULL at the top; inside a nested value it prints as NULL (null)."""
    t = arr.type
    null_word = "null" if json else "NULL"
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_list(t) or pa.types.is_map(t):
        p = Parts(as_list_array(arr, len(arr)))
        if pa.types.is_map(t):
            keys = render(pc.struct_field(p.flat, [0]), json)
            if json and not pa.types.is_string(t.key_type):
                keys = _quote_json(keys)
            items = pc.fill_null(render(pc.struct_field(p.flat, [1]), json), null_word)
            inner = pc.binary_join_element_wise(keys, items, ":" if json else "=")
            opening, closing = "{", "}"
        else:
            inner = pc.fill_null(render(p.flat, json), null_word)
            opening, closing = "[", "]"
        joined = pc.binary_join(build_list(p.lengths, inner.cast(pa.string()), p.valid), "," if json else ", ")
        return pc.binary_join_element_wise(opening, joined, closing, "")
    if pa.types.is_struct(t):
        pieces = []
        for i, f in enumerate(t):
            value = pc.fill_null(render(pc.struct_field(arr, [i]), json), null_word)
            label = ('"' + f.name.replace('"', '\\"') + '":') if json else \
                ("'" + f.name.replace("\\", "\\\\").replace("'", "\\'") + "': ")
            pieces.append(pc.binary_join_element_wise(label, value, ""))
        body = pc.binary_join_element_wise(*pieces, "," if json else ", ") if pieces else pa.array([""] * len(arr))
        out = pc.binary_join_element_wise("{", body, "}", "")
        return pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.string()))
    if json:
        if pa.types.is_string(t):
            return _quote_json(arr)
        if pa.types.is_boolean(t) or T.is_numeric(t):
            return cast_value(arr, pa.string())
        return _quote_json(cast_value(arr, pa.string()))
    return _quote_element(cast_value(arr, pa.string()))


def _quote_element(text: pa.Array) -> pa.Array:
    """An element's text inside a nested value's VARCHAR, as DuckDB writes it: in single quotes (``'``
    and ``\\`` escaped by a backslash) when it is empty, starts or ends with white space, holds one of
    ``"'(),:=[\\]{}``, or reads NULL (any case); as it is otherwise."""
    if len(text) == 0:
        return text
    needs = pc.or_(pc.match_substring_regex(text, r"^$|^\s|\s$|[\"'(),:=\[\\\]{}]"),
                   pc.equal(pc.utf8_lower(text), "null"))
    if not pc.any(needs).as_py():
        return text
    escaped = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), "'", "\\'")
    return pc.if_else(needs, pc.binary_join_element_wise("'", escaped, "'", ""), text)


def cast_nested(x, dtype: pa.DataType, n: int, cast_values) -> pa.Array:
    """CAST of a LIST, STRUCT or MAP value: element by element (field by field, key and value) with
    ``cast_values(array, type)``, the scalar cast, so elements convert as single values do."""
    arr = to_array(x, n)
    if T.is_string(dtype):
        return render(arr, json=False)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), dtype)
    if pa.types.is_list(arr.type) and pa.types.is_list(dtype):
        p = Parts(arr)
        return build_list(p.lengths, cast_values(p.flat, dtype.value_type), p.valid, dtype)
    if pa.types.is_map(arr.type) and pa.types.is_map(dtype):
        p = Parts(as_list_array(arr, len(arr)))
        keys = cast_values(pc.struct_field(p.flat, [0]), dtype.key_type)
        items = cast_values(pc.struct_field(p.flat, [1]), dtype.item_type)
        offsets = pa.array(np.concatenate([[0], np.cumsum(p.lengths)]).astype(np.int32), pa.int32())
        out = pa.MapArray.from_arrays(offsets, keys, items)
        return out if p.valid.all() else pc.if_else(pa.array(p.valid), out, pa.scalar(None, out.type))
    if pa.types.is_struct(arr.type) and pa.types.is_struct(dtype):
        fields = [cast_values(pc.struct_field(arr, [i]), f.type) for i, f in enumerate(dtype)]
        mask = arr.is_null() if arr.null_count else None
        return pa.StructArray.from_arrays(fields, fields=list(dtype), mask=mask)
    raise UnsupportedError(f"cast from {T.sql_name(arr.type)} to {T.sql_name(dtype)}")


def nested_to_text(arr, n: int) -> pa.Array:
    """CAST(nested AS VARCHAR)."""
    return render(to_array(arr, n), json=False)


# -- sort keys: LIST, STRUCT and MAP values as bytes that order and compare as DuckDB's values do ---------

_END = b"\x00"


def sort_key(x, n: int, nulls_first: bool = False) -> pa.Array:
    """Each nested value as a BINARY key whose byte order (memcmp) is DuckDB's order of the values,
    and whose equality is theirs; NULL stays NULL. GROUP BY, DISTINCT, ORDER BY, joins and the
    comparison operators on LIST, STRUCT and MAP values work on these keys (Arrow can hash, sort
    and join binary columns, not nested ones).

    The encoding is prefix-free, so keys concatenate: an element or field is ``01`` + its key,
    or ``02`` when NULL (NULL sorts after every value, at any depth); a list is its elements then
    ``00`` (a shorter list sorts first: ``[] < [1] < [1, 2] < [1, NULL]``); a struct its fields in
    order; a MAP the list of its entries (key, value), in stored order, as DuckDB compares maps.
    Integers are big-endian with the sign bit flipped; doubles the usual order-preserving bits,
    -0.0 as 0.0 and every NaN one NaN, above infinity; strings their bytes with ``00`` escaped as
    ``00 FF``, ended by ``00 00``. With ``nulls_first`` a NULL element or field is ``01`` and a value
    ``02`` + its key instead: Spark's order, which puts NULL elements before every value.

        >>> sort_key(pa.array([[1], [], None]), 3).to_pylist()
        [b'\x01\x80\x00\x00\x00\x00\x00\x00\x01\x00', b'\x00', None]
    """
    marks = (b"\x02", b"\x01") if nulls_first else (b"\x01", b"\x02")
    return _key(to_array(x, n), marks)


def _element(arr: pa.Array, marks: tuple[bytes, bytes]) -> pa.Array:
    """The key of each element or field, marked valid or NULL (never NULL itself)."""
    valid, null = marks
    return pc.fill_null(pc.binary_join_element_wise(valid, _key(arr, marks), b""), null)


def _key(arr: pa.Array, marks: tuple[bytes, bytes]) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    n = len(arr)
    if pa.types.is_dictionary(t):
        return _key(arr.dictionary_decode(), marks)
    if pa.types.is_null(t):
        return pa.nulls(n, pa.binary())
    if pa.types.is_map(t) or pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        if not pa.types.is_map(t) and not pa.types.is_list(t):
            arr = arr.cast(pa.list_(t.value_type))
        p = Parts(as_list_array(arr, n))
        elements = _element(p.flat, marks).cast(pa.binary())
        joined = pc.binary_join(build_list(p.lengths, elements, p.valid), b"")
        return pc.binary_join_element_wise(joined, _END, b"")
    if pa.types.is_struct(t):
        fields = [_element(pc.struct_field(arr, [i]), marks) for i in range(t.num_fields)]
        body = pc.binary_join_element_wise(*fields, b"") if fields else pa.array([b""] * n, pa.binary())
        return pc.if_else(arr.is_valid(), body, pa.scalar(None, pa.binary())) if arr.null_count else body
    if T.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        raw = arr.cast(pa.binary())
        return pc.binary_join_element_wise(pc.replace_substring(raw, b"\x00", b"\x00\xff"), b"\x00\x00", b"")
    return _fixed_width_key(arr)


def _fixed_width_key(arr: pa.Array) -> pa.Array:
    """Big-endian bytes of fixed-width values, ordered as the values are."""
    t = arr.type
    n = len(arr)
    if pa.types.is_decimal(t):
        width = t.byte_width
        raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8, count=(arr.offset + n) * width)
        rows = raw[arr.offset * width:].reshape(n, width)[:, ::-1].copy()   # little- to big-endian
        rows[:, 0] ^= 0x80
    elif pa.types.is_boolean(t):
        rows = np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=np.uint8)[:, None]
    elif pa.types.is_floating(t):
        values = np.asarray(pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False)) + 0.0
        values = np.where(np.isnan(values), np.nan, values)      # one NaN, above +inf; -0.0 + 0.0 is 0.0
        bits = values.view(np.uint64)
        bits = np.where(bits >> np.uint64(63), ~bits, bits | np.uint64(1 << 63))
        rows = bits.astype(">u8").view(np.uint8).reshape(n, 8)
    elif pa.types.is_unsigned_integer(t):
        values = np.asarray(pc.fill_null(arr.cast(pa.uint64()), 0).to_numpy(zero_copy_only=False), dtype=np.uint64)
        rows = values.astype(">u8").view(np.uint8).reshape(n, 8)
    elif pa.types.is_integer(t) or pa.types.is_temporal(t) and not pa.types.is_interval(t):
        if pa.types.is_date32(t) or pa.types.is_time32(t):
            arr = arr.cast(pa.int32())
        values = np.asarray(pc.fill_null(arr.cast(pa.int64()), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
        bits = values.view(np.uint64) ^ np.uint64(1 << 63)
        rows = bits.astype(">u8").view(np.uint8).reshape(n, 8)
    else:
        raise UnsupportedError(f"grouping, ordering or comparing nested values holding {T.sql_name(t)} values")
    width = rows.shape[1]
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(rows.tobytes())])
    out = fixed.cast(pa.binary())
    return pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.binary())) if arr.null_count else out


@kernel("nested_key")
def _nested_key(name, args, dtype, n):
    nulls_first = len(args) > 1 and args[1].as_py()
    return sort_key(args[0], n, nulls_first=bool(nulls_first))


__all__ = ["Parts", "as_list_array", "build_list", "cast_nested", "nested_to_text", "parts", "render", "sort_key",
           "take_ranges"]


@kernel("to_json")
def _to_json(name, args, dtype, n):
    return render(to_array(args[0], n), json=True)


# the kernels of quarry.logical.spark_support
from quarry.compute import spark_support_kernels  # noqa: E402,F401


# -- DuckDB's list helpers, issue #12 ---------------------------------------------------------------


@kernel("list_any_value")
def _list_any_value(name, args, dtype, n):
    p = parts(args[0], n)
    if not len(p.flat):
        return pa.nulls(n, dtype)
    first = _first_match(p, np.asarray(p.flat.is_valid().to_numpy(zero_copy_only=False), dtype=bool))
    return p.flat.take(pa.array(np.maximum(first, 0), mask=first < 0))


@kernel("list_zip")
def _list_zip(name, args, dtype, n):
    element = dtype.value_type
    lists = [parts(a, n) for a in args[:element.num_fields]]
    lengths = np.stack([p.lengths for p in lists])             # a NULL list has no elements
    out_lengths = lengths.max(axis=0)
    if len(args) > element.num_fields:
        truncate = _mask_of(to_array(args[-1], n))
        out_lengths = np.where(truncate, lengths.min(axis=0), out_lengths)
    row = np.repeat(np.arange(n, dtype=np.int64), out_lengths)
    pos = np.arange(len(row), dtype=np.int64) - np.repeat(np.cumsum(out_lengths) - out_lengths, out_lengths)
    # each list's element at each position of the result, NULL past its end
    fields = [p.flat.take(pa.array(p.starts[row] + pos, pa.int64(), mask=pos >= p.lengths[row])).cast(f.type)
              for p, f in zip(lists, element)]
    return build_list(out_lengths, pa.StructArray.from_arrays(fields, fields=list(element)), None)


@kernel("list_count")
def _list_count(name, args, dtype, n):
    p = parts(args[0], n)
    valid = np.asarray(p.flat.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    counts = np.bincount(p.parents[valid], minlength=n).astype(np.int64) if len(p.flat) else np.zeros(n, np.int64)
    return pa.array(counts, pa.int64(), mask=~p.valid)


def _grouped(p: Parts, fn: str, dtype: pa.DataType, n: int) -> pa.Array:
    """An Arrow hash aggregate of each row's non-NULL values, NULL for rows without any."""
    if not len(p.flat) or pa.types.is_null(p.flat.type):
        return pa.nulls(n, dtype)
    opts = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
    grouped = pa.table({"p": pa.array(p.parents, pa.int64()), "v": p.flat}).group_by("p", use_threads=False) \
        .aggregate([("v", fn, opts)])
    rows = np.asarray(grouped.column("p").to_numpy(), dtype=np.int64)
    return _scatter(n, rows, grouped.column(1).combine_chunks(), dtype)


@kernel("list_product")
def _list_product(name, args, dtype, n):
    return _grouped(parts(args[0], n), "product", dtype, n)


@kernel("list_median")
def _list_median(name, args, dtype, n):
    p = parts(args[0], n)
    if not len(p.flat) or pa.types.is_null(p.flat.type):
        return pa.nulls(n, dtype)
    valid = np.asarray(p.flat.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(pc.fill_null(p.flat, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)[valid]
    rows = p.parents[valid]
    order = np.lexsort((values, rows))            # by row, then value (NaN last, as DuckDB orders it)
    values, rows = values[order], rows[order]
    counts = np.bincount(rows, minlength=n).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    has = counts > 0
    lo = np.where(has, starts + (counts - 1) // 2, 0)
    hi = np.where(has, starts + counts // 2, 0)
    if len(values):
        med = (values[lo] + values[hi]) / 2
        med = np.where(values[lo] == values[hi], values[lo], med)
    else:
        med = np.zeros(n)
    return pa.array(med, pa.float64(), mask=~has)


@kernel("list_mode")
def _list_mode(name, args, dtype, n):
    p = parts(args[0], n)
    if not len(p.flat) or pa.types.is_null(p.flat.type):
        return pa.nulls(n, dtype)
    keep = p.flat.is_valid()
    pairs = pa.table({"p": pa.array(p.parents).filter(keep), "v": p.flat.filter(keep),
                      "i": pa.array(np.arange(len(p.flat), dtype=np.int64)).filter(keep)})
    counted = pairs.group_by(["p", "v"], use_threads=False).aggregate([("i", "count"), ("i", "min")])
    # per row the value of the highest count, the earliest first occurrence among those tied
    order = pc.sort_indices(counted, sort_keys=[("p", "ascending"), ("i_count", "descending"), ("i_min", "ascending")])
    counted = counted.take(order)
    rows = np.asarray(counted.column("p").to_numpy(), dtype=np.int64)
    first = np.concatenate([[True], rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, bool)
    best = counted.filter(pa.array(first))
    return _scatter(n, rows[first], p.flat.take(best.column("i_min").combine_chunks()), dtype)


@kernel("list_string_agg")
def _list_string_agg(name, args, dtype, n):
    p = parts(args[0], n)
    valid = np.asarray(p.flat.is_valid().to_numpy(zero_copy_only=False), dtype=bool) if len(p.flat) \
        else np.zeros(0, bool)
    counts = np.bincount(p.parents[valid], minlength=n).astype(np.int64) if len(p.flat) else np.zeros(n, np.int64)
    kept = p.flat.filter(pa.array(valid)) if len(p.flat) else pa.array([], pa.string())
    lists = build_list(counts, kept.cast(pa.string()), None)
    out = pc.binary_join(lists, ",")
    return pc.if_else(pa.array(counts > 0), out, pa.scalar(None, pa.string()))


def _row_pairs(p: Parts) -> pa.Table:
    keep = p.flat.is_valid()
    return pa.table({"p": pa.array(p.parents, pa.int64()).filter(keep), "v": p.flat.filter(keep),
                     "i": pa.array(np.arange(len(p.flat), dtype=np.int64)).filter(keep)})


def _shared(a: Parts, b: Parts) -> pa.Table:
    """The distinct (row, value) pairs of a's non-NULL elements that b's row also holds, with the first
    position in a of each (an Arrow hash join of the two lists' pairs)."""
    left = _row_pairs(a).group_by(["p", "v"], use_threads=False).aggregate([("i", "min")])
    right = _row_pairs(b).group_by(["p", "v"], use_threads=False).aggregate([])
    return left.join(right, keys=["p", "v"], join_type="left semi", use_threads=False)


@kernel("list_has_any", "list_has_all")
def _list_has(name, args, dtype, n):
    a, b = parts(args[0], n), parts(args[1], n)
    valid = a.valid & b.valid
    if name == "list_has_any":
        if not len(a.flat) or not len(b.flat) or pa.types.is_null(a.flat.type):
            hits = np.zeros(n, np.int64)
        else:
            shared = _shared(a, b)
            hits = np.bincount(np.asarray(shared.column("p").to_numpy(), dtype=np.int64), minlength=n)
        return pa.array(hits > 0, pa.bool_(), mask=~valid)
    # every distinct non-NULL element of b is in a
    wanted_pairs = _row_pairs(b).group_by(["p", "v"], use_threads=False).aggregate([]) if len(b.flat) and \
        not pa.types.is_null(b.flat.type) else None
    if wanted_pairs is None:
        return pa.array(np.ones(n, bool), pa.bool_(), mask=~valid)
    wanted = np.bincount(np.asarray(wanted_pairs.column("p").to_numpy(), dtype=np.int64), minlength=n)
    if len(a.flat) and not pa.types.is_null(a.flat.type):
        found_pairs = _shared(b, a)
        found = np.bincount(np.asarray(found_pairs.column("p").to_numpy(), dtype=np.int64), minlength=n)
    else:
        found = np.zeros(n, np.int64)
    return pa.array(found == wanted, pa.bool_(), mask=~valid)


@kernel("list_intersect")
def _list_intersect(name, args, dtype, n):
    a, b = parts(args[0], n), parts(args[1], n)
    if not len(a.flat) or not len(b.flat) or pa.types.is_null(a.flat.type):
        return build_list(np.zeros(n, np.int64), pa.array([], dtype.value_type), a.valid, dtype)
    shared = _shared(a, b)
    shared = shared.take(pc.sort_indices(shared, sort_keys=[("p", "ascending"), ("i_min", "ascending")]))
    return _lists_by_parent(shared, shared.column("v").combine_chunks(), n, a.valid, dtype)


@kernel("map_from_entries")
def _map_from_entries(name, args, dtype, n):
    p = parts(args[0], n)
    if p.flat.null_count:
        raise DataError("map_from_entries(): a map key cannot be NULL (an entry is NULL)",
                        hint="filter the NULL entries out with list_filter(l, e -> e IS NOT NULL)")
    offsets = pa.array(np.concatenate([[0], np.cumsum(p.lengths)]).astype(np.int32), pa.int32())
    mask = pa.array(~p.valid)
    keys = pa.ListArray.from_arrays(offsets, pc.struct_field(p.flat, [0]), mask=mask)
    values = pa.ListArray.from_arrays(offsets, pc.struct_field(p.flat, [1]), mask=mask)
    return _map_from_lists(name, [keys, values], dtype, n)


@kernel("list_reduce")
def _list_reduce(name, args, dtype, n):
    """The fold runs one step per element position (not per row): at step k every row whose list is
    longer than k feeds its accumulator and k-th element to the lambda, evaluated once over them all."""
    p = parts(args[0], n)
    fn = args[1]
    if len(args) > 2:
        acc, k0 = to_array(args[2], n).cast(dtype), 0
    else:
        if (p.valid & (p.lengths == 0)).any():
            raise DataError("list_reduce() of an empty list", hint="give an initial value: list_reduce(l, f, 0)")
        first = np.where(p.lengths > 0, p.starts, 0)
        acc = p.flat.take(pa.array(first, mask=p.lengths == 0)).cast(dtype) if len(p.flat) else pa.nulls(n, dtype)
        k0 = 1
    longest = int(p.lengths.max()) if n else 0
    for k in range(k0, longest):
        rows = np.flatnonzero(p.lengths > k)
        x = p.flat.take(pa.array(p.starts[rows] + k, pa.int64()))
        out = fn.apply_columns([acc.take(pa.array(rows, pa.int64())), x,
                                pa.array(np.full(len(rows), k + 1, np.int64))], rows)
        out = to_array(out, len(rows)).cast(dtype)
        index = np.arange(n, dtype=np.int64)
        index[rows] = n + np.arange(len(rows), dtype=np.int64)
        acc = pa.concat_arrays([acc, out]).take(pa.array(index))
    return pc.if_else(pa.array(p.valid), acc, pa.scalar(None, dtype))
