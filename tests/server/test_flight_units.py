"""The server's pieces without a server: protocol messages, parameter binding, auth, metadata helpers."""

from __future__ import annotations

import datetime
import decimal

import pyarrow as pa
import pytest

import quarry
from quarry.errors import BindError, ParseError, UnsupportedError
from quarry.server import is_loopback, serve
from quarry.server.auth import TokenStore, Users, hash_password
from quarry.server.flight_sql.errors import InvalidArgument, NotFound, to_flight_error
from quarry.server.flight_sql.metadata import like_pattern
from quarry.server.flight_sql.params import literal_node, parse_statement
from quarry.server.flight_sql.protocol import MESSAGES, ProtocolError, optional, pack, unpack
from quarry.server.flight_sql.state import HandleTable


def test_commands_round_trip_through_any():
    command = MESSAGES["CommandGetTables"](catalog="", table_types=["VIEW"], include_schema=True)
    data = pack(command)
    assert b"type.googleapis.com/arrow.flight.protocol.sql.CommandGetTables" in data
    back = unpack(data)
    assert optional(back, "catalog") == "" and optional(back, "db_schema_filter_pattern") is None
    assert list(back.table_types) == ["VIEW"] and back.include_schema


def test_ingest_command_fields():
    command = MESSAGES["CommandStatementIngest"](table="t", temporary=False)
    command.table_definition_options.if_not_exist = 1
    command.table_definition_options.if_exists = 2
    command.options.add(key="k", value="v")
    back = unpack(pack(command))
    assert (back.table, back.table_definition_options.if_exists, back.options[0].value) == ("t", 2, "v")


def test_unknown_messages_are_protocol_errors():
    with pytest.raises(ProtocolError):
        unpack(b"\xff\xff not protobuf")
    from google.protobuf import any_pb2, wrappers_pb2
    other = any_pb2.Any()
    other.Pack(wrappers_pb2.StringValue(value="x"))
    with pytest.raises(ProtocolError, match="unsupported"):
        unpack(other.SerializeToString())


def test_parameters_become_typed_literals():
    statement = parse_statement("SELECT * FROM t WHERE a = ? AND b = ? AND c = ? AND d = ? AND e = ?")
    assert statement.parameter_count == 5 and statement.read_only
    sql = statement.bind_row([pa.scalar("it's"), pa.scalar(3), pa.scalar(datetime.date(2020, 2, 29)),
                              pa.scalar(decimal.Decimal("1E+2")), pa.scalar(None, pa.string())])
    assert sql == ("SELECT * FROM t WHERE a = 'it''s' AND b = CAST(3 AS BIGINT) AND c = CAST('2020-02-29' AS DATE) "
                   "AND d = CAST('100' AS DECIMAL(3, 0)) AND e = CAST(NULL AS TEXT)")


def test_parameters_follow_text_order_across_clauses():
    statement = parse_statement("WITH c AS (SELECT ? AS x) SELECT x, ? FROM c WHERE x > ? LIMIT 3")
    sql = statement.bind_row([pa.scalar(1), pa.scalar(2), pa.scalar(3)])
    assert sql.index("CAST(1") < sql.index("CAST(2") < sql.index("CAST(3")
    assert quarry.connect().sql(sql).to_pylist() == []


def test_bound_strings_cannot_escape_their_literal():
    con = quarry.connect()
    con.register("t", pa.table({"s": ["a"]}))
    statement = parse_statement("SELECT count(*) AS n FROM t WHERE s = ?")
    for evil in ("a' OR 'x'='x", "a'; DROP TABLE t; --", "a\\' OR 1=1 --", "$$a$$"):
        assert con.sql(statement.bind_row([pa.scalar(evil)])).to_pylist() == [{"n": 0}]
    assert con.tables() == ["t"]


def test_insert_rows_merge_into_one_values_list():
    statement = parse_statement("INSERT INTO t VALUES (?, ?)")
    sql = statement.bind_rows_as_values([[pa.scalar(1), pa.scalar("a")], [pa.scalar(2), pa.scalar("b")]])
    assert sql == "INSERT INTO t VALUES (CAST(1 AS BIGINT), 'a'), (CAST(2 AS BIGINT), 'b')"
    assert parse_statement("INSERT INTO t SELECT ?").bind_rows_as_values([[pa.scalar(1)]]) is None


def test_parameter_errors():
    with pytest.raises(UnsupportedError, match="positional"):
        parse_statement("SELECT $1, ?")
    with pytest.raises(BindError, match="2 parameter"):
        parse_statement("SELECT ?, ?").bind_row([pa.scalar(1)])
    with pytest.raises(UnsupportedError, match="not supported"):
        literal_node(pa.scalar(b"\x00", pa.binary()))
    with pytest.raises(ParseError):
        parse_statement("SELEC ?")


def test_users_file_and_environment(tmp_path):
    path = tmp_path / "users.txt"
    path.write_text(f"# users\nana:plain:with:colons\nbob:{hash_password('pw', iterations=1000)}\n\n")
    users = Users.load(path, environ={"QUARRY_SERVER_USER": "eve", "QUARRY_SERVER_PASSWORD": "x"})
    assert len(users) == 3
    assert users.check("ana", "plain:with:colons") and users.check("bob", "pw") and users.check("eve", "x")
    assert not users.check("bob", "PW") and not users.check("nobody", "pw")
    path.write_text("no separator here\n")
    with pytest.raises(ValueError, match="users.txt:1"):
        Users.load(path, environ={})


def test_tokens_expire():
    import pyarrow.flight as flight
    tokens = TokenStore(ttl=0.05)
    token = tokens.issue("ana")
    assert tokens.user_of(token) == "ana"
    import time
    time.sleep(0.1)
    with pytest.raises(flight.FlightUnauthenticatedError, match="expired"):
        tokens.user_of(token)


def test_handles_are_per_owner_and_single_use():
    table = HandleTable("thing", ttl=60)
    handle = table.add("value", "ana")
    with pytest.raises(NotFound):
        table.get(handle, "bob")
    assert table.pop(handle, "ana") == "value"
    with pytest.raises(NotFound):
        table.pop(handle, "ana")


def test_like_patterns():
    assert like_pattern("l_n%").fullmatch("LINEITEM") is not None
    assert like_pattern("l_n%").fullmatch("lean") is None
    assert like_pattern("my\\_t").fullmatch("myxt") is None and like_pattern("my\\_t").fullmatch("my_t")


def test_error_mapping():
    from quarry.errors import CatalogError, UnknownSchemaError, UnknownTableError
    assert isinstance(to_flight_error(ParseError("bad")), InvalidArgument)
    assert isinstance(to_flight_error(UnknownTableError("x")), NotFound)
    assert isinstance(to_flight_error(UnknownSchemaError("s")), NotFound)
    # by class, not text: a missing table with the shell's hint is still NOT_FOUND, an existing one is not
    assert isinstance(to_flight_error(UnknownTableError("x", hint="open a directory with `.open DIR`")), NotFound)
    assert isinstance(to_flight_error(CatalogError("table `x` already exists")), InvalidArgument)
    assert isinstance(to_flight_error(UnsupportedError("no")), NotImplementedError)


def test_loopback_rule():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("example.com")
    with pytest.raises(quarry.QuarryError, match="without authentication"):
        serve(quarry.connect(), "0.0.0.0", 0, block=False)


def test_embedded_server_serves_a_session():
    import adbc_driver_flightsql.dbapi as adbc
    con = quarry.connect()
    con.register("t", pa.table({"x": [1, 2, 3]}))
    server = serve(con, "127.0.0.1", 0, block=False)
    try:
        with adbc.connect(f"grpc://127.0.0.1:{server.port}", autocommit=True) as client, client.cursor() as cur:
            cur.execute("SELECT sum(x) FROM t")
            assert cur.fetchall() == [(6,)]
    finally:
        server.shutdown()
