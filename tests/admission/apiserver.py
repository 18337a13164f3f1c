"""A small client of the local API server for the admission tests and the bench: create (dry run or
not), server-side apply, delete, and the verdict of each request: denied, warned or admitted, by which
of our policies, with which message; refused by the API server itself; or a kind it does not serve.

Plain HTTPS with the local cluster's token (``mlops_platform.tools.local_cluster``): the warnings a
request earns are HTTP ``Warning`` headers (RFC 7234, code 299), which the Python kubernetes client does
not hand back.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from mlops_platform.tools.local_cluster import TOKEN, LocalCluster

_WARNING = re.compile(r'^\d{3} \S+ "(?P<text>(?:[^"\\]|\\.)*)"')
_WARNED = re.compile(
    r"^Validation failed for ValidatingAdmissionPolicy '(?P<policy>[^']+)' with binding '[^']+': "
)
_DENIED = re.compile(r"^ValidatingAdmissionPolicy '(?P<policy>[^']+)' with binding '[^']+' denied request: ")
TRUNCATE_AT_RUNES = 4 * 1024
"""The API server truncates every warning once a response's warnings pass this many runes
(``k8s.io/apiserver/pkg/endpoints/filters/warning.go``: 4 KiB in total, then 256 runes each)."""
TRUNCATED_ITEM_RUNES = 256


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the API server answered to one write."""

    status: int
    warned: dict[str, str] = field(default_factory=dict)
    """Policy name -> the message of each of our policies that warned."""
    denied: tuple[str, str] | None = None
    """(policy name, message) of the policy that denied the request."""
    error: str = ""
    """The API server's message when it refused the request otherwise (or the denial's whole text)."""
    warnings: tuple[str, ...] = ()
    """Every warning, as sent."""
    body: dict[str, Any] | None = None

    @property
    def admitted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def truncated(self) -> bool:
        """Maybe truncated: several warnings, one of them exactly as long as the API server cuts them
        (a single warning is cut only when longer than 4 KiB on its own, which a comparison shows)."""
        return len(self.warnings) > 1 and any(len(w) == TRUNCATED_ITEM_RUNES for w in self.warnings)

    @property
    def refused_by_the_api_server(self) -> bool:
        """Refused, but not by a policy: the object's own validation (422), a conflict..."""
        return not self.admitted and self.denied is None


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


class ApiServer:
    """The local cluster's API server, as its admin."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.server = cluster.server
        self._context = ssl.create_default_context()
        self._context.check_hostname = False
        self._context.verify_mode = ssl.CERT_NONE  # the local API server's self-signed certificate
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
        as_user: str | None = None,
    ) -> tuple[int, list[str], dict[str, Any]]:
        """``(status, warnings, decoded body)`` of one request (``as_user``: impersonating that user,
        in system:masters, so that RBAC allows what the admin may do and admission sees the user)."""
        url = self.server + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {TOKEN}")
        request.add_header("Accept", "application/json")
        if as_user is not None:
            request.add_header("Impersonate-User", as_user)
            request.add_header("Impersonate-Group", "system:masters")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=30) as response:
                status, headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, exc.headers, exc.read()
        warnings = []
        for value in headers.get_all("Warning") or []:
            value = value.encode("latin-1").decode("utf-8", errors="replace")  # http.client reads latin-1
            match = _WARNING.match(value)
            warnings.append(_unquote(match["text"]) if match else value)
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"message": raw.decode(errors="replace")}
        return status, warnings, decoded

    def _discover(self, api_version: str) -> None:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        status, _w, body = self.call("GET", path)
        for item in body.get("resources", []) if status == 200 else []:
            if "/" not in item["name"]:
                self._resources[(api_version, item["kind"])] = (item["name"], item["namespaced"])

    def path(self, obj: dict[str, Any], *, named: bool = False) -> str | None:
        """The collection (or, ``named``, the object's) URL path; None for a kind not served."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        if (api_version, kind) not in self._resources:
            self._discover(api_version)
        found = self._resources.get((api_version, kind))
        if found is None:
            return None
        resource, namespaced = found
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespaced:
            base += f"/namespaces/{obj['metadata'].get('namespace', 'default')}"
        base += f"/{resource}"
        return f"{base}/{obj['metadata']['name']}" if named else base

    def forget_discovery(self) -> None:
        self._resources.clear()

    def create(
        self, obj: dict[str, Any], *, dry_run: bool = True, as_user: str | None = None
    ) -> Verdict | None:
        """POST ``obj``; None when its kind is not served."""
        path = self.path(obj)
        if path is None:
            return None
        params = {"dryRun": "All"} if dry_run else None
        status, warnings, body = self.call("POST", path, obj, params=params, as_user=as_user)
        return self.verdict(status, warnings, body)

    def update(self, obj: dict[str, Any], *, dry_run: bool = True) -> Verdict:
        """PUT ``obj`` (with the ``resourceVersion`` it was read with)."""
        path = self.path(obj, named=True)
        assert path is not None
        status, warnings, body = self.call("PUT", path, obj, params={"dryRun": "All"} if dry_run else None)
        return self.verdict(status, warnings, body)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply ``obj`` (its own field manager); raise on failure."""
        path = self.path(obj, named=True)
        assert path is not None, obj["kind"]
        status, _w, body = self.call(
            "PATCH",
            path,
            obj,
            params={"fieldManager": "mlops-tests", "force": "true"},
            content_type="application/apply-patch+yaml",
        )
        if status not in (200, 201):
            raise AssertionError(
                f"apply {obj['kind']} {obj['metadata']['name']}: {status} {body.get('message')}"
            )
        return body

    def delete(self, obj: dict[str, Any]) -> int:
        path = self.path(obj, named=True)
        assert path is not None
        return self.call("DELETE", path)[0]

    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        path = self.path(obj, named=True)
        assert path is not None
        status, _w, body = self.call("GET", path)
        return body if status == 200 else None

    @staticmethod
    def verdict(status: int, warnings: list[str], body: dict[str, Any]) -> Verdict:
        warned: dict[str, str] = {}
        for text in warnings:
            match = _WARNED.match(text)
            if match:
                warned[match["policy"]] = text[match.end() :]
        denied = None
        for cause in (body.get("details") or {}).get("causes") or []:
            match = _DENIED.match(cause.get("message", ""))
            if match:
                denied = (match["policy"], cause["message"][match.end() :])
        error = "" if 200 <= status < 300 else str(body.get("message", ""))
        return Verdict(status, warned, denied, error, tuple(warnings), body)


def wait_for_policies(api: ApiServer, probe: dict[str, Any], policy: str, *, timeout_s: float = 30.0) -> None:
    """Wait until ``policy`` judges requests: the API server loads policies and bindings asynchronously
    (an informer), so a probe object violating it is created (dry run) until its verdict names it."""
    deadline = time.monotonic() + timeout_s
    while True:
        verdict = api.create(probe)
        assert verdict is not None
        if policy in verdict.warned or (verdict.denied and verdict.denied[0] == policy):
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{policy} did not judge {probe['metadata']['name']} within {timeout_s} s: {verdict}"
            )
        time.sleep(0.2)
