"""Hardened building blocks shared by every Kubernetes workload of the platform.

Every pod runs non-root with a read-only root filesystem (an ``emptyDir`` at ``/tmp``), no privilege
escalation, all capabilities dropped, the RuntimeDefault seccomp profile, no service-account token,
requests and limits; long-running containers have liveness and readiness probes. Objects are plain
dicts in the Kubernetes API shape (camelCase), which the provider passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform import vocabulary as L
from mlops_platform.components.args import ComputeResources

TMP_VOLUME = "tmp"
TMP_SIZE_LIMIT = "256Mi"

Json = dict[str, Any]


def metadata(
    name: str,
    namespace: pulumi.Input[str] | None,
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
) -> Json:
    result: Json = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        result["namespace"] = namespace
    if annotations:
        result["annotations"] = dict(annotations)
    return result


def resources(compute: ComputeResources) -> Json:
    return {
        "requests": {
            "cpu": f"{compute.cpu_request_millicores}m",
            "memory": f"{compute.memory_request_mib}Mi",
        },
        "limits": {"cpu": f"{compute.cpu_limit_millicores}m", "memory": f"{compute.memory_limit_mib}Mi"},
    }


def env(name: str, value: pulumi.Input[str]) -> Json:
    return {"name": name, "value": value}


def secret_env(name: str, secret_name: pulumi.Input[str], key: str) -> Json:
    """An environment variable read from a Secret: the only way credentials reach a container."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def http_probe(
    path: str, port: str | int, *, initial_delay_seconds: int = 10, period_seconds: int = 10
) -> Json:
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": initial_delay_seconds,
        "periodSeconds": period_seconds,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def exec_probe(command: Sequence[str], *, initial_delay_seconds: int = 10) -> Json:
    return {
        "exec": {"command": list(command)},
        "initialDelaySeconds": initial_delay_seconds,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    }


def container(
    name: str,
    image: str,
    *,
    compute: ComputeResources,
    ports: Mapping[str, int] | None = None,
    env_vars: Sequence[Json] = (),
    probes: tuple[Json, Json] | None = None,
    volume_mounts: Sequence[Json] = (),
    command: Sequence[pulumi.Input[str]] | None = None,
    args: Sequence[pulumi.Input[str]] | None = None,
) -> Json:
    """A hardened container; ``probes`` is ``(liveness, readiness)``, None only for run-to-completion jobs.

    ``/tmp`` is always mounted from an ``emptyDir`` (see ``pod_spec``), the root filesystem is read-only.
    """
    result: Json = {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "resources": resources(compute),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": TMP_VOLUME, "mountPath": "/tmp"}, *volume_mounts],
    }
    if command is not None:
        result["command"] = list(command)
    if args is not None:
        result["args"] = list(args)
    if ports:
        result["ports"] = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports.items()]
    if env_vars:
        result["env"] = list(env_vars)
    if probes is not None:
        result["livenessProbe"], result["readinessProbe"] = probes
    return result


def pod_spec(
    containers: Sequence[Json],
    *,
    run_as_user: int,
    volumes: Sequence[Json] = (),
    restart_policy: str | None = None,
) -> Json:
    """A hardened pod: non-root user and group, fsGroup, seccomp, no service-account token."""
    spec: Json = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": run_as_user,
            "runAsGroup": run_as_user,
            "fsGroup": run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": list(containers),
        "volumes": [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}}, *volumes],
    }
    if restart_policy is not None:
        spec["restartPolicy"] = restart_policy
    return spec


def pod_template(labels: Mapping[str, str], spec: Json, annotations: Mapping[str, str] | None = None) -> Json:
    meta: Json = {"labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"metadata": meta, "spec": spec}


def service_spec(selector: Mapping[str, str], ports: Mapping[str, int]) -> Json:
    """A ClusterIP Service spec (exposure beyond the cluster is never the default)."""
    return {
        "type": "ClusterIP",
        "selector": dict(selector),
        "ports": [{"name": n, "port": p, "targetPort": n, "protocol": "TCP"} for n, p in ports.items()],
    }


def ingress_policy_spec(
    pod_selector: Mapping[str, str],
    ports: Sequence[int],
    *,
    from_components: Sequence[str] | None = None,
    any_namespace: bool = False,
) -> Json:
    """NetworkPolicy admitting traffic to ``ports`` of the selected pods.

    Args:
        pod_selector: labels of the protected pods.
        ports: TCP ports admitted.
        from_components: only from pods of the namespace with these ``app.kubernetes.io/component``
            values; None admits every pod of the namespace.
        any_namespace: admit pods of every namespace (gateways, cluster monitoring).
    """
    if any_namespace:
        peers: list[Json] = [{"namespaceSelector": {}}]
    elif from_components is not None:
        expression = {"key": L.APP_COMPONENT, "operator": "In", "values": sorted(from_components)}
        peers = [{"podSelector": {"matchExpressions": [expression]}}]
    else:
        peers = [{"podSelector": {}}]
    return {
        "podSelector": {"matchLabels": dict(pod_selector)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": p} for p in ports]}],
    }


def web_app(
    component: pulumi.Resource,
    *,
    prefix: str,
    app_name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    pod: Json,
    port: int,
    replicas: int = 1,
    strategy: Json | None = None,
    any_namespace: bool = False,
    from_components: Sequence[str] | None = None,
) -> None:
    """A platform HTTP service: its Deployment, ClusterIP Service and ingress NetworkPolicy.

    Resource names are ``app_name``, ``{prefix}-service`` and ``{prefix}-ingress``; the Service is
    named ``app_name`` in the cluster so in-cluster URLs read ``http://<app_name>.<ns>.svc``. The
    NetworkPolicy admits what ``ingress_policy_spec`` does for ``any_namespace`` and ``from_components``.
    """
    spec: Json = {"replicas": replicas, "selector": {"matchLabels": dict(selector)}}
    if strategy is not None:
        spec["strategy"] = strategy
    spec["template"] = pod_template(labels, pod)
    k8s.apps.v1.Deployment(
        app_name, metadata=metadata(app_name, namespace, labels), spec=spec, opts=child(component)
    )
    k8s.core.v1.Service(
        f"{prefix}-service",
        metadata=metadata(app_name, namespace, labels),
        spec=service_spec(selector, {"http": port}),
        opts=child(component),
    )
    k8s.networking.v1.NetworkPolicy(
        f"{prefix}-ingress",
        metadata=metadata(f"{prefix}-ingress", namespace, labels),
        spec=ingress_policy_spec(
            selector, [port], any_namespace=any_namespace, from_components=from_components
        ),
        opts=child(component),
    )


def child(component: pulumi.Resource, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options of a child resource: parented to the layer component (providers flow down)."""
    return pulumi.ResourceOptions(parent=component, **kwargs)
