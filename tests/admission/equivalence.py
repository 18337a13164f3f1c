"""Both engines on one object: the packs' verdict (each rule's real ``validate``) and the API server's.

For an object the API server admits, its verdict is compared with the packs' twice: on the object as
sent, and on the object as the API server holds it (the dry-run answer of a namespace with no policy:
defaulted, empty values dropped, quantities canonical). The API server's verdict must equal the packs'
on the held object, always; where the packs' verdict on the sent object differs, the difference is one
of the named normalizations (``policies/admission.py`` ``DIFFERENCES``), recorded for the test to
assert.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_platform.policies.admission import Cel, policy_name, rule_config
from mlops_platform.policies.catalogue import RULES
from mlops_platform.policies.declaration import Rule
from mlops_platform.policies.packs import build_policy
from mlops_platform.tools.findings import SECRET_MARKER
from tests.admission.apiserver import ApiServer, Verdict
from tests.policies.policy_fixtures import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    NotApplicable,
    R,
    run_policy,
)

CEL_RULES: list[Rule] = [r for r in RULES if isinstance(r.admission, Cel)]
_POLICIES = {r.name: build_policy(r) for r in CEL_RULES}
_UNKNOWNS = {UNKNOWN_ARRAY_VALUE, UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE}
_UNKNOWNS.add(UNKNOWN_STRING_VALUE)
_ENGINE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # mlops_platform.tools.engine.props.UNKNOWN
SECRET_STANDIN = "cmVkYWN0ZWQ="  # base64 "redacted": valid wherever a secret value may sit


def api_version(type_token: str) -> tuple[str, str]:
    """``kubernetes:apps/v1:Deployment`` -> ``("apps/v1", "Deployment")``."""
    _, group_version, kind = type_token.split(":")
    group, version = group_version.rsplit("/", 1)
    return (version if group == "core" else f"{group}/{version}"), kind


def type_token(obj: Mapping[str, Any]) -> str:
    api, kind = obj["apiVersion"], obj["kind"]
    group_version = f"core/{api}" if "/" not in api else api
    return f"kubernetes:{group_version}:{kind}"


def has_unknown(value: Any) -> bool:
    if isinstance(value, str):
        return value in _UNKNOWNS or value == _ENGINE_UNKNOWN
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


_SECRET_MAPS = ("data", "stringData", "binaryData")  # a Secret's or ConfigMap's maps, secret as a whole


def without_secrets(value: Any) -> Any:
    """Captured inputs with each secret marker replaced by a stand-in string (a map of one)."""
    if value == SECRET_MARKER:
        return SECRET_STANDIN
    if isinstance(value, dict):
        return {
            k: {"redacted": SECRET_STANDIN}
            if k in _SECRET_MAPS and v == SECRET_MARKER
            else without_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def to_object(token: str, props: Mapping[str, Any], *, name: str, namespace: str | None) -> dict[str, Any]:
    """A Kubernetes object from a resource's type token and inputs (namespace set when given)."""
    api, kind = api_version(token)
    obj = copy.deepcopy(dict(props))
    obj["apiVersion"], obj["kind"] = api, kind
    metadata = obj.setdefault("metadata", {})
    metadata.setdefault("name", name)
    if namespace is not None:
        metadata["namespace"] = namespace
    return obj


Outcome = tuple[str, ...] | None
"""A rule's verdict: its messages (empty: passed), or None: not applicable."""


def pack_verdicts(obj: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Outcome]:
    """Each CEL rule's verdict from its pack policy on ``obj`` (config: the merged policy config)."""
    token = type_token(obj)
    res = R(token, str(obj["metadata"].get("name", "x")), dict(obj))
    out: dict[str, Outcome] = {}
    for rule in CEL_RULES:
        _level, cfg = rule_config(rule, config.get(rule.name))
        result = run_policy(_POLICIES[rule.name], res, cfg)
        out[rule.name] = None if isinstance(result, NotApplicable) else tuple(result)
    return out


def failed(verdicts: Mapping[str, Outcome]) -> dict[str, str]:
    """The rules that report violations, with the message a policy would give (``rule: m1; m2``)."""
    return {rule: f"{rule}: " + "; ".join(msgs) for rule, msgs in verdicts.items() if msgs}


def cluster_failed(verdict: Verdict, environment: str) -> dict[str, str]:
    """The rules whose policies (of ``environment``) warned or denied, with their messages."""
    prefix = policy_name(environment, "")
    out = {p.removeprefix(prefix): m for p, m in verdict.warned.items() if p.startswith(prefix)}
    if verdict.denied and verdict.denied[0].startswith(prefix):
        out[verdict.denied[0].removeprefix(prefix)] = verdict.denied[1]
    return out


def differences_between(sent: Any, held: Any, path: str = "") -> set[str]:
    """Which named normalizations turn ``sent`` into ``held`` (fields the server adds of its own, such
    as ``metadata.uid`` or ``status``, count as defaults)."""
    found: set[str] = set()
    if isinstance(sent, dict) and isinstance(held, dict):
        for key, value in sent.items():
            if key not in held:
                if value in ("", False, [], {}, None, 0):
                    found.add("empty-values-dropped")
                else:
                    found.add(f"unexplained:{path}.{key}")
            else:
                found |= differences_between(value, held[key], f"{path}.{key}")
        if any(key not in sent for key in held):
            found.add("defaulted-by-the-api-server")
    elif isinstance(sent, list) and isinstance(held, list):
        for i, (a, b) in enumerate(zip(sent, held, strict=False)):
            found |= differences_between(a, b, f"{path}[{i}]")
        if len(sent) != len(held):
            found.add("defaulted-by-the-api-server" if len(held) > len(sent) else f"unexplained:{path}")
    elif sent != held:
        if (
            isinstance(sent, str)
            and isinstance(held, str)
            and _QUANTITY.match(sent)
            and _QUANTITY.match(held)
        ):
            found.add("canonical-quantities")
        elif isinstance(sent, int | float) and isinstance(held, int | float) and float(sent) == float(held):
            pass
        elif str(sent) == str(held):
            found.add("canonical-quantities")  # a number sent where the API holds a quantity string
        else:
            found.add(f"unexplained:{path}")
    return found


_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[mkunE])?$")


@dataclass
class Comparison:
    """One object judged by both engines."""

    label: str
    obj: dict[str, Any]
    status: str = ""
    """admitted / warned / refused-by-the-api-server / not-served."""
    cluster: dict[str, str] = field(default_factory=dict)
    packs_on_sent: dict[str, str] = field(default_factory=dict)
    packs_on_held: dict[str, str] = field(default_factory=dict)
    normalizations: set[str] = field(default_factory=set)

    @property
    def equal_on_held(self) -> bool:
        return self.cluster == self.packs_on_held

    @property
    def equal_on_sent(self) -> bool:
        return self.cluster == self.packs_on_sent

    def explain(self) -> str:
        return json.dumps(
            {
                "case": self.label,
                "status": self.status,
                "cluster": self.cluster,
                "packs_on_sent": self.packs_on_sent,
                "packs_on_held": self.packs_on_held,
                "normalizations": sorted(self.normalizations),
            },
            indent=1,
        )


def compare(
    api: ApiServer,
    label: str,
    obj: dict[str, Any],
    *,
    environment: str,
    config: Mapping[str, Any],
    judged_ns: str,
    raw_ns: str,
    per_rule_ns: Mapping[str, str],
) -> Comparison:
    """Send ``obj`` (dry run) to ``judged_ns`` (every policy of ``environment`` warns there) and to
    ``raw_ns`` (no policy: the held object), and run the packs on both.

    When the warnings were truncated (more than 4 KiB of them), each failing rule is asked again in
    its own namespace (``per_rule_ns``: one rule's binding each).
    """
    comparison = Comparison(label, obj)
    if obj.get("kind") == "Namespace":  # judge a fresh namespace like it (the policies' bindings name it)
        obj = copy.deepcopy(obj)
        obj["metadata"]["name"] = probe_namespace(judged_ns)
        comparison.obj = obj
    raw = api.create(
        _in(obj, raw_ns) if obj.get("kind") != "Namespace" else _renamed(obj, probe_namespace(raw_ns))
    )
    if raw is None:
        comparison.status = "not-served"
        return comparison
    if not raw.admitted:
        comparison.status = "refused-by-the-api-server"
        comparison.cluster = {"": raw.error}
        return comparison
    held = _in(raw.body or {}, judged_ns)
    verdict = api.create(_in(obj, judged_ns))
    assert verdict is not None
    if not verdict.admitted:
        raise AssertionError(f"{label}: refused in the judged namespace only: {verdict}")
    cluster = cluster_failed(verdict, environment)
    if verdict.truncated:
        cluster = {}
        for rule, ns in per_rule_ns.items():
            single = api.create(_in(obj, ns))
            assert single is not None and single.admitted and len(single.warned) <= 1, (label, rule, single)
            cluster.update(cluster_failed(single, environment))
    comparison.cluster = cluster
    comparison.status = "warned" if cluster else "admitted"
    sent = _in(obj, judged_ns)
    comparison.packs_on_sent = failed(pack_verdicts(sent, config))
    comparison.packs_on_held = failed(pack_verdicts(held, config))
    if comparison.packs_on_sent != comparison.packs_on_held:
        comparison.normalizations = differences_between(
            _strip_server_fields(sent), _strip_server_fields(held)
        )
    return comparison


def probe_namespace(namespace: str) -> str:
    """The name a Namespace object is judged under in ``namespace``'s bindings (it must not exist)."""
    return f"{namespace}-nsprobe"


def _renamed(obj: Mapping[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    out["metadata"]["name"] = name
    return out


def _in(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    metadata = out.setdefault("metadata", {})
    if out.get("kind") != "Namespace":
        metadata["namespace"] = namespace
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        metadata.pop(key, None)
    out.pop("status", None)
    return out


def _strip_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out.pop("status", None)
    return out


def binding_for(environment: str, rule: str, namespaces: Iterable[str]) -> dict[str, Any]:
    """A binding of ``environment``'s policy of ``rule`` that only warns, in ``namespaces``."""
    name = policy_name(environment, rule)
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Warn"],
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(namespaces)}
                    ]
                }
            },
        },
    }
