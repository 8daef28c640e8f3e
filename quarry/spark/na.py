"""``df.na``: ``fill`` / ``fillna``, ``drop`` / ``dropna``, ``replace`` (the NAFill, NADrop and NAReplace
relations), with Spark's type rules.

- ``fill(value)``: a number fills the NULLs (and NaNs) of the numeric columns, cast to each
  column's type (``fill(1.5)`` puts ``1`` in an integer column); a string fills the string
  columns; a boolean the boolean columns. With ``subset``, only those of the named columns
  whose type fits. ``fill({"a": 0, "b": "x"})`` fills each named column with its value, cast
  to the column's type.
- ``drop(how="any", thresh=None, subset=None)``: keeps the rows with at least ``thresh``
  values that are neither NULL nor NaN among the columns (the client turns ``how`` into that
  count: every column for ``any``, one for ``all``).
- ``replace(to_replace, value, subset)``: in the columns whose type fits the values (numbers:
  numeric columns; strings: string columns; booleans: boolean columns), each old value becomes
  its new one (``None`` makes it NULL).

Every rule is a column expression (``CASE``/``coalesce``) the engine evaluates over Arrow
batches; columns keep their names and order.
"""

from __future__ import annotations

import decimal

import pyarrow as pa

from quarry.api import functions as QF
from quarry.api.column import _function_column, lit
from quarry.logical import types as T
from quarry.spark.errors import SparkError

__all__ = ["fill", "drop", "replace"]


def _family(dtype: pa.DataType) -> str | None:
    if pa.types.is_boolean(dtype):
        return "boolean"
    if T.is_integer(dtype) or T.is_decimal(dtype) or pa.types.is_floating(dtype):
        return "numeric"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    return None


def _value_family(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "numeric"
    return "string"


def _as_type(value, dtype: pa.DataType):
    """``value`` cast to a column of ``dtype``, as Spark casts the fill value (numbers truncate)."""
    if value is None:
        return None
    if T.is_integer(dtype):
        return int(value)
    if T.is_decimal(dtype):                  # rounded to the column's scale, half up, as Spark's cast
        return decimal.Decimal(str(value)).quantize(decimal.Decimal(1).scaleb(-dtype.scale),
                                                    rounding=decimal.ROUND_HALF_UP)
    if pa.types.is_floating(dtype):
        return float(value)
    if pa.types.is_boolean(dtype):
        return bool(value)
    return str(value)


def column_of(df, f):
    """The Column of ``df``'s field ``f`` (by its id: a name with dots or backquotes needs no parsing)."""
    from quarry.api.column import field_column
    return field_column(f, df.logical_plan)


def _fields(df, names: list[str]) -> list:
    """The fields ``names`` name (case-insensitively); an unknown name is Spark's error."""
    by_lower = {f.name.lower(): f for f in df.logical_plan.schema}
    out = []
    for name in names:
        f = by_lower.get(name.lower())
        if f is None:
            raise SparkError(f"cannot resolve `{name}` among the columns {[g.name for g in df.logical_plan.schema]}",
                             error_class="UNRESOLVED_COLUMN.WITH_SUGGESTION",
                             parameters={"objectName": f"`{name}`", "proposal": ""})
        out.append(f)
    return out


def _rebuild(df, replaced: dict):
    """``df`` with the columns in ``replaced`` (field id -> Column) computed anew, under their names."""
    if not replaced:
        return df
    columns = []
    for f in df.logical_plan.schema:
        columns.append(replaced[f.id].alias(f.name) if f.id in replaced else column_of(df, f))
    return df.select(*columns)


def _missing(column, dtype: pa.DataType):
    """NULL, or NaN in a floating column (Spark's na functions treat NaN as missing)."""
    if pa.types.is_floating(dtype):
        return column.is_null() | _function_column("isnan", [column])
    return column.is_null()


def fill(translator, df, r):
    values = [translator.expressions.literal_value(v)[0] for v in r.values]
    if not values:
        raise SparkError("na.fill needs a value", error_class="NA_FILL_VALUE")
    schema = list(df.logical_plan.schema)
    if len(values) == 1:
        value = values[0]
        targets = _fields(df, list(r.cols)) if r.cols else schema
        pairs = [(f, value) for f in targets if _family(f.dtype) == _value_family(value)]
    else:
        if len(r.cols) != len(values):
            raise SparkError("na.fill with a dict needs one value per column")
        pairs = list(zip(_fields(df, list(r.cols)), values))
    replaced = {}
    for f, value in pairs:
        if _family(f.dtype) is None:
            raise SparkError(f"na.fill cannot fill the column `{f.name}` of type {T.sql_name(f.dtype)}",
                             error_class="UNSUPPORTED_DATA_TYPE")
        c = column_of(df, f)
        try:
            typed = lit(_as_type(value, f.dtype), f.dtype)
        except (ValueError, decimal.InvalidOperation):
            raise SparkError(f"the value {value!r} does not fit the column `{f.name}` ({T.sql_name(f.dtype)})",
                             error_class="CAST_INVALID_INPUT") from None
        replaced[f.id] = QF.when(_missing(c, f.dtype), typed).otherwise(c)
    return _rebuild(df, replaced)


def drop(translator, df, r):
    targets = _fields(df, list(r.cols)) if r.cols else list(df.logical_plan.schema)
    need = r.min_non_nulls if r.HasField("min_non_nulls") else len(targets)
    if not targets or need <= 0:
        return df
    present = None
    for f in targets:
        one = QF.when(_missing(column_of(df, f), f.dtype), lit(0, pa.int32())).otherwise(lit(1, pa.int32()))
        present = one if present is None else present + one
    return df.filter(present >= lit(need, pa.int32()))


def replace(translator, df, r):
    value = translator.expressions.literal_value
    pairs = [(value(x.old_value)[0], value(x.new_value)[0]) for x in r.replacements]
    if not pairs:
        return df
    families = {_value_family(old) for old, _ in pairs if old is not None}
    families |= {_value_family(new) for _, new in pairs if new is not None}
    if len(families) > 1:
        raise SparkError("replace: the values to replace and their replacements must all be numbers, all strings "
                         "or all booleans", error_class="MIXED_TYPE_REPLACEMENT")
    family = families.pop() if families else None
    targets = _fields(df, list(r.cols)) if r.cols else list(df.logical_plan.schema)
    replaced = {}
    for f in targets:
        if family is None or _family(f.dtype) != family:
            continue
        c = column_of(df, f)
        case = None
        for old, new in pairs:
            condition = c.is_null() if old is None else c == lit(_as_type(old, f.dtype), f.dtype)
            if old is not None and T.is_integer(f.dtype) and float(old) != int(old):
                continue                     # 1.5 never equals an integer
            target = lit(_as_type(new, f.dtype), f.dtype)
            case = QF.when(condition, target) if case is None else case.when(condition, target)
        if case is not None:
            replaced[f.id] = case.otherwise(c)
    return _rebuild(df, replaced)
