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
from mlops_platform.tools.registry.resolve import (
    CANARY,
    STABLE,
    Resolution,
    pin_annotations,
    resolve_environment,
)

SecretLookup = Callable[[str], pulumi.Output[str]]
"""Reads a secret config key by name (``pulumi.Config().require_secret``)."""


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
        slo=ModelSlo(p99_latency_ms=model.slo.p99_latency_ms, error_rate=model.slo.error_rate),
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


def _config_secret_text(key: str) -> str | None:
    """A secret config value as plain text, for the registry client's credentials during the program.

    ``Config.get`` returns a secret's plaintext (pulumi's Python SDK does not warn: pulumi/pulumi#7127);
    it is used only for the request header, never exported or written into any resource.
    """
    return pulumi.Config().get(key)


def registry_resolutions(
    spec: schema.EnvironmentSpec, secret_text: Callable[[str], str | None] = _config_secret_text
) -> dict[str, dict[str, Resolution]]:
    """Endpoint -> track -> what ``environment.registry_source`` answered (empty when none is named).

    Each unresolved track is logged as a warning (one line: where and why); the registry rules fail it.
    """
    resolutions = resolve_environment(spec, secret_text)
    for endpoint, tracks in resolutions.items():
        for track, resolution in tracks.items():
            if resolution.error is not None:
                pulumi.log.warn(f"serving.models[{endpoint}] {track}: {resolution.error}")
    return resolutions


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
    resolutions: Mapping[str, Mapping[str, Resolution]] | None = None,
) -> Platform:
    """Create the four layer components of ``spec``'s environment.

    Args:
        spec: A validated environment (``mlops_platform.stacks.loader.load_environment``).
        opts: Options of the four layer components (a provider, a parent...).
        secret: Reads a secret config key (a receiver's webhook URL, the credential seed); defaults to
            the stack's config.
        resolutions: What the model registry answered per endpoint and track; None resolves through
            ``environment.registry_source`` when the spec names one (``registry_resolutions``).

    Raises:
        pulumi.RunError: the stack has no credential seed (``credential_args``).
    """
    target = Target(spec.environment.target.value)
    own = ownership(spec)
    credentials = credential_args(secret)
    if resolutions is None:
        resolutions = registry_resolutions(spec)
    storage = StorageStack("storage", storage_args(spec, credentials), opts)
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
    serving = ServingStack(
        "serving",
        ServingArgs(
            target=target,
            ownership=own,
            namespace=storage.namespace,
            registry_uri=registry.model_registry_uri,
            models=[model_spec(spec, m, resolutions.get(m.name)) for m in spec.serving.models],
        ),
        opts,
    )
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
