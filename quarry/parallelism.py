"""Whether Arrow's own thread pool may run the kernels of the current query.

Arrow parallelizes Parquet decoding, grouping and joins internally. That is
what a query wants when it runs alone, but not with ``workers=0`` (the serial
baseline: one partition, one thread) nor in a worker process that shares the
cores with its siblings (there the pool is sized to the worker's share
instead). Call sites read :func:`arrow_threads` rather than a constant; the
executor sets it per query with :func:`use_arrow_threads`. It is a context
variable, so concurrent queries of different sessions do not disturb each other.

    >>> with use_arrow_threads(False):
    ...     arrow_threads()
    False
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

_ARROW_THREADS = contextvars.ContextVar("quarry_arrow_threads", default=True)


def arrow_threads() -> bool:
    """The ``use_threads`` argument for Arrow calls of the running query."""
    return _ARROW_THREADS.get()


@contextmanager
def use_arrow_threads(enabled: bool):
    token = _ARROW_THREADS.set(bool(enabled))
    try:
        yield
    finally:
        _ARROW_THREADS.reset(token)
