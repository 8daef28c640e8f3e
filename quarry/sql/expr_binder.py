"""Translate sqlglot expressions into typed quarry expressions.

Names resolve through the :class:`~quarry.sql.scope.Scope`; functions through
the registry (``quarry.logical.functions``), which also inserts coercions.
Subqueries are bound by the query binder and become ScalarSubquery / Exists /
InSubquery expressions holding their logical plan.
"""

from __future__ import annotations

import datetime
import decimal
import re

import pyarrow as pa
from sqlglot import exp

from quarry.errors import BindError, MisplacedWindowError, QuarryError, QuarryTypeError, UnsupportedError
from quarry.logical import builder as B
from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.logical.expressions import (
    AggCall, Call, ColumnRef, Exists, Expr, InSubquery, Literal, Row, ScalarSubquery, SortKey, WindowCall,
    WindowFrame, and_all, or_all,
)
from quarry.logical.plan import LogicalPlan
from quarry.sql.nested_binder import NestedExprs
from quarry.sql.scope import Scope

_BINARY = {
    exp.Add: "add", exp.Sub: "subtract", exp.Mul: "multiply", exp.Div: "divide", exp.Mod: "modulo",
    exp.EQ: "equal", exp.NEQ: "not_equal", exp.LT: "less", exp.LTE: "less_equal", exp.GT: "greater",
    exp.GTE: "greater_equal", exp.And: "and", exp.Or: "or", exp.DPipe: "concat_op",
    exp.NullSafeEQ: "is_not_distinct_from", exp.NullSafeNEQ: "is_distinct_from",
}

_COMPARISONS = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
_SYMBOL = {"equal": "=", "not_equal": "<>", "less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">="}


def _row_items(node: exp.Expression):
    """The items of a row value ``(a, b)`` / ``ROW(a, b)``, or None for any other expression."""
    if isinstance(node, exp.Tuple):
        return list(node.expressions)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "row":
        return list(node.expressions)
    return None


def row_compare(op: str, a: list[Expr], b: list[Expr]) -> Expr:
    """Rows compared as DuckDB compares them: item by item, NULL equal to NULL and above every value."""
    if op in ("greater", "greater_equal"):
        return row_compare("less" if op == "greater" else "less_equal", b, a)
    eqs = [F.call("is_not_distinct_from", [x, y]) for x, y in zip(a, b)]
    if op in ("equal", "is_not_distinct_from"):
        return and_all(eqs)
    if op in ("not_equal", "is_distinct_from"):
        return F.call("not", [and_all(eqs)])
    # less: the first item that differs decides; a NULL item is the largest
    options = []
    for i, (x, y) in enumerate(zip(a, b)):
        lt = F.call("case", [F.call("is_null", [x]), Literal(False, T.BOOL), F.call("is_null", [y]),
                             Literal(True, T.BOOL), F.call("less", [x, y])])
        options.append(and_all(eqs[:i] + [lt]))
    if op == "less_equal":
        options.append(and_all(eqs))
    return or_all(options)


# sqlglot class keys whose quarry function has another name
_RENAMES = {
    "stddev": "stddev_samp", "stddevsamp": "stddev_samp", "stddevpop": "stddev_pop", "variance": "var_samp",
    "variancepop": "var_pop", "anyvalue": "any_value", "approxdistinct": "approx_count_distinct",
    "groupconcat": "string_agg", "stringagg": "string_agg", "logicaland": "bool_and", "logicalor": "bool_or",
    "strposition": "strpos", "regexplike": "regexp_matches", "regexpreplace": "regexp_replace",
    "regexpextractall": "regexp_extract_all",
    "currentdate": "current_date", "currenttimestamp": "now", "startswith": "starts_with",
    "endswith": "ends_with", "pow": "power", "dayofweek": "dayofweek", "dayofyear": "dayofyear",
    "weekofyear": "week", "length": "length", "avg": "avg", "count": "count", "split_part": "split_part",
    "splitpart": "split_part", "datestrtodate": "to_date", "tsordstodate": "to_date", "todate": "to_date",
    "arrayagg": "array_agg", "countif": "count_if", "rowsnumber": "row_number", "nthvalue": "nth_value",
    "firstvalue": "first_value", "lastvalue": "last_value", "percentrank": "percent_rank",
    "cumedist": "cume_dist", "denserank": "dense_rank", "rownumber": "row_number",
    "timetostr": "strftime", "datefromparts": "make_date", "timestampfromparts": "make_timestamp",
    "lastday": "last_day", "todays": "to_days", "dateadd": "date_add", "arrayoverlaps": "list_has_any",
    # DuckDB's names of the calls sqlglot names by its own classes
    "regexpextract": "regexp_extract", "concatws": "concat_ws", "timetounix": "epoch", "strtotime": "strptime",
    "sha": "sha1", "argmax": "arg_max", "argmin": "arg_min", "covarpop": "covar_pop", "covarsamp": "covar_samp",
    "regrslope": "regr_slope", "regrintercept": "regr_intercept", "regrcount": "regr_count", "regrr2": "regr_r2",
    "regravgx": "regr_avgx", "regravgy": "regr_avgy", "regrsxx": "regr_sxx", "regrsyy": "regr_syy",
    "regrsxy": "regr_sxy", "percentilecont": "quantile_cont", "percentiledisc": "quantile_disc",
}

# the order in which a call's arguments are read from the sqlglot node, where it is not the node's own
_ARG_ORDER = {"regexpextract": ("this", "expression", "group", "parameters")}

_DATE_UNITS = {"YEAR": "year", "YEARS": "year", "Y": "year", "QUARTER": "quarter", "MONTH": "month",
               "MONTHS": "month", "MON": "month", "WEEK": "week", "WEEKS": "week", "DAY": "day", "DAYS": "day",
               "D": "day", "HOUR": "hour", "HOURS": "hour", "MINUTE": "minute", "MINUTES": "minute",
               "SECOND": "second", "SECONDS": "second", "MILLISECOND": "millisecond", "MICROSECOND": "microsecond",
               "DOW": "dayofweek", "DAYOFWEEK": "dayofweek", "DOY": "dayofyear", "DAYOFYEAR": "dayofyear",
               "EPOCH": "epoch", "ISODOW": "isodow"}


def node_position(node: exp.Expression, sql: str | None) -> tuple[int | None, int | None]:
    """Line and column (1-based) where ``node`` starts in ``sql``, if sqlglot recorded it."""
    if sql is None or node is None:
        return None, None
    best = None
    for n in node.walk():
        meta = n.meta if hasattr(n, "meta") else None
        if meta and "start" in meta:
            if best is None or meta["start"] < best:
                best = meta["start"]
    if best is None:
        return None, None
    before = sql[:best]
    line = before.count("\n") + 1
    col = best - (before.rfind("\n") + 1) + 1
    return line, col


def _frame_interval_micros(e) -> int | None:
    """A window frame bound given as a constant day-time interval, in microseconds (None when ``e`` is not
    one); an interval with months is refused: a month has no fixed length to offset by."""
    if not isinstance(e, Literal):
        return None
    value = e.value
    if pa.types.is_duration(e.dtype) and value is not None:
        if isinstance(value, datetime.timedelta):
            return value // datetime.timedelta(microseconds=1)
        per_unit = {"s": 1_000_000, "ms": 1000, "us": 1}
        return int(value) * per_unit[e.dtype.unit] if e.dtype.unit in per_unit else int(value) // 1000
    if pa.types.is_interval(e.dtype) and value is not None:
        months, days, nanos = (value.months, value.days, value.nanoseconds) if hasattr(value, "months") else value
        if months:
            return None
        return days * 86_400_000_000 + nanos // 1000
    return None


def _frame_interval_months(e) -> int | None:
    """A window frame bound given as a constant interval of whole months (``INTERVAL 1 MONTH``, Spark's
    year-month interval ``INTERVAL '1-2' YEAR TO MONTH``), in months; None when ``e`` is not one. An
    interval of months and days together is refused: Spark's frames take one kind of interval."""
    from quarry.logical.spark_functions import is_year_month
    if isinstance(e, Literal) and pa.types.is_interval(e.dtype) and e.value is not None:
        value = e.value
        months, days, nanos = (value.months, value.days, value.nanoseconds) if hasattr(value, "months") else value
        if not months:
            return None
        if days or nanos:
            raise UnsupportedError("Not supported: a RANGE frame bound of months and days together",
                                   hint="give the bound in months (INTERVAL 1 MONTH) or in days and time")
        return int(months)
    if is_year_month(e.dtype):
        from quarry.compute.expr_eval import evaluate
        one = pa.record_batch([pa.array([None], pa.null())], names=["__one"])
        try:
            value = evaluate(e, one)
        except Exception:       # noqa: BLE001 - not a constant (a column): no frame bound
            return None
        value = value[0] if isinstance(value, (pa.Array, pa.ChunkedArray)) else value
        months = value.value if isinstance(value, pa.ExtensionScalar) else value
        months = months.as_py() if isinstance(months, pa.Scalar) else months
        return None if months is None else int(months)
    return None


def interval_value(text: str, unit: str | None) -> tuple[int, int, int]:
    """Parse an interval literal into (months, days, nanoseconds).

    >>> interval_value("90", "DAY")
    (0, 90, 0)
    >>> interval_value("1 year 2 months", None)
    (14, 0, 0)
    """
    months = days = nanos = 0
    if ":" in text:         # '2:30' read as numbers would add up its fields in one unit
        raise UnsupportedError(f"Not supported: the interval text `{text}` with a time of day",
                               hint="write INTERVAL '2:30' HOUR TO MINUTE, or INTERVAL '2 hours 30 minutes'")
    pieces = re.findall(r"([-+]?\d+(?:\.\d+)?)\s*([a-zA-Z]+)?", text.strip())
    if not pieces:
        raise QuarryTypeError(f"invalid interval `{text}`", hint="write e.g. INTERVAL '3' DAY or INTERVAL '1 month'")
    for number, u in pieces:
        given = not u and unit is not None
        u = (u or unit or "").upper()
        u = _DATE_UNITS.get(u, _DATE_UNITS.get(u.rstrip("S"), u.lower()))
        n = float(number)
        if given and u not in ("second", "millisecond"):
            # INTERVAL 2.5 HOUR is 2 hours in DuckDB (to_hours(trunc(2.5))); only seconds keep a fraction
            n = float(int(n))
        if u == "year":
            months += int(n * 12)
        elif u == "quarter":
            months += int(n * 3)
        elif u == "month":
            months += int(n)
        elif u == "week":
            days += int(n * 7)
        elif u == "day":
            days += int(n)
        elif u == "hour":
            nanos += int(n * 3600 * 10**9)
        elif u == "minute":
            nanos += int(n * 60 * 10**9)
        elif u == "second":
            nanos += int(n * 10**9)
        elif u == "millisecond":
            nanos += int(n * 10**6)
        elif u == "microsecond":
            nanos += int(n * 10**3)
        else:
            raise QuarryTypeError(f"unknown interval unit `{u}`", hint="use YEAR, MONTH, DAY, HOUR, MINUTE or SECOND")
    return months, days, nanos


def _is_uuid(dt: exp.DataType) -> bool:
    return (dt.this.name if hasattr(dt.this, "name") else str(dt.this)) == "UUID"


def _unsigned_name(dt: exp.DataType) -> str | None:
    """DuckDB's name of an unsigned integer type (``UINTEGER``), or None for any other type."""
    name = dt.this.name if hasattr(dt.this, "name") else str(dt.this)
    name = {"UINT": "UINTEGER"}.get(name, name)
    return name if name in F.UNSIGNED_TYPES else None


_SPAN_FIELDS = ("DAY", "HOUR", "MINUTE", "SECOND")
_SPAN_NANOS = {"DAY": 86_400 * 10**9, "HOUR": 3600 * 10**9, "MINUTE": 60 * 10**9, "SECOND": 10**9}


def interval_span_value(text: str, start: str, end: str) -> tuple[int, int, int]:
    """Parse the text of ``INTERVAL 'text' start TO end`` (the SQL standard's form, as Spark writes it)
    into (months, days, nanoseconds): ``'1 2:03:04.5' DAY TO SECOND``, ``'2:30' HOUR TO MINUTE``,
    ``'3-6' YEAR TO MONTH``; a leading sign applies to every field.

    >>> interval_span_value("1 2:03:04.5", "DAY", "SECOND")
    (0, 1, 7384500000000)
    >>> interval_span_value("-3-6", "YEAR", "MONTH")
    (-42, 0, 0)
    """
    start, end = start.upper(), end.upper()
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if (start, end) == ("YEAR", "MONTH"):
        found = re.fullmatch(r"(\d+)-(\d+)", body)
        if found is None:
            raise QuarryTypeError(f"invalid interval `{text}` for YEAR TO MONTH", hint="write e.g. '3-6'")
        return sign * (int(found.group(1)) * 12 + int(found.group(2))), 0, 0
    if start not in _SPAN_FIELDS or end not in _SPAN_FIELDS or _SPAN_FIELDS.index(start) >= _SPAN_FIELDS.index(end):
        raise UnsupportedError(f"Not supported: the interval span {start} TO {end}",
                               hint="use YEAR TO MONTH, or DAY, HOUR, MINUTE to a later field")
    fields = _SPAN_FIELDS[_SPAN_FIELDS.index(start): _SPAN_FIELDS.index(end) + 1]
    separators = [" " if f == "HOUR" and start == "DAY" else ":" for f in fields[1:]]
    pattern = r"(\d+)" + "".join(re.escape(sep) + (r"(\d+(?:\.\d{1,9})?)" if f == "SECOND" else r"(\d+)")
                                   for sep, f in zip(separators, fields[1:]))
    found = re.fullmatch(pattern, body)
    if found is None:
        shape = "".join([start[0]] + [sep + f[0] for sep, f in zip(separators, fields[1:])])
        raise QuarryTypeError(f"invalid interval `{text}` for {start} TO {end}", hint=f"write it as {shape}")
    days = nanos = 0
    for field, value in zip(fields, found.groups()):
        if field == "DAY":
            days = int(value)
        else:
            whole, _, fraction = value.partition(".")
            nanos += int(whole) * _SPAN_NANOS[field] + (int(fraction.ljust(9, "0")) if fraction else 0)
    return 0, sign * days, sign * nanos


def sql_type(dt: exp.DataType) -> pa.DataType:
    """Arrow type of a sqlglot DataType (``DECIMAL(15,2)``, ``VARCHAR``, ``INTEGER[]``,
    ``STRUCT(a INTEGER)``, ``MAP(VARCHAR, INTEGER)``, ...)."""
    name = dt.this.name if hasattr(dt.this, "name") else str(dt.this)
    if name in ("ARRAY", "LIST", "STRUCT", "MAP"):
        return _nested_sql_type(name, dt)
    params = []
    for p in dt.expressions:
        value = p.this if isinstance(p, exp.DataTypeParam) else p
        if isinstance(value, exp.Literal):
            if value.is_string or not value.this.isdigit():
                raise QuarryTypeError(f"type parameters must be whole numbers, not {value.sql()}",
                                      hint="write e.g. DECIMAL(15, 2)")
            params.append(int(value.this))
    aliases = {"INT": "INTEGER", "BIGDECIMAL": "DECIMAL", "TEXT": "VARCHAR", "NVARCHAR": "VARCHAR",
               "DATETIME": "TIMESTAMP", "TIMESTAMPNTZ": "TIMESTAMP", "DOUBLE": "DOUBLE", "UINT": "BIGINT",
               "USMALLINT": "INTEGER", "UTINYINT": "SMALLINT", "UBIGINT": "BIGINT", "INT128": "HUGEINT",
               "BPCHAR": "VARCHAR"}
    name = aliases.get(name, name)
    if name in ("VARCHAR", "CHAR", "NCHAR", "STRING"):
        params = []
    return T.from_sql_name(name, params)


def _nested_sql_type(name: str, dt: exp.DataType) -> pa.DataType:
    inner = dt.expressions
    if name in ("ARRAY", "LIST"):
        if dt.args.get("values"):
            raise UnsupportedError("fixed-size ARRAY types (INTEGER[3])", hint="use a LIST type: INTEGER[]")
        if len(inner) != 1 or not isinstance(inner[0], exp.DataType):
            raise QuarryTypeError("a LIST type names its element type", hint="write INTEGER[]")
        return pa.list_(sql_type(inner[0]))
    if name == "MAP":
        if len(inner) != 2 or not all(isinstance(t, exp.DataType) for t in inner):
            raise QuarryTypeError("a MAP type names its key and value types", hint="write MAP(VARCHAR, INTEGER)")
        return pa.map_(sql_type(inner[0]), sql_type(inner[1]))
    fields = []
    for f in inner:
        if not isinstance(f, exp.ColumnDef) or not isinstance(f.args.get("kind"), exp.DataType):
            raise QuarryTypeError("a STRUCT type names each field and its type", hint="write STRUCT(a INTEGER)")
        fields.append(pa.field(f.name, sql_type(f.args["kind"])))
    if not fields:
        raise QuarryTypeError("a STRUCT type needs at least one field")
    return pa.struct(fields)


_NOT_CONSTANT = object()


def _constant_number(e: Expr):
    """The value of a bound constant number (a literal, maybe negated), None for NULL, else _NOT_CONSTANT."""
    if isinstance(e, Call) and e.name == "negate" and len(e.args) == 1:
        inner = _constant_number(e.args[0])
        return inner if inner is None or inner is _NOT_CONSTANT else -inner
    if isinstance(e, Call) and e.name == "cast" and len(e.args) == 1:
        return _constant_number(e.args[0])
    if isinstance(e, Literal) and (e.value is None or T.is_numeric(e.dtype)) and not isinstance(e.value, bool):
        return e.value
    return _NOT_CONSTANT


def _split_distinct(name: str, arg_nodes: list) -> tuple[list, bool]:
    """An aggregate's argument nodes without their DISTINCT, and whether there was one:
    ``count(DISTINCT a)``, ``string_agg(DISTINCT s, ',')``, ``array_agg(DISTINCT x ORDER BY x)``."""
    if len(arg_nodes) == 1 and isinstance(arg_nodes[0], exp.Distinct):
        return list(arg_nodes[0].expressions), True
    if arg_nodes and isinstance(arg_nodes[0], exp.Distinct) and len(arg_nodes[0].expressions) == 1:
        arg_nodes = list(arg_nodes[0].expressions) + arg_nodes[1:]
        for o in arg_nodes[1:]:
            if isinstance(o, exp.Ordered) and o.this != arg_nodes[0]:
                raise BindError("in a DISTINCT aggregate, ORDER BY expressions must appear in the argument list",
                                hint=f"order by the argument: {name}(DISTINCT x ORDER BY x)")
        return arg_nodes, True
    return arg_nodes, False


def aggregate_arg_nodes(node) -> list:
    """The argument nodes of ``array_agg(x [ORDER BY ...])`` (value, sort keys) and of
    ``string_agg(s [, sep] [ORDER BY ...])`` (value, separator, sort keys)."""
    arg, orders = node.this, []
    if isinstance(arg, exp.Order):
        arg, orders = arg.this, list(arg.expressions)
    if not isinstance(node, exp.GroupConcat):
        return [arg] + orders
    sep = node.args.get("separator")
    if sep is None and orders:
        sep = exp.Literal.string(",")
    return [arg] + ([sep] if sep is not None else []) + orders


class ExprBinder(NestedExprs):
    """Binds expressions of one query level (nested-value syntax in :class:`NestedExprs`).

    ``query_binder`` binds subqueries (it is the :class:`~quarry.sql.binder.Binder`).
    ``aliases`` maps select-list aliases usable here (GROUP BY, HAVING, ORDER BY).
    """

    def __init__(self, query_binder, scope: Scope, *, allow_aggregates=False, allow_windows=False,
                 aliases: dict[str, Expr] | None = None):
        self.qb = query_binder
        self.scope = scope
        self.allow_aggregates = allow_aggregates
        self.allow_windows = allow_windows
        self.aliases = aliases or {}

    def bind(self, node: exp.Expression) -> Expr:
        try:
            return self._bind(node)
        except QuarryError as err:
            if err.line is None:
                # a constant that does not convert (`hired > '2020-13-45'`) is the place to point at
                culprit = self._culprit_literal(node) if isinstance(err, QuarryTypeError) else None
                line, col = node_position(culprit or node, self.qb.sql)
                err.with_position(self.qb.sql, line, col)
            raise

    def _culprit_literal(self, node: exp.Expression) -> exp.Expression | None:
        """The string literal operand of ``node`` that a type error is about: the one which, read as
        NULL instead, lets ``node`` bind. None when no such operand exists."""
        for child in list(node.iter_expressions()):
            target = child.this if isinstance(child, exp.Paren) else child
            if not (isinstance(target, exp.Literal) and target.is_string):
                continue
            null = exp.Null()
            target.replace(null)
            try:
                self._bind(node)
                return target
            except QuarryError:
                continue
            finally:
                null.replace(target)
        return None

    def _bind(self, node: exp.Expression) -> Expr:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is not None:
            return method(node)
        for cls, fname in _BINARY.items():
            if isinstance(node, cls):
                if fname in _COMPARISONS and isinstance(node.expression, (exp.Any, exp.All)):
                    return self._quantified(node, fname)
                if fname in _COMPARISONS or fname in ("is_distinct_from", "is_not_distinct_from"):
                    left, right = _row_items(node.this), _row_items(node.expression)
                    if left is not None or right is not None:
                        return self._row_comparison(node, fname, left, right)
                return F.call(fname, [self.bind(node.this), self.bind(node.expression)])
        if isinstance(node, exp.Func):
            return self._function(node)
        raise UnsupportedError(f"expression `{node.sql(dialect='duckdb')}` is not supported")

    # -- leaves ------------------------------------------------------------------

    def _Column(self, node: exp.Column) -> Expr:
        if isinstance(node.this, exp.Star):
            raise BindError("`*` is only allowed in the select list or count(*)")
        name = node.name
        qualifier = node.table or None
        if qualifier is None and name.lower() in self.lambda_params:
            return self.lambda_params[name.lower()]
        if qualifier is None and name.lower() in self.aliases:
            try:
                return ColumnRef(self.scope.resolve(name))
            except BindError:
                return self.aliases[name.lower()]
        if qualifier is not None and qualifier.lower() in self.lambda_params and not node.args.get("db"):
            return self._field_of(self.lambda_params[qualifier.lower()], name)
        try:
            return ColumnRef(self.scope.resolve(name, qualifier))
        except BindError:
            # `s.a`: the field a of a STRUCT column s, when no table s has a column a
            found = self.struct_path(node) if qualifier is not None else None
            if found is None:
                raise
            return found

    def _Identifier(self, node):
        if node.name.lower() in self.lambda_params:
            return self.lambda_params[node.name.lower()]
        return ColumnRef(self.scope.resolve(node.name))

    def _Literal(self, node: exp.Literal) -> Expr:
        if node.is_string:
            return F.lit(node.this)
        text = node.this
        if re.fullmatch(r"[-+]?\d+", text):
            value = int(text)
            if not -2**63 <= value < 2**63:
                return F.lit(decimal.Decimal(text))
            return F.lit(value)
        if "e" in text.lower():
            return F.lit(float(text))
        return F.lit(decimal.Decimal(text))

    def _Boolean(self, node):
        return F.lit(bool(node.this))

    def _Null(self, node):
        return F.lit(None)

    def _Paren(self, node):
        return self.bind(node.this)

    def _Placeholder(self, node):
        return self.qb.bind_placeholder(node)

    def _Interval(self, node: exp.Interval) -> Expr:
        unit = node.args.get("unit")
        unit_text = unit.name if unit is not None else None
        value = node.this
        if isinstance(value, exp.Literal):
            text = value.this
        else:
            # INTERVAL (-1) DAY, INTERVAL (2 * 3) HOUR: a constant number, as DuckDB takes any expression
            bound = self.bind(value)
            number = _constant_number(bound)
            if number is _NOT_CONSTANT and not isinstance(unit, exp.IntervalSpan):
                # INTERVAL (x) DAY of a column: DuckDB's to_days(x), computed per row
                return F.interval_of(bound, _DATE_UNITS.get((unit_text or "").upper(), (unit_text or "").lower()))
            if number is _NOT_CONSTANT:
                raise UnsupportedError("INTERVAL (expression) ... TO ... whose value is not a constant number",
                                       hint="write INTERVAL '1 2:03' DAY TO MINUTE, or INTERVAL (x) DAY")
            if number is None:
                return Literal(None, T.INTERVAL)
            text = repr(number) if isinstance(number, float) else str(number)
        if isinstance(unit, exp.IntervalSpan):
            return Literal(interval_span_value(str(text), unit.this.name, unit.expression.name), T.INTERVAL)
        return Literal(interval_value(str(text), unit_text), T.INTERVAL)

    # -- operators -----------------------------------------------------------------

    def _Neg(self, node):
        return F.call("negate", [self.bind(node.this)])

    def _Not(self, node):
        return F.call("not", [self.bind(node.this)])

    def _IntDiv(self, node):
        return F.call("int_divide", [self.bind(node.this), self.bind(node.expression)])

    def _Is(self, node: exp.Is) -> Expr:
        target = self.bind(node.this)
        rhs = node.expression
        if isinstance(rhs, exp.Null):
            return F.call("is_null", [target])
        if isinstance(rhs, exp.Boolean):
            return F.call("is_true" if rhs.this else "is_false", [target])
        raise UnsupportedError(f"IS {rhs.sql()} is not supported", hint="use IS NULL, IS TRUE or IS FALSE")

    def _Between(self, node: exp.Between) -> Expr:
        target = self.bind(node.this)
        low, high = self.bind(node.args["low"]), self.bind(node.args["high"])
        return F.call("and", [F.call("greater_equal", [target, low]), F.call("less_equal", [target, high])])

    def _Like(self, node, name="like"):
        args = [self.bind(node.this), self.bind(node.expression)]
        out = F.call(name, args)
        return F.call("not", [out]) if node.args.get("negate") else out

    def _ILike(self, node):
        return self._Like(node, "ilike")

    def _Escape(self, node):
        inner = node.this
        if not isinstance(inner, (exp.Like, exp.ILike)):
            raise UnsupportedError("ESCAPE is only supported with LIKE")
        escape = self.bind(node.expression)
        name = "ilike" if isinstance(inner, exp.ILike) else "like"
        out = F.call(name, [self.bind(inner.this), self.bind(inner.expression), escape])
        return F.call("not", [out]) if inner.args.get("negate") else out

    # -- quantified comparisons and row values ------------------------------------------

    def _subquery_of(self, node: exp.Expression, what: str) -> LogicalPlan:
        query = node.this if isinstance(node, exp.Subquery) else node
        if not isinstance(query, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)):
            raise UnsupportedError(f"{what} over `{node.sql(dialect='duckdb')}` (only a subquery)",
                                   hint=f"write {what} (SELECT ...)")
        return self.qb.bind_subquery(query, self.scope)

    def _compared(self, target_node: exp.Expression, plan: LogicalPlan, what: str):
        """The left side of ``IN`` / ``op ANY`` (a value or a row) and the plan, its types made alike."""
        items_nodes = _row_items(target_node)
        items = [self.bind(n) for n in items_nodes] if items_nodes is not None else [self.bind(target_node)]
        if len(items) != len(plan.schema):
            raise BindError(f"{what} compares {len(items)} value{'s' if len(items) > 1 else ''} with a subquery "
                            f"that returns {len(plan.schema)} columns")
        coerced, types = [], []
        for item, inner in zip(items, plan.schema):
            item, _ = F.coerce_pair(item, ColumnRef(inner), "compare")
            coerced.append(item)
            types.append(item.dtype)
        if any(t != f.dtype for t, f in zip(types, plan.schema)):
            plan = B.cast_plan_output(plan, types)
        target = Row(tuple(coerced)) if items_nodes is not None else coerced[0]
        return target, plan

    def _quantified(self, node: exp.Expression, op: str) -> Expr:
        """``x op ANY|SOME|ALL (SELECT ...)``."""
        q = node.expression
        quantifier = "all" if isinstance(q, exp.All) else "any"
        inner = q.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if not isinstance(inner, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)):
            return self._quantified_list(node, inner, op, quantifier)
        plan = self._subquery_of(q.this, quantifier.upper())
        target, plan = self._compared(node.this, plan, quantifier.upper())
        if isinstance(target, Row) and op not in ("equal", "not_equal"):
            raise UnsupportedError(f"a row value compared with {quantifier.upper()} by `{_SYMBOL[op]}`",
                                   hint="compare rows with = or <>")
        return InSubquery(target, plan, op, quantifier)

    def _quantified_list(self, node: exp.Expression, values: exp.Expression, op: str, quantifier: str) -> Expr:
        """``x op ANY|SOME|ALL (list)``: over the list's elements, as DuckDB's ``x op ANY (SELECT unnest(list))``
        (a NULL or empty list holds no element: ANY is FALSE, ALL TRUE)."""
        if _row_items(node.this) is not None:
            raise UnsupportedError(f"a row value compared with {quantifier.upper()} over a list",
                                   hint=f"write {quantifier.upper()} (SELECT ...)")
        return F.call("list_quantified", [self.bind(values), self.bind(node.this), F.lit(op), F.lit(quantifier)])

    def _row_comparison(self, node, op: str, left, right) -> Expr:
        """``(a, b) op (c, d)``: rows compare as DuckDB's do, item by item, left to right, a NULL
        item equal to a NULL and above every value (so the result is never NULL)."""
        if left is None or right is None:
            raise UnsupportedError(f"comparing a row value with `{(node.expression if left else node.this).sql(dialect='duckdb')}`",
                                   hint="compare two row values of the same length: (a, b) = (1, 2)")
        if len(left) != len(right):
            raise BindError(f"cannot compare rows of {len(left)} and {len(right)} values")
        a = [self.bind(n) for n in left]
        b = [self.bind(n) for n in right]
        return row_compare(op, a, b)

    def _In(self, node: exp.In) -> Expr:
        query = node.args.get("query")
        if query is None and not node.expressions and node.args.get("unnest") is None \
                and node.args.get("field") is None:
            raise BindError("IN needs a list of values or a subquery", hint="write x IN (1, 2) or x IN (SELECT ...)")
        row = _row_items(node.this)
        if row is not None:
            if query is not None:
                target, plan = self._compared(node.this, self._subquery_of(query, "IN"), "IN")
                out: Expr = InSubquery(target, plan)
            else:
                if node.args.get("unnest") is not None:
                    raise UnsupportedError("IN UNNEST is not supported")
                items = [self.bind(n) for n in row]
                options = []
                for e in node.expressions:
                    other = _row_items(e)
                    if other is None or len(other) != len(items):
                        raise BindError(f"IN compares a row of {len(items)} values with `{e.sql(dialect='duckdb')}`")
                    options.append(row_compare("equal", items, [self.bind(n) for n in other]))
                out = or_all(options)
            return F.call("not", [out]) if node.args.get("is_not") else out
        target = self.bind(node.this)
        if query is not None:
            sub = query.this if isinstance(query, exp.Subquery) else query
            plan = self.qb.bind_subquery(sub, self.scope)
            if len(plan.schema) != 1:
                raise BindError(f"the IN subquery returns {len(plan.schema)} columns; it must return one")
            inner = plan.schema[0]
            target, _ = F.coerce_pair(target, ColumnRef(inner), "compare")
            if target.dtype != inner.dtype:
                plan = B.cast_plan_output(plan, [target.dtype])
            out: Expr = InSubquery(target, plan)
        else:
            items = [self.bind(e) for e in node.expressions]
            if node.args.get("unnest") is not None:
                raise UnsupportedError("IN UNNEST is not supported")
            out = F.call("in_list", [target] + items)
        return F.call("not", [out]) if node.args.get("is_not") else out

    def _Exists(self, node: exp.Exists) -> Expr:
        sub = node.this.this if isinstance(node.this, exp.Subquery) else node.this
        return Exists(self.qb.bind_subquery(sub, self.scope))

    def _Subquery(self, node: exp.Subquery) -> Expr:
        plan = self.qb.bind_subquery(node.this, self.scope)
        if len(plan.schema) != 1:
            raise BindError(f"a scalar subquery must return one column, this one returns {len(plan.schema)}")
        return ScalarSubquery(plan)

    def _Select(self, node):
        return self._Subquery(exp.Subquery(this=node))

    def _Cast(self, node: exp.Cast) -> Expr:
        if _is_uuid(node.args["to"]):
            return F.uuid_cast(self.bind(node.this))
        unsigned = _unsigned_name(node.args["to"])
        if unsigned is not None:
            value = self.bind(node.this)
            storage, top = F.UNSIGNED_TYPES[unsigned]
            if isinstance(value, Literal) and value.value is not None and T.is_integer(value.dtype) and \
                    not 0 <= value.value <= top:
                raise QuarryTypeError(f"{value} is out of range for {unsigned} (0 to {top})",
                                      hint="use a wider type, e.g. BIGINT")
            return F.unsigned_cast(value, unsigned)
        target = sql_type(node.args["to"])
        value = self.bind(node.this)
        bound = F.front_end_cast(value, target, "cast")
        if bound is not None:
            return bound
        if isinstance(value, Literal) and value.value is not None and T.is_string(value.dtype):
            return F.cast(value, target)          # folds now, so a bad string is reported with its position
        exact = T.is_integer(value.dtype) or T.is_decimal(value.dtype)
        if isinstance(value, Literal) and value.value is not None and exact and \
                (T.is_integer(target) or T.is_decimal(target)):
            try:
                return Literal(F.parse_literal_text(str(value.value), target), target)
            except ValueError:
                raise QuarryTypeError(f"{value} is out of range for {T.sql_name(target)}",
                                      hint="use a wider type, e.g. DECIMAL(38, s) or BIGINT") from None
        return F.cast(value, target, explicit=True)

    def _TryCast(self, node):
        if _is_uuid(node.args["to"]):
            return F.uuid_cast(self.bind(node.this), try_cast=True)
        unsigned = _unsigned_name(node.args["to"])
        if unsigned is not None:
            return F.unsigned_cast(self.bind(node.this), unsigned, try_cast=True)
        target = sql_type(node.args["to"])
        value = self.bind(node.this)
        # sqlglot marks a TRY_CAST written as such "safe"; one it made of another dialect's CAST is not
        bound = F.front_end_cast(value, target, "try_cast" if node.args.get("safe") else "lenient")
        if bound is not None:
            return bound
        return Call("try_cast", (value,), target, True)

    def _Case(self, node: exp.Case) -> Expr:
        subject = self.bind(node.this) if node.this is not None else None
        args = []
        for branch in node.args.get("ifs") or []:
            cond = self.bind(branch.this)
            if subject is not None:
                cond = F.call("equal", [subject, cond])
            args += [cond, self.bind(branch.args["true"])]
        default = node.args.get("default")
        args.append(self.bind(default) if default is not None else F.lit(None))
        return F.call("case", args)

    def _If(self, node: exp.If) -> Expr:
        false = node.args.get("false")
        return F.call("case", [self.bind(node.this), self.bind(node.args["true"]),
                               self.bind(false) if false is not None else F.lit(None)])

    def _Extract(self, node: exp.Extract) -> Expr:
        part = node.this.name.upper() if node.this is not None else ""
        part = _DATE_UNITS.get(part, part.lower())
        return F.call("date_part", [F.lit(part), self.bind(node.expression)])

    def _Substring(self, node: exp.Substring) -> Expr:
        args = [self.bind(node.this), self.bind(node.args["start"]) if node.args.get("start") else F.lit(1)]
        if node.args.get("length") is not None:
            args.append(self.bind(node.args["length"]))
        return F.call("substring", args)

    def _Trim(self, node: exp.Trim) -> Expr:
        position = (node.args.get("position") or "").upper()
        name = {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "trim")
        args = [self.bind(node.this)]
        if node.expression is not None:
            args.append(self.bind(node.expression))
        return F.call(name, args)

    def _Pad(self, node: exp.Pad) -> Expr:
        args = [self.bind(node.this), self.bind(node.expression)]
        if node.args.get("fill_pattern") is not None:
            args.append(self.bind(node.args["fill_pattern"]))
        return F.call("lpad" if node.args.get("is_left") else "rpad", args)

    def _TimestampTrunc(self, node):
        return F.call("date_trunc", [self._unit_literal(node.args.get("unit")), self.bind(node.this)])

    def _DateTrunc(self, node):
        return self._TimestampTrunc(node)

    def _DateDiff(self, node):
        unit = self._unit_literal(node.args.get("unit")) if node.args.get("unit") else F.lit("day")
        return F.call("date_diff", [unit, self.bind(node.expression), self.bind(node.this)])

    def _unit_literal(self, unit) -> Literal:
        if unit is None:
            return F.lit("day")
        text = unit.name if not isinstance(unit, exp.Literal) else unit.this
        return F.lit(_DATE_UNITS.get(str(text).upper(), str(text).lower()))

    def _IgnoreNulls(self, node):
        # sqlglot wraps ANY_VALUE(x) as ANY_VALUE(x) IGNORE NULLS; aggregates skip NULLs anyway
        if isinstance(node.this, exp.AggFunc):
            return self.bind(node.this)
        raise UnsupportedError("IGNORE NULLS is only supported for aggregates")

    def _Concat(self, node):
        return F.call("concat", [self.bind(e) for e in node.expressions])

    def _Grouping(self, node):
        return self.qb.bind_grouping_call(node, self)

    def _Star(self, node):
        raise BindError("`*` is only allowed in the select list or count(*)")

    def _Columns(self, node):
        raise UnsupportedError("COLUMNS(...) is only supported in the select list",
                               hint="name the columns, e.g. a = 1 AND b = 1")

    def _Collate(self, node):
        raise UnsupportedError("COLLATE is not supported",
                               hint="compare lower(a) = lower(b) for a case-insensitive comparison")

    def _JSONExtract(self, node) -> Expr:
        """``json_extract(j, path)`` and ``j -> path``: the JSON text at the path (quarry.compute.json_kernels)."""
        return self._call_named("json_extract", [node.this, self._json_path(node)], node)

    def _JSONExtractScalar(self, node) -> Expr:
        """``json_extract_string(j, path)`` and ``j ->> path``: the value at the path as a string."""
        return self._call_named("json_extract_string", [node.this, self._json_path(node)], node)

    @staticmethod
    def _json_path(node) -> exp.Expression:
        path = node.args.get("expression")
        if isinstance(path, exp.JSONPath):
            text = path.sql(dialect="duckdb")
            return exp.Literal.string(text[1:-1].replace("''", "'") if text.startswith("'") else text)
        return path

    def _Anonymous(self, node: exp.Anonymous) -> Expr:
        name = node.name.lower()
        if name in ("read_parquet", "read_csv", "read_csv_auto"):
            raise BindError(f"{name}() is a table function; use it in FROM")
        if name == "current_setting":
            return self._current_setting(node)
        if name == "row":
            return self._row(node)
        if name == "struct_insert":
            return self._struct_insert(node)
        if name == "generate_subscripts":
            return self._generate_subscripts(node)
        return self._call_named(name, list(node.expressions), node)

    def _current_setting(self, node: exp.Anonymous) -> Expr:
        """``current_setting('name')``: the session's setting as a constant, as of binding."""
        from quarry.sql.settings import config_key, display
        args = node.expressions
        if len(args) != 1 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise BindError("current_setting() takes the setting's name as a string", hint="current_setting('threads')")
        key = config_key(args[0].this, self.qb.session.config)
        value = display(key, self.qb.session.config[key])
        if value is None:
            return Literal(None, T.STRING)
        if isinstance(value, bool):
            return Literal(value, T.BOOL)
        if isinstance(value, int):
            return Literal(value, T.INT64)
        return Literal(str(value), T.STRING)

    # -- functions -----------------------------------------------------------------------

    def _WithinGroup(self, node) -> Expr:
        """``percentile_cont(q) WITHIN GROUP (ORDER BY x)`` is ``quantile_cont(x, q)`` (``DESC``: counted
        from the top, ``-q``), likewise percentile_disc; ``mode() WITHIN GROUP (ORDER BY x)`` is ``mode(x)``."""
        func, order = node.this, node.expression
        keys = order.expressions if isinstance(order, exp.Order) else []
        names = {exp.PercentileCont: "quantile_cont", exp.PercentileDisc: "quantile_disc", exp.Mode: "mode"}
        if type(func) not in names or len(keys) != 1 or not isinstance(keys[0], exp.Ordered):
            raise UnsupportedError(f"`{node.sql(dialect='duckdb')}`",
                                   hint="percentile_cont(q), percentile_disc(q) and mode() take WITHIN GROUP "
                                        "(ORDER BY x) with one key")
        key = keys[0]
        if isinstance(func, exp.Mode):
            if func.this is not None:
                raise BindError("mode() WITHIN GROUP takes no argument", hint="mode() WITHIN GROUP (ORDER BY x)")
            return self._call_named("mode", [key.this], node)
        q = func.this
        if key.args.get("desc"):
            negate = lambda e: exp.Neg(this=e.copy())     # noqa: E731
            q = exp.Array(expressions=[negate(e) for e in q.expressions]) if isinstance(q, exp.Array) else negate(q)
        return self._call_named(names[type(func)], [key.this, q], node)

    def _SHA2(self, node) -> Expr:
        """``sha256(s)`` (sqlglot's SHA2 of length 256)."""
        length = node.args.get("length")
        bits = int(length.this) if isinstance(length, exp.Literal) and not length.is_string else 256
        if bits != 256:
            raise UnsupportedError(f"sha2() with {bits} bits", hint="sha256(s) is the SHA-256 digest")
        return self._call_named("sha256", [node.this], node)

    def _GenerateSeries(self, node) -> Expr:
        """``range(...)`` / ``generate_series(...)`` in an expression: the series as a LIST (sqlglot fills in
        the start 0 of ``range(n)``, which binds the same)."""
        name = "range" if node.args.get("is_end_exclusive") else "generate_series"
        args = [node.args[k] for k in ("start", "end", "step") if node.args.get(k) is not None]
        return self._call_named(name, args, node)

    def _Encode(self, node) -> Expr:
        return self._utf8_call(node, "encode")

    def _Decode(self, node) -> Expr:
        return self._utf8_call(node, "decode")

    def _utf8_call(self, node, name: str) -> Expr:
        """``encode(s)`` / ``decode(b)``: sqlglot fills in a 'utf-8' charset that was not written; DuckDB's
        take no charset, so any other one is refused rather than ignored."""
        charset = node.args.get("charset")
        if node.meta.get("charset_written") or charset is not None and not (
                isinstance(charset, exp.Literal) and charset.is_string and charset.this.lower() in ("utf-8", "utf8")):
            raise UnsupportedError(f"{name}() with a character set", hint=f"{name}(x) is always UTF-8 (DuckDB's)")
        return self._call_named(name, [node.this], node)

    def _UnixToTime(self, node) -> Expr:
        """``epoch_ms(x)`` (sqlglot's UnixToTime at scale 3), ``to_timestamp(x)`` (no scale) and
        ``make_timestamp(micros)`` (scale 6)."""
        scale = node.args.get("scale")
        others = [k for k in ("zone", "hours", "minutes", "format") if node.args.get(k) is not None]
        scale = None if scale is None else scale.this if isinstance(scale, exp.Literal) else "?"
        names = {"3": "epoch_ms", None: "to_timestamp", "6": "make_timestamp"}
        if scale not in names or others:
            raise UnsupportedError(f"`{node.sql(dialect='duckdb')}`", hint="epoch_ms(n) is the TIMESTAMP n ms after 1970")
        return self._call_named(names[scale], [node.this], node)

    def _function(self, node: exp.Func) -> Expr:
        name = _RENAMES.get(node.key, node.key)
        args = []
        for key in _ARG_ORDER.get(node.key, node.arg_types):
            value = node.args.get(key)
            if value is None or isinstance(value, (bool, str)):
                continue
            if isinstance(value, list):
                args.extend(value)
            elif isinstance(value, exp.Expression):
                args.append(value)
        return self._call_named(name, args, node)

    def _call_named(self, name: str, arg_nodes: list, node: exp.Expression) -> Expr:
        try:
            fdef = F.lookup(name)
        except BindError:
            # sqlglot names some calls by its own classes (regexp_extract is `regexpextract`): look the
            # function up, and name it in the error, as it was written
            written = node.meta.get("source") if getattr(node, "_meta", None) else None
            if not written or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", written) or written.lower() == name:
                raise
            fdef = F.lookup(written.lower())
        if any(isinstance(a, exp.Lambda) for a in arg_nodes):
            return self.lambda_call(fdef.name, arg_nodes)
        arg_nodes, distinct = _split_distinct(name, arg_nodes)
        if fdef.kind == "aggregate":
            if len(arg_nodes) == 1 and isinstance(arg_nodes[0], exp.Star):
                arg_nodes = []
            inner = ExprBinder(self.qb, self.scope, allow_aggregates=False, allow_windows=False, aliases=self.aliases)

            def arguments() -> list[Expr]:
                args = [inner.bind(a) for a in arg_nodes]
                if self.scope.parent is not None and args:
                    read = set().union(*(a.column_ids() for a in args))
                    own = self.scope.own_ids()
                    if read and not read & own:
                        # SQL makes such an aggregate part of the *outer* query; quarry does not move it there
                        raise UnsupportedError(
                            f"aggregate `{name}` of outer columns inside a subquery is not supported",
                            hint="compute the aggregate in the outer query, or join instead")
                return args
            return B.aggregate_call(name, arguments, allowed=self.allow_aggregates, distinct=distinct)
        if fdef.kind == "window":
            raise BindError(f"window function `{name}` needs an OVER clause",
                            hint=f"write {name}() OVER (ORDER BY ...)")
        if distinct:
            raise BindError(f"DISTINCT is only allowed in aggregate functions, not `{name}`")
        args = [self.bind(a) for a in arg_nodes]
        args = [F.lit(_DATE_UNITS.get(a.value.upper(), a.value.lower())) if isinstance(a, Literal)
                and i == 0 and fdef.name in ("date_part", "date_trunc", "date_diff") and isinstance(a.value, str)
                else a for i, a in enumerate(args)]
        return F.call(fdef.name, args)

    def _Var(self, node):
        # bare words such as a date part in date_part(year, x), or an unquoted name
        return F.lit(node.name)

    def _Filter(self, node: exp.Filter) -> Expr:
        out = self.bind(node.this)
        cond_node = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
        inner = ExprBinder(self.qb, self.scope, aliases=self.aliases)
        cond = inner.bind(cond_node)
        def filtered(call: AggCall) -> AggCall:
            return F.agg(call.name if call.name != "count_star" else "count", list(call.args),
                         distinct=call.distinct, filter=cond)
        if isinstance(out, AggCall):
            return filtered(out)
        found = []
        out.transform_up(lambda n: found.append(n) or n if isinstance(n, AggCall) else n)
        if not found:
            raise BindError("FILTER (WHERE ...) applies only to aggregate functions")
        # a front end's aggregate is an expression over aggregate calls (Spark's BIGINT sum): each takes the filter
        return out.transform_up(lambda n: filtered(n) if isinstance(n, AggCall) else n)

    def _Window(self, node: exp.Window) -> Expr:
        if not self.allow_windows:
            raise MisplacedWindowError("here")
        func_node = node.this
        ignore_nulls = isinstance(func_node, exp.IgnoreNulls) or bool(node.args.get("ignore_nulls"))
        if isinstance(func_node, exp.IgnoreNulls):
            func_node = func_node.this
        if ignore_nulls:
            # aggregates skip NULLs anyway; lag/lead/first_value ... would need it implemented
            name = func_node.name.lower() if isinstance(func_node, exp.Anonymous) else \
                _RENAMES.get(func_node.key, func_node.key)
            if F.lookup(name).kind == "window":
                raise UnsupportedError(f"IGNORE NULLS is not supported for {name}()",
                                       hint="filter the NULLs out in a subquery first")
        front_end = None
        if isinstance(func_node, exp.Filter):
            func = ExprBinder(self.qb, self.scope, allow_aggregates=True, aliases=self.aliases).bind(func_node)
        else:
            name = _RENAMES.get(func_node.key, func_node.key) if not isinstance(func_node, exp.Anonymous) \
                else func_node.name.lower()
            fdef = F.lookup(name)
            if fdef.kind == "window":
                argn = []
                for key in func_node.arg_types:
                    v = func_node.args.get(key)
                    if isinstance(v, list):
                        argn.extend(v)
                    elif isinstance(v, exp.Expression):
                        argn.append(v)
                func = F.call(fdef.name, [self.bind(a) for a in argn])
            else:
                # an aggregate used as a window function may take aggregates as arguments
                # (SUM(SUM(x)) OVER ...): those are computed by the Aggregate below the Window
                outer = ExprBinder(self.qb, self.scope, allow_aggregates=True, aliases=self.aliases)
                if isinstance(func_node, (exp.ArrayAgg, exp.GroupConcat, exp.First, exp.Last)):
                    # array_agg(x ORDER BY ...), string_agg(s, sep ORDER BY ...)
                    args = aggregate_arg_nodes(func_node)
                else:
                    args = [a for key in func_node.arg_types for a in (
                        func_node.args.get(key) if isinstance(func_node.args.get(key), list)
                        else [func_node.args.get(key)]) if isinstance(a, exp.Expression)]
                args, distinct = _split_distinct(name, args)
                if len(args) == 1 and isinstance(args[0], exp.Star):
                    args = []
                bound = [outer.bind(a) for a in args]
                front_end = F.front_end_aggregate(fdef.name, bound, distinct, None)
                func = front_end if front_end is not None else F.agg(fdef.name, bound, distinct=distinct)
                if front_end is None and fdef.name in ("first", "last") and len(func.args) == 1 and not distinct:
                    # first(x) OVER w is first_value(x) OVER w: the frame's first row, NULL or not
                    func = F.call(fdef.name + "_value", list(func.args))
        partition = tuple(self.bind(p) for p in node.args.get("partition_by") or [])
        order = tuple(self.bind_sort_key(o) for o in (node.args["order"].expressions if node.args.get("order") else []))
        frame = self._frame(node.args.get("spec"), bool(order))
        if front_end is not None:
            # a front end's aggregate over its own types (Spark's sum of intervals): an expression over
            # aggregate calls, each of which runs over the window
            return func.transform_up(
                lambda n: WindowCall(n, partition, order, frame) if isinstance(n, AggCall) else n)
        if isinstance(func, AggCall) and func.distinct and order:
            raise UnsupportedError("DISTINCT aggregates over an ordered window are not supported",
                                   hint="drop the window's ORDER BY so the aggregate covers the whole partition")
        return WindowCall(func, partition, order, frame)

    def _frame(self, spec, ordered: bool) -> WindowFrame | None:
        if spec is None:
            return WindowFrame("range", None, 0) if ordered else WindowFrame("rows", None, None)
        mode = (spec.args.get("kind") or "ROWS").lower()
        intervals = []

        def bound(value, side):
            if value is None or (isinstance(value, str) and value.upper() == "UNBOUNDED"):
                return None
            if isinstance(value, str) and value.upper() == "CURRENT ROW":
                return 0
            if isinstance(value, exp.Literal) and not value.is_string:
                n = int(value.this)
                intervals.append(False)
                return -n if (side or "").upper() == "PRECEDING" else n
            if isinstance(value, exp.Expression):
                bound_value = self.bind(value)
                n = _frame_interval_micros(bound_value)
                kind = "micros"
                if n is None:
                    n, kind = _frame_interval_months(bound_value), "months"
                if n is not None:
                    intervals.append(kind)
                    return -n if (side or "").upper() == "PRECEDING" else n
            raise UnsupportedError("Not supported: a window frame bound other than a constant integer or a "
                                   "constant interval",
                                   hint="write 3 PRECEDING, INTERVAL 1 HOUR PRECEDING over a timestamp, or "
                                        "INTERVAL 1 MONTH PRECEDING over a date or a timestamp")
        start_value, end_value = spec.args.get("start"), spec.args.get("end")
        start_side = (spec.args.get("start_side") or "").upper()
        end_side = (spec.args.get("end_side") or "").upper()
        if isinstance(start_value, str) and start_value.upper() == "UNBOUNDED" and start_side == "FOLLOWING":
            raise QuarryTypeError("a window frame cannot start at UNBOUNDED FOLLOWING")
        if isinstance(end_value, str) and end_value.upper() == "UNBOUNDED" and end_side == "PRECEDING":
            raise QuarryTypeError("a window frame cannot end at UNBOUNDED PRECEDING")
        start = bound(start_value, start_side)
        end = bound(end_value, end_side) if end_value is not None else 0
        if start is not None and end is not None and start > end:
            raise QuarryTypeError("the window frame starts after it ends",
                                  hint="write ROWS BETWEEN <earlier bound> AND <later bound>")
        if any(intervals):
            if mode != "range":
                raise QuarryTypeError("a ROWS frame counts rows: its bounds cannot be intervals",
                                      hint="write RANGE BETWEEN INTERVAL ... PRECEDING AND ...")
            if not all(intervals):
                raise QuarryTypeError("a RANGE frame mixes an interval bound with a number",
                                      hint="give both bounds as intervals (or CURRENT ROW / UNBOUNDED)")
            if len(set(intervals)) > 1:
                raise QuarryTypeError("a RANGE frame mixes a month bound with a day-time one",
                                      hint="give both bounds in months, or both in days and time")
        return WindowFrame(mode, start, end, interval=any(intervals), months="months" in intervals)

    def bind_sort_key(self, node: exp.Ordered) -> SortKey:
        from quarry.sql.settings import sort_direction
        self.qb.check(node)
        ascending, nulls_first = sort_direction(getattr(self.qb, "session", None), node)
        return SortKey(self.bind(node.this), ascending, nulls_first)


__all__ = ["ExprBinder", "node_position", "sql_type", "interval_value", "interval_span_value"]
