"""``information_schema``: the SQL standard's views of the catalog (tables, columns, schemata).

quarry's own namespace is flat: one catalog, ``quarry``, holding one schema, ``main``, with
every table and view (the Flight SQL server presents it the same way). A registered Iceberg
catalog (``con.register_iceberg_catalog`` or ``ATTACH ... (TYPE iceberg)``) adds its tables
under the catalog's name, one schema per namespace (``lake``, ``db``, ``orders`` for
``lake.db.orders``). The views are built when a query names them, so they are always current:

==========================  =================================================================
view                        columns
==========================  =================================================================
``tables``                  table_catalog, table_schema, table_name, table_type (``BASE
                            TABLE`` or ``VIEW``)
``columns``                 table_catalog, table_schema, table_name, column_name,
                            ordinal_position (from 1), column_default (always NULL),
                            is_nullable (``YES``/``NO``), data_type (SQL spelling:
                            ``BIGINT``, ``DECIMAL(15,2)``, ``VARCHAR``, ...)
``schemata``                catalog_name, schema_name (``main``, ``information_schema``, and
                            each Iceberg catalog's namespaces)
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


def _tables(providers, external) -> pa.Table:
    rows = [(CATALOG_NAME, SCHEMA_NAME, p.name, table_type(p)) for p in providers]
    rows += [(t.catalog, t.namespace, t.name, "BASE TABLE") for t in external]
    return pa.table([list(col) for col in zip(*rows)] if rows else [[]] * 4, schema=TABLES_SCHEMA)


def _columns(providers, external) -> pa.Table:
    rows = [(CATALOG_NAME, SCHEMA_NAME, p.name, f, i) for p in providers for i, f in enumerate(p.schema, 1)]
    rows += [(t.catalog, t.namespace, t.name, f, i) for t in external for i, f in enumerate(t.schema, 1)]
    return pa.table([[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                     [r[3].name for r in rows], [r[4] for r in rows], [None] * len(rows),
                     ["YES" if r[3].nullable else "NO" for r in rows],
                     [T.sql_name(r[3].type) for r in rows]], schema=COLUMNS_SCHEMA)


def _schemata(providers, external) -> pa.Table:
    rows = [(CATALOG_NAME, SCHEMA_NAME), (CATALOG_NAME, INFORMATION_SCHEMA)]
    rows += sorted({(t.catalog, t.namespace) for t in external})
    return pa.table([[r[0] for r in rows], [r[1] for r in rows]], schema=SCHEMATA_SCHEMA)


VIEWS = {"tables": _tables, "columns": _columns, "schemata": _schemata}


def check_view(name: str) -> None:
    """Refuse a name that is not one of the views."""
    if name.lower() not in VIEWS:
        raise UnknownTableError(f"{INFORMATION_SCHEMA}.{name}",
                                hint=suggest(name, list(VIEWS)) or f"{INFORMATION_SCHEMA} has {', '.join(VIEWS)}")


def information_schema_table(name: str, providers, external=()) -> pa.Table:
    """The rows of ``information_schema.<name>`` for the catalog's ``providers`` (a snapshot), then
    ``external``: the tables of registered Iceberg catalogs
    (:class:`quarry.catalog.iceberg.CatalogTable`; with their schemas for ``columns``), under their
    catalog's name and namespace, as DuckDB lists an attached catalog's."""
    check_view(name)
    return VIEWS[name.lower()](sorted(providers, key=lambda p: p.name.lower()), list(external))


__all__ = ["CATALOG_NAME", "SCHEMA_NAME", "INFORMATION_SCHEMA", "information_schema_table", "table_type",
           "check_view"]
