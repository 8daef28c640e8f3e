"""Turn quarry's errors into Flight statuses the client can act on, never into Python tracebacks.

================================  ======================  ==========================================
raised in a handler               gRPC status             message the client sees
================================  ======================  ==========================================
ParseError, BindError, ...        INVALID_ARGUMENT        ``str(err)`` (kind, caret, hint)
Unknown{Table,Schema}Error        NOT_FOUND               ``str(err)`` (a missing table or schema)
unknown handle / expired          NOT_FOUND               what is missing and why
"query cancelled"                 CANCELLED               ``str(err)``
AccessDeniedError                 PERMISSION_DENIED       ``str(err)`` (a file or a role's limit)
UnsupportedError, unknown command UNIMPLEMENTED           ``str(err)``
bad credentials / token           UNAUTHENTICATED         the reason
anything else (a bug)             INTERNAL                a one-line summary; the traceback is logged
================================  ======================  ==========================================

Why the odd exception classes: pyarrow turns a ``FlightError`` subclass into a
clean status, but offers none for INVALID_ARGUMENT, NOT_FOUND or UNIMPLEMENTED;
those come only from plain Python exceptions (``ValueError``, ``KeyError``,
``NotImplementedError``), and for those pyarrow appends ``traceback.format_exception``
of the exception to the message. :class:`_Clean` makes that formatting fail on
purpose (its ``__cause__`` cannot be read), so pyarrow falls back to appending only
the class name: the client sees ``<quarry's message>. Detail: Python exception:
InvalidArgument`` and no server internals.
"""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.flight as flight

from quarry.errors import AccessDeniedError, QuarryError, UnknownSchemaError, UnknownTableError, UnsupportedError
from quarry.server.flight_sql.protocol import ProtocolError

log = logging.getLogger("quarry.server")


class _Clean(Exception):
    """An exception pyarrow reports by message and class name only (see the module docstring)."""

    @property
    def __cause__(self):
        raise AttributeError("hidden from traceback formatting")

    @__cause__.setter
    def __cause__(self, value):
        pass

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidArgument(_Clean, ValueError):
    """Reaches the client as INVALID_ARGUMENT."""


class NotFound(_Clean, KeyError):
    """Reaches the client as NOT_FOUND."""


class Unimplemented(_Clean, NotImplementedError):
    """Reaches the client as UNIMPLEMENTED."""


def is_cancellation(err: BaseException) -> bool:
    return isinstance(err, QuarryError) and err.message == "query cancelled"


def is_missing_table(err: BaseException) -> bool:
    """Whether ``err`` says a table, view or schema does not exist (NOT_FOUND rather than INVALID_ARGUMENT).

    Decided by the error's class, never its text: the shell rewords a missing table's hint, and
    a variable that holds no table is an UnknownTableError with its own hint.
    """
    return isinstance(err, (UnknownTableError, UnknownSchemaError))


def to_flight_error(err: BaseException) -> BaseException:
    """The exception to raise from a Flight handler for ``err`` (see the module table)."""
    if isinstance(err, (flight.FlightError, _Clean)):
        return err
    if isinstance(err, QuarryError):
        if is_cancellation(err):
            return flight.FlightCancelledError(str(err))
        if isinstance(err, AccessDeniedError):
            return flight.FlightUnauthorizedError(str(err))
        if is_missing_table(err):
            return NotFound(str(err))
        if isinstance(err, UnsupportedError):
            return Unimplemented(str(err))
        return InvalidArgument(str(err))
    if isinstance(err, ProtocolError):
        return InvalidArgument(f"Protocol error: {err}")
    if isinstance(err, (pa.ArrowInvalid, pa.ArrowTypeError)):
        return InvalidArgument(f"Data error: {err}")
    log.exception("internal error in the Flight SQL server", exc_info=err)
    return flight.FlightInternalError(f"internal error: {type(err).__name__}: {err}")


class translate_errors:
    """Context manager: re-raise anything escaping a handler as the right Flight error.

    >>> with translate_errors():                    # doctest: +SKIP
    ...     session.sql(text)
    """

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        mapped = to_flight_error(exc)
        if mapped is exc:
            return False
        # `from None`: the original stays out of the chain pyarrow would format
        raise mapped from None


__all__ = ["InvalidArgument", "NotFound", "Unimplemented", "to_flight_error", "translate_errors",
           "is_cancellation"]
