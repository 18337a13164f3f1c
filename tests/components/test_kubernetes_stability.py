"""Determinism and URN stability of the Kubernetes target (prod spec, under mocks).

Two builds of one spec are identical; re-ordering models changes nothing; editing or renaming one
model changes only that model's resources. The one deliberate exception: Grafana's Deployment lists
the dashboard ConfigMaps it mounts, so it changes when the *set* of model names changes (a rename).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown

from stacks.composition import build_platform
from stacks.loader import load_environment
from stacks.schema import EnvironmentSpec
from tests.components.conftest import Recording, as_json, run_program, unwrap_secrets

GRAFANA = "monitoring-grafana"


def build(spec: EnvironmentSpec, *, preview: bool = False) -> Recording:
    return run_program(
        lambda: build_platform(spec, secret=lambda _k: pulumi.Output.secret("https://hooks.example/x")),
        stack=spec.environment.name,
        preview=preview,
    )


def snapshot(rec: Recording) -> dict[str, str]:
    """URN -> everything the engine sees of the resource."""
    return {
        r.urn: as_json([r.type, r.inputs, r.protect, r.retain_on_delete, r.dependencies, r.parent])
        for r in rec.resources
    }


def with_models(spec: EnvironmentSpec, models: list[Any]) -> EnvironmentSpec:
    return spec.model_copy(update={"serving": spec.serving.model_copy(update={"models": models})})


def belongs_to(urn: str, model: str) -> bool:
    name = urn.rsplit("::", 1)[1]
    return name.startswith((f"serving-{model}", f"monitoring-{model}-", f"monitoring-dashboard-{model}"))


@pytest.fixture(scope="module")
def prod() -> tuple[EnvironmentSpec, dict[str, str]]:
    spec = load_environment("prod")
    return spec, snapshot(build(spec))


def test_two_builds_of_one_spec_are_identical(prod: tuple[EnvironmentSpec, dict[str, str]]) -> None:
    spec, first = prod
    assert snapshot(build(spec)) == first


def test_reordering_models_changes_nothing(prod: tuple[EnvironmentSpec, dict[str, str]]) -> None:
    spec, first = prod
    reordered = with_models(spec, list(reversed(spec.serving.models)))
    assert [m.name for m in reordered.serving.models] != [m.name for m in spec.serving.models]
    assert snapshot(build(reordered)) == first


def test_editing_one_model_changes_only_its_resources(prod: tuple[EnvironmentSpec, dict[str, str]]) -> None:
    spec, first = prod
    edited_name = "churn-predictor"
    models = [
        m.model_copy(update={"slo": m.slo.model_copy(update={"p99_latency_ms": 999}), "port": 9000})
        if m.name == edited_name
        else m
        for m in spec.serving.models
    ]
    after = snapshot(build(with_models(spec, models)))
    assert set(after) == set(first)
    changed = {urn for urn in first if first[urn] != after[urn]}
    assert changed, "the edit must show"
    assert all(belongs_to(urn, edited_name) for urn in changed), sorted(changed)


def test_renaming_one_model_leaves_every_other_resource_untouched(
    prod: tuple[EnvironmentSpec, dict[str, str]],
) -> None:
    spec, first = prod
    old, new = "churn-predictor", "churn-scorer"
    models = [m.model_copy(update={"name": new}) if m.name == old else m for m in spec.serving.models]
    after = snapshot(build(with_models(spec, models)))
    removed, added = set(first) - set(after), set(after) - set(first)
    assert removed and all(belongs_to(urn, old) for urn in removed)
    assert added and all(belongs_to(urn, new) for urn in added)
    changed = {urn for urn in set(first) & set(after) if first[urn] != after[urn]}
    assert {urn.rsplit("::", 1)[1] for urn in changed} == {GRAFANA}


def test_a_preview_with_unknown_passwords_registers_the_same_resources(
    prod: tuple[EnvironmentSpec, dict[str, str]],
) -> None:
    """No resource depends on a resolved value (none is created inside ``apply``)."""
    spec, first = prod
    preview = build(spec, preview=True)
    assert {r.urn for r in preview.resources} == set(first)
    # the credentials really were unknown in this run, yet every resource was registered
    assert isinstance(
        unwrap_secrets(preview.named("registry-mlflow-credentials").inputs["stringData"]), Unknown
    )
