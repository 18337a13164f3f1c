"""Label and annotation dicts, built from layer arguments; the same keys on both targets.

Pure functions, no Pulumi resources: Kubernetes objects use them as ``metadata.labels`` /
``metadata.annotations`` (and on pod templates), Docker containers, volumes and networks as labels.
The keys are the constants of ``mlops_platform.vocabulary`` that the policy packs read.
"""

from __future__ import annotations

import re

from mlops_platform import vocabulary as L
from mlops_platform.components.args import (
    MANAGED_BY,
    PART_OF,
    CanaryArgs,
    ModelSource,
    ModelSpec,
    Ownership,
    Track,
)

_LABEL_VALUE_MAX = 63


def label_value(value: str) -> str:
    """``value`` made a valid Kubernetes label value: ``@`` becomes ``_at_``, other invalid characters
    ``-``, trimmed to 63 characters and to alphanumeric ends."""
    value = value.replace("@", "_at_")
    value = re.sub(r"[^A-Za-z0-9_.-]", "-", value)[:_LABEL_VALUE_MAX]
    return value.strip("-_.")


def ownership_labels(ownership: Ownership) -> dict[str, str]:
    return {
        L.OWNER: label_value(ownership.owner),
        L.TEAM: label_value(ownership.team),
        L.COST_CENTRE: label_value(ownership.cost_centre),
        L.ENVIRONMENT: label_value(ownership.environment),
        L.TIER: label_value(ownership.tier),
    }


def selector_labels(app: str, instance: str) -> dict[str, str]:
    """The labels a Service / NetworkPolicy / PDB selects a workload's pods by (immutable subset)."""
    return {L.APP_NAME: label_value(app), L.APP_INSTANCE: label_value(instance)}


def common_labels(
    ownership: Ownership, *, app: str, instance: str, component: str, version: str | None = None
) -> dict[str, str]:
    """``app.kubernetes.io/*`` plus the ownership labels, for any labelable resource.

    Args:
        ownership: owner, team, cost centre, environment and tier.
        app: ``app.kubernetes.io/name``: the application (``postgres``, ``mlflow``, the model name).
        instance: ``app.kubernetes.io/instance``: unique per deployed instance (the resource name).
        component: ``app.kubernetes.io/component``: one of ``labels.COMPONENT_*`` for policy-relevant roles.
        version: ``app.kubernetes.io/version`` when known.
    """
    result = {
        **selector_labels(app, instance),
        L.APP_COMPONENT: component,
        L.APP_PART_OF: PART_OF,
        L.APP_MANAGED_BY: MANAGED_BY,
        **ownership_labels(ownership),
    }
    if version:
        result[L.APP_VERSION] = label_value(version)
    return result


def image_version(image: str) -> str | None:
    """The tag of an image reference (``postgres:16.4@sha256:...`` -> ``16.4``), if any."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def model_track_version(model: ModelSpec, track: Track) -> str:
    """The version label of the stable model or of its canary."""
    if track is Track.CANARY and model.canary is not None:
        return model.canary.version_label
    return model.version_label


def model_labels(ownership: Ownership, model: ModelSpec, *, instance: str, track: Track) -> dict[str, str]:
    """Labels of a serving workload (object and pod template): common + model governance + track."""
    return {
        **common_labels(ownership, app=model.name, instance=instance, component=L.COMPONENT_MODEL_SERVER),
        L.MODEL: label_value(model.name),
        L.MODEL_VERSION: label_value(model_track_version(model, track)),
        L.RISK_TIER: model.governance.risk_tier,
        L.DATA_CLASSIFICATION: model.governance.data_classification,
        L.TRACK: track.value,
    }


def model_annotations(model: ModelSpec, *, track: Track) -> dict[str, str]:
    """Annotations of a serving workload: the model URI and source, governance references, drift."""
    canary: CanaryArgs | None = model.canary if track is Track.CANARY else None
    result = {
        L.MODEL_URI: canary.model_uri if canary else model.model_uri,
        L.MODEL_SOURCE: (canary.model_source if canary else model.model_source).value,
        L.DRIFT_CHECK: "enabled" if model.drift is not None else "disabled",
    }
    if model.governance.model_card_url:
        result[L.MODEL_CARD_URL] = model.governance.model_card_url
    if model.governance.approval_ref:
        result[L.APPROVAL_REF] = model.governance.approval_ref
    result.update(canary.registry_annotations if canary else model.registry_annotations)
    return result


def enabled(flag: bool) -> str:
    """``enabled`` / ``disabled``: the value format of the flag annotations."""
    return "enabled" if flag else "disabled"


def mlflow_model_uri(model_uri: str, source: ModelSource) -> str:
    """The URI MLflow loads for a model reference.

    The contract's ``models:/<name>/<alias>`` becomes MLflow's ``models:/<name>@<alias>`` (MLflow reads a
    non-numeric ``/<suffix>`` as a stage); versions and ad-hoc URIs are unchanged.
    """
    if source is ModelSource.REGISTRY_ALIAS:
        name, _, alias = model_uri.rpartition("/")
        return f"{name}@{alias}"
    return model_uri
