"""``df.write``: the WriteOperation command, onto quarry's file writers.

Spark writes a *directory* of part files; so does this: ``df.write.parquet("out")`` makes
``out/part-00000-<id>.parquet`` (``.csv``, ``.json``), and with ``partitionBy("k")`` hive
folders ``out/k=v/...`` (Parquet only), which ``spark.read.parquet("out")`` (and quarry's
``read_parquet``) read back. Modes are Spark's: ``errorifexists`` (the default) refuses an
existing path, ``ignore`` then writes nothing, ``overwrite`` replaces it, ``append`` adds a part
file. Every path passes the session's sandbox (``check_write_allowed``) first, and a write
needs the caller's role to allow writes.

``saveAsTable(name)`` makes ``name`` a table of the session's catalog holding the rows (in
memory, like quarry's ``CREATE TABLE AS``; the format and ``partitionBy`` change nothing in
what it returns), with the same modes: ``errorifexists`` refuses an existing table,
``ignore`` keeps it, ``overwrite`` replaces it, ``append`` adds the rows (matched by column
name, cast to the table's types). ``insertInto(name[, overwrite])`` adds (or, overwriting,
replaces) the rows of an existing table, matched by position as in Spark.

Not supported (refused): ``bucketBy``, ``sortBy``, formats other than parquet/csv/json, and
options other than those listed in ``_OPTIONS``.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pyarrow as pa

from pyspark.sql.connect.proto import commands_pb2

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
    if os.path.exists(path):
        if mode == "errorifexists":
            raise SparkError(f"the path `{path}` already exists", error_class="PATH_ALREADY_EXISTS",
                             parameters={"outputPath": path})
        if mode == "ignore":
            return
        if mode == "overwrite":
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    df = translator.translate(w.input)
    partition = list(w.partitioning_columns)
    if partition:
        if fmt != "parquet":
            raise not_supported(f"partitionBy with {fmt}")
        df.write_parquet(path, partition_by=partition, **_parquet_options(options))
        return
    os.makedirs(path, exist_ok=True)
    target = os.path.join(path, f"part-00000-{uuid.uuid4()}.{fmt}")
    if fmt == "parquet":
        df.write_parquet(target, **_parquet_options(options))
    elif fmt == "csv":
        header = str(options.get("header", "false")).lower() == "true"
        df.write_csv(target, header=header, delimiter=options.get("sep") or options.get("delimiter") or ",")
    else:
        _write_json(df, target)


def _parquet_options(options: dict) -> dict:
    return {"compression": options["compression"]} if "compression" in options else {}


def _write_json(df, target: str) -> None:
    """JSON lines, one object per row (pandas' vectorized writer; NULLs are written as ``null``)."""
    df.to_arrow().to_pandas().to_json(target, orient="records", lines=True, date_format="iso")


def _save_table(state, translator, w) -> None:
    """``saveAsTable`` / ``insertInto``: the rows into a table of the session's catalog (see the module)."""
    from quarry.catalog.providers import MemoryTable
    from quarry.spark.expressions import split_identifier
    session = state.session
    parts = split_identifier(w.table.table_name)
    while len(parts) > 1 and parts[0].lower() in ("spark_catalog", "default"):
        parts = parts[1:]
    if len(parts) != 1:
        raise not_supported(f"a table outside the default database (`{w.table.table_name}`)")
    name = parts[0]
    mode = _MODES.get(w.mode, "errorifexists")
    insert = w.table.save_method == commands_pb2.WriteOperation.SaveTable.TABLE_SAVE_METHOD_INSERT_INTO
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
    rows = translator.translate(w.input).to_arrow()
    if exists and (insert or mode == "append"):
        current = translator.table(name).to_arrow()
        target = current.schema
        if insert:
            if rows.num_columns != len(target):
                raise SparkError(f"insertInto `{name}`: the table has {len(target)} columns, the data "
                                 f"{rows.num_columns}", error_class="INSERT_COLUMN_ARITY_MISMATCH")
            columns = rows.columns
        else:
            by_lower = {n.lower(): i for i, n in enumerate(rows.column_names)}
            missing = [f.name for f in target if f.name.lower() not in by_lower]
            if missing or rows.num_columns != len(target):
                raise SparkError(f"append to `{name}`: the columns differ (table: {target.names}, data: "
                                 f"{rows.column_names})", error_class="INSERT_COLUMN_ARITY_MISMATCH")
            columns = [rows.column(by_lower[f.name.lower()]) for f in target]
        try:
            cast = pa.Table.from_arrays([c.cast(f.type) for c, f in zip(columns, target)],
                                        schema=pa.schema([f.with_nullable(True) for f in target]))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SparkError(f"the rows do not fit the table `{name}`: {exc}", error_class="CAST_INVALID_INPUT") \
                from None
        overwrite = insert and mode == "overwrite"
        base = current.cast(cast.schema) if current.schema != cast.schema else current
        rows = cast if overwrite else pa.concat_tables([base, cast])
    catalog.register(name, MemoryTable(name, rows), replace=True)
