"""Install, find and describe the pinned toolchain in its cache.

A warm install is a file check per component (its keyed directory holds a manifest listing files
that exist); only a missing component runs go, apt-get or a copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops_platform.tools import build_cache
from mlops_platform.tools.toolchain import cache
from mlops_platform.tools.toolchain.commands import (
    Progress,
    ToolchainError,
    go_binary,
    go_environment,
    go_version,
    step,
)
from mlops_platform.tools.toolchain.pins import (
    BY_NAME,
    COMPONENTS,
    CORE,
    AptPackage,
    Component,
    ModuleFiles,
    ProviderBuild,
    WrapperBuild,
)
from mlops_platform.tools.toolchain.recipes import BuildContext, build, wrapper_files

KEY_SCHEMA = 1  # bump when the layout of a component's directory or the recipes' code changes
MIN_PATH_PULUMI = (3, 274)  # an official CLI at least this new may stand in for our build


@dataclass(frozen=True, slots=True)
class Toolchain:
    """The installed engine toolchain: absolute paths into the cache."""

    pulumi: Path
    """The Pulumi CLI binary."""
    kubernetes_provider_dir: Path
    """The directory holding ``pulumi-resource-kubernetes`` (a project plugin ``path``)."""
    kubernetes_provider_version: str
    """The provider build's version (``4.24.0+f47bc2d6f199``)."""
    kube_apiserver: Path | None
    """``kube-apiserver``, when installed."""
    kube_controller_manager: Path | None
    """``kube-controller-manager``, when installed."""
    etcd: Path | None
    """``etcd``, when installed."""
    root: Path
    """The cache root."""
    crds_dir: Path | None = None
    """The directory holding one subdirectory of CRD manifests per source, when installed."""
    binaries: dict[str, Path] = field(default_factory=dict)
    """Every installed binary by name (``kubelet``, ``coredns``, ...), for the parts without a field."""


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """One row of ``mlops toolchain status``."""

    name: str
    version: str
    key: str
    path: Path
    size_bytes: int | None
    built: bool


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def key_inputs(component: Component, go: str | None) -> dict[str, Any]:
    """Everything that determines ``component``'s output, as hashed into its key.

    Args:
        component: The pinned component.
        go: The Go toolchain's version; ignored for components that run no ``go build``.
    """
    inputs: dict[str, Any] = {
        "schema": KEY_SCHEMA,
        "name": component.name,
        "version": component.version,
        "modules": [str(m) for m in component.modules],
        "recipe": {"kind": type(component.recipe).__name__, **asdict(component.recipe)},
    }
    if isinstance(component.recipe, WrapperBuild):
        inputs["wrapper_files"] = wrapper_files(component.recipe.wrapper)
    if component.uses_go_build:
        inputs["go"] = go or "none"
        inputs["platform"] = f"{sys.platform}/{os.uname().machine}"
    return inputs


def component_key(component: Component, go: str | None = None) -> str:
    """The cache key of ``component`` (reads the Go version when ``go`` is not given)."""
    if go is None and component.uses_go_build:
        go = go_version()
    return cache.cache_key(key_inputs(component, go))


def _select(components: Sequence[str] | None) -> list[Component]:
    """The components to handle: the core plus those asked for (all when None), in table order."""
    if components is None:
        return list(COMPONENTS)
    unknown = sorted(set(components) - BY_NAME.keys())
    if unknown:
        raise ToolchainError(f"unknown component(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    wanted = set(components) | set(CORE)
    return [c for c in COMPONENTS if c.name in wanted]


def _lookup(root: Path, component: Component, go: str | None) -> tuple[Path, dict[str, Any]] | None:
    key = component_key(component, go)
    directory = cache.component_dir(root, component.name, key)
    manifest = cache.read_manifest(directory, key)
    return (directory, manifest) if manifest is not None else None


def _check_wrapper_pins(component: Component) -> None:
    """Refuse to build when the wrapper's go.mod requires other versions than the table pins."""
    if not isinstance(component.recipe, WrapperBuild):
        return
    go_mod = wrapper_files(component.recipe.wrapper)["go.mod"]
    for module in component.modules:
        pattern = rf"^\s*(?:require\s+)?{re.escape(module.path)}\s+(v\S+)"
        found = re.search(pattern, go_mod, re.MULTILINE)
        if found and found.group(1) != module.version:
            raise ToolchainError(
                f"gomod/{component.recipe.wrapper}/go.mod requires {module.path} {found.group(1)}, "
                f"pins.py pins {module.version}: update one of them (then `go mod tidy` there)"
            )


def _build_component(root: Path, component: Component, go: str | None, progress: Progress) -> None:
    key = component_key(component, go)
    go_path = go_binary()
    if component.uses_go_build or component.modules:
        if go_path is None:
            raise ToolchainError(
                f"{component.name}: `go` is not on PATH; install Go {go or '1.26'} or newer "
                "(https://go.dev/dl/), then run `mlops toolchain install` again"
            )
        _check_wrapper_pins(component)
    logs = root / "logs"

    def build_into(work: Path) -> dict[str, Any]:
        for old in logs.glob(f"{component.name}.*.log"):  # a log tells of the latest build only
            old.unlink()
        ctx = BuildContext(
            component=component,
            work=work,
            go=str(go_path or "go"),
            env=go_environment(root),
            logs=logs,
            progress=progress,
        )
        extra = build(ctx)
        return {
            "component": component.name,
            "version": component.version,
            "key_inputs": key_inputs(component, go),
            **extra,
        }

    try:
        build_cache.ensure(root, component.name, key, build_into, list_files=True, progress=progress)
    except build_cache.BuildCacheError as exc:
        cause = exc.__cause__
        if isinstance(cause, ToolchainError):
            raise cause from None
        raise ToolchainError(str(exc)) from exc


def install(*, components: Sequence[str] | None = None, progress: Progress = _stderr) -> Toolchain:
    """Build whatever of the toolchain is missing from the cache; return the installed toolchain.

    Each component is built, checked and published under its own lock (``build_cache.ensure``), so
    two installs at once build it once, and an interrupted build is never used.

    Args:
        components: Component names (``pulumi-cli``, ``kubernetes-provider``, ``kube-apiserver``,
            ``etcd``, ``crds``); default all. The core (``pulumi-cli``, ``kubernetes-provider``) is
            always included, since every ``Toolchain`` holds it.
        progress: Receives one line per step with its elapsed time (default: stderr).

    Raises:
        ToolchainError: A component is unknown or a step failed (the message carries the failing
            command's last lines).
    """
    selected = _select(components)
    root = cache.cache_root()
    go = go_version() if any(c.uses_go_build for c in selected) else None
    for component in selected:
        if _lookup(root, component, go) is not None:
            progress(f"{component.name} {component.version}: cached ... 0.0 s")
            continue
        with step(progress, f"{component.name} {component.version}: total"):
            _build_component(root, component, go, progress)
    toolchain = installed(components)
    if toolchain is None:  # pragma: no cover - every selected component was just published
        raise ToolchainError(f"the toolchain under {root} is incomplete after install")
    return toolchain


def installed(components: Sequence[str] | None = None) -> Toolchain | None:
    """The toolchain already in the cache, without building anything.

    Args:
        components: Names that must be present (default all); the core is always required.
            Other installed components are filled in too.

    Returns:
        The toolchain, or None when a required component is missing.
    """
    required = {c.name for c in _select(components)}
    root = cache.cache_root()
    go = go_version()
    found: dict[str, Path] = {}
    for component in COMPONENTS:
        hit = _lookup(root, component, go)
        if hit is not None:
            found[component.name] = hit[0]
        elif component.name in required:
            return None
    binaries = {
        Path(binary).name: found[c.name] / "bin" / Path(binary).name
        for c in COMPONENTS
        if c.name in found
        for binary in _binary_names(c)
    }
    provider_dir = found["kubernetes-provider"] / "bin"
    kube = found.get("kube-apiserver")
    etcd = found.get("etcd")
    return Toolchain(
        pulumi=found["pulumi-cli"] / "bin" / "pulumi",
        kubernetes_provider_dir=provider_dir,
        kubernetes_provider_version=BY_NAME["kubernetes-provider"].version,
        kube_apiserver=kube / "bin" / "kube-apiserver" if kube else None,
        kube_controller_manager=kube / "bin" / "kube-controller-manager" if kube else None,
        etcd=etcd / "bin" / "etcd" if etcd else None,
        root=root,
        crds_dir=found.get("crds"),
        binaries=binaries,
    )


def _binary_names(component: Component) -> tuple[str, ...]:
    recipe = component.recipe
    if isinstance(recipe, WrapperBuild):
        return recipe.binaries
    if isinstance(recipe, ProviderBuild):
        return (recipe.binary,)
    if isinstance(recipe, AptPackage):
        return (Path(recipe.binary).name,)
    return ()


def kubernetes_provider_binary() -> Path | None:
    """The built ``pulumi-resource-kubernetes`` alone (the offline audit's provider calls), or None."""
    hit = _lookup(cache.cache_root(), BY_NAME["kubernetes-provider"], go_version())
    if hit is None:
        return None
    binary = hit[0] / "bin" / "pulumi-resource-kubernetes"
    return binary if binary.is_file() else None


def status() -> list[ComponentStatus]:
    """Every pinned component with its key, directory, size and whether it is built."""
    root = cache.cache_root()
    go = go_version()
    rows = []
    for component in COMPONENTS:
        key = component_key(component, go)
        directory = cache.component_dir(root, component.name, key)
        manifest = cache.read_manifest(directory, key)
        size = manifest.get("size_bytes") if manifest else None
        rows.append(
            ComponentStatus(
                name=component.name,
                version=component.version,
                key=key,
                path=directory,
                size_bytes=size if isinstance(size, int) else None,
                built=manifest is not None,
            )
        )
    return rows


def env_exports(t: Toolchain) -> dict[str, str]:
    """Environment variables that put the toolchain in front of a shell or a subprocess.

    ``PATH`` gets the CLI's and the provider's directories prepended (to the current ``PATH``);
    the Pulumi switches keep the engine offline. The apiserver, controller manager and etcd paths
    are exported as ``MLOPS_KUBE_APISERVER``, ``MLOPS_KUBE_CONTROLLER_MANAGER`` and ``MLOPS_ETCD``
    when installed.

    Args:
        t: The installed toolchain.
    """
    dirs = list(dict.fromkeys([str(t.pulumi.parent), str(t.kubernetes_provider_dir)]))
    current = os.environ.get("PATH", "")
    exports = {
        "PATH": os.pathsep.join([*dirs, current] if current else dirs),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "MLOPS_KUBERNETES_PROVIDER_DIR": str(t.kubernetes_provider_dir),
    }
    for name, path in (
        ("MLOPS_KUBE_APISERVER", t.kube_apiserver),
        ("MLOPS_KUBE_CONTROLLER_MANAGER", t.kube_controller_manager),
        ("MLOPS_ETCD", t.etcd),
    ):
        if path is not None:
            exports[name] = str(path)
    return exports


def crd_files() -> dict[str, list[Path]]:
    """The installed CRD manifests by source: ``{"prometheus-operator": [...], "gateway-api": [...]}``.

    Raises:
        ToolchainError: The crds component is not installed.
    """
    component = BY_NAME["crds"]
    hit = _lookup(cache.cache_root(), component, None)
    if hit is None:
        raise ToolchainError("the CRD files are not installed: run `mlops toolchain install --only crds`")
    directory, _ = hit
    recipe = component.recipe
    names = [s.name for s in recipe.sets] if isinstance(recipe, ModuleFiles) else []
    return {name: sorted((directory / name).glob("*.yaml")) for name in names}


def find_pulumi() -> Path | None:
    """The Pulumi CLI to run: ``$MLOPS_PULUMI``, else the toolchain's build, else a new enough one on PATH.

    An official CLI on PATH (it bundles the Python language host) counts when ``pulumi version``
    says at least 3.274.
    """
    explicit = os.environ.get("MLOPS_PULUMI")
    if explicit:
        path = Path(explicit).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    hit = _lookup(cache.cache_root(), BY_NAME["pulumi-cli"], go_version())
    if hit is not None:
        return hit[0] / "bin" / "pulumi"
    on_path = shutil.which("pulumi")
    if on_path is None:
        return None
    return Path(on_path) if _version_at_least(Path(on_path), MIN_PATH_PULUMI) else None


def _version_at_least(pulumi: Path, minimum: tuple[int, int]) -> bool:
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    try:
        result = subprocess.run(
            [str(pulumi), "version"], capture_output=True, text=True, timeout=30, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    found = re.search(r"v?(\d+)\.(\d+)", result.stdout)
    return found is not None and (int(found.group(1)), int(found.group(2))) >= minimum
