"""``WITH RECURSIVE r AS (anchor UNION [ALL] step)``: run the step until it adds no rows.

The anchor runs once; then the step runs again and again, each time reading as ``r`` only the
rows the round before added (the working table), and its rows are added to the result. With UNION
(not ALL) a round adds only rows the result does not hold yet (NULLs equal, as in DISTINCT), which
is what makes a walk over a graph with cycles end. It stops when a round adds no rows, and fails
past the session's ``recursion_limit`` rounds (10,000 unless set). Every round is one query through the optimizer and the operators
(the work is per round, never per row); the result is held in memory as the CTE's rows, computed
when the statement is bound, as ``CREATE TABLE ... AS`` computes its rows.

    >>> import quarry
    >>> con = quarry.connect(workers=0)
    >>> con.sql("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) "
    ...         "SELECT sum(n) AS s FROM r").to_arrow().to_pylist()
    [{'s': 10}]
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from quarry.catalog.providers import MemoryTable
from quarry.errors import QuarryError, UnsupportedError
from quarry.logical import builder as B
from quarry.logical.builder import cast_plan_output, scan_of

DEFAULT_ROUNDS = 10_000


class WorkingTable:
    """What a recursive CTE's name means inside its own step: the rows the last round added."""

    def __init__(self, provider: MemoryTable):
        self.provider = provider


def references(node: exp.Expression, name: str) -> bool:
    """Whether ``node`` reads a table called ``name``."""
    return any(t.name.lower() == name and isinstance(t.this, exp.Identifier) for t in node.find_all(exp.Table))


def recursive_rows(binder, cte: exp.CTE, visible: dict) -> MemoryTable:
    """The rows of recursive CTE ``cte`` (``visible``: the CTEs it may read), as an in-memory table."""
    from quarry.sql.scope import Scope
    name = cte.alias_or_name.lower()
    body = cte.this
    if not isinstance(body, exp.Union) or references(body.this, name) or not references(body.expression, name):
        raise binder._error_at(UnsupportedError(
            f"the recursive CTE `{cte.alias_or_name}` must be `anchor UNION [ALL] step`, with only the step "
            "reading the CTE", hint="the anchor (before UNION) must not read the CTE itself"), cte)
    for key in ("order", "limit", "offset", "by_name"):
        if body.args.get(key):
            raise binder._error_at(UnsupportedError(f"{key.upper().replace('_', ' ')} on a recursive CTE's UNION"),
                                   cte)
    distinct = bool(body.args.get("distinct"))
    session = binder.session
    anchor = binder.bind_query(body.this, Scope(ctes=dict(visible)))
    alias = cte.args.get("alias")
    names = [c.name for c in alias.columns] if alias is not None and alias.columns else [f.name for f in anchor.schema]
    if len(names) != len(anchor.schema):
        raise binder._error_at(QuarryError(f"the recursive CTE `{cte.alias_or_name}` names {len(names)} columns, "
                                           f"its anchor gives {len(anchor.schema)}"), cte)
    types = [f.dtype for f in anchor.schema]
    schema = pa.schema([pa.field(n, t) for n, t in zip(names, types)])

    def run(plan) -> pa.Table:
        table = session.run(plan).table
        return pa.Table.from_arrays(table.columns, schema=schema)

    def new_rows(rows: pa.Table, seen: pa.Table | None) -> pa.Table:
        """``rows`` without duplicates and without the rows of ``seen`` (UNION's distinct rows)."""
        plan = B.distinct(scan_of(MemoryTable(name, rows)))
        if seen is not None and seen.num_rows:
            plan = B.set_operation("except", plan, scan_of(MemoryTable(name, seen)), all=False)
        return run(plan)

    result = run(anchor)
    if distinct:
        result = new_rows(result, None)
    working = result
    parts = [result]
    limit = int(session.config.get("recursion_limit", DEFAULT_ROUNDS))
    for _ in range(limit):
        if working.num_rows == 0:
            return MemoryTable(cte.alias_or_name, pa.concat_tables(parts))
        step_ctes = dict(visible)
        step_ctes[name] = WorkingTable(MemoryTable(cte.alias_or_name, working))
        step = binder.bind_query(body.expression, Scope(ctes=step_ctes))
        if len(step.schema) != len(types):
            raise binder._error_at(QuarryError(f"the recursive step of `{cte.alias_or_name}` gives "
                                               f"{len(step.schema)} columns, its anchor {len(types)}"), body.expression)
        rows = run(cast_plan_output(step, types))
        if distinct:
            rows = new_rows(rows, pa.concat_tables(parts))
        parts.append(rows)
        working = rows
    raise binder._error_at(QuarryError(f"the recursive CTE `{cte.alias_or_name}` still added rows after "
                                       f"{limit:,} rounds", hint="check the step's stop condition (WHERE n < ...), use UNION "
                                                                 "to stop at rows already found, or SET recursion_limit"),
                           cte)


__all__ = ["DEFAULT_ROUNDS", "WorkingTable", "recursive_rows", "references"]
