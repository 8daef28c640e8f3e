"""``quarry.connect()`` and the Session: catalog, configuration, and running plans.

    >>> import quarry
    >>> con = quarry.connect()
    >>> con.register("t", pyarrow.table({"x": [1, 2, 3]}))          # doctest: +SKIP
    >>> con.sql("SELECT sum(x) AS s FROM t").to_arrow()              # doctest: +SKIP
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa

from quarry.catalog import Catalog, ViewTable, provider_for
from quarry.catalog.discovery import table_name
from quarry.errors import QuarryError, UnsupportedError
from quarry.logical.plan import LogicalPlan
from quarry.optimizer.driver import Optimizer, Trace
from quarry.physical.base import ExecConfig, ExecContext
from quarry.physical.planner import PhysicalPlanner


DEFAULT_CONFIG = {
    "target_partitions": os.cpu_count() or 1,   # partitions (tasks) per stage
    "batch_rows": 1 << 17,           # rows per record batch between operators
    "broadcast_rows": 200_000,       # a join side estimated below this is broadcast
    "disabled_rules": (),            # optimizer rules to skip, by name
    "memory_limit": None,            # operator state of a whole query before spilling (None: RAM / 16)
    "spill_dir": None,               # shuffle and spill files (None: the system temp directory)
    "task_max_attempts": 3,          # runs of a task whose worker process died, before the query fails
    "timeout": None,                 # seconds a query may run before it is cancelled (None: no limit)
    "runtime_filters": True,         # join filters made from build sides at run time, applied in probe scans
    "replacement_scans": True,       # SQL reads the caller's pandas/polars/Arrow variables by name
    "memory_cap": None,              # memory a query's worker tasks may hold together before they are killed
    "stream_results": False,         # a result that is a plain scan/filter/project streams from this process
    "event_log_dir": None,           # a directory for the web UI's event log of jobs, stages and tasks (docs/ui.md)
    "default_null_order": "nulls_last",  # where ORDER BY puts NULLs when it does not say (as DuckDB's setting)
    "default_order": "asc",          # ORDER BY without ASC or DESC
    "recursion_limit": 10_000,       # rounds a recursive CTE may run before it is an error
    # object stores (docs/sources.md); unset: the AWS default chain (environment, profile, instance)
    "s3_endpoint": None,             # host:port or URL of an S3-compatible store
    "s3_region": None,
    "s3_access_key_id": None,
    "s3_secret_access_key": None,    # shown redacted by current_setting and the UI
    "s3_session_token": None,        # shown redacted too
    "s3_use_ssl": True,              # https (false: http) for an endpoint given without a scheme
    "s3_url_style": None,            # "path" or "vhost" addressing (None: pyarrow's default)
    "gcs_endpoint": None,            # host:port or URL of a GCS emulator (None: Google's; STORAGE_EMULATOR_HOST)
    "gcs_use_ssl": True,             # https (false: http) for a gcs_endpoint given without a scheme
    "gcs_anonymous": False,          # no credentials (an emulator, public buckets)
    "gcs_retry_seconds": 20,         # how long a GCS request is retried (Google's client default: 15 minutes)
    "azure_storage_connection_string": None,  # AccountName=...;AccountKey=...;BlobEndpoint=... (redacted)
    "azure_account_name": None,      # for az:// paths that do not name their account
    "remote_io_threads": 8,          # object-store listings and footer fetches in flight at once
}

# the frame that called con.sql, while its statements are bound (None: no replacement scans)
_SQL_CALLER: contextvars.ContextVar = contextvars.ContextVar("quarry_sql_caller", default=None)

EXECUTORS = ("processes", "inline", "ray")


def parse_bytes(value) -> int:
    """A byte count from an int or a string such as ``"512MB"`` or ``"2 GiB"``.

    >>> parse_bytes("64MB")
    67108864
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip().upper().replace(" ", "")
    units = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
             "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40}
    number = text.rstrip("KMGTIB")
    unit = text[len(number):]
    try:
        return int(float(number) * units[unit])
    except (KeyError, ValueError):
        raise QuarryError(f"`{value}` is not a size", hint="write bytes as a number or with a unit: 512MB, 2GB") from None


def default_memory_limit() -> int:
    """The memory budget of one query when none is set: a sixteenth of the machine's RAM, at least
    256 MB and at most 4 GB (1.5 GB on a 24 GB machine).

    It is the operator state of the whole query, all its processes together (the driver's result
    stage and every worker's task), so that several queries and the rest of the machine fit too;
    queries whose state is bigger spill to disk. Python, Arrow's buffers in flight and the
    processes themselves come on top of it.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return min(max(256 << 20, total // 16), 4 << 30)


def task_memory_share(limit: int, executor: str, workers: int) -> int:
    """The part of a query's budget ``limit`` that one task may hold.

    In-process (``inline``) all partitions share one budget, so a task may use all of it. With
    worker processes (or Ray) each of the ``workers`` processes runs one task at a time and the
    driver runs the result stage, so each gets an equal share.
    """
    if executor == "inline":
        return limit
    return max(1, limit // (max(1, workers) + 1))


@dataclass
class QueryResult:
    """What running a plan produced: the table, and (for EXPLAIN ANALYZE) the executed plan."""

    table: pa.Table
    physical: object = None
    elapsed: float = 0.0
    trace: Trace | None = None


def _reads_process_local(physical) -> bool:
    """Whether a physical plan scans files only this process can read (see
    :func:`quarry.catalog.filesystems.is_process_local`)."""
    from quarry.catalog.filesystems import is_process_local
    for node in physical.walk():
        provider = getattr(node, "provider", None)
        if provider is not None and is_process_local(getattr(provider, "location", None)):
            return True
    return False


class Session:
    """A connection to an embedded quarry: tables, views, settings, and query execution."""

    def __init__(self, config: dict | None = None, *, executor: str = "inline", workers: int | None = None,
                 address: str | None = None, progress=None):
        from quarry.optimizer.rules import BATCHES
        self.executor = executor
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.address = address
        self._progress_callbacks = [progress] if progress is not None else []
        self._backend_obj = None
        self._runs: dict = {}                            # context -> StageRun, for progress()
        self._faults: list = []                          # injected task faults, for tests (inject_faults)
        self.ui_recorder = None                          # quarry.ui.events.Recorder, with the UI or an event log
        self.ui = None                                   # quarry.ui.server.UIServer, with connect(ui=True)
        self.catalog = Catalog()
        from quarry.logical.functions import BUILTINS, FunctionRegistry
        self.functions = FunctionRegistry(BUILTINS)         # built-ins and this session's Python UDFs
        self.table_functions: dict = {}                    # name -> PythonTableStep (register_table_function)
        self.optimizer = Optimizer(BATCHES)
        self.config = dict(DEFAULT_CONFIG)
        if config:
            self.set_config(**config)
        self.initial_config = dict(self.config)          # what SQL's RESET goes back to
        self.sandbox = None                              # a FileSandbox: set by the server for remote clients
        self.command_guard = None                        # checks each bound statement (the server's roles)
        self.secrets: dict = {}                          # CREATE SECRET: name -> S3Credentials, in memory only
        self.iceberg_catalogs: dict = {}                 # register_iceberg_catalog: name -> pyiceberg Catalog
        self._running: set = set()                       # contexts of queries in flight, for cancel()
        self._lock = threading.Lock()

    # -- configuration ------------------------------------------------------------------

    def set_config(self, **options) -> None:
        """Change settings: ``con.set_config(disabled_rules=["push_down_filter"])``."""
        for key, value in options.items():
            if key not in DEFAULT_CONFIG:
                from quarry.errors import suggest
                raise QuarryError(f"unknown setting `{key}`", hint=suggest(key, DEFAULT_CONFIG) or
                                  "settings: " + ", ".join(DEFAULT_CONFIG))
            if key == "disabled_rules":
                value = tuple([value] if isinstance(value, str) else value)
                self.optimizer.check_disabled(value)      # unknown rules and required ones raise now
            if key in ("memory_limit", "memory_cap") and value is not None:
                parse_bytes(value)
            if key in ("default_null_order", "default_order"):
                from quarry.sql.settings import check_value
                value = check_value(key, value)
            self.config[key] = value
            if key == "event_log_dir":
                from quarry.ui import set_event_log
                set_event_log(self, value)

    def exec_config(self) -> ExecConfig:
        parts = max(1, int(self.config["target_partitions"]))
        limit = self.config["memory_limit"]
        return ExecConfig(target_partitions=parts,
                          threads=parts,
                          batch_rows=int(self.config["batch_rows"]),
                          broadcast_rows=int(self.config["broadcast_rows"]),
                          memory_limit=task_memory_share(
                              parse_bytes(limit) if limit is not None else default_memory_limit(),
                              self.executor, self.workers),
                          spill_dir=self.config["spill_dir"],
                          task_max_attempts=max(1, int(self.config["task_max_attempts"])),
                          runtime_filters=bool(self.config["runtime_filters"]),
                          memory_cap=parse_bytes(cap) if (cap := self.config["memory_cap"]) is not None else None,
                          # workers=0 is the serial baseline: one partition and one thread
                          arrow_threads=not (self.executor == "inline" and self.workers == 0))

    # -- tables -------------------------------------------------------------------------------

    def register(self, name: str, source, **options) -> None:
        """Make ``source`` queryable as ``name``.

        ``source`` may be a Parquet file, directory (hive ``k=v`` folders become
        columns) or glob, or a list of them; a CSV path; a pyarrow Table / RecordBatch /
        RecordBatchReader; a pandas or polars DataFrame; any object with
        ``__arrow_c_stream__``; rows as a list of dicts (``[{"a": 1}, {"a": 2}]``, types
        inferred by pyarrow); or a quarry DataFrame (registered as a view). Anything else,
        or a ``name`` that is not a string, is a QuarryError with a hint.

        >>> con.register("lineitem", "data/lineitem.parquet")     # doctest: +SKIP
        >>> con.register("points", [{"x": 1, "y": 2}, {"x": 3, "y": None}])   # doctest: +SKIP
        """
        from quarry.api.dataframe import DataFrame
        name = _table_name(name, "register")
        if isinstance(source, DataFrame):
            source.create_view(name, replace=True)
            return
        if isinstance(source, (str, os.PathLike)):
            self.check_path_allowed(os.fspath(source))
        elif isinstance(source, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in source):
            self.check_path_allowed([os.fspath(p) for p in source])
        with self.using_storage():
            provider = provider_for(name, source, **options)
        if self.sandbox is not None and getattr(provider, "kind", None) in ("delta", "iceberg"):
            self.check_path_allowed(provider.files)      # a Delta log or Iceberg manifest may name files elsewhere
        self.catalog.register(name, provider)

    def unregister(self, name: str) -> None:
        """Forget the table or view ``name`` (no error when there is none)."""
        self.catalog.drop(_table_name(name, "unregister"), if_exists=True)

    def tables(self) -> list[str]:
        """Names of all tables and views."""
        return self.catalog.names()

    def table(self, name: str):
        """A DataFrame reading the whole table ``name``."""
        from quarry.api.dataframe import DataFrame
        from quarry.logical.builder import scan_of
        provider = self.catalog.get(_table_name(name, "table"))
        plan = provider.build() if isinstance(provider, ViewTable) else scan_of(provider)
        return DataFrame(self, plan)

    # -- DataFrames from data -----------------------------------------------------------------

    def read_parquet(self, path, *, name: str | None = None, hive_partitioning: bool | None = None):
        """A DataFrame reading Parquet: a file, a directory (hive ``k=v`` folders become columns),
        a glob or a list of paths. Files are read lazily, at each query; ``name`` (default: the file
        name without extension) qualifies the columns, as a table name does in SQL.

        >>> li = con.read_parquet("data/lineitem.parquet")            # doctest: +SKIP
        >>> li.filter("l_quantity < 24").count()                      # doctest: +SKIP
        """
        from quarry.catalog.providers import ParquetTable
        self.check_path_allowed([os.fspath(p) for p in path] if isinstance(path, (list, tuple)) else os.fspath(path))
        with self.using_storage():
            provider = ParquetTable(name or table_name(path), path, hive_partitioning=hive_partitioning)
        return self._scan_frame(provider)

    def read_delta(self, path, *, version: int | None = None, timestamp=None, name: str | None = None):
        """A DataFrame over a Delta table (local or ``s3://``): the latest snapshot, or ``version`` /
        ``timestamp`` (time travel). See docs/sources.md.

        >>> orders = con.read_delta("warehouse/orders", version=3)     # doctest: +SKIP
        """
        from quarry.catalog.delta import DeltaTable
        self.check_path_allowed(os.fspath(path))
        with self.using_storage():
            provider = DeltaTable(name or table_name(path), path, version=version, timestamp=timestamp)
        return self._scan_frame(provider)

    def delta_history(self, path, limit: int | None = None) -> pa.Table:
        """The commits of the Delta table at ``path``, newest first (``version``, ``timestamp``, ``operation``)."""
        from quarry.catalog.delta import history
        self.check_path_allowed(os.fspath(path))
        with self.using_storage():
            return history(path, limit)

    def register_iceberg_catalog(self, name: str, catalog=None, **properties) -> None:
        """Make the Iceberg catalog ``name`` known to ``iceberg_scan('name.db.table')`` (or
        ``iceberg_scan('db.table')`` while it is the only one): a ``pyiceberg.catalog.Catalog``, or the
        properties pyiceberg's ``load_catalog`` takes (``type='sql'|'rest'|'glue'|'hive'``, ``uri``,
        ``warehouse``, ``s3.endpoint``, ...). See docs/sources.md.

        >>> con.register_iceberg_catalog("lake", type="sql", uri="sqlite:///lake.db",
        ...                              warehouse="file:///data/lake")          # doctest: +SKIP
        """
        if self.sandbox is not None:
            from quarry.errors import AccessDeniedError
            raise AccessDeniedError("registering an Iceberg catalog is not allowed",
                                    hint="a server's clients use the catalogs the server was started with")
        from quarry.catalog.iceberg import load_catalog
        self.iceberg_catalogs[name] = load_catalog(name, catalog, **properties)

    def read_iceberg(self, table: str, *, snapshot_id: int | None = None, timestamp=None, name: str | None = None):
        """A DataFrame over an Iceberg table: a path (its directory or a ``.metadata.json`` file) or a
        registered catalog's ``[catalog.]namespace.table``; ``snapshot_id`` / ``timestamp``: time travel.

        >>> orders = con.read_iceberg("lake.db.orders", snapshot_id=8126451)     # doctest: +SKIP
        """
        provider = self.iceberg_table(table, snapshot_id=snapshot_id, timestamp=timestamp)
        if name:
            provider.name = name
        return self._scan_frame(provider)

    def iceberg_table(self, table: str, *, snapshot_id: int | None = None, timestamp=None):
        """The table provider of an Iceberg table (what ``iceberg_scan`` reads), checked against the sandbox."""
        from quarry.catalog.iceberg import iceberg_provider, looks_like_location
        if looks_like_location(table):
            self.check_path_allowed(table)
        provider = iceberg_provider(self, table, snapshot_id=snapshot_id, timestamp=timestamp)
        if looks_like_location(table) and self.sandbox is not None:
            self.check_path_allowed(provider.files)      # metadata may name files outside the table's directory
        return provider

    def iceberg_catalog_tables(self, columns: bool = False) -> list:
        """The tables of the registered Iceberg catalogs (:class:`quarry.catalog.iceberg.CatalogTable`,
        with schemas when ``columns``), as ``information_schema`` and the Flight SQL listing show them."""
        if not self.iceberg_catalogs:
            return []
        from quarry.catalog.iceberg import catalog_tables
        with self.using_storage():
            return catalog_tables(self.iceberg_catalogs, columns)

    def iceberg_snapshots(self, table: str) -> pa.Table:
        """The snapshots of an Iceberg table, oldest first (``snapshot_id``, ``timestamp``, ``operation``)."""
        from quarry.catalog.iceberg import looks_like_location, snapshots
        if looks_like_location(table):
            self.check_path_allowed(table)
        return snapshots(self, table)

    def read_csv(self, path, *, name: str | None = None, delimiter: str | None = None, header: bool = True):
        """A DataFrame over CSV file(s), loaded into memory now with types inferred by Arrow.

        >>> people = con.read_csv("people.csv")                       # doctest: +SKIP
        """
        from quarry.catalog.providers import MemoryTable, read_csv_table
        self.check_path_allowed([os.fspath(p) for p in path] if isinstance(path, (list, tuple)) else os.fspath(path))
        with self.using_storage():
            table = read_csv_table(path, delimiter=delimiter, header=header)
        provider = MemoryTable(name or table_name(path), table)
        return self._scan_frame(provider)

    def from_arrow(self, data, *, name: str = "arrow"):
        """A DataFrame over Arrow data: a ``pyarrow.Table``, ``RecordBatch``, ``RecordBatchReader``, or any
        object with ``__arrow_c_stream__`` (polars, DuckDB relations, ...), read into memory now.

        >>> df = con.from_arrow(pa.table({"x": [1, 2, 3]}))           # doctest: +SKIP
        """
        from quarry.api.dataframe import DataFrame
        if isinstance(data, DataFrame):
            return data
        return self._scan_frame(provider_for(name, data))

    def from_pandas(self, data, *, name: str = "pandas"):
        """A DataFrame over a pandas DataFrame (the index is dropped), converted to Arrow now.

        >>> df = con.from_pandas(pd.DataFrame({"x": [1, 2]}))         # doctest: +SKIP
        """
        from quarry.catalog.providers import MemoryTable
        return self._scan_frame(MemoryTable(name, pa.Table.from_pandas(data, preserve_index=False)))

    def _scan_frame(self, provider):
        from quarry.api.dataframe import DataFrame
        from quarry.logical.builder import scan_of
        return DataFrame(self, scan_of(provider))

    @property
    def allowed_paths(self) -> list[str] | None:
        """The directories this session may read files in (None: any file); see :attr:`sandbox`."""
        return None if self.sandbox is None else list(self.sandbox.roots)

    @allowed_paths.setter
    def allowed_paths(self, paths: list[str] | None) -> None:
        from quarry.catalog.sandbox import FileSandbox
        self.sandbox = None if paths is None else FileSandbox(paths)

    def check_path_allowed(self, paths) -> None:
        """Refuse reading ``paths`` (a path, glob or list) unless the session's :attr:`sandbox` allows every
        file they name (no sandbox: every file is allowed). See :mod:`quarry.catalog.sandbox`."""
        if self.sandbox is not None:
            self.sandbox.check_read(paths)

    def check_write_allowed(self, path) -> None:
        """Refuse writing ``path`` unless the :attr:`sandbox` allows it (no sandbox: allowed): inside its
        writable directory and not over a file a registered table reads. Writing into an Iceberg table
        (``lake.db.t`` of a registered catalog, or a path inside a local Iceberg table's directory) is
        refused: quarry does not write Iceberg tables."""
        from quarry.catalog.iceberg import refuse_iceberg_write
        refuse_iceberg_write(os.fspath(path), self.iceberg_catalogs)
        if self.sandbox is not None:
            in_use = [f for p in self.catalog.providers() for f in getattr(p, "files", ())]
            self.sandbox.check_write(path, in_use)

    def storage(self):
        """What remote paths are read with: the ``s3_*`` settings and the secrets (a snapshot; see
        :mod:`quarry.catalog.filesystems`)."""
        from quarry.catalog.filesystems import make_storage
        return make_storage(self.config, self.secrets.values())

    def using_storage(self):
        """A context in which remote paths opened by readers and writers use :meth:`storage`."""
        from quarry.catalog.filesystems import using_storage
        return using_storage(self.storage())

    # -- Python functions -----------------------------------------------------------------------

    def register_function(self, name: str, fn, **options) -> None:
        """Make a Python UDF callable by ``name`` in SQL and the DSL (see docs/udf.md).

        ``fn`` is a UDF made with ``F.udf``/``F.udaf`` (registered under ``name``), or a plain
        function with the options of ``F.udf`` (``returns=`` required; ``aggregate=True`` for a
        ``F.udaf``). Registering a name again replaces the earlier function.

        >>> con.register_function("discounted", discounted)                       # doctest: +SKIP
        >>> con.register_function("plus_one", lambda x: pc.add(x, 1), returns="bigint")   # doctest: +SKIP
        """
        from quarry.api.udf import as_user_function
        user = as_user_function(fn, name, dict(options))
        if user.name in self.table_functions:
            raise QuarryError(f"register_function: `{user.name}` is already a table function",
                              hint=f"unregister_function('{user.name}') first, or choose another name")
        self.functions.remove(user.name)
        self.functions.add(user.definition)

    def register_table_function(self, name: str, fn, *, schema, kind: str = "arrow") -> None:
        """Make ``fn`` a table function of SQL's FROM: ``FROM name((SELECT ...), 'const', ...)``.

        With a subquery argument, ``fn(batch, *constants)`` is called once per batch of the
        subquery's rows (a ``pa.RecordBatch``, or a pandas DataFrame for ``kind="pandas"``) and
        returns rows: a pyarrow Table/RecordBatch, a pandas DataFrame or a dict of columns, with
        the columns of ``schema`` (a DDL string such as ``"doc_id bigint, token string"``, or a
        ``pa.Schema``). Without one, ``fn(*constants)`` is called once.

        >>> con.register_table_function("tokens", tokens, schema="doc_id bigint, token string")  # doctest: +SKIP
        """
        from quarry.api.udf import parse_schema
        from quarry.logical import udf as U
        key = U.check_name(name, "register_table_function")
        style = U.check_kind(kind, U.TABLE_KINDS, "register_table_function")
        if not callable(fn):
            raise QuarryError(f"register_table_function: {fn!r} is not callable")
        if key in self.functions.functions:
            raise QuarryError(f"register_table_function: `{key}` is already a scalar or aggregate UDF",
                              hint=f"unregister_function('{key}') first, or choose another name")
        self.table_functions[key] = U.PythonTableStep(key, fn, style, parse_schema(schema, "register_table_function"))

    def unregister_function(self, name: str) -> None:
        """Forget the UDF or table function ``name`` (no error when there is none)."""
        self.functions.remove(name)
        self.table_functions.pop(name.lower(), None)

    # -- SQL ------------------------------------------------------------------------------------

    def sql(self, text: str):
        """Run SQL. Queries return a lazy DataFrame; DDL/DML run at once (returning a status frame:
        one row with a ``status``, ``count`` or ``plan`` column; see :meth:`statement`).

        A table name that is not registered may name a pandas, polars or pyarrow table (or a
        quarry DataFrame) in a variable of the calling code: see :meth:`replacement_scan`.

        >>> con.sql("SELECT 42 AS answer").to_arrow()          # doctest: +SKIP
        >>> trips = pa.table({"km": [3.5, 7.25]}); con.sql("SELECT sum(km) FROM trips")   # doctest: +SKIP
        """
        from quarry.api.dataframe import DataFrame
        from quarry.sql.commands import QueryPlan
        result = self._statement(text, sys._getframe(1))
        if isinstance(result, QueryPlan):
            return DataFrame(self, result.plan, sql=result.sql)
        return DataFrame.from_arrow(self, result.table())

    def statement(self, text: str):
        """Run the statements in ``text``; the typed result of the last one
        (:mod:`quarry.sql.commands`): a ``QueryPlan`` (a query, not run yet), a ``Status``
        (DDL), a ``RowCount`` (rows written by INSERT, CREATE TABLE AS, COPY) or an ``ExplainText``.
        Called from user code it sees the caller's variables as :meth:`sql` does; quarry's own
        front ends (the shell, the servers) call it too, and so never read variables.

        >>> con.statement("CREATE TABLE t AS SELECT 1 AS x").rows_changed     # doctest: +SKIP
        1
        """
        return self._statement(text, sys._getframe(1))

    def _statement(self, text: str, caller):
        """Run ``text``'s statements with ``caller`` (the frame of whoever called ``sql``,
        ``execute`` or ``statement``) as the scope of replacement scans. Each public entry point
        passes its own caller's frame: one calling another would make quarry the caller."""
        from quarry.catalog.redaction import redacting
        from quarry.sql.statements import run_sql
        # a restricted session's errors never quote the files it reads
        from quarry.logical.functions import using_functions
        from quarry.sql.secrets import redact_sql
        recorder = self.ui_recorder
        if recorder is None:
            with self._sql_caller(caller), redacting(self.sandbox is not None), using_functions(self.functions), \
                    self.using_storage():
                return run_sql(self, text)
        shown = redact_sql(text)                    # a CREATE SECRET's keys never reach the UI or event log
        with self._sql_caller(caller), redacting(self.sandbox is not None), using_functions(self.functions), \
                self.using_storage(), recorder.running_sql(shown):
            result = run_sql(self, text)
        recorder.remember_sql(getattr(result, "plan", None), shown)       # the UI shows a query's SQL
        return result

    def dsl(self, text: str):
        """Run a pipeline of the quarry DSL; returns a lazy DataFrame (see docs/dsl.md).

        Each verb is one DataFrame API call, so a pipeline and the same API chain give
        the same logical plan. Expressions are SQL expressions.

        >>> con.dsl("from lineitem | filter l_quantity < 24 | group l_returnflag (n = count())")  # doctest: +SKIP
        """
        from quarry.dsl import compile_pipeline
        from quarry.logical.functions import using_functions
        with using_functions(self.functions):
            return compile_pipeline(self, text)

    def execute(self, text: str) -> pa.Table:
        """Run SQL and return the result as a pyarrow Table (a status table for DDL/DML).
        ``con.execute("SELECT 1 AS x").num_rows``."""
        from quarry.sql.commands import QueryPlan
        result = self._statement(text, sys._getframe(1))
        return self.run(result.plan).table if isinstance(result, QueryPlan) else result.table()

    # -- replacement scans ------------------------------------------------------------------------

    @contextmanager
    def _sql_caller(self, frame):
        """Let the statements bound inside see ``frame``'s variables, when replacement scans may run:
        the setting is on, the session is not a server's (no ``sandbox``), and the caller
        is user code rather than quarry's own (the shell, the Flight SQL server)."""
        module = frame.f_globals.get("__name__") or ""
        own = module == "quarry" or module.startswith("quarry.")
        allowed = self.config["replacement_scans"] and self.sandbox is None and not own
        token = _SQL_CALLER.set(frame if allowed else None)
        try:
            yield
        finally:
            _SQL_CALLER.reset(token)
            del frame

    def replacement_scan(self, name: str):
        """The table a Python variable called ``name`` holds, for a SQL name no table is registered
        under, as DuckDB's replacement scans do; None when there is no such variable.

        Looked up while ``con.sql``/``con.execute``/``con.statement`` binds a statement, in the
        calling code's local variables, then its global ones (an exact name first, else the one
        differing only in case).
        A pyarrow Table / RecordBatch / RecordBatchReader, a pandas or polars DataFrame or another
        object with ``__arrow_c_stream__`` is read as it is at that moment; a quarry DataFrame is
        read as a view of its plan. A variable holding anything else is an error saying so.
        Off when the ``replacement_scans`` setting is False and always in a server's sessions.
        """
        frame = _SQL_CALLER.get()
        if frame is None:
            return None
        found = _find_variable(name, (frame.f_locals, frame.f_globals))
        if found is None:
            return None
        var_name, value = found
        provider = _variable_table(var_name, value)
        if provider is None:
            from quarry.errors import UnknownTableError
            kind = type(value).__name__
            raise UnknownTableError(name, hint=f"the Python variable `{var_name}` holds a value of type {kind}, "
                                               "not a table: SQL reads pandas, polars and pyarrow tables and "
                                               "quarry DataFrames by their variable name")
        return provider

    # -- running plans ---------------------------------------------------------------------------

    def optimize(self, plan: LogicalPlan, trace: Trace | None = None) -> LogicalPlan:
        return self.optimizer.optimize(plan, self.config, trace)

    def physical_plan(self, optimized: LogicalPlan):
        return PhysicalPlanner(self.exec_config()).plan(optimized)

    def run(self, plan: LogicalPlan) -> QueryResult:
        """Optimize, plan and execute ``plan``; the result columns carry the plan's names."""
        start = time.perf_counter()
        optimized = self.optimize(plan)
        physical = self.physical_plan(optimized)
        table = self.execute_physical(physical, origin=plan)
        names = [f.name for f in plan.schema]
        if names and table.num_columns == len(names):        # (a table without columns keeps its row count)
            table = pa.Table.from_arrays(table.columns, names=names)
        return QueryResult(table, physical, time.perf_counter() - start)

    def run_batches(self, plan: LogicalPlan):
        """Optimize, plan and execute ``plan``, yielding its result batches as they arrive (columns in
        the plan's output order), for writers that must not hold the whole result.

        >>> rows = sum(b.num_rows for b in con.run_batches(plan))          # doctest: +SKIP
        """
        physical = self.physical_plan(self.optimize(plan))
        yield from self.execute_stream(physical, origin=plan)

    def new_context(self, origin=None) -> ExecContext:
        """An ExecContext for one query, with this session's settings and timeout."""
        ctx = ExecContext(self.exec_config())
        ctx.origin = origin
        timeout = self.config["timeout"]
        if timeout is not None:
            ctx.deadline = time.monotonic() + float(timeout)
        return ctx

    def execute_physical(self, physical, origin=None) -> pa.Table:
        """Run a physical plan as a query of this session (so :meth:`cancel` reaches it)."""
        return pa.Table.from_batches(list(self.execute_stream(physical, origin=origin)), schema=physical.schema)

    def execute_stream(self, physical, ctx: ExecContext | None = None, origin=None):
        """Run a physical plan, yielding its result batches as the last stage produces them.

        With the inline executor every partition runs in this process; otherwise the plan
        is cut into stages that run as tasks on the worker pool (or Ray), and the
        executed stages are kept on ``physical.stage_graph`` for EXPLAIN ANALYZE.
        """
        from quarry.execution.executor import quarry_errors, stream_inline, stream_staged
        ctx = ctx or self.new_context(origin)
        with self._lock:
            self._running.add(ctx)
        # the web UI's record of this query's job, stages and tasks (None: no UI, no event log)
        record = self.ui_recorder.start_query(physical, origin if origin is not None else ctx.origin) if self.ui_recorder is not None else None
        try:
            if self.executor == "inline" or _reads_process_local(physical):
                # (files in this process's memory:// only: worker processes would find nothing)
                if record is not None:
                    record.start(None)
                yield from stream_inline(physical, ctx)
                return
            from quarry.execution.scheduler import StageRun
            from quarry.execution.stages import cut_stages
            with quarry_errors():
                backend = self._backend()
            graph = cut_stages(physical, stream_result=bool(self.config["stream_results"]))
            physical.stage_graph = graph
            if record is not None:
                record.start(graph)
            run = StageRun(graph, backend, ctx.config, ctx, self._notify, self._faults.pop(0) if self._faults else None,
                           listener=record)
            with self._lock:
                self._runs[ctx] = run
            yield from stream_staged(run)
        except BaseException as exc:
            if record is not None:
                record.end(exc)
            raise
        finally:
            if record is not None:
                record.end(None)
            with self._lock:
                self._running.discard(ctx)
                self._runs.pop(ctx, None)

    def inject_faults(self, faults: dict) -> None:
        """Make the next query's tasks fail: ``{(stage, task, attempt): {"kill_after_rows": 0}}``
        (``stage`` may be ``"any"``); ``{"raise": "text"}`` raises instead; ``{"hold_bytes": n}`` holds
        ``n`` bytes for ``hold_seconds`` (as a query over its ``memory_cap`` would). For tests."""
        self._faults.append(faults)

    def _backend(self):
        if self._backend_obj is None:
            if self.executor == "processes":
                from quarry.execution.pool import get_pool
                from quarry.execution.scheduler import PoolBackend
                self._backend_obj = PoolBackend(get_pool(max(1, self.workers)))
            elif self.executor == "ray":
                from quarry.execution.ray_backend import RayBackend
                self._backend_obj = RayBackend(self.address, max(1, self.workers))
        return self._backend_obj

    def on_progress(self, callback) -> None:
        """Call ``callback(progress)`` as queries advance: stages and tasks done out of their totals
        (a :class:`~quarry.execution.scheduler.Progress`). Called on the querying thread.

        >>> con.on_progress(lambda p: print(p))          # doctest: +SKIP
        """
        self._progress_callbacks.append(callback)

    def _notify(self, progress) -> None:
        for callback in list(self._progress_callbacks):
            callback(progress)

    def progress(self):
        """The progress of the query running now (the most recent one), or None."""
        with self._lock:
            runs = list(self._runs.values())
        return runs[-1].current_progress() if runs else None

    def cancel(self, origin=None) -> None:
        """Cancel the queries running in this session (all, or those started from ``origin``);
        they raise a 'query cancelled' error and their tasks and shuffle files go away."""
        with self._lock:
            for ctx in self._running:
                if origin is None or getattr(ctx, "origin", None) is origin:
                    ctx.cancelled = True

    def close(self) -> None:
        """Release resources (the Ray connection); the session is unusable afterwards.

        Worker pools are shared by the sessions of a process and stop when it exits
        (or at :func:`quarry.execution.pool.shutdown_pools`).
        """
        backend, self._backend_obj = self._backend_obj, None
        if backend is not None and hasattr(backend, "close"):
            backend.close()
        if self.ui_recorder is not None:
            from quarry.ui import stop_ui
            stop_ui(self)

    @property
    def ui_url(self) -> str | None:
        """The address of this session's web UI (``connect(ui=True)``), or None without one."""
        return self.ui.url if self.ui is not None else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(*, workers: int | None = None, executor: str | None = None, address: str | None = None,
            progress=None, config: dict | None = None, ui: bool = False, ui_port: int = 4040,
            ui_host: str = "127.0.0.1", ui_token: str | None = None, **settings) -> Session:
    """Open an embedded quarry session.

    ``workers`` is the parallelism: how many worker processes run tasks and how many
    partitions (tasks) each stage has; the default is the machine's cores. ``workers=0``
    runs everything in the calling process, one partition, for debugging.
    ``executor`` is ``"processes"`` (the default), ``"inline"`` (this process, partitions
    on threads) or ``"ray"`` (Ray tasks on the cluster at ``address``, or a local one).
    ``progress`` is called as stages and tasks finish. ``config`` (or keyword settings)
    override defaults such as ``memory_limit`` and ``disabled_rules``.
    ``ui=True`` serves the web UI of jobs, stages and tasks at ``con.ui_url`` (``ui_port``, or the
    next free port after it; ``ui_host`` other than loopback needs ``ui_token``; see docs/ui.md).

    >>> con = quarry.connect()                       # doctest: +SKIP
    >>> con = quarry.connect(workers=4, memory_limit="1GB")   # doctest: +SKIP
    """
    merged = dict(config or {})
    merged.update(settings)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise QuarryError(f"workers must be a whole number >= 0, not {workers!r}",
                          hint="workers=0 runs in this process; workers=N uses N worker processes")
    if executor is None:
        executor = "inline" if workers == 0 else "processes"
    if executor not in EXECUTORS:
        from quarry.errors import suggest
        raise UnsupportedError(f"unknown executor `{executor}`",
                               hint=suggest(executor, EXECUTORS) or "use " + ", ".join(map(repr, EXECUTORS)))
    if address is not None and executor != "ray":
        raise QuarryError("`address` is for the Ray executor", hint='pass executor="ray" as well')
    if workers is not None:
        merged.setdefault("target_partitions", max(1, int(workers)))
    session = Session(merged, executor=executor, workers=workers, address=address, progress=progress)
    if ui:
        from quarry.ui import start_ui
        start_ui(session, port=ui_port, host=ui_host, token=ui_token)
    elif ui_port != 4040 or ui_host != "127.0.0.1" or ui_token is not None:
        raise UnsupportedError("Not supported: ui_port, ui_host or ui_token without ui=True",
                               hint="pass ui=True to serve the web UI")
    return session


def _find_variable(name: str, scopes) -> tuple[str, object] | None:
    """``(variable name, value)`` of the variable ``name`` in the first of ``scopes`` (dicts) that has it;
    a name differing only in case counts when it is the only one (SQL names are case-insensitive)."""
    for scope in scopes:
        if name in scope:
            return name, scope[name]
    lowered = name.lower()
    for scope in scopes:
        matches = [k for k in scope if isinstance(k, str) and k.lower() == lowered]
        if len(matches) == 1:
            return matches[0], scope[matches[0]]
    return None


def _variable_table(name: str, value):
    """A table provider for a variable's value, or None when the value is no table."""
    from quarry.api.dataframe import DataFrame
    if isinstance(value, DataFrame):
        from quarry.logical.plan_copy import fresh_copy
        plan = value.logical_plan
        return ViewTable(name, lambda: fresh_copy(plan), value.schema)
    # an Arrow stream of arrays (a ChunkedArray) is a column, not a table
    tabular = isinstance(value, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)) or _is_pandas_frame(value) or \
        hasattr(value, "__arrow_c_stream__") and not isinstance(value, pa.ChunkedArray)
    return provider_for(name, value) if tabular else None


def _is_pandas_frame(value) -> bool:
    pandas = sys.modules.get("pandas")            # not imported: the value cannot be a pandas frame
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _table_name(name, method: str) -> str:
    """``name`` if it can name a table (a non-empty string), else a QuarryTypeError saying so."""
    if isinstance(name, str) and name:
        return name
    from quarry.errors import QuarryTypeError
    shown = "an empty string" if isinstance(name, str) else f"a Python {type(name).__name__}"
    raise QuarryTypeError(f"{method}: the table name must be a non-empty string, not {shown}",
                          hint=f"con.{method}('my_table'{', data' if method == 'register' else ''})")
