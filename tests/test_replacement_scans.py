"""SQL reads a pandas / polars / pyarrow object (or a quarry DataFrame) by its Python variable name.

As DuckDB's replacement scans: ``t = pa.table(...); con.sql("SELECT * FROM t")`` works when no
table ``t`` is registered. The lookup happens while ``con.sql`` binds, in the caller's locals,
then its globals; a registered table always wins; the ``replacement_scans`` setting turns it off,
and a server's session (``allowed_paths`` set) or quarry's own code never does it. Answers are
checked against DuckDB, which does the same lookup itself.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import quarry
from quarry.errors import UnknownTableError
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")

# a module-level (global) variable, shadowed by a local of the same name in one test
shadowed = pa.table({"where": ["global"]})


@pytest.fixture
def con():
    return quarry.connect(workers=0)


def test_arrow_pandas_and_polars_variables_are_tables(con):
    import pandas as pd
    pl = pytest.importorskip("polars")
    sales = pa.table({"region": ["eu", "us", "eu"], "amount": [10.5, 20.0, 30.25]})
    regions = pd.DataFrame({"region": ["eu", "us"], "name": ["Europe", "United States"]})
    targets = pl.DataFrame({"region": ["eu", "us"], "target": [40.0, 10.0]})
    batch = pa.record_batch({"region": ["eu"], "note": ["big"]})
    sql = ("SELECT r.name, sum(s.amount) AS total, t.target, max(b.note) AS note "
           "FROM sales s JOIN regions r ON s.region = r.region JOIN targets t ON t.region = s.region "
           "LEFT JOIN batch b ON b.region = s.region GROUP BY r.name, t.target")
    assert_tables_equal(con.sql(sql).to_arrow(), duckdb.sql(sql).to_arrow_table(), ordered=False)
    assert con.execute("SELECT count(*) AS n FROM sales").to_pylist() == [{"n": 3}]


def test_a_quarry_dataframe_variable_is_read_as_a_view(con):
    con.register("numbers", pa.table({"n": [1, 2, 3, 4]}))
    evens = con.table("numbers").filter("n % 2 = 0")
    assert con.sql("SELECT sum(n) AS s FROM evens").to_pylist() == [{"s": 6}]


def test_locals_come_before_globals(con):
    assert con.sql("SELECT * FROM shadowed").to_pylist() == [{"where": "global"}]
    shadowed = pa.table({"where": ["local"]})   # noqa: F841 - read by the SQL below
    assert con.sql("SELECT * FROM shadowed").to_pylist() == [{"where": "local"}]


def test_a_registered_table_wins_over_a_variable(con):
    t = pa.table({"x": [1]})   # noqa: F841
    con.register("t", pa.table({"x": [2]}))
    assert con.sql("SELECT x FROM t").to_pylist() == [{"x": 2}]


def test_names_match_variables_ignoring_case_as_sql_names_do(con):
    myTable = pa.table({"x": [7]})   # noqa: F841,N806
    assert con.sql("SELECT x FROM mytable").to_pylist() == [{"x": 7}]


def test_the_variable_is_read_when_con_sql_binds(con):
    data = pa.table({"x": [1, 2]})
    df = con.sql("SELECT sum(x) AS s FROM data")
    data = pa.table({"x": [100]})   # noqa: F841 - too late for df
    assert df.to_pylist() == [{"s": 3}]


def test_a_variable_that_is_no_table_is_named_in_the_error(con):
    n = 5   # noqa: F841
    with pytest.raises(UnknownTableError) as info:
        con.sql("SELECT * FROM n")
    assert "variable `n` holds a value of type int" in info.value.hint
    assert (info.value.line, info.value.column) == (1, 15)


def test_the_setting_turns_it_off(con):
    t = pa.table({"x": [1]})   # noqa: F841
    con.set_config(replacement_scans=False)
    with pytest.raises(UnknownTableError, match="table `t` does not exist"):
        con.sql("SELECT * FROM t")
    con.set_config(replacement_scans=True)
    assert con.sql("SELECT * FROM t").to_pylist() == [{"x": 1}]


def test_a_server_session_never_reads_variables(con):
    t = pa.table({"x": [1]})   # noqa: F841
    con.allowed_paths = []              # what the Flight SQL server sets on every session it makes
    with pytest.raises(UnknownTableError):
        con.sql("SELECT * FROM t")


def test_quarrys_own_code_calling_con_sql_reads_no_variables(con):
    """The shell and the servers call con.sql from quarry's modules: their locals are no tables."""
    namespace = {"__name__": "quarry.cli.example", "con": con, "t": pa.table({"x": [1]})}
    with pytest.raises(UnknownTableError):
        exec("con.sql('SELECT * FROM t')", namespace)
    namespace["__name__"] = "user_script"
    exec("result = con.sql('SELECT * FROM t').to_pylist()", namespace)
    assert namespace["result"] == [{"x": 1}]


def test_con_statement_and_ddl_read_the_callers_variables_too(con, tmp_path):
    """The typed-result entry point and statements that run at once (CREATE TABLE AS, INSERT,
    COPY) bind in the caller's scope as con.sql does; the rows are copied when they run."""
    events = pa.table({"kind": ["a", "b", "a", "c"], "n": [1, 2, 3, 4]})
    query = "SELECT kind, sum(n) AS n FROM events GROUP BY kind"
    result = con.statement(query)
    assert_tables_equal(con.run(result.plan).table, duckdb.sql(query).to_arrow_table(), ordered=False)
    assert con.execute("CREATE TABLE kept AS SELECT * FROM events WHERE n > 1").to_pylist() == [{"count": 3}]
    assert con.statement("INSERT INTO kept SELECT * FROM events WHERE kind = 'c'").rows_changed == 1
    path = tmp_path / "events.parquet"
    assert con.statement(f"COPY (SELECT * FROM events) TO '{path}'").rows_changed == events.num_rows
    expected_kept = duckdb.sql("SELECT * FROM events WHERE n > 1 UNION ALL "
                               "SELECT * FROM events WHERE kind = 'c'").to_arrow_table()
    expected_copy = duckdb.sql("SELECT * FROM events").to_arrow_table()
    del events                          # the table and the file hold their own rows now
    assert_tables_equal(con.execute("SELECT * FROM kept"), expected_kept, ordered=False)
    assert_tables_equal(duckdb.sql(f"SELECT * FROM '{path}'").to_arrow_table(), expected_copy, ordered=False)


def test_quarrys_own_code_calling_con_statement_reads_no_variables(con):
    """The shell and the Flight SQL server call con.statement: from quarry's modules it reads no variables."""
    namespace = {"__name__": "quarry.server.example", "con": con, "t": pa.table({"x": [1]})}
    with pytest.raises(UnknownTableError):
        exec("con.statement('SELECT * FROM t')", namespace)
    with pytest.raises(UnknownTableError):
        exec("con.execute('CREATE TABLE u AS SELECT * FROM t')", namespace)
    namespace["__name__"] = "user_script"
    exec("result = con.statement('SELECT * FROM t')", namespace)
    assert con.run(namespace["result"].plan).table.to_pylist() == [{"x": 1}]


def test_no_lookup_outside_con_sql(con):
    t = pa.table({"x": [1]})   # noqa: F841
    with pytest.raises(UnknownTableError):
        con.table("t")
    assert con.replacement_scan("t") is None
