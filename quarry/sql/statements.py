"""Parse SQL text and run each statement: queries become lazy DataFrames, the rest runs at once.

Supported statements: queries (SELECT, set operations, VALUES, WITH), EXPLAIN
[VERBOSE | ANALYZE], CREATE [OR REPLACE] VIEW, CREATE TABLE ... AS, CREATE
TABLE t (columns), CREATE TABLE t USING parquet LOCATION 'path', INSERT INTO,
DROP TABLE/VIEW [IF EXISTS], SHOW TABLES, DESCRIBE, COPY (query) TO 'file'.
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
from quarry.errors import BindError, DataError, ParseError, QuarryError, UnsupportedError
from quarry.logical import types as T
from quarry.sql.binder import Binder
from quarry.sql.expr_binder import node_position, sql_type

logging.getLogger("sqlglot").setLevel(logging.ERROR)

DIALECT = "duckdb"
_EXPLAIN = re.compile(r"^(\s*)(explain)(\s+(analyze|verbose))?\b", re.IGNORECASE)


def parse(text: str) -> list[exp.Expression]:
    """Parse SQL into sqlglot statements; syntax errors become a ParseError with a caret."""
    try:
        statements = sqlglot.parse(text, read=DIALECT)
    except sqlglot.errors.ParseError as err:
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
        raise ParseError(f"syntax error: {err}", sql=text, hint="check quotes and brackets") from None
    return [s for s in statements if s is not None]


def split_statements(text: str) -> list[str]:
    """Split a script into statement texts (semicolons outside quotes and comments)."""
    out, buf, quote = [], [], None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            buf.append(ch)
        elif ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            end = len(text) if end == -1 else end
            buf.append(text[i:end])
            i = end
            continue
        elif ch == ";":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    return [s for s in out if s.strip() and not all(l.strip().startswith("--") or not l.strip()
                                                     for l in s.splitlines())]


def run_sql(session, text: str):
    """Run every statement in ``text``; return the DataFrame of the last one."""
    from quarry.dataframe import DataFrame
    pieces = split_statements(text)
    if not pieces:
        raise ParseError("empty statement", sql=text, hint="write a query, e.g. SELECT 1")
    result = None
    for piece in pieces:
        result = _run_one(session, piece)
    return result


def _status(session, message: str, rows: int | None = None):
    from quarry.dataframe import DataFrame
    table = pa.table({"status": [message]}) if rows is None else pa.table({"count": pa.array([rows], pa.int64())})
    return DataFrame.from_arrow(session, table)


def _run_one(session, text: str):
    from quarry.dataframe import DataFrame
    m = _EXPLAIN.match(text)
    if m:
        mode = (m.group(4) or "").lower() or "plan"
        # keep character positions for error carets: blank the EXPLAIN prefix instead of cutting it
        inner = " " * m.end() + text[m.end():]
        statements = parse(inner)
        if len(statements) != 1:
            raise ParseError("EXPLAIN takes exactly one query", sql=text)
        df = _query(session, statements[0], inner)
        return DataFrame.from_arrow(session, pa.table({"plan": [df.explain_string(mode)]}))
    statements = parse(text)
    if len(statements) != 1:
        raise ParseError("expected one statement", sql=text)
    node = statements[0]
    try:
        return _dispatch(session, node, text)
    except QuarryError as err:
        if err.line is None:
            line, col = node_position(node, text)
            err.with_position(text, line, col)
        elif err.sql is None:
            err.sql = text
        raise


def _query(session, node, text):
    from quarry.dataframe import DataFrame
    plan = Binder(session, text).bind_statement_query(node)
    return DataFrame(session, plan, sql=text)


def _dispatch(session, node, text):
    from quarry.dataframe import DataFrame
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
        raise UnsupportedError(f"`{node.this}` statements are not supported")
    raise UnsupportedError(f"{node.key.upper()} statements are not supported")


def _create(session, node: exp.Create, text):
    from quarry.dataframe import DataFrame
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
    from quarry.dataframe import DataFrame
    target = node.this
    columns = None
    if isinstance(target, exp.Schema):
        columns = [c.name for c in target.expressions]
        target = target.this
    provider = session.catalog.get(target.name)
    if not isinstance(provider, MemoryTable):
        raise UnsupportedError(f"INSERT into `{target.name}` is not supported: only in-memory tables take INSERT",
                               hint="create one with CREATE TABLE ... AS SELECT")
    plan = Binder(session, text).bind_statement_query(node.expression)
    schema = provider.schema
    names = columns or schema.names
    if len(names) != len(plan.schema):
        raise BindError(f"INSERT has {len(plan.schema)} values for {len(names)} columns")
    for n in names:
        if n not in schema.names:
            from quarry.errors import suggest
            raise BindError(f"table `{target.name}` has no column `{n}`", hint=suggest(n, schema.names))
    result = DataFrame(session, plan).to_arrow()
    arrays = []
    for f in schema:
        if f.name in names:
            col = result.column(names.index(f.name))
            try:
                arrays.append(col.cast(f.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(f"cannot insert {T.sql_name(col.type)} into column `{f.name}` "
                                f"({T.sql_name(f.type)}): {exc}") from exc
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
