"""Table formats in FROM: ``delta_scan('path')``, ``iceberg_scan('db.table')``, and time travel.

    SELECT * FROM delta_scan('warehouse/orders')                         -- the latest snapshot
    SELECT * FROM delta_scan('warehouse/orders') VERSION AS OF 3         -- a version
    SELECT * FROM delta_scan('warehouse/orders') TIMESTAMP AS OF '2024-05-01 12:00:00'
    SELECT * FROM orders VERSION AS OF 3          -- a registered Delta or Iceberg table
    SELECT * FROM iceberg_scan('db.orders') VERSION AS OF 8126451   -- an Iceberg snapshot id
    SELECT * FROM lake.db.orders VERSION AS OF 8126451              -- a registered Iceberg catalog's table

``VERSION AS OF`` on any other table is "Not supported". Paths go through the session's sandbox.
"""

from __future__ import annotations

from sqlglot import exp

from quarry.errors import BindError, UnsupportedError
from quarry.logical.builder import scan_of

SCANS = ("delta_scan", "iceberg_scan")


def _function_name(node: exp.Table) -> str | None:
    fn = node.this
    if isinstance(fn, exp.Anonymous):
        return fn.name.lower()
    return None


def is_table_format_scan(node: exp.Table) -> bool:
    """Whether the FROM item ``node`` is a delta_scan/iceberg_scan call or has a VERSION/TIMESTAMP AS OF."""
    return node.args.get("version") is not None or _function_name(node) in SCANS


def _as_of(node: exp.Table) -> tuple[int | None, object]:
    version = node.args.get("version")
    if version is None:
        return None, None
    kind = str(version.this).upper()
    value = version.expression
    if str(version.args.get("kind", "AS OF")).upper() != "AS OF":
        raise UnsupportedError(f"{kind} {version.args.get('kind')}", hint=f"write {kind} AS OF ...")
    if not isinstance(value, exp.Literal):
        raise BindError(f"{kind} AS OF takes a constant", hint=f"{kind} AS OF 3" if kind == "VERSION"
                        else "TIMESTAMP AS OF '2024-05-01 12:00:00'")
    if kind == "VERSION":
        if value.is_string:
            raise BindError("VERSION AS OF takes a number", hint="VERSION AS OF 3")
        return int(value.this), None
    if kind == "TIMESTAMP":
        return None, value.this
    raise UnsupportedError(f"{kind} AS OF", hint="use VERSION AS OF n or TIMESTAMP AS OF '...'")


def _string_argument(node: exp.Table, name: str) -> str:
    args = list(node.this.expressions or [])
    if len(args) != 1 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
        raise BindError(f"{name}() takes one string: the table's {'path' if name == 'delta_scan' else 'name'}",
                        hint=f"{name}('warehouse/orders')" if name == "delta_scan" else "iceberg_scan('db.orders')")
    return args[0].this


def bind_table_format_scan(binder, node: exp.Table):
    """``(plan, default alias)`` of a delta_scan/iceberg_scan call or a time-travel FROM item."""
    import os
    session = binder.session
    version, timestamp = _as_of(node)
    name = _function_name(node)
    if name == "delta_scan":
        path = _string_argument(node, name)
        session.check_path_allowed(path)
        from quarry.catalog.delta import DeltaTable
        provider = DeltaTable(os.path.basename(path.rstrip("/")) or "delta", path, version=version, timestamp=timestamp)
        session.check_path_allowed(provider.files)      # a log may name files outside the table's directory
        return scan_of(provider), provider.name
    if name == "iceberg_scan":
        table_name = _string_argument(node, name)
        provider = session.iceberg_table(table_name, snapshot_id=version, timestamp=timestamp)
        return scan_of(provider), provider.name
    if not isinstance(node.this, exp.Identifier):
        raise UnsupportedError("VERSION AS OF on a table function", hint="use delta_scan('path') VERSION AS OF n")
    if node.args.get("catalog") is not None and node.catalog in getattr(session, "iceberg_catalogs", {}):
        provider = session.iceberg_table(f"{node.catalog}.{node.db}.{node.name}", snapshot_id=version,
                                         timestamp=timestamp)
        return scan_of(provider), provider.name
    provider = session.catalog.get(node.name)
    at = provider.at_version(version, timestamp) if hasattr(provider, "at_version") else None
    if at is None:
        raise UnsupportedError(f"time travel on `{node.name}`, a {provider.kind} table",
                               hint="VERSION AS OF / TIMESTAMP AS OF read Delta and Iceberg tables")
    return scan_of(at), provider.name
