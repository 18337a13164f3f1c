"""Benchmark: the platform on the local node, from a cold start to serving models (not a test).

One run, one machine (root; the toolchain's node and the platform's images built): the node's start to
Ready; pushing every image to its registry; ``mlops up`` of the try-it project (no models) to every
workload rolled out; training two demo models and ``mlops up`` with them (one under a canary) to
all-Ready; then a generated environment of N models (default 20) the same way; the node's memory
(its pods' cgroup and its own processes) after each step. Prints a table, then one JSON line.

    .venv/bin/python bench/node_platform.py [--models 20]

Image builds, cold and warm, are ``bench/image_builds.py``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.tools.cluster_prereqs import api_client
from mlops_platform.tools.images.builder import build_images, images_root
from mlops_platform.tools.local_cluster import LocalCluster, toolchain_binaries
from mlops_platform.tools.node import cluster as node_cluster
from mlops_platform.tools.node import mirror, tryout

CGROUP_MEMORY = Path("/sys/fs/cgroup/memory")


def node_memory_mb(cluster: LocalCluster) -> dict[str, float]:
    """The node's memory, in MB: its pods' (the kubelet's memory cgroup: usage with page cache, and
    RSS) and its own processes' RSS (control plane, kubelet, containerd, CoreDNS, registry, operators:
    the sandbox's ``node`` freezer cgroup, which holds no pod)."""
    assert cluster.sandbox is not None
    group = CGROUP_MEMORY / cluster.sandbox.cgroup_root.strip("/")
    usage = int((group / "memory.usage_in_bytes").read_text())
    stat = dict(line.split() for line in (group / "memory.stat").read_text().splitlines())
    rss_kb = 0
    for procs in (cluster.sandbox.freezer / "node").rglob("cgroup.procs"):
        for pid in procs.read_text().split():
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                rss_kb += next(
                    (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
                )
    return {
        "pods_usage_mb": round(usage / 1e6, 1),
        "pods_rss_mb": round(int(stat["total_rss"]) / 1e6, 1),
        "node_processes_rss_mb": round(rss_kb * 1024 / 1e6, 1),
    }


def mlops(cluster: LocalCluster, project: Path, *args: str) -> float:
    """Run ``mlops -C project ARGS``; seconds. Exits the bench when it fails."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mlops_platform.tools.cli", "-C", str(project), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.env()},
        check=False,
    )
    if done.returncode != 0:
        sys.exit(
            f"mlops {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=20, help="models of the generated environment")
    args = parser.parse_args()
    control_plane, node = toolchain_binaries(), node_cluster.toolchain_node_binaries()
    if control_plane is None or node is None:
        sys.exit("the toolchain's control plane and node are not built: mlops toolchain install")
    figures: dict[str, Any] = {"models_generated": args.models}
    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp:
        work = Path(tmp)
        with node_cluster.running(
            work / "cluster",
            control_plane,
            node,
            image_store=work / "images",
            config_reloader_image=mirror.config_reloader_image(),
            progress=lambda line: None,
        ) as cluster:
            assert cluster.registry is not None
            figures["node_ready_s"] = round(cluster.started_s, 1)
            figures["node_idle"] = node_memory_mb(cluster)
            started = time.monotonic()
            images = build_images(root=images_root(), progress=lambda line: None)
            figures["images_warm_check_s"] = round(time.monotonic() - started, 2)
            started = time.monotonic()
            overrides = mirror.publish(images, cluster.registry, progress=lambda line: None)
            figures["images_push_s"] = round(time.monotonic() - started, 1)
            overrides[tryout.MODEL_IMAGE] = tryout.runtime_image()
            api = api_client(str(cluster.kubeconfig))
            project = tryout.write_project(work / "project", tryout.STACK, tryout.NAMESPACE, overrides)
            # --no-admission, as README's try-it: the demo training Job is an ad-hoc object without the
            # platform's labels, which staging's admission policies (judging the whole namespace) refuse.
            state = ["--yes", "--local-state", str(work / "state")]

            def up_to_ready(key: str) -> None:
                up_s = mlops(cluster, project, "up", tryout.STACK, "--no-admission", *state)
                rest_s = tryout.wait_rolled_out(api, tryout.NAMESPACE, timeout_s=1800)
                figures[key] = {
                    "up_s": round(up_s, 1),
                    "all_ready_s": round(up_s + rest_s, 1),
                    **node_memory_mb(cluster),
                }

            up_to_ready("platform_no_models")
            tracking_uri = tryout.service_url(
                api, tryout.NAMESPACE, {L.APP_NAME: "mlflow", L.APP_COMPONENT: L.COMPONENT_MODEL_REGISTRY}
            )
            generated = tuple(tryout.DemoModel(name=f"model-{i:03d}") for i in range(args.models))
            started = time.monotonic()
            tryout.train_demo_models(
                api, tryout.NAMESPACE, tryout.runtime_image(), tracking_uri, (*tryout.TWO_MODELS, *generated)
            )
            figures["train_s"] = round(time.monotonic() - started, 1)
            for key, models in (("two_models", tryout.TWO_MODELS), (f"{args.models}_models", generated)):
                tryout.write_stack(
                    project,
                    tryout.STACK,
                    tryout.NAMESPACE,
                    overrides,
                    tracking_uri=tracking_uri,
                    models=tryout.model_entries(models),
                )
                up_to_ready(key)
            figures["destroy_s"] = round(mlops(cluster, project, "destroy", tryout.STACK, *state), 1)
    figures["load_avg_1m"] = os.getloadavg()[0]
    for key, value in figures.items():
        print(f"{key:24} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    from kubernetes.client.rest import ApiException

    try:
        main()
    except (tryout.JobFailed, ApiException) as exc:  # a step of the platform failed: say which, no traceback
        sys.exit(f"bench/node_platform.py: {type(exc).__name__}: {exc}")
