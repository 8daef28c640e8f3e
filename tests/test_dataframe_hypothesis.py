"""Random DataFrame pipelines return what DuckDB returns for the equivalent SQL.

Hypothesis draws two small tables (integers, decimals, strings and dates, all with
NULLs, possibly empty) and a pipeline of 1 to 5 steps: filter, select, with_column,
group_by/agg, join (every kind), sort + limit, distinct, union, intersect / except.
Each step is applied to the quarry DataFrame and, as SQL text wrapping the previous
step as a subquery, to DuckDB; the final results must hold the same rows.

Columns carry a kind (int, dec, str, date, dbl) so every generated expression is
well typed; every new column has a fresh name (``e3``, ``g2_0``, ``k_4``), so the
SQL needs no qualifiers. Sorting before a limit uses every column, so the rows kept
do not depend on how ties are broken.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quarry
import quarry.functions as F
from quarry import col, lit
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")

DAY0 = datetime.date(2024, 1, 1)


# -- tables --------------------------------------------------------------------------------

@st.composite
def tables(draw):
    # mostly tables with enough rows for filters and joins to matter; sometimes empty
    n1 = draw(st.sampled_from(list(range(8, 31)) + [0]))
    n2 = draw(st.sampled_from(list(range(4, 13)) + [0]))

    def col_of(values, n, dtype):
        # about one value in eight is NULL
        cell = st.one_of(st.none(), *([values] * 7))
        return pa.array(draw(st.lists(cell, min_size=n, max_size=n)), dtype)

    ints = st.integers(-5, 5)
    decs = st.integers(-500, 500).map(lambda c: Decimal(c).scaleb(-2))
    strs = st.sampled_from(["a", "b", "ab", "ba", "abc", ""])
    dates = st.integers(0, 9).map(lambda d: DAY0 + datetime.timedelta(days=d))
    t1 = pa.table({
        "a": col_of(ints, n1, pa.int64()),
        "b": col_of(st.integers(0, 3), n1, pa.int32()),
        "d": col_of(decs, n1, pa.decimal128(10, 2)),
        "s": col_of(strs, n1, pa.string()),
        "dt": col_of(dates, n1, pa.date32()),
    })
    t2 = pa.table({
        "k": col_of(ints, n2, pa.int64()),
        "v": col_of(st.integers(0, 9), n2, pa.int64()),
        "w": col_of(decs, n2, pa.decimal128(10, 2)),
        "t": col_of(strs, n2, pa.string()),
    })
    return t1, t2


T1_KINDS = [("a", "int"), ("b", "int"), ("d", "dec"), ("s", "str"), ("dt", "date")]
T2_KINDS = [("k", "int"), ("v", "int"), ("w", "dec"), ("t", "str")]


# -- pipelines -----------------------------------------------------------------------------

@dataclass
class Frame:
    df: quarry.DataFrame
    sql: str
    cols: list[tuple[str, str]]      # (name, kind)


_OPS = {"<": "__lt__", "<=": "__le__", "=": "__eq__", "<>": "__ne__", ">": "__gt__", ">=": "__ge__"}


def _predicate(draw, cols):
    """A boolean (Column, SQL text) over ``cols``."""
    name, kind = draw(st.sampled_from(cols))
    c = col(name)
    shape = draw(st.sampled_from(["cmp", "cmp", "null", "notnull"]))
    if shape == "null":
        return c.is_null(), f"({name} IS NULL)"
    if shape == "notnull":
        return c.is_not_null(), f"({name} IS NOT NULL)"
    op = draw(st.sampled_from(sorted(_OPS)))
    if kind == "int":
        value = draw(st.integers(-5, 5))
        return getattr(c, _OPS[op])(value), f"({name} {op} {value})"
    if kind in ("dec", "dbl"):
        value = draw(st.sampled_from([-1.5, 0.0, 0.25, 1.0, 2.75]))
        return getattr(c, _OPS[op])(value), f"({name} {op} {value})"
    if kind == "str":
        if draw(st.booleans()):
            pattern = draw(st.sampled_from(["a%", "%b", "%a%", "_"]))
            return c.like(pattern), f"({name} LIKE '{pattern}')"
        if draw(st.booleans()):
            return c.isin("a", "ab"), f"({name} IN ('a', 'ab'))"
        value = draw(st.sampled_from(["a", "b", "abc"]))
        return getattr(c, _OPS[op])(value), f"({name} {op} '{value}')"
    day = DAY0 + datetime.timedelta(days=draw(st.integers(0, 9)))
    return getattr(c, _OPS[op])(F.date(day.isoformat())), f"({name} {op} DATE '{day}')"


def _negated(draw, pred, text):
    if draw(st.integers(0, 4)) == 0:
        return ~pred, f"(NOT {text})"
    return pred, text


def _condition(draw, cols):
    # NOT applies to single predicates only. Optimizer bug (reported): push_down_filter takes
    # NOT (p AND q) over an outer join's nullable side as NULL-rejecting and turns the outer join
    # into an inner one, though NOT (FALSE AND NULL) is TRUE; test_dataframe.py pins it.
    pred, text = _negated(draw, *_predicate(draw, cols))
    if draw(st.booleans()):
        other, other_text = _negated(draw, *_predicate(draw, cols))
        if draw(st.booleans()):
            pred, text = pred & other, f"({text} AND {other_text})"
        else:
            pred, text = pred | other, f"({text} OR {other_text})"
    return pred, text


def _new_expression(draw, cols, name):
    """A computed column named ``name``: (Column, SQL text, kind)."""
    ints = [c for c, k in cols if k == "int"]
    decs = [c for c, k in cols if k == "dec"]
    strs = [c for c, k in cols if k == "str"]
    options = ["const"]
    if ints:
        options += ["arith", "case", "coalesce"]
    if decs:
        options += ["dec"]
    if strs:
        options += ["upper"]
    shape = draw(st.sampled_from(options))
    if shape == "arith":
        x, y = draw(st.sampled_from(ints)), draw(st.sampled_from(ints))
        return (col(x) + col(y) * 2).alias(name), f"({x} + {y} * 2) AS {name}", "int"
    if shape == "case":
        x = draw(st.sampled_from(ints))
        return (F.when(col(x) > 0, col(x)).otherwise(0).alias(name),
                f"CASE WHEN {x} > 0 THEN {x} ELSE 0 END AS {name}", "int")
    if shape == "coalesce":
        x = draw(st.sampled_from(ints))
        return F.coalesce(x, lit(-1)).alias(name), f"coalesce({x}, -1) AS {name}", "int"
    if shape == "dec":
        x = draw(st.sampled_from(decs))
        if ints:
            y = draw(st.sampled_from(ints))
            return (col(x) * 2 + col(y)).alias(name), f"({x} * 2 + {y}) AS {name}", "dec"
        return (col(x) * 2).alias(name), f"({x} * 2) AS {name}", "dec"
    if shape == "upper":
        x = draw(st.sampled_from(strs))
        return F.upper(x).alias(name), f"upper({x}) AS {name}", "str"
    return lit(7).alias(name), f"7 AS {name}", "int"


def _step(draw, frame: Frame, t2: quarry.DataFrame, n: int) -> Frame:
    op = draw(st.sampled_from(["filter", "filter", "select", "with_column", "group_by", "join", "sort_limit",
                               "distinct", "union", "setop"]))
    cols, sql = frame.cols, frame.sql
    if op == "filter":
        pred, text = _condition(draw, cols)
        df = frame.df.filter(text if draw(st.booleans()) else pred)      # Column or the SQL text itself
        return Frame(df, f"SELECT * FROM ({sql}) q WHERE {text}", cols)
    if op == "select":
        chosen = draw(st.lists(st.sampled_from(cols), min_size=1, max_size=len(cols), unique=True))
        items, texts, kinds = [col(c) for c, _ in chosen], list(dict(chosen)), list(chosen)
        if draw(st.booleans()):
            e, text, kind = _new_expression(draw, cols, f"e{n}")
            items.append(e)
            texts.append(text)
            kinds.append((f"e{n}", kind))
        return Frame(frame.df.select(*items), f"SELECT {', '.join(texts)} FROM ({sql}) q", kinds)
    if op == "with_column":
        e, text, kind = _new_expression(draw, cols, f"e{n}")
        return Frame(frame.df.with_column(f"e{n}", e), f"SELECT *, {text} FROM ({sql}) q", cols + [(f"e{n}", kind)])
    if op == "group_by":
        keyable = [c for c in cols if c[1] != "dbl"]
        keys = draw(st.lists(st.sampled_from(keyable), max_size=2, unique=True)) if keyable else []
        aggs, texts, kinds = [], [], []
        for i in range(draw(st.integers(1, 3))):
            out = f"g{n}_{i}"
            name, kind = draw(st.sampled_from(cols))
            fn = draw(st.sampled_from(["count_star", "count", "min", "max"]
                                      + (["sum", "avg"] if kind in ("int", "dec") else [])))
            if fn == "count_star":
                aggs.append(F.count().alias(out))
                texts.append(f"count(*) AS {out}")
                kinds.append((out, "int"))
            else:
                aggs.append(getattr(F, fn)(name).alias(out))
                texts.append(f"{fn}({name}) AS {out}")
                kinds.append((out, {"count": "int", "avg": "dbl"}.get(fn, kind)))
        key_names = [k for k, _ in keys]
        df = frame.df.group_by(*key_names).agg(*aggs) if keys else frame.df.agg(*aggs)
        group = f" GROUP BY {', '.join(key_names)}" if keys else ""
        return Frame(df, f"SELECT {', '.join(key_names + texts)} FROM ({sql}) q{group}", list(keys) + kinds)
    if op == "join":
        ints = [c for c, k in cols if k == "int"]
        if not ints:
            return frame
        left_key = draw(st.sampled_from(ints))
        how = draw(st.sampled_from(["inner", "left", "right", "full", "semi", "anti"]))
        renamed = [(f"{c}_{n}", k) for c, k in T2_KINDS]
        right = t2.select(*[col(c).alias(r) for (c, _), (r, _) in zip(T2_KINDS, renamed)])
        right_sql = "SELECT " + ", ".join(f"{c} AS {r}" for (c, _), (r, _) in zip(T2_KINDS, renamed)) + " FROM t2"
        right_key = f"k_{n}" if draw(st.booleans()) else f"v_{n}"
        df = frame.df.join(right, col(left_key) == col(right_key), how=how)
        if how in ("semi", "anti"):
            exists = "EXISTS" if how == "semi" else "NOT EXISTS"
            text = f"SELECT * FROM ({sql}) q WHERE {exists} (SELECT 1 FROM ({right_sql}) r WHERE q.{left_key} = r.{right_key})"
            return Frame(df, text, cols)
        kind = {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL JOIN"}[how]
        text = f"SELECT * FROM ({sql}) q {kind} ({right_sql}) r ON q.{left_key} = r.{right_key}"
        return Frame(df, text, cols + renamed)
    if op == "sort_limit":
        exact = [c for c, k in cols if k != "dbl"]
        order = draw(st.permutations(exact)) + [c for c, k in cols if k == "dbl"]
        directions = [draw(st.booleans()) for _ in order]
        limit = draw(st.integers(0, 10))
        keys = [col(c).asc() if up else col(c).desc() for c, up in zip(order, directions)]
        df = frame.df.sort(*keys).limit(limit)
        text = ", ".join(f"{c} {'ASC' if up else 'DESC'} NULLS LAST" for c, up in zip(order, directions))
        return Frame(df, f"SELECT * FROM ({sql}) q ORDER BY {text} LIMIT {limit}", cols)
    if op == "distinct":
        return Frame(frame.df.distinct(), f"SELECT DISTINCT * FROM ({sql}) q", cols)
    pred, text = _condition(draw, cols)
    other_df = frame.df.filter(pred)
    other_sql = f"SELECT * FROM ({sql}) q2 WHERE {text}"
    if op == "union":
        return Frame(frame.df.union(other_df), f"(SELECT * FROM ({sql}) q) UNION ALL ({other_sql})", cols)
    kind = draw(st.sampled_from(["intersect", "except"]))
    df = frame.df.intersect(other_df) if kind == "intersect" else frame.df.except_(other_df)
    return Frame(df, f"(SELECT * FROM ({sql}) q) {kind.upper()} ({other_sql})", cols)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), tabs=tables())
def test_random_pipelines_match_duckdb(data, tabs):
    t1, t2 = tabs
    con = quarry.connect(target_partitions=2)
    con.register("t1", t1)
    con.register("t2", t2)
    frame = Frame(con.table("t1"), "SELECT * FROM t1", list(T1_KINDS))
    for n in range(data.draw(st.integers(1, 5), label="steps")):
        frame = _step(data.draw, frame, con.table("t2"), n)
    duck = duckdb.connect()
    try:
        duck.register("t1", t1)
        duck.register("t2", t2)
        expected = duck.sql(frame.sql).to_arrow_table()
    finally:
        duck.close()
    note = f"SQL: {frame.sql}\nplan:\n{frame.df.logical_plan.pretty()}"
    try:
        actual = frame.df.to_arrow()
        assert_tables_equal(actual, expected, ordered=False)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{note}") from None
