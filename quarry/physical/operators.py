"""Leaf, streaming and exchange operators.

Scans (Parquet with row-group pruning, in-memory tables, VALUES), Filter,
Project, Limit, Union, Sort/TopK (spilling sorted runs past the memory budget),
MergeSorted (one sorted partition out of sorted partitions), and the three
exchanges that are the only places where rows cross partitions: hash
Repartition, Gather (to one partition) and Broadcast (every consumer partition
sees all rows).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Iterator

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.catalog.providers import ColumnStats, ParquetTable, RowGroupInfo, rowid_array
from quarry.logical.expressions import ColumnRef, Expr, SortKey, and_all, conjuncts
from quarry.logical.functions import is_deterministic, rejects_nulls
from quarry.physical.base import Coalescer, ExecContext, ExecNode, batches_of, run_partitions, stream_partitions
from quarry.compute.expr_eval import evaluate, evaluate_array, evaluate_predicate, filter_batch
from quarry.compute.hashing import partition_ids, split_by_ids
from quarry.compute.position import BatchPosition, at_position
from quarry.physical.merge import merge_sorted, sort_key_table
from quarry.catalog.pruning import can_skip
from quarry.physical.runtime_filter import describe_filters
from quarry.physical.spill import SpillFile


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
                 label: str, rowid=None):
        super().__init__([], fields, partitions)
        self.provider = provider
        self.table_fields = table_fields
        self.predicate = predicate
        self.label = label
        self.columns = [f.name for f in fields]
        # columns read: output columns plus those the predicate needs
        needed = {f.id for f in fields} | (predicate.column_ids() if predicate is not None else set())
        # the rowid column (see quarry.sql.rowid), made from each row group's first row number
        self.rowid = rowid if rowid is not None and rowid.id in needed else None
        self.row_offsets = provider.row_offsets() if self.rowid is not None else None
        self.read_fields = [f for f in table_fields if f.id in needed and f is not rowid]
        self.splits = _split_evenly(provider.row_groups, partitions, lambda rg: rg.num_rows)
        # low-cardinality strings are read as dictionaries and decoded after filtering
        self.dictionary_names = frozenset(f.name for f in self.read_fields) & provider.dictionary_columns()
        self.dictionary_keys = frozenset(f.key for f in self.read_fields if f.name in self.dictionary_names)
        # dictionary columns the operator above takes as they are (a partial aggregation's group keys)
        self.keep_dictionary_keys: frozenset[str] = frozenset()
        self.metrics.update({"files": len(set(rg.path for rg in provider.row_groups)), "row_groups": 0,
                             "row_groups_skipped": 0, "rows_read": 0, "bytes_read": 0, "bytes_skipped": 0})
        if hasattr(provider, "files_skipped"):
            # files a Delta log's or Iceberg manifest's statistics ruled out before any footer was read
            self.metrics["files_skipped"] = provider.files_skipped
        if provider.storage is not None:
            # an object store's scan also counts what crossed the network: bytes and (ranged GET) requests
            self.metrics.update({"bytes_fetched": 0, "requests": 0})
        # (id, field) of join filters that hash joins above make from their build sides at run time
        self.runtime_filters: list = []

    def describe(self):
        text = f"ParquetScan: {self.label} columns=[{', '.join(self.columns)}]"
        if self.predicate is not None:
            text += f" predicate={self.predicate}"
        if self.runtime_filters:
            text += " " + describe_filters(self.runtime_filters)
        return text

    def _join_filters(self, ctx: ExecContext) -> list:
        """The runtime filters known for this scan: (field, JoinFilter) pairs.

        A filter not known yet is not waited for: with worker processes the scheduler starts this
        scan's stage only once its filters' build stages are done; in one process a join makes its
        filter just before it reads its probe side, and a filter passed on across a join further up
        may come too late for this scan (making it here could wait on an exchange this very
        computation holds).
        """
        return [(field, ctx.runtime_filters[fid]) for fid, field in self.runtime_filters
                if fid in ctx.runtime_filters]

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
        join_filters = self._join_filters(ctx)
        # join filters run first (a build side's keys usually keep far fewer rows than the predicate,
        # which then runs on those only: TPC-H Q21's 411 suppliers keep 4% of lineitem's rows, its
        # l_receiptdate > l_commitdate 63%), unless one reads a dictionary column
        early = bool(join_filters) and not any(f.key in self.dictionary_keys for f, _ in join_filters)
        kept = out_keys if early or not join_filters else \
            list(dict.fromkeys(out_keys + [f.key for f, _ in join_filters]))
        files: dict = {}   # open Parquet readers of this partition (one thread each)
        io = None
        if self.provider.storage is not None:
            from quarry.catalog.filesystems import IOCounter
            io = IOCounter()
        gather = Coalescer(ctx.config.batch_rows)      # what filters leave of row groups goes on in batches of some size
        for rg in self.splits[partition]:
            ctx.check_cancelled()     # row groups skipped or filtered to nothing yield no batch
            self.add_metric("row_groups", 1)
            nbytes = self._column_bytes(rg)
            if self.rowid is not None:
                # the row group's rowids are known before it is read: its statistics say so
                start = self.row_offsets[(rg.path, rg.index)]
                rg = dataclasses.replace(rg, stats={**rg.stats, self.rowid.name: ColumnStats(
                    start, start + rg.num_rows - 1, 0)})
            if self.predicate is not None and can_skip(self.predicate, rg, by_name) or \
                    any(jf.excludes(rg.stats.get(f.name)) for f, jf in join_filters):
                self.add_metric("row_groups_skipped", 1)
                self.add_metric("bytes_skipped", nbytes)
                if ctx.scan_progress is not None:
                    ctx.scan_progress(0, nbytes)
                continue
            self.add_metric("bytes_read", nbytes)
            self.add_metric("rows_read", rg.num_rows)
            if ctx.scan_progress is not None:
                ctx.scan_progress(rg.num_rows, nbytes)
            if not names and self.rowid is None:
                yield rows_only(rg.num_rows)
                continue
            if not names:
                table = pa.table({self.rowid.key: rowid_array(None, None, start, rg.num_rows)})
            elif io is None:
                table = self.provider.read_row_group(rg, names, files, self.dictionary_names)
            else:
                before_bytes, before_requests = io.bytes, io.requests
                table = self.provider.read_row_group(rg, names, files, self.dictionary_names, io)
                self.add_metric("bytes_fetched", io.bytes - before_bytes)
                self.add_metric("requests", io.requests - before_requests)
            if names:
                table = table.rename_columns(rename)
                if self.rowid is not None:
                    table = table.append_column(self.rowid.key, rowid_array(None, None, start, table.num_rows))
            if early and table.num_rows:
                table = apply_join_filters(table, join_filters, self)
            if self.predicate is not None:
                # columns only the predicate reads are dropped before the rows are, not copied
                table = filter_with_dictionaries(table, self.predicate, self.dictionary_keys, kept)
            table = decode_dictionaries(table, self.dictionary_keys - self.keep_dictionary_keys)
            if join_filters and not early and table.num_rows:
                table = apply_join_filters(table, join_filters, self)
            if not out_keys:
                if table.num_rows:
                    yield rows_only(table.num_rows)
                continue
            for batch in batches_of(table.select(out_keys), ctx.config.batch_rows):
                yield from gather.add(batch)
        yield from gather.flush()


def apply_join_filters(table: pa.Table, join_filters, node: ExecNode) -> pa.Table:
    """Rows of ``table`` whose join keys may find a match (see quarry.physical.runtime_filter)."""
    before = table.num_rows
    # the filter with the fewest keys first: it is usually the most selective, and each later one
    # then looks up fewer rows
    for field, jf in sorted(join_filters, key=lambda p: len(p[1].values) if p[1].values is not None
                            else float("inf")):
        mask = jf.keep(table.column(field.key))
        if mask is not None:
            table = table.filter(mask)
    node.add_metric("rows_runtime_filtered", before - table.num_rows)
    return table


def _dictionary_conjunct(c: Expr, dictionary_keys: frozenset[str]) -> str | None:
    """The one dictionary column a conjunct reads, if it can be evaluated per dictionary entry.

    Rows whose index is NULL get FALSE, so the conjunct must be one that cannot be TRUE
    for a NULL value (the function definitions' NULL handling decides: ``s = 'a'`` and
    ``s IS NOT NULL`` qualify, ``coalesce(s, 'z') = 'z'`` and ``greatest(s, 'b') = 'b'`` do
    not); and deterministic, since one evaluation per entry stands for all its rows.
    """
    refs = {x.field for x in c.walk() if isinstance(x, ColumnRef)}
    if len(refs) != 1:
        return None
    (field,) = refs
    if field.key not in dictionary_keys:
        return None
    if not rejects_nulls(c, {field.id}) or not is_deterministic(c):
        return None
    return field.key


def filter_with_dictionaries(table: pa.Table, predicate: Expr, dictionary_keys: frozenset[str],
                             keep: list[str] | None = None) -> pa.Table:
    """Filter rows by ``predicate``; conjuncts over one dictionary column are evaluated once
    per distinct value and mapped to rows through the indices. With ``keep``, only those columns
    are returned (and filtered)."""
    if not dictionary_keys:
        mask = evaluate_predicate(predicate, table)
        if keep is not None:
            table = table.select(keep)
        if mask is True:
            return table
        return table.slice(0, 0) if mask is False else table.filter(mask)
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
    if keep is not None:
        table = table.select(keep)
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
                 label: str, read_fields=None, rowid=None):
        super().__init__([], fields, partitions)
        self.table = table
        self.source_names = source_names
        self.predicate = predicate
        self.label = label
        self.read_fields = list(fields) if read_fields is None else read_fields
        # (the rowid field, the rows' ids or None when they are the positions): the table's rowid column
        self.rowid = rowid

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
        if self.rowid is not None:
            field, ids = self.rowid
            table = table.append_column(field.key, rowid_array(self.table, ids, lo, hi - lo))
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
        position = BatchPosition(partition)
        for batch in self.children[0].execute(partition, ctx):
            with at_position(position):
                out = filter_batch(batch, self.predicate)
            position.offset += batch.num_rows
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
        position = BatchPosition(partition)        # for row ids and per-partition random sequences
        for batch in self.children[0].execute(partition, ctx):
            if not self.exprs:
                yield rows_only(batch.num_rows)   # no columns, but the rows still count
                continue
            arrays = []
            with at_position(position):
                for e in self.exprs:
                    arr = evaluate_array(e, batch)
                    if isinstance(arr, pa.ChunkedArray):
                        arr = arr.combine_chunks()
                    arrays.append(arr)
            position.offset += batch.num_rows
            yield pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class LimitExec(ExecNode):
    """Skip ``offset`` rows, then pass at most ``limit`` rows of each partition.

    With ``percent`` the limit is ``floor(percent / 100 * n)`` for the partition's ``n`` rows
    (a double product, as DuckDB computes it), so the rows are held until all have arrived.
    """

    name = "Limit"

    def __init__(self, child: ExecNode, limit: int | None, offset: int = 0, percent: float | None = None):
        super().__init__([child], child.fields, child.partitions)
        self.limit = limit
        self.offset = offset
        self.percent = percent

    def describe(self):
        text = f"Limit: {self.limit if self.limit is not None else 'ALL'}" if self.percent is None else \
            f"Limit: {self.percent:g} PERCENT"
        return text + (f" offset={self.offset}" if self.offset else "")

    def _execute(self, partition, ctx):
        skip = self.offset
        left = self.limit
        batches = self.children[0].execute(partition, ctx)
        if self.percent is not None:
            batches = list(batches)
            left = math.floor(self.percent / 100.0 * sum(b.num_rows for b in batches))
        if left == 0:
            return
        for batch in batches:
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


def sort_indices(table: pa.Table | pa.RecordBatch, keys: tuple[SortKey, ...]) -> pa.Array:
    """Row order for ORDER BY ``keys`` (NULLS FIRST/LAST per key, NaN above every number); a stable sort."""
    key_table, spec = sort_key_table(table, keys)
    if not spec:
        return pa.array(np.arange(table.num_rows))
    return pc.sort_indices(key_table, sort_keys=spec)


# more sorted runs than this are first merged into fewer, longer runs, so that one merge step
# never probes (and holds a batch of) too many runs at once
MERGE_FAN_IN = 64


class SortExec(ExecNode):
    """Sort each partition; with ``fetch``, keep only the first rows (top-k).

    Input batches are buffered while the memory budget (``ctx.memory``) grants
    their bytes. When it refuses, the buffer is sorted and written to a spill
    file as one sorted run, and buffering starts again. If nothing spilled the
    whole partition is sorted at once; otherwise the buffer left at the end is
    one more run and all runs are merged (:func:`quarry.physical.merge.merge_sorted`),
    reading spill files batch by batch and deleting each once read.

    With ``fetch`` the buffer is cut back to its best ``fetch`` rows whenever
    it holds twice ``max(fetch, batch_rows)`` rows, so a top-k holds little
    more than k rows whatever its input.
    """

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

    def _order(self, batches: list[pa.RecordBatch]) -> tuple[pa.Table, pa.Array]:
        """The buffered rows as one table, and the order of its first ``fetch`` rows (all without fetch)."""
        table = pa.Table.from_batches(batches, schema=self.children[0].schema)
        idx = sort_indices(table, self.keys)
        if self.fetch is not None:
            idx = idx.slice(0, self.fetch)
        return table, idx

    def _sorted(self, batches: list[pa.RecordBatch]) -> pa.Table:
        table, idx = self._order(batches)
        return table.take(idx)

    def _execute(self, partition, ctx):
        if self.fetch == 0:
            return
        memory = ctx.memory
        batch_rows = ctx.config.batch_rows
        compact_at = None if self.fetch is None else 2 * max(self.fetch, batch_rows)
        buffer: list[pa.RecordBatch] = []
        rows = reserved = 0
        runs: list[SpillFile] = []
        try:
            for batch in self.children[0].execute(partition, ctx):
                nbytes = batch.nbytes
                if not memory.try_reserve(nbytes):
                    if self.fetch is not None and rows > self.fetch:
                        # a top-k first drops the rows it will never return
                        buffer, rows, reserved = self._keep_top(buffer, memory, reserved)
                    if not memory.try_reserve(nbytes):
                        # a top-k whose best rows are fewer than a batch keeps them: a spill file would
                        # free almost nothing (comparing rows, not bytes: under a budget shared with other
                        # partitions a small input batch would otherwise spill a small top-k)
                        if buffer and (self.fetch is None or rows > batch_rows):
                            runs.append(self._spill(buffer, ctx))
                            buffer, rows = [], 0
                            memory.release(reserved)
                            reserved = 0
                        memory.reserve(nbytes)   # one batch is always held, even over the budget
                reserved += nbytes
                buffer.append(batch)
                rows += batch.num_rows
                if compact_at is not None and rows > compact_at:
                    buffer, rows, reserved = self._keep_top(buffer, memory, reserved)
            if not runs:
                if not buffer:
                    return
                table = self._sorted(buffer)
                buffer = []
                yield from batches_of(table, batch_rows)
                return
            self.add_metric("spill_files", len(runs))
            self.add_metric("spill_bytes", sum(r.nbytes for r in runs))
            while len(runs) > MERGE_FAN_IN:
                runs = self._merge_runs(runs, ctx)
            sources = [_read_and_delete(r) for r in runs]
            if buffer:
                sources.append(batches_of(self._sorted(buffer), batch_rows))
                buffer = []
            yield from merge_sorted(sources, self.keys, self.schema, batch_rows, self.fetch)
        finally:
            memory.release(reserved)
            for r in runs:
                r.delete()

    def _keep_top(self, buffer: list[pa.RecordBatch], memory, reserved: int):
        """The best ``fetch`` buffered rows (as the new buffer), their row count and reserved bytes."""
        kept = self._sorted(buffer).combine_chunks().to_batches()
        nbytes = sum(b.nbytes for b in kept)
        memory.release(reserved)
        memory.reserve(nbytes)
        return kept, sum(b.num_rows for b in kept), nbytes

    def _spill(self, buffer: list[pa.RecordBatch], ctx: ExecContext) -> SpillFile:
        """Sort the buffered rows and write them to a new spill file: one sorted run."""
        table, idx = self._order(buffer)
        table = table.combine_chunks()   # take() from a chunked table would concatenate per call
        run = ctx.memory.new_spill_file(self.schema)
        step = ctx.config.batch_rows
        for start in range(0, len(idx), step):
            run.write(table.take(idx.slice(start, step)))
        return run.finish()

    def _merge_runs(self, runs: list[SpillFile], ctx: ExecContext) -> list[SpillFile]:
        """Merge groups of ``MERGE_FAN_IN`` runs into one run each (one more pass over the spilled rows)."""
        merged = []
        for start in range(0, len(runs), MERGE_FAN_IN):
            group = runs[start:start + MERGE_FAN_IN]
            if len(group) == 1:
                merged.extend(group)
                continue
            out = ctx.memory.new_spill_file(self.schema)
            merged.append(out)
            for batch in merge_sorted([_read_and_delete(r) for r in group], self.keys, self.schema,
                                      ctx.config.batch_rows, self.fetch):
                out.write(batch)
            out.finish()
            self.add_metric("spill_files", 1)
            self.add_metric("spill_bytes", out.nbytes)
        return merged


def _read_and_delete(run: SpillFile) -> Iterator[pa.RecordBatch]:
    """The batches of a spill file, deleting the file once they have all been read."""
    try:
        yield from run.batches()
    finally:
        run.delete()


class MergeSortedExec(ExecNode):
    """Merge the partitions of a child whose every partition is sorted by ``keys`` into one sorted partition.

    The child's partitions run in parallel (``run_partitions``); their sorted
    batches are merged by :func:`quarry.physical.merge.merge_sorted`, holding one
    batch of each partition in the merge, and stopping after ``fetch`` rows when
    given. In-process the partitions' outputs are collected first (and freed as
    they are merged); a distributed executor replaces the child by a reader of
    the tasks' sorted outputs, which is why the child is used only through
    ``execute``/``run_partitions``.
    """

    name = "MergeSorted"

    def __init__(self, child: ExecNode, keys: tuple[SortKey, ...], fetch: int | None = None):
        super().__init__([child], child.fields, 1)
        self.keys = keys
        self.fetch = fetch

    def describe(self):
        text = "MergeSorted: " + ", ".join(map(str, self.keys))
        if self.fetch is not None:
            text += f" fetch={self.fetch}"
        return text

    def _execute(self, partition, ctx):
        if self.fetch == 0:
            return
        parts = run_partitions(self.children[0], ctx)
        sources = [_drain(deque(p)) for p in parts]
        parts.clear()
        yield from merge_sorted(sources, self.keys, self.schema, ctx.config.batch_rows, self.fetch)


def _drain(batches: deque) -> Iterator[pa.RecordBatch]:
    """Yield and forget batches, so that merged input is freed while the merge goes on."""
    while batches:
        yield batches.popleft()


# ---------------------------------------------------------------------------- exchanges


class RepartitionExec(ExecNode):
    """Hash exchange: route every row to partition ``hash(keys) % n``.

    In one process the exchange computes all its buckets at once and holds them, since its
    consumers read their buckets in parallel. Into one partition there is nothing to route:
    it streams its input through (memory follows the consumer, not the input), unless a join
    holds it as its build side (``held``), which reads it whole more than once.
    """

    name = "Repartition"

    def __init__(self, child: ExecNode, keys: list[Expr], partitions: int):
        super().__init__([child], child.fields, partitions)
        self.keys = keys
        self.held = False
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
                for i, piece in split_by_ids(batch, pid, n):
                    buckets[i].append(piece)
        return buckets

    def _execute(self, partition, ctx):
        if self.partitions == 1 and not self.held:
            for batch in stream_partitions(self.children[0], ctx):
                self.add_metric("shuffle_rows", batch.num_rows)
                yield batch
            return
        yield from self._buckets(ctx)[partition]

    def all_batches(self, ctx: ExecContext) -> list[pa.RecordBatch]:
        """Every batch of every output partition (computing the exchange if it has not run yet)."""
        return [b for bucket in self._buckets(ctx) for b in bucket]


class GatherExec(ExecNode):
    """Merge all input partitions into one, batches passed on as they come."""

    name = "Gather"

    def __init__(self, child: ExecNode):
        super().__init__([child], child.fields, 1)

    def _execute(self, partition, ctx):
        yield from stream_partitions(self.children[0], ctx)


class BroadcastExec(ExecNode):
    """Give every one of ``partitions`` consumers all input rows (computed once)."""

    name = "Broadcast"

    def __init__(self, child: ExecNode, partitions: int):
        super().__init__([child], child.fields, partitions)

    def _execute(self, partition, ctx):
        yield from self.all_batches(ctx)

    def all_batches(self, ctx: ExecContext) -> list[pa.RecordBatch]:
        """All input rows (computed once per query)."""
        key = ("broadcast", id(self))
        with ctx.exchange_lock(key):
            if key not in ctx.buffers:
                ctx.buffers[key] = [b for part in run_partitions(self.children[0], ctx) for b in part]
        return ctx.buffers[key]


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
