"""Artifacts (``spark.addArtifacts``, AddArtifacts / ArtifactStatus): a session's Python files are
importable by its UDFs on the workers, kept in the session's own directory and nowhere else."""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib

import pytest
from pyspark.errors import PySparkException, UnsupportedOperationException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


@pytest.fixture
def fresh(spark_server):
    """A session of its own: artifacts are per session."""
    session = SparkSession.builder.remote(spark_server.url).create()
    yield session
    session.stop()


def test_a_pyfile_is_importable_by_a_udf(fresh, tmp_path):
    module = tmp_path / "pricing_s15.py"
    module.write_text("RATE = 1.25\n\ndef gross(x):\n    return x * RATE\n")
    fresh.addArtifacts(str(module), pyfile=True)

    def gross(x):
        import pricing_s15
        return pricing_s15.gross(x)

    out = fresh.range(4).select(F.udf(gross, "double")("id").alias("g")).orderBy("g")
    assert [r.g for r in out.collect()] == [0.0, 1.25, 2.5, 3.75]


def test_a_zipped_package_is_importable(fresh, tmp_path):
    archive = tmp_path / "toolkit_s15.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("toolkit_s15/__init__.py", "")
        z.writestr("toolkit_s15/text.py", "def shout(s):\n    return s.upper() + '!'\n")
    fresh.addArtifacts(str(archive), pyfile=True)

    def shout(s):
        from toolkit_s15.text import shout
        return shout(s)

    df = fresh.createDataFrame([("hi",), ("yo",)], ["w"])
    assert sorted(r[0] for r in df.select(F.udf(shout)("w")).collect()) == ["HI!", "YO!"]


def test_a_large_pyfile_arrives_in_chunks(fresh, tmp_path):
    # more than the client's 32 KiB chunk: sent as begin_chunk + chunks, each CRC-checked
    module = tmp_path / "big_s15.py"
    filler = "\n".join(f"# line {i} " + "x" * 60 for i in range(2000))
    module.write_text(f"{filler}\nANSWER = 42\n")
    assert module.stat().st_size > 3 * 32 * 1024
    fresh.addArtifacts(str(module), pyfile=True)

    def answer(_):
        import big_s15
        return big_s15.ANSWER

    assert fresh.range(1).select(F.udf(answer, "int")("id")).collect()[0][0] == 42


def test_cached_blobs_and_artifact_status(fresh):
    manager = fresh.client._artifact_manager
    blob = b"some bytes the client caches"
    digest = hashlib.sha256(blob).hexdigest()
    assert not manager.is_cached_artifact(digest)
    assert manager.cache_artifact(blob) == digest
    assert manager.is_cached_artifact(digest)
    assert manager.get_cached_artifacts([digest, "0" * 64]) == {digest}


def test_jars_archives_and_files_are_refused(fresh, tmp_path):
    jar = tmp_path / "lib.jar"
    jar.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnsupportedOperationException, match="Not supported: the artifact `jars/lib.jar`"):
        fresh.addArtifacts(str(jar))
    archive = tmp_path / "env.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "a")
    with pytest.raises(UnsupportedOperationException, match="Not supported: the artifact `archives/"):
        fresh.addArtifacts(str(archive), archive=True)
    data = tmp_path / "lookup.csv"
    data.write_text("a,b\n")
    with pytest.raises(UnsupportedOperationException, match="Not supported: the artifact `files/"):
        fresh.addArtifacts(str(data), file=True)


def test_a_pyfile_is_not_replaced_by_other_contents(fresh, tmp_path):
    module = tmp_path / "once_s15.py"
    module.write_text("V = 1\n")
    fresh.addArtifacts(str(module), pyfile=True)
    fresh.addArtifacts(str(module), pyfile=True)          # the same contents again: fine
    module.write_text("V = 2\n")
    with pytest.raises(PySparkException, match="already exists"):
        fresh.addArtifacts(str(module), pyfile=True)


def test_sessions_see_only_their_own_pyfiles(spark_server, tmp_path):
    one = SparkSession.builder.remote(spark_server.url).create()
    two = SparkSession.builder.remote(spark_server.url).create()
    try:
        for session, value in ((one, "one"), (two, "two")):
            folder = tmp_path / value
            folder.mkdir()
            (folder / "whoami_s15.py").write_text(f"NAME = {value!r}\n")
            session.addArtifacts(str(folder / "whoami_s15.py"), pyfile=True)

        def who(_):
            import whoami_s15
            return whoami_s15.NAME

        for _ in range(2):                      # alternate, so a worker serves both sessions in turn
            assert {r[0] for r in one.range(4).select(F.udf(who)("id")).collect()} == {"one"}
            assert {r[0] for r in two.range(4).select(F.udf(who)("id")).collect()} == {"two"}
    finally:
        one.stop()
        two.stop()


# -- the wire, as a hostile client would use it ------------------------------------------------------

def _stub(server):
    import grpc
    from pyspark.sql.connect.proto import base_pb2_grpc
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return channel, base_pb2_grpc.SparkConnectServiceStub(channel)


def _single(session_id: str, name: str, data: bytes, crc: int | None = None):
    from pyspark.sql.connect.proto import base_pb2
    chunk = base_pb2.AddArtifactsRequest.ArtifactChunk(data=data, crc=zlib.crc32(data) if crc is None else crc)
    return base_pb2.AddArtifactsRequest(
        session_id=session_id, user_context=base_pb2.UserContext(user_id="mallory"),
        batch=base_pb2.AddArtifactsRequest.Batch(
            artifacts=[base_pb2.AddArtifactsRequest.SingleChunkArtifact(name=name, data=chunk)]))


def _status(stub, session_id, names):
    from pyspark.sql.connect.proto import base_pb2
    response = stub.ArtifactStatus(base_pb2.ArtifactStatusesRequest(
        session_id=session_id, user_context=base_pb2.UserContext(user_id="mallory"), names=names))
    return {k: v.exists for k, v in response.statuses.items()}


@pytest.mark.parametrize("name", ["pyfiles/../../escape_s15.py", "/tmp/escape_s15.py", "cache/../../escape_s15",
                                  "pyfiles/sub/../../../escape_s15.py", "..\\escape_s15.py", "pyfiles/.hidden.py",
                                  "forward_to_fs/tmp/escape_s15.py", "cache/", "pyfiles/x.sh"])
def test_no_name_writes_outside_the_session(spark_server, tmp_path, name):
    import grpc
    import uuid
    channel, stub = _stub(spark_server)
    session_id = str(uuid.uuid4())
    root = spark_server.service.artifacts.root
    before = {os.path.join(d, f) for d, _, fs in os.walk(os.path.dirname(root)) for f in fs
              if "escape_s15" in f}
    try:
        with pytest.raises(grpc.RpcError) as info:
            stub.AddArtifacts(iter([_single(session_id, name, b"import os\n")]))
        assert info.value.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL)
    finally:
        channel.close()
    after = {os.path.join(d, f) for d, _, fs in os.walk(os.path.dirname(root)) for f in fs if "escape_s15" in f}
    assert after == before
    assert not os.path.exists("/tmp/escape_s15.py")


def test_a_bad_crc_keeps_nothing(spark_server):
    import uuid
    channel, stub = _stub(spark_server)
    session_id = str(uuid.uuid4())
    try:
        response = stub.AddArtifacts(iter([_single(session_id, "pyfiles/crc_s15.py", b"X = 1\n", crc=12345)]))
        assert [(a.name, a.is_crc_successful) for a in response.artifacts] == [("pyfiles/crc_s15.py", False)]
        assert _status(stub, session_id, ["pyfiles/crc_s15.py"]) == {"pyfiles/crc_s15.py": False}
        response = stub.AddArtifacts(iter([_single(session_id, "pyfiles/crc_s15.py", b"X = 1\n")]))
        assert [a.is_crc_successful for a in response.artifacts] == [True]
        assert _status(stub, session_id, ["pyfiles/crc_s15.py", "cache/nothing"]) == \
            {"pyfiles/crc_s15.py": True, "cache/nothing": False}
    finally:
        channel.close()


def test_a_chunked_stream_with_a_bad_chunk_keeps_nothing(spark_server):
    import uuid
    from pyspark.sql.connect.proto import base_pb2
    channel, stub = _stub(spark_server)
    session_id = str(uuid.uuid4())
    user = base_pb2.UserContext(user_id="mallory")
    Req = base_pb2.AddArtifactsRequest
    first, second = b"A = 1\n", b"B = 2\n"
    requests = [
        Req(session_id=session_id, user_context=user, begin_chunk=Req.BeginChunkedArtifact(
            name="pyfiles/chunks_s15.py", total_bytes=12, num_chunks=2,
            initial_chunk=Req.ArtifactChunk(data=first, crc=zlib.crc32(first)))),
        Req(session_id=session_id, user_context=user, chunk=Req.ArtifactChunk(data=second, crc=1)),
    ]
    try:
        response = stub.AddArtifacts(iter(requests))
        assert [a.is_crc_successful for a in response.artifacts] == [False]
        assert _status(stub, session_id, ["pyfiles/chunks_s15.py"]) == {"pyfiles/chunks_s15.py": False}
    finally:
        channel.close()


def test_released_sessions_forget_their_artifacts(spark_server, tmp_path):
    session = SparkSession.builder.remote(spark_server.url).create()
    module = tmp_path / "gone_s15.py"
    module.write_text("X = 1\n")
    session.addArtifacts(str(module), pyfile=True)
    folder = spark_server.service.artifacts.session_dir(session.client._session_id, create=False)
    assert os.path.isfile(os.path.join(folder, "pyfiles", "gone_s15.py"))
    session.stop()
    assert not os.path.exists(folder)


def test_pyfiles_need_the_python_role():
    import quarry
    import quarry.spark
    server = quarry.spark.serve(quarry.connect(workers=0), "127.0.0.1", 0, python_role="admin")
    session = SparkSession.builder.remote(server.url).create()      # anonymous clients have `write`
    try:
        with pytest.raises(PySparkException, match="needs the role `admin`"):
            session.addArtifacts(__file__, pyfile=True)
    finally:
        session.stop()
        server.stop(0)
