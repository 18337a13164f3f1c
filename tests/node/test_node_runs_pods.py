"""On the node: pods run, Services route, cluster DNS resolves, claims bind and keep their data."""

from __future__ import annotations

import time
import urllib.request

import pytest

from mlops_platform.tools.local_cluster import LocalCluster
from mlops_platform.tools.node import images

from .conftest import api, ensure_namespace, run_pod

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("node")]
NS = "node-checks"


def _web(cluster: LocalCluster) -> str:
    """A busybox httpd Deployment behind a Service; returns the Service's ClusterIP."""
    from kubernetes import client

    ensure_namespace(cluster, NS)
    apps, core = client.AppsV1Api(api(cluster)), client.CoreV1Api(api(cluster))
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        NS,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "httpd",
                                "image": images.BUSYBOX,
                                "imagePullPolicy": "Never",
                                "command": [
                                    "/bin/sh",
                                    "-c",
                                    "mkdir -p /tmp/www && echo hello-from-web > /tmp/www/index.html"
                                    " && exec httpd -f -p 8080 -h /tmp/www",
                                ],
                                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                            }
                        ]
                    },
                },
            },
        },
    )
    service = core.create_namespaced_service(
        NS,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    deadline = time.monotonic() + 120
    while (apps.read_namespaced_deployment("web", NS).status.ready_replicas or 0) < 1:
        assert time.monotonic() < deadline, "the web Deployment did not become ready"
        time.sleep(0.5)
    return str(service.spec.cluster_ip)


def test_a_service_routes_by_dns_name_from_a_pod_and_by_address_from_the_host(node: LocalCluster) -> None:
    cluster_ip = _web(node)
    log = run_pod(
        node,
        NS,
        "client",
        "nslookup web.node-checks.svc.cluster.local && wget -qO- http://web.node-checks.svc.cluster.local/",
    )
    assert cluster_ip in log, log
    assert "hello-from-web" in log, log
    # The host reaches Services through the node's veth pair (the route `mlops up` users open).
    with urllib.request.urlopen(f"http://{cluster_ip}/", timeout=10) as response:
        assert response.read().decode().strip() == "hello-from-web"


def test_the_api_server_is_reachable_from_pods_through_the_kubernetes_service(node: LocalCluster) -> None:
    ensure_namespace(node, NS)
    log = run_pod(
        node,
        NS,
        "apiserver",
        "nslookup kubernetes.default.svc.cluster.local"
        " && nc -w 5 kubernetes.default 443 </dev/null && echo reachable",
    )
    assert "10.96.0.1" in log and "reachable" in log, log


def test_a_claim_binds_and_its_data_outlives_the_pod(node: LocalCluster) -> None:
    from kubernetes import client

    ensure_namespace(node, NS)
    core = client.CoreV1Api(api(node))
    core.create_namespaced_persistent_volume_claim(
        NS,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    volume = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}
    mount = {"volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    non_root = {"securityContext": {"runAsUser": 999, "runAsNonRoot": True}}
    run_pod(node, NS, "writer", "echo kept > /data/file", container=mount, **volume, **non_root)
    claim = core.read_namespaced_persistent_volume_claim("data", NS)
    assert claim.status.phase == "Bound", claim.status
    log = run_pod(node, NS, "reader", "cat /data/file", container=mount, **volume, **non_root)
    assert log.strip() == "kept"


def test_the_prometheus_operator_turns_an_alertmanager_into_a_statefulset(node: LocalCluster) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ensure_namespace(node, NS)
    client.CustomObjectsApi(api(node)).create_namespaced_custom_object(
        "monitoring.coreos.com",
        "v1",
        NS,
        "alertmanagers",
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Alertmanager",
            "metadata": {"name": "probe"},
            "spec": {"replicas": 1, "image": images.BUSYBOX},
        },
    )
    apps = client.AppsV1Api(api(node))
    deadline = time.monotonic() + 60
    while True:
        try:
            statefulset = apps.read_namespaced_stateful_set("alertmanager-probe", NS)
            break
        except ApiException as exc:
            assert exc.status == 404, exc
            assert time.monotonic() < deadline, "the operator made no StatefulSet for the Alertmanager"
            time.sleep(0.5)
    assert statefulset.spec.template.spec.containers[0].image == images.BUSYBOX
