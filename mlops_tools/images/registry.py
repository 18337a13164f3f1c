"""A local OCI registry the node pulls the platform's images from, and pushing the images to it.

The registry is Debian's ``docker-registry`` (Distribution 2.8.2) run as a process on a loopback
address with its storage in a directory, the way an air-gapped organisation mirrors images; images
go there with ``skopeo copy`` from their OCI layouts, which keeps their manifests (and so their
digests) as built. ``image_overrides`` maps each upstream default to its local reference, for the
spec's ``environment.image_overrides``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_platform.tools.images.builder import BuiltImage
from mlops_platform.tools.images.recipes import RECIPES, ImageRecipe
from mlops_platform.tools.toolchain.commands import Progress, ToolchainError, step

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
PUSH_TIMEOUT_S = 900  # the MLflow and platform images are ~0.3 GB of layers
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def local_ref(image: ImageRecipe, registry: str) -> str:
    """``<registry>/mlops/<name>:<tag>``: where ``image`` lives on the local registry ``host:port``."""
    return f"{registry}/{image.repository}:{image.tag}"


def image_overrides(registry: str, recipes: Sequence[ImageRecipe] = RECIPES) -> dict[str, str]:
    """Upstream default reference -> local reference, for every recipe that stands for an upstream image.

    Args:
        registry: The local registry's ``host:port``.
        recipes: The images pushed there (default: all).
    """
    return {image.upstream: local_ref(image, registry) for image in recipes if image.upstream is not None}


@dataclass(frozen=True, slots=True)
class LocalRegistry:
    """A running ``docker-registry`` process."""

    address: str
    """``host:port`` it listens on."""
    storage: Path
    process: subprocess.Popen[bytes]


def registry_config(address: str, storage: Path) -> dict[str, Any]:
    """The registry's configuration: filesystem storage, plain HTTP on ``address`` (loopback only)."""
    return {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": address},
    }


@contextlib.contextmanager
def running_registry(address: str, storage: Path, *, progress: Progress) -> Iterator[LocalRegistry]:
    """Run ``docker-registry`` on ``address`` with its blobs under ``storage`` for the ``with`` block.

    Raises:
        ToolchainError: docker-registry is missing, exits, or does not answer ``/v2/`` in time.
    """
    binary = shutil.which("docker-registry")
    if binary is None:
        raise ToolchainError("docker-registry is not installed (apt-get install docker-registry)")
    storage.mkdir(parents=True, exist_ok=True)
    config = storage.parent / f"{storage.name}.registry.yml"
    config.write_text(json.dumps(registry_config(address, storage)), encoding="utf-8")  # JSON is YAML
    log = storage.parent / f"{storage.name}.registry.log"
    with step(progress, f"local registry on {address}"), log.open("ab") as handle:
        process = subprocess.Popen(
            [binary, "serve", str(config)], stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_ready(address, process, log)
        except BaseException:
            _stop(process)
            raise
    try:
        yield LocalRegistry(address, storage, process)
    finally:
        _stop(process)


def _wait_ready(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ToolchainError(f"docker-registry exited {process.returncode}:\n{_tail(log)}")
        url = f"http://{address}/v2/"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise ToolchainError(
        f"docker-registry did not answer http://{address}/v2/ within {START_TIMEOUT_S:.0f} s"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
    return ""


def push(image: BuiltImage, registry: str, *, progress: Progress) -> str:
    """Copy the image to ``registry`` (plain HTTP) and check it is there under the built digest.

    Returns:
        The local reference pinned by digest (``<registry>/mlops/<name>@sha256:...``).

    Raises:
        ToolchainError: skopeo is missing or failed, or the registry serves another digest.
    """
    if shutil.which("skopeo") is None:
        raise ToolchainError("skopeo is not installed (apt-get install skopeo)")
    reference = local_ref(image.recipe, registry)
    with step(progress, f"push {image.recipe.name} to {reference}"):
        command = [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--preserve-digests",
            image.oci_ref,
            f"docker://{reference}",
        ]
        env = {**os.environ, "HOME": os.environ.get("HOME", "/root")}
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PUSH_TIMEOUT_S, check=False, env=env
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolchainError(f"skopeo copy {image.recipe.name}: {exc}") from None
        if done.returncode != 0:
            raise ToolchainError(
                f"skopeo copy {image.recipe.name} exited {done.returncode}:\n{done.stderr[-3000:]}"
            )
    served = manifest_digest(registry, image.recipe.repository, image.recipe.tag)
    if served != image.digest:
        raise ToolchainError(f"{reference} is served as {served}, built as {image.digest}")
    return f"{registry}/{image.recipe.repository}@{image.digest}"


def manifest_digest(registry: str, repository: str, reference: str) -> str:
    """The ``Docker-Content-Digest`` the registry answers for ``HEAD /v2/<repo>/manifests/<reference>``."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{reference}",
        method="HEAD",
        headers={"Accept": OCI_MANIFEST},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return str(answer.headers["Docker-Content-Digest"])
    except (urllib.error.URLError, OSError) as exc:
        raise ToolchainError(f"{registry}: no manifest {repository}:{reference}: {exc}") from None


def pull_manifest(registry: str, repository: str, digest: str) -> bytes:
    """``GET /v2/<repository>/manifests/<digest>`` over the OCI distribution API: the manifest's bytes."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return bytes(answer.read())
    except (urllib.error.URLError, OSError) as exc:
        raise ToolchainError(f"{registry}: no manifest {repository}@{digest}: {exc}") from None


def check_registry_tools() -> list[str]:
    """Of skopeo and docker-registry, the ones not installed."""
    return [tool for tool in ("skopeo", "docker-registry") if shutil.which(tool) is None]


def pushed(images: Sequence[BuiltImage], registry: str, *, progress: Progress) -> dict[str, str]:
    """Push every image; name -> reference by digest."""
    return {image.recipe.name: push(image, registry, progress=progress) for image in images}


__all__ = [
    "LocalRegistry",
    "check_registry_tools",
    "image_overrides",
    "local_ref",
    "manifest_digest",
    "pull_manifest",
    "push",
    "pushed",
    "registry_config",
    "running_registry",
]
