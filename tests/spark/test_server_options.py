"""``quarry spark-connect`` options shared with ``quarry serve``: ``--ui-port`` (the clients' queries show in
the served session's web UI) and ``--query-memory`` (a query over its cap fails alone)."""

from __future__ import annotations

import json
import urllib.request

import pytest


def _api(url: str, path: str):
    with urllib.request.urlopen(url + "/api/v1/applications", timeout=20) as r:
        app = json.loads(r.read())[0]["id"]
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}{path}", timeout=20) as r:
        return json.loads(r.read())


def test_a_spark_clients_queries_show_in_the_served_sessions_ui(tpch_sf001):
    import quarry
    import quarry.spark
    from pyspark.sql import SparkSession
    from quarry.spark.cli import build_parser
    from quarry.tpch import register_tables
    from quarry.ui import start_ui
    assert build_parser().parse_args(["--ui-port", "4050"]).ui_port == 4050
    served = register_tables(quarry.connect(workers=2), tpch_sf001)
    start_ui(served, port=0, quiet=True)
    server = quarry.spark.serve(served, "127.0.0.1", 0)
    try:
        spark = SparkSession.builder.remote(server.url).create()
        try:
            rows = spark.sql("SELECT n_regionkey, count(*) AS n FROM nation GROUP BY n_regionkey").collect()
            assert sorted(r["n"] for r in rows) == [5, 5, 5, 5, 5]
        finally:
            spark.stop()
        jobs = _api(served.ui_url, "/jobs")
        assert jobs and all(j["status"] == "SUCCEEDED" for j in jobs)
        assert sum(j["numTasks"] for j in jobs) >= 2            # the group-by ran as stages of tasks
    finally:
        server.stop(0)
        served.close()


def test_a_spark_query_over_its_memory_cap_fails_alone(tpch_sf001):
    # the Flight SQL server's limits: a query holding more than query_memory in the workers is stopped
    import quarry
    import quarry.spark
    from pyspark.sql import SparkSession
    from quarry.tpch import register_tables
    served = register_tables(quarry.connect(workers=2), tpch_sf001)
    server = quarry.spark.serve(served, "127.0.0.1", 0, query_memory="256MB")
    try:
        spark = SparkSession.builder.remote(server.url).create()
        try:
            # ~1.2 GB of strings in one aggregation group, which cannot spill
            hungry = ("SELECT o_orderstatus, string_agg(l_comment || o_comment, ',') AS s FROM lineitem, "
                      "(SELECT o_comment, o_orderstatus FROM orders LIMIT 200) o GROUP BY 1")
            with pytest.raises(Exception, match="memory cap"):    # PySpark's exception, quarry's text
                spark.sql(hungry).collect()
            assert spark.sql("SELECT count(*) AS n FROM nation").collect()[0]["n"] == 25
        finally:
            spark.stop()
    finally:
        server.stop(0)
        served.close()
