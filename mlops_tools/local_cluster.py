"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

For tests and for trying ``mlops up`` without a cluster: the binaries come from the toolchain
(``mlops toolchain install``), every file lives in one fresh directory, the servers listen on free
loopback ports, and exactly the processes started here are stopped, even when the caller fails.
There are no nodes and no scheduler: Deployments get their ReplicaSets and Pods (the controller
manager runs) but no Pod ever runs, so stacks applied here set ``environment.await_readiness:
false``. The controllers also clear the namespace and PVC finalizers, so ``destroy`` completes.

People can run one by hand: ``python -m mlops_platform.tools.local_cluster DIR`` starts it, prints the
``KUBECONFIG`` export and waits for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mlops_platform.tools.node.sandbox import Sandbox

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
TOKEN = "mlops-local-cluster-admin"  # a loopback-only test cluster's admin token, not a secret
# The controller manager's own identity, as on a real cluster (the admission policies tell a
# controller's writes from anyone else's by it); in system:masters, as it runs every controller.
CONTROLLER_MANAGER_TOKEN = "mlops-local-cluster-controller-manager"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"


class ClusterError(RuntimeError):
    """The control plane could not be started."""


@dataclass(frozen=True, slots=True)
class ControlPlaneBinaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path


@dataclass(slots=True)
class LocalCluster:
    """A started control plane."""

    directory: Path
    server: str
    kubeconfig: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started_s: float = 0.0  # seconds from the first process start to /readyz
    sandbox: Sandbox | None = None
    """The node's namespaces and cgroups, when the cluster has a node (``mlops_platform.tools.node``)."""
    registry: str | None = None
    """``host:port`` of the node's image registry (push there; pods pull it as ``mlops.local:5000``)."""

    def env(self) -> dict[str, str]:
        """Environment that points the kubernetes provider (and kubectl) at this cluster."""
        return {"KUBECONFIG": str(self.kubeconfig)}

    def stop(self) -> None:
        """Stop every process started for this cluster, newest first; kill what does not stop.

        With a node, the sandbox ends every process in its cgroups and removes its namespaces.
        """
        if self.sandbox is not None:
            self.sandbox.stop()
            self.processes.clear()
            # What the node wrote on disk (containerd's images and snapshots, configs, etcd's data);
            # the logs, the kubeconfig and the keys stay for the caller.
            for state in ("node", "etcd"):
                shutil.rmtree(self.directory / state, ignore_errors=True)
            return
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*commands: list[str]) -> None:
    """Run each ``openssl`` command in turn; ClusterError with its message when one fails."""
    for command in commands:
        done = subprocess.run(["openssl", *command], capture_output=True, check=False)
        if done.returncode != 0:
            raise ClusterError(f"openssl {' '.join(command)}: {done.stderr.decode(errors='replace').strip()}")


def _service_account_keys(directory: Path) -> tuple[Path, Path]:
    """An RSA key pair that signs and verifies service account tokens."""
    private, public = directory / "sa.key", directory / "sa.pub"
    _openssl(
        ["genrsa", "-out", str(private), "2048"],
        ["rsa", "-in", str(private), "-pubout", "-out", str(public)],
    )
    return private, public


FRONT_PROXY_CLIENT = "front-proxy-client"


def front_proxy_ca(directory: Path) -> Path:
    """The cluster's front-proxy CA (with a node): what extension API servers trust the API server by."""
    return directory / "front-proxy-ca.crt"


def _front_proxy_certificates(directory: Path) -> list[str]:
    """The aggregation layer's flags: a CA and the client certificate the API server proxies with.

    Extension API servers (metrics-server's ``metrics.k8s.io``) trust the user the API server names
    in ``X-Remote-User`` only from a client certificate of this CA (the API server publishes it in
    ``kube-system/extension-apiserver-authentication``), as kubeadm's front-proxy CA does.
    """
    ca, ca_key = front_proxy_ca(directory), directory / "front-proxy-ca.key"
    key, csr, cert = (directory / f"front-proxy.{suffix}" for suffix in ("key", "csr", "crt"))
    _openssl(
        ["genrsa", "-out", str(ca_key), "2048"],
        [
            "req",
            "-x509",
            "-new",
            "-key",
            str(ca_key),
            "-subj",
            "/CN=front-proxy-ca",
            "-days",
            "7",
            "-out",
            str(ca),
        ],
        ["genrsa", "-out", str(key), "2048"],
        ["req", "-new", "-key", str(key), "-subj", f"/CN={FRONT_PROXY_CLIENT}", "-out", str(csr)],
        [
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-days",
            "7",
            "-out",
            str(cert),
        ],
    )
    return [
        f"--requestheader-client-ca-file={ca}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={cert}",
        f"--proxy-client-key-file={key}",
        # Proxy to the extension server's endpoint address, not its Service's virtual IP: the API
        # server runs as a node process, where kube-proxy's rules for Service IPs may come later.
        "--enable-aggregator-routing=true",
    ]


def _kubeconfig(path: Path, server: str, *, user: str = "admin", token: str = TOKEN) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)


def _ready(server: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the API server's own self-signed serving certificate
    request = urllib.request.Request(f"{server}/readyz", headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def spawn(cluster: LocalCluster, name: str, command: list[str]) -> subprocess.Popen[bytes]:
    """Start one process of the cluster (inside the node's namespaces when it has a node)."""
    log_path = cluster.directory / f"{name}.log"
    if cluster.sandbox is not None:
        process = cluster.sandbox.spawn(name, command, log_path)
    else:
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cluster.processes.append(process)
    return process


def fail(cluster: LocalCluster, name: str, why: str) -> ClusterError:
    log = cluster.directory / f"{name}.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
    return ClusterError(f"{name} {why}; last lines of {log}:\n{tail}")


def start(
    directory: Path,
    binaries: ControlPlaneBinaries,
    *,
    timeout_s: float = READY_TIMEOUT_S,
    sandbox: Sandbox | None = None,
    controllers: bool = True,
    allow_privileged: bool = False,
) -> LocalCluster:
    """Start etcd, the API server and the controller manager in ``directory``; wait for ``/readyz``.

    The caller owns the result and must ``stop()`` it (or use :func:`running`).

    Args:
        directory: Where every file of the cluster goes.
        binaries: The control plane's binaries.
        timeout_s: How long the API server may take to be ready.
        sandbox: The node's namespaces: the control plane runs inside them, on the node's address
            (reachable from the host through its veth pair), so that Services reach the API server.
        controllers: Start the controller manager too (False: etcd and the API server only, as the
            admission tests need: ValidatingAdmissionPolicies are evaluated in the API server).
        allow_privileged: Admit privileged containers, as kubeadm's and most managed clusters' API
            servers do (``--allow-privileged`` defaults to false, refusing them before any policy).

    Raises:
        ClusterError: a process exited or the server was not ready within ``timeout_s``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if sandbox is None:
        address, (etcd_port, peer_port, api_port) = "127.0.0.1", (_free_port(), _free_port(), _free_port())
    else:  # the node's network namespace has every port to itself
        address, (etcd_port, peer_port, api_port) = sandbox.node_address, (2379, 2380, 6443)
    server = f"https://{address}:{api_port}"
    cluster = LocalCluster(directory, server, directory / "kubeconfig", sandbox=sandbox)
    t0 = time.monotonic()
    try:
        private, public = _service_account_keys(directory)
        aggregation = [] if sandbox is None else _front_proxy_certificates(directory)
        tokens = directory / "tokens.csv"
        tokens.write_text(
            f'{TOKEN},admin,admin,"system:masters"\n'
            f'{CONTROLLER_MANAGER_TOKEN},{CONTROLLER_MANAGER_USER},controller-manager,"system:masters"\n',
            encoding="utf-8",
        )
        tokens.chmod(0o600)
        _kubeconfig(cluster.kubeconfig, server)
        manager_kubeconfig = directory / "controller-manager.kubeconfig"
        _kubeconfig(manager_kubeconfig, server, user=CONTROLLER_MANAGER_USER, token=CONTROLLER_MANAGER_TOKEN)
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = spawn(
            cluster,
            "etcd",
            [
                str(binaries.etcd),
                "--name=local",
                f"--data-dir={directory / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=local={peer_url}",
                "--log-level=warn",
            ],
        )
        certs = directory / "certs"
        apiserver = spawn(
            cluster,
            "kube-apiserver",
            [
                str(binaries.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={public}",
                f"--service-account-signing-key-file={private}",
                f"--cert-dir={certs}",
                f"--secure-port={api_port}",
                f"--bind-address={address}",
                f"--advertise-address={address}",
                # A loopback advertise address is refused by the lease reconciler; with a node, the
                # `kubernetes` Service's endpoint is the node's address, which pods reach.
                f"--endpoint-reconciler-type={'none' if sandbox is None else 'lease'}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.96.0.0/16",  # addresses handed to Services, never routed
                # Logs, exec and port-forward reach the kubelet at the node's address (its name
                # resolves nowhere: no DNS outside the node).
                "--kubelet-preferred-address-types=InternalIP",
                *(["--allow-privileged=true"] if allow_privileged else []),
                *aggregation,
            ],
        )
        deadline = t0 + timeout_s
        while not _ready(server):
            for name, process in (("etcd", etcd), ("kube-apiserver", apiserver)):
                if process.poll() is not None:
                    raise fail(cluster, name, f"exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise fail(cluster, "kube-apiserver", f"was not ready within {timeout_s:.0f} s")
            time.sleep(0.25)
        if not controllers:
            cluster.started_s = time.monotonic() - t0
            return cluster
        manager = spawn(
            cluster,
            "kube-controller-manager",
            [
                str(binaries.kube_controller_manager),
                f"--kubeconfig={manager_kubeconfig}",
                f"--service-account-private-key-file={private}",
                f"--root-ca-file={certs / 'apiserver.crt'}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",  # no serving port: nothing here scrapes it
                "--use-service-account-credentials=false",
            ],
        )
        time.sleep(0.5)
        if manager.poll() is not None:
            raise fail(cluster, "kube-controller-manager", f"exited with {manager.returncode}")
        cluster.started_s = time.monotonic() - t0
        return cluster
    except BaseException:
        cluster.stop()
        raise


@contextlib.contextmanager
def running(
    directory: Path,
    binaries: ControlPlaneBinaries,
    *,
    controllers: bool = True,
    allow_privileged: bool = False,
) -> Iterator[LocalCluster]:
    """:func:`start`, then stop it however the block ends."""
    cluster = start(directory, binaries, controllers=controllers, allow_privileged=allow_privileged)
    try:
        yield cluster
    finally:
        cluster.stop()


def toolchain_binaries() -> ControlPlaneBinaries | None:
    """The control plane binaries of the installed toolchain, or None when they are not built."""
    from mlops_platform.tools.toolchain import installed

    built = installed(["kube-apiserver", "etcd"])
    if built is None or None in (built.kube_apiserver, built.kube_controller_manager, built.etcd):
        return None
    assert built.kube_apiserver and built.kube_controller_manager and built.etcd
    return ControlPlaneBinaries(built.etcd, built.kube_apiserver, built.kube_controller_manager)


def main(argv: list[str]) -> int:  # pragma: no cover - an interactive helper for people
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m mlops_platform.tools.local_cluster",
        description="Start a local Kubernetes cluster in DIR and keep it until Ctrl-C.",
    )
    parser.add_argument("directory", type=Path, help="where the cluster's files and logs go")
    parser.add_argument(
        "--node",
        action="store_true",
        help="also run a node (kubelet, containerd, CNI, kube-proxy, CoreDNS, volumes): pods run (root)",
    )
    parser.add_argument(
        "--platform",
        action="store_true",
        help=(
            "with --node: build the platform's images (cached), serve them from the node's registry, "
            "write a project for the node in DIR/project (stack `local`), print each endpoint once ready"
        ),
    )
    args = parser.parse_args(argv)
    if args.platform and not args.node:
        print("--platform needs --node (pods must run)", file=sys.stderr)
        return 2
    binaries = toolchain_binaries()
    if binaries is None:
        print("the control plane is not built: run `mlops toolchain install`", file=sys.stderr)
        return 2
    directory = args.directory.resolve()
    try:
        if args.node:
            from mlops_platform.tools.node import cluster as node_cluster
            from mlops_platform.tools.node import mirror

            node = node_cluster.toolchain_node_binaries()
            if node is None:
                print("the node is not built: run `mlops toolchain install`", file=sys.stderr)
                return 2
            extra = {}
            if args.platform:
                extra = {
                    "image_store": directory / "images",
                    "config_reloader_image": mirror.config_reloader_image(),
                }
            started = node_cluster.running(directory, binaries, node, **extra)
        else:
            started = running(directory, binaries)
        with started as cluster:
            print(f"ready in {cluster.started_s:.1f} s: export KUBECONFIG={cluster.kubeconfig}", flush=True)
            if args.platform:
                from mlops_platform.tools.node import tryout

                return tryout.serve(cluster, directory)
            else:
                with contextlib.suppress(KeyboardInterrupt):
                    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except ClusterError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    # Run as `python -m`, this file is `__main__`: a second copy of the module beside the
    # `mlops_platform.tools.local_cluster` that the node's code imports, whose ClusterError is another
    # class, which this copy's `except` would not catch. Run the one module's main.
    from mlops_platform.tools.local_cluster import main as _main

    sys.exit(_main(sys.argv[1:]))
