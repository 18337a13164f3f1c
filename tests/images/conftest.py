"""The platform's images, built once per session through the shared build cache (warm: a file check).

A missing build tool (mmdebstrap, umoci, skopeo, runc, docker-registry, go) skips these tests
locally and fails them under ``CI=true``: tests/run.sh installs the tools before pytest, so their
absence there is a broken setup. Every test of this package runs in one xdist group: the first
cold build takes tens of minutes and the others would only wait for its lock.
"""

from __future__ import annotations

import os
import shutil

import pytest

from mlops_platform.tools.images.builder import BuiltImage, build_images, images_root

TOOLS = ("mmdebstrap", "umoci", "skopeo", "runc", "docker-registry", "go", "unshare", "chroot")


def require_tools(*tools: str) -> None:
    """Skip (locally) or fail (``CI=true``) unless every tool is on PATH and we are root."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    problems = []
    if missing:
        problems.append(
            f"missing {', '.join(missing)} (apt-get install mmdebstrap umoci skopeo runc docker-registry)"
        )
    if os.geteuid() != 0:
        problems.append("image builds need root")
    if problems:
        message = "; ".join(problems)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/images/" in item.nodeid and "test_recipes" not in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("images"))


@pytest.fixture(scope="session")
def built() -> dict[str, BuiltImage]:
    """Every image, by name (built now when the cache lacks it)."""
    require_tools(*TOOLS)
    lines: list[str] = []
    images = build_images(root=images_root(), progress=lines.append)
    return {image.recipe.name: image for image in images}
