"""The UDF benchmark of issue #13: ``x + 1`` over ``l_quantity`` as a native expression and as each UDF kind.

    python -m quarry.tpch.udf_benchmark --sf 1            # 6M values (SF 10: 60M)
    python -m quarry.tpch.udf_benchmark --sf 10 --workers 2 --runs 3

``l_quantity`` is read once from the cached TPC-H Parquet file (``~/.cache/quarry/tpch/sf<N>``,
generated if missing) as DOUBLE into an in-memory table, so each query measures the
expression and the data exchange with Python, not Parquet decoding. Each variant runs
``SELECT sum(<expr>) FROM q`` (the sum keeps the result small; it is the same for all), the best
of ``--runs`` wall times is reported, as values/s and as time relative to the native expression.
The row kind also runs on the first 2M values alone, the PySpark seed's size (4.08 s there).
Every variant's sum is checked against the native one.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import quarry
import quarry.functions as F

SEED_ROWS = 2_000_000
SEED_PYSPARK_SECONDS = 4.08


def _udfs():
    return {
        "arrow": F.udf(lambda x: pc.add(x, 1.0), returns="double", name="plus_one_arrow"),
        "pandas": F.udf(lambda x: x + 1.0, returns="double", kind="pandas", name="plus_one_pandas"),
        "numpy": F.udf(lambda x: x + 1.0, returns="double", kind="numpy", name="plus_one_numpy"),
        "row": F.udf(lambda x: x + 1.0, returns="double", kind="row", name="plus_one_row"),
    }


def load_quantity(sf: str) -> pa.Table:
    from quarry.tpch.datagen import generate, table_paths
    path = table_paths(generate(float(sf)))["lineitem"]
    column = pq.read_table(path, columns=["l_quantity"]).column(0)
    return pa.table({"x": pc.cast(column, pa.float64()).combine_chunks()})


def _time(con, sql: str, runs: int) -> tuple[float, float]:
    best, value = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        value = con.sql(sql).to_arrow().column(0)[0].as_py()
        best = min(best, time.perf_counter() - start)
    return best, value


def run(sf: str, workers: int, runs: int, kinds: list[str]) -> list[dict]:
    table = load_quantity(sf)
    n = table.num_rows
    con = quarry.connect(workers=workers)
    con.register("q", table)
    con.register("q2m", table.slice(0, min(SEED_ROWS, n)))
    udfs = _udfs()
    for f in udfs.values():
        con.register_function(f.name, f)
    native_time, native_sum = _time(con, "SELECT sum(x + 1.0) FROM q", runs)
    rows = [{"variant": "native x + 1", "values": n, "seconds": native_time, "overhead": 1.0}]
    for kind in kinds:
        seconds, total = _time(con, f"SELECT sum({udfs[kind].name}(x)) FROM q", runs)
        if not np.isclose(total, native_sum, rtol=1e-9):
            raise SystemExit(f"{kind} UDF gave {total}, native {native_sum}")
        rows.append({"variant": f"{kind} UDF", "values": n, "seconds": seconds, "overhead": seconds / native_time})
    if "row" in kinds:
        seconds, _ = _time(con, f"SELECT sum({udfs['row'].name}(x)) FROM q2m", runs)
        rows.append({"variant": "row UDF, 2M values", "values": min(SEED_ROWS, n), "seconds": seconds,
                     "overhead": None})
    con.close()
    return rows


def format_table(rows: list[dict]) -> str:
    lines = ["| variant | values | best time | values/s | vs native |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        rate = r["values"] / r["seconds"]
        vs = f"{r['overhead']:.2f}x" if r["overhead"] is not None else "-"
        lines.append(f"| {r['variant']} | {r['values']:,} | {r['seconds']:.3f} s | {rate / 1e6:.1f} M | {vs} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sf", default="1", help="TPC-H scale factor of the cached data (1, 10, ...)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: run in this process)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each variant; the best is reported")
    parser.add_argument("--kinds", default="arrow,pandas,numpy,row", help="UDF kinds to measure")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    rows = run(args.sf, args.workers, args.runs, kinds)
    print(f"x + 1 over TPC-H SF {args.sf} l_quantity (as DOUBLE), workers={args.workers}, best of {args.runs}")
    print(format_table(rows))
    row2m = [r for r in rows if r["variant"] == "row UDF, 2M values"]
    if row2m:
        print(f"row UDF over 2M values: {row2m[0]['seconds']:.2f} s (PySpark in the seed: {SEED_PYSPARK_SECONDS} s)")


if __name__ == "__main__":
    main()
