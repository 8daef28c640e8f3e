"""Every mistake a user can make ends in a QuarryError that says what, where and what to do.

Each case asserts the error class, words of the message, the hint (a "did you mean"
where a near name exists) and, for errors about the statement text, the line and
column and that ``str(err)`` shows the statement line with a caret under that column.
Errors found while running (bad data) carry no position, but still a message and hint.

No case may raise another exception type or hang: each runs under a deadline.
"""

from __future__ import annotations

import contextlib
import signal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.errors import (
    BindError, CatalogError, DataError, ExecutionError, ParseError, QuarryError, QuarryTypeError,
    UnsupportedError,
)


@contextlib.contextmanager
def deadline(seconds: int = 10):
    """Fail the test instead of hanging when the block runs longer than ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def con():
    session = quarry.connect()
    session.register("people", pa.table({
        "id": pa.array([1, 2, 3], pa.int32()),
        "name": ["ann", "bob", "x1"],
        "dept": ["eng", "eng", None],
        "hired": pa.array([18262, 18300, None], pa.date32()),
        "salary": pa.array([1, 2, 3], pa.decimal128(38, 0)),
    }))
    session.register("depts", pa.table({"dept": ["eng", "ops"], "budget": [10, 20]}))
    return session


def fail(con, sql: str, kind: type = QuarryError) -> QuarryError:
    """Run ``sql`` to the end; return the QuarryError it raised (asserting its class)."""
    with deadline():
        with pytest.raises(QuarryError) as info:
            con.sql(sql).to_arrow()
    err = info.value
    assert isinstance(err, kind), f"{type(err).__name__} is not a {kind.__name__}: {err}"
    assert str(err).strip()
    return err


def assert_caret(err: QuarryError, line: int, column: int) -> None:
    """The error points at (line, column), and its text shows that line with a caret under it."""
    assert (err.line, err.column) == (line, column), str(err)
    lines = str(err).splitlines()
    prefix = f"LINE {line}: "
    shown = next(i for i, text in enumerate(lines) if text.startswith(prefix))
    caret = lines[shown + 1]
    assert caret.strip() == "^", str(err)
    assert caret.index("^") == len(prefix) + column - 1, str(err)
    assert lines[shown] == prefix + err.sql.splitlines()[line - 1]


# ---------------------------------------------------------------------------- syntax

def test_syntax_error_caret_at_the_unexpected_token(con):
    err = fail(con, "SELECT id FROM people WHERE id = = 3", ParseError)
    assert_caret(err, 1, 34)
    assert "syntax error" in err.message
    assert err.hint == "check the SQL near `=`"


def test_syntax_error_in_a_multiline_statement(con):
    sql = "SELECT id,\n       name\nFROM people\nWHERE id = = 3"
    err = fail(con, sql, ParseError)
    assert_caret(err, 4, 12)
    assert "LINE 4: WHERE id = = 3" in str(err)


def test_misspelled_keyword_points_at_it(con):
    err = fail(con, "\n  SELEC id FROM people", ParseError)
    assert_caret(err, 2, 3)
    assert err.hint == "did you mean SELECT?"


def test_incomplete_statement(con):
    err = fail(con, "SELECT 1 +", ParseError)
    assert_caret(err, 1, 10)


@pytest.mark.parametrize("sql, says", [
    ("SELECT 1 =", "an expression is missing after `=`"),
    ("SELECT 1 +", "an expression is missing after `+`"),
    ("SELECT id FROM people WHERE", "an expression is missing after `WHERE`"),
    ("SELECT * FROM people JOIN depts ON", "a join condition is missing after `ON`"),
    ("SELECT id FROM people WHERE id IN", "IN needs a list of values or a subquery"),
])
def test_incomplete_expressions_say_what_is_missing_in_sql_words(con, sql, says):
    """#12: never sqlglot's "Required keyword: 'expression' missing for <class ...EQ>", and an ON with
    nothing after it is an error (it ran as a cross join); DuckDB rejects each of these too."""
    duckdb = pytest.importorskip("duckdb")
    ref = duckdb.connect()
    ref.execute("CREATE TABLE people AS SELECT 1 AS id, 'eng' AS dept; CREATE TABLE depts AS SELECT 'eng' AS dept")
    with pytest.raises(duckdb.Error):
        ref.execute(sql)
    err = fail(con, sql)
    assert says in err.message
    assert "sqlglot" not in str(err) and "<class" not in str(err) and "in_list" not in str(err)


def test_unterminated_string(con):
    err = fail(con, "SELECT 1,\n 'it''s' || 'open\n FROM people", ParseError)
    assert "unterminated quoted string" in err.message
    assert_caret(err, 2, 13)


def test_empty_statement(con):
    err = fail(con, "  -- nothing here\n ;", ParseError)
    assert "empty statement" in err.message and err.hint


def test_error_in_second_statement_of_a_script(con):
    err = fail(con, "SELECT 1;\nSELECT 2; SELECT nme FROM people", BindError)
    assert_caret(err, 2, 18)
    assert err.hint == "did you mean `name`?"


def test_error_inside_explain_points_into_the_explain_text(con):
    err = fail(con, "EXPLAIN SELECT idd FROM people", BindError)
    assert_caret(err, 1, 16)
    assert str(err).splitlines()[1] == "LINE 1: EXPLAIN SELECT idd FROM people"


# ---------------------------------------------------------------------------- names

def test_unknown_table_suggests_a_name(con):
    err = fail(con, "SELECT id FROM peopel", CatalogError)
    assert "`peopel` does not exist" in err.message
    assert err.hint == "did you mean `people`?"
    assert_caret(err, 1, 16)


def test_unknown_table_in_a_join_on_a_later_line(con):
    err = fail(con, "SELECT *\nFROM people p\nJOIN dept d ON p.dept = d.dept", CatalogError)
    assert err.hint == "did you mean `depts`?"
    assert_caret(err, 3, 6)


def test_unknown_column_suggests_a_name(con):
    err = fail(con, "SELECT id, nmae FROM people", BindError)
    assert "column `nmae` does not exist" in err.message
    assert err.hint == "did you mean `name`?"
    assert_caret(err, 1, 12)


def test_unknown_qualified_column_and_qualifier(con):
    err = fail(con, "SELECT p.idd FROM people p", BindError)
    assert err.hint == "did you mean `id`?"
    assert_caret(err, 1, 8)
    err = fail(con, "SELECT x.id FROM people p", BindError)
    assert "table `x` is not in the FROM clause" in err.message


def test_unknown_column_without_a_close_name_lists_the_columns(con):
    err = fail(con, "SELECT zzzzzz FROM depts", BindError)
    assert err.hint == "columns in scope: budget, dept"


def test_ambiguous_column(con):
    err = fail(con, "SELECT dept FROM people JOIN depts ON people.dept = depts.dept", BindError)
    assert "ambiguous" in err.message
    assert err.hint == "qualify it: depts.dept or people.dept"
    assert_caret(err, 1, 8)


def test_column_not_in_group_by(con):
    err = fail(con, "SELECT dept, name FROM people GROUP BY dept", BindError)
    assert "column `name` must appear in the GROUP BY clause" in err.message
    assert "any_value(name)" in err.hint
    assert_caret(err, 1, 14)


def test_aggregate_in_where(con):
    err = fail(con, "SELECT id FROM people WHERE sum(id) > 3", BindError)
    assert "aggregate function `sum` is not allowed here" in err.message
    assert "HAVING" in err.hint
    assert_caret(err, 1, 29)


def test_nested_aggregate(con):
    err = fail(con, "SELECT sum(max(id)) FROM people", BindError)
    assert "cannot be nested" in err.message and err.hint


def test_unknown_function_suggests_a_name(con):
    err = fail(con, "SELECT uper(name) FROM people", BindError)
    assert "function `uper` does not exist" in err.message
    assert err.hint == "did you mean `upper`?"
    assert_caret(err, 1, 8)


@pytest.mark.parametrize("sql, column", [
    ("SELECT split_part(name, ',') FROM people", 8),
    ("SELECT round(1, 2, 3)", 8),
    ("SELECT count(id, name) FROM people", 8),
])
def test_wrong_function_arity(con, sql, column):
    err = fail(con, sql, QuarryTypeError)
    assert "arguments, got" in err.message
    assert_caret(err, 1, column)


def test_wrong_arity_of_a_builtin_caught_by_the_parser(con):
    err = fail(con, "SELECT abs(id, 2) FROM people", ParseError)
    assert "arguments" in err.message
    assert err.line == 1


def test_window_function_without_over(con):
    err = fail(con, "SELECT row_number() FROM people", BindError)
    assert err.hint == "write row_number() OVER (ORDER BY ...)"


# ---------------------------------------------------------------------------- types

def test_string_column_plus_number(con):
    err = fail(con, "SELECT name + 1 FROM people", QuarryTypeError)
    assert "cannot apply `+` to VARCHAR and INTEGER" in err.message
    assert err.hint
    assert_caret(err, 1, 8)


def test_string_literal_that_is_no_number(con):
    err = fail(con, "SELECT 'a' + 1", QuarryTypeError)
    assert "cannot convert 'a'" in err.message
    assert_caret(err, 1, 8)


def test_compare_date_with_integer(con):
    err = fail(con, "SELECT id FROM people WHERE hired = 5", QuarryTypeError)
    assert "cannot compare DATE and INTEGER" in err.message
    assert "CAST" in err.hint
    assert_caret(err, 1, 29)
    err = fail(con, "SELECT id FROM people\nWHERE hired > id", QuarryTypeError)
    assert_caret(err, 2, 7)


def test_where_must_be_boolean(con):
    err = fail(con, "SELECT id FROM people WHERE id", BindError)
    assert "WHERE condition must be BOOLEAN" in err.message


def test_function_argument_types(con):
    err = fail(con, "SELECT upper(id) FROM people", QuarryTypeError)
    assert "expects a VARCHAR, got INTEGER" in err.message and "CAST" in err.hint
    err = fail(con, "SELECT sum(name) FROM people", QuarryTypeError)
    assert "sum() expects a number, got VARCHAR" in err.message


def test_union_of_incompatible_columns(con):
    err = fail(con, "SELECT id FROM people UNION SELECT name FROM people", BindError)
    assert "INTEGER on one side and VARCHAR on the other" in err.message
    err = fail(con, "SELECT id FROM people UNION SELECT id, name FROM people", BindError)
    assert "1 and 2 columns" in err.message


# ---------------------------------------------------------------------------- values and casts

def test_cast_of_a_bad_string_literal(con):
    err = fail(con, "SELECT CAST('abc' AS INTEGER)", QuarryTypeError)
    assert "cannot convert 'abc' to INTEGER" in err.message
    assert_caret(err, 1, 13)
    err = fail(con, "SELECT id FROM people\nWHERE hired > '2020-13-45'", QuarryTypeError)
    assert "to DATE" in err.message
    assert_caret(err, 2, 15)


def test_cast_of_a_bad_string_column_value(con):
    err = fail(con, "SELECT CAST(name AS INTEGER) FROM people", DataError)
    assert "cannot cast a string to INTEGER" in err.message
    assert "TRY_CAST" in err.hint


def test_try_cast_gives_null_instead(con):
    assert con.sql("SELECT TRY_CAST(name AS INTEGER) AS n FROM people").to_pylist() == [
        {"n": None}, {"n": None}, {"n": None}]


def test_decimal_literal_out_of_range(con):
    err = fail(con, "SELECT CAST(12345.678 AS DECIMAL(4,1))", QuarryTypeError)
    assert "out of range for DECIMAL(4,1)" in err.message
    assert_caret(err, 1, 13)


def test_decimal_overflow_while_running(con):
    err = fail(con, "SELECT salary * CAST(99999999999999999999999999999999999999 AS DECIMAL(38,0)) "
                    "FROM people", DataError)
    assert "decimal overflow" in err.message and err.hint
    err = fail(con, "SELECT CAST(salary * 1000 AS DECIMAL(3,0)) FROM people", DataError)
    assert "DECIMAL(3,0)" in err.message


def test_integer_overflow(con):
    err = fail(con, "SELECT 9223372036854775807 + id FROM people", DataError)
    assert "overflow" in err.message


def test_invalid_decimal_type(con):
    err = fail(con, "SELECT CAST(1 AS DECIMAL(50, 2))", QuarryTypeError)
    assert "invalid DECIMAL(50,2)" in err.message and "precision" in err.hint


def test_scalar_subquery_returning_two_rows(con):
    err = fail(con, "SELECT id, (SELECT id FROM people) FROM people", ExecutionError)
    assert "more than one row" in err.message
    assert "LIMIT 1" in err.hint
    err = fail(con, "SELECT id FROM people WHERE id = (SELECT id FROM people WHERE id > 1)", ExecutionError)
    assert "more than one row" in err.message


def test_scalar_subquery_with_two_columns(con):
    err = fail(con, "SELECT (SELECT id, name FROM people LIMIT 1)", BindError)
    assert "must return one column" in err.message


# ---------------------------------------------------------------------------- files

def test_missing_parquet_file(con, tmp_path):
    missing = tmp_path / "missing.parquet"
    err = fail(con, f"SELECT * FROM read_parquet('{missing}')", DataError)
    assert "does not exist" in err.message and "check the path" in err.hint
    assert_caret(err, 1, 15)
    err = fail(con, f"SELECT * FROM '{missing}'", DataError)       # a quoted path too
    assert "does not exist" in err.message
    with pytest.raises(DataError, match="does not exist"):
        con.register("m", str(missing))


def test_corrupt_parquet_file(con, tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"definitely not parquet " * 50)
    err = fail(con, f"SELECT * FROM read_parquet('{bad}')", DataError)
    assert "cannot read Parquet file" in err.message
    assert "corrupt" in err.hint
    with pytest.raises(DataError, match="cannot read Parquet file"):
        con.register("bad", str(bad))


def test_parquet_file_truncated_after_registration(con, tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": list(range(1000))}), path)
    con.register("t", str(path))
    data = path.read_bytes()
    path.write_bytes(data[:40] + data[-200:])        # footer kept, pages gone
    err = fail(con, "SELECT sum(x) FROM t", DataError)
    assert str(path) in err.message


def test_directory_with_no_files(con, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "_SUCCESS").write_text("")
    err = fail(con, f"SELECT * FROM read_parquet('{empty}')", DataError)
    assert "contains no data files" in err.message
    err = fail(con, f"CREATE TABLE e USING parquet LOCATION '{empty}'", DataError)
    assert "contains no data files" in err.message
    err = fail(con, f"SELECT * FROM read_parquet('{tmp_path}/nothing/*.parquet')", DataError)
    assert "no files match" in err.message and err.hint


def test_files_with_incompatible_schemas(con, tmp_path):
    pq.write_table(pa.table({"x": [1]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"x": ["text"]}), tmp_path / "b.parquet")
    err = fail(con, f"SELECT * FROM read_parquet('{tmp_path}/*.parquet')", DataError)
    assert "incompatible schemas" in err.message


def test_unknown_table_function(con):
    err = fail(con, "SELECT * FROM read_avro('x.avro')", UnsupportedError)
    assert "read_parquet" in err.hint


# ---------------------------------------------------------------------------- statements

def test_insert_with_the_wrong_number_of_values(con):
    con.sql("CREATE TABLE t (a INTEGER, b VARCHAR)")
    err = fail(con, "INSERT INTO t VALUES (1, 'x', 3)", BindError)
    assert "INSERT has 3 values for 2 columns" in err.message
    assert_caret(err, 1, 23)
    err = fail(con, "INSERT INTO t (a) SELECT 1, 2", BindError)
    assert "INSERT has 2 values for 1 columns" in err.message


def test_insert_into_unknown_column_or_wrong_type(con):
    con.sql("CREATE TABLE t (a INTEGER, hired DATE)")
    err = fail(con, "INSERT INTO t (a, b) VALUES (1, 2)", BindError)
    assert "no column `b`" in err.message
    err = fail(con, "INSERT INTO t (hired) VALUES (5)", QuarryTypeError)
    assert "cannot cast INTEGER to DATE" in err.message
    assert_caret(err, 1, 31)
    err = fail(con, "INSERT INTO t (hired) VALUES ('not a date')", QuarryTypeError)
    assert "to DATE" in err.message


def test_insert_null_into_not_null_column(con):
    con.sql("CREATE TABLE t (a INTEGER NOT NULL, b VARCHAR)")
    err = fail(con, "INSERT INTO t (b) VALUES ('x')", DataError)
    assert "NOT NULL" in err.message
    assert con.sql("SELECT count(*) AS n FROM t").to_pylist() == [{"n": 0}]


def test_drop_of_a_missing_table_or_view(con):
    err = fail(con, "DROP TABLE nope", CatalogError)
    assert "`nope` does not exist" in err.message
    assert_caret(err, 1, 12)
    err = fail(con, "DROP VIEW peopel", CatalogError)
    assert err.hint == "did you mean `people`?"


def test_create_existing_table(con):
    err = fail(con, "CREATE TABLE people AS SELECT 1", CatalogError)
    assert "already exists" in err.message and "OR REPLACE" in err.hint


@pytest.mark.parametrize("sql, words", [
    ("SELECT * FROM people p ASOF JOIN depts d ON p.dept = d.dept AND p.id >= d.budget", "ASOF JOIN"),
    ("WITH RECURSIVE r AS (SELECT * FROM r UNION ALL SELECT 1) SELECT * FROM r", "only the step reading"),
    ("UPDATE people SET id = 1 FROM depts", "UPDATE ... FROM"),
    ("SELECT (id, dept) < ANY (SELECT id, dept FROM depts) FROM people", "a row value compared with ANY"),
    ("SELECT dept, (SELECT max(id) FROM depts) FROM people GROUP BY dept", "of outer columns inside a subquery"),
    ("SELECT * FROM people p FULL JOIN LATERAL (SELECT d.budget FROM depts d WHERE d.dept = p.dept) l ON true",
     "FULL JOIN with a LATERAL subquery"),
    ("SELECT * FROM people p FULL JOIN depts d ON p.dept = d.dept AND "
     "EXISTS (SELECT 1 FROM depts e WHERE e.budget > d.budget AND e.dept = p.dept)",
     "ON condition of a FULL JOIN"),
    ("SELECT substring(name, id) FROM people", "non-constant positions"),
    ("SELECT id FROM people WHERE name LIKE dept", "non-constant pattern"),
])
def test_unsupported_features_say_so(con, sql, words):
    err = fail(con, sql, UnsupportedError)
    assert words in err.message, str(err)


@pytest.mark.parametrize("sql", [
    "SELECT id FROM people ORDER BY 9",
    "SELECT count(*) FROM people GROUP BY 5",
    "SELECT id FROM people LIMIT -1",
    "SELECT nope.* FROM people",
    "SELECT id FROM people HAVING id > 1",
    "SELECT id FROM people WHERE id IN (SELECT id, name FROM people)",
    "SELECT date_part('fortnight', hired) FROM people",
    "SELECT CAST(id AS SOMETYPE) FROM people",
    "SELECT id FROM people WHERE name LIKE 1",
    "SELECT CASE WHEN 1 THEN 2 END",
])
def test_other_mistakes_have_positions(con, sql):
    err = fail(con, sql)
    assert err.line == 1 and err.column is not None, str(err)
    assert "^" in str(err)


def test_an_unknown_function_is_named_as_written_not_by_sqlglots_class():
    # sqlglot parses str_to_date, make_time, time_bucket, bit_xor ... into classes whose keys
    # (strtodate, timefromparts, datebin, bitwisexoragg) are no SQL name (from_base64, bit_length
    # and generate_series, the ones this test used first, exist now)
    import quarry as _quarry
    con = _quarry.connect(workers=0)
    for sql, name in [("SELECT str_to_date('a', 'b')", "str_to_date"),
                      ("SELECT make_time(1, 2, 3)", "make_time"),
                      ("SELECT time_bucket(INTERVAL 1 DAY, TIMESTAMP '2020-01-01')", "time_bucket"),
                      ("SELECT bit_xor(1)", "bit_xor")]:
        with pytest.raises(_quarry.QuarryError) as info:
            con.sql(sql).to_arrow()
        assert f"function `{name}` does not exist" in str(info.value), str(info.value)
