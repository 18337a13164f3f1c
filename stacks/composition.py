"""Map a validated ``EnvironmentSpec`` to the four layer components, wired output to input.

The only module that knows both the spec (pydantic, config boundary) and the components' typed
arguments. Layer order follows the data: storage -> registry -> serving -> monitoring. In prod the
stateful resources (database, object store, their volumes) are ``protect``ed and ``retain_on_delete``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from mlops_platform.components.args import (
    BackupArgs,
    BucketArgs,
    CanaryArgs,
    ComputeResources,
    CredentialArgs,
    DatabaseArgs,
    DriftArgs,
    DriftStoreArgs,
    ImageRegistryArgs,
    ModelGovernance,
    ModelRegistryArgs,
    ModelSlo,
    ModelSource,
    ModelSpec,
    MonitoringArgs,
    ObjectStoreArgs,
    Ownership,
    ReceiverArgs,
    RegistryArgs,
    ScrapeTarget,
    ServingArgs,
    StorageArgs,
    VolumeArgs,
)
from mlops_platform.components.args import (
    Target as Target,  # the spec's enum, passed through: tests and programs name it here
)
from mlops_platform.components.monitoring import MonitoringStack
from mlops_platform.components.registry import RegistryStack
from mlops_platform.components.serving import ServingStack
from mlops_platform.components.storage import StorageStack
from mlops_platform.stacks import schema
from mlops_platform.stacks.credentials_config import (
    CREDENTIAL_ROTATIONS_KEY,
    CREDENTIAL_SEED_KEY,
    missing_seed_message,
    parse_rotations,
)
from mlops_platform.stacks.images import resolve_spec
from mlops_platform.stacks.layers import Layer
from mlops_platform.stacks.types import Tier
from mlops_platform.tools.registry.resolve import CANARY, STABLE, Resolution, pin_annotations

SecretLookup = Callable[[str], pulumi.Output[str]]
"""Reads a secret config key by name (``pulumi.Config().require_secret``)."""

_SPEC_TRAIL: dict[str, tuple[str | int, ...]] = {}
"""Component URN -> the spec path it was composed from (``serving.models[1]``), for the last program run.

Filled as each component's URN resolves, under mocks and in a real preview alike (both run the program
in this process); the audit reads it through :func:`spec_trail` to locate findings in the spec. A
resource's spec path is that of its nearest traced ancestor: recorded here, never guessed from names.
"""


def spec_trail() -> dict[str, tuple[str | int, ...]]:
    """A copy of the URN -> spec path map of the last ``build_platform`` run in this process."""
    return dict(_SPEC_TRAIL)


def _trace(component: pulumi.Resource, spec_path: tuple[str | int, ...]) -> None:
    component.urn.apply(lambda urn: _SPEC_TRAIL.__setitem__(urn, spec_path))


@dataclass(frozen=True)
class Platform:
    """The four layers of one environment."""

    storage: StorageStack
    registry: RegistryStack
    serving: ServingStack
    monitoring: MonitoringStack


def compute(resources: schema.Resources) -> ComputeResources:
    return ComputeResources(
        cpu_request_millicores=resources.requests.cpu_millicores,
        memory_request_mib=resources.requests.memory_mib,
        cpu_limit_millicores=resources.limits.cpu_millicores,
        memory_limit_mib=resources.limits.memory_mib,
    )


def ownership(spec: schema.EnvironmentSpec) -> Ownership:
    env = spec.environment
    return Ownership(
        owner=env.owner, team=env.team, cost_centre=env.cost_centre, environment=env.name, tier=env.tier.value
    )


def storage_args(spec: schema.EnvironmentSpec, credentials: CredentialArgs) -> StorageArgs:
    env, storage = spec.environment, spec.storage
    store, db = storage.object_store, storage.database
    return StorageArgs(
        target=env.target,
        ownership=ownership(spec),
        namespace=env.namespace,
        credentials=credentials,
        data_classification_ceiling=env.data_classification_ceiling.value,
        object_store=ObjectStoreArgs(
            image=store.image,
            size_gib=store.size_gib,
            encryption=store.encryption,
            buckets=[
                BucketArgs(name=b.name, versioning=b.versioning, retention_days=b.retention_days)
                for b in store.buckets
            ],
        ),
        database=DatabaseArgs(
            image=db.image,
            version=db.version,
            size_gib=db.size_gib,
            backup=(
                BackupArgs(schedule=db.backup.schedule, retention_days=db.backup.retention_days)
                if db.backup.enabled
                else None
            ),
        ),
        volumes=[
            VolumeArgs(name=v.name, size_gib=v.size_gib, access_mode=v.access_mode) for v in storage.volumes
        ],
        storage_class=storage.storage_class,
        protect_stateful=env.tier is Tier.PROD,
    )


def _model_source(ref: schema.ModelRef) -> tuple[str, ModelSource]:
    if ref.uri is not None:
        return ref.uri, ModelSource.URI
    if ref.version is not None:
        return f"models:/{ref.name}/{ref.version}", ModelSource.REGISTRY_VERSION
    return f"models:/{ref.name}/{ref.alias}", ModelSource.REGISTRY_ALIAS


def _canary(model: schema.ModelEndpoint, resolution: Resolution | None = None) -> CanaryArgs | None:
    canary = model.canary
    if canary is None:
        return None
    registered = model.model.name or model.name  # an ad-hoc stable model: the canary uses the endpoint name
    if resolution is not None and resolution.version is not None:  # pinned to what the alias resolved to
        uri, source, label = (
            f"models:/{registered}/{resolution.version}",
            ModelSource.REGISTRY_VERSION,
            str(resolution.version),
        )
    elif canary.version is not None:
        uri, source, label = (
            f"models:/{registered}/{canary.version}",
            ModelSource.REGISTRY_VERSION,
            str(canary.version),
        )
    else:
        uri, source, label = (
            f"models:/{registered}/{canary.alias}",
            ModelSource.REGISTRY_ALIAS,
            str(canary.alias),
        )
    pin = pin_annotations(resolution, model.governance.metric_thresholds) if resolution else {}
    return CanaryArgs(model_uri=uri, model_source=source, version_label=label, weight_percent=canary.weight,
                      image=canary.image, registry_annotations=pin)  # fmt: skip


def model_spec(
    spec: schema.EnvironmentSpec,
    model: schema.ModelEndpoint,
    resolutions: Mapping[str, Resolution] | None = None,
) -> ModelSpec:
    """The component arguments of one endpoint; ``resolutions`` (track -> what the registry answered)
    pin each resolved track to its version and record its metadata."""
    resolutions = resolutions or {}
    uri, source = _model_source(model.model)
    version_label = model.model.label
    stable = resolutions.get(STABLE)
    if stable is not None and stable.version is not None:
        uri, source, version_label = (
            f"models:/{model.model.name}/{stable.version}",
            ModelSource.REGISTRY_VERSION,
            str(stable.version),
        )
    drift = spec.drift_for(model)
    gov = model.governance
    return ModelSpec(
        name=model.name,
        image=model.image,
        model_uri=uri,
        model_source=source,
        version_label=version_label,
        governance=ModelGovernance(
            owner=gov.owner,
            risk_tier=gov.risk_tier.value,
            data_classification=gov.data_classification.value,
            model_card_url=gov.model_card_url,
            approval_ref=gov.approval_ref,
        ),
        slo=ModelSlo(
            p99_latency_ms=model.slo.p99_latency_ms,
            error_rate=model.slo.error_rate,
            alert_after_seconds=model.slo.alert_after_seconds,
        ),
        port=model.port,
        replicas_min=model.replicas.min,
        replicas_max=model.replicas.max,
        resources=compute(model.resources),
        target_cpu_utilization_percent=model.autoscaling.target_cpu_utilization_percent,
        canary=_canary(model, resolutions.get(CANARY)),
        drift=(
            DriftArgs(
                schedule=drift.schedule,
                psi_threshold=drift.psi_threshold,
                feature_share_threshold=drift.feature_share_threshold,
                alert_after_seconds=drift.alert_after_seconds,
            )
            if drift.enabled
            else None
        ),
        registry_annotations=(
            pin_annotations(stable, model.governance.metric_thresholds) if stable is not None else {}
        ),
    )


def receivers(spec: schema.EnvironmentSpec, secret: SecretLookup) -> list[ReceiverArgs]:
    return [
        ReceiverArgs(
            name=r.name,
            kind=r.kind,
            email=r.email,
            webhook_url=pulumi.Output.secret(secret(r.url_secret)) if r.url_secret else None,
        )
        for r in spec.monitoring.receivers
    ]


def _config_secret(key: str) -> pulumi.Output[str]:
    return pulumi.Config().require_secret(key)


Resolutions = Mapping[str, Mapping[str, Resolution]]
"""Endpoint -> track -> what the model registry answered (``tools.registry.resolve.Resolution``)."""


def _given(spec: schema.EnvironmentSpec, resolutions: Resolutions | None) -> Resolutions:
    """``resolutions``, or none when the spec names no registry; refuses a registry left unasked."""
    if resolutions is not None:
        return resolutions
    if spec.environment.registry_source is not None:
        raise ValueError(
            f"environment {spec.environment.name} names registry_source: pass what the registry "
            "answered as resolutions= (mlops_platform.stacks.program.registry_resolutions asks it)"
        )
    return {}


def credential_args(secret: SecretLookup = _config_secret) -> CredentialArgs:
    """The seed (``credentialSeed``, secret) and rotations (``credentialRotations``) of the stack.

    Raises:
        pulumi.RunError: the seed is missing (naming the key and ``mlops secrets ENV``), or the
            rotations are not a map of names to generations. A RunError is shown without a traceback.
    """
    env = pulumi.get_stack()  # what ``mlops secrets`` takes
    config = pulumi.Config()
    try:
        seed = secret(CREDENTIAL_SEED_KEY)
    except pulumi.ConfigMissingError:
        raise pulumi.RunError(missing_seed_message(config.name, env)) from None
    try:
        rotations = parse_rotations(config.get_object(CREDENTIAL_ROTATIONS_KEY))
    except pulumi.ConfigTypeError as exc:  # not JSON; its message names the key
        raise pulumi.RunError(f"stack {env!r}: {exc}") from None
    except ValueError as exc:
        raise pulumi.RunError(f"stack {env!r}: {config.name}:{exc}") from None
    return CredentialArgs(seed=pulumi.Output.secret(seed), rotations=rotations)


def _storage(
    spec: schema.EnvironmentSpec, credentials: CredentialArgs, opts: pulumi.ResourceOptions | None
) -> StorageStack:
    storage = StorageStack("storage", storage_args(spec, credentials), opts)
    _trace(storage, ("storage",))
    return storage


def _registry(
    spec: schema.EnvironmentSpec,
    credentials: CredentialArgs,
    opts: pulumi.ResourceOptions | None,
    storage: Mapping[str, pulumi.Input[str]],
) -> RegistryStack:
    """The registry layer over the storage layer's values (its component's, or its stack's exports)."""
    reg = spec.registry
    image_registry = reg.image_registry
    registry = RegistryStack(
        "registry",
        RegistryArgs(
            target=spec.environment.target,
            ownership=ownership(spec),
            namespace=storage["namespace"],
            credentials=credentials,
            model_registry=ModelRegistryArgs(
                image=reg.model_registry.image,
                artifact_bucket=reg.model_registry.artifact_bucket,
                replicas=reg.model_registry.replicas,
                resources=compute(reg.model_registry.resources),
            ),
            image_registry=(
                ImageRegistryArgs(
                    image=image_registry.image, size_gib=image_registry.size_gib, auth=image_registry.auth
                )
                if image_registry.enabled
                else None
            ),
            database_url=storage["databaseUrl"],
            object_store_endpoint=storage["objectStoreEndpoint"],
            object_store_access_key=storage["objectStoreAccessKey"],
            object_store_secret_key=storage["objectStoreSecretKey"],
            storage_class=spec.storage.storage_class,
            protect_stateful=spec.environment.tier is Tier.PROD,
        ),
        opts,
    )
    _trace(registry, ("registry",))
    return registry


def _serving(
    spec: schema.EnvironmentSpec,
    opts: pulumi.ResourceOptions | None,
    upstream: Mapping[str, pulumi.Input[str]],
    resolutions: Mapping[str, Mapping[str, Resolution]],
) -> ServingStack:
    serving = ServingStack(
        "serving",
        ServingArgs(
            target=spec.environment.target,
            ownership=ownership(spec),
            namespace=upstream["namespace"],
            registry_uri=upstream["modelRegistryUri"],
            models=[model_spec(spec, m, resolutions.get(m.name)) for m in spec.serving.models],
        ),
        opts,
    )
    _trace(serving, ("serving",))
    for index, model in enumerate(spec.serving.models):
        _trace(serving.endpoints[model.name], ("serving", "models", index))
    return serving


def _monitoring(
    spec: schema.EnvironmentSpec,
    credentials: CredentialArgs,
    opts: pulumi.ResourceOptions | None,
    secret: SecretLookup,
    upstream: Mapping[str, pulumi.Input[str]],
    scrape_targets: list[ScrapeTarget],
    store: Mapping[str, pulumi.Input[str]] | None,
) -> MonitoringStack:
    """The monitoring layer; ``store`` holds the storage layer's object-store exports (None: no drift)."""
    mon = spec.monitoring
    monitoring = MonitoringStack(
        "monitoring",
        MonitoringArgs(
            target=spec.environment.target,
            ownership=ownership(spec),
            namespace=upstream["namespace"],
            credentials=credentials,
            prometheus_image=mon.prometheus_image,
            alertmanager_image=mon.alertmanager_image,
            grafana_image=mon.grafana_image,
            pushgateway_image=mon.pushgateway_image,
            retention_days=mon.retention_days,
            receivers=receivers(spec, secret),
            scrape_targets=scrape_targets,
            scrape_interval_seconds=mon.scrape_interval_seconds,
            dashboards=mon.dashboards,
            drift_image=mon.drift_image,
            drift_store=None
            if store is None
            else DriftStoreArgs(
                endpoint=store["objectStoreEndpoint"],
                access_key=store["objectStoreAccessKey"],
                secret_key=store["objectStoreSecretKey"],
                bucket=mon.drift_bucket,
            ),
            storage_class=spec.storage.storage_class,
        ),
        opts,
    )
    _trace(monitoring, ("monitoring",))
    return monitoring


DRIFT_STORE_EXPORTS = ("objectStoreEndpoint", "objectStoreAccessKey", "objectStoreSecretKey")
"""What the monitoring layer reads of the storage layer when a model has drift checks."""


def drifts(spec: schema.EnvironmentSpec) -> bool:
    """Whether any model of ``spec`` has drift checks (they read the object store)."""
    return any(spec.drift_for(model).enabled for model in spec.serving.models)


STORAGE_EXPORTS = (
    "namespace",
    "databaseUrl",
    "objectStoreEndpoint",
    "objectStoreAccessKey",
    "objectStoreSecretKey",
)


def storage_exports(storage: StorageStack) -> dict[str, pulumi.Output[str]]:
    """What the registry layer reads of the storage layer; the credentials are secret Outputs already."""
    values = (
        storage.namespace,
        storage.database_url,
        storage.object_store_endpoint,
        storage.object_store_access_key,
        storage.object_store_secret_key,
    )
    return dict(zip(STORAGE_EXPORTS, values, strict=True))


def registry_exports(
    registry: RegistryStack, namespace: pulumi.Input[str]
) -> dict[str, pulumi.Input[object]]:
    """What the serving and monitoring layers read of the registry layer."""
    return {
        "namespace": namespace,
        "modelRegistryUri": registry.model_registry_uri,
        "imageRegistryHost": registry.image_registry_host,
    }


def serving_exports(
    serving: ServingStack, upstream: Mapping[str, pulumi.Input[str]]
) -> dict[str, pulumi.Input[object]]:
    """What the monitoring layer reads of the serving layer: where each model's endpoint runs."""
    return {
        "namespace": upstream["namespace"],
        "modelRegistryUri": upstream["modelRegistryUri"],
        "modelEndpoints": serving.urls,
        "scrapeTargets": {
            t.model: {"host": t.host, "selector": t.selector, "canaryHost": t.canary_host}
            for t in serving.outputs.scrape_targets
        },
    }


def monitoring_exports(monitoring: MonitoringStack) -> dict[str, pulumi.Output[str]]:
    """The monitoring layer's endpoints; ``grafanaUrl`` only when the environment has its own Grafana."""
    result: dict[str, pulumi.Output[str]] = {
        "prometheusUrl": monitoring.prometheus_url,
        "alertmanagerUrl": monitoring.alertmanager_url,
    }
    if monitoring.grafana_url is not None:
        result["grafanaUrl"] = monitoring.grafana_url
    result["pushgatewayUrl"] = monitoring.pushgateway_url
    return result


def scrape_targets_from(spec: schema.EnvironmentSpec, served: pulumi.Output[Any]) -> list[ScrapeTarget]:
    """The monitoring layer's targets: what to monitor from the spec, where it runs from the serving stack.

    The models (names, ports, SLOs, drift checks) are the spec's, known here, so monitoring creates its
    per-model resources outside any ``apply``; hosts and selectors are the serving stack's exports.
    """
    targets = []
    on_docker = spec.environment.target.value == "docker"  # Kubernetes: one selector covers the canary
    for model in sorted(spec.serving.models, key=lambda m: m.name):
        args = model_spec(spec, model)

        def location(key: str, name: str = model.name) -> pulumi.Output[Any]:
            return served.apply(lambda exported: exported[name][key])

        targets.append(
            ScrapeTarget(
                model=args.name,
                host=location("host"),
                port=args.port,
                slo=args.slo,
                metrics_path=args.metrics_path,
                drift=args.drift,
                selector=location("selector"),
                image=args.image,
                canary_host=location("canaryHost") if on_docker and args.canary else None,
            )
        )
    return targets


def _upstream(ref: pulumi.StackReference, layer: Layer, key: str) -> pulumi.Output[Any]:
    """Output ``key`` of the upstream layer's stack; a clear error when that stack does not export it."""

    def present(value: Any) -> Any:
        if value is None:
            raise pulumi.RunError(
                f"the {layer.value} layer's stack exports no {key!r}: deploy that layer first"
            )
        return value

    return ref.get_output(key).apply(present)


UpstreamLookup = Callable[[Layer], "pulumi.StackReference"]
"""The StackReference of an upstream layer's stack."""


def build_layer(
    spec: schema.EnvironmentSpec,
    layer: Layer,
    upstream: UpstreamLookup,
    opts: pulumi.ResourceOptions | None = None,
    *,
    secret: SecretLookup = _config_secret,
    resolutions: Resolutions | None = None,
) -> Mapping[str, pulumi.Input[object]]:
    """Create one layer of ``spec``'s environment in its own stack; return that stack's exports.

    Args:
        spec: A validated environment.
        layer: The layer this stack deploys.
        upstream: The StackReference of a layer's stack: ``layer.upstream``, and for monitoring the
            storage layer too when a model has drift checks (its object-store exports).
        opts: Options of the layer component.
        secret: Reads a secret config key (the credential seed, receivers' webhook URLs).
        resolutions: What the model registry answered, for the serving layer (see ``build_platform``).

    Raises:
        ValueError: the spec names ``environment.registry_source`` and the serving layer was given no
            ``resolutions``.
    """
    _SPEC_TRAIL.clear()
    spec = resolve_spec(spec)
    if layer is Layer.STORAGE:
        return storage_exports(_storage(spec, credential_args(secret), opts))
    assert layer.upstream is not None
    ref = upstream(layer.upstream)
    if layer is Layer.REGISTRY:
        values = {key: _upstream(ref, layer.upstream, key) for key in STORAGE_EXPORTS}
        registry = _registry(spec, credential_args(secret), opts, values)
        return registry_exports(registry, values["namespace"])
    values = {key: _upstream(ref, layer.upstream, key) for key in ("namespace", "modelRegistryUri")}
    if layer is Layer.SERVING:
        return serving_exports(_serving(spec, opts, values, _given(spec, resolutions)), values)
    targets = scrape_targets_from(spec, _upstream(ref, layer.upstream, "scrapeTargets"))
    store = None
    if drifts(spec):  # the drift jobs read the object store: the storage layer's exports
        storage_ref = upstream(Layer.STORAGE)
        store = {key: _upstream(storage_ref, Layer.STORAGE, key) for key in DRIFT_STORE_EXPORTS}
    monitoring = _monitoring(spec, credential_args(secret), opts, secret, values, targets, store)
    return monitoring_exports(monitoring)


def build_platform(
    spec: schema.EnvironmentSpec,
    opts: pulumi.ResourceOptions | None = None,
    *,
    secret: SecretLookup = _config_secret,
    resolutions: Resolutions | None = None,
) -> Platform:
    """Create the four layer components of ``spec``'s environment.

    Args:
        spec: A validated environment (``mlops_platform.stacks.loader.load_environment``); its images
            are resolved through ``environment.images`` first (``mlops_platform.stacks.images``).
        opts: Options of the four layer components (a provider, a parent...).
        secret: Reads a secret config key (a receiver's webhook URL, the credential seed); defaults to
            the stack's config.
        resolutions: What the model registry answered per endpoint and track, asked by the caller
            (the program: ``mlops_platform.stacks.program.registry_resolutions``); the composition
            never calls a registry. None: the spec names no ``environment.registry_source``.

    Raises:
        pulumi.RunError: the stack has no credential seed (``credential_args``).
        ValueError: the spec names ``environment.registry_source`` and no ``resolutions`` were given.
    """
    _SPEC_TRAIL.clear()
    spec = resolve_spec(spec)
    credentials = credential_args(secret)
    resolutions = _given(spec, resolutions)
    storage = _storage(spec, credentials, opts)
    registry = _registry(spec, credentials, opts, storage_exports(storage))
    upstream = {"namespace": storage.namespace, "modelRegistryUri": registry.model_registry_uri}
    serving = _serving(spec, opts, upstream, resolutions)
    store = storage_exports(storage) if drifts(spec) else None
    monitoring = _monitoring(spec, credentials, opts, secret, upstream, serving.outputs.scrape_targets, store)
    return Platform(storage=storage, registry=registry, serving=serving, monitoring=monitoring)


def exports(platform: Platform) -> Mapping[str, pulumi.Input[object]]:
    """The stack outputs: endpoints only, no credentials (the database URL stays inside the program)."""
    return {
        "namespace": platform.storage.namespace,
        "objectStoreEndpoint": platform.storage.object_store_endpoint,
        "modelRegistryUri": platform.registry.model_registry_uri,
        "imageRegistryHost": platform.registry.image_registry_host,
        "modelEndpoints": platform.serving.urls,
        **monitoring_exports(platform.monitoring),
    }
