"""Sort keys as Arrow columns, and a k-way merge of sorted runs in bounded memory.

An external sort writes sorted runs to spill files; a parallel ORDER BY sorts
each partition. Both end by merging k inputs that are each sorted by the same
ORDER BY keys. :func:`merge_sorted` does that holding one batch per input, and
does all comparisons with Arrow's (stable) ``sort_indices``, so NULLS
FIRST/LAST, DESC and NaN order exactly as a plain sort would:

- the *bound* is the smallest among the last buffered rows of the inputs that
  may still have more rows; nothing an input yields later sorts before it;
- every buffered row that sorts no later than the bound can be emitted now.
  In each (sorted) buffer those rows are a prefix; its length is found for all
  inputs at once by two small sorts: one of the last rows of blocks of about
  sqrt(batch) rows, then one of the rows of the block where the bound falls;
- the prefixes are sorted together and emitted; the input whose last row was
  the bound has emptied its buffer and reads its next batch.

Each input row is sorted once more in the merge (with the rows emitted beside
it), so merging costs about one more sort of the data, plus two sorts of about
``k * sqrt(B)`` rows for each batch of ``B`` rows read.

    >>> import pyarrow as pa
    >>> from quarry.logical.expressions import ColumnRef, Field, SortKey
    >>> x = Field("x", pa.int64(), id=1)
    >>> runs = [[pa.record_batch({"x#1": [1, 4, 6]})], [pa.record_batch({"x#1": [2, 3, 9]})]]
    >>> out = merge_sorted(runs, (SortKey(ColumnRef(x), True, False),), runs[0][0].schema, 1024)
    >>> pa.Table.from_batches(list(out))["x#1"].to_pylist()
    [1, 2, 3, 4, 6, 9]
"""

from __future__ import annotations

import math
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.logical.expressions import SortKey
from quarry.compute.expr_eval import evaluate_array
from quarry.compute.kernels import interval_micros


SortSpec = list[tuple[str, str, str]]


def sort_key_table(data: pa.Table | pa.RecordBatch, keys: tuple[SortKey, ...]) -> tuple[pa.Table, SortSpec]:
    """The ORDER BY ``keys`` of ``data`` as a table of key columns, and the ``sort_keys`` that order it.

    Arrow keeps NaN beside the NULLs; SQL (and DuckDB) sorts NaN above every
    number, so a float key is preceded by an ``is_nan`` column (NULL for NULL).
    An INTERVAL key sorts by its length, a month counted as 30 days, as DuckDB sorts it.
    """
    cols = {}
    spec: SortSpec = []
    for i, k in enumerate(keys):
        values = evaluate_array(k.expr, data)
        order = "ascending" if k.ascending else "descending"
        nulls = "at_start" if k.nulls_first else "at_end"
        if pa.types.is_interval(values.type):
            values = interval_micros(values)          # Arrow cannot sort intervals; DuckDB's order
        if pa.types.is_floating(values.type):
            cols[f"__nan{i}"] = pc.is_nan(values)
            spec.append((f"__nan{i}", order, nulls))
        cols[f"__k{i}"] = values
        spec.append((f"__k{i}", order, nulls))
    if not cols:
        return pa.table({"__none": pa.nulls(data.num_rows)}).drop_columns(["__none"]), spec
    return pa.table(cols), spec


class _Run:
    """One sorted input: its current batch, the sort keys of that batch, and how many rows were emitted.

    The keys of the last row of every block of ``block`` rows are kept apart
    (``ends``), so finding where the bound falls takes one sort of the block
    ends and one of the rows of a single block, instead of probing row by row.
    """

    __slots__ = ("batches", "data", "keys", "ends", "block", "start", "more")

    def __init__(self, batches: Iterable[pa.RecordBatch]):
        self.batches = iter(batches)
        self.data: pa.RecordBatch | None = None
        self.keys: pa.Table | None = None
        self.ends: pa.Table | None = None
        self.block = 1
        self.start = 0        # rows of ``data`` already emitted
        self.more = True      # the input may yield more batches

    def __len__(self) -> int:
        return 0 if self.data is None else self.data.num_rows - self.start

    def refill(self, keys: tuple[SortKey, ...]) -> SortSpec | None:
        """Read the next non-empty batch if every buffered row was emitted; the sort spec of its keys."""
        while self.more and len(self) == 0:
            batch = next(self.batches, None)
            if batch is None:
                self.more = False
                self.data = self.keys = self.ends = None
                return None
            if batch.num_rows:
                n = batch.num_rows
                self.data, self.start = batch, 0
                self.keys, spec = sort_key_table(batch, keys)
                # about sqrt(n) blocks of about sqrt(n) rows: both searches sort ~sqrt(n) rows per run
                self.block = max(1, math.isqrt(n))
                last_rows = np.minimum(np.arange(self.block, n + self.block, self.block), n) - 1
                self.ends = self.keys.take(pa.array(last_rows))
                return spec
        return None

    def last_key(self) -> pa.Table:
        return self.keys.slice(self.data.num_rows - 1, 1)

    def take(self, n: int) -> tuple[pa.RecordBatch, pa.Table]:
        """Remove and return the next ``n`` buffered rows and their keys."""
        taken = self.data.slice(self.start, n), self.keys.slice(self.start, n)
        self.start += n
        return taken


def _not_after(parts: list[pa.Table], bound: pa.Table, spec: SortSpec) -> np.ndarray:
    """For each row of ``parts`` (concatenated): does it sort no later than the one-row ``bound``? (ties: yes)"""
    # the bound goes last: a stable sort keeps the rows equal to it before it
    table = pa.concat_tables([*parts, bound]).combine_chunks()
    n = table.num_rows - 1
    order = pc.sort_indices(table, sort_keys=spec).to_numpy()
    pos = int(np.flatnonzero(order == n)[0])
    result = np.zeros(n, dtype=bool)
    result[order[:pos]] = True
    return result


def _count_per_part(flags: np.ndarray, sizes: list[int]) -> np.ndarray:
    """How many flags are set in each consecutive segment of ``sizes``."""
    if not sizes:
        return np.zeros(0, dtype=np.int64)
    segment = np.repeat(np.arange(len(sizes)), sizes)
    return np.bincount(segment, weights=flags, minlength=len(sizes)).astype(np.int64)


def _prefix_lengths(runs: list[_Run], bound: pa.Table, spec: SortSpec) -> np.ndarray:
    """How many buffered rows of each run sort no later than ``bound`` (they are a prefix of it)."""
    if not runs:
        return np.zeros(0, dtype=np.int64)
    # the bound never decreases from one merge step to the next, so rows emitted earlier also sort
    # no later than it: counts are over whole batches, then the rows already emitted come off
    blocks = _count_per_part(_not_after([r.ends for r in runs], bound, spec), [r.ends.num_rows for r in runs])
    inner = [(i, int(m) * r.block) for i, (r, m) in enumerate(zip(runs, blocks)) if m < r.ends.num_rows]
    counts = np.array([min(int(m) * r.block, r.data.num_rows) for r, m in zip(runs, blocks)], dtype=np.int64)
    if inner:
        # the first block that ends after the bound holds the boundary: search its rows
        parts = [runs[i].keys.slice(first, runs[i].block) for i, first in inner]
        within = _count_per_part(_not_after(parts, bound, spec), [p.num_rows for p in parts])
        counts[[i for i, _ in inner]] += within
    # (clipped at zero only so that an input that is not sorted cannot stall the merge)
    return np.maximum(counts - np.array([r.start for r in runs], dtype=np.int64), 0)


def _merge_prefixes(parts: list[tuple[pa.RecordBatch, pa.Table]], spec: SortSpec,
                    schema: pa.Schema) -> pa.RecordBatch:
    """Sort together the row sets taken from several runs."""
    if len(parts) == 1:
        return parts[0][0]   # one run's rows are already in order
    data = pa.concat_batches([pa.RecordBatch.from_arrays(d.columns, schema=schema) for d, _ in parts])
    keys = pa.concat_tables([k for _, k in parts]).combine_chunks()
    return data.take(pc.sort_indices(keys, sort_keys=spec))


def merge_sorted(runs: list[Iterable[pa.RecordBatch]], keys: tuple[SortKey, ...], schema: pa.Schema,
                 batch_rows: int, fetch: int | None = None) -> Iterator[pa.RecordBatch]:
    """Merge inputs each sorted by ``keys`` into one sorted stream of batches of about ``batch_rows``.

    Holds one batch per input (plus the batch being emitted); stops after
    ``fetch`` rows when given. Rows that tie on the keys come out in any order.
    """
    out = _Batcher(schema, batch_rows, fetch)
    if out.full:
        return
    if not keys or len(runs) == 1:
        # nothing to interleave: inputs one after another
        for run in runs:
            for batch in run:
                yield from out.add(batch)
                if out.full:
                    return
        yield from out.flush()
        return
    state = [_Run(r) for r in runs]
    spec: SortSpec | None = None
    while not out.full:
        for r in state:
            spec = r.refill(keys) or spec
        live = [r for r in state if len(r)]
        if not live:
            break
        open_runs = [r for r in live if r.more]
        if not open_runs:
            # every remaining row is buffered: sort them all
            yield from out.add(_merge_prefixes([r.take(len(r)) for r in live], spec, schema))
            break
        lasts = pa.concat_tables([r.last_key() for r in open_runs]).combine_chunks()
        first = open_runs[pc.sort_indices(lasts, sort_keys=spec)[0].as_py()]
        bound = first.last_key()
        others = [r for r in live if r is not first]
        lengths = _prefix_lengths(others, bound, spec)
        parts = [first.take(len(first))]
        parts += [r.take(int(n)) for r, n in zip(others, lengths) if n]
        yield from out.add(_merge_prefixes(parts, spec, schema))
    yield from out.flush()


class _Batcher:
    """Re-cut a stream of batches into batches of about ``batch_rows``, stopping after ``fetch`` rows."""

    def __init__(self, schema: pa.Schema, batch_rows: int, fetch: int | None):
        self.schema = schema
        self.batch_rows = max(1, batch_rows)
        self.left = fetch            # rows still wanted (None: all)
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0

    @property
    def full(self) -> bool:
        return self.left is not None and self.left <= 0

    def add(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        if self.full or batch.num_rows == 0:
            return
        if self.left is not None:
            batch = batch.slice(0, self.left)
            self.left -= batch.num_rows
        self.pending.append(pa.RecordBatch.from_arrays(batch.columns, schema=self.schema))
        self.pending_rows += batch.num_rows
        if self.pending_rows >= self.batch_rows:
            whole = self.pending[0] if len(self.pending) == 1 else pa.concat_batches(self.pending)
            cut = whole.num_rows - whole.num_rows % self.batch_rows
            for start in range(0, cut, self.batch_rows):
                yield whole.slice(start, self.batch_rows)
            rest = whole.slice(cut)
            self.pending = [rest] if rest.num_rows else []
            self.pending_rows = rest.num_rows
        if self.full:
            yield from self.flush()

    def flush(self) -> Iterator[pa.RecordBatch]:
        if self.pending:
            whole = self.pending[0] if len(self.pending) == 1 else pa.concat_batches(self.pending)
            self.pending, self.pending_rows = [], 0
            yield whole
