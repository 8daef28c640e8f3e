"""Random tables, random queries: quarry must answer as DuckDB does.

Hypothesis draws two small tables (integers, BIGINTs, DECIMAL(p, s), doubles, dates
and unicode strings, every column with NULLs, possibly no rows) and queries from a
small typed grammar: projections with arithmetic, predicates (comparisons, AND / OR /
NOT, IS NULL, IN lists with NULLs, BETWEEN, LIKE), aggregations over 0-2 keys,
ORDER BY + LIMIT on a unique key, and joins and subqueries on an integer key. Each
query runs in DuckDB and in quarry with one and with three partitions.

Values are chosen so both engines must agree exactly: doubles are multiples of 1/4
(sums are exact in any order), integers stay far from overflow, divisions by zero are
NULL in both (DuckDB is set up so). ``derandomize=True`` makes every run the same.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quarry
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")

SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

QUERIES_PER_TABLE = 4     # queries asked of each generated table (setting engines up costs as much)
DECIMAL_TYPES = [(9, 2), (15, 2), (18, 4), (5, 0), (12, 6)]
ALPHABET = "abzB_%é Ωß"
DAY0 = dt.date(2000, 1, 1)


# ---------------------------------------------------------------------------- tables

def nullable(strategy, null_share: float = 0.2):
    """``strategy`` or None (roughly ``null_share`` of the time)."""
    return st.one_of(st.none(), strategy) if null_share else strategy


@st.composite
def table_a(draw) -> pa.Table:
    """The main table: a unique `id`, a join key `k` (0..5), and one column of each type."""
    n = draw(st.integers(0, 25))
    precision, scale = draw(st.sampled_from(DECIMAL_TYPES))
    limit = 10 ** (precision - scale) - 1
    decimals = st.integers(-limit * 10 ** scale, limit * 10 ** scale).map(lambda v: Decimal(v).scaleb(-scale))

    def column(strategy):
        return draw(st.lists(nullable(strategy), min_size=n, max_size=n))
    return pa.table({
        "id": pa.array(range(n), pa.int32()),
        "k": pa.array(column(st.integers(0, 5)), pa.int32()),
        "i": pa.array(column(st.integers(-10**6, 10**6)), pa.int64()),
        "d": pa.array(column(decimals), pa.decimal128(precision, scale)),
        "f": pa.array(column(st.integers(-4000, 4000).map(lambda v: v / 4)), pa.float64()),
        "dt": pa.array(column(st.integers(-4000, 12000).map(lambda v: DAY0 + dt.timedelta(days=v))),
                       pa.date32()),
        "s": pa.array(column(st.text(ALPHABET, max_size=4)), pa.string()),
    })


@st.composite
def table_b(draw) -> pa.Table:
    """The joined table: `id`, the key `k`, a BIGINT `v` and a string `t`."""
    n = draw(st.integers(0, 12))

    def column(strategy):
        return draw(st.lists(nullable(strategy), min_size=n, max_size=n))
    return pa.table({
        "id": pa.array(range(100, 100 + n), pa.int32()),
        "k": pa.array(column(st.integers(0, 6)), pa.int32()),
        "v": pa.array(column(st.integers(-1000, 1000)), pa.int64()),
        "t": pa.array(column(st.text(ALPHABET, max_size=3)), pa.string()),
    })


# ---------------------------------------------------------------------------- expressions

def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def int_expr(q: str, depth: int = 2):
    """An integer expression over table a's columns, qualified by ``q`` ('' or 'a.')."""
    leaf = st.sampled_from([f"{q}k", f"{q}i", f"{q}id"]) | st.integers(-20, 20).map(str)
    if depth == 0:
        return leaf
    sub = int_expr(q, depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["+", "-"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, st.integers(-9, 9)).map(lambda t: f"({t[0]} * {t[1]})"),
        st.tuples(sub, st.sampled_from(["%", "//"]), st.integers(-7, 7)).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda e: f"abs({e})"),
        sub.map(lambda e: f"(-{e})"),
        st.tuples(sub, st.integers(-3, 3)).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
        st.tuples(simple_predicate(q), sub, sub).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
        st.sampled_from([f"length({q}s)", f"EXTRACT(year FROM {q}dt)", f"month({q}dt)",
                         f"date_diff('day', DATE '2000-01-01', {q}dt)", f"date_diff('month', {q}dt, DATE '2010-01-31')",
                         f"strpos({q}s, 'a')", f"(NULL + {q}k)", f"coalesce(NULL, {q}k)", f"CAST({q}f AS INTEGER)",
                         f"CAST({q}d AS BIGINT)", f"greatest({q}k, {q}i)", f"least({q}k, 3, NULL)"]),
    )


def simple_predicate(q: str):
    """A predicate on plain columns (for CASE WHEN, so expressions do not nest without end)."""
    return st.one_of(
        st.integers(0, 5).map(lambda n: f"{q}k > {n}"),
        st.just(f"{q}s IS NULL"), st.just(f"{q}f < 0"), st.just(f"{q}d >= 0"),
        st.just(f"{q}dt < DATE '2010-06-30'"),
    )


def decimal_expr(q: str):
    d = f"{q}d"
    lit = st.decimals(min_value=-99, max_value=99, places=2).map(str)
    return st.one_of(
        st.just(d),
        lit.map(lambda x: f"({d} + {x})"),
        lit.map(lambda x: f"({d} * {x})"),
        st.just(f"({d} - {q}k)"),
        st.just(f"({d} * {d})"),
        st.just(f"abs({d})"),
        st.just(f"coalesce({d}, 0)"),
        st.integers(0, 3).map(lambda n: f"round({d}, {n})"),
        st.just(f"CAST({d} AS DECIMAL(38, 2))"),
        st.just(f"CAST({d} AS DECIMAL(20, 1))"),
        st.just(f"({d} + {q}i)"),
        st.just(f"CASE WHEN {q}k > 2 THEN {d} ELSE {q}k END"),
        st.just(f"nullif({d}, 0)"),
    )


def double_expr(q: str):
    f = f"{q}f"
    return st.one_of(
        st.just(f), st.just(f"({f} * 2)"), st.just(f"({f} + {q}k)"), st.just(f"({f} / 4)"),
        st.just(f"({q}i / 8)"), st.just(f"abs({f})"), st.just(f"floor({f})"), st.just(f"ceil({f})"),
        st.just(f"round({f})"), st.just(f"({f} / {q}k)"), st.just(f"({q}d / 3)"), st.just(f"({f} % 3)"),
        st.just(f"round({f}, 1)"), st.just(f"CAST({q}d AS DOUBLE)"), st.just(f"({q}k * 0.5)"),
    )


def string_expr(q: str):
    s = f"{q}s"
    return st.one_of(
        st.just(s), st.just(f"upper({s})"), st.just(f"lower({s})"), st.just(f"({s} || 'x')"),
        st.just(f"concat({s}, {q}k)"), st.just(f"trim({s})"), st.just(f"replace({s}, 'a', 'zz')"),
        st.tuples(st.integers(-3, 3), st.integers(0, 3)).map(lambda t: f"substring({s}, {t[0]}, {t[1]})"),
        st.just(f"left({s}, 2)"), st.just(f"lpad({s}, 3, '*')"), st.just(f"coalesce({s}, '-')"),
        st.just(f"CAST({q}k AS VARCHAR)"), st.just(f"split_part({s}, 'a', 1)"), st.just(f"rpad({s}, 2, 'xy')"),
        st.just(f"CASE {q}k WHEN 1 THEN {s} WHEN 2 THEN 'two' END"), st.just(f"right({s}, 2)"),
        st.just(f"regexp_replace({s}, '[aé]', '#', 'g')"),
    )


def date_expr(q: str):
    d = f"{q}dt"
    return st.one_of(
        st.just(d),
        st.integers(-40, 40).map(lambda n: f"({d} + INTERVAL '{n}' DAY)"),
        st.integers(-25, 25).map(lambda n: f"({d} + INTERVAL '{n}' MONTH)"),
        st.integers(0, 3).map(lambda n: f"({d} - INTERVAL {n} YEAR)"),
        st.integers(-9, 9).map(lambda n: f"({d} + {n})"),
        st.sampled_from(["month", "year", "quarter"]).map(lambda p: f"date_trunc('{p}', {d})"),
    )


def literal_for(kind: str):
    return {
        "int": st.integers(-10, 10).map(str),
        "decimal": st.decimals(min_value=-50, max_value=50, places=2).map(str),
        "double": st.integers(-400, 400).map(lambda v: repr(v / 4)),
        "string": st.text(ALPHABET, max_size=3).map(sql_string),
        "date": st.integers(-4000, 12000).map(lambda v: f"DATE '{DAY0 + dt.timedelta(days=v)}'"),
    }[kind]


def typed_expr(q: str, kind: str):
    return {"int": int_expr(q, 1), "decimal": decimal_expr(q), "double": double_expr(q),
            "string": string_expr(q), "date": date_expr(q)}[kind]


KINDS = ["int", "decimal", "double", "string", "date"]


def predicate(q: str, depth: int = 2):
    """A boolean expression (three-valued: NULLs make it unknown)."""
    def comparison(kind):
        return st.tuples(typed_expr(q, kind), st.sampled_from(["=", "<>", "<", "<=", ">", ">="]),
                         literal_for(kind) | typed_expr(q, kind)).map(lambda t: f"({t[0]} {t[1]} {t[2]})")

    def in_list(kind):
        items = st.lists(literal_for(kind) | st.just("NULL"), min_size=1, max_size=4)
        return st.tuples(typed_expr(q, kind), st.booleans(), items).map(
            lambda t: f"({t[0]} {'NOT ' if t[1] else ''}IN ({', '.join(t[2])}))")

    def between(kind):
        return st.tuples(typed_expr(q, kind), st.booleans(), literal_for(kind), literal_for(kind)).map(
            lambda t: f"({t[0]} {'NOT ' if t[1] else ''}BETWEEN {t[2]} AND {t[3]})")

    def mixed(pair):
        # operands of different types meet in their common type (INTEGER vs DECIMAL vs DOUBLE, DATE vs text)
        left, right = pair
        return st.tuples(typed_expr(q, left), st.sampled_from(["=", "<", ">="]), typed_expr(q, right)).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})")

    mixed_pairs = st.sampled_from([("int", "decimal"), ("int", "double"), ("decimal", "double")]).flatmap(mixed)
    text_dates = st.tuples(date_expr(q), st.sampled_from(["<", ">", "="]),
                           st.integers(-4000, 12000).map(lambda v: f"'{DAY0 + dt.timedelta(days=v)}'")).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})")
    patterns = st.sampled_from(["a%", "%b", "_", "%", "", "%é%", "a_", "%\\%%", "B%", "%a%b%"])
    leaf = st.one_of(
        mixed_pairs, text_dates,
        st.tuples(int_expr(q, 0), st.lists(literal_for("decimal") | literal_for("int"), min_size=1, max_size=3)).map(
            lambda t: f"({t[0]} IN ({', '.join(t[1])}))"),
        st.sampled_from(KINDS).flatmap(comparison),
        st.sampled_from(KINDS).flatmap(in_list),
        st.sampled_from(["int", "decimal", "date", "string"]).flatmap(between),
        st.tuples(st.sampled_from(KINDS).flatmap(lambda k: typed_expr(q, k)), st.booleans()).map(
            lambda t: f"({t[0]} IS {'NOT ' if t[1] else ''}NULL)"),
        st.tuples(string_expr(q), st.sampled_from(["LIKE", "NOT LIKE", "ILIKE"]), patterns).map(
            lambda t: f"({t[0]} {t[1]} {sql_string(t[2])}" + (" ESCAPE '\\')" if "\\" in t[2] else ")")),
        st.sampled_from(["TRUE", "FALSE", "NULL"]).map(lambda b: f"(NULL IS NULL AND {b})"),
    )
    if depth == 0:
        return leaf
    sub = predicate(q, depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["AND", "OR"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda p: f"(NOT {p})"),
    )


def any_expr(q: str):
    return st.one_of(st.sampled_from(KINDS).flatmap(lambda k: typed_expr(q, k)), predicate(q, 1))


# ---------------------------------------------------------------------------- running

def answers_match(tables: dict[str, pa.Table], queries: list[str], ordered: bool, parquet: bool = False) -> None:
    """Run each query in DuckDB and in quarry (1 and 3 partitions); the answers must be equal.

    The engines are set up once per example and asked several queries, which finds more
    in the same time. When DuckDB itself refuses a query (a DECIMAL product it computes in
    64 bits overflows, say), quarry may answer or raise a QuarryError, but nothing else.
    """
    oracle = duckdb.connect()
    oracle.sql("SET error_on_division_by_zero = false")
    oracle.sql("SET ieee_floating_point_ops = false")
    sessions = [quarry.connect(), quarry.connect(target_partitions=3)]
    folder = tempfile.TemporaryDirectory() if parquet else None
    for name, table in tables.items():
        oracle.register(name, table)
        source = table
        if parquet:
            # dictionary-encoded pages, NULLs and several row groups (statistics prune them): the
            # reader paths that a table in memory never takes. DuckDB reads the table itself.
            source = f"{folder.name}/{name}.parquet"
            pq.write_table(table, source, use_dictionary=True, row_group_size=7)
        for con in sessions:
            con.register(name, source)
    compared = 0
    for sql in queries:
        try:
            expected = oracle.sql(sql).to_arrow_table()
        except duckdb.Error:
            expected = None
        for con in sessions:
            try:
                actual = con.sql(sql).to_arrow()
            except quarry.QuarryError as err:
                if expected is None:
                    continue
                raise AssertionError(f"quarry failed where DuckDB answered:\n{sql}\n{err}") from err
            if expected is not None:
                try:
                    assert_tables_equal(actual, expected, ordered=ordered, check_names=False)
                except AssertionError as err:
                    raise AssertionError(f"{sql}\n{err}") from None
        compared += expected is not None
    oracle.close()
    if folder is not None:
        folder.cleanup()
    reject_unless(compared > 0)


def reject_unless(condition: bool) -> None:
    """Tell hypothesis an example taught nothing (DuckDB had no answer to compare with)."""
    if not condition:
        from hypothesis import reject
        reject()


@settings(max_examples=30, **SETTINGS)
@given(data=st.data(), a=table_a())
def test_projection_and_filter(data, a):
    queries = []
    for _ in range(QUERIES_PER_TABLE):
        exprs = data.draw(st.lists(any_expr(""), min_size=1, max_size=2), label="select")
        # a predicate as a column shows its NULLs, which a WHERE clause would hide
        exprs += data.draw(st.lists(predicate("", 1), min_size=1, max_size=2), label="select predicates")
        where = data.draw(st.none() | predicate(""), label="where")
        queries.append(f"SELECT id, {', '.join(exprs)} FROM a" + (f" WHERE {where}" if where else ""))
    answers_match({"a": a}, queries, ordered=False)


AGGREGATES = ["count(*)", "count({c})", "sum(i)", "sum(d)", "sum(f)", "min(s)", "max(s)", "min(dt)",
              "max(dt)", "avg(i)", "avg(f)", "avg(d)", "min(d)", "max(f)", "count(DISTINCT {c})",
              "sum(d * 2)", "sum(k + i)", "max(length(s))"]
GROUP_KEYS = ["k", "s", "dt", "d", "k % 2", "upper(s)", "EXTRACT(year FROM dt)", "f > 0"]


@settings(max_examples=30, **SETTINGS)
@given(data=st.data(), a=table_a())
def test_aggregation(data, a):
    queries = []
    for _ in range(QUERIES_PER_TABLE):
        keys = data.draw(st.lists(st.sampled_from(GROUP_KEYS), max_size=2, unique=True), label="keys")
        aggs = data.draw(st.lists(st.sampled_from(AGGREGATES), min_size=1, max_size=4), label="aggs")
        aggs = [agg.format(c=data.draw(st.sampled_from(["k", "s", "dt", "d", "f"]))) for agg in aggs]
        where = data.draw(st.none() | predicate("", 1), label="where")
        having = data.draw(st.none() | st.sampled_from(["count(*) > 1", "sum(i) > 0", "max(k) >= 3"]),
                           label="having")
        sql = f"SELECT {', '.join(keys + aggs)} FROM a"
        if where:
            sql += f" WHERE {where}"
        if keys:
            sql += " GROUP BY " + ", ".join(keys)
            if having:
                sql += f" HAVING {having}"
        queries.append(sql)
    answers_match({"a": a}, queries, ordered=False)


@settings(max_examples=20, **SETTINGS)
@given(data=st.data(), a=table_a())
def test_order_by_and_limit(data, a):
    queries = []
    for _ in range(QUERIES_PER_TABLE):
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        key = data.draw(typed_expr("", kind), label="key")
        direction = data.draw(st.sampled_from(["", " ASC", " DESC"]))
        nulls = data.draw(st.sampled_from(["", " NULLS FIRST", " NULLS LAST"]))
        limit = data.draw(st.integers(0, 30))
        offset = data.draw(st.sampled_from([None, 0, 1, 5]))
        where = data.draw(st.none() | predicate("", 1), label="where")
        sql = f"SELECT id, {key} AS key, s FROM a" + (f" WHERE {where}" if where else "")
        sql += f" ORDER BY {key}{direction}{nulls}, id DESC LIMIT {limit}"
        if offset is not None:
            sql += f" OFFSET {offset}"
        queries.append(sql)
    answers_match({"a": a}, queries, ordered=True)


JOINS = [
    "SELECT a.id, b.id, a.k, b.v, {e} FROM a JOIN b ON a.k = b.k",
    "SELECT a.id, b.id, b.t, {e} FROM a LEFT JOIN b ON a.k = b.k",
    "SELECT a.id, b.id, b.v FROM a RIGHT JOIN b ON a.k = b.k",
    "SELECT a.id, b.id, a.k, b.k FROM a FULL JOIN b ON a.k = b.k",
    "SELECT a.id, b.id FROM a JOIN b ON a.k = b.k AND a.i > b.v",
    "SELECT a.id, b.id FROM a LEFT JOIN b ON a.k = b.k AND b.v > 0",
    "SELECT a.id, {e} FROM a SEMI JOIN b ON a.k = b.k",
    "SELECT a.id, {e} FROM a ANTI JOIN b ON a.k = b.k",
    "SELECT a.id FROM a WHERE a.k IN (SELECT b.k FROM b)",
    "SELECT a.id FROM a WHERE a.k NOT IN (SELECT b.k FROM b)",
    "SELECT a.id FROM a WHERE a.k NOT IN (SELECT b.k FROM b WHERE b.k IS NOT NULL)",
    "SELECT a.id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.k = a.k AND b.v > a.k)",
    "SELECT a.id FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.k = a.k)",
    "SELECT a.id, (SELECT count(*) FROM b WHERE b.k = a.k) FROM a",
    "SELECT a.id, (SELECT max(b.v) FROM b WHERE b.k = a.k) FROM a",
    "SELECT a.k, count(*), sum(b.v), count(b.t) FROM a LEFT JOIN b ON a.k = b.k GROUP BY a.k",
    "SELECT a.id, b.id FROM a, b WHERE a.k = b.k AND a.id < 10",
    "SELECT a.id, b.id FROM a JOIN b USING (k)",
    "SELECT k, a.id, b.id FROM a FULL JOIN b USING (k)",
]


@settings(max_examples=30, **SETTINGS)
@given(data=st.data(), a=table_a(), b=table_b())
def test_joins_and_subqueries(data, a, b):
    queries = []
    for _ in range(QUERIES_PER_TABLE):
        template = data.draw(st.sampled_from(JOINS), label="join")
        expr = data.draw(any_expr("a."), label="expr")
        where = data.draw(st.none() | predicate("a.", 1), label="where")
        sql = template.format(e=expr)
        if where and "GROUP BY" not in sql:
            sql += (" AND " if " WHERE " in sql else " WHERE ") + where
        queries.append(sql)
    answers_match({"a": a, "b": b}, queries, ordered=False)


SET_OPERATIONS = ["UNION", "UNION ALL", "INTERSECT", "INTERSECT ALL", "EXCEPT", "EXCEPT ALL"]


@settings(max_examples=12, **SETTINGS)
@given(data=st.data(), a=table_a(), b=table_b())
def test_set_operations(data, a, b):
    queries = []
    for _ in range(QUERIES_PER_TABLE):
        op = data.draw(st.sampled_from(SET_OPERATIONS), label="op")
        left, right = ("k", "s"), ("k", "t")
        if data.draw(st.booleans()):
            left, right = ("k % 3", "upper(s)"), ("k", "upper(t)")
        queries.append(f"SELECT {left[0]}, {left[1]} FROM a {op} SELECT {right[0]}, {right[1]} FROM b")
    answers_match({"a": a, "b": b}, queries, ordered=False)


# ---------------------------------------------------------------------------- Parquet and edge values

EDGE_DOUBLES = [math.nan, -math.nan, math.inf, -math.inf, -0.0, 0.0]
EDGE_BIGINTS = [2**62, -(2**62), 2**63 - 1, -(2**63), 0]


@st.composite
def table_edges(draw) -> pa.Table:
    """``table_a``'s columns with edge values mixed in: NaN (of both signs), +-inf, -0.0 and 0.0
    among the doubles, BIGINTs at and near the ends of their range (sums overflow 64 bits), and few
    distinct strings (so Parquet keeps them as dictionaries)."""
    a = draw(table_a())
    n = a.num_rows
    f = [draw(st.one_of(st.sampled_from(EDGE_DOUBLES), st.just(v))) if v is not None else None
         for v in a.column("f").to_pylist()]
    i = [draw(st.one_of(st.sampled_from(EDGE_BIGINTS), st.just(v))) if v is not None else None
         for v in a.column("i").to_pylist()]
    s = draw(st.lists(nullable(st.sampled_from(["a", "b", "Ω", ""])), min_size=n, max_size=n))
    return a.set_column(a.column_names.index("f"), "f", pa.array(f, pa.float64())) \
            .set_column(a.column_names.index("i"), "i", pa.array(i, pa.int64())) \
            .set_column(a.column_names.index("s"), "s", pa.array(s, pa.string()))


@settings(max_examples=25, **SETTINGS)
@given(data=st.data(), a=table_edges())
def test_parquet_with_dictionaries_nulls_and_edge_values(data, a):
    """The fuzzer's filters and aggregations over a Parquet file (dictionary pages, NULLs, row
    groups of 7 rows) holding NaN, +-inf, -0.0 and BIGINTs whose sums overflow 64 bits."""
    queries = []
    for _ in range(QUERIES_PER_TABLE):
        exprs = data.draw(st.lists(any_expr(""), min_size=1, max_size=2), label="select")
        where = data.draw(st.none() | predicate(""), label="where")
        queries.append(f"SELECT id, {', '.join(exprs)} FROM a" + (f" WHERE {where}" if where else ""))
        keys = data.draw(st.lists(st.sampled_from(["k", "s", "f", "f > 0"]), max_size=2, unique=True), label="keys")
        aggs = data.draw(st.lists(st.sampled_from(["count(*)", "sum(i)", "min(f)", "max(f)", "count(DISTINCT f)",
                                                   "min(s)", "max(s)", "sum(f)", "count(s)"]),
                                  min_size=1, max_size=3), label="aggs")
        sql = f"SELECT {', '.join(keys + aggs)} FROM a"
        if where:
            sql += f" WHERE {where}"
        if keys:
            sql += " GROUP BY " + ", ".join(keys)
        queries.append(sql)
    answers_match({"a": a}, queries, ordered=False, parquet=True)
