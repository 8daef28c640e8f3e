"""The catalog and its providers: names, replacement, drops, and what may be registered."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.catalog import Catalog
from quarry.catalog.providers import MemoryTable, ParquetTable, expand_paths
from quarry.errors import CatalogError, DataError, QuarryTypeError


def test_names_are_case_insensitive_and_keep_their_spelling():
    catalog = Catalog()
    catalog.register("Orders", MemoryTable("Orders", pa.table({"x": [1]})))
    assert catalog.exists("orders") and catalog.exists("ORDERS")
    assert catalog.get("oRdErS").name == "Orders"
    assert catalog.names() == ["Orders"]


def test_register_without_replace_refuses_an_existing_name():
    catalog = Catalog()
    catalog.register("t", MemoryTable("t", pa.table({"x": [1]})))
    with pytest.raises(CatalogError, match="already exists") as info:
        catalog.register("T", MemoryTable("T", pa.table({"x": [2]})), replace=False)
    assert "OR REPLACE" in info.value.hint


def test_missing_name_suggests_a_close_one():
    catalog = Catalog()
    catalog.register("lineitem", MemoryTable("lineitem", pa.table({"x": [1]})))
    with pytest.raises(CatalogError) as info:
        catalog.get("lineitme")
    assert info.value.hint == "did you mean `lineitem`?"
    catalog.drop("nothing", if_exists=True)
    with pytest.raises(CatalogError):
        catalog.drop("nothing")


def test_memory_table_types_are_normalized_and_not_null_is_kept():
    schema = pa.schema([pa.field("a", pa.uint8(), nullable=False), pa.field("b", pa.large_string()),
                        pa.field("c", pa.dictionary(pa.int32(), pa.string())), pa.field("d", pa.string_view())])
    table = pa.table({"a": pa.array([1, 2], pa.uint8()), "b": pa.array(["x", "y"], pa.large_string()),
                      "c": pa.array(["p", "q"]).dictionary_encode(),
                      "d": pa.array(["v", None], pa.string_view())}, schema=schema)
    con = quarry.connect()
    con.register("t", table)
    described = con.sql("DESCRIBE t").to_pylist()
    assert [(r["column_type"], r["null"]) for r in described] == [
        ("SMALLINT", "NO"), ("VARCHAR", "YES"), ("VARCHAR", "YES"), ("VARCHAR", "YES")]
    assert con.sql("SELECT a + 1 AS a1, upper(c) AS c, d FROM t WHERE a > 1").to_pylist() == [
        {"a1": 3, "c": "Q", "d": None}]


def test_objects_with_an_arrow_stream_can_be_registered():
    class Stream:
        def __arrow_c_stream__(self, requested_schema=None):
            return pa.table({"n": [1, 2, 3]}).__arrow_c_stream__(requested_schema)
    con = quarry.connect()
    con.register("s", Stream())
    assert con.sql("SELECT sum(n) AS s FROM s").to_pylist() == [{"s": 6}]


def test_unsupported_objects_are_refused_with_a_hint():
    con = quarry.connect()
    with pytest.raises(DataError, match="cannot register a dict") as info:
        con.register("x", {"a": [1]})
    assert "pandas" in info.value.hint


def test_rows_as_a_list_of_dicts_register_as_a_table():
    con = quarry.connect(workers=0)
    con.register("visits", [{"name": "ann", "day": 3}, {"name": "bob", "day": None, "city": "Oslo"}])
    assert con.table("visits").columns == ["name", "day", "city"]      # every key seen, in order
    assert con.sql("SELECT name, day, city FROM visits ORDER BY name").to_pylist() == [
        {"name": "ann", "day": 3, "city": None}, {"name": "bob", "day": None, "city": "Oslo"}]
    with pytest.raises(DataError, match="cannot make a table of these rows") as info:
        con.register("bad", [{"a": 1}, {"a": "x"}])
    assert "one type" in info.value.hint


@pytest.mark.parametrize("name, source, kind, words", [
    (5, pa.table({"a": [1]}), QuarryTypeError, "table name must be a non-empty string, not a Python int"),
    ("", pa.table({"a": [1]}), QuarryTypeError, "not an empty string"),
    ("t", [1, 2], DataError, "cannot register a list of int values"),
    ("t", [], DataError, "cannot register an empty list"),
    ("t", 3.5, DataError, "cannot register a float"),
])
def test_register_mistakes_are_quarry_errors_with_a_hint(name, source, kind, words):
    con = quarry.connect(workers=0)
    with pytest.raises(kind, match=words) as info:
        con.register(name, source)
    assert info.value.hint
    with pytest.raises(QuarryTypeError, match="table name must be"):
        con.table(None)


def test_expand_paths_skips_hidden_and_marker_files(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.parquet", "sub/a.parquet", "_SUCCESS", ".hidden", "c.parquet.crc"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "_tmp").mkdir()
    (tmp_path / "_tmp" / "x.parquet").write_bytes(b"")
    assert expand_paths(tmp_path) == [str(tmp_path / "b.parquet"), str(tmp_path / "sub" / "a.parquet")]


def test_parquet_statistics_cover_files_and_partitions(tmp_path):
    for year in (2020, 2021):
        folder = tmp_path / f"year={year}"
        folder.mkdir()
        pq.write_table(pa.table({"x": [year, year + 5]}), folder / "p.parquet")
    table = ParquetTable("t", tmp_path)
    stats = table.statistics()
    assert stats.row_count == 4
    assert (stats.columns["x"].min, stats.columns["x"].max) == (2020, 2026)
    assert (stats.columns["year"].min, stats.columns["year"].max) == (2020, 2021)
