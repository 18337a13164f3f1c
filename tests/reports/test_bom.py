"""The AI-BOM (issue 24): a CycloneDX 1.6 ML-BOM of the bundled environments, valid against its schema.

Validated by cyclonedx-python-lib's strict JSON validator (CycloneDX's own 1.6 schema, shipped in the
library, with jsonschema), never by a hand-written check; a broken BOM is shown to fail it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from mlops_platform.stacks.loader import load_environment
from mlops_platform.tools.engine.audit import audit_capture_and_packs, discover_packs
from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.reports import render
from mlops_platform.tools.reports.bom import split_image
from mlops_platform.tools.reports.inventory import Declaration, declared_models
from tests.cli_runner import mlops
from tests.reports.report_fixtures import provenance

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
STAMP = "2026-12-01T00:00:00Z"
PREFIX = "mlops-platform:"


@pytest.fixture(scope="module")
def audited() -> tuple[list[AuditResult], dict[str, Declaration]]:
    results, declarations = [], {}
    for env in ("dev", "prod"):
        _, result = audit_capture_and_packs(
            REPO / "stacks" / f"Pulumi.{env}.yaml",
            packs=discover_packs(),
            config_dir=REPO / "policies" / "config",
            program=REPO / "__main__.py",
        )
        results.append(result)
        declarations[env] = declared_models(load_environment(REPO / "stacks" / f"Pulumi.{env}.yaml"))
    return results, declarations


@pytest.fixture(scope="module")
def bom_text(audited: tuple[list[AuditResult], dict[str, Declaration]]) -> str:
    results, declarations = audited
    return render(
        results, "cyclonedx", provenance=provenance(), declarations=declarations, generated_at=STAMP
    )


def _validate(text: str) -> str | None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return None if error is None else str(error)


def _environment(bom: dict[str, Any], name: str) -> dict[str, Any]:
    (env,) = [c for c in bom["components"] if c["type"] == "platform" and c["name"] == name]
    return env


def _props(component: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", []):
        out.setdefault(p["name"].removeprefix(PREFIX), []).append(p["value"])
    return out


def test_the_bom_is_valid_cyclonedx_1_6(bom_text: str) -> None:
    assert _validate(bom_text) is None
    bom = json.loads(bom_text)
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")


def test_the_validator_refuses_a_broken_bom(bom_text: str) -> None:
    """The check can fail: a digest that is not a SHA-256 and an unknown component type are refused."""
    bom = json.loads(bom_text)
    image = next(c for c in _environment(bom, "prod")["components"] if c["type"] == "container")
    image["hashes"][0]["content"] = "not-a-digest"
    assert "does not match" in (_validate(json.dumps(bom)) or "")
    bom = json.loads(bom_text)
    _environment(bom, "prod")["components"][0]["type"] = "model"
    assert "is not one of" in (_validate(json.dumps(bom)) or "")


def test_each_model_is_a_machine_learning_model_with_its_governance(bom_text: str) -> None:
    prod = _environment(json.loads(bom_text), "prod")
    models = {c["name"]: c for c in prod["components"] if c["type"] == "machine-learning-model"}
    assert sorted(models) == ["churn-predictor", "fraud-scorer", "recommender"]
    fraud = models["fraud-scorer"]
    assert fraud["version"] == "40"  # prod pins it
    assert fraud["externalReferences"] == [
        {"type": "model-card", "url": "https://models.acme.example/cards/fraud-scorer"}
    ]
    props = _props(fraud)
    assert props["model.risk-tier"] == ["high"]
    assert props["model.data-classification"] == ["confidential"]
    assert props["model.approval-ref"] == ["MRM-2026-014"]
    assert props["model.owner"] == ["fraud-ml@acme.example"]
    assert props["model.canary"] == ["41"]
    # An alias is recorded as such, with no made-up version.
    recommender = models["recommender"]
    assert "version" not in recommender
    assert _props(recommender)["model.alias"] == ["champion"]


def test_each_model_depends_on_the_image_that_serves_it_with_its_digest(bom_text: str) -> None:
    bom = json.loads(bom_text)
    prod = _environment(bom, "prod")
    by_ref = {c["bom-ref"]: c for c in prod["components"]}
    depends = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    spec = load_environment(REPO / "stacks" / "Pulumi.prod.yaml")
    for model in spec.serving.models:
        (image_ref,) = depends[f"prod/model/{model.name}"]
        image = by_ref[image_ref]
        repository, tag, digest = split_image(model.image)
        assert (image["type"], image["name"], image["version"]) == ("container", repository, tag)
        assert digest is not None and image["hashes"] == [{"alg": "SHA-256", "content": digest}]
        assert image["purl"].startswith(f"pkg:oci/{repository.rsplit('/', 1)[-1]}@sha256:{digest}?")


def test_the_platforms_own_images_are_components(bom_text: str) -> None:
    bom = json.loads(bom_text)
    prod = _environment(bom, "prod")
    roles = {
        role: c for c in prod["components"] if c["type"] == "container" for role in _props(c)["image.role"]
    }
    spec = load_environment(REPO / "stacks" / "Pulumi.prod.yaml")
    assert roles["registry.model_registry.image"]["name"] == "ghcr.io/acme-ml/mlflow-server"
    assert _props(roles["monitoring.prometheus_image"])["image.reference"] == [
        spec.monitoring.prometheus_image
    ]
    assert all(_props(c)["image.pinned-by-digest"] == ["true"] for c in roles.values()), "prod pins all"
    # dev's images are named by tag only: no hash, no purl, and the BOM says so.
    dev = [c for c in _environment(bom, "dev")["components"] if c["type"] == "container"]
    assert dev and all("hashes" not in c and "purl" not in c for c in dev)
    assert all(_props(c)["image.pinned-by-digest"] == ["false"] for c in dev)


def test_the_bom_states_its_scope_and_that_no_data_set_is_declared(bom_text: str) -> None:
    bom = json.loads(bom_text)
    scope = _props(bom["metadata"])
    assert scope["scope.basis"][0].startswith("design-time configuration")
    assert any("not verified" in item for item in scope["scope.not-verified"])
    assert _props(_environment(bom, "prod"))["datasets"] == ["none declared (the spec names no data set)"]


def test_the_same_audit_gives_the_same_bom(
    audited: tuple[list[AuditResult], dict[str, Declaration]], bom_text: str
) -> None:
    results, declarations = audited
    again = render(
        results, "cyclonedx", provenance=provenance(), declarations=declarations, generated_at=STAMP
    )
    assert again == bom_text


def test_images_are_named_as_deployed_through_the_mirror() -> None:
    spec = load_environment(REPO / "stacks" / "Pulumi.prod.yaml")
    images = spec.environment.images.model_copy(update={"mirror": "mirror.acme.example/hub"})
    mirrored = spec.model_copy(update={"environment": spec.environment.model_copy(update={"images": images})})
    declaration = declared_models(mirrored)
    fraud = next(m for m in declaration.models if m["name"] == "fraud-scorer")
    assert fraud["image"] == f"mirror.acme.example/hub/{spec.serving.models[0].image}"
    assert all(i["reference"].startswith("mirror.acme.example/hub/") for i in declaration.images)


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("ghcr.io/a/b:1.0@sha256:" + "0" * 64, ("ghcr.io/a/b", "1.0", "0" * 64)),
        ("registry.local:5000/a/b:2", ("registry.local:5000/a/b", "2", None)),
        ("registry.local:5000/a/b", ("registry.local:5000/a/b", None, None)),
        ("docker.io/library/postgres@sha256:" + "f" * 64, ("docker.io/library/postgres", None, "f" * 64)),
    ],
)
def test_image_references_split_into_repository_tag_and_digest(
    reference: str, parts: tuple[str, str | None, str | None]
) -> None:
    assert split_image(reference) == parts


def test_mlops_audit_writes_the_bom(tmp_path: Path) -> None:
    done = mlops("audit", "prod", "-f", "cyclonedx", "-f", "json", "-o", str(tmp_path), cwd=REPO)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "mlops-audit.cdx.json"
    assert f"wrote {written}" in done.stderr
    assert _validate(written.read_text(encoding="utf-8")) is None
    wrong = mlops("audit", "prod", "-f", "spdx", cwd=REPO)
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == (
        "--format: must be among text, json, sarif, junit, markdown, html, cyclonedx (got spdx)"
    )
