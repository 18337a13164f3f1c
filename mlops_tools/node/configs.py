"""The node's configuration files, as pure functions of known values.

Each setting that differs from the upstream default says why: most come from what this machine
allows (cgroup v1, no CAP_SYS_RESOURCE, no filesystem statistics for the root device) and from the
rule that nothing of the node may reach past the namespaces it runs in.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

NODE_NAME = "mlops-node"
CLUSTER_DOMAIN = "cluster.local"
DNS_SERVICE_IP = "10.96.0.10"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"  # /run is the node's private tmpfs
PAUSE_IMAGE = "mlops.local/pause:1"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
CNI_NETWORK = "mlops"


def containerd_config(root: Path, registry_hosts_dir: Path) -> str:
    """containerd 1.6's config (version 2): CRI with runc on cgroupfs, CNI bridge, local registries.

    Args:
        root: containerd's persistent root (images and snapshots), in the cluster's directory.
        registry_hosts_dir: ``hosts.toml`` per registry host (``config_path``): where the local
            registry mirror is declared.
    """
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f'root = "{root}"',
            'state = "/run/containerd"',
            "disabled_plugins = ["
            + ", ".join(
                f'"io.containerd.snapshotter.v1.{name}"' for name in ("aufs", "btrfs", "devmapper", "zfs")
            )
            + "]",
            "[grpc]",
            f'  address = "{CONTAINERD_SOCKET}"',
            f"[{cri}]",
            f'  sandbox_image = "{PAUSE_IMAGE}"',
            # No CAP_SYS_RESOURCE on this VM: runc's init may not lower oom_score_adj below its
            # own (containerd gives sandboxes -998), so keep each container's at least ours.
            "  restrict_oom_score_adj = true",
            "  disable_apparmor = true",
            f"[{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"[{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{cri}.containerd.runtimes.runc.options]",
            "  SystemdCgroup = false",
            f"[{cri}.cni]",
            '  bin_dir = "/usr/lib/cni"',
            f'  conf_dir = "{root.parent / "cni"}"',
            f"[{cri}.registry]",
            f'  config_path = "{registry_hosts_dir}"',
            "",
        ]
    )


def registry_hosts(registry: str) -> str:
    """``hosts.toml`` sending pulls to a plain-HTTP registry on the node's own address (never leaves
    the node); written in the directory of the name pods use (``mirror.MIRROR``)."""
    return (
        f'server = "http://{registry}"\n\n[host."http://{registry}"]\n  capabilities = ["pull", "resolve"]\n'
    )


def cni_config(ipam_dir: Path, pod_cidr: str) -> str:
    """The pod network: a bridge with host-local addresses, no masquerading, hairpin for Services."""
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": CNI_NETWORK,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": True,
                    "ipMasq": False,  # pods never talk past the node: nothing to masquerade
                    "hairpinMode": True,  # a pod reaching itself through its Service
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(ipam_dir),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def kubelet_config(node_address: str, cgroup_root: str, resolv_conf: Path) -> str:
    """KubeletConfiguration for one node on cgroup v1 in a private network namespace."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,  # cgroup v1 is all this VM has
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,  # the node's own subtree, removed whole on stop
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "address": node_address,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        # The node listens only inside its own network namespace; the API server reaches it there.
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [DNS_SERVICE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(resolv_conf),
        "failSwapOn": False,
        "protectKernelDefaults": False,
        # cAdvisor cannot read filesystem stats of this VM's root device: with thresholds, the
        # eviction manager would judge on missing stats. Nothing is evicted for disk or memory here.
        "evictionHard": {
            "memory.available": "0%",
            "nodefs.available": "0%",
            "nodefs.inodesFree": "0%",
            "imagefs.available": "0%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "localStorageCapacityIsolation": False,  # needs the filesystem stats cAdvisor cannot read
        "serializeImagePulls": False,
        "syncFrequency": "10s",
        "nodeStatusReportFrequency": "10s",
        "volumeStatsAggPeriod": "0s",
    }
    return yaml.safe_dump(config, sort_keys=False)


def kube_proxy_config(node_address: str, kubeconfig: Path, pod_cidr: str) -> str:
    """KubeProxyConfiguration: iptables mode inside the node's namespace; machine-wide sysctls untouched."""
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "bindAddress": node_address,
        "clusterCIDR": pod_cidr,
        "mode": "iptables",
        "metricsBindAddress": "127.0.0.1:10249",
        "healthzBindAddress": "127.0.0.1:10256",
        # nf_conntrack_max is one table for the whole machine: leave it (and the timeouts) alone.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def corefile(node_address: str, kubeconfig: Path) -> str:
    """CoreDNS answers the cluster's names only; it forwards nothing, so no query leaves the node."""
    return (
        f"{CLUSTER_DOMAIN}:53 in-addr.arpa:53 {{\n"
        f"    bind {node_address}\n"
        "    errors\n"
        f"    kubernetes {CLUSTER_DOMAIN} in-addr.arpa {{\n"
        f"        kubeconfig {kubeconfig} local\n"
        "        pods insecure\n"
        "    }\n"
        "    cache 5\n"
        "}\n"
    )


def resolv_conf() -> str:
    """The node's resolv.conf for pods: no upstream nameserver (ClusterFirst pods get CoreDNS)."""
    return "options ndots:5\n"


def bootstrap_objects(node_address: str) -> list[dict[str, object]]:
    """What a cluster's add-ons would install: cluster DNS's Service and the default StorageClass."""
    dns_labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": dns_labels},
            "spec": {
                "clusterIP": DNS_SERVICE_IP,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
            },
        },
        {
            # CoreDNS runs as a node process, not a pod: its endpoint is the node's address.
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kube-dns-node",
                "namespace": "kube-system",
                "labels": {"kubernetes.io/service-name": "kube-dns"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [node_address], "conditions": {"ready": True}}],
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            ],
        },
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "local-path",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            # Rancher's local-path-provisioner: a directory per claim on the node's private tmpfs.
            "provisioner": LOCAL_PATH_PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
    ]


METRICS_SERVER_PORT = 4443
METRICS_API = "v1beta1.metrics.k8s.io"


def metrics_server_objects(node_address: str) -> list[dict[str, object]]:
    """The resource metrics API (``metrics.k8s.io``, what HorizontalPodAutoscalers read), served by
    metrics-server as a node process: its Service, the endpoint on the node's address, its APIService."""
    labels = {"k8s-app": "metrics-server"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": labels},
            "spec": {
                "ports": [
                    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": METRICS_SERVER_PORT}
                ]
            },
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "metrics-server-node",
                "namespace": "kube-system",
                "labels": {**labels, "kubernetes.io/service-name": "metrics-server"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [node_address], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": METRICS_SERVER_PORT, "protocol": "TCP"}],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": METRICS_API, "labels": labels},
            "spec": {
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
                # metrics-server serves a certificate it signs itself, as upstream's manifest deploys it.
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]
