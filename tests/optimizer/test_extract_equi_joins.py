"""extract_equi_joins: two-sided WHERE conjuncts above an inner/cross join become its condition.

Each case: SQL -> bound plan -> extract_equi_joins once -> snapshot -> both plans
executed and compared. Cases that must not fire assert the very same plan object.
"""

from __future__ import annotations

from quarry.optimizer.rules import extract_equi_joins, push_down_filter

from rule_harness import apply_once, assert_plan, assert_same_rows, bound, rewrite, to_fixed_point


def test_comma_join_becomes_inner_join_and_one_sided_conjunct_stays_on_top(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e, dept d WHERE e.dept_id = d.id AND e.salary > 100")
    assert_plan(plan, """
        Project: e.name, d.dname
          Filter: ((e.dept_id = d.id) AND (e.salary > 100))
            Join: cross
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Scan: dept AS d columns=[id, dname, budget]
    """)
    new = rewrite(extract_equi_joins, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Filter: (e.salary > 100)
            Join: inner on (e.dept_id = d.id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Scan: dept AS d columns=[id, dname, budget]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["bob", "cat", "eve"]


def test_non_equality_two_sided_conjunct_joins_the_existing_condition(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id "
                      "WHERE e.salary * 5 > d.budget")
    new = rewrite(extract_equi_joins, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: inner on ((e.dept_id = d.id) AND (CAST((e.salary * 5) AS DOUBLE) > d.budget))
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Scan: dept AS d columns=[id, dname, budget]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["cat", "eve"]


def test_three_way_comma_join_needs_push_down_filter_to_key_the_lower_join(con):
    sql = ("SELECT e.name, m.name AS mate FROM emp e, dept d, emp m "
           "WHERE e.dept_id = d.id AND m.dept_id = d.id AND e.id < m.id")
    plan = bound(con, sql)
    once = rewrite(extract_equi_joins, plan)
    # only the top join's conjuncts move; `e.dept_id = d.id` is about the lower join's inputs
    assert_plan(once, """
        Project: e.name, m.name AS mate
          Filter: (e.dept_id = d.id)
            Join: inner on ((m.dept_id = d.id) AND (e.id < m.id))
              Join: cross
                Scan: emp AS e columns=[id, dept_id, salary, name]
                Scan: dept AS d columns=[id, dname, budget]
              Scan: emp AS m columns=[id, dept_id, salary, name]
    """)
    assert_same_rows(con, plan, once)
    # with push_down_filter (the 'pushdown' batch) the lower cross join gets its key too
    keyed = to_fixed_point(plan, extract_equi_joins, push_down_filter)
    assert_plan(keyed, """
        Project: e.name, m.name AS mate
          Join: inner on ((m.dept_id = d.id) AND (e.id < m.id))
            Join: inner on (e.dept_id = d.id)
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Scan: dept AS d columns=[id, dname, budget]
            Scan: emp AS m columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, keyed)
    assert sorted(zip(rows.column("name").to_pylist(), rows.column("mate").to_pylist())) == [
        ("ann", "bob"), ("cat", "dan"), ("cat", "eve"), ("dan", "eve")]


def test_only_one_sided_conjuncts_leave_the_cross_join_alone(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e, dept d WHERE e.salary > 250 AND d.budget < 600")
    assert apply_once(extract_equi_joins, plan) is plan


def test_non_deterministic_two_sided_conjunct_is_not_moved(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e, dept d WHERE e.dept_id + random() * 0 = d.id")
    assert apply_once(extract_equi_joins, plan) is plan


def test_filter_above_left_join_is_not_moved_into_its_condition(con):
    # WHERE and ON differ for outer joins: in ON, a failing row is NULL-extended, not dropped
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                      "WHERE e.salary * 5 > d.budget")
    assert apply_once(extract_equi_joins, plan) is plan


def test_extraction_is_idempotent(con):
    plan = bound(con, "SELECT e.name FROM emp e, dept d WHERE e.dept_id = d.id AND e.salary > 100")
    once = apply_once(extract_equi_joins, plan)
    assert apply_once(extract_equi_joins, once) is once
