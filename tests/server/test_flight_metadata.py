"""Metadata commands: ADBC's catalog calls, and the exact result schemas of the Flight SQL specification.

The expected schemas are transcribed here from the comments in ``FlightSql.proto``,
independently of ``quarry.server.flight_sql.metadata``, so a typo in either shows up.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.flight as flight
import pytest

adbc_driver_manager = pytest.importorskip("adbc_driver_manager")

from flight_harness import adbc, call_options, connect, flight_client
from quarry.server.flight_sql.protocol import MESSAGES, pack

u8, s, b = pa.utf8(), pa.string(), pa.bool_()
SPEC_SCHEMAS = {
    "CommandGetCatalogs": pa.schema([pa.field("catalog_name", u8, False)]),
    "CommandGetDbSchemas": pa.schema([pa.field("catalog_name", u8), pa.field("db_schema_name", u8, False)]),
    "CommandGetTables": pa.schema([pa.field("catalog_name", u8), pa.field("db_schema_name", u8),
                                   pa.field("table_name", u8, False), pa.field("table_type", u8, False)]),
    "CommandGetTableTypes": pa.schema([pa.field("table_type", u8, False)]),
    "CommandGetSqlInfo": pa.schema([
        pa.field("info_name", pa.uint32(), False),
        pa.field("value", pa.dense_union([
            pa.field("string_value", u8), pa.field("bool_value", b), pa.field("bigint_value", pa.int64()),
            pa.field("int32_bitmask", pa.int32()), pa.field("string_list", pa.list_(pa.field("string_data", u8))),
            pa.field("int32_to_int32_list_map", pa.map_(pa.int32(), pa.list_(pa.field("$data$", pa.int32())))),
        ]), False)]),
    "CommandGetXdbcTypeInfo": pa.schema([
        pa.field("type_name", u8, False), pa.field("data_type", pa.int32(), False),
        pa.field("column_size", pa.int32()), pa.field("literal_prefix", u8), pa.field("literal_suffix", u8),
        pa.field("create_params", pa.list_(pa.field("item", u8, False))), pa.field("nullable", pa.int32(), False),
        pa.field("case_sensitive", b, False), pa.field("searchable", pa.int32(), False),
        pa.field("unsigned_attribute", b), pa.field("fixed_prec_scale", b, False), pa.field("auto_increment", b),
        pa.field("local_type_name", u8), pa.field("minimum_scale", pa.int32()), pa.field("maximum_scale", pa.int32()),
        pa.field("sql_data_type", pa.int32(), False), pa.field("datetime_subcode", pa.int32()),
        pa.field("num_prec_radix", pa.int32()), pa.field("interval_precision", pa.int32())]),
    "CommandGetPrimaryKeys": pa.schema([
        pa.field("catalog_name", u8), pa.field("db_schema_name", u8), pa.field("table_name", u8, False),
        pa.field("column_name", u8, False), pa.field("key_name", u8), pa.field("key_sequence", pa.int32(), False)]),
    "CommandGetImportedKeys": pa.schema([
        pa.field("pk_catalog_name", u8), pa.field("pk_db_schema_name", u8), pa.field("pk_table_name", u8, False),
        pa.field("pk_column_name", u8, False), pa.field("fk_catalog_name", u8), pa.field("fk_db_schema_name", u8),
        pa.field("fk_table_name", u8, False), pa.field("fk_column_name", u8, False),
        pa.field("key_sequence", pa.int32(), False), pa.field("fk_key_name", u8), pa.field("pk_key_name", u8),
        pa.field("update_rule", pa.uint8(), False), pa.field("delete_rule", pa.uint8(), False)]),
}
TABLES_WITH_SCHEMA = pa.schema(list(SPEC_SCHEMAS["CommandGetTables"]) +
                               [pa.field("table_schema", pa.binary(), False)])


def _fetch(client, command) -> tuple[pa.Schema, pa.Schema, pa.Table]:
    """GetSchema, GetFlightInfo + DoGet of a metadata command: (get_schema, info schema, data)."""
    descriptor = flight.FlightDescriptor.for_command(pack(command))
    schema = client.get_schema(descriptor, call_options()).schema
    info = client.get_flight_info(descriptor, call_options())
    table = client.do_get(info.endpoints[0].ticket, call_options()).read_all()
    return schema, info.schema, table


@pytest.fixture(scope="module")
def client(server):
    c = flight_client(server)
    yield c
    c.close()


@pytest.mark.parametrize("name, fields", [
    ("CommandGetCatalogs", {}),
    ("CommandGetDbSchemas", {}),
    ("CommandGetTables", {}),
    ("CommandGetTableTypes", {}),
    ("CommandGetSqlInfo", {}),
    ("CommandGetXdbcTypeInfo", {}),
    ("CommandGetPrimaryKeys", {"table": "nation"}),
    ("CommandGetImportedKeys", {"table": "nation"}),
])
def test_result_schema_is_exactly_the_specification(client, name, fields):
    expected = SPEC_SCHEMAS[name]
    schema, info_schema, table = _fetch(client, MESSAGES[name](**fields))
    assert schema.equals(expected), f"{schema}\n!=\n{expected}"
    assert info_schema.equals(expected)
    assert table.schema.equals(expected)


def test_get_tables_with_schemas(client, tpch_session):
    command = MESSAGES["CommandGetTables"](include_schema=True, table_name_filter_pattern="line%")
    schema, _, table = _fetch(client, command)
    assert schema.equals(TABLES_WITH_SCHEMA)
    rows = table.to_pylist()
    assert [(r["catalog_name"], r["db_schema_name"], r["table_name"], r["table_type"]) for r in rows] == \
        [("quarry", "main", "lineitem", "TABLE")]
    table_schema = pa.ipc.read_schema(pa.py_buffer(rows[0]["table_schema"]))
    assert table_schema.equals(tpch_session.table("lineitem").schema, check_metadata=False)


def test_get_tables_filters(client):
    def names(**fields):
        return _fetch(client, MESSAGES["CommandGetTables"](**fields))[2].column("table_name").to_pylist()

    assert names(table_name_filter_pattern="n_tion") == ["nation"]
    assert names(catalog="other") == []
    assert names(catalog="") == []                       # "" asks for tables without a catalog
    assert names(db_schema_filter_pattern="ma%", table_name_filter_pattern="region") == ["region"]
    assert names(table_types=["VIEW"], table_name_filter_pattern="region") == []


def test_sql_info_values(client):
    _, _, table = _fetch(client, MESSAGES["CommandGetSqlInfo"](info=[0, 4, 9, 504, 508]))
    values = dict(zip(table.column("info_name").to_pylist(), table.column("value").to_pylist()))
    assert values[0] == "quarry"
    assert values[4] is True and values[9] is True
    assert values[504] == '"'
    assert "EXPLAIN" in values[508]


def test_xdbc_type_info_filter_and_order(client):
    _, _, everything = _fetch(client, MESSAGES["CommandGetXdbcTypeInfo"]())
    codes = everything.column("data_type").to_pylist()
    assert codes == sorted(codes) and 12 in codes and 93 in codes
    _, _, varchar = _fetch(client, MESSAGES["CommandGetXdbcTypeInfo"](data_type=12))
    assert varchar.column("type_name").to_pylist() == ["VARCHAR"]


def test_adbc_get_objects(server):
    with connect(server) as con:
        objects = con.adbc_get_objects(depth="all", table_name_filter="nation").read_all().to_pylist()
    assert [c["catalog_name"] for c in objects] == ["quarry"]
    schemas = objects[0]["catalog_db_schemas"]
    assert [s["db_schema_name"] for s in schemas] == ["main"]
    tables = schemas[0]["db_schema_tables"]
    assert [(t["table_name"], t["table_type"]) for t in tables] == [("nation", "TABLE")]
    assert [c["column_name"] for c in tables[0]["table_columns"]] == [
        "n_nationkey", "n_name", "n_regionkey", "n_comment"]


def test_adbc_get_objects_lists_views(server):
    with connect(server) as con, con.cursor() as cur:
        cur.execute("CREATE OR REPLACE VIEW m_asia AS SELECT n_name FROM nation WHERE n_regionkey = 2")
        cur.fetchall()
        objects = con.adbc_get_objects(depth="tables", table_name_filter="m_%").read_all().to_pylist()
    tables = objects[0]["catalog_db_schemas"][0]["db_schema_tables"]
    assert ("m_asia", "VIEW") in [(t["table_name"], t["table_type"]) for t in tables]


def test_adbc_get_table_schema(server, tpch_session):
    with connect(server) as con:
        for name in ("orders", "partsupp"):
            remote = con.adbc_get_table_schema(name)
            assert remote.equals(tpch_session.table(name).schema, check_metadata=False)
            assert remote.field(0).metadata[b"ARROW:FLIGHT:SQL:TABLE_NAME"] == name.encode()
        # the server lists no table of that name; the Flight SQL driver reports it as NOT_FOUND
        with pytest.raises(adbc.ProgrammingError, match="^NOT_FOUND: No table found$") as err:
            con.adbc_get_table_schema("no_such_table")
        assert err.value.status_code == adbc_driver_manager.AdbcStatusCode.NOT_FOUND


def test_adbc_get_table_types_and_info(server):
    with connect(server) as con:
        assert con.adbc_get_table_types() == ["TABLE", "VIEW"]
        info = con.adbc_get_info()
    assert info["vendor_name"] == "quarry"
    assert info["vendor_arrow_version"] == pa.__version__
