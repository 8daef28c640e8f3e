"""Decide from statistics alone that a row group cannot contain a matching row.

A row group is skipped when some conjunct of the scan predicate is provably
false for every row, judged by the row group's min/max/null-count statistics
or by its hive partition values (exact). Anything not understood keeps the row
group: pruning may only ever skip work, never rows.
"""

from __future__ import annotations

from quarry.catalog.providers import ColumnStats, RowGroupInfo
from quarry.logical.expressions import Call, ColumnRef, Expr, Literal, conjuncts, disjuncts

_FLIP = {"less": "greater", "less_equal": "greater_equal", "greater": "less", "greater_equal": "less_equal",
         "equal": "equal", "not_equal": "not_equal"}


def _stats_for(e: Expr, rg: RowGroupInfo, by_name) -> ColumnStats | None:
    if not isinstance(e, ColumnRef):
        return None
    name = e.field.name
    if by_name.get(name) is None or by_name[name].id != e.field.id:
        return None
    if name in rg.partition:
        v = rg.partition[name]
        return ColumnStats(v, v, rg.num_rows if v is None else 0)
    return rg.stats.get(name)


def _false_for_all(e: Expr, rg: RowGroupInfo, by_name) -> bool:
    if isinstance(e, Call) and e.name == "or":
        return all(_false_for_all(d, rg, by_name) for d in disjuncts(e))
    if isinstance(e, Call) and e.name == "and":
        return any(_false_for_all(c, rg, by_name) for c in conjuncts(e))
    if isinstance(e, Literal) and e.value is False:
        return True
    if not isinstance(e, Call):
        return False
    if e.name == "is_null":
        s = _stats_for(e.args[0], rg, by_name)
        return s is not None and s.null_count == 0
    if e.name == "is_not_null":
        s = _stats_for(e.args[0], rg, by_name)
        return s is not None and s.null_count is not None and s.null_count == rg.num_rows
    if e.name == "in_list":
        s = _stats_for(e.args[0], rg, by_name)
        if s is None or not all(isinstance(a, Literal) for a in e.args[1:]):
            return False
        return all(_compare_false("equal", s, a.value, rg) for a in e.args[1:])
    if e.name in _FLIP and len(e.args) == 2:
        a, b = e.args
        if isinstance(b, Literal):
            s = _stats_for(a, rg, by_name)
            return s is not None and _compare_false(e.name, s, b.value, rg)
        if isinstance(a, Literal):
            s = _stats_for(b, rg, by_name)
            return s is not None and _compare_false(_FLIP[e.name], s, a.value, rg)
    return False


def _compare_false(op: str, s: ColumnStats, value, rg: RowGroupInfo) -> bool:
    if value is None:
        return True   # comparison with NULL is never true
    if s.null_count is not None and s.null_count == rg.num_rows and rg.num_rows > 0:
        return True   # every value is NULL
    lo, hi = s.min, s.max
    if lo is None or hi is None:
        return False
    if (isinstance(lo, float) or isinstance(hi, float)) and op not in ("equal", "less", "less_equal"):
        # Parquet's float statistics leave NaN out, and NaN is above every number: a row group
        # whose max is 1.0 may still hold rows where x > 5 or x <> 1
        return False
    try:
        if op == "equal":
            return value < lo or value > hi
        if op == "not_equal":
            return lo == hi == value and not s.null_count
        if op == "less":
            return lo >= value
        if op == "less_equal":
            return lo > value
        if op == "greater":
            return hi <= value
        if op == "greater_equal":
            return hi < value
    except TypeError:
        return False
    return False


def can_skip(predicate: Expr, rg: RowGroupInfo, by_name) -> bool:
    """True when ``predicate`` is false (or NULL) for every row of ``rg``."""
    return any(_false_for_all(c, rg, by_name) for c in conjuncts(predicate))
