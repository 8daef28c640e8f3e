"""Small batches are gathered before they go on: what a selective scan leaves of each row group,
and the pieces a shuffle cuts by partition. Checked on the Coalescer itself (order, sizes) and on
plans whose answers are compared with DuckDB's."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

import quarry
from quarry.execution.stages import ShuffleWriter
from quarry.physical.base import COALESCE_ROWS, Coalescer
from quarry.physical.operators import ParquetScanExec
from quarry.testing import assert_tables_equal, executed_operators

duckdb = pytest.importorskip("duckdb")


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 120), max_size=40), batch_rows=st.integers(2, 100))
def test_gathered_batches_keep_order_and_stay_within_the_batch_size(sizes, batch_rows):
    gather = Coalescer(batch_rows)
    start, out = 0, []
    for n in sizes:
        n = min(n, batch_rows)           # batches reach a coalescer already cut to batch_rows
        out += gather.add(pa.record_batch({"x": np.arange(start, start + n)}))
        start += n
    out += gather.flush()
    values = [v for b in out for v in b.column(0).to_pylist()]
    assert values == list(range(start))
    assert all(b.num_rows <= batch_rows for b in out)
    # a batch smaller than min_rows goes out only last, or just before a batch that is not small
    # (which may not wait behind it): no two small ones in a row
    assert all(a.num_rows >= gather.min_rows or b.num_rows >= gather.min_rows for a, b in zip(out, out[1:]))


def test_bytes_bound_what_is_held():
    gather = Coalescer(1 << 20, max_bytes=1000)
    wide = pa.record_batch({"s": ["x" * 400] * 2})        # 800+ bytes of strings a batch
    assert gather.add(wide) == []
    (out,) = gather.add(wide)                               # past 1000 bytes: let go at once
    assert out.num_rows == 4 and gather.pending == []


@pytest.fixture
def many_row_groups(tmp_path):
    """40 row groups of 1,000 rows; x % 50 = 0 keeps 20 rows of each."""
    path = tmp_path / "t.parquet"
    n = 40_000
    pq.write_table(pa.table({"x": np.arange(n), "y": np.arange(n) * 0.5}), path, row_group_size=1000)
    return str(path)


@pytest.mark.parametrize("where", [dict(workers=0), dict(workers=2)])
def test_a_selective_scan_passes_on_few_large_batches(many_row_groups, where):
    con = quarry.connect(**where)
    con.register("t", many_row_groups)
    sql = "SELECT x, y FROM t WHERE x % 50 = 0"
    result = con.run(con.sql(sql).logical_plan)
    expected = duckdb.sql(f"SELECT x, y FROM '{many_row_groups}' WHERE x % 50 = 0").to_arrow_table()
    assert_tables_equal(result.table, expected, ordered=False)
    scans = [n for n in executed_operators(result.physical) if isinstance(n, ParquetScanExec)]
    assert sum(s.metrics["row_groups"] for s in scans) == 40
    # 800 rows out of 40 row groups: one batch per partition, not one per row group
    assert sum(s.metrics["batches"] for s in scans) <= max(2, where["workers"])


def test_a_shuffle_writes_each_partitions_small_pieces_as_few_batches(tmp_path):
    from quarry.logical.expressions import ColumnRef, Field
    field = Field("k", pa.int64())
    schema = pa.schema([pa.field(field.key, pa.int64())])
    writer = ShuffleWriter(str(tmp_path / "out.arrow"), schema, "hash", [ColumnRef(field)], 4)
    pieces = [pa.record_batch([pa.array(np.arange(i * 500, (i + 1) * 500))], schema=schema) for i in range(30)]
    for b in pieces:
        writer.write(b)
    writer.close()
    with pa.OSFile(writer.path) as f:
        reader = pa.ipc.open_file(f)
        rows = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    assert sum(rows) == 15_000
    # 30 input batches cut 4 ways would be 120 pieces of ~125 rows: each bucket holds one or two batches
    assert all(len(index) <= 2 for index in writer.index) and len(rows) <= 8
    assert 15_000 // 4 < COALESCE_ROWS        # (so each bucket's rows fit in one gathered batch)
