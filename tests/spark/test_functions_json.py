"""Spark's JSON functions through the real pyspark-client, and SQL's json_extract over the same kernel.

Expected values follow Spark's documentation: ``get_json_object('{"f1": "value1", "f2": "value2"}',
'$.f1') = 'value1'`` and NULL for a missing field; ``json_array_length('[1,2,3,{"f1":1,"f2":[5,6]},4]') =
5``; ``json_object_keys('{}') = []``, ``('{"key1":1, "key2":2}') = ['key1', 'key2']``, NULL for NULL;
``to_json(struct) = '{"age":2,"name":"Alice"}'``; ``schema_of_json('{"a": 0}') = 'STRUCT<a: BIGINT>'``,
``schema_of_json('[{"col":0}]') = 'ARRAY<STRUCT<col: BIGINT>>'``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import check, fn_spark  # noqa: E402,F401

J = "j string"


def rows(*values):
    return [(v,) for v in values]


DOC = '{"a": 1, "b": {"c": "x", "d": [10, 20, {"e": null}]}, "s": "q\\"uote"}'

CASES = [
    ("get-json-object", J, rows('{"f1": "value1", "f2": "value2"}', '{"f1": "value12"}'),
     lambda F, d: F.get_json_object("j", "$.f2"), ["value2", None], "get_json_object(j, $.f2)"),
    ("get-json-object-nested", J, rows(DOC,), lambda F, d: F.get_json_object("j", "$.b.c"), ["x"], None),
    ("get-json-object-array", J, rows(DOC,), lambda F, d: F.get_json_object("j", "$.b.d[1]"), ["20"], None),
    ("get-json-object-object", J, rows(DOC,), lambda F, d: F.get_json_object("j", "$.b.d[2]"), ['{"e":null}'], None),
    ("get-json-object-json-null", J, rows(DOC,), lambda F, d: F.get_json_object("j", "$.b.d[2].e"), [None], None),
    ("get-json-object-escaped", J, rows(DOC,), lambda F, d: F.get_json_object("j", "$.s"), ['q"uote'], None),
    ("get-json-object-out-of-range", J, rows(DOC,), lambda F, d: F.get_json_object("j", "$.b.d[7]"), [None], None),
    ("get-json-object-not-json", J, rows("{not json", "", None), lambda F, d: F.get_json_object("j", "$.a"),
     [None, None, None], None),
    ("get-json-object-root-array", J, rows("[1, [2, 3]]",), lambda F, d: F.get_json_object("j", "$[1]"),
     ["[2,3]"], None),
    ("json-array-length", J, rows("[1,2,3,{\"f1\":1,\"f2\":[5,6]},4]", "[]", "{}", None, "[1,"),
     lambda F, d: F.json_array_length("j"), [5, 0, None, None, None], "json_array_length(j)"),
    ("json-object-keys", J, rows(None, "{}", '{"key1":1, "key2":2}', "[1]"), lambda F, d: F.json_object_keys("j"),
     [None, [], ["key1", "key2"], None], "json_object_keys(j)"),
    ("schema-of-json", J, rows("x",), lambda F, d: F.schema_of_json(F.lit('{"a": 0}')), ["STRUCT<a: BIGINT>"],
     'schema_of_json({"a": 0})'),
    ("schema-of-json-array", J, rows("x",), lambda F, d: F.schema_of_json(F.lit('[{"col":0}]')),
     ["ARRAY<STRUCT<col: BIGINT>>"], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_json(fn_spark, case):
    check(fn_spark, case)


def test_from_json_into_a_struct(fn_spark):
    from pyspark.sql import Row
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame(rows('{"a": 1, "b": "x", "c": {"d": 2.5}}', '{"a": "oops"}', None, "bad"), J)
    out = df.select(F.from_json("j", "a INT, b STRING, c STRUCT<d: DOUBLE>").alias("v")).collect()
    assert [r.v for r in out] == [Row(a=1, b="x", c=Row(d=2.5)), Row(a=None, b=None, c=None), None, None]


def test_from_json_with_a_struct_type(fn_spark):
    from pyspark.sql import Row
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType
    schema = StructType([StructField("a", IntegerType()), StructField("b", StringType())])
    df = fn_spark.createDataFrame(rows('{"a": 1, "b": "x"}', '{"b": null}'), J)
    assert [r.v for r in df.select(F.from_json("j", schema).alias("v")).collect()] == \
        [Row(a=1, b="x"), Row(a=None, b=None)]


def test_from_json_into_an_array_and_a_map(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame(rows("[1, 2, 3]", "[]", "[1, \"x\"]", '{"a": 1}', None), J)
    out = [r[0] for r in df.select(F.from_json("j", "array<int>")).collect()]
    assert out == [[1, 2, 3], [], [1, None], None, None]
    df = fn_spark.createDataFrame(rows('{"a": 1, "b": 2}', "{}", "[1]"), J)
    out = [r[0] for r in df.select(F.from_json("j", "map<string, int>")).collect()]
    assert out == [{"a": 1, "b": 2}, {}, None]


def test_to_json_of_a_struct(fn_spark):
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame([((2, "Alice"),)], "value struct<age: int, name: string>")
    assert df.select(F.to_json(df.value).alias("json")).collect()[0].json == '{"age":2,"name":"Alice"}'


def test_json_tuple_gives_one_column_per_field(fn_spark):
    from pyspark.sql import functions as F
    # pyspark.sql.functions.json_tuple's docstring example
    data = [("1", '''{"f1": "value1", "f2": "value2"}'''), ("2", '''{"f1": "value12"}''')]
    df = fn_spark.createDataFrame(data, ("key", "jstring"))
    out = df.select(df.key, F.json_tuple(df.jstring, "f1", "f2"))
    assert out.columns == ["key", "c0", "c1"]
    assert [tuple(r) for r in out.collect()] == [("1", "value1", "value2"), ("2", "value12", None)]


def test_json_tuple_edges(fn_spark):
    from pyspark.sql import functions as F
    # strings without their quotes, other values as JSON text; NULL for a missing field, a JSON null,
    # text that is not JSON, a root that is not an object and a NULL input
    df = fn_spark.createDataFrame(rows('{"a": 1, "b": {"x": [1, 2]}, "c": null, "d": true, "e": "t"}',
                                       "not json", "[1, 2]", None, "{}"), J)
    out = df.select(F.json_tuple("j", "a", "b", "c", "d", "e").alias("a", "b", "c", "d", "e"))
    assert out.columns == ["a", "b", "c", "d", "e"]
    assert [tuple(r) for r in out.collect()] == [("1", '{"x":[1,2]}', None, "true", "t"),
                                                 (None,) * 5, (None,) * 5, (None,) * 5, (None,) * 5]


def test_json_tuple_needs_a_field(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    df = fn_spark.createDataFrame(rows('{"a": 1}'), J)
    with pytest.raises(PySparkException, match="json_tuple"):             # the client checks json_tuple's
        df.select(F.call_function("json_tuple", F.col("j"))).collect()     # arguments: call it by name
    with pytest.raises(PySparkException, match="Not supported: `json_tuple` with a field name that is not"):
        df.select(F.json_tuple("j", F.col("j"))).collect()


def test_sql_json_extract_shares_the_kernel():
    import quarry
    session = quarry.connect(workers=0)
    out = session.sql("""SELECT json_extract('{"a": {"b": [1, "x"]}}', '$.a.b') AS t,
                                json_extract_string('{"a": {"b": [1, "x"]}}', '$.a.b[1]') AS s,
                                json_extract('{"a": 1}', '$.z') AS missing,
                                '{"k": {"v": 7}}' -> '$.k' AS arrow,
                                '{"k": {"v": "seven"}}' ->> '$.k.v' AS arrow2""").to_arrow()
    assert out.to_pylist() == [{"t": "[1,\"x\"]", "s": "x", "missing": None, "arrow": '{"v":7}',
                                "arrow2": "seven"}]
