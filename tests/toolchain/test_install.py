"""A warm install is a file check; only a published directory with its manifest counts as installed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from mlops_platform.tools.toolchain import (
    cache,
    crd_files,
    env_exports,
    install,
    installed,
    installer,
    recipes,
    status,
)
from mlops_platform.tools.toolchain.commands import ToolchainError
from mlops_platform.tools.toolchain.pins import BY_NAME, COMPONENTS, CORE

from .conftest import GO, Fill

ALL = [c.name for c in COMPONENTS]


def _no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a warm install ran a command: {args}")

    for name in ("run", "call", "Popen", "check_output"):
        monkeypatch.setattr(subprocess, name, refuse)


def test_install_on_a_warm_cache_runs_nothing(
    root: Path, fill: Fill, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs = fill(ALL)
    _no_subprocess(monkeypatch)
    lines: list[str] = []
    start = time.monotonic()
    toolchain = install(progress=lines.append)
    assert time.monotonic() - start < 1.0
    assert toolchain.pulumi == dirs["pulumi-cli"] / "bin" / "pulumi"
    assert toolchain.kubernetes_provider_dir == dirs["kubernetes-provider"] / "bin"
    assert toolchain.kubernetes_provider_version == "4.24.0+f47bc2d6f199"
    assert toolchain.kube_apiserver == dirs["kube-apiserver"] / "bin" / "kube-apiserver"
    assert toolchain.kube_controller_manager == dirs["kube-apiserver"] / "bin" / "kube-controller-manager"
    assert toolchain.etcd == dirs["etcd"] / "bin" / "etcd"
    assert toolchain.root == root
    assert lines == [f"{c.name} {c.version}: cached ... 0.0 s" for c in COMPONENTS]


def test_a_directory_without_manifest_is_never_installed(root: Path, fill: Fill) -> None:
    dirs = fill(ALL)
    (dirs["kubernetes-provider"] / cache.MANIFEST).unlink()
    staged = root / ".tmp-kubernetes-provider-abc123" / "bin"
    staged.mkdir(parents=True)
    (staged / "pulumi-resource-kubernetes").write_text("", encoding="utf-8")
    assert installed() is None
    assert installed(["pulumi-cli"]) is None  # the provider is core: every Toolchain holds it
    assert not {row.name: row.built for row in status()}["kubernetes-provider"]


def test_a_manifest_of_another_key_or_with_files_gone_does_not_count(root: Path, fill: Fill) -> None:
    dirs = fill(ALL)
    (dirs["etcd"] / "bin" / "etcd").unlink()
    assert installed() is None
    assert installed(list(CORE)) is not None
    manifest = dirs["pulumi-cli"] / cache.MANIFEST
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "key": "0" * 12}), encoding="utf-8")
    assert installed(list(CORE)) is None


def test_optional_parts_are_filled_in_when_present(root: Path, fill: Fill) -> None:
    fill(CORE)
    toolchain = installed(list(CORE))
    assert toolchain is not None
    assert (toolchain.kube_apiserver, toolchain.etcd, toolchain.crds_dir) == (None, None, None)
    assert installed() is None


def test_an_interrupted_build_leaves_nothing_that_counts(
    root: Path, fill: Fill, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(CORE)

    def interrupted(ctx: recipes.BuildContext) -> dict[str, object]:
        (ctx.work / "bin").mkdir()
        (ctx.work / "bin" / "etcd").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(installer, "build", interrupted)
    monkeypatch.setattr(installer, "go_binary", lambda: Path("/usr/bin/true"))
    with pytest.raises(KeyboardInterrupt):
        install(components=["etcd"], progress=lambda line: None)
    assert installed(["etcd"]) is None
    assert not list(root.glob(".tmp-*"))
    assert not list(root.glob("etcd-*"))


def test_a_failing_go_command_raises_its_last_lines(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    goroot = tmp_path / "goroot"
    (goroot / "bin").mkdir(parents=True)
    (goroot / "VERSION").write_text(f"{GO}\ntime 2026-08-28T16:20:06Z\n", encoding="utf-8")
    go = goroot / "bin" / "go"
    go.write_text("#!/bin/sh\necho 'go: example.com/x@v1.0.0: 403 Forbidden' >&2\nexit 1\n", encoding="utf-8")
    go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{goroot / 'bin'}{os.pathsep}{os.environ['PATH']}")
    lines: list[str] = []
    with pytest.raises(ToolchainError) as raised:
        install(components=list(CORE), progress=lines.append)
    message = str(raised.value)
    assert "go mod download` failed (exit 1)" in message
    assert "403 Forbidden" in message
    assert lines[0].startswith("pulumi-cli v3.274.1: download ... failed after")
    assert installed(list(CORE)) is None
    assert not list(root.glob(".tmp-*"))


def test_unknown_components_are_refused_before_any_work(root: Path) -> None:
    with pytest.raises(ToolchainError, match=r"unknown component.*kube-proxy.*choose from pulumi-cli"):
        install(components=["kube-proxy"], progress=lambda line: None)
    assert not root.exists()


def test_env_exports_prepend_the_cli_and_provider_dirs(
    root: Path, fill: Fill, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(ALL)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    toolchain = installed()
    assert toolchain is not None
    exports = env_exports(toolchain)
    assert exports["PATH"] == os.pathsep.join(
        [str(toolchain.pulumi.parent), str(toolchain.kubernetes_provider_dir), "/usr/bin:/bin"]
    )
    assert exports["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert exports["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert exports["MLOPS_KUBERNETES_PROVIDER_DIR"] == str(toolchain.kubernetes_provider_dir)
    assert exports["MLOPS_ETCD"] == str(toolchain.etcd)


def test_crd_files_by_source(root: Path, fill: Fill) -> None:
    with pytest.raises(ToolchainError, match="not installed"):
        crd_files()
    crds = fill(["crds"])["crds"]
    assert crd_files() == {
        "prometheus-operator": [crds / "prometheus-operator" / "monitoring.coreos.com_prometheuses.yaml"],
        "gateway-api": [crds / "gateway-api" / "httproutes.yaml"],
    }


def test_find_pulumi_prefers_the_override_then_the_build(
    root: Path, fill: Fill, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MLOPS_PULUMI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert installer.find_pulumi() is None
    built = fill(["pulumi-cli"])["pulumi-cli"] / "bin" / "pulumi"
    assert installer.find_pulumi() == built
    monkeypatch.setenv("MLOPS_PULUMI", str(built))
    assert installer.find_pulumi() == built
    monkeypatch.setenv("MLOPS_PULUMI", str(tmp_path / "missing"))
    assert installer.find_pulumi() is None


def test_schema_embeds_set_the_version_compactly(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text('{\n  "name": "kubernetes",\n  "version": ""\n}', encoding="utf-8")
    (tmp_path / "terraform-mapping.json").write_text('{\n  "a": [1, 2]\n}', encoding="utf-8")
    recipes.write_schema_embeds(tmp_path, BY_NAME["kubernetes-provider"].version)
    schema = (tmp_path / "schema-embed.json").read_text()
    assert schema == '{"name":"kubernetes","version":"4.24.0+f47bc2d6f199"}'
    assert (tmp_path / "terraform-mapping-embed.json").read_text() == '{"a":[1,2]}'
