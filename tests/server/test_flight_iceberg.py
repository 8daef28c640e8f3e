"""A Flight SQL server started with an Iceberg catalog (``--iceberg-catalog``): its clients see that
catalog's tables in the metadata listings and read them, and nothing else: no other catalog, no table by a path outside ``--data``, and no
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


def test_the_catalogs_tables_are_listed_by_get_objects_and_information_schema(ice_server, lake):
    from pyiceberg.catalog.sql import SqlCatalog
    from flight_harness import connect
    catalog = SqlCatalog("lake", uri=lake["uri"], warehouse=f"file://{lake['root']}")
    expected = sorted(tuple(i) for i in catalog.list_tables("db"))          # what pyiceberg holds: [("db", "t")]
    arrow_schema = catalog.load_table("db.t").schema().as_arrow()
    with connect(ice_server) as con:
        objects = con.adbc_get_objects(depth="all").read_all().to_pylist()
        by_catalog = {c["catalog_name"]: c["catalog_db_schemas"] for c in objects}
        assert set(by_catalog) == {"quarry", "lake"}
        listed = sorted((s["db_schema_name"], t["table_name"]) for s in by_catalog["lake"]
                        for t in s["db_schema_tables"])
        assert listed == expected
        (db,) = by_catalog["lake"]
        (t,) = db["db_schema_tables"]
        assert t["table_type"] == "TABLE"
        assert [c["column_name"] for c in t["table_columns"]] == arrow_schema.names
        # a catalog filter, and the schema of one table through GetTables(include_schema)
        only = con.adbc_get_objects(depth="tables", catalog_filter="lake").read_all().to_pylist()
        assert [c["catalog_name"] for c in only] == ["lake"]
        schema = con.adbc_get_table_schema("t", catalog_filter="lake", db_schema_filter="db")
        assert schema.names == arrow_schema.names
        # quarry serves pyiceberg's large_string as string, as every table's strings
        assert [f.type for f in schema] == [pa.string() if pa.types.is_large_string(f.type) else f.type
                                            for f in arrow_schema]
    rows = query(ice_server, "SELECT table_catalog, table_schema, table_name FROM information_schema.tables "
                             "WHERE table_catalog = 'lake'").to_pylist()
    assert [(r["table_schema"], r["table_name"]) for r in rows] == expected
