"""A cluster with a node for the tests of this package: pods really run.

One node cluster per session, in its own xdist group (``node``): a node owns the machine's routes to
the Service and pod ranges, so two cannot run at once. Without the toolchain's node binaries or
Debian's containerd the tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.tools.local_cluster import LocalCluster, toolchain_binaries
from mlops_platform.tools.node import cluster as node_cluster
from mlops_platform.tools.node import images, mirror
from mlops_platform.tools.node.sandbox import NAME as NODE_NAME
from tests.realengine.conftest import require_tool

POD_TIMEOUT_S = 120


def node_parts() -> tuple[Any, node_cluster.NodeBinaries]:
    control_plane = toolchain_binaries()
    node = node_cluster.toolchain_node_binaries()
    if control_plane is None or node is None:
        require_tool("the node (kubelet, kube-scheduler, kube-proxy, CoreDNS, provisioner, operator)")
    for tool in ("containerd", "runc", "umoci", "nsenter", "iptables"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
            require_tool(f"{tool} (Debian package; tests/run.sh installs it)")
    if os.geteuid() != 0:
        require_tool("root (a node makes namespaces, cgroups and mounts)")
    assert control_plane is not None and node is not None
    return control_plane, node


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The session's one node, with its image registry (pods pull ``mlops.local:5000/...`` from it)."""
    control_plane, binaries = node_parts()
    directory = tmp_path_factory.mktemp("node")
    with node_cluster.running(
        directory,
        control_plane,
        binaries,
        image_store=directory / "images",
        config_reloader_image=mirror.config_reloader_image(),
    ) as started:
        yield started


def api(cluster: LocalCluster) -> Any:
    from mlops_platform.tools.cluster_prereqs import api_client

    return api_client(str(cluster.kubeconfig))


def run_pod(cluster: LocalCluster, namespace: str, name: str, script: str, **spec: Any) -> str:
    """Run a busybox pod to completion; return its log (fails the test unless it Succeeded)."""
    from kubernetes import client

    core = client.CoreV1Api(api(cluster))
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": images.BUSYBOX,
                    "imagePullPolicy": "Never",
                    "command": ["/bin/sh", "-c", script],
                    **spec.pop("container", {}),
                }
            ],
            **spec,
        },
    }
    core.create_namespaced_pod(namespace, body)
    deadline = time.monotonic() + POD_TIMEOUT_S
    phase = ""
    while time.monotonic() < deadline:
        phase = core.read_namespaced_pod(name, namespace).status.phase
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(0.5)
    log = core.read_namespaced_pod_log(name, namespace)
    assert phase == "Succeeded", f"pod {namespace}/{name} ended {phase!r}: {log}"
    return str(log)


def ensure_namespace(cluster: LocalCluster, name: str) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api(cluster))
    with contextlib.suppress(ApiException):
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def host_state() -> dict[str, list[str]]:
    """What a node could leave behind on the machine: namespaces, links, routes, mounts, cgroups,
    iptables rules, processes and the fixed directories the kubelet, containerd and CNI use."""

    def lines(command: list[str]) -> list[str]:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return sorted(line for line in done.stdout.splitlines() if line.strip() and not line.startswith("#"))

    mounts = sorted(
        line.split()[4] for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    )
    # Only what a node makes: the other worker's tests run containers (tests/images: cgroups named
    # mlops-image-test-*) and control planes (etcd, kube-apiserver on the host's network) meanwhile.
    cgroups = sorted(
        str(p)
        for p in Path("/sys/fs/cgroup").glob("*/*")
        if p.is_dir() and (NODE_NAME.fullmatch(p.name) or p.name.startswith("kube"))
    )
    names = ("kubelet", "containerd", "containerd-shim", "kube-proxy", "kube-scheduler", "coredns", "etcd")
    host_net = os.readlink("/proc/self/ns/net")
    processes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:  # a node's processes run in its network namespace, never the host's
            comm = (entry / "comm").read_text(encoding="utf-8").strip()
            net = os.readlink(entry / "ns" / "net")
        except OSError:
            continue
        if net != host_net and (
            comm.startswith(names) or comm in ("operator", "local-path-prov", "kube-apiserver")
        ):
            processes.append(comm)
    processes.sort()
    fixed = [
        p
        for p in ("/run/netns", "/var/lib/kubelet", "/var/lib/cni", "/var/log/pods", "/tmp/hostpath_pv")
        if Path(p).exists()
    ]
    return {
        "netns": lines(["ip", "netns", "list"]),
        "links": [re.sub(r"^\d+: ", "", line).split("@")[0] for line in lines(["ip", "-o", "link", "show"])],
        "routes": lines(["ip", "route"]),
        "mounts": mounts,
        "cgroups": cgroups,
        "iptables": [line for line in lines(["iptables-save"]) if not line.startswith(":") or "KUBE" in line],
        "processes": processes,
        "fixed directories": fixed,
    }
