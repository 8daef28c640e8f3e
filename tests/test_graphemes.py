"""length_grapheme against DuckDB's: random strings drawn from the code points whose grapheme rules are
interesting (marks, joiners, emoji, flags, Hangul jamo, Indic conjuncts, controls) and from all of Unicode,
and every code point next to a letter and a mark."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

import quarry

duckdb = pytest.importorskip("duckdb")

POOL = [0x61, 0x0D, 0x0A, 0x09, 0x200D, 0x200C, 0x301, 0x308, 0x1F3FB, 0x1F3FF, 0x1F466, 0x1F468, 0x2764, 0xFE0F,
        0x1F1FA, 0x1F1F8, 0x1F1EB, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01, 0x0915, 0x094D, 0x0937, 0x093F, 0x0901,
        0x09CD, 0x0995, 0x0600, 0x0E33, 0x0E01, 0x00AD, 0x2028, 0x0085, 0x0903, 0x1F600, 0x00A9, 0x0489, 0xE0020,
        0x0D4D, 0x0D15, 0x0CCD, 0x0A4D, 0x1B44, 0x1039, 0x17D2, 0x10FFFF, 0x3099, 0x110BD, 0x111C2, 0x1F46A]


def _both(strings: list) -> tuple[list, list]:
    table = pa.table({"i": list(range(len(strings))), "s": strings})
    d = duckdb.connect()
    d.register("t", table)
    want = [r[0] for r in d.sql("SELECT length_grapheme(s) FROM t ORDER BY i").fetchall()]
    con = quarry.connect()
    con.register("t", table)
    got = con.sql("SELECT i, length_grapheme(s) AS g FROM t ORDER BY i").to_arrow().column("g").to_pylist()
    return want, got


def _mismatches(strings, want, got):
    return [(s, [hex(ord(c)) for c in s or ""], w, g) for s, w, g in zip(strings, want, got) if w != g][:10]


def test_random_strings_count_as_duckdb():
    rng = random.Random(12)
    wide = POOL * 20 + [c for c in (rng.randrange(0x110000) for _ in range(5000)) if not 0xD800 <= c <= 0xDFFF]
    strings = ["".join(chr(rng.choice(wide)) for _ in range(rng.randint(0, 9))) for _ in range(20000)]
    strings[::97] = [None] * len(strings[::97])
    want, got = _both(strings)
    assert want == got, _mismatches(strings, want, got)


@pytest.mark.parametrize("before, after", [("\u00e4", ""), ("", "\u0301"), ("\U0001F468\u200D", ""),
                                           ("\u0915\u094D", "\u0915")])
def test_every_code_point_in_context(before, after):
    strings = [before + chr(c) + after for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    want, got = _both(strings)
    assert want == got, _mismatches(strings, want, got)
