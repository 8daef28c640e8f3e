"""``quarry history --event-log DIR``: the UI of past sessions, replayed from their event logs.

    quarry history --event-log /tmp/quarry-events            # http://127.0.0.1:18080

``/`` lists the sessions (one log each, newest first); each has the live UI's pages under
``/history/<app id>/`` (``/jobs/``, ``/stages/``, ``/SQL/``, ...), and the REST API answers for every
one of them at ``/api/v1/applications/<app id>/...``. A log whose session was killed mid-query
replays up to its last complete line; its running jobs show as RUNNING and the application as not
ended.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_PORT = 18080          # the port Spark's history server uses


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quarry history",
                                description="serve the web UI of past sessions from their event logs")
    p.add_argument("--event-log", required=True, metavar="DIR",
                   help="the directory sessions wrote their logs to (their event_log_dir setting)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default: {DEFAULT_PORT}, or the next free one; 0: any free port)")
    p.add_argument("--token", default=os.environ.get("QUARRY_UI_TOKEN"),
                   help="token the browser must present; required for a non-loopback --host "
                        "(default: $QUARRY_UI_TOKEN)")
    return p


def serve_history(directory: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT, token: str | None = None):
    """A started UIServer over every log in ``directory``."""
    from quarry.ui.events import read_event_logs
    from quarry.ui.server import UIServer
    return UIServer(read_event_logs(directory), host=host, port=port, token=token, history=True)


def main(argv: list[str] | None = None) -> int:
    """Run ``quarry history``; blocks until interrupted. The process exit status."""
    import threading
    from quarry.errors import QuarryError
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    try:
        server = serve_history(args.event_log, args.host, args.port, args.token)
    except QuarryError as err:
        print(f"quarry history: {err}", file=sys.stderr)
        return 2
    print(f"quarry history UI at {server.url} ({len(server.apps)} sessions from {args.event_log})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
