"""A node starts, runs a pod with a volume, a Service and DNS, and stopping it leaves the machine as it was.

This file starts and stops a node of its own (before the session's ``node`` fixture exists: both run in
the ``node`` xdist group, in file order), so its stop can be checked against the machine's state before.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_platform.tools.node import cluster as node_cluster
from mlops_platform.tools.node.sandbox import NAME, RECORDS, Sandbox, cgroup_hierarchies, holding_the_machine
from tests.cli_runner import alive as _alive

from .conftest import ensure_namespace, host_state, node_parts, run_pod

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("node")]


def test_stopping_a_node_that_ran_pods_leaves_nothing_behind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with holding_the_machine():  # no other node (the other worker's) comes or goes meanwhile
        _stopping_leaves_nothing_behind(tmp_path)


def _stopping_leaves_nothing_behind(tmp_path: Path) -> None:
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


# A node made by a process that is then SIGKILLed (a test run killed, a terminal lost): its
# namespaces, routes, cgroups and processes stay, and used to make every later node fail
# (`ip route add 10.96.0.0/16 ...: File exists`).
_KILLED_OWNER = """
import sys, time
from pathlib import Path
from mlops_platform.tools.node.sandbox import Sandbox
node = Sandbox.make(progress=lambda _: None)
sleeper = node.spawn("sleeper", ["sleep", "infinity"], Path(sys.argv[1]))
print(node.name, sleeper.pid, flush=True)
time.sleep(600)
"""


def _traces(name: str) -> dict[str, list[str]]:
    """What the node ``name`` has on the machine (another worker's node may come and go meanwhile)."""
    state = host_state()
    return {
        "netns": [line for line in state["netns"] if name in line],
        "links": [line for line in state["links"] if name in line],
        "routes": [line for line in state["routes"] if name in line],
        "cgroups": [str(h / name) for h in cgroup_hierarchies() if (h / name).exists()],
    }


def test_a_node_whose_owner_was_killed_is_reclaimed_by_the_next(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _KILLED_OWNER, str(tmp_path / "sleeper.log")],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert owner.stdout is not None
    name, sleeper = owner.stdout.readline().split()
    assert NAME.fullmatch(name) and (RECORDS / f"{name}.json").is_file()
    owner.kill()
    owner.wait(30)
    left = _traces(name)
    assert all(left.values()) and _alive(int(sleeper)), f"the killed node stays: {left}"

    lines: list[str] = []
    fresh = Sandbox.make(progress=lines.append)
    try:
        assert [line.split(" ... ")[0] for line in lines] == [
            f"node: reclaimed {name}, left by a node that did not stop"
        ]
        assert not any(_traces(name).values()), _traces(name)
        deadline = time.monotonic() + 10
        while _alive(int(sleeper)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(int(sleeper)), "the killed node's process was left running"
        assert not (RECORDS / f"{name}.json").exists()
        assert fresh.run(["true"]).returncode == 0
    finally:
        fresh.stop()
    assert not any(_traces(fresh.name).values()), _traces(fresh.name)


def test_a_node_whose_namespace_is_still_held_leaves_no_link_or_route(tmp_path: Path) -> None:
    """The kernel keeps a deleted network namespace while anything holds it (after a platform ran,
    its processes' orphaned TCP sockets do, for minutes); its veth pair and the host routes through it
    stayed with it, and the next node could not route the Service range. Here an open handle holds it."""
    node = Sandbox.make(progress=lambda _: None)
    handle = None
    try:
        handle = os.open(f"/run/netns/{node.name}", os.O_RDONLY)
        assert _traces(node.name)["links"] and _traces(node.name)["routes"]
    finally:
        node.stop()
    try:
        assert not any(_traces(node.name).values()), _traces(node.name)
    finally:
        if handle is not None:
            os.close(handle)
