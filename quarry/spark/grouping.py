"""``rollup``, ``cube``, ``groupingSets`` and ``pivot`` (the Aggregate relation's group types other
than plain ``groupBy``), with ``grouping()`` and ``grouping_id()``.

All of them reach quarry's plan builder as the SQL binder's ``GROUP BY ROLLUP / CUBE /
GROUPING SETS`` does: one :func:`quarry.logical.builder.aggregate` with the grouping sets (tuples
of key positions), whose ``__grouping_id`` column (a bit per key, 1 = not in the set) gives
``grouping(col)`` (a ``tinyint``) and ``grouping_id(cols...)`` (a ``bigint``; every key when
called without arguments), as in Spark.

- ``rollup(a, b)``: the sets ``(a, b), (a), ()``; ``cube(a, b)``: every subset;
- ``groupingSets([[a, b], [a], []], a, b)``: the sets given, over the keys given;
- ``pivot(col)`` without values first finds ``col``'s distinct values (sorted, NULL last in
  Spark's order: NULLs first for ascending), then aggregates each as ``pivot(col, values)``
  does; with several aggregates a column is named ``<value>_<aggregate>``. As in Spark, it
  aggregates each group and value first, then puts each value's results in its columns: any
  aggregate pivots, and a group with no row of a value has NULL there (a count too).
"""

from __future__ import annotations

import pyarrow as pa

from pyspark.sql.connect.proto import relations_pb2

from quarry.api.column import Column, lit
from quarry.logical import builder as B
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import Call, ColumnRef, Literal
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.expressions import ExpressionTranslator
from quarry.spark.functions import Function

__all__ = ["aggregate", "grouped_aggregate", "pivot_aggregate", "pivot_values", "uses_grouping"]

_AGG = relations_pb2.Aggregate

# Spark caps the distinct values pivot finds itself (spark.sql.pivotMaxValues)
_PIVOT_MAX_VALUES = 10000


class _GroupingTranslator(ExpressionTranslator):
    """The relation's expression translator, plus ``grouping`` and ``grouping_id``: placeholders the
    aggregate below turns into bits of its grouping id."""

    def function(self, f) -> Function:
        name = f.function_name.lower()
        if name not in ("grouping", "grouping_id") or f.is_user_defined_function:
            return super().function(f)
        args = [self.column(a) for a in f.arguments]
        if name == "grouping" and len(args) != 1:
            raise SparkError("grouping() takes one column", error_class="WRONG_NUM_ARGS")

        def bind(ctx):
            inner = ctx.derive(allow_aggregates=False, allow_windows=False)
            call = Call("grouping", tuple(a.bind(inner) for a in args) or (_ALL_KEYS,), T.INT64, False)
            return FN.cast(call, T.INT8, explicit=True) if name == "grouping" else call
        return Function(Column(bind, name))


# grouping_id() without arguments: every key (replaced once the keys are known)
_ALL_KEYS = Literal("*all-keys*", T.STRING)


def _translator(base: ExpressionTranslator) -> _GroupingTranslator:
    g = object.__new__(_GroupingTranslator)
    g.__dict__.update(base.__dict__)
    return g


def _grouping_bits(e, gfields, gid):
    """``grouping(...)`` as bits of the aggregate's grouping id (0 without grouping sets)."""
    if not (isinstance(e, Call) and e.name == "grouping"):
        return e
    if len(e.args) == 1 and e.args[0] is _ALL_KEYS:
        positions = list(range(len(gfields)))
    else:
        positions = []
        for a in e.args:
            pos = next((i for i, f in enumerate(gfields) if isinstance(a, ColumnRef) and a.field.id == f.id), None)
            if pos is None:
                raise SparkError("the arguments of grouping() / grouping_id() must be grouping columns",
                                 error_class="GROUPING_COLUMN_MISMATCH")
            positions.append(pos)
    if gid is None:
        return Literal(0, T.INT64)
    return Call("grouping_bits", (ColumnRef(gid), Literal(",".join(map(str, positions)), T.STRING)), T.INT64, False)


def aggregate(translator, df, a):
    """The Aggregate relation ``a`` (anything but a plain groupBy) over the quarry DataFrame ``df``."""
    kind = a.group_type
    if kind == _AGG.GROUP_TYPE_PIVOT:
        keys = [translator.expressions.translate(g).named() for g in a.grouping_expressions]
        return pivot_aggregate(translator, df, a, keys)
    if kind in (_AGG.GROUP_TYPE_GROUPBY, _AGG.GROUP_TYPE_UNSPECIFIED):
        raise SparkError("grouping() / grouping_id() can only be used with GroupingSets / Cube / Rollup",
                         error_class="UNSUPPORTED_GROUPING_EXPRESSION")
    return grouped_aggregate(translator, df, a)


def uses_grouping(exprs) -> bool:
    """Whether any of the expressions (messages) calls ``grouping`` or ``grouping_id``."""
    def walk(message) -> bool:
        for field, value in message.ListFields():
            if field.name == "function_name" and str(value).lower() in ("grouping", "grouping_id"):
                return True
            if field.message_type is None:
                continue
            items = value if field.is_repeated and not field.message_type.GetOptions().map_entry else \
                ([] if field.is_repeated else [value])
            if any(walk(x) for x in items):
                return True
        return False
    return any(walk(e) for e in exprs)


def grouped_aggregate(translator, df, a):
    """The Aggregate relation ``a`` over the quarry DataFrame ``df``, for every group type but pivot."""
    ex = _translator(translator.expressions)
    keys = [ex.translate(g) for g in a.grouping_expressions]
    outputs = [ex.translate(e) for e in a.aggregate_expressions]
    kind = a.group_type
    ctx = df._ctx("groupBy", allow_aggregates=True, allow_windows=True)
    key_ctx = ctx.derive(allow_aggregates=False, allow_windows=False)
    key_exprs: list = []
    for k in keys:
        e = k.column.bind(key_ctx)
        if pa.types.is_map(e.dtype):
            # Spark refuses map grouping keys (maps have no equality there); quarry's SQL groups them
            raise SparkError(f"cannot group by `{k.name}`, a value of type {T.sql_name(e.dtype)}",
                             error_class="GROUP_EXPRESSION_TYPE_IS_NOT_ORDERABLE")
        if e not in key_exprs:
            key_exprs.append(e)
    n = len(key_exprs)
    if kind == _AGG.GROUP_TYPE_ROLLUP:
        sets = tuple(tuple(range(m)) for m in range(n, -1, -1))
    elif kind == _AGG.GROUP_TYPE_CUBE:
        sets = tuple(tuple(i for i in range(n) if mask >> (n - 1 - i) & 1) for mask in range(2 ** n - 1, -1, -1))
    elif kind == _AGG.GROUP_TYPE_GROUPING_SETS:
        chosen = []
        for gs in a.grouping_sets:
            positions = []
            for g in gs.grouping_set:
                e = ex.column(g).bind(key_ctx)
                if e not in key_exprs:
                    raise SparkError("a grouping set holds a column that is not a grouping column",
                                     error_class="GROUPING_COLUMN_MISMATCH")
                positions.append(key_exprs.index(e))
            chosen.append(tuple(dict.fromkeys(positions)))
        sets = tuple(chosen)
    else:
        sets = None
    items = [k.named() for k in keys] + [o.named() for o in outputs]
    bound = [c.bind(ctx) for c in items]
    names = [c.name_in(ctx) for c in items]
    aggs = B.collect_aggregates(bound)
    input_ids = {f.id for f in df.logical_plan.schema}
    plan, mapping = B.aggregate(df.logical_plan, key_exprs, aggs, sets)
    gfields, gid = plan.group_fields, plan.grouping_id
    rewritten = []
    for e in bound:
        out = B.replace_exprs(e, mapping).transform_up(lambda x: _grouping_bits(x, gfields, gid))
        rewritten.append(B.check_grouped(out, input_ids))
    plan, rewritten = B.lift_windows(plan, rewritten)
    return df._new(B.project(plan, rewritten, names))


# ---------------------------------------------------------------------------- pivot

def pivot_values(translator, df, a) -> list[tuple[object, pa.DataType | None]]:
    """The values a pivot makes columns of: those given, or the pivot column's distinct values."""
    if a.pivot.values:
        return [translator.expressions.literal_value(v) for v in a.pivot.values]
    pivot_col = translator.expressions.column(a.pivot.col)
    from quarry.api.column import col
    found = df.select(pivot_col.alias("v")).distinct().sort(col("v").asc_nulls_first()).limit(
        _PIVOT_MAX_VALUES + 1).to_arrow().column(0)
    if len(found) > _PIVOT_MAX_VALUES:
        raise SparkError(f"the pivot column has more than {_PIVOT_MAX_VALUES} distinct values",
                         error_class="PIVOT_VALUE_DATA_TYPE_MISMATCH")
    dtype = found.type
    return [(v, dtype) for v in found.to_pylist()]


def pivot_aggregate(translator, df, a, keys: list) -> object:
    """``groupBy(keys).pivot(col[, values]).agg(...)`` in Spark's two steps: every aggregate per group
    and pivot value, then per group one column per value and aggregate, holding that value's result
    (so any aggregate pivots, and a group without the value gets NULL, a count included)."""
    from quarry.api import functions as QF
    from quarry.api.column import col
    values = pivot_values(translator, df, a)
    if not a.aggregate_expressions:
        raise not_supported("pivot without an aggregate")
    translated = [translator.expressions.translate(e) for e in a.aggregate_expressions]
    pivot_col = translator.expressions.column(a.pivot.col)
    inner = [t.column.alias(f"__agg{i}") for i, t in enumerate(translated)]
    first = df.group_by(*keys, pivot_col.alias("__pivot")).agg(*inner)
    key_names = first.columns[:len(keys)]
    types = {f.name: f.type for f in first.schema}
    several = len(translated) > 1
    if not all(_pivots_first(types[f"__agg{i}"]) for i in range(len(translated))):
        # Spark's other plan: each aggregate over the rows of each value (CASE WHEN pivot = v THEN
        # arg END), so a group without the value gets the aggregate of no rows ([] for collect_list)
        outputs = []
        for v, dtype in values:
            label = _value_label(v, dtype)
            for e, t in zip(a.aggregate_expressions, translated):
                outputs.append(_filtered_aggregate(translator, e, a.pivot.col, v, dtype)
                               .alias(f"{label}_{t.name}" if several else label))
        return df.group_by(*keys).agg(*outputs) if keys else df.agg(*outputs)
    outputs = []
    pv = col("__pivot")
    for v, dtype in values:
        condition = pv.is_null() if v is None else pv == (lit(v, dtype) if dtype is not None else lit(v))
        label = _value_label(v, dtype)
        for i, t in enumerate(translated):
            picked = _one(QF.when(condition, col(f"__agg{i}")), types[f"__agg{i}"])
            outputs.append(picked.alias(f"{label}_{t.name}" if several else label))
    key_columns = [first[name] for name in key_names]
    return first.group_by(*key_columns).agg(*outputs) if keys else first.agg(*outputs)


def _pivots_first(dtype) -> bool:
    """Whether Spark pivots an aggregate of this result type in two steps (its PivotFirst takes the
    fixed-width numbers, booleans and decimals; a group without a value then gets NULL)."""
    return T.is_numeric(dtype) or pa.types.is_boolean(dtype)


def _filtered_aggregate(translator, agg_expr, pivot_col, value, dtype):
    """``agg(x)`` over the rows where the pivot column is ``value``: the call with its first argument
    (and any other that is not a literal) as ``CASE WHEN pivot = value THEN arg END``, translated as any
    call, so every aggregate of the registry pivots (NULLs are what aggregates skip)."""
    from pyspark.sql.connect.proto import expressions_pb2
    Expression = expressions_pb2.Expression
    e = agg_expr.alias.expr if agg_expr.WhichOneof("expr_type") == "alias" else agg_expr
    if e.WhichOneof("expr_type") != "unresolved_function":
        raise not_supported("pivot over an expression that is not an aggregate call")
    f = e.unresolved_function
    condition = Expression(unresolved_function=Expression.UnresolvedFunction(
        function_name="isnull" if value is None else "==",
        arguments=[pivot_col] if value is None else [pivot_col, _literal_message(value)]))
    rewritten = Expression.UnresolvedFunction(function_name=f.function_name, is_distinct=f.is_distinct)
    for i, arg in enumerate(f.arguments):
        if arg.WhichOneof("expr_type") == "unresolved_star":          # count(*): count the matching rows
            arg = Expression(literal=Expression.Literal(integer=1))
        if i == 0 or arg.WhichOneof("expr_type") != "literal":
            arg = Expression(unresolved_function=Expression.UnresolvedFunction(
                function_name="when", arguments=[condition, arg]))
        rewritten.arguments.append(arg)
    return translator.expressions.function(rewritten).plain()


def _literal_message(value):
    """A Spark Connect literal of a pivot value (as the client would send it)."""
    import datetime
    import decimal
    from pyspark.sql.connect.proto import expressions_pb2
    L = expressions_pb2.Expression.Literal
    if isinstance(value, bool):
        lit_ = L(boolean=value)
    elif isinstance(value, int):
        lit_ = L(long=value)
    elif isinstance(value, float):
        lit_ = L(double=value)
    elif isinstance(value, str):
        lit_ = L(string=value)
    elif isinstance(value, datetime.datetime):
        raise not_supported("pivot on timestamp values with a collection aggregate")
    elif isinstance(value, datetime.date):
        lit_ = L(date=(value - datetime.date(1970, 1, 1)).days)
    elif isinstance(value, decimal.Decimal):
        lit_ = L(decimal=L.Decimal(value=str(value)))
    else:
        raise not_supported(f"pivot on a value of type {type(value).__name__} with a collection aggregate")
    return expressions_pb2.Expression(literal=lit_)


def _one(column, dtype):
    """The one non-NULL value of a group (each group holds at most one): ``max`` where the type is
    ordered, ``any_value`` otherwise."""
    from quarry.api import functions as QF
    ordered = T.is_numeric(dtype) or T.is_string(dtype) or pa.types.is_temporal(dtype)
    return QF.call_function("max" if ordered else "any_value", column)


def _value_label(v, dtype) -> str:
    """A pivot value as Spark names its column (the value cast to a string; NULL as ``null``)."""
    if v is None:
        return "null"
    from quarry.spark.show import cell_text
    return cell_text(v, dtype) if dtype is not None else str(v)
