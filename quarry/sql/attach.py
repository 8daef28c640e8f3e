"""``ATTACH ... (TYPE iceberg)`` and ``DETACH``: Iceberg catalogs registered from SQL, in DuckDB's shape.

::

    ATTACH [DATABASE] [IF NOT EXISTS] '<warehouse>' AS lake (TYPE iceberg
        [, CATALOG_TYPE 'sql' | 'rest' | 'glue' | 'hive' | ...] [, URI '...'] [, ENDPOINT '...']
        [, <property> '<value>' ...]);
    DETACH [DATABASE] [IF EXISTS] lake;

The string after ATTACH is the catalog's ``warehouse`` (it may be empty); ``ENDPOINT`` is the
catalog's ``uri`` (DuckDB's name for a REST catalog's address); ``CATALOG_TYPE`` is pyiceberg's
``type`` (left out, pyiceberg infers it from the URI: ``http(s)://`` REST, ``sqlite:``/``postgresql:``
SQL, ``thrift:`` Hive). Any other option is a pyiceberg catalog property, named as a word
(``credential``, ``token``) or quoted (``'s3.endpoint' 'http://...'``). Then ``lake.db.orders`` and
``iceberg_scan('lake.db.orders')`` read its tables; :meth:`quarry.Session.register_iceberg_catalog`
does the same from Python.

Like CREATE SECRET these statements are recognized before sqlglot, since their options may hold
credentials; :func:`quarry.sql.secrets.redact_sql` blanks their string literals for the UI and the
event log. A sandboxed session (a server's client) refuses them: its catalogs are the server's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from quarry.errors import AccessDeniedError, BindError, ParseError, UnsupportedError, suggest
from quarry.sql.commands import Command, Status

_ATTACH = re.compile(r"^\s*ATTACH\s+(?:DATABASE\s+)?(IF\s+NOT\s+EXISTS\s+)?'((?:[^']|'')*)'\s+AS\s+(\w+)"
                     r"\s*(?:\((.*)\))?\s*;?\s*$", re.I | re.S)
_DETACH = re.compile(r"^\s*DETACH\s+(?:DATABASE\s+)?(IF\s+EXISTS\s+)?(\w+)\s*;?\s*$", re.I | re.S)
_LOOKS_LIKE = re.compile(r"^\s*(ATTACH|DETACH)\b", re.I)
_TOKEN = re.compile(r"\s*(?:'((?:[^']|'')*)'|([A-Za-z_][\w.\-]*)|(-?\d+)|(,))", re.S)
_HINT = "write ATTACH 'warehouse' AS lake (TYPE iceberg, URI 'sqlite:///lake.db')"


def is_attach_statement(text: str) -> bool:
    """Whether ``text`` is an ATTACH or DETACH statement."""
    return _LOOKS_LIKE.match(text) is not None


def _options(body: str) -> dict[str, str]:
    """``KEY value, ...`` pairs (keys words or quoted strings); values are never quoted in an error."""
    pos, items = 0, [[]]
    body = body.rstrip()
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            raise ParseError(f"ATTACH: cannot read the options after character {pos + 1}", hint=_HINT)
        pos = m.end()
        string, word, number, comma = m.groups()
        if comma:
            items.append([])
        else:
            items[-1].append(("str", string.replace("''", "'")) if string is not None else
                             ("word", word) if word is not None else ("num", number))
    options: dict[str, str] = {}
    for item in items:
        if not item:
            continue
        if len(item) != 2 or item[0][0] == "num":
            raise ParseError("ATTACH options are `KEY value` pairs separated by commas", hint=_HINT)
        (key_kind, key), (_, value) = item
        options[key.lower() if key_kind == "word" else key] = value
    return options


@dataclass(frozen=True)
class AttachIceberg(Command):
    """ATTACH ... (TYPE iceberg): register a pyiceberg catalog in the session."""

    name: str
    properties: dict = field(default_factory=dict)
    if_not_exists: bool = False

    def run(self, session) -> Status:
        if getattr(session, "sandbox", None) is not None:
            raise AccessDeniedError("ATTACH is not allowed in this session",
                                    hint="a server's clients use the catalogs the server was started with")
        if self.name in session.iceberg_catalogs:
            if self.if_not_exists:
                return Status("ATTACH")
            raise BindError(f"catalog `{self.name}` is already attached", hint=f"DETACH {self.name} first")
        session.register_iceberg_catalog(self.name, **self.properties)
        return Status("ATTACH")

    def __repr__(self) -> str:                 # the properties may hold credentials
        return f"AttachIceberg(name={self.name!r}, properties=<redacted>)"


@dataclass(frozen=True)
class Detach(Command):
    """DETACH name: forget an attached Iceberg catalog."""

    name: str
    if_exists: bool = False

    def run(self, session) -> Status:
        if getattr(session, "sandbox", None) is not None:
            raise AccessDeniedError("DETACH is not allowed in this session",
                                    hint="a server's clients use the catalogs the server was started with")
        if self.name not in session.iceberg_catalogs:
            if self.if_exists:
                return Status("DETACH")
            raise BindError(f"catalog `{self.name}` is not attached",
                            hint=suggest(self.name, list(session.iceberg_catalogs)) or None)
        del session.iceberg_catalogs[self.name]
        return Status("DETACH")


def bind_attach_statement(text: str) -> Command:
    """The command of an ATTACH/DETACH statement (see :func:`is_attach_statement`)."""
    m = _DETACH.match(text)
    if m is not None:
        return Detach(m.group(2), bool(m.group(1)))
    m = _ATTACH.match(text)
    if m is None:
        raise ParseError("syntax error in ATTACH", hint=_HINT)
    if_not_exists, warehouse, name, body = m.groups()
    options = _options(body or "")
    kind = options.pop("type", None)
    if kind is None or kind.lower() != "iceberg":
        raise UnsupportedError(f"ATTACH {'(TYPE ' + kind + ')' if kind else 'of a database file'}",
                               hint="quarry attaches Iceberg catalogs: " + _HINT)
    properties = {}
    if warehouse.replace("''", "'"):
        properties["warehouse"] = warehouse.replace("''", "'")
    for key, value in options.items():
        target = {"catalog_type": "type", "endpoint": "uri"}.get(key, key)
        properties[target] = value
    return AttachIceberg(name, properties, bool(if_not_exists))


__all__ = ["is_attach_statement", "bind_attach_statement", "AttachIceberg", "Detach"]
