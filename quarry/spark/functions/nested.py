"""Spark's collection functions (arrays, maps, structs), higher-order functions and generators, with
Spark's semantics (see docs/spark.md, "Functions").

Most are quarry's list functions with Spark's rules put around them at binding time, where the
argument types are known: ``element_at`` counts from 1 and raises out of range (ANSI), ``arr[i]``
counts from 0, ``size(NULL)`` is NULL (Spark 4's default), ``sort_array`` puts NULLs first when
ascending, ``array_distinct`` keeps one NULL. A Spark lambda (``lambda_function``) becomes a quarry
:class:`~quarry.logical.nested.Lambda` over the list's flat values, so its body runs once per batch;
its index parameter counts from 0 as in Spark.

Generators (``explode``, ``posexplode``, ``inline`` and their ``_outer`` forms) become quarry's
``unnest``: the select list's Unnest node repeats the row per element. ``json_tuple`` gives one row per
row, so its columns are plain expressions (one JSON field each).
"""

from __future__ import annotations

import threading

import pyarrow as pa

from quarry.api.column import Column
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import Expr, Field, Literal, new_id
from quarry.logical.nested import Lambda, LambdaParam, UnnestExpr
from quarry.logical.nested_functions import bind_list_sort, map_from_lists, struct_pack
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.functions.base import Call, Function, spark_function  # noqa: F401

__all__ = ["GENERATORS", "LambdaColumn", "generator", "lambda_variable", "extract_value", "expr_column"]


# -- building blocks ------------------------------------------------------------------------------

def expr_column(fn, *columns: Column, name: str = "expr") -> Column:
    """A Column whose expression ``fn`` builds from its argument Columns' bound expressions."""
    return Column(lambda ctx: fn(*[c.bind(ctx) for c in columns]), name)


def _call(name: str, *args: Expr) -> Expr:
    return FN.call(name, list(args))


def _null_of(dtype) -> Expr:
    return Literal(None, dtype)


def _case(*args: Expr) -> Expr:
    return FN.call("case", list(args))


def _list_arg(e: Expr, fname: str) -> Expr:
    if T.is_list(e.dtype):
        return e
    if T.is_null(e.dtype):
        return FN.cast(e, pa.list_(T.INT32))
    raise SparkError(f"`{fname}` expects an array, got {T.sql_name(e.dtype)}", error_class="DATATYPE_MISMATCH")


def _lambda(element: pa.DataType, body) -> Lambda:
    """A quarry Lambda over list elements of type ``element``; ``body(x, index0)`` builds its body."""
    x = Field("x", element, True, new_id())
    pos = Field("pos", T.INT64, True, new_id())
    index = FN.cast(_call("subtract", LambdaParam(pos), FN.lit(1)), T.INT32)
    return Lambda((x, pos), body(LambdaParam(x), index))


def _has_null(lst: Expr) -> Expr:
    """Whether the list holds a NULL element."""
    nulls = _call("list_filter", lst, _lambda(lst.dtype.value_type, lambda x, i: _call("is_null", x)))
    return _call("greater", _call("list_length", nulls), FN.lit(0))


def _int32(e: Expr) -> Expr:
    return FN.cast(e, T.INT32)


# -- lambdas -------------------------------------------------------------------------------------

_SCOPES = threading.local()


def _scopes() -> list[dict]:
    if not hasattr(_SCOPES, "stack"):
        _SCOPES.stack = []
    return _SCOPES.stack


class LambdaColumn(Column):
    """A Spark ``lambda_function``: its parameter names and body, bound by the higher-order function
    that takes it (the body's variables resolve to that function's list elements)."""

    def __init__(self, names: list[str], body: Column):
        super().__init__(self._outside, "lambda")
        self.names = names
        self.body = body

    @staticmethod
    def _outside(ctx):
        raise SparkError("a lambda function is only allowed as an argument of a higher-order function")

    def bind_body(self, ctx, bindings: dict[str, Expr]) -> Expr:
        _scopes().append(bindings)
        try:
            return self.body.bind(ctx)
        finally:
            _scopes().pop()

    def over_list(self, ctx, element: pa.DataType, fname: str, arity=(1, 2)) -> Lambda:
        """The lambda over list elements: ``x`` the element, a second parameter its 0-based index."""
        if len(self.names) not in arity:
            raise SparkError(f"the lambda of `{fname}` takes {' or '.join(map(str, arity))} parameter(s), "
                             f"got {len(self.names)}", error_class="INVALID_LAMBDA_FUNCTION_CALL")

        def body(x, index):
            bindings = {self.names[0]: x}
            if len(self.names) > 1:
                bindings[self.names[1]] = index
            return self.bind_body(ctx, bindings)
        return _lambda(element, body)


def lambda_variable(name: str) -> Column:
    """A ``unresolved_named_lambda_variable``: the parameter of the innermost lambda that has it."""
    def bind(ctx):
        for scope in reversed(_scopes()):
            if name in scope:
                return scope[name]
        raise SparkError(f"the lambda variable `{name}` is not in scope", error_class="UNRESOLVED_COLUMN")
    return Column(bind, name)


def _lambda_of(call: Call, i: int) -> LambdaColumn:
    arg = call.args[i] if i < len(call.args) else None
    if not isinstance(arg, LambdaColumn):
        raise SparkError(f"`{call.name}` takes a lambda function as argument {i + 1}")
    return arg


def _higher_order(call: Call, build) -> Column:
    """A higher-order call: ``build(ctx, list_expr, lambda_column)``."""
    target, fn = call.args[0], _lambda_of(call, 1)

    def bind(ctx):
        return build(ctx, _list_arg(target.bind(ctx), call.name), fn)
    return Column(bind, call.name)


@spark_function("transform")
def _transform(call: Call):
    call.expect(2)
    return _higher_order(call, lambda ctx, lst, fn: _call(
        "list_transform", lst, fn.over_list(ctx, lst.dtype.value_type, "transform")))


@spark_function("filter")
def _filter(call: Call):
    call.expect(2)
    return _higher_order(call, lambda ctx, lst, fn: _call(
        "list_filter", lst, fn.over_list(ctx, lst.dtype.value_type, "filter")))


def _exists_expr(ctx, lst: Expr, fn: LambdaColumn, negate: bool, fname: str) -> Expr:
    lam = fn.over_list(ctx, lst.dtype.value_type, fname, arity=(1,))
    if negate:
        lam = Lambda(lam.params, _call("not", FN.cast(lam.body, T.BOOL)))
    flags = _call("list_transform", lst, lam)
    # three-valued, as Spark: TRUE if some predicate is TRUE, else NULL if some is NULL, else FALSE
    any_true = _call("list_contains", flags, FN.lit(True))
    return _case(_call("is_null", lst), _null_of(T.BOOL), any_true, FN.lit(True), _has_null(flags),
                 _null_of(T.BOOL), FN.lit(False))


@spark_function("exists")
def _exists(call: Call):
    call.expect(2)
    return _higher_order(call, lambda ctx, lst, fn: _exists_expr(ctx, lst, fn, False, "exists"))


@spark_function("forall")
def _forall(call: Call):
    call.expect(2)
    return _higher_order(call, lambda ctx, lst, fn: _call("not", _exists_expr(ctx, lst, fn, True, "forall")))


@spark_function("zip_with")
def _zip_with(call: Call):
    call.expect(3)
    left, right, fn = call.args[0], call.args[1], _lambda_of(call, 2)
    if len(fn.names) != 2:
        raise SparkError("the lambda of `zip_with` takes two parameters", error_class="INVALID_LAMBDA_FUNCTION_CALL")

    def bind(ctx):
        a, b = _list_arg(left.bind(ctx), "zip_with"), _list_arg(right.bind(ctx), "zip_with")
        xn, yn = fn.names

        def over(lst, other, mine):
            # walk the longer list; the other's element at the same index (NULL past its end)
            def body(x, index):
                y = _call("list_extract", other, _call("add", FN.cast(index, T.INT64), FN.lit(1)))
                return fn.bind_body(ctx, {xn: x, yn: y} if mine == "x" else {xn: y, yn: x})
            return _call("list_transform", lst, _lambda(lst.dtype.value_type, body))
        along_a, along_b = over(a, b, "x"), over(b, a, "y")
        common = T.common_type(along_a.dtype, along_b.dtype) or along_a.dtype
        longer_a = _call("greater_equal", _call("list_length", a), _call("list_length", b))
        either_null = _call("or", _call("is_null", a), _call("is_null", b))
        return _case(either_null, _null_of(common), longer_a, FN.cast(along_a, common), FN.cast(along_b, common))
    return Column(bind, "zip_with")


def _two_parameter_lambda(ctx, fn: LambdaColumn, types: list, fname: str) -> Lambda:
    if len(fn.names) != len(types):
        raise SparkError(f"a lambda of `{fname}` takes {len(types)} parameter(s), got {len(fn.names)}",
                         error_class="INVALID_LAMBDA_FUNCTION_CALL")
    fields = [Field(name, t, True, new_id()) for name, t in zip(fn.names, types)]
    body = fn.bind_body(ctx, {f.name: LambdaParam(f) for f in fields})
    return Lambda(tuple(fields), body)


@spark_function("aggregate", "reduce")
def _aggregate(call: Call):
    call.expect(3, 4)
    target, zero = call.args[0], call.args[1]
    merge = _lambda_of(call, 2)
    finish = _lambda_of(call, 3) if len(call.args) > 3 else None

    def bind(ctx):
        lst = _list_arg(target.bind(ctx), call.name)
        z = zero.bind(ctx)
        if T.is_null(z.dtype):
            z = FN.cast(z, lst.dtype.value_type)
        args = [lst, z, _two_parameter_lambda(ctx, merge, [z.dtype, lst.dtype.value_type], call.name)]
        if finish is not None:
            args.append(_two_parameter_lambda(ctx, finish, [z.dtype], call.name))
        return _call("spark_fold", *args)
    return Column(bind, call.name)


def _entry_lambda(ctx, fn: LambdaColumn, entry: pa.DataType, fname: str) -> Lambda:
    """A ``(k, v) -> ...`` lambda over a map's entries (structs of key and value)."""
    if len(fn.names) != 2:
        raise SparkError(f"the lambda of `{fname}` takes 2 parameters, got {len(fn.names)}",
                         error_class="INVALID_LAMBDA_FUNCTION_CALL")
    return _lambda(entry, lambda x, i: fn.bind_body(ctx, {fn.names[0]: _call("struct_extract", x, FN.lit("key")),
                                                          fn.names[1]: _call("struct_extract", x, FN.lit("value"))}))


def _field_of_entries(entries: Expr, field: str) -> Expr:
    return _call("list_transform", entries,
                 _lambda(entries.dtype.value_type, lambda x, i: _call("struct_extract", x, FN.lit(field))))


@spark_function("transform_values", "map_filter")
def _map_entries_function(call: Call):
    """``transform_values(m, (k, v) -> v2)`` and ``map_filter(m, (k, v) -> bool)``, over the map's entries as a
    list (the lambda's body runs once per batch over all entries)."""
    call.expect(2)
    target, fn = call.args[0], _lambda_of(call, 1)

    def bind(ctx):
        m = target.bind(ctx)
        if not pa.types.is_map(m.dtype):
            raise SparkError(f"`{call.name}` expects a map, got {T.sql_name(m.dtype)}",
                             error_class="DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE")
        entries = _call("spark_map_entries", m)
        entry = entries.dtype.value_type
        body = _entry_lambda(ctx, fn, entry, call.name)
        if call.name == "map_filter":
            kept = _call("list_filter", entries, body)
            return map_from_lists(_field_of_entries(kept, "key"), _field_of_entries(kept, "value"))
        return map_from_lists(_field_of_entries(entries, "key"), _call("list_transform", entries, body))
    return Column(bind, call.name)


# -- arrays --------------------------------------------------------------------------------------

@spark_function("array")
def _array(call: Call):
    args = call.args
    if not args:
        return expr_column(lambda: FN.cast(_call("list_value"), pa.list_(T.STRING)))
    return expr_column(lambda *es: _call("list_value", *es), *args)


@spark_function("array_contains")
def _array_contains(call: Call):
    call.expect(2)

    def build(lst, value):
        lst = _list_arg(lst, "array_contains")
        found = _call("list_contains", lst, value)
        # Spark: not found but the array holds a NULL -> NULL
        return _case(_call("coalesce", found, FN.lit(False)), FN.lit(True), _has_null(lst), _null_of(T.BOOL),
                     found)
    return expr_column(build, *call.args)


@spark_function("array_distinct")
def _array_distinct(call: Call):
    call.expect(1)
    return expr_column(lambda a: _call("spark_array_distinct", _list_arg(a, "array_distinct")), *call.args)


def _both_or_null(a: Expr, b: Expr, value: Expr) -> Expr:
    return _case(_call("or", _call("is_null", a), _call("is_null", b)), _null_of(value.dtype), value)


@spark_function("array_union")
def _array_union(call: Call):
    call.expect(2)

    def build(a, b):
        a, b = _list_arg(a, "array_union"), _list_arg(b, "array_union")
        return _both_or_null(a, b, _call("spark_array_distinct", _call("list_concat", a, b)))
    return expr_column(build, *call.args)


def _membership(name: str, keep_members: bool):
    def build(a, b):
        a, b = _list_arg(a, name), _list_arg(b, name)

        def body(x, i):
            # a NULL element matches a NULL element (Spark's set semantics for arrays)
            member = _case(_call("is_null", x), _has_null(b),
                           _call("coalesce", _call("list_contains", b, x), FN.lit(False)))
            member = _call("coalesce", member, FN.lit(False))
            return member if keep_members else _call("not", member)
        kept = _call("list_filter", a, _lambda(a.dtype.value_type, body))
        return _both_or_null(a, b, _call("spark_array_distinct", kept))
    return build


@spark_function("array_intersect")
def _array_intersect(call: Call):
    call.expect(2)
    return expr_column(_membership("array_intersect", True), *call.args)


@spark_function("array_except")
def _array_except(call: Call):
    call.expect(2)
    return expr_column(_membership("array_except", False), *call.args)


@spark_function("array_join")
def _array_join(call: Call):
    call.expect(2, 3)
    replacement = call.args[2] if len(call.args) > 2 else None

    def build(a, sep, rep=None):
        a = _list_arg(a, "array_join")
        a = FN.cast(a, pa.list_(T.STRING)) if a.dtype.value_type != T.STRING else a
        if rep is not None:
            a = _call("list_transform", a, _lambda(T.STRING, lambda x, i: _call("coalesce", x, FN.cast(rep, T.STRING))))
        return _call("array_to_string", a, sep)
    cols = call.args[:2] + ([replacement] if replacement is not None else [])
    return expr_column(build, *cols)


@spark_function("array_sort")
def _array_sort(call: Call):
    call.expect(1, 2)
    if len(call.args) > 1:
        target, cmp = call.args[0], _lambda_of(call, 1)

        def bind(ctx):
            lst = _list_arg(target.bind(ctx), "array_sort")
            element = lst.dtype.value_type
            return _call("spark_sort_by", lst, _two_parameter_lambda(ctx, cmp, [element, element], "array_sort"))
        return Column(bind, "array_sort")
    return expr_column(lambda a: bind_list_sort(_list_arg(a, "array_sort"), True, False), call.args[0])


@spark_function("sort_array")
def _sort_array(call: Call):
    call.expect(1, 2)
    asc = call.literal(1, True)
    # Spark: NULLs first when ascending, last when descending
    return expr_column(lambda a: bind_list_sort(_list_arg(a, "sort_array"), bool(asc), bool(asc)), call.args[0])


@spark_function("element_at")
def _element_at(call: Call):
    call.expect(2)

    def build(target, key):
        if T.is_map(target.dtype):
            from quarry.logical.nested_functions import bind_map_value
            return bind_map_value(target, key)
        return _call("spark_element_at", _list_arg(target, "element_at"), key, FN.lit(False))
    return expr_column(build, *call.args)


@spark_function("try_element_at")
def _try_element_at(call: Call):
    call.expect(2)

    def build(target, key):
        if T.is_map(target.dtype):
            from quarry.logical.nested_functions import bind_map_value
            return bind_map_value(target, key)
        return _call("list_extract", _list_arg(target, "try_element_at"), key)
    return expr_column(build, *call.args)


@spark_function("get")
def _get(call: Call):
    call.expect(2)
    # get(arr, i): 0-based, NULL out of range
    return expr_column(lambda a, i: _call("list_extract", _list_arg(a, "get"),
                                          _call("add", FN.cast(i, T.INT64), FN.lit(1))), *call.args)


@spark_function("size", "cardinality", "array_size")
def _size(call: Call):
    call.expect(1)

    def build(a):
        if T.is_map(a.dtype):
            return _int32(_call("cardinality", a))
        return _int32(_call("list_length", _list_arg(a, call.name)))
    return expr_column(build, call.args[0])


@spark_function("slice")
def _slice(call: Call):
    call.expect(3)

    def build(a, start, length):
        a = _list_arg(a, "slice")
        start, length = FN.cast(start, T.INT64), FN.cast(length, T.INT64)
        size = _call("list_length", a)
        begin = _case(_call("less", start, FN.lit(0)), _call("add", _call("add", size, start), FN.lit(1)), start)
        end = _call("subtract", _call("add", begin, length), FN.lit(1))
        empty = _call("list_slice", a, FN.lit(1), FN.lit(0))
        return _case(_call("less", begin, FN.lit(1)), empty, _call("list_slice", a, begin, end))
    if call.is_literal(1) and call.literal(1) == 0:
        raise SparkError("[INVALID_PARAMETER_VALUE.START] slice(): the start index 0 is invalid; it counts from 1",
                         error_class="INVALID_PARAMETER_VALUE.START")
    if call.is_literal(2) and (call.literal(2) or 0) < 0:
        raise SparkError("[INVALID_PARAMETER_VALUE.LENGTH] slice(): the length must not be negative",
                         error_class="INVALID_PARAMETER_VALUE.LENGTH")
    return expr_column(build, *call.args)


@spark_function("flatten")
def _flatten(call: Call):
    call.expect(1)
    def build(a):
        a = _list_arg(a, "flatten")
        flat = _call("flatten", a)
        # Spark: an inner NULL array makes the result NULL
        inner_null = _call("list_length", _call("list_filter", a, _lambda(a.dtype.value_type,
                                                                              lambda x, i: _call("is_null", x))))
        return _case(_call("greater", inner_null, FN.lit(0, T.INT64)), _null_of(flat.dtype), flat)
    return expr_column(build, call.args[0])


@spark_function("sequence")
def _sequence(call: Call):
    call.expect(2, 3)

    def build(start, stop, step=None):
        if start.dtype == T.DATE and stop.dtype == T.DATE and step is None:
            # dates, one day apart (either direction): the day offsets, added to start
            days = _call("date_diff", FN.lit("day"), start, stop)
            offsets = _call("spark_sequence", FN.lit(0, T.INT64), days,
                            _case(_call("less_equal", start, stop), FN.lit(1, T.INT64), FN.lit(-1, T.INT64)))
            return _call("list_transform", offsets, _lambda(T.INT64, lambda x, i: _call("spark_date_add", start, x)))
        for e in (start, stop):
            if not (T.is_integer(e.dtype) or T.is_null(e.dtype)):
                raise not_supported(f"sequence() of {T.sql_name(e.dtype)} values (integers, or dates a day apart)")
        if step is None:
            step = _case(_call("less_equal", start, stop), FN.lit(1), FN.lit(-1))
        out = _call("spark_sequence", start, stop, step)
        element = T.common_type(start.dtype, stop.dtype) or T.INT64
        return FN.cast(out, pa.list_(element)) if T.is_integer(element) else out
    return expr_column(build, *call.args)


@spark_function("array_position")
def _array_position(call: Call):
    call.expect(2)

    def build(a, v):
        a = _list_arg(a, "array_position")
        pos = FN.cast(_call("list_position", a, v), T.INT64)
        return _case(_call("is_null", a), _null_of(T.INT64), _call("coalesce", pos, FN.lit(0, T.INT64)))
    return expr_column(build, *call.args)


@spark_function("array_remove")
def _array_remove(call: Call):
    call.expect(2)

    def build(a, v):
        a = _list_arg(a, "array_remove")
        return _call("list_filter", a, _lambda(a.dtype.value_type, lambda x, i: _call("is_distinct_from", x, v)))
    return expr_column(build, *call.args)


@spark_function("array_compact")
def _array_compact(call: Call):
    call.expect(1)

    def build(a):
        a = _list_arg(a, "array_compact")
        return _call("list_filter", a, _lambda(a.dtype.value_type, lambda x, i: _call("is_not_null", x)))
    return expr_column(build, call.args[0])


@spark_function("array_max", "array_min")
def _array_extreme(call: Call):
    call.expect(1)
    return expr_column(lambda a: _call("list_" + call.name[-3:], _list_arg(a, call.name)), call.args[0])


# -- maps and structs ----------------------------------------------------------------------------

@spark_function("map_keys", "map_values")
def _map_part(call: Call):
    call.expect(1)
    return expr_column(lambda m: _call(call.name, m), call.args[0])


@spark_function("map_entries")
def _map_entries(call: Call):
    call.expect(1)
    return expr_column(lambda m: _call("spark_map_entries", m), call.args[0])


@spark_function("array_insert")
def _array_insert(call: Call):
    call.expect(3)
    return expr_column(lambda a, p, v: _call("spark_array_insert", a, p, v), *call.args)


@spark_function("shuffle")
def _shuffle(call: Call):
    call.expect(1, 2)
    if len(call.protos) > 1 and not call.is_literal(1):
        raise not_supported("`shuffle` with a seed that is not a constant")
    seed = call.literal(1) if len(call.protos) > 1 else None
    from quarry.api.column import lit
    return expr_column(lambda a, s: _call("spark_shuffle", a, s), call.args[0], lit(seed, pa.int64()))


def _dedup_policy(call: Call):
    """The session's ``spark.sql.mapKeyDedupPolicy``, as a constant argument."""
    state = getattr(call.translator, "state", None)
    return FN.lit(state.map_key_dedup_policy if state is not None else "EXCEPTION")


@spark_function("map_concat")
def _map_concat(call: Call):
    call.expect(1, -1)
    policy = _dedup_policy(call)
    return expr_column(lambda *ms: _call("spark_map_concat", policy, *ms), *call.args)


@spark_function("str_to_map")
def _str_to_map(call: Call):
    call.expect(1, 3)
    delimiters = []
    for i, default in ((1, ","), (2, ":")):
        if len(call.protos) > i and not call.is_literal(i):
            raise not_supported("`str_to_map` with a delimiter that is not a constant")
        value = call.literal(i) if len(call.protos) > i else default
        delimiters.append(FN.lit(default if value is None else str(value)))
    policy = _dedup_policy(call)
    return expr_column(lambda t: _call("spark_str_to_map", t, *delimiters, policy), call.args[0])


@spark_function("map_from_arrays")
def _map_from_arrays(call: Call):
    call.expect(2)
    policy = _dedup_policy(call)
    return expr_column(lambda k, v: _call("spark_map_dedup", map_from_lists(k, v, keep_duplicates=True), policy),
                       *call.args)


def _map_name(name, args, call):
    return f"map({', '.join(args)})"


@spark_function("create_map", "map", namer=_map_name)
def _create_map(call: Call):
    if len(call.args) % 2:
        raise SparkError("`map` takes keys and values in pairs", error_class="WRONG_NUM_ARGS")

    policy = _dedup_policy(call)

    def build(*es):
        keys, values = es[0::2], es[1::2]
        pairs = map_from_lists(_call("list_value", *keys), _call("list_value", *values), keep_duplicates=True)
        return _call("spark_map_dedup", pairs, policy)
    return expr_column(build, *call.args)


@spark_function("map_contains_key")
def _map_contains_key(call: Call):
    call.expect(2)
    return expr_column(lambda m, k: _call("list_contains", _call("map_keys", m), k), *call.args)


def _field_names(call: Call) -> list[str]:
    names = []
    for i, p in enumerate(call.protos):
        kind = p.WhichOneof("expr_type")
        if kind == "unresolved_attribute":
            names.append(p.unresolved_attribute.unparsed_identifier.split(".")[-1].strip("`"))
        elif kind == "alias":
            names.append(p.alias.name[0])
        else:
            names.append(f"col{i + 1}")
    return names


@spark_function("struct")
def _struct(call: Call):
    names = _field_names(call)
    return expr_column(lambda *es: struct_pack(names, list(es)), *call.args)


def _named_struct_name(name, args, call):
    return f"named_struct({', '.join(args)})"


@spark_function("named_struct", namer=_named_struct_name)
def _named_struct(call: Call):
    if len(call.protos) % 2:
        raise SparkError("`named_struct` takes names and values in pairs", error_class="WRONG_NUM_ARGS")
    names = [call.literal(i) for i in range(0, len(call.protos), 2)]
    values = call.args[1::2]
    return expr_column(lambda *es: struct_pack(names, list(es)), *values)


def extract_value(child: Column, key) -> Column:
    """``s.a`` / ``s["a"]`` of a struct, ``arr[i]`` (0-based) of an array, ``m[k]`` of a map."""
    def bind(ctx):
        target = child.bind(ctx)
        if T.is_struct(target.dtype):
            return _call("struct_extract", target, FN.lit(key) if not isinstance(key, Column) else key.bind(ctx))
        k = key.bind(ctx) if isinstance(key, Column) else FN.lit(key)
        if T.is_map(target.dtype):
            from quarry.logical.nested_functions import bind_map_value
            return bind_map_value(target, k)
        if T.is_list(target.dtype):
            return _call("spark_element_at", target, k, FN.lit(True))
        raise SparkError(f"cannot extract a value from a {T.sql_name(target.dtype)}",
                         error_class="INVALID_EXTRACT_BASE_FIELD_TYPE")
    return Column(bind, "extract")


# -- generators -----------------------------------------------------------------------------------

GENERATORS = {"explode", "explode_outer", "posexplode", "posexplode_outer", "inline", "inline_outer", "json_tuple",
              "stack"}


def _outer(lst: Expr) -> Expr:
    """A NULL or empty list as ``[NULL]``, so the row survives with NULLs (the ``_outer`` generators)."""
    empty = _call("coalesce", _call("equal", _call("list_length", lst), FN.lit(0, T.INT64)), FN.lit(True))
    return _case(empty, _call("list_value", _null_of(lst.dtype.value_type)), lst)


def generator(name: str, args: list[Column], shape) -> list[tuple[Column, str]]:
    """The output columns (Column, Spark name) of a generator call; ``shape`` gives the argument's type
    (the generators of a map and of an array of structs have more than one output column)."""
    if name == "json_tuple":
        return _json_tuple(args)
    if name == "stack":
        return _stack(args[0], args[1:])
    if len(args) != 1:
        raise SparkError(f"`{name}` takes one argument, got {len(args)}")
    arg = args[0]
    outer = name.endswith("_outer")
    dtype = shape(arg)

    def listed(e: Expr) -> Expr:
        if T.is_map(e.dtype):
            e = _call("spark_map_entries", e)
        e = _list_arg(e, name)
        return _outer(e) if outer else e

    def unnest(ctx) -> Expr:
        return UnnestExpr(listed(arg.bind(ctx)))

    def part(fn):
        return Column(lambda ctx: fn(unnest(ctx), ctx), name)

    out: list[tuple[Column, str]] = []
    if name.startswith("posexplode"):
        def positions(ctx):
            lst = listed(arg.bind(ctx))
            return UnnestExpr(_call("list_transform", lst, _lambda(lst.dtype.value_type, lambda x, i: i)))
        out.append((Column(positions, "pos"), "pos"))
    if name.startswith("inline"):
        if not (pa.types.is_list(dtype) and pa.types.is_struct(dtype.value_type)):
            raise SparkError(f"`{name}` expects an array of structs", error_class="DATATYPE_MISMATCH")
        for i, f in enumerate(dtype.value_type):
            out.append((part(lambda u, ctx, i=i: _call("struct_extract", u, FN.lit(i + 1))), f.name))
        return out
    if pa.types.is_map(dtype):
        out.append((part(lambda u, ctx: _call("struct_extract", u, FN.lit("key"))), "key"))
        out.append((part(lambda u, ctx: _call("struct_extract", u, FN.lit("value"))), "value"))
        return out
    out.append((part(lambda u, ctx: u), "col"))
    return out


def _stack(rows: int, values: list[Column]) -> list[tuple[Column, str]]:
    """``stack(n, v1, v2, ...)``: the values in ``n`` rows of ``ceil(len / n)`` columns ``col0``, ``col1``, ...
    (NULLs after the last value), each column one array unnested; a column's values must have one type,
    NULLs aside (Spark's ``STACK_COLUMN_DIFF_TYPES``)."""
    if rows < 1:
        raise SparkError(f"stack's number of rows must be positive, not {rows}",
                         error_class="DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE")
    if not values:
        raise SparkError("stack takes the number of rows and at least one value",
                         error_class="WRONG_NUM_ARGS.WITHOUT_SUGGESTION")
    width = -(-len(values) // rows)

    def column(c: int) -> Column:
        cells = [values[r * width + c] for r in range(rows) if r * width + c < len(values)]

        def bind(ctx):
            bound = [v.bind(ctx) for v in cells]
            types = {b.dtype for b in bound if not T.is_null(b.dtype)}
            if len(types) > 1:
                raise SparkError(f"stack's column col{c} has values of several types ("
                                 + ", ".join(sorted(T.sql_name(t) for t in types)) + ")",
                                 error_class="DATATYPE_MISMATCH.STACK_COLUMN_DIFF_TYPES")
            dtype = types.pop() if types else T.NULL
            bound = [b if b.dtype == dtype else FN.cast(b, dtype) for b in bound]
            bound += [FN.lit(None, dtype)] * (rows - len(bound))
            return UnnestExpr(_call("list_value", *bound))
        return Column(bind, f"col{c}")
    return [(column(c), f"col{c}") for c in range(width)]


def _json_tuple(args: list[Column]) -> list[tuple[Column, str]]:
    """``json_tuple(json, 'f1', 'f2', ...)``: one column per field (``c0``, ``c1``, ...), each the field's value
    as ``get_json_object`` gives it (a string without quotes, other values as JSON text), NULL for a missing
    field, a JSON null, a text that is not JSON or an array; one output row per input row."""
    if len(args) < 2:
        raise SparkError("`json_tuple` takes a JSON string and at least one field name",
                         error_class="WRONG_NUM_ARGS.WITHOUT_SUGGESTION")
    source = args[0]

    def field(ctx, column):
        name = column.bind(ctx)
        if not isinstance(name, Literal) or not (name.value is None or isinstance(name.value, str)):
            raise not_supported("`json_tuple` with a field name that is not a constant string")
        text = source.bind(ctx)
        text = text if T.is_string(text.dtype) else FN.cast(text, T.STRING)
        if name.value is None:                       # Spark: a NULL field name gives NULL
            return FN.lit(None, T.STRING)
        return FN.call("spark_json_string", [FN.lit("json_tuple"), text, FN.lit(name.value)])
    return [(Column(lambda ctx, c=c: field(ctx, c), f"c{i}"), f"c{i}") for i, c in enumerate(args[1:])]


for _g in sorted(GENERATORS):
    def _generator_elsewhere(call: Call, _g=_g):
        raise SparkError(f"the generator `{_g}` is only allowed in select()",
                         error_class="UNSUPPORTED_GENERATOR.OUTSIDE_SELECT")
    spark_function(_g)(_generator_elsewhere)


# -- more arrays and maps ------------------------------------------------------------------------

@spark_function("array_append", "array_prepend")
def _array_append(call: Call):
    call.expect(2)
    append = call.name == "array_append"

    def build(a, v):
        a = _list_arg(a, call.name)
        one = _call("list_value", FN.cast(v, a.dtype.value_type) if not T.is_null(a.dtype.value_type) else v)
        joined = _call("list_concat", a, one) if append else _call("list_concat", one, a)
        return _case(_call("is_null", a), _null_of(joined.dtype), joined)
    return expr_column(build, *call.args)


@spark_function("array_repeat")
def _array_repeat(call: Call):
    call.expect(2)

    def build(v, count):
        count = FN.cast(count, T.INT64)
        positions = _call("spark_sequence", FN.lit(1, T.INT64), _call("greatest", count, FN.lit(1, T.INT64)),
                          FN.lit(1, T.INT64))
        repeated = _call("list_transform", positions, _lambda(T.INT64, lambda x, i: v))
        empty = _call("list_slice", repeated, FN.lit(1), FN.lit(0))
        return _case(_call("less", count, FN.lit(1, T.INT64)), empty, repeated)
    return expr_column(build, *call.args)


@spark_function("arrays_overlap")
def _arrays_overlap(call: Call):
    call.expect(2)

    def build(a, b):
        a, b = _list_arg(a, "arrays_overlap"), _list_arg(b, "arrays_overlap")
        common = _call("list_filter", a, _lambda(a.dtype.value_type, lambda x, i: _call(
            "coalesce", _call("list_contains", b, x), FN.lit(False))))
        found = _call("greater", _call("list_length", common), FN.lit(0, T.INT64))
        both = _call("and", _call("greater", _call("list_length", a), FN.lit(0, T.INT64)),
                     _call("greater", _call("list_length", b), FN.lit(0, T.INT64)))
        # Spark: TRUE on a common non-NULL element; else NULL when both are non-empty and one holds a NULL
        return _case(_call("or", _call("is_null", a), _call("is_null", b)), _null_of(T.BOOL), found, FN.lit(True),
                     _call("and", both, _call("or", _has_null(a), _has_null(b))), _null_of(T.BOOL), FN.lit(False))
    return expr_column(build, *call.args)


@spark_function("map_from_entries")
def _map_from_entries(call: Call):
    call.expect(1)
    policy = _dedup_policy(call)

    def build(a):
        a = _list_arg(a, "map_from_entries")
        entry = a.dtype.value_type
        if not (pa.types.is_struct(entry) and entry.num_fields == 2):
            raise SparkError("`map_from_entries` expects an array of two-field structs", error_class="DATATYPE_MISMATCH")
        keys = _call("list_transform", a, _lambda(entry, lambda e, i: _call("struct_extract", e, FN.lit(1))))
        values = _call("list_transform", a, _lambda(entry, lambda e, i: _call("struct_extract", e, FN.lit(2))))
        return _call("spark_map_dedup", map_from_lists(keys, values, keep_duplicates=True), policy)
    return expr_column(build, call.args[0])


@spark_function("arrays_zip")
def _arrays_zip(call: Call):
    if not call.args:
        raise SparkError("`arrays_zip` takes at least one array", error_class="WRONG_NUM_ARGS")
    # fields named after the columns (Spark: the argument's position for other expressions)
    names = [n if not n.startswith("col") or call.protos[i].WhichOneof("expr_type") in ("unresolved_attribute", "alias")
             else str(i) for i, n in enumerate(_field_names(call))]

    def build(*lists):
        lists = [_list_arg(a, "arrays_zip") for a in lists]
        longest = _call("greatest", *[_call("list_length", a) for a in lists])
        upto = _call("spark_sequence", FN.lit(1, T.INT64), _call("greatest", longest, FN.lit(1, T.INT64)),
                     FN.lit(1, T.INT64))
        positions = _call("list_slice", upto, FN.lit(1), longest)

        def body(p, i):
            return struct_pack(names, [_call("list_extract", a, p) for a in lists])
        zipped = _call("list_transform", positions, _lambda(T.INT64, body))
        cond = _call("is_null", lists[0])
        for a in lists[1:]:
            cond = _call("or", cond, _call("is_null", a))
        return _case(cond, _null_of(zipped.dtype), zipped)
    return expr_column(build, *call.args)
