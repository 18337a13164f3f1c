"""What both targets tell the MLflow tracking server, whichever MLflow version the image holds."""

from __future__ import annotations

from collections.abc import Sequence

WORKERS = 2
"""Server processes (``--workers``): MLflow 3's uvicorn starts 4 by default, each near 400 MiB
(OOMKilled on a real node); 2.x's gunicorn takes the same flag."""

PRIVATE_HOSTS = ("localhost:*", "127.0.0.1:*", "10.*", *(f"172.{i}.*" for i in range(16, 32)), "192.168.*")
"""MLflow 3's own default ``Host`` allow-list (loopback and private addresses: a kubelet probes the
pod's address, a host calls the published port on loopback), which the variable below replaces."""

ALLOWED_HOSTS_VARIABLE = "MLFLOW_SERVER_ALLOWED_HOSTS"


def allowed_hosts(names: Sequence[str], port: int) -> str:
    """``MLFLOW_SERVER_ALLOWED_HOSTS``: the names clients call the server by, and MLflow's defaults.

    MLflow 3 answers 403 to any other ``Host`` header (its DNS-rebinding protection), so every client
    calling the server by its Service or network name was refused; MLflow 2 ignores the variable.
    """
    return ",".join([*names, *(f"{name}:{port}" for name in names), *PRIVATE_HOSTS])
