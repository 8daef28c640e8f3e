"""Compare a column with a literal in the column's own type instead of casting the column.

    Filter: CAST(l_quantity AS DECIMAL(21,2)) <= 11.00      Filter: l_quantity <= 11.00   (DECIMAL(15,2))

``col`` is widened to a type ``T`` to be compared with a constant ``c``. If ``c``
converts to ``col``'s own type and back without changing its value, then
``CAST(col AS T) op c`` and ``col op c'`` agree on every row (the widening cast is
exact and monotonic), so the per-row cast goes away and Parquet statistics of
``col`` can prune row groups. Applies to integer and decimal widenings; casts
that can round (float, string) are left alone.
"""

from __future__ import annotations

import decimal

import pyarrow as pa

from quarry.logical import types as T
from quarry.logical.expressions import Call, ColumnRef, Expr, Literal
from quarry.logical.plan import LogicalPlan
from quarry.optimizer.rule import rule

_COMPARISONS = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}
_FLIP = {"less": "greater", "less_equal": "greater_equal", "greater": "less", "greater_equal": "less_equal",
         "equal": "equal", "not_equal": "not_equal"}


def _exact_widening(src: pa.DataType, dst: pa.DataType) -> bool:
    """True when every ``src`` value converts to ``dst`` exactly (a narrowing cast can fail or wrap)."""
    if T.is_integer(src) and T.is_integer(dst):
        return dst.bit_width >= src.bit_width
    if T.is_integer(src) and T.is_decimal(dst):
        need = T.decimal_for_integer(src).precision
        return dst.precision - dst.scale >= need
    if T.is_decimal(src) and T.is_decimal(dst):
        return dst.scale >= src.scale and dst.precision - dst.scale >= src.precision - src.scale
    return False


def _narrow_literal(value, src: pa.DataType):
    """``value`` as a literal of type ``src``, or None if that changes it."""
    if value is None:
        return None
    try:
        if T.is_integer(src):
            if isinstance(value, decimal.Decimal) and value != value.to_integral_value():
                return None
            narrowed = int(value)
            pa.scalar(narrowed, src)   # range check
            return narrowed if narrowed == value else None
        if T.is_decimal(src):
            d = decimal.Decimal(value)
            q = d.quantize(decimal.Decimal(1).scaleb(-src.scale))
            if q != d or len(q.as_tuple().digits) > src.precision:
                return None
            return q
    except (pa.ArrowInvalid, pa.ArrowTypeError, decimal.InvalidOperation, OverflowError, ValueError, TypeError):
        return None
    return None


def _unwrap(e: Expr) -> Expr:
    if not (isinstance(e, Call) and e.name in _COMPARISONS and len(e.args) == 2):
        return e
    a, b = e.args
    name = e.name
    if isinstance(a, Literal):
        a, b, name = b, a, _FLIP[name]
    if not (isinstance(a, Call) and a.name == "cast" and isinstance(a.args[0], ColumnRef) and isinstance(b, Literal)):
        return e
    col = a.args[0]
    if not _exact_widening(col.dtype, a.type):
        return e
    value = _narrow_literal(b.value, col.dtype)
    if value is None:
        return e
    return Call(name, (col, Literal(value, col.dtype)), e.type, e.nullable)


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return plan.transform_up(lambda node: node.map_expressions(lambda x: x.transform_up(_unwrap)))
