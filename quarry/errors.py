"""The one error family: every failure a user can cause is a ``QuarryError``.

An error carries what went wrong, where (line and column in the statement, when
the error is about text) and what to do about it. ``str(err)`` renders all three,
with the statement line and a caret under the position::

    >>> err = BindError("column `l_quantityy` not found", sql="SELECT l_quantityy FROM t",
    ...                 line=1, column=8, hint="did you mean `l_quantity`?")
    >>> print(err)
    Binder error: column `l_quantityy` not found
    LINE 1: SELECT l_quantityy FROM t
                   ^
    HINT: did you mean `l_quantity`?
"""

from __future__ import annotations

import difflib
from typing import Iterable


class QuarryError(Exception):
    """Base class of every error quarry raises on purpose."""

    kind = "Error"

    def __init__(self, message: str, *, sql: str | None = None, line: int | None = None,
                 column: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.sql = sql
        self.line = line
        self.column = column
        self.hint = hint

    def with_position(self, sql: str | None, line: int | None, column: int | None) -> "QuarryError":
        """Attach a statement position unless the error already has one."""
        if self.line is None and line is not None:
            self.sql, self.line, self.column = sql, line, column
        elif self.sql is None:
            self.sql = sql
        return self

    def __str__(self) -> str:
        parts = [f"{self.kind}: {self.message}"]
        if self.sql and self.line is not None:
            lines = self.sql.splitlines() or [""]
            if 1 <= self.line <= len(lines):
                prefix = f"LINE {self.line}: "
                parts.append(prefix + lines[self.line - 1])
                if self.column is not None:
                    parts.append(" " * (len(prefix) + max(self.column - 1, 0)) + "^")
        if self.hint:
            parts.append(f"HINT: {self.hint}")
        return "\n".join(parts)


class ParseError(QuarryError):
    """The statement is not valid SQL (or DSL)."""

    kind = "Parser error"


class BindError(QuarryError):
    """A name does not resolve: unknown table, column or function, or an ambiguous name."""

    kind = "Binder error"


class CatalogError(BindError):
    """A table or view is missing, or already exists."""

    kind = "Catalog error"


class QuarryTypeError(QuarryError):
    """Operand types do not fit the operation."""

    kind = "Type error"


class UnsupportedError(QuarryError):
    """Valid SQL that quarry does not implement yet."""

    kind = "Not supported"


class PlanError(QuarryError):
    """An internal invariant of planning broke (an optimizer rule changed a schema, ...)."""

    kind = "Planner error"


class DataError(QuarryError):
    """A data file is missing, unreadable or corrupt, or a value does not fit its type."""

    kind = "Data error"


class ExecutionError(QuarryError):
    """A query failed while running."""

    kind = "Execution error"


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """Return a 'did you mean' hint for ``name`` among ``candidates``, or None.

    >>> suggest("l_quantityy", ["l_quantity", "l_tax"])
    'did you mean `l_quantity`?'
    """
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return f"did you mean `{lowered[name.lower()]}`?"
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return f"did you mean `{lowered[close[0]]}`?"
    return None
