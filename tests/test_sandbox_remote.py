"""The servers' file sandbox covers object-store paths: only the configured prefixes, the same refusal."""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest

import quarry
from quarry.catalog.sandbox import FileSandbox
from quarry.errors import AccessDeniedError

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
BOX = FileSandbox(["s3://lake/public/"], remote_writable=["s3://lake/out"])


@pytest.mark.parametrize("path", ["s3://lake/public/x.parquet", "s3://lake/public/a/b/*.parquet", "S3://lake/public/",
                                  "s3://lake/public", "s3://lake/out/q.parquet"])
def test_reads_under_an_allowed_prefix(path):
    BOX.check_read(path)


@pytest.mark.parametrize("path", ["s3://lake/publicity/x.parquet", "s3://lake/public/../private/x.parquet",
                                  "s3://lake/public/./x.parquet", "s3://lake/*/x.parquet", "s3://lake//public/x",
                                  "s3://other/public/x.parquet", "gs://lake/public/x.parquet", "s3://lake",
                                  "s3://lake/public/*/../../private/x"])
def test_every_other_remote_path_is_refused_with_one_text(path):
    with pytest.raises(AccessDeniedError) as info:
        BOX.check_read(path)
    assert str(info.value).splitlines()[0] == f"Access error: access to `{path}` is not allowed"


def test_remote_writes_only_under_writable_prefixes():
    BOX.check_write("s3://lake/out/daily/")
    for path in ("s3://lake/public/x.parquet", "s3://lake/out/../public/x", "s3://lake/out/*.parquet",
                 "s3://elsewhere/out/x"):
        with pytest.raises(AccessDeniedError, match="not allowed"):
            BOX.check_write(path)
    with pytest.raises(AccessDeniedError, match="a table reads that file"):
        BOX.check_write("s3://lake/out/t/", in_use=["s3://lake/out/t/part-0.parquet"])
    with pytest.raises(AccessDeniedError, match="not allowed"):
        FileSandbox(["s3://lake/public/"]).check_write("s3://lake/public/x.parquet")


def test_a_restricted_session_refuses_remote_paths_before_any_request():
    con = quarry.connect(workers=0)
    con.allowed_paths = ["s3://lake/public/"]
    # no endpoint is configured: a refusal that reached the network would be another error
    for sql in ("SELECT * FROM 's3://lake/private/x.parquet'", "SELECT * FROM read_parquet('s3://x/y/*.parquet')",
                "SELECT * FROM delta_scan('s3://lake/private/t')"):
        with pytest.raises(AccessDeniedError, match="is not allowed"):
            con.sql(sql).to_arrow()
    with pytest.raises(AccessDeniedError, match="not allowed"):
        con.register("t", "s3://lake/private/")
    with pytest.raises(AccessDeniedError, match="CREATE SECRET is not allowed"):
        con.sql("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')")


def test_a_prefix_with_dots_is_not_a_root():
    with pytest.raises(ValueError):
        FileSandbox(["s3://lake/../x/"])


# -- the servers: clients reach only the buckets (prefixes) the server was started with ------------------

@pytest.fixture(scope="module")
def vault(s3_server, tmp_path_factory):
    """``s3://vault/public/a.parquet`` (served), ``s3://vault/private/b.parquet`` and
    ``s3://vaultother/c.parquet`` (not served); the local copy of the public file."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    s3_server.create_bucket("vault")
    s3_server.create_bucket("vaultother")
    root = tmp_path_factory.mktemp("vault")
    table = pa.table({"k": pa.array(range(100), pa.int64())})
    pq.write_table(table, root / "a.parquet")
    fs = s3_server.filesystem()
    for key in ("vault/public/a.parquet", "vault/private/b.parquet", "vaultother/c.parquet"):
        with fs.open_output_stream(key) as out:
            pq.write_table(table, out)
    return root / "a.parquet"


def _served_session(s3_server):
    """A session that reaches the store through a secret (which its clients must use, not see)."""
    served = quarry.connect(workers=0)
    served.sql(f"CREATE SECRET store (TYPE s3, KEY_ID '{s3_server.key_id}', SECRET '{s3_server.secret}', "
               f"ENDPOINT '{s3_server.endpoint}', USE_SSL false, REGION 'us-east-1')")
    return served


REFUSED_READS = ["SELECT count(*) AS n FROM 's3://vault/private/b.parquet'",
                 "SELECT count(*) AS n FROM read_parquet('s3://vault/*/b.parquet')",
                 "SELECT count(*) AS n FROM 's3://vaultother/c.parquet'",
                 "SELECT count(*) AS n FROM 's3://vault/public/../private/b.parquet'"]
REFUSED_CHANGES = {"SET s3_endpoint = 'http://127.0.0.1:1'": "changing `s3_endpoint` is not allowed",
                   "SET s3_access_key_id = 'mine'": "changing `s3_access_key_id` is not allowed",
                   "SET gcs_endpoint = '127.0.0.1:1'": "changing `gcs_endpoint` is not allowed",
                   "SET azure_storage_connection_string = 'AccountName=x'":
                       "changing `azure_storage_connection_string` is not allowed",
                   "CREATE SECRET mine (TYPE s3, KEY_ID 'a', SECRET 'b')": "CREATE SECRET is not allowed",
                   "DROP SECRET store": "DROP SECRET is not allowed"}


def test_flight_sql_clients_read_only_the_served_prefix(s3_server, vault):
    import duckdb
    adbc = pytest.importorskip("adbc_driver_flightsql.dbapi")
    from quarry.server import serve
    # even an admin client: the refusals are the sandbox's, not a role's
    server = serve(_served_session(s3_server), "127.0.0.1", 0, data_dirs=["s3://vault/public/"], block=False,
                   anonymous_role="admin")
    try:
        def run(sql):
            with adbc.connect(f"grpc://127.0.0.1:{server.port}", autocommit=True) as con, con.cursor() as cur:
                cur.execute(sql)
                return cur.fetch_arrow_table()
        expected = duckdb.sql(f"SELECT count(*) AS n, sum(k) AS s FROM '{vault}'").fetchall()
        got = run("SELECT count(*) AS n, sum(k) AS s FROM 's3://vault/public/a.parquet'").to_pylist()
        assert [(r["n"], r["s"]) for r in got] == expected
        for sql in REFUSED_READS:
            with pytest.raises(adbc.Error, match="is not allowed"):
                run(sql)
        for sql, message in REFUSED_CHANGES.items():
            with pytest.raises(adbc.Error, match=message) as info:
                run(sql)
            assert s3_server.secret not in str(info.value)
        # the refusals changed nothing: the next client still reads through the server's secret
        assert run("SELECT count(*) AS n FROM 's3://vault/public/a.parquet'").to_pylist() == [{"n": expected[0][0]}]
    finally:
        server.shutdown()


def test_spark_connect_clients_read_only_the_served_prefix(s3_server, vault):
    import duckdb
    pytest.importorskip("pyspark")
    import quarry.spark
    from pyspark.sql import SparkSession
    server = quarry.spark.serve(_served_session(s3_server), "127.0.0.1", 0, data_dirs=["s3://vault/public/"],
                                anonymous_role="admin")
    spark = SparkSession.builder.remote(server.url).create()
    try:
        expected = duckdb.sql(f"SELECT count(*) AS n, sum(k) AS s FROM '{vault}'").fetchall()
        row = spark.read.parquet("s3://vault/public/a.parquet").selectExpr("count(*) AS n", "sum(k) AS s").collect()[0]
        assert (row["n"], row["s"]) == expected[0]
        for path in ("s3://vault/private/b.parquet", "s3://vaultother/c.parquet", "s3://vault/public/../private/"):
            with pytest.raises(Exception, match="is not allowed"):
                spark.read.parquet(path).collect()
        for sql in REFUSED_READS:
            with pytest.raises(Exception, match="is not allowed"):
                spark.sql(sql).collect()
        for sql, message in REFUSED_CHANGES.items():
            # Spark SQL has no SECRET statements: those are refused before they reach the sandbox
            with pytest.raises(Exception, match=message + ("|`(CREATE|DROP)` statements are not supported"
                                                           if "SECRET" in sql else "")) as info:
                spark.sql(sql).collect()
            assert s3_server.secret not in str(info.value)
        assert spark.sql("SELECT count(*) AS n FROM 's3://vault/public/a.parquet'").collect()[0]["n"] == expected[0][0]
    finally:
        spark.stop()
        server.stop(0)


def test_spark_connect_clients_use_only_the_servers_iceberg_catalogs(tmp_path):
    pytest.importorskip("pyspark")
    pytest.importorskip("pyiceberg")
    pytest.importorskip("sqlalchemy", minversion="2.0")
    import pyarrow as pa
    import quarry.spark
    from pyiceberg.catalog.sql import SqlCatalog
    from pyspark.sql import SparkSession
    catalog = SqlCatalog("lake", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}")
    catalog.create_namespace("db")
    table = catalog.create_table("db.t", schema=pa.schema([("id", pa.int64())]))
    table.append(pa.table({"id": pa.array([1, 2, 3], pa.int64())}))
    expected = table.scan().to_arrow()                      # what pyiceberg reads
    location = table.metadata.location[len("file://"):]
    served = quarry.connect(workers=0)
    served.register_iceberg_catalog("lake", catalog)
    data = tmp_path / "served"
    data.mkdir()
    server = quarry.spark.serve(served, "127.0.0.1", 0, data_dirs=[str(data)], anonymous_role="admin")
    spark = SparkSession.builder.remote(server.url).create()
    try:
        row = spark.sql("SELECT count(*) AS n, sum(id) AS s FROM lake.db.t").collect()[0]
        assert (row["n"], row["s"]) == (expected.num_rows, pa.compute.sum(expected.column("id")).as_py())
        for sql in (f"SELECT * FROM iceberg_scan('{location}')",          # the table by path: outside the data
                    f"ATTACH '' AS mine (TYPE iceberg, URI 'sqlite:///{tmp_path}/catalog.db')", "DETACH lake"):
            # (Spark SQL has no ATTACH: a syntax error there; quarry's own SQL refuses it as not allowed)
            with pytest.raises(Exception, match="not allowed|statements are not supported|syntax error"):
                spark.sql(sql).collect()
        with pytest.raises(Exception, match="names no registered Iceberg catalog|does not exist"):
            spark.sql("SELECT * FROM iceberg_scan('other.db.t')").collect()
        assert spark.sql("SELECT count(*) AS n FROM lake.db.t").collect()[0]["n"] == expected.num_rows
    finally:
        spark.stop()
        server.stop(0)


def test_quarry_spark_connect_serves_an_object_store_prefix(s3_server, vault, tmp_path):
    # the command line: `quarry spark-connect --data s3://...`, the store reached through the AWS environment
    import os
    import socket
    import subprocess
    import sys
    import time
    import duckdb
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3_server.key_id, AWS_SECRET_ACCESS_KEY=s3_server.secret,
               AWS_ENDPOINT_URL=s3_server.url, AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    for name in [n for n in env if n.startswith(("SPARK_", "PYSPARK_"))]:
        del env[name]            # a client session in this process set them; the server is no client
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "cli.main", "spark-connect", "--data", "s3://vault/public/",
                                    "--host", "127.0.0.1", "--port", str(port), "--workers", "0"],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(REPO_ROOT))
    try:
        deadline = time.monotonic() + 60
        while "serving Spark Connect" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert "(1 tables" in log.read_text()
        spark = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").create()
        try:
            expected = duckdb.sql(f"SELECT count(*) AS n, sum(k) AS s FROM '{vault}'").fetchall()[0]
            row = spark.sql("SELECT count(*) AS n, sum(k) AS s FROM a").collect()[0]
            assert (row["n"], row["s"]) == expected
            with pytest.raises(Exception, match="is not allowed"):
                spark.read.parquet("s3://vault/private/b.parquet").collect()
        finally:
            spark.stop()
    finally:
        process.terminate()
        process.wait(15)


def test_spark_connect_writes_and_reads_object_store_paths_inside_the_sandbox(s3_server, vault):
    import duckdb
    pytest.importorskip("pyspark")
    import pyarrow.dataset as ds
    import quarry.spark
    from pyspark.sql import SparkSession
    from quarry.catalog.sandbox import FileSandbox
    served = _served_session(s3_server)
    served.sandbox = FileSandbox(["s3://vault/public/"], remote_writable=["s3://vault/scratch/"])
    server = quarry.spark.serve(served, "127.0.0.1", 0, anonymous_role="write")
    spark = SparkSession.builder.remote(server.url).create()
    fs = s3_server.filesystem()

    def back(prefix):
        return ds.dataset(prefix, filesystem=fs, partitioning="hive", exclude_invalid_files=True).to_table()
    try:
        source = spark.read.parquet("s3://vault/public/a.parquet")
        source.filter("k < 30").write.parquet("s3://vault/scratch/small")
        expected = duckdb.sql(f"SELECT k FROM '{vault}' WHERE k < 30").fetchall()
        assert sorted(back("vault/scratch/small").column("k").to_pylist()) == sorted(r[0] for r in expected)
        # Spark's modes: an existing path is refused, appended to, overwritten
        with pytest.raises(Exception, match="already exists"):
            source.write.parquet("s3://vault/scratch/small")
        source.filter("k >= 90").write.mode("append").parquet("s3://vault/scratch/small")
        row = spark.read.parquet("s3://vault/scratch/small").selectExpr("count(*) AS n", "sum(k) AS s").collect()[0]
        expected = duckdb.sql(f"SELECT count(*), sum(k) FROM '{vault}' WHERE k < 30 OR k >= 90").fetchall()[0]
        assert (row["n"], row["s"]) == expected
        source.filter("k >= 90").write.mode("overwrite").format("parquet").save("s3://vault/scratch/small")
        assert sorted(back("vault/scratch/small").column("k").to_pylist()) == list(range(90, 100))
        # hive folders, read back by SQL's read_parquet with the partition column
        source.selectExpr("k", "k % 3 AS m").write.partitionBy("m").parquet("s3://vault/scratch/parts")
        rows = spark.sql("SELECT m, count(*) AS n FROM read_parquet('s3://vault/scratch/parts/') GROUP BY m "
                         "ORDER BY m").collect()
        assert [(r["m"], r["n"]) for r in rows] == duckdb.sql(
            f"SELECT k % 3 AS m, count(*) FROM '{vault}' GROUP BY m ORDER BY m").fetchall()
        source.filter("k < 3").write.csv("s3://vault/scratch/csv", header=True)
        assert sorted(r["k"] for r in spark.read.csv("s3://vault/scratch/csv", header=True).collect()) == ["0", "1", "2"]
        source.filter("k < 3").write.json("s3://vault/scratch/json")
        assert sorted(r["k"] for r in spark.read.json("s3://vault/scratch/json").collect()) == [0, 1, 2]
        assert sorted(r["value"] for r in spark.read.text("s3://vault/scratch/json").collect()) == \
            ['{"k":0}', '{"k":1}', '{"k":2}']
        # outside the writable prefix: refused before any request
        for path in ("s3://vault/public/copy", "s3://vaultother/x", "s3://vault/scratch/../public/x"):
            with pytest.raises(Exception, match="is not allowed"):
                source.write.parquet(path)
        assert fs.get_file_info("vault/public/copy").type == pafs.FileType.NotFound
        # the catalog and inputFiles reach the store with the server's credentials too
        assert source.inputFiles() == ["s3://vault/public/a.parquet"]
        spark.catalog.createTable("public_a", path="s3://vault/public/a.parquet")
        assert spark.table("public_a").count() == duckdb.sql(f"SELECT count(*) FROM '{vault}'").fetchall()[0][0]
    finally:
        spark.stop()
        server.stop(0)


def test_spark_read_of_parquet_plans_a_scan_not_a_copy(s3_server, vault):
    # spark.read.parquet(...) gives a scan of the files, as SQL's read_parquet: nothing is read into
    # the server's memory before a query runs, and a query reads only the chunks it needs
    from quarry.catalog.providers import ParquetTable
    from quarry.logical.plan import Cached, Scan
    from quarry.spark.relations import read_frame
    session = _served_session(s3_server)
    frame = read_frame(session, "parquet", ["s3://vault/public/a.parquet"], {}, None)
    nodes = list(frame.logical_plan.walk())
    assert not any(isinstance(n, Cached) for n in nodes)
    (scan,) = [n for n in nodes if isinstance(n, Scan)]
    assert isinstance(scan.source, ParquetTable) and scan.source.files == ["s3://vault/public/a.parquet"]
    assert frame.filter("k = 7").to_arrow().column(0).to_pylist() == [7]
