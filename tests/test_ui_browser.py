"""The web UI in a real headless browser (Debian's chromium and chromium-driver, through selenium).

Skipped, with the reason, when selenium, chromium or chromedriver is missing (``.ci/run`` installs them
where apt-get can). Screenshots go to ``.quarry-cache/ui-screenshots/`` (or ``$QUARRY_UI_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

import quarry
from quarry.tpch import load_query, register_tables

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = os.environ.get("QUARRY_UI_SCREENSHOTS") or os.path.join(REPO, ".quarry-cache", "ui-screenshots")


def _find(*names):
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    chrome = _find("chromium", "chromium-browser", "google-chrome")
    driver_bin = _find("chromedriver")
    if chrome is None or driver_bin is None:
        pytest.skip("no headless browser: install chromium and chromium-driver (apt-get install chromium "
                    "chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(driver_bin))
    driver.implicitly_wait(0)
    os.makedirs(SHOTS, exist_ok=True)
    yield driver
    driver.quit()


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_jobs_to_stage_to_tasks_with_a_retried_worker(browser, tpch_sf001):
    from selenium.webdriver.common.by import By
    con = quarry.connect(ui=True, ui_port=0, workers=2)
    try:
        register_tables(con, tpch_sf001)
        con.sql(load_query(3)).to_arrow()
        con.inject_faults({("any", 0, 1): {"kill_after_rows": 0}})
        con.sql(load_query(1)).to_arrow()
        recorded = con.ui_recorder.state
        browser.get(con.ui_url + "/jobs/")
        browser.save_screenshot(os.path.join(SHOTS, "jobs.png"))
        rows = browser.find_elements(By.CSS_SELECTOR, "table.jobs tbody tr")
        assert len(rows) == 2
        q1 = rows[0]                                           # newest first
        assert "TPC-H Q1" in q1.text and "SUCCEEDED" in q1.text
        job = recorded.jobs[1]
        total = job["numTasks"] - job["numSkippedTasks"]
        assert f"{job['numCompletedTasks']}/{total}" in q1.text and "failed" in q1.text
        q1.find_element(By.CSS_SELECTOR, "td a").click()
        assert wait_for(lambda: "Job 1" in browser.find_element(By.TAG_NAME, "h1").text)
        nodes = browser.find_elements(By.CSS_SELECTOR, "svg.stage-dag g.node")
        assert len(nodes) == len(job["stageIds"])
        browser.save_screenshot(os.path.join(SHOTS, "job.png"))
        failed_stage = next(s for s in job["stageIds"] if recorded.stages[s]["numFailedTasks"])
        # follow the stage's link in the DAG (an SVG <a>)
        link = browser.find_element(By.CSS_SELECTOR, f'svg.stage-dag a[href$="stage/?id={failed_stage}&attempt=0"]')
        browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", link)
        assert wait_for(lambda: f"Stage {failed_stage}" in browser.find_element(By.TAG_NAME, "h1").text)
        tasks = browser.find_elements(By.CSS_SELECTOR, "table.tasks tbody tr")
        assert len(tasks) == len(recorded.tasks[failed_stage])
        first = [r.text for r in tasks if r.text.startswith("0 ")]
        assert len(first) == 2 and "FAILED" in first[0] and "killed by SIGKILL" in first[0] and "SUCCESS" in first[1]
        quantile_rows = browser.find_elements(By.CSS_SELECTOR, "table.summary tbody tr")
        assert [r.text.split()[0] for r in quantile_rows][:2] == ["Duration", "Input"]
        browser.save_screenshot(os.path.join(SHOTS, "stage.png"))
        # the SQL tab: the plan drawn with EXPLAIN ANALYZE's metrics
        browser.get(con.ui_url + "/SQL/execution/?id=1")
        plan_nodes = browser.find_elements(By.CSS_SELECTOR, "svg.plan-graph g.node")
        assert len(plan_nodes) == len(recorded.queries[1]["plan"]["nodes"])
        assert any("rows:" in n.text for n in plan_nodes)
        browser.save_screenshot(os.path.join(SHOTS, "sql.png"))
        for tab, heading in (("stages", "Stages"), ("SQL", "SQL queries"), ("storage", "Storage"),
                             ("executors", "Workers"), ("environment", "Environment")):
            browser.get(f"{con.ui_url}/{tab}/")
            assert browser.find_element(By.TAG_NAME, "h1").text == heading
            browser.save_screenshot(os.path.join(SHOTS, f"{tab.lower()}.png"))
        assert not browser.find_elements(By.CSS_SELECTOR, "main script")
    finally:
        con.close()


def test_a_running_query_updates_the_page_in_place(browser, tpch_sf001):
    from selenium.webdriver.common.by import By
    con = quarry.connect(ui=True, ui_port=0, workers=2)
    try:
        register_tables(con, tpch_sf001)
        con.on_progress(lambda p: time.sleep(0.2) if not p.finished else None)     # a slow query
        errors = []
        runner = threading.Thread(target=lambda: _run(con, load_query(5), errors))
        runner.start()
        assert wait_for(lambda: con.ui_recorder.state.jobs)
        browser.get(con.ui_url + "/jobs/job/?id=0")
        browser.execute_script("window.notReloaded = true")
        # read in one script: the page swaps its body in while it runs, so a found element may go stale
        status = lambda: browser.execute_script(                                   # noqa: E731
            "var e = document.querySelector('dl.facts dd .status'); return e && e.textContent")
        assert status() == "RUNNING"
        browser.save_screenshot(os.path.join(SHOTS, "running.png"))
        assert wait_for(lambda: status() == "SUCCEEDED", timeout=60)
        runner.join(60)
        assert not errors
        assert browser.execute_script("return window.notReloaded") is True       # updated, not reloaded
        job = con.ui_recorder.state.jobs[0]
        stage_text = browser.execute_script("return document.querySelector('svg.stage-dag').textContent")
        assert stage_text.count("COMPLETE") == len(job["stageIds"]) - job["numSkippedStages"]
    finally:
        con.close()


def _run(con, sql, errors):
    try:
        con.sql(sql).to_arrow()
    except Exception as exc:          # reported to the test thread
        errors.append(exc)
