"""Registry-aware governance rules (issue 15): judge the model version the registry resolved.

The program records what the model registry answered on each serving workload (annotations
``labels.REGISTRY_*``, written only when ``environment.registry_source`` is set): these rules read
them. A workload whose registry was not consulted is not theirs to judge (no violation, as for every
rule's non-applicable resources); an *unresolved* version is a violation of ``model-version-resolved``
and is not judged further (there is no version to judge).
"""

from __future__ import annotations

import json
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.policies import evidence as ev
from mlops_platform.policies.controls import partial
from mlops_platform.policies.declaration import (
    BOTH,
    MANDATORY_IN_PROD,
    STRING_LIST,
    Cel,
    NotInCel,
    Pack,
    ResourceRule,
    Severity,
    StackRule,
)
from mlops_platform.policies.evidence import EvidenceSelector
from mlops_platform.policies.rules import _cel as cel
from mlops_platform.policies.rules import _common
from mlops_platform.policies.rules import _scopes as scope
from mlops_platform.policies.rules._model import (
    Config,
    Res,
    as_int,
    cfg_list,
    hkey,
    is_unknown,
    unknown_message,
)
from mlops_platform.thresholds import meets, parse_threshold

RESOLVED, UNRESOLVED = "resolved", "unresolved"
PASSED = "passed"


def _consulted(res: Res) -> Any:
    """The workload's resolution status when a registry was consulted for it, else None."""
    if not _common.is_serving(res):
        return None
    return _common.annotation(res, L.REGISTRY_RESOLUTION)


def _who(res: Res) -> str:
    model, version = _common.label(res, L.MODEL), _common.annotation(res, L.REGISTRY_VERSION)
    return f'version {version} of "{model}"'


def _json(res: Res, key: str) -> dict[str, Any] | None:
    text = _common.annotation(res, key)
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _resolved(res: Res, tiers: list[str] | None = None) -> tuple[bool, list[str]]:
    """(judge it?, messages): only resolved workloads (of ``tiers``, when given) are judged."""
    status = _consulted(res)
    if status is None:
        return False, []
    if is_unknown(status):
        return False, [unknown_message(f'annotation "{L.REGISTRY_RESOLUTION}"')]
    if status != RESOLVED:
        return False, []
    if tiers is not None and _common.label(res, L.RISK_TIER) not in tiers:
        return False, []
    return True, []


def _tags(res: Res) -> tuple[dict[str, Any] | None, list[str]]:
    tags = _json(res, L.REGISTRY_TAGS)
    if tags is None:
        return None, [f'{_who(res)}: annotation "{L.REGISTRY_TAGS}" is missing or not a JSON object']
    return tags, []


def model_version_resolved(res: Res, cfg: Config) -> list[str]:
    status = _consulted(res)
    if status is None:
        return []
    if is_unknown(status):
        return [unknown_message(f'annotation "{L.REGISTRY_RESOLUTION}"', "the served version")]
    if status == RESOLVED and as_int(_common.annotation(res, L.REGISTRY_VERSION)) is not None:
        return []
    ref = _common.annotation(res, L.REGISTRY_REF)
    error = _common.annotation(res, L.REGISTRY_ERROR) or f'"{L.REGISTRY_RESOLUTION}" is "{status}"'
    return [f'{ref} of model "{_common.label(res, L.MODEL)}" is not resolved in the registry: {error}']


def _cel_version_resolved() -> str:
    """CEL of ``model_version_resolved``: a resolved status with an integer version passes."""
    status, error = cel.opt_annotation(L.REGISTRY_RESOLUTION), cel.annotation_or(L.REGISTRY_ERROR, "")
    version = cel.annotation_or(L.REGISTRY_VERSION, "")
    fallback = (
        f"{cel.lit(chr(34) + L.REGISTRY_RESOLUTION + chr(34) + ' is ')} + {cel.quoted(status + '.value()')}"
    )
    return (
        f"!(variables.isServing && {status}.hasValue()) ? [] : "
        f"({status}.value() == {cel.lit(RESOLVED)} && {version}.trim().matches('^-?[0-9]+$')) ? [] : "
        f"[{cel.annotation_or(L.REGISTRY_REF, 'None')} + ' of model ' + "
        f"{cel.quoted(cel.label_or(L.MODEL, 'None'))} + "
        f"' is not resolved in the registry: ' + ({error} != '' ? {error} : {fallback})]"
    )


MODEL_VERSION_RESOLVED = ResourceRule(
    name="model-version-resolved",
    pack=Pack.GOVERNANCE,
    description="A served model's alias or version must resolve in the model registry the environment names.",
    check=model_version_resolved,
    applies_to=scope.REGISTRY_CONSULTED,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "eu-ai-act:Art.12",
            rationale="the exact registry version served is resolved and recorded",
            missing="automatic logging of events over the system's lifetime: not checked",
        ),
        partial(
            "eu-ai-act:Art.9",
            rationale="what is served is a known registered version",
            missing="the article binds the provider's processes and documentation: only the declared "
            "configuration is checked",
        ),
        partial(
            "nist-ai-rmf:MANAGE-1.3",
            rationale="the served version is traceable",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:MEASURE-2.1",
            rationale="the served version links its registry record",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:CM-8",
            rationale="the model inventory names exact versions",
            missing="the inventory's upkeep and review: not checked",
        ),
    ),
    admission=Cel(match=cel.SERVING, violations=_cel_version_resolved()),
    evidence=EvidenceSelector(
        reads=ev.label(L.REGISTRY_RESOLUTION, L.REGISTRY_REF, L.REGISTRY_VERSION, L.REGISTRY_ERROR)
    ),
    remediation="Make the registry reachable with the configured credentials, or audit from a snapshot "
    "(`mlops registry snapshot ENV -o FILE`, then `mlops audit ENV --registry-snapshot FILE`); register the "
    "missing version or point the alias at one.",
)


def model_version_approved(res: Res, cfg: Config) -> list[str]:
    judged, out = _resolved(res, cfg_list(cfg, "riskTiers") or None)
    if not judged:
        return out
    tags, out = _tags(res)
    if tags is None:
        return out
    expected = _common.annotation(res, L.APPROVAL_REF)
    actual = tags.get(L.TAG_APPROVAL_REF)
    if not isinstance(expected, str) or not expected.strip():
        return [f"{_who(res)} cannot be matched to an approval: the spec declares no governance.approval_ref"]
    if not actual:
        return [f'{_who(res)} carries no "{L.TAG_APPROVAL_REF}" tag; expected "{expected}"']
    if actual != expected:
        return [
            f'{_who(res)} is approved under "{actual}", not the spec\'s "{expected}" '
            f'(tag "{L.TAG_APPROVAL_REF}")'
        ]
    return []


MODEL_VERSION_APPROVED = ResourceRule(
    name="model-version-approved",
    pack=Pack.GOVERNANCE,
    description="The served version must carry an approval tag equal to the spec's approval reference.",
    check=model_version_approved,
    applies_to=scope.REGISTRY_CONSULTED,
    targets=BOTH,
    severity=Severity.HIGH,
    levels=MANDATORY_IN_PROD,
    mappings=(
        partial(
            "eu-ai-act:Art.14",
            rationale="the served version carries the approval tag the spec names",
            missing="human oversight measures during use: not checked",
        ),
        partial(
            "eu-ai-act:Art.9",
            rationale="the served version was approved",
            missing="the article binds the provider's processes and documentation: only the declared "
            "configuration is checked",
        ),
        partial(
            "nist-ai-rmf:MANAGE-1.1",
            rationale="a go decision is recorded for the served version",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:GOVERN-1.4",
            rationale="approval is recorded in the registry",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:CA-6",
            rationale="an approval is recorded on the version",
            missing="the authorisation decision itself: not checked",
        ),
    ),
    admission=NotInCel(
        "judges the version's registry tags (approval reference), which the program records as a JSON "
        "annotation: CEL in the API "
        "server cannot decode JSON"
    ),
    evidence=EvidenceSelector(reads=ev.label(L.REGISTRY_VERSION, L.REGISTRY_TAGS, L.APPROVAL_REF)),
    schema={"riskTiers": {**STRING_LIST, "default": ["minimal", "limited", "high"]}},
    remediation=f"Tag the approved version `{L.TAG_APPROVAL_REF}=<governance.approval_ref>` in the registry "
    "(`MlflowClient().set_model_version_tag`) or serve the version the approval covers.",
)


def model_version_validated(res: Res, cfg: Config) -> list[str]:
    judged, out = _resolved(res, cfg_list(cfg, "riskTiers") or None)
    if not judged:
        return out
    tags, out = _tags(res)
    if tags is None:
        return out
    status = tags.get(L.TAG_VALIDATION_STATUS)
    if not status:
        return [f'{_who(res)} has no "{L.TAG_VALIDATION_STATUS}" tag; expected "{PASSED}"']
    if status != PASSED:
        return [
            f'{_who(res)} has validation status "{status}" (tag "{L.TAG_VALIDATION_STATUS}"); '
            f'expected "{PASSED}"'
        ]
    return []


MODEL_VERSION_VALIDATED = ResourceRule(
    name="model-version-validated",
    pack=Pack.GOVERNANCE,
    description="The served version's validation status must be passed.",
    check=model_version_validated,
    applies_to=scope.REGISTRY_CONSULTED,
    targets=BOTH,
    severity=Severity.HIGH,
    levels=MANDATORY_IN_PROD,
    mappings=(
        partial(
            "eu-ai-act:Art.15",
            rationale="the served version passed validation",
            missing="the validation's content and levels: not checked",
        ),
        partial(
            "eu-ai-act:Art.9",
            rationale="testing is part of what is served",
            missing="the article binds the provider's processes and documentation: only the declared "
            "configuration is checked",
        ),
        partial(
            "nist-ai-rmf:MEASURE-2.3",
            rationale="validation passed for the served version",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:MANAGE-1.1",
            rationale="deployment proceeds only after validation",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:SA-11",
            rationale="the version passed the developer's validation",
            missing="the test plan and its evidence: not checked",
        ),
    ),
    admission=NotInCel(
        "judges the version's registry tags (validation status), which the program records as a JSON "
        "annotation: CEL in the API "
        "server cannot decode JSON"
    ),
    evidence=EvidenceSelector(reads=ev.label(L.REGISTRY_VERSION, L.REGISTRY_TAGS)),
    schema={"riskTiers": {**STRING_LIST, "default": ["minimal", "limited", "high"]}},
    remediation=f"Run the validation pipeline and tag the version `{L.TAG_VALIDATION_STATUS}=passed`, or "
    "serve a version that passed.",
)


def model_version_metrics(res: Res, cfg: Config) -> list[str]:
    judged, out = _resolved(res)
    if not judged:
        return out
    thresholds = _json(res, L.METRIC_THRESHOLDS)
    if thresholds is None:
        return []  # the spec declares no thresholds for this model
    metrics = _json(res, L.REGISTRY_METRICS)
    if metrics is None:
        return [f'{_who(res)}: annotation "{L.REGISTRY_METRICS}" is missing or not a JSON object']
    for name, text in sorted(thresholds.items()):
        try:
            threshold = parse_threshold(text)
        except ValueError as exc:
            out.append(f'{_who(res)}: threshold of "{name}" {exc}')
            continue
        value = metrics.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            out.append(f'{_who(res)} logged no "{name}" metric (threshold {threshold})')
        elif not meets(float(value), threshold):
            out.append(f"{_who(res)}: {name} {value:g} does not meet {threshold}")
    return out


MODEL_VERSION_METRICS = ResourceRule(
    name="model-version-metrics",
    pack=Pack.GOVERNANCE,
    description="The served version's logged metrics must meet the thresholds the spec declares.",
    check=model_version_metrics,
    applies_to=scope.REGISTRY_CONSULTED,
    targets=BOTH,
    severity=Severity.HIGH,
    levels=MANDATORY_IN_PROD,
    mappings=(
        partial(
            "eu-ai-act:Art.15",
            rationale="logged metrics meet the declared thresholds",
            missing="the metrics' appropriateness and how they were measured: not checked",
        ),
        partial(
            "eu-ai-act:Art.10",
            rationale="quality thresholds gate the served version",
            missing="data governance practices for training data: not checked",
        ),
        partial(
            "nist-ai-rmf:MEASURE-2.3",
            rationale="performance criteria are met for the served version",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:MEASURE-2.5",
            rationale="validity is shown by logged metrics",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:SA-11",
            rationale="test results meet thresholds",
            missing="the test plan and its evidence: not checked",
        ),
    ),
    admission=NotInCel(
        "judges the version's run metrics against the spec's thresholds, which the program records as a "
        "JSON annotation: CEL in the API "
        "server cannot decode JSON"
    ),
    evidence=EvidenceSelector(reads=ev.label(L.REGISTRY_VERSION, L.REGISTRY_METRICS, L.METRIC_THRESHOLDS)),
    remediation="Serve a version whose run logged every metric of `governance.metric_thresholds` at the "
    "required level, or revise the thresholds through model-risk review.",
)


def model_version_model_card(res: Res, cfg: Config) -> list[str]:
    judged, out = _resolved(res, cfg_list(cfg, "riskTiers") or ["high"])
    if not judged:
        return out
    card = _common.annotation(res, L.REGISTRY_MODEL_CARD)
    if not isinstance(card, str) or not card.startswith("https://"):
        tier = _common.label(res, L.RISK_TIER)
        return [f'{tier}-risk {_who(res)} links no model card (https) in tag "{L.TAG_MODEL_CARD_URL}"']
    return []


MODEL_VERSION_MODEL_CARD = ResourceRule(
    name="model-version-model-card",
    pack=Pack.GOVERNANCE,
    description="A high-risk model's served version must link a model card in the registry.",
    check=model_version_model_card,
    applies_to=scope.REGISTRY_CONSULTED,
    targets=BOTH,
    severity=Severity.HIGH,
    levels=MANDATORY_IN_PROD,
    mappings=(
        partial(
            "eu-ai-act:Art.11",
            rationale="the served version links a model card",
            missing="the card's content (Annex IV): not checked",
        ),
        partial(
            "eu-ai-act:Art.13",
            rationale="deployers can reach the model's documentation",
            missing="the instructions for use and their content: not checked",
        ),
        partial(
            "nist-ai-rmf:MEASURE-2.9",
            rationale="the served version is documented",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:GOVERN-1.4",
            rationale="documentation is linked in the registry",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
    ),
    admission=NotInCel(
        "judges the version's registry tags (model card), which the program records as a JSON annotation: "
        "CEL in the API "
        "server cannot decode JSON"
    ),
    evidence=EvidenceSelector(reads=ev.label(L.RISK_TIER, L.REGISTRY_VERSION, L.REGISTRY_MODEL_CARD)),
    schema={"riskTiers": {**STRING_LIST, "default": ["high"]}},
    remediation=f"Tag the version `{L.TAG_MODEL_CARD_URL}=https://...` with its model card.",
)


def model_canary_newer_version(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    """A canary must serve a newer registry version than the stable track of the same model."""
    tracks: dict[tuple[Any, Any], dict[str, tuple[Res, int]]] = {}
    for res in resources:
        if _consulted(res) != RESOLVED:
            continue
        version = as_int(_common.annotation(res, L.REGISTRY_VERSION))
        track, model = _common.label(res, L.TRACK), _common.label(res, L.MODEL)
        if version is None or hkey(track) not in ("stable", "canary") or is_unknown(model):
            continue
        namespace = _common.label(res, L.ENVIRONMENT)
        tracks.setdefault((hkey(namespace), hkey(model)), {})[str(track)] = (res, version)
    out: list[tuple[str, str]] = []
    for (_namespace, model), found in sorted(tracks.items(), key=lambda kv: str(kv[0])):
        if "stable" not in found or "canary" not in found:
            continue
        (canary, canary_version), (_stable, stable_version) = found["canary"], found["stable"]
        if canary_version <= stable_version:
            out.append(
                (
                    canary.urn,
                    f'{canary.label}: the canary of "{model}" serves version {canary_version}, '
                    f"not newer than the stable version {stable_version}",
                )
            )
    return out


MODEL_CANARY_NEWER_VERSION = StackRule(
    name="model-canary-newer-version",
    pack=Pack.GOVERNANCE,
    description="A canary must serve a newer registry version than its model's stable track.",
    check=model_canary_newer_version,
    applies_to=scope.REGISTRY_CONSULTED,
    targets=BOTH,
    severity=Severity.MEDIUM,
    levels=MANDATORY_IN_PROD,
    mappings=(
        partial(
            "nist-ai-rmf:MANAGE-2.4",
            rationale="a canary can be rolled back to the older stable version",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "eu-ai-act:Art.9",
            rationale="changes are rolled out as a canary of a newer version",
            missing="the article binds the provider's processes and documentation: only the declared "
            "configuration is checked",
        ),
        partial(
            "nist-ai-rmf:MANAGE-4.1",
            rationale="the rollout is monitored as a canary",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:CM-3",
            rationale="a model change is rolled out stepwise",
            missing="the change-control process (review, approval, records): not checked",
        ),
    ),
    admission=NotInCel(
        "compares a model's canary with its stable Deployment: two objects, and an admission policy sees one"
    ),
    evidence=EvidenceSelector(reads=ev.label(L.MODEL, L.TRACK, L.REGISTRY_VERSION)),
    remediation="Point the canary's alias at a version newer than the stable one, or promote the canary and "
    "remove it.",
)
