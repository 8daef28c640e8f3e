"""Spark's datetime functions, with Spark's semantics (see docs/spark.md, "Functions").

Java ``DateTimeFormatter`` patterns (``yyyy-MM-dd HH:mm:ss``) are translated once, at translation
time, to an strftime/strptime format for Arrow's ``strftime``/``strptime`` kernels; a pattern letter
with no translation is refused by name. Calendar rules are Spark's (``add_months`` keeps the day or
takes the month's last day, ``months_between`` counts 31-day months and rounds to 8 digits).

Timestamps: quarry's timestamps have no zone; the Spark front end keeps the instants of
``TimestampType`` values as UTC wall time, so the functions here compute in UTC (exact for the
default session zone UTC). ``from_utc_timestamp``/``to_utc_timestamp`` shift between zones with the
tz database, DST included.
"""

from __future__ import annotations

import datetime
import decimal
import re

import pyarrow as pa

from quarry.api.column import Column, lit
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import Literal
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.functions.base import Call, Function, spark_function  # noqa: F401
from quarry.spark.functions.nested import _call, _case, _null_of, expr_column

__all__ = ["java_pattern"]

# Java pattern runs -> strftime directives (formatting and parsing); fractions are handled apart
_DIRECTIVES = {
    "yyyy": "%Y", "yyy": "%Y", "uuuu": "%Y", "yy": "%y", "uu": "%y", "y": "%Y", "u": "%Y",
    "MMMM": "%B", "MMM": "%b", "MM": "%m", "LLLL": "%B", "LLL": "%b", "LL": "%m",
    "dd": "%d", "DDD": "%j", "HH": "%H", "hh": "%I", "mm": "%M", "ss": "%S", "a": "%p",
    "EEEE": "%A", "EEE": "%a", "EE": "%a", "E": "%a", "Z": "%z", "XX": "%z", "xx": "%z",
}
# parsing accepts one or two digits for these (Arrow's strptime is lenient), formatting does not pad-drop
_PARSE_ONLY = {"M": "%m", "d": "%d", "H": "%H", "h": "%I", "m": "%M", "s": "%S", "D": "%j"}
_NAMES = {"G": "era", "Q": "quarter", "q": "quarter", "w": "week-of-year", "W": "week-of-month",
          "e": "day-of-week number", "c": "day-of-week number", "F": "aligned week", "K": "hour-of-am-pm (0-11)",
          "k": "clock-hour (1-24)", "n": "nano-of-second", "N": "nano-of-day", "A": "milli-of-day",
          "V": "zone id", "z": "zone name", "O": "localized zone offset", "X": "zone offset X", "x": "zone offset x",
          "B": "day period", "Y": "week-based year", "L": "stand-alone month", "S": "fraction of second",
          "M": "month", "d": "day", "H": "hour", "h": "hour", "m": "minute", "s": "second", "D": "day-of-year",
          "E": "day-of-week", "y": "year", "u": "year", "a": "am-pm", "Z": "zone offset"}


def java_pattern(pattern: str, parsing: bool) -> tuple[str, int]:
    """A Java DateTimeFormatter pattern as (strftime format, fraction digits 0/3/6), or a refusal naming
    the letter that has no translation.

    >>> java_pattern("yyyy-MM-dd HH:mm:ss.SSS", False)
    ('%Y-%m-%d %H:%M:%S', 3)
    """
    out, digits, i = [], 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise SparkError(f"unterminated quote in the datetime pattern `{pattern}`",
                                 error_class="INVALID_DATETIME_PATTERN")
            text = pattern[i + 1:end] if end > i + 1 else "'"
            out.append(text.replace("%", "%%"))
            i = end + 1
            continue
        if not ch.isalpha():
            out.append("%%" if ch == "%" else ch)
            i += 1
            continue
        j = i
        while j < len(pattern) and pattern[j] == ch:
            j += 1
        run = pattern[i:j]
        i = j
        if ch == "S":
            # a fraction directly after seconds: %S prints (and would parse) the fraction
            if parsing or not out or out[-1] != "." or len(out) < 2 or out[-2] != "%S" or len(run) not in (3, 6):
                raise not_supported(f"the datetime pattern letter `S` (fraction of second) in `{pattern}` "
                                    "(only as ss.SSS or ss.SSSSSS when formatting)")
            out.pop()
            digits = len(run)
            continue
        directive = _DIRECTIVES.get(run)
        if directive is None and parsing:
            directive = _PARSE_ONLY.get(run)
        if directive is None:
            what = _NAMES.get(ch, "unknown")
            raise not_supported(f"the datetime pattern `{run}` ({what}) in `{pattern}`")
        out.append(directive)
    return "".join(out), digits


def _pattern_arg(call: Call, i: int, default: str) -> str:
    value = call.literal(i, default)
    if not isinstance(value, str):
        raise SparkError(f"`{call.name}` takes the format as a string literal", error_class="DATATYPE_MISMATCH")
    return value


def _format(value: Column, pattern: str) -> Column:
    fmt, digits = java_pattern(pattern, parsing=False)
    return expr_column(lambda v: _call("spark_format", v, FN.lit(fmt), FN.lit(digits)), value)


def _parse(value: Column, pattern: str, as_date: bool, try_: bool = False) -> Column:
    fmt, _ = java_pattern(pattern, parsing=True)

    def build(v):
        if pa.types.is_timestamp(v.dtype) or v.dtype == T.DATE:
            return FN.cast(v, T.DATE if as_date else T.TIMESTAMP, explicit=True)
        return _call("spark_parse", v, FN.lit(fmt), FN.lit(as_date), FN.lit(try_))
    return expr_column(build, value)


@spark_function("try_to_timestamp", "try_to_date")
def _try_parse(call: Call):
    call.expect(1, 2)
    as_date = call.name == "try_to_date"
    default = "yyyy-MM-dd" if as_date else "yyyy-MM-dd HH:mm:ss"
    return _parse(call.args[0], _pattern_arg(call, 1, default), as_date, True)


@spark_function("dayname")
def _dayname(call: Call):
    call.expect(1)
    return _format(call.args[0], "EEE")


@spark_function("monthname")
def _monthname(call: Call):
    call.expect(1)
    return _format(call.args[0], "MMM")


@spark_function("date_from_unix_date")
def _date_from_unix_date(call: Call):
    call.expect(1)
    epoch = Literal(datetime.date(1970, 1, 1), T.DATE)
    return expr_column(lambda n: _call("spark_date_add", epoch, n), call.args[0])


_UTC = ("UTC", "Etc/UTC", "Z", "+00:00", "GMT")


def _wall_to_utc(call: Call, e):
    """A wall time in the session time zone as the UTC wall time of the same instant."""
    zone = call.translator.time_zone
    return e if zone in _UTC else _call("spark_zone_shift", e, FN.lit(zone), FN.lit(True))


def _utc_to_wall(call: Call, e):
    zone = call.translator.time_zone
    return e if zone in _UTC else _call("spark_zone_shift", e, FN.lit(zone), FN.lit(False))


@spark_function("date_format")
def _date_format(call: Call):
    call.expect(2)
    return _format(call.args[0], _pattern_arg(call, 1, ""))


@spark_function("to_date")
def _to_date(call: Call):
    call.expect(1, 2)
    if len(call.protos) == 1:
        return call.args[0].cast(pa.date32())
    return _parse(call.args[0], _pattern_arg(call, 1, ""), True)


@spark_function("to_timestamp", "to_timestamp_ntz", "to_timestamp_ltz")
def _to_timestamp(call: Call):
    call.expect(1, 2)
    if len(call.protos) == 1:
        return call.args[0].cast(pa.timestamp("us"))
    return _parse(call.args[0], _pattern_arg(call, 1, ""), False)


@spark_function("unix_timestamp", "to_unix_timestamp")
def _unix_timestamp(call: Call):
    call.expect(0, 2)
    if not call.protos:
        import time
        return lit(int(time.time()))
    pattern = _pattern_arg(call, 1, "yyyy-MM-dd HH:mm:ss")
    return expr_column(lambda ts: _call("spark_epoch_seconds", _wall_to_utc(call, ts)),
                       _parse(call.args[0], pattern, False))


@spark_function("from_unixtime")
def _from_unixtime(call: Call):
    call.expect(1, 2)
    pattern = _pattern_arg(call, 1, "yyyy-MM-dd HH:mm:ss")
    ts = expr_column(lambda s: _utc_to_wall(call, _call("spark_from_epoch", FN.cast(s, T.INT64), FN.lit(1_000_000))),
                     call.args[0])
    return _format(ts, pattern)


@spark_function("timestampadd", "timestamp_add")
def _timestamp_add(call: Call):
    call.expect(3)
    if not call.is_literal(0):
        raise not_supported("`timestampadd` with a unit that is not a constant")
    return expr_column(lambda u, q, ts: _call("spark_timestamp_add", u, q, ts), *call.args)


@spark_function("timestampdiff", "timestamp_diff")
def _timestamp_diff(call: Call):
    call.expect(3)
    if not call.is_literal(0):
        raise not_supported("`timestampdiff` with a unit that is not a constant")
    return expr_column(lambda u, a, b: _call("spark_timestamp_diff", u, a, b), *call.args)


@spark_function("window_time")
def _window_time(call: Call):
    """``window_time(window)``: the window's event time, one microsecond before its (exclusive) end."""
    call.expect(1)

    def event_time(w):
        if not (pa.types.is_struct(w.dtype) and "end" in [f.name for f in w.dtype]):
            raise SparkError("`window_time` takes the window column of a time window aggregation",
                             error_class="DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE")
        end_us = _call("spark_epoch_seconds", _call("struct_extract", w, FN.lit("end")), FN.lit(1, T.INT64))
        return _call("spark_from_epoch", _call("subtract", end_us, FN.lit(1, T.INT64)), FN.lit(1))
    return expr_column(event_time, call.args[0])


def _epoch_builder(scale: int):
    def builder(call: Call):
        call.expect(1)
        return expr_column(lambda s: _utc_to_wall(call, _call("spark_from_epoch", s, FN.lit(scale))), call.args[0])
    return builder


spark_function("timestamp_seconds")(_epoch_builder(1_000_000))
spark_function("timestamp_millis")(_epoch_builder(1_000))
spark_function("timestamp_micros")(_epoch_builder(1))


@spark_function("unix_seconds", "unix_millis", "unix_micros", "unix_date")
def _unix_units(call: Call):
    call.expect(1)
    if call.name == "unix_date":
        epoch = Literal(datetime.date(1970, 1, 1), T.DATE)
        return expr_column(lambda d: FN.cast(_call("date_diff", FN.lit("day"), epoch, FN.cast(d, T.DATE)), T.INT32),
                           call.args[0])
    per = {"unix_seconds": 1_000_000, "unix_millis": 1_000, "unix_micros": 1}[call.name]
    return expr_column(lambda ts: _call("spark_epoch_seconds", _wall_to_utc(call, ts), FN.lit(per, T.INT64)),
                       call.args[0])


def _days_arg(call: Call, sign: int):
    call.expect(2)
    days = call.args[1]
    if sign < 0:
        days = -days
    return expr_column(lambda d, n: _call("spark_date_add", d, n), call.args[0], days)


@spark_function("date_add", "dateadd")
def _date_add(call: Call):
    return _days_arg(call, 1)


@spark_function("date_sub")
def _date_sub(call: Call):
    return _days_arg(call, -1)


@spark_function("add_months")
def _add_months(call: Call):
    call.expect(2)
    return expr_column(lambda d, n: _call("spark_add_months", d, n), *call.args)


@spark_function("months_between")
def _months_between(call: Call):
    call.expect(2, 3)
    round_off = call.literal(2, True)
    return expr_column(lambda a, b: _call("spark_months_between", a, b, FN.lit(bool(round_off))), *call.args[:2])


@spark_function("datediff", "date_diff")
def _datediff(call: Call):
    call.expect(2)
    # datediff(end, start): days from start to end
    return expr_column(lambda end, start: FN.cast(_call("date_diff", FN.lit("day"), FN.cast(start, T.DATE, explicit=True),
                                                        FN.cast(end, T.DATE, explicit=True)), T.INT32),
                       *call.args)


@spark_function("last_day")
def _last_day(call: Call):
    call.expect(1)
    return expr_column(lambda d: _call("spark_last_day", d), call.args[0])


@spark_function("next_day")
def _next_day(call: Call):
    call.expect(2)
    return expr_column(lambda d, w: _call("spark_next_day", d, w), *call.args)


_TRUNC_DATE = {"year": "year", "yyyy": "year", "yy": "year", "quarter": "quarter", "month": "month", "mon": "month",
               "mm": "month", "week": "week"}
_TRUNC_TS = dict(_TRUNC_DATE, day="day", dd="day", hour="hour", minute="minute", second="second")


@spark_function("trunc")
def _trunc(call: Call):
    call.expect(2)
    unit = str(call.literal(1)).lower()
    part = _TRUNC_DATE.get(unit)
    if part is None:
        # Spark: an unknown unit gives NULL
        return expr_column(lambda d: _null_of(T.DATE), call.args[0])
    return expr_column(lambda d: FN.cast(_call("date_trunc", FN.lit(part), FN.cast(d, T.DATE, explicit=True)), T.DATE),
                       call.args[0])


@spark_function("date_trunc")
def _date_trunc(call: Call):
    call.expect(2)
    unit = str(call.literal(0)).lower()
    if unit in ("millisecond", "microsecond"):
        raise not_supported(f"date_trunc('{unit}', ...)")
    part = _TRUNC_TS.get(unit)
    if part is None:
        return expr_column(lambda d: _null_of(T.TIMESTAMP), call.args[1])
    return expr_column(lambda d: FN.cast(_call("date_trunc", FN.lit(part), FN.cast(d, T.TIMESTAMP, explicit=True)),
                                         T.TIMESTAMP), call.args[1])


@spark_function("make_dt_interval")
def _make_dt_interval(call: Call):
    """Spark's day-time interval of ``days, hours, mins, secs`` (each 0 when left out)."""
    call.expect(0, 4)
    from quarry.logical.spark_functions import bind_spark_make_dt_interval
    args = list(call.args) + [lit(0)] * (4 - len(call.args))
    return expr_column(lambda *a: bind_spark_make_dt_interval(*a), *args)


@spark_function("make_ym_interval")
def _make_ym_interval(call: Call):
    """Spark's year-month interval of ``years, months`` (each 0 when left out)."""
    call.expect(0, 2)
    from quarry.logical.spark_functions import bind_spark_make_ym_interval
    args = list(call.args) + [lit(0)] * (2 - len(call.args))
    return expr_column(lambda *a: bind_spark_make_ym_interval(*a), *args)


@spark_function("make_interval")
def _make_interval(call: Call):
    """Spark's calendar interval of ``years, months, weeks, days, hours, mins, secs`` (each 0 when left
    out)."""
    call.expect(0, 7)
    from quarry.logical.spark_functions import bind_spark_make_interval
    args = list(call.args) + [lit(0)] * (7 - len(call.args))
    return expr_column(lambda *a: bind_spark_make_interval(*a), *args)


@spark_function("try_make_interval")
def _try_make_interval(call: Call):
    """``make_interval`` with NULL for a row that overflows (Spark 4's ``try_make_interval``)."""
    call.expect(0, 7)
    from quarry.logical.spark_functions import bind_spark_try_make_interval
    args = list(call.args) + [lit(0)] * (7 - len(call.args))
    return expr_column(lambda *a: bind_spark_try_make_interval(*a), *args)


@spark_function("make_date")
def _make_date(call: Call):
    call.expect(3)
    return expr_column(lambda y, m, d: _call("make_date", y, m, d), *call.args)


def _make_timestamp_of(errors):
    def build(call: Call):
        call.expect(6, 7)
        if len(call.protos) == 7:
            raise not_supported(f"{call.name} with a time zone argument")
        raises = call.translator.ansi if errors else False      # the try_ forms give NULL in either mode
        return expr_column(lambda *a: _call("spark_make_timestamp", *a, FN.lit(raises)), *call.args)
    return build


spark_function("make_timestamp", "make_timestamp_ntz", "make_timestamp_ltz")(_make_timestamp_of(True))
spark_function("try_make_timestamp", "try_make_timestamp_ntz", "try_make_timestamp_ltz")(_make_timestamp_of(False))


def _zone_shift(to_utc: bool):
    def builder(call: Call):
        call.expect(2)
        return expr_column(lambda ts, z: _call("spark_zone_shift", ts, z, FN.lit(to_utc)), *call.args)
    return builder


spark_function("from_utc_timestamp")(_zone_shift(False))
spark_function("to_utc_timestamp")(_zone_shift(True))


def _convert_timezone_name(name, args, call):
    shown = args if len(args) == 3 else ["current_timezone()", *args]
    return f"convert_timezone({', '.join(shown)})"


@spark_function("convert_timezone", namer=_convert_timezone_name)
def _convert_timezone(call: Call):
    """``convert_timezone([sourceTz, ]targetTz, sourceTs)``: the wall time ``sourceTs`` in ``sourceTz`` (the
    session zone when omitted) as the same instant's wall time in ``targetTz``."""
    call.expect(2, 3)
    source = call.args[0] if len(call.protos) == 3 else lit(call.translator.time_zone)
    target, ts = call.args[-2], call.args[-1]
    return expr_column(lambda s, t, x: _call("spark_zone_shift", _call("spark_zone_shift", x, s, FN.lit(True)), t,
                                             FN.lit(False)), source, target, ts)


def _no_args_name(name, args, call):
    return f"{name}()"


@spark_function("current_timestamp", "now", "localtimestamp", namer=_no_args_name)
def _current_timestamp(call: Call):
    call.expect(0)
    import datetime as _dt
    import zoneinfo
    now = _dt.datetime.now(_dt.timezone.utc)
    try:
        now = now.astimezone(zoneinfo.ZoneInfo(call.translator.time_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    # one value for the whole query, the session zone's wall time
    return lit(now.replace(tzinfo=None), pa.timestamp("us"))


@spark_function("current_date", "curdate", namer=_no_args_name)
def _current_date(call: Call):
    call.expect(0)
    import datetime as _dt
    import zoneinfo
    now = _dt.datetime.now(_dt.timezone.utc)
    try:
        now = now.astimezone(zoneinfo.ZoneInfo(call.translator.time_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    return lit(now.date(), pa.date32())


@spark_function("current_timezone", namer=_no_args_name)
def _current_timezone(call: Call):
    call.expect(0)
    return lit(call.translator.time_zone)


@spark_function("dayofweek")
def _dayofweek(call: Call):
    call.expect(1)
    # Spark: 1 = Sunday ... 7 = Saturday
    return expr_column(lambda d: FN.cast(_call("add", _call("date_part", FN.lit("dayofweek"), d), FN.lit(1)), T.INT32),
                       call.args[0])


@spark_function("weekday")
def _weekday(call: Call):
    call.expect(1)
    # Spark: 0 = Monday ... 6 = Sunday
    return expr_column(lambda d: FN.cast(_call("subtract", _call("date_part", FN.lit("isodow"), d), FN.lit(1)),
                                         T.INT32), call.args[0])


_PARTS = {"year": "year", "years": "year", "y": "year", "yr": "year", "yrs": "year", "month": "month",
          "months": "month", "mon": "month", "mons": "month", "day": "day", "days": "day", "d": "day",
          "hour": "hour", "hours": "hour", "h": "hour", "hr": "hour", "hrs": "hour", "minute": "minute",
          "minutes": "minute", "min": "minute", "mins": "minute", "m": "minute", "quarter": "quarter",
          "qtr": "quarter", "week": "week", "weeks": "week", "w": "week", "dayofweek": "dayofweek",
          "dow": "dayofweek", "doy": "dayofyear", "dayofyear": "dayofyear"}


@spark_function("extract", "date_part", "datepart")
def _extract(call: Call):
    call.expect(2)
    field = str(call.literal(0)).lower()
    if field in ("second", "seconds", "s", "sec", "secs"):
        # Spark: seconds with their fraction, decimal(8, 6)
        return expr_column(lambda d: FN.cast(_call("divide", FN.cast(_call("date_part", FN.lit("microsecond"), d),
                                                                        pa.decimal128(18, 0)),
                                                  Literal(decimal.Decimal(1_000_000), pa.decimal128(7, 0))),
                                             pa.decimal128(8, 6), explicit=True), call.args[1])
    part = _PARTS.get(field)
    if part is None:
        raise SparkError(f"the field `{field}` is not a date/time field", error_class="INVALID_EXTRACT_FIELD")

    def build(d):
        out = _call("date_part", FN.lit(part), d)
        if part == "dayofweek":
            out = _call("add", out, FN.lit(1))
        return FN.cast(out, T.INT32)
    return expr_column(build, call.args[1])


for _name, _part in (("year", "year"), ("month", "month"), ("dayofmonth", "day"), ("day", "day"),
                     ("hour", "hour"), ("minute", "minute"), ("second", "second"), ("dayofyear", "dayofyear"),
                     ("quarter", "quarter"), ("weekofyear", "week")):
    def _part_builder(call: Call, _part=_part):
        call.expect(1)
        return expr_column(lambda d: FN.cast(_call("date_part", FN.lit(_part), d), T.INT32), call.args[0])
    spark_function(_name)(_part_builder)


_UNITS_US = {"microsecond": 1, "millisecond": 1_000, "second": 1_000_000, "minute": 60_000_000,
             "hour": 3_600_000_000, "day": 86_400_000_000, "week": 7 * 86_400_000_000}


def _duration_us(text: str) -> int:
    """``'10 minutes'``, ``'1 hour 30 minutes'``, ``'interval 5 seconds'`` in microseconds."""
    cleaned = text.strip().lower().removeprefix("interval").strip()
    pairs = re.findall(r"(-?\d+)\s*([a-z]+)", cleaned)
    if not pairs or re.sub(r"(-?\d+)\s*([a-z]+)", "", cleaned).strip():
        raise SparkError(f"the duration `{text}` is not an interval", error_class="CANNOT_PARSE_INTERVAL")
    total = 0
    for amount, unit in pairs:
        base = unit.rstrip("s") if unit not in ("s", "ms", "us") else {"s": "second", "ms": "millisecond",
                                                                         "us": "microsecond"}[unit]
        if base in ("month", "year"):
            raise not_supported(f"window() durations in {base}s (their length varies)")
        if base not in _UNITS_US:
            raise SparkError(f"unknown interval unit `{unit}` in `{text}`", error_class="CANNOT_PARSE_INTERVAL")
        total += int(amount) * _UNITS_US[base]
    return total


class SlidingWindow(Column):
    """``window(ts, width, slide)`` with slide < width: one row per window holding ts (Spark's Expand)."""


def _window_name(name, args, call):
    return "window"


@spark_function("window", namer=_window_name)
def _window(call: Call):
    call.expect(2, 4)
    width = _duration_us(str(call.literal(1)))
    slide = _duration_us(str(call.literal(2))) if len(call.protos) > 2 and call.literal(2) is not None else width
    start = _duration_us(str(call.literal(3))) if len(call.protos) > 3 and call.literal(3) else 0
    if width <= 0:
        raise SparkError("window() needs a positive duration", error_class="INVALID_PARAMETER_VALUE")
    if slide <= 0 or slide > width:
        raise SparkError("window(): the slide duration must be positive and at most the window duration",
                         error_class="INVALID_PARAMETER_VALUE")
    if slide != width:
        # a row is in several windows: a generator of them (groupBy pre-expands it, see relations)
        def sliding(ctx):
            from quarry.logical.nested import UnnestExpr
            ts = call.args[0].bind(ctx)
            return UnnestExpr(_call("spark_sliding_windows", ts, FN.lit(width, T.INT64), FN.lit(slide, T.INT64),
                                    FN.lit(start % slide, T.INT64)))
        return SlidingWindow(sliding, "window")

    def build(ts):
        begin = _call("spark_time_bucket", ts, FN.lit(width, T.INT64), FN.lit(start % width, T.INT64), FN.lit(False))
        end = _call("spark_time_bucket", ts, FN.lit(width, T.INT64), FN.lit(start % width, T.INT64), FN.lit(True))
        from quarry.logical.nested_functions import struct_pack
        value = struct_pack(["start", "end"], [begin, end])
        return _case(_call("is_null", ts), _null_of(value.dtype), value)
    return expr_column(build, call.args[0])
