"""The server's limits on queries: memory per query, how many run at once, how many wait.

:class:`QueryLimits` holds the options (``--query-memory``, ``--max-queries``,
``--max-queued``, ``--queue-timeout``) and says what they mean for the sessions that run
requests (:meth:`QueryLimits.session_config`):

- every query runs on the served session's executor: with the default process pool its
  stages are tasks in worker processes, so a runaway query is stopped by stopping (or
  killing) its tasks, never by stopping the server;
- ``query_memory`` is the query's cap: the pool kills the query's tasks when the worker
  memory they hold together exceeds it (``memory_cap``, see quarry.execution.pool), and
  operators spill past half of it (``memory_limit``), so a query normally spills long
  before it reaches the cap;
- results stream: a result that is a plain scan, filter or projection runs in the
  result stage (``stream_results``) and leaves batch by batch as it is read.

The number of queries is enforced by :class:`quarry.server.flight_sql.admission.Admission`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from quarry.errors import QuarryError


def default_query_memory() -> int:
    """An eighth of the machine's RAM, at least 512 MB and at most 8 GB: twice the executor's default
    ``memory_limit``, so that operators spill at the same point as in ``quarry.connect()``."""
    from quarry.session import default_memory_limit
    return 2 * default_memory_limit()


def default_max_queries() -> int:
    """One running query per core: each gets the whole pool while it has tasks ready."""
    return max(1, os.cpu_count() or 1)


@dataclass
class QueryLimits:
    """How much one query may use, and how many run and wait at once."""

    query_memory: int = field(default_factory=default_query_memory)
    max_queries: int = field(default_factory=default_max_queries)
    max_queued: int = 64
    queue_timeout: float = 120.0

    def __post_init__(self):
        from quarry.session import parse_bytes
        self.query_memory = parse_bytes(self.query_memory)
        if self.query_memory < 16 << 20:
            raise QuarryError(f"a query memory cap of {self.query_memory} bytes is too small to run anything",
                              hint="give --query-memory at least 16MB, e.g. 512MB or 2GB")
        if int(self.max_queries) < 1:
            raise QuarryError("--max-queries must be at least 1", hint="the default is the number of cores")
        if int(self.max_queued) < 0:
            raise QuarryError("--max-queued cannot be negative", hint="0 refuses every query that would wait")
        if not float(self.queue_timeout) > 0:
            raise QuarryError("--queue-timeout must be more than 0 seconds")
        self.max_queries, self.max_queued = int(self.max_queries), int(self.max_queued)
        self.queue_timeout = float(self.queue_timeout)

    def session_config(self, config: dict, executor: str) -> dict:
        """The served session's settings with these limits applied (see the module docstring)."""
        out = dict(config)
        out["stream_results"] = True
        if executor == "inline":
            out["memory_limit"] = self.query_memory        # one process: nothing can be killed, only spilled
        else:
            out["memory_limit"] = self.query_memory // 2
            out["memory_cap"] = self.query_memory
        return out

    def status(self, session) -> dict:
        """The limits, for ``quarry.status``, with the executor that runs the queries and its workers."""
        out = {"max_queries": self.max_queries, "max_queued": self.max_queued,
               "query_memory": self.query_memory, "executor": session.executor, "worker_pids": []}
        pool = getattr(session._backend_obj, "pool", None)      # the process pool, once a query started it
        if pool is not None:
            out["worker_pids"] = pool.pids()
        return out


def stream_status(pending) -> dict:
    """How far a result being streamed got: rows its executor produced, and whether it still produces."""
    runs = [r for r in pending.runs if hasattr(r, "rows_produced")]
    return {"rows_produced": sum(r.rows_produced for r in runs),
            "producing": any(r.producing for r in runs)}


__all__ = ["QueryLimits", "default_query_memory", "default_max_queries", "stream_status"]
