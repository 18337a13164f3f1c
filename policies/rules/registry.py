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
from mlops_platform.policies.rules import _common
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


def model_version_model_card(res: Res, cfg: Config) -> list[str]:
    judged, out = _resolved(res, cfg_list(cfg, "riskTiers") or ["high"])
    if not judged:
        return out
    card = _common.annotation(res, L.REGISTRY_MODEL_CARD)
    if not isinstance(card, str) or not card.startswith("https://"):
        tier = _common.label(res, L.RISK_TIER)
        return [f'{tier}-risk {_who(res)} links no model card (https) in tag "{L.TAG_MODEL_CARD_URL}"']
    return []


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
