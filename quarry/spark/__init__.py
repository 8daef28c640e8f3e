"""Spark Connect: PySpark programs run unchanged against quarry, with the real ``pyspark-client``.

    quarry spark-connect --data ./warehouse --port 15002      # then, in PySpark:
    spark = SparkSession.builder.remote("sc://localhost:15002").getOrCreate()

or, in one Python process (notebooks, tests)::

    >>> import quarry.spark
    >>> spark = quarry.spark.session()                                  # doctest: +SKIP
    >>> spark.range(3).selectExpr("sum(id) AS s").collect()            # doctest: +SKIP
    [Row(s=3)]

The server speaks the Spark Connect gRPC protocol with the message definitions that
``pyspark-client`` ships (``pyspark.sql.connect.proto``). The pipeline, one module each:

- ``service``: the ``SparkConnectService`` RPCs (ExecutePlan, AnalyzePlan, Config, ...);
- ``operations``: reattachable executions (responses buffered until released);
- ``session``: one client session: its quarry Session, configuration and cache;
- ``relations``: Spark relations -> quarry DataFrames (and so the plan builder);
- ``expressions``: Spark expressions -> quarry Columns, with Spark's names and semantics;
- ``sql``: ``spark.sql`` through sqlglot's Spark dialect onto quarry's SQL binder;
- ``udfs``: Python UDFs and the Python relations, on quarry's UDF machinery; ``artifacts``: a
  session's uploaded pyfiles;
- ``types``: Spark data types <-> Arrow types; ``show``: ``df.show()`` text; ``writes``: ``df.write``;
- ``errors``: quarry errors -> PySpark's exception classes.

See docs/spark.md for what is supported.
"""

from __future__ import annotations

import atexit
import os
import threading
from concurrent import futures

__all__ = ["serve", "session", "SparkConnectServer", "DEFAULT_PORT"]

DEFAULT_PORT = 15002
_MAX_MESSAGE = 256 << 20          # createDataFrame sends local data inline


class SparkConnectServer:
    """A running Spark Connect server: ``port``, ``url`` (``sc://localhost:PORT``) and ``stop()``."""

    def __init__(self, grpc_server, service, host: str, port: int, tls: bool):
        self._server = grpc_server
        self.service = service
        self.host = host
        self.port = port
        self.tls = tls

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "::1", "localhost", "0.0.0.0") else self.host
        return f"sc://{host}:{self.port}"

    def wait(self) -> None:
        """Block until the server stops."""
        self._server.wait_for_termination()

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving: running operations are cancelled, sessions forgotten."""
        self.service.close()
        self._server.stop(grace).wait()


def serve(session=None, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, users=None, tls_cert=None,
          tls_key=None, data_dirs: list[str] | None = None, writable_dir=None, anonymous_role: str = "write",
          max_queries: int | None = None, max_queued: int = 64, queue_timeout: float = 120.0,
          query_memory: int | str | None = None, threads: int = 32,
          python_role: str | None = "auto") -> SparkConnectServer:
    """Serve ``session``'s tables (default: a new ``quarry.connect()``) to PySpark clients; returns at once.

    Security is the Flight SQL server's (:func:`quarry.server.serve`): without ``users`` (a
    :class:`quarry.server.auth.Users`) only a loopback ``host`` is allowed; with users, clients send
    ``sc://host:port/;user_id=USER;token=PASSWORD`` and, off loopback, TLS (``tls_cert``/``tls_key``) is
    required, since PySpark sends a token only over a secure channel (on loopback, gRPC's local
    credentials: connect to ``localhost``). Remote clients read files only inside ``data_dirs`` (and
    ``writable_dir``) and write only inside ``writable_dir``, through the session's
    :class:`~quarry.catalog.sandbox.FileSandbox`; ``session.sandbox`` is kept when no directories are given.

    Python UDFs and ``pyfiles`` artifacts run the client's own code in the server's worker processes,
    with the server's permissions and outside the file sandbox: ``python_role`` is the least role
    allowed to send them (``"read"``, ``"write"``, ``"admin"``; None: nobody). ``"auto"`` is
    ``"write"`` without users (a loopback server, where anonymous clients have ``anonymous_role``)
    and ``"admin"`` with users.
    """
    import grpc
    import quarry
    from pyspark.sql.connect.proto import base_pb2_grpc
    from quarry.catalog.sandbox import FileSandbox
    from quarry.errors import QuarryError
    from quarry.server import check_writable_dir, is_loopback
    from quarry.server.access import RoleGuard, TableOwners
    from quarry.server.auth import ROLES, Users
    from quarry.server.flight_sql.admission import Admission
    from quarry.server.flight_sql.limits import QueryLimits
    from quarry.session import Session
    from quarry.spark.service import SparkConnectService
    # importing the service imported the submodule quarry.spark.session, which Python binds over this
    # package's session() function: bind the function again, so quarry.spark.session() works every time
    globals()["session"] = _session_function

    served = session if session is not None else quarry.connect()
    users = users if users is not None else Users()
    if not users and not is_loopback(host):
        raise QuarryError(f"refusing to listen on `{host}` without authentication",
                          hint="configure users (--users FILE), or listen on 127.0.0.1")
    if anonymous_role not in ROLES:
        raise QuarryError(f"unknown role `{anonymous_role}`", hint="roles: " + ", ".join(ROLES))
    if (tls_cert is None) != (tls_key is None):
        raise QuarryError("TLS needs both a certificate and a key", hint="pass --tls-cert and --tls-key")
    if users and tls_cert is None and not is_loopback(host):
        raise QuarryError("a token needs TLS off loopback: PySpark sends tokens only over a secure channel",
                          hint="pass --tls-cert and --tls-key, or listen on 127.0.0.1")
    if python_role == "auto":
        python_role = "admin" if users else "write"
    if python_role is not None and python_role not in ROLES:
        raise QuarryError(f"unknown role `{python_role}` for Python code", hint="roles: " + ", ".join(ROLES))
    writable = check_writable_dir(writable_dir, data_dirs or [])
    sandbox = FileSandbox(list(data_dirs), writable) if data_dirs or writable else served.sandbox
    limits = QueryLimits(max_queued=max_queued, queue_timeout=queue_timeout,
                         **({"max_queries": max_queries} if max_queries is not None else {}),
                         **({"query_memory": query_memory} if query_memory is not None else {}))
    # the Flight SQL server's per-query limits: spill at half of query_memory, killed past all of it
    client_config = limits.session_config(served.config, served.executor)
    admission = Admission(limits.max_queries, limits.max_queued, limits.queue_timeout)
    owners = TableOwners()

    def new_session(user: str):
        """A client session's quarry Session: the served tables, the served executor, sandbox and roles."""
        quarry_session = Session(dict(client_config), executor=served.executor, workers=served.workers,
                                 address=served.address)
        for name in served.catalog.names():
            quarry_session.catalog.register(name, served.catalog.get(name))
        if served.executor != "inline":
            quarry_session._backend_obj = served._backend()      # one worker pool for every session
        quarry_session.sandbox = sandbox
        quarry_session.iceberg_catalogs = served.iceberg_catalogs   # the server's; clients cannot add one
        quarry_session.secrets = dict(served.secrets)    # the server's object-store secrets, read-only to clients
        role = users.role_of(user) if users else anonymous_role
        quarry_session.command_guard = RoleGuard(user, role, owners, quarry_session.catalog)
        if served.ui_recorder is not None:
            quarry_session.ui_recorder = served.ui_recorder     # clients' jobs show in the served session's UI
        return quarry_session

    service = SparkConnectService(new_session, users=users, admission=admission, python_role=python_role)
    server = grpc.server(_DaemonExecutor(threads),
                         options=[("grpc.max_receive_message_length", _MAX_MESSAGE),
                                  ("grpc.max_send_message_length", _MAX_MESSAGE)])
    base_pb2_grpc.add_SparkConnectServiceServicer_to_server(service, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if tls_cert is not None:
            with open(tls_cert, "rb") as cert, open(tls_key, "rb") as key:
                credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
            bound = server.add_secure_port(address, credentials)
        elif users:
            bound = server.add_secure_port(address, grpc.local_server_credentials(grpc.LocalConnectionType.LOCAL_TCP))
        else:
            bound = server.add_insecure_port(address)
    except (OSError, RuntimeError) as exc:
        raise QuarryError(f"cannot listen on {host}:{port}: {exc}", hint="pick another --port") from None
    if not bound:
        raise QuarryError(f"cannot listen on {host}:{port}", hint="the port is in use: pick another --port")
    server.start()
    running = SparkConnectServer(server, service, host, bound, tls_cert is not None)
    _RUNNING.append(running)
    return running


class _DaemonExecutor(futures.Executor):
    """The RPC threads: daemon threads taking calls from a queue.

    Not ``concurrent.futures.ThreadPoolExecutor``: that one refuses new work once the interpreter
    starts exiting, while PySpark's own exit handler still sends its last ReleaseSession and
    ReleaseExecute calls to an in-process server (``quarry.spark.session()``)."""

    def __init__(self, threads: int):
        import queue
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stopped = False
        for i in range(threads):
            threading.Thread(target=self._work, name=f"spark-connect-{i}", daemon=True).start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:          # handed to whoever waits on the future (gRPC)
                future.set_exception(exc)

    def submit(self, fn, /, *args, **kwargs):
        future: futures.Future = futures.Future()
        self._queue.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._stopped = True


_RUNNING: list[SparkConnectServer] = []
_LOCAL: dict = {}
_LOCAL_LOCK = threading.Lock()


def session(quarry_session=None, *, workers: int | None = None):
    """A PySpark ``SparkSession`` connected to a quarry Spark Connect server in this process, started on a
    free loopback port on first use (and stopped when the process exits).

    ``quarry_session`` (default: a new ``quarry.connect(workers=workers)``) supplies the tables the
    Spark session sees and the executor it runs on.

    >>> spark = quarry.spark.session()                                              # doctest: +SKIP
    >>> spark.createDataFrame([(1, "a")], ["id", "v"]).show()                        # doctest: +SKIP
    """
    import quarry
    from pyspark.sql import SparkSession
    with _LOCAL_LOCK:
        key = id(quarry_session) if quarry_session is not None else ("default", workers)
        server = _LOCAL.get(key)
        if server is None:
            served = quarry_session if quarry_session is not None else quarry.connect(workers=workers)
            server = serve(served, "127.0.0.1", 0)
            _LOCAL[key] = server
    os.environ.setdefault("SPARK_CONNECT_MODE_ENABLED", "1")
    return SparkSession.builder.remote(server.url).getOrCreate()


@atexit.register
def _close_all() -> None:
    # cancel what runs; the gRPC server itself is left to die with the process, since PySpark's own
    # exit handler still sends its last ReleaseExecute calls from a thread pool at this point
    for server in list(_RUNNING):
        server.service.close()


_session_function = session
