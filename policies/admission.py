"""The same rules inside the cluster: ValidatingAdmissionPolicy objects generated from the declarations.

A rule that CEL can express declares it beside its Python check, in the same declaration
(``admission=Cel(...)``): the API resources it matches and ``violations``, a CEL expression giving the
list of violation messages, the very messages the Python check returns on the same object. A rule CEL
cannot express says why instead (``admission=NotInCel(...)``), and the catalogue lists it in
``policies/README.md``.

:func:`render` turns the declarations, an environment's merged policy config and its waivers into one
``ValidatingAdmissionPolicy`` and one ``ValidatingAdmissionPolicyBinding`` per rule
(``admissionregistration.k8s.io/v1``):

- the binding's ``validationActions`` follow the rule's level in that config: mandatory (and
  remediate) rules deny, advisory rules warn and audit, disabled rules are not rendered;
- the binding's ``namespaceSelector`` is the environment's namespace (``kubernetes.io/metadata.name``,
  which the API server sets on every namespace); the Namespace object itself matches by that label;
- the policy's knobs are the environment's config, written into the expressions as literals;
- each waiver of the environment becomes part of the policy's ``not-waived`` match condition, naming the
  objects the waiver covers (resolved against the objects the environment's program declares, by the
  caller) and its expiry (below).

**Expiry without a controller.** CEL in the API server has no clock (no ``now()``: kubernetes/kubernetes
issue 124490, on purpose: expressions must be deterministic). The API server stamps the time of the
request on the object itself before validating admission runs: on CREATE ``metadata.creationTimestamp``
(set by the registry's ``BeforeCreate``, whatever the client sent), and on UPDATE the ``time`` of the
writer's ``metadata.managedFields`` entry (set by the field manager whenever the update changes the
object). A waiver holds while that time is before the day after its ``expires`` date (00:00 UTC): a
create or a changing update after that is judged like any other. An update that changes nothing
keeps the object as it is (it was admitted under the waiver, and stays until changed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Final

from mlops_platform import vocabulary as L
from mlops_platform.validation import Tier

if TYPE_CHECKING:
    from mlops_platform.policies.declaration import Rule

API_VERSION: Final = "admissionregistration.k8s.io/v1"
MANAGED_BY: Final = "mlops-platform"
MANAGED_BY_LABEL: Final = L.APP_MANAGED_BY
ENVIRONMENT_LABEL: Final = L.ENVIRONMENT
RULE_LABEL: Final = f"{L.DOMAIN}/rule"
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
OPERATIONS: Final = ("CREATE", "UPDATE")

INSTALL_BY_DEFAULT: Final[Mapping[Tier, bool]] = {Tier.DEV: False, Tier.STAGING: True, Tier.PROD: True}
"""Whether ``mlops up`` installs an environment's admission policies unless told (``--admission``):
written to ``policies/config/admission.json``, which a project may change (one entry per tier)."""

# Levels (pulumi-policy's enforcement levels, as the tier files write them) -> the binding's actions.
ACTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "mandatory": ("Deny",),
    "remediate": ("Deny",),  # a validation policy without a remediation blocks like a mandatory one
    "advisory": ("Warn", "Audit"),
}


@dataclass(frozen=True, slots=True)
class Resources:
    """One ``resourceRules`` entry: API groups, versions and resources (plural names)."""

    groups: tuple[str, ...]
    resources: tuple[str, ...]
    versions: tuple[str, ...] = ("*",)
    scope: str = "*"

    def rule(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apiGroups": list(self.groups),
            "apiVersions": list(self.versions),
            "operations": list(OPERATIONS),
            "resources": list(self.resources),
        }
        if self.scope != "*":
            out["scope"] = self.scope
        return out


@dataclass(frozen=True, slots=True)
class Match:
    """What a policy is asked about: resource rules, the ones left out, and how versions match."""

    resources: tuple[Resources, ...]
    exclude: tuple[Resources, ...] = ()
    exact_versions: bool = False
    """``matchPolicy: Exact``: a request in another API version of the same resource is not matched
    (for a rule that judges one version's shape only)."""
    summary: str = ""

    def constraints(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "matchPolicy": "Exact" if self.exact_versions else "Equivalent",
            "resourceRules": [r.rule() for r in self.resources],
        }
        if self.exclude:
            out["excludeResourceRules"] = [r.rule() for r in self.exclude]
        return out


Config = Mapping[str, Any]
CelText = str | Callable[[Config], str]


@dataclass(frozen=True, kw_only=True, slots=True)
class Cel:
    """A rule's CEL validation, declared in the rule's declaration beside its Python check.

    ``violations`` evaluates to a list of strings: the messages the Python check returns for the same
    object, in the same order (empty: compliant or not applicable). Given as a function, it receives
    the rule's config (schema defaults under the environment's values) and writes the knobs into the
    expression as literals.
    """

    match: Match
    violations: CelText
    variables: tuple[tuple[str, str], ...] = ()
    """Extra variables of this rule, ``(name, expression)``, after the shared ones."""

    def violations_for(self, cfg: Config) -> str:
        return self.violations(cfg) if callable(self.violations) else self.violations


@dataclass(frozen=True, slots=True)
class NotInCel:
    """Why a rule has no admission policy: what it needs that an admission request cannot give."""

    why: str


Admission = Cel | NotInCel


# --- rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaivedObjects:
    """One waiver of a rule as the cluster honours it: the objects it covers and its last day."""

    rule: str
    group: str
    kind: str
    names: tuple[str, ...]
    expires: date
    source: str
    """Where the waiver is written (``policies/waivers.yaml:12``), for the policy's annotation."""


@dataclass(frozen=True, slots=True)
class Target:
    """The environment the objects are rendered for."""

    environment: str
    namespace: str
    tier: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """An environment's admission objects, and the rules left out (with why)."""

    objects: list[dict[str, Any]]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def policies(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == "ValidatingAdmissionPolicy"]

    @property
    def bindings(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == "ValidatingAdmissionPolicyBinding"]


def literal(value: Any) -> str:
    """A CEL literal for a string, bool, int or a list of strings (knobs written into expressions)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no CEL literal for {value!r}")


def policy_name(environment: str, rule: str) -> str:
    """``mlops.<environment>.<rule>``: one policy (and binding) per rule and environment."""
    return f"mlops.{environment}.{rule}"


def rule_config(rule: Rule, entry: Mapping[str, Any] | str | None) -> tuple[str, dict[str, Any]]:
    """``(level, config)`` of ``rule`` from its entry in the merged policy config, as the pack sees them."""
    if isinstance(entry, str):
        entry = {"enforcementLevel": entry}
    entry = dict(entry or {})
    level = str(entry.pop("enforcementLevel", "advisory"))
    return level, {**rule.defaults(), **entry}


_VARIABLE_REF = re.compile(r"\bvariables\.([A-Za-z_][A-Za-z0-9_]*)")


def _needed(expressions: Iterable[str], available: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """The variables the expressions use, with those they use in turn, in declaration order."""
    by_name = dict(available)
    wanted: set[str] = set()
    pending = [name for text in expressions for name in _VARIABLE_REF.findall(text)]
    while pending:
        name = pending.pop()
        if name in wanted or name not in by_name:
            continue
        wanted.add(name)
        pending += _VARIABLE_REF.findall(by_name[name])
    return [{"name": n, "expression": e} for n, e in available if n in wanted]


def request_time_after(moment: str) -> str:
    """CEL: the time the API server stamped on this request is at or after ``moment`` (RFC 3339).

    CREATE: ``metadata.creationTimestamp``; UPDATE: any ``managedFields[].time`` (the writer's entry
    carries the time of this request when it changes the object). See the module docstring.
    """
    at = f"timestamp({literal(moment)})"
    return (
        f"(request.operation == 'CREATE' ? timestamp(string(object.metadata.creationTimestamp)) >= {at} : "
        f"object.metadata.?managedFields.orValue([]).exists(f, has(f.time) && "
        f"timestamp(string(f.time)) >= {at}))"
    )


def waiver_expression(waivers: Sequence[WaivedObjects]) -> str:
    """CEL that is true when one of ``waivers`` covers the object of this request and has not expired."""
    terms = []
    for w in waivers:
        end = (w.expires + timedelta(days=1)).isoformat() + "T00:00:00Z"
        terms.append(
            f"(request.kind.group == {literal(w.group)} && request.kind.kind == {literal(w.kind)} && "
            f"object.metadata.name in {literal(list(w.names))} && !{request_time_after(end)})"
        )
    return " || ".join(terms) if terms else "false"


CONTROLLERS: Final = (
    "(request.userInfo.username == 'system:kube-controller-manager'"
    " || request.userInfo.username.startsWith('system:serviceaccount:kube-system:'))"
)
"""The identities of the cluster's controllers: the controller manager's own, or each controller's
service account in kube-system (``--use-service-account-credentials``, kubeadm's default)."""
NOT_CONTROLLED: Final = (
    "!(object.metadata.?ownerReferences.orValue([]).exists(r, r.?controller.orValue(false) == true)"
    f" && {CONTROLLERS})"
)
"""An object a controller owns (a Deployment's ReplicaSets and Pods, a CronJob's Jobs), written by a
controller, is judged through its owner, as the packs judge what a program declares; its controller is
not stopped half-way. Anyone else's write is judged: a forged ``ownerReference`` exempts nothing."""
# Objects the control plane creates in every namespace (the service-account controller's `default`
# ServiceAccount, the root CA publisher's `kube-root-ca.crt` ConfigMap) and the API server's own
# `kubernetes` Service: refusing them would break the namespace, and no program chooses them.
NOT_KUBERNETES_OWNED: Final = (
    "!((request.kind.group == '' && request.kind.kind == 'ServiceAccount' && object.metadata.name == "
    "'default')"
    " || (request.kind.group == '' && request.kind.kind == 'ConfigMap' && "
    "object.metadata.name == 'kube-root-ca.crt')"
    " || (request.kind.group == '' && request.kind.kind == 'Service' && object.metadata.name == 'kubernetes'"
    " && object.metadata.?namespace.orValue('default') == 'default'))"
)


def render_rule(
    rule: Rule,
    admission: Cel,
    target: Target,
    entry: Mapping[str, Any] | str | None,
    waivers: Sequence[WaivedObjects],
    shared: Sequence[tuple[str, str]],
) -> list[dict[str, Any]] | str:
    """The policy and binding of one rule, or why none is rendered (a disabled level)."""
    level, cfg = rule_config(rule, entry)
    actions = ACTIONS.get(level)
    if actions is None:
        return f"level {level!r} in this environment's policy config"
    name = policy_name(target.environment, rule.name)
    violations = admission.violations_for(cfg)
    available = [*shared, *admission.variables, ("violations", violations)]
    message = f"'{rule.name}: ' + variables.violations.join('; ')"
    conditions = [
        {"name": "not-controlled", "expression": NOT_CONTROLLED},
        {"name": "not-created-by-kubernetes", "expression": NOT_KUBERNETES_OWNED},
    ]
    mine = [w for w in waivers if w.rule == rule.name]
    if mine and not rule.non_waivable:
        conditions.append({"name": "not-waived", "expression": f"!({waiver_expression(mine)})"})
    labels = {MANAGED_BY_LABEL: MANAGED_BY, ENVIRONMENT_LABEL: target.environment, RULE_LABEL: rule.name}
    annotations = {
        "mlops.dev/description": rule.description,
        "mlops.dev/remediation": rule.remediation,
        "mlops.dev/level": level,
    }
    if mine and not rule.non_waivable:
        annotations["mlops.dev/waivers"] = ", ".join(f"{w.source} (expires {w.expires})" for w in mine)
    policy = {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": admission.match.constraints(),
            "matchConditions": conditions,
            "variables": _needed([violations, message], available),
            "validations": [
                {
                    "expression": "size(variables.violations) == 0",
                    "messageExpression": message,
                    "message": f"{rule.name}: {rule.description}",
                    "reason": "Forbidden",
                }
            ],
        },
    }
    binding = {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "policyName": name,
            "validationActions": list(actions),
            "matchResources": {
                "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: target.namespace}},
            },
        },
    }
    return [policy, binding]


def render(
    rules: Sequence[Rule],
    target: Target,
    config: Mapping[str, Any] | None,
    waivers: Sequence[WaivedObjects] = (),
    shared: Sequence[tuple[str, str]] = (),
) -> Rendered:
    """Every admission object of an environment: a policy and a binding per rule CEL expresses.

    Args:
        rules: the catalogue's rules, in order.
        target: the environment, its namespace and tier.
        config: the environment's merged policy config (tier file with its override), None: the
            tier's defaults from the declarations.
        waivers: the environment's waivers, resolved to objects (non-waivable rules' are ignored).
        shared: the variables every rule's expressions may use (``policies/rules/_cel.py``).
    """
    objects: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for rule in rules:
        if not isinstance(rule.admission, Cel):
            skipped[rule.name] = rule.admission.why
            continue
        entry = (config or {}).get(rule.name, rule.config_for(target.tier))
        made = render_rule(rule, rule.admission, target, entry, waivers, shared)
        if isinstance(made, str):
            skipped[rule.name] = made
        else:
            objects += made
    return Rendered(objects, skipped)


# --- where the two engines differ ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Difference:
    """A known way the API server's verdict may differ from the packs' on what looks like one object.

    Each is named in ``policies/README.md`` and asserted by the equivalence tests
    (``tests/admission``), which classify every case they leave out by one of these.
    """

    id: str
    text: str


DIFFERENCES: Final = (
    Difference(
        "unknown-values",
        "A value unknown during preview is a violation in the packs (they cannot verify it); an object the "
        "API server admits has no unknown value.",
    ),
    Difference(
        "not-kubernetes",
        "Docker resources (and every other provider's) have no API server: admission policies are for "
        "Kubernetes objects.",
    ),
    Difference(
        "refused-by-the-api-server",
        "The API server validates an object (its schema, required fields, field rules such as a probe's "
        "handler, `maxReplicas` >= `minReplicas`) before validating admission runs: an object it refuses "
        "itself never reaches the policies, which the packs judge all the same.",
    ),
    Difference(
        "defaulted-by-the-api-server",
        "The API server fills defaults before admission and the policies judge the defaulted object: an "
        "autoscaling/v2 HPA without metrics gets a CPU metric, a pod with `hostNetwork` gets each "
        "container port as its `hostPort`, an HPA without `minReplicas` gets 1.",
    ),
    Difference(
        "empty-values-dropped",
        "Empty optional values (an empty string, `false`, an empty list or map of an omitempty field) are "
        'dropped when the API server decodes an object: an Ingress TLS entry with `secretName: ""` has no '
        'secretName, an env var with `value: ""` has no value.',
    ),
    Difference(
        "canonical-quantities",
        "Resource quantities reach the policies in canonical form (`0Mi` is `0`, `0.5` is `500m`): a "
        "request of `0Mi` passes in the packs (not `0`, `0m` or `0.0`) and fails in the cluster.",
    ),
    Difference(
        "controller-owned",
        "An object with a controller `ownerReference` (a Deployment's ReplicaSets and Pods, a CronJob's "
        "Jobs) written by one of the cluster's controllers (the user `system:kube-controller-manager` or "
        "a service account of `kube-system`) is not judged in the cluster: it is judged through its "
        "owner, as the packs judge what a program declares, and its controller is never stopped "
        "half-way. Written by anyone else, it is judged: a forged `ownerReference` exempts nothing.",
    ),
    Difference(
        "created-by-kubernetes",
        "Objects the control plane creates in every namespace (the `default` ServiceAccount, the "
        "`kube-root-ca.crt` ConfigMap, the `kubernetes` Service in `default`) and the kinds it writes on "
        "its own (Events, Endpoints, EndpointSlices, Leases) are not judged in the cluster: refusing them "
        "would break the namespace. The packs judge them when a program declares one.",
    ),
    Difference(
        "ascii-text",
        "CEL's text functions are ASCII where Python's are Unicode: `upperAscii`/`lowerAscii` against "
        "`upper`/`lower`, RE2's `\\s`, `\\w`, `\\b` and `[0-9]` against Python's Unicode classes and "
        "`isdigit`, `trim` against `strip`; on ASCII text (every Kubernetes name, label and most values) "
        "they agree.",
    ),
    Difference(
        "namespace-from-request",
        "The API server fills `metadata.namespace` from the request, and each binding matches the "
        "environment's namespace only: `namespace-not-default`'s \"not set\" never fires in the cluster.",
    ),
    Difference(
        "waivers-by-object",
        "A waiver selects Pulumi resources (a name or URN glob); in the cluster it covers the objects "
        "(API group, kind, `metadata.name`) that the environment's program declares under the resources "
        "it selects, resolved when the policies are rendered. An object of another name is never waived, "
        "and a waiver holds through its `expires` day in UTC.",
    ),
)
DIFFERENCE_IDS: Final = frozenset(d.id for d in DIFFERENCES)
