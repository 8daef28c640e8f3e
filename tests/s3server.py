"""A real S3-compatible endpoint for the tests: moto's server in a subprocess on 127.0.0.1.

Requests are authenticated (moto checks keys once ``reset-auth`` is set): the server gets an IAM
user whose key pair may do everything, so a wrong key is refused as by S3 itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass


@dataclass
class S3Server:
    url: str
    key_id: str
    secret: str
    process: subprocess.Popen
    region: str = "us-east-1"

    @property
    def endpoint(self) -> str:
        return self.url.split("://", 1)[1]

    def config(self) -> dict:
        """Session settings that reach this server with the good key."""
        return {"s3_endpoint": self.url, "s3_region": self.region, "s3_access_key_id": self.key_id,
                "s3_secret_access_key": self.secret}

    def filesystem(self):
        import pyarrow.fs as pafs
        return pafs.S3FileSystem(access_key=self.key_id, secret_key=self.secret, endpoint_override=self.endpoint,
                                 scheme="http", region=self.region)

    def create_bucket(self, name: str) -> None:
        import boto3
        boto3.client("s3", endpoint_url=self.url, region_name=self.region, aws_access_key_id=self.key_id,
                     aws_secret_access_key=self.secret).create_bucket(Bucket=name)

    def upload_dir(self, local: str, target: str) -> None:
        """Copy the local directory ``local`` to ``target`` (``bucket/prefix``)."""
        import pyarrow.fs as pafs
        pafs.copy_files(local, target, source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=self.filesystem())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> S3Server:
    """Start moto's server and an authenticated user; the caller stops it."""
    port = _free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="boot", AWS_SECRET_ACCESS_KEY="boot")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/data.json", timeout=2)
            break
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto's server did not start")
            time.sleep(0.1)
    import boto3
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="boot",
                       aws_secret_access_key="boot")
    iam.create_user(UserName="quarry")
    iam.put_user_policy(UserName="quarry", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="quarry")["AccessKey"]
    # from now on every request must carry a known key
    urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset-auth", data=b"0", method="POST",
                                                  headers={"Content-Type": "text/plain"}))
    return S3Server(url, key["AccessKeyId"], key["SecretAccessKey"], process)
