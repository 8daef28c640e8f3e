"""Authentication, token expiry, TLS, the loopback rule and the data-directory sandbox."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import time

import pyarrow.flight as flight
import pytest

from flight_harness import REPO_ROOT, adbc, call_options, connect, free_port, query, start_server
from quarry.server.auth import hash_password
from quarry.server.flight_sql.protocol import MESSAGES, pack

TOKEN_TTL = 3


@pytest.fixture(scope="module")
def auth_server(request, tmp_path_factory, tpch_sf001):
    users = tmp_path_factory.mktemp("users") / "users.txt"
    users.write_text(f"# quarry users\nana:s3cret\nbob:{hash_password('hunter2', iterations=1000)}\n")
    return start_server(request, tmp_path_factory,
                        ["--data", str(tpch_sf001), "--users", str(users), "--token-ttl", str(TOKEN_TTL)],
                        env={"QUARRY_SERVER_USER": "eve", "QUARRY_SERVER_PASSWORD": "from-env"}, name="auth")


def test_connect_with_credentials(auth_server):
    for user, password in (("ana", "s3cret"), ("bob", "hunter2"), ("eve", "from-env")):
        table = query(auth_server, "SELECT count(*) AS n FROM region", username=user, password=password)
        assert table.to_pylist() == [{"n": 5}]


def test_wrong_password_is_unauthenticated(auth_server):
    with pytest.raises(adbc.Error, match="UNAUTHENTICATED") as info:
        connect(auth_server, username="ana", password="wrong")
    assert "invalid user name or password" in str(info.value)
    with pytest.raises(adbc.Error, match="UNAUTHENTICATED"):
        connect(auth_server, username="mallory", password="s3cret")


def test_no_credentials_is_unauthenticated(auth_server):
    with pytest.raises(adbc.Error, match="UNAUTHENTICATED"):
        query(auth_server, "SELECT 1")
    client = flight.connect(auth_server.uri)
    try:
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.get_flight_info(flight.FlightDescriptor.for_command(
                pack(MESSAGES["CommandStatementQuery"](query="SELECT 1"))), call_options())
        with pytest.raises(flight.FlightUnauthenticatedError):
            list(client.do_action(flight.Action("quarry.status", b""), call_options()))
    finally:
        client.close()


def test_handshake_answers_with_a_bearer_token(auth_server):
    client = flight.connect(auth_server.uri)
    try:
        header, value = client.authenticate_basic_token(b"ana", b"s3cret", call_options())
        assert header == b"authorization" and value.startswith(b"Bearer ")
        options = flight.FlightCallOptions(timeout=30, headers=[(header, value)])
        info = client.get_flight_info(flight.FlightDescriptor.for_command(
            pack(MESSAGES["CommandStatementQuery"](query="SELECT 42 AS x"))), options)
        assert client.do_get(info.endpoints[0].ticket, options).read_all().to_pylist() == [{"x": 42}]
        forged = flight.FlightCallOptions(timeout=30, headers=[(b"authorization", b"Bearer forged")])
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.get_flight_info(info.descriptor, forged)
        basic = base64.b64encode(b"ana:s3cret")
        with pytest.raises(flight.FlightUnauthenticatedError):   # Basic is for Handshake only
            client.get_flight_info(info.descriptor, flight.FlightCallOptions(
                timeout=30, headers=[(b"authorization", b"Basic " + basic)]))
    finally:
        client.close()


def test_tokens_expire(auth_server):
    client = flight.connect(auth_server.uri)
    try:
        header, value = client.authenticate_basic_token(b"ana", b"s3cret", call_options())
        options = flight.FlightCallOptions(timeout=30, headers=[(header, value)])
        descriptor = flight.FlightDescriptor.for_command(pack(MESSAGES["CommandStatementQuery"](query="SELECT 1")))
        client.get_flight_info(descriptor, options)
        time.sleep(TOKEN_TTL + 0.5)
        with pytest.raises(flight.FlightUnauthenticatedError, match="expired"):
            client.get_flight_info(descriptor, options)
    finally:
        client.close()


def test_open_server_refuses_a_non_loopback_host(tpch_sf001):
    result = subprocess.run([sys.executable, "-m", "quarry.server", "--data", str(tpch_sf001), "--host", "0.0.0.0",
                             "--port", str(free_port())], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "refusing to listen on `0.0.0.0` without authentication" in result.stderr


def test_tls_needs_certificate_and_key(tpch_sf001, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate")
    result = subprocess.run([sys.executable, "-m", "quarry.server", "--tls-cert", str(cert), "--port",
                             str(free_port())], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "TLS needs both" in result.stderr


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls(request, tmp_path_factory, tpch_sf001, tls_files):
    cert, key = tls_files
    tls_server = start_server(request, tmp_path_factory, ["--data", str(tpch_sf001), "--tls-cert", str(cert),
                                                          "--tls-key", str(key)], tls=True, name="tls")
    assert tls_server.uri.startswith("grpc+tls://")
    with adbc.connect(tls_server.uri, autocommit=True, db_kwargs={
            "adbc.flight.sql.client_option.tls_root_certs": cert.read_text()}) as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM nation")
        assert cur.fetchall() == [(25,)]
    # without the certificate the client cannot verify the server
    with pytest.raises(adbc.Error):
        with adbc.connect(tls_server.uri, autocommit=True) as con, con.cursor() as cur:
            cur.execute("SELECT 1")
    # and a plaintext client cannot talk to it at all
    plain = tls_server.uri.replace("grpc+tls://", "grpc://")
    with pytest.raises(adbc.Error):
        with adbc.connect(plain, autocommit=True) as con, con.cursor() as cur:
            cur.execute("SELECT 1")


# -- the data-directory sandbox (on the open server) ----------------------------------------------


def test_files_outside_the_data_directories_are_refused(server, tmp_path):
    outside = tmp_path / "outside.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"x": [1]}), outside)
    for sql in (f"SELECT * FROM read_parquet('{outside}')",
                f"SELECT * FROM '{outside}'",
                "SELECT * FROM read_parquet('/etc/passwd')",
                f"SELECT * FROM read_parquet('{REPO_ROOT}/../../etc/passwd')",
                f"CREATE TABLE sneaky USING parquet LOCATION '{outside}'",
                f"COPY (SELECT 1 AS x) TO '{tmp_path / 'written.parquet'}'"):
        with pytest.raises(adbc.Error, match="is not allowed"):
            query(server, sql)
    assert not (tmp_path / "written.parquet").exists()


def test_files_inside_the_data_directories_are_allowed(server, writable_dir, tpch_sf001):
    target = writable_dir / "copied.parquet"
    assert query(server, f"COPY (SELECT * FROM region) TO '{target}'").to_pylist() == [{"count": 5}]
    assert target.exists()
    assert query(server, f"SELECT count(*) AS n FROM '{target}'").to_pylist() == [{"n": 5}]
    table = query(server, f"SELECT count(*) AS n FROM read_parquet('{tpch_sf001 / 'nation.parquet'}')")
    assert table.to_pylist() == [{"n": 25}]
