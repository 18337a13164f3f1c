"""The virtualenvs the runtime tests run in, built once from PyPI through ``build_cache.ensure_venv``.

The platform's runtime code (``mlops_platform.serving_runtime``, ``mlops_platform.drift``) runs in its
image with the ``runtime`` dependency group of ``pyproject.toml``; the tests run it the same way, in a
venv holding exactly that group (read from ``pyproject.toml``: one truth), with the source tree on
``PYTHONPATH``. The project's own environment never holds MLflow. moto, the S3 server of the drift
tests, lives in a venv of its own: it needs boto3, which cannot share an environment with our package.
Without a venv these tests skip on a developer's machine and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import pytest

from mlops_platform.tools import build_cache

ROOT = Path(__file__).resolve().parents[2]
MOTO_VERSION = "5.2.6"


def require(message: str) -> None:
    """Skip on a developer's machine, fail under ``CI=true`` (a missing tool is never a pass in CI)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def runtime_requirements() -> tuple[str, ...]:
    """The ``runtime`` optional dependency group, exactly as ``pyproject.toml`` pins it."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return tuple(project["optional-dependencies"]["runtime"])


def _pinned(requirements: tuple[str, ...], name: str) -> str:
    (version,) = [r.split("==", 1)[1] for r in requirements if r.split("==", 1)[0] == name]
    return version


def runtime_python() -> Path:
    """The Python of the runtime venv (built once; it must import every runtime library)."""
    requirements = runtime_requirements()
    mlflow = _pinned(requirements, "mlflow")
    check = (
        "import mlflow, sklearn, minio, prometheus_client, uvicorn, starlette, pyarrow, pandas, numpy; "
        f"assert mlflow.__version__ == {mlflow!r}, mlflow.__version__"
    )
    try:
        return build_cache.ensure_venv("platform-runtime", requirements, check=check)
    except build_cache.BuildCacheError as exc:
        require(f"cannot build the runtime venv: {exc}")
        raise  # pragma: no cover - require raises


def moto_python() -> Path:
    """The Python of moto's venv: its S3 server (``moto.server``) stands in for the object store."""
    check = f"import moto; assert moto.__version__ == {MOTO_VERSION!r}, moto.__version__"
    try:
        return build_cache.ensure_venv("moto-server", (f"moto[server]=={MOTO_VERSION}",), check=check)
    except build_cache.BuildCacheError as exc:
        require(f"cannot build moto's venv: {exc}")
        raise  # pragma: no cover - require raises


def pushgateway_binary() -> str:
    """Debian's ``prometheus-pushgateway`` (tests/run.sh installs it)."""
    found = shutil.which("prometheus-pushgateway")
    if found is None:
        require("prometheus-pushgateway is not installed (Debian package prometheus-pushgateway)")
        raise AssertionError  # pragma: no cover - require raises
    return found


def runtime_env(**extra: str) -> dict[str, str]:
    """The environment of a runtime process: the source tree importable, nothing from the caller's venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}
