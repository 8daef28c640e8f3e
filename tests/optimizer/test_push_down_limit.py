"""push_down_limit: LIMIT becomes a top-k Sort, moves below projections, into UNION ALL inputs.

Each case: SQL -> bound plan -> push_down_limit once (or to a fixed point, as its
FixedPoint batch does) -> snapshot -> both plans executed and compared (in order
when the query has ORDER BY). Cases that must not fire assert the very same object.
"""

from __future__ import annotations

import pytest

from quarry.optimizer.rules import push_down_limit

from rule_harness import apply_once, assert_plan, assert_same_rows, bound, execute, rewrite, to_fixed_point


def test_limit_over_sort_becomes_top_k(con):
    plan = bound(con, "SELECT id, salary FROM emp ORDER BY salary DESC LIMIT 3")
    assert_plan(plan, """
        Limit: 3
          Sort: emp.salary DESC NULLS LAST
            Project: emp.id, emp.salary
              Scan: emp columns=[id, dept_id, salary, name]
    """)
    new = rewrite(push_down_limit, plan)
    assert_plan(new, """
        Limit: 3
          Sort: emp.salary DESC NULLS LAST fetch=3
            Project: emp.id, emp.salary
              Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new, ordered=True)
    assert rows.column("id").to_pylist() == [5, 2, 3]


def test_top_k_fetches_offset_plus_limit_rows(con):
    plan = bound(con, "SELECT id, salary FROM emp ORDER BY salary DESC LIMIT 2 OFFSET 1")
    new = rewrite(push_down_limit, plan)
    assert_plan(new, """
        Limit: 2 offset=1
          Sort: emp.salary DESC NULLS LAST fetch=3
            Project: emp.id, emp.salary
              Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new, ordered=True)
    assert rows.column("id").to_pylist() == [2, 3]


def test_top_k_over_aggregate_with_tie_breaker(con):
    plan = bound(con, "SELECT dept_id, count(*) AS n FROM emp GROUP BY dept_id ORDER BY n DESC, dept_id LIMIT 2")
    new = rewrite(push_down_limit, plan)
    assert_plan(new, """
        Limit: 2
          Sort: n DESC NULLS LAST, emp.dept_id ASC NULLS LAST fetch=2
            Project: emp.dept_id, count_star(*) AS n
              Aggregate: group=[emp.dept_id] aggs=[count_star(*) AS count_star(*)]
                Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new, ordered=True)
    assert rows.to_pylist() == [{"dept_id": 20, "n": 3}, {"dept_id": 10, "n": 2}]


def test_existing_smaller_top_k_is_left_alone(con):
    plan = rewrite(push_down_limit, bound(con, "SELECT id, salary FROM emp ORDER BY salary DESC LIMIT 3"))
    assert apply_once(push_down_limit, plan) is plan


def test_limit_zero_is_an_empty_top_k(con):
    plan = bound(con, "SELECT id FROM emp ORDER BY id LIMIT 0")
    new = rewrite(push_down_limit, plan)
    assert_plan(new, """
        Limit: 0
          Sort: emp.id ASC NULLS LAST fetch=0
            Project: emp.id
              Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert execute(con, new).num_rows == 0


def test_limit_moves_below_projections(con):
    plan = bound(con, "SELECT * FROM (SELECT id, salary * 2 AS s FROM emp) t LIMIT 3")
    new = rewrite(push_down_limit, plan)
    assert_plan(new, """
        Project: t.id, t.s
          Project: emp.id, s
            Project: emp.id, (emp.salary * 2) AS s
              Limit: 3
                Scan: emp columns=[id, dept_id, salary, name]
    """)
    # no ORDER BY: any 3 rows are an answer; the inline executor reads in table order on both sides
    rows = assert_same_rows(con, plan, new)
    assert rows.num_rows == 3


def test_limit_stops_above_filter(con):
    plan = bound(con, "SELECT id FROM emp WHERE salary > 100 LIMIT 2")
    new = rewrite(push_down_limit, plan)
    assert_plan(new, """
        Project: emp.id
          Limit: 2
            Filter: (emp.salary > 100)
              Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert apply_once(push_down_limit, new) is new
    rows = assert_same_rows(con, plan, new)
    assert rows.column("id").to_pylist() == [2, 3]


def test_limit_stops_above_join_and_aggregate(con):
    plan = bound(con, "SELECT e.dept_id, count(*) AS n FROM emp e JOIN dept d ON e.dept_id = d.id "
                      "GROUP BY e.dept_id LIMIT 2")
    new = to_fixed_point(plan, push_down_limit)
    assert_plan(new, """
        Project: e.dept_id, count_star(*) AS n
          Limit: 2
            Aggregate: group=[e.dept_id] aggs=[count_star(*) AS count_star(*)]
              Join: inner on (e.dept_id = d.id)
                Scan: emp AS e columns=[id, dept_id, salary, name]
                Scan: dept AS d columns=[id, dname, budget]
    """)
    assert execute(con, new).num_rows == 2


def test_stacked_limits_merge_with_their_offsets(con):
    plan = bound(con, "SELECT * FROM (SELECT id FROM emp ORDER BY id LIMIT 5 OFFSET 1) t LIMIT 10 OFFSET 2")
    new = rewrite(push_down_limit, plan)
    # rows 2..6 of the sort, then skip 2: rows 4..6, i.e. offset 3 and at most 5 - 2 = 3 rows
    assert_plan(new, """
        Project: t.id
          Project: emp.id
            Limit: 3 offset=3
              Sort: emp.id ASC NULLS LAST
                Project: emp.id
                  Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new, ordered=True)
    assert rows.column("id").to_pylist() == [4, 5, 6]
    # the next round of the FixedPoint batch turns the merged limit into a top-k
    fixed = to_fixed_point(new, push_down_limit)
    assert "Sort: emp.id ASC NULLS LAST fetch=6" in fixed.pretty()
    assert_same_rows(con, plan, fixed, ordered=True)


def test_limit_is_copied_into_union_all_inputs(con):
    plan = bound(con, "SELECT id FROM emp UNION ALL SELECT id FROM dept LIMIT 2")
    new = rewrite(push_down_limit, plan)
    assert_plan(new, """
        Limit: 2
          Union: [id]
            Project: emp.id
              Limit: 2
                Scan: emp columns=[id, dept_id, salary, name]
            Project: dept.id
              Limit: 2
                Scan: dept columns=[id, dname, budget]
    """)
    # LIMIT without ORDER BY may return any two rows (partitions run in parallel): both plans
    # must give two of the union's rows, not necessarily the same two
    everything = execute(con, bound(con, "SELECT id FROM emp UNION ALL SELECT id FROM dept"))
    pool = everything.column(0).to_pylist()
    for rows in (execute(con, plan), execute(con, new)):
        got = rows.column(0).to_pylist()
        assert len(got) == 2 and all(got.count(v) <= pool.count(v) for v in got)


def test_limit_without_sort_or_projection_below_does_not_fire(con):
    plan = bound(con, "SELECT dept_id, count(*) AS n FROM emp GROUP BY dept_id")
    assert apply_once(push_down_limit, plan) is plan


# ---------------------------------------------------------------------------------------- bugs


def test_limit_over_union_all_reaches_a_fixed_point(con):
    once = rewrite(push_down_limit, bound(con, "SELECT id FROM emp UNION ALL SELECT id FROM dept LIMIT 2"))
    twice = apply_once(push_down_limit, once)
    assert twice.pretty() == once.pretty()
    assert twice is once
