"""Typed values for a statement's ``$n`` placeholders: bound into the plan, never into SQL text.

A prepared statement is parsed once; its placeholders stay ``exp.Placeholder`` nodes
numbered ``$1``, ``$2``, ... The binder then turns each one into

- a :class:`~quarry.logical.expressions.Literal` of the Arrow value's own type, when
  one row of parameters is bound (:func:`parameter_literal`), so ``? + 1`` with a
  BIGINT parameter is BIGINT arithmetic and a string parameter is only ever a string;
- a column of the parameter batch itself, for ``INSERT INTO t VALUES (?, ...)``
  executed with many rows (``executemany``, Flight SQL's bound parameter batch):
  the insert reads the batch as a table, one Arrow append, no statement per row.

Parameter columns arrive in whatever types a driver chose; :func:`plain_column` and
:func:`plain_scalar` remove the wrappers quarry does not carry in plans (dictionary,
dense or sparse union: ``flightsql-dbapi`` sends every parameter as a dense union
of int64/float64/utf8/binary/bool) with Arrow kernels, not Python loops over rows.

    >>> parameter_literal(pa.scalar(5)).type
    DataType(int64)
    >>> plain_column(pa.array([1, None], pa.int32()).dictionary_encode()).type
    DataType(int32)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import BindError, UnsupportedError
from quarry.logical import types as T
from quarry.logical.expressions import Literal

_SUPPORTED = ("integers, floats, decimals, strings, binary, booleans, dates, times, timestamps (with or without "
              "a time zone), intervals and NULL")


def _check_type(t: pa.DataType) -> pa.DataType:
    """The plan type of a parameter of Arrow type ``t``; UnsupportedError for types quarry cannot bind."""
    t = T.normalize(t)
    if (pa.types.is_null(t) or pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t)
            or pa.types.is_decimal(t) or pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_date(t)
            or pa.types.is_time(t) or pa.types.is_timestamp(t) or t == T.INTERVAL):
        return t
    raise UnsupportedError(f"parameters of type {t}", hint=f"bind {_SUPPORTED}")


def plain_scalar(value: pa.Scalar) -> pa.Scalar:
    """``value`` without dictionary or union wrapping: the value itself, in its own type."""
    while True:
        t = value.type
        if pa.types.is_dictionary(t):
            value = value.value if value.is_valid else pa.scalar(None, t.value_type)
        elif pa.types.is_union(t):
            inner = value.value
            value = inner if inner is not None else pa.scalar(None, pa.null())
        else:
            return value


def parameter_literal(value: pa.Scalar) -> Literal:
    """The literal a placeholder bound to ``value`` becomes, typed as the value is.

    >>> parameter_literal(pa.scalar(b"\\x00\\xff")).type
    DataType(binary)
    """
    value = plain_scalar(value)
    t = _check_type(value.type)
    if not value.is_valid:
        return Literal(None, t)
    if t != value.type:
        value = value.cast(t)
    return Literal(value.as_py(), t)


def _flatten_union(column: pa.Array) -> pa.Array:
    """A union array as one array of the children's common type (each row its own child's value)."""
    t = column.type
    children = [_check_type(T.normalize(t.field(i).type)) for i in range(t.num_fields)]
    codes = column.type_codes
    used = pc.unique(codes).to_pylist()
    child_of_code = {code: i for i, code in enumerate(t.type_codes)}
    common = T.NULL
    for code in used:
        if code is None:
            continue
        nxt = T.common_type(common, children[child_of_code[code]])
        if nxt is None:
            raise BindError(f"a parameter column mixes {T.sql_name(common)} and "
                            f"{T.sql_name(children[child_of_code[code]])} values",
                            hint="bind values of one type per parameter for a batch")
        common = nxt
    # every child cast to the common type, concatenated; a row's value sits at its child's start + its offset
    pieces, starts, start = [], {}, 0
    for code in t.type_codes:
        i = child_of_code[code]
        child = column.field(i)
        if code in used:
            child = child.cast(common) if child.type != common else child
            starts[code] = start
            start += len(child)
            pieces.append(child)
    if not pieces:
        return pa.nulls(len(column), common)
    values = pa.concat_arrays(pieces)
    code_array = pa.array(list(starts), pa.int8())
    base = pc.take(pa.array(list(starts.values()), pa.int64()), pc.index_in(codes, code_array))
    if t.mode == "dense":
        positions = pc.add(base, column.offsets.cast(pa.int64()))
    else:                                   # sparse: every child has a slot for every row
        positions = pc.add(base, pa.array(np.arange(len(column), dtype=np.int64)))
    return pc.take(values, positions)


def plain_column(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A parameter column in a type quarry carries: dictionaries decoded, unions flattened, checked."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_union(column.type):
        return _flatten_union(column)
    t = _check_type(column.type)
    return column.cast(t) if column.type != t else column


def plain_batch(table: pa.Table) -> pa.Table:
    """A bound parameter batch with every column made plain (:func:`plain_column`), named ``$1``, ``$2``, ..."""
    columns = [plain_column(table.column(i)) for i in range(table.num_columns)]
    return pa.Table.from_arrays(columns, names=[f"${i + 1}" for i in range(len(columns))])


__all__ = ["parameter_literal", "plain_scalar", "plain_column", "plain_batch"]
