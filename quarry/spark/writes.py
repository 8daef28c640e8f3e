"""``df.write``: the WriteOperation command, onto quarry's file writers.

Spark writes a *directory* of part files; so does this: ``df.write.parquet("out")`` makes
``out/part-00000-<id>.parquet`` (``.csv``, ``.json``), and with ``partitionBy("k")`` hive
folders ``out/k=v/...`` (Parquet only), which ``spark.read.parquet("out")`` (and quarry's
``read_parquet``) read back. Modes are Spark's: ``errorifexists`` (the default) refuses an
existing path, ``ignore`` then writes nothing, ``overwrite`` replaces it, ``append`` adds a part
file. Every path passes the session's sandbox (``check_write_allowed``) first, and a write
needs the caller's role to allow writes. An object-store path (``s3://``, ``gs://``, ``az://``) is
written through quarry's object-store writers, with the session's credentials: each part file is
staged and then copied in place, and ``overwrite`` deletes the objects under the path first.

``saveAsTable(name)`` makes ``name`` a table of the session's catalog holding the rows (in
memory, like quarry's ``CREATE TABLE AS``; the format and ``partitionBy`` change nothing in
what it returns), with the same modes: ``errorifexists`` refuses an existing table,
``ignore`` keeps it, ``overwrite`` replaces it, ``append`` adds the rows (matched by column
name, cast to the table's types). ``insertInto(name[, overwrite])`` adds (or, overwriting,
replaces) the rows of an existing table, matched by position as in Spark. ``df.writeTo(name)``
does the same with ``create``, ``replace``, ``createOrReplace``, ``append`` (by name),
``overwrite(lit(True))`` and ``overwritePartitions`` (these tables have no partitions: every
row is replaced).

``repartition(n)`` or ``coalesce(n)`` just before a path write makes up to ``n`` part files
(``part-00000-...`` to ``part-0000<n-1>-...``, even runs of rows), ``repartition(n, "k")`` puts
the rows of one key in one file, as Spark writes one file per partition.

Not supported (refused): ``bucketBy``, ``sortBy``, formats other than parquet/csv/json, and
options other than those listed in ``_OPTIONS``.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pyarrow as pa

from pyspark.sql.connect.proto import commands_pb2

from quarry.catalog.filesystems import is_remote
from quarry.spark.errors import SparkError, not_supported

__all__ = ["write"]

_MODES = {commands_pb2.WriteOperation.SAVE_MODE_UNSPECIFIED: "errorifexists",
          commands_pb2.WriteOperation.SAVE_MODE_ERROR_IF_EXISTS: "errorifexists",
          commands_pb2.WriteOperation.SAVE_MODE_APPEND: "append",
          commands_pb2.WriteOperation.SAVE_MODE_OVERWRITE: "overwrite",
          commands_pb2.WriteOperation.SAVE_MODE_IGNORE: "ignore"}
_OPTIONS = {"parquet": {"compression"}, "csv": {"header", "sep", "delimiter"}, "json": set()}


def write(state, translator, w) -> None:
    """Run the WriteOperation ``w`` for the Spark session ``state``."""
    if w.HasField("bucket_by") or w.sort_column_names or w.clustering_columns:
        raise not_supported("bucketBy / sortBy / clusterBy")
    fmt = (w.source or "parquet").lower()
    if fmt not in _OPTIONS:
        raise not_supported(f"writing the `{fmt}` format")
    options = {k.lower(): v for k, v in w.options.items()}
    for key in options:
        if key not in _OPTIONS[fmt]:
            raise not_supported(f"the {fmt} write option `{key}`")
    session = state.session
    guard = session.command_guard
    if w.WhichOneof("save_type") == "table":
        if guard is not None:
            guard.require("write", f"write the table `{w.table.table_name}`")
        _save_table(state, translator, w)
        return
    if w.WhichOneof("save_type") != "path":
        raise not_supported("a write without a path or table")
    if guard is not None:
        guard.require("write", f"write {fmt} files")
    path = w.path
    session.check_write_allowed(path)
    mode = _MODES.get(w.mode, "errorifexists")
    with session.using_storage():
        if _exists(path):
            if mode == "errorifexists":
                raise SparkError(f"the path `{path}` already exists", error_class="PATH_ALREADY_EXISTS",
                                 parameters={"outputPath": path})
            if mode == "ignore":
                return
            if mode == "overwrite":
                _remove(path)
    df = translator.translate(w.input)
    if fmt == "csv":
        df = _csv_timestamps(df, state.time_zone)
    partition = list(w.partitioning_columns)
    if partition:
        if fmt != "parquet":
            raise not_supported(f"partitionBy with {fmt}")
        df.write_parquet(_as_directory(path), partition_by=partition, **_parquet_options(options))
        return
    if not is_remote(path):
        os.makedirs(path, exist_ok=True)
    parts = _requested_files(w.input)
    if parts is None or parts <= 1:
        _write_file(df, fmt, _join(path, f"part-00000-{uuid.uuid4()}.{fmt}"), options, state.time_zone)
        return
    # repartition(n) / coalesce(n) before the write: up to n part files, as Spark writes one per partition
    from quarry.api.dataframe import DataFrame
    table = df.to_arrow()
    keys = _partition_keys(translator, w.input, df)
    for i, piece in enumerate(_split(table, parts, keys)):
        if piece.num_rows or i == 0:
            _write_file(DataFrame.from_arrow(session, piece, "part"), fmt,
                        _join(path, f"part-{i:05d}-{uuid.uuid4()}.{fmt}"), options, state.time_zone)


def _csv_timestamps(df, time_zone: str):
    """``df`` with its timestamp columns as the text Spark's CSV writer gives them (its default
    ``timestampFormat``, with the session zone's offset: ``2024-01-02T03:04:05.120Z``)."""
    import pyarrow as pa
    from quarry.api.column import Column, col
    from quarry.logical import types as T
    from quarry.logical.expressions import Call, Literal
    if not any(pa.types.is_timestamp(f.type) for f in df.schema):
        return df

    def text(name):
        return Column(lambda ctx: Call("spark_csv_timestamp", (col(name).bind(ctx), Literal(time_zone, T.STRING)),
                                       T.STRING, True), name).alias(name)
    return df.select(*[text(f.name) if pa.types.is_timestamp(f.type) else col(f.name) for f in df.schema])


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}" if is_remote(directory) else os.path.join(directory, name)


def _as_directory(path: str) -> str:
    """An object-store target written as a directory of files ends in ``/`` (quarry's writers' rule)."""
    return path.rstrip("/") + "/" if is_remote(path) else path


def _exists(path: str) -> bool:
    """Whether a local path, or an object-store file or non-empty prefix, exists."""
    if not is_remote(path):
        return os.path.exists(path)
    import pyarrow.fs as pafs
    from quarry.catalog.filesystems import filesystem, remote_error
    fs, inner = filesystem(path)
    try:
        info = fs.get_file_info(inner)
        if info.type == pafs.FileType.File:
            return True
        listed = fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True))
    except (OSError, pa.ArrowException) as exc:
        raise remote_error(path, exc, doing="check") from None
    return any(i.type == pafs.FileType.File for i in listed)


def _remove(path: str) -> None:
    """Delete a local file or directory, or every object at or under an object-store path."""
    if not is_remote(path):
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        return
    import pyarrow.fs as pafs
    from quarry.catalog.filesystems import filesystem, remote_error
    fs, inner = filesystem(path)
    try:
        if fs.get_file_info(inner).type == pafs.FileType.File:
            fs.delete_file(inner)
        else:
            fs.delete_dir_contents(inner, missing_dir_ok=True)
    except (OSError, pa.ArrowException) as exc:
        raise remote_error(path, exc, doing="overwrite") from None


def _write_file(df, fmt: str, target: str, options: dict, time_zone: str = "UTC") -> None:
    if fmt == "parquet":
        df.write_parquet(target, **_parquet_options(options))
    elif fmt == "csv":
        header = str(options.get("header", "false")).lower() == "true"
        df.write_csv(target, header=header, delimiter=options.get("sep") or options.get("delimiter") or ",",
                     quoting="spark")
    else:
        _write_json(df, target, time_zone)


def _requested_files(rel) -> int | None:
    """The partition count a ``repartition(n)`` / ``coalesce(n)`` / ``repartition(n, cols)`` on top of
    the written relation asks for (None when there is none)."""
    kind = rel.WhichOneof("rel_type")
    if kind == "repartition":
        return rel.repartition.num_partitions
    if kind == "repartition_by_expression" and rel.repartition_by_expression.HasField("num_partitions"):
        return rel.repartition_by_expression.num_partitions
    return None


def _partition_keys(translator, rel, df) -> list[str] | None:
    """For ``repartition(n, cols)``: the names of the key columns, when they are plain columns."""
    if rel.WhichOneof("rel_type") != "repartition_by_expression":
        return None
    names = []
    present = {c.lower(): c for c in df.columns}
    for e in rel.repartition_by_expression.partition_exprs:
        if e.WhichOneof("expr_type") == "sort_order":
            return None                      # repartitionByRange: ranges, not keys
        if e.WhichOneof("expr_type") != "unresolved_attribute":
            raise not_supported("repartition(n, expression) before a write; repartition by columns")
        name = e.unresolved_attribute.unparsed_identifier
        if name.lower() not in present:
            raise SparkError(f"cannot resolve `{name}` to repartition by",
                             error_class="UNRESOLVED_COLUMN.WITH_SUGGESTION",
                             parameters={"objectName": f"`{name}`", "proposal": ""})
        names.append(present[name.lower()])
    return names


def _split(table: pa.Table, parts: int, keys: list[str] | None) -> list[pa.Table]:
    """``table`` cut into ``parts`` pieces: by key (rows with equal keys together) or into even runs."""
    import numpy as np
    import pyarrow.compute as pc
    if not keys:
        size = -(-table.num_rows // parts) if table.num_rows else 0
        return [table.slice(i * size, size) for i in range(parts)] if size else [table]
    # each distinct key gets a number (in order of first appearance), its rows go to piece number % parts
    combined = table.select(keys).group_by(keys, use_threads=False).aggregate([])
    index = combined.append_column("__k", pa.array(np.arange(combined.num_rows) % parts))
    joined = table.append_column("__row", pa.array(np.arange(table.num_rows))).join(
        index, keys=keys, join_type="left outer", use_threads=False)
    joined = joined.sort_by("__row")
    piece_of = pc.fill_null(joined.column("__k"), 0)        # NULL keys (which a join does not match) go first
    rest = joined.drop_columns(["__k", "__row"]).select(table.column_names)
    return [rest.filter(pc.equal(piece_of, i)) for i in range(parts)]


def _parquet_options(options: dict) -> dict:
    return {"compression": options["compression"]} if "compression" in options else {}


def _write_json(df, target: str, time_zone: str = "UTC") -> None:
    """JSON lines as Spark's JSON writer writes them (see ``_json_text``), one object per row."""
    table = df.to_arrow()
    text = _json_lines(table, time_zone)
    if not is_remote(target):
        with open(target, "wb") as out:
            out.write(text)
        return
    from quarry.catalog.filesystems import filesystem, remote_error
    with df._session.using_storage():
        fs, inner = filesystem(target)
        try:
            with fs.open_output_stream(inner) as out:
                out.write(text)
        except (OSError, pa.ArrowException) as exc:
            raise remote_error(target, exc, doing="write") from None


_JSON_ESCAPES = [("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                 ("\b", "\\b"), ("\f", "\\f")] + \
    [(chr(c), f"\\u{c:04X}") for c in range(0x20) if chr(c) not in "\n\r\t\b\f"]


def _json_string(a: pa.Array) -> pa.Array:
    """Strings as JSON string literals, escaped as Jackson escapes them (control characters as \\uXXXX)."""
    import pyarrow.compute as pc
    for raw, escaped in _JSON_ESCAPES:
        a = pc.replace_substring(a, raw, escaped)
    return pc.binary_join_element_wise('"', a, '"', "")


def _json_text(a: pa.Array, time_zone: str) -> pa.Array:
    """Each value of ``a`` as Spark's JSON writer (Jackson) writes it, NULL where the value is NULL:
    numbers as their text (DOUBLE and FLOAT as Java's ``toString``, NaN and infinities quoted), strings
    escaped, dates ``"2024-01-02"``, timestamps in the default ``timestampFormat``
    (``"2024-01-02T03:04:05.120Z"``), arrays ``[...]`` (a NULL element is ``null``), structs ``{...}``
    and maps ``{"key":value}`` (NULL struct fields left out, ``ignoreNullFields``)."""
    import numpy as np
    import pyarrow.compute as pc
    from quarry.compute.spark_kernels import java_double_text
    from quarry.logical.spark_functions import is_calendar, is_year_month
    t = a.type
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    if is_year_month(t) or is_calendar(t) or pa.types.is_duration(t) or pa.types.is_interval(t):
        raise not_supported("writing an interval column as JSON")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        raise not_supported("writing a binary column as JSON (Spark writes it in base64)")
    if pa.types.is_null(t):
        return pa.nulls(len(a), pa.string())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _json_string(a.cast(pa.string()))
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
        return pc.cast(a, pa.string())
    if pa.types.is_floating(t):
        text = java_double_text(a)
        return pc.if_else(pc.fill_null(pc.is_finite(a), True), text, _json_string(text))
    if pa.types.is_date(t):
        return _json_string(pc.cast(a, pa.string()))
    if pa.types.is_timestamp(t):
        from quarry.compute.spark_kernels import _spark_csv_timestamp
        return _json_string(_spark_csv_timestamp("", [a, pa.scalar(time_zone)], pa.string(), len(a)))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        a = a.cast(pa.list_(t.value_type)) if pa.types.is_large_list(t) else a
        offsets = np.asarray(a.offsets, np.int64)
        values = a.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))     # this slice's elements
        inner = pc.fill_null(_json_text(values, time_zone), "null")
        offsets = (offsets - offsets[0]).astype(np.int32)
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), inner, mask=a.is_null())
        return pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")
    if pa.types.is_struct(t):
        # each field as `"name":value,` or nothing when NULL, the trailing comma dropped after
        pieces = []
        children = a.flatten()                      # the fields, with this array's offset
        for i in range(t.num_fields):
            name = _json_string(pa.array([t.field(i).name], pa.string()))[0].as_py()
            pieces.append(pc.fill_null(pc.binary_join_element_wise(name + ":", _json_text(children[i], time_zone),
                                                                   ",", ""), ""))
        body = pc.binary_join_element_wise(*pieces, "") if pieces else pa.array([""] * len(a), pa.string())
        body = pc.replace_substring_regex(body, ",$", "")
        out = pc.binary_join_element_wise("{", body, "}", "")
        return pc.if_else(a.is_null(), pa.scalar(None, pa.string()), out)
    if pa.types.is_map(t):
        offsets = np.asarray(a.offsets, np.int64)
        first, count = int(offsets[0]), int(offsets[-1] - offsets[0])
        keys = _json_string(pc.cast(a.keys.slice(first, count), pa.string()))
        values = pc.fill_null(_json_text(a.items.slice(first, count), time_zone), "null")
        entries = pc.binary_join_element_wise(keys, ":", values, "")
        offsets = (offsets - offsets[0]).astype(np.int32)
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), entries, mask=a.is_null())
        return pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")
    raise not_supported(f"writing a column of type {t} as JSON")


def _json_lines(table: pa.Table, time_zone: str) -> bytes:
    """The rows of ``table`` as Spark's JSON lines: ``{"a":1,"s":"x"}``, NULL fields left out."""
    import pyarrow.compute as pc
    if table.num_rows == 0:
        return b""
    rows = pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], names=table.column_names) \
        if table.num_columns else None
    if rows is None:
        return b"{}\n" * table.num_rows
    lines = pc.binary_join_element_wise(_json_text(rows, time_zone), "\n", "")
    whole = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), "")
    return whole[0].as_py().encode("utf-8")


def _save_table(state, translator, w) -> None:
    """``saveAsTable`` / ``insertInto``: the rows into a table of the session's catalog (see the module)."""
    insert = w.table.save_method == commands_pb2.WriteOperation.SaveTable.TABLE_SAVE_METHOD_INSERT_INTO
    _store(state, translator, w.table.table_name, w.input, _MODES.get(w.mode, "errorifexists"), insert)


def _table_name(identifier: str) -> str:
    from quarry.spark.expressions import split_identifier
    parts = split_identifier(identifier)
    while len(parts) > 1 and parts[0].lower() in ("spark_catalog", "default"):
        parts = parts[1:]
    if len(parts) != 1:
        raise not_supported(f"a table outside the default database (`{identifier}`)")
    return parts[0]


_V2 = commands_pb2.WriteOperationV2


def write_v2(state, translator, w) -> None:
    """``df.writeTo(name).create() / replace() / createOrReplace() / append() / overwrite(True) /
    overwritePartitions()``, onto the same tables as ``saveAsTable`` (which have no partitions:
    ``overwritePartitions`` replaces every row)."""
    guard = state.session.command_guard
    if guard is not None:
        guard.require("write", f"write the table `{w.table_name}`")
    if w.partitioning_columns or w.clustering_columns:
        raise not_supported("writeTo(...).partitionedBy / clusterBy")
    name = _table_name(w.table_name)
    exists = state.session.catalog.exists(name)
    mode = w.mode
    if mode == _V2.MODE_CREATE:
        _store(state, translator, w.table_name, w.input, "errorifexists", False)
    elif mode == _V2.MODE_CREATE_OR_REPLACE:
        _store(state, translator, w.table_name, w.input, "overwrite", False)
    elif mode in (_V2.MODE_REPLACE, _V2.MODE_APPEND, _V2.MODE_OVERWRITE, _V2.MODE_OVERWRITE_PARTITIONS):
        if not exists:
            raise SparkError(f"the table `{w.table_name}` cannot be found", error_class="TABLE_OR_VIEW_NOT_FOUND",
                             parameters={"relationName": f"`{w.table_name}`"})
        if mode == _V2.MODE_OVERWRITE:
            c = w.overwrite_condition
            if not (c.WhichOneof("expr_type") == "literal" and c.literal.WhichOneof("literal_type") == "boolean"
                    and c.literal.boolean):
                raise not_supported("overwrite(condition) with a condition other than lit(True)")
        if mode == _V2.MODE_REPLACE:            # a new table in the old one's place (its own columns)
            _store(state, translator, w.table_name, w.input, "overwrite", False)
        else:                                   # the rows of the table, matched by column name
            how = "append" if mode == _V2.MODE_APPEND else "overwrite"
            _store(state, translator, w.table_name, w.input, how, False, by_name=True)
    else:
        raise not_supported("writeTo without a mode")


def _store(state, translator, identifier: str, source, mode: str, insert: bool, by_name: bool = False) -> None:
    from quarry.catalog.providers import MemoryTable
    session = state.session
    name = _table_name(identifier)
    catalog = session.catalog
    exists = catalog.exists(name)
    if exists and catalog.get(name).kind == "view":
        raise SparkError(f"`{name}` is a temporary view, not a table", error_class="UNSUPPORTED_INSERT.NOT_ALLOWED",
                         exception="AnalysisException")
    if insert:
        if not exists:
            raise SparkError(f"the table `{name}` cannot be found", error_class="TABLE_OR_VIEW_NOT_FOUND",
                             parameters={"relationName": f"`{name}`"})
    elif exists:
        if mode == "errorifexists":
            raise SparkError(f"the table `{name}` already exists", error_class="TABLE_OR_VIEW_ALREADY_EXISTS",
                             parameters={"relationName": f"`{name}`"})
        if mode == "ignore":
            return
    rows = translator.translate(source).to_arrow()
    if exists and (insert or mode == "append" or by_name):
        current = translator.table(name).to_arrow()
        fitted = _fit(name, rows, current.schema, by_position=insert)
        if mode == "overwrite":
            rows = fitted               # insertInto(overwrite=True), writeTo().replace() / overwrite(...)
        else:
            base = current.cast(fitted.schema) if current.schema != fitted.schema else current
            rows = pa.concat_tables([base, fitted])
    catalog.register(name, MemoryTable(name, rows), replace=True)
    # rows written into the table keep its creation; saveAsTable's overwrite and writeTo's replace make a new one
    state.table_created(name, keep=exists and (insert or by_name or mode == "append"))
    from quarry.spark.catalog import table_relation
    if state.is_cached(table_relation(name)):          # a cached table stays cached, with its new rows
        state.persist(table_relation(name), translator.table(name).to_arrow())


def _fit(name: str, rows: pa.Table, target: pa.Schema, by_position: bool) -> pa.Table:
    """``rows`` as rows of the table ``name`` (schema ``target``): columns matched by position
    (``insertInto``) or by name (``append``, ``writeTo``), cast to the table's types."""
    if rows.num_columns != len(target):
        raise SparkError(f"`{name}` has {len(target)} columns, the data {rows.num_columns}",
                         error_class="INSERT_COLUMN_ARITY_MISMATCH")
    if by_position:
        columns = rows.columns
    else:
        by_lower = {n.lower(): i for i, n in enumerate(rows.column_names)}
        missing = [f.name for f in target if f.name.lower() not in by_lower]
        if missing:
            raise SparkError(f"the data has no column {missing[0]!r} of the table `{name}` (table: {target.names}, "
                             f"data: {rows.column_names})", error_class="INCOMPATIBLE_DATA_FOR_TABLE.CANNOT_FIND_DATA")
        columns = [rows.column(by_lower[f.name.lower()]) for f in target]
    try:
        return pa.Table.from_arrays([c.cast(f.type) for c, f in zip(columns, target)],
                                    schema=pa.schema([f.with_nullable(True) for f in target]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SparkError(f"the rows do not fit the table `{name}`: {exc}", error_class="CAST_INVALID_INPUT") \
            from None
