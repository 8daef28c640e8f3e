"""Leaf, streaming and exchange operators.

Scans (Parquet with row-group pruning, in-memory tables, VALUES), Filter,
Project, Limit, Union, Sort/TopK, and the three exchanges that are the only
places where rows cross partitions: hash Repartition, Gather (to one partition)
and Broadcast (every consumer partition sees all rows).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.catalog.providers import ParquetTable, RowGroupInfo
from quarry.logical.expressions import ColumnRef, Expr, SortKey, and_all, conjuncts
from quarry.physical.base import ExecContext, ExecNode, batches_of, run_partitions
from quarry.physical.expr_eval import evaluate, evaluate_array, evaluate_predicate, filter_batch
from quarry.physical.hashing import partition_ids
from quarry.physical.pruning import can_skip


def _split_evenly(items: list, n: int, weight) -> list[list]:
    """Assign items to n lists, balancing total weight (largest first)."""
    buckets = [[] for _ in range(n)]
    loads = [0] * n
    for idx in sorted(range(len(items)), key=lambda i: -weight(items[i])):
        k = loads.index(min(loads))
        buckets[k].append(idx)
        loads[k] += weight(items[idx])
    return [[items[i] for i in sorted(b)] for b in buckets]


class ParquetScanExec(ExecNode):
    """Read Parquet row groups: only the needed columns, skipping row groups whose statistics
    (or hive partition values) prove that ``predicate`` cannot hold, then filter the rows."""

    name = "ParquetScan"

    def __init__(self, provider: ParquetTable, table_fields, fields, predicate: Expr | None, partitions: int,
                 label: str):
        super().__init__([], fields, partitions)
        self.provider = provider
        self.table_fields = table_fields
        self.predicate = predicate
        self.label = label
        self.columns = [f.name for f in fields]
        # columns read: output columns plus those the predicate needs
        needed = {f.id for f in fields} | (predicate.column_ids() if predicate is not None else set())
        self.read_fields = [f for f in table_fields if f.id in needed]
        self.splits = _split_evenly(provider.row_groups, partitions, lambda rg: rg.num_rows)
        # low-cardinality strings are read as dictionaries and decoded after filtering
        self.dictionary_names = frozenset(f.name for f in self.read_fields) & provider.dictionary_columns()
        self.dictionary_keys = frozenset(f.key for f in self.read_fields if f.name in self.dictionary_names)
        self.metrics.update({"files": len(set(rg.path for rg in provider.row_groups)), "row_groups": 0,
                             "row_groups_skipped": 0, "rows_read": 0, "bytes_read": 0, "bytes_skipped": 0})

    def describe(self):
        text = f"ParquetScan: {self.label} columns=[{', '.join(self.columns)}]"
        if self.predicate is not None:
            text += f" predicate={self.predicate}"
        return text

    def _column_bytes(self, rg: RowGroupInfo) -> int:
        meta = self.provider._file_meta[rg.path].row_group(rg.index)
        names = {f.name for f in self.read_fields}
        total = 0
        for i in range(meta.num_columns):
            col = meta.column(i)
            if col.path_in_schema in names:
                total += col.total_compressed_size
        return total

    def _execute(self, partition: int, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        names = [f.name for f in self.read_fields]
        rename = [f.key for f in self.read_fields]
        out_keys = [f.key for f in self.fields]
        by_name = {f.name: f for f in self.table_fields}
        files: dict = {}   # open Parquet readers of this partition (one thread each)
        for rg in self.splits[partition]:
            self.add_metric("row_groups", 1)
            if self.predicate is not None and can_skip(self.predicate, rg, by_name):
                self.add_metric("row_groups_skipped", 1)
                self.add_metric("bytes_skipped", self._column_bytes(rg))
                continue
            self.add_metric("bytes_read", self._column_bytes(rg))
            self.add_metric("rows_read", rg.num_rows)
            if not names:
                yield rows_only(rg.num_rows)
                continue
            table = self.provider.read_row_group(rg, names, files, self.dictionary_names)
            table = table.rename_columns(rename)
            if self.predicate is not None:
                table = filter_with_dictionaries(table, self.predicate, self.dictionary_keys)
            table = decode_dictionaries(table, self.dictionary_keys)
            if not out_keys:
                if table.num_rows:
                    yield rows_only(table.num_rows)
                continue
            yield from batches_of(table.select(out_keys), ctx.config.batch_rows)


# functions that give a non-NULL result for a NULL input: their value on the dictionary
# entries says nothing about rows whose index is NULL
_NULL_SENSITIVE = {"is_null", "is_not_null", "coalesce", "case", "nullif", "is_distinct_from",
                   "is_not_distinct_from", "is_true", "is_false", "is_not_true", "is_not_false", "concat",
                   "in_list_nullable"}


def _dictionary_conjunct(c: Expr, dictionary_keys: frozenset[str]) -> str | None:
    """The one dictionary column a conjunct reads, if it can be evaluated per dictionary entry."""
    refs = {x.field.key for x in c.walk() if isinstance(x, ColumnRef)}
    if len(refs) != 1:
        return None
    (key,) = refs
    if key not in dictionary_keys:
        return None
    if any(getattr(x, "name", None) in _NULL_SENSITIVE for x in c.walk()):
        return None
    return key


def filter_with_dictionaries(table: pa.Table, predicate: Expr, dictionary_keys: frozenset[str]) -> pa.Table:
    """Filter rows by ``predicate``; conjuncts over one dictionary column are evaluated once
    per distinct value and mapped to rows through the indices."""
    if not dictionary_keys:
        return filter_batch(table, predicate)
    masks = []
    rest = []
    for c in conjuncts(predicate):
        key = _dictionary_conjunct(c, dictionary_keys)
        if key is None:
            rest.append(c)
            continue
        col = table.column(key)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        per_value = evaluate_predicate(c, pa.table({key: arr.dictionary}))
        if per_value is True or per_value is False:
            per_value = pa.array(np.full(len(arr.dictionary), per_value))
        masks.append(pc.fill_null(per_value.take(arr.indices), False))
    if rest:
        needed = set().union(*(c.column_ids() for c in rest))
        decoded = decode_dictionaries(table, frozenset(k for k in dictionary_keys
                                                       if int(k.rsplit("#", 1)[1]) in needed))
        mask = evaluate_predicate(and_all(rest), decoded)
        if mask is False:
            return table.slice(0, 0)
        if mask is not True:
            masks.append(mask)
    if not masks:
        return table
    combined = masks[0]
    for m in masks[1:]:
        combined = pc.and_(combined, m)
    return table.filter(combined)


def decode_dictionaries(table: pa.Table, keys: frozenset[str]) -> pa.Table:
    """Replace dictionary columns by plain ones."""
    for key in keys:
        if key not in table.column_names:
            continue
        i = table.column_names.index(key)
        col = table.column(i)
        if pa.types.is_dictionary(col.type):
            table = table.set_column(i, key, col.cast(col.type.value_type))
    return table


def rows_only(n: int) -> pa.RecordBatch:
    """A batch with no columns and ``n`` rows (what ``count(*)`` needs from a scan)."""
    return pa.record_batch({"__rows": pa.nulls(n)}).drop_columns(["__rows"])


class MemoryScanExec(ExecNode):
    """Scan an in-memory Arrow table, split into contiguous slices per partition."""

    name = "MemoryScan"

    def __init__(self, table: pa.Table, source_names: list[str], fields, predicate: Expr | None, partitions: int,
                 label: str, read_fields=None):
        super().__init__([], fields, partitions)
        self.table = table
        self.source_names = source_names
        self.predicate = predicate
        self.label = label
        self.read_fields = read_fields or list(fields)

    def describe(self):
        text = f"MemoryScan: {self.label} columns=[{', '.join(f.name for f in self.fields)}]"
        if self.predicate is not None:
            text += f" predicate={self.predicate}"
        return text

    def _execute(self, partition, ctx):
        n = self.table.num_rows
        lo = n * partition // self.partitions
        hi = n * (partition + 1) // self.partitions
        part = self.table.slice(lo, hi - lo)
        table = part.select(self.source_names).rename_columns([f.key for f in self.read_fields])
        if self.predicate is not None:
            table = filter_batch(table, self.predicate)
        keys = [f.key for f in self.fields]
        if not keys:
            if table.num_rows:
                yield rows_only(table.num_rows)
            return
        yield from batches_of(table.select(keys), ctx.config.batch_rows)


class ValuesExec(ExecNode):
    """Literal rows."""

    name = "Values"

    def __init__(self, rows, fields):
        super().__init__([], fields, 1)
        self.rows = rows

    def describe(self):
        return f"Values: {len(self.rows)} rows"

    def _execute(self, partition, ctx):
        one = pa.table({"__one": [None]})
        columns = []
        for i, f in enumerate(self.fields):
            values = []
            for row in self.rows:
                v = evaluate(row[i], one)
                values.append(v.as_py() if isinstance(v, pa.Scalar) else v[0].as_py())
            columns.append(pa.array(values, f.dtype))
        yield pa.record_batch(columns, schema=self.schema)


class FilterExec(ExecNode):
    name = "Filter"

    def __init__(self, child: ExecNode, predicate: Expr):
        super().__init__([child], child.fields, child.partitions)
        self.predicate = predicate

    def describe(self):
        return f"Filter: {self.predicate}"

    def _execute(self, partition, ctx):
        for batch in self.children[0].execute(partition, ctx):
            out = filter_batch(batch, self.predicate)
            if out.num_rows:
                yield out


class ProjectExec(ExecNode):
    name = "Project"

    def __init__(self, child: ExecNode, exprs: tuple[Expr, ...], fields):
        super().__init__([child], fields, child.partitions)
        self.exprs = exprs

    def describe(self):
        parts = []
        for e, f in zip(self.exprs, self.fields):
            text = str(e)
            parts.append(text if isinstance(e, ColumnRef) and e.field.name == f.name else f"{text} AS {f.name}")
        return "Project: " + ", ".join(parts)

    def _execute(self, partition, ctx):
        for batch in self.children[0].execute(partition, ctx):
            if not self.exprs:
                yield rows_only(batch.num_rows)   # no columns, but the rows still count
                continue
            arrays = []
            for e in self.exprs:
                arr = evaluate_array(e, batch)
                if isinstance(arr, pa.ChunkedArray):
                    arr = arr.combine_chunks()
                arrays.append(arr)
            yield pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class LimitExec(ExecNode):
    """Skip ``offset`` rows, then pass at most ``limit`` rows of each partition."""

    name = "Limit"

    def __init__(self, child: ExecNode, limit: int | None, offset: int = 0):
        super().__init__([child], child.fields, child.partitions)
        self.limit = limit
        self.offset = offset

    def describe(self):
        return f"Limit: {self.limit if self.limit is not None else 'ALL'}" + (f" offset={self.offset}" if self.offset else "")

    def _execute(self, partition, ctx):
        skip = self.offset
        left = self.limit
        if left == 0:
            return
        for batch in self.children[0].execute(partition, ctx):
            if skip:
                if batch.num_rows <= skip:
                    skip -= batch.num_rows
                    continue
                batch = batch.slice(skip)
                skip = 0
            if left is not None:
                if batch.num_rows >= left:
                    yield batch.slice(0, left)
                    return
                left -= batch.num_rows
            yield batch


class UnionExec(ExecNode):
    """Concatenate inputs: output partitions are the inputs' partitions, one after another."""

    name = "Union"

    def __init__(self, children: list[ExecNode], fields):
        super().__init__(children, fields, sum(c.partitions for c in children))

    def _execute(self, partition, ctx):
        for child in self.children:
            if partition < child.partitions:
                for batch in child.execute(partition, ctx):
                    yield pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
                return
            partition -= child.partitions


def sort_indices(table: pa.Table, keys: tuple[SortKey, ...]) -> pa.Array:
    """Row order for ORDER BY ``keys`` (NULLS FIRST/LAST per key)."""
    cols = {}
    sort_keys = []
    for i, k in enumerate(keys):
        name = f"__k{i}"
        values = evaluate_array(k.expr, table)
        order = "ascending" if k.ascending else "descending"
        nulls = "at_start" if k.nulls_first else "at_end"
        if pa.types.is_floating(values.type):
            # Arrow keeps NaN beside the NULLs; SQL (and DuckDB) sorts NaN above every number
            cols[f"__nan{i}"] = pc.is_nan(values)
            sort_keys.append((f"__nan{i}", order, nulls))
        cols[name] = values
        sort_keys.append((name, order, nulls))
    if not cols:
        return pa.array(np.arange(table.num_rows))
    return pc.sort_indices(pa.table(cols), sort_keys=sort_keys)


class SortExec(ExecNode):
    """Sort each partition; with ``fetch``, keep only the first rows (top-k)."""

    name = "Sort"

    def __init__(self, child: ExecNode, keys: tuple[SortKey, ...], fetch: int | None = None):
        super().__init__([child], child.fields, child.partitions)
        self.keys = keys
        self.fetch = fetch

    def describe(self):
        text = ("TopK" if self.fetch is not None else "Sort") + ": " + ", ".join(map(str, self.keys))
        if self.fetch is not None:
            text += f" fetch={self.fetch}"
        return text

    def _execute(self, partition, ctx):
        table = self.collect_child(self.children[0], partition, ctx)
        if table.num_rows == 0:
            return
        idx = sort_indices(table, self.keys)
        if self.fetch is not None:
            idx = idx.slice(0, self.fetch)
        yield from batches_of(table.take(idx), ctx.config.batch_rows)


# ---------------------------------------------------------------------------- exchanges


class RepartitionExec(ExecNode):
    """Hash exchange: route every row to partition ``hash(keys) % n``."""

    name = "Repartition"

    def __init__(self, child: ExecNode, keys: list[Expr], partitions: int):
        super().__init__([child], child.fields, partitions)
        self.keys = keys
        self.metrics["shuffle_rows"] = 0

    def describe(self):
        return f"Repartition: hash({', '.join(map(str, self.keys))}) into {self.partitions}"

    def _buckets(self, ctx: ExecContext) -> list[list[pa.RecordBatch]]:
        key = ("repartition", id(self))
        with ctx.exchange_lock(key):
            if key not in ctx.buffers:
                ctx.buffers[key] = self._shuffle(ctx)
        return ctx.buffers[key]

    def _shuffle(self, ctx: ExecContext) -> list[list[pa.RecordBatch]]:
        n = self.partitions
        buckets: list[list[pa.RecordBatch]] = [[] for _ in range(n)]
        for part in run_partitions(self.children[0], ctx):
            for batch in part:
                self.add_metric("shuffle_rows", batch.num_rows)
                if n == 1:
                    buckets[0].append(batch)
                    continue
                pid = partition_ids([evaluate_array(k, batch) for k in self.keys], n)
                if n <= 16:
                    # a few boolean filters beat a stable sort of the partition ids
                    for i in range(n):
                        part = batch.filter(pa.array(pid == i))
                        if part.num_rows:
                            buckets[i].append(part)
                    continue
                order = np.argsort(pid, kind="stable")
                counts = np.bincount(pid, minlength=n)
                sorted_batch = batch.take(pa.array(order))
                start = 0
                for i in range(n):
                    if counts[i]:
                        buckets[i].append(sorted_batch.slice(start, counts[i]))
                    start += counts[i]
        return buckets

    def _execute(self, partition, ctx):
        yield from self._buckets(ctx)[partition]


class GatherExec(ExecNode):
    """Merge all input partitions into one."""

    name = "Gather"

    def __init__(self, child: ExecNode):
        super().__init__([child], child.fields, 1)

    def _execute(self, partition, ctx):
        for part in run_partitions(self.children[0], ctx):
            yield from part


class BroadcastExec(ExecNode):
    """Give every one of ``partitions`` consumers all input rows (computed once)."""

    name = "Broadcast"

    def __init__(self, child: ExecNode, partitions: int):
        super().__init__([child], child.fields, partitions)

    def _execute(self, partition, ctx):
        key = ("broadcast", id(self))
        with ctx.exchange_lock(key):
            if key not in ctx.buffers:
                ctx.buffers[key] = [b for part in run_partitions(self.children[0], ctx) for b in part]
        yield from ctx.buffers[key]


class SingleRowExec(ExecNode):
    """Check that a scalar subquery produced at most one row."""

    name = "SingleRow"

    def __init__(self, child: ExecNode):
        super().__init__([child], child.fields, 1)

    def _execute(self, partition, ctx):
        from quarry.errors import ExecutionError
        batches = list(self.children[0].execute(0, ctx))   # the planner gathers the input first
        if sum(b.num_rows for b in batches) > 1:
            raise ExecutionError("more than one row returned by a subquery used as an expression",
                                 hint="add a LIMIT 1 or an aggregate to the subquery")
        yield from batches
