"""Tab completion for the shell: SQL keywords, functions, tables, columns and dot commands.

Columns of the tables the statement already mentions come first (``SELECT l_<Tab>
FROM lineitem`` offers lineitem's columns before any other table's); after FROM
or JOIN, table names come first; ``alias.<Tab>`` offers that table's columns only.
Schemas are read through the public session API (``con.tables()``,
``con.table(name).schema``) and cached until the shell says the catalog changed.
"""

from __future__ import annotations

import re
from typing import Iterable

from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from quarry.sql.lexer import quote_identifier

KEYWORDS = (
    "ALL", "AND", "ANALYZE", "ANTI", "AS", "ASC", "BETWEEN", "BY", "CASE", "CAST", "COPY", "CREATE",
    "CROSS", "CURRENT", "DATE", "DESC", "DESCRIBE", "DISTINCT", "DROP", "ELSE", "END", "EXCEPT",
    "EXISTS", "EXPLAIN", "FALSE", "FILTER", "FIRST", "FOLLOWING", "FROM", "FULL", "GROUP", "HAVING",
    "IF", "ILIKE", "IN", "INNER", "INSERT", "INTERSECT", "INTERVAL", "INTO", "IS", "JOIN", "LAST",
    "LATERAL", "LEFT", "LIKE", "LIMIT", "LOCATION", "NOT", "NULL", "NULLS", "OFFSET", "ON", "OR",
    "ORDER", "OUTER", "OVER", "PARTITION", "PRECEDING", "QUALIFY", "RANGE", "RECURSIVE", "REPLACE",
    "RIGHT", "ROWS", "SELECT", "SEMI", "SET", "SHOW", "TABLE", "TABLES", "THEN", "TIMESTAMP", "TO",
    "TRUE", "UNBOUNDED", "UNION", "USING", "VALUES", "VERBOSE", "VIEW", "WHEN", "WHERE", "WINDOW",
    "WITH",
    # type names, for CAST(x AS ...) and CREATE TABLE
    "BIGINT", "BOOLEAN", "DECIMAL", "DOUBLE", "INTEGER", "REAL", "SMALLINT", "TINYINT", "VARCHAR",
)

# after these words a table name is expected
_TABLE_CONTEXT = {"FROM", "JOIN", "INTO", "TABLE", "DESCRIBE", "UPDATE"}
_CLAUSES = re.compile(r"\b(select|from|join|where|group|order|having|on|limit|set|into|table|"
                      r"describe|update|using|qualify|window|values)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_TAIL = re.compile(r"(?:([A-Za-z_][A-Za-z0-9_$]*)\.)?([A-Za-z_][A-Za-z0-9_$]*)?$")
_ALIAS_AFTER = re.compile(r"\s+(?:as\s+)?([A-Za-z_][A-Za-z0-9_$]*)", re.IGNORECASE)
class SchemaCache:
    """Table names and their columns, read from the session on first use and kept until reset."""

    def __init__(self, con):
        self.con = con
        self._tables: list[str] | None = None
        self._columns: dict[str, list[str]] = {}

    def reset(self) -> None:
        self._tables = None
        self._columns = {}

    def tables(self) -> list[str]:
        if self._tables is None:
            try:
                self._tables = list(self.con.tables())
            except Exception:       # completion must never break typing
                self._tables = []
        return self._tables

    def columns(self, table: str) -> list[str]:
        key = table.lower()
        if key not in self._columns:
            try:
                self._columns[key] = list(self.con.table(table).schema.names)
            except Exception:
                self._columns[key] = []
        return self._columns[key]

    def table_named(self, word: str) -> str | None:
        lowered = word.lower()
        for t in self.tables():
            if t.lower() == lowered:
                return t
        return None


def mentioned_tables(text: str, schema: SchemaCache) -> tuple[list[str], dict[str, str]]:
    """Tables named in ``text`` (in order) and a map from alias (lowercase) to table.

    >>> class S:
    ...     def tables(self): return ["lineitem", "orders"]
    ...     table_named = SchemaCache.table_named
    >>> mentioned_tables("SELECT * FROM lineitem l JOIN orders AS o ON", S())
    (['lineitem', 'orders'], {'lineitem': 'lineitem', 'l': 'lineitem', 'orders': 'orders', 'o': 'orders'})
    """
    found: list[str] = []
    aliases: dict[str, str] = {}
    for m in _WORD.finditer(text):
        table = schema.table_named(m.group())
        if table is None:
            continue
        if table not in found:
            found.append(table)
        aliases[m.group().lower()] = table
        alias = _ALIAS_AFTER.match(text, m.end())
        if alias:
            word = alias.group(1)
            if word.upper() not in KEYWORDS and schema.table_named(word) is None:
                aliases[word.lower()] = table
    return found, aliases


class SqlCompleter(Completer):
    """Completes SQL and dot commands against the live catalog."""

    def __init__(self, schema: SchemaCache, functions: Iterable[str], dot_commands: dict[str, str],
                 modes: Iterable[str]):
        self.schema = schema
        self.functions = sorted(set(functions))
        self.dot_commands = dot_commands
        self.modes = list(modes)
        self.paths = PathCompleter(expanduser=True)

    # -- entry point -------------------------------------------------------------------------

    def get_completions(self, document: Document, complete_event):
        before = document.text_before_cursor
        if before.lstrip().startswith(".") and "\n" not in before.lstrip():
            yield from self._dot(document)
            return
        yield from self._sql(document.text, before)

    # -- dot commands --------------------------------------------------------------------------

    def _dot(self, document: Document):
        before = document.text_before_cursor.lstrip()
        if " " not in before:
            for name, help_text in self.dot_commands.items():
                if name.startswith(before):
                    yield Completion(name, -len(before), display_meta=help_text)
            return
        command, _, arg = before.partition(" ")
        word = arg.split(" ")[-1]
        if command in (".schema", ".describe"):
            yield from self._words(word, self.schema.tables(), "table")
        elif command == ".mode" and " " not in arg.strip():
            yield from self._words(word, self.modes, "mode")
        elif command == ".timer":
            yield from self._words(word, ["on", "off"], "")
        elif command in (".open", ".read", ".output") or (command == ".mode" and " " in arg.strip()):
            path_text = arg.split(" ")[-1]
            yield from self.paths.get_completions(Document(path_text, len(path_text)), None)
        elif command == ".explain":
            if " " not in arg:
                yield from self._words(word, ["verbose", "analyze"], "explain mode")
            yield from self._sql(arg, arg)

    def _words(self, prefix: str, words: Iterable[str], meta: str):
        lowered = prefix.lower()
        for w in words:
            if w.lower().startswith(lowered):
                yield Completion(w, -len(prefix), display_meta=meta)

    # -- SQL -------------------------------------------------------------------------------------

    def _sql(self, text: str, before: str):
        m = _TAIL.search(before)
        qualifier, prefix = m.group(1), m.group(2) or ""
        tables, aliases = mentioned_tables(text, self.schema)
        if qualifier:
            table = aliases.get(qualifier.lower()) or self.schema.table_named(qualifier)
            if table:
                yield from self._columns([table], prefix, set())
            return
        if not prefix and not before.endswith((" ", "\n", "\t", "(", ",")):
            return
        seen: set[str] = set()
        if self._expects_table(before[:len(before) - len(prefix)]):
            yield from self._tables(prefix, seen)
            yield from self._keywords(prefix, seen)
            return
        yield from self._columns(tables, prefix, seen)
        yield from self._functions(prefix, seen)
        yield from self._keywords(prefix, seen)
        yield from self._tables(prefix, seen)
        others = [t for t in self.schema.tables() if t not in tables]
        yield from self._columns(others, prefix, seen)

    @staticmethod
    def _expects_table(before: str) -> bool:
        words = _WORD.findall(before)
        if words and words[-1].upper() in _TABLE_CONTEXT:
            return True
        clauses = _CLAUSES.findall(before)
        # `FROM a, b` and `FROM a x, <here>`: still in the FROM list
        return bool(clauses) and clauses[-1].upper() == "FROM" and before.rstrip().endswith(",")

    def _columns(self, tables: list[str], prefix: str, seen: set[str]):
        lowered = prefix.lower()
        for table in tables:
            for col in self.schema.columns(table):
                if col.lower().startswith(lowered) and col.lower() not in seen:
                    seen.add(col.lower())
                    yield Completion(quote_identifier(col), -len(prefix), display=col,
                                     display_meta=f"column · {table}")

    def _tables(self, prefix: str, seen: set[str]):
        lowered = prefix.lower()
        for table in self.schema.tables():
            if table.lower().startswith(lowered) and table.lower() not in seen:
                seen.add(table.lower())
                yield Completion(quote_identifier(table), -len(prefix), display=table, display_meta="table")

    def _functions(self, prefix: str, seen: set[str]):
        if not prefix:
            return
        lowered = prefix.lower()
        upper = prefix.isupper()
        for name in self.functions:
            if name.startswith(lowered) and name not in seen:
                seen.add(name)
                text = name.upper() if upper else name
                yield Completion(text, -len(prefix), display=text + "()", display_meta="function")

    def _keywords(self, prefix: str, seen: set[str]):
        if not prefix:
            return
        upper = prefix.upper()
        lower_case = prefix.islower()
        for kw in KEYWORDS:
            if kw.startswith(upper) and kw.lower() not in seen:
                seen.add(kw.lower())
                text = kw.lower() if lower_case else kw
                yield Completion(text, -len(prefix), display_meta="keyword")
