"""A hash join keeps its build side's string columns out of Acero's hash table and takes them
by row number for each output batch: every join kind must still give DuckDB's answer, NULLs for
rows without a match included, and a residual filter over a string column must still see it."""

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import quarry


@pytest.fixture(scope="module")
def con():
    rng = np.random.default_rng(11)
    n = 5_000
    words = np.array(["alpha", "beta", "gamma", "", "delta epsilon", "ζήτα"])
    build = pa.table({
        "k": pa.array(rng.integers(0, 3_000, n)),
        "s": pa.array([None if i % 7 == 0 else w for i, w in enumerate(words[rng.integers(0, len(words), n)])]),
        "b": pa.array([w.encode() for w in words[rng.integers(0, len(words), n)]], pa.binary()),
        "v": pa.array(rng.random(n)),
    })
    probe = pa.table({"pk": pa.array(rng.integers(0, 4_000, 4 * n)), "t": pa.array(words[rng.integers(0, len(words), 4 * n)])})
    c = quarry.connect(workers=0)
    c.register("build", build)
    c.register("probe", probe)
    oracle = duckdb.connect()
    oracle.register("build", build)
    oracle.register("probe", probe)
    return c, oracle


@pytest.mark.parametrize("kind", ["INNER", "LEFT", "RIGHT", "FULL"])
def test_string_payload_of_the_build_side_matches_duckdb_for_every_join_kind(con, kind):
    c, oracle = con
    sql = (f"SELECT pk, t, k, s, b, v FROM probe {kind} JOIN build ON pk = k "
           "ORDER BY pk NULLS FIRST, t, k NULLS FIRST, s NULLS FIRST, b NULLS FIRST, v NULLS FIRST")
    ours = c.sql(sql).to_arrow()
    theirs = oracle.sql(sql).fetchall()
    assert ours.num_rows == len(theirs) > 0
    assert [tuple(r.values()) for r in ours.to_pylist()] == theirs


def test_a_residual_filter_over_a_build_string_column_still_sees_it(con):
    c, oracle = con
    sql = ("SELECT count(*), count(s), min(s), max(s) FROM probe JOIN build ON pk = k AND s <> t "
           "AND s LIKE '%a%'")
    ours = tuple(c.sql(sql).to_arrow().to_pylist()[0].values())
    assert ours == oracle.execute(sql).fetchone()
    assert ours[0] > 0
