"""Who may talk to the server: users and passwords, Basic-auth handshakes, expiring Bearer tokens.

The flow Flight SQL clients (ADBC, JDBC) use:

1. the client calls ``Handshake`` with ``authorization: Basic base64(user:password)``;
2. the server checks the password and answers with ``authorization: Bearer <token>``
   in the response headers;
3. every later call carries ``authorization: Bearer <token>``; a token expires
   ``token_ttl`` seconds after it was issued, and the client must handshake again;
4. a call made with a token past half its lifetime is answered with a fresh one in the
   response headers (``authorization: Bearer <new token>``), which the ADBC driver adopts
   for its next calls (it never repeats the handshake by itself); so a connection that
   makes a call at least every ``token_ttl / 2`` seconds stays logged in, and one idle
   longer than that may find its token expired (the error says to reconnect).

With no users configured the server is open (it then refuses to listen anywhere but
loopback; see :func:`quarry.server.serve`). Users come from a file of
``user:password[:role]`` lines (``#`` starts a comment; a password may be stored as a
``pbkdf2_sha256$...`` hash made by :func:`hash_password`) or from the
``QUARRY_SERVER_USER`` / ``QUARRY_SERVER_PASSWORD`` (and ``QUARRY_SERVER_ROLE``)
environment variables.

Each user has a role (:data:`ROLES`): ``read`` (queries), ``write`` (also DDL/DML and
files in the writable directory), ``admin`` (also the tables the server serves and those
of other users). A user without a role is ``read``, so a users file written before roles
existed grants no more than queries. The role is the last ``:`` field only when it is one
of the three names (a plain password may contain ``:``; one ending in ``:read``, ``:write``
or ``:admin`` needs an explicit role after it).

Logging in costs the same for a user who does not exist, a wrong password and a right one:
every check runs PBKDF2 for as many iterations as the costliest hash in the file (see
:meth:`Users.check`), so the answer's timing does not tell which user names exist.

    >>> users = Users({"ana": hash_password("s3cret", iterations=1000)}, roles={"ana": "write"})
    >>> users.check("ana", "s3cret"), users.check("ana", "wrong"), users.role_of("ana")
    (True, False, 'write')
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass

import pyarrow.flight as flight

ENV_USER = "QUARRY_SERVER_USER"
ENV_PASSWORD = "QUARRY_SERVER_PASSWORD"
ENV_ROLE = "QUARRY_SERVER_ROLE"
ROLES = ("read", "write", "admin")         # each allows what the ones before it do
DEFAULT_ROLE = "read"
_HASH_PREFIX = "pbkdf2_sha256$"
ANONYMOUS = "anonymous"


def hash_password(password: str, *, iterations: int = 200_000, salt: bytes | None = None) -> str:
    """A salted PBKDF2-SHA256 hash to store in a users file instead of the password."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{_HASH_PREFIX}{iterations}${salt.hex()}${digest.hex()}"


def _pbkdf2(password: str, salt: bytes, iterations: int) -> bytes:
    """The one place login checks spend time (tests count its iterations)."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)


def hash_cost(stored: str) -> int:
    """The PBKDF2 iterations checking a password against ``stored`` takes (0 for a plain password);
    a ValueError when ``stored`` looks like a hash but is malformed."""
    if not stored.startswith(_HASH_PREFIX):
        return 0
    try:
        iterations, salt, digest = stored[len(_HASH_PREFIX):].split("$")
        bytes.fromhex(salt), bytes.fromhex(digest)
        if int(iterations) < 1:
            raise ValueError
        return int(iterations)
    except ValueError:
        raise ValueError("malformed pbkdf2_sha256 hash (make one with --hash-password)") from None


def _verify(stored: str, password: str) -> bool:
    if stored.startswith(_HASH_PREFIX):
        try:
            iterations, salt, digest = stored[len(_HASH_PREFIX):].split("$")
            actual = _pbkdf2(password, bytes.fromhex(salt), int(iterations))
            return hmac.compare_digest(actual, bytes.fromhex(digest))
        except ValueError:
            return False
    return hmac.compare_digest(stored.encode(), password.encode())


def _split_role(rest: str) -> tuple[str, str | None]:
    """``password[:role]`` -> (password, role or None); the role only when it is one of :data:`ROLES`."""
    password, sep, role = rest.rpartition(":")
    if sep and password and role.strip().lower() in ROLES:
        return password, role.strip().lower()
    return rest, None


class Users:
    """The configured users: name -> password or password hash, and name -> role (default ``read``)."""

    def __init__(self, passwords: dict[str, str] | None = None, roles: dict[str, str] | None = None):
        self._passwords = dict(passwords or {})
        self._roles = {user: role for user, role in (roles or {}).items() if role != DEFAULT_ROLE}
        for user, role in self._roles.items():
            if role not in ROLES:
                raise ValueError(f"user `{user}`: unknown role `{role}` (roles: {', '.join(ROLES)})")
        # every check spends what the costliest hash costs: an unknown user, a wrong password and a
        # right one take the same time (hash_cost raises now on a malformed hash)
        self._cost = max([hash_cost(p) for p in self._passwords.values()], default=0)
        self._dummy = hash_password(secrets.token_hex(8), iterations=self._cost) if self._cost else None

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, environ=os.environ) -> "Users":
        """Users from ``path`` (``user:password[:role]`` lines) and from the environment variables."""
        passwords: dict[str, str] = {}
        roles: dict[str, str] = {}
        if path is not None:
            with open(path, encoding="utf-8") as fh:
                for number, raw in enumerate(fh, 1):
                    line = raw.strip()
                    if not line or line.startswith("#"):
                        continue
                    user, sep, rest = line.partition(":")
                    password, role = _split_role(rest)
                    if not sep or not user.strip() or not password:
                        raise ValueError(f"{path}:{number}: expected `user:password` or `user:password:role`")
                    try:
                        hash_cost(password)
                    except ValueError as exc:
                        raise ValueError(f"{path}:{number}: {exc}") from None
                    passwords[user.strip()] = password
                    roles[user.strip()] = role or DEFAULT_ROLE
        if environ.get(ENV_USER) and environ.get(ENV_PASSWORD):
            passwords[environ[ENV_USER]] = environ[ENV_PASSWORD]
            role = (environ.get(ENV_ROLE) or DEFAULT_ROLE).strip().lower()
            if role not in ROLES:
                raise ValueError(f"{ENV_ROLE}: unknown role `{role}` (roles: {', '.join(ROLES)})")
            roles[environ[ENV_USER]] = role
        return cls(passwords, roles)

    def role_of(self, user: str) -> str:
        """The role of ``user`` (``read`` when none was given)."""
        return self._roles.get(user, DEFAULT_ROLE)

    def __bool__(self) -> bool:
        return bool(self._passwords)

    def __len__(self) -> int:
        return len(self._passwords)

    def check(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s; always after the same PBKDF2 work (see the module docstring)."""
        stored = self._passwords.get(user)
        if stored is None:
            _verify(self._dummy or "", password)          # an unknown user costs what a known one does
            return False
        spent = hash_cost(stored)
        if spent < self._cost:                            # a cheaper hash (or a plain password): pad it
            _pbkdf2(password, b"quarry-login-pad", self._cost - spent)
        return _verify(stored, password)


@dataclass(frozen=True)
class Principal:
    """The caller of one RPC: the user name and the token it presented (None when auth is off)."""

    user: str
    token: str | None = None


class TokenStore:
    """Bearer tokens issued at handshake, each valid for ``ttl`` seconds."""

    def __init__(self, ttl: float):
        self.ttl = float(ttl)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._successors: dict[str, str] = {}            # renewed token -> the token issued in its place
        self._lock = threading.Lock()

    def issue(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            # drop expired tokens so the table does not grow with every login
            self._tokens = {t: (u, exp) for t, (u, exp) in self._tokens.items() if exp > now}
            self._successors = {t: s for t, s in self._successors.items() if t in self._tokens}
            self._tokens[token] = (user, now + self.ttl)
        return token

    def renewal(self, token: str) -> str | None:
        """A fresh token to send back for a call made with ``token``, once it is past half its lifetime.

        Every call made with the same old token gets the same successor (so concurrent calls
        do not mint one each); the old token stays valid until its own expiry, for calls
        already under way with it.
        """
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None or entry[1] - time.monotonic() > self.ttl / 2:
                return None
            successor = self._successors.get(token)
            if successor is not None and successor in self._tokens:
                return successor
        successor = self.issue(entry[0])
        with self._lock:
            self._successors[token] = successor
        return successor

    def user_of(self, token: str) -> str:
        """The user ``token`` belongs to; FlightUnauthenticatedError when unknown or expired."""
        with self._lock:
            entry = self._tokens.get(token)
            if entry is not None and entry[1] <= time.monotonic():
                # kept (until the next login sweeps it) so every later call says "expired", not "invalid"
                raise flight.FlightUnauthenticatedError(
                    f"the login token has expired (tokens last {self.ttl:g} s and are renewed by calls made "
                    f"after {self.ttl / 2:g} s); connect again to log in, or ask for a longer --token-ttl")
        if entry is None:
            raise flight.FlightUnauthenticatedError("invalid token; authenticate again")
        return entry[0]


def _header(headers: dict, name: str) -> str | None:
    values = headers.get(name) or headers.get(name.title()) or []
    if not values:
        return None
    value = values[0]
    return value.decode() if isinstance(value, bytes) else value


class AuthMiddleware(flight.ServerMiddleware):
    """Per-call state: the caller, and (after a handshake) the token to send back."""

    def __init__(self, principal: Principal, issued_token: str | None = None):
        self.principal = principal
        self._issued = issued_token

    def sending_headers(self):
        if self._issued is not None:
            return {"authorization": f"Bearer {self._issued}"}
        return {}


class AuthMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Checks every call: Basic credentials on Handshake, a Bearer token on everything else."""

    def __init__(self, users: Users, tokens: TokenStore):
        self.users = users
        self.tokens = tokens

    def start_call(self, info, headers):
        header = _header(headers, "authorization")
        scheme, _, credentials = (header or "").partition(" ")
        scheme = scheme.lower()
        if info.method == flight.FlightMethod.HANDSHAKE and scheme == "basic":
            user = self._basic_user(credentials)
            return AuthMiddleware(Principal(user), self.tokens.issue(user))
        if scheme == "bearer" and self.users:
            token = credentials.strip()
            user = self.tokens.user_of(token)
            return AuthMiddleware(Principal(user, token), self.tokens.renewal(token))
        if not self.users:
            return AuthMiddleware(Principal(ANONYMOUS))
        if info.method == flight.FlightMethod.HANDSHAKE:
            raise flight.FlightUnauthenticatedError("send a user name and password (HTTP Basic) to authenticate")
        raise flight.FlightUnauthenticatedError("authentication required: connect with a user name and password")

    def _basic_user(self, credentials: str) -> str:
        encoded = credentials.strip()
        encoded += "=" * (-len(encoded) % 4)        # Go clients send unpadded base64
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise flight.FlightUnauthenticatedError("malformed Basic credentials") from None
        if not self.users:
            return user or ANONYMOUS          # an open server accepts whatever a client sends
        if not sep or not self.users.check(user, password):
            raise flight.FlightUnauthenticatedError("invalid user name or password")
        return user


class NoOpAuthHandler(flight.ServerAuthHandler):
    """Lets Handshake succeed; the real checks live in :class:`AuthMiddlewareFactory` (headers)."""

    def authenticate(self, outgoing, incoming):
        pass

    def is_valid(self, token):
        return ""


def principal_of(context) -> Principal:
    """The caller of the current RPC."""
    middleware = context.get_middleware("auth")
    return middleware.principal if middleware is not None else Principal(ANONYMOUS)


__all__ = ["Users", "TokenStore", "Principal", "AuthMiddlewareFactory", "NoOpAuthHandler", "hash_password",
           "principal_of", "hash_cost", "ENV_USER", "ENV_PASSWORD", "ENV_ROLE", "ROLES", "DEFAULT_ROLE"]
