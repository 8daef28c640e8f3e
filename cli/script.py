"""Cut shell input into pieces: SQL statements, dot commands and DSL pipelines.

One scanner serves both the prompt (is the buffer a finished statement, so Enter
runs it?) and scripts (``quarry file.sql``, ``.read``, piped stdin), so both agree
on where a statement ends:

* SQL ends at a ``;`` outside quotes and ``--`` / ``/* */`` comments;
* a dot command is one line starting with ``.`` where a statement could start;
* a DSL pipeline starts with lowercase ``from `` and ends at ``;`` or a blank line.

    >>> [p.text for p in split_script("SELECT ';'; .tables\\nSELECT 2")[0]]
    ["SELECT ';'", '.tables', 'SELECT 2']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DSL_START = re.compile(r"from\s")
_EXIT_WORDS = ("exit", "quit", "\\q")


@dataclass(frozen=True)
class Piece:
    """One unit of input: ``kind`` is ``"sql"``, ``"dot"`` or ``"dsl"``; ``text`` has no ``;``."""

    kind: str
    text: str


def _skip_space_and_comments(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
        else:
            break
    return i


def _find_semicolon(text: str, i: int, comments: bool = True) -> int:
    """Index of the first ``;`` at or after ``i`` outside quotes (and comments), or -1."""
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in ("'", '"', "`"):
            end = text.find(ch, i + 1)          # a doubled quote '' reopens at once: same result
            if end == -1:
                return -1
            i = end + 1
            continue
        if comments and text.startswith("--", i):
            end = text.find("\n", i)
            if end == -1:
                return -1
            i = end + 1
            continue
        if comments and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                return -1
            i = end + 2
            continue
        if ch == ";":
            return i
        i += 1
    return -1


def _dsl_end(text: str, i: int) -> tuple[int, int]:
    """(end of the pipeline text, where the next piece starts) for a DSL pipeline at ``i``.

    Returns (-1, -1) when it is not finished: no ``;`` and no blank line yet.
    """
    semicolon = _find_semicolon(text, i, comments=False)
    blank = re.compile(r"\n[ \t]*(\n|$)").search(text, i)
    if blank and (semicolon == -1 or blank.start() < semicolon):
        return blank.start(), blank.end()
    if semicolon != -1:
        return semicolon, semicolon + 1
    return -1, -1


def split_script(text: str, final: bool = True) -> tuple[list[Piece], str]:
    """Split ``text`` into pieces; return them and the unfinished rest.

    With ``final`` (a whole script) an unterminated last statement is a piece too and
    the rest is empty; without it (the prompt buffer) it is returned as the rest.
    """
    pieces: list[Piece] = []
    i, n = 0, len(text)
    while True:
        i = _skip_space_and_comments(text, i)
        if i >= n:
            return pieces, ""
        if text[i] == ".":
            end = text.find("\n", i)
            end = n if end == -1 else end
            pieces.append(Piece("dot", text[i:end].strip()))
            i = end
            continue
        if _DSL_START.match(text, i):
            end, resume = _dsl_end(text, i)
            if end == -1:
                if not final:
                    return pieces, text[i:]
                end = resume = n
            pieces.append(Piece("dsl", text[i:end].strip()))
            i = resume
            continue
        end = _find_semicolon(text, i)
        if end == -1:
            if not final:
                return pieces, text[i:]
            pieces.append(Piece("sql", text[i:].strip()))
            return pieces, ""
        pieces.append(Piece("sql", text[i:end].strip()))
        i = end + 1


def is_complete(text: str) -> bool:
    """Whether pressing Enter on this prompt buffer should run it (rather than add a line).

    >>> is_complete("SELECT 1"), is_complete("SELECT 1;"), is_complete(".tables"), is_complete("")
    (False, True, True, True)
    """
    if text.strip().lower() in _EXIT_WORDS:
        return True
    _, rest = split_script(text, final=False)
    return not rest.strip()


def is_exit_word(text: str) -> bool:
    """``exit``, ``quit`` or ``\\q`` typed alone, as people do in other SQL shells."""
    return text.strip().rstrip(";").strip().lower() in _EXIT_WORDS
