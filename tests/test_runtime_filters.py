"""Join filters made from a hash join's build side at run time and applied in the probe side's scan.

Every answer is checked against DuckDB; the metrics say whether the probe scan filtered rows
(``rows_runtime_filtered``) or skipped row groups, so a filter that silently stopped working, or
one applied where it would change the answer, fails here.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import quarry
from quarry.physical.operators import ParquetScanExec
from quarry.physical.runtime_filter import JoinFilter, KeyCollector
from quarry.testing import assert_tables_equal, executed_operators as executed
from quarry.tpch import load_query, register_tables

EXECUTORS = [pytest.param(dict(workers=0), id="workers0"),
             pytest.param(dict(workers=2, executor="inline"), id="inline2"),
             pytest.param(dict(workers=2), id="processes2")]


def scans_of(physical, table: str) -> list[ParquetScanExec]:
    return [n for n in executed(physical) if isinstance(n, ParquetScanExec) and n.provider.name == table]


def run(con, duckdb_tpch, sql: str):
    result = con.run(con.sql(sql).logical_plan)
    assert_tables_equal(result.table, duckdb_tpch.sql(sql).to_arrow_table(), ordered=False, check_names=False)
    return result.physical


def filtered(scans) -> int:
    return sum(int(s.metrics.get("rows_runtime_filtered", 0)) for s in scans)


# parts of one brand: a few dozen of 2000, so most lineitem rows cannot join
BRAND = """SELECT l_orderkey, l_quantity, p_name FROM lineitem JOIN part ON l_partkey = p_partkey
           WHERE p_brand = 'Brand#23' AND p_size < 20"""


@pytest.mark.parametrize("settings", EXECUTORS)
def test_probe_scan_drops_rows_the_build_side_cannot_match(tpch_sf001, duckdb_tpch, settings):
    con = register_tables(quarry.connect(**settings), tpch_sf001)
    physical = run(con, duckdb_tpch, BRAND)
    lineitem = scans_of(physical, "lineitem")
    assert lineitem and all(s.runtime_filters for s in lineitem)
    assert filtered(lineitem) > 50_000          # of 60,175 rows, all but a few hundred go


@pytest.mark.parametrize("settings", EXECUTORS)
def test_switched_off_gives_the_same_answer_without_filtering(tpch_sf001, duckdb_tpch, settings):
    con = register_tables(quarry.connect(**settings, runtime_filters=False), tpch_sf001)
    physical = run(con, duckdb_tpch, BRAND)
    assert filtered(scans_of(physical, "lineitem")) == 0
    assert not any(s.runtime_filters for s in scans_of(physical, "lineitem"))


@pytest.mark.parametrize("settings", EXECUTORS)
def test_tpch_q17_filters_through_the_subquerys_aggregation(tpch_sf001, duckdb_tpch, settings):
    # Q17's correlated average becomes an aggregation of lineitem by l_partkey joined to the parts:
    # dropping lineitem rows of other parts drops whole groups the join would drop anyway
    sql = """SELECT sum(l_extendedprice) / 7.0 AS avg_yearly FROM lineitem, part
             WHERE p_partkey = l_partkey AND p_brand = 'Brand#12' AND p_container = 'SM PKG'
               AND l_quantity < (SELECT 0.2 * avg(l_quantity) FROM lineitem WHERE l_partkey = p_partkey)"""
    con = register_tables(quarry.connect(**settings), tpch_sf001)
    physical = run(con, duckdb_tpch, sql)
    lineitem = scans_of(physical, "lineitem")
    assert len(lineitem) == 2 and all(s.runtime_filters for s in lineitem)
    assert all(s.metrics.get("rows_runtime_filtered", 0) + s.metrics.get("bytes_skipped", 0) > 0
               for s in lineitem)


@pytest.mark.parametrize("sql", [
    # lineitem is the preserved side: its rows without a part must still come out
    """SELECT l_orderkey, l_linenumber, p_name FROM lineitem LEFT JOIN part
       ON l_partkey = p_partkey AND p_size = 1""",
    # NOT EXISTS keeps exactly the orders without a match
    """SELECT o_orderkey FROM orders WHERE NOT EXISTS
       (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey AND l_quantity > 49)""",
])
@pytest.mark.parametrize("settings", EXECUTORS)
def test_no_filter_where_unmatched_rows_are_emitted(tpch_sf001, duckdb_tpch, settings, sql):
    con = register_tables(quarry.connect(**settings), tpch_sf001)
    physical = run(con, duckdb_tpch, sql)
    preserved = "lineitem" if "LEFT JOIN" in sql else "orders"
    assert not any(s.runtime_filters for s in scans_of(physical, preserved))


@pytest.mark.parametrize("settings", EXECUTORS)
def test_an_empty_build_side_skips_every_probe_row_group(tpch_sf001, duckdb_tpch, settings):
    sql = """SELECT l_orderkey FROM lineitem JOIN part ON l_partkey = p_partkey WHERE p_size > 1000"""
    con = register_tables(quarry.connect(**settings), tpch_sf001)
    physical = run(con, duckdb_tpch, sql)
    lineitem = scans_of(physical, "lineitem")
    assert lineitem and sum(s.metrics["row_groups_skipped"] for s in lineitem) == \
        sum(s.metrics["row_groups"] for s in lineitem) > 0


def test_no_filter_from_a_whole_table_unless_a_filter_reaches_it(tpch_sf001, duckdb_tpch):
    con = register_tables(quarry.connect(workers=2), tpch_sf001)
    # Q13: every order's customer exists; a filter from all customers would drop nothing
    physical = run(con, duckdb_tpch, load_query(13))
    assert not any(s.runtime_filters for s in scans_of(physical, "orders"))
    # Q5: nation is read whole, but region's filter reaches it, so nation filters supplier in turn
    physical = run(con, duckdb_tpch, load_query(5))
    assert all(s.runtime_filters for s in scans_of(physical, "nation"))
    supplier = scans_of(physical, "supplier")
    assert supplier and all(s.runtime_filters for s in supplier) and filtered(supplier) > 0


def test_the_filter_shows_in_explain(tpch_sf001):
    con = register_tables(quarry.connect(workers=2), tpch_sf001)
    text = con.sql(BRAND).explain_string("plan")
    assert "runtime_filter=#" in text and "runtime_filter=[#" in text


# -- the filter itself -------------------------------------------------------------------------

def test_keys_null_and_range():
    f = JoinFilter.of([pa.array([5, None, 3, 5]), pa.chunked_array([[9], [None]])])
    assert sorted(f.values.to_pylist()) == [3, 5, 9] and (f.min, f.max) == (3, 9)
    assert f.keep(pa.array([3, 4, None, 9, 10])).to_pylist() == [True, False, False, True, False]


def test_no_key_at_all_matches_nothing():
    f = JoinFilter.of([pa.array([None, None], pa.int64())])
    assert f.matches_nothing
    assert f.keep(pa.array([1, 2])).to_pylist() == [False, False]
    assert f.excludes(None)


def test_tasks_merge_and_many_keys_keep_only_their_range(monkeypatch):
    import quarry.physical.runtime_filter as rf
    merged = JoinFilter.merge([JoinFilter.of([pa.array([1, 2])]), JoinFilter.of([pa.array([2, 7])]),
                               JoinFilter.of([pa.array([None], pa.int64())])])
    # integer keys of several tasks are concatenated (a key two tasks saw may repeat), strings made distinct
    assert set(merged.values.to_pylist()) == {1, 2, 7} and (merged.min, merged.max) == (1, 7)
    assert merged.keep(pa.array([0, 1, 2, 3, 7, None])).to_pylist() == [False, True, True, False, True, False]
    texts = JoinFilter.merge([JoinFilter.of([pa.array(["a", "b"])]), JoinFilter.of([pa.array(["b", "c"])])])
    assert sorted(texts.values.to_pylist()) == ["a", "b", "c"]
    # past MAX_VALUES the concatenation is made distinct before only the range is kept
    monkeypatch.setattr(rf, "MAX_VALUES", 3)
    assert sorted(JoinFilter.merge([JoinFilter.of([pa.array([1, 2])]),
                                    JoinFilter.of([pa.array([2, 3])])]).values.to_pylist()) == [1, 2, 3]
    monkeypatch.setattr(rf, "MAX_VALUES", 4)
    collector = KeyCollector()
    for start in range(0, 40, 10):
        collector.add(pa.array(range(start, start + 10)))
    wide = collector.result()
    assert wide.values is None and (wide.min, wide.max) == (0, 39)
    assert wide.keep(pa.array([-1, 0, 20, 39, 40])).to_pylist() == [False, True, True, True, False]


def test_row_group_statistics_outside_the_range_are_skipped():
    from quarry.catalog.providers import ColumnStats
    f = JoinFilter.of([pa.array([100, 200])])
    assert f.excludes(ColumnStats(1, 99, 0)) and f.excludes(ColumnStats(201, 300, 0))
    assert not f.excludes(ColumnStats(150, 160, 0)) and not f.excludes(ColumnStats(None, None, 0))


@pytest.mark.parametrize("keys", [
    pa.array([5, 9, 1_000_000, 3], pa.int64()),                 # a bitmap over their range
    pa.array([5, 9, 10**12, -7], pa.int64()),                    # too wide for a bitmap: binary search
    pa.array([5, 9, 3], pa.int32()),
])
def test_integer_keys_are_looked_up_without_rebuilding_a_hash_set(keys):
    f = JoinFilter.of([keys])
    probe = pa.array([3, 4, 5, None, 9, 10**12, -7, 1_000_000, 0], pa.int64())
    expected = [v is not None and v in set(keys.to_pylist()) for v in probe.to_pylist()]
    assert f.keep(probe).to_pylist() == expected
    assert f._integer_lookup() is f._integer_lookup()          # built once


def test_date_keys_and_a_pickled_filter():
    import datetime
    import pickle
    days = pa.array([datetime.date(1995, 3, 1), datetime.date(1996, 1, 2)])
    f = pickle.loads(pickle.dumps(JoinFilter.of([days])))
    probe = pa.array([datetime.date(1995, 3, 1), datetime.date(1995, 3, 2), None])
    assert f.keep(probe).to_pylist() == [True, False, False]


def test_a_large_filter_travels_to_workers_once_as_a_mapped_file(tmp_path):
    from quarry.execution import serialize
    keys = pa.array(range(0, 3_000_000, 3), pa.int64())              # 1M keys, 8 MB
    files: dict = {}
    encoded = serialize.Encoded(JoinFilter.of([keys]), str(tmp_path), files)
    messages = [serialize.dumps({"task": t, "runtime_filters": {1: encoded}}) for t in range(4)]
    assert all(len(m) < 100_000 for m in messages)                      # the keys are in the file
    assert len(list(tmp_path.iterdir())) == 1
    received = serialize.loads(messages[2])["runtime_filters"][1]
    assert received.keep(pa.array([0, 1, 2, 3, 2_999_997, 3_000_000])).to_pylist() == \
        [True, False, False, True, True, False]


def test_string_keys_use_arrows_set_lookup():
    f = JoinFilter.of([pa.array(["b", "a", None])])
    assert f.keep(pa.array(["a", "c", None, "b"])).to_pylist() == [True, False, False, True]


def test_a_filter_passes_on_across_an_equi_join_to_the_other_side(tpch_sf001, duckdb_tpch):
    # Q20's shape: partsupp filtered by the forest parts joins an aggregation of lineitem by
    # (part, supplier); the parts' filter also reaches the lineitem scan under that aggregation.
    # On worker processes the lineitem scan's stage waits for the parts' stage (in one process the
    # filter is made only when its own join runs, after the aggregation: too late to use)
    sql = load_query(20)
    con = register_tables(quarry.connect(workers=2), tpch_sf001)
    physical = run(con, duckdb_tpch, sql)
    partsupp = scans_of(physical, "partsupp")
    lineitem = scans_of(physical, "lineitem")
    part_filters = {fid for s in partsupp for fid, field in s.runtime_filters if field.name == "ps_partkey"}
    assert part_filters and any(fid in part_filters for s in lineitem for fid, _ in s.runtime_filters)
    assert filtered(lineitem) + sum(s.metrics.get("bytes_skipped", 0) for s in lineitem) > 0


@pytest.mark.parametrize("settings", EXECUTORS)
@pytest.mark.parametrize("disabled", [(), ("reorder_joins", "push_down_semi_join", "prune_columns")])
def test_every_tpch_query_with_filters_passed_on_finishes_right(tpch_sf001, duckdb_tpch, settings, disabled):
    # filters passed on across joins wait for other stages: no plan shape may make a circle of waits
    # (joins left in their written order chained Q18's filters into one in an earlier version)
    con = register_tables(quarry.connect(**settings, disabled_rules=list(disabled), timeout=60), tpch_sf001)
    for n in (2, 5, 9, 17, 18, 20, 21):
        run(con, duckdb_tpch, load_query(n))


def test_equal_subtrees_filtered_alike_share_a_stage_and_keep_the_filter(tpch_sf001, duckdb_tpch):
    # Q11 joins partsupp to German suppliers twice (the total and the per-part sums): both supplier
    # scans get a filter from equal nation scans, so the one shared supplier stage keeps it
    con = register_tables(quarry.connect(workers=2), tpch_sf001)
    physical = run(con, duckdb_tpch, load_query(11))
    supplier = scans_of(physical, "supplier")
    assert len(supplier) == 1 and supplier[0].runtime_filters
    assert filtered(supplier) > 0


def test_a_filter_from_a_volatile_build_side_has_no_identity(tpch_sf001):
    # stages share equal subtrees with their join filters only when the filters' build sides are
    # equal; a build side with random() is equal to nothing, not even a copy of itself
    from quarry.execution.stages import _filter_identities
    from quarry.physical.join import HashJoinExec
    con = register_tables(quarry.connect(workers=2), tpch_sf001)

    def filters_and_identities(where):
        sql = ("SELECT count(*) FROM lineitem JOIN (SELECT p_partkey FROM part WHERE "
               f"{where}) p ON l_partkey = p_partkey")
        physical = con.physical_plan(con.optimize(con.sql(sql).logical_plan))
        fids = [j.runtime_filter[0] for j in physical.walk()
                if isinstance(j, HashJoinExec) and j.runtime_filter is not None]
        return fids, _filter_identities(physical)

    fids, identities = filters_and_identities("p_size < 3")
    assert fids and all(f in identities for f in fids)
    fids, identities = filters_and_identities("random() < 0.01")
    assert fids and not any(f in identities for f in fids)


@pytest.mark.parametrize("values", [
    [7, 3, 3, -2, 7, 0],                                  # dense: a bitmap over the range
    [10**12, 5, -10**12, 5, 10**12],                      # sparse: a sort
    list(range(0, 6_000_000, 4)) + list(range(0, 6_000_000, 6)),   # order-key-like, overlapping halves
])
@pytest.mark.parametrize("dtype", [pa.int64(), pa.int32(), pa.date32()])
def test_distinct_keys_of_integer_columns_equal_pythons_set(values, dtype):
    import datetime
    from quarry.physical.runtime_filter import _distinct
    if pa.types.is_int32(dtype) or pa.types.is_date32(dtype):
        values = [v for v in values if -2**31 <= v < 2**31 and (dtype != pa.date32() or abs(v) < 2_000_000)]
    if dtype == pa.date32():
        arr = pa.array([datetime.date(1970, 1, 1) + datetime.timedelta(days=v) for v in values], dtype)
    else:
        arr = pa.array(values, dtype)
    out = _distinct(arr)
    assert out.type == dtype
    assert len(out) == len(set(arr.to_pylist())) and set(out.to_pylist()) == set(arr.to_pylist())


def test_tasks_with_overlapping_keys_merge_to_the_union():
    parts = [JoinFilter.of([pa.array(range(s, 3_000_000, 3))]) for s in (0, 1, 2, 0)]
    merged = JoinFilter.merge(parts)
    # integer keys are concatenated, not made distinct (the driver waits on this): 4M values, 3M distinct
    assert len(merged.values) == 4_000_000 and (merged.min, merged.max) == (0, 2_999_999)
    assert set(merged.values.to_numpy().tolist()) == set(range(3_000_000))
    probe = pa.array([-1, 0, 1, 2_999_999, 3_000_000, None], pa.int64())
    assert merged.keep(probe).to_pylist() == [False, True, True, True, False, False]
