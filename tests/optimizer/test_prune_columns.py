"""prune_columns: read and compute only the columns a query needs; the root keeps its exact output.

Each case: SQL -> bound plan -> (prerequisites) -> prune_columns once -> snapshot ->
both plans executed and compared. Cases that must not fire assert the very same object.
"""

from __future__ import annotations

import pytest

from quarry.logical.expressions import ColumnRef
from quarry.logical.plan import Aggregate, Project, Window
from quarry.optimizer.rules import decorrelate_subqueries, prune_columns, push_down_filter

from rule_harness import apply_once, assert_plan, assert_same_rows, bound, execute, rewrite


def _schema(plan):
    return [(f.id, f.name, str(f.dtype)) for f in plan.schema]


def test_scan_reads_only_projected_and_filtered_columns(con):
    plan = bound(con, "SELECT name FROM emp WHERE salary > 100")
    new = rewrite(prune_columns, plan)
    assert_plan(new, """
        Project: emp.name
          Filter: (emp.salary > 100)
            Scan: emp columns=[salary, name]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["bob", "cat", "eve", "hal"]


def test_column_used_only_by_a_pushed_scan_filter_is_not_projected(con):
    # prerequisite: push_down_filter puts `day > 8` into the Parquet scan; the scan reads
    # `day` for the filter by itself, so only `kind` is projected
    plan = rewrite(push_down_filter, bound(con, "SELECT kind FROM events WHERE day > 8"))
    assert_plan(plan, """
        Project: events.kind
          Scan: events columns=[day, kind, amount] filters=[(events.day > 8)]
    """)
    new = rewrite(prune_columns, plan)
    assert_plan(new, """
        Project: events.kind
          Scan: events columns=[kind] filters=[(events.day > 8)]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("kind").to_pylist()) == ["a", "b", "c", "c"]


def test_unused_aggregates_are_dropped(con):
    plan = bound(con, "SELECT dept_id FROM (SELECT dept_id, sum(salary) AS s, max(name) AS m "
                      "FROM emp GROUP BY dept_id) t")
    new = rewrite(prune_columns, plan)
    assert_plan(new, """
        Project: t.dept_id
          Project: emp.dept_id
            Project: emp.dept_id
              Aggregate: group=[emp.dept_id] aggs=[]
                Scan: emp columns=[dept_id]
    """)
    rows = assert_same_rows(con, plan, new)
    assert rows.num_rows == 5      # 10, 20, 30, 40 and NULL


def test_join_inputs_keep_output_and_key_columns(con):
    plan = bound(con, "SELECT e.name, d.dname FROM emp e JOIN dept d ON e.dept_id = d.id")
    new = rewrite(prune_columns, plan)
    assert_plan(new, """
        Project: e.name, d.dname
          Join: inner on (e.dept_id = d.id)
            Scan: emp AS e columns=[dept_id, name]
            Scan: dept AS d columns=[id, dname]
    """)
    assert_same_rows(con, plan, new)


def test_semi_join_right_side_keeps_only_what_its_condition_and_filter_read(con):
    # prerequisite: decorrelate_subqueries turns IN (subquery) into a semi join
    plan = rewrite(decorrelate_subqueries, bound(
        con, "SELECT e.name FROM emp e WHERE e.dept_id IN (SELECT d.id FROM dept d WHERE d.budget > 300)"))
    new = rewrite(prune_columns, plan)
    assert_plan(new, """
        Project: e.name
          Join: semi on (e.dept_id = d.id)
            Scan: emp AS e columns=[dept_id, name]
            Project: d.id
              Filter: (d.budget > 300.0)
                Scan: dept AS d columns=[id, budget]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("name").to_pylist()) == ["ann", "bob", "cat", "dan", "eve"]


def test_sort_key_columns_are_kept_below_the_sort(con):
    plan = bound(con, "SELECT name FROM emp ORDER BY salary LIMIT 3")
    new = rewrite(prune_columns, plan)
    assert_plan(new, """
        Project: emp.name
          Limit: 3
            Sort: __order1 ASC NULLS LAST
              Project: emp.name, emp.salary AS __order1
                Scan: emp columns=[salary, name]
    """)
    rows = assert_same_rows(con, plan, new, ordered=True)
    assert rows.column("name").to_pylist() == ["fay", "gus", "ann"]


def test_union_inputs_keep_every_column(con):
    plan = bound(con, "SELECT id FROM (SELECT id, dept_id FROM emp UNION ALL SELECT id, id FROM dept) t")
    new = rewrite(prune_columns, plan)
    # positional inputs: pruning stops at the Union and starts afresh below it
    assert_plan(new, """
        Project: t.id
          Project: id
            Union: [id, dept_id]
              Project: emp.id, emp.dept_id
                Scan: emp columns=[id, dept_id]
              Project: dept.id, dept.id
                Scan: dept columns=[id]
    """)
    assert_same_rows(con, plan, new)


def test_count_star_reads_no_columns_but_keeps_row_counts(con):
    for table, n in (("emp", 8), ("events", 12)):
        plan = bound(con, f"SELECT count(*) AS n FROM {table}")
        new = rewrite(prune_columns, plan)
        assert new.pretty().endswith(f"Scan: {table} columns=[]")
        rows = assert_same_rows(con, plan, new)
        assert rows.to_pylist() == [{"n": n}]


def test_unused_window_is_removed(con):
    sql = "SELECT dept_id, salary, rank() OVER (PARTITION BY dept_id ORDER BY salary) AS r FROM emp"
    window = next(n for n in bound(con, sql).walk() if isinstance(n, Window))
    name = next(f for f in window.input.schema if f.name == "name")
    plan = Project(window, (ColumnRef(name),), (name,))      # built by hand: nothing reads rank()
    new = rewrite(prune_columns, plan)
    assert_plan(new, """
        Project: emp.name
          Scan: emp columns=[name]
    """)
    assert_same_rows(con, plan, new)


def test_root_keeps_its_exact_output_even_when_nothing_above_reads_it(con):
    # the Aggregate as the root of the plan: its unused-looking aggregates are the output
    aggregate = next(n for n in bound(con, "SELECT dept_id, sum(salary) AS s, max(name) AS m FROM emp "
                                           "GROUP BY dept_id").walk() if isinstance(n, Aggregate))
    new = rewrite(prune_columns, aggregate)
    assert _schema(new) == _schema(aggregate)
    assert_plan(new, """
        Aggregate: group=[emp.dept_id] aggs=[sum(CAST(emp.salary AS DECIMAL(38,0))) AS sum(CAST(emp.salary AS DECIMAL(38,0))), max(emp.name) AS max(emp.name)]
          Scan: emp columns=[dept_id, salary, name]
    """)
    assert_same_rows(con, aggregate, new)


@pytest.mark.parametrize("sql", [
    "SELECT e.*, d.dname FROM emp e LEFT JOIN dept d ON e.dept_id = d.id",
    "SELECT name, salary * 2 AS twice FROM emp WHERE dept_id = 20 ORDER BY twice",
    "SELECT dept_id, count(*) AS n, avg(salary) AS a FROM emp GROUP BY dept_id",
])
def test_root_schema_is_unchanged(con, sql):
    plan = bound(con, sql)
    new = rewrite(prune_columns, plan)
    assert _schema(new) == _schema(plan)
    assert_same_rows(con, plan, new)


def test_pruning_is_idempotent(con):
    plan = rewrite(prune_columns, bound(con, "SELECT e.name FROM emp e JOIN dept d ON e.dept_id = d.id "
                                             "WHERE d.budget > 300"))
    assert apply_once(prune_columns, plan) is plan


# ---------------------------------------------------------------------------------------- bugs


def test_global_aggregate_with_unread_aggregates_still_returns_one_row(con):
    plan = bound(con, "SELECT 1 AS one FROM (SELECT count(*) AS c FROM emp) s")
    new = rewrite(prune_columns, plan)
    assert execute(con, plan).to_pylist() == [{"one": 1}]
    assert_same_rows(con, plan, new)


def test_select_star_needs_no_pruning(con):
    plan = bound(con, "SELECT * FROM emp")
    assert apply_once(prune_columns, plan) is plan
