"""The format strings of ``printf`` (C's ``%5d``) and ``format`` (fmt's ``{:>5}``), parsed into pieces.

A format string is parsed once, when the call is bound, into literal text and :class:`Spec` fields;
the kernel (``quarry.compute.format_kernels``) renders each field over a whole column with Arrow
kernels. Only what is listed here is implemented; anything else is refused by name::

    >>> [p if isinstance(p, str) else p.conversion for p in parse_printf("%-5d|%.2f%%")]
    ['d', '|', 'f', '%']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quarry.errors import DataError, UnsupportedError


@dataclass(frozen=True)
class Spec:
    """One field: which argument (0-based), how it converts (``d``, ``f``, ``s``, or ``""``: as the
    value prints), its width, precision, alignment (``<``, ``>``, ``^``, or ``""``: the type's
    default), fill character, ``+`` sign and zero padding."""

    arg: int
    conversion: str = ""
    width: int = 0
    precision: int | None = None
    align: str = ""
    fill: str = " "
    plus: bool = False
    zero: bool = False
    space: bool = False               # printf's ' ' flag: a space where a + would be
    alternate: bool = False           # '#': 0x before hex digits, 0 (printf) or 0o (format) before octal


_PRINTF = re.compile(r"%([-+ 0#']*)(\d+)?(?:\.(\d*))?(hh|h|ll|l|j|z|t|L)?(.)?", re.S)


def parse_printf(text: str) -> list[str | Spec]:
    """The pieces of a printf format: ``%[-+ #0][width][.precision][length]conversion``, conversion one of
    ``d i u`` (integers), ``x X o`` (integers in hex and octal), ``f F`` (fixed-point), ``s`` (text) and ``%%``."""
    pieces: list[str | Spec] = []
    pos, arg = 0, 0
    for m in _PRINTF.finditer(text):
        if m.start() > pos:
            pieces.append(text[pos:m.start()])
        pos = m.end()
        flags, width, precision, _length, conv = m.groups()
        if conv is None:
            raise DataError(f"printf format `{text}` ends inside a specifier", hint="write %% for a percent sign")
        if conv == "%" and not (flags or width or precision is not None):
            pieces.append("%")
            continue
        spelled = m.group(0)
        kind = {"d": "d", "i": "d", "u": "d", "f": "f", "F": "f", "s": "s", "x": "x", "X": "X", "o": "o"}.get(conv)
        if kind is None:
            raise UnsupportedError(f"printf specifier `{spelled}`",
                                   hint="quarry's printf takes %d, %i, %u, %x, %X, %o, %f, %s and %%, with the "
                                        "flags -, +, space, # and 0, a width and a precision")
        bad = set(flags) - set("-+0 #")
        radix = kind in "xXo"
        if bad or ("-" in flags and "0" in flags) or (kind == "s" and set(flags) & set("+0 #")) \
                or (kind in "dxXo" and precision is not None) or ("#" in flags and not radix) \
                or (radix and set(flags) & set("+ ")):
            raise UnsupportedError(f"printf specifier `{spelled}`",
                                   hint="the flags quarry takes are - (left-align), and of a number + or space "
                                        "(sign) and 0 (zero-pad); a precision goes with %f and %s")
        pieces.append(Spec(arg, kind, int(width or 0), int(precision or 0) if precision is not None else None,
                           "<" if "-" in flags else ">", " ", "+" in flags, "0" in flags, " " in flags,
                           "#" in flags))
        arg += 1
    if pos < len(text):
        pieces.append(text[pos:])
    return _merge(pieces)


_FIELD_SPEC = re.compile(r"(?:(.)?([<>^]))?(\+)?(#)?(0)?(\d+)?(?:\.(\d+))?([dfsxXob])?", re.S)


def parse_format(text: str) -> list[str | Spec]:
    """The pieces of a fmt format: ``{}`` or ``{n}`` fields (not both), ``{{``/``}}`` for braces, and a spec
    ``{:[[fill]align][+][#][0][width][.precision][d|f|s|x|X|o|b]}``."""
    pieces: list[str | Spec] = []
    i, auto, manual = 0, 0, False
    literal = []
    while i < len(text):
        c = text[i]
        if c in "{}" and text[i + 1:i + 2] == c:
            literal.append(c)
            i += 2
            continue
        if c == "}":
            raise DataError(f"format string `{text}` has an unmatched `}}`", hint="write }} for a brace")
        if c != "{":
            literal.append(c)
            i += 1
            continue
        end = text.find("}", i)
        if end < 0:
            raise DataError(f"format string `{text}` has an unmatched `{{`", hint="write {{ for a brace")
        field = text[i + 1:end]
        index, _, spec = field.partition(":")
        if index and not index.isdigit():
            raise UnsupportedError(f"format field `{{{field}}}`", hint="name arguments by position: {} or {0}")
        if index:
            if auto:
                raise DataError("format string cannot switch from automatic to manual argument indexing")
            manual, arg = True, int(index)
        else:
            if manual:
                raise DataError("format string cannot switch from manual to automatic argument indexing")
            arg, auto = auto, auto + 1
        m = _FIELD_SPEC.fullmatch(spec)
        if m is None:
            raise UnsupportedError(f"format spec `{{{field}}}`",
                                   hint="quarry's format takes [[fill]align][+][#][0][width][.precision]"
                                        "[d|f|s|x|X|o|b]")
        fill, align, plus, alternate, zero, width, precision, conv = m.groups()
        if alternate and conv not in ("x", "X", "o", "b"):
            raise UnsupportedError(f"format spec `{{{field}}}`", hint="# goes with the types x, X, o and b")
        if literal:
            pieces.append("".join(literal))
            literal = []
        pieces.append(Spec(arg, conv or "", int(width or 0), int(precision) if precision is not None else None,
                           align or "", fill or " ", plus is not None, zero is not None, False,
                           alternate is not None))
        i = end + 1
    if literal:
        pieces.append("".join(literal))
    return _merge(pieces)


def _merge(pieces: list[str | Spec]) -> list[str | Spec]:
    out: list[str | Spec] = []
    for p in pieces:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        else:
            out.append(p)
    return out


def parse(function: str, text: str) -> list[str | Spec]:
    """The pieces of ``text`` as ``printf`` or ``format`` reads it."""
    return parse_printf(text) if function == "printf" else parse_format(text)
