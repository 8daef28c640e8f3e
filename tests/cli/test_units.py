"""In-process tests of the shell's parts: splitting, completion, rendering, the runner."""

from __future__ import annotations

import io
import threading
import time

import pyarrow as pa
import pytest
from prompt_toolkit.document import Document

import quarry
from quarry.cli.completion import SchemaCache, SqlCompleter
from quarry.cli.runner import QueryCancelled, QueryRunner, Spinner, engine_progress
from quarry.cli.script import Piece, is_complete, split_script
from quarry.catalog.discovery import discover, table_name
from quarry.cli.shell import COMMANDS, Shell
from quarry.display import format_table


# -- where statements end --------------------------------------------------------------------------

@pytest.mark.parametrize("text, complete", [
    ("SELECT 1", False),
    ("SELECT 1;", True),
    ("SELECT 1\nFROM t;", True),
    ("SELECT ';'", False),
    ("SELECT 1 -- ;", False),
    ("SELECT 1 /* ; */", False),
    (".tables", True),
    ("", True),
    ("from t | take 1", False),
    ("from t | take 1\n", True),
    ("exit", True),
])
def test_is_complete(text, complete):
    assert is_complete(text) is complete


def test_split_script_mixes_sql_dot_commands_and_dsl():
    pieces, rest = split_script("-- note\n.mode csv\nSELECT 'a;b';\nfrom t | take 1;\nSELECT 2")
    assert pieces == [Piece("dot", ".mode csv"), Piece("sql", "SELECT 'a;b'"),
                      Piece("dsl", "from t | take 1"), Piece("sql", "SELECT 2")]
    assert rest == ""


# -- rendering -----------------------------------------------------------------------------------

def test_format_table_marks_nulls_and_right_aligns_numbers():
    text = format_table(pa.table({"n": [1, None, 300], "s": ["a", None, "NULL"]}), max_width=0)
    lines = text.splitlines()
    assert lines[1].split("│")[1:3] == ["   n    ", "    s    "]
    assert lines[4] == "│      1 │ a       │"
    assert lines[5] == "│   NULL │ NULL    │"
    assert lines[-1] == "3 rows"


def test_format_table_dims_only_real_nulls_when_colored():
    text = format_table(pa.table({"s": [None, "NULL"]}), max_width=0, color=True)
    null_row, string_row = text.splitlines()[4:6]
    assert "\x1b[2mNULL" in null_row and "\x1b[2m" not in string_row


def test_format_table_fits_the_width_and_says_what_is_hidden():
    table = pa.table({f"column_{i}": ["x" * 30] for i in range(10)})
    text = format_table(table, max_width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "columns not shown" in text.splitlines()[-1]
    assert "│ … │" in text


def test_format_table_cuts_long_values_before_hiding_columns():
    table = pa.table({"id": [1], "comment": ["y" * 500]})
    text = format_table(table, max_width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert "…" in text and "not shown" not in text


def test_format_table_footer_counts_and_time():
    text = format_table(pa.table({"x": list(range(100))}), max_rows=10, max_width=0, elapsed=0.5)
    assert text.splitlines()[-1] == "100 rows (showing 10) in 0.500s"


# -- completion ----------------------------------------------------------------------------------

@pytest.fixture
def completer():
    con = quarry.connect()
    con.register("orders", pa.table({"o_orderkey": [1], "o_total": [1.0]}))
    con.register("items", pa.table({"i_orderkey": [1], "i_total": [2.0], "o_note": ["x"]}))
    return SqlCompleter(SchemaCache(con), ["sum", "substr"], {c.name: c.help for c in COMMANDS.values()},
                        ["table", "csv"])


def complete(completer, text):
    return [c.text for c in completer.get_completions(Document(text, len(text)), None)]


def complete_at(completer, before, after=""):
    doc = Document(before + after, len(before))
    return [c.text for c in completer.get_completions(doc, None)]


def test_columns_of_mentioned_tables_come_first(completer):
    assert sorted(complete(completer, "SELECT o_")) == ["o_note", "o_orderkey", "o_total"]
    assert complete_at(completer, "SELECT o_", " FROM orders") == ["o_orderkey", "o_total", "o_note"]
    assert complete_at(completer, "SELECT o_", " FROM items")[0] == "o_note"


def test_table_names_after_from_and_alias_columns(completer):
    assert complete(completer, "SELECT * FROM or")[0] == "orders"
    assert complete(completer, "SELECT * FROM orders o, it")[0] == "items"
    assert complete_at(completer, "SELECT o.", " FROM orders o") == ["o_orderkey", "o_total"]
    assert complete_at(completer, "SELECT x.i_o", " FROM items AS x") == ["i_orderkey"]


def test_keywords_functions_and_dot_commands(completer):
    assert "SELECT" in complete(completer, "SEL")
    assert "select" in complete(completer, "sel")
    assert "substr" in complete(completer, "SELECT sub")
    assert complete(completer, ".tab") == [".tables"]
    assert complete(completer, ".mode c") == ["csv"]
    assert complete(completer, ".describe it") == ["items"]


# -- the shell, in process -----------------------------------------------------------------------

def make_shell(con=None, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    return Shell(con or quarry.connect(), out=out, err=err, **kwargs), out, err


def test_internal_errors_are_one_line_with_a_hint():
    class Broken:
        def statement(self, text):
            raise RuntimeError("boom\nsecond line")

        def cancel(self):
            pass

    shell, out, err = make_shell(Broken())
    assert shell.run_script("SELECT 1;") is False
    assert err.getvalue() == ("internal error: RuntimeError: boom\n"
                              "HINT: this is a bug in quarry; rerun with --debug to see the traceback\n")


def test_debug_shows_the_traceback():
    shell, out, err = make_shell(debug=True)
    shell.run_script("SELECT nope;")
    assert "Traceback" in err.getvalue() and "Binder error" in err.getvalue()


def test_dsl_is_used_when_the_session_has_one():
    con = quarry.connect()
    con.dsl = lambda text: con.sql("SELECT 'piped' AS how")
    shell, out, err = make_shell(con, mode="csv")
    assert shell.run_script("from anything | take 1;"), err.getvalue()
    assert out.getvalue().splitlines() == ['"how"', '"piped"']


def test_status_statements_print_a_short_line():
    shell, out, err = make_shell()
    assert shell.run_script("CREATE TABLE t AS SELECT 1 AS x; INSERT INTO t VALUES (2); DROP TABLE t;")
    assert out.getvalue().splitlines() == ["CREATE TABLE: 1 row", "INSERT: 1 row", "DROP TABLE"]


def test_the_shell_reads_no_python_variables_and_points_to_open():
    """The shell calls con.statement from its own code: `sql` and `self` are its variables there,
    never tables, so a missing table gets the shell's `.open` hint and not a variable's."""
    shell, out, err = make_shell(quarry.connect(workers=0))
    assert shell.run_script("SELECT * FROM sql;") is False
    assert "table `sql` does not exist" in err.getvalue()
    assert ".open DIR" in err.getvalue() and "variable" not in err.getvalue()


def test_open_names_tables_after_files(tmp_path):
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"x": [1]}), tmp_path / "my-data.parquet")
    (tmp_path / "notes.txt").write_text("not data")
    (tmp_path / ".hidden.csv").write_text("a\n1\n")
    assert discover(str(tmp_path)) == [("my_data", str(tmp_path / "my-data.parquet"))]
    assert table_name("2024.csv") == "t_2024"


# -- the runner ----------------------------------------------------------------------------------

def test_runner_returns_results_and_raises_errors():
    runner = QueryRunner(quarry.connect())
    assert runner.run(lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        runner.run(lambda: 1 / 0)


@pytest.fixture
def python_sigint_handler():
    """Python's own SIGINT handler for the test: a process started in the background (``cmd &`` in a
    script) inherits SIGINT ignored, and _thread.interrupt_main() then does nothing."""
    import signal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_runner_cancels_on_keyboard_interrupt(python_sigint_handler):
    cancelled = threading.Event()

    class Con:
        def cancel(self):
            cancelled.set()

    runner = QueryRunner(Con())
    release = threading.Event()
    timer = threading.Timer(0.2, lambda: _interrupt_main())
    timer.start()
    started = time.monotonic()
    with pytest.raises(QueryCancelled):
        runner.run(lambda: release.wait(10))
    assert time.monotonic() - started < 2
    assert cancelled.is_set()
    assert runner.busy()
    release.set()


def _interrupt_main():
    import _thread
    _thread.interrupt_main()


def test_spinner_shows_elapsed_time_and_engine_progress():
    class Con:
        def progress(self):
            return 0.5

    stream = io.StringIO()
    spinner = Spinner(stream, lambda: engine_progress(Con()), delay=0.0, interval=0.01).start()
    time.sleep(0.1)
    spinner.stop()
    assert "running 0." in stream.getvalue() and "50%" in stream.getvalue()
    assert stream.getvalue().endswith("\r\x1b[2K")
    assert engine_progress(quarry.connect()) is None


def test_history_path_respects_overrides(monkeypatch, tmp_path):
    from pathlib import Path
    from quarry.cli.repl import history_path
    monkeypatch.setenv("QUARRY_HISTORY", str(tmp_path / "h"))
    assert history_path() == tmp_path / "h"
    monkeypatch.delenv("QUARRY_HISTORY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert history_path() == tmp_path / "quarry" / "history"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert history_path() == Path.home() / ".local" / "share" / "quarry" / "history"


def test_schema_quotes_names_and_prints_sql_types(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    (tmp_path / "items.csv").write_text("id,unit price,note\n1,2.5,\n")
    con = quarry.connect()
    con.register("items", str(tmp_path / "items.csv"))
    con.sql('CREATE TABLE "my table" ("order" INTEGER NOT NULL, amount DECIMAL(15,2))')
    shell, out, err = make_shell(con)
    assert shell.run_script(".schema"), err.getvalue()
    text = out.getvalue()
    assert text.splitlines() == ['CREATE TABLE items (', '    id BIGINT,', '    "unit price" DOUBLE,',
                                 '    note VARCHAR', ');', 'CREATE TABLE "my table" (', '    "order" INTEGER NOT NULL,',
                                 '    amount DECIMAL(15,2)', ');']
    # what .schema prints is SQL DuckDB runs, giving the same columns and types
    oracle = duckdb.connect()
    oracle.execute(text)
    assert oracle.sql('DESCRIBE "my table"').fetchall()[0][:3] == ("order", "INTEGER", "NO")
    assert [r[:2] for r in oracle.sql("DESCRIBE items").fetchall()] == \
        [(r["column_name"], r["column_type"]) for r in con.sql("DESCRIBE items").to_pylist()]


def test_describe_command_is_the_describe_statement():
    con = quarry.connect()
    con.sql("CREATE TABLE t (a DECIMAL(15,2), b VARCHAR NOT NULL)")
    shell, out, err = make_shell(con, mode="csv", timer=True)
    assert shell.run_script(".describe t\nDESCRIBE t;"), err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[:3] == ['"column_name","column_type","null"', '"a","DECIMAL(15,2)","YES"', '"b","VARCHAR","NO"']
    assert lines[:3] == lines[3:]


def test_data_modes_stream_every_batch():
    con = quarry.connect(batch_rows=1000)
    con.register("t", pa.table({"x": list(range(5000))}))
    shell, out, err = make_shell(con, mode="json")
    assert shell.run_script("SELECT x FROM t ORDER BY x;"), err.getvalue()
    import json
    assert [r["x"] for r in json.loads(out.getvalue())] == list(range(5000))


def test_open_and_serve_find_the_same_tables(tmp_path):
    import pyarrow.parquet as pq
    from quarry.server.cli import register_data_dir
    pq.write_table(pa.table({"x": [1]}), tmp_path / "2024.parquet")
    (tmp_path / "my-data.csv").write_text("a\n1\n")
    (tmp_path / "sales" / "year=2024").mkdir(parents=True)
    pq.write_table(pa.table({"v": [5]}), tmp_path / "sales" / "year=2024" / "part-0.parquet")
    (tmp_path / "csvs").mkdir()
    (tmp_path / "csvs" / "a.csv").write_text("k\n1\n2\n")
    for skipped in (".hidden.csv", "_SUCCESS", "README.txt"):
        (tmp_path / skipped).write_text("k\n1\n")
    shell, out, err = make_shell()
    opened = shell.open_path(str(tmp_path))
    served = quarry.connect()
    assert register_data_dir(served, str(tmp_path)) == opened == ["t_2024", "csvs", "my_data", "sales"]
    for con in (shell.con, served):
        assert con.sql("SELECT count(*) AS n FROM csvs").to_pylist() == [{"n": 2}]
        assert con.sql("SELECT year, v FROM sales").to_pylist() == [{"year": 2024, "v": 5}]
    assert served.read_parquet(str(tmp_path / "2024.parquet")).logical_plan.schema[0].qualifier == "t_2024"
