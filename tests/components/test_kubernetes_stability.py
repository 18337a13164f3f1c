"""Determinism and URN stability of the Kubernetes target (prod spec, under mocks).

Two builds of one spec are identical; re-ordering models changes nothing; editing or renaming one
model changes only that model's resources. The one deliberate exception: Grafana's Deployment lists
the dashboard ConfigMaps it mounts, so it changes when the *set* of model names changes (a rename).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown

from mlops_platform.stacks.composition import build_platform
from mlops_platform.stacks.credentials_config import CREDENTIAL_ROTATIONS_KEY, CREDENTIAL_SEED_KEY
from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.schema import EnvironmentSpec
from tests.components.conftest import Recording, as_json, run_program, secret_lookup, unwrap_secrets

GRAFANA = "monitoring-grafana"
ROTATIONS = f"mlops-platform:{CREDENTIAL_ROTATIONS_KEY}"
LOOKUP = secret_lookup("https://hooks.example/x")


def build(
    spec: EnvironmentSpec,
    *,
    preview: bool = False,
    secret: Callable[[str], pulumi.Output[str]] = LOOKUP,
    rotations: dict[str, int] | None = None,
) -> Recording:
    config = {ROTATIONS: json.dumps(rotations)} if rotations is not None else {}
    return run_program(
        lambda: build_platform(spec, secret=secret),
        stack=spec.environment.name,
        preview=preview,
        config=config,
    )


def unknown_seed(key: str) -> pulumi.Output[str]:
    """A lookup whose credential seed is unknown, as a secret computed by another resource would be."""
    if key != CREDENTIAL_SEED_KEY:
        return pulumi.Output.secret("https://hooks.example/x")
    loop = asyncio.get_event_loop()
    value, known, secret = loop.create_future(), loop.create_future(), loop.create_future()
    value.set_result(None)
    known.set_result(False)
    secret.set_result(True)
    return pulumi.Output(set(), value, known, secret)


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


def test_a_preview_with_unknown_credentials_registers_the_same_resources(
    prod: tuple[EnvironmentSpec, dict[str, str]],
) -> None:
    """No resource depends on a resolved value (none is created inside ``apply``)."""
    spec, first = prod
    preview = build(spec, preview=True, secret=unknown_seed)
    assert {r.urn for r in preview.resources} == set(first)
    # the credentials really were unknown in this run, yet every resource was registered
    assert isinstance(
        unwrap_secrets(preview.named("registry-mlflow-credentials").inputs["stringData"]), Unknown
    )


def test_rotating_one_credential_changes_only_what_holds_it(
    prod: tuple[EnvironmentSpec, dict[str, str]],
) -> None:
    spec, first = prod
    assert snapshot(build(spec, rotations={})) == first  # generation 0 is the default
    after = snapshot(build(spec, rotations={"storage-minio-secret-key": 1}))
    assert set(after) == set(first)
    changed = {urn.rsplit("::", 1)[1] for urn in first if first[urn] != after[urn]}
    # the object store's Secret, and MLflow's and the drift jobs', which hold the key for their S3 clients
    assert changed == {
        "storage-minio-credentials",
        "registry-mlflow-credentials",
        "monitoring-drift-credentials",
    }
