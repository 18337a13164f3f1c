"""The model server on loopback, serving scikit-learn models registered in a real MLflow server.

MLflow runs from the runtime venv (SQLite store, ``--serve-artifacts`` as the platform's registry does,
so the server downloads the model through the tracking URI only); the models are trained there on
generated data (``train_models.py``). The server runs as the Deployment runs it,
``python -m mlops_platform.serving_runtime`` with the Deployment's environment variables.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.runtime import venvs
from tests.runtime.conftest import free_port, start, stop, wait_http

HERE = Path(__file__).parent
MODEL = "fraud-scorer"
READY_TIMEOUT_S = 180  # importing MLflow and loading the model on two busy cores
EXIT_TIMEOUT_S = 30


@dataclass
class Registry:
    uri: str
    columns: list[str]
    rows: list[list[float]]
    predictions: dict[str, list[float]]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    python = venvs.runtime_python()
    tmp = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = tmp / "mlflow.log"
    process = start(
        [
            str(python), "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
            "--artifacts-destination", str(tmp / "artifacts"),
            "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        log,
        env=venvs.runtime_env(),
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    wait_http(f"{uri}/health", process, log, timeout_s=READY_TIMEOUT_S)
    out = tmp / "trained.json"
    subprocess.run(
        [str(python), str(HERE / "train_models.py"), uri, MODEL, str(out)],
        env=venvs.runtime_env(),
        check=True,
        timeout=600,
    )
    trained = json.loads(out.read_text())
    yield Registry(
        uri=uri, columns=trained["columns"], rows=trained["rows"], predictions=trained["predictions"]
    )
    stop(process)


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def predict(self, body: Any) -> list[float]:
        status, answer = self.request("POST", "/invocations", body)
        assert status == 200, answer
        predictions: list[float] = json.loads(answer)["predictions"]
        return predictions

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        status, text = self.request("GET", "/metrics")
        assert status == 200
        parsed = subprocess.run(
            [str(venvs.runtime_python()), str(HERE / "parse_metrics.py")],
            input=text,
            capture_output=True,
            check=True,
            timeout=60,
        )
        return [(name, labels, value) for name, labels, value in json.loads(parsed.stdout)]


def launch(tmp: Path, registry_uri: str, model_uri: str, **env: str) -> Server:
    port = free_port()
    log = tmp / f"server-{port}.log"
    settings = {
        "MODEL_URI": model_uri,
        "MLFLOW_TRACKING_URI": registry_uri,
        "MODEL_NAME": MODEL,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "HOME": str(tmp),
        **env,
    }
    process = start(
        [str(venvs.runtime_python()), "-m", "mlops_platform.serving_runtime"],
        log,
        venvs.runtime_env(**settings),
    )
    return Server(process, f"http://127.0.0.1:{port}", log)


def wait_ready(server: Server) -> None:
    wait_http(f"{server.url}/metrics", server.process, server.log, timeout_s=READY_TIMEOUT_S)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        status, _ = server.request("GET", "/health")
        if status == 200:
            return
        assert status == 503, status
        assert server.process.poll() is None, server.log.read_text()[-2000:]
        time.sleep(0.3)
    pytest.fail(f"not ready within {READY_TIMEOUT_S} s: {server.log.read_text()[-2000:]}")


@pytest.fixture
def serve(tmp_path: Path, registry: Registry) -> Iterator[Any]:
    started: list[Server] = []

    def run(model_uri: str, **env: str) -> Server:
        server = launch(tmp_path, registry.uri, model_uri, **env)
        started.append(server)
        wait_ready(server)
        return server

    yield run
    for server in started:
        stop(server.process)


def _sample(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float | None:
    found = [v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def test_serves_the_pinned_version_in_every_scoring_format(serve: Any, registry: Registry) -> None:
    server = serve(f"models:/{MODEL}/1")
    expected = registry.predictions["1"]
    assert expected != registry.predictions["2"]
    split = {"dataframe_split": {"columns": registry.columns, "data": registry.rows}}
    assert server.predict(split) == expected
    records = [dict(zip(registry.columns, row, strict=True)) for row in registry.rows]
    assert server.predict({"dataframe_records": records}) == expected
    assert server.predict({"instances": records}) == expected
    columns = {c: [row[i] for row in registry.rows] for i, c in enumerate(registry.columns)}
    assert server.predict({"inputs": columns}) == expected
    csv = (
        ",".join(registry.columns) + "\n" + "\n".join(",".join(repr(v) for v in row) for row in registry.rows)
    )
    status, answer = server.request("POST", "/invocations", csv.encode(), "text/csv")
    assert status == 200 and json.loads(answer)["predictions"] == expected
    status, answer = server.request("POST", "/invocations", {"wrong": []})
    assert status == 400 and json.loads(answer)["error_code"] == "BAD_REQUEST", answer

    samples = server.metrics()
    assert _sample(samples, "http_requests_total", handler="/invocations", status="200") == 5.0
    assert _sample(samples, "http_requests_total", handler="/invocations", status="400") == 1.0
    assert _sample(samples, "http_request_duration_seconds_count", handler="/invocations") == 6.0
    assert _sample(samples, "http_request_duration_seconds_bucket", handler="/invocations", le="+Inf") == 6.0
    assert (
        _sample(
            samples,
            "mlops_served_model_info",
            registered_model=MODEL,
            version="1",
            model_uri=f"models:/{MODEL}/1",
        )
        == 1.0
    )
    # Health probes and scrapes are not counted: they would dilute the 5xx ratio of the SLO.
    assert {ls["handler"] for n, ls, _ in samples if n == "http_requests_total"} == {"/invocations"}
    assert not any("model" in ls for n, ls, _ in samples), "the scrape attaches model; the server must not"


def test_an_alias_is_resolved_once_to_its_version(serve: Any, registry: Registry) -> None:
    server = serve(f"models:/{MODEL}@champion")
    split = {"dataframe_split": {"columns": registry.columns, "data": registry.rows}}
    assert server.predict(split) == registry.predictions["2"]
    samples = server.metrics()
    assert _sample(samples, "mlops_served_model_info", version="2", model_uri=f"models:/{MODEL}/2") == 1.0


def test_injected_errors_answer_the_configured_share_with_500(serve: Any, registry: Registry) -> None:
    server = serve(f"models:/{MODEL}/1", MLOPS_INJECT_ERROR_RATIO="0.25")
    split = {"dataframe_split": {"columns": registry.columns, "data": registry.rows}}
    statuses = [server.request("POST", "/invocations", split)[0] for _ in range(12)]
    assert statuses == [200, 200, 200, 500] * 3
    samples = server.metrics()
    assert _sample(samples, "http_requests_total", handler="/invocations", status="500") == 3.0
    assert _sample(samples, "http_requests_total", handler="/invocations", status="200") == 9.0
    assert "fault injection on: 0.250 of invocations answer 500" in server.log.read_text()


def test_sigterm_stops_the_server_cleanly(serve: Any) -> None:
    server = serve(f"models:/{MODEL}/1")
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=EXIT_TIMEOUT_S) == 0
    log = server.log.read_text()
    assert "stopped on SIGTERM" in log and "Traceback" not in log


def test_not_ready_while_the_registry_does_not_answer(tmp_path: Path) -> None:
    """A registry that accepts and never answers: /health and /invocations say 503 while loading."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        server = launch(tmp_path, uri, f"models:/{MODEL}/1")
        try:
            wait_http(f"{server.url}/metrics", server.process, server.log, timeout_s=READY_TIMEOUT_S)
            assert server.request("GET", "/health")[0] == 503
            assert server.request("POST", "/invocations", {"inputs": []})[0] == 503
            assert (
                _sample(server.metrics(), "http_requests_total", handler="/invocations", status="503") == 1.0
            )
        finally:
            stop(server.process)


def test_a_model_that_cannot_load_ends_the_server_with_exit_1(tmp_path: Path, registry: Registry) -> None:
    server = launch(tmp_path, registry.uri, f"models:/{MODEL}/99")
    assert server.process.wait(timeout=READY_TIMEOUT_S) == 1
    log = server.log.read_text()
    assert f"cannot load models:/{MODEL}/99 from {registry.uri}: " in log
    assert "Traceback" not in log


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MLOPS_INJECT_ERROR_RATIO": "2"}, "MLOPS_INJECT_ERROR_RATIO must be between 0 and 1 (got 2)"),
        ({"PORT": "http"}, "PORT must be a port number (got 'http')"),
        ({"MODEL_URI": ""}, "missing environment variable(s): MODEL_URI"),
        (
            {"MODEL_URI": "models:/a/b/c"},
            "MODEL_URI must be models:/<name>/<version> or models:/<name>@<alias>",
        ),
    ],
)
def test_bad_settings_refuse_to_start_with_exit_2(tmp_path: Path, env: dict[str, str], message: str) -> None:
    server = launch(tmp_path, "http://127.0.0.1:1", f"models:/{MODEL}/1", **env)
    assert server.process.wait(timeout=EXIT_TIMEOUT_S) == 2
    assert f"cannot start: {message}" in server.log.read_text()
