"""``spark.catalog``: the Catalog relation, over the session's quarry catalog.

quarry has one catalog (``spark_catalog``) with one database (``default``): the server's tables
(from ``--data``) and those a client made (``saveAsTable``, ``CREATE TABLE``) are its tables,
temp views (``createOrReplaceTempView``) are temporary (``tableType`` ``TEMPORARY``, no
namespace), global temp views live in ``global_temp`` (shared by the server's sessions).

Supported: currentCatalog, setCurrentCatalog (``spark_catalog`` only), listCatalogs,
currentDatabase, setCurrentDatabase (``default`` only), listDatabases, getDatabase,
databaseExists, listTables, getTable, tableExists, listColumns, listViews, createTable /
createExternalTable (a Parquet path becomes an external table over its files, other sources
are read into memory), listFunctions, functionExists, getFunction, dropTempView,
dropGlobalTempView, dropTable, dropView, isCached, cacheTable, uncacheTable, clearCache,
refreshTable (an external Parquet table lists its files again, as Spark refreshes its cached
listing; a cached table is uncached), refreshByPath and recoverPartitions (nothing to do),
truncateTable (the table keeps its columns and loses its rows), analyzeTable (nothing to do:
quarry keeps no statistics to refresh). Patterns are
Spark's: ``*`` for any characters, ``|`` between alternatives, case-insensitive.

listFunctions lists the Spark functions the front end translates (built-in, so temporary, as
Spark lists them); functionExists and getFunction ask the translator. The rest (partitions,
databases other than ``default``, table properties) is refused by name.
"""

from __future__ import annotations

import re

import pyarrow as pa

from quarry.api.dataframe import DataFrame
from quarry.spark.errors import SparkError, not_supported
from quarry.spark.types import from_arrow, simple_string

__all__ = ["catalog_relation", "table_relation", "GLOBAL_DATABASE"]

CATALOG = "spark_catalog"
DATABASE = "default"
GLOBAL_DATABASE = "global_temp"


def _matches(pattern: str | None):
    if not pattern:
        return lambda name: True
    options = [re.compile(re.escape(p.strip()).replace(r"\*", ".*"), re.IGNORECASE) for p in pattern.split("|")]
    return lambda name: any(o.fullmatch(name) for o in options)


def _frame(session, data: dict, types: dict) -> DataFrame:
    table = pa.table({k: pa.array(v, types[k]) for k, v in data.items()})
    return DataFrame.from_arrow(session, table, "catalog")


def _bool(session, value: bool, name: str = "value") -> DataFrame:
    return _frame(session, {name: [value]}, {name: pa.bool_()})


def _done(session) -> DataFrame:
    return _frame(session, {"done": []}, {"done": pa.bool_()})


def _check_database(db: str | None) -> None:
    if db and db.lower() not in (DATABASE, f"{CATALOG}.{DATABASE}", GLOBAL_DATABASE):
        raise SparkError(f"the database `{db}` does not exist (quarry has `{DATABASE}` and `{GLOBAL_DATABASE}`)",
                         error_class="SCHEMA_NOT_FOUND", parameters={"schemaName": f"`{db}`"})


def _split(name: str, db: str | None = None) -> tuple[str | None, str]:
    from quarry.spark.expressions import split_identifier
    parts = split_identifier(name)
    while len(parts) > 1 and parts[0].lower() == CATALOG:
        parts = parts[1:]
    if len(parts) == 2:
        return parts[0].lower(), parts[1]
    if len(parts) != 1:
        raise not_supported(f"the qualified name `{name}`")
    return (db.lower() if db else None), parts[0]


_TABLE_TYPES = {"name": pa.string(), "catalog": pa.string(), "namespace": pa.list_(pa.string()),
                "description": pa.string(), "tableType": pa.string(), "isTemporary": pa.bool_()}


class _Tables:
    """The rows of listTables / getTable."""

    def __init__(self):
        self.rows = {k: [] for k in _TABLE_TYPES}

    def add(self, name: str, temporary: bool, database: str | None, kind: str = "MANAGED"):
        self.rows["name"].append(name)
        self.rows["catalog"].append(None if temporary and database is None else CATALOG if database else None)
        self.rows["namespace"].append([database] if database else [])
        self.rows["description"].append(None)
        self.rows["tableType"].append("TEMPORARY" if temporary else kind)
        self.rows["isTemporary"].append(temporary)


def _entries(translator, db: str | None):
    """(name, temporary, database, kind) of every table and view ``db`` shows (temp views always)."""
    state = translator.state
    out = []
    if db in (None, DATABASE):
        for provider in state.session.catalog.providers():
            temporary = provider.kind == "view"
            kind = "EXTERNAL" if provider.kind in ("parquet", "csv") else "MANAGED"
            out.append((provider.name, temporary, None if temporary else DATABASE, kind))
    if db == GLOBAL_DATABASE:
        for name in sorted(state.global_views()):
            out.append((name, True, GLOBAL_DATABASE, "TEMPORARY"))
    return out


def catalog_relation(translator, c) -> DataFrame:
    session = translator.session
    state = translator.state
    kind = c.WhichOneof("cat_type")
    m = getattr(c, kind) if kind else None
    if kind == "current_catalog":
        return _frame(session, {"catalog": [CATALOG]}, {"catalog": pa.string()})
    if kind == "set_current_catalog":
        if m.catalog_name.lower() != CATALOG:
            raise SparkError(f"the catalog `{m.catalog_name}` does not exist", error_class="CATALOG_NOT_FOUND")
        return _done(session)
    if kind == "list_catalogs":
        names = [CATALOG] if _matches(m.pattern if m.HasField("pattern") else None)(CATALOG) else []
        return _frame(session, {"name": names, "description": [None] * len(names)},
                      {"name": pa.string(), "description": pa.string()})
    if kind == "current_database":
        return _frame(session, {"db": [DATABASE]}, {"db": pa.string()})
    if kind == "set_current_database":
        if m.db_name.lower() != DATABASE:
            raise not_supported(f"a current database other than `{DATABASE}` (`{m.db_name}`)")
        return _done(session)
    if kind in ("list_databases", "get_database", "database_exists"):
        if kind == "list_databases":
            match = _matches(m.pattern if m.HasField("pattern") else None)
            names = [d for d in (DATABASE,) if match(d)]
        else:
            name = m.db_name.lower().removeprefix(f"{CATALOG}.")
            if kind == "database_exists":
                return _bool(session, name == DATABASE)
            if name != DATABASE:
                _check_database(m.db_name)
                raise SparkError(f"the database `{m.db_name}` does not exist", error_class="SCHEMA_NOT_FOUND")
            names = [DATABASE]
        return _frame(session, {"name": names, "catalog": [CATALOG] * len(names),
                                "description": ["default database"] * len(names),
                                "locationUri": [None] * len(names)},
                      {"name": pa.string(), "catalog": pa.string(), "description": pa.string(),
                       "locationUri": pa.string()})
    if kind in ("list_tables", "list_views"):
        db = m.db_name.lower() if m.HasField("db_name") else None
        _check_database(db)
        match = _matches(m.pattern if m.HasField("pattern") else None)
        rows = _Tables()
        for name, temporary, database, tkind in _entries(translator, db):
            if match(name) and (kind == "list_tables" or temporary):
                rows.add(name, temporary, database, tkind if not temporary else "TEMPORARY")
        return _frame(session, rows.rows, _TABLE_TYPES)
    if kind in ("get_table", "table_exists"):
        db, name = _split(m.table_name, m.db_name if m.HasField("db_name") else None)
        found = [e for e in _entries(translator, db or DATABASE) if e[0].lower() == name.lower()]
        if kind == "table_exists":
            return _bool(session, bool(found))
        if not found:
            raise SparkError(f"the table or view `{m.table_name}` cannot be found",
                             error_class="TABLE_OR_VIEW_NOT_FOUND",
                             parameters={"relationName": f"`{m.table_name}`"})
        rows = _Tables()
        rows.add(*found[0])
        return _frame(session, rows.rows, _TABLE_TYPES)
    if kind == "list_columns":
        db, name = _split(m.table_name, m.db_name if m.HasField("db_name") else None)
        df = translator.table(f"{db}.{name}" if db else name)
        schema = df.schema
        n = len(schema)
        return _frame(session, {"name": schema.names, "description": [None] * n,
                                "dataType": [simple_string(from_arrow(f.type)) for f in schema],
                                "nullable": [f.nullable for f in schema], "isPartition": [False] * n,
                                "isBucket": [False] * n, "isCluster": [False] * n},
                      {"name": pa.string(), "description": pa.string(), "dataType": pa.string(),
                       "nullable": pa.bool_(), "isPartition": pa.bool_(), "isBucket": pa.bool_(),
                       "isCluster": pa.bool_()})
    if kind in ("list_functions", "get_function", "function_exists"):
        return _functions(translator, kind, m)
    if kind in ("create_table", "create_external_table"):
        return _create_table(translator, m)
    if kind == "drop_temp_view":
        catalog = session.catalog
        exists = catalog.exists(m.view_name) and catalog.get(m.view_name).kind == "view"
        if exists:
            catalog.drop(m.view_name)
            state.unpersist(table_relation(m.view_name))
        return _bool(session, exists)
    if kind == "drop_global_temp_view":
        return _bool(session, state.drop_global_view(m.view_name))
    if kind in ("drop_table", "drop_view"):
        name = m.table_name if kind == "drop_table" else m.view_name
        db, bare = _split(name)
        if db == GLOBAL_DATABASE:
            if not state.drop_global_view(bare) and not m.if_exists:
                raise SparkError(f"the view `{name}` cannot be found", error_class="TABLE_OR_VIEW_NOT_FOUND")
            return _done(session)
        _guard(session, f"drop `{bare}`")
        session.catalog.drop(bare, if_exists=m.if_exists, kind="view" if kind == "drop_view" else None)
        state.unpersist(table_relation(name))
        return _done(session)
    if kind in ("is_cached", "cache_table", "uncache_table"):
        rel = table_relation(m.table_name)
        if kind == "is_cached":
            return _bool(session, state.is_cached(rel))
        if kind == "cache_table":
            state.persist(rel, translator.table(m.table_name).to_arrow())
        else:
            state.unpersist(rel)
        return _done(session)
    if kind == "clear_cache":
        state.clear_cache()
        return _done(session)
    if kind == "truncate_table":
        from quarry.catalog.providers import MemoryTable
        db, bare = _split(m.table_name)
        provider = session.catalog.get(bare)
        if provider.kind == "view":
            raise SparkError(f"`{bare}` is a view: only tables can be truncated",
                             error_class="EXPECT_TABLE_NOT_VIEW.NO_ALTERNATIVE")
        _guard(session, f"truncate `{bare}`")
        session.catalog.register(bare, MemoryTable(provider.name, provider.schema.empty_table()), replace=True)
        state.unpersist(table_relation(m.table_name))
        return _done(session)
    if kind == "refresh_table":
        # an external Parquet table lists its files again (Spark caches the listing until a refresh)
        from quarry.catalog.providers import ParquetTable
        db, bare = _split(m.table_name)
        provider = session.catalog.get(bare)
        if isinstance(provider, ParquetTable):
            session.catalog.register(bare, ParquetTable(provider.name, provider.location), replace=True)
        state.unpersist(table_relation(m.table_name))
        return _done(session)
    if kind in ("refresh_by_path", "recover_partitions", "analyze_table"):
        return _done(session)                 # quarry reads the files as they are on every query
    name = kind or "an empty catalog call"
    raise not_supported(f"spark.catalog `{name}`")


_FUNCTION_TYPES = {"name": pa.string(), "catalog": pa.string(), "namespace": pa.list_(pa.string()),
                   "description": pa.string(), "className": pa.string(), "isTemporary": pa.bool_()}


def _function_names() -> list[str]:
    """The Spark functions the expression translator knows by name (its registry and its tables)."""
    from quarry.spark import expressions as SE
    from quarry.spark.functions import REGISTRY
    names = set(REGISTRY) | set(SE._SAME) | {n for n in SE._BINARY if n.isalpha()}
    return sorted(n.lower() for n in names)


def _function_known(translator, name: str) -> bool:
    """Whether the translator takes ``name`` (asked with no arguments: only "Not supported: the
    function" says it does not)."""
    from pyspark.sql.connect.proto import expressions_pb2
    call = expressions_pb2.Expression.UnresolvedFunction(function_name=name)
    try:
        translator.expressions.function(call)
    except SparkError as err:
        return not err.message.startswith("Not supported: the function")
    except Exception:               # wrong arguments: the function exists
        return True
    return True


def _functions(translator, kind: str, m) -> DataFrame:
    session = translator.session
    if m.HasField("db_name"):
        _check_database(m.db_name)
    if kind == "function_exists":
        return _bool(session, _function_known(translator, m.function_name))
    if kind == "get_function":
        if not _function_known(translator, m.function_name):
            raise SparkError(f"the function `{m.function_name}` cannot be found", error_class="ROUTINE_NOT_FOUND",
                             parameters={"routineName": f"`{m.function_name}`"})
        names = [m.function_name.lower()]
    else:
        match = _matches(m.pattern if m.HasField("pattern") else None)
        names = [n for n in _function_names() if match(n)]
    rows = {"name": names, "catalog": [None] * len(names), "namespace": [None] * len(names),
            "description": [None] * len(names), "className": [None] * len(names),
            "isTemporary": [True] * len(names)}
    return _frame(session, rows, _FUNCTION_TYPES)


def _guard(session, what: str) -> None:
    guard = session.command_guard
    if guard is not None:
        guard.require("write", what)


def table_relation(name: str):
    """The relation ``spark.table(name)`` sends (the key of its cached rows)."""
    from pyspark.sql.connect.proto import relations_pb2
    rel = relations_pb2.Relation()
    rel.common.SetInParent()              # the client's relation has a `common` (its plan id is not part of the key)
    rel.read.named_table.unparsed_identifier = name
    return rel


def _create_table(translator, m) -> DataFrame:
    from quarry.catalog.providers import MemoryTable
    from quarry.spark.relations import read_files
    session = translator.session
    db, name = _split(m.table_name)
    if db not in (None, DATABASE):
        raise not_supported(f"creating a table in `{db}`")
    # the client's DataFrame of createTable is this relation: each use of it runs it again, and finds the
    # table this very call made
    made = translator.state.__dict__.setdefault("created_tables", {})
    key = m.SerializeToString(deterministic=True)
    if session.catalog.exists(name) and made.get(name.lower()) == key:
        return translator.table(name)
    if session.catalog.exists(name):
        raise SparkError(f"the table `{name}` already exists", error_class="TABLE_OR_VIEW_ALREADY_EXISTS",
                         parameters={"relationName": f"`{name}`"})
    _guard(session, f"create the table `{name}`")
    options = {k.lower(): v for k, v in m.options.items()}
    path = m.path if m.HasField("path") else options.pop("path", None)
    fmt = (m.source if m.HasField("source") else "parquet").lower()
    schema = None
    if m.HasField("schema"):
        from quarry.spark.types import to_arrow
        t = to_arrow(m.schema, translator.state.time_zone)
        schema = pa.schema([t.field(i) for i in range(t.num_fields)]) if pa.types.is_struct(t) else None
    if path is None:
        if schema is None:
            raise SparkError("createTable without a path needs a schema", error_class="UNABLE_TO_INFER_SCHEMA")
        session.catalog.register(name, MemoryTable(name, schema.empty_table()), replace=False)
    elif fmt == "parquet" and schema is None and not options:
        # an external table: the files, read by each query as they are then
        from quarry.catalog.providers import ParquetTable
        session.check_path_allowed([path])
        with session.using_storage():          # an object-store path: the session's credentials
            provider = ParquetTable(name, path)
        session.catalog.register(name, provider, replace=False)
    else:
        table = read_files(session, fmt, [path], options, schema, translator.state.time_zone)
        session.catalog.register(name, MemoryTable(name, table), replace=False)
    made[name.lower()] = key
    translator.state.table_created(name)
    return translator.table(name)


_NAME = r"(?:[A-Za-z_][\w.]*|`[^`]+`)"
_SHOW_TABLES = re.compile(rf"(?is)TABLES(?:\s+(?:FROM|IN)\s+({_NAME}))?(?:\s+(?:LIKE\s+)?'([^']*)')?\s*")
_SHOW_DATABASES = re.compile(rf"(?is)(?:DATABASES|SCHEMAS|NAMESPACES)(?:\s+(?:FROM|IN)\s+({_NAME}))?"
                             r"(?:\s+(?:LIKE\s+)?'([^']*)')?\s*")
_SHOW_COLUMNS = re.compile(rf"(?is)COLUMNS\s+(?:FROM|IN)\s+({_NAME})(?:\s+(?:FROM|IN)\s+({_NAME}))?\s*")


_SHOW_FUNCTIONS = re.compile(rf"(?is)(?:(USER|SYSTEM|ALL)\s+)?FUNCTIONS(?:\s+(?:FROM|IN)\s+({_NAME}))?"
                             r"(?:\s+(?:LIKE\s+)?(?:'([^']*)'|([A-Za-z_][\w.]*)))?\s*")
_SHOW_CREATE = re.compile(rf"(?is)CREATE\s+TABLE\s+({_NAME})(\s+AS\s+SERDE)?\s*")
# the operators Spark's SHOW FUNCTIONS lists besides its function registry (ShowFunctionsCommand)
_LISTED_OPERATORS = ("!=", "<>", "between", "case", "||")


def _user_functions(translator) -> list[str]:
    """The names of the session's registered Python functions (``spark.udf.register``)."""
    from quarry.logical.udf import PythonFunction
    return [name for name, d in translator.session.functions.functions.items() if isinstance(d, PythonFunction)]


def _show_functions(translator, m) -> pa.Table:
    """``SHOW [USER|SYSTEM|ALL] FUNCTIONS [IN db] [[LIKE] 'pattern']``: one column, ``function``, sorted, as
    Spark's ShowFunctionsCommand: the system functions (those listFunctions lists, and the operators Spark
    adds) and the session's registered functions (temporary, so unqualified)."""
    if m.group(2):
        _check_database(m.group(2).strip("`"))
    scope = (m.group(1) or "ALL").upper()
    match = _matches(m.group(3) if m.group(3) is not None else m.group(4))
    names = set()
    if scope in ("USER", "ALL"):
        names.update(_user_functions(translator))
    if scope in ("SYSTEM", "ALL"):
        names.update(_function_names())
        names.update(_LISTED_OPERATORS)
    return pa.table({"function": pa.array(sorted(n for n in names if match(n)), pa.string())})


def _is_temporary(translator, name: str) -> bool:
    db, bare = _split(name)
    if db == GLOBAL_DATABASE:
        return True
    return db is None and any(e[1] and e[0].lower() == bare.lower() for e in _entries(translator, None))


def _field_ddl(field: pa.Field) -> str:
    """A column as Spark's StructField.toDDL writes it (``name TYPE``; a table's columns are nullable)."""
    import json
    from pyspark.sql.connect.types import proto_schema_to_pyspark_data_type
    from quarry.spark.types import _json_field_ddl
    spark_type = proto_schema_to_pyspark_data_type(from_arrow(field.type))
    return _json_field_ddl({"name": field.name, "type": json.loads(spark_type.json()), "nullable": True}, " ")


def _show_create_table(translator, m) -> pa.Table:
    """``SHOW CREATE TABLE t``: Spark's statement for a data source table (ShowCreateTableCommand): the
    columns one a line, ``USING <provider>``, and for an external table its ``LOCATION``; a temp view is
    refused as in Spark."""
    from quarry.catalog.providers import MemoryTable, ParquetTable
    name = m.group(1).replace("`", "")
    if m.group(2):
        raise not_supported("SHOW CREATE TABLE ... AS SERDE (quarry's tables are data source tables, for "
                            "which Spark refuses it too)")
    if _is_temporary(translator, name):
        bare = _split(name)[1]
        raise SparkError(f"Unsupported a SHOW CREATE TABLE command. The command is not supported on a temporary "
                         f"view `{bare}`.",
                         error_class="UNSUPPORTED_SHOW_CREATE_TABLE.ON_TEMPORARY_VIEW",
                         parameters={"tableName": f"`{bare}`"})
    db, bare = _split(name)
    _check_database(db)
    schema = translator.table(name).schema
    provider = translator.session.catalog.get(bare)
    text = f"CREATE TABLE {CATALOG}.{DATABASE}.{_quote_part(provider.name)} (\n  "
    text += ",\n  ".join(_field_ddl(f) for f in schema) + ")\n"
    if isinstance(provider, ParquetTable):
        location = provider.location
        if not isinstance(location, str):
            raise not_supported(f"SHOW CREATE TABLE of `{bare}`, a table over several locations")
        import os
        from quarry.catalog.filesystems import is_remote
        location = location if is_remote(location) else "file:" + os.path.abspath(location)
        text += "USING parquet\nLOCATION '" + location.replace("\\", "\\\\").replace("'", "\\'") + "'\n"
    elif isinstance(provider, MemoryTable):
        text += "USING parquet\n"              # a managed table: Spark's default source, no location
    else:
        raise not_supported(f"SHOW CREATE TABLE of `{bare}`, a `{provider.kind}` table")
    return pa.table({"createtab_stmt": pa.array([text], pa.string())})


def _quote_part(name: str) -> str:
    from quarry.spark.types import _quote
    return _quote(name)


def describe_function(translator, node) -> pa.Table:
    """``DESCRIBE FUNCTION f``: Spark's ``function_desc`` rows ``Function: f``, ``Class: ...``, ``Usage: ...``.
    quarry has neither Spark's implementing classes nor its usage texts: those two rows say ``N/A.`` (Spark's
    text for a missing usage). A name that is no function is Spark's UNRESOLVED_ROUTINE."""
    if (node.args.get("style") or "").upper() == "EXTENDED":
        raise not_supported("DESCRIBE FUNCTION EXTENDED (quarry has no usage texts or examples); "
                            "DESCRIBE FUNCTION names the function")
    name = node.this.sql(dialect="spark").replace("`", "")
    db, bare = _split(name)
    _check_database(db)
    lowered = bare.lower()
    if lowered not in _user_functions(translator) and lowered not in _LISTED_OPERATORS \
            and not (lowered in _function_names() or _function_known(translator, lowered)):
        raise SparkError(f"Cannot resolve routine `{bare}` on search path [`system`.`builtin`, `system`.`session`, "
                         f"`{CATALOG}`.`{DATABASE}`].", error_class="UNRESOLVED_ROUTINE",
                         parameters={"routineName": f"`{bare}`"})
    return pa.table({"function_desc": pa.array([f"Function: {lowered}", "Class: N/A.", "Usage: N/A."], pa.string())})


_PART = r"(?:[A-Za-z_]\w*|`[^`]+`)"
_DESCRIBE_COLUMN = re.compile(rf"(?is)\s*(?:DESC|DESCRIBE)\s+(?:TABLE\s+)?(?:(EXTENDED|FORMATTED)\s+)?({_NAME})\s+"
                              rf"({_PART}(?:\.{_PART})*)\s*;?\s*")
_NOT_TABLES = {"TABLE", "EXTENDED", "FORMATTED", "QUERY", "FUNCTION", "DATABASE", "SCHEMA", "NAMESPACE", "CATALOG",
               "SELECT", "WITH", "VALUES", "FROM"}
# DescribeColumnCommand's statistics rows: all NULL without column statistics (quarry keeps none)
_COLUMN_STATS = ("min", "max", "num_nulls", "distinct_count", "avg_col_len", "max_col_len", "histogram")


def describe_column(translator, text: str) -> pa.Table | None:
    """``DESCRIBE [TABLE] [EXTENDED] t col`` (which sqlglot does not parse): Spark's ``info_name`` /
    ``info_value`` rows col_name, data_type, comment (``NULL`` without one); EXTENDED adds the statistics
    rows, each ``NULL`` as in Spark for a column never analyzed. None when ``text`` is not this statement."""
    from quarry.spark.expressions import split_identifier
    m = _DESCRIBE_COLUMN.fullmatch(text)
    if m is None or m.group(2).upper() in _NOT_TABLES:
        return None
    parts = split_identifier(m.group(3))
    if len(parts) > 1:
        raise not_supported("DESCRIBE of a nested column (Spark refuses it too: DESC TABLE COLUMN takes a "
                            "top-level column)")
    schema = translator.table(m.group(2).replace("`", "")).schema
    found = [f for f in schema if f.name.lower() == parts[0].lower()]
    if not found:
        raise SparkError(f"the column `{parts[0]}` does not exist in `{m.group(2)}`",
                         error_class="UNRESOLVED_COLUMN.WITHOUT_SUGGESTION",
                         parameters={"objectName": f"`{parts[0]}`"})
    field = found[0]
    names = ["col_name", "data_type", "comment"]
    values = [field.name, simple_string(from_arrow(field.type)), "NULL"]
    if m.group(1):
        names += list(_COLUMN_STATS)
        values += ["NULL"] * len(_COLUMN_STATS)
    return pa.table({"info_name": pa.array(names, pa.string()), "info_value": pa.array(values, pa.string())})


def _show(translator, text: str) -> pa.Table:
    """``SHOW TABLES [IN db] [[LIKE] 'pattern']`` (namespace, tableName, isTemporary),
    ``SHOW DATABASES|SCHEMAS|NAMESPACES [IN spark_catalog] [[LIKE] 'pattern']`` (namespace) and
    ``SHOW COLUMNS IN t [IN db]`` (col_name): Spark's columns and rows."""
    from pyspark.sql.connect.proto import catalog_pb2
    m = _SHOW_TABLES.fullmatch(text)
    if m is not None:
        listing = catalog_pb2.ListTables()
        if m.group(1):
            listing.db_name = m.group(1).strip("`")
        if m.group(2) is not None:
            listing.pattern = m.group(2)
        tables = catalog_relation(translator, catalog_pb2.Catalog(list_tables=listing)).to_arrow()
        namespaces = [ns[0] if ns else "" for ns in tables.column("namespace").to_pylist()]
        return pa.table({"namespace": pa.array(namespaces, pa.string()),
                         "tableName": tables.column("name").cast(pa.string()),
                         "isTemporary": tables.column("isTemporary").cast(pa.bool_())})
    m = _SHOW_DATABASES.fullmatch(text)
    if m is not None:
        if m.group(1) and m.group(1).strip("`").lower() != CATALOG:
            raise SparkError(f"the catalog `{m.group(1).strip('`')}` does not exist", error_class="CATALOG_NOT_FOUND")
        listing = catalog_pb2.ListDatabases()
        if m.group(2) is not None:
            listing.pattern = m.group(2)
        names = catalog_relation(translator, catalog_pb2.Catalog(list_databases=listing)).to_arrow()
        return pa.table({"namespace": names.column("name").cast(pa.string())})
    m = _SHOW_COLUMNS.fullmatch(text)
    if m is not None:
        name = m.group(1).replace("`", "")
        if m.group(2):
            db, table = m.group(2).strip("`"), name.split(".")[-1]
            named_db = _split(name)[0]
            if named_db is not None and named_db != db.lower():
                # Spark: SHOW COLUMNS IN db1.t IN db2 names two databases
                raise SparkError(f"SHOW COLUMNS names two databases, `{named_db}` and `{db}`",
                                 error_class="SHOW_COLUMNS_WITH_CONFLICT_NAMESPACE")
            name = f"{db}.{table}"
        schema = translator.table(name).schema
        return pa.table({"col_name": pa.array(schema.names, pa.string())})
    m = _SHOW_FUNCTIONS.fullmatch(text)
    if m is not None:
        return _show_functions(translator, m)
    m = _SHOW_CREATE.fullmatch(text)
    if m is not None:
        return _show_create_table(translator, m)
    raise not_supported(f"SHOW {text} (SHOW TABLES, DATABASES, COLUMNS, FUNCTIONS and CREATE TABLE are supported; "
                        "spark.catalog lists the rest)")


def sql_statement(translator, node) -> pa.Table | None:
    """Spark SQL's catalog statements, through the ``spark.catalog`` calls they stand for, or None for any
    other statement: ``SHOW TABLES``, ``SHOW DATABASES`` and ``SHOW COLUMNS`` (see ``_show``),
    ``DESCRIBE [TABLE] [EXTENDED|FORMATTED] t`` / ``DESCRIBE SELECT ...`` (col_name, data_type, comment),
    ``USE db`` (only the default database), ``CACHE TABLE t`` and ``UNCACHE TABLE [IF EXISTS] t``."""
    from pyspark.sql.connect.proto import catalog_pb2
    from sqlglot import exp
    if isinstance(node, exp.Command) and node.name.upper() == "SHOW":
        text = node.expression.name if isinstance(node.expression, exp.Literal) else str(node.expression or "")
        return _show(translator, text.strip())
    if isinstance(node, exp.Describe):
        if (node.args.get("kind") or "").upper() == "FUNCTION":
            return describe_function(translator, node)
        return _describe(translator, node)
    if isinstance(node, exp.Use):
        name = node.this.sql(dialect="spark").strip("`")
        catalog_relation(translator, catalog_pb2.Catalog(set_current_database=catalog_pb2.SetCurrentDatabase(
            db_name=name.split(".")[-1] if name.lower().startswith(CATALOG + ".") else name)))
        return pa.table({})
    if isinstance(node, (exp.Cache, exp.Uncache)):
        if isinstance(node, exp.Cache) and node.args.get("expression") is not None:
            raise not_supported("CACHE TABLE ... AS SELECT; cache a view of the query instead")
        if isinstance(node, exp.Cache) and node.args.get("options"):
            raise not_supported("CACHE TABLE ... OPTIONS (the storage level); df.persist(level) takes one")
        name = node.this.sql(dialect="spark").replace("`", "")
        if isinstance(node, exp.Uncache) and node.args.get("exists") and not _exists(translator, name):
            return pa.table({})
        kind = "cache_table" if isinstance(node, exp.Cache) else "uncache_table"
        message = catalog_pb2.CacheTable(table_name=name) if kind == "cache_table" else \
            catalog_pb2.UncacheTable(table_name=name)
        catalog_relation(translator, catalog_pb2.Catalog(**{kind: message}))
        return pa.table({})
    return None


def _describe(translator, node) -> pa.Table:
    """``DESCRIBE [TABLE] [EXTENDED|FORMATTED] t`` and ``DESCRIBE [QUERY] SELECT ...``: Spark's col_name,
    data_type (Spark's type names) and comment rows. EXTENDED (or FORMATTED, its synonym in Spark) adds
    Spark's detail rows after an empty row and ``# Detailed Table Information`` for a table; of a temp
    view it lists the columns only, as Spark's DescribeTableCommand does."""
    from sqlglot import exp
    from quarry.spark.types import from_arrow, simple_string
    style = (node.args.get("style") or "").upper()
    if style not in ("", "EXTENDED", "FORMATTED"):
        raise not_supported(f"DESCRIBE {style}")
    if node.args.get("as_json"):
        raise not_supported("DESCRIBE ... AS JSON; DESCRIBE EXTENDED lists the table's details as rows")
    if node.args.get("partition") is not None:
        raise not_supported("DESCRIBE ... PARTITION (quarry's tables have no catalog partitions)")
    target = node.this
    details = []
    if isinstance(target, exp.Table):
        name = target.sql(dialect="spark").replace("`", "")
        schema = translator.table(name).schema
        if style:
            details = _table_details(translator, name)
    else:
        if style:
            raise not_supported(f"DESCRIBE {style} of a query (Spark's grammar has none)")
        from quarry.sql.commands import QueryPlan
        from quarry.spark.sql import run_spark_sql
        state = translator.state
        outcome = run_spark_sql(translator.session, target.sql(dialect="spark"), global_views=state.global_store,
                                ansi=state.ansi, time_zone=state.time_zone)
        if not isinstance(outcome, QueryPlan):
            raise not_supported(f"DESCRIBE of `{target.sql(dialect='spark')}`")
        schema = pa.schema([pa.field(f.name, f.dtype) for f in outcome.plan.schema])
    names = list(schema.names) + [d[0] for d in details]
    types = [simple_string(from_arrow(f.type)) for f in schema] + [d[1] for d in details]
    comments = [None] * len(schema.names) + ["" for _ in details]
    return pa.table({"col_name": pa.array(names, pa.string()), "data_type": pa.array(types, pa.string()),
                     "comment": pa.array(comments, pa.string())})


def java_date_text(seconds: float, zone: str) -> str:
    """An instant as ``java.util.Date.toString`` prints it (``Fri Dec 04 21:47:40 UTC 2026``: EEE MMM dd
    HH:mm:ss zzz yyyy, English names), in the zone ``zone``."""
    import datetime
    from zoneinfo import ZoneInfo
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    t = datetime.datetime.fromtimestamp(int(seconds), ZoneInfo(zone))
    return f"{days[t.weekday()]} {months[t.month - 1]} {t.day:02d} {t:%H:%M:%S} {t.tzname()} {t.year}"


def _table_details(translator, name: str) -> list[tuple[str, str]]:
    """The (col_name, data_type) rows DESCRIBE EXTENDED adds for a table, in Spark's order (CatalogTable's
    toLinkedHashMap); none for a temporary view. Owner (the session's user), Created Time (the session
    time zone's) , Last Access (``UNKNOWN``, as Spark prints a table never read by its metastore) and
    Created By come for the tables this session made (saveAsTable, writeTo, CREATE TABLE, createTable);
    quarry keeps no statistics, so those rows are left out."""
    from quarry.catalog.providers import ParquetTable
    db, bare = _split(name)
    found = [e for e in _entries(translator, db or DATABASE) if e[0].lower() == bare.lower()]
    if not found or found[0][1]:
        return []
    table, _, database, kind = found[0]
    rows = [("", ""), ("# Detailed Table Information", ""), ("Catalog", CATALOG), ("Database", database),
            ("Table", table)]
    origin = translator.state.table_origin(table)
    if origin is not None:
        owner, created = origin
        if owner:
            rows.append(("Owner", owner))
        from quarry.spark.service import _client_version
        rows += [("Created Time", java_date_text(created, translator.state.time_zone)), ("Last Access", "UNKNOWN"),
                 ("Created By", f"Spark {_client_version()}")]
    rows.append(("Type", kind))
    provider = translator.session.catalog.get(table)
    if isinstance(provider, ParquetTable):
        rows.append(("Provider", "parquet"))
        location = provider.location
        if isinstance(location, str):
            import os
            from quarry.catalog.filesystems import is_remote
            rows.append(("Location", location if is_remote(location) else "file:" + os.path.abspath(location)))
    return rows


def _exists(translator, name: str) -> bool:
    db, table = _split(name)
    return any(e[0].lower() == table.lower() for e in _entries(translator, db or DATABASE))
