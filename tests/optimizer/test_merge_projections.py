"""merge_projections: identity projections disappear, stacked ones merge unless work would repeat.

Each case: SQL -> bound plan -> (prerequisites) -> merge_projections once -> snapshot
-> both plans executed and compared in order. Cases that must not fire assert the
very same object.
"""

from __future__ import annotations

from quarry.optimizer.rules import merge_projections, prune_columns

from rule_harness import apply_once, assert_plan, assert_same_rows, bound, rewrite


def test_stacked_projections_from_a_derived_table_merge_into_one(con):
    plan = bound(con, "SELECT id, s FROM (SELECT id, salary * 2 AS s FROM emp) t")
    assert_plan(plan, """
        Project: t.id, t.s
          Project: emp.id, s
            Project: emp.id, (emp.salary * 2) AS s
              Scan: emp columns=[id, dept_id, salary, name]
    """)
    new = rewrite(merge_projections, plan)
    assert_plan(new, """
        Project: emp.id, (emp.salary * 2) AS s
          Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert [f.id for f in new.schema] == [f.id for f in plan.schema]
    assert_same_rows(con, plan, new, ordered=True)


def test_renaming_projection_merges_and_unused_columns_vanish(con):
    plan = bound(con, "SELECT t.n FROM (SELECT name AS n, salary FROM emp) t")
    new = rewrite(merge_projections, plan)
    assert_plan(new, """
        Project: emp.name AS n
          Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert_same_rows(con, plan, new, ordered=True)


def test_computed_column_used_twice_is_not_merged(con):
    plan = bound(con, "SELECT s + 1 AS a, s * 3 AS b FROM (SELECT salary * 2 AS s FROM emp) t")
    new = rewrite(merge_projections, plan)
    # only the identity projection in the middle goes; `salary * 2` is still computed once
    assert_plan(new, """
        Project: (t.s + 1) AS a, (t.s * 3) AS b
          Project: (emp.salary * 2) AS s
            Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert apply_once(merge_projections, new) is new
    assert_same_rows(con, plan, new, ordered=True)


def test_literal_used_twice_is_merged(con):
    plan = bound(con, "SELECT k + id AS a, k * id AS b FROM (SELECT id, 7 AS k FROM emp) t")
    new = rewrite(merge_projections, plan)
    assert_plan(new, """
        Project: (CAST(7 AS BIGINT) + emp.id) AS a, (CAST(7 AS BIGINT) * emp.id) AS b
          Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert_same_rows(con, plan, new, ordered=True)


def test_identity_projection_left_by_pruning_disappears(con):
    # prerequisite: prune_columns empties the derived table's projections down to the group key
    plan = rewrite(prune_columns, bound(
        con, "SELECT dept_id FROM (SELECT dept_id, sum(salary) AS s FROM emp GROUP BY dept_id) t"))
    assert_plan(plan, """
        Project: t.dept_id
          Project: emp.dept_id
            Project: emp.dept_id
              Aggregate: group=[emp.dept_id] aggs=[]
                Scan: emp columns=[dept_id]
    """)
    new = rewrite(merge_projections, plan)
    assert_plan(new, """
        Project: emp.dept_id
          Aggregate: group=[emp.dept_id] aggs=[]
            Scan: emp columns=[dept_id]
    """)
    assert_same_rows(con, plan, new)


def test_single_projection_is_left_alone(con):
    for sql in ("SELECT id, name FROM emp", "SELECT upper(name) AS u FROM emp"):
        plan = bound(con, sql)
        assert apply_once(merge_projections, plan) is plan


def test_merging_is_idempotent(con):
    once = rewrite(merge_projections, bound(con, "SELECT id, s FROM (SELECT id, salary * 2 AS s FROM emp) t"))
    assert apply_once(merge_projections, once) is once
