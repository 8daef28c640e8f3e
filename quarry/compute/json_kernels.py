"""A vectorized JSON kernel: paths into JSON text, over a whole string column at once.

No row is parsed by Python code. One pass of numpy over the column's UTF-8 bytes builds a structural
index (as simdjson's first stage does): which quotes are not escaped, which bytes are inside strings,
the nesting depth before each byte, and the positions of the structural ``:`` ``,`` ``}`` ``]`` sorted by
(depth, position). A path (``$.a.b[2]``) is then followed one step at a time for all rows together, each
step a few ``searchsorted`` calls that narrow every row's current value to a byte span.

Used by Spark's ``get_json_object``, ``json_array_length``, ``json_object_keys``, ``from_json`` and by
SQL's ``json_extract`` / ``json_extract_string``. A row that is not well-formed JSON (unbalanced quotes
or brackets) gives NULL; inside a well-formed row, a path that does not exist gives NULL.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarry.errors import DataError, UnsupportedError

__all__ = ["JsonIndex", "parse_path"]

_WS = np.zeros(256, bool)
_WS[[9, 10, 13, 32]] = True
_STRUCTURAL = np.zeros(256, bool)
_STRUCTURAL[[44, 58, 93, 125]] = True          # , : ] }


def parse_path(path: str) -> list:
    """A JSONPath as steps: field names (str) and array indexes (int). ``$.a[0].b`` -> ['a', 0, 'b']."""
    if path is None or not path.startswith("$"):
        raise DataError(f"invalid JSON path `{path}`: it must start with $")
    steps, i = [], 1
    while i < len(path):
        if path[i] == ".":
            m = re.match(r"\.([^.\[]+)", path[i:])
            if not m:
                raise DataError(f"invalid JSON path `{path}`")
            if m.group(1) == "*":
                raise UnsupportedError("Not supported: the wildcard `*` in a JSON path")
            steps.append(m.group(1))
            i += m.end()
        elif path[i] == "[":
            m = re.match(r"\[\s*(\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]", path[i:])
            if not m:
                if path[i:].startswith("[*]"):
                    raise UnsupportedError("Not supported: the wildcard `[*]` in a JSON path")
                raise DataError(f"invalid JSON path `{path}`")
            steps.append(int(m.group(1)) if m.group(1) is not None else (m.group(2) or m.group(3) or ""))
            i += m.end()
        else:
            raise DataError(f"invalid JSON path `{path}`")
    return steps


class JsonIndex:
    """The structural index of one batch of JSON texts (see the module docstring)."""

    def __init__(self, arr: pa.Array):
        from quarry.compute.spark_kernels import _bytes_of
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        self.n = n = len(arr)
        data, offsets, valid = _bytes_of(arr, n)
        self.data, self.offsets = data, offsets
        lengths = np.diff(offsets)
        row_of = np.repeat(np.arange(n, dtype=np.int32), lengths)
        self.row_of = row_of
        total = len(data)
        quote = data == 34
        is_bs = data == 92
        if is_bs.any():                                      # a quote after an odd run of backslashes is escaped
            cs = np.cumsum(is_bs, dtype=np.int32)
            run = cs - np.maximum.accumulate(np.where(~is_bs, cs, 0))
            escaped = np.zeros(total, bool)
            escaped[1:] = (run[:-1] & 1) == 1
            quote &= ~escaped
        qc = np.cumsum(quote, dtype=np.int32)
        start_q = np.concatenate([[0], qc])[offsets[:-1]] if n else np.zeros(0, np.int32)
        qrow = qc - (start_q[row_of] if total else 0)
        inside = ((qrow - quote) & 1) == 1                   # string content and its closing quote
        self.quote_pos = np.flatnonzero(quote)
        outside = ~inside & ~quote
        self.outside = outside
        opens = outside & ((data == 123) | (data == 91))
        closes = outside & ((data == 125) | (data == 93))
        step = opens.astype(np.int8) - closes.astype(np.int8)
        depth = np.cumsum(step, dtype=np.int32)
        start_d = np.concatenate([[0], depth])[offsets[:-1]] if n else np.zeros(0, np.int32)
        depth = depth - (start_d[row_of] if total else 0)
        self.depth_before = (depth - step).astype(np.int64)
        self.nonspace = np.flatnonzero(~_WS[data])
        # rows that are not balanced are not JSON
        ends = offsets[1:] - 1
        last_depth = np.where(lengths > 0, depth[np.clip(ends, 0, max(total - 1, 0))] if total else 0, 0)
        quotes_per_row = np.where(lengths > 0, (qrow[np.clip(ends, 0, max(total - 1, 0))] if total else 0), 0)
        ok = (last_depth == 0) & (quotes_per_row % 2 == 0) & (lengths > 0)
        self.valid = ok if valid is None else ok & valid
        self.big = total + 1

        structural = np.flatnonzero(outside & _STRUCTURAL[data])
        kinds = data[structural]

        def keyed(pos):
            return np.sort(self.depth_before[pos] * self.big + pos)
        self.colons = keyed(structural[kinds == 58])
        self.commas = keyed(structural[kinds == 44])
        self.closers = keyed(structural[(kinds == 125) | (kinds == 93)])
        # the whole value of each row, without surrounding whitespace
        self.lo, self.hi = self._trim(offsets[:-1].copy(), offsets[1:].copy())

    # -- spans ------------------------------------------------------------------------------

    def _trim(self, lo, hi):
        data, total = self.data, len(self.data)
        if not total:
            return lo, hi
        nonspace = self.nonspace                   # first non-space at or after lo; last one before hi
        i = np.searchsorted(nonspace, lo)
        new_lo = np.where(i < len(nonspace), nonspace[np.minimum(i, len(nonspace) - 1)], hi)
        j = np.searchsorted(nonspace, hi) - 1
        new_hi = np.where(j >= 0, nonspace[np.maximum(j, 0)] + 1, lo)
        new_lo = np.minimum(new_lo, hi)
        new_hi = np.maximum(new_hi, new_lo)
        return new_lo, new_hi

    def _first_byte(self, lo, hi):
        padded = np.concatenate([self.data, np.zeros(1, np.uint8)])
        return np.where(hi > lo, padded[np.minimum(lo, len(self.data))], 0)

    def _next(self, keys, depth, pos):
        """For each row, the first keyed position at ``depth`` after ``pos`` (or -1)."""
        if not len(keys):
            return np.full(len(pos), -1, np.int64)
        q = depth * self.big + pos
        i = np.searchsorted(keys, q, side="right")
        found = np.where(i < len(keys), keys[np.minimum(i, len(keys) - 1)], -1)
        same = (found >= 0) & (found // self.big == depth)
        return np.where(same, found % self.big, -1)

    def follow(self, steps, lo=None, hi=None, valid=None):
        """The byte span of the value at ``steps`` in each row: (lo, hi, valid)."""
        lo = self.lo.copy() if lo is None else lo.copy()
        hi = self.hi.copy() if hi is None else hi.copy()
        valid = self.valid.copy() if valid is None else valid.copy()
        data = self.data
        for step in steps:
            first = self._first_byte(lo, hi)
            depth = self.depth_before[np.minimum(lo, max(len(data) - 1, 0))] + 1 if len(data) else lo * 0
            if isinstance(step, int):
                valid &= first == 91                               # '['
                start = lo + 1
                ok = valid.copy()
                for _ in range(step):                              # skip `step` elements
                    comma = self._next(self.commas, depth, start - 1)
                    close = self._next(self.closers, depth, start - 1)
                    ok &= (comma >= 0) & ((close < 0) | (comma < close))
                    start = np.where(ok, comma + 1, start)
                comma = self._next(self.commas, depth, start - 1)
                close = self._next(self.closers, depth, start - 1)
                end = np.where((comma >= 0) & ((close < 0) | (comma < close)), comma, close)
                new_lo, new_hi = self._trim(start, np.maximum(end, start))
                ok &= (end >= 0) & (new_hi > new_lo)
                valid, lo, hi = ok, new_lo, new_hi
                continue
            valid &= first == 123                                  # '{'
            key = step.encode()
            lo, hi, valid = self._member(key, depth, lo, hi, valid)
        return lo, hi, valid

    def _member(self, key: bytes, depth, lo, hi, valid):
        """The value of the first member named ``key`` of each row's object."""
        n = self.n
        colon_depth = self.colons // self.big
        colon_pos = self.colons % self.big
        if not len(colon_pos):
            return lo, hi, np.zeros(n, bool)
        # the row of each colon, and whether it is a member of the row's current object
        row = self.row_of[colon_pos]
        member = (colon_depth == depth[row]) & (colon_pos > lo[row]) & (colon_pos < hi[row]) & valid[row]
        qi = np.searchsorted(self.quote_pos, colon_pos) - 1
        close_q = self.quote_pos[np.maximum(qi, 0)]
        open_q = self.quote_pos[np.maximum(qi - 1, 0)]
        klen = close_q - open_q - 1
        match = member & (qi >= 1) & (klen == len(key))
        if len(key) and match.any():
            cand = np.flatnonzero(match)
            cols = np.arange(len(key))
            got = self.data[(open_q[cand] + 1)[:, None] + cols[None, :]]
            same = (got == np.frombuffer(key, np.uint8)[None, :]).all(axis=1)
            match[cand[~same]] = False
        out_lo, out_hi, out_valid = lo.copy(), hi.copy(), np.zeros(n, bool)
        hits = np.flatnonzero(match)
        if len(hits):
            rows = row[hits]
            first = np.unique(rows, return_index=True)[1]
            hits, rows = hits[first], rows[first]
            c = colon_pos[hits]
            d = colon_depth[hits]
            comma = self._next(self.commas, d, c)
            close = self._next(self.closers, d, c)
            end = np.where((comma >= 0) & ((close < 0) | (comma < close)), comma, close)
            s_lo, s_hi = self._trim(c + 1, np.maximum(end, c + 1))
            out_lo[rows], out_hi[rows] = s_lo, s_hi
            out_valid[rows] = (end >= 0) & (s_hi > s_lo)
        return out_lo, out_hi, out_valid

    # -- results ------------------------------------------------------------------------------

    def text(self, lo, hi, valid, *, compact: bool = True) -> pa.Array:
        """The JSON text of each span (whitespace outside strings removed when ``compact``)."""
        from quarry.compute.spark_kernels import _strings_from
        lens = np.where(valid, hi - lo, 0)
        out_off = np.concatenate([[0], np.cumsum(lens)])
        idx = np.arange(int(out_off[-1])) - np.repeat(out_off[:-1], lens) + np.repeat(lo, lens)
        data = self.data[idx]
        if compact and len(idx):
            keep = ~(self.outside[idx] & _WS[data])
            row = np.repeat(np.arange(len(lo)), lens)
            kept = np.bincount(row[keep], minlength=len(lo))
            data = data[keep]
            out_off = np.concatenate([[0], np.cumsum(kept)])
        return _strings_from(data, out_off, None if valid.all() else valid, pa.string())

    def value(self, lo, hi, valid) -> pa.Array:
        """Each span as Spark's get_json_object returns it: a string without its quotes (unescaped),
        NULL for JSON null, anything else as compact JSON text."""
        first = self._first_byte(lo, hi)
        is_str = valid & (first == 34)
        raw = self.text(lo, hi, valid)
        stripped = unescape(pc.utf8_slice_codeunits(raw, 1, -1))
        out = pc.if_else(pa.array(is_str), stripped, raw)
        is_null = pc.fill_null(pc.equal(raw, "null"), False)
        return pc.if_else(is_null, pa.scalar(None, pa.string()), out)

    def kind(self, lo, hi, valid) -> np.ndarray:
        """The first byte of each span (0 where there is none)."""
        return np.where(valid, self._first_byte(lo, hi), 0)

    def array_length(self, lo, hi, valid) -> tuple[np.ndarray, np.ndarray]:
        first = self._first_byte(lo, hi)
        ok = valid & (first == 91)
        depth = (self.depth_before[np.minimum(lo, max(len(self.data) - 1, 0))] + 1) if len(self.data) else lo * 0
        commas_d = self.commas // self.big
        commas_p = self.commas % self.big
        if len(commas_p):
            row = self.row_of[commas_p]
            inside = (commas_d == depth[row]) & (commas_p > lo[row]) & (commas_p < hi[row])
            count = np.bincount(row[inside], minlength=self.n)
        else:
            count = np.zeros(self.n, np.int64)
        inner_lo, inner_hi = self._trim(lo + 1, np.maximum(hi - 1, lo + 1))
        empty = inner_hi <= inner_lo
        return np.where(empty, 0, count + 1), ok

    def object_keys(self, lo, hi, valid) -> pa.Array:
        first = self._first_byte(lo, hi)
        ok = valid & (first == 123)
        depth = (self.depth_before[np.minimum(lo, max(len(self.data) - 1, 0))] + 1) if len(self.data) else lo * 0
        colon_d = self.colons // self.big
        colon_p = self.colons % self.big
        row = self.row_of[colon_p] if len(colon_p) else np.zeros(0, np.int64)
        member = (colon_d == depth[row]) & (colon_p > lo[row]) & (colon_p < hi[row]) & ok[row] \
            if len(colon_p) else np.zeros(0, bool)
        hits = np.flatnonzero(member)
        qi = np.searchsorted(self.quote_pos, colon_p[hits]) - 1
        k_lo, k_hi = self.quote_pos[np.maximum(qi - 1, 0)] + 1, self.quote_pos[np.maximum(qi, 0)]
        keys_rows = row[hits]
        order = np.argsort(keys_rows, kind="stable")
        sub = JsonSpans(self, k_lo[order], k_hi[order])
        keys = unescape(sub.text())
        counts = np.bincount(keys_rows, minlength=self.n)
        offs = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offs), keys, mask=pa.array(~ok))


    def elements(self, lo, hi, valid):
        """The elements of each row's array: (row of each element, element lo, element hi, row ok)."""
        first = self._first_byte(lo, hi)
        ok = valid & (first == 91)
        depth = (self.depth_before[np.minimum(lo, max(len(self.data) - 1, 0))] + 1) if len(self.data) else lo * 0
        commas_d, commas_p = self.commas // self.big, self.commas % self.big
        row = self.row_of[commas_p] if len(commas_p) else np.zeros(0, np.int64)
        inside = (commas_d == depth[row]) & (commas_p > lo[row]) & (commas_p < hi[row]) & ok[row] \
            if len(commas_p) else np.zeros(0, bool)
        sep_rows, sep_pos = row[inside], commas_p[inside]
        inner_lo, inner_hi = self._trim(lo + 1, np.maximum(hi - 1, lo + 1))
        nonempty = ok & (inner_hi > inner_lo)
        # element starts: after '[' and after each comma; ends: each comma and the closing ']'
        rows = np.concatenate([np.flatnonzero(nonempty), sep_rows])
        starts = np.concatenate([lo[nonempty] + 1, sep_pos + 1])
        order = np.lexsort((starts, rows))
        rows, starts = rows[order], starts[order]
        ends = np.empty_like(starts)
        if len(starts):
            ends[:-1] = starts[1:] - 1
            last = np.ones(len(starts), bool)
            last[:-1] = rows[1:] != rows[:-1]
            ends[last] = hi[rows[last]] - 1
        e_lo, e_hi = self._trim(starts, np.maximum(ends, starts))
        return rows, e_lo, e_hi, ok

    def members(self, lo, hi, valid):
        """The members of each row's object: (row, key lo, key hi, value lo, value hi, row ok)."""
        first = self._first_byte(lo, hi)
        ok = valid & (first == 123)
        depth = (self.depth_before[np.minimum(lo, max(len(self.data) - 1, 0))] + 1) if len(self.data) else lo * 0
        colon_d, colon_p = self.colons // self.big, self.colons % self.big
        row = self.row_of[colon_p] if len(colon_p) else np.zeros(0, np.int64)
        member = (colon_d == depth[row]) & (colon_p > lo[row]) & (colon_p < hi[row]) & ok[row] \
            if len(colon_p) else np.zeros(0, bool)
        hits = np.flatnonzero(member)
        c, d, rows = colon_p[hits], colon_d[hits], row[hits]
        qi = np.searchsorted(self.quote_pos, c) - 1
        k_lo, k_hi = self.quote_pos[np.maximum(qi - 1, 0)] + 1, self.quote_pos[np.maximum(qi, 0)]
        comma = self._next(self.commas, d, c)
        close = self._next(self.closers, d, c)
        end = np.where((comma >= 0) & ((close < 0) | (comma < close)), comma, close)
        v_lo, v_hi = self._trim(c + 1, np.maximum(end, c + 1))
        return rows, k_lo, k_hi, v_lo, v_hi, ok


class JsonSpans:
    """Byte spans of an index's data that are not one per row (object keys)."""

    def __init__(self, index: JsonIndex, lo, hi):
        self.index, self.lo, self.hi = index, lo, hi

    def text(self) -> pa.Array:
        from quarry.compute.spark_kernels import _strings_from
        lens = self.hi - self.lo
        out_off = np.concatenate([[0], np.cumsum(lens)])
        idx = np.arange(int(out_off[-1])) - np.repeat(out_off[:-1], lens) + np.repeat(self.lo, lens)
        return _strings_from(self.index.data[idx], out_off, None, pa.string())


_ESCAPES = [("\\\"", "\""), ("\\/", "/"), ("\\b", "\b"), ("\\f", "\f"), ("\\n", "\n"), ("\\r", "\r"),
            ("\\t", "\t")]


def unescape(strings):
    """JSON string escapes resolved (``\\uXXXX`` escapes are kept as written)."""
    out = pc.replace_substring(strings, "\\\\", "\uf8ff")
    for a, b in _ESCAPES:
        out = pc.replace_substring(out, a, b)
    return pc.replace_substring(out, "\uf8ff", "\\")
