"""Fixtures for optimizer tests: a session with small tables (with NULLs, unmatched keys), DuckDB twins.

Tables (in memory unless noted):

- ``emp(id, dept_id, salary, name)``: 8 rows; one NULL ``dept_id``, one NULL ``salary``,
  one ``dept_id`` (40) with no department.
- ``dept(id, dname, budget)``: 4 rows; department 50 has no employees, one NULL ``budget``.
- ``events`` (Parquet, 3 row groups of 4 rows, ``day`` ascending): for scan pushdown and pruning.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

import quarry

from rule_harness import DEPT, EMP, EVENTS


@pytest.fixture(scope="session")
def events_path(tmp_path_factory) -> str:
    """A Parquet file with three row groups: days 1-4, 5-8, 9-12."""
    path = tmp_path_factory.mktemp("optimizer") / "events.parquet"
    pq.write_table(EVENTS, path, row_group_size=4)
    return str(path)


@pytest.fixture
def con(events_path):
    """A session with ``emp``, ``dept`` and ``events`` registered."""
    session = quarry.connect()
    session.register("emp", EMP)
    session.register("dept", DEPT)
    session.register("events", events_path)
    return session


@pytest.fixture
def duck(duckdb_con):
    """DuckDB with the same ``emp`` and ``dept`` tables (the reference for decorrelation)."""
    duckdb_con.register("emp", EMP)
    duckdb_con.register("dept", DEPT)
    return duckdb_con
