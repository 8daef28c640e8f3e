"""Python table functions in FROM: ``FROM tokens((SELECT id, body FROM docs), ' ')``.

A registered table function (``con.register_table_function``) takes at most one table
argument, a parenthesized subquery, and any number of constants. With a table argument the
plan is a :class:`~quarry.logical.udf.MapBatches` over the subquery (the function is called
once per batch of its rows, with the constants after the batch); without one it is a
:class:`~quarry.logical.udf.TableFunctionScan`, one call with the constants.
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from quarry.errors import BindError
from quarry.logical import udf as U
from quarry.logical.plan import LogicalPlan
from quarry.sql.scope import Scope


def _constant(node: exp.Expression, name: str):
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return -_constant(node.this, name)
    raise BindError(f"table function `{name}` takes one subquery and constants, not `{node.sql(dialect='duckdb')}`",
                    hint=f"write {name}((SELECT ...), 'text', 1)")


def bind_python_table_function(binder, step: U.PythonTableStep, args: list) -> LogicalPlan:
    """The plan of a call of the Python table function ``step`` with sqlglot ``args``."""
    tables = [a for a in args if isinstance(a, (exp.Subquery, exp.Select))]
    if len(tables) > 1:
        raise BindError(f"table function `{step.name}` takes at most one subquery",
                        hint="join the inputs in one subquery")
    constants = tuple(_constant(a, step.name) for a in args if not isinstance(a, (exp.Subquery, exp.Select)))
    call = replace(step, args=constants)
    fields = U.fields_for(step.schema)
    if not tables:
        return U.TableFunctionScan(call, fields)
    query = tables[0].this if isinstance(tables[0], exp.Subquery) else tables[0]
    plan = binder.bind_query(query, Scope())
    return U.MapBatches(plan, call, fields)
