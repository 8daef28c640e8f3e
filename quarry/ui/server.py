"""The UI's HTTP server: pages at Spark's paths, JSON at Spark's monitoring-API paths, on the standard
library's ``ThreadingHTTPServer`` (a page or an API call is a few dictionary reads: no web
framework earns its place here).

Pages: ``/jobs/``, ``/jobs/job/?id=``, ``/stages/``, ``/stages/stage/?id=&attempt=``, ``/SQL/``,
``/SQL/execution/?id=``, ``/storage/``, ``/executors/``, ``/environment/``. A page polls
``/api/v1/applications/{id}/ui-state`` once a second and, when events arrived, fetches itself
again (header ``X-Quarry-Partial``: the body only) to stay live.

REST (``/api/v1/``): ``applications``, ``applications/{id}/jobs[/{jobId}]``, ``.../stages[/{stageId}[/{attempt}
[/taskList]]]``, ``.../sql[/{id}]``, ``.../executors``, ``.../environment``, ``.../storage/rdd``.

Security: loopback by default; any other address needs a token (``?token=`` once, then a cookie, or
``Authorization: Bearer``). Pages escape all text and send a Content-Security-Policy that allows
only this server's own script and stylesheet.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from quarry.errors import QuarryError
from quarry.ui import pages
from quarry.ui.static import CSS, JS

PORT_TRIES = 32            # ports tried after the one asked for, when it is taken
COOKIE = "quarry_ui_token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class UIServer:
    """Serves the UI of ``apps`` (AppStates; the first is the default) in a daemon thread.
    ``live`` is the session of a live UI (its tables and worker processes are read on demand)."""

    def __init__(self, apps: list, host: str = "127.0.0.1", port: int = 4040, token: str | None = None,
                 live=None, history: bool = False):
        if not is_loopback(host) and not token:
            raise QuarryError(f"the UI on `{host}` (not a loopback address) needs a token",
                              hint="pass ui_token='a long random string' (or --ui-token), or keep the default "
                                   "host 127.0.0.1")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise QuarryError(f"ui_port must be a port number (0 picks a free one), not {port!r}")
        self.apps = apps
        self.token = token
        self.live = live
        self.history = history
        self.host = host
        self.httpd = None
        last = None
        for candidate in ([port] if port == 0 else range(port, min(port + PORT_TRIES, 65536))):
            try:
                self.httpd = ThreadingHTTPServer((host, candidate), _Handler)
                break
            except OSError as exc:        # taken: try the next, as Spark does from 4040
                last = exc
        if self.httpd is None:
            raise QuarryError(f"no free port for the UI from {port} to {port + PORT_TRIES - 1}: {last}",
                              hint="pass ui_port=0 to take any free port")
        self.httpd.daemon_threads = True
        self.httpd.ui = self
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="quarry-ui", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}" + (f"/?token={self.token}" if self.token else "")

    def close(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def app(self, app_id: str | None):
        if app_id is None:
            return self.apps[0] if self.apps else None
        return next((a for a in self.apps if a.id == app_id), None)


class _NotFound(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    server_version = "quarry-ui"

    def log_message(self, format, *args):      # no access log on the user's terminal
        pass

    @property
    def ui(self) -> UIServer:
        return self.server.ui

    def do_GET(self):
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        set_cookie = False
        if self.ui.token is not None:
            if not self._authorized(params):
                return self._send(401, "text/plain; charset=utf-8", b"a token is needed: open the URL the UI printed")
            set_cookie = "token" in params
        try:
            self._route(unquote(url.path), params, set_cookie)
        except _NotFound as exc:
            self._send(404, "text/html; charset=utf-8",
                       f"<!DOCTYPE html><title>not found</title><p>{pages.h(exc)}</p>".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _authorized(self, params: dict) -> bool:
        offered = [params.get("token", "")]
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            offered.append(auth[7:])
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                offered.append(value)
        return any(hmac.compare_digest(o.encode(), self.ui.token.encode()) for o in offered if o)

    def _send(self, code: int, ctype: str, data: bytes, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                         "connect-src 'self'; frame-ancestors 'none'")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, value, extra: dict | None = None) -> None:
        self._send(200, "application/json", json.dumps(value, indent=1, default=str).encode(), extra)

    def _route(self, path: str, params: dict, set_cookie: bool) -> None:
        extra = {"Set-Cookie": f"{COOKIE}={self.ui.token}; HttpOnly; SameSite=Strict; Path=/"} if set_cookie else None
        if path == "/static/ui.css":
            return self._send(200, "text/css; charset=utf-8", CSS.encode())
        if path == "/static/ui.js":
            return self._send(200, "text/javascript; charset=utf-8", JS.encode())
        if path.startswith("/api/v1/"):
            return self._json(api(self.ui, path[len("/api/v1/"):].strip("/").split("/")), extra)
        base = ""
        app_id = None
        if path.startswith("/history/"):
            parts = path.split("/", 3)
            app_id = parts[2]
            base = f"/history/{app_id}"
            path = "/" + (parts[3] if len(parts) > 3 else "")
        if path == "/" and self.ui.history and app_id is None:
            with _all_locks(self.ui.apps):
                html = pages.applications_page(self.ui.apps)
            return self._send(200, "text/html; charset=utf-8", html.encode(), extra)
        if path == "/":
            return self._redirect(base + "/jobs/", extra)
        if not path.endswith("/"):
            path += "/"
        state = self.ui.app(app_id)
        if state is None:
            raise _NotFound(f"no application {app_id}")
        if path in pages.PAGES:
            tab, render = pages.PAGES[path]
            make = lambda: render(state, base, params)          # noqa: E731
        elif path in pages.LIVE_PAGES:
            tab, render = pages.LIVE_PAGES[path]
            make = lambda: render(state, base, params, self.ui.live)   # noqa: E731
        else:
            raise _NotFound(f"no page {path}")
        with state.lock:
            events = state.events
            title, body = make()
        headers = dict(extra or {}, **{"X-Quarry-Events": str(events)})
        if self.headers.get("X-Quarry-Partial"):
            return self._send(200, "text/html; charset=utf-8", body.encode(), headers)
        label = state.id + ("" if not self.ui.history else " (history)")
        html = pages.layout(title, body, base, tab, state, events, label)
        self._send(200, "text/html; charset=utf-8", html.encode(), headers)

    def _redirect(self, to: str, extra: dict | None) -> None:
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()


class _all_locks:
    def __init__(self, apps):
        self.apps = apps

    def __enter__(self):
        for a in self.apps:
            a.lock.acquire()

    def __exit__(self, *exc):
        for a in self.apps:
            a.lock.release()


# -- the REST API -----------------------------------------------------------------------------------


def spark_time(ms) -> str | None:
    """Spark's REST time format: ``2024-05-01T12:00:00.123GMT``."""
    if not ms:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{int(ms % 1000):03d}GMT"


def api(ui: UIServer, parts: list[str]):
    if parts == ["applications"] or parts == [""]:
        return [_application(a) for a in ui.apps]
    if parts[:1] != ["applications"] or len(parts) < 2:
        raise _NotFound("/api/v1/" + "/".join(parts))
    state = ui.app(parts[1])
    if state is None:
        raise _NotFound(f"no application {parts[1]}")
    rest = parts[2:]
    with state.lock:
        if not rest:
            return _application(state)
        kind = rest[0]
        if kind == "ui-state":
            return {"events": state.events, "completed": bool(state.app.get("completed")) or ui.history}
        if kind == "jobs":
            if len(rest) == 1:
                return [_job(state, j) for j in sorted(state.jobs.values(), key=lambda j: -j["jobId"])]
            return _job(state, _get(state.jobs, rest[1], "job"))
        if kind == "stages":
            if len(rest) == 1:
                return [_stage(s) for s in sorted(state.stages.values(), key=lambda s: -s["stageId"])]
            s = _get(state.stages, rest[1], "stage")
            if len(rest) == 2:
                return [_stage(s, state.tasks.get(s["stageId"], []))]
            if rest[2] != "0":
                raise _NotFound(f"stage {rest[1]} has one attempt, 0")
            tasks = state.tasks.get(s["stageId"], [])
            if len(rest) == 3:
                return _stage(s, tasks)
            if rest[3] == "taskList":
                return [_task(t) for t in sorted(tasks, key=lambda t: (t["index"], t["attempt"]))]
            raise _NotFound("/".join(rest))
        if kind == "sql":
            if len(rest) == 1:
                return [_sql(state, q) for q in sorted(state.queries.values(), key=lambda q: q["id"])]
            return _sql(state, _get(state.queries, rest[1], "query"))
        if kind == "executors" or kind == "allexecutors":
            return _executors(state, ui.live)
        if kind == "environment":
            return {"runtime": state.environment.get("runtime", {}),
                    "properties": state.environment.get("properties", [])}
        if rest == ["storage", "rdd"]:
            return [{"id": i, "name": c["name"], "numPartitions": c["numPartitions"],
                     "numCachedPartitions": c["numPartitions"], "storageLevel": "Memory Deserialized 1x Replicated",
                     "memoryUsed": c["memoryUsed"], "diskUsed": 0, "numRows": c["numRows"]}
                    for i, c in enumerate(state.cached.values())]
    raise _NotFound("/api/v1/" + "/".join(parts))


def _get(table: dict, key: str, what: str) -> dict:
    try:
        return table[int(key)]
    except (ValueError, KeyError):
        raise _NotFound(f"no {what} {key}") from None


def _application(state) -> dict:
    a = state.app
    return {"id": a.get("id"), "name": a.get("name"), "attempts": [{
        "startTime": spark_time(a.get("startTime")), "endTime": spark_time(a.get("endTime")),
        "duration": (a["endTime"] - a["startTime"]) if a.get("endTime") else None,
        "sparkUser": a.get("sparkUser", ""), "completed": bool(a.get("completed")),
        "startTimeEpoch": a.get("startTime"), "endTimeEpoch": a.get("endTime")}]}


def _job(state, j: dict) -> dict:
    active_stages = sum(1 for sid in j["stageIds"] if state.stages.get(sid, {}).get("status") == "ACTIVE")
    return {"jobId": j["jobId"], "name": j["name"], "description": j["description"], "callSite": j["callSite"],
            "submissionTime": spark_time(j["submissionTime"]), "completionTime": spark_time(j["completionTime"]),
            "stageIds": j["stageIds"], "status": j["status"], "numTasks": j["numTasks"],
            "numActiveTasks": j["numActiveTasks"], "numCompletedTasks": j["numCompletedTasks"],
            "numSkippedTasks": j["numSkippedTasks"], "numFailedTasks": j["numFailedTasks"], "numKilledTasks": 0,
            "numActiveStages": active_stages, "numCompletedStages": j["numCompletedStages"],
            "numSkippedStages": j["numSkippedStages"], "numFailedStages": j["numFailedStages"],
            "sqlExecutionId": j.get("sqlId"), "errorMessage": j.get("errorMessage")}


def _stage(s: dict, tasks: list | None = None) -> dict:
    out = {"stageId": s["stageId"], "attemptId": 0, "status": s["status"], "name": s["name"],
           "description": s["name"], "numTasks": s["numTasks"], "numActiveTasks": s["numActiveTasks"],
           "numCompleteTasks": s["numCompleteTasks"], "numFailedTasks": s["numFailedTasks"], "numKilledTasks": 0,
           "submissionTime": spark_time(s["submissionTime"]), "completionTime": spark_time(s["completionTime"]),
           "executorRunTime": round(s["executorRunTime"]), "inputRecords": s["inputRecords"],
           "inputBytes": s["inputBytes"], "outputRecords": s["outputRecords"], "outputBytes": s["outputBytes"],
           "shuffleReadBytes": s["shuffleReadBytes"], "shuffleWriteBytes": s["shuffleWriteBytes"],
           "diskBytesSpilled": s["diskBytesSpilled"], "memoryBytesSpilled": 0, "jobIds": [s["jobId"]],
           "parentIds": s["parentIds"], "exchange": s["mode"], "details": s["plan"],
           "failureReason": s.get("failureReason")}
    if tasks is not None:
        out["tasks"] = {str(t["taskId"]): _task(t) for t in tasks}
    return out


def _task(t: dict) -> dict:
    return {"taskId": t["taskId"], "index": t["index"], "attempt": t["attempt"],
            "launchTime": spark_time(t["launchTime"]), "duration": round(t["duration"]),
            "executorId": t["executorId"], "host": "localhost", "status": t["status"], "speculative": False,
            "errorMessage": t.get("errorMessage"),
            "taskMetrics": {
                "executorRunTime": round(t["duration"]),
                "inputMetrics": {"recordsRead": t.get("inputRecords", 0), "bytesRead": t.get("inputBytes", 0)},
                "outputMetrics": {"recordsWritten": t.get("outputRecords", 0),
                                  "bytesWritten": t.get("outputBytes", 0)},
                "shuffleReadMetrics": {"localBytesRead": t.get("shuffleReadBytes", 0)},
                "shuffleWriteMetrics": {"bytesWritten": t.get("shuffleWriteBytes", 0)},
                "diskBytesSpilled": t.get("diskBytesSpilled", 0)}}


def _sql(state, q: dict) -> dict:
    plan = q.get("plan") or {"nodes": [], "edges": []}
    by_status: dict[str, list] = {"RUNNING": [], "SUCCEEDED": [], "FAILED": []}
    for jid in q["jobIds"]:
        job = state.jobs.get(jid)
        if job is not None:
            by_status.setdefault(job["status"], []).append(jid)
    return {"id": q["id"], "status": q["status"], "description": q["description"], "callSite": q["callSite"],
            "planDescription": q["planDescription"], "submissionTime": spark_time(q["submissionTime"]),
            "duration": round(pages.elapsed(q["submissionTime"], q["completionTime"]) or 0),
            "runningJobIds": by_status["RUNNING"], "successJobIds": by_status["SUCCEEDED"],
            "failedJobIds": by_status["FAILED"], "errorMessage": q.get("errorMessage"),
            "nodes": [{"nodeId": n["nodeId"], "nodeName": n["nodeName"], "description": n["desc"],
                       "stageId": n.get("stage"),
                       "metrics": [{"name": k, "value": v} for k, v in n["metrics"].items()]} for n in plan["nodes"]],
            "edges": [{"fromId": e["fromId"], "toId": e["toId"], **({"exchange": e["label"]} if e.get("label") else {})}
                      for e in plan["edges"]]}


def _executors(state, live) -> list[dict]:
    alive = {"driver"} | {str(p) for p in pages.live_worker_pids(live)} if live is not None else set()
    rows = {w["id"]: w for w in state.workers()}
    for wid in alive:
        rows.setdefault(wid, {"id": wid, "totalTasks": 0, "completedTasks": 0, "failedTasks": 0,
                              "totalDuration": 0.0, "shuffleReadBytes": 0, "shuffleWriteBytes": 0,
                              "inputBytes": 0})
    out = []
    for w in rows.values():
        pid = None if w["id"] not in alive else (os.getpid() if w["id"] == "driver" else w["id"])
        out.append({"id": w["id"], "hostPort": "localhost", "isActive": w["id"] in alive,
                    "totalTasks": w["totalTasks"], "completedTasks": w["completedTasks"],
                    "failedTasks": w["failedTasks"], "activeTasks": 0, "totalDuration": round(w["totalDuration"]),
                    "totalInputBytes": w.get("inputBytes", 0), "totalShuffleRead": w.get("shuffleReadBytes", 0),
                    "totalShuffleWrite": w.get("shuffleWriteBytes", 0),
                    "memoryUsed": pages._rss(pid) if pid is not None else None})
    return sorted(out, key=lambda w: (w["id"] != "driver", w["id"]))
