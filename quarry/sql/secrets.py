"""``CREATE SECRET`` and ``DROP SECRET``: credentials for object stores, kept in the session's memory.

DuckDB's syntax::

    CREATE [OR REPLACE] [TEMPORARY] SECRET [IF NOT EXISTS] [name] (
        TYPE s3, KEY_ID '...', SECRET '...', [SESSION_TOKEN '...'], [REGION '...'],
        [ENDPOINT 'host:port'], [USE_SSL false], [URL_STYLE 'path'], [SCOPE 's3://bucket/prefix'],
        [PROVIDER config | credential_chain])
    CREATE SECRET [name] (TYPE gcs, [ENDPOINT 'host:port'], [USE_SSL false], [ANONYMOUS true],
        [SCOPE 'gs://bucket/prefix'])
    CREATE SECRET [name] (TYPE azure, CONNECTION_STRING '...' | ACCOUNT_NAME '...',
        [SCOPE 'az://container/prefix'])
    DROP [TEMPORARY] SECRET [IF EXISTS] name

These statements are recognized here, before sqlglot sees them: sqlglot does not parse them and
would log the statement text (with its keys) as it falls back. Nothing here puts the text into an
error; :func:`redact_sql` blanks the string literals of such a statement for the UI and event log.
A secret is never written anywhere (``PERSISTENT`` is refused) and no statement prints it.

    >>> import quarry
    >>> con = quarry.connect(workers=0)
    >>> con.statement("CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'hush', REGION 'eu-west-1')")
    Status(verb='CREATE SECRET')
    >>> con.secrets["s"]
    S3Credentials(name='s', key_id='k', region='eu-west-1', secret=<redacted>)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from quarry.catalog.filesystems import AzureCredentials, GcsCredentials, S3Credentials
from quarry.errors import AccessDeniedError, BindError, ParseError, QuarryError, UnsupportedError, suggest
from quarry.sql.commands import Command, Status

_CREATE = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?((?:TEMPORARY|TEMP|PERSISTENT)\s+)?SECRET\b"
                     r"(\s+IF\s+NOT\s+EXISTS)?\s*(?:(\w+)\s*)?\((.*)\)\s*;?\s*$", re.I | re.S)
_DROP = re.compile(r"^\s*DROP\s+((?:TEMPORARY|TEMP|PERSISTENT)\s+)?SECRET\b(\s+IF\s+EXISTS)?\s+(\w+)\s*;?\s*$",
                   re.I | re.S)
_LOOKS_LIKE = re.compile(r"^\s*(CREATE|DROP)\b[\w\s]*\bSECRET\b", re.I)
_TOKEN = re.compile(r"\s*(?:'((?:[^']|'')*)'|([A-Za-z_][\w.]*)|(-?\d+)|(,))", re.S)

# the options of each TYPE (DuckDB's names; ANONYMOUS is quarry's, for an emulator or a public bucket)
TYPE_OPTIONS = {
    "s3": ("key_id", "secret", "session_token", "region", "endpoint", "use_ssl", "url_style", "scope", "provider"),
    "gcs": ("key_id", "secret", "endpoint", "use_ssl", "anonymous", "scope", "provider"),
    "azure": ("connection_string", "account_name", "scope", "provider"),
}
TYPE_OPTIONS["r2"] = TYPE_OPTIONS["s3"]
OPTIONS = ("type",) + tuple(sorted({o for opts in TYPE_OPTIONS.values() for o in opts}))
_SCOPE_SCHEMES = {"s3": r"s3a?", "r2": r"s3a?", "gcs": r"gs|gcs", "azure": r"az|abfss?"}


def is_secret_statement(text: str) -> bool:
    """Whether ``text`` is a CREATE/DROP SECRET statement (after comments-free leading blanks)."""
    return _LOOKS_LIKE.match(text) is not None


def redact_sql(text: str) -> str:
    """``text`` with every string literal blanked when it contains a CREATE SECRET or an ATTACH (whose
    options may hold a catalog's credentials)."""
    if not re.search(r"\b(SECRET|ATTACH)\b", text, re.I):
        return text
    return re.sub(r"'(?:[^']|'')*'", "'<redacted>'", text)


def _options(body: str) -> dict:
    """The ``KEY value, ...`` list of a CREATE SECRET, without ever quoting a value in an error."""
    options: dict = {}
    pos, tokens = 0, []
    while pos < len(body.rstrip()):
        m = _TOKEN.match(body, pos)
        if m is None:
            raise ParseError(f"CREATE SECRET: cannot read the options after character {pos + 1}",
                             hint="write CREATE SECRET name (TYPE s3, KEY_ID '...', SECRET '...')")
        pos = m.end()
        string, word, number, comma = m.groups()
        tokens.append(("str", string.replace("''", "'")) if string is not None else
                      ("word", word) if word is not None else ("num", int(number)) if number is not None
                      else ("comma", ","))
    items: list[list] = [[]]
    for tok in tokens:
        if tok[0] == "comma":
            items.append([])
        else:
            items[-1].append(tok)
    for item in items:
        if len(item) != 2 or item[0][0] != "word":
            raise ParseError("CREATE SECRET options are `KEY value` pairs separated by commas",
                             hint="write CREATE SECRET name (TYPE s3, KEY_ID '...', SECRET '...')")
        key = item[0][1].lower()
        if key not in OPTIONS:
            raise UnsupportedError(f"CREATE SECRET option `{item[0][1].upper()}`",
                                   hint=suggest(key, OPTIONS) or "options: " + ", ".join(o.upper() for o in OPTIONS))
        kind, value = item[1]
        if kind == "word" and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        options[key] = value
    return options


@dataclass(frozen=True)
class CreateSecret(Command):
    """CREATE SECRET: remember an object store's credentials in this session (memory only)."""

    credentials: S3Credentials | GcsCredentials | AzureCredentials
    replace: bool = False
    if_not_exists: bool = False

    def run(self, session) -> Status:
        if getattr(session, "sandbox", None) is not None:
            raise AccessDeniedError("CREATE SECRET is not allowed in this session",
                                    hint="the server reads object stores with the credentials it was started with")
        name = self.credentials.name
        if name in session.secrets and not self.replace:
            if self.if_not_exists:
                return Status("CREATE SECRET")
            raise BindError(f"secret `{name}` already exists", hint="use CREATE OR REPLACE SECRET")
        session.secrets[name] = self.credentials
        return Status("CREATE SECRET")


@dataclass(frozen=True)
class DropSecret(Command):
    """DROP SECRET name."""

    name: str
    if_exists: bool = False

    def run(self, session) -> Status:
        if getattr(session, "sandbox", None) is not None:
            raise AccessDeniedError("DROP SECRET is not allowed in this session",
                                    hint="the server reads object stores with the credentials it was started with")
        if self.name not in session.secrets:
            if self.if_exists:
                return Status("DROP SECRET")
            raise BindError(f"secret `{self.name}` does not exist",
                            hint=suggest(self.name, list(session.secrets)) or None)
        del session.secrets[self.name]
        return Status("DROP SECRET")


def bind_secret_statement(text: str) -> Command:
    """The command of a CREATE/DROP SECRET statement (see :func:`is_secret_statement`)."""
    m = _DROP.match(text)
    if m is not None:
        if m.group(1) and m.group(1).strip().upper() == "PERSISTENT":
            raise UnsupportedError("PERSISTENT secrets", hint="secrets live in the session's memory only")
        return DropSecret(m.group(3), bool(m.group(2)))
    m = _CREATE.match(text)
    if m is None:
        raise ParseError("syntax error in CREATE SECRET",
                         hint="write CREATE SECRET name (TYPE s3, KEY_ID '...', SECRET '...')")
    replace, persistence, if_not_exists, name, body = m.groups()
    if persistence and persistence.strip().upper() == "PERSISTENT":
        raise UnsupportedError("PERSISTENT secrets", hint="secrets live in the session's memory only; "
                                                          "write CREATE SECRET (or CREATE TEMPORARY SECRET)")
    options = _options(body)
    kind = str(options.pop("type", "")).lower()
    if kind not in TYPE_OPTIONS:
        raise UnsupportedError(f"secrets of TYPE `{kind or '(none)'}`",
                               hint="quarry keeps secrets of TYPE s3 (r2), gcs and azure; HDFS reads its "
                                    "credentials from the Hadoop configuration")
    for key in options:
        if key not in TYPE_OPTIONS[kind]:
            raise UnsupportedError(f"CREATE SECRET option `{key.upper()}` in a secret of TYPE `{kind}`",
                                   hint="options: " + ", ".join(o.upper() for o in TYPE_OPTIONS[kind]))
    provider = str(options.pop("provider", "config")).lower()
    if provider not in ("config", "credential_chain"):
        raise UnsupportedError(f"secret PROVIDER `{provider}`", hint="use PROVIDER config or credential_chain")
    if provider == "credential_chain" and ({"key_id", "secret", "connection_string"} & set(options)):
        raise BindError("a credential_chain secret takes no KEY_ID, SECRET or CONNECTION_STRING",
                        hint="leave PROVIDER out to give the keys")
    scope = options.get("scope", "")
    if scope and not re.match(rf"^(?:{_SCOPE_SCHEMES[kind]})://", str(scope), re.I):
        example = {"gcs": "gs://bucket/prefix", "azure": "az://container/prefix"}.get(kind, "s3://bucket/prefix")
        raise BindError(f"a {kind} secret's SCOPE is a {example.split(':')[0]}:// prefix", hint=f"SCOPE '{example}'")
    use_ssl = options.get("use_ssl", True)
    if not isinstance(use_ssl, bool):
        raise BindError("USE_SSL takes true or false")
    name = (name or f"__default_{kind}").lower()
    if kind == "gcs":
        if "key_id" in options or "secret" in options:
            # DuckDB reaches GCS through its S3-compatible XML API with HMAC keys; pyarrow's GCS client
            # speaks the JSON API with OAuth credentials, which take no HMAC key
            raise UnsupportedError("KEY_ID / SECRET (HMAC keys) in a secret of TYPE `gcs`",
                                   hint="GCS is read with Google's application default credentials "
                                        "(GOOGLE_APPLICATION_CREDENTIALS, gcloud's login); or reach GCS's "
                                        "S3-compatible endpoint with a TYPE s3 secret (ENDPOINT "
                                        "'storage.googleapis.com') and s3:// paths")
        anonymous = options.get("anonymous", False)
        if not isinstance(anonymous, bool):
            raise BindError("ANONYMOUS takes true or false")
        return CreateSecret(GcsCredentials(endpoint=_text(options.get("endpoint")), use_ssl=use_ssl,
                                           anonymous=anonymous, scope=str(scope), name=name),
                            bool(replace), bool(if_not_exists))
    if kind == "azure":
        extra = {"scope": str(scope), "name": name}
        if options.get("connection_string") is not None:
            try:
                cred = AzureCredentials.from_connection_string(options["connection_string"], **extra)
            except QuarryError as exc:      # never quote the string (it holds the key)
                raise BindError(f"CREATE SECRET: the CONNECTION_STRING cannot be read: {exc.message}",
                                hint=exc.hint) from None
        else:
            cred = AzureCredentials(**extra)
        if options.get("account_name") is not None:
            cred = dataclasses.replace(cred, account_name=str(options["account_name"]))
        return CreateSecret(cred, bool(replace), bool(if_not_exists))
    url_style = options.get("url_style")
    if url_style is not None and str(url_style).lower() not in ("path", "vhost"):
        raise BindError("URL_STYLE is 'path' or 'vhost'")
    cred = S3Credentials(key_id=_text(options.get("key_id")), secret=_text(options.get("secret")),
                         session_token=_text(options.get("session_token")), endpoint=_text(options.get("endpoint")),
                         region=_text(options.get("region")), use_ssl=use_ssl,
                         url_style=str(url_style).lower() if url_style is not None else None,
                         scope=str(scope), name=name)
    return CreateSecret(cred, bool(replace), bool(if_not_exists))


def _text(value) -> str | None:
    return None if value is None else str(value)


__all__ = ["is_secret_statement", "bind_secret_statement", "redact_sql", "CreateSecret", "DropSecret"]
