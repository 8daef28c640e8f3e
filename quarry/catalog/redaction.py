"""File contents stay out of the errors a restricted session (a server's client) sees.

While a server session runs a statement (:func:`redacting`), readers that would quote the
file they failed on (pyarrow's CSV reader quotes the offending row or value) shorten their
messages with :func:`csv_error_text`, so an error cannot be used to read a file line by line.
"""

from __future__ import annotations

import contextlib
import contextvars
import re

# set while a restricted session runs a statement: readers then keep file contents out of errors
_REDACTING: contextvars.ContextVar[bool] = contextvars.ContextVar("quarry_redact_file_contents", default=False)


@contextlib.contextmanager
def redacting(on: bool = True):
    """Within this block (a restricted session's statement), readers leave file contents out of
    their error messages."""
    token = _REDACTING.set(on)
    try:
        yield
    finally:
        _REDACTING.reset(token)


def redacted() -> bool:
    """Whether errors must not quote file contents now (see :func:`redacting`)."""
    return _REDACTING.get()


# pyarrow quotes the offending row or value at the end of its CSV errors
_CSV_QUOTES = (re.compile(r"(Expected \d+ columns?, got \d+)\s*:.*", re.S),
               re.compile(r"(conversion error to [\w\[\], ()]+?)\s*: invalid value .*", re.S))


def csv_error_text(message: str) -> str:
    """pyarrow's CSV error ``message`` without the row or value it quotes from the file.

    >>> csv_error_text("CSV parse error: Expected 2 columns, got 3: root,x,0")
    'CSV parse error: Expected 2 columns, got 3 (row contents not shown)'
    """
    for pattern in _CSV_QUOTES:
        shortened, found = pattern.subn(r"\1 (row contents not shown)", message)
        if found:
            return shortened
    # an error we do not know the shape of: keep its first clause only
    return message.split(":", 1)[0] + " (details not shown)"


__all__ = ["redacting", "redacted", "csv_error_text"]
