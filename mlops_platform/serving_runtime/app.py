"""The server's ASGI application: our health, metrics and fault injection around MLflow's scoring app.

Invocations are answered by MLflow's own scoring application (``mlflow_scoring.scoring_app``), so the
request and response formats and their errors are MLflow's exactly; this layer only adds what the
platform needs: readiness (503 until the model is loaded), the metrics of every invocation, and the
test-only error injection. It is plain ASGI (no framework): it passes each request through unchanged.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mlops_platform.serving_runtime.faults import ErrorInjector
from mlops_platform.serving_runtime.metrics import INVOCATIONS, ServerMetrics
from mlops_platform.serving_runtime.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _answer(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


class ModelServer:
    """The ASGI app; ``ready(scoring)`` hands it MLflow's scoring app once the model is loaded."""

    def __init__(self, settings: Settings, metrics: ServerMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.faults = ErrorInjector(settings.error_ratio)
        self._scoring: ASGIApp | None = None
        self._lock = threading.Lock()

    def ready(self, scoring: ASGIApp) -> None:
        with self._lock:
            self._scoring = scoring

    @property
    def loaded(self) -> bool:
        with self._lock:
            return self._scoring is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # nothing to set up or tear down per event loop
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": f"{message['type']}.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == self.settings.health_path and method in ("GET", "HEAD"):
            if self.loaded:
                await _answer(
                    send,
                    200,
                    _json({"status": "ok", "model_uri": self.settings.model_uri}),
                    "application/json",
                )
            else:
                await _answer(send, 503, _json({"status": "loading"}), "application/json")
            return
        if path == self.settings.metrics_path and method == "GET":
            await _answer(send, 200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)
            return
        if path == INVOCATIONS:
            await self._invocation(scope, receive, send)
            return
        await _answer(
            send,
            404,
            _json({"error_code": "ENDPOINT_NOT_FOUND", "message": f"no route {path}"}),
            "application/json",
        )

    async def _invocation(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            with self._lock:
                scoring = self._scoring
            if scoring is None:
                status = 503
                await _answer(
                    send,
                    503,
                    _json({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "model loading"}),
                    "application/json",
                )
            elif self.faults.should_fail():
                status = 500
                body = {
                    "error_code": "INTERNAL_ERROR",
                    "message": "injected error (MLOPS_INJECT_ERROR_RATIO)",
                }
                await _answer(send, 500, _json(body), "application/json")
            else:
                await scoring(scope, receive, counted)
        finally:
            self.metrics.observe(status, time.perf_counter() - started)
