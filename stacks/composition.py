"""Map a validated ``EnvironmentSpec`` to the four layer components, wired output to input.

The only module that knows both the spec (pydantic, config boundary) and the components' typed
arguments. Layer order follows the data: storage -> registry -> serving -> monitoring. In prod the
stateful resources (database, object store, their volumes) are ``protect``ed and ``retain_on_delete``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pulumi

from mlops_platform.components.args import (
    BackupArgs,
    BucketArgs,
    CanaryArgs,
    ComputeResources,
    CredentialArgs,
    DatabaseArgs,
    DriftArgs,
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
    ServingArgs,
    StorageArgs,
    Target,
    VolumeArgs,
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
from mlops_platform.stacks.types import Tier

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
        target=Target(env.target.value),
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


def _canary(model: schema.ModelEndpoint) -> CanaryArgs | None:
    canary = model.canary
    if canary is None:
        return None
    registered = model.model.name or model.name  # an ad-hoc stable model: the canary uses the endpoint name
    if canary.version is not None:
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
    return CanaryArgs(model_uri=uri, model_source=source, version_label=label, weight_percent=canary.weight,
                      image=canary.image)  # fmt: skip


def model_spec(spec: schema.EnvironmentSpec, model: schema.ModelEndpoint) -> ModelSpec:
    uri, source = _model_source(model.model)
    drift = spec.drift_for(model)
    gov = model.governance
    return ModelSpec(
        name=model.name,
        image=model.image,
        model_uri=uri,
        model_source=source,
        version_label=model.model.label,
        governance=ModelGovernance(
            owner=gov.owner,
            risk_tier=gov.risk_tier.value,
            data_classification=gov.data_classification.value,
            model_card_url=gov.model_card_url,
            approval_ref=gov.approval_ref,
        ),
        slo=ModelSlo(p99_latency_ms=model.slo.p99_latency_ms, error_rate=model.slo.error_rate),
        port=model.port,
        replicas_min=model.replicas.min,
        replicas_max=model.replicas.max,
        resources=compute(model.resources),
        target_cpu_utilization_percent=model.autoscaling.target_cpu_utilization_percent,
        canary=_canary(model),
        drift=(
            DriftArgs(
                schedule=drift.schedule,
                psi_threshold=drift.psi_threshold,
                feature_share_threshold=drift.feature_share_threshold,
            )
            if drift.enabled
            else None
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


def build_platform(
    spec: schema.EnvironmentSpec,
    opts: pulumi.ResourceOptions | None = None,
    *,
    secret: SecretLookup = _config_secret,
) -> Platform:
    """Create the four layer components of ``spec``'s environment.

    Args:
        spec: A validated environment (``mlops_platform.stacks.loader.load_environment``).
        opts: Options of the four layer components (a provider, a parent...).
        secret: Reads a secret config key (a receiver's webhook URL, the credential seed); defaults to
            the stack's config.

    Raises:
        pulumi.RunError: the stack has no credential seed (``credential_args``).
    """
    _SPEC_TRAIL.clear()
    target = Target(spec.environment.target.value)
    own = ownership(spec)
    credentials = credential_args(secret)
    storage = StorageStack("storage", storage_args(spec, credentials), opts)
    _trace(storage, ("storage",))
    reg = spec.registry
    image_registry = reg.image_registry
    registry = RegistryStack(
        "registry",
        RegistryArgs(
            target=target,
            ownership=own,
            namespace=storage.namespace,
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
            database_url=storage.database_url,
            object_store_endpoint=storage.object_store_endpoint,
            object_store_access_key=storage.object_store_access_key,
            object_store_secret_key=storage.object_store_secret_key,
            storage_class=spec.storage.storage_class,
            protect_stateful=spec.environment.tier is Tier.PROD,
        ),
        opts,
    )
    _trace(registry, ("registry",))
    serving = ServingStack(
        "serving",
        ServingArgs(
            target=target,
            ownership=own,
            namespace=storage.namespace,
            registry_uri=registry.model_registry_uri,
            models=[model_spec(spec, m) for m in spec.serving.models],
        ),
        opts,
    )
    _trace(serving, ("serving",))
    for index, model in enumerate(spec.serving.models):
        _trace(serving.endpoints[model.name], ("serving", "models", index))
    mon = spec.monitoring
    monitoring = MonitoringStack(
        "monitoring",
        MonitoringArgs(
            target=target,
            ownership=own,
            namespace=storage.namespace,
            credentials=credentials,
            prometheus_image=mon.prometheus_image,
            alertmanager_image=mon.alertmanager_image,
            grafana_image=mon.grafana_image,
            retention_days=mon.retention_days,
            receivers=receivers(spec, secret),
            scrape_targets=serving.outputs.scrape_targets,
            scrape_interval_seconds=mon.scrape_interval_seconds,
            dashboards=mon.dashboards,
            registry_uri=registry.model_registry_uri,
            storage_class=spec.storage.storage_class,
        ),
        opts,
    )
    _trace(monitoring, ("monitoring",))
    return Platform(storage=storage, registry=registry, serving=serving, monitoring=monitoring)


def exports(platform: Platform) -> Mapping[str, pulumi.Input[object]]:
    """The stack outputs: endpoints only, no credentials (the database URL stays inside the program)."""
    return {
        "namespace": platform.storage.namespace,
        "objectStoreEndpoint": platform.storage.object_store_endpoint,
        "modelRegistryUri": platform.registry.model_registry_uri,
        "imageRegistryHost": platform.registry.image_registry_host,
        "modelEndpoints": platform.serving.urls,
        "prometheusUrl": platform.monitoring.prometheus_url,
        "alertmanagerUrl": platform.monitoring.alertmanager_url,
        "grafanaUrl": platform.monitoring.grafana_url,
    }
