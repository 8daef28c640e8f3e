"""Non-interactive use: -c, script files, piped stdin, output formats and exit statuses.

CSV output, exit statuses, script files and stdin are checked on the real command
in a subprocess; the other behaviours call ``quarry.cli.main.main`` in process (the same
code path after start-up, without a second of imports per test).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quarry.cli.main import main


@pytest.fixture
def quarry_main(capsys, monkeypatch, tmp_path, demo_cache):
    """Call ``main(args)`` in process; the result looks like ``subprocess.run``'s."""
    monkeypatch.setenv("QUARRY_CACHE_DIR", str(demo_cache))
    monkeypatch.chdir(tmp_path)

    def _main(*args: str):
        capsys.readouterr()
        status = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out, err)
    return _main


NATIONS = "SELECT n_nationkey, n_name FROM nation WHERE n_nationkey < 3 ORDER BY n_nationkey"
EXPECTED = [(0, "ALGERIA"), (1, "ARGENTINA"), (2, "BRAZIL")]


def test_csv_format_parses(run):
    result = run("--demo", "--format", "csv", "-c", NATIONS)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["n_nationkey", "n_name"]
    assert [(int(a), b) for a, b in rows[1:]] == EXPECTED


def test_tsv_format_parses(quarry_main):
    result = quarry_main("--demo", "--format", "tsv", "-c", NATIONS)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout), delimiter="\t"))
    assert rows[0] == ["n_nationkey", "n_name"]
    assert [(int(a), b) for a, b in rows[1:]] == EXPECTED


def test_json_format_parses(quarry_main):
    result = quarry_main("--demo", "--format", "json", "-c", NATIONS)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["n_nationkey"], r["n_name"]) for r in rows] == EXPECTED


def test_json_keeps_decimals_exact_and_nulls(quarry_main):
    result = quarry_main("--format", "json", "-c", "SELECT CAST(1.10 AS DECIMAL(5,2)) AS d, NULL AS n, 'a\"b' AS s")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"d": 1.1, "n": None, "s": 'a"b'}]
    assert '"d": 1.10' in result.stdout


def test_markdown_format(quarry_main):
    result = quarry_main("--demo", "--format", "markdown", "-c", NATIONS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "| n_nationkey | n_name |"
    assert lines[1] == "| ---: | --- |"
    assert [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]] == \
        [[str(k), name] for k, name in EXPECTED]


def test_table_format_is_the_default(quarry_main):
    result = quarry_main("--demo", "-c", NATIONS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("┌") and "n_nationkey" in lines[1] and "bigint" in lines[2]
    assert any("ALGERIA" in line for line in lines)
    assert lines[-1] == "3 rows"


def test_long_results_show_head_and_tail(quarry_main):
    result = quarry_main("--demo", "--maxrows", "4", "-c", "SELECT n_nationkey FROM nation ORDER BY 1")
    assert result.returncode == 0, result.stderr
    body = [line.strip("│ ") for line in result.stdout.splitlines()[4:-2]]
    assert body == ["0", "1", "…", "23", "24"]
    assert result.stdout.splitlines()[-1] == "25 rows (showing 4)"


def test_error_exits_1_with_message_on_stderr(run):
    result = run("--demo", "-c", "SELECT l_retunflag FROM lineitem")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "column `l_retunflag` does not exist" in result.stderr
    assert "^" in result.stderr and "HINT" in result.stderr
    assert "Traceback" not in result.stderr


def test_script_file_with_two_statements(run, tmp_path):
    script = tmp_path / "two.sql"
    script.write_text("-- two statements\nSELECT 1 AS first;\n\nSELECT 'x' AS second\n  ;\n")
    result = run("--format", "csv", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['"first"', "1", '"second"', '"x"']


def test_script_stops_at_the_first_error(quarry_main, tmp_path):
    script = tmp_path / "bad.sql"
    script.write_text("SELECT 1 AS ok;\nSELEC 2;\nSELECT 3 AS never;\n")
    result = quarry_main("--format", "csv", str(script))
    assert result.returncode == 1
    assert "never" not in result.stdout
    assert "syntax error" in result.stderr


def test_stdin_is_read_when_not_a_terminal(run):
    result = run("--format", "csv", input="SELECT 40 + 2 AS answer;\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['"answer"', "42"]


def test_missing_script_file_is_an_error(quarry_main, tmp_path):
    result = quarry_main(str(tmp_path / "nope.sql"))
    assert result.returncode == 1
    assert "cannot read" in result.stderr


def test_data_registers_files_and_hive_folders(quarry_main, tmp_path):
    data = tmp_path / "data"
    (data / "sales" / "year=2023").mkdir(parents=True)
    (data / "sales" / "year=2024").mkdir(parents=True)
    pq.write_table(pa.table({"amount": [1, 2]}), data / "sales" / "year=2023" / "part-0.parquet")
    pq.write_table(pa.table({"amount": [5]}), data / "sales" / "year=2024" / "part-0.parquet")
    (data / "people.csv").write_text("id,name\n1,ann\n2,bob\n")
    result = quarry_main("--data", str(data), "--format", "csv", "-c",
                 "SELECT year, sum(amount) AS total FROM sales GROUP BY year ORDER BY year",
                 "-c", "SELECT count(*) AS n FROM people")
    assert result.returncode == 0, result.stderr
    assert "registered 2 tables: people, sales" in result.stderr
    assert result.stdout.splitlines() == ['"year","total"', "2023,3", "2024,5", '"n"', "2"]


def test_mode_parquet_writes_a_file(quarry_main, tmp_path):
    out = tmp_path / "out.parquet"
    arrow_out = tmp_path / "out.arrow"
    result = quarry_main("--demo", "-c", f".mode parquet {out}", "-c", NATIONS,
                 "-c", f".mode arrow {arrow_out}", "-c", NATIONS)
    assert result.returncode == 0, result.stderr
    assert pq.read_table(out).to_pylist()[0] == {"n_nationkey": 0, "n_name": "ALGERIA"}
    with pa.OSFile(str(arrow_out)) as f:
        assert pa.ipc.open_file(f).read_all().num_rows == 3
    assert "wrote 3 rows" in result.stderr


def test_output_redirects_results_to_a_file(quarry_main, tmp_path):
    target = tmp_path / "result.csv"
    result = quarry_main("--format", "csv", "-c", f".output {target}\nSELECT 1 AS a;\n.output\nSELECT 2 AS b;")
    assert result.returncode == 0, result.stderr
    assert target.read_text().splitlines() == ['"a"', "1"]
    assert result.stdout.splitlines() == ['"b"', "2"]


def test_read_runs_a_file_and_dot_commands_work_in_scripts(quarry_main, tmp_path):
    (tmp_path / "setup.sql").write_text("CREATE VIEW v AS SELECT 5 AS five;\n")
    result = quarry_main("-c", ".read setup.sql\n.schema v\n.mode csv\nSELECT * FROM v;")
    assert result.returncode == 0, result.stderr
    assert "CREATE VIEW" in result.stdout
    assert result.stdout.splitlines()[-2:] == ['"five"', "5"]


def test_explain_prints_the_plan_raw(quarry_main):
    result = quarry_main("--demo", "-c", "EXPLAIN SELECT count(*) FROM nation")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("== Optimized Logical Plan ==")
    assert "┌" not in result.stdout
    dot = quarry_main("--demo", "-c", ".explain verbose SELECT count(*) FROM nation WHERE n_regionkey = 1")
    assert dot.returncode == 0, dot.stderr
    assert "== Initial Logical Plan ==" in dot.stdout


def test_unknown_dot_command_suggests(quarry_main):
    result = quarry_main("-c", ".tabels")
    assert result.returncode == 1
    assert "unknown command `.tabels`" in result.stderr
    assert "did you mean `.tables`?" in result.stderr


def test_dsl_pipelines_run(quarry_main):
    result = quarry_main("--demo", "--format", "csv", "-c",
                         "from nation\n| filter n_nationkey < 3\n| select n_name\n| sort n_name;")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['"n_name"', '"ALGERIA"', '"ARGENTINA"', '"BRAZIL"']


def test_from_first_sql_runs_as_sql(quarry_main):
    # DuckDB's FROM-first SQL is no pipeline (`limit` is not a verb), so the shell runs it as SQL
    result = quarry_main("--demo", "--format", "csv", "-c",
                         "from nation select n_name where n_nationkey < 3 order by n_name limit 2;",
                         "-c", "from region select r_name order by r_regionkey limit 1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['"n_name"', '"ALGERIA"', '"ARGENTINA"', '"r_name"', '"AFRICA"']


def test_from_text_that_is_neither_says_how_to_force_each(quarry_main):
    pipeline = quarry_main("--demo", "-c", "from nation | limit 2")      # steps: read as a pipeline
    assert pipeline.returncode == 1
    assert "Parser error" in pipeline.stderr and "`limit`" in pipeline.stderr
    assert "FROM in capitals" in pipeline.stderr and "from nation | take 2" in pipeline.stderr
    sql = quarry_main("--demo", "-c", "from nation where")                # no steps: read as SQL
    assert sql.returncode == 1
    assert "syntax error" in sql.stderr and "FROM in capitals" in sql.stderr
    forced = quarry_main("--demo", "--format", "csv", "-c", "FROM nation SELECT count(*) AS n")
    assert forced.returncode == 0 and forced.stdout.splitlines() == ['"n"', "25"]


def test_missing_table_hint_points_to_open(quarry_main):
    result = quarry_main("-c", "SELECT * FROM sales")
    assert result.returncode == 1
    assert "table `sales` does not exist" in result.stderr
    assert "HINT: .open DIR registers" in result.stderr and "con.register" not in result.stderr


def test_version_and_serve(run):
    import quarry
    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"quarry {quarry.__version__}"
    serve_help = run("serve", "--help")
    assert serve_help.returncode == 0
    assert "--data" in serve_help.stdout and "--port" in serve_help.stdout
    bad = run("serve", "--port", "not-a-number")
    assert bad.returncode == 2


def test_bad_arguments_exit_2(quarry_main):
    with pytest.raises(SystemExit) as exc:
        quarry_main("--format", "xml", "-c", "SELECT 1")
    assert exc.value.code == 2
    assert quarry_main("--maxrows", "-1", "-c", "SELECT 1").returncode == 2
