"""``quarry spark-connect``: serve quarry to PySpark over Spark Connect from the command line.

    quarry spark-connect --data ./warehouse --port 15002
    quarry spark-connect --data ./warehouse --host 0.0.0.0 --users users.txt --tls-cert c.pem --tls-key k.pem

Tables, the file sandbox, users and roles are those of ``quarry serve`` (docs/server.md): every
Parquet/CSV file or folder in a ``--data`` directory is a table, clients read files only inside
the data directories and write only inside ``--writable``. With ``--users`` a client connects with
``sc://host:port/;user_id=USER;token=PASSWORD``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from quarry.errors import QuarryError
from quarry.server.cli import add_ui_arguments

__all__ = ["spark_connect_main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from quarry.server.auth import ROLES
    from quarry.spark import DEFAULT_PORT
    parser = argparse.ArgumentParser(prog="quarry spark-connect",
                                     description="Serve quarry to PySpark clients over Spark Connect "
                                                 "(pip install pyspark-client; no JVM).")
    parser.add_argument("--data", metavar="DIR", action="append", default=[],
                        help="register every Parquet/CSV file and Parquet folder in DIR as a table (read-only); "
                             "clients read files only inside these directories (repeatable)")
    parser.add_argument("--writable", metavar="DIR", help="let clients with the write role write files into DIR")
    parser.add_argument("--anonymous-role", choices=ROLES, default="write",
                        help="the role of every client when no users are configured (default: write)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 picks one)")
    parser.add_argument("--users", metavar="FILE", help="file of `user:password[:role]` lines; the password is the "
                                                         "client's token")
    parser.add_argument("--tls-cert", metavar="PEM", help="TLS certificate chain (needs --tls-key)")
    parser.add_argument("--tls-key", metavar="PEM", help="TLS private key")
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes that run queries (default: cores)")
    parser.add_argument("--max-queries", type=int, metavar="N", help="queries that run at once (default: cores)")
    parser.add_argument("--query-memory", metavar="SIZE",
                        help="memory one query may hold before it is stopped, e.g. 2GB (default: RAM / 8)")
    parser.add_argument("--python-role", choices=[*ROLES, "none"], default=None,
                        help="the least role that may run Python UDFs and upload pyfiles, which run the client's "
                             "code on the server (default: write without --users, admin with them)")
    add_ui_arguments(parser)
    return parser


def spark_connect_main(argv: list[str]) -> int:
    """Run ``quarry spark-connect`` with ``argv``; the process exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import quarry
    from quarry.catalog.sandbox import FileSandbox
    from quarry.server.auth import Users
    from quarry.server.cli import register_data_dir
    from quarry.spark import serve
    try:
        users = Users.load(args.users)
    except (OSError, ValueError) as exc:
        print(f"quarry spark-connect: cannot read the users file: {exc}", file=sys.stderr)
        return 2
    session = quarry.connect(workers=args.workers)
    session.sandbox = FileSandbox(args.data)
    try:
        tables = [name for directory in args.data for name in register_data_dir(session, directory)]
        if args.ui_port is not None:
            from quarry.ui import start_ui
            start_ui(session, port=args.ui_port, host=args.ui_host, token=args.ui_token)
        server = serve(session, args.host, args.port, users=users, tls_cert=args.tls_cert, tls_key=args.tls_key,
                       data_dirs=args.data, writable_dir=args.writable, anonymous_role=args.anonymous_role,
                       max_queries=args.max_queries, query_memory=args.query_memory,
                       python_role="auto" if args.python_role is None else
                       None if args.python_role == "none" else args.python_role)
    except QuarryError as err:
        print(f"quarry spark-connect: {err}", file=sys.stderr)
        return 2
    print(f"quarry: serving Spark Connect on sc://{args.host}:{server.port} ({len(tables)} tables; "
          f"auth {'on' if users else 'off'}; TLS {'on' if args.tls_cert else 'off'})", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0
