"""A real control plane for the tests of this package: etcd, kube-apiserver, kube-controller-manager.

One cluster per test session (its tests run in one xdist group, in file order), in a fresh directory,
stopped at the end whatever happened. Without the toolchain's binaries the tests skip locally and
fail under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_platform.tools.local_cluster import LocalCluster, running, toolchain_binaries
from tests.realengine.conftest import engine_tools, require_tool

__all__ = ["engine_tools"]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    binaries = toolchain_binaries()
    if binaries is None:
        require_tool("the control plane (kube-apiserver, kube-controller-manager, etcd)")
    assert binaries is not None
    directory: Path = tmp_path_factory.mktemp("cluster")
    with running(directory, binaries) as started:
        yield started
