"""Group keys read from Parquet as dictionaries reach a partial aggregation still encoded.

A scan reads low-cardinality string columns as dictionaries; when the aggregation right above
it only groups by such a column, the column is not decoded to strings: the aggregation packs
the dictionary's few values and takes them by the indices (see
``HashAggregateExec._key_columns``). These tests compare with DuckDB on files whose dictionaries
differ from row group to row group, hold NULLs, and mix value lengths (which cannot be packed),
inline and on the worker pool.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry
from quarry.physical.operators import ParquetScanExec
from quarry.testing import assert_tables_equal
from quarry.tpch.engines import duckdb_to_arrow


@pytest.fixture(scope="module")
def dictionary_file(tmp_path_factory):
    rng = np.random.default_rng(7)
    n = 30_000
    flags = np.array(["A", "N", "R", "F"])[rng.integers(0, 4, n)].astype(object)
    flags[rng.random(n) < 0.05] = None
    # row groups see different subsets, so their dictionaries differ in content and order
    flags[: n // 3][flags[: n // 3] == "A"] = "N"
    modes = np.array(["AIR", "MAIL", "SHIP", "REG AIR", "TRUCK"])[rng.integers(0, 5, n)].astype(object)
    modes[rng.random(n) < 0.03] = None
    table = pa.table({
        "flag": pa.array(flags, pa.string()),
        "mode": pa.array(modes, pa.string()),
        "v": pa.array(rng.integers(-1000, 1000, n)),
        "d": pa.array(rng.random(n)),
    })
    path = tmp_path_factory.mktemp("dict") / "t.parquet"
    pq.write_table(table, path, row_group_size=7_000, use_dictionary=True)
    return path


QUERIES = [
    "SELECT flag, count(*) AS n, sum(v) AS s, avg(d) AS a FROM t GROUP BY flag",
    "SELECT flag, mode, count(*) AS n, min(v) AS lo FROM t GROUP BY flag, mode",
    "SELECT mode, sum(v) AS s FROM t WHERE flag = 'R' GROUP BY mode",
    # the key is also an argument: it must be decoded for the aggregate
    "SELECT flag, max(flag) AS m, count(DISTINCT mode) AS k FROM t GROUP BY flag",
    "SELECT lower(flag) AS f, count(*) AS n FROM t GROUP BY lower(flag)",
    "SELECT flag, count(*) AS n FROM t WHERE v > 990 GROUP BY flag",
]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("sql", QUERIES)
def test_grouping_by_dictionary_keys_matches_duckdb(dictionary_file, sql, workers):
    con = quarry.connect(workers=workers)
    try:
        con.register("t", str(dictionary_file))
        got = con.sql(sql).to_arrow()
    finally:
        con.close()
    duck = duckdb.connect()
    duck.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{dictionary_file}')")
    assert_tables_equal(got, duckdb_to_arrow(duck.sql(sql)), ordered=False)


def test_only_plain_group_keys_stay_encoded(dictionary_file):
    con = quarry.connect(workers=0)
    try:
        con.register("t", str(dictionary_file))
        for sql, kept in [(QUERIES[1], {"flag", "mode"}), (QUERIES[3], set()), (QUERIES[4], set())]:
            plan = con.physical_plan(con.optimize(con.sql(sql).logical_plan))
            scans = [n for n in plan.walk() if isinstance(n, ParquetScanExec)]
            assert {k.rsplit("#", 1)[0] for k in scans[0].keep_dictionary_keys} == kept, sql
    finally:
        con.close()
