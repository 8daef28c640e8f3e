"""Hash aggregation and hash join over a memory budget several times too small: they spill.

Each query runs with ``memory_limit`` far below its operator state, once in one
partition (``workers=0``) and once in two partitions on threads (``workers=2,
executor="inline"``). The answer must equal DuckDB's, the executed plan must
report ``spill_bytes``, and the spill directory must be empty afterwards. With
the default budget nothing spills and no spill metric appears. ``broadcast_rows=0``
keeps joins partitioned, so the adaptive broadcast (which never spills) is not taken.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import quarry
from quarry.logical.expressions import ColumnRef, Field
from quarry.physical.aggregate import HashAggregateExec
from quarry.physical.base import ExecNode
from quarry.compute.hashing import partition_ids
from quarry.physical.join import HashJoinExec
from quarry.physical.spill import SPILL_FANOUT, SPILL_SEED
from quarry.testing import assert_tables_equal, executed_operators as executed

WORKERS = [pytest.param(0, id="workers0"), pytest.param(2, id="workers2-inline")]


def connect(spill_dir, workers: int, memory_limit="512KB") -> quarry.Session:
    return quarry.connect(workers=workers, executor="inline", memory_limit=memory_limit,
                          spill_dir=str(spill_dir), broadcast_rows=0)


def run(con, sql: str):
    """(table, executed physical plan) of ``sql``."""
    result = con.run(con.sql(sql).logical_plan)
    return result.table, result.physical


def spilled(physical, node_type) -> list:
    """Metrics of the nodes of ``node_type`` that spilled."""
    return [n.metrics for n in executed(physical) if isinstance(n, node_type) and n.metrics.get("spill_bytes")]


def assert_no_spill_left(spill_dir) -> None:
    left = sorted(str(p.relative_to(spill_dir)) for p in spill_dir.rglob("*"))
    assert left == [], f"spill files left behind: {left}"


def check(con, reference, sql: str, node_type, spill_dir, *, spills: bool = True):
    table, physical = run(con, sql)
    expected = reference.sql(sql).to_arrow_table()
    assert_tables_equal(table, expected, ordered=False, check_names=False)
    metrics = spilled(physical, node_type)
    if spills:
        assert metrics, f"no {node_type.__name__} spilled:\n{physical.pretty(analyze=True)}"
        assert all(m["spill_bytes"] > 0 and m["spill_files"] > 0 for m in metrics)
    else:
        assert not metrics
    assert_no_spill_left(spill_dir)
    return physical


@pytest.fixture
def tpch(tpch_sf001, tmp_path):
    """Open a session over lineitem and orders with the given workers and budget."""
    def open_session(workers, memory_limit="512KB"):
        con = connect(tmp_path, workers, memory_limit)
        for name in ("lineitem", "orders"):
            con.register(name, str(tpch_sf001 / f"{name}.parquet"))
        return con
    return open_session


def generated_tables() -> dict[str, pa.Table]:
    """300k probe rows and 100k build rows with NULL keys, int32/int64 and decimal keys of two scales."""
    rng = np.random.default_rng(7)
    n, m = 300_000, 100_000
    k = rng.integers(0, 150_000, n)
    probe = pa.table({
        "k": pa.array(k, mask=rng.random(n) < 0.01),
        "k32": pa.array(k.astype(np.int32)),
        "dk": pa.array(k * 5).cast(pa.decimal128(21, 2)).cast(pa.decimal128(12, 2)),
        "s": pa.array(np.char.add("key-", (k % 40_000).astype(str)), mask=rng.random(n) < 0.02),
        "v": pa.array(rng.integers(0, 1000, n)),
    })
    bk = rng.permutation(m) * 2
    build = pa.table({
        "bk": pa.array(bk, mask=rng.random(m) < 0.01),
        "bdk": pa.array(bk * 5).cast(pa.decimal128(22, 3)).cast(pa.decimal128(14, 3)),
        "w": pa.array(rng.integers(0, 1000, m)),
    })
    return {"probe": probe, "build": build}


@pytest.fixture(scope="module")
def tables():
    return generated_tables()


@pytest.fixture
def generated(tables, tmp_path, duckdb_con):
    """Open a session over the generated tables; DuckDB holds the same ones."""
    for name, t in tables.items():
        duckdb_con.register(name, t)

    def open_session(workers, memory_limit="512KB"):
        con = connect(tmp_path, workers, memory_limit)
        for name, t in tables.items():
            con.register(name, t)
        return con
    return open_session


# -- aggregation -------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
def test_group_by_many_groups_spills(tpch, duckdb_tpch, tmp_path, workers):
    sql = """SELECT l_orderkey, l_partkey, count(*) AS n, sum(l_quantity) AS q, avg(l_extendedprice) AS p,
                    min(l_shipdate) AS first_ship
             FROM lineitem GROUP BY l_orderkey, l_partkey"""
    check(tpch(workers), duckdb_tpch, sql, HashAggregateExec, tmp_path)


@pytest.mark.parametrize("workers", WORKERS)
def test_single_phase_aggregate_spills(generated, duckdb_con, tmp_path, workers):
    # DISTINCT aggregates run in one phase ("single") over raw rows; NULL keys are one group
    sql = """SELECT s, count(DISTINCT v) AS dv, count(*) AS n, sum(v) AS sv, stddev_samp(v) AS sd
             FROM probe GROUP BY s"""
    check(generated(workers), duckdb_con, sql, HashAggregateExec, tmp_path)


@pytest.mark.parametrize("workers", WORKERS)
def test_spill_files_too_big_for_the_budget_are_split_again(generated, duckdb_con, tmp_path, workers):
    sql = "SELECT k, count(*) AS n, sum(v) AS sv FROM probe GROUP BY k"
    physical = check(generated(workers, memory_limit="16KB"), duckdb_con, sql, HashAggregateExec, tmp_path)
    # 16 files per spill: more than 16 per partition means files were split again
    assert max(m["spill_files"] for m in spilled(physical, HashAggregateExec)) > 16 * max(workers, 1)


@pytest.mark.parametrize("workers", WORKERS)
def test_keyless_and_grouping_sets_do_not_spill_but_are_right(generated, duckdb_con, tmp_path, workers):
    con = generated(workers, memory_limit="64KB")
    check(con, duckdb_con, "SELECT count(*) AS n, sum(v) AS sv, count(DISTINCT s) AS ds FROM probe",
          HashAggregateExec, tmp_path, spills=False)
    check(con, duckdb_con, "SELECT k32 % 7 AS a, s IS NULL AS b, sum(v) AS sv FROM probe GROUP BY ROLLUP (a, b)",
          HashAggregateExec, tmp_path, spills=False)


@pytest.mark.parametrize("memory_limit", ["1KB", "512MB"])
@pytest.mark.parametrize("workers", WORKERS)
def test_keyless_partial_over_many_small_batches(generated, duckdb_con, tmp_path, workers, memory_limit):
    """A selective filter leaves batches of a few rows: the keyless partial aggregation takes them
    KEYLESS_ROWS at a time while the budget holds them, one at a time when it cannot."""
    con = generated(workers, memory_limit=memory_limit)
    con.sql("SET batch_rows = 1000")
    check(con, duckdb_con, "SELECT count(*) AS n, sum(v) AS sv, min(dk) AS lo, avg(k) AS a FROM probe "
          "WHERE v % 97 = 3", HashAggregateExec, tmp_path, spills=False)
    # no column reaches the aggregation, only row counts: batches without columns keep their rows
    check(con, duckdb_con, "SELECT count(*) AS n FROM probe WHERE v % 97 = 3", HashAggregateExec, tmp_path,
          spills=False)


# -- join --------------------------------------------------------------------------------------

JOINS = {
    "inner": """SELECT l_orderkey, l_linenumber, o_orderdate, o_totalprice
                FROM lineitem JOIN orders ON l_orderkey = o_orderkey""",
    "left": """SELECT o_orderkey, o_orderstatus, l_linenumber, l_quantity
               FROM orders LEFT JOIN lineitem ON o_orderkey = l_orderkey AND l_quantity > 45""",
    "anti": """SELECT o_orderkey, o_totalprice FROM orders
               WHERE NOT EXISTS (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey AND l_quantity > 45)""",
    "semi": """SELECT o_orderkey, o_totalprice FROM orders
               WHERE EXISTS (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey AND l_discount > 0.09)""",
}


@pytest.mark.parametrize("kind", list(JOINS))
@pytest.mark.parametrize("workers", WORKERS)
def test_tpch_join_spills(tpch, duckdb_tpch, tmp_path, workers, kind):
    # a join holds only its build side (the probe side streams), here lineitem's 6k rows with
    # l_quantity > 45 (48 KB) for anti: a budget of 16 KB is several times too small for every kind
    check(tpch(workers, memory_limit="16KB"), duckdb_tpch, JOINS[kind], HashJoinExec, tmp_path)


GENERATED_JOINS = {
    # NULL keys on both sides: unmatched on both sides of a full join
    "full": "SELECT k, v, bk, w FROM probe FULL JOIN build ON k = bk",
    # int32 = int64 keys, with a residual
    "int32_int64": "SELECT k32, v, bk, w FROM probe JOIN build ON k32 = bk AND v < w",
    # decimal(12,2) = decimal(14,3): equal values must land in the same spill file
    "decimal_scales": "SELECT dk, v, bdk, w FROM probe LEFT JOIN build ON dk = bdk",
    "right": "SELECT k, v, bk, w FROM probe RIGHT JOIN build ON k = bk AND v > 500",
}


@pytest.mark.parametrize("kind", list(GENERATED_JOINS))
@pytest.mark.parametrize("workers", WORKERS)
def test_generated_join_spills(generated, duckdb_con, tmp_path, workers, kind):
    check(generated(workers), duckdb_con, GENERATED_JOINS[kind], HashJoinExec, tmp_path)


@pytest.mark.parametrize("workers", WORKERS)
def test_not_in_stays_in_memory(generated, duckdb_con, tmp_path, workers):
    # a null-aware anti join needs the whole subquery at once (is there a NULL?); the other
    # operators of the query may still spill
    for sql in ("SELECT k, v FROM probe WHERE k NOT IN (SELECT bk FROM build WHERE w < 500 AND bk IS NOT NULL)",
                "SELECT k, v FROM probe WHERE k NOT IN (SELECT bk FROM build WHERE w < 500)"):   # has a NULL
        physical = check(generated(workers), duckdb_con, sql, HashJoinExec, tmp_path, spills=False)
        assert any(isinstance(n, HashJoinExec) and n.null_aware for n in physical.walk())


@pytest.mark.parametrize("workers", WORKERS)
def test_join_then_aggregate_spill_together(tpch, duckdb_tpch, tmp_path, workers):
    sql = """SELECT o_orderkey, o_custkey, count(*) AS n, sum(l_extendedprice * (1 - l_discount)) AS revenue
             FROM orders JOIN lineitem ON o_orderkey = l_orderkey GROUP BY o_orderkey, o_custkey"""
    con = tpch(workers, memory_limit="128KB")
    physical = check(con, duckdb_tpch, sql, HashJoinExec, tmp_path)
    assert spilled(physical, HashAggregateExec)


class _Rows(ExecNode):
    """A leaf yielding one table, for building join plans by hand."""

    def __init__(self, table: pa.Table, fields):
        super().__init__([], fields, 1)
        self.table = table

    def _execute(self, partition, ctx):
        yield from self.table.to_batches()


@pytest.mark.parametrize("left_type, right_type", [
    (pa.int32(), pa.int64()), (pa.decimal128(12, 2), pa.decimal128(14, 3)), (pa.int64(), pa.decimal128(20, 1)),
    (pa.dictionary(pa.int32(), pa.string()), pa.string()),
])
def test_equal_keys_of_different_types_go_to_the_same_spill_file(left_type, right_type):
    # the analyzer casts join keys to one type; should raw keys of two types reach a join,
    # equal values must still hash to the same spill file on both sides
    values = pa.array(np.arange(-500, 500, 7, dtype=np.int32))
    if pa.types.is_dictionary(left_type):
        values = values.cast(pa.string())
    lf, rf = Field("a", left_type), Field("b", right_type)
    left = pa.table({lf.key: values.cast(left_type)})
    right = pa.table({rf.key: values.cast(right_type)})
    join = HashJoinExec(_Rows(left, [lf]), _Rows(right, [rf]), "inner", [ColumnRef(lf)], [ColumnRef(rf)],
                        None, False, False, "partitioned")
    lids = partition_ids(join._spill_keys(0, left.to_batches()[0]), SPILL_FANOUT, SPILL_SEED)
    rids = partition_ids(join._spill_keys(1, right.to_batches()[0]), SPILL_FANOUT, SPILL_SEED)
    assert lids.tolist() == rids.tolist()
    assert len(set(lids.tolist())) > 1


# -- under the budget ----------------------------------------------------------------------------

@pytest.mark.parametrize("workers", WORKERS)
def test_default_budget_does_not_spill(tpch, duckdb_tpch, tmp_path, workers):
    con = tpch(workers, memory_limit=None)
    for sql in (JOINS["inner"], JOINS["left"],
                "SELECT l_orderkey, l_partkey, count(*) AS n FROM lineitem GROUP BY l_orderkey, l_partkey"):
        physical = check(con, duckdb_tpch, sql, (HashJoinExec, HashAggregateExec), tmp_path, spills=False)
        text = physical.pretty(analyze=True)
        assert "spill" not in text and "early_emits" not in text


def test_explain_analyze_reports_spill_bytes(tpch, tmp_path):
    con = tpch(0)
    text = con.sql("SELECT l_orderkey, l_partkey, count(*) AS n FROM lineitem GROUP BY l_orderkey, l_partkey") \
        .explain_string("analyze")
    line = next(x for x in text.splitlines() if "HashAggregate(final)" in x)
    assert "spill_bytes=" in line and "spill_files=" in line
    assert_no_spill_left(tmp_path)


# -- memory follows operator state -------------------------------------------------------------

def _peaks(physical, node_type) -> list[int]:
    return [n.metrics.get("peak_reserved_bytes", 0) for n in executed(physical) if isinstance(n, node_type)]


@pytest.mark.parametrize("executor", ["inline", "processes"])
def test_aggregation_over_50_times_its_budget_with_few_groups_never_spills(tpch_sf001, duckdb_tpch, tmp_path,
                                                                           executor):
    # 60k lineitem rows of five columns, ~2 MB as Arrow: fifty times a 40 KB budget. The groups are
    # four, so the state is four rows per aggregation whatever the input: it must fit without spilling.
    budget = 40 * 1024
    con = quarry.connect(workers=2, executor=executor, memory_limit=budget, spill_dir=str(tmp_path))
    con.register("lineitem", str(tpch_sf001 / "lineitem.parquet"))
    sql = """SELECT l_returnflag, l_linestatus, sum(l_quantity) AS q, sum(l_extendedprice * (1 - l_discount)) AS r,
                    avg(l_discount) AS d, count(*) AS n
             FROM lineitem GROUP BY l_returnflag, l_linestatus"""
    input_bytes = con.sql("SELECT l_returnflag, l_linestatus, l_quantity, l_extendedprice, l_discount "
                          "FROM lineitem").to_arrow().nbytes
    assert input_bytes > 50 * budget
    physical = check(con, duckdb_tpch, sql, HashAggregateExec, tmp_path, spills=False)
    peaks = _peaks(physical, HashAggregateExec)
    assert peaks and all(0 < p <= budget for p in peaks), peaks
    assert not any(n.metrics.get("early_emits") for n in executed(physical))


@pytest.mark.parametrize("executor", ["inline", "processes"])
def test_join_holds_its_build_side_and_streams_the_probe_side(tpch_sf001, duckdb_tpch, tmp_path, executor):
    # the probe side (all of lineitem) is many times the budget; the build side (parts of size 1)
    # fits: nothing spills and the join never holds more than its build side
    budget = 64 * 1024
    con = quarry.connect(workers=2, executor=executor, memory_limit=budget, spill_dir=str(tmp_path),
                         broadcast_rows=0)
    for name in ("lineitem", "part"):
        con.register(name, str(tpch_sf001 / f"{name}.parquet"))
    sql = """SELECT l_orderkey, l_linenumber, l_extendedprice, p_name
             FROM lineitem JOIN part ON l_partkey = p_partkey WHERE p_size = 1"""
    probe_bytes = con.sql("SELECT l_orderkey, l_linenumber, l_extendedprice, l_partkey FROM lineitem") \
        .to_arrow().nbytes
    assert probe_bytes > 20 * budget
    physical = check(con, duckdb_tpch, sql, HashJoinExec, tmp_path, spills=False)
    peaks = _peaks(physical, HashJoinExec)
    assert peaks and all(0 < p <= budget for p in peaks), peaks


@pytest.mark.parametrize("workers", WORKERS)
def test_keyless_count_of_a_scan_with_no_output_column(tables, tmp_path, workers):
    """count(*) over a filtered Parquet scan: the scan's batches carry row counts and no column, and
    the keyless partial aggregation takes many of them at once without losing their rows."""
    import duckdb
    import pyarrow.parquet as pq
    path = tmp_path / "probe.parquet"
    pq.write_table(tables["probe"], path, row_group_size=1000)
    sql = f"SELECT count(*) AS n FROM '{path}' WHERE v % 97 = 3"
    con = quarry.connect(workers=workers, executor="inline")
    try:
        got = con.sql(sql).to_arrow()
    finally:
        con.close()
    assert_tables_equal(got, duckdb.sql(sql).to_arrow_table(), ordered=False)
