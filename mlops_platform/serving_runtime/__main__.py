"""``python -m mlops_platform.serving_runtime``: serve one model (see the package docstring).

Exit codes: 0 stopped by SIGTERM or SIGINT; 1 the model could not be loaded; 2 a setting is missing or
malformed. The model loads in a background thread while the server already answers ``/health`` (503)
and ``/metrics``, so a slow download shows as not ready rather than as a dead port.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import uvicorn

from mlops_platform.serving_runtime.app import ModelServer
from mlops_platform.serving_runtime.metrics import ServerMetrics
from mlops_platform.serving_runtime.settings import Settings, SettingsError, from_env

LOG = logging.getLogger("mlops_platform.serving_runtime")
EXIT_LOAD, EXIT_SETTINGS = 1, 2
GRACEFUL_SHUTDOWN_S = 20  # in-flight requests get this long after SIGTERM (the pod's grace period is 30 s)


def _load(
    settings: Settings, app: ModelServer, metrics: ServerMetrics, server: uvicorn.Server, failed: list[str]
) -> None:
    try:
        from mlops_platform.serving_runtime import mlflow_scoring  # MLflow takes seconds to import

        scoring, served = mlflow_scoring.load(settings)
    except Exception as exc:  # any failure to load is fatal; the message says which
        failed.append(str(exc))
        LOG.error(
            "cannot load %s from %s: %s: %s",
            settings.model_uri,
            settings.tracking_uri,
            type(exc).__name__,
            exc,
        )
        server.should_exit = True
        return
    metrics.served.info(
        {"registered_model": served.registered_model, "version": served.version, "model_uri": served.uri}
    )
    app.ready(scoring)
    LOG.info(
        "serving %s (version %s) as %s on port %d",
        served.uri,
        served.version or "-",
        settings.model_name,
        settings.port,
    )


def _stopped(signum: int, frame: FrameType | None) -> None:
    """Runs when uvicorn re-raises the signal it shut down on (it restores the previous handler first)."""
    LOG.info("stopped on %s", signal.Signals(signum).name)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s model-server %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        settings = from_env()
    except SettingsError as exc:
        LOG.error("cannot start: %s", exc)
        sys.exit(EXIT_SETTINGS)
    if settings.error_ratio:
        LOG.warning(
            "fault injection on: %.3f of invocations answer 500 (MLOPS_INJECT_ERROR_RATIO)",
            settings.error_ratio,
        )
    metrics = ServerMetrics()
    app = ModelServer(settings, metrics)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_config=None,  # our logging.basicConfig: one format for every line
        access_log=False,  # the metrics count requests; a line per prediction would flood the logs
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = uvicorn.Server(config)
    failed: list[str] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)  # uvicorn handles the signal, then re-raises it into this handler
    threading.Thread(
        target=_load, args=(settings, app, metrics, server, failed), name="model-loader", daemon=True
    ).start()
    server.run()
    sys.exit(EXIT_LOAD if failed else 0)


if __name__ == "__main__":
    main()
