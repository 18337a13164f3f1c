"""Stances that need another resource's facts, each tested both ways.

- Service-account tokens: the pod's ``automountServiceAccountToken`` wins; unset, its ServiceAccount's
  decides; an account the stack does not declare mounts the token (the Kubernetes default).
- Objects Kubernetes creates itself (the ``kubernetes`` Service in ``default``, each namespace's
  ``default`` ServiceAccount and ``kube-root-ca.crt`` ConfigMap) are not applicable to
  ``namespace-not-default``; the same kinds under other names are judged as usual.
- NetworkPolicy coverage counts only a selecting policy that restricts ingress.
"""

from __future__ import annotations

import pytest

from mlops_platform.policies.catalogue import RULES_BY_NAME
from tests.policies.policy_fixtures import (
    DELETE,
    NotApplicable,
    R,
    config_map,
    deployment,
    env_config,
    namespace,
    network_policy,
    run_rule,
    run_stack,
    service,
    service_account,
)

TOKEN = "workload-no-service-account-token"
COVERAGE = "network-policy-coverage"
DEFAULT_NS = "namespace-not-default"
POD = "spec.template.spec"
DEP = 'Deployment "fraud-scorer"'


def token(stack: list[R]) -> list[str]:
    return [message for _urn, message in run_stack(TOKEN, stack, env_config("prod", TOKEN))]


def pod_with(account: str | None, automount: object = DELETE) -> R:
    res = deployment().mutate(f"{POD}.automountServiceAccountToken", automount)
    return res if account is None else res.mutate(f"{POD}.serviceAccountName", account)


def account(automount: object) -> R:
    return service_account().mutate("automountServiceAccountToken", automount)


def test_token_pod_setting_alone_suffices() -> None:
    assert token([deployment()]) == []


def test_token_inherited_from_a_service_account_that_disables_it() -> None:
    assert token([pod_with("model-server"), account(False)]) == []


def test_token_service_account_that_mounts_it() -> None:
    assert token([pod_with("model-server"), account(True)]) == [
        f'{DEP}: neither the pod spec nor its ServiceAccount "model-server" sets '
        "automountServiceAccountToken=false",
        'ServiceAccount "model-server": ServiceAccount does not set automountServiceAccountToken=false',
    ]


def test_token_undeclared_service_account_mounts_it() -> None:
    assert token([pod_with(None)]) == [
        f'{DEP}: pod spec does not set automountServiceAccountToken=false and its ServiceAccount "default" '
        "is not declared in the stack, so Kubernetes mounts the token"
    ]


def test_token_pod_that_asks_for_it_overrides_its_account() -> None:
    assert token([pod_with("model-server", True), account(False)]) == [
        f"{DEP}: pod spec sets automountServiceAccountToken=true"
    ]


def test_token_account_in_another_namespace_does_not_count() -> None:
    elsewhere = account(False).mutate("metadata.namespace", "other")
    assert token([pod_with("model-server"), elsewhere]) == [
        f"{DEP}: pod spec does not set automountServiceAccountToken=false and its ServiceAccount "
        '"model-server" is not declared in the stack, so Kubernetes mounts the token'
    ]


KUBERNETES_OWNED = {
    "kubernetes-service": service()
    .mutate("metadata.name", "kubernetes")
    .mutate("metadata.namespace", "default"),
    "default-account": service_account()
    .mutate("metadata.name", "default")
    .mutate("metadata.namespace", "default"),
    "root-ca": config_map()
    .mutate("metadata.name", "kube-root-ca.crt")
    .mutate("metadata.namespace", "default"),
}


@pytest.mark.parametrize("case", KUBERNETES_OWNED)
def test_objects_kubernetes_creates_are_not_applicable(case: str) -> None:
    outcome = run_rule(DEFAULT_NS, KUBERNETES_OWNED[case], env_config("prod", DEFAULT_NS))
    assert outcome == NotApplicable(f"applies to {RULES_BY_NAME[DEFAULT_NS].applies_to.summary}")


@pytest.mark.parametrize("case", KUBERNETES_OWNED)
def test_same_kinds_by_other_names_in_default_are_flagged(case: str) -> None:
    res = KUBERNETES_OWNED[case].mutate("metadata.name", "mine")
    assert run_rule(DEFAULT_NS, res, env_config("prod", DEFAULT_NS)) == [
        'object is in the reserved namespace "default"'
    ]


def test_kubernetes_service_outside_default_is_judged() -> None:
    res = KUBERNETES_OWNED["kubernetes-service"].mutate("metadata.namespace", "kube-system")
    assert run_rule(DEFAULT_NS, res, env_config("prod", DEFAULT_NS)) == [
        'object is in the reserved namespace "kube-system"'
    ]


def coverage(policy: R) -> list[str]:
    stack = [namespace(), policy, deployment()]
    return [message for _urn, message in run_stack(COVERAGE, stack, env_config("prod", COVERAGE))]


ALLOW_ALL = 'the NetworkPolicies selecting its pods ("default-deny") allow all ingress; none restricts it'


@pytest.mark.parametrize(
    ("case", "spec", "expected"),
    [
        ("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, []),
        ("types-defaulted", {"podSelector": {}}, []),
        ("ports-only", {"podSelector": {}, "ingress": [{"ports": [{"port": 8080}]}]}, []),
        ("from-pods", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}, []),
        ("egress-only", {"podSelector": {}, "policyTypes": ["Egress"]}, [f"{DEP}: {ALLOW_ALL}"]),
        ("empty-rule", {"podSelector": {}, "ingress": [{}]}, [f"{DEP}: {ALLOW_ALL}"]),
        (
            "anywhere",
            {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]},
            [f"{DEP}: {ALLOW_ALL}"],
        ),
        (
            "anywhere-but",
            {
                "podSelector": {},
                "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}],
            },
            [],
        ),
    ],
)
def test_coverage_needs_a_policy_that_restricts_ingress(case: str, spec: dict, expected: list[str]) -> None:
    assert coverage(network_policy().mutate("spec", spec)) == expected, case
