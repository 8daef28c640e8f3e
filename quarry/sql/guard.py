"""Refuse every clause or modifier of a query that the binder does not implement.

sqlglot parses far more than quarry binds: ``SELECT ... INTO``, ``WITH TIES``,
``ASOF`` joins, ``SELECT * ILIKE``, ``WITH FILL`` ... A binder that reads only the
arguments it knows would silently drop the rest and give a wrong answer. So each
query node the binder handles is checked here against the one list of argument
keys the binder reads for it; any other argument that is set is refused with
"Not supported: ...". A key sqlglot adds in a later version is refused too, until
someone implements it and adds it here.

>>> import sqlglot
>>> refuse_unread_args(sqlglot.parse_one("SELECT * INTO u FROM t", read="duckdb"))
Traceback (most recent call last):
...
quarry.errors.UnsupportedError: Not supported: SELECT ... INTO is not supported
HINT: use CREATE TABLE name AS SELECT ...
"""

from __future__ import annotations

from sqlglot import exp

from quarry.errors import UnsupportedError

# For each sqlglot node class the binder binds: the argument keys it reads (and so implements).
BOUND_ARGS: dict[type, frozenset[str]] = {
    exp.Select: frozenset({"expressions", "from_", "joins", "where", "group", "having", "order", "limit",
                           "offset", "distinct", "with_", "qualify", "windows"}),
    exp.Union: frozenset({"this", "expression", "distinct", "by_name", "order", "limit", "offset", "with_"}),
    exp.Intersect: frozenset({"this", "expression", "distinct", "order", "limit", "offset", "with_"}),
    exp.Except: frozenset({"this", "expression", "distinct", "order", "limit", "offset", "with_"}),
    exp.Subquery: frozenset({"this", "alias", "order", "limit", "offset", "with_"}),
    exp.Lateral: frozenset({"this", "alias"}),
    exp.Values: frozenset({"expressions", "alias"}),
    exp.From: frozenset({"this"}),
    exp.Table: frozenset({"this", "db", "catalog", "alias", "joins", "version"}),   # version: quarry.sql.table_formats
    exp.TableAlias: frozenset({"this", "columns"}),
    exp.Join: frozenset({"this", "on", "side", "kind", "using", "method"}),
    exp.Star: frozenset({"except_", "replace", "rename"}),
    exp.Columns: frozenset({"this"}),
    exp.Where: frozenset({"this"}),
    exp.Having: frozenset({"this"}),
    exp.Group: frozenset({"expressions", "grouping_sets", "cube", "rollup", "all"}),
    exp.Order: frozenset({"expressions"}),
    exp.Ordered: frozenset({"this", "desc", "nulls_first"}),
    exp.Limit: frozenset({"expression", "limit_options"}),
    exp.LimitOptions: frozenset({"percent", "rows"}),     # ROWS is a noise word (FETCH FIRST 2 ROWS ONLY)
    exp.Offset: frozenset({"expression"}),
    exp.Fetch: frozenset({"direction", "count", "limit_options"}),
    exp.Distinct: frozenset({"on"}),
    exp.Qualify: frozenset({"this"}),
    exp.With: frozenset({"expressions", "recursive"}),
    # MATERIALIZED is a hint that changes no answer
    exp.CTE: frozenset({"this", "alias", "materialized"}),
    # DELETE and UPDATE (quarry.sql.dml); sqlglot sets `using` and `cluster` to False when absent
    exp.Delete: frozenset({"this", "where"}),
    exp.Update: frozenset({"this", "expressions", "where"}),
    # l[i], l[a:b], s['a'], m[k] (quarry.sql.nested_binder)
    exp.Bracket: frozenset({"this", "expressions"}),
}

# How a refused argument is named in the message, and what to do instead.
_NAMES = {
    "windows": "the WINDOW clause", "sample": "TABLESAMPLE / USING SAMPLE", "qualify": "the QUALIFY clause",
    "recursive": "recursive CTEs (WITH RECURSIVE)", "ilike": "SELECT * ILIKE", "with_fill": "ORDER BY ... WITH FILL",
    "with_ties": "WITH TIES", "match_condition": "MATCH_CONDITION", "pivots": "PIVOT / UNPIVOT",
    "laterals": "LATERAL VIEW", "on": "DISTINCT ON", "totals": "WITH TOTALS", "into": "SELECT ... INTO",
    "by_name": "BY NAME", "percent": "PERCENT", "returning": "RETURNING", "from_": "UPDATE ... FROM",
    "using": "DELETE ... USING",
}
_HINTS = {
    "qualify": "filter the window function's result in an outer query",
    "windows": "write the window specification inside OVER (...)",
    "sample": "sampling is not supported in SQL yet; the DataFrame API has df.sample(fraction)",
    "into": "use CREATE TABLE name AS SELECT ...",
    "pivots": "write the pivot with CASE WHEN and GROUP BY",
    "from_": "set the column to a scalar subquery: SET a = (SELECT u.x FROM u WHERE u.k = t.k)",
    "using": "write the condition with a subquery: WHERE k IN (SELECT k FROM u)",
}


def unread_args(node: exp.Expression) -> list[str]:
    """The arguments set on ``node`` that the binder does not read for its class."""
    bound = BOUND_ARGS.get(type(node))
    if bound is None:
        return []
    return [key for key, value in node.args.items() if key not in bound and value not in (None, False, [], "")]


def describe_arg(node_type: type, key: str) -> str:
    """How the message refusing argument ``key`` of a ``node_type`` node names it."""
    return _NAMES.get(key) or f"{key.rstrip('_').upper().replace('_', ' ')} in {node_type.__name__.upper()}"


def refuse_unread_args(node: exp.Expression, position=None) -> None:
    """Raise UnsupportedError for the first argument of ``node`` the binder would ignore.

    ``position(err, culprit)`` attaches the statement position of ``culprit`` to the error.
    """
    for key in unread_args(node):
        value = node.args[key]
        err = UnsupportedError(f"{describe_arg(type(node), key)} is not supported", hint=_HINTS.get(key))
        culprit = value if isinstance(value, exp.Expression) else node
        raise position(err, culprit) if position is not None else err


__all__ = ["BOUND_ARGS", "describe_arg", "refuse_unread_args", "unread_args"]
