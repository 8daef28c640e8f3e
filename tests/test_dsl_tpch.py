"""TPC-H queries written in the pipeline DSL return the answers of their SQL versions.

Each pipeline is checked against DuckDB running the SQL text of ``tpch/queries/`` and
against quarry running the same SQL, on the SF 0.01 files. Subqueries become joins:
EXISTS / IN a semi join with a nested pipeline (Q4, Q18), a derived table a second
``group`` (Q13).
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

import quarry
from quarry.logical.plan import Scan
from quarry.testing import assert_tables_equal
from quarry.tpch import load_query
from quarry.tpch.datagen import table_paths

PIPELINES = {
    1: """
from lineitem
| filter l_shipdate <= date '1998-12-01' - interval '90' day
| group l_returnflag, l_linestatus (
    sum_qty = sum(l_quantity),
    sum_base_price = sum(l_extendedprice),
    sum_disc_price = sum(l_extendedprice * (1 - l_discount)),
    sum_charge = sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)),
    avg_qty = avg(l_quantity),
    avg_price = avg(l_extendedprice),
    avg_disc = avg(l_discount),
    count_order = count(*)
  )
| sort l_returnflag, l_linestatus
""",
    3: """
from customer
| filter c_mktsegment = 'BUILDING'
| join orders on c_custkey = o_custkey
| join lineitem on l_orderkey = o_orderkey
| filter o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
| group l_orderkey, o_orderdate, o_shippriority (revenue = sum(l_extendedprice * (1 - l_discount)))
| select l_orderkey, revenue, o_orderdate, o_shippriority
| sort revenue desc, o_orderdate
| take 10
""",
    4: """
from orders
| filter o_orderdate >= date '1993-07-01' and o_orderdate < date '1993-07-01' + interval '3' month
| join semi (from lineitem | filter l_commitdate < l_receiptdate) on l_orderkey = o_orderkey
| group o_orderpriority (order_count = count())
| sort o_orderpriority
""",
    5: """
from customer
| join orders on c_custkey = o_custkey
| join lineitem on l_orderkey = o_orderkey
| join supplier on l_suppkey = s_suppkey and c_nationkey = s_nationkey
| join nation on s_nationkey = n_nationkey
| join region on n_regionkey = r_regionkey
| filter r_name = 'ASIA'
    and o_orderdate >= date '1994-01-01' and o_orderdate < date '1994-01-01' + interval '1' year
| group n_name (revenue = sum(l_extendedprice * (1 - l_discount)))
| sort revenue desc
""",
    6: """
from lineitem
| filter l_shipdate >= date '1994-01-01'
    and l_shipdate < date '1994-01-01' + interval '1' year
    and l_discount between 0.06 - 0.01 and 0.06 + 0.01
    and l_quantity < 24
| aggregate (revenue = sum(l_extendedprice * l_discount))
""",
    10: """
from customer
| join orders on c_custkey = o_custkey
| join lineitem on l_orderkey = o_orderkey
| join nation on c_nationkey = n_nationkey
| filter o_orderdate >= date '1993-10-01'
    and o_orderdate < date '1993-10-01' + interval '3' month
    and l_returnflag = 'R'
| group c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment (
    revenue = sum(l_extendedprice * (1 - l_discount))
  )
| select c_custkey, c_name, revenue, c_acctbal, n_name, c_address, c_phone, c_comment
| sort revenue desc
| take 20
""",
    12: """
from orders
| join lineitem on o_orderkey = l_orderkey
| filter l_shipmode in ('MAIL', 'SHIP')
    and l_commitdate < l_receiptdate
    and l_shipdate < l_commitdate
    and l_receiptdate >= date '1994-01-01'
    and l_receiptdate < date '1994-01-01' + interval '1' year
| group l_shipmode (
    high_line_count = sum(case when o_orderpriority = '1-URGENT' or o_orderpriority = '2-HIGH' then 1 else 0 end),
    low_line_count = sum(case when o_orderpriority <> '1-URGENT' and o_orderpriority <> '2-HIGH' then 1 else 0 end)
  )
| sort l_shipmode
""",
    13: """
from customer
| join left orders on c_custkey = o_custkey and o_comment not like '%special%requests%'
| group c_custkey (c_count = count(o_orderkey))
| group c_count (custdist = count())
| sort custdist desc, c_count desc
""",
    18: """
from customer
| join orders on c_custkey = o_custkey
| join semi (
    from lineitem
    | group l_orderkey (total = sum(l_quantity))
    | filter total > 300
  ) on o_orderkey = l_orderkey
| join lineitem on o_orderkey = l_orderkey
| group c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice ("sum(l_quantity)" = sum(l_quantity))
| sort o_totalprice desc, o_orderdate
| take 100
""",
}

REQUIRED = {1, 3, 6, 10}          # the list; the others show subqueries as joins


@pytest.fixture(scope="module")
def con(tpch_sf001):
    session = quarry.connect()
    for name, path in table_paths(tpch_sf001).items():
        session.register(name, str(path))
    return session


def _ordered(sql: str) -> bool:
    return sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None


@pytest.mark.parametrize("n", sorted(REQUIRED))
def test_the_required_queries_are_here(n, con, duckdb_tpch):
    """Each required query has a pipeline, and it is that query: it reads exactly the tables the
    TPC-H SQL text reads, and outputs its columns, by name and in order."""
    assert n in PIPELINES, f"Q{n} has no pipeline"
    sql = load_query(n)
    plan = con.dsl(PIPELINES[n]).logical_plan
    scanned = sorted({node.source.name for node in plan.walk() if isinstance(node, Scan)})
    read_by_sql = sorted({t.name for t in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Table)})
    assert scanned == read_by_sql
    assert [f.name for f in plan.schema] == duckdb_tpch.sql(sql).columns


@pytest.mark.parametrize("n", sorted(PIPELINES))
def test_pipeline_returns_the_sql_answer(n, con, duckdb_tpch):
    sql = load_query(n)
    df = con.dsl(PIPELINES[n])
    assert isinstance(df, quarry.DataFrame)
    actual = df.to_arrow()
    ordered = _ordered(sql)
    assert_tables_equal(actual, duckdb_tpch.sql(sql).to_arrow_table(), ordered=ordered)
    assert_tables_equal(actual, con.sql(sql).to_arrow(), ordered=ordered)
