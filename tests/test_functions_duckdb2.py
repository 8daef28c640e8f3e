"""DuckDB scalar functions of issue #12's second batch, differential against DuckDB itself: for each
expression the output column name, the result type (DuckDB's Arrow type) and the values must be DuckDB's,
over a table with NULLs, over an empty table and on constants."""

from __future__ import annotations

import pyarrow as pa
import pytest

import quarry

duckdb = pytest.importorskip("duckdb")

SETUP = ("CREATE TABLE t AS SELECT * FROM (VALUES "
         "(1, DATE '2020-01-05', TIMESTAMP '2020-02-29 23:59:59.5', 3, 1.5::DOUBLE, 'abc', 12::BIGINT), "
         "(2, NULL, NULL, NULL, NULL, NULL, NULL), "
         "(3, DATE '1999-12-31', TIMESTAMP '2021-01-01 00:00:00', -2, -0.25, '', -18), "
         "(4, DATE '2024-02-01', TIMESTAMP '1969-12-31 23:59:59', 0, 1e9, 'héllo wörld', 0)) v(id, d, ts, i, x, s, n)")

EXPRESSIONS = [
    # dates
    "last_day(d)", "last_day(ts)", "dayname(d)", "monthname(ts)", "yearweek(d)", "weekday(ts)", "isoyear(d)",
    "century(d)", "millennium(ts)", "to_days(i)", "to_hours(i)", "to_minutes(n)", "to_months(i)", "to_years(i)",
    "to_seconds(x)", "to_milliseconds(x)", "to_timestamp(x)", "to_timestamp(n)", "make_timestamp(2020, 1, 1 + abs(i), 12, abs(i), 1.25)",
    "make_timestamp(n * 1000000)", "date_add(d, i)", "date_add(d, INTERVAL 1 MONTH)", "date_add(ts, INTERVAL (i) DAY)",
    "date_add(d, INTERVAL 2 HOUR)",
    # strings and binary
    "translate(s, 'lé', 'L')", "hex(s)", "bin(s)", "hex(n)", "bin(n)", "hex(i)", "hex(x)", "bin(x)", "to_hex(x * -1e12)", "unhex(hex(s))", "unhex('0' || hex(s))",
    "to_base64(encode(s))", "from_base64(to_base64(encode(s)))", "encode(s)", "decode(encode(s))", "bit_length(s)",
    "octet_length(encode(s))", "strlen(s)", "length_grapheme(s)", "length_grapheme(s || chr(769))", "unicode(s)", "ord(s)", "hamming(s || 'x', 'x' || s)", "unbin(bin(s))",
    "unbin(substr(bin(s), 3))", "from_binary(bin(n))",
    # math
    "gcd(i, n)", "lcm(i, n)", "factorial(abs(i))", "bit_count(i)", "bit_count(n)", "even(x)", "trunc(x)", "trunc(x, 1)",
    "trunc(i)", "trunc(n, -1)", "trunc(x::DECIMAL(18, 3), 1)", "signbit(x)", "nextafter(x, 0)",
    "nextafter(x::FLOAT, 0::FLOAT)",
    # range / generate_series as lists
    "range(i)", "range(i, 5)", "generate_series(i)", "generate_series(n, 0, -5)", "range(3)",
    # lists
    "list_has_any(range(i), [0, 2])", "list_has_all(range(i), [0, 2])", "list_sort(list_intersect(range(i), [0, 2, 2]))",
    "list_first(range(i))", "list_last(range(i))", "list_any_value([NULL, i])", "list_count([i, n, NULL])",
    "list_product([x, i])", "list_median([x, i, n])", "list_mode([i, n, n])", "list_string_agg([s, s])",
    # maps and structs
    "map_from_entries([{'k': coalesce(s, '?'), 'v': i}])", "struct_insert({'a': i}, b := s, c := x)",
    "list_reduce([n, i, 7], lambda acc, v: acc * 2 + v)", "list_reduce(range(i), lambda acc, v, k: acc + v * k, n)",
    "list_reduce([s, s, 'x'], lambda acc, v: v || acc)",
    # list_zip: a list of (unnamed) structs, padded with NULL or truncated; a NULL list counts as empty
    "list_zip(range(i), [s, s])", "list_zip(range(i), [s, s], true)", "list_zip(range(i), NULL, [x])",
    "list_zip([n], range(i), i > 0)", "array_zip(range(i))", "list_zip(NULL::INT[], [d])",
]


def _type(t: pa.DataType) -> pa.DataType:
    if t == pa.large_string():
        return pa.string()
    if pa.types.is_timestamp(t) and t.tz == "Etc/UTC":       # DuckDB's name of UTC
        return pa.timestamp(t.unit, tz="UTC")
    return t


def _types(table: pa.Table) -> list[pa.DataType]:
    return [_type(t) for t in table.schema.types]


@pytest.fixture(scope="module")
def engines():
    con = quarry.connect(workers=0)
    ref = duckdb.connect()
    for c in (con, ref):
        c.execute(SETUP)
        c.execute("CREATE TABLE e AS SELECT * FROM t WHERE false")
    yield con, ref
    con.close()
    ref.close()


@pytest.mark.parametrize("expr", EXPRESSIONS)
@pytest.mark.parametrize("table", ["t", "e"])
def test_like_duckdb(engines, expr, table):
    con, ref = engines
    sql = f"SELECT {expr} FROM {table} ORDER BY id"
    got, want = con.execute(sql), ref.sql(sql).to_arrow_table()
    if isinstance(want, pa.RecordBatchReader):
        want = want.read_all()
    assert got.schema.names == want.schema.names
    assert _types(got) == _types(want)
    assert got.column(0).to_pylist() == want.column(0).to_pylist()


@pytest.mark.parametrize("expr", ["jaro_similarity(a, b)", "jaro_winkler_similarity(a, b)", "jaro_similarity(a, b, 0.75)",
                                  "jaro_winkler_similarity(a, b, 0.8)", "jaro_winkler_similarity(a, b, 0.5)",
                                  "hamming(a || 'z', 'z' || a)", "translate(a, 'aé', 'E')", "unicode(a)"])
def test_random_strings_like_duckdb(expr):
    """Seeded random short strings over a small alphabet (many ties, transpositions and cutoffs at equality)."""
    import random
    rng = random.Random(7)
    alphabet = "abcé"
    pairs = [("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9))),
              "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))) for _ in range(2000)]
    table = pa.table({"id": list(range(len(pairs))), "a": [p[0] for p in pairs], "b": [p[1] for p in pairs]})
    con, ref = quarry.connect(workers=0), duckdb.connect()
    con.register("r", table)
    ref.register("r", table)
    sql = f"SELECT {expr} FROM r ORDER BY id"
    got = con.execute(sql).column(0).to_pylist()
    want = [row[0] for row in ref.execute(sql).fetchall()]
    assert got == pytest.approx(want, abs=1e-12) if isinstance(want[0], float) else got == want
