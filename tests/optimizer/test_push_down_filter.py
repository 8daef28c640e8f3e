"""push_down_filter: filters move toward the data and into scans, never where they would change rows.

Each case: SQL -> bound plan -> (prerequisites) -> push_down_filter once -> snapshot
of the plan after -> both plans executed (no optimizer) and their rows compared.
Cases that must not fire assert the rule returned the very same plan object.
"""

from __future__ import annotations

import pytest

from quarry.logical import functions as F
from quarry.logical.expressions import ColumnRef, and_all
from quarry.logical.plan import Filter, Project, Sort, Window
from quarry.optimizer.rules import decorrelate_subqueries, extract_equi_joins, push_down_filter, push_down_limit
from quarry.physical.operators import ParquetScanExec

from rule_harness import (
    apply_once, assert_plan, assert_same_rows, bound, execute, execute_physical, rewrite, to_fixed_point,
)


def test_filter_moves_through_project_into_parquet_scan_and_prunes_row_groups(con):
    plan = bound(con, "SELECT day, amount FROM events WHERE day > 8")
    assert_plan(plan, """
        Project: events.day, events.amount
          Filter: (events.day > 8)
            Scan: events columns=[day, kind, amount]
    """)
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: events.day, events.amount
          Scan: events columns=[day, kind, amount] filters=[(events.day > 8)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("day").to_pylist()) == [9, 10, 11, 12]
    # the pushed predicate lets the scan skip the row groups of days 1-4 and 5-8
    _, physical = execute_physical(con, new)
    scan = next(n for n in physical.walk() if isinstance(n, ParquetScanExec))
    assert (scan.metrics["row_groups"], scan.metrics["row_groups_skipped"]) == (3, 2)


def test_comma_join_conjuncts_go_to_each_side_after_extract_equi_joins(con):
    # prerequisite: extract_equi_joins turns the cross join + WHERE into an inner join first
    sql = ("SELECT e.name, d.dname FROM emp e, dept d "
           "WHERE e.dept_id = d.id AND d.budget > 300 AND e.salary >= 100")
    plan = to_fixed_point(bound(con, sql), extract_equi_joins)
    assert_plan(plan, """
        Project: e.name, d.dname
          Filter: ((d.budget > 300.0) AND (e.salary >= 100))
            Join: inner on (e.dept_id = d.id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Scan: dept AS d columns=[id, dname, budget]
    """)
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: inner on (e.dept_id = d.id)
            Scan: emp AS e columns=[id, dept_id, salary, name] filters=[(e.salary >= 100)]
            Scan: dept AS d columns=[id, dname, budget] filters=[(d.budget > 300.0)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["ann", "bob", "cat", "eve"]


def test_filter_on_preserved_side_of_left_join_is_pushed(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                      "WHERE e.salary > 100")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: left on (e.dept_id = d.id)
            Scan: emp AS e columns=[id, dept_id, salary, name] filters=[(e.salary > 100)]
            Scan: dept AS d columns=[id, dname, budget]
    """)
    rows = assert_same_rows(con, plan, new)
    # hal (dept 40) has no department and is still there, with a NULL dname
    assert sorted(rows.to_pylist(), key=lambda r: r["name"]) == [
        {"name": "bob", "dname": "eng"}, {"name": "cat", "dname": "ops"},
        {"name": "eve", "dname": "ops"}, {"name": "hal", "dname": None}]


def test_null_rejecting_filter_on_null_supplying_side_turns_left_join_inner(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                      "WHERE d.budget > 300")
    assert_plan(plan, """
        Project: e.name, d.dname
          Filter: (d.budget > 300.0)
            Join: left on (e.dept_id = d.id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Scan: dept AS d columns=[id, dname, budget]
    """)
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: inner on (e.dept_id = d.id)
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Scan: dept AS d columns=[id, dname, budget] filters=[(d.budget > 300.0)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert rows.num_rows == 5


def test_is_null_filter_on_null_supplying_side_of_left_join_is_not_pushed(con):
    # `d.budget IS NULL` is TRUE for the NULL-extended rows: below the join it would keep
    # only hr (NULL budget) and then re-extend every other employee with NULLs
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                      "WHERE d.budget IS NULL")
    assert apply_once(push_down_filter, plan) is plan
    rows = execute(con, plan)
    assert sorted(rows.column("name").to_pylist()) == ["fay", "gus", "hal"]


def test_no_pushdown_into_either_side_of_full_join(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e FULL JOIN dept d ON e.dept_id = d.id "
                      "WHERE e.salary > 100")
    assert apply_once(push_down_filter, plan) is plan


def test_right_join_filter_goes_to_preserved_right_side_only(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e RIGHT JOIN dept d ON e.dept_id = d.id "
                      "WHERE d.budget > 300 AND e.salary > 100")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Filter: (e.salary > 100)
            Join: right on (e.dept_id = d.id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Scan: dept AS d columns=[id, dname, budget] filters=[(d.budget > 300.0)]
    """)
    assert_same_rows(con, plan, new)


def test_on_clause_conjuncts_go_to_null_supplying_side_only(con):
    # in a LEFT JOIN's ON clause a right-side conjunct may filter the right input, but a
    # left-side conjunct may not filter the left input (its failing rows are still output)
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d "
                      "ON e.dept_id = d.id AND d.budget > 300 AND e.salary > 100")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: left on ((e.dept_id = d.id) AND (e.salary > 100))
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Scan: dept AS d columns=[id, dname, budget] filters=[(d.budget > 300.0)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert rows.num_rows == 8


def test_on_clause_with_only_right_conjuncts_leaves_conditionless_left_join(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON d.budget > 600")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: left
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Scan: dept AS d columns=[id, dname, budget] filters=[(d.budget > 600.0)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert set(rows.column("dname").to_pylist()) == {"eng"}


def test_filter_stops_at_limit(con):
    plan = bound(con, "SELECT id, salary FROM (SELECT id, salary FROM emp ORDER BY id LIMIT 4) s "
                      "WHERE salary > 100")
    new = rewrite(push_down_filter, plan)
    # the filter passes the outer projection but stays above the Limit: below it, the
    # limit would pick 4 rows among the filtered ones instead of filtering the first 4
    assert_plan(new, """
        Project: s.id, s.salary
          Project: emp.id, emp.salary
            Filter: (emp.salary > 100)
              Limit: 4
                Sort: emp.id ASC NULLS LAST
                  Project: emp.id, emp.salary
                    Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert apply_once(push_down_filter, new) is new
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("id").to_pylist()) == [2, 3]


def test_filter_stops_at_top_k_sort(con):
    # prerequisite: push_down_limit makes the Sort a top-k (fetch=3); a filter directly above
    # it must stay there (below it, the top 3 would be taken among the filtered rows)
    plan = to_fixed_point(bound(con, "SELECT id, salary FROM emp ORDER BY salary DESC LIMIT 3"), push_down_limit)
    top_k = next(n for n in plan.walk() if isinstance(n, Sort))
    assert top_k.fetch == 3
    id_field = next(f for f in top_k.schema if f.name == "id")
    filtered = Filter(top_k, F.call("greater", [ColumnRef(id_field), F.lit(2)]))
    assert apply_once(push_down_filter, filtered) is filtered
    assert sorted(execute(con, filtered).column("id").to_pylist()) == [3, 5]


def test_filter_below_sort_without_fetch(con):
    plan = bound(con, "SELECT * FROM (SELECT id, salary FROM emp ORDER BY salary) s WHERE salary > 100")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: s.id, s.salary
          Project: emp.id, emp.salary
            Sort: emp.salary ASC NULLS LAST
              Project: emp.id, emp.salary
                Scan: emp columns=[id, dept_id, salary, name] filters=[(emp.salary > 100)]
    """)
    assert_same_rows(con, plan, new, ordered=True)


def test_random_predicate_is_not_pushed(con):
    plan = bound(con, "SELECT id FROM emp WHERE random() < 2.0")
    assert apply_once(push_down_filter, plan) is plan


def test_random_conjunct_stays_while_deterministic_one_is_pushed(con):
    plan = bound(con, "SELECT id FROM emp WHERE random() < 2.0 AND salary > 100")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: emp.id
          Filter: (random() < 2.0)
            Scan: emp columns=[id, dept_id, salary, name] filters=[(emp.salary > 100)]
    """)
    assert_same_rows(con, plan, new)   # random() < 2.0 is always TRUE: the rows are deterministic


def test_having_on_group_key_goes_below_aggregate_but_not_on_aggregate_value(con):
    plan = bound(con, "SELECT dept_id, sum(salary) AS total FROM emp GROUP BY dept_id "
                      "HAVING sum(salary) > 200 AND dept_id < 30")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: emp.dept_id, sum(CAST(emp.salary AS DECIMAL(38,0))) AS total
          Filter: (sum(CAST(emp.salary AS DECIMAL(38,0))) > 200)
            Aggregate: group=[emp.dept_id] aggs=[sum(CAST(emp.salary AS DECIMAL(38,0))) AS sum(CAST(emp.salary AS DECIMAL(38,0)))]
              Scan: emp columns=[id, dept_id, salary, name] filters=[(emp.dept_id < 30)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.to_pylist(), key=lambda r: r["dept_id"]) == [
        {"dept_id": 10, "total": 300}, {"dept_id": 20, "total": 450}]


def test_filter_on_aggregate_value_is_not_pushed(con):
    plan = bound(con, "SELECT dept_id, sum(salary) AS total FROM emp GROUP BY dept_id "
                      "HAVING sum(salary) > 200")
    assert apply_once(push_down_filter, plan) is plan


def test_filter_on_rollup_key_is_not_pushed_below_grouping_sets(con):
    # ROLLUP's grand-total row has a NULL dept_id made by the aggregate itself: below it,
    # `dept_id IS NULL` would keep only gus and lose the total row
    plan = bound(con, "SELECT dept_id, count(*) AS n FROM emp GROUP BY ROLLUP (dept_id) HAVING dept_id IS NULL")
    assert apply_once(push_down_filter, plan) is plan
    rows = execute(con, plan)
    assert sorted(rows.column("n").to_pylist()) == [1, 8]


def test_filter_on_group_key_expression_is_rewritten_to_the_key(con):
    plan = bound(con, "SELECT * FROM (SELECT salary > 100 AS high, count(*) AS n FROM emp GROUP BY salary > 100) s "
                      "WHERE high")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: s.high, s.n
          Project: high, n
            Project: (emp.salary > 100) AS high, count_star(*) AS n
              Aggregate: group=[(emp.salary > 100) AS (emp.salary > 100)] aggs=[count_star(*) AS count_star(*)]
                Scan: emp columns=[id, dept_id, salary, name] filters=[(emp.salary > 100)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert rows.to_pylist() == [{"high": True, "n": 4}]


def test_filter_goes_into_every_union_input(con):
    plan = bound(con, "SELECT id FROM (SELECT id FROM emp UNION ALL SELECT id FROM dept) s WHERE id > 6")
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: s.id
          Project: id
            Union: [id]
              Project: emp.id
                Scan: emp columns=[id, dept_id, salary, name] filters=[(emp.id > 6)]
              Project: dept.id
                Scan: dept columns=[id, dname, budget] filters=[(dept.id > 6)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("id").to_pylist()) == [7, 8, 10, 20, 30, 50]


def _ranked(con, *, keep_by):
    """Filter(keep_by(dept_id, salary, r)) over Project(dept_id, salary, r) over Window(rank() ...), by hand.

    Built by hand rather than from SQL because the plan must reference the window result
    by column; the SQL binder's own Project is not what this rule test is about.
    """
    sql = "SELECT dept_id, salary, rank() OVER (PARTITION BY dept_id ORDER BY salary) AS r FROM emp"
    window = next(n for n in bound(con, sql).walk() if isinstance(n, Window))
    by_name = {f.name: f for f in window.input.schema}
    dept_id, salary = by_name["dept_id"], by_name["salary"]
    r = window.fields[0].fresh("r")
    project = Project(window, (ColumnRef(dept_id), ColumnRef(salary), ColumnRef(window.fields[0])),
                      (dept_id, salary, r))
    return Filter(project, keep_by(ColumnRef(dept_id), ColumnRef(salary), ColumnRef(r)))


def test_filter_on_window_partition_key_goes_below_window_but_not_on_window_value(con):
    plan = _ranked(con, keep_by=lambda d, s, r: and_all([F.call("equal", [d, F.lit(20)]),
                                                         F.call("equal", [r, F.lit(1)])]))
    new = rewrite(push_down_filter, plan)
    window_text = ("rank() OVER (PARTITION BY emp.dept_id ORDER BY emp.salary ASC NULLS LAST "
                   "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)")
    assert_plan(new, f"""
        Project: emp.dept_id, emp.salary, rank() AS r
          Filter: (rank() = 1)
            Window: {window_text} AS rank()
              Scan: emp columns=[id, dept_id, salary, name] filters=[(emp.dept_id = 20)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert rows.to_pylist() == [{"dept_id": 20, "salary": 150, "r": 1}]


def test_filter_on_non_partition_column_stays_above_window(con):
    plan = _ranked(con, keep_by=lambda d, s, r: F.call("greater", [s, F.lit(100)]))
    pushed = rewrite(push_down_filter, plan)     # through the Project, onto the Window
    assert isinstance(pushed.input, Filter) and isinstance(pushed.input.input, Window)
    assert apply_once(push_down_filter, pushed) is pushed
    rows = assert_same_rows(con, plan, pushed)
    assert rows.num_rows == 4      # ranks computed over all salaries, then filtered


def test_filter_above_anti_join_goes_to_left_side_after_decorrelation(con):
    # prerequisite: decorrelate_subqueries turns NOT EXISTS into an anti join
    sql = ("SELECT e.name FROM emp e WHERE NOT EXISTS "
           "(SELECT 1 FROM dept d WHERE d.id = e.dept_id AND d.budget > 300) AND e.salary > 100")
    plan = rewrite(decorrelate_subqueries, bound(con, sql))
    assert_plan(plan, """
        Project: e.name
          Filter: (e.salary > 100)
            Join: anti on (d.id = e.dept_id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Project: 1 AS 1, d.id
                Filter: (d.budget > 300.0)
                  Scan: dept AS d columns=[id, dname, budget]
    """)
    new = rewrite(push_down_filter, plan)
    assert_plan(new, """
        Project: e.name
          Join: anti on (d.id = e.dept_id)
            Scan: emp AS e columns=[id, dept_id, salary, name] filters=[(e.salary > 100)]
            Project: 1 AS 1, d.id
              Scan: dept AS d columns=[id, dname, budget] filters=[(d.budget > 300.0)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["hal"]


def test_pushdown_reaches_a_fixed_point(con):
    sql = ("SELECT e.name FROM emp e, dept d WHERE e.dept_id = d.id AND d.dname <> 'hr' AND e.salary > 60")
    once = to_fixed_point(bound(con, sql), extract_equi_joins, push_down_filter)
    assert apply_once(push_down_filter, once) is once


def test_filter_on_projected_random_column_is_not_pushed_through_project(con):
    # regression: the filter used to be rewritten to `random() < 0.5` below the projection,
    # a second draw, so rows with r >= 0.5 came out
    plan = bound(con, "SELECT r FROM (SELECT random() AS r FROM emp) s WHERE r < 0.5")
    new = to_fixed_point(plan, push_down_filter)
    # it passes the outer, pass-through projection and stops above the one that draws r
    assert_plan(new, """
        Project: s.r
          Project: r
            Filter: (r < 0.5)
              Project: random() AS r
                Scan: emp columns=[id, dept_id, salary, name]
    """)
    values = [execute(con, new).column("r").to_pylist() for _ in range(20)]
    assert all(v < 0.5 for run in values for v in run)


# ---------------------------------------------------------------------------------------- bugs


def test_is_not_true_on_null_supplying_side_keeps_left_join(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                      "WHERE (d.budget > 300) IS NOT TRUE")
    new = rewrite(push_down_filter, plan)
    assert_same_rows(con, plan, new)


def test_greatest_on_null_supplying_side_keeps_left_join(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                      "WHERE greatest(d.budget, 1000) > 600")
    new = rewrite(push_down_filter, plan)
    assert_same_rows(con, plan, new)
