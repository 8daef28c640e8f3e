"""``df.unpivot`` / ``df.melt`` (the Unpivot relation): wide to long.

``unpivot(ids, values, "var", "val")`` gives, for each input row and each value column in
order, the id columns, the value column's name in ``var`` and its value in ``val``. The value
columns are widened to one type as Spark widens them (``int`` and ``double`` give
``double``); columns without a common type (a number and a string) are Spark's
``UNPIVOT_VALUE_DATA_TYPE_MISMATCH``. Without ``values``, every column that is not an id is a
value column.

It is one Unnest over two lists built per row (the names, the values), so the rows come out
in Spark's order: each input row's values together.

``df.transpose(index)`` (the Transpose relation; the first column when no index is given):
the index column's values, sorted, named as strings, become the columns, after a ``key``
column holding the other columns' names; each cell is the value of that column in that
row, the other columns widened to one type (``TRANSPOSE_NO_LEAST_COMMON_TYPE`` when they
have none). At most 500 index values (``TRANSPOSE_EXCEED_ROW_LIMIT``); rows whose index is
NULL are left out.

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

__all__ = ["unpivot", "to_schema", "transpose"]

# Spark's spark.sql.transposeMaxValues: at most this many index values become columns
_TRANSPOSE_MAX_VALUES = 500


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


def transpose(translator, df, r):
    from quarry.api.column import col
    from quarry.api.dataframe import DataFrame
    from quarry.spark.show import cell_text
    if len(r.index_columns) > 1:
        raise SparkError("transpose takes one index column", error_class="TRANSPOSE_INVALID_INDEX_COLUMN")
    fields = list(df.logical_plan.schema)
    if not fields:
        return df
    from quarry.spark.na import column_of
    if r.index_columns:
        index_column = translator.expressions.column(r.index_columns[0])
        bound = index_column.bind(df._ctx("transpose"))
        others = [f for f in fields if not (isinstance(bound, ColumnRef) and bound.field.id == f.id)]
    else:
        index_column = column_of(df, fields[0])
        others = fields[1:]
    common = None
    for f in others:
        widened = f.dtype if common is None else T.common_type(common, f.dtype)
        if widened is None or (common is not None and T.is_numeric(common) != T.is_numeric(f.dtype)):
            raise SparkError(f"transpose: the columns have no common type ({T.sql_name(common)} and "
                             f"{T.sql_name(f.dtype)})", error_class="TRANSPOSE_NO_LEAST_COMMON_TYPE")
        common = widened
    picked = [column_of(df, f).cast(common).alias(f"__c{i}") for i, f in enumerate(others)]
    table = df.select(index_column.alias("__index"), *picked).filter(col("__index").is_not_null()) \
        .sort(col("__index").asc_nulls_first()).limit(_TRANSPOSE_MAX_VALUES + 1).to_arrow()
    if table.num_rows > _TRANSPOSE_MAX_VALUES:
        raise SparkError(f"transpose makes at most {_TRANSPOSE_MAX_VALUES} columns",
                         error_class="TRANSPOSE_EXCEED_ROW_LIMIT")
    index_type = table.schema.field("__index").type
    names = [cell_text(v, index_type) for v in table.column("__index").to_pylist()]
    cells = [table.column(f"__c{i}").to_pylist() for i in range(len(others))]      # at most 500 rows
    arrays = [pa.array([f.name for f in others], pa.string())]
    out_type = common if common is not None else pa.null()
    for j in range(len(names)):
        arrays.append(pa.array([cells[k][j] for k in range(len(others))], out_type))
    result = pa.Table.from_arrays(arrays, names=["key"] + names)
    return DataFrame.from_arrow(translator.session, result, "transpose")
