"""SQL features, end to end, each answer checked against DuckDB on small handmade tables.

Every query runs twice in quarry (one partition, and ``target_partitions=3`` so the
exchanges really split rows) and once in DuckDB; the answers must match
(``quarry.testing.assert_tables_equal``: decimals exact, floats to 1e-9).

The tables are tiny and full of NULLs, empty strings, month ends and duplicates,
because that is where SQL's rules are easy to get wrong. A query with an ORDER BY
that fixes the order of every row is compared in order; the rest as multisets.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pyarrow as pa
import pytest

import quarry
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")


def make_tables() -> dict[str, pa.Table]:
    """The handmade tables every test reads: small, with NULLs in every column."""
    people = pa.table({
        "id": pa.array([1, 2, 3, 4, 5, 6, 7], pa.int32()),
        "name": pa.array(["alice", "bob", None, "dave", "Eve", "frank", "%under_score"]),
        "dept": pa.array(["eng", "eng", "sales", None, "sales", "hr", "eng"]),
        "age": pa.array([30, None, 25, 40, 35, 28, None], pa.int32()),
        "salary": pa.array([D("100.50"), D("80.25"), None, D("120.00"), D("95.75"), D("70.00"), D("0.01")],
                           pa.decimal128(15, 2)),
        "score": pa.array([1.5, 2.5, None, -3.25, 0.0, 10.0, 2.5]),
        "hired": pa.array([dt.date(2020, 1, 31), dt.date(2019, 2, 28), dt.date(2021, 12, 31), None,
                           dt.date(2020, 2, 29), dt.date(2018, 7, 15), dt.date(2022, 3, 1)]),
        "boss": pa.array([None, 1, 1, 2, None, 4, 99], pa.int64()),
    })
    depts = pa.table({
        "dept": pa.array(["eng", "sales", "ops", None]),
        "budget": pa.array([1000, 500, 200, 50], pa.int64()),
        "floor": pa.array([1, 2, None, 3], pa.int32()),
    })
    # duplicates and NULL rows, for set operations
    s1 = pa.table({"a": pa.array([1, 1, 2, None, None, 3], pa.int32()),
                   "b": pa.array(["x", "x", "y", None, None, "z"])})
    s2 = pa.table({"a": pa.array([1, 2, 2, None, 4], pa.int32()),
                   "b": pa.array(["x", "y", "y", None, "w"])})
    words = pa.table({
        "w": pa.array(["hello", "", "  padded  ", "a_b", "50%", "héllo wörld", "x\\y", None, "a,b,,c", "ABC"]),
    })
    return {"people": people, "depts": depts, "s1": s1, "s2": s2, "words": words,
            "empty": people.slice(0, 0)}


@pytest.fixture(scope="module")
def engines():
    """(quarry with 1 partition, quarry with 3 partitions, DuckDB), all holding the same tables."""
    tables = make_tables()
    single, parallel = quarry.connect(), quarry.connect(target_partitions=3)
    oracle = duckdb.connect()
    # quarry's `x / 0`, `x % 0` and `x // 0` are NULL (as in Spark); DuckDB 2.0 raises or
    # returns inf/NaN unless told otherwise
    oracle.sql("SET error_on_division_by_zero = false")
    oracle.sql("SET ieee_floating_point_ops = false")
    for name, table in tables.items():
        single.register(name, table)
        parallel.register(name, table)
        oracle.register(name, table)
    yield single, parallel, oracle
    oracle.close()


def check(engines, sql: str, ordered: bool = False) -> None:
    """Assert both quarry sessions answer ``sql`` as DuckDB does."""
    single, parallel, oracle = engines
    expected = oracle.sql(sql).to_arrow_table()
    for con in (single, parallel):
        actual = con.sql(sql).to_arrow()
        assert_tables_equal(actual, expected, ordered=ordered, check_names=False)


def cases(group: dict[str, str | tuple[str, bool]]):
    """pytest params from ``{id: sql}`` or ``{id: (sql, ordered)}``."""
    out = []
    for key, value in group.items():
        sql, ordered = (value, False) if isinstance(value, str) else value
        out.append(pytest.param(sql, ordered, id=key))
    return out


# ---------------------------------------------------------------------------- joins

JOINS = {
    "inner": "SELECT p.id, d.budget FROM people p JOIN depts d ON p.dept = d.dept",
    "inner_keyword": "SELECT p.id, d.budget FROM people p INNER JOIN depts d ON p.dept = d.dept",
    "left": "SELECT p.id, d.budget FROM people p LEFT JOIN depts d ON p.dept = d.dept",
    "left_outer_is_null": "SELECT p.id FROM people p LEFT OUTER JOIN depts d ON p.dept = d.dept "
                          "WHERE d.budget IS NULL",
    "right": "SELECT p.id, d.dept, d.budget FROM people p RIGHT JOIN depts d ON p.dept = d.dept",
    "full": "SELECT p.id, d.dept, d.budget FROM people p FULL JOIN depts d ON p.dept = d.dept",
    "full_outer": "SELECT p.id, d.dept FROM people p FULL OUTER JOIN depts d ON p.dept = d.dept",
    "semi": "SELECT p.id, p.name FROM people p SEMI JOIN depts d ON p.dept = d.dept",
    "anti": "SELECT p.id, p.name FROM people p ANTI JOIN depts d ON p.dept = d.dept",
    "semi_residual": "SELECT p.id FROM people p SEMI JOIN depts d ON p.dept = d.dept AND d.budget > 600",
    "anti_residual": "SELECT p.id FROM people p ANTI JOIN depts d ON p.dept = d.dept AND d.budget > 600",
    "using": "SELECT * FROM people JOIN depts USING (dept)",
    "using_left": "SELECT dept, id, budget FROM people LEFT JOIN depts USING (dept)",
    "using_right_star": "SELECT * FROM people RIGHT JOIN depts USING (dept)",
    "using_full_star": "SELECT * FROM people FULL JOIN depts USING (dept)",
    "using_full_merged": "SELECT dept, id FROM people FULL JOIN depts USING (dept)",
    "using_full_sides": "SELECT people.dept, depts.dept, dept FROM people FULL JOIN depts USING (dept)",
    "using_two_columns": "SELECT * FROM s1 FULL JOIN s2 USING (a, b)",
    "using_chain": "SELECT * FROM s1 JOIN s2 USING (a) JOIN s1 x USING (a)",
    "using_full_chain": "SELECT * FROM s1 FULL JOIN s2 USING (a) FULL JOIN s1 x USING (a)",
    "comma": "SELECT p.id, d.budget FROM people p, depts d WHERE p.dept = d.dept AND d.budget > 100",
    "comma_three": "SELECT p.id, d.dept, s.a FROM people p, depts d, s1 s "
                   "WHERE p.dept = d.dept AND s.a = d.floor",
    "cross": "SELECT p.id, d.dept FROM people p CROSS JOIN depts d",
    "self": "SELECT e.id, b.id AS boss_id, b.name FROM people e JOIN people b ON e.boss = b.id",
    "self_left": "SELECT e.id, b.name FROM people e LEFT JOIN people b ON e.boss = b.id",
    "self_non_equi": "SELECT p.id, q.id FROM people p JOIN people q ON p.id = q.boss AND q.age > p.age",
    "left_extra_condition": "SELECT p.id, q.id FROM people p LEFT JOIN people q ON p.id = q.boss AND q.age > 30",
    "full_extra_condition": "SELECT p.id, q.id FROM people p FULL JOIN people q ON p.id = q.boss AND q.age > 30",
    "non_equi": "SELECT p.id, d.budget FROM people p JOIN depts d ON p.age < d.budget / 10",
    "non_equi_left": "SELECT p.id, d.budget FROM people p LEFT JOIN depts d ON p.age < d.budget / 20",
    "two_keys_nulls": "SELECT x.a, y.b FROM s1 x JOIN s2 y ON x.a = y.a AND x.b = y.b",
    "null_safe_key": "SELECT x.a, y.a FROM s1 x JOIN s2 y ON x.a IS NOT DISTINCT FROM y.a",
    "join_subquery": "SELECT p.id, t.n FROM people p JOIN (SELECT dept, count(*) AS n FROM people "
                     "GROUP BY dept) t ON p.dept = t.dept",
    "join_then_group": "SELECT d.dept, count(p.id), sum(p.salary) FROM depts d LEFT JOIN people p "
                       "ON p.dept = d.dept GROUP BY d.dept",
}


@pytest.mark.parametrize("sql, ordered", cases(JOINS))
def test_joins(engines, sql, ordered):
    check(engines, sql, ordered)


# ---------------------------------------------------------------------------- subqueries

SUBQUERIES = {
    "exists_correlated": "SELECT id FROM people p WHERE EXISTS (SELECT 1 FROM depts d WHERE d.dept = p.dept)",
    "not_exists_correlated": "SELECT id FROM people p WHERE NOT EXISTS "
                             "(SELECT 1 FROM depts d WHERE d.dept = p.dept)",
    "exists_extra_predicate": "SELECT id FROM people p WHERE EXISTS "
                              "(SELECT 1 FROM people q WHERE q.boss = p.id AND q.age > 20)",
    "not_exists_reverse": "SELECT d.dept FROM depts d WHERE NOT EXISTS "
                          "(SELECT 1 FROM people p WHERE p.dept = d.dept)",
    "exists_uncorrelated_true": "SELECT id FROM people WHERE EXISTS (SELECT 1 FROM depts)",
    "exists_uncorrelated_false": "SELECT id FROM people WHERE EXISTS (SELECT 1 FROM depts WHERE budget > 10000)",
    "not_exists_uncorrelated": "SELECT id FROM people WHERE NOT EXISTS "
                               "(SELECT 1 FROM depts WHERE budget > 10000)",
    "in_subquery": "SELECT id FROM people WHERE dept IN (SELECT dept FROM depts)",
    "in_subquery_ints": "SELECT id FROM people WHERE boss IN (SELECT id FROM people WHERE age > 28)",
    "in_subquery_empty": "SELECT id FROM people WHERE age IN (SELECT age FROM people WHERE age > 100)",
    # NOT IN: a NULL in the subquery makes every answer unknown (no rows) ...
    "not_in_null_in_subquery": "SELECT id FROM people WHERE dept NOT IN (SELECT dept FROM depts)",
    "not_in_null_ids": "SELECT id FROM people WHERE id NOT IN (SELECT boss FROM people)",
    # ... and a NULL on the left is unknown unless the subquery is empty
    "not_in_null_left": "SELECT id FROM people WHERE dept NOT IN "
                        "(SELECT dept FROM depts WHERE dept IS NOT NULL)",
    "not_in_null_left_ints": "SELECT id FROM people WHERE age NOT IN "
                             "(SELECT floor FROM depts WHERE floor IS NOT NULL)",
    "not_in_empty_subquery": "SELECT id FROM people WHERE age NOT IN (SELECT age FROM people WHERE age > 100)",
    "not_in_no_nulls": "SELECT id FROM people WHERE id NOT IN (SELECT boss FROM people WHERE boss IS NOT NULL)",
    "not_in_both_nullable": "SELECT id FROM people WHERE boss NOT IN (SELECT boss FROM people WHERE id < 3)",
    "scalar_in_select": "SELECT id, (SELECT max(budget) FROM depts) AS m FROM people",
    "scalar_in_arithmetic": "SELECT id, salary - (SELECT min(salary) FROM people) FROM people",
    "scalar_in_where": "SELECT id FROM people WHERE salary > (SELECT avg(salary) FROM people)",
    "scalar_equals_max": "SELECT id FROM people WHERE age = (SELECT max(age) FROM people)",
    "scalar_no_rows_is_null": "SELECT id, (SELECT dept FROM depts WHERE budget = 7) AS d FROM people",
    "scalar_one_row": "SELECT id, (SELECT dept FROM depts WHERE budget = 1000) FROM people",
    "scalar_in_having": "SELECT dept, count(*) FROM people GROUP BY dept "
                        "HAVING count(*) > (SELECT count(*) FROM depts) / 4",
    "correlated_avg": "SELECT id FROM people p WHERE age > (SELECT avg(age) FROM people q WHERE q.dept = p.dept)",
    # the count bug: groups with no rows must count 0, not NULL
    "correlated_count_select": "SELECT d.dept, (SELECT count(*) FROM people p WHERE p.dept = d.dept) AS n "
                               "FROM depts d",
    "correlated_count_reports": "SELECT id, (SELECT count(*) FROM people q WHERE q.boss = p.id) FROM people p",
    "correlated_count_where": "SELECT id FROM people p WHERE (SELECT count(*) FROM people q WHERE q.boss = p.id) = 0",
    "correlated_count_column": "SELECT d.dept, (SELECT count(p.age) FROM people p WHERE p.dept = d.dept) FROM depts d",
    "correlated_sum_is_null": "SELECT d.dept, (SELECT sum(age) FROM people p WHERE p.dept = d.dept) FROM depts d",
    "derived_table": "SELECT * FROM (SELECT dept, max(age) AS m FROM people GROUP BY dept) t WHERE m > 30",
    "nested_derived": "SELECT count(*) FROM (SELECT * FROM (SELECT id, age FROM people WHERE age > 20) a "
                      "WHERE age < 40) b",
}


@pytest.mark.parametrize("sql, ordered", cases(SUBQUERIES))
def test_subqueries(engines, sql, ordered):
    check(engines, sql, ordered)


# ---------------------------------------------------------------------------- CTEs and views

CTES = {
    "cte_twice_self_join": "WITH e AS (SELECT * FROM people WHERE dept = 'eng') "
                           "SELECT a.id, b.id FROM e a JOIN e b ON a.id < b.id",
    "cte_twice_union": "WITH e AS (SELECT * FROM people WHERE dept = 'eng') "
                       "SELECT count(*) FROM e UNION ALL SELECT sum(age) FROM e",
    "cte_chain": "WITH a AS (SELECT dept, count(*) AS n FROM people GROUP BY dept), "
                 "b AS (SELECT * FROM a WHERE n > 1) SELECT * FROM b JOIN a USING (dept)",
    "cte_column_names": "WITH x(k, v) AS (VALUES (1, 'a'), (2, NULL)) SELECT * FROM x",
    "cte_in_subquery": "WITH big AS (SELECT dept FROM depts WHERE budget >= 500) "
                       "SELECT id FROM people WHERE dept IN (SELECT dept FROM big)",
    "cte_shadows_table": "WITH depts AS (SELECT 'eng' AS dept) SELECT count(*) FROM people JOIN depts USING (dept)",
    "values_alias": "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(x, y) WHERE x > 1",
    "values_string_literals_adapt": "SELECT * FROM (VALUES (1.5), ('7'), (NULL)) t(x)",
    "values_dates": "SELECT * FROM (VALUES (DATE '2020-01-01'), ('2021-02-03')) t(x)",
}


@pytest.mark.parametrize("sql, ordered", cases(CTES))
def test_ctes(engines, sql, ordered):
    check(engines, sql, ordered)


def test_views(engines):
    """CREATE VIEW is bound again at each use, so it sees rows inserted later."""
    single, parallel, oracle = engines
    statements = [
        "CREATE OR REPLACE TABLE vt AS SELECT * FROM people",
        "CREATE OR REPLACE VIEW eng AS SELECT id, name, salary FROM vt WHERE dept = 'eng'",
        "CREATE OR REPLACE VIEW eng_total AS SELECT count(*) AS n, sum(salary) AS s FROM eng",
    ]
    for sql in statements:
        single.sql(sql)
        parallel.sql(sql)
        oracle.sql(sql)
    check(engines, "SELECT * FROM eng")
    check(engines, "SELECT * FROM eng_total")
    check(engines, "SELECT e.id, v.n FROM eng e, eng_total v")
    for con in (single, parallel, oracle):
        con.sql("INSERT INTO vt SELECT 8, 'zoe', 'eng', 22, 10.00, 1.0, DATE '2023-01-01', 1")
    check(engines, "SELECT * FROM eng_total")
    for con in (single, parallel, oracle):
        con.sql("DROP VIEW eng_total")
        con.sql("DROP VIEW eng")
        con.sql("DROP TABLE vt")


# ---------------------------------------------------------------------------- expressions

EXPRESSIONS = {
    "case_simple": "SELECT id, CASE dept WHEN 'eng' THEN 1 WHEN 'sales' THEN 2 ELSE 0 END FROM people",
    "case_simple_no_else": "SELECT CASE dept WHEN 'eng' THEN salary WHEN 'hr' THEN 1 END FROM people",
    "case_searched": "SELECT id, CASE WHEN age IS NULL THEN 'unknown' WHEN age < 30 THEN 'young' "
                     "ELSE 'old' END FROM people",
    "case_searched_null_cond": "SELECT id, CASE WHEN age > 30 THEN 'old' WHEN age <= 30 THEN 'young' END FROM people",
    "case_mixed_types": "SELECT CASE WHEN score > 2 THEN score ELSE age END FROM people",
    "case_null_subject": "SELECT CASE NULL WHEN NULL THEN 1 ELSE 2 END",
    "like_prefix": "SELECT id FROM people WHERE name LIKE 'a%'",
    "like_suffix": "SELECT id FROM people WHERE name LIKE '%e'",
    "like_underscore": "SELECT id FROM people WHERE name LIKE '_ob'",
    "ilike": "SELECT id FROM people WHERE name ILIKE 'e%'",
    "not_like": "SELECT id FROM people WHERE name NOT LIKE '%a%'",
    "not_ilike": "SELECT id FROM people WHERE name NOT ILIKE 'B%'",
    "like_escape_percent": "SELECT id FROM people WHERE name LIKE '!%%' ESCAPE '!'",
    "like_escape_underscore": "SELECT id FROM people WHERE name LIKE '%!_%' ESCAPE '!'",
    "like_escape_literals": "SELECT 'a%b' LIKE 'a!%b' ESCAPE '!', 'axb' LIKE 'a!%b' ESCAPE '!', "
                            "'a_b' LIKE 'a#_b' ESCAPE '#', 'a%b' LIKE 'a\\%b' ESCAPE '\\'",
    "like_regex_chars": "SELECT 'x.y' LIKE 'x.y', 'xzy' LIKE 'x.y', 'a(b' LIKE 'a(%', '[ab]' LIKE '[ab]', "
                        "'a\\b' LIKE 'a\\b'",
    "like_column_values": "SELECT w, w LIKE '%\\%', w LIKE 'a\\_b' ESCAPE '\\', w ILIKE '%WÖR%' FROM words",
    "in_list": "SELECT id, age IN (30, 40) FROM people",
    "in_list_with_null": "SELECT id, age IN (30, NULL), age NOT IN (30, NULL) FROM people",
    "in_list_where_null": "SELECT id FROM people WHERE age NOT IN (30, NULL)",
    "in_list_strings": "SELECT id FROM people WHERE dept IN ('eng', 'hr')",
    "in_list_decimal": "SELECT id FROM people WHERE salary IN (100.5, 0.01, 7)",
    "null_in_list": "SELECT NULL IN (1, 2), 1 IN (NULL), 1 IN (1, NULL), 3 IN (1, NULL)",
    "between": "SELECT id FROM people WHERE age BETWEEN 28 AND 35",
    "not_between": "SELECT id FROM people WHERE age NOT BETWEEN 28 AND 35",
    "between_decimal": "SELECT id FROM people WHERE salary BETWEEN 1 AND 100",
    "between_dates": "SELECT id FROM people WHERE hired BETWEEN '2019-01-01' AND '2020-12-31'",
    "coalesce_etc": "SELECT coalesce(name, dept, 'none'), ifnull(age, -1), nullif(dept, 'eng'), "
                    "greatest(score, 1.0), least(salary, 80) FROM people",
    "greatest_least_nulls": "SELECT greatest(age, boss), least(age, boss), greatest(1, NULL, 3), least(NULL, 2) "
                            "FROM people",
    "if": "SELECT if(age IS NULL, 'n/a', CAST(age AS VARCHAR)), if(score > 0, 1, 0) FROM people",
    "nullif_null": "SELECT nullif(age, 30), nullif(NULL, 1), nullif(1, NULL) FROM people",
    "three_valued_constants": "SELECT NULL AND FALSE, NULL AND TRUE, NULL OR TRUE, NULL OR FALSE, NOT NULL, "
                              "NULL = NULL, NULL <> 1, NULL IS NULL, NULL IS DISTINCT FROM NULL",
    "three_valued_columns": "SELECT id, age > 30 AND dept = 'eng', age > 30 OR dept = 'eng', NOT (age > 30), "
                            "(age > 30) IS NULL FROM people",
    "where_or_null": "SELECT id FROM people WHERE age > 30 OR NULL",
    "where_not": "SELECT id FROM people WHERE NOT (age > 30)",
    "where_equals_null": "SELECT id FROM people WHERE age = NULL",
    "where_not_in_or": "SELECT id FROM people WHERE NOT (age IN (30, 40) OR dept = 'hr')",
    "where_is_distinct": "SELECT id FROM people WHERE name IS DISTINCT FROM 'bob'",
    "where_bool_equals": "SELECT id FROM people WHERE (age > 30) = true",
    "where_is_true_false": "SELECT id, (age > 30) IS TRUE, (age > 30) IS NOT FALSE FROM people",
}


@pytest.mark.parametrize("sql, ordered", cases(EXPRESSIONS))
def test_expressions(engines, sql, ordered):
    check(engines, sql, ordered)


# ---------------------------------------------------------------------------- dates

DATES = {
    "extract": "SELECT id, EXTRACT(year FROM hired), EXTRACT(month FROM hired), EXTRACT(day FROM hired), "
               "EXTRACT(dow FROM hired), EXTRACT(doy FROM hired), EXTRACT(quarter FROM hired) FROM people",
    "extract_more": "SELECT EXTRACT(week FROM hired), EXTRACT(isodow FROM hired), EXTRACT(epoch FROM hired), "
                    "year(hired), month(hired), day(hired), dayofweek(hired) FROM people",
    "date_part": "SELECT date_part('year', hired), date_part('month', hired), datepart('day', hired) FROM people",
    "plus_day": "SELECT id, hired + INTERVAL 1 DAY FROM people",
    "minus_days": "SELECT id, hired - INTERVAL '3' DAY FROM people",
    "plus_month_clamps": "SELECT id, hired + INTERVAL 1 MONTH FROM people",
    "minus_month_clamps": "SELECT id, hired - INTERVAL 1 MONTH FROM people",
    "plus_year_leap": "SELECT id, hired + INTERVAL 1 YEAR FROM people",
    "plus_13_months": "SELECT id, hired + INTERVAL '13 months' FROM people",
    "month_and_days": "SELECT hired + INTERVAL '1' MONTH + INTERVAL '2' DAY FROM people",
    "month_end_literals": "SELECT DATE '2020-01-31' + INTERVAL 1 MONTH, DATE '2020-03-31' - INTERVAL 1 MONTH, "
                          "DATE '2020-02-29' + INTERVAL 1 YEAR, DATE '2019-12-31' + INTERVAL 2 MONTH, "
                          "DATE '2020-02-29' - INTERVAL 12 MONTH, DATE '2021-01-31' + INTERVAL 1 MONTH",
    "week_and_day_literals": "SELECT DATE '2020-01-01' - INTERVAL 1 DAY, DATE '2020-01-01' + INTERVAL 1 WEEK, "
                             "DATE '2020-05-31' + INTERVAL '3 months'",
    "plus_integer_days": "SELECT id, hired + 10, hired - 3 FROM people",
    "date_minus_date": "SELECT id, hired - DATE '2020-01-01' FROM people",
    "date_trunc": "SELECT date_trunc('month', hired), date_trunc('year', hired), date_trunc('quarter', hired), "
                  "date_trunc('week', hired), date_trunc('day', hired) FROM people",
    "date_diff": "SELECT date_diff('day', hired, DATE '2022-01-01'), date_diff('month', hired, DATE '2022-01-01'), "
                 "date_diff('year', hired, DATE '2022-01-01'), date_diff('quarter', hired, DATE '2022-01-01'), "
                 "date_diff('week', hired, DATE '2022-01-01') FROM people",
    "date_diff_reversed": "SELECT date_diff('day', DATE '2020-01-01', hired), "
                          "datediff('month', DATE '2020-01-31', hired) FROM people",
    "date_compare_string": "SELECT id FROM people WHERE hired < '2020-02-29'",
    "date_compare_literal": "SELECT id FROM people WHERE hired > DATE '2020-01-01'",
    "date_group": "SELECT year(hired) AS y, count(*) FROM people GROUP BY y",
}


@pytest.mark.parametrize("sql, ordered", cases(DATES))
def test_dates(engines, sql, ordered):
    check(engines, sql, ordered)


# ---------------------------------------------------------------------------- strings

STRINGS = {
    "substring": "SELECT w, SUBSTRING(w, 2, 3), SUBSTRING(w, 2), SUBSTRING(w FROM 2 FOR 2) FROM words",
    "substring_start_zero": "SELECT w, SUBSTRING(w, 0, 3), substr(w, 0), SUBSTRING(w, 0, 0) FROM words",
    "substring_negative_start": "SELECT w, SUBSTRING(w, -3, 2), SUBSTRING(w, -3), substr(w, -20, 3), "
                                "substr(w, -20, 30) FROM words",
    "substring_negative_length": "SELECT w, SUBSTRING(w, 4, -2), SUBSTRING(w, -1, -2), SUBSTRING(w, 0, -1) FROM words",
    "substring_past_end": "SELECT w, SUBSTRING(w, 30), SUBSTRING(w, 30, 2) FROM words",
    "upper_lower_length": "SELECT w, upper(w), lower(w), length(w) FROM words",
    "trims": "SELECT w, trim(w), ltrim(w), rtrim(w), trim(w, 'a_') FROM words",
    "trim_literals": "SELECT trim('  ab  '), ltrim('  ab  '), rtrim('  ab  '), trim('xxabxx', 'x'), "
                     "ltrim('xyhi', 'yx')",
    "concat_and_pipes": "SELECT concat(name, '-', dept), name || '-' || dept, concat(name, NULL) FROM people",
    "concat_casts": "SELECT concat(id, '/', salary, '/', hired) FROM people",
    "replace": "SELECT w, replace(w, 'l', 'LL'), replace(w, ',', '') FROM words",
    "left_right": "SELECT w, left(w, 2), right(w, 2), left(w, 0), right(w, 30), left(w, -2), right(w, -2) FROM words",
    "lpad_rpad": "SELECT w, lpad(w, 6, '*'), rpad(w, 6, '*'), lpad(w, 2, '*'), lpad(w, 8, 'xy'), "
                 "rpad(w, 8, 'xyz') FROM words",
    "starts_with_strpos": "SELECT w, starts_with(w, 'h'), strpos(w, 'l'), strpos(w, 'ö'), strpos(w, '') FROM words",
    "split_part": "SELECT w, split_part(w, ',', 1), split_part(w, ',', 3), split_part(w, ',', 9), "
                  "split_part(w, ',', -1), split_part(w, ',', -2) FROM words",
    "split_part_literals": "SELECT split_part('a,b,,c', ',', 2), split_part('a,b', ',', 5), "
                           "split_part('a::b', '::', 2), split_part('a,b,c', ',', 0)",
    "regexp": "SELECT w, regexp_matches(w, '^[a-h]'), regexp_replace(w, '[aeiou]', '#'), "
              "regexp_replace(w, '[aeiou]', '#', 'g') FROM words",
    "regexp_flags": "SELECT regexp_replace('abc', 'B', 'x', 'i'), regexp_replace('aBcB', 'b', 'x', 'gi'), "
                    "regexp_matches('ABC', 'b', 'i'), regexp_replace('abcabc', '(b)(c)', '\\2\\1')",
    "unicode": "SELECT length('héllo'), upper('straße'), lower('ÀÉ'), strpos('héllo', 'l'), reverse('héllo')",
    "repeat_reverse": "SELECT w, repeat(w, 2), reverse(w) FROM words",
}


@pytest.mark.parametrize("sql, ordered", cases(STRINGS))
def test_strings(engines, sql, ordered):
    check(engines, sql, ordered)


# ---------------------------------------------------------------------------- math and casts

MATH = {
    "round": "SELECT round(score), round(score, 1), round(salary, 1), round(salary, -1), round(age, -1), "
             "round(salary) FROM people",
    "round_half_away": "SELECT round(2.5), round(-2.5), round(0.5), round(-0.5), round(1.5), round(-1.5), "
                       "round(2.5::DOUBLE), round(-2.5::DOUBLE), round(0.125::DOUBLE, 2)",
    "round_negative_digits": "SELECT round(1234.5678, -2), round(1250, -2), round(-1250, -2), round(15::INT, -1), "
                             "round(25, -1)",
    "abs_floor_ceil": "SELECT abs(score), floor(score), ceil(score), abs(salary), floor(salary), ceil(salary), "
                      "abs(age), floor(-salary), ceil(-salary) FROM people",
    "sqrt_power_logs": "SELECT sqrt(age), power(age, 2), pow(2, age / 10), ln(age), log10(age), exp(1) FROM people",
    "mod": "SELECT mod(age, 7), age % 7, -age % 7, age % -7, salary % 7, score % 2 FROM people",
    "integer_division": "SELECT age // 7, -age // 7, age // -7, 7 // 2, -7 // 2, 7 // -2 FROM people",
    "integer_division_non_integers": "SELECT 7.5 // 2, salary // 3, score // 2 FROM people",
    "division": "SELECT age / 7, salary / 2, salary / age, score / 4 FROM people",
    "division_by_zero": "SELECT age / 0, age % 0, age // 0, score / 0, salary / 0, salary % 0 FROM people",
    "division_by_zero_column": "SELECT id / (age - age), id % (age - age) FROM people",
    "arithmetic_null": "SELECT NULL + 1, NULL * 2, -NULL, NULL + NULL, 1 - NULL",
    "decimal_sum_exact": "SELECT sum(salary), sum(salary * 2), sum(salary) * 1.5, sum(salary * salary), "
                         "sum(salary + 0.005) FROM people",
    "decimal_group_sum": "SELECT dept, sum(salary), min(salary), max(salary), count(salary) FROM people GROUP BY dept",
    "decimal_products": "SELECT salary * salary, salary * 1.10, salary + 1, salary - 0.001, -salary FROM people",
    "decimal_literals": "SELECT CAST(1.10 AS DECIMAL(15,2)) * CAST(2.20 AS DECIMAL(15,2)), 0.1 + 0.2, 1.1 * 3",
    "decimal_values_sum": "SELECT sum(x) FROM (VALUES (CAST(0.1 AS DECIMAL(15,2))), (CAST(0.2 AS DECIMAL(15,2)))) t(x)",
    "decimal_avg": "SELECT avg(salary), avg(age), avg(score) FROM people",
    "decimal_compare": "SELECT id FROM people WHERE salary > 95.75 OR salary = 0.01",
    "cast_strings": "SELECT CAST('42' AS INTEGER), CAST(' 42 ' AS BIGINT), CAST('3.14' AS DECIMAL(10,2)), "
                    "CAST('2024-02-29' AS DATE), CAST(' 1.5 ' AS DOUBLE), CAST('-7' AS SMALLINT)",
    "cast_string_rounding": "SELECT CAST('2.5' AS INTEGER), CAST('-2.5' AS INTEGER), CAST('1e2' AS INTEGER), "
                            "CAST('+5' AS INTEGER), CAST('1.005' AS DECIMAL(5,2)), CAST('-1.005' AS DECIMAL(5,2))",
    "cast_string_columns": "SELECT v, CAST(v AS INTEGER), CAST(v AS DECIMAL(6,2)), CAST(v AS DOUBLE) "
                           "FROM (VALUES (' 2.5 '), ('-1.005'), ('1e2'), (NULL), ('7')) t(v)",
    "cast_decimal_to_int": "SELECT CAST(2.5 AS INTEGER), CAST(-2.5 AS INTEGER), CAST(9.5 AS INTEGER), "
                           "CAST(3.456 AS DECIMAL(5,2)), CAST(12.345 AS DECIMAL(5,2))",
    "cast_decimal_column": "SELECT CAST(salary AS INTEGER), CAST(salary AS DECIMAL(6,1)), CAST(salary AS DOUBLE), "
                           "CAST(salary AS VARCHAR) FROM people",
    "cast_double_to_int_even": "SELECT CAST(score AS INTEGER), CAST(2.5::DOUBLE AS INTEGER), "
                               "CAST(3.5::DOUBLE AS BIGINT), CAST(-2.5::DOUBLE AS SMALLINT) FROM people",
    "cast_to_varchar": "SELECT CAST(age AS VARCHAR), CAST(hired AS VARCHAR), CAST(score AS DECIMAL(10,1)) FROM people",
    "sign_and_more_math": "SELECT sign(score), sign(age), sign(salary), cbrt(27.0), log2(8), exp(0) FROM people",
    "make_date_strftime": "SELECT make_date(2020, 2, 29), strftime(hired, '%Y/%m') FROM people",
    "try_cast": "SELECT TRY_CAST(name AS INTEGER), TRY_CAST('12' AS INTEGER), TRY_CAST('x' AS DATE) FROM people",
    "cast_int_widths": "SELECT CAST(age AS BIGINT), CAST(boss AS INTEGER), CAST(age AS DOUBLE) FROM people",
}


@pytest.mark.parametrize("sql, ordered", cases(MATH))
def test_math_and_casts(engines, sql, ordered):
    check(engines, sql, ordered)


def test_decimal_arithmetic_stays_decimal(engines):
    """SUM of DECIMAL(15,2) is DECIMAL(38,2); + - * keep exact decimal scales; / gives DOUBLE."""
    single = engines[0]
    assert single.sql("SELECT sum(salary) AS s FROM people").schema.field("s").type == pa.decimal128(38, 2)
    schema = single.sql("SELECT salary * salary AS sq, salary + 1 AS p, salary - 0.001 AS m, "
                        "salary * 2 AS t, salary / 2 AS d, avg(salary) OVER () AS a FROM people").schema
    assert [schema.field(n).type.scale for n in ("sq", "p", "m", "t")] == [4, 2, 3, 2]
    assert all(pa.types.is_decimal(schema.field(n).type) for n in ("sq", "p", "m", "t"))
    assert schema.field("d").type == pa.float64() and schema.field("a").type == pa.float64()
    total = single.sql("SELECT sum(x) AS s FROM (VALUES (0.10), (0.20), (0.30)) t(x)").to_pylist()
    assert total == [{"s": D("0.60")}]


# ---------------------------------------------------------------------------- aggregation

AGGREGATION = {
    "count_variants": "SELECT count(*), count(age), count(DISTINCT dept), count(DISTINCT age) FROM people",
    "distinct_ungrouped": "SELECT sum(DISTINCT age), avg(DISTINCT score), count(DISTINCT salary), "
                          "sum(DISTINCT salary) FROM people",
    "distinct_grouped": "SELECT dept, count(DISTINCT age), sum(DISTINCT score), sum(DISTINCT salary) "
                        "FROM people GROUP BY dept",
    "having_count": "SELECT dept, count(*) AS n FROM people GROUP BY dept HAVING count(*) > 1",
    "having_sum_decimal": "SELECT dept, sum(salary) AS s FROM people GROUP BY dept HAVING sum(salary) > 100",
    "having_alias_not_selected": "SELECT dept FROM people GROUP BY dept HAVING max(age) >= 35",
    "group_by_expression": "SELECT age > 30 AS old, count(*) FROM people GROUP BY age > 30",
    "group_by_alias": "SELECT dept AS d, count(*) FROM people GROUP BY d",
    "group_by_ordinal": "SELECT dept, count(*) FROM people GROUP BY 1",
    "group_by_all": "SELECT dept, count(*) FROM people GROUP BY ALL",
    "group_two_keys_nulls": "SELECT a, b, count(*) FROM s1 GROUP BY a, b",
    "min_max_types": "SELECT min(hired), max(hired), min(name), max(name), min(score), max(salary) FROM people",
    "aggregate_of_expression": "SELECT sum(age * 2 + 1), avg(score * 2), max(length(name)) FROM people",
    "grouping_sets": "SELECT dept, age, count(*), GROUPING(dept), GROUPING(age) FROM people "
                     "GROUP BY GROUPING SETS ((dept), (age), ())",
    "rollup": "SELECT dept, age, count(*), GROUPING(dept, age) FROM people GROUP BY ROLLUP (dept, age)",
    "cube": "SELECT dept, age, sum(salary), GROUPING(dept, age) AS g FROM people GROUP BY CUBE (dept, age)",
    "rollup_one": "SELECT dept, count(*) FROM people GROUP BY ROLLUP (dept)",
    "key_and_rollup": "SELECT dept, age, count(*) FROM people GROUP BY dept, ROLLUP (age)",
    "grouping_sets_pair": "SELECT dept, age, count(*), grouping(age, dept) FROM people "
                          "GROUP BY GROUPING SETS ((dept, age), dept)",
    "distinct": "SELECT DISTINCT dept FROM people",
    "distinct_rows_nulls": "SELECT DISTINCT a, b FROM s1",
    "count_over_distinct": "SELECT count(*) FROM (SELECT DISTINCT a, b FROM s1)",
    "count_over_union": "SELECT count(*) FROM (SELECT a FROM s1 UNION ALL SELECT a FROM s2) t",
    "count_over_values": "SELECT count(*) FROM (VALUES (1), (2)) t(x)",
    "count_over_limit": "SELECT count(*) FROM (SELECT * FROM people ORDER BY id LIMIT 3) t",
    "constant_over_aggregate": "SELECT 1 AS one FROM (SELECT count(*) AS c FROM people) t",
    "aggregate_filter": "SELECT dept, count(*) FILTER (WHERE age > 28), sum(salary) FILTER (WHERE score > 0) "
                        "FROM people GROUP BY dept",
    "statistics": "SELECT median(age), stddev_samp(score), var_pop(score), bool_and(age > 20), bool_or(age > 35) "
                  "FROM people",
    "having_alias": "SELECT dept, count(*) AS n FROM people GROUP BY dept HAVING n > 1",
    "empty_aggregates": "SELECT count(*), count(age), sum(age), avg(age), min(name), max(hired), sum(salary) "
                        "FROM empty",
    "empty_grouped": "SELECT dept, count(*) FROM empty GROUP BY dept",
    "empty_filtered": "SELECT count(*), sum(salary) FROM people WHERE age > 1000",
    "empty_scan": "SELECT * FROM empty",
    "empty_join": "SELECT p.id FROM empty p JOIN depts d ON p.dept = d.dept",
    "empty_left_join": "SELECT d.dept, p.id FROM depts d LEFT JOIN empty p ON p.dept = d.dept",
}


@pytest.mark.parametrize("sql, ordered", cases(AGGREGATION))
def test_aggregation(engines, sql, ordered):
    check(engines, sql, ordered)


# ---------------------------------------------------------------------------- ordering and limits

ORDERING = {
    "order_by_alias": ("SELECT id, age AS years FROM people ORDER BY years DESC, id", True),
    "order_by_ordinal": ("SELECT id, age FROM people ORDER BY 2, 1", True),
    "order_by_hidden_expression": ("SELECT id FROM people ORDER BY score * -1, id", True),
    "order_by_hidden_column": ("SELECT name FROM people ORDER BY hired NULLS FIRST, id", True),
    "order_by_function": ("SELECT name FROM people ORDER BY length(name), name", True),
    "nulls_first": ("SELECT id, age FROM people ORDER BY age NULLS FIRST, id", True),
    "desc_nulls_first": ("SELECT id, age FROM people ORDER BY age DESC NULLS FIRST, id", True),
    "desc_default_nulls_last": ("SELECT id, age FROM people ORDER BY age DESC, id", True),
    "asc_nulls_last": ("SELECT id, age FROM people ORDER BY age ASC NULLS LAST, id", True),
    "strings_desc": ("SELECT id, name FROM people ORDER BY name DESC NULLS LAST, id", True),
    "aggregate_order": ("SELECT dept, count(*) FROM people GROUP BY dept ORDER BY count(*) DESC, dept NULLS FIRST",
                        True),
    "order_by_aggregate_not_selected": ("SELECT dept FROM people GROUP BY dept ORDER BY max(age), dept", True),
    "order_by_group_alias": ("SELECT dept AS d, count(*) FROM people GROUP BY d ORDER BY d NULLS FIRST", True),
    "distinct_order": ("SELECT DISTINCT dept FROM people ORDER BY dept", True),
    "order_by_all": ("SELECT a, b FROM s1 ORDER BY ALL", True),
    "order_by_all_desc": ("SELECT a, b FROM s1 ORDER BY ALL DESC", True),
    "limit": ("SELECT id FROM people ORDER BY id LIMIT 3", True),
    "limit_offset": ("SELECT id FROM people ORDER BY id LIMIT 3 OFFSET 2", True),
    "offset_only": ("SELECT id FROM people ORDER BY id OFFSET 5", True),
    "limit_zero": ("SELECT id FROM people ORDER BY id LIMIT 0", True),
    "limit_past_end": ("SELECT id FROM people ORDER BY id LIMIT 3 OFFSET 10", True),
    "top_k_desc": ("SELECT id, score FROM people ORDER BY score DESC, id LIMIT 3", True),
    "top_k_nulls_first": ("SELECT id FROM people ORDER BY hired DESC NULLS FIRST, id LIMIT 2 OFFSET 1", True),
    "limit_in_subquery": ("SELECT * FROM (SELECT id, age FROM people ORDER BY age DESC, id LIMIT 3) t ORDER BY id",
                          True),
}


@pytest.mark.parametrize("sql, ordered", cases(ORDERING))
def test_ordering_and_limits(engines, sql, ordered):
    check(engines, sql, ordered)


# ---------------------------------------------------------------------------- set operations

SET_OPERATIONS = {
    "union": "SELECT a, b FROM s1 UNION SELECT a, b FROM s2",
    "union_all": "SELECT a, b FROM s1 UNION ALL SELECT a, b FROM s2",
    "intersect": "SELECT a, b FROM s1 INTERSECT SELECT a, b FROM s2",
    "intersect_all": "SELECT a, b FROM s1 INTERSECT ALL SELECT a, b FROM s2",
    "except": "SELECT a, b FROM s1 EXCEPT SELECT a, b FROM s2",
    "except_all": "SELECT a, b FROM s1 EXCEPT ALL SELECT a, b FROM s2",
    "except_all_reversed": "SELECT a FROM s2 EXCEPT ALL SELECT a FROM s1",
    "union_order": ("SELECT a FROM s1 UNION SELECT a FROM s2 ORDER BY a NULLS FIRST", True),
    "union_widens_type": ("SELECT a FROM s1 UNION ALL SELECT 1.5 ORDER BY 1", True),
    "union_three": "SELECT a FROM s1 UNION SELECT a FROM s2 UNION ALL SELECT floor FROM depts",
    "union_limit": ("(SELECT a FROM s1 UNION ALL SELECT a FROM s2) ORDER BY a DESC NULLS LAST LIMIT 4", True),
    "intersect_with_empty": "SELECT dept FROM people INTERSECT SELECT dept FROM empty",
    "except_empty": "SELECT dept FROM people EXCEPT SELECT dept FROM empty",
    "union_mixed_int_decimal": "SELECT id FROM people UNION ALL SELECT salary FROM people",
}


@pytest.mark.parametrize("sql, ordered", cases(SET_OPERATIONS))
def test_set_operations(engines, sql, ordered):
    check(engines, sql, ordered)


# ---------------------------------------------------------------------------- formerly known bugs

@pytest.mark.parametrize("sql", [
    "SELECT id, (SELECT sum(d.budget * p.age) FROM depts d) FROM people p",
    "SELECT id, (SELECT sum(d.budget + p.age) FROM depts d WHERE d.dept = p.dept) FROM people p",
])
def test_outer_column_inside_subquery_aggregate(engines, sql):
    """An aggregate over an outer column inside a subquery: the dependent join, as DuckDB answers it."""
    check(engines, sql, False)


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM people CROSS JOIN depts",
    "SELECT count(*) FROM people, depts",
    "SELECT count(*) FROM people p LEFT JOIN depts d ON true",
    "SELECT count(*) FROM s1 a, s1 b, s1 c",
])
def test_count_star_over_cross_join(engines, sql):
    check(engines, sql)


def test_any_value_without_group_by(engines):
    check(engines, "SELECT any_value(dept) FROM people WHERE dept = 'eng'")
