"""Audit orchestration on the fixture program and test pack: streamed analysis, stack analysis, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.tools.engine.analyzer import PolicyConfigError
from mlops_platform.tools.engine.audit import audit_environment
from mlops_platform.tools.findings import AuditResult, Enforcement
from mlops_platform.tools.policy_config import load_policy_config
from tests.engine.conftest import PROGRAM, STACK, STACK_FILE, TEST_PACK

SERVICE = f"{STACK}fixture:index:Service"


def run_audit(config_dir: Path | None = None) -> AuditResult:
    return audit_environment(
        STACK_FILE, packs=[TEST_PACK], config_dir=config_dir or Path("/nonexistent"), program=PROGRAM
    )


@pytest.fixture(scope="module")
def audit() -> AuditResult:
    return run_audit()


def test_audit_reports_every_pack_finding_per_resource(audit: AuditResult) -> None:
    got = {(f.kind, f.policy, f.urn, f.enforcement, f.message) for f in audit.findings}
    container = f"{SERVICE}$docker:index/container:Container"
    assert got == {
        (
            "violation",
            "test-echo-envs",
            f"{container}::web-container",
            Enforcement.ADVISORY,
            "container env [secret]",
        ),
        (
            "violation",
            "test-echo-envs",
            f"{container}::worker-container",
            Enforcement.ADVISORY,
            "container env [secret]",
        ),
        (
            "violation",
            "test-deployment-replicas",
            f"{SERVICE}$kubernetes:apps/v1:Deployment::worker-deployment",
            Enforcement.MANDATORY,
            "worker-deployment runs 1.0 replica(s), needs at least 2.0",
        ),
        *(
            (
                "policy-error",
                "test-raises",
                f"{SERVICE}$kubernetes:core/v1:Secret::{svc}-secret",
                Enforcement.MANDATORY,
                f"policy raised an exception: cannot inspect {svc}-secret",
            )
            for svc in ("web", "worker")
        ),
        *(
            (
                "violation",
                "test-stack-namespace",
                f"{container}::{svc}-container",
                Enforcement.MANDATORY,
                f"{svc}-container image comes from a mocked RemoteImage",
            )
            for svc in ("web", "worker")
        ),
    }
    assert not audit.passed
    assert (audit.environment, len(audit.resources)) == ("fixture", 18)
    assert {p.name for p in audit.policies} >= {"test-raises", "test-stack-namespace"}


def test_checks_cover_each_policy_and_resource_evaluated(audit: AuditResult) -> None:
    checked = {(c.policy, c.urn) for c in audit.checks}
    deployment = f"{SERVICE}$kubernetes:apps/v1:Deployment::web-deployment"
    assert ("test-deployment-replicas", deployment) in checked
    assert ("test-container-localhost", deployment) not in checked  # not applicable
    assert ("test-stack-namespace", "") in checked
    assert ("test-raises", f"{SERVICE}$kubernetes:core/v1:Secret::web-secret") in checked
    # Every resource (root stack and default providers included) was analyzed by the resource policies.
    assert {c.urn for c in audit.checks if c.policy == "test-raises"} == {r.urn for r in audit.resources}


def test_no_secret_reaches_the_findings(audit: AuditResult) -> None:
    text = repr(audit.findings)
    assert "mock:random:index/randomPassword" not in text
    assert "mock-secret-" not in text


def test_two_audits_are_identical_apart_from_timing(audit: AuditResult) -> None:
    again = run_audit()
    assert again.findings == audit.findings
    assert again.checks == audit.checks
    assert again.resources == audit.resources
    assert again.policies == audit.policies


def test_policy_config_is_read_per_environment(tmp_path: Path) -> None:
    """The fixture declares no tier: its own override file (environments/<env>.json) alone applies."""
    (tmp_path / "environments").mkdir()
    override = tmp_path / "environments" / "fixture.json"
    override.write_text('{"test-echo-envs": "disabled", "test-deployment-replicas": "advisory"}')
    result = run_audit(tmp_path)
    assert "test-echo-envs" not in {f.policy for f in result.findings}
    replicas = [f for f in result.findings if f.policy == "test-deployment-replicas"]
    assert [f.enforcement for f in replicas] == [Enforcement.ADVISORY]
    assert [s.path for s in result.policy_config] == [str(override)]
    override.write_text('{"no-such-policy": "mandatory"}')
    with pytest.raises(PolicyConfigError, match="no-such-policy"):
        run_audit(tmp_path)


def test_the_override_merges_over_the_tier_file(tmp_path: Path) -> None:
    (tmp_path / "tiers").mkdir()
    (tmp_path / "environments").mkdir()
    (tmp_path / "tiers" / "staging.json").write_text('{"a": {"enforcementLevel": "mandatory", "min": 2}}')
    (tmp_path / "environments" / "qa.json").write_text('{"a": "advisory"}')
    merged = load_policy_config(tmp_path, "staging", "qa")
    assert merged.document == {"a": {"enforcementLevel": "advisory", "min": 2}}
    assert [Path(s.path).name for s in merged.sources] == ["staging.json", "qa.json"]
    assert load_policy_config(tmp_path, "staging", "other").document == {
        "a": {"enforcementLevel": "mandatory", "min": 2}
    }
    with pytest.raises(ValueError, match="no policy config for tier 'prod'"):
        load_policy_config(tmp_path, "prod", "qa")
    (tmp_path / "environments" / "qa.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"qa.json:1:2: invalid JSON"):
        load_policy_config(tmp_path, "staging", "qa")
