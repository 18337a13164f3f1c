"""A small client of MLflow's REST API (``/api/2.0/mlflow/...``): the calls resolution needs, nothing more.

Standard library only (``urllib``), so the program never imports ``mlflow``. Every failure becomes a
:class:`RegistryError` with one line saying where and why: server down, wrong credentials, a missing
model, alias or version, a slow server (the per-request timeout), an answer that is not MLflow's.
Endpoints as MLflow 3.x serves them (``mlflow/server/handlers.py``): ``registered-models/alias``
(GetModelVersionByAlias), ``model-versions/get``, ``model-versions/search``, ``runs/get``.
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

API = "/api/2.0/mlflow"
MAX_VERSIONS = 200  # model-versions/search page size: MLflow caps max_results at 200 000, 200 is plenty


class ErrorKind(StrEnum):
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not-found"
    BAD_RESPONSE = "bad-response"


class RegistryError(Exception):
    """A registry request that failed; ``str()`` is one located line, without credentials."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """Bearer token or basic auth; ``repr`` never shows the secret."""

    token: str | None = None
    username: str | None = None
    password: str | None = None

    def header(self) -> str | None:
        if self.token:
            return f"Bearer {self.token}"
        if self.username is not None and self.password is not None:
            raw = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        return None

    def __repr__(self) -> str:
        kind = "token" if self.token else "basic" if self.username else "none"
        return f"Credentials({kind})"


class MlflowRestClient:
    """GET requests against one tracking server, each with ``timeout_s``."""

    def __init__(self, tracking_uri: str, *, credentials: Credentials | None = None, timeout_s: float = 10.0):
        self.tracking_uri = tracking_uri.rstrip("/")
        self._auth = credentials.header() if credentials else None
        self.timeout_s = timeout_s

    def _get(self, endpoint: str, what: str, **params: str) -> dict[str, Any]:
        url = f"{self.tracking_uri}{API}/{endpoint}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._auth:
            request.add_header("Authorization", self._auth)
        where = f"MLflow registry {self.tracking_uri}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, where, what) from None
        except TimeoutError:
            raise RegistryError(
                ErrorKind.TIMEOUT, f"{where}: no answer within {self.timeout_s:g} s for {what}"
            ) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise RegistryError(
                    ErrorKind.TIMEOUT, f"{where}: no answer within {self.timeout_s:g} s for {what}"
                ) from None
            raise RegistryError(ErrorKind.UNREACHABLE, f"{where} is unreachable: {exc.reason}") from None
        except OSError as exc:  # connection reset mid-answer and the like
            raise RegistryError(ErrorKind.UNREACHABLE, f"{where} is unreachable: {exc}") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise RegistryError(ErrorKind.BAD_RESPONSE, f"{where}: {what}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise RegistryError(ErrorKind.BAD_RESPONSE, f"{where}: {what}: the answer is not a JSON object")
        return data

    def version_by_alias(self, name: str, alias: str) -> dict[str, Any]:
        """The ``model_version`` object alias ``alias`` of model ``name`` points to."""
        data = self._get(
            "registered-models/alias", f'alias "{alias}" of model "{name}"', name=name, alias=alias
        )
        return _field(data, "model_version", self.tracking_uri)

    def version(self, name: str, version: int) -> dict[str, Any]:
        """The ``model_version`` object of ``name`` version ``version``."""
        data = self._get(
            "model-versions/get", f'version {version} of model "{name}"', name=name, version=str(version)
        )
        return _field(data, "model_version", self.tracking_uri)

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of model ``name`` (``model-versions/search``), newest first."""
        escaped = name.replace("'", "\\'")
        data = self._get(
            "model-versions/search",
            f'versions of model "{name}"',
            filter=f"name='{escaped}'",
            max_results=str(MAX_VERSIONS),
        )
        found = [v for v in data.get("model_versions", []) if isinstance(v, dict)]
        return sorted(found, key=lambda v: int(v.get("version", 0)), reverse=True)

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version of model ``name`` (``registered-models/get``; search results carry none)."""
        data = self._get("registered-models/get", f'model "{name}"', name=name)
        model = _field(data, "registered_model", self.tracking_uri)
        return {
            str(a["alias"]): int(a["version"])
            for a in model.get("aliases", [])
            if isinstance(a, dict) and "alias" in a and str(a.get("version", "")).isdigit()
        }

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """The latest value of every metric of run ``run_id`` (``runs/get``)."""
        data = self._get("runs/get", f'run "{run_id}"', run_id=run_id)
        metrics = (data.get("run") or {}).get("data", {}).get("metrics", [])
        return {
            str(m["key"]): float(m["value"])
            for m in metrics
            if isinstance(m, dict) and "key" in m and isinstance(m.get("value"), int | float)
        }


def _field(data: dict[str, Any], key: str, uri: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise RegistryError(ErrorKind.BAD_RESPONSE, f"MLflow registry {uri}: the answer has no {key!r}")
    return value


def _http_error(exc: urllib.error.HTTPError, where: str, what: str) -> RegistryError:
    try:
        detail = json.loads(exc.read() or b"{}")
    except ValueError:
        detail = {}
    code = detail.get("error_code", "") if isinstance(detail, dict) else ""
    if exc.code in (401, 403):
        return RegistryError(
            ErrorKind.UNAUTHORIZED,
            f"{where}: credentials refused (HTTP {exc.code}) for {what}; check the registry_source "
            "token_secret / username and password_secret",
        )
    if exc.code == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        return RegistryError(ErrorKind.NOT_FOUND, f"{where}: {what} does not exist")
    if code == "INVALID_PARAMETER_VALUE" and "alias" in what:  # older servers answer 400 for a missing alias
        return RegistryError(ErrorKind.NOT_FOUND, f"{where}: {what} does not exist")
    return RegistryError(ErrorKind.BAD_RESPONSE, f"{where}: HTTP {exc.code} {code} for {what}".rstrip())
