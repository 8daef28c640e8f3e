"""Spark's aggregate functions, with Spark's semantics (see docs/spark.md, "Functions").

Where quarry has the aggregate under Spark's meaning it is called directly; the others are built
from quarry's aggregates at binding time: ``collect_list`` is ``array_agg`` without its NULLs,
``first``/``last`` take the first/last element of the group's list (NULLs kept unless ignorenulls),
``max_by`` the value at the position of the maximum, the moments (``corr``, ``covar_*``,
``skewness``, ``kurtosis``) come from averages of powers, and ``percentile``/``percentile_approx``/
``mode`` are list kernels over the group's values.
"""

from __future__ import annotations

import pyarrow as pa

from quarry.api.column import Column, _function_column
from quarry.logical import builder as B
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import Call as CallExpr, Expr, Literal
from quarry.logical.spark_functions import (bind_spark_interval, is_year_month, spark_interval_unary,
                                            spark_year_month_unary, ym_months)
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.functions.base import Call, Function, spark_function
from quarry.spark.functions.nested import _call, _case, _lambda, _null_of

__all__: list[str] = []


def _agg(ctx, name: str, args: list[Expr], distinct: bool = False) -> Expr:
    return B.aggregate_call(name, lambda: args, allowed=ctx.allow_aggregates, place=f"in {ctx.method}",
                            distinct=distinct)


def _aggregate_column(build, *columns: Column, name: str) -> Column:
    """An aggregate built from quarry aggregates: ``build(ctx, *argument expressions)``."""
    def bind(ctx):
        inner = ctx.derive(allow_aggregates=False, allow_windows=False)
        return build(ctx, *[c.bind(inner) for c in columns])
    return Column(bind, name)


def _values(ctx, x: Expr, keep_nulls: bool) -> Expr:
    """The group's values of ``x`` in input order, as a list (without NULLs unless ``keep_nulls``)."""
    lst = _agg(ctx, "array_agg", [x])
    if not keep_nulls:
        lst = _call("list_filter", lst, _lambda(x.dtype, lambda v, i: _call("is_not_null", v)))
    return lst


def _drop_flag(name, args, call):
    return f"{name}({args[0]})"


def _list_finish(distinct: bool):
    """After ``array_agg`` (grouped or over a window): the NULLs dropped (and duplicates), ``[]`` for none."""
    def finish(column: Column) -> Column:
        def build(lst):
            element = lst.dtype.value_type
            kept = _call("list_filter", lst, _lambda(element, lambda v, i: _call("is_not_null", v)))
            if distinct:
                kept = _call("list_distinct", kept)
            return _call("coalesce", kept, FN.cast(_call("list_value"), pa.list_(element)))
        from quarry.spark.functions.nested import expr_column
        return expr_column(build, column)
    return finish


@spark_function("collect_list", "array_agg")
def _collect_list(call: Call):
    call.expect(1)
    return Function(_function_column("array_agg", call.args), _list_finish(False))


@spark_function("collect_set")
def _collect_set(call: Call):
    call.expect(1)
    return Function(_function_column("array_agg", call.args), _list_finish(True))


def _first_last(index: int):
    def builder(call: Call):
        call.expect(1, 2)
        ignore = bool(call.literal(1, False))
        x = call.args[0]

        def bind(ctx):
            if ctx.window_function:
                # over a window: the frame's first/last value (NULLs kept unless ignorenulls)
                inner = ctx.derive(window_function=False, allow_windows=False, allow_aggregates=False)
                value = x.bind(inner)
                if not ignore:
                    return FN.call("first_value" if index == 1 else "last_value", [value])
                if index == 1:
                    return FN.call("nth_value_ignore_nulls", [value, FN.lit(1)])
                return FN.call("last_value_ignore_nulls", [value])
            inner = ctx.derive(allow_aggregates=False, allow_windows=False)
            return _call("list_extract", _values(ctx, x.bind(inner), not ignore), FN.lit(index))
        return Column(bind, call.name, window_func="first_value" if index == 1 else "last_value")
    return builder


spark_function("first", "first_value", namer=_drop_flag)(_first_last(1))
spark_function("last", "last_value", namer=_drop_flag)(_first_last(-1))


@spark_function("any_value", namer=_drop_flag)
def _any_value(call: Call):
    call.expect(1, 2)
    # quarry's any_value skips NULLs; Spark's may return one unless ignoreNulls: the NULL-skipping one is
    # a valid answer to both
    return _function_column("any_value", call.args[:1])


def count_distinct(args: list[Column]) -> Column:
    """Spark's ``count(DISTINCT a, b, ...)``: the number of distinct rows of the arguments among the rows
    where none of them is NULL (several arguments count distinct structs of them)."""
    if len(args) == 1:
        return _function_column("count", args, distinct=True)

    def build(ctx, *es):
        # quarry's DISTINCT aggregates take scalar keys: the row is one text, each value's text after its
        # length (so no two rows share one), a float's -0.0 added to 0.0 first (Spark counts them as one)
        parts = []
        for e in es:
            if not (T.is_numeric(e.dtype) or T.is_string(e.dtype) or T.is_temporal(e.dtype) or e.dtype == T.BOOL):
                raise not_supported(f"count_distinct of several columns with a {T.sql_name(e.dtype)} column")
            if T.is_float(e.dtype):
                e = _call("add", e, FN.lit(0.0))
            text = FN.cast(e, T.STRING)
            parts += [FN.cast(_call("length", text), T.STRING), FN.lit(":"), text]
        whole = _call("is_not_null", es[0])
        for e in es[1:]:
            whole = _call("and", whole, _call("is_not_null", e))
        key = _call("concat", *parts)
        return _agg(ctx, "count", [_case(whole, key, _null_of(T.STRING))], distinct=True)
    return _aggregate_column(build, *args, name="count")


@spark_function("count_distinct", "countdistinct")
def _count_distinct(call: Call):
    call.expect(1, -1)
    return count_distinct(call.args)


@spark_function("count_if")
def _count_if(call: Call):
    call.expect(1)
    return _aggregate_column(
        lambda ctx, c: _agg(ctx, "count", [_case(FN.cast(c, T.BOOL), FN.lit(1), _null_of(T.INT32))]),
        call.args[0], name=call.name)


@spark_function("approx_count_distinct")
def _approx_count_distinct(call: Call):
    call.expect(1, 2)
    return _function_column("approx_count_distinct", call.args[:1])


def _sum_finish(column: Column, ansi: bool = True) -> Column:
    """Spark's sum types: integers -> bigint, decimal(p, s) -> decimal(min(38, p + 10), s) (a sum over it
    raises under ANSI mode, NULL without)."""
    def bind(ctx):
        e = column.bind(ctx)
        arg = e.args[0] if getattr(e, "args", None) else None
        if isinstance(arg, CallExpr) and arg.name == "cast" and T.is_integer(arg.args[0].dtype):
            arg = arg.args[0]                        # quarry sums a BIGINT exactly, as DECIMAL(38,0)
        if arg is not None and T.is_integer(arg.dtype):
            return FN.cast(e, T.INT64, explicit=True)
        if arg is not None and T.is_decimal(arg.dtype):
            target = pa.decimal128(min(38, arg.dtype.precision + 10), arg.dtype.scale)
            return CallExpr("spark_decimal_check", (e, Literal(ansi, T.BOOL)), target, True)
        return e
    return Column(bind, column.name)


def _avg_finish(column: Column) -> Column:
    """Spark's avg types: decimal(p, s) -> decimal(min(38, p + 4), min(38, s + 4)), others double."""
    def bind(ctx):
        e = column.bind(ctx)
        arg = e.args[0] if getattr(e, "args", None) else None
        if arg is not None and T.is_decimal(arg.dtype):
            return FN.cast(e, pa.decimal128(min(38, arg.dtype.precision + 4), min(38, arg.dtype.scale + 4)),
                           explicit=True)
        return FN.cast(e, T.FLOAT64, explicit=True)
    return Column(bind, column.name)


def _as_micros(column: Column) -> Column:
    """An aggregate's argument: a day-time interval as its microseconds (BIGINT, which quarry's
    aggregates take), a year-month one as its months, other values as they are; ``_interval_finish``
    turns the result back."""
    def bind(ctx):
        e = column.bind(ctx)
        if is_year_month(e.dtype):
            return ym_months(e)
        return spark_interval_unary("micros", e) if pa.types.is_duration(e.dtype) else e
    return Column(bind, column.name)


def _interval_type(column: Column, ctx):
    """The type of an aggregate's argument (bound as an argument is) when it is a day-time or a year-month
    interval, else None."""
    t = column.bind(ctx.derive(allow_aggregates=False, allow_windows=False)).dtype
    return t if pa.types.is_duration(t) or is_year_month(t) else None


def _is_interval(column: Column, ctx) -> bool:
    return _interval_type(column, ctx) is not None


def _from_units(t: pa.DataType, e):
    """An aggregate of an interval's microseconds or months as the interval again."""
    return spark_year_month_unary("from_months", e) if is_year_month(t) else spark_interval_unary("from_micros", e)


def _interval_finish(argument: Column, otherwise=None):
    """The finish of an aggregate of ``_as_micros(argument)``, over a window or not: an interval again
    when ``argument`` is one (Spark's sum, min, max of intervals), else ``otherwise``."""
    def finish(column: Column) -> Column:
        def bind(ctx):
            t = _interval_type(argument, ctx)
            if t is not None:
                return _from_units(t, column.bind(ctx))
            return (otherwise(column) if otherwise is not None else column).bind(ctx)
        return Column(bind, column.name)
    return finish


@spark_function("min", "max")
def _min_max(call: Call):
    call.expect(1)
    from quarry.api.column import _function_column
    return Function(_function_column(call.name, [_as_micros(call.args[0])], distinct=call.distinct),
                    _interval_finish(call.args[0]))


@spark_function("sum")
def _sum(call: Call):
    call.expect(1)
    from quarry.api.column import _function_column
    ansi = call.translator.ansi
    return Function(_function_column("sum", [_as_micros(call.args[0])], distinct=call.distinct),
                    _interval_finish(call.args[0], lambda c: _sum_finish(c, ansi)))


@spark_function("sum_distinct", "sumdistinct")
def _sum_distinct(call: Call):
    call.expect(1)
    from quarry.api.column import _function_column
    ansi = call.translator.ansi
    return Function(_function_column("sum", call.args, distinct=True), lambda c: _sum_finish(c, ansi))


@spark_function("avg", "mean")
def _avg(call: Call):
    call.expect(1)
    from quarry.api.column import _function_column
    base = _function_column("avg", call.args, distinct=call.distinct)
    interval = _avg_of_interval(call)
    arg = call.args[0]

    def finish(column: Column) -> Column:
        def bind(ctx):
            if _is_interval(arg, ctx):
                if column is not base:
                    raise not_supported("`avg` of an interval over a window")
                return interval.bind(ctx)
            return _avg_finish(column).bind(ctx)
        return Column(bind, column.name)
    return Function(base, finish)


def _avg_of_interval(call: Call) -> Column:
    """Spark's ``avg`` of a day-time interval: the exact sum of its microseconds divided by the count,
    HALF_UP to the microsecond (an interval)."""
    def build(ctx, x):
        units = ym_months(x) if is_year_month(x.dtype) else spark_interval_unary("micros", x)
        total = _from_units(x.dtype, _agg(ctx, "sum", [units], distinct=call.distinct))
        count = _agg(ctx, "count", [x], distinct=call.distinct)
        return bind_spark_interval("divide", total, count)
    return _aggregate_column(build, call.args[0], name=call.name)


def _within(e: Expr, target: pa.DataType) -> Expr:
    """``e`` cast to ``target`` (BIGINT or a decimal) where it fits, NULL where it does not (the ``try_``
    aggregates); quarry's exact sums may hold more digits than Spark's result type."""
    import decimal
    if T.is_integer(target):
        low, high = FN.lit(decimal.Decimal(-2 ** 63)), FN.lit(decimal.Decimal(2 ** 63 - 1))
        fits = _call("and", _call("greater_equal", e, low), _call("less_equal", e, high))
    else:
        digits = target.precision - target.scale           # the largest value of the type, all nines
        largest = decimal.Decimal(("9" * digits or "0") + ("." + "9" * target.scale if target.scale else ""))
        fits = _call("less_equal", _call("abs", e), FN.lit(largest))
    fits = _call("coalesce", fits, FN.lit(False))
    safe = _case(fits, e, FN.cast(FN.lit(0), e.dtype))            # every branch is evaluated: cast only fits
    return _case(fits, FN.cast(safe, target, explicit=True), _null_of(target))


@spark_function("try_sum")
def _try_sum(call: Call):
    """Spark's ``try_sum``: ``sum``'s type and value, NULL where the sum overflows that type."""
    call.expect(1)

    def build(ctx, x):
        total = _agg(ctx, "sum", [x])
        if T.is_integer(x.dtype):
            return _within(total, T.INT64)
        if T.is_decimal(x.dtype):
            return _within(total, pa.decimal128(min(38, x.dtype.precision + 10), x.dtype.scale))
        return total
    return _aggregate_column(build, call.args[0], name="try_sum")


@spark_function("try_avg")
def _try_avg(call: Call):
    """Spark's ``try_avg``: ``avg``'s type and value, NULL where the sum or the average overflows (only
    decimals can: an average of integers is a DOUBLE of their exact sum)."""
    call.expect(1)

    def build(ctx, x):
        if not T.is_decimal(x.dtype):
            return _double(_agg(ctx, "avg", [x]))
        p, s = x.dtype.precision, x.dtype.scale
        total = _within(_agg(ctx, "sum", [x]), pa.decimal128(min(38, p + 10), s))
        mean = _within(_agg(ctx, "avg", [x]), pa.decimal128(min(38, p + 4), min(38, s + 4)))
        return _case(_call("is_not_null", total), mean, _null_of(mean.dtype))
    return _aggregate_column(build, call.args[0], name="try_avg")


def _bitwise_aggregate(op: str):
    """Spark's ``bit_and``/``bit_or``/``bit_xor`` of an integer column (NULLs skipped, NULL for none), one bit
    at a time: bit ``b`` of the result is the min (and), max (or) or sum mod 2 (xor) of the values' bit ``b``,
    so each is a plain vectorized aggregate; the bits are then put together in the argument's type."""
    def build(ctx, x):
        if not T.is_integer(x.dtype):
            raise SparkError(f"`bit_{op}` expects an integer, got {T.sql_name(x.dtype)}",
                             error_class="DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE")
        width = x.dtype.bit_width
        wide = FN.cast(x, T.INT64)
        total = None
        for b in range(width):
            bit = _call("spark_bitwise", FN.lit("and"), _call("spark_shift", FN.lit("right"), wide, FN.lit(b)),
                        FN.lit(1, T.INT64))
            if op == "xor":
                value = FN.cast(_call("spark_arith", FN.lit("remainder"), FN.cast(_agg(ctx, "sum", [bit]), T.INT64),
                                      FN.lit(2, T.INT64), FN.lit(False)), T.INT64)
            else:
                value = FN.cast(_agg(ctx, "min" if op == "and" else "max", [bit]), T.INT64)
            if b == width - 1 and width < 64:      # the sign bit of a narrower type weighs -2^(width-1)
                part = _call("negate", _call("spark_shift", FN.lit("left"), value, FN.lit(b)))
                total = _call("add", total, part)
            else:                                  # (bit 63 shifted left wraps to -2^63 itself)
                part = _call("spark_shift", FN.lit("left"), value, FN.lit(b))
                total = part if total is None else _call("spark_bitwise", FN.lit("or"), total, part)
        return FN.cast(total, x.dtype)
    return build


for _op in ("and", "or", "xor"):
    spark_function(f"bit_{_op}")((lambda op: lambda call: (
        call.expect(1), _aggregate_column(_bitwise_aggregate(op), call.args[0], name=f"bit_{op}"))[1])(_op))


def _double(e: Expr) -> Expr:
    return FN.cast(e, T.FLOAT64, explicit=True)


def _moments(ctx, x: Expr, y: Expr | None = None):
    """avg(x), avg(y), avg(x*y) and count over the rows where x (and y) are not NULL."""
    x = _double(x)
    if y is not None:
        y = _double(y)
        both = _call("and", _call("is_not_null", x), _call("is_not_null", y))
        x = _case(both, x, _null_of(T.FLOAT64))
        y = _case(both, y, _null_of(T.FLOAT64))
    return x, y


def _f(v: float) -> Expr:
    return Literal(float(v), T.FLOAT64)


@spark_function("covar_pop", "covar_samp", "corr")
def _covariance(call: Call):
    call.expect(2)
    name = call.name

    def build(ctx, x, y):
        x, y = _moments(ctx, x, y)
        n = _double(_agg(ctx, "count", [x]))
        mx, my = _agg(ctx, "avg", [x]), _agg(ctx, "avg", [y])
        mxy = _agg(ctx, "avg", [_call("multiply", x, y)])
        cov = _call("subtract", mxy, _call("multiply", mx, my))
        if name == "covar_pop":
            return _case(_call("equal", n, _f(0)), _null_of(T.FLOAT64), cov)
        if name == "covar_samp":
            # Spark: NULL for one row (n - 1 = 0)
            return _case(_call("less_equal", n, _f(1)), _null_of(T.FLOAT64),
                         _call("divide", _call("multiply", cov, n), _call("subtract", n, _f(1))))
        sx, sy = _agg(ctx, "stddev_pop", [x]), _agg(ctx, "stddev_pop", [y])
        denominator = _call("multiply", sx, sy)
        return _case(_call("equal", n, _f(0)), _null_of(T.FLOAT64),
                     _call("equal", denominator, _f(0)), _null_of(T.FLOAT64),
                     _call("divide", cov, denominator))
    return _aggregate_column(build, *call.args, name=name)


@spark_function("skewness", "kurtosis")
def _shape_moments(call: Call):
    call.expect(1)
    name = call.name

    def build(ctx, x):
        x, _ = _moments(ctx, x)
        m1 = _agg(ctx, "avg", [x])
        m2 = _agg(ctx, "avg", [_call("multiply", x, x)])
        m3 = _agg(ctx, "avg", [_call("multiply", _call("multiply", x, x), x)])
        mul, sub, add = (lambda a, b: _call("multiply", a, b)), (lambda a, b: _call("subtract", a, b)), \
            (lambda a, b: _call("add", a, b))
        var = sub(m2, mul(m1, m1))                                            # central 2nd moment
        if name == "skewness":
            c3 = add(sub(m3, mul(_f(3), mul(m1, m2))), mul(_f(2), mul(m1, mul(m1, m1))))
            value = _call("divide", c3, _call("power", var, _f(1.5)))
        else:
            m4 = _agg(ctx, "avg", [_call("multiply", _call("multiply", x, x), _call("multiply", x, x))])
            c4 = add(sub(add(sub(m4, mul(_f(4), mul(m1, m3))), mul(_f(6), mul(mul(m1, m1), m2))),
                         mul(_f(3), mul(mul(m1, m1), mul(m1, m1)))), _f(0))
            value = sub(_call("divide", c4, mul(var, var)), _f(3))
        # Spark (statisticalAggregate not legacy): NULL without rows and when all values are equal (0 / 0)
        return _case(_call("is_null", var), _null_of(T.FLOAT64),
                     _call("less_equal", _call("abs", var), _f(1e-300)), _null_of(T.FLOAT64), value)
    return _aggregate_column(build, *call.args, name=name)


@spark_function("max_by", "min_by")
def _max_by(call: Call):
    call.expect(2)
    largest = call.name == "max_by"

    def build(ctx, x, order):
        values, keys = _agg(ctx, "array_agg", [x]), _agg(ctx, "array_agg", [order])
        best = _agg(ctx, "max" if largest else "min", [order])
        # the value of the (first) row whose ordering value is the largest / smallest
        return _call("list_extract", values, _call("list_position", keys, best))
    return _aggregate_column(build, *call.args, name=call.name)


@spark_function("mode", namer=_drop_flag)
def _mode(call: Call):
    call.expect(1, 2)
    return _aggregate_column(lambda ctx, x: _call("spark_list_mode", _agg(ctx, "array_agg", [x])), call.args[0],
                             name=call.name)


def _percentages(call: Call, i: int):
    p = call.protos[i]
    kind = p.WhichOneof("expr_type")
    if kind == "literal":
        lit = p.literal
        if lit.WhichOneof("literal_type") == "array":
            return [call.translator.literal_value(e)[0] for e in lit.array.elements]
        return call.literal(i)
    if kind == "unresolved_function" and p.unresolved_function.function_name.lower() == "array":
        return [call.translator.literal_value(a.literal)[0] for a in p.unresolved_function.arguments]
    raise SparkError(f"`{call.name}` takes the percentage as a literal", error_class="DATATYPE_MISMATCH")


def _percentile(interpolate: bool):
    def builder(call: Call):
        call.expect(2, 3)
        p = _percentages(call, 1)
        if isinstance(p, list):
            p_lit = Literal([float(v) for v in p], pa.list_(T.FLOAT64))
        else:
            p_lit = Literal(float(p), T.FLOAT64)
        return _aggregate_column(
            lambda ctx, x: _call("spark_list_percentile", _agg(ctx, "array_agg", [x]), p_lit, FN.lit(interpolate)),
            call.args[0], name=call.name)
    return builder


spark_function("percentile")(_percentile(True))
spark_function("percentile_approx", "approx_percentile")(_percentile(False))


@spark_function("median")
def _median(call: Call):
    call.expect(1)
    return _aggregate_column(lambda ctx, x: _call("spark_list_percentile", _agg(ctx, "array_agg", [x]),
                                                  Literal(0.5, T.FLOAT64), FN.lit(True)), call.args[0], name="median")


@spark_function("listagg", "string_agg")
def _listagg(call: Call):
    call.expect(1, 2)
    sep = call.args[1] if len(call.args) > 1 else None

    if call.distinct:
        return _listagg_distinct(call)

    def build(ctx, x, *rest):
        delimiter = rest[0] if rest else Literal("", T.STRING)
        return _agg(ctx, "string_agg", [FN.cast(x, T.STRING), delimiter])
    cols = [call.args[0]] + ([sep] if sep is not None else [])
    return _aggregate_column(build, *cols, name=call.name)


@spark_function("bool_and", "every")
def _bool_and(call: Call):
    call.expect(1)
    return _function_column("bool_and", call.args)


@spark_function("bool_or", "some", "any")
def _bool_or(call: Call):
    call.expect(1)
    return _function_column("bool_or", call.args)


@spark_function("stddev", "std", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop")
def _spread(call: Call):
    call.expect(1)
    target = {"stddev": "stddev_samp", "std": "stddev_samp", "variance": "var_samp"}.get(call.name, call.name)
    from quarry.api.column import _function_column
    return Function(_function_column(target, call.args, distinct=call.distinct))


@spark_function("listagg_distinct", "string_agg_distinct")
def _listagg_distinct(call: Call):
    call.expect(1, 2)
    sep = call.args[1] if len(call.args) > 1 else None

    def build(ctx, x, *rest):
        delimiter = rest[0] if rest else Literal("", T.STRING)
        values = _call("spark_array_distinct", _values(ctx, FN.cast(x, T.STRING), False))
        joined = _call("array_to_string", values, delimiter)
        # no values: NULL, as listagg
        return _case(_call("equal", _call("list_length", values), FN.lit(0, T.INT64)), _null_of(T.STRING), joined)
    return _aggregate_column(build, *([call.args[0]] + ([sep] if sep is not None else [])), name=call.name)


@spark_function("regr_count", "regr_avgx", "regr_avgy", "regr_sxx", "regr_syy", "regr_sxy", "regr_slope",
                "regr_intercept", "regr_r2")
def _regression(call: Call):
    call.expect(2)
    name = call.name

    def build(ctx, y, x):
        # over the rows where both y and x are not NULL
        x, y = _moments(ctx, x, y)
        n = _agg(ctx, "count", [x])
        if name == "regr_count":
            return n
        nd = _double(n)
        mx, my = _agg(ctx, "avg", [x]), _agg(ctx, "avg", [y])
        if name == "regr_avgx":
            return mx
        if name == "regr_avgy":
            return my
        mul, sub, div = (lambda a, b: _call("multiply", a, b)), (lambda a, b: _call("subtract", a, b)), \
            (lambda a, b: _call("divide", a, b))
        var_x = sub(_agg(ctx, "avg", [mul(x, x)]), mul(mx, mx))
        var_y = sub(_agg(ctx, "avg", [mul(y, y)]), mul(my, my))
        cov = sub(_agg(ctx, "avg", [mul(x, y)]), mul(mx, my))
        empty = _call("equal", nd, _f(0))
        if name in ("regr_sxx", "regr_syy", "regr_sxy"):
            value = mul({"regr_sxx": var_x, "regr_syy": var_y, "regr_sxy": cov}[name], nd)
            return _case(empty, _null_of(T.FLOAT64), value)
        flat_x = _call("less_equal", _call("abs", var_x), _f(1e-300))
        slope = div(cov, var_x)
        if name == "regr_slope":
            return _case(empty, _null_of(T.FLOAT64), flat_x, _null_of(T.FLOAT64), slope)
        if name == "regr_intercept":
            return _case(empty, _null_of(T.FLOAT64), flat_x, _null_of(T.FLOAT64), sub(my, mul(slope, mx)))
        # regr_r2: NULL when x is constant, 1 when y is constant, else corr squared
        flat_y = _call("less_equal", _call("abs", var_y), _f(1e-300))
        r2 = div(mul(cov, cov), mul(var_x, var_y))
        return _case(empty, _null_of(T.FLOAT64), flat_x, _null_of(T.FLOAT64), flat_y, _f(1.0), r2)
    return _aggregate_column(build, *call.args, name=name)


@spark_function("grouping", "grouping_id")
def _grouping_elsewhere(call: Call):
    """``grouping``/``grouping_id`` are the rollup/cube/grouping-sets aggregate's (``quarry.spark.grouping``
    translates them there); anywhere else Spark refuses them with this error."""
    raise SparkError("grouping() / grouping_id() can only be used with GroupingSets / Cube / Rollup",
                     error_class="UNSUPPORTED_GROUPING_EXPRESSION")
