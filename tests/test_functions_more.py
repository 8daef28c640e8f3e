"""Issue #12's further functions and aggregates against DuckDB over random data, with and without
the process pool (the aggregates run in the aggregate operator's single mode: their rows are brought
together by group key across workers). The small cases and edge values are in tests/sql/functions_more.test."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import quarry
from quarry.errors import QuarryError, UnsupportedError
from quarry.testing import assert_tables_equal

N = 4000


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(12)
    # mode: value 3 is made the most frequent of every group, so no ties decide it
    x = rng.integers(0, 20, N)
    x[rng.random(N) < 0.3] = 3
    return pa.table({
        "i": np.arange(N),
        "g": rng.integers(0, 9, N),
        "x": pa.array(x, mask=rng.random(N) < 0.1),
        "y": pa.array(rng.normal(size=N), mask=rng.random(N) < 0.1),
        # distinct keys, so arg_max/arg_min have no ties
        "k": pa.array(rng.permutation(N).astype(np.float64), mask=rng.random(N) < 0.05),
        "s": pa.array([f"s{v:03d}" for v in rng.integers(0, 500, N)]),
        "ts": pa.array(rng.integers(-10**15, 10**15, N), pa.timestamp("us")),
    })


QUERIES = [
    "SELECT g, mode(x) AS a, count(*) AS n FROM t GROUP BY g ORDER BY g",
    "SELECT g, arg_max(s, k) AS a, arg_min(s, k) AS b, max_by(x, k) AS c, min_by(ts, k) AS d FROM t GROUP BY g ORDER BY g",
    "SELECT g, quantile_cont(y, 0.3) AS a, quantile_cont(x, [0.1, 0.5, 0.99]) AS b, quantile_disc(s, 0.5) AS c, "
    "quantile_disc(ts, [0.25, 0.75]) AS d, quantile(x, -0.2) AS e FROM t GROUP BY g ORDER BY g",
    "SELECT g, corr(y, x) AS a, covar_pop(y, x) AS b, covar_samp(x, y) AS c, regr_slope(y, x) AS d, "
    "regr_intercept(y, x) AS e, regr_r2(y, x) AS f, regr_count(y, x) AS h FROM t GROUP BY g ORDER BY g",
    "SELECT g, regr_avgx(y, k) AS a, regr_avgy(y, k) AS b, regr_sxx(y, k) AS c, regr_syy(y, k) AS d, "
    "regr_sxy(y, k) AS e FROM t GROUP BY g ORDER BY g",
    "SELECT mode(x) AS a, arg_max(s, k) AS b, quantile_cont(y, 0.5) AS c, corr(x, k) AS d, median(y) AS e FROM t",
    "SELECT g, mode(x) FILTER (WHERE y > 0) AS a, arg_max(x, k) FILTER (WHERE s > 's200') AS b, "
    "quantile_disc(x, 0.5) FILTER (WHERE false) AS c, sum(x) AS d FROM t GROUP BY g ORDER BY g",
    "SELECT mode(x) AS a, arg_max(s, k) AS b, quantile_cont(y, [0.5]) AS c, regr_count(x, y) AS d FROM t WHERE g > 100",
    "SELECT g, mode(x) AS a, regr_count(x, y) AS d FROM t WHERE g > 100 GROUP BY g",
    # DISTINCT: each group's first row of every distinct (non-constant) argument combination
    "SELECT g, arg_max(DISTINCT s, k) AS a, quantile_cont(DISTINCT x, [0.1, 0.5]) AS b, quantile_disc(DISTINCT s, 0.5) AS c, "
    "median(DISTINCT x) AS d, corr(DISTINCT x, k) AS e, regr_slope(DISTINCT y, x) AS f, regr_count(DISTINCT x, g) AS h, "
    "covar_pop(DISTINCT x, g) FILTER (WHERE y > 0) AS j FROM t GROUP BY g ORDER BY g",
    "SELECT median(DISTINCT x) AS a, quantile_disc(DISTINCT ts, 0.3) AS b, regr_count(DISTINCT g, x) AS c FROM t",
    "SELECT i, quantile_cont(DISTINCT x, 0.5) OVER (PARTITION BY g) AS a, regr_count(DISTINCT x, g) OVER () AS b "
    "FROM t ORDER BY i",
    # over a window: the whole partition
    "SELECT i, mode(x) OVER (PARTITION BY g) AS a, arg_max(s, k) OVER (PARTITION BY g) AS b, "
    "quantile_cont(y, 0.2) OVER (PARTITION BY g) AS c, corr(x, y) OVER (PARTITION BY g) AS d, "
    "regr_count(x, y) OVER () AS e, quantile_disc(x, [0.2, 0.8]) FILTER (WHERE y > 0) OVER (PARTITION BY g) AS f "
    "FROM t ORDER BY i",
    "SELECT concat_ws('/', s, x, y > 0) AS a, md5(s) AS b, sha256(s) AS c, regexp_extract(s, 's(\\d)(\\d)', 2) AS d, "
    "regexp_extract(s, '(\\d)(\\d)$', ['p', 'q']) AS e, chr(CAST(x AS INTEGER) + 65) AS f, ascii(s) AS h FROM t ORDER BY i",
    "SELECT epoch(ts) AS a, epoch_ms(ts) AS b, epoch_us(ts) AS c, strptime(strftime(ts, '%d/%m/%Y %H.%M'), '%d/%m/%Y %H.%M') AS d "
    "FROM t ORDER BY i",
]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("sql", QUERIES)
def test_agrees_with_duckdb(sql, workers, table, duckdb_con):
    con = quarry.connect(workers=workers)
    try:
        con.register("t", table)
        duckdb_con.register("t", table)
        assert_tables_equal(con.sql(sql).to_arrow(), duckdb_con.sql(sql).to_arrow_table(), ordered=True)
    finally:
        con.close()


@pytest.mark.parametrize("sql, kind, words", [
    ("SELECT mode(DISTINCT x) OVER (PARTITION BY g ORDER BY k) FROM t", UnsupportedError, "ordered window"),
    ("SELECT arg_max(x, k, 2) FROM t", UnsupportedError, "arg_max(x, y, n)"),
    ("SELECT quantile_cont(CAST(y AS DECIMAL(10, 2)), 0.5) FROM t", UnsupportedError, "DECIMAL"),
    ("SELECT quantile_cont(s, 0.5) FROM t", UnsupportedError, "quantile_cont() of VARCHAR"),
    ("SELECT mode(x) OVER (PARTITION BY g ORDER BY k) FROM t", UnsupportedError, "whole partition"),
    ("SELECT strptime(s, '%Y %f') FROM t", UnsupportedError, "%f"),
    ("SELECT strptime(s, ['%Y', '%m']) FROM t", UnsupportedError, "list of formats"),
    ("SELECT strptime(s, s) FROM t", UnsupportedError, "constant"),
    ("SELECT regexp_extract(s, s) FROM t", UnsupportedError, "non-constant pattern"),
    ("SELECT regexp_extract(s, 'a', 1, 'x') FROM t", UnsupportedError, "option"),
    ("SELECT concat_ws(',', [1, 2])", UnsupportedError, "concat_ws() of a INTEGER[]"),
    ("SELECT chr('a')", QuarryError, "code point"),
    ("SELECT regexp_extract('abc', '(')", QuarryError, "not a valid regular expression"),
    ("SELECT epoch('2020-01-01')", QuarryError, "DATE, TIMESTAMP or TIME"),
    ("SELECT strptime('2020-02-3x', '%Y-%m-%d')", QuarryError, "does not match"),
])
def test_refusals_and_bad_input_are_quarry_errors(sql, kind, words, table):
    con = quarry.connect(workers=0)
    con.register("t", table)
    with pytest.raises(kind) as info:
        con.sql(sql).to_arrow()
    assert words in str(info.value)
    assert info.value.hint
