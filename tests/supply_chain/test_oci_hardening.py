"""The OCI client against hostile or broken HTTP servers on loopback (no registry needed).

Credentials go to the registry's own origin only: a redirect elsewhere (a CDN serving a blob) is
followed without them, and a token realm on another origin over plain HTTP never gets them. Answers
are bounded in size and time; content that does not hash to its digest is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from mlops_platform.tools.registry.client import Credentials, ErrorKind
from mlops_platform.tools.supply_chain.oci import OciClient, OciError, credentials_for
from tests.registry.test_client_hardening import Handler, _Server

BASIC = Credentials(username="robot", password="s3cr3t-password")
BODY = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}).encode()
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], _Server]]:
    """Loopback HTTP servers (``tests.registry``'s), closed after the test."""
    servers: list[_Server] = []

    def start(handle: Handler) -> _Server:
        servers.append(_Server(handle))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _send(h: BaseHTTPRequestHandler, body: bytes, status: int = 200, **headers: str) -> None:
    h.send_response(status)
    for key, value in {"Content-Length": str(len(body)), **headers}.items():
        h.send_header(key.replace("_", "-"), value)
    h.end_headers()
    h.wfile.write(body)


def _host(server: _Server) -> str:
    return server.uri.removeprefix("http://")


def _error(call: Callable[[], object]) -> OciError:
    with pytest.raises(OciError) as info:
        call()
    return info.value


def test_a_blob_redirected_to_another_origin_is_fetched_without_the_credentials(
    serve: Callable[[Handler], _Server],
) -> None:
    cdn = serve(lambda h: _send(h, BODY))

    def redirect(h: BaseHTTPRequestHandler) -> None:
        _send(h, b"", 307, Location=cdn.uri + "/signed-url")

    registry = serve(redirect)
    body = OciClient(_host(registry), credentials=BASIC).blob("acme/app", DIGEST, limit=1024)
    assert body == BODY
    assert registry.seen[0][1]["Authorization"].startswith("Basic ")
    assert cdn.seen and all("Authorization" not in headers for _path, headers in cdn.seen)


def test_a_redirect_within_the_origin_keeps_the_credentials(serve: Callable[[Handler], _Server]) -> None:
    def handle(h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/v2/"):
            _send(h, b"", 307, Location="/storage/blob")
        else:
            _send(h, BODY)

    registry = serve(handle)
    assert OciClient(_host(registry), credentials=BASIC).blob("acme/app", DIGEST, limit=1024) == BODY
    assert [headers.get("Authorization", "").split(" ")[0] for _path, headers in registry.seen] == [
        "Basic"
    ] * 2


def test_a_token_realm_on_another_origin_over_http_never_gets_the_credentials(
    serve: Callable[[Handler], _Server],
) -> None:
    realm = serve(lambda h: _send(h, json.dumps({"token": "t0ken"}).encode()))

    def registry_handle(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") == "Bearer t0ken":
            _send(h, BODY, Content_Type="application/vnd.oci.image.manifest.v1+json")
        else:
            challenge = f'Bearer realm="{realm.uri}/token",service="reg",scope="repository:acme/app:pull"'
            _send(h, b"{}", 401, WWW_Authenticate=challenge)

    registry = serve(registry_handle)
    manifest = OciClient(_host(registry), credentials=BASIC).manifest("acme/app", DIGEST)
    assert manifest is not None and manifest.digest == DIGEST
    path, headers = realm.seen[0]
    assert "Authorization" not in headers
    assert "scope=repository%3Aacme%2Fapp%3Apull" in path and "service=reg" in path


def test_a_token_realm_of_the_registrys_own_origin_gets_the_credentials(
    serve: Callable[[Handler], _Server],
) -> None:
    def handle(h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/token"):
            _send(h, json.dumps({"access_token": "t0ken"}).encode())
        elif h.headers.get("Authorization") == "Bearer t0ken":
            _send(h, BODY)
        else:
            host = h.headers["Host"]
            _send(h, b"{}", 401, WWW_Authenticate=f'Bearer realm="http://{host}/token"')

    registry = serve(handle)
    assert OciClient(_host(registry), credentials=BASIC).manifest("acme/app", DIGEST) is not None
    token_request = next(headers for path, headers in registry.seen if path.startswith("/token"))
    assert token_request["Authorization"].startswith("Basic ")


def test_refused_credentials_are_unauthorized_without_echoing_them(
    serve: Callable[[Handler], _Server],
) -> None:
    registry = serve(lambda h: _send(h, b"{}", 401, WWW_Authenticate='Basic realm="reg"'))
    error = _error(lambda: OciClient(_host(registry), credentials=BASIC).manifest("acme/app", DIGEST))
    assert error.kind is ErrorKind.UNAUTHORIZED
    assert "refused the credentials (HTTP 401)" in str(error) and "s3cr3t" not in str(error)


def test_content_that_does_not_hash_to_its_digest_is_refused(
    serve: Callable[[Handler], _Server],
) -> None:
    registry = serve(lambda h: _send(h, BODY + b" "))
    error = _error(lambda: OciClient(_host(registry)).manifest("acme/app", DIGEST))
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert "the bytes served hash to sha256:" in str(error)
    error = _error(lambda: OciClient(_host(registry)).blob("acme/app", DIGEST, limit=1024))
    assert "hash to another digest" in str(error)


def test_a_manifest_larger_than_the_limit_is_refused(
    serve: Callable[[Handler], _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_platform.tools.supply_chain.oci as oci

    monkeypatch.setattr(oci, "MAX_MANIFEST_BYTES", 64)
    registry = serve(lambda h: _send(h, b"{" + b" " * 200 + b"}"))
    error = _error(lambda: OciClient(_host(registry)).manifest("acme/app", "v1"))
    assert (error.kind, str(error)) == (
        ErrorKind.BAD_RESPONSE,
        f"image registry {_host(registry)}: manifest acme/app:v1: the answer is larger than 64 bytes",
    )


def test_slow_headers_are_cut_at_the_timeout(serve: Callable[[Handler], _Server]) -> None:
    import time

    def stall(h: BaseHTTPRequestHandler) -> None:
        time.sleep(3)
        with contextlib.suppress(OSError):  # the client hung up at its deadline
            _send(h, BODY)

    registry = serve(stall)
    started = time.monotonic()
    error = _error(lambda: OciClient(_host(registry), timeout_s=0.5).manifest("acme/app", DIGEST))
    assert error.kind is ErrorKind.TIMEOUT
    assert time.monotonic() - started < 2.5


def test_credentials_come_from_the_first_auth_file_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    auth = tmp_path / "auth.json"
    encoded = base64.b64encode(b"robot:s3cr3t").decode()
    auth.write_text(json.dumps({"auths": {"ghcr.io": {"auth": encoded}}}), encoding="utf-8")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    found = credentials_for("ghcr.io")
    assert found is not None and (found.username, found.password) == ("robot", "s3cr3t")
    assert credentials_for("quay.io") is None
    assert "s3cr3t" not in repr(found)


def test_a_registry_that_times_out_is_asked_once_for_all_its_images(
    serve: Callable[[Handler], _Server],
) -> None:
    import time

    from mlops_platform.tools.supply_chain.verify import consult_registries

    def stall(h: BaseHTTPRequestHandler) -> None:
        time.sleep(2)
        with contextlib.suppress(OSError):
            _send(h, BODY)

    registry = serve(stall)
    refs = [f"{_host(registry)}/acme/app{i}:v1" for i in range(4)]
    started = time.monotonic()
    answers = consult_registries(refs, set(refs), [], timeout_s=0.5)
    assert time.monotonic() - started < 1.5, "one timeout, not one per image"
    first, *rest = (answers[ref] for ref in refs)
    assert first.error is not None and "no answer within 0.5 s" in first.error
    assert all(a.error == f"{first.error} (not asked again)" for a in rest)
    assert len(registry.seen) == 1
