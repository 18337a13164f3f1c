"""Real servers on loopback for the runtime tests: moto's S3 server, Debian's Pushgateway."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.runtime import venvs

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = START_TIMEOUT_S
) -> None:
    """Until ``url`` answers any HTTP status; fails with the log when the process exits or time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    stop(process)
    pytest.fail(f"{url} did not answer within {timeout_s} s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a process group this module started (``start_new_session``)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def start(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


class S3:
    """moto's S3 server, seeded through boto3 in moto's venv (``s3_seed.py``)."""

    def __init__(self, endpoint: str, python: Path | None = None) -> None:
        self.endpoint = endpoint
        self._python = python

    def upload(self, bucket: str, objects: Mapping[str, bytes], *, create: bool = False) -> None:
        assert self._python is not None, "an S3 without a seeding venv is only a URL"
        request = {
            "bucket": bucket,
            "create": create,
            "objects": {key: base64.b64encode(body).decode() for key, body in objects.items()},
        }
        subprocess.run(
            [str(self._python), str(Path(__file__).with_name("s3_seed.py")), self.endpoint],
            input=json.dumps(request),
            text=True,
            check=True,
            timeout=120,
        )


class Pushgateway:
    def __init__(self, url: str) -> None:
        self.url = url

    def groups(self) -> list[dict[str, Any]]:
        """The Pushgateway's groups (its JSON API), one per grouping key."""
        with urllib.request.urlopen(f"{self.url}/api/v1/metrics", timeout=10) as response:
            data: list[dict[str, Any]] = json.load(response)["data"]
        return data

    def group(self, model: str) -> dict[str, Any] | None:
        found = [g for g in self.groups() if g["labels"].get("model") == model]
        assert len(found) <= 1, found
        return found[0] if found else None


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    python = venvs.moto_python()
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = start([str(python), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log)
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/moto-api/", process, log)
    yield S3(endpoint, python)
    stop(process)


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    binary = venvs.pushgateway_binary()
    port = free_port()
    log = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    process = start([binary, f"--web.listen-address=127.0.0.1:{port}"], log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/-/ready", process, log)
    yield Pushgateway(url)
    stop(process)
