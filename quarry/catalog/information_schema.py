"""``information_schema``: the SQL standard's views of the catalog (tables, columns, schemata).

quarry's namespace is flat: one catalog, ``quarry``, holding one schema, ``main``, with
every table and view (the Flight SQL server presents it the same way). The views are
built from the catalog when a query names them, so they are always current:

==========================  =================================================================
view                        columns
==========================  =================================================================
``tables``                  table_catalog, table_schema, table_name, table_type (``BASE
                            TABLE`` or ``VIEW``)
``columns``                 table_catalog, table_schema, table_name, column_name,
                            ordinal_position (from 1), column_default (always NULL),
                            is_nullable (``YES``/``NO``), data_type (SQL spelling:
                            ``BIGINT``, ``DECIMAL(15,2)``, ``VARCHAR``, ...)
``schemata``                catalog_name, schema_name (``main`` and ``information_schema``)
==========================  =================================================================

As in DuckDB, ``tables`` and ``columns`` list the user's tables and views, not the
``information_schema`` views themselves.

    >>> import quarry
    >>> con = quarry.connect(workers=0)
    >>> con.sql("CREATE TABLE t (id INTEGER NOT NULL, name VARCHAR)").to_arrow().num_rows
    1
    >>> con.sql("SELECT column_name, data_type, is_nullable FROM information_schema.columns").to_arrow().to_pylist()
    [{'column_name': 'id', 'data_type': 'INTEGER', 'is_nullable': 'NO'}, {'column_name': 'name', 'data_type': 'VARCHAR', 'is_nullable': 'YES'}]
"""

from __future__ import annotations

import pyarrow as pa

from quarry.errors import UnknownTableError, suggest
from quarry.logical import types as T

CATALOG_NAME = "quarry"
SCHEMA_NAME = "main"
INFORMATION_SCHEMA = "information_schema"

_TEXT = pa.string()
TABLES_SCHEMA = pa.schema([pa.field("table_catalog", _TEXT, False), pa.field("table_schema", _TEXT, False),
                           pa.field("table_name", _TEXT, False), pa.field("table_type", _TEXT, False)])
COLUMNS_SCHEMA = pa.schema([pa.field("table_catalog", _TEXT, False), pa.field("table_schema", _TEXT, False),
                            pa.field("table_name", _TEXT, False), pa.field("column_name", _TEXT, False),
                            pa.field("ordinal_position", pa.int32(), False), pa.field("column_default", _TEXT),
                            pa.field("is_nullable", _TEXT, False), pa.field("data_type", _TEXT, False)])
SCHEMATA_SCHEMA = pa.schema([pa.field("catalog_name", _TEXT, False), pa.field("schema_name", _TEXT, False)])


def table_type(provider) -> str:
    """The standard's table type: ``VIEW`` for views, ``BASE TABLE`` for everything that holds data."""
    return "VIEW" if provider.kind == "view" else "BASE TABLE"


def _tables(providers) -> pa.Table:
    return pa.table([[CATALOG_NAME] * len(providers), [SCHEMA_NAME] * len(providers),
                     [p.name for p in providers], [table_type(p) for p in providers]], schema=TABLES_SCHEMA)


def _columns(providers) -> pa.Table:
    rows = [(p.name, f, i) for p in providers for i, f in enumerate(p.schema, 1)]
    return pa.table([[CATALOG_NAME] * len(rows), [SCHEMA_NAME] * len(rows), [name for name, _, _ in rows],
                     [f.name for _, f, _ in rows], [i for _, _, i in rows], [None] * len(rows),
                     ["YES" if f.nullable else "NO" for _, f, _ in rows],
                     [T.sql_name(f.type) for _, f, _ in rows]], schema=COLUMNS_SCHEMA)


def _schemata(providers) -> pa.Table:
    return pa.table([[CATALOG_NAME] * 2, [SCHEMA_NAME, INFORMATION_SCHEMA]], schema=SCHEMATA_SCHEMA)


VIEWS = {"tables": _tables, "columns": _columns, "schemata": _schemata}


def information_schema_table(name: str, providers) -> pa.Table:
    """The rows of ``information_schema.<name>`` for the catalog's ``providers`` (a snapshot)."""
    build = VIEWS.get(name.lower())
    if build is None:
        raise UnknownTableError(f"{INFORMATION_SCHEMA}.{name}",
                                hint=suggest(name, list(VIEWS)) or f"{INFORMATION_SCHEMA} has {', '.join(VIEWS)}")
    return build(sorted(providers, key=lambda p: p.name.lower()))


__all__ = ["CATALOG_NAME", "SCHEMA_NAME", "INFORMATION_SCHEMA", "information_schema_table", "table_type"]
