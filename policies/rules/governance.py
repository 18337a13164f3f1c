"""Governance rules: ownership labels, model metadata and provenance, monitoring, drift, classification."""

from __future__ import annotations

import re
from typing import Any

import yaml

from mlops_platform import vocabulary as L
from mlops_platform.policies.rules import _common, _docker, _inference, _k8s
from mlops_platform.policies.rules._model import (
    Config,
    Res,
    as_dict,
    as_list,
    cfg_list,
    get,
    hkey,
    is_unknown,
    unknown_message,
)

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in

RISK_TIERS = ("minimal", "limited", "high")
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")  # ordered, least to most sensitive
TRACKS = ("stable", "canary")
APP_LABELS = (L.APP_NAME, L.APP_INSTANCE, L.APP_COMPONENT, L.APP_PART_OF, L.APP_MANAGED_BY)
_MODEL_URI_RE = re.compile(r"^models:/(?P<name>[^/]+)/(?P<ref>[^/]+)$")
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
PROMETHEUS_RULES = "/etc/prometheus/rules/models.yml"


def _label_sets(res: Res) -> list[tuple[str, Any]]:
    """Where labels must be present: the object, and for k8s workloads the pod template too."""
    sets: list[tuple[str, Any]] = [
        ("labels" if res.is_docker else "metadata.labels", _common.object_labels(res))
    ]
    if _k8s.is_workload(res):
        sets.append(("pod template labels", _k8s.pod_labels(res)))
    return sets


def _require_labels(res: Res, keys: list[str] | tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for where, labels in _label_sets(res):
        if is_unknown(labels):
            out.append(unknown_message(where))
            continue
        labels = as_dict(labels)
        for key in keys:
            value = labels.get(key)
            if is_unknown(value):
                out.append(unknown_message(f'{where} "{key}"'))
            elif not isinstance(value, str) or not value.strip():
                out.append(f'{where} lack "{key}"')
    return out


def resource_ownership_labels(res: Res, cfg: Config) -> list[str]:
    if not _common.labelable(res):
        return []
    return _require_labels(res, cfg_list(cfg, "requiredLabels"))


def resource_app_labels(res: Res, cfg: Config) -> list[str]:
    if not _common.labelable(res):
        return []
    return _require_labels(res, APP_LABELS)


def model_serving_labels(res: Res, cfg: Config) -> list[str]:
    if not _common.is_serving(res):
        return []
    out = _require_labels(res, (L.MODEL, L.MODEL_VERSION, L.RISK_TIER, L.DATA_CLASSIFICATION, L.TRACK))
    for key, allowed in (
        (L.RISK_TIER, RISK_TIERS),
        (L.DATA_CLASSIFICATION, CLASSIFICATIONS),
        (L.TRACK, TRACKS),
    ):
        value = _common.label(res, key)
        if isinstance(value, str) and value and value not in allowed:
            out.append(f'"{key}" is "{value}"; expected one of {", ".join(allowed)}')
    for key in (L.MODEL_URI, L.MODEL_SOURCE, L.DRIFT_CHECK):
        value = _common.annotation(res, key)
        if is_unknown(value):
            out.append(unknown_message(f'annotation "{key}"'))
        elif not isinstance(value, str) or not value.strip():
            out.append(f'annotation "{key}" is missing')
    return out


def model_registry_source(res: Res, cfg: Config) -> list[str]:
    if not _common.is_serving(res):
        return []
    sources = cfg_list(cfg, "allowedSources")
    aliases = cfg_list(cfg, "approvedAliases")
    source, uri = _common.annotation(res, L.MODEL_SOURCE), _common.annotation(res, L.MODEL_URI)
    if is_unknown(source) or is_unknown(uri):
        return [unknown_message(f"{L.MODEL_SOURCE}/{L.MODEL_URI}", "the model's provenance")]
    if source not in sources:
        shown = "not declared" if source is None else f'"{source}"'
        return [f"model source is {shown}; allowed: {', '.join(sources)} ({L.MODEL_SOURCE})"]
    if source == "uri":
        return []
    match = _MODEL_URI_RE.match(uri) if isinstance(uri, str) else None
    if match is None:
        return [f'model URI "{uri}" is not a registry reference (models:/<name>/<version-or-alias>)']
    out = []
    model = _common.label(res, L.MODEL)
    if isinstance(model, str) and model and match["name"] != model:
        out.append(
            f'model URI "{uri}" names registered model "{match["name"]}", but the workload serves "{model}"'
        )
    ref = match["ref"]
    if source == "registry-version" and not ref.isdigit():
        out.append(f'model URI "{uri}" is declared registry-version but "{ref}" is not a version number')
    if source == "registry-alias" and ref not in aliases:
        out.append(f'model alias "{ref}" is not approved ({", ".join(aliases) or "none configured"})')
    return out


def model_artifact_pinned(res: Res, cfg: Config) -> list[str]:
    """A model a server pulls from a hub at start must be pinned to a revision (else it can change)."""
    return [
        f'{where} pulls model "{name}" from a hub at start without a revision (--revision or REVISION)'
        for where, name in _inference.unpinned_models(res)
    ]


def model_high_risk_documentation(res: Res, cfg: Config) -> list[str]:
    if not _common.is_serving(res):
        return []
    tiers = cfg_list(cfg, "riskTiers") or ["high"]
    tier = _common.label(res, L.RISK_TIER)
    if is_unknown(tier):
        return [unknown_message(f'label "{L.RISK_TIER}"', "whether model documentation is required")]
    if tier not in tiers:
        return []
    out = []
    card = _common.annotation(res, L.MODEL_CARD_URL)
    if is_unknown(card):
        out.append(unknown_message(f'annotation "{L.MODEL_CARD_URL}"'))
    elif not isinstance(card, str) or not card.startswith("https://"):
        out.append(f'{tier}-risk model has no model card URL (https) in "{L.MODEL_CARD_URL}"')
    approval = _common.annotation(res, L.APPROVAL_REF)
    if is_unknown(approval):
        out.append(unknown_message(f'annotation "{L.APPROVAL_REF}"'))
    elif not isinstance(approval, str) or not approval.strip():
        out.append(f'{tier}-risk model has no approval reference in "{L.APPROVAL_REF}"')
    return out


# --- stack rules -------------------------------------------------------------------------------


def _serving(resources: list[Res]) -> list[tuple[Res, Any]]:
    """Serving workloads with their model name (may be unknown or missing)."""
    return [(r, _common.label(r, L.MODEL)) for r in resources if _common.is_serving(r)]


def _upload(res: Res, path: str) -> Any:
    for upload in as_list(res.props.get("uploads")):
        if get(upload, "file") == path:
            return get(upload, "content")
    return None


def _yaml(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError:
        return None


def _groups_with_alerts(groups: Any) -> set[str]:
    """Names of rule groups holding at least one alerting rule."""
    return {
        g["name"]
        for g in as_list(groups)
        if isinstance(g, dict)
        and isinstance(g.get("name"), str)
        and any(isinstance(r, dict) and r.get("alert") for r in as_list(g.get("rules")))
    }


def model_monitoring_coverage(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    monitors: set[Any] = set()
    k8s_groups: dict[Any, set[str]] = {}
    for res in resources:
        if res.type == _k8s.SERVICE_MONITOR:
            monitors.add(hkey(as_dict(_k8s.object_labels(res)).get(L.SCRAPE_TARGET)))
        elif res.type == _k8s.PROMETHEUS_RULE:
            model = hkey(as_dict(_k8s.object_labels(res)).get(L.ALERT_RULES_FOR))
            k8s_groups.setdefault(model, set()).update(_groups_with_alerts(get(res.props, "spec", "groups")))
    prometheus = [
        r
        for r in resources
        if r.type == _docker.CONTAINER
        and _common.is_component(r, L.COMPONENT_MONITORING)
        and _common.label(r, L.APP_NAME) == "prometheus"
    ]
    jobs: set[str] = set()
    docker_groups: set[str] = set()
    docker_unknown = False
    for prom in prometheus:
        config, rules = _upload(prom, PROMETHEUS_CONFIG), _upload(prom, PROMETHEUS_RULES)
        docker_unknown |= is_unknown(config) or is_unknown(rules)
        jobs |= {
            j["job_name"]
            for j in as_list(as_dict(_yaml(config)).get("scrape_configs"))
            if isinstance(j, dict) and isinstance(j.get("job_name"), str)
        }
        docker_groups |= _groups_with_alerts(as_dict(_yaml(rules)).get("groups"))
    for res, model in _serving(resources):
        if is_unknown(model) or not isinstance(model, str) or not model:
            out.append((res.urn, f'{res.label}: serving workload has no known "{L.MODEL}" label'))
            continue
        group = f"model-{model}"
        if res.type == _docker.CONTAINER:
            if docker_unknown:
                out.append((res.urn, f"{res.label}: " + unknown_message("the Prometheus configuration")))
                continue
            if not prometheus:
                out.append((res.urn, f'{res.label}: no Prometheus container monitors model "{model}"'))
                continue
            if group not in jobs:
                out.append(
                    (res.urn, f'{res.label}: no Prometheus scrape job "{group}" in {PROMETHEUS_CONFIG}')
                )
            if group not in docker_groups:
                out.append((res.urn, f'{res.label}: no alert rule group "{group}" in {PROMETHEUS_RULES}'))
            continue
        if model not in monitors:
            out.append((res.urn, f'{res.label}: no ServiceMonitor labelled {L.SCRAPE_TARGET}="{model}"'))
        if model not in k8s_groups:
            out.append((res.urn, f'{res.label}: no PrometheusRule labelled {L.ALERT_RULES_FOR}="{model}"'))
        elif group not in k8s_groups[model]:
            out.append(
                (res.urn, f'{res.label}: PrometheusRule for "{model}" has no group "{group}" with an alert')
            )
    return out


def model_drift_check(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    tiers = cfg_list(cfg, "riskTiers") or ["high"]
    checks: set[Any] = set()
    for res in resources:
        if res.type != _k8s.CRON_JOB or not _common.is_component(res, L.COMPONENT_DRIFT_CHECK):
            continue
        if get(res.props, "spec", "suspend") is not True:
            checks.add(hkey(_common.label(res, L.MODEL)))
    out: list[tuple[str, str]] = []
    for res, model in _serving(resources):
        tier = _common.label(res, L.RISK_TIER)
        if is_unknown(tier):
            out.append((res.urn, f"{res.label}: " + unknown_message(f'label "{L.RISK_TIER}"')))
            continue
        if tier not in tiers:
            continue
        flag = _common.annotation(res, L.DRIFT_CHECK)
        if is_unknown(flag):
            out.append((res.urn, f"{res.label}: " + unknown_message(f'"{L.DRIFT_CHECK}"')))
            continue
        if flag != "enabled":
            out.append(
                (
                    res.urn,
                    f'{res.label}: {tier}-risk model has drift checks "{flag or "unset"}" ({L.DRIFT_CHECK})',
                )
            )
        elif res.is_k8s and model not in checks:
            out.append((res.urn, f'{res.label}: no active drift-check CronJob labelled {L.MODEL}="{model}"'))
    return out


def _rank(value: Any) -> int | None:
    return CLASSIFICATIONS.index(value) if value in CLASSIFICATIONS else None


def model_classification_ceiling(resources: list[Res], cfg: Config) -> list[tuple[str, str]]:
    namespaces: dict[Any, Any] = {}
    networks: dict[Any, Any] = {}
    for res in resources:
        if res.type == _k8s.NAMESPACE:
            ceiling = _common.annotation(res, L.CLASSIFICATION_CEILING)
            if ceiling is None:
                ceiling = as_dict(_k8s.object_labels(res)).get(L.CLASSIFICATION_CEILING)
            namespaces[hkey(_k8s.name_of(res))] = ceiling
        elif res.type == _docker.NETWORK:
            name = res.props.get("name")
            networks[hkey(res.name if name is None else name)] = _common.label(res, L.CLASSIFICATION_CEILING)
    out: list[tuple[str, str]] = []
    for res, _model in _serving(resources):
        cls = _common.label(res, L.DATA_CLASSIFICATION)
        if is_unknown(cls):
            out.append((res.urn, f"{res.label}: " + unknown_message(f'label "{L.DATA_CLASSIFICATION}"')))
            continue
        if _rank(cls) is None:
            out.append(
                (
                    res.urn,
                    f'{res.label}: data classification "{cls}" is not one of {", ".join(CLASSIFICATIONS)}',
                )
            )
            continue
        if res.is_k8s:
            ns = hkey(_k8s.namespace_of(res))
            scopes = [(f'namespace "{ns}"', namespaces.get(ns), ns in namespaces)]
        else:
            names = [hkey(get(n, "name")) for n in as_list(res.props.get("networksAdvanced"))]
            scopes = [(f'network "{n}"', networks.get(n), n in networks) for n in names]
            if not scopes:
                scopes = [("the container", None, False)]
        for where, ceiling, declared in scopes:
            if is_unknown(ceiling) or is_unknown(where):
                out.append((res.urn, f"{res.label}: " + unknown_message(f"{where} ceiling")))
            elif not declared or _rank(ceiling) is None:
                out.append((res.urn, f"{res.label}: {where} declares no valid data-classification ceiling"))
            elif _rank(cls) > _rank(ceiling):  # type: ignore[operator]
                out.append(
                    (res.urn, f'{res.label}: serves "{cls}" data above the {where} ceiling "{ceiling}"')
                )
    return out
