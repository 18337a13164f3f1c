"""``environment.images``: a mirror or per-image overrides reach every container, and only there."""

from __future__ import annotations

import json
from typing import Any

from mlops_platform.stacks.composition import build_platform
from mlops_platform.stacks.images import resolve
from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.schema import EnvironmentSpec, ImageSource
from tests.components.conftest import Recording, run_program, secret_lookup

WEBHOOK = "https://hooks.slack.example/services/IMAGESOURCEPLAINTEXT"


def _with_images(spec: EnvironmentSpec, **source: Any) -> EnvironmentSpec:
    env = spec.environment.model_copy(update={"images": ImageSource(**source)})
    return spec.model_copy(update={"environment": env})


def _build(spec: EnvironmentSpec) -> Recording:
    return run_program(
        lambda: build_platform(spec, secret=secret_lookup(WEBHOOK)), stack=spec.environment.name
    )


def _images(rec: Recording) -> set[str]:
    """Every container image and custom resource ``spec.image`` the program registered."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif key == "image" and isinstance(value, str):
            found.add(value)

    for resource in rec.resources:
        if resource.type.startswith("kubernetes:"):
            walk(json.loads(json.dumps(resource.inputs, default=str)))
    return found


def test_resolve_prefers_an_override_then_the_mirror() -> None:
    source = ImageSource(
        mirror="registry.acme.internal:5000/mirror",
        overrides={"ghcr.io/mlflow/mlflow:v2.16.2": "registry.acme.internal:5000/mlops/mlflow-server:2.16.2"},
    )
    assert (
        resolve("ghcr.io/mlflow/mlflow:v2.16.2", source)
        == "registry.acme.internal:5000/mlops/mlflow-server:2.16.2"
    )
    digest = "docker.io/library/postgres:16.4@sha256:" + "a" * 64
    assert resolve(digest, source) == f"registry.acme.internal:5000/mirror/{digest}"
    assert resolve(digest, ImageSource()) == digest


def test_a_mirror_reaches_every_image_of_the_platform() -> None:
    spec = load_environment("staging")
    plain = _images(_build(spec))
    mirrored = _images(_build(_with_images(spec, mirror="mirror.acme.internal/public")))
    assert plain and all(not image.startswith("mirror.acme.internal/") for image in plain)
    assert mirrored == {f"mirror.acme.internal/public/{image}" for image in plain}


def test_an_override_replaces_exactly_its_image() -> None:
    spec = load_environment("staging")
    target = spec.registry.model_registry.image
    replacement = "registry.acme.internal/mlops/mlflow-server:2.16.2"
    plain = _images(_build(spec))
    overridden = _images(_build(_with_images(spec, overrides={target: replacement})))
    assert target in plain
    assert overridden == (plain - {target}) | {replacement}
