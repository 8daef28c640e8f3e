"""A Spark session's artifacts: what ``spark.addArtifacts(...)`` uploads (AddArtifacts, ArtifactStatus).

Each session gets its own directory under the server's artifact root (a fresh temporary
directory, removed when the server stops; a session's own when the session is released).
An artifact's name is ``<kind>/<relative path>``; quarry keeps:

- ``pyfiles/NAME.py``, ``pyfiles/NAME.zip``, ``pyfiles/NAME.egg``
  (``spark.addArtifacts(path, pyfile=True)``): importable by the session's Python UDFs,
  on the workers too (:mod:`quarry.spark.udfs` puts the session's directory, and each
  zip or egg, first on ``sys.path`` where a function loads);
- ``cache/HASH``: blobs the client caches (ArtifactStatus answers whether one exists).

Anything else is refused (``Not supported: ...``): ``jars/`` (quarry runs no JVM code),
``archives/`` and ``files/`` (not unpacked or shown to UDFs), ``forward_to_fs/`` (a write
to a path of the server's choosing). A name must be a plain relative path: no ``..``, no
absolute path, no backslash or NUL, no hidden parts; the file is written under the
session's directory and nowhere else (the resolved path is checked, and an existing
symbolic link is never followed); a Python file is never replaced by other contents. Each
chunk's CRC-32 is checked; an artifact with a bad
chunk is not kept and its summary says ``is_crc_successful=False``. A session may hold at
most :data:`MAX_BYTES` of artifacts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import zlib

from quarry.spark.errors import SparkError, not_supported

__all__ = ["ArtifactStore", "MAX_BYTES"]

MAX_BYTES = 1 << 30                  # per session
_KINDS = {"pyfiles": (".py", ".zip", ".egg"), "cache": None}
_REFUSED = {"jars": "JARs (quarry runs no JVM code)", "archives": "archives (addArtifacts(archive=True))",
            "files": "files (addArtifacts(file=True))", "forward_to_fs": "copying files to the server's file system"}


class ArtifactStore:
    """The artifact directories of one server's sessions (see the module docstring)."""

    def __init__(self, root: str | None = None):
        self._root = root
        self._own_root = root is None
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}

    @property
    def root(self) -> str:
        with self._lock:
            if self._root is None:
                self._root = tempfile.mkdtemp(prefix="quarry-spark-artifacts-")
            return self._root

    def session_dir(self, session_id: str, create: bool = True) -> str:
        """The directory of ``session_id``: named by a hash of the id, so no id names another path."""
        path = os.path.join(self.root, hashlib.sha256(session_id.encode()).hexdigest()[:32])
        if create:
            os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    # -- names -----------------------------------------------------------------------------------

    @staticmethod
    def check_name(name: str) -> tuple[str, str]:
        """``(kind, relative path)`` of an artifact name, or the refusal."""
        if not name or "\x00" in name or "\\" in name or name.startswith("/") or os.path.isabs(name):
            raise SparkError(f"invalid artifact name `{name}`: it must be a relative path such as pyfiles/x.py",
                             error_class="INVALID_ARTIFACT_PATH", exception="IllegalArgumentException")
        kind, _, rest = name.partition("/")
        if kind in _REFUSED:
            raise not_supported(f"the artifact `{name}`: {_REFUSED[kind]}")
        if kind not in _KINDS:
            raise not_supported(f"the artifact `{name}` (quarry keeps pyfiles/ and cache/ artifacts)")
        parts = rest.split("/")
        if not rest or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise SparkError(f"invalid artifact name `{name}`: no empty, `.`, `..` or hidden parts",
                             error_class="INVALID_ARTIFACT_PATH", exception="IllegalArgumentException")
        suffixes = _KINDS[kind]
        if suffixes is not None and (len(parts) != 1 or not rest.endswith(suffixes)):
            raise not_supported(f"the artifact `{name}`: pyfiles are .py, .zip or .egg files")
        return kind, rest

    def _target(self, session_id: str, name: str) -> str:
        kind, rest = self.check_name(name)
        base = os.path.realpath(self.session_dir(session_id))
        target = os.path.join(base, kind, *rest.split("/"))
        parent = os.path.realpath(os.path.dirname(target))
        if parent != base and not parent.startswith(base + os.sep):
            raise SparkError(f"invalid artifact name `{name}`", error_class="INVALID_ARTIFACT_PATH",
                             exception="IllegalArgumentException")
        return target

    # -- writing -----------------------------------------------------------------------------------

    def add(self, session_id: str, requests) -> list[tuple[str, bool]]:
        """Store the artifacts of an AddArtifacts request stream; ``[(name, crc ok), ...]``."""
        summaries: list[tuple[str, bool]] = []
        pending = None            # (name, target, chunks left, crc ok, open temp file, temp path)
        try:
            for request in requests:
                kind = request.WhichOneof("payload")
                if kind == "batch":
                    if pending is not None:
                        raise SparkError("a batch arrived before the chunked artifact ended",
                                         error_class="INVALID_ARTIFACT_STREAM")
                    for artifact in request.batch.artifacts:
                        summaries.append((artifact.name, self._write_whole(session_id, artifact.name,
                                                                           artifact.data)))
                elif kind == "begin_chunk":
                    if pending is not None:
                        raise SparkError("a chunked artifact began before the last one ended",
                                         error_class="INVALID_ARTIFACT_STREAM")
                    begin = request.begin_chunk
                    target = self._target(session_id, begin.name)
                    self._reserve(session_id, begin.total_bytes)
                    handle, temp = _temp_beside(target)
                    pending = [begin.name, target, begin.num_chunks, True, handle, temp]
                    self._chunk(pending, begin.initial_chunk)
                elif kind == "chunk":
                    if pending is None:
                        raise SparkError("an artifact chunk arrived without its beginning",
                                         error_class="INVALID_ARTIFACT_STREAM")
                    self._chunk(pending, request.chunk)
                else:
                    raise SparkError("an AddArtifacts request without a payload", error_class="INVALID_ARTIFACT_STREAM")
                if pending is not None and pending[2] <= 0:
                    summaries.append((pending[0], self._finish(pending)))
                    pending = None
            if pending is not None:
                raise SparkError(f"the artifact `{pending[0]}` ended before its last chunk",
                                 error_class="INVALID_ARTIFACT_STREAM")
        finally:
            if pending is not None:
                pending[4].close()
                _remove(pending[5])
        return summaries

    def _reserve(self, session_id: str, size: int) -> None:
        with self._lock:
            used = self._sizes.get(session_id, 0)
            if used + size > MAX_BYTES:
                raise SparkError(f"the session's artifacts would exceed {MAX_BYTES >> 20} MiB",
                                 error_class="ARTIFACT_TOO_LARGE", exception="SparkRuntimeException")
            self._sizes[session_id] = used + size

    def _write_whole(self, session_id: str, name: str, chunk) -> bool:
        target = self._target(session_id, name)
        if zlib.crc32(chunk.data) != chunk.crc:
            return False
        self._reserve(session_id, len(chunk.data))
        handle, temp = _temp_beside(target)
        try:
            with handle:
                handle.write(chunk.data)
            _publish(temp, target)
        except BaseException:
            _remove(temp)
            raise
        return True

    @staticmethod
    def _chunk(pending: list, chunk) -> None:
        pending[2] -= 1
        if zlib.crc32(chunk.data) != chunk.crc:
            pending[3] = False
        if pending[3]:
            pending[4].write(chunk.data)

    @staticmethod
    def _finish(pending: list) -> bool:
        name, target, _, ok, handle, temp = pending
        handle.close()
        if ok:
            _publish(temp, target)
        else:
            _remove(temp)
        return ok

    # -- reading ------------------------------------------------------------------------------------

    def exists(self, session_id: str, name: str) -> bool:
        try:
            target = self._target(session_id, name)
        except SparkError:
            return False
        return os.path.isfile(target) and not os.path.islink(target)

    def python_paths(self, session_id: str) -> list[str]:
        """What the session's UDFs import from: its pyfiles directory, then each zip or egg in it."""
        folder = os.path.join(self.session_dir(session_id, create=False), "pyfiles")
        if not os.path.isdir(folder):
            return []
        archives = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith((".zip", ".egg")))
        return [folder, *archives]

    def release(self, session_id: str) -> None:
        """Forget a session's artifacts (ReleaseSession)."""
        with self._lock:
            self._sizes.pop(session_id, None)
            root = self._root
        if root is not None:
            shutil.rmtree(os.path.join(root, hashlib.sha256(session_id.encode()).hexdigest()[:32]),
                          ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            root, self._root = self._root, None
            self._sizes.clear()
        if root is not None and self._own_root:
            shutil.rmtree(root, ignore_errors=True)


def _temp_beside(target: str):
    folder = os.path.dirname(target)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".upload-", dir=folder)
    return os.fdopen(fd, "wb"), temp


def _publish(temp: str, target: str) -> None:
    """Move the finished upload into place; a symbolic link at the target is replaced, never followed.
    A Python file is never replaced by other contents: workers may have imported the first (as Spark,
    which refuses it too)."""
    if os.path.islink(target):
        os.unlink(target)
    elif os.path.isfile(target) and os.path.basename(os.path.dirname(target)) == "pyfiles":
        with open(temp, "rb") as new, open(target, "rb") as old:
            same = new.read() == old.read()
        _remove(temp)
        if not same:
            raise SparkError(f"the artifact `pyfiles/{os.path.basename(target)}` already exists with other "
                             "contents", error_class="ARTIFACT_ALREADY_EXISTS", exception="SparkRuntimeException")
        return
    os.replace(temp, target)
    import importlib
    importlib.invalidate_caches()


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
