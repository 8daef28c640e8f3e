"""Output column names are DuckDB's (issue #12): each unaliased select item is named as DuckDB names it,
checked against DuckDB itself for many expression shapes (see quarry/sql/names.py for the rules)."""

from __future__ import annotations

import pytest

import quarry

duckdb = pytest.importorskip("duckdb")

SETUP = ("CREATE TABLE t AS SELECT 1 AS a, 2 AS b, 1.5::DOUBLE AS v, 'x' AS s, 'y' AS 名前, 3 AS \"A B\", "
         "4 AS \"year\", 5 AS Ab, DATE '2020-01-01' AS d, [1, 2] AS l, {'x': 1} AS st")

SHAPES = [
    # aggregates
    "sum(v)", "SUM(v)", "count(*)", "COUNT(*)", "count()", "count(v)", "count(DISTINCT v)", "avg(v)", "min(s)",
    "max(v) + 1", "sum(DISTINCT v)", "count(*) FILTER (WHERE a > 1)", "sum(a) FILTER (a > 1)", "median(v)",
    "string_agg(s, ',')", "count(*) + 1", "sum(a * 2)", "sum(a)::DOUBLE", "array_agg(a)", "list(a)",
    # scalar functions: the name as written, lower-cased, quoted when a keyword
    "lower(名前)", "lower(s)", "upper('x')", "LOWER(s)", "concat(s, 'x')", "coalesce(a, 0)", "COALESCE(a, b, 0)",
    "ifnull(a, 0)", "nullif(a, 1)", "abs(a)", "round(v, 1)", "substring(s, 1, 2)", "substr(s, 1)", "length(s)",
    "greatest(a, b)", "least(a, b)", "left(s, 1)", "right(s, 1)", "replace(s, 'a', 'b')", "ceil(v)", "ceiling(v)",
    "power(a, 2)", "pow(a, 2)", "mod(a, 2)", "strftime(d, '%Y')", "date_trunc('month', d)", "year(d)",
    "date_part('year', d)", "extract(year FROM d)", "starts_with(s, 'a')", "ln(v)",
    "if(a > 1, 'x', 'y')", "list_contains(l, 1)", "len(l)", "array_length(l)",
    # arithmetic and comparison: fully parenthesized
    "a + 1", "a - 1", "a * 2", "a / 2", "a // 2", "a % 2", "-a", "- (a + 1)", "a * -1", "a + b * 2",
    "(a + b) * 2", "a ^ 2", "a ** 2", "2 ** 3", "2 ** 3 ** 2", "2 ^ 3 ** 2", "a ** -1",
    "+a", "+ + a", "+(a + 1)", "-+a", "+-1", "+ 1", "+[1, 2]", "+a * 2", "sum(+a)", "a = 1", "a <> 1", "a != 1", "a < 1", "a >= 1", "a > 1 AND b < 2",
    "a > 1 OR b < 2", "NOT a > 1", "NOT (a > 1)", "a IS NULL", "a IS NOT NULL", "a BETWEEN 1 AND 2",
    "a NOT BETWEEN 1 AND 2", "a IN (1, 2)", "a NOT IN (1, 2)", "a IN (1)", "a IS DISTINCT FROM b",
    "a IS NOT DISTINCT FROM 1", "s LIKE 'a%'", "s NOT LIKE 'a%'", "s ILIKE 'a%'", "s NOT ILIKE 'a'",
    "s || 'x'", "l || [3]", "a = ANY([1, 2])", "a > ALL([1, 2])", "a = SOME(l)", "a <> ALL(l)", "a < ANY(l)",
    "a BETWEEN 1 AND 2 AND true", "nullif(1, 1) IS NULL",
    # casts and literals
    "CAST(a AS VARCHAR)", "a::VARCHAR", "CAST(a AS BIGINT)", "a::DOUBLE", "CAST(a AS DECIMAL(10,2))",
    "a::NUMERIC(10,2)", "TRY_CAST(s AS INTEGER)", "CAST(a AS INTEGER)", "a::INT", "a::REAL", "a::FLOAT",
    "a::SMALLINT", "a::HUGEINT", "a::BOOLEAN", "s::BLOB", "NULL::INTEGER", "1::BIGINT",
    "a::TEXT", "CAST(a AS STRING)", "CAST(a AS NUMERIC)", "CAST(a AS DECIMAL)", "a::INT8", "a::FLOAT8",
    "CAST(a AS VARCHAR(10))", "CAST(v AS DECIMAL(5))", "TRY_CAST(s AS INT)",
    "1", "'abc'", "1.5", "NULL", "true", "false", "1e10", "-1", "'it''s'", "3.0",
    "DATE '2020-01-01'", "TIMESTAMP '2020-01-01 10:00:00'", "INTERVAL 1 DAY", "INTERVAL 2 HOUR",
    "d + INTERVAL 1 DAY",
    # CASE
    "CASE WHEN a > 1 THEN 'x' ELSE 'y' END", "CASE a WHEN 1 THEN 'x' END", "CASE WHEN a > 1 THEN 'x' END",
    "CASE WHEN a = 1 THEN 2 WHEN a = 2 THEN 3 END",
    # windows
    "sum(v) OVER ()", "row_number() OVER (ORDER BY a)", "rank() OVER (PARTITION BY b ORDER BY a DESC)",
    "sum(v) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
    # identifiers, nested values
    "t.a", "t.a + 1", "a + \"A B\"", "\"year\" + 1", "Ab + 1", "[1, 2]", "{'x': 1}", "l[1]", "l[1] + 1",
    "st.x", "st.x + 1", "[1, 2, 3][2]", "list_value(1, 2)", "(SELECT 1)",
    # type names other than the SQL standard's keep the case they are written in
    "a::double", "a::Double", "CAST(a AS double)", "TRY_CAST(a AS double)", "a::int4", "a::text", "a::bool",
    "a::hugeint", "a::bigint", "a::Integer", "a::varchar", "a::tinyint", "d::date", "a::decimal(10, 2)",
    # aggregates with ORDER BY inside, first/last, any_value, lambdas, typed literals followed by ::
    "array_agg(a ORDER BY a DESC)", "string_agg(s, ',' ORDER BY s)", "first(a)", "last(a ORDER BY b)",
    "arbitrary(a)", "any_value(a)", "first(a) OVER ()", "last(a) OVER (ORDER BY b)",
    "list_transform(l, lambda x: x + 1)", "TIMESTAMP '2020-01-01 10:00:00'::VARCHAR", "MAP {'k': 1}['k']",
    "INTERVAL (-1) DAY", "INTERVAL 2 HOUR", "typeof(count(*))",
    # subqueries, printed as DuckDB prints a plain SELECT
    "(SELECT max(b) AS m FROM t x WHERE x.a = t.a)", "(SELECT count(*) FROM t x, t y WHERE x.a < y.b)",
    "(SELECT a FROM t ORDER BY a DESC LIMIT 1)", "EXISTS (SELECT * FROM t)", "a IN (SELECT a FROM t)",
    "(SELECT sum(x.a) FROM t x WHERE x.a > t.a AND x.b IS NOT NULL)", "a > ALL (SELECT a FROM t)",
    "CASE WHEN EXISTS (SELECT 1 FROM t x WHERE x.a = t.a) THEN 1 ELSE 0 END",
    # row values and fields of computed structs
    "(a, b) IN ((1, 1), (2, 3))", "(a, b) = (1, 2)", "ROW(1, 2) = ROW(1, 2)", "{'a': 1}.a", "[{'a': 1}][1].a",
    # issue #12's DuckDB functions, second batch
    "last_day(d)", "dayname(d)", "monthname(d)", "century(d)", "millennium(d)", "isoyear(d)", "yearweek(d)",
    "weekday(d)", "to_days(a)", "to_seconds(v)", "to_timestamp(a)", "to_timestamp(1.5)", "make_timestamp(a)",
    "make_timestamp(2020, a, b, 0, 0, v)", "date_add(d, a)", "date_add(d, INTERVAL 1 DAY)",
    "date_add(d, INTERVAL (a) MONTH)", "range(a)", "range(a, 3)", "generate_series(a)", "generate_series(0, 4, 2)",
    "hex(s)", "translate(s, 'x', 'y')", "gcd(a, b)", "trunc(v)", "encode(s)", "to_base64(encode(s))",
    "list_has_any(l, [1])", "array_has_any(l, l)", "l && [1]", "list_has_all(l, [1])", "list_intersect(l, l)",
    "list_first(l)", "list_count(l)", "list_median(l)", "list_string_agg(l)",
    "list_reduce(l, lambda x, y: x + y)", "list_reduce(l, lambda x, y: x + y, 10)", "struct_insert(st, y := 2)",
    "map_from_entries([{'k': 1, 'v': s}])", "generate_subscripts(l, 1)", "jaro_winkler_similarity(s, 'x')",
    "jaro_winkler_similarity(s, 'x', 0.9)", "jaro_similarity(s, s)",
]


@pytest.fixture(scope="module")
def engines():
    con = quarry.connect(workers=0)
    ref = duckdb.connect()
    con.execute(SETUP)
    ref.execute(SETUP)
    yield con, ref
    con.close()
    ref.close()


@pytest.mark.parametrize("expr", SHAPES)
def test_output_name_is_duckdbs(engines, expr):
    con, ref = engines
    sql = f"SELECT {expr} FROM t"
    assert con.execute(sql).schema.names == [d[0] for d in ref.execute(sql).description]


def test_shapes_are_many():
    assert len(SHAPES) >= 60


def test_aliases_and_plain_columns(engines):
    con, ref = engines
    sql = "SELECT a, t.b, a + 1 AS c, sum(v) OVER () AS w, 名前, \"A B\" FROM t"
    assert con.execute(sql).schema.names == [d[0] for d in ref.execute(sql).description]
