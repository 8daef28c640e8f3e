"""INTERSECT / EXCEPT [ALL] by counting each distinct row on both sides.

Both inputs arrive hash-partitioned on all columns, so equal rows meet in one
partition. Rows are grouped (Arrow's grouping treats NULLs as equal, which is
exactly the set-operation semantics) and counted per side; the output repeats
each row min(l, r) times (INTERSECT ALL), max(l - r, 0) times (EXCEPT ALL), or
once when the counts qualify (the DISTINCT forms).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.compute.nested_kernels import sort_key
from quarry.physical.base import ExecNode, batches_of


class SetOpExec(ExecNode):
    name = "SetOp"

    def __init__(self, left: ExecNode, right: ExecNode, kind: str, all_: bool, fields):
        super().__init__([left, right], fields, left.partitions)
        self.kind = kind
        self.all = all_

    def describe(self):
        return f"SetOp: {self.kind.upper()}{' ALL' if self.all else ''}"

    def _execute(self, partition, ctx):
        left = self.collect_child(self.children[0], partition, ctx)
        right = self.collect_child(self.children[1], partition, ctx)
        names = [f"c{i}" for i in range(len(self.fields))]
        lt = pa.Table.from_arrays(left.columns + [pa.array(np.ones(left.num_rows, dtype=np.int64))],
                                  names=names + ["l"])
        rt = pa.Table.from_arrays([c.cast(f.type) for c, f in zip(right.columns, self.schema)]
                                  + [pa.array(np.zeros(right.num_rows, dtype=np.int64))], names=names + ["l"])
        both = pa.concat_tables([lt.cast(lt.schema), rt.cast(lt.schema)])
        both = both.append_column("r", pc.subtract(1, both.column("l")))
        nested = [i for i, f in enumerate(self.schema) if pa.types.is_nested(f.type)]
        keys = names
        if nested:
            # LIST, STRUCT and MAP rows group by their sort keys; a group's first row gives the values
            keyed = both.append_column("__row", pa.array(np.arange(both.num_rows, dtype=np.int64)))
            for i in nested:
                keyed = keyed.append_column(f"__key{i}", sort_key(both.column(i), both.num_rows))
            keys = [f"__key{i}" if i in nested else name for i, name in enumerate(names)]
            counts = keyed.group_by(keys).aggregate([("l", "sum"), ("r", "sum"), ("__row", "min")])
            values = both.select(names).take(counts.column("__row_min"))
            counts = pa.Table.from_arrays(values.columns + [counts.column("l_sum"), counts.column("r_sum")],
                                          names=names + ["l_sum", "r_sum"])
        else:
            counts = both.group_by(names).aggregate([("l", "sum"), ("r", "sum")])
        lc = np.asarray(counts.column("l_sum").to_numpy())
        rc = np.asarray(counts.column("r_sum").to_numpy())
        if self.kind == "intersect":
            times = np.minimum(lc, rc) if self.all else ((lc > 0) & (rc > 0)).astype(np.int64)
        else:
            times = np.maximum(lc - rc, 0) if self.all else ((lc > 0) & (rc == 0)).astype(np.int64)
        idx = np.repeat(np.arange(len(times)), times)
        out = counts.select(names).take(pa.array(idx))
        yield from batches_of(pa.Table.from_arrays(out.columns, schema=self.schema), ctx.config.batch_rows)
