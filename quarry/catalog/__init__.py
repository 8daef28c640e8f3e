"""Tables and their providers (Parquet, CSV, Arrow, views), and their statistics."""

from quarry.catalog.catalog import Catalog
from quarry.catalog.providers import (
    ColumnStats, MemoryTable, ParquetTable, TableProvider, TableStats, ViewTable, provider_for,
)

__all__ = ["Catalog", "ColumnStats", "MemoryTable", "ParquetTable", "TableProvider", "TableStats", "ViewTable",
           "provider_for"]
