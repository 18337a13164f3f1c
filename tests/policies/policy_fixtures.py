"""Compliant baseline resources and helpers that run rules exactly as pulumi-policy calls them.

Props go through the same path as at runtime: a protobuf ``Struct`` (numbers become floats, secrets
carry Pulumi's secret signature, unknowns are the engine's sentinel strings), then
``deserialize_properties`` and ``unknown_checking_proxy`` as in ``_PolicyAnalyzerServicer.Analyze``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

from mlops_platform import vocabulary as L
from mlops_platform.policies.catalogue import RULES_BY_NAME
from mlops_platform.policies.packs import build_policy

__all__ = [
    "UNKNOWN_ARRAY_VALUE",
    "UNKNOWN_BOOLEAN_VALUE",
    "UNKNOWN_NUMBER_VALUE",
    "UNKNOWN_OBJECT_VALUE",
    "UNKNOWN_STRING_VALUE",
]

ROOT = Path(__file__).resolve().parents[2]
NS = "mlops-prod"
DIGEST = "sha256:" + "7b1f0c9e8d7a6b5c" * 4
PROJECT, STACK = "mlops-platform", "prod"


def env_config(env: str, rule: str) -> dict[str, Any]:
    """The rule's properties from ``policies/config/tiers/<tier>.json``, as passed to Configure."""
    entry = dict(json.loads((ROOT / "policies" / "config" / "tiers" / f"{env}.json").read_text())[rule])
    entry.pop("enforcementLevel")
    return entry


def secret(value: Any) -> dict[str, Any]:
    """A value as the engine sends a secret (pulumi-policy unwraps it to the plaintext)."""
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"


def wire(props: dict[str, Any]) -> Any:
    """What a policy's ``args.props`` is at runtime for ``props`` sent by the engine."""
    struct = struct_pb2.Struct()
    struct.update(props)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _opts(protect: bool, secret_outputs: tuple[str, ...]) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), list(secret_outputs))


@dataclass
class R:
    """A resource for a test: type token, name, props and the options policies see."""

    type: str
    name: str
    props: dict[str, Any]
    protect: bool = False
    secret_outputs: tuple[str, ...] = field(default_factory=tuple)

    @property
    def urn(self) -> str:
        return urn(self.type, self.name)

    def mutate(self, path: str | tuple[str, ...], value: Any) -> R:
        """A deep copy with ``path`` set; ``DELETE`` removes it.

        ``path`` is dotted (``spec.template.spec.containers.0.image``) or a tuple when a key contains
        dots (label keys such as ``mlops.dev/owner``).
        """
        clone = copy.deepcopy(self)
        target: Any = clone.props
        keys = path.split(".") if isinstance(path, str) else list(path)
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
        last = keys[-1]
        if isinstance(target, list):
            if value is DELETE:
                del target[int(last)]
            else:
                target[int(last)] = value
        elif value is DELETE:
            target.pop(last, None)
        else:
            target[last] = value
        return clone


DELETE = object()


@dataclass(frozen=True)
class NotApplicable:
    """What ``run_rule``/``run_stack`` return when the policy answered not-applicable (never ``[]``)."""

    reason: str


def run_rule(rule: str, res: R, config: dict[str, Any] | None = None) -> Any:
    """Run one resource policy's real ``validate``: the violation messages it reported (``[]`` is a
    pass), or :class:`NotApplicable` when the rule does not apply to ``res``."""
    return run_policy(build_policy(RULES_BY_NAME[rule]), res, config)


def run_policy(policy: Any, res: R, config: dict[str, Any] | None = None) -> Any:
    args = ResourceValidationArgs(
        res.type, wire(res.props), res.urn, res.name, _opts(res.protect, res.secret_outputs), None, config
    )
    out: list[str] = []
    try:
        result = policy.validate(args, lambda message, _urn=None: out.append(message))
    except _NotApplicableError as exc:
        assert not out, "a rule reports nothing on a resource it does not apply to"
        return NotApplicable(exc.reason or "")
    assert result is None, "rules are synchronous"
    return out


def run_stack(rule: str, resources: list[R], config: dict[str, Any] | None = None) -> Any:
    """Run one stack policy's real ``validate``; returns ``(urn or "", message)``."""
    policy = build_policy(RULES_BY_NAME[rule])
    items = [
        PolicyResource(
            r.type, wire(r.props), r.urn, r.name, _opts(r.protect, r.secret_outputs), None, None, [], {}
        )
        for r in resources
    ]
    out: list[tuple[str, str]] = []
    try:
        policy.validate(
            StackValidationArgs(items, config), lambda message, u=None: out.append((u or "", message))
        )
    except _NotApplicableError as exc:
        assert not out, "a rule reports nothing on a stack it does not apply to"
        return NotApplicable(exc.reason or "")
    return out


# --- baselines -------------------------------------------------------------------------------------

OWNERSHIP = {
    L.OWNER: "ml-platform_acme.example",
    L.TEAM: "ml-platform",
    L.COST_CENTRE: "cc-4711",
    L.ENVIRONMENT: "prod",
}


def common_labels(name: str, component: str) -> dict[str, str]:
    return {
        L.APP_NAME: name,
        L.APP_INSTANCE: f"{name}-prod",
        L.APP_COMPONENT: component,
        L.APP_PART_OF: "mlops-platform",
        L.APP_MANAGED_BY: "pulumi",
        L.TIER: "prod",
        **OWNERSHIP,
    }


def model_labels(model: str = "fraud-scorer", track: str = "stable") -> dict[str, str]:
    return {
        **common_labels(model, L.COMPONENT_MODEL_SERVER),
        L.MODEL: model,
        L.MODEL_VERSION: "40",  # a high-risk model: an exact version (model-version-pinned)
        L.RISK_TIER: "high",
        L.DATA_CLASSIFICATION: "confidential",
        L.TRACK: track,
    }


def model_annotations(model: str = "fraud-scorer") -> dict[str, str]:
    return {
        L.MODEL_URI: f"models:/{model}/40",
        L.MODEL_SOURCE: "registry-version",
        L.MODEL_CARD_URL: f"https://models.acme.example/cards/{model}",
        L.APPROVAL_REF: "MRM-2026-014",
        L.DRIFT_CHECK: "enabled",
    }


def k8s_container(
    name: str = "server", image: str = f"ghcr.io/acme-ml/fraud-scorer:3.2.0@{DIGEST}"
) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10}
    return {
        "name": name,
        "image": image,
        "ports": [{"containerPort": 8080, "name": "http"}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        ],
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
        "livenessProbe": probe,
        "readinessProbe": probe,
        "securityContext": {
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def pod_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": list(containers) or [k8s_container()],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def deployment(model: str = "fraud-scorer", replicas: int = 3, track: str = "stable") -> R:
    name = model if track == "stable" else f"{model}-canary"
    labels = model_labels(model, track)
    return R(
        "kubernetes:apps/v1:Deployment",
        name,
        {
            "metadata": {
                "name": name,
                "namespace": NS,
                "labels": labels,
                "annotations": model_annotations(model),
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {L.APP_NAME: model, L.TRACK: track}},
                "template": {
                    "metadata": {"labels": dict(labels), "annotations": model_annotations(model)},
                    "spec": pod_spec(k8s_container()),
                },
            },
        },
    )


def database() -> R:
    labels = common_labels("postgres", L.COMPONENT_METADATA_DATABASE)
    image = f"docker.io/library/postgres:16.4-alpine@{DIGEST}"
    return R(
        "kubernetes:apps/v1:StatefulSet",
        "metadata-db",
        {
            "metadata": {"name": "metadata-db", "namespace": NS, "labels": labels},
            "spec": {
                "replicas": 1,
                "serviceName": "metadata-db",
                "selector": {"matchLabels": {L.APP_NAME: "postgres"}},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": pod_spec(k8s_container("postgres", image)),
                },
            },
        },
        protect=True,
    )


def object_store() -> R:
    labels = common_labels("minio", L.COMPONENT_OBJECT_STORE)
    image = f"quay.io/minio/minio:RELEASE.2024-08-17T01-24-54Z@{DIGEST}"
    return R(
        "kubernetes:apps/v1:StatefulSet",
        "object-store",
        {
            "metadata": {
                "name": "object-store",
                "namespace": NS,
                "labels": labels,
                "annotations": {L.BUCKET_VERSIONING: "enabled", L.ENCRYPTION_AT_REST: "enabled"},
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {L.APP_NAME: "minio"}},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": pod_spec(k8s_container("minio", image)),
                },
            },
        },
        protect=True,
    )


def cron_job(name: str, component: str, extra_labels: dict[str, str], annotations: dict[str, str]) -> R:
    labels = {**common_labels(name, component), **extra_labels}
    container = k8s_container("job", f"docker.io/library/postgres:16.4-alpine@{DIGEST}")
    container.pop("livenessProbe")
    container.pop("readinessProbe")
    spec = {**pod_spec(container), "restartPolicy": "OnFailure"}
    return R(
        "kubernetes:batch/v1:CronJob",
        name,
        {
            "metadata": {"name": name, "namespace": NS, "labels": labels, "annotations": annotations},
            "spec": {
                "schedule": "0 */6 * * *",
                "jobTemplate": {"spec": {"template": {"metadata": {"labels": dict(labels)}, "spec": spec}}},
            },
        },
    )


def backup_job() -> R:
    return cron_job(
        "metadata-db-backup",
        L.COMPONENT_DATABASE_BACKUP,
        {L.BACKUP_OF: "metadata-db"},
        {L.BACKUP_SCHEDULE: "0 */6 * * *", L.BACKUP_RETENTION_DAYS: "35"},
    )


def drift_job(model: str = "fraud-scorer") -> R:
    return cron_job(f"{model}-drift", L.COMPONENT_DRIFT_CHECK, {L.MODEL: model}, {})


def meta(name: str, component: str = "platform", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "labels": common_labels(name, component), **extra}


def namespace(ceiling: str = "confidential") -> R:
    md = {
        "name": NS,
        "labels": common_labels(NS, "platform"),
        "annotations": {L.CLASSIFICATION_CEILING: ceiling},
    }
    return R("kubernetes:core/v1:Namespace", NS, {"metadata": md})


def network_policy() -> R:
    return R(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "default-deny",
        {"metadata": meta("default-deny"), "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
    )


def pdb(model: str = "fraud-scorer") -> R:
    return R(
        "kubernetes:policy/v1:PodDisruptionBudget",
        f"{model}-pdb",
        {
            "metadata": meta(f"{model}-pdb"),
            "spec": {
                "maxUnavailable": 1,
                "selector": {"matchLabels": {L.APP_NAME: model, L.TRACK: "stable"}},
            },
        },
    )


def hpa(model: str = "fraud-scorer", low: int = 3, high: int = 12) -> R:
    return R(
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        f"{model}-hpa",
        {
            "metadata": meta(f"{model}-hpa"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": model},
                "minReplicas": low,
                "maxReplicas": high,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        },
    )


def service_monitor(model: str = "fraud-scorer") -> R:
    md = meta(f"{model}-monitor")
    md["labels"][L.SCRAPE_TARGET] = model
    return R(
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        f"{model}-monitor",
        {
            "metadata": md,
            "spec": {"selector": {"matchLabels": {L.APP_NAME: model}}, "endpoints": [{"port": "http"}]},
        },
    )


def prometheus_rule(model: str = "fraud-scorer") -> R:
    md = meta(f"{model}-alerts")
    md["labels"][L.ALERT_RULES_FOR] = model
    group = {
        "name": f"model-{model}",
        "rules": [
            {"alert": "ModelLatencyHigh", "expr": "histogram_quantile(0.99, rate(x[5m])) > 0.15", "for": "5m"}
        ],
    }
    return R(
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        f"{model}-alerts",
        {"metadata": md, "spec": {"groups": [group]}},
    )


def service(kind: str = "ClusterIP") -> R:
    return R(
        "kubernetes:core/v1:Service",
        "fraud-scorer",
        {
            "metadata": meta("fraud-scorer"),
            "spec": {"type": kind, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )


def ingress() -> R:
    return R(
        "kubernetes:networking.k8s.io/v1:Ingress",
        "models",
        {
            "metadata": meta("models"),
            "spec": {
                "tls": [{"hosts": ["models.acme.example"], "secretName": "models-tls"}],
                "rules": [{"host": "models.acme.example", "http": {"paths": []}}],
            },
        },
    )


def config_map(data: dict[str, str] | None = None) -> R:
    return R(
        "kubernetes:core/v1:ConfigMap",
        "server-config",
        {
            "metadata": meta("server-config"),
            "data": data or {"LOG_LEVEL": "info", "config.yaml": "workers: 4\n"},
        },
    )


def pvc() -> R:
    return R(
        "kubernetes:core/v1:PersistentVolumeClaim",
        "feature-cache",
        {"metadata": meta("feature-cache"), "spec": {"accessModes": ["ReadWriteOnce"]}},
        protect=True,
    )


def service_account() -> R:
    return R(
        "kubernetes:core/v1:ServiceAccount",
        "model-server",
        {"metadata": meta("model-server"), "automountServiceAccountToken": False},
    )


def k8s_stack() -> list[R]:
    """A compliant prod Kubernetes stack: every stack rule passes."""
    return [
        namespace(),
        network_policy(),
        deployment(),
        deployment(track="canary", replicas=1),
        pdb(),
        hpa(),
        service_monitor(),
        prometheus_rule(),
        drift_job(),
        database(),
        backup_job(),
        object_store(),
    ]


# --- Docker ----------------------------------------------------------------------------------------

DOCKER_NET = "mlops-dev"


def docker_labels(labels: dict[str, str]) -> list[dict[str, str]]:
    return [{"label": k, "value": v} for k, v in labels.items()]


def container(
    name: str = "fraud-scorer",
    labels: dict[str, str] | None = None,
    image: str = f"ghcr.io/acme-ml/fraud-scorer:3.2.0@{DIGEST}",
) -> R:
    labels = labels if labels is not None else {**model_labels(name), **model_annotations(name)}
    return R(
        "docker:index/container:Container",
        name,
        {
            "name": f"dev-{name}",
            "image": image,
            "user": "10001:10001",
            "readOnly": True,
            "privileged": False,
            "capabilities": {"drops": ["ALL"]},
            "securityOpts": ["no-new-privileges:true"],
            "networksAdvanced": [{"name": DOCKER_NET}],
            "ports": [{"internal": 8080, "external": 18080, "ip": "127.0.0.1", "protocol": "tcp"}],
            "envs": ["LOG_LEVEL=info", secret("DB_PASSWORD=s3cr3t-Value-123")],
            "labels": docker_labels(labels),
            "healthcheck": {
                "tests": ["CMD", "curl", "-fsS", "http://localhost:8080/health"],
                "interval": "10s",
            },
            "restart": "unless-stopped",
            "memory": 1024,
            "memoryReservation": 512,
            "cpuShares": 512,
            "cpus": "1.0",
            "tmpfs": {"/tmp": "rw,noexec"},
        },
        secret_outputs=("envs",),
    )


def docker_database(**extra_labels: str) -> R:
    labels = {
        **common_labels("postgres", L.COMPONENT_METADATA_DATABASE),
        L.BACKUP_SCHEDULE: "0 2 * * *",
        L.BACKUP_RETENTION_DAYS: "7",
        **extra_labels,
    }
    res = container("metadata-db", labels, f"docker.io/library/postgres:16.4-alpine@{DIGEST}")
    res.protect = True
    return res


def docker_network(ceiling: str = "internal") -> R:
    labels = {**common_labels(DOCKER_NET, "platform"), L.CLASSIFICATION_CEILING: ceiling}
    return R(
        "docker:index/network:Network", DOCKER_NET, {"name": DOCKER_NET, "labels": docker_labels(labels)}
    )


PROM_CONFIG = """global:
  scrape_interval: 60s
scrape_configs:
  - job_name: model-fraud-scorer
    static_configs:
      - targets: ["dev-fraud-scorer:8080"]
"""
PROM_RULES = """groups:
  - name: model-fraud-scorer
    rules:
      - alert: ModelErrorRateHigh
        expr: rate(errors_total[5m]) > 0.01
"""


def prometheus(config: str = PROM_CONFIG, rules: str = PROM_RULES) -> R:
    labels = common_labels("prometheus", L.COMPONENT_MONITORING)
    res = container("prometheus", labels, f"docker.io/prom/prometheus:v2.54.1@{DIGEST}")
    res.props["uploads"] = [
        {"file": "/etc/prometheus/prometheus.yml", "content": config},
        {"file": "/etc/prometheus/rules/models.yml", "content": rules},
    ]
    return res


def docker_model(classification: str = "internal") -> R:
    res = container()
    labels = {**model_labels(), **model_annotations(), L.DATA_CLASSIFICATION: classification}
    res.props["labels"] = docker_labels(labels)
    return res


def docker_stack() -> list[R]:
    return [docker_network(), docker_model(), prometheus(), docker_database()]
