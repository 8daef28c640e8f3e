"""Find the tables in a directory: one naming rule for every front end.

The shell's ``.open DIR`` and ``--data DIR``, ``quarry serve --data DIR``, and the
default names of ``con.read_parquet(path)`` / ``con.read_csv(path)`` all use these
functions, so a file gets the same table name wherever it is opened:

* a table per data file directly in the directory (``*.parquet``, ``*.parq``, ``*.pq``,
  ``*.csv``, ``*.csv.gz``, ``*.tsv``, ``*.tab``), and a table per sub-directory holding
  such files anywhere below it (plain, or hive-partitioned ``year=2024/`` folders);
* names starting with ``.`` or ``_`` are skipped (hidden files, ``_SUCCESS`` markers,
  the writer's temporary files);
* the table is named after the file or folder without its data extension; characters
  that cannot appear in a plain SQL name become ``_`` and a leading digit gets ``t_``
  (``my-data.csv.gz`` is ``my_data``, ``2024.parquet`` is ``t_2024``).

    >>> table_name("data/lineitem.parquet"), table_name("my-data.csv.gz"), table_name("2024")
    ('lineitem', 'my_data', 't_2024')
"""

from __future__ import annotations

import os
import re

from quarry.errors import DataError, QuarryError

DATA_SUFFIXES = (".parquet", ".parq", ".pq", ".csv", ".csv.gz", ".tsv", ".tab", ".json", ".jsonl", ".ndjson")
# stripped from a name, but not enough to make a file in a directory a table (README.txt)
_NAME_SUFFIXES = DATA_SUFFIXES + (".txt",)


def table_name(path) -> str:
    """The table name for a data file or folder (a glob: its folder; a list: its first path)."""
    if isinstance(path, (list, tuple)):
        path = path[0] if path else "data"
    text = os.fspath(path).rstrip("/\\")
    base = os.path.basename(text)
    if any(ch in base for ch in "*?["):
        base = os.path.basename(os.path.dirname(text)) or "data"
    for suffix in sorted(_NAME_SUFFIXES, key=len, reverse=True):
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    name = re.sub(r"\W", "_", base) or "data"
    return "t_" + name if name[0].isdigit() else name


def _visible(name: str) -> bool:
    return not name.startswith((".", "_"))


def _is_data_file(name: str) -> bool:
    return _visible(name) and name.lower().endswith(DATA_SUFFIXES)


def _holds_data(folder: str) -> bool:
    """Whether ``folder`` holds a data file anywhere below it."""
    for _root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if _visible(d)]
        if any(_is_data_file(n) for n in names):
            return True
    return False


def discover(path) -> list[tuple[str, str]]:
    """``(table name, path)`` for every data file and data folder directly in ``path``, sorted by
    file name; for a single data file, that file.

    >>> discover("warehouse")                     # doctest: +SKIP
    [('lineitem', 'warehouse/lineitem.parquet'), ('sales', 'warehouse/sales')]
    """
    from quarry.catalog.filesystems import is_remote
    if is_remote(path):
        return _discover_remote(os.fspath(path))
    path = os.path.expanduser(os.fspath(path))
    if os.path.isfile(path):
        return [(table_name(path), path)]
    if not os.path.isdir(path):
        raise DataError(f"`{path}` does not exist", hint="give a directory of Parquet/CSV files, or one file")
    found = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_file() and _is_data_file(entry.name):
            found.append((table_name(entry.name), entry.path))
        elif entry.is_dir() and _visible(entry.name) and _holds_data(entry.path):
            found.append((table_name(entry.name), entry.path))
    return found


def _discover_remote(uri: str) -> list[tuple[str, str]]:
    """:func:`discover` for an object-store prefix (``s3://lake/public/``): one recursive listing, a
    table per data file directly under it and per folder holding data files below it."""
    from quarry.catalog.filesystems import list_location
    listing = list_location(uri)
    if listing.root is None:                     # the URI is one file
        return [(table_name(uri), uri)]
    root = listing.root.rstrip("/") + "/"
    found: dict[str, str] = {}
    for f in listing.files:
        rel = f.uri[len(root):] if f.uri.startswith(root) else ""
        first, _, rest = rel.partition("/")
        if not first:
            continue
        if rest:
            found.setdefault(first, root + first)
        elif _is_data_file(first):
            found.setdefault(first, f.uri)
    return [(table_name(name), found[name]) for name in sorted(found)]


def register_directory(session, path) -> tuple[list[str], list[str]]:
    """Register what :func:`discover` finds in ``path`` with ``session``; ``(names, notes)``.

    Each table is registered with ``session.register`` (Parquet read lazily, CSV loaded
    now). A file that cannot be read, or whose name another file in ``path`` already
    took (``a.csv`` next to ``a.parquet``), is skipped; a table that replaces one
    registered before (from another directory) is kept. ``notes`` says so, for the
    caller to show or log. Raises a DataError when ``path`` holds no data at all.
    """
    with session.using_storage():          # an object-store prefix is listed with the session's credentials
        sources = discover(path)
    if not sources:
        raise DataError(f"no Parquet or CSV files in `{path}`",
                        hint="tables come from *.parquet / *.csv files and folders of them")
    names: list[str] = []
    notes: list[str] = []
    for name, source in sources:
        label = os.path.basename(source)
        if name in names:
            notes.append(f"skipped {label}: another file is already table `{name}`")
            continue
        replaces = session.catalog.exists(name)
        try:
            session.register(name, source)
        except QuarryError as err:
            notes.append(f"skipped {label}: {err.message}")
            continue
        names.append(name)
        if replaces:
            notes.append(f"table `{name}` from {label} replaces one registered earlier")
    if not names:
        raise DataError(f"could not register any table from `{path}`", hint="; ".join(notes) or None)
    return names, notes


__all__ = ["DATA_SUFFIXES", "discover", "register_directory", "table_name"]
