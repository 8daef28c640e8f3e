"""The shell's web UI hooks: ``quarry --ui``, ``.ui``, and ``quarry history``'s argument errors."""

from __future__ import annotations

import re


def test_ui_flag_prints_the_address_and_dot_ui_repeats_it(run, env):
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):       # no browser may open from a test
        env.pop(name, None)
    result = run("--ui", "--ui-port", "0", "-c", "SELECT 41 + 1 AS answer", "-c", ".ui")
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"quarry UI at (http://127\.0\.0\.1:\d+)", result.stderr)
    # printed at start, and again by .ui (headless here: it says where the UI is instead of opening it)
    assert len(lines) == 2 and lines[0] == lines[1]
    assert "42" in result.stdout


def test_history_needs_a_directory_of_logs(run, tmp_path):
    result = run("history", "--event-log", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "no event log directory" in result.stderr
