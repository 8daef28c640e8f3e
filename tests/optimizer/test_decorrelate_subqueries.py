"""decorrelate_subqueries: EXISTS / IN / scalar subqueries become semi, anti and left joins.

The physical planner cannot run subquery expressions, so the plan before cannot be
executed: each case snapshots the rewritten plan, runs it (no optimizer) and
compares its rows with DuckDB's answer to the original SQL.
"""

from __future__ import annotations

import pytest

from quarry.errors import QuarryError, UnsupportedError
from quarry.logical.plan import has_subquery
from quarry.optimizer.rules import decorrelate_subqueries

from rule_harness import apply_once, assert_plan, assert_rows_like_duckdb, bound, execute, rewrite


def _decorrelate(con, sql):
    plan = bound(con, sql)
    assert has_subquery(plan)
    new = rewrite(decorrelate_subqueries, plan)
    assert not has_subquery(new)
    return plan, new


def test_correlated_exists_becomes_semi_join_on_pulled_up_predicate(con, duck):
    sql = ("SELECT d.dname FROM dept d WHERE EXISTS "
           "(SELECT 1 FROM emp e WHERE e.dept_id = d.id AND e.salary > 120)")
    plan, new = _decorrelate(con, sql)
    assert_plan(plan, """
        Project: d.dname
          Filter: exists(subquery)
            Scan: dept AS d columns=[id, dname, budget]
            <Exists>
              Project: 1 AS 1
                Filter: ((e.dept_id = d.id) AND (e.salary > 120))
                  Scan: emp AS e columns=[id, dept_id, salary, name]
    """)
    assert_plan(new, """
        Project: d.dname
          Join: semi on (e.dept_id = d.id)
            Scan: dept AS d columns=[id, dname, budget]
            Project: 1 AS 1, e.dept_id
              Filter: (e.salary > 120)
                Scan: emp AS e columns=[id, dept_id, salary, name]
    """)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert sorted(rows.column("dname").to_pylist()) == ["eng", "ops"]


def test_not_exists_becomes_anti_join(con, duck):
    sql = "SELECT d.dname FROM dept d WHERE NOT EXISTS (SELECT 1 FROM emp e WHERE e.dept_id = d.id)"
    _, new = _decorrelate(con, sql)
    assert_plan(new, """
        Project: d.dname
          Join: anti on (e.dept_id = d.id)
            Scan: dept AS d columns=[id, dname, budget]
            Project: 1 AS 1, e.dept_id
              Scan: emp AS e columns=[id, dept_id, salary, name]
    """)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert rows.column("dname").to_pylist() == ["legal"]


def test_non_equality_correlation_goes_into_the_semi_join_condition(con, duck):
    sql = ("SELECT d.dname FROM dept d WHERE EXISTS "
           "(SELECT 1 FROM emp e WHERE e.dept_id = d.id AND e.salary > d.budget / 5)")
    _, new = _decorrelate(con, sql)
    assert_plan(new, """
        Project: d.dname
          Join: semi on ((e.dept_id = d.id) AND (CAST(e.salary AS DOUBLE) > (d.budget / 5.0)))
            Scan: dept AS d columns=[id, dname, budget]
            Project: 1 AS 1, e.dept_id, e.salary
              Scan: emp AS e columns=[id, dept_id, salary, name]
    """)
    assert_rows_like_duckdb(con, duck, new, sql)


def test_uncorrelated_exists_is_a_semi_join_on_one_row(con, duck):
    sql = "SELECT e.name FROM emp e WHERE EXISTS (SELECT 1 FROM dept d WHERE d.budget > 900)"
    _, new = _decorrelate(con, sql)
    assert_plan(new, """
        Project: e.name
          Join: semi
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Limit: 1
              Project: 1 AS 1
                Filter: (d.budget > 900.0)
                  Scan: dept AS d columns=[id, dname, budget]
    """)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert rows.num_rows == 8
    # and when the subquery is empty, no row qualifies
    empty = "SELECT e.name FROM emp e WHERE EXISTS (SELECT 1 FROM dept d WHERE d.budget > 5000)"
    assert assert_rows_like_duckdb(con, duck, rewrite(decorrelate_subqueries, bound(con, empty)), empty).num_rows == 0


def test_in_subquery_becomes_semi_join_on_equality(con, duck):
    sql = "SELECT e.name FROM emp e WHERE e.dept_id IN (SELECT d.id FROM dept d WHERE d.budget >= 500)"
    _, new = _decorrelate(con, sql)
    assert_plan(new, """
        Project: e.name
          Join: semi on (e.dept_id = d.id)
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Project: d.id
              Filter: (d.budget >= 500.0)
                Scan: dept AS d columns=[id, dname, budget]
    """)
    assert_rows_like_duckdb(con, duck, new, sql)


def test_not_in_is_a_null_aware_anti_join_dropping_null_probe_values(con, duck):
    sql = "SELECT e.name FROM emp e WHERE e.dept_id NOT IN (SELECT d.id FROM dept d WHERE d.budget >= 500)"
    _, new = _decorrelate(con, sql)
    assert_plan(new, """
        Project: e.name
          Join: anti (null-aware) on (e.dept_id = d.id)
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Project: d.id
              Filter: (d.budget >= 500.0)
                Scan: dept AS d columns=[id, dname, budget]
    """)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    # gus (NULL dept_id) is not NOT IN anything: NULL <> 10 is NULL
    assert sorted(rows.column("name").to_pylist()) == ["fay", "hal"]


def test_not_in_a_subquery_containing_null_returns_no_rows(con, duck):
    # the subquery yields fay's dept 30 and gus's NULL dept: every NOT IN is FALSE or NULL
    sql = "SELECT e.name FROM emp e WHERE e.dept_id NOT IN (SELECT e2.dept_id FROM emp e2 WHERE e2.salary < 100)"
    _, new = _decorrelate(con, sql)
    assert "Join: anti (null-aware) on (e.dept_id = e2.dept_id)" in new.pretty()
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert rows.num_rows == 0


def test_uncorrelated_scalar_subquery_is_a_left_join_on_a_checked_single_row(con, duck):
    sql = "SELECT name FROM emp WHERE salary > (SELECT avg(salary) FROM emp)"
    _, new = _decorrelate(con, sql)
    assert_plan(new, """
        Project: emp.name
          Project: emp.id, emp.dept_id, emp.salary, emp.name
            Filter: (CAST(emp.salary AS DOUBLE) > avg(salary))
              Join: left
                Scan: emp columns=[id, dept_id, salary, name]
                SingleRow
                  Project: avg(CAST(emp.salary AS DECIMAL(38,0))) AS avg(salary)
                    Aggregate: group=[] aggs=[avg(CAST(emp.salary AS DECIMAL(38,0))) AS avg(CAST(emp.salary AS DECIMAL(38,0)))]
                      Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert sorted(rows.column("name").to_pylist()) == ["bob", "cat", "eve"]


def test_scalar_subquery_returning_two_rows_fails_at_run_time(con, duck):
    sql = "SELECT name, (SELECT d.id FROM dept d WHERE d.budget > 300) AS x FROM emp"
    _, new = _decorrelate(con, sql)
    with pytest.raises(QuarryError, match="more than one row"):
        execute(con, new)
    with pytest.raises(Exception, match="More than one row"):
        duck.sql(sql).fetchall()


def test_correlated_count_is_grouped_joined_and_zero_for_empty_groups(con, duck):
    sql = "SELECT d.dname, (SELECT count(*) FROM emp e WHERE e.dept_id = d.id) AS n FROM dept d"
    plan, new = _decorrelate(con, sql)
    assert_plan(plan, """
        Project: d.dname, scalar-subquery(count_star()#{id}) AS n
          Scan: dept AS d columns=[id, dname, budget]
          <ScalarSubquery>
            Project: count_star(*) AS count_star()
              Aggregate: group=[] aggs=[count_star(*) AS count_star(*)]
                Filter: (e.dept_id = d.id)
                  Scan: emp AS e columns=[id, dept_id, salary, name]
    """.replace("{id}", str(plan.exprs[1].plan.schema[0].id)))
    # __matched is NULL exactly for departments without employees, which get count 0
    assert_plan(new, """
        Project: d.dname, CASE WHEN (__matched IS NULL) THEN 0 ELSE count_star() END AS n
          Join: left on (d.id = e.dept_id)
            Scan: dept AS d columns=[id, dname, budget]
            Project: count_star(*) AS count_star(), e.dept_id, __matched
              Project: count_star(*), e.dept_id, TRUE AS __matched
                Aggregate: group=[e.dept_id AS e.dept_id] aggs=[count_star(*) AS count_star(*)]
                  Scan: emp AS e columns=[id, dept_id, salary, name]
    """)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert {r["dname"]: r["n"] for r in rows.to_pylist()} == {"eng": 2, "ops": 3, "hr": 1, "legal": 0}


def test_correlated_scalar_aggregate_in_where(con, duck):
    sql = ("SELECT e.name FROM emp e WHERE e.salary >= "
           "(SELECT max(e2.salary) FROM emp e2 WHERE e2.dept_id = e.dept_id)")
    _, new = _decorrelate(con, sql)
    assert_plan(new, """
        Project: e.name
          Project: e.id, e.dept_id, e.salary, e.name
            Filter: (e.salary >= max(e2.salary))
              Join: left on (e.dept_id = e2.dept_id)
                Scan: emp AS e columns=[id, dept_id, salary, name]
                Project: max(e2.salary), e2.dept_id, __matched
                  Project: max(e2.salary), e2.dept_id, TRUE AS __matched
                    Aggregate: group=[e2.dept_id AS e2.dept_id] aggs=[max(e2.salary) AS max(e2.salary)]
                      Scan: emp AS e2 columns=[id, dept_id, salary, name]
    """)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert sorted(rows.column("name").to_pylist()) == ["bob", "eve", "fay", "hal"]


def test_scalar_subquery_in_having(con, duck):
    sql = ("SELECT e.dept_id, sum(e.salary) AS s FROM emp e GROUP BY e.dept_id "
           "HAVING sum(e.salary) > (SELECT avg(salary) FROM emp)")
    _, new = _decorrelate(con, sql)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert sorted(rows.column("dept_id").to_pylist()) == [10, 20]


def test_several_subqueries_in_one_where(con, duck):
    sql = ("SELECT e.name FROM emp e WHERE EXISTS (SELECT 1 FROM dept d WHERE d.id = e.dept_id) "
           "AND e.id NOT IN (SELECT e2.id FROM emp e2 WHERE e2.salary > 250) "
           "AND e.salary > (SELECT min(salary) FROM emp)")
    _, new = _decorrelate(con, sql)
    rows = assert_rows_like_duckdb(con, duck, new, sql)
    assert sorted(rows.column("name").to_pylist()) == ["ann", "bob", "cat"]


def test_plan_without_subqueries_is_left_alone(con):
    plan = bound(con, "SELECT e.name FROM emp e JOIN dept d ON e.dept_id = d.id WHERE d.budget > 300")
    assert apply_once(decorrelate_subqueries, plan) is plan


def test_exists_under_or_is_a_mark_computed_by_a_scalar_subquery(con, duck):
    sql = ("SELECT d.dname FROM dept d WHERE d.budget > 900 OR "
           "EXISTS (SELECT 1 FROM emp e WHERE e.dept_id = d.id)")
    _, new = _decorrelate(con, sql)
    assert_rows_like_duckdb(con, duck, new, sql)


def test_non_equality_correlated_count_is_a_dependent_join_on_the_domain(con, duck):
    sql = "SELECT e.name, (SELECT count(*) FROM emp x WHERE x.salary < e.salary) AS n FROM emp e"
    _, new = _decorrelate(con, sql)
    assert "Aggregate" in new.pretty()
    assert_rows_like_duckdb(con, duck, new, sql)


# ---------------------------------------------------------------------------------------- bugs


@pytest.mark.parametrize("value", ["count(*) + 1", "coalesce(sum(e.salary), 0)"])
def test_expression_over_correlated_aggregate_of_empty_group(con, duck, value):
    sql = f"SELECT d.dname, (SELECT {value} FROM emp e WHERE e.dept_id = d.id) AS n FROM dept d"
    _, new = _decorrelate(con, sql)
    assert_rows_like_duckdb(con, duck, new, sql)


def test_correlated_scalar_subquery_returning_two_rows_fails(con, duck):
    sql = "SELECT d.dname, (SELECT e.name FROM emp e WHERE e.dept_id = d.id) AS who FROM dept d"
    with pytest.raises(Exception, match="More than one row"):
        duck.sql(sql).fetchall()
    _, new = _decorrelate(con, sql)
    with pytest.raises(QuarryError, match="more than one row"):
        execute(con, new)
