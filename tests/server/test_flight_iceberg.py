"""A Flight SQL server started with an Iceberg catalog (``--iceberg-catalog``): its clients read that
catalog's tables and nothing else: no other catalog, no table by a path outside ``--data``, and no
way to register a catalog of their own."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_harness import adbc, query, start_server

pytest.importorskip("pyiceberg")
pytest.importorskip("sqlalchemy", minversion="2.0")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    from pyiceberg.catalog.sql import SqlCatalog
    root = tmp_path_factory.mktemp("ice_lake")
    uri = f"sqlite:///{root}/catalog.db"
    catalog = SqlCatalog("lake", uri=uri, warehouse=f"file://{root}")
    catalog.create_namespace("db")
    table = catalog.create_table("db.t", schema=pa.schema([("id", pa.int64()), ("name", pa.string())]))
    table.append(pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"]}))
    table.append(pa.table({"id": pa.array([4], pa.int64()), "name": ["d"]}))
    data = tmp_path_factory.mktemp("ice_served")
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"x": [1]}), data / "small.parquet")
    return {"uri": uri, "root": root, "data": data, "location": table.metadata.location[len("file://"):],
            "first": table.metadata.snapshots[0].snapshot_id}


@pytest.fixture(scope="module")
def ice_server(request, tmp_path_factory, lake):
    spec = f"lake:type=sql,uri={lake['uri']},warehouse=file://{lake['root']}"
    return start_server(request, tmp_path_factory, ["--data", str(lake["data"]), "--iceberg-catalog", spec],
                        name="iceberg")


def test_clients_read_the_servers_catalog(ice_server, lake):
    assert query(ice_server, "SELECT sum(id) AS s, count(*) AS n FROM iceberg_scan('lake.db.t')").to_pylist() == \
        [{"s": 10, "n": 4}]
    assert query(ice_server, f"SELECT count(*) AS n FROM iceberg_scan('db.t') VERSION AS OF {lake['first']}") \
        .to_pylist() == [{"n": 3}]
    assert query(ice_server, "SELECT max(name) AS m FROM lake.db.t").to_pylist() == [{"m": "d"}]


def test_clients_cannot_reach_other_tables(ice_server, lake):
    with pytest.raises(adbc.Error, match="not allowed"):
        query(ice_server, f"SELECT * FROM iceberg_scan('{lake['location']}')")       # outside --data
    with pytest.raises(adbc.Error, match="not allowed"):
        query(ice_server, "SELECT * FROM iceberg_scan('s3://elsewhere/t')")
    with pytest.raises(adbc.Error, match="names no registered Iceberg catalog|does not exist"):
        query(ice_server, "SELECT * FROM iceberg_scan('other.db.t')")
    with pytest.raises(adbc.Error, match="schema `db` does not exist"):
        query(ice_server, "SELECT * FROM other.db.t")
    # a client cannot bring its own catalog, nor drop the server's
    with pytest.raises(adbc.Error, match="not allowed"):
        query(ice_server, f"ATTACH '' AS mine (TYPE iceberg, URI '{lake['uri']}')")
    with pytest.raises(adbc.Error, match="not allowed"):
        query(ice_server, "DETACH lake")
    assert query(ice_server, "SELECT count(*) AS n FROM lake.db.t").to_pylist() == [{"n": 4}]
