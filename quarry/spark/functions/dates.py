"""Spark's datetime functions, with Spark's semantics (see docs/spark.md, "Functions")."""

from __future__ import annotations

from quarry.spark.functions.base import Call, Function, spark_function  # noqa: F401
