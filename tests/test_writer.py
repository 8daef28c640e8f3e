"""The one result writer: COPY, DataFrame.write_* and the shell's output modes.

It streams (each batch is in the file before the next is asked for), never leaves a
half-written file where the old one was, refuses what it does not do, and what it
writes reads back in DuckDB as the same rows.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from decimal import Decimal as D

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.catalog.writer import render, write_file, write_stream
from quarry.errors import DataError, QuarryError, UnsupportedError
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("price", pa.decimal128(10, 2)),
                    ("day", pa.date32())])


def batch(start: int, n: int = 3) -> pa.RecordBatch:
    ids = list(range(start, start + n))
    return pa.record_batch([pa.array(ids), pa.array([f"n{i}" if i % 2 else None for i in ids]),
                            pa.array([D(i) / 4 for i in ids], pa.decimal128(10, 2)),
                            pa.array([dt.date(2024, 1, 1 + i % 28) for i in ids])], schema=SCHEMA)


@pytest.fixture
def con():
    return quarry.connect(workers=0)


@pytest.mark.parametrize("fmt, read", [
    ("parquet", lambda p: duckdb.sql(f"SELECT * FROM read_parquet('{p}')")),
    ("csv", lambda p: duckdb.sql(f"SELECT * FROM read_csv('{p}', types={{'price': 'DECIMAL(10,2)'}})")),
])
def test_files_read_back_in_duckdb(tmp_path, fmt, read):
    path = tmp_path / f"out.{fmt}"
    assert write_file(path, SCHEMA, [batch(0), batch(3)], fmt) == 6
    expected = pa.Table.from_batches([batch(0), batch(3)])
    assert_tables_equal(read(path).to_arrow_table(), expected, ordered=True)


def test_each_batch_is_written_before_the_next_is_read(tmp_path):
    path = tmp_path / "stream.csv"
    sizes = []

    def batches():
        for i in range(4):
            temps = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
            assert len(temps) == 1 and not path.exists()          # hidden temp file only, until the end
            sizes.append(os.path.getsize(tmp_path / temps[0]))
            yield batch(i * 3)
    assert write_file(path, SCHEMA, batches(), "csv") == 12
    assert sizes == sorted(sizes) and len(set(sizes)) == 4        # the file grew batch by batch
    assert len(path.read_text().splitlines()) == 13


@pytest.mark.parametrize("fmt", ["parquet", "csv", "arrow", "json"])
def test_a_failed_write_leaves_the_old_file(tmp_path, fmt):
    path = tmp_path / f"keep.{fmt}"
    path.write_bytes(b"the old contents")

    def batches():
        yield batch(0)
        raise QuarryError("query cancelled")
    with pytest.raises(QuarryError, match="query cancelled"):
        write_file(path, SCHEMA, batches(), fmt)
    assert path.read_bytes() == b"the old contents"
    assert os.listdir(tmp_path) == ["keep." + fmt]                # no temporary file left behind


def test_a_replaced_file_keeps_the_usual_permissions(tmp_path):
    path = tmp_path / "p.parquet"
    write_file(path, SCHEMA, [batch(0)])
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_text_formats_on_a_stream():
    t = pa.Table.from_batches([batch(0, 2)])
    assert render(t, "csv").splitlines() == ['"id","name","price","day"', '0,,0.00,2024-01-01',
                                            '1,"n1",0.25,2024-01-02']
    assert json.loads(render(t, "json")) == [{"id": 0, "name": None, "price": 0.0, "day": "2024-01-01"},
                                             {"id": 1, "name": "n1", "price": 0.25, "day": "2024-01-02"}]
    assert render(t, "markdown").splitlines()[:3] == ["| id | name | price | day |", "| ---: | --- | ---: | --- |",
                                                      "| 0 | NULL | 0.00 | 2024-01-01 |"]
    assert render(pa.table({"s": ["a\tb"]}), "tsv") == "s\na\\tb\n"
    assert render(SCHEMA.empty_table(), "json") == "[]\n"


def test_refusals_name_what_is_not_supported(tmp_path):
    with pytest.raises(UnsupportedError, match="option `compression` for csv output"):
        write_file(tmp_path / "x.csv", SCHEMA, [], "csv", compression="zstd")
    with pytest.raises(UnsupportedError, match="output format `xml`"):
        write_file(tmp_path / "x.xml", SCHEMA, [], "xml")
    with pytest.raises(UnsupportedError, match="parquet output to a stream"):
        write_stream(open(os.devnull, "w"), SCHEMA, [], "parquet")
    with pytest.raises(DataError, match="it is a directory"):
        write_file(tmp_path, SCHEMA, [], "parquet")


# -- through SQL and the DataFrame API -------------------------------------------------------------

def test_copy_options(con, tmp_path):
    con.register("t", pa.Table.from_batches([batch(0)]))
    target = tmp_path / "t.txt"
    assert con.sql(f"COPY t TO '{target}' (FORMAT csv, HEADER false, DELIMITER '|')").to_pylist() == [{"count": 3}]
    assert target.read_text().splitlines()[0] == '0||0.00|2024-01-01'
    gz = tmp_path / "t.csv.gz"
    con.sql(f"COPY (SELECT id FROM t) TO '{gz}'")
    assert gzip.decompress(gz.read_bytes()).decode().splitlines() == ['"id"', "0", "1", "2"]
    zstd = tmp_path / "t.parquet"
    con.sql(f"COPY t TO '{zstd}' (COMPRESSION zstd)")
    assert pq.ParquetFile(zstd).metadata.row_group(0).column(0).compression == "ZSTD"


def test_copy_to_tsv_reads_back(con, tmp_path):
    con.register("t", pa.Table.from_batches([batch(0)]))
    target = tmp_path / "t.tsv"
    con.sql(f"COPY t TO '{target}'")
    assert target.read_text().splitlines()[0] == '"id"\t"name"\t"price"\t"day"'
    assert con.sql(f"SELECT count(name) AS n, sum(id) AS s FROM '{target}'").to_pylist() == [{"n": 1, "s": 3}]


def test_copy_refuses_unknown_options_and_copy_from(con, tmp_path):
    con.register("t", pa.Table.from_batches([batch(0)]))
    with pytest.raises(UnsupportedError) as info:
        con.sql(f"COPY t TO '{tmp_path}/x.parquet' (ROW_GROUP_SIZE 100)")
    assert str(info.value).startswith("Not supported: COPY option `ROW_GROUP_SIZE`")
    with pytest.raises(UnsupportedError, match="option `header` for parquet"):
        con.sql(f"COPY t TO '{tmp_path}/x.parquet' (HEADER false)")
    with pytest.raises(UnsupportedError, match="COPY format `xml`"):
        con.sql(f"COPY t TO '{tmp_path}/x.xml' (FORMAT xml)")
    (tmp_path / "in.csv").write_text("id\n1\n")
    with pytest.raises(UnsupportedError, match="COPY ... FROM"):
        con.sql(f"COPY t FROM '{tmp_path}/in.csv'")
    assert (tmp_path / "in.csv").read_text() == "id\n1\n"                # not overwritten
    assert not (tmp_path / "x.parquet").exists()


def test_copy_that_fails_midway_keeps_the_old_file(con, tmp_path):
    con.set_config(batch_rows=2)
    con.register("s", pa.table({"v": ["1", "2", "3", "4", "x", "6"]}))
    target = tmp_path / "out.parquet"
    target.write_bytes(b"old")
    with pytest.raises(DataError, match="x"):           # the cast fails on a later batch, while writing
        con.sql(f"COPY (SELECT CAST(v AS INTEGER) AS n FROM s) TO '{target}'")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.parquet"]


def test_write_parquet_partitioned_replaces_only_the_written_partitions(con, tmp_path):
    root = tmp_path / "sales"
    con.register("s", pa.table({"year": [2023, 2024], "v": [1, 2]}))
    assert con.table("s").write_parquet(root, partition_by="year") == 2
    con.register("s", pa.table({"year": [2024, 2024], "v": [5, 6]}))
    con.table("s").write_parquet(root, partition_by=["year"])
    got = duckdb.sql(f"SELECT year, v FROM read_parquet('{root}/**/*.parquet', hive_partitioning=true) "
                     "ORDER BY v").fetchall()
    assert got == [(2023, 1), (2024, 5), (2024, 6)]
    assert not [p for p in os.listdir(root) if p.startswith(".")] and not [
        p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_write_csv_streams_from_the_session(con, tmp_path, monkeypatch):
    con.register("t", pa.Table.from_batches([batch(0), batch(3)]))
    seen = []
    real = con.run_batches

    def spy(plan):
        for b in real(plan):
            seen.append(b.num_rows)
            yield b
    monkeypatch.setattr(con, "run_batches", spy)
    assert con.table("t").write_csv(tmp_path / "t.csv", delimiter=";") == 6
    assert sum(seen) == 6
    assert (tmp_path / "t.csv").read_text().splitlines()[1] == '0;;0.00;2024-01-01'
