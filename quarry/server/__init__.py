"""Arrow Flight SQL: serve a quarry session to JDBC/ADBC clients over the network.

    >>> import quarry, quarry.server
    >>> con = quarry.connect()
    >>> con.register("lineitem", "data/lineitem.parquet")                     # doctest: +SKIP
    >>> server = quarry.server.serve(con, port=31337, block=False)            # doctest: +SKIP
    >>> server.shutdown()                                                      # doctest: +SKIP

From the shell: ``quarry serve --data DIR`` (or ``python -m quarry.server --data DIR``).
Each protocol is a folder of its own over the same session; what they share stays here:

- ``auth``: Basic-auth handshake, Bearer tokens with expiry, the users file and its roles;
- ``access``: what each role may do (checked on every bound statement);
- ``cli``: ``quarry serve`` / ``python -m quarry.server``;
- ``flight_sql/``: Arrow Flight SQL. In the order a request meets them: ``protocol`` (the
  Flight SQL protobuf messages, declared from the specification), ``server`` (the
  FlightServerBase subclass, one method per Flight RPC), ``params`` (binding ``?``
  parameters as typed values of the plan), ``streaming`` (running a
  physical plan batch by batch for DoGet, with cancellation), ``metadata`` (GetSqlInfo,
  GetTables, ... in the specification's result schemas), ``session_options`` (the current
  catalog and schema for Get/SetSessionOptions), ``state`` (prepared statements
  and pending results, which expire), ``errors`` (quarry errors to Flight status codes).

See docs/server.md for the guide.
"""

from __future__ import annotations

import ipaddress
import os

import pyarrow as pa
import pyarrow.flight as flight

from quarry.errors import QuarryError
from quarry.server.auth import ROLES, Users, hash_password

DEFAULT_PORT = 31337


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``).

    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("::1")
    (True, False, True)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(session, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, users: Users | None = None,
          tls_cert: str | os.PathLike | None = None, tls_key: str | os.PathLike | None = None,
          token_ttl: float = 3600.0, data_dirs: list[str] | None = None, statement_ttl: float = 1800.0,
          result_ttl: float = 300.0, writable_dir: str | os.PathLike | None = None,
          anonymous_role: str = "write", block: bool = True, query_memory: int | str | None = None,
          max_queries: int | None = None, max_queued: int = 64, queue_timeout: float = 120.0):
    """Serve ``session``'s tables over Arrow Flight SQL; return the server (after it stops, if ``block``).

    ``users`` (see :class:`quarry.server.auth.Users`) turns on password authentication;
    without users the server only accepts a loopback ``host``. ``tls_cert``/``tls_key``
    (PEM files) turn on TLS. Remote clients may read files (``read_parquet``, ``FROM 'file'``,
    ``CREATE TABLE ... LOCATION``) only inside ``data_dirs`` and ``writable_dir``, and write
    files (``COPY``) only inside ``writable_dir`` (None: writing files is off); it may not
    overlap a data directory. Each user's role comes from ``users``; without users every
    client has ``anonymous_role`` (``read``, ``write`` or ``admin``). Prepared
    statements expire ``statement_ttl`` seconds after their last use, results that are
    never fetched ``result_ttl`` seconds after they were planned, login tokens
    ``token_ttl`` seconds after they were issued (a call past half that time gets a
    fresh token in its response headers, so connections in use stay logged in). With ``block=False`` the server runs in the
    background until ``server.shutdown()``.

    Queries run on ``session``'s executor (its worker processes, for a ``quarry.connect()``
    session). Each may hold ``query_memory`` bytes (``"2GB"``; default RAM / 8) before its
    tasks are killed; at most ``max_queries`` (default: cores) run at once, up to
    ``max_queued`` more wait in line, each for at most ``queue_timeout`` seconds.
    """
    from quarry.server.flight_sql.limits import QueryLimits
    from quarry.server.flight_sql.server import QuarryFlightSqlServer
    given = {"query_memory": query_memory, "max_queries": max_queries}
    limits = QueryLimits(max_queued=max_queued, queue_timeout=queue_timeout,
                         **{k: v for k, v in given.items() if v is not None})
    users = users if users is not None else Users()
    if not users and not is_loopback(host):
        raise QuarryError(f"refusing to listen on `{host}` without authentication",
                          hint="configure users (--users FILE or QUARRY_SERVER_USER/QUARRY_SERVER_PASSWORD), "
                               "or listen on 127.0.0.1")
    if anonymous_role not in ROLES:
        raise QuarryError(f"unknown role `{anonymous_role}`", hint="roles: " + ", ".join(ROLES))
    writable_dir = check_writable_dir(writable_dir, data_dirs or [])
    if (tls_cert is None) != (tls_key is None):
        raise QuarryError("TLS needs both a certificate and a key", hint="pass --tls-cert and --tls-key")
    certificates = None
    if tls_cert is not None:
        try:
            with open(tls_cert, "rb") as cert, open(tls_key, "rb") as key:
                certificates = [flight.CertKeyPair(cert.read(), key.read())]
        except OSError as exc:
            raise QuarryError(f"cannot read the TLS certificate or key: {exc}") from None
    location = (flight.Location.for_grpc_tls(host, port) if certificates
                else flight.Location.for_grpc_tcp(host, port))
    try:
        server = QuarryFlightSqlServer(session, location, users=users, token_ttl=token_ttl,
                                       tls_certificates=certificates, allowed_paths=data_dirs or [],
                                       statement_ttl=statement_ttl, result_ttl=result_ttl,
                                       writable_dir=writable_dir, anonymous_role=anonymous_role, limits=limits)
    except (OSError, flight.FlightError, pa.ArrowException) as exc:     # address in use, bad certificate
        raise QuarryError(f"cannot listen on {host}:{port}: {exc}",
                          hint="pick another --port, or check the TLS files") from None
    if block:
        server.serve()
    return server


def check_writable_dir(writable_dir, data_dirs) -> str | None:
    """``writable_dir`` as a real path, after checking it is an existing directory apart from every data
    directory (so a client's file can never land among the served ones); None stays None."""
    if writable_dir is None:
        return None
    real = os.path.realpath(os.fspath(writable_dir))
    if not os.path.isdir(real):
        raise QuarryError(f"the writable directory `{writable_dir}` is not a directory",
                          hint="create it first, or pass another --writable DIR")
    for data in data_dirs:
        served = os.path.realpath(os.fspath(data))
        if real == served or real.startswith(served.rstrip(os.sep) + os.sep) \
                or served.startswith(real.rstrip(os.sep) + os.sep):
            raise QuarryError(f"the writable directory `{writable_dir}` overlaps the data directory `{data}`",
                              hint="served data is read-only: give --writable a directory outside every --data")
    return real


__all__ = ["serve", "is_loopback", "check_writable_dir", "ROLES", "Users", "hash_password", "DEFAULT_PORT"]
