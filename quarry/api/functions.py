"""``quarry.functions``: the functions of the DataFrame API (``import quarry.functions as F``).

Every function here builds a :class:`~quarry.api.column.Column` that calls the one
function registry SQL uses (``quarry.logical.functions``), so ``F.sum("x")`` and
SQL's ``sum(x)`` are the same typed expression. A string argument in a column
position is a column name (``F.sum("l_quantity")``); other arguments such as
patterns, parts and separators are values (``F.date_trunc("month", "o_orderdate")``).
Wrap a string in :func:`lit` to use it as a value where a column is expected.

    >>> import quarry.functions as F
    >>> from quarry import col
    >>> F.sum(col("l_extendedprice") * (1 - col("l_discount"))).alias("revenue").name
    'revenue'
    >>> F.count().name
    'count(*)'

Any registry function without a wrapper here is still reachable, by attribute
(``F.cbrt("x")``) or by name (``F.call_function("cbrt", "x")``).
"""

from __future__ import annotations

import builtins
import datetime

from quarry.api.column import (
    CaseColumn, Column, WindowSpec, _flatten, _function_column, col, column, expr, lit, to_column, to_condition,
)
from quarry.errors import QuarryError, QuarryTypeError, suggest
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import Literal
from quarry.api.udf import udf, udaf  # noqa: F401  (F.udf, F.udaf)

__all__ = [
    "col", "column", "lit", "expr", "when", "window", "call_function", "date", "timestamp", "interval",
    # Python UDFs (quarry/api/udf.py, docs/udf.md)
    "udf", "udaf",
    # aggregates
    "count", "count_distinct", "sum", "sum_distinct", "avg", "mean", "min", "max", "median", "stddev",
    "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop", "any_value", "approx_count_distinct",
    "bool_and", "bool_or", "string_agg", "product",
    # window functions
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
    "last_value", "nth_value",
    # scalar functions
    "abs", "round", "floor", "ceil", "sqrt", "exp", "ln", "log", "log10", "log2", "power", "pow", "sign",
    "greatest", "least", "coalesce", "nullif", "upper", "lower", "trim", "ltrim", "rtrim", "length",
    "substring", "concat", "replace", "reverse", "left", "right", "lpad", "rpad", "repeat", "starts_with",
    "ends_with", "contains", "strpos", "split_part", "regexp_matches", "regexp_replace", "year", "quarter",
    "month", "week", "day", "dayofweek", "dayofyear", "hour", "minute", "second", "extract", "date_part",
    "date_trunc", "date_diff", "current_date", "now", "make_date", "strftime", "to_date", "random", "pi",
]


def _c(value) -> Column:
    """A column argument: a Column, or a column name."""
    return to_column(value)


def _v(value) -> Column:
    """A value argument: a Column, or a Python value (strings are text)."""
    return to_column(value, literal_strings=True)


# ---------------------------------------------------------------------------
# building blocks


def when(condition, value) -> CaseColumn:
    """``CASE WHEN condition THEN value ... END``; chain ``.when(...)`` and end with ``.otherwise(...)``.

    ``condition`` is a Column or SQL text; ``value`` a Column or a Python value.

    >>> when(col("o_orderpriority").isin("1-URGENT", "2-HIGH"), 1).otherwise(0).name
    "CASE WHEN (o_orderpriority IN ('1-URGENT', '2-HIGH')) THEN 1 ELSE 0 END"
    """
    return CaseColumn([(to_condition(condition), _v(value))])


def window(partition_by=None, order_by=None, *, rows: tuple | None = None,
           range: tuple | None = None) -> WindowSpec:   # noqa: A002 - the SQL word
    """A window for ``.over(...)``: partition and order columns, and an optional frame.

    ``rows=(start, end)`` is a ROWS frame: ints relative to the current row (negative =
    preceding), None = unbounded. ``range=(None, 0)`` is a RANGE frame (offsets other
    than None and 0 are not supported). Without a frame an ordered window runs from the
    start of the partition to the current row, an unordered one covers the partition.

    >>> w = window(partition_by="l_orderkey", order_by="l_linenumber", rows=(-1, 1))
    >>> sum("l_quantity").over(w).name
    'sum(l_quantity) OVER (PARTITION BY l_orderkey ORDER BY l_linenumber ASC NULLS LAST ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)'
    """
    spec = WindowSpec(tuple(_flatten([partition_by])), tuple(_flatten([order_by])))
    if rows is not None and range is not None:
        raise QuarryTypeError("window() takes rows=... or range=..., not both")
    if rows is not None:
        spec = spec.rows_between(*rows)
    if range is not None:
        spec = spec.range_between(*range)
    return spec


def call_function(name: str, *args) -> Column:
    """Call any function of the registry by its SQL name; string arguments are column names.

    >>> call_function("upper", "c_name").name
    'upper(c_name)'
    """
    fdef = FN.lookup(name)
    if fdef.kind == "aggregate" and not args:
        return _function_column(fdef.name, [], star=True)
    return _function_column(fdef.name if name.lower() != fdef.name else name.lower(), [_c(a) for a in args])


def date(value) -> Column:
    """A DATE: ``date("1998-09-02")`` or ``date(datetime.date(...))`` is a literal; a Column is cast.

    >>> date("1995-03-15").name
    "DATE '1995-03-15'"
    """
    if isinstance(value, Column):
        return value.cast("DATE")
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value.strip())
        except ValueError:
            raise QuarryTypeError(f"cannot convert '{value}' to DATE", hint="write the date as 'YYYY-MM-DD'") from None
    if not isinstance(value, datetime.date):
        raise QuarryTypeError(f"date() takes a 'YYYY-MM-DD' string, a datetime.date or a Column, got "
                              f"{type(value).__name__}")
    return lit(value)


def timestamp(value) -> Column:
    """A TIMESTAMP: ``timestamp("2024-01-31 12:00:00")`` is a literal; a Column is cast.

    >>> timestamp("2024-01-31 12:00:00").name
    "TIMESTAMP '2024-01-31 12:00:00'"
    """
    if isinstance(value, Column):
        return value.cast("TIMESTAMP")
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise QuarryTypeError(f"cannot convert '{value}' to TIMESTAMP",
                                  hint="write it as 'YYYY-MM-DD HH:MM:SS'") from None
    if not isinstance(value, datetime.datetime):
        raise QuarryTypeError("timestamp() takes a string, a datetime.datetime or a Column")
    return lit(value)


def interval(*, years: int = 0, months: int = 0, weeks: int = 0, days: int = 0, hours: int = 0,
             minutes: int = 0, seconds: float = 0) -> Column:
    """An INTERVAL to add to or subtract from dates: ``date("1998-12-01") - interval(days=90)``.

    >>> interval(months=3).name
    "INTERVAL '3 months'"
    """
    total_months = years * 12 + months
    total_days = weeks * 7 + days
    nanos = builtins.round((hours * 3600 + minutes * 60 + seconds) * 10**9)
    parts = [f"{v} {unit}" for v, unit in ((total_months, "months"), (total_days, "days")) if v]
    if nanos:
        parts.append(f"{nanos / 10**9:g} seconds")
    text = " ".join(parts) or "0 days"
    value = (int(total_months), int(total_days), int(nanos))
    return Column(lambda ctx: Literal(value, T.INTERVAL), f"INTERVAL '{text}'")


# ---------------------------------------------------------------------------
# aggregates


def count(column=None) -> Column:
    """``count(*)`` without an argument (or with ``"*"``), else the number of non-NULL values.

    >>> count().name, count("o_orderkey").name
    ('count(*)', 'count(o_orderkey)')
    """
    if column is None or (isinstance(column, str) and column == "*"):
        return _function_column("count", [], star=True)
    return _function_column("count", [_c(column)])


def count_distinct(column) -> Column:
    """The number of distinct non-NULL values: ``count(DISTINCT x)``.

    >>> count_distinct("ps_suppkey").name
    'count(DISTINCT ps_suppkey)'
    """
    return _function_column("count", [_c(column)], distinct=True)


def sum(column) -> Column:   # noqa: A001 - the SQL name
    """The sum of the values (DECIMAL stays DECIMAL, integers become BIGINT).

    >>> sum("l_quantity").name
    'sum(l_quantity)'
    """
    return _function_column("sum", [_c(column)])


def sum_distinct(column) -> Column:
    """The sum of the distinct values: ``sum(DISTINCT x)``. ``sum_distinct("x")``."""
    return _function_column("sum", [_c(column)], distinct=True)


def avg(column) -> Column:
    """The mean of the values, as DOUBLE. ``avg("l_discount")``."""
    return _function_column("avg", [_c(column)])


mean = avg


def min(column) -> Column:   # noqa: A001
    """The smallest value. ``min("ps_supplycost")``."""
    return _function_column("min", [_c(column)])


def max(column) -> Column:   # noqa: A001
    """The largest value. ``max("total_revenue")``."""
    return _function_column("max", [_c(column)])


def median(column) -> Column:
    """The median (as DOUBLE). ``median("l_quantity")``."""
    return _function_column("median", [_c(column)])


def stddev_samp(column) -> Column:
    """Sample standard deviation. ``stddev_samp("x")``."""
    return _function_column("stddev_samp", [_c(column)])


stddev = stddev_samp


def stddev_pop(column) -> Column:
    """Population standard deviation. ``stddev_pop("x")``."""
    return _function_column("stddev_pop", [_c(column)])


def var_samp(column) -> Column:
    """Sample variance. ``var_samp("x")``."""
    return _function_column("var_samp", [_c(column)])


variance = var_samp


def var_pop(column) -> Column:
    """Population variance. ``var_pop("x")``."""
    return _function_column("var_pop", [_c(column)])


def any_value(column) -> Column:
    """Some value of the group. ``any_value("c_name")``."""
    return _function_column("any_value", [_c(column)])


def approx_count_distinct(column) -> Column:
    """The number of distinct values (computed exactly today). ``approx_count_distinct("x")``."""
    return _function_column("approx_count_distinct", [_c(column)])


def bool_and(column) -> Column:
    """TRUE when every value is TRUE. ``bool_and(col("x") > 0)``."""
    return _function_column("bool_and", [_c(column)])


def bool_or(column) -> Column:
    """TRUE when some value is TRUE. ``bool_or(col("x") > 0)``."""
    return _function_column("bool_or", [_c(column)])


def string_agg(column, separator: str = ",") -> Column:
    """The values joined into one string. ``string_agg("n_name", ", ")``."""
    return _function_column("string_agg", [_c(column), _v(separator)])


def product(column) -> Column:
    """The product of the values (DOUBLE). ``product("x")``."""
    return _function_column("product", [_c(column)])


# ---------------------------------------------------------------------------
# window functions (use with .over(window(...)))


def row_number() -> Column:
    """1, 2, 3, ... within each window partition, in window order.

    >>> row_number().over(window(partition_by="k", order_by="t")).name
    'row_number() OVER (PARTITION BY k ORDER BY t ASC NULLS LAST)'
    """
    return _function_column("row_number", [])


def rank() -> Column:
    """Rank with gaps after ties. ``rank().over(window(order_by=col("score").desc()))``."""
    return _function_column("rank", [])


def dense_rank() -> Column:
    """Rank without gaps. ``dense_rank().over(window(order_by="score"))``."""
    return _function_column("dense_rank", [])


def percent_rank() -> Column:
    """(rank - 1) / (rows - 1). ``percent_rank().over(window(order_by="score"))``."""
    return _function_column("percent_rank", [])


def cume_dist() -> Column:
    """Fraction of rows up to and including the current row's peers. ``cume_dist().over(...)``."""
    return _function_column("cume_dist", [])


def ntile(n: int) -> Column:
    """Bucket number 1..n. ``ntile(4).over(window(order_by="x"))``."""
    return _function_column("ntile", [_v(n)])


def lag(column, offset: int = 1, default=None) -> Column:
    """The value ``offset`` rows before, or ``default``. ``lag("x").over(window(order_by="t"))``."""
    args = [_c(column), _v(offset)] + ([_v(default)] if default is not None else [])
    return _function_column("lag", args)


def lead(column, offset: int = 1, default=None) -> Column:
    """The value ``offset`` rows after, or ``default``. ``lead("x", 2).over(window(order_by="t"))``."""
    args = [_c(column), _v(offset)] + ([_v(default)] if default is not None else [])
    return _function_column("lead", args)


def first_value(column) -> Column:
    """The first value in the window frame. ``first_value("x").over(window(order_by="t"))``."""
    return _function_column("first_value", [_c(column)])


def last_value(column) -> Column:
    """The last value in the window frame. ``last_value("x").over(window(order_by="t", rows=(None, None)))``."""
    return _function_column("last_value", [_c(column)])


def nth_value(column, n: int) -> Column:
    """The n-th value (1-based) in the window frame. ``nth_value("x", 2).over(...)``."""
    return _function_column("nth_value", [_c(column), _v(n)])


# ---------------------------------------------------------------------------
# scalar functions


def _scalar(name: str, *args: Column) -> Column:
    return _function_column(name, list(args))


def abs(column) -> Column:   # noqa: A001
    """Absolute value. ``abs(col("x") - 1)``."""
    return _scalar("abs", _c(column))


def round(column, digits: int = 0) -> Column:   # noqa: A001
    """Round to ``digits`` decimal places (half away from zero).

    >>> round("l_discount", 1).name
    'round(l_discount, 1)'
    """
    return _scalar("round", _c(column), _v(digits))


def floor(column) -> Column:
    """Round down. ``floor("x")``."""
    return _scalar("floor", _c(column))


def ceil(column) -> Column:
    """Round up. ``ceil("x")``."""
    return _scalar("ceil", _c(column))


def sqrt(column) -> Column:
    """Square root. ``sqrt("x")``."""
    return _scalar("sqrt", _c(column))


def exp(column) -> Column:
    """e to the power of the value. ``exp("x")``."""
    return _scalar("exp", _c(column))


def ln(column) -> Column:
    """Natural logarithm. ``ln("x")``."""
    return _scalar("ln", _c(column))


def log(column, base=None) -> Column:
    """Logarithm base 10, or ``log(base, x)`` semantics of SQL when ``base`` is given. ``log("x")``."""
    if base is None:
        return _scalar("log", _c(column))
    return _scalar("log", _v(base), _c(column))


def log10(column) -> Column:
    """Base-10 logarithm. ``log10("x")``."""
    return _scalar("log10", _c(column))


def log2(column) -> Column:
    """Base-2 logarithm. ``log2("x")``."""
    return _scalar("log2", _c(column))


def power(base, exponent) -> Column:
    """``base`` to the power ``exponent`` (DOUBLE); names are columns, numbers values. ``power("x", 2)``."""
    return _scalar("power", _c(base), _c(exponent) if isinstance(exponent, (str, Column)) else _v(exponent))


pow = power   # noqa: A001


def sign(column) -> Column:
    """-1, 0 or 1. ``sign("x")``."""
    return _scalar("sign", _c(column))


def greatest(*columns) -> Column:
    """The largest argument (NULLs ignored). ``greatest("a", "b")``."""
    return _scalar("greatest", *[_c(c) for c in columns])


def least(*columns) -> Column:
    """The smallest argument (NULLs ignored). ``least("a", "b")``."""
    return _scalar("least", *[_c(c) for c in columns])


def coalesce(*columns) -> Column:
    """The first non-NULL argument; strings are column names. ``coalesce("a", lit(0))``."""
    return _scalar("coalesce", *[_c(c) for c in columns])


def nullif(column, value) -> Column:
    """NULL when ``column`` equals ``value``, else ``column``. ``nullif("x", 0)``."""
    return _scalar("nullif", _c(column), _v(value))


def upper(column) -> Column:
    """Upper case. ``upper("c_name")``."""
    return _scalar("upper", _c(column))


def lower(column) -> Column:
    """Lower case. ``lower("c_name")``."""
    return _scalar("lower", _c(column))


def trim(column) -> Column:
    """Remove spaces at both ends. ``trim("c_name")``."""
    return _scalar("trim", _c(column))


def ltrim(column) -> Column:
    """Remove leading spaces. ``ltrim("c_name")``."""
    return _scalar("ltrim", _c(column))


def rtrim(column) -> Column:
    """Remove trailing spaces. ``rtrim("c_name")``."""
    return _scalar("rtrim", _c(column))


def length(column) -> Column:
    """Number of characters. ``length("c_name")``."""
    return _scalar("length", _c(column))


def substring(column, start: int, length: int | None = None) -> Column:
    """Characters from ``start`` (1-based), ``length`` of them (to the end without it).

    >>> substring("c_phone", 1, 2).name
    'substring(c_phone, 1, 2)'
    """
    args = [_c(column), _v(start)] + ([_v(length)] if length is not None else [])
    return _scalar("substring", *args)


def concat(*columns) -> Column:
    """Concatenate strings, skipping NULLs; strings are column names. ``concat("a", lit("-"), "b")``."""
    return _scalar("concat", *[_c(c) for c in columns])


def replace(column, search: str, replacement: str) -> Column:
    """Replace every ``search`` with ``replacement``. ``replace("c_phone", "-", "")``."""
    return _scalar("replace", _c(column), _v(search), _v(replacement))


def reverse(column) -> Column:
    """The string reversed. ``reverse("x")``."""
    return _scalar("reverse", _c(column))


def left(column, n: int) -> Column:
    """The first ``n`` characters. ``left("c_phone", 2)``."""
    return _scalar("left", _c(column), _v(n))


def right(column, n: int) -> Column:
    """The last ``n`` characters. ``right("c_phone", 4)``."""
    return _scalar("right", _c(column), _v(n))


def lpad(column, width: int, fill: str = " ") -> Column:
    """Pad on the left to ``width`` characters. ``lpad("x", 5, "0")``."""
    return _scalar("lpad", _c(column), _v(width), _v(fill))


def rpad(column, width: int, fill: str = " ") -> Column:
    """Pad on the right to ``width`` characters. ``rpad("x", 5)``."""
    return _scalar("rpad", _c(column), _v(width), _v(fill))


def repeat(column, n: int) -> Column:
    """The string repeated ``n`` times. ``repeat("x", 3)``."""
    return _scalar("repeat", _c(column), _v(n))


def starts_with(column, prefix: str) -> Column:
    """Whether the string starts with ``prefix``. ``starts_with("p_type", "PROMO")``."""
    return _scalar("starts_with", _c(column), _v(prefix))


def ends_with(column, suffix: str) -> Column:
    """Whether the string ends with ``suffix``. ``ends_with("p_type", "BRASS")``."""
    return _scalar("ends_with", _c(column), _v(suffix))


def contains(column, text: str) -> Column:
    """Whether the string contains ``text``. ``contains("p_name", "green")``."""
    return _scalar("contains", _c(column), _v(text))


def strpos(column, text: str) -> Column:
    """1-based position of ``text`` in the string, 0 when absent. ``strpos("x", "a")``."""
    return _scalar("strpos", _c(column), _v(text))


def split_part(column, delimiter: str, index: int) -> Column:
    """The ``index``-th (1-based) piece between delimiters. ``split_part("x", "-", 2)``."""
    return _scalar("split_part", _c(column), _v(delimiter), _v(index))


def regexp_matches(column, pattern: str) -> Column:
    """Whether the regular expression matches somewhere. ``regexp_matches("p_name", "^for")``."""
    return _scalar("regexp_matches", _c(column), _v(pattern))


def regexp_replace(column, pattern: str, replacement: str, flags: str | None = None) -> Column:
    """Replace matches of ``pattern`` (the first; every one with flags ``"g"``). ``regexp_replace("x", "a+", "b", "g")``."""
    args = [_c(column), _v(pattern), _v(replacement)] + ([_v(flags)] if flags is not None else [])
    return _scalar("regexp_replace", *args)


def _part(name: str):
    def fn(column) -> Column:
        return _scalar(name, _c(column))
    fn.__name__ = name
    fn.__doc__ = f"The {name} of a DATE or TIMESTAMP, as BIGINT. ``{name}(\"o_orderdate\")``."
    return fn


year = _part("year")
quarter = _part("quarter")
month = _part("month")
week = _part("week")
day = _part("day")
dayofweek = _part("dayofweek")
dayofyear = _part("dayofyear")
hour = _part("hour")
minute = _part("minute")
second = _part("second")


def date_part(part: str, column) -> Column:
    """A part of a date: ``date_part("year", "o_orderdate")`` (as SQL's ``extract``).

    >>> date_part("year", "o_orderdate").name
    "date_part('year', o_orderdate)"
    """
    return _scalar("date_part", _v(part.lower() if isinstance(part, str) else part), _c(column))


extract = date_part


def date_trunc(part: str, column) -> Column:
    """Truncate to the start of the ``part`` (year, quarter, month, week, day, ...). ``date_trunc("month", "d")``."""
    return _scalar("date_trunc", _v(part.lower() if isinstance(part, str) else part), _c(column))


def date_diff(part: str, start, end) -> Column:
    """Number of ``part`` boundaries from ``start`` to ``end``. ``date_diff("day", "o_orderdate", "l_shipdate")``."""
    return _scalar("date_diff", _v(part.lower() if isinstance(part, str) else part), _c(start), _c(end))


def current_date() -> Column:
    """Today's date. ``current_date()``."""
    return _scalar("current_date")


def now() -> Column:
    """The current timestamp. ``now()``."""
    return _scalar("now")


def make_date(year_, month_, day_) -> Column:
    """A DATE from year, month and day columns or numbers. ``make_date(2024, 1, 31)``."""
    return _scalar("make_date", *[_c(a) if isinstance(a, (str, Column)) else _v(a) for a in (year_, month_, day_)])


def strftime(column, fmt: str) -> Column:
    """Format a date as text. ``strftime("o_orderdate", "%Y-%m")``."""
    return _scalar("strftime", _c(column), _v(fmt))


def to_date(column) -> Column:
    """Parse text as a DATE. ``to_date("shipped")``."""
    return _scalar("to_date", _c(column))


def random() -> Column:
    """A uniform random DOUBLE in [0, 1), new for every row. ``random()``."""
    return _scalar("random")


def pi() -> Column:
    """The constant pi. ``pi()``."""
    return _scalar("pi")


def __getattr__(name: str):
    """Any other registry function by its SQL name: ``F.cbrt("x")`` is ``call_function("cbrt", "x")``."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        FN.lookup(name)
    except QuarryError:
        hint = suggest(name, __all__ + FN.function_names())
        raise AttributeError(f"quarry.api.functions has no function `{name}`" + (f"; {hint}" if hint else "")) from None

    def fn(*args):
        return call_function(name, *args)
    fn.__name__ = name
    fn.__doc__ = f"The registry function `{name}`; string arguments are column names."
    return fn
