"""TPC-H for quarry: data generation, the 22 queries, and the benchmark against DuckDB.

- `tpch.datagen` writes one Parquet file (or a directory of files) per table with
  ``tpchgen-cli`` and caches it.
- This package loads the query texts in ``tpch/queries/qNN.sql``: the 22 queries of the
  TPC-H specification with its validation (default substitution) parameters.
- `tpch.benchmark` times quarry against DuckDB on the same files and checks the answers.

Example::

    from quarry.tpch import load_query
    from quarry.tpch.datagen import generate
    data_dir = generate(0.01)
    sql = load_query(6)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["QUERIES_DIR", "QUERY_NUMBERS", "create_duckdb_views", "load_query", "query_path"]

QUERIES_DIR = Path(__file__).with_name("queries")
QUERY_NUMBERS = range(1, 23)


def query_path(n: int) -> Path:
    """Return the path of TPC-H query ``n``'s text, ``tpch/queries/qNN.sql``."""
    if n not in QUERY_NUMBERS:
        raise ValueError(f"TPC-H queries are numbered 1 to 22, got {n!r}")
    return QUERIES_DIR / f"q{n:02d}.sql"


def load_query(n: int) -> str:
    """Return the SQL text of TPC-H query ``n`` as one statement, without a trailing ``;``.

    >>> load_query(6).splitlines()[1]
    'select'
    """
    text = query_path(n).read_text(encoding="utf-8").strip()
    return text.rstrip(";").rstrip()


def create_duckdb_views(con: Any, data_dir: str | Path) -> None:
    """Create one DuckDB view per TPC-H table over ``<data_dir>/<table>.parquet``.

    A table that is a directory of parts (``datagen --parts``) is read as
    ``<data_dir>/<table>/*.parquet``. Views (not tables) make DuckDB read the same
    Parquet files quarry reads, on every query.

    >>> import duckdb                                   # doctest: +SKIP
    >>> con = duckdb.connect()                          # doctest: +SKIP
    >>> create_duckdb_views(con, "~/.cache/quarry/tpch/sf1")  # doctest: +SKIP
    """
    # Imported here so that `python -m quarry.tpch.datagen` does not find tpch.datagen pre-imported.
    from quarry.tpch.datagen import table_paths

    for name, path in table_paths(Path(data_dir).expanduser()).items():
        source = path / "*.parquet" if path.is_dir() else path
        literal = str(source).replace("'", "''")
        con.execute(f"create or replace view {name} as select * from read_parquet('{literal}')")


def register_tables(con: Any, data_dir: str | Path) -> Any:
    """Register the eight TPC-H tables of ``data_dir`` in a quarry session; returns the session.

    Each table is a ``<table>.parquet`` file or a ``<table>/`` directory of parts, which
    quarry reads as one table.

    >>> con = register_tables(quarry.connect(), tpch.datagen.generate(0.01))   # doctest: +SKIP
    """
    from quarry.tpch.datagen import table_paths

    for name, path in table_paths(Path(data_dir).expanduser()).items():
        con.register(name, str(path))
    return con
