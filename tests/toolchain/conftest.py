"""A toolchain cache under tmp_path, filled with stand-in components instead of real builds."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from mlops_platform.tools.toolchain import cache, installer
from mlops_platform.tools.toolchain.pins import BY_NAME

GO = "go1.26.8"  # the Go version the stand-in cache was "built" with

STAND_IN_FILES = {
    "pulumi-cli": ["bin/pulumi"],
    "kubernetes-provider": ["bin/pulumi-resource-kubernetes"],
    "kube-apiserver": ["bin/kube-apiserver", "bin/kube-controller-manager"],
    "etcd": ["bin/etcd"],
    "crds": ["prometheus-operator/monitoring.coreos.com_prometheuses.yaml", "gateway-api/httproutes.yaml"],
    "kube-node": ["bin/kubelet", "bin/kube-scheduler", "bin/kube-proxy"],
    "metrics-server": ["bin/metrics-server"],
    "coredns": ["bin/coredns"],
    "local-path-provisioner": ["bin/local-path-provisioner"],
    "prometheus-operator": ["bin/operator"],
}

Fill = Callable[[Iterable[str]], dict[str, Path]]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache root (with a space, to exercise quoting), and a fixed Go version."""
    directory = tmp_path / "tool chain"
    monkeypatch.setenv(cache.ROOT_ENV, str(directory))
    monkeypatch.setattr(installer, "go_version", lambda: GO)
    return directory


@pytest.fixture
def fill(root: Path) -> Fill:
    """Publish stand-in components (empty executables) under their real keys; their directories."""

    def _fill(names: Iterable[str]) -> dict[str, Path]:
        made = {}
        for name in names:
            key = installer.component_key(BY_NAME[name], GO)
            directory = cache.component_dir(root, name, key)
            for relative in STAND_IN_FILES[name]:
                path = directory / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("#!/bin/sh\n", encoding="utf-8")
                path.chmod(0o755)
            files = {relative: 10 for relative in STAND_IN_FILES[name]}
            manifest = {"component": name, "key": key, "files": files, "size_bytes": 10 * len(files)}
            (directory / cache.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            made[name] = directory
        return made

    return _fill
