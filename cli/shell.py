"""The shell's engine room: runs SQL, DSL pipelines and dot commands, and prints results.

The :class:`Shell` knows nothing about prompts or command-line flags: the REPL
(:mod:`cli.repl`) feeds it what the user typed, and scripts (``quarry file.sql``,
``-c``, piped stdin, ``.read``) feed it whole files. Both go through
:meth:`Shell.run_script`, so a statement behaves the same typed or scripted.

    >>> import io, quarry
    >>> out = io.StringIO()
    >>> shell = Shell(quarry.connect(), out=out, mode="csv")
    >>> shell.run_script("SELECT 1 AS one;")
    True
    >>> out.getvalue()
    '"one"\\n1\\n'

Results go to the current output (stdout, or the ``.output`` file); errors and
notes (``registered 8 tables``, ``query cancelled``) go to stderr, so data piped
out of a script stays clean.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa

from quarry.cli.formats import FILE_MODES, MODES, TEXT_MODES, render, write_file
from quarry.cli.runner import QueryCancelled, QueryRunner, stream_is_tty
from quarry.cli.script import Piece, is_exit_word, split_script
from quarry.display import format_elapsed, type_label
from quarry.errors import QuarryError, suggest

DATA_SUFFIXES = (".parquet", ".parq", ".csv", ".tsv", ".csv.gz")
MAX_READ_DEPTH = 16
_QUERY_WORDS = {"select", "with", "values", "show", "describe", "desc", "from", "table", "(", "pivot",
                "unpivot", "summarize"}


_VERB = re.compile(r"\s*(create\s+(?:or\s+replace\s+)?(?:temp\w*\s+)?\w+|drop\s+\w+|\w+)", re.IGNORECASE)


class ExitShell(Exception):
    """``.quit``, ``.exit`` or ``exit``: leave the shell."""


class _ScriptFailed(Exception):
    """A script run by ``.read`` stopped at an error, which was already reported."""


@dataclass(frozen=True)
class DotCommand:
    name: str
    args: str
    help: str
    run: Callable[["Shell", str], None]


COMMANDS: dict[str, DotCommand] = {}
ALIASES = {".exit": ".quit", ".q": ".quit", ".desc": ".describe"}


def command(name: str, args: str, help_text: str):
    """Register a dot command: ``@command(".tables", "", "list tables")``."""
    def wrap(fn):
        COMMANDS[name] = DotCommand(name, args, help_text, fn)
        return fn
    return wrap


def statement_kind(sql: str) -> str:
    """``"explain"``, ``"query"`` (returns rows) or ``"status"`` (DDL/DML: CREATE, INSERT, ...).

    >>> statement_kind("explain select 1"), statement_kind("WITH x AS (SELECT 1) SELECT *"), \\
    ...     statement_kind("CREATE VIEW v AS SELECT 1")
    ('explain', 'query', 'status')
    """
    m = re.match(r"\s*(\(|[A-Za-z_]+)", sql)
    word = m.group(1).lower() if m else ""
    if word == "explain":
        return "explain"
    return "query" if word in _QUERY_WORDS else "status"


def table_name_for(filename: str) -> str:
    """The table name for a data file or folder: the stem, as an identifier.

    >>> table_name_for("lineitem.parquet"), table_name_for("my-data.csv.gz"), table_name_for("2024")
    ('lineitem', 'my_data', 't_2024')
    """
    stem = filename
    for suffix in sorted(DATA_SUFFIXES, key=len, reverse=True):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = re.sub(r"\W", "_", stem) or "t"
    return "t_" + stem if stem[0].isdigit() else stem


def _is_data_folder(path: str) -> bool:
    """Whether ``path`` holds data files anywhere below it (e.g. hive ``k=v/`` folders)."""
    for root, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        if any(n.lower().endswith(DATA_SUFFIXES) and not n.startswith((".", "_")) for n in names):
            return True
    return False


def data_sources(path: str) -> list[tuple[str, str]]:
    """``(table name, path)`` for every Parquet/CSV file and data folder directly in ``path``.

    ``path`` may also be a single data file.
    """
    path = os.path.expanduser(path)
    if os.path.isfile(path):
        return [(table_name_for(os.path.basename(path)), path)]
    if not os.path.isdir(path):
        raise QuarryError(f"`{path}` does not exist", hint="give a directory of Parquet/CSV files or a file")
    found = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.name.lower().endswith(DATA_SUFFIXES):
            found.append((table_name_for(entry.name), entry.path))
        elif entry.is_dir() and _is_data_folder(entry.path):
            found.append((table_name_for(entry.name), entry.path))
    return found


class Shell:
    """Runs input against a session and writes results in the current output mode."""

    def __init__(self, con, *, out=None, err=None, mode: str = "table", maxrows: int = 40,
                 timer: bool = False, debug: bool = False, spinner: bool = False):
        self.con = con
        self.stdout = out if out is not None else sys.stdout
        self.out = self.stdout
        self.err = err if err is not None else sys.stderr
        self.mode = mode
        self.mode_path: str | None = None
        self.maxrows = maxrows
        self.timer = timer
        self.debug = debug
        self.runner = QueryRunner(con, spinner_stream=self.err if spinner and stream_is_tty(self.err) else None)
        self.catalog_listeners: list[Callable[[], None]] = []
        self._output_file = None
        self._read_depth = 0

    # -- running input ---------------------------------------------------------------------------

    def run_script(self, text: str) -> bool:
        """Run every statement and command in ``text``, stopping at the first error.

        Returns whether everything succeeded. Raises :class:`ExitShell` on ``.quit``.
        """
        pieces, _ = split_script(text)
        return all(self.run_piece(piece) for piece in pieces)      # all() stops at the first False

    def run_piece(self, piece: Piece) -> bool:
        """Run one statement or command, reporting any error; return whether it succeeded."""
        try:
            if piece.kind == "dot":
                self.run_command(piece.text)
            elif piece.kind == "dsl":
                self.run_dsl(piece.text)
            elif is_exit_word(piece.text):
                raise ExitShell()
            else:
                self.run_sql(piece.text)
            return True
        except ExitShell:
            raise
        except _ScriptFailed:
            return False
        except (QueryCancelled, KeyboardInterrupt):
            self.note("query cancelled")
            return False
        except QuarryError as err:
            self.report(err)
            return False
        except BrokenPipeError:
            raise
        except Exception as err:                # a bug: say so in one line, not a traceback
            self.report_internal(err)
            return False
        finally:
            self.catalog_changed()
            self._flush()

    def run_sql(self, sql: str) -> None:
        """Run one SQL statement and show its result."""
        kind = statement_kind(sql)
        start = time.perf_counter()
        table = self.runner.run(lambda: self.con.sql(sql).to_arrow())
        self.show(table, time.perf_counter() - start, kind, sql)

    def run_dsl(self, text: str) -> None:
        """Run a pipeline (``from lineitem | ...``) with the session's DSL, if it has one."""
        dsl = getattr(self.con, "dsl", None)
        if dsl is None:
            raise QuarryError("the DSL is not available yet",
                              hint="write this query in SQL for now (lines starting with `from ` are DSL pipelines)")
        start = time.perf_counter()
        table = self.runner.run(lambda: _as_table(dsl(text)))
        self.show(table, time.perf_counter() - start, "query", text)

    def run_command(self, text: str) -> None:
        """Run a dot command line such as ``.mode csv``."""
        name, _, arg = text.strip().partition(" ")
        name = ALIASES.get(name.lower(), name.lower())
        cmd = COMMANDS.get(name)
        if cmd is None:
            raise QuarryError(f"unknown command `{name}`",
                              hint=suggest(name, list(COMMANDS) + list(ALIASES)) or "type .help for the commands")
        cmd.run(self, arg.strip())

    # -- output ----------------------------------------------------------------------------------

    def show(self, table: pa.Table, elapsed: float, kind: str, sql: str = "") -> None:
        """Write a statement's result in the current mode."""
        timing = elapsed if self.timer else None
        if kind == "status":
            if self.mode == "table":
                self.write(_status_text(table, sql) + (f" in {format_elapsed(elapsed)}" if timing is not None else ""))
            elif timing is not None:
                self.note(f"Time: {format_elapsed(elapsed)}")
            return
        if self.mode in FILE_MODES:
            self.note(write_file(table, self.mode, self.mode_path)
                      + (f" in {format_elapsed(elapsed)}" if timing is not None else ""))
            return
        if kind == "explain" and self.mode in ("table", "markdown") and table.column_names == ["plan"]:
            self.write("\n".join(str(v) for v in table.column("plan").to_pylist()))
        else:
            self.write(render(table, self.mode, max_rows=self.maxrows, max_width=self.width(),
                              elapsed=timing, color=self.color()).rstrip("\n"))
            if self.mode == "table":
                return
        if timing is not None:
            self.note(f"Time: {format_elapsed(elapsed)}")

    def write(self, text: str) -> None:
        """Write a result (with a final newline) to the current output."""
        self.out.write(text + "\n")

    def note(self, text: str) -> None:
        """A message for the user, not data: stderr."""
        self.err.write(text + "\n")
        self.err.flush()

    def report(self, err: QuarryError) -> None:
        if self.debug:
            traceback.print_exception(err, file=self.err)
        self.err.write(str(err).rstrip("\n") + "\n")
        self.err.flush()

    def report_internal(self, err: Exception) -> None:
        if self.debug:
            traceback.print_exception(err, file=self.err)
        message = str(err).splitlines()[0] if str(err) else ""
        self.err.write(f"internal error: {type(err).__name__}{': ' + message if message else ''}\n")
        if not self.debug:
            self.err.write("HINT: this is a bug in quarry; rerun with --debug to see the traceback\n")
        self.err.flush()

    def width(self) -> int:
        """Columns to fit a table into: the terminal's, or 0 (unlimited) when not a terminal."""
        if not stream_is_tty(self.out):
            return 0
        try:
            return os.get_terminal_size(self.out.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return shutil.get_terminal_size((120, 40)).columns

    def color(self) -> bool:
        return stream_is_tty(self.out) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"

    def _flush(self) -> None:
        try:
            self.out.flush()
        except ValueError:
            pass

    def catalog_changed(self) -> None:
        """Tell listeners (the completer's schema cache) that tables may have come or gone."""
        for listener in self.catalog_listeners:
            listener()

    # -- tables ----------------------------------------------------------------------------------

    def open_path(self, path: str) -> list[str]:
        """Register every data file and folder in ``path`` as a table; return the names."""
        sources = data_sources(path)
        if not sources:
            raise QuarryError(f"no Parquet or CSV files in `{path}`",
                              hint="tables come from *.parquet / *.csv files and folders of them")
        names, failures = [], []
        for name, source in sources:
            if name in names:
                failures.append(f"skipped {os.path.basename(source)}: another file is already table `{name}`")
                continue
            try:
                self.con.register(name, source)
                names.append(name)
            except QuarryError as err:
                failures.append(f"skipped {os.path.basename(source)}: {err.message}")
        for failure in failures:
            self.note(failure)
        if not names:
            raise QuarryError(f"could not register any table from `{path}`")
        self.catalog_changed()
        self.note(f"registered {len(names)} table{'s' if len(names) != 1 else ''}: {', '.join(names)}")
        return names

    def close(self) -> None:
        """Close a ``.output`` file, if one is open."""
        if self._output_file is not None:
            self._output_file.close()
            self._output_file = None
            self.out = self.stdout


def _as_table(result) -> pa.Table:
    if isinstance(result, pa.Table):
        return result
    if hasattr(result, "to_arrow"):
        return result.to_arrow()
    raise QuarryError(f"the DSL returned a {type(result).__name__}, not a table")


def _status_text(table: pa.Table, sql: str) -> str:
    """``CREATE VIEW`` or ``INSERT: 3 rows`` for a DDL/DML result."""
    if table.num_rows == 1 and table.column_names == ["status"]:
        return str(table.column(0)[0].as_py())
    m = _VERB.match(sql)
    verb = re.sub(r"\s+(OR\s+REPLACE\s+)?", " ", m.group(1).upper()) if m else "OK"
    if table.num_rows == 1 and table.column_names == ["count"]:
        n = table.column(0)[0].as_py()
        return f"{verb}: {n} row{'s' if n != 1 else ''}"
    return verb


def _parse_switch(value: str, current: bool, name: str) -> bool:
    if value == "":
        return not current
    if value.lower() in ("on", "true", "1", "yes"):
        return True
    if value.lower() in ("off", "false", "0", "no"):
        return False
    raise QuarryError(f"`{name}` takes on or off, not `{value}`")


# -- the dot commands ----------------------------------------------------------------------------

@command(".help", "[COMMAND]", "show this help, or the help of one command")
def _help(shell: Shell, arg: str) -> None:
    if arg:
        name = ALIASES.get(arg if arg.startswith(".") else "." + arg, arg if arg.startswith(".") else "." + arg)
        cmd = COMMANDS.get(name)
        if cmd is None:
            raise QuarryError(f"unknown command `{arg}`", hint=suggest(name, COMMANDS) or "type .help")
        shell.write(f"{cmd.name} {cmd.args}".rstrip() + f"\n    {cmd.help}")
        return
    usages = [(f"{c.name} {c.args}".rstrip(), c.help) for c in COMMANDS.values()]
    width = max(len(u) for u, _ in usages)
    lines = [f"{u.ljust(width)}  {h}" for u, h in usages]
    lines += ["",
              "End SQL statements with ; (they may span lines). Lines starting with `from ` are DSL pipelines.",
              "Keys: Tab completes, Ctrl-R searches history, Ctrl-C cancels (a line or a running query), "
              "Ctrl-D exits."]
    shell.write("\n".join(lines))


@command(".tables", "", "list tables and views")
def _tables(shell: Shell, arg: str) -> None:
    names = shell.con.tables()
    if not names:
        shell.note("no tables yet: .open DIR registers the Parquet/CSV files in DIR")
        return
    width = max(len(n) for n in names) + 2
    per_line = max(1, (shell.width() or 80) // width)
    lines = ["".join(n.ljust(width) for n in names[i:i + per_line]).rstrip()
             for i in range(0, len(names), per_line)]
    shell.write("\n".join(lines))


@command(".schema", "[TABLE]", "show CREATE statements for all tables, or one")
def _schema(shell: Shell, arg: str) -> None:
    names = [arg] if arg else shell.con.tables()
    blocks = []
    for name in names:
        schema = shell.con.table(name).schema        # raises a helpful error for unknown names
        view_sql = _view_sql(shell.con, name)
        if view_sql:
            blocks.append(f"CREATE VIEW {name} AS {view_sql};")
            continue
        from quarry.logical import types as T
        cols = [f"    {f.name} {T.sql_name(T.normalize(f.type))}{'' if f.nullable else ' NOT NULL'}"
                for f in schema]
        blocks.append(f"CREATE TABLE {name} (\n" + ",\n".join(cols) + "\n);")
    if blocks:
        shell.write("\n".join(blocks))


def _view_sql(con, name: str) -> str | None:
    try:
        return getattr(con.catalog.get(name), "sql", None)
    except Exception:       # the catalog is optional detail: fall back to columns
        return None


@command(".describe", "TABLE", "columns of a table: name, type, nullable")
def _describe(shell: Shell, arg: str) -> None:
    if not arg:
        raise QuarryError("usage: .describe TABLE")
    schema = shell.con.table(arg).schema
    table = pa.table({
        "column_name": pa.array(schema.names, pa.string()),
        "column_type": pa.array([type_label(f.type) for f in schema], pa.string()),
        "null": pa.array(["YES" if f.nullable else "NO" for f in schema], pa.string()),
    })
    saved, shell.timer = shell.timer, False
    try:
        shell.show(table, 0.0, "query")
    finally:
        shell.timer = saved


@command(".open", "DIR", "register every Parquet/CSV file or data folder in DIR as a table")
def _open(shell: Shell, arg: str) -> None:
    if not arg:
        raise QuarryError("usage: .open DIR")
    shell.open_path(arg)


@command(".read", "FILE", "run the statements in a SQL file")
def _read(shell: Shell, arg: str) -> None:
    if not arg:
        raise QuarryError("usage: .read FILE.sql")
    path = os.path.expanduser(arg)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise QuarryError(f"cannot read `{arg}`: {exc.strerror or exc}") from None
    if shell._read_depth >= MAX_READ_DEPTH:
        raise QuarryError(".read is nested too deeply", hint="does the file read itself?")
    shell._read_depth += 1
    try:
        if not shell.run_script(text):
            raise _ScriptFailed()
    finally:
        shell._read_depth -= 1


@command(".mode", "MODE [FILE]", "output mode: " + ", ".join(TEXT_MODES) + "; or parquet FILE, arrow FILE")
def _mode(shell: Shell, arg: str) -> None:
    if not arg:
        shell.write(shell.mode + (f" {shell.mode_path}" if shell.mode_path else ""))
        return
    mode, _, path = arg.partition(" ")
    mode, path = mode.lower(), path.strip()
    if mode not in MODES:
        raise QuarryError(f"unknown mode `{mode}`", hint=suggest(mode, MODES) or "modes: " + ", ".join(MODES))
    if mode in FILE_MODES and not path:
        raise QuarryError(f"`.mode {mode}` needs a file: .mode {mode} result.{mode}")
    if mode in TEXT_MODES and path:
        raise QuarryError(f"`.mode {mode}` takes no file", hint="use .output FILE to send text output to a file")
    shell.mode, shell.mode_path = mode, (os.path.expanduser(path) if path else None)
    if path:
        shell.note(f"query results will be written to {path} ({mode}), replacing it each time")


@command(".output", "[FILE]", "send results to FILE; without FILE, back to the terminal")
def _output(shell: Shell, arg: str) -> None:
    shell.close()
    if arg and arg != "-":
        try:
            shell._output_file = open(os.path.expanduser(arg), "w", encoding="utf-8")
        except OSError as exc:
            raise QuarryError(f"cannot write `{arg}`: {exc.strerror or exc}") from None
        shell.out = shell._output_file


@command(".timer", "[on|off]", "show how long each statement took")
def _timer(shell: Shell, arg: str) -> None:
    shell.timer = _parse_switch(arg, shell.timer, ".timer")
    shell.note(f"timer {'on' if shell.timer else 'off'}")


@command(".explain", "[verbose|analyze] SQL", "show the query plan (analyze runs the query)")
def _explain(shell: Shell, arg: str) -> None:
    mode = "plan"
    first, _, rest = arg.partition(" ")
    if first.lower() in ("plan", "verbose", "analyze"):
        mode, arg = first.lower(), rest
    sql = arg.strip().rstrip(";").strip()
    if not sql:
        raise QuarryError("usage: .explain [verbose|analyze] SELECT ...")
    if statement_kind(sql) != "query":
        raise QuarryError(".explain takes a query", hint="for example: .explain SELECT count(*) FROM t")
    text = shell.runner.run(lambda: shell.con.sql(sql).explain_string(mode))
    shell.write(text.rstrip("\n"))


@command(".maxrows", "[N]", "rows shown in table mode, head and tail (0 = all)")
def _maxrows(shell: Shell, arg: str) -> None:
    if not arg:
        shell.write(str(shell.maxrows))
        return
    try:
        value = int(arg)
        if value < 0:
            raise ValueError
    except ValueError:
        raise QuarryError(f"`.maxrows` takes a number of rows, not `{arg}`", hint="0 shows every row") from None
    shell.maxrows = value


@command(".quit", "", "leave the shell (also .exit, or Ctrl-D)")
def _quit(shell: Shell, arg: str) -> None:
    raise ExitShell()
