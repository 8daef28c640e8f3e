"""Copy a plan with fresh column ids, so one plan can be used twice in a query (views, self-joins)."""

from __future__ import annotations

import dataclasses

from quarry.logical.expressions import ColumnRef, Expr, Field, new_id
from quarry.logical.plan import LogicalPlan


def fresh_copy(plan: LogicalPlan) -> LogicalPlan:
    """``plan`` with every column it produces given a new id (references follow); the columns it
    reads from a query around it (a correlated subquery's outer references) keep theirs."""
    from quarry.logical.plan import outer_references
    mapping: dict[int, Field] = {}
    outer = outer_references(plan)

    def field_of(f: Field) -> Field:
        if f.id in outer:
            return f
        if f.id not in mapping:
            mapping[f.id] = Field(f.name, f.dtype, f.nullable, new_id(), f.qualifier)
        return mapping[f.id]

    def copy(value):
        if isinstance(value, Field):
            return field_of(value)
        if isinstance(value, tuple):
            return tuple(copy(v) for v in value)
        if isinstance(value, ColumnRef):
            return ColumnRef(field_of(value.field))
        if isinstance(value, (Expr, LogicalPlan)) and dataclasses.is_dataclass(value):
            changes = {}
            for fld in dataclasses.fields(value):
                old = getattr(value, fld.name)
                new = copy(old)
                if new is not old:
                    changes[fld.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        return value

    # produced ids first (children before parents), so references map to the same new fields
    for node in reversed(list(plan.walk())):
        for f in node.schema:
            field_of(f)
        if hasattr(node, "table_fields"):
            for f in node.table_fields:
                field_of(f)
    return copy(plan)
