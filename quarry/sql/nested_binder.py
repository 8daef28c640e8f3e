"""Binding of nested-value syntax: ``[1, 2]``, ``{'a': 1}``, ``MAP {...}``, ``l[i]``, ``l[a:b]``,
``s.a``, ``s['a']``, ``m[k]``, ``unnest(...)``, lambdas (``x -> x + 1``) and ``list_sort``.

:class:`NestedExprs` is a base of :class:`~quarry.sql.expr_binder.ExprBinder`: its
``_<sqlglot class>`` methods are found by the same dispatch as the binder's own.
Indexes are written as in DuckDB (1-based): quarry's dialect keeps sqlglot from
shifting them (``INDEX_OFFSET = 0``).
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from quarry.errors import BindError, QuarryTypeError, UnsupportedError
from quarry.logical import functions as F
from quarry.logical import nested_functions as N
from quarry.logical import types as T
from quarry.logical.expressions import ColumnRef, Expr, Field, Literal, new_id
from quarry.logical.nested import Lambda, LambdaParam, UnnestExpr

# a slice bound left out (l[2:], l[:2]): the list's start or end
_OPEN_END = 2 ** 62


class NestedExprs:
    """The nested-value part of the expression binder (mixed into ExprBinder)."""

    lambda_params: dict[str, LambdaParam] = {}
    allow_unnest: bool = False

    # -- constructors ---------------------------------------------------------------------------

    def _Array(self, node: exp.Array) -> Expr:
        return F.call("list_value", [self.bind(e) for e in node.expressions])

    def _Struct(self, node: exp.Struct) -> Expr:
        names, values = [], []
        for i, item in enumerate(node.expressions):
            if isinstance(item, exp.PropertyEQ):
                key = item.this
                names.append(key.this if isinstance(key, exp.Literal) else key.name)
                values.append(self.bind(item.expression))
            elif isinstance(item, exp.Alias):
                names.append(item.alias)
                values.append(self.bind(item.this))
            else:
                raise UnsupportedError(f"struct entry `{item.sql(dialect='duckdb')}` without a name",
                                       hint="write {'name': value} or struct_pack(name := value)")
        if not names:
            raise UnsupportedError("an empty STRUCT", hint="give the struct at least one field")
        return N.struct_pack(names, values)

    def _ToMap(self, node: exp.ToMap) -> Expr:
        entries = node.this.expressions if isinstance(node.this, exp.Struct) else []
        if not entries:
            return N.empty_map()
        keys, values = [], []
        for item in entries:
            if not isinstance(item, exp.PropertyEQ):
                raise BindError(f"a MAP entry is `key: value`, not `{item.sql(dialect='duckdb')}`")
            keys.append(self.bind(item.this))
            values.append(self.bind(item.expression))
        return N.map_from_lists(F.call("list_value", keys), F.call("list_value", values))

    def _Map(self, node: exp.Map) -> Expr:
        keys, values = node.args.get("keys"), node.args.get("values")
        if keys is None and values is None:
            return N.empty_map()
        if keys is None or values is None:
            raise BindError("map() takes a list of keys and a list of values", hint="write map([keys...], [values...])")
        return N.map_from_lists(self.bind(keys), self.bind(values))

    def _generate_subscripts(self, node: exp.Anonymous) -> Expr:
        """``generate_subscripts(l, 1)`` in the select list: a row per element of l with its 1-based index,
        which is unnest(range(1, len(l) + 1)) (an empty or NULL list gives no row, as in DuckDB)."""
        args = list(node.expressions)
        if len(args) != 2:
            raise BindError("generate_subscripts() takes a list and a dimension", hint="generate_subscripts(l, 1)")
        if not self.allow_unnest:
            raise UnsupportedError("generate_subscripts() here", hint="use it in the select list")
        target = self.bind(args[0])
        if T.is_null(target.dtype):
            target = F.cast(target, pa.list_(T.NULL))
        if not T.is_list(target.dtype):
            raise QuarryTypeError(f"generate_subscripts() expects a list, got {T.sql_name(target.dtype)}")
        dim = self.bind(args[1])
        if not (isinstance(dim, Literal) and dim.value == 1):
            raise UnsupportedError("generate_subscripts() of a dimension other than a constant 1",
                                   hint="generate_subscripts(l, 1); for inner lists, unnest first")
        length = N.list_length(target)
        series = F.call("range", [F.lit(1, T.INT64), F.call("add", [length, F.lit(1, T.INT64)])])
        return UnnestExpr(series)

    def _struct_insert(self, node: exp.Anonymous) -> Expr:
        """``struct_insert(s, name := value, ...)``: s with the named fields added after its own (a NULL s
        keeps NULL fields, as in DuckDB)."""
        args = list(node.expressions)
        if len(args) < 2 or any(not isinstance(a, exp.PropertyEQ) for a in args[1:]):
            raise BindError("struct_insert() takes a struct and named values",
                            hint="struct_insert(s, b := 2, c := 'x')")
        target = self.bind(args[0])
        if not pa.types.is_struct(target.dtype):
            raise QuarryTypeError(f"struct_insert() expects a STRUCT, got {T.sql_name(target.dtype)}")
        names = [f.name for f in target.dtype]
        values = [F.call("struct_extract", [target, F.lit(f)]) for f in names]
        for item in args[1:]:
            key = item.this
            field = key.this if isinstance(key, exp.Literal) else key.name
            if field.lower() in (n.lower() for n in names):
                raise BindError(f'struct_insert(): duplicate struct entry name "{field}"',
                                hint="a field the struct has cannot be inserted again")
            names.append(field)
            values.append(self.bind(item.expression))
        return N.struct_pack(names, values)

    def _row(self, node: exp.Anonymous) -> Expr:
        raise UnsupportedError("row(...): unnamed structs are not supported",
                               hint="name the fields: {'a': 1, 'b': 2} or struct_pack(a := 1, b := 2)")

    # -- access -----------------------------------------------------------------------------------

    def _Bracket(self, node: exp.Bracket) -> Expr:
        self.qb.check(node)
        if len(node.expressions) != 1:
            raise UnsupportedError("an index with several values", hint="write l[i] or l[begin:end]")
        target = self.bind(node.this)
        index = node.expressions[0]
        if isinstance(index, exp.Slice):
            if not (T.is_list(target.dtype) or T.is_null(target.dtype)):
                if T.is_string(target.dtype):
                    raise UnsupportedError("slices of strings", hint="use substring(s, start, length)")
                raise QuarryTypeError(f"cannot slice a {T.sql_name(target.dtype)}")
            step = index.args.get("step")
            if step is not None and not (isinstance(step, exp.Literal) and not step.is_string
                                         and step.this.strip() == "1"):
                raise UnsupportedError("a list slice with a step (l[begin:end:step])",
                                       hint="slice without the step, then list_filter the positions you want")
            begin = self.bind(index.this) if index.this is not None else F.lit(0)
            end = self.bind(index.expression) if index.expression is not None else F.lit(_OPEN_END)
            return F.call("list_slice", [target, begin, end])
        if T.is_struct(target.dtype):
            return F.call("struct_extract", [target, self.bind(index)])
        if T.is_map(target.dtype):
            return N.bind_map_value(target, self.bind(index))
        return F.call("list_extract", [target, self.bind(index)])

    def _Dot(self, node: exp.Dot) -> Expr:
        target = self.bind(node.this)
        return self._field_of(target, node.expression.name)

    def _field_of(self, target: Expr, name: str) -> Expr:
        if not T.is_struct(target.dtype):
            raise BindError(f"cannot take field `{name}` of a {T.sql_name(target.dtype)}",
                            hint="fields are taken from STRUCT values")
        return F.call("struct_extract", [target, F.lit(name)])

    def struct_path(self, node: exp.Column) -> Expr | None:
        """``s.a``, ``t.s.a``, ``s.a.b``: a column followed by struct fields, when ``node`` names one
        (the first parts that name a column, the rest its fields); None when it does not."""
        parts = [p.name for p in node.parts]
        for qualified in (True, False):
            if qualified and len(parts) < 3:
                continue
            head = 2 if qualified else 1
            try:
                ref = ColumnRef(self.scope.resolve(parts[head - 1], parts[head - 2] if qualified else None))
            except BindError:
                continue
            out: Expr = ref
            for name in parts[head:]:
                out = self._field_of(out, name)
            return out
        return None

    def _Explode(self, node: exp.Explode) -> Expr:
        if node.expressions:
            raise UnsupportedError("unnest() options (recursive := ..., max_depth := ...)")
        if not self.allow_unnest:
            raise UnsupportedError("unnest() here", hint="unnest in the select list or in FROM")
        arg = self.bind(node.this)
        if T.is_null(arg.dtype):
            arg = F.cast(arg, pa.list_(T.NULL))
        if T.is_struct(arg.dtype):
            raise UnsupportedError("unnest() of a STRUCT", hint="select its fields: s.a, s.b")
        if not T.is_list(arg.dtype):
            raise QuarryTypeError(f"unnest() expects a list, got {T.sql_name(arg.dtype)}")
        return UnnestExpr(arg)

    def _Unnest(self, node: exp.Unnest) -> Expr:
        raise UnsupportedError("UNNEST(...) here", hint="write unnest(l) in the select list or in FROM")

    # -- lambdas ----------------------------------------------------------------------------------

    def _Lambda(self, node: exp.Lambda) -> Expr:
        raise BindError("a lambda is only allowed as an argument of list_transform or list_filter",
                        hint="list_transform(l, x -> x + 1)")

    def bind_lambda(self, node: exp.Lambda, element: pa.DataType) -> Lambda:
        """The lambda ``node`` over list elements of type ``element`` (a second parameter is the
        element's 1-based position)."""
        names = [p.name for p in node.expressions]
        if not 1 <= len(names) <= 2:
            raise BindError("a lambda takes one parameter (the element) or two (element, position)")
        params = tuple(Field(n, t, True, new_id()) for n, t in zip(names, (element, T.INT64)))
        inner = type(self)(self.qb, self.scope, aliases=self.aliases)
        inner.lambda_params = {**self.lambda_params, **{p.name.lower(): LambdaParam(p) for p in params}}
        body = inner.bind(node.this)
        if T.is_null(body.dtype):
            body = F.cast(body, T.INT32)
        return Lambda(params, body)

    def _reduce_lambda(self, node: exp.Lambda, acc: pa.DataType, element: pa.DataType) -> Lambda:
        names = [p.name for p in node.expressions]
        if not 2 <= len(names) <= 3:
            raise BindError("list_reduce()'s lambda takes two parameters (the accumulator, the element) or three "
                            "(and the element's position)", hint="list_reduce(l, lambda acc, x: acc + x)")
        params = tuple(Field(n, t, True, new_id()) for n, t in zip(names, (acc, element, T.INT64)))
        inner = type(self)(self.qb, self.scope, aliases=self.aliases)
        inner.lambda_params = {**self.lambda_params, **{p.name.lower(): LambdaParam(p) for p in params}}
        body = inner.bind(node.this)
        return Lambda(params, F.cast(body, acc) if T.is_null(body.dtype) else body)

    def _list_reduce(self, arg_nodes: list) -> Expr:
        """``list_reduce(l, lambda acc, x: ... [, initial])``: the accumulator takes the common type of the
        elements, the initial value and the lambda's result, as DuckDB types it."""
        if len(arg_nodes) not in (2, 3) or not isinstance(arg_nodes[1], exp.Lambda):
            raise BindError("list_reduce() takes a list, a lambda and an optional initial value",
                            hint="list_reduce(l, lambda acc, x: acc + x)")
        target = self.bind(arg_nodes[0])
        if T.is_null(target.dtype):
            target = F.cast(target, pa.list_(T.NULL))
        if not T.is_list(target.dtype):
            raise QuarryTypeError(f"function `list_reduce` expects a list, got {T.sql_name(target.dtype)}")
        element = target.dtype.value_type
        initial = self.bind(arg_nodes[2]) if len(arg_nodes) > 2 else None
        acc = element if initial is None else T.common_type(element, initial.dtype)
        # the result type is that of the lambda bound over the element type, widened to hold the elements;
        # the lambda is then bound again over it, its result cast back to it
        fn = self._reduce_lambda(arg_nodes[1], acc, element)
        common = T.common_type(acc, fn.dtype)
        if common is None:
            raise QuarryTypeError(f"list_reduce(): no common type of the accumulator {T.sql_name(acc)} and the "
                                  f"lambda's result {T.sql_name(fn.dtype)}", hint="CAST the lambda's result")
        if common != acc:
            acc = common
            fn = self._reduce_lambda(arg_nodes[1], acc, element)
        fn = Lambda(fn.params, F.cast(fn.body, acc))
        args = [F.cast(target, pa.list_(acc)) if T.is_null(element) else target, fn]
        if initial is not None:
            args.append(F.cast(initial, acc))
        return F.call("list_reduce", args)

    def lambda_call(self, name: str, arg_nodes: list) -> Expr:
        """``list_transform(l, x -> ...)`` and the other functions that take a lambda."""
        if name == "list_reduce":
            return self._list_reduce(arg_nodes)
        if len(arg_nodes) != 2 or not isinstance(arg_nodes[1], exp.Lambda):
            raise BindError(f"{name}() takes a list and a lambda", hint=f"{name}(l, x -> x + 1)")
        target = self.bind(arg_nodes[0])
        if T.is_null(target.dtype):
            target = F.cast(target, pa.list_(T.NULL))
        if not T.is_list(target.dtype):
            raise QuarryTypeError(f"function `{name}` expects a list, got {T.sql_name(target.dtype)}")
        return F.call(name, [target, self.bind_lambda(arg_nodes[1], target.dtype.value_type)])

    def _Transform(self, node) -> Expr:
        return self.lambda_call("list_transform", [node.this, node.expression])

    def _ArrayFilter(self, node) -> Expr:
        return self.lambda_call("list_filter", [node.this, node.expression])

    # -- functions sqlglot reshapes -----------------------------------------------------------------

    def _ArraySort(self, node: exp.ArraySort) -> Expr:
        if node.expression is not None:
            raise UnsupportedError("list_sort() with a comparator lambda")
        asc, nulls_first = node.args.get("asc"), node.args.get("nulls_first")
        ascending = True if asc is None else bool(asc.this)
        first = False if nulls_first is None else bool(nulls_first.this)
        return N.bind_list_sort(self.bind(node.this), ascending, first)

    def _Ordered(self, node: exp.Ordered) -> Expr:
        # ORDER BY inside an aggregate: array_agg(x ORDER BY y)
        return self.bind_sort_key(node)

    def _GroupConcat(self, node: exp.GroupConcat) -> Expr:
        """``string_agg(s [, sep] [ORDER BY ...])``: arguments value, separator, then the sort keys."""
        from quarry.sql.expr_binder import aggregate_arg_nodes
        return self._call_named("string_agg", aggregate_arg_nodes(node), node)

    def _First(self, node) -> Expr:
        from quarry.sql.expr_binder import aggregate_arg_nodes
        return self._call_named("first", aggregate_arg_nodes(node), node)

    def _Last(self, node) -> Expr:
        from quarry.sql.expr_binder import aggregate_arg_nodes
        return self._call_named("last", aggregate_arg_nodes(node), node)

    def _ArrayAgg(self, node: exp.ArrayAgg) -> Expr:
        from quarry.sql.expr_binder import aggregate_arg_nodes
        return self._call_named("array_agg", aggregate_arg_nodes(node), node)


__all__ = ["NestedExprs"]
