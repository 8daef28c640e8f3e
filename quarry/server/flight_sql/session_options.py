"""Flight's session options (the ``GetSessionOptions`` / ``SetSessionOptions`` actions), for the current catalog.

Drivers ask the server for a connection's current catalog and schema this way: the
ADBC Flight SQL driver's ``adbc_current_catalog`` / ``adbc_current_db_schema`` read
the options named ``catalog`` and ``schema`` from ``GetSessionOptions``, and setting
them sends ``SetSessionOptions``. Both actions carry the plain (not ``Any``-wrapped)
messages of ``Flight.proto``; pyarrow's server has no support of its own for them, so
they arrive as ordinary ``DoAction`` calls.

quarry has one catalog, ``quarry``, with one schema, ``main``, so the options are the
same for every connection and the server keeps no per-session state: reading them
always answers ``catalog=quarry, schema=main``; setting them to those values is
accepted, and anything else (another catalog or schema, clearing them, an option
quarry does not have) fails with "Not supported: ..." naming what was asked.

    >>> request = MESSAGES["SetSessionOptionsRequest"]()
    >>> request.session_options.add(key="schema").value.string_value = "main"
    >>> set_session_options(request.SerializeToString())
    b''
    >>> result = MESSAGES["GetSessionOptionsResult"]()
    >>> _ = result.ParseFromString(get_session_options(b""))
    >>> sorted((e.key, e.value.string_value) for e in result.session_options)
    [('catalog', 'quarry'), ('schema', 'main')]
"""

from __future__ import annotations

from quarry.catalog.information_schema import CATALOG_NAME, SCHEMA_NAME
from quarry.errors import UnsupportedError
from quarry.server.flight_sql.protocol import MESSAGES, ProtocolError

# option name -> (its only value, what it is called in messages)
OPTIONS = {"catalog": (CATALOG_NAME, "catalog"), "schema": (SCHEMA_NAME, "schema")}

_VALUE_FIELDS = ("string_value", "bool_value", "int64_value", "double_value", "string_list_value")


def _parse(name: str, body: bytes):
    message = MESSAGES[name]()
    try:
        message.ParseFromString(body)
    except Exception as exc:        # protobuf raises its own DecodeError family
        raise ProtocolError(f"malformed {name}: {exc}") from None
    return message


def get_session_options(body: bytes) -> bytes:
    """The serialized ``GetSessionOptionsResult``: the current catalog and schema."""
    _parse("GetSessionOptionsRequest", body)
    result = MESSAGES["GetSessionOptionsResult"]()
    for name, (value, _) in OPTIONS.items():
        result.session_options.add(key=name).value.string_value = value
    return result.SerializeToString()


def _describe(value) -> str:
    """How a SessionOptionValue reads in an error message."""
    present = [f for f in _VALUE_FIELDS if value.HasField(f)]
    if not present:
        return "no value (clearing it)"
    field = present[0]
    if field == "string_list_value":
        return repr(list(value.string_list_value.values))
    return repr(getattr(value, field))


def set_session_options(body: bytes) -> bytes:
    """Check a ``SetSessionOptionsRequest``; the serialized (empty) ``SetSessionOptionsResult``.

    Raises UnsupportedError for any option quarry cannot take (they are all-or-nothing: the
    request changes nothing, since the only values accepted are the current ones).
    """
    request = _parse("SetSessionOptionsRequest", body)
    for entry in request.session_options:
        name = entry.key.lower()
        if name not in OPTIONS:
            raise UnsupportedError(f"session option `{entry.key}`",
                                   hint=f"quarry's session options are {', '.join(OPTIONS)}")
        only, label = OPTIONS[name]
        value = entry.value
        if not value.HasField("string_value") or value.string_value.lower() != only:
            raise UnsupportedError(f"setting the current {label} to {_describe(value)}",
                                   hint=f"quarry has one {label}, `{only}`, which is always current")
    return MESSAGES["SetSessionOptionsResult"]().SerializeToString()


__all__ = ["get_session_options", "set_session_options", "OPTIONS"]
