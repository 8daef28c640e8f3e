"""The catalog: names to table providers, case-insensitive, with helpful misses."""

from __future__ import annotations

import threading
from typing import Callable

from quarry.catalog.providers import TableProvider
from quarry.errors import CatalogError, UnknownTableError, suggest


class Catalog:
    """A flat namespace of tables and views (one schema, ``main``)."""

    # the hint for a missing table with no near name; a front end sets its own (the shell: `.open DIR`)
    missing_hint = ("register it first: con.register('{name}', 'path/to/file.parquet'), or query a file directly: "
                    "SELECT * FROM read_parquet('path')")

    def __init__(self):
        self._tables: dict[str, TableProvider] = {}
        self._lock = threading.RLock()

    def register(self, name: str, provider: TableProvider, *, replace: bool = True) -> None:
        """Add ``provider`` under ``name``; with ``replace=False`` an existing name is an error."""
        key = name.lower()
        with self._lock:
            if not replace and key in self._tables:
                raise CatalogError(f"table `{name}` already exists",
                                   hint="use CREATE OR REPLACE, or DROP it first")
            self._tables[key] = provider

    def drop(self, name: str, *, if_exists: bool = False, kind: str | None = None) -> None:
        key = name.lower()
        with self._lock:
            if key not in self._tables:
                if if_exists:
                    return
                raise self._missing(name)
            if kind == "view" and self._tables[key].kind != "view":
                raise CatalogError(f"`{name}` is a table, not a view", hint=f"use DROP TABLE {name}")
            del self._tables[key]

    def get(self, name: str, fallback: Callable[[str], TableProvider | None] | None = None) -> TableProvider:
        """The provider registered as ``name``. When there is none, ``fallback(name)`` may supply one
        (the session's replacement scan of a Python variable); a registered name always wins."""
        try:
            return self._tables[name.lower()]
        except KeyError:
            pass
        found = fallback(name) if fallback is not None else None
        if found is None:
            raise self._missing(name)
        return found

    def exists(self, name: str) -> bool:
        return name.lower() in self._tables

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(p.name for p in self._tables.values())

    def providers(self) -> list[TableProvider]:
        return [self._tables[k] for k in sorted(self._tables)]

    def information_schema(self, name: str, external=None) -> TableProvider:
        """``information_schema.<name>`` (``tables``, ``columns``, ``schemata``) as of now, an in-memory table.

        >>> Catalog().information_schema("schemata").table.column("schema_name").to_pylist()
        ['main', 'information_schema']
        """
        from quarry.catalog.information_schema import check_view, information_schema_table
        from quarry.catalog.providers import MemoryTable
        check_view(name)
        with self._lock:            # a snapshot: DDL on another thread cannot change it midway
            providers = list(self._tables.values())
        # external(columns): the tables of the session's Iceberg catalogs (see information_schema_table)
        listed = external(name.lower() == "columns") if external is not None else ()
        return MemoryTable(name.lower(), information_schema_table(name, providers, listed))

    def _missing(self, name: str) -> UnknownTableError:
        hint = suggest(name, self.names()) or self.missing_hint.format(name=name)
        return UnknownTableError(name, hint=hint)
