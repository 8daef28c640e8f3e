"""``df.show()`` text, character for character as Spark prints it (``Dataset.showString``).

The format, from Spark's documented output::

    +---+-----+
    | id| name|
    +---+-----+
    |  1|alice|
    |  2| NULL|
    +---+-----+
    only showing top 2 rows

- every column is at least 3 wide, and as wide as its widest cell (East Asian wide
  characters count twice);
- with truncation on (the default, 20), cells longer than ``truncate`` keep their first
  ``truncate - 3`` characters and end in ``...`` (only the first ``truncate`` when it is
  below 4), and cells are right-aligned; ``truncate=False`` (0) left-aligns them; column
  names are never cut (``getRows`` puts them before the truncated rows);
- values print as Spark casts them to text: ``NULL``, ``true``, ``1.0``, ``1.0E10``,
  ``2024-01-31 12:00:00``, ``[1, 2]``, ``{a -> 1}``, binary as ``[0A FF]``;
- control characters in names and cells print escaped (a newline as ``\\n``, also ``\\r``,
  ``\\t``, ``\\f``, ``\\b``, ``\\v``, ``\\a``), before truncation;
- when there are more rows than shown, ``only showing top N rows`` follows;
- ``vertical=True`` prints one ``-RECORD i`` block per row (``(0 rows)`` when empty).

``html_string`` is ``Dataset.htmlString`` (``df._repr_html_()`` with
``spark.sql.repl.eagerEval.enabled``): a ``<table border='1'>`` with a ``<tr><th>`` row of names
and a ``<tr><td>`` row per shown row, the same cells truncated as above, escaped as Apache
Commons' ``escapeHtml4`` escapes them (``&amp;``, ``&lt;``, ``&gt;``, ``&quot;`` and HTML 4's
named entities such as ``&eacute;``), then the same ``only showing top N rows`` line.

Only the rows shown (at most ``num_rows + 1``) are formatted, here in Python: at most a
screenful of cells, never a whole result.

    >>> import pyarrow as pa
    >>> print(show_string(pa.table({"x": [1, None]}), 20, 20), end="")
    +----+
    |   x|
    +----+
    |   1|
    |NULL|
    +----+
"""

from __future__ import annotations

import datetime
import decimal
import math
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["show_string", "html_string", "cell_text"]


def _java_double(v: float) -> str:
    """``Double.toString``: plain between 1e-3 and 1e7, else ``d.dddE±n`` (shortest round-trip digits)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0.0" if math.copysign(1, v) < 0 else "0.0"
    if 1e-3 <= abs(v) < 1e7:
        return repr(float(v))
    t = decimal.Decimal(repr(abs(float(v)))).as_tuple()
    exp10 = len(t.digits) + t.exponent - 1
    digits = "".join(map(str, t.digits)).rstrip("0") or "0"
    return ("-" if v < 0 else "") + f"{digits[0]}.{digits[1:] or '0'}E{exp10}"


def _java_float(v: float) -> str:
    """``Float.toString`` of a float32 value."""
    if math.isnan(v) or math.isinf(v):
        return _java_double(v)
    text = str(np.float32(v))
    if 1e-3 <= abs(v) < 1e7 or v == 0:
        return text if "." in text or "e" in text else text + ".0"
    return _java_double(float(text))


def _timestamp_text(v: datetime.datetime) -> str:
    text = v.strftime("%Y-%m-%d %H:%M:%S")
    if v.microsecond:
        text += "." + f"{v.microsecond:06d}".rstrip("0")
    return text


def cell_text(value, dtype: pa.DataType, nested: bool = False) -> str:
    """One value as Spark's show() prints it."""
    if value is None:
        return "NULL"
    if pa.types.is_boolean(dtype):
        return "true" if value else "false"
    if pa.types.is_float64(dtype):
        return _java_double(value)
    if pa.types.is_float32(dtype) or pa.types.is_float16(dtype):
        return _java_float(value)
    if pa.types.is_decimal(dtype):
        return format(decimal.Decimal(value), "f")
    if pa.types.is_timestamp(dtype):
        return _timestamp_text(value)
    if pa.types.is_date(dtype):
        return value.isoformat()
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype):
        return "[" + " ".join(f"{b:02X}" for b in value) + "]"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return "[" + ", ".join(cell_text(x, dtype.value_type, True) for x in value) + "]"
    if pa.types.is_map(dtype):
        return "{" + ", ".join(f"{cell_text(k, dtype.key_type, True)} -> {cell_text(x, dtype.item_type, True)}"
                               for k, x in value) + "}"
    if pa.types.is_struct(dtype):
        return "{" + ", ".join(cell_text(value[dtype.field(i).name], dtype.field(i).type, True)
                               for i in range(dtype.num_fields)) + "}"
    if pa.types.is_duration(dtype):
        return _interval_text(value)
    return str(value)


def _interval_text(value: datetime.timedelta) -> str:
    total = int(value / datetime.timedelta(microseconds=1))
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86_400_000_000)
    hours, rest = divmod(rest, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = rest / 1_000_000
    sec = f"{seconds:09.6f}".rstrip("0").rstrip(".") if rest % 1_000_000 else f"{int(seconds):02d}"
    return f"INTERVAL '{sign}{days} {hours:02d}:{minutes:02d}:{sec}' DAY TO SECOND"


def _width(text: str) -> int:
    """Spark's ``stringHalfWidth``: East Asian wide and full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


# Spark's SchemaUtils.escapeMetaCharacters: control characters would break the table's lines
_META = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f", "\b": "\\b", "\v": "\\v",
                       "\a": "\\a"})


def _truncated(cell: str, truncate: int) -> str:
    """A cell as Spark's ``getRows`` gives it: control characters escaped (``\\n``), then cut."""
    cell = cell.translate(_META)
    if truncate > 0 and len(cell) > truncate:
        return cell[:truncate] if truncate < 4 else cell[:truncate - 3] + "..."
    return cell


def _pad_left(text: str, width: int) -> str:
    return " " * max(width - _width(text), 0) + text


def _pad_right(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


def _intervals_as_text(table: pa.Table) -> pa.Table:
    """Year-month and calendar interval columns as Spark's text of them (``INTERVAL '1-2' YEAR TO MONTH``,
    ``1 years 2 months 3 days``), which is what show() prints."""
    from quarry.compute.spark_kernels import _calendar_strings, _ym_strings
    from quarry.logical.spark_functions import is_calendar, is_year_month
    for i, f in enumerate(table.schema):
        if is_year_month(f.type) or is_calendar(f.type):
            storage = table.column(i).combine_chunks().storage
            if is_year_month(f.type):
                months = np.asarray(pc.fill_null(storage, 0), np.int64)
                text = _ym_strings(months, None if storage.null_count == 0 else np.asarray(storage.is_valid()))
            else:
                text = _calendar_strings(storage)
            table = table.set_column(i, pa.field(f.name, pa.string()), text)
    return table


def show_string(table: pa.Table, num_rows: int, truncate: int, vertical: bool = False) -> str:
    """The text ``df.show(num_rows, truncate, vertical)`` prints for ``table`` (which holds up to
    ``num_rows + 1`` rows: one more than shown says whether there are more)."""
    has_more = table.num_rows > num_rows
    # (the length is bounded: pyarrow slices a table without columns to the length asked for)
    shown = _intervals_as_text(table.slice(0, min(max(num_rows, 0), table.num_rows)))
    names = [name.translate(_META) for name in table.column_names]      # names are never cut
    columns = [[_truncated(cell_text(v, col.type), truncate) for v in col.to_pylist()]
               for col in shown.columns]
    rows = [list(r) for r in zip(*columns)] if columns else [[] for _ in range(shown.num_rows)]
    out: list[str] = []
    if not vertical:
        widths = [max([3, _width(n)] + [_width(c) for c in cells]) for n, cells in zip(names, columns)] \
            if columns else [max(3, _width(n)) for n in names]
        sep = "+" + "+".join("-" * w for w in widths) + "+\n"
        pad = _pad_left if truncate > 0 else _pad_right
        out.append(sep)
        out.append("|" + "|".join(pad(n, w) for n, w in zip(names, widths)) + "|\n")
        out.append(sep)
        for row in rows:
            out.append("|" + "|".join(pad(c, w) for c, w in zip(row, widths)) + "|\n")
        out.append(sep)
    else:
        name_width = max([3] + [_width(n) for n in names])
        data_width = max([3] + [_width(c) for row in rows for c in row])
        for i, row in enumerate(rows):
            header = f"-RECORD {i}"
            out.append(header + "-" * max(name_width + data_width + 5 - len(header), 0) + "\n")
            lines = [f" {_pad_right(n, name_width)} | {_pad_right(c, data_width)} " for n, c in zip(names, row)]
            out.append("\n".join(lines) + "\n")
        if not rows:
            out.append("(0 rows)\n")
    if has_more:
        out.append(f"only showing top {num_rows} {'row' if num_rows == 1 else 'rows'}\n")
    return "".join(out)


def _escape_html4(text: str) -> str:
    """``StringEscapeUtils.escapeHtml4``: ``& < > "`` and every HTML 4.01 named entity (not ``'``)."""
    from html.entities import codepoint2name
    if text.isascii() and not any(ch in text for ch in '&<>"'):
        return text
    return "".join(f"&{codepoint2name[ord(ch)]};" if ord(ch) in codepoint2name else ch for ch in text)


def html_string(table: pa.Table, num_rows: int, truncate: int) -> str:
    """The HTML ``Dataset.htmlString(num_rows, truncate)`` makes for ``table`` (up to ``num_rows + 1``
    rows, as for :func:`show_string`)."""
    num_rows = max(num_rows, 0)
    has_more = table.num_rows > num_rows
    shown = _intervals_as_text(table.slice(0, min(num_rows, table.num_rows)))
    names = [name.translate(_META) for name in table.column_names]      # names are never cut
    columns = [[_truncated(cell_text(v, c.type), truncate) for v in c.to_pylist()] for c in shown.columns]
    out = ["<table border='1'>\n", "<tr><th>" + "</th><th>".join(map(_escape_html4, names)) + "</th></tr>\n"]
    for row in zip(*columns):
        out.append("<tr><td>" + "</td><td>".join(map(_escape_html4, row)) + "</td></tr>\n")
    out.append("</table>\n")
    if has_more:
        out.append(f"only showing top {num_rows} {'row' if num_rows == 1 else 'rows'}\n")
    return "".join(out)
