"""reorder_joins: the largest input first, then inputs connected by equalities, cross joins only when forced.

Prerequisite everywhere: extract_equi_joins + push_down_filter to a fixed point (the
'pushdown' batch), so comma joins carry their conditions and the estimates see the
filters at the scans. Each case snapshots the plan after reorder_joins and runs both
plans; cases that must not fire assert the very same object.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from quarry.logical.plan import Join
from quarry.optimizer.rules import extract_equi_joins, push_down_filter, reorder_joins

from rule_harness import apply_once, assert_plan, assert_same_rows, bound, rewrite

PUSHDOWN = (extract_equi_joins, push_down_filter)


@pytest.fixture
def star(con):
    """A star schema: sales (1000 rows) referencing stores (10), items (20) and days (5); and a chain ca-cb-cc."""
    n = 1000
    con.register("sales", pa.table({
        "day_id": [i % 5 for i in range(n)], "store_id": [i % 10 for i in range(n)],
        "item_id": [i % 20 for i in range(n)], "qty": [i % 7 for i in range(n)]}))
    con.register("stores", pa.table({"id": list(range(10)), "city": [f"c{i % 3}" for i in range(10)]}))
    con.register("items", pa.table({"id": list(range(20)), "color": ["red" if i % 4 == 0 else "blue" for i in range(20)]}))
    con.register("days", pa.table({"id": list(range(5)), "dow": ["mon", "tue", "wed", "thu", "fri"]}))
    # chain: ca (10 rows) -k- cb (100 rows) -j- cc (1000 rows)
    con.register("ca", pa.table({"k": list(range(10))}))
    con.register("cb", pa.table({"k": [i % 10 for i in range(100)], "j": list(range(100))}))
    con.register("cc", pa.table({"j": [i % 100 for i in range(1000)], "w": list(range(1000))}))
    return con


def _join_kinds(plan):
    return [n.kind for n in plan.walk() if isinstance(n, Join)]


def test_star_join_starts_from_the_fact_table_without_cross_products(star):
    sql = ("SELECT s.city, i.color, d.dow, f.qty FROM stores s, items i, days d, sales f "
           "WHERE f.store_id = s.id AND f.item_id = i.id AND f.day_id = d.id AND i.color = 'red'")
    plan = rewrite(push_down_filter, bound(star, sql), PUSHDOWN)
    # as written: the three dimensions are cross joined before the fact table arrives
    assert_plan(plan, """
        Project: s.city, i.color, d.dow, f.qty
          Join: inner on (((f.store_id = s.id) AND (f.item_id = i.id)) AND (f.day_id = d.id))
            Join: cross
              Join: cross
                Scan: stores AS s columns=[id, city]
                Scan: items AS i columns=[id, color] filters=[(i.color = 'red')]
              Scan: days AS d columns=[id, dow]
            Scan: sales AS f columns=[day_id, store_id, item_id, qty]
    """)
    new = rewrite(reorder_joins, plan)
    # sales first (the probe side); the filtered dimension next, as it shrinks the result most
    assert_plan(new, """
        Project: s.city, i.color, d.dow, f.qty
          Project: s.id, s.city, i.id, i.color, d.id, d.dow, f.day_id, f.store_id, f.item_id, f.qty
            Join: inner on (f.store_id = s.id)
              Join: inner on (f.day_id = d.id)
                Join: inner on (f.item_id = i.id)
                  Scan: sales AS f columns=[day_id, store_id, item_id, qty]
                  Scan: items AS i columns=[id, color] filters=[(i.color = 'red')]
                Scan: days AS d columns=[id, dow]
              Scan: stores AS s columns=[id, city]
    """)
    assert "cross" not in _join_kinds(new)
    rows = assert_same_rows(star, plan, new)
    assert rows.num_rows == 250


def test_chain_written_with_a_cross_product_is_connected(star):
    plan = rewrite(push_down_filter, bound(star, "SELECT ca.k, cc.w FROM ca, cc, cb "
                                                 "WHERE ca.k = cb.k AND cb.j = cc.j"), PUSHDOWN)
    assert _join_kinds(plan) == ["inner", "cross"]
    new = rewrite(reorder_joins, plan)
    assert_plan(new, """
        Project: ca.k, cc.w
          Project: ca.k, cc.j, cc.w, cb.k, cb.j
            Join: inner on (ca.k = cb.k)
              Join: inner on (cb.j = cc.j)
                Scan: cc columns=[j, w]
                Scan: cb columns=[k, j]
              Scan: ca columns=[k]
    """)
    assert _join_kinds(new) == ["inner", "inner"]
    rows = assert_same_rows(star, plan, new)
    assert rows.num_rows == 1000


def test_root_schema_and_column_order_are_restored(star):
    plan = rewrite(push_down_filter, bound(star, "SELECT * FROM ca, cc, cb WHERE ca.k = cb.k AND cb.j = cc.j"),
                   PUSHDOWN)
    new = rewrite(reorder_joins, plan)
    assert new is not plan
    assert [(f.id, f.name) for f in new.schema] == [(f.id, f.name) for f in plan.schema]
    assert_same_rows(star, plan, new)


def test_already_good_order_is_left_alone(star):
    plan = rewrite(push_down_filter, bound(star, "SELECT cc.w, cb.j FROM cc, cb, ca "
                                                 "WHERE cb.j = cc.j AND ca.k = cb.k"), PUSHDOWN)
    assert_plan(plan, """
        Project: cc.w, cb.j
          Join: inner on (ca.k = cb.k)
            Join: inner on (cb.j = cc.j)
              Scan: cc columns=[j, w]
              Scan: cb columns=[k, j]
            Scan: ca columns=[k]
    """)
    assert apply_once(reorder_joins, plan) is plan


def test_two_input_join_is_not_reordered(star):
    plan = bound(star, "SELECT f.qty FROM stores s JOIN sales f ON f.store_id = s.id")
    assert apply_once(reorder_joins, plan) is plan


def test_unconnected_input_is_cross_joined_last(star):
    plan = rewrite(push_down_filter, bound(star, "SELECT s.city, d.dow FROM stores s, days d, items i "
                                                 "WHERE i.id = s.id"), PUSHDOWN)
    new = rewrite(reorder_joins, plan)
    assert_plan(new, """
        Project: s.city, d.dow
          Project: s.id, s.city, d.id, d.dow, i.id, i.color
            Join: cross
              Join: inner on (i.id = s.id)
                Scan: items AS i columns=[id, color]
                Scan: stores AS s columns=[id, city]
              Scan: days AS d columns=[id, dow]
    """)
    rows = assert_same_rows(star, plan, new)
    assert rows.num_rows == 50


def test_chains_inside_subqueries_are_reordered_too(star):
    sql = ("SELECT t.city, count(*) AS n FROM (SELECT s.city FROM stores s, days d, sales f "
           "WHERE f.store_id = s.id AND f.day_id = d.id AND d.dow = 'mon') t GROUP BY t.city")
    plan = rewrite(push_down_filter, bound(star, sql), PUSHDOWN)
    new = rewrite(reorder_joins, plan)
    join = next(n for n in new.walk() if isinstance(n, Join))
    first = join
    while isinstance(first, Join):
        first = first.left
    assert first.pretty().startswith("Scan: sales AS f")
    assert "cross" not in _join_kinds(new)
    assert_same_rows(star, plan, new)


def test_reordering_is_idempotent(star):
    sql = ("SELECT s.city, i.color, d.dow, f.qty FROM stores s, items i, days d, sales f "
           "WHERE f.store_id = s.id AND f.item_id = i.id AND f.day_id = d.id")
    once = rewrite(reorder_joins, bound(star, sql), PUSHDOWN)
    assert apply_once(reorder_joins, once) is once
