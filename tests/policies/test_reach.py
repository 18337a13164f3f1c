"""Packs by reach: security and reliability judge any program; governance is the platform's contract.

A "foreign" program (plain labels, its own registries, none of the platform's vocabulary) audited with
every rule's schema defaults, as a pack runs without our config files: the security and reliability
rules still catch its misconfigurations, no rule reports ownership labels unless ``requiredLabels``
is configured, and the governance rules keyed on the platform's labels answer not-applicable.
"""

from __future__ import annotations

from typing import Any

from mlops_platform.policies.catalogue import RULES, RULES_BY_NAME, rules_for
from tests.policies.policy_fixtures import NotApplicable, R, run_rule, run_stack

LABELS = {"app": "web"}


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": "shop", "labels": dict(LABELS)}


FOREIGN = [
    R("kubernetes:core/v1:Namespace", "shop", {"metadata": {"name": "shop"}}),
    R(
        "kubernetes:apps/v1:Deployment",
        "web",
        {
            "metadata": _meta("web"),
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": dict(LABELS)},
                "template": {
                    "metadata": {"labels": dict(LABELS)},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "registry.shop.example/web:1.4.2",
                                "securityContext": {"privileged": True},
                            }
                        ]
                    },
                },
            },
        },
    ),
    R("kubernetes:core/v1:Service", "web", {"metadata": _meta("web"), "spec": {"selector": dict(LABELS)}}),
    R("kubernetes:core/v1:ConfigMap", "web-config", {"metadata": _meta("web-config"), "data": {"a": "b"}}),
]
PLATFORM_ONLY = {r.name for r in rules_for("mlops-governance")} - {"resource-app-labels"}


def _outcomes(config: dict[str, dict[str, Any]] | None = None) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for rule in RULES:
        cfg = (config or {}).get(rule.name)
        if rule.stack:
            out[rule.name] = [run_stack(rule.name, FOREIGN, cfg)]
        else:
            out[rule.name] = [run_rule(rule.name, res, cfg) for res in FOREIGN]
    return out


def _findings(outcomes: list[Any]) -> list[Any]:
    return [f for o in outcomes if isinstance(o, list) for f in o]


def test_generic_rules_catch_a_foreign_programs_misconfiguration() -> None:
    outcomes = _outcomes()
    assert _findings(outcomes["workload-no-privileged"]) == [
        'container "web" runs privileged (securityContext.privileged=true)'
    ]
    assert _findings(outcomes["network-policy-coverage"]) == [
        (FOREIGN[1].urn, 'Deployment "web": pods in namespace "shop" are not selected by any NetworkPolicy')
    ]


def test_no_ownership_noise_and_no_platform_rule_applies_unless_configured() -> None:
    outcomes = _outcomes()
    for name in PLATFORM_ONLY | {"image-approved-registry"}:
        assert all(isinstance(o, NotApplicable) for o in outcomes[name]), name
    for name in ("mlops-security", "mlops-reliability"):
        for rule in rules_for(name):
            for finding in _findings(outcomes[rule.name]):
                assert "mlops.dev" not in str(finding), (rule.name, finding)


def test_ownership_labels_apply_once_configured() -> None:
    rule = RULES_BY_NAME["resource-ownership-labels"]
    required = {"requiredLabels": ["team"]}
    outcome = run_rule(rule.name, FOREIGN[3], required)
    assert outcome == ['metadata.labels lack "team"']
    assert isinstance(run_rule(rule.name, FOREIGN[3], None), NotApplicable)
