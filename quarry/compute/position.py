"""Where the batch being evaluated sits in its partition: the partition's index and the rows before it.

Spark's ``monotonically_increasing_id`` (``partition << 33`` plus the row's index in its partition),
``spark_partition_id`` and the per-partition random sequences of ``rand(seed)`` depend on it. The
operators that evaluate a select list or a filter (``ProjectExec``, ``FilterExec``) set it around each
batch; elsewhere (constant folding, a plan run outside them) it is partition 0 from row 0.

``state`` is the partition's own dictionary for generators that continue from batch to batch (a
random sequence keyed by its expression), living as long as the operator's pass over the partition.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

__all__ = ["BatchPosition", "at_position", "current_position"]


@dataclass
class BatchPosition:
    partition: int = 0
    offset: int = 0                       # rows of this partition before the batch
    state: dict = field(default_factory=dict)


_POSITION: contextvars.ContextVar = contextvars.ContextVar("quarry_batch_position", default=None)


@contextlib.contextmanager
def at_position(position: BatchPosition):
    """Evaluate inside the block as the batch at ``position``."""
    token = _POSITION.set(position)
    try:
        yield position
    finally:
        _POSITION.reset(token)


def current_position() -> BatchPosition:
    """The position of the batch being evaluated (partition 0, row 0 outside an operator)."""
    return _POSITION.get() or BatchPosition()
