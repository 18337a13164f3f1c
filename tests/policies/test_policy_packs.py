"""The packs as the engine runs them: started in their directory, driven over the Analyzer protocol."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2

from mlops_platform.policies.catalogue import ALL_RULES, ENVIRONMENTS, RULES, RULES_BY_NAME, rules_for
from mlops_platform.policies.declaration import NON_WAIVABLE
from tests.policies.conftest import LEVELS, PACKS, ROOT, Pack
from tests.policies.policy_fixtures import (
    UNKNOWN_BOOLEAN_VALUE,
    backup_job,
    database,
    deployment,
    docker_database,
    hpa,
)

pytestmark = pytest.mark.slow  # starts the three pack processes

PRIVILEGED = deployment().mutate("spec.template.spec.containers.0.securityContext.privileged", True)


def env_file(env: str) -> dict[str, Any]:
    return json.loads((ROOT / "policies" / "config" / "tiers" / f"{env}.json").read_text())


def test_at_least_35_rules_in_three_packs() -> None:
    assert len(RULES) >= 35
    assert {r.pack for r in RULES} == set(PACKS)
    assert len({r.name for r in RULES}) == len(RULES)


@pytest.mark.parametrize("pack_name", PACKS)
def test_analyzer_info_carries_all_metadata(packs: dict[str, Pack], pack_name: str) -> None:
    info = packs[pack_name].info()
    assert info.name == pack_name
    assert info.supportsConfig
    expected = {r.name: r for r in rules_for(pack_name)}
    assert [p.name for p in info.policies] == list(expected)
    for p in info.policies:
        rule = expected[p.name]
        assert p.severity != analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED, p.name
        severity = analyzer_pb2.PolicySeverity.Name(p.severity)
        assert severity == f"POLICY_SEVERITY_{rule.severity.value.upper()}"
        assert p.framework.name and p.framework.version and p.framework.reference, p.name
        assert p.remediation_steps and p.url == f"policies/README.md#{p.name}"
        controls = [t for t in p.tags if t.startswith("control:")]
        assert controls and all(t.count(":") >= 2 for t in controls), p.name
        assert f"area:{pack_name.removeprefix('mlops-')}" in p.tags
        assert (NON_WAIVABLE in p.tags) == rule.non_waivable
        assert p.enforcementLevel == analyzer_pb2.MANDATORY, "unconfigured packs are strict"
        expected_type = analyzer_pb2.POLICY_TYPE_STACK if rule.stack else analyzer_pb2.POLICY_TYPE_RESOURCE
        assert p.policy_type == expected_type
        schema = json_format.MessageToDict(p.configSchema.properties)
        assert set(schema) == set(rule.schema), p.name


def test_non_waivable_rules_include_the_critical_ones() -> None:
    non_waivable = {r.name for r in RULES if r.non_waivable}
    assert {
        "workload-no-privileged",
        "secret-no-plaintext-env",
        "workload-no-runtime-socket-mount",
    } <= non_waivable


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_config_files_name_every_rule_with_an_explicit_level(env: str) -> None:
    doc = env_file(env)
    # every pack's rules and the audit's own (the supply-chain rules, which ask the registries)
    assert set(doc) == {r.name for r in ALL_RULES}
    for name, entry in doc.items():
        assert isinstance(entry, dict) and entry.get("enforcementLevel") in LEVELS, (env, name)
    levels = [entry["enforcementLevel"] for entry in doc.values()]
    if env == "dev":
        assert set(levels) == {"advisory"}
    elif env == "prod":
        assert set(levels) == {"mandatory"}
    else:
        assert levels.count("mandatory") > len(levels) * 0.8


def test_per_tier_knobs() -> None:
    knobs = {env: env_file(env) for env in ENVIRONMENTS}
    assert [knobs[e]["workload-min-replicas"]["minReplicas"] for e in ENVIRONMENTS] == [1, 2, 3]
    assert [knobs[e]["database-backups-scheduled"]["minRetentionDays"] for e in ENVIRONMENTS] == [1, 7, 30]
    assert [knobs[e]["image-digest-pinned"]["requireDigest"] for e in ENVIRONMENTS] == [False, False, True]
    assert all(knobs[e]["image-approved-registry"]["allowedRegistries"] for e in ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_file_per_environment_configures_every_pack(packs: dict[str, Pack], env: str) -> None:
    """The engine passes other packs' entries through; they are harmless because each has a level."""
    for pack in packs.values():
        sent = pack.configure_like_engine(env_file(env))
        assert set(RULES_BY_NAME) <= set(sent)
    security = packs["mlops-security"]
    diags = [
        d
        for d in security.analyze(PRIVILEGED.type, PRIVILEGED.name, PRIVILEGED.props)
        if d.policyName == "workload-no-privileged"
    ]
    assert len(diags) == 1
    expected = analyzer_pb2.ADVISORY if env == "dev" else analyzer_pb2.MANDATORY
    assert diags[0].enforcementLevel == expected
    assert diags[0].message == (
        'Containers must not run privileged.\ncontainer "server" runs privileged '
        "(securityContext.privileged=true)"
    )
    assert diags[0].policyPackName == "mlops-security"


def test_config_without_enforcement_level_downgrades_to_advisory(packs: dict[str, Pack]) -> None:
    """pulumi-policy reads a missing level as the proto default, ADVISORY: why our files always set it."""
    security = packs["mlops-security"]
    security.configure_raw({"workload-no-privileged": {"unrelated": 1}})
    diags = [
        d
        for d in security.analyze(PRIVILEGED.type, PRIVILEGED.name, PRIVILEGED.props)
        if d.policyName == "workload-no-privileged"
    ]
    assert [d.enforcementLevel for d in diags] == [analyzer_pb2.ADVISORY]
    with pytest.raises(ValueError, match='invalid enforcement level ""'):
        security.configure_like_engine({"no-such-policy": {"knob": 1}})


def test_unknown_value_is_a_mandatory_violation_not_a_pass(packs: dict[str, Pack]) -> None:
    security = packs["mlops-security"]
    security.configure_like_engine(env_file("prod"))
    res = deployment().mutate(
        "spec.template.spec.containers.0.securityContext.privileged", UNKNOWN_BOOLEAN_VALUE
    )
    diags = [
        d for d in security.analyze(res.type, res.name, res.props) if d.policyName == "workload-no-privileged"
    ]
    assert [(d.enforcementLevel, d.message.splitlines()[-1]) for d in diags] == [
        (
            analyzer_pb2.MANDATORY,
            "spec.template.spec.containers[0].securityContext.privileged is unknown during preview; "
            "it cannot be verified",
        )
    ]


def test_compliant_resource_has_no_findings(packs: dict[str, Pack]) -> None:
    for pack in packs.values():
        pack.configure_like_engine(env_file("prod"))
        res = deployment()
        assert pack.analyze(res.type, res.name, res.props) == [], pack.name


def test_analyze_stack_reports_per_resource_with_tier_knobs(packs: dict[str, Pack]) -> None:
    reliability = packs["mlops-reliability"]
    dep, db, job = deployment(), database(), backup_job()
    stack = [(r.type, r.name, r.props, {"protect": r.protect}) for r in (dep, hpa(), db, job)]
    reliability.configure_like_engine(env_file("prod"))
    diags = reliability.analyze_stack(stack)
    assert [(d.policyName, d.urn, d.enforcementLevel) for d in diags] == [
        (
            "workload-disruption-budget",
            f"urn:pulumi:prod::mlops-platform::{dep.type}::{dep.name}",
            analyzer_pb2.MANDATORY,
        )
    ]
    docker_db = docker_database()
    docker_stack = [(docker_db.type, docker_db.name, docker_db.props, {"protect": True})]
    governance = packs["mlops-governance"]  # database backups are the platform's contract
    governance.configure_like_engine(env_file("staging"))
    assert governance.analyze_stack(docker_stack) == []
    governance.configure_like_engine(env_file("prod"))
    [diag] = [
        d for d in governance.analyze_stack(docker_stack) if d.policyName == "database-backups-scheduled"
    ]
    assert diag.policyName == "database-backups-scheduled"
    assert diag.message.endswith(
        'Container "metadata-db": backup retention of 7 day(s) is below the minimum of 30'
    )
