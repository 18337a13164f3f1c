"""Findings located in the spec: through the composition's spec trail, to the stack file or default line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.tools.findings import (
    AuditResult,
    CapturedResource,
    Enforcement,
    Finding,
    PolicyMeta,
    Severity,
    SpecLocation,
)
from mlops_platform.tools.spec_locations import locate_findings, remediation_line
from tests.stacks.stack_fixtures import DEFAULTS_SHOWN, MINIMAL_STACK, REPO

PREFIX = "urn:pulumi:test::mlops-platform::"
ENDPOINT = f"{PREFIX}mlops:serving:ServingStack$mlops:serving:ModelEndpoint::serving-scorer"
DEPLOYMENT = f"{ENDPOINT.rsplit('::', 1)[0]}$kubernetes:apps/v1:Deployment::serving-scorer-deployment"
STRAY = f"{PREFIX}kubernetes:core/v1:Namespace::stray"


def policy(name: str, remediation: str) -> PolicyMeta:
    return PolicyMeta(name, "mlops-security", "1.0.0", name, name, Enforcement.MANDATORY, Severity.HIGH, None,
                      (), remediation, "", False)  # fmt: skip


def finding(name: str, urn: str, kind: str = "violation") -> Finding:
    return Finding(name, "mlops-security", Enforcement.MANDATORY, Severity.HIGH, urn, "t", "m", kind=kind)


def resource(urn: str, parent: str | None) -> CapturedResource:
    return CapturedResource(
        urn=urn, type="t", name=urn.rsplit("::", 1)[-1], custom=True, inputs={}, parent=parent
    )


@pytest.fixture
def located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, SpecLocation | None]:
    monkeypatch.chdir(REPO)
    env_file = tmp_path / "Pulumi.test.yaml"
    env_file.write_text(MINIMAL_STACK, encoding="utf-8")
    findings = [
        finding("image-no-latest-tag", DEPLOYMENT),
        finding("workload-min-replicas", DEPLOYMENT),
        finding("network-policy-coverage", ""),
        finding("resource-ownership-labels", STRAY),
        finding("waiver-unmatched", "", kind="waiver"),
    ]
    result = AuditResult(
        environment="test",
        tier="staging",
        target="kubernetes",
        resources=[resource(ENDPOINT, None), resource(DEPLOYMENT, ENDPOINT), resource(STRAY, None)],
        policies=[policy("image-no-latest-tag", "Reference images as `repo:<version>`. Never `latest`.")],
        findings=findings,
        checks=[],
        waivers=[],
        started_at="",
        duration_s=0.0,
    )
    out = locate_findings(result, env_file, trail={ENDPOINT: ("serving", "models", 0)})
    assert out.findings[0].remediation == "Reference images as `repo:<version>`."
    return {f.policy: f.spec for f in out.findings}


def line_of(text: str, needle: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, t in enumerate(lines) if t.startswith(after)) if after else 0
    return next(i for i, t in enumerate(lines[start:], start + 1) if needle in t)


def test_a_model_finding_points_at_the_models_key(located: dict[str, SpecLocation | None]) -> None:
    spec = located["image-no-latest-tag"]
    assert spec is not None and (spec.line, spec.path, spec.default) == (
        line_of(MINIMAL_STACK, "image: ghcr.io/acme/scorer"),
        "serving.models[0].image",
        False,
    )


def test_a_value_from_a_tier_default_points_at_defaults_yaml(located: dict[str, SpecLocation | None]) -> None:
    """The minimal (staging) file states no replicas: staging's model default does (min 2)."""
    defaults = (REPO / "stacks" / "defaults.yaml").read_text(encoding="utf-8")
    assert located["workload-min-replicas"] == SpecLocation(
        DEFAULTS_SHOWN,
        line_of(defaults, "replicas: {min: 2, max: 4}", after="staging:"),
        "serving.models[0].replicas.min",
        True,
    )


def test_stack_findings_and_untraced_resources_point_at_the_environment(
    located: dict[str, SpecLocation | None],
) -> None:
    for name in ("network-policy-coverage", "resource-ownership-labels"):
        spec = located[name]
        assert spec is not None and (spec.line, spec.path) == (
            line_of(MINIMAL_STACK, "environment:"),
            "environment",
        )


def test_a_waiver_problem_has_no_spec_location(located: dict[str, SpecLocation | None]) -> None:
    assert located["waiver-unmatched"] is None


def test_the_remediation_is_one_line() -> None:
    assert remediation_line(policy("p", "Do this.\nThen that. And more.")) == "Do this."
    assert remediation_line(policy("p", "")) == ""
