"""Logical pieces of nested values (LIST, STRUCT, MAP) that are not plain calls.

* :class:`Lambda` / :class:`LambdaParam`: ``x -> x + 1`` as an argument of
  ``list_transform`` / ``list_filter``. A parameter is not a column of any plan, so
  it is its own expression kind, not a ``ColumnRef``: rules and the integrity check
  see only the outer columns a lambda's body reads.
* :class:`UnnestExpr`: ``unnest(l)`` in a select list, a marker the binder lifts
  into an :class:`Unnest` plan node (as window calls are lifted into a Window).
* :class:`Unnest`: one output row per element of its lists, the input's columns
  repeated; several lists in one node are aligned, the shorter padded with NULLs
  (as DuckDB does for several unnests in one SELECT).
* :func:`refuse_unkeyable`: the nested types whose sort keys (grouping, ordering, joining
  and comparing them) cannot be encoded, refused at planning.

    Unnest: unnest(l) AS u
      Scan: t
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa

from quarry.errors import UnsupportedError
from quarry.logical import types as T
from quarry.logical.expressions import Expr, Field
from quarry.logical.plan import LogicalPlan, _names


@dataclass(frozen=True, eq=True)
class LambdaParam(Expr):
    """A lambda's parameter inside its body: the list element (or its 1-based position)."""

    field: Field

    @property
    def dtype(self):
        return self.field.dtype

    def __str__(self):
        return self.field.name


@dataclass(frozen=True, eq=True)
class Lambda(Expr):
    """``(params) -> body``; evaluated on the flattened elements of a list, never per row."""

    params: tuple[Field, ...]
    body: Expr
    _child_fields = ("body",)

    @property
    def dtype(self):
        return self.body.dtype

    def __str__(self):
        names = ", ".join(p.name for p in self.params)
        return f"({names}) -> {self.body}" if len(self.params) != 1 else f"{names} -> {self.body}"


@dataclass(frozen=True, eq=True)
class UnnestExpr(Expr):
    """``unnest(list)`` in a select list, before the binder lifts it into an :class:`Unnest`."""

    arg: Expr
    _child_fields = ("arg",)

    @property
    def dtype(self):
        return self.arg.dtype.value_type

    def __str__(self):
        return f"unnest({self.arg})"


@dataclass(frozen=True, eq=False)
class Unnest(LogicalPlan):
    """The input's columns, each row repeated once per element of the longest of ``lists`` in it,
    plus one column (``fields``) per list holding its elements (NULL past a shorter list's end).
    A row whose lists are all NULL or empty gives no row."""

    input: LogicalPlan
    lists: tuple[Expr, ...]
    fields: tuple[Field, ...]
    _child_fields = ("input",)
    _expr_fields = ("lists",)

    @cached_property
    def schema(self):
        return self.input.schema + self.fields

    def describe(self):
        return f"Unnest: {_names([UnnestExpr(e) for e in self.lists], self.fields)}"


def element_type(t: pa.DataType) -> pa.DataType:
    """The element type of a LIST type (NULL for the untyped ``[]``)."""
    return t.value_type if pa.types.is_list(t) else pa.null()


def unkeyable_type(t: pa.DataType) -> pa.DataType | None:
    """The first type inside ``t`` that the sort key (``compute.nested_kernels.sort_key``) cannot
    encode (INTERVAL), or None."""
    if pa.types.is_dictionary(t):
        return unkeyable_type(t.value_type)
    if pa.types.is_map(t):
        return unkeyable_type(t.key_type) or unkeyable_type(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return unkeyable_type(t.value_type)
    if pa.types.is_struct(t):
        return next((u for u in (unkeyable_type(f.type) for f in t) if u is not None), None)
    if pa.types.is_null(t) or pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) \
            or pa.types.is_decimal(t) or pa.types.is_temporal(t) and not pa.types.is_interval(t) \
            or T.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t) \
            or pa.types.is_fixed_size_binary(t):
        return None
    return t


def refuse_unkeyable(dtype: pa.DataType, what: str) -> None:
    """Raise 'Not supported' when a nested ``dtype`` holds a type its sort key cannot encode (INTERVAL,
    whose order DuckDB normalizes): ``what`` names the use (``GROUP BY``, ``ORDER BY``)."""
    inner = unkeyable_type(dtype)
    if inner is not None:
        raise UnsupportedError(f"{what} a {T.sql_name(dtype)} value (it holds {T.sql_name(inner)} values)",
                               hint="group or order by the other fields, or by CAST(x AS VARCHAR)")


__all__ = ["Lambda", "LambdaParam", "Unnest", "UnnestExpr", "element_type", "refuse_unkeyable", "unkeyable_type"]
