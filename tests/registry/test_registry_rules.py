"""Registry rules, exact messages: one compliant baseline, one mutation per violation.

The baseline's annotations come from the program's own renderer (``pin_annotations``), so these
tests judge exactly what the serving workloads carry.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.tools.registry.records import VersionRecord
from mlops_platform.tools.registry.resolve import Resolution, pin_annotations
from tests.policies.policy_fixtures import (
    DELETE,
    NotApplicable,
    R,
    deployment,
    env_config,
    run_rule,
    run_stack,
)

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
    unconsulted = run_rule(rule, deployment(), env_config("prod", rule))  # no registry_source
    assert isinstance(unconsulted, NotApplicable), unconsulted


UNRESOLVED = (
    'alias:champion of model "fraud-scorer" is not resolved in the registry: MLflow registry '
    'http://127.0.0.1:5000: alias "champion" of model "fraud-scorer" does not exist'
)
LOW = VersionRecord(**{**RECORD.__dict__, "metrics": {"auc": 0.9}})
_MINIMAL = pinned(model_card_url=None).mutate(("metadata", "labels", L.RISK_TIER), "minimal")
_MINIMAL = _MINIMAL.mutate(("spec", "template", "metadata", "labels", L.RISK_TIER), "minimal")

# (rule, case, resource, exact messages): one mutation of the baseline per violation, and the
# mutations a rule must not flag. tests/policies/test_policy_rules.py counts these as its cases.
REGISTRY_CASES: list[tuple[str, str, R, list[str]]] = [
    ("model-version-resolved", "unresolved", pinned(None), [UNRESOLVED]),
    ("model-version-approved", "unresolved: not judged further", pinned(None), []),
    (
        "model-version-approved",
        "approved under another reference",
        pinned(approval_ref="MRM-2025-001"),
        [
            'version 7 of "fraud-scorer" is approved under "MRM-2025-001", not the spec\'s "MRM-2026-014" '
            '(tag "approval_ref")'
        ],
    ),
    (
        "model-version-approved",
        "no approval tag",
        pinned(approval_ref=None),
        ['version 7 of "fraud-scorer" carries no "approval_ref" tag; expected "MRM-2026-014"'],
    ),
    (
        "model-version-approved",
        "no approval reference in the spec",
        annotated(pinned(), L.APPROVAL_REF, DELETE),
        [
            'version 7 of "fraud-scorer" cannot be matched to an approval: the spec declares no '
            "governance.approval_ref"
        ],
    ),
    ("model-version-validated", "unresolved: not judged further", pinned(None), []),
    (
        "model-version-validated",
        "validation failed",
        pinned(validation_status="failed"),
        [
            'version 7 of "fraud-scorer" has validation status "failed" (tag "validation_status"); '
            'expected "passed"'
        ],
    ),
    (
        "model-version-validated",
        "no validation tag",
        pinned(validation_status=None),
        ['version 7 of "fraud-scorer" has no "validation_status" tag; expected "passed"'],
    ),
    ("model-version-metrics", "unresolved: not judged further", pinned(None), []),
    (
        "model-version-metrics",
        "below one threshold, another metric not logged",
        pinned(LOW),
        [
            'version 7 of "fraud-scorer": auc 0.9 does not meet >= 0.92',
            'version 7 of "fraud-scorer" logged no "latency_ms" metric (threshold < 50)',
        ],
    ),
    (
        "model-version-metrics",
        "no thresholds declared",
        annotated(pinned(LOW), L.METRIC_THRESHOLDS, DELETE),
        [],
    ),
    ("model-version-model-card", "unresolved: not judged further", pinned(None), []),
    (
        "model-version-model-card",
        "no model card",
        pinned(model_card_url=None),
        ['high-risk version 7 of "fraud-scorer" links no model card (https) in tag "model_card_url"'],
    ),
    (
        "model-version-model-card",
        "plain-http model card",
        pinned(model_card_url="http://insecure.example/card"),
        ['high-risk version 7 of "fraud-scorer" links no model card (https) in tag "model_card_url"'],
    ),
    ("model-version-model-card", "minimal risk needs none", _MINIMAL, []),
]


@pytest.mark.parametrize(
    ("rule", "case", "res", "expected"), REGISTRY_CASES, ids=[f"{c[0]}:{c[1]}" for c in REGISTRY_CASES]
)
def test_violation(rule: str, case: str, res: R, expected: list[str]) -> None:
    assert run_rule(rule, res, env_config("prod", rule)) == expected


def test_every_registry_resource_rule_has_a_violation_case() -> None:
    assert {c[0] for c in REGISTRY_CASES if c[3]} == set(RESOURCE_RULES)


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
