"""Fixtures for the Flight SQL server tests (helpers live in ``flight_harness``).

Server fixtures start real ``python -m quarry.server`` subprocesses on 127.0.0.1 and
register their stop as a finalizer before waiting for them, so no server outlives the
test session, even when startup fails.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flight_harness import ServerProcess, start_server


@pytest.fixture(scope="session")
def scratch_dir(tmp_path_factory) -> Path:
    """A second (read-only) data directory, with a CSV and a hive-partitioned table."""
    root = tmp_path_factory.mktemp("scratch")
    (root / "small.csv").write_text("id,name\n1,ann\n2,bob\n3,cy\n")
    for year, values in ((2020, [1, 2]), (2021, [3])):
        folder = root / "events" / f"year={year}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"v": pa.array(values, pa.int64())}), folder / "part-0.parquet")
    return root


@pytest.fixture(scope="session")
def writable_dir(tmp_path_factory) -> Path:
    """The directory the open server lets clients COPY into (``--writable``)."""
    return tmp_path_factory.mktemp("writable")


@pytest.fixture(scope="session")
def server(request, tmp_path_factory, tpch_sf001, scratch_dir, writable_dir) -> ServerProcess:
    """An open (no credentials) server over the TPC-H SF 0.01 tables and the scratch directory, writing
    files only into ``writable_dir``."""
    return start_server(request, tmp_path_factory, ["--data", str(tpch_sf001), "--data", str(scratch_dir),
                                                    "--writable", str(writable_dir)], name="open")


@pytest.fixture(scope="session")
def tpch_session(tpch_sf001):
    """An in-process quarry session over the same TPC-H files (the reference answers)."""
    import quarry
    from quarry.tpch.datagen import table_paths
    con = quarry.connect()
    for name, path in table_paths(tpch_sf001).items():
        con.register(name, str(path))
    return con
