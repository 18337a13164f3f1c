"""A local Kubernetes cluster with a node: the control plane plus everything that runs pods.

Started in this order, each step printed with its time: the node's namespaces (``sandbox``), etcd,
kube-apiserver and kube-controller-manager inside them, containerd (Debian's, with runc and the CNI
bridge), the node's own images (``pause`` and ``busybox``, imported into containerd), kube-scheduler,
the kubelet, kube-proxy (iptables inside the node's namespace), CoreDNS (``*.svc.cluster.local``),
the cluster's add-on objects (DNS Service, default StorageClass, the operators' CRDs), the volume
provisioner (Rancher's local-path-provisioner), the Prometheus Operator and metrics-server (the resource
metrics API, so HorizontalPodAutoscalers scale); then it waits for the node to be Ready. Every wait is
bounded. ``LocalCluster.stop()`` ends every process and removes every namespace, cgroup, mount and
interface the start made (see ``sandbox``).

NetworkPolicies are **not enforced**: the CNI bridge plugin implements none, and no enforcing one
runs here. SIG Network's kube-network-policies (v0.8.0 is served) queues packets with nftables'
``queue`` statement, which this machine's kernel lacks (``CONFIG_NFT_QUEUE`` is not set: ``nft add
rule ... queue num 100`` fails "No such file or directory"); the only kube-router the module proxy
serves (v2.1.0) is one with reported security flaws; Calico lists no version; Cilium (v1.20.2 is
served) is an agent and an operator that compile their eBPF datapath with clang at run time, not
attempted. The platform's policies are accepted by the API server and inert on this node.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_platform.tools import local_cluster as lc
from mlops_platform.tools.node import configs, images, mirror
from mlops_platform.tools.node.sandbox import POD_CIDR, Sandbox, SandboxError

Progress = Callable[[str], None]
NODE_READY_TIMEOUT_S = 120.0
SOCKET_TIMEOUT_S = 30.0
LOCAL_PATH_DIR = "/tmp/hostpath_pv"  # a private tmpfs of the node (sandbox.PRIVATE_MOUNTS)


@dataclass(frozen=True, slots=True)
class NodeBinaries:
    """What the node runs besides the control plane (from the toolchain and Debian's packages)."""

    kubelet: Path
    kube_scheduler: Path
    kube_proxy: Path
    coredns: Path
    metrics_server: Path
    local_path_provisioner: Path
    prometheus_operator: Path
    containerd: Path = Path("/usr/bin/containerd")
    ctr: Path = Path("/usr/bin/ctr")


def toolchain_node_binaries() -> NodeBinaries | None:
    """The node's binaries from the installed toolchain, or None when any is not built."""
    from mlops_platform.tools.toolchain import installed

    built = installed(
        ["kube-node", "metrics-server", "coredns", "local-path-provisioner", "prometheus-operator"]
    )
    if built is None:
        return None
    b = built.binaries
    return NodeBinaries(
        kubelet=b["kubelet"],
        kube_scheduler=b["kube-scheduler"],
        kube_proxy=b["kube-proxy"],
        coredns=b["coredns"],
        metrics_server=b["metrics-server"],
        local_path_provisioner=b["local-path-provisioner"],
        prometheus_operator=b["operator"],
    )


def _step(progress: Progress, what: str, started: float) -> None:
    progress(f"node: {what} ... {time.monotonic() - started:.1f} s")


def _wait(what: str, ready: Callable[[], bool], timeout_s: float, cluster: lc.LocalCluster, log: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        for name, process in cluster.sandbox.processes if cluster.sandbox else []:
            if process.poll() is not None:
                raise lc.fail(cluster, name, f"exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise lc.fail(cluster, log, f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.5)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _apply(api: Any, documents: list[dict[str, Any]]) -> None:
    from kubernetes.dynamic import DynamicClient

    client = DynamicClient(api)
    for doc in documents:
        resource = client.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        namespace = doc["metadata"].get("namespace")
        resource.server_side_apply(
            body=doc, namespace=namespace, field_manager="mlops-local-cluster", force_conflicts=True
        )


def _node_ready(api: Any) -> bool:
    from kubernetes import client

    try:
        node = client.CoreV1Api(api).read_node(configs.NODE_NAME)
    except Exception:  # not registered yet (404) or the server is still settling
        return False
    conditions = (node.status.conditions if node.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _local_path_files(directory: Path) -> tuple[Path, Path]:
    """The provisioner's config directory (config.json, setup, teardown) and its helper pod file."""
    config = {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [LOCAL_PATH_DIR]}]}
    _write(directory / "config.json", json.dumps(config))
    # World-writable directories, as upstream's default setup: pods run as their own non-root uid
    # and hostPath volumes get no fsGroup ownership change.
    _write(directory / "setup", '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n')
    _write(directory / "teardown", '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n')
    helper = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helper-pod"},
        "spec": {
            "containers": [
                {
                    "name": "helper-pod",
                    "image": images.BUSYBOX,
                    "imagePullPolicy": "Never",
                    # It makes and removes the volumes' directories on the node (upstream's busybox
                    # runs as root; ours defaults to nobody).
                    "securityContext": {"runAsUser": 0},
                }
            ],
        },
    }
    return directory, _write(directory / "helperPod.yaml", yaml.safe_dump(helper))


def start(
    directory: Path,
    control_plane: lc.ControlPlaneBinaries,
    node: NodeBinaries,
    *,
    crds: list[Path] | None = None,
    config_reloader_image: str | None = None,
    image_store: Path | None = None,
    progress: Progress = print,
) -> lc.LocalCluster:
    """Start a cluster with one node in ``directory``; the caller must ``stop()`` it.

    Args:
        directory: Every file of the cluster (logs, configs, containerd's root) goes here.
        control_plane: etcd, kube-apiserver, kube-controller-manager.
        node: The node's binaries.
        crds: CRD files applied before the operators start (default: the toolchain's).
        config_reloader_image: The Prometheus Operator's ``--prometheus-config-reloader`` image.
        image_store: Where a local image registry keeps its blobs, if the node should have one:
            Debian's ``docker-registry`` then runs inside the node on ``<node address>:5000`` and
            containerd pulls ``mlops.local:5000/...`` references from it (``mirror.MIRROR``), the
            way an air-gapped organisation mirrors images; push there with ``mirror.publish``.
        progress: Receives one line per step with the time since the start.

    Raises:
        lc.ClusterError: A step failed or timed out (the message carries the log's last lines).
    """
    from mlops_platform.tools.cluster_prereqs import api_client, crd_only_files, install_crds, read_crds

    t0 = time.monotonic()
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        sandbox = Sandbox.make()
    except SandboxError as exc:
        raise lc.ClusterError(f"the node's namespaces: {exc}") from None
    _step(progress, f"namespaces {sandbox.name}, node address {sandbox.node_address}", t0)
    cluster: lc.LocalCluster | None = None
    try:
        cluster = lc.start(directory, control_plane, sandbox=sandbox)
        _step(progress, f"control plane ready at {cluster.server}", t0)
        node_dir = directory / "node"
        root = node_dir / "containerd"
        hosts_dir = node_dir / "certs.d"
        hosts_dir.mkdir(parents=True, exist_ok=True)
        if image_store is not None:
            cluster.registry = _start_registry(cluster, sandbox, node_dir, image_store)
            _write(hosts_dir / mirror.MIRROR / "hosts.toml", configs.registry_hosts(cluster.registry))
            _step(progress, f"image registry on {cluster.registry} (pulled as {mirror.MIRROR})", t0)
        _write(node_dir / "cni" / "10-mlops.conflist", configs.cni_config(node_dir / "ipam", POD_CIDR))
        config = _write(node_dir / "containerd.toml", configs.containerd_config(root, hosts_dir))
        lc.spawn(cluster, "containerd", [str(node.containerd), f"--config={config}"])
        ctr = [str(node.ctr), f"--address={configs.CONTAINERD_SOCKET}", "--namespace=k8s.io"]
        _wait(
            "containerd's socket",
            lambda: sandbox.run([*ctr, "version"]).returncode == 0,
            SOCKET_TIMEOUT_S,
            cluster,
            "containerd",
        )
        _step(progress, "containerd ready", t0)
        for archive, name in images.node_images(progress):
            done = sandbox.run([*ctr, "images", "import", f"--base-name={name}", str(archive)], timeout_s=120)
            if done.returncode != 0:
                raise lc.ClusterError(f"ctr images import {archive}: {done.stderr.strip()}")
        _step(progress, "node images imported (pause, busybox)", t0)

        kubeconfig = cluster.kubeconfig
        lc.spawn(
            cluster,
            "kube-scheduler",
            [
                str(node.kube_scheduler),
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
            ],
        )
        resolv = _write(node_dir / "resolv.conf", configs.resolv_conf())
        kubelet_config = _write(
            node_dir / "kubelet.yaml",
            configs.kubelet_config(sandbox.node_address, sandbox.cgroup_root, resolv),
        )
        lc.spawn(
            cluster,
            "kubelet",
            [
                str(node.kubelet),
                f"--config={kubelet_config}",
                f"--kubeconfig={kubeconfig}",
                f"--hostname-override={configs.NODE_NAME}",
                f"--node-ip={sandbox.node_address}",
                f"--cert-dir={node_dir / 'kubelet-pki'}",
            ],
        )
        proxy_config = _write(
            node_dir / "kube-proxy.yaml",
            configs.kube_proxy_config(sandbox.node_address, kubeconfig, POD_CIDR),
        )
        lc.spawn(cluster, "kube-proxy", [str(node.kube_proxy), f"--config={proxy_config}"])
        corefile = _write(node_dir / "Corefile", configs.corefile(sandbox.node_address, kubeconfig))
        lc.spawn(cluster, "coredns", [str(node.coredns), "-conf", str(corefile)])
        _step(progress, "kube-scheduler, kubelet, kube-proxy, CoreDNS started", t0)

        api = api_client(str(kubeconfig))
        _apply(api, configs.bootstrap_objects(sandbox.node_address))
        if crds is None:
            from mlops_platform.tools.toolchain import crd_files

            crds = [path for paths in crd_files().values() for path in paths]
        installed = install_crds(api, read_crds(crd_only_files(crds)))
        _step(progress, f"add-ons applied (DNS Service, StorageClass, {len(installed)} CRDs)", t0)

        lp_dir, helper = _local_path_files(node_dir / "local-path")
        # The helper pods mount the setup and teardown scripts from this ConfigMap (upstream's
        # deployment ships it alongside the provisioner).
        _apply(api, [_local_path_configmap(lp_dir)])
        lc.spawn(
            cluster,
            "local-path-provisioner",
            [
                "env",
                f"CONFIG_MOUNT_PATH={lp_dir}",
                str(node.local_path_provisioner),
                "start",
                f"--kubeconfig={kubeconfig}",
                f"--config={lp_dir / 'config.json'}",
                f"--helper-pod-file={helper}",
                "--namespace=kube-system",
                "--service-account-name=default",
                f"--helper-image={images.BUSYBOX}",
                f"--provisioner-name={configs.LOCAL_PATH_PROVISIONER}",
                "--configmap-name=local-path-config",
            ],
        )
        operator = [
            "env",
            f"KUBECONFIG={kubeconfig}",  # the operator has no --kubeconfig flag
            str(node.prometheus_operator),
            "--web.listen-address=127.0.0.1:8080",
            "--kubelet-service=",
        ]
        if config_reloader_image is not None:
            operator.append(f"--prometheus-config-reloader={config_reloader_image}")
        lc.spawn(cluster, "prometheus-operator", operator)
        lc.spawn(
            cluster,
            "metrics-server",
            [
                str(node.metrics_server),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                # The API server's proxied requests, trusted by the front-proxy CA given here (this API
                # server authenticates no client certificate of its own for the ConfigMap to name).
                "--authentication-skip-lookup",
                f"--requestheader-client-ca-file={lc.front_proxy_ca(cluster.directory)}",
                f"--requestheader-allowed-names={lc.FRONT_PROXY_CLIENT}",
                f"--bind-address={sandbox.node_address}",
                f"--secure-port={configs.METRICS_SERVER_PORT}",
                f"--cert-dir={node_dir / 'metrics-server'}",
                # The kubelet serves a certificate it signed itself, on the node's address.
                "--kubelet-insecure-tls",
                "--kubelet-preferred-address-types=InternalIP",
                "--metric-resolution=15s",
            ],
        )
        _apply(api, configs.metrics_server_objects(sandbox.node_address))
        _wait("node Ready", lambda: _node_ready(api), NODE_READY_TIMEOUT_S, cluster, "kubelet")
        for name, process in sandbox.processes:  # one that exited at once (a bad flag) fails the start
            if process.poll() is not None:
                raise lc.fail(cluster, name, f"exited with {process.returncode}")
        cluster.started_s = time.monotonic() - t0
        _step(progress, f"node {configs.NODE_NAME} Ready", t0)
        return cluster
    except BaseException:
        if cluster is not None:
            cluster.stop()
        sandbox.stop()
        raise


def _local_path_configmap(directory: Path) -> dict[str, Any]:
    files = ("config.json", "setup", "teardown", "helperPod.yaml")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "local-path-config", "namespace": "kube-system"},
        "data": {name: (directory / name).read_text(encoding="utf-8") for name in files},
    }


def _start_registry(cluster: lc.LocalCluster, sandbox: Sandbox, node_dir: Path, store: Path) -> str:
    """Debian's docker-registry inside the node on ``<node address>:5000``; returns that address."""
    from mlops_platform.tools.images.registry import registry_config

    binary = shutil.which("docker-registry")
    if binary is None:
        raise lc.ClusterError("docker-registry is not installed (apt-get install docker-registry)")
    address = f"{sandbox.node_address}:{mirror.REGISTRY_PORT}"
    store.mkdir(parents=True, exist_ok=True)
    config = _write(node_dir / "registry.yml", json.dumps(registry_config(address, store.resolve())))
    lc.spawn(cluster, "image-registry", [binary, "serve", str(config)])
    _wait("the image registry", lambda: mirror.answers(address), SOCKET_TIMEOUT_S, cluster, "image-registry")
    return address


@contextlib.contextmanager
def running(
    directory: Path, control_plane: lc.ControlPlaneBinaries, node: NodeBinaries, **kwargs: Any
) -> Iterator[lc.LocalCluster]:
    """:func:`start`, stopped however the block ends."""
    cluster = start(directory, control_plane, node, **kwargs)
    try:
        yield cluster
    finally:
        cluster.stop()
