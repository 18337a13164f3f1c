"""The Analyzer protocol end to end against a real test pack started as the engine starts it."""

from __future__ import annotations

import pytest

from mlops_platform.tools.engine.analyzer import PackSession, PolicyConfigError, make_resource, start_pack
from mlops_platform.tools.findings import Check, Enforcement, Framework, Severity
from tests.engine.conftest import TEST_PACK

PACK = "engine-testpack"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def deployment(name: str, replicas: int, *, protect: bool = False):
    return make_resource(DEPLOYMENT, name, {"spec": {"replicas": replicas}}, stack="fixture", protect=protect)


def violations(result) -> dict[str, tuple[Enforcement, str]]:
    return {f.policy: (f.enforcement, f.message) for f in result.findings if f.kind == "violation"}


def test_analyzer_info_becomes_policy_metadata(pack: PackSession) -> None:
    meta = {m.name: m for m in pack.info()}
    assert set(meta) == {
        "test-deployment-replicas",
        "test-container-localhost",
        "test-stateful-protected",
        "test-raises",
        "test-echo-envs",
        "test-stack-namespace",
    }
    replicas = meta["test-deployment-replicas"]
    assert (replicas.pack, replicas.pack_version) == (PACK, "1.2.3")  # version from PulumiPolicy.yaml
    assert replicas.enforcement is Enforcement.MANDATORY and replicas.severity is Severity.HIGH
    assert replicas.framework == Framework("SOC 2", "2017", "A1.2", "")
    assert (replicas.remediation_steps, replicas.url) == (
        "Raise spec.replicas.",
        "https://example.invalid/replicas",
    )
    assert meta["test-container-localhost"].enforcement is Enforcement.ADVISORY  # the pack's default
    assert meta["test-stack-namespace"].stack_level and not replicas.stack_level
    assert not meta["test-stateful-protected"].waivable


def test_analyze_reports_violations_checks_and_not_applicable(pack: PackSession) -> None:
    result = pack.analyze(deployment("api", 1))
    urn = "urn:pulumi:fixture::mlops-platform::kubernetes:apps/v1:Deployment::api"
    assert violations(result) == {
        "test-deployment-replicas": (Enforcement.MANDATORY, "api runs 1.0 replica(s), needs at least 2.0"),
        "test-stateful-protected": (Enforcement.MANDATORY, "stateful workload is not protected"),
    }
    assert all(f.urn == urn and f.resource_type == DEPLOYMENT for f in result.findings)
    assert set(result.checks) == {
        Check("test-deployment-replicas", PACK, urn),
        Check("test-stateful-protected", PACK, urn),
        Check("test-raises", PACK, urn),
    }
    assert result.not_applicable == {
        "test-container-localhost": "not a container",
        "test-echo-envs": "not a container",
    }
    assert violations(pack.analyze(deployment("api", 3, protect=True))) == {}


def test_a_raising_policy_is_a_policy_error_and_the_others_results_are_kept(pack: PackSession) -> None:
    for _ in range(2):  # the second time the raiser is already known
        result = pack.analyze(deployment("explode-api", 1))
        errors = [f for f in result.findings if f.kind == "policy-error"]
        assert [(f.policy, f.message) for f in errors] == [
            ("test-raises", "policy raised an exception: cannot inspect explode-api")
        ]
        assert errors[0].blocking
        assert set(violations(result)) == {"test-deployment-replicas", "test-stateful-protected"}
        assert {c.policy for c in result.checks} == {
            "test-deployment-replicas",
            "test-stateful-protected",
            "test-raises",
        }
    assert violations(pack.analyze(deployment("api", 1))).keys() == {
        "test-deployment-replicas",
        "test-stateful-protected",
    }


def test_analyze_stack_once_over_all_resources(pack: PackSession) -> None:
    result = pack.analyze_stack([deployment("api", 1)])
    assert [(f.policy, f.urn, f.message, f.enforcement) for f in result.findings] == [
        ("test-stack-namespace", "", "the stack declares no Namespace", Enforcement.MANDATORY)
    ]
    assert result.checks == [Check("test-stack-namespace", PACK, "")]
    namespace = make_resource("kubernetes:core/v1:Namespace", "ns", {}, stack="fixture")
    assert pack.analyze_stack([namespace]).findings == []


def test_enforcement_levels_via_configure() -> None:
    config = {
        "test-container-localhost": "mandatory",  # a bare level
        "test-deployment-replicas": {"minReplicas": 4},  # properties only: keeps its default level
        "test-stateful-protected": {"enforcementLevel": "disabled"},
    }
    with start_pack(TEST_PACK, stack="fixture", policy_config=config) as session:
        meta = {m.name: m.enforcement for m in session.info()}
        assert meta["test-container-localhost"] is Enforcement.MANDATORY
        assert meta["test-deployment-replicas"] is Enforcement.MANDATORY
        assert meta["test-echo-envs"] is Enforcement.ADVISORY  # not configured: the pack default
        assert meta["test-stateful-protected"] is Enforcement.DISABLED
        result = session.analyze(deployment("api", 3))
        assert violations(result) == {
            "test-deployment-replicas": (Enforcement.MANDATORY, "api runs 3.0 replica(s), needs at least 4.0")
        }
        assert "test-stateful-protected" not in {c.policy for c in result.checks}
        container = make_resource(
            "docker:index/container:Container",
            "c",
            {"ports": [{"external": 80, "ip": "0.0.0.0"}]},
            stack="fixture",
        )
        assert violations(session.analyze(container))["test-container-localhost"] == (
            Enforcement.MANDATORY,
            "port 80.0 is published on 0.0.0.0",  # numbers reach packs as floats, as from the engine
        )
        session.configure({"all": "advisory", "test-echo-envs": {"enforcementLevel": "disabled"}})
        levels = {m.name: m.enforcement for m in session.info()}
        assert levels["test-deployment-replicas"] is Enforcement.ADVISORY
        assert levels["test-echo-envs"] is Enforcement.DISABLED


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"no-such-policy": "mandatory"}, "no policy named 'no-such-policy'"),
        ({"test-echo-envs": "blocking"}, "invalid enforcementLevel 'blocking'"),
        ({"test-echo-envs": 3}, "expected an enforcement level or an object"),
    ],
)
def test_invalid_policy_config_is_rejected(pack: PackSession, config: dict, error: str) -> None:
    with pytest.raises(PolicyConfigError, match=error):
        pack.configure(config)
    pack.configure(None)


def test_audit_enums_are_the_protocol_and_pulumi_policy_vocabulary() -> None:
    """One vocabulary: the audit's enums name the protocol's levels and severities, with the SDK's values."""
    import pulumi_policy
    from pulumi.runtime.proto import analyzer_pb2

    from mlops_platform.tools.engine import analyzer

    assert {level.name for level in Enforcement} == set(analyzer_pb2.EnforcementLevel.keys())
    assert {f"POLICY_SEVERITY_{s.name}" for s in Severity} == set(analyzer_pb2.PolicySeverity.keys())
    assert [level.value for level in pulumi_policy.EnforcementLevel] == [level.value for level in Enforcement]
    # pulumi_policy has no "unspecified": the protocol's zero value, a pack that declares no severity.
    assert [s.value for s in pulumi_policy.Severity] == [
        s.value for s in Severity if s is not Severity.UNSPECIFIED
    ]
    assert {analyzer._LEVEL_OF[analyzer._LEVELS[level]] for level in Enforcement} == set(Enforcement)
    assert analyzer._SEVERITIES[analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED] is Severity.UNSPECIFIED
    assert analyzer._SEVERITIES[analyzer_pb2.POLICY_SEVERITY_CRITICAL] is Severity.CRITICAL
    assert Enforcement.REMEDIATE.reported is Enforcement.MANDATORY
    assert Enforcement.ADVISORY.reported is Enforcement.ADVISORY
