"""The DataFrame: a lazy handle on a logical plan, bound to a session.

Nothing runs until an action (``to_arrow``, ``to_pandas``, ``show``, ...) asks
for rows; then the plan is optimized, planned and executed.

    >>> df = con.sql("SELECT l_returnflag, count(*) AS n FROM lineitem GROUP BY 1")   # doctest: +SKIP
    >>> df.to_arrow()                                                                    # doctest: +SKIP
"""

from __future__ import annotations

import pyarrow as pa

from quarry.logical import types as T
from quarry.logical.expressions import Field, new_id
from quarry.logical.plan import Cached, LogicalPlan
from quarry.optimizer.driver import Trace


class DataFrame:
    """A lazy query. Build it with ``con.sql(...)`` or ``con.table(...)``."""

    def __init__(self, session, plan: LogicalPlan, sql: str | None = None):
        self._session = session
        self._plan = plan
        self._sql = sql

    @classmethod
    def from_arrow(cls, session, table: pa.Table, label: str = "arrow") -> "DataFrame":
        """A DataFrame over an in-memory Arrow table."""
        table = table.cast(T.normalize_schema(table.schema)) if T.normalize_schema(table.schema) != table.schema \
            else table
        fields = tuple(Field(f.name, f.type, f.nullable, new_id()) for f in table.schema)
        renamed = pa.Table.from_arrays(table.columns, names=[f.key for f in fields])
        return cls(session, Cached(renamed, fields, label))

    # -- properties -------------------------------------------------------------------------

    @property
    def logical_plan(self) -> LogicalPlan:
        """The unoptimized logical plan."""
        return self._plan

    @property
    def schema(self) -> pa.Schema:
        """Output column names and Arrow types (known without running the query)."""
        return pa.schema([pa.field(f.name, f.dtype, f.nullable) for f in self._plan.schema])

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self._plan.schema]

    # -- actions ------------------------------------------------------------------------------

    def to_arrow(self) -> pa.Table:
        """Run the query; the result as a ``pyarrow.Table``."""
        return self._session.run(self._plan).table

    def to_pandas(self):
        """Run the query; the result as a pandas DataFrame."""
        return self.to_arrow().to_pandas()

    def to_pylist(self) -> list[dict]:
        """Run the query; rows as dictionaries."""
        return self.to_arrow().to_pylist()

    def collect(self) -> list[dict]:
        return self.to_pylist()

    def show(self, n: int = 20) -> None:
        """Print the first ``n`` rows as a table."""
        from quarry.display import format_table
        table = self.to_arrow()
        print(format_table(table, max_rows=n))

    def explain(self, mode: str = "plan") -> None:
        """Print the plan: ``"plan"`` (optimized logical + physical), ``"verbose"`` (after every rule),
        or ``"analyze"`` (run it and show per-operator metrics)."""
        print(self.explain_string(mode))

    def explain_string(self, mode: str = "plan") -> str:
        """The text ``explain`` prints."""
        from quarry.errors import QuarryError
        mode = (mode or "plan").lower()
        session = self._session
        if mode not in ("plan", "verbose", "analyze"):
            raise QuarryError(f"unknown explain mode `{mode}`", hint="use 'plan', 'verbose' or 'analyze'")
        trace = Trace() if mode == "verbose" else None
        optimized = session.optimize(self._plan, trace)
        physical = session.physical_plan(optimized)
        parts = []
        if mode == "verbose":
            parts.append("== Initial Logical Plan ==\n" + self._plan.pretty())
            for batch, rule, text in trace.steps:
                parts.append(f"== After {rule} ({batch}) ==\n{text}")
        if mode == "analyze":
            import time
            from quarry.execution.executor import run_physical
            from quarry.physical.base import ExecContext
            start = time.perf_counter()
            table = run_physical(physical, ExecContext(session.exec_config()))
            elapsed = time.perf_counter() - start
            parts.append("== Optimized Logical Plan ==\n" + optimized.pretty())
            parts.append(f"== Physical Plan (analyzed: {table.num_rows} rows in {elapsed * 1000:.1f} ms) ==\n"
                         + physical.pretty(analyze=True))
            return "\n\n".join(parts)
        parts.append("== Optimized Logical Plan ==\n" + optimized.pretty())
        parts.append("== Physical Plan ==\n" + physical.pretty())
        return "\n\n".join(parts)

    def create_view(self, name: str, replace: bool = True) -> None:
        """Make this DataFrame queryable from SQL as ``name``."""
        from quarry.catalog.providers import ViewTable
        from quarry.logical.plan_copy import fresh_copy
        plan = self._plan
        view = ViewTable(name, lambda: fresh_copy(plan), self.schema)
        self._session.catalog.register(name, view, replace=replace)

    def __repr__(self) -> str:
        cols = ", ".join(f"{f.name}: {T.sql_name(f.dtype)}" for f in self._plan.schema)
        return f"DataFrame[{cols}]"
