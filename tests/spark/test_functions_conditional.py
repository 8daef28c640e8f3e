"""Spark's conditional functions through the real pyspark-client, table-driven.

Expected values follow Spark's documentation: ``coalesce``/``nvl``/``ifnull`` take the first non-NULL
value; ``nvl2(a, b, c)`` is ``b`` when ``a`` is not NULL; ``nullif(a, b)`` is NULL when equal;
``greatest``/``least`` skip NULLs ("Returns the greatest value of the list of column names, skipping null
values"); ``nanvl`` replaces NaN; ``when`` without ``otherwise`` is NULL where nothing matches.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import check, fn_spark  # noqa: E402,F401

AB = "a int, b int"
NAN = float("nan")

CASES = [
    ("when-otherwise", "i int", [(1,), (2,), (None,)],
     lambda F, d: F.when(d.i == 1, "one").otherwise("other"), ["one", "other", "other"],
     "CASE WHEN (i = 1) THEN one ELSE other END"),
    ("when-no-otherwise", "i int", [(1,), (2,)], lambda F, d: F.when(d.i == 1, 10), [10, None],
     "CASE WHEN (i = 1) THEN 10 END"),
    ("coalesce", AB, [(None, 2), (1, None), (None, None)], lambda F, d: F.coalesce("a", "b"), [2, 1, None],
     "coalesce(a, b)"),
    ("nvl", AB, [(None, 2), (1, 3)], lambda F, d: F.nvl("a", "b"), [2, 1], "nvl(a, b)"),
    ("ifnull", AB, [(None, 8), (1, 3)], lambda F, d: F.ifnull("a", "b"), [8, 1], "ifnull(a, b)"),
    ("nvl2", "a int, b int, c int", [(None, 2, 3), (1, 2, 3)], lambda F, d: F.nvl2("a", "b", "c"), [3, 2],
     "nvl2(a, b, c)"),
    ("nullif", AB, [(2, 2), (1, 2), (None, 2)], lambda F, d: F.nullif("a", "b"), [None, 1, None],
     "nullif(a, b)"),
    ("greatest-skips-nulls", "a int, b int, c int", [(1, 4, 3), (None, 4, None), (None, None, None)],
     lambda F, d: F.greatest("a", "b", "c"), [4, 4, None], "greatest(a, b, c)"),
    ("least-skips-nulls", "a int, b int, c int", [(1, 4, 3), (None, 4, None)],
     lambda F, d: F.least("a", "b", "c"), [1, 4], "least(a, b, c)"),
    ("nanvl", "a double, b double", [(1.0, 2.0), (NAN, 2.0), (None, 2.0)], lambda F, d: F.nanvl("a", "b"),
     [1.0, 2.0, None], "nanvl(a, b)"),
    ("isnan", "a double", [(NAN,), (1.0,), (None,)], lambda F, d: F.isnan("a"), [True, False, False], None),
    ("isnull", "a int", [(None,), (1,)], lambda F, d: F.isnull("a"), [True, False], "(a IS NULL)"),
    ("isnotnull", "a int", [(None,), (1,)], lambda F, d: F.isnotnull("a"), [False, True], "(a IS NOT NULL)"),
    ("equal-null", AB, [(None, None), (1, None), (1, 1)], lambda F, d: F.equal_null("a", "b"),
     [True, False, True], "equal_null(a, b)"),
    ("nullifzero", "a int", [(0,), (2,)], lambda F, d: F.nullifzero("a"), [None, 2], None),
    ("zeroifnull", "a int", [(None,), (2,)], lambda F, d: F.zeroifnull("a"), [0, 2], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conditional(fn_spark, case):
    check(fn_spark, case)


def test_greatest_needs_two_arguments(fn_spark):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    with pytest.raises(PySparkException):
        fn_spark.createDataFrame([(1,)], "a int").select(F.greatest("a")).collect()
