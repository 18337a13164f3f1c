"""Resolve each served model's alias or version in the registry, and render the pin for the workload.

The program calls :func:`resolve_environment` when the spec names ``environment.registry_source``
(before the composition, which takes the answers as an input);
each stable and canary track gets a :class:`Resolution`: the version it pins (``models:/<name>/<n>``)
and its metadata, or the one-line reason it could not be resolved. Unresolved tracks keep the spec's
reference and are marked ``unresolved``: the mandatory rule ``model-version-resolved`` fails on them,
so a registry outage never passes an audit silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_platform import vocabulary as L
from mlops_platform.stacks.schema import EnvironmentSpec, ModelEndpoint
from mlops_platform.tools.registry.client import RegistryError
from mlops_platform.tools.registry.lookup import Lookup, SecretText, lookup_for, snapshot_document
from mlops_platform.tools.registry.records import VersionRecord

STABLE, CANARY = "stable", "canary"


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """One track's reference and what the registry answered for it."""

    model: str
    """Registered model name."""
    ref: str
    """What the spec asked for: ``alias:champion`` or ``version:12``."""
    where: str
    record: VersionRecord | None = None
    error: str | None = None

    @property
    def version(self) -> int | None:
        return self.record.version if self.record else None


def resolve_ref(
    lookup: Lookup, model: str, *, alias: str | None = None, version: int | None = None
) -> Resolution:
    """Ask ``lookup`` for ``model``'s ``alias`` (or ``version``); a RegistryError becomes ``error``."""
    ref = f"alias:{alias}" if alias is not None else f"version:{version}"
    try:
        record = (
            lookup.by_alias(model, alias)
            if alias is not None
            else lookup.by_version(model, int(version or 0))
        )
    except RegistryError as exc:
        return Resolution(model=model, ref=ref, where=lookup.where, error=str(exc))
    return Resolution(model=model, ref=ref, where=lookup.where, record=record)


def endpoint_refs(endpoint: ModelEndpoint) -> dict[str, tuple[str, str | None, int | None]]:
    """Track -> (registered model, alias, version) of every registry-backed track of ``endpoint``."""
    refs: dict[str, tuple[str, str | None, int | None]] = {}
    ref = endpoint.model
    if ref.name is not None:
        refs[STABLE] = (ref.name, ref.alias, ref.version)
    if endpoint.canary is not None and ref.name is not None:
        refs[CANARY] = (ref.name, endpoint.canary.alias, endpoint.canary.version)
    return refs


def resolve_endpoints(spec: EnvironmentSpec, lookup: Lookup) -> dict[str, dict[str, Resolution]]:
    """Endpoint name -> track -> Resolution, for every registry-backed model of ``spec``."""
    return {
        endpoint.name: {
            track: resolve_ref(lookup, model, alias=alias, version=version)
            for track, (model, alias, version) in endpoint_refs(endpoint).items()
        }
        for endpoint in spec.serving.models
    }


def resolve_environment(
    spec: EnvironmentSpec, secret: SecretText, snapshot: Path | None = None
) -> dict[str, dict[str, Resolution]]:
    """Resolve ``spec``'s models in its ``registry_source``, or in ``snapshot`` when one is given."""
    source = spec.environment.registry_source
    if source is None:
        return {}
    return resolve_endpoints(spec, lookup_for(source, secret, snapshot))


def pin_annotations(resolution: Resolution, thresholds: Mapping[str, str]) -> dict[str, str]:
    """The annotations recording ``resolution`` on a serving workload (``mlops_platform.vocabulary`` keys)."""
    out = {L.REGISTRY_URI: resolution.where, L.REGISTRY_REF: resolution.ref}
    if thresholds:
        out[L.METRIC_THRESHOLDS] = json.dumps(dict(sorted(thresholds.items())), separators=(",", ":"))
    record = resolution.record
    if record is None:
        out[L.REGISTRY_RESOLUTION] = "unresolved"
        out[L.REGISTRY_ERROR] = resolution.error or "not resolved"
        return out
    out |= {
        L.REGISTRY_RESOLUTION: "resolved",
        L.REGISTRY_VERSION: str(record.version),
        L.REGISTRY_RUN_ID: record.run_id,
        L.REGISTRY_SOURCE: record.source,
        L.REGISTRY_ALIASES: ",".join(record.aliases),
        L.REGISTRY_CREATED: record.created,
        L.REGISTRY_TAGS: json.dumps(dict(sorted(record.tags.items())), separators=(",", ":")),
        L.REGISTRY_METRICS: json.dumps(dict(sorted(record.metrics.items())), separators=(",", ":")),
    }
    if record.model_card_url:
        out[L.REGISTRY_MODEL_CARD] = record.model_card_url
    return out


def snapshot(spec: EnvironmentSpec, lookup: Lookup) -> dict[str, Any]:
    """A snapshot document of every registered model ``spec`` serves: all versions and aliases.

    Raises:
        RegistryError: the registry cannot list a model's versions (the first failure).
    """
    models: dict[str, tuple[dict[str, int], list[VersionRecord]]] = {}
    for endpoint in spec.serving.models:
        for model, _alias, _version in endpoint_refs(endpoint).values():
            if model in models:
                continue
            records = lookup.all_versions(model)
            if not records:
                lookup.by_version(model, 1)  # raises "does not exist" for an unknown model
            aliases = {alias: r.version for r in records for alias in r.aliases}
            models[model] = (aliases, records)
    return snapshot_document(spec.environment.name, lookup.where, models)
