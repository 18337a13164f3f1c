"""The cache key follows every input that determines a component's output, and nothing else."""

from __future__ import annotations

import dataclasses

import pytest

from mlops_platform.tools.toolchain import installer
from mlops_platform.tools.toolchain.pins import BY_NAME, COMPONENTS, GoModule, WrapperBuild

GO = "go1.26.8"


def test_the_key_is_stable_and_differs_per_component() -> None:
    first = [installer.component_key(c, GO) for c in COMPONENTS]
    again = [installer.component_key(c, GO) for c in COMPONENTS]
    assert first == again
    assert len(set(first)) == len(COMPONENTS)


def test_a_module_version_changes_the_key() -> None:
    cli = BY_NAME["pulumi-cli"]
    bumped = dataclasses.replace(
        cli, modules=(GoModule("github.com/pulumi/pulumi/pkg/v3", "v3.275.0"), *cli.modules[1:])
    )
    assert installer.component_key(bumped, GO) != installer.component_key(cli, GO)


def test_a_build_flag_changes_the_key() -> None:
    kube = BY_NAME["kube-apiserver"]
    assert isinstance(kube.recipe, WrapperBuild)
    recipe = dataclasses.replace(kube.recipe, ldflags=("-s",))
    assert installer.component_key(dataclasses.replace(kube, recipe=recipe), GO) != installer.component_key(
        kube, GO
    )


def test_the_go_version_changes_only_what_go_builds() -> None:
    for component in COMPONENTS:
        changed = installer.component_key(component, "go1.27.0") != installer.component_key(component, GO)
        assert changed == component.uses_go_build, component.name


def test_the_wrapper_module_content_changes_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    cli = BY_NAME["pulumi-cli"]
    before = installer.component_key(cli, GO)
    real = installer.wrapper_files

    def edited(wrapper: str) -> dict[str, str]:
        files = real(wrapper)
        return {**files, "go.sum": files["go.sum"] + "example.com/x v1.0.0 h1:AAAA=\n"}

    monkeypatch.setattr(installer, "wrapper_files", edited)
    assert installer.component_key(cli, GO) != before


def test_the_wrapper_modules_require_the_pinned_versions() -> None:
    for component in COMPONENTS:
        installer._check_wrapper_pins(component)  # raises when a go.mod and pins.py disagree


def test_a_wrapper_that_disagrees_with_the_pins_is_refused() -> None:
    kube = BY_NAME["kube-apiserver"]
    other = dataclasses.replace(kube, modules=(GoModule("k8s.io/kubernetes", "v1.36.0"),))
    with pytest.raises(
        installer.ToolchainError, match=r"requires k8s.io/kubernetes v1\.37\.2, pins.py pins v1\.36\.0"
    ):
        installer._check_wrapper_pins(other)
