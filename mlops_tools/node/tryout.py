"""Trying the platform on the local node: a project for it, its rollout, its endpoints, demo models.

The project is what a platform team with a small air-gapped cluster would have: made by ``mlops
init``, plus one stack whose images come from the node's mirror (``environment.images.overrides``),
with the project's own staging policy config approving that mirror and allowing one replica per model
(a 2-core node cannot hold staging's two plus a canary). Everything else (security contexts, network
policies, probes, backups, drift) is the product's own. ``python -m mlops_platform.tools.local_cluster
DIR --node --platform`` writes it; the end-to-end tests and ``bench/node_platform.py`` use it too.

Jobs run here (demo training) are admitted by the namespace's ``restricted`` Pod Security level.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mlops_platform import vocabulary as L
from mlops_platform.tools.scaffold import scaffold

PROJECT = "mlops-local"
STACK = "local"
"""The try-it stack of the project ``serve`` writes (``stacks/Pulumi.local.yaml``)."""
NAMESPACE = "mlops-local"
WATCH_EVERY_S = 5
MIRROR_PREFIX = "mlops.local:5000/mlops"
MODEL_IMAGE = "ghcr.io/acme-ml/serving-runtime:0.9.1"
"""What the models declare, as in a project made by ``mlops init``; the node's mirror serves the
platform's runtime image (``platform-python``) under it."""
JOB_TIMEOUT_S = 600.0
ROLLOUT_TIMEOUT_S = 600.0
SMALL_MODEL = {
    "requests": {"cpu_millicores": 50, "memory_mib": 256},
    "limits": {"cpu_millicores": 1000, "memory_mib": 1024},
}
"""Small enough that the platform, two models and a canary fit on the node's 2 cores."""
DEMO_RESULT = "DEMO-RESULT "


@dataclass(frozen=True, kw_only=True)
class DemoModel:
    """A model to serve: its version, and the canary's version if it has one."""

    name: str
    version: int = 1
    canary_version: int | None = None

    @property
    def versions(self) -> int:
        return max(self.version, self.canary_version or 0)


TWO_MODELS = (DemoModel(name="fraud-scorer", canary_version=2), DemoModel(name="churn-predictor"))
"""fraud-scorer version 1 with version 2 under a 50% canary, churn-predictor version 1."""


def model_entries(
    models: Sequence[DemoModel], *, alert_after_seconds: int | None = None
) -> list[dict[str, Any]]:
    """The stack file's ``serving.models`` for ``models``; alerts after ``alert_after_seconds`` if given."""
    entries = []
    for m in models:
        entry: dict[str, Any] = {
            "name": m.name,
            "image": MODEL_IMAGE,
            "model": {"name": m.name, "version": m.version},
            "replicas": {"min": 1, "max": 2},
            "resources": SMALL_MODEL,
            "slo": {"p99_latency_ms": 2000, "error_rate": 0.05},
            "drift": {"enabled": True, "schedule": "0 3 * * *"},
            "governance": {
                "owner": "ml-platform@example.com",
                "risk_tier": "limited",
                "data_classification": "internal",
            },
        }
        if m.canary_version is not None:
            entry["canary"] = {"version": m.canary_version, "weight": 50}
        if alert_after_seconds is not None:
            entry["slo"]["alert_after_seconds"] = alert_after_seconds
            entry["drift"]["alert_after_seconds"] = alert_after_seconds
        entries.append(entry)
    return entries


def write_project(root: Path, stack: str, namespace: str, overrides: Mapping[str, str]) -> Path:
    """``mlops init`` into ``root`` (project ``mlops-local``), then the edits for the node (module doc)."""
    scaffold(root, name=PROJECT)
    tier_file = root / "policies" / "config" / "tiers" / "staging.json"
    tiers = json.loads(tier_file.read_text(encoding="utf-8"))
    tiers["image-approved-registry"]["allowedRegistries"].append(MIRROR_PREFIX)
    tiers["workload-min-replicas"]["minReplicas"] = 1
    tiers["autoscaler-bounds-sane"]["minReplicas"] = 1
    tier_file.write_text(json.dumps(tiers, indent=2) + "\n", encoding="utf-8")
    write_stack(root, stack, namespace, overrides)
    return root


def write_stack(
    root: Path,
    stack: str,
    namespace: str,
    overrides: Mapping[str, str],
    *,
    tracking_uri: str | None = None,
    models: Sequence[dict[str, Any]] = (),
    scrape_interval_seconds: int = 15,
) -> Path:
    """``stacks/Pulumi.<stack>.yaml`` of the project at ``root``: tier staging on Kubernetes, the
    node's images; ``models`` resolved in the MLflow at ``tracking_uri`` (the platform's own, once
    something is registered there)."""
    environment: dict[str, Any] = {
        "name": stack,
        "tier": "staging",
        "target": "kubernetes",
        "namespace": namespace,
        "owner": "ml-platform@example.com",
        "team": "ml-platform",
        "cost_centre": "cc-0000",
        "data_classification_ceiling": "internal",
        "images": {"overrides": dict(overrides)},
    }
    if tracking_uri is not None:
        environment["registry_source"] = {"tracking_uri": tracking_uri, "timeout_s": 30}
    config = {
        f"{PROJECT}:environment": environment,
        f"{PROJECT}:registry": {
            # The tier's memory for MLflow 3's server, a smaller CPU request for the node.
            "model_registry": {
                "resources": {
                    "requests": {"cpu_millicores": 100, "memory_mib": 1024},
                    "limits": {"cpu_millicores": 1000, "memory_mib": 2048},
                }
            }
        },
        f"{PROJECT}:serving": {"models": list(models)},
        f"{PROJECT}:monitoring": {
            "grafana_image": None,  # not buildable here (README, "Images built here")
            "scrape_interval_seconds": scrape_interval_seconds,
            "receivers": [{"name": "oncall", "kind": "email", "email": "ml-oncall@example.com"}],
        },
    }
    path = root / "stacks" / f"Pulumi.{stack}.yaml"
    text = f"# {stack}: the platform on the local node (mlops_platform.tools.node.tryout)\n"
    path.write_text(text + yaml.safe_dump({"config": config}, sort_keys=False), encoding="utf-8")
    return path


# --- the cluster, through its API ----------------------------------------------------------------
# The client's objects are read field by field as the API server fills them: typed as Any (the
# generated models declare every field optional).


def _core(api: Any) -> Any:
    from kubernetes import client

    return client.CoreV1Api(api)


def _apps(api: Any) -> Any:
    from kubernetes import client

    return client.AppsV1Api(api)


def _batch(api: Any) -> Any:
    from kubernetes import client

    return client.BatchV1Api(api)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, *, every_s: float = 2.0) -> Any:
    """``check()``'s first truthy answer; after ``timeout_s``, TimeoutError naming ``what`` and the last."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s (last: {last!r})")
        time.sleep(every_s)


def not_ready(api: Any, namespace: str) -> list[str]:
    """Every Deployment and StatefulSet of ``namespace`` not fully rolled out, every Job not complete."""

    apps, batch = _apps(api), _batch(api)
    pending = []
    for kind, items in (
        ("Deployment", apps.list_namespaced_deployment(namespace).items),
        ("StatefulSet", apps.list_namespaced_stateful_set(namespace).items),
    ):
        for o in items:
            want = o.spec.replicas if o.spec.replicas is not None else 1
            ready = (o.status.ready_replicas or 0) if o.status else 0
            updated = (o.status.updated_replicas or 0) if o.status else 0
            if ready < want or updated < want:
                pending.append(f"{kind} {o.metadata.name}: {ready}/{want} ready, {updated} updated")
    for job in batch.list_namespaced_job(namespace).items:
        if not (job.status and job.status.succeeded):
            pending.append(f"Job {job.metadata.name}: not complete")
    return pending


def pod_problems(api: Any, namespace: str) -> str:
    """The namespace's pods that are not running well, and why (for failure messages)."""

    lines = []
    for pod in _core(api).list_namespaced_pod(namespace).items:
        status = pod.status
        states = []
        for c in status.container_statuses or []:
            if c.state and c.state.waiting:
                states.append(f"{c.name}: {c.state.waiting.reason}")
            elif c.state and c.state.terminated and c.state.terminated.exit_code:
                states.append(
                    f"{c.name}: exited {c.state.terminated.exit_code} ({c.state.terminated.reason})"
                )
            if c.restart_count:
                states.append(f"{c.name}: {c.restart_count} restarts")
        states += [
            f"{c.type}={c.status} {c.reason or ''} {c.message or ''}".strip()
            for c in status.conditions or []
            if c.status != "True" and status.phase != "Succeeded"
        ]
        if status.phase not in ("Running", "Succeeded") or states:
            lines.append(f"{pod.metadata.name} {status.phase}: {'; '.join(states)}")
    return "\n".join(lines)


def wait_rolled_out(api: Any, namespace: str, timeout_s: float = ROLLOUT_TIMEOUT_S) -> float:
    """Wait until :func:`not_ready` is empty; the seconds it took. TimeoutError names what was not."""
    started = time.monotonic()
    while True:
        pending = not_ready(api, namespace)
        if not pending:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(
                f"not rolled out within {timeout_s:.0f} s:\n"
                + "\n".join(pending)
                + f"\npods:\n{pod_problems(api, namespace)}"
            )
        time.sleep(3)


def service_url(api: Any, namespace: str, selector: Mapping[str, str], port: str | None = None) -> str:
    """``http://<ClusterIP>:<port>`` of the one Service matching ``selector`` (on the local node the
    host reaches the Service range through the node's routes)."""

    label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
    listed = _core(api).list_namespaced_service(namespace, label_selector=label_selector).items
    found = [s for s in listed if s.spec.cluster_ip and s.spec.cluster_ip != "None"]
    if len(found) != 1:
        raise LookupError(f"Services matching {label_selector}: {[s.metadata.name for s in found]}")
    ports = found[0].spec.ports
    chosen = next((p for p in ports if p.name == port), ports[0]) if port else ports[0]
    return f"http://{found[0].spec.cluster_ip}:{chosen.port}"


def pod_url(api: Any, namespace: str, selector: Mapping[str, str], port: int) -> str | None:
    """``http://<pod IP>:<port>`` of the first ready pod matching ``selector`` (a headless Service's)."""

    label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
    for pod in _core(api).list_namespaced_pod(namespace, label_selector=label_selector).items:
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if ready and pod.status.pod_ip:
            return f"http://{pod.status.pod_ip}:{port}"
    return None


def endpoints(api: Any, namespace: str) -> dict[str, str]:
    """What a person can open, by name: MLflow, Prometheus, Alertmanager, the Pushgateway and every
    model's tracks, as URLs the host reaches; only those whose pods are ready."""

    found: dict[str, str] = {}
    headless = {  # the operator's governing Services have no ClusterIP: their pods' addresses
        "prometheus": ({L.APP_NAME: "prometheus"}, 9090),
        "alertmanager": ({L.APP_NAME: "alertmanager"}, 9093),
    }
    for name, (selector, port) in headless.items():
        url = pod_url(api, namespace, selector, port)
        if url is not None:
            found[name] = url
    services = {
        "mlflow": {L.APP_NAME: "mlflow", L.APP_COMPONENT: L.COMPONENT_MODEL_REGISTRY},
        "pushgateway": {L.APP_NAME: "pushgateway"},
    }
    for name, selector in services.items():
        if pod_url(api, namespace, selector, 0) is not None:
            found[name] = service_url(api, namespace, selector)
    model_servers = f"{L.APP_COMPONENT}={L.COMPONENT_MODEL_SERVER}"
    for service in _core(api).list_namespaced_service(namespace, label_selector=model_servers).items:
        labels: dict[str, str] = service.metadata.labels or {}
        model, track = labels.get(L.MODEL, ""), labels.get(L.TRACK, "")
        pods = {L.MODEL: model, L.TRACK: track, L.APP_COMPONENT: L.COMPONENT_MODEL_SERVER}
        if model and track and pod_url(api, namespace, pods, 0) is not None:
            port = service.spec.ports[0].port
            found[f"model {model} ({track})"] = f"http://{service.spec.cluster_ip}:{port}/invocations"
    return found


# --- jobs in the platform's namespace ------------------------------------------------------------


def restricted_pod(
    name: str,
    image: str,
    command: list[str],
    *,
    env: Sequence[Mapping[str, Any]] = (),
    volumes: Sequence[Mapping[str, Any]] = (),
    mounts: Sequence[Mapping[str, Any]] = (),
    user: int = 1000,
) -> dict[str, Any]:
    """A pod spec the ``restricted`` Pod Security level admits, with a writable ``/tmp``."""
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": user,
            "runAsGroup": user,
            "fsGroup": user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": name,
                "image": image,
                "command": command,
                "env": [*env, {"name": "HOME", "value": "/tmp"}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                "resources": {
                    "requests": {"cpu": "50m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}, *volumes],
    }


def script_volume(api: Any, namespace: str, name: str, files: Mapping[str, str]) -> dict[str, Any]:
    """ConfigMap ``name`` holding ``files`` (replaced if it exists); its volume ``scripts``."""
    from kubernetes.client.rest import ApiException

    core = _core(api)
    try:
        core.delete_namespaced_config_map(name, namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(files)}
    core.create_namespaced_config_map(namespace, body)
    return {"name": "scripts", "configMap": {"name": name}}


class JobFailed(RuntimeError):
    """A Job ended failed or did not end in time; the message carries its log or the pods' state."""


def run_job(
    api: Any,
    namespace: str,
    name: str,
    pod_spec: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Run ``pod_spec`` once as Job ``name`` and wait for its end; its log.

    Raises:
        JobFailed: it failed (with its log) or did not finish within ``JOB_TIMEOUT_S``.
    """

    batch, core = _batch(api), _core(api)
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": dict(labels or {})}, "spec": dict(pod_spec)},
        },
    }
    batch.create_namespaced_job(namespace, body)

    def finished() -> str | None:
        status = batch.read_namespaced_job_status(name, namespace).status
        return "succeeded" if status.succeeded else "failed" if status.failed else None

    try:
        outcome = wait_for(f"Job {name}", finished, JOB_TIMEOUT_S, every_s=1.0)
    except TimeoutError as exc:
        raise JobFailed(f"{exc}\npods:\n{pod_problems(api, namespace)}") from None
    pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={name}").items
    log = "\n".join(str(core.read_namespaced_pod_log(p.metadata.name, namespace)) for p in pods)
    if outcome != "succeeded":
        raise JobFailed(f"Job {name} failed:\n{log}")
    return log


def result_line(log: str, marker: str = DEMO_RESULT) -> Any:
    """The JSON a job printed after ``marker`` (its last such line). ValueError when there is none."""
    lines = [line.split(marker, 1)[1] for line in log.splitlines() if marker in line]
    if not lines:
        raise ValueError(f"no {marker.strip()} line in the job's log:\n{log}")
    return json.loads(lines[-1])


def train_demo_models(
    api: Any,
    namespace: str,
    image: str,
    tracking_uri: str,
    models: Sequence[DemoModel],
    *,
    job: str = "demo-train",
) -> dict[str, Any]:
    """Train and register ``models`` in the platform's MLflow by a Job in its runtime ``image``;
    the job's ``DEMO-RESULT`` (test rows, each version's predictions, artifact locations)."""
    script = resources.files("mlops_platform.tools.node").joinpath("files/demo_train.py").read_text("utf-8")
    volume = script_volume(api, namespace, job, {"demo_train.py": script})
    wanted = ",".join(f"{m.name}:{m.versions}" for m in models)
    spec = restricted_pod(
        "train",
        image,
        ["python", "/scripts/demo_train.py"],
        env=[
            {"name": "MLFLOW_TRACKING_URI", "value": tracking_uri},
            {"name": "DEMO_MODELS", "value": wanted},
        ],
        volumes=[volume],
        mounts=[{"name": "scripts", "mountPath": "/scripts"}],
    )
    result: dict[str, Any] = result_line(run_job(api, namespace, job, spec))
    return result


# --- trying it: `local_cluster DIR --node --platform`, then `python -m ...tryout models DIR` ------------


def runtime_image() -> str:
    """The platform's runtime image as the node's pods pull it."""
    from mlops_platform.tools.images.recipes import RECIPES
    from mlops_platform.tools.node import mirror

    return next(mirror.mirror_ref(r) for r in RECIPES if r.name == "platform-python")


def serve(cluster: Any, directory: Path) -> int:
    """Images built and pushed, the project written (kept if it exists), then each endpoint printed
    once ready, until SIGINT/SIGTERM (blocked by the caller). The exit code."""
    import signal

    from mlops_platform.tools.cluster_prereqs import api_client
    from mlops_platform.tools.images.builder import build_images, images_root
    from mlops_platform.tools.node import mirror
    from mlops_platform.tools.toolchain.commands import ToolchainError

    try:
        images = build_images(root=images_root(), progress=print)
        overrides = mirror.publish(images, cluster.registry, progress=print)
    except ToolchainError as exc:
        print(f"images: {exc}", flush=True)
        return 2
    overrides[MODEL_IMAGE] = runtime_image()
    project = directory / "project"
    if not (project / "Pulumi.yaml").exists():
        write_project(project, STACK, NAMESPACE, overrides)
    print(
        f"project {project} (stack {STACK}, namespace {NAMESPACE}); in another shell:\n"
        f"  export KUBECONFIG={cluster.kubeconfig}\n"
        f"  mlops -C {project} up {STACK} --yes --no-admission --local-state {directory / 'state'}\n"
        f"models, once MLflow is up: python -m mlops_platform.tools.node.tryout models {directory}; up again",
        flush=True,
    )
    api = api_client(str(cluster.kubeconfig))
    shown: dict[str, str] = {}
    while signal.sigtimedwait({signal.SIGINT, signal.SIGTERM}, WATCH_EVERY_S) is None:
        try:
            now = endpoints(api, NAMESPACE)
        except Exception as exc:  # the API server answering oddly is no reason to stop the cluster
            print(f"endpoints: {exc}", flush=True)
            continue
        for name, url in sorted(now.items()):
            if shown.get(name) != url:
                print(f"endpoint {name}: {url}", flush=True)
        shown = now
    return 0


def add_demo_models(directory: Path) -> int:
    """Train :data:`TWO_MODELS` in the platform's MLflow on the node of ``directory``; write them into
    the project's stack (versions resolved in that MLflow). The exit code."""
    from mlops_platform.tools.cluster_prereqs import api_client

    project, kubeconfig = directory / "project", directory / "kubeconfig"
    stack_file = project / "stacks" / f"Pulumi.{STACK}.yaml"
    if not stack_file.is_file() or not kubeconfig.is_file():
        print(f"{directory}: no running node with a project (start: local_cluster DIR --node --platform)")
        return 2
    config = yaml.safe_load(stack_file.read_text(encoding="utf-8"))["config"]
    overrides = config[f"{PROJECT}:environment"]["images"]["overrides"]
    api = api_client(str(kubeconfig))
    try:
        tracking_uri = service_url(
            api, NAMESPACE, {L.APP_NAME: "mlflow", L.APP_COMPONENT: L.COMPONENT_MODEL_REGISTRY}
        )
        trained = train_demo_models(api, NAMESPACE, runtime_image(), tracking_uri, TWO_MODELS)
    except (LookupError, JobFailed) as exc:
        print(f"demo models: {exc}\n(is the platform up? mlops -C {project} up {STACK})")
        return 2
    write_stack(
        project, STACK, NAMESPACE, overrides, tracking_uri=tracking_uri, models=model_entries(TWO_MODELS)
    )
    for v in trained["versions"]:
        print(f"registered {v['name']} version {v['version']} (run {v['run_id']})")
    print(f"next: mlops -C {project} up {STACK} --yes --no-admission --local-state {directory / 'state'}")
    return 0


def main(argv: Sequence[str]) -> int:  # pragma: no cover - an interactive helper for people
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m mlops_platform.tools.node.tryout",
        description="models DIR: train two demo models in the platform on the local node of DIR.",
    )
    parser.add_argument("command", choices=["models"])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    return add_demo_models(args.directory.resolve())


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main(sys.argv[1:]))
