"""The Spark Connect server's security: tokens checked against the users file, loopback without users."""

from __future__ import annotations

import pytest
from pyspark.errors import PySparkException

import quarry
import quarry.spark
from quarry.errors import QuarryError
from quarry.server.auth import Users


def test_no_users_means_loopback_only():
    with pytest.raises(QuarryError, match="without authentication"):
        quarry.spark.serve(quarry.connect(workers=0), "0.0.0.0", 0)


def test_a_token_is_the_users_password():
    from pyspark.sql import SparkSession
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0, users=Users({"alice": "s3cret"}))
    try:
        spark = SparkSession.builder.remote(f"sc://localhost:{server.port}/;user_id=alice;token=s3cret").create()
        assert spark.range(3).count() == 3
        spark.stop()
        wrong = SparkSession.builder.remote(f"sc://localhost:{server.port}/;user_id=alice;token=nope").create()
        try:
            with pytest.raises(PySparkException, match="invalid user or token"):
                wrong.range(1).collect()
        finally:
            wrong.stop()       # an unclosed client calls the (then stopped) server at exit, retrying for minutes
    finally:
        server.stop(0)
