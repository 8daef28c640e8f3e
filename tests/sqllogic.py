"""A sqllogictest-format runner: ``.test`` files of statements and queries with their expected results.

The format (a subset of SQLite's and DuckDB's) is a sequence of records separated by blank lines::

    # a comment
    statement ok
    CREATE TABLE t AS SELECT 1 AS a

    statement error
    SELECT nope FROM t
    ----
    a substring of quarry's error message (optional)

    query IT rowsort
    SELECT a, 'x' FROM t
    ----
    1	x

``query`` takes one letter per column (I integer, R floating point, T text; any letter counts a
column) and a sort mode: ``nosort`` (the default: rows compared in order), ``rowsort`` (rows sorted
as text first) or ``valuesort`` (all values sorted, one per line). Values are printed the same way
for every engine: ``NULL``, ``true``/``false``, ``(empty)`` for the empty string, doubles with 12
significant digits, decimals in full, dates and timestamps in ISO form, lists as ``[1, NULL]``,
structs and maps as ``{'a': 1, 'b': 'x'}`` (strings inside them quoted); a row's values are separated
by tabs. A record prefixed by ``onlyif quarry`` runs only in quarry (refusals DuckDB does not share),
by ``skipif quarry`` only in DuckDB (its own spelling of a setup step); ``halt`` ends the file.
``__TEST_DIR__`` in SQL is replaced by a temporary directory of the run.

The expected results are DuckDB's, never quarry's: ``python tests/sqllogic.py --fill FILE...``
rewrites the result section of every ``query`` record from DuckDB's answer, and ``--check`` (also
run by tests/test_sqllogic.py) fails when a file's expected output differs from DuckDB's or a
``statement error`` succeeds there. Records under ``onlyif quarry`` carry no query results, so every
answer in a file is one DuckDB gave.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"
SORT_MODES = ("nosort", "rowsort", "valuesort")


@dataclass
class Record:
    """One statement or query of a ``.test`` file (``line`` is where it starts, for messages)."""

    kind: str                     # "statement" or "query"
    line: int
    sql: str
    expect_error: bool = False    # statement error
    types: str = ""               # query: one letter per column
    sort: str = "nosort"
    expected: list[str] = field(default_factory=list)   # result lines, or the error substring
    only: str | None = None       # "quarry": quarry alone; "duckdb": DuckDB alone
    header: str = ""              # the record's first line, as written


def parse_file(path: Path) -> list[Record]:
    """The records of a ``.test`` file, up to ``halt``."""
    lines = path.read_text().split("\n")
    records: list[Record] = []
    i, only = 0, None
    while i < len(lines):
        line = lines[i].rstrip()
        if not line or line.startswith("#"):
            i += 1
            continue
        words = line.split()
        if words[0] == "halt":
            break
        if words[0] in ("onlyif", "skipif"):
            engine = words[1] if len(words) > 1 else ""
            if engine not in ("quarry",):
                raise ValueError(f"{path}:{i + 1}: {words[0]} takes `quarry`, not {engine!r}")
            only = "quarry" if words[0] == "onlyif" else "duckdb"
            i += 1
            continue
        start = i
        if words[0] == "statement" and len(words) == 2 and words[1] in ("ok", "error"):
            record = Record("statement", start + 1, "", expect_error=words[1] == "error")
        elif words[0] == "query" and 2 <= len(words) <= 3:
            sort = words[2] if len(words) == 3 else "nosort"
            if sort not in SORT_MODES:
                raise ValueError(f"{path}:{i + 1}: unknown sort mode {sort!r}")
            record = Record("query", start + 1, "", types=words[1], sort=sort)
        else:
            raise ValueError(f"{path}:{i + 1}: cannot read record header {line!r}")
        record.only, only = only, None
        record.header = line
        i += 1
        sql_lines = []
        while i < len(lines) and lines[i].strip() and lines[i].rstrip() != "----":
            sql_lines.append(lines[i])
            i += 1
        record.sql = "\n".join(sql_lines)
        if not record.sql.strip():
            raise ValueError(f"{path}:{start + 1}: record without SQL")
        if i < len(lines) and lines[i].rstrip() == "----":
            i += 1
            while i < len(lines) and lines[i].strip():
                record.expected.append(lines[i].rstrip("\n"))
                i += 1
        if record.kind == "statement" and not record.expect_error and record.expected:
            raise ValueError(f"{path}:{start + 1}: `statement ok` takes no result")
        if record.only == "quarry" and record.kind == "query":
            raise ValueError(f"{path}:{start + 1}: an `onlyif quarry` query would carry quarry's own answer")
        records.append(record)
    return records


# -- printing values ------------------------------------------------------------------------------

def format_value(value) -> str:
    """One value as the expected output spells it, the same for quarry's and DuckDB's Python values."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return format(value, ".12g")
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return "(empty)" if value == "" else value.replace("\t", "\\t").replace("\n", "\\n")
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_inner_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_inner_value(k)}: {_inner_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _inner_value(value) -> str:
    """A value inside a LIST, STRUCT or MAP: strings quoted (so 'NULL' and '' differ from NULL)."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''").replace("\t", "\\t").replace("\n", "\\n") + "'"
    return format_value(value)


def python_value(value, dtype):
    """A quarry (Arrow) value as DuckDB's Python client gives it: a MAP as a dict, not a list of pairs."""
    import pyarrow as pa
    if value is None:
        return None
    if pa.types.is_map(dtype):
        return {python_value(k, dtype.key_type): python_value(v, dtype.item_type) for k, v in value}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return [python_value(v, dtype.value_type) for v in value]
    if pa.types.is_struct(dtype):
        return {f.name: python_value(value[f.name], f.type) for f in dtype}
    return value


def format_rows(rows: list[tuple], record: Record) -> list[str]:
    """The result lines of ``rows`` under the record's sort mode."""
    if rows and len(rows[0]) != len(record.types):
        raise AssertionError(f"line {record.line}: the query gives {len(rows[0])} columns, "
                             f"the record declares {len(record.types)} ({record.types})")
    cells = [[format_value(v) for v in row] for row in rows]
    if record.sort == "valuesort":
        return sorted(v for row in cells for v in row)
    lines = ["\t".join(row) for row in cells]
    return sorted(lines) if record.sort == "rowsort" else lines


# -- engines ------------------------------------------------------------------------------------

def pa_nested(dtype) -> bool:
    import pyarrow as pa
    return pa.types.is_nested(dtype)


class QuarryEngine:
    """Runs records in a quarry session."""

    name = "quarry"

    def __init__(self, **connect):
        import quarry
        self.con = quarry.connect(**connect)

    def run(self, sql: str):
        """The rows ``sql`` gives (a statement's status table too)."""
        result = self.con.execute(sql)
        # by position: a dict per row would merge columns of the same name (SELECT a.k, b.k)
        rows = list(zip(*(c.to_pylist() for c in result.columns))) if result.num_columns else []
        types = [f.type for f in result.schema] if hasattr(result, "schema") else []
        if any(pa_nested(t) for t in types):
            rows = [tuple(python_value(v, t) for v, t in zip(row, types)) for row in rows]
        return rows

    def close(self):
        self.con.close()

    @staticmethod
    def is_error(exc: BaseException) -> bool:
        from quarry.errors import QuarryError
        return isinstance(exc, QuarryError)


class DuckDBEngine:
    """Runs records in an in-memory DuckDB (the reference)."""

    name = "duckdb"

    def __init__(self):
        import duckdb
        self.duckdb = duckdb
        self.con = duckdb.connect()

    def run(self, sql: str):
        result = self.con.execute(sql)
        return result.fetchall() if result.description else []

    def close(self):
        self.con.close()

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self.duckdb.Error)


def run_file(path: Path, engine, *, check_messages: bool = True) -> list[str]:
    """Run every record of ``path`` meant for ``engine``; the list of failures (empty: all passed).

    Error messages are checked for quarry only (DuckDB words its own). A failure is a line of text
    naming the file, the record's line and what differed.
    """
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sqllogic-") as tmp:
        for record in parse_file(path):
            if record.only is not None and record.only != engine.name:
                continue
            sql = record.sql.replace("__TEST_DIR__", tmp)
            where = f"{path.name}:{record.line}"
            try:
                rows = engine.run(sql)
            except Exception as exc:          # noqa: BLE001 - judged just below
                if not engine.is_error(exc):
                    failures.append(f"{where}: {engine.name} raised {type(exc).__name__} (not its error "
                                    f"family): {exc}\n{sql}")
                elif not record.expect_error:
                    failures.append(f"{where}: {engine.name} failed: {exc}\n{sql}")
                elif check_messages and engine.name == "quarry" and record.expected:
                    wanted = "\n".join(record.expected)
                    if wanted.lower() not in str(exc).lower():
                        failures.append(f"{where}: error message lacks {wanted!r}: {exc}")
                continue
            if record.expect_error:
                failures.append(f"{where}: {engine.name} ran a statement that should fail\n{sql}")
                continue
            if record.kind == "query":
                try:
                    got = format_rows(rows, record)
                except AssertionError as err:
                    failures.append(f"{where}: {err}")
                    continue
                if got != record.expected:
                    failures.append(f"{where}: {engine.name} answered differently\n{sql}\n"
                                    f"expected:\n" + "\n".join(record.expected) + "\ngot:\n" + "\n".join(got))
    return failures


# -- filling expected results from DuckDB -----------------------------------------------------------

def fill_file(path: Path) -> int:
    """Rewrite the result section of every ``query`` record of ``path`` with DuckDB's answer;
    the number of records changed. Statements run too, so later queries see their effect."""
    text = path.read_text().split("\n")
    engine = DuckDBEngine()
    changed = 0
    replacements: list[tuple[Record, list[str]]] = []
    with tempfile.TemporaryDirectory(prefix="sqllogic-") as tmp:
        for record in parse_file(path):
            if record.only == "quarry":
                continue
            sql = record.sql.replace("__TEST_DIR__", tmp)
            try:
                rows = engine.run(sql)
            except engine.duckdb.Error as exc:
                if not record.expect_error:
                    raise SystemExit(f"{path.name}:{record.line}: DuckDB failed: {exc}\n{sql}")
                continue
            if record.expect_error:
                raise SystemExit(f"{path.name}:{record.line}: DuckDB ran a `statement error`\n{sql}")
            if record.kind == "query":
                got = format_rows(rows, record)
                if got != record.expected:
                    replacements.append((record, got))
    engine.close()
    # rewrite from the bottom up, so earlier line numbers stay valid
    for record, got in sorted(replacements, key=lambda r: -r[0].line):
        start = record.line - 1 + 1 + len(record.sql.split("\n"))       # the line after the SQL
        end = start
        if end < len(text) and text[end].rstrip() == "----":
            end += 1
            while end < len(text) and text[end].strip():
                end += 1
        text[start:end] = ["----"] + got
        changed += 1
    path.write_text("\n".join(text))
    return changed


def main(argv: list[str]) -> int:
    """``--fill FILE...`` writes DuckDB's answers into the files; ``--check FILE...`` compares."""
    if len(argv) < 1 or argv[0] not in ("--fill", "--check"):
        print(__doc__)
        print("usage: python tests/sqllogic.py --fill|--check [FILE.test ...] (default: tests/sql/*.test)")
        return 2
    files = [Path(a) for a in argv[1:]] or sorted(SQL_DIR.glob("*.test"))
    status = 0
    for path in files:
        if argv[0] == "--fill":
            print(f"{path}: {fill_file(path)} result(s) written from DuckDB")
        else:
            engine = DuckDBEngine()
            failures = run_file(path, engine)
            engine.close()
            for f in failures:
                print(f)
            status |= bool(failures)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
