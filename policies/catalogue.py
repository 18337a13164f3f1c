"""The rule catalogue: every rule's metadata, its level and knobs per environment, and the docs.

Single source of truth for :mod:`mlops_platform.policies.packs` (which wires it into ``pulumi_policy``), for
``policies/config/tiers/<tier>.json`` (the ``--policy-pack-config`` files, one per tier) and for
``policies/README.md``.
``python -m mlops_platform.policies.catalogue`` regenerates both; ``--check`` fails when they are stale.

Tag format (read by the audit's waiver engine and the reports, from ``GetAnalyzerInfo``):
``control:<framework>:<control-id>`` per mapped control, ``target:<kubernetes|docker>`` per
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

# Framework id used in tags -> (name, version) for PolicyComplianceFramework and the docs.
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "cis-kubernetes": ("CIS Kubernetes Benchmark", "1.9.0"),
    "cis-docker": ("CIS Docker Benchmark", "1.6.0"),
    "nist-800-53": ("NIST SP 800-53", "Rev. 5"),
    "iso-27001": ("ISO/IEC 27001:2022 Annex A", "2022"),
    "soc2": ("SOC 2 Trust Services Criteria", "2017 (rev. 2022)"),
    "eu-ai-act": ("EU AI Act (Regulation (EU) 2024/1689)", "2024"),
    "nist-ai-rmf": ("NIST AI Risk Management Framework", "1.0"),
}

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
    controls: tuple[str, ...]
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
    def area(self) -> str:
        return self.pack.removeprefix("mlops-")

    @property
    def framework_id(self) -> str:
        return self.controls[0].split(":", 1)[0]

    @property
    def framework(self) -> tuple[str, str, str]:
        """(name, version, reference) of the primary framework: the first control listed."""
        fw, ref = self.controls[0].split(":", 1)
        name, version = FRAMEWORKS[fw]
        return name, version, ref

    @property
    def tags(self) -> list[str]:
        tags = [f"control:{c}" for c in self.controls]
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

RULES: tuple[Rule, ...] = (
    # ----------------------------------------------------------------------------- security
    Rule(
        "workload-no-privileged",
        SEC,
        "Containers must not run privileged.",
        sec.no_privileged,
        "critical",
        BOTH,
        ("cis-kubernetes:5.2.2", "cis-docker:5.5", "nist-800-53:AC-6", "iso-27001:A.8.2", "soc2:CC6.1"),
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
        ("cis-kubernetes:5.2.6", "cis-docker:5.26", "nist-800-53:AC-6(10)", "iso-27001:A.8.2", "soc2:CC6.1"),
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
        ("cis-kubernetes:5.2.7", "cis-docker:4.1", "nist-800-53:AC-6(2)", "iso-27001:A.8.2", "soc2:CC6.1"),
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
        ("cis-docker:5.13", "cis-kubernetes:5.7.3", "nist-800-53:CM-7", "iso-27001:A.8.9", "soc2:CC6.8"),
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
        ("cis-kubernetes:5.2.10", "cis-docker:5.4", "nist-800-53:AC-6", "iso-27001:A.8.2", "soc2:CC6.1"),
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
        ("cis-kubernetes:5.2.9", "cis-docker:5.4", "nist-800-53:AC-6", "iso-27001:A.8.2", "soc2:CC6.1"),
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
            "cis-kubernetes:5.2.5",
            "cis-kubernetes:5.2.3",
            "cis-kubernetes:5.2.4",
            "cis-docker:5.10",
            "cis-docker:5.16",
            "cis-docker:5.17",
            "nist-800-53:SC-39",
            "iso-27001:A.8.22",
            "soc2:CC6.1",
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
        ("cis-kubernetes:5.2.12", "cis-docker:5.6", "nist-800-53:AC-6", "iso-27001:A.8.3", "soc2:CC6.1"),
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
        ("cis-docker:5.32", "cis-kubernetes:5.2.12", "nist-800-53:AC-6", "iso-27001:A.8.18", "soc2:CC6.1"),
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
        ("cis-kubernetes:5.7.2", "cis-docker:5.22", "nist-800-53:CM-7", "iso-27001:A.8.9", "soc2:CC6.8"),
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
        ("cis-kubernetes:5.1.6", "nist-800-53:AC-6", "iso-27001:A.8.5", "soc2:CC6.1"),
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
        ("cis-docker:5.28", "nist-800-53:CM-2", "iso-27001:A.8.32", "soc2:CC8.1"),
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
        ("nist-800-53:SI-7", "cis-kubernetes:5.5.1", "nist-800-53:CM-14", "iso-27001:A.8.19", "soc2:CC8.1"),
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
            "cis-kubernetes:5.5.1",
            "cis-docker:4.2",
            "nist-800-53:SR-3",
            "nist-800-53:CM-7(5)",
            "iso-27001:A.8.19",
            "soc2:CC6.8",
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
            "cis-kubernetes:5.4.1",
            "cis-docker:4.10",
            "nist-800-53:IA-5(7)",
            "nist-800-53:SC-28",
            "iso-27001:A.5.17",
            "soc2:CC6.1",
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
            "cis-kubernetes:5.4.1",
            "nist-800-53:IA-5(7)",
            "nist-800-53:SC-28",
            "iso-27001:A.5.17",
            "soc2:CC6.1",
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
        ("nist-800-53:IA-5(7)", "nist-800-53:SC-28", "iso-27001:A.5.17", "soc2:CC6.1"),
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
        ("cis-docker:5.14", "cis-kubernetes:5.2.13", "nist-800-53:SC-7", "iso-27001:A.8.20", "soc2:CC6.6"),
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
        ("nist-800-53:SC-8", "iso-27001:A.8.24", "soc2:CC6.7"),
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
            "cis-kubernetes:5.3.2",
            "cis-docker:5.30",
            "nist-800-53:SC-7",
            "nist-800-53:AC-4",
            "iso-27001:A.8.22",
            "soc2:CC6.6",
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
        ("cis-kubernetes:5.7.4", "nist-800-53:SC-2", "iso-27001:A.8.22"),
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
        ("cis-docker:5.12", "nist-800-53:SC-6", "iso-27001:A.8.6", "soc2:A1.1"),
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
        ("cis-docker:5.11", "nist-800-53:SC-6", "nist-800-53:SC-5", "iso-27001:A.8.6", "soc2:A1.1"),
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
        ("cis-docker:5.27", "nist-800-53:SI-4", "nist-800-53:CP-10", "iso-27001:A.8.16", "soc2:A1.2"),
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
        ("cis-docker:5.15", "nist-800-53:CP-10", "iso-27001:A.8.14", "soc2:A1.2"),
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
        ("nist-800-53:CP-10", "nist-800-53:SC-5", "iso-27001:A.8.14", "soc2:A1.2"),
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
        ("nist-800-53:CP-10", "iso-27001:A.8.14", "soc2:A1.2"),
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
        ("nist-800-53:SC-5", "nist-800-53:CP-2(2)", "iso-27001:A.8.6", "soc2:A1.1"),
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
        ("nist-800-53:CP-9", "nist-800-53:CM-3", "iso-27001:A.8.13", "soc2:A1.2"),
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
        ("nist-800-53:CP-9", "iso-27001:A.8.13", "soc2:A1.2"),
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
        ("nist-800-53:CP-9", "iso-27001:A.8.13", "soc2:A1.2"),
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
        ("nist-800-53:SC-28", "iso-27001:A.8.24", "soc2:CC6.1"),
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
        ("nist-800-53:CM-8", "iso-27001:A.5.9", "soc2:CC2.1", "nist-ai-rmf:GOVERN-2.1"),
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
        ("nist-800-53:CM-8", "iso-27001:A.5.9"),
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
            "eu-ai-act:Art.12",
            "eu-ai-act:Art.11",
            "nist-ai-rmf:GOVERN-1.6",
            "nist-ai-rmf:MAP-1.1",
            "nist-800-53:CM-8",
            "iso-27001:A.5.12",
            "soc2:CC2.1",
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
            "eu-ai-act:Art.17",
            "eu-ai-act:Art.12",
            "nist-ai-rmf:MANAGE-1.3",
            "nist-800-53:CM-3",
            "iso-27001:A.8.32",
            "soc2:CC8.1",
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
        "model-artifact-pinned",
        GOV,
        "A model an inference server pulls from a hub at start must be pinned to a revision.",
        gov.model_artifact_pinned,
        "high",
        BOTH,
        (
            "eu-ai-act:Art.12",
            "nist-ai-rmf:MANAGE-1.3",
            "nist-800-53:CM-2",
            "iso-27001:A.8.32",
            "soc2:CC8.1",
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
            "eu-ai-act:Art.11",
            "eu-ai-act:Art.13",
            "eu-ai-act:Art.14",
            "nist-ai-rmf:GOVERN-1.4",
            "nist-ai-rmf:MAP-3.5",
            "nist-800-53:CA-6",
            "iso-27001:A.5.8",
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
            "eu-ai-act:Art.72",
            "eu-ai-act:Art.15",
            "nist-ai-rmf:MEASURE-2.4",
            "nist-ai-rmf:MANAGE-4.1",
            "nist-800-53:SI-4",
            "iso-27001:A.8.16",
            "soc2:CC7.2",
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
            "eu-ai-act:Art.15",
            "eu-ai-act:Art.72",
            "nist-ai-rmf:MEASURE-2.4",
            "nist-ai-rmf:MANAGE-4.1",
            "nist-800-53:CA-7",
            "iso-27001:A.8.16",
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
            "eu-ai-act:Art.10",
            "nist-ai-rmf:MAP-4.1",
            "nist-800-53:RA-2",
            "nist-800-53:AC-4",
            "iso-27001:A.5.12",
            "soc2:C1.1",
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
            "eu-ai-act:Art.12",
            "eu-ai-act:Art.9",
            "nist-ai-rmf:MANAGE-1.3",
            "nist-ai-rmf:MEASURE-2.1",
            "nist-800-53:CM-8",
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
            "eu-ai-act:Art.14",
            "eu-ai-act:Art.9",
            "nist-ai-rmf:MANAGE-1.1",
            "nist-ai-rmf:GOVERN-1.4",
            "nist-800-53:CA-6",
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
            "eu-ai-act:Art.15",
            "eu-ai-act:Art.9",
            "nist-ai-rmf:MEASURE-2.3",
            "nist-ai-rmf:MANAGE-1.1",
            "nist-800-53:SA-11",
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
            "eu-ai-act:Art.15",
            "eu-ai-act:Art.10",
            "nist-ai-rmf:MEASURE-2.3",
            "nist-ai-rmf:MEASURE-2.5",
            "nist-800-53:SA-11",
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
            "eu-ai-act:Art.11",
            "eu-ai-act:Art.13",
            "nist-ai-rmf:MEASURE-2.9",
            "nist-ai-rmf:GOVERN-1.4",
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
            "nist-ai-rmf:MANAGE-2.4",
            "eu-ai-act:Art.9",
            "nist-ai-rmf:MANAGE-4.1",
            "nist-800-53:CM-3",
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
    lines += [f"| `{fid}` | {name} | {version} |" for fid, (name, version) in FRAMEWORKS.items()]
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
                f"- **Controls:** {', '.join(f'`{c}`' for c in r.controls)}",
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
    return "\n".join(lines) + "\n"


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
