"""The rule catalogue: every rule's metadata, its level and knobs per environment, and the docs.

Single source of truth for :mod:`mlops_platform.policies.packs` (which wires it into ``pulumi_policy``), for
``policies/config/tiers/<tier>.json`` (the ``--policy-pack-config`` files, one per tier) and for
``policies/README.md``.
``python -m mlops_platform.policies.catalogue`` regenerates both; ``--check`` fails when they are stale.

Tag format (read by the audit's waiver engine and the reports, from ``GetAnalyzerInfo``):
``control:<framework>:<control-id>`` per mapped control, ``coverage:<full|partial>:<framework>:<control-id>``
for how much of it the rule evidences, ``target:<kubernetes|docker>`` per
target the rule covers, ``area:<security|reliability|governance>``, ``scope:<resource|stack>``, and
``non-waivable`` on rules no waiver may suppress.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.policies.controls import (
    FRAMEWORKS,
    ControlMapping,
    Coverage,
    control_title,
    full,
    natural_key,
    partial,
)
from mlops_platform.policies.rules import _common, _docker, _k8s
from mlops_platform.policies.rules import governance as gov
from mlops_platform.policies.rules import registry as regy
from mlops_platform.policies.rules import reliability as rel
from mlops_platform.policies.rules import security as sec
from mlops_platform.policies.rules._model import AppliesTo, Config, Res

ENVIRONMENTS = ("dev", "staging", "prod")
PACKS = {
    "mlops-security": "Container hardening, image provenance, secrets and network exposure: for any program.",
    "mlops-reliability": "Resources, health checks, restarts, disruption budgets, autoscaling, storage "
    "safety: for any program.",
    "mlops-governance": "The platform's contract, keyed on its labels: ownership, model metadata and "
    "provenance, monitoring, drift, classification, tier replicas, backups, object-store settings.",
}
POLICIES_DIR = Path(__file__).resolve().parent
README = POLICIES_DIR / "README.md"
CONFIG_DIR = POLICIES_DIR / "config"
NON_WAIVABLE = "non-waivable"

APPROVED_REGISTRIES = [
    "ghcr.io/acme-ml",
    "ghcr.io/mlflow",
    "docker.io/library",
    "docker.io/prom",
    "docker.io/grafana",
    "quay.io/minio",
]

ResourceRule = Callable[..., list[str]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: what it checks, how bad a violation is, which controls it serves, how to fix it."""

    name: str
    pack: str
    description: str
    check: Callable[..., Any]
    severity: str
    targets: tuple[str, ...]
    mappings: tuple[ControlMapping, ...]
    """Each control the rule evidences, with its coverage (full or partial) and why."""
    remediation: str
    spec_title: str
    stack: bool = False
    non_waivable: bool = False
    levels: dict[str, str] = field(
        default_factory=lambda: {"dev": "advisory", "staging": "mandatory", "prod": "mandatory"}
    )
    schema: dict[str, dict[str, Any]] = field(default_factory=dict)
    knobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    applies_to: AppliesTo = field(kw_only=True)

    @property
    def controls(self) -> tuple[str, ...]:
        """``<framework>:<control>`` of every mapping, in the declared order."""
        return tuple(m.control for m in self.mappings)

    @property
    def area(self) -> str:
        return self.pack.removeprefix("mlops-")

    @property
    def framework_id(self) -> str:
        return self.controls[0].split(":", 1)[0]

    @property
    def framework(self) -> tuple[str, str, str]:
        """(name, version, reference) of the primary framework: the first control listed."""
        fw, ref = self.controls[0].split(":", 1)
        edition = FRAMEWORKS[fw]
        return edition.name, edition.version, ref

    @property
    def tags(self) -> list[str]:
        tags = [f"control:{c}" for c in self.controls]
        tags += [m.tag for m in self.mappings]
        tags += [f"target:{t}" for t in self.targets]
        tags += [f"area:{self.area}", f"scope:{'stack' if self.stack else 'resource'}"]
        if self.non_waivable:
            tags.append(NON_WAIVABLE)
        return tags

    @property
    def url(self) -> str:
        return f"policies/README.md#{self.name}"

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.schema.items() if "default" in v}

    def config_for(self, env: str) -> dict[str, Any]:
        """This rule's entry in ``policies/config/tiers/<env>.json``: always with an explicit level."""
        return {"enforcementLevel": self.levels[env], **self.knobs.get(env, {})}


def _tiered(**values: Any) -> dict[str, dict[str, Any]]:
    """``minReplicas=(1, 2, 3)`` -> per-environment knob dicts."""
    out: dict[str, dict[str, Any]] = {env: {} for env in ENVIRONMENTS}
    for key, per_env in values.items():
        for env, value in zip(ENVIRONMENTS, per_env, strict=True):
            out[env][key] = value
    return out


K8S, DOCKER = ("kubernetes",), ("docker",)
BOTH = ("kubernetes", "docker")
SEC, REL, GOV = "mlops-security", "mlops-reliability", "mlops-governance"
_STRINGS = {"type": "array", "items": {"type": "string"}}
_ADVISORY_IN_STAGING = {"dev": "advisory", "staging": "advisory", "prod": "mandatory"}


# -- where rules apply ------------------------------------------------------------------------------
# Each rule's ``applies_to``: the types it judges (and a predicate where the type alone does not say).
# Outside it the pack answers not-applicable, and no report counts a check.

_WORKLOADS = _k8s.WORKLOAD_TYPES  # every pod-bearing kind and API version of the pinned SDK
_CONTAINERS = frozenset({_docker.CONTAINER})


def _stateful(res: Res, cfg: Config) -> bool:
    return res.type in (_k8s.PVC, _docker.VOLUME) or _common.is_component(
        res, L.COMPONENT_METADATA_DATABASE, L.COMPONENT_OBJECT_STORE
    )


def _object_store(res: Res, cfg: Config) -> bool:
    return _common.is_component(res, L.COMPONENT_OBJECT_STORE)


def _metadata_database(res: Res, cfg: Config) -> bool:
    return _common.is_component(res, L.COMPONENT_METADATA_DATABASE)


def _serving(res: Res, cfg: Config) -> bool:
    return _common.is_serving(res)


def _labelable(res: Res, cfg: Config) -> bool:
    return _common.labelable(res)


def _owned(res: Res, cfg: Config) -> bool:
    return bool(cfg.get("requiredLabels")) and _common.labelable(res)


def _registries_configured(res: Res, cfg: Config) -> bool:
    return bool(cfg.get("allowedRegistries"))


def _config_or_uploads(res: Res, cfg: Config) -> bool:
    return res.type == _k8s.CONFIG_MAP or bool(res.props.get("uploads"))


def _long_running(res: Res, cfg: Config) -> bool:
    return not rel.is_job_like(res)


def _restarted(res: Res, cfg: Config) -> bool:
    return res.is_k8s or not rel.is_job_like(res)


def _platform_component(res: Res, cfg: Config) -> bool:
    components = [str(c) for c in cfg.get("components") or ()]
    return _common.is_component(res, *components)


POD_OR_CONTAINER = AppliesTo("Kubernetes pod-bearing kinds and Docker containers", _WORKLOADS | _CONTAINERS)
IMAGES = AppliesTo(
    "Kubernetes pod-bearing kinds, Docker containers and remote images",
    _WORKLOADS | _CONTAINERS | {_docker.REMOTE_IMAGE},
)
REGISTRIES = AppliesTo(
    "Kubernetes pod-bearing kinds, Docker containers and remote images, once `allowedRegistries` "
    "names the approved registries (none by default)",
    IMAGES.types,
    _registries_configured,
)
SERVICE_ACCOUNT_TOKEN = AppliesTo(
    "Kubernetes pod-bearing kinds and ServiceAccounts", _WORKLOADS | {_k8s.SERVICE_ACCOUNT}
)
EXPOSURE = AppliesTo(
    "Kubernetes Services, pod-bearing kinds (hostPort) and Docker containers",
    _WORKLOADS | _CONTAINERS | {_k8s.SERVICE},
)
CONFIG_FILES = AppliesTo(
    "Kubernetes ConfigMaps and Docker containers with uploads",
    frozenset({_k8s.CONFIG_MAP, _docker.CONTAINER}),
    _config_or_uploads,
)
LABELABLE = AppliesTo("every Kubernetes object and Docker container, network and volume", None, _labelable)
OWNED = AppliesTo(
    "every labelable resource, once `requiredLabels` names the labels (none by default)",
    None,
    _owned,
)
INGRESSES = AppliesTo("Kubernetes Ingresses (every API version)", _k8s.INGRESS_TYPES)
NAMESPACED = AppliesTo(
    "namespaced Kubernetes objects a program places itself (not those Kubernetes creates)",
    None,
    sec.namespaced,
)
HEALTH_CHECKED = AppliesTo(
    "long-running Kubernetes kinds and Docker containers, except run-to-completion components",
    _k8s.LONG_RUNNING_TYPES | _CONTAINERS,
    _long_running,
)
RESTARTED = AppliesTo(
    "long-running Kubernetes kinds and Docker containers, except run-to-completion Docker components",
    _k8s.LONG_RUNNING_TYPES | _CONTAINERS,
    _restarted,
)
MIN_REPLICAS = AppliesTo(
    "Deployments and StatefulSets of the configured components", _k8s.REPLICATED_TYPES, _platform_component
)
REPLICATED = AppliesTo("Deployments and StatefulSets", _k8s.REPLICATED_TYPES)
AUTOSCALERS = AppliesTo("HorizontalPodAutoscalers with metrics (autoscaling/v2*)", _k8s.HPA_TYPES)
STATEFUL = AppliesTo(
    "PVCs, Docker volumes and the platform's database and object-store workloads",
    frozenset({_k8s.PVC, _docker.VOLUME, _k8s.STATEFUL_SET, _k8s.DEPLOYMENT, _docker.CONTAINER}),
    _stateful,
)
DATABASES = AppliesTo(
    "the platform's metadata-database workloads",
    frozenset({_k8s.STATEFUL_SET, _k8s.DEPLOYMENT, _docker.CONTAINER}),
    _metadata_database,
)
OBJECT_STORES = AppliesTo(
    "the platform's object-store workloads",
    frozenset({_k8s.STATEFUL_SET, _k8s.DEPLOYMENT, _docker.CONTAINER}),
    _object_store,
)
# Serving custom resources, by the API versions their operators serve (KServe, Seldon Core 1 and 2).
_SERVING_RESOURCES = frozenset(
    {
        "kubernetes:serving.kserve.io/v1beta1:InferenceService",
        "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment",
        "kubernetes:machinelearning.seldon.io/v1alpha2:SeldonDeployment",
        "kubernetes:machinelearning.seldon.io/v1alpha3:SeldonDeployment",
        "kubernetes:mlops.seldon.io/v1alpha1:Model",
    }
)
SERVING = AppliesTo(
    "model-serving workloads: component label model-server, the opt-in label mlops.dev/model-workload, "
    "KServe and Seldon resources, or a known inference server (vLLM, TGI, Triton, TorchServe, llama.cpp, "
    "Ollama, BentoML, mlflow models serve)",
    _WORKLOADS | _CONTAINERS | _SERVING_RESOURCES,
    _serving,
)


def _registry_consulted(res: Res, cfg: Config) -> bool:
    return _common.is_serving(res) and _common.annotation(res, L.REGISTRY_RESOLUTION) is not None


REGISTRY_CONSULTED = AppliesTo(
    "model-serving workloads of environments that consult a model registry (registry_source)",
    _WORKLOADS | _CONTAINERS,
    _registry_consulted,
)


def _pinned_version_required(res: Res, cfg: Config) -> bool:
    return bool(cfg.get("requirePinnedVersion", True)) and _common.is_serving(res)


PINNED_VERSION = AppliesTo(
    "model-serving workloads, where the tier's config sets `requirePinnedVersion` (every bundled tier)",
    _WORKLOADS | _CONTAINERS,
    _pinned_version_required,
)

RULES: tuple[Rule, ...] = (
    # ----------------------------------------------------------------------------- security
    Rule(
        "workload-no-privileged",
        SEC,
        "Containers must not run privileged.",
        sec.no_privileged,
        "critical",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.2.2",
                "no declared container runs privileged",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            full(
                "cis-docker:5.5",
                "every declared container is checked for `privileged`",
            ),
            partial(
                "nist-800-53:AC-6",
                "containers get no host privileges",
                "least privilege also covers user and service accounts, roles and their review: not checked",
            ),
            partial(
                "iso-27001:A.8.2",
                "containers get no privileged access to the host",
                "A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "containers cannot reach the host through privilege",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Remove `privileged: true` (k8s securityContext / Docker `privileged`); grant the single capability "
        "the process needs instead.",
        "Minimize the admission of privileged containers",
        non_waivable=True,
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-no-privilege-escalation",
        SEC,
        "Containers must not allow privilege escalation.",
        sec.no_privilege_escalation,
        "high",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.2.6",
                "no declared container allows privilege escalation",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            full(
                "cis-docker:5.26",
                "every declared container is checked for `no-new-privileges`",
            ),
            partial(
                "nist-800-53:AC-6(10)",
                "processes cannot gain privileges they were not started with",
                "the control is about users executing privileged functions and auditing it: not checked",
            ),
            partial(
                "iso-27001:A.8.2",
                "containers cannot escalate to privileged access",
                "A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "containers cannot escalate privileges",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Set `securityContext.allowPrivilegeEscalation: false` on every container; on Docker add "
        "`no-new-privileges:true` to `security_opts`.",
        "Minimize the admission of containers with allowPrivilegeEscalation",
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-run-as-non-root",
        SEC,
        "Containers must run as a non-root user.",
        sec.run_as_non_root,
        "high",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.2.7",
                "no declared container runs as root",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            full(
                "cis-docker:4.1",
                "every declared container names a non-root user",
            ),
            partial(
                "nist-800-53:AC-6(2)",
                "workloads run as a non-privileged account",
                "the control covers people's accounts for nonsecurity functions: not checked",
            ),
            partial(
                "iso-27001:A.8.2",
                "containers run without root",
                "A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "containers run without root",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Set `runAsNonRoot: true` and a non-zero `runAsUser` (pod or container securityContext); on "
        "Docker set "
        "`user` to a non-root UID such as `10001:10001`.",
        "Minimize the admission of root containers",
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-read-only-root-filesystem",
        SEC,
        "Containers must run with a read-only root filesystem.",
        sec.read_only_root_filesystem,
        "medium",
        BOTH,
        (
            full(
                "cis-docker:5.13",
                "every declared container mounts its root filesystem read-only",
            ),
            partial(
                "cis-kubernetes:5.7.3",
                "one securityContext setting (readOnlyRootFilesystem) on every pod",
                "the control asks for a securityContext fitted to each workload; the other settings are "
                "other rules' and a fit is a review, not checked",
            ),
            partial(
                "nist-800-53:CM-7",
                "containers cannot change their own software",
                "least functionality also covers ports, protocols and services in use and their review: "
                "not checked",
            ),
            partial(
                "iso-27001:A.8.9",
                "the running image cannot be altered in place",
                "A.8.9 asks for documented, monitored and reviewed configurations: not checked",
            ),
            partial(
                "soc2:CC6.8",
                "malicious software cannot be written into the image's filesystem",
                "CC6.8 also covers malware detection and change detection at run time: not checked",
            ),
        ),
        "Set `readOnlyRootFilesystem: true` (Docker `read_only=True`) and mount an `emptyDir`/tmpfs for the "
        "paths the process writes.",
        "Ensure that the container's root filesystem is mounted as read only",
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-drop-all-capabilities",
        SEC,
        "Containers must drop all Linux capabilities.",
        sec.drop_all_capabilities,
        "medium",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.2.10",
                "every declared container drops all capabilities",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            full(
                "cis-docker:5.4",
                "every declared container drops all capabilities (with workload-no-added-capabilities for"
                " what is added back)",
            ),
            partial(
                "nist-800-53:AC-6",
                "containers hold no kernel capabilities by default",
                "least privilege also covers user and service accounts, roles and their review: not checked",
            ),
            partial(
                "iso-27001:A.8.2",
                "containers hold no privileged kernel capabilities",
                "A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "containers hold no kernel capabilities",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Add `ALL` to `securityContext.capabilities.drop` (Docker `capabilities.drops`) and add back only "
        "what "
        "is allowed.",
        "Minimize the admission of containers with capabilities assigned",
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-no-added-capabilities",
        SEC,
        "Containers may add only allow-listed Linux capabilities.",
        sec.no_added_capabilities,
        "high",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.2.9",
                "declared containers add only allow-listed capabilities",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            full(
                "cis-docker:5.4",
                "every declared container adds back only allow-listed capabilities (with "
                "workload-drop-all-capabilities)",
            ),
            partial(
                "nist-800-53:AC-6",
                "capabilities are granted by exception only",
                "least privilege also covers user and service accounts, roles and their review: not checked",
            ),
            partial(
                "iso-27001:A.8.2",
                "privileged capabilities are allow-listed",
                "A.8.2 is about allocating and reviewing privileged access rights of people: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "capabilities are allow-listed",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Remove capabilities from `capabilities.add`/`adds` that are not in `allowedCapabilities`.",
        "Minimize the admission of containers with added capabilities",
        schema={"allowedCapabilities": {**_STRINGS, "default": ["NET_BIND_SERVICE"]}},
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-no-host-namespaces",
        SEC,
        "Workloads must not share the host's network, PID or IPC namespace.",
        sec.no_host_namespaces,
        "critical",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.2.5",
                "no declared pod shares the host network",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            partial(
                "cis-kubernetes:5.2.3",
                "no declared pod shares the host PID namespace",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            partial(
                "cis-kubernetes:5.2.4",
                "no declared pod shares the host IPC namespace",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            full(
                "cis-docker:5.10",
                "every declared container is checked for host network mode",
            ),
            full(
                "cis-docker:5.16",
                "every declared container is checked for host PID mode",
            ),
            full(
                "cis-docker:5.17",
                "every declared container is checked for host IPC mode",
            ),
            partial(
                "nist-800-53:SC-39",
                "workloads keep their own process, network and IPC namespaces",
                "process isolation also rests on the runtime and kernel, which are not checked",
            ),
            partial(
                "iso-27001:A.8.22",
                "workloads are kept off the host's network",
                "segregation of networks into domains and its review: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "workloads cannot see the host's processes or network",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Remove `hostNetwork`/`hostPID`/`hostIPC`; on Docker do not use `network_mode`, `pid_mode` or "
        "`ipc_mode` `host`.",
        "Minimize the admission of containers wishing to share the host network namespace",
        non_waivable=True,
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-no-host-path-mounts",
        SEC,
        "Workloads must not mount host paths.",
        sec.no_host_path_mounts,
        "high",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.2.12",
                "no declared pod mounts a hostPath",
                "the control asks each namespace's admission policy (Pod Security Admission) to refuse "
                "such pods; the cluster's admission configuration is not checked",
            ),
            full(
                "cis-docker:5.6",
                "no declared container bind-mounts a host directory",
            ),
            partial(
                "nist-800-53:AC-6",
                "workloads cannot read the host's files",
                "least privilege also covers user and service accounts, roles and their review: not checked",
            ),
            partial(
                "iso-27001:A.8.3",
                "workloads cannot read the host's files",
                "A.8.3 asks for access to information restricted by an access-control policy: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "workloads cannot read the host's files",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Replace `hostPath` volumes and Docker bind mounts with PersistentVolumeClaims / named volumes.",
        "Minimize the admission of HostPath volumes",
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-no-runtime-socket-mount",
        SEC,
        "Workloads must not mount the container runtime socket.",
        sec.no_runtime_socket_mount,
        "critical",
        BOTH,
        (
            full(
                "cis-docker:5.32",
                "no declared container mounts a container runtime socket",
            ),
            partial(
                "cis-kubernetes:5.2.12",
                "no declared pod mounts the runtime socket (one kind of hostPath)",
                "the rule looks only for runtime sockets, not every hostPath; and the control asks each "
                "namespace's admission policy (Pod Security Admission) to refuse such pods; the cluster's"
                " admission configuration is not checked",
            ),
            partial(
                "nist-800-53:AC-6",
                "workloads cannot drive the container runtime",
                "least privilege also covers user and service accounts, roles and their review: not checked",
            ),
            partial(
                "iso-27001:A.8.18",
                "the runtime socket, a privileged utility, is out of workloads' reach",
                "A.8.18 asks for the use of utility programs to be restricted and controlled overall: not"
                " checked",
            ),
            partial(
                "soc2:CC6.1",
                "workloads cannot take over the host through the runtime",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Never mount docker.sock/containerd.sock into a container: it is root on the host. Use the "
        "Kubernetes API or a rootless builder instead.",
        "Ensure that the Docker socket is not mounted inside any containers",
        non_waivable=True,
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-seccomp-runtime-default",
        SEC,
        "Workloads must run under the RuntimeDefault seccomp profile.",
        sec.seccomp_runtime_default,
        "medium",
        BOTH,
        (
            full(
                "cis-kubernetes:5.7.2",
                "every declared pod runs under the RuntimeDefault seccomp profile",
            ),
            full(
                "cis-docker:5.22",
                "no declared container disables seccomp",
            ),
            partial(
                "nist-800-53:CM-7",
                "system calls are restricted to the runtime's default set",
                "least functionality also covers ports, protocols and services in use and their review: "
                "not checked",
            ),
            partial(
                "iso-27001:A.8.9",
                "a secure seccomp baseline is part of every workload's configuration",
                "A.8.9 asks for documented, monitored and reviewed configurations: not checked",
            ),
            partial(
                "soc2:CC6.8",
                "seccomp limits what malicious code can call",
                "CC6.8 also covers malware detection and change detection at run time: not checked",
            ),
        ),
        "Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod; on Docker never pass "
        "`seccomp=unconfined`.",
        "Ensure that the seccomp profile is set to docker/default in your pod definitions",
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-no-service-account-token",
        SEC,
        "Pods must not automount a service-account token (the pod's setting, else its ServiceAccount's).",
        sec.no_service_account_token,
        "medium",
        K8S,
        (
            full(
                "cis-kubernetes:5.1.6",
                "every declared pod, or its ServiceAccount, turns the token automount off",
            ),
            partial(
                "nist-800-53:AC-6",
                "pods get no API credential they do not need",
                "least privilege also covers user and service accounts, roles and their review: not checked",
            ),
            partial(
                "iso-27001:A.8.5",
                "API credentials are not handed to pods by default",
                "secure authentication (methods, MFA, session handling) is not checked",
            ),
            partial(
                "soc2:CC6.1",
                "pods hold no API credential by default",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Set `automountServiceAccountToken: false` on the pod spec and ServiceAccount; mount a projected "
        "token only in pods that call the API. A pod that does not say inherits its ServiceAccount's "
        "setting, and an account the stack does not declare (such as `default`) mounts the token.",
        "Ensure that Service Account Tokens are only mounted where necessary",
        stack=True,
        applies_to=SERVICE_ACCOUNT_TOKEN,
    ),
    Rule(
        "image-no-latest-tag",
        SEC,
        "Images must carry an explicit, immutable tag or digest.",
        sec.image_no_latest_tag,
        "high",
        BOTH,
        (
            partial(
                "cis-docker:5.28",
                "images are named by an explicit tag or digest, never `latest`",
                "the control asks that the current image be pulled rather than a stale local copy used: a"
                " run-time practice, not checked",
            ),
            partial(
                "nist-800-53:CM-2",
                "the image in the baseline is named, not a moving `latest`",
                "a documented, reviewed baseline configuration: not checked",
            ),
            partial(
                "iso-27001:A.8.32",
                "a change of image is a change of configuration",
                "the change-management process (approval, testing) is not checked",
            ),
            partial(
                "soc2:CC8.1",
                "image changes show in the declared configuration",
                "authorisation and approval of changes are not checked",
            ),
        ),
        "Reference images as `registry/repo:<version>` (never untagged, `latest` or another tag registries "
        "move: `main`, `master`, `develop`, `dev`, `stable`, `edge`, `nightly`, `canary`, `beta`, "
        "`rolling`), or by digest.",
        "Ensure that docker commands always make use of the latest version of their image",
        applies_to=IMAGES,
    ),
    Rule(
        "image-digest-pinned",
        SEC,
        "Images must be pinned by digest where the tier requires it.",
        sec.image_digest_pinned,
        "high",
        BOTH,
        (
            partial(
                "nist-800-53:SI-7",
                "each image reference is pinned to a content digest",
                "that the digest exists, and integrity verification of software (signatures, checks at "
                "run time), is not shown by a pin",
            ),
            partial(
                "iso-27001:A.8.19",
                "the software installed is the exact content named",
                "procedures to control installation (approval, signed sources) are not checked",
            ),
            partial(
                "soc2:CC8.1",
                "a change of image needs a change of the declared digest",
                "authorisation and approval of changes are not checked",
            ),
        ),
        "Append `@sha256:<digest>` to every image reference (resolve it with `crane digest` or "
        "`docker buildx imagetools inspect`).",
        "Software, firmware, and information integrity",
        schema={"requireDigest": {"type": "boolean", "default": True}},
        knobs=_tiered(requireDigest=(False, False, True)),
        applies_to=IMAGES,
    ),
    Rule(
        "image-approved-registry",
        SEC,
        "Images must come from an approved registry.",
        sec.image_approved_registry,
        "high",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.5.1",
                "a design-time allowlist of registries over the declared images",
                "the control asks for the ImagePolicyWebhook admission controller on the cluster: not "
                "checked",
            ),
            partial(
                "cis-docker:4.2",
                "images come only from reviewed registries",
                "the control asks that each base image be trusted (built, scanned, verified): not checked",
            ),
            partial(
                "nist-800-53:SR-3",
                "image sources are restricted to approved suppliers",
                "supply-chain processes and controls of the suppliers themselves: not checked",
            ),
            partial(
                "nist-800-53:CM-7(5)",
                "only software from allow-listed registries is declared",
                "the control allow-lists software programs and reviews the list: not checked",
            ),
            partial(
                "iso-27001:A.8.19",
                "software is installed only from approved sources",
                "procedures controlling installation on operational systems: not checked",
            ),
            partial(
                "soc2:CC6.8",
                "unapproved image sources are refused",
                "CC6.8 also covers malware detection and change detection at run time: not checked",
            ),
        ),
        "Mirror the image into an approved registry, or add the registry (with its repository prefix) to "
        "`allowedRegistries` after review. Without `allowedRegistries` in the pack config the rule "
        "applies nowhere (the platform's configs name its registries).",
        "Configure Image Provenance",
        schema={"allowedRegistries": {**_STRINGS, "default": []}},
        knobs=_tiered(allowedRegistries=(APPROVED_REGISTRIES, APPROVED_REGISTRIES, APPROVED_REGISTRIES)),
        applies_to=REGISTRIES,
    ),
    Rule(
        "secret-no-plaintext-env",
        SEC,
        "Secrets must not be passed as plaintext environment variables.",
        sec.secret_no_plaintext_env,
        "critical",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.4.1",
                "no credential is written in plain text into an environment variable",
                "the control prefers secrets mounted as files over any environment variable, secretKeyRef"
                " included, which this rule allows",
            ),
            partial(
                "cis-docker:4.10",
                "no credential is passed in plain text through a container's environment",
                "the control is about Dockerfiles (image build), which are not checked",
            ),
            partial(
                "nist-800-53:IA-5(7)",
                "no static credential is embedded in environment variables",
                "detection is by known credential patterns; other static storage (images, code) is not "
                "checked",
            ),
            partial(
                "nist-800-53:SC-28",
                "credentials in environment variables are references to secrets",
                "encryption at rest of the secrets store and of data: not checked",
            ),
            partial(
                "iso-27001:A.5.17",
                "credentials are not handed out in plain text",
                "allocation and management of authentication information: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "credentials are not exposed in workload definitions",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "On Kubernetes use `env[].valueFrom.secretKeyRef`; on Docker wrap the value in `Output.secret` "
        "and set "
        '`additional_secret_outputs=["envs"]`. Rotate any credential that was committed.',
        "Prefer using secrets as files over secrets as environment variables",
        non_waivable=True,
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "secret-no-plaintext-config",
        SEC,
        "ConfigMaps and uploaded config files must not contain secrets.",
        sec.secret_no_plaintext_config,
        "critical",
        BOTH,
        (
            partial(
                "cis-kubernetes:5.4.1",
                "ConfigMaps and uploaded config files hold no credential",
                "the control is about how pods consume Secrets (files over environment variables): not "
                "checked here",
            ),
            partial(
                "nist-800-53:IA-5(7)",
                "no static credential is embedded in config files",
                "detection is by known credential patterns; other static storage (images, code) is not "
                "checked",
            ),
            partial(
                "nist-800-53:SC-28",
                "credentials stay out of unencrypted config objects",
                "encryption at rest of the secrets store and of data: not checked",
            ),
            partial(
                "iso-27001:A.5.17",
                "credentials are not stored in plain config",
                "allocation and management of authentication information: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "credentials are not exposed in config objects",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Move the value into a Kubernetes Secret (or a secret Docker upload) and reference it; rotate it.",
        "Protection of information at rest",
        non_waivable=True,
        applies_to=CONFIG_FILES,
    ),
    Rule(
        "secret-no-plaintext-metadata",
        SEC,
        "Labels and annotations must not contain secrets.",
        sec.secret_no_plaintext_metadata,
        "critical",
        BOTH,
        (
            partial(
                "nist-800-53:IA-5(7)",
                "no static credential is embedded in labels or annotations",
                "detection is by known credential patterns; other static storage (images, code) is not "
                "checked",
            ),
            partial(
                "nist-800-53:SC-28",
                "credentials stay out of metadata readable by anyone who lists objects",
                "encryption at rest of the secrets store and of data: not checked",
            ),
            partial(
                "iso-27001:A.5.17",
                "credentials are not stored in metadata",
                "allocation and management of authentication information: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "credentials are not exposed in metadata",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Remove the credential from labels/annotations (they are readable by anyone who can list the "
        "object) and rotate it.",
        "Authenticator management: no embedded unencrypted static authenticators",
        non_waivable=True,
        applies_to=LABELABLE,
    ),
    Rule(
        "network-no-public-exposure",
        SEC,
        "Services and ports must not be exposed outside the cluster/host without an explicit allowance.",
        sec.network_no_public_exposure,
        "high",
        BOTH,
        (
            full(
                "cis-docker:5.14",
                "every published Docker port is bound to a specific (loopback) interface, or carries a "
                "reviewed allowance",
            ),
            partial(
                "cis-kubernetes:5.2.13",
                "no declared pod uses a hostPort without an allowance",
                "the rule also allows reviewed exceptions; and the control asks each namespace's "
                "admission policy (Pod Security Admission) to refuse such pods; the cluster's admission "
                "configuration is not checked",
            ),
            partial(
                "nist-800-53:SC-7",
                "nothing is exposed outside the cluster or host without an allowance",
                "boundary devices, monitoring of communications at the boundary: not checked",
            ),
            partial(
                "iso-27001:A.8.20",
                "services are not exposed to outside networks by default",
                "network management, controls on network devices: not checked",
            ),
            partial(
                "soc2:CC6.6",
                "services are not reachable from outside the system boundary by default",
                "threat protection at the boundary (firewalls, intrusion detection): not checked",
            ),
        ),
        f"Use ClusterIP Services (and an Ingress with TLS), bind Docker ports to 127.0.0.1, or set "
        f'`{L.EXPOSURE_ALLOWED}: "true"` after a security review.',
        "Boundary protection",
        applies_to=EXPOSURE,
    ),
    Rule(
        "ingress-tls-required",
        SEC,
        "Every Ingress host must be served over TLS.",
        sec.ingress_tls_required,
        "high",
        K8S,
        (
            partial(
                "nist-800-53:SC-8",
                "every Ingress host is served over TLS",
                "traffic inside the cluster (service to service, to the database) is not checked",
            ),
            partial(
                "iso-27001:A.8.24",
                "TLS is configured for every Ingress host",
                "rules for cryptography and key management: not checked",
            ),
            partial(
                "soc2:CC6.7",
                "traffic entering through an Ingress is encrypted in transit",
                "other transmission and removal of information: not checked",
            ),
        ),
        "Add a `spec.tls` entry with a `secretName` covering every `spec.rules[].host` (cert-manager can "
        "issue it).",
        "Transmission confidentiality and integrity",
        applies_to=INGRESSES,
    ),
    Rule(
        "network-policy-coverage",
        SEC,
        "Every pod must be selected by a NetworkPolicy that restricts its ingress; Docker containers must "
        "use a user-defined network.",
        sec.network_policy_coverage,
        "high",
        BOTH,
        (
            full(
                "cis-kubernetes:5.3.2",
                "every declared pod is selected by a NetworkPolicy restricting ingress",
            ),
            full(
                "cis-docker:5.30",
                "every declared container joins a user-defined network, not docker0",
            ),
            partial(
                "nist-800-53:SC-7",
                "ingress to every pod is restricted by policy",
                "boundary devices, monitoring of communications at the boundary: not checked",
            ),
            partial(
                "nist-800-53:AC-4",
                "ingress flows between pods are controlled by policy",
                "egress and information-flow policy beyond pod ingress: not checked",
            ),
            partial(
                "iso-27001:A.8.22",
                "workloads are segregated by network policy",
                "the segregation design (domains, trust levels) and its review: not checked",
            ),
            partial(
                "soc2:CC6.6",
                "pods are not reachable from everywhere by default",
                "threat protection at the boundary (firewalls, intrusion detection): not checked",
            ),
        ),
        "Add a default-deny NetworkPolicy (`podSelector: {}`) per namespace plus allow rules; on Docker "
        "attach containers to the environment's network via `networks_advanced`. A policy restricts "
        "ingress when `Ingress` is among its `policyTypes` (the default) and no rule admits every source "
        "on every port (an empty rule, a `0.0.0.0/0` ipBlock without ports); egress is not required.",
        "Ensure that all Namespaces have NetworkPolicies defined",
        stack=True,
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "namespace-not-default",
        SEC,
        "Namespaced objects must live in a dedicated namespace.",
        sec.namespace_not_default,
        "medium",
        K8S,
        (
            full(
                "cis-kubernetes:5.7.4",
                "every declared namespaced object names a namespace other than default",
            ),
            partial(
                "nist-800-53:SC-2",
                "platform objects live in their own namespace",
                "separation of user functionality from system management functionality: not checked",
            ),
            partial(
                "iso-27001:A.8.22",
                "the environment's objects are grouped in one namespace",
                "network segregation itself is network-policy-coverage's, and its design: not checked",
            ),
        ),
        "Set `metadata.namespace` to the environment's namespace explicitly.",
        "The default namespace should not be used",
        applies_to=NAMESPACED,
    ),
    # ----------------------------------------------------------------------------- reliability
    Rule(
        "workload-resource-requests",
        REL,
        "Containers must request CPU and memory.",
        rel.workload_resource_requests,
        "medium",
        BOTH,
        (
            full(
                "cis-docker:5.12",
                "every declared container sets its CPU shares (and a memory reservation)",
            ),
            partial(
                "nist-800-53:SC-6",
                "each container requests the CPU and memory it needs",
                "the allocation of resources by priority or quota at the cluster: not checked",
            ),
            partial(
                "iso-27001:A.8.6",
                "capacity each workload needs is declared",
                "capacity monitoring and projection: not checked",
            ),
            partial(
                "soc2:A1.1",
                "processing capacity is declared per workload",
                "monitoring and evaluation of capacity and demand: not checked",
            ),
        ),
        "Set `resources.requests.cpu` and `.memory`; on Docker set `cpu_shares` and `memory_reservation`.",
        "Resource availability",
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-resource-limits",
        REL,
        "Containers must have CPU and memory limits.",
        rel.workload_resource_limits,
        "medium",
        BOTH,
        (
            full(
                "cis-docker:5.11",
                "every declared container has a memory limit (and a CPU limit)",
            ),
            partial(
                "nist-800-53:SC-6",
                "no container can take more than its limit",
                "the allocation of resources by priority or quota at the cluster: not checked",
            ),
            partial(
                "nist-800-53:SC-5",
                "one container's runaway load cannot starve the others",
                "protection against external denial-of-service (rate limits, upstream filtering): not "
                "checked",
            ),
            partial(
                "iso-27001:A.8.6",
                "capacity per workload is bounded",
                "capacity monitoring and projection: not checked",
            ),
            partial(
                "soc2:A1.1",
                "capacity per workload is bounded",
                "monitoring and evaluation of capacity and demand: not checked",
            ),
        ),
        "Set `resources.limits.cpu` and `.memory`; on Docker set `memory` and `cpus`.",
        "Ensure that the memory usage for containers is limited",
        applies_to=POD_OR_CONTAINER,
    ),
    Rule(
        "workload-health-checks",
        REL,
        "Long-running containers must have liveness and readiness checks.",
        rel.workload_health_checks,
        "medium",
        BOTH,
        (
            full(
                "cis-docker:5.27",
                "every long-running declared container has a health check",
            ),
            partial(
                "nist-800-53:SI-4",
                "workload health is probed",
                "system monitoring for attacks and unauthorised use: not checked",
            ),
            partial(
                "nist-800-53:CP-10",
                "unhealthy workloads are detected so they can be restarted",
                "recovery procedures and their testing: not checked",
            ),
            partial(
                "iso-27001:A.8.16",
                "workload health is monitored",
                "monitoring for anomalous behaviour and its evaluation: not checked",
            ),
            partial(
                "soc2:A1.2",
                "failed workloads are detected",
                "backup and recovery infrastructure: not checked",
            ),
        ),
        "Add `livenessProbe` and `readinessProbe` to every app container; on Docker add a `healthcheck`.",
        "Ensure that container health is checked at runtime",
        applies_to=HEALTH_CHECKED,
    ),
    Rule(
        "workload-restart-policy",
        REL,
        "Workloads must be restarted automatically when they fail.",
        rel.workload_restart_policy,
        "medium",
        BOTH,
        (
            partial(
                "cis-docker:5.15",
                "declared containers restart on failure",
                "the control asks for `on-failure` with at most 5 retries; the rule also accepts "
                "`unless-stopped`",
            ),
            partial(
                "nist-800-53:CP-10",
                "failed workloads are restarted automatically",
                "recovery procedures and their testing: not checked",
            ),
            partial(
                "iso-27001:A.8.14",
                "failed workloads are restarted",
                "redundancy of processing facilities (replicas are workload-min-replicas'): not checked",
            ),
            partial(
                "soc2:A1.2",
                "failed workloads are restarted",
                "backup and recovery infrastructure: not checked",
            ),
        ),
        'Run pods through a controller (Deployment/StatefulSet); on Docker set `restart="unless-stopped"` '
        "(or `on-failure` with `max_retry_count` <= 5).",
        "Ensure that the 'on-failure' container restart policy is set to '5'",
        applies_to=RESTARTED,
    ),
    Rule(
        "workload-min-replicas",
        GOV,
        "Serving workloads must run the tier's minimum number of replicas.",
        rel.workload_min_replicas,
        "high",
        K8S,
        (
            partial(
                "nist-800-53:CP-10",
                "serving runs enough replicas to survive a pod's loss",
                "recovery procedures and their testing: not checked",
            ),
            partial(
                "nist-800-53:SC-5",
                "serving runs several replicas",
                "protection against denial-of-service attacks: not checked",
            ),
            partial(
                "iso-27001:A.8.14",
                "serving is redundant within the cluster",
                "redundancy of the facilities (nodes, zones, regions): not checked",
            ),
            partial(
                "soc2:A1.2",
                "serving is redundant",
                "backup and recovery infrastructure: not checked",
            ),
        ),
        "Raise `spec.replicas` (or the HPA's `minReplicas`) to at least `minReplicas`. Canary workloads are "
        "exempt: they are sized by traffic weight.",
        "System recovery and reconstitution",
        stack=True,
        schema={
            "minReplicas": {"type": "integer", "minimum": 1, "default": 3},
            "components": {**_STRINGS, "default": [L.COMPONENT_MODEL_SERVER]},
        },
        knobs=_tiered(minReplicas=(1, 2, 3)),
        applies_to=MIN_REPLICAS,
    ),
    Rule(
        "workload-disruption-budget",
        REL,
        "Multi-replica workloads must have a PodDisruptionBudget that still allows voluntary disruption.",
        rel.workload_disruption_budget,
        "medium",
        K8S,
        (
            partial(
                "nist-800-53:CP-10",
                "voluntary disruptions leave replicas running",
                "recovery procedures and their testing: not checked",
            ),
            partial(
                "iso-27001:A.8.14",
                "maintenance cannot take every replica down at once",
                "redundancy of the facilities (nodes, zones, regions): not checked",
            ),
            partial(
                "soc2:A1.2",
                "availability is kept through maintenance",
                "backup and recovery infrastructure: not checked",
            ),
        ),
        "Add a PodDisruptionBudget selecting the pod labels with `maxUnavailable: 1` (a budget allowing no "
        "disruption blocks node drains).",
        "System recovery and reconstitution",
        stack=True,
        applies_to=REPLICATED,
    ),
    Rule(
        "autoscaler-bounds-sane",
        REL,
        "HorizontalPodAutoscaler bounds must be consistent with the tier.",
        rel.autoscaler_bounds_sane,
        "medium",
        K8S,
        (
            partial(
                "nist-800-53:SC-5",
                "autoscaling is bounded and has a metric",
                "protection against denial-of-service attacks: not checked",
            ),
            partial(
                "nist-800-53:CP-2(2)",
                "capacity for serving scales within planned bounds",
                "the capacity plan itself (projection of demand): not checked",
            ),
            partial(
                "iso-27001:A.8.6",
                "capacity scales within bounds",
                "capacity monitoring and projection: not checked",
            ),
            partial(
                "soc2:A1.1",
                "capacity scales within bounds",
                "monitoring and evaluation of capacity: not checked",
            ),
        ),
        "Set `minReplicas` >= the tier minimum, `maxReplicas` between `minReplicas` and the ceiling, and "
        "at least "
        "one metric.",
        "Capacity planning",
        schema={
            "minReplicas": {"type": "integer", "minimum": 1, "default": 3},
            "maxReplicas": {"type": "integer", "minimum": 1, "default": 50},
        },
        knobs=_tiered(minReplicas=(1, 2, 3), maxReplicas=(5, 20, 50)),
        applies_to=AUTOSCALERS,
    ),
    Rule(
        "storage-protected",
        REL,
        "Stateful resources must be protected from deletion where the tier requires it.",
        rel.storage_protected,
        "high",
        BOTH,
        (
            partial(
                "nist-800-53:CP-9",
                "stateful resources cannot be deleted by a deployment",
                "backups themselves are database-backups-scheduled's; their testing is not checked",
            ),
            partial(
                "nist-800-53:CM-3",
                "deleting stored data needs an explicit change to the program",
                "the change-control process (review, approval, records): not checked",
            ),
            partial(
                "iso-27001:A.8.13",
                "stored data survives a stack change",
                "backup copies and their testing: not checked",
            ),
            partial(
                "soc2:A1.2",
                "stored data survives a stack change",
                "backup copies and their testing: not checked",
            ),
        ),
        "Create databases, object stores, PVCs and volumes with `ResourceOptions(protect=True)` (and "
        "`retain_on_delete=True`).",
        "System backup",
        schema={"requireProtect": {"type": "boolean", "default": True}},
        knobs=_tiered(requireProtect=(False, False, True)),
        applies_to=STATEFUL,
    ),
    Rule(
        "database-backups-scheduled",
        GOV,
        "Metadata databases must have scheduled backups with enough retention.",
        rel.database_backups_scheduled,
        "high",
        BOTH,
        (
            partial(
                "nist-800-53:CP-9",
                "the metadata database has a scheduled backup with enough retention",
                "that backups run, are stored apart, and restore (testing): not checked; object-store "
                "data is object-store-versioning's",
            ),
            partial(
                "iso-27001:A.8.13",
                "the metadata database has a scheduled backup with enough retention",
                "that backups run and restore (testing), off-site copies: not checked",
            ),
            partial(
                "soc2:A1.2",
                "the metadata database is backed up on schedule",
                "that backups run and restore (testing): not checked",
            ),
        ),
        "Enable `storage.database.backup` in the environment spec: a backup CronJob labelled "
        f"`{L.BACKUP_OF}` "
        f"(Docker: `{L.BACKUP_SCHEDULE}`/`{L.BACKUP_RETENTION_DAYS}` labels) with retention >= "
        "`minRetentionDays`.",
        "System backup",
        stack=True,
        schema={"minRetentionDays": {"type": "integer", "minimum": 1, "default": 30}},
        knobs=_tiered(minRetentionDays=(1, 7, 30)),
        applies_to=DATABASES,
    ),
    Rule(
        "object-store-versioning",
        GOV,
        "The object store must keep object versions.",
        rel.object_store_versioning,
        "medium",
        BOTH,
        (
            partial(
                "nist-800-53:CP-9",
                "every bucket keeps object versions",
                "versions live in the same store: not a backup apart; restore testing not checked",
            ),
            partial(
                "iso-27001:A.8.13",
                "overwritten artefacts can be recovered",
                "backup copies apart and their testing: not checked",
            ),
            partial(
                "soc2:A1.2",
                "overwritten artefacts can be recovered",
                "backup copies apart and their testing: not checked",
            ),
        ),
        "Enable versioning on every bucket (`storage.object_store.buckets[].versioning: true`).",
        "System backup",
        applies_to=OBJECT_STORES,
    ),
    Rule(
        "object-store-encryption",
        GOV,
        "The object store must encrypt data at rest.",
        rel.object_store_encryption,
        "high",
        BOTH,
        (
            partial(
                "nist-800-53:SC-28",
                "the object store encrypts data at rest",
                "the metadata database and volumes are not checked; nor key management",
            ),
            partial(
                "iso-27001:A.8.24",
                "encryption at rest is configured for the object store",
                "rules for cryptography and key management: not checked",
            ),
            partial(
                "soc2:CC6.1",
                "stored artefacts are encrypted",
                "CC6.1 also covers identity, authentication and access management: not checked",
            ),
        ),
        "Enable server-side encryption (`storage.object_store.encryption: true`, MinIO KMS/KES).",
        "Protection of information at rest",
        applies_to=OBJECT_STORES,
    ),
    # ----------------------------------------------------------------------------- governance
    Rule(
        "resource-ownership-labels",
        GOV,
        "Every resource must carry the configured ownership labels (the platform's configs: owner, team, "
        "cost-centre, environment).",
        gov.resource_ownership_labels,
        "medium",
        BOTH,
        (
            partial(
                "nist-800-53:CM-8",
                "every declared resource names its owner, team and cost centre",
                "an inventory kept up to date and reviewed: only the declared resources are seen",
            ),
            partial(
                "iso-27001:A.5.9",
                "each asset declares its owner",
                "the inventory's upkeep and review: not checked",
            ),
            partial(
                "soc2:CC2.1",
                "ownership information exists for each resource",
                "its use to support internal control: not checked",
            ),
            partial(
                "nist-ai-rmf:GOVERN-2.1",
                "an owning team is named for each resource",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
        ),
        "Pass the environment's ownership labels (mlops_platform.vocabulary.OWNERSHIP_LABELS) to every "
        "resource and pod template. Without `requiredLabels` in the pack config the rule applies nowhere, "
        "so a program of other conventions gets no ownership noise.",
        "System component inventory",
        schema={"requiredLabels": {**_STRINGS, "default": []}},
        knobs=_tiered(requiredLabels=(list(L.OWNERSHIP_LABELS),) * 3),
        applies_to=OWNED,
    ),
    Rule(
        "resource-app-labels",
        GOV,
        "Every resource must carry the app.kubernetes.io recommended labels.",
        gov.resource_app_labels,
        "low",
        BOTH,
        (
            partial(
                "nist-800-53:CM-8",
                "every declared resource carries name, component and part-of labels",
                "an inventory kept up to date and reviewed: only the declared resources are seen",
            ),
            partial(
                "iso-27001:A.5.9",
                "each asset is identifiable",
                "the inventory's upkeep and review: not checked",
            ),
        ),
        "Set app.kubernetes.io/name, instance, component, part-of and managed-by on every resource.",
        "System component inventory",
        levels=_ADVISORY_IN_STAGING,
        applies_to=LABELABLE,
    ),
    Rule(
        "model-serving-labels",
        GOV,
        "Serving workloads must declare model, version, risk tier, data classification and provenance.",
        gov.model_serving_labels,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.12",
                "the served model and version are recorded on the workload",
                "automatic logging of events over the system's lifetime: not checked",
            ),
            partial(
                "eu-ai-act:Art.11",
                "model, risk tier and classification are declared",
                "the article binds the provider's processes and documentation: only the declared "
                "configuration is checked",
            ),
            partial(
                "nist-ai-rmf:GOVERN-1.6",
                "each served model is inventoried with its metadata",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:MAP-1.1",
                "risk tier and data classification are declared",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:CM-8",
                "serving workloads name their model",
                "an inventory kept up to date and reviewed: not checked",
            ),
            partial(
                "iso-27001:A.5.12",
                "each model declares its data classification",
                "the classification scheme and labelling procedure: not checked",
            ),
            partial(
                "soc2:CC2.1",
                "model metadata exists for each endpoint",
                "its use to support internal control: not checked",
            ),
        ),
        "Let the serving component set the model labels and annotations from the environment spec "
        "(`serving.models[].model` and `.governance`).",
        "Record-keeping",
        applies_to=SERVING,
    ),
    Rule(
        "model-registry-source",
        GOV,
        "Served models must come from the model registry by pinned version or an approved alias.",
        gov.model_registry_source,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.17",
                "models are served only from the registry",
                "the article binds the provider's processes and documentation: only the declared "
                "configuration is checked",
            ),
            partial(
                "eu-ai-act:Art.12",
                "the registry reference served is recorded",
                "automatic logging of events over the system's lifetime: not checked",
            ),
            partial(
                "nist-ai-rmf:MANAGE-1.3",
                "ad-hoc model sources are refused in the tier",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:CM-3",
                "a model change goes through the registry",
                "the change-control process (review, approval, records): not checked",
            ),
            partial(
                "iso-27001:A.8.32",
                "model changes go through the registry",
                "the change-management process: not checked",
            ),
            partial(
                "soc2:CC8.1",
                "model changes go through the registry",
                "authorisation and approval of changes: not checked",
            ),
        ),
        "Register the model and serve `models:/<name>/<version>` or an approved alias (`champion`); "
        "ad-hoc URIs "
        "are for dev only.",
        "Quality management system",
        schema={
            "allowedSources": {**_STRINGS, "default": ["registry-version", "registry-alias"]},
            "approvedAliases": {**_STRINGS, "default": ["champion", "challenger"]},
        },
        knobs=_tiered(
            allowedSources=(
                ["registry-version", "registry-alias", "uri"],
                ["registry-version", "registry-alias"],
                ["registry-version", "registry-alias"],
            ),
            approvedAliases=(
                ["champion", "challenger", "staging"],
                ["champion", "challenger"],
                ["champion", "challenger"],
            ),
        ),
        applies_to=SERVING,
    ),
    Rule(
        "model-version-pinned",
        GOV,
        "A high-risk model must be served by an exact version: pinned in the spec, or an alias a model "
        "registry resolved.",
        gov.model_version_pinned,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.12",
                "the exact version each endpoint of a high-risk model serves is known and recorded",
                "automatic logging of events over the system's lifetime: not checked",
            ),
            partial(
                "eu-ai-act:Art.9",
                "a high-risk model's served version is identified, so its risks can be assessed",
                "the provider's risk management system (identification, evaluation, measures): not checked",
            ),
            partial(
                "nist-800-53:CM-8",
                "the inventory names the exact model version served",
                "an inventory kept up to date and reviewed: not checked",
            ),
            partial(
                "nist-ai-rmf:GOVERN-1.6",
                "each high-risk endpoint is inventoried down to its version",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
        ),
        "Pin `serving.models[].model.version` (and `canary.version`) in the environment spec, or name "
        "the model registry (`environment.registry_source`) so the alias is resolved to a version.",
        "Record-keeping",
        schema={
            "requirePinnedVersion": {"type": "boolean", "default": True},
            "riskTiers": {**_STRINGS, "default": ["high"]},
        },
        knobs=_tiered(requirePinnedVersion=(True, True, True)),
        applies_to=PINNED_VERSION,
    ),
    Rule(
        "model-artifact-pinned",
        GOV,
        "A model an inference server pulls from a hub at start must be pinned to a revision.",
        gov.model_artifact_pinned,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.12",
                "the exact model revision a hub-pulling server loads is named in its configuration",
                "automatic logging of events over the system's lifetime: not checked",
            ),
            partial(
                "nist-ai-rmf:MANAGE-1.3",
                "a model that its hub owner can change under the same name is refused in the tier",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:CM-2",
                "the model in the baseline is named by a revision, not a moving hub name",
                "a documented, reviewed baseline configuration: not checked",
            ),
            partial(
                "iso-27001:A.8.32",
                "a change of model revision is a change of configuration",
                "the change-management process (approval, testing) is not checked",
            ),
            partial(
                "soc2:CC8.1",
                "model changes show in the declared configuration",
                "authorisation and approval of changes are not checked",
            ),
        ),
        "Pin the model to a commit: `--revision <sha>` (vLLM, TGI) or a `REVISION` env var, or serve it "
        "from the model registry instead of a hub name that its owner can change.",
        "Record-keeping",
        applies_to=SERVING,
    ),
    Rule(
        "model-high-risk-documentation",
        GOV,
        "High-risk models must link a model card and an approval reference.",
        gov.model_high_risk_documentation,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.11",
                "a high-risk model links a model card",
                "the card's content (Annex IV) is not checked",
            ),
            partial(
                "eu-ai-act:Art.13",
                "a high-risk model links documentation for deployers",
                "the instructions for use and their content: not checked",
            ),
            partial(
                "eu-ai-act:Art.14",
                "a high-risk model names an approval reference",
                "human oversight measures during use: not checked",
            ),
            partial(
                "nist-ai-rmf:GOVERN-1.4",
                "high-risk models are documented and approved",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:MAP-3.5",
                "an approval (human oversight) is referenced",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:CA-6",
                "an approval reference is declared",
                "the authorisation decision itself and its official: not checked",
            ),
            partial(
                "iso-27001:A.5.8",
                "documentation is part of the model's delivery",
                "project management practices: not checked",
            ),
        ),
        "Set `governance.model_card_url` (https) and `governance.approval_ref` for the model in the "
        "environment "
        "spec.",
        "Technical documentation",
        schema={"riskTiers": {**_STRINGS, "default": ["high"]}},
        applies_to=SERVING,
    ),
    Rule(
        "model-monitoring-coverage",
        GOV,
        "Every serving endpoint must have a scrape target and alert rules.",
        gov.model_monitoring_coverage,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.72",
                "every endpoint is scraped and has alert rules",
                "the post-market monitoring plan and its data collection: not checked",
            ),
            partial(
                "eu-ai-act:Art.15",
                "endpoints are monitored for errors and latency",
                "accuracy, robustness and cybersecurity levels themselves: not checked",
            ),
            partial(
                "nist-ai-rmf:MEASURE-2.4",
                "production behaviour is monitored",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:MANAGE-4.1",
                "monitoring is deployed for every endpoint",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:SI-4",
                "endpoints are monitored",
                "monitoring for attacks and unauthorised use: not checked",
            ),
            partial(
                "iso-27001:A.8.16",
                "endpoints are monitored",
                "evaluation of anomalies and response: not checked",
            ),
            partial(
                "soc2:CC7.2",
                "endpoints are monitored for anomalies",
                "analysis of anomalies as security events: not checked",
            ),
        ),
        f"Create a ServiceMonitor labelled `{L.SCRAPE_TARGET}` and a PrometheusRule labelled "
        f"`{L.ALERT_RULES_FOR}` with a `model-<name>` group (Docker: a `model-<name>` scrape job and rule "
        "group "
        "in the Prometheus uploads).",
        "Post-market monitoring",
        stack=True,
        applies_to=SERVING,
    ),
    Rule(
        "model-drift-check",
        GOV,
        "High-risk models must have an active drift check.",
        gov.model_drift_check,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.15",
                "a high-risk model's drift is checked on a schedule",
                "accuracy levels declared and met over the lifecycle: not checked",
            ),
            partial(
                "eu-ai-act:Art.72",
                "drift is monitored in production",
                "the post-market monitoring plan: not checked",
            ),
            partial(
                "nist-ai-rmf:MEASURE-2.4",
                "production behaviour is checked for drift",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:MANAGE-4.1",
                "drift monitoring is deployed",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:CA-7",
                "model drift is monitored continuously",
                "the continuous monitoring strategy and its reporting: not checked",
            ),
            partial(
                "iso-27001:A.8.16",
                "model behaviour is monitored",
                "evaluation of anomalies and response: not checked",
            ),
        ),
        "Enable `monitoring.drift` so a drift-check CronJob labelled with the model runs (Docker: the "
        f"`{L.DRIFT_CHECK}` label is `enabled`).",
        "Accuracy, robustness and cybersecurity",
        stack=True,
        schema={"riskTiers": {**_STRINGS, "default": ["high"]}},
        applies_to=SERVING,
    ),
    Rule(
        "model-classification-ceiling",
        GOV,
        "A model's data classification must not exceed its environment's classification ceiling.",
        gov.model_classification_ceiling,
        "critical",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.10",
                "no model handles data above its environment's clearance",
                "data governance practices (quality, bias, provenance of training data): not checked",
            ),
            partial(
                "nist-ai-rmf:MAP-4.1",
                "data-classification risk is mapped per model",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:RA-2",
                "each model's data is categorised and kept within its environment's category",
                "the categorisation process and its approval: not checked",
            ),
            partial(
                "nist-800-53:AC-4",
                "classified data does not flow to an environment below its class",
                "flows inside the environment: not checked",
            ),
            partial(
                "iso-27001:A.5.12",
                "classification is enforced per environment",
                "the classification scheme: not checked",
            ),
            partial(
                "soc2:C1.1",
                "confidential data stays in environments cleared for it",
                "identification and retention of confidential information: not checked",
            ),
        ),
        "Serve the model from an environment cleared for its data class, or raise "
        "`environment.data_classification_ceiling` after a data-protection review.",
        "Data and data governance",
        stack=True,
        non_waivable=True,
        applies_to=SERVING,
    ),
    # ------------------------------------------------- governance: the model registry (issue 15)
    # Judge what ``environment.registry_source`` resolved (annotations ``labels.REGISTRY_*``);
    # workloads of environments that name no registry are not theirs to judge.
    Rule(
        "model-version-resolved",
        GOV,
        "A served model's alias or version must resolve in the model registry the environment names.",
        regy.model_version_resolved,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.12",
                "the exact registry version served is resolved and recorded",
                "automatic logging of events over the system's lifetime: not checked",
            ),
            partial(
                "eu-ai-act:Art.9",
                "what is served is a known registered version",
                "the article binds the provider's processes and documentation: only the declared "
                "configuration is checked",
            ),
            partial(
                "nist-ai-rmf:MANAGE-1.3",
                "the served version is traceable",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:MEASURE-2.1",
                "the served version links its registry record",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:CM-8",
                "the model inventory names exact versions",
                "the inventory's upkeep and review: not checked",
            ),
        ),
        "Make the registry reachable with the configured credentials, or audit from a snapshot "
        "(`mlops registry snapshot ENV -o FILE`, then `mlops audit ENV --registry-snapshot FILE`); "
        "register the missing version or point the alias at one.",
        "Record-keeping",
        applies_to=REGISTRY_CONSULTED,
        levels={"dev": "advisory", "staging": "mandatory", "prod": "mandatory"},
    ),
    Rule(
        "model-version-approved",
        GOV,
        "The served version must carry an approval tag equal to the spec's approval reference.",
        regy.model_version_approved,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.14",
                "the served version carries the approval tag the spec names",
                "human oversight measures during use: not checked",
            ),
            partial(
                "eu-ai-act:Art.9",
                "the served version was approved",
                "the article binds the provider's processes and documentation: only the declared "
                "configuration is checked",
            ),
            partial(
                "nist-ai-rmf:MANAGE-1.1",
                "a go decision is recorded for the served version",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:GOVERN-1.4",
                "approval is recorded in the registry",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:CA-6",
                "an approval is recorded on the version",
                "the authorisation decision itself: not checked",
            ),
        ),
        f"Tag the approved version `{L.TAG_APPROVAL_REF}=<governance.approval_ref>` in the registry "
        "(`MlflowClient().set_model_version_tag`) or serve the version the approval covers.",
        "Human oversight",
        levels=_ADVISORY_IN_STAGING,
        schema={"riskTiers": {**_STRINGS, "default": ["minimal", "limited", "high"]}},
        applies_to=REGISTRY_CONSULTED,
    ),
    Rule(
        "model-version-validated",
        GOV,
        "The served version's validation status must be passed.",
        regy.model_version_validated,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.15",
                "the served version passed validation",
                "the validation's content and levels: not checked",
            ),
            partial(
                "eu-ai-act:Art.9",
                "testing is part of what is served",
                "the article binds the provider's processes and documentation: only the declared "
                "configuration is checked",
            ),
            partial(
                "nist-ai-rmf:MEASURE-2.3",
                "validation passed for the served version",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:MANAGE-1.1",
                "deployment proceeds only after validation",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:SA-11",
                "the version passed the developer's validation",
                "the test plan and its evidence: not checked",
            ),
        ),
        f"Run the validation pipeline and tag the version `{L.TAG_VALIDATION_STATUS}=passed`, or serve "
        "a version that passed.",
        "Accuracy, robustness and cybersecurity",
        levels=_ADVISORY_IN_STAGING,
        schema={"riskTiers": {**_STRINGS, "default": ["minimal", "limited", "high"]}},
        applies_to=REGISTRY_CONSULTED,
    ),
    Rule(
        "model-version-metrics",
        GOV,
        "The served version's logged metrics must meet the thresholds the spec declares.",
        regy.model_version_metrics,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.15",
                "logged metrics meet the declared thresholds",
                "the metrics' appropriateness and how they were measured: not checked",
            ),
            partial(
                "eu-ai-act:Art.10",
                "quality thresholds gate the served version",
                "data governance practices for training data: not checked",
            ),
            partial(
                "nist-ai-rmf:MEASURE-2.3",
                "performance criteria are met for the served version",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:MEASURE-2.5",
                "validity is shown by logged metrics",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:SA-11",
                "test results meet thresholds",
                "the test plan and its evidence: not checked",
            ),
        ),
        "Serve a version whose run logged every metric of `governance.metric_thresholds` at the "
        "required level, or revise the thresholds through model-risk review.",
        "Accuracy, robustness and cybersecurity",
        levels=_ADVISORY_IN_STAGING,
        applies_to=REGISTRY_CONSULTED,
    ),
    Rule(
        "model-version-model-card",
        GOV,
        "A high-risk model's served version must link a model card in the registry.",
        regy.model_version_model_card,
        "high",
        BOTH,
        (
            partial(
                "eu-ai-act:Art.11",
                "the served version links a model card",
                "the card's content (Annex IV): not checked",
            ),
            partial(
                "eu-ai-act:Art.13",
                "deployers can reach the model's documentation",
                "the instructions for use and their content: not checked",
            ),
            partial(
                "nist-ai-rmf:MEASURE-2.9",
                "the served version is documented",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-ai-rmf:GOVERN-1.4",
                "documentation is linked in the registry",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
        ),
        f"Tag the version `{L.TAG_MODEL_CARD_URL}=https://...` with its model card.",
        "Technical documentation",
        levels=_ADVISORY_IN_STAGING,
        schema={"riskTiers": {**_STRINGS, "default": ["high"]}},
        applies_to=REGISTRY_CONSULTED,
    ),
    Rule(
        "model-canary-newer-version",
        GOV,
        "A canary must serve a newer registry version than its model's stable track.",
        regy.model_canary_newer_version,
        "medium",
        BOTH,
        (
            partial(
                "nist-ai-rmf:MANAGE-2.4",
                "a canary can be rolled back to the older stable version",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "eu-ai-act:Art.9",
                "changes are rolled out as a canary of a newer version",
                "the article binds the provider's processes and documentation: only the declared "
                "configuration is checked",
            ),
            partial(
                "nist-ai-rmf:MANAGE-4.1",
                "the rollout is monitored as a canary",
                "the subcategory asks for documented processes and their outcomes: organisational, not "
                "checked",
            ),
            partial(
                "nist-800-53:CM-3",
                "a model change is rolled out stepwise",
                "the change-control process (review, approval, records): not checked",
            ),
        ),
        "Point the canary's alias at a version newer than the stable one, or promote the canary and "
        "remove it.",
        "Risk management system",
        stack=True,
        levels=_ADVISORY_IN_STAGING,
        applies_to=REGISTRY_CONSULTED,
    ),
)

RULES_BY_NAME = {r.name: r for r in RULES}


def rules_for(pack: str) -> list[Rule]:
    return [r for r in RULES if r.pack == pack]


# --- generated artefacts -------------------------------------------------------------------------


def config_document(env: str) -> dict[str, Any]:
    """``policies/config/tiers/<env>.json``: one entry per rule of every pack, each with an explicit level."""
    return {r.name: r.config_for(env) for r in RULES}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_readme() -> str:
    lines = [
        "# Policy catalogue",
        "",
        "<!-- Generated by `python -m mlops_platform.policies.catalogue`; do not edit by hand. -->",
        "",
        f"{len(RULES)} rules in {len(PACKS)} CrossGuard packs. Run a pack with the config of the "
        "environment's tier:",
        "",
        "```sh",
        "pulumi preview -s prod --policy-pack policies/mlops-security --policy-pack-config "
        "policies/config/tiers/prod.json",
        "```",
        "",
        "Repeat `--policy-pack`/`--policy-pack-config` for `mlops-reliability` and `mlops-governance` (one "
        "config file per tier serves all three packs; see *Configuration* below). `mlops audit`, "
        "`mlops preview --pulumi` and `mlops up` pick the file by the spec's `environment.tier` and merge "
        "`policies/config/environments/<env>.json`, when present, over it.",
        "",
        "## Conventions",
        "",
        "- **Names** are `<resource>-<check>` with a target-neutral resource (`workload`, `image`, `secret`, "
        "`network`, `model`...): one rule covers Kubernetes and Docker alike.",
        "- **Tags** (visible through `GetAnalyzerInfo`): `control:<framework>:<control-id>` for each mapped "
        "control, `target:<kubernetes|docker>`, `area:<security|reliability|governance>`, "
        "`scope:<resource|stack>`, and `non-waivable` for rules that no waiver may suppress.",
        "- **Framework** (`PolicyComplianceFramework`) is the first control listed; the tags carry all of "
        "them.",
        "- **Applicability**: every rule declares where it applies (types, and a predicate where the type "
        "alone does not tell). On any other resource the pack answers *not applicable* "
        "(`PolicyNotApplicable`), which the engine leaves out of its passed policies and every report "
        "counts apart: a check is a rule evaluated on a resource it applies to.",
        "- **Pod-bearing kinds**: the pod-spec rules read every kind that holds a pod spec in every API "
        "version pulumi-kubernetes generates (table generated from the SDK: "
        "`python -m mlops_platform.policies.pod_types`), with containers, initContainers and "
        "ephemeralContainers. `*List` and `*Patch` types are not applicable: a list holds whole objects "
        "declared elsewhere, a patch leaves unset fields unchanged rather than unset.",
        "- **Objects Kubernetes creates itself** (the `kubernetes` Service in `default`, the `default` "
        "ServiceAccount and the `kube-root-ca.crt` ConfigMap of each namespace) are not applicable to "
        "`namespace-not-default`: a program that adopts one cannot choose its namespace.",
        "- **Unknown values** during preview never pass: a rule that needs a value which is unknown "
        "reports a "
        "violation saying so (pulumi-policy alone would downgrade it to an advisory note).",
        "",
        "| Framework id | Framework | Version |",
        "|---|---|---|",
    ]
    lines += [f"| `{fid}` | {fw.name} | {fw.version} |" for fid, fw in FRAMEWORKS.items()]
    lines += [
        "",
        "## Configuration",
        "",
        "`policies/config/tiers/{dev,staging,prod}.json` are in `--policy-pack-config` format: every rule "
        "has an explicit `enforcementLevel` (advisory in dev, mostly mandatory in staging, all mandatory in "
        "prod) plus "
        "its per-tier knobs. One file serves all three packs: the engine passes entries for policies a "
        "pack does "
        "not have through `Configure` unchanged and the pack ignores them, but only if the entry has a valid "
        "`enforcementLevel` (pulumi/pulumi `pkg/resource/analyzer/config.go` `applyConfig` keeps unknown "
        "policy "
        "names with an empty level, and `analyzer.Configure` in "
        "`sdk/go/common/resource/plugin/analyzer_plugin.go` "
        'rejects an empty level with `invalid enforcement level ""`). An entry without `enforcementLevel` '
        "would also downgrade a policy to advisory in pulumi-policy, so the files never omit it (tested).",
        "",
        "## Summary",
        "",
        "| Rule | Pack | Severity | dev | staging | prod | Targets | Waivable |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in RULES:
        lv = r.levels
        lines.append(
            f"| [`{r.name}`](#{r.name}) | {r.pack} | {r.severity} | {lv['dev']} | {lv['staging']} | "
            f"{lv['prod']} "
            f"| {', '.join(r.targets)} | {'no' if r.non_waivable else 'yes'} |"
        )
    for pack, blurb in PACKS.items():
        lines += ["", f"## {pack}", "", blurb]
        for r in rules_for(pack):
            name, version, ref = r.framework
            lines += [
                "",
                f"### {r.name}",
                "",
                _cell(r.description),
                "",
                f"- **Severity:** {r.severity}; **scope:** {'stack' if r.stack else 'resource'}; "
                f"**targets:** {', '.join(r.targets)}; **waivable:** {'no' if r.non_waivable else 'yes'}",
                f"- **Applies to:** {r.applies_to.summary} (not-applicable elsewhere: no check counted)",
                f"- **Framework:** {name} {version}, {ref} ({r.spec_title})",
                "- **Controls:**",
                *(
                    f"  - `{m.control}` ({m.coverage}): {_cell(m.rationale)}"
                    + (f"; missing: {_cell(m.missing)}" if m.missing else "")
                    for m in r.mappings
                ),
                "- **Levels:** " + ", ".join(f"{env} {r.levels[env]}" for env in ENVIRONMENTS),
                f"- **Remediation:** {_cell(r.remediation)}",
            ]
            if r.schema:
                knobs = []
                for key, prop in r.schema.items():
                    per_env = "; ".join(
                        f"{env} `{json.dumps(r.knobs[env][key])}`"
                        for env in ENVIRONMENTS
                        if key in r.knobs.get(env, {})
                    )
                    knobs.append(
                        f"`{key}` (default "
                        f"`{json.dumps(prop.get('default'))}`{'; ' + per_env if per_env else ''})"
                    )
                lines.append(f"- **Config:** {', '.join(knobs)}")
    lines += ["", "## Rules per framework", "", "| Framework | Rules |", "|---|---|"]
    for fid, count in framework_counts().items():
        lines.append(f"| `{fid}` | {count} |")
    lines += _coverage_table()
    return "\n".join(lines) + "\n"


def control_coverage() -> dict[str, dict[Coverage, list[str]]]:
    """Per ``<framework>:<control>``, the rules covering it fully and partly, in catalogue order."""
    out: dict[str, dict[Coverage, list[str]]] = {}
    for r in RULES:
        for m in r.mappings:
            out.setdefault(m.control, {Coverage.FULL: [], Coverage.PARTIAL: []})[m.coverage].append(r.name)
    return out


def _coverage_table() -> list[str]:
    lines = [
        "",
        "## Control coverage",
        "",
        "Each mapping says whether the rule covers the control **fully** (over the resources an environment "
        "declares, it checks what the control's text asks of a configuration) or **partly** (the rule's "
        "entry above says what is missing). A report shows a control as *pass* only when a rule covering "
        "it fully was judged and passed; with partial coverage alone it reads *partly evidenced*, with "
        "what is missing. Everything here is design-time configuration: nothing is observed at run time, "
        "and organisational or manual controls are never evidenced.",
        "",
        "| Control | Title | Full coverage | Partial coverage | Best result |",
        "|---|---|---|---|---|",
    ]
    coverage = control_coverage()
    for control in sorted(coverage, key=lambda c: (c.split(":", 1)[0], natural_key(c.split(":", 1)[1]))):
        fw, ref = control.split(":", 1)
        by = coverage[control]
        best = "pass" if by[Coverage.FULL] else "partly evidenced"
        lines.append(
            f"| `{control}` | {_cell(control_title(fw, ref))} | "
            f"{', '.join(f'`{n}`' for n in by[Coverage.FULL]) or '-'} | "
            f"{', '.join(f'`{n}`' for n in by[Coverage.PARTIAL]) or '-'} | {best} |"
        )
    return lines


def framework_counts() -> dict[str, int]:
    """How many rules map to at least one control of each framework."""
    return {fid: sum(any(c.startswith(f"{fid}:") for c in r.controls) for r in RULES) for fid in FRAMEWORKS}


def artefacts() -> dict[Path, str]:
    out = {README: render_readme()}
    for env in ENVIRONMENTS:
        out[CONFIG_DIR / "tiers" / f"{env}.json"] = json.dumps(config_document(env), indent=2) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the generated files are stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in artefacts().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("stale: " + ", ".join(str(p) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
