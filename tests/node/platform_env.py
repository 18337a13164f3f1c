"""What the end-to-end tests use to look inside the platform on the node, beside ``node.tryout``.

Jobs the tests run in the platform's namespace (read-backs, restores) take their settings and
credentials from the platform's own objects (the backup CronJob's database environment, the drift
CronJob's object-store environment): no credential passes through the test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.tools.local_cluster import LocalCluster
from mlops_platform.tools.node import tryout

STACK = "e2e"
NAMESPACE = "mlops-e2e"
SCRIPTS = Path(__file__).parent / "jobs"
FRAUD, CHURN = (m.name for m in tryout.TWO_MODELS)


def api(cluster: LocalCluster) -> Any:
    from mlops_platform.tools.cluster_prereqs import api_client

    return api_client(str(cluster.kubeconfig))


def http_json(url: str, body: Any = None, *, timeout_s: float = 30.0) -> Any:
    """GET (or POST ``body`` as JSON) ``url``; the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


def http_text(url: str, *, timeout_s: float = 30.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return str(response.read().decode())


def http_status(url: str, body: Any = None) -> int:
    """The status of a request (errors included; 0 when nothing answered), for load expecting failures."""
    try:
        http_json(url, body, timeout_s=10)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0
    return 200


def workload(cluster: LocalCluster, kind: str, component: str, model: str | None = None) -> tuple[Any, Any]:
    """The one CronJob/Deployment/StatefulSet of ``component`` (and ``model``) and its pod spec."""
    from kubernetes import client

    selector = f"{L.APP_COMPONENT}={component}"
    if model is not None:
        selector += f",{L.MODEL}={model}"
    if kind == "CronJob":
        batch = client.BatchV1Api(api(cluster))
        items = batch.list_namespaced_cron_job(NAMESPACE, label_selector=selector).items
        assert len(items) == 1, f"CronJobs {selector}: {[i.metadata.name for i in items]}"
        return items[0], items[0].spec.job_template.spec.template.spec
    apps = client.AppsV1Api(api(cluster))
    listing = apps.list_namespaced_deployment if kind == "Deployment" else apps.list_namespaced_stateful_set
    items = listing(NAMESPACE, label_selector=selector).items
    if kind == "Deployment" and model is not None:  # the stable track's, not the canary's
        items = [i for i in items if i.metadata.labels.get(L.TRACK) != "canary"]
    assert len(items) == 1, f"{kind}s {selector}: {[i.metadata.name for i in items]}"
    return items[0], items[0].spec.template.spec


def _plain(value: Any) -> Any:
    from kubernetes import client

    return client.ApiClient().sanitize_for_serialization(value)


def env_of(pod_spec: Any) -> list[dict[str, Any]]:
    """The first container's environment as plain dicts (secret references stay references)."""
    return [_plain(e) for e in (pod_spec.containers[0].env or [])]


def volumes_of(pod_spec: Any) -> list[dict[str, Any]]:
    """The pod spec's volumes as plain dicts (to mount the same claims in another pod)."""
    return [_plain(v) for v in (pod_spec.volumes or [])]


def job_from_cronjob(cluster: LocalCluster, cronjob: Any, name: str) -> str:
    """``kubectl create job --from=cronjob/...``: the CronJob's own template, run now, once; its log."""
    template = _plain(cronjob.spec.job_template)
    spec = template["spec"]["template"]["spec"]
    spec["restartPolicy"] = "Never"  # one attempt: a failure is the test's answer, not a retry
    labels = template["spec"]["template"].get("metadata", {}).get("labels")
    return tryout.run_job(api(cluster), NAMESPACE, name, spec, labels=labels)
