"""Parse container image references (``registry/repo:tag@sha256:digest``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def digest_valid(self) -> bool:
        return self.digest is not None and bool(_DIGEST_RE.match(self.digest))


def parse_image(ref: str) -> ImageRef:
    """Split an image reference the way the Docker distribution library does.

    The first path component is a registry only if it contains ``.`` or ``:`` or is ``localhost``;
    otherwise the image is on Docker Hub (``docker.io``) and, without a slash, under ``library/``.
    """
    rest, _, digest = ref.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "docker.io", rest
        if "/" not in path:
            path = f"library/{path}"
    tag: str | None = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, _, tag = path.rpartition(":")
    return ImageRef(registry=registry, repository=path, tag=tag or None, digest=digest or None)


def registry_allowed(image: ImageRef, allowed: list[str]) -> bool:
    """True when ``registry/repository`` is under one of ``allowed`` (``docker.io/library``, ``ghcr.io``)."""
    full = f"{image.registry}/{image.repository}"
    for prefix in allowed:
        prefix = prefix.rstrip("/")
        if full == prefix or full.startswith(prefix + "/") or image.registry == prefix:
            return True
    return False
