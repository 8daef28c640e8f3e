"""What a caller's role lets it do: the check between binding a statement and running it.

A server session carries a :class:`RoleGuard` as its ``command_guard``;
:func:`quarry.sql.statements.run_command` asks it about every bound statement before
running it. The roles (see :mod:`quarry.server.auth`):

=========  ==========================================================================================
role       may
=========  ==========================================================================================
``read``   run queries: SELECT and the other queries, EXPLAIN, SHOW TABLES, DESCRIBE, metadata;
           SET / RESET ``default_null_order`` and ``default_order`` (other settings need ``admin``)
``write``  also create tables and views (CREATE, CREATE ... AS, CREATE TABLE ... LOCATION, ingest),
           and change or drop the tables it created (INSERT, DELETE, UPDATE, CREATE OR REPLACE, DROP,
           ingest append or replace); COPY files into the server's writable directory
``admin``  also change, replace or drop every other table: those the server serves from its data
           directories and those other users created (what every other session sees)
=========  ==========================================================================================

The catalog is shared by all sessions, so a table one user creates is visible to all of them;
:class:`TableOwners` remembers who created which table, so that only its creator (or an admin)
may change it. Refusals are :class:`~quarry.errors.AccessDeniedError` naming the role needed,
which the Flight SQL server reports as PERMISSION_DENIED.

    >>> owners = TableOwners()
    >>> RoleGuard("ana", "read", owners, catalog=None).needed(Query(None))
    'read'
"""

from __future__ import annotations

import threading

from quarry.errors import AccessDeniedError
from quarry.server.auth import ROLES
from quarry.sql.commands import (
    Copy, CreateExternalTable, CreateTable, CreateTableAs, CreateView, Delete, Describe, Drop, Explain, Insert,
    Query, ResetOption, SetOption, ShowTables, Unchanged, Update,
)
from quarry.sql.settings import HARMLESS

_READS = (Query, Explain, ShowTables, Describe)
_CREATES = (CreateView, CreateTable, CreateTableAs, CreateExternalTable)


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` includes ``needed`` (admin > write > read).

    >>> role_allows("write", "read"), role_allows("write", "admin")
    (True, False)
    """
    return ROLES.index(role) >= ROLES.index(needed)


class TableOwners:
    """Which user created which table (by lower-cased name). Tables nobody here created (the served
    ones, those registered in-process) have no owner: only an admin may change them."""

    def __init__(self):
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    def owner(self, name: str) -> str | None:
        with self._lock:
            return self._owners.get(name.lower())

    def created(self, name: str, user: str) -> None:
        with self._lock:
            self._owners[name.lower()] = user

    def dropped(self, name: str) -> None:
        with self._lock:
            self._owners.pop(name.lower(), None)


class RoleGuard:
    """The ``command_guard`` of one caller's session: ``check`` refuses what ``role`` does not allow,
    ``done`` records the tables a statement created or dropped."""

    def __init__(self, user: str, role: str, owners: TableOwners, catalog):
        self.user = user
        self.role = role
        self.owners = owners
        self.catalog = catalog

    # -- what a statement needs ------------------------------------------------------------------

    def needed(self, command) -> str:
        """The role ``command`` needs: read for queries, write for statements that change the caller's
        own tables or write files, admin for changing any other table (and for any statement this
        guard does not know, so nothing new passes unchecked)."""
        if isinstance(command, _READS):
            return "read"
        if isinstance(command, (SetOption, ResetOption)):
            # how this session orders its own results is the caller's business; its resources are not
            return "read" if command.key in HARMLESS else "admin"
        if isinstance(command, Unchanged):
            return "write"
        if isinstance(command, _CREATES):
            return self.table_change(command.name) if command.replace else "write"
        if isinstance(command, (Insert, Delete, Update)):
            return self.table_change(command.table)
        if isinstance(command, Drop):
            return max((self.table_change(n) for n in command.names), key=ROLES.index, default="write")
        if isinstance(command, Copy):
            return "write"
        return "admin"

    def table_change(self, name: str) -> str:
        """The role changing the existing table ``name`` needs (a name no table has: write)."""
        if self.catalog is None or not self.catalog.exists(name) or self.owners.owner(name) == self.user:
            return "write"
        return "admin"

    # -- the guard -------------------------------------------------------------------------------

    def check(self, command) -> None:
        self.require(self.needed(command), _describe(command))

    def require(self, needed: str, action: str) -> None:
        """Refuse ``action`` unless the caller's role includes ``needed``."""
        if not role_allows(self.role, needed):
            why = " (a table this user did not create)" if needed == "admin" else ""
            raise AccessDeniedError(f"{action} is not allowed for role `{self.role}`: it needs the `{needed}` "
                                    f"role{why}", hint=f"ask the server's administrator to give `{self.user}` the "
                                                       f"`{needed}` role in the users file")

    def done(self, command) -> None:
        if isinstance(command, _CREATES):
            self.owners.created(command.name, self.user)
        elif isinstance(command, Drop):
            for name in command.names:
                self.owners.dropped(name)


def _describe(command) -> str:
    """How a refusal names the statement: ``DROP TABLE `nation```."""
    if isinstance(command, Insert):
        return f"INSERT into `{command.table}`"
    if isinstance(command, Delete):
        return f"DELETE from `{command.table}`"
    if isinstance(command, Update):
        return f"UPDATE of `{command.table}`"
    if isinstance(command, Drop):
        return f"DROP {command.kind} " + ", ".join(f"`{n}`" for n in command.names)
    if isinstance(command, _CREATES):
        kind = "VIEW" if isinstance(command, CreateView) else "TABLE"
        return f"CREATE {'OR REPLACE ' if command.replace else ''}{kind} `{command.name}`"
    if isinstance(command, Copy):
        return "COPY"
    if isinstance(command, Unchanged):
        return command.verb
    if isinstance(command, (SetOption, ResetOption)):
        return f"{'SET' if isinstance(command, SetOption) else 'RESET'} `{command.key}`"
    return type(command).__name__


__all__ = ["RoleGuard", "TableOwners", "role_allows"]
