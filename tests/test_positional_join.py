"""POSITIONAL JOIN under the process pool: positions come from each table's row order (its rowid), so
Parquet files of many row groups, read by several workers, pair their rows as DuckDB pairs them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.errors import UnsupportedError
from quarry.testing import assert_tables_equal


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("positional")
    rng = np.random.default_rng(7)
    left = root / "left"
    left.mkdir()
    for k in range(3):        # three files of many row groups, read in path order
        n = 7000 + 1000 * k
        pq.write_table(pa.table({"a": rng.integers(0, 10**6, n), "s": [f"f{k}r{i}" for i in range(n)]}),
                       left / f"part{k}.parquet", row_group_size=1500)
    right = root / "right.parquet"
    pq.write_table(pa.table({"b": rng.normal(size=20000)}), right, row_group_size=999)
    return str(left / "*.parquet"), str(right)


@pytest.mark.parametrize("workers", [0, 2])
def test_parquet_files_pair_their_rows_as_duckdb_does(files, workers, duckdb_con):
    left, right = files
    sql = (f"SELECT s, a, b FROM '{left}' POSITIONAL JOIN '{right}' "
           "ORDER BY s NULLS LAST, b")
    con = quarry.connect(workers=workers)
    try:
        assert_tables_equal(con.sql(sql).to_arrow(), duckdb_con.sql(sql).to_arrow_table(), ordered=True)
    finally:
        con.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_registered_tables_of_several_chunks(workers, duckdb_con):
    x = pa.Table.from_batches([pa.record_batch({"x": pa.array(range(i * 100, i * 100 + 100))}) for i in range(30)])
    y = pa.Table.from_batches([pa.record_batch({"y": pa.array(range(i * 70, i * 70 + 70))}) for i in range(50)])
    con = quarry.connect(workers=workers)
    try:
        con.register("x", x)
        con.register("y", y)
        duckdb_con.register("x", x)
        duckdb_con.register("y", y)
        sql = "SELECT x, y FROM x POSITIONAL JOIN y ORDER BY coalesce(x, y)"
        got = con.sql(sql).to_arrow()
        assert_tables_equal(got, duckdb_con.sql(sql).to_arrow_table(), ordered=True)
        assert got.column("y").to_pylist()[:3000] == list(range(3000))     # hand check: row i with row i
    finally:
        con.close()


def test_inputs_without_a_kept_order_are_refused():
    con = quarry.connect(workers=0)
    con.register("x", pa.table({"x": [1, 2]}))
    for sql in ("SELECT * FROM (SELECT * FROM x WHERE x > 0) POSITIONAL JOIN x",
                "SELECT * FROM (SELECT x + 1 AS x1 FROM x) POSITIONAL JOIN x",
                "SELECT * FROM x, x AS z POSITIONAL JOIN x AS w"):
        with pytest.raises(UnsupportedError, match="POSITIONAL JOIN whose"):
            con.sql(sql).to_arrow()


def test_a_table_function_keeps_its_order(duckdb_con):
    con = quarry.connect(workers=2)
    try:
        con.register("x", pa.table({"x": [1, 2]}))
        duckdb_con.register("x", pa.table({"x": [1, 2]}))
        sql = "SELECT x, range AS r FROM x POSITIONAL JOIN range(3) ORDER BY r"
        assert_tables_equal(con.sql(sql).to_arrow(), duckdb_con.sql(sql).to_arrow_table(), ordered=True)
    finally:
        con.close()
