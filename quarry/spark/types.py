"""Spark's data types (the ``spark.connect.DataType`` message) to Arrow types and back.

Each Spark type has one Arrow type, the one Spark's own Arrow conversion uses, so a
client converts quarry's batches to pandas or Rows the way it converts Spark's:

==================  ====================================  ==================================
Spark               Arrow (what quarry computes with)     note
==================  ====================================  ==================================
boolean             bool
byte/short/int/long int8 / int16 / int32 / int64
float/double        float32 / float64
decimal(p, s)       decimal128(p, s)
string, char,       string                                char/varchar lengths are not kept
varchar
binary              binary
date                date32
timestamp           timestamp(us, tz=session time zone)   quarry's own timestamps carry no
timestamp_ntz       timestamp(us)                         zone, so they are timestamp_ntz
day_time_interval   duration(us)
calendar_interval   month_day_nano_interval
array / map /       list / map / struct
struct
null                null
==================  ====================================  ==================================

Types quarry cannot hold (variant, udt, geometry, time, year-month intervals) raise
"Not supported: ...". DDL strings (``"a INT, b STRING"``, ``"struct<a:int>"``), as
``spark.read.schema(...)`` and ``createDataFrame(schema=...)`` send them, are parsed by
:func:`parse_ddl` with sqlglot's Spark dialect.

    >>> to_arrow(from_arrow(pa.decimal128(15, 2)))
    Decimal128Type(decimal128(15, 2))
"""

from __future__ import annotations

import pyarrow as pa
import sqlglot
from sqlglot import exp

from pyspark.sql.connect.proto import types_pb2

from quarry.spark.errors import SparkError, not_supported

__all__ = ["to_arrow", "from_arrow", "schema_to_arrow", "schema_from_arrow", "parse_ddl", "simple_string",
           "json_to_ddl"]

DataType = types_pb2.DataType

_SIMPLE = {
    "null": pa.null(), "boolean": pa.bool_(), "byte": pa.int8(), "short": pa.int16(), "integer": pa.int32(),
    "long": pa.int64(), "float": pa.float32(), "double": pa.float64(), "string": pa.string(),
    "char": pa.string(), "var_char": pa.string(), "binary": pa.binary(), "date": pa.date32(),
    "timestamp_ntz": pa.timestamp("us"), "day_time_interval": pa.duration("us"),
}


def to_arrow(dt: DataType, time_zone: str = "UTC") -> pa.DataType:
    """The Arrow type of a Spark DataType message."""
    kind = dt.WhichOneof("kind")
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind in ("year_month_interval", "calendar_interval"):
        from quarry.logical.spark_functions import CALENDAR, YEAR_MONTH
        return YEAR_MONTH if kind == "year_month_interval" else CALENDAR
    if kind == "decimal":
        precision = dt.decimal.precision if dt.decimal.HasField("precision") else 10
        scale = dt.decimal.scale if dt.decimal.HasField("scale") else 0
        return pa.decimal128(precision, scale)
    if kind == "timestamp":
        return pa.timestamp("us", tz=time_zone)
    if kind == "array":
        return pa.list_(pa.field("element", to_arrow(dt.array.element_type, time_zone), dt.array.contains_null))
    if kind == "map":
        return pa.map_(to_arrow(dt.map.key_type, time_zone),
                       pa.field("value", to_arrow(dt.map.value_type, time_zone), dt.map.value_contains_null))
    if kind == "struct":
        return pa.struct([pa.field(f.name, to_arrow(f.data_type, time_zone), f.nullable) for f in dt.struct.fields])
    if kind == "unparsed":
        return parse_ddl(dt.unparsed.data_type_string, time_zone)
    raise not_supported(f"the Spark data type `{kind}`")


def from_arrow(t: pa.DataType) -> DataType:
    """The Spark DataType message of an Arrow type."""
    from quarry.logical.spark_functions import is_calendar, is_year_month
    out = DataType()
    if is_year_month(t):
        out.year_month_interval.start_field = 0
        out.year_month_interval.end_field = 1
    elif is_calendar(t):
        out.calendar_interval.SetInParent()
    elif pa.types.is_null(t):
        out.null.SetInParent()
    elif pa.types.is_boolean(t):
        out.boolean.SetInParent()
    elif t == pa.int8():
        out.byte.SetInParent()
    elif t in (pa.int16(), pa.uint8()):
        out.short.SetInParent()
    elif t in (pa.int32(), pa.uint16()):
        out.integer.SetInParent()
    elif pa.types.is_integer(t):
        out.long.SetInParent()
    elif pa.types.is_float32(t) or pa.types.is_float16(t):
        out.float.SetInParent()
    elif pa.types.is_float64(t):
        out.double.SetInParent()
    elif pa.types.is_decimal(t):
        out.decimal.precision = t.precision
        out.decimal.scale = t.scale
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        out.string.SetInParent()
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        out.binary.SetInParent()
    elif pa.types.is_date(t):
        out.date.SetInParent()
    elif pa.types.is_timestamp(t):
        (out.timestamp if t.tz is not None else out.timestamp_ntz).SetInParent()
    elif pa.types.is_duration(t):
        out.day_time_interval.start_field = 0
        out.day_time_interval.end_field = 3
    elif pa.types.is_interval(t):
        out.calendar_interval.SetInParent()
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        out.array.element_type.CopyFrom(from_arrow(t.value_type))
        out.array.contains_null = t.value_field.nullable
    elif pa.types.is_map(t):
        out.map.key_type.CopyFrom(from_arrow(t.key_type))
        out.map.value_type.CopyFrom(from_arrow(t.item_type))
        out.map.value_contains_null = t.item_field.nullable
    elif pa.types.is_struct(t):
        out.struct.SetInParent()                       # a struct without fields is one too (foreach's UDF)
        for i in range(t.num_fields):
            f = t.field(i)
            out.struct.fields.add(name=f.name, data_type=from_arrow(f.type), nullable=f.nullable)
    else:
        raise not_supported(f"the Arrow type `{t}` in a result")
    return out


def schema_to_arrow(dt: DataType, time_zone: str = "UTC") -> pa.Schema:
    """A struct DataType (a schema) as an Arrow schema."""
    if dt.WhichOneof("kind") == "unparsed":
        t = parse_ddl(dt.unparsed.data_type_string, time_zone)
    else:
        t = to_arrow(dt, time_zone)
    if not pa.types.is_struct(t):
        raise SparkError(f"a schema must be a struct type, got `{simple_string(from_arrow(t))}`",
                         error_class="INVALID_SCHEMA.NON_STRUCT_TYPE", exception="AnalysisException")
    return pa.schema([t.field(i) for i in range(t.num_fields)])


def schema_from_arrow(schema: pa.Schema) -> DataType:
    """An Arrow schema as a struct DataType (what AnalyzePlan's ``schema`` answers)."""
    out = DataType()
    out.struct.SetInParent()
    for f in schema:
        out.struct.fields.add(name=f.name, data_type=from_arrow(f.type), nullable=f.nullable)
    return out


# ---------------------------------------------------------------------------- DDL strings

_DDL_TYPES = {
    exp.DataType.Type.BOOLEAN: pa.bool_(), exp.DataType.Type.TINYINT: pa.int8(),
    exp.DataType.Type.SMALLINT: pa.int16(), exp.DataType.Type.INT: pa.int32(),
    exp.DataType.Type.BIGINT: pa.int64(), exp.DataType.Type.FLOAT: pa.float32(),
    exp.DataType.Type.DOUBLE: pa.float64(), exp.DataType.Type.TEXT: pa.string(),
    exp.DataType.Type.VARCHAR: pa.string(), exp.DataType.Type.CHAR: pa.string(),
    exp.DataType.Type.BINARY: pa.binary(), exp.DataType.Type.VARBINARY: pa.binary(),
    exp.DataType.Type.DATE: pa.date32(), exp.DataType.Type.TIMESTAMPNTZ: pa.timestamp("us"),
    exp.DataType.Type.NULL: pa.null(),
}


_DAY_TIME_UNITS = {"DAY", "HOUR", "MINUTE", "SECOND"}


def _ddl_type(node: exp.DataType, time_zone: str) -> pa.DataType:
    t = node.this
    if isinstance(t, exp.Interval):
        # INTERVAL DAY [TO SECOND], HOUR TO MINUTE, ...: Spark's DayTimeIntervalType, microseconds
        unit = t.args.get("unit")
        units = [unit.this.name, unit.expression.name] if isinstance(unit, exp.IntervalSpan) else [unit.name]
        if all(u.upper() in _DAY_TIME_UNITS for u in units):
            return pa.duration("us")
        if all(u.upper() in ("YEAR", "MONTH") for u in units):
            from quarry.logical.spark_functions import YEAR_MONTH
            return YEAR_MONTH
        raise not_supported(f"the type `{node.sql(dialect='spark')}`")
    if t in _DDL_TYPES:
        return _DDL_TYPES[t]
    if t in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPLTZ, exp.DataType.Type.TIMESTAMPTZ):
        return pa.timestamp("us", tz=time_zone)
    if t == exp.DataType.Type.DECIMAL:
        params = [int(p.this.this) if isinstance(p.this, exp.Literal) else int(p.name) for p in node.expressions]
        return pa.decimal128(params[0] if params else 10, params[1] if len(params) > 1 else 0)
    if t == exp.DataType.Type.ARRAY:
        return pa.list_(_ddl_type(node.expressions[0], time_zone))
    if t == exp.DataType.Type.MAP:
        return pa.map_(_ddl_type(node.expressions[0], time_zone), _ddl_type(node.expressions[1], time_zone))
    if t == exp.DataType.Type.STRUCT:
        return pa.struct([pa.field(c.name, _ddl_type(c.args["kind"], time_zone)) for c in node.expressions])
    raise not_supported(f"the type `{node.sql(dialect='spark')}`")


def parse_ddl(text: str, time_zone: str = "UTC") -> pa.DataType:
    """A Spark DDL type string as an Arrow type: ``"a INT, b STRING"`` (a struct of those columns),
    ``"struct<a:int>"``, ``"bigint"``.

    >>> parse_ddl("a INT, b STRING")
    StructType(struct<a: int32, b: string>)
    """
    stripped = text.strip()
    try:
        # a column list first ("a INT, b STRING"): "long string" would otherwise parse as the type long
        node = sqlglot.parse_one(f"CREATE TABLE t ({stripped})", read="spark")
        columns = node.this.expressions
        if columns and all(isinstance(c, exp.ColumnDef) and c.args.get("kind") is not None for c in columns):
            return pa.struct([pa.field(c.name, _ddl_type(c.args["kind"], time_zone), not _not_null(c))
                              for c in columns])
    except SparkError:
        raise
    except Exception:
        pass
    try:
        return _ddl_type(exp.DataType.build(stripped, dialect="spark"), time_zone)
    except SparkError:
        raise
    except Exception:
        raise SparkError(f"cannot parse the data type `{text}`", error_class="PARSE_SYNTAX_ERROR",
                         exception="ParseException", parameters={"error": text, "hint": ""}) from None


def _not_null(column: exp.ColumnDef) -> bool:
    return any(isinstance(c.kind, exp.NotNullColumnConstraint) and not c.kind.args.get("allow_null")
               for c in column.constraints)


# ---------------------------------------------------------------------------- type names

_NAMES = {"null": "void", "boolean": "boolean", "byte": "tinyint", "short": "smallint", "integer": "int",
          "long": "bigint", "float": "float", "double": "double", "string": "string", "char": "string",
          "var_char": "string", "binary": "binary", "date": "date", "timestamp": "timestamp",
          "timestamp_ntz": "timestamp_ntz", "calendar_interval": "interval",
          "day_time_interval": "interval day to second", "year_month_interval": "interval year to month"}


def simple_string(dt: DataType) -> str:
    """Spark's short name of a type (``bigint``, ``decimal(15,2)``, ``array<int>``), as in
    ``printSchema`` and ``CAST(x AS INT)`` column names (upper-cased there)."""
    kind = dt.WhichOneof("kind")
    if kind in _NAMES:
        return _NAMES[kind]
    if kind == "decimal":
        return f"decimal({dt.decimal.precision},{dt.decimal.scale})"
    if kind == "array":
        return f"array<{simple_string(dt.array.element_type)}>"
    if kind == "map":
        return f"map<{simple_string(dt.map.key_type)},{simple_string(dt.map.value_type)}>"
    if kind == "struct":
        return "struct<" + ",".join(f"{f.name}:{simple_string(f.data_type)}" for f in dt.struct.fields) + ">"
    if kind == "unparsed":
        return dt.unparsed.data_type_string
    return kind or "unknown"


# ---------------------------------------------------------------------------- JSON schemas to DDL

_SQL_NAMES = {"boolean": "BOOLEAN", "byte": "TINYINT", "short": "SMALLINT", "integer": "INT", "long": "BIGINT",
              "float": "FLOAT", "double": "DOUBLE", "string": "STRING", "binary": "BINARY", "date": "DATE",
              "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP_NTZ", "null": "VOID", "void": "VOID",
              "interval": "INTERVAL", "variant": "VARIANT"}


def _quote(name: str) -> str:
    """A name as Spark's DDL writes it: bare when it is letters, digits and ``_`` (not only digits)."""
    import re
    if re.fullmatch(r"[A-Za-z0-9_]+", name) and not name.isdigit():
        return name
    return "`" + name.replace("`", "``") + "`"


def _json_type_sql(t) -> str:
    """The SQL text (``DataType.sql``) of a type in Spark's JSON form."""
    import re
    if isinstance(t, str):
        name = t.strip().lower()
        if name in _SQL_NAMES:
            return _SQL_NAMES[name]
        m = re.fullmatch(r"(decimal|char|varchar)\((\d+)(?:,\s*(\d+))?\)", name)
        if m:
            return f"{m.group(1).upper()}({m.group(2)}" + (f",{m.group(3)}" if m.group(3) else "") + ")"
        if name.startswith("interval "):
            return name.upper()
        if name == "decimal":
            return "DECIMAL(10,0)"
        raise not_supported(f"the type `{t}` in a JSON schema")
    if isinstance(t, dict):
        kind = t.get("type")
        if kind == "array":
            return f"ARRAY<{_json_type_sql(t['elementType'])}>"
        if kind == "map":
            return f"MAP<{_json_type_sql(t['keyType'])}, {_json_type_sql(t['valueType'])}>"
        if kind == "struct":
            return "STRUCT<" + ", ".join(_json_field_ddl(f, ": ") for f in t.get("fields", [])) + ">"
        if kind == "udt":
            raise not_supported("user-defined types in a JSON schema")
    raise SparkError(f"`{t}` is not a data type of a JSON schema", error_class="INVALID_JSON_SCHEMA",
                     exception="AnalysisException")


def _json_field_ddl(f: dict, separator: str) -> str:
    text = f"{_quote(f['name'])}{separator}{_json_type_sql(f['type'])}"
    if not f.get("nullable", True):
        text += " NOT NULL"
    comment = (f.get("metadata") or {}).get("comment")
    if comment is not None:
        text += " COMMENT '" + str(comment).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def json_to_ddl(text: str) -> str:
    """A schema in Spark's JSON form (``StructType.json()``) as Spark's DDL (``StructType.toDDL()``):
    fields joined by ``,``, each ``name TYPE`` with `` NOT NULL`` and `` COMMENT '...'`` when they apply.

    >>> json_to_ddl('{"type":"struct","fields":[{"name":"a","type":"integer","nullable":false,"metadata":{}}]}')
    'a INT NOT NULL'
    """
    import json
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise SparkError(f"the schema is not JSON: {exc}", error_class="INVALID_JSON_SCHEMA",
                         exception="AnalysisException") from None
    if not isinstance(schema, dict) or schema.get("type") != "struct":
        raise SparkError("a JSON schema must be a struct type", error_class="INVALID_JSON_SCHEMA",
                         exception="AnalysisException")
    try:
        return ",".join(_json_field_ddl(f, " ") for f in schema.get("fields", []))
    except (KeyError, TypeError, AttributeError) as exc:
        raise SparkError(f"a field of the JSON schema is malformed ({type(exc).__name__}: {exc})",
                         error_class="INVALID_JSON_SCHEMA", exception="AnalysisException") from None
