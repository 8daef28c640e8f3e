"""SET / RESET of session settings, and ``current_setting(name)``, under DuckDB's names.

A SQL setting is one of the session's configuration keys (``quarry.session.DEFAULT_CONFIG``),
under its own name or DuckDB's: ``threads`` (and ``worker_threads``) set ``target_partitions``,
``max_memory`` is ``memory_limit``. ``default_null_order`` (``nulls_first``, ``nulls_last``,
``nulls_first_on_asc_last_on_desc`` or ``nulls_last_on_asc_first_on_desc``; DuckDB's aliases
``sqlite``, ``mysql``, ``postgres`` too) and ``default_order`` (``asc``, ``desc``) decide how an
``ORDER BY`` item that does not say sorts. A value converts to the type of the key's default;
an unknown name is an error suggesting the nearest one.

    >>> import quarry
    >>> con = quarry.connect(workers=0)
    >>> con.statement("SET default_null_order = 'nulls_first'")
    Status(verb='SET')
    >>> con.sql("SELECT current_setting('default_null_order') AS v").to_arrow().column(0).to_pylist()
    ['NULLS_FIRST']
"""

from __future__ import annotations

from quarry.errors import BindError, QuarryError, UnsupportedError, suggest

# DuckDB's names of quarry's settings
ALIASES = {"threads": "target_partitions", "worker_threads": "target_partitions", "max_memory": "memory_limit"}

NULL_ORDERS = ("nulls_first", "nulls_last", "nulls_first_on_asc_last_on_desc", "nulls_last_on_asc_first_on_desc")
_NULL_ORDER_ALIASES = {"sqlite": "nulls_first_on_asc_last_on_desc", "mysql": "nulls_first_on_asc_last_on_desc",
                       "postgres": "nulls_last_on_asc_first_on_desc", "null_first": "nulls_first",
                       "null_last": "nulls_last"}
_ORDERS = {"asc": "asc", "ascending": "asc", "desc": "desc", "descending": "desc"}

# the settings a client of a server may change in its own session (they change no other session's
# answers nor the server's resources)
HARMLESS = frozenset({"default_null_order", "default_order"})


def config_key(name: str, config: dict) -> str:
    """The key of ``config`` (a session's) the SQL setting ``name`` sets; an unknown name raises,
    with a suggestion."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in config:
        names = sorted(set(config) | set(ALIASES))
        raise BindError(f"unknown setting `{name}`", hint=suggest(name, names) or "settings: " + ", ".join(names))
    return key


# settings that take a number of bytes or a size string, whatever their current value's type
SIZE_SETTINGS = ("memory_limit", "memory_cap")


def check_value(key: str, value, default=None):
    """``value`` as setting ``key`` takes it (the type of ``default``, its initial value); a bad value
    raises."""
    if key == "default_null_order":
        text = str(value).strip().lower().replace(" ", "_")
        text = _NULL_ORDER_ALIASES.get(text, text)
        if text not in NULL_ORDERS:
            raise QuarryError(f"`{value}` is not a null order", hint="use one of: " + ", ".join(NULL_ORDERS))
        return text
    if key == "default_order":
        text = _ORDERS.get(str(value).strip().lower())
        if text is None:
            raise QuarryError(f"`{value}` is not a sort order", hint="use 'asc' or 'desc'")
        return text
    if key in SIZE_SETTINGS:
        return value                      # a byte count or a size ('512MB'): the session checks it when set
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0"):
            return value.lower() in ("true", "on", "1")
        if isinstance(value, (bool, int)):
            return bool(value)
        raise QuarryError(f"setting `{key}` takes true or false, not `{value}`")
    if isinstance(default, int):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise QuarryError(f"setting `{key}` takes a whole number, not `{value}`") from None
        if number < 1:
            raise QuarryError(f"setting `{key}` must be at least 1, not {number}")
        return number
    if isinstance(default, tuple):
        return tuple(part.strip() for part in str(value).split(",") if part.strip())
    return value


def sql_value(node):
    """The Python value of a SET statement's right-hand side (a literal, or a bare word)."""
    from sqlglot import exp
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else node.to_py()
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -node.this.to_py()
    if isinstance(node, (exp.Column, exp.Identifier, exp.Var)):
        return node.name
    if isinstance(node, exp.Null):
        return None
    raise UnsupportedError(f"SET to `{node.sql(dialect='duckdb')}`", hint="SET takes a constant value")


def display(key: str, value):
    """The value ``current_setting`` shows (DuckDB spells the orders in capitals; secrets redacted)."""
    from quarry.catalog.filesystems import REDACTED, SECRET_SETTINGS
    if key in SECRET_SETTINGS and value is not None:
        return REDACTED
    if key in ("default_null_order", "default_order") and isinstance(value, str):
        return value.upper()
    if isinstance(value, tuple):
        return ",".join(value)
    return value


def null_placement(session, ascending: bool) -> bool:
    """Whether an ORDER BY item that says nothing about NULLs puts them first."""
    order = session.config.get("default_null_order", "nulls_last") if session is not None else "nulls_last"
    if order == "nulls_first":
        return True
    if order == "nulls_last":
        return False
    if order == "nulls_first_on_asc_last_on_desc":
        return ascending
    return not ascending


def default_ascending(session) -> bool:
    """Whether an ORDER BY item without ASC or DESC sorts ascending."""
    return session is None or session.config.get("default_order", "asc") == "asc"




def sort_direction(session, node) -> tuple[bool, bool]:
    """(ascending, nulls first) of an ``ORDER BY`` item (a sqlglot Ordered), with the session's
    ``default_order`` and ``default_null_order`` for what the item does not say. Whether NULLS
    FIRST/LAST was written is recorded by quarry's parser (:func:`quarry.sql.statements.parse`);
    an item from elsewhere keeps what sqlglot decided."""
    desc = node.args.get("desc")
    ascending = default_ascending(session) if desc is None else not desc
    explicit = node.meta.get("nulls_explicit") if node.meta else None
    if explicit is None or explicit:
        return ascending, bool(node.args.get("nulls_first"))
    return ascending, null_placement(session, ascending)


__all__ = ["ALIASES", "HARMLESS", "NULL_ORDERS", "check_value", "config_key", "default_ascending", "display",
           "null_placement", "sort_direction", "sql_value"]
