"""Python UDFs (issue #13): every kind from the DataFrame API, SQL and the DSL, inline, on the process
pool and on Ray, each checked against the same computation done by DuckDB or numpy/pandas directly;
result checking and errors; the optimizer's treatment of UDFs; EXPLAIN (ANALYZE).

The pool queries group or join after the UDF, so the UDF runs in a worker process (a query without an
exchange runs in the driver); ``test_udfs_run_in_the_worker_processes`` checks that they do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import quarry
import quarry.functions as F
from quarry.errors import QuarryError, UDFError, UnsupportedError
from quarry.testing import assert_tables_equal

duckdb = pytest.importorskip("duckdb")

N = 20_000


def _data() -> pa.Table:
    rng = np.random.default_rng(7)
    price = np.round(rng.uniform(1, 1000, N), 2)
    disc = np.round(rng.uniform(0, 0.1, N), 2)
    qty = rng.integers(1, 51, N).astype(np.int64)
    names = [f"Customer#{i % 997:05d}" for i in range(N)]
    nullable = pa.array([None if i % 11 == 0 else float(i % 13) for i in range(N)], pa.float64())
    return pa.table({"id": np.arange(N, dtype=np.int64), "k": (np.arange(N) % 7).astype(np.int64),
                     "price": price, "disc": disc, "qty": qty, "name": names, "maybe": nullable})


DATA = _data()


def _duck(sql: str) -> pa.Table:
    con = duckdb.connect()
    con.register("t", DATA)
    return con.sql(sql).to_arrow_table()


# ---------------------------------------------------------------- the UDFs, one per kind

@F.udf(returns="double")
def discounted(price, disc):
    return pc.multiply(price, pc.subtract(1, disc))


@F.udf(returns="double", kind="pandas")
def pd_net(price, disc):
    return price * (1 - disc)


@F.udf(returns="double", kind="numpy")
def np_net(price, disc):
    return price * (1 - disc)


@F.udf(returns="string", kind="row")
def tag(name):
    return name.split("#")[-1]


@F.udaf(returns="double", kind="numpy")
def p90(v):
    return float(np.percentile(v, 90))


@F.udaf(returns="double", kind="pandas")
def pd_total(v):
    return v.sum()


@F.udaf(returns="bigint")
def arrow_count(v):
    return len(v) - v.null_count


def _register(con):
    con.register("t", DATA)
    for f in (discounted, pd_net, np_net, tag, p90, pd_total, arrow_count):
        con.register_function(f.name, f)
    return con


@pytest.fixture(scope="module")
def inline():
    return _register(quarry.connect(workers=0))


@pytest.fixture(scope="module")
def pool():
    con = _register(quarry.connect(workers=2))
    yield con
    con.close()


@pytest.fixture(params=["inline", "pool"])
def con(request, inline, pool):
    return inline if request.param == "inline" else pool


# ---------------------------------------------------------------- scalar kinds

SCALAR_NATIVE = ("SELECT k, sum(price * (1 - disc)) AS s, min(split_part(name, '#', 2)) AS lo, count(*) AS n "
                 "FROM t WHERE qty > 45 GROUP BY k ORDER BY k")


@pytest.mark.parametrize("fn", ["discounted", "pd_net", "np_net"])
def test_vectorized_scalar_udf_in_sql_matches_duckdb(con, fn):
    got = con.sql(f"SELECT k, sum({fn}(price, disc)) AS s, min(tag(name)) AS lo, count(*) AS n "
                  "FROM t WHERE qty > 45 GROUP BY k ORDER BY k").to_arrow()
    assert_tables_equal(got, _duck(SCALAR_NATIVE), ordered=True)


@pytest.mark.parametrize("udf", [discounted, pd_net, np_net])
def test_vectorized_scalar_udf_in_the_dataframe_api_matches_numpy(con, udf):
    df = con.table("t").filter("qty > 45").select("id", udf("price", "disc").alias("net"), tag("name").alias("tg"))
    got = df.sort("id").to_arrow()
    mask = DATA["qty"].to_numpy() > 45
    expected = DATA["price"].to_numpy()[mask] * (1 - DATA["disc"].to_numpy()[mask])
    np.testing.assert_allclose(got["net"].to_numpy(), expected, rtol=1e-12)
    assert got["tg"].to_pylist() == [n.split("#")[-1] for n, m in zip(DATA["name"].to_pylist(), mask) if m]


def test_scalar_udfs_in_the_dsl_match_duckdb(con):
    got = con.dsl("from t | filter qty > 45 | group k (s = sum(np_net(price, disc)), lo = min(tag(name)), "
                  "n = count()) | sort k").to_arrow()
    assert_tables_equal(got, _duck(SCALAR_NATIVE), ordered=True, check_names=False)


def test_row_udf_skips_nulls_and_pandas_sees_them(con):
    row = F.udf(lambda v: v * 2, returns="double", kind="row", name="twice")
    pdf = F.udf(lambda v: v.fillna(-1.0), returns="double", kind="pandas", name="fill")
    got = con.table("t").select("id", row("maybe").alias("r"), pdf("maybe").alias("p")).sort("id").to_arrow()
    expected = _duck("SELECT id, maybe * 2 AS r, coalesce(maybe, -1.0) AS p FROM t ORDER BY id")
    assert_tables_equal(got, expected, ordered=True)


def test_types_as_strings_pyarrow_types_and_declared_argument_types(inline):
    as_int = F.udf(lambda x: pc.multiply(x, 2), returns=pa.int64(), args=["bigint"], name="as_int")
    dec = F.udf(lambda x: x, returns="decimal(12, 2)", name="dec")
    got = inline.table("t").select(as_int("k").alias("a"), dec("price").alias("d")).to_arrow()
    assert got.schema.field("a").type == pa.int64() and got.schema.field("d").type == pa.decimal128(12, 2)
    assert got["a"].to_pylist() == [2 * k for k in DATA["k"].to_pylist()]
    assert got["d"].to_pylist() == DATA["price"].cast(pa.decimal128(12, 2)).to_pylist()


def test_a_safe_cast_of_the_result_is_accepted(inline):
    ints = F.udf(lambda x: x, returns="double", name="ints")     # returns bigint, declared double
    got = inline.table("t").select(ints("qty").alias("q")).to_arrow()
    assert got["q"].type == pa.float64() and got["q"].to_pylist() == [float(q) for q in DATA["qty"].to_pylist()]


# ---------------------------------------------------------------- aggregates

AGG_NATIVE = ("SELECT k, quantile_cont(price, 0.9) AS p, sum(price) AS s, count(maybe) AS c "
              "FROM t GROUP BY k ORDER BY k")


def test_udaf_in_sql_group_by_matches_duckdb(con):
    got = con.sql("SELECT k, p90(price) AS p, pd_total(price) AS s, arrow_count(maybe) AS c "
                  "FROM t GROUP BY k ORDER BY k").to_arrow()
    assert_tables_equal(got, _duck(AGG_NATIVE), ordered=True)


def test_udaf_in_the_dataframe_api_and_the_dsl_matches_duckdb(con):
    api = con.table("t").group_by("k").agg(p90("price").alias("p"), pd_total("price").alias("s"),
                                           arrow_count("maybe").alias("c")).sort("k").to_arrow()
    dsl = con.dsl("from t | group k (p = p90(price), s = pd_total(price), c = arrow_count(maybe)) | sort k")
    assert_tables_equal(api, _duck(AGG_NATIVE), ordered=True)
    assert_tables_equal(dsl.to_arrow(), _duck(AGG_NATIVE), ordered=True)


def test_udaf_without_keys_and_with_filter_matches_duckdb(con):
    got = con.sql("SELECT p90(price) AS p, pd_total(price) FILTER (WHERE qty > 40) AS s FROM t").to_arrow()
    expected = _duck("SELECT quantile_cont(price, 0.9) AS p, sum(price) FILTER (WHERE qty > 40) AS s FROM t")
    assert_tables_equal(got, expected, ordered=True)


def test_udaf_over_windows_matches_duckdb(con):
    got = con.sql("SELECT id, p90(price) OVER (PARTITION BY k) AS p, "
                  "pd_total(price) OVER (PARTITION BY k ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s "
                  "FROM t WHERE id < 3000 ORDER BY id").to_arrow()
    expected = _duck("SELECT id, quantile_cont(price, 0.9) OVER (PARTITION BY k) AS p, "
                     "sum(price) OVER (PARTITION BY k ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s "
                     "FROM t WHERE id < 3000 ORDER BY id")
    assert_tables_equal(got, expected, ordered=True)
    api = con.table("t").filter("id < 3000").select(
        "id", p90("price").over(F.window(partition_by="k")).alias("p")).sort("id").to_arrow()
    assert_tables_equal(api, expected.select(["id", "p"]), ordered=True)


# ---------------------------------------------------------------- grouped map, map_batches, table functions

def _fit(group: pd.DataFrame) -> pd.DataFrame:
    slope, _ = np.polyfit(group["qty"].to_numpy(dtype=float), group["price"].to_numpy(), 1)
    return pd.DataFrame({"k": [int(group["k"].iloc[0])], "slope": [slope], "n": [len(group)]})


def test_grouped_map_matches_pandas(con):
    got = con.table("t").group_by("k").apply(_fit, schema="k bigint, slope double, n bigint").sort("k").to_arrow()
    expected = DATA.to_pandas().groupby("k", group_keys=False)[["k", "qty", "price"]].apply(_fit)
    assert got["k"].to_pylist() == expected["k"].tolist()
    assert got["n"].to_pylist() == expected["n"].tolist()
    np.testing.assert_allclose(got["slope"].to_numpy(), expected["slope"].to_numpy(), rtol=1e-9)


def test_grouped_map_arrow_kind_matches_duckdb(con):
    def top(table: pa.Table) -> pa.Table:
        return table.sort_by([("price", "descending")]).slice(0, 2).select(["k", "price"])
    got = con.table("t").group_by("k").apply(top, schema="k bigint, price double", kind="arrow").to_arrow()
    expected = _duck("SELECT k, price FROM (SELECT k, price, row_number() OVER (PARTITION BY k ORDER BY price DESC)"
                     " AS r FROM t) WHERE r <= 2")
    assert_tables_equal(got, expected, ordered=False)


def test_map_batches_matches_duckdb(con):
    def expensive(batch: pa.RecordBatch) -> pa.RecordBatch:
        keep = batch.filter(pc.greater(batch["qty"], 45))
        return pa.record_batch({"id": keep["id"], "gross": pc.multiply(keep["price"], keep["qty"])})
    df = con.table("t").map_batches(expensive, schema="id bigint, gross double")
    got = df.group_by((F.col("id") % 5).alias("g")).agg(F.sum("gross").alias("s")).sort("g").to_arrow()
    expected = _duck("SELECT id % 5 AS g, sum(price * qty) AS s FROM t WHERE qty > 45 GROUP BY 1 ORDER BY 1")
    assert_tables_equal(got, expected, ordered=True)
    pandas_kind = con.table("t").map_batches(lambda d: d[d.qty > 45][["id"]], schema="id bigint", kind="pandas")
    assert pandas_kind.count() == _duck("SELECT count(*) AS n FROM t WHERE qty > 45")["n"][0].as_py()


def _tokens(batch, sep=" "):
    words = pc.split_pattern(batch["body"], sep)
    return {"doc_id": pc.take(batch["id"], pc.list_parent_indices(words)), "token": pc.list_flatten(words)}


def test_table_function_in_sql_and_the_dsl_matches_duckdb(con):
    docs = pa.table({"id": pa.array(range(300), pa.int64()),
                     "body": [" ".join(f"w{(i * j) % 17}" for j in range(i % 9 + 1)) for i in range(300)]})
    con.register("docs", docs)
    con.register_table_function("tokens", _tokens, schema="doc_id bigint, token string")
    con.register_table_function("numbers", lambda n, step: {"i": list(range(0, n, step))}, schema="i bigint")
    got = con.sql("SELECT token, count(*) AS n FROM tokens((SELECT id, body FROM docs), ' ') "
                  "GROUP BY 1 ORDER BY 1").to_arrow()
    duck = duckdb.connect()
    duck.register("docs", docs)
    expected = duck.sql("SELECT token, count(*) AS n FROM (SELECT unnest(string_split(body, ' ')) AS token "
                        "FROM docs) GROUP BY 1 ORDER BY 1").to_arrow_table()
    assert_tables_equal(got, expected, ordered=True)
    assert con.sql("SELECT sum(i) AS s FROM numbers(100, 3)").to_pylist() == [{"s": sum(range(0, 100, 3))}]
    assert con.dsl("from numbers(10, 1) | filter i > 6").to_arrow()["i"].to_pylist() == [7, 8, 9]


# ---------------------------------------------------------------- where the UDFs run

def test_udfs_run_in_the_worker_processes(pool):
    pid = F.udf(lambda a: pa.array(np.full(len(a), os.getpid(), dtype=np.int64)), returns="bigint", name="pid")
    pids = pool.table("t").select(pid("id").alias("p")).group_by("p").agg(F.count().alias("n")).to_arrow()
    assert os.getpid() not in pids["p"].to_pylist() and sum(pids["n"].to_pylist()) == N


def test_closures_and_imports_inside_the_udf_work_on_the_workers(pool):
    offset = 0.25

    def shifted(v):
        import math                       # resolved on the worker
        return pa.array([math.floor(x + offset) for x in v.to_pylist()], pa.int64())
    got = pool.table("t").select("k", F.udf(shifted, returns="bigint")("price").alias("f")) \
        .group_by("k").agg(F.sum("f").alias("s")).sort("k").to_arrow()
    assert_tables_equal(got, _duck("SELECT k, sum(floor(price + 0.25))::BIGINT AS s FROM t GROUP BY k ORDER BY k"),
                        ordered=True)


def test_a_lambda_in_a_script_without_main_guard_works(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent("""
        import json, quarry, quarry.functions as F, pyarrow as pa, pyarrow.compute as pc
        con = quarry.connect(workers=2)
        con.register("t", pa.table({"x": list(range(10000)), "k": [i % 3 for i in range(10000)]}))
        plus_one = F.udf(lambda x: pc.add(x, 1), returns="bigint", name="plus_one")
        out = con.table("t").select("k", plus_one("x").alias("y")).group_by("k").agg(F.sum("y").alias("s"))
        print(json.dumps(sorted((r["k"], int(r["s"])) for r in out.to_pylist())))
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = sorted((k, sum(x + 1 for x in range(10000) if x % 3 == k)) for k in range(3))
    assert [tuple(p) for p in json.loads(done.stdout)] == expected


def test_on_ray_scalar_aggregate_and_grouped_map(monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    con = _register(quarry.connect(executor="ray", workers=2))
    try:
        got = con.sql("SELECT k, sum(discounted(price, disc)) AS s, min(tag(name)) AS lo, count(*) AS n "
                      "FROM t WHERE qty > 45 GROUP BY k ORDER BY k").to_arrow()
        assert_tables_equal(got, _duck(SCALAR_NATIVE), ordered=True)
        agg = con.sql("SELECT k, p90(price) AS p, pd_total(price) AS s, arrow_count(maybe) AS c "
                      "FROM t GROUP BY k ORDER BY k").to_arrow()
        assert_tables_equal(agg, _duck(AGG_NATIVE), ordered=True)
        fitted = con.table("t").group_by("k").apply(_fit, schema="k bigint, slope double, n bigint").sort("k")
        assert fitted.to_arrow()["n"].to_pylist() == [int((DATA["k"].to_numpy() == k).sum()) for k in range(7)]
    finally:
        con.close()


# ---------------------------------------------------------------- errors

def _helper_that_fails(x):
    return x / 0


@F.udf(returns="double", kind="numpy")
def fails(v):
    return _helper_that_fails(int(v[0]))


def test_an_exception_inside_the_udf_names_it_shows_the_users_frames_and_is_not_retried(con):
    with pytest.raises(UDFError) as info:
        con.table("t").select("k", fails("price").alias("bad")).group_by("k").agg(F.sum("bad")).to_arrow()
    text = str(info.value)
    assert "UDF `fails` raised ZeroDivisionError" in text and "`bad`" in text
    assert "_helper_that_fails" in text and "test_udf.py" in text
    assert "quarry/" not in text.split("Traceback of the UDF", 1)[1].split("HINT")[0]
    assert con.sql("SELECT count(*) AS n FROM t").to_pylist() == [{"n": N}]   # the pool lives on


def test_an_exception_fails_the_task_once_without_retry(pool, tmp_path):
    marker = tmp_path / "calls"

    def counting(v):
        with open(marker, "a") as f:
            f.write("x")
        raise ValueError("bad input")
    bad = F.udf(counting, returns="double", name="counting")
    with pytest.raises(UDFError, match="UDF `counting` raised ValueError: bad input"):
        pool.table("t").filter("id < 10").select("k", bad("price").alias("c")).group_by("k").agg(F.sum("c")).to_arrow()
    # one task ran it (the first batch), and nothing was retried
    assert len(marker.read_text()) == 1


@pytest.mark.parametrize("fn, returns, message", [
    (lambda v: v.slice(1), "double", "returned 19999 values for 20000 rows|returned \\d+ values for \\d+ rows"),
    (lambda v: pc.cast(v, pa.string()), "date", "returned VARCHAR, declared DATE"),
    (lambda v: pc.add(v, 0.5), "bigint", "returned DOUBLE, declared BIGINT"),
    (lambda v: 1.0, "double", "returned one value"),
    (lambda v: ["x"] * len(v), "double", "returned values that are not DOUBLE"),
])
def test_wrong_results_are_errors_naming_the_udf_and_column(con, fn, returns, message):
    bad = F.udf(fn, returns=returns, name="bad_result")
    with pytest.raises(UDFError, match=message) as info:
        con.table("t").select("k", bad("price").alias("col_x")).group_by("k").agg(F.count("col_x")).to_arrow()
    assert "UDF `bad_result`" in str(info.value) and "`col_x`" in str(info.value)


def test_nulls_where_the_declaration_forbids_them(con):
    nonull = F.udf(lambda v: v, returns="double", nullable=False, name="nonull")
    with pytest.raises(UDFError, match="`nonull` returned \\d+ NULLs, but is declared nullable=False"):
        con.table("t").select("k", nonull("maybe").alias("m")).group_by("k").agg(F.sum("m")).to_arrow()


def test_a_udf_that_is_not_picklable_says_why(pool):
    lock = threading.Lock()
    holds_lock = F.udf(lambda v: (lock, v)[1], returns="double", name="holds_lock")
    with pytest.raises(UDFError, match="`holds_lock` cannot be sent to the worker processes: it is not picklable "
                                       ".*lock"):
        pool.table("t").select("k", holds_lock("price").alias("v")).group_by("k").agg(F.sum("v")).to_arrow()
    # in one process nothing is pickled, so the same UDF works there
    inline = _register(quarry.connect(workers=0))
    assert inline.table("t").select(holds_lock("price").alias("v")).count() == N


def test_a_worker_killed_during_a_udf_is_retried(tmp_path):
    marker = str(tmp_path / "killed")

    def dies_once(v):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return pc.multiply(v, 2)
    con = _register(quarry.connect(workers=2))
    try:
        got = con.table("t").select("k", F.udf(dies_once, returns="double")("price").alias("d")) \
            .group_by("k").agg(F.sum("d").alias("s")).sort("k").to_arrow()
        assert os.path.exists(marker)
        assert_tables_equal(got, _duck("SELECT k, sum(price * 2) AS s FROM t GROUP BY k ORDER BY k"), ordered=True)
    finally:
        con.close()


def test_unsupported_options_and_bad_declarations_are_refused():
    with pytest.raises(UnsupportedError, match="Not supported: udf: kind='vector'"):
        F.udf(lambda x: x, returns="double", kind="vector")
    with pytest.raises(UnsupportedError, match="Not supported: udf\\(\\) option vectorized"):
        F.udf(lambda x: x, returns="double", vectorized=True)
    with pytest.raises(UnsupportedError, match="kind='row'"):
        F.udaf(lambda x: x, returns="double", kind="row")
    with pytest.raises(QuarryError, match="result type is missing"):
        F.udf(lambda x: x)
    with pytest.raises(QuarryError, match="`sum` is a built-in function"):
        F.udf(lambda x: x, returns="double", name="sum")
    with pytest.raises(QuarryError, match="unknown type"):
        F.udf(lambda x: x, returns="doubble")


def test_wrong_argument_count_is_a_bind_error(inline):
    with pytest.raises(QuarryError, match="function `discounted` takes 2 arguments, got 1"):
        inline.sql("SELECT discounted(price) FROM t")


# ---------------------------------------------------------------- the optimizer and EXPLAIN

def _plan(df) -> str:
    return df.explain_string()


def test_filters_on_other_columns_push_below_a_udf_projection_but_udfs_stay_out_of_scans(inline):
    df = inline.sql("SELECT * FROM (SELECT id, qty, discounted(price, disc) AS net FROM t) WHERE qty > 45 "
                    "AND net > 100")
    text = _plan(df)
    logical = text.split("== Physical Plan ==")[0]
    scan = [line for line in logical.splitlines() if "Scan: t" in line][0]
    assert "qty > 45" in scan and "discounted" not in scan
    assert "Filter: (net > 100.0)" in logical          # computed once, above the projection
    got = df.to_arrow()
    assert_tables_equal(got.sort_by("id"), _duck("SELECT id, qty, price * (1 - disc) AS net FROM t "
                                                 "WHERE qty > 45 AND price * (1 - disc) > 100 ORDER BY id"),
                        ordered=True)


def test_a_udf_filter_is_not_a_parquet_scan_predicate(tmp_path, inline):
    import pyarrow.parquet as pq
    pq.write_table(DATA, tmp_path / "t.parquet", row_group_size=5000)
    con = _register(quarry.connect(workers=0))
    con.register("pt", str(tmp_path / "t.parquet"))
    df = con.sql("SELECT id FROM pt WHERE discounted(price, disc) > 900 AND qty > 10")
    physical = _plan(df).split("== Physical Plan ==")[1]
    scan = [line for line in physical.splitlines() if "ParquetScan" in line][0]
    assert "discounted" not in scan and "qty > 10" in scan
    assert "udfs=[discounted (arrow UDF)]" in physical
    assert df.count() == _duck("SELECT count(*) AS n FROM t WHERE price * (1 - disc) > 900 AND qty > 10")["n"][0].as_py()


def test_nondeterministic_udfs_are_not_folded_moved_or_shared(inline):
    calls = []

    def noisy(v):
        calls.append(len(v))
        return pc.add(v, 0)
    det = F.udf(noisy, returns="bigint", name="det")
    rnd = F.udf(noisy, returns="bigint", name="rnd", deterministic=False)
    inline.register_function("det", det)
    inline.register_function("rnd", rnd)
    # never folded at plan time, even on constants (the user's code runs in the query, not the planner)
    text = _plan(inline.sql("SELECT rnd(1) AS a, det(2) AS b FROM t"))
    assert "rnd(1)" in text and "det(2)" in text and not calls
    # a filter on a non-deterministic UDF's column stays above it; on a deterministic one it is not pushed either
    # (it would run the UDF twice), but filters on other columns are
    q = "SELECT * FROM (SELECT id, rnd(qty) AS r FROM t) WHERE r > 45 AND id < 100"
    logical = _plan(inline.sql(q)).split("== Physical Plan ==")[0]
    assert logical.index("Filter: (r > 45)") < logical.index("rnd(t.qty)")
    assert "filters=[(t.id < 100)]" in logical
    # the same non-deterministic subquery twice is computed twice (no exchange reuse)
    pool = _register(quarry.connect(workers=2))
    pool.register_function("rnd", rnd)
    try:
        twice = ("SELECT a.k, a.s, b.s AS s2 FROM (SELECT k, sum(rnd(qty)) AS s FROM t GROUP BY k) a "
                 "JOIN (SELECT k, sum(rnd(qty)) AS s FROM t GROUP BY k) b ON a.k = b.k")
        det_twice = twice.replace("rnd", "det")
        pool.register_function("det", det)
        stages_rnd = pool.sql("EXPLAIN ANALYZE " + twice).to_pylist()[0]["plan"].count("Stage")
        stages_det = pool.sql("EXPLAIN ANALYZE " + det_twice).to_pylist()[0]["plan"].count("Stage")
        assert stages_rnd > stages_det
    finally:
        pool.close()


def test_explain_names_the_udf_and_explain_analyze_shows_its_rows_and_time(con):
    text = con.sql("EXPLAIN ANALYZE SELECT k, sum(discounted(price, disc)) AS s, p90(price) AS p "
                   "FROM t GROUP BY k").to_pylist()[0]["plan"]
    executed = text.split("== Optimized Logical Plan ==")[1].split("\n\n", 1)[1]
    assert "HashAggregate" in executed and "sum(discounted(t.price, t.disc))" in executed
    projected = con.sql("EXPLAIN SELECT tag(name) AS tg FROM t").to_pylist()[0]["plan"]
    assert "udfs=[tag (row UDF)]" in projected
    assert f"discounted.rows={N}" in text and "discounted.time_ms=" in text
    assert f"p90.rows={N}" in text and "p90.time_ms=" in text
