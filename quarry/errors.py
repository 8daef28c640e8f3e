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
import errno
from typing import Iterable


class QuarryError(Exception):
    """Base class of every error quarry raises on purpose."""

    kind = "Error"

    def __init__(self, message: str, *, sql: str | None = None, line: int | None = None,
                 column: int | None = None, hint: str | None = None, subject: str | None = None):
        super().__init__(message)
        self.message = message
        self.sql = sql
        self.line = line
        self.column = column
        self.hint = hint
        # the name (column, table, function) the error is about, so a front end can point at it
        # in its own text without reading the message
        self.subject = subject
        # the API method or DSL verb the error happened in, which prefixes the message
        self.operation: str | None = None
        self._detail = message

    @property
    def detail(self) -> str:
        """The message without the operation prefix (``column `x` does not exist``)."""
        return self._detail

    def reword(self, message: str | None = None, hint: str | None = None) -> "QuarryError":
        """Say the same error in a front end's words: a new message (kept under the operation prefix)
        and/or hint. ``err.reword(hint="add `x` to group_by(...)")``."""
        if message is not None:
            self._detail = message
            self._render()
        if hint is not None:
            self.hint = hint
        return self

    def in_operation(self, name: str) -> "QuarryError":
        """Name the API method or DSL verb the error happened in: the message becomes
        ``name: detail``. Naming another operation replaces the previous one."""
        self.operation = name
        self._render()
        return self

    def _render(self) -> None:
        self.message = f"{self.operation}: {self._detail}" if self.operation else self._detail
        self.args = (self.message,)

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


class UnknownColumnError(BindError):
    """A column name does not resolve; ``name`` (and ``qualifier``) say which."""

    def __init__(self, name: str, qualifier: str | None = None, *, hint: str | None = None):
        full = f"{qualifier}.{name}" if qualifier else name
        super().__init__(f"column `{full}` does not exist", hint=hint, subject=name)
        self.name = name
        self.qualifier = qualifier


class UnknownFunctionError(BindError):
    """A function name does not resolve; ``name`` says which."""

    def __init__(self, name: str, *, hint: str | None = None):
        super().__init__(f"function `{name}` does not exist", hint=hint, subject=name)
        self.name = name


class AmbiguousColumnError(BindError):
    """An unqualified name matches columns of several inputs; ``qualifiers`` are theirs (None: unnamed)."""

    def __init__(self, name: str, qualifiers: list[str | None]):
        shown = sorted({q or "?" for q in qualifiers})
        super().__init__(f"column reference `{name}` is ambiguous",
                         hint="qualify it: " + " or ".join(f"{q}.{name}" for q in shown), subject=name)
        self.name = name
        self.qualifiers = list(qualifiers)


class MisplacedAggregateError(BindError):
    """An aggregate function where none may be (WHERE, GROUP BY, a join condition, ``filter``, ...).

    ``place`` completes the message: ``here``, ``in filter``.
    """

    def __init__(self, function: str, place: str = "here"):
        super().__init__(f"aggregate function `{function}` is not allowed {place}",
                         hint="aggregates belong in SELECT, HAVING or ORDER BY; filter groups with HAVING",
                         subject=function)
        self.function = function
        self.place = place


class NestedAggregateError(BindError):
    """An aggregate inside the arguments of another aggregate (``sum(sum(x))`` without a window)."""

    def __init__(self, function: str):
        super().__init__("aggregate function calls cannot be nested",
                         hint="compute the inner aggregate in a subquery", subject=function)
        self.function = function


class MisplacedWindowError(BindError):
    """A window function where none may be (WHERE, GROUP BY, HAVING, ``filter``, ...)."""

    def __init__(self, place: str = "here"):
        super().__init__(f"window functions are not allowed {place}",
                         hint="window functions belong in SELECT or ORDER BY; "
                              "filter their result in an outer query")
        self.place = place


class NotGroupedError(BindError):
    """A column (``name``) of an aggregating query that is neither a grouping key nor inside an aggregate."""

    def __init__(self, name: str):
        super().__init__(f"column `{name}` must appear in the GROUP BY clause or be used in an aggregate "
                         "function", hint=f"add `{name}` to GROUP BY, or wrap it: any_value({name})",
                         subject=name)
        self.name = name


class UnknownSchemaError(BindError):
    """A qualified table name whose schema (``name``) does not exist: quarry has one, ``main``."""

    def __init__(self, name: str):
        super().__init__(f"schema `{name}` does not exist", hint="quarry has one schema, `main`", subject=name)
        self.name = name


class CatalogError(BindError):
    """A table or view is missing, or already exists."""

    kind = "Catalog error"


class UnknownTableError(CatalogError):
    """No table or view has this ``name``."""

    def __init__(self, name: str, *, hint: str | None = None):
        super().__init__(f"table `{name}` does not exist", hint=hint, subject=name)
        self.name = name


class QuarryTypeError(QuarryError):
    """Operand types do not fit the operation."""

    kind = "Type error"


class NotBooleanError(BindError, QuarryTypeError):
    """A condition (WHERE, HAVING, a join's ON, ``filter``) that is not BOOLEAN.

    ``what`` names the condition (``WHERE condition``); ``type_name`` is the SQL type it has.
    Both a binding and a type error: it is caught as either.
    """

    kind = "Type error"

    def __init__(self, what: str, type_name: str):
        super().__init__(f"{what} must be BOOLEAN, got {type_name}", hint="compare the value, e.g. `x <> 0`")
        self.what = what
        self.type_name = type_name


class SetOperationError(BindError):
    """The inputs of UNION / INTERSECT / EXCEPT do not line up: ``widths`` (column counts) differ,
    or the column ``name`` has types that have no common type."""

    def __init__(self, message: str, *, hint: str, widths: tuple[int, int] | None = None,
                 name: str | None = None):
        super().__init__(message, hint=hint, subject=name)
        self.widths = widths
        self.name = name


class UnsupportedError(QuarryError):
    """Valid SQL that quarry does not implement yet."""

    kind = "Not supported"


class PlanError(QuarryError):
    """An internal invariant of planning broke (an optimizer rule changed a schema, ...)."""

    kind = "Planner error"


class DataError(QuarryError):
    """A data file is missing, unreadable or corrupt, or a value does not fit its type."""

    kind = "Data error"


class ArithmeticError_(DataError):
    """Arithmetic went out of its type's domain (base of the two below, which front ends tell apart)."""


class DivideByZeroError(ArithmeticError_):
    """A division or remainder by zero where the dialect raises (Spark's ANSI mode)."""


class ArithmeticOverflowError(ArithmeticError_):
    """An integer result does not fit its type where the dialect raises (Spark's ANSI mode)."""


class CastOverflowError(ArithmeticOverflowError):
    """A number does not fit the type it is cast to (``CAST(300 AS TINYINT)``) where the dialect raises."""


class InvalidCastError(DataError):
    """A value cannot be cast to the target type (``CAST('a' AS INT)``) where the dialect raises."""


class AccessDeniedError(QuarryError):
    """The caller may not do this: a file outside the allowed directories, a write with writing off,
    or a statement its role does not allow (a server reports it as PERMISSION_DENIED)."""

    kind = "Access error"


class ExecutionError(QuarryError):
    """A query failed while running."""

    kind = "Execution error"


class UDFError(ExecutionError):
    """A Python UDF failed: it raised, returned the wrong length or type, or cannot be shipped to the workers.

    The message names the UDF (``subject``) and, where known, the output column; for an exception
    raised inside the UDF it ends with the user's own frames of the traceback."""

    kind = "UDF error"


def disk_full(exc: BaseException) -> ExecutionError | None:
    """The error to raise for ``exc`` if it says a disk is full (a shuffle or spill file did not fit), else None."""
    if isinstance(exc, OSError) and (getattr(exc, "errno", None) == errno.ENOSPC
                                     or "No space left on device" in str(exc)):
        return ExecutionError("no space left on the disk of the spill directory (shuffle and spill files)",
                              hint="free space there, or point spill_dir at a bigger disk: "
                                   "quarry.connect(spill_dir='/big/disk/tmp')")
    return None


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
