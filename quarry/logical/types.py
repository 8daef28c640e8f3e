"""quarry's type system: Arrow data types, normalized, plus the rules that combine them.

quarry uses ``pyarrow.DataType`` directly as its SQL type. What this module adds
is the *policy*: which Arrow types a plan may carry (``normalize``), what two
types coerce to (``common_type``), and the result type of arithmetic, chosen to
agree with DuckDB (the test oracle): decimals stay exact under ``+ - *``, ``/``
gives DOUBLE, integer literals take the smallest decimal that holds them.
"""

from __future__ import annotations

import decimal

import pyarrow as pa

from quarry.errors import QuarryTypeError, UnsupportedError

MAX_DECIMAL_PRECISION = 38

BOOL = pa.bool_()
INT8, INT16, INT32, INT64 = pa.int8(), pa.int16(), pa.int32(), pa.int64()
FLOAT32, FLOAT64 = pa.float32(), pa.float64()
STRING = pa.string()
BINARY = pa.binary()
DATE = pa.date32()
TIMESTAMP = pa.timestamp("us")
TIME = pa.time64("us")
NULL = pa.null()

# the text a TIME is read from, as DuckDB reads it: ``[YYYY-MM-DD ]HH:MM[:SS[.ffffff]]``
TIME_PATTERN = r"^(?:\d{4}-\d{2}-\d{2}[ T])?(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?$"
INTERVAL = pa.month_day_nano_interval()

_INT_RANK = {pa.int8(): 1, pa.int16(): 2, pa.int32(): 3, pa.int64(): 4,
             pa.uint8(): 2, pa.uint16(): 3, pa.uint32(): 4, pa.uint64(): 4}
_INT_DECIMAL_PRECISION = {1: 3, 2: 5, 3: 10, 4: 19}
_RANK_INT = {1: INT8, 2: INT16, 3: INT32, 4: INT64}


def normalize(t: pa.DataType) -> pa.DataType:
    """Map an Arrow type to the one quarry carries in plans.

    Views and large variants become plain strings/binaries (pyarrow's join and
    filter kernels refuse ``string_view``), dictionaries become their values, and
    unsigned integers become signed ones that hold them.

    >>> normalize(pa.string_view())
    DataType(string)
    """
    if pa.types.is_dictionary(t):
        return normalize(t.value_type)
    if t in (pa.string_view(), pa.large_string()):
        return STRING
    if t in (pa.binary_view(), pa.large_binary()):
        return BINARY
    if pa.types.is_unsigned_integer(t):
        return {pa.uint8(): INT16, pa.uint16(): INT32}.get(t, INT64)
    if pa.types.is_float16(t):
        return FLOAT32
    if pa.types.is_decimal(t) and (t.precision > MAX_DECIMAL_PRECISION or not pa.types.is_decimal128(t)):
        return pa.decimal128(min(t.precision, MAX_DECIMAL_PRECISION), min(t.scale, MAX_DECIMAL_PRECISION))
    if pa.types.is_date64(t):
        return DATE
    if pa.types.is_time(t):
        return TIME                      # time32[s|ms] and time64[ns] from files: TIME, in microseconds
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t) \
            or pa.types.is_fixed_size_list(t) or pa.types.is_list(t):
        return pa.list_(normalize(t.value_type))
    if pa.types.is_map(t):
        return pa.map_(normalize(t.key_type), normalize(t.item_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, normalize(f.type)) for f in t])
    return t


def normalize_schema(schema: pa.Schema) -> pa.Schema:
    """Normalize every field of a schema, keeping names and nullability."""
    return pa.schema([pa.field(f.name, normalize(f.type), f.nullable) for f in schema])


def is_integer(t: pa.DataType) -> bool:
    return pa.types.is_integer(t)


def is_decimal(t: pa.DataType) -> bool:
    return pa.types.is_decimal(t)


def is_float(t: pa.DataType) -> bool:
    return pa.types.is_floating(t)


def is_numeric(t: pa.DataType) -> bool:
    return is_integer(t) or is_decimal(t) or is_float(t)


def is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_date(t) or pa.types.is_timestamp(t)


def is_time(t: pa.DataType) -> bool:
    """TIME: a time of day without a date (Arrow's time32/time64)."""
    return pa.types.is_time(t)


def is_null(t: pa.DataType) -> bool:
    return pa.types.is_null(t)


def is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t)


def is_struct(t: pa.DataType) -> bool:
    return pa.types.is_struct(t)


def is_map(t: pa.DataType) -> bool:
    return pa.types.is_map(t)


def is_nested(t: pa.DataType) -> bool:
    """Whether values of ``t`` hold other values: LIST, STRUCT or MAP."""
    return pa.types.is_nested(t)


def decimal_for_integer(t: pa.DataType) -> pa.DataType:
    """The decimal type that holds every value of integer type ``t``."""
    return pa.decimal128(_INT_DECIMAL_PRECISION[_INT_RANK[t]], 0)


def decimal_for_literal(value) -> pa.DataType:
    """The smallest decimal type that holds a literal number exactly."""
    if isinstance(value, bool):
        raise QuarryTypeError("a boolean is not a number")
    if isinstance(value, int):
        digits = max(len(str(abs(value))), 1)
        return pa.decimal128(min(digits, MAX_DECIMAL_PRECISION), 0)
    d = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    sign, digits, exponent = d.as_tuple()
    scale = max(-exponent, 0)
    precision = max(len(digits), scale + 1, 1)
    return pa.decimal128(min(precision, MAX_DECIMAL_PRECISION), scale)


def clamp_decimal(precision: int, scale: int) -> pa.DataType:
    """A decimal128 type with precision capped at 38 (scale kept if it fits)."""
    precision = min(max(precision, 1), MAX_DECIMAL_PRECISION)
    return pa.decimal128(precision, min(scale, precision))


def _as_decimal(t: pa.DataType) -> pa.DataType:
    return decimal_for_integer(t) if is_integer(t) else t


def numeric_common(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type two numbers are compared or unioned in."""
    if is_float(a) or is_float(b):
        return FLOAT64
    if is_decimal(a) or is_decimal(b):
        a, b = _as_decimal(a), _as_decimal(b)
        scale = max(a.scale, b.scale)
        return clamp_decimal(max(a.precision - a.scale, b.precision - b.scale) + scale, scale)
    return _RANK_INT[max(_INT_RANK[a], _INT_RANK[b])]


def common_type(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type values of ``a`` and ``b`` are coerced to when mixed (CASE, UNION, =), or None.

    >>> common_type(pa.int32(), pa.decimal128(15, 2))
    Decimal128Type(decimal128(15, 2))
    """
    if a == b:
        return a
    if is_null(a):
        return b
    if is_null(b):
        return a
    if is_numeric(a) and is_numeric(b):
        return numeric_common(a, b)
    if is_string(a) and is_string(b):
        return STRING
    if is_temporal(a) and is_temporal(b):
        return TIMESTAMP if (pa.types.is_timestamp(a) or pa.types.is_timestamp(b)) else DATE
    if pa.types.is_timestamp(a) and pa.types.is_timestamp(b):
        return a
    if is_map(a) and is_map(b):
        key, item = common_type(a.key_type, b.key_type), common_type(a.item_type, b.item_type)
        return pa.map_(key, item) if key is not None and item is not None else None
    if is_list(a) and is_list(b):
        inner = common_type(a.value_type, b.value_type)
        return pa.list_(inner) if inner is not None else None
    if is_struct(a) and is_struct(b):
        if [f.name for f in a] != [f.name for f in b]:
            return None
        inner = [common_type(x.type, y.type) for x, y in zip(a, b)]
        if any(i is None for i in inner):
            return None
        return pa.struct([pa.field(f.name, i) for f, i in zip(a, inner)])
    # A string literal next to a date/number is coerced by the analyzer, not here.
    return None


def arithmetic_type(op: str, a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """Result type of ``a <op> b`` for op in + - * / %.

    >>> arithmetic_type("*", pa.decimal128(15, 2), pa.decimal128(16, 2))
    Decimal128Type(decimal128(31, 4))
    >>> arithmetic_type("/", pa.int64(), pa.int64())
    DataType(double)
    """
    if is_null(a) and is_null(b):
        a = b = INT32                      # NULL + NULL is an INTEGER NULL, as in DuckDB
    if is_null(a):
        a = b
    if is_null(b):
        b = a
    if not (is_numeric(a) and is_numeric(b)):
        raise QuarryTypeError(f"cannot apply `{op}` to {sql_name(a)} and {sql_name(b)}",
                              hint="cast the operands to a numeric type")
    if op == "/":
        return FLOAT64
    if is_float(a) or is_float(b):
        return FLOAT64
    if is_decimal(a) or is_decimal(b):
        a, b = _as_decimal(a), _as_decimal(b)
        if op in ("+", "-"):
            scale = max(a.scale, b.scale)
            return clamp_decimal(max(a.precision - a.scale, b.precision - b.scale) + scale + 1, scale)
        if op == "*":
            scale = a.scale + b.scale
            if scale > MAX_DECIMAL_PRECISION:
                return FLOAT64
            return clamp_decimal(a.precision + b.precision, scale)
        if op == "%":
            scale = max(a.scale, b.scale)
            return clamp_decimal(max(a.precision - a.scale, b.precision - b.scale) + scale, scale)
    if op == "%":
        return numeric_common(a, b)
    return INT64 if max(_INT_RANK[a], _INT_RANK[b]) <= 4 else INT64


_SQL_NAMES = {
    "bool": "BOOLEAN", "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
    "float": "REAL", "double": "DOUBLE", "string": "VARCHAR", "binary": "BLOB", "date32[day]": "DATE",
    "null": "NULL", "time64[us]": "TIME",
}


def sql_name(t: pa.DataType) -> str:
    """A type's SQL spelling for messages and DESCRIBE: ``DECIMAL(15,2)``, ``VARCHAR``, ..."""
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP" if t.tz is None else "TIMESTAMP WITH TIME ZONE"
    if pa.types.is_interval(t) or pa.types.is_duration(t):
        return "INTERVAL"
    if pa.types.is_list(t):
        inner = sql_name(t.value_type)
        return ('"NULL"' if inner == "NULL" else inner) + "[]"
    if pa.types.is_map(t):
        return f"MAP({sql_name(t.key_type)}, {sql_name(t.item_type)})"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f"{_sql_identifier(f.name)} {sql_name(f.type)}" for f in t) + ")"
    return _SQL_NAMES.get(str(t), str(t).upper())


def _sql_identifier(name: str) -> str:
    """A struct field's name as DuckDB prints it in a type: bare when it is a plain word."""
    if name and (name[0].isalpha() or name[0] == "_") and all(c.isalnum() or c == "_" for c in name):
        return name
    return '"' + name.replace('"', '""') + '"'


_NAMED_TYPES = {
    "BOOLEAN": BOOL, "BOOL": BOOL, "TINYINT": INT8, "SMALLINT": INT16, "INT": INT32, "INTEGER": INT32,
    "BIGINT": INT64, "INT64": INT64, "LONG": INT64, "FLOAT": FLOAT32, "REAL": FLOAT32, "DOUBLE": FLOAT64,
    "DOUBLE PRECISION": FLOAT64, "VARCHAR": STRING, "CHAR": STRING, "TEXT": STRING, "STRING": STRING,
    "NCHAR": STRING, "NVARCHAR": STRING, "BINARY": BINARY, "VARBINARY": BINARY, "BLOB": BINARY,
    "DATE": DATE, "TIMESTAMP": TIMESTAMP, "DATETIME": TIMESTAMP, "INTERVAL": INTERVAL, "TIME": TIME,
    "UTINYINT": INT16, "USMALLINT": INT32, "UINT": INT64, "UBIGINT": INT64, "HUGEINT": pa.decimal128(38, 0),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "UUID": STRING,          # kept as its canonical text; CAST(x AS UUID) checks and normalizes it
}


def from_sql_name(name: str, params: list[int] | None = None) -> pa.DataType:
    """Parse a SQL type name (with parameters) into an Arrow type.

    >>> from_sql_name("DECIMAL", [15, 2])
    Decimal128Type(decimal128(15, 2))
    """
    upper = name.upper().strip()
    params = params or []
    if upper in ("DECIMAL", "NUMERIC", "DEC"):
        precision = params[0] if params else 18
        scale = params[1] if len(params) > 1 else (0 if params else 3)
        if not 1 <= precision <= MAX_DECIMAL_PRECISION or not 0 <= scale <= precision:
            raise QuarryTypeError(f"invalid DECIMAL({precision},{scale})",
                                  hint="precision is 1..38 and scale is 0..precision")
        return pa.decimal128(precision, scale)
    if upper in _NAMED_TYPES:
        return _NAMED_TYPES[upper]
    raise UnsupportedError(f"type `{name}` is not supported",
                           hint="use BOOLEAN, INTEGER, BIGINT, DOUBLE, DECIMAL(p,s), VARCHAR, DATE, TIME or TIMESTAMP")
