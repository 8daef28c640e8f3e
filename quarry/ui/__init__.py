"""The web UI: jobs, stages, tasks, SQL plans, storage, workers and settings of a session, live.

    >>> con = quarry.connect(ui=True)          # doctest: +SKIP
    quarry UI at http://127.0.0.1:4040

* :mod:`quarry.ui.events`: the events the scheduler and session report, the state built from them,
  and the event log (``event_log_dir``).
* :mod:`quarry.ui.server`: the HTTP server (standard library), its pages and the REST API under
  ``/api/v1/`` at Spark's monitoring paths.
* :mod:`quarry.ui.pages` and :mod:`quarry.ui.svg`: HTML and the SVG drawings of stage DAGs and plans.
* :mod:`quarry.ui.history`: ``quarry history --event-log DIR``, the same pages over past sessions' logs.

Nothing here runs unless asked: without ``ui=True`` and ``event_log_dir`` a session has no recorder.
"""

from __future__ import annotations


def _recorder(session):
    from quarry.ui.events import Recorder
    if session.ui_recorder is None:
        session.ui_recorder = Recorder(session, session.config.get("event_log_dir"))
    return session.ui_recorder


def start_ui(session, port: int = 4040, host: str = "127.0.0.1", token: str | None = None, quiet: bool = False):
    """Serve ``session``'s web UI; prints ``quarry UI at <url>`` (unless ``quiet``) and returns the server."""
    from quarry.ui.server import UIServer
    if session.ui is not None:
        return session.ui
    recorder = _recorder(session)
    session.ui = UIServer([recorder.state], host=host, port=port, token=token, live=session)
    if not quiet:
        print(f"quarry UI at {session.ui.url}", flush=True)
    return session.ui


def stop_ui(session) -> None:
    """Stop the UI server and end the event log (the session is closing). A session that reports to
    another's recorder (a Flight SQL request's) just stops reporting."""
    if session.ui_recorder is not None and session.ui_recorder.session is not session:
        session.ui_recorder = None
        return
    server, session.ui = session.ui, None
    if server is not None:
        server.close()
    recorder, session.ui_recorder = session.ui_recorder, None
    if recorder is not None:
        recorder.close()


def set_event_log(session, directory) -> None:
    """The ``event_log_dir`` setting changed: start writing the log there (None: stop)."""
    if directory is not None and not isinstance(directory, (str, bytes)) and not hasattr(directory, "__fspath__"):
        from quarry.errors import QuarryError
        raise QuarryError(f"event_log_dir must be a directory path, not {directory!r}")
    if session.ui_recorder is None:
        if directory is not None:
            _recorder(session)          # made with the log already open
        return
    import os
    session.ui_recorder.set_log_dir(os.fspath(directory) if directory is not None else None)


def serve_ui_for(flight_server, session, port: int = 4040, host: str = "127.0.0.1", token: str | None = None):
    """The UI of a Flight SQL server (``quarry serve --ui-port``): the server makes a session per
    request, so each one is made to report to ``session``'s recorder."""
    server = start_ui(session, port=port, host=host, token=token)
    make_session = flight_server.new_session

    def new_session(user: str):
        request_session = make_session(user)
        request_session.ui_recorder = session.ui_recorder
        return request_session

    flight_server.new_session = new_session
    return server
