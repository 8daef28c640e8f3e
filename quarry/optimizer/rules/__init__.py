"""The optimizer's rules, one module each, and the one ordered list of batches that runs them.

Order matters, and every constraint is stated here:

1. ``decorrelate_subqueries`` first: later rules and the physical planner assume
   no subquery expressions remain.
2. ``simplify_expressions`` after it, because decorrelation builds new conditions
   (and before pushdown, so factored ORs such as TPC-H Q19's expose join keys);
   ``unwrap_cast_in_comparison`` with it, since folding turns `1 + 10` into a literal
   whose comparison no longer needs the column cast.
3. ``infer_or_filters`` once, before pushdown, so the filters it derives get pushed.
4. ``extract_equi_joins`` + ``push_down_filter`` + ``push_down_semi_join`` to a fixed
   point: together they turn comma joins into keyed joins and move every filter (and
   every EXISTS/IN semi join) to its lowest point.
5. ``reorder_joins`` once, after pushdown, because its estimates need filters at
   the scans; pushdown runs again after it for conjuncts it left on top, but without
   ``push_down_semi_join``: the reorderer places semi/anti joins where their input is
   smallest, which may be above joins, and pushing them down again would undo that.
6. ``push_down_limit`` after joins are final.
7. ``prune_columns`` last among the rewrites (it must see every expression where it
   ends up), then ``merge_projections`` tidies what pruning and the rewrites left.
"""

from quarry.optimizer.rule import Batch, FixedPoint, Once
from quarry.optimizer.rules import (
    decorrelate_subqueries, extract_equi_joins, infer_or_filters, merge_projections, prune_columns, push_down_filter,
    push_down_limit, push_down_semi_join, reorder_joins, simplify_expressions, unwrap_cast_in_comparison,
)

BATCHES: list[Batch] = [
    Batch("subqueries", Once(), (decorrelate_subqueries.apply,)),
    Batch("simplify", FixedPoint(10), (simplify_expressions.apply, unwrap_cast_in_comparison.apply)),
    Batch("infer", Once(), (infer_or_filters.apply,)),
    Batch("pushdown", FixedPoint(30), (extract_equi_joins.apply, push_down_filter.apply,
                                       push_down_semi_join.apply)),
    Batch("join order", Once(), (reorder_joins.apply,)),
    Batch("pushdown again", FixedPoint(30), (extract_equi_joins.apply, push_down_filter.apply,
                                             simplify_expressions.apply)),
    Batch("limits", FixedPoint(10), (push_down_limit.apply,)),
    Batch("prune", Once(), (prune_columns.apply,)),
    Batch("tidy", FixedPoint(10), (merge_projections.apply,)),
]
