"""Kubernetes helpers: find pod specs, containers and metadata in any workload kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlops_platform.policies.rules._model import Res, as_dict, as_list, get, is_unknown
from mlops_platform.policies.rules._pod_types import POD_TEMPLATE_PATHS

# Type tokens of every kind that carries a pod spec, in every API version the pinned SDK generates, and
# where its pod template lives (generated from the SDK: see ``_pod_types``).
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = POD_TEMPLATE_PATHS
WORKLOAD_TYPES = frozenset(_POD_SPEC_PATHS)


def _of_kinds(*kinds: str) -> frozenset[str]:
    return frozenset(t for t in WORKLOAD_TYPES if t.rsplit(":", 1)[-1] in kinds)


# Kinds whose pods run until stopped (a PodTemplate runs nothing itself; Jobs run to completion).
LONG_RUNNING_TYPES = _of_kinds(
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod"
)
REPLICATED_TYPES = _of_kinds("Deployment", "StatefulSet")

NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
# autoscaling/v1 has no ``metrics`` (only targetCPUUtilizationPercentage): the HPA rule reads the v2 shape.
HPA_TYPES = frozenset(
    f"kubernetes:autoscaling/{v}:HorizontalPodAutoscaler" for v in ("v2", "v2beta2", "v2beta1")
)
INGRESS_TYPES = frozenset(
    {INGRESS, "kubernetes:networking.k8s.io/v1beta1:Ingress", "kubernetes:extensions/v1beta1:Ingress"}
)
CRON_JOB = "kubernetes:batch/v1:CronJob"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"


def is_workload(res: Res) -> bool:
    return res.type in WORKLOAD_TYPES


def pod_template(res: Res) -> Any:
    """The object holding ``metadata`` and ``spec`` of the pods (the Pod itself for a bare Pod)."""
    path = _POD_SPEC_PATHS.get(res.type)
    if path is None:
        return None
    return res.props if not path else get(res.props, *path)


def pod_spec(res: Res) -> Any:
    """The PodSpec (may be an :class:`Unknown`, ``None`` when missing)."""
    template = pod_template(res)
    return get(template, "spec") if template is not None else None


def pod_spec_path(res: Res) -> str:
    path = _POD_SPEC_PATHS.get(res.type, ())
    return ".".join((*path, "spec"))


def pod_labels(res: Res) -> Any:
    return get(pod_template(res), "metadata", "labels")


@dataclass(frozen=True, slots=True)
class Container:
    """A container of a pod spec with where it sits, for messages."""

    name: str
    path: str
    spec: dict[str, Any]
    init: bool


def containers(res: Res, include_init: bool = True) -> Iterator[Container]:
    """Every container, init container and ephemeral container of a workload's pod spec."""
    spec = pod_spec(res)
    if not isinstance(spec, dict):
        return
    base = pod_spec_path(res)
    groups = ("containers", "initContainers", "ephemeralContainers") if include_init else ("containers",)
    for group in groups:
        for index, item in enumerate(as_list(spec.get(group))):
            path = f"{base}.{group}[{index}]"
            if not isinstance(item, dict):
                continue
            raw_name = item.get("name")
            name = raw_name if isinstance(raw_name, str) else f"{group}[{index}]"
            yield Container(name, path, item, group != "containers")


def metadata(res: Res) -> dict[str, Any]:
    return as_dict(res.props.get("metadata"))


def object_labels(res: Res) -> Any:
    return get(res.props, "metadata", "labels")


def object_annotations(res: Res) -> Any:
    return get(res.props, "metadata", "annotations")


def namespace_of(res: Res) -> Any:
    """``metadata.namespace``; ``"default"`` when absent (what the API server would use)."""
    ns = get(res.props, "metadata", "namespace")
    return "default" if ns is None else ns


def name_of(res: Res) -> Any:
    """``metadata.name``, falling back to the Pulumi name (auto-naming derives from it)."""
    name = get(res.props, "metadata", "name")
    return res.name if name is None else name


def selector_matches(selector: Any, labels: Any) -> bool | None:
    """Whether a LabelSelector selects ``labels``; ``None`` when either is unknown.

    An empty selector selects everything (NetworkPolicy ``podSelector: {}``).
    """
    if is_unknown(selector) or is_unknown(labels):
        return None
    sel = as_dict(selector)
    labels = as_dict(labels)
    match_labels = sel.get("matchLabels")
    if is_unknown(match_labels):
        return None
    for key, value in as_dict(match_labels).items():
        if is_unknown(value) or is_unknown(labels.get(key)):
            return None
        if labels.get(key) != value:
            return False
    for expr in as_list(sel.get("matchExpressions")):
        if not isinstance(expr, dict):
            return False
        expr_key, op = expr.get("key"), expr.get("operator")
        values = [v for v in as_list(expr.get("values")) if isinstance(v, str)]
        present = expr_key in labels
        if op == "In" and not (present and labels[expr_key] in values):
            return False
        if op == "NotIn" and present and labels[expr_key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


class SelectorIndex:
    """Selectors (of NetworkPolicies, PDBs...) bucketed by one of their ``matchLabels`` pairs.

    ``candidates(labels)`` returns, in their original order, every item whose selector could select
    ``labels`` (True) or cannot tell (None): those anchored on a pair ``labels`` holds, and every item
    that has no known anchor (an empty, expression-only or unknown selector). Any item left out
    would have answered False: its anchor pair is known and absent from labels that are all known.
    Each selector is anchored on its rarest pair (``app: model-x`` rather than ``component: serving``),
    so a stack rule tests each workload against the few selectors that may select it instead of all
    of them (quadratic at scale: 1,000 models have 1,000 PDBs and 1,250 Deployments).
    """

    def __init__(self, items: list[Res], selector_of: Any) -> None:
        self._items = items
        self._always: list[int] = []
        self._buckets: dict[tuple[str, str], list[int]] = {}
        pairs = [self._pairs(selector_of(item)) for item in items]
        frequency = Counter(pair for item_pairs in pairs for pair in item_pairs or ())
        for position, item_pairs in enumerate(pairs):
            if not item_pairs:
                self._always.append(position)
            else:
                anchor = min(item_pairs, key=lambda pair: (frequency[pair], pair))
                self._buckets.setdefault(anchor, []).append(position)

    @staticmethod
    def _pairs(selector: Any) -> list[tuple[str, str]] | None:
        """The selector's ``matchLabels`` pairs; None when it has none or any is not a known string."""
        if is_unknown(selector) or not isinstance(selector, dict):
            return None
        match_labels = selector.get("matchLabels")
        if not isinstance(match_labels, dict) or not match_labels:
            return None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in match_labels.items()):
            return None
        return list(match_labels.items())

    def candidates(self, labels: Any) -> list[Res]:
        known = isinstance(labels, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        )
        if not known:
            return list(self._items)
        positions = list(self._always)
        for pair in labels.items():
            positions.extend(self._buckets.get(pair, ()))
        return [self._items[p] for p in sorted(set(positions))]
