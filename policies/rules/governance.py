"""Governance rules: ownership labels, model metadata and provenance, monitoring, drift, classification."""

from __future__ import annotations

import re
from typing import Any

import yaml

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
    per_tier,
)
from mlops_platform.policies.evidence import EvidenceSelector
from mlops_platform.policies.rules import _cel as cel
from mlops_platform.policies.rules import _common, _docker, _inference, _k8s
from mlops_platform.policies.rules import _scopes as scope
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


# --- the same rules in CEL (admission policies; see policies/rules/_cel.py) -------------------------


def _cel_serving_labels() -> str:
    """CEL of ``model_serving_labels``."""
    keys = [L.MODEL, L.MODEL_VERSION, L.RISK_TIER, L.DATA_CLASSIFICATION, L.TRACK]
    values = [
        f"({cel.label_or(key, '')} != '' && !({cel.label_or(key, '')} in {cel.lit(list(allowed))}) ? "
        f"[{cel.lit(chr(34) + key + chr(34) + ' is ')} + {cel.quoted(cel.label_or(key, ''))} + "
        f"{cel.lit('; expected one of ' + ', '.join(allowed))}] : [])"
        for key, allowed in (
            (L.RISK_TIER, RISK_TIERS),
            (L.DATA_CLASSIFICATION, CLASSIFICATIONS),
            (L.TRACK, TRACKS),
        )
    ]
    annotations = [
        f"({cel.annotation_or(key, '')}.trim() == '' ? "
        f"[{cel.lit(f'annotation {chr(34)}{key}{chr(34)} is missing')}] : [])"
        for key in (L.MODEL_URI, L.MODEL_SOURCE, L.DRIFT_CHECK)
    ]
    return "!variables.isServing ? [] : " + " + ".join(
        [f"({cel.required_labels(keys)})", *values, *annotations]
    )


def _cel_registry_source(cfg: Config) -> str:
    """CEL of ``model_registry_source`` with the tier's sources and aliases."""
    sources, aliases = cfg_list(cfg, "allowedSources"), cfg_list(cfg, "approvedAliases")
    src, uri, model = (
        cel.opt_annotation(L.MODEL_SOURCE),
        cel.opt_annotation(L.MODEL_URI),
        cel.opt_label(L.MODEL),
    )
    name, ref = f"{uri}.value().split('/')[1]", f"{uri}.value().split('/')[2]"
    shown = f"({src}.hasValue() ? {cel.quoted(src + '.value()')} : 'not declared')"
    uri_re = _MODEL_URI_RE.pattern.replace("?P<name>", "").replace("?P<ref>", "")  # the CEL splits the URI
    the_uri = cel.quoted(uri + ".value()")
    allowed = f"; allowed: {', '.join(sources)} ({L.MODEL_SOURCE})"
    return (
        f"!variables.isServing ? [] : !({src}.hasValue() && {src}.value() in {cel.lit(sources)}) ? "
        f"['model source is ' + {shown} + {cel.lit(allowed)}] : "
        f"{src}.value() == 'uri' ? [] : "
        f"!{uri}.orValue('None').matches({cel.lit(uri_re)}) ? "
        f"['model URI ' + {cel.quoted(uri + '.orValue(' + cel.lit('None') + ')')} + "
        f"' is not a registry reference (models:/<name>/<version-or-alias>)'] : "
        f"(({model}.orValue('') != '' && {name} != {model}.value()) ? ['model URI ' + {the_uri} + "
        f"' names registered model ' + {cel.quoted(name)} + ', but the workload serves ' + "
        f"{cel.quoted(model + '.value()')}] : [])"
        f" + (({src}.value() == 'registry-version' && !{ref}.matches('^[0-9]+$')) ? "
        f"['model URI ' + {the_uri} + ' is declared registry-version but ' + {cel.quoted(ref)} + "
        f"' is not a version number'] : [])"
        f" + (({src}.value() == 'registry-alias' && !({ref} in {cel.lit(aliases)})) ? "
        f"['model alias ' + {cel.quoted(ref)} + "
        f"{cel.lit(' is not approved (' + (', '.join(aliases) or 'none configured') + ')')}] : [])"
    )


def _risk_tier_in(cfg: Config) -> str:
    tiers = cfg_list(cfg, "riskTiers") or ["high"]
    tier = cel.opt_label(L.RISK_TIER)
    return f"({tier}.hasValue() && {tier}.value() in {cel.lit(tiers)})"


def _cel_version_pinned(cfg: Config) -> str:
    """CEL of ``model_version_pinned``."""
    if not cfg.get("requirePinnedVersion", True):
        return "[]"  # not applicable
    tier, model = cel.opt_label(L.RISK_TIER), cel.label_or(L.MODEL, "None")
    src, uri = cel.opt_annotation(L.MODEL_SOURCE), cel.annotation_or(L.MODEL_URI, "None")
    resolution = cel.opt_annotation(L.REGISTRY_RESOLUTION)
    who = f"{tier}.value() + '-risk model ' + {cel.quoted(model)}"
    return (
        f"!(variables.isServing && {_risk_tier_in(cfg)}) ? [] : "
        f"{src}.orValue('') == 'registry-version' ? [] : "
        f"({src}.orValue('') == 'registry-alias' && {resolution}.orValue('') == 'resolved') ? [] : "
        f"{src}.orValue('') == 'registry-alias' ? "
        f"[{who} + ' is served by the mutable alias ' + {cel.quoted(uri)} + "
        f"' and ' + ({resolution}.hasValue() ? 'the model registry did not resolve it' : "
        "'no model registry is named to resolve it (environment.registry_source)') + "
        "': the version served is unknown; pin model.version in the spec or name a registry'] : "
        f"[{who} + ' is served from ' + {cel.quoted(uri)} + {cel.lit(f' ({L.MODEL_SOURCE} ')} + "
        f"{cel.quoted(src + '.orValue(' + cel.lit('None') + ')')} + "
        "'), which names no registry version: serve models:/<name>/<version>']"
    )


def _cel_high_risk_documentation(cfg: Config) -> str:
    """CEL of ``model_high_risk_documentation``."""
    tier = cel.opt_label(L.RISK_TIER)
    card, approval = cel.annotation_or(L.MODEL_CARD_URL, ""), cel.annotation_or(L.APPROVAL_REF, "")
    no_card = f' has no model card URL (https) in "{L.MODEL_CARD_URL}"'
    no_approval = f' has no approval reference in "{L.APPROVAL_REF}"'
    return (
        f"!(variables.isServing && {_risk_tier_in(cfg)}) ? [] : "
        f"(!{card}.startsWith('https://') ? [{tier}.value() + '-risk model' + {cel.lit(no_card)}] : [])"
        f" + ({approval}.trim() == '' ? [{tier}.value() + '-risk model' + {cel.lit(no_approval)}] : [])"
    )


def _cel_flag_value(argv: str, flags: tuple[str, ...]) -> str:
    """CEL list of ``_inference._flag_value`` candidates, first one first (``argv`` a list expression)."""
    f = cel.lit(list(flags))
    with_next = f"(a in {f} && i + 1 < size({argv}))"
    return (
        f"{argv}.transformList(i, a, {with_next} || {f}.exists(f, a.startsWith(f + '=')), "
        f"{with_next} ? {argv}[i + 1] : a.substring(a.indexOf('=') + 1))"
    )


def _cel_env(env: str, names: tuple[str, ...]) -> str:
    """CEL list of the literal values of the env vars ``names`` (in that order; the last entry of a name
    wins, as in the dict ``_inference.processes`` builds), those present only."""
    last = f"{env}.filter(e, e.name == k)"
    return (
        f"{cel.lit(list(names))}.filter(k, {env}.exists(e, e.name == k))"
        f".map(k, {last}[size({last}) - 1].value)"
    )


def _cel_artifact_pinned() -> str:
    """CEL of ``model_artifact_pinned`` (``_inference.unpinned_models``)."""
    first = "x.{0}.size() > 0 ? x.{0}[0] : ''"
    s0 = (
        "variables.appContainers.map(c, {'where': dyn('container \"' + c.name + '\"'), "
        "'argv': dyn(c.?command.orValue([]) + c.?args.orValue([])), "
        "'env': dyn(c.?env.orValue([]).filter(e, has(e.value)))})"
    )
    s1 = cel.step(
        s0,
        "x",
        ("where",),
        {
            "flag": _cel_flag_value("x.argv", _inference._MODEL_FLAGS),
            "pos": "x.argv.transformList(i, a, i > 0 && i < size(x.argv) - 1 && a == 'serve' && "
            "x.argv[i - 1].endsWith('vllm'), x.argv[i + 1])",
            "envModel": _cel_env("x.env", _inference._MODEL_ENVS),
            "rflag": _cel_flag_value("x.argv", _inference._REVISION_FLAGS),
            "renv": _cel_env("x.env", _inference._REVISION_ENVS) + ".filter(v, v != '')",
        },
    )
    s2 = cel.step(
        s1,
        "x",
        ("where",),
        {
            "flag": first.format("flag"),
            "pos": "x.pos.size() > 0 && !x.pos[0].startsWith('-') ? x.pos[0] : ''",
            "env": first.format("envModel"),
            "revision": f"({first.format('rflag')}) != '' ? ({first.format('rflag')}) : "
            f"({first.format('renv')})",
        },
    )
    s3 = cel.step(
        s2,
        "x",
        ("where", "revision"),
        {"name": "x.flag != '' ? x.flag : (x.pos != '' ? x.pos : x.env)"},
    )
    return (
        f"!variables.isServing ? [] : {s3}"
        f".filter(x, x.name.matches({cel.lit(_inference._HUB_NAME.pattern)}) && x.revision == '')"
        ".map(x, x.where + ' pulls model \"' + x.name + '\" from a hub at start without a revision "
        "(--revision or REVISION)')"
    )


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


RESOURCE_OWNERSHIP_LABELS = ResourceRule(
    name="resource-ownership-labels",
    pack=Pack.GOVERNANCE,
    description="Every resource must carry the configured ownership labels (the platform's configs: owner, "
    "team, cost-centre, environment).",
    check=resource_ownership_labels,
    applies_to=scope.OWNED,
    targets=BOTH,
    severity=Severity.MEDIUM,
    mappings=(
        partial(
            "nist-800-53:CM-8",
            rationale="every declared resource names its owner, team and cost centre",
            missing="an inventory kept up to date and reviewed: only the declared resources are seen",
        ),
        partial(
            "iso-27001:A.5.9",
            rationale="each asset declares its owner",
            missing="the inventory's upkeep and review: not checked",
        ),
        partial(
            "soc2:CC2.1",
            rationale="ownership information exists for each resource",
            missing="its use to support internal control: not checked",
        ),
        partial(
            "nist-ai-rmf:GOVERN-2.1",
            rationale="an owning team is named for each resource",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
    ),
    admission=Cel(
        match=cel.LABELABLE,
        violations=lambda cfg: (
            cel.required_labels(cfg_list(cfg, "requiredLabels")) if cfg_list(cfg, "requiredLabels") else "[]"
        ),  # no labels configured: the rule applies nowhere
    ),
    evidence=EvidenceSelector(reads=ev.label(*L.OWNERSHIP_LABELS)),
    schema={"requiredLabels": {**STRING_LIST, "default": []}},
    knobs=per_tier(requiredLabels=(list(L.OWNERSHIP_LABELS),) * 3),
    remediation="Pass the environment's ownership labels (mlops_platform.vocabulary.OWNERSHIP_LABELS) to "
    "every resource and pod template. Without `requiredLabels` in the pack config the rule applies nowhere, "
    "so a program of other conventions gets no ownership noise.",
)


def resource_app_labels(res: Res, cfg: Config) -> list[str]:
    if not _common.labelable(res):
        return []
    return _require_labels(res, APP_LABELS)


RESOURCE_APP_LABELS = ResourceRule(
    name="resource-app-labels",
    pack=Pack.GOVERNANCE,
    description="Every resource must carry the app.kubernetes.io recommended labels.",
    check=resource_app_labels,
    applies_to=scope.LABELABLE,
    targets=BOTH,
    severity=Severity.LOW,
    levels=MANDATORY_IN_PROD,
    mappings=(
        partial(
            "nist-800-53:CM-8",
            rationale="every declared resource carries name, component and part-of labels",
            missing="an inventory kept up to date and reviewed: only the declared resources are seen",
        ),
        partial(
            "iso-27001:A.5.9",
            rationale="each asset is identifiable",
            missing="the inventory's upkeep and review: not checked",
        ),
    ),
    admission=Cel(match=cel.LABELABLE, violations=cel.required_labels(list(APP_LABELS))),
    evidence=EvidenceSelector(
        reads=ev.label(L.APP_NAME, L.APP_INSTANCE, L.APP_COMPONENT, L.APP_PART_OF, L.APP_MANAGED_BY)
    ),
    remediation="Set app.kubernetes.io/name, instance, component, part-of and managed-by on every resource.",
)


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


MODEL_SERVING_LABELS = ResourceRule(
    name="model-serving-labels",
    pack=Pack.GOVERNANCE,
    description="Serving workloads must declare model, version, risk tier, data classification and "
    "provenance.",
    check=model_serving_labels,
    applies_to=scope.SERVING,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "eu-ai-act:Art.12",
            rationale="the served model and version are recorded on the workload",
            missing="automatic logging of events over the system's lifetime: not checked",
        ),
        partial(
            "eu-ai-act:Art.11",
            rationale="model, risk tier and classification are declared",
            missing="the article binds the provider's processes and documentation: only the declared "
            "configuration is checked",
        ),
        partial(
            "nist-ai-rmf:GOVERN-1.6",
            rationale="each served model is inventoried with its metadata",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:MAP-1.1",
            rationale="risk tier and data classification are declared",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:CM-8",
            rationale="serving workloads name their model",
            missing="an inventory kept up to date and reviewed: not checked",
        ),
        partial(
            "iso-27001:A.5.12",
            rationale="each model declares its data classification",
            missing="the classification scheme and labelling procedure: not checked",
        ),
        partial(
            "soc2:CC2.1",
            rationale="model metadata exists for each endpoint",
            missing="its use to support internal control: not checked",
        ),
    ),
    admission=Cel(match=cel.SERVING, violations=_cel_serving_labels()),
    evidence=EvidenceSelector(reads=ev.label(*L.MODEL_LABELS, L.MODEL_URI)),
    remediation="Let the serving component set the model labels and annotations from the environment spec "
    "(`serving.models[].model` and `.governance`).",
)


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


MODEL_REGISTRY_SOURCE = ResourceRule(
    name="model-registry-source",
    pack=Pack.GOVERNANCE,
    description="Served models must come from the model registry by pinned version or an approved alias.",
    check=model_registry_source,
    applies_to=scope.SERVING,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "eu-ai-act:Art.17",
            rationale="models are served only from the registry",
            missing="the article binds the provider's processes and documentation: only the declared "
            "configuration is checked",
        ),
        partial(
            "eu-ai-act:Art.12",
            rationale="the registry reference served is recorded",
            missing="automatic logging of events over the system's lifetime: not checked",
        ),
        partial(
            "nist-ai-rmf:MANAGE-1.3",
            rationale="ad-hoc model sources are refused in the tier",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:CM-3",
            rationale="a model change goes through the registry",
            missing="the change-control process (review, approval, records): not checked",
        ),
        partial(
            "iso-27001:A.8.32",
            rationale="model changes go through the registry",
            missing="the change-management process: not checked",
        ),
        partial(
            "soc2:CC8.1",
            rationale="model changes go through the registry",
            missing="authorisation and approval of changes: not checked",
        ),
    ),
    admission=Cel(match=cel.SERVING, violations=_cel_registry_source),
    evidence=EvidenceSelector(reads=ev.label(L.MODEL_URI, L.MODEL_SOURCE)),
    schema={
        "allowedSources": {**STRING_LIST, "default": ["registry-version", "registry-alias"]},
        "approvedAliases": {**STRING_LIST, "default": ["champion", "challenger"]},
    },
    knobs=per_tier(
        allowedSources=(
            ["registry-version", "registry-alias", "uri"],
            ["registry-version", "registry-alias"],
            ["registry-version", "registry-alias"],
        ),
        approvedAliases=(
            ["champion", "challenger", "staging"],
            ["champion", "challenger"],
            ["champion", "challenger"],
        ),
    ),
    remediation="Register the model and serve `models:/<name>/<version>` or an approved alias (`champion`); "
    "ad-hoc URIs are for dev only.",
)


def model_version_pinned(res: Res, cfg: Config) -> list[str]:
    """A model of the configured risk tiers is served by an exact registry version.

    A version number in the spec is one; an alias (mutable) is one only once a model registry resolved
    it (``registry_source``: the version is then recorded on the workload); an ad-hoc URI never is.
    """
    if not _common.is_serving(res):
        return []
    tiers = cfg_list(cfg, "riskTiers") or ["high"]
    tier = _common.label(res, L.RISK_TIER)
    if is_unknown(tier):
        return [unknown_message(f'label "{L.RISK_TIER}"', "whether an exact version is required")]
    if tier not in tiers:
        return []
    source, uri = _common.annotation(res, L.MODEL_SOURCE), _common.annotation(res, L.MODEL_URI)
    resolution = _common.annotation(res, L.REGISTRY_RESOLUTION)
    if is_unknown(source) or is_unknown(uri) or is_unknown(resolution):
        return [unknown_message(f"{L.MODEL_SOURCE}/{L.MODEL_URI}", "which version is served")]
    if source == "registry-version":
        return []
    if source == "registry-alias" and resolution == "resolved":
        return []
    model = _common.label(res, L.MODEL)
    if source == "registry-alias":
        why = (
            "the model registry did not resolve it"
            if resolution is not None
            else "no model registry is named to resolve it (environment.registry_source)"
        )
        return [
            f'{tier}-risk model "{model}" is served by the mutable alias "{uri}" and {why}: the version '
            "served is unknown; pin model.version in the spec or name a registry"
        ]
    return [
        f'{tier}-risk model "{model}" is served from "{uri}" ({L.MODEL_SOURCE} "{source}"), which names no '
        "registry version: serve models:/<name>/<version>"
    ]


MODEL_VERSION_PINNED = ResourceRule(
    name="model-version-pinned",
    pack=Pack.GOVERNANCE,
    description="A high-risk model must be served by an exact version: pinned in the spec, or an alias a "
    "model registry resolved.",
    check=model_version_pinned,
    applies_to=scope.PINNED_VERSION,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "eu-ai-act:Art.12",
            rationale="the exact version each endpoint of a high-risk model serves is known and recorded",
            missing="automatic logging of events over the system's lifetime: not checked",
        ),
        partial(
            "eu-ai-act:Art.9",
            rationale="a high-risk model's served version is identified, so its risks can be assessed",
            missing="the provider's risk management system (identification, evaluation, measures): not "
            "checked",
        ),
        partial(
            "nist-800-53:CM-8",
            rationale="the inventory names the exact model version served",
            missing="an inventory kept up to date and reviewed: not checked",
        ),
        partial(
            "nist-ai-rmf:GOVERN-1.6",
            rationale="each high-risk endpoint is inventoried down to its version",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
    ),
    admission=Cel(match=cel.SERVING, violations=_cel_version_pinned),
    evidence=EvidenceSelector(
        reads=ev.label(L.RISK_TIER, L.MODEL_SOURCE, L.MODEL_URI, L.REGISTRY_RESOLUTION, L.REGISTRY_VERSION)
    ),
    schema={
        "requirePinnedVersion": {"type": "boolean", "default": True},
        "riskTiers": {**STRING_LIST, "default": ["high"]},
    },
    knobs=per_tier(requirePinnedVersion=(True, True, True)),
    remediation="Pin `serving.models[].model.version` (and `canary.version`) in the environment spec, or "
    "name the model registry (`environment.registry_source`) so the alias is resolved to a version.",
)


def model_artifact_pinned(res: Res, cfg: Config) -> list[str]:
    """A model a server pulls from a hub at start must be pinned to a revision (else it can change)."""
    return [
        f'{where} pulls model "{name}" from a hub at start without a revision (--revision or REVISION)'
        for where, name in _inference.unpinned_models(res)
    ]


MODEL_ARTIFACT_PINNED = ResourceRule(
    name="model-artifact-pinned",
    pack=Pack.GOVERNANCE,
    description="A model an inference server pulls from a hub at start must be pinned to a revision.",
    check=model_artifact_pinned,
    applies_to=scope.SERVING,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "eu-ai-act:Art.12",
            rationale="the exact model revision a hub-pulling server loads is named in its configuration",
            missing="automatic logging of events over the system's lifetime: not checked",
        ),
        partial(
            "nist-ai-rmf:MANAGE-1.3",
            rationale="a model that its hub owner can change under the same name is refused in the tier",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:CM-2",
            rationale="the model in the baseline is named by a revision, not a moving hub name",
            missing="a documented, reviewed baseline configuration: not checked",
        ),
        partial(
            "iso-27001:A.8.32",
            rationale="a change of model revision is a change of configuration",
            missing="the change-management process (approval, testing) is not checked",
        ),
        partial(
            "soc2:CC8.1",
            rationale="model changes show in the declared configuration",
            missing="authorisation and approval of changes are not checked",
        ),
    ),
    # What an inference server is told to pull at start (policies/rules/_inference.py).
    admission=Cel(match=cel.SERVING, violations=_cel_artifact_pinned()),
    evidence=EvidenceSelector(
        reads=(
            *ev.containers("command", "args", "env[*].name", "env[*].value"),
            "$.command",
            "$.envs",
        )
    ),
    remediation="Pin the model to a commit: `--revision <sha>` (vLLM, TGI) or a `REVISION` env var, or "
    "serve it from the model registry instead of a hub name that its owner can change.",
)


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


MODEL_HIGH_RISK_DOCUMENTATION = ResourceRule(
    name="model-high-risk-documentation",
    pack=Pack.GOVERNANCE,
    description="High-risk models must link a model card and an approval reference.",
    check=model_high_risk_documentation,
    applies_to=scope.SERVING,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "eu-ai-act:Art.11",
            rationale="a high-risk model links a model card",
            missing="the card's content (Annex IV) is not checked",
        ),
        partial(
            "eu-ai-act:Art.13",
            rationale="a high-risk model links documentation for deployers",
            missing="the instructions for use and their content: not checked",
        ),
        partial(
            "eu-ai-act:Art.14",
            rationale="a high-risk model names an approval reference",
            missing="human oversight measures during use: not checked",
        ),
        partial(
            "nist-ai-rmf:GOVERN-1.4",
            rationale="high-risk models are documented and approved",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:MAP-3.5",
            rationale="an approval (human oversight) is referenced",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:CA-6",
            rationale="an approval reference is declared",
            missing="the authorisation decision itself and its official: not checked",
        ),
        partial(
            "iso-27001:A.5.8",
            rationale="documentation is part of the model's delivery",
            missing="project management practices: not checked",
        ),
    ),
    admission=Cel(match=cel.SERVING, violations=_cel_high_risk_documentation),
    evidence=EvidenceSelector(reads=ev.label(L.RISK_TIER, L.MODEL_CARD_URL, L.APPROVAL_REF)),
    schema={"riskTiers": {**STRING_LIST, "default": ["high"]}},
    remediation="Set `governance.model_card_url` (https) and `governance.approval_ref` for the model in the "
    "environment spec.",
)


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


MODEL_MONITORING_COVERAGE = StackRule(
    name="model-monitoring-coverage",
    pack=Pack.GOVERNANCE,
    description="Every serving endpoint must have a scrape target and alert rules.",
    check=model_monitoring_coverage,
    applies_to=scope.SERVING,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "eu-ai-act:Art.72",
            rationale="every endpoint is scraped and has alert rules",
            missing="the post-market monitoring plan and its data collection: not checked",
        ),
        partial(
            "eu-ai-act:Art.15",
            rationale="endpoints are monitored for errors and latency",
            missing="accuracy, robustness and cybersecurity levels themselves: not checked",
        ),
        partial(
            "nist-ai-rmf:MEASURE-2.4",
            rationale="production behaviour is monitored",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:MANAGE-4.1",
            rationale="monitoring is deployed for every endpoint",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:SI-4",
            rationale="endpoints are monitored",
            missing="monitoring for attacks and unauthorised use: not checked",
        ),
        partial(
            "iso-27001:A.8.16",
            rationale="endpoints are monitored",
            missing="evaluation of anomalies and response: not checked",
        ),
        partial(
            "soc2:CC7.2",
            rationale="endpoints are monitored for anomalies",
            missing="analysis of anomalies as security events: not checked",
        ),
    ),
    admission=NotInCel(
        "a model is monitored by ServiceMonitors and PrometheusRules that name it: other objects than "
        "the one admitted"
    ),
    evidence=EvidenceSelector(
        reads=(
            *ev.label(L.MODEL, L.SCRAPE_TARGET, L.ALERT_RULES_FOR),
            "$.spec.groups[*].name",
        )
    ),
    remediation=f"Create a ServiceMonitor labelled `{L.SCRAPE_TARGET}` and a PrometheusRule labelled "
    f"`{L.ALERT_RULES_FOR}` with a `model-<name>` group (Docker: a `model-<name>` scrape job and rule "
    "group in the Prometheus uploads).",
)


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


MODEL_DRIFT_CHECK = StackRule(
    name="model-drift-check",
    pack=Pack.GOVERNANCE,
    description="High-risk models must have an active drift check.",
    check=model_drift_check,
    applies_to=scope.SERVING,
    targets=BOTH,
    severity=Severity.HIGH,
    mappings=(
        partial(
            "eu-ai-act:Art.15",
            rationale="a high-risk model's drift is checked on a schedule",
            missing="accuracy levels declared and met over the lifecycle: not checked",
        ),
        partial(
            "eu-ai-act:Art.72",
            rationale="drift is monitored in production",
            missing="the post-market monitoring plan: not checked",
        ),
        partial(
            "nist-ai-rmf:MEASURE-2.4",
            rationale="production behaviour is checked for drift",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-ai-rmf:MANAGE-4.1",
            rationale="drift monitoring is deployed",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:CA-7",
            rationale="model drift is monitored continuously",
            missing="the continuous monitoring strategy and its reporting: not checked",
        ),
        partial(
            "iso-27001:A.8.16",
            rationale="model behaviour is monitored",
            missing="evaluation of anomalies and response: not checked",
        ),
    ),
    admission=NotInCel(
        "a high-risk model's drift check is a CronJob that names the model: another object than the one "
        "admitted"
    ),
    evidence=EvidenceSelector(
        reads=(*ev.label(L.MODEL, L.RISK_TIER, L.DRIFT_CHECK), "$.spec.schedule", "$.spec.suspend"),
        subjects=(*ev.label(L.DRIFT_CHECK), *ev.component(L.COMPONENT_DRIFT_CHECK)),
    ),
    schema={"riskTiers": {**STRING_LIST, "default": ["high"]}},
    remediation="Enable `monitoring.drift` so a drift-check CronJob labelled with the model runs (Docker: "
    "the "
    f"`{L.DRIFT_CHECK}` label is `enabled`).",
)


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


MODEL_CLASSIFICATION_CEILING = StackRule(
    name="model-classification-ceiling",
    pack=Pack.GOVERNANCE,
    description="A model's data classification must not exceed its environment's classification ceiling.",
    check=model_classification_ceiling,
    applies_to=scope.SERVING,
    targets=BOTH,
    severity=Severity.CRITICAL,
    non_waivable=True,
    mappings=(
        partial(
            "eu-ai-act:Art.10",
            rationale="no model handles data above its environment's clearance",
            missing="data governance practices (quality, bias, provenance of training data): not checked",
        ),
        partial(
            "nist-ai-rmf:MAP-4.1",
            rationale="data-classification risk is mapped per model",
            missing="the subcategory asks for documented processes and their outcomes: organisational, not "
            "checked",
        ),
        partial(
            "nist-800-53:RA-2",
            rationale="each model's data is categorised and kept within its environment's category",
            missing="the categorisation process and its approval: not checked",
        ),
        partial(
            "nist-800-53:AC-4",
            rationale="classified data does not flow to an environment below its class",
            missing="flows inside the environment: not checked",
        ),
        partial(
            "iso-27001:A.5.12",
            rationale="classification is enforced per environment",
            missing="the classification scheme: not checked",
        ),
        partial(
            "soc2:C1.1",
            rationale="confidential data stays in environments cleared for it",
            missing="identification and retention of confidential information: not checked",
        ),
    ),
    admission=NotInCel(
        "the ceiling is an annotation of the Namespace (or Docker network) the model runs in: another "
        "object than the one admitted"
    ),
    evidence=EvidenceSelector(reads=ev.label(L.MODEL, L.DATA_CLASSIFICATION, L.CLASSIFICATION_CEILING)),
    remediation="Serve the model from an environment cleared for its data class, or raise "
    "`environment.data_classification_ceiling` after a data-protection review.",
)
