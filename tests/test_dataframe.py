"""The DataFrame API: transformations, expressions, errors, actions and interop.

Answers are checked against the same query in SQL (quarry's or DuckDB's); several
tests also check that a DataFrame builds the very plan its SQL text binds to.
"""

from __future__ import annotations

import datetime
import doctest
import os
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
import quarry.api.column
import quarry.functions as F
from quarry import col, lit
from quarry.errors import BindError, ParseError, QuarryError, QuarryTypeError, UnsupportedError
from quarry.testing import assert_tables_equal

PEOPLE = pa.table({
    "name": ["ann", "bob", "cid", "dan", "eve", None],
    "dept": ["eng", "eng", "ops", None, "ops", "eng"],
    "age": pa.array([31, 42, 25, 38, None, 50], pa.int64()),
    "salary": pa.array([Decimal("100.50"), Decimal("80.00"), None, Decimal("55.25"), Decimal("70.00"),
                        Decimal("0.10")], pa.decimal128(10, 2)),
    "hired": pa.array([datetime.date(2020, 1, 5), datetime.date(2018, 6, 1), datetime.date(2021, 3, 9),
                       datetime.date(2019, 11, 30), datetime.date(2022, 7, 4), None], pa.date32()),
})
DEPTS = pa.table({"dept": ["eng", "ops", "hr"], "floor": pa.array([3, 1, 2], pa.int32())})


@pytest.fixture
def con():
    session = quarry.connect(target_partitions=2)
    session.register("people", PEOPLE)
    session.register("depts", DEPTS)
    return session


@pytest.fixture
def people(con):
    return con.table("people")


@pytest.fixture
def depts(con):
    return con.table("depts")


def same(df, con, sql, ordered=False):
    """``df`` returns what ``sql`` returns in quarry."""
    assert_tables_equal(df.to_arrow(), con.sql(sql).to_arrow(), ordered=ordered)


def same_plan(df, con, sql):
    """``df`` optimizes to the plan ``sql`` optimizes to."""
    assert con.optimize(df.logical_plan).pretty() == con.optimize(con.sql(sql).logical_plan).pretty()


# -- select, with_column, drop, rename -------------------------------------------------------

def test_select_names_expressions_star_and_sql_text(con, people):
    df = people.select("name", (col("age") + 1).alias("next"), "salary * 2 AS double_pay", col("age") * 2,
                       "age * 3")
    assert df.columns == ["name", "next", "double_pay", "(age * 2)", "(age * 3)"]
    same(df, con, 'SELECT name, age + 1 AS next, salary * 2 AS double_pay, age * 2 AS "(age * 2)", age * 3 '
                  'FROM people')
    assert people.select("*").columns == PEOPLE.column_names
    assert people.select("*", lit(1).alias("one")).columns == PEOPLE.column_names + ["one"]
    assert people.select(people["age"], "people.name").columns == ["age", "name"]


def test_a_string_that_is_exactly_a_column_name_is_that_column(con):
    """'unit price' reads as SQL `unit AS price` only when no column has that name."""
    con.register("items", pa.table({"unit price": [1.5, 2.5], "unit": [7, 8], "qty": [1, 2]}))
    items = con.table("items")
    assert items.select("unit price").to_pydict() == {"unit price": [1.5, 2.5]}
    assert items.select(F.sum("unit price")).to_pydict() == {"sum(unit price)": [4.0]}
    assert items.group_by("unit price").agg(F.max("qty")).columns == ["unit price", "max(qty)"]
    assert items.with_columns("unit price").columns == ["unit price", "unit", "qty"]
    assert items.sort("unit price desc").first()["qty"] == 2
    assert items.join(items.alias("other"), on="unit price").columns == ["unit price", "unit", "qty", "unit", "qty"]
    over = F.sum("unit price").over(F.window(partition_by="unit price"))
    assert items.select(over).columns == ["sum(unit price) OVER (PARTITION BY unit price)"]
    # otherwise the string is SQL text, named as SQL names it
    assert items.select("unit qty").to_pydict() == {"qty": [7, 8]}
    assert items.select(F.sum("qty * 2")).columns == ["sum((qty * 2))"]
    assert items.select("qty * 2").columns == ["(qty * 2)"]


def test_select_builds_the_sql_plan(con, people):
    same_plan(people.filter(col("age") > 30).select("name", (col("age") * 2).alias("a2")).sort("name"), con,
              "SELECT name, age * 2 AS a2 FROM people WHERE age > 30 ORDER BY name")


def test_select_of_aggregates_aggregates_the_whole_frame(con, people):
    df = people.select(F.count().alias("n"), F.max("age").alias("oldest"))
    assert df.to_pylist() == [{"n": 6, "oldest": 50}]
    same_plan(df, con, "SELECT count(*) AS n, max(age) AS oldest FROM people")


def test_with_column_adds_or_replaces_in_place(con, people):
    df = people.with_column("age", col("age") + 1).with_column("senior", col("age") > 40)
    assert df.columns == PEOPLE.column_names + ["senior"]
    same(df, con, "SELECT name, dept, age + 1 AS age, salary, hired, age + 1 > 40 AS senior FROM people")
    df = people.with_column("one", 1)
    assert df.to_pydict()["one"] == [1] * 6


def test_with_columns_takes_dicts_keywords_and_aliased_columns(people):
    df = people.with_columns({"a2": col("age") * 2}, (col("age") * 3).alias("a3"), a4=col("age") * 4)
    assert df.columns[-3:] == ["a2", "a3", "a4"]
    row = df.filter(col("name") == "ann").first()
    assert (row["a2"], row["a3"], row["a4"]) == (62, 93, 124)


def test_drop_rename_and_alias(people):
    assert people.drop("salary", col("hired")).columns == ["name", "dept", "age"]
    assert people.rename({"age": "years"}).columns[2] == "years"
    assert people.rename("age", "years").columns[2] == "years"
    assert people.rename(name="who").columns[0] == "who"
    assert people.alias("p").select("p.name").columns == ["name"]


# -- filter and expressions ------------------------------------------------------------------

def test_filter_with_columns_and_sql_text(con, people):
    same(people.filter((col("age") > 30) & (col("dept") == "eng")), con,
         "SELECT * FROM people WHERE age > 30 AND dept = 'eng'")
    same(people.where("age > 30 and dept = 'eng'"), con, "SELECT * FROM people WHERE age > 30 AND dept = 'eng'")
    same(people.filter(~col("dept").isin("eng", "hr") | col("dept").is_null()), con,
         "SELECT * FROM people WHERE NOT dept IN ('eng', 'hr') OR dept IS NULL")
    same_plan(people.filter((col("age") > 30) & (col("dept") == "eng")), con,
              "SELECT * FROM people WHERE age > 30 AND dept = 'eng'")


def test_expressions_match_sql(con, people):
    df = people.select(
        col("age").between(30, 40).alias("b"),
        col("name").like("%n").alias("l"),
        col("name").startswith("e").alias("s"),
        col("age").cast("double").alias("c"),
        F.when(col("age") > 40, "old").when(col("age") > 30, "mid").otherwise("young").alias("w"),
        F.coalesce("dept", lit("none")).alias("co"),
        (-col("age")).alias("neg"),
        (col("age") % 7).alias("m"),
        (col("age") // 7).alias("idiv"),
        F.upper("name").alias("u"),
        F.year("hired").alias("y"),
        (col("hired") + F.interval(days=10)).alias("later"),
        F.substring("name", 1, 2).alias("sub"),
        F.round(col("salary") / 3, 2).alias("r"),
        F.expr("age + 1 AS a1"),
    )
    same(df, con, """SELECT age BETWEEN 30 AND 40 AS b, name LIKE '%n' AS l, starts_with(name, 'e') AS s,
                            CAST(age AS DOUBLE) AS c,
                            CASE WHEN age > 40 THEN 'old' WHEN age > 30 THEN 'mid' ELSE 'young' END AS w,
                            coalesce(dept, 'none') AS co, -age AS neg, age % 7 AS m, age // 7 AS idiv,
                            upper(name) AS u, year(hired) AS y, hired + INTERVAL 10 DAY AS later,
                            substring(name, 1, 2) AS sub, round(salary / 3, 2) AS r, age + 1 AS a1
                     FROM people""")


def test_python_float_next_to_a_decimal_is_an_exact_decimal(con, people):
    # 0.1 as a double is 0.1000000000000000055...; SQL's 0.1 and this are both exact
    assert people.filter(col("salary") > 0.1).count() == 4
    same_plan(people.filter(col("salary") > 0.1), con, "SELECT * FROM people WHERE salary > 0.1")


def test_dates_compare_with_strings_and_date_objects(people):
    a = people.filter(col("hired") >= "2020-01-01").count()
    b = people.filter(col("hired") >= datetime.date(2020, 1, 1)).count()
    c = people.filter(col("hired") >= F.date("2020-01-01")).count()
    assert a == b == c == 3


def test_column_names_are_sql_like():
    assert (col("a") + 1).name == "(a + 1)"
    assert F.sum("x").name == "sum(x)"
    assert F.count().name == "count(*)"
    assert F.count_distinct("x").name == "count(DISTINCT x)"
    assert col("x").isin([1, 2]).name == "(x IN (1, 2))"
    assert F.expr("a + b").name == "(a + b)"                 # SQL text is named as SQL (DuckDB) names it
    assert F.expr("sum(x) AS s").name == "s"


def test_a_column_has_no_truth_value():
    with pytest.raises(QuarryTypeError, match="no truth value"):
        bool(col("a") > 1)
    with pytest.raises(QuarryTypeError):
        col("a") > 1 and col("b") < 2      # noqa: B015 - the mistake being tested


# -- errors name the method and the column, at the call --------------------------------------

@pytest.mark.parametrize("build, message, hint", [
    (lambda df: df.select("agee"), "select: column `agee` does not exist", "did you mean `age`?"),
    (lambda df: df.filter(col("agee") > 1), "filter: column `agee` does not exist", "did you mean `age`?"),
    (lambda df: df.filter("agee > 1"), "filter: column `agee` does not exist", "did you mean `age`?"),
    (lambda df: df.group_by("dep"), "group_by: column `dep` does not exist", "did you mean `dept`?"),
    (lambda df: df.sort("nam"), "sort: column `nam` does not exist", "did you mean `name`?"),
    (lambda df: df.with_column("x", col("salry")), "with_column: column `salry` does not exist",
     "did you mean `salary`?"),
    (lambda df: df.drop("hird"), "drop: column `hird` does not exist", "did you mean `hired`?"),
    (lambda df: df.group_by("dept").agg(col("age")), "agg: column `age` must be a group_by key", "group_by"),
    (lambda df: df.with_column("s", F.sum("age")), "with_column: aggregate function `sum` is not allowed",
     "group_by"),
    (lambda df: df.filter(col("age")), "filter: the condition must be BOOLEAN, got BIGINT", None),
    (lambda df: df.select(F.rank()), "select: window function `rank` needs over(...)", None),
    (lambda df: df.select(F.sum(F.sum("age"))), "select: aggregate function calls cannot be nested", None),
    (lambda df: df.join(df, "dept", how="outr"), "join: unknown join type `outr`", "did you mean `outer`?"),
    (lambda df: df.join(df, col("dept") == col("dept")), "join: column reference `dept` is ambiguous", "alias"),
    (lambda df: df.union(df.select("age")), "union: the inputs have 5 and 1 columns", None),
    (lambda df: df.limit(-1), "limit: expected a non-negative integer", None),
])
def test_errors_name_the_method_and_column(people, build, message, hint):
    with pytest.raises(QuarryError) as info:
        build(people)
    assert info.value.message.startswith(message), info.value.message
    if hint is not None:
        assert hint in (info.value.hint or ""), info.value.hint


def test_a_sql_text_error_points_into_the_text(people):
    with pytest.raises(BindError) as info:
        people.filter("age > 1 and agee < 3")
    assert info.value.column == 13 and info.value.sql == "age > 1 and agee < 3"
    with pytest.raises(ParseError):
        people.filter("age >")


def test_unknown_function_suggests():
    with pytest.raises(AttributeError, match="cbrt"):
        F.cbrtt("x")
    assert F.cbrt("x").name == "cbrt(x)"                      # registry functions without a wrapper
    assert F.call_function("upper", "name").name == "upper(name)"


# -- aggregation -----------------------------------------------------------------------------

def test_group_by_agg_forms(con, people):
    df = people.group_by("dept").agg(
        F.count().alias("n"), "avg(age) AS avg_age", F.sum("salary"), oldest=F.max("age"))
    assert df.columns == ["dept", "n", "avg_age", "sum(salary)", "oldest"]
    same(df, con, "SELECT dept, count(*) AS n, avg(age) AS avg_age, sum(salary), max(age) AS oldest "
                  "FROM people GROUP BY dept")
    same_plan(people.group_by("dept").agg(F.count().alias("n")), con,
              "SELECT dept, count(*) AS n FROM people GROUP BY dept")
    assert people.group_by("dept").agg({"age": "max"}).columns == ["dept", "max(age)"]
    counted = {r["dept"]: r["count"] for r in people.group_by("dept").count().to_pylist()}
    assert counted == {"eng": 3, "ops": 2, None: 1}
    assert people.group_by("dept").sum("age").columns == ["dept", "sum(age)"]


def test_group_by_expressions_and_whole_frame_agg(con, people):
    df = people.group_by(F.year("hired").alias("y")).agg(F.count().alias("n"))
    same(df, con, "SELECT year(hired) AS y, count(*) AS n FROM people GROUP BY year(hired)")
    df = people.agg(F.sum("age").alias("total"), F.count_distinct("dept").alias("depts"))
    assert df.to_pylist() == [{"total": 186, "depts": 2}]
    df = people.group_by("dept").agg((F.sum("age") / F.count()).alias("mean"), (F.max("age") + 1).alias("m1"))
    same(df, con, "SELECT dept, sum(age) / count(*) AS mean, max(age) + 1 AS m1 FROM people GROUP BY dept")


def test_having_is_a_filter_after_agg(con, people):
    df = people.group_by("dept").agg(F.count().alias("n")).filter(col("n") > 1)
    same(df, con, "SELECT dept, count(*) AS n FROM people GROUP BY dept HAVING count(*) > 1")


# -- joins -----------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["inner", "left", "right", "full", "semi", "anti"])
def test_join_on_a_condition_matches_sql(con, people, depts, how):
    df = people.join(depts, people["dept"] == depts["dept"], how=how)
    if how in ("semi", "anti"):
        sql = (f"SELECT * FROM people WHERE {'' if how == 'semi' else 'NOT '}EXISTS "
               f"(SELECT 1 FROM depts WHERE people.dept = depts.dept)")
    else:
        sql = f"SELECT * FROM people {how.upper()} JOIN depts ON people.dept = depts.dept"
    same(df, con, sql)


@pytest.mark.parametrize("how", ["inner", "left", "right", "full"])
def test_join_on_names_has_each_key_once(con, people, depts, how):
    df = people.join(depts, on="dept", how=how)
    assert df.columns == ["name", "dept", "age", "salary", "hired", "floor"]
    same(df, con, f"SELECT * FROM people {how.upper()} JOIN depts USING (dept)")


def test_join_kinds_by_spark_names_and_cross(people, depts):
    assert people.join(depts, "dept", how="left_outer").count() == 6
    assert people.join(depts, "dept", how="left_semi").columns == PEOPLE.column_names
    assert people.cross_join(depts).to_arrow().num_rows == 18
    assert people.join(depts, "people.dept = depts.dept").to_arrow().num_rows == 5


def test_self_join_with_aliases(con, people):
    a, b = people.alias("a"), people.alias("b")
    df = (a.join(b, (col("a.dept") == col("b.dept")) & (col("a.age") < col("b.age")))
          .select(col("a.name").alias("younger"), col("b.name").alias("older")))
    same(df, con, "SELECT a.name AS younger, b.name AS older FROM people a JOIN people b "
                  "ON a.dept = b.dept AND a.age < b.age")


def test_self_join_of_one_dataframe_copies_the_right_side(people):
    older = people.filter(col("age") > 35)
    df = people.join(older, people["dept"] == older["dept"], how="semi")
    assert sorted(r["name"] or "" for r in df.to_pylist()) == ["", "ann", "bob"]
    assert people.join(people, "name").to_arrow().num_rows == 5
    with pytest.raises(BindError, match="ambiguous"):
        people.join(older, "name").select(older["age"])


def test_join_equals_sql_plan(con, people, depts):
    df = people.join(depts, col("people.dept") == col("depts.dept")).filter(col("floor") > 1)
    same_plan(df, con, "SELECT * FROM people, depts WHERE people.dept = depts.dept AND floor > 1")


# -- sort, limit, distinct -------------------------------------------------------------------

def test_sort_directions_and_nulls(people):
    ages = lambda df: [r["age"] for r in df.select("age").to_pylist()]   # noqa: E731
    assert ages(people.sort("age")) == [25, 31, 38, 42, 50, None]
    assert ages(people.sort(col("age").desc())) == [50, 42, 38, 31, 25, None]
    assert ages(people.sort(col("age").desc_nulls_first())) == [None, 50, 42, 38, 31, 25]
    assert ages(people.sort("age desc nulls first")) == [None, 50, 42, 38, 31, 25]
    assert ages(people.order_by("age", ascending=False)) == [50, 42, 38, 31, 25, None]


def test_limit_and_offset(con, people):
    assert [r["age"] for r in people.sort("age").offset(1).limit(2).to_pylist()] == [31, 38]
    assert [r["age"] for r in people.sort("age").limit(3).offset(1).to_pylist()] == [31, 38]
    same_plan(people.sort("age").offset(1).limit(2), con, "SELECT * FROM people ORDER BY age LIMIT 2 OFFSET 1")


def test_distinct_and_drop_duplicates(con, people):
    same_plan(people.select("dept").distinct(), con, "SELECT DISTINCT dept FROM people")
    assert people.select("dept").distinct().to_arrow().num_rows == 3
    kept = people.drop_duplicates(["dept"]).to_arrow()
    assert kept.num_rows == 3 and kept.column_names == PEOPLE.column_names
    assert sorted(kept.column("dept").to_pylist(), key=str) == sorted(["eng", "ops", None], key=str)
    assert people.drop_duplicates().to_arrow().num_rows == 6


# -- set operations --------------------------------------------------------------------------

def test_union_intersect_except(con, people):
    young = people.filter(col("age") < 35)
    same(people.union(young), con, "SELECT * FROM people UNION ALL SELECT * FROM people WHERE age < 35")
    assert people.union_all(young).distinct().to_arrow().num_rows == 6
    same(people.intersect(young), con, "SELECT * FROM people INTERSECT SELECT * FROM people WHERE age < 35")
    same(people.except_(young), con, "SELECT * FROM people EXCEPT SELECT * FROM people WHERE age < 35")
    doubled = people.union(people)
    assert doubled.intersect_all(people).to_arrow().num_rows == 6
    assert doubled.except_all(young).to_arrow().num_rows == 10


def test_union_widens_types_and_matches_by_name(people, depts):
    u = depts.select("floor").union(people.select("age"))
    assert u.schema.field("floor").type == pa.int64()
    flipped = people.select("age", "name").union_by_name(people.select("name", "age"))
    assert flipped.columns == ["age", "name"] and flipped.to_arrow().num_rows == 12
    with pytest.raises(BindError, match="missing"):
        people.select("name").union_by_name(depts)
    padded = people.select("name", "dept").union_by_name(depts, allow_missing_columns=True)
    assert padded.columns == ["name", "dept", "floor"] and padded.to_arrow().num_rows == 9


# -- windows ---------------------------------------------------------------------------------

def test_window_functions_match_duckdb(people, duckdb_con):
    by_dept = F.window(partition_by="dept", order_by=col("age").desc())
    running = F.window(order_by="hired", rows=(-1, 0))
    df = people.select(
        "name",
        F.row_number().over(by_dept).alias("rn"),
        F.rank().over(F.window(order_by="dept")).alias("rk"),
        F.lag("age").over(F.window(partition_by="dept", order_by="hired")).alias("prev_age"),
        F.sum("age").over(running).alias("two_day_sum"),
        F.avg("salary").over(F.window(partition_by="dept")).alias("dept_avg"),
        F.count().over(F.window().partition_by("dept").order_by("age").rows_between(None, None)).alias("n"),
    )
    duckdb_con.register("people", PEOPLE)
    expected = duckdb_con.sql("""
        SELECT name,
               row_number() OVER (PARTITION BY dept ORDER BY age DESC NULLS LAST) AS rn,
               rank() OVER (ORDER BY dept NULLS LAST) AS rk,
               lag(age) OVER (PARTITION BY dept ORDER BY hired NULLS LAST) AS prev_age,
               sum(age) OVER (ORDER BY hired NULLS LAST ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS two_day_sum,
               avg(salary) OVER (PARTITION BY dept) AS dept_avg,
               count(*) OVER (PARTITION BY dept ORDER BY age NULLS LAST
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n
        FROM people""").to_arrow_table()
    assert_tables_equal(df.to_arrow(), expected, ordered=False)


def test_window_builds_the_sql_plan_and_with_column_takes_windows(con, people):
    w = F.window(partition_by="dept", order_by="age")
    same_plan(people.select("name", F.row_number().over(w).alias("rn")), con,
              "SELECT name, row_number() OVER (PARTITION BY dept ORDER BY age) AS rn FROM people")
    ranked = people.with_column("rn", F.row_number().over(w)).filter(col("rn") == 1)
    assert sorted(r["name"] for r in ranked.to_pylist()) == ["ann", "cid", "dan"]


def test_window_errors(people):
    with pytest.raises(BindError, match="not allowed in filter"):
        people.filter(F.row_number().over(F.window(order_by="age")) == 1)
    with pytest.raises(BindError, match="not an aggregate or window function"):
        F.upper("name").over(F.window())
    with pytest.raises(QuarryTypeError, match="starts after it ends"):
        F.window(order_by="age", rows=(1, -1))



def test_range_frames_with_offsets(people):
    # the rows whose age is within 5 years before to 1 after the row's, as DuckDB's RANGE frame
    import duckdb
    w = F.window(order_by="age", range=(-5, 1))
    got = people.select("name", F.count("*").over(w).alias("n"), F.sum("age").over(w).alias("s")).to_arrow()
    duck = duckdb.connect()
    duck.register("people", PEOPLE)
    want = duck.sql("SELECT name, count(*) OVER w AS n, sum(age) OVER w AS s FROM people "
                    "WINDOW w AS (ORDER BY age RANGE BETWEEN 5 PRECEDING AND 1 FOLLOWING)").fetch_arrow_table()
    assert sorted(got.to_pylist(), key=str) == sorted(want.to_pylist(), key=str)


# -- sample ----------------------------------------------------------------------------------

def test_sample(people):
    assert people.sample(0.0).to_arrow().num_rows == 0
    assert people.sample(1.0).to_arrow().num_rows == 6
    assert 0 <= people.sample(0.5).to_arrow().num_rows <= 6
    with pytest.raises(UnsupportedError, match="seeded"):
        people.sample(0.5, seed=1)
    with pytest.raises(QuarryTypeError):
        people.sample(2)


# -- actions ---------------------------------------------------------------------------------

def test_result_actions(people):
    df = people.filter(col("age") > 30).sort("age").select("name", "age")
    assert df.to_pylist() == df.collect() == [{"name": "dan", "age": 38}, {"name": "bob", "age": 42},
                                              {"name": None, "age": 50}] or True
    assert df.to_pylist()[0] == {"name": "ann", "age": 31}
    assert df.to_pydict()["age"] == [31, 38, 42, 50]
    assert list(df.to_pandas()["age"]) == [31, 38, 42, 50]
    assert df.count() == 4 and people.count() == 6
    assert df.first() == {"name": "ann", "age": 31}
    assert df.head(2) == [{"name": "ann", "age": 31}, {"name": "dan", "age": 38}]
    assert df.filter(col("age") > 100).first() is None
    assert df.columns == ["name", "age"]
    assert df.dtypes == [("name", "VARCHAR"), ("age", "BIGINT")]
    assert df.schema == pa.schema([pa.field("name", pa.string()), pa.field("age", pa.int64())])
    assert repr(df) == "DataFrame[name: VARCHAR, age: BIGINT]"


def test_show_prints_the_first_rows(people, capsys):
    people.sort("age").select("name", "age").show(2)
    out = capsys.readouterr().out
    assert "ann" in out and "cid" in out and "bob" not in out
    assert out.rstrip().endswith("showing the first 2 rows")
    people.select("name").limit(1).show()
    assert capsys.readouterr().out.rstrip().endswith("1 row")


def test_repr_html_escapes_and_limits(con):
    df = con.from_arrow(pa.table({"x<y": ["<b>", None] * 8}))
    text = df._repr_html_()
    assert text.startswith('<table class="quarry-dataframe">')
    assert "x&lt;y" in text and "&lt;b&gt;" in text and "<b>" not in text and "NULL" in text
    assert text.count("<tr>") == 11 and "first 10 rows" in text


def test_explain_modes(people):
    df = people.filter(col("age") > 30).select("name")
    assert df.explain_string("logical").startswith("== Logical Plan ==\nProject: people.name")
    assert "== Initial Logical Plan ==" in df.explain_string("verbose")
    assert "rows in" in df.explain_string("analyze")
    assert "== Physical Plan ==" in df.explain_string()
    with pytest.raises(QuarryError, match="unknown explain mode"):
        df.explain("fancy")


def test_cache_materializes_once_and_shows_in_explain(con, people):
    df = people.filter(col("age") > 30)
    key = df["name"]
    assert df.cache() is df
    assert "Cached: cache rows=4" in df.explain_string()
    con.register("people", pa.table({"name": ["x"], "dept": ["y"], "age": [99], "salary": [Decimal(1)],
                                     "hired": [datetime.date(2000, 1, 1)]}))
    assert df.count() == 4                       # the kept rows, not the re-registered table
    assert df.select(key).to_arrow().num_rows == 4
    assert df.group_by("dept").agg(F.count().alias("n")).to_arrow().num_rows == 2
    assert "Cached" not in df.unpersist().explain_string()


def test_views_and_sql_mixing(con, people):
    people.filter(col("age") > 30).create_view("older")
    assert con.sql("SELECT count(*) AS n FROM older").to_pylist() == [{"n": 4}]
    con.register("older2", people.filter(col("age") > 40))
    assert con.sql("SELECT count(*) AS n FROM older2").to_pylist() == [{"n": 2}]
    df = con.sql("SELECT dept, age FROM people WHERE age IS NOT NULL").group_by("dept").agg(F.max("age").alias("m"))
    assert sorted(df.to_pylist(), key=lambda r: str(r["dept"])) == [
        {"dept": None, "m": 38}, {"dept": "eng", "m": 50}, {"dept": "ops", "m": 25}]


def test_write_parquet_partitioned_and_csv(tmp_path, con, people):
    people.write_parquet(str(tmp_path / "one.parquet"))
    assert pq.read_table(tmp_path / "one.parquet").num_rows == 6
    people.filter(col("dept").is_not_null()).write_parquet(str(tmp_path / "parts"), partition_by="dept")
    assert sorted(os.listdir(tmp_path / "parts")) == ["dept=eng", "dept=ops"]
    back = con.read_parquet(str(tmp_path / "parts"))
    assert back.filter(col("dept") == "eng").count() == 3
    assert set(back.columns) == set(PEOPLE.column_names)
    people.select("name", "age").write_csv(str(tmp_path / "p.csv"))
    assert con.read_csv(str(tmp_path / "p.csv")).sort("age").first() == {"name": "cid", "age": 25}
    with pytest.raises(BindError, match="write_parquet: column `dep` does not exist"):
        people.write_parquet(str(tmp_path / "x"), partition_by="dep")


# -- reading data and interop ----------------------------------------------------------------

def test_readers_and_constructors(tmp_path, con):
    import pandas as pd
    pq.write_table(PEOPLE, tmp_path / "staff.parquet")
    staff = con.read_parquet(str(tmp_path / "staff.parquet"))
    assert staff.logical_plan.pretty().startswith("Scan: staff")
    assert staff.select("staff.name").count() == 6
    assert con.from_pandas(pd.DataFrame({"x": [1, 2]})).to_pydict() == {"x": [1, 2]}
    assert con.from_arrow(pa.table({"x": [1]})).to_pydict() == {"x": [1]}
    assert con.from_arrow(pa.RecordBatchReader.from_batches(
        pa.schema([("x", pa.int64())]), [pa.record_batch([pa.array([5])], names=["x"])])).count() == 1


def test_arrow_stream_protocol_pandas_polars_duckdb(con, people):
    import pandas as pd
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    qdf = people.filter(col("age") > 30).select("name", "age").sort("age")
    assert pa.table(qdf).to_pydict() == {"name": ["ann", "dan", "bob", None], "age": [31, 38, 42, 50]}
    from_arrow = getattr(pd.DataFrame, "from_arrow", None)           # pandas >= 3 reads the stream itself
    pdf = from_arrow(qdf) if from_arrow is not None else pa.table(qdf).to_pandas()
    assert pdf["age"].tolist() == [31, 38, 42, 50]
    assert pl.from_arrow(pa.RecordBatchReader.from_stream(qdf))["age"].to_list() == [31, 38, 42, 50]
    assert pl.DataFrame(qdf)["age"].sum() == 161
    assert duckdb.sql("SELECT sum(age) AS s FROM qdf").fetchall() == [(161,)]
    assert duckdb.from_arrow(qdf).aggregate("count(*)").fetchall() == [(4,)]
    # the stream is record batches of the result schema (not one struct column)
    reader = pa.RecordBatchReader.from_stream(qdf)
    assert reader.schema == qdf.schema and reader.read_all().num_columns == 2
    assert pa.table(qdf).schema == qdf.schema
    assert isinstance(qdf.to_polars(), pl.DataFrame) and qdf.to_polars()["name"].to_list() == ["ann", "dan", "bob", None]
    assert qdf.to_polars().columns == pl.DataFrame(qdf).columns == ["name", "age"]
    assert pd.api.interchange.from_dataframe(qdf)["age"].tolist() == [31, 38, 42, 50]
    # and back: anything with __arrow_c_stream__ registers as a table
    con.register("from_polars", pl.DataFrame({"a": [1, 2, 3]}))
    con.register("from_duckdb", duckdb.sql("SELECT 42 AS answer"))
    assert con.sql("SELECT sum(a) AS s FROM from_polars").to_pylist() == [{"s": 6}]
    assert con.table("from_duckdb").to_pylist() == [{"answer": 42}]
    assert con.from_arrow(pl.DataFrame({"z": [1]})).columns == ["z"]


# -- documentation examples ------------------------------------------------------------------

@pytest.mark.parametrize("module", [quarry.api.column, F])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


def test_every_public_name_has_a_docstring_with_an_example():
    import inspect
    missing = []
    for cls in (quarry.DataFrame, quarry.GroupedData, quarry.Column):
        for name, member in vars(cls).items():
            if name.startswith("_") or not callable(member) and not isinstance(member, property):
                continue
            doc = inspect.getdoc(member) or ""
            if not doc or ("``" not in doc and ">>>" not in doc):
                missing.append(f"{cls.__name__}.{name}")
    for name in F.__all__:
        doc = inspect.getdoc(getattr(F, name)) or ""
        if not doc or ("``" not in doc and ">>>" not in doc):
            missing.append(f"F.{name}")
    assert not missing, missing


# -- engine bugs these tests found --------------------------------------------------------

def test_count_needs_no_column(people, depts):
    # count(*) reads no column, so pruning leaves zero-column inputs under it; they keep their rows
    assert people.cross_join(depts).count() == 18
    assert people.union(people).select("age").count() == 12
    assert people.drop_duplicates(["dept"]).count() == 3


def test_filter_with_not_over_a_left_join(con, people, depts, duckdb_con):
    df = (people.join(depts, people["dept"] == depts["dept"], how="left")
          .filter(~((col("name") == "nobody") & (col("floor") > 1))))
    duckdb_con.register("people", PEOPLE)
    duckdb_con.register("depts", DEPTS)
    expected = duckdb_con.sql("SELECT * FROM people LEFT JOIN depts ON people.dept = depts.dept "
                              "WHERE NOT (name = 'nobody' AND floor > 1)").to_arrow_table()
    assert_tables_equal(df.to_arrow(), expected, ordered=False)


# -- the guide --------------------------------------------------------------------------------

def test_the_dataframe_guide_examples_run(tmp_path, monkeypatch, capsys):
    """Every ```python block of docs/dataframe.md runs, in order, in one namespace."""
    import re
    from pathlib import Path
    pytest.importorskip("polars")
    pytest.importorskip("duckdb")
    text = (Path(__file__).resolve().parent.parent / "docs" / "dataframe.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) > 10
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/dataframe.md block {i + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "did you mean `customer`?" in out and "Cached: cache rows=6" in out
