"""The platform on a real node: a project made by ``mlops init``, brought up with the images built here.

One node per session (xdist group ``e2e``), with its image registry: the platform's images (built by
``tests/run.sh``) are pushed there and the environment points at them through
``environment.images.overrides``, the way an air-gapped organisation runs upstream software from its
own mirror; the project's tier config approves that mirror. Without the toolchain's node, Debian's
container runtime, root or the images, the tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.tools.local_cluster import LocalCluster
from mlops_platform.tools.node import cluster as node_cluster
from mlops_platform.tools.node import mirror
from tests.cli_runner import mlops
from tests.node.conftest import node_parts
from tests.realengine.conftest import require_tool

PROJECT = "e2e"
NAMESPACE = "mlops-e2e"
JOB_TIMEOUT_S = 600.0
UP_TIMEOUT_S = 1800.0
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Platform:
    cluster: LocalCluster
    project: Path
    state: Path
    overrides: dict[str, str]
    runtime_image: str
    """The platform's own image as pods pull it: the model server and the drift job."""

    def env(self) -> dict[str, str]:
        return self.cluster.env()

    def stack_file(self) -> Path:
        return self.project / "stacks" / "Pulumi.staging.yaml"

    def mlops(self, *args: str, timeout_s: float = UP_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return mlops("--project", str(self.project), *args, env=self.env(), timeout_s=timeout_s)

    def up(self) -> subprocess.CompletedProcess[str]:
        return self.mlops("up", "staging", "--yes", "--local-state", str(self.state))

    def write_spec(self, edit: Callable[[dict[str, Any]], None]) -> None:
        path = self.stack_file()
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(config["config"])
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _platform_spec(config: dict[str, Any], overrides: dict[str, str]) -> None:
    """The bundled staging environment's shape for this project, on the mirror, without models yet."""
    environment = config[f"{PROJECT}:environment"]
    environment["namespace"] = NAMESPACE
    environment["images"] = {"overrides": overrides}
    config[f"{PROJECT}:serving"] = {"models": []}
    # Grafana cannot be built here (the module proxy refuses it); dashboards go to a central Grafana.
    config.setdefault(f"{PROJECT}:monitoring", {})["grafana_image"] = None


def _approve_mirror(project: Path) -> None:
    tier = project / "policies" / "config" / "tiers" / "staging.json"
    config = json.loads(tier.read_text(encoding="utf-8"))
    config["image-approved-registry"]["allowedRegistries"].append(f"{mirror.MIRROR}/mlops")
    tier.write_text(json.dumps(config, indent=2), encoding="utf-8")


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    from mlops_platform.tools.images.builder import build_images
    from mlops_platform.tools.images.recipes import recipe
    from mlops_platform.tools.images.registry import check_registry_tools

    control_plane, binaries = node_parts()
    if missing := check_registry_tools():
        require_tool(f"{', '.join(missing)} (Debian packages; tests/run.sh installs them)")
    work = tmp_path_factory.mktemp("e2e")
    with node_cluster.running(
        work / "cluster",
        control_plane,
        binaries,
        image_store=work / "images",
        config_reloader_image=mirror.config_reloader_image(),
    ) as cluster:
        assert cluster.registry is not None
        built = build_images((), progress=print)  # tests/run.sh built them: a file check each
        overrides = mirror.publish(built, cluster.registry, progress=print)
        project = work / PROJECT
        done = mlops("init", str(project), "--name", PROJECT)
        assert done.returncode == 0, done.stderr
        _approve_mirror(project)
        platform = Platform(
            cluster=cluster,
            project=project,
            state=work / "state",
            overrides=overrides,
            runtime_image=mirror.mirror_ref(recipe("platform-python")),
        )
        platform.write_spec(lambda config: _platform_spec(config, overrides))
        yield platform


def api(platform: Platform) -> Any:
    from mlops_platform.tools.cluster_prereqs import api_client

    return api_client(str(platform.cluster.kubeconfig))


def run_job(
    platform: Platform,
    name: str,
    image: str,
    command: list[str],
    *,
    env: list[dict[str, Any]] | None = None,
    files: dict[str, str] | None = None,
    user: int = 1000,
) -> str:
    """Run a Job in the platform's namespace to completion; its log (the test fails if the Job does)."""
    from kubernetes import client

    core, batch = client.CoreV1Api(api(platform)), client.BatchV1Api(api(platform))
    volumes, mounts = [], []
    if files:
        core.create_namespaced_config_map(
            NAMESPACE, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": files}
        )
        volumes = [{"name": "files", "configMap": {"name": name}}]
        mounts = [{"name": "files", "mountPath": "/job"}]
    batch.create_namespaced_job(
        NAMESPACE,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "e2e-tests"}},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "metadata": {"labels": {"job": name}},
                    "spec": {
                        "restartPolicy": "Never",
                        # The platform's namespace enforces the restricted Pod Security Standard.
                        "securityContext": {
                            "runAsUser": user,
                            "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "volumes": volumes,
                        "containers": [
                            {
                                "name": "main",
                                "image": image,
                                "command": command,
                                "env": [{"name": "HOME", "value": "/tmp"}, *(env or [])],
                                "volumeMounts": mounts,
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                            }
                        ],
                    },
                },
            },
        },
    )
    deadline = time.monotonic() + JOB_TIMEOUT_S
    status: Any = None
    while time.monotonic() < deadline:
        status = batch.read_namespaced_job_status(name, NAMESPACE).status
        if status.succeeded or status.failed:
            break
        refused = [
            e.message
            for e in core.list_namespaced_event(NAMESPACE, field_selector=f"involvedObject.name={name}").items
            if e.reason == "FailedCreate"
        ]
        assert not refused, f"job {name}: {refused[-1]}"
        time.sleep(1)
    pods = core.list_namespaced_pod(NAMESPACE, label_selector=f"job={name}").items
    log = "\n".join(core.read_namespaced_pod_log(p.metadata.name, NAMESPACE) for p in pods)
    assert status is not None and status.succeeded, f"job {name} did not succeed ({status}):\n{log}"
    return log


def secret_env(variable: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def read_file(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        require_tool(name)
    assert found is not None
    return found
