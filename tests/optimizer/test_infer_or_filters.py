"""infer_or_filters: derive per-table ORs implied by an OR that spans tables (TPC-H Q7, Q19).

Each case: SQL -> bound plan -> infer_or_filters once -> snapshot -> both plans
executed and compared. Cases that must not fire assert the very same object.
"""

from __future__ import annotations

from quarry.optimizer.rules import extract_equi_joins, infer_or_filters, push_down_filter

from rule_harness import apply_once, assert_plan, assert_same_rows, bound, rewrite, to_fixed_point

CROSS_TABLE_OR = ("SELECT e.name, d.dname FROM emp e, dept d WHERE e.dept_id = d.id AND "
                  "((d.dname = 'eng' AND e.salary > 150) OR (d.dname = 'ops' AND e.salary < 200))")


def test_each_table_gets_the_or_of_its_own_conjuncts(con):
    plan = bound(con, CROSS_TABLE_OR)
    new = rewrite(infer_or_filters, plan)
    # the original OR stays; the two derived ORs are implied by it
    assert_plan(new, """
        Project: e.name, d.dname
          Filter: ((((e.dept_id = d.id) AND (((d.dname = 'eng') AND (e.salary > 150)) OR ((d.dname = 'ops') AND (e.salary < 200)))) AND ((e.salary > 150) OR (e.salary < 200))) AND ((d.dname = 'eng') OR (d.dname = 'ops')))
            Join: cross
              Scan: emp AS e columns=[id, dept_id, salary, name]
              Scan: dept AS d columns=[id, dname, budget]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["bob", "cat"]


def test_derived_filters_reach_the_scans_with_pushdown(con):
    new = to_fixed_point(rewrite(infer_or_filters, bound(con, CROSS_TABLE_OR)), extract_equi_joins, push_down_filter)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: inner on ((e.dept_id = d.id) AND (((d.dname = 'eng') AND (e.salary > 150)) OR ((d.dname = 'ops') AND (e.salary < 200))))
            Scan: emp AS e columns=[id, dept_id, salary, name] filters=[((e.salary > 150) OR (e.salary < 200))]
            Scan: dept AS d columns=[id, dname, budget] filters=[((d.dname = 'eng') OR (d.dname = 'ops'))]
    """)
    assert_same_rows(con, bound(con, CROSS_TABLE_OR), new)


def test_or_with_a_branch_lacking_a_table_derives_nothing_for_it(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e, dept d "
                      "WHERE e.dept_id = d.id AND (d.dname = 'eng' OR e.salary > 250)")
    assert apply_once(infer_or_filters, plan) is plan


def test_single_table_or_is_left_alone(con):
    plan = bound(con, "SELECT e.name FROM emp e WHERE e.salary > 250 OR e.id = 1")
    assert apply_once(infer_or_filters, plan) is plan


def test_or_above_left_join_is_left_alone(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id "
                      "WHERE (d.dname = 'eng' AND e.salary > 150) OR (d.dname = 'ops' AND e.salary < 200)")
    assert apply_once(infer_or_filters, plan) is plan


def test_inference_is_idempotent(con):
    once = rewrite(infer_or_filters, bound(con, CROSS_TABLE_OR))
    assert apply_once(infer_or_filters, once) is once
