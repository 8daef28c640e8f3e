"""Cut shell input into pieces: SQL statements, dot commands and DSL pipelines.

One scanner serves both the prompt (is the buffer a finished statement, so Enter
runs it?) and scripts (``quarry file.sql``, ``.read``, piped stdin), and it is the
session's own (:mod:`quarry.sql.lexer`), so the shell, ``Session.sql`` and the
parser agree on quotes, comments and where a statement ends:

* SQL ends at a ``;`` outside quotes and ``--`` / ``/* */`` comments;
* a dot command is one line starting with ``.`` where a statement could start;
* a DSL pipeline starts with lowercase ``from `` and ends at such a ``;`` or at a
  blank line (the shell runs it as SQL when it is FROM-first SQL, see
  :meth:`quarry.cli.shell.Shell.run_from`).

    >>> [p.text for p in split_script("SELECT ';'; .tables\\nSELECT 2")[0]]
    ["SELECT ';'", '.tables', 'SELECT 2']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quarry.sql.lexer import find_end, skip_trivia

_DSL_START = re.compile(r"from\s")
_EXIT_WORDS = ("exit", "quit", "\\q")


@dataclass(frozen=True)
class Piece:
    """One unit of input: ``kind`` is ``"sql"``, ``"dot"`` or ``"dsl"``; ``text`` has no ``;``."""

    kind: str
    text: str


def split_script(text: str, final: bool = True) -> tuple[list[Piece], str]:
    """Split ``text`` into pieces; return them and the unfinished rest.

    With ``final`` (a whole script) an unterminated last statement is a piece too and
    the rest is empty; without it (the prompt buffer) it is returned as the rest.
    """
    pieces: list[Piece] = []
    i, n = 0, len(text)
    while True:
        i = skip_trivia(text, i)
        if i >= n:
            return pieces, ""
        if text[i] == ".":
            end = text.find("\n", i)
            end = n if end == -1 else end
            pieces.append(Piece("dot", text[i:end].strip()))
            i = end
            continue
        kind = "dsl" if _DSL_START.match(text, i) else "sql"
        cut = find_end(text, i, blank_line_ends=kind == "dsl")
        if not cut.terminated and not final:
            return pieces, text[i:]
        if cut.end > i:                       # `;;` is an empty statement: nothing to run
            pieces.append(Piece(kind, text[i:cut.end].strip()))
        if not cut.terminated:
            return pieces, ""
        i = cut.end + 1


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
