"""Which files a restricted session may read and write: the one owner of every path check.

A server gives each remote client's session a :class:`FileSandbox`; every statement or
API call that names a file (``read_parquet``, ``read_csv``, ``FROM 'file'``, ``CREATE
TABLE ... LOCATION``, ``COPY ... TO``, ``DataFrame.write_*``) goes through
:meth:`quarry.Session.check_path_allowed` or :meth:`quarry.Session.check_write_allowed`,
which ask the sandbox. A session without one (``quarry.connect()``) may touch any file.

Reads (:meth:`FileSandbox.check_read`): the path is expanded the way the readers expand
it (a glob, a directory walked, a file) and every file it names is checked by its real
path, symlinks and ``..`` resolved, against the allowed roots. A glob's fixed prefix must
resolve inside a root and the pattern may not climb with ``..`` after its first wildcard,
so ``data/**/../../etc/passwd`` is refused before anything is listed.

Writes (:meth:`FileSandbox.check_write`): only inside the writable directory (none by
default: writing is off), the target given without wildcards or ``..``, resolved through
its existing ancestors, and never onto a file of a served table or inside a read-only root.

Remote paths (``s3://``, ``gs://``, ...; :mod:`quarry.catalog.filesystems`): a root given as a URI
is an allowed remote prefix (``s3://lake/public/``), and ``remote_writable`` prefixes may be written.
A remote path is allowed only when it lies under one of them, compared as text after the scheme is
lower-cased: an object store has no symlinks, and a path with a ``..`` or ``.`` component, or a
glob whose fixed part is outside, is refused. Every other bucket is refused with the same text.

Every refusal is an :class:`~quarry.errors.AccessDeniedError` whose text depends only
on the path as written, never on what exists on disk, so refusals reveal nothing about
files outside the roots.

    >>> box = FileSandbox(["/srv/data"])
    >>> box.allows(os.path.realpath("/srv/data/x.parquet")), box.allows(os.path.realpath("/srv/data/../etc"))
    (True, False)
    >>> box.check_read("/srv/data/*/../../etc/passwd")
    Traceback (most recent call last):
    quarry.errors.AccessDeniedError: Access error: access to `/srv/data/*/../../etc/passwd` is not allowed
    HINT: the server reads files only inside its data directories
"""

from __future__ import annotations

import os
import re
from typing import Iterable

from quarry.errors import AccessDeniedError

GLOB_CHARS = "*?["

def has_glob(path: str) -> bool:
    """Whether ``path`` is a pattern (``*``, ``?`` or ``[``), as :func:`quarry.catalog.providers.expand_paths`
    reads it."""
    return any(ch in path for ch in GLOB_CHARS)


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _components(path: str) -> list[str]:
    return re.split(r"[/\\]", path)


class FileSandbox:
    """The directories a session may read (``read_roots``) and the one it may write (``writable``).

    ``writable`` (None: writing is not allowed) is readable too. Roots are kept as real paths.
    """

    def __init__(self, read_roots: Iterable[str | os.PathLike] = (), writable: str | os.PathLike | None = None,
                 remote_writable: Iterable[str] = ()):
        from quarry.catalog.filesystems import is_remote
        roots = [os.fspath(r) for r in read_roots]
        self.read_roots = tuple(os.path.realpath(r) for r in roots if not is_remote(r))
        self.remote_writable = tuple(_remote_prefix(p) for p in remote_writable)
        # remote prefixes reads may come from (the writable ones too)
        self.remote_prefixes = tuple(_remote_prefix(r) for r in roots if is_remote(r)) + self.remote_writable
        self.writable = os.path.realpath(os.fspath(writable)) if writable is not None else None

    @property
    def roots(self) -> tuple[str, ...]:
        """Every directory reads may come from: the read roots and the writable directory."""
        return self.read_roots + ((self.writable,) if self.writable is not None else ())

    def allows(self, real: str) -> bool:
        """Whether the resolved path ``real`` lies inside one of :attr:`roots`."""
        return any(_inside(real, root) for root in self.roots)

    # -- reads ---------------------------------------------------------------------------------

    def check_read(self, paths) -> None:
        """Refuse ``paths`` (a path, a glob, or a list of them) unless every file they name is inside
        the roots (see the module docstring)."""
        from quarry.catalog.filesystems import is_remote
        for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
            path = os.fspath(path)
            if is_remote(path):
                if not self.allows_remote(path, self.remote_prefixes):
                    raise self.refused(path)
                continue
            self._check_one_read(path)

    def allows_remote(self, uri: str, prefixes: tuple[str, ...]) -> bool:
        """Whether the remote ``uri`` (a glob's fixed part) lies under one of ``prefixes``."""
        normal = _normal_uri(uri)
        if normal is None:
            return False
        return any(normal == p.rstrip("/") or normal.startswith(p) for p in prefixes)

    def _check_one_read(self, path: str) -> None:
        from quarry.catalog.providers import expand_paths
        if has_glob(path):
            parts = _components(path)
            first = next(i for i, part in enumerate(parts) if has_glob(part))
            prefix = os.sep.join(parts[:first]) or ("/" if path.startswith(("/", "\\")) else ".")
            if ".." in parts[first:] or not self.allows(os.path.realpath(prefix)):
                raise self.refused(path)
        elif not self.allows(os.path.realpath(path)):
            raise self.refused(path)
        elif not os.path.isdir(path):
            return                          # a single file inside the roots: nothing else to resolve
        # the files the readers will open: a symlink among them may still point outside
        for file in expand_paths(path):
            if not self.allows(os.path.realpath(file)):
                raise self.refused(path)

    # -- writes --------------------------------------------------------------------------------

    def check_write(self, path, in_use: Iterable[str] = ()) -> None:
        """Refuse writing ``path`` unless it lies in the writable directory, names no glob and no ``..``,
        resolves (through its existing ancestors and any symlink) inside it, and is none of the files
        ``in_use`` (those of registered tables)."""
        path = os.fspath(path)
        from quarry.catalog.filesystems import is_remote
        if is_remote(path):
            if has_glob(path) or not self.allows_remote(path, self.remote_writable):
                raise AccessDeniedError(f"writing `{path}` is not allowed",
                                        hint="the server writes to object stores only under its writable prefixes"
                                        + (": " + ", ".join(self.remote_writable) if self.remote_writable else
                                           " (none: writing there is off)"))
            if any(f.startswith(path.rstrip("/") + "/") or f == path for f in in_use):
                raise AccessDeniedError(f"writing `{path}` is not allowed: a table reads that file",
                                        hint="write to a new prefix, or drop the table first")
            return
        if self.writable is None:
            raise AccessDeniedError(f"writing `{path}` is not allowed: this server is read-only",
                                    hint="the server writes files only when started with --writable DIR")
        if has_glob(path) or ".." in _components(path):
            raise AccessDeniedError(f"writing `{path}` is not allowed: a write target names one file, without "
                                    f"wildcards ({GLOB_CHARS}) or `..`", hint=self._write_hint())
        real = os.path.realpath(path)
        if real == self.writable or not _inside(real, self.writable) or \
                any(_inside(real, root) for root in self.read_roots):
            raise AccessDeniedError(f"writing `{path}` is not allowed", hint=self._write_hint())
        if real in {os.path.realpath(f) for f in in_use}:
            raise AccessDeniedError(f"writing `{path}` is not allowed: a table reads that file",
                                    hint="write to a new file name, or drop the table first")

    def _write_hint(self) -> str:
        return f"write inside the server's writable directory, {self.writable}"

    # -- errors --------------------------------------------------------------------------------

    def refused(self, path: str) -> AccessDeniedError:
        """The refusal of reading ``path``: the same text whether or not the path exists."""
        return AccessDeniedError(f"access to `{path}` is not allowed",
                                 hint="the server reads files only inside its data directories"
                                      + (" and its writable directory" if self.writable is not None else ""))


def _remote_prefix(uri: str) -> str:
    """An allowed remote prefix in the form :func:`_normal_uri` compares: ``s3://bucket/dir/``."""
    normal = _normal_uri(os.fspath(uri))
    if normal is None or has_glob(normal):
        raise ValueError(f"`{uri}` is not a remote prefix (no wildcards, `.` or `..`)")
    return normal.rstrip("/") + "/"


def _normal_uri(uri: str) -> str | None:
    """``uri`` with its scheme lower-cased and doubled slashes folded, up to its first wildcard component;
    None when a component is ``.`` or ``..`` (anywhere, even after a wildcard)."""
    scheme, _, rest = uri.partition("://")
    parts = rest.split("/")
    if any(p in (".", "..") for p in parts) or "\\" in rest or "" in parts[:-1]:
        return None                # `a//b` is another key than `a/b` on an object store: refuse it
    kept = []
    for part in parts:
        if has_glob(part):
            break
        if part:
            kept.append(part)
    return scheme.lower() + "://" + "/".join(kept)


__all__ = ["FileSandbox", "has_glob"]
