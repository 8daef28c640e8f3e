"""The web UI (quarry.ui) over HTTP: pages, the REST API, escaping, tokens, the event log and history.

These need no browser (urllib only); tests/test_ui_browser.py drives the pages in headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest

import quarry
from quarry.errors import QuarryError
from quarry.tpch import load_query, register_tables
from quarry.ui.events import read_event_log, read_event_logs
from quarry.ui.history import serve_history

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def get(url: str, headers: dict | None = None) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=20) as r:
        return r.read().decode()


def api(con, path: str = ""):
    app = json.loads(get(con.ui_url + "/api/v1/applications"))[0]["id"]
    return json.loads(get(f"{con.ui_url}/api/v1/applications/{app}{path}"))


@pytest.fixture
def con(tpch_sf001):
    session = quarry.connect(ui=True, ui_port=0, workers=2)
    register_tables(session, tpch_sf001)
    yield session
    session.close()


def test_connect_prints_the_url_and_jobs_match_the_scheduler(tpch_sf001, capsys):
    session = quarry.connect(ui=True, ui_port=0, workers=2)
    try:
        out = capsys.readouterr().out
        assert re.fullmatch(r"quarry UI at http://127\.0\.0\.1:\d+\n", out)
        assert session.ui_url == out.split(" at ")[1].strip()
        register_tables(session, tpch_sf001)
        seen = []
        session.on_progress(seen.append)
        session.sql(load_query(3)).to_arrow()
        final = seen[-1]
        assert final.finished
        jobs = api(session, "/jobs")
        assert len(jobs) == 1
        job = jobs[0]
        assert job["status"] == "SUCCEEDED" and job["name"].startswith("-- TPC-H Q3")
        assert job["numCompletedTasks"] == final.tasks_done
        assert job["numTasks"] - job["numSkippedTasks"] == final.tasks_total
        assert len(job["stageIds"]) - job["numSkippedStages"] == final.stages_total
        stages = api(session, "/stages")
        assert sorted(s["stageId"] for s in stages) == sorted(job["stageIds"])
        done = [s for s in stages if s["status"] == "COMPLETE"]
        assert sum(s["numCompleteTasks"] for s in done) == final.tasks_done
        page = get(session.ui_url + "/jobs/")
        assert f"{final.tasks_done}/{final.tasks_total}" in page
        assert f'href="/jobs/job/?id={job["jobId"]}"' in page
        # the job page draws the stages as an SVG DAG whose edges carry the exchange kind
        detail = get(f"{session.ui_url}/jobs/job/?id={job['jobId']}")
        assert detail.count('<g class="node"') == len(job["stageIds"])
        assert re.search(r'class="edge-label"[^>]*>(hash|broadcast|gather|forward)<', detail)
        assert '<svg class="timeline"' in detail
    finally:
        session.close()


def test_query_text_is_escaped(con):
    con.sql("SELECT '<script>alert(1)</script>' AS x").to_arrow()
    for path in ("/jobs/", "/jobs/job/?id=0", "/SQL/", "/SQL/execution/?id=0", "/stages/"):
        page = get(con.ui_url + path)
        assert "<script>alert" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in get(con.ui_url + "/SQL/execution/?id=0")
    assert api(con, "/jobs")[0]["name"] == "SELECT '<script>alert(1)</script>' AS x"    # JSON keeps the text


def test_a_killed_worker_shows_as_a_failed_attempt_then_a_retry(con):
    con.inject_faults({("any", 0, 1): {"kill_after_rows": 0}})
    con.sql(load_query(1)).to_arrow()
    stages = [s for s in api(con, "/stages") if s["numFailedTasks"]]
    assert stages, "no stage saw the killed attempt"
    stage = stages[0]
    tasks = api(con, f"/stages/{stage['stageId']}/0/taskList")
    first = [t for t in tasks if t["index"] == 0]
    assert [(t["attempt"], t["status"]) for t in first] == [(0, "FAILED"), (1, "SUCCESS")]
    assert "killed by SIGKILL" in first[0]["errorMessage"]
    assert first[0]["executorId"] != first[1]["executorId"]         # a new worker replaced the dead one
    page = get(f"{con.ui_url}/stages/stage/?id={stage['stageId']}&attempt=0")
    assert "killed by SIGKILL" in page and "FAILED" in page
    assert api(con, "/jobs")[0]["status"] == "SUCCEEDED"
    workers = {w["id"]: w for w in api(con, "/executors")}
    assert workers[first[0]["executorId"]]["failedTasks"] >= 1


def test_a_failed_query_shows_its_error(con):
    con.inject_faults({("any", 0, 1): {"raise": "boom <b>"}})
    with pytest.raises(QuarryError):
        con.sql("SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1").to_arrow()
    job = api(con, "/jobs")[0]
    assert job["status"] == "FAILED" and "boom <b>" in job["errorMessage"]
    failed = [t for s in api(con, "/stages") for t in api(con, f"/stages/{s['stageId']}/0/taskList")
              if t["status"] == "FAILED"]
    assert failed and "boom <b>" in failed[0]["errorMessage"]
    assert "boom &lt;b&gt;" in get(f"{con.ui_url}/jobs/job/?id={job['jobId']}")


def test_sql_page_metrics_are_explain_analyzes(con):
    text = con.sql("EXPLAIN ANALYZE " + load_query(5)).to_arrow().column(0)[0].as_py()
    stages_part = text.split("== Stages")[1]
    explained = [int(m) for m in re.findall(r"\brows=(\d+)", stages_part)]
    # the EXPLAIN statement ran the query once (reading its status frame is a second, tiny query)
    (query,) = [q for q in api(con, "/sql") if q["description"].startswith("EXPLAIN ANALYZE")]
    ui_rows = [int(next(m["value"] for m in n["metrics"] if m["name"] == "rows")) for n in query["nodes"]]
    assert ui_rows == explained
    page = get(f"{con.ui_url}/SQL/execution/?id={query['id']}")
    assert '<svg class="dag plan-graph"' in page
    assert page.count('<g class="node"') == len(query["nodes"])
    assert f'href="/jobs/job/?id={query["successJobIds"][0]}"' in page


def test_dataframe_actions_cache_and_the_other_pages(con):
    df = con.table("lineitem").filter("l_quantity < 5")
    df.count()
    job = api(con, "/jobs")[0]
    assert job["name"] == "DataFrame.count()" and job["callSite"].startswith(__file__)
    cached = con.table("nation").cache()
    rdds = api(con, "/storage/rdd")
    assert [r["numRows"] for r in rdds] == [25]
    storage = get(con.ui_url + "/storage/")
    assert "lineitem" in storage and "25" in storage
    cached.unpersist()
    assert api(con, "/storage/rdd") == []
    executors = api(con, "/executors")
    assert executors[0]["id"] == "driver" and len([e for e in executors if e["isActive"]]) == 3
    assert "Memory (RSS)" in get(con.ui_url + "/executors/")
    env = api(con, "/environment")
    assert env["runtime"]["quarryVersion"] == quarry.__version__
    assert ["target_partitions", "2"] in env["properties"]
    assert "target_partitions" in get(con.ui_url + "/environment/")
    for path in ("/stages/", "/SQL/", "/jobs/"):
        assert "<table" in get(con.ui_url + path)
    with pytest.raises(urllib.error.HTTPError) as err:
        get(con.ui_url + "/nothing/")
    assert err.value.code == 404


def test_inline_executor_records_jobs_too(tpch_sf001):
    session = quarry.connect(ui=True, ui_port=0, workers=0)
    try:
        session.sql("SELECT 1 AS one").to_arrow()
        (job,) = api(session, "/jobs")
        assert job["status"] == "SUCCEEDED" and job["stageIds"] == []
        assert api(session, "/sql")[0]["nodes"]
    finally:
        session.close()


def test_non_loopback_needs_a_token():
    with pytest.raises(QuarryError, match="needs a token"):
        quarry.connect(ui=True, ui_port=0, ui_host="0.0.0.0")
    with pytest.raises(QuarryError, match="Not supported"):
        quarry.connect(ui_port=5000)
    session = quarry.connect(ui=True, ui_port=0, ui_host="0.0.0.0", ui_token="s3cret-token", workers=0)
    try:
        assert session.ui_url.endswith("/?token=s3cret-token")
        base = session.ui_url.split("/?")[0].replace("0.0.0.0", "127.0.0.1")
        with pytest.raises(urllib.error.HTTPError) as err:
            get(base + "/jobs/")
        assert err.value.code == 401
        with pytest.raises(urllib.error.HTTPError):
            get(base + "/api/v1/applications", {"Authorization": "Bearer wrong"})
        assert json.loads(get(base + "/api/v1/applications", {"Authorization": "Bearer s3cret-token"}))
        with urllib.request.urlopen(base + "/jobs/?token=s3cret-token") as r:
            cookie = r.headers["Set-Cookie"].split(";")[0]
        assert "Jobs" in get(base + "/stages/", {"Cookie": cookie})
    finally:
        session.close()


def test_a_taken_port_moves_to_the_next_free_one():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        session = quarry.connect(ui=True, ui_port=port, workers=0)
        try:
            assert session.ui.port > port
        finally:
            session.close()
    finally:
        blocker.close()


def test_event_log_replays_into_the_same_jobs(tpch_sf001, tmp_path):
    session = quarry.connect(ui=True, ui_port=0, workers=2, event_log_dir=str(tmp_path))
    try:
        register_tables(session, tpch_sf001)
        session.sql(load_query(3)).to_arrow()
        session.inject_faults({("any", 0, 1): {"kill_after_rows": 0}})
        session.sql(load_query(6)).to_arrow()
        live_jobs = api(session, "/jobs")
        live_tasks = api(session, f"/stages/{live_jobs[0]['stageIds'][0]}/0/taskList")
    finally:
        session.close()
    (log,) = tmp_path.iterdir()
    lines = log.read_text().splitlines()
    assert json.loads(lines[0])["Event"] == "ApplicationStart" and json.loads(lines[-1])["Event"] == "ApplicationEnd"
    # `quarry history` in its own process, reading the directory
    proc = subprocess.Popen([sys.executable, "-m", "quarry.ui.history", "--event-log", str(tmp_path), "--port", "0"],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=REPO))
    try:
        line = proc.stdout.readline()
        assert line.startswith("quarry history UI at http://127.0.0.1:"), line
        base = line.split(" at ")[1].split()[0]
        apps = json.loads(get(base + "/api/v1/applications"))
        assert len(apps) == 1 and apps[0]["attempts"][0]["completed"]
        app = apps[0]["id"]
        jobs = json.loads(get(f"{base}/api/v1/applications/{app}/jobs"))
        keys = ("jobId", "name", "status", "numTasks", "numCompletedTasks", "numFailedTasks", "stageIds")
        assert [{k: j[k] for k in keys} for j in jobs] == [{k: j[k] for k in keys} for j in live_jobs]
        tasks = json.loads(get(f"{base}/api/v1/applications/{app}/stages/{jobs[0]['stageIds'][0]}/0/taskList"))
        assert tasks == live_tasks
        assert f"/history/{app}/jobs/" in get(base + "/")
        page = get(f"{base}/history/{app}/jobs/")
        assert "TPC-H Q6" in page and f'href="/history/{app}/jobs/job/?id=1"' in page
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_a_session_killed_mid_query_leaves_a_readable_log(tpch_sf001, tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, quarry
        from quarry.tpch import register_tables, load_query
        con = quarry.connect(workers=2, event_log_dir={str(tmp_path)!r})
        register_tables(con, {str(tpch_sf001)!r})
        con.sql(load_query(6)).to_arrow()
        def die(progress):
            if progress.tasks_done >= 1:
                os.kill(os.getpid(), signal.SIGKILL)      # mid-query, as an OOM killer would
        con.on_progress(die)
        con.sql(load_query(3)).to_arrow()
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=REPO), timeout=120)
    assert proc.returncode == -signal.SIGKILL
    (app,) = read_event_logs(str(tmp_path))
    assert [j["status"] for j in sorted(app.jobs.values(), key=lambda j: j["jobId"])] == ["SUCCEEDED", "RUNNING"]
    assert app.jobs[1]["numCompletedTasks"] >= 1 and not app.app["completed"]
    # a line cut short by the kill is skipped, not an error
    log = next(tmp_path.iterdir())
    with open(log, "a") as f:
        f.write('{"Event":"TaskEnd","taskId"')
    assert len(read_event_log(str(log)).jobs) == 2


def test_history_errors_are_clear(tmp_path):
    with pytest.raises(QuarryError, match="no event logs"):
        serve_history(str(tmp_path), port=0)
    with pytest.raises(QuarryError, match="no event log directory"):
        serve_history(str(tmp_path / "missing"), port=0)


def test_a_flight_sql_servers_queries_show_their_sql_text(tpch_sf001):
    # quarry serve --ui-port: each request gets its own session, reporting to the served one's UI
    import adbc_driver_flightsql.dbapi as flight_sql
    import quarry.server
    from quarry.ui import serve_ui_for
    served = register_tables(quarry.connect(workers=2), tpch_sf001)
    server = quarry.server.serve(served, "127.0.0.1", 0, block=False)
    serve_ui_for(server, served, port=0)
    try:
        sql = "SELECT n_regionkey, count(*) AS n FROM nation GROUP BY n_regionkey ORDER BY 1"
        with flight_sql.connect(f"grpc://127.0.0.1:{server.port}", autocommit=True) as client, \
                client.cursor() as cur:
            cur.execute(sql)
            assert len(cur.fetchall()) == 5
        jobs = api(served, "/jobs")
        assert [j["name"] for j in jobs] == [sql] and jobs[0]["status"] == "SUCCEEDED"
    finally:
        server.shutdown()
        served.close()                                      # stops the UI too
