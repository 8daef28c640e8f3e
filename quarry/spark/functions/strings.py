"""Spark's string functions, with Spark's semantics (see docs/spark.md, "Functions").

Positions are 1-based; ``substring``'s 0 reads as 1 and a negative position counts from the end;
``concat`` of a NULL is NULL while ``concat_ws`` skips NULLs; ``split`` and the ``regexp_*`` functions
take a regex (RE2 syntax, which agrees with Java's for everything but backreferences and lookaround);
``regexp_replace``'s replacement refers to groups as ``$1``. Constant parameters (patterns, positions,
pad strings) must be literals: the kernels read them once per batch.
"""

from __future__ import annotations

from quarry.api.column import _function_column, lit
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.functions.base import Call, spark_function
from quarry.spark.functions.internal import internal

__all__: list[str] = []


def _const(call: Call, i: int, what: str, default=None):
    if i >= len(call.protos):
        return default
    if not call.is_literal(i):
        raise not_supported(f"`{call.name}` with a {what} that is not a constant")
    return call.literal(i)


def _string(op: str, call: Call, *params):
    return internal("spark_string", op, call.args[0], *params)


@spark_function("concat")
def _concat(call: Call):
    call.expect(1, -1)
    return internal("spark_concat", *call.args)


@spark_function("concat_ws")
def _concat_ws(call: Call):
    call.expect(1, -1)
    sep = _const(call, 0, "separator")
    return internal("spark_concat_ws", sep, *call.args[1:])


for _name, _op in (("upper", "upper"), ("ucase", "upper"), ("lower", "lower"), ("lcase", "lower"),
                   ("reverse", "reverse"), ("initcap", "initcap")):
    def _simple(call: Call, op=_op):
        call.expect(1)
        return _string(op, call)
    spark_function(_name)(_simple)


@spark_function("length", "char_length", "character_length", "len")
def _length(call: Call):
    call.expect(1)
    return _function_column("length", call.args)


@spark_function("octet_length")
def _octet_length(call: Call):
    call.expect(1)
    return internal("spark_octet_length", call.args[0])


@spark_function("bit_length")
def _bit_length(call: Call):
    call.expect(1)
    return internal("spark_octet_length", call.args[0]) * lit(8)


def _trim_name(kind):
    def namer(name, args, call):
        if len(args) == 1 or name.lower() == "btrim":
            return f"{name.lower()}({', '.join(args)})"
        return f"TRIM({kind} {args[0]} FROM {args[1]})"
    return namer


for _name, _kind in (("trim", "BOTH"), ("btrim", "BOTH"), ("ltrim", "LEADING"), ("rtrim", "TRAILING")):
    def _trim(call: Call, op=_name):
        call.expect(1, 2)
        if len(call.protos) == 1:
            return _string(op, call, " ")
        # the client sends trim(chars, str) for trim/ltrim/rtrim, and btrim(str, chars)
        chars_at, str_at = (1, 0) if op == "btrim" else (0, 1)
        chars = _const(call, chars_at, "set of characters")
        return internal("spark_string", op, call.args[str_at], chars)
    spark_function(_name, namer=_trim_name(_kind))(_trim)


@spark_function("substring", "substr")
def _substring(call: Call):
    call.expect(2, 3)
    if not all(call.is_literal(i) for i in range(1, len(call.protos))):
        # a position or length from a column: Spark's rule row by row
        return internal("spark_string", "substring", *call.args)
    pos = _const(call, 1, "position")
    length = _const(call, 2, "length")
    if not isinstance(pos, int) or (length is not None and not isinstance(length, int)):
        raise SparkError(f"`{call.name}` takes integer positions")
    return _string("substring", call, pos, length)


@spark_function("left")
def _left(call: Call):
    call.expect(2)
    return _string("left", call, _const(call, 1, "length"))


@spark_function("right")
def _right(call: Call):
    call.expect(2)
    return _string("right", call, _const(call, 1, "length"))


@spark_function("substring_index")
def _substring_index(call: Call):
    call.expect(3)
    return _string("substring_index", call, _const(call, 1, "delimiter"), _const(call, 2, "count"))


@spark_function("repeat")
def _repeat(call: Call):
    call.expect(2)
    if not call.is_literal(1):
        return internal("spark_string", "repeat", call.args[0], call.args[1])
    return _string("repeat", call, _const(call, 1, "count"))


@spark_function("replace")
def _replace(call: Call):
    call.expect(2, 3)
    return _string("replace", call, _const(call, 1, "search string"), _const(call, 2, "replacement", ""))


@spark_function("translate")
def _translate(call: Call):
    call.expect(3)
    return _string("translate", call, _const(call, 1, "matching string"), _const(call, 2, "replacement"))


def _regexp_replace_name(name, args, call):
    extra = args[3] if len(args) > 3 else "1"
    return f"regexp_replace({', '.join(args[:3])}, {extra})"


@spark_function("regexp_replace", namer=_regexp_replace_name)
def _regexp_replace(call: Call):
    call.expect(3, 4)
    if _const(call, 3, "position", 1) != 1:
        raise not_supported("`regexp_replace` from a position other than 1")
    if not (call.is_literal(1) and call.is_literal(2)):
        # patterns from a column: each distinct pattern compiles once per batch
        return internal("spark_string", "regexp_replace", call.args[0], call.args[1], call.args[2])
    return _string("regexp_replace", call, _const(call, 1, "pattern"), _const(call, 2, "replacement"))


def _extract_name(name, args, call):
    return f"{name.lower()}({', '.join(args[:2])}, {args[2] if len(args) > 2 else 1})"


@spark_function("regexp_extract", namer=_extract_name)
def _regexp_extract(call: Call):
    call.expect(2, 3)
    return _string("regexp_extract", call, _const(call, 1, "pattern"), _const(call, 2, "group index", 1))


@spark_function("regexp_extract_all", namer=_extract_name)
def _regexp_extract_all(call: Call):
    call.expect(2, 3)
    return internal("spark_string_list", "regexp_extract_all", call.args[0], _const(call, 1, "pattern"),
                    _const(call, 2, "group index", 1))


@spark_function("regexp_substr")
def _regexp_substr(call: Call):
    call.expect(2)
    pattern = _const(call, 1, "pattern")
    # the first match, NULL when there is none
    from quarry.api import functions as QF
    matched = _function_column("regexp_matches", [call.args[0], lit(pattern)])
    return QF.when(matched, _string("regexp_extract", call, pattern, 0)).otherwise(lit(None, "string"))


@spark_function("rlike", "regexp", "regexp_like",
                namer=lambda n, a, c: f"{n.upper() if n.lower() != 'rlike' else 'RLIKE'}({a[0]}, {a[1]})")
def _rlike(call: Call):
    call.expect(2)
    return _function_column("regexp_matches", call.args)


def _split_name(name, args, call):
    return f"split({args[0]}, {args[1]}, {args[2] if len(args) > 2 else -1})"


@spark_function("split", namer=_split_name)
def _split(call: Call):
    call.expect(2, 3)
    return internal("spark_string_list", "split", call.args[0], _const(call, 1, "pattern"),
                    _const(call, 2, "limit", -1))


def _pad(op):
    def build(call: Call):
        call.expect(2, 3)
        pad = " " if len(call.protos) < 3 else call.literal(2) if call.is_literal(2) else call.args[2]
        if isinstance(pad, bytes):
            raise not_supported(f"`{op}` with a binary pad")
        return internal("spark_pad", op, call.args[0], call.args[1], pad)     # length and pad may be columns
    return build


spark_function("lpad")(_pad("lpad"))
spark_function("rpad")(_pad("rpad"))


@spark_function("instr")
def _instr(call: Call):
    call.expect(2)
    if not call.is_literal(1):
        return internal("spark_string_int", "instr", call.args[0], call.args[1])
    return internal("spark_string_int", "instr", call.args[0], _const(call, 1, "substring"))


@spark_function("locate", "position",
                namer=lambda n, a, c: f"{n.lower()}({a[0]}, {a[1]}, {a[2] if len(a) > 2 else 1})")
def _locate(call: Call):
    call.expect(2, 3)
    sub = _const(call, 0, "substring")
    pos = _const(call, 2, "position", 1)
    return internal("spark_string_int", "locate", call.args[1], sub, pos)


@spark_function("ascii")
def _ascii(call: Call):
    call.expect(1)
    return internal("spark_string_int", "ascii", call.args[0])


@spark_function("chr", "char")
def _chr(call: Call):
    call.expect(1)
    return internal("spark_chr", call.args[0])


@spark_function("encode")
def _encode(call: Call):
    call.expect(2)
    return internal("spark_encode", call.args[0], _const(call, 1, "charset"))


@spark_function("decode")
def _decode(call: Call):
    call.expect(2)
    return internal("spark_decode", call.args[0], _const(call, 1, "charset"))


@spark_function("base64")
def _base64(call: Call):
    call.expect(1)
    return internal("spark_base64", call.args[0])


@spark_function("unbase64")
def _unbase64(call: Call):
    call.expect(1)
    return internal("spark_unbase64", call.args[0])


@spark_function("levenshtein")
def _levenshtein(call: Call):
    call.expect(2, 3)
    if len(call.protos) == 3:
        return internal("spark_levenshtein", call.args[0], call.args[1], _const(call, 2, "threshold"))
    return internal("spark_levenshtein", call.args[0], call.args[1])


@spark_function("format_string", "printf")
def _format_string(call: Call):
    call.expect(1, -1)
    return internal("spark_format_string", _const(call, 0, "format"), *call.args[1:])


def _overlay_name(name, args, call):
    return f"overlay({', '.join(args[:3])}, {args[3] if len(args) > 3 else -1})"


@spark_function("overlay", namer=_overlay_name)
def _overlay(call: Call):
    call.expect(3, 4)
    pos = _const(call, 2, "position")
    length = _const(call, 3, "length", -1)
    return internal("spark_overlay", call.args[0], call.args[1], pos, length)


@spark_function("contains")
def _contains(call: Call):
    call.expect(2)
    return _function_column("contains", call.args)


@spark_function("startswith")
def _startswith(call: Call):
    call.expect(2)
    return _function_column("starts_with", call.args)


@spark_function("endswith")
def _endswith(call: Call):
    call.expect(2)
    return _function_column("ends_with", call.args)


@spark_function("split_part")
def _split_part(call: Call):
    call.expect(3)
    return _function_column("split_part", call.args)


for _name in ("soundex", "url_encode", "url_decode", "try_url_decode", "quote"):
    def _text_op(call: Call, op=_name):
        call.expect(1)
        return _string(op, call)
    spark_function(_name)(_text_op)


@spark_function("regexp_count")
def _regexp_count(call: Call):
    call.expect(2)
    return internal("spark_string_int", "regexp_count", call.args[0], _const(call, 1, "pattern"))


@spark_function("regexp_instr", namer=lambda n, a, c: f"regexp_instr({a[0]}, {a[1]}, {a[2] if len(a) > 2 else 0})")
def _regexp_instr(call: Call):
    call.expect(2, 3)
    if _const(call, 2, "group index", 0) != 0:
        raise not_supported("`regexp_instr` of a group (only of the whole match, index 0)")
    return internal("spark_string_int", "regexp_instr", call.args[0], _const(call, 1, "pattern"))


@spark_function("find_in_set")
def _find_in_set(call: Call):
    call.expect(2)
    return internal("spark_find_in_set", call.args[0], call.args[1])


@spark_function("format_number")
def _format_number(call: Call):
    call.expect(2)
    return internal("spark_format_number", call.args[0], _const(call, 1, "number of decimals"))


for _name in ("to_binary", "try_to_binary"):
    def _to_binary(call: Call, op=_name):
        call.expect(1, 2)
        fmt = str(_const(call, 1, "format", "hex")).lower()
        if fmt == "hex":
            return internal("spark_unhex", call.args[0])
        if fmt in ("utf-8", "utf8"):
            return internal("spark_encode", call.args[0], "utf-8")
        if fmt == "base64":
            return internal("spark_unbase64", call.args[0])
        if op == "try_to_binary":
            return lit(None, "binary")
        raise SparkError(f"`to_binary`: the format `{fmt}` is not one of 'hex', 'utf-8', 'base64'",
                         error_class="INVALID_PARAMETER_VALUE.BINARY_FORMAT")
    spark_function(_name)(_to_binary)


@spark_function("is_valid_utf8")
def _is_valid_utf8(call: Call):
    call.expect(1)
    from quarry.api import functions as QF
    x = call.args[0]                 # quarry's strings are valid UTF-8 by construction
    return QF.when(x.is_null(), lit(None, "boolean")).otherwise(lit(True))


for _name in ("make_valid_utf8", "validate_utf8", "try_validate_utf8"):
    def _valid_utf8(call: Call):
        call.expect(1)
        return call.args[0].cast("string")
    spark_function(_name)(_valid_utf8)


@spark_function("elt")
def _elt(call: Call):
    call.expect(2, -1)
    from quarry.api import functions as QF
    index, values = call.args[0], call.args[1:]
    case = QF.when(index == lit(1), values[0])
    for i, v in enumerate(values[1:], start=2):
        case = case.when(index == lit(i), v)
    return case.otherwise(lit(None, "string"))
