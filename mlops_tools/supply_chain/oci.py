"""A small client of the OCI distribution API: the manifests and blobs the supply-chain checks read.

Standard library only, on the MLflow client's hardened transport (``mlops_platform.tools.registry.client``):
every request ends by its deadline and reads at most a bounded answer; credentials go only to the
registry's own origin (a blob redirected to a CDN is fetched without them) and to the token realm
the registry names when that realm is HTTPS. Endpoints as the OCI distribution spec v1.1 names them:
``GET /v2/<name>/manifests/<reference>``, ``GET /v2/<name>/blobs/<digest>``, and the bearer-token
challenge (``WWW-Authenticate: Bearer realm=...,service=...,scope=...``) Docker Hub, GHCR and
Distribution answer with.

Registries on a loopback address are spoken to in plain HTTP (as Docker treats them: insecure by
default), every other one in HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_platform.tools.registry.client import (
    Credentials,
    ErrorKind,
    RefusedRedirect,
    bounded_opener,
    read_bounded,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # 4 MiB: the size the OCI distribution spec asks registries to accept
MAX_TOKEN_BYTES = 1024 * 1024  # 1 MiB; a token answer is a few KiB
MAX_AUTH_FILE_BYTES = 1024 * 1024
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io's API answers (its index name is not a host)
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# Names as the OCI distribution spec (v1.1, "Pulling manifests") defines them.
_REPOSITORY_RE = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_HOST_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)


def invalid_name(registry: str, repository: str, reference: str) -> str | None:
    """Why ``registry/repository`` at ``reference`` (a tag or digest) is not a name to ask, or None."""
    if not _HOST_RE.match(registry):
        return f"{registry[:80]!r} is not a registry host"
    if len(repository) > 255 or not _REPOSITORY_RE.match(repository):
        return f"{repository[:80]!r} is not a repository name"
    if not (_DIGEST_RE.match(reference) or _TAG_RE.match(reference)):
        return f"{reference[:80]!r} is neither a tag nor a sha256 digest"
    return None


_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


class OciError(Exception):
    """A registry request that failed; ``str()`` is one located line, without credentials."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest as the registry served it: its digest (of these bytes), media type and JSON."""

    digest: str
    media_type: str
    data: dict[str, Any]


def api_host(registry: str) -> str:
    """The host[:port] that serves ``registry``'s API (Docker Hub's index name is not one)."""
    return DOCKER_HUB_API if registry in (DOCKER_HUB, "index.docker.io") else registry


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1`` (with or without a port)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def sha256_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class OciClient:
    """GET requests against one registry, each within ``timeout_s`` and a bounded answer size.

    Args:
        registry: ``host[:port]`` as an image reference names it (``docker.io`` for Docker Hub).
        credentials: sent to the registry's origin, and to an HTTPS token realm it names.
        timeout_s: the whole exchange of each request, headers and body.
    """

    def __init__(self, registry: str, *, credentials: Credentials | None = None, timeout_s: float = 10.0):
        self.registry = registry
        host = api_host(registry)
        self.base = f"{'http' if is_loopback(host) else 'https'}://{host}"
        self._auth = credentials.header() if credentials else None
        self._tokens: dict[str, str] = {}
        self.timeout_s = timeout_s

    # -- the API ------------------------------------------------------------------------------------

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest ``reference`` (a tag or digest) of ``repository``; None when the registry has none.

        A manifest fetched by digest must hash to it; one fetched by tag is named by its own hash.

        Raises:
            OciError: the registry is unreachable, slow, refuses the credentials, or answers nonsense.
        """
        what = (
            f"manifest {repository}@{reference}"
            if reference.startswith("sha256:")
            else (f"manifest {repository}:{reference}")
        )
        answer = self._get(
            f"/v2/{repository}/manifests/{reference}",
            repository,
            what,
            accept=", ".join(MANIFEST_TYPES),
            limit=MAX_MANIFEST_BYTES,
        )
        if answer is None:
            return None
        headers, body = answer
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and digest != reference:
            raise OciError(
                ErrorKind.BAD_RESPONSE, f"{self._where()}: {what}: the bytes served hash to {digest}"
            )
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise self._bad(f"{what}: not JSON") from None
        if not isinstance(data, dict):
            raise self._bad(f"{what}: not a JSON object")
        media_type = str(data.get("mediaType") or headers.get("Content-Type", "")).split(";")[0].strip()
        return Manifest(digest=digest, media_type=media_type, data=data)

    def blob(self, repository: str, digest: str, *, limit: int) -> bytes:
        """The blob ``digest`` of ``repository``, at most ``limit`` bytes, checked against its digest.

        Raises:
            OciError: missing, larger than ``limit``, of another digest, or the registry failed.
        """
        if not _DIGEST_RE.match(digest):
            raise OciError(
                ErrorKind.BAD_RESPONSE, f"{self._where()}: blob {digest[:80]!r} is not a sha256 digest"
            )
        what = f"blob {repository}@{digest}"
        answer = self._get(f"/v2/{repository}/blobs/{digest}", repository, what, accept="*/*", limit=limit)
        if answer is None:
            raise OciError(ErrorKind.NOT_FOUND, f"{self._where()}: {what} does not exist")
        body = answer[1]
        if sha256_digest(body) != digest:
            raise OciError(
                ErrorKind.BAD_RESPONSE, f"{self._where()}: {what}: the bytes served hash to another digest"
            )
        return body

    # -- transport ----------------------------------------------------------------------------------

    def _where(self) -> str:
        return f"image registry {self.registry}"

    def _bad(self, text: str) -> OciError:
        return OciError(ErrorKind.BAD_RESPONSE, f"{self._where()}: {text}")

    def _get(
        self, path: str, repository: str, what: str, *, accept: str, limit: int
    ) -> tuple[Any, bytes] | None:
        """``(headers, body)`` of a GET on the registry, signing in once when challenged; None on 404."""
        scope = f"repository:{repository}:pull"
        for attempt in range(2):
            auth = self._tokens.get(scope) or self._auth
            status, headers, body = self._fetch(self.base + path, what, auth=auth, accept=accept, limit=limit)
            if status == 200:
                return headers, body
            if status == 404:
                return None
            if status == 401 and attempt == 0:
                challenge = headers.get("WWW-Authenticate", "")
                if challenge.lower().startswith("bearer "):
                    self._tokens[scope] = self._token(challenge, scope, what)
                    continue
            if status in (401, 403):
                given = "refused the credentials" if auth else "asks for credentials"
                raise OciError(
                    ErrorKind.UNAUTHORIZED,
                    f"{self._where()} {given} (HTTP {status}) for {what}; credentials are read from "
                    "$REGISTRY_AUTH_FILE or the Docker config's auths",
                )
            raise self._bad(f"HTTP {status} for {what}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _token(self, challenge: str, scope: str, what: str) -> str:
        """A bearer token from the realm the registry's challenge names (credentials only over HTTPS)."""
        params = dict(_CHALLENGE_RE.findall(challenge))
        realm = params.get("realm", "")
        scheme = urllib.parse.urlsplit(realm).scheme
        if scheme not in ("http", "https"):
            raise OciError(
                ErrorKind.BAD_RESPONSE, f"{self._where()}: {what}: the token challenge names no realm"
            )
        same_origin = _origin(realm) == _origin(self.base)
        auth = self._auth if (scheme == "https" or same_origin) else None
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        url = f"{realm}{'&' if '?' in realm else '?'}{urllib.parse.urlencode(query)}"
        status, _headers, body = self._fetch(
            url, f"a token for {what}", auth=auth, accept="application/json", limit=MAX_TOKEN_BYTES
        )
        if status in (401, 403):
            raise OciError(
                ErrorKind.UNAUTHORIZED,
                f"{self._where()}: its token service refused "
                f"{'the credentials' if auth else 'anonymous access'} (HTTP {status}) for {what}",
            )
        if status != 200:
            raise OciError(
                ErrorKind.BAD_RESPONSE, f"{self._where()}: its token service answered HTTP {status}"
            )
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise self._bad("its token service gave no token")
        return f"Bearer {token}"

    def _fetch(
        self, url: str, what: str, *, auth: str | None, accept: str, limit: int
    ) -> tuple[int, Any, bytes]:
        """One bounded GET: ``(status, headers, body)``; 4xx answers are returned, not raised."""
        request = urllib.request.Request(url, headers={"Accept": accept})
        if auth:
            request.add_unredirected_header("Authorization", auth)
        deadline = time.monotonic() + self.timeout_s
        opener = bounded_opener(deadline, auth, drop_cross_origin=True)
        late = OciError(
            ErrorKind.TIMEOUT, f"{self._where()}: no answer within {self.timeout_s:g} s for {what}"
        )
        try:
            with opener.open(request, timeout=self.timeout_s) as response:
                status, headers, body = response.status, response.headers, read_bounded(response, limit)
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise OciError(
                    ErrorKind.BAD_RESPONSE, f"{self._where()}: HTTP {exc.code} for {what}"
                ) from None
            return exc.code, exc.headers, b""
        except RefusedRedirect as exc:  # from https to plain http (credentials never go elsewhere)
            raise self._bad(f"{what}: redirected from https to {exc.url[:120]}: not followed") from None
        except TimeoutError:
            raise late from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout) or time.monotonic() >= deadline:
                raise late from None
            raise OciError(ErrorKind.UNREACHABLE, f"{self._where()} is unreachable: {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() >= deadline:
                raise late from None
            reason = "the answer was cut short" if isinstance(exc, http.client.IncompleteRead) else str(exc)
            raise self._bad(f"{what}: {reason[:200]}") from None
        if len(body) > limit:
            raise OciError(
                ErrorKind.BAD_RESPONSE, f"{self._where()}: {what}: the answer is larger than {limit} bytes"
            )
        if time.monotonic() >= deadline:  # the timer shut the socket: what was read may be cut
            raise late
        return status, headers, body


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


# -- credentials --------------------------------------------------------------------------------------


def auth_files() -> list[Path]:
    """Where registry credentials are read, first found first: the files skopeo, podman and docker use."""
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    docker = Path(os.environ["DOCKER_CONFIG"]) if os.environ.get("DOCKER_CONFIG") else Path.home() / ".docker"
    files.append(docker / "config.json")
    return files


def credentials_for(registry: str) -> Credentials | None:
    """The username and password the first existing auth file holds for ``registry`` (``auths``).

    Credential helpers (``credHelpers``, ``credsStore``) are not run: a registry that needs one is
    asked anonymously. An unreadable or malformed file is skipped.
    """
    names = [registry]
    if registry in (DOCKER_HUB, "index.docker.io"):
        names += ["index.docker.io", "https://index.docker.io/v1/"]
    for path in auth_files():
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_AUTH_FILE_BYTES + 1)
        except OSError:
            continue
        try:
            auths = json.loads(raw).get("auths") if len(raw) <= MAX_AUTH_FILE_BYTES else None
        except (ValueError, AttributeError, RecursionError):
            continue
        if not isinstance(auths, dict):
            continue
        for name in names:
            entry = auths.get(name)
            encoded = entry.get("auth") if isinstance(entry, dict) else None
            if not isinstance(encoded, str):
                continue
            try:
                username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            if username and password:
                return Credentials(username=username, password=password)
        return None  # the first file found decides, as in skopeo and docker
    return None
