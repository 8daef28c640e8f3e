"""Where statements end: the one scanner of quotes, comments and semicolons.

``Session.sql`` splits scripts with it, and the shell uses it to know whether a typed
statement is finished, to cut scripts into statements, dot commands and DSL pipelines,
and to end a pipeline. The rules are those of the DuckDB dialect, as sqlglot's DuckDB
tokenizer reads them, so a ``;`` the splitter skips is one the parser skips too:

* ``'...'`` is a string; ``''`` inside it is a quote. ``E'...'`` also takes backslash
  escapes (``E'it\\'s'``);
* ``"..."`` is an identifier; ``""`` inside it is a quote;
* ``$$...$$`` and ``$tag$...$tag$`` are dollar-quoted strings (``$1`` is a parameter);
* ``--`` starts a comment to the end of the line; ``/* ... */`` comments nest;
* a ``;`` outside all of these ends a statement.

    >>> split_statements("SELECT ';'; -- one; two\\nSELECT 2")
    [(0, "SELECT ';'"), (11, ' -- one; two\\nSELECT 2')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_BLANK_LINE = re.compile(r"\n[ \t\r]*(?=\n|$)")


@dataclass(frozen=True)
class Cut:
    """Where the statement starting at some offset ends.

    ``end`` is the offset of the ``;`` (or blank line) that ends it, or ``len(text)``;
    ``terminated`` says whether one did; ``unclosed`` is the offset of a quote or
    comment that is never closed (the statement cannot be finished yet), else None.
    """

    end: int
    terminated: bool
    unclosed: int | None = None


def _skip_quoted(text: str, i: int) -> int:
    """The offset after the quoted token (string, identifier, dollar string) opening at ``i``;
    -1 if it is never closed. ``text[i]`` must open one (see :func:`_opens_quote`)."""
    n = len(text)
    ch = text[i]
    if ch == "$":
        m = _DOLLAR_TAG.match(text, i)
        close = text.find(m.group(0), m.end())
        return -1 if close == -1 else close + len(m.group(0))
    backslash = ch == "'" and i > 0 and text[i - 1] in "eE" and not _word_char(text, i - 2)
    j = i + 1
    while j < n:
        c = text[j]
        if backslash and c == "\\":
            j += 2
            continue
        if c == ch:
            if text.startswith(ch, j + 1):      # a doubled quote stands for one
                j += 2
                continue
            return j + 1
        j += 1
    return -1


def _word_char(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] in "_$")


def _opens_quote(text: str, i: int) -> bool:
    ch = text[i]
    if ch in ("'", '"'):
        return True
    # `$tag$` opens a dollar string unless it continues a word (`a$b$`); `$1` is a parameter
    return ch == "$" and not _word_char(text, i - 1) and _DOLLAR_TAG.match(text, i) is not None


def _skip_block_comment(text: str, i: int) -> int:
    """The offset after the (nested) ``/* */`` comment opening at ``i``; -1 if never closed."""
    depth, j, n = 0, i, len(text)
    while j < n:
        if text.startswith("/*", j):
            depth += 1
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    return -1


def skip_trivia(text: str, i: int = 0) -> int:
    """The offset of the first character at or after ``i`` that is not whitespace or a comment
    (``len(text)`` if there is none, or if a comment there is never closed)."""
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
        elif text.startswith("/*", i):
            end = _skip_block_comment(text, i)
            i = n if end == -1 else end
        else:
            break
    return i


def find_end(text: str, start: int = 0, *, blank_line_ends: bool = False) -> Cut:
    """Where the statement starting at ``start`` ends: at a ``;`` outside quotes and comments
    (and, with ``blank_line_ends``, at an empty line outside them, as a DSL pipeline does).

    >>> find_end("SELECT 'a;b'; SELECT 2")
    Cut(end=12, terminated=True, unclosed=None)
    >>> find_end("SELECT 'a;b").unclosed
    7
    """
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if ch == ";":
            return Cut(i, True)
        if blank_line_ends and ch == "\n":
            m = _BLANK_LINE.match(text, i)
            if m is not None:
                return Cut(i, True)
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
        elif text.startswith("/*", i):
            end = _skip_block_comment(text, i)
            if end == -1:
                return Cut(n, False, i)
            i = end
        elif _opens_quote(text, i):
            end = _skip_quoted(text, i)
            if end == -1:
                return Cut(n, False, i)
            i = end
        else:
            i += 1
    return Cut(n, False)


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split a script at semicolons outside quotes and comments: ``(offset, text)`` per statement.

    Pieces holding only whitespace and comments are dropped.

    >>> split_statements("SELECT 1; SELECT ';'")
    [(0, 'SELECT 1'), (9, " SELECT ';'")]
    """
    spans, start, n = [], 0, len(text)
    while start <= n:
        cut = find_end(text, start)
        piece = text[start:cut.end]
        if skip_trivia(piece) < len(piece):
            spans.append((start, piece))
        if not cut.terminated:
            break
        start = cut.end + 1
    return spans



def unterminated_quote(text: str) -> int | None:
    """Offset of a quote (or ``/*``) never closed, outside comments and other quotes, or None.

    >>> unterminated_quote("SELECT 'ab' || 'c")
    15
    """
    start = 0
    while True:
        cut = find_end(text, start)
        if cut.unclosed is not None or not cut.terminated:
            return cut.unclosed
        start = cut.end + 1


def code_only(text: str) -> str:
    """``text`` with quoted strings, quoted names and comments blanked (newlines kept), so an
    operator can be looked for in the code alone.

    >>> code_only("a || '|' -- b | c")
    'a ||             '
    """
    out, i, n = [], 0, len(text)

    def blank(a: int, b: int) -> None:
        out.append(re.sub(r"[^\n]", " ", text[a:b]))

    while i < n:
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
        elif text.startswith("/*", i):
            end = _skip_block_comment(text, i)
        elif _opens_quote(text, i):
            end = _skip_quoted(text, i)
        else:
            out.append(text[i])
            i += 1
            continue
        end = n if end == -1 else end
        blank(i, end)
        i = end
    return "".join(out)


def quote_identifier(name: str) -> str:
    """``name`` as SQL text: bare when it is a plain identifier, else in double quotes
    (spaces, punctuation, a leading digit, a reserved word such as ``order``).

    >>> quote_identifier("l_price"), quote_identifier("unit price"), quote_identifier("select")
    ('l_price', '"unit price"', '"select"')
    """
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and not _is_keyword(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _is_keyword(word: str) -> bool:
    # the words sqlglot's DuckDB generator quotes (a superset of DuckDB's reserved words)
    from sqlglot.dialects.duckdb import DuckDB
    return word.lower() in DuckDB.Generator.RESERVED_KEYWORDS


__all__ = ["Cut", "code_only", "find_end", "quote_identifier", "skip_trivia", "split_statements", "unterminated_quote"]
