"""One definition per function: signature, kernel, volatility and NULL handling together.

The checks here are of two kinds. Structural: every scalar function has a kernel and
every kernel a definition; aggregates and window functions are definitions too, and
each of them runs. Behavioural, against DuckDB: each place that used to keep its own
list of "NULL-tolerant", "NULL-rejecting", "volatile" or "foldable" functions now asks
the definitions, and the tests below are the cases where those lists disagreed with
SQL semantics (they fail on the code before the definitions existed).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.compute import kernels
from quarry.compute.expr_eval import evaluate
from quarry.errors import BindError, ExecutionError
from quarry.logical import functions as F
from quarry.logical import types as T
from quarry.logical.expressions import Call, ColumnRef, Field, Literal
from quarry.logical.plan import Join
from quarry.optimizer.rules import simplify_expressions
from quarry.physical.operators import ParquetScanExec, _dictionary_conjunct
from quarry.testing import assert_tables_equal


def _duck_answer(duckdb_con, sql: str) -> pa.Table:
    return duckdb_con.sql(sql).to_arrow_table()


# -------------------------------------------------------------------------------- structure


def test_every_scalar_function_has_a_kernel_and_only_rewrites_have_none():
    without = [d.name for d in F.BUILTINS.definitions()
               if d.kind == "scalar" and not d.rewrite and d.kernel is None]
    assert without == []
    rewrites_with_kernel = [d.name for d in F.BUILTINS.definitions() if d.rewrite and d.kernel is not None]
    assert rewrites_with_kernel == []


def test_aggregates_and_window_functions_have_no_scalar_kernel():
    for d in F.BUILTINS.definitions():
        if d.kind in ("aggregate", "window"):
            assert d.kernel is None, d.name
            with pytest.raises(ValueError, match="takes no scalar kernel"):
                d.attach_kernel(lambda *a: None)


def test_a_kernel_for_a_name_without_definition_fails_at_once():
    with pytest.raises(RuntimeError, match="no_such_function"):
        kernels.kernel("no_such_function")(lambda name, args, dtype, n: None)


def test_a_second_kernel_for_one_function_is_refused():
    with pytest.raises(ValueError, match="already has a kernel"):
        F.definition("add").attach_kernel(lambda name, args, dtype, n: None)


def test_a_function_is_defined_once_and_aliases_reach_the_same_object():
    assert F.lookup("ifnull") is F.lookup("coalesce") is F.definition("NVL")
    with pytest.raises(ValueError, match="already defined"):
        F.register("coalesce", "scalar", None)


@pytest.mark.parametrize("name", ["check_single_row", "grouping_bits", "date_add_days", "date_diff_days"])
def test_internal_functions_have_definitions_but_cannot_be_called_by_name(name):
    assert F.definition(name) is not None and F.definition(name).internal
    assert name not in F.function_names()
    with pytest.raises(BindError, match=f"function `{name}` does not exist"):
        quarry.connect(workers=0).sql(f"SELECT {name}(1, 2)").to_arrow()


def test_rewrite_functions_bind_to_other_expressions():
    d = ColumnRef(Field("d", T.DATE, id=7))
    assert F.call("year", [d]).name == "date_part"
    assert F.call("if", [Literal(True, T.BOOL), F.lit(1), F.lit(2)]).name == "case"
    assert isinstance(F.call("pi", []), Literal)
    assert isinstance(F.call("now", []), Literal) and F.lookup("now").volatility is F.Volatility.STABLE


def test_derived_name_sets_follow_the_definitions():
    assert F.AGGREGATES == {d.name for d in F.BUILTINS.definitions() if d.kind == "aggregate"}
    assert {"sum", "count_star", "median"} <= F.AGGREGATES
    assert F.WINDOW_FUNCTIONS == {"row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile",
                                  "lag", "lead", "first_value", "last_value", "nth_value"} | INTERNAL_WINDOW


# -------------------------------------------------------------------------------- aggregates and windows run

AGG_TABLE = pa.table({"g": [1, 1, 1, 2, 2, 3], "x": [4, None, 2, 7, 7, None],
                      "b": [True, False, None, True, True, None], "s": ["b", "a", None, "c", "c", None]})

# one SQL call per aggregate definition; a new aggregate must be added here
AGG_CALLS = {
    "count": "count(x)", "count_star": "count(*)", "sum": "sum(x)", "avg": "avg(x)", "min": "min(s)",
    "max": "max(x)", "stddev_samp": "stddev_samp(x)", "stddev_pop": "stddev_pop(x)",
    "var_samp": "var_samp(x)", "var_pop": "var_pop(x)", "bool_and": "bool_and(b)", "bool_or": "bool_or(b)",
    "any_value": "any_value(CASE WHEN g = 2 THEN x END)", "median": "median(x)", "product": "product(x)",
    "approx_count_distinct": "approx_count_distinct(x)", "string_agg": "length(string_agg(s, ','))",
    "array_agg": "array_agg(x ORDER BY x DESC)", "count_if": "count_if(x > 3)", "histogram": "histogram(s)",
    "histogram_exact": "histogram_exact(x, [1, 3])", "first": "first(x ORDER BY x DESC NULLS FIRST)",
    "last": "last(s ORDER BY x)",
    "mode": "mode(x % 2)", "arg_max": "arg_max(s, x)", "arg_min": "arg_min(s, x)",
    "quantile_cont": "quantile_cont(x, 0.25)", "quantile_disc": "quantile_disc(x, [0.5, 1.0])",
    "corr": "corr(x, -x)", "covar_pop": "covar_pop(x, g)", "covar_samp": "covar_samp(x, x)",
    "regr_slope": "regr_slope(x, x * 3)", "regr_intercept": "regr_intercept(x, x * 3)",
    "regr_r2": "regr_r2(x, g)", "regr_count": "regr_count(x, g)", "regr_avgx": "regr_avgx(x, g)",
    "regr_avgy": "regr_avgy(x, g)", "regr_sxx": "regr_sxx(x, g)", "regr_syy": "regr_syy(x, g)",
    "regr_sxy": "regr_sxy(x, -x)",
}


def test_the_aggregate_list_covers_every_aggregate_definition():
    assert set(AGG_CALLS) == F.AGGREGATES


@pytest.mark.parametrize("name", sorted(AGG_CALLS))
def test_every_aggregate_definition_runs_and_agrees_with_duckdb(name, duckdb_con):
    sql = f"SELECT g, {AGG_CALLS[name]} AS v FROM t GROUP BY g ORDER BY g"
    con = quarry.connect(workers=0)
    con.register("t", AGG_TABLE)
    duckdb_con.register("t", AGG_TABLE)
    assert_tables_equal(con.sql(sql).to_arrow(), _duck_answer(duckdb_con, sql), ordered=True)


WINDOW_CALLS = {
    "row_number": "row_number()", "rank": "rank()", "dense_rank": "dense_rank()",
    "percent_rank": "percent_rank()", "cume_dist": "cume_dist()", "ntile": "ntile(2)", "lag": "lag(x, 1, -1)",
    "lead": "lead(x)", "first_value": "first_value(x)", "last_value": "last_value(x)",
    "nth_value": "nth_value(x, 2)",
}


# built by the Spark front end only (Spark's ignoreNulls), not callable from SQL; their tests are in
# tests/spark/test_functions_windows.py
INTERNAL_WINDOW = {"lag_ignore_nulls", "lead_ignore_nulls", "nth_value_ignore_nulls", "last_value_ignore_nulls"}


def test_the_window_list_covers_every_window_definition():
    assert set(WINDOW_CALLS) | INTERNAL_WINDOW == F.WINDOW_FUNCTIONS
    assert all(F.definition(n).internal for n in INTERNAL_WINDOW)


@pytest.mark.parametrize("name", sorted(WINDOW_CALLS))
def test_every_window_definition_runs_and_agrees_with_duckdb(name, duckdb_con):
    table = pa.table({"g": [1, 1, 1, 2, 2, 2], "o": [1, 2, 3, 1, 2, 2], "x": [10, None, 30, 40, 50, 60]})
    sql = (f"SELECT g, o, x, {WINDOW_CALLS[name]} OVER (PARTITION BY g ORDER BY o, x) AS v FROM t "
           "ORDER BY g, o, x")
    con = quarry.connect(workers=0)
    con.register("t", table)
    duckdb_con.register("t", table)
    assert_tables_equal(con.sql(sql).to_arrow(), _duck_answer(duckdb_con, sql), ordered=True)


# -------------------------------------------------------------------------------- a UDF is a definition


@pytest.fixture
def udf():
    """Register two Python functions the way a UDF will be: a definition with its kernel."""
    seen = []

    def double_it(name, args, dtype, n):
        seen.append(args)
        return pa.compute.multiply(args[0], 2)

    strict = F.BUILTINS.add(F.FunctionDef("double_it", "scalar", F.fixed_signature([T.INT64], T.INT64), 1, 1,
                                          kernel=double_it))
    noisy = F.BUILTINS.add(F.FunctionDef("noisy", "scalar", F.fixed_signature([T.INT64], T.INT64), 1, 1,
                                         volatility=F.Volatility.VOLATILE, nulls=F.Nulls.TOLERANT,
                                         kernel=double_it))
    yield strict, noisy, seen
    F.BUILTINS.remove("double_it")
    F.BUILTINS.remove("noisy")


def test_a_python_function_defined_like_a_builtin_runs_from_sql(udf, duckdb_con):
    con = quarry.connect(workers=0)
    table = pa.table({"x": [1, None, 3]})
    con.register("t", table)
    duckdb_con.register("t", table)
    actual = con.sql("SELECT x, double_it(x) AS y FROM t ORDER BY x").to_arrow()
    assert_tables_equal(actual, _duck_answer(duckdb_con, "SELECT x, x * 2 AS y FROM t ORDER BY x"), ordered=True)


def test_a_strict_kernel_never_sees_a_null_constant(udf):
    strict, noisy, seen = udf
    batch = pa.table({"a": [1]})
    out = evaluate(F.call("double_it", [Literal(None, T.INT64)]), batch)
    assert isinstance(out, pa.Scalar) and not out.is_valid and out.type == pa.int64()
    assert seen == []                                  # the evaluator answered, not the kernel
    evaluate(F.call("noisy", [Literal(None, T.INT64)]), batch)
    assert len(seen) == 1 and not seen[0][0].is_valid  # a NULL-tolerant kernel decides itself


def test_volatility_decides_folding(udf):
    folded = simplify_expressions.simplify(F.call("double_it", [F.lit(4)]))
    assert folded == Literal(8, T.INT64)
    kept = F.call("noisy", [F.lit(4)])
    assert simplify_expressions.simplify(kept) is kept
    assert F.is_deterministic(F.call("double_it", [F.lit(1)])) and not F.is_deterministic(kept)


# -------------------------------------------------------------------------------- NULL handling, derived


X = ColumnRef(Field("x", T.INT64, id=1))
Y = ColumnRef(Field("y", T.INT64, id=2))
B = ColumnRef(Field("b", T.BOOL, id=3))


@pytest.mark.parametrize("expr, rejects", [
    (F.call("equal", [X, F.lit(1)]), True),
    (F.call("not", [F.call("equal", [X, F.lit(1)])]), True),            # NOT NULL is NULL
    (F.call("is_not_null", [X]), True),
    (F.call("is_null", [X]), False),
    (F.call("equal", [F.call("is_not_null", [X]), Literal(False, T.BOOL)]), False),   # (x IS NOT NULL) = FALSE
    (F.call("in_list", [X, F.lit(1), F.lit(2)]), True),                 # NULL IN (...) is NULL
    (F.call("in_list", [F.lit(1), X, F.lit(1)]), False),                # 1 IN (x, 1) is TRUE
    (F.call("equal", [F.call("coalesce", [X, F.lit(0)]), F.lit(0)]), False),
    (F.call("equal", [F.call("greatest", [X, F.lit(2)]), F.lit(2)]), False),
    (F.call("equal", [F.call("nullif", [X, F.lit(2)]), F.lit(2)]), True),
    (F.call("is_null", [F.call("nullif", [F.lit(2), X])]), False),
    (F.call("or", [F.call("equal", [X, F.lit(1)]), F.call("less", [X, Y])]), True),
    (F.call("or", [F.call("equal", [X, F.lit(1)]), B]), False),
    (F.call("and", [F.call("equal", [X, F.lit(1)]), B]), True),
    (F.call("not", [F.call("and", [F.call("equal", [X, F.lit(1)]), Literal(False, T.BOOL)])]), False),
    (F.call("is_true", [F.call("equal", [X, F.lit(1)])]), True),
    (F.call("is_not_false", [F.call("equal", [X, F.lit(1)])]), False),
    (F.call("equal", [F.call("concat", [X, F.lit("a")]), F.lit("a")]), False),
])
def test_null_rejection_follows_the_definitions(expr, rejects):
    assert F.rejects_nulls(expr, {1}) is rejects


@pytest.fixture
def left_join(duckdb_con):
    con = quarry.connect(workers=0)
    t, u = pa.table({"k": [1, 2, 3]}), pa.table({"k": [1, 1, 5], "x": [10, None, 50]})
    for c in (con, duckdb_con):
        c.register("t", t)
        c.register("u", u)
    return con, duckdb_con


@pytest.mark.parametrize("where, inner", [
    ("(u.x IS NOT NULL) = false", False),      # was taken for NULL-rejecting: the join became inner
    ("1 IN (u.x, 1)", False),                  # likewise
    ("NOT (u.x > 20 AND false)", False),
    ("greatest(u.x, 0) = 0", False),
    ("u.x IS NOT NULL", True),                 # now recognized, so the join does become inner
    ("NOT (u.x = 50)", True),
    ("u.x = 10 OR u.x < 0", True),
])
def test_where_over_a_left_join_keeps_duckdbs_answer(left_join, where, inner):
    con, duck = left_join
    sql = f"SELECT t.k, u.x FROM t LEFT JOIN u ON t.k = u.k WHERE {where} ORDER BY t.k, u.x"
    assert_tables_equal(con.sql(sql).to_arrow(), _duck_answer(duck, sql), ordered=True)
    kinds = {n.kind for n in con.optimize(con.sql(sql).logical_plan).walk() if isinstance(n, Join)}
    assert kinds == ({"inner"} if inner else {"left"})


def test_a_scalar_subquery_of_null_still_fails_on_several_rows(left_join):
    con, duck = left_join
    sql = "SELECT k, (SELECT NULL FROM u WHERE u.k = t.k) AS v FROM t"
    with pytest.raises(Exception, match="More than one row returned by a subquery"):
        duck.sql(sql).fetchall()
    with pytest.raises(ExecutionError, match="more than one row returned by a subquery used as an expression"):
        con.sql(sql).to_arrow()


@pytest.mark.parametrize("sql", [
    # were NULL-tolerant in the evaluator's list although SQL makes them strict
    "SELECT try_cast(NULL AS INTEGER) AS a, try_cast(s AS INTEGER) AS b FROM t",
    "SELECT g, GROUPING(g) AS gr, count(*) AS n FROM t GROUP BY ROLLUP (g) ORDER BY g NULLS LAST, gr",
    # strict in some arguments only
    "SELECT s, nullif(s, '1') AS a, nullif('1', s) AS b, s IN ('1', NULL) AS c, '1' IN (s, '1') AS d FROM t",
    "SELECT greatest(s, NULL) AS a, least(NULL, s) AS b, concat(s, NULL, 'z') AS c, s || NULL AS d FROM t",
])
def test_null_handling_of_the_definitions_matches_duckdb(sql, duckdb_con):
    table = pa.table({"s": ["1", None, "x"], "g": [1, 1, None]})
    con = quarry.connect(workers=0)
    con.register("t", table)
    duckdb_con.register("t", table)
    ordered = "ORDER BY" in sql
    assert_tables_equal(con.sql(sql).to_arrow(), _duck_answer(duckdb_con, sql), ordered=ordered)


# -------------------------------------------------------------------------------- the dictionary filter path


@pytest.fixture
def dictionary_table(tmp_path, duckdb_con):
    """A Parquet file whose string column the scan reads as a dictionary (few distinct values, NULLs)."""
    path = tmp_path / "d.parquet"
    values = (["a", None, "c", "a", None, "b"] * 200)
    pq.write_table(pa.table({"s": values, "i": list(range(len(values)))}), path, use_dictionary=True)
    duckdb_con.sql(f"CREATE VIEW d AS SELECT * FROM read_parquet('{path}')")

    def connect(**config):
        con = quarry.connect(workers=0, **config)
        con.register("d", str(path))
        return con
    return connect, duckdb_con


def test_the_scan_reads_the_column_as_a_dictionary(dictionary_table):
    connect, _ = dictionary_table
    con = connect()
    plan = con.physical_plan(con.optimize(con.sql("SELECT count(*) FROM d WHERE s = 'a'").logical_plan))
    scans = [n for n in _walk(plan) if isinstance(n, ParquetScanExec)]
    assert len(scans) == 1 and [k.split("#")[0] for k in scans[0].dictionary_keys] == ["s"]


def _walk(node):
    yield node
    for c in node.children:
        yield from _walk(c)


@pytest.mark.parametrize("disabled", [[], ["simplify_expressions"]])
@pytest.mark.parametrize("where", [
    "greatest(s, 'b') = 'b'",                  # NULL is skipped by greatest: TRUE for NULL rows
    "NOT (s = 'a' AND FALSE)",                 # NOT (NULL AND FALSE) is TRUE
    "s = 'a' OR TRUE",
    "coalesce(s, 'z') = 'z'",
    "s IS NULL",
    "s IS NOT NULL",
    "nullif(s, 'a') IS NULL",
    "concat(s, 'x') = 'x'",
    "s IN ('a', NULL)",
    "s = 'a'",
])
def test_dictionary_filters_agree_with_duckdb(dictionary_table, where, disabled):
    connect, duck = dictionary_table
    sql = f"SELECT count(*) AS n, sum(i) AS total FROM d WHERE {where}"
    assert_tables_equal(connect(disabled_rules=disabled).sql(sql).to_arrow(), _duck_answer(duck, sql),
                        ordered=True)


def test_which_conjuncts_take_the_dictionary_path():
    s = ColumnRef(Field("s", T.STRING, id=9))
    keys = frozenset({s.field.key})
    assert _dictionary_conjunct(F.call("equal", [s, F.lit("a")]), keys) == s.field.key
    assert _dictionary_conjunct(F.call("is_not_null", [s]), keys) == s.field.key
    assert _dictionary_conjunct(F.call("equal", [F.call("greatest", [s, F.lit("b")]), F.lit("b")]), keys) is None
    volatile = F.call("equal", [F.call("equal", [s, F.lit("a")]), F.call("less", [F.call("random", []), F.lit(0.5)])])
    assert _dictionary_conjunct(volatile, keys) is None


def test_a_volatile_conjunct_is_drawn_per_row_not_per_dictionary_entry(dictionary_table):
    connect, _ = dictionary_table
    con = connect()
    counts = [con.sql("SELECT count(*) AS n FROM d WHERE (s = 'a') = (random() < 0.5)").to_pylist()[0]["n"]
              for _ in range(3)]
    # one draw per distinct value would keep all 400 'a' rows or none of them (and likewise for 'b', 'c'),
    # so every count would be one of 0, 200, 400, 600, 800; per-row draws give a binomial count of 800
    # rows, which lands on 400 itself about one time in 36, so three draws are taken
    assert all(0 < n for n in counts) and any(n not in (200, 400, 600, 800) for n in counts), counts


def test_volatile_calls_are_never_folded_and_stable_ones_are_bound_once():
    r = Call("random", (), T.FLOAT64, False)
    assert simplify_expressions.simplify(r) is r
    con = quarry.connect(workers=0)
    rows = con.sql("SELECT now() AS a, now() AS b, current_date AS c").to_pylist()
    assert rows[0]["a"] == rows[0]["b"]


def test_the_logical_layer_never_imports_compute_physical_or_optimizer():
    """The definitions live in quarry/logical; kernels attach from below, never the other way."""
    root = Path(quarry.__file__).parent / "logical"
    found = []
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}: {n}" for n in names
                      if n.startswith(("quarry.compute", "quarry.physical", "quarry.optimizer", "quarry.execution"))]
    assert found == []


# -------------------------------------------------------------------------------- the docs follow the definitions

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _arity(d: F.FunctionDef) -> str:
    if d.max_args == d.min_args:
        return str(d.min_args)
    return f"{d.min_args}+" if d.max_args is None else f"{d.min_args}–{d.max_args}"


def test_the_function_table_in_the_sql_reference_is_the_registry():
    text = (DOCS / "sql.md").read_text().split("<!-- functions:start", 1)[1].split("<!-- functions:end", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| ([^|]*) \| ([^|]*) \|", text, flags=re.MULTILINE)
    documented = {name: (kind, args.strip(), sorted(re.findall(r"`(\w+)`", aliases)))
                  for name, kind, args, aliases in rows}
    registry = {d.name: (d.kind, _arity(d), sorted(d.aliases)) for d in F.REGISTRY.values()}
    assert documented == registry


def test_the_null_semantics_section_lists_the_null_tolerant_functions():
    text = (DOCS / "sql.md").read_text().split("## NULL semantics", 1)[1].split("\n## ", 1)[0]
    paragraph = text.split("The\n  NULL-tolerant ones, whose definitions say so, are:", 1)[1].split("\n- ", 1)[0]
    listed = set(re.findall(r"`(\w+)`", paragraph))
    tolerant = {d.name for d in F.REGISTRY.values() if d.kind == "scalar" and not d.strict and not d.rewrite}
    assert listed == tolerant
