"""A node starts, runs a pod with a volume, a Service and DNS, and stopping it leaves the machine as it was.

This file starts and stops a node of its own (before the session's ``node`` fixture exists: both run in
the ``node`` xdist group, in file order), so its stop can be checked against the machine's state before.
"""

from __future__ import annotations

import time

import pytest

from mlops_platform.tools.node import cluster as node_cluster

from .conftest import ensure_namespace, host_state, node_parts, run_pod

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("node")]


def test_stopping_a_node_that_ran_pods_leaves_nothing_behind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    control_plane, binaries = node_parts()
    before = host_state()
    lines: list[str] = []
    cluster = node_cluster.start(tmp_path / "cluster", control_plane, binaries, progress=lines.append)
    try:
        during = host_state()
        assert during["netns"] != before["netns"], "the node runs in a network namespace of its own"
        ensure_namespace(cluster, "lifecycle")
        # A pod whose PID 1 ignores SIGTERM, still running when the node stops.
        run_pod(cluster, "lifecycle", "probe", "echo ran")
        from kubernetes import client

        from .conftest import api

        client.CoreV1Api(api(cluster)).create_namespaced_pod(
            "lifecycle",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "stubborn"},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "mlops.local/busybox:1",
                            "imagePullPolicy": "Never",
                            "command": ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"],
                        }
                    ]
                },
            },
        )
        core = client.CoreV1Api(api(cluster))
        deadline = time.monotonic() + 60
        while core.read_namespaced_pod("stubborn", "lifecycle").status.phase != "Running":
            assert time.monotonic() < deadline, "the stubborn pod did not start"
            time.sleep(0.5)
    finally:
        cluster.stop()
    after = host_state()
    for key in before:
        assert after[key] == before[key], (
            f"{key} differ after stop:\n before {before[key]}\n after  {after[key]}"
        )
    assert [line.split(" ... ")[0] for line in lines][-1] == "node: node mlops-node Ready"
    assert all(" ... " in line and line.endswith(" s") for line in lines), lines
    kept = sorted(p.name for p in (tmp_path / "cluster").iterdir())
    assert "node" not in kept and "etcd" not in kept, kept  # containerd's root, configs, etcd's data
    assert {"kubelet.log", "containerd.log", "kube-apiserver.log"} <= set(kept), kept
