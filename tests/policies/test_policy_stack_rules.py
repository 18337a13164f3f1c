"""Stack rules (StackValidationPolicy) over whole compliant stacks and targeted breakages."""

from __future__ import annotations

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.policies.catalogue import RULES, RULES_BY_NAME
from mlops_platform.policies.rules._scopes import REGISTRY_CONSULTED
from tests.policies.policy_fixtures import (
    DELETE,
    PROM_CONFIG,
    UNKNOWN_OBJECT_VALUE,
    NotApplicable,
    R,
    backup_job,
    deployment,
    docker_database,
    docker_labels,
    docker_model,
    docker_network,
    docker_stack,
    env_config,
    hpa,
    k8s_stack,
    namespace,
    network_policy,
    pdb,
    prometheus,
    run_stack,
)

STACK_RULES = [r.name for r in RULES if r.stack]
DEP = 'Deployment "fraud-scorer"'
CANARY = 'Deployment "fraud-scorer-canary"'


def without(stack: list[R], *names: str) -> list[R]:
    return [r for r in stack if r.name not in names]


def replace(stack: list[R], new: R) -> list[R]:
    return [new if (r.type, r.name) == (new.type, new.name) else r for r in stack]


def msgs(findings: list[tuple[str, str]]) -> list[str]:
    return [message for _urn, message in findings]


@pytest.mark.parametrize("rule", STACK_RULES)
def test_compliant_stacks_pass(rule: str) -> None:
    if RULES_BY_NAME[rule].applies_to is REGISTRY_CONSULTED:
        # These stacks consult no registry: out of the rule's scope (judged in tests/registry).
        assert isinstance(run_stack(rule, k8s_stack(), env_config("prod", rule)), NotApplicable)
        return
    assert run_stack(rule, k8s_stack(), env_config("prod", rule)) == []
    docker = run_stack(rule, docker_stack(), env_config("dev", rule))
    if RULES_BY_NAME[rule].targets == ("kubernetes",):
        assert isinstance(docker, NotApplicable), "a Kubernetes-only rule does not apply to Docker"
    else:
        assert docker == []


def test_empty_stack_is_not_applicable() -> None:
    for rule in STACK_RULES:
        reason = f"no resource in the stack is in scope: applies to {RULES_BY_NAME[rule].applies_to.summary}"
        assert run_stack(rule, [], env_config("prod", rule)) == NotApplicable(reason)


def test_network_policy_coverage() -> None:
    rule = "network-policy-coverage"
    findings = run_stack(rule, [namespace(), deployment()], env_config("prod", rule))
    assert findings == [
        (deployment().urn, f'{DEP}: pods in namespace "mlops-prod" are not selected by any NetworkPolicy')
    ]
    narrow = network_policy().mutate("spec.podSelector", {"matchLabels": {L.APP_NAME: "other"}})
    assert msgs(run_stack(rule, [narrow, deployment()])) == [
        f'{DEP}: pods in namespace "mlops-prod" are not selected by any NetworkPolicy'
    ]
    elsewhere = network_policy().mutate("metadata.namespace", "other")
    assert len(run_stack(rule, [elsewhere, deployment()])) == 1
    unknown = deployment().mutate("spec.template.metadata", UNKNOWN_OBJECT_VALUE)
    assert msgs(run_stack(rule, [network_policy(), unknown])) == [
        f"{DEP}: pod labels or namespace is unknown during preview; NetworkPolicy coverage cannot be verified"
    ]
    bridged = docker_model().mutate("networksAdvanced", DELETE)
    assert msgs(run_stack(rule, [bridged])) == [
        'Container "fraud-scorer": attached only to Docker\'s default bridge network; use a user-defined '
        "network"
    ]


def test_min_replicas_counts_the_hpa_and_exempts_canaries() -> None:
    rule = "workload-min-replicas"
    prod = env_config("prod", rule)
    two = deployment(replicas=2)
    assert run_stack(rule, [two, hpa(low=3)], prod) == []
    assert run_stack(rule, [two], prod) == [
        (two.urn, f"{DEP}: runs at least 2 replica(s); the tier minimum is 3")
    ]
    assert run_stack(rule, [two], env_config("staging", rule)) == []
    assert msgs(run_stack(rule, [two, hpa(low=1)], prod)) == [
        f"{DEP}: runs at least 1 replica(s); the tier minimum is 3"
    ]
    assert run_stack(rule, [deployment(track="canary", replicas=1)], prod) == []
    no_replicas = deployment().mutate("spec.replicas", DELETE)
    assert msgs(run_stack(rule, [no_replicas], prod)) == [
        f"{DEP}: runs at least 1 replica(s); the tier minimum is 3"
    ]


def test_disruption_budget() -> None:
    rule = "workload-disruption-budget"
    stack = [deployment(), hpa()]
    assert msgs(run_stack(rule, stack)) == [
        f"{DEP}: runs 3 replicas but no PodDisruptionBudget selects its pods"
    ]
    blocking = pdb().mutate(
        "spec", {"minAvailable": 3, "selector": {"matchLabels": {L.APP_NAME: "fraud-scorer"}}}
    )
    assert msgs(run_stack(rule, [*stack, blocking])) == [
        f'{DEP}: PodDisruptionBudget "fraud-scorer-pdb" allows no voluntary disruption of 3 replicas'
    ]
    for spec in ({"minAvailable": "50%"}, {"minAvailable": 2.0}, {"maxUnavailable": "25%"}):
        ok = pdb().mutate("spec", {**spec, "selector": {"matchLabels": {L.APP_NAME: "fraud-scorer"}}})
        assert run_stack(rule, [*stack, ok]) == [], spec
    zero = pdb().mutate("spec.maxUnavailable", 0)
    assert len(run_stack(rule, [*stack, zero])) == 1
    assert run_stack(rule, [deployment(replicas=1)]) == [], "single-replica workloads need no budget"


def test_database_backups() -> None:
    rule = "database-backups-scheduled"
    prod = env_config("prod", rule)
    stack = k8s_stack()
    db = 'StatefulSet "metadata-db"'
    assert msgs(run_stack(rule, without(stack, "metadata-db-backup"), prod)) == [
        f'{db}: no backup CronJob (label {L.BACKUP_OF}="metadata-db") is scheduled'
    ]
    short = backup_job().mutate(("metadata", "annotations", L.BACKUP_RETENTION_DAYS), "3")
    assert msgs(run_stack(rule, replace(stack, short), prod)) == [
        f"{db}: backup retention of 3 day(s) is below the minimum of 30"
    ]
    broken = backup_job().mutate("spec.schedule", "every night").mutate("spec.suspend", True)
    assert msgs(run_stack(rule, replace(stack, broken), prod)) == [
        f'{db}: backup schedule "every night" is not a valid cron expression',
        f'{db}: backup CronJob "metadata-db-backup" is suspended',
    ]
    docker_db = 'Container "metadata-db"'
    assert run_stack(rule, [docker_database()], env_config("staging", rule)) == []
    assert msgs(run_stack(rule, [docker_database()], prod)) == [
        f"{docker_db}: backup retention of 7 day(s) is below the minimum of 30"
    ]
    unscheduled = docker_database().mutate(
        "labels", [{"label": L.APP_COMPONENT, "value": L.COMPONENT_METADATA_DATABASE}]
    )
    assert msgs(run_stack(rule, [unscheduled], prod)) == [
        f'{docker_db}: no backups are scheduled (label "{L.BACKUP_SCHEDULE}")'
    ]


def test_monitoring_coverage() -> None:
    rule = "model-monitoring-coverage"
    stack = k8s_stack()
    assert msgs(run_stack(rule, without(stack, "fraud-scorer-monitor"))) == [
        f'{DEP}: no ServiceMonitor labelled {L.SCRAPE_TARGET}="fraud-scorer"',
        f'{CANARY}: no ServiceMonitor labelled {L.SCRAPE_TARGET}="fraud-scorer"',
    ]
    renamed = next(r for r in stack if r.name == "fraud-scorer-alerts").mutate("spec.groups.0.name", "models")
    assert msgs(run_stack(rule, replace(stack, renamed))) == [
        f'{DEP}: PrometheusRule for "fraud-scorer" has no group "model-fraud-scorer" with an alert',
        f'{CANARY}: PrometheusRule for "fraud-scorer" has no group "model-fraud-scorer" with an alert',
    ]
    docker = docker_stack()
    blind = prometheus(config=PROM_CONFIG.replace("model-fraud-scorer", "other"), rules="groups: []\n")
    assert msgs(run_stack(rule, replace(docker, blind))) == [
        'Container "fraud-scorer": no Prometheus scrape job "model-fraud-scorer" in '
        "/etc/prometheus/prometheus.yml",
        'Container "fraud-scorer": no alert rule group "model-fraud-scorer" in '
        "/etc/prometheus/rules/models.yml",
    ]
    assert msgs(run_stack(rule, without(docker, "prometheus"))) == [
        'Container "fraud-scorer": no Prometheus container monitors model "fraud-scorer"'
    ]


def test_drift_check() -> None:
    rule = "model-drift-check"
    stack = k8s_stack()
    assert msgs(run_stack(rule, without(stack, "fraud-scorer-drift"))) == [
        f'{DEP}: no active drift-check CronJob labelled {L.MODEL}="fraud-scorer"',
        f'{CANARY}: no active drift-check CronJob labelled {L.MODEL}="fraud-scorer"',
    ]
    disabled = docker_model()
    disabled.props["labels"] = [
        {**item, "value": "disabled"} if item["label"] == L.DRIFT_CHECK else item
        for item in disabled.props["labels"]
    ]
    assert msgs(run_stack(rule, [disabled])) == [
        f'Container "fraud-scorer": high-risk model has drift checks "disabled" ({L.DRIFT_CHECK})'
    ]
    limited = [
        {**i, "value": "limited"} if i["label"] == L.RISK_TIER else i for i in disabled.props["labels"]
    ]
    assert run_stack(rule, [disabled.mutate("labels", limited)]) == []


def test_classification_ceiling() -> None:
    rule = "model-classification-ceiling"
    stack = replace(k8s_stack(), namespace(ceiling="internal"))
    assert msgs(run_stack(rule, stack)) == [
        f'{DEP}: serves "confidential" data above the namespace "mlops-prod" ceiling "internal"',
        f'{CANARY}: serves "confidential" data above the namespace "mlops-prod" ceiling "internal"',
    ]
    assert msgs(run_stack(rule, [deployment()])) == [
        f'{DEP}: namespace "mlops-prod" declares no valid data-classification ceiling'
    ]
    docker = [docker_network(ceiling="public"), docker_model(classification="internal")]
    assert msgs(run_stack(rule, docker)) == [
        'Container "fraud-scorer": serves "internal" data above the network "mlops-dev" ceiling "public"'
    ]
    odd = docker_model().mutate(
        "labels", docker_labels({L.APP_COMPONENT: L.COMPONENT_MODEL_SERVER, L.DATA_CLASSIFICATION: "secret"})
    )
    assert msgs(run_stack(rule, [docker_network(), odd])) == [
        'Container "fraud-scorer": data classification "secret" is not one of public, internal, '
        "confidential, restricted"
    ]
