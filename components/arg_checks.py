"""Each layer component checks its own arguments at construction, with the spec's validators.

A program that builds components directly (not from a spec) gets the same refusals as the spec
schema: ``mlops_platform.validation`` is the one place both read. Every problem of one component's
arguments is reported at once, in one ``ComponentArgumentError`` naming the component and each field
(``ServingStack 'serving': models[0].name: must be a DNS label...``), raised before the component
registers anything. Values that are Outputs (a namespace from another stack...) are not known at
construction and are left to the policies, which see them resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mlops_platform import validation as v
from mlops_platform.components.args import (
    ComputeResources,
    ModelSource,
    ModelSpec,
    MonitoringArgs,
    Ownership,
    RegistryArgs,
    ServingArgs,
    StorageArgs,
)

REGISTRY_URI_PREFIX = "models:/"


class ComponentArgumentError(ValueError):
    """The arguments of one component are invalid: every problem, each naming its field."""

    def __init__(self, component: str, name: str, problems: Sequence[tuple[str, str]]) -> None:
        self.component, self.name, self.problems = component, name, list(problems)
        lines = [f"{component} {name!r}: {field}: {message}" for field, message in problems]
        super().__init__("\n".join(lines))


class _Problems:
    """Collects ``(field, message)`` pairs from checks that raise ValueError."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def check(self, field: str, check: Callable[..., Any], value: Any, *args: Any, **kwargs: Any) -> None:
        if not _known(value):
            return
        try:
            check(value, *args, **kwargs)
        except ValueError as exc:
            self.found.append((field, str(exc)))

    def add(self, field: str, message: str) -> None:
        self.found.append((field, message))

    def unique(self, field: str, names: Iterable[str]) -> None:
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                self.add(f"{field}[{index}].name", f"duplicate name {name!r}")
            seen.add(name)

    def raise_for(self, component: str, name: str) -> None:
        if self.found:
            raise ComponentArgumentError(component, name, self.found)


def _known(value: Any) -> bool:
    """A plain value, checkable now (not an Output, an awaitable or None)."""
    return isinstance(value, str | int | float)  # bool is an int


def _ownership(p: _Problems, own: Ownership) -> None:
    p.check("ownership.owner", v.matches, own.owner, v.EMAIL_PATTERN)
    p.check("ownership.team", v.matches, own.team, v.LABEL_VALUE_PATTERN, max_length=v.LABEL_VALUE_MAX)
    p.check(
        "ownership.cost_centre",
        v.matches,
        own.cost_centre,
        v.LABEL_VALUE_PATTERN,
        max_length=v.LABEL_VALUE_MAX,
    )
    p.check("ownership.environment", v.dns_label, own.environment)
    p.check("ownership.tier", v.choice, own.tier, v.Tier)


def _resources(p: _Problems, field: str, r: ComputeResources) -> None:
    for unit in ("cpu_request_millicores", "memory_request_mib", "cpu_limit_millicores", "memory_limit_mib"):
        p.check(f"{field}.{unit}", v.within, getattr(r, unit), 1)
    p.check(f"{field}.cpu_request_millicores", v.min_le_max, r.cpu_request_millicores, r.cpu_limit_millicores,
            high_name="cpu_limit_millicores")  # fmt: skip
    p.check(f"{field}.memory_request_mib", v.min_le_max, r.memory_request_mib, r.memory_limit_mib,
            high_name="memory_limit_mib")  # fmt: skip


def check_storage(name: str, args: StorageArgs) -> None:
    """Raise ``ComponentArgumentError`` unless ``args`` are valid arguments of a ``StorageStack``."""
    p = _Problems()
    _ownership(p, args.ownership)
    p.check("namespace", v.dns_label, args.namespace)
    p.check("data_classification_ceiling", v.choice, args.data_classification_ceiling, v.DataClassification)
    store = args.object_store
    p.check("object_store.image", v.image_ref, store.image)
    p.check("object_store.size_gib", v.within, store.size_gib, 1)
    if not store.buckets:
        p.add("object_store.buckets", "must name at least one bucket")
    for i, bucket in enumerate(store.buckets):
        p.check(f"object_store.buckets[{i}].name", v.matches, bucket.name, v.BUCKET_PATTERN)
        if bucket.retention_days is not None:
            p.check(f"object_store.buckets[{i}].retention_days", v.within, bucket.retention_days, 1)
    p.unique("object_store.buckets", (b.name for b in store.buckets))
    _resources(p, "object_store.resources", store.resources)
    db = args.database
    p.check("database.image", v.image_ref, db.image)
    p.check("database.version", v.matches, db.version, v.VERSION_PATTERN)
    p.check("database.size_gib", v.within, db.size_gib, 1)
    p.check("database.database_name", v.matches, db.database_name, r"^[a-z_][a-z0-9_]{0,62}$")
    p.check("database.username", v.matches, db.username, r"^[a-z_][a-z0-9_]{0,62}$")
    if db.backup is not None:
        p.check("database.backup.schedule", v.matches, db.backup.schedule, v.CRON_PATTERN)
        p.check("database.backup.retention_days", v.within, db.backup.retention_days, 1)
    _resources(p, "database.resources", db.resources)
    for i, volume in enumerate(args.volumes):
        p.check(f"volumes[{i}].name", v.dns_label, volume.name)
        p.check(f"volumes[{i}].size_gib", v.within, volume.size_gib, 1)
        p.check(f"volumes[{i}].access_mode", v.choice, volume.access_mode, v.AccessMode)
    p.unique("volumes", (vol.name for vol in args.volumes))
    if args.storage_class is not None:
        p.check("storage_class", v.dns_label, args.storage_class)
    p.raise_for("StorageStack", name)


def check_registry(name: str, args: RegistryArgs) -> None:
    """Raise ``ComponentArgumentError`` unless ``args`` are valid arguments of a ``RegistryStack``."""
    p = _Problems()
    _ownership(p, args.ownership)
    p.check("namespace", v.dns_label, args.namespace)
    mr = args.model_registry
    p.check("model_registry.image", v.mlflow_server_image_ref, mr.image)
    p.check("model_registry.artifact_bucket", v.matches, mr.artifact_bucket, v.BUCKET_PATTERN)
    p.check("model_registry.replicas", v.within, mr.replicas, 1)
    p.check("model_registry.port", v.within, mr.port, v.PORT_MIN, v.PORT_MAX)
    _resources(p, "model_registry.resources", mr.resources)
    if args.image_registry is not None:
        ir = args.image_registry
        p.check("image_registry.image", v.image_ref, ir.image)
        p.check("image_registry.size_gib", v.within, ir.size_gib, 1)
        p.check("image_registry.auth", v.choice, ir.auth, v.RegistryAuth)
        p.check("image_registry.port", v.within, ir.port, v.PORT_MIN, v.PORT_MAX)
        _resources(p, "image_registry.resources", ir.resources)
    if args.storage_class is not None:
        p.check("storage_class", v.dns_label, args.storage_class)
    p.raise_for("RegistryStack", name)


def _model(p: _Problems, field: str, m: ModelSpec) -> None:
    p.check(f"{field}.name", v.dns_label, m.name, max_length=v.ENDPOINT_NAME_MAX)
    p.check(f"{field}.image", v.image_ref, m.image)
    p.check(f"{field}.port", v.within, m.port, v.PORT_MIN, v.PORT_MAX)
    p.check(f"{field}.replicas_min", v.within, m.replicas_min, 1)
    p.check(f"{field}.replicas_max", v.within, m.replicas_max, 1)
    p.check(f"{field}.replicas_min", v.min_le_max, m.replicas_min, m.replicas_max, high_name="replicas_max")
    p.check(f"{field}.target_cpu_utilization_percent", v.within, m.target_cpu_utilization_percent, 1, 100)
    p.check(
        f"{field}.version_label",
        v.matches,
        m.version_label,
        v.LABEL_VALUE_PATTERN,
        max_length=v.LABEL_VALUE_MAX,
    )
    _model_reference(p, field, m.model_source, m.model_uri, m.version_label)
    gov = m.governance
    p.check(f"{field}.governance.owner", v.matches, gov.owner, v.EMAIL_PATTERN)
    p.check(f"{field}.governance.risk_tier", v.choice, gov.risk_tier, v.RiskTier)
    p.check(
        f"{field}.governance.data_classification", v.choice, gov.data_classification, v.DataClassification
    )
    if gov.model_card_url is not None:
        p.check(f"{field}.governance.model_card_url", v.matches, gov.model_card_url, v.HTTPS_URL_PATTERN)
    p.check(f"{field}.slo.p99_latency_ms", v.within, m.slo.p99_latency_ms, 1)
    p.check(f"{field}.slo.error_rate", v.fraction, m.slo.error_rate)
    p.check(f"{field}.slo.alert_after_seconds", v.within, m.slo.alert_after_seconds, 0, v.ALERT_AFTER_MAX_S)
    _resources(p, f"{field}.resources", m.resources)
    if m.canary is not None:
        c = m.canary
        p.check(f"{field}.canary.weight_percent", v.within, c.weight_percent, 1, 99)
        if c.image is not None:
            p.check(f"{field}.canary.image", v.image_ref, c.image)
        _model_reference(p, f"{field}.canary", c.model_source, c.model_uri, c.version_label)
        if c.model_uri == m.model_uri:
            p.add(f"{field}.canary.model_uri", f"must differ from the stable model's ({m.model_uri})")
    if m.drift is not None:
        p.check(f"{field}.drift.schedule", v.matches, m.drift.schedule, v.CRON_PATTERN)
        p.check(f"{field}.drift.psi_threshold", v.fraction, m.drift.psi_threshold)
        p.check(f"{field}.drift.feature_share_threshold", v.fraction, m.drift.feature_share_threshold)
        p.check(
            f"{field}.drift.alert_after_seconds",
            v.within,
            m.drift.alert_after_seconds,
            0,
            v.ALERT_AFTER_MAX_S,
        )


def _model_reference(p: _Problems, field: str, source: Any, uri: Any, label: Any) -> None:
    """``model_source``, ``model_uri`` and ``version_label`` tell one story (``models:/<name>/<label>``)."""
    try:
        source = v.choice(source, ModelSource)
    except ValueError as exc:
        p.add(f"{field}.model_source", str(exc))
        return
    if not isinstance(uri, str):
        return
    registered = uri.startswith(REGISTRY_URI_PREFIX)
    if source is ModelSource.URI:
        if registered:
            p.add(
                f"{field}.model_uri",
                f"a registry URI needs model_source registry-version or -alias (got {uri!r})",
            )
        return
    parts = uri.removeprefix(REGISTRY_URI_PREFIX).split("/")
    if not registered or len(parts) != 2 or not all(parts):
        p.add(
            f"{field}.model_uri",
            f"must be models:/<name>/<version-or-alias> with model_source {source} (got {uri!r})",
        )
        return
    if source is ModelSource.REGISTRY_VERSION and not parts[1].isdigit():
        p.add(f"{field}.model_uri", f"a registry version is a number (got {parts[1]!r})")
    if isinstance(label, str) and label != parts[1]:
        p.add(f"{field}.version_label", f"must be the URI's version or alias {parts[1]!r} (got {label!r})")


def check_serving(name: str, args: ServingArgs) -> None:
    """Raise ``ComponentArgumentError`` unless ``args`` are valid arguments of a ``ServingStack``."""
    p = _Problems()
    _ownership(p, args.ownership)
    p.check("namespace", v.dns_label, args.namespace)
    for i, model in enumerate(args.models):
        _model(p, f"models[{i}]", model)
    p.unique("models", (m.name for m in args.models))
    p.raise_for("ServingStack", name)


def check_endpoint(name: str, args: Any) -> None:
    """``check_serving`` for one ``ModelEndpoint``'s arguments."""
    p = _Problems()
    _ownership(p, args.ownership)
    p.check("namespace", v.dns_label, args.namespace)
    _model(p, "model", args.model)
    p.raise_for("ModelEndpoint", name)


def check_monitoring(name: str, args: MonitoringArgs) -> None:
    """Raise ``ComponentArgumentError`` unless ``args`` are valid arguments of a ``MonitoringStack``."""
    p = _Problems()
    _ownership(p, args.ownership)
    p.check("namespace", v.dns_label, args.namespace)
    for field in ("prometheus_image", "alertmanager_image", "grafana_image", "pushgateway_image"):
        if field != "grafana_image" or args.grafana_image is not None:  # None: no Grafana of its own
            p.check(field, v.image_ref, getattr(args, field))
    if args.drift_image is not None:
        p.check("drift_image", v.image_ref, args.drift_image)
    if args.drift_store is not None:
        p.check("drift_store.bucket", v.matches, args.drift_store.bucket, v.BUCKET_PATTERN)
    targets = args.scrape_targets if isinstance(args.scrape_targets, Sequence) else ()
    drifting = [
        str(t.model) for t in targets if getattr(t, "drift", None) is not None and hasattr(t, "model")
    ]
    if drifting and args.drift_store is None:
        p.add("drift_store", f"drift checks of {', '.join(sorted(drifting))} need drift_store")
    p.check("retention_days", v.within, args.retention_days, 1)
    p.check("scrape_interval_seconds", v.within, args.scrape_interval_seconds, 5, 3600)
    p.check("prometheus_size_gib", v.within, args.prometheus_size_gib, 1)
    if not args.receivers:
        p.add("receivers", "must name at least one receiver")
    for i, receiver in enumerate(args.receivers):
        p.check(f"receivers[{i}].name", v.dns_label, receiver.name)
        try:
            kind = v.choice(receiver.kind, v.ReceiverKind)
        except ValueError as exc:
            p.add(f"receivers[{i}].kind", str(exc))
            continue
        if kind is v.ReceiverKind.EMAIL:
            if receiver.email is None:
                p.add(f"receivers[{i}].email", "an email receiver needs email")
            else:
                p.check(f"receivers[{i}].email", v.matches, receiver.email, v.EMAIL_PATTERN)
        elif receiver.webhook_url is None:
            p.add(f"receivers[{i}].webhook_url", f"a {kind} receiver needs webhook_url")
    p.unique("receivers", (r.name for r in args.receivers))
    if isinstance(args.scrape_targets, Sequence):
        for i, target in enumerate(args.scrape_targets):
            if hasattr(target, "model"):
                p.check(
                    f"scrape_targets[{i}].model", v.dns_label, target.model, max_length=v.ENDPOINT_NAME_MAX
                )
                p.check(f"scrape_targets[{i}].port", v.within, target.port, v.PORT_MIN, v.PORT_MAX)
    if args.storage_class is not None:
        p.check("storage_class", v.dns_label, args.storage_class)
    p.raise_for("MonitoringStack", name)
