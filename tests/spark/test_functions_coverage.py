"""Every public function of ``pyspark.sql.functions`` either resolves in quarry's Spark function registry
(or the translator's own table), is a client-side builder, or is refused by name with a hint.

The count of names that resolve is printed (run with ``-s``) and kept in docs/spark.md ("Functions").
"""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

from functions_support import fn_spark  # noqa: E402,F401


def _public_functions() -> list[str]:
    import pyspark.sql.functions as F
    names = getattr(F, "__all__", None) or dir(F)
    return sorted(n for n in names if not n.startswith("_") and inspect.isfunction(getattr(F, n, None)))


def _classify():
    from quarry.spark import expressions as E
    from quarry.spark.functions import REGISTRY
    from quarry.spark.functions.refused import CLIENT_SIDE, REFUSED, REFUSED_F16B, WIRE_NAMES
    out = {"resolved": [], "client": [], "refused": [], "refused_f16b": [], "missing": []}
    for name in _public_functions():
        wire = WIRE_NAMES.get(name, name).lower()
        if wire in REGISTRY or wire in E._SAME or wire in E.HANDLED:
            out["resolved"].append(name)
        elif name in CLIENT_SIDE:
            out["client"].append(name)
        elif wire in REFUSED:
            out["refused"].append(name)
        elif wire in REFUSED_F16B:
            out["refused_f16b"].append(name)
        else:
            out["missing"].append(name)
    return out


def test_every_public_function_resolves_or_is_refused():
    groups = _classify()
    total = len(_public_functions())
    print(f"\npyspark.sql.functions: {total} public functions; {len(groups['resolved'])} resolve, "
          f"{len(groups['client'])} are client-side builders, {len(groups['refused'])} are refused "
          f"(math/string/conditional/hashing/JSON/misc), {len(groups['refused_f16b'])} are refused "
          "(date/time/aggregate/window/collections)")
    assert groups["missing"] == [], "neither resolved nor refused: " + ", ".join(groups["missing"])


def test_refused_tables_do_not_overlap_the_registry():
    from quarry.spark.functions import REGISTRY
    from quarry.spark.functions.refused import REFUSED, REFUSED_F16B
    assert not set(REFUSED) & set(REGISTRY)
    assert not set(REFUSED_F16B) & set(REGISTRY)
    assert not set(REFUSED) & set(REFUSED_F16B)


@pytest.mark.parametrize("name", ["java_method", "sentences", "parse_json", "xpath_int", "hll_sketch_estimate",
                                  "aes_encrypt", "to_char"])
def test_a_refused_function_says_not_supported_with_a_hint(fn_spark, name):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F
    from quarry.spark.functions.refused import REFUSED
    df = fn_spark.createDataFrame([("a", 1)], "s string, i int")
    with pytest.raises(PySparkException) as info:
        df.select(F.call_function(name, F.col("s"))).collect()
    text = str(info.value)
    assert f"Not supported: the function `{name}`" in text
    assert REFUSED[name] in text
