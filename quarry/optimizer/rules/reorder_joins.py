"""Order a chain of inner joins greedily by estimated size, never forming needless cross products.

    Join: a.x = c.x                              Project: (original column order)
      Join: cross                                  Join: a.x = c.x
        Scan: a (6M rows)              ==>           Join: b.y = a.y
        Scan: b (10 rows, filtered)                    Scan: a
      Scan: c                                          Scan: b
                                                     Scan: c

A maximal tree of inner/cross joins is flattened into its inputs and the
conjuncts of its conditions. Starting from the largest input (the fact table,
which becomes the probe side of every hash join), the next input is always one
connected to what is joined so far by a condition, choosing the one whose join
is estimated smallest (a selective filter on a dimension shrinks the result),
and each conjunct is attached to the lowest join where all its columns exist.
Only when no input is connected is a cross join formed. Correct because inner
joins are associative and commutative; a Project on top restores the original
column order. Statistics come from ``quarry.logical.statistics``. Runs after
filters have been pushed down, so the estimates see them.

Semi and anti joins (EXISTS, IN, NOT EXISTS) that pushdown left on an input are
taken off it and placed again where their left side is estimated smallest: on the
input itself, or above any join of the new order once that input is in. TPC-H Q21
filters lineitem by two correlated EXISTS over lineitem; applied after lineitem
has met the suppliers of one nation (1/25 of it), they hash and probe far fewer
rows than on all of lineitem::

    Join: inner s.nk = n.nk                  Join: anti on l1.ok = l3.ok ...
      Join: inner l1.sk = s.sk                 Join: semi on l1.ok = l2.ok ...
        Join: anti on l1.ok = l3.ok   ==>        Join: inner s.nk = n.nk
          Join: semi on l1.ok = l2.ok ...          Join: inner l1.sk = s.sk
            Scan: l1                                 Scan: l1
      ...                                            ...

Correct because a semi/anti join keeps or drops a row by that row's columns of
one input only: inner joins above that input neither change those columns nor
let a dropped row's matches survive. On ties the lowest place wins (as pushed),
so an EXISTS that filters a small input stays on it (Q18's IN on orders). The
"pushdown again" batch must not push them back down, so push_down_semi_join is
not in it (see rules/__init__.py).
"""

from __future__ import annotations

from quarry.logical.expressions import Call, ColumnRef, Expr, and_all, conjuncts
from quarry.logical.plan import Filter, Join, LogicalPlan, Project, Scan, Values
from quarry.optimizer.rule import rule
from quarry.logical.statistics import base_rows, estimate_rows, fk_join_rows


def _flatten(plan: LogicalPlan, leaves: list, conds: list) -> None:
    if isinstance(plan, Join) and plan.kind in ("inner", "cross"):
        _flatten(plan.left, leaves, conds)
        _flatten(plan.right, leaves, conds)
        conds.extend(conjuncts(plan.condition))
    else:
        leaves.append(plan)


def _known_empty(plan: LogicalPlan) -> bool:
    """``plan`` has no rows for certain (an empty table, VALUES with no rows, a scan of either)."""
    if isinstance(plan, Scan):
        return plan.source.statistics().row_count == 0
    if isinstance(plan, Values):
        return not plan.rows
    if isinstance(plan, (Filter, Project)):
        return _known_empty(plan.input)
    return False


def _pair_estimate(lrows: float, lbase: float, rrows: float, rbase: float, has_cond: bool) -> float:
    """Estimated rows of joining two inputs: the arithmetic of ``estimate_rows`` for a Join, from the
    inputs' estimates and unfiltered sizes, so that trying a candidate never walks the joined tree."""
    if not has_cond:
        return lrows * rrows
    return fk_join_rows(lrows, lbase, rrows, rbase)


def _peel(leaf: LogicalPlan) -> tuple[LogicalPlan, list[Join]]:
    """``leaf`` without the semi/anti joins on top of it, and those joins, innermost first."""
    peeled: list[Join] = []
    while isinstance(leaf, Join) and leaf.kind in ("semi", "anti"):
        peeled.append(leaf)
        leaf = leaf.left
    return leaf, peeled[::-1]


def _with_semi(base: LogicalPlan, semi: Join) -> Join:
    return Join(base, semi.right, semi.kind, semi.condition, semi.null_aware)


class _Problem:
    """The flattened join chain: its inputs with their estimates, and its conjuncts' column sets."""

    def __init__(self, leaves: list[LogicalPlan], conds: list[Expr]):
        self.leaves = leaves
        self.conds = conds
        self.cond_ids = [c.column_ids() for c in conds]
        self.rows = [estimate_rows(l) for l in leaves]
        self.base = [base_rows(l) for l in leaves]
        self.ids = [frozenset(l.schema_ids) for l in leaves]
        self.empty = [_known_empty(l) for l in leaves]

    def usable(self, pending: list[int], left: set, right: frozenset | set) -> list[int]:
        both = left | right
        return [c for c in pending if self.cond_ids[c] <= both and self.cond_ids[c] & right
                and self.cond_ids[c] & left]

    def order(self, members: list[int], pending: list[int]) -> tuple[list, list[int], float, float, set]:
        """Greedy left-deep order of ``members``: ``(steps, pending left, rows, base rows, column ids)``
        where a step is ``(unit, condition indices, estimated rows after)`` and a unit is a leaf index
        or, for inputs that only connect among themselves, a nested ``steps`` list (a bushy join)."""
        remaining = list(members)
        # an input known to be empty first: every join above it is empty and ends at once; else
        # the largest input (the fact table, the probe side of every hash join)
        empty = [i for i in remaining if self.empty[i]]
        first = empty[0] if empty else max(remaining, key=lambda i: (self.rows[i], -i))
        remaining.remove(first)
        cur_ids, cur_rows, cur_base = set(self.ids[first]), self.rows[first], self.base[first]
        steps: list = [(first, [], cur_rows)]
        while remaining:
            best = None
            for i in remaining:
                usable = self.usable(pending, cur_ids, self.ids[i])
                # only an equality between the two sides makes a hash join; anything else would be
                # a nested loop, so such inputs wait until an equality connects them
                if not any(_is_equi(self.conds[c], cur_ids, self.ids[i]) for c in usable):
                    continue
                est = _pair_estimate(cur_rows, cur_base, self.rows[i], self.base[i], True)
                if best is None or est < best[0] or (est == best[0] and self.rows[i] < self.rows[best[1]]):
                    best = (est, i, usable)
            if best is not None:
                est, i, usable = best
                remaining.remove(i)
                unit, ids, rows, base = i, self.ids[i], self.rows[i], self.base[i]
            else:
                # nothing joins what is joined so far by an equality: join the remaining inputs that
                # connect among themselves first (one group, ordered the same way), the smallest
                # group's result next; a group of one is a single input, as before
                unit, ids, rows, base, pending = self._smallest_group(remaining, pending)
                usable = self.usable(pending, cur_ids, ids)
                est = _pair_estimate(cur_rows, cur_base, rows, base, bool(usable))
            pending = [c for c in pending if c not in usable]
            cur_ids |= ids
            cur_rows, cur_base = max(est, 1.0), max(cur_base, base)
            steps.append((unit, usable, cur_rows))
        return steps, pending, cur_rows, cur_base, cur_ids

    def _smallest_group(self, remaining: list[int], pending: list[int]):
        """Take the connected group (by equalities among ``remaining``) that joins to the fewest rows
        out of ``remaining``; ``(unit, column ids, rows, base rows, pending left)``."""
        groups, seen = [], set()
        for i in remaining:
            if i in seen:
                continue
            group, frontier = [i], [i]
            seen.add(i)
            while frontier:
                j = frontier.pop()
                for k in remaining:
                    if k not in seen and any(_is_equi(self.conds[c], self.ids[j], self.ids[k])
                                             for c in self.usable(pending, set(self.ids[j]), self.ids[k])):
                        seen.add(k)
                        group.append(k)
                        frontier.append(k)
            groups.append(group)
        best = None
        for group in groups:
            if len(group) == 1:
                i = group[0]
                cand = (self.rows[i], i, self.ids[i], self.rows[i], self.base[i], pending)
            else:
                steps, left, rows, base, ids = self.order(group, pending)
                cand = (rows, steps, ids, rows, base, left)
            if best is None or cand[0] < best[0]:
                best = cand
        _, unit, ids, rows, base, left = best
        for i in _leaves_of(unit):
            remaining.remove(i)
        return unit, frozenset(ids), rows, base, left


def _leaves_of(unit) -> list[int]:
    if isinstance(unit, int):
        return [unit]
    return [i for step in unit for i in _leaves_of(step[0])]


def reorder(plan: Join) -> LogicalPlan:
    leaves: list[LogicalPlan] = []
    conds: list[Expr] = []
    _flatten(plan, leaves, conds)
    if len(leaves) < 3:
        return plan
    peeled = []                     # (leaf index, semi/anti join) for every join taken off a leaf
    for i, leaf in enumerate(leaves):
        base, semis = _peel(leaf)
        if semis:
            leaves[i] = base
            peeled.extend((i, j) for j in semis)
    problem = _Problem(leaves, conds)
    steps, pending, _, _, _ = problem.order(list(range(len(leaves))), list(range(len(conds))))
    order = _leaves_of(steps)
    current = _rebuild(problem, steps, peeled)
    if pending:
        # conjuncts over a single input or none (constants): keep them on top, push_down_filter moves them
        current = Filter(current, and_all([conds[c] for c in pending]))
    if order == sorted(order) and _same_shape(plan, current):
        return plan
    if tuple(f.id for f in current.schema) == tuple(f.id for f in plan.schema):
        return current
    return Project(current, tuple(ColumnRef(f) for f in plan.schema), plan.schema)


def _rebuild(problem: _Problem, steps: list, peeled) -> LogicalPlan:
    """The joined inputs in the order of ``steps`` with each peeled semi/anti join where its left side
    is estimated smallest: on its own input or after a later top-level step; ties go to the lowest
    place. Inside a nested group a semi/anti join stays on its input."""
    rows = problem.rows
    position = {step[0]: k for k, step in enumerate(steps) if isinstance(step[0], int)}
    on_leaf: dict[int, list[Join]] = {}
    after_step: dict[int, list[Join]] = {}
    for leaf, semi in peeled:
        k = position.get(leaf)
        best_step, best_rows = None, rows[leaf]
        if k is not None:
            for step in range(max(k, 1), len(steps)):
                if steps[step][2] < best_rows:
                    best_step, best_rows = step, steps[step][2]
        (on_leaf.setdefault(leaf, []) if best_step is None else after_step.setdefault(best_step, [])).append(semi)

    def unit_plan(unit) -> LogicalPlan:
        if not isinstance(unit, int):
            return build(unit, {})
        plan = problem.leaves[unit]
        for semi in on_leaf.get(unit, ()):
            plan = _with_semi(plan, semi)
        return plan

    def build(steps: list, after: dict) -> LogicalPlan:
        current = unit_plan(steps[0][0])
        for semi in after.get(0, ()):
            current = _with_semi(current, semi)
        for step in range(1, len(steps)):
            unit, used, _ = steps[step]
            cond = and_all([problem.conds[c] for c in used])
            current = Join(current, unit_plan(unit), "inner" if cond is not None else "cross", cond)
            for semi in after.get(step, ()):
                current = _with_semi(current, semi)
        return current

    return build(steps, after_step)


def _is_equi(c: Expr, left: set[int], right: set[int]) -> bool:
    if not (isinstance(c, Call) and c.name == "equal"):
        return False
    a, b = (x.column_ids() for x in c.args)
    return bool(a and b) and ((a <= left and b <= right) or (a <= right and b <= left))


def _same_shape(a: LogicalPlan, b: LogicalPlan) -> bool:
    return a.pretty() == b.pretty()


def _visit(node: LogicalPlan) -> LogicalPlan:
    """Reorder every join chain once, innermost inputs first (chains below aggregates, subqueries)."""
    if isinstance(node, Join) and node.kind in ("inner", "cross"):
        leaves: list[LogicalPlan] = []
        _flatten(node, leaves, [])
        if len(leaves) >= 3:
            new_leaves = [_visit(leaf) for leaf in leaves]
            if any(a is not b for a, b in zip(leaves, new_leaves)):
                node = _replace_leaves(node, iter(new_leaves))
            return reorder(node)
    kids = node.children()
    new = [_visit(k) for k in kids]
    return node.with_children(new) if kids else node


def _replace_leaves(plan: LogicalPlan, it) -> LogicalPlan:
    if isinstance(plan, Join) and plan.kind in ("inner", "cross"):
        left = _replace_leaves(plan.left, it)
        right = _replace_leaves(plan.right, it)
        return plan.with_children([left, right])
    return next(it)


@rule
def apply(plan: LogicalPlan, ctx) -> LogicalPlan:
    return _visit(plan)
