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
from quarry.server.flight_sql.params import parse_statement
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


def _run_bound(con, sql: str, values: list) -> pa.Table:
    result = parse_statement(sql).run(con, [v if isinstance(v, pa.Scalar) else pa.scalar(v) for v in values])
    return con.run(result.plan).table


def test_parameters_bind_as_values_of_their_own_type():
    con = quarry.connect(workers=0)
    statement = parse_statement("SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e")
    assert statement.parameter_count == 5 and statement.read_only
    values = [pa.scalar("it's"), pa.scalar(3, pa.int16()), pa.scalar(datetime.date(2020, 2, 29)),
              pa.scalar(decimal.Decimal("1E+2")), pa.scalar(None, pa.string())]
    table = con.run(statement.run(con, values).plan).table
    assert table.to_pylist() == [{"a": "it's", "b": 3, "c": datetime.date(2020, 2, 29),
                                  "d": decimal.Decimal("100"), "e": None}]
    assert [f.type for f in table.schema] == [pa.string(), pa.int16(), pa.date32(), values[3].type, pa.string()]


def test_parameters_follow_text_order_across_clauses():
    con = quarry.connect(workers=0)
    sql = "WITH c AS (SELECT ? AS x) SELECT x, ? AS y FROM c WHERE x > ? LIMIT ?"
    assert _run_bound(con, sql, [5, "two", 3, 10]).to_pylist() == [{"x": 5, "y": "two"}]
    assert _run_bound(con, sql, [5, "two", 7, 10]).to_pylist() == []
    assert _run_bound(con, sql, [5, "two", 3, 0]).to_pylist() == []


def test_limit_and_offset_parameters():
    con = quarry.connect(workers=0)
    sql = "SELECT x FROM (VALUES (1), (2), (3), (4), (5)) t(x) ORDER BY x LIMIT ? OFFSET ?"
    assert _run_bound(con, sql, [2, 1]).column("x").to_pylist() == [2, 3]
    assert _run_bound(con, sql, [pa.scalar(None, pa.int64()), 3]).column("x").to_pylist() == [4, 5]
    for bad in (-1, "2", 1.5):
        with pytest.raises(BindError, match="LIMIT must be a non-negative integer"):
            _run_bound(con, sql, [bad, 0])


def test_binary_time_and_zoned_timestamp_parameters():
    con = quarry.connect(workers=0)
    zoned = datetime.datetime(2024, 3, 1, 12, 30, tzinfo=datetime.timezone.utc)
    values = [pa.scalar(b"\x00\xff'"), pa.scalar(datetime.time(23, 59, 58, 7)),
              pa.scalar(zoned, pa.timestamp("us", tz="UTC"))]
    table = _run_bound(con, "SELECT ? AS b, ? AS t, ? AS z, ? < ? AS earlier",
                       values + [values[1], pa.scalar(datetime.time(23, 59, 59))])
    assert table.to_pylist() == [{"b": b"\x00\xff'", "t": datetime.time(23, 59, 58, 7), "z": zoned,
                                  "earlier": True}]
    assert [f.type for f in table.schema][:3] == [pa.binary(), pa.time64("us"), pa.timestamp("us", tz="UTC")]


def test_dense_union_parameters_bind_their_member_value():
    # what flightsql-dbapi sends: one dense union (int64, float64, utf8, binary, bool) per parameter
    children = [pa.array([], pa.int64()), pa.array([], pa.float64()), pa.array([], pa.string()),
                pa.array([], pa.binary()), pa.array([], pa.bool_())]

    def member(code: int, value, arrow_type):
        kids = list(children)
        kids[code] = pa.array([value], arrow_type)
        return pa.UnionArray.from_dense(pa.array([code], pa.int8()), pa.array([0], pa.int32()), kids)[0]

    con = quarry.connect(workers=0)
    table = _run_bound(con, "SELECT ? + 1 AS i, ? AS f, ? AS s, ? AS b, ? AS t",
                       [member(0, 41, pa.int64()), member(1, 0.5, pa.float64()), member(2, "x", pa.string()),
                        member(3, b"y", pa.binary()), member(4, True, pa.bool_())])
    assert table.to_pylist() == [{"i": 42, "f": 0.5, "s": "x", "b": b"y", "t": True}]


def test_bound_strings_cannot_escape_their_literal():
    con = quarry.connect(workers=0)
    con.register("t", pa.table({"s": ["a"]}))
    for evil in ("a' OR 'x'='x", "a'; DROP TABLE t; --", "a\\' OR 1=1 --", "$$a$$"):
        assert _run_bound(con, "SELECT count(*) AS n FROM t WHERE s = ?", [evil]).to_pylist() == [{"n": 0}]
    assert con.tables() == ["t"]


def test_insert_values_binds_the_whole_batch():
    con = quarry.connect(workers=0)
    con.sql("CREATE TABLE t (a INTEGER, b VARCHAR, c DOUBLE)")
    statement = parse_statement("INSERT INTO t (c, a, b) VALUES (?, ? * 10, upper(?))")
    assert statement.takes_batch and not parse_statement("INSERT INTO t SELECT ?").takes_batch
    union = pa.UnionArray.from_dense(pa.array([0, 1, 0], pa.int8()), pa.array([0, 0, 1], pa.int32()),
                                     [pa.array([1, 3], pa.int64()), pa.array([2.5], pa.float64())])
    batch = pa.table({"x": union, "y": pa.array([1, None, 3], pa.int64()),
                      "z": pa.array(["a", "b", None]).dictionary_encode()})
    assert statement.insert_batch(con, batch).rows_changed == 3
    assert con.sql("SELECT * FROM t").to_arrow().to_pylist() == [
        {"a": 10, "b": "A", "c": 1.0}, {"a": None, "b": "B", "c": 2.5}, {"a": 30, "b": None, "c": 3.0}]


def test_parameter_errors():
    con = quarry.connect(workers=0)
    with pytest.raises(UnsupportedError, match="positional"):
        parse_statement("SELECT $1, ?")
    with pytest.raises(BindError, match="2 parameter"):
        parse_statement("SELECT ?, ?").run(con, [pa.scalar(1)])
    with pytest.raises(UnsupportedError, match="Not supported: parameters of type list"):
        _run_bound(con, "SELECT ? AS x", [pa.scalar([1, 2])])
    with pytest.raises(UnsupportedError, match="Not supported: parameters .* in CREATE VIEW"):
        _run_bound(con, "CREATE VIEW v AS SELECT ? AS x", [1])
    with pytest.raises(UnsupportedError, match="only accepted through prepared statements"):
        con.sql("SELECT $1")
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


def test_tokens_are_renewed_past_half_their_lifetime():
    import time
    store = TokenStore(0.4)
    token = store.issue("ana")
    assert store.renewal(token) is None                     # young: no renewal
    time.sleep(0.25)
    successor = store.renewal(token)
    assert successor is not None and successor != token
    assert store.renewal(token) == successor                # one successor per token, however many calls
    assert store.user_of(successor) == "ana" and store.user_of(token) == "ana"
    time.sleep(0.2)
    with pytest.raises(Exception, match="connect again"):
        store.user_of(token)                                # the old one still expires on time
    assert store.user_of(successor) == "ana"
