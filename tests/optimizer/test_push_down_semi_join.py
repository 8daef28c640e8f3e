"""push_down_semi_join: EXISTS / IN semi and anti joins move to the join input whose rows they filter.

Prerequisite everywhere: decorrelate_subqueries, which makes the semi/anti joins.
Each case snapshots the plan after push_down_semi_join once and runs both plans;
cases that must not fire assert the very same object.
"""

from __future__ import annotations

from quarry.functions import col
from quarry.optimizer.rules import decorrelate_subqueries, push_down_filter, push_down_semi_join

from rule_harness import (
    apply_once, assert_plan, assert_rows_like_duckdb, assert_same_rows, bound, rewrite, to_fixed_point,
)


def _decorrelated(con, sql):
    return rewrite(decorrelate_subqueries, bound(con, sql))


def test_in_semi_join_moves_below_inner_join_to_the_left_input(con):
    plan = _decorrelated(con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id "
                              "WHERE e.id IN (SELECT id FROM emp WHERE salary > 100)")
    assert_plan(plan, """
        Project: e.name, d.dname
          Join: semi on (e.id = emp.id)
            Join: inner on (e.dept_id = d.id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Scan: dept AS d columns=[id, dname, budget]
            Project: emp.id
              Filter: (emp.salary > 100)
                Scan: emp columns=[id, dept_id, salary, name]
    """)
    new = rewrite(push_down_semi_join, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: inner on (e.dept_id = d.id)
            Join: semi on (e.id = emp.id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Project: emp.id
                Filter: (emp.salary > 100)
                  Scan: emp columns=[id, dept_id, salary, name]
            Scan: dept AS d columns=[id, dname, budget]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["bob", "cat", "eve"]


def test_null_aware_anti_join_moves_to_the_right_input_of_inner_join(con):
    plan = _decorrelated(con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id "
                              "WHERE d.id NOT IN (SELECT dept_id FROM emp WHERE salary < 60)")
    new = rewrite(push_down_semi_join, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: inner on (e.dept_id = d.id)
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Join: anti (null-aware) on (d.id = emp.dept_id)
              Scan: dept AS d columns=[id, dname, budget]
              Project: emp.dept_id
                Filter: (emp.salary < 60)
                  Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new)
    assert rows.num_rows == 5


def test_null_aware_anti_join_with_null_in_subquery_still_empties_the_result(con):
    # the subquery holds gus's NULL dept_id: NOT IN is never TRUE, above or below the join
    plan = _decorrelated(con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id "
                              "WHERE d.id NOT IN (SELECT dept_id FROM emp WHERE salary < 100)")
    new = rewrite(push_down_semi_join, plan)
    assert new is not plan
    assert assert_same_rows(con, plan, new).num_rows == 0


def test_anti_join_moves_to_the_preserved_input_of_left_join(con):
    plan = _decorrelated(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                              "WHERE NOT EXISTS (SELECT 1 FROM dept d2 WHERE d2.id = e.dept_id AND d2.budget > 600)")
    new = rewrite(push_down_semi_join, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: left on (e.dept_id = d.id)
            Join: anti on (d2.id = e.dept_id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Project: 1 AS 1, d2.id
                Filter: (d2.budget > 600.0)
                  Scan: dept AS d2 columns=[id, dname, budget]
            Scan: dept AS d columns=[id, dname, budget]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["cat", "dan", "eve", "fay", "gus", "hal"]


def test_semi_join_on_null_supplying_input_of_left_join_stays(con):
    plan = _decorrelated(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                              "WHERE d.id IN (SELECT dept_id FROM emp WHERE salary > 250)")
    assert apply_once(push_down_semi_join, plan) is plan


def test_semi_join_reading_both_join_inputs_stays(con):
    plan = _decorrelated(con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id "
                              "WHERE EXISTS (SELECT 1 FROM emp x WHERE x.id = e.id AND x.salary * 5 > d.budget)")
    assert apply_once(push_down_semi_join, plan) is plan


def test_uncorrelated_exists_stays(con):
    plan = _decorrelated(con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id "
                              "WHERE EXISTS (SELECT 1 FROM emp x WHERE x.salary > 250)")
    assert apply_once(push_down_semi_join, plan) is plan


def test_pushing_is_idempotent(con):
    once = rewrite(push_down_semi_join, _decorrelated(
        con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id "
             "WHERE e.id IN (SELECT id FROM emp WHERE salary > 100)"))
    assert apply_once(push_down_semi_join, once) is once


def test_semi_join_passes_a_filter_only_to_go_further(con):
    plan = _decorrelated(con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id "
                              "WHERE e.salary > 60 AND e.id IN (SELECT id FROM emp WHERE salary > 100)")
    filtered = to_fixed_point(plan, push_down_filter)
    new = rewrite(push_down_semi_join, filtered)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: inner on (e.dept_id = d.id)
            Join: semi on (e.id = emp.id)
              Scan: emp AS e columns=[id, dept_id, salary, name] filters=[(e.salary > 60)]
              Project: emp.id
                Scan: emp columns=[id, dept_id, salary, name] filters=[(emp.salary > 100)]
            Scan: dept AS d columns=[id, dname, budget]
    """)


def test_semi_join_and_a_filter_above_a_limit_settle_with_filter_pushdown(con, duck):
    """A Filter neither rule can move further (it sits on a Limit) stays below the anti join.

    Swapping the two anyway made push_down_filter and push_down_semi_join undo each other
    until the pushdown batch hit its 30-round limit (found by the driver's limit warning on
    a DataFrame pipeline, which builds the anti join right on the Filter).
    """
    df = (con.table("emp").sort("id").limit(7).filter(col("salary") > 60)
          .join(con.table("dept").select(col("id").alias("did")), col("dept_id") == col("did"), how="anti"))
    plan = df.logical_plan
    expected_plan = """
        Join: anti on (emp.dept_id = dept.did)
          Filter: (emp.salary > 60)
            Limit: 7
              Sort: emp.id ASC NULLS LAST
                Scan: emp columns=[id, dept_id, salary, name]
          Project: dept.id AS did
            Scan: dept columns=[id, dname, budget]
    """
    assert_plan(plan, expected_plan)
    assert apply_once(push_down_semi_join, plan) is plan
    settled = to_fixed_point(plan, push_down_filter, push_down_semi_join, limit=3)
    assert_plan(settled, expected_plan)
    sql = ("SELECT * FROM (SELECT * FROM emp ORDER BY id LIMIT 7) q "
           "WHERE salary > 60 AND NOT EXISTS (SELECT 1 FROM dept d WHERE d.id = q.dept_id)")
    rows = assert_rows_like_duckdb(con, duck, settled, sql)
    assert rows.column("name").to_pylist() == ["gus"]    # NULL dept_id: no department matches
