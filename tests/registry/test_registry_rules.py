"""Registry rules, exact messages: one compliant baseline, one mutation per violation.

The baseline's annotations come from the program's own renderer (``pin_annotations``), so these
tests judge exactly what the serving workloads carry.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_platform.components import labels as L
from mlops_platform.tools.registry.records import VersionRecord
from mlops_platform.tools.registry.resolve import Resolution, pin_annotations
from tests.policies.policy_fixtures import DELETE, R, deployment, env_config, run_rule, run_stack

RECORD = VersionRecord(
    model="fraud-scorer",
    version=7,
    run_id="0f3c",
    source="s3://models/fraud-scorer/7",
    aliases=("champion",),
    tags={
        L.TAG_APPROVAL_REF: "MRM-2026-014",
        L.TAG_VALIDATION_STATUS: "passed",
        L.TAG_MODEL_CARD_URL: "https://models.acme.example/cards/fraud-scorer/7",
    },
    created="2026-12-01T14:00:00Z",
    metrics={"auc": 0.95, "latency_ms": 12.0},
)
THRESHOLDS = {"auc": ">= 0.92", "latency_ms": "< 50"}


def pinned(record: VersionRecord | None = RECORD, track: str = "stable", **tags: str | None) -> R:
    """A serving Deployment carrying what the program records for ``record`` (None: unresolved)."""
    if record is not None and tags:
        merged = {**record.tags, **{k: v for k, v in tags.items() if v is not None}}
        for key in [k for k, v in tags.items() if v is None]:
            merged.pop(key, None)
        record = VersionRecord(**{**record.__dict__, "tags": merged})
    resolution = Resolution(
        model="fraud-scorer",
        ref="alias:champion",
        where="http://127.0.0.1:5000",
        record=record,
        error=None
        if record
        else 'MLflow registry http://127.0.0.1:5000: alias "champion" of model "fraud-scorer" does not exist',
    )
    res = deployment(track=track)
    annotations: dict[str, Any] = {
        **res.props["metadata"]["annotations"],
        **pin_annotations(resolution, THRESHOLDS),
    }
    res = res.mutate("metadata.annotations", annotations)
    return res.mutate("spec.template.metadata.annotations", dict(annotations))


def annotated(res: R, key: str, value: Any) -> R:
    res = res.mutate(("metadata", "annotations", key), value)
    return res.mutate(("spec", "template", "metadata", "annotations", key), value)


RESOURCE_RULES = (
    "model-version-resolved",
    "model-version-approved",
    "model-version-validated",
    "model-version-metrics",
    "model-version-model-card",
)


@pytest.mark.parametrize("rule", RESOURCE_RULES)
def test_baseline_passes_and_unconsulted_registry_is_not_judged(rule: str) -> None:
    assert run_rule(rule, pinned(), env_config("prod", rule)) == []
    assert run_rule(rule, deployment(), env_config("prod", rule)) == []  # no registry_source


def test_unresolved_version_is_a_finding_and_not_judged_further() -> None:
    res = pinned(None)
    assert run_rule("model-version-resolved", res, env_config("prod", "model-version-resolved")) == [
        'alias:champion of model "fraud-scorer" is not resolved in the registry: MLflow registry '
        'http://127.0.0.1:5000: alias "champion" of model "fraud-scorer" does not exist'
    ]
    for rule in RESOURCE_RULES[1:]:
        assert run_rule(rule, res, env_config("prod", rule)) == []


def test_approval_tag_must_match_the_spec() -> None:
    cfg = env_config("prod", "model-version-approved")
    assert run_rule("model-version-approved", pinned(approval_ref="MRM-2025-001"), cfg) == [
        'version 7 of "fraud-scorer" is approved under "MRM-2025-001", not the spec\'s "MRM-2026-014" '
        '(tag "approval_ref")'
    ]
    assert run_rule("model-version-approved", pinned(approval_ref=None), cfg) == [
        'version 7 of "fraud-scorer" carries no "approval_ref" tag; expected "MRM-2026-014"'
    ]
    assert run_rule("model-version-approved", annotated(pinned(), L.APPROVAL_REF, DELETE), cfg) == [
        'version 7 of "fraud-scorer" cannot be matched to an approval: the spec declares no '
        "governance.approval_ref"
    ]


def test_validation_status_must_be_passed() -> None:
    cfg = env_config("prod", "model-version-validated")
    assert run_rule("model-version-validated", pinned(validation_status="failed"), cfg) == [
        'version 7 of "fraud-scorer" has validation status "failed" (tag "validation_status"); '
        'expected "passed"'
    ]
    assert run_rule("model-version-validated", pinned(validation_status=None), cfg) == [
        'version 7 of "fraud-scorer" has no "validation_status" tag; expected "passed"'
    ]


def test_metrics_must_meet_the_thresholds() -> None:
    cfg = env_config("prod", "model-version-metrics")
    low = VersionRecord(**{**RECORD.__dict__, "metrics": {"auc": 0.9}})
    assert run_rule("model-version-metrics", pinned(low), cfg) == [
        'version 7 of "fraud-scorer": auc 0.9 does not meet >= 0.92',
        'version 7 of "fraud-scorer" logged no "latency_ms" metric (threshold < 50)',
    ]
    no_thresholds = annotated(pinned(low), L.METRIC_THRESHOLDS, DELETE)
    assert run_rule("model-version-metrics", no_thresholds, cfg) == []


def test_high_risk_version_links_a_model_card() -> None:
    cfg = env_config("prod", "model-version-model-card")
    assert run_rule("model-version-model-card", pinned(model_card_url=None), cfg) == [
        'high-risk version 7 of "fraud-scorer" links no model card (https) in tag "model_card_url"'
    ]
    assert run_rule("model-version-model-card", pinned(model_card_url="http://insecure.example/card"), cfg)
    minimal = pinned(model_card_url=None).mutate(("metadata", "labels", L.RISK_TIER), "minimal")
    minimal = minimal.mutate(("spec", "template", "metadata", "labels", L.RISK_TIER), "minimal")
    assert run_rule("model-version-model-card", minimal, cfg) == []


def test_canary_serves_a_newer_version_than_stable() -> None:
    cfg = env_config("prod", "model-canary-newer-version")
    newer = VersionRecord(**{**RECORD.__dict__, "version": 8, "aliases": ("challenger",)})
    older = VersionRecord(**{**RECORD.__dict__, "version": 6, "aliases": ("challenger",)})
    assert run_stack("model-canary-newer-version", [pinned(), pinned(newer, track="canary")], cfg) == []
    canary = pinned(older, track="canary")
    assert run_stack("model-canary-newer-version", [pinned(), canary], cfg) == [
        (
            canary.urn,
            'Deployment "fraud-scorer-canary": the canary of "fraud-scorer" serves version 6, not newer than '
            "the stable version 7",
        )
    ]
