"""What a Kubernetes environment needs of its cluster, asked of the cluster before anything changes.

The program creates custom resources of two operators' APIs. A cluster without their CRDs accepts
every built-in object of a ``pulumi up`` and then refuses the custom ones after minutes of retries,
leaving the environment half-applied. So ``mlops up`` and ``mlops preview --pulumi`` ask the
cluster's discovery API for every group/version/kind the program registers first, and stop with
one error naming each missing kind, the feature of the spec that needs it, what provides it, and
how to do without it. Optionally they install pinned CRD files the user names (server-side apply).
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CRD_ESTABLISHED_TIMEOUT_S = 60.0


class YamlLoader(yaml.SafeLoader):
    """YAML as Kubernetes reads it: a plain ``=`` is the string "=", not PyYAML's 1.1 value tag.

    The Prometheus Operator's CRDs list ``=`` among the allowed relabel operators; the SafeLoader
    resolves it to ``tag:yaml.org,2002:value`` and then has no constructor for it.
    """


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True, order=True)
class Kind:
    """A group/version/kind as discovery lists it (``group`` is empty for the core API)."""

    group: str
    version: str
    kind: str

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.group_version} {self.kind}"


@dataclass(frozen=True, slots=True)
class Provider:
    """Where the CRDs of an API group come from, and what in the spec needs them."""

    feature: str
    provided_by: str
    turn_off: str


PROMETHEUS_OPERATOR = Provider(
    feature="monitoring (per-model ServiceMonitor and PrometheusRule, the Prometheus and Alertmanager)",
    provided_by="the Prometheus Operator's CRDs, monitoring.coreos.com/v1 (v0.85.0 or later: as tested)",
    turn_off="none: monitoring cannot be turned off (every served model is monitored)",
)
GATEWAY_API = Provider(
    feature="canary traffic split (serving.models[].canary: a weighted HTTPRoute)",
    provided_by="Gateway API standard CRDs, gateway.networking.k8s.io/v1 (v1.0.0 or later; v1.6.3 as tested)",
    turn_off="remove `canary` from every model to do without it",
)
PROVIDERS: dict[str, Provider] = {
    "monitoring.coreos.com": PROMETHEUS_OPERATOR,
    "gateway.networking.k8s.io": GATEWAY_API,
}


class PrerequisiteError(RuntimeError):
    """The cluster lacks kinds the program creates, or cannot be asked."""


def kind_of(resource_type: str) -> Kind | None:
    """``kubernetes:apps/v1:Deployment`` -> ``Kind("apps", "v1", "Deployment")``; None for other types."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or "/" not in parts[1]:
        return None
    group, version = parts[1].rsplit("/", 1)
    if group == "core":
        group = ""
    elif group.startswith("helm.sh") or group == "yaml":
        return None  # component resources of the provider, not API kinds
    return Kind(group, version, parts[2])


def kinds_of(resource_types: Iterable[str]) -> set[Kind]:
    return {k for k in map(kind_of, resource_types) if k is not None}


def custom_kinds(kinds: Iterable[Kind]) -> dict[Provider, list[Kind]]:
    """The kinds that come from CRDs we know of, grouped by what provides them."""
    grouped: dict[Provider, list[Kind]] = {}
    for kind in sorted(kinds):
        provider = PROVIDERS.get(kind.group)
        if provider is not None:
            grouped.setdefault(provider, []).append(kind)
    return grouped


def describe_needs(kinds: Iterable[Kind]) -> list[str]:
    """One line per CRD provider the kinds need (for the offline audit's warning)."""
    return [
        f"needs {', '.join(k.kind for k in group)} ({group[0].group_version}) for {provider.feature}: "
        f"install {provider.provided_by}"
        for provider, group in custom_kinds(kinds).items()
    ]


def missing_kinds(api: Any, kinds: Iterable[Kind]) -> list[Kind]:
    """The kinds that the cluster's discovery API does not serve.

    Args:
        api: a ``kubernetes.client.ApiClient`` for the cluster.
        kinds: what the program creates.
    """
    from kubernetes.client.exceptions import ApiException

    by_gv: dict[str, list[Kind]] = {}
    for kind in kinds:
        by_gv.setdefault(kind.group_version, []).append(kind)
    missing: list[Kind] = []
    for group_version, wanted in sorted(by_gv.items()):
        try:
            served = _served_kinds(api, wanted[0])
        except ApiException as exc:
            if exc.status == 404:  # the whole group/version is unknown to this cluster
                missing.extend(wanted)
                continue
            raise PrerequisiteError(
                f"discovery of {group_version} failed: {exc.status} {exc.reason}"
            ) from None
        missing.extend(k for k in wanted if k.kind not in served)
    return sorted(missing)


def _served_kinds(api: Any, kind: Kind) -> set[str]:
    """The kinds discovery lists under ``kind``'s group/version (``/api/v1`` or ``/apis/<g>/<v>``)."""
    from kubernetes import client

    if kind.group:
        listing = client.CustomObjectsApi(api).get_api_resources(kind.group, kind.version)
    else:
        listing = client.CoreV1Api(api).get_api_resources()
    return {r.kind for r in listing.resources or []}


def missing_message(environment: str, missing: Sequence[Kind]) -> str:
    """The error for a cluster without some kinds: each kind, the feature, its provider, the way out."""
    lines = [f"{environment}: the cluster does not serve {len(missing)} kind(s) the program creates:"]
    grouped = custom_kinds(missing)
    for provider, kinds in grouped.items():
        lines.append(f"  {', '.join(str(k) for k in kinds)}")
        lines.append(f"    needed by: {provider.feature}")
        lines.append(f"    install:   {provider.provided_by}")
        lines.append(f"    or:        {provider.turn_off}")
    others = [k for k in missing if PROVIDERS.get(k.group) is None]
    for kind in others:
        lines.append(f"  {kind}: this API version is not served by the cluster (too old or too new?)")
    lines.append("Nothing was changed. `mlops up --install-crds FILE...` applies CRD files you name first.")
    return "\n".join(lines)


CLUSTER_KEYS = ("kubeconfig", "context", "cluster")
"""The kubernetes provider's config keys (``kubernetes:<key>``) that point it at a cluster."""


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """Which cluster the kubernetes provider talks to, and where that was decided.

    Built by :func:`provider_cluster` only: the one answer for the engine runs' prerequisite check,
    the CLI's "is a cluster named" and any client made for a stack.
    """

    source: str
    """Where the kubeconfig came from: ``kubernetes:kubeconfig``, ``$KUBECONFIG`` or ``~/.kube/config``."""
    paths: tuple[str, ...] = ()
    """Kubeconfig files, merged in order (missing ones skipped); empty when ``text`` holds it."""
    text: str | None = None
    """The kubeconfig's YAML, when ``kubernetes:kubeconfig`` holds it rather than a path."""
    context: str | None = None
    """``kubernetes:context``: the context instead of the kubeconfig's current one."""
    cluster: str | None = None
    """``kubernetes:cluster``: the cluster instead of the context's."""

    @property
    def named(self) -> bool:
        """Whether the stack's config or ``$KUBECONFIG`` names a cluster (not only ``~/.kube/config``)."""
        return self.source != DEFAULT_KUBECONFIG or self.context is not None or self.cluster is not None


DEFAULT_KUBECONFIG = "~/.kube/config"


def provider_cluster(settings: Mapping[str, str], env: Mapping[str, str]) -> ClusterRef:
    """The cluster the kubernetes provider uses, resolved in the provider's precedence.

    As pulumi-kubernetes' ``Configure`` (``provider/pkg/provider/provider.go``) resolves it: a
    non-empty ``kubernetes:kubeconfig`` (a path, ``~`` expanded, when the file exists; else the
    kubeconfig's text) wins; otherwise client-go's default loading rules, as kubectl's: the files of
    ``$KUBECONFIG`` (a path list; empty counts as unset), else ``~/.kube/config``.
    ``kubernetes:context`` and ``kubernetes:cluster`` override the current context and its cluster.

    Args:
        settings: the stack's ``kubernetes`` config namespace, keys without the prefix.
        env: the environment the engine runs with.
    """
    context = settings.get("context") or None
    cluster = settings.get("cluster") or None
    given = settings.get("kubeconfig") or ""
    if given:
        path = Path(given).expanduser()
        if path.is_file():
            return ClusterRef("kubernetes:kubeconfig", (str(path),), None, context, cluster)
        return ClusterRef("kubernetes:kubeconfig", (), given, context, cluster)
    listed = env.get("KUBECONFIG") or ""
    if listed:
        paths = tuple(str(Path(p).expanduser()) for p in listed.split(os.pathsep) if p)
        return ClusterRef("$KUBECONFIG", paths, None, context, cluster)
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return ClusterRef(DEFAULT_KUBECONFIG, (str(home / ".kube" / "config"),), None, context, cluster)


def kubeconfig_of(ref: ClusterRef) -> Any:
    """``ref``'s kubeconfig as kubectl would read it: its files merged, its overrides applied.

    Files merge as client-go merges them: the first file to name a cluster, context or user keeps
    it, and the first to set ``current-context`` decides it (the kubernetes client's own merger
    keeps the last one's: another cluster than the provider's when two files set one).

    Raises:
        PrerequisiteError: no kubeconfig file exists, or one is not a kubeconfig.
    """
    from kubernetes.config.kube_config import KubeConfigMerger

    try:
        if ref.text is not None:
            merged: Any = yaml.safe_load(ref.text)
            if not isinstance(merged, dict):
                raise PrerequisiteError("kubernetes:kubeconfig is neither a file nor a kubeconfig")
        else:
            merger = KubeConfigMerger(os.pathsep.join(ref.paths))
            merged = merger.config
            if merged is None:
                raise PrerequisiteError(
                    f"no kubeconfig: none of {', '.join(ref.paths)} exists ({ref.source})"
                )
            first = next(
                (c.get("current-context") for c in merger.config_files.values() if c.get("current-context")),
                None,
            )
            if first is not None:
                merged.value["current-context"] = first
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as exc:
        raise PrerequisiteError(f"no usable kubeconfig ({ref.source}): {exc}") from None
    if ref.cluster is not None:
        name = ref.context or _value(merged).get("current-context")
        for entry in _value(merged).get("contexts") or ():
            entry = _value(entry)
            if entry.get("name") == name and isinstance(entry.get("context"), dict):
                entry["context"]["cluster"] = ref.cluster
    return merged


def _value(node: Any) -> Any:
    """The plain value of a kubernetes client ``ConfigNode`` (or of a plain value)."""
    return getattr(node, "value", node)


def api_client(cluster: ClusterRef | str | None = None) -> Any:
    """A client for the cluster the kubernetes provider would use.

    Args:
        cluster: a resolved :class:`ClusterRef`; a kubeconfig path or its YAML text (as
            ``kubernetes:kubeconfig`` may hold); None: this process's ``$KUBECONFIG`` or
            ``~/.kube/config``, as :func:`provider_cluster` resolves them.
    """
    from kubernetes import config

    if not isinstance(cluster, ClusterRef):
        cluster = provider_cluster({"kubeconfig": cluster} if cluster else {}, os.environ)
    try:
        api = config.new_client_from_config_dict(kubeconfig_of(cluster), context=cluster.context)
    except (config.ConfigException, OSError, yaml.YAMLError, TypeError) as exc:
        raise PrerequisiteError(f"no usable kubeconfig: {exc}") from None
    if not api.configuration.verify_ssl:
        # The kubeconfig asks for insecure-skip-tls-verify; urllib3 would warn on every request.
        import warnings

        import urllib3

        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    return api


def check_cluster(api: Any, environment: str, resource_types: Iterable[str]) -> None:
    """Raise :class:`PrerequisiteError` unless the cluster serves every kind of ``resource_types``."""
    import urllib3

    try:
        missing = missing_kinds(api, kinds_of(resource_types))
    except urllib3.exceptions.HTTPError as exc:
        raise PrerequisiteError(f"{environment}: cannot reach the cluster: {exc}") from None
    if missing:
        raise PrerequisiteError(missing_message(environment, missing))


def read_crds(sources: Sequence[str]) -> list[dict[str, Any]]:
    """CustomResourceDefinition documents from files, directories (``*.yaml``) or URLs."""
    documents: list[dict[str, Any]] = []
    for source in sources:
        texts: list[tuple[str, str]] = []
        if source.startswith(("https://", "http://")):
            with urllib.request.urlopen(source, timeout=60) as response:
                texts.append((source, response.read().decode("utf-8")))
        else:
            path = Path(source)
            files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
            for file in files:
                try:
                    texts.append((str(file), file.read_text(encoding="utf-8")))
                except OSError as exc:
                    raise PrerequisiteError(f"{file}: {exc.strerror or exc}") from None
        for name, text in texts:
            try:
                docs = [d for d in yaml.load_all(text, Loader=YamlLoader) if d]
            except yaml.YAMLError as exc:
                raise PrerequisiteError(f"{name}: not YAML: {exc}") from None
            for doc in docs:
                if not (isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"):
                    raise PrerequisiteError(f"{name}: holds a {doc.get('kind')!r}, not only CRDs")
                documents.append(doc)
    return documents


def crd_only_files(files: Iterable[Path]) -> list[str]:
    """Of ``files``, those holding only CRDs (gateway-api's standard set also ships a
    ValidatingAdmissionPolicy, which ``--install-crds`` does not apply), sorted."""
    kept = []
    for file in sorted(set(files)):
        try:
            read_crds([str(file)])
        except PrerequisiteError:
            continue
        kept.append(str(file))
    return kept


def install_crds(
    api: Any, crds: Sequence[dict[str, Any]], *, field_manager: str = "mlops-platform"
) -> list[str]:
    """Server-side apply every CRD and wait until each is Established; return their names."""
    from kubernetes.dynamic import DynamicClient

    client = DynamicClient(api)
    resource = client.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    names = []
    for crd in crds:
        resource.server_side_apply(body=crd, field_manager=field_manager, force_conflicts=True)
        names.append(crd["metadata"]["name"])
    deadline = time.monotonic() + CRD_ESTABLISHED_TIMEOUT_S
    pending = set(names)
    while pending:
        for name in sorted(pending):
            conditions = (resource.get(name=name).to_dict().get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise PrerequisiteError(
                f"CRDs not established within {CRD_ESTABLISHED_TIMEOUT_S:.0f} s: {', '.join(sorted(pending))}"
            )
        if pending:
            time.sleep(0.5)
    return names
