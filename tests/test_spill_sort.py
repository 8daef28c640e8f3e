"""External sort, top-k and the k-way merge of sorted partitions, checked against DuckDB.

Sessions here get a memory budget (``memory_limit``) several times smaller than
the rows being sorted and small batches, so ``SortExec`` writes sorted runs to
spill files and merges them; every ORDER BY ends with a unique column, so the
answer is compared with DuckDB's in order. The spill directory must hold no file
afterwards. ``merge_sorted`` itself is checked against a plain sort on random
small tables split into random runs.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quarry
from quarry.logical.expressions import ColumnRef, Field, SortKey
from quarry.physical import operators
from quarry.physical.base import ExecConfig, ExecContext, ExecNode
from quarry.physical.merge import merge_sorted, sort_key_table
from quarry.physical.operators import MergeSortedExec, SortExec, sort_indices
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")

MEMORY = "256KB"      # the lineitem columns sorted below take a few MB
BATCH_ROWS = 4096


def connect(spill_dir, partitions: int = 0, **settings) -> quarry.Session:
    """A session whose sorts spill: ``partitions=0`` runs one partition, else ``partitions`` on threads."""
    where = {"workers": 0} if partitions == 0 else {"executor": "inline", "workers": partitions}
    settings.setdefault("memory_limit", MEMORY)
    settings.setdefault("batch_rows", BATCH_ROWS)
    return quarry.connect(spill_dir=str(spill_dir), **where, **settings)


def run(con, sql: str):
    """Run ``sql``; the QueryResult has the table and the executed physical plan (with metrics)."""
    return con.run(con.sql(sql).logical_plan)


def spill_metrics(result) -> tuple[int, int]:
    """(spill files, spill bytes) over every operator of an executed plan."""
    nodes = list(result.physical.walk())
    return (sum(int(n.metrics.get("spill_files", 0)) for n in nodes),
            sum(int(n.metrics.get("spill_bytes", 0)) for n in nodes))


def files_left(path) -> list[str]:
    return [os.path.join(root, f) for root, _, files in os.walk(path) for f in files]


@pytest.fixture(scope="module")
def lineitem_path(tpch_sf001, tmp_path_factory):
    """lineitem rewritten with small row groups, so that a scan can have several partitions."""
    path = tmp_path_factory.mktemp("lineitem") / "lineitem.parquet"
    pq.write_table(pq.read_table(tpch_sf001 / "lineitem.parquet"), path, row_group_size=8000)
    return str(path)


LINEITEM_ORDERS = [
    # a string key DESC, a decimal key, then the unique (l_orderkey, l_linenumber)
    "SELECT l_orderkey, l_linenumber, l_shipmode, l_extendedprice FROM lineitem "
    "ORDER BY l_shipmode DESC NULLS LAST, l_extendedprice ASC NULLS FIRST, l_orderkey, l_linenumber",
    # a long string key
    "SELECT l_comment, l_orderkey, l_linenumber FROM lineitem ORDER BY l_comment, l_orderkey, l_linenumber",
    # a date key and an expression key that is not an output column
    "SELECT l_orderkey, l_linenumber, l_shipdate FROM lineitem "
    "ORDER BY l_shipdate DESC, l_quantity * l_extendedprice, l_orderkey DESC, l_linenumber DESC",
    # every column out, a key NULLS FIRST
    "SELECT * FROM lineitem ORDER BY l_discount NULLS FIRST, l_returnflag DESC NULLS FIRST, l_orderkey, l_linenumber",
]


@pytest.mark.parametrize("partitions", [0, 4])
@pytest.mark.parametrize("sql", LINEITEM_ORDERS)
def test_order_by_spills_and_matches_duckdb(sql, partitions, lineitem_path, duckdb_tpch, tmp_path):
    con = connect(tmp_path, partitions)
    con.register("lineitem", lineitem_path)
    result = run(con, sql)
    assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=True)
    files, nbytes = spill_metrics(result)
    assert files > 1 and nbytes > 0
    assert files_left(tmp_path) == []


def test_without_pressure_nothing_spills(lineitem_path, duckdb_tpch, tmp_path):
    sql = LINEITEM_ORDERS[0]
    con = connect(tmp_path, 4, memory_limit="1GB")
    con.register("lineitem", lineitem_path)
    result = run(con, sql)
    assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=True)
    assert spill_metrics(result) == (0, 0)
    # no spill counters at all: EXPLAIN ANALYZE prints what it printed before spilling existed
    assert "spill" not in result.physical.pretty(analyze=True)


def float_table(n: int = 30_000, seed: int = 7) -> pa.Table:
    """Floats with NaN, NULL and infinities, ints and strings with NULLs, and a unique id."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n).round(2)
    f[rng.random(n) < 0.05] = np.nan
    f[rng.random(n) < 0.01] = np.inf
    f[rng.random(n) < 0.01] = -np.inf
    g = rng.integers(0, 20, n)
    s = np.array([f"s{v:03d}" for v in rng.integers(0, 300, n)], dtype=object)
    return pa.table({
        "id": np.arange(n),
        "f": pa.array(f, mask=rng.random(n) < 0.05),
        "g": pa.array(g, mask=rng.random(n) < 0.1),
        "s": pa.array(s, mask=rng.random(n) < 0.1),
    })


FLOAT_ORDERS = [
    "ORDER BY f ASC NULLS FIRST, id",
    "ORDER BY f ASC NULLS LAST, id",
    "ORDER BY f DESC NULLS FIRST, id",
    "ORDER BY f DESC NULLS LAST, id DESC",
    "ORDER BY g NULLS FIRST, f DESC NULLS LAST, s DESC NULLS FIRST, id",
    "ORDER BY s NULLS LAST, f * 2 NULLS FIRST, id",
]


@pytest.mark.parametrize("partitions", [0, 3])
@pytest.mark.parametrize("order", FLOAT_ORDERS)
def test_nan_and_null_keys_spill_and_match_duckdb(order, partitions, duckdb_con, tmp_path):
    table = float_table()
    duckdb_con.register("t", table)
    con = connect(tmp_path / "spill", partitions, memory_limit="64KB")
    con.register("t", table)
    sql = f"SELECT id, f, g, s FROM t {order}"
    result = run(con, sql)
    assert_tables_equal(result.table, duckdb_con.sql(sql).to_arrow_table(), ordered=True)
    assert spill_metrics(result)[1] > 0
    assert files_left(tmp_path / "spill") == []


@pytest.mark.parametrize("partitions", [0, 2, 4])
@pytest.mark.parametrize("limit, offset", [(10, 0), (100, 50), (30_000, 7)])
def test_top_k_with_limit_and_offset(limit, offset, partitions, lineitem_path, duckdb_tpch, tmp_path):
    sql = (f"SELECT l_orderkey, l_linenumber, l_extendedprice FROM lineitem "
           f"ORDER BY l_extendedprice DESC, l_orderkey, l_linenumber LIMIT {limit} OFFSET {offset}")
    con = connect(tmp_path, partitions)
    con.register("lineitem", lineitem_path)
    result = run(con, sql)
    assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=True)
    assert f"fetch={limit + offset}" in result.physical.pretty()
    if limit + offset > 10_000:
        # k rows do not fit the budget: the top-k spills runs of at most k rows and merges them
        assert spill_metrics(result)[1] > 0
    else:
        # k rows take less than a batch: kept (over the budget if need be), never spilled
        assert spill_metrics(result) == (0, 0)
    assert files_left(tmp_path) == []


def test_top_k_holds_about_k_rows(lineitem_path, tmp_path):
    """A small top-k over all of lineitem keeps its buffer near max(k, batch) rows: no spill, little memory."""
    con = connect(tmp_path, 0, memory_limit="1GB")
    con.register("lineitem", lineitem_path)
    df = con.sql("SELECT * FROM lineitem ORDER BY l_extendedprice DESC, l_orderkey, l_linenumber LIMIT 5")
    physical = con.physical_plan(con.optimize(df.logical_plan))
    ctx = ExecContext(con.exec_config())
    rows = sum(b.num_rows for b in physical.execute(0, ctx))
    assert rows == 5
    whole = pq.read_table(lineitem_path)
    # compaction at 2 * max(k, batch_rows) rows: the peak stays far below the whole input
    assert ctx.memory.peak < whole.nbytes / 4
    assert ctx.memory.used == 0 and ctx.memory.spill_files == 0


@pytest.mark.parametrize("partitions", [2, 4])
def test_parallel_sort_plan_merges_sorted_partitions(partitions, lineitem_path, duckdb_tpch, tmp_path):
    con = connect(tmp_path, partitions, memory_limit="1GB")
    con.register("lineitem", lineitem_path)
    sql = "SELECT l_orderkey, l_linenumber, l_tax FROM lineitem ORDER BY l_tax DESC, l_orderkey, l_linenumber"
    result = run(con, sql)
    root = result.physical
    assert isinstance(root, MergeSortedExec) and root.partitions == 1 and root.fetch is None
    sort = root.children[0]
    assert isinstance(sort, SortExec) and sort.partitions == partitions
    assert root.pretty().splitlines()[:2] == [
        "MergeSorted: lineitem.l_tax DESC NULLS LAST, lineitem.l_orderkey ASC NULLS LAST, "
        "lineitem.l_linenumber ASC NULLS LAST",
        f"  Sort: lineitem.l_tax DESC NULLS LAST, lineitem.l_orderkey ASC NULLS LAST, "
        f"lineitem.l_linenumber ASC NULLS LAST [partitions={partitions}]",
    ]
    assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=True)
    top = run(con, sql + " LIMIT 7")
    lines = [line.strip() for line in top.physical.pretty().splitlines()]
    merge = next(i for i, line in enumerate(lines) if line.startswith("MergeSorted: "))
    assert lines[merge].endswith(" fetch=7")
    assert lines[merge + 1].startswith("TopK: ") and lines[merge + 1].endswith(f"fetch=7 [partitions={partitions}]")
    assert_tables_equal(top.table, duckdb_tpch.sql(sql + " LIMIT 7").to_arrow_table(), ordered=True)


def test_many_runs_are_merged_in_passes(lineitem_path, duckdb_tpch, tmp_path, monkeypatch):
    """More runs than the merge fan-in: groups of runs are merged into longer runs first."""
    monkeypatch.setattr(operators, "MERGE_FAN_IN", 3)
    sql = LINEITEM_ORDERS[0]
    con = connect(tmp_path, 0, memory_limit="64KB")
    con.register("lineitem", lineitem_path)
    result = run(con, sql)
    assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=True)
    assert spill_metrics(result)[0] > 10
    assert files_left(tmp_path) == []


def test_spill_files_removed_when_the_consumer_stops_early(lineitem_path, tmp_path):
    """A LIMIT that is not pushed into the sort stops reading it half way; its runs are deleted."""
    con = connect(tmp_path, 0, disabled_rules=["push_down_limit"])
    con.register("lineitem", lineitem_path)
    df = con.sql("SELECT l_orderkey, l_linenumber FROM lineitem ORDER BY l_orderkey DESC, l_linenumber LIMIT 3")
    physical = con.physical_plan(con.optimize(df.logical_plan))
    assert "TopK" not in physical.pretty()
    ctx = ExecContext(con.exec_config())
    out = pa.Table.from_batches(list(physical.execute(0, ctx)))
    assert out.column(0).to_pylist() == [60000] * 3
    sort = next(n for n in physical.walk() if isinstance(n, SortExec))
    assert sort.metrics["spill_files"] > 1
    assert files_left(tmp_path) == []
    assert ctx.memory.used == 0


# ------------------------------------------------------------------ MergeSortedExec on its own


class PartitionsExec(ExecNode):
    """Given batches per partition (what a distributed reader of sorted task outputs provides)."""

    name = "Partitions"

    def __init__(self, parts: list[list[pa.RecordBatch]], fields):
        super().__init__([], fields, len(parts))
        self.parts = parts

    def _execute(self, partition, ctx):
        yield from self.parts[partition]


def sorted_partitions(table: pa.Table, keys, n: int, batch_rows: int) -> list[list[pa.RecordBatch]]:
    """``table`` dealt round-robin into ``n`` partitions, each sorted by ``keys``, in batches."""
    ids = np.arange(table.num_rows) % n
    parts = []
    for i in range(n):
        part = table.filter(pa.array(ids == i))
        parts.append(part.take(sort_indices(part, keys)).to_batches(max_chunksize=batch_rows))
    return parts


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("fetch", [None, 0, 1, 333, 10_000])
def test_merge_sorted_exec(n, fetch):
    table = float_table(5000, seed=n)
    fields = [Field(name, table.schema.field(name).type, id=i + 1) for i, name in enumerate(table.column_names)]
    table = table.rename_columns([f.key for f in fields])
    by = {f.name: f for f in fields}
    keys = (SortKey(ColumnRef(by["g"]), True, True), SortKey(ColumnRef(by["f"]), False, False),
            SortKey(ColumnRef(by["id"]), True, False))
    child = PartitionsExec(sorted_partitions(table, keys, n, 300), fields)
    node = MergeSortedExec(child, keys, fetch)
    assert node.partitions == 1 and node.children[0] is child and node.keys == keys and node.fetch == fetch
    assert node.describe() == "MergeSorted: g ASC NULLS FIRST, f DESC NULLS LAST, id ASC NULLS LAST" + \
        ("" if fetch is None else f" fetch={fetch}")
    ctx = ExecContext(ExecConfig(batch_rows=1000))
    batches = list(node.execute(0, ctx))
    out = pa.Table.from_batches(batches, schema=node.schema) if batches else node.schema.empty_table()
    expected = table.take(sort_indices(table, keys))
    if fetch is not None:
        expected = expected.slice(0, fetch)
    assert_tables_equal(out, expected, ordered=True)
    assert all(b.num_rows <= 1000 for b in batches)


# ------------------------------------------------------------------ merge_sorted against a plain sort


def _canonical(value):
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def key_rows(table: pa.Table, keys) -> list[tuple]:
    """The sort keys of every row, as comparable tuples (NaN made equal to itself)."""
    key_table, _ = sort_key_table(table, keys)
    return [tuple(_canonical(v) for v in row.values()) for row in key_table.to_pylist()]


@st.composite
def merge_cases(draw):
    n = draw(st.integers(0, 60))
    ints = draw(st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=n, max_size=n))
    floats = draw(st.lists(st.one_of(st.none(), st.sampled_from([float("nan"), float("inf"), -1.5, 0.0, 2.0])),
                           min_size=n, max_size=n))
    strings = draw(st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "ab", "b"])), min_size=n, max_size=n))
    fields = [Field("i", pa.int64(), id=1), Field("f", pa.float64(), id=2), Field("s", pa.string(), id=3),
              Field("id", pa.int64(), id=4)]
    table = pa.table({"i#1": pa.array(ints, pa.int64()), "f#2": pa.array(floats, pa.float64()),
                      "s#3": pa.array(strings, pa.string()), "id#4": pa.array(range(n), pa.int64())})
    chosen = draw(st.lists(st.sampled_from(fields[:3]), min_size=1, max_size=3, unique=True))
    keys = tuple(SortKey(ColumnRef(f), draw(st.booleans()), draw(st.booleans())) for f in chosen)
    runs = draw(st.integers(1, 5))
    assignment = draw(st.lists(st.integers(0, runs - 1), min_size=n, max_size=n))
    batch_rows = draw(st.integers(1, 8))
    fetch = draw(st.one_of(st.none(), st.integers(0, n + 2)))
    return table, keys, np.array(assignment, dtype=np.int64), runs, batch_rows, fetch


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=merge_cases())
def test_merge_sorted_matches_a_plain_sort(case):
    table, keys, assignment, runs, batch_rows, fetch = case
    inputs = []
    for r in range(runs):
        part = table.filter(pa.array(assignment == r)) if table.num_rows else table
        part = part.take(sort_indices(part, keys))
        inputs.append(part.to_batches(max_chunksize=batch_rows))
    batches = list(merge_sorted(inputs, keys, table.schema, batch_rows, fetch))
    out = pa.Table.from_batches(batches, schema=table.schema)
    expected = table.take(sort_indices(table, keys))
    if fetch is not None:
        expected = expected.slice(0, fetch)
    assert out.num_rows == expected.num_rows
    # in key order (ties may come in any order, so only the keys are compared row by row) ...
    assert key_rows(out, keys) == key_rows(expected, keys)
    # ... and each input row at most once (all of them without fetch)
    ids = out.column("id#4").to_pylist()
    assert len(set(ids)) == len(ids)
    if fetch is None:
        assert sorted(ids) == list(range(table.num_rows))
    assert all(0 < b.num_rows <= batch_rows for b in batches)
