"""Tables whose file list comes from a table format's log (Delta, Iceberg), pruned before any footer.

A :class:`SnapshotTable` is a :class:`~quarry.catalog.providers.ParquetTable` whose files, their row
counts, per-file min/max/null-count statistics and partition values are known from the table's own
metadata (a Delta log's add actions, an Iceberg snapshot's manifests). Footers are not read when the
table is opened: the physical planner calls :meth:`SnapshotTable.for_scan` with the scan's pushed-down
predicate, which drops the files the metadata rules out (:meth:`SnapshotTable.keep_files`: the same
statistics test as row groups, or a format's own planner) and reads footers only for the rest, whose
row groups are then pruned as for plain Parquet. ``files_skipped`` counts what the metadata dropped.

Anything else that asks for ``row_groups`` (a scan without a predicate) gets every file's, read on first
use; ``statistics()`` (join ordering) comes from the file-level numbers and reads no footer.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

import pyarrow as pa

from quarry.catalog.providers import ColumnStats, ParquetTable, RowGroupInfo, TableStats
from quarry.errors import DataError


_LISTING_LOCK = threading.RLock()       # one snapshot's lazy file listing at a time


@dataclass(frozen=True)
class DataFile:
    """One data file of a snapshot as the table's metadata describes it (``num_rows`` -1: unknown)."""

    path: str
    size: int | None = None
    mtime_ns: int | None = None                      # remote footers are cached by size and mtime
    num_rows: int = -1
    stats: dict = field(default_factory=dict)         # column name -> ColumnStats (file level)
    partition: dict = field(default_factory=dict)     # partition columns not stored in the file


def file_as_row_group(f: DataFile) -> RowGroupInfo:
    """A whole file as one pruning unit (:func:`quarry.catalog.pruning.can_skip` judges it)."""
    return RowGroupInfo(f.path, -1, f.num_rows, f.size or 0, f.stats, f.partition)


class SnapshotTable(ParquetTable):
    """Parquet data files listed by a table format's metadata; footers are read only for kept files."""

    kind = "snapshot"

    def _set_files(self, files: list[DataFile] | None) -> None:
        """The snapshot's data files; None: not known yet (:meth:`_all_files` lists them on first use)."""
        self._data_files = None if files is None else list(files)
        self._paths = self._sizes = None
        self._file_meta = {}
        self._footers = {}                # footers read so far, shared with this table's pruned copies
        self._row_groups = None
        self.files_skipped = 0

    def _all_files(self) -> list[DataFile]:
        """Every data file of the snapshot, for a format that lists them lazily."""
        raise NotImplementedError

    @property
    def data_files(self) -> list[DataFile]:
        if self._data_files is None:
            # not self._lock: row_groups holds that one while it asks for the files
            with _LISTING_LOCK:
                if self._data_files is None:
                    self._data_files = self._all_files()
        return self._data_files

    @property
    def files(self) -> list[str]:
        if self._paths is None:
            self._paths = [f.path for f in self.data_files]
        return self._paths

    @files.setter
    def files(self, value) -> None:
        self._paths = value

    @property
    def file_sizes(self) -> dict[str, int]:
        if self._sizes is None:
            self._sizes = {f.path: f.size for f in self.data_files if f.size is not None}
        return self._sizes

    @file_sizes.setter
    def file_sizes(self, value) -> None:
        self._sizes = value

    def file_count(self) -> int:
        """How many data files the snapshot has (a format may know without listing them)."""
        return len(self.data_files)

    # every row group of the kept files; read on first use
    @property
    def row_groups(self) -> list[RowGroupInfo]:
        if self._row_groups is None:
            with self._lock:
                if self._row_groups is None:
                    self._row_groups = self._load_row_groups()
        return self._row_groups

    @row_groups.setter
    def row_groups(self, value) -> None:
        self._row_groups = value

    def _load_row_groups(self) -> list[RowGroupInfo]:
        shared = getattr(self, "_footers", None)
        shared = {} if shared is None else shared
        for f in self.data_files:
            if f.path not in self._file_meta and f.path in shared:
                self._file_meta[f.path] = shared[f.path]
        missing = [f for f in self.data_files if f.path not in self._file_meta]
        if self.storage is not None:
            from quarry.catalog.filesystems import RemoteFile, read_footers
            remote = [RemoteFile(f.path, f.size, f.mtime_ns or 0) for f in missing]
            if getattr(self, "file_etags", None) is None:
                self.file_etags = {}
            self._file_meta.update(read_footers(remote, self.storage, etags=self.file_etags, immutable=True))
        else:
            import pyarrow.parquet as pq
            for f in missing:
                try:
                    self._file_meta[f.path] = pq.ParquetFile(f.path).metadata
                except (OSError, pa.ArrowException) as exc:
                    raise DataError(f"cannot read `{f.path}` of {self.kind} table `{self.location}`: {exc}",
                                    hint="the table's files changed outside the table format; expired or vacuumed?"
                                    ) from None
        for f in missing:
            shared[f.path] = self._file_meta[f.path]
        out: list[RowGroupInfo] = []
        for f in self.data_files:
            self._collect_row_groups(f.path, self._file_meta[f.path], f.partition, out)
        return out

    def keep_files(self, predicate, by_name) -> list[DataFile] | None:
        """The files ``predicate`` may match, judged by the metadata's per-file statistics (None: all)."""
        from quarry.catalog.pruning import can_skip
        keep = [f for f in self.data_files if not can_skip(predicate, file_as_row_group(f), by_name)]
        return None if len(keep) == len(self.data_files) else keep

    def for_scan(self, predicate, table_fields) -> "SnapshotTable":
        """This table with only the files ``predicate`` (a scan's pushed-down filter) may match."""
        if predicate is None:
            return self
        by_name = {f.name: f for f in table_fields}
        keep = self.keep_files(predicate, by_name)
        if keep is None:
            return self
        pruned = copy.copy(self)
        pruned._footers = getattr(self, "_footers", None)      # (copy.copy goes through __getstate__)
        kept = {f.path for f in keep}
        pruned._data_files = list(keep)
        pruned._paths = pruned._sizes = None
        pruned._file_meta = {p: m for p, m in self._file_meta.items() if p in kept}
        pruned._row_groups = None
        pruned._statistics = None
        pruned._dictionary_columns = None
        pruned.files_skipped = self.files_skipped + self.file_count() - len(keep)
        return pruned

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_footers", None)       # the plan carries the kept files' footers in _file_meta
        return state

    def statistics(self) -> TableStats:
        cached = getattr(self, "_statistics", None)
        if cached is None:
            cached = self._statistics = self._file_statistics()
        return cached

    def _file_statistics(self) -> TableStats:
        """Row count and column ranges from the metadata's per-file numbers (no footer is read)."""
        files = self.data_files
        rows = sum(f.num_rows for f in files) if all(f.num_rows >= 0 for f in files) else None
        size = sum(f.size for f in files) if all(f.size is not None for f in files) else None
        columns = {}
        for col in self.schema.names:
            lo = hi = None
            nulls = 0
            known = bool(files)
            for f in files:
                if col in f.partition:
                    v = f.partition[col]
                    s = ColumnStats(v, v, f.num_rows if v is None else 0)
                else:
                    s = f.stats.get(col)
                if s is None or s.min is None or s.max is None or s.null_count is None:
                    known = False
                    break
                try:
                    lo = s.min if lo is None or s.min < lo else lo
                    hi = s.max if hi is None or s.max > hi else hi
                except TypeError:
                    known = False
                    break
                nulls += s.null_count
            columns[col] = ColumnStats(lo, hi, nulls) if known else ColumnStats()
        return TableStats(rows, columns, size)

    def dictionary_columns(self) -> frozenset[str]:
        self.row_groups        # the footers of the kept files
        return super().dictionary_columns()


__all__ = ["DataFile", "SnapshotTable", "file_as_row_group"]
