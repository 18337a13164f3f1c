"""The model inventory: which models an environment serves, as declared, and how governance judged them.

The declaration comes from the validated spec (:func:`declared_models`, read by the one spec loader);
the results come from the audit: every resource labelled with the model (``mlops.dev/model``,
``mlops.dev/scrape-target``, ``mlops.dev/alert-rules-for``) and what each governance policy said
about it (:func:`model_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_platform import vocabulary as L
from mlops_platform.tools.findings import CapturedResource
from mlops_platform.tools.reports.outcomes import worst

if TYPE_CHECKING:
    from mlops_platform.stacks.schema import EnvironmentSpec

GOVERNANCE_PACK = "mlops-governance"
# The catalogue rule that judges a model's monitoring: its scrape target and alert rules live in
# ServiceMonitors and PrometheusRules on Kubernetes, in Prometheus config uploads on Docker.
MONITORING_POLICY = "model-monitoring-coverage"


@dataclass(frozen=True, slots=True)
class Declaration:
    """What an environment's spec declares that the reports need beyond the audit."""

    ceiling: str
    models: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)
    """Every image the environment runs, as deployed: ``{role: <spec path>, reference}``."""


def _ref(name: str | None, version: int | None, alias: str | None, uri: str | None) -> dict[str, Any]:
    return {"name": name, "version": version, "alias": alias, "uri": uri}


def declared_models(spec: EnvironmentSpec) -> Declaration:
    """The models of ``spec`` with their declared governance, SLOs, canary and drift check.

    Image references are the ones deployed: through the environment's mirror and overrides
    (``environment.images``), as the program resolves them.
    """
    from mlops_platform.stacks.images import image_fields, resolve_spec

    spec = resolve_spec(spec)
    ceiling = spec.environment.data_classification_ceiling
    models: list[dict[str, Any]] = []
    for m in sorted(spec.serving.models, key=lambda m: m.name):
        gov = m.governance
        drift = spec.drift_for(m)
        canary = None
        if m.canary is not None:
            canary = {
                "version": m.canary.version,
                "alias": m.canary.alias,
                "weight_percent": m.canary.weight,
                "image": m.canary.image or m.image,
            }
        models.append(
            {
                "name": m.name,
                "image": m.image,
                "image_pinned_by_digest": "@sha256:" in m.image,
                "model": _ref(m.model.name, m.model.version, m.model.alias, m.model.uri),
                "canary": canary,
                "risk_tier": str(gov.risk_tier),
                "data_classification": str(gov.data_classification),
                "classification_ceiling": str(ceiling),
                "within_ceiling": gov.data_classification.rank <= ceiling.rank,
                "owner": gov.owner,
                "model_card_url": gov.model_card_url,
                "approval_ref": gov.approval_ref,
                "slo": {"p99_latency_ms": m.slo.p99_latency_ms, "error_rate": float(m.slo.error_rate)},
                "drift_check": {
                    "enabled": drift.enabled,
                    "schedule": drift.schedule if drift.enabled else None,
                },
            }
        )
    images = [{"role": role, "reference": reference} for role, reference in image_fields(spec)]
    return Declaration(str(ceiling), models, images)


def _labels(resource: CapturedResource) -> dict[str, Any]:
    """Object labels (k8s ``metadata.labels``, Docker ``labels``) and pod-template labels, merged."""
    inputs = resource.inputs
    out: dict[str, Any] = {}
    docker = inputs.get("labels")
    if isinstance(docker, list):
        out |= {i["label"]: i.get("value") for i in docker if isinstance(i, dict) and "label" in i}
    spec = inputs.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    for meta in (inputs.get("metadata"), template.get("metadata") if isinstance(template, dict) else None):
        if isinstance(meta, dict) and isinstance(meta.get("labels"), dict):
            out |= meta["labels"]
    return out


def _annotations(resource: CapturedResource) -> dict[str, Any]:
    """Object and pod-template annotations (k8s); Docker keeps them as labels."""
    inputs = resource.inputs
    out: dict[str, Any] = {}
    spec = inputs.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    for meta in (inputs.get("metadata"), template.get("metadata") if isinstance(template, dict) else None):
        if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
            out |= meta["annotations"]
    return out


def served_versions(resources: Iterable[CapturedResource]) -> list[dict[str, Any]]:
    """Per serving workload (stable, canary) of a model: the exact version it serves, as deployed.

    The version is the registry's answer where the program resolved the track (``registry-*``
    annotations), else the version the spec pinned (``models:/<name>/<n>``); an alias nothing resolved
    serves no known version (``version`` None). MLflow's registry records the version's artifact
    source and run, not a digest of the artifact: ``artifact_digest`` stays None until a registry
    gives one.
    """
    rows = []
    for res in resources:
        if not isinstance(res.inputs, dict):
            continue
        labels = _labels(res)
        track = labels.get(L.TRACK)
        if not isinstance(track, str):
            continue
        notes = {**labels, **_annotations(res)}
        if L.MODEL_URI not in notes:  # the workload's Service, budget, autoscaler: it serves nothing itself
            continue
        uri = str(notes[L.MODEL_URI])
        source = str(notes.get(L.MODEL_SOURCE, ""))
        resolution = notes.get(L.REGISTRY_RESOLUTION)
        version: int | None = None
        text = str(notes.get(L.REGISTRY_VERSION, "")) if resolution == "resolved" else ""
        if not text and source == "registry-version":
            text = uri.rsplit("/", 1)[-1]
        if text.isdigit():
            version = int(text)
        rows.append(
            {
                "track": track,
                "resource": res.name,
                "model_uri": uri,
                "model_source": source,
                "version": version,
                "requested": str(notes.get(L.REGISTRY_REF, "")) or None,
                "resolution": str(resolution) if resolution is not None else "not consulted",
                "registry": str(notes.get(L.REGISTRY_URI, "")) or None,
                "run_id": str(notes.get(L.REGISTRY_RUN_ID, "")) or None,
                "artifact_source": str(notes.get(L.REGISTRY_SOURCE, "")) or None,
                "artifact_digest": None,
            }
        )
    return sorted(rows, key=lambda r: (r["track"] != "stable", r["track"], r["resource"]))


def model_resources(resources: Iterable[CapturedResource]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per model: URNs of the resources that serve or check it, and of those that monitor it."""
    serving: dict[str, set[str]] = {}
    monitoring: dict[str, set[str]] = {}
    for res in resources:
        if not isinstance(res.inputs, dict):
            continue
        labels = _labels(res)
        model = labels.get(L.MODEL)
        if isinstance(model, str):
            serving.setdefault(model, set()).add(res.urn)
        for key in (L.SCRAPE_TARGET, L.ALERT_RULES_FOR):
            target = labels.get(key)
            if isinstance(target, str):
                monitoring.setdefault(target, set()).add(res.urn)
    return serving, monitoring


def model_rows(
    declaration: Declaration,
    resources: list[CapturedResource],
    governance: Mapping[str, Mapping[str, str]],
    resource_names: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The inventory rows: each declared model with its resources and governance results.

    Args:
        declaration: the environment's declared models.
        resources: what the program registered.
        governance: per governance policy, the outcome per URN it judged (``""``: the stack).
        resource_names: URN -> short resource name.
    """
    serving, monitoring = model_resources(resources)
    by_urn = {r.urn: r for r in resources}
    rows = []
    for model in declaration.models:
        own = serving.get(model["name"], set())
        watchers = monitoring.get(model["name"], set())
        results = []
        for policy, outcomes in sorted(governance.items()):
            judged = [outcomes[u] for u in sorted(own | watchers) if u in outcomes]
            if not judged and "" in outcomes:
                judged = ["pass"]  # a stack policy judged every model and flagged none of these
            if judged:
                results.append({"policy": policy, "status": worst(judged)})
        by_policy = {r["policy"]: r["status"] for r in results}
        rows.append(
            {
                **model,
                "resources": sorted(resource_names.get(u, u) for u in own),
                "served": served_versions(by_urn[u] for u in sorted(own) if u in by_urn),
                "monitoring": {
                    "status": by_policy.get(MONITORING_POLICY, "not-applicable"),
                    "resources": sorted(resource_names.get(u, u) for u in watchers),
                },
                "governance": results,
                "status": worst([r["status"] for r in results]) if results else "not-applicable",
            }
        )
    return rows
