"""The images go to a local OCI registry and come back by digest over the distribution API.

A real ``docker-registry`` (Debian's Distribution 2.8.2) on a free loopback port with its storage in
the test's directory; ``skopeo copy`` pushes each image; the manifest pulled back by digest is the
built one byte for byte, and the shared base layer is stored once.
"""

from __future__ import annotations

import hashlib
import json
import socket
import urllib.request
from pathlib import Path

from mlops_platform.tools.images.builder import BuiltImage, read_blob
from mlops_platform.tools.images.registry import pull_manifest, pushed, running_registry


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_push_then_pull_each_manifest_back_by_digest(built: dict[str, BuiltImage], tmp_path: Path) -> None:
    address = f"127.0.0.1:{_free_port()}"
    lines: list[str] = []
    with running_registry(address, tmp_path / "storage", progress=lines.append):
        references = pushed(list(built.values()), address, progress=lines.append)
        for name, image in built.items():
            assert references[name] == f"{address}/mlops/{name}@{image.digest}"
            body = pull_manifest(address, image.recipe.repository, image.digest)
            assert "sha256:" + hashlib.sha256(body).hexdigest() == image.digest
            assert body == read_blob(image.layout, image.digest)
            manifest = json.loads(body)
            assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
            for layer in manifest["layers"]:
                url = f"http://{address}/v2/{image.recipe.repository}/blobs/{layer['digest']}"
                with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as answer:
                    assert int(answer.headers["Content-Length"]) == layer["size"]
    blobs = tmp_path / "storage" / "docker" / "registry" / "v2" / "blobs" / "sha256"
    base = next(iter(built.values())).manifest["layers"][0]["digest"].removeprefix("sha256:")
    assert (blobs / base[:2] / base / "data").is_file()  # stored once, linked from every repository
