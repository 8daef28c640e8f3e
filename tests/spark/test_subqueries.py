"""Spark 4's DataFrame subqueries through the real ``pyspark-client``: ``df.scalar()``, ``df.exists()``,
``col.isin(df)`` and ``df.lateralJoin(...)``, with ``col(...).outer()`` for the outer query's columns.

The expected tables are the examples of pyspark's own docstrings (``DataFrame.scalar``, ``DataFrame.exists``,
``DataFrame.lateralJoin``), which Spark's doctests check against Spark."""

from __future__ import annotations

import pytest
from pyspark.errors import PySparkException
from pyspark.sql import Row
from pyspark.sql import functions as sf


@pytest.fixture(scope="module")
def employees(spark):
    data = [(1, "Alice", 45000, 101), (2, "Bob", 54000, 101), (3, "Charlie", 29000, 102),
            (4, "David", 61000, 102), (5, "Eve", 48000, 101)]
    return spark.createDataFrame(data, ["id", "name", "salary", "department_id"])


def test_scalar_subquery(employees):
    out = employees.where(sf.col("salary") > employees.select(sf.avg("salary")).scalar()) \
        .select("name", "salary", "department_id").orderBy("name")
    assert out._show_string() == """+-----+------+-------------+
| name|salary|department_id|
+-----+------+-------------+
|  Bob| 54000|          101|
|David| 61000|          102|
|  Eve| 48000|          101|
+-----+------+-------------+
"""


def test_correlated_scalar_subquery(employees):
    out = employees.alias("e1").where(
        sf.col("salary") > employees.alias("e2").where(
            sf.col("e2.department_id") == sf.col("e1.department_id").outer()
        ).select(sf.avg("salary")).scalar()
    ).select("name", "salary", "department_id").orderBy("name")
    assert out._show_string() == """+-----+------+-------------+
| name|salary|department_id|
+-----+------+-------------+
|  Bob| 54000|          101|
|David| 61000|          102|
+-----+------+-------------+
"""
    share = employees.alias("e1").select(
        "name", "salary", "department_id",
        sf.format_number(
            sf.lit(100) * sf.col("salary") / employees.alias("e2").where(
                sf.col("e2.department_id") == sf.col("e1.department_id").outer()
            ).select(sf.sum("salary")).scalar().alias("avg_salary"), 1
        ).alias("salary_proportion_in_department")
    ).orderBy("name")
    assert share._show_string() == """+-------+------+-------------+-------------------------------+
|   name|salary|department_id|salary_proportion_in_department|
+-------+------+-------------+-------------------------------+
|  Alice| 45000|          101|                           30.6|
|    Bob| 54000|          101|                           36.7|
|Charlie| 29000|          102|                           32.2|
|  David| 61000|          102|                           67.8|
|    Eve| 48000|          101|                           32.7|
+-------+------+-------------+-------------------------------+
"""


def test_scalar_subquery_column_name_and_shape(employees):
    # Spark names an unaliased scalar subquery `scalarsubquery()`
    assert employees.select("name", employees.select(sf.max("salary")).scalar()).columns == \
        ["name", "scalarsubquery()"]
    assert employees.select(employees.select(sf.max("salary")).scalar().alias("m")).distinct().collect() == \
        [Row(m=61000)]
    with pytest.raises(PySparkException, match="one column"):
        employees.select(employees.select("id", "name").scalar()).collect()


@pytest.fixture(scope="module")
def shop(spark):
    customers = spark.createDataFrame(
        [(101, "Alice", "USA"), (102, "Bob", "Canada"), (103, "Charlie", "USA"), (104, "David", "Australia")],
        ["customer_id", "customer_name", "country"])
    orders = spark.createDataFrame(
        [(1, 101, "2023-01-15", 250), (2, 102, "2023-01-20", 300), (3, 103, "2023-01-25", 400),
         (4, 101, "2023-02-05", 150)], ["order_id", "customer_id", "order_date", "total_amount"])
    return customers, orders


def test_exists_subquery(shop):
    customers, orders = shop
    has = customers.alias("c").where(
        orders.alias("o").where(sf.col("o.customer_id") == sf.col("c.customer_id").outer()).exists()
    ).orderBy("customer_id")
    assert has._show_string() == """+-----------+-------------+-------+
|customer_id|customer_name|country|
+-----------+-------------+-------+
|        101|        Alice|    USA|
|        102|          Bob| Canada|
|        103|      Charlie|    USA|
+-----------+-------------+-------+
"""
    never = customers.alias("c").where(
        ~orders.alias("o").where(sf.col("o.customer_id") == sf.col("c.customer_id").outer()).exists()
    ).orderBy("customer_id")
    assert never._show_string() == """+-----------+-------------+---------+
|customer_id|customer_name|  country|
+-----------+-------------+---------+
|        104|        David|Australia|
+-----------+-------------+---------+
"""
    usa = orders.alias("o").where(
        customers.alias("c").where(
            (sf.col("c.customer_id") == sf.col("o.customer_id").outer()) & (sf.col("country") == "USA")
        ).exists()
    ).orderBy("order_id")
    assert usa._show_string() == """+--------+-----------+----------+------------+
|order_id|customer_id|order_date|total_amount|
+--------+-----------+----------+------------+
|       1|        101|2023-01-15|         250|
|       3|        103|2023-01-25|         400|
|       4|        101|2023-02-05|         150|
+--------+-----------+----------+------------+
"""


def test_isin_subquery(shop):
    customers, orders = shop
    # customers with an order over 200: orders 1 (101), 2 (102), 3 (103)
    big = orders.where(sf.col("total_amount") > 200).select("customer_id")
    assert [r.customer_id for r in customers.where(sf.col("customer_id").isin(big)).orderBy("customer_id")
            .collect()] == [101, 102, 103]
    assert [r.customer_id for r in customers.where(~sf.col("customer_id").isin(big)).collect()] == [104]


@pytest.fixture(scope="module")
def customers_orders(spark):
    customers = spark.createDataFrame([Row(customer_id=1, name="Alice"), Row(customer_id=2, name="Bob"),
                                       Row(customer_id=3, name="Charlie"), Row(customer_id=4, name="Diana")])
    orders = spark.createDataFrame([
        Row(order_id=101, customer_id=1, order_date="2024-01-10"),
        Row(order_id=102, customer_id=1, order_date="2024-02-15"),
        Row(order_id=105, customer_id=1, order_date="2024-03-20"),
        Row(order_id=103, customer_id=2, order_date="2024-01-12"),
        Row(order_id=104, customer_id=2, order_date="2024-03-05"),
        Row(order_id=106, customer_id=3, order_date="2024-04-05")])
    return customers, orders


def test_lateral_join(customers_orders):
    customers, orders = customers_orders
    recent = customers.alias("c").lateralJoin(
        orders.alias("o")
        .where(sf.col("o.customer_id") == sf.col("c.customer_id").outer())
        .select("order_id", "order_date")
        .orderBy(sf.col("order_date").desc())
        .limit(2),
        how="left"
    ).orderBy("customer_id", "order_id")
    assert recent._show_string() == """+-----------+-------+--------+----------+
|customer_id|   name|order_id|order_date|
+-----------+-------+--------+----------+
|          1|  Alice|     102|2024-02-15|
|          1|  Alice|     105|2024-03-20|
|          2|    Bob|     103|2024-01-12|
|          2|    Bob|     104|2024-03-05|
|          3|Charlie|     106|2024-04-05|
|          4|  Diana|    NULL|      NULL|
+-----------+-------+--------+----------+
"""
    # inner (the default): Diana has no orders and drops out; the latest order per customer
    latest = customers.alias("c").lateralJoin(
        orders.alias("o").where(sf.col("o.customer_id") == sf.col("c.customer_id").outer())
        .orderBy(sf.col("order_date").desc()).limit(1).select("order_id")
    ).orderBy("customer_id")
    assert [tuple(r) for r in latest.collect()] == [(1, "Alice", 105), (2, "Bob", 104), (3, "Charlie", 106)]


def test_lateral_join_with_a_condition_and_refusals(customers_orders, spark):
    customers, orders = customers_orders
    # the right side computes from the outer row; `on` filters the pairs
    doubled = customers.alias("c").lateralJoin(
        spark.range(1).select((sf.col("c.customer_id").outer() * 2).alias("twice")),
        on=sf.col("twice") > 4).orderBy("customer_id")
    assert [tuple(r) for r in doubled.collect()] == [(3, "Charlie", 6), (4, "Diana", 8)]
    with pytest.raises(PySparkException):
        customers.lateralJoin(orders, how="right").collect()
    # a table-valued function over the outer row (pyspark's lateralJoin example): each customer's rows of it
    exploded = customers.lateralJoin(spark.tvf.explode(sf.array(sf.col("customer_id").outer(), sf.lit(0))))
    assert exploded.columns == ["customer_id", "name", "col"]
    assert sorted((r.customer_id, r.col) for r in exploded.collect()) == \
        [(1, 0), (1, 1), (2, 0), (2, 2), (3, 0), (3, 3), (4, 0), (4, 4)]
