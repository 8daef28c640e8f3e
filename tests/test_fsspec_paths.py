"""Schemes pyarrow has no filesystem for go through fsspec (here its in-process ``memory://``, whose
queries run in the driver even with worker processes):
globs and hive partitions work as on object stores, answers match DuckDB's over the same rows, and
a scheme nobody knows is refused by name."""

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quarry

fsspec = pytest.importorskip("fsspec")


@pytest.fixture(scope="module")
def events():
    fs = fsspec.filesystem("memory")
    rng = np.random.default_rng(2)
    parts = []
    for day in range(3):
        t = pa.table({"k": pa.array(rng.integers(0, 50, 200)), "s": pa.array(np.array(["a", "b", "c"])[rng.integers(0, 3, 200)])})
        with fs.open(f"/quarry-test/events/day={day}/part-0.parquet", "wb") as f:
            pq.write_table(t, f)
        parts.append(t.append_column("day", pa.array([day] * 200, pa.int64())))
    yield pa.concat_tables(parts)
    fs.rm("/quarry-test", recursive=True)


def test_a_glob_and_hive_partitions_on_an_fsspec_filesystem_match_duckdb(events):
    con = quarry.connect(workers=0)        # memory:// lives in this process only
    con.register("ev", "memory://quarry-test/events/")
    sql = "SELECT day, s, count(*) AS n, sum(k) AS total FROM ev WHERE day >= 1 GROUP BY day, s ORDER BY day, s"
    ours = [tuple(r.values()) for r in con.sql(sql).to_arrow().to_pylist()]
    oracle = duckdb.connect()
    oracle.register("ev", events)
    assert ours == oracle.execute(sql).fetchall()
    assert len(ours) == 6
    globbed = con.sql("SELECT count(*) FROM read_parquet('memory://quarry-test/events/day=2/*.parquet')").to_arrow()
    assert globbed.column(0)[0].as_py() == 200


def test_a_scheme_no_filesystem_knows_is_refused_by_name():
    con = quarry.connect(workers=0)
    with pytest.raises(quarry.QuarryError, match="Not supported: paths with the scheme `nosuchscheme://`"):
        con.sql("SELECT * FROM read_parquet('nosuchscheme://bucket/x.parquet')").to_arrow()


def test_memory_paths_with_worker_processes_are_read_in_the_driver(events):
    # memory:// exists only in this process: worker processes would see an empty filesystem, so a
    # query reading it runs in the driver, with the same answer as at workers=0
    con = quarry.connect(workers=2)
    con.register("ev", "memory://quarry-test/events/")
    sql = "SELECT day, count(*) AS n, sum(k) AS total FROM ev GROUP BY day ORDER BY day"
    oracle = duckdb.connect()
    oracle.register("ev", events)
    assert [tuple(r.values()) for r in con.sql(sql).to_arrow().to_pylist()] == oracle.execute(sql).fetchall()
    joined = "SELECT count(*) AS n FROM ev JOIN (SELECT DISTINCT k FROM ev WHERE day = 0) d USING (k)"
    assert con.sql(joined).to_arrow().column("n")[0].as_py() == oracle.execute(joined).fetchall()[0][0]
    plan = "\n".join(con.sql(f"EXPLAIN ANALYZE {sql}").to_arrow().column(0).to_pylist())
    assert "Stage" not in plan
