"""Write a query result, batch by batch as it arrives, to a file or a text stream.

One writer serves ``COPY ... TO``, ``DataFrame.write_parquet``/``write_csv`` and the
shell's output modes. Callers hand it the result's schema and an iterator of record
batches (``Session.run_batches``), so memory holds one batch at a time, never the whole
result.

==========  ====================================================  =====================
format      output                                                options
==========  ====================================================  =====================
parquet     Parquet                                               ``compression``
arrow       an Arrow IPC file
csv         RFC 4180 CSV with a header; NULL is an empty field    ``header``, ``delimiter``
tsv         tab-separated, unquoted; tabs, newlines and           ``header``
            backslashes in text written as ``\\t``, ``\\n``, ``\\\\``
json        a JSON array, one object per row and line
ndjson      newline-delimited JSON: one object per line (COPY's
            FORMAT json, ``.jsonl``, ``.ndjson``)
markdown    a GitHub Markdown table, numbers right-aligned
==========  ====================================================  =====================

A text file whose name ends in ``.gz`` is gzipped. :func:`write_file` never leaves a half-written file where the old one was: it writes
a hidden temporary file next to the target (``.name.XXXX.tmp``, which directory
scans skip) and renames it over the target only once complete; on any failure the
temporary file is removed and the old file is untouched. :func:`write_partitioned`
does the same for each hive partition folder it replaces.

JSON and Markdown walk the rows in Python, which suits output a person or a script
reads; CSV, TSV, Parquet and Arrow go through Arrow's C++ writers.

    >>> import io
    >>> out = io.StringIO()
    >>> t = pa.table({"a": [1, None]})
    >>> write_stream(out, t.schema, t.to_batches(), "csv")
    2
    >>> print(out.getvalue(), end="")
    "a"
    1
    <BLANKLINE>
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import math
import os
import re
import shutil
import tempfile
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from quarry.catalog.filesystems import is_remote
from quarry.errors import DataError, QuarryError, UnsupportedError, suggest

TEXT_FORMATS = ("csv", "tsv", "json", "ndjson", "markdown")
BINARY_FORMATS = ("parquet", "arrow")
FORMATS = BINARY_FORMATS + TEXT_FORMATS
OPTIONS = {"parquet": ("compression",), "arrow": (), "csv": ("header", "delimiter", "quoting"), "tsv": ("header",),
           "json": (), "ndjson": (), "markdown": ()}
COMPRESSIONS = ("snappy", "zstd", "gzip", "brotli", "lz4", "none")

# the process umask, read once: temporary files are created 0600, the result gets the usual mode
_UMASK = os.umask(0)
os.umask(_UMASK)


def format_for_path(path: str) -> str:
    """The format a file name implies: ``.csv`` is csv, ``.tsv`` tsv, ``.json`` json, ``.arrow``/``.feather``
    arrow, ``.md`` markdown, anything else Parquet.

    >>> format_for_path("out/q1.csv"), format_for_path("x.tsv"), format_for_path("x.data")
    ('csv', 'tsv', 'parquet')
    """
    lowered = os.fspath(path).lower()
    for suffixes, fmt in (((".csv", ".csv.gz"), "csv"), ((".tsv", ".tab"), "tsv"), ((".json",), "json"), ((".jsonl", ".ndjson"), "ndjson"),
                          ((".arrow", ".feather", ".ipc"), "arrow"), ((".md",), "markdown")):
        if lowered.endswith(suffixes):
            return fmt
    return "parquet"


def check_options(fmt: str, options: dict) -> None:
    """Refuse a format quarry cannot write, or an option that format does not take."""
    if fmt not in FORMATS:
        raise UnsupportedError(f"output format `{fmt}`",
                               hint=suggest(fmt, FORMATS) or "formats: " + ", ".join(FORMATS))
    for key, value in options.items():
        if key not in OPTIONS[fmt]:
            takes = ", ".join(OPTIONS[fmt]) or "no options"
            raise UnsupportedError(f"option `{key}` for {fmt} output", hint=f"{fmt} takes {takes}")
        if key == "compression" and str(value).lower() not in COMPRESSIONS:
            raise UnsupportedError(f"compression `{value}`", hint="use one of " + ", ".join(COMPRESSIONS))
        if key == "delimiter" and (not isinstance(value, str) or len(value) != 1):
            raise QuarryError(f"the delimiter must be one character, not {value!r}")
        if key == "quoting" and value not in ("rfc4180", "spark"):
            raise QuarryError(f"quoting takes 'rfc4180' or 'spark', not {value!r}")
        if key == "header" and not isinstance(value, bool):
            raise QuarryError(f"header takes true or false, not {value!r}")


# -- conforming batches ---------------------------------------------------------------------------

def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with ``schema``'s names and types (operators name columns ``name#id``)."""
    if batch.schema.equals(schema):
        return batch
    columns = [c if c.type == f.type else c.cast(f.type) for c, f in zip(batch.columns, schema)]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _batches(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if batch.num_rows:
            yield _conform(batch, schema)


class CountedBatches:
    """``batches`` conformed to ``schema`` (empty ones dropped), iterated once by a writer; ``rows``
    counts the rows that went by."""

    def __init__(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]):
        self.schema, self.batches, self.rows = schema, batches, 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in _batches(self.schema, self.batches):
            self.rows += batch.num_rows
            yield batch


# -- text formats ----------------------------------------------------------------------------------

class _Text:
    """A text format: ``begin`` (header), ``rows`` per batch, ``end``; each returns UTF-8 bytes."""

    def __init__(self, schema: pa.Schema, options: dict):
        self.schema = schema
        self.options = options

    def begin(self) -> bytes:
        return b""

    def rows(self, batch: pa.RecordBatch) -> bytes:
        raise NotImplementedError

    def end(self) -> bytes:
        return b""


def _text_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Turn columns Arrow's CSV writer refuses (lists, structs, maps, binary) into display text."""
    from quarry.display import format_value
    columns, changed = [], False
    for col in batch.columns:
        t = col.type
        if pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t) \
                or pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t):
            col = pa.array([None if v is None else format_value(v) for v in col.to_pylist()], pa.string())
            changed = True
        columns.append(col)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names) if changed else batch


# Spark's CSV writer (univocity, with Spark's defaults ignoreLeading/TrailingWhiteSpace=true on write,
# quote '"', escape '\\', escapeQuotes=true, nullValue '', emptyValue '""'): a value loses the characters up to
# a space at both ends, and is quoted only when it is empty or holds the delimiter, a quote or a line break;
# inside quotes a quote or a backslash is escaped with a backslash
_SPARK_CSV_TRIM = r"^[\x01-\x20]+|[\x01-\x20]+$"


def _spark_csv_text(col: pa.Array, delimiter: str) -> pa.Array:
    text = pc.replace_substring_regex(col, _SPARK_CSV_TRIM, "")
    special = "[" + re.escape(delimiter) + '"\n\r]'
    needs = pc.or_(pc.equal(pc.utf8_length(text), 0), pc.match_substring_regex(text, special))
    escaped = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    return pc.if_else(needs, pc.binary_join_element_wise('"', escaped, '"', ""), text)


def _spark_csv_lines(columns: list, names_or_rows: int, delimiter: str) -> bytes:
    """The lines of ``columns`` (string arrays, NULL an empty field) as Spark's CSV writer writes them."""
    if not columns:
        return b"\n" * names_or_rows
    fields = [_spark_csv_text(c, delimiter) for c in columns]
    lines = pc.binary_join_element_wise(*fields, delimiter, null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(lines, "\n", "")
    whole = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), "")
    return whole[0].as_py().encode("utf-8")


class _Csv(_Text):
    def _write(self, batch, header: bool) -> bytes:
        if self.options.get("quoting", "rfc4180") == "spark":
            return self._spark(batch, header)
        sink = io.BytesIO()
        pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=header,
                                                        delimiter=self.options.get("delimiter", ",")))
        return sink.getvalue()

    def begin(self) -> bytes:
        if not self.options.get("header", True):
            return b""
        return self._write(_text_safe(pa.RecordBatch.from_pylist([], self.schema)), True)

    def rows(self, batch) -> bytes:
        return self._write(_text_safe(batch), False)

    def _spark(self, batch, header: bool) -> bytes:
        delimiter = self.options.get("delimiter", ",")
        if header:
            return _spark_csv_lines([pa.array([n], pa.string()) for n in batch.schema.names], 1, delimiter)
        from quarry.compute.spark_kernels import java_double_text
        columns = [c if pa.types.is_string(c.type) or pa.types.is_large_string(c.type)
                   else java_double_text(c) if pa.types.is_floating(c.type) else pc.cast(c, pa.string())
                   for c in batch.columns]                  # a DOUBLE as Spark prints it: 1.0, 1.0E10
        return _spark_csv_lines(columns, batch.num_rows, delimiter)


class _Tsv(_Text):
    def _write(self, batch, header: bool) -> bytes:
        batch = _text_safe(batch)
        columns = []
        for col in batch.columns:
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
                    col = pc.replace_substring(col, raw, escaped)
            columns.append(col)
        batch = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
        sink = io.BytesIO()
        pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=header, delimiter="\t",
                                                        quoting_style="none", quoting_header="none"))
        return sink.getvalue()

    def begin(self) -> bytes:
        if not self.options.get("header", True):
            return b""
        return self._write(pa.RecordBatch.from_pylist([], self.schema), True)

    def rows(self, batch) -> bytes:
        return self._write(batch, False)


def json_value(value) -> str:
    """One value as JSON text; decimals stay exact numbers, dates become ISO strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value) if math.isfinite(value) else "null"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return json.dumps(value.isoformat())
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {json_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(json_value(v) for v in value) + "]"
    if isinstance(value, (bytes, bytearray)):
        return json.dumps(bytes(value).hex())
    return json.dumps(str(value))


class _Json(_Text):
    """A JSON array with one object per row, one row per line."""

    def __init__(self, schema, options):
        super().__init__(schema, options)
        self.keys = [json.dumps(name, ensure_ascii=False) for name in schema.names]
        self.any_rows = False

    def rows(self, batch) -> bytes:
        columns = [col.to_pylist() for col in batch.columns]
        lines = ["  {" + ", ".join(f"{k}: {json_value(col[r])}" for k, col in zip(self.keys, columns)) + "}"
                 for r in range(batch.num_rows)]
        if not lines:
            return b""
        text = ("[\n" if not self.any_rows else ",\n") + ",\n".join(lines)
        self.any_rows = True
        return text.encode()

    def end(self) -> bytes:
        return b"\n]\n" if self.any_rows else b"[]\n"


class _NdJson(_Text):
    """Newline-delimited JSON, one object per row, as DuckDB's ``COPY ... (FORMAT json)`` writes it.
    Each batch's lines are made by Arrow string kernels (``nested_kernels.render``), not per row."""

    def rows(self, batch) -> bytes:
        import numpy as np
        from quarry.compute.nested_kernels import build_list, render
        if not batch.num_rows:
            return b""
        columns = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in batch.columns]
        rows = pa.StructArray.from_arrays(columns, names=batch.schema.names) if columns else \
            pa.array([{}] * batch.num_rows)
        lines = render(rows, json=True)
        text = pc.binary_join(build_list(np.array([len(lines)]), lines, None), "\n")[0].as_py()
        return (text + "\n").encode()


class _Markdown(_Text):
    """A GitHub-flavoured Markdown table; numeric columns right-aligned, NULL as ``NULL``."""

    @staticmethod
    def _escape(text: str) -> str:
        return text.replace("|", "\\|")

    def begin(self) -> bytes:
        from quarry.display import is_numeric
        header = "| " + " | ".join(self._escape(n) for n in self.schema.names) + " |"
        align = "|" + "|".join(" ---: " if is_numeric(f.type) else " --- " for f in self.schema) + "|"
        return (header + "\n" + align + "\n").encode()

    def rows(self, batch) -> bytes:
        from quarry.display import format_value
        columns = [[self._escape(format_value(v)) for v in col.to_pylist()] for col in batch.columns]
        return "".join("| " + " | ".join(col[r] for col in columns) + " |\n"
                       for r in range(batch.num_rows)).encode()


_TEXT = {"csv": _Csv, "tsv": _Tsv, "json": _Json, "ndjson": _NdJson, "markdown": _Markdown}


def _write_text(write, schema: pa.Schema, batches, fmt: str, options: dict) -> int:
    encoder = _TEXT[fmt](schema, options)
    rows = 0
    write(encoder.begin())
    for batch in _batches(schema, batches):
        write(encoder.rows(batch))
        rows += batch.num_rows
    write(encoder.end())
    return rows


def write_stream(sink, schema: pa.Schema, batches: Iterable[pa.RecordBatch], fmt: str, **options) -> int:
    """Write ``batches`` in a text format to ``sink``, an open text or binary stream; the row count."""
    check_options(fmt, options)
    if fmt not in TEXT_FORMATS:
        raise UnsupportedError(f"{fmt} output to a stream", hint=f"write {fmt} to a file")
    binary = isinstance(sink, (io.RawIOBase, io.BufferedIOBase))

    def write(chunk: bytes) -> None:
        if chunk:
            sink.write(chunk if binary else chunk.decode("utf-8"))
    return _write_text(write, schema, batches, fmt, options)


def render(table: pa.Table, fmt: str, **options) -> str:
    """``table`` as text in a text format.

    >>> print(render(pa.table({"a": [1], "b": ["x"]}), "json"), end="")
    [
      {"a": 1, "b": "x"}
    ]
    """
    out = io.StringIO()
    write_stream(out, table.schema, table.to_batches(), fmt, **options)
    return out.getvalue()


# -- files -----------------------------------------------------------------------------------------

def _write_binary(path: str, schema: pa.Schema, batches, fmt: str, options: dict) -> int:
    rows = 0
    if fmt == "parquet":
        import pyarrow.parquet as pq
        compression = str(options.get("compression", "snappy")).lower()
        with pq.ParquetWriter(path, schema, compression=compression) as writer:
            for batch in _batches(schema, batches):
                writer.write_batch(batch)
                rows += batch.num_rows
    else:
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for batch in _batches(schema, batches):
                writer.write_batch(batch)
                rows += batch.num_rows
    return rows


def _temporary_next_to(path: str, directory: bool = False) -> str:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    prefix = "." + os.path.basename(path) + "."
    if directory:
        return tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)
    return tmp


def _cannot_write(path: str, exc: Exception) -> DataError:
    if isinstance(exc, OSError) and exc.strerror:
        return DataError(f"cannot write `{path}`: {exc.strerror}",
                         hint="check that the directory exists and is writable")
    return DataError(f"cannot write `{path}`: {exc}")


def write_file(path, schema: pa.Schema, batches: Iterable[pa.RecordBatch], fmt: str | None = None,
               **options) -> int:
    """Write ``batches`` to the file ``path`` (format from ``fmt``, else from the name); the row count.

    The file appears, complete, only when every batch is written; until then (and
    after a failure or a cancelled query) ``path`` holds what it held before.

    >>> write_file("out/q.parquet", table.schema, table.to_batches())      # doctest: +SKIP
    3
    """
    path = os.fspath(path)
    fmt = fmt or format_for_path(path)
    check_options(fmt, options)
    if is_remote(path):
        return _write_remote(path, schema, batches, fmt, options, None)
    if os.path.isdir(path):
        raise DataError(f"cannot write `{path}`: it is a directory", hint="give a file name")
    tmp = None
    try:
        tmp = _temporary_next_to(path)
        if fmt in TEXT_FORMATS:
            # `x.csv.gz` is gzipped, as readers (Arrow's, DuckDB's) expect from the name
            with (pa.CompressedOutputStream(tmp, "gzip") if path.lower().endswith(".gz") else open(tmp, "wb")) as f:
                def write(chunk: bytes) -> None:
                    f.write(chunk)
                    f.flush()           # a batch's rows leave memory before the next batch is computed
                rows = _write_text(write, schema, batches, fmt, options)
        else:
            rows = _write_binary(tmp, schema, batches, fmt, options)
        os.replace(tmp, path)
        tmp = None
        return rows
    except (OSError, pa.ArrowException) as exc:
        raise _cannot_write(path, exc) from exc
    finally:
        if tmp is not None:
            _remove(tmp)


def write_partitioned(path, schema: pa.Schema, batches: Iterable[pa.RecordBatch], keys: list[str],
                      **options) -> int:
    """Write Parquet under the directory ``path`` in hive folders (``path/k=v/part-0.parquet``); the row count.

    The dataset is written into a hidden directory next to ``path`` first; then each
    partition folder it produced replaces the folder of the same partition under
    ``path`` (other partitions stay), each by a rename.
    """
    import pyarrow.dataset as ds
    path = os.fspath(path)
    check_options("parquet", options)
    if is_remote(path):
        return _write_remote(path, schema, batches, "parquet", options, list(keys))
    if os.path.isfile(path):
        raise DataError(f"cannot write `{path}`: it is a file", hint="partitioned output is a directory")
    counted = CountedBatches(schema, batches)

    staging = None
    try:
        staging = _temporary_next_to(path, directory=True)
        file_format = ds.ParquetFileFormat()
        write_options = file_format.make_write_options(compression=str(options.get("compression", "snappy")).lower())
        ds.write_dataset(pa.RecordBatchReader.from_batches(schema, counted), staging, format=file_format,
                         file_options=write_options, partitioning=keys, partitioning_flavor="hive",
                         existing_data_behavior="overwrite_or_ignore")
        os.makedirs(path, exist_ok=True)
        for leaf in _leaf_folders(staging):
            target = os.path.join(path, os.path.relpath(leaf, staging))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            old = None
            if os.path.exists(target):
                # hidden while it exists, so a reader of the dataset never sees two copies
                old = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{os.getpid()}.old")
                os.rename(target, old)
            os.rename(leaf, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return counted.rows
    except (OSError, pa.ArrowException) as exc:
        raise _cannot_write(path, exc) from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _leaf_folders(root: str) -> list[str]:
    """The folders under ``root`` that hold files (the innermost partition folders)."""
    return sorted(folder for folder, _, files in os.walk(root) if files and folder != root)


# -- object stores ---------------------------------------------------------------------------------
#
# An object store has no rename, so a write goes to a staging prefix, ``<target dir>/_temporary/<id>/``
# (hidden from every listing: names starting with ``_`` are skipped), and is committed by server-side
# copies once every batch is written; a directory target then gets a ``_SUCCESS`` marker, as Spark's
# committer leaves. A write that fails or is killed before the commit leaves only the staging prefix
# (removed on failure when the process is still alive), so nothing shows at the target.

SUCCESS_MARKER = "_SUCCESS"


def _write_remote(uri: str, schema: pa.Schema, batches, fmt: str, options: dict, keys: list[str] | None) -> int:
    import uuid
    import pyarrow.fs as pafs
    from quarry.catalog.filesystems import current_storage, filesystem, remote_error
    storage = current_storage()
    fs, path = filesystem(uri, storage)
    directory = keys is not None or uri.endswith("/")
    base = path.rstrip("/") if directory else path.rsplit("/", 1)[0]
    if "/" not in base and not directory and base == path:
        raise DataError(f"cannot write `{uri}`: give a key inside the bucket", hint="e.g. s3://bucket/out/q.parquet")
    staging = f"{base}/_temporary/{uuid.uuid4().hex}"
    counted = CountedBatches(schema, batches)

    committed: list[str] = []
    try:
        if keys is not None or directory:
            import pyarrow.dataset as ds
            if fmt != "parquet":
                raise UnsupportedError(f"{fmt} output to a directory", hint="write Parquet, or name one file")
            file_format = ds.ParquetFileFormat()
            write_options = file_format.make_write_options(
                compression=str(options.get("compression", "snappy")).lower())
            # the query's own failure ends the input cleanly and is raised once write_dataset has
            # returned: raised through it, pyarrow may still be finishing a file in the staging prefix
            # when the clean-up below lists it, and that file would stay behind
            failed: list[Exception] = []
            ds.write_dataset(pa.RecordBatchReader.from_batches(schema, _until_failure(counted, failed)), staging,
                             format=file_format, filesystem=fs, file_options=write_options,
                             partitioning=keys or None, partitioning_flavor="hive" if keys else None,
                             basename_template="part-{i}.parquet", existing_data_behavior="overwrite_or_ignore",
                             create_dir=False)
            if failed:
                raise failed[0]
        else:
            name = path.rsplit("/", 1)[1]
            target = f"{staging}/{name}"
            if fmt == "parquet":
                import pyarrow.parquet as pq
                compression = str(options.get("compression", "snappy")).lower()
                with pq.ParquetWriter(target, schema, compression=compression, filesystem=fs) as writer:
                    for batch in counted:
                        writer.write_batch(batch)
            elif fmt == "arrow":
                with fs.open_output_stream(target) as sink, pa.ipc.new_file(sink, schema) as writer:
                    for batch in counted:
                        writer.write_batch(batch)
            else:
                compression = "gzip" if name.lower().endswith(".gz") else None
                with fs.open_output_stream(target, compression=compression) as sink:
                    _write_text(lambda chunk: sink.write(chunk) if chunk else None, schema, counted, fmt,
                                options)
        written = [i.path for i in fs.get_file_info(pafs.FileSelector(staging, recursive=True))
                   if i.type == pafs.FileType.File]
        # commit: a partition replaces the files of the same partition; then the marker
        targets = {f: base + f[len(staging):] for f in written}
        if directory:
            for folder in sorted({t.rsplit("/", 1)[0] for t in targets.values()}):
                old = fs.get_file_info(pafs.FileSelector(folder, recursive=keys is None, allow_not_found=True))
                for info in old:
                    if info.type == pafs.FileType.File and (keys or not info.base_name.startswith("_")) and \
                            "/_temporary/" not in info.path:
                        fs.delete_file(info.path)
        for source, target in targets.items():
            fs.copy_file(source, target)
            committed.append(target)
        if directory:
            with fs.open_output_stream(f"{base}/{SUCCESS_MARKER}"):
                pass
        committed = []
        return counted.rows
    except (OSError, pa.ArrowException) as exc:
        raise remote_error(uri, exc, storage, "write") from None
    finally:
        for target in committed:          # a commit that failed half-way takes back what it copied
            try:
                fs.delete_file(target)
            except (OSError, pa.ArrowException):
                pass
        _remove_remote_dir(fs, staging)


def _until_failure(batches, failed: list):
    """``batches`` until one raises; the exception goes into ``failed`` and the stream just ends."""
    try:
        yield from batches
    except Exception as exc:
        failed.append(exc)


def _remove_remote_dir(fs, prefix: str) -> None:
    """Delete every object under ``prefix`` (best effort: the write's own error is the one to report)."""
    import pyarrow.fs as pafs
    try:
        for info in fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True)):
            if info.type == pafs.FileType.File:
                fs.delete_file(info.path)
        fs.delete_dir(prefix)
    except (OSError, pa.ArrowException):
        pass


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


__all__ = ["FORMATS", "TEXT_FORMATS", "BINARY_FORMATS", "check_options", "format_for_path", "render",
           "write_file", "write_partitioned", "write_stream", "json_value"]
