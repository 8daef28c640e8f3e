"""Spark's function library for the Spark Connect front end: Spark name -> quarry Columns.

Each family lives in its own module and registers its builders with
:func:`~quarry.spark.functions.base.spark_function`; :func:`lookup` finds one by Spark name
(case-insensitive). Functions the registry does not hold fall back to the translator's small
table of names that mean the same in Spark and quarry, and are otherwise refused by name.
"""

from __future__ import annotations

from quarry.spark.functions.base import REGISTRY, Call, Function, SparkFunction, spark_function
from quarry.spark.functions import (  # noqa: F401  (each module registers its family)
    aggregates, conditional, dates, hashing, json_text, misc, nested, numeric, strings, windows,
)

__all__ = ["Call", "Function", "REGISTRY", "SparkFunction", "lookup", "spark_function"]


def lookup(name: str) -> SparkFunction | None:
    return REGISTRY.get(name.lower())
