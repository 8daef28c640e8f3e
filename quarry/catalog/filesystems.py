"""Remote paths (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``) through ``pyarrow.fs``: listing, globs,
ranged reads, cached footers, credentials.

A location with a scheme is remote; everything else stays a local path handled by the readers as
before. The pieces a reader needs:

* :func:`list_files` expands a remote file, "directory" (a key prefix, walked recursively, hidden
  ``.``/``_`` names skipped as on local disks) or glob (``*``, ``?``, ``[..]`` within one path
  component, ``**`` across components) into :class:`RemoteFile` entries with size and mtime;
* :func:`read_footers` fetches the Parquet footers of many files concurrently, each cached in this
  process and validated by the ETag (and size) its HEAD request returns, so re-registering a table
  or a second ``FROM 's3://...'`` reads no footer again; a file rewritten in place, even with the
  same size, has another ETag and is read again (and a scan of a file changed since planning is
  refused);
* :func:`open_input` opens a file for ranged reads (``pyarrow.parquet.ParquetFile`` then fetches only
  the column chunks it reads; with ``pre_buffer`` neighbouring chunks are coalesced into one request),
  counting bytes and requests into an :class:`IOCounter` for the scan's metrics.

Credentials: a :class:`Storage` is a snapshot of what a session knows — its ``s3_*`` settings and the
secrets made by ``CREATE SECRET`` (a secret with a ``SCOPE`` applies to paths under it; the longest
scope wins; an unscoped secret beats the settings). With neither, pyarrow's default AWS chain
applies (environment variables, ``~/.aws`` profiles, instance metadata). A Storage travels inside
physical plans to worker processes (and Ray workers), so they can read with no shared disk; its
``repr`` never shows a secret, and every error raised here has known secret values blanked.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import re
import threading
from dataclasses import dataclass, field, replace
from typing import Iterable

import pyarrow as pa
import pyarrow.fs as pafs

from quarry.errors import AccessDeniedError, DataError, UnsupportedError

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
S3_SCHEMES = ("s3", "s3a")
OTHER_SCHEMES = {"gs": "GCS", "gcs": "GCS", "abfs": "Azure", "abfss": "Azure", "az": "Azure",
                 "hdfs": "HDFS", "viewfs": "HDFS"}
REDACTED = "<redacted>"
FETCH_THREADS = 8          # the default of the remote_io_threads setting


def scheme_of(path) -> str | None:
    """The lower-cased scheme of a URI (``s3``), None for a local path (``file://`` counts as local).

    >>> scheme_of("s3://bucket/x.parquet"), scheme_of("data/x.parquet"), scheme_of("file:///tmp/x")
    ('s3', None, None)
    """
    if not isinstance(path, str):
        return None
    m = _SCHEME.match(path)
    if m is None or m.group(1).lower() == "file":
        return None
    return m.group(1).lower()


def is_remote(location) -> bool:
    """Whether ``location`` (a path, or a list of paths) names remote files."""
    if isinstance(location, (list, tuple)):
        return bool(location) and any(is_remote(p) for p in location)
    return scheme_of(location) is not None


# fsspec filesystems that live inside one process: worker processes (and Ray workers) cannot see them
PROCESS_LOCAL_SCHEMES = frozenset({"memory"})


def is_process_local(location) -> bool:
    """Whether ``location`` (a path, or a list of paths) names files only this process can read
    (fsspec's ``memory://``): a query reading them runs in the driver, not on worker processes."""
    if isinstance(location, (list, tuple)):
        return any(is_process_local(p) for p in location)
    return scheme_of(location) in PROCESS_LOCAL_SCHEMES


def bucket_of(uri: str) -> str:
    """The bucket (container, host) a URI names: ``s3://warehouse/x`` is ``warehouse``."""
    if OTHER_SCHEMES.get(scheme_of(uri)) == "Azure":
        return _azure_path(uri)[1].split("/", 1)[0]
    rest = _SCHEME.sub("", uri)
    return rest.split("/", 1)[0]


# -- credentials ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class S3Credentials:
    """How to reach S3 or an S3-compatible store for the paths under ``scope`` ("" = every path)."""

    key_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    region: str | None = None
    use_ssl: bool = True
    url_style: str | None = None          # "path" or "vhost" (None: pyarrow's choice)
    scope: str = ""
    name: str = "settings"

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in (("name", self.name), ("scope", self.scope),
                                                    ("key_id", self.key_id), ("endpoint", self.endpoint),
                                                    ("region", self.region)) if v)
        return f"S3Credentials({shown}, secret={REDACTED if self.secret else None})"

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.secret, self.session_token) if v)

    def filesystem_options(self) -> dict:
        """Keyword arguments of ``pyarrow.fs.S3FileSystem``."""
        options: dict = {}
        if self.key_id or self.secret:
            options.update(access_key=self.key_id or "", secret_key=self.secret or "")
            if self.session_token:
                options["session_token"] = self.session_token
        if self.region:
            options["region"] = self.region
        if self.endpoint:
            m = re.match(r"^(https?)://(.*)$", self.endpoint)
            if m:
                options["scheme"], options["endpoint_override"] = m.group(1), m.group(2).rstrip("/")
            else:
                options["scheme"] = "https" if self.use_ssl else "http"
                options["endpoint_override"] = self.endpoint.rstrip("/")
        elif not self.use_ssl:
            options["scheme"] = "http"
        if self.url_style is not None:
            options["force_virtual_addressing"] = self.url_style == "vhost"
        return options


S3_SETTINGS = {"s3_endpoint": "endpoint", "s3_region": "region", "s3_access_key_id": "key_id",
               "s3_secret_access_key": "secret", "s3_session_token": "session_token", "s3_use_ssl": "use_ssl",
               "s3_url_style": "url_style"}
# settings whose values are secrets: SHOW, current_setting and the UI print them redacted
SECRET_SETTINGS = frozenset({"s3_secret_access_key", "s3_session_token", "azure_storage_connection_string"})
# the settings that say how object stores are reached (a server's clients may not change them)
STORAGE_SETTINGS = frozenset(S3_SETTINGS) | {"gcs_endpoint", "gcs_use_ssl", "gcs_anonymous", "gcs_retry_seconds",
                                              "azure_storage_connection_string", "azure_account_name"}


def s3_from_settings(config: dict) -> S3Credentials:
    """The S3 credentials a session's ``s3_*`` settings give (unset ones are left to the AWS chain)."""
    values = {attr: config.get(key) for key, attr in S3_SETTINGS.items() if config.get(key) is not None}
    if "endpoint" not in values:
        # the AWS SDKs' standard variables for another endpoint (pyarrow's SDK does not read them)
        import os
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            values["endpoint"] = endpoint
    if "use_ssl" in values:
        values["use_ssl"] = _flag(values["use_ssl"], "s3_use_ssl")
    if values.get("url_style") not in (None, "path", "vhost"):
        raise DataError(f"s3_url_style must be 'path' or 'vhost', not `{values['url_style']}`")
    return S3Credentials(**values)


def _flag(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "on", "1", "yes"):
        return True
    if text in ("false", "off", "0", "no"):
        return False
    raise DataError(f"{name} takes true or false, not `{value}`")


@dataclass(frozen=True)
class GcsCredentials:
    """How to reach Google Cloud Storage (or an emulator) for the paths under ``scope`` ("" = every path).

    With no ``endpoint`` and not ``anonymous``, Google's application default credentials apply
    (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's login, the metadata server)."""

    endpoint: str | None = None           # host:port or URL (an emulator); None: storage.googleapis.com
    use_ssl: bool = True
    anonymous: bool = False
    scope: str = ""
    name: str = "settings"
    # how long a request is retried (Google's client retries for 15 minutes, so a wrong endpoint
    # would hang a query that long); the gcs_retry_seconds setting
    retry_seconds: int = 20

    def secret_values(self) -> tuple[str, ...]:
        return ()

    def filesystem_options(self) -> dict:
        """Keyword arguments of ``pyarrow.fs.GcsFileSystem``."""
        import datetime
        options: dict = {"retry_time_limit": datetime.timedelta(seconds=self.retry_seconds)}
        if self.anonymous:
            options["anonymous"] = True
        if self.endpoint:
            scheme, authority = _split_endpoint(self.endpoint, self.use_ssl)
            options.update(scheme=scheme, endpoint_override=authority)
        elif not self.use_ssl:
            options["scheme"] = "http"
        return options


def _split_endpoint(endpoint: str, use_ssl: bool) -> tuple[str, str]:
    """``(scheme, host:port)`` of an endpoint given as a URL or as ``host:port`` (then ``use_ssl`` decides)."""
    m = re.match(r"^(https?)://([^/]*)", endpoint)
    if m:
        return m.group(1), m.group(2)
    return ("https" if use_ssl else "http"), endpoint.rstrip("/")


@dataclass(frozen=True)
class AzureCredentials:
    """How to reach Azure Blob Storage / ADLS (or Azurite) for the paths under ``scope``.

    With no ``account_key`` nor ``sas_token``, Azure's default credential chain applies (environment
    variables, managed identity, the Azure CLI's login)."""

    account_name: str | None = None
    account_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    endpoint: str | None = None           # the Blob service's URL or host:port (Azurite); None: Azure's
    use_ssl: bool = True
    scope: str = ""
    name: str = "settings"

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in (("name", self.name), ("scope", self.scope),
                                                    ("account_name", self.account_name),
                                                    ("endpoint", self.endpoint)) if v)
        hidden = REDACTED if self.account_key or self.sas_token else None
        return f"AzureCredentials({shown}, secret={hidden})"

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.account_key, self.sas_token) if v)

    @classmethod
    def from_connection_string(cls, text: str, **kwargs) -> "AzureCredentials":
        """The credentials an Azure Storage connection string gives (``AccountName=...;AccountKey=...;
        BlobEndpoint=...``, as the Azure SDKs and Azurite's documentation write them)."""
        parts: dict = {}
        for item in str(text).split(";"):
            if not item.strip():
                continue
            key, sep, value = item.partition("=")
            if not sep:
                raise DataError("an Azure connection string is `Key=value` pairs separated by `;`",
                                hint="e.g. DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...")
            parts[key.strip().lower()] = value.strip()
        if "usedevelopmentstorage" in parts:
            raise UnsupportedError("UseDevelopmentStorage in an Azure connection string",
                                   hint="write Azurite's AccountName, AccountKey and BlobEndpoint out")
        use_ssl = parts.get("defaultendpointsprotocol", "https").lower() != "http"
        endpoint = parts.get("blobendpoint")
        if endpoint is None and parts.get("endpointsuffix"):
            endpoint = f"{'https' if use_ssl else 'http'}://{parts.get('accountname', '')}.blob.{parts['endpointsuffix']}"
        return cls(account_name=parts.get("accountname"), account_key=parts.get("accountkey"),
                   sas_token=parts.get("sharedaccesssignature"), endpoint=endpoint, use_ssl=use_ssl, **kwargs)

    def filesystem_options(self, account: str | None = None) -> dict:
        """Keyword arguments of ``pyarrow.fs.AzureFileSystem`` (``account``: the one a URI names)."""
        account = account or self.account_name
        if not account:
            raise DataError("no Azure storage account is known for this path",
                            hint="set azure_account_name (or azure_storage_connection_string), give a "
                                 "CREATE SECRET (TYPE azure, ...), or name it in the path: "
                                 "abfss://container@account.dfs.core.windows.net/...")
        options: dict = {"account_name": account}
        if self.account_key:
            options["account_key"] = self.account_key
        elif self.sas_token:
            options["sas_token"] = self.sas_token.lstrip("?")
        if self.endpoint:
            scheme, authority = _split_endpoint(self.endpoint, self.use_ssl)
            if re.match(r"^[^.:]+\.blob\.", authority):
                # Azure's own hosts (<account>.blob.<suffix>): pyarrow puts the account a path names
                # before an authority starting with "."
                authority = authority[authority.index("."):]
                dfs = authority.replace(".blob.", ".dfs.", 1)
            else:
                dfs = authority                 # an emulator (Azurite) serves both on one port
            options.update(blob_storage_authority=authority, blob_storage_scheme=scheme,
                           dfs_storage_authority=dfs, dfs_storage_scheme=scheme)
        elif not self.use_ssl:
            options.update(blob_storage_scheme="http", dfs_storage_scheme="http")
        return options


def gcs_from_settings(config: dict) -> GcsCredentials:
    """The GCS settings of a session (``gcs_endpoint``, ``gcs_use_ssl``, ``gcs_anonymous``); with no
    ``gcs_endpoint``, ``STORAGE_EMULATOR_HOST`` names an emulator, reached anonymously (as Google's
    client libraries do)."""
    import os
    endpoint = config.get("gcs_endpoint")
    anonymous = _flag(config.get("gcs_anonymous", False), "gcs_anonymous")
    if not endpoint and os.environ.get("STORAGE_EMULATOR_HOST"):
        endpoint, anonymous = os.environ["STORAGE_EMULATOR_HOST"], True
    return GcsCredentials(endpoint=endpoint or None, use_ssl=_flag(config.get("gcs_use_ssl", True), "gcs_use_ssl"),
                          anonymous=anonymous, retry_seconds=int(config.get("gcs_retry_seconds") or 20))


def azure_from_settings(config: dict) -> AzureCredentials:
    """The Azure settings of a session (DuckDB's ``azure_storage_connection_string`` and
    ``azure_account_name``); with neither, ``AZURE_STORAGE_CONNECTION_STRING`` from the environment."""
    import os
    text = config.get("azure_storage_connection_string") or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    cred = AzureCredentials.from_connection_string(text) if text else AzureCredentials()
    if config.get("azure_account_name"):
        cred = replace(cred, account_name=config["azure_account_name"])
    return cred


@dataclass(frozen=True)
class Storage:
    """What a session knows about reaching remote storage: the secrets of each store (most specific
    first), the defaults from its settings, and how many requests may run at once. Immutable and
    picklable: plans carry it to worker processes."""

    s3_secrets: tuple[S3Credentials, ...] = ()
    s3_default: S3Credentials = S3Credentials()
    gcs_secrets: tuple[GcsCredentials, ...] = ()
    gcs_default: GcsCredentials = GcsCredentials()
    azure_secrets: tuple[AzureCredentials, ...] = ()
    azure_default: AzureCredentials = AzureCredentials()
    io_threads: int = FETCH_THREADS       # listings and footer fetches in flight at once

    def s3_for(self, uri: str) -> S3Credentials:
        """The credentials for ``uri``: the secret with the longest matching scope, else the settings."""
        return _scoped(self.s3_secrets, self.s3_default, uri)

    def gcs_for(self, uri: str) -> GcsCredentials:
        return _scoped(self.gcs_secrets, self.gcs_default, uri)

    def azure_for(self, uri: str) -> AzureCredentials:
        return _scoped(self.azure_secrets, self.azure_default, uri)

    def secret_values(self) -> tuple[str, ...]:
        out = []
        for cred in (self.s3_secrets + (self.s3_default,) + self.azure_secrets + (self.azure_default,)):
            out.extend(cred.secret_values())
        return tuple(out)

    def __repr__(self) -> str:
        count = len(self.s3_secrets) + len(self.gcs_secrets) + len(self.azure_secrets)
        return f"Storage({count} secrets, default={self.s3_default!r})"


def _scoped(secrets, default, uri: str):
    for secret in secrets:
        if not secret.scope or uri.startswith(secret.scope):
            return secret
    return default


def make_storage(config: dict, secrets: Iterable = ()) -> Storage:
    """A :class:`Storage` of a session's settings and secrets (of each kind: scoped secrets first,
    longest scope first; an unscoped secret after them, before the settings)."""
    def ordered(kind):
        return tuple(sorted((s for s in secrets if isinstance(s, kind)), key=lambda s: (-len(s.scope), s.name)))
    secrets = list(secrets)
    threads = config.get("remote_io_threads") or FETCH_THREADS
    gcs = gcs_from_settings(config)
    gcs_secrets = tuple(replace(s, retry_seconds=gcs.retry_seconds) for s in ordered(GcsCredentials))
    return Storage(ordered(S3Credentials), s3_from_settings(config), gcs_secrets, gcs,
                   ordered(AzureCredentials), azure_from_settings(config), int(threads))


# the Storage of the session running the current statement (set by the Session's entry points)
_CURRENT: contextvars.ContextVar[Storage | None] = contextvars.ContextVar("quarry_storage", default=None)


@contextlib.contextmanager
def using_storage(storage: Storage):
    """Within this block, remote paths are opened with ``storage``'s credentials."""
    token = _CURRENT.set(storage)
    try:
        yield storage
    finally:
        _CURRENT.reset(token)


def current_storage() -> Storage:
    """The Storage of the running statement (outside any session: the default AWS chain only)."""
    return _CURRENT.get() or Storage()


# -- filesystems ------------------------------------------------------------------------------------

_FILESYSTEMS: dict = {}
_FS_LOCK = threading.Lock()


def filesystem(uri: str, storage: Storage | None = None) -> tuple[pafs.FileSystem, str]:
    """``(pyarrow filesystem, path inside it)`` for a remote ``uri``; filesystems are cached per process."""
    storage = storage or current_storage()
    scheme = scheme_of(uri)
    if scheme is None:
        raise DataError(f"`{uri}` is not a remote path")
    rest = _SCHEME.sub("", uri)
    if scheme in S3_SCHEMES:
        cred = storage.s3_for(uri)
        key = ("s3", cred)
        with _FS_LOCK:
            fs = _FILESYSTEMS.get(key)
            if fs is None:
                fs = _FILESYSTEMS[key] = pafs.S3FileSystem(**cred.filesystem_options())
        return fs, rest.rstrip("/") if rest.count("/") else rest
    if scheme in ("gs", "gcs"):
        cred = storage.gcs_for(uri)
        fs = _cached(("gcs", cred), "GCS", scheme, lambda: pafs.GcsFileSystem(**cred.filesystem_options()))
        return fs, rest.rstrip("/") if rest.count("/") else rest
    if OTHER_SCHEMES.get(scheme) == "Azure":
        account, path = _azure_path(uri)
        cred = storage.azure_for(uri)
        options = cred.filesystem_options(account)
        fs = _cached(("azure", cred, account), "Azure", scheme, lambda: pafs.AzureFileSystem(**options))
        return fs, path.rstrip("/") if path.count("/") else path
    if OTHER_SCHEMES.get(scheme) == "HDFS":
        root = scheme + "://" + rest.split("/", 1)[0]
        with _FS_LOCK:
            cached = _FILESYSTEMS.get(("uri", root))
        if cached is None:
            try:
                cached = pafs.FileSystem.from_uri(uri)[0]
            except (ImportError, pa.ArrowNotImplementedError) as exc:
                raise UnsupportedError(f"HDFS paths (`{scheme}://`): this pyarrow has no HDFS filesystem",
                                       hint=f"install a pyarrow built with HDFS support ({exc})") from None
            except (OSError, pa.ArrowException) as exc:
                text = _scrub(str(exc), storage)
                if "libhdfs" in text or "libjvm" in text or "JAVA_HOME" in text or "HADOOP_HOME" in text:
                    raise UnsupportedError(
                        f"HDFS paths (`{uri}`): libhdfs (Hadoop's native client) and a JVM are not found "
                        "on this machine", hint="install Hadoop and a JDK and set HADOOP_HOME, JAVA_HOME and "
                        "ARROW_LIBHDFS_DIR (the folder of libhdfs.so), or copy the data to a local path or "
                        "an object store") from None
                raise DataError(f"cannot open HDFS storage for `{uri}`: {text}",
                                hint="check the namenode's host and port, and the Hadoop configuration") from None
            with _FS_LOCK:
                _FILESYSTEMS[("uri", root)] = cached
        try:
            path = pafs.FileSystem.from_uri(uri)[1]
        except (OSError, pa.ArrowException):
            path = rest
        return cached, path.rstrip("/") or path
    fs = _fsspec_filesystem(scheme)
    if fs is not None:
        return fs, rest.rstrip("/") or rest
    raise UnsupportedError(f"paths with the scheme `{scheme}://`",
                           hint="quarry reads s3://, gs://, abfs://, hdfs:// and local paths, and any scheme "
                                "fsspec knows when fsspec is installed (pip install fsspec)")


def _cached(key, kind: str, scheme: str, make) -> pafs.FileSystem:
    """The process's filesystem for ``key``, made by ``make()`` the first time."""
    with _FS_LOCK:
        fs = _FILESYSTEMS.get(key)
    if fs is not None:
        return fs
    try:
        fs = make()
    except (ImportError, AttributeError, TypeError, pa.ArrowNotImplementedError) as exc:   # an older pyarrow
        raise UnsupportedError(f"{kind} paths (`{scheme}://`): this pyarrow has no {kind} filesystem",
                               hint=f"install a pyarrow built with {kind} support ({exc})") from None
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot open {kind} storage for `{scheme}://`: {exc}",
                        hint=f"check the {kind} settings or secret") from None
    with _FS_LOCK:
        return _FILESYSTEMS.setdefault(key, fs)


_ABFS_AUTHORITY = re.compile(r"^([^@/]+)@([^./]+)\.(?:dfs|blob)\.[^/]+$")
_AZ_AUTHORITY = re.compile(r"^([^./]+)\.(?:dfs|blob)\.core\.windows\.net$", re.I)


def _azure_path(uri: str) -> tuple[str | None, str]:
    """``(account the URI names or None, "container/path")`` of an Azure URI: ``az://container/path``,
    ``abfss://container/path``, ``abfss://container@account.dfs.core.windows.net/path`` or
    ``az://account.blob.core.windows.net/container/path``."""
    rest = _SCHEME.sub("", uri)
    authority, _, path = rest.partition("/")
    m = _ABFS_AUTHORITY.match(authority)
    if m:
        return m.group(2), f"{m.group(1)}/{path}" if path else m.group(1)
    m = _AZ_AUTHORITY.match(authority)
    if m:
        return m.group(1), path
    return None, rest


def _fsspec_filesystem(scheme: str) -> pafs.FileSystem | None:
    """Any other scheme fsspec has an implementation for (``memory://``, ``http://``, ``sftp://``,
    ...), wrapped as a pyarrow filesystem; None when fsspec is missing or does not know the scheme."""
    key = ("fsspec", scheme)
    with _FS_LOCK:
        cached = _FILESYSTEMS.get(key)
    if cached is not None:
        return cached
    try:
        import fsspec
        implementation = fsspec.filesystem(scheme)
    except (ImportError, ValueError):
        return None
    except Exception as exc:            # the implementation's own dependency or setup is missing
        raise UnsupportedError(f"paths with the scheme `{scheme}://`",
                               hint=f"fsspec's {scheme} filesystem could not start: {exc}") from None
    fs = pafs.PyFileSystem(pafs.FSSpecHandler(implementation))
    with _FS_LOCK:
        _FILESYSTEMS[key] = fs
    return fs


def _scrub(text: str, storage: Storage) -> str:
    for value in storage.secret_values():
        text = text.replace(value, REDACTED)
    return text


_AWS_CODE = re.compile(r"AWS Error (\w+)")


def remote_error(uri: str, exc: Exception, storage: Storage | None = None, doing: str = "read"):
    """A clear QuarryError for a failure on ``uri``, naming its bucket; secrets never appear in it."""
    storage = storage or current_storage()
    text = _scrub(str(exc), storage)
    bucket = bucket_of(uri)
    m = _AWS_CODE.search(text)
    code = m.group(1) if m else ""
    kind = OTHER_SCHEMES.get(scheme_of(uri), "S3")
    creds = {"GCS": "give GCS credentials with GOOGLE_APPLICATION_CREDENTIALS (or gcloud's login), or "
                    "reach an emulator with CREATE SECRET (TYPE gcs, ENDPOINT '...', ANONYMOUS true)",
             "Azure": "give the account's key with CREATE SECRET (TYPE azure, CONNECTION_STRING '...') or the "
                      "azure_storage_connection_string setting, or Azure's environment credentials"}.get(
        kind, "give credentials with CREATE SECRET (TYPE s3, KEY_ID '...', SECRET '...'), the "
              "s3_access_key_id / s3_secret_access_key settings, or the AWS environment variables / profile")
    endpoint_hint = {"GCS": "gcs_endpoint / the secret's ENDPOINT",
                     "Azure": "the connection string's BlobEndpoint and DefaultEndpointsProtocol"
                     }.get(kind, "s3_endpoint / the secret's ENDPOINT")
    if code in ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH", "EXPIRED_TOKEN",
                "UNRECOGNIZED_CLIENT", "INVALID_CLIENT_TOKEN_ID") or "Forbidden" in text \
            or re.search(r"\b40[13]\b|PERMISSION_DENIED|UNAUTHENTICATED|AuthorizationFailure", text):
        why = {"INVALID_ACCESS_KEY_ID": "the access key id is not known",
               "SIGNATURE_DOES_NOT_MATCH": "the secret key does not match the access key id",
               "EXPIRED_TOKEN": "the session token has expired"}.get(code, "access denied")
        return AccessDeniedError(f"cannot {doing} `{uri}`: bucket `{bucket}` refused the credentials ({why})",
                                 hint=creds, subject=bucket)
    if code in ("NO_SUCH_BUCKET",) or "bucket does not exist" in text.lower() or "NoSuchBucket" in text \
            or "ContainerNotFound" in text:
        return DataError(f"cannot {doing} `{uri}`: bucket `{bucket}` does not exist",
                         hint=f"check the bucket name (and the endpoint: {endpoint_hint})", subject=bucket)
    if code in ("NETWORK_CONNECTION", "ENDPOINT_CONNECTION") or "curlCode" in text or "connect" in text.lower() \
            and ("AWS Error" in text or "Azure Error" in text or "UNAVAILABLE" in text):
        return DataError(f"cannot {doing} `{uri}`: the storage endpoint of bucket `{bucket}` is not reachable",
                         hint=f"check {endpoint_hint}{'' if kind == 'Azure' else ' (and USE_SSL)'}, and "
                              "that the server is up",
                         subject=bucket)
    return DataError(f"cannot {doing} `{uri}` (bucket `{bucket}`): {text}", subject=bucket)


# -- listing ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RemoteFile:
    """One remote data file: its URI, size and modification time (ns; 0 when the store gives none)."""

    uri: str
    size: int
    mtime_ns: int = 0


def _uri_maker(location: str):
    """The function turning a path inside ``location``'s filesystem back into a URI."""
    scheme = scheme_of(location)
    if OTHER_SCHEMES.get(scheme) == "Azure":
        authority = _SCHEME.sub("", location).split("/", 1)[0]
        m = _ABFS_AUTHORITY.match(authority)
        if m:               # container@account.dfs...: the path's first component is the container
            host = authority.split("@", 1)[1]
            return lambda p: f"{scheme}://{p.split('/', 1)[0]}@{host}/{p.split('/', 1)[1] if '/' in p else ''}"
        if _AZ_AUTHORITY.match(authority):
            return lambda p: f"{scheme}://{authority}/{p}"
    if scheme in S3_SCHEMES or scheme in ("gs", "gcs") or OTHER_SCHEMES.get(scheme) == "Azure":
        return lambda p: f"{scheme}://{p}"           # the path starts with the bucket (container)
    if scheme not in OTHER_SCHEMES:
        return lambda p: f"{scheme}://{p.lstrip('/')}"       # an fsspec filesystem: paths from its root
    authority = _SCHEME.sub("", location).split("/", 1)[0]
    return lambda p: f"{scheme}://{authority}/{p.lstrip('/')}"


def _glob_regex(pattern: str) -> re.Pattern:
    """A regex for a glob over '/'-separated paths: ``**`` spans components, ``*`` and ``?`` do not."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
                i += 1
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/"))


def _data_name(name: str) -> bool:
    return not name.endswith((".crc", ".tmp"))


@dataclass
class Listing:
    """What a remote location expands to: its files and the directory hive partitions are relative to
    (None: no partition folders, e.g. a single file)."""

    files: list[RemoteFile]
    root: str | None


def list_location(location: str, storage: Storage | None = None) -> Listing:
    """Expand a remote file, prefix or glob into its data files (sorted by URI)."""
    storage = storage or current_storage()
    scheme = scheme_of(location)
    fs, path = filesystem(location, storage)
    to_uri = _uri_maker(location)
    # fsspec filesystems (memory://) list paths from their root, with a leading slash
    norm = (lambda p: p.lstrip("/")) if scheme not in S3_SCHEMES and scheme not in OTHER_SCHEMES else (lambda p: p)
    try:
        if any(ch in path for ch in "*?["):
            parts = path.split("/")
            first = next(i for i, part in enumerate(parts) if any(ch in part for ch in "*?["))
            base = "/".join(parts[:first])
            regex = _glob_regex(path)
            infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
            files = [RemoteFile(to_uri(norm(i.path)), i.size, i.mtime_ns or 0) for i in infos
                     if i.type == pafs.FileType.File and regex.match(norm(i.path))
                     and not i.base_name.startswith(".")]
            if not files:
                raise DataError(f"no files match `{location}`", hint="check the path and the glob pattern")
            return Listing(sorted(files, key=lambda f: f.uri), location.rsplit("/", len(parts) - first)[0])
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            return Listing([RemoteFile(location, info.size, info.mtime_ns or 0)], None)
        if info.type == pafs.FileType.NotFound:
            bucket = path.split("/", 1)[0]
            if (scheme in S3_SCHEMES or OTHER_SCHEMES.get(scheme) in ("GCS", "Azure")) and "/" in path \
                    and fs.get_file_info(bucket).type == pafs.FileType.NotFound:
                raise remote_error(location, FileNotFoundError("NoSuchBucket"), storage, "read")
            raise DataError(f"`{location}` does not exist", hint="check the bucket and the key prefix",
                            subject=bucket_of(location))
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        files = [RemoteFile(to_uri(norm(i.path)), i.size, i.mtime_ns or 0) for i in infos
                 if i.type == pafs.FileType.File and not _hidden(norm(i.path)[len(norm(path)):].lstrip("/"))
                 and _data_name(i.base_name)]
    except (OSError, pa.ArrowException) as exc:
        raise remote_error(location, exc, storage, "list") from None
    if not files:
        raise DataError(f"`{location}` contains no data files", subject=bucket_of(location))
    return Listing(sorted(files, key=lambda f: f.uri), location.rstrip("/"))


def list_locations(locations, storage: Storage | None = None) -> list[Listing]:
    """:func:`list_location` of each of ``locations``, listed concurrently (in their order)."""
    storage = storage or current_storage()
    locations = [str(loc) for loc in locations]
    if len(locations) <= 1:
        return [list_location(loc, storage) for loc in locations]
    with concurrent.futures.ThreadPoolExecutor(max(1, min(storage.io_threads, len(locations)))) as pool:
        return list(pool.map(lambda loc: list_location(loc, storage), locations))


def list_files(location, storage: Storage | None = None) -> list[RemoteFile]:
    """The data files of a remote location or list of locations (listed concurrently)."""
    if isinstance(location, (list, tuple)):
        return [f for listing in list_locations(location, storage) for f in listing.files]
    return list_location(location, storage).files


# -- reading ----------------------------------------------------------------------------------------

class IOCounter:
    """Bytes and requests a reader fetched (added to by :class:`CountingFile`; thread-safe)."""

    def __init__(self):
        self.bytes = 0
        self.requests = 0
        self._lock = threading.Lock()

    def add(self, nbytes: int, requests: int = 1) -> None:
        with self._lock:
            self.bytes += nbytes
            self.requests += requests


class CountingFile:
    """A file-like view of a pyarrow random-access file that counts each read as one request.

    pyarrow's S3 file issues one ranged GET per read, so reads here are requests to the store.
    """

    def __init__(self, raw: pa.NativeFile, counter: IOCounter):
        self.raw = raw
        self.counter = counter
        self.closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def size(self) -> int:
        return self.raw.size()

    def read(self, nbytes: int | None = None) -> bytes:
        data = self.raw.read(nbytes) if nbytes is not None and nbytes >= 0 else self.raw.read()
        self.counter.add(len(data))
        return data

    def read_at(self, nbytes: int, offset: int) -> bytes:
        data = self.raw.read_at(nbytes, offset)
        self.counter.add(len(data))
        return data

    def close(self) -> None:
        self.closed = True
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_input(uri: str, size: int | None, storage: Storage | None = None, counter: IOCounter | None = None):
    """Open ``uri`` for ranged reads (``size``, when known, is checked against the store's)."""
    storage = storage or current_storage()
    fs, path = filesystem(uri, storage)
    try:
        # pyarrow's Python API opens by path, which asks the store for the size (a HEAD request)
        raw = fs.open_input_file(path)
        if counter is not None:
            counter.add(0)
    except (OSError, pa.ArrowException) as exc:
        raise remote_error(uri, exc, storage) from None
    return CountingFile(raw, counter) if counter is not None else raw


@dataclass(frozen=True)
class _Footer:
    """A cached footer and what it was read from: size, mtime (0: the store gave none) and ETag."""

    size: int
    mtime_ns: int
    etag: str | None
    meta: object


_FOOTERS: dict[str, _Footer] = {}
_FOOTERS_LOCK = threading.Lock()
FOOTER_CACHE_FILES = 4096


def etag_of(source) -> str | None:
    """The ETag the store sent when ``source`` (from :func:`open_input`) was opened; None when it sent none."""
    raw = source.raw if isinstance(source, CountingFile) else source
    try:
        metadata = raw.metadata()
    except (AttributeError, OSError, pa.ArrowException):
        return None
    for key in (b"ETag", "ETag", b"etag", "etag"):
        try:
            value = metadata[key]
        except (KeyError, TypeError):
            continue
        if value:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _read_footer(source):
    """The Parquet footer of an opened file (one or two ranged reads at its end)."""
    import pyarrow.parquet as pq
    return pq.ParquetFile(source).metadata


def read_footers(files: list[RemoteFile], storage: Storage | None = None,
                 counter: IOCounter | None = None, etags: dict | None = None,
                 immutable: bool = False) -> dict[str, object]:
    """``{uri: pyarrow FileMetaData}`` of every file, fetched concurrently, cached per file.

    Each file is opened (one HEAD request, which returns its ETag); a cached footer is used when the
    ETag and size are unchanged (a store that sends no ETag: size and mtime), so the footer's ranged
    reads are saved while an object rewritten in place, even with the same size in the same second
    (S3's mtimes have 1 s resolution), is read again. ``etags`` (when given) receives each file's
    ETag, for the scan to check the file is still the one planned. ``immutable`` files (a Delta or
    Iceberg table's: the formats never rewrite a data file in place) reuse a cached footer of the same
    size with no request.
    """
    storage = storage or current_storage()
    found: dict[str, object] = {}
    with _FOOTERS_LOCK:
        missing = []
        for f in files:
            entry = _FOOTERS.get(f.uri)
            if immutable and entry is not None and entry.size == f.size:
                found[f.uri] = entry.meta
                if etags is not None and entry.etag:
                    etags[f.uri] = entry.etag
            else:
                missing.append((f, entry))

    def fetch(item) -> _Footer:
        f, entry = item
        source = open_input(f.uri, f.size, storage, counter)
        try:
            etag = etag_of(source)
            if entry is not None and entry.size == f.size and (entry.etag == etag if etag is not None
                                                                 else f.mtime_ns and entry.mtime_ns == f.mtime_ns):
                return replace(entry, mtime_ns=f.mtime_ns)
            return _Footer(f.size, f.mtime_ns, etag, _read_footer(source))
        except (OSError, pa.ArrowException) as exc:
            if isinstance(exc, OSError) and re.search(r"AWS Error|Azure Error|google::cloud", str(exc)):
                raise remote_error(f.uri, exc, storage) from None
            raise DataError(f"cannot read Parquet file `{f.uri}`: {_scrub(str(exc), storage)}",
                            hint="the file is not Parquet, or corrupt; rewrite or remove it") from None
        finally:
            source.close()

    if missing:
        with concurrent.futures.ThreadPoolExecutor(max(1, min(storage.io_threads, len(missing)))) as pool:
            footers = list(pool.map(fetch, missing))
        with _FOOTERS_LOCK:
            if len(_FOOTERS) + sum(f.uri not in _FOOTERS for f, _ in missing) > FOOTER_CACHE_FILES:
                _FOOTERS.clear()
            for (f, _), footer in zip(missing, footers):
                _FOOTERS[f.uri] = footer
                found[f.uri] = footer.meta
                if etags is not None and footer.etag:
                    etags[f.uri] = footer.etag
    return found


def forget_footer(uri: str) -> None:
    """Drop ``uri``'s cached footer (the scan found the object changed since it was planned)."""
    with _FOOTERS_LOCK:
        _FOOTERS.pop(uri, None)


def clear_footer_cache() -> None:
    """Forget every cached footer (tests; a store that rewrites files keeping size and mtime)."""
    with _FOOTERS_LOCK:
        _FOOTERS.clear()


__all__ = ["is_remote", "is_process_local", "PROCESS_LOCAL_SCHEMES", "scheme_of", "bucket_of", "S3Credentials", "Storage", "make_storage", "using_storage",
           "current_storage", "filesystem", "remote_error", "RemoteFile", "Listing", "list_location",
           "list_files", "list_locations", "IOCounter", "CountingFile", "open_input", "read_footers", "clear_footer_cache",
           "etag_of", "forget_footer",
           "SECRET_SETTINGS", "S3_SETTINGS", "s3_from_settings"]
