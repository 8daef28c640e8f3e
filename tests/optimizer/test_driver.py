"""The optimizer driver: disabling rules by name, rules that cannot be disabled, EXPLAIN VERBOSE
with rule timing, the schema and plan-integrity checks, the fixed-point limit warning, idempotence.

The idempotence checks run every TPC-H query through the real batches up to a
rule, then apply that rule twice: a Once batch must not need a second round, and
a FixedPoint batch must settle before its round limit.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

import quarry
from quarry.errors import PlanError
from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.logical.expressions import ColumnRef, Exists, Field
from quarry.logical.plan import Filter, Project, Scan
from quarry.optimizer.driver import Optimizer, OptimizerWarning, Trace
from quarry.optimizer.integrity import dangling_reference
from quarry.optimizer.rule import Batch, FixedPoint, Once, OptimizerContext, Rule, rule
from quarry.optimizer.rules import BATCHES
from quarry.testing import assert_tables_equal
from quarry.tpch import QUERY_NUMBERS, load_query
from quarry.tpch.datagen import table_paths

from rule_harness import DEPT, EMP

JOIN_SQL = ("SELECT e.name, d.dname FROM emp e, dept d "
            "WHERE e.dept_id = d.id AND d.budget > 300 AND e.salary >= 100")
RULE_NAMES = list(dict.fromkeys(r.name for b in BATCHES for r in b.rules))
REQUIRED = [n for n in RULE_NAMES if not next(r for b in BATCHES for r in b.rules if r.name == n).excludable]
EXCLUDABLE = [n for n in RULE_NAMES if n not in REQUIRED]
DOCS = Path(__file__).resolve().parents[2] / "docs"


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


@pytest.mark.parametrize("disabled", [[], EXCLUDABLE], ids=["no rule disabled", "every excludable rule disabled"])
def test_disabling_rules_never_changes_answers(disabled, duck):
    sql = ("SELECT d.dname, count(*) AS n FROM emp e, dept d WHERE e.dept_id = d.id AND e.salary > 60 "
           "AND e.dept_id IN (SELECT id FROM dept WHERE budget IS NOT NULL) GROUP BY d.dname "
           "ORDER BY n DESC, d.dname LIMIT 3")
    expected = duck.sql(sql).to_arrow_table()
    assert expected.num_rows == 2          # the subquery drops dept 30 (NULL budget): a real answer
    assert_tables_equal(_session(disabled_rules=disabled).sql(sql).to_arrow(), expected, ordered=True)


# -------------------------------------------------------------------------------- rules that cannot be disabled


def test_decorrelate_subqueries_is_the_one_rule_that_cannot_be_disabled():
    assert REQUIRED == ["decorrelate_subqueries"] == Optimizer(BATCHES).required_rules()


@pytest.mark.parametrize("setting", [["decorrelate_subqueries"], " Decorrelate_Subqueries ", RULE_NAMES])
def test_asking_to_disable_a_required_rule_raises_naming_it(setting):
    with pytest.raises(PlanError) as err:
        _session(disabled_rules=setting)
    assert err.value.message == "optimizer rule `decorrelate_subqueries` cannot be disabled: queries need it to run"
    assert "decorrelate_subqueries" in err.value.hint and "docs/configuration.md" in err.value.hint
    con = _session(disabled_rules=["push_down_filter"])
    with pytest.raises(PlanError, match="`decorrelate_subqueries` cannot be disabled"):
        con.set_config(disabled_rules=setting)
    assert con.config["disabled_rules"] == ("push_down_filter",)      # the failed change left nothing behind


def test_the_driver_itself_refuses_a_required_rule():
    """A config that bypassed set_config (a dict handed to the driver) is refused too, before any rule runs."""
    plan = _session().sql("SELECT id FROM emp WHERE id IN (SELECT id FROM dept)").logical_plan
    with pytest.raises(PlanError, match="`decorrelate_subqueries` cannot be disabled"):
        Optimizer(BATCHES).optimize(plan, {"disabled_rules": ["decorrelate_subqueries"]})


def test_configuration_docs_list_the_rules_that_cannot_be_disabled():
    text = (DOCS / "configuration.md").read_text()
    section = text.split("### Rules that cannot be disabled", 1)[1].split("\n#", 1)[0]
    assert re.findall(r"^- `(\w+)`", section, flags=re.MULTILINE) == REQUIRED


def test_a_required_rule_that_breaks_is_reported_without_the_disable_hint():
    plan = _session().sql("SELECT id FROM emp").logical_plan

    def crash(p, ctx):
        raise KeyError("x")

    needed = Optimizer([Batch("b", Once(), (Rule("needed", crash, excludable=False),))])
    with pytest.raises(PlanError, match="`needed` failed: KeyError") as err:
        needed.optimize(plan)
    assert "cannot be disabled" in err.value.hint and "disabled_rules" not in err.value.hint
    with pytest.raises(PlanError, match="`needed` cannot be disabled"):
        needed.optimize(plan, {"disabled_rules": ["needed"]})


def test_rule_decorator_marks_required_rules():
    def plain(p, ctx):
        return p
    assert rule(plain).excludable and not rule(excludable=False)(plain).excludable
    assert rule(excludable=False)(plain).name == rule(plain).name == "test_driver"


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
    summary = _rule_summary(text)
    assert "push_down_filter" not in {r["rule"] for r in summary["rows"]}
    assert summary["disabled"] == ["push_down_filter"]


def _rule_summary(verbose_text: str) -> dict:
    """The '== Optimizer Rules ==' section of EXPLAIN VERBOSE, parsed."""
    section = verbose_text.split("== Optimizer Rules ==\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section[0].split() == ["batch", "rule", "runs", "changed", "time"]
    rows, total, checks, disabled = [], None, None, []
    for line in section[1:]:
        if line.startswith("total"):
            total = float(line.split()[-2])
        elif line.startswith("checks (schema, integrity)"):
            checks = float(line.split()[-2])
        elif line.startswith("disabled: "):
            disabled.append(line.removeprefix("disabled: "))
        else:
            m = re.fullmatch(r"(.+?)\s{2,}(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+) ms", line)
            assert m, line
            rows.append({"batch": m[1], "rule": m[2], "runs": int(m[3]), "changed": int(m[4]), "ms": float(m[5])})
    return {"rows": rows, "total": total, "checks": checks, "disabled": disabled}


def test_explain_verbose_times_every_rule_and_says_whether_it_changed_the_plan():
    con = _session()
    sql = JOIN_SQL + " AND e.id IN (SELECT id FROM emp WHERE name <> 'zed') ORDER BY e.name LIMIT 3"
    text = _explain_verbose(con, sql)
    summary = _rule_summary(text)
    rows = summary["rows"]
    # every rule of every batch ran at least once, in batch order
    assert [(r["batch"], r["rule"]) for r in rows] == [(b.name, r.name) for b in BATCHES for r in b.rules]
    # "changed" counts exactly the After sections of that rule in that batch
    steps = _steps(text)
    for r in rows:
        assert r["changed"] == steps.count((r["rule"], r["batch"])), r
        assert 1 <= r["runs"] and r["changed"] <= r["runs"] and r["ms"] >= 0
    once = {b.name for b in BATCHES if isinstance(b.strategy, Once)}
    assert all(r["runs"] == 1 for r in rows if r["batch"] in once)
    assert summary["total"] == pytest.approx(sum(r["ms"] for r in rows), abs=0.01 * len(rows))
    assert summary["checks"] is not None and summary["disabled"] == []
    # the section sits between the last After step and the optimized plan
    assert text.index("== Optimizer Rules ==") < text.index("== Optimized Logical Plan ==")


def test_trace_records_every_rule_run_with_its_round():
    con = _session()
    trace = Trace()
    con.optimize(con.sql(JOIN_SQL).logical_plan, trace)
    assert len(trace.runs) >= sum(len(b.rules) for b in BATCHES)
    assert [(r.batch, r.rule) for r in trace.runs if r.changed] == [(b, r) for b, r, _ in trace.steps]
    pushdown = [r.round for r in trace.runs if r.batch == "pushdown" and r.rule == "push_down_filter"]
    assert pushdown == list(range(1, len(pushdown) + 1)) and len(pushdown) >= 2   # ran until a quiet round


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


def _dangling_rule(plan):
    """A rule that puts a filter on the projection's computed column *below* that projection."""
    def push_too_far(p, ctx):
        if p is not plan:
            return p
        doubled = p.fields[1]
        below = Filter(p.input, F.call("greater", [ColumnRef(doubled), F.lit(1)]))
        return Project(below, p.exprs, p.fields)
    return Rule("push_too_far", push_too_far)


def test_rule_that_leaves_a_dangling_column_reference_is_named_in_the_error():
    plan = _session().sql("SELECT id, salary * 2 AS doubled FROM emp").logical_plan
    assert dangling_reference(plan) is None
    bad = Optimizer([Batch("bad", Once(), (_dangling_rule(plan),))])
    with pytest.raises(PlanError) as err:
        bad.optimize(plan)
    assert err.value.message.startswith("optimizer rule `push_too_far` left a dangling column reference: "
                                        "`doubled` (id ")
    assert "read by `Filter: (doubled > 1)`" in err.value.message
    assert "disabled_rules=['push_too_far']" in err.value.hint
    assert bad.optimize(plan, {"disabled_rules": ["push_too_far"]}) is plan


def test_subqueries_may_read_outer_columns_but_not_unknown_ones():
    con = _session()
    plan = con.sql("SELECT name FROM emp e WHERE EXISTS (SELECT 1 FROM dept d WHERE d.id = e.dept_id)").logical_plan
    subquery = next(x for n in plan.walk() for e in n.expressions() for x in e.walk() if isinstance(x, Exists))
    assert subquery.outer_ids()                       # correlated: reads e.dept_id from the outer query
    assert dangling_reference(plan) is None
    assert dangling_reference(subquery.plan) is not None     # the same plan on its own: e.dept_id dangles
    stranger = ColumnRef(Field("stranger", T.INT64))
    broken_inner = subquery.plan.transform_up(
        lambda n: Filter(n, F.call("equal", [stranger, F.lit(1)])) if isinstance(n, Scan) else n)
    broken = plan.transform_up(lambda n: n.map_expressions(
        lambda e: e.transform_up(lambda x: Exists(broken_inner) if x is subquery else x)))
    found = dangling_reference(broken)
    assert found is not None and found.column == stranger


def test_a_plan_with_a_dangling_reference_is_refused_before_any_rule_runs():
    plan = _session().sql("SELECT id FROM emp").logical_plan
    stray = Filter(plan, F.call("equal", [ColumnRef(Field("ghost", T.INT64)), F.lit(1)]))
    with pytest.raises(PlanError, match="the plan to optimize has a dangling column reference: `ghost`"):
        Optimizer(BATCHES).optimize(stray)


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


def test_every_tpch_plan_keeps_its_integrity_through_the_real_batches(tpch_plans):
    """No dangling reference in any bound plan, nor (checked by the driver) after any rule; no limit warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", OptimizerWarning)
        for n, plan in tpch_plans.items():
            assert dangling_reference(plan) is None, f"Q{n}"
            trace = Trace()
            optimized = Optimizer(BATCHES).optimize(plan, {}, trace)
            assert dangling_reference(optimized) is None and trace.warnings == [], f"Q{n}"


# -------------------------------------------------------------------------------- the fixed-point limit


def _restless():
    """A rule that returns an equal copy of the root every time: it never settles."""
    def spin(p, ctx):
        return Project(p.input, p.exprs, p.fields) if isinstance(p, Project) else p
    return Rule("spin", spin)


def test_a_fixed_point_batch_that_hits_its_limit_warns():
    plan = _session().sql("SELECT id FROM emp").logical_plan
    spinning = Optimizer([Batch("restless", FixedPoint(3), (_restless(),))])
    trace = Trace()
    with pytest.warns(OptimizerWarning, match="optimizer batch `restless` reached its limit of 3 rounds "
                                              "while still changing the plan"):
        spinning.optimize(plan, {}, trace)
    assert [r.round for r in trace.runs] == [1, 2, 3] and all(r.changed for r in trace.runs)
    assert len(trace.warnings) == 1 and "`restless`" in trace.warnings[0]
    assert "WARNING: optimizer batch `restless` reached its limit of 3 rounds" in trace.rule_summary()


def test_a_once_batch_or_a_batch_that_settles_does_not_warn():
    plan = _session().sql("SELECT id FROM emp").logical_plan
    with warnings.catch_warnings():
        warnings.simplefilter("error", OptimizerWarning)
        Optimizer([Batch("once", Once(), (_restless(),))]).optimize(plan)
        settles = Optimizer([Batch("settles", FixedPoint(3), (Rule("noop", lambda p, ctx: p),))])
        trace = Trace()
        settles.optimize(plan, {}, trace)
    assert [r.round for r in trace.runs] == [1] and trace.warnings == []


def test_explain_verbose_shows_the_limit_warning():
    con = _session()
    con.optimizer = Optimizer(list(BATCHES) + [Batch("restless", FixedPoint(2), (_restless(),))])
    with pytest.warns(OptimizerWarning):
        text = _explain_verbose(con, "SELECT id + 1 AS next_id FROM emp")
    assert "WARNING: optimizer batch `restless` reached its limit of 2 rounds" in text


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
