"""The UI's HTML pages, rendered from an :class:`~quarry.ui.events.AppState` (the caller holds its lock).

Every piece of text that came from a query, a setting or an error goes through :func:`h` (HTML
escaping): a query containing ``<script>`` shows as text. Each page function returns
``(title, body)``; :func:`layout` adds the tabs around the body.
"""

from __future__ import annotations

import os
import time
from html import escape
from urllib.parse import quote

from quarry.ui import svg
from quarry.ui.events import TASK_SUMS

TABS = (("jobs", "Jobs"), ("stages", "Stages"), ("SQL", "SQL"), ("storage", "Storage"),
        ("executors", "Workers"), ("environment", "Environment"))


def h(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def fmt_time(ms) -> str:
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def fmt_duration(ms) -> str:
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def fmt_bytes(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def elapsed(start, end) -> float | None:
    if not start:
        return None
    return (end or time.time() * 1000) - start


def bar(done: int, total: int, failed: int = 0, active: int = 0) -> str:
    """Succeeded/total as text and a progress bar (a <progress> element: no inline styles needed)."""
    extra = []
    if active:
        extra.append(f"{active} running")
    if failed:
        extra.append(f'<span class="failed">{failed} failed</span>')
    note = f" ({', '.join(extra)})" if extra else ""
    return (f'<progress value="{done}" max="{max(total, 1)}"></progress> '
            f'<span class="count">{done}/{total}</span>{note}')


def status(text: str) -> str:
    return f'<span class="status {h(text.lower())}">{h(text)}</span>'


def table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    """An HTML table; ``rows`` hold HTML already escaped."""
    head = "".join(f"<th>{h(x)}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}" class="empty">none yet</td></tr>'
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def layout(title: str, body: str, base: str, tab: str, state, events: int, app_label: str) -> str:
    tabs = "".join(f'<a class="tab{" active" if key == tab else ""}" href="{h(base)}/{key}/">{h(label)}</a>'
                   for key, label in TABS)
    ui_state = f"/api/v1/applications/{quote(state.id)}/ui-state"      # what the page polls to stay live
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{h(title)} · quarry UI</title>
<link rel="stylesheet" href="/static/ui.css"><script src="/static/ui.js" defer></script></head>
<body><header><a class="brand" href="{h(base)}/jobs/">quarry</a>{tabs}<span class="app">{h(app_label)}</span></header>
<main id="content" data-state="{h(ui_state)}" data-events="{events}">{body}</main></body></html>"""


def description_cell(text: str, call_site: str, href: str | None = None) -> str:
    first = text if len(text) <= 160 else text[:159] + "…"
    inner = f'<a href="{h(href)}">{h(first)}</a>' if href else h(first)
    site = f'<div class="callsite">{h(call_site)}</div>' if call_site else ""
    return f'<div class="desc" title="{h(text)}">{inner}</div>{site}'


# -- jobs ------------------------------------------------------------------------------------------


def jobs_page(state, base: str, params: dict) -> tuple[str, str]:
    rows = []
    jobs = sorted(state.jobs.values(), key=lambda j: j["jobId"], reverse=True)
    for j in jobs:
        done_stages = j["numCompletedStages"]
        stage_total = j["numStages"] - j["numSkippedStages"]
        skipped = f" ({j['numSkippedStages']} skipped)" if j["numSkippedStages"] else ""
        rows.append([f'<a href="{h(base)}/jobs/job/?id={j["jobId"]}">{j["jobId"]}</a>',
                     description_cell(j["description"], j["callSite"], f'{base}/jobs/job/?id={j["jobId"]}'),
                     h(fmt_time(j["submissionTime"])),
                     h(fmt_duration(elapsed(j["submissionTime"], j["completionTime"]))), status(j["status"]),
                     bar(done_stages, stage_total) + h(skipped),
                     bar(j["numCompletedTasks"], j["numTasks"] - j["numSkippedTasks"], j["numFailedTasks"],
                         j["numActiveTasks"])])
    running = sum(1 for j in jobs if j["status"] == "RUNNING")
    summary = (f'<p class="summary">{len(jobs)} jobs · {running} running · '
               f'{sum(1 for j in jobs if j["status"] == "FAILED")} failed</p>')
    return "Jobs", "<h1>Jobs</h1>" + summary + table(
        ["Job Id", "Description", "Submitted", "Duration", "Status", "Stages: Succeeded/Total",
         "Tasks (for all stages): Succeeded/Total"], rows, "jobs")


def job_page(state, base: str, params: dict) -> tuple[str, str]:
    job = state.jobs.get(_int(params, "id"))
    if job is None:
        return "Job", f"<h1>No job {h(params.get('id'))}</h1>"
    stages = [state.stages[s] for s in job["stageIds"] if s in state.stages]
    body = [f"<h1>Job {job['jobId']}</h1>", '<dl class="facts">',
            f"<dt>Status</dt><dd>{status(job['status'])}</dd>",
            f"<dt>Description</dt><dd><pre class='sql'>{h(job['description'])}</pre></dd>",
            f"<dt>Call site</dt><dd>{h(job['callSite'] or '-')}</dd>",
            f"<dt>Submitted</dt><dd>{h(fmt_time(job['submissionTime']))}</dd>",
            f"<dt>Duration</dt><dd>{h(fmt_duration(elapsed(job['submissionTime'], job['completionTime'])))}</dd>"]
    if job.get("sqlId") is not None:
        body.append(f'<dt>SQL query</dt><dd><a href="{h(base)}/SQL/execution/?id={job["sqlId"]}">'
                    f'{job["sqlId"]}</a></dd>')
    if job.get("errorMessage"):
        body.append(f'<dt>Error</dt><dd class="error">{h(job["errorMessage"])}</dd>')
    body.append("</dl>")
    body.append("<h2>DAG of stages</h2>")
    nodes = [{"id": s["stageId"], "lines": [f"Stage {s['stageId']} · {s['mode']}", s["name"],
                                            f"{s['numCompleteTasks']}/{s['numTasks']} tasks · {s['status']}"],
              "color": svg.stage_color(s["stageId"]), "href": f"{base}/stages/stage/?id={s['stageId']}&attempt=0",
              "title": s["plan"]} for s in stages]
    modes = {s["stageId"]: s["mode"] for s in stages}
    edges = [(p, s["stageId"], modes.get(p)) for s in stages for p in s["parentIds"]]
    body.append(f'<div class="graph">{svg.dag(nodes, edges, "dag stage-dag")}</div>')
    body.append("<h2>Event timeline</h2>")
    body.append(f'<div class="graph">{job_timeline(state, job, stages)}</div>')
    body.append("<h2>Stages</h2>")
    body.append(stage_table(state, stages, base))
    return f"Job {job['jobId']}", "".join(body)


def job_timeline(state, job, stages) -> str:
    start = job["submissionTime"]
    end = job["completionTime"] or time.time() * 1000
    rows = []
    for s in stages:
        if s["submissionTime"]:
            rows.append((f"stage {s['stageId']}", [{
                "start": s["submissionTime"], "end": s["completionTime"] or end, "color": svg.stage_color(s["stageId"]),
                "title": f"stage {s['stageId']} ({s['mode']}): {s['status']}"}]))
    by_worker: dict[str, list] = {}
    for s in stages:
        for t in state.tasks.get(s["stageId"], []):
            by_worker.setdefault(t["executorId"], []).append({
                "start": t["launchTime"], "end": t["launchTime"] + t["duration"], "color": svg.stage_color(s["stageId"]),
                "failed": t["status"] != "SUCCESS",
                "title": f"stage {s['stageId']} task {t['index']} attempt {t['attempt']} on {t['executorId']}: "
                         f"{t['status']} in {fmt_duration(t['duration'])}"})
    for worker in sorted(by_worker, key=lambda w: (w != "driver", w)):
        rows.append((f"worker {worker}" if worker != "driver" else "driver", by_worker[worker]))
    return svg.timeline(start, end, rows)


# -- stages ------------------------------------------------------------------------------------------


def stage_table(state, stages, base: str) -> str:
    rows = []
    for s in sorted(stages, key=lambda s: s["stageId"], reverse=True):
        href = f"{base}/stages/stage/?id={s['stageId']}&attempt=0"
        rows.append([f'<a href="{h(href)}">{s["stageId"]}</a>',
                     description_cell(s["name"], f"job {s['jobId']} · {s['mode']}", href),
                     h(fmt_time(s["submissionTime"])),
                     h(fmt_duration(elapsed(s["submissionTime"], s["completionTime"]))),
                     bar(s["numCompleteTasks"], s["numTasks"], s["numFailedTasks"], s["numActiveTasks"]),
                     f'{s["inputRecords"]:,} rows / {h(fmt_bytes(s["inputBytes"]))}',
                     f'{s["outputRecords"]:,} rows / {h(fmt_bytes(s["outputBytes"]))}',
                     h(fmt_bytes(s["shuffleReadBytes"])), h(fmt_bytes(s["shuffleWriteBytes"])),
                     h(fmt_bytes(s["diskBytesSpilled"])), status(s["status"])])
    return table(["Stage Id", "Description", "Submitted", "Duration", "Tasks: Succeeded/Total", "Input", "Output",
                  "Shuffle Read", "Shuffle Write", "Spill", "Status"], rows, "stages")


def stages_page(state, base: str, params: dict) -> tuple[str, str]:
    stages = list(state.stages.values())
    counts = {}
    for s in stages:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    summary = " · ".join(f"{n} {k.lower()}" for k, n in sorted(counts.items()))
    return "Stages", f'<h1>Stages</h1><p class="summary">{h(summary)}</p>' + stage_table(state, stages, base)


def quantiles(values: list[float]) -> list[float]:
    """Min, 25th percentile, median, 75th percentile and max (nearest rank)."""
    if not values:
        return []
    v = sorted(values)
    return [v[min(len(v) - 1, int(round(q * (len(v) - 1))))] for q in (0, 0.25, 0.5, 0.75, 1.0)]


SUMMARY_METRICS = (("Duration", "duration", fmt_duration), ("Input rows", "inputRecords", "{:,.0f}".format),
                   ("Output rows", "outputRecords", "{:,.0f}".format),
                   ("Shuffle read", "shuffleReadBytes", fmt_bytes), ("Shuffle write", "shuffleWriteBytes", fmt_bytes),
                   ("Spill", "diskBytesSpilled", fmt_bytes))


def stage_page(state, base: str, params: dict) -> tuple[str, str]:
    s = state.stages.get(_int(params, "id"))
    if s is None:
        return "Stage", f"<h1>No stage {h(params.get('id'))}</h1>"
    tasks = state.tasks.get(s["stageId"], [])
    ok = [t for t in tasks if t["status"] == "SUCCESS"]
    body = [f"<h1>Stage {s['stageId']} (attempt 0)</h1>", '<dl class="facts">',
            f"<dt>Status</dt><dd>{status(s['status'])}</dd>",
            f"<dt>Description</dt><dd>{h(s['name'])}</dd>",
            f'<dt>Job</dt><dd><a href="{h(base)}/jobs/job/?id={s["jobId"]}">{s["jobId"]}</a></dd>',
            f"<dt>Output exchange</dt><dd>{h(s['mode'])}</dd>",
            f"<dt>Tasks</dt><dd class='tasks-done'>{bar(s['numCompleteTasks'], s['numTasks'], s['numFailedTasks'], s['numActiveTasks'])}</dd>",
            f"<dt>Total task time</dt><dd>{h(fmt_duration(s['executorRunTime']))}</dd>"]
    if s.get("failureReason"):
        body.append(f'<dt>Failure</dt><dd class="error">{h(s["failureReason"])}</dd>')
    body.append("</dl>")
    body.append(f"<h2>Summary metrics for {len(ok)} completed tasks</h2>")
    rows = []
    for label, key, fmt in SUMMARY_METRICS:
        q = quantiles([t.get(key, 0) for t in ok])
        rows.append([h(label)] + [h(fmt(x)) for x in q] if q else [h(label)] + ["-"] * 5)
    body.append(table(["Metric", "Min", "25th percentile", "Median", "75th percentile", "Max"], rows, "summary"))
    body.append("<h2>Metrics by worker</h2>")
    workers: dict[str, dict] = {}
    for t in tasks:
        w = workers.setdefault(t["executorId"], {"tasks": 0, "failed": 0, "time": 0.0, **{k: 0 for k in TASK_SUMS}})
        w["tasks"] += 1
        w["time"] += t["duration"]
        if t["status"] == "SUCCESS":
            for k in TASK_SUMS:
                w[k] += t.get(k, 0)
        else:
            w["failed"] += 1
    body.append(table(["Worker", "Tasks", "Failed", "Task time", "Input rows", "Output rows", "Shuffle read",
                       "Shuffle write", "Spill"],
                      [[h(wid), str(w["tasks"]), str(w["failed"]), h(fmt_duration(w["time"])),
                        f'{w["inputRecords"]:,}', f'{w["outputRecords"]:,}', h(fmt_bytes(w["shuffleReadBytes"])),
                        h(fmt_bytes(w["shuffleWriteBytes"])), h(fmt_bytes(w["diskBytesSpilled"]))]
                       for wid, w in sorted(workers.items())], "workers"))
    body.append(f"<h2>Tasks ({len(tasks)} attempts)</h2>")
    rows = []
    for t in sorted(tasks, key=lambda t: (t["index"], t["attempt"])):
        rows.append([str(t["index"]), str(t["taskId"]), str(t["attempt"]), status(t["status"]), h(t["executorId"]),
                     h(fmt_time(t["launchTime"])), h(fmt_duration(t["duration"])),
                     f'{t.get("inputRecords", 0):,}', f'{t.get("outputRecords", 0):,}',
                     h(fmt_bytes(t.get("shuffleReadBytes", 0))), h(fmt_bytes(t.get("shuffleWriteBytes", 0))),
                     h(fmt_bytes(t.get("diskBytesSpilled", 0))),
                     f'<span class="error">{h(t["errorMessage"])}</span>' if t.get("errorMessage") else ""])
    body.append(table(["Index", "Task Id", "Attempt", "Status", "Worker", "Launch Time", "Duration", "Input rows",
                       "Output rows", "Shuffle read", "Shuffle write", "Spill", "Error"], rows, "tasks"))
    body.append(f"<h2>Operators</h2><pre class='plan'>{h(s['plan'])}</pre>")
    return f"Stage {s['stageId']}", "".join(body)


# -- SQL ------------------------------------------------------------------------------------------------


def _job_links(base: str, ids) -> str:
    return " ".join(f'<a href="{h(base)}/jobs/job/?id={j}">{j}</a>' for j in ids) or "-"


def sql_page(state, base: str, params: dict) -> tuple[str, str]:
    rows = []
    for q in sorted(state.queries.values(), key=lambda q: q["id"], reverse=True):
        href = f"{base}/SQL/execution/?id={q['id']}"
        rows.append([f'<a href="{h(href)}">{q["id"]}</a>', description_cell(q["description"], q["callSite"], href),
                     h(fmt_time(q["submissionTime"])),
                     h(fmt_duration(elapsed(q["submissionTime"], q["completionTime"]))), status(q["status"]),
                     _job_links(base, q["jobIds"])])
    return "SQL", "<h1>SQL queries</h1>" + table(["ID", "Description", "Submitted", "Duration", "Status", "Job IDs"],
                                                 rows, "sql")


METRIC_ORDER = ("rows", "time", "batches")


def _metric_lines(metrics: dict) -> list[str]:
    lines = []
    for key in METRIC_ORDER:
        if key in metrics:
            v = metrics[key]
            lines.append(f"{key}: {v * 1000:.1f} ms" if key == "time" else f"{key}: {int(v):,}")
    extra = [k for k in metrics if k not in METRIC_ORDER and metrics[k]]
    for key in extra[:4]:
        v = metrics[key]
        text = fmt_bytes(v) if "bytes" in key else (f"{v:,.3f}" if isinstance(v, float) else f"{v:,}")
        lines.append(f"{key}: {text}")
    return lines


def sql_detail_page(state, base: str, params: dict) -> tuple[str, str]:
    q = state.queries.get(_int(params, "id"))
    if q is None:
        return "SQL", f"<h1>No query {h(params.get('id'))}</h1>"
    body = [f"<h1>Query {q['id']}</h1>", '<dl class="facts">', f"<dt>Status</dt><dd>{status(q['status'])}</dd>",
            f"<dt>Submitted</dt><dd>{h(fmt_time(q['submissionTime']))}</dd>",
            f"<dt>Duration</dt><dd>{h(fmt_duration(elapsed(q['submissionTime'], q['completionTime'])))}</dd>",
            f"<dt>Jobs</dt><dd>{_job_links(base, q['jobIds'])}</dd>",
            f"<dt>Call site</dt><dd>{h(q['callSite'] or '-')}</dd>"]
    if q.get("rows") is not None:
        body.append(f"<dt>Rows</dt><dd>{q['rows']:,}</dd>")
    if q.get("errorMessage"):
        body.append(f'<dt>Error</dt><dd class="error">{h(q["errorMessage"])}</dd>')
    body.append("</dl>")
    body.append(f"<h2>Query text</h2><pre class='sql'>{h(q['description'])}</pre>")
    plan = q.get("plan") or {"nodes": [], "edges": []}
    stage_nodes = {}
    nodes = []
    for n in plan["nodes"]:
        stage = n.get("stage")
        label = n["desc"] if stage is None else f"{n['desc']}"
        lines = [label] + _metric_lines(n["metrics"]) + ([f"stage {stage}"] if stage is not None else [])
        nodes.append({"id": n["nodeId"], "lines": lines, "title": n["desc"],
                      "color": svg.stage_color(stage or 0)})
        stage_nodes.setdefault(stage, []).append(n["nodeId"])
    edges = [(e["fromId"], e["toId"], e.get("label")) for e in plan["edges"]]
    body.append("<h2>Physical plan</h2>")
    body.append(f'<div class="graph">{svg.dag(nodes, edges, "dag plan-graph")}</div>')
    body.append(f"<details><summary>Plan text</summary><pre class='plan'>{h(q['planDescription'])}</pre></details>")
    return f"Query {q['id']}", "".join(body)


# -- storage, workers, environment ----------------------------------------------------------------------


def storage_page(state, base: str, params: dict, live=None) -> tuple[str, str]:
    cached = [[h(c["name"]), f'{c["numRows"]:,}', h(fmt_bytes(c["memoryUsed"])), h(fmt_time(c["time"]))]
              for c in state.cached.values()]
    body = ["<h1>Storage</h1><h2>Cached DataFrames</h2>",
            table(["Cached at", "Rows", "Size in memory", "Cached"], cached, "cached")]
    body.append("<h2>Tables</h2>")
    if live is None:
        body.append("<p>Tables are not recorded in event logs; this is a past session.</p>")
    else:
        rows = []
        for name in sorted(live.catalog.names()):
            try:
                provider = live.catalog.get(name)
                stats = provider.statistics()
            except Exception as exc:        # a table whose files went away still lists, with why
                rows.append([h(name), "-", "-", "-", f'<span class="error">{h(exc)}</span>'])
                continue
            rows.append([h(name), h(getattr(provider, "kind", type(provider).__name__)),
                         "-" if stats.row_count is None else f"{stats.row_count:,}",
                         "-" if stats.size_bytes is None else h(fmt_bytes(stats.size_bytes)), ""])
        body.append(table(["Name", "Kind", "Rows", "Size", ""], rows, "tables"))
    return "Storage", "".join(body)


def _rss(pid) -> int | None:
    try:
        with open(f"/proc/{int(pid)}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def executors_page(state, base: str, params: dict, live=None) -> tuple[str, str]:
    workers = {w["id"]: w for w in state.workers()}
    alive = set()
    if live is not None:
        alive = {"driver"} | {str(p) for p in live_worker_pids(live)}
        for wid in alive:
            workers.setdefault(wid, {"id": wid, "totalTasks": 0, "completedTasks": 0, "failedTasks": 0,
                                     "totalDuration": 0.0, **{k: 0 for k in TASK_SUMS}})
    rows = []
    for w in sorted(workers.values(), key=lambda w: (w["id"] != "driver", w["id"])):
        pid = os.getpid() if w["id"] == "driver" else w["id"]
        rss = _rss(pid) if w["id"] in alive else None
        rows.append([h(w["id"]), "active" if w["id"] in alive else ("-" if live is None else "gone"),
                     str(w["totalTasks"]), str(w["completedTasks"]), str(w["failedTasks"]),
                     h(fmt_duration(w["totalDuration"])), f'{w["inputRecords"]:,}',
                     h(fmt_bytes(w["shuffleReadBytes"])), h(fmt_bytes(w["shuffleWriteBytes"])),
                     h(fmt_bytes(rss)) if rss is not None else "-"])
    note = "<p>Workers are worker processes (by process id); the driver runs each query's result stage.</p>"
    return "Workers", "<h1>Workers</h1>" + note + table(
        ["Worker", "Status", "Tasks", "Succeeded", "Failed", "Task time", "Input rows", "Shuffle read",
         "Shuffle write", "Memory (RSS)"], rows, "executors")


def live_worker_pids(session) -> list[int]:
    """The worker processes of ``session``'s pool (a pool is shared by the sessions of one size in this
    process, and by the Flight SQL server's per-request sessions); none before it ran on one."""
    own = getattr(getattr(session, "_backend_obj", None), "pool", None)
    if own is None or own._closed:
        return []
    return list(own.pids())


def environment_page(state, base: str, params: dict) -> tuple[str, str]:
    runtime = [[h(k), h(v)] for k, v in state.environment.get("runtime", {}).items()]
    props = [[h(k), h(v)] for k, v in state.environment.get("properties", [])]
    app = [[h(k), h(v)] for k, v in state.app.items()]
    return "Environment", ("<h1>Environment</h1><h2>Runtime</h2>" + table(["Name", "Value"], runtime, "runtime")
                           + "<h2>Settings</h2>" + table(["Name", "Value"], props, "properties")
                           + "<h2>Application</h2>" + table(["Name", "Value"], app, "application"))


def applications_page(apps) -> str:
    rows = [[f'<a href="/history/{h(quote(a.id))}/jobs/">{h(a.id)}</a>', h(a.app.get("name")),
             h(fmt_time(a.app.get("startTime"))), h(fmt_time(a.app.get("endTime"))) if a.app.get("endTime")
             else "did not end (killed?)", str(len(a.jobs)), str(len(a.queries))] for a in apps]
    body = "<h1>Past sessions</h1>" + table(["App ID", "Name", "Started", "Ended", "Jobs", "Queries"], rows, "apps")
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>quarry history</title>
<link rel="stylesheet" href="/static/ui.css"></head><body><header><a class="brand" href="/">quarry history</a>
</header><main>{body}</main></body></html>"""


def _int(params: dict, key: str) -> int | None:
    try:
        return int(params.get(key, ""))
    except ValueError:
        return None


PAGES = {"/jobs/": ("jobs", jobs_page), "/jobs/job/": ("jobs", job_page), "/stages/": ("stages", stages_page),
         "/stages/stage/": ("stages", stage_page), "/SQL/": ("SQL", sql_page),
         "/SQL/execution/": ("SQL", sql_detail_page), "/environment/": ("environment", environment_page)}
LIVE_PAGES = {"/storage/": ("storage", storage_page), "/executors/": ("executors", executors_page)}
