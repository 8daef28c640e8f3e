"""Parse SQL text and bind each statement to a command; run the commands in order.

Supported statements: queries (SELECT, set operations, VALUES, WITH), EXPLAIN
[VERBOSE | ANALYZE], CREATE [OR REPLACE] VIEW, CREATE TABLE ... AS, CREATE
TABLE t (columns), CREATE TABLE t USING parquet LOCATION 'path', INSERT INTO,
DELETE and UPDATE (in-memory tables), SET and RESET, DROP TABLE/VIEW [IF EXISTS], SHOW TABLES, DESCRIBE,
DESCRIBE HISTORY (Delta tables), COPY (query) TO 'file'.

:func:`bind_statement` turns one parsed statement into a command of
:mod:`quarry.sql.commands` (everything resolved, nothing run); :func:`run_sql` runs
each statement's command and returns the typed result of the last one: a query
plan (not run), a status, a row count or an explain text.

A script is split at semicolons by :mod:`quarry.sql.lexer` (the shell's splitter
too); each statement is parsed with the text before it blanked out, so the line and
column of any error are positions in the whole script. Whatever goes wrong ends as a
QuarryError (an unexpected exception becomes a PlanError that names itself a bug,
its cause attached).
"""

from __future__ import annotations

import logging
import re

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ErrorLevel
from sqlglot.tokens import TokenType

from quarry.catalog.writer import check_options, format_for_path
from quarry.errors import (
    BindError, DataError, ParseError, PlanError, QuarryError, QuarryTypeError, UnsupportedError, suggest,
)
from quarry.logical import types as T
from quarry.logical.builder import cast_plan_output
from quarry.sql import commands as C
from quarry.sql.binder import Binder
from quarry.sql import settings
from quarry.sql.dml import bind_delete, bind_update
from quarry.sql.expr_binder import node_position, sql_type
from quarry.sql.lexer import split_statements, unterminated_quote
from quarry.sql.scope import Scope
from quarry.sql.attach import bind_attach_statement, is_attach_statement
from quarry.sql.secrets import bind_secret_statement, is_secret_statement

logging.getLogger("sqlglot").setLevel(logging.ERROR)

_EXPLAIN = re.compile(r"^(\s*)(explain)(\s+(analyze|verbose))?\b", re.IGNORECASE)


# words that start a SQL statement (supported or not): any other first word is a misspelling
_STATEMENT_WORDS = ("SELECT", "WITH", "VALUES", "FROM", "INSERT", "CREATE", "DROP", "SHOW", "DESCRIBE", "DESC",
                    "COPY", "EXPLAIN", "TABLE", "SET", "RESET", "PRAGMA", "SUMMARIZE", "DELETE", "UPDATE",
                    "MERGE", "ALTER", "TRUNCATE", "ATTACH", "DETACH", "USE", "INSTALL", "LOAD", "CALL", "BEGIN",
                    "START", "COMMIT", "ROLLBACK", "ABORT", "END", "PREPARE", "EXECUTE", "DEALLOCATE", "VACUUM",
                    "ANALYZE", "CHECKPOINT", "EXPORT", "IMPORT", "PIVOT", "UNPIVOT", "GRANT", "REVOKE", "COMMENT")


def _misspelled_statement(text: str) -> ParseError | None:
    """A ParseError at the first word when it is no statement keyword (``SELEC 1``), else None."""
    m = re.match(r"(\s|--[^\n]*\n?|/\*.*?\*/)*([A-Za-z_]+)", text, re.S)
    if m is None or m.group(2).upper() in _STATEMENT_WORDS or text[m.end(2):m.end(2) + 1] in (".", "("):
        return None
    word, start = m.group(2), m.start(2)
    before = text[:start]
    line, col = before.count("\n") + 1, start - (before.rfind("\n") + 1) + 1
    hint = suggest(word, _STATEMENT_WORDS) or "statements start with SELECT, WITH, CREATE, INSERT, ..."
    return ParseError(f"syntax error: `{word}` does not start a statement", sql=text, line=line, column=col,
                      hint=hint.replace("`", "") if hint.startswith("did") else hint)


def _charset_call(cls, args):
    node = cls(this=args[0] if args else None, charset=exp.Literal.string("utf-8"))
    if len(args) > 1:
        node.meta["charset_written"] = True
    return node


def _distinct_pair(cls):
    """A builder of ``corr(DISTINCT y, x)``-style calls: sqlglot reads ``DISTINCT y, x`` as one argument and
    then misses the second; it becomes ``DISTINCT y`` and ``x``, as ``regr_slope(DISTINCT y, x)`` reads."""
    def build(args):
        if len(args) == 1 and isinstance(args[0], exp.Distinct) and len(args[0].expressions) == 2:
            first, second = args[0].expressions
            return cls(this=exp.Distinct(expressions=[first]), expression=second)
        return cls.from_arg_list(args)
    return build


class _Parser(DuckDB.Parser):
    """DuckDB's parser, recording on each ORDER BY item whether NULLS FIRST/LAST was written
    (``meta["nulls_explicit"]``): sqlglot's tree says the same for ``NULLS LAST`` and for nothing,
    and only the latter follows ``SET default_null_order``."""

    # encode(s, charset) / decode(b, charset): DuckDB's take one argument, and sqlglot's reading drops a
    # second; it is kept (meta["charset_written"]) so the binder refuses it rather than ignore it
    FUNCTIONS = {**DuckDB.Parser.FUNCTIONS,
                 "ENCODE": lambda args: _charset_call(exp.Encode, args),
                 "DECODE": lambda args: _charset_call(exp.Decode, args),
                 "CORR": _distinct_pair(exp.Corr), "COVAR_POP": _distinct_pair(exp.CovarPop),
                 "COVAR_SAMP": _distinct_pair(exp.CovarSamp)}

    def _parse_ordered(self, parse_method=None):
        after = []
        inner = parse_method or self._parse_disjunction

        def parse_item():
            item = inner()
            after.append(self._index)       # the tokens after the item: [ASC|DESC] [NULLS FIRST|LAST]
            return item
        node = super()._parse_ordered(parse_item)
        if node is not None and after:
            words = [t.text.upper() for t in self._tokens[after[0]:after[0] + 3]]
            node.meta["nulls_explicit"] = "NULLS" in words[:2]
        return node


    def validate_expression(self, expression, args=None):
        # sqlglot's message names its own classes ("Required keyword: 'expression' missing for
        # <class 'sqlglot.expressions.core.EQ'>"): say what is missing in SQL's words instead
        if self.error_level != ErrorLevel.IGNORE and \
                any(m.startswith("Required keyword") for m in expression.error_messages(args)):
            after = self._prev.text if self._prev is not None else ""
            self.raise_error(f"an expression is missing after `{after}`" if after else "an expression is missing")
        return super().validate_expression(expression, args)

    def _parse_join(self, *args, **kwargs):
        node = super()._parse_join(*args, **kwargs)
        # `JOIN t ON` with nothing after ON: sqlglot leaves no condition, which would be a cross join
        if isinstance(node, exp.Join) and node.args.get("on") is None and self._prev is not None \
                and self._prev.token_type == TokenType.ON:
            self.raise_error("a join condition is missing after `ON`")
        return node

    def _parse_exponent(self):
        # as sqlglot's, recording which operator was written: DuckDB names ``2 ** 3`` and ``2 ^ 3`` apart
        this = self._parse_unary()
        while self._match_set(self.EXPONENT):
            token, comments = self._prev, self._prev_comments
            this = self.expression(self.EXPONENT[token.token_type](this=this, expression=self._parse_unary()),
                                   comments=comments)
            this.meta["operator"] = token.text
        return this

    def _parse_unary(self):
        # unary ``+`` is a no-op, but DuckDB names ``+a`` ``(+(a))``: count the pluses on the operand
        if self._curr is not None and self._curr.token_type == TokenType.PLUS:
            self._advance()
            node = self._parse_unary()
            if node is not None:
                node.meta["unary_plus"] = node.meta.get("unary_plus", 0) + 1
            return node
        return super()._parse_unary()

    def _parse_type(self, *args, **kwargs):
        # a typed literal takes the operators after it as a whole, as in DuckDB: TIMESTAMP 'x'::VARCHAR
        # is CAST(TIMESTAMP 'x' AS VARCHAR) (sqlglot applies them to the string first, making it
        # CAST(CAST('x' AS VARCHAR) AS TIMESTAMP), a TIMESTAMP)
        outer = getattr(self, "_typed_literal_held", False)
        self._typed_literal_held = False
        try:
            node = super()._parse_type(*args, **kwargs)
            held = self._typed_literal_held
        finally:
            self._typed_literal_held = outer
        return self._parse_column_ops(node) if held else node

    def _parse_column_ops(self, this):
        at = getattr(self, "_typed_literal_at", None)
        if at is not None and at == self._index - 1 and isinstance(this, exp.Literal) and this.is_string:
            self._typed_literal_at = None
            self._typed_literal_held = True     # applied to the typed literal by _parse_type
            return this
        return super()._parse_column_ops(this)

    def _parse_types(self, *args, **kwargs):
        # the type as written (``TEXT``, ``INT8``, ``DECIMAL``): output names keep DuckDB's spelling
        start = self._index
        node = super()._parse_types(*args, **kwargs)
        if isinstance(node, exp.DataType) and self._index > start:
            node.meta["type_text"] = " ".join(t.text for t in self._tokens[start:self._index])
            if kwargs.get("check_func") and kwargs.get("allow_identifiers") is False and self._curr is not None \
                    and self._curr.token_type == TokenType.STRING:
                self._typed_literal_at = self._index        # TIMESTAMP 'x': the string at this token
        return node


class _Dialect(DuckDB):
    """The DuckDB dialect with quarry's :class:`_Parser`; SQL is generated as DuckDB's.

    Indexes stay as written (``l[1]`` is the first element, as in DuckDB): sqlglot's DuckDB
    dialect would shift constant ones to 0-based, and only those whose type it can guess."""

    INDEX_OFFSET = 0

    class Parser(_Parser):
        pass


DIALECT = _Dialect          # SQL generated from a parsed statement (views, messages) reads back the same


def _index_maps(statements) -> None:
    """``MAP {'k': 1}['k']`` indexes the map: sqlglot hangs the brackets on the braces inside MAP
    (``MAP ({'k': 1}['k'])``, a map of a struct's field); put them on the map, as DuckDB reads it."""
    for statement in statements:
        for node in list(statement.find_all(exp.ToMap)):
            top = node.this
            if not isinstance(top, exp.Bracket):
                continue
            base = top
            while isinstance(base.this, exp.Bracket):
                base = base.this
            if not isinstance(base.this, exp.Struct):
                continue
            base.set("this", exp.ToMap(this=base.this))
            node.replace(top)


def parse(text: str) -> list[exp.Expression]:
    """Parse SQL into sqlglot statements; syntax errors become a ParseError with a caret."""
    try:
        statements = sqlglot.parse(text, read=_Dialect)
    except sqlglot.errors.ParseError as err:
        misspelled = _misspelled_statement(text)
        if misspelled is not None:
            raise misspelled from None
        info = err.errors[0] if err.errors else {}
        line, col = info.get("line"), info.get("col")
        highlight = info.get("highlight") or ""
        if col is not None and highlight:
            col = max(col - len(highlight) + 1, 1)
        desc = info.get("description") or str(err)
        desc = re.sub(r"<Token token_type: TokenType\.(\w+), text: ([^,]*),.*?>", r"`\2`", desc)
        hint = None
        if highlight:
            hint = f"check the SQL near `{highlight}`"
        raise ParseError(f"syntax error: {desc}", sql=text, line=line, column=col, hint=hint) from None
    except sqlglot.errors.TokenError as err:
        start = unterminated_quote(text)
        if start is None:
            raise ParseError(f"syntax error: {err}", sql=text, hint="check quotes and brackets") from None
        before = text[:start]
        line, col = before.count("\n") + 1, start - (before.rfind("\n") + 1) + 1
        raise ParseError("syntax error: unterminated quoted string", sql=text, line=line, column=col,
                         hint=f"close the {text[start]} that starts here") from None
    statements = [s for s in statements if s is not None]
    _quantify_all(statements)
    _index_maps(statements)
    _record_source(statements, text)
    return statements


_COMPARISON_NODES = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)


def _quantify_all(statements) -> None:
    """``x > ALL (l)`` / ``x = SOME (l)`` over a list: sqlglot reads ``ALL (l)`` as a call of a function
    ``all`` (only ``ALL (SELECT ...)`` becomes a quantifier); make it the quantifier, as ``ANY (l)``
    already is."""
    quantifiers = {"ALL": exp.All, "SOME": exp.Any}
    for statement in statements:
        for node in list(statement.find_all(exp.Anonymous)):
            if node.name.upper() in quantifiers and len(node.expressions) == 1 and node.arg_key == "expression" \
                    and isinstance(node.parent, _COMPARISON_NODES):
                node.replace(quantifiers[node.name.upper()](this=exp.Paren(this=node.expressions[0])))


def _record_source(statements, text: str) -> None:
    """Keep on each node the parser placed in the text (functions, literals) the text it was written
    as, ``meta["source"]``: output names spell functions and numbers as written (see sql/names.py)."""
    for statement in statements:
        for node in statement.walk():
            meta = node._meta if hasattr(node, "_meta") else None
            if meta and "start" in meta and "end" in meta and "source" not in meta:
                meta["source"] = text[meta["start"]:meta["end"] + 1]


def run_sql(session, text: str) -> C.StatementResult:
    """Run every statement in ``text``; return the typed result of the last one.

    Each statement is parsed with everything before it blanked out (newlines kept), so
    error positions are positions in the whole script and carets point into it.
    """
    spans = split_statements(text)
    if not spans:
        raise ParseError("empty statement", sql=text, hint="write a query, e.g. SELECT 1")
    result = None
    for offset, piece in spans:
        padded = re.sub(r"[^\n]", " ", text[:offset]) + piece
        try:
            result = _run_one(session, padded)
        except QuarryError as err:
            if err.sql == padded:
                err.sql = text
            raise
    return result


def _run_one(session, text: str) -> C.StatementResult:
    m = _EXPLAIN.match(text)
    if m:
        mode = (m.group(4) or "").lower() or "plan"
        # keep character positions for error carets: blank the EXPLAIN prefix instead of cutting it
        inner = " " * m.end() + text[m.end():]
        try:
            statements = parse(inner)
        except ParseError as err:
            err.sql = text
            raise
        if len(statements) != 1:
            raise ParseError("EXPLAIN takes exactly one query", sql=text)
        return _guarded(statements[0], text, lambda node: run_command(session, C.Explain(
            Binder(session, inner).bind_statement_query(node), mode)))
    if is_secret_statement(text):
        # before sqlglot, which cannot parse it and would log its text (keys and all)
        return run_command(session, bind_secret_statement(text))
    if is_attach_statement(text):
        # ATTACH ... (TYPE iceberg): its options may hold a catalog's credentials, as a secret's do
        return run_command(session, bind_attach_statement(text))
    statements = parse(text)
    if len(statements) != 1:
        raise ParseError("expected one statement", sql=text)
    return _guarded(statements[0], text, lambda node: run_command(session, bind_statement(session, node, text)))


def run_command(session, command: C.Command) -> C.StatementResult:
    """Run a bound ``command``, past the session's ``command_guard`` when it has one (a server's check of
    what the caller's role may do: ``check`` before running, ``done`` after it succeeded)."""
    guard = getattr(session, "command_guard", None)
    if guard is None:
        return command.run(session)
    guard.check(command)
    result = command.run(session)
    guard.done(command)
    return result


def _guarded(node, text: str, run):
    """``run(node)``, with every failure turned into a QuarryError that points into ``text``."""
    try:
        return run(node)
    except QuarryError as err:
        if err.line is None:
            line, col = node_position(node, text)
            err.with_position(text, line, col)
        err.sql = text
        raise
    except (pa.ArrowException, OSError) as exc:
        # a statement that runs at once (CREATE TABLE AS, INSERT, COPY) failed on its data
        line, col = node_position(node, text)
        raise DataError(f"statement failed: {exc}", sql=text, line=line, column=col) from exc
    except Exception as exc:
        # a bug, but still one error family for the caller; the cause stays attached
        line, col = node_position(node, text)
        raise PlanError(f"internal error while planning: {type(exc).__name__}: {exc}", sql=text, line=line,
                        column=col, hint="this is a bug in quarry; please report it") from exc


_QUERIES = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)


def run_prepared(session, node: exp.Expression, text: str, parameters=None,
                 batch: pa.Table | None = None) -> C.StatementResult:
    """Run one parsed statement whose ``$n`` placeholders take bound values (a prepared statement).

    ``parameters`` is one row of values (Arrow scalars, in placeholder order); ``batch`` is a
    table of parameter rows, which only ``INSERT INTO t VALUES (...)`` takes (every row is
    inserted by one append; see :meth:`Binder.bind_parameter_batch`). The values become typed
    literals or columns of the plan, never SQL text.
    """
    return _guarded(node, text, lambda n: bind_statement(session, n, text, parameters, batch).run(session))


def _describe_history(session, target) -> C.DescribeHistory:
    """DESCRIBE HISTORY of a Delta table: by path (``'s3://lake/t'``, ``delta."/data/t"``) or by the name
    of a registered Delta table."""
    if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier):
        raise UnsupportedError(f"DESCRIBE HISTORY of `{target.sql()}`", hint="name a Delta table or its path")
    name = target.name
    if target.db.lower() == "delta" and not target.catalog:
        return C.DescribeHistory(name)                 # Spark's delta."path"
    if target.db or target.catalog:
        raise UnsupportedError(f"DESCRIBE HISTORY of `{target.sql()}`: only Delta tables have a history here",
                               hint='name a registered Delta table, or its path as \'path\' or delta."path"')
    if target.this.quoted and ("/" in name or "\\" in name or "://" in name) and not session.catalog.exists(name):
        return C.DescribeHistory(name)
    provider = session.catalog.get(name)
    if getattr(provider, "kind", None) != "delta":
        raise UnsupportedError(f"DESCRIBE HISTORY of `{name}`, a {getattr(provider, 'kind', 'table')} table: "
                               "only Delta tables keep a commit history", hint="DESCRIBE shows its columns")
    return C.DescribeHistory(provider.location)


def _iceberg_catalog_of(session, table: exp.Table) -> str | None:
    """The registered Iceberg catalog a ``catalog.db.table`` name is in, if any."""
    catalog = table.args.get("catalog")
    if catalog is None or table.catalog not in getattr(session, "iceberg_catalogs", {}):
        return None
    return table.catalog


def _refuse_iceberg_writes(session, node: exp.Expression) -> None:
    """CREATE, INSERT, DROP, DELETE, UPDATE, MERGE of a registered Iceberg catalog's table: quarry
    reads Iceberg tables and does not write them (rather than quietly making a table in `main`)."""
    if not isinstance(node, (exp.Create, exp.Insert, exp.Drop, exp.Delete, exp.Update, exp.Merge)):
        return
    tables = node.args.get("tables") or []
    targets = (tables if isinstance(tables, list) else [tables]) + [node.this]
    for target in targets:
        table = target.this if isinstance(target, exp.Schema) else target
        if isinstance(table, exp.Table) and _iceberg_catalog_of(session, table) is not None:
            raise UnsupportedError(f"{node.key.upper()} on Iceberg table `{table.catalog}.{table.db}.{table.name}`",
                                   hint="quarry reads Iceberg tables; write them with pyiceberg (or Spark)")


def bind_statement(session, node: exp.Expression, text: str, parameters=None,
                   batch: pa.Table | None = None) -> C.Command:
    """The command for one parsed statement: names resolved and the query bound, nothing run.

    ``text`` is the statement's SQL (with the script before it blanked out), for error positions;
    ``parameters`` and ``batch`` are the values of its placeholders (see :func:`run_prepared`).
    """
    binder = Binder(session, text, parameters)
    if batch is not None and not _is_values_insert(node):
        raise UnsupportedError("a batch of parameter rows for a statement other than INSERT INTO t VALUES (...)",
                               hint="bind one row at a time")
    if isinstance(node, _QUERIES):
        return C.Query(binder.bind_statement_query(node), text)
    _refuse_iceberg_writes(session, node)
    if isinstance(node, exp.Create):
        return _create(session, binder, node)
    if isinstance(node, exp.Insert):
        return _insert(session, binder, node, batch)
    if isinstance(node, exp.Drop):
        kind = (node.args.get("kind") or "TABLE").upper()
        if kind not in ("TABLE", "VIEW"):
            raise UnsupportedError(f"DROP {kind} is not supported")
        names = tuple(t.name for t in node.args.get("tables") or [node.this])
        return C.Drop(kind, names, bool(node.args.get("exists")))
    if isinstance(node, exp.Show):
        what = str(node.this).upper()
        if what not in ("TABLES", "ALL TABLES"):
            raise UnsupportedError(f"SHOW {what} is not supported", hint="use SHOW TABLES")
        return C.ShowTables()
    if isinstance(node, exp.Describe) and str(node.args.get("style") or "").upper() == "HISTORY":
        return _describe_history(session, node.this)
    if isinstance(node, exp.Describe):
        target = node.this
        if isinstance(target, exp.Table) and _iceberg_catalog_of(session, target) is not None:
            return C.Describe(session.iceberg_table(f"{target.catalog}.{target.db}.{target.name}").schema)
        if isinstance(target, exp.Table) and isinstance(target.this, exp.Identifier):
            provider = session.catalog.get(target.name)
            return C.Describe(provider.schema)
        return C.Describe(C.output_schema(binder.bind_statement_query(target)))
    if isinstance(node, exp.Copy):
        return _copy(session, binder, node)
    if isinstance(node, exp.Set):
        return _set(session, node)
    if isinstance(node, exp.Command) and str(node.this).upper() == "RESET":
        return _reset(session, node)
    if isinstance(node, exp.Delete):
        return bind_delete(session, binder, node)
    if isinstance(node, exp.Update):
        return bind_update(session, binder, node)
    misspelled = _misspelled_statement(text)
    if misspelled is not None:
        raise misspelled
    if isinstance(node, exp.Command):
        raise UnsupportedError(f"`{node.this}` statements are not supported")
    raise UnsupportedError(f"{node.key.upper()} statements are not supported")


def _set(session, node: exp.Set) -> C.SetOption:
    """``SET [SESSION] name = value`` / ``SET name TO value``: one session setting."""
    if node.args.get("unset") or node.args.get("tag") or len(node.expressions) != 1:
        raise UnsupportedError("this form of SET", hint="write SET name = value, one setting per statement")
    item = node.expressions[0]
    kind = (item.args.get("kind") or "").upper()
    if kind not in ("", "SESSION"):
        raise UnsupportedError(f"SET {kind}: settings belong to the session",
                               hint="write SET name = value (it lasts as long as the session)")
    assignment = item.this
    if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, (exp.Column, exp.Identifier, exp.Var)):
        raise UnsupportedError(f"SET `{item.sql(dialect=DIALECT)}`", hint="write SET name = value")
    key = settings.config_key(assignment.this.name, session.config)
    initial = getattr(session, "initial_config", session.config)
    return C.SetOption(key, settings.check_value(key, settings.sql_value(assignment.expression), initial.get(key)))


def _reset(session, node: exp.Command) -> C.ResetOption:
    """``RESET [SESSION] name`` (sqlglot leaves RESET as text)."""
    words = str(node.expression.this if isinstance(node.expression, exp.Literal) else node.expression).split()
    if words and words[0].upper() == "SESSION":
        words = words[1:]
    if len(words) != 1 or words[0].upper() == "ALL":
        raise UnsupportedError(f"RESET {' '.join(words)}", hint="write RESET name, one setting per statement")
    return C.ResetOption(settings.config_key(words[0].strip(";"), session.config))


def _create(session, binder: Binder, node: exp.Create) -> C.Command:
    kind = (node.args.get("kind") or "").upper()
    target = node.this
    schema_node = target if isinstance(target, exp.Schema) else None
    table = schema_node.this if schema_node is not None else target
    name = table.name
    replace = bool(node.args.get("replace"))
    if bool(node.args.get("exists")) and session.catalog.exists(name):
        return C.Unchanged("CREATE " + kind)
    query = node.expression
    if kind == "VIEW":
        if query is None:
            raise BindError("CREATE VIEW needs AS SELECT ...")
        if any(isinstance(n, exp.Placeholder) for n in query.walk()):
            # a view is bound again each time it is read, when the values are gone
            raise UnsupportedError("parameters (`?`) in CREATE VIEW", hint="write the values into the view")
        sql_text = query.sql(dialect=DIALECT)
        plan = binder.bind_statement_query(query)   # validate now
        return C.CreateView(name, lambda: Binder(session, sql_text).bind_statement_query(parse(sql_text)[0]),
                            C.output_schema(plan), sql_text, replace)
    if kind != "TABLE":
        raise UnsupportedError(f"CREATE {kind} is not supported")
    props = node.args.get("properties")
    location = None
    fmt = None
    if props is not None:
        for p in props.expressions:
            if isinstance(p, exp.LocationProperty):
                location = p.this.this if isinstance(p.this, exp.Literal) else p.this.name
            elif isinstance(p, exp.FileFormatProperty):
                fmt = (p.this.name if hasattr(p.this, "name") else str(p.this)).lower()
            else:
                raise UnsupportedError(f"CREATE TABLE property `{p.sql(dialect=DIALECT)}` is not supported",
                                       hint="CREATE TABLE takes USING parquet|csv LOCATION 'path'")
    if location is not None:
        if fmt not in (None, "parquet", "csv"):
            raise UnsupportedError(f"USING {fmt} is not supported", hint="use USING parquet or USING csv")
        return C.CreateExternalTable(name, location, fmt, replace)
    if fmt is not None:
        raise BindError(f"USING {fmt} needs a LOCATION 'path'")
    if query is not None:
        return C.CreateTableAs(name, binder.bind_statement_query(query), replace)
    if schema_node is None:
        raise BindError("CREATE TABLE needs columns, AS SELECT, or USING ... LOCATION")
    fields = []
    for col in schema_node.expressions:
        if isinstance(col, exp.ColumnDef):
            dtype = sql_type(col.args["kind"])
            for c in col.constraints:
                # every constraint but [NOT] NULL changes what the table accepts or how it compares
                if not isinstance(c.kind, exp.NotNullColumnConstraint):
                    raise UnsupportedError(f"the column constraint `{c.sql(dialect=DIALECT)}` is not supported",
                                           hint="CREATE TABLE columns take a type and NOT NULL only")
            not_null = any(isinstance(c.kind, exp.NotNullColumnConstraint) and not c.kind.args.get("allow_null")
                           for c in col.constraints)
            fields.append(pa.field(col.name, dtype, not not_null))
    return C.CreateTable(name, pa.schema(fields), replace)


def _is_values_insert(node: exp.Expression) -> bool:
    """Whether ``node`` is ``INSERT INTO t [(columns)] VALUES (one row)``: the form a parameter batch binds to."""
    values = node.expression if isinstance(node, exp.Insert) else None
    return isinstance(values, exp.Values) and len(values.expressions) == 1


def _insert(session, binder: Binder, node: exp.Insert, batch: pa.Table | None = None) -> C.Insert:
    target = node.this
    columns = None
    if isinstance(target, exp.Schema):
        if any(not isinstance(c, (exp.Identifier, exp.Column)) for c in target.expressions) and \
                not session.catalog.exists(target.this.name):
            # INSERT INTO delta_scan('path') / iceberg_scan(...): a table function, not a table
            raise UnsupportedError(f"INSERT into the table function `{target.this.name}(...)`",
                                   hint="quarry writes Delta tables with df.write_delta(path, mode='append'); "
                                        "it does not write Iceberg tables")
        columns = [c.name for c in target.expressions]
        target = target.this
    schema = session.catalog.get(target.name).schema
    names = columns or schema.names
    by_lower = {c.lower(): c for c in schema.names}
    for n in names:
        if n.lower() not in by_lower:
            raise BindError(f"table `{target.name}` has no column `{n}`", hint=suggest(n, schema.names))
    names = [by_lower[n.lower()] for n in names]
    if len(set(names)) != len(names):
        raise BindError(f"INSERT names a column of `{target.name}` twice")
    targets = [schema.field(n).type for n in names]
    source = node.expression
    if batch is not None:
        # every row of the bound parameter batch at once: a scan of the batch, cast to the columns
        plan = binder.bind_parameter_batch(source.expressions[0], batch, targets)
    elif isinstance(source, exp.Values):
        # each value converts to its column's type, so ('7') fits an INTEGER column
        plan = binder.bind_values(source, Scope(), types=targets)
    else:
        plan = binder.bind_statement_query(source)
    if len(names) != len(plan.schema):
        raise BindError(f"INSERT has {len(plan.schema)} values for {len(names)} columns",
                        hint="give one value per target column, or list the columns")
    # cast in the plan, so values convert as SQL's CAST does (rounding, string parsing, checks)
    for n, f, t in zip(names, plan.schema, targets):
        if not (T.common_type(f.dtype, t) is not None or T.is_string(f.dtype) or T.is_string(t)):
            raise QuarryTypeError(f"cannot insert {T.sql_name(f.dtype)} into column `{n}` ({T.sql_name(t)})",
                                  hint="CAST the value to the column's type")
    return C.Insert(target.name, tuple(names), cast_plan_output(plan, targets))


# COPY options quarry takes, by their SQL names, and the writer option each one sets
_COPY_OPTIONS = {"format": "format", "header": "header", "delimiter": "delimiter", "delim": "delimiter",
                 "sep": "delimiter", "compression": "compression", "codec": "compression"}


def _option_value(node):
    if node is None:
        return True                              # a bare option, as in (HEADER)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else node.to_py()
    if isinstance(node, (exp.Var, exp.Identifier, exp.Column)):
        text = node.name
        return {"true": True, "false": False}.get(text.lower(), text)
    return node.sql(dialect=DIALECT)


def _copy(session, binder: Binder, node: exp.Copy) -> C.Copy:
    if node.args.get("kind"):        # sqlglot's kind is True for COPY ... FROM
        raise UnsupportedError("COPY ... FROM is not supported",
                               hint="read a file with SELECT * FROM 'file', or CREATE TABLE t AS SELECT * FROM 'file'")
    source = node.this
    if isinstance(source, exp.Subquery):
        plan = binder.bind_statement_query(source.this)
    elif isinstance(source, exp.Table) and not isinstance(source.this, exp.Subquery):
        plan = binder.bind_statement_query(exp.select("*").from_(source.copy()))
    else:
        plan = binder.bind_statement_query(source)
    files = node.args.get("files") or []
    if not files:
        raise BindError("COPY needs a destination: COPY (query) TO 'file.parquet'")
    path = files[0].this if isinstance(files[0], exp.Literal) else files[0].name
    options: dict = {}
    partition_by: tuple[str, ...] = ()
    for p in node.args.get("params") or []:
        key = (p.this.name if hasattr(p.this, "name") else str(p.this)).lower()
        if key == "partition_by":
            partition_by = _partition_columns(p.expression, output_names(plan))
            continue
        if key not in _COPY_OPTIONS:
            raise UnsupportedError(f"COPY option `{key.upper()}` is not supported",
                                   hint=suggest(key, list(_COPY_OPTIONS) + ["partition_by"])
                                   or "COPY takes FORMAT, HEADER, DELIMITER, COMPRESSION and PARTITION_BY")
        options[_COPY_OPTIONS[key]] = _option_value(p.expression)
    fmt = str(options.pop("format", "") or "").lower()
    if not fmt:
        # the name picks the format: .csv (.csv.gz) and .tsv are CSV, anything else Parquet
        fmt = format_for_path(path)
        if fmt not in ("csv", "tsv", "json", "ndjson"):
            fmt = "parquet"
    elif fmt not in ("parquet", "csv", "json"):
        raise UnsupportedError(f"COPY format `{fmt}` is not supported",
                               hint="use FORMAT parquet, FORMAT csv or FORMAT json")
    if fmt == "json":
        fmt = "ndjson"          # as DuckDB's COPY writes JSON: one object per line
    if fmt == "tsv":
        # a .tsv file is CSV with tabs, so that it reads back as one (read_csv takes .tsv as tab-separated)
        fmt = "csv"
        options.setdefault("delimiter", "\t")
    check_options(fmt, options)
    if partition_by and fmt != "parquet":
        raise UnsupportedError(f"PARTITION_BY with FORMAT {fmt}", hint="partitioned output is Parquet")
    return C.Copy(plan, path, fmt, tuple(sorted(options.items())), partition_by)


def output_names(plan) -> list[str]:
    return list(C.output_schema(plan).names)


def _partition_columns(node, names: list[str]) -> tuple[str, ...]:
    """The columns of ``PARTITION_BY (a, b)``, each one of the query's output columns."""
    items = node.expressions if isinstance(node, exp.Tuple) else [node.this if isinstance(node, exp.Paren) else node]
    out = []
    for item in items:
        if not isinstance(item, (exp.Column, exp.Identifier, exp.Var)):
            raise UnsupportedError(f"PARTITION_BY `{item.sql(dialect=DIALECT)}`", hint="PARTITION_BY names columns: "
                                   "PARTITION_BY (year, month)")
        name = item.name
        match = [n for n in names if n.lower() == name.lower()]
        if not match:
            raise BindError(f"PARTITION_BY column `{name}` is not in the query's output",
                            hint=suggest(name, names) or "output columns: " + ", ".join(names))
        out.append(match[0])
    return tuple(out)
