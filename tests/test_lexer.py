"""The one statement splitter: ``Session.sql`` and the shell cut scripts where DuckDB does.

DuckDB's own ``extract_statements`` is the oracle for where statements end; the shell's
``split_script`` and ``is_complete`` and the session's ``split_statements`` must agree
with it (and with each other) on quotes, escapes, dollar strings and nested comments.
"""

from __future__ import annotations

import re

import pytest

import quarry
from quarry.cli.script import Piece, is_complete, split_script
from quarry.errors import ParseError, QuarryError
from quarry.sql.lexer import code_only, find_end, quote_identifier, split_statements, unterminated_quote

duckdb = pytest.importorskip("duckdb")

SCRIPTS = [
    "SELECT 1; SELECT 2",
    "SELECT ';' AS a; SELECT 'it''s;' AS b",
    "SELECT E'it\\'s; fine' AS a; SELECT 2",
    "SELECT $$a;b$$ AS a; SELECT $tag$ $$;$$ $tag$ AS b",
    "SELECT 1 /* a /* nested ; */ still comment ; */ AS a; SELECT 2",
    'SELECT 1 AS "a;b"; SELECT 2 AS """;"""',
    "SELECT 1; -- a comment; with a semicolon\nSELECT 2;",
    "SELECT 'a\\'; SELECT 2",                 # a backslash is a plain character in a plain string
    "SELECT 1;;  ; SELECT 2;",
]


def _oracle(script: str) -> list[str]:
    """DuckDB's statements, without the `;` (DuckDB keeps `;;` on a statement)."""
    return [s.query.strip().rstrip("; ").strip() for s in duckdb.extract_statements(script)]


@pytest.mark.parametrize("script", SCRIPTS)
def test_statements_end_where_duckdb_ends_them(script):
    expected = _oracle(script)
    assert [piece.strip() for _, piece in split_statements(script)] == expected
    pieces, rest = split_script(script)
    # the shell's pieces start after leading comments
    assert rest == "" and [p.text for p in pieces] == [re.sub(r"^(--[^\n]*\n)+", "", e) for e in expected]
    assert all(p.kind == "sql" for p in pieces)


@pytest.mark.parametrize("script", [s for s in SCRIPTS if "$" not in s and "E'" not in s and "'a\\'" not in s])
def test_every_statement_runs_as_duckdb_runs_it(script):
    # the text that splits the same also means the same: each piece gives DuckDB's answer
    # (quarry does not bind $$ and E'' literals yet, nor a string ending in a backslash)
    con = quarry.connect(workers=0)
    for (_, piece), expected in zip(split_statements(script), _oracle(script)):
        got = con.execute(piece).to_pylist()
        assert [tuple(r.values()) for r in got] == duckdb.sql(expected).fetchall()


@pytest.mark.parametrize("text, complete", [
    ("SELECT 'a;", False),                 # inside a string: Enter adds a line
    ("SELECT $$a;", False),
    ("SELECT E'it\\'s;", False),
    ("SELECT 1 /* a /* b */ ; ", False),   # still inside the outer comment
    ("SELECT 1 /* a /* b */ */;", True),
    ('SELECT 1 AS "x;', False),
    ("SELECT $1;", True),                  # a parameter, not a dollar string
])
def test_prompt_knows_when_a_statement_is_finished(text, complete):
    assert is_complete(text) is complete


def test_dsl_pipelines_end_at_a_semicolon_or_blank_line_outside_quotes():
    pieces, rest = split_script("from t\n| filter s = ';'\n| take 1\n\nSELECT 2;")
    assert pieces == [Piece("dsl", "from t\n| filter s = ';'\n| take 1"), Piece("sql", "SELECT 2")]
    # a blank line inside a quoted string does not end the pipeline
    text = "from t\n| filter s = 'a\n\nb'\n| take 1;"
    assert split_script(text)[0] == [Piece("dsl", text[:-1])]
    assert find_end(text, 0, blank_line_ends=True).end == len(text) - 1


def test_unterminated_quote_and_code_only():
    assert unterminated_quote("SELECT 'a' || 'b") == 14
    assert unterminated_quote("SELECT $$ab") == 7
    assert unterminated_quote("SELECT 'a'; SELECT \"b") == 19
    assert unterminated_quote("SELECT 1 -- it's") is None
    assert code_only("x | '|' /* | */ -- |") .count("|") == 1


def test_unterminated_string_error_points_into_the_whole_script():
    con = quarry.connect(workers=0)
    with pytest.raises(ParseError) as info:
        con.sql("SELECT 1;\nSELECT 2, 'abc")
    assert "unterminated quoted string" in info.value.message
    assert (info.value.line, info.value.column) == (2, 11)


def test_error_after_a_quoted_semicolon_keeps_its_position():
    con = quarry.connect(workers=0)
    with pytest.raises(QuarryError) as info:
        con.sql("SELECT ';' AS x /* ; */;\nSELECT \"a;\" FROM (SELECT 1 AS yes)")
    assert (info.value.line, info.value.column) == (2, 8)
    assert "LINE 2: SELECT \"a;\" FROM" in str(info.value)


@pytest.mark.parametrize("name, text", [
    ("l_price", "l_price"), ("unit price", '"unit price"'), ("order", '"order"'), ("2024", '"2024"'),
    ('say "hi"', '"say ""hi"""'), ("Ünïcode", '"Ünïcode"'),
])
def test_quote_identifier_reads_back_as_the_same_name(name, text):
    assert quote_identifier(name) == text
    assert duckdb.sql(f"SELECT 1 AS {text}").columns == [name]
