"""The server's settings, from the environment the model Deployment sets."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[0-9]+)$")
ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
MAX_ERROR_RATIO = 1.0


class SettingsError(ValueError):
    """A setting is missing or malformed: the server refuses to start (exit 2)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    model_uri: str
    tracking_uri: str
    model_name: str
    port: int
    host: str = "0.0.0.0"  # a pod's port: the Service and NetworkPolicy decide who reaches it
    health_path: str = "/health"
    metrics_path: str = "/metrics"
    error_ratio: float = 0.0
    """Share of invocations answered 500 on purpose (tests only); 0 turns injection off."""


def _path(env: Mapping[str, str], key: str, default: str) -> str:
    value = env.get(key, default)
    if not value.startswith("/"):
        raise SettingsError(f"{key} must be an absolute path such as {default} (got {value!r})")
    return value


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; SettingsError names the variable that is missing or wrong."""
    env = os.environ if env is None else env
    missing = [k for k in ("MODEL_URI", "MLFLOW_TRACKING_URI", "MODEL_NAME", "PORT") if not env.get(k)]
    if missing:
        raise SettingsError(f"missing environment variable(s): {', '.join(missing)}")
    try:
        port = int(env["PORT"])
    except ValueError:
        raise SettingsError(f"PORT must be a port number (got {env['PORT']!r})") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"PORT must be between 1 and 65535 (got {port})")
    text = env.get("MLOPS_INJECT_ERROR_RATIO", "0")
    try:
        ratio = float(text)
    except ValueError:
        raise SettingsError(f"MLOPS_INJECT_ERROR_RATIO must be a number (got {text!r})") from None
    if not 0 <= ratio <= MAX_ERROR_RATIO:
        raise SettingsError(f"MLOPS_INJECT_ERROR_RATIO must be between 0 and 1 (got {text})")
    uri = env["MODEL_URI"]
    if uri.startswith("models:/") and not (VERSION_URI.match(uri) or ALIAS_URI.match(uri)):
        raise SettingsError(
            f"MODEL_URI must be models:/<name>/<version> or models:/<name>@<alias> (got {uri!r})"
        )
    return Settings(
        model_uri=uri,
        tracking_uri=env["MLFLOW_TRACKING_URI"],
        model_name=env["MODEL_NAME"],
        port=port,
        host=env.get("HOST", "0.0.0.0"),
        health_path=_path(env, "HEALTH_PATH", "/health"),
        metrics_path=_path(env, "METRICS_PATH", "/metrics"),
        error_ratio=ratio,
    )
