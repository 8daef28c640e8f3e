"""One Spark session on the server: its quarry Session (own temp views), its configuration, its cache,
and its operations.

A PySpark client names its session with a UUID (``session_id``); the server keeps one
:class:`SparkSessionState` per id, so two clients never see each other's temp views,
settings or cached DataFrames. Each state's quarry Session starts with the server's tables
(those registered from ``--data``) and shares the server's worker pool, sandbox and role
guard; what a client registers (``createOrReplaceTempView``, ``CREATE TABLE``) lands only in
its own catalog.

Configuration is Spark's key/value store. These keys change what quarry does; all others
are kept and returned but change nothing (as in Spark, a key no one reads does nothing):

- ``spark.sql.session.timeZone``: the zone of ``TimestampType`` values from the client;
- ``spark.sql.caseSensitive``: only ``false`` (quarry resolves names case-insensitively);
- ``spark.sql.ansi.enabled``: ``true`` (the default: arithmetic and casts raise Spark's errors) or ``false``
  (division by zero and bad casts give NULL, integer overflow wraps);
- ``spark.sql.mapKeyDedupPolicy``: ``EXCEPTION`` (the default: a map built with a key twice raises
  DUPLICATED_MAP_KEY) or ``LAST_WIN``.

The defaults below are the values the PySpark client asks for before it converts results
(``toPandas``) or sends local data (``createDataFrame``).
"""

from __future__ import annotations

import threading
import time
import uuid

import pyarrow as pa

from quarry.spark.errors import SparkError, not_supported

__all__ = ["SparkSessionState", "DEFAULT_CONF"]

DEFAULT_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_LTZ",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.mapKeyDedupPolicy": "EXCEPTION",
    "spark.sql.caseSensitive": "false",
    "spark.sql.shuffle.partitions": "200",
    # createDataFrame: local data always travels inline (never as a cached artifact)
    "spark.sql.session.localRelationCacheThreshold": str(1 << 62),
    "spark.sql.session.localRelationSizeLimit": str(1 << 62),
    "spark.sql.session.localRelationChunkSizeRows": "10000",
    "spark.sql.session.localRelationChunkSizeBytes": str(16 << 20),
    "spark.sql.session.localRelationBatchOfChunksSizeBytes": str(128 << 20),
    "spark.sql.execution.pandas.convertToArrowArraySafely": "false",
    "spark.sql.execution.pandas.inferPandasDictAsMap": "false",
    "spark.sql.pyspark.inferNestedDictAsStruct.enabled": "false",
    "spark.sql.pyspark.legacy.inferArrayTypeFromFirstElement.enabled": "false",
    "spark.sql.pyspark.legacy.inferMapTypeFromFirstPair.enabled": "false",
    "spark.sql.execution.arrow.useLargeVarTypes": "false",
    "spark.sql.execution.pandas.structHandlingMode": "legacy",
    "spark.sql.execution.arrow.pyspark.selfDestruct.enabled": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "10000",
    "spark.sql.pyspark.jvmStacktrace.enabled": "false",
    "spark.sql.connect.serverStacktrace.enabled": "false",
    "spark.sql.repl.eagerEval.enabled": "false",
    "spark.sql.repl.eagerEval.maxNumRows": "20",
    "spark.sql.repl.eagerEval.truncate": "20",
    "spark.sql.execution.pyspark.binaryAsBytes": "true",
    "spark.sql.execution.pythonUDF.arrow.enabled": "false",
    "spark.sql.execution.pythonUDTF.arrow.enabled": "false",
    "spark.sql.artifact.isolation.enabled": "false",
    "spark.sql.artifact.isolation.alwaysApplyClassloader": "false",
}

# keys that are fixed for a server's lifetime (Spark's static settings)
STATIC_PREFIXES = ("spark.connect.", "spark.driver.", "spark.executor.", "spark.master", "spark.app.")

# keys quarry reads, and the only values it can honour
_ONLY = {"spark.sql.caseSensitive": ("false",), "spark.sql.ansi.enabled": ("true", "false"),
         "spark.sql.mapKeyDedupPolicy": ("exception", "last_win")}


class SparkSessionState:
    """What the server keeps for one client session (see the module docstring)."""

    def __init__(self, session_id: str, user: str, session):
        self.session_id = session_id
        self.server_side_session_id = str(uuid.uuid4())
        self.user = user
        self.session = session
        from quarry.spark.sql import add_spark_sql_functions
        add_spark_sql_functions(session.functions)
        self.conf: dict[str, str] = dict(DEFAULT_CONF)
        self.operations: dict = {}                   # operation id -> Operation
        self._cache: dict[bytes, pa.Table] = {}      # serialized relation -> its rows (df.cache())
        self.lock = threading.RLock()
        # global temp views (``global_temp.name``): lower-cased name -> ViewTable, shared by the sessions
        # of one user on this server (the service hands the same dict to each of them)
        self.global_store: dict = {}
        self._checkpoints: dict[str, pa.Table] = {}   # df.checkpoint(): relation id -> its rows
        # the tables this session made: lower-cased name -> (the catalog's provider, owner, creation time)
        self._table_origins: dict[str, tuple[object, str, float]] = {}

    def table_created(self, name: str, keep: bool = False) -> None:
        """Record that this session made the table ``name`` now, for DESCRIBE EXTENDED's Owner and Created
        Time (Spark's CatalogTable keeps them); ``keep`` (rows written into a table it made) keeps the
        first owner and time."""
        catalog = self.session.catalog
        if not catalog.exists(name):
            return
        key = name.lower()
        old = self._table_origins.get(key)
        owner, created = (old[1], old[2]) if keep and old is not None else (self.user, time.time())
        self._table_origins[key] = (catalog.get(name), owner, created)

    def table_origin(self, name: str) -> tuple[str, float] | None:
        """The (owner, creation time in seconds) of a table this session made and still has, or None."""
        entry = self._table_origins.get(name.lower())
        catalog = self.session.catalog
        if entry is None or not catalog.exists(name) or catalog.get(name) is not entry[0]:
            return None
        return entry[1], entry[2]

    @property
    def ansi(self) -> bool:
        """Spark's ANSI mode (``spark.sql.ansi.enabled``): arithmetic and casts raise; off, they give NULL."""
        return str(self.conf.get("spark.sql.ansi.enabled", "true")).strip().lower() == "true"

    @property
    def map_key_dedup_policy(self) -> str:
        """``spark.sql.mapKeyDedupPolicy``: a map built with a key twice raises (EXCEPTION) or keeps the
        last value (LAST_WIN)."""
        return str(self.conf.get("spark.sql.mapKeyDedupPolicy", "EXCEPTION")).strip().upper()

    @property
    def time_zone(self) -> str:
        return self.conf.get("spark.sql.session.timeZone", "UTC")

    # -- configuration -------------------------------------------------------------------------

    def get(self, key: str) -> str:
        if key not in self.conf:
            raise SparkError(f"the SQL config `{key}` is not set", error_class="SQL_CONF_NOT_FOUND",
                             exception="SparkNoSuchElementException", parameters={"sqlConf": f'"{key}"'})
        return self.conf[key]

    def set(self, key: str, value: str) -> None:
        if key.startswith(STATIC_PREFIXES):
            raise SparkError(f"cannot modify the value of the static config `{key}`",
                             error_class="CANNOT_MODIFY_CONFIG", parameters={"key": f'"{key}"', "docroot": ""})
        if key in _ONLY and str(value).lower() not in _ONLY[key]:
            raise not_supported(f"{key}={value} (quarry supports only {_ONLY[key][0]})")
        if key == "spark.sql.session.timeZone":
            try:
                pa.scalar(0, pa.timestamp("us", tz=value)).cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise SparkError(f"invalid time zone `{value}`", error_class="INVALID_CONF_VALUE.TIME_ZONE",
                                 exception="IllegalArgumentException") from None
        self.conf[key] = value

    def unset(self, key: str) -> None:
        if key in DEFAULT_CONF:
            self.conf[key] = DEFAULT_CONF[key]
        else:
            self.conf.pop(key, None)

    @staticmethod
    def is_modifiable(key: str) -> bool:
        return not key.startswith(STATIC_PREFIXES)

    # -- cache -----------------------------------------------------------------------------------

    def cached(self, relation) -> pa.Table | None:
        if not self._cache:
            return None
        return self._cache.get(_cache_key(relation))

    def persist(self, relation, table: pa.Table) -> None:
        self._cache[_cache_key(relation)] = table

    def unpersist(self, relation) -> bool:
        return self._cache.pop(_cache_key(relation), None) is not None

    def is_cached(self, relation) -> bool:
        return _cache_key(relation) in self._cache

    def clear_cache(self) -> None:
        self._cache.clear()

    def checkpoint(self, table: pa.Table) -> str:
        relation_id = str(uuid.uuid4())
        self._checkpoints[relation_id] = table
        return relation_id

    def checkpointed(self, relation_id: str) -> pa.Table:
        table = self._checkpoints.get(relation_id)
        if table is None:
            raise SparkError(f"no checkpointed DataFrame `{relation_id}` in this session",
                             error_class="INVALID_HANDLE.SESSION_NOT_FOUND")
        return table

    def release_checkpoint(self, relation_id: str) -> None:
        self._checkpoints.pop(relation_id, None)

    # -- global temp views -------------------------------------------------------------------------

    def global_views(self) -> list[str]:
        return [view.name for view in list(self.global_store.values())]

    def global_view(self, name: str):
        view = self.global_store.get(name.lower())
        if view is None:
            raise SparkError(f"the global temporary view `global_temp.{name}` cannot be found",
                             error_class="TABLE_OR_VIEW_NOT_FOUND",
                             parameters={"relationName": f"`global_temp`.`{name}`"})
        return view

    def drop_global_view(self, name: str) -> bool:
        return self.global_store.pop(name.lower(), None) is not None

    def close(self) -> None:
        """Cancel what still runs and forget the session's views and cache."""
        for op in list(self.operations.values()):
            op.interrupt()
        self._cache.clear()
        self._checkpoints.clear()


def _cache_key(relation) -> bytes:
    """A relation's identity for the cache: its serialized message without plan ids (which the
    client numbers afresh for each DataFrame, so the same query built twice matches)."""
    copy = type(relation)()
    copy.CopyFrom(relation)
    _strip_plan_ids(copy)
    return copy.SerializeToString(deterministic=True)


def _strip_plan_ids(message) -> None:
    for field, value in message.ListFields():
        if field.name == "common" and field.message_type is not None and field.message_type.name == "RelationCommon":
            value.ClearField("plan_id")
        if field.message_type is None:
            continue
        if field.is_repeated:
            if field.message_type.GetOptions().map_entry:
                continue
            for item in value:
                _strip_plan_ids(item)
        else:
            _strip_plan_ids(value)
