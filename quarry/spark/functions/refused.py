"""The functions of ``pyspark.sql.functions`` quarry refuses by name, each with a hint.

A call of one of these raises ``Not supported: the function `name` (hint)`` (UnsupportedOperationException,
error class UNSUPPORTED_FEATURE). ``REFUSED`` holds the math, string, conditional, hashing, JSON and misc
families; ``REFUSED_F16B`` the date/time, aggregate, window and collection families (the registry holds the
rest of those).

``CLIENT_SIDE`` are public names of ``pyspark.sql.functions`` that never reach the server as a function
call (they build column references, literals, sort orders, SQL text or UDFs, which the translator handles
or refuses as such). ``WIRE_NAMES`` are Python names the client sends under another function name.
"""

from __future__ import annotations

__all__ = ["CLIENT_SIDE", "REFUSED", "REFUSED_F16B", "WIRE_NAMES", "refusal"]

_JVM = "it calls into the JVM, which quarry does not have"
_SKETCH = "quarry has no data-sketch binary formats; approx_count_distinct and percentile_approx cover counts " \
          "and quantiles"
_VARIANT = "quarry has no VARIANT type; keep JSON as a string and use get_json_object / from_json"
_GEO = "quarry has no geometry types"
_XML = "quarry has no XML functions; parse the XML before loading"
_CSV = "parse CSV with spark.read.csv instead"
_CRYPT = "quarry has no AES functions; encrypt outside the query"

REFUSED: dict[str, str] = {
    # misc / JVM
    "java_method": _JVM, "reflect": _JVM, "try_reflect": _JVM,
    "aes_encrypt": _CRYPT, "aes_decrypt": _CRYPT, "try_aes_decrypt": _CRYPT,
    "bucket": "a partition transform, for DataFrameWriterV2.partitionedBy only",
    "years": "a partition transform, for DataFrameWriterV2.partitionedBy only",
    "months": "a partition transform, for DataFrameWriterV2.partitionedBy only",
    "days": "a partition transform, for DataFrameWriterV2.partitionedBy only",
    "hours": "a partition transform, for DataFrameWriterV2.partitionedBy only",
    "collate": "quarry compares strings by their UTF-8 bytes only (UTF8_BINARY)",
    "collation": "quarry compares strings by their UTF-8 bytes only (UTF8_BINARY)",
    "current_user": "the user is known to the server, not to a query; use lit()",
    "user": "the user is known to the server, not to a query; use lit()",
    "session_user": "the user is known to the server, not to a query; use lit()",
    "version": "quarry is not a Spark version; use lit()",
    "randstr": "use sha2(rand(seed) ...) or uuid() for random strings",
    "current_path": "quarry has no SQL path; name functions directly",
    "call_udf": "Python and JVM UDFs are not supported",
    # strings
    "sentences": "it needs a locale-aware word splitter; use split",
    "mask": "write the masking with translate or regexp_replace",
    "to_char": "number format patterns are not supported; use format_number or format_string",
    "to_varchar": "number format patterns are not supported; use format_number or format_string",
    "to_number": "number format patterns are not supported; cast the string",
    "try_to_number": "number format patterns are not supported; cast the string",
    "parse_url": "extract the part with regexp_extract",
    "try_parse_url": "extract the part with regexp_extract",
    "xpath": _XML, "xpath_boolean": _XML, "xpath_double": _XML, "xpath_float": _XML, "xpath_int": _XML,
    "xpath_long": _XML, "xpath_number": _XML, "xpath_short": _XML, "xpath_string": _XML,
    "from_xml": _XML, "to_xml": _XML, "schema_of_xml": _XML,
    "from_csv": _CSV, "to_csv": _CSV, "schema_of_csv": _CSV,
    # JSON / variant
    "parse_json": _VARIANT, "try_parse_json": _VARIANT, "variant_get": _VARIANT, "try_variant_get": _VARIANT,
    "is_variant_null": _VARIANT, "schema_of_variant": _VARIANT, "schema_of_variant_agg": _VARIANT,
    "to_variant_object": _VARIANT, "is_valid_variant": _VARIANT,
    # geometry
    "st_asbinary": _GEO, "st_geogfromwkb": _GEO, "st_geomfromwkb": _GEO, "st_setsrid": _GEO, "st_srid": _GEO,
    # sketches (scalar parts)
    "hll_sketch_estimate": _SKETCH, "hll_union": _SKETCH, "theta_sketch_estimate": _SKETCH,
    "theta_difference": _SKETCH, "theta_intersection": _SKETCH, "theta_union": _SKETCH,
    "bitmap_bit_position": _SKETCH, "bitmap_bucket_number": _SKETCH, "bitmap_count": _SKETCH,
    "count_min_sketch": _SKETCH,
}
for _kind in ("bigint", "double", "float"):
    for _fn in ("kll_sketch_get_n", "kll_sketch_get_quantile", "kll_sketch_get_rank", "kll_sketch_merge",
                "kll_sketch_to_string"):
        REFUSED[f"{_fn}_{_kind}"] = _SKETCH
for _kind in ("double", "integer"):
    for _fn in ("tuple_difference", "tuple_difference_theta", "tuple_intersection", "tuple_intersection_theta",
                "tuple_sketch_estimate", "tuple_sketch_summary", "tuple_sketch_theta", "tuple_union",
                "tuple_union_theta"):
        REFUSED[f"{_fn}_{_kind}"] = _SKETCH

_F16B = "not in quarry's date/time, aggregate, window and collection families yet"

# date/time, aggregate, window and collection functions the registry does not hold
REFUSED_F16B: dict[str, str] = {name: _F16B for name in """
bitmap_and_agg bitmap_construct_agg bitmap_or_agg
current_time histogram_numeric hll_sketch_agg hll_union_agg
make_time session_window theta_intersection_agg
theta_sketch_agg theta_union_agg time_bucket time_diff time_from_micros time_from_millis time_from_seconds
time_to_micros time_to_millis time_to_seconds time_trunc to_time
try_to_time
kll_sketch_agg_bigint kll_sketch_agg_double kll_sketch_agg_float kll_merge_agg_bigint
kll_merge_agg_double kll_merge_agg_float tuple_intersection_agg_double tuple_intersection_agg_integer
tuple_sketch_agg_double tuple_sketch_agg_integer tuple_union_agg_double tuple_union_agg_integer
""".split()}
for _name in ("transform_keys", "map_zip_with"):
    REFUSED_F16B[_name] = "a map higher-order function not in quarry yet; transform_values and map_filter are"

# public names of pyspark.sql.functions that build something other than a function call
CLIENT_SIDE: dict[str, str] = {
    "col": "a column reference", "column": "a column reference", "lit": "a literal",
    "expr": "Spark SQL text (an expression_string)", "broadcast": "a join hint",
    "asc": "a sort order", "desc": "a sort order", "asc_nulls_first": "a sort order",
    "asc_nulls_last": "a sort order", "desc_nulls_first": "a sort order", "desc_nulls_last": "a sort order",
    "call_function": "a call of the named function (resolved as that function)",
    "udf": "a Python UDF (refused as such)", "udtf": "a Python UDTF (refused as such)",
    "pandas_udf": "a Python UDF (refused as such)", "arrow_udf": "a Python UDF (refused as such)",
    "arrow_udtf": "a Python UDTF (refused as such)", "unwrap_udt": "a user-defined type (refused as such)",
}

# Python name -> the function name the client sends
WIRE_NAMES: dict[str, str] = {
    "negate": "negative", "count_distinct": "count", "sum_distinct": "sum", "countDistinct": "count",
    "sumDistinct": "sum", "bitwiseNOT": "~", "shiftLeft": "shiftleft", "shiftRight": "shiftright",
    "shiftRightUnsigned": "shiftrightunsigned", "approxCountDistinct": "approx_count_distinct",
    "toDegrees": "degrees", "toRadians": "radians",
    "timestamp_add": "timestampadd", "timestamp_diff": "timestampdiff",
}


def refusal(name: str) -> str | None:
    """The hint of a refused function, or None when ``name`` is not refused."""
    key = name.lower()
    return REFUSED.get(key) or REFUSED_F16B.get(key)
