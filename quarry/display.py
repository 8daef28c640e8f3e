"""Render Arrow tables as text for people: column names and types, aligned, NULLs marked."""

from __future__ import annotations

import shutil

import pyarrow as pa

from quarry.logical import types as T

NULL_TEXT = "NULL"


def _cell(value) -> str:
    if value is None:
        return NULL_TEXT
    if isinstance(value, float):
        return repr(value) if abs(value) < 1e16 else f"{value:g}"
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return str(value)


def _is_numeric(t: pa.DataType) -> bool:
    return T.is_numeric(t)


def format_table(table: pa.Table, max_rows: int = 40, max_width: int | None = None,
                 elapsed: float | None = None) -> str:
    """A boxed text table: header with names and types, numbers right-aligned, footer with counts.

    Long results show the first and last rows with ``…`` between; columns that do not
    fit ``max_width`` (default: the terminal) are dropped with a note.
    """
    if max_width is None:
        max_width = shutil.get_terminal_size((120, 40)).columns
    n = table.num_rows
    if n > max_rows:
        head = max_rows // 2 + max_rows % 2
        tail = max_rows // 2
        shown = pa.concat_tables([table.slice(0, head), table.slice(n - tail, tail)]) if tail else table.slice(0, head)
        cut_at = head
    else:
        shown = table
        cut_at = None
    cols = []
    for i, f in enumerate(table.schema):
        values = [_cell(v) for v in shown.column(i).to_pylist()]
        header = [f.name, T.sql_name(T.normalize(f.type)).lower()]
        width = max([len(h) for h in header] + [len(v) for v in values] + [1])
        cols.append((header, values, width, _is_numeric(f.type)))
    # drop columns that do not fit the width
    total = 1
    keep = []
    for c in cols:
        if total + c[2] + 3 > max_width and keep:
            break
        keep.append(c)
        total += c[2] + 3
    hidden = len(cols) - len(keep)

    def line(left, mid, right, fill="─"):
        return left + mid.join(fill * (c[2] + 2) for c in keep) + right

    out = [line("┌", "┬", "┐")]
    for h in range(2):
        out.append("│" + "│".join(" " + c[0][h].center(c[2]) + " " for c in keep) + "│")
    out.append(line("├", "┼", "┤"))
    rows = shown.num_rows
    for r in range(rows):
        if cut_at is not None and r == cut_at:
            out.append("│" + "│".join(" " + "…".center(c[2]) + " " for c in keep) + "│")
        cells = []
        for header, values, width, numeric in keep:
            v = values[r]
            cells.append(" " + (v.rjust(width) if numeric and v != NULL_TEXT else v.ljust(width)) + " ")
        out.append("│" + "│".join(cells) + "│")
    out.append(line("└", "┴", "┘"))
    footer = f"{n} row{'s' if n != 1 else ''}"
    if cut_at is not None:
        footer += f" (showing {rows})"
    if hidden:
        footer += f", {hidden} column{'s' if hidden != 1 else ''} not shown (too wide)"
    if elapsed is not None:
        footer += f" in {elapsed:.3f}s"
    out.append(footer)
    return "\n".join(out)
