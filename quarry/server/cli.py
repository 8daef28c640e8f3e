"""``quarry serve`` (and ``python -m quarry.server``): start a Flight SQL server from the command line.

    quarry serve --data ./warehouse --host 127.0.0.1 --port 31337
    quarry serve --data ./warehouse --host 0.0.0.0 --users users.txt --tls-cert cert.pem --tls-key key.pem

Every Parquet or CSV file directly inside a ``--data`` directory becomes a table named
after the file (``lineitem.parquet`` -> ``lineitem``), and every sub-directory holding
such files (plain or hive-partitioned ``k=v/`` folders) becomes a table named after the
directory: the shell's ``.open`` rule, :func:`quarry.catalog.discovery.discover`. The
``--data`` directories (and ``--writable``) are also the only places remote clients may
read files (``read_parquet``, ``FROM 'file'``, ``CREATE TABLE ... LOCATION``); served data
is read-only, and ``COPY`` writes files only inside ``--writable DIR`` (off without it).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

from quarry.errors import QuarryError

log = logging.getLogger("quarry.server")


def parse_catalog_option(text: str) -> tuple[str, dict[str, str]]:
    """``lake:type=sql,uri=sqlite:///x.db`` -> ``("lake", {"type": "sql", "uri": "sqlite:///x.db"})``."""
    name, sep, rest = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"`{text}` is not NAME:KEY=VALUE,...")
    properties = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"`{item}` in `{text}` is not KEY=VALUE")
        properties[key.strip()] = value
    return name.strip(), properties


def build_parser() -> argparse.ArgumentParser:
    from quarry.server import DEFAULT_PORT
    from quarry.server.auth import ENV_PASSWORD, ENV_ROLE, ENV_USER, ROLES
    parser = argparse.ArgumentParser(
        prog="quarry serve",
        description="Serve quarry tables over Arrow Flight SQL (for ADBC and JDBC clients).",
        epilog=f"Credentials come from --users (lines of `user:password[:role]`, role read, write or admin; "
               f"default read) and/or the {ENV_USER}, {ENV_PASSWORD} (and {ENV_ROLE}) environment variables. "
               "Without credentials only a loopback --host is allowed.")
    parser.add_argument("--data", metavar="DIR", action="append", default=[],
                        help="register every Parquet/CSV file and Parquet folder in DIR as a table (read-only); "
                             "remote file access is limited to these directories (repeatable)")
    parser.add_argument("--writable", metavar="DIR",
                        help="let clients with the write role COPY files into DIR (outside every --data); "
                             "without it the server writes no files")
    parser.add_argument("--iceberg-catalog", metavar="NAME:KEY=VALUE,...", action="append", default=[],
                        help="an Iceberg catalog clients may read with iceberg_scan('NAME.db.table'): pyiceberg "
                             "catalog properties, e.g. lake:type=sql,uri=sqlite:////srv/lake.db,"
                             "warehouse=file:///srv/lake (repeatable); clients cannot register others")
    parser.add_argument("--anonymous-role", choices=ROLES, default="write",
                        help="the role of every client when no users are configured (default: write)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 picks one)")
    parser.add_argument("--users", metavar="FILE", help="file of `user:password[:role]` lines (passwords may be "
                                                         "hashes made with --hash-password)")
    parser.add_argument("--tls-cert", metavar="PEM", help="TLS certificate chain (enables TLS, needs --tls-key)")
    parser.add_argument("--tls-key", metavar="PEM", help="TLS private key")
    parser.add_argument("--token-ttl", type=float, default=3600.0, metavar="SECONDS",
                        help="how long a login token stays valid; calls past half of it get a fresh one "
                             "(default: 3600)")
    parser.add_argument("--statement-ttl", type=float, default=1800.0, metavar="SECONDS",
                        help="close prepared statements unused for this long (default: 1800)")
    parser.add_argument("--result-ttl", type=float, default=300.0, metavar="SECONDS",
                        help="drop query results not fetched within this time (default: 300)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes that run queries, and partitions per query stage (default: cores)")
    parser.add_argument("--query-memory", metavar="SIZE",
                        help="memory one query may hold before it is stopped, e.g. 2GB (default: RAM / 8)")
    parser.add_argument("--max-queries", type=int, metavar="N",
                        help="queries that run at once; more wait in line (default: cores)")
    parser.add_argument("--max-queued", type=int, default=64, metavar="N",
                        help="queries that may wait for a slot; more are refused (default: 64)")
    parser.add_argument("--queue-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="how long a query may wait for a slot before it is refused (default: 120)")
    add_ui_arguments(parser)
    parser.add_argument("--hash-password", action="store_true",
                        help="read a password (prompt or stdin) and print its hash for a users file, then exit")
    return parser


def add_ui_arguments(parser: argparse.ArgumentParser) -> None:
    """The web UI's options, which every server command takes (``--ui-port``, ``--ui-host``, ``--ui-token``)."""
    parser.add_argument("--ui-port", type=int, metavar="PORT",
                        help="serve the web UI of the clients' jobs, stages and tasks on PORT (see docs/ui.md)")
    parser.add_argument("--ui-host", default="127.0.0.1", help="address of the web UI (default: 127.0.0.1)")
    parser.add_argument("--ui-token", default=os.environ.get("QUARRY_UI_TOKEN"),
                        help="token the web UI asks for; required for a non-loopback --ui-host "
                             "(default: $QUARRY_UI_TOKEN)")


def register_data_dir(session, directory: str) -> list[str]:
    """Register the tables found in ``directory`` (see the module docstring); return their names."""
    from quarry.catalog.discovery import register_directory
    names, notes = register_directory(session, directory)
    for note in notes:
        log.warning("%s (in %s)", note, directory)
    return names


def serve_main(argv: list[str]) -> int:
    """Run ``quarry serve`` with ``argv`` (the arguments after ``serve``); the process exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:          # --help, or a usage error argparse already printed
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    if args.hash_password:
        from quarry.server.auth import hash_password
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        print(hash_password(password))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import quarry
    from quarry.server import serve
    from quarry.server.auth import Users
    try:
        users = Users.load(args.users)
    except (OSError, ValueError) as exc:
        print(f"quarry serve: cannot read the users file: {exc}", file=sys.stderr)
        return 2
    from quarry.catalog.sandbox import FileSandbox
    session = quarry.connect(workers=args.workers)
    try:
        for name, properties in (parse_catalog_option(text) for text in args.iceberg_catalog):
            session.register_iceberg_catalog(name, **properties)
    except (QuarryError, ValueError) as err:
        print(f"quarry serve: --iceberg-catalog: {err}", file=sys.stderr)
        return 2
    # discovery obeys the clients' sandbox too: a symlink in a data directory that points outside it is
    # skipped (and logged), not served
    session.sandbox = FileSandbox(args.data)
    try:
        tables = [name for directory in args.data for name in register_data_dir(session, directory)]
        server = serve(session, args.host, args.port, users=users, tls_cert=args.tls_cert, tls_key=args.tls_key,
                       token_ttl=args.token_ttl, data_dirs=args.data, statement_ttl=args.statement_ttl,
                       result_ttl=args.result_ttl, writable_dir=args.writable,
                       anonymous_role=args.anonymous_role, block=False, query_memory=args.query_memory,
                       max_queries=args.max_queries, max_queued=args.max_queued, queue_timeout=args.queue_timeout)
        if args.ui_port is not None:
            from quarry.ui import serve_ui_for
            serve_ui_for(server, session, port=args.ui_port, host=args.ui_host, token=args.ui_token)
    except QuarryError as err:
        print(f"quarry serve: {err}", file=sys.stderr)
        return 2
    scheme = "grpc+tls" if args.tls_cert else "grpc"
    print(f"quarry: serving Flight SQL on {scheme}://{args.host}:{server.port} "
          f"({len(tables)} tables; auth {'on' if users else 'off'}; TLS {'on' if args.tls_cert else 'off'}; "
          f"file writes {'to ' + args.writable if args.writable else 'off'})",
          flush=True)
    server.serve()                     # returns once SIGINT/SIGTERM has shut the server down
    server.stop_background_work()
    return 0


__all__ = ["serve_main", "build_parser", "register_data_dir"]
