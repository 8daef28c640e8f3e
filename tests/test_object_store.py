"""Reading and writing s3:// against a real S3-compatible endpoint (moto's server on 127.0.0.1).

Answers are checked against DuckDB on the local copies of the same files; byte counts against
pyarrow's own reading of the Parquet footers.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import sqlglot

import quarry
from quarry.errors import AccessDeniedError, DataError, QuarryError
from quarry.physical.operators import ParquetScanExec
from quarry.testing import assert_tables_equal
from quarry.tpch import QUERY_NUMBERS, load_query

pytest.importorskip("moto")

TPCH_PREFIX = "s3://tpch/sf001"


@pytest.fixture(scope="module")
def s3(s3_server, tpch_sf001):
    """The server with TPC-H SF 0.01 in ``s3://tpch/sf001/`` and a small partitioned dataset in
    ``s3://lake/events/``; the local copy of the events is returned too."""
    s3_server.create_bucket("tpch")
    s3_server.create_bucket("lake")
    s3_server.upload_dir(str(tpch_sf001), "tpch/sf001")
    return s3_server


@pytest.fixture(scope="module")
def events(s3, tmp_path_factory):
    """Five daily partitions of 1000 rows (``day=2024-01-0N/part-0.parquet``), locally and in s3://lake/events."""
    root = tmp_path_factory.mktemp("events")
    for d in range(1, 6):
        folder = root / f"day=2024-01-0{d}"
        folder.mkdir()
        pq.write_table(pa.table({"id": pa.array(range(d * 1000, d * 1000 + 1000), pa.int64()),
                                 "v": pa.array([float(i % 97) for i in range(1000)])}), folder / "part-0.parquet")
    s3.upload_dir(str(root), "lake/events")
    return root


def _tpch_session(s3, **kwargs):
    con = quarry.connect(config=s3.config(), **kwargs)
    for name in _TABLES:
        con.register(name, f"{TPCH_PREFIX}/{name}.parquet")
    return con


_TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


@pytest.fixture(scope="module")
def tpch_s3(s3):
    # two worker processes: the stages read s3:// on the workers, with the credentials the plan carries
    return _tpch_session(s3, workers=2)


@pytest.mark.parametrize("n", QUERY_NUMBERS)
def test_tpch_from_s3_matches_duckdb(n, tpch_s3, duckdb_tpch):
    sql = load_query(n)
    expected = duckdb_tpch.sql(sql).to_arrow_table()
    actual = tpch_s3.sql(sql).to_arrow()
    assert_tables_equal(actual, expected, ordered=sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None)


def _scans(con, sql):
    from quarry.execution.executor import run_physical
    from quarry.physical.base import ExecContext
    df = con.sql(sql)
    physical = con.physical_plan(con.optimize(df.logical_plan))
    table = run_physical(physical, ExecContext(con.exec_config()))
    table = table.rename_columns([f.name for f in df.logical_plan.schema])
    return table, [n for n in physical.walk() if isinstance(n, ParquetScanExec)]


def test_three_of_sixteen_columns_fetch_only_their_chunks(s3, tpch_sf001):
    con = quarry.connect(workers=0, config=s3.config())
    con.register("lineitem", f"{TPCH_PREFIX}/lineitem.parquet")
    table, (scan,) = _scans(con, "SELECT sum(l_quantity) AS q, sum(l_extendedprice) AS p, max(l_shipdate) AS d "
                                 "FROM lineitem")
    meta = pq.ParquetFile(os.path.join(tpch_sf001, "lineitem.parquet")).metadata
    assert meta.num_columns == 16
    wanted = {"l_quantity", "l_extendedprice", "l_shipdate"}
    chunk_bytes = sum(meta.row_group(r).column(c).total_compressed_size for r in range(meta.num_row_groups)
                      for c in range(meta.num_columns) if meta.row_group(r).column(c).path_in_schema in wanted)
    file_bytes = os.path.getsize(os.path.join(tpch_sf001, "lineitem.parquet"))
    fetched = scan.metrics["bytes_fetched"]
    # the three chunks (pre_buffer may round a range up a little), far from the whole file
    assert chunk_bytes <= fetched <= chunk_bytes * 1.1 + 4096
    assert fetched < file_bytes * 0.35
    # one request to open each file and a few coalesced ranged reads, not one per page
    assert 1 <= scan.metrics["requests"] <= 1 + 3 * meta.num_row_groups
    expected = pq.read_table(os.path.join(tpch_sf001, "lineitem.parquet"), columns=sorted(wanted))
    assert table.column("q")[0].as_py() == pa.compute.sum(expected.column("l_quantity")).as_py()


def test_worker_processes_report_bytes_and_requests_in_explain_analyze(tpch_s3, tpch_sf001):
    import re
    text = tpch_s3.sql("SELECT sum(l_quantity) AS q, sum(l_extendedprice) AS p, max(l_shipdate) AS d "
                       "FROM lineitem").explain_string("analyze")
    (line,) = [ln for ln in text.splitlines() if "ParquetScan:" in ln]
    fetched = int(re.search(r"bytes_fetched=(\d+)", line).group(1))
    requests = int(re.search(r"requests=(\d+)", line).group(1))
    meta = pq.ParquetFile(os.path.join(tpch_sf001, "lineitem.parquet")).metadata
    wanted = {"l_quantity", "l_extendedprice", "l_shipdate"}
    chunk_bytes = sum(meta.row_group(r).column(c).total_compressed_size for r in range(meta.num_row_groups)
                      for c in range(meta.num_columns) if meta.row_group(r).column(c).path_in_schema in wanted)
    # the tasks' counters, summed over the worker processes: the three columns' chunks, a few requests
    assert chunk_bytes <= fetched <= chunk_bytes * 1.1 + 4096 * 2
    assert 1 <= requests <= 2 + 3 * meta.num_row_groups


def test_glob_reads_only_the_matching_files(s3, events, duckdb_con):
    con = quarry.connect(workers=0, config=s3.config())
    table, (scan,) = _scans(con, "SELECT count(*) AS n, sum(v) AS s FROM "
                                 "read_parquet('s3://lake/events/day=2024-01-0[24]/*.parquet')")
    assert scan.metrics["files"] == 2
    expected = duckdb_con.sql(f"SELECT count(*) AS n, sum(v) AS s FROM "
                              f"read_parquet('{events}/day=2024-01-0[24]/*.parquet')").to_arrow_table()
    assert_tables_equal(table, expected, ordered=False)


def test_hive_partitions_prune_files_on_s3(s3, events, duckdb_con):
    con = quarry.connect(workers=0, config=s3.config())
    con.register("events", "s3://lake/events/")
    sql = "SELECT day, count(*) AS n, min(id) AS lo FROM events WHERE day = DATE '2024-01-03' GROUP BY day"
    table, (scan,) = _scans(con, sql)
    assert scan.metrics["files"] == 5
    assert scan.metrics["row_groups_skipped"] == 4
    # only the one partition's file was opened
    assert scan.metrics["requests"] <= 3
    expected = duckdb_con.sql(sql.replace("FROM events", f"FROM read_parquet('{events}/*/*.parquet', "
                                                         "hive_partitioning = true)")).to_arrow_table()
    assert_tables_equal(table, expected.cast(table.schema), ordered=False)


def test_row_group_statistics_prune_on_s3(s3, tmp_path):
    local = tmp_path / "sorted.parquet"
    pq.write_table(pa.table({"k": pa.array(range(10_000), pa.int64())}), local, row_group_size=1000)
    pafs.copy_files(str(local), "lake/sorted/sorted.parquet", destination_filesystem=s3.filesystem())
    con = quarry.connect(workers=0, config=s3.config())
    table, (scan,) = _scans(con, "SELECT count(*) AS n FROM 's3://lake/sorted/sorted.parquet' WHERE k >= 2500 AND k < 4000")
    assert table.column("n")[0].as_py() == 1500
    assert scan.metrics["row_groups_skipped"] == 8


def test_footers_are_cached_per_file(s3, monkeypatch):
    from quarry.catalog import filesystems
    con = quarry.connect(workers=0, config=s3.config())
    con.register("orders", f"{TPCH_PREFIX}/orders.parquet")
    footers = []
    real = filesystems._read_footer
    monkeypatch.setattr(filesystems, "_read_footer", lambda source: footers.append(source) or real(source))
    con.register("orders2", f"{TPCH_PREFIX}/orders.parquet")
    assert footers == []                        # same size and ETag: the footer came from the cache
    filesystems.clear_footer_cache()
    con.register("orders3", f"{TPCH_PREFIX}/orders.parquet")
    assert len(footers) == 1


class _InFlight:
    """Wraps a function to count how many calls run at the same time (each call lingers a little)."""

    def __init__(self, real):
        import threading
        self.real, self.now, self.most, self.calls = real, 0, 0, 0
        self.lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        import time
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.2)
            return self.real(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


def test_listing_and_footer_fetches_run_concurrently(s3, events, monkeypatch, duckdb_con):
    from quarry.catalog import filesystems
    filesystems.clear_footer_cache()
    listing = _InFlight(filesystems.list_location)
    opening = _InFlight(filesystems.open_input)
    monkeypatch.setattr(filesystems, "list_location", listing)
    monkeypatch.setattr(filesystems, "open_input", opening)
    con = quarry.connect(workers=0, config=s3.config())
    con.register("days", [f"s3://lake/events/day=2024-01-0{d}/part-0.parquet" for d in range(1, 6)])
    assert listing.calls == 5 and listing.most >= 2            # each location listed once, at once
    assert opening.calls == 5 and opening.most >= 2          # the five footers were fetched at once
    expected = duckdb_con.sql(f"SELECT count(*) AS n, sum(v) AS s FROM read_parquet('{events}/*/*.parquet')")
    assert_tables_equal(con.sql("SELECT count(*) AS n, sum(v) AS s FROM days").to_arrow(),
                        expected.to_arrow_table(), ordered=False)


def test_footer_fetches_of_a_prefix_are_bounded_by_remote_io_threads(s3, monkeypatch, duckdb_con, tmp_path):
    # a prefix of 16 files: with an artificial latency of 0.2 s per open (the HEAD before the footer),
    # the opens overlap up to remote_io_threads at a time, and one thread opens them one by one
    import time
    from quarry.catalog import filesystems
    local = tmp_path / "many"
    local.mkdir()
    for i in range(16):
        pq.write_table(pa.table({"i": pa.array([i] * 10, pa.int64())}), local / f"f{i:02d}.parquet")
    s3.upload_dir(str(local), "lake/many")
    expected = duckdb_con.sql(f"SELECT count(*) AS n, sum(i) AS s FROM '{local}/*.parquet'").to_arrow_table()
    for threads in (4, 1):
        filesystems.clear_footer_cache()
        opening = _InFlight(filesystems.open_input)
        monkeypatch.setattr(filesystems, "open_input", opening)
        con = quarry.connect(workers=0, config=s3.config())
        con.sql(f"SET remote_io_threads = {threads}")
        started = time.perf_counter()
        con.register("many", "s3://lake/many/")
        took = time.perf_counter() - started
        assert opening.calls == 16 and opening.most == threads
        assert took >= 16 / threads * 0.2 * 0.9
        if threads == 4:
            assert took < 16 * 0.2 * 0.6              # far less than one at a time
        assert_tables_equal(con.sql("SELECT count(*) AS n, sum(i) AS s FROM many").to_arrow(), expected,
                            ordered=False)
        monkeypatch.setattr(filesystems, "open_input", opening.real)
    with pytest.raises(QuarryError, match="at least 1"):
        quarry.connect(workers=0).sql("SET remote_io_threads = 0")


def _same_size_tables():
    """Two tables whose Parquet files have the same size but other values (and statistics)."""
    a = pa.table({"k": pa.array(range(0, 1000), pa.int64())})
    b = pa.table({"k": pa.array(range(5000, 6000), pa.int64())})
    return a, b


def _put(s3, key, table):
    with s3.filesystem().open_output_stream(key) as f:
        pq.write_table(table, f, compression="none", use_dictionary=False)
    return s3.filesystem().get_file_info(key).size


def test_an_object_rewritten_in_place_invalidates_its_cached_footer(s3, duckdb_con):
    a, b = _same_size_tables()
    size_a = _put(s3, "lake/rewritten/x.parquet", a)
    con = quarry.connect(workers=0, config=s3.config())
    sql = "SELECT count(*) AS n, sum(k) AS s, min(k) AS lo FROM '{}' WHERE k >= 500"
    uri = "s3://lake/rewritten/x.parquet"
    first = con.sql(sql.format(uri)).to_arrow()
    duckdb_con.register("a", a)
    assert_tables_equal(first, duckdb_con.sql(sql.format("a").replace("'a'", "a")).to_arrow_table(), ordered=False)
    con.register("old", uri)
    # the same key, the same size (moto lists no mtime): only the ETag tells the files apart
    assert _put(s3, "lake/rewritten/x.parquet", b) == size_a
    second = con.sql(sql.format(uri)).to_arrow()
    duckdb_con.register("b", b)
    assert_tables_equal(second, duckdb_con.sql(sql.format("b").replace("'b'", "b")).to_arrow_table(), ordered=False)
    assert second.column("lo")[0].as_py() == 5000
    # a table planned on the old object is not read with the old footer's offsets
    with pytest.raises(DataError, match="changed since the table was planned"):
        con.sql("SELECT sum(k) FROM old").to_arrow()


def test_wrong_credentials_name_the_bucket(s3):
    con = quarry.connect(workers=0, config=dict(s3.config(), s3_secret_access_key="not-the-secret-123"))
    with pytest.raises(AccessDeniedError) as info:
        con.sql(f"SELECT count(*) FROM '{TPCH_PREFIX}/orders.parquet'").to_arrow()
    text = str(info.value)
    assert "bucket `tpch`" in text and "credentials" in text
    assert "not-the-secret-123" not in text and "Traceback" not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    con = quarry.connect(workers=0, config=dict(s3.config(), s3_access_key_id="AKIANOSUCHKEY"))
    with pytest.raises(AccessDeniedError, match="bucket `tpch`"):
        con.register("o", f"{TPCH_PREFIX}/orders.parquet")


def test_missing_bucket_and_key_are_clear(s3):
    con = quarry.connect(workers=0, config=s3.config())
    with pytest.raises(DataError, match="does not exist"):
        con.register("o", "s3://tpch/sf001/no_such_table.parquet")
    with pytest.raises(DataError, match="bucket `nobucket` does not exist"):
        con.register("o", "s3://nobucket/x/")


def test_create_secret_reaches_the_store_and_is_never_printed(s3):
    con = quarry.connect(workers=0)
    con.sql(f"CREATE SECRET lake (TYPE s3, KEY_ID '{s3.key_id}', SECRET '{s3.secret}', "
            f"ENDPOINT '{s3.endpoint}', USE_SSL false, REGION 'us-east-1')")
    assert con.sql(f"SELECT count(*) AS n FROM '{TPCH_PREFIX}/nation.parquet'").to_arrow().column(0)[0].as_py() == 25
    plan = con.sql(f"EXPLAIN ANALYZE SELECT count(*) FROM '{TPCH_PREFIX}/nation.parquet'").to_arrow()
    assert s3.secret not in str(plan.to_pylist())
    assert s3.secret not in repr(con.secrets) and s3.secret not in repr(con.storage())
    # a scoped secret wins over an unscoped one for its prefix
    con.sql("CREATE SECRET wrong (TYPE s3, KEY_ID 'nobody', SECRET 'nothing', ENDPOINT "
            f"'{s3.endpoint}', USE_SSL false, SCOPE 's3://tpch/sf001/region')")
    with pytest.raises(AccessDeniedError) as info:
        con.sql(f"SELECT * FROM '{TPCH_PREFIX}/region.parquet'").to_arrow()
    assert "nothing" not in str(info.value)
    con.sql("DROP SECRET wrong")
    assert con.sql(f"SELECT count(*) FROM '{TPCH_PREFIX}/region.parquet'").to_arrow().column(0)[0].as_py() == 5


def test_secret_statements_refuse_what_they_do_not_know():
    con = quarry.connect(workers=0)
    with pytest.raises(QuarryError, match="Not supported: PERSISTENT"):
        con.sql("CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'hidden-value')")
    with pytest.raises(QuarryError, match="Not supported: CREATE SECRET option `PASSWORD`") as info:
        con.sql("CREATE SECRET s (TYPE s3, PASSWORD 'hidden-value')")
    assert "hidden-value" not in str(info.value)
    with pytest.raises(QuarryError, match="TYPE `gcs`"):
        con.sql("CREATE SECRET s (TYPE gcs, KEY_ID 'a', SECRET 'hidden-value')")


def test_secret_settings_are_redacted():
    con = quarry.connect(workers=0, s3_secret_access_key="topsecret-1")
    shown = con.sql("SELECT current_setting('s3_secret_access_key') AS v").to_arrow().column(0)[0].as_py()
    assert shown == "<redacted>"


# -- writes -------------------------------------------------------------------------------------------

def _visible(s3, prefix: str) -> list[str]:
    """Keys under ``prefix`` a reader sees (no ``_``/``.`` component below the prefix)."""
    infos = s3.filesystem().get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    rel = [i.path[len(prefix):].strip("/") for i in infos if i.type == pafs.FileType.File]
    return sorted(r for r in rel if not any(part.startswith(("_", ".")) for part in r.split("/")))


def test_copy_partitioned_to_s3_reads_back(s3, tpch_s3, duckdb_tpch):
    rows = tpch_s3.sql("COPY (SELECT o_orderkey, o_totalprice, o_orderstatus FROM orders) "
                       "TO 's3://lake/out/orders/' (FORMAT parquet, PARTITION_BY (o_orderstatus))")
    assert rows.to_arrow().column(0)[0].as_py() == 15000
    assert _visible(s3, "lake/out/orders") == [f"o_orderstatus={s}/part-0.parquet" for s in "FOP"]
    assert s3.filesystem().get_file_info("lake/out/orders/_SUCCESS").type == pafs.FileType.File
    import pyarrow.dataset as ds
    back = ds.dataset("lake/out/orders", filesystem=s3.filesystem(), partitioning="hive",
                      exclude_invalid_files=True).to_table()
    expected = duckdb_tpch.sql("SELECT o_orderkey, o_totalprice, o_orderstatus FROM orders").to_arrow_table()
    assert_tables_equal(back.select(["o_orderkey", "o_totalprice", "o_orderstatus"]).cast(expected.schema),
                        expected, ordered=False)


def test_write_parquet_file_to_s3(s3, tpch_s3):
    df = tpch_s3.sql("SELECT n_nationkey, n_name FROM nation")
    assert df.write_parquet("s3://lake/out/nation.parquet") == 25
    with s3.filesystem().open_input_file("lake/out/nation.parquet") as f:
        back = pq.read_table(f)
    assert sorted(back.column("n_name").to_pylist()) == sorted(df.to_arrow().column("n_name").to_pylist())
    assert _visible(s3, "lake/out") == ["nation.parquet"] + [p for p in _visible(s3, "lake/out") if p != "nation.parquet"]
    tpch_s3.sql("COPY (SELECT r_name FROM region) TO 's3://lake/out/region.csv'")
    with s3.filesystem().open_input_stream("lake/out/region.csv") as f:
        assert f.read().decode().splitlines()[0] == '"r_name"'


def test_failed_write_leaves_nothing_visible(s3, tpch_s3, monkeypatch):
    from quarry.catalog import writer
    real = writer._batches

    def failing(schema, batches):
        for i, batch in enumerate(real(schema, batches)):
            if i == 2:
                raise OSError("disk on fire")
            yield batch
    monkeypatch.setattr(writer, "_batches", failing)
    tpch_s3.set_config(batch_rows=1000)
    try:
        with pytest.raises(QuarryError, match="disk on fire"):
            tpch_s3.sql("SELECT * FROM lineitem").write_parquet("s3://lake/failed/", partition_by=["l_returnflag"])
    finally:
        tpch_s3.set_config(batch_rows=1 << 17)
    assert _visible(s3, "lake/failed") == []
    # the staging prefix was removed too
    infos = s3.filesystem().get_file_info(pafs.FileSelector("lake/failed", recursive=True, allow_not_found=True))
    assert [i for i in infos if i.type == pafs.FileType.File] == []


KILLED_WRITER = """
import os, signal, sys
import quarry
from quarry.catalog import writer
real = writer._batches
def killed(schema, batches):
    for i, batch in enumerate(real(schema, batches)):
        if i == 30:
            print("killed after", i, "batches", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)      # the process dies half-way through the data
        yield batch
writer._batches = killed
config = dict(s3_endpoint=sys.argv[1], s3_access_key_id=sys.argv[2], s3_secret_access_key=sys.argv[3],
              s3_region="us-east-1", batch_rows=1000)
con = quarry.connect(workers=0, config=config)
con.register("lineitem", "s3://tpch/sf001/lineitem.parquet")
con.sql("COPY lineitem TO 's3://lake/killed/' (FORMAT parquet, PARTITION_BY (l_returnflag))")
"""


def test_killed_write_leaves_nothing_visible(s3, tmp_path):
    import subprocess
    import sys
    script = tmp_path / "kill.py"
    script.write_text(KILLED_WRITER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, str(script), s3.url, s3.key_id, s3.secret], env=env, timeout=120,
                          capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    assert b"killed after 30 batches" in done.stdout          # half of lineitem's 60 batches reached the writer
    assert _visible(s3, "lake/killed") == []
    con = quarry.connect(workers=0, config=s3.config())
    with pytest.raises(DataError, match="does not exist|no data files"):
        con.register("k", "s3://lake/killed/")


def test_secrets_never_reach_the_ui_the_event_log_or_errors(s3, tmp_path):
    import json
    import urllib.request

    def get(url):
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.read().decode()
    con = quarry.connect(workers=0, ui=True, ui_port=0, event_log_dir=str(tmp_path))
    try:
        con.sql(f"CREATE SECRET lake (TYPE s3, KEY_ID '{s3.key_id}', SECRET '{s3.secret}', "
                f"ENDPOINT '{s3.endpoint}', USE_SSL false, REGION 'us-east-1')")
        con.set_config(s3_secret_access_key=s3.secret)          # the setting's value is a secret too
        sql = f"SELECT count(*) AS n FROM '{TPCH_PREFIX}/nation.parquet'"
        assert con.sql(sql).to_arrow().column("n")[0].as_py() == 25
        explained = con.sql(f"EXPLAIN ANALYZE {sql}").to_arrow()
        assert s3.secret not in str(explained.to_pylist()) and s3.secret not in con.sql(sql).explain_string("analyze")
        shown = con.sql("SELECT current_setting('s3_secret_access_key') AS v").to_arrow().column("v")[0].as_py()
        assert shown == "<redacted>"
        # a failing statement's error quotes neither the secret nor the statement's strings
        con.sql("CREATE SECRET bad (TYPE s3, KEY_ID 'nobody', SECRET 'bad-secret-456', ENDPOINT "
                f"'{s3.endpoint}', USE_SSL false, SCOPE 's3://tpch/sf001/region')")
        with pytest.raises(QuarryError) as info:
            con.sql(f"SELECT * FROM '{TPCH_PREFIX}/region.parquet'").to_arrow()
        assert "bad-secret-456" not in str(info.value) and s3.secret not in str(info.value)
        with pytest.raises(QuarryError) as info:
            con.sql(f"CREATE SECRET lake (TYPE s3, KEY_ID 'x', SECRET '{s3.secret}')")      # already exists
        assert s3.secret not in str(info.value)
        app = json.loads(get(con.ui_url + "/api/v1/applications"))[0]["id"]
        seen = [get(con.ui_url + page) for page in ("/jobs/", "/stages/", "/SQL/", "/environment/")]
        seen += [get(f"{con.ui_url}/api/v1/applications/{app}/{what}") for what in ("sql", "jobs", "environment")]
        assert any("nation.parquet" in text for text in seen)         # the queries are there
        for text in seen:
            assert s3.secret not in text and "bad-secret-456" not in text
    finally:
        con.close()
    logged = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert "nation.parquet" in logged
    assert s3.secret not in logged and "bad-secret-456" not in logged


def test_credentials_from_the_aws_environment_and_a_profile(s3, tmp_path, monkeypatch):
    # no key in the session: pyarrow's default AWS chain finds it (environment variables, then profiles)
    from quarry.catalog import filesystems
    monkeypatch.setattr(filesystems, "_FILESYSTEMS", {})          # a filesystem made now, from this environment
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")         # no instance to ask on this machine
    endpoint_only = {"s3_endpoint": s3.url, "s3_region": s3.region}
    sql = f"SELECT count(*) AS n FROM '{TPCH_PREFIX}/region.parquet'"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret)
    assert quarry.connect(workers=0, config=endpoint_only).sql(sql).to_arrow().column("n")[0].as_py() == 5
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setattr(filesystems, "_FILESYSTEMS", {})
    profiles = tmp_path / "credentials"
    profiles.write_text(f"[lake]\naws_access_key_id = {s3.key_id}\naws_secret_access_key = {s3.secret}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(profiles))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_PROFILE", "lake")
    assert quarry.connect(workers=0, config=endpoint_only).sql(sql).to_arrow().column("n")[0].as_py() == 5


def test_a_glob_over_hive_folders_keeps_the_partition_column_and_prunes(s3, events, duckdb_con):
    con = quarry.connect(workers=0, config=s3.config())
    sql = ("SELECT day, count(*) AS n, sum(v) AS s FROM read_parquet('{}') WHERE day >= DATE '2024-01-04' "
           "GROUP BY day")
    table, (scan,) = _scans(con, sql.format("s3://lake/events/day=2024-01-0*/*.parquet"))
    assert scan.metrics["files"] == 5 and scan.metrics["row_groups_skipped"] == 3
    expected = duckdb_con.sql(sql.format(f"{events}/day=2024-01-0*/*.parquet").replace(
        "*.parquet')", "*.parquet', hive_partitioning = true)")).to_arrow_table()
    assert_tables_equal(table, expected.cast(table.schema), ordered=False)
