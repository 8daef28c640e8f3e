"""What a session's queries did, as events, and the application state the UI shows, built from them.

The scheduler and the session report to a :class:`Recorder` (only when the UI or an event log is
on: with neither, no recorder exists and the hooks are one ``is None`` test each). The recorder
turns each report into an event, a flat JSON-able dict whose ``"Event"`` names its kind::

    ApplicationStart  SQLExecutionStart  JobStart  StageSubmitted  TaskEnd  StageCompleted
    JobEnd  SQLExecutionEnd  CacheAdded  CacheRemoved  ApplicationEnd

and hands it to :meth:`AppState.apply`, the only code that changes what the pages show, and to the
:class:`EventLog` when one is set. ``quarry history`` replays a log through the same ``apply``, so
a live page and a replayed one are the same page.

Times are epoch milliseconds; byte and row counts are integers. Ids are the session's: jobs,
stages and tasks are numbered from 0 across all of the session's queries, as Spark numbers them
(a query's own stage numbers are kept as ``localId``).
"""

from __future__ import annotations

import contextvars
import json
import os
import sys
import threading
import time
import weakref
from contextlib import contextmanager

from quarry.errors import QuarryError

LOG_SUFFIX = ".jsonl"

# fields of a TaskEnd summed into its stage (and into the job and worker tables)
TASK_SUMS = ("inputRecords", "inputBytes", "outputRecords", "outputBytes", "shuffleReadBytes",
             "shuffleWriteBytes", "diskBytesSpilled")

# reply fields of quarry.execution.worker.run_task -> TaskEnd fields
_REPLY_FIELDS = {"rows_in": "inputRecords", "bytes_in": "inputBytes", "rows_out": "outputRecords",
                 "bytes_out": "outputBytes", "shuffle_read_bytes": "shuffleReadBytes",
                 "shuffle_write_bytes": "shuffleWriteBytes", "spill_bytes": "diskBytesSpilled"}


def now_ms() -> float:
    return time.time() * 1000.0


# -- the state ------------------------------------------------------------------------------------


class AppState:
    """One application (a session) as its events describe it. Readers take :attr:`lock`."""

    def __init__(self):
        self.lock = threading.RLock()
        self.app: dict = {}
        self.environment: dict = {"runtime": {}, "properties": []}
        self.jobs: dict[int, dict] = {}
        self.stages: dict[int, dict] = {}
        self.tasks: dict[int, list[dict]] = {}          # stage id -> its task attempts, in arrival order
        self.queries: dict[int, dict] = {}
        self.cached: dict[int, dict] = {}
        self.events = 0                                  # events applied: the pages poll this

    @property
    def id(self) -> str:
        return self.app.get("id", "")

    def apply(self, event: dict) -> None:
        """Change the state by one event (see the module docstring for the kinds)."""
        handler = getattr(self, "_on_" + event.get("Event", ""), None)
        with self.lock:
            if handler is not None:
                handler(event)
            self.events += 1

    # -- handlers, one per event kind --------------------------------------------------------

    def _on_ApplicationStart(self, e: dict) -> None:
        self.app = {"id": e["appId"], "name": e.get("appName", "quarry"), "startTime": e["time"], "endTime": None,
                    "sparkUser": e.get("user", ""), "completed": False}
        self.environment = {"runtime": e.get("runtime", {}), "properties": e.get("properties", [])}

    def _on_ApplicationEnd(self, e: dict) -> None:
        self.app.update(endTime=e["time"], completed=True)

    def _on_SQLExecutionStart(self, e: dict) -> None:
        self.queries[e["executionId"]] = {
            "id": e["executionId"], "description": e["description"], "callSite": e.get("callSite", ""),
            "submissionTime": e["time"], "completionTime": None, "status": "RUNNING",
            "planDescription": e.get("planDescription", ""), "plan": e.get("plan"), "jobIds": [],
            "errorMessage": None}

    def _on_SQLExecutionEnd(self, e: dict) -> None:
        q = self.queries.get(e["executionId"])
        if q is not None:
            q.update(completionTime=e["time"], status=e["status"], errorMessage=e.get("errorMessage"),
                     rows=e.get("rows"))
            if e.get("plan") is not None:
                q["plan"] = e["plan"]

    def _on_JobStart(self, e: dict) -> None:
        stage_ids = [s["stageId"] for s in e["stages"]]
        self.jobs[e["jobId"]] = {
            "jobId": e["jobId"], "name": e["description"], "description": e["description"],
            "callSite": e.get("callSite", ""), "submissionTime": e["time"], "completionTime": None,
            "status": "RUNNING", "stageIds": stage_ids, "sqlId": e.get("executionId"),
            "numTasks": sum(s["numTasks"] for s in e["stages"]), "numCompletedTasks": 0, "numFailedTasks": 0,
            "numActiveTasks": 0, "numSkippedTasks": 0, "numStages": len(stage_ids), "numCompletedStages": 0, "numSkippedStages": 0,
            "numFailedStages": 0, "errorMessage": None}
        q = self.queries.get(e.get("executionId"))
        if q is not None:
            q["jobIds"].append(e["jobId"])
        for s in e["stages"]:
            self.stages[s["stageId"]] = {
                "stageId": s["stageId"], "attemptId": 0, "localId": s["localId"], "jobId": e["jobId"],
                "name": s["name"], "mode": s["mode"], "parentIds": s["parentIds"], "plan": s.get("plan", ""),
                "status": "PENDING", "numTasks": s["numTasks"], "numCompleteTasks": 0, "numFailedTasks": 0,
                "numActiveTasks": 0, "submissionTime": None, "completionTime": None, "executorRunTime": 0.0,
                **{k: 0 for k in TASK_SUMS}}
            self.tasks[s["stageId"]] = []

    def _on_StageSubmitted(self, e: dict) -> None:
        s = self.stages.get(e["stageId"])
        if s is None:
            return
        s.update(status="ACTIVE", submissionTime=e["time"], numTasks=e["numTasks"], numActiveTasks=e["numTasks"])
        job = self.jobs.get(s["jobId"])
        if job is not None:
            job["numActiveTasks"] += e["numTasks"]

    def _on_TaskEnd(self, e: dict) -> None:
        s = self.stages.get(e["stageId"])
        if s is None:
            return
        task = {k: v for k, v in e.items() if k != "Event"}
        self.tasks[e["stageId"]].append(task)
        job = self.jobs.get(s["jobId"])
        s["executorRunTime"] += e.get("duration", 0.0)
        if e["status"] == "SUCCESS":
            s["numCompleteTasks"] += 1
            s["numActiveTasks"] = max(0, s["numActiveTasks"] - 1)
            for key in TASK_SUMS:
                s[key] += e.get(key, 0)
            if job is not None:
                job["numCompletedTasks"] += 1
                job["numActiveTasks"] = max(0, job["numActiveTasks"] - 1)
        else:
            s["numFailedTasks"] += 1
            if job is not None:
                job["numFailedTasks"] += 1
                if not e.get("retried"):
                    job["numActiveTasks"] = max(0, job["numActiveTasks"] - 1)
            if not e.get("retried"):
                s["numActiveTasks"] = max(0, s["numActiveTasks"] - 1)

    def _on_StageCompleted(self, e: dict) -> None:
        s = self.stages.get(e["stageId"])
        if s is None:
            return
        s.update(status=e["status"], completionTime=e["time"], numActiveTasks=0)
        if e.get("failureReason"):
            s["failureReason"] = e["failureReason"]
        job = self.jobs.get(s["jobId"])
        if job is not None:
            key = {"COMPLETE": "numCompletedStages", "SKIPPED": "numSkippedStages"}.get(e["status"], "numFailedStages")
            job[key] += 1
            if e["status"] == "SKIPPED":
                job["numSkippedTasks"] += s["numTasks"]

    def _on_JobEnd(self, e: dict) -> None:
        job = self.jobs.get(e["jobId"])
        if job is None:
            return
        job.update(status=e["status"], completionTime=e["time"], errorMessage=e.get("errorMessage"), numActiveTasks=0)
        for sid in job["stageIds"]:
            s = self.stages.get(sid)
            if s is not None and s["status"] in ("PENDING", "ACTIVE"):
                # a failed job ends its running stages; stages that never ran were skipped (a partitioned
                # join that became a broadcast join runs its probe side inside the join's stage)
                status = "FAILED" if s["status"] == "ACTIVE" else "SKIPPED"
                self._on_StageCompleted({"stageId": sid, "time": e["time"], "status": status,
                                         "failureReason": e.get("errorMessage") if status == "FAILED" else None})

    def _on_CacheAdded(self, e: dict) -> None:
        self.cached[e["id"]] = {"id": e["id"], "name": e["name"], "numRows": e["rows"], "memoryUsed": e["bytes"],
                                "numPartitions": e.get("partitions", 1), "time": e["time"]}

    def _on_CacheRemoved(self, e: dict) -> None:
        self.cached.pop(e["id"], None)

    # -- questions the pages ask ---------------------------------------------------------------

    def workers(self) -> list[dict]:
        """Per worker (``executorId``): tasks run, failed, time and the bytes they moved."""
        rows: dict[str, dict] = {}
        for tasks in self.tasks.values():
            for t in tasks:
                w = rows.setdefault(str(t.get("executorId", "?")), {
                    "id": str(t.get("executorId", "?")), "totalTasks": 0, "completedTasks": 0, "failedTasks": 0,
                    "totalDuration": 0.0, **{k: 0 for k in TASK_SUMS}})
                w["totalTasks"] += 1
                w["totalDuration"] += t.get("duration", 0.0)
                if t["status"] == "SUCCESS":
                    w["completedTasks"] += 1
                    for key in TASK_SUMS:
                        w[key] += t.get(key, 0)
                else:
                    w["failedTasks"] += 1
        return sorted(rows.values(), key=lambda w: (w["id"] != "driver", w["id"]))


# -- the log --------------------------------------------------------------------------------------


class EventLog:
    """Appends events to ``<directory>/<app id>.jsonl``, one JSON object a line, flushed at each event
    (so a session killed mid-query leaves every event up to the kill on disk)."""

    def __init__(self, directory: str, app_id: str):
        try:
            os.makedirs(directory, exist_ok=True)
            self.path = os.path.join(directory, app_id + LOG_SUFFIX)
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise QuarryError(f"cannot write the event log in `{directory}`: {exc.strerror or exc}",
                              hint="set event_log_dir to a directory this process may write") from None

    def write(self, event: dict) -> None:
        self._file.write(json.dumps(event, separators=(",", ":"), default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_event_log(path: str) -> AppState:
    """The application an event log describes. A last line cut short (the process was killed while
    writing it) is left out; any other line that is not an event is an error naming it."""
    state = AppState()
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            if number >= len(lines) - 1:
                break                      # the line being written when the process died
            raise QuarryError(f"`{path}` line {number} is not an event", hint="event logs are JSON lines "
                              "written by a session with event_log_dir set") from None
        state.apply(event)
    if not state.app:
        state.apply({"Event": "ApplicationStart", "appId": os.path.basename(path)[:-len(LOG_SUFFIX)],
                     "time": os.path.getmtime(path) * 1000})
    return state


def read_event_logs(directory: str) -> list[AppState]:
    """Every application whose log is in ``directory``, newest first."""
    if not os.path.isdir(directory):
        raise QuarryError(f"no event log directory `{directory}`",
                          hint="pass the directory a session's event_log_dir setting named")
    paths = sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(LOG_SUFFIX))
    if not paths:
        raise QuarryError(f"no event logs (*{LOG_SUFFIX}) in `{directory}`",
                          hint="run queries in a session with event_log_dir set to this directory")
    apps = [read_event_log(p) for p in paths]
    return sorted(apps, key=lambda a: a.app.get("startTime", 0), reverse=True)


# -- recording ------------------------------------------------------------------------------------


class Recorder:
    """Makes the events of one live session, applies them to its :attr:`state` and writes them to the
    event log (when ``event_log_dir`` is set). Thread-safe: queries may run on several threads."""

    def __init__(self, session, log_dir: str | None = None):
        import getpass
        self.state = AppState()
        self.session = session
        self._lock = threading.Lock()
        self._texts = weakref.WeakKeyDictionary()     # logical plan -> the SQL it came from
        self._sql_text = contextvars.ContextVar("quarry_ui_sql", default=None)
        self._next = {"job": 0, "stage": 0, "task": 0, "sql": 0, "cache": 0}
        start = time.time()
        self.app_id = f"app-{time.strftime('%Y%m%d%H%M%S', time.localtime(start))}-{os.getpid()}-{id(self) % 10000:04d}"
        self.log = EventLog(log_dir, self.app_id) if log_dir else None
        try:
            user = getpass.getuser()
        except Exception:        # no user name in this environment (a container without passwd entry)
            user = ""
        self.emit({"Event": "ApplicationStart", "appId": self.app_id, "appName": "quarry", "time": start * 1000,
                   "user": user, "runtime": _runtime(), "properties": _properties(session)})

    def next_id(self, kind: str) -> int:
        with self._lock:
            n = self._next[kind]
            self._next[kind] = n + 1
            return n

    def emit(self, event: dict) -> None:
        with self._lock:                    # one order for the state and the log
            self.state.apply(event)
            if self.log is not None:
                self.log.write(event)

    def set_log_dir(self, log_dir: str | None) -> None:
        """Start (or stop) writing the log; a new log starts with the application's events so far
        summarised as its start event."""
        with self._lock:
            if self.log is not None:
                self.log.close()
                self.log = None
            if log_dir:
                self.log = EventLog(log_dir, self.app_id)
                self.log.write({"Event": "ApplicationStart", "appId": self.app_id, "appName": "quarry",
                                "time": self.state.app.get("startTime", now_ms()), "user": self.state.app.get(
                                    "sparkUser", ""), "runtime": _runtime(), "properties": _properties(self.session)})

    def close(self) -> None:
        self.emit({"Event": "ApplicationEnd", "time": now_ms()})
        with self._lock:
            if self.log is not None:
                self.log.close()
                self.log = None

    @contextmanager
    def running_sql(self, text: str):
        """Queries run while ``text``'s statements run (EXPLAIN ANALYZE, CREATE TABLE AS) show ``text``."""
        token = self._sql_text.set(text)
        try:
            yield
        finally:
            self._sql_text.reset(token)

    def remember_sql(self, plan, text: str) -> None:
        """``plan`` came from ``text`` (``con.sql``): its runs show ``text``."""
        try:
            self._texts[plan] = text
        except TypeError:          # a plan that cannot be weakly referenced: its runs show the action
            pass

    def text_of(self, origin) -> str | None:
        try:
            text = self._texts.get(origin) if origin is not None else None
        except TypeError:
            text = None
        return text or self._sql_text.get()

    def start_query(self, physical, origin) -> "QueryRecord":
        return QueryRecord(self, physical, origin)

    def cached(self, frame, table) -> None:
        """``df.cache()`` kept ``table``: show it on the storage page until it is unpersisted."""
        description, site = describe_action(None)
        self.emit({"Event": "CacheAdded", "id": id(frame), "name": site or description, "rows": table.num_rows,
                   "bytes": table.nbytes, "time": now_ms()})

    def uncached(self, frame) -> None:
        self.emit({"Event": "CacheRemoved", "id": id(frame), "time": now_ms()})


class QueryRecord:
    """The events of one query: its SQL execution, its job, and (as the scheduler reports) its
    stages and tasks. The :class:`~quarry.execution.scheduler.StageRun` calls the ``stage_*`` and
    ``task_ended`` methods; the session calls :meth:`start` and :meth:`end`."""

    def __init__(self, recorder: Recorder, physical, origin):
        self.recorder = recorder
        self.physical = physical
        self.graph = None
        self.sql_id = recorder.next_id("sql")
        self.job_id: int | None = None
        self.stage_ids: dict[int, int] = {}            # the query's stage id -> the session's
        self.attempts: dict[tuple[int, int], int] = {}
        self.queued: dict[tuple[int, int], float] = {}
        self.ended = False
        self.description, self.call_site = describe_action(recorder.text_of(origin))
        recorder.emit({"Event": "SQLExecutionStart", "executionId": self.sql_id, "description": self.description,
                       "callSite": self.call_site, "time": now_ms(), "planDescription": physical.pretty(),
                       "plan": plan_graph(physical, None)})

    def start(self, graph) -> None:
        """The job starts, with the stages of ``graph`` (None: the inline executor, no stages)."""
        self.graph = graph
        self.job_id = self.recorder.next_id("job")
        stages = []
        for stage in graph.stages if graph is not None else []:
            gid = self.stage_ids[stage.id] = self.recorder.next_id("stage")
            stages.append({"stageId": gid, "localId": stage.id, "name": _stage_name(stage), "mode": stage.mode,
                           "numTasks": stage.tasks if stage.mode != "result" else 1,
                           "parentIds": [self.stage_ids[i] for i in stage.inputs if i in self.stage_ids],
                           "plan": stage.root.pretty(1)})
        self.recorder.emit({"Event": "JobStart", "jobId": self.job_id, "executionId": self.sql_id,
                            "description": self.description, "callSite": self.call_site, "time": now_ms(),
                            "stages": stages})

    # -- called by the scheduler ---------------------------------------------------------------------

    def stage_submitted(self, stage) -> None:
        tasks = stage.tasks if stage.mode != "result" else 1
        t = now_ms()
        for task in range(tasks):
            self.queued[(stage.id, task)] = t
        self.recorder.emit({"Event": "StageSubmitted", "stageId": self.stage_ids[stage.id], "time": t,
                            "numTasks": tasks})

    def task_ended(self, stage, task: int, reply: dict) -> None:
        """A task attempt replied: done, failed, or its worker died (``reply["retry"]``)."""
        t = now_ms()
        key = (stage.id, task)
        attempt = self.attempts.get(key, 0)
        self.attempts[key] = attempt + 1
        duration = reply.get("time")
        launched = reply.get("launched")
        if launched is not None:
            launched *= 1000.0
        elif duration is not None:
            launched = t - duration * 1000.0
        else:          # the worker died: it ran from when it was queued (or last retried), at the latest
            launched = self.queued.get(key, t)
        self.queued[key] = t
        event = {"Event": "TaskEnd", "taskId": self.recorder.next_id("task"), "stageId": self.stage_ids[stage.id],
                 "index": task, "attempt": attempt, "executorId": str(reply.get("worker", "?")),
                 "launchTime": launched, "finishTime": t,
                 "duration": duration * 1000.0 if duration is not None else max(0.0, t - launched)}
        if reply.get("retry"):
            from quarry.execution.pool import describe_exit
            event.update(status="FAILED", retried=True,
                         errorMessage=f"the worker process died ({describe_exit(reply.get('exitcode'))}); "
                                      f"the task was retried")
        elif not reply.get("ok"):
            message = reply.get("message", "")
            if reply.get("exception"):
                message = f"{reply['exception']}: {message}"
            event.update(status="FAILED", errorMessage=message)
        else:
            event["status"] = "SUCCESS"
            for name, field in _REPLY_FIELDS.items():
                event[field] = int(reply.get(name, 0))
        self.recorder.emit(event)

    def stage_completed(self, stage) -> None:
        self.recorder.emit({"Event": "StageCompleted", "stageId": self.stage_ids[stage.id], "time": now_ms(),
                            "status": "COMPLETE"})

    # -- called by the session -------------------------------------------------------------------------

    def end(self, error: BaseException | None, rows: int | None = None) -> None:
        """The query ended; ``error`` is why it failed (None: it succeeded)."""
        if self.ended:
            return
        self.ended = True
        if self.job_id is None:
            self.start(None)
        status = "SUCCEEDED" if error is None or isinstance(error, GeneratorExit) else "FAILED"
        message = None if status == "SUCCEEDED" else (getattr(error, "message", None) or str(error)
                                                      or type(error).__name__)
        t = now_ms()
        self.recorder.emit({"Event": "JobEnd", "jobId": self.job_id, "time": t, "status": status,
                            "errorMessage": message})
        self.recorder.emit({"Event": "SQLExecutionEnd", "executionId": self.sql_id, "time": t,
                            "status": "COMPLETED" if status == "SUCCEEDED" else "FAILED", "errorMessage": message,
                            "rows": rows, "plan": plan_graph(self.physical, self.graph)})


# -- what the events carry ----------------------------------------------------------------------------


def describe_action(sql: str | None) -> tuple[str, str]:
    """(description, call site) of the query being started: its SQL text, or the DataFrame method
    that ran it; and the first caller outside quarry (``file:line``)."""
    frame = sys._getframe(1)
    action = None
    site = ""
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        if module == "quarry" or module.startswith("quarry."):
            if module == "quarry.api.dataframe" and not frame.f_code.co_name.startswith("_"):
                action = frame.f_code.co_name        # the outermost public DataFrame method
        else:
            site = f"{frame.f_code.co_filename}:{frame.f_lineno}"
            break
        frame = frame.f_back
    if sql:
        return sql.strip(), site
    return (f"DataFrame.{action}()" if action else "query"), site


def _stage_name(stage) -> str:
    """A stage's description: its topmost operator, and where its output goes."""
    top = stage.root.describe()
    return f"{top} → {stage.mode}" if stage.mode != "result" else top


def plan_graph(physical, graph) -> dict:
    """The physical plan as nodes and edges, with each operator's metrics (EXPLAIN ANALYZE's): with
    a stage graph, each stage's operators, a ShuffleRead pointing at the stage it reads."""
    nodes: list[dict] = []
    edges: list[dict] = []
    roots: dict[int, int] = {}

    def add(node, stage_id, parent) -> None:
        nid = len(nodes)
        metrics = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in node.metrics.items()}
        if "time" in metrics:
            metrics["time"] = round(node.exclusive_time(), 6)
        nodes.append({"nodeId": nid, "nodeName": node.name, "desc": node.describe(), "stage": stage_id,
                      "metrics": metrics})
        if parent is not None:
            edges.append({"fromId": nid, "toId": parent})
        if stage_id is not None and getattr(node, "stage_id", None) is not None and hasattr(node, "mode"):
            edges.append({"fromStage": node.stage_id, "toId": nid, "mode": node.mode})
        for child in node.children:
            add(child, stage_id, nid)

    if graph is None:
        add(physical, None, None)
    else:
        for stage in reversed(graph.stages):
            roots[stage.id] = len(nodes)
            add(stage.root, stage.id, None)
    resolved = []
    for e in edges:
        if "fromStage" in e:
            if e["fromStage"] in roots:
                resolved.append({"fromId": roots[e["fromStage"]], "toId": e["toId"], "label": e["mode"]})
        else:
            resolved.append(e)
    stages = [] if graph is None else [{"id": s.id, "mode": s.mode, "tasks": s.tasks,
                                        "metrics": dict(s.metrics)} for s in graph.stages]
    return {"nodes": nodes, "edges": resolved, "stages": stages}


def _runtime() -> dict:
    import platform
    import pyarrow
    import quarry
    return {"quarryVersion": quarry.__version__, "pythonVersion": platform.python_version(),
            "pyarrowVersion": pyarrow.__version__, "platform": platform.platform(), "pid": os.getpid()}


def _properties(session) -> list:
    from quarry.catalog.filesystems import REDACTED, SECRET_SETTINGS
    props = [[k, REDACTED if k in SECRET_SETTINGS and v is not None else repr(v)]
             for k, v in sorted(session.config.items())]
    props += [["executor", session.executor], ["workers", str(session.workers)]]
    return props
