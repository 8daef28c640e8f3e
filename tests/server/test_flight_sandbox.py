"""The file sandbox and the roles, through the real ADBC driver (issue #14's escapes, each refused).

A dedicated server serves a data directory holding a copy of ``nation.parquet``, a CSV
that does not parse and a symlink to a file outside; a second directory outside the
roots holds the files an escape would read or write. The roles server has one user per
role.
"""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest

from flight_harness import adbc, call_options, connect, query, start_server
from quarry.catalog.redaction import csv_error_text
from quarry.catalog.sandbox import FileSandbox
from quarry.errors import AccessDeniedError
from quarry.server import auth
from quarry.server.auth import Users, hash_password
from quarry.server.flight_sql.protocol import MESSAGES, pack

SECRET = "TOPSECRET-ROW"


@pytest.fixture(scope="module")
def dirs(tmp_path_factory, tpch_sf001):
    """``served`` (the data directory), ``outside`` (beyond every root) and ``writable`` (--writable)."""
    root = tmp_path_factory.mktemp("sandbox")
    served, outside, writable = root / "served", root / "outside", root / "writable"
    for d in (served, outside, writable):
        d.mkdir()
    shutil.copy(tpch_sf001 / "nation.parquet", served / "nation.parquet")
    shutil.copy(tpch_sf001 / "region.parquet", served / "region.parquet")
    (served / "broken.csv").write_text(f"a,b\n1,2\n{SECRET},x,y\n")
    (outside / "secret.csv").write_text(f"user:uid\n{SECRET}:0\n")
    pq.write_table(pa.table({"x": [1]}), outside / "secret.parquet")
    (served / "leak.csv").symlink_to(outside / "secret.csv")
    (served / "leakdir").symlink_to(outside, target_is_directory=True)
    return {"served": served, "outside": outside, "writable": writable}


@pytest.fixture(scope="module")
def box_server(request, tmp_path_factory, dirs):
    """An open server (anonymous role: write) over ``served``, writing files only into ``writable``."""
    return start_server(request, tmp_path_factory, ["--data", str(dirs["served"]), "--writable",
                                                    str(dirs["writable"])], name="sandbox")


def refusal(server, sql: str, **db_kwargs) -> str:
    """The error text of running ``sql``, which must be refused as PERMISSION_DENIED / not allowed."""
    with pytest.raises(adbc.Error) as info:
        query(server, sql, **db_kwargs)
    text = str(info.value)
    assert "not allowed" in text, text
    assert "PermissionDenied" in text, text          # gRPC PERMISSION_DENIED, as ADBC reports it
    return text


# -- reads ----------------------------------------------------------------------------------------


def test_glob_with_dotdot_cannot_read_outside(box_server, dirs):
    served = dirs["served"]
    for sql in (f"SELECT * FROM read_csv('{served}/**/../outside/secret.csv', delim=':', header=false)",
                f"SELECT * FROM read_csv('{served}/*/../../outside/secret.csv', delim=':', header=false)",
                f"SELECT * FROM read_csv('{served}/../outside/*.csv', delim=':', header=false)",
                f"SELECT * FROM read_parquet('{served}/**/../../outside/secret.parquet')",
                f"SELECT * FROM read_parquet('{served}/../outside/secret.parquet')",
                f"SELECT * FROM '{served}/../outside/secret.parquet'",
                f"SELECT * FROM '{served}/**/../../outside/secret.parquet'",
                f"CREATE TABLE sneaky USING csv LOCATION '{served}/**/../../outside/secret.csv'",
                f"CREATE TABLE sneaky USING parquet LOCATION '{dirs['outside']}/secret.parquet'"):
        assert SECRET not in refusal(box_server, sql)
    assert "sneaky" not in [r["name"] for r in query(box_server, "SHOW TABLES").to_pylist()]


def test_symlinks_out_of_the_data_directory_are_refused(box_server, dirs):
    served = dirs["served"]
    for sql in (f"SELECT * FROM '{served}/leak.csv'",
                f"SELECT * FROM read_csv('{served}/*.csv')",            # the glob's matches include the link
                f"SELECT * FROM read_parquet('{served}/leakdir/secret.parquet')",
                f"SELECT * FROM read_parquet('{served}/leakdir/*.parquet')",
                f"CREATE TABLE sneaky USING csv LOCATION '{served}/leak.csv'"):
        assert SECRET not in refusal(box_server, sql)
    # discovery at startup skipped the link too: no table serves it
    names = [r["name"] for r in query(box_server, "SHOW TABLES").to_pylist()]
    assert "leak" not in names and "nation" in names


def test_files_inside_the_roots_are_read(box_server, dirs):
    served = dirs["served"]
    assert query(box_server, f"SELECT count(*) AS n FROM '{served}/nation.parquet'").to_pylist() == [{"n": 25}]
    assert query(box_server, f"SELECT count(*) AS n FROM read_parquet('{served}/nat*.parquet')").to_pylist() == \
        [{"n": 25}]
    assert query(box_server, f"SELECT count(*) AS n FROM read_parquet('{served}/../served/nation.parquet')"
                 ).to_pylist() == [{"n": 25}]


def test_refusals_read_the_same_for_existing_and_missing_paths(box_server, dirs):
    outside, served = dirs["outside"], dirs["served"]
    for template in (f"SELECT * FROM read_parquet('{outside}/NAME.parquet')",
                     f"SELECT * FROM '{outside}/NAME.parquet'",
                     f"SELECT * FROM '{served}/../outside/NAME.parquet'",
                     f"SELECT * FROM read_csv('{served}/**/../../outside/NAME.csv')",
                     f"SELECT * FROM read_parquet('{served}/leakdir/NAME.parquet')",
                     f"CREATE TABLE t USING parquet LOCATION '{outside}/NAME.parquet'"):
        existing, missing = (refusal(box_server, template.replace("NAME", name)) for name in ("secret", "absent"))
        assert (outside / "secret.parquet").exists() and not (outside / "absent.parquet").exists()
        assert existing.replace("secret", "NAME") == missing.replace("absent", "NAME")


def test_csv_errors_do_not_echo_the_file(box_server, dirs):
    with pytest.raises(adbc.Error) as info:
        query(box_server, f"SELECT * FROM read_csv('{dirs['served']}/broken.csv')")
    text = str(info.value)
    assert SECRET not in text
    assert "Expected 2 columns, got 3" in text and "row contents not shown" in text


# -- writes ---------------------------------------------------------------------------------------


def test_two_step_glob_directory_write_escape_is_refused(box_server, dirs):
    for base in (dirs["served"], dirs["writable"]):
        refusal(box_server, f"COPY (SELECT 1 AS x) TO '{base}/d*/seed.parquet'")
        refusal(box_server, f"COPY (SELECT 'pwned' AS x) TO '{base}/d*/../../outside/evil.csv'")
        assert not (base / "d*").exists()
    refusal(box_server, f"COPY (SELECT 'pwned' AS x) TO '{dirs['writable']}/../outside/evil.csv'")
    assert not (dirs["outside"] / "evil.csv").exists()


def test_a_served_file_survives_a_copy_aimed_at_it(box_server, dirs):
    target = dirs["served"] / "nation.parquet"
    before = target.read_bytes()
    refusal(box_server, f"COPY (SELECT 'pwned' AS x) TO '{target}'")
    refusal(box_server, f"COPY (SELECT 'pwned' AS x) TO '{dirs['served']}/new.parquet'")   # data is read-only
    assert target.read_bytes() == before
    assert not (dirs["served"] / "new.parquet").exists()
    assert query(box_server, "SELECT count(*) AS n, min(n_name) AS first FROM nation").to_pylist() == \
        [{"n": 25, "first": "ALGERIA"}]


def test_writes_go_into_the_writable_directory_only(box_server, dirs):
    writable = dirs["writable"]
    assert query(box_server, f"COPY (SELECT * FROM region) TO '{writable}/out/region.parquet'").to_pylist() == \
        [{"count": 5}]
    assert pq.read_table(writable / "out" / "region.parquet").num_rows == 5
    # a symlink inside the writable directory cannot carry a write outside
    (writable / "escape").symlink_to(dirs["outside"], target_is_directory=True)
    refusal(box_server, f"COPY (SELECT 1 AS x) TO '{writable}/escape/evil.parquet'")
    assert not (dirs["outside"] / "evil.parquet").exists()
    # nor may a COPY replace a file a table reads, even inside the writable directory
    query(box_server, f"CREATE TABLE w_region USING parquet LOCATION '{writable}/out/region.parquet'")
    text = refusal(box_server, f"COPY (SELECT 1 AS x) TO '{writable}/out/region.parquet'")
    assert "a table reads that file" in text
    assert query(box_server, "SELECT count(*) AS n FROM w_region").to_pylist() == [{"n": 5}]


def test_writing_is_off_without_a_writable_directory(tpch_sf001, tmp_path, request, tmp_path_factory):
    read_only = start_server(request, tmp_path_factory, ["--data", str(tpch_sf001)], name="readonly")
    text = refusal(read_only, f"COPY (SELECT 1 AS x) TO '{tmp_path}/x.parquet'")
    assert "read-only" in text and "--writable" in text
    assert not (tmp_path / "x.parquet").exists()


def test_a_writable_directory_inside_a_data_directory_is_refused(dirs):
    import quarry
    import quarry.server
    from quarry.errors import QuarryError
    with pytest.raises(QuarryError, match="overlaps the data directory"):
        quarry.server.serve(quarry.connect(workers=0), "127.0.0.1", 0, data_dirs=[str(dirs["served"])],
                            writable_dir=str(dirs["served"]), block=False)


# -- roles ----------------------------------------------------------------------------------------

USERS = {"reader": "r-pass", "writer": "w-pass", "writer2": "w2-pass", "boss": "b-pass"}


@pytest.fixture(scope="module")
def roles_server(request, tmp_path_factory, dirs):
    users = tmp_path_factory.mktemp("roles") / "users.txt"
    users.write_text("reader:r-pass\n"                            # no role: read
                     "writer:w-pass:write\n"
                     f"writer2:{hash_password('w2-pass', iterations=1000)}:write\n"
                     f"boss:{hash_password('b-pass', iterations=2000)}:admin\n")
    writable = tmp_path_factory.mktemp("roles-writable")
    return start_server(request, tmp_path_factory, ["--data", str(dirs["served"]), "--users", str(users),
                                                    "--writable", str(writable)], name="roles")


def as_user(server, user: str, sql: str):
    return query(server, sql, username=user, password=USERS[user])


def denied(server, user: str, sql: str, role: str) -> str:
    text = refusal(server, sql, username=user, password=USERS[user])
    assert f"needs the `{role}` role" in text, text
    return text


def test_read_role_runs_queries_only(roles_server, tmp_path):
    assert as_user(roles_server, "reader", "SELECT count(*) AS n FROM nation").to_pylist() == [{"n": 25}]
    assert as_user(roles_server, "reader", "EXPLAIN SELECT 1").num_rows == 1
    for sql, role in (("CREATE TABLE r_t (x INTEGER)", "write"), ("CREATE VIEW r_v AS SELECT 1 AS x", "write"),
                      (f"COPY (SELECT 1 AS x) TO '{tmp_path}/r.parquet'", "write"),
                      ("DROP TABLE nation", "admin"), ("INSERT INTO nation SELECT * FROM nation", "admin")):
        denied(roles_server, "reader", sql, role)
    with connect(roles_server, username="reader", password=USERS["reader"]) as con, con.cursor() as cur:
        with pytest.raises(adbc.Error, match="needs the `write` role"):
            cur.adbc_ingest("r_ingest", pa.table({"x": [1]}), mode="create")
    assert "r_t" not in [r["name"] for r in as_user(roles_server, "reader", "SHOW TABLES").to_pylist()]


def test_write_role_changes_its_own_tables(roles_server):
    as_user(roles_server, "writer", "CREATE TABLE w_own AS SELECT n_nationkey FROM nation")
    as_user(roles_server, "writer", "INSERT INTO w_own VALUES (99)")
    assert as_user(roles_server, "reader", "SELECT count(*) AS n FROM w_own").to_pylist() == [{"n": 26}]
    as_user(roles_server, "writer", "CREATE OR REPLACE TABLE w_own AS SELECT 1 AS x")
    # another writer may read it but not change it; the served tables need admin
    denied(roles_server, "writer2", "INSERT INTO w_own VALUES (2)", "admin")
    denied(roles_server, "writer2", "DROP TABLE w_own", "admin")
    denied(roles_server, "writer", "DROP TABLE nation", "admin")
    denied(roles_server, "writer", "CREATE OR REPLACE TABLE nation AS SELECT 1 AS x", "admin")
    denied(roles_server, "writer", "INSERT INTO nation SELECT * FROM nation", "admin")
    with connect(roles_server, username="writer2", password=USERS["writer2"]) as con, con.cursor() as cur:
        with pytest.raises(adbc.Error, match="needs the `admin` role"):
            cur.adbc_ingest("w_own", pa.table({"x": [5]}), mode="append")
        assert cur.adbc_ingest("w2_ingest", pa.table({"x": [5]}), mode="create") == 1
        assert cur.adbc_ingest("w2_ingest", pa.table({"x": [6]}), mode="append") == 1
    as_user(roles_server, "writer", "DROP TABLE w_own")
    assert as_user(roles_server, "reader", "SELECT count(*) AS n FROM nation").to_pylist() == [{"n": 25}]


def test_delete_and_update_are_changes_of_a_table(roles_server):
    """DELETE and UPDATE need what INSERT needs: the table's creator (a writer) or an admin; a reader never."""
    as_user(roles_server, "writer", "CREATE TABLE w_dml AS SELECT * FROM (VALUES (1), (2), (3)) v(x)")
    for sql in ("DELETE FROM w_dml WHERE x = 1", "UPDATE w_dml SET x = 0"):
        denied(roles_server, "reader", sql, "admin")
        denied(roles_server, "writer2", sql, "admin")
    denied(roles_server, "writer", "DELETE FROM nation", "admin")
    # a served table is files: even an admin's DELETE is refused (after the role check)
    with pytest.raises(adbc.Error, match="quarry does not rewrite files"):
        as_user(roles_server, "boss", "DELETE FROM nation WHERE n_nationkey = 1")
    assert as_user(roles_server, "reader", "SELECT sum(x) AS s FROM w_dml").to_pylist() == [{"s": 6}]
    as_user(roles_server, "writer", "DELETE FROM w_dml WHERE x = 1")
    as_user(roles_server, "writer", "UPDATE w_dml SET x = x * 10")
    assert as_user(roles_server, "reader", "SELECT sum(x) AS s FROM w_dml").to_pylist() == [{"s": 50}]
    as_user(roles_server, "writer", "DROP TABLE w_dml")


def test_a_reader_sets_only_its_own_orderings(roles_server):
    as_user(roles_server, "reader", "SET default_null_order = 'nulls_first'")
    denied(roles_server, "reader", "SET threads = 64", "admin")
    denied(roles_server, "writer", "SET memory_limit = '100GB'", "admin")


def test_admin_role_changes_any_table(roles_server, dirs):
    # even an admin cannot write into a served file: INSERT takes in-memory tables only
    before = (dirs["served"] / "nation.parquet").read_bytes()
    with pytest.raises(adbc.Error, match="only in-memory tables take INSERT"):
        as_user(roles_server, "boss", "INSERT INTO nation SELECT * FROM nation")
    assert (dirs["served"] / "nation.parquet").read_bytes() == before
    as_user(roles_server, "writer", "CREATE TABLE w_for_admin AS SELECT 1 AS x")
    as_user(roles_server, "boss", "INSERT INTO w_for_admin VALUES (2)")
    as_user(roles_server, "boss", "DROP TABLE w_for_admin")
    as_user(roles_server, "boss", "CREATE OR REPLACE TABLE region AS SELECT 'replaced' AS r_name")
    assert as_user(roles_server, "reader", "SELECT r_name FROM region").to_pylist() == [{"r_name": "replaced"}]


def test_role_refusals_are_permission_denied_for_raw_flight(roles_server):
    client = flight.connect(roles_server.uri)
    try:
        header, value = client.authenticate_basic_token(b"reader", b"r-pass", call_options())
        options = flight.FlightCallOptions(timeout=30, headers=[(header, value)])
        descriptor = flight.FlightDescriptor.for_command(
            pack(MESSAGES["CommandStatementUpdate"](query="DROP TABLE nation")))
        with pytest.raises(flight.FlightUnauthorizedError, match="needs the `admin` role|needs the `write` role"):
            writer, _ = client.do_put(descriptor, pa.schema([]), options)
            writer.close()
    finally:
        client.close()


def test_open_server_clients_have_the_write_role(box_server):
    query(box_server, "CREATE TABLE anon_t AS SELECT 1 AS x")
    query(box_server, "DROP TABLE anon_t")
    denied_text = refusal(box_server, "DROP TABLE nation")
    assert "needs the `admin` role" in denied_text


# -- units: the sandbox, the users file, login cost ------------------------------------------------


def test_sandbox_unit_checks(dirs):
    box = FileSandbox([dirs["served"]], dirs["writable"])
    box.check_read(str(dirs["served"] / "nation.parquet"))
    box.check_read([str(dirs["served"] / "region.parquet"), str(dirs["served"] / "nat*.parquet")])
    for bad in (f"{dirs['served']}/**/../../outside/secret.csv", f"{dirs['served']}/leak.csv",
                f"{dirs['served']}/leakdir", "/etc/passwd", f"{dirs['served']}/x/../../outside"):
        with pytest.raises(AccessDeniedError, match="is not allowed"):
            box.check_read(bad)
    box.check_write(str(dirs["writable"] / "new" / "f.parquet"))
    for bad in (str(dirs["writable"]), f"{dirs['writable']}/d*/x.parquet", f"{dirs['writable']}/a/../b.parquet",
                str(dirs["served"] / "nation.parquet"), str(dirs["outside"] / "x.parquet")):
        with pytest.raises(AccessDeniedError, match="not allowed"):
            box.check_write(bad)
    with pytest.raises(AccessDeniedError, match="read-only"):
        FileSandbox([dirs["served"]]).check_write(str(dirs["writable"] / "f.parquet"))
    assert csv_error_text("In CSV column #0: CSV conversion error to int64: invalid value 'root'") == \
        "In CSV column #0: CSV conversion error to int64 (row contents not shown)"


def test_users_file_roles(tmp_path):
    path = tmp_path / "users.txt"
    path.write_text("ana:plain:with:colons\nbob:pw:write\ncy:pw:admin\ndee:odd:password:read\n"
                    f"eve:{hash_password('pw', iterations=1000)}:WRITE\n")
    users = Users.load(path, environ={"QUARRY_SERVER_USER": "env", "QUARRY_SERVER_PASSWORD": "x",
                                      "QUARRY_SERVER_ROLE": "admin"})
    assert [users.role_of(u) for u in ("ana", "bob", "cy", "dee", "eve", "env", "nobody")] == \
        ["read", "write", "admin", "read", "write", "admin", "read"]
    assert users.check("ana", "plain:with:colons") and users.check("bob", "pw") and users.check("dee", "odd:password")
    assert users.check("eve", "pw")
    assert Users.load(None, environ={"QUARRY_SERVER_USER": "env", "QUARRY_SERVER_PASSWORD": "x"}).role_of("env") \
        == "read"
    with pytest.raises(ValueError, match="unknown role"):
        Users.load(None, environ={"QUARRY_SERVER_USER": "env", "QUARRY_SERVER_PASSWORD": "x",
                                  "QUARRY_SERVER_ROLE": "root"})
    path.write_text("ana:pbkdf2_sha256$notanumber$zz$zz\n")
    with pytest.raises(ValueError, match="users.txt:1: malformed"):
        Users.load(path, environ={})


def test_unknown_users_cost_the_same_pbkdf2_work(monkeypatch):
    users = Users({"slow": hash_password("pw", iterations=5000), "cheap": hash_password("pw", iterations=1000),
                   "plain": "pw"})
    spent: list[int] = []
    real = auth._pbkdf2

    def counting(password, salt, iterations):
        spent.append(iterations)
        return real(password, salt, iterations)

    monkeypatch.setattr(auth, "_pbkdf2", counting)

    def cost(user, password):
        spent.clear()
        users.check(user, password)
        return sum(spent)

    costs = {(u, p): cost(u, p) for u in ("slow", "cheap", "plain", "nobody") for p in ("pw", "wrong")}
    assert set(costs.values()) == {5000}, costs


def test_quarry_serve_serves_an_object_store_prefix(s3_server, request, tmp_path_factory, tmp_path):
    # `quarry serve --data s3://...`: the prefix's files and folders become tables, read with the AWS
    # environment (AWS_ENDPOINT_URL for a store that is not AWS), and clients reach nothing else
    import duckdb
    s3_server.create_bucket("served")
    fs = s3_server.filesystem()
    local = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"o": pa.array(range(50), pa.int64())}), local)
    for key in ("served/public/orders.parquet", "served/public/events/day=1/part-0.parquet",
                "served/private/secret.parquet"):
        with fs.open_output_stream(key) as out:
            pq.write_table(pa.table({"o": pa.array(range(50), pa.int64())}), out)
    env = {"AWS_ACCESS_KEY_ID": s3_server.key_id, "AWS_SECRET_ACCESS_KEY": s3_server.secret,
           "AWS_ENDPOINT_URL": s3_server.url, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    server = start_server(request, tmp_path_factory, ["--data", "s3://served/public/"], env=env, name="s3served")
    assert "2 tables" in server.log()
    expected = duckdb.sql(f"SELECT count(*) AS n, sum(o) AS s FROM '{local}'").fetchall()
    for table in ("orders", "events", "'s3://served/public/orders.parquet'"):
        got = query(server, f"SELECT count(*) AS n, sum(o) AS s FROM {table}").to_pylist()
        assert [(r["n"], r["s"]) for r in got] == expected
    for sql in ("SELECT * FROM 's3://served/private/secret.parquet'", "SET s3_endpoint = 'http://127.0.0.1:1'"):
        with pytest.raises(adbc.Error, match="not allowed"):
            query(server, sql)
