"""The optimizer driver: disabling rules by name, EXPLAIN VERBOSE, the schema check, idempotence.

The idempotence checks run every TPC-H query through the real batches up to a
rule, then apply that rule twice: a Once batch must not need a second round, and
a FixedPoint batch must settle before its round limit.
"""

from __future__ import annotations

import re

import pytest

import quarry
from quarry.errors import PlanError
from quarry.logical.expressions import ColumnRef
from quarry.logical.plan import Filter, Project, Scan
from quarry.optimizer.driver import Optimizer, Trace
from quarry.optimizer.rule import Batch, FixedPoint, Once, OptimizerContext, Rule
from quarry.optimizer.rules import BATCHES
from quarry.testing import assert_tables_equal
from quarry.tpch import QUERY_NUMBERS, load_query
from quarry.tpch.datagen import table_paths

from rule_harness import DEPT, EMP

JOIN_SQL = ("SELECT e.name, d.dname FROM emp e, dept d "
            "WHERE e.dept_id = d.id AND d.budget > 300 AND e.salary >= 100")
RULE_NAMES = list(dict.fromkeys(r.name for b in BATCHES for r in b.rules))


def _session(**config) -> quarry.Session:
    con = quarry.connect(**config)
    con.register("emp", EMP)
    con.register("dept", DEPT)
    return con


def _steps(verbose_text: str) -> list[tuple[str, str]]:
    """(rule, batch) of every '== After rule (batch) ==' header of EXPLAIN VERBOSE."""
    return re.findall(r"^== After (\w+) \(([^)]*)\) ==$", verbose_text, flags=re.MULTILINE)


def _explain_verbose(con, sql: str) -> str:
    table = con.sql("EXPLAIN VERBOSE " + sql).to_arrow()
    assert table.column_names == ["plan"] and table.num_rows == 1
    return table.column("plan")[0].as_py()


# -------------------------------------------------------------------------------- disabled_rules


def test_disabling_push_down_filter_leaves_filters_in_place_with_the_same_answer():
    on, off = _session(), _session(disabled_rules=["push_down_filter"])
    pushed = on.optimize(on.sql(JOIN_SQL).logical_plan)
    kept = off.optimize(off.sql(JOIN_SQL).logical_plan)
    assert not any(isinstance(n, Filter) for n in pushed.walk())
    assert all(n.filters for n in pushed.walk() if isinstance(n, Scan))
    assert any(isinstance(n, Filter) for n in kept.walk())
    assert not any(n.filters for n in kept.walk() if isinstance(n, Scan))
    expected = on.sql(JOIN_SQL).to_arrow()
    assert expected.num_rows == 4
    assert_tables_equal(off.sql(JOIN_SQL).to_arrow(), expected, ordered=False)


def test_disabled_rule_names_ignore_case_and_spaces_and_may_be_one_string():
    for setting in ([" Push_Down_Filter "], "push_down_filter"):
        con = _session(disabled_rules=setting)
        plan = con.optimize(con.sql(JOIN_SQL).logical_plan)
        assert not any(n.filters for n in plan.walk() if isinstance(n, Scan))


def test_set_config_disables_a_rule_on_an_open_session():
    con = _session()
    con.set_config(disabled_rules=["prune_columns"])
    plan = con.optimize(con.sql("SELECT name FROM emp").logical_plan)
    assert "Scan: emp columns=[id, dept_id, salary, name]" in plan.pretty()


@pytest.mark.parametrize("every_rule_but", [None, "decorrelate_subqueries"])
def test_disabling_rules_never_changes_answers(every_rule_but):
    disabled = [n for n in RULE_NAMES if n != every_rule_but]
    sql = ("SELECT d.dname, count(*) AS n FROM emp e, dept d WHERE e.dept_id = d.id AND e.salary > 60 "
           "AND e.dept_id IN (SELECT id FROM dept WHERE budget IS NOT NULL) GROUP BY d.dname "
           "ORDER BY n DESC, d.dname LIMIT 3")
    expected = _session().sql(sql).to_arrow()
    if every_rule_but is None:   # no rule at all: the subquery cannot run
        with pytest.raises(quarry.QuarryError, match="decorrelat"):
            _session(disabled_rules=disabled).sql(sql).to_arrow()
        return
    assert_tables_equal(_session(disabled_rules=disabled).sql(sql).to_arrow(), expected, ordered=True)


def test_unknown_rule_name_raises_with_a_suggestion():
    with pytest.raises(quarry.QuarryError) as err:
        _session(disabled_rules=["push_down_filters"])
    assert "push_down_filters" in err.value.message
    assert err.value.hint == "did you mean `push_down_filter`?"
    con = _session()
    with pytest.raises(quarry.QuarryError, match="push_down_filters"):
        con.set_config(disabled_rules=["push_down_filters"])
    assert con.config["disabled_rules"] == ()


def test_unknown_rule_name_reaching_the_driver_raises_with_a_suggestion():
    plan = _session().sql("SELECT id FROM emp").logical_plan
    with pytest.raises(quarry.QuarryError) as err:
        Optimizer(BATCHES).optimize(plan, {"disabled_rules": ["reorder_join"]})
    assert err.value.hint == "did you mean `reorder_joins`?"


def test_unknown_rule_name_without_close_match_lists_the_rules():
    with pytest.raises(quarry.QuarryError) as err:
        _session(disabled_rules=["no_such_thing"])
    assert all(name in err.value.hint for name in RULE_NAMES)


def test_unknown_rule_name_hint_lists_each_rule_once():
    with pytest.raises(quarry.QuarryError) as err:
        _session(disabled_rules=["no_such_thing"])
    listed = err.value.hint.removeprefix("rules: ").split(", ")
    assert sorted(listed) == sorted(RULE_NAMES)


# -------------------------------------------------------------------------------- EXPLAIN VERBOSE


def test_explain_verbose_lists_exactly_the_rules_that_changed_the_plan():
    con = _session()
    sql = (JOIN_SQL + " AND e.id IN (SELECT id FROM emp WHERE name <> 'zed') "
           "ORDER BY e.name LIMIT 3")
    text = _explain_verbose(con, sql)
    steps = _steps(text)
    # the driver's own trace, gathered independently of the SQL EXPLAIN path
    trace = Trace()
    con.optimize(con.sql(sql).logical_plan, trace)
    assert steps == [(rule, batch) for batch, rule, _ in trace.steps]
    fired = {rule for rule, _ in steps}
    assert {"decorrelate_subqueries", "extract_equi_joins", "push_down_filter", "push_down_limit",
            "prune_columns", "merge_projections"} <= fired
    assert "reorder_joins" not in fired         # two inputs per join: nothing to reorder
    # each listed step really changed the plan text, and the last one is the optimized plan
    sections = text.split("\n\n== ")
    plans = [s.split("==\n", 1)[1] for s in sections]
    assert text.startswith("== Initial Logical Plan ==")
    after = plans[1:1 + len(steps)]
    assert all(a != b for a, b in zip([plans[0]] + after, after))
    optimized = next(s for s in sections if s.startswith("Optimized Logical Plan"))
    assert optimized.split("==\n", 1)[1] == after[-1]


def test_explain_verbose_does_not_list_a_disabled_rule():
    text = _explain_verbose(_session(disabled_rules=["push_down_filter"]), JOIN_SQL)
    assert "push_down_filter" not in {rule for rule, _ in _steps(text)}
    assert "extract_equi_joins" in {rule for rule, _ in _steps(text)}


# -------------------------------------------------------------------------------- safety net


def test_rule_that_changes_the_schema_is_named_in_the_error():
    con = _session()
    plan = con.sql("SELECT id, name FROM emp").logical_plan

    def drop_name(p, ctx):
        return Project(p, (ColumnRef(p.schema[0]),), (p.schema[0],)) if p is plan else p

    bad = Optimizer([Batch("bad", Once(), (Rule("drop_name", drop_name),))])
    with pytest.raises(PlanError, match="`drop_name` changed the output schema") as err:
        bad.optimize(plan)
    assert "disabled_rules=['drop_name']" in err.value.hint
    assert bad.optimize(plan, {"disabled_rules": ["drop_name"]}) is plan


def test_rule_that_crashes_is_named_in_the_error():
    def crash(p, ctx):
        raise ZeroDivisionError("boom")

    plan = _session().sql("SELECT id FROM emp").logical_plan
    with pytest.raises(PlanError, match="`crash` failed: ZeroDivisionError: boom"):
        Optimizer([Batch("bad", FixedPoint(3), (Rule("crash", crash),))]).optimize(plan)


# -------------------------------------------------------------------------------- idempotence on TPC-H


@pytest.fixture(scope="module")
def tpch_plans(tpch_sf001):
    """The bound plan of every TPC-H query, over the SF 0.01 Parquet files."""
    con = quarry.connect()
    for name, path in table_paths(tpch_sf001).items():
        con.register(name, str(path))
    return {n: con.sql(load_query(n)).logical_plan for n in QUERY_NUMBERS}


def _before_batch(plan, index: int):
    """``plan`` after the real batches that run before ``BATCHES[index]``."""
    return Optimizer(BATCHES[:index]).optimize(plan)


ONCE = [(i, r) for i, b in enumerate(BATCHES) if isinstance(b.strategy, Once) for r in b.rules]
FIXED = [(i, b) for i, b in enumerate(BATCHES) if isinstance(b.strategy, FixedPoint)]


@pytest.mark.parametrize("index,rule", ONCE, ids=[f"{BATCHES[i].name}:{r.name}" for i, r in ONCE])
def test_once_batch_rules_are_idempotent_on_tpch(tpch_plans, index, rule):
    ctx = OptimizerContext({})
    for n, bound_plan in tpch_plans.items():
        first = rule(_before_batch(bound_plan, index), ctx)
        second = rule(first, ctx)
        assert second.pretty() == first.pretty(), f"Q{n}: {rule.name} changed its own output"


@pytest.mark.parametrize("index,batch", FIXED, ids=[b.name for _, b in FIXED])
def test_fixed_point_batches_settle_before_their_limit_on_tpch(tpch_plans, index, batch):
    ctx = OptimizerContext({})
    for n, bound_plan in tpch_plans.items():
        plan = _before_batch(bound_plan, index)
        for _ in range(batch.strategy.rounds()):
            start = plan
            for r in batch.rules:
                plan = r(plan, ctx)
            if plan is start:
                break
        else:
            pytest.fail(f"Q{n}: batch {batch.name!r} still changing the plan after {batch.strategy.rounds()} rounds")
