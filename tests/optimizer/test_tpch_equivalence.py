"""The optimizer keeps meaning: every TPC-H query with (almost) no rules, and with each rule left out,
gives DuckDB's answer on SF 0.01.

``tests/test_tpch.py`` checks the 22 queries with every rule on. Here the rules
are taken away, so a rule's rewrite cannot hide behind another's:

1. **With as few rules as possible.** Each query runs with every rule disabled
   except the ones it cannot do without. ``decorrelate_subqueries`` cannot be
   disabled at all (the physical planner has no subquery operator). Without
   ``extract_equi_joins`` and ``push_down_filter`` a comma join stays a cross
   join, and 15 of the queries then build cross products of 10^7 to 10^20 rows
   (Q2 was killed for lack of memory when tried; Q11 and Q16 ran out of memory
   with a 10 GB limit). So each query runs with the first of ``FEWEST_RULES``
   whose plan has no join without equality keys (a nested-loop join) of more
   than ``MAX_CROSS_ROWS`` row pairs, estimated with
   ``quarry.logical.statistics``: decorrelation alone (Q1, Q4, Q6, Q13, Q15,
   Q20, Q22); or with those two join rules (Q2, Q3, Q5, Q7, Q8, Q9, Q10, Q11,
   Q12, Q14, Q16, Q17, Q18, Q21); or, for Q19, also with
   ``simplify_expressions``, which factors the join key out of Q19's OR (the
   OR alone makes a nested-loop join of 10^8 pairs). No query is skipped: one
   that fits none of them fails. (A tiny generated dataset would not do
   instead: a five-table cross product is still 10^8 rows when every table
   has 40.) A run that passes ``TIME_LIMIT_S`` is cancelled and fails.
2. **Leaving one rule out.** For each rule that can be disabled, all 22
   queries run with only that rule disabled; a combination whose plan still
   holds a join without condition above ``MAX_CROSS_ROWS`` rows (disabling
   ``extract_equi_joins``, say) is left out, and named in the failure text.

Every answer is compared with DuckDB's (ordered when the query has an ORDER BY).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlglot

import quarry
from quarry.errors import ExecutionError
from quarry.logical.plan import Join
from quarry.logical.statistics import estimate_rows
from quarry.optimizer import rules as rules_package
from quarry.optimizer.driver import Optimizer
from quarry.optimizer.rules import BATCHES
from quarry.physical.planner import split_join_condition
from quarry.testing import assert_tables_equal
from quarry.tpch import QUERY_NUMBERS, load_query, register_tables

MAX_CROSS_ROWS = 1e6
TIME_LIMIT_S = 60.0
RULE_NAMES = Optimizer(BATCHES).rule_names()
REQUIRED = Optimizer(BATCHES).required_rules()
EXCLUDABLE = [n for n in RULE_NAMES if n not in REQUIRED]
JOIN_KEY_RULES = ["extract_equi_joins", "push_down_filter"]
# the rule sets tried in turn by test 1 (decorrelate_subqueries always runs)
FEWEST_RULES = [[], JOIN_KEY_RULES, JOIN_KEY_RULES + ["simplify_expressions"]]
NEEDS = {**{n: [] for n in (1, 4, 6, 13, 15, 20, 22)}, 19: FEWEST_RULES[2],
         **{n: JOIN_KEY_RULES for n in (2, 3, 5, 7, 8, 9, 10, 11, 12, 14, 16, 17, 18, 21)}}


def _ordered(sql: str) -> bool:
    return sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None


@pytest.fixture(scope="module")
def duckdb_answers(duckdb_tpch):
    return {n: duckdb_tpch.sql(load_query(n)).to_arrow_table() for n in QUERY_NUMBERS}


def _session(tpch_sf001, disabled) -> quarry.Session:
    return register_tables(quarry.connect(disabled_rules=list(disabled)), tpch_sf001)


def _largest_nested_loop(con, sql) -> float:
    """Estimated row pairs of the biggest join without equality keys (a nested-loop join) in
    ``con``'s optimized plan of ``sql``."""
    plan = con.optimize(con.sql(sql).logical_plan)
    sizes = [estimate_rows(j.left) * estimate_rows(j.right) for j in plan.walk() if isinstance(j, Join)
             and not split_join_condition(j.condition, set(j.left.schema_ids), set(j.right.schema_ids))[0]]
    return max(sizes, default=0.0)


def _largest_cross_product(con, sql) -> float:
    """Estimated rows of the biggest join without any condition in ``con``'s optimized plan of ``sql``.

    Laxer than :func:`_largest_nested_loop`: a nested-loop join with a condition runs on the
    rows left after filtering, which with all other rules on is far below the estimate (Q19
    without simplify_expressions runs in a second).
    """
    plan = con.optimize(con.sql(sql).logical_plan)
    sizes = [estimate_rows(j.left) * estimate_rows(j.right) for j in plan.walk()
             if isinstance(j, Join) and j.condition is None and j.kind in ("inner", "cross")]
    return max(sizes, default=0.0)


def _run_with_time_limit(con, sql):
    timer = threading.Timer(TIME_LIMIT_S, con.cancel)
    timer.start()
    try:
        return con.sql(sql).to_arrow()
    except ExecutionError as exc:
        if "cancelled" in str(exc):
            pytest.fail(f"took more than {TIME_LIMIT_S:.0f} s with rules {con.config['disabled_rules']} disabled")
        raise
    finally:
        timer.cancel()


def test_rule_list_is_complete():
    """Every rule module in quarry/optimizer/rules runs in some batch, and every rule in a batch is a module."""
    folder = Path(rules_package.__file__).parent
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    assert set(RULE_NAMES) == modules
    assert set(JOIN_KEY_RULES) <= set(EXCLUDABLE)
    assert {"push_down_filter", "extract_equi_joins", "reorder_joins", "prune_columns"} <= set(EXCLUDABLE)


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_fewest_rules_give_duckdbs_answer(n, tpch_sf001, duckdb_answers):
    sql = load_query(n)
    tried = []
    for kept in FEWEST_RULES:
        con = _session(tpch_sf001, [r for r in EXCLUDABLE if r not in kept])
        cross = _largest_nested_loop(con, sql)
        if cross <= MAX_CROSS_ROWS:
            break
        tried.append(f"{kept or 'decorrelation alone'}: a cross product of ~{cross:.1e} rows")
    else:
        pytest.fail(f"Q{n}: no rule set of {FEWEST_RULES} is affordable: " + "; ".join(tried))
    # which rules a query needs follows from the data and the rules; pinned, so coverage cannot shrink unseen
    assert kept == NEEDS[n], f"Q{n} ran with {kept or 'decorrelation alone'}"
    expected = duckdb_answers[n]
    assert expected.num_rows > 0
    assert_tables_equal(_run_with_time_limit(con, sql), expected, ordered=_ordered(sql))


@pytest.mark.parametrize("rule", EXCLUDABLE)
def test_disabling_any_one_rule_keeps_every_tpch_answer(rule, tpch_sf001, duckdb_answers):
    con = _session(tpch_sf001, [rule])
    wrong, left_out = [], []
    for n in QUERY_NUMBERS:
        sql = load_query(n)
        if _largest_cross_product(con, sql) > MAX_CROSS_ROWS:
            left_out.append(n)
            continue
        try:
            assert_tables_equal(con.sql(sql).to_arrow(), duckdb_answers[n], ordered=_ordered(sql))
        except AssertionError as exc:
            wrong.append(f"Q{n}: {exc}")
    assert not wrong, f"without {rule} (queries left out: {left_out}):\n" + "\n".join(wrong)
    assert len(left_out) < len(QUERY_NUMBERS)
