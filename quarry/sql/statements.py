"""Parse SQL text and run each statement: queries become lazy DataFrames, the rest runs at once.

Supported statements: queries (SELECT, set operations, VALUES, WITH), EXPLAIN
[VERBOSE | ANALYZE], CREATE [OR REPLACE] VIEW, CREATE TABLE ... AS, CREATE
TABLE t (columns), CREATE TABLE t USING parquet LOCATION 'path', INSERT INTO,
DROP TABLE/VIEW [IF EXISTS], SHOW TABLES, DESCRIBE, COPY (query) TO 'file'.

A script is split at semicolons by :mod:`quarry.sql.lexer` (the shell's splitter
too); each statement is parsed with the text before it blanked out, so the line and column of any error are positions in the whole script.
Whatever goes wrong ends as a QuarryError (an unexpected exception becomes a
PlanError that names itself a bug, its cause attached).
"""

from __future__ import annotations

import logging
import os
import re

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from quarry.catalog.providers import MemoryTable, ParquetTable, ViewTable
from quarry.errors import (
    BindError, DataError, ParseError, PlanError, QuarryError, QuarryTypeError, UnsupportedError,
)
from quarry.logical import types as T
from quarry.logical.builder import cast_plan_output
from quarry.sql.binder import Binder
from quarry.sql.scope import Scope
from quarry.sql.expr_binder import node_position, sql_type
from quarry.sql.lexer import split_statements, unterminated_quote

logging.getLogger("sqlglot").setLevel(logging.ERROR)

DIALECT = "duckdb"
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
    from quarry.errors import suggest
    word, start = m.group(2), m.start(2)
    before = text[:start]
    line, col = before.count("\n") + 1, start - (before.rfind("\n") + 1) + 1
    hint = suggest(word, _STATEMENT_WORDS) or "statements start with SELECT, WITH, CREATE, INSERT, ..."
    return ParseError(f"syntax error: `{word}` does not start a statement", sql=text, line=line, column=col,
                      hint=hint.replace("`", "") if hint.startswith("did") else hint)


def parse(text: str) -> list[exp.Expression]:
    """Parse SQL into sqlglot statements; syntax errors become a ParseError with a caret."""
    try:
        statements = sqlglot.parse(text, read=DIALECT)
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
    return [s for s in statements if s is not None]


def run_sql(session, text: str):
    """Run every statement in ``text``; return the DataFrame of the last one.

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


def _status(session, message: str, rows: int | None = None):
    from quarry.api.dataframe import DataFrame
    table = pa.table({"status": [message]}) if rows is None else pa.table({"count": pa.array([rows], pa.int64())})
    return DataFrame.from_arrow(session, table)


def _run_one(session, text: str):
    from quarry.api.dataframe import DataFrame
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
        return _guarded(statements[0], text, lambda node: DataFrame.from_arrow(
            session, pa.table({"plan": [_query(session, node, inner).explain_string(mode)]})))
    statements = parse(text)
    if len(statements) != 1:
        raise ParseError("expected one statement", sql=text)
    return _guarded(statements[0], text, lambda node: _dispatch(session, node, text))


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


def _query(session, node, text):
    from quarry.api.dataframe import DataFrame
    plan = Binder(session, text).bind_statement_query(node)
    return DataFrame(session, plan, sql=text)


def _dispatch(session, node, text):
    from quarry.api.dataframe import DataFrame
    if isinstance(node, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)):
        return _query(session, node, text)
    if isinstance(node, exp.Create):
        return _create(session, node, text)
    if isinstance(node, exp.Insert):
        return _insert(session, node, text)
    if isinstance(node, exp.Drop):
        kind = (node.args.get("kind") or "TABLE").upper()
        if kind not in ("TABLE", "VIEW"):
            raise UnsupportedError(f"DROP {kind} is not supported")
        for t in node.args.get("tables") or [node.this]:
            session.catalog.drop(t.name, if_exists=bool(node.args.get("exists")),
                                 kind="view" if kind == "VIEW" else None)
        return _status(session, f"DROP {kind}")
    if isinstance(node, exp.Show):
        what = str(node.this).upper()
        if what not in ("TABLES", "ALL TABLES"):
            raise UnsupportedError(f"SHOW {what} is not supported", hint="use SHOW TABLES")
        providers = session.catalog.providers()
        return DataFrame.from_arrow(session, pa.table({
            "name": pa.array([p.name for p in providers], pa.string()),
            "kind": pa.array([p.kind for p in providers], pa.string()),
            "columns": pa.array([len(p.schema) for p in providers], pa.int64())}))
    if isinstance(node, exp.Describe):
        target = node.this
        if isinstance(target, exp.Table) and isinstance(target.this, exp.Identifier):
            schema = session.table(target.name).schema
        else:
            schema = _query(session, target, text).schema
        return DataFrame.from_arrow(session, pa.table({
            "column_name": pa.array(schema.names, pa.string()),
            "column_type": pa.array([T.sql_name(f.type) for f in schema], pa.string()),
            "null": pa.array(["YES" if f.nullable else "NO" for f in schema], pa.string())}))
    if isinstance(node, exp.Copy):
        return _copy(session, node, text)
    if isinstance(node, exp.Command):
        misspelled = _misspelled_statement(text)
        if misspelled is not None:
            raise misspelled
        raise UnsupportedError(f"`{node.this}` statements are not supported")
    misspelled = _misspelled_statement(text)
    if misspelled is not None:
        raise misspelled
    raise UnsupportedError(f"{node.key.upper()} statements are not supported")


def _create(session, node: exp.Create, text):
    from quarry.api.dataframe import DataFrame
    kind = (node.args.get("kind") or "").upper()
    target = node.this
    schema_node = target if isinstance(target, exp.Schema) else None
    table = schema_node.this if schema_node is not None else target
    name = table.name
    replace = bool(node.args.get("replace"))
    if_not_exists = bool(node.args.get("exists"))
    if session.catalog.exists(name) and if_not_exists:
        return _status(session, "CREATE " + kind)
    query = node.expression
    if kind == "VIEW":
        if query is None:
            raise BindError("CREATE VIEW needs AS SELECT ...")
        sql_text = query.sql(dialect=DIALECT)
        plan = Binder(session, text).bind_statement_query(query)   # validate now
        schema = pa.schema([pa.field(f.name, f.dtype, f.nullable) for f in plan.schema])
        view = ViewTable(name, lambda: Binder(session, sql_text).bind_statement_query(
            parse(sql_text)[0]), schema, sql_text)
        session.catalog.register(name, view, replace=replace)
        return _status(session, "CREATE VIEW")
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
    if location is not None:
        if fmt not in (None, "parquet", "csv"):
            raise UnsupportedError(f"USING {fmt} is not supported", hint="use USING parquet or USING csv")
        session.check_path_allowed(location)
        from quarry.catalog.providers import provider_for
        provider = provider_for(name, location) if fmt != "parquet" else ParquetTable(name, location)
        session.catalog.register(name, provider, replace=replace)
        return _status(session, "CREATE TABLE")
    if query is not None:
        result = DataFrame(session, Binder(session, text).bind_statement_query(query)).to_arrow()
        session.catalog.register(name, MemoryTable(name, result), replace=replace)
        return _status(session, "CREATE TABLE", result.num_rows)
    if schema_node is None:
        raise BindError("CREATE TABLE needs columns, AS SELECT, or USING ... LOCATION")
    fields = []
    for col in schema_node.expressions:
        if isinstance(col, exp.ColumnDef):
            dtype = sql_type(col.args["kind"])
            not_null = any(isinstance(c.kind, exp.NotNullColumnConstraint) for c in col.constraints)
            fields.append(pa.field(col.name, dtype, not not_null))
    session.catalog.register(name, MemoryTable(name, pa.schema(fields).empty_table()), replace=replace)
    return _status(session, "CREATE TABLE")


def _insert(session, node: exp.Insert, text):
    from quarry.api.dataframe import DataFrame
    target = node.this
    columns = None
    if isinstance(target, exp.Schema):
        columns = [c.name for c in target.expressions]
        target = target.this
    provider = session.catalog.get(target.name)
    if not isinstance(provider, MemoryTable):
        raise UnsupportedError(f"INSERT into `{target.name}` is not supported: only in-memory tables take INSERT",
                               hint="create one with CREATE TABLE ... AS SELECT")
    schema = provider.schema
    names = columns or schema.names
    by_lower = {c.lower(): c for c in schema.names}
    for n in names:
        if n.lower() not in by_lower:
            from quarry.errors import suggest
            raise BindError(f"table `{target.name}` has no column `{n}`", hint=suggest(n, schema.names))
    names = [by_lower[n.lower()] for n in names]
    if len(set(names)) != len(names):
        raise BindError(f"INSERT names a column of `{target.name}` twice")
    binder = Binder(session, text)
    targets = [schema.field(n).type for n in names]
    source = node.expression
    if isinstance(source, exp.Values):
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
    plan = cast_plan_output(plan, targets)
    result = DataFrame(session, plan).to_arrow()
    arrays = []
    for f in schema:
        if f.name in names:
            arrays.append(result.column(names.index(f.name)))
        else:
            arrays.append(pa.nulls(result.num_rows, f.type))
    provider.append(pa.Table.from_arrays(arrays, schema=schema))
    return _status(session, "INSERT", result.num_rows)


def _copy(session, node: exp.Copy, text):
    source = node.this
    if isinstance(source, exp.Subquery):
        df = _query(session, source.this, text)
    elif isinstance(source, exp.Table):
        df = session.table(source.name)
    else:
        df = _query(session, source, text)
    files = node.args.get("files") or []
    if not files:
        raise BindError("COPY needs a destination: COPY (query) TO 'file.parquet'")
    path = files[0].this if isinstance(files[0], exp.Literal) else files[0].name
    session.check_path_allowed(path)
    fmt = None
    for p in node.args.get("params") or []:
        key = p.this.name.lower() if hasattr(p.this, "name") else str(p.this).lower()
        if key == "format":
            value = p.expression
            fmt = (value.name if hasattr(value, "name") else str(value)).lower()
    if fmt is None:
        fmt = "csv" if path.lower().endswith((".csv", ".tsv")) else "parquet"
    table = df.to_arrow()
    try:
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        if fmt == "parquet":
            pq.write_table(table, path)
        elif fmt == "csv":
            import pyarrow.csv as pcsv
            pcsv.write_csv(table, path)
        else:
            raise UnsupportedError(f"COPY format `{fmt}` is not supported", hint="use parquet or csv")
    except OSError as exc:
        raise DataError(f"cannot write `{path}`: {exc}") from exc
    return _status(session, "COPY", table.num_rows)
