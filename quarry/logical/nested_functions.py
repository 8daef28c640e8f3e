"""Function definitions over LIST, STRUCT and MAP values, under DuckDB's names and types.

Registered into the one registry of ``quarry.logical.functions`` (imported at its end);
the kernels are in ``quarry.compute.nested_kernels``. Indexes are 1-based and a
negative index counts from the end, as in DuckDB; an index out of range is NULL.
"""

from __future__ import annotations

import pyarrow as pa

from quarry.errors import QuarryTypeError, UnsupportedError
from quarry.logical import types as T
from quarry.logical.expressions import AggCall, Call, Expr, Literal
from quarry.logical.functions import (
    SUM_OF_BIGINT, Nulls, _int_arg, _mk, _nullable, _str_arg, cast, is_empty_map, lit, register,
)
from quarry.logical.nested import Lambda, refuse_unkeyable, unkeyable_type  # noqa: F401 (re-exported)

STRICT_FIRST = {"nulls": Nulls.TOLERANT, "strict_args": (0,)}


def _list_arg(e: Expr, fname: str) -> Expr:
    """``e`` as a LIST argument (an untyped NULL becomes a NULL list of NULLs)."""
    if T.is_list(e.dtype):
        return e
    if T.is_null(e.dtype):
        return cast(e, pa.list_(T.NULL))
    raise QuarryTypeError(f"function `{fname}` expects a list, got {T.sql_name(e.dtype)}",
                          hint="build one with [a, b, ...] or list_value(...)")


def common_element_type(args: list[Expr], what: str) -> pa.DataType:
    """The type values of ``args`` are coerced to when they become elements of one list."""
    maps = [a for a in args if not is_empty_map(a)]
    if len(maps) < len(args) and any(T.is_map(a.dtype) for a in maps):
        args = maps                     # an empty MAP {} takes the other maps' type
    out = T.NULL
    for a in args:
        common = T.common_type(out, a.dtype)
        if common is None and isinstance(a, Literal) and T.is_string(a.dtype):
            common = out            # a string literal among other values takes their type, as in comparisons
        if common is None:
            raise QuarryTypeError(f"cannot mix {T.sql_name(out)} and {T.sql_name(a.dtype)} in {what}",
                                  hint="CAST the values to one type")
        out = common
    return out


def _bind_list_value(name, args):
    element = common_element_type(args, "a list")
    return Call("list_value", tuple(cast(a, element) for a in args), pa.list_(element), False)


register("list_value", "scalar", _bind_list_value, 0, aliases=("list_pack",), nulls=Nulls.TOLERANT,
         doc="list_value(a, b, ...): the list [a, b, ...]")


def struct_pack(names: list[str], args: list[Expr]) -> Expr:
    """``{'a': x, 'b': y}``: a STRUCT with fields named ``names``."""
    lowered = [n.lower() for n in names]
    if len(set(lowered)) != len(lowered):
        raise QuarryTypeError("a struct's field names must be unique", hint="rename the repeated field")
    typed = list(args)
    dtype = pa.struct([pa.field(n, a.dtype) for n, a in zip(names, typed)])
    return Call("struct_pack", tuple(typed), dtype, False)


register("struct_pack", "scalar", None, 1, internal=True, nulls=Nulls.TOLERANT)


# MAP {} and map(): DuckDB's type is MAP("NULL", "NULL"), which Arrow cannot hold (a map's keys are never of
# the NULL type); quarry's is MAP(VARCHAR, "NULL"), and next to other maps it takes their type (is_empty_map)
EMPTY_MAP_TYPE = pa.map_(T.STRING, T.NULL)


def empty_map() -> Expr:
    return Call("empty_map", (), EMPTY_MAP_TYPE, False)


register("empty_map", "scalar", None, 0, 0, internal=True, nulls=Nulls.TOLERANT)


def map_from_lists(keys: Expr, values: Expr, keep_duplicates: bool = False) -> Expr:
    """``MAP {k: v, ...}`` and ``map([k, ...], [v, ...])``: a MAP from a list of keys and one of values.
    A key twice in one map is an error, as in DuckDB, unless ``keep_duplicates`` (a caller that resolves
    them itself, as Spark's ``spark.sql.mapKeyDedupPolicy`` does)."""
    keys, values = _list_arg(keys, "map"), _list_arg(values, "map")
    key_type = keys.dtype.value_type
    if T.is_null(key_type) or T.is_nested(key_type):
        raise UnsupportedError(f"MAP keys of type {T.sql_name(key_type)}", hint="use VARCHAR or number keys")
    extra = (Literal(True, T.BOOL),) if keep_duplicates else ()
    return Call("map_from_lists", (keys, values) + extra, pa.map_(key_type, values.dtype.value_type),
                _nullable([keys, values]))


register("map_from_lists", "scalar", None, 2, 3, internal=True)


def nested_key(e: Expr, nulls_first: bool = False) -> Expr:
    """A LIST, STRUCT or MAP value's BINARY sort key (``compute.nested_kernels.sort_key``): equal keys
    for equal values, and byte order is DuckDB's order (``nulls_first``: Spark's, NULL elements and
    fields before values). The physical planner groups, sorts and joins nested values by it; NULL for
    a NULL value."""
    args = (e, Literal(True, T.BOOL)) if nulls_first else (e,)
    return Call("nested_key", args, pa.binary(), e.nullable)


register("nested_key", "scalar", None, 1, 2, internal=True)


def _bind_list_extract(name, args):
    target, index = args
    if T.is_string(target.dtype):
        from quarry.logical.functions import call
        return call("substring", [target, _int_arg(index, name), lit(1)])
    target = _list_arg(target, name)
    return _mk("list_extract", [target, _int_arg(index, name)], target.dtype.value_type, True)


register("list_extract", "scalar", _bind_list_extract, 2, 2, aliases=("list_element", "array_extract"),
         doc="list_extract(l, i): the i-th element (1-based; negative from the end), NULL out of range")


def _bind_list_slice(name, args):
    target = _list_arg(args[0], name)
    return _mk("list_slice", [target] + [_int_arg(a, name) for a in args[1:]], target.dtype)


register("list_slice", "scalar", _bind_list_slice, 3, 3, aliases=("array_slice", "arrayslice"),
         doc="list_slice(l, begin, end): elements begin..end (1-based, inclusive; negative from the end)")


def struct_field_index(dtype: pa.DataType, key: Expr, fname: str) -> int:
    """The position of the field ``key`` (a constant name, or a 1-based number) names in a STRUCT type."""
    if not isinstance(key, Literal) or key.value is None:
        raise QuarryTypeError(f"{fname}() takes the field's name as a constant", hint="write s['name'] or s.name")
    if isinstance(key.value, str):
        names = [f.name.lower() for f in dtype]
        if key.value.lower() not in names:
            from quarry.errors import suggest
            raise QuarryTypeError(f"the struct has no field `{key.value}`",
                                  hint=suggest(key.value.lower(), names) or f"its fields: {', '.join(names)}")
        return names.index(key.value.lower())
    if isinstance(key.value, int) and not isinstance(key.value, bool) and 1 <= key.value <= dtype.num_fields:
        return key.value - 1
    raise QuarryTypeError(f"struct field {key.value} is out of range", hint=f"the struct has {dtype.num_fields} fields")


def _bind_struct_extract(name, args):
    target, key = args
    if T.is_map(target.dtype):
        return _bind_map_extract("map_extract", args)
    if T.is_null(target.dtype):
        return Literal(None, T.NULL)
    if not T.is_struct(target.dtype):
        raise QuarryTypeError(f"cannot take field {key} of a {T.sql_name(target.dtype)}",
                              hint="fields are taken from STRUCT values")
    i = struct_field_index(target.dtype, key, name)
    return Call("struct_extract", (target, Literal(i, T.INT32)), target.dtype.field(i).type, True)


register("struct_extract", "scalar", _bind_struct_extract, 2, 2, aliases=("structextract",),
         doc="struct_extract(s, 'name'): the field `name` of struct s (also s.name and s['name'])")


def _map_key(m: Expr, key: Expr, fname: str) -> Expr:
    key_type = m.dtype.key_type
    if isinstance(key, Literal) and T.is_string(key.dtype) and not T.is_string(key_type):
        return cast(key, key_type)
    common = T.common_type(key_type, key.dtype)
    if common != key_type:
        raise QuarryTypeError(f"{fname}(): the key {key} is not a {T.sql_name(key_type)}",
                              hint=f"the map's keys are {T.sql_name(key_type)}")
    return cast(key, key_type)


def _map_arg(e: Expr, fname: str) -> Expr:
    if T.is_map(e.dtype):
        return e
    raise QuarryTypeError(f"function `{fname}` expects a MAP, got {T.sql_name(e.dtype)}")


def _bind_map_extract(name, args):
    m = _map_arg(args[0], name)
    return Call("map_extract", (m, _map_key(m, args[1], name)), pa.list_(m.dtype.item_type), True)


def bind_map_value(m: Expr, key: Expr) -> Expr:
    """``m[key]``: the value under ``key``, NULL when there is none."""
    m = _map_arg(m, "map_extract_value")
    return Call("map_extract_value", (m, _map_key(m, key, "map_extract_value")), m.dtype.item_type, True)


register("map_extract", "scalar", _bind_map_extract, 2, 2, aliases=("element_at",),
         doc="map_extract(m, k): a list of the value under key k (empty when there is none)")
register("map_extract_value", "scalar", None, 2, 2, internal=True)


def _bind_length(name, args):
    target = args[0]
    if T.is_map(target.dtype):
        return _mk("cardinality", [target], T.INT64)
    target = _list_arg(target, name)
    if len(args) > 1 and not (isinstance(args[1], Literal) and args[1].value == 1):
        raise UnsupportedError("array_length() of a dimension other than 1")
    return _mk("list_length", [target], T.INT64)


def list_length(arg: Expr) -> Expr:
    """``len(l)`` of a LIST or MAP (len of a string is ``length``)."""
    return _bind_length("len", [arg])


register("list_length", "scalar", _bind_length, 1, 2, aliases=("array_length", "arraysize"),
         doc="list_length(l): the number of elements of l (NULL elements included)")
register("cardinality", "scalar", lambda n, a: _mk(n, [_map_arg(a[0], n)], T.INT64), 1, 1,
         doc="cardinality(m): the number of entries of map m")


def _element_and_value(name, args):
    target = _list_arg(args[0], name)
    element = target.dtype.value_type
    value = args[1]
    if T.is_null(element):
        return target, value
    common = T.common_type(element, value.dtype)
    if common is None and isinstance(value, Literal) and T.is_string(value.dtype):
        common = element
    if common is None:
        raise QuarryTypeError(f"{name}(): cannot look for a {T.sql_name(value.dtype)} in a {T.sql_name(target.dtype)}")
    return cast(target, pa.list_(common)), cast(value, common)


def _bind_contains(result):
    def bind(name, args):
        target, value = _element_and_value(name, args)
        return _mk(name, [target, value], result, True)
    return bind


def _bind_list_quantified(name, args):
    values, target, op, quantifier = args
    word = str(quantifier.value).upper()
    if T.is_null(values.dtype):
        values = cast(values, pa.list_(target.dtype if not T.is_null(target.dtype) else T.INT32))
    if not pa.types.is_list(values.dtype):
        raise QuarryTypeError(f"{word} needs a subquery or a LIST, got {T.sql_name(values.dtype)}",
                              hint=f"write x = {word} (SELECT ...) or x = {word} ([1, 2])")
    values, target = _element_and_value(word, [values, target])
    if T.is_nested(target.dtype):
        refuse_unkeyable(target.dtype, "comparing")
    return Call(name, (values, target, op, quantifier), T.BOOL, True)


# x op ANY (list) / x op ALL (list): the binder's spelling of DuckDB's x op ANY (SELECT unnest(list))
register("list_quantified", "scalar", _bind_list_quantified, 4, 4, internal=True, nulls=Nulls.TOLERANT)


register("list_contains", "scalar", _bind_contains(T.BOOL), 2, 2,
         aliases=("array_contains", "list_has", "array_has", "arraycontains"),
         doc="list_contains(l, x): whether l has an element equal to x")
register("list_position", "scalar", _bind_contains(T.INT32), 2, 2,
         aliases=("list_indexof", "array_position", "array_indexof"),
         doc="list_position(l, x): the 1-based position of the first element equal to x, NULL if none")


def _bind_list_concat(name, args):
    lists = [_list_arg(a, name) for a in args]
    element = common_element_type([Literal(None, a.dtype.value_type) for a in lists], name)
    typed = [cast(a, pa.list_(element)) for a in lists]
    return Call("list_concat", tuple(typed), pa.list_(element), False)


def bind_list_concat_op(args) -> Expr:
    """``l || m`` of two lists: their concatenation, NULL when either is NULL (DuckDB's ``||``; the
    function list_concat counts a NULL list as empty)."""
    for a in args:
        if not (pa.types.is_list(a.dtype) or T.is_null(a.dtype)):
            raise QuarryTypeError(f"cannot concatenate {' and '.join(T.sql_name(x.dtype) for x in args)}",
                                  hint="CAST the value to a list, or use list_append(l, x)")
    typed = [a if pa.types.is_list(a.dtype) else cast(a, pa.list_(T.NULL)) for a in args]
    concat = _bind_list_concat("list_concat", typed)
    return Call("list_concat_op", concat.args, concat.dtype, _nullable(args))


register("list_concat_op", "scalar", None, 2, 2, internal=True)
register("list_concat", "scalar", _bind_list_concat, 2, 2, aliases=("array_concat", "list_cat", "array_cat",
                                                                      "arrayconcat"),
         nulls=Nulls.TOLERANT, doc="list_concat(a, b): the elements of a then b (a NULL list counts as empty)")


def _same_list(name, args):
    target = _list_arg(args[0], name)
    return _mk(name, [target], target.dtype)


register("list_distinct", "scalar", _same_list, 1, 1, aliases=("array_distinct", "arraydistinct"),
         doc="list_distinct(l): the distinct non-NULL elements of l")
register("list_reverse", "scalar", _same_list, 1, 1, aliases=("array_reverse", "arrayreverse"))


def _bind_list_unique(name, args):
    # the number of distinct non-NULL elements: the length of list_distinct(l) (NULL for a NULL list)
    return list_length(_same_list("list_distinct", args))


register("list_unique", "scalar", _bind_list_unique, 1, 1, aliases=("array_unique",), rewrite=True,
         doc="list_unique(l): how many distinct non-NULL elements l has")


def bind_list_sort(target: Expr, ascending: bool, nulls_first: bool) -> Expr:
    target = _list_arg(target, "list_sort")
    return Call("list_sort", (target, lit(ascending), lit(nulls_first)), target.dtype, target.nullable)


register("list_sort", "scalar", None, 3, 3, internal=True)


def _bind_flatten(name, args):
    target = _list_arg(args[0], name)
    inner = target.dtype.value_type
    if T.is_null(inner):
        inner = pa.list_(T.NULL)
        target = cast(target, pa.list_(inner))
    if not T.is_list(inner):
        raise QuarryTypeError(f"flatten() expects a list of lists, got {T.sql_name(target.dtype)}")
    return _mk(name, [target], inner)


register("flatten", "scalar", _bind_flatten, 1, 1, doc="flatten(l): the inner lists of l concatenated")


def _list_aggregate_type(name, element: pa.DataType) -> tuple[pa.DataType, pa.DataType]:
    """(element type the values are aggregated in, result type) of ``list_<agg>``."""
    if name in ("list_min", "list_max"):
        return element, element
    if T.is_null(element):
        return element, T.FLOAT64 if name == "list_avg" else element
    if not T.is_numeric(element):
        raise QuarryTypeError(f"{name}() expects a list of numbers, got {T.sql_name(element)}[]")
    if name == "list_avg":
        return T.FLOAT64, T.FLOAT64
    if T.is_float(element):
        return T.FLOAT64, T.FLOAT64
    if T.is_decimal(element):
        return element, pa.decimal128(38, element.scale)
    # a sum of integers is exact, as the sum aggregate's (DuckDB: HUGEINT)
    return SUM_OF_BIGINT, SUM_OF_BIGINT


def _bind_list_aggregate(name, args):
    target = _list_arg(args[0], name)
    inner, result = _list_aggregate_type(name, target.dtype.value_type)
    return _mk(name, [cast(target, pa.list_(inner))], result)


for _name, _aliases in (("list_sum", ("array_sum",)), ("list_min", ("array_min", "arraymin")),
                        ("list_max", ("array_max", "arraymax")), ("list_avg", ("array_avg",))):
    register(_name, "scalar", _bind_list_aggregate, 1, 1, aliases=_aliases,
             doc=f"{_name}(l): the {_name[5:]} of the non-NULL elements of l, NULL when there are none")


def _bind_list_aggr(name, args):
    target, which = args
    if not isinstance(which, Literal) or not isinstance(which.value, str):
        raise QuarryTypeError("list_aggregate() takes the aggregate's name as a constant string")
    fname = {"sum": "list_sum", "min": "list_min", "max": "list_max", "avg": "list_avg", "mean": "list_avg"} \
        .get(which.value.lower())
    if fname is None:
        raise UnsupportedError(f"list_aggregate(l, '{which.value}')", hint="use 'sum', 'min', 'max' or 'avg'")
    return _bind_list_aggregate(fname, [target])


register("list_aggregate", "scalar", _bind_list_aggr, 2, 2, aliases=("list_aggr", "array_aggregate"), rewrite=True)


def _bind_string_split(name, args):
    return _mk("string_split", [_str_arg(args[0], name), _str_arg(args[1], name)], pa.list_(T.STRING))


register("string_split", "scalar", _bind_string_split, 2, 2, aliases=("str_split", "string_to_array", "split"),
         doc="string_split(s, sep): the pieces of s between occurrences of sep, as a VARCHAR[]")


def _bind_array_to_string(name, args):
    target = _list_arg(args[0], name)
    return _mk("array_to_string", [cast(target, pa.list_(T.STRING)), _str_arg(args[1], name)], T.STRING)


register("array_to_string", "scalar", _bind_array_to_string, 2, 2, aliases=("arraytostring", "list_to_string"),
         doc="array_to_string(l, sep): the non-NULL elements of l as text joined by sep")


def _bind_map_part(name, args):
    m = _map_arg(args[0], name)
    return _mk(name, [m], pa.list_(m.dtype.key_type if name == "map_keys" else m.dtype.item_type))


register("map_keys", "scalar", _bind_map_part, 1, 1, aliases=("mapkeys",))
register("map_values", "scalar", _bind_map_part, 1, 1)


# -- lambdas ---------------------------------------------------------------------------------


def _lambda_arg(e: Expr, fname: str) -> Lambda:
    if not isinstance(e, Lambda):
        raise QuarryTypeError(f"{fname}() takes a lambda as its second argument", hint=f"{fname}(l, x -> x + 1)")
    return e


def _bind_list_transform(name, args):
    target = _list_arg(args[0], name)
    fn = _lambda_arg(args[1], name)
    return Call("list_transform", (target, fn), pa.list_(fn.dtype), target.nullable)


def _bind_list_filter(name, args):
    target = _list_arg(args[0], name)
    fn = _lambda_arg(args[1], name)
    if fn.dtype != T.BOOL and not T.is_null(fn.dtype):
        raise QuarryTypeError(f"the lambda of list_filter() must return BOOLEAN, not {T.sql_name(fn.dtype)}")
    return Call("list_filter", (target, fn), target.dtype, target.nullable)


register("list_transform", "scalar", _bind_list_transform, 2, 2,
         aliases=("array_transform", "list_apply", "array_apply", "transform"), **STRICT_FIRST,
         doc="list_transform(l, x -> f(x)): f applied to every element")
register("list_filter", "scalar", _bind_list_filter, 2, 2, aliases=("array_filter", "filter", "arrayfilter"),
         **STRICT_FIRST, doc="list_filter(l, x -> p(x)): the elements for which p is TRUE")


# -- the list aggregate -------------------------------------------------------------------------


def _bind_array_agg(name, args):
    return AggCall("array_agg", tuple(args), pa.list_(args[0].dtype))


register("array_agg", "aggregate", _bind_array_agg, 1, None, aliases=("list", "arrayagg"),
         doc="array_agg(x [ORDER BY ...]): the values of x (NULLs included) as a list")


def _bind_first_last(name, args):
    from quarry.logical.expressions import SortKey
    if isinstance(args[0], SortKey) or any(not isinstance(a, SortKey) for a in args[1:]):
        raise QuarryTypeError(f"{name}() takes one value (and ORDER BY keys)", hint=f"{name}(x ORDER BY y)")
    return AggCall(name, tuple(args), args[0].dtype)


register("first", "aggregate", _bind_first_last, 1, None, aliases=("arbitrary",),
         doc="first(x [ORDER BY ...]): the value of the first row, NULL or not (any_value skips NULLs)")
register("last", "aggregate", _bind_first_last, 1, None,
         doc="last(x [ORDER BY ...]): the value of the last row, NULL or not")


def _bind_histogram(name, args):
    x = args[0]
    if T.is_null(x.dtype):
        x = cast(x, T.INT32)
    if T.is_nested(x.dtype):
        raise UnsupportedError(f"{name}() of {T.sql_name(x.dtype)} values", hint="histogram a scalar column")
    if len(args) > 1:
        return _binned_histogram(name, x, args[1])
    if name == "histogram_exact":
        raise QuarryTypeError("histogram_exact() takes the values and a list of bins",
                              hint="histogram_exact(x, [1, 2, 3])")
    # DuckDB's counts are UBIGINT, which quarry holds as BIGINT
    return AggCall("histogram", (x,), pa.map_(x.dtype, T.INT64))


def _binned_histogram(name: str, x: Expr, bins: Expr) -> AggCall:
    """``histogram(x, bins)``: how many values fall in each bin, a bin holding the values above the
    bin before it up to itself (``histogram_exact``: equal to it), as DuckDB counts them. The bins are
    a constant list; they and the values take one type, DOUBLE if either is fractional (DuckDB's
    DECIMALs too)."""
    if bins.column_ids() or any(isinstance(e, AggCall) for e in bins.walk()):
        raise UnsupportedError(f"{name}() with bins that are not a constant list",
                               hint=f"give the bins as a list literal: {name}(x, [10, 20, 30])")
    if T.is_null(bins.dtype):
        raise QuarryTypeError(f"the bin list of {name}() cannot be NULL", hint=f"{name}(x, [10, 20, 30])")
    if not T.is_list(bins.dtype):
        raise QuarryTypeError(f"the bins of {name}() must be a list, not {T.sql_name(bins.dtype)}",
                              hint=f"{name}(x, [10, 20, 30])")
    element = bins.dtype.value_type
    if T.is_null(element):
        element = x.dtype
    numeric = T.is_numeric(x.dtype) and T.is_numeric(element)
    if numeric and any(T.is_float(t) or T.is_decimal(t) for t in (x.dtype, element)):
        key = T.FLOAT64
    elif numeric:
        key = T.common_type(x.dtype, element)
    elif T.is_string(x.dtype) and T.is_string(element):
        key = T.STRING
    elif T.common_type(x.dtype, element) is not None and not (T.is_numeric(x.dtype) or T.is_string(x.dtype)):
        # DuckDB numbers the values above the last bin under the type's largest value (infinity for
        # dates and timestamps, which quarry has not), and loses those of BOOLEAN and INTERVAL
        raise UnsupportedError(f"{name}() with bins of {T.sql_name(x.dtype)} values",
                               hint="histogram numbers or strings, e.g. epoch(ts) for a timestamp")
    else:
        raise QuarryTypeError(f"the bins of {name}() ({T.sql_name(bins.dtype)}) and its values "
                              f"({T.sql_name(x.dtype)}) must be of one type", hint="CAST the bins to the values' type")
    return AggCall(name, (cast(x, key), cast(bins, pa.list_(key))), pa.map_(key, T.INT64))


register("histogram", "aggregate", _bind_histogram, 1, 2,
         doc="histogram(x [, bins]): a MAP from each distinct non-NULL value of x (or each bin), in order, to its count")
register("histogram_exact", "aggregate", _bind_histogram, 2, 2,
         doc="histogram_exact(x, bins): a MAP from each bin to how many values equal it (the others under the "
             "type's largest value)")


def _bind_typeof(name, args):
    """typeof(x): the SQL name of x's type, a constant. Over an aggregate or a window function the
    call stays in the expression (in a CASE whose branches are that constant), so the query still
    aggregates: ``SELECT typeof(count(*)) FROM t`` is one row."""
    from quarry.logical import functions as F
    from quarry.logical.expressions import WindowCall
    text = Literal(T.sql_name(args[0].dtype), T.STRING)
    if any(isinstance(e, (AggCall, WindowCall)) for e in args[0].walk()):
        return F.call("case", [F.call("is_null", [args[0]]), text, text])
    return text


register("typeof", "scalar", _bind_typeof, 1, 1, rewrite=True,
         nulls=Nulls.TOLERANT, doc="typeof(x): the SQL name of x's type")
register("to_json", "scalar", lambda n, a: _mk(n, [a[0]], T.STRING), 1, 1,
         doc="to_json(x): x as JSON text (lists as arrays, structs and maps as objects)")
# the functions the Spark front end builds Spark's semantics from (registered on import)
from quarry.logical import spark_support  # noqa: E402,F401


# -- DuckDB's list helpers, issue #12 ----------------------------------------------------------------

def _bind_list_end(name, args):
    # the first / last element, NULL or not (list_extract(l, 1) / (l, -1)); NULL for an empty list
    target = _list_arg(args[0], name)
    return _mk("list_extract", [target, lit(1 if name == "list_first" else -1, T.INT64)], target.dtype.value_type, True)


register("list_first", "scalar", _bind_list_end, 1, 1, rewrite=True, doc="list_first(l): the first element of l")
register("list_last", "scalar", _bind_list_end, 1, 1, rewrite=True, doc="list_last(l): the last element of l")


def _bind_list_any_value(name, args):
    target = _list_arg(args[0], name)
    return _mk(name, [target], target.dtype.value_type, True)


register("list_any_value", "scalar", _bind_list_any_value, 1, 1,
         doc="list_any_value(l): the first non-NULL element of l")
def _bind_list_zip(name, args):
    # a BOOLEAN last argument is the truncate flag (NULL: false), as in DuckDB
    truncate = [args[-1]] if len(args) > 1 and pa.types.is_boolean(args[-1].dtype) else []
    lists = [_list_arg(a, name) for a in (args[:-1] if truncate else args)]
    # DuckDB's result is an unnamed STRUCT (a TUPLE); quarry names its fields as DuckDB's Arrow output does
    element = pa.struct([pa.field(f"element{i}", a.dtype.value_type) for i, a in enumerate(lists, 1)])
    return Call("list_zip", tuple(lists + truncate), pa.list_(element), False)


register("list_zip", "scalar", _bind_list_zip, 1, aliases=("array_zip",), nulls=Nulls.TOLERANT,
         doc="list_zip(l1, l2, ... [, truncate]): the list of structs of the lists' elements at each position, "
             "as long as the longest list (the shorter padded with NULL) or, with truncate, the shortest; a NULL "
             "list counts as empty")


register("list_count", "scalar", lambda n, a: _mk(n, [_list_arg(a[0], n)], T.INT64), 1, 1,
         doc="list_count(l): how many elements of l are not NULL")


def _numeric_list(e: Expr, fname: str, decimals: bool = True) -> Expr:
    target = _list_arg(e, fname)
    element = target.dtype.value_type
    if not (T.is_numeric(element) or T.is_null(element)):
        raise QuarryTypeError(f"{fname}() expects a list of numbers, got {T.sql_name(target.dtype)}")
    if T.is_decimal(element) and not decimals:
        raise UnsupportedError(f"{fname}() of a list of {T.sql_name(element)}",
                               hint=f"{fname}(list_transform(l, x -> x::DOUBLE)) gives the DOUBLE answer")
    return cast(target, pa.list_(T.FLOAT64))


register("list_product", "scalar", lambda n, a: _mk(n, [_numeric_list(a[0], n)], T.FLOAT64), 1, 1,
         aliases=("array_product",), doc="list_product(l): the product of the non-NULL elements, as a DOUBLE")
register("list_median", "scalar", lambda n, a: _mk(n, [_numeric_list(a[0], n, decimals=False)], T.FLOAT64), 1, 1,
         aliases=("array_median",), doc="list_median(l): the median of the non-NULL numbers, as a DOUBLE")


def _bind_list_mode(name, args):
    target = _list_arg(args[0], name)
    if T.is_nested(target.dtype.value_type):
        raise UnsupportedError(f"{name}() of a list of {T.sql_name(target.dtype.value_type)}")
    return _mk(name, [target], target.dtype.value_type, True)


register("list_mode", "scalar", _bind_list_mode, 1, 1, aliases=("array_mode",),
         doc="list_mode(l): the most frequent non-NULL element (the earliest of those tied)")


def _bind_list_string_agg(name, args):
    target = _list_arg(args[0], name)
    if T.is_nested(target.dtype.value_type):
        raise UnsupportedError(f"{name}() of a list of {T.sql_name(target.dtype.value_type)}")
    return _mk(name, [cast(target, pa.list_(T.STRING))], T.STRING, True)


register("list_string_agg", "scalar", _bind_list_string_agg, 1, 1, aliases=("array_string_agg",),
         doc="list_string_agg(l): the non-NULL elements as text joined by ',' (NULL when there are none)")


def _two_lists(name, args) -> tuple[Expr, Expr]:
    a, b = (_list_arg(x, name) for x in args)
    element = common_element_type([Literal(None, a.dtype.value_type), Literal(None, b.dtype.value_type)], name)
    if T.is_nested(element):
        raise UnsupportedError(f"{name}() of lists of {T.sql_name(element)}")
    return cast(a, pa.list_(element)), cast(b, pa.list_(element))


register("list_has_any", "scalar", lambda n, a: _mk(n, list(_two_lists(n, a)), T.BOOL), 2, 2,
         aliases=("array_has_any",), doc="list_has_any(a, b): whether a and b share a non-NULL element")
register("list_has_all", "scalar", lambda n, a: _mk(n, list(_two_lists(n, a)), T.BOOL), 2, 2,
         aliases=("array_has_all",), doc="list_has_all(a, b): whether every non-NULL element of b is in a")


def _bind_list_intersect(name, args):
    a, b = _two_lists(name, args)
    return Call(name, (a, b), a.dtype, a.nullable)


# list_intersect(NULL, b) is NULL, list_intersect(a, NULL) is [] (DuckDB's)
register("list_intersect", "scalar", _bind_list_intersect, 2, 2, aliases=("array_intersect",), **STRICT_FIRST,
         doc="list_intersect(a, b): the distinct non-NULL elements of a that are in b")


def _bind_map_from_entries(name, args):
    target = _list_arg(args[0], name)
    entry = target.dtype.value_type
    if not (pa.types.is_struct(entry) and entry.num_fields == 2):
        if T.is_null(entry):
            raise UnsupportedError(f"{name}() of an empty or NULL list without a type",
                                   hint="CAST it: map_from_entries(CAST([] AS STRUCT(k INTEGER, v VARCHAR)[]))")
        raise QuarryTypeError(f"{name}() expects a list of (key, value) structs, got {T.sql_name(target.dtype)}",
                              hint="map_from_entries([{'k': 1, 'v': 'a'}])")
    key_type, value_type = entry.field(0).type, entry.field(1).type
    if T.is_null(key_type) or T.is_nested(key_type):
        raise UnsupportedError(f"MAP keys of type {T.sql_name(key_type)}", hint="use VARCHAR or number keys")
    return _mk(name, [target], pa.map_(key_type, value_type))


register("map_from_entries", "scalar", _bind_map_from_entries, 1, 1,
         doc="map_from_entries(l): the MAP of a list of (key, value) structs (keys unique and not NULL)")


def _bind_list_reduce(name, args):
    target = _list_arg(args[0], name)
    fn = _lambda_arg(args[1], name)
    return Call("list_reduce", (target, fn, *args[2:]), fn.dtype, True)


# list_reduce(NULL, ...) is NULL; the lambda decides about NULL elements and accumulators
register("list_reduce", "scalar", _bind_list_reduce, 2, 3, aliases=("array_reduce", "reduce"), **STRICT_FIRST,
         doc="list_reduce(l, lambda acc, x: f(acc, x) [, initial]): l folded from the left by f")
