"""The sqllogictest files in tests/sql/: quarry gives DuckDB's answers (see tests/sqllogic.py).

Every file runs in quarry with ``workers=0``; ``POOL_FILES`` run under the process pool too. A
second test runs each file in DuckDB and checks its recorded answers are DuckDB's, so the files
never carry quarry's own results.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sqllogic import SQL_DIR, DuckDBEngine, QuarryEngine, parse_file, run_file

FILES = sorted(SQL_DIR.glob("*.test"))
POOL_FILES = ("dml.test", "nan.test", "join_order.test", "nested_access.test", "nested_functions.test",
              "nested_keys.test", "subquery_correlated.test", "sql_breadth.test", "rowid.test",
              "distinct_aggregates.test", "functions_more.test", "functions_duckdb2.test",
              "positional_join.test", "sql_breadth_more.test")


def _ids(paths):
    return [p.name for p in paths]


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_quarry_inline(path: Path):
    engine = QuarryEngine(workers=0)
    try:
        failures = run_file(path, engine)
    finally:
        engine.close()
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("name", POOL_FILES)
def test_quarry_process_pool(name: str):
    engine = QuarryEngine(workers=2)
    try:
        failures = run_file(SQL_DIR / name, engine)
    finally:
        engine.close()
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_expected_results_are_duckdbs(path: Path):
    pytest.importorskip("duckdb")
    engine = DuckDBEngine()
    try:
        failures = run_file(path, engine)
    finally:
        engine.close()
    assert not failures, "\n\n".join(failures)


def test_runner_reads_the_format(tmp_path: Path):
    """The runner itself: sort modes, an error record, onlyif, and a wrong answer is caught."""
    f = tmp_path / "x.test"
    f.write_text("# c\nstatement ok\nCREATE TABLE t AS SELECT * FROM (VALUES (2, 'b'), (1, NULL)) v(a, s)\n\n"
                 "query IT rowsort\nSELECT a, s FROM t\n----\n1\tNULL\n2\tb\n\n"
                 "query I valuesort\nSELECT a FROM t\n----\n1\n2\n\n"
                 "onlyif quarry\nstatement error\nSELECT nope FROM t\n----\nnope\n\n"
                 "query I\nSELECT a FROM t ORDER BY a\n----\n2\n1\n\nhalt\n\nquery I\nSELECT 1\n")
    records = parse_file(f)
    assert [r.kind for r in records] == ["statement", "query", "query", "statement", "query"]
    engine = QuarryEngine(workers=0)
    try:
        failures = run_file(f, engine)
    finally:
        engine.close()
    assert len(failures) == 1 and "x.test:23" in failures[0], failures
