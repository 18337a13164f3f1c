"""Each rule's evidence selector lists the resources of its claim, and not others (issue 24).

A resource rule's evidence is shown only on resources it judged (its applicability decides); a stack
rule reads the whole stack, so its selector alone decides which resources a report lists as read
(a declaration's ``subjects`` narrow the selectors that would match more than the claim: the backup rule must
not list the drift checks' CronJobs). One row per catalogue rule: baselines that must show evidence,
and, for stack rules, baselines that must not.
"""

from __future__ import annotations

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.policies.catalogue import RULES, RULES_BY_NAME
from mlops_platform.tools.findings import CapturedResource
from mlops_platform.tools.reports.evidence import observe
from tests.policies.policy_fixtures import R, deployment
from tests.policies.test_policy_rules import BASELINES, llm_server

ANNOTATIONS = ("spec", "template", "metadata", "annotations")
K8S_WORKLOADS = ("deployment", "canary", "database", "object-store", "backup-job", "drift-job")
SERVING = ("deployment", "canary", "container")
EVERY = tuple(BASELINES)


def _c(path: str, value: object) -> R:
    return deployment().mutate(path, value)


SPECIAL = {
    "added-capability": _c("spec.template.spec.containers.0.securityContext.capabilities.add", ["NET_ADMIN"]),
    "host-network": _c("spec.template.spec.hostNetwork", False),
    "host-path": _c("spec.template.spec.volumes", [{"name": "h", "hostPath": {"path": "/var/run"}}]),
    "resolved": deployment().mutate((*ANNOTATIONS, L.REGISTRY_RESOLUTION), "resolved"),
    "registry-tags": deployment().mutate((*ANNOTATIONS, L.REGISTRY_TAGS), "{}"),
    "registry-metrics": deployment().mutate((*ANNOTATIONS, L.REGISTRY_METRICS), "{}"),
    "llm-server": llm_server(["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]),
}

# rule: (must show evidence, must not show evidence: checked for stack rules)
SELECTORS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "workload-no-privileged": ((*K8S_WORKLOADS, "container"), ("service", "config-map")),
    "workload-no-privilege-escalation": ((*K8S_WORKLOADS, "container"), ("service",)),
    "workload-run-as-non-root": ((*K8S_WORKLOADS, "container"), ("service",)),
    "workload-read-only-root-filesystem": ((*K8S_WORKLOADS, "container"), ("service",)),
    "workload-drop-all-capabilities": ((*K8S_WORKLOADS, "container"), ("service",)),
    "workload-no-added-capabilities": (("added-capability",), ("service",)),
    "workload-no-host-namespaces": (("host-network",), ("service",)),
    "workload-no-host-path-mounts": (("host-path",), ("service",)),
    "workload-no-runtime-socket-mount": (("host-path",), ("service",)),
    "workload-seccomp-runtime-default": ((*K8S_WORKLOADS, "container"), ("service",)),
    "workload-no-service-account-token": (
        (*K8S_WORKLOADS, "service-account"),
        ("service", "config-map", "pvc"),
    ),
    "image-no-latest-tag": ((*K8S_WORKLOADS, "container"), ("service", "config-map")),
    "image-digest-pinned": ((*K8S_WORKLOADS, "container"), ("service", "config-map")),
    "image-approved-registry": ((*K8S_WORKLOADS, "container"), ("service", "config-map")),
    "secret-no-plaintext-env": ((*K8S_WORKLOADS, "container"), ()),
    "secret-no-plaintext-config": (("config-map", "prometheus"), ("deployment", "service")),
    "secret-no-plaintext-metadata": (EVERY, ()),
    "network-no-public-exposure": (("service", "container"), ("config-map", "pvc")),
    "ingress-tls-required": (("ingress",), ("service", "deployment")),
    "network-policy-coverage": (
        ("network-policy", "container"),
        ("deployment", "service", "config-map", "pvc"),
    ),
    "namespace-not-default": (("deployment", "service", "config-map"), ("container", "docker-network")),
    "workload-resource-requests": ((*K8S_WORKLOADS, "container"), ("service",)),
    "workload-resource-limits": ((*K8S_WORKLOADS, "container"), ("service",)),
    "workload-health-checks": (("deployment", "database", "container"), ("service",)),
    "workload-restart-policy": (("backup-job", "container"), ("service",)),
    "workload-min-replicas": (SERVING, ("database", "object-store", "hpa", "backup-job", "drift-job")),
    "workload-disruption-budget": (("deployment", "pdb"), ("service", "config-map", "backup-job")),
    "autoscaler-bounds-sane": (("hpa",), ("deployment", "pdb")),
    "storage-protected": (("pvc", "database"), ()),
    "database-backups-scheduled": (
        ("backup-job", "docker-database"),
        ("drift-job", "deployment", "database"),
    ),
    "object-store-versioning": (("object-store",), ("database", "deployment")),
    "object-store-encryption": (("object-store",), ("database", "deployment")),
    "resource-ownership-labels": (EVERY, ()),
    "resource-app-labels": (EVERY, ()),
    "model-serving-labels": (SERVING, ("database", "service", "config-map")),
    "model-registry-source": (SERVING, ("database", "drift-job", "service")),
    "model-version-pinned": (SERVING, ("database", "drift-job", "service")),
    "model-artifact-pinned": (("llm-server", *SERVING), ("service", "config-map")),
    "model-high-risk-documentation": (SERVING, ("database", "service")),
    "model-monitoring-coverage": (
        (*SERVING, "service-monitor", "prometheus-rule"),
        ("database", "backup-job", "pvc"),
    ),
    "model-drift-check": ((*SERVING, "drift-job"), ("backup-job", "database", "service")),
    "model-classification-ceiling": ((*SERVING, "namespace"), ("database", "backup-job", "pvc")),
    "model-version-resolved": (("resolved",), ("database", "drift-job")),
    "model-version-approved": (SERVING, ("database", "drift-job")),
    "model-version-validated": (("registry-tags",), ("database", "drift-job")),
    "model-version-metrics": (("registry-metrics",), ("database", "drift-job")),
    "model-version-model-card": (SERVING, ("database", "drift-job")),
    "model-canary-newer-version": (SERVING, ("database", "backup-job", "service")),
}


def _observed(name: str, rule: str) -> list[dict[str, str]]:
    res = SPECIAL[name] if name in SPECIAL else BASELINES[name]()
    captured = CapturedResource(
        f"urn:pulumi:prod::p::{res.type}::{name}", res.type, res.name, True, res.props
    )
    return observe(captured, rule)[0]


def test_every_rule_has_a_selector_row() -> None:
    assert set(SELECTORS) == {r.name for r in RULES}


@pytest.mark.parametrize("rule", sorted(SELECTORS))
def test_evidence_selector_matches_the_claim(rule: str) -> None:
    must, must_not = SELECTORS[rule]
    assert [n for n in must if not _observed(n, rule)] == [], "resources that must show evidence"
    if RULES_BY_NAME[rule].stack:  # a resource rule lists only resources it judged: applicability decides
        assert [n for n in must_not if _observed(n, rule)] == [], "resources that must not appear"


def test_the_backup_rule_lists_database_backups_only() -> None:
    assert _observed("backup-job", "database-backups-scheduled")
    assert _observed("drift-job", "database-backups-scheduled") == []
    assert _observed("drift-job", "model-drift-check")
    assert _observed("backup-job", "model-drift-check") == []
