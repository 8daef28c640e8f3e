"""A memory budget for operator state, and spill files (Arrow IPC) for state that exceeds it.

Blocking operators (hash aggregation, hash join, sort) hold rows until their
input ends. Each reserves the bytes it buffers from the run's
:class:`MemoryBudget`; when a reservation is refused it writes state to
:class:`SpillFile`\\ s and goes on with less in memory. Spill files live in one
private directory per run, removed by :meth:`MemoryBudget.cleanup` however the
run ends.

    >>> budget = MemoryBudget(limit=1 << 20)
    >>> budget.try_reserve(4096)
    True
    >>> budget.release(4096); budget.cleanup()
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
from typing import Iterator

import pyarrow as pa
import pyarrow.ipc as ipc

from quarry.compute.hashing import partition_ids, split_by_ids


class MemoryBudget:
    """Bytes of operator state one task (or one in-process query) may hold, and its spill files."""

    def __init__(self, limit: int, spill_dir: str | None = None):
        self.limit = int(limit)
        self.used = 0
        self.peak = 0
        self.spill_bytes = 0       # bytes written to spill files, for metrics
        self.spill_files = 0
        self._root = spill_dir
        self._dir: str | None = None
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def try_reserve(self, nbytes: int) -> bool:
        """Take ``nbytes`` from the budget if they fit; False means: spill first."""
        with self._lock:
            if self.used + nbytes > self.limit:
                return False
            self.used += nbytes
            self.peak = max(self.peak, self.used)
            return True

    def reserve(self, nbytes: int) -> None:
        """Take ``nbytes`` even over the limit (state that cannot be spilled any further)."""
        with self._lock:
            self.used += nbytes
            self.peak = max(self.peak, self.used)

    def release(self, nbytes: int) -> None:
        with self._lock:
            self.used = max(0, self.used - nbytes)

    def new_spill_file(self, schema: pa.Schema) -> "SpillFile":
        """A new spill file in this run's private directory."""
        with self._lock:
            if self._dir is None:
                root = self._root or tempfile.gettempdir()
                os.makedirs(root, exist_ok=True)
                self._dir = tempfile.mkdtemp(prefix="quarry-spill-", dir=root)
            path = os.path.join(self._dir, f"spill-{next(self._counter)}.arrow")
            self.spill_files += 1
        return SpillFile(path, schema, self)

    def cleanup(self) -> None:
        """Remove every spill file of this run."""
        with self._lock:
            d, self._dir = self._dir, None
        if d is not None:
            shutil.rmtree(d, ignore_errors=True)


class SpillFile:
    """An Arrow IPC file written once, batch by batch, then read back batch by batch and deleted."""

    def __init__(self, path: str, schema: pa.Schema, budget: MemoryBudget):
        self.path = path
        self.schema = schema
        self.budget = budget
        self.rows = 0
        self.nbytes = 0
        self._sink = pa.OSFile(path, "wb")
        self._writer = ipc.new_file(self._sink, schema)

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        if data.num_rows == 0:
            return
        if isinstance(data, pa.Table):
            self._writer.write_table(data)
        else:
            self._writer.write_batch(data)
        self.rows += data.num_rows

    def finish(self) -> "SpillFile":
        """Close the writer; the file can now be read."""
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = None
            self.nbytes = os.path.getsize(self.path)
            with self.budget._lock:
                self.budget.spill_bytes += self.nbytes
        return self

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The batches written, in order (read one at a time: a memory map's pages would stay in RSS)."""
        self.finish()
        with pa.OSFile(self.path) as source:
            reader = ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)

    def read_all(self) -> pa.Table:
        batches = list(self.batches())
        return pa.Table.from_batches(batches, schema=self.schema) if batches else self.schema.empty_table()

    def delete(self) -> None:
        self.finish()
        try:
            os.remove(self.path)
        except OSError:
            pass


# -- hash-partitioned spilling (shared by the spilling hash aggregation and the grace hash join) --

SPILL_FANOUT = 16      # spill files a spilling operator splits its rows into
SPILL_SEED = 0x5B1    # non-zero: the exchange feeding the operator partitioned on seed 0


class HashSpill:
    """Rows written to ``fanout`` spill files by a seeded hash of their keys: equal keys share a file.

    Files are created on the first row routed to them, so ``files[i]`` is None for an
    empty bucket. A bucket too big to process alone can be split again with another
    seed (``seed`` must differ from every hash that already routed these rows).

        >>> spill = HashSpill(budget, batch.schema, seed=SPILL_SEED)    # doctest: +SKIP
        >>> spill.write(batch, [batch.column("k")])                    # doctest: +SKIP
        >>> [f.rows if f else 0 for f in spill.finish()]               # doctest: +SKIP
    """

    def __init__(self, budget: MemoryBudget, schema: pa.Schema, fanout: int = SPILL_FANOUT,
                 seed: int = SPILL_SEED):
        if not seed:
            raise ValueError("a spill partition needs a non-zero seed")
        self.budget = budget
        self.schema = schema
        self.fanout = fanout
        self.seed = seed
        self.files: list[SpillFile | None] = [None] * fanout

    def write(self, data: pa.RecordBatch | pa.Table, keys: list) -> None:
        """Route each row of ``data`` to the file of its keys' bucket (one take, one slice per bucket)."""
        if data.num_rows == 0:
            return
        ids = partition_ids(keys, self.fanout, self.seed)
        for bucket, rows in split_by_ids(data, ids, self.fanout):
            if self.files[bucket] is None:
                self.files[bucket] = self.budget.new_spill_file(self.schema)
            self.files[bucket].write(rows)

    def finish(self) -> list[SpillFile | None]:
        """Close every file for reading; one entry per bucket, None where no row went."""
        for f in self.files:
            if f is not None:
                f.finish()
        return list(self.files)

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self.files if f is not None)

    @property
    def file_count(self) -> int:
        return sum(f is not None for f in self.files)

    def delete(self) -> None:
        """Remove every file not removed yet (safe to call more than once)."""
        for i, f in enumerate(self.files):
            if f is not None:
                f.delete()
                self.files[i] = None
