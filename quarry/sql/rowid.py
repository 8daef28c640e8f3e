"""The ``rowid`` pseudo-column, as DuckDB's tables have it.

``SELECT rowid, * FROM t`` gives each row's number in the table (BIGINT, from 0). ``*`` leaves it
out, a real column named ``rowid`` hides it, and it can be used anywhere a column can (WHERE,
ORDER BY, joins, ``DELETE FROM t WHERE rowid = 3``). Tables in memory number their rows as DuckDB
does (see :class:`quarry.catalog.providers.MemoryTable`); a Parquet table numbers them in file
order, then row-group order; a CSV file's rows are numbered as read.

Only a statement that names ``rowid`` somewhere gets the column: its scans carry one more table
field, after the provider's columns, which the physical scans fill in
(:func:`quarry.catalog.providers.rowid_field_of`). Views, CTEs, subqueries, Delta and Iceberg tables have no ``rowid``
(DuckDB's views, CTEs and subqueries do not either).

    >>> import quarry
    >>> con = quarry.connect(workers=0)
    >>> con.statement("CREATE TABLE t AS SELECT * FROM (VALUES ('a'), ('b'), ('c')) v(s)")
    RowCount(verb='CREATE TABLE', rows=3)
    >>> con.sql("SELECT rowid, s FROM t WHERE rowid > 0").to_arrow().to_pylist()
    [{'rowid': 1, 's': 'b'}, {'rowid': 2, 's': 'c'}]
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from quarry.catalog.providers import ROWID, MemoryTable, ParquetTable  # noqa: F401  (ROWID: for the binder)
from quarry.logical.expressions import ColumnRef, Field, new_id
from quarry.logical.plan import LogicalPlan, Project, Scan


def mentions_rowid(node: exp.Expression) -> bool:
    """Whether the statement ``node`` belongs to names a column ``rowid`` anywhere."""
    return any(c.name.lower() == ROWID for c in node.root().find_all(exp.Column))


def numbers_rows(source) -> bool:
    """Whether scans of ``source`` can give ``rowid``: tables in memory (also CSV and JSON files read
    into one) and Parquet files, not a table format's snapshot (Delta, Iceberg), whose files are chosen
    per scan."""
    if type(source) is MemoryTable:
        return True
    return isinstance(source, ParquetTable) and not hasattr(source, "for_scan")


def add_rowid(plan: LogicalPlan, qualifier: str | None) -> tuple[LogicalPlan, Field]:
    """``plan`` (a Scan, or a Project renaming a Scan's columns) with a ``rowid`` column at the end."""
    field = Field(ROWID, pa.int64(), False, new_id(), qualifier)
    if isinstance(plan, Scan):
        return Scan(plan.source, plan.table_fields + (field,), None, plan.filters, plan.alias), field
    assert isinstance(plan, Project) and isinstance(plan.input, Scan), plan
    inner = plan.input
    scan = Scan(inner.source, inner.table_fields + (field,), None, inner.filters, inner.alias)
    return Project(scan, plan.exprs + (ColumnRef(field),), plan.fields + (field,)), field


__all__ = ["mentions_rowid", "numbers_rows", "add_rowid"]
