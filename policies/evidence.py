"""What each rule reads: the resource properties whose observed values are a rule's positive evidence.

Rules run inside the packs and report only violations over gRPC, so a passed check carries no
values. The audit tools evaluate these paths against each judged resource's captured inputs instead
(``mlops_platform.tools.reports.evidence``) and print what they find next to the outcome, e.g.
``spec.template.spec.containers[0].securityContext.runAsNonRoot = true``.

One entry per catalogue rule (tested), keyed by rule name. Each entry is a tuple of
`RFC 9535 JSONPath <https://www.rfc-editor.org/rfc/rfc9535>`_ queries over the resource inputs (with
python-jsonpath's ``~`` key selector for "which keys"), or ``option:<name>`` for a resource option
(``protect``, ``retain_on_delete``) that is not an input. Kubernetes and Docker paths sit side by
side: a path that matches nothing on a resource is simply absent from its evidence. Values of
environment variables and of config data are never listed (only their names): evidence must not
become a way to print what the secret rules guard.
"""

from __future__ import annotations

from typing import Final

from mlops_platform import vocabulary as L

OPTION_PREFIX: Final = "option:"


# Where a pod spec sits: a Pod, a workload's template, a CronJob's job template. Explicit paths, not
# recursive descent (``$..``): descent visits every value of every resource (whole dashboards in
# ConfigMaps): the bundled prod's report view took 21.8 s with it, 0.9 s with explicit paths.
_POD_SPECS = ("$.spec", "$.spec.template.spec", "$.spec.jobTemplate.spec.template.spec")
_METADATA = (
    "$.metadata",
    "$.spec.template.metadata",
    "$.spec.jobTemplate.metadata",
    "$.spec.jobTemplate.spec.template.metadata",
)


def _pod(*suffixes: str) -> tuple[str, ...]:
    """``suffix`` under every pod spec: ``hostNetwork`` -> ``$.spec.template.spec.hostNetwork``..."""
    return tuple(f"{pod}.{suffix}" for suffix in suffixes for pod in _POD_SPECS)


def _containers(*suffixes: str) -> tuple[str, ...]:
    """``suffix`` on every container and init container of every pod spec."""
    kinds = ("containers", "initContainers")
    return tuple(f"{pod}.{kind}[*].{suffix}" for suffix in suffixes for pod in _POD_SPECS for kind in kinds)


def _security(key: str) -> tuple[str, ...]:
    """A securityContext setting at pod and container level."""
    return (*_pod(f"securityContext.{key}"), *_containers(f"securityContext.{key}"))


def _label(*keys: str) -> tuple[str, ...]:
    """A label (or annotation) read on any target: k8s object and pod-template metadata, Docker labels."""
    out: list[str] = []
    for key in keys:
        out += [f"{meta}.{kind}['{key}']" for meta in _METADATA for kind in ("labels", "annotations")]
        out.append(f"$.labels[?@.label == '{key}'].value")
    return tuple(out)


_IMAGES = (*_containers("image"), "$.image")
_HOST_MOUNTS = (
    *_pod("volumes[*].hostPath.path"),
    "$.mounts[?@.type == 'bind'].source",
    "$.volumes[*].hostPath",
)
_CEILING = _label(L.CLASSIFICATION_CEILING)

RULE_EVIDENCE: Final[dict[str, tuple[str, ...]]] = {
    # ----------------------------------------------------------------------------- security
    "workload-no-privileged": (*_security("privileged"), "$.privileged"),
    "workload-no-privilege-escalation": (*_security("allowPrivilegeEscalation"), "$.securityOpts"),
    "workload-run-as-non-root": (
        *_security("runAsNonRoot"),
        *_security("runAsUser"),
        "$.user",
    ),
    "workload-read-only-root-filesystem": (*_security("readOnlyRootFilesystem"), "$.readOnly"),
    "workload-drop-all-capabilities": (*_security("capabilities.drop"), "$.capabilities.drops"),
    "workload-no-added-capabilities": (*_security("capabilities.add"), "$.capabilities.adds"),
    "workload-no-host-namespaces": (
        *_pod("hostNetwork", "hostPID", "hostIPC"),
        "$.networkMode",
        "$.pidMode",
        "$.ipcMode",
    ),
    "workload-no-host-path-mounts": _HOST_MOUNTS,
    "workload-no-runtime-socket-mount": _HOST_MOUNTS,
    "workload-seccomp-runtime-default": (*_security("seccompProfile.type"), "$.securityOpts"),
    "workload-no-service-account-token": (
        *_pod("automountServiceAccountToken"),
        "$.automountServiceAccountToken",
    ),
    "image-no-latest-tag": _IMAGES,
    "image-digest-pinned": _IMAGES,
    "image-approved-registry": _IMAGES,
    "image-digest-resolves": _IMAGES,  # the audit's own (catalogue.REGISTRY_RULES): the images it asked of
    # their registries
    "image-signature-verified": _IMAGES,
    "secret-no-plaintext-env": (
        *_containers("env[*].name", "env[*].valueFrom.secretKeyRef.name", "envFrom[*].secretRef.name"),
        "option:additional_secret_outputs",
    ),
    "secret-no-plaintext-config": ("$.data.~", "$.uploads[*].file"),
    "secret-no-plaintext-metadata": ("$.metadata.labels.~", "$.metadata.annotations.~", "$.labels[*].label"),
    "network-no-public-exposure": (
        "$.spec.type",
        "$.spec.ports[*].nodePort",
        "$.ports[*].ip",
        "$.ports[*].external",
        *_label(L.EXPOSURE_ALLOWED),
    ),
    "ingress-tls-required": ("$.spec.rules[*].host", "$.spec.tls[*].hosts", "$.spec.tls[*].secretName"),
    "network-policy-coverage": ("$.spec.podSelector", "$.spec.policyTypes", "$.networksAdvanced[*].name"),
    "namespace-not-default": ("$.metadata.namespace",),
    # ----------------------------------------------------------------------------- reliability
    "workload-resource-requests": (*_containers("resources.requests"), "$.cpuShares", "$.memoryReservation"),
    "workload-resource-limits": (*_containers("resources.limits"), "$.memory", "$.cpus"),
    "workload-health-checks": (
        *_containers("livenessProbe", "readinessProbe"),
        "$.healthcheck.tests",
        "$.healthcheck.interval",
    ),
    "workload-restart-policy": (*_pod("restartPolicy"), "$.restart", "$.maxRetryCount"),
    "workload-min-replicas": ("$.spec.replicas", "$.spec.minReplicas", *_label(L.TRACK)),
    "workload-disruption-budget": ("$.spec.maxUnavailable", "$.spec.minAvailable", "$.spec.replicas"),
    "autoscaler-bounds-sane": ("$.spec.minReplicas", "$.spec.maxReplicas", "$.spec.scaleTargetRef.name"),
    "storage-protected": ("option:protect", "option:retain_on_delete"),
    "database-backups-scheduled": (
        "$.spec.schedule",
        *_label(L.BACKUP_OF, L.BACKUP_SCHEDULE, L.BACKUP_RETENTION_DAYS),
    ),
    "object-store-versioning": _label(L.BUCKET_VERSIONING),
    "object-store-encryption": _label(L.ENCRYPTION_AT_REST),
    # ----------------------------------------------------------------------------- governance
    "resource-ownership-labels": _label(*L.OWNERSHIP_LABELS),
    "resource-app-labels": _label(
        L.APP_NAME, L.APP_INSTANCE, L.APP_COMPONENT, L.APP_PART_OF, L.APP_MANAGED_BY
    ),
    "model-serving-labels": _label(*L.MODEL_LABELS, L.MODEL_URI),
    "model-registry-source": _label(L.MODEL_URI, L.MODEL_SOURCE),
    "model-version-pinned": _label(
        L.RISK_TIER, L.MODEL_SOURCE, L.MODEL_URI, L.REGISTRY_RESOLUTION, L.REGISTRY_VERSION
    ),
    # What an inference server is told to pull at start (policies/rules/_inference.py).
    "model-artifact-pinned": (
        *_containers("command", "args", "env[*].name", "env[*].value"),
        "$.command",
        "$.envs",
    ),
    "model-high-risk-documentation": _label(L.RISK_TIER, L.MODEL_CARD_URL, L.APPROVAL_REF),
    "model-monitoring-coverage": (
        *_label(L.MODEL, L.SCRAPE_TARGET, L.ALERT_RULES_FOR),
        "$.spec.groups[*].name",
    ),
    "model-drift-check": (*_label(L.MODEL, L.RISK_TIER, L.DRIFT_CHECK), "$.spec.schedule", "$.spec.suspend"),
    "model-classification-ceiling": (*_label(L.MODEL, L.DATA_CLASSIFICATION), *_CEILING),
    # The registry rules judge what the program resolved, recorded as annotations on the workload.
    "model-version-resolved": _label(
        L.REGISTRY_RESOLUTION, L.REGISTRY_REF, L.REGISTRY_VERSION, L.REGISTRY_ERROR
    ),
    "model-version-approved": _label(L.REGISTRY_VERSION, L.REGISTRY_TAGS, L.APPROVAL_REF),
    "model-version-validated": _label(L.REGISTRY_VERSION, L.REGISTRY_TAGS),
    "model-version-metrics": _label(L.REGISTRY_VERSION, L.REGISTRY_METRICS, L.METRIC_THRESHOLDS),
    "model-version-model-card": _label(L.RISK_TIER, L.REGISTRY_VERSION, L.REGISTRY_MODEL_CARD),
    "model-canary-newer-version": _label(L.MODEL, L.TRACK, L.REGISTRY_VERSION),
}


def _component(*components: str) -> tuple[str, ...]:
    """A resource whose component label (``app.kubernetes.io/component``) is one of ``components``."""
    out: list[str] = []
    for component in components:
        out += [f"{meta}.labels[?@ == '{component}']" for meta in _METADATA]
        out.append(f"$.labels[?@.label == '{L.APP_COMPONENT}' && @.value == '{component}']")
    return tuple(out)


RULE_SUBJECTS: Final[dict[str, tuple[str, ...]]] = {
    # A stack rule reads the whole stack: its evidence lists only the resources its claim is about (a
    # backup rule, the database backups; not the drift checks' CronJobs, whose schedules it never read).
    "database-backups-scheduled": _label(L.BACKUP_OF, L.BACKUP_SCHEDULE, L.BACKUP_RETENTION_DAYS),
    "model-drift-check": (*_label(L.DRIFT_CHECK), *_component(L.COMPONENT_DRIFT_CHECK)),
    "workload-min-replicas": _component(L.COMPONENT_MODEL_SERVER),
}
"""Rules whose evidence is restricted to resources matching one of these queries (others: none shown)."""
