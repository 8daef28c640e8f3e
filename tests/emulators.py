"""Local emulators of Google Cloud Storage and Azure Blob Storage for the tests, on 127.0.0.1.

- GCS: ``gcp-storage-emulator`` (a test extra) in a subprocess, in memory, no authentication;
- Azure: Azurite's Blob service (``npm install azurite``; ``.ci/run`` installs it into
  ``.quarry-cache/azurite`` when npm is there), in memory, with Azurite's well-known development
  account, whose name and key Microsoft documents for the emulator.

Each ``start_*`` returns a handle the caller stops, or raises :class:`Unavailable` saying why the
emulator cannot run here (the tests then skip with that reason).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Azurite's development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class Unavailable(RuntimeError):
    """The emulator cannot run on this machine (the message says why)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.time() + 40
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError as exc:     # the server answers: it is up
            if exc.code < 500:
                return
        except OSError:
            pass
        if time.time() > deadline or process.poll() is not None:
            process.kill()
            raise Unavailable(f"{what} did not start")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _Emulator:
    """What both emulators do through their pyarrow filesystem (each gives ``filesystem()`` and a
    ``process`` field)."""

    def create_bucket(self, name: str) -> None:
        self.filesystem().create_dir(name)

    def upload_dir(self, local: str, target: str) -> None:
        import pyarrow.fs as pafs
        pafs.copy_files(local, target, source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=self.filesystem())

    def stop(self) -> None:
        _stop(self.process)


@dataclass
class GcsEmulator(_Emulator):
    endpoint: str                  # host:port
    process: subprocess.Popen

    def config(self) -> dict:
        """Session settings that reach the emulator."""
        return {"gcs_endpoint": self.endpoint, "gcs_use_ssl": False, "gcs_anonymous": True}

    def filesystem(self):
        import pyarrow.fs as pafs
        return pafs.GcsFileSystem(anonymous=True, endpoint_override=self.endpoint, scheme="http",
                                  project_id="quarry-test")



def start_gcs() -> GcsEmulator:
    try:
        import gcp_storage_emulator  # noqa: F401
    except ImportError:
        raise Unavailable("gcp-storage-emulator is not installed (pip install gcp-storage-emulator)") from None
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "-H", "127.0.0.1",
                                "--port", str(port), "-q", "-M"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"127.0.0.1:{port}"
    _wait(f"http://{endpoint}/storage/v1/b", process, "the GCS emulator")
    return GcsEmulator(endpoint, process)


@dataclass
class AzureEmulator(_Emulator):
    endpoint: str                  # the Blob service's URL, with the account: http://127.0.0.1:port/devstoreaccount1
    process: subprocess.Popen
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
                f"BlobEndpoint={self.endpoint};")

    def config(self) -> dict:
        return {"azure_storage_connection_string": self.connection_string}

    def filesystem(self):
        import pyarrow.fs as pafs
        authority = self.endpoint.split("://", 1)[1].split("/", 1)[0]
        return pafs.AzureFileSystem(account_name=self.account, account_key=self.key,
                                    blob_storage_authority=authority, blob_storage_scheme="http",
                                    dfs_storage_authority=authority, dfs_storage_scheme="http")



def azurite_command() -> list[str] | None:
    """How to run Azurite's Blob service here (None: not installed). Its debug log and account files
    go to the working directory it is started in."""
    if shutil.which("node") is None:
        return None
    for candidate in (os.environ.get("AZURITE_BLOB"),
                      str(REPO_ROOT / ".quarry-cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"),
                      shutil.which("azurite-blob")):
        if candidate and os.path.exists(candidate):
            return [candidate]
    return None


def start_azurite(workdir: str) -> AzureEmulator:
    command = azurite_command()
    if command is None:
        why = "node is not installed" if shutil.which("node") is None else "Azurite is not installed"
        raise Unavailable(f"{why} (npm install --prefix .quarry-cache/azurite azurite, as .ci/run does)")
    port = _free_port()
    process = subprocess.Popen(command + ["--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
                                          "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    _wait(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}?comp=list", process, "Azurite")
    return AzureEmulator(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}", process)
