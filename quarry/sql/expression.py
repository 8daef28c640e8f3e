"""One SQL expression on its own: how other front ends read SQL text such as ``df.filter("x < 3")``.

The DataFrame API (and the DSL, through it) accepts SQL expression text wherever it
takes a Column. :func:`parse_expression` reads it (with ``expr AS name``) and
:func:`bind_expression` binds it against a :class:`~quarry.sql.scope.Scope` of input
columns with the SQL binder itself, so SQL text means in a DataFrame exactly what it
means in ``con.sql``. This is the only door into the binder from outside ``sql/``.

    >>> parse_expression("l_quantity * 2 AS q2").name
    'q2'
    >>> parse_expression("l_quantity < 24").name
    '(l_quantity < 24)'
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

import pyarrow as pa

from quarry.errors import ParseError, QuarryError, QuarryTypeError
from quarry.logical.expressions import Expr
from quarry.sql.scope import Scope

__all__ = ["SqlExpression", "parse_expression", "bind_expression", "parse_type_name"]

_PREFIX = "SELECT "


@dataclass(frozen=True)
class SqlExpression:
    """A parsed SQL expression: its ``text``, the ``alias`` of ``expr AS alias`` (or None) and
    the output ``name`` SQL gives it (the alias, else the expression's own SQL text)."""

    text: str
    alias: str | None
    name: str


def _parse(text: str) -> exp.Expression:
    """The select item of ``SELECT <text>``: one expression, possibly aliased."""
    try:
        tree = sqlglot.parse_one(_PREFIX + text, read="duckdb")
    except sqlglot.errors.ParseError as err:
        info = err.errors[0] if err.errors else {}
        line, column = info.get("line"), info.get("col")
        if line == 1 and column is not None:
            column = max(column - len(_PREFIX), 1)
        detail = str(info.get("description") or err).split(" for <class")[0]
        raise ParseError(f"cannot parse the SQL expression `{text}`: {detail}",
                         sql=text, line=line, column=column,
                         hint="write a SQL expression such as \"l_quantity < 24\"") from None
    clauses = ("from", "from_", "where", "group", "having", "order", "limit", "with", "with_")
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1 or any(tree.args.get(k) for k in clauses):
        raise ParseError(f"`{text}` is not one SQL expression", sql=text,
                         hint="pass one expression; build queries with DataFrame methods")
    return tree.expressions[0]


def parse_expression(text: str) -> SqlExpression:
    """Parse one SQL expression (optionally ``expr AS name``) with sqlglot's DuckDB dialect;
    a syntax error is a ParseError positioned in ``text``."""
    from quarry.sql.binder import output_name
    node = _parse(text)
    alias = node.alias if isinstance(node, exp.Alias) else None
    return SqlExpression(text, alias, output_name(node))


def bind_expression(session, text: str, scope: Scope, *, allow_aggregates: bool = False,
                    allow_windows: bool = False) -> Expr:
    """Bind the SQL expression ``text`` (its alias, if any, is ignored) against ``scope``'s columns.

    Aggregates and window functions are accepted only when allowed; subqueries may read
    the session's tables. Errors carry their position in ``text``.

    >>> bind_expression(con, "x + 1", scope)          # doctest: +SKIP
    """
    from quarry.sql.binder import Binder
    from quarry.sql.expr_binder import ExprBinder
    node = _parse(text)
    target = node.this if isinstance(node, exp.Alias) else node
    padded = _PREFIX + text
    binder = ExprBinder(Binder(session, padded), scope, allow_aggregates=allow_aggregates,
                        allow_windows=allow_windows)
    try:
        return binder.bind(target)
    except QuarryError as err:
        if err.sql == padded:
            err.sql = text
            if err.line == 1 and err.column is not None:
                err.column = max(err.column - len(_PREFIX), 1)
        raise


def parse_type_name(text: str) -> pa.DataType:
    """The Arrow type a SQL type name means (``"DECIMAL(15,2)"``, ``"int"``, ``"date"``), as in CAST.

    >>> parse_type_name("varchar")
    DataType(string)
    """
    from quarry.sql.expr_binder import sql_type
    try:
        node = exp.DataType.build(text, dialect="duckdb")
        return sql_type(node)
    except QuarryError:
        raise
    except Exception:
        raise QuarryTypeError(f"unknown type `{text}`",
                              hint="use a SQL type: BOOLEAN, INTEGER, BIGINT, DOUBLE, DECIMAL(p, s), "
                                   "VARCHAR, DATE, TIMESTAMP") from None
