"""The registry rules judged through the real program and packs, against a real MLflow server.

One compliant registry (every registry rule judges and passes), one broken registry (each rule fails
once, on the model it should), the same verdict offline from a snapshot, and an alias moved between
two previews changing exactly that model's resources.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.policies.catalogue import RULES
from mlops_platform.policies.rules import registry as registry_rules
from mlops_platform.tools.engine.audit import audit_environment, capture_environment
from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.registry.lookup import SNAPSHOT_ENV
from tests.cli_runner import mlops
from tests.registry.conftest import Registry, free_port
from tests.registry.envs import approved, registry_env

pytestmark = pytest.mark.slow

REGISTRY_RULES = {r.name for r in RULES if r.check.__module__ == registry_rules.__name__}
DEPLOYMENT = (
    "urn:pulumi:prod::mlops-platform::mlops:serving:ServingStack$mlops:serving:ModelEndpoint"
    "$kubernetes:apps/v1:Deployment::"
)


def seed_compliant(registry: Registry) -> None:
    registry.run(
        {
            "op": "version",
            "model": "fraud-scorer",
            "tags": approved("MRM-2026-014"),
            "metrics": {"auc": 0.93},
        },
        {
            "op": "version",
            "model": "fraud-scorer",
            "tags": approved("MRM-2026-014"),
            "metrics": {"auc": 0.95},
            "aliases": ["champion"],
        },
        {
            "op": "version",
            "model": "fraud-scorer",
            "tags": approved("MRM-2026-014"),
            "metrics": {"auc": 0.96},
            "aliases": ["challenger"],
        },
        {
            "op": "version",
            "model": "churn-predictor",
            "tags": approved("MRM-2026-021"),
            "metrics": {"auc": 0.84},
        },
        {
            "op": "version",
            "model": "churn-predictor",
            "tags": approved("MRM-2026-021"),
            "metrics": {"auc": 0.86},
        },
        {"op": "version", "model": "recommender", "tags": approved("MRM-2026-030"), "aliases": ["champion"]},
    )


def seed_broken(registry: Registry) -> None:
    """fraud-scorer: champion unapproved and without a card, challenger older; churn v2 failed and below
    its threshold; recommender without a champion."""
    registry.run(
        {
            "op": "version",
            "model": "fraud-scorer",
            "tags": approved("MRM-2026-014"),
            "metrics": {"auc": 0.95},
            "aliases": ["challenger"],
        },
        {
            "op": "version",
            "model": "fraud-scorer",
            "tags": approved("MRM-2025-001", card=False),
            "metrics": {"auc": 0.95},
            "aliases": ["champion"],
        },
        {
            "op": "version",
            "model": "churn-predictor",
            "tags": approved("MRM-2026-021"),
            "metrics": {"auc": 0.84},
        },
        {
            "op": "version",
            "model": "churn-predictor",
            "tags": approved("MRM-2026-021", status="failed"),
            "metrics": {"auc": 0.79},
        },
        {"op": "version", "model": "recommender", "tags": approved("MRM-2026-030")},
    )


def registry_findings(result: AuditResult) -> list[tuple[str, str, str]]:
    return sorted(
        (f.policy, f.urn.removeprefix(DEPLOYMENT), f.message)
        for f in result.findings
        if f.policy in REGISTRY_RULES
    )


def broken_findings(uri: str) -> list[tuple[str, str, str]]:
    return sorted(
        [
            (
                "model-canary-newer-version",
                "serving-fraud-scorer-canary-deployment",
                'Deployment "serving-fraud-scorer-canary-deployment": the canary of "fraud-scorer" serves '
                "version 1, not newer than the stable version 2",
            ),
            (
                "model-version-approved",
                "serving-fraud-scorer-deployment",
                'version 2 of "fraud-scorer" is approved under "MRM-2025-001", '
                'not the spec\'s "MRM-2026-014" (tag "approval_ref")',
            ),
            (
                "model-version-metrics",
                "serving-churn-predictor-deployment",
                'version 2 of "churn-predictor": auc 0.79 does not meet >= 0.8',
            ),
            (
                "model-version-model-card",
                "serving-fraud-scorer-deployment",
                'high-risk version 2 of "fraud-scorer" links no model card (https) in tag "model_card_url"',
            ),
            (
                "model-version-resolved",
                "serving-recommender-deployment",
                'alias:champion of model "recommender" is not resolved in the registry: '
                f'MLflow registry {uri}: alias "champion" of model "recommender" does not exist',
            ),
            (
                "model-version-validated",
                "serving-churn-predictor-deployment",
                'version 2 of "churn-predictor" has validation status "failed" (tag "validation_status"); '
                'expected "passed"',
            ),
        ]
    )


def _deployment(result_resources: list[Any], name: str) -> Any:
    return next(r for r in result_resources if r.urn == DEPLOYMENT + name)


def test_compliant_registry_passes_every_registry_rule_with_pinned_versions(
    registry: Registry, tmp_path: Path
) -> None:
    seed_compliant(registry)
    result = audit_environment(registry_env(tmp_path, "prod", registry.uri))
    assert registry_findings(result) == []
    judged = {(c.policy, c.urn.removeprefix(DEPLOYMENT)) for c in result.checks if c.policy in REGISTRY_RULES}
    for model in ("fraud-scorer", "churn-predictor", "recommender"):
        assert ("model-version-approved", f"serving-{model}-deployment") in judged
    assert result.passed, [f.message for f in result.blocking]
    stable = _deployment(result.resources, "serving-fraud-scorer-deployment").inputs
    canary = _deployment(result.resources, "serving-fraud-scorer-canary-deployment").inputs
    assert stable["metadata"]["labels"][L.MODEL_VERSION] == "2"
    assert canary["metadata"]["labels"][L.MODEL_VERSION] == "3"
    env = {e["name"]: e.get("value") for e in stable["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MODEL_URI"] == "models:/fraud-scorer/2"
    notes = stable["metadata"]["annotations"]
    assert notes[L.REGISTRY_REF] == "alias:champion" and notes[L.REGISTRY_ALIASES] == "champion"
    assert json.loads(notes[L.REGISTRY_METRICS]) == {"auc": 0.95}
    assert json.loads(notes[L.REGISTRY_TAGS])["approval_ref"] == "MRM-2026-014"
    assert notes[L.REGISTRY_RUN_ID] and notes[L.REGISTRY_SOURCE].endswith(notes[L.REGISTRY_RUN_ID])


def test_broken_registry_fails_each_rule_once_live_and_from_a_snapshot(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_broken(registry)
    live = registry_env(tmp_path / "live", "prod", registry.uri)
    assert registry_findings(audit_environment(live)) == broken_findings(registry.uri)

    snapshot = tmp_path / "snapshot.json"
    made = mlops("registry", "snapshot", str(live), "-o", str(snapshot))
    assert made.returncode == 0, made.stderr
    assert made.stderr.strip() == f"wrote {snapshot}: 3 models, 5 versions"
    offline = registry_env(tmp_path / "offline", "prod", f"http://127.0.0.1:{free_port()}")  # nothing there
    monkeypatch.setenv(SNAPSHOT_ENV, str(snapshot))
    expected = [
        (p, u, m.replace(f"MLflow registry {registry.uri}", f"snapshot:{snapshot}"))
        for p, u, m in broken_findings(registry.uri)
    ]
    assert registry_findings(audit_environment(offline)) == sorted(expected)


def test_audit_cli_reports_an_unapproved_version_in_prod(registry: Registry, tmp_path: Path) -> None:
    seed_broken(registry)
    result = mlops("audit", str(registry_env(tmp_path, "prod", registry.uri)))
    assert result.returncode == 1
    assert "model-version-approved (mlops-governance, mandatory)" in result.stdout
    assert 'is approved under "MRM-2025-001", not the spec\'s "MRM-2026-014"' in result.stdout


def test_unreachable_registry_fails_the_mandatory_rule_rather_than_passing(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    result = audit_environment(registry_env(tmp_path, "prod", uri))
    unresolved = [f for f in result.blocking if f.policy == "model-version-resolved"]
    assert len(unresolved) == 4  # fraud-scorer stable and canary, churn-predictor, recommender
    assert all(
        f"MLflow registry {uri} is unreachable: [Errno 111] Connection refused" in f.message
        for f in unresolved
    )
    assert not result.passed


def test_moving_champion_changes_exactly_that_models_resources(registry: Registry, tmp_path: Path) -> None:
    seed_compliant(registry)
    path = registry_env(tmp_path, "prod", registry.uri)
    before = {r.urn: r.inputs for r in capture_environment(path).resources}
    newest = registry.version("fraud-scorer", tags=approved("MRM-2026-014"), metrics={"auc": 0.97})
    registry.alias("fraud-scorer", "champion", newest)
    after = {r.urn: r.inputs for r in capture_environment(path).resources}
    assert before.keys() == after.keys()
    changed = sorted(urn.rsplit("::", 1)[1] for urn in before if before[urn] != after[urn])
    # The stable Deployment pins the new version; its Service, HPA, PDB, NetworkPolicy and route carry the
    # model-version label. The canary, the other models and every other layer are untouched.
    assert changed == [
        f"serving-fraud-scorer-{role}" for role in ("deployment", "hpa", "ingress", "pdb", "route", "service")
    ]


def _served(result: AuditResult, env_file: Path) -> dict[str, list[dict[str, Any]]]:
    """Per model, the versions the report says each serving workload serves (issue 24, item 3)."""
    from mlops_platform.stacks.loader import load_environment
    from mlops_platform.tools.reports import build_report
    from mlops_platform.tools.reports.inventory import declared_models
    from tests.reports.report_fixtures import provenance

    declaration = declared_models(load_environment(env_file))
    report = build_report([result], provenance=provenance(), declarations={result.environment: declaration})
    return {m["name"]: m["served"] for m in report["environments"][0]["models"]}


def test_the_report_names_the_exact_version_each_endpoint_serves(registry: Registry, tmp_path: Path) -> None:
    seed_compliant(registry)
    env_file = registry_env(tmp_path, "prod", registry.uri)
    served = _served(audit_environment(env_file), env_file)
    fraud = {row["track"]: row for row in served["fraud-scorer"]}
    assert set(fraud) == {"stable", "canary"}
    assert (fraud["stable"]["version"], fraud["stable"]["requested"], fraud["stable"]["resolution"]) == (
        2,
        "alias:champion",
        "resolved",
    )
    assert (fraud["canary"]["version"], fraud["canary"]["requested"]) == (3, "alias:challenger")
    assert fraud["stable"]["model_uri"] == "models:/fraud-scorer/2"
    assert fraud["stable"]["registry"] == registry.uri
    assert fraud["stable"]["artifact_source"].endswith(fraud["stable"]["run_id"])
    assert fraud["stable"]["artifact_digest"] is None  # MLflow records no digest of the artifact


def test_an_alias_no_registry_resolved_serves_no_known_version(tmp_path: Path) -> None:
    env_file = registry_env(tmp_path, "prod", f"http://127.0.0.1:{free_port()}")
    served = _served(audit_environment(env_file), env_file)
    stable = next(row for row in served["fraud-scorer"] if row["track"] == "stable")
    assert (stable["version"], stable["resolution"], stable["model_uri"]) == (
        None,
        "unresolved",
        "models:/fraud-scorer/champion",
    )
