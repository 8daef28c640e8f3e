"""The pipeline DSL: parsing every verb, syntax and bind errors with their positions, and
equivalence with the DataFrame API (the same optimized logical plan, the same rows).

TPC-H queries written in the DSL are in ``test_dsl_tpch.py``.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import quarry
from quarry.dsl import ast as A
from quarry.dsl import parse_pipeline
from quarry.errors import BindError, ParseError, QuarryError
from quarry.testing import assert_tables_equal


def assert_caret(err: QuarryError, line: int, column: int) -> None:
    """The error points at (line, column), and ``str(err)`` shows that line with a caret under it."""
    assert (err.line, err.column) == (line, column), str(err)
    lines = str(err).splitlines()
    prefix = f"LINE {line}: "
    shown = next(i for i, text in enumerate(lines) if text.startswith(prefix))
    assert lines[shown] == prefix + err.sql.splitlines()[line - 1]
    caret = lines[shown + 1]
    assert caret.strip() == "^", str(err)
    assert caret.index("^") == len(prefix) + column - 1, str(err)


def syntax_error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_pipeline(text)
    assert info.value.sql == text
    return info.value


def texts(items) -> list[tuple[str | None, str]]:
    return [(it.name, it.expr.text) for it in items]


# ============================================================================ parsing


def test_the_example_from_the_issue():
    p = parse_pipeline("""from lineitem
| filter l_shipdate <= date '1998-09-02'
| derive disc_price = l_extendedprice * (1 - l_discount)
| group l_returnflag, l_linestatus (sum_qty = sum(l_quantity), avg_price = avg(l_extendedprice), n = count())
| sort l_returnflag, l_linestatus
| take 10
""")
    assert (p.source.kind, p.source.name) == ("table", "lineitem")
    assert [s.verb for s in p.steps] == ["filter", "derive", "group", "sort", "take"]
    assert p.steps[0].condition.text == "l_shipdate <= date '1998-09-02'"
    assert p.steps[0].condition.span.line == 2 and p.steps[0].condition.span.column == 10
    assert texts(p.steps[1].items) == [("disc_price", "l_extendedprice * (1 - l_discount)")]
    group = p.steps[2]
    assert texts(group.keys) == [(None, "l_returnflag"), (None, "l_linestatus")]
    assert texts(group.aggregates) == [("sum_qty", "sum(l_quantity)"), ("avg_price", "avg(l_extendedprice)"),
                                       ("n", "count()")]
    assert [(k.expr.text, k.descending, k.nulls_first) for k in p.steps[3].keys] == \
        [("l_returnflag", False, None), ("l_linestatus", False, None)]
    assert (p.steps[4].limit, p.steps[4].offset) == (10, 0)


@pytest.mark.parametrize("source, expected", [
    ("from lineitem", ("table", "lineitem", None)),
    ('from "Mixed Case"', ("table", "Mixed Case", None)),
    ("from 'data/x.parquet'", ("path", "data/x.parquet", None)),
    ("from lineitem as l", ("table", "lineitem", "l")),
    ("FROM lineitem AS l", ("table", "lineitem", "l")),
])
def test_from(source, expected):
    r = parse_pipeline(source).source
    assert (r.kind, r.name, r.alias) == expected


def test_from_a_table_function():
    r = parse_pipeline("from read_parquet('data/*.parquet', hive_partitioning = true)").source
    assert (r.kind, r.name) == ("function", "read_parquet")
    assert texts(r.args) == [(None, "'data/*.parquet'"), ("hive_partitioning", "true")]


def test_select_names_and_expressions():
    step = parse_pipeline('from t | select a, "b c", total = a + b, t.x, *, flag = a = b').steps[0]
    assert isinstance(step, A.Select)
    assert texts(step.items) == [(None, "a"), (None, '"b c"'), ("total", "a + b"), (None, "t.x"), (None, "*"),
                                 ("flag", "a = b")]


def test_filter_keeps_the_expression_text_and_its_comments():
    step = parse_pipeline("from t\n| filter a = 1 -- one\n    and b in (1, 2)\n| take 1").steps[0]
    assert isinstance(step, A.Filter)
    assert step.condition.text == "a = 1 -- one\n    and b in (1, 2)"


def test_expressions_use_sql_syntax():
    # words that are verbs or keywords of the pipeline are plain SQL inside an expression
    step = parse_pipeline("from t | derive y = extract(year from d), c = case when a then 'x' else 'y' end, "
                          "k = cast(a as int), s = a || b, n = x::bigint, i = d + interval 3 day").steps[0]
    assert texts(step.items) == [("y", "extract(year from d)"), ("c", "case when a then 'x' else 'y' end"),
                                 ("k", "cast(a as int)"), ("s", "a || b"), ("n", "x::bigint"),
                                 ("i", "d + interval 3 day")]


def test_derive():
    step = parse_pipeline("from t | derive a2 = a * 2, b = upper(b)").steps[0]
    assert isinstance(step, A.Derive)
    assert texts(step.items) == [("a2", "a * 2"), ("b", "upper(b)")]


def test_group_keys_and_aggregates():
    step = parse_pipeline("from t | group k, yr = extract(year from d) (n = count(), s = sum(x), max(y))").steps[0]
    assert isinstance(step, A.Group)
    assert texts(step.keys) == [(None, "k"), ("yr", "extract(year from d)")]
    assert texts(step.aggregates) == [("n", "count()"), ("s", "sum(x)"), (None, "max(y)")]


def test_group_by_a_parenthesized_key():
    step = parse_pipeline("from t | group (a + 1) (n = count())").steps[0]
    assert texts(step.keys) == [(None, "(a + 1)")] and texts(step.aggregates) == [("n", "count()")]


def test_aggregate_with_and_without_parentheses():
    a = parse_pipeline("from t | aggregate (n = count(), s = sum(x))").steps[0]
    b = parse_pipeline("from t | aggregate n = count(), s = sum(x)").steps[0]
    assert isinstance(a, A.Aggregate)
    assert texts(a.aggregates) == texts(b.aggregates) == [("n", "count()"), ("s", "sum(x)")]


def test_window():
    step = parse_pipeline("from t | window rn = row_number() over (partition by k order by x desc)").steps[0]
    assert isinstance(step, A.Window) and step.over is None
    assert texts(step.items) == [("rn", "row_number() over (partition by k order by x desc)")]
    shared = parse_pipeline("from t | window over (partition by k order by x rows between 2 preceding and "
                            "current row) rn = row_number(), s = sum(x)").steps[0]
    assert shared.over.text == "partition by k order by x rows between 2 preceding and current row"
    assert texts(shared.items) == [("rn", "row_number()"), ("s", "sum(x)")]


@pytest.mark.parametrize("text, kind, condition, using", [
    ("from t | join u on t.a = u.a", "inner", "t.a = u.a", None),
    ("from t | join left u on a = b and c > 1", "left", "a = b and c > 1", None),
    ("from t | join right u on (k)", "right", None, ("k",)),
    ("from t | join full u on k", "full", None, ("k",)),
    ("from t | join semi u on (k1, k2)", "semi", None, ("k1", "k2")),
    ("from t | join anti u on a <> b", "anti", "a <> b", None),
    ("from t | join inner u on (a = b)", "inner", "(a = b)", None),
    ("from t | join cross u", "cross", None, None),
])
def test_join(text, kind, condition, using):
    step = parse_pipeline(text).steps[0]
    assert isinstance(step, A.Join)
    assert step.kind == kind and step.relation.name == "u"
    assert (step.condition.text if step.condition else None) == condition
    assert step.using == using


def test_join_a_nested_pipeline_with_an_alias():
    step = parse_pipeline("from t | join (from u | filter x > 1 | select k) as v on t.k = v.k").steps[0]
    r = step.relation
    assert r.kind == "pipeline" and r.alias == "v"
    assert r.pipeline.source.name == "u" and [s.verb for s in r.pipeline.steps] == ["filter", "select"]


def test_sort():
    step = parse_pipeline("from t | sort a, b desc, c asc nulls first, d + 1 desc nulls last").steps[0]
    assert isinstance(step, A.Sort)
    assert [(k.expr.text, k.descending, k.nulls_first) for k in step.keys] == [
        ("a", False, None), ("b", True, None), ("c", False, True), ("d + 1", True, False)]


def test_take_and_offset():
    assert parse_pipeline("from t | take 5").steps[0] == A.Take(A.Span(9, 15, 1, 10), 5, 0)
    step = parse_pipeline("from t | take 5 offset 20").steps[0]
    assert (step.limit, step.offset) == (5, 20)


def test_distinct():
    assert parse_pipeline("from t | distinct").steps[0].subset == ()
    assert parse_pipeline('from t | distinct a, "b"').steps[0].subset == ("a", "b")


@pytest.mark.parametrize("text, op, all_", [
    ("from t | union u", "union", False),
    ("from t | union all u", "union", True),
    ("from t | intersect u", "intersect", False),
    ("from t | except all (from u | filter x)", "except", True),
])
def test_set_operations(text, op, all_):
    step = parse_pipeline(text).steps[0]
    assert isinstance(step, A.SetOperation)
    assert (step.verb, step.op, step.all) == (op, op, all_)


def test_rename_and_drop():
    p = parse_pipeline('from t | rename total = revenue, "n 2" = n | drop a, "b c"')
    assert p.steps[0].pairs == (("total", "revenue"), ("n 2", "n"))
    assert p.steps[1].names == ("a", "b c")


def test_keywords_are_case_insensitive_and_a_final_semicolon_is_allowed():
    p = parse_pipeline("FROM t | Filter x > 1 | SORT x DESC | Take 3;")
    assert [s.verb for s in p.steps] == ["filter", "sort", "take"]


def test_words_reserved_only_where_the_verb_expects_them():
    # verbs and `desc` are words of the pipeline only where a step or sort key allows them
    step = parse_pipeline("from t | select desc, take, filter, from_ = 1 | sort desc").steps[0]
    assert texts(step.items) == [(None, "desc"), (None, "take"), (None, "filter"), ("from_", "1")]


def test_keywords_are_whole_words():
    step = parse_pipeline("from fromage | join leftover on a = b | union allx").steps
    assert (step[0].kind, step[0].relation.name) == ("inner", "leftover")
    assert (step[1].all, step[1].relation.name) == (False, "allx")
    err = syntax_error("from t | filterx > 1")         # not `filter` + `x > 1`
    assert "unknown verb `filterx`" in err.message
    err = syntax_error("from t | distinctive")
    assert "unknown verb `distinctive`" in err.message


def test_nested_pipelines_nest():
    p = parse_pipeline("from t | union (from u | join (from v | take 1) on (k) | take 2) | take 3")
    inner = p.steps[0].relation.pipeline
    assert inner.steps[0].relation.pipeline.steps[0].limit == 1
    assert p.steps[1].limit == 3


def test_the_grammar_copy_shipped_in_the_package_matches_the_repository():
    from pathlib import Path
    import quarry.dsl.parser as parser_module
    repo = Path(__file__).resolve().parent.parent / "grammar" / "quarry.lark"
    packaged = Path(parser_module.__file__).with_name("quarry.lark")
    assert packaged.read_text() == repo.read_text(), \
        "copy grammar/quarry.lark to quarry/dsl/quarry.lark (installed quarry reads the copy)"
    assert parser_module.grammar_path() == repo


# ============================================================================ syntax errors


def test_error_unknown_verb_suggests_the_closest():
    err = syntax_error("from lineitem\n| fliter l_quantity < 24")
    assert_caret(err, 2, 3)
    assert "unknown verb `fliter`" in err.message
    assert "expected a verb (select, filter" in err.message
    assert err.hint == "did you mean `filter`?"
    assert "line 2, column 3" in err.message


@pytest.mark.parametrize("word, verb", [("where", "filter"), ("limit", "take"), ("groupby", "group"),
                                        ("mutate", "derive")])
def test_error_words_from_sql_and_other_apis_suggest_the_verb(word, verb):
    err = syntax_error(f"from t | {word} x")
    assert err.hint == f"did you mean `{verb}`?"


def test_error_second_from():
    err = syntax_error("from t | from u")
    assert_caret(err, 1, 10)
    assert "join" in err.hint


def test_error_names_what_was_expected_after_a_step():
    err = syntax_error("from t filter x")
    assert_caret(err, 1, 8)
    assert "unexpected `filter`" in err.message
    assert "`|`" in err.message and "the end of the pipeline" in err.message
    assert err.hint == "separate steps with `|`"


def test_error_at_the_end_points_after_the_last_token():
    err = syntax_error("from t\n| filter a > 1 |\n")
    assert_caret(err, 2, 17)
    assert "unexpected end of the pipeline; expected a verb" in err.message


def test_error_missing_expression():
    err = syntax_error("from t | filter")
    assert_caret(err, 1, 16)
    assert err.message.endswith("expected an expression")


def test_error_take_needs_an_integer():
    err = syntax_error("from t | take ten")
    assert_caret(err, 1, 15)
    assert "unexpected `ten`; expected an integer" in err.message


def test_error_unclosed_parenthesis():
    err = syntax_error("from t\n| select x = sum(y\n| take 1")
    assert_caret(err, 3, 1)
    assert "unexpected `|`; expected `,`, `)` or an expression" in err.message


def test_error_unbalanced_closing_parenthesis():
    err = syntax_error("from t | filter a > 1)")
    assert_caret(err, 1, 22)
    assert "unexpected `)`" in err.message and "`|`" in err.message


def test_error_pipeline_must_start_with_from():
    err = syntax_error("select * from t")
    assert_caret(err, 1, 1)
    assert "a pipeline starts with `from`" in err.message


def test_error_empty_pipeline():
    with pytest.raises(ParseError, match="empty pipeline"):
        parse_pipeline("  -- nothing\n")


def test_error_unterminated_string():
    err = syntax_error("from t | filter name = 'ann")
    assert_caret(err, 1, 24)
    assert "unterminated string" in err.message


def test_error_character_that_starts_nothing():
    err = syntax_error("from t | filter a # b")
    assert_caret(err, 1, 19)
    assert "unexpected character `#`" in err.message and err.hint == "comments start with `--`"


def test_error_in_sql_expression_is_placed_in_the_pipeline():
    err = syntax_error("from t\n| derive x = a +\n| take 1")
    assert_caret(err, 2, 16)
    assert "`+` is missing an operand" in err.message


def test_error_two_expressions_without_a_comma():
    err = syntax_error("from t | select a b")
    assert_caret(err, 1, 19)
    assert "unexpected `b`" in err.message and "`b = <expression>`" in err.hint


def test_error_group_without_aggregate_list():
    err = syntax_error("from t | group a, b")
    assert "aggregates in parentheses" in err.message
    err = syntax_error("from t | group a, f(x)")
    assert "aggregates in parentheses" in err.message
    err = syntax_error("from t | group a ()")
    assert_caret(err, 1, 18)
    assert "at least one aggregate" in err.message
    err = syntax_error("from t | group a, (n = count())")
    assert_caret(err, 1, 19)
    assert "without a comma" in err.message


def test_error_derive_needs_names():
    err = syntax_error("from t | derive a + 1")
    assert_caret(err, 1, 17)
    assert "derive needs a name" in err.message


def test_error_join_needs_a_condition():
    err = syntax_error("from t | join u")
    assert "needs `on <condition>`" in err.message
    err = syntax_error("from t | join cross u on a = b")
    assert "cross join takes no `on`" in err.message


def test_error_window_function_without_over():
    err = syntax_error("from t | window rn = row_number()")
    assert_caret(err, 1, 22)
    assert "needs an OVER clause" in err.message


# ============================================================================ compiling to the DataFrame API

import datetime  # noqa: E402

import quarry.functions as F  # noqa: E402
from quarry import col  # noqa: E402


@pytest.fixture
def con():
    session = quarry.connect()
    session.register("t", pa.table({
        "k": ["a", "b", "a", "c", None],
        "x": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "y": [1.5, None, 2.5, 0.5, 3.0],
        "d": pa.array([datetime.date(2024, 1, i) for i in range(1, 6)], pa.date32()),
    }))
    session.register("u", pa.table({"k": ["a", "b", "d"], "z": pa.array([10, 20, 30], pa.int64())}))
    session.register("t2", pa.table({"k": ["a", "z"], "x": pa.array([1, 9], pa.int64()),
                                     "y": [1.5, 9.5], "d": pa.array([datetime.date(2024, 1, 1)] * 2, pa.date32())}))
    return session


def optimized(con, df) -> str:
    return con.optimize(df.logical_plan).pretty()


def assert_same(con, pipeline: str, api) -> None:
    """The pipeline builds the API chain's plan: same optimized plan text, same columns, same rows."""
    dsl = con.dsl(pipeline)
    assert isinstance(dsl, quarry.DataFrame)
    assert optimized(con, dsl) == optimized(con, api)
    assert dsl.columns == api.columns
    # rows of an unsorted join arrive in any order; the equal plans already pin the order semantics
    assert_tables_equal(dsl.to_arrow(), api.to_arrow(), ordered=False)


def test_con_dsl_returns_a_lazy_dataframe_that_can_be_transformed_further(con):
    df = con.dsl("from t | filter x > 1")
    assert isinstance(df, quarry.DataFrame)
    assert df.select("x").sort(col("x").desc()).limit(1).to_pylist() == [{"x": 5}]
    df.create_view("big")
    assert con.sql("SELECT count(*) AS n FROM big").to_pylist() == [{"n": 4}]


def test_equivalent_issue_example(con, tpch_sf001):
    from quarry.tpch.datagen import table_paths
    con.register("lineitem", str(table_paths(tpch_sf001)["lineitem"]))
    pipeline = """from lineitem
| filter l_shipdate <= date '1998-09-02'
| derive disc_price = l_extendedprice * (1 - l_discount)
| group l_returnflag, l_linestatus (sum_qty = sum(l_quantity), avg_price = avg(l_extendedprice), n = count())
| sort l_returnflag, l_linestatus
| take 10"""
    api = (con.table("lineitem")
           .filter(col("l_shipdate") <= F.date("1998-09-02"))
           .with_columns((col("l_extendedprice") * (1 - col("l_discount"))).alias("disc_price"))
           .group_by("l_returnflag", "l_linestatus")
           .agg(F.sum("l_quantity").alias("sum_qty"), F.avg("l_extendedprice").alias("avg_price"),
                F.count().alias("n"))
           .sort("l_returnflag", "l_linestatus")
           .limit(10))
    assert_same(con, pipeline, api)


def test_equivalent_select(con):
    t = con.table("t")
    assert_same(con, "from t | select k, x2 = x * 2, y", t.select("k", (col("x") * 2).alias("x2"), "y"))
    assert_same(con, "from t | select *", t.select("*"))
    assert_same(con, "from t | select total = sum(x)", t.select(F.sum("x").alias("total")))


def test_equivalent_filter(con):
    assert_same(con, "from t | filter x > 1 and k like 'a%' and d < date '2024-01-04'",
                con.table("t").filter((col("x") > 1) & col("k").like("a%") & (col("d") < F.date("2024-01-04"))))


def test_equivalent_derive_replaces_and_adds(con):
    assert_same(con, "from t | derive x = x + 1, k2 = upper(k)",
                con.table("t").with_columns((col("x") + 1).alias("x"), F.upper("k").alias("k2")))


def test_equivalent_group_and_aggregate(con):
    t = con.table("t")
    assert_same(con, "from t | group k (n = count(), total = sum(x), max(y))",
                t.group_by("k").agg(F.count().alias("n"), F.sum("x").alias("total"), F.expr("max(y)")))
    assert_same(con, "from t | group bucket = x % 2 (n = count())",
                t.group_by((col("x") % 2).alias("bucket")).agg(F.count().alias("n")))
    assert_same(con, "from t | aggregate (n = count(), s = sum(x))",
                t.agg(F.count().alias("n"), F.sum("x").alias("s")))
    assert_same(con, "from t | aggregate n = count()", t.agg(F.count().alias("n")))


def test_equivalent_window(con):
    t = con.table("t")
    w = F.window(partition_by="k", order_by=col("x").desc())
    assert_same(con, "from t | window rn = row_number() over (partition by k order by x desc)",
                t.with_columns(F.row_number().over(w).alias("rn")))
    running = F.window(partition_by="k", order_by="x", rows=(-1, 0))
    assert_same(con, "from t | window over (partition by k order by x rows between 1 preceding and current row) "
                     "rn = row_number(), s = sum(x), m = max(y) over (partition by k)",
                t.with_columns(F.row_number().over(running).alias("rn"), F.sum("x").over(running).alias("s"),
                               F.max("y").over(F.window(partition_by="k")).alias("m")))
    # derive takes window functions too: window is derive that insists on OVER
    assert_same(con, "from t | derive rn = row_number() over (order by x)",
                t.with_columns(F.row_number().over(F.window(order_by="x")).alias("rn")))


def test_equivalent_joins(con):
    t, u = con.table("t"), con.table("u")
    assert_same(con, "from t | join u on t.k = u.k", t.join(u, col("t.k") == col("u.k")))
    assert_same(con, "from t | join left u on (k)", t.join(u, on=["k"], how="left"))
    assert_same(con, "from t | join full u on k", t.join(u, on="k", how="full"))
    assert_same(con, "from t | join semi u on t.k = u.k and z > 10",
                t.join(u, (col("t.k") == col("u.k")) & (col("z") > 10), how="semi"))
    assert_same(con, "from t | join anti (from u | filter z > 10) on (k)",
                t.join(u.filter(col("z") > 10), on="k", how="anti"))
    assert_same(con, "from t | join cross u", t.join(u, how="cross"))
    assert_same(con, "from t as a | join (from t as b) as c on a.x = c.x + 1 | select a.k, c.k",
                t.alias("a").join(t.alias("b").alias("c"), col("a.x") == col("c.x") + 1).select("a.k", "c.k"))


def test_equivalent_sort_and_take(con):
    t = con.table("t")
    assert_same(con, "from t | sort k desc nulls first, y nulls last, x + 1 desc | take 3 offset 1",
                t.sort(col("k").desc_nulls_first(), col("y").asc_nulls_last(), (col("x") + 1).desc())
                .offset(1).limit(3))
    assert_same(con, "from t | sort y desc | take 2", t.sort(col("y").desc()).limit(2))


def test_equivalent_distinct(con):
    t = con.table("t")
    assert_same(con, "from t | select k | distinct", t.select("k").distinct())
    subset = con.dsl("from t | distinct k")
    assert optimized(con, subset) == optimized(con, t.drop_duplicates(["k"]))
    assert subset.to_arrow().num_rows == 4      # (count() hits an engine bug: see the report)


def test_equivalent_set_operations(con):
    t, t2 = con.table("t"), con.table("t2")
    assert_same(con, "from t | union t2 | sort x", t.union(t2).distinct().sort("x"))
    assert_same(con, "from t | union all t2 | sort x", t.union_all(t2).sort("x"))
    assert_same(con, "from t | intersect t2", t.intersect(t2))
    assert_same(con, "from t | intersect all t2", t.intersect_all(t2))
    assert_same(con, "from t | except (from t2 | filter x > 1) | sort x", t.except_(t2.filter("x > 1")).sort("x"))
    assert_same(con, "from t | except all t2 | sort x", t.except_all(t2).sort("x"))


def test_equivalent_rename_and_drop(con):
    t = con.table("t")
    assert_same(con, 'from t | rename key = k, "the x" = x | drop y, d',
                t.rename({"k": "key", "x": "the x"}).drop("y", "d"))


def test_equivalent_files_and_table_functions(con, tmp_path):
    import pyarrow.parquet as pq
    path = tmp_path / "nums.parquet"
    pq.write_table(pa.table({"n": [1, 2, 3]}), path)
    csv = tmp_path / "people.csv"
    csv.write_text("name;age\nann;31\nbob;42\n")
    assert_same(con, f"from '{path}' | filter n > 1", con.read_parquet(str(path)).filter("n > 1"))
    assert_same(con, f"from read_parquet('{path}') as p | select p.n", con.read_parquet(str(path)).alias("p")
                .select("p.n"))
    df = con.dsl(f"from read_csv('{csv}', delim = ';', header = true) | sort age desc")
    assert df.to_pylist() == [{"name": "bob", "age": 42}, {"name": "ann", "age": 31}]


def test_expressions_are_sql_expressions(con):
    df = con.dsl("from t | filter k is not null and x between 2 and 4 and k in (select k from u where z < 30) "
                 "| derive label = case when x % 2 = 0 then 'even' else 'odd' end, "
                 "  month = extract(month from d), next = d + interval 1 day, k = k || '!' "
                 "| select k, label, month, next | sort k")
    assert df.to_pylist() == [
        {"k": "a!", "label": "odd", "month": 1, "next": datetime.date(2024, 1, 4)},
        {"k": "b!", "label": "even", "month": 1, "next": datetime.date(2024, 1, 3)},
    ]


# ============================================================================ errors while building


def compile_error(con, text: str, kind=QuarryError) -> QuarryError:
    with pytest.raises(QuarryError) as info:
        con.dsl(text)
    err = info.value
    assert isinstance(err, kind), f"{type(err).__name__}: {err}"
    assert err.sql == text
    return err


def test_bind_error_points_at_the_column_in_the_pipeline(con):
    err = compile_error(con, "from t\n| filter x > 1\n| derive x2 = xx * 2", BindError)
    assert_caret(err, 3, 15)
    assert err.message == "derive: column `xx` does not exist"      # the verb, not with_columns
    assert err.hint == "did you mean `x`?"


def test_bind_error_in_a_filter(con):
    err = compile_error(con, "from t | filter k = 'a' and\n    yy > 2", BindError)
    assert_caret(err, 2, 5)
    assert "filter: column `yy` does not exist" in err.message


def test_bind_error_in_a_name_list_and_a_join_key(con):
    err = compile_error(con, "from t | drop y, nope", BindError)
    assert_caret(err, 1, 18)
    err = compile_error(con, "from t | join u on (k, kk)", BindError)
    assert_caret(err, 1, 24)
    assert "`kk`" in err.message


def test_bind_error_in_a_nested_pipeline(con):
    err = compile_error(con, "from t\n| join (from u | filter zz > 1) on (k)", BindError)
    assert_caret(err, 2, 25)


def test_bind_error_in_a_shared_window(con):
    err = compile_error(con, "from t | window over (order by xx) rn = row_number()", BindError)
    assert_caret(err, 1, 32)


def test_unknown_table(con):
    err = compile_error(con, "from t | join uu on (k)")
    assert_caret(err, 1, 15)
    assert "table `uu` does not exist" in err.message and err.hint == "did you mean `u`?"


def test_type_error_points_at_the_expression(con):
    err = compile_error(con, "from t | filter x + 1")
    assert_caret(err, 1, 17)
    assert "must be BOOLEAN" in err.message


def test_aggregate_outside_group_gets_a_dsl_hint(con):
    err = compile_error(con, "from t | derive s = sum(x)", BindError)
    assert_caret(err, 1, 21)
    assert "`group k (...)`" in err.hint
    err = compile_error(con, "from t | group k (s = sum(x) + y)", BindError)
    assert_caret(err, 1, 32)
    assert err.hint == "add `y` to the group keys, or aggregate it: any_value(y)"


def test_unknown_table_function_and_option(con):
    err = compile_error(con, "from read_parket('x.parquet')")
    assert "table function `read_parket` does not exist" in err.message
    assert err.hint == "did you mean `read_parquet`?"
    err = compile_error(con, "from read_csv('x.csv', delimitr = ';')")
    assert "no option `delimitr`" in err.message


def test_the_shell_runs_lines_starting_with_from_as_pipelines(con):
    import io
    from quarry.cli.shell import Shell
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(con, out=out, err=err, mode="csv")
    assert shell.run_script("from t\n| filter x > 3\n| select k, x\n\nSELECT 1 AS one;"), err.getvalue()
    assert out.getvalue().splitlines() == ['"k","x"', '"c",4', ',5', '"one"', "1"]
    assert not shell.run_script("from t | fliter x;")
    assert "unknown verb `fliter`" in err.getvalue() and "^" in err.getvalue()
