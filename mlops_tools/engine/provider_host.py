"""The real kubernetes provider, answering the offline capture's provider calls over its gRPC interface.

Under mocks nothing answers a provider function or constructs a multi-language component, so a Helm
chart, a ``yaml.ConfigFile`` or a ``ConfigGroup`` registered nothing (or crashed the program). Here the
capture starts the toolchain's own ``pulumi-resource-kubernetes`` (``mlops toolchain install`` builds
it), as the engine starts a plugin: the engine's address as its argument, its port on the first line of
its standard output. Then:

- ``Invoke`` answers ``kubernetes:helm:template``, ``kubernetes:yaml:decodeYaml`` and the other
  functions of the package (the Python SDK's ``helm.v3.Chart`` and ``yaml.ConfigFile`` call them);
- ``Construct`` builds the package's components (``helm.sh/v4:Chart``, ``yaml/v2:ConfigFile``,
  ``yaml/v2:ConfigGroup``, ``kustomize/v2:Directory``): the provider registers each child with the
  monitor endpoint it is given, served here by :class:`MonitorServer` over the capture's monitor.

Helm's templating is the provider's embedded Helm library: nothing here renders a chart. The provider
runs with no cluster (an empty ``KUBECONFIG``, a private ``HOME``) and never contacts one. It runs in
its render mode (``renderYamlToDirectory``, a private directory): without it ``Construct`` refuses
("configured Kubernetes cluster is unreachable"); in it the provider templates and constructs as it
does for a user who renders manifests instead of deploying. Only ``Create`` writes to that directory,
and nothing here calls it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from concurrent import futures
from pathlib import Path
from typing import Any, Protocol

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

# CLUSTER_KEYS: provider settings the offline capture never passes on (each points it at a cluster).
from mlops_platform.tools.cluster_prereqs import CLUSTER_KEYS

PACKAGE = "kubernetes"
BINARY = "pulumi-resource-kubernetes"
RENDER_KEY = "renderYamlToDirectory"  # the provider setting that templates and constructs with no cluster
START_TIMEOUT_S = 60.0  # a cold start of the Go binary reading its embedded schema takes ~1 s
_GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024)]  # a chart's rendered objects


class ProviderUnavailable(RuntimeError):
    """The kubernetes provider is not built, so the offline engine cannot answer the program's call."""


class ProviderCallError(RuntimeError):
    """The provider refused a call (a chart that is not there, a manifest that does not parse)."""


class Monitor(Protocol):
    """What :class:`MonitorServer` serves: the capture's monitor (``capture.CaptureMonitor``)."""

    def RegisterResource(self, request: Any) -> Any: ...
    def RegisterResourceOutputs(self, request: Any) -> Any: ...
    def Invoke(self, request: Any) -> Any: ...
    def ReadResource(self, request: Any) -> Any: ...
    def SupportsFeature(self, request: Any) -> Any: ...


def find_provider() -> Path | None:
    """The toolchain's ``pulumi-resource-kubernetes``, or None when it is not built.

    ``MLOPS_KUBERNETES_PROVIDER_DIR`` (what ``mlops toolchain env`` exports) names its directory.
    """
    override = os.environ.get("MLOPS_KUBERNETES_PROVIDER_DIR", "")
    if override:
        binary = Path(override) / BINARY
        return binary if binary.is_file() else None
    from mlops_platform.tools.toolchain.installer import kubernetes_provider_binary

    return kubernetes_provider_binary()


class _EngineServicer(engine_pb2_grpc.EngineServicer):
    """The ``pulumirpc.Engine`` the provider logs to; its warnings and errors are kept for messages."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._root = ""

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        if request.severity >= engine_pb2.WARNING:
            self.messages.append(request.message.strip())
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(self, request: Any, context: Any) -> Any:
        self._root = request.urn
        return engine_pb2.SetRootResourceResponse()


class _MonitorServicer(resource_pb2_grpc.ResourceMonitorServicer):
    """The capture's monitor over gRPC: where a constructing provider registers the children."""

    def __init__(self, monitor: Monitor) -> None:
        self._monitor = monitor

    def SupportsFeature(self, request: Any, context: Any) -> Any:
        answer = self._monitor.SupportsFeature(request)
        return resource_pb2.SupportsFeatureResponse(hasSupport=bool(answer.hasSupport))

    def RegisterResource(self, request: Any, context: Any) -> Any:
        return self._monitor.RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:
        return self._monitor.RegisterResourceOutputs(request)

    def Invoke(self, request: Any, context: Any) -> Any:
        return self._monitor.Invoke(request)

    def ReadResource(self, request: Any, context: Any) -> Any:
        return self._monitor.ReadResource(request)


def _server(max_workers: int = 4) -> grpc.Server:
    return grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=_GRPC_OPTIONS)


class KubernetesProvider:
    """One running ``pulumi-resource-kubernetes``, configured for an offline preview.

    Args:
        binary: the provider binary.
        cwd: its working directory (the program's: a chart ``path`` is relative to it).
        config: the stack's ``kubernetes:`` config, without the namespace (``namespace``, ...).
        monitor: the capture's monitor, served to ``Construct``.

    Raises:
        ProviderCallError: the provider did not start or refused its configuration.
    """

    def __init__(self, binary: Path, *, cwd: Path, config: dict[str, str], monitor: Monitor) -> None:
        self._home = tempfile.TemporaryDirectory(prefix="mlops-k8s-provider-")
        self._engine = _EngineServicer()
        self._servers: list[grpc.Server] = []
        engine_server = _server(2)
        engine_pb2_grpc.add_EngineServicer_to_server(self._engine, engine_server)
        engine_port = engine_server.add_insecure_port("127.0.0.1:0")
        engine_server.start()
        self._servers.append(engine_server)
        monitor_server = _server()
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(_MonitorServicer(monitor), monitor_server)
        self.monitor_endpoint = f"127.0.0.1:{monitor_server.add_insecure_port('127.0.0.1:0')}"
        monitor_server.start()
        self._servers.append(monitor_server)
        home = Path(self._home.name)
        (home / "kubeconfig").write_text("", encoding="utf-8")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "KUBECONFIG": str(home / "kubeconfig"),  # no cluster: the provider's preview mode
            "HELM_CACHE_HOME": str(home / "helm-cache"),
            "HELM_CONFIG_HOME": str(home / "helm-config"),
            "HELM_DATA_HOME": str(home / "helm-data"),
            "TMPDIR": str(home),
        }
        self._process = subprocess.Popen(
            [str(binary), f"127.0.0.1:{engine_port}"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._stderr: list[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        port = self._read_port()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_OPTIONS)
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        self._configure(config)

    def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in iter(self._process.stderr.readline, b""):
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _read_port(self) -> int:
        assert self._process.stdout is not None
        found: list[bytes] = []
        reader = threading.Thread(target=lambda: found.append(self._process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(START_TIMEOUT_S)
        line = found[0].decode().strip() if found else ""
        if not line.isdigit():
            self.close()
            detail = "; ".join(self._stderr[-3:]) or "no port on its standard output"
            raise ProviderCallError(f"the kubernetes provider did not start: {detail}")
        return int(line)

    def _configure(self, config: dict[str, str]) -> None:
        settings = {k: v for k, v in config.items() if k not in CLUSTER_KEYS and k != RENDER_KEY}
        # Render mode: the provider's own answer for "no cluster" (``Construct`` refuses an unreachable
        # cluster otherwise). Only ``Create`` writes there, and the capture never calls it.
        settings[RENDER_KEY] = str(Path(self._home.name) / "render")
        variables = {f"{PACKAGE}:config:{k}": v for k, v in settings.items()}
        args = struct_pb2.Struct()
        args.update(settings)
        self._call(
            "Configure",
            provider_pb2.ConfigureRequest(
                variables=variables, args=args, acceptSecrets=True, acceptResources=True
            ),
        )

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request)
        except grpc.RpcError as exc:
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            logged = "; ".join(self._engine.messages[-3:])
            raise ProviderCallError(f"{detail}{f' ({logged})' if logged else ''}") from None

    def invoke(self, token: str, args: struct_pb2.Struct) -> provider_pb2.InvokeResponse:
        """The provider's answer to function ``token`` (its failures included, as the engine passes them)."""
        response: provider_pb2.InvokeResponse = self._call(
            "Invoke", provider_pb2.InvokeRequest(tok=token, args=args, preview=True)
        )
        return response

    def construct(self, request: Any, *, project: str, stack: str, config: dict[str, str]) -> Any:
        """Construct the component ``request`` registers (``remote``); its children go to the monitor.

        Returns:
            the ``ConstructResponse``: the component's URN and outputs.
        """
        construct = provider_pb2.ConstructRequest(
            project=project,
            stack=stack,
            config=config,
            dryRun=True,
            parallel=1,
            monitorEndpoint=self.monitor_endpoint,
            type=request.type,
            name=request.name,
            parent=request.parent,
            inputs=request.object,
            dependencies=list(request.dependencies),
            protect=request.protect,
            providers=dict(request.providers),
            additionalSecretOutputs=list(request.additionalSecretOutputs),
            ignoreChanges=list(request.ignoreChanges),
            replaceOnChanges=list(request.replaceOnChanges),
            retainOnDelete=request.retainOnDelete,
            organization="organization",
        )
        for key, deps in request.propertyDependencies.items():
            construct.inputDependencies[key].urns.extend(deps.urns)
        return self._call("Construct", construct)

    def close(self) -> None:
        """Stop the provider and the servers it called back (idempotent)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if getattr(self, "_channel", None) is not None:
            self._channel.close()
        for server in self._servers:
            server.stop(grace=None)
        self._servers = []
        self._home.cleanup()
