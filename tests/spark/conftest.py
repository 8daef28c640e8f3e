"""Fixtures for the Spark Connect tests: a quarry Spark Connect server in this process, driven by the
real ``pyspark-client``.

- ``spark_server``: a server (module-scoped) over a quarry session with the TPC-H SF 0.01 tables
  registered, on a free loopback port;
- ``spark``: a PySpark ``SparkSession`` connected to it (a fresh session per module).
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("pyspark.sql.connect.proto", reason="the spark extra (pyspark-client) is not installed")

os.environ.setdefault("SPARK_CONNECT_MODE_ENABLED", "1")


@pytest.fixture(scope="session", autouse=True)
def _no_client_outlives_the_tests():
    """pyspark-client registers an exit handler per client that calls its server unless the client was
    closed; with the test servers stopped by then it retries for minutes, and the test run never ends.
    Every client a test left open is closed when the tests end (a test should stop its own)."""
    import weakref
    from pyspark.sql.connect.client.core import SparkConnectClient
    clients = weakref.WeakSet()
    original = SparkConnectClient.__init__

    def tracked(self, *args, **kwargs):
        original(self, *args, **kwargs)
        clients.add(self)

    SparkConnectClient.__init__ = tracked
    yield
    SparkConnectClient.__init__ = original
    for client in list(clients):
        if not client.is_closed:
            try:
                client.close()
            except Exception:
                pass


@pytest.fixture(scope="module")
def spark_server(tpch_sf001):
    import quarry
    import quarry.spark
    from quarry.tpch import register_tables
    session = register_tables(quarry.connect(workers=2), tpch_sf001)
    server = quarry.spark.serve(session, "127.0.0.1", 0)
    yield server
    server.stop(0)


@pytest.fixture(scope="module")
def spark(spark_server):
    from pyspark.sql import SparkSession
    session = SparkSession.builder.remote(spark_server.url).create()
    yield session
    session.stop()
