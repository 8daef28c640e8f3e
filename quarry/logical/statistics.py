"""Cardinality estimates from table statistics, for join ordering and build-side choice.

Estimates start from exact Parquet row counts and use min/max and simple
selectivity guesses for predicates (an equality keeps 10%, a range a third, or
the share of the column's min..max that its bounds leave, LIKE a quarter, less
the longer its pattern; an IN list on an integer column its share of min..max). They are
rough on purpose: their job is to tell a 150k-row dimension from a 6M-row fact table, not to
predict exact counts.
"""

from __future__ import annotations

from quarry.logical.expressions import Call, ColumnRef, Expr, Literal, and_all, conjuncts, disjuncts
from quarry.logical.plan import (
    Aggregate, Cached, Filter, Join, Limit, LogicalPlan, Project, Scan, SetOp, SingleRow, Sort, Union, Values,
    Window,
)

DEFAULT_ROWS = 1000.0


def selectivity(pred: Expr | None, plan: LogicalPlan | None = None) -> float:
    """Fraction of rows a predicate is guessed to keep.

    Range comparisons of one column with constants count together, as the interval they
    leave: ``d >= '1993-10-01' AND d < '1994-01-01'`` keeps the three months of seven years'
    statistics, not the product of two one-sided fractions (which assumes them independent
    and guesses five times too many).
    """
    if pred is None:
        return 1.0
    s = 1.0
    ranges: dict[int, list] = {}
    for c in conjuncts(pred):
        bound = _range_bound(c)
        if bound is not None and plan is not None:
            ranges.setdefault(bound[0].field.id, []).append((c, bound))
            continue
        s *= _conjunct_selectivity(c, plan)
    for parts in ranges.values():
        s *= _interval_selectivity(parts, plan)
    return max(s, 1e-6)


_FLIPPED = {"less": "greater", "less_equal": "greater_equal", "greater": "less", "greater_equal": "less_equal"}


def _range_bound(c: Expr):
    """``(column, op, value)`` for ``column op constant`` (either way round), else None."""
    if not (isinstance(c, Call) and c.name in _FLIPPED and len(c.args) == 2):
        return None
    a, b = c.args
    if isinstance(a, ColumnRef) and isinstance(b, Literal) and b.value is not None:
        return a, c.name, b.value
    if isinstance(b, ColumnRef) and isinstance(a, Literal) and a.value is not None:
        return b, _FLIPPED[c.name], a.value
    return None


def _interval_selectivity(parts, plan) -> float:
    """The fraction of a column's [min, max] that its range bounds leave (one bound: as before)."""
    if len(parts) == 1:
        return _conjunct_selectivity(parts[0][0], plan)
    col = parts[0][1][0]
    lower = [_range_fraction(col, "greater_equal", value, plan) for _, (_, op, value) in parts
             if op in ("greater", "greater_equal")]
    upper = [_range_fraction(col, "less_equal", value, plan) for _, (_, op, value) in parts
             if op in ("less", "less_equal")]
    if any(f is None for f in lower + upper):
        s = 1.0
        for c, _ in parts:
            s *= _conjunct_selectivity(c, plan)
        return s
    # each fraction is of the column's span: rows above the highest lower bound and below the
    # lowest upper bound
    above = min(lower) if lower else 1.0
    below = min(upper) if upper else 1.0
    return max(above + below - 1.0, 0.01)


def _range_fraction(col: ColumnRef, op: str, value, plan) -> float | None:
    stats = _column_stats(col, plan)
    if stats is None or stats.min is None or stats.max is None:
        return None
    try:
        lo, hi = stats.min, stats.max
        if hasattr(lo, "toordinal"):
            lo, hi, value = lo.toordinal(), hi.toordinal(), value.toordinal()
        lo, hi, value = float(lo), float(hi), float(value)
    except (TypeError, ValueError, AttributeError):
        return None
    if hi <= lo:
        return None
    frac = (value - lo) / (hi - lo)
    frac = min(max(frac, 0.0), 1.0)
    return frac if op in ("less", "less_equal") else 1.0 - frac


def _integer_span_share(col: Expr, values: int, plan) -> float:
    """The share of an integer column's rows that ``values`` distinct values keep, if the column's
    min..max holds every integer equally often (TPC-H Q16's ``p_size IN (8 sizes)`` of 1..50:
    16%, where a tenth a value guessed 80%); 1.0 where the column or its statistics are unknown."""
    stats = _column_stats(col, plan) if isinstance(col, ColumnRef) else None
    if stats is None or type(stats.min) is not int or type(stats.max) is not int or stats.max < stats.min:
        return 1.0
    return values / (stats.max - stats.min + 1)


def _column_stats(col: ColumnRef, plan):
    """The min/max statistics of the table column ``col`` reads, if ``plan`` scans it and keeps them."""
    scan = _find_scan(plan, col.field.id) if plan is not None else None
    return scan.source.statistics().columns.get(col.field.name) if scan is not None else None


def _find_scan(plan: LogicalPlan, fid: int) -> Scan | None:
    for node in plan.walk():
        if isinstance(node, Scan) and any(f.id == fid for f in node.table_fields):
            return node
    return None


def _like_selectivity(pattern) -> float:
    """A quarter for a pattern of one literal character, and a quarter less for each further one
    (the more text a pattern pins down, the fewer values match it: ``'%green%'`` keeps about 8%,
    ``'%special%requests%'`` about one in a hundred), never below 1%."""
    if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
        return 0.25
    literal = len(pattern.value) - pattern.value.count("%") - pattern.value.count("_")
    return min(0.25, max(0.01, 0.25 * 0.75 ** max(literal - 1, 0)))


def _conjunct_selectivity(c: Expr, plan) -> float:
    if isinstance(c, Literal):
        return 1.0 if c.value else 0.0
    if not isinstance(c, Call):
        return 0.5
    if c.name == "or":
        return min(1.0, sum(_conjunct_selectivity(d, plan) for d in disjuncts(c)))
    if c.name == "equal":
        return 0.1
    if c.name in _FLIPPED:
        bound = _range_bound(c)
        frac = _range_fraction(*bound, plan) if bound is not None else None
        return max(frac, 0.01) if frac is not None else 0.33
    if c.name in ("like", "ilike"):
        return _like_selectivity(c.args[1] if len(c.args) > 1 else None)
    if c.name == "not":
        return 1.0 - _conjunct_selectivity(c.args[0], plan) * 0.9
    if c.name == "in_list":
        values = len(c.args) - 1
        return min(1.0, 0.1 * values, _integer_span_share(c.args[0], values, plan))
    if c.name == "is_null":
        return 0.1
    if c.name == "not_equal":
        return 0.9
    return 0.5


def estimate_rows(plan: LogicalPlan) -> float:
    """Guess how many rows ``plan`` produces."""
    if isinstance(plan, Scan):
        stats = plan.source.statistics()
        rows = float(stats.row_count) if stats.row_count is not None else DEFAULT_ROWS
        rows *= selectivity(and_all(list(plan.filters)), plan)       # together: bounds of one column meet
        return max(rows, 1.0)
    if isinstance(plan, Values):
        return float(len(plan.rows))
    if isinstance(plan, Cached):
        return float(plan.table.num_rows)
    if isinstance(plan, Filter):
        return max(estimate_rows(plan.input) * selectivity(plan.predicate, plan.input), 1.0)
    if isinstance(plan, SingleRow):
        return 1.0
    if isinstance(plan, (Project, Sort, Window)):
        rows = estimate_rows(plan.input)
        return min(rows, plan.fetch) if isinstance(plan, Sort) and plan.fetch is not None else rows
    if isinstance(plan, Limit):
        rows = estimate_rows(plan.input)
        return min(rows, plan.limit) if plan.limit is not None else rows
    if isinstance(plan, Aggregate):
        rows = estimate_rows(plan.input)
        if not plan.group_exprs:
            return 1.0
        return max(rows * (0.1 ** len(plan.group_exprs)) if len(plan.group_exprs) < 3 else rows * 0.5, 1.0)
    if isinstance(plan, Join):
        left, right = estimate_rows(plan.left), estimate_rows(plan.right)
        if plan.kind in ("semi", "anti"):
            return left * 0.5
        if plan.kind == "cross" or plan.condition is None:
            return left * right
        return fk_join_rows(left, base_rows(plan.left), right, base_rows(plan.right))
    if isinstance(plan, Union):
        return sum(estimate_rows(c) for c in plan.inputs)
    if isinstance(plan, SetOp):
        return estimate_rows(plan.left)
    return DEFAULT_ROWS


def fk_join_rows(lrows: float, lbase: float, rrows: float, rbase: float) -> float:
    """Rows of an equi-join taken as a foreign-key join: the fact side's rows, filtered by whatever
    filtered the dimension side (its estimate over its unfiltered size).

    The fact side is the one with more rows before filters: lineitem filtered to 146k rows still
    refers to orders (1.5M), not the other way round (TPC-H Q7), so the join keeps its 146k rows.
    """
    fact_left = lbase > rbase or (lbase == rbase and lrows >= rrows)
    fact, dim, dim_base = (lrows, rrows, rbase) if fact_left else (rrows, lrows, lbase)
    return fact * min(1.0, dim / max(dim_base, 1.0))


def is_unfiltered_scan(plan: LogicalPlan) -> bool:
    """Whether ``plan`` yields every row of one table: a scan without filters, under projections.

    A join filter made from such a build side keeps every probe row whose key refers to that table
    (all of them, in data with foreign keys), so it would only make the probe wait for the build."""
    while isinstance(plan, Project):
        plan = plan.input
    return isinstance(plan, Scan) and not plan.filters


def base_rows(plan: LogicalPlan) -> float:
    """Rows of the plan before its filters (to estimate how much a filter on a dimension removes)."""
    if isinstance(plan, Scan):
        stats = plan.source.statistics()
        return float(stats.row_count) if stats.row_count is not None else DEFAULT_ROWS
    if isinstance(plan, (Filter, Project, Sort, Window, Limit)):
        return base_rows(plan.input)
    if isinstance(plan, Join):
        return max(base_rows(plan.left), base_rows(plan.right))
    return estimate_rows(plan)
