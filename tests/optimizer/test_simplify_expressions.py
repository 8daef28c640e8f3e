"""simplify_expressions: constant folding and boolean simplification under three-valued logic.

Each case: SQL -> bound plan -> simplify_expressions once -> snapshot -> both plans
executed and compared. Cases that must not fire assert the very same plan object.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from quarry.errors import QuarryError
from quarry.optimizer.rules import simplify_expressions

from rule_harness import apply_once, assert_plan, assert_same_rows, bound, execute, rewrite


def test_constants_fold_and_true_conjunct_disappears(con):
    plan = bound(con, "SELECT id FROM emp WHERE salary > 1 + 1 AND TRUE")
    assert_plan(plan, """
        Project: emp.id
          Filter: ((emp.salary > (1 + 1)) AND TRUE)
            Scan: emp columns=[id, dept_id, salary, name]
    """)
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: emp.id
          Filter: (emp.salary > 2)
            Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new)
    assert rows.num_rows == 7


def test_constants_fold_in_projections_with_the_executor_kernels(con):
    plan = bound(con, "SELECT id + 2 * 3 AS x, upper('ab') || 'c' AS s FROM emp")
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: (emp.id + 6) AS x, 'ABc' AS s
          Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert_same_rows(con, plan, new)


def test_common_factor_is_pulled_out_of_or(con):
    plan = bound(con, "SELECT id FROM emp WHERE (dept_id = 20 AND salary > 100) OR (dept_id = 20 AND name = 'dan')")
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: emp.id
          Filter: ((emp.dept_id = 20) AND ((emp.salary > 100) OR (emp.name = 'dan')))
            Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new)
    # dan has a NULL salary: NULL OR TRUE is TRUE on both sides of the rewrite
    assert sorted(rows.column("id").to_pylist()) == [3, 4, 5]


def test_or_branch_equal_to_the_common_factor_absorbs_the_others(con):
    plan = bound(con, "SELECT id FROM emp WHERE dept_id = 20 OR (dept_id = 20 AND salary > 100)")
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: emp.id
          Filter: (emp.dept_id = 20)
            Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert_same_rows(con, plan, new)


def test_or_without_common_factor_is_untouched(con):
    plan = bound(con, "SELECT id FROM emp WHERE (dept_id = 20 AND salary > 100) OR (dept_id = 10 AND name = 'ann')")
    assert apply_once(simplify_expressions, plan) is plan


def test_false_and_duplicate_disjuncts_are_dropped(con):
    plan = bound(con, "SELECT id FROM emp WHERE salary > 100 OR FALSE OR salary > 100")
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: emp.id
          Filter: (emp.salary > 100)
            Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert_same_rows(con, plan, new)


def test_negations_are_pushed_into_comparisons_and_null_tests(con):
    plan = bound(con, "SELECT id FROM emp WHERE NOT (salary < 150) AND NOT NOT (dept_id = 20) "
                      "AND salary IS NOT NULL")
    assert_plan(plan, """
        Project: emp.id
          Filter: (((NOT (emp.salary < 150)) AND (NOT (NOT (emp.dept_id = 20)))) AND (NOT (emp.salary IS NULL)))
            Scan: emp columns=[id, dept_id, salary, name]
    """)
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: emp.id
          Filter: (((emp.salary >= 150) AND (emp.dept_id = 20)) AND (emp.salary IS NOT NULL))
            Scan: emp columns=[id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new)
    assert sorted(rows.column("id").to_pylist()) == [3, 5]   # dan's NULL salary: NOT NULL is NULL


def test_always_true_filter_disappears(con):
    plan = bound(con, "SELECT id FROM emp WHERE 1 = 1")
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: emp.id
          Scan: emp columns=[id, dept_id, salary, name]
    """)
    assert_same_rows(con, plan, new)


def test_always_false_filter_becomes_empty_values_and_count_stays_zero(con):
    plan = bound(con, "SELECT count(*) AS n FROM emp WHERE salary > 100 AND 1 = 0")
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: count_star(*) AS n
          Aggregate: group=[] aggs=[count_star(*) AS count_star(*)]
            Values: 0 rows [id, dept_id, salary, name]
    """)
    rows = assert_same_rows(con, plan, new)
    assert rows.to_pylist() == [{"n": 0}]


def test_null_filter_keeps_no_rows(con):
    plan = bound(con, "SELECT id FROM emp WHERE NULL")
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: emp.id
          Values: 0 rows [id, dept_id, salary, name]
    """)
    assert_same_rows(con, plan, new)


def test_constant_true_conjunct_of_join_condition_disappears(con):
    plan = bound(con, "SELECT e.id FROM emp e JOIN dept d ON e.dept_id = d.id AND 2 > 1")
    new = rewrite(simplify_expressions, plan)
    assert_plan(new, """
        Project: e.id
          Join: inner on (e.dept_id = d.id)
            Scan: emp AS e columns=[id, dept_id, salary, name]
            Scan: dept AS d columns=[id, dname, budget]
    """)
    assert_same_rows(con, plan, new)


def test_constant_call_that_fails_is_left_for_run_time(con):
    plan = bound(con, "SELECT id, CAST('x' || 'y' AS INTEGER) AS bad FROM emp")
    new = rewrite(simplify_expressions, plan)
    # the concatenation folds; the failing cast stays, so the error still names the value at run time
    assert_plan(new, """
        Project: emp.id, CAST('xy' AS INTEGER) AS bad
          Scan: emp columns=[id, dept_id, salary, name]
    """)
    for p in (plan, new):
        with pytest.raises(QuarryError, match="'xy'"):
            execute(con, p)


def test_nothing_to_simplify_returns_the_same_plan(con):
    plan = bound(con, "SELECT id FROM emp WHERE salary > 100 AND random() < 2.0")
    assert apply_once(simplify_expressions, plan) is plan


def test_simplification_is_idempotent(con):
    plan = bound(con, "SELECT id FROM emp WHERE (dept_id = 20 AND NOT (salary < 1 + 1)) OR (dept_id = 20 AND TRUE)")
    once = apply_once(simplify_expressions, plan)
    assert once is not plan
    assert apply_once(simplify_expressions, once) is once
    assert_same_rows(con, plan, once)


# ------------------------------------------------------------------- regressions (bugs these tests found)


def test_negated_float_comparison_keeps_nan_rows(con):
    # NOT (x < 2) is not x >= 2 for NaN under quarry's IEEE comparison kernels (NaN compares
    # FALSE both ways): the negation must stay for floating operands
    con.register("m", pa.table({"x": pa.array([1.0, float("nan"), 3.0, None], pa.float64())}))
    plan = bound(con, "SELECT x FROM m WHERE NOT (x < 2)")
    new = rewrite(simplify_expressions, plan)
    rows = assert_same_rows(con, plan, new)
    assert rows.num_rows == 2          # NaN and 3.0, as DuckDB answers


def test_duplicate_random_conjuncts_are_not_merged(con):
    # `random() < 0.5 AND random() < 0.5` is two draws (keeps ~25% of rows), not one (~50%)
    con.register("r", pa.table({"i": pa.array(range(20_000), pa.int64())}))
    plan = bound(con, "SELECT count(*) AS n FROM r WHERE random() < 0.5 AND random() < 0.5")
    new = rewrite(simplify_expressions, plan)
    assert new.pretty().count("random()") == 2
    kept = execute(con, new).column("n")[0].as_py()
    assert 4_000 < kept < 6_000          # expectation 5 000, standard deviation about 61
