"""A real MLflow tracking server for the registry tests: SQLite backend, local artifact root, loopback.

MLflow runs from its own virtualenv (``ensure_mlflow_venv``, built once from PyPI and cached): the project's
environment cannot hold it (see ``mlflow_seed.py``). Without it these tests skip on a developer's machine
and fail under ``CI=true``. Tests register models, versions, aliases, tags and metrics through the
``mlflow`` client (``Registry.run``); the code under test only ever talks REST to the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.tools import build_cache

MLFLOW_VERSION = "3.17.2"  # 3.18.0's mlflow-skinny==3.18.0 is not on PyPI (checked 2026-12-01)
MLFLOW_REQUIREMENTS = (f"mlflow[auth]=={MLFLOW_VERSION}",)
# A venv counts only when mlflow imports at the pinned version: pip has exited 0 over a venv whose
# files a concurrent build had wiped (issue 29).
MLFLOW_CHECK = f"import mlflow; assert mlflow.__version__ == {MLFLOW_VERSION!r}, mlflow.__version__"
SEED = Path(__file__).with_name("mlflow_seed.py")
RESULT = "@@result "  # mlflow_seed.RESULT
START_TIMEOUT_S = 120


def _require(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def ensure_mlflow_venv() -> Path:
    """The MLflow venv's Python: ``$MLOPS_MLFLOW_VENV``, else the cached build (made once when missing).

    Built through ``build_cache.ensure_venv``: the xdist workers wait for one build, and a venv that
    was interrupted or does not import mlflow at the pinned version is never used.
    """
    explicit = os.environ.get("MLOPS_MLFLOW_VENV")
    if explicit:
        return Path(explicit) / "bin" / "python"
    try:
        return build_cache.ensure_venv("mlflow-server", MLFLOW_REQUIREMENTS, check=MLFLOW_CHECK)
    except build_cache.BuildCacheError as exc:
        _require(f"cannot build the MLflow {MLFLOW_VERSION} venv: {exc}")
        raise  # pragma: no cover - _require raises


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Registry:
    """A running tracking server and a long-lived ``mlflow`` client process seeding it."""

    def __init__(self, uri: str, python: Path) -> None:
        self.uri = uri
        self._client = subprocess.Popen(
            [str(python), str(SEED), uri],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, *ops: dict[str, Any]) -> list[dict[str, Any]]:
        """Run registry operations through the ``mlflow`` client (see ``mlflow_seed.py``)."""
        assert self._client.stdin is not None and self._client.stdout is not None
        self._client.stdin.write(json.dumps({"ops": list(ops)}) + "\n")
        self._client.stdin.flush()
        for line in self._client.stdout:
            if line.startswith(RESULT):
                answer = json.loads(line.removeprefix(RESULT))
                assert "error" not in answer, answer["error"]
                out: list[dict[str, Any]] = answer["ok"]
                return out
        pytest.fail(f"the mlflow client process ended (exit {self._client.wait(timeout=10)})")

    def close(self) -> None:
        assert self._client.stdin is not None
        self._client.stdin.close()
        try:
            self._client.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._client.kill()

    def version(self, model: str, **fields: Any) -> int:
        """Register a new version of ``model`` (tags, metrics, aliases); return its number."""
        return int(self.run({"op": "version", "model": model, **fields})[0]["version"])

    def alias(self, model: str, alias: str, version: int) -> None:
        self.run({"op": "alias", "model": model, "alias": alias, "version": version})

    def delete_version(self, model: str, version: int) -> None:
        self.run({"op": "delete_version", "model": model, "version": version})


def _start(tmp: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    python = ensure_mlflow_venv()
    port = free_port()
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(python),
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp / 'mlflow.db'}",
            "--default-artifact-root",
            str(tmp / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its uvicorn and job-runner children share the group _stop ends
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"mlflow server exited {process.returncode}: {(tmp / 'server.log').read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                return process, uri
        except OSError:
            time.sleep(0.5)
    _stop(process)
    pytest.fail(f"mlflow server did not answer within {START_TIMEOUT_S} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server and its children: the process group this fixture started (``start_new_session``)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One MLflow tracking server for the session (SQLite store, local artifact root) and its client."""
    process, uri = _start(tmp_path_factory.mktemp("mlflow"))
    reg = Registry(uri, ensure_mlflow_venv())
    yield reg
    reg.close()
    _stop(process)


@pytest.fixture
def registry(mlflow_server: Registry) -> Iterator[Registry]:
    """The session's server, emptied after each test (every registered model deleted)."""
    yield mlflow_server
    mlflow_server.run({"op": "delete_models"})


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server with MLflow's basic-auth app (its default admin user, from its auth config)."""
    tmp = tmp_path_factory.mktemp("mlflow-auth")
    config = tmp / "auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{tmp / 'auth.db'}\n"
        "admin_username = admin\nadmin_password = correct-horse-battery\nauthorization_function = "
        "mlflow.server.auth:authenticate_request_basic_auth\n",
        encoding="utf-8",
    )
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-csrf-key"}
    process, uri = _start(tmp, "--app-name", "basic-auth", env=env)
    yield uri
    _stop(process)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback listener that accepts connections and never answers: a registry too slow to wait for."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    sock.close()
