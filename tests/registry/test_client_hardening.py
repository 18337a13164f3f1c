"""The registry client against hostile or broken HTTP servers on loopback (no MLflow needed).

Credentials never follow a redirect to another origin; an answer is bounded in size and in total
time (a server sending one byte a second); a cut or absurd answer is a located error, never a crash;
every page of ``model-versions/search`` is read.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import resource
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mlops_platform.tools.registry.client import (
    MAX_RESPONSE_BYTES,
    Credentials,
    ErrorKind,
    MlflowRestClient,
    RegistryError,
)
from mlops_platform.tools.registry.lookup import LiveLookup

TOKEN = "s3cr3t-token-value"
Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server:
    """A loopback HTTP server answering every GET with ``handle``; records each request's headers.

    With ``tls`` (a server context), it speaks https only.
    """

    def __init__(
        self, handle: Handler, tls: ssl.SSLContext | None = None, protocol: str = "HTTP/1.0"
    ) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = protocol

            def do_GET(self) -> None:
                outer.seen.append((self.path, dict(self.headers)))
                handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "http" if tls is None else "https"
        self.uri = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


Serve = Callable[..., _Server]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[_Server] = []

    def start(handle: Handler, tls: ssl.SSLContext | None = None, protocol: str = "HTTP/1.0") -> _Server:
        servers.append(_Server(handle, tls, protocol))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1, which this process trusts.

    The client verifies it through Python's default context (``SSL_CERT_FILE``, which OpenSSL reads
    each time urllib makes that context), as it would a registry's certificate.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlops test registry")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "registry.crt", tmp_path / "registry.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def _json(handler: BaseHTTPRequestHandler, data: Any, status: int = 200) -> None:
    body = json.dumps(data).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _version(n: Any) -> dict[str, Any]:
    return {"name": "m", "version": n, "run_id": "", "source": f"models:/m/{n}", "status": "READY"}


def _error(call: Callable[[], object]) -> RegistryError:
    with pytest.raises(RegistryError) as info:
        call()
    return info.value


def test_the_token_never_follows_a_redirect_to_another_origin(serve: Serve) -> None:
    elsewhere = serve(lambda h: _json(h, {"model_version": _version("1")}))

    def redirect(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", elsewhere.uri + h.path)
        h.send_header("Content-Length", "0")
        h.end_headers()

    registry = serve(redirect)
    error = _error(
        lambda: MlflowRestClient(registry.uri, credentials=Credentials(token=TOKEN)).version("m", 1)
    )
    assert (error.kind, str(error)) == (
        ErrorKind.BAD_RESPONSE,
        f'MLflow registry {registry.uri}: version 1 of model "m": redirected to {elsewhere.uri}, '
        "another origin; the credentials are not sent there (set tracking_uri to the server that answers)",
    )
    assert registry.seen and registry.seen[0][1]["Authorization"] == f"Bearer {TOKEN}"
    assert all("Authorization" not in headers for _path, headers in elsewhere.seen)
    assert TOKEN not in str(error)


def test_a_redirect_within_the_origin_keeps_the_token(serve: Serve) -> None:
    def handle(h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/old"):
            h.send_response(301)
            h.send_header("Location", h.path.removeprefix("/old"))
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif h.headers.get("Authorization") == f"Bearer {TOKEN}":
            _json(h, {"model_version": _version("1")})
        else:
            _json(h, {"error_code": "UNAUTHENTICATED"}, 401)

    server = serve(handle)
    client = MlflowRestClient(server.uri + "/old", credentials=Credentials(token=TOKEN))
    assert client.version("m", 1)["version"] == "1"
    assert [h.get("Authorization") for _p, h in server.seen] == [f"Bearer {TOKEN}"] * 2


def _redirect_to(target: _Server) -> Handler:
    def redirect(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", target.uri + h.path)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return redirect


@pytest.mark.parametrize(
    "credentials",
    [Credentials(token=TOKEN), Credentials(username="ci", password=TOKEN), None],
    ids=["token", "basic", "none"],
)
def test_a_redirect_from_https_to_plain_http_is_not_followed(
    serve: Serve, tls: ssl.SSLContext, credentials: Credentials | None
) -> None:
    """A real TLS registry answers 302 to http://: no request goes there, with or without credentials.

    main followed it when no credentials were set (an answer that decides the served version, in the
    clear), and named the refusal "another origin or plain http" when they were.
    """
    plain = serve(lambda h: _json(h, {"model_version": _version("1")}))
    registry = serve(_redirect_to(plain), tls)
    assert registry.uri.startswith("https://")
    client = MlflowRestClient(registry.uri, credentials=credentials, timeout_s=10)
    error = _error(lambda: client.version("m", 1))
    assert (error.kind, str(error)) == (
        ErrorKind.BAD_RESPONSE,
        f'MLflow registry {registry.uri}: version 1 of model "m": redirected from https to plain http '
        f"({plain.uri}); not followed: neither the credentials nor the answer go without TLS (set "
        "tracking_uri to the https server that answers)",
    )
    assert plain.seen == []  # nothing was sent in the clear, headers or not
    sent = registry.seen[0][1].get("Authorization")
    assert sent == (credentials.header() if credentials else None)  # over TLS, to the registry itself
    assert TOKEN not in str(error)


def test_a_redirect_within_the_tls_origin_keeps_the_credentials(serve: Serve, tls: ssl.SSLContext) -> None:
    def handle(h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/old"):
            h.send_response(301)
            h.send_header("Location", h.path.removeprefix("/old"))
            h.send_header("Content-Length", "0")
            h.end_headers()
        else:
            _json(h, {"model_version": _version("1")})

    server = serve(handle, tls)
    client = MlflowRestClient(server.uri + "/old", credentials=Credentials(token=TOKEN))
    assert client.version("m", 1)["version"] == "1"
    assert [h.get("Authorization") for _p, h in server.seen] == [f"Bearer {TOKEN}"] * 2


def _drip(body: bytes, status: int = 200, *, chunked: bool = False) -> Handler:
    """An answer whose body comes one byte every 0.3 s: each read well within a socket timeout."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for byte in body:
            try:
                h.wfile.write(b"1\r\n" + bytes([byte]) + b"\r\n" if chunked else bytes([byte]))
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.3)

    return handle


SLACK_S = 0.5  # what a loaded two-core machine adds to a timeout (the drip tests took 1.0x s alone)


def test_a_server_sending_one_byte_a_second_is_cut_at_the_timeout(
    serve: Serve,
) -> None:
    """main's deadline timer was cancelled when http.client handed the socket to a response that
    closes the connection (HTTP/1.0, ``Connection: close``): the body dripped on for 31 s."""

    def drip(h: BaseHTTPRequestHandler) -> None:
        body = json.dumps({"model_version": _version("1")}).encode()
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for byte in body:
            try:
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.3)  # each byte well within the socket timeout, the whole far beyond it

    server = serve(drip)
    started = time.monotonic()
    error = _error(lambda: MlflowRestClient(server.uri, timeout_s=1).version("m", 1))
    assert time.monotonic() - started < 1 + SLACK_S
    assert (error.kind, str(error)) == (
        ErrorKind.TIMEOUT,
        f'MLflow registry {server.uri}: no answer within 1 s for version 1 of model "m"',
    )


@pytest.mark.parametrize(
    ("protocol", "chunked"), [("HTTP/1.1", False), ("HTTP/1.1", True)], ids=["keep-alive", "chunked"]
)
def test_a_dripping_answer_is_cut_at_the_timeout_however_it_is_framed(
    serve: Serve, protocol: str, chunked: bool
) -> None:
    body = json.dumps({"model_version": _version("1")}).encode()
    server = serve(_drip(body, chunked=chunked), protocol=protocol)
    started = time.monotonic()
    error = _error(lambda: MlflowRestClient(server.uri, timeout_s=1).version("m", 1))
    assert time.monotonic() - started < 1 + SLACK_S
    assert error.kind is ErrorKind.TIMEOUT


def test_a_dripping_answer_over_tls_is_cut_at_the_timeout(serve: Serve, tls: ssl.SSLContext) -> None:
    """Each byte its own TLS record: the deadline holds inside the TLS reads too."""
    body = json.dumps({"model_version": _version("1")}).encode()
    server = serve(_drip(body), tls)
    started = time.monotonic()
    error = _error(lambda: MlflowRestClient(server.uri, timeout_s=1).version("m", 1))
    assert time.monotonic() - started < 1 + SLACK_S
    assert (error.kind, str(error)) == (
        ErrorKind.TIMEOUT,
        f'MLflow registry {server.uri}: no answer within 1 s for version 1 of model "m"',
    )


def test_a_dripping_error_answer_is_cut_at_the_timeout(serve: Serve) -> None:
    """A 401 whose body drips: main read it whole (no limit, no deadline) before saying why."""
    body = json.dumps({"error_code": "UNAUTHENTICATED", "message": "x" * 40}).encode()
    server = serve(_drip(body, 401))
    started = time.monotonic()
    error = _error(lambda: MlflowRestClient(server.uri, timeout_s=1).version("m", 1))
    assert time.monotonic() - started < 1 + SLACK_S
    assert error.kind is ErrorKind.UNAUTHORIZED


def test_slow_headers_are_cut_at_the_timeout_too() -> None:
    """The status line and headers one byte at a time (urllib reads them line by line)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    stop = threading.Event()

    def serve_slowly() -> None:
        conn, _ = sock.accept()
        with conn:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 100:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=serve_slowly, daemon=True)
    thread.start()
    uri = f"http://127.0.0.1:{sock.getsockname()[1]}"
    started = time.monotonic()
    try:
        error = _error(lambda: MlflowRestClient(uri, timeout_s=1).version("m", 1))
    finally:
        stop.set()
        sock.close()
    assert time.monotonic() - started < 1 + SLACK_S
    assert (error.kind, str(error)) == (
        ErrorKind.TIMEOUT,
        f'MLflow registry {uri}: no answer within 1 s for version 1 of model "m"',
    )


def test_an_answer_larger_than_the_limit_is_refused_without_holding_it(
    serve: Serve,
) -> None:
    chunk = b" " * (1024 * 1024)

    def huge(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(300 * len(chunk)))  # the 300 MB reply
        h.end_headers()
        try:
            for _ in range(300):
                h.wfile.write(chunk)
        except OSError:
            pass

    server = serve(huge)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    error = _error(lambda: MlflowRestClient(server.uri, timeout_s=30).version("m", 1))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert (error.kind, str(error)) == (
        ErrorKind.BAD_RESPONSE,
        f'MLflow registry {server.uri}: version 1 of model "m": the answer is larger than '
        f"{MAX_RESPONSE_BYTES // (1024 * 1024)} MiB",
    )
    assert grown_mib < 3 * MAX_RESPONSE_BYTES / (1024 * 1024), grown_mib  # main's read() held all 300


def test_a_body_cut_short_is_a_bad_response(serve: Serve) -> None:
    def truncated(h: BaseHTTPRequestHandler) -> None:
        body = json.dumps({"model_version": _version("1")}).encode()
        h.send_response(200)
        h.send_header("Content-Length", str(len(body) + 100))
        h.end_headers()
        h.wfile.write(body[: len(body) // 2])
        h.close_connection = True

    server = serve(truncated)
    error = _error(lambda: MlflowRestClient(server.uri).version("m", 1))
    assert (error.kind, str(error)) == (
        ErrorKind.BAD_RESPONSE,
        f'MLflow registry {server.uri}: version 1 of model "m": the answer was cut short',
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1e400", "version must be a positive integer, not float 'inf'"),
        ("true", "version must be a positive integer, not bool 'True'"),
        ('"-5"', "version must be a positive integer, not '-5'"),
        ('"' + "9" * 5000 + '"', "version must be a positive integer, not '" + "9" * 40 + "'"),
    ],
)
def test_an_absurd_version_in_an_answer_is_a_bad_response(serve: Serve, raw: str, reason: str) -> None:
    def handle(h: BaseHTTPRequestHandler) -> None:
        body = ('{"model_version": {"name": "m", "version": ' + raw + "}}").encode()
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    server = serve(handle)
    error = _error(lambda: LiveLookup(MlflowRestClient(server.uri)).by_version("m", 1))
    assert (error.kind, str(error)) == (
        ErrorKind.BAD_RESPONSE,
        f"MLflow registry {server.uri}: a model version's answer: {reason}",
    )


def test_every_page_of_versions_is_read(serve: Serve) -> None:
    """450 versions, 200 a page: main read the first page only (rollback found no older version)."""

    def pages(h: BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        start = int(query.get("page_token", ["0"])[0])
        size = int(query["max_results"][0])
        numbers = list(range(450, 0, -1))[start : start + size]
        answer: dict[str, Any] = {"model_versions": [_version(str(n)) for n in numbers]}
        if start + size < 450:
            answer["next_page_token"] = str(start + size)
        _json(h, answer)

    server = serve(pages)
    versions = MlflowRestClient(server.uri).versions("m")
    assert [int(v["version"]) for v in versions] == list(range(450, 0, -1))
    assert len(server.seen) == 3


def test_a_page_token_that_repeats_is_a_bad_response(serve: Serve) -> None:
    server = serve(lambda h: _json(h, {"model_versions": [_version("1")], "next_page_token": "again"}))
    error = _error(lambda: MlflowRestClient(server.uri).versions("m"))
    assert (error.kind, str(error)) == (
        ErrorKind.BAD_RESPONSE,
        f'MLflow registry {server.uri}: versions of model "m": bad next_page_token',
    )
