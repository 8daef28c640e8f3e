"""The records of a CSV file, found with numpy over its bytes, for what Arrow's reader does not do:
Spark's parse modes (a record with too few or too many fields made to fit, kept, dropped or refused), the
``comment`` option (lines that start with it dropped) and the raw text of each record (Spark's
``columnNameOfCorruptRecord``); and the conversion of the string fields to a user schema's types that
tells which values do not parse (``PERMISSIVE``: NULL, ``DROPMALFORMED``: the row dropped, ``FAILFAST``:
an error).

A record ends at a line break (``\\n``, ``\\r\\n`` or ``\\r``) that is neither escaped nor inside quotes,
as Arrow's reader splits them; fields end at such a delimiter. A quote counts as an opening or closing
one only next to a delimiter, a line break, the file's ends or another quote (``5"6`` is a literal
quote, as Arrow and Spark read it). Empty lines are no records (both readers skip them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.spark.errors import SparkError, not_supported

__all__ = ["Records", "scan", "convert"]

_NL, _CR = ord("\n"), ord("\r")


@dataclass
class Records:
    """The records of ``data``: byte offsets of each record's start, its end (before the line break) and
    the next record's start, the positions of the delimiters that separate fields, and the delimiter.
    ``added`` marks the bytes that are not the file's (escapes added for Arrow's reader), or is None."""
    data: np.ndarray
    added: np.ndarray | None
    starts: np.ndarray
    ends: np.ndarray
    nexts: np.ndarray
    delims: np.ndarray
    delimiter: int

    @property
    def fields(self) -> np.ndarray:
        """How many fields each record has."""
        return np.searchsorted(self.delims, self.ends) - np.searchsorted(self.delims, self.starts) + 1

    def drop(self, gone: np.ndarray) -> "Records":
        """These records without the ``gone`` ones (a mask), their bytes and line breaks removed."""
        keep_bytes = ~_ranges(len(self.data), self.starts[gone], self.nexts[gone])
        before = np.concatenate(([0], np.cumsum(keep_bytes)))
        kept = ~gone
        delims = self.delims[keep_bytes[self.delims]] if len(self.delims) else self.delims
        added = self.added[keep_bytes] if self.added is not None else None
        return Records(self.data[keep_bytes], added, before[self.starts[kept]], before[self.ends[kept]],
                       before[self.nexts[kept]], before[delims], self.delimiter)

    def fit(self, width: int, skip: np.ndarray) -> bytes:
        """The bytes with every record but the ``skip`` ones made ``width`` fields long, as Spark's
        PERMISSIVE reader makes it: missing fields added empty (so NULL) at the end, extra ones cut."""
        counts = self.fields
        first = np.searchsorted(self.delims, self.starts)
        long = (counts > width) & ~skip
        cut = self.delims[first[long] + width - 1] if long.any() else np.zeros(0, np.int64)
        keep_bytes = ~_ranges(len(self.data), cut, self.ends[long])
        before = np.concatenate(([0], np.cumsum(keep_bytes)))
        short = (counts < width) & ~skip
        at = np.repeat(before[self.ends[short]], width - counts[short])
        return np.insert(self.data[keep_bytes], at, self.delimiter).tobytes()

    def texts(self) -> pa.Array:
        """The text of every record, without its line break, as it was in the file (without the escapes
        :attr:`added` marks)."""
        starts, nexts, data = self.starts, self.nexts, self.data
        if self.added is not None and self.added.any():
            before = np.concatenate(([0], np.cumsum(~self.added)))
            starts, nexts, data = before[starts], before[nexts], data[~self.added]
        # one string from each record's start to the next one's (records follow each other but for empty
        # lines, which hold only line breaks), then the trailing line breaks cut
        bounds = np.concatenate((starts, nexts[-1:])).astype(np.int64)
        whole = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(bounds.tobytes()),
                                                 pa.py_buffer(data.tobytes()))
        return pc.replace_substring_regex(whole, r"[\r\n]+$", "").cast(pa.string())


def _ranges(n: int, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """A mask of ``n`` bytes, true inside each ``[start, stop)``."""
    step = np.zeros(n + 1, np.int64)
    np.add.at(step, starts, 1)
    np.add.at(step, stops, -1)
    return np.cumsum(step[:-1]) > 0


def _escaped(b: np.ndarray, escape: int | None) -> np.ndarray:
    """The bytes an odd run of escape characters precedes (Arrow reads them literally)."""
    escaped = np.zeros(len(b), bool)
    if escape is None or len(b) == 0:
        return escaped
    is_esc = b == escape
    idx = np.arange(len(b))
    last_other = np.maximum.accumulate(np.where(is_esc, -1, idx))
    odd_run = is_esc & ((idx - last_other) % 2 == 1)
    escaped[1:] = odd_run[:-1]
    return escaped


def scan(data: bytes, delimiter: str, quote: str | None, escape: str | None,
         added: np.ndarray | None = None) -> Records:
    """The records and field delimiters of ``data`` (bytes Arrow's reader will parse; ``added`` marks the
    bytes that were not in the file)."""
    b = np.frombuffer(data, np.uint8)
    n = len(b)
    escaped = _escaped(b, ord(escape) if escape else None)
    d = ord(delimiter)
    prev = np.concatenate(([_NL], b[:-1])) if n else b
    nxt = np.concatenate((b[1:], [_NL])) if n else b
    edge_prev = (prev == d) | (prev == _NL) | (prev == _CR)
    edge_next = (nxt == d) | (nxt == _NL) | (nxt == _CR)
    if quote:
        q = ord(quote)
        quotes = (b == q) & ~escaped & (edge_prev | edge_next | (prev == q) | (nxt == q))
        inside = (np.cumsum(quotes) - quotes) % 2 == 1
    else:
        inside = np.zeros(n, bool)
    free = ~escaped & ~inside
    breaks = free & ((b == _NL) | ((b == _CR) & (nxt != _NL)))
    at = np.flatnonzero(breaks)
    ends = at - ((b[at] == _NL) & (prev[at] == _CR) & free[np.maximum(at - 1, 0)])
    starts = np.concatenate(([0], at + 1))
    nexts = np.concatenate((at + 1, [n]))
    ends = np.concatenate((ends, [n]))
    if starts[-1] == n:                                      # the file ends with a line break
        starts, ends, nexts = starts[:-1], ends[:-1], nexts[:-1]
    delims = np.flatnonzero(free & (b == d))
    records = Records(b, added, starts, ends, nexts, delims, d)
    empty = starts == ends
    return records.drop(empty) if empty.any() else records


# the words Java's Double.parseDouble reads, besides numbers
_JAVA_DOUBLES = {"NaN": float("nan"), "Infinity": float("inf"), "+Infinity": float("inf"),
                 "-Infinity": float("-inf")}


def _special_doubles(options: dict) -> dict:
    """The texts a double or float column reads as NaN and infinities: Spark's ``nanValue``,
    ``positiveInf`` and ``negativeInf`` (``NaN``, ``Inf``, ``-Inf`` by default), then what Java reads."""
    return {**_JAVA_DOUBLES, options.get("nanvalue", "NaN"): float("nan"),
            options.get("positiveinf", "Inf"): float("inf"), options.get("negativeinf", "-Inf"): float("-inf")}


def convert(text: pa.ChunkedArray, target: pa.DataType, options: dict,
            time_zone: str = "UTC") -> tuple[pa.Array, pa.Array]:
    """A CSV string column as ``target`` values, and a mask of the values that do not parse (NULL in the
    result), as Spark's UnivocityParser reads them: integers as Java's ``Integer.parseInt`` (digits with
    an optional sign, in range), booleans ``true``/``false`` in any case, doubles as ``parseDouble`` (with
    ``nanValue``, ``positiveInf``, ``negativeInf``), decimals in range, dates and timestamps by ``dateFormat`` /
    ``timestampFormat`` or, without one, as Spark's fallback (its cast's parser) reads them: a date from
    the text before a ``T`` or a space, a timestamp with an offset or ``Z`` (how Spark writes them) as
    the instant's wall time in ``time_zone``."""
    from quarry.compute.kernels import _strptime, _try_cast
    from quarry.logical import types as T
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return text.cast(target), pa.array(np.zeros(len(text), bool))
    if pa.types.is_boolean(target):
        lowered = pc.utf8_lower(text)
        out = pc.if_else(pc.is_in(lowered, pa.array(["true", "false"])), pc.equal(lowered, "true"),
                         pa.scalar(None, pa.bool_()))
    elif pa.types.is_integer(target):
        digits = pc.match_substring_regex(text, r"^[+-]?\d+$")
        out = _try_cast("try_cast", [pc.if_else(digits, text, pa.scalar(None, pa.string()))], target, len(text))
    elif pa.types.is_floating(target):
        specials = _special_doubles(options)
        words = pa.array(list(specials), pa.string())
        special = pc.is_in(text, words)
        numbers = _try_cast("try_cast", [pc.if_else(special, pa.scalar(None, pa.string()), text)], target,
                            len(text))
        values = pa.array(list(specials.values()), target)
        out = pc.if_else(special, pc.take(values, pc.index_in(text, words)), numbers)
    elif pa.types.is_decimal(target):
        out = _try_cast("try_cast", [text], target, len(text))
    elif pa.types.is_date32(target) or pa.types.is_timestamp(target):
        pattern = options.get("dateformat" if pa.types.is_date32(target) else "timestampformat")
        if pattern is None and pa.types.is_date32(target):
            day = pc.replace_substring_regex(pc.utf8_trim_whitespace(text), r"^(\d+-\d+-\d+)[T ].*$", r"\1")
            out = _try_cast("try_cast", [day], target, len(text))
        elif pattern is None:
            out = _zoned_timestamps(text, time_zone)
        else:
            from quarry.spark.functions.dates import java_pattern
            fmt, _ = java_pattern(pattern, parsing=True)
            parsed = _strptime("try_strptime", [text, pa.scalar(fmt)], T.TIMESTAMP, len(text))
            out = parsed.cast(target)
    else:
        try:
            out = text.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise not_supported(f"reading a csv value that does not cast to {target} ({exc})") from None
    out = out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out
    failed = pc.and_(text.is_valid(), out.is_null())
    return out, failed


# a timestamp's zone at its end: Z or an offset (+01:00, -0530, +01), read apart; the same without groups
_OFFSET = r"(?P<zone>Z|(?P<sign>[+-])(?P<hours>\d\d):?(?P<minutes>\d\d)?)$"
_OFFSET_TAIL = r"(Z|[+-]\d\d:?(\d\d)?)$"


def _zoned_timestamps(text: pa.Array, time_zone: str) -> pa.Array:
    """Timestamps as a cast reads them, and those that end in ``Z`` or an offset (``+01:00``) as the
    wall time of their instant in ``time_zone``; NULL for text that does not parse."""
    from quarry.compute.kernels import _try_cast
    trimmed = pc.utf8_trim_whitespace(text)
    zoned = pc.fill_null(pc.match_substring_regex(trimmed, r"\d[T ]\d.*" + _OFFSET_TAIL), False)
    local_text = pc.if_else(zoned, pc.replace_substring_regex(trimmed, _OFFSET_TAIL, ""), trimmed)
    local = _try_cast("try_cast", [pc.replace_substring(local_text, "T", " ")], pa.timestamp("us"), len(text))
    if not pc.any(zoned).as_py():
        return local
    parts = pc.extract_regex(pc.if_else(zoned, trimmed, pa.scalar(None, pa.string())), _OFFSET)
    hours = pc.fill_null(pc.cast(pc.if_else(pc.equal(pc.struct_field(parts, "hours"), ""), "0",
                                            pc.struct_field(parts, "hours")), pa.int64()), 0)
    minutes = pc.fill_null(pc.cast(pc.if_else(pc.equal(pc.struct_field(parts, "minutes"), ""), "0",
                                              pc.struct_field(parts, "minutes")), pa.int64()), 0)
    sign = pc.if_else(pc.equal(pc.struct_field(parts, "sign"), "-"), -1, 1)
    offset_us = pc.multiply(pc.multiply(sign, pc.add(pc.multiply(hours, 60), minutes)), 60_000_000)
    utc = pc.subtract(pc.cast(local, pa.int64()), pc.fill_null(offset_us, 0))
    wall = pc.cast(utc, pa.timestamp("us"))
    if time_zone.upper() != "UTC":
        wall = pc.local_timestamp(pc.cast(utc, pa.timestamp("us", tz=time_zone))).cast(pa.timestamp("us"))
    return pc.if_else(zoned, wall, local)


def malformed_error(record: str) -> SparkError:
    """Spark's FAILFAST error for a malformed record."""
    return SparkError(f"[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record "
                      f"parsing: {record}. Parse Mode: FAILFAST. To process malformed records as null result, "
                      "try setting the option 'mode' as 'PERMISSIVE'.",
                      error_class="MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION", exception="SparkException",
                      parameters={"badRecord": record, "failFastMode": "FAILFAST"})
