"""Iceberg tables written by ``pyiceberg`` itself (a SQL catalog on SQLite) read back equal to
pyiceberg's own reading and to DuckDB over the snapshot's data files: after appends, schema changes
(a new column, a rename, a widened type), time travel by snapshot id and timestamp; the manifests
prune files through the partition transforms before any footer is read; locally and on s3://."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

import quarry
from quarry.errors import AccessDeniedError, BindError, QuarryError
from quarry.physical.operators import ParquetScanExec
from quarry.testing import assert_tables_equal

pytest.importorskip("pyiceberg")
pytest.importorskip("sqlalchemy", minversion="2.0")

from pyiceberg.catalog.sql import SqlCatalog  # noqa: E402
from pyiceberg.partitioning import PartitionField, PartitionSpec  # noqa: E402
from pyiceberg.schema import Schema  # noqa: E402
from pyiceberg.transforms import BucketTransform, DayTransform, IdentityTransform  # noqa: E402
from pyiceberg.types import (  # noqa: E402
    DoubleType, IntegerType, LongType, NestedField, StringType, TimestampType)


def _catalog(root, name="lake", **extra):
    return SqlCatalog(name, uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}", **extra)


def _batch(ids, start_day, region):
    base = datetime.datetime(2024, 1, 1)
    return pa.table({
        "id": pa.array(ids, pa.int32()),
        "ts": pa.array([base + datetime.timedelta(days=start_day + i % 3, hours=i % 24) for i in range(len(ids))],
                       pa.timestamp("us")),
        "region": pa.array([region] * len(ids)),
        "amount": pa.array([i * 1.5 for i in ids], pa.float64())})


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """``db.sales``, partitioned by day(ts) and region; snapshots:
    0: 300 rows (days 1-3, 'eu'); 1: +300 (days 10-12, 'us'); 2: + column `note`, `amount` renamed to
    `total`, `id` widened to long, +100 rows (days 20-22, 'eu'); 3: +100 rows (days 30-32, 'ap')."""
    root = tmp_path_factory.mktemp("iceberg")
    catalog = _catalog(root)
    catalog.create_namespace("db")
    schema = Schema(NestedField(1, "id", IntegerType(), required=False),
                    NestedField(2, "ts", TimestampType(), required=False),
                    NestedField(3, "region", StringType(), required=False),
                    NestedField(4, "amount", DoubleType(), required=False))
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"),
                         PartitionField(source_id=3, field_id=1001, transform=IdentityTransform(), name="region"))
    table = catalog.create_table("db.sales", schema=schema, partition_spec=spec)
    table.append(_batch(list(range(300)), 0, "eu"))
    table.append(_batch(list(range(300, 600)), 9, "us"))
    with table.update_schema() as update:
        update.add_column("note", StringType())
        update.rename_column("amount", "total")
        update.update_column("id", LongType())
    batch = _batch(list(range(600, 700)), 19, "eu").rename_columns(["id", "ts", "region", "total"])
    batch = batch.cast(pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us")), ("region", pa.string()),
                                  ("total", pa.float64())]))
    table.append(batch.append_column("note", pa.array(["n"] * 100)))
    table.append(_batch(list(range(700, 800)), 29, "ap").rename_columns(["id", "ts", "region", "total"])
                 .cast(batch.schema).append_column("note", pa.array([None] * 100, pa.string())))
    table = catalog.load_table("db.sales")
    return {"root": root, "catalog": catalog, "table": table, "location": table.metadata.location,
            "snapshots": [s.snapshot_id for s in table.metadata.snapshots]}


def _session(lake, **kwargs):
    con = quarry.connect(workers=0, **kwargs)
    con.register_iceberg_catalog("lake", lake["catalog"])
    return con


def _same(actual: pa.Table, expected: pa.Table):
    expected = expected.select(actual.column_names)
    assert_tables_equal(actual, expected.cast(actual.schema), ordered=False)


def _pyiceberg(lake, snapshot_id=None, row_filter=None):
    table = lake["catalog"].load_table("db.sales")
    args = {"snapshot_id": snapshot_id} if snapshot_id is not None else {}
    if row_filter is not None:
        args["row_filter"] = row_filter
    return table.scan(**args).to_arrow()


def _run(con, sql):
    from quarry.execution.executor import run_physical
    from quarry.physical.base import ExecContext
    df = con.sql(sql)
    physical = con.physical_plan(con.optimize(df.logical_plan))
    table = run_physical(physical, ExecContext(con.exec_config()))
    return table.rename_columns([f.name for f in df.logical_plan.schema]), \
        [n for n in physical.walk() if isinstance(n, ParquetScanExec)]


def test_current_snapshot_through_the_catalog_and_by_path(lake):
    con = _session(lake)
    expected = _pyiceberg(lake)
    assert expected.num_rows == 800
    for sql in ("SELECT * FROM iceberg_scan('lake.db.sales')", "SELECT * FROM iceberg_scan('db.sales')",
                f"SELECT * FROM iceberg_scan('{lake['location'][len('file://'):]}')"):
        actual = con.sql(sql).to_arrow()
        assert actual.column_names == ["id", "ts", "region", "total", "note"]
        _same(actual, expected)
    # the schema changes: `total` (was `amount`) reads the old files' data, `note` is NULL there, `id` is long
    rows = con.sql("SELECT count(total) AS t, count(note) AS n, sum(id) AS s FROM iceberg_scan('db.sales')").to_arrow()
    assert rows.to_pylist() == [{"t": 800, "n": 100, "s": sum(range(800))}]
    assert con.sql("SELECT id FROM iceberg_scan('db.sales') LIMIT 1").to_arrow().schema.field("id").type == pa.int64()


def test_answers_equal_duckdb_over_the_data_files(lake, duckdb_con):
    con = _session(lake)
    table = lake["catalog"].load_table("db.sales")
    # snapshot 1's files all have the first schema: DuckDB reads them as they are
    files = [t.file.file_path[len("file://"):] for t in table.scan(snapshot_id=lake["snapshots"][1]).plan_files()]
    sql = ("SELECT region, count(*) AS n, sum(amount) AS s, min(ts) AS first FROM {} "
           "WHERE amount > 100 GROUP BY region")
    expected = duckdb_con.sql(sql.format(f"read_parquet({sorted(files)})")).to_arrow_table()
    actual = con.sql(sql.format(f"iceberg_scan('db.sales') VERSION AS OF {lake['snapshots'][1]}")).to_arrow()
    assert_tables_equal(actual, expected, ordered=False)


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_version_as_of_a_snapshot_id(lake, index):
    con = _session(lake)
    sid = lake["snapshots"][index]
    actual = con.sql(f"SELECT * FROM iceberg_scan('lake.db.sales') VERSION AS OF {sid}").to_arrow()
    expected = _pyiceberg(lake, sid)
    assert actual.column_names == expected.column_names     # the snapshot's own schema
    _same(actual, expected)
    _same(con.read_iceberg("lake.db.sales", snapshot_id=sid).to_arrow(), expected)


def test_timestamp_as_of(lake):
    con = _session(lake)
    snaps = lake["table"].metadata.snapshots
    at = datetime.datetime.fromtimestamp(snaps[1].timestamp_ms / 1000, datetime.timezone.utc)
    text = at.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    actual = con.sql(f"SELECT * FROM iceberg_scan('db.sales') TIMESTAMP AS OF '{text}'").to_arrow()
    _same(actual, _pyiceberg(lake, snaps[1].snapshot_id))
    history = con.iceberg_snapshots("lake.db.sales")
    assert history.column("snapshot_id").to_pylist() == lake["snapshots"]
    with pytest.raises(QuarryError, match="no snapshot at"):
        con.sql("SELECT * FROM iceberg_scan('db.sales') TIMESTAMP AS OF '2000-01-01 00:00:00'").to_arrow()
    with pytest.raises(QuarryError, match="no snapshot 12345"):
        con.sql("SELECT * FROM iceberg_scan('db.sales') VERSION AS OF 12345").to_arrow()


def test_manifests_prune_files_before_any_footer(lake, monkeypatch):
    import pyarrow.parquet as pq
    opened = []
    real = pq.ParquetFile

    def counting(source, *args, **kwargs):
        opened.append(str(source))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", counting)
    con = _session(lake)
    all_files = len(list(lake["table"].scan().plan_files()))
    from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan
    cases = [
        # day(ts) transform: two days of the 12 partitions
        ("ts >= TIMESTAMP '2024-01-11 00:00:00' AND ts < TIMESTAMP '2024-01-13 00:00:00'",
         And(GreaterThanOrEqual("ts", "2024-01-11T00:00:00"), LessThan("ts", "2024-01-13T00:00:00"))),
        ("region = 'ap'", EqualTo("region", "ap")),
        ("id >= 750", GreaterThanOrEqual("id", 750)),                 # column bounds of the data files
    ]
    for where, row_filter in cases:
        opened.clear()
        table, (scan,) = _run(con, f"SELECT id, ts, region, total FROM iceberg_scan('db.sales') WHERE {where}")
        expected = _pyiceberg(lake, row_filter=row_filter).select(["id", "ts", "region", "total"])
        _same(table, expected)
        kept = len(list(lake["table"].scan(row_filter=row_filter).plan_files()))
        assert 0 < kept < all_files
        assert scan.metrics["files"] == kept and scan.metrics["files_skipped"] == all_files - kept, where
        assert len(set(opened)) == kept, where                          # only the kept files' footers
    table, (scan,) = _run(con, "SELECT count(*) AS n FROM iceberg_scan('db.sales') WHERE region = 'nowhere'")
    assert table.column(0).to_pylist() == [0] and scan.metrics["files"] == 0


def test_manifests_are_skipped_by_their_partition_summaries(lake, monkeypatch):
    """Each append wrote one manifest; `region = 'ap'` (only in the last append) opens one of them."""
    from pyiceberg.manifest import ManifestFile
    fetched = []
    real = ManifestFile.fetch_manifest_entry

    def counting(self, *args, **kwargs):
        fetched.append(self.manifest_path)
        return real(self, *args, **kwargs)

    con = _session(lake)
    provider = con.iceberg_table("lake.db.sales")
    manifests = len(lake["table"].current_snapshot().manifests(lake["table"].io))
    assert manifests == 4
    monkeypatch.setattr(ManifestFile, "fetch_manifest_entry", counting)
    table, (scan,) = _run(con, "SELECT count(*) AS n FROM iceberg_scan('db.sales') WHERE region = 'ap'")
    assert table.column(0).to_pylist() == [100]
    assert len(set(fetched)) == 1                  # the other three manifests were never opened
    assert provider.statistics().row_count == 800  # the optimizer's row count: from the manifests


def test_bucket_partitions_prune_an_equality(tmp_path):
    catalog = _catalog(tmp_path)
    catalog.create_namespace("db")
    schema = Schema(NestedField(1, "k", LongType(), required=False), NestedField(2, "v", StringType(), required=False))
    spec = PartitionSpec(PartitionField(source_id=1, field_id=1000, transform=BucketTransform(8), name="k_bucket"))
    table = catalog.create_table("db.b", schema=schema, partition_spec=spec)
    table.append(pa.table({"k": pa.array(range(400), pa.int64()), "v": [f"v{i}" for i in range(400)]}))
    con = quarry.connect(workers=0)
    con.register_iceberg_catalog("c", catalog)
    result, (scan,) = _run(con, "SELECT v FROM iceberg_scan('c.db.b') WHERE k = 123")
    assert result.column(0).to_pylist() == ["v123"]
    assert scan.metrics["files"] == 1 and scan.metrics["files_skipped"] == 7


def test_a_catalog_from_properties_and_names_that_are_not_tables(lake, tmp_path):
    con = quarry.connect(workers=0)
    with pytest.raises(BindError, match="no Iceberg catalog is registered"):
        con.sql("SELECT * FROM iceberg_scan('db.sales')").to_arrow()
    con.register_iceberg_catalog("lake", type="sql", uri=f"sqlite:///{lake['root']}/catalog.db",
                                 warehouse=f"file://{lake['root']}")
    assert con.sql("SELECT count(*) AS n FROM iceberg_scan('lake.db.sales')").to_arrow().to_pylist() == [{"n": 800}]
    with pytest.raises(QuarryError, match="does not exist"):
        con.sql("SELECT * FROM iceberg_scan('lake.db.nothing')").to_arrow()
    with pytest.raises(QuarryError, match="is not an Iceberg table"):
        con.sql(f"SELECT * FROM iceberg_scan('{tmp_path}')").to_arrow()
    con.register_iceberg_catalog("other", _catalog(tmp_path, "other"))
    with pytest.raises(BindError, match="names no registered Iceberg catalog"):
        con.sql("SELECT * FROM iceberg_scan('db.sales')").to_arrow()


def test_registered_iceberg_table_and_time_travel_on_its_name(lake):
    con = _session(lake)
    con.register("sales", con.iceberg_table("lake.db.sales"))
    assert con.sql("SELECT count(*) AS n FROM sales").to_arrow().to_pylist() == [{"n": 800}]
    sid = lake["snapshots"][0]
    assert con.sql(f"SELECT count(*) AS n FROM sales VERSION AS OF {sid}").to_arrow().to_pylist() == [{"n": 300}]
    # a directory holding an Iceberg table's metadata/ is that table, as a _delta_log/ makes a Delta table
    con.register("by_path", lake["location"][len("file://"):])
    assert con.catalog.get("by_path").kind == "iceberg"
    _same(con.sql("SELECT * FROM by_path").to_arrow(), _pyiceberg(lake))
    assert con.sql(f"SELECT count(*) AS n FROM by_path VERSION AS OF {sid}").to_arrow().to_pylist() == [{"n": 300}]


def test_worker_processes_read_the_planned_files(lake):
    con = quarry.connect(workers=2)           # the plan carries the kept files to the worker processes
    con.register_iceberg_catalog("lake", lake["catalog"])
    actual = con.sql("SELECT region, count(*) AS n, sum(total) AS s FROM iceberg_scan('db.sales') "
                     "WHERE id < 650 GROUP BY region").to_arrow()
    from pyiceberg.expressions import LessThan
    expected = _pyiceberg(lake, row_filter=LessThan("id", 650)).group_by("region").aggregate(
        [("id", "count"), ("total", "sum")]).rename_columns(["region", "n", "s"])
    assert_tables_equal(actual, expected, ordered=False)


def test_the_sandbox_allows_only_its_paths_and_the_servers_catalogs(lake, tmp_path):
    con = _session(lake)                       # the catalog is the server's, registered before the sandbox
    con.allowed_paths = [str(tmp_path)]
    assert con.sql("SELECT count(*) AS n FROM iceberg_scan('lake.db.sales')").to_arrow().to_pylist() == [{"n": 800}]
    with pytest.raises(AccessDeniedError, match="is not allowed"):
        con.sql(f"SELECT * FROM iceberg_scan('{lake['location'][len('file://'):]}')").to_arrow()
    with pytest.raises(AccessDeniedError, match="is not allowed"):
        con.sql("SELECT * FROM iceberg_scan('s3://lake/private/t')").to_arrow()
    with pytest.raises(AccessDeniedError, match="registering an Iceberg catalog is not allowed"):
        con.register_iceberg_catalog("mine", type="sql", uri="sqlite:///:memory:")
    # metadata inside the allowed directory that names data files outside it is refused too
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(lake["location"][len("file://"):], copy)
    with pytest.raises(AccessDeniedError, match="is not allowed"):
        con.sql(f"SELECT * FROM iceberg_scan('{copy}')").to_arrow()


def test_iceberg_on_s3(s3_server, tmp_path):
    """pyiceberg writes a table to s3:// (catalog on SQLite, data in the bucket); quarry reads it back
    through the catalog and by path, with the session's credentials."""
    s3_server.create_bucket("ice")
    props = {"s3.endpoint": s3_server.url, "s3.access-key-id": s3_server.key_id,
             "s3.secret-access-key": s3_server.secret, "s3.region": s3_server.region}
    catalog = SqlCatalog("s3lake", uri=f"sqlite:///{tmp_path}/c.db", warehouse="s3://ice/wh", **props)
    catalog.create_namespace("db")
    schema = Schema(NestedField(1, "id", LongType(), required=False), NestedField(2, "day", StringType(), required=False))
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="day"))
    table = catalog.create_table("db.events", schema=schema, partition_spec=spec)
    table.append(pa.table({"id": pa.array(range(10), pa.int64()), "day": ["a"] * 5 + ["b"] * 5}))
    table.append(pa.table({"id": pa.array(range(10, 15), pa.int64()), "day": ["c"] * 5}))
    table = catalog.load_table("db.events")
    con = quarry.connect(workers=0, config=s3_server.config())
    con.register_iceberg_catalog("s3lake", catalog)
    expected = table.scan().to_arrow()
    _same(con.sql("SELECT * FROM iceberg_scan('s3lake.db.events')").to_arrow(), expected)
    _same(con.sql(f"SELECT * FROM iceberg_scan('{table.metadata.location}')").to_arrow(), expected)
    result, (scan,) = _run(con, f"SELECT id FROM iceberg_scan('{table.metadata.location}') WHERE day = 'c'")
    assert sorted(result.column(0).to_pylist()) == list(range(10, 15)) and scan.metrics["files_skipped"] == 2
    first = table.metadata.snapshots[0].snapshot_id
    assert con.sql(f"SELECT count(*) AS n FROM iceberg_scan('s3lake.db.events') VERSION AS OF {first}") \
        .to_arrow().to_pylist() == [{"n": 10}]
    wrong = quarry.connect(workers=0, config=dict(s3_server.config(), s3_secret_access_key="not-the-secret-123"))
    with pytest.raises(AccessDeniedError) as info:
        wrong.sql(f"SELECT * FROM iceberg_scan('{table.metadata.location}')").to_arrow()
    assert "bucket `ice`" in str(info.value) and "not-the-secret-123" not in str(info.value)


def test_deletes_and_overwrites_written_by_pyiceberg(tmp_path):
    catalog = _catalog(tmp_path)
    catalog.create_namespace("db")
    data = pa.table({"l": pa.array(range(100), pa.int64()), "s": [f"s{i % 7}" for i in range(100)]})
    table = catalog.create_table("db.t", schema=data.schema)
    table.append(data)
    table.delete("l < 10")
    table = catalog.load_table("db.t")
    table.overwrite(pa.table({"l": pa.array([500], pa.int64()), "s": ["x"]}), overwrite_filter="l >= 90")
    table = catalog.load_table("db.t")
    con = quarry.connect(workers=0)
    con.register_iceberg_catalog("c", catalog)
    _same(con.sql("SELECT * FROM iceberg_scan('c.db.t')").to_arrow(), table.scan().to_arrow())
    for snapshot in table.metadata.snapshots:
        _same(con.sql(f"SELECT * FROM iceberg_scan('c.db.t') VERSION AS OF {snapshot.snapshot_id}").to_arrow(),
              table.scan(snapshot_id=snapshot.snapshot_id).to_arrow())


def test_row_level_delete_files_are_not_supported(tmp_path, monkeypatch):
    from pyiceberg.table import DataScan, FileScanTask
    catalog = _catalog(tmp_path)
    catalog.create_namespace("db")
    table = catalog.create_table("db.t", schema=pa.schema([("l", pa.int64())]))
    table.append(pa.table({"l": pa.array([1, 2], pa.int64())}))
    real = DataScan.plan_files

    def with_deletes(self):
        return [FileScanTask(t.file, delete_files={t.file}) for t in real(self)]

    monkeypatch.setattr(DataScan, "plan_files", with_deletes)
    con = quarry.connect(workers=0)
    con.register_iceberg_catalog("c", catalog)
    with pytest.raises(QuarryError, match="Not supported: Iceberg row-level deletes"):
        con.sql("SELECT * FROM iceberg_scan('c.db.t')").to_arrow()


def test_attach_an_iceberg_catalog_and_name_its_tables(lake):
    con = quarry.connect(workers=0)
    root = lake["root"]
    # a SQL catalog keeps its tables under its name: the fixture's is `lake`
    con.sql(f"ATTACH 'file://{root}' AS lake (TYPE iceberg, CATALOG_TYPE 'sql', "
            f"URI 'sqlite:///{root}/catalog.db', 'init_catalog_tables' 'false')")
    assert set(con.iceberg_catalogs) == {"lake"}
    expected = _pyiceberg(lake)
    _same(con.sql("SELECT * FROM lake.db.sales").to_arrow(), expected)               # as DuckDB names them
    _same(con.sql("SELECT * FROM iceberg_scan('lake.db.sales')").to_arrow(), expected)
    sid = lake["snapshots"][1]
    assert con.sql(f"SELECT count(*) AS n FROM lake.db.sales VERSION AS OF {sid} AS s WHERE s.region = 'us'") \
        .to_arrow().to_pylist() == [{"n": 300}]
    assert [r["column_name"] for r in con.sql("DESCRIBE lake.db.sales").to_arrow().to_pylist()] == \
        ["id", "ts", "region", "total", "note"]
    for sql in ("INSERT INTO lake.db.sales SELECT * FROM lake.db.sales", "CREATE TABLE lake.db.x AS SELECT 1 AS a",
                "DROP TABLE lake.db.sales", "DELETE FROM lake.db.sales", "UPDATE lake.db.sales SET id = 1"):
        with pytest.raises(QuarryError, match="Not supported: .* on Iceberg table `lake.db."):
            con.sql(sql)
    assert con.tables() == []                    # nothing was made in `main` instead
    con.sql(f"ATTACH IF NOT EXISTS 'x' AS lake (TYPE iceberg, URI 'sqlite:///{root}/catalog.db')")
    with pytest.raises(BindError, match="already attached"):
        con.sql(f"ATTACH 'x' AS lake (TYPE iceberg, URI 'sqlite:///{root}/catalog.db')")
    with pytest.raises(QuarryError, match="Not supported: ATTACH"):
        con.sql("ATTACH 'other.duckdb' AS o")
    con.sql("DETACH lake")
    assert con.iceberg_catalogs == {}
    con.sql("DETACH DATABASE IF EXISTS lake")
    with pytest.raises(BindError, match="not attached"):
        con.sql("DETACH lake")
    from quarry.sql.secrets import redact_sql
    assert "hush" not in redact_sql("ATTACH '' AS r (TYPE iceberg, URI 'http://x', TOKEN 'hush')")
    sandboxed = quarry.connect(workers=0)
    sandboxed.allowed_paths = [str(root)]
    with pytest.raises(AccessDeniedError, match="ATTACH is not allowed"):
        sandboxed.sql(f"ATTACH '' AS lake (TYPE iceberg, URI 'sqlite:///{root}/catalog.db')")


def test_catalog_tables_are_listed_by_information_schema(lake, tmp_path):
    con = _session(lake)
    other = _catalog(tmp_path, name="ops")
    other.create_namespace("logs")
    other.create_table("logs.events", schema=pa.schema([("at", pa.timestamp("us")), ("msg", pa.string())]))
    con.register_iceberg_catalog("ops", other)
    con.register("local_t", pa.table({"x": pa.array([1], pa.int32())}))
    # what pyiceberg's catalogs hold, under each catalog's name and namespace (as DuckDB lists ATTACHed ones)
    expected = sorted([("quarry", "main", "local_t")] +
                      [("lake",) + tuple(i) for i in lake["catalog"].list_tables("db")] +
                      [("ops",) + tuple(i) for i in other.list_tables("logs")])
    rows = con.sql("SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables").to_arrow()
    assert sorted((r["table_catalog"], r["table_schema"], r["table_name"]) for r in rows.to_pylist()) == expected
    assert set(rows.column("table_type").to_pylist()) == {"BASE TABLE"}
    columns = con.sql("SELECT column_name, data_type, ordinal_position FROM information_schema.columns "
                      "WHERE table_catalog = 'lake' AND table_name = 'sales' ORDER BY ordinal_position").to_arrow()
    current = lake["catalog"].load_table("db.sales").schema()
    assert columns.column("column_name").to_pylist() == [f.name for f in current.fields]
    # the types the fixture gave them (id widened to long, amount renamed to total, note added)
    assert columns.column("data_type").to_pylist() == ["BIGINT", "TIMESTAMP", "VARCHAR", "DOUBLE", "VARCHAR"]
    schemata = con.sql("SELECT catalog_name, schema_name FROM information_schema.schemata").to_arrow().to_pylist()
    assert {("lake", "db"), ("ops", "logs"), ("quarry", "main")} <= {(r["catalog_name"], r["schema_name"])
                                                                      for r in schemata}
    con.sql("DETACH ops")
    assert "ops" not in con.sql("SELECT DISTINCT table_catalog FROM information_schema.tables").to_arrow() \
        .column(0).to_pylist()


def test_writes_into_an_iceberg_table_are_refused(lake, tmp_path):
    con = _session(lake)
    location = lake["location"][len("file://"):]
    con.register("reg", location)
    before = _pyiceberg(lake)
    refused = {
        "INSERT INTO lake.db.sales SELECT * FROM lake.db.sales": "on Iceberg table `lake.db.sales`",
        "INSERT INTO reg SELECT * FROM reg": "INSERT into `reg`",
        "COPY (SELECT 1 AS id) TO 'lake.db.sales'": "writing into Iceberg table `lake.db.sales`",
        f"COPY (SELECT 1 AS id) TO '{location}' (FORMAT parquet)": "writing into Iceberg table",
        f"COPY (SELECT 1 AS id) TO '{location}/data/extra.parquet'": "writing into Iceberg table",
        "COPY reg FROM 'x.parquet'": "COPY ... FROM",
        f"INSERT INTO iceberg_scan('{location}') VALUES (1)": "INSERT into the table function `iceberg_scan",
    }
    for sql, what in refused.items():
        with pytest.raises(QuarryError, match=f"Not supported: .*{what}") as info:
            con.sql(sql).to_arrow()
        assert "Traceback" not in str(info.value)
    for write in (lambda df: df.write_parquet(f"{location}/data/more.parquet"),
                  lambda df: df.write_delta(location, mode="append")):
        with pytest.raises(QuarryError, match="Not supported: .*writing into Iceberg table"):
            write(con.sql("SELECT 1 AS id"))
    # nothing was written: the table and its data directory are as pyiceberg left them
    _same(con.sql("SELECT * FROM lake.db.sales").to_arrow(), before)
    import os
    assert not os.path.exists(f"{location}/data/extra.parquet") and not os.path.exists("lake.db.sales")
    # a path next to the table, not inside it, is written as before
    assert con.sql("SELECT 1 AS id").write_parquet(str(tmp_path / "elsewhere.parquet")) == 1
