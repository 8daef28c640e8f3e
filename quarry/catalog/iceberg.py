"""Iceberg tables: not read yet (``iceberg_scan`` says so).

pyiceberg's SQL catalog needs SQLAlchemy 2, which conflicts with the Flight SQL test client's
SQLAlchemy < 2 in the test extra; until that is resolved, ``iceberg_scan`` refuses cleanly.
"""

from __future__ import annotations

from quarry.errors import UnsupportedError


def iceberg_provider(session, table_name: str, snapshot_id: int | None = None, timestamp=None):
    """The provider of Iceberg table ``table_name``; not supported yet."""
    raise UnsupportedError(f"Iceberg tables (`iceberg_scan('{table_name}')`)",
                           hint="read the table's Parquet data files with read_parquet, or convert it to Delta")
