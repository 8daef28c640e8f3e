"""Delta Lake tables: tables written by ``deltalake`` read back equal (appends, a schema change, time
travel, partition pruning), locally and on s3://; quarry's writes read back with ``deltalake``."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

import quarry
from quarry.errors import QuarryError
from quarry.physical.operators import ParquetScanExec
from quarry.testing import assert_tables_equal

deltalake = pytest.importorskip("deltalake")


def _v0():
    return pa.table({"id": pa.array([1, 2, 3, 4], pa.int64()), "day": ["2024-01-01", "2024-01-01", "2024-01-02",
                                                                        "2024-01-03"],
                     "amount": pa.array([1.5, 2.5, 3.5, 4.5])})


def _make(uri, storage_options=None):
    """Version 0: four rows in three partitions; 1: an append; 2: a new column (schema merge)."""
    deltalake.write_deltalake(uri, _v0(), partition_by=["day"], storage_options=storage_options)
    deltalake.write_deltalake(uri, pa.table({"id": pa.array([5], pa.int64()), "day": ["2024-01-02"],
                                             "amount": pa.array([5.5])}), mode="append",
                              storage_options=storage_options)
    deltalake.write_deltalake(uri, pa.table({"id": pa.array([6], pa.int64()), "day": ["2024-01-04"],
                                             "amount": pa.array([6.5]), "note": ["new"]}), mode="append",
                              schema_mode="merge", storage_options=storage_options)


def _expected(uri, version=None, storage_options=None):
    return deltalake.DeltaTable(uri, version=version, storage_options=storage_options).to_pyarrow_table()


@pytest.fixture(scope="module")
def local_delta(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("delta") / "sales")
    _make(uri)
    return uri


def _same(actual: pa.Table, expected: pa.Table):
    expected = expected.select(actual.column_names)
    assert_tables_equal(actual, expected.cast(actual.schema), ordered=False)


def test_latest_snapshot_after_appends_and_a_new_column(local_delta):
    con = quarry.connect(workers=0)
    actual = con.sql(f"SELECT * FROM delta_scan('{local_delta}')").to_arrow()
    assert set(actual.column_names) == {"id", "day", "amount", "note"}
    _same(actual, _expected(local_delta))
    # rows written before `note` existed read it as NULL
    assert con.sql(f"SELECT count(*) FROM delta_scan('{local_delta}') WHERE note IS NULL").to_arrow() \
        .column(0)[0].as_py() == 5


@pytest.mark.parametrize("version", [0, 1, 2])
def test_version_as_of(local_delta, version):
    con = quarry.connect(workers=0)
    actual = con.sql(f"SELECT * FROM delta_scan('{local_delta}') VERSION AS OF {version}").to_arrow()
    _same(actual, _expected(local_delta, version))
    con.register("sales", local_delta)
    _same(con.sql(f"SELECT * FROM sales VERSION AS OF {version}").to_arrow(), _expected(local_delta, version))
    _same(con.read_delta(local_delta, version=version).to_arrow(), _expected(local_delta, version))


def test_timestamp_as_of(local_delta):
    history = deltalake.DeltaTable(local_delta).history()
    v1 = next(h for h in history if h["version"] == 1)
    at = datetime.datetime.fromtimestamp(v1["timestamp"] / 1000, datetime.timezone.utc)
    con = quarry.connect(workers=0)
    text = at.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    actual = con.sql(f"SELECT * FROM delta_scan('{local_delta}') TIMESTAMP AS OF '{text}'").to_arrow()
    _same(actual, _expected(local_delta, 1))


def test_partition_values_from_the_log_prune(local_delta):
    con = quarry.connect(workers=0)
    con.register("sales", local_delta)
    df = con.sql("SELECT id, amount FROM sales WHERE day = '2024-01-02'")
    physical = con.physical_plan(con.optimize(df.logical_plan))
    from quarry.execution.executor import run_physical
    from quarry.physical.base import ExecContext
    table = run_physical(physical, ExecContext(con.exec_config()))
    (scan,) = [n for n in physical.walk() if isinstance(n, ParquetScanExec)]
    assert sorted(table.column(0).to_pylist()) == [3, 5]
    # the log's partition values drop the other three files before their footers are read
    assert scan.metrics["files"] == 2 and scan.metrics["files_skipped"] == 3
    assert scan.metrics["row_groups_skipped"] == 0


@pytest.fixture(scope="module")
def ranged_delta(tmp_path_factory):
    """Eight unpartitioned files (appends) of 1000 ids each, ids ascending: file k holds [1000k, 1000k+1000)."""
    uri = str(tmp_path_factory.mktemp("ranged") / "events")
    for k in range(8):
        ids = pa.array(range(1000 * k, 1000 * k + 1000), pa.int64())
        deltalake.write_deltalake(uri, pa.table({"id": ids, "score": pa.compute.multiply(ids, 0.5),
                                                 "tag": pa.array([f"t{k}"] * 1000)}),
                                  mode="append" if k else "error")
    return uri


def _run(con, sql):
    from quarry.execution.executor import run_physical
    from quarry.physical.base import ExecContext
    df = con.sql(sql)
    physical = con.physical_plan(con.optimize(df.logical_plan))
    table = run_physical(physical, ExecContext(con.exec_config()))
    return table.rename_columns([f.name for f in df.logical_plan.schema]), \
        [n for n in physical.walk() if isinstance(n, ParquetScanExec)]


def test_log_statistics_prune_files_before_any_footer(ranged_delta, duckdb_con, monkeypatch):
    import pyarrow.parquet as pq
    opened = []
    real = pq.ParquetFile

    def counting(source, *args, **kwargs):
        opened.append(str(source))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", counting)
    con = quarry.connect(workers=0)
    con.register("events", ranged_delta)
    assert opened == []                                  # registering reads the log, not the files
    sql = "SELECT id, score, tag FROM events WHERE id BETWEEN 2500 AND 3100"
    table, (scan,) = _run(con, sql)
    assert scan.metrics["files"] == 2 and scan.metrics["files_skipped"] == 6
    assert len(set(opened)) == 2                         # footers of the two files [2000, 4000) only
    expected = pa.table(deltalake.DeltaTable(ranged_delta).to_pyarrow_dataset().to_table(
        filter=(pa.compute.field("id") >= 2500) & (pa.compute.field("id") <= 3100)))
    _same(table, expected)
    duck = duckdb_con.sql(f"SELECT id, score, tag FROM read_parquet({sorted(_data_files(ranged_delta))}) "
                          "WHERE id BETWEEN 2500 AND 3100").to_arrow_table()
    _same(table, duck)
    # other shapes the statistics decide: a range with no file, IN, a string column, IS NULL
    for where, files in (("id > 100000", 0), ("id IN (5, 7005)", 2), ("tag = 't3'", 1), ("id IS NULL", 0),
                         ("score < 10 OR id >= 7999", 2)):
        table, (scan,) = _run(con, f"SELECT count(*) AS n FROM events WHERE {where}")
        assert scan.metrics["files"] == files, where
        expected = duckdb_con.sql(f"SELECT count(*) AS n FROM read_parquet({sorted(_data_files(ranged_delta))}) "
                                  f"WHERE {where}").to_arrow_table()
        assert table.column(0).to_pylist() == expected.column(0).to_pylist(), where
    # no predicate: every file, every footer
    table, (scan,) = _run(con, "SELECT count(*) AS n FROM events")
    assert table.column(0).to_pylist() == [8000] and scan.metrics["files"] == 8


def _data_files(uri):
    return deltalake.DeltaTable(uri).file_uris()


def test_missing_version_and_non_delta_are_clear(local_delta, tmp_path):
    con = quarry.connect(workers=0)
    with pytest.raises(QuarryError, match="no snapshot version 99"):
        con.sql(f"SELECT * FROM delta_scan('{local_delta}') VERSION AS OF 99").to_arrow()
    with pytest.raises(QuarryError, match="not a Delta table"):
        con.sql(f"SELECT * FROM delta_scan('{tmp_path}')").to_arrow()
    con.register("t", pa.table({"x": [1]}))
    with pytest.raises(QuarryError, match="Not supported: time travel on `t`"):
        con.sql("SELECT * FROM t VERSION AS OF 1").to_arrow()


def test_quarry_writes_read_back_with_deltalake(tmp_path):
    con = quarry.connect(workers=2)
    con.register("src", _v0())
    uri = str(tmp_path / "out")
    assert con.sql("SELECT * FROM src").write_delta(uri, partition_by=["day"]) == 4
    assert con.sql("SELECT id + 10 AS id, day, amount FROM src").write_delta(uri, mode="append") == 4
    table = deltalake.DeltaTable(uri)
    assert table.version() == 1 and table.metadata().partition_columns == ["day"]
    expected = pa.concat_tables([_v0(), _v0().set_column(0, "id", pa.compute.add(_v0().column("id"), 10))])
    _same(table.to_pyarrow_table(), expected)
    assert con.sql("SELECT * FROM src WHERE id = 1").write_delta(uri, mode="overwrite") == 1
    assert deltalake.DeltaTable(uri).to_pyarrow_table().column("id").to_pylist() == [1]
    with pytest.raises(QuarryError, match="Delta write mode `upsert`"):
        con.sql("SELECT * FROM src").write_delta(uri, mode="upsert")


def test_delta_on_s3(s3_server):
    s3_server.create_bucket("deltalake")
    options = {"AWS_ACCESS_KEY_ID": s3_server.key_id, "AWS_SECRET_ACCESS_KEY": s3_server.secret,
               "AWS_ENDPOINT_URL": s3_server.url, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
               "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    uri = "s3://deltalake/sales"
    _make(uri, options)
    con = quarry.connect(workers=2, config=s3_server.config())
    con.register("sales", uri)
    _same(con.sql("SELECT * FROM sales").to_arrow(), _expected(uri, storage_options=options))
    _same(con.sql("SELECT * FROM sales VERSION AS OF 1").to_arrow(), _expected(uri, 1, options))
    assert con.sql("SELECT id, day, amount FROM sales WHERE id > 4").write_delta(
        "s3://deltalake/copy", mode="append", partition_by=["day"]) == 2
    _same(deltalake.DeltaTable("s3://deltalake/copy", storage_options=options).to_pyarrow_table(),
          con.sql("SELECT id, day, amount FROM sales WHERE id > 4").to_arrow())


def test_describe_history_lists_the_commits_deltalake_reports(local_delta, tmp_path):
    con = quarry.connect(workers=0)
    expected = deltalake.DeltaTable(local_delta).history()
    want = [(h["version"], h["operation"]) for h in expected]
    assert len(want) == 3
    by_path = con.sql(f"DESCRIBE HISTORY '{local_delta}'").to_arrow()
    assert list(zip(by_path.column("version").to_pylist(), by_path.column("operation").to_pylist())) == want
    assert by_path.column("timestamp").to_pylist() == [
        datetime.datetime.fromtimestamp(h["timestamp"] / 1000, datetime.timezone.utc) for h in expected]
    spark_style = con.sql(f"DESCRIBE HISTORY delta.\"{local_delta}\"").to_arrow()
    assert spark_style.column("version").to_pylist() == [v for v, _ in want]
    con.register("sales", local_delta)
    assert con.sql("DESCRIBE HISTORY sales").to_arrow().column("version").to_pylist() == [v for v, _ in want]
    con.register("plain", pa.table({"x": [1]}))
    with pytest.raises(QuarryError, match="Not supported: DESCRIBE HISTORY of `plain`"):
        con.sql("DESCRIBE HISTORY plain").to_arrow()
    with pytest.raises(QuarryError, match="not a Delta table"):
        con.sql(f"DESCRIBE HISTORY '{tmp_path}'").to_arrow()


def test_write_delta_streams_batches_and_merges_a_new_column(tmp_path, monkeypatch):
    con = quarry.connect(workers=0, batch_rows=1000)
    ids = pa.array(range(10_000), pa.int64())
    con.register("src", pa.table({"id": ids, "day": pa.compute.cast(pa.compute.divide(ids, 2500), pa.string())}))
    events = []
    real_batches = con.run_batches

    def batches(plan):
        for i, batch in enumerate(real_batches(plan)):
            events.append(("produced", i))
            yield batch
    real_write = deltalake.write_deltalake

    def write(*args, **kwargs):
        events.append(("deltalake called",))
        return real_write(*args, **kwargs)
    monkeypatch.setattr(con, "run_batches", batches)
    monkeypatch.setattr(deltalake, "write_deltalake", write)
    uri = str(tmp_path / "streamed")
    assert con.sql("SELECT id, day FROM src").write_delta(uri, partition_by=["day"]) == 10_000
    produced = [e for e in events if e[0] == "produced"]
    assert len(produced) >= 10
    # deltalake got a stream: it was called before the query made its first batch, not after the last
    assert events[0] == ("deltalake called",)
    # schema evolution on write: an append with a new column, merged into the table's schema
    assert con.sql("SELECT id + 10000 AS id, day, 'x' AS note FROM src WHERE id < 5").write_delta(
        uri, mode="append", schema_mode="merge") == 5
    table = deltalake.DeltaTable(uri)
    assert table.version() == 1 and [f.name for f in table.schema().fields] == ["id", "day", "note"]
    back = table.to_pyarrow_table()
    assert back.num_rows == 10_005
    assert pa.compute.count(back.column("note")).as_py() == 5          # NULL for the first commit's rows
    assert sorted(back.column("id").to_pylist()) == list(range(10_000)) + list(range(10_000, 10_005))
    # and quarry reads the evolved table back as deltalake does
    _same(con.sql(f"SELECT * FROM delta_scan('{uri}')").to_arrow(), back)


def test_a_delta_tables_footers_are_reused_without_a_request(s3_server, monkeypatch):
    from quarry.catalog import filesystems
    s3_server.create_bucket("deltafooters")
    options = {"AWS_ACCESS_KEY_ID": s3_server.key_id, "AWS_SECRET_ACCESS_KEY": s3_server.secret,
               "AWS_ENDPOINT_URL": s3_server.url, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
               "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    uri = "s3://deltafooters/t"
    _make(uri, options)
    files = len(deltalake.DeltaTable(uri, storage_options=options).file_uris())
    opened = []
    real = filesystems.open_input
    monkeypatch.setattr(filesystems, "open_input", lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    con = quarry.connect(workers=0, config=s3_server.config())
    sql = f"SELECT count(*) AS n, sum(amount) AS s FROM delta_scan('{uri}')"
    first = con.sql(sql).to_arrow()
    first_opens, opened[:] = len(opened), []
    second = con.sql(sql).to_arrow()
    assert first.equals(second)
    # a Delta data file is never rewritten in place: its cached footer needs no HEAD to be trusted, so
    # the second query opens each file once, to read it, where the first also opened it for its footer
    assert first_opens == 2 * files and len(opened) == files
    expected = _expected(uri, storage_options=options)
    assert first.column("n")[0].as_py() == expected.num_rows
