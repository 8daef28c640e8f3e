"""The servers' file sandbox covers object-store paths: only the configured prefixes, the same refusal."""

from __future__ import annotations

import pytest

import quarry
from quarry.catalog.sandbox import FileSandbox
from quarry.errors import AccessDeniedError

BOX = FileSandbox(["s3://lake/public/"], remote_writable=["s3://lake/out"])


@pytest.mark.parametrize("path", ["s3://lake/public/x.parquet", "s3://lake/public/a/b/*.parquet", "S3://lake/public/",
                                  "s3://lake/public", "s3://lake/out/q.parquet"])
def test_reads_under_an_allowed_prefix(path):
    BOX.check_read(path)


@pytest.mark.parametrize("path", ["s3://lake/publicity/x.parquet", "s3://lake/public/../private/x.parquet",
                                  "s3://lake/public/./x.parquet", "s3://lake/*/x.parquet", "s3://lake//public/x",
                                  "s3://other/public/x.parquet", "gs://lake/public/x.parquet", "s3://lake",
                                  "s3://lake/public/*/../../private/x"])
def test_every_other_remote_path_is_refused_with_one_text(path):
    with pytest.raises(AccessDeniedError) as info:
        BOX.check_read(path)
    assert str(info.value).splitlines()[0] == f"Access error: access to `{path}` is not allowed"


def test_remote_writes_only_under_writable_prefixes():
    BOX.check_write("s3://lake/out/daily/")
    for path in ("s3://lake/public/x.parquet", "s3://lake/out/../public/x", "s3://lake/out/*.parquet",
                 "s3://elsewhere/out/x"):
        with pytest.raises(AccessDeniedError, match="not allowed"):
            BOX.check_write(path)
    with pytest.raises(AccessDeniedError, match="a table reads that file"):
        BOX.check_write("s3://lake/out/t/", in_use=["s3://lake/out/t/part-0.parquet"])
    with pytest.raises(AccessDeniedError, match="not allowed"):
        FileSandbox(["s3://lake/public/"]).check_write("s3://lake/public/x.parquet")


def test_a_restricted_session_refuses_remote_paths_before_any_request():
    con = quarry.connect(workers=0)
    con.allowed_paths = ["s3://lake/public/"]
    # no endpoint is configured: a refusal that reached the network would be another error
    for sql in ("SELECT * FROM 's3://lake/private/x.parquet'", "SELECT * FROM read_parquet('s3://x/y/*.parquet')",
                "SELECT * FROM delta_scan('s3://lake/private/t')"):
        with pytest.raises(AccessDeniedError, match="is not allowed"):
            con.sql(sql).to_arrow()
    with pytest.raises(AccessDeniedError, match="not allowed"):
        con.register("t", "s3://lake/private/")
    with pytest.raises(AccessDeniedError, match="CREATE SECRET is not allowed"):
        con.sql("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')")


def test_a_prefix_with_dots_is_not_a_root():
    with pytest.raises(ValueError):
        FileSandbox(["s3://lake/../x/"])
