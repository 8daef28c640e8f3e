"""Delta Lake tables through the ``deltalake`` package: snapshot reads, time travel, streaming writes.

* :class:`DeltaTable` is a :class:`~quarry.catalog.providers.ParquetTable` over one snapshot of a
  Delta table (the latest, ``version=n`` or ``timestamp=...``): the file list and the partition
  values come from the Delta log (partition columns are not stored in the files), the schema is the
  table's (a file written before a column was added reads it as NULL). The log's partition values and
  per-file min/max/null counts drop files when a query is planned, before any footer is read
  (:class:`~quarry.catalog.snapshot.SnapshotTable`); the kept files' footers give the row-group
  statistics that prune further, as for plain Parquet. Local paths and ``s3://`` both
  work; ``s3://`` uses the session's credentials (settings or ``CREATE SECRET``).
* :func:`write_delta` appends to or overwrites a table from a stream of record batches
  (``deltalake.write_deltalake`` reads them as they come; nothing is collected first).

Tables that need reader features quarry does not apply (deletion vectors, column mapping) are
refused with "Not supported" rather than read wrongly.
"""

from __future__ import annotations

import datetime
import os
import urllib.parse

import pyarrow as pa

from quarry.catalog.filesystems import current_storage, is_remote, remote_error
from quarry.catalog.providers import ColumnStats
from quarry.catalog.snapshot import DataFile, SnapshotTable
from quarry.errors import DataError, UnsupportedError
from quarry.logical.types import normalize

SUPPORTED_READER_FEATURES = frozenset({"timestampNtz"})


def _module():
    try:
        import deltalake
    except ImportError:
        raise UnsupportedError("Delta Lake tables: the `deltalake` package is not installed",
                               hint="pip install 'quarry[delta]'") from None
    return deltalake


def storage_options(uri: str, storage=None) -> dict | None:
    """deltalake's ``storage_options`` for ``uri`` from the session's credentials (None: local)."""
    if not is_remote(uri):
        return None
    storage = storage or current_storage()
    if uri.lower().startswith(("az://", "abfs://", "abfss://")):
        return _azure_options(uri, storage)
    if not uri.lower().startswith(("s3://", "s3a://")):
        return {}          # gs://: deltalake reads Google's default credentials itself
    cred = storage.s3_for(uri)
    options = {}
    if cred.key_id:
        options["AWS_ACCESS_KEY_ID"] = cred.key_id
    if cred.secret:
        options["AWS_SECRET_ACCESS_KEY"] = cred.secret
    if cred.session_token:
        options["AWS_SESSION_TOKEN"] = cred.session_token
    if cred.region:
        options["AWS_REGION"] = cred.region
    if cred.endpoint:
        url = cred.endpoint if "://" in cred.endpoint else ("https://" if cred.use_ssl else "http://") + cred.endpoint
        options["AWS_ENDPOINT_URL"] = url
        if url.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    if cred.url_style == "vhost":
        options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "true"
    # quarry's writer commits alone on S3 (no DynamoDB lock); concurrent writers must coordinate themselves
    options["AWS_S3_ALLOW_UNSAFE_RENAME"] = "true"
    return options


def _azure_options(uri: str, storage) -> dict:
    """deltalake's (object_store's) Azure options from the session's Azure settings or secret: the
    account and its key (or SAS token), and an emulator's Blob endpoint (its URL, with the account)."""
    from quarry.catalog.filesystems import _azure_path
    cred = storage.azure_for(uri)
    options = {}
    account = _azure_path(uri)[0] or cred.account_name
    if account:
        options["account_name"] = account
    if cred.account_key:
        options["account_key"] = cred.account_key
    elif cred.sas_token:
        options["sas_token"] = cred.sas_token.lstrip("?")
    if cred.endpoint:
        url = cred.endpoint if "://" in cred.endpoint else ("https://" if cred.use_ssl else "http://") + cred.endpoint
        options["endpoint"] = url.rstrip("/")
        if url.startswith("http://"):
            options["allow_http"] = "true"
    return options


def is_delta_table(location) -> bool:
    """Whether ``location`` (a path or URI) is a Delta table's directory (it has ``_delta_log/``)."""
    if not isinstance(location, (str, os.PathLike)):
        return False
    text = os.fspath(location)
    if any(ch in text for ch in "*?["):
        return False
    if not is_remote(text):
        return os.path.isdir(os.path.join(text, "_delta_log"))
    import pyarrow.fs as pafs
    from quarry.catalog.filesystems import filesystem
    try:
        fs, path = filesystem(text)
        return fs.get_file_info(path.rstrip("/") + "/_delta_log").type == pafs.FileType.Directory
    except (OSError, pa.ArrowException):
        return False


def open_delta(uri: str, version: int | None = None, timestamp=None, storage=None):
    """``deltalake.DeltaTable`` at ``uri`` as of ``version`` or ``timestamp`` (default: the latest)."""
    deltalake = _module()
    storage = storage or current_storage()
    try:
        table = deltalake.DeltaTable(uri, version=version, storage_options=storage_options(uri, storage))
        if timestamp is not None:
            table.load_as_version(_as_datetime(timestamp))
    except deltalake.exceptions.TableNotFoundError:
        raise DataError(f"`{uri}` is not a Delta table", hint="a Delta table's directory holds _delta_log/") from None
    except (OSError, deltalake.exceptions.DeltaError, ValueError) as exc:
        text = str(exc)
        for secret in storage.secret_values():
            text = text.replace(secret, "<redacted>")
        if "version" in text.lower() and (version is not None or timestamp is not None):
            raise DataError(f"Delta table `{uri}` has no snapshot "
                            f"{'version ' + str(version) if version is not None else 'at ' + str(timestamp)}: {text}",
                            hint="see its versions with con.delta_history(path)") from None
        if is_remote(uri):
            raise remote_error(uri, OSError(text), storage) from None
        raise DataError(f"cannot read Delta table `{uri}`: {text}") from None
    return table


def _as_datetime(value) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc)
    try:
        parsed = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        raise DataError(f"`{value}` is not a timestamp", hint="write TIMESTAMP AS OF '2024-05-01 12:00:00'") from None
    return _as_datetime(parsed)


class DeltaTable(SnapshotTable):
    """One snapshot of a Delta table, scanned as Parquet with the log's file list, partition values and
    per-file statistics (files they rule out are dropped before their footers are read)."""

    kind = "delta"

    def __init__(self, name: str, location, *, version: int | None = None, timestamp=None):
        uri = os.fspath(location).rstrip("/")
        if not is_remote(uri):
            uri = os.path.abspath(uri)
        self.name = name
        self.location = uri
        self._lock = __import__("threading").Lock()
        self.storage = current_storage() if is_remote(uri) else None
        table = open_delta(uri, version, timestamp, self.storage)
        protocol = table.protocol()
        unsupported = set(protocol.reader_features or ()) - SUPPORTED_READER_FEATURES
        if unsupported:
            raise UnsupportedError(f"Delta reader features {sorted(unsupported)} of `{uri}`",
                                   hint="quarry reads Delta tables without deletion vectors or column mapping")
        mode = (table.metadata().configuration or {}).get("delta.columnMapping.mode", "none")
        if mode != "none":
            raise UnsupportedError(f"Delta column mapping (`{mode}`) of `{uri}`")
        self.version = table.version()
        schema = pa.schema(table.schema().to_arrow())
        keys = list(table.metadata().partition_columns)
        self.partition_keys = keys
        self.partition_types = {k: normalize(schema.field(k).type) for k in keys}
        self.file_schema = pa.schema([f for f in schema if f.name not in keys])
        self.schema = pa.schema([pa.field(f.name, normalize(f.type), f.nullable) for f in self.file_schema]
                                + [pa.field(k, self.partition_types[k], True) for k in keys])
        actions = pa.table(table.get_add_actions(flatten=True))
        paths = [self._file_uri(p) for p in actions.column("path").to_pylist()]
        sizes = actions.column("size_bytes").to_pylist()
        mtimes = actions.column("modification_time").to_pylist()
        n = len(paths)
        rows = actions.column("num_records").to_pylist() if "num_records" in actions.column_names else [None] * n
        partition_columns = {k: actions.column(f"partition.{k}") for k in keys if f"partition.{k}" in actions.column_names}
        typed = {k: col.cast(self.partition_types[k]).to_pylist() if col.type != self.partition_types[k]
                 else col.to_pylist() for k, col in partition_columns.items()}
        stats = _file_stats(actions, self.file_schema, n)
        self._set_files([DataFile(path, size, mtime * 1_000_000,
                                  -1 if rows[i] is None else rows[i], stats[i],
                                  {k: typed[k][i] if k in typed else None for k in keys})
                         for i, (path, size, mtime) in enumerate(zip(paths, sizes, mtimes))])

    def at_version(self, version: int | None = None, timestamp=None) -> "DeltaTable":
        """The same table as of another version or timestamp (``FROM t VERSION AS OF n``)."""
        from quarry.catalog.filesystems import using_storage
        with using_storage(self.storage or current_storage()):
            return DeltaTable(self.name, self.location, version=version, timestamp=timestamp)

    def _file_uri(self, path: str) -> str:
        path = urllib.parse.unquote(path)
        if "://" in path or os.path.isabs(path):
            return path
        return f"{self.location}/{path}" if is_remote(self.location) else os.path.join(self.location, path)


# a writer may truncate long strings in its statistics (Spark keeps 32 characters): such a max is no bound
STRING_STATS_PREFIX = 32


def _file_stats(actions: pa.Table, file_schema: pa.Schema, n: int) -> list[dict]:
    """Per-file ``{column: ColumnStats}`` from the add actions' ``min.c`` / ``max.c`` / ``null_count.c``.

    Only top-level columns of types whose log statistics are exact bounds are kept; a timestamp's
    statistics are in milliseconds (a max rounded down is widened by 1 ms), a string max that may have
    been truncated is dropped. A column without statistics is unknown (never pruned on).
    """
    names = set(actions.column_names)
    per_file = [{} for _ in range(n)]
    for f in file_schema:
        t = f.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_date(t)
                or pa.types.is_timestamp(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
                or pa.types.is_string_view(t) or pa.types.is_boolean(t)):
            continue
        lo = actions.column(f"min.{f.name}") if f"min.{f.name}" in names else None
        hi = actions.column(f"max.{f.name}") if f"max.{f.name}" in names else None
        nulls = actions.column(f"null_count.{f.name}").to_pylist() if f"null_count.{f.name}" in names else [None] * n
        if hi is not None and pa.types.is_timestamp(hi.type):
            import pyarrow.compute as pc
            hi = pc.add(hi.cast(pa.timestamp("us", hi.type.tz), safe=False), pa.scalar(1000, pa.duration("us")))
        if hi is not None and (pa.types.is_string(hi.type) or pa.types.is_large_string(hi.type)):
            import pyarrow.compute as pc
            hi = pc.if_else(pc.less(pc.utf8_length(hi), STRING_STATS_PREFIX), hi, pa.scalar(None, hi.type))
        lows = lo.to_pylist() if lo is not None else [None] * n
        highs = hi.to_pylist() if hi is not None else [None] * n
        for i in range(n):                 # one entry per file (the log's own size), not per row
            if lows[i] is None and highs[i] is None and nulls[i] is None:
                continue
            per_file[i][f.name] = ColumnStats(lows[i], highs[i], nulls[i])
    return per_file


def history(uri: str, limit: int | None = None) -> pa.Table:
    """The commits of a Delta table, newest first: version, timestamp, operation, parameters."""
    table = open_delta(os.fspath(uri))
    rows = table.history(limit)
    return pa.table({
        "version": pa.array([r.get("version") for r in rows], pa.int64()),
        "timestamp": pa.array([r.get("timestamp") for r in rows], pa.timestamp("ms", "UTC")),
        "operation": pa.array([r.get("operation") for r in rows], pa.string()),
        "operation_parameters": pa.array([str(r.get("operationParameters", {})) for r in rows], pa.string())})


WRITE_MODES = ("append", "overwrite", "error", "ignore")


def write_delta(uri: str, schema: pa.Schema, batches, *, mode: str = "error", partition_by=None,
                schema_mode: str | None = None) -> int:
    """Write ``batches`` as a commit to the Delta table at ``uri`` (created when missing); the row count."""
    deltalake = _module()
    if mode not in WRITE_MODES:
        raise UnsupportedError(f"Delta write mode `{mode}`", hint="use one of " + ", ".join(WRITE_MODES))
    if schema_mode not in (None, "merge", "overwrite"):
        raise UnsupportedError(f"Delta schema_mode `{schema_mode}`", hint="use 'merge' or 'overwrite'")
    from quarry.catalog.writer import CountedBatches
    uri = os.fspath(uri)
    counted = CountedBatches(schema, batches)
    storage = current_storage()
    try:
        deltalake.write_deltalake(uri, pa.RecordBatchReader.from_batches(schema, counted), mode=mode,
                                  partition_by=list(partition_by) if partition_by else None,
                                  schema_mode=schema_mode, storage_options=storage_options(uri, storage))
    except (OSError, deltalake.exceptions.DeltaError, ValueError) as exc:
        text = str(exc)
        for secret in storage.secret_values():
            text = text.replace(secret, "<redacted>")
        raise DataError(f"cannot write Delta table `{uri}`: {text}",
                        hint="mode='append' adds to an existing table, mode='overwrite' replaces it") from None
    return counted.rows


__all__ = ["DeltaTable", "is_delta_table", "open_delta", "history", "write_delta", "storage_options"]
