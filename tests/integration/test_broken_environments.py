"""Deliberately broken environments, audited end to end: program under mocks, real packs, exact findings.

Each case edits the bundled prod spec in one governance-relevant way that the schema accepts
(structure stays valid) and asserts the exact set of findings the packs report: no more, no less.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.tools.engine.audit import audit_environment
from mlops_platform.tools.findings import AuditResult

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROD = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
DIGEST = "@sha256:" + "ab" * 32

Edit = Callable[[dict[str, Any]], None]
Expected = set[tuple[str, str, str]]  # (policy, resource name, message)


def _model(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in config["config"]["mlops-platform:serving"]["models"] if m["name"] == name)


def _storage(config: dict[str, Any]) -> dict[str, Any]:
    return config["config"]["mlops-platform:storage"]


def unpinned_image(c: dict[str, Any]) -> None:
    _model(c, "fraud-scorer")["image"] = "ghcr.io/acme-ml/fraud-scorer:3.2.0"


def unapproved_registry(c: dict[str, Any]) -> None:
    _model(c, "recommender")["image"] = f"docker.io/someone/recommender:5.0.1{DIGEST}"


def ad_hoc_model_uri(c: dict[str, Any]) -> None:
    _model(c, "churn-predictor")["model"] = {"uri": "s3://datasets/churn/model.pkl"}


def undocumented_high_risk_model(c: dict[str, Any]) -> None:
    governance = _model(c, "fraud-scorer")["governance"]
    del governance["model_card_url"], governance["approval_ref"]


def classification_above_ceiling(c: dict[str, Any]) -> None:
    _model(c, "recommender")["governance"]["data_classification"] = "restricted"


def single_replica(c: dict[str, Any]) -> None:
    _model(c, "churn-predictor")["replicas"] = {"min": 1, "max": 3}


def drift_off_for_high_risk(c: dict[str, Any]) -> None:
    _model(c, "fraud-scorer")["drift"] = {"enabled": False}


def short_backup_retention(c: dict[str, Any]) -> None:
    _storage(c)["database"] = {"backup": {"retention_days": 7}}


def backups_disabled(c: dict[str, Any]) -> None:
    _storage(c)["database"] = {"backup": {"enabled": False, "retention_days": 30}}


def unencrypted_unversioned_store(c: dict[str, Any]) -> None:
    _storage(c)["object_store"] = {
        "encryption": False,
        "buckets": [{"name": "mlflow-artifacts", "versioning": False}],
    }


def _not_pinned(container: str) -> str:
    image = "ghcr.io/acme-ml/fraud-scorer:3.2.0"
    return f'container "{container}" image "{image}" is not pinned by digest (@sha256:...)'


def _unapproved(container: str) -> str:
    return (
        f'container "{container}" image "docker.io/someone/recommender:5.0.1{DIGEST}" '
        "is not from an approved registry (ghcr.io/acme-ml, ghcr.io/mlflow, docker.io/library, "
        "docker.io/prom, docker.io/grafana, quay.io/minio)"
    )


NO_APPROVAL = 'high-risk model has no approval reference in "mlops.dev/approval-ref"'
NO_CARD = 'high-risk model has no model card URL (https) in "mlops.dev/model-card-url"'


def _drift_disabled(deployment: str) -> str:
    return f'Deployment "{deployment}": high-risk model has drift checks "disabled" (mlops.dev/drift-check)'


CASES: dict[str, tuple[Edit, Expected]] = {
    "unpinned-image": (
        unpinned_image,
        {
            ("image-digest-pinned", "monitoring-fraud-scorer-drift", _not_pinned("drift-check")),
            ("image-digest-pinned", "serving-fraud-scorer-deployment", _not_pinned("model-server")),
            ("image-digest-pinned", "serving-fraud-scorer-canary-deployment", _not_pinned("model-server")),
        },
    ),
    "unapproved-registry": (
        unapproved_registry,
        {
            ("image-approved-registry", "monitoring-recommender-drift", _unapproved("drift-check")),
            ("image-approved-registry", "serving-recommender-deployment", _unapproved("model-server")),
        },
    ),
    "ad-hoc-model-uri": (
        ad_hoc_model_uri,
        {
            (
                "model-registry-source",
                "serving-churn-predictor-deployment",
                'model source is "uri"; allowed: registry-version, registry-alias (mlops.dev/model-source)',
            )
        },
    ),
    "undocumented-high-risk-model": (
        undocumented_high_risk_model,
        {
            ("model-high-risk-documentation", deployment, message)
            for deployment in ("serving-fraud-scorer-deployment", "serving-fraud-scorer-canary-deployment")
            for message in (NO_APPROVAL, NO_CARD)
        },
    ),
    "classification-above-ceiling": (
        classification_above_ceiling,
        {
            (
                "model-classification-ceiling",
                "serving-recommender-deployment",
                'Deployment "serving-recommender-deployment": serves "restricted" data above the namespace '
                '"mlops-prod" ceiling "confidential"',
            )
        },
    ),
    "single-replica": (
        single_replica,
        {
            (
                "workload-min-replicas",
                "serving-churn-predictor-deployment",
                'Deployment "serving-churn-predictor-deployment": runs at least 1 replica(s); '
                "the tier minimum is 3",
            ),
            (
                "autoscaler-bounds-sane",
                "serving-churn-predictor-hpa",
                "minReplicas 1 is below the tier minimum of 3",
            ),
        },
    ),
    "drift-off-for-high-risk": (
        drift_off_for_high_risk,
        {
            ("model-drift-check", d, _drift_disabled(d))
            for d in ("serving-fraud-scorer-deployment", "serving-fraud-scorer-canary-deployment")
        },
    ),
    "short-backup-retention": (
        short_backup_retention,
        {
            (
                "database-backups-scheduled",
                "storage-postgres",
                'StatefulSet "storage-postgres": backup retention of 7 day(s) is below the minimum of 30',
            )
        },
    ),
    "backups-disabled": (
        backups_disabled,
        {
            (
                "database-backups-scheduled",
                "storage-postgres",
                'StatefulSet "storage-postgres": no backup CronJob '
                '(label mlops.dev/backup-of="storage-postgres") is scheduled',
            )
        },
    ),
    "unencrypted-unversioned-store": (
        unencrypted_unversioned_store,
        {
            (
                "object-store-encryption",
                "storage-minio",
                'encryption at rest is "disabled" (mlops.dev/encryption-at-rest); it must be "enabled"',
            ),
            (
                "object-store-versioning",
                "storage-minio",
                'bucket versioning is "disabled" (mlops.dev/bucket-versioning); it must be "enabled"',
            ),
        },
    ),
}


def _audit(tmp_path: Path, edit: Edit | None) -> AuditResult:
    config = copy.deepcopy(PROD)
    if edit is not None:
        edit(config)
    env_file = tmp_path / "Pulumi.prod.yaml"  # the stack name (prod) selects policies/config/prod.json
    env_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return audit_environment(env_file)


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def test_bundled_prod_has_no_finding_at_all(tmp_path: Path) -> None:
    result = _audit(tmp_path, None)
    assert result.findings == [], [f.message for f in result.findings]
    assert result.passed
    assert len(result.resources) > 70 and len(result.policies) >= 35  # 80 since credentials need no provider


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_environment_triggers_exactly_its_rules(tmp_path: Path, case: str) -> None:
    edit, expected = CASES[case]
    result = _audit(tmp_path, edit)
    found = {(f.policy, _name(f.urn), f.message) for f in result.findings}
    assert found == expected
    assert all(f.enforcement.value == "mandatory" and f.kind == "violation" for f in result.findings)
    assert not result.passed
