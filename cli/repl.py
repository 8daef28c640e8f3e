"""The interactive prompt: prompt_toolkit with SQL highlighting, completion and history.

Enter runs the buffer once it holds a finished statement (ends with ``;``, or is a
dot command, or a DSL pipeline followed by a blank line); otherwise it starts a
new line under a ``...>`` continuation prompt. In a multi-line buffer, Enter with
the cursor before the end adds a line there, so statements can be edited. Alt-Enter (Esc, Enter) runs the
buffer as it is. Ctrl-R searches the history, which persists in
:func:`history_path`.

While a statement runs, stdin is in cbreak mode without echo (:func:`quiet_stdin`):
keys typed ahead wait, unseen, for the next prompt instead of echoing into the output,
and Ctrl-D stays the byte prompt_toolkit reads as end of input. (In the terminal's line
mode, which prompt_toolkit leaves it in between prompts, the line discipline turns
Ctrl-D into a NUL byte, and the next prompt read that as Ctrl-Space.)
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import completion_is_selected, has_focus
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.shortcuts import CompleteStyle
from prompt_toolkit.styles import Style
from pygments.lexers.sql import SqlLexer

from quarry.cli.completion import SchemaCache, SqlCompleter
from quarry.cli.formats import MODES
from quarry.cli.script import is_complete
from quarry.cli.shell import COMMANDS, ExitShell, Shell

PROMPT = "quarry> "
CONTINUATION = "     ...> "

STYLE = Style.from_dict({
    "prompt": "ansigreen bold",
    "continuation": "ansigreen",
})


def history_path() -> Path:
    """Where history is kept: ``$QUARRY_HISTORY``, else ``$XDG_DATA_HOME/quarry/history``,
    else ``~/.local/share/quarry/history``."""
    override = os.environ.get("QUARRY_HISTORY")
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "")
    # the XDG spec says to ignore a relative XDG_DATA_HOME
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "quarry" / "history"


def open_history(shell: Shell) -> History:
    """A FileHistory, or an in-memory one (with a note) when the file cannot be written."""
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        return FileHistory(str(path))
    except OSError as exc:
        shell.note(f"history will not be saved: cannot write {path} ({exc.strerror or exc})")
        return InMemoryHistory()


def key_bindings() -> KeyBindings:
    kb = KeyBindings()
    in_buffer = has_focus(DEFAULT_BUFFER)

    @kb.add("enter", filter=in_buffer & completion_is_selected)
    def _take_completion(event):
        event.current_buffer.complete_state = None

    @kb.add("enter", filter=in_buffer & ~completion_is_selected)
    def _enter(event):
        buf = event.current_buffer
        # in a multi-line buffer, Enter before the end edits (adds a line); on one line it runs
        at_end = not buf.document.text_after_cursor.strip() or "\n" not in buf.text
        if at_end and is_complete(buf.text):
            buf.validate_and_handle()
        else:
            buf.newline(copy_margin=True)

    @kb.add("escape", "enter", filter=in_buffer)
    def _run_now(event):
        event.current_buffer.validate_and_handle()

    return kb


def make_prompt(shell: Shell) -> PromptSession:
    """The prompt_toolkit session, wired to the shell's catalog for completion."""
    from quarry.logical.functions import function_names
    schema = SchemaCache(shell.con)
    shell.catalog_listeners.append(schema.reset)
    completer = SqlCompleter(schema, function_names(),
                             {c.name: c.help for c in COMMANDS.values()}, MODES)
    return PromptSession(
        message=[("class:prompt", PROMPT)],
        prompt_continuation=lambda width, line_number, wrap_count: [("class:continuation", CONTINUATION)],
        multiline=True,
        key_bindings=key_bindings(),
        history=open_history(shell),
        completer=completer,
        complete_while_typing=False,
        complete_style=CompleteStyle.MULTI_COLUMN,
        auto_suggest=AutoSuggestFromHistory(),
        lexer=PygmentsLexer(SqlLexer),
        style=STYLE,
        include_default_pygments_style=True,
        search_ignore_case=True,
        enable_open_in_editor=True,
    )


@contextmanager
def quiet_stdin(stream=None):
    """Put the terminal ``stream`` (stdin) in cbreak mode without echo until the block ends.

    Signals still work (Ctrl-C is still SIGINT), but no longer flush the input queue
    (NOFLSH), so typed bytes stay queued for the next prompt through a cancel. The
    settings change at once (TCSANOW), never flushing what was typed.
    Without a terminal this does nothing.
    """
    stream = sys.stdin if stream is None else stream
    try:
        import termios
    except ImportError:             # not POSIX: nothing to do
        yield
        return
    try:
        fd = stream.fileno()
        saved = termios.tcgetattr(fd)
    except (termios.error, AttributeError, ValueError, OSError):     # not a terminal
        yield
        return
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~(termios.ECHO | termios.ICANON)
    quiet[3] |= termios.NOFLSH          # Ctrl-C cancels the query but keeps what was typed ahead
    quiet[6][termios.VMIN], quiet[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def interact(shell: Shell, banner: str | None = None) -> int:
    """Read, run, print until Ctrl-D or ``.quit``; return the exit status (0)."""
    session = make_prompt(shell)
    if banner:
        shell.note(banner)
    while True:
        try:
            text = session.prompt()
        except KeyboardInterrupt:           # Ctrl-C at the prompt: drop the line, keep going
            continue
        except EOFError:                    # Ctrl-D on an empty line
            break
        if not text.strip():
            continue
        try:
            with quiet_stdin():
                shell.run_script(text)
        except ExitShell:
            break
        except KeyboardInterrupt:           # Ctrl-C while printing a result
            shell.note("interrupted")
    return 0
