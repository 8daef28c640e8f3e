"""Iceberg tables through ``pyiceberg``: snapshot reads with manifest pruning, time travel, catalogs.

* :class:`IcebergTable` is a :class:`~quarry.catalog.snapshot.SnapshotTable` over one snapshot of an
  Iceberg table (the current one, a snapshot id, or the one current at a timestamp). pyiceberg reads
  the metadata: the snapshot's schema and its data files (``plan_files``). When a query has a
  pushed-down filter, the planner asks :meth:`IcebergTable.keep_files`, which translates the filter
  into a pyiceberg row filter and lets pyiceberg's planner prune: manifests by their partition
  summaries (through the partition transforms: identity, bucket, truncate, year/month/day/hour),
  then data files by their partition values and column bounds. Only the kept files' footers are read;
  quarry's own Parquet scan reads them (column pruning, row-group pruning), never pyiceberg's reader.
* Schema evolution: columns are matched to a file's columns by Iceberg field id, so a renamed column
  reads its old name's data, a column added later reads NULL from older files, and a dropped-and-
  re-added column does not read the old data. Widened types (int -> long, float -> double) are cast.
* Tables are named by location (``iceberg_scan('warehouse/db/orders')``: the table's directory, whose
  ``metadata/`` holds the newest ``*.metadata.json``, or a ``.metadata.json`` file itself; read with
  pyiceberg's ``StaticTable``, no catalog) or by name in a catalog registered in the session
  (``con.register_iceberg_catalog("lake", type="sql", uri=..., warehouse=...)``, then
  ``iceberg_scan('lake.db.orders')``, or ``iceberg_scan('db.orders')`` when it is the only one).

Tables with row-level deletes (delete files), or data files that are not Parquet, are refused with
"Not supported" rather than read wrongly.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass

import pyarrow as pa

from quarry.catalog.filesystems import current_storage, is_remote
from quarry.catalog.snapshot import DataFile, SnapshotTable
from quarry.errors import BindError, DataError, UnsupportedError
from quarry.logical.types import normalize


def _module():
    try:
        import pyiceberg  # noqa: F401
        import pyiceberg.table  # noqa: F401
    except ImportError:
        raise UnsupportedError("Iceberg tables: the `pyiceberg` package is not installed",
                               hint="pip install 'quarry[iceberg]'") from None
    import pyiceberg
    return pyiceberg


# -- credentials and locations ----------------------------------------------------------------------


def file_io_properties(uri: str, storage=None) -> dict:
    """pyiceberg FileIO properties for ``uri`` from the session's credentials ({} for local paths)."""
    if not is_remote(uri) or not uri.lower().startswith(("s3://", "s3a://")):
        return {}
    cred = (storage or current_storage()).s3_for(uri)
    props = {}
    if cred.key_id:
        props["s3.access-key-id"] = cred.key_id
    if cred.secret:
        props["s3.secret-access-key"] = cred.secret
    if cred.session_token:
        props["s3.session-token"] = cred.session_token
    if cred.region:
        props["s3.region"] = cred.region
    if cred.endpoint:
        props["s3.endpoint"] = cred.endpoint if "://" in cred.endpoint else \
            ("https://" if cred.use_ssl else "http://") + cred.endpoint
    if cred.url_style == "vhost":
        props["s3.force-virtual-addressing"] = "true"
    return props


_METADATA_FILE = re.compile(r"^(?:v)?(\d+)(?:-[^/]*)?\.metadata\.json$")


def metadata_location(location: str, storage=None) -> str:
    """The metadata file of the table at ``location``: the file itself, ``metadata/version-hint.text``'s
    choice, or the ``metadata/*.metadata.json`` with the highest version number."""
    location = location.rstrip("/")
    if location.endswith(".metadata.json"):
        return location
    if is_remote(location):
        import pyarrow.fs as pafs
        from quarry.catalog.filesystems import filesystem
        fs, path = filesystem(location)
        try:
            infos = fs.get_file_info(pafs.FileSelector(path + "/metadata", allow_not_found=True))
        except (OSError, pa.ArrowException) as exc:
            from quarry.catalog.filesystems import remote_error
            raise remote_error(location, exc, storage) from None
        names = [i.base_name for i in infos if i.type == pafs.FileType.File]
    else:
        folder = os.path.join(location, "metadata")
        names = os.listdir(folder) if os.path.isdir(folder) else []
    if "version-hint.text" in names:
        return location            # pyiceberg's StaticTable follows the hint
    versions = [(int(m.group(1)), n) for n in names if (m := _METADATA_FILE.match(n))]
    if not versions:
        raise DataError(f"`{location}` is not an Iceberg table",
                        hint="an Iceberg table's directory holds metadata/*.metadata.json; or name a table of a "
                             "catalog registered with con.register_iceberg_catalog")
    return f"{location}/metadata/{max(versions)[1]}"


def is_iceberg_table(location) -> bool:
    """Whether ``location`` is an Iceberg table's directory (``metadata/`` holds ``*.metadata.json``
    or ``version-hint.text``) and no Delta table; local directories and object-store prefixes."""
    if not isinstance(location, (str, os.PathLike)):
        return False
    text = os.fspath(location).rstrip("/")
    if any(ch in text for ch in "*?[") or text.endswith(".parquet"):
        return False
    if not is_remote(text):
        folder = os.path.join(text, "metadata")
        if not os.path.isdir(folder) or os.path.isdir(os.path.join(text, "_delta_log")):
            return False
        return any(n == "version-hint.text" or _METADATA_FILE.match(n) for n in os.listdir(folder))
    import pyarrow.fs as pafs
    from quarry.catalog.filesystems import filesystem
    try:
        fs, path = filesystem(text)
        infos = fs.get_file_info(pafs.FileSelector(path + "/metadata", allow_not_found=True))
    except (OSError, pa.ArrowException):
        return False
    return any(i.base_name == "version-hint.text" or _METADATA_FILE.match(i.base_name) for i in infos)


def looks_like_location(text: str) -> bool:
    """Whether ``iceberg_scan``'s argument is a path (rather than ``[catalog.]namespace.table``)."""
    return "/" in text or "\\" in text or "://" in text or text.endswith(".json") or os.path.isdir(text)


def load_table(session, name: str, storage=None):
    """``(pyiceberg table, location or None)`` for a path or a ``[catalog.]namespace.table`` name."""
    _module()
    storage = storage or current_storage()
    if looks_like_location(name):
        from pyiceberg.table import StaticTable
        location = name if is_remote(name) else os.path.abspath(name)
        meta = metadata_location(location, storage)
        try:
            return StaticTable.from_metadata(meta, file_io_properties(location, storage)), location
        except FileNotFoundError:
            raise DataError(f"`{name}` is not an Iceberg table", hint="check the path") from None
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the Iceberg metadata of `{name}`: {_redact(exc, storage)}") from None
    catalogs = getattr(session, "iceberg_catalogs", {}) if session is not None else {}
    parts = name.split(".")
    if len(parts) >= 3 and parts[0] in catalogs:
        catalog, identifier = catalogs[parts[0]], ".".join(parts[1:])
    elif len(parts) >= 2 and len(catalogs) == 1:
        catalog, identifier = next(iter(catalogs.values())), name
    elif len(parts) >= 2 and "default" in catalogs:
        catalog, identifier = catalogs["default"], name
    elif not catalogs:
        raise BindError(f"no Iceberg catalog is registered for `{name}`",
                        hint="con.register_iceberg_catalog('lake', type='sql', uri=..., warehouse=...), or name "
                             "the table's directory: iceberg_scan('path/to/table')")
    else:
        raise BindError(f"`{name}` names no registered Iceberg catalog",
                        hint="write iceberg_scan('<catalog>.<namespace>.<table>'); catalogs: " + ", ".join(sorted(catalogs)))
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
    try:
        return catalog.load_table(identifier), None
    except (NoSuchTableError, NoSuchNamespaceError):
        raise DataError(f"Iceberg table `{name}` does not exist",
                        hint=f"the catalog `{catalog.name}` has no table `{identifier}`") from None
    except ValueError as exc:
        raise BindError(f"`{name}` is not an Iceberg table name: {exc}", hint="iceberg_scan('db.orders')") from None
    except OSError as exc:
        raise DataError(f"cannot load Iceberg table `{name}` from catalog `{catalog.name}`: {_redact(exc, storage)}",
                        hint="check the catalog's address and credentials, and the store's") from None


def _redact(exc, storage) -> str:
    text = str(exc)
    for secret in (storage.secret_values() if storage is not None else ()):
        text = text.replace(secret, "<redacted>")
    return text


def _timestamp_ms(value) -> int:
    from quarry.catalog.delta import _as_datetime
    return int(_as_datetime(value).timestamp() * 1000)


# -- the table --------------------------------------------------------------------------------------


class IcebergTable(SnapshotTable):
    """One snapshot of an Iceberg table, scanned as Parquet; pyiceberg's planner picks the files."""

    kind = "iceberg"

    def __init__(self, name: str, table, *, location: str | None = None, snapshot_id: int | None = None,
                 timestamp=None, storage=None):
        import threading
        self.name = name
        self.iceberg = table
        self.location = location or table.metadata.location
        self._lock = threading.Lock()
        self.storage = storage if storage is not None else (current_storage() if is_remote(self.location) else None)
        metadata = table.metadata
        if snapshot_id is not None:
            snapshot = table.snapshot_by_id(snapshot_id)
            if snapshot is None:
                raise DataError(f"Iceberg table `{name}` has no snapshot {snapshot_id}",
                                hint="its snapshots: " + ", ".join(str(s.snapshot_id) for s in metadata.snapshots)
                                     if metadata.snapshots else "it has no snapshots")
        elif timestamp is not None:
            snapshot = table.snapshot_as_of_timestamp(_timestamp_ms(timestamp))
            if snapshot is None:
                raise DataError(f"Iceberg table `{name}` has no snapshot at {timestamp}",
                                hint="its first snapshot is later; see con.iceberg_snapshots(...)")
        else:
            snapshot = table.current_snapshot()
        self.snapshot_id = snapshot.snapshot_id if snapshot is not None else None
        scan = table.scan(snapshot_id=self.snapshot_id) if self.snapshot_id is not None else table.scan()
        self.iceberg_schema = scan.projection()
        self.field_ids = {f.name: f.field_id for f in self.iceberg_schema.fields}
        self.partition_keys = []
        self.partition_types = {}
        self.file_schema = arrow_schema(self.iceberg_schema)
        self.schema = self.file_schema
        self._renames: dict[str, dict[str, str | None]] = {}
        self._summary = dict(snapshot.summary.additional_properties) if snapshot is not None and snapshot.summary \
            else {}
        # the file list is planned when first needed: a query with a filter plans only what it keeps,
        # so manifests its partition summaries rule out are never opened
        self._set_files(None if self.snapshot_id is not None else [])

    def _all_files(self) -> list[DataFile]:
        return self._plan(None)

    def file_count(self) -> int:
        total = self._summary.get("total-data-files")
        if self._data_files is None and total is not None:
            return int(total)
        return len(self.data_files)

    def statistics(self):
        # before the files are listed, the snapshot's summary knows the row count and size
        if self._data_files is None and "total-records" in self._summary:
            from quarry.catalog.providers import TableStats
            size = self._summary.get("total-files-size")
            return TableStats(int(self._summary["total-records"]), {}, int(size) if size is not None else None)
        return super().statistics()

    def _plan(self, row_filter) -> list[DataFile]:
        from pyiceberg.expressions import AlwaysTrue
        from pyiceberg.manifest import FileFormat
        scan = self.iceberg.scan(row_filter=row_filter if row_filter is not None else AlwaysTrue(),
                                 snapshot_id=self.snapshot_id)
        try:
            tasks = list(scan.plan_files())
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the manifests of Iceberg table `{self.name}`: {_redact(exc, self.storage)}") from None
        files = []
        for task in tasks:
            if task.delete_files:
                raise UnsupportedError(f"Iceberg row-level deletes (delete files) in `{self.name}`",
                                       hint="compact the table (rewrite its data files) to apply the deletes")
            data = task.file
            if data.file_format != FileFormat.PARQUET:
                raise UnsupportedError(f"Iceberg {data.file_format.name} data files in `{self.name}`",
                                       hint="quarry reads Iceberg tables whose data files are Parquet")
            files.append(DataFile(_file_uri(data.file_path), data.file_size_in_bytes, None, data.record_count,
                                  self._bounds(data)))
        return files

    def _bounds(self, data) -> dict:
        """``{column: ColumnStats}`` from a data file's manifest entry (lower/upper bounds, null counts),
        for the optimizer's estimates (pyiceberg's planner does the pruning with them)."""
        from quarry.catalog.providers import ColumnStats
        lower, upper = data.lower_bounds or {}, data.upper_bounds or {}
        nulls = data.null_value_counts or {}
        out = {}
        for f in self.iceberg_schema.fields:
            fid = f.field_id
            if fid not in lower and fid not in upper and fid not in nulls:
                continue
            out[f.name] = ColumnStats(_bound(f.field_type, lower.get(fid)), _bound(f.field_type, upper.get(fid)),
                                      nulls.get(fid))
        return out

    def keep_files(self, predicate, by_name) -> list[DataFile] | None:
        """The files pyiceberg's planner keeps for ``predicate``: manifests pruned by their partition
        summaries, data files by partition values and column bounds."""
        # pyiceberg binds a filter to the table's current schema, even for an older snapshot: columns
        # are named as they are now (matched by field id)
        current = self.iceberg.schema()
        names = {}
        for name, fid in self.field_ids.items():
            try:
                names[name] = current.find_field(fid).name
            except ValueError:
                pass              # dropped since: no pruning on it
        row_filter = iceberg_filter(predicate, {n: f for n, f in by_name.items() if n in names}, current, names)
        if row_filter is None or self.snapshot_id is None:
            return None
        return self._plan(row_filter)

    def _load_row_groups(self):
        import dataclasses
        out = super()._load_row_groups()
        # files written under an older schema: match columns by field id
        for f in self.data_files:
            if f.path not in self._renames:
                self._renames[f.path] = _column_names_in_file(self._file_meta[f.path], self.field_ids)
        # a renamed file's footer statistics are under its old names: such row groups are not pruned
        return [dataclasses.replace(rg, stats={}) if self._renames.get(rg.path) is not None else rg for rg in out]

    def column_names_in_file(self, path: str):
        return self._renames.get(path)

    def dictionary_columns(self) -> frozenset[str]:
        self.row_groups
        if any(m is not None for m in self._renames.values()):
            return frozenset()      # a renamed column's dictionary pages carry its old name
        return super().dictionary_columns()

    def at_version(self, version: int | None = None, timestamp=None) -> "IcebergTable":
        """The same table as of another snapshot id or timestamp (``FROM t VERSION AS OF n``)."""
        return IcebergTable(self.name, self.iceberg, location=self.location, snapshot_id=version,
                            timestamp=timestamp, storage=self.storage)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("iceberg", None)            # the pyiceberg table stays with the session
        state.pop("iceberg_schema", None)
        return state


def _bound(iceberg_type, raw: bytes | None):
    """A manifest bound as the Python value quarry's statistics compare (None: unknown)."""
    if raw is None:
        return None
    from pyiceberg import types as T
    from pyiceberg.conversions import from_bytes
    try:
        value = from_bytes(iceberg_type, raw)
    except Exception:  # noqa: BLE001 - a bound written before a type was widened, or one pyiceberg cannot read
        return None
    epoch = datetime.datetime(1970, 1, 1)
    if isinstance(iceberg_type, T.DateType):
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=value)
    if isinstance(iceberg_type, T.TimestampType):
        return epoch + datetime.timedelta(microseconds=value)
    if isinstance(iceberg_type, T.TimestamptzType):
        return (epoch + datetime.timedelta(microseconds=value)).replace(tzinfo=datetime.timezone.utc)
    if isinstance(iceberg_type, (T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType, T.StringType,
                                 T.BooleanType)):
        return value
    return None


def _file_uri(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


def _column_names_in_file(meta, field_ids: dict[str, int]) -> dict[str, str | None] | None:
    """``{column: its name in the file or None}`` when the file's field ids differ from the names
    (a rename, a drop and re-add); None when names and ids agree or the file has no ids."""
    schema = meta.schema.to_arrow_schema()
    by_id = {}
    for f in schema:
        raw = (f.metadata or {}).get(b"PARQUET:field_id")
        if raw is not None:
            by_id[int(raw)] = f.name
    if not by_id:
        return None
    mapping = {name: by_id.get(fid) for name, fid in field_ids.items()}
    if all(mapping[name] == name or (mapping[name] is None and name not in schema.names) for name in mapping):
        return None
    return mapping


# -- quarry predicates as pyiceberg row filters ------------------------------------------------------


def iceberg_filter(predicate, by_name, schema, names: dict | None = None):
    """A pyiceberg expression implied by ``predicate`` (the conjuncts it can express), or None.

    Only pruning depends on it (the scan still filters every row), so a conjunct that cannot be
    expressed, or that pyiceberg cannot bind to the schema, is left out; the rest must be implied.
    """
    from pyiceberg.expressions import And
    from quarry.logical.expressions import conjuncts
    parts = []
    for c in conjuncts(predicate):
        expr = _translate(c, by_name, names or {})
        if expr is None:
            continue
        try:
            expr.bind(schema, case_sensitive=True)
        except Exception:  # noqa: BLE001 - pyiceberg raises several kinds for a literal of another type
            continue
        parts.append(expr)
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = And(out, p)
    return out


_COMPARISONS = {"equal": "EqualTo", "not_equal": "NotEqualTo", "less": "LessThan", "less_equal": "LessThanOrEqual",
                "greater": "GreaterThan", "greater_equal": "GreaterThanOrEqual"}
_FLIPPED = {"equal": "equal", "not_equal": "not_equal", "less": "greater", "less_equal": "greater_equal",
            "greater": "less", "greater_equal": "less_equal"}


def _column(e, by_name, names) -> str | None:
    from quarry.logical.expressions import ColumnRef
    if not isinstance(e, ColumnRef):
        return None
    f = by_name.get(e.field.name)
    return names.get(e.field.name, e.field.name) if f is not None and f.id == e.field.id else None


def _value(e):
    from quarry.logical.expressions import Literal
    if not isinstance(e, Literal) or e.value is None:
        return None
    v = e.value
    if isinstance(v, (bool, int, float, str, bytes, datetime.date, datetime.time)) or type(v).__name__ == "Decimal":
        return v
    return None


def _translate(e, by_name, names):
    import pyiceberg.expressions as ice
    from quarry.logical.expressions import Call, disjuncts
    if not isinstance(e, Call):
        return None
    if e.name == "and":
        parts = [p for p in (_translate(a, by_name, names) for a in e.args) if p is not None]
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = ice.And(out, p)
        return out
    if e.name == "or":
        parts = [_translate(d, by_name, names) for d in disjuncts(e)]
        if any(p is None for p in parts):
            return None           # one disjunct unknown: the disjunction implies nothing
        out = parts[0]
        for p in parts[1:]:
            out = ice.Or(out, p)
        return out
    if e.name in ("is_null", "is_not_null") and len(e.args) == 1:
        col = _column(e.args[0], by_name, names)
        if col is None:
            return None
        return ice.IsNull(col) if e.name == "is_null" else ice.NotNull(col)
    if e.name == "in_list":
        col = _column(e.args[0], by_name, names)
        values = [_value(a) for a in e.args[1:]]
        if col is None or not values or any(v is None for v in values):
            return None
        return ice.In(col, values)
    if e.name in _COMPARISONS and len(e.args) == 2:
        a, b = e.args
        name = e.name
        col, value = _column(a, by_name, names), _value(b)
        if col is None:
            col, value, name = _column(b, by_name, names), _value(a), _FLIPPED[e.name]
        if col is None or value is None:
            return None
        if isinstance(value, float) and value != value:
            return None           # NaN
        return getattr(ice, _COMPARISONS[name])(col, value)
    return None


# -- session entry points ----------------------------------------------------------------------------


def iceberg_provider(session, table_name: str, snapshot_id: int | None = None, timestamp=None) -> IcebergTable:
    """The provider of ``iceberg_scan(table_name)`` (a path or a catalog's table) at a snapshot."""
    storage = session.storage() if session is not None else current_storage()
    from quarry.catalog.filesystems import using_storage
    with using_storage(storage):
        table, location = load_table(session, table_name, storage)
        short = table_name.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[-1] \
            if location is None else os.path.basename(location.rstrip("/")) or "iceberg"
        return IcebergTable(short, table, location=location, snapshot_id=snapshot_id, timestamp=timestamp,
                            storage=storage if is_remote(location or table.metadata.location) else None)


def refuse_iceberg_write(target: str, catalogs: dict) -> None:
    """Refuse a write (COPY ... TO, ``DataFrame.write_*``) aimed at an Iceberg table: a registered
    catalog's ``catalog.namespace.table``, or a local path at or inside an Iceberg table's directory
    (a file there would not be in the table's metadata, so no reader would see it)."""
    hint = "quarry reads Iceberg tables but does not write them; append with pyiceberg (table.append(arrow_table))"
    parts = target.split(".")
    if not looks_like_location(target) and len(parts) >= 3 and parts[0] in catalogs:
        raise UnsupportedError(f"writing into Iceberg table `{target}`", hint=hint)
    if is_remote(target):
        return
    folder = os.path.abspath(target)
    for _ in range(64):                    # the target and its ancestors
        if os.path.isdir(os.path.join(folder, "metadata")) and is_iceberg_table(folder):
            raise UnsupportedError(f"writing into Iceberg table `{folder}` (`{target}`)", hint=hint)
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent


@dataclass(frozen=True)
class CatalogTable:
    """A table of a registered Iceberg catalog, as ``information_schema`` and Flight SQL list it:
    ``catalog`` (the registered name), ``namespace`` (dotted when nested), ``name``, and its columns
    (``schema``; None when only the names were asked for)."""

    catalog: str
    namespace: str
    name: str
    schema: pa.Schema | None = None


def arrow_schema(iceberg_schema) -> pa.Schema:
    """The Arrow schema quarry reads an Iceberg schema as (types normalized, no field ids)."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    arrow = schema_to_pyarrow(iceberg_schema, include_field_ids=False)
    return pa.schema([pa.field(f.name, normalize(f.type), f.nullable) for f in arrow])


def _namespaces(catalog) -> list[tuple]:
    """Every namespace of ``catalog``, nested ones too, sorted."""
    seen: set[tuple] = set()
    todo = [tuple(ns) for ns in catalog.list_namespaces()]
    while todo:
        ns = todo.pop()
        if ns in seen:
            continue
        seen.add(ns)
        try:
            todo.extend(tuple(child) for child in catalog.list_namespaces(ns) if tuple(child) != ns)
        except NotImplementedError:
            pass
    return sorted(seen)


def catalog_tables(catalogs: dict, columns: bool = False) -> list[CatalogTable]:
    """The tables of the registered Iceberg ``catalogs`` (name -> pyiceberg catalog), sorted; with
    ``columns`` each table's metadata is loaded for its schema (the current one)."""
    out = []
    for catalog_name in sorted(catalogs):
        catalog = catalogs[catalog_name]
        try:
            for ns in _namespaces(catalog):
                for identifier in sorted(tuple(i) for i in catalog.list_tables(ns)):
                    schema = arrow_schema(catalog.load_table(identifier).schema()) if columns else None
                    out.append(CatalogTable(catalog_name, ".".join(identifier[:-1]), identifier[-1], schema))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot list the tables of Iceberg catalog `{catalog_name}`: {exc}",
                            hint="check the catalog's address and credentials") from None
    return out


def load_catalog(name: str, catalog=None, **properties):
    """A pyiceberg catalog: ``catalog`` itself (any ``pyiceberg.catalog.Catalog``), or one made by
    ``pyiceberg.catalog.load_catalog(name, **properties)`` (``type='sql'|'rest'|'glue'|'hive'|...``)."""
    _module()
    from pyiceberg.catalog import Catalog
    if catalog is not None:
        if not isinstance(catalog, Catalog):
            raise DataError(f"`{type(catalog).__name__}` is not a pyiceberg catalog",
                            hint="pass a pyiceberg.catalog.Catalog, or its properties: type='sql', uri=...")
        return catalog
    if not properties:
        raise DataError(f"Iceberg catalog `{name}` needs its properties",
                        hint="con.register_iceberg_catalog('lake', type='sql', uri='sqlite:///lake.db', "
                             "warehouse='file:///data/lake')")
    from pyiceberg.catalog import load_catalog as load
    try:
        return load(name, **{k: str(v) for k, v in properties.items()})
    except ImportError as exc:
        raise UnsupportedError(f"Iceberg catalog type `{properties.get('type')}`: {exc}",
                               hint="install the pyiceberg extra for it, e.g. pip install 'pyiceberg[sql-sqlite]'"
                               ) from None
    except (ValueError, NotImplementedError) as exc:
        raise DataError(f"cannot open Iceberg catalog `{name}`: {exc}") from None


def snapshots(session, table_name: str) -> pa.Table:
    """The snapshots of an Iceberg table, oldest first: snapshot id, timestamp, operation, parent."""
    storage = session.storage() if session is not None else current_storage()
    table, _ = load_table(session, table_name, storage)
    snaps = table.metadata.snapshots
    return pa.table({
        "snapshot_id": pa.array([s.snapshot_id for s in snaps], pa.int64()),
        "timestamp": pa.array([s.timestamp_ms for s in snaps], pa.int64()).cast(pa.timestamp("ms", "UTC")),
        "operation": pa.array([s.summary.operation.value if s.summary else None for s in snaps], pa.string()),
        "parent_id": pa.array([s.parent_snapshot_id for s in snaps], pa.int64())})


__all__ = ["IcebergTable", "CatalogTable", "refuse_iceberg_write", "catalog_tables", "arrow_schema", "is_iceberg_table", "iceberg_provider", "iceberg_filter", "load_catalog", "load_table", "snapshots",
           "metadata_location", "file_io_properties"]
