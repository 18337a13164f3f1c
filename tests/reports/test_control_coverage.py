"""Coverage per control: a control passes only on a passed full-coverage rule; a high-risk model's
controls are never "not applicable"."""

from __future__ import annotations

import json
from pathlib import Path

from mlops_platform.policies.catalogue import RULES, RULES_BY_NAME, control_coverage
from mlops_platform.policies.controls import Coverage, coverage_of
from mlops_platform.stacks.loader import load_environment
from mlops_platform.tools.findings import AuditResult, CapturedResource, Check, Enforcement
from mlops_platform.tools.reports import render
from mlops_platform.tools.reports.inventory import Declaration, declared_models
from mlops_platform.tools.required_controls import CONTROL_NOT_EVALUATED, required_control_findings
from tests.reports.report_fixtures import policy, provenance, urn

STAMP = "2026-06-01T10:00:00Z"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def test_every_mapping_declares_coverage_and_a_rationale_in_the_rule_tags() -> None:
    for rule in RULES:
        assert rule.mappings, rule.name
        tagged = coverage_of(rule.tags)
        for mapping in rule.mappings:
            assert mapping.rationale.strip(), (rule.name, mapping.control)
            assert tagged[mapping.control] is mapping.coverage, (rule.name, mapping.control)


def test_reviewed_mappings_claim_no_more_than_the_control_says() -> None:
    coverage = control_coverage()
    # A digest is not a signature: CM-14 "Signed Components" is not evidenced by a pin.
    assert "nist-800-53:CM-14" not in RULES_BY_NAME["image-digest-pinned"].controls
    assert not coverage.get("nist-800-53:CM-14", {}).get(Coverage.FULL)
    # CIS 5.5.1 asks for the ImagePolicyWebhook admission controller: an allowlist only partly shows it.
    assert coverage["cis-kubernetes:5.5.1"] == {
        Coverage.FULL: [],
        Coverage.PARTIAL: ["image-approved-registry"],
    }
    # Organisational frameworks are never fully evidenced by design-time configuration.
    for control, by in coverage.items():
        if control.split(":", 1)[0] in ("eu-ai-act", "nist-ai-rmf", "soc2", "iso-27001", "nist-800-53"):
            assert by[Coverage.FULL] == [], control


def _workload(name: str) -> CapturedResource:
    return CapturedResource(urn("prod", DEPLOYMENT, name), DEPLOYMENT, name, True, {})


def _result(*policies_checked: tuple[object, bool]) -> AuditResult:
    res = _workload("fraud-stable")
    policies = [p for p, _ in policies_checked]
    return AuditResult(
        environment="prod",
        tier="prod",
        target="kubernetes",
        resources=[res],
        policies=policies,  # type: ignore[arg-type]
        findings=[],
        checks=[Check(p.name, p.pack, res.urn) for p, judged in policies_checked if judged],  # type: ignore[attr-defined]
        waivers=[],
        started_at=STAMP,
        duration_s=1.0,
        not_applicable=[Check(p.name, p.pack, res.urn) for p, judged in policies_checked if not judged],  # type: ignore[attr-defined]
    )


FULL = policy("full-rule", tags=("control:nist-800-53:SI-7", "coverage:full:nist-800-53:SI-7"))
PARTIAL = policy("partial-rule", tags=("control:nist-800-53:SI-7", "coverage:partial:nist-800-53:SI-7"))
UNDECLARED = policy("undeclared-rule", tags=("control:nist-800-53:SC-6",))
AI_ACT = policy("ai-rule", tags=("control:eu-ai-act:Art.9", "coverage:partial:eu-ai-act:Art.9"))


def _controls(result: AuditResult, declaration: Declaration | None = None) -> dict[str, dict[str, object]]:
    declarations = {"prod": declaration} if declaration is not None else None
    doc = json.loads(
        render([result], "json", provenance=provenance(), declarations=declarations, generated_at=STAMP)
    )
    return {f"{c['framework']}:{c['id']}": c for c in doc["environments"][0]["controls"]}


def test_a_control_passes_only_when_its_full_coverage_passed() -> None:
    both = _controls(_result((FULL, True), (PARTIAL, True)))["nist-800-53:SI-7"]
    assert (both["status"], both["missing"]) == ("pass", [])
    assert {e["policy"]: e["coverage"] for e in both["evidence"]} == {
        "full-rule": "full",
        "partial-rule": "partial",
    }
    partly = _controls(_result((FULL, False), (PARTIAL, True)))["nist-800-53:SI-7"]
    assert partly["status"] == "partial"
    assert partly["missing"] == [
        "full-rule (full coverage) judged no resource here",
        "partial-rule: partial coverage (the pack does not say what is missing)",
    ]
    undeclared = _controls(_result((UNDECLARED, True)))["nist-800-53:SC-6"]
    assert undeclared["status"] == "partial", "a pack that declares no coverage never passes a control"


def test_a_partial_bundled_rule_names_what_is_missing_from_its_declaration() -> None:
    rule = RULES_BY_NAME["image-approved-registry"]
    bundled = policy(rule.name, tags=tuple(rule.tags))
    control = _controls(_result((bundled, True)))["cis-kubernetes:5.5.1"]
    assert control["status"] == "partial"
    assert control["missing"] == [
        "image-approved-registry: the control asks for the ImagePolicyWebhook admission controller on the "
        "cluster: not checked"
    ]
    for fmt, marker in (("markdown", "PARTLY EVIDENCED"), ("html", "Partly evidenced")):
        text = render([_result((bundled, True))], fmt, provenance=provenance(), generated_at=STAMP)
        assert marker in text and "ImagePolicyWebhook admission controller on the cluster" in text


def _declaration(risk: str) -> Declaration:
    """The bundled prod environment's fraud-scorer, as declared, at risk tier ``risk``."""
    declared = declared_models(load_environment(Path(__file__).parents[2] / "stacks" / "Pulumi.prod.yaml"))
    fraud = next(m for m in declared.models if m["name"] == "fraud-scorer")
    return Declaration(ceiling="confidential", models=[{**fraud, "risk_tier": risk}])


def test_a_high_risk_models_control_is_a_finding_never_not_applicable() -> None:
    result = _result((AI_ACT, False))
    (finding,) = required_control_findings(result, {"fraud-scorer": "high", "recommender": "minimal"})
    assert (finding.policy, finding.kind, finding.enforcement, finding.blocking) == (
        CONTROL_NOT_EVALUATED,
        "coverage",
        Enforcement.MANDATORY,
        True,
    )
    assert finding.message == (
        "eu-ai-act Art.9 (Risk management system) must apply to the high-risk model(s) fraud-scorer, but "
        "none of its rules judged anything here (ai-rule): it is not evidenced, not 'not applicable'"
    )
    assert _controls(result, _declaration("high"))["eu-ai-act:Art.9"]["status"] == "fail"
    # Without a high-risk model the same control is honestly not applicable, and no finding is made.
    assert required_control_findings(result, {"recommender": "minimal"}) == []
    assert _controls(result, _declaration("minimal"))["eu-ai-act:Art.9"]["status"] == "not-applicable"
    # Judged: no finding.
    assert required_control_findings(_result((AI_ACT, True)), {"fraud-scorer": "high"}) == []


def test_an_advisory_tier_makes_the_missing_control_a_warning() -> None:
    advisory = policy("ai-rule", enforcement=Enforcement.ADVISORY, tags=("control:eu-ai-act:Art.9",))
    result = _result((advisory, False))
    (finding,) = required_control_findings(result, {"fraud-scorer": "high"})
    assert (finding.enforcement, finding.blocking) == (Enforcement.ADVISORY, False)
    assert _controls(result, _declaration("high"))["eu-ai-act:Art.9"]["status"] == "warn"
