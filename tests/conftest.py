"""Shared pytest fixtures.

- ``tpch_sf001``: the directory of TPC-H SF 0.01 Parquet files, generated once into
  ``<repo>/.quarry-cache/tpch/sf0.01`` (git-ignored) and reused across runs.
- ``duckdb_tpch``: a DuckDB connection with one view per TPC-H table over those files.
- ``duckdb_con``: a fresh in-memory DuckDB connection.

DuckDB is a test extra, so the DuckDB fixtures skip the test when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".quarry-cache"


# --- TPC-H data -------------------------------------------------------------


@pytest.fixture(scope="session")
def tpch_sf001() -> Path:
    """Return the directory of TPC-H SF 0.01 Parquet files, generating them on first use."""
    from quarry.tpch.datagen import generate

    return generate(0.01, CACHE_DIR / "tpch" / "sf0.01")


# --- DuckDB (the reference engine) ------------------------------------------


@pytest.fixture(scope="session")
def duckdb_tpch(tpch_sf001: Path) -> Iterator[Any]:
    """Return a DuckDB connection with the eight TPC-H tables as views over ``tpch_sf001``."""
    duckdb = pytest.importorskip("duckdb")
    from quarry.tpch import create_duckdb_views

    con = duckdb.connect()
    create_duckdb_views(con, tpch_sf001)
    yield con
    con.close()


@pytest.fixture
def duckdb_con() -> Iterator[Any]:
    """Return a fresh in-memory DuckDB connection, closed after the test."""
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    yield con
    con.close()



# --- an S3-compatible endpoint (moto) ---------------------------------------


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 server on 127.0.0.1 for the whole run (skipped when moto is not installed)."""
    pytest.importorskip("moto")
    pytest.importorskip("boto3")
    import s3server

    server = s3server.start()
    yield server
    server.stop()


# --- GCS and Azure emulators --------------------------------------------------


@pytest.fixture(scope="session")
def gcs_server():
    """gcp-storage-emulator on 127.0.0.1 for the whole run (skipped, saying why, when it cannot run)."""
    import emulators
    try:
        server = emulators.start_gcs()
    except emulators.Unavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azure_server(tmp_path_factory):
    """Azurite's Blob service on 127.0.0.1 for the whole run (skipped when node or Azurite is missing)."""
    import emulators
    try:
        server = emulators.start_azurite(str(tmp_path_factory.mktemp("azurite")))
    except emulators.Unavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()
