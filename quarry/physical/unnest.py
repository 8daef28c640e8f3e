"""The Unnest operator: one output row per list element, the input row's columns repeated.

Several lists in one node are aligned, as DuckDB aligns the unnests of one SELECT: row
``r`` gives ``max(len(list_i[r]))`` rows, and a shorter list's column is NULL past its
end. A row whose lists are all NULL or empty gives no rows. The work is numpy over
the lists' lengths plus one ``take`` per column.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from quarry.compute.expr_eval import evaluate_array
from quarry.compute.nested_kernels import parts
from quarry.physical.base import ExecNode


class UnnestExec(ExecNode):
    name = "Unnest"

    def __init__(self, child: ExecNode, lists, fields):
        super().__init__([child], list(child.fields) + list(fields), child.partitions)
        self.lists = tuple(lists)

    def describe(self):
        return "Unnest: " + ", ".join(f"unnest({e})" for e in self.lists)

    def _execute(self, partition, ctx):
        for batch in self.children[0].execute(partition, ctx):
            yield self.unnest(batch)

    def unnest(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        n = batch.num_rows
        taken = [parts(evaluate_array(e, batch), n) for e in self.lists]
        counts = np.max(np.stack([p.lengths for p in taken]), axis=0) if n else np.zeros(0, dtype=np.int64)
        total = int(counts.sum())
        rows = np.repeat(np.arange(n, dtype=np.int64), counts)
        within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        arrays = [c.take(pa.array(rows)) for c in batch.columns]
        for p, f in zip(taken, self.fields[batch.num_columns:]):
            present = within < p.lengths[rows]
            pos = np.where(present, p.starts[rows] + within, 0)
            values = p.flat.take(pa.array(pos, mask=~present)) if len(p.flat) else pa.nulls(total, f.dtype)
            arrays.append(values if values.type == f.dtype else values.cast(f.dtype))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


__all__ = ["UnnestExec"]
