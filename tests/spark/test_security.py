"""The Spark Connect server's security: tokens checked against the users file, loopback without users, the
Flight server's file sandbox, TLS."""

from __future__ import annotations

import pytest
from pyspark.errors import PySparkException

import quarry
import quarry.spark
from quarry.errors import QuarryError
from quarry.server.auth import Users


def test_no_users_means_loopback_only():
    with pytest.raises(QuarryError, match="without authentication"):
        quarry.spark.serve(quarry.connect(workers=0), "0.0.0.0", 0)


def test_a_token_is_the_users_password():
    from pyspark.sql import SparkSession
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0, users=Users({"alice": "s3cret"}))
    try:
        spark = SparkSession.builder.remote(f"sc://localhost:{server.port}/;user_id=alice;token=s3cret").create()
        assert spark.range(3).count() == 3
        spark.stop()
        wrong = SparkSession.builder.remote(f"sc://localhost:{server.port}/;user_id=alice;token=nope").create()
        try:
            with pytest.raises(PySparkException, match="invalid user or token"):
                wrong.range(1).collect()
        finally:
            wrong.stop()       # an unclosed client calls the (then stopped) server at exit, retrying for minutes
    finally:
        server.stop(0)


def test_reads_outside_the_data_directories_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import SparkSession
    inside, outside = tmp_path / "data", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    pq.write_table(pa.table({"x": [1, 2]}), inside / "in.parquet")
    pq.write_table(pa.table({"x": [3]}), outside / "out.parquet")
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0, data_dirs=[str(inside)])
    spark = SparkSession.builder.remote(server.url).create()
    try:
        assert spark.read.parquet(str(inside / "in.parquet")).count() == 2
        for path in (outside / "out.parquet", inside / ".." / "elsewhere" / "out.parquet"):
            with pytest.raises(PySparkException, match="is not allowed") as err:
                spark.read.parquet(str(path)).collect()
            assert "Traceback" not in str(err.value)
        with pytest.raises(PySparkException, match="is not allowed"):
            spark.sql(f"SELECT * FROM parquet.`{outside / 'out.parquet'}`").collect()
        # no writable directory: writes are refused too
        with pytest.raises(PySparkException, match="is not allowed"):
            spark.range(1).write.parquet(str(inside / "new"))
        assert not (inside / "new").exists()
    finally:
        spark.stop()
        server.stop(0)


_TLS_CLIENT = """
import os, sys
os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).create()
try:
    print(spark.range(4).selectExpr("sum(id) AS s").collect()[0].s)
finally:
    spark.stop()
"""


def test_tls(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0, tls_cert=str(cert), tls_key=str(key),
                                users=Users({"alice": "s3cret"}))
    script = tmp_path / "client.py"
    script.write_text(_TLS_CLIENT)
    url = f"sc://localhost:{server.port}/;use_ssl=true;user_id=alice;token=s3cret"
    # the client trusts the test certificate through gRPC's root-certificate setting
    env = dict(os.environ, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(cert))
    try:
        ok = subprocess.run([sys.executable, str(script), url], env=env, capture_output=True, text=True, timeout=120)
        assert ok.returncode == 0, ok.stderr[-2000:]
        assert ok.stdout.strip().splitlines()[-1] == "6"
        # a client that does not trust the certificate cannot connect (a raw stub: PySpark would retry)
        import grpc
        from pyspark.sql.connect.proto import base_pb2, base_pb2_grpc
        with grpc.secure_channel(f"localhost:{server.port}", grpc.ssl_channel_credentials()) as channel:
            stub = base_pb2_grpc.SparkConnectServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.Config(base_pb2.ConfigRequest(session_id="x"), timeout=10)
            assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        # nor can a plaintext one
        with grpc.insecure_channel(f"localhost:{server.port}") as channel:
            stub = base_pb2_grpc.SparkConnectServiceStub(channel)
            with pytest.raises(grpc.RpcError):
                stub.Config(base_pb2.ConfigRequest(session_id="x"), timeout=10)
    finally:
        server.stop(0)
