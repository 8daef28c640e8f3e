"""Spark Connect expressions (``spark.connect.Expression``) as quarry Columns, named as Spark names them.

Each expression becomes a :class:`quarry.api.column.Column`, so it is resolved and typed by
the same binder and function registry as the DataFrame API, and reaches the plan builder as
the same typed expression. Beside each Column goes the output name Spark would give it
(``(a + 1)``, ``sum(x)``, ``count(1)``, ``CAST(x AS INT)``), which the relation translator
puts on every top-level expression, so result columns are named as in Spark.

Where Spark's meaning differs from quarry's SQL defaults, the translation says so:

- names resolve case-insensitively (quarry's rule already);
- ``orderBy("x")`` sorts ascending with NULLs first, descending with NULLs last (Spark's
  default order, not quarry's NULLS LAST);
- integer literals are ``int`` unless they need ``bigint``, as in Spark;
- Spark's function library (``sum`` of integers is ``bigint``, ``dayofweek`` counts from Sunday,
  lambdas, generators, ...) is in :mod:`quarry.spark.functions`; lambdas and struct/array/map
  extraction translate here into the Columns those functions take.

Python UDFs (``CommonInlineUserDefinedFunction``) are :mod:`quarry.spark.udfs`'. Anything else
(functions neither registered nor in the table below) raises ``Not supported: ...`` naming it.
"""

from __future__ import annotations

import datetime
import decimal
import re

import grpc
import pyarrow as pa
import sqlglot

from pyspark.sql.connect.proto import expressions_pb2

from quarry.api import functions as QF
from quarry.api.column import Column, WindowSpec, _function_column, col, expr, lit
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import WindowFrame
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.functions import Call, Function, lookup
from quarry.spark.types import from_arrow, simple_string, to_arrow

Expression = expressions_pb2.Expression

__all__ = ["ExpressionTranslator", "Translated", "split_identifier"]

_EPOCH = datetime.date(1970, 1, 1)
_EPOCH_TS = datetime.datetime(1970, 1, 1)


class Translated:
    """One translated expression: the quarry Column and the name Spark gives it."""

    __slots__ = ("column", "name", "star", "generator", "names", "struct")

    def __init__(self, column: Column, name: str, star: bool = False, generator=None, names=None, struct=None):
        self.column = column
        self.name = name
        self.star = star
        self.generator = generator      # (Spark name, argument Columns) of explode & co.
        self.names = names              # the aliases of a generator's output columns
        self.struct = struct            # ``x.*``: the column ``x``, whose fields it means if ``x`` is a struct

    def outputs(self, shape) -> list[Column]:
        """The named Columns this expression puts in a select list (several for some generators and
        for the star of a struct); ``shape(column)`` is the Arrow type of a column over the select's input."""
        if self.star and self.struct is not None:
            return self._struct_fields(shape)
        if self.generator is None:
            return [self.named()]
        from quarry.spark.functions.nested import generator
        outs = generator(self.generator[0], self.generator[1], shape)
        names = self.names or [n for _, n in outs]
        if len(names) != len(outs):
            raise SparkError(f"`{self.generator[0]}` gives {len(outs)} column(s) but {len(names)} alias(es)",
                             error_class="UDTF_ALIAS_NUMBER_MISMATCH")
        return [c.alias(n) for (c, _), n in zip(outs, names)]

    def _struct_fields(self, shape) -> list[Column]:
        """``s.*``: each field of the struct column ``s`` under its own name, when ``s`` is a struct column;
        else the star of the DataFrame alias ``s``."""
        from quarry.errors import QuarryError
        from quarry.spark.functions.nested import extract_value
        try:
            t = shape(self.struct)
        except (QuarryError, SparkError):
            t = None                    # no column of that name: the qualifier is a DataFrame alias
        if t is None or not pa.types.is_struct(t):
            return [self.named()]
        return [extract_value(self.struct, t.field(i).name).alias(t.field(i).name) for i in range(t.num_fields)]

    def named(self) -> Column:
        """The Column under its Spark name (stars stay stars: they name many columns)."""
        return self.column if self.star else self.column.alias(self.name)


_IDENTIFIER_STAR = re.compile(r"((`[^`]*(``[^`]*)*`|[A-Za-z_][A-Za-z0-9_]*)\.)+\*")


def _star(qualifier: str) -> Translated:
    """``qualifier.*``: the columns of the DataFrame alias ``qualifier``, or the fields of the struct column
    of that name (decided when the select's input is known, :meth:`Translated.outputs`)."""
    parts = split_identifier(qualifier)
    struct = col(parts[0]) if len(parts) == 1 else _dotted_column(parts)
    return Translated(col(f"{parts[-1]}.*"), "*", star=True, struct=struct)


def split_identifier(text: str) -> list[str]:
    """The parts of a Spark identifier: ``a.b`` -> ``['a', 'b']``, ```a.b`.c`` -> ``['a.b', 'c']``.

    >>> split_identifier("`my col`.x")
    ['my col', 'x']
    """
    parts, current, quoted, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "`":
            if quoted and i + 1 < len(text) and text[i + 1] == "`":
                current.append("`")
                i += 2
                continue
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _spark_sql_to_quarry(text: str, ansi: bool = True) -> str:
    """A Spark SQL expression as quarry's (DuckDB-flavoured) SQL text, through sqlglot's dialects, with
    Spark 4's ANSI meaning of ``/``, ``%`` and ``CAST`` (:func:`quarry.spark.sql.spark_ansi_ast`)."""
    from quarry.spark.sql import spark_ansi_ast
    try:
        return spark_ansi_ast(sqlglot.parse_one(text, read="spark"), ansi).sql(dialect="duckdb")
    except sqlglot.errors.ParseError as err:
        raise SparkError(f"syntax error in the expression `{text}`: {err}", error_class="PARSE_SYNTAX_ERROR",
                         exception="ParseException", parameters={"error": text, "hint": ""}) from None


def _literal_text(value) -> str:
    """Spark's column name for a literal: ``1``, ``abc`` (strings unquoted), ``NULL``, ``true``."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return f"TIMESTAMP '{value}'"
    if isinstance(value, datetime.date):
        return f"DATE '{value}'"
    if isinstance(value, datetime.timedelta):
        from quarry.spark.show import _interval_text
        return _interval_text(value)                 # INTERVAL '1 00:00:00' DAY TO SECOND
    return str(value)




# ---------------------------------------------------------------------------- functions

_BINARY = {"+": ("add", "+"), "-": ("subtract", "-"), "*": ("multiply", "*"), "/": ("divide", "/"),
           "%": ("modulo", "%"), "==": ("equal", "="), "!=": ("not_equal", "!="), "<": ("less", "<"),
           "<=": ("less_equal", "<="), ">": ("greater", ">"), ">=": ("greater_equal", ">="),
           "<=>": ("is_not_distinct_from", "<=>"), "and": ("and", "AND"), "or": ("or", "OR")}

# Spark name -> quarry registry name, for functions whose arguments and meaning agree
_SAME = {
    # (the math, string and conditional functions are in quarry.spark.functions: numeric, strings, conditional)
    "year": "year", "month": "month", "dayofmonth": "day",
    "day": "day", "hour": "hour", "minute": "minute", "second": "second", "dayofyear": "dayofyear",
    "quarter": "quarter", "weekofyear": "week", "to_date": "to_date",
    "current_date": "current_date", "current_timestamp": "current_timestamp", "now": "now",
    "make_date": "make_date",
    # aggregates (the others, and the window functions, are in quarry/spark/functions/)
    "min": "min", "max": "max", "count": "count", "product": "product",
}

# the names ExpressionTranslator.function() handles itself (beside the registry and _SAME)
HANDLED = frozenset(list(_BINARY) + ["not", "negative", "isnull", "isnotnull", "in", "isnan", "like", "ilike",
                                     "rlike", "regexp", "regexp_like", "when", "dayofweek", "datediff",
                                     "date_add", "date_sub", "date_trunc", "trunc", "log", "count",
                                     "count_distinct", "sum_distinct", "first"])

# renamed functions Spark shows under another name in column names
_SHOWN = {"startswith": "startswith", "endswith": "endswith"}


def _bigint_sum(column: Column) -> Column:
    """Spark's ``sum`` of integers is a ``bigint``; quarry's exact sum of them is DECIMAL(38,0)."""
    def bind(ctx):
        e = column.bind(ctx)
        if T.is_decimal(e.dtype) and e.dtype.scale == 0 and getattr(e, "args", None) is not None \
                and all(T.is_integer(a.dtype) for a in e.args):
            return FN.cast(e, T.INT64, explicit=True)
        return e
    return Column(bind, column.name)


class ExpressionTranslator:
    """Translate ``spark.connect.Expression`` messages for one plan.

    ``resolve_plan_id(plan_id)`` returns the quarry DataFrame a ``df["col"]`` reference
    (an attribute with a plan id) belongs to, or None when the id is unknown.
    """

    def __init__(self, resolve_plan_id=None, time_zone: str = "UTC", ansi: bool = True):
        self.resolve_plan_id = resolve_plan_id or (lambda plan_id: None)
        self.time_zone = time_zone
        self.ansi = ansi                 # spark.sql.ansi.enabled: errors (True) or NULL results

    # -- entry points -------------------------------------------------------------------------

    def translate(self, e: Expression) -> Translated:
        kind = e.WhichOneof("expr_type")
        if kind is None:
            raise SparkError("the plan has an expression with nothing in it (a required expression is missing)",
                             code=grpc.StatusCode.INVALID_ARGUMENT)
        method = getattr(self, f"_{kind}", None)
        if method is None:
            raise not_supported(f"the expression `{kind}`")
        return method(getattr(e, kind))

    def column(self, e: Expression) -> Column:
        return self.translate(e).column

    def sort_column(self, e: Expression) -> Column:
        """A sort key, with Spark's default NULL order when the client gave none."""
        if e.WhichOneof("expr_type") == "sort_order":
            return self._sort_key(e.sort_order)
        from quarry.spark.functions.internal import order_key
        return order_key(self.column(e)).asc_nulls_first()

    # -- leaves -------------------------------------------------------------------------------

    def _unresolved_attribute(self, a) -> Translated:
        if a.is_metadata_column:
            raise not_supported("metadata columns")
        parts = split_identifier(a.unparsed_identifier)
        if a.HasField("plan_id"):
            owner = self.resolve_plan_id(a.plan_id)
            if owner is not None and len(parts) in (1, 2):
                name = parts[-1]
                if name == "*":
                    return Translated(col("*"), "*", star=True)
                return Translated(_owned_column(owner, name), name)
        if parts[-1] == "*":
            if len(parts) > 2:
                raise not_supported(f"the star of a nested field `{a.unparsed_identifier}`")
            return _star(parts[0]) if len(parts) == 2 else Translated(col("*"), "*", star=True)
        if len(parts) == 1:
            return Translated(col(parts[0]), parts[0])
        return Translated(_dotted_column(parts), parts[-1])

    def _unresolved_star(self, s) -> Translated:
        target = s.unparsed_target if s.HasField("unparsed_target") else ""
        if s.HasField("plan_id"):
            raise not_supported("df['*'] (the star of one DataFrame); select('*') or alias the DataFrames")
        if target:
            return _star(target[:-2] if target.endswith(".*") else target)
        return Translated(col("*"), "*", star=True)

    def _expression_string(self, s) -> Translated:
        stripped = s.expression.strip()
        if stripped == "*":                              # selectExpr("*", ...)
            return Translated(col("*"), "*", star=True)
        if stripped.endswith(".*") and _IDENTIFIER_STAR.fullmatch(stripped):
            return _star(stripped[:-2])                  # selectExpr("t.*"), selectExpr("s.*")
        from quarry.logical.functions import aggregate_rules, arithmetic_rules, cast_rules
        from quarry.spark.sql import spark_aggregates, spark_arithmetic, spark_casts, spark_names
        with spark_names():
            column = expr(_spark_sql_to_quarry(s.expression, self.ansi))
        ansi, zone = self.ansi, self.time_zone

        def bind(ctx):            # arithmetic, casts and aggregates as spark.sql binds them (Spark's decimals,
            with arithmetic_rules(spark_arithmetic(ansi)), cast_rules(spark_casts(ansi, zone)), \
                    aggregate_rules(spark_aggregates(ansi)):              # divisions, intervals)
                return column.bind(ctx)
        return Translated(Column(bind, column.name), column.name)

    def _literal(self, literal) -> Translated:
        value, dtype = self.literal_value(literal)
        if dtype is not None and pa.types.is_duration(dtype):     # quarry's lit() reads a timedelta as INTERVAL
            from quarry.logical.expressions import Literal
            return Translated(Column(lambda ctx: Literal(value, dtype), "lit"), _literal_text(value))
        return Translated(lit(value, dtype) if dtype is not None else lit(value), _literal_text(value))

    def literal_value(self, literal) -> tuple[object, pa.DataType | None]:
        """A Literal message's Python value and Arrow type."""
        kind = literal.WhichOneof("literal_type")
        if kind == "null":
            return None, to_arrow(literal.null, self.time_zone) if literal.null.WhichOneof("kind") not in (
                None, "null") else None
        if kind == "boolean":
            return literal.boolean, pa.bool_()
        if kind in ("byte", "short", "integer", "long"):
            return int(getattr(literal, kind)), {"byte": pa.int8(), "short": pa.int16(), "integer": pa.int32(),
                                                 "long": pa.int64()}[kind]
        if kind == "float":
            return float(literal.float), pa.float32()
        if kind == "double":
            return float(literal.double), pa.float64()
        if kind == "decimal":
            # Spark's rule: the value's own precision and scale, each raised to the one the message
            # states (PySpark states decimal(10,0) for every Decimal: lit(Decimal("12.345")) is
            # decimal(10,3), not a rounded 12)
            value = decimal.Decimal(literal.decimal.value)
            exponent = value.as_tuple().exponent
            digits = len(value.as_tuple().digits)
            scale = max(0, -exponent)
            precision = digits + exponent if exponent > 0 else digits
            if literal.decimal.HasField("precision"):
                precision = max(precision, literal.decimal.precision)
            if literal.decimal.HasField("scale"):
                scale = max(scale, literal.decimal.scale)
            return value, pa.decimal128(min(max(precision, scale, 1), 38), scale)
        if kind == "string":
            return literal.string, pa.string()
        if kind == "binary":
            return bytes(literal.binary), pa.binary()
        if kind == "date":
            return _EPOCH + datetime.timedelta(days=literal.date), pa.date32()
        if kind in ("timestamp", "timestamp_ntz"):
            value = _EPOCH_TS + datetime.timedelta(microseconds=getattr(literal, kind))
            if kind == "timestamp" and self.time_zone not in ("UTC", "Etc/UTC", "Z", "+00:00"):
                # an instant: quarry keeps the session zone's wall time (see relations._zone_free)
                import zoneinfo
                try:
                    zone = zoneinfo.ZoneInfo(self.time_zone)
                    value = value.replace(tzinfo=datetime.timezone.utc).astimezone(zone).replace(tzinfo=None)
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    pass
            return value, pa.timestamp("us")
        if kind == "day_time_interval":             # Spark's DayTimeIntervalType: a duration in µs
            return datetime.timedelta(microseconds=literal.day_time_interval), pa.duration("us")
        raise not_supported(f"literals of type `{kind}`")

    # -- structure ---------------------------------------------------------------------------

    def _alias(self, a) -> Translated:
        inner = self.translate(a.expr)
        if inner.generator is not None:
            return Translated(inner.column, a.name[0], generator=inner.generator, names=list(a.name))
        if len(a.name) != 1:
            raise SparkError("only a generator (explode, posexplode, inline) takes several aliases",
                             error_class="MULTI_ALIAS_WITHOUT_GENERATOR")
        return Translated(inner.column.alias(a.name[0]), a.name[0])

    def _cast(self, c) -> Translated:
        inner = self.translate(c.expr)
        if c.HasField("type"):
            target = to_arrow(c.type, self.time_zone)
            shown = simple_string(c.type)
        else:
            from quarry.spark.types import parse_ddl
            target = parse_ddl(c.type_str, self.time_zone)
            shown = simple_string(from_arrow(target))
        if pa.types.is_timestamp(target) and target.tz is not None:
            target = pa.timestamp("us")          # quarry computes timestamps without a zone
        from quarry.spark.functions.internal import ansi_cast, legacy_cast, timestamp_number_cast, try_cast
        zone = self.time_zone

        def with_timestamps(cast_column: Column, mode: str) -> Column:
            def bind(ctx):             # a timestamp to or from a number is a number of seconds (Spark's Cast)
                special = timestamp_number_cast(inner.column.bind(ctx), target, zone, mode)
                return special if special is not None else cast_column.bind(ctx)
            return Column(bind, cast_column.name)
        if c.eval_mode == Expression.Cast.EVAL_MODE_TRY:
            return Translated(with_timestamps(try_cast(inner.column, target), "try"),
                              f"TRY_CAST({inner.name} AS {shown.upper()})")
        legacy = c.eval_mode == Expression.Cast.EVAL_MODE_LEGACY
        if legacy or (not self.ansi and c.eval_mode != Expression.Cast.EVAL_MODE_ANSI):
            # Spark without ANSI mode: text that does not cast is NULL, an integer out of range wraps
            return Translated(with_timestamps(legacy_cast(inner.column, target), "legacy"),
                              f"CAST({inner.name} AS {shown.upper()})")
        return Translated(with_timestamps(ansi_cast(inner.column, target), "ansi"),
                          f"CAST({inner.name} AS {shown.upper()})")

    def _sort_order(self, s) -> Translated:
        inner = self.translate(s.child)
        return Translated(self._sort_key(s), inner.name)

    def _sort_key(self, s) -> Column:
        from quarry.spark.functions.internal import order_key
        column = order_key(self.column(s.child))
        ascending = s.direction != Expression.SortOrder.SORT_DIRECTION_DESCENDING
        if s.null_ordering == Expression.SortOrder.SORT_NULLS_UNSPECIFIED:
            nulls_first = ascending                         # Spark: ASC NULLS FIRST, DESC NULLS LAST
        else:
            nulls_first = s.null_ordering == Expression.SortOrder.SORT_NULLS_FIRST
        if ascending:
            return column.asc_nulls_first() if nulls_first else column.asc_nulls_last()
        return column.desc_nulls_first() if nulls_first else column.desc_nulls_last()

    def _call_function(self, c) -> Translated:
        """``F.call_function(name, ...)``: the same as the function called by name."""
        return self._unresolved_function(_as_unresolved(c))

    def _window(self, w) -> Translated:
        fn_expr = w.window_function
        if fn_expr.WhichOneof("expr_type") == "call_function":
            converted = Expression()
            converted.unresolved_function.CopyFrom(_as_unresolved(fn_expr.call_function))
            fn_expr = converted
        if fn_expr.WhichOneof("expr_type") == "common_inline_user_defined_function":   # a pandas_udf aggregate
            udf = self.translate(fn_expr)
            call, fname = Function(udf.column), udf.name
        elif fn_expr.WhichOneof("expr_type") != "unresolved_function":
            raise not_supported(f"a window over `{fn_expr.WhichOneof('expr_type')}`")
        else:
            call = self.function(fn_expr.unresolved_function)
            fname = self._function_name(fn_expr.unresolved_function)
            lower = fn_expr.unresolved_function.function_name.lower()
            if lower in _NEEDS_ORDER and not w.order_spec:
                # Spark's analyzer: a ranking or offset function over rows in no order has no answer
                raise SparkError(f"Window function {fname} requires window to be ordered, please add ORDER BY "
                                 "clause", error_class="_LEGACY_ERROR_TEMP_1037", parameters={"wf": fname})
        partition = tuple(self.column(p) for p in w.partition_spec)
        order = tuple(self._sort_key(o) for o in w.order_spec)
        frame = self._frame(w.frame_spec) if w.HasField("frame_spec") else None
        spec = WindowSpec(partition, order, frame)
        parts = []
        if w.partition_spec:
            parts.append("PARTITION BY " + ", ".join(self.translate(p).name for p in w.partition_spec))
        if w.order_spec:
            parts.append("ORDER BY " + ", ".join(self._sort_text(o) for o in w.order_spec))
        name = f"{fname} OVER ({' '.join(parts)})"
        return Translated(call.finish(call.base.over(spec)), name)

    def _sort_text(self, s) -> str:
        ascending = s.direction != Expression.SortOrder.SORT_DIRECTION_DESCENDING
        nulls_first = ascending if s.null_ordering == Expression.SortOrder.SORT_NULLS_UNSPECIFIED else \
            s.null_ordering == Expression.SortOrder.SORT_NULLS_FIRST
        return f"{self.translate(s.child).name} {'ASC' if ascending else 'DESC'} " \
               f"NULLS {'FIRST' if nulls_first else 'LAST'}"

    def _frame(self, f) -> WindowFrame:
        mode = {Expression.Window.WindowFrame.FRAME_TYPE_ROW: "rows",
                Expression.Window.WindowFrame.FRAME_TYPE_RANGE: "range"}.get(f.frame_type)
        if mode is None:
            raise not_supported("a window frame without a type")

        def bound(b, lower: bool):
            kind = b.WhichOneof("boundary")
            if kind == "current_row":
                return 0
            if kind == "unbounded":
                return None
            if kind == "value":
                value, _ = self.literal_value(b.value.literal) if b.value.WhichOneof("expr_type") == "literal" \
                    else (None, None)
                if not isinstance(value, int):
                    raise not_supported("a window frame bound that is not an integer literal")
                return value
            raise not_supported("a window frame without bounds")
        start, end = bound(f.lower, True), bound(f.upper, False)
        return WindowFrame(mode, start, end)

    # -- functions ---------------------------------------------------------------------------

    def _unresolved_function(self, f) -> Translated:
        from quarry.spark.functions.nested import GENERATORS
        lower = f.function_name.lower()
        if lower in GENERATORS and not f.is_user_defined_function:
            args = [self.column(a) for a in f.arguments]
            if lower == "stack":            # stack(n, ...): the number of rows decides the columns, a constant
                first = f.arguments[0] if f.arguments else None
                if first is None or first.WhichOneof("expr_type") != "literal" or \
                        not isinstance(self.literal_value(first.literal)[0], int):
                    raise SparkError("stack takes a constant number of rows, then the values",
                                     error_class="DATATYPE_MISMATCH.NON_FOLDABLE_INPUT")
                args = [self.literal_value(first.literal)[0]] + args[1:]
            def elsewhere(ctx, lower=lower):
                raise SparkError(f"the generator `{lower}` is only allowed in select()",
                                 error_class="UNSUPPORTED_GENERATOR.OUTSIDE_SELECT")
            return Translated(Column(elsewhere, lower), "col", generator=(lower, args))
        return Translated(self.function(f).plain(), self._function_name(f))

    def _function_name(self, f) -> str:
        name = f.function_name
        lower = name.lower()
        if lower == "count" and len(f.arguments) == 1 and f.arguments[0].WhichOneof("expr_type") == "unresolved_star":
            return "count(1)"
        args = [self.translate(a).name for a in f.arguments]
        registered = lookup(lower)
        if registered is not None and registered.namer is not None:
            return registered.namer(name, args, Call(self, f, lower))
        if lower in _BINARY and len(args) == 2:
            return f"({args[0]} {_BINARY[lower][1]} {args[1]})"
        if lower == "not":
            return f"(NOT {args[0]})"
        if lower == "negative":
            return f"(- {args[0]})"
        if lower == "isnull":
            return f"({args[0]} IS NULL)"
        if lower == "isnotnull":
            return f"({args[0]} IS NOT NULL)"
        if lower == "in":
            return f"({args[0]} IN ({', '.join(args[1:])}))"
        if lower in ("like", "ilike"):
            return f"{args[0]} {lower.upper()} {args[1]}"
        if lower == "rlike":
            return f"RLIKE({args[0]}, {args[1]})"
        if lower == "when":
            text = "CASE"
            for i in range(0, len(args) - 1, 2):
                text += f" WHEN {args[i]} THEN {args[i + 1]}"
            if len(args) % 2:
                text += f" ELSE {args[-1]}"
            return text + " END"
        distinct = "DISTINCT " if f.is_distinct else ""
        return f"{_SHOWN.get(lower, name)}({distinct}{', '.join(args)})"

    def function(self, f) -> Function:
        """The quarry call for an ``UnresolvedFunction``."""
        if f.is_user_defined_function:
            raise not_supported(f"the user-defined function `{f.function_name}`")
        name = f.function_name.lower()
        if name == "count" and len(f.arguments) == 1 and f.arguments[0].WhichOneof("expr_type") == "unresolved_star":
            return Function(_function_column("count", [], star=True))       # count("*") is count(*)
        registered = lookup(name)
        if registered is not None:
            return registered.build(Call(self, f, name))
        args = [self.column(a) for a in f.arguments]
        if name in _BINARY:
            if len(args) != 2:
                raise SparkError(f"`{name}` takes two arguments, got {len(args)}")
            op = _BINARY[name][0]
            return Function(_binary(op, args[0], args[1]))
        if name == "not":
            return Function(~args[0])
        if name == "negative":
            return Function(-args[0])
        if name == "isnull":
            return Function(args[0].is_null())
        if name == "isnotnull":
            return Function(args[0].is_not_null())
        if name == "in":
            if len(args) < 2:
                raise SparkError("`in` needs a value list")
            return Function(_function_column("in_list", args))
        if name == "isnan":
            return Function(_function_column("isnan", args))
        if name in ("like", "ilike"):
            return Function(_function_column(name, args))
        if name in ("rlike", "regexp", "regexp_like"):
            return Function(_function_column("regexp_matches", args))
        if name == "when":
            if len(args) < 2:
                raise SparkError("`when` needs a condition and a value")
            case = QF.when(args[0], args[1])
            for i in range(2, len(args) - 1, 2):
                case = case.when(args[i], args[i + 1])
            return Function(case.otherwise(args[-1]) if len(args) % 2 else case)
        if name == "log" and len(args) == 2:        # log(base, x)
            return Function(_function_column("ln", [args[1]]) / _function_column("ln", [args[0]]))
        if name == "log":
            return Function(_function_column("ln", args))
        if name == "count" and f.is_distinct:
            from quarry.spark.functions.aggregates import count_distinct
            return Function(count_distinct(args))
        if name in _SAME:
            target = _SAME[name]
            if name == "count" and len(args) == 1:
                return Function(_function_column("count", args))
            base = _function_column(target, args, distinct=f.is_distinct)
            return Function(base, _bigint_sum if target == "sum" else None)
        from quarry.spark.udfs import registered_call          # spark.udf.register, then F.call_udf
        found = registered_call(self, f)
        if found is not None:
            return Function(found)
        from quarry.spark.functions.refused import refusal
        hint = refusal(name)
        if hint is not None:
            raise not_supported(f"the function `{f.function_name}` ({hint})")
        raise not_supported(f"the function `{f.function_name}`")

    # -- refused -----------------------------------------------------------------------------

    def _lambda_function(self, lf) -> Translated:
        from quarry.spark.functions.nested import LambdaColumn
        names = [".".join(v.name_parts) for v in lf.arguments]
        body = self.translate(lf.function)
        shown = ", ".join("namedlambdavariable()" for _ in names)
        return Translated(LambdaColumn(names, body.column), f"lambdafunction({body.name}, {shown})")

    def _unresolved_named_lambda_variable(self, v) -> Translated:
        from quarry.spark.functions.nested import lambda_variable
        return Translated(lambda_variable(".".join(v.name_parts)), "namedlambdavariable()")

    def _unresolved_extract_value(self, e) -> Translated:
        from quarry.spark.functions.nested import extract_value
        child = self.translate(e.child)
        if e.extraction.WhichOneof("expr_type") == "literal":
            key, _ = self.literal_value(e.extraction.literal)
            if isinstance(key, str):
                return Translated(extract_value(child.column, key), f"{child.name}.{key}" if key else child.name)
            return Translated(extract_value(child.column, key), f"{child.name}[{_literal_text(key)}]")
        key_t = self.translate(e.extraction)
        return Translated(extract_value(child.column, key_t.column), f"{child.name}[{key_t.name}]")

    def _common_inline_user_defined_function(self, f):
        from quarry.spark.udfs import udf_expression
        return udf_expression(self, f)

    def _subquery_expression(self, s) -> Translated:
        """``df.scalar()``, ``df.exists()`` and ``col.isin(df)`` (Spark 4's DataFrame subqueries): the
        referenced plan bound inside the query it is used in, so its names the plan's own inputs lack
        (``col("x").outer()``) read the outer row, as a correlated subquery in SQL."""
        from quarry.logical.expressions import Exists, InSubquery, Row, ScalarSubquery
        from pyspark.sql.connect.proto import expressions_pb2
        types = expressions_pb2.SubqueryExpression.SubqueryType
        kind = s.subquery_type
        relations = self.relations
        plan_id = s.plan_id
        if kind == types.SUBQUERY_TYPE_SCALAR:
            def bind(ctx):
                plan = relations.subquery(plan_id, ctx.scope).logical_plan
                if len(plan.schema) != 1:
                    raise SparkError(f"a scalar subquery must return one column, not {len(plan.schema)}",
                                     error_class="INVALID_SUBQUERY_EXPRESSION.SCALAR_SUBQUERY_RETURN_MORE_THAN_ONE_OUTPUT_COLUMN")
                return ScalarSubquery(plan)
            return Translated(Column(bind, "scalarsubquery()"), "scalarsubquery()")
        if kind == types.SUBQUERY_TYPE_EXISTS:
            def bind(ctx):
                return Exists(relations.subquery(plan_id, ctx.scope).logical_plan)
            return Translated(Column(bind, "exists()"), "exists()")
        if kind == types.SUBQUERY_TYPE_IN:
            values = [self.column(v) for v in s.in_subquery_values]

            def bind(ctx):
                bound = [v.bind(ctx) for v in values]
                plan = relations.subquery(plan_id, ctx.scope).logical_plan
                if len(plan.schema) != len(bound):
                    raise SparkError(f"IN compares {len(bound)} values with a subquery of {len(plan.schema)} "
                                     "columns", error_class="DATATYPE_MISMATCH.IN_SUBQUERY_LENGTH_MISMATCH")
                return InSubquery(bound[0] if len(bound) == 1 else Row(tuple(bound)), plan)
            names = ", ".join(self.translate(v).name for v in s.in_subquery_values)
            return Translated(Column(bind, f"({names} IN (listquery()))"), f"({names} IN (listquery()))")
        raise not_supported("a table-argument subquery (`asTable()`: table-valued functions)")

    def _unresolved_regex(self, r) -> Translated:
        from quarry.spark.colregex import regex_column          # df.colRegex("`pattern`")
        column, star = regex_column(r.col_name)
        return Translated(column, "*" if star else r.col_name, star=star)


# window functions Spark refuses over a window without ORDER BY
_NEEDS_ORDER = frozenset(["row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead"])
_COMPARISONS = frozenset(["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"])


def _binary(fname: str, left: Column, right: Column) -> Column:
    """``left <op> right`` through the Column API's own operator (so literals adapt to decimals as there);
    a comparison with a day-time interval reads an INTERVAL constant beside it as one."""
    plain = _operator(fname, left, right)
    if fname not in _COMPARISONS:
        return plain

    def bind(ctx):
        a, b = left.bind(ctx), right.bind(ctx)
        if fname != "eq_null_safe" and (pa.types.is_map(a.dtype) or pa.types.is_map(b.dtype)):
            raise SparkError(f"the comparison `{fname}` does not support ordering on a MAP value",
                             error_class="DATATYPE_MISMATCH.INVALID_ORDERING_TYPE")
        from quarry.logical.spark_functions import bind_spark_year_month
        ym = bind_spark_year_month(fname, a, b)
        if ym is not None:
            return ym
        if pa.types.is_duration(a.dtype) or pa.types.is_duration(b.dtype):
            from quarry.logical.spark_functions import as_day_time
            da, db = as_day_time(a), as_day_time(b)
            if da is not None and db is not None:
                return FN.call(fname, [da, db])
        return plain.bind(ctx)
    return Column(bind, plain.name)


def _operator(fname: str, left: Column, right: Column) -> Column:
    method = {"add": "__add__", "subtract": "__sub__", "multiply": "__mul__", "divide": "__truediv__",
              "modulo": "__mod__", "equal": "__eq__", "not_equal": "__ne__", "less": "__lt__",
              "less_equal": "__le__", "greater": "__gt__", "greater_equal": "__ge__", "and": "__and__",
              "or": "__or__"}.get(fname)
    if method is not None:
        return getattr(left, method)(right)
    return left.eq_null_safe(right)


def _as_unresolved(c):
    f = Expression.UnresolvedFunction(function_name=c.function_name)
    f.arguments.extend(c.arguments)
    return f


def _dotted_column(parts: list[str]) -> Column:
    """``t.x`` (a qualified column) or ``s.a.b`` (a struct column's fields), whichever the input has."""
    from quarry.errors import QuarryError
    from quarry.spark.functions.nested import extract_value

    def bind(ctx):
        if len(parts) == 2:
            try:
                return col(".".join(parts)).bind(ctx)
            except QuarryError:
                pass
        for head in (1, 2):
            if head >= len(parts):
                break
            try:
                base = col(".".join(parts[:head])).bind(ctx)
            except QuarryError:
                continue
            column = Column(lambda _ctx, base=base: base, parts[head - 1])
            for name in parts[head:]:
                column = extract_value(column, name)
            return column.bind(ctx)
        return col(".".join(parts)).bind(ctx)          # the binder's own error, with its suggestion
    return Column(bind, parts[-1])


def _owned_column(owner, name: str) -> Column:
    """``df["name"]`` of the quarry DataFrame ``owner``: fixed to that frame's column, so it stays
    unambiguous in a join of two frames that both have ``name``."""
    from quarry.errors import QuarryError
    try:
        return owner[name]
    except QuarryError:
        return col(name)
