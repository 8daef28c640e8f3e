"""Statements as commands, and the typed results they return.

Binding a statement (:func:`quarry.sql.statements.bind_statement`) turns it into a
**command**: a frozen dataclass holding everything the statement means, already
bound (names resolved, the query a logical plan, the options checked), and nothing
run yet. ``command.run(session)`` then does it, through the session alone: its
catalog, ``session.run(plan)`` / ``session.run_batches(plan)`` to execute a plan,
``session.check_path_allowed`` / ``check_write_allowed`` before touching a file. It returns a typed result:

==================  ==========================================  =================================
result              statements                                  what a front end does with it
==================  ==========================================  =================================
``QueryPlan``       SELECT, VALUES, set operations, WITH,       runs ``plan`` when rows are wanted
                    SHOW TABLES, DESCRIBE                       (lazily: nothing has run yet)
``Status``          CREATE VIEW, CREATE TABLE (columns,         prints ``verb``; no rows changed
                    USING ... LOCATION), DROP, SET, RESET
``RowCount``        INSERT, DELETE, UPDATE, CREATE TABLE AS,    ``rows`` were written (deleted,
                    COPY                                        changed)
``ExplainText``     EXPLAIN [VERBOSE | ANALYZE]                 prints ``text``
==================  ==========================================  =================================

So "was this DDL, how many rows changed" is a question about the result's type, never
about its column names. :meth:`quarry.Session.sql` is the one place results become
DataFrames (a ``status``, ``count`` or ``plan`` column for the non-queries), which is
why nothing in ``quarry/sql/`` imports the DataFrame API.

    >>> import quarry
    >>> con = quarry.connect(workers=0)
    >>> con.statement("CREATE TABLE t AS SELECT 1 AS x")
    RowCount(verb='CREATE TABLE', rows=1)
    >>> con.statement("DROP TABLE t")
    Status(verb='DROP TABLE')
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.catalog.providers import MemoryTable, ParquetTable, ViewTable, provider_for
from quarry.catalog.writer import write_file, write_partitioned
from quarry.errors import QuarryError, UnsupportedError, suggest
from quarry.logical import types as T
from quarry.logical.plan import LogicalPlan


# -- results ---------------------------------------------------------------------------------------

class StatementResult:
    """What running a statement returned; ``kind`` names the type for callers that dispatch on it."""

    kind: ClassVar[str]

    @property
    def rows_changed(self) -> int | None:
        """Rows the statement wrote (INSERT, CREATE TABLE AS, COPY), 0 for other DDL, None for a query."""
        return None

    def table(self) -> pa.Table:
        """The one-row table ``Session.sql`` shows for a statement that is not a query."""
        raise TypeError(f"a {type(self).__name__} has no status table")


@dataclass(frozen=True)
class QueryPlan(StatementResult):
    """A query, bound and not run: ``plan`` runs when rows are wanted."""

    plan: LogicalPlan
    sql: str | None = None
    kind: ClassVar[str] = "query"

    @property
    def schema(self) -> pa.Schema:
        """The result's column names and types, known without running it."""
        return output_schema(self.plan)


@dataclass(frozen=True)
class Status(StatementResult):
    """A statement that changed the catalog and wrote no rows: ``CREATE VIEW``, ``DROP TABLE``."""

    verb: str
    kind: ClassVar[str] = "status"

    @property
    def rows_changed(self) -> int:
        return 0

    def table(self) -> pa.Table:
        return pa.table({"status": pa.array([self.verb], pa.string())})


@dataclass(frozen=True)
class RowCount(StatementResult):
    """A statement that wrote ``rows`` rows: ``INSERT``, ``CREATE TABLE`` (AS), ``COPY``."""

    verb: str
    rows: int
    kind: ClassVar[str] = "count"

    @property
    def rows_changed(self) -> int:
        return self.rows

    def table(self) -> pa.Table:
        return pa.table({"count": pa.array([self.rows], pa.int64())})


@dataclass(frozen=True)
class ExplainText(StatementResult):
    """The text of ``EXPLAIN``: plans, and for ``EXPLAIN ANALYZE`` what running it measured."""

    text: str
    kind: ClassVar[str] = "explain"

    def table(self) -> pa.Table:
        return pa.table({"plan": pa.array([self.text], pa.string())})


def output_schema(plan: LogicalPlan) -> pa.Schema:
    """The Arrow schema of ``plan``'s result: output names, types and nullability."""
    return pa.schema([pa.field(f.name, f.dtype, f.nullable) for f in plan.schema])


def table_query(name: str, table: pa.Table) -> QueryPlan:
    """A query over an in-memory table (SHOW TABLES, DESCRIBE): a scan, as of any registered table."""
    from quarry.logical.builder import scan_of
    return QueryPlan(scan_of(MemoryTable(name, table)))


# -- commands --------------------------------------------------------------------------------------

class Command:
    """A bound statement; :meth:`run` does it against a session and returns its result."""

    def run(self, session) -> StatementResult:      # pragma: no cover - every command overrides it
        raise NotImplementedError


@dataclass(frozen=True)
class Query(Command):
    """SELECT and the other queries: running the command runs nothing, the plan stays lazy."""

    plan: LogicalPlan
    sql: str | None = None

    def run(self, session) -> QueryPlan:
        return QueryPlan(self.plan, self.sql)


@dataclass(frozen=True)
class Explain(Command):
    """EXPLAIN [VERBOSE | ANALYZE] query (``mode`` is ``plan``, ``verbose`` or ``analyze``)."""

    plan: LogicalPlan
    mode: str = "plan"

    def run(self, session) -> ExplainText:
        return ExplainText(explain_text(session, self.plan, self.mode))


@dataclass(frozen=True)
class Unchanged(Command):
    """``CREATE ... IF NOT EXISTS`` of a name that exists: nothing to do."""

    verb: str

    def run(self, session) -> Status:
        return Status(self.verb)


@dataclass(frozen=True)
class CreateView(Command):
    """CREATE [OR REPLACE] VIEW: ``build`` binds the view's query afresh at every use."""

    name: str
    build: Callable[[], LogicalPlan]
    schema: pa.Schema
    sql: str
    replace: bool = False

    def run(self, session) -> Status:
        session.catalog.register(self.name, ViewTable(self.name, self.build, self.schema, self.sql),
                                 replace=self.replace)
        return Status("CREATE VIEW")


@dataclass(frozen=True)
class CreateTable(Command):
    """CREATE TABLE t (columns): an empty in-memory table."""

    name: str
    schema: pa.Schema
    replace: bool = False

    def run(self, session) -> Status:
        session.catalog.register(self.name, MemoryTable(self.name, self.schema.empty_table()), replace=self.replace)
        return Status("CREATE TABLE")


@dataclass(frozen=True)
class CreateTableAs(Command):
    """CREATE TABLE t AS query: runs the query and keeps its rows in memory (a snapshot)."""

    name: str
    plan: LogicalPlan
    replace: bool = False

    def run(self, session) -> RowCount:
        table = session.run(self.plan).table
        session.catalog.register(self.name, MemoryTable(self.name, table), replace=self.replace)
        return RowCount("CREATE TABLE", table.num_rows)


@dataclass(frozen=True)
class CreateExternalTable(Command):
    """CREATE TABLE t USING parquet|csv LOCATION 'path': registers files (CSV is loaded now)."""

    name: str
    location: str
    format: str | None = None
    replace: bool = False

    def run(self, session) -> Status:
        session.check_path_allowed(self.location)
        provider = ParquetTable(self.name, self.location) if self.format == "parquet" \
            else provider_for(self.name, self.location)
        session.catalog.register(self.name, provider, replace=self.replace)
        return Status("CREATE TABLE")


@dataclass(frozen=True)
class Insert(Command):
    """INSERT INTO t [(columns)] query: ``plan`` yields ``columns`` (already cast to their types);
    the table's other columns get NULL."""

    table: str
    columns: tuple[str, ...]
    plan: LogicalPlan

    def run(self, session) -> RowCount:
        provider = session.catalog.get(self.table)
        if not isinstance(provider, MemoryTable):
            raise UnsupportedError(f"INSERT into `{self.table}` is not supported: only in-memory tables take INSERT",
                                   hint="create one with CREATE TABLE ... AS SELECT")
        result = session.run(self.plan).table
        schema = provider.schema
        arrays = [result.column(self.columns.index(f.name)) if f.name in self.columns
                  else pa.nulls(result.num_rows, f.type) for f in schema]
        provider.append(pa.Table.from_arrays(arrays, schema=schema))
        return RowCount("INSERT", result.num_rows)


@dataclass(frozen=True)
class Delete(Command):
    """DELETE FROM t [WHERE ...]: ``plan`` yields the positions of the rows to delete, in the rows
    ``base`` held when the statement was bound (see :mod:`quarry.sql.dml`)."""

    table: str
    plan: LogicalPlan | None
    base: pa.Table | None
    refusal: QuarryError | None = None     # the table cannot change (its rows are files): raised on run

    def run(self, session) -> RowCount:
        if self.refusal is not None:
            raise self.refusal
        provider = session.catalog.get(self.table)
        rows = session.run(self.plan).table.column(0)
        if len(rows) == 0:
            return RowCount("DELETE", 0)
        keep = np.ones(self.base.num_rows, dtype=bool)
        keep[rows.to_numpy()] = False
        keep = pa.array(keep)
        provider.replace_rows(self.base.filter(keep), self.base, "DELETE", kept=keep)
        return RowCount("DELETE", len(rows))


@dataclass(frozen=True)
class Update(Command):
    """UPDATE t SET columns = ... [WHERE ...]: ``plan`` yields each changed row's position in ``base``
    and the new values of ``columns``, already of their types (see :mod:`quarry.sql.dml`)."""

    table: str
    columns: tuple[str, ...]
    plan: LogicalPlan | None
    base: pa.Table | None
    refusal: QuarryError | None = None     # the table cannot change (its rows are files): raised on run

    def run(self, session) -> RowCount:
        if self.refusal is not None:
            raise self.refusal
        provider = session.catalog.get(self.table)
        result = session.run(self.plan).table
        if result.num_rows == 0:
            return RowCount("UPDATE", 0)
        result = result.take(pc.sort_indices(result.column(0)))
        mask = np.zeros(self.base.num_rows, dtype=bool)
        mask[result.column(0).to_numpy()] = True
        mask = pa.array(mask)
        types = [self.base.schema.field(name).type for name in self.columns]
        if any(_holds_list(t) for t in types):
            # DuckDB updates a LIST (or MAP, or ARRAY) value by deleting the row and inserting it again:
            # the changed rows move to the end of the table, with new rowids
            changed = self.base.take(result.column(0))
            columns = list(changed.columns)
            for i, (name, t) in enumerate(zip(self.columns, types), start=1):
                columns[changed.schema.get_field_index(name)] = result.column(i).cast(t)
            kept = pc.invert(mask)
            rows = pa.concat_tables([self.base.filter(kept), pa.Table.from_arrays(columns, schema=self.base.schema)])
            provider.replace_rows(rows, self.base, "UPDATE", kept=kept, appended=changed.num_rows)
            return RowCount("UPDATE", result.num_rows)
        columns = list(self.base.columns)
        # nested values (which replace_with_mask does not take) come from one take over old + new
        picks = None
        for i, name in enumerate(self.columns, start=1):
            at = self.base.schema.get_field_index(name)
            new = result.column(i).combine_chunks().cast(self.base.schema.field(at).type)
            if T.is_nested(new.type):
                if picks is None:
                    picks = np.arange(self.base.num_rows, dtype=np.int64)
                    picks[result.column(0).to_numpy()] = self.base.num_rows + np.arange(result.num_rows)
                    picks = pa.array(picks)
                columns[at] = pa.concat_arrays([columns[at].combine_chunks(), new]).take(picks)
            else:
                columns[at] = pc.replace_with_mask(columns[at].combine_chunks(), mask, new)
        provider.replace_rows(pa.Table.from_arrays(columns, schema=self.base.schema), self.base, "UPDATE")
        return RowCount("UPDATE", result.num_rows)


def _holds_list(t: pa.DataType) -> bool:
    """Whether values of type ``t`` hold a LIST, MAP or ARRAY, at any depth."""
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_map(t) \
            or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return True
    if pa.types.is_struct(t):
        return any(_holds_list(t.field(i).type) for i in range(t.num_fields))
    return False


def refuse_storage_setting(session, key: str) -> None:
    """A server's client may not change how object stores are reached (``s3_endpoint``, the keys, ...):
    it would point the server's credentials at another endpoint, or reach buckets with its own."""
    from quarry.catalog.filesystems import STORAGE_SETTINGS
    if getattr(session, "sandbox", None) is not None and key in STORAGE_SETTINGS:
        from quarry.errors import AccessDeniedError
        raise AccessDeniedError(f"changing `{key}` is not allowed in this session",
                                hint="the server reads object stores with the settings it was started with")


@dataclass(frozen=True)
class SetOption(Command):
    """SET name = value: ``key`` is the configuration key (see :mod:`quarry.sql.settings`), ``value``
    already checked."""

    key: str
    value: object

    def run(self, session) -> Status:
        refuse_storage_setting(session, self.key)
        session.set_config(**{self.key: self.value})
        return Status("SET")


@dataclass(frozen=True)
class ResetOption(Command):
    """RESET name: the setting goes back to what the session started with."""

    key: str

    def run(self, session) -> Status:
        initial = getattr(session, "initial_config", None)
        if initial is None:
            raise UnsupportedError("RESET in a session that does not remember its first settings")
        session.set_config(**{self.key: initial[self.key]})
        return Status("RESET")


@dataclass(frozen=True)
class Drop(Command):
    """DROP TABLE|VIEW [IF EXISTS] names."""

    kind: str                    # "TABLE" or "VIEW"
    names: tuple[str, ...]
    if_exists: bool = False

    def run(self, session) -> Status:
        for name in self.names:
            session.catalog.drop(name, if_exists=self.if_exists, kind="view" if self.kind == "VIEW" else None)
        return Status(f"DROP {self.kind}")


@dataclass(frozen=True)
class ShowTables(Command):
    """SHOW TABLES: the catalog as a query (``name``, ``kind``, ``columns``)."""

    def run(self, session) -> QueryPlan:
        providers = session.catalog.providers()
        return table_query("tables", pa.table({
            "name": pa.array([p.name for p in providers], pa.string()),
            "kind": pa.array([p.kind for p in providers], pa.string()),
            "columns": pa.array([len(p.schema) for p in providers], pa.int64())}))


@dataclass(frozen=True)
class Describe(Command):
    """DESCRIBE t / DESCRIBE query: ``column_name``, ``column_type`` (SQL spelling), ``null``."""

    schema: pa.Schema

    def run(self, session) -> QueryPlan:
        return table_query("describe", describe_table(self.schema))


@dataclass(frozen=True)
class DescribeHistory(Command):
    """DESCRIBE HISTORY of the Delta table at ``path``: its commits, newest first (``version``,
    ``timestamp``, ``operation``, ``operation_parameters``), as :meth:`quarry.Session.delta_history`."""

    path: str

    def run(self, session) -> QueryPlan:
        return table_query("history", session.delta_history(self.path))


@dataclass(frozen=True)
class Copy(Command):
    """COPY (query) | t TO 'path' (options): streams the result into the writer, batch by batch."""

    plan: LogicalPlan
    path: str
    format: str
    options: tuple[tuple[str, object], ...] = ()
    partition_by: tuple[str, ...] = ()           # PARTITION_BY (cols): hive folders under the path

    def run(self, session) -> RowCount:
        session.check_write_allowed(self.path)
        if self.partition_by:
            rows = write_partitioned(self.path, output_schema(self.plan), session.run_batches(self.plan),
                                     list(self.partition_by), **dict(self.options))
        else:
            rows = write_file(self.path, output_schema(self.plan), session.run_batches(self.plan), self.format,
                              **dict(self.options))
        return RowCount("COPY", rows)


# -- shared pieces -------------------------------------------------------------------------------

def type_name(dtype: pa.DataType) -> str:
    """The SQL spelling of a column's type, as DESCRIBE and ``.schema`` print it: ``DECIMAL(15,2)``."""
    return T.sql_name(T.normalize(dtype))


def describe_table(schema: pa.Schema) -> pa.Table:
    """The DESCRIBE rows of ``schema``."""
    return pa.table({
        "column_name": pa.array(schema.names, pa.string()),
        "column_type": pa.array([type_name(f.type) for f in schema], pa.string()),
        "null": pa.array(["YES" if f.nullable else "NO" for f in schema], pa.string())})


EXPLAIN_MODES = ("plan", "logical", "verbose", "analyze")


def explain_text(session, plan: LogicalPlan, mode: str = "plan") -> str:
    """The text of EXPLAIN: ``plan`` (optimized logical and physical plans), ``logical`` (as bound),
    ``verbose`` (the plan after every optimizer rule) or ``analyze`` (run it; per-operator metrics)."""
    from quarry.optimizer.driver import Trace
    mode = (mode or "plan").lower()
    if mode not in EXPLAIN_MODES:
        raise QuarryError(f"unknown explain mode `{mode}`",
                          hint=suggest(mode, EXPLAIN_MODES) or "use 'plan', 'logical', 'verbose' or 'analyze'")
    if mode == "logical":
        return "== Logical Plan ==\n" + plan.pretty()
    trace = Trace() if mode == "verbose" else None
    optimized = session.optimize(plan, trace)
    physical = session.physical_plan(optimized)
    parts = []
    if mode == "verbose":
        parts.append("== Initial Logical Plan ==\n" + plan.pretty())
        for batch, rule, text in trace.steps:
            parts.append(f"== After {rule} ({batch}) ==\n{text}")
        parts.append(trace.rule_summary())
    if mode == "analyze":
        start = time.perf_counter()
        table = session.execute_physical(physical, origin=plan)
        elapsed = time.perf_counter() - start
        parts.append("== Optimized Logical Plan ==\n" + optimized.pretty())
        graph = getattr(physical, "stage_graph", None)
        if graph is not None:
            parts.append(f"== Stages (analyzed: {table.num_rows} rows in {elapsed * 1000:.1f} ms) ==\n"
                         + graph.pretty(analyze=True))
        else:
            parts.append(f"== Physical Plan (analyzed: {table.num_rows} rows in {elapsed * 1000:.1f} ms) ==\n"
                         + physical.pretty(analyze=True))
        return "\n\n".join(parts)
    parts.append("== Optimized Logical Plan ==\n" + optimized.pretty())
    parts.append("== Physical Plan ==\n" + physical.pretty())
    return "\n\n".join(parts)


__all__ = ["StatementResult", "QueryPlan", "Status", "RowCount", "ExplainText", "Command", "Query", "Explain",
           "Unchanged", "CreateView", "CreateTable", "CreateTableAs", "CreateExternalTable", "Insert", "Delete",
           "Update", "SetOption", "ResetOption", "Drop",
           "ShowTables", "Describe", "DescribeHistory", "Copy", "output_schema", "describe_table", "type_name", "explain_text"]
