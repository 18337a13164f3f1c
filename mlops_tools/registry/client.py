"""A small client of MLflow's REST API (``/api/2.0/mlflow/...``): the calls resolution needs, nothing more.

Standard library only (``urllib``), so the program never imports ``mlflow``. Every failure becomes a
:class:`RegistryError` with one line saying where and why: server down, wrong credentials, a missing
model, alias or version, a slow server (the per-request timeout), an answer that is not MLflow's.
Endpoints as MLflow 3.x serves them (``mlflow/server/handlers.py``): ``registered-models/alias``
(GetModelVersionByAlias), ``model-versions/get``, ``model-versions/search``, ``runs/get``.
"""

from __future__ import annotations

import base64
import functools
import http.client
import io
import json
import math
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mlops_platform.tools.registry.records import version_number

API = "/api/2.0/mlflow"
MAX_VERSIONS = 200  # model-versions/search page size; next_page_token fetches the rest
MAX_PAGES = 500  # 100,000 versions of one model: beyond that, an answer that never ends
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # 32 MiB; a 200-version page with tags is about 0.2 MiB
MAX_ERROR_BYTES = 64 * 1024  # 64 KiB of an error answer: MLflow's {"error_code", "message"} is < 1 KiB


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


def _remaining(deadline: float) -> float:
    """Seconds left before ``deadline``; a :class:`TimeoutError` once none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request's deadline passed")
    return left


class _DeadlineReader(io.RawIOBase):
    """A response's socket, read with a timeout of what is left of the request's time, on every read.

    A socket timeout bounds one read only: a server sending one byte a second (or a header line a byte
    at a time) never trips a fixed one. Set afresh before each ``recv`` from the deadline, it ends the
    whole answer (status line, headers, body, chunks) at the deadline. A TLS socket reads each record
    within its timeout too (CPython's ``_ssl`` read loop counts down from it).
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(_remaining(self._deadline))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading through :class:`_DeadlineReader` instead of a plain socket file."""

    deadline: float  # set on the subclass :func:`_response_class` makes for one request

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp.close()  # the plain file over the same socket, never read from
        self.fp = io.BufferedReader(_DeadlineReader(sock, self.deadline))


def _response_class(deadline: float) -> type[http.client.HTTPResponse]:
    """The ``response_class`` of one request's connection: http.client makes it with the socket only."""
    return type("_DeadlineResponseOfRequest", (_DeadlineResponse,), {"deadline": deadline})


class _DeadlineConnection:
    """Mixed into http.client's connections: every step of one request ends at ``deadline``.

    Connecting gets what is left of the time as its socket timeout; sending and every read after it
    too, a read at a time (``response_class``), a proxy's CONNECT answer included. Limits: the TLS
    handshake runs with the timeout the connect started with (http.client wraps the socket inside
    ``connect``), so a slow connect then a slow handshake can take up to twice what was left; name
    resolution has no timeout in the standard library (``getaddrinfo``), nor here.
    """

    deadline: float
    timeout: float | None
    sock: socket.socket | None

    def connect(self) -> None:
        self.timeout = _remaining(self.deadline)
        super().connect()  # type: ignore[misc]
        if self.sock is not None:
            self.sock.settimeout(_remaining(self.deadline))  # sending, after a slow connect


class _HTTPConnection(_DeadlineConnection, http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.response_class = _response_class(deadline)


class _HTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.response_class = _response_class(deadline)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_HTTPConnection, deadline=self.deadline), req)  # type: ignore[arg-type]


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(  # type: ignore[arg-type]
            functools.partial(_HTTPSConnection, deadline=self.deadline),
            req,
            context=self._context,  # type: ignore[attr-defined]
        )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows a redirect within the registry's origin; credentials never go anywhere else.

    urllib copies every ``add_header`` header to the redirected request, ``Authorization`` included,
    whatever the new host or scheme: the token is sent as ``add_unredirected_header`` instead (never
    copied), and added back here only when the new URL has the same scheme, host and port. A redirect
    from https to plain http is never followed, credentials or not: the answer, which decides what
    version is served, would come unauthenticated and could be changed on the way. A redirect to
    another origin is refused when there are credentials, or (``drop_cross_origin``: an OCI registry
    sending a blob to its CDN, the blob checked against its digest) followed without them.
    """

    def __init__(self, auth: str | None, *, drop_cross_origin: bool = False) -> None:
        super().__init__()
        self.auth = auth
        self.drop_cross_origin = drop_cross_origin

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        if _origin(req.full_url)[0] == "https" and _origin(newurl)[0] != "https":
            raise _RefusedRedirect(newurl, downgrade=True)
        if self.auth is not None:
            if _origin(newurl) == _origin(req.full_url):
                new.add_unredirected_header("Authorization", self.auth)
            elif not self.drop_cross_origin:
                raise _RefusedRedirect(newurl, downgrade=False)
        return new


class _RefusedRedirect(Exception):
    def __init__(self, url: str, *, downgrade: bool) -> None:
        super().__init__(url)
        self.url = url
        self.downgrade = downgrade

    def reason(self) -> str:
        if self.downgrade:
            return (
                f"redirected from https to plain http ({_origin_text(self.url)}); not followed: neither "
                "the credentials nor the answer go without TLS (set tracking_uri to the https server that "
                "answers)"
            )
        return (
            f"redirected to {_origin_text(self.url)}, another origin; the credentials are not sent there "
            "(set tracking_uri to the server that answers)"
        )


RefusedRedirect = _RefusedRedirect
"""Raised by :func:`bounded_opener`'s redirects: to plain http from https, or credentials elsewhere."""


def bounded_opener(
    deadline: float, auth: str | None, *, drop_cross_origin: bool = False
) -> urllib.request.OpenerDirector:
    """An opener whose every step of a request ends at ``deadline`` (``time.monotonic()``) and whose
    redirects keep ``auth`` within the request's origin and never leave https (:class:`_RedirectHandler`).

    Send ``auth`` with ``Request.add_unredirected_header``: urllib copies ``add_header`` headers to
    every redirect.
    """
    return urllib.request.build_opener(
        _HTTPHandler(deadline),
        _HTTPSHandler(deadline),
        _RedirectHandler(auth, drop_cross_origin=drop_cross_origin),
    )


def read_bounded(response: Any, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``response`` (more than ``limit``: the caller refuses it).

    Raises:
        http.client.IncompleteRead: the body is shorter than its Content-Length (``read(n)`` returns
            what came before the peer closed, without raising).
    """
    body: bytes = response.read(limit + 1)
    declared = response.headers.get("Content-Length")
    short = declared is not None and declared.isdigit() and len(body) < int(declared)
    if short and len(body) <= limit:
        raise http.client.IncompleteRead(body, int(str(declared)) - len(body))
    return body


class MlflowRestClient:
    """GET requests against one tracking server, each within ``timeout_s`` and :data:`MAX_RESPONSE_BYTES`."""

    def __init__(self, tracking_uri: str, *, credentials: Credentials | None = None, timeout_s: float = 10.0):
        self.tracking_uri = tracking_uri.rstrip("/")
        self._auth = credentials.header() if credentials else None
        self.timeout_s = timeout_s

    def _get(self, endpoint: str, what: str, **params: str) -> dict[str, Any]:
        url = f"{self.tracking_uri}{API}/{endpoint}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._auth:
            request.add_unredirected_header("Authorization", self._auth)
        where = f"MLflow registry {self.tracking_uri}"
        deadline = time.monotonic() + self.timeout_s
        opener = bounded_opener(deadline, self._auth)
        late = RegistryError(ErrorKind.TIMEOUT, f"{where}: no answer within {self.timeout_s:g} s for {what}")
        try:
            with opener.open(request, timeout=self.timeout_s) as response:
                body = read_bounded(response, MAX_RESPONSE_BYTES)
        except _RefusedRedirect as exc:
            raise RegistryError(ErrorKind.BAD_RESPONSE, f"{where}: {what}: {exc.reason()}") from None
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, where, what) from None
        except TimeoutError:
            raise late from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout) or time.monotonic() >= deadline:
                raise late from None
            raise RegistryError(ErrorKind.UNREACHABLE, f"{where} is unreachable: {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:  # reset or cut short mid-answer
            if time.monotonic() >= deadline:
                raise late from None
            reason = "the answer was cut short" if isinstance(exc, http.client.IncompleteRead) else str(exc)
            raise RegistryError(ErrorKind.BAD_RESPONSE, f"{where}: {what}: {reason[:200]}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE,
                f"{where}: {what}: the answer is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB",
            )
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
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
        """Every version of model ``name`` (``model-versions/search``, every page), newest first."""
        escaped = name.replace("'", "\\'")
        what = f'versions of model "{name}"'
        found: list[dict[str, Any]] = []
        token, seen = "", set()
        for _page in range(MAX_PAGES):
            params = {"filter": f"name='{escaped}'", "max_results": str(MAX_VERSIONS)}
            if token:
                params["page_token"] = token
            data = self._get("model-versions/search", what, **params)
            found += [v for v in data.get("model_versions", []) if isinstance(v, dict)]
            token = data.get("next_page_token") or ""
            if not isinstance(token, str) or token in seen:
                raise RegistryError(
                    ErrorKind.BAD_RESPONSE,
                    f"MLflow registry {self.tracking_uri}: {what}: bad next_page_token",
                )
            if not token:
                break
            seen.add(token)
        else:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE,
                f"MLflow registry {self.tracking_uri}: {what}: more than {MAX_PAGES} pages of {MAX_VERSIONS}",
            )
        return sorted(found, key=_version_key, reverse=True)

    def aliases(self, name: str) -> dict[str, int]:
        """Alias -> version of model ``name`` (``registered-models/get``; search results carry none)."""
        data = self._get("registered-models/get", f'model "{name}"', name=name)
        model = _field(data, "registered_model", self.tracking_uri)
        aliases = {}
        for entry in model.get("aliases", []):
            if isinstance(entry, dict) and "alias" in entry:
                try:
                    aliases[str(entry["alias"])] = version_number(entry.get("version"))
                except ValueError as exc:
                    raise RegistryError(
                        ErrorKind.BAD_RESPONSE, f"MLflow registry {self.tracking_uri}: model {name!r}: {exc}"
                    ) from None
        return aliases

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """The latest value of every metric of run ``run_id`` (``runs/get``)."""
        data = self._get("runs/get", f'run "{run_id}"', run_id=run_id)
        metrics = (data.get("run") or {}).get("data", {}).get("metrics", [])
        return {
            str(m["key"]): float(m["value"])
            for m in metrics
            if isinstance(m, dict)
            and "key" in m
            and isinstance(m.get("value"), int | float)
            and not isinstance(m.get("value"), bool)
            and math.isfinite(m["value"])
        }


def _version_key(version: dict[str, Any]) -> int:
    try:
        return version_number(version.get("version"))
    except ValueError:
        return 0  # record_from_mlflow refuses it with its reason


def _origin_text(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"


def _field(data: dict[str, Any], key: str, uri: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise RegistryError(ErrorKind.BAD_RESPONSE, f"MLflow registry {uri}: the answer has no {key!r}")
    return value


def _http_error(exc: urllib.error.HTTPError, where: str, what: str) -> RegistryError:
    try:  # an error's JSON is a line or two; its body is read within the request's time too
        detail = json.loads(exc.read(MAX_ERROR_BYTES) or b"{}")
    except (ValueError, RecursionError, OSError, http.client.HTTPException):
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
