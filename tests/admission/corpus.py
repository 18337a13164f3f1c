"""The objects both engines judge: every case of the rule test tables, and a generated mutation corpus.

The corpus mutates the tables' compliant Kubernetes baselines with one to three atomic changes drawn
(with a fixed seed) from the changes each rule reads: security contexts, images of every shape,
host namespaces and paths, ports, resources, probes, labels, annotations (model provenance, registry
resolution, exposure), inference-server command lines and env, Service types, Ingress TLS, HPA
bounds. Deterministic: the same seed gives the same objects on every run.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.policies.rules._pod_types import POD_TEMPLATE_PATHS
from tests.policies.policy_fixtures import DELETE, R
from tests.policies.test_policy_rules import BASELINES, CASES, NOT_APPLICABLE

SEED = 26
DIGEST = "sha256:" + "0123456789abcdef" * 4


_BACKEND = {"service": {"name": "models", "port": {"number": 80}}}


def completed(res: R) -> R | None:
    """``res`` with the fields the API server requires and the tables leave out (a PVC's storage
    request, an Ingress rule's paths), which no rule reads; None when it lacks none of them."""
    clone = copy.deepcopy(res)
    kind = res.type.rsplit(":", 1)[-1]
    spec = clone.props.get("spec")
    if not isinstance(spec, dict):
        return None
    changed = False
    if kind == "PersistentVolumeClaim" and "resources" not in spec:
        spec["resources"] = {"requests": {"storage": "1Gi"}}
        changed = True
    if kind == "Ingress":
        for rule in spec.get("rules") or []:
            if isinstance(rule, dict) and not (rule.get("http") or {}).get("paths"):
                rule["http"] = {"paths": [{"path": "/", "pathType": "Prefix", "backend": _BACKEND}]}
                changed = True
    return clone if changed else None


def table_cases() -> list[tuple[str, R]]:
    """Every object of the rule test tables (baselines, violation cases, not-applicable cases), and
    each one the API server would refuse for a field no rule reads, completed (``+completed``)."""
    from tests.registry.test_registry_rules import REGISTRY_CASES

    out = [(f"baseline:{name}", make()) for name, make in BASELINES.items()]
    out += [(f"case:{rule}:{case}", res) for rule, case, res, _expected in CASES]
    out += [(f"not-applicable:{rule}", res) for rule, res in NOT_APPLICABLE.items()]
    out += [(f"registry:{c[0]}:{c[1]}", c[2]) for c in REGISTRY_CASES]
    return out + [(f"{label}+completed", done) for label, res in out if (done := completed(res)) is not None]


Change = tuple[tuple[str, ...], Any]
"""A path below the pod spec (``("containers", 0, ...)``) or below the object (``("@", ...)``), a value."""


def _c(*path: Any) -> tuple[str, ...]:
    return ("containers", 0, *path)


_SC = ("containers", 0, "securityContext")
POD_CHANGES: list[Change] = [
    ((*_SC, "privileged"), True),
    ((*_SC, "allowPrivilegeEscalation"), True),
    ((*_SC, "allowPrivilegeEscalation"), DELETE),
    ((*_SC, "readOnlyRootFilesystem"), False),
    ((*_SC, "readOnlyRootFilesystem"), DELETE),
    ((*_SC, "runAsNonRoot"), False),
    ((*_SC, "runAsUser"), 0),
    ((*_SC, "runAsUser"), 1000),
    (("securityContext", "runAsUser"), 0),
    (("securityContext", "runAsNonRoot"), DELETE),
    (("securityContext", "runAsNonRoot"), False),
    ((*_SC, "capabilities", "drop"), ["NET_RAW"]),
    ((*_SC, "capabilities", "drop"), ["all"]),
    ((*_SC, "capabilities", "drop"), ["CAP_ALL"]),
    ((*_SC, "capabilities", "add"), ["SYS_ADMIN"]),
    ((*_SC, "capabilities", "add"), ["net_bind_service"]),
    ((*_SC, "capabilities", "add"), ["CAP_NET_BIND_SERVICE", "NET_ADMIN"]),
    ((*_SC, "seccompProfile"), {"type": "Unconfined"}),
    ((*_SC, "seccompProfile"), {"type": "RuntimeDefault"}),
    (("securityContext", "seccompProfile"), DELETE),
    (("hostNetwork",), True),
    (("hostPID",), True),
    (("hostIPC",), True),
    (("volumes",), [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]),
    (("volumes",), [{"name": "data", "hostPath": {"path": "/data"}}]),
    (("volumes",), [{"name": "cri", "hostPath": {"path": "/run/containerd/containerd.sock/"}}]),
    (("volumes",), [{"name": "agent", "hostPath": {"path": "/x/agent.sock", "type": "Socket"}}]),
    (_c("image"), "nginx"),
    (_c("image"), "nginx:latest"),
    (_c("image"), "ghcr.io/acme-ml/app:main"),
    (_c("image"), "localhost:5000/app:1.0"),
    (_c("image"), f"docker.io/library/python:3.12@{DIGEST}"),
    (_c("image"), "registry.example.com:5000/team/app:1.0@sha256:bad"),
    (_c("image"), f"quay.io/minio/minio@{DIGEST}"),
    (_c("image"), DIGEST),
    (_c("image"), f"ghcr.io/acme-mlx/app:1.0@{DIGEST}"),
    (_c("image"), f"prom/prometheus:v2.54.1@{DIGEST}"),
    (_c("image"), f"gcr.io/team/app:1.0@{DIGEST}"),
    (_c("image"), "ghcr.io/acme-ml/app:stable"),
    (("initContainers",), [{"name": "init", "image": "busybox"}]),
    (
        ("initContainers",),
        [
            {
                "name": "init",
                "image": f"ghcr.io/acme-ml/init:1@{DIGEST}",
                "securityContext": {"privileged": True},
            }
        ],
    ),
    (_c("ports"), [{"containerPort": 8080, "hostPort": 8080}]),
    (_c("resources", "requests"), DELETE),
    (_c("resources", "requests", "cpu"), "0"),
    (_c("resources", "requests", "cpu"), "0m"),
    (_c("resources", "requests", "memory"), "0Mi"),
    (_c("resources", "limits", "memory"), DELETE),
    (_c("resources"), {"limits": {"cpu": "1", "memory": "1Gi"}}),
    (_c("resources"), DELETE),
    (_c("livenessProbe"), DELETE),
    (_c("readinessProbe"), DELETE),
    (_c("command"), ["vllm", "serve", "acme/fraud-llm"]),
    (_c("command"), ["python3", "-m", "vllm.entrypoints.openai.api_server"]),
    (_c("args"), ["--model", "acme/fraud-llm", "--revision", "abc123"]),
    (_c("args"), ["--model=acme/fraud-llm"]),
    (_c("command"), ["text-generation-launcher", "--model-id", "acme/m"]),
    (_c("env"), [{"name": "MODEL_ID", "value": "acme/fraud-llm"}]),
    (_c("env"), [{"name": "MODEL_ID", "value": "acme/fraud-llm"}, {"name": "REVISION", "value": "v1"}]),
    (_c("image"), "vllm/vllm-openai:v0.6.3"),
]
META_CHANGES: list[Change] = [
    (("@", "metadata", "labels", L.APP_NAME), DELETE),
    (("@", "metadata", "labels", L.APP_COMPONENT), DELETE),
    (("@", "metadata", "labels", L.OWNER), DELETE),
    (("@", "metadata", "labels", L.TEAM), ""),
    (("@", "metadata", "labels", L.MODEL), DELETE),
    (("@", "metadata", "labels", L.RISK_TIER), "extreme"),
    (("@", "metadata", "labels", L.RISK_TIER), "limited"),
    (("@", "metadata", "labels", L.TRACK), "blue"),
    (("@", "metadata", "labels", L.DATA_CLASSIFICATION), "secret"),
    (("@", "metadata", "labels", L.MODEL_WORKLOAD), "true"),
    (("@", "metadata", "labels", L.EXPOSURE_ALLOWED), "true"),
    (("@", "metadata", "annotations", L.MODEL_SOURCE), "uri"),
    (("@", "metadata", "annotations", L.MODEL_SOURCE), "registry-alias"),
    (("@", "metadata", "annotations", L.MODEL_SOURCE), "bogus"),
    (("@", "metadata", "annotations", L.MODEL_SOURCE), DELETE),
    (("@", "metadata", "annotations", L.MODEL_URI), "models:/other-model/40"),
    (("@", "metadata", "annotations", L.MODEL_URI), "models:/fraud-scorer/champion"),
    (("@", "metadata", "annotations", L.MODEL_URI), "models:/fraud-scorer/latest"),
    (("@", "metadata", "annotations", L.MODEL_URI), "s3://models/fraud.pkl"),
    (("@", "metadata", "annotations", L.MODEL_URI), DELETE),
    (("@", "metadata", "annotations", L.MODEL_CARD_URL), "http://cards.example/fraud"),
    (("@", "metadata", "annotations", L.APPROVAL_REF), DELETE),
    (("@", "metadata", "annotations", L.DRIFT_CHECK), DELETE),
    (("@", "metadata", "annotations", L.EXPOSURE_ALLOWED), " TRUE "),
    (("@", "metadata", "annotations", L.BUCKET_VERSIONING), "disabled"),
    (("@", "metadata", "annotations", L.ENCRYPTION_AT_REST), DELETE),
    (("@", "metadata", "annotations", L.REGISTRY_RESOLUTION), "unresolved"),
    (("@", "metadata", "annotations", L.REGISTRY_RESOLUTION), "resolved"),
    (("@", "metadata", "annotations", L.REGISTRY_VERSION), "12"),
    (("@", "metadata", "annotations", L.REGISTRY_ERROR), "no such alias"),
    (("@", "metadata", "annotations", L.REGISTRY_REF), "alias:champion"),
    (("@", "metadata", "labels", L.APP_COMPONENT), L.COMPONENT_OBJECT_STORE),
    (("@", "metadata", "labels", L.APP_COMPONENT), L.COMPONENT_DRIFT_CHECK),
]
TEMPLATE_META_CHANGES: list[Change] = [
    (("$", "labels", L.APP_INSTANCE), DELETE),
    (("$", "labels", L.MODEL_VERSION), DELETE),
    (("$", "labels", L.COST_CENTRE), DELETE),
    (("$", "annotations", L.MODEL_CARD_URL), "https://cards.example/fraud"),
    (("$", "labels", L.MODEL_WORKLOAD), "true"),
]
KIND_CHANGES: dict[str, list[Change]] = {
    "Service": [
        (("@", "spec", "type"), "NodePort"),
        (("@", "spec", "type"), "LoadBalancer"),
        (("@", "spec", "externalIPs"), ["203.0.113.7"]),
    ],
    "Ingress": [
        (("@", "spec", "tls"), DELETE),
        (("@", "spec", "tls", 0, "secretName"), DELETE),
        (("@", "spec", "rules", 0, "host"), "other.acme.example"),
        (("@", "spec", "tls", 0, "hosts"), ["*.acme.example"]),
        (("@", "spec", "rules", 0, "host"), "a.b.acme.example"),
    ],
    "HorizontalPodAutoscaler": [
        (("@", "spec", "minReplicas"), 1),
        (("@", "spec", "maxReplicas"), 100),
        (("@", "spec", "minReplicas"), DELETE),
        (("@", "spec", "metrics"), DELETE),
        (("@", "spec", "maxReplicas"), 2),
    ],
}


def _set(target: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        if isinstance(target, list):
            while len(target) <= key:
                target.append({})
            target = target[key]
        else:
            target = target.setdefault(key, {})
    last = path[-1]
    if value is DELETE:
        if isinstance(target, dict):
            target.pop(last, None)
        elif isinstance(target, list) and last < len(target):
            del target[last]
    elif isinstance(target, list):
        while len(target) <= last:
            target.append({})
        target[last] = copy.deepcopy(value)
    else:
        target[last] = copy.deepcopy(value)


def apply(res: R, change: Change) -> R:
    """``res`` with one change (a pod spec path goes below the kind's pod template)."""
    clone = copy.deepcopy(res)
    path, value = change
    template = POD_TEMPLATE_PATHS.get(res.type)
    if path[0] == "@":
        _set(clone.props, path[1:], value)
    elif path[0] == "$":
        assert template is not None
        _set(clone.props, (*template, "metadata", *path[1:]), value)
    else:
        assert template is not None
        _set(clone.props, (*template, "spec", *path), value)
    return clone


def changes_for(res: R) -> list[Change]:
    kind = res.type.rsplit(":", 1)[-1]
    out = list(META_CHANGES) + KIND_CHANGES.get(kind, [])
    if res.type in POD_TEMPLATE_PATHS:
        out += POD_CHANGES + (TEMPLATE_META_CHANGES if POD_TEMPLATE_PATHS[res.type] else [])
    return out


def mutation_corpus(size: int = 240, seed: int = SEED) -> list[tuple[str, R]]:
    """``size`` objects: a Kubernetes baseline of the tables with one to three changes each."""
    rng = random.Random(seed)
    bases: list[tuple[str, Callable[[], R]]] = [
        (name, make) for name, make in BASELINES.items() if make().type.startswith("kubernetes:")
    ]
    out = []
    for index in range(size):
        name, make = bases[index % len(bases)]
        res = make()
        res = completed(res) or res
        picked = rng.sample(changes_for(res), k=rng.randint(1, 3))
        for change in picked:
            res = apply(res, change)
        out.append((f"corpus-{index:03d}:{name}", res))
    return out
