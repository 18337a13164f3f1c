"""CEL building blocks of the rules' admission policies: what ``_k8s`` and ``_common`` are to the checks.

Every rule's ``violations`` expression may use the shared variables below (``variables.<name>``); the
renderer (:mod:`mlops_platform.policies.admission`) includes the ones it uses, in this order. They
mirror the Python helpers one for one, so that the two engines read the same values:

======================  ====================================================================
variable                mirrors
======================  ====================================================================
``isWorkload``          ``_k8s.is_workload`` (the pod-bearing kinds of ``_pod_types``)
``template``            ``_k8s.pod_template`` (the object holding the pods' metadata and spec)
``podSpec``             ``_k8s.pod_spec``
``containers``          ``_k8s.containers(res)``: containers, initContainers, ephemeralContainers
``podContainers``       containers and initContainers (the resource rules skip ephemeral ones)
``appContainers``       ``_k8s.containers(res, include_init=False)``
``labels``...           ``_k8s.object_labels`` / ``object_annotations``; ``podLabels`` the template's
``images``              ``_images`` with ``parse_image`` of each reference (``appImages``: app containers)
``isServing``           ``_common.is_serving`` (with ``_inference.inference_server``)
======================  ====================================================================

CEL has no user functions and no ``let`` in the API server's environment (no ``cel.bind``), so
derived values are built as lists of maps, one ``map()`` per step, every value wrapped in ``dyn()``:
the API server's CEL validates that list and map literals are homogeneous.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from mlops_platform import vocabulary as L
from mlops_platform.policies.admission import Match, Resources, literal
from mlops_platform.policies.rules import _inference
from mlops_platform.policies.rules._pod_types import POD_TEMPLATE_PATHS

V: Final = "variables."

# --- what a policy matches --------------------------------------------------------------------


def _plural(kind: str) -> str:
    return kind.lower() + ("es" if kind.endswith("s") else "s")


def _group(token: str) -> str:
    group = token.split(":")[1].rsplit("/", 1)[0]
    return "" if group == "core" else group


def _kinds(tokens: Iterable[str]) -> dict[str, list[str]]:
    """API group -> kinds, from pulumi-kubernetes type tokens."""
    out: dict[str, list[str]] = {}
    for token in sorted(tokens):
        kind = token.rsplit(":", 1)[-1]
        kinds = out.setdefault(_group(token), [])
        if kind not in kinds:
            kinds.append(kind)
    return out


def _resources(kinds: Mapping[str, Iterable[str]]) -> tuple[Resources, ...]:
    return tuple(
        Resources((group,), tuple(_plural(k) for k in names)) for group, names in kinds.items() if names
    )


# Every pod-bearing kind the pinned SDK knows, by API group (the API server serves the current ones).
WORKLOAD_KINDS: Final = _kinds(POD_TEMPLATE_PATHS)
_LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod")

WORKLOADS: Final = Match(resources=_resources(WORKLOAD_KINDS), summary="pod-bearing kinds")
LONG_RUNNING: Final = Match(
    resources=_resources({g: [k for k in ks if k in _LONG_RUNNING] for g, ks in WORKLOAD_KINDS.items()}),
    summary="long-running pod-bearing kinds",
)
SERVICES_AND_WORKLOADS: Final = Match(
    resources=(*WORKLOADS.resources, Resources(("",), ("services",))),
    summary="Services and pod-bearing kinds",
)
INGRESSES: Final = Match(resources=(Resources(("networking.k8s.io",), ("ingresses",)),), summary="Ingresses")
AUTOSCALERS: Final = Match(
    resources=(Resources(("autoscaling",), ("horizontalpodautoscalers",), versions=("v2",)),),
    exact_versions=True,  # the rule reads autoscaling/v2's shape; v1 is not applicable (as in the pack)
    summary="HorizontalPodAutoscalers of autoscaling/v2",
)
DEPLOYMENTS_AND_STATEFUL_SETS: Final = Match(
    resources=(Resources(("apps",), ("deployments", "statefulsets")),), summary="Deployments, StatefulSets"
)
SERVING: Final = Match(
    resources=(
        *WORKLOADS.resources,
        *(Resources((group,), (_plural(kind),)) for group, kind in sorted(_inference.SERVING_KINDS)),
    ),
    summary="pod-bearing kinds and serving custom resources",
)
# What the control plane writes in every namespace on its own (events, endpoints, leases): a rule on
# every object must not stop the control plane.
CONTROL_PLANE_WRITES: Final = (
    Resources(("",), ("events", "endpoints")),
    Resources(("events.k8s.io",), ("events",)),
    Resources(("discovery.k8s.io",), ("endpointslices",)),
    Resources(("coordination.k8s.io",), ("leases",)),
)
LABELABLE: Final = Match(
    resources=(
        Resources(("*",), ("*",), scope="Namespaced"),
        Resources(("",), ("namespaces",)),
    ),
    exclude=CONTROL_PLANE_WRITES,
    summary="every namespaced object and the environment's Namespace",
)
NAMESPACED: Final = Match(
    resources=(
        Resources(
            (
                "",
                "apps",
                "batch",
                "extensions",
                "autoscaling",
                "policy",
                "networking.k8s.io",
                "monitoring.coreos.com",
                "gateway.networking.k8s.io",
            ),
            ("*",),
            scope="Namespaced",
        ),
        Resources(("rbac.authorization.k8s.io",), ("roles", "rolebindings")),
    ),
    exclude=CONTROL_PLANE_WRITES,
    summary="namespaced objects of the groups the pack names",
)

# --- expressions --------------------------------------------------------------------------------


def lit(value: str | bool | int | list[str] | tuple[str, ...]) -> str:
    return literal(value)


def opt_label(key: str) -> str:
    """``_common.label``: the object's label, else (workloads) the pod template's, as an optional."""
    return f"{V}labels[?{lit(key)}].or({V}podLabels[?{lit(key)}])"


def opt_annotation(key: str) -> str:
    """``_common.annotation``: the object's annotation, else the pod template's, as an optional."""
    return f"{V}annotations[?{lit(key)}].or({V}podAnnotations[?{lit(key)}])"


def label_or(key: str, absent: str) -> str:
    """The label as a string, ``absent`` when there is none (Python's ``None`` printed as ``absent``)."""
    return f"{opt_label(key)}.orValue({lit(absent)})"


def annotation_or(key: str, absent: str) -> str:
    return f"{opt_annotation(key)}.orValue({lit(absent)})"


def truthy(expr: str) -> str:
    """``_model.truthy`` of a string: ``"true"`` whatever the case and surrounding spaces."""
    return f"{expr}.trim().lowerAscii() == 'true'"


def quoted(expr: str) -> str:
    """``"<value>"`` around a string expression, as the messages quote values."""
    return f"'\"' + {expr} + '\"'"


def is_component(*names: str) -> str:
    """``_common.is_component``."""
    return f"({label_or(L.APP_COMPONENT, '')} in {lit(list(names))})"


def step(source: str, var: str, keep: Iterable[str], add: Mapping[str, str]) -> str:
    """``source.map(var, {...})`` keeping the fields ``keep`` of each item and adding ``add``."""
    fields = [f"{lit(k)}: dyn({var}.{k})" for k in keep] + [f"{lit(k)}: dyn({e})" for k, e in add.items()]
    return f"{source}.map({var}, {{{', '.join(fields)}}})"


def parsed_images(containers: str) -> str:
    """Each container's image reference, parsed as ``_images.parse_image`` parses it.

    Fields: ``where`` (``container "<name>"``), ``ref`` (the reference without surrounding spaces),
    ``id`` (a local image ID, ``sha256:<hex>``), ``registry``, ``repository``, ``tag`` and ``digest``
    (empty when absent).
    """
    s0 = (
        f"{containers}.map(c, {{'where': dyn('container \"' + c.name + '\"'), "
        "'ref': dyn(c.?image.orValue('').trim())})"
    )
    s1 = step(
        s0,
        "x",
        ("where", "ref"),
        {
            "rest": "x.ref.split('@')[0]",
            "digest": "x.ref.indexOf('@') >= 0 ? x.ref.substring(x.ref.indexOf('@') + 1) : ''",
            "id": "x.ref.matches('^sha256:[0-9a-f]{64}$')",
        },
    )
    first = "x.rest.split('/')[0]"
    s2 = step(
        s1,
        "x",
        ("where", "ref", "rest", "digest", "id"),
        {
            "reg": f"x.rest.indexOf('/') >= 0 && ({first}.contains('.') || {first}.contains(':') || "
            f"{first} == 'localhost')",
        },
    )
    s3 = step(
        s2,
        "x",
        ("where", "ref", "digest", "id"),
        {
            "registry": f"x.reg ? {first} : 'docker.io'",
            "path": "x.reg ? x.rest.substring(x.rest.indexOf('/') + 1) : "
            "(x.rest.indexOf('/') >= 0 ? x.rest : 'library/' + x.rest)",
        },
    )
    last = "x.path.substring(x.path.lastIndexOf('/') + 1)"
    return step(
        s3,
        "x",
        ("where", "ref", "digest", "id", "registry"),
        {
            "repository": f"x.ref == '' ? '' : ({last}.contains(':') ? "
            "x.path.substring(0, x.path.lastIndexOf(':')) : x.path)",
            "tag": f"{last}.contains(':') ? x.path.substring(x.path.lastIndexOf(':') + 1) : ''",
        },
    )


def _template() -> str:
    """``_k8s.pod_template``: by API group and kind, where the table of pod-bearing types says."""
    by_path: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for token, path in POD_TEMPLATE_PATHS.items():
        pair = (_group(token), token.rsplit(":", 1)[-1])
        if pair not in by_path.setdefault(path, []):
            by_path[path].append(pair)
    out = "dyn({})"
    for path, pairs in sorted(by_path.items(), key=lambda item: -len(item[0])):
        test = " || ".join(
            f"(request.kind.group == {lit(g)} && request.kind.kind == {lit(k)})" for g, k in sorted(pairs)
        )
        value = "object" + "".join(f".?{step_}" for step_ in path)
        value = "dyn(object)" if not path else f"dyn({value}.orValue({{}}))"
        out = f"({test}) ? {value} : {out}"
    return out


def _is_workload() -> str:
    return " || ".join(
        f"(request.kind.group == {lit(group)} && request.kind.kind in {lit(kinds)})"
        for group, kinds in WORKLOAD_KINDS.items()
    )


def _inference_server() -> str:
    fragments = [f for _s, f, _p in _inference._SERVERS if f is not None]
    patterns = [p.pattern for _s, _f, p in _inference._SERVERS if p is not None]
    by_image = f"{V}appImages.exists(x, {lit(fragments)}.exists(f, x.repository.contains(f)))"
    by_line = f"{V}appLines.exists(l, " + " || ".join(f"l.matches({lit(p)})" for p in patterns) + ")"
    return f"{by_image} || {by_line}"


def _is_serving() -> str:
    resources = " || ".join(
        f"(request.kind.group == {lit(g)} && request.kind.kind == {lit(k)})"
        for g, k in sorted(_inference.SERVING_KINDS)
    )
    opted = lit(L.MODEL_WORKLOAD)
    return (
        f"({resources}) || ({V}isWorkload && ({is_component(L.COMPONENT_MODEL_SERVER)} || "
        f"{V}labels[?{opted}].orValue('') == 'true' || {V}podLabels[?{opted}].orValue('') == 'true' || "
        f"{V}inferenceServer))"
    )


SHARED: Final[tuple[tuple[str, str], ...]] = (
    ("isWorkload", _is_workload()),
    ("template", f"{V}isWorkload ? ({_template()}) : dyn({{}})"),
    ("podSpec", f"{V}template.?spec.orValue({{}})"),
    (
        "containers",
        f"{V}podSpec.?containers.orValue([]) + {V}podSpec.?initContainers.orValue([]) + "
        f"{V}podSpec.?ephemeralContainers.orValue([])",
    ),
    ("podContainers", f"{V}podSpec.?containers.orValue([]) + {V}podSpec.?initContainers.orValue([])"),
    ("appContainers", f"{V}podSpec.?containers.orValue([])"),
    ("labels", "object.metadata.?labels.orValue({})"),
    ("annotations", "object.metadata.?annotations.orValue({})"),
    ("podLabels", f"{V}template.?metadata.?labels.orValue({{}})"),
    ("podAnnotations", f"{V}template.?metadata.?annotations.orValue({{}})"),
    ("images", parsed_images(f"{V}containers")),
    ("appImages", parsed_images(f"{V}appContainers")),
    ("appLines", f"{V}appContainers.map(c, (c.?command.orValue([]) + c.?args.orValue([])).join(' '))"),
    ("inferenceServer", _inference_server()),
    ("isServing", _is_serving()),
)
"""The variables every rule's expressions may use, in the order they are defined."""


def container_message(suffix: str, var: str = "c") -> str:
    """CEL: ``container "<name>" <suffix>``, the way the checks name a container."""
    return f"'container \"' + {var}.name + '\" ' + {lit(suffix)}"


def each_container(source: str, violates: str, suffix: str) -> str:
    """CEL: the message ``container "<name>" <suffix>`` for each container ``c`` of ``source`` that
    ``violates`` (an expression over ``c``)."""
    return f"{source}.filter(c, {violates}).map(c, {container_message(suffix)})"


def required_labels(keys: list[str]) -> str:
    """``governance._require_labels``: each key missing or blank on the object, then on the pod template."""
    k = lit(keys)
    return (
        f"{k}.filter(k, {V}labels[?k].orValue('').trim() == '').map(k, 'metadata.labels lack \"' + k + '\"')"
        f" + ({V}isWorkload ? {k}.filter(k, {V}podLabels[?k].orValue('').trim() == '')"
        f".map(k, 'pod template labels lack \"' + k + '\"') : [])"
    )


def object_label_or(key: str, absent: str) -> str:
    """The object's own label (not the pod template's), ``absent`` when there is none."""
    return f"{V}labels[?{lit(key)}].orValue({lit(absent)})"
