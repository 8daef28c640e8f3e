"""Bind DELETE and UPDATE on an in-memory table into commands that change it at once.

Both statements become one query over a snapshot of the table that carries each row's position
(a hidden ``__quarry_row`` column): DELETE selects the positions of the rows its WHERE condition
holds for, UPDATE selects the positions and the new values of its SET columns (cast to the column
types, as INSERT casts). The query runs through the optimizer and the operators like any other, so
WHERE and SET take every expression, subqueries too (correlated with the row or over the table
itself, which they see as it was before the statement). :class:`quarry.sql.commands.Delete` and
``Update`` then build the new table with Arrow kernels (a filter, ``replace_with_mask``) and swap it
in whole: a failure anywhere (a NOT NULL column set to NULL, a cast that overflows) leaves the
table as it was.

Tables whose rows are files (Parquet) are refused: quarry does not rewrite files.

    >>> import quarry
    >>> con = quarry.connect(workers=0)
    >>> con.statement("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(k, s)")
    RowCount(verb='CREATE TABLE', rows=2)
    >>> con.statement("UPDATE t SET s = upper(s) WHERE k = 2")
    RowCount(verb='UPDATE', rows=1)
    >>> con.statement("DELETE FROM t WHERE s = 'a'")
    RowCount(verb='DELETE', rows=1)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sqlglot import exp

from quarry.catalog.providers import MemoryTable, ViewTable
from quarry.errors import BindError, QuarryTypeError, UnsupportedError, suggest
from quarry.logical import types as T
from quarry.logical.builder import cast_plan_output, scan_of
from quarry.logical.expressions import ColumnRef, Field, new_id
from quarry.logical.plan import Filter, LogicalPlan, Project
from quarry.sql import commands as C
from quarry.sql.expr_binder import ExprBinder
from quarry.sql.rowid import ROWID, add_rowid, mentions_rowid
from quarry.sql.scope import Relation, Scope

ROW = "__quarry_row"


def target_table(session, node: exp.Expression, verb: str) -> MemoryTable | UnsupportedError:
    """The in-memory table a DELETE or UPDATE changes; anything else is refused, saying why. The
    refusal of a table whose rows are files is returned, not raised: the command raises it when it
    runs, after a server has checked the caller may change the table at all (as INSERT does)."""
    table = node.this
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise UnsupportedError(f"{verb} of `{table.sql(dialect='duckdb')}`", hint=f"{verb} takes a table name")
    if table.args.get("db") is not None and table.db.lower() not in ("main", "memory"):
        raise UnsupportedError(f"{verb} in schema `{table.db}`: only the tables of `main` change")
    provider = session.catalog.get(table.name)
    if isinstance(provider, ViewTable):
        raise UnsupportedError(f"{verb} on `{provider.name}`: it is a view, not a table",
                               hint="change the tables the view reads")
    if not isinstance(provider, MemoryTable):
        return UnsupportedError(f"{verb} on `{provider.name}`: it is a {provider.kind} table whose rows are files, "
                               "and quarry does not rewrite files",
                               hint=f"copy it into memory: CREATE TABLE {provider.name}_copy AS SELECT * FROM "
                                    f"{provider.name}")
    return provider


def _snapshot_scan(binder, provider: MemoryTable, node: exp.Expression):
    """A scan of the table as it is now, with each row's position; the scope its columns are named in."""
    table, ids = provider.rows_with_ids()
    rows = pa.array(np.arange(table.num_rows, dtype=np.int64))
    snapshot = MemoryTable(provider.name, table.append_column(ROW, rows))
    snapshot._rows = (snapshot.table, ids)      # the rows keep their rowids
    alias_node = node.this.args.get("alias")
    alias = alias_node.name if alias_node is not None and alias_node.name else None
    scan = scan_of(snapshot, alias)
    fields = list(scan.schema)
    relation = Relation(alias or provider.name, fields[:-1])
    if mentions_rowid(node) and not any(f.name.lower() == ROWID for f in fields[:-1]):
        # WHERE rowid = 3
        scan, relation.hidden[ROWID] = add_rowid(scan, relation.qualifier)
    return scan, Scope(relations=[relation]), fields[-1], table


def _where(binder, plan: LogicalPlan, scope: Scope, node: exp.Expression) -> LogicalPlan:
    where = node.args.get("where")
    binder.check(where)
    if where is None:
        return plan
    return Filter(plan, binder._bool(ExprBinder(binder, scope).bind(where.this), where, "WHERE"))


def bind_delete(session, binder, node: exp.Delete) -> C.Delete:
    """``DELETE FROM t [AS x] [WHERE condition]``."""
    binder.check(node)
    binder.check(node.this)
    provider = target_table(session, node, "DELETE")
    if isinstance(provider, UnsupportedError):
        return C.Delete(node.this.name, None, None, provider)
    scan, scope, row, base = _snapshot_scan(binder, provider, node)
    plan = _where(binder, scan, scope, node)
    return C.Delete(provider.name, Project(plan, (ColumnRef(row),), (row,)), base)


def bind_update(session, binder, node: exp.Update) -> C.Update:
    """``UPDATE t [AS x] SET column = expression, ... [WHERE condition]``."""
    binder.check(node)
    binder.check(node.this)
    provider = target_table(session, node, "UPDATE")
    if isinstance(provider, UnsupportedError):
        return C.Update(node.this.name, (), None, None, provider)
    scan, scope, row, base = _snapshot_scan(binder, provider, node)
    qualifier = scope.relations[0].qualifier
    schema = provider.schema
    by_lower = {n.lower(): n for n in schema.names}
    names, values = [], []
    eb = ExprBinder(binder, scope)
    for assignment in node.expressions:
        target = assignment.this if isinstance(assignment, exp.EQ) else None
        if not isinstance(target, exp.Column) or isinstance(target.this, exp.Star):
            raise binder._error_at(BindError("UPDATE ... SET takes `column = expression`"), assignment)
        if target.table and target.table.lower() != qualifier.lower():
            raise binder._error_at(BindError(f"`{target.sql(dialect='duckdb')}` is not a column of "
                                             f"`{qualifier}`", hint="SET names the updated table's columns"), target)
        name = by_lower.get(target.name.lower())
        if name is None:
            raise binder._error_at(BindError(f"table `{provider.name}` has no column `{target.name}`",
                                             hint=suggest(target.name, schema.names)), target)
        if name in names:
            raise binder._error_at(BindError(f"UPDATE sets column `{name}` twice"), target)
        value = eb.bind(assignment.expression)
        column_type = schema.field(name).type
        if not (T.common_type(value.dtype, column_type) is not None or T.is_string(value.dtype)
                or T.is_string(column_type)):
            raise binder._error_at(QuarryTypeError(
                f"cannot set column `{name}` ({T.sql_name(column_type)}) to a {T.sql_name(value.dtype)}",
                hint="CAST the value to the column's type"), assignment.expression)
        names.append(name)
        values.append(value)
    plan = _where(binder, scan, scope, node)
    fields = [row] + [Field(n, v.dtype, v.nullable, new_id()) for n, v in zip(names, values)]
    plan = Project(plan, (ColumnRef(row), *values), tuple(fields))
    plan = cast_plan_output(plan, [pa.int64()] + [schema.field(n).type for n in names])
    return C.Update(provider.name, tuple(names), plan, base)


__all__ = ["bind_delete", "bind_update", "target_table"]
