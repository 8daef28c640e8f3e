"""Operators that run Python functions: projections and filters calling UDFs, map_batches,
grouped map (``group_by(...).apply``) and table functions.

A Project or Filter whose expressions call a Python UDF is planned as :class:`UDFProjectExec`
or :class:`UDFFilterExec`: the same work as the plain operators, plus the UDFs' rows and time
in the description (EXPLAIN) and the output column's name in a UDF's errors.

:class:`MapBatchesExec` streams: each input batch goes whole to the function, as a
``pa.RecordBatch`` or a pandas DataFrame. :class:`MapGroupsExec` sits on a hash repartition by
the group keys, so each of its partitions holds whole groups; it groups its rows with Arrow
(``Table.group_by`` collecting row positions), puts each group's rows next to each other with
one ``take``, and hands the function zero-copy slices, one call per group.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import UDFError
from quarry.compute.expr_eval import evaluate_array
from quarry.compute.udf import call_user, table_argument, table_result, to_array
from quarry.logical.udf import python_calls
from quarry.physical.base import ExecNode
from quarry.physical.operators import FilterExec, ProjectExec


def _udf_names(exprs) -> str:
    return ", ".join(f.describe() for f in python_calls(exprs))


class UDFProjectExec(ProjectExec):
    """A projection that calls Python UDFs (see the module docstring)."""

    def describe(self):
        return super().describe() + f"  udfs=[{_udf_names(self.exprs)}]"

    def _execute(self, partition, ctx):
        for batch in self.children[0].execute(partition, ctx):
            arrays = []
            for e, f in zip(self.exprs, self.fields):
                try:
                    arr = evaluate_array(e, batch)
                except UDFError as err:
                    raise _in_column(err, f.name) from None
                if isinstance(arr, pa.ChunkedArray):
                    arr = arr.combine_chunks()
                arrays.append(arr)
            yield pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class UDFFilterExec(FilterExec):
    """A filter whose predicate calls Python UDFs."""

    def describe(self):
        return super().describe() + f"  udfs=[{_udf_names([self.predicate])}]"

    def _execute(self, partition, ctx):
        from quarry.compute.expr_eval import filter_batch
        for batch in self.children[0].execute(partition, ctx):
            try:
                out = filter_batch(batch, self.predicate)
            except UDFError as err:
                raise _in_column(err, "the filter") from None
            if out.num_rows:
                yield out


def _in_column(err: UDFError, column: str) -> UDFError:
    if " (computing " not in err.detail.split("\n", 1)[0]:
        first, _, rest = err.detail.partition("\n")
        what = column if column == "the filter" else f"column `{column}`"
        err.reword(f"{first} (computing {what})" + ("\n" + rest if rest else ""))
    return err


def _renamed(table: pa.Table, schema: pa.Schema) -> pa.RecordBatch:
    """A function's output table as one batch under the operator's field keys."""
    table = table.combine_chunks()
    arrays = [table.column(i).chunk(0) if table.column(i).num_chunks else pa.array([], f.type)
              for i, f in enumerate(schema)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _user_columns(batch, fields, names) -> pa.Table:
    """``batch`` with the user's column names instead of field keys (``l_suppkey``, not ``l_suppkey#12``)."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    return table.rename_columns(list(names))


class MapBatchesExec(ExecNode):
    """``df.map_batches(func)``: each input batch, whole, to the function; its rows out."""

    name = "MapBatches"

    def __init__(self, child: ExecNode, step, fields):
        super().__init__([child], fields, child.partitions)
        self.step = step

    def describe(self):
        return f"MapBatches: {self.step.name} ({self.step.style})"

    def _execute(self, partition, ctx):
        import time
        step = self.step
        names = [f.name for f in self.children[0].fields]
        for batch in self.children[0].execute(partition, ctx):
            start = time.perf_counter()
            arg = table_argument(_user_columns(batch, self.children[0].fields, names), step.style)
            if step.style == "arrow":
                arg = arg.combine_chunks().to_batches()[0] if arg.num_rows else \
                    pa.RecordBatch.from_pylist([], schema=arg.schema)
            out = table_result(step, call_user(step.name, step.func, [arg, *step.args]),
                               f"a pyarrow Table/RecordBatch or pandas DataFrame with {step.schema}")
            self.add_metric(f"{step.name}.rows", batch.num_rows)
            self.add_metric(f"{step.name}.time_ms", (time.perf_counter() - start) * 1000)
            if out.num_rows:
                yield _renamed(out, self.schema)


class MapGroupsExec(ExecNode):
    """``group_by(keys).apply(func)``: each group's rows, whole, to the function (one call per group)."""

    name = "MapGroups"

    def __init__(self, child: ExecNode, keys, step, fields):
        super().__init__([child], fields, child.partitions)
        self.keys = tuple(keys)
        self.step = step

    def describe(self):
        return f"MapGroups: {self.step.name} ({self.step.style}) by [{', '.join(map(str, self.keys))}]"

    def _execute(self, partition, ctx):
        import time
        table = self.collect_child(self.children[0], partition, ctx)
        if table.num_rows == 0:
            return
        step = self.step
        start = time.perf_counter()
        n = table.num_rows
        keys = {f"__k{i}": to_array(evaluate_array(k, table), n) for i, k in enumerate(self.keys)}
        work = pa.table({**keys, "__row": pa.array(np.arange(n, dtype=np.int64))})
        grouped = work.group_by(list(keys), use_threads=False).aggregate([("__row", "list")])
        lists = grouped.column("__row_list").combine_chunks()
        positions = pc.list_flatten(lists)
        offsets = np.asarray(lists.offsets.to_numpy(), dtype=np.int64)
        names = [f.name for f in self.children[0].fields]
        ordered = _user_columns(table, self.children[0].fields, names).take(positions)
        if step.style == "pandas":
            whole = ordered.to_pandas()
            pieces = (whole.iloc[a:b].reset_index(drop=True) for a, b in zip(offsets[:-1], offsets[1:]))
        else:
            pieces = (ordered.slice(a, b - a) for a, b in zip(offsets[:-1], offsets[1:]))
        out = []
        for piece in pieces:
            result = table_result(step, call_user(step.name, step.func, [piece, *step.args]),
                                  f"a pyarrow Table or pandas DataFrame with {step.schema}")
            if result.num_rows:
                out.append(result)
        self.add_metric(f"{step.name}.rows", n)
        self.add_metric(f"{step.name}.time_ms", (time.perf_counter() - start) * 1000)
        if out:
            yield _renamed(pa.concat_tables(out), self.schema)


class TableFunctionExec(ExecNode):
    """A table function of constant arguments: one call, in one task."""

    name = "TableFunction"

    def __init__(self, step, fields):
        super().__init__([], fields, 1)
        self.step = step

    def describe(self):
        return f"TableFunction: {self.step.name}({', '.join(map(repr, self.step.args))}) ({self.step.style})"

    def _execute(self, partition, ctx):
        step = self.step
        out = table_result(step, call_user(step.name, step.func, list(step.args)),
                           f"a pyarrow Table or pandas DataFrame with {step.schema}")
        if out.num_rows:
            yield _renamed(out, self.schema)


def plan_project(child: ExecNode, exprs, fields) -> ExecNode:
    """A Project calling Python UDFs gets their metrics and errors (see :class:`UDFProjectExec`)."""
    return UDFProjectExec(child, exprs, fields) if python_calls(exprs) else ProjectExec(child, exprs, fields)


def plan_filter(child: ExecNode, predicate) -> ExecNode:
    return UDFFilterExec(child, predicate) if python_calls([predicate]) else FilterExec(child, predicate)


__all__ = ["UDFProjectExec", "UDFFilterExec", "MapBatchesExec", "MapGroupsExec", "TableFunctionExec",
           "plan_project", "plan_filter"]
