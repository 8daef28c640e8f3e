"""Window functions (placeholder until the window operator lands)."""

from __future__ import annotations

from quarry.errors import UnsupportedError
from quarry.physical.base import ExecNode


class WindowExec(ExecNode):
    name = "Window"

    def __init__(self, child: ExecNode, exprs, fields):
        super().__init__([child], tuple(child.fields) + tuple(fields), child.partitions)
        self.exprs = exprs

    def _execute(self, partition, ctx):
        raise UnsupportedError("window functions are not implemented yet")
