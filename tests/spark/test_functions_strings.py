"""Spark's string functions through the real pyspark-client, table-driven, with NULL, empty and edge
inputs (negative and zero positions, limits, lengths shorter than the string).

Expected values are Spark's, from its documentation (the Spark SQL built-in function reference and the
pyspark.sql.functions docstrings), e.g. ``substring('Spark SQL', -3) = 'SQL'``, ``locate('bar',
'foobarbar', 5) = 7``, ``lpad('hi', 1, '??') = 'h'``, ``split('oneAtwoBthreeC', '[ABC]', 2) = ['one',
'twoBthreeC']``, ``translate('AaBbCc', 'abc', '123') = 'A1B2C3'``, ``soundex``-free.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import check, fn_spark  # noqa: E402,F401

S = "s string"


def rows(*values):
    return [(v,) for v in values]


PAD = "s string, n int, p string"
PAD_ROWS = [("abcd", 6, "#"), ("xyz", 2, "uv"), ("12", 7, "uv"), ("hé", 4, "ö"), ("ab", 5, ""), ("ab", -1, "x"),
            (None, 3, "x"), ("ab", None, "x"), ("ab", 3, None)]

CASES = [
    ("concat", "a string, b string", [("Spark", "SQL"), ("a", None), ("", "")],
     lambda F, d: F.concat("a", "b"), ["SparkSQL", None, ""], "concat(a, b)"),
    ("concat-ws-skips-nulls", "a string, b string", [("Spark", "SQL"), ("a", None), (None, None)],
     lambda F, d: F.concat_ws(" ", "a", "b"), ["Spark SQL", "a", ""], "concat_ws( , a, b)"),
    ("concat-ws-named", "a string, b string", [("x", "y")], lambda F, d: F.concat_ws("-", "a", "b"), ["x-y"],
     "concat_ws(-, a, b)"),
    ("substring", S, rows("abcd", None, ""), lambda F, d: F.substring("s", 1, 2), ["ab", None, ""],
     "substring(s, 1, 2)"),
    # positions count characters, not UTF-8 bytes
    ("substring-columns-non-ascii", "s string, p int, l int", [("héllo wörld", 2, 3), ("öö", 2, 5)],
     lambda F, d: F.substring(d.s, d.p, d.l), ["éll", "ö"], None),
    ("lpad-non-ascii-pad", S, rows("hé", "abc"), lambda F, d: F.lpad("s", 5, "ö"), ["öööhé", "ööabc"], None),
    ("substring-negative", S, rows("Spark SQL", "ab"), lambda F, d: F.substring("s", -3, 3), ["SQL", "ab"], None),
    ("substring-negative-len", S, rows("Spark SQL",), lambda F, d: F.substring("s", -3, 2), ["SQ"], None),
    ("substring-before-start", S, rows("abc",), lambda F, d: F.substring("s", -5, 3), ["a"], None),
    ("substring-zero", S, rows("Spark SQL",), lambda F, d: F.substring("s", 0, 3), ["Spa"], None),
    ("substring-past-end", S, rows("Spark SQL",), lambda F, d: F.substring("s", 20, 3), [""], None),
    ("substring-zero-length", S, rows("Spark SQL",), lambda F, d: F.substring("s", 2, 0), [""], None),
    ("substr-column-method", S, rows("Spark SQL",), lambda F, d: d.s.substr(5, 1), ["k"], "substr(s, 5, 1)"),
    ("substring-columns", "s string, p int, l int", [("Spark", 2, 3), ("Spark SQL", -3, 2), ("abc", -5, 3),
                                                     ("abc", 0, 2), ("abc", 2, -1), ("abc", None, 1), (None, 1, 1)],
     lambda F, d: F.substring(d.s, d.p, d.l), ["par", "SQ", "a", "ab", "", None, None], "substring(s, p, l)"),
    ("substring-column-length", "s string, l int", [("Spark", 3)], lambda F, d: F.substring(d.s, 2, d.l),
     ["par"], "substring(s, 2, l)"),
    ("substring-index", S, rows("a.b.c.d", "www.apache.org", None, ""),
     lambda F, d: F.substring_index("s", ".", 2), ["a.b", "www.apache", None, ""], "substring_index(s, ., 2)"),
    ("substring-index-negative", S, rows("a.b.c.d", "abc"), lambda F, d: F.substring_index("s", ".", -3),
     ["b.c.d", "abc"], "substring_index(s, ., -3)"),
    ("substring-index-zero", S, rows("a.b"), lambda F, d: F.substring_index("s", ".", 0), [""], None),
    ("left", S, rows("Spark SQL", None), lambda F, d: F.left("s", F.lit(3)), ["Spa", None], None),
    ("right", S, rows("Spark SQL",), lambda F, d: F.right("s", F.lit(3)), ["SQL"], None),
    ("instr", S, rows("SparkSQL", "abc", None, ""), lambda F, d: F.instr("s", "SQL"), [6, 0, None, 0],
     "instr(s, SQL)"),
    ("instr-column", S, rows("abc", "xbcd"), lambda F, d: F.instr("s", F.substr(F.lit("abc"), F.lit(2), F.lit(2))),
     [2, 2], None),
    ("instr-needle-column", "s string, t string", [("abcd", "c"), ("abcd", "x"), ("abcd", None), ("cc", "c")],
     lambda F, d: F.instr("s", d.t), [3, 0, None, 1], "instr(s, t)"),
    ("instr-empty", S, rows("abc", ""), lambda F, d: F.instr("s", ""), [1, 1], None),
    ("instr-non-ascii", S, rows("héllo wörld",), lambda F, d: F.instr("s", "w"), [7], None),
    ("locate", S, rows("foobarbar", "abcd", None), lambda F, d: F.locate("bar", "s"), [4, 0, None],
     "locate(bar, s, 1)"),
    ("locate-pos", S, rows("foobarbar",), lambda F, d: F.locate("bar", "s", 5), [7], "locate(bar, s, 5)"),
    ("locate-pos-zero", S, rows("foobarbar",), lambda F, d: F.locate("bar", "s", 0), [0], None),
    ("lpad", S, rows("abcd", "xyz", "12", None), lambda F, d: F.lpad("s", 6, "#"),
     ["##abcd", "###xyz", "####12", None], "lpad(s, 6, #)"),
    ("lpad-truncates", S, rows("hi",), lambda F, d: F.lpad("s", 1, "??"), ["h"], None),
    ("lpad-multi", S, rows("hi",), lambda F, d: F.lpad("s", 5, "??"), ["???hi"], None),
    ("lpad-multi-char-pad", S, rows("abcd", "xyz", "12"), lambda F, d: F.lpad("s", 6, "uv"),
     ["uvabcd", "uvuxyz", "uvuv12"], None),
    ("rpad-multi-char-pad", S, rows("abcd", "xyz", "12"), lambda F, d: F.rpad("s", 6, "uv"),
     ["abcduv", "xyzuvu", "12uvuv"], None),
    ("lpad-negative", S, rows("hi",), lambda F, d: F.lpad("s", -1, "?"), [""], None),
    ("rpad", S, rows("abcd", "xyz", "12"), lambda F, d: F.rpad("s", 6, "#"), ["abcd##", "xyz###", "12####"],
     "rpad(s, 6, #)"),
    ("rpad-truncates", S, rows("hi",), lambda F, d: F.rpad("s", 1, "??"), ["h"], None),
    # length and pad as columns (Spark 4): cut to the length, or padded with the pad repeated and cut;
    # an empty pad pads nothing; a NULL anywhere is NULL
    ("lpad-columns", PAD, PAD_ROWS, lambda F, d: F.lpad("s", d.n, d.p),
     ["##abcd", "xy", "uvuvu12", "ööhé", "ab", "", None, None, None], "lpad(s, n, p)"),
    ("rpad-columns", PAD, PAD_ROWS, lambda F, d: F.rpad("s", d.n, d.p),
     ["abcd##", "xy", "12uvuvu", "héöö", "ab", "", None, None, None], "rpad(s, n, p)"),
    ("lpad-column-length", PAD, PAD_ROWS[:3], lambda F, d: F.lpad("s", d.n, "*"), ["**abcd", "xy", "*****12"],
     "lpad(s, n, *)"),
    ("rpad-column-pad", PAD, PAD_ROWS[:3], lambda F, d: F.rpad("s", 5, d.p), ["abcd#", "xyzuv", "12uvu"],
     "rpad(s, 5, p)"),
    ("regexp-extract", S, rows("100-200", "foo", None), lambda F, d: F.regexp_extract("s", r"(\d+)-(\d+)", 1),
     ["100", "", None], r"regexp_extract(s, (\d+)-(\d+), 1)"),
    ("regexp-extract-unmatched-group", S, rows("aaaac",), lambda F, d: F.regexp_extract("s", "(a+)(b)?(c)", 2),
     [""], None),
    ("regexp-extract-whole", S, rows("x 42 y",), lambda F, d: F.regexp_extract("s", r"\d+", 0), ["42"], None),
    ("regexp-extract-all", S, rows("100-200, 300-400", "none", None),
     lambda F, d: F.regexp_extract_all("s", F.lit(r"(\d+)-(\d+)"), 1), [["100", "300"], [], None],
     r"regexp_extract_all(s, (\d+)-(\d+), 1)"),
    ("regexp-extract-all-group-2", S, rows("100-200, 300-400",),
     lambda F, d: F.regexp_extract_all("s", F.lit(r"(\d+)-(\d+)"), 2), [["200", "400"]], None),
    ("regexp-replace", S, rows("100-200", None, ""), lambda F, d: F.regexp_replace("s", r"(\d+)", "--"),
     ["-----", None, ""], r"regexp_replace(s, (\d+), --, 1)"),
    ("regexp-replace-group", S, rows("100-200",), lambda F, d: F.regexp_replace("s", r"(\d+)-(\d+)", "$2-$1"),
     ["200-100"], None),
    ("regexp-replace-columns", "str string, pattern string, replacement string",
     [("100-200", r"(\d+)", "--"), ("a1b22", r"\d", "#"), ("x", None, "y"), ("100-200", r"(\d+)", "--")],
     lambda F, d: F.regexp_replace(d.str, d.pattern, d.replacement), ["-----", "a#b##", None, "-----"],
     "regexp_replace(str, pattern, replacement, 1)"),
    ("repeat-column", "s string, t int", [("ab", 3), ("ab", -1), ("ab", None)],
     lambda F, d: F.repeat(d.s, d.t), ["ababab", "", None], "repeat(s, t)"),
    ("regexp-substr", S, rows("1a 2b 14m", "none"), lambda F, d: F.regexp_substr("s", F.lit(r"\d+")),
     ["1", None], None),
    ("rlike", S, rows("1a 2b 14m", "x", None), lambda F, d: d.s.rlike(r"\d+"), [True, False, None], None),
    ("split", S, rows("oneAtwoBthreeC", None, ""), lambda F, d: F.split("s", "[ABC]"),
     [["one", "two", "three", ""], None, [""]], "split(s, [ABC], -1)"),
    ("split-limit", S, rows("oneAtwoBthreeC",), lambda F, d: F.split("s", "[ABC]", 2), [["one", "twoBthreeC"]],
     "split(s, [ABC], 2)"),
    ("split-negative-limit", S, rows("oneAtwoBthreeC",), lambda F, d: F.split("s", "[ABC]", -2),
     [["one", "two", "three", ""]], "split(s, [ABC], -2)"),
    ("split-empty-pattern", S, rows("abc", "", "hé"), lambda F, d: F.split("s", ""), [["a", "b", "c"], [""], ["h", "é"]],
     None),
    ("split-limit-one", S, rows("a,b",), lambda F, d: F.split("s", ",", 1), [["a,b"]], None),
    ("translate", S, rows("AaBbCc", "translate", None), lambda F, d: F.translate("s", "abc", "123"),
     ["A1B2C3", "tr1nsl1te", None], "translate(s, abc, 123)"),
    ("translate-delete", S, rows("translate",), lambda F, d: F.translate("s", "rnlt", "123"), ["1a2s3ae"], None),
    ("translate-swap", S, rows("abc",), lambda F, d: F.translate("s", "ab", "ba"), ["bac"], None),
    ("initcap", S, rows("ab cd", "sPark sql", None, ""), lambda F, d: F.initcap("s"),
     ["Ab Cd", "Spark Sql", None, ""], "initcap(s)"),
    ("upper", S, rows("Spark", None), lambda F, d: F.upper("s"), ["SPARK", None], "upper(s)"),
    ("lower", S, rows("Spark",), lambda F, d: F.lower("s"), ["spark"], "lower(s)"),
    ("reverse", S, rows("Spark SQL", ""), lambda F, d: F.reverse("s"), ["LQS krapS", ""], "reverse(s)"),
    ("repeat", S, rows("123", None), lambda F, d: F.repeat("s", 2), ["123123", None], "repeat(s, 2)"),
    ("repeat-negative", S, rows("123",), lambda F, d: F.repeat("s", -1), [""], None),
    ("replace", S, rows("ABCabc",), lambda F, d: F.replace("s", F.lit("abc"), F.lit("DEF")), ["ABCDEF"], None),
    ("trim", S, rows("    SparkSQL   ", None, ""), lambda F, d: F.trim("s"), ["SparkSQL", None, ""], "trim(s)"),
    ("trim-chars", S, rows("SSparkSQLS",), lambda F, d: F.trim("s", F.lit("SL")), ["parkSQ"],
     "TRIM(BOTH SL FROM s)"),
    ("ltrim-chars", S, rows("SSparkSQLS",), lambda F, d: F.ltrim("s", F.lit("SL")), ["parkSQLS"],
     "TRIM(LEADING SL FROM s)"),
    ("rtrim-chars", S, rows("SSparkSQLS",), lambda F, d: F.rtrim("s", F.lit("SL")), ["SSparkSQ"],
     "TRIM(TRAILING SL FROM s)"),
    ("ltrim", S, rows("   Spark", " Spark  "), lambda F, d: F.ltrim("s"), ["Spark", "Spark  "], "ltrim(s)"),
    ("rtrim", S, rows("   Spark ",), lambda F, d: F.rtrim("s"), ["   Spark"], "rtrim(s)"),
    ("length", S, rows("Spark SQL ", "", None, "héllo"), lambda F, d: F.length("s"), [10, 0, None, 5],
     "length(s)"),
    ("octet-length", S, rows("Spark SQL", "é", None), lambda F, d: F.octet_length("s"), [9, 2, None],
     "octet_length(s)"),
    ("bit-length", S, rows("Spark SQL",), lambda F, d: F.bit_length("s"), [72], "bit_length(s)"),
    ("ascii", S, rows("222", "", None, "A"), lambda F, d: F.ascii("s"), [50, 0, None, 65], "ascii(s)"),
    ("chr", "n long", rows(65, 321, -1, None), lambda F, d: F.chr("n"), ["A", "A", "", None], "chr(n)"),
    ("base64", S, rows("Spark SQL", "", "a", "ab", None), lambda F, d: F.base64("s"),
     ["U3BhcmsgU1FM", "", "YQ==", "YWI=", None], "base64(s)"),
    ("unbase64", S, rows("U3BhcmsgU1FM", "", "YQ==", None), lambda F, d: F.unbase64("s"),
     [b"Spark SQL", b"", b"a", None], "unbase64(s)"),
    ("encode", S, rows("abc", None), lambda F, d: F.encode("s", "UTF-8"), [b"abc", None], "encode(s, UTF-8)"),
    ("decode", S, rows("abc",), lambda F, d: F.decode(F.encode("s", "UTF-8"), "UTF-8"), ["abc"], None),
    ("levenshtein", "l string, r string", [("kitten", "sitting"), ("", "abc"), ("abc", ""), ("a", None)],
     lambda F, d: F.levenshtein("l", "r"), [3, 3, 3, None], "levenshtein(l, r)"),
    ("levenshtein-threshold", "l string, r string", [("kitten", "sitting"), ("kitten", "kitten")],
     lambda F, d: F.levenshtein("l", "r", 2), [-1, 0], "levenshtein(l, r, 2)"),
    ("format-string", "a int, b string", [(5, "hello"), (None, None)],
     lambda F, d: F.format_string("%d %s", "a", "b"), ["5 hello", "null null"], "format_string(%d %s, a, b)"),
    ("format-string-float", "x double", [(3.14159,)], lambda F, d: F.format_string("%.2f", "x"), ["3.14"], None),
    ("printf", "a int, b string", [(100, "days")], lambda F, d: F.printf(F.lit("Hello World %d %s"), "a", "b"),
     ["Hello World 100 days"], None),
    ("overlay", "x string, y string", [("SPARK_SQL", "CORE")], lambda F, d: F.overlay("x", "y", 7),
     ["SPARK_CORE"], "overlay(x, y, 7, -1)"),
    ("overlay-len-zero", "x string, y string", [("SPARK_SQL", "CORE")], lambda F, d: F.overlay("x", "y", 7, 0),
     ["SPARK_CORESQL"], "overlay(x, y, 7, 0)"),
    ("overlay-len-two", "x string, y string", [("SPARK_SQL", "CORE")], lambda F, d: F.overlay("x", "y", 7, 2),
     ["SPARK_COREL"], "overlay(x, y, 7, 2)"),
    ("soundex", S, rows("Peters", "Uhrbach", "", None, "1abc", "Ashcraft"), lambda F, d: F.soundex("s"),
     ["P362", "U612", "", None, "1abc", "A261"], "soundex(s)"),
    ("url-encode", S, rows("https://spark.apache.org", "a b", None), lambda F, d: F.url_encode("s"),
     ["https%3A%2F%2Fspark.apache.org", "a+b", None], "url_encode(s)"),
    ("url-decode", S, rows("https%3A%2F%2Fspark.apache.org", "a+b"), lambda F, d: F.url_decode("s"),
     ["https://spark.apache.org", "a b"], "url_decode(s)"),
    ("try-url-decode-bad", S, rows("https%3A%2F%2Fspark.apache.org", "a%2"), lambda F, d: F.try_url_decode("s"),
     ["https://spark.apache.org", None], None),
    ("quote", S, rows("Don't", None), lambda F, d: F.quote("s"), ["'Don\\'t'", None], "quote(s)"),
    ("regexp-count", S, rows("1a 2b 14m", "x", None), lambda F, d: F.regexp_count("s", F.lit(r"\d+")),
     [3, 0, None], r"regexp_count(s, \d+)"),
    ("regexp-instr", S, rows("1a 2b 14m", "abc 14m", "x"), lambda F, d: F.regexp_instr("s", F.lit(r"\d+(a|b|m)")),
     [1, 5, 0], r"regexp_instr(s, \d+(a|b|m), 0)"),
    ("find-in-set", "a string, l string", [("ab", "abc,b,ab,c,def"), ("x", "a,b"), ("a,b", "a,b"), (None, "a")],
     lambda F, d: F.find_in_set("a", "l"), [3, 0, 0, None], "find_in_set(a, l)"),
    ("format-number", "x double", [(5.0,), (1234567.891,), (-0.5,), (None,)],
     lambda F, d: F.format_number("x", 4), ["5.0000", "1,234,567.8910", "-0.5000", None], "format_number(x, 4)"),
    ("format-number-half-even", "x double", [(12332.125,), (0.5,)],
     lambda F, d: F.format_number("x", 2), ["12,332.12", "0.50"], None),
    ("format-number-zero-decimals", "x double", [(999.5,), (1000.4,)], lambda F, d: F.format_number("x", 0),
     ["1,000", "1,000"], None),
    ("to-binary-hex", S, rows("abc",), lambda F, d: F.to_binary("s", F.lit("hex")), [b"\x0a\xbc"], None),
    ("to-binary-utf8", S, rows("abc",), lambda F, d: F.to_binary("s", F.lit("utf-8")), [b"abc"], None),
    ("elt", "i int, a string, b string", [(1, "scala", "java"), (2, "scala", "java"), (3, "x", "y")],
     lambda F, d: F.elt("i", "a", "b"), ["scala", "java", None], None),
    ("contains", S, rows("Spark SQL", None), lambda F, d: F.contains("s", F.lit("SQL")), [True, None], None),
    ("startswith", S, rows("Spark SQL",), lambda F, d: F.startswith("s", F.lit("Spark")), [True], None),
    ("endswith", S, rows("Spark SQL",), lambda F, d: F.endswith("s", F.lit("Spark")), [False], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_strings(fn_spark, case):
    check(fn_spark, case)


def test_regexp_extract_group_out_of_range_raises(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([("100-200",)], "s string")
    with pytest.raises(PySparkException, match="group index"):
        df.select(F.regexp_extract("s", r"(\d+)", 3)).collect()


def test_split_on_a_pattern_matching_empty_is_refused_not_hung(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([("a b",)], "s string")
    with pytest.raises(PySparkException, match="matches the empty string"):
        df.select(F.split("s", r"\s*")).collect()


def test_non_constant_pattern_is_refused_by_name(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([("a", "b")], "s string, p string")
    with pytest.raises(PySparkException, match="Not supported: `split` with a pattern"):
        df.select(F.split("s", F.col("p"))).collect()
