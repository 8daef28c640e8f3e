"""Table providers: what a name in the catalog stands for, and what a scan reads.

* :class:`ParquetTable`: one file, a directory, a glob, or hive-partitioned
  ``k=v/`` folders. Footers are read once at registration: the schema, row
  counts and per-row-group min/max statistics that drive pruning and join order.
* :class:`MemoryTable`: an Arrow table in memory (``register(name, table)``,
  ``CREATE TABLE AS``, ``INSERT``); CSV files are loaded into one.
* :class:`ViewTable`: a named query, re-bound at each use.
"""

from __future__ import annotations

import datetime
import glob as globlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import numpy as np
import pyarrow.parquet as pq

from quarry.catalog.filesystems import is_remote, list_files
from quarry.errors import DataError, UnsupportedError
from quarry.logical.types import normalize, normalize_schema
from quarry.parallelism import arrow_threads

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# the pseudo-column DuckDB gives a table's rows: their number in the table (see rowid_array)
ROWID = "rowid"
SMALL_DICTIONARY_BYTES = 64 * 1024


@dataclass
class ColumnStats:
    """What is known about a column: min, max and NULL count (None = unknown)."""

    min: Any = None
    max: Any = None
    null_count: int | None = None


@dataclass
class TableStats:
    """Row count and per-column statistics of a table (None = unknown)."""

    row_count: int | None = None
    columns: dict[str, ColumnStats] = field(default_factory=dict)
    size_bytes: int | None = None


@dataclass(frozen=True)
class RowGroupInfo:
    """One unit of a Parquet scan: a row group of a file, with its statistics."""

    path: str
    index: int
    num_rows: int
    total_bytes: int
    stats: dict[str, ColumnStats]
    partition: dict[str, Any]


def constant_array(value, dtype: pa.DataType, length: int) -> pa.Array:
    """An array of ``length`` copies of ``value`` (built without a Python loop)."""
    if value is None:
        return pa.nulls(length, dtype)
    return pa.array([value], dtype).take(pa.array(np.zeros(length, dtype=np.int32)))


class TableProvider:
    """Base of everything a catalog name can stand for."""

    name: str
    schema: pa.Schema
    kind = "table"

    def statistics(self) -> TableStats:
        return TableStats()


# ---------------------------------------------------------------------------


def expand_paths(location: str | os.PathLike | list) -> list[str]:
    """Turn a file, directory, glob or list of those into a sorted list of data files."""
    if isinstance(location, (list, tuple)):
        out = []
        for loc in location:
            out.extend(expand_paths(loc))
        return out
    loc = os.fspath(location)
    if is_remote(loc):
        return [f.uri for f in list_files(loc)]
    if any(ch in loc for ch in "*?["):
        files = sorted(p for p in globlib.glob(loc, recursive=True) if os.path.isfile(p))
        if not files:
            raise DataError(f"no files match `{loc}`", hint="check the path and the glob pattern")
        return files
    if os.path.isdir(loc):
        files = []
        for root, dirs, names in os.walk(loc):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            for n in sorted(names):
                if not n.startswith((".", "_")) and not n.endswith((".crc", ".tmp")):
                    files.append(os.path.join(root, n))
        if not files:
            raise DataError(f"directory `{loc}` contains no data files")
        return files
    if not os.path.exists(loc):
        raise DataError(f"file `{loc}` does not exist", hint="check the path (it is relative to "
                        f"{os.getcwd()})")
    return [loc]


def _parse_partition_value(text: str):
    if text == HIVE_NULL:
        return None
    return text


def _infer_partition_type(values: list) -> pa.DataType:
    present = [v for v in values if v is not None]
    if not present:
        return pa.string()
    try:
        [int(v) for v in present]
        return pa.int64()
    except ValueError:
        pass
    try:
        [datetime.date.fromisoformat(v) for v in present]
        return pa.date32()
    except ValueError:
        return pa.string()


def hive_partitions(root: str, files: list[str]) -> tuple[list[str], list[dict[str, str | None]]]:
    """Partition keys and per-file values from ``k=v`` folders below ``root``."""
    keys: list[str] = []
    per_file = []
    remote = is_remote(root)
    for f in files:
        if remote:
            # object-store keys below the listed prefix (no directories to ask about)
            rel = f[len(root):].strip("/").rpartition("/")[0] if f.startswith(root.rstrip("/") + "/") else ""
        else:
            rel = os.path.relpath(os.path.dirname(f), root) if os.path.isdir(root) else ""
        values = {}
        if rel and rel != ".":
            for part in Path(rel).parts:
                if "=" in part:
                    k, v = part.split("=", 1)
                    values[k] = _parse_partition_value(v)
                    if k not in keys:
                        keys.append(k)
        per_file.append(values)
    return keys, per_file


def _stat_value(value, arrow_type: pa.DataType):
    """Parquet statistics come back as Python values; make them comparable with literals."""
    if value is None:
        return None
    if isinstance(value, bytes) and (pa.types.is_string(arrow_type) or pa.types.is_string_view(arrow_type)
                                     or pa.types.is_large_string(arrow_type)):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value


class ParquetTable(TableProvider):
    """Parquet files as one table; hive ``k=v`` folders add partition columns."""

    kind = "parquet"

    def __init__(self, name: str, location, *, hive_partitioning: bool | None = None, listings=None):
        self.name = name
        self.location = location
        self._file_meta = {}
        self._lock = threading.Lock()
        # remote files: the credentials to read them (they travel with the plan to the workers), and
        # each file's size, so a read needs no request to learn it
        self.storage = None
        self.file_sizes: dict[str, int] = {}
        self.file_etags: dict[str, str] = {}       # the ETag each remote footer was read at
        if is_remote(location):
            keys, values = self._list_remote(location, hive_partitioning, listings)
            file_schemas = [self._file_meta[path].schema.to_arrow_schema() for path in self.files]
        else:
            self.files = [f for f in expand_paths(location)]
            root = os.fspath(location) if isinstance(location, (str, os.PathLike)) and os.path.isdir(location) else ""
            keys, values = hive_partitions(root, self.files) if root and hive_partitioning is not False else ([], [{}] * len(self.files))
            file_schemas = []
            for path in self.files:
                try:
                    pf = pq.ParquetFile(path)
                except (pa.ArrowException, OSError) as exc:
                    raise DataError(f"cannot read Parquet file `{path}`: {exc}",
                                    hint="the file is missing, not Parquet, or corrupt; regenerate or remove it") from exc
                file_schemas.append(pf.schema_arrow)
                self._file_meta[path] = pf.metadata
        self.partition_keys = keys
        self.row_groups: list[RowGroupInfo] = []
        try:
            raw = pa.unify_schemas(file_schemas) if len(file_schemas) > 1 else file_schemas[0]
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"the files of `{name}` have incompatible schemas: {exc}",
                            hint="read the files separately, or rewrite them with one schema") from exc
        self.file_schema = raw
        part_types = {k: _infer_partition_type([v.get(k) for v in values]) for k in keys}
        self.partition_types = part_types
        fields = [pa.field(f.name, normalize(f.type), f.nullable) for f in raw if f.name not in part_types]
        fields += [pa.field(k, part_types[k], True) for k in keys]
        self.schema = pa.schema(fields)
        for path, pvals in zip(self.files, values):
            typed = {k: self._typed_partition_value(k, pvals.get(k)) for k in keys}
            self._collect_row_groups(path, self._file_meta[path], typed)

    def _list_remote(self, location, hive_partitioning, listings=None):
        """List remote files (unless ``listings`` of ``location`` are given) and fetch their footers
        (concurrently, cached): ``(keys, per-file values)``."""
        from quarry.catalog.filesystems import current_storage, list_locations, read_footers
        self.storage = current_storage()
        locations = list(location) if isinstance(location, (list, tuple)) else [location]
        self.files, keys, values = [], [], []
        remote_files = []
        # several locations (a list of paths) are listed at once, as the footers are fetched
        if listings is None:
            listings = list_locations([os.fspath(loc) for loc in locations], self.storage)
        for listing in listings:
            remote_files += listing.files
            paths = [f.uri for f in listing.files]
            self.files += paths
            if listing.root and hive_partitioning is not False:
                found, per_file = hive_partitions(listing.root, paths)
                keys += [k for k in found if k not in keys]
                values += per_file
            else:
                values += [{}] * len(paths)
        self.file_sizes = {f.uri: f.size for f in remote_files}
        self._file_meta.update(read_footers(remote_files, self.storage, etags=self.file_etags))
        return keys, values

    def semantic_key(self) -> tuple:
        """What this table reads, for ``sameSemantics`` (:mod:`quarry.logical.canonical`): the same files
        with the same partition columns are the same relation, whichever object lists them."""
        return ("parquet", tuple(self.files), tuple(self.partition_keys), str(self.schema))

    def __getstate__(self):
        # travels to worker processes inside physical plans; locks stay behind
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state.pop("_wire", None)          # quarry.execution.serialize's cached encoding of this object
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _typed_partition_value(self, key, text):
        if text is None:
            return None
        t = self.partition_types[key]
        if t == pa.int64():
            return int(text)
        if t == pa.date32():
            return datetime.date.fromisoformat(text)
        return text

    def _collect_row_groups(self, path, meta, partition, out: list | None = None):
        arrow_types = {f.name: f.type for f in self.file_schema}
        names = [meta.schema.column(i).path for i in range(meta.num_columns)]
        for rg in range(meta.num_row_groups):
            g = meta.row_group(rg)
            stats = {}
            for ci in range(g.num_columns):
                col = g.column(ci)
                name = names[ci]
                if name not in arrow_types:
                    continue
                s = col.statistics
                if s is None:
                    stats[name] = ColumnStats()
                    continue
                if s.has_min_max:
                    try:
                        lo, hi = s.min, s.max
                    except Exception:  # a logical type pyarrow cannot convert
                        lo = hi = None
                    stats[name] = ColumnStats(_stat_value(lo, arrow_types[name]), _stat_value(hi, arrow_types[name]),
                                              s.null_count if s.has_null_count else None)
                else:
                    stats[name] = ColumnStats(None, None, s.null_count if s.has_null_count else None)
            (self.row_groups if out is None else out).append(
                RowGroupInfo(path, rg, g.num_rows, g.total_byte_size, stats, partition))

    def row_offsets(self) -> dict[tuple[str, int], int]:
        """The ``rowid`` of each row group's first row, by ``(path, index)``: rows are numbered
        from 0 in file order (the sorted listing), then row-group order, as a table made from the
        files would number them."""
        cached = getattr(self, "_row_offsets", None)
        if cached is None:
            starts = np.cumsum([0] + [rg.num_rows for rg in self.row_groups[:-1]]) if self.row_groups else []
            cached = self._row_offsets = {(rg.path, rg.index): int(start)
                                          for rg, start in zip(self.row_groups, starts)}
        return cached

    def statistics(self) -> TableStats:
        """Row count and per-column min/max/nulls over all row groups (computed once)."""
        cached = getattr(self, "_statistics", None)
        if cached is None:
            cached = self._statistics = self._compute_statistics()
        return cached

    def _compute_statistics(self) -> TableStats:
        rows = sum(rg.num_rows for rg in self.row_groups)
        cols: dict[str, ColumnStats] = {}
        for f in self.schema:
            lo = hi = None
            nulls = 0
            known = True
            for rg in self.row_groups:
                if f.name in rg.partition:
                    v = rg.partition[f.name]
                    s = ColumnStats(v, v, rg.num_rows if v is None else 0)
                else:
                    s = rg.stats.get(f.name)
                if s is None or s.min is None:
                    known = False
                    break
                try:
                    lo = s.min if lo is None or s.min < lo else lo
                    hi = s.max if hi is None or s.max > hi else hi
                except TypeError:
                    known = False
                    break
                nulls += s.null_count or 0
            cols[f.name] = ColumnStats(lo, hi, nulls) if known else ColumnStats()
        size = sum(rg.total_bytes for rg in self.row_groups)
        return TableStats(rows, cols, size)

    def dictionary_columns(self) -> frozenset[str]:
        """String columns stored with a small dictionary in every row group (low cardinality).

        Reading these as Arrow dictionaries lets a scan evaluate a predicate once per
        distinct value and decode only the rows that pass. A writer that fell back from
        dictionary to plain encoding leaves a large dictionary page, so size tells them apart.
        """
        cached = getattr(self, "_dictionary_columns", None)
        if cached is not None:
            return cached
        strings = {f.name for f in self.file_schema
                   if pa.types.is_string(f.type) or pa.types.is_string_view(f.type) or pa.types.is_large_string(f.type)}
        ok = set(strings)
        for path, meta in self._file_meta.items():
            for r in range(meta.num_row_groups):
                g = meta.row_group(r)
                for i in range(g.num_columns):
                    col = g.column(i)
                    name = col.path_in_schema
                    if name not in ok:
                        continue
                    if not col.has_dictionary_page or col.dictionary_page_offset is None:
                        ok.discard(name)
                    elif col.data_page_offset - col.dictionary_page_offset > SMALL_DICTIONARY_BYTES:
                        ok.discard(name)
        self._dictionary_columns = frozenset(ok)
        return self._dictionary_columns

    def _check_unchanged(self, path: str, source) -> None:
        """Refuse reading a remote file rewritten since its footer was read: the planned row groups
        and column chunks would be the old file's. Its cached footer is dropped, so registering again
        reads the new one."""
        from quarry.catalog.filesystems import etag_of, forget_footer
        planned = getattr(self, "file_etags", {}).get(path)
        current = etag_of(source) if planned is not None else None
        if planned is not None and current is not None and current != planned:
            source.close()
            forget_footer(path)
            raise DataError(f"`{path}` changed since the table was planned (its ETag is not the one its "
                            "footer was read at)", hint="register the table again, or run the query again")

    def column_names_in_file(self, path: str) -> dict[str, str | None] | None:
        """``{column: its name in the file at path, or None if absent}``; None: the names are the same."""
        return None

    def read_row_group(self, rg: RowGroupInfo, columns: list[str], open_files: dict | None = None,
                       dictionary: frozenset[str] = frozenset(), io=None) -> pa.Table:
        """Read the named columns of one row group, types normalized, partition columns filled.

        ``open_files`` caches readers by path for a caller that reads many row groups; ``io`` (a
        :class:`quarry.catalog.filesystems.IOCounter`) counts the bytes and requests of remote reads;
        columns named in ``dictionary`` come back as dictionary arrays (see
        :meth:`dictionary_columns`), the rest in their normalized type.
        """
        # a table format's file may hold a column under another name (Iceberg matches by field id)
        renamed = self.column_names_in_file(rg.path)
        in_file_name = (lambda c: c) if renamed is None else renamed.get
        file_cols = [in_file_name(c) for c in columns if c not in rg.partition and in_file_name(c) is not None]
        try:
            pf = open_files.get(rg.path) if open_files is not None else None
            if pf is None:
                in_file = set(self._file_meta[rg.path].schema.names)
                if self.storage is not None:
                    # ranged reads of only the column chunks read; pre_buffer coalesces neighbouring
                    # chunks into one request
                    from quarry.catalog.filesystems import open_input
                    source = open_input(rg.path, self.file_sizes.get(rg.path), self.storage, io)
                    self._check_unchanged(rg.path, source)
                    pf = pq.ParquetFile(source, metadata=self._file_meta.get(rg.path), pre_buffer=True,
                                        read_dictionary=sorted(dictionary & in_file) or None)
                else:
                    pf = pq.ParquetFile(rg.path, metadata=self._file_meta.get(rg.path),
                                        read_dictionary=sorted(dictionary & in_file) or None)
                if open_files is not None:
                    open_files[rg.path] = pf
            present = set(pf.schema_arrow.names)
            table = pf.read_row_group(rg.index, columns=[c for c in file_cols if c in present], use_threads=arrow_threads())
        except (pa.ArrowException, OSError) as exc:
            if self.storage is not None:
                from quarry.catalog.filesystems import remote_error
                raise remote_error(rg.path, exc, self.storage) from None
            raise DataError(f"cannot read `{rg.path}` (row group {rg.index}): {exc}",
                            hint="the file changed or is corrupt since it was registered; register it again") from exc
        arrays, names = [], []
        for c in columns:
            if c in rg.partition:
                t = self.schema.field(c).type
                arrays.append(constant_array(rg.partition[c], t, rg.num_rows))
            elif in_file_name(c) not in present:
                # a file written before the column existed: NULLs, as DuckDB's union_by_name gives
                arrays.append(pa.nulls(rg.num_rows, self.schema.field(c).type))
            else:
                col = table.column(in_file_name(c))
                target = self.schema.field(c).type
                if c in dictionary and pa.types.is_dictionary(col.type):
                    if col.type.value_type != target:
                        col = col.cast(pa.dictionary(col.type.index_type, target))
                    arrays.append(col)
                else:
                    arrays.append(col.cast(target) if col.type != target else col)
            names.append(c)
        if not columns:
            return pa.table({"__rows": pa.nulls(rg.num_rows)}).select([])  # row count only
        return pa.Table.from_arrays(arrays, names=names)


class MemoryTable(TableProvider):
    """An Arrow table held in memory; the target of CREATE TABLE AS and INSERT.

    Each row has a ``rowid``, as a DuckDB table's rows do: rows are numbered from 0 as they are
    inserted, DELETE leaves gaps (the others keep theirs) and INSERT continues after the highest
    number ever given. Until a DELETE makes a gap the numbers are the positions, and none are stored.
    """

    kind = "memory"

    def __init__(self, name: str, table: pa.Table):
        self.name = name
        table = _normalize_table(table)
        # `schema` keeps NOT NULL for DESCRIBE and the binder; the stored table is all nullable,
        # because operators build their batches with nullable fields and Arrow refuses to mix them
        self.schema = table.schema
        # (the rows, their rowids or None when they are the positions): one attribute, so a scan
        # always reads a table and the row numbers that go with it
        self._rows: tuple[pa.Table, pa.Array | None] = (_nullable_table(table), None)
        self.next_rowid = table.num_rows

    @property
    def table(self) -> pa.Table:
        return self._rows[0]

    def rows_with_ids(self) -> tuple[pa.Table, pa.Array | None]:
        """The rows and their rowids (None: the rowids are the positions), read together."""
        return self._rows

    def statistics(self) -> TableStats:
        return TableStats(self.table.num_rows, {}, self.table.nbytes)

    def append(self, table: pa.Table) -> None:
        table = _normalize_table(table)
        if table.schema.names != self.schema.names:
            raise DataError(f"INSERT into `{self.name}` has columns {table.schema.names}, "
                            f"the table has {self.schema.names}")
        for f, column in zip(self.schema, table.columns):
            if not f.nullable and column.null_count:
                raise DataError(f"NULL value in column `{f.name}` of `{self.name}`, which is NOT NULL",
                                hint=f"give `{f.name}` a value in every inserted row")
        table = _nullable_table(table)
        with _REPLACE_LOCK:
            current, ids = self._rows
            start = self.next_rowid
            if ids is not None or start != current.num_rows:
                new_ids = pa.array(np.arange(start, start + table.num_rows, dtype=np.int64))
                ids = pa.concat_arrays([rowid_array(current, ids), new_ids])
            self._rows = (pa.concat_tables([current, table.cast(current.schema)]), ids)
            self.next_rowid = start + table.num_rows

    def replace_rows(self, table: pa.Table, base: pa.Table, verb: str, kept: pa.Array | None = None,
                     appended: int = 0) -> None:
        """Make ``table`` (columns as stored) the rows, in one step, if they are still ``base``: the rows
        a DELETE or UPDATE computed its change from. NOT NULL columns are checked first. ``kept`` (a
        mask over ``base``) says which rows of ``base`` ``table`` starts with: they keep their rowids,
        and its last ``appended`` rows are new ones, numbered as INSERT numbers them. Without ``kept``
        the rows are ``base``'s, changed in place, and keep their rowids."""
        for f, column in zip(self.schema, table.columns):
            if not f.nullable and column.null_count:
                raise DataError(f"NULL value in column `{f.name}` of `{self.name}`, which is NOT NULL",
                                hint=f"{verb} must give `{f.name}` a value in every row")
        with _REPLACE_LOCK:
            current, ids = self._rows
            if current is not base:
                raise DataError(f"`{self.name}` changed while {verb} ran; nothing was changed",
                                hint="run the statement again")
            if kept is not None:
                ids = rowid_array(base, ids).filter(kept)
                if appended:
                    start = self.next_rowid
                    ids = pa.concat_arrays([ids, pa.array(np.arange(start, start + appended, dtype=np.int64))])
                    self.next_rowid = start + appended
            self._rows = (table, ids)


def rowid_field_of(source: TableProvider, table_fields) -> Any:
    """The ``rowid`` field of a scan of ``source`` with these table fields (the one after the
    provider's columns, see :mod:`quarry.sql.rowid`), or None."""
    extra = table_fields[len(source.schema):]
    assert len(extra) <= 1 and all(f.name == ROWID for f in extra), extra
    return extra[0] if extra else None


def rowid_array(table: pa.Table, ids: pa.Array | None, offset: int = 0, length: int | None = None) -> pa.Array:
    """The rowids (BIGINT) of rows ``offset .. offset+length`` of ``table``, whose ids are ``ids``
    (None: the positions)."""
    length = table.num_rows - offset if length is None else length
    if ids is None:
        return pa.array(np.arange(offset, offset + length, dtype=np.int64))
    return ids.slice(offset, length)


# one lock for every table's replace_rows (a lock attribute would not pickle with the table)
_REPLACE_LOCK = threading.Lock()


def _nullable_table(table: pa.Table) -> pa.Table:
    """``table`` with every field declared nullable (the data is unchanged)."""
    if all(f.nullable for f in table.schema):
        return table
    schema = pa.schema([f.with_nullable(True) for f in table.schema], metadata=table.schema.metadata)
    return pa.Table.from_arrays(table.columns, schema=schema)


def _normalize_table(table: pa.Table) -> pa.Table:
    target = normalize_schema(table.schema)
    if target != table.schema:
        table = pa.Table.from_arrays([c.cast(f.type) if c.type != f.type else c
                                      for c, f in zip(table.columns, target)], schema=target)
    return table.combine_chunks() if table.num_rows and any(c.num_chunks > 64 for c in table.columns) else table


JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def read_json_table(path) -> pa.Table:
    """Read newline-delimited JSON file(s), one object a line, into an Arrow table (types inferred by
    Arrow's JSON reader: BIGINT, DOUBLE, VARCHAR, BOOLEAN, lists and structs)."""
    import pyarrow.json as pjson
    from quarry.catalog.redaction import redacted
    tables = []
    for f in expand_paths(path):
        try:
            with open(f, "rb") as handle:
                start = handle.read(4096).lstrip()
            if start.startswith(b"["):
                raise UnsupportedError(f"the JSON file `{f}` holds one array",
                                       hint="write one JSON object per line (newline-delimited JSON), as "
                                            "COPY ... TO 'x.json' does")
            table = pjson.read_json(f)
            tables.append(table.cast(pa.schema([pa.field(c.name, pa.string()) if pa.types.is_null(c.type) else c
                                                for c in table.schema])))
        except (pa.ArrowException, OSError) as exc:
            hidden = redacted()
            raise DataError(f"cannot read JSON file `{f}`: {'(details hidden)' if hidden else exc}",
                            hint="each line must be one JSON object") from (None if hidden else exc)
    try:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except pa.ArrowInvalid as exc:
        raise DataError(f"the JSON files do not share columns of one type: {exc}") from exc
    return _normalize_table(table)


def read_csv_table(path, *, delimiter: str | None = None, header: bool = True) -> pa.Table:
    """Read CSV file(s) into an Arrow table (types inferred by Arrow)."""
    import pyarrow.csv as pcsv
    from quarry.catalog.redaction import csv_error_text, redacted
    files = expand_paths(path)
    tables = []
    for f in files:
        try:
            parse = pcsv.ParseOptions(delimiter=delimiter) if delimiter else pcsv.ParseOptions(
                delimiter="\t" if f.endswith((".tsv", ".tab")) else ",")
            read = pcsv.ReadOptions(autogenerate_column_names=not header)
            # an empty field is NULL, a quoted "" an empty string (as DuckDB reads them, and as
            # COPY ... TO 'x.csv' writes them)
            convert = pcsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
            if is_remote(f):
                from quarry.catalog.filesystems import open_input
                source = open_input(f, None)
                if f.lower().endswith(".gz"):
                    source = pa.CompressedInputStream(source, "gzip")
            else:
                source = f
            table = pcsv.read_csv(source, read_options=read, parse_options=parse, convert_options=convert)
            # a column with no values has Arrow's null type; DuckDB reads it as VARCHAR, and so do we,
            # so that it has a SQL type (DESCRIBE, .schema) and takes values on INSERT
            tables.append(table.cast(pa.schema([pa.field(c.name, pa.string()) if pa.types.is_null(c.type) else c
                                                for c in table.schema])))
        except (pa.ArrowException, OSError) as exc:
            # a remote client must not learn a file's contents from the row pyarrow quotes
            hidden = redacted()
            detail = csv_error_text(str(exc)) if hidden else str(exc)
            raise DataError(f"cannot read CSV file `{f}`: {detail}",
                            hint="check the delimiter and header options") from (None if hidden else exc)
    try:
        return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"the CSV files at `{path}` have incompatible columns: {exc}") from exc


class ViewTable(TableProvider):
    """A named query. ``build()`` returns a fresh logical plan (new column ids) per use."""

    kind = "view"

    def __init__(self, name: str, build: Callable[[], Any], schema: pa.Schema, sql: str | None = None):
        self.name = name
        self.build = build
        self.schema = schema
        self.sql = sql


def provider_for(name: str, obj, **options) -> TableProvider:
    """Pick the provider for whatever ``register`` was given.

    Paths (a string, ``os.PathLike`` or a list of them) are Parquet or CSV files; Arrow data
    (a Table, RecordBatch, RecordBatchReader, anything with ``__arrow_c_stream__``) and pandas
    DataFrames are read into memory; so are plain Python rows (a list of dicts, one per row,
    columns from every key seen, types inferred by pyarrow). Anything else is a DataError
    that says what would do.
    """
    if isinstance(obj, TableProvider):
        return obj
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(r, dict) for r in obj):
        return MemoryTable(name, _rows_table(obj))
    if isinstance(obj, dict):
        raise DataError("cannot register a dict as a table",
                        hint="for a dict of columns pass pa.table(d) or pandas.DataFrame(d); rows are a list of "
                             "dicts, one per row")
    if isinstance(obj, (list, tuple)) and (not obj or not all(isinstance(p, (str, os.PathLike)) for p in obj)):
        what = "an empty list" if not obj else f"a list of {type(obj[0]).__name__} values"
        raise DataError(f"cannot register {what} as a table",
                        hint="pass rows as a list of dicts ([{'a': 1}, {'a': 2}]) or a list of file paths")
    if isinstance(obj, (str, os.PathLike, list, tuple)):
        from quarry.catalog.delta import DeltaTable, is_delta_table
        if is_delta_table(obj):
            return DeltaTable(name, obj, **options)
        from quarry.catalog.iceberg import is_iceberg_table
        if is_iceberg_table(obj):
            from quarry.catalog.iceberg import iceberg_provider
            provider = iceberg_provider(None, os.fspath(obj), **options)
            provider.name = name
            return provider
        listings = None
        if is_remote(obj):
            # listed once: the listing that tells the format is the one the Parquet table uses
            from quarry.catalog.filesystems import list_locations
            locations = list(obj) if isinstance(obj, (list, tuple)) else [obj]
            listings = list_locations([os.fspath(loc) for loc in locations])
            paths = [f.uri for listing in listings for f in listing.files]
        else:
            paths = expand_paths(obj)
        lowered = [p.lower() for p in paths]
        if all(p.endswith((".csv", ".tsv", ".csv.gz", ".txt", ".tab")) for p in lowered):
            return MemoryTable(name, read_csv_table(obj, **options))
        if all(p.endswith(JSON_SUFFIXES) for p in lowered):
            return MemoryTable(name, read_json_table(obj))
        return ParquetTable(name, obj, listings=listings, **options)
    if isinstance(obj, pa.Table):
        return MemoryTable(name, obj)
    if isinstance(obj, pa.RecordBatch):
        return MemoryTable(name, pa.Table.from_batches([obj]))
    if isinstance(obj, pa.RecordBatchReader):
        return MemoryTable(name, obj.read_all())
    if hasattr(obj, "__arrow_c_stream__"):
        return MemoryTable(name, pa.RecordBatchReader.from_stream(obj).read_all())
    try:
        import pandas as pd
        if isinstance(obj, pd.DataFrame):
            return MemoryTable(name, pa.Table.from_pandas(obj, preserve_index=False))
    except ImportError:
        pass
    raise DataError(f"cannot register a {type(obj).__name__} as a table",
                    hint="pass a path (Parquet/CSV), a pyarrow Table/RecordBatchReader, a pandas or polars "
                         "DataFrame, or rows as a list of dicts")


def _rows_table(rows) -> pa.Table:
    """A table of Python rows (dicts); pyarrow infers the columns (every key seen) and their types."""
    try:
        return pa.Table.from_struct_array(pa.array(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"cannot make a table of these rows: {exc}",
                        hint="give each column values of one type (None for NULL)") from None


__all__ = ["TableProvider", "ParquetTable", "MemoryTable", "ViewTable", "TableStats", "ColumnStats",
           "RowGroupInfo", "provider_for", "expand_paths", "read_csv_table", "constant_array"]
