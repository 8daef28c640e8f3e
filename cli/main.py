"""``quarry``: the command line. The SQL shell is the default; other commands are subcommands.

    quarry                          interactive shell
    quarry --demo                   ... with TPC-H (SF 0.01) tables loaded
    quarry -c "SELECT 1"            run SQL and exit (status 1 on any error)
    quarry script.sql               run a file
    echo "SELECT 1;" | quarry       run what stdin holds
    quarry serve --data DIR ...     the Arrow Flight SQL server (see docs/server.md)
    quarry history --event-log DIR  the web UI of past sessions (see docs/ui.md)
    quarry spark-connect --data DIR the Spark Connect server for PySpark (see docs/spark.md)

argparse has no "default subcommand", and a shell that takes a script path as its
first positional would be ambiguous with ``add_subparsers``; so :func:`main` looks
at the first argument itself: a name in :data:`SUBCOMMANDS` runs that command with
its own parser, anything else goes to the shell's parser. Adding the server means
adding one function to that table.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from quarry.cli.formats import TEXT_MODES

DEMO_SCALE = 0.01
DEMO_HINT = "SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1;"


# -- subcommands ---------------------------------------------------------------------------------

def serve(argv: list[str]) -> int:
    """``quarry serve``: the Arrow Flight SQL server (``quarry serve --help`` lists its options)."""
    from quarry.server.cli import serve_main
    return serve_main(argv)


def history(argv: list[str]) -> int:
    """``quarry history``: the web UI over event logs (``quarry history --help``)."""
    from quarry.ui.history import main as history_main
    return history_main(argv)


def spark_connect(argv: list[str]) -> int:
    """``quarry spark-connect``: the Spark Connect server for PySpark (``quarry spark-connect --help``)."""
    from quarry.spark.cli import spark_connect_main
    return spark_connect_main(argv)


SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "serve": serve,
    "history": history,
    "spark-connect": spark_connect,
}


# -- the shell -----------------------------------------------------------------------------------

def shell_parser() -> argparse.ArgumentParser:
    import quarry
    parser = argparse.ArgumentParser(
        prog="quarry",
        description="quarry: a SQL query engine on Apache Arrow. Without arguments, an interactive SQL shell.",
        epilog="commands: quarry serve (an Arrow Flight SQL server; quarry serve --help), "
               "quarry history (the web UI of past sessions; quarry history --help), "
               "quarry spark-connect (a Spark Connect server for PySpark). "
               "Exit status: 0 on success, 1 if any statement failed, 2 for usage errors. "
               "See docs/shell.md.")
    parser.add_argument("file", nargs="?", help="run the statements in this SQL file and exit")
    parser.add_argument("-c", "--command", action="append", metavar="SQL",
                        help="run SQL (statements or dot commands) and exit; may be repeated")
    parser.add_argument("--format", choices=TEXT_MODES, help="output format (default: table)")
    parser.add_argument("--data", action="append", metavar="DIR",
                        help="register every Parquet/CSV file or data folder in DIR as a table (like .open)")
    parser.add_argument("--demo", action="store_true",
                        help=f"register TPC-H tables (scale factor {DEMO_SCALE:g}, generated once and cached)")
    parser.add_argument("--ui", action="store_true",
                        help="serve the web UI of jobs, stages and tasks (on with --demo in a terminal); .ui opens it")
    parser.add_argument("--ui-port", type=int, default=4040, metavar="PORT",
                        help="port of the web UI (default 4040, or the next free one)")
    parser.add_argument("--maxrows", type=int, metavar="N", help="rows shown in table output (default 40; 0 = all)")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"quarry {quarry.__version__}")
    return parser


def load_demo(shell) -> list[str]:
    """Register the TPC-H demo tables, generating them on first use; return their names."""
    from quarry.tpch import datagen
    if datagen.missing_tables(datagen.default_dir(DEMO_SCALE)):
        shell.note(f"generating the TPC-H demo data (scale factor {DEMO_SCALE:g}); this happens once...")
    data_dir = datagen.generate(DEMO_SCALE)
    names = []
    for name, path in datagen.table_paths(data_dir).items():
        shell.con.register(name, str(path))
        names.append(name)
    shell.catalog_changed()
    return sorted(names)


def _banner(demo_tables: list[str] | None) -> str:
    import quarry
    if demo_tables:
        return (f"quarry {quarry.__version__} · TPC-H demo (SF {DEMO_SCALE:g}): {', '.join(demo_tables)}"
                f" · try: {DEMO_HINT}  (.help for help)")
    return f"quarry {quarry.__version__} · end statements with ; · .help for help · Ctrl-D to exit"


def _read_file(path: str) -> str:
    from quarry.errors import QuarryError
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise QuarryError(f"cannot read `{path}`: {exc.strerror or exc}") from None


def run_shell(argv: list[str]) -> int:
    """The default command: the interactive shell, or a script when given one."""
    args = shell_parser().parse_args(argv)
    import quarry
    from quarry.cli.shell import ExitShell, Shell
    from quarry.errors import QuarryError
    from quarry.tpch.datagen import DataGenerationError

    scripted = bool(args.command) or args.file is not None or not sys.stdin.isatty()
    if args.maxrows is not None and args.maxrows < 0:
        print("quarry: --maxrows must be 0 or more", file=sys.stderr)
        return 2
    shell = Shell(quarry.connect(), mode=args.format or "table",
                  maxrows=40 if args.maxrows is None else args.maxrows,
                  timer=not scripted, debug=args.debug, spinner=True)
    try:
        try:
            if args.ui or (args.demo and not scripted):
                from quarry.ui import start_ui
                start_ui(shell.con, port=args.ui_port, quiet=True)
                shell.note(f"quarry UI at {shell.con.ui_url}")
            demo_tables = load_demo(shell) if args.demo else None
            for directory in args.data or []:
                shell.open_path(directory)
        except QuarryError as err:
            shell.report(err)
            return 1
        except DataGenerationError as err:
            shell.note(f"error: cannot prepare the demo data: {err}")
            return 1
        try:
            if args.command:
                ok = all(shell.run_script(text) for text in args.command)
            elif args.file is not None:
                ok = shell.run_script(_read_file(args.file))
            elif scripted:
                ok = shell.run_script(sys.stdin.read())
            else:
                from quarry.cli.repl import interact
                return interact(shell, _banner(demo_tables))
        except ExitShell:
            ok = True
        except QuarryError as err:
            shell.report(err)
            ok = False
        return 0 if ok else 1
    finally:
        shell.close()
        if shell.runner.busy():
            # a cancelled query is still unwinding in a daemon thread; don't wait for it
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0 if not scripted else 1)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``quarry`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return SUBCOMMANDS[argv[0]](argv[1:])
        return run_shell(argv)
    except BrokenPipeError:
        # the reader went away (`quarry -c ... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:        # a bug outside any statement (startup, the prompt itself)
        if debug:
            raise
        print(f"internal error: {type(err).__name__}: {err}", file=sys.stderr)
        print("HINT: this is a bug in quarry; rerun with --debug to see the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
