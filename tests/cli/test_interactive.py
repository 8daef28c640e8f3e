"""The interactive shell, driven through a pseudo-terminal as a person would use it."""

from __future__ import annotations

import time

import pytest

pexpect = pytest.importorskip("pexpect")

PROMPT = "quarry> "
TIMEOUT = 30


@pytest.fixture
def shell(quarry_bin, env, tmp_path):
    """A running ``quarry --demo`` at its first prompt; closed (forcibly if need be) afterwards."""
    child = pexpect.spawn(quarry_bin, ["--demo"], env=env, cwd=str(tmp_path), dimensions=(40, 200),
                          encoding="utf-8", timeout=TIMEOUT)
    child.expect("try: SELECT l_returnflag")
    child.expect_exact(PROMPT)
    yield child
    if child.isalive():
        child.terminate(force=True)
    child.close()


def run_line(child, line: str) -> None:
    child.send(line + "\r")


def test_multi_line_statement_prints_a_table(shell):
    run_line(shell, "SELECT l_returnflag, count(*) AS n")
    shell.expect_exact("...> ")                  # not run yet: no semicolon
    run_line(shell, "FROM lineitem GROUP BY 1 ORDER BY 1;")
    shell.expect("varchar")                      # type row of the header
    shell.expect("14876")                        # the count for flag A
    shell.expect(r"3 rows in \d+\.\d+s")        # footer with the elapsed time
    shell.expect_exact(PROMPT)


def test_tab_completes_a_column_name(shell):
    shell.send("SELECT l_retu\t")
    time.sleep(0.5)
    # the query only binds if Tab turned `l_retu` into `l_returnflag`
    run_line(shell, " FROM lineitem GROUP BY 1 ORDER BY 1;")
    index = shell.expect([r"3 rows", r"Binder error"])
    assert index == 0, "Tab did not complete l_retu to l_returnflag"
    shell.expect_exact(PROMPT)


def test_dot_tables_lists_the_demo_tables(shell):
    run_line(shell, ".tables")
    shell.expect("customer +lineitem +nation +orders +part +partsupp +region +supplier")
    shell.expect_exact(PROMPT)


def test_ctrl_c_cancels_a_long_query_and_returns_to_the_prompt(shell):
    # a 60k x 60k cross join: minutes of work on the demo data
    run_line(shell, "SELECT count(*) FROM lineitem a, lineitem b WHERE a.l_orderkey + b.l_orderkey < 0;")
    shell.expect(r"running 2\.\d+s")            # the spinner shows it is still running after 2 s
    started = time.monotonic()
    shell.sendintr()
    shell.expect_exact("query cancelled")
    shell.expect_exact(PROMPT)
    assert time.monotonic() - started < 5
    run_line(shell, "SELECT 42 AS answer;")      # the shell is usable again
    shell.expect("42")
    shell.expect("1 row")
    shell.expect_exact(PROMPT)
    shell.sendeof()
    shell.expect(pexpect.EOF)
    shell.close()
    assert shell.exitstatus == 0


def test_error_shows_the_caret_and_hint_without_traceback(shell):
    run_line(shell, "SELECT l_retunflag FROM lineitem;")
    shell.expect_exact("column `l_retunflag` does not exist")
    shell.expect(r"LINE 1: SELECT l_retunflag FROM lineitem\r\n {15}\^")
    shell.expect_exact("HINT: did you mean `l_returnflag`?")
    shell.expect_exact(PROMPT)
    assert "Traceback" not in shell.before


def test_ctrl_c_at_the_prompt_clears_the_line(shell):
    shell.send("SELECT this is not finished")
    time.sleep(0.3)
    shell.sendintr()
    run_line(shell, "SELECT 7 AS seven;")
    index = shell.expect([r"1 row", r"error"])
    assert index == 0
    shell.expect_exact(PROMPT)


def test_ctrl_d_exits_with_status_zero(shell):
    shell.sendeof()
    shell.expect(pexpect.EOF)
    shell.close()
    assert shell.exitstatus == 0


def test_history_persists_and_ctrl_r_finds_it(quarry_bin, env, tmp_path, shell):
    run_line(shell, "SELECT 1234 + 1 AS remembered;")
    shell.expect("1235")
    shell.expect_exact(PROMPT)
    run_line(shell, ".quit")
    shell.expect(pexpect.EOF)
    assert "SELECT 1234 + 1 AS remembered;" in (tmp_path / "history").read_text()

    again = pexpect.spawn(quarry_bin, ["--demo"], env=env, cwd=str(tmp_path), dimensions=(40, 200),
                          encoding="utf-8", timeout=TIMEOUT)
    try:
        again.expect_exact(PROMPT)
        again.send("\x12")                        # Ctrl-R: reverse history search
        again.send("1234")
        time.sleep(0.3)
        again.send("\r")                          # take the match
        time.sleep(0.3)
        again.send("\r")                          # run it
        again.expect("1235")
        again.expect_exact(PROMPT)
    finally:
        again.terminate(force=True)
        again.close()


def test_dsl_pipeline_ends_at_a_blank_line(shell):
    run_line(shell, "from nation")
    shell.expect_exact("...> ")
    run_line(shell, "| filter n_nationkey < 3")
    shell.expect_exact("...> ")
    run_line(shell, "")                          # the blank line ends the pipeline
    shell.expect("3 rows")
    shell.expect_exact(PROMPT)


LONG_QUERY = "SELECT count(*) FROM lineitem a, lineitem b WHERE a.l_orderkey + b.l_orderkey < 0;"


def test_ctrl_d_typed_while_a_query_runs_exits_at_the_next_prompt(shell):
    run_line(shell, LONG_QUERY)
    shell.expect(r"running 1\.\d+s")
    shell.sendeof()                              # Ctrl-D while the query runs: kept for the prompt
    time.sleep(0.3)
    shell.sendintr()                             # cancel; the shell must not lose the Ctrl-D meanwhile
    shell.expect_exact("query cancelled")
    shell.expect(pexpect.EOF, timeout=10)        # the next prompt read Ctrl-D: the shell ended
    shell.close()
    assert shell.exitstatus == 0


def test_keys_typed_ahead_do_not_echo_into_the_output(shell):
    run_line(shell, LONG_QUERY)
    shell.expect(r"running 1\.\d+s")
    shell.send("SELECT 99 AS typed_ahead;")      # typed while the query runs
    time.sleep(0.5)
    shell.sendintr()
    shell.expect_exact("query cancelled")
    assert "typed_ahead" not in shell.before      # not echoed while the query ran
    shell.expect_exact(PROMPT)
    shell.send("\r")                              # the typed text is in the new prompt's buffer
    shell.expect(r"typed_ahead")
    shell.expect(r"99")
    shell.expect("1 row")
    shell.expect_exact(PROMPT)


def test_spinner_shows_a_bar_of_the_rows_to_scan(shell, tpch_sf001):
    import re
    import pyarrow.parquet as pq
    from quarry.cli.runner import count_text
    rows = pq.ParquetFile(tpch_sf001 / "lineitem.parquet").metadata.num_rows
    run_line(shell, LONG_QUERY)                  # scans lineitem twice: the total comes from the footers
    shell.expect(r"running 1\.\d+s  ▕[ ▏▎▍▌▋▊▉█]{10}▏ +\d+% · [\d.k]+/" + re.escape(count_text(2 * rows)) + " rows")
    shell.sendintr()
    shell.expect_exact("query cancelled")
    shell.expect_exact(PROMPT)
