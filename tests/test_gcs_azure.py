"""Reading and writing gs:// and az:// against local emulators (gcp-storage-emulator, Azurite).

The same checks as tests/test_object_store.py makes against S3, for each store: TPC-H tables
uploaded there answer as DuckDB does on the local copy, globs and hive partitions prune, COPY TO
writes and reads back, and a missing bucket (container) or a wrong key is a clear error naming it.
An emulator that cannot run here (gcp-storage-emulator not installed; node or Azurite missing)
skips its tests, saying why.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import sqlglot

import quarry
from quarry.errors import AccessDeniedError, DataError, QuarryError
from quarry.physical.operators import ParquetScanExec
from quarry.testing import assert_tables_equal
from quarry.tpch import load_query

SCHEMES = {"gcs": "gs", "azure": "az"}
TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


@pytest.fixture(scope="module", params=["gcs", "azure"])
def store(request, tpch_sf001, tmp_path_factory):
    """The emulator with TPC-H SF 0.01 in ``<scheme>://tpch/sf001/`` and five daily partitions of
    1000 rows in ``<scheme>://lake/events/``; ``store.events`` is the local copy of the events."""
    server = request.getfixturevalue(f"{request.param}_server")
    server.kind, server.scheme = request.param, SCHEMES[request.param]
    if not getattr(server, "loaded", False):
        server.create_bucket("tpch")
        server.create_bucket("lake")
        server.upload_dir(str(tpch_sf001), "tpch/sf001")
        root = tmp_path_factory.mktemp(f"events_{request.param}")
        for d in range(1, 6):
            folder = root / f"day=2024-01-0{d}"
            folder.mkdir()
            pq.write_table(pa.table({"id": pa.array(range(d * 1000, d * 1000 + 1000), pa.int64()),
                                     "v": pa.array([float(i % 97) for i in range(1000)])}), folder / "part-0.parquet")
        server.upload_dir(str(root), "lake/events")
        server.events, server.loaded = root, True
    return server


@pytest.fixture(scope="module")
def tpch_remote(store):
    # two worker processes: the stages read the store on the workers, with the settings the plan carries
    con = quarry.connect(workers=2, config=store.config())
    for name in TABLES:
        con.register(name, f"{store.scheme}://tpch/sf001/{name}.parquet")
    yield con
    con.close()


def _scans(con, sql):
    from quarry.execution.executor import run_physical
    from quarry.physical.base import ExecContext
    df = con.sql(sql)
    physical = con.physical_plan(con.optimize(df.logical_plan))
    table = run_physical(physical, ExecContext(con.exec_config()))
    table = table.rename_columns([f.name for f in df.logical_plan.schema])
    return table, [n for n in physical.walk() if isinstance(n, ParquetScanExec)]


@pytest.mark.parametrize("n", [1, 3, 6, 12])
def test_tpch_queries_match_duckdb(n, tpch_remote, duckdb_tpch):
    sql = load_query(n)
    expected = duckdb_tpch.sql(sql).to_arrow_table()
    actual = tpch_remote.sql(sql).to_arrow()
    assert_tables_equal(actual, expected, ordered=sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None)


def test_glob_reads_only_the_matching_files(store, duckdb_con):
    con = quarry.connect(workers=0, config=store.config())
    sql = "SELECT count(*) AS n, sum(v) AS s FROM read_parquet('{}/day=2024-01-0[24]/*.parquet')"
    table, (scan,) = _scans(con, sql.format(f"{store.scheme}://lake/events"))
    assert scan.metrics["files"] == 2
    assert_tables_equal(table, duckdb_con.sql(sql.format(store.events)).to_arrow_table(), ordered=False)


def test_hive_partitions_prune_files(store, duckdb_con):
    con = quarry.connect(workers=0, config=store.config())
    con.register("events", f"{store.scheme}://lake/events/")
    sql = "SELECT day, count(*) AS n, min(id) AS lo FROM events WHERE day = DATE '2024-01-03' GROUP BY day"
    table, (scan,) = _scans(con, sql)
    assert scan.metrics["files"] == 5 and scan.metrics["row_groups_skipped"] == 4
    assert scan.metrics["requests"] <= 3                  # only the one partition's file was opened
    expected = duckdb_con.sql(sql.replace("FROM events", f"FROM read_parquet('{store.events}/*/*.parquet', "
                                                         "hive_partitioning = true)")).to_arrow_table()
    assert_tables_equal(table, expected.cast(table.schema), ordered=False)


def _visible(store, prefix: str) -> list[str]:
    infos = store.filesystem().get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    rel = [i.path[len(prefix):].strip("/") for i in infos if i.type == pafs.FileType.File]
    return sorted(r for r in rel if not any(part.startswith(("_", ".")) for part in r.split("/")))


def test_copy_to_writes_and_reads_back(store, tpch_remote, duckdb_tpch):
    target = f"{store.scheme}://lake/out/orders/"
    rows = tpch_remote.sql("COPY (SELECT o_orderkey, o_totalprice, o_orderstatus FROM orders) "
                           f"TO '{target}' (FORMAT parquet, PARTITION_BY (o_orderstatus))")
    assert rows.to_arrow().column(0)[0].as_py() == 15000
    assert _visible(store, "lake/out/orders") == [f"o_orderstatus={s}/part-0.parquet" for s in "FOP"]
    assert store.filesystem().get_file_info("lake/out/orders/_SUCCESS").type == pafs.FileType.File
    back = tpch_remote.sql(f"SELECT o_orderkey, o_totalprice, o_orderstatus FROM '{target}'").to_arrow()
    expected = duckdb_tpch.sql("SELECT o_orderkey, o_totalprice, o_orderstatus FROM orders").to_arrow_table()
    assert_tables_equal(back.cast(expected.schema), expected, ordered=False)
    # a single file, written with the DataFrame API
    df = tpch_remote.sql("SELECT n_nationkey, n_name FROM nation")
    assert df.write_parquet(f"{store.scheme}://lake/out/nation.parquet") == 25
    with store.filesystem().open_input_file("lake/out/nation.parquet") as f:
        names = pq.read_table(f).column("n_name").to_pylist()
    assert sorted(names) == sorted(duckdb_tpch.sql("SELECT n_name FROM nation").to_arrow_table()
                                   .column(0).to_pylist())


def test_a_missing_bucket_is_named(store):
    con = quarry.connect(workers=0, config=store.config())
    for path in (f"{store.scheme}://nobucket/x/", f"{store.scheme}://nobucket/x.parquet"):
        with pytest.raises(DataError, match="bucket `nobucket` does not exist") as info:
            con.register("t", path)
        assert "Traceback" not in str(info.value) and info.value.hint
    with pytest.raises(DataError, match="does not exist"):
        con.register("t", f"{store.scheme}://tpch/sf001/no_such_table.parquet")
    with pytest.raises(DataError, match="bucket `nobucket`"):
        con.sql(f"COPY (SELECT 1 AS x) TO '{store.scheme}://nobucket/out/x.parquet'")


def test_a_secret_reaches_the_store(store):
    con = quarry.connect(workers=0)
    if store.kind == "gcs":
        con.sql(f"CREATE SECRET lake (TYPE gcs, ENDPOINT '{store.endpoint}', USE_SSL false, ANONYMOUS true, "
                "SCOPE 'gs://tpch/')")
    else:
        con.sql(f"CREATE SECRET lake (TYPE azure, CONNECTION_STRING '{store.connection_string}', SCOPE 'az://tpch/')")
        assert store.key not in repr(con.secrets) and store.key not in repr(con.storage())
    sql = f"SELECT count(*) AS n FROM '{store.scheme}://tpch/sf001/nation.parquet'"
    assert con.sql(sql).to_arrow().column("n")[0].as_py() == 25


def test_azure_wrong_key_names_the_container(azure_server):
    wrong = azure_server.connection_string.replace(azure_server.key, "A" * 86 + "==")
    con = quarry.connect(workers=0, config={"azure_storage_connection_string": wrong})
    with pytest.raises(AccessDeniedError) as info:
        con.register("t", "az://tpch/sf001/")
    assert "bucket `tpch`" in str(info.value) and "CONNECTION_STRING" in info.value.hint
    assert "A" * 86 not in str(info.value) and azure_server.key not in str(info.value)
    shown = con.sql("SELECT current_setting('azure_storage_connection_string') AS v").to_arrow().column(0)[0].as_py()
    assert shown == "<redacted>"


def test_azure_paths_that_name_the_account(azure_server, tmp_path):
    root = tmp_path / "named"
    for d in (1, 2):
        (root / f"day=2024-01-0{d}").mkdir(parents=True)
        pq.write_table(pa.table({"id": pa.array(range(d * 10), pa.int64())}), root / f"day=2024-01-0{d}" / "p.parquet")
    azure_server.create_bucket("named")
    azure_server.upload_dir(str(root), "named/events")
    account = azure_server.account
    # the account comes from each path, not from the settings
    con = quarry.connect(workers=0, config={"azure_storage_connection_string": azure_server.connection_string.replace(
        f"AccountName={account};", "")})
    for path in (f"abfss://named@{account}.dfs.core.windows.net/events/day=2024-01-02/p.parquet",
                 f"az://{account}.blob.core.windows.net/named/events/day=2024-01-02/p.parquet"):
        assert con.sql(f"SELECT count(*) AS n FROM '{path}'").to_arrow().column("n")[0].as_py() == 20
    con.register("events", f"abfss://named@{account}.dfs.core.windows.net/events/")
    assert con.sql("SELECT count(*) AS n FROM events WHERE day = DATE '2024-01-01'").to_arrow() \
        .column("n")[0].as_py() == 10
    with pytest.raises(DataError, match="no Azure storage account"):
        con.register("t", "az://named/events/")


def test_secrets_of_other_types_refuse_what_quarry_cannot_do():
    con = quarry.connect(workers=0)
    with pytest.raises(QuarryError, match="Not supported: KEY_ID / SECRET \\(HMAC keys\\)") as info:
        con.sql("CREATE SECRET g (TYPE gcs, KEY_ID 'a', SECRET 'hidden-value')")
    assert "hidden-value" not in str(info.value)
    with pytest.raises(QuarryError, match="Not supported: CREATE SECRET option `REGION` in a secret of TYPE `azure`"):
        con.sql("CREATE SECRET a (TYPE azure, REGION 'x')")
    with pytest.raises(QuarryError, match="SCOPE is a gs:// prefix"):
        con.sql("CREATE SECRET g (TYPE gcs, ANONYMOUS true, SCOPE 's3://x/')")
    with pytest.raises(QuarryError, match="connection string") as info:
        con.sql("CREATE SECRET a (TYPE azure, CONNECTION_STRING 'AccountKey-hidden-value')")
    assert "hidden-value" not in str(info.value)
    with pytest.raises(QuarryError, match="Not supported: secrets of TYPE `hdfs`"):
        con.sql("CREATE SECRET h (TYPE hdfs)")


def test_hdfs_without_libhdfs_is_a_clear_error():
    import os
    if os.environ.get("ARROW_LIBHDFS_DIR") or os.environ.get("HADOOP_HOME"):
        pytest.skip("this machine may have libhdfs")
    con = quarry.connect(workers=0)
    with pytest.raises(QuarryError, match="Not supported: HDFS paths .*libhdfs") as info:
        con.register("t", "hdfs://namenode:8020/warehouse/t/")
    assert "HADOOP_HOME" in info.value.hint


def test_connection_strings_become_pyarrows_options():
    # the two shapes Microsoft documents: Azure's own endpoints (EndpointSuffix) and an emulator's
    # BlobEndpoint; pyarrow takes an authority starting with "." as Azure's "<account><authority>"
    from quarry.catalog.filesystems import AzureCredentials
    cred = AzureCredentials.from_connection_string(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net")
    assert cred.filesystem_options() == {
        "account_name": "acct", "account_key": "a2V5", "blob_storage_authority": ".blob.core.windows.net",
        "blob_storage_scheme": "https", "dfs_storage_authority": ".dfs.core.windows.net", "dfs_storage_scheme": "https"}
    # a path naming another account (abfss://c@other.dfs.core.windows.net/) is reached on its own host
    assert cred.filesystem_options("other")["blob_storage_authority"] == ".blob.core.windows.net"
    cred = AzureCredentials.from_connection_string(
        "AccountName=devstoreaccount1;SharedAccessSignature=?sv=1&sig=x;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1")
    options = cred.filesystem_options()
    assert options["sas_token"] == "sv=1&sig=x" and "account_key" not in options
    assert options["blob_storage_authority"] == options["dfs_storage_authority"] == "127.0.0.1:10000"
    assert options["blob_storage_scheme"] == "http"
    assert "sig=x" not in repr(cred) and "a2V5" not in repr(AzureCredentials(account_key="a2V5"))


def test_delta_tables_on_azure(azure_server, duckdb_con):
    pytest.importorskip("deltalake")
    con = quarry.connect(workers=0, config=azure_server.config())
    azure_server.create_bucket("deltas")
    rows = con.sql("SELECT i AS id, i % 3 AS k FROM range(100) t(i)")
    assert rows.write_delta("az://deltas/t", partition_by=["k"]) == 100
    con.sql("SELECT i + 100 AS id, i % 3 AS k FROM range(10) t(i)").write_delta("az://deltas/t", mode="append")
    sql = "SELECT k, count(*) AS n, sum(id) AS s FROM {} GROUP BY k"
    expected = duckdb_con.sql(sql.format("(SELECT i AS id, i % 3 AS k FROM range(100) t(i) UNION ALL "
                                         "SELECT i + 100, i % 3 FROM range(10) t(i))")).to_arrow_table()
    got = con.sql(sql.format("delta_scan('az://deltas/t')")).to_arrow()
    assert_tables_equal(got, expected.cast(got.schema), ordered=False)
    old = con.sql("SELECT count(*) AS n FROM delta_scan('az://deltas/t') VERSION AS OF 0").to_arrow()
    assert old.column("n")[0].as_py() == 100


def test_an_unreachable_gcs_endpoint_fails_soon_naming_the_bucket():
    import time
    con = quarry.connect(workers=0, config={"gcs_endpoint": "127.0.0.1:1", "gcs_use_ssl": False,
                                            "gcs_anonymous": True, "gcs_retry_seconds": 1})
    started = time.perf_counter()
    with pytest.raises(DataError, match="storage endpoint of bucket `lake` is not reachable") as info:
        con.register("t", "gs://lake/events/")
    assert time.perf_counter() - started < 15           # not Google's 15 minutes of retries
    assert "gcs_endpoint" in info.value.hint
