"""Random nested values, random expressions over them: quarry must answer as DuckDB does (issue #12).

Hypothesis draws a small table with LIST, LIST of LIST, LIST of VARCHAR, STRUCT and MAP columns
(with NaN, infinities and -0.0 in a DOUBLE list; NULL lists, NULL elements, empty lists, NULL structs and fields all included, possibly no rows)
and asks queries built from templates: list functions and lambdas, indexing and slicing, struct
field access, map lookups, comparisons of nested values, unnest, and lists, structs and maps as
grouping, DISTINCT, ORDER BY (both directions, NULLS FIRST/LAST) and join keys. Each query runs in DuckDB and in quarry (one and three partitions); rows are
compared as the sqllogictest runner prints them. Where quarry refuses with "Not supported", the
refusal stands (it is never a wrong answer); any other error where DuckDB answers is a failure.
``derandomize=True`` makes every run the same.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quarry
from sqllogic import format_value, python_value

duckdb = pytest.importorskip("duckdb")

SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

LIST_T = pa.list_(pa.int64())
STRUCT_T = pa.struct([("a", pa.int64()), ("b", pa.string())])
MAP_T = pa.map_(pa.string(), pa.int64())
WORDS = ["a", "b", "zz", "", "é"]
DOUBLES = [0.0, -0.0, 1.5, -2.25, float("nan"), float("inf"), float("-inf")]


def maybe(strategy, share=0.2):
    return st.one_of(st.none(), strategy) if share else strategy


ints = st.integers(-5, 5)
int_lists = st.lists(maybe(ints), max_size=4)


@st.composite
def nested_table(draw) -> pa.Table:
    n = draw(st.integers(0, 8))

    def column(strategy):
        return draw(st.lists(maybe(strategy), min_size=n, max_size=n))
    maps = st.dictionaries(st.sampled_from(WORDS), maybe(ints), max_size=3).map(lambda d: list(d.items()))
    structs = st.fixed_dictionaries({"a": maybe(ints), "b": maybe(st.sampled_from(WORDS))})
    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "l": pa.array(column(int_lists), LIST_T),
        "l2": pa.array(column(int_lists), LIST_T),
        "ll": pa.array(column(st.lists(maybe(int_lists), max_size=3)), pa.list_(LIST_T)),
        "ls": pa.array(column(st.lists(maybe(st.sampled_from(WORDS)), max_size=3)), pa.list_(pa.string())),
        "s": pa.array(column(structs), STRUCT_T),
        "m": pa.array(column(maps), MAP_T),
        "ld": pa.array(column(st.lists(maybe(st.sampled_from(DOUBLES)), max_size=3)), pa.list_(pa.float64())),
    })


def constant():
    return st.integers(-4, 4).map(str)


def list_literal():
    return st.lists(st.one_of(st.just("NULL"), st.integers(-3, 3).map(str)), max_size=3).map(
        lambda xs: "[" + ", ".join(xs) + "]" if xs else "[]::BIGINT[]")


@st.composite
def list_expr(draw, depth=1) -> str:
    """An expression of type LIST(BIGINT)."""
    base = draw(st.sampled_from(["l", "l2", "l", "list_value(id, 1)"]) if depth == 0 else
                st.one_of(st.sampled_from(["l", "l2"]), list_literal(), list_expr(depth=0)))
    c = draw(constant())
    return draw(st.sampled_from([
        base, f"list_sort({base})", f"list_reverse({base})", f"list_concat({base}, l2)",
        f"list_slice({base}, {c}, {draw(constant())})", f"{base}[{c}:{draw(constant())}]",
        f"list_transform({base}, x -> x + {c})", f"list_filter({base}, x -> x > {c})",
        f"list_sort(list_distinct({base}))", f"flatten(ll)", f"list_sort({base}, 'DESC')",
        f"ll[{c}]",
    ]))


@st.composite
def scalar_expr(draw) -> str:
    """An expression over the nested columns giving a plain value (or a nested one to print)."""
    le = draw(list_expr())
    c = draw(constant())
    w = draw(st.sampled_from(WORDS))
    return draw(st.sampled_from([
        f"{le}[{c}]", f"len({le})", f"list_contains({le}, {c})", f"list_position({le}, {c})",
        f"list_sum({le})", f"list_min({le})", f"list_max({le})", f"{le}",
        f"array_to_string(ls, ',')", f"list_contains(ls, '{w}')", f"ls[{c}]",
        "s.a", "s.b", "s['a']", "s IS NULL", "s.a + id", f"struct_pack(x := id, y := s.a)",
        f"m['{w}']", "map_keys(m)", "cardinality(m)", f"map_extract(m, '{w}')",
        f"{le} = l2", f"{le} <> l", f"{le} < l2", f"l >= {le}", f"{le} IS NULL", f"l = {draw(list_literal())}",
        "s = {'a': 1, 'b': 'a'}", "s < {'a': 0, 'b': 'a'}", f"list_value(s.a, {c})", "ll = ll",
        f"[x * 2 FOR x IN {le}]", f"list_transform(ll, y -> len(y))",
        "list_max(ld)", "list_min(ld)", "list_sort(ld)", "list_contains(ld, 'nan'::DOUBLE)", "ld[1] > 0",
        "list_contains(ld, 0.0)", "ld = ld", "list_distinct(ld) IS NULL", f"list_position(ld, 'inf'::DOUBLE)",
        "list_filter(ld, x -> x > 1)", "list_transform(ld, x -> x = x)",
    ]))


@st.composite
def query(draw) -> tuple[str, bool]:
    """(SQL, ordered?)"""
    e = draw(scalar_expr())
    le = draw(list_expr())
    kind = draw(st.sampled_from(["select", "select", "select", "where", "unnest", "unnest_agg", "group",
                                 "distinct", "order", "order", "join", "agg"]))
    if kind == "select":
        return f"SELECT id, {e} FROM t", False
    if kind == "where":
        return f"SELECT id FROM t WHERE {draw(st.sampled_from(['list_contains(l, 1)', f'len({le}) > 1', 's.a > 0', f'{le} = l2', 'l IS NOT NULL AND l[1] IS NULL', f'{le} > l']))}", False
    if kind == "unnest":
        return f"SELECT id, unnest({draw(st.sampled_from([le, 'ld']))}) AS u FROM t", False
    if kind == "unnest_agg":
        return f"SELECT count(*), sum(u), count(u) FROM (SELECT unnest({le}) AS u FROM t)", False
    if kind == "group":
        key = draw(st.sampled_from(["l", le, "s", "ls", "s.b", "ld[1]", "ld", "ll", "m"]))
        return f"SELECT {key} AS g, count(*), sum(id) FROM t GROUP BY {key}", False
    if kind == "distinct":
        return f"SELECT DISTINCT {draw(st.sampled_from(['l', 's', 'ls', le, 'ld', 'll', 'm']))} FROM t", False
    if kind == "order":
        key = draw(st.sampled_from([le, "s", "ld", "ll", "m", "ls"]))
        direction = draw(st.sampled_from(["NULLS LAST", "DESC NULLS LAST", "NULLS FIRST", "DESC NULLS FIRST"]))
        return f"SELECT id, {key} AS v FROM t ORDER BY v {direction}, id", True
    if kind == "join":
        key = draw(st.sampled_from(["l", "s", "ld", "ll", "m", "ls"]))
        return f"SELECT a.id AS x, b.id AS y FROM t a JOIN t b ON a.{key} = b.{key}", False
    return f"SELECT array_agg(id ORDER BY id), list(s.a ORDER BY id), count(l), min(len(l)), min(l), max(s), " \
        f"max(ld), min(m) FROM t", True


def _cell(text: str) -> str:
    """-0.0 prints as 0: a group of 0.0 and -0.0 may be keyed by either (DuckDB keeps the first seen)."""
    return "0" if text == "-0" else text


def _rows_quarry(con, sql):
    result = con.sql(sql).to_arrow()
    types = [f.type for f in result.schema]
    cols = [c.to_pylist() for c in result.columns]
    return [tuple(_cell(format_value(python_value(v, t))) for v, t in zip(row, types)) for row in zip(*cols)]


def _rows_duckdb(con, sql):
    return [tuple(_cell(format_value(v)) for v in row) for row in con.execute(sql).fetchall()]


def answers_match(table: pa.Table, queries: list[tuple[str, bool]]) -> None:
    oracle = duckdb.connect()
    oracle.register("t_arrow", table)
    oracle.execute("CREATE TABLE t AS SELECT * FROM t_arrow")
    sessions = [quarry.connect(workers=0), quarry.connect(workers=0, target_partitions=3)]
    for con in sessions:
        con.register("t", table)
    try:
        for sql, ordered in queries:
            try:
                expected = _rows_duckdb(oracle, sql)
            except duckdb.Error:
                expected = None
            for con in sessions:
                try:
                    got = _rows_quarry(con, sql)
                except quarry.QuarryError as err:
                    if expected is None or "not supported" in str(err).lower():
                        continue
                    raise AssertionError(f"quarry failed where DuckDB answered:\n{sql}\n{err}") from err
                if expected is None:
                    continue
                if not ordered:
                    got, want = sorted(got), sorted(expected)
                else:
                    want = expected
                assert got == want, f"{sql}\nquarry: {got}\nduckdb: {want}"
    finally:
        oracle.close()
        for con in sessions:
            con.close()


@settings(max_examples=25, **SETTINGS)
@given(table=nested_table(), queries=st.lists(query(), min_size=4, max_size=4))
def test_nested_values_agree_with_duckdb(table, queries):
    answers_match(table, queries)
