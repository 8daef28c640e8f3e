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


from quarry.catalog.writer import render, write_file, write_stream
from quarry.cli.formats import FILE_MODES, MODES, TEXT_MODES
from quarry.cli.runner import QueryCancelled, QueryRunner, stream_is_tty
from quarry.cli.script import Piece, is_exit_word, split_script
from quarry.display import format_elapsed, format_table
from quarry.errors import QuarryError, suggest
from quarry.sql.commands import ExplainText, QueryPlan, RowCount, StatementResult, type_name
from quarry.sql.lexer import code_only, quote_identifier

MAX_READ_DEPTH = 16
# a front end's own hint for a table that does not exist (the catalog's default names con.register)
MISSING_TABLE_HINT = (".open DIR registers the Parquet/CSV files in DIR as tables, or query a file directly: "
                      "SELECT * FROM 'path/to/file.parquet'")
FROM_HINT = ("lowercase `from` runs a DSL pipeline (steps after `|`: from nation | take 2), or FROM-first SQL "
             "when it has no steps; FROM in capitals always runs SQL (FROM nation LIMIT 2)")
_PIPE = re.compile(r"(?<!\|)\|(?!\|)")


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


def is_pipeline(text: str) -> bool:
    """Whether ``text`` (starting with ``from``) has pipeline steps: a ``|`` outside quotes and comments.

    >>> is_pipeline("from t | take 1"), is_pipeline("from t select a || '|'")
    (True, False)
    """
    return _PIPE.search(code_only(text)) is not None


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
        catalog = getattr(con, "catalog", None)
        if catalog is not None:
            catalog.missing_hint = MISSING_TABLE_HINT

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
                self.run_from(piece.text)
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
        """Run SQL (one statement, or several separated by ``;``) and show the last result."""
        start = time.perf_counter()
        result = self.runner.run(lambda: self.con.statement(sql))
        self.show(result, start)

    def run_dsl(self, text: str) -> None:
        """Run a pipeline (``from lineitem | ...``) with the session's DSL."""
        start = time.perf_counter()
        df = self.runner.run(lambda: self.con.dsl(text))
        self.show(QueryPlan(df.logical_plan), start)

    def run_from(self, text: str) -> None:
        """Input starting with lowercase ``from``: a DSL pipeline, or DuckDB's FROM-first SQL.

        It runs as a pipeline when it parses as one. Otherwise, unless it has pipeline steps
        (a ``|``), it runs as SQL when it parses as SQL (``from nation limit 2``). When it is
        neither, the error is the pipeline's (with steps) or the SQL's (without), and its
        hint says how to force either reading.
        """
        from quarry.dsl import parse_pipeline
        from quarry.sql.statements import parse
        try:
            parse_pipeline(text)
        except QuarryError as not_a_pipeline:
            if is_pipeline(text):
                raise _with_hint(not_a_pipeline, FROM_HINT) from None
            try:
                parse(text)
            except QuarryError as not_sql:
                raise _with_hint(not_sql, FROM_HINT) from None
            self.run_sql(text)
            return
        self.run_dsl(text)

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

    def show(self, result: StatementResult, start: float) -> None:
        """Show a statement's result in the current mode: a query's rows (run now), a plan, or, in
        table mode, a status line (``CREATE VIEW``, ``INSERT: 3 rows``). ``start`` is when the
        statement started, for ``.timer``."""
        if isinstance(result, QueryPlan):
            self.show_query(result, start)
            return
        elapsed = time.perf_counter() - start
        if isinstance(result, ExplainText) and self.mode in ("table", "markdown"):
            self.write(result.text)
        elif isinstance(result, ExplainText):
            self.out.write(render(result.table(), self.mode))       # the one `plan` cell, as data
        elif self.mode == "table":
            line = result.verb
            if isinstance(result, RowCount):
                line += f": {result.rows} row{'s' if result.rows != 1 else ''}"
            self.write(line + (f" in {format_elapsed(elapsed)}" if self.timer else ""))
            return
        self._note_time(elapsed)

    def show_query(self, query: QueryPlan, start: float) -> None:
        """Run ``query`` and show its rows: a table, rows streamed in a data mode, or a file written."""
        if self.mode == "table":
            table = self.runner.run(lambda: self.con.run(query.plan).table)
            elapsed = time.perf_counter() - start
            self.write(format_table(table, max_rows=self.maxrows, max_width=self.width(),
                                    elapsed=elapsed if self.timer else None, color=self.color()).rstrip("\n"))
        elif self.mode in FILE_MODES:
            path = self.mode_path
            rows = self.runner.run(lambda: write_file(path, query.schema, self.con.run_batches(query.plan),
                                                      self.mode))
            elapsed = time.perf_counter() - start
            self.note(f"wrote {rows} row{'s' if rows != 1 else ''} to {path} ({self.mode})"
                      + (f" in {format_elapsed(elapsed)}" if self.timer else ""))
        else:
            # rows go out as the query produces them: `--format csv` of a big result never holds it all
            self.runner.run(lambda: write_stream(self.out, query.schema, self.con.run_batches(query.plan),
                                                 self.mode))
            self._note_time(time.perf_counter() - start)

    def _note_time(self, elapsed: float) -> None:
        if self.timer:
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
        from quarry.catalog.discovery import register_directory
        try:
            names, notes = register_directory(self.con, path)
        finally:
            self.catalog_changed()
        for note in notes:
            self.note(note)
        self.note(f"registered {len(names)} table{'s' if len(names) != 1 else ''}: {', '.join(names)}")
        return names

    def close(self) -> None:
        """Close a ``.output`` file, if one is open."""
        if self._output_file is not None:
            self._output_file.close()
            self._output_file = None
            self.out = self.stdout


def _with_hint(err: QuarryError, hint: str) -> QuarryError:
    """``err`` with ``hint`` added on a line of its own, under the hint it has."""
    err.hint = f"{err.hint}\n      {hint}" if err.hint else hint
    return err


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
              "End SQL statements with ; (they may span lines). Input starting with lowercase `from ` is a DSL",
              "pipeline (from nation | take 2) or FROM-first SQL (from nation limit 2); a blank line ends it too.",
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
            blocks.append(f"CREATE VIEW {quote_identifier(name)} AS {view_sql};")
            continue
        cols = [f"    {quote_identifier(f.name)} {type_name(f.type)}{'' if f.nullable else ' NOT NULL'}"
                for f in schema]
        blocks.append(f"CREATE TABLE {quote_identifier(name)} (\n" + ",\n".join(cols) + "\n);")
    if blocks:
        shell.write("\n".join(blocks))


def _view_sql(con, name: str) -> str | None:
    try:
        return getattr(con.catalog.get(name), "sql", None)
    except Exception:       # the catalog is optional detail: fall back to columns
        return None


@command(".describe", "TABLE", "columns of a table: name, type, nullable (DESCRIBE TABLE)")
def _describe(shell: Shell, arg: str) -> None:
    if not arg:
        raise QuarryError("usage: .describe TABLE")
    name = arg if arg.startswith('"') else quote_identifier(arg)
    saved, shell.timer = shell.timer, False
    try:
        shell.run_sql(f"DESCRIBE {name}")
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


@command(".ui", "", "open the web UI of jobs, stages and tasks in a browser (starting it if needed)")
def _ui(shell: Shell, arg: str) -> None:
    if arg:
        raise QuarryError("usage: .ui")
    from quarry.ui import start_ui
    start_ui(shell.con, quiet=True)
    import webbrowser
    # no display (ssh, a container): a browser cannot open here, so only say where the UI is
    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    opened = not headless and webbrowser.open(shell.con.ui_url)
    shell.note(f"quarry UI at {shell.con.ui_url}" + ("" if opened else " (open it in a browser)"))


@command(".timer", "[on|off]", "show how long each statement took")
def _timer(shell: Shell, arg: str) -> None:
    shell.timer = _parse_switch(arg, shell.timer, ".timer")
    shell.note(f"timer {'on' if shell.timer else 'off'}")


@command(".explain", "[verbose|analyze] SQL", "show the query plan (analyze runs the query)")
def _explain(shell: Shell, arg: str) -> None:
    mode = ""
    first, _, rest = arg.partition(" ")
    if first.lower() in ("plan", "verbose", "analyze"):
        mode, arg = ("" if first.lower() == "plan" else first.upper() + " "), rest
    sql = arg.strip().rstrip(";").strip()
    if not sql:
        raise QuarryError("usage: .explain [verbose|analyze] SELECT ...")
    result = shell.runner.run(lambda: shell.con.statement(f"EXPLAIN {mode}{sql}"))
    shell.write(result.text.rstrip("\n"))


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
