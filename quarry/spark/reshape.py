"""``df.unpivot`` / ``df.melt`` (the Unpivot relation): wide to long.

``unpivot(ids, values, "var", "val")`` gives, for each input row and each value column in
order, the id columns, the value column's name in ``var`` and its value in ``val``. The value
columns are widened to one type as Spark widens them (``int`` and ``double`` give
``double``); columns without a common type (a number and a string) are Spark's
``UNPIVOT_VALUE_DATA_TYPE_MISMATCH``. Without ``values``, every column that is not an id is a
value column.

It is one Unnest over two lists built per row (the names, the values), so the rows come out
in Spark's order: each input row's values together.

``df.to(schema)`` (the ToSchema relation) gives the columns of ``schema``, in its order, taken
by name (case-insensitively) and cast to its types; other columns are dropped, a missing one
is Spark's ``UNRESOLVED_COLUMN``, a NULL-able column where the schema says NOT NULL is
``NULLABLE_COLUMN_OR_FIELD``, and a cast Spark does not allow there (a string to a number, a
number to a string) is ``INVALID_COLUMN_OR_FIELD_DATA_TYPE``. Nested fields are not reordered:
a struct must already have the schema's fields.
"""

from __future__ import annotations

import pyarrow as pa

from quarry.logical import builder as B
from quarry.logical import functions as FN
from quarry.logical import types as T
from quarry.logical.expressions import ColumnRef, Literal
from quarry.logical.nested import UnnestExpr
from quarry.spark.errors import SparkError

__all__ = ["unpivot", "to_schema"]


def unpivot(translator, df, u):
    ctx = df._ctx("unpivot")
    ids = [translator.expressions.translate(e) for e in u.ids]
    id_exprs = [t.column.bind(ctx) for t in ids]
    id_names = [t.name for t in ids]
    if u.HasField("values"):
        vals = [translator.expressions.translate(e) for e in u.values.values]
        value_exprs = [t.column.bind(ctx) for t in vals]
        value_names = [t.name for t in vals]
    else:
        taken = {e.field.id for e in id_exprs if isinstance(e, ColumnRef)}
        fields = [f for f in df.logical_plan.schema if f.id not in taken]
        value_exprs = [ColumnRef(f) for f in fields]
        value_names = [f.name for f in fields]
    if not value_exprs:
        raise SparkError("unpivot needs at least one value column", error_class="UNPIVOT_REQUIRES_VALUE_COLUMNS")
    common = value_exprs[0].dtype
    for e in value_exprs[1:]:
        widened = T.common_type(common, e.dtype)
        if widened is None or (T.is_numeric(common) != T.is_numeric(e.dtype)
                               and not (T.is_null(common) or T.is_null(e.dtype))):
            raise SparkError(f"unpivot: the value columns have no common type ({T.sql_name(common)} and "
                             f"{T.sql_name(e.dtype)})", error_class="UNPIVOT_VALUE_DATA_TYPE_MISMATCH")
        common = widened
    names_list = FN.call("list_value", [Literal(n, T.STRING) for n in value_names])
    values_list = FN.call("list_value", [FN.cast(e, common) for e in value_exprs])
    exprs = id_exprs + [UnnestExpr(names_list), UnnestExpr(values_list)]
    plan, lifted = B.lift_unnests(df.logical_plan, exprs)
    names = id_names + [u.variable_column_name, u.value_column_name]
    return df._new(B.project(plan, lifted, names))


def _kind(t) -> str:
    if T.is_numeric(t):
        return "number"
    if T.is_string(t):
        return "string"
    return str(t)


def to_schema(translator, df, r):
    from quarry.spark.types import to_arrow
    target = to_arrow(r.schema, translator.state.time_zone)
    by_lower = {f.name.lower(): f for f in df.logical_plan.schema}
    exprs, names = [], []
    for i in range(target.num_fields):
        want = target.field(i)
        if pa.types.is_timestamp(want.type) and want.type.tz is not None:
            want = want.with_type(pa.timestamp("us"))        # quarry computes timestamps without a zone
        f = by_lower.get(want.name.lower())
        if f is None:
            raise SparkError(f"the column `{want.name}` of the schema is not a column of the DataFrame",
                             error_class="UNRESOLVED_COLUMN.WITH_SUGGESTION",
                             parameters={"objectName": f"`{want.name}`", "proposal": ""})
        if f.nullable and not want.nullable:
            raise SparkError(f"the column `{want.name}` may be NULL, the schema says it may not",
                             error_class="NULLABLE_COLUMN_OR_FIELD", parameters={"name": f"`{want.name}`"})
        e = ColumnRef(f)
        if f.dtype != want.type:
            if _kind(f.dtype) != _kind(want.type) and not (T.is_numeric(f.dtype) and T.is_numeric(want.type)):
                raise SparkError(f"the column `{want.name}` is {T.sql_name(f.dtype)}, which cannot become "
                                 f"{T.sql_name(want.type)}", error_class="INVALID_COLUMN_OR_FIELD_DATA_TYPE")
            e = FN.cast(e, want.type, explicit=True)
        exprs.append(e)
        names.append(want.name)
    return df._new(B.project(df.logical_plan, exprs, names))
