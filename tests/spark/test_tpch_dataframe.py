"""TPC-H Q1, Q3, Q5, Q6, Q10 and Q18 written with the PySpark DataFrame API, as a Spark user writes
them, through the real pyspark-client: each matches DuckDB's answer to the SQL text of the query."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest
import sqlglot

from quarry.testing import assert_tables_equal
from quarry.tpch import load_query

F = pytest.importorskip("pyspark.sql.functions")

D = datetime.date


def q1(spark):
    li = spark.table("lineitem")
    price = F.col("l_extendedprice") * (1 - F.col("l_discount"))
    return (li.filter(F.col("l_shipdate") <= F.date_sub(F.lit(D(1998, 12, 1)), 90))
            .groupBy("l_returnflag", "l_linestatus")
            .agg(F.sum("l_quantity").alias("sum_qty"),
                 F.sum("l_extendedprice").alias("sum_base_price"),
                 F.sum(price).alias("sum_disc_price"),
                 F.sum(price * (1 + F.col("l_tax"))).alias("sum_charge"),
                 F.avg("l_quantity").alias("avg_qty"),
                 F.avg("l_extendedprice").alias("avg_price"),
                 F.avg("l_discount").alias("avg_disc"),
                 F.count("*").alias("count_order"))
            .orderBy("l_returnflag", "l_linestatus"))


def q3(spark):
    c = spark.table("customer").filter(F.col("c_mktsegment") == "BUILDING")
    o = spark.table("orders").filter(F.col("o_orderdate") < D(1995, 3, 15))
    li = spark.table("lineitem").filter(F.col("l_shipdate") > D(1995, 3, 15))
    return (c.join(o, c.c_custkey == o.o_custkey)
            .join(li, li.l_orderkey == o.o_orderkey)
            .groupBy("l_orderkey", "o_orderdate", "o_shippriority")
            .agg(F.sum(li.l_extendedprice * (1 - li.l_discount)).alias("revenue"))
            .orderBy(F.desc("revenue"), "o_orderdate")
            .limit(10)
            .select("l_orderkey", "revenue", "o_orderdate", "o_shippriority"))


def q5(spark):
    r = spark.table("region").filter(F.col("r_name") == "ASIA")
    n = spark.table("nation")
    s = spark.table("supplier")
    c = spark.table("customer")
    o = spark.table("orders").filter((F.col("o_orderdate") >= D(1994, 1, 1)) & (F.col("o_orderdate") < D(1995, 1, 1)))
    li = spark.table("lineitem")
    return (c.join(o, c.c_custkey == o.o_custkey)
            .join(li, li.l_orderkey == o.o_orderkey)
            .join(s, (li.l_suppkey == s.s_suppkey) & (c.c_nationkey == s.s_nationkey))
            .join(n, s.s_nationkey == n.n_nationkey)
            .join(r, n.n_regionkey == r.r_regionkey)
            .groupBy("n_name")
            .agg(F.sum(li.l_extendedprice * (1 - li.l_discount)).alias("revenue"))
            .orderBy(F.col("revenue").desc()))


def q6(spark):
    li = spark.table("lineitem")
    return (li.filter((li.l_shipdate >= D(1994, 1, 1)) & (li.l_shipdate < D(1995, 1, 1))
                      & li.l_discount.between(0.05, 0.07) & (li.l_quantity < 24))
            .agg(F.sum(li.l_extendedprice * li.l_discount).alias("revenue")))


def q10(spark):
    c = spark.table("customer")
    o = spark.table("orders").filter((F.col("o_orderdate") >= D(1993, 10, 1)) & (F.col("o_orderdate") < D(1994, 1, 1)))
    li = spark.table("lineitem").where("l_returnflag = 'R'")
    n = spark.table("nation")
    return (c.join(o, c.c_custkey == o.o_custkey)
            .join(li, li.l_orderkey == o.o_orderkey)
            .join(n, c.c_nationkey == n.n_nationkey)
            .groupBy("c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment")
            .agg(F.sum(li.l_extendedprice * (1 - li.l_discount)).alias("revenue"))
            .orderBy(F.desc("revenue"))
            .limit(20)
            .select("c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone", "c_comment"))


def q18(spark):
    li = spark.table("lineitem")
    big = (li.groupBy("l_orderkey").agg(F.sum("l_quantity").alias("total"))
           .filter(F.col("total") > 300).select(F.col("l_orderkey").alias("big_order")))
    o = spark.table("orders")
    o = o.join(big, o.o_orderkey == big.big_order, "leftsemi")
    c = spark.table("customer")
    return (c.join(o, c.c_custkey == o.o_custkey)
            .join(li, o.o_orderkey == li.l_orderkey)
            .groupBy("c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice")
            .agg(F.sum("l_quantity").alias("sum(l_quantity)"))
            .orderBy(F.desc("o_totalprice"), "o_orderdate")
            .limit(100))


QUERIES = {1: q1, 3: q3, 5: q5, 6: q6, 10: q10, 18: q18}


@pytest.mark.parametrize("n", sorted(QUERIES))
def test_tpch_query_written_with_the_dataframe_api_matches_duckdb(n, spark, duckdb_tpch):
    sql = load_query(n)
    expected = duckdb_tpch.sql(sql).to_arrow_table()
    actual = QUERIES[n](spark).toArrow()
    assert actual.num_rows == expected.num_rows > 0
    rel_tol = 1e-9
    if n == 1:
        # Spark's avg of DECIMAL(15,2) is DECIMAL(19,6) (p + 4, s + 4), rounded; DuckDB's is a double
        for name in ("avg_qty", "avg_price", "avg_disc"):
            assert actual.schema.field(name).type == pa.decimal128(19, 6)
            i = actual.column_names.index(name)
            actual = actual.set_column(i, name, actual.column(i).cast(pa.float64()))
        rel_tol = 1e-4                 # 6 decimals of 0.05 are good to 1e-5
    ordered = sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None
    assert_tables_equal(actual, expected, ordered=ordered, rel_tol=rel_tol)
