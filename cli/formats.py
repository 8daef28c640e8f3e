"""Output modes: how a result table is written (table, csv, tsv, json, markdown, parquet, arrow).

Text modes return a string for the shell's current output; file modes write a
file and return a one-line note. CSV and TSV go through Arrow's C++ CSV writer;
JSON and Markdown walk the rows in Python, which is fine for output a person or a
script reads but is not a bulk export path (use ``.mode parquet FILE`` for that).

    >>> import pyarrow as pa
    >>> print(render(pa.table({"a": [1, None]}), "csv"), end="")
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

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from quarry.display import format_table, format_value, is_numeric

TEXT_MODES = ("table", "csv", "tsv", "json", "markdown")
FILE_MODES = ("parquet", "arrow")
MODES = TEXT_MODES + FILE_MODES


# -- csv / tsv -----------------------------------------------------------------------------------

def _csv_safe(table: pa.Table) -> pa.Table:
    """Turn columns Arrow's CSV writer refuses (lists, structs, maps, binary) into display text."""
    columns = []
    for col in table.columns:
        t = col.type
        if pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t) \
                or pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t):
            col = pa.array([None if v is None else format_value(v) for v in col.to_pylist()], pa.string())
        columns.append(col)
    return pa.Table.from_arrays(columns, names=table.column_names)


def to_csv(table: pa.Table) -> str:
    """RFC 4180 CSV with a header; NULL is an empty field, an empty string is ``""``."""
    sink = io.BytesIO()
    pacsv.write_csv(_csv_safe(table), sink)
    return sink.getvalue().decode("utf-8")


def to_tsv(table: pa.Table) -> str:
    """Tab-separated values, unquoted; tabs, newlines and backslashes in text are escaped (``\\t``)."""
    table = _csv_safe(table)
    columns = []
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
                col = pc.replace_substring(col, raw, escaped)
        columns.append(col)
    table = pa.Table.from_arrays(columns, names=table.column_names)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(delimiter="\t", quoting_style="none",
                                                     quoting_header="none"))
    return sink.getvalue().decode("utf-8")


# -- json ----------------------------------------------------------------------------------------

def _json(value) -> str:
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
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_json(v) for v in value) + "]"
    if isinstance(value, (bytes, bytearray)):
        return json.dumps(bytes(value).hex())
    return json.dumps(str(value))


def to_json(table: pa.Table) -> str:
    """A JSON array with one object per row, one row per line.

    >>> print(to_json(pa.table({"a": [1], "b": ["x"]})), end="")
    [
      {"a": 1, "b": "x"}
    ]
    """
    keys = [json.dumps(name, ensure_ascii=False) for name in table.column_names]
    columns = [col.to_pylist() for col in table.columns]
    rows = ["  {" + ", ".join(f"{k}: {_json(col[r])}" for k, col in zip(keys, columns)) + "}"
            for r in range(table.num_rows)]
    return "[\n" + ",\n".join(rows) + "\n]\n" if rows else "[]\n"


# -- markdown ------------------------------------------------------------------------------------

def to_markdown(table: pa.Table) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned, NULL as ``NULL``."""

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    header = "| " + " | ".join(esc(n) for n in table.column_names) + " |"
    align = "|" + "|".join(" ---: " if is_numeric(f.type) else " --- " for f in table.schema) + "|"
    columns = [[esc(format_value(v)) for v in col.to_pylist()] for col in table.columns]
    rows = ["| " + " | ".join(col[r] for col in columns) + " |" for r in range(table.num_rows)]
    return "\n".join([header, align] + rows) + "\n"


# -- files ---------------------------------------------------------------------------------------

def write_file(table: pa.Table, mode: str, path: str) -> str:
    """Write ``table`` to ``path`` as Parquet or an Arrow IPC file; return a note for the user."""
    import pyarrow.parquet as pq
    from quarry.errors import DataError
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if mode == "parquet":
            pq.write_table(table, path)
        elif mode == "arrow":
            with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        else:
            raise ValueError(f"not a file mode: {mode}")
    except OSError as exc:
        raise DataError(f"cannot write `{path}`: {exc}",
                        hint="check that the directory exists and is writable") from None
    rows = table.num_rows
    return f"wrote {rows} row{'s' if rows != 1 else ''} to {path} ({mode})"


def render(table: pa.Table, mode: str, *, max_rows: int | None = 40, max_width: int | None = 0,
           elapsed: float | None = None, color: bool = False) -> str:
    """The text of ``table`` in a text mode, ending with a newline.

    Only ``table`` honours ``max_rows`` and the width: the data formats always carry
    every row and column.
    """
    if mode == "table":
        return format_table(table, max_rows=max_rows, max_width=max_width, elapsed=elapsed,
                            color=color) + "\n"
    if mode == "csv":
        return to_csv(table)
    if mode == "tsv":
        return to_tsv(table)
    if mode == "json":
        return to_json(table)
    if mode == "markdown":
        return to_markdown(table)
    raise ValueError(f"unknown output mode {mode!r}")
