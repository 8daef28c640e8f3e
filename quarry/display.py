"""Render Arrow tables as text for people: column names and types, aligned, NULLs marked.

    >>> import pyarrow as pa
    >>> print(format_table(pa.table({"n": [1, None], "s": ["a", "b"]}), max_width=0))
    ┌────────┬─────────┐
    │   n    │    s    │
    │ bigint │ varchar │
    ├────────┼─────────┤
    │      1 │ a       │
    │   NULL │ b       │
    └────────┴─────────┘
    2 rows

Only the rows that are shown are converted to Python values (at most ``max_rows``),
so rendering the head and tail of a large result costs the same as a small one.
The per-cell loop here is presentation work over a bounded number of values, not a
query hot path.
"""

from __future__ import annotations

import datetime
import decimal
import math
import shutil
import unicodedata

import pyarrow as pa

from quarry.logical import types as T

NULL_TEXT = "NULL"
ELLIPSIS = "…"

# A column never shrinks below this many characters (or its natural width, if smaller)
# before columns start being hidden.
MIN_COLUMN_WIDTH = 10

_ANSI_BOLD, _ANSI_DIM, _ANSI_RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


# -- cells -------------------------------------------------------------------------------------

def format_value(value, nested: bool = False) -> str:
    """One value as display text: ``NULL``, ``1.5``, ``2024-01-31``, ``[1, 2]``, ``{a: 1}``.

    >>> format_value(decimal.Decimal("0E-2")), format_value(float("nan")), format_value("a\\nb")
    ('0.00', 'NaN', 'a\\\\nb')
    """
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value) if abs(value) < 1e16 else f"{value:g}"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")          # never scientific notation: 0E-10 -> 0.0000000000
    if isinstance(value, (bytes, bytearray)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, str):
        text = value
        if not text.isprintable():
            text = "".join(_ESCAPES.get(ch, ch if ch.isprintable() else f"\\x{ord(ch):02x}") for ch in text)
        return repr(text) if nested else text
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v, True)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v, True) for v in value) + "]"
    return str(value)


def display_width(text: str) -> int:
    """Terminal columns ``text`` occupies: wide (CJK) characters count 2, combining marks 0."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def truncate(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` display columns, ending with ``…`` when something was cut."""
    if display_width(text) <= width:
        return text
    if width <= 0:
        return ""
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def _pad(text: str, width: int, align: str) -> str:
    gap = max(width - display_width(text), 0)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def type_label(dtype: pa.DataType) -> str:
    """The lowercase SQL name shown under a column name: ``bigint``, ``decimal(15,2)``."""
    try:
        return T.sql_name(T.normalize(dtype)).lower()
    except Exception:           # an exotic Arrow type the engine has no SQL name for
        return str(dtype)


def is_numeric(dtype: pa.DataType) -> bool:
    """Whether values of ``dtype`` are right-aligned."""
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


# -- layout ------------------------------------------------------------------------------------

class _Column:
    def __init__(self, name: str, dtype: pa.DataType, data: pa.ChunkedArray):
        self.name = name
        self.type = type_label(dtype)
        self.values = [format_value(v) for v in data.to_pylist()]
        self.nulls = data.is_null().to_pylist()       # tells NULL from the string 'NULL'
        self.numeric = is_numeric(dtype)
        self.natural = max([display_width(name), display_width(self.type), 1]
                           + [display_width(v) for v in self.values])
        self.width = self.natural

    @property
    def floor(self) -> int:
        # shrink values before headers: the type and (up to 20 characters of) the name stay whole
        header = max(display_width(self.type), min(display_width(self.name), 20))
        return min(self.natural, max(MIN_COLUMN_WIDTH, header))


def _table_width(widths) -> int:
    return 1 + sum(w + 3 for w in widths)


def _shrink(columns: list[_Column], max_width: int) -> bool:
    """Cap every column at one common width (never below its floor), the largest that fits.

    Returns whether the columns fit ``max_width``; widths are set either way.
    """
    def widths(cap):
        return [min(c.natural, max(cap, c.floor)) for c in columns]

    lo, hi = 0, max(c.natural for c in columns)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _table_width(widths(mid)) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    for c, w in zip(columns, widths(lo)):
        c.width = w
    return _table_width(c.width for c in columns) <= max_width


def _fit(columns: list[_Column], max_width: int) -> tuple[list[_Column | None], int]:
    """Shrink wide columns, then hide middle ones, so the table fits ``max_width``.

    Returns the columns to draw in order (``None`` marks the ``…`` gap column) and
    how many were hidden. The first column is always kept.
    """
    if max_width <= 0 or _shrink(columns, max_width):
        return list(columns), 0
    # Still too wide at the floors: keep columns from both ends, hiding the middle ones.
    gap = 1 + 3
    order = []
    left, right = 0, len(columns) - 1
    while left <= right:
        order.append(left)
        left += 1
        if left <= right:
            order.append(right)
            right -= 1
    kept: list[int] = []
    used = 1 + gap
    for i in order:
        if used + columns[i].floor + 3 > max_width and kept:
            break
        kept.append(i)
        used += columns[i].floor + 3
    chosen = [columns[i] for i in sorted(kept)]
    if not _shrink(chosen, max_width - gap):            # one huge column: cut it to the screen
        chosen[0].width = max(max_width - 1 - gap - 3, 1)
    out: list[_Column | None] = []
    for i, c in enumerate(columns):
        if i in kept:
            out.append(c)
        elif out and out[-1] is not None:
            out.append(None)
    return out, len(columns) - len(kept)


def format_table(table: pa.Table, max_rows: int | None = 40, max_width: int | None = None,
                 elapsed: float | None = None, *, color: bool = False) -> str:
    """A boxed text table: header with names and types, numbers right-aligned, footer with counts.

    Results longer than ``max_rows`` show their first and last rows with a ``…`` row
    between (``max_rows`` of 0 or None shows every row). Tables wider than
    ``max_width`` (default: the terminal; 0 means unlimited) first shrink their widest
    columns, cutting values with ``…``, then hide columns from the middle behind a
    ``…`` column. The footer says ``N rows (showing M)``, which columns were hidden,
    and the elapsed time when given. ``color`` adds ANSI bold headers and dim NULLs.

    >>> print(format_table(pa.table({"x": list(range(10))}), max_rows=4, max_width=0))
    ┌────────┐
    │   x    │
    │ bigint │
    ├────────┤
    │      0 │
    │      1 │
    │   …    │
    │      8 │
    │      9 │
    └────────┘
    10 rows (showing 4)
    """
    if max_width is None:
        max_width = shutil.get_terminal_size((120, 40)).columns
    n = table.num_rows
    if table.num_columns == 0:
        return f"(no columns)\n{n} row{'s' if n != 1 else ''}"
    cut_at = None
    shown = table
    if max_rows and max_rows > 0 and n > max_rows:
        head = (max_rows + 1) // 2
        tail = max_rows - head
        shown = pa.concat_tables([table.slice(0, head), table.slice(n - tail, tail)]) if tail \
            else table.slice(0, head)
        cut_at = head
    footer = f"{n} row{'s' if n != 1 else ''}"
    if cut_at is not None:
        footer += f" (showing {shown.num_rows})"
    columns = [_Column(f.name, f.type, shown.column(i)) for i, f in enumerate(table.schema)]
    layout, hidden = _fit(columns, max_width)

    def paint(text: str, style: str) -> str:
        return f"{style}{text}{_ANSI_RESET}" if color and style and text.strip() else text

    def cell(col: _Column | None, text: str, align: str, style: str = "") -> str:
        if col is None:
            return " " + ELLIPSIS + " "
        return " " + paint(_pad(truncate(text, col.width), col.width, align), style) + " "

    def rule(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * ((c.width if c else 1) + 2) for c in layout) + right

    out = [rule("┌", "┬", "┐"),
           "│" + "│".join(cell(c, c.name if c else "", "center", _ANSI_BOLD) for c in layout) + "│",
           "│" + "│".join(cell(c, c.type if c else "", "center", _ANSI_DIM) for c in layout) + "│",
           rule("├", "┼", "┤")]
    for r in range(shown.num_rows):
        if r == cut_at:
            out.append("│" + "│".join(cell(c, ELLIPSIS, "center") for c in layout) + "│")
        cells = []
        for c in layout:
            if c is None:
                cells.append(cell(None, "", "left"))
                continue
            cells.append(cell(c, c.values[r], "right" if c.numeric else "left", _ANSI_DIM if c.nulls[r] else ""))
        out.append("│" + "│".join(cells) + "│")
    out.append(rule("└", "┴", "┘"))
    timing = f" in {format_elapsed(elapsed)}" if elapsed is not None else ""
    if hidden:
        footer += f", {hidden} column{'s' if hidden != 1 else ''} not shown"
        # name the hidden columns in whatever room the line has left
        names = ", ".join(c.name for c in columns if c not in layout)
        room = (max_width or 10_000) - display_width(footer + timing) - len(" (too wide: )")
        if room >= 12:
            footer += f" (too wide: {truncate(names, room)})"
        else:
            footer += " (too wide)"
    out.append(footer + timing)
    return "\n".join(out)


def format_elapsed(seconds: float) -> str:
    """``0.004s``, ``1.250s``, ``2m 05.0s``: the time a statement took."""
    if seconds < 60:
        return f"{seconds:.3f}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m {rest:04.1f}s"
