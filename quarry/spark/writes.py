"""``df.write``: the WriteOperation command, onto quarry's file writers.

Spark writes a *directory* of part files; so does this: ``df.write.parquet("out")`` makes
``out/part-00000-<id>.parquet`` (``.csv``, ``.json``), and with ``partitionBy("k")`` hive
folders ``out/k=v/...`` (Parquet only), which ``spark.read.parquet("out")`` (and quarry's
``read_parquet``) read back. Modes are Spark's: ``errorifexists`` (the default) refuses an
existing path, ``ignore`` then writes nothing, ``overwrite`` replaces it, ``append`` adds a part
file. Every path passes the session's sandbox (``check_write_allowed``) first, and a write
needs the caller's role to allow writes.

Not supported (refused): ``saveAsTable`` / ``insertInto``, ``bucketBy``, ``sortBy``, formats
other than parquet/csv/json, and options other than those listed in ``_OPTIONS``.
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
    if w.WhichOneof("save_type") != "path":
        raise not_supported("saveAsTable / insertInto (write to a path instead)")
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
