"""The environment spec: one pydantic model describing a whole MLOps platform environment.

The schema checks structure and internal consistency only. Governance (pinned images, replicas per
tier, approved registries...) belongs to the policy packs, where it is audited, waivable and mapped
to controls. Every model forbids unknown keys. Units are in field names (``memory_mib``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from mlops_platform.stacks.registry_spec import MetricThresholds, RegistrySource
from mlops_platform.stacks.types import (
    BUCKET_PATTERN,
    NOT_A_BOOLEAN,
    AccessMode,
    AlertAfterSeconds,
    BucketName,
    Cron,
    DataClassification,
    Days,
    DnsLabel,
    Email,
    EndpointName,
    Fraction,
    HttpsUrl,
    ImageRef,
    LabelValue,
    MlflowServerImage,
    PinnedVersion,
    Port,
    ReceiverKind,
    RegistryAuth,
    RegistryPrefix,
    RiskTier,
    SizeGib,
    Target,
    Tier,
)


class Strict(BaseModel):
    """Base of every spec model: unknown keys are errors, instances are immutable.

    Numbers refuse booleans by their types (``stacks/types.py``: ``NOT_A_BOOLEAN``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class CrossChecked(Strict):
    """A model with checks across its entries (unique names, references between sections).

    They are written as ``_raw_checks`` on the raw input and reported *together with* ordinary field
    errors: pydantic skips after-validators as soon as one field fails, which would hide them until
    the next run. Only models that have such checks pay for the wrap validator (a 20,000-model spec
    builds 190,000 model instances).
    """

    @classmethod
    def _raw_checks(cls, data: dict[str, Any]) -> list[FieldError]:
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _with_raw_checks(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        found = cls._raw_checks(data) if isinstance(data, dict) else []
        if not found:
            return handler(data)
        errors = [_cross_field_error(e.path, str(e), data) for e in found]
        try:
            handler(data)
        except ValidationError as exc:
            for error in exc.errors():
                if error["type"] == "cross_field":  # raised by a nested model: rebuild it
                    errors.append(_cross_field_error(error["loc"], error["msg"], error["input"]))
                else:
                    errors.append(InitErrorDetails(**error))  # type: ignore[typeddict-item]
        raise ValidationError.from_exception_data(cls.__name__, errors)


def _cross_field_error(loc: tuple[str | int, ...], message: str, data: Any) -> InitErrorDetails:
    error = PydanticCustomError("cross_field", "{message}", {"message": message})
    return InitErrorDetails(type=error, loc=loc, input=data)


class FieldError(ValueError):
    """A cross-field error that belongs to a key below the model validating it.

    The loader appends ``path`` to pydantic's location so the message points at the offending
    key and its line (``replicas.min``), not at the enclosing object.
    """

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def _duplicates(data: dict[str, Any], field: str) -> list[FieldError]:
    """Every second occurrence of a ``name`` in the raw list ``data[field]``."""
    items = data.get(field)
    seen: set[str] = set()
    found = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name in seen:
            found.append(FieldError((field, index, "name"), f"duplicate name {name!r}"))
        if isinstance(name, str):
            seen.add(name)
    return found


def _same_ref(a: Any, b: Any) -> bool:
    """Whether two raw versions (or aliases) name the same one as validated: ``'3'`` and ``3`` do."""

    def canonical(value: Any) -> Any:
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            digits = value.strip().lstrip("0") or "0"
            return digits if len(digits) <= 30 else value  # as pydantic reads it, never int()'s limit
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    return canonical(a) == canonical(b)


def _dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...`` on raw input, or None where the shape is not as expected."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


# --- environment identity --------------------------------------------------------------------


class ImageSource(Strict):
    """Where the environment's images are pulled from, when not from the registries the spec names."""

    mirror: RegistryPrefix | None = None
    """Registry (and path) mirroring every image, as air-gapped organisations do:
    ``ghcr.io/mlflow/mlflow:v2.16.2`` runs as ``<mirror>/ghcr.io/mlflow/mlflow:v2.16.2``, digest kept."""
    overrides: dict[ImageRef, ImageRef] = Field(default_factory=dict)
    """Per image, the reference as written in the spec or the tier defaults -> the one to run instead;
    wins over ``mirror``."""


class Environment(Strict):
    name: DnsLabel
    """Environment name; also the Pulumi stack name."""
    tier: Tier
    """Governs tier defaults and policy enforcement (advisory in dev, mandatory in prod)."""
    target: Target
    """Where the platform runs: local Docker or a Kubernetes cluster."""
    namespace: DnsLabel
    """Kubernetes namespace, or the Docker network / name prefix."""
    owner: Email
    """Accountable person or list address."""
    team: LabelValue
    cost_centre: LabelValue
    data_classification_ceiling: DataClassification
    """Most sensitive data class this environment may process."""
    await_readiness: bool = True
    """Kubernetes: wait for every object to become ready, as the provider does by default; false sets
    the provider's ``pulumi.com/skipAwait`` annotation on every object (clusters without nodes)."""
    registry_source: RegistrySource | None = None
    """External model registry the program resolves aliases in (``stacks/registry_spec.py``); None: none."""
    images: ImageSource = Field(default_factory=ImageSource)
    """A registry mirror or per-image replacements for every image (``stacks/images.py``)."""


# --- storage ---------------------------------------------------------------------------------


class Bucket(Strict):
    name: BucketName
    versioning: bool = True
    retention_days: Days | None = None
    """Objects expire after this many days; None keeps them forever."""


class ObjectStore(CrossChecked):
    image: ImageRef
    size_gib: SizeGib
    encryption: bool = True
    """Server-side encryption at rest (MinIO SSE with a generated key)."""
    buckets: Annotated[list[Bucket], Field(min_length=1)]

    @classmethod
    def _raw_checks(cls, data: dict[str, Any]) -> list[FieldError]:
        return _duplicates(data, "buckets")


class Backup(Strict):
    enabled: bool = True
    schedule: Cron = "0 2 * * *"
    retention_days: Days


class MetadataDatabase(Strict):
    engine: Literal["postgres"] = "postgres"
    version: PinnedVersion
    """Pinned engine version, e.g. ``16.4``."""
    image: ImageRef
    size_gib: SizeGib
    backup: Backup


class Volume(Strict):
    name: DnsLabel
    size_gib: SizeGib
    access_mode: AccessMode = AccessMode.READ_WRITE_ONCE


class Storage(CrossChecked):
    storage_class: DnsLabel | None = None
    """Kubernetes StorageClass for every volume; None uses the cluster default."""
    object_store: ObjectStore
    database: MetadataDatabase
    volumes: list[Volume] = []

    @classmethod
    def _raw_checks(cls, data: dict[str, Any]) -> list[FieldError]:
        return _duplicates(data, "volumes")


# --- registry --------------------------------------------------------------------------------


class Compute(Strict):
    cpu_millicores: Annotated[int, Field(ge=1, le=256_000), NOT_A_BOOLEAN]
    memory_mib: Annotated[int, Field(ge=4, le=1_048_576), NOT_A_BOOLEAN]


class Resources(Strict):
    requests: Compute
    limits: Compute

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Self:
        for unit in ("cpu_millicores", "memory_mib"):
            request, limit = getattr(self.requests, unit), getattr(self.limits, unit)
            if request > limit:
                raise FieldError(("requests", unit), f"must be <= limits.{unit} ({request} > {limit})")
        return self


class ModelRegistry(Strict):
    kind: Literal["mlflow"] = "mlflow"
    image: MlflowServerImage
    """MLflow server with psycopg2 and boto3 (the official image has neither; its ``-full`` has both)."""
    replicas: Annotated[int, Field(ge=1, le=20), NOT_A_BOOLEAN] = 1
    resources: Resources
    artifact_bucket: BucketName
    """Bucket of the object store holding model artifacts."""


class ImageRegistry(Strict):
    enabled: bool = True
    image: ImageRef
    size_gib: SizeGib
    auth: RegistryAuth = RegistryAuth.HTPASSWD


class Registry(Strict):
    model_registry: ModelRegistry
    image_registry: ImageRegistry


# --- serving ---------------------------------------------------------------------------------


class ModelRef(Strict):
    """Where the served model comes from: the registry by version or alias, or an ad-hoc URI."""

    name: (
        Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None
    ) = None
    """Registered model name in the model registry."""
    version: Annotated[int, Field(ge=1), NOT_A_BOOLEAN] | None = None
    alias: DnsLabel | None = None
    """Registry alias such as ``champion``."""
    uri: Annotated[str, Field(min_length=3, pattern=r"^[a-z0-9+.-]+://\S+$")] | None = None
    """Ad-hoc artifact URI (``s3://...``); policies refuse it in prod."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        chosen = [k for k in ("version", "alias", "uri") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"set exactly one of version, alias or uri (got {', '.join(chosen) or 'none'})")
        if self.uri is None and self.name is None:
            raise ValueError("name is required with a version or an alias")
        if self.uri is not None and self.name is not None:
            raise ValueError("name goes with version or alias, not with uri")
        return self

    @property
    def label(self) -> str:
        """The version as a label value: ``3``, ``champion`` or ``uri``."""
        return str(self.version) if self.version is not None else (self.alias or "uri")


class Replicas(Strict):
    min: Annotated[int, Field(ge=1, le=1000), NOT_A_BOOLEAN]
    max: Annotated[int, Field(ge=1, le=1000), NOT_A_BOOLEAN]

    @model_validator(mode="after")
    def _min_le_max(self) -> Self:
        if self.min > self.max:
            raise FieldError(("min",), f"must be <= max ({self.min} > {self.max})")
        return self


class Canary(Strict):
    version: Annotated[int, Field(ge=1), NOT_A_BOOLEAN] | None = None
    alias: DnsLabel | None = None
    weight: Annotated[int, Field(ge=1, le=99), NOT_A_BOOLEAN]
    """Percentage of traffic sent to the canary."""
    image: ImageRef | None = None
    """Server image for the canary; defaults to the stable image."""

    @model_validator(mode="after")
    def _one_version(self) -> Self:
        if (self.version is None) == (self.alias is None):
            raise ValueError("set exactly one of version or alias")
        return self


class Slo(Strict):
    p99_latency_ms: Annotated[int, Field(ge=1, le=600_000), NOT_A_BOOLEAN]
    error_rate: Fraction
    """Acceptable ratio of 5xx responses, e.g. 0.01."""
    alert_after_seconds: AlertAfterSeconds = 300
    """How long a breach of either SLO must last before its alert fires; 0 fires at the first evaluation."""


class Governance(Strict):
    owner: Email
    risk_tier: RiskTier
    data_classification: DataClassification
    model_card_url: HttpsUrl | None = None
    approval_ref: Annotated[str, Field(min_length=3, max_length=128)] | None = None
    """Change or model-risk approval, e.g. ``MRM-2026-014``."""
    metric_thresholds: MetricThresholds = {}
    """What the served version's logged metrics must meet (``auc: ">= 0.92"``); the registry rules judge."""


class DriftCheck(Strict):
    enabled: bool = True
    schedule: Cron = "0 * * * *"
    psi_threshold: Fraction = 0.2
    """Population stability index above which the alert fires."""
    feature_share_threshold: Fraction = 0.3
    """Share of drifted features above which the alert fires."""
    alert_after_seconds: AlertAfterSeconds = 900
    """How long a drift figure must stay above its threshold before its alert fires (drift jobs run
    hourly by default: one bad evaluation is not a trend)."""


class Autoscaling(Strict):
    target_cpu_utilization_percent: Annotated[int, Field(ge=1, le=100), NOT_A_BOOLEAN] = 70


class ModelEndpoint(CrossChecked):
    name: EndpointName
    image: ImageRef
    model: ModelRef
    port: Port = 8080
    replicas: Replicas
    resources: Resources
    autoscaling: Autoscaling = Autoscaling()
    canary: Canary | None = None
    slo: Slo
    governance: Governance
    drift: DriftCheck | None = None
    """Overrides ``monitoring.drift`` for this model."""

    @classmethod
    def _raw_checks(cls, data: dict[str, Any]) -> list[FieldError]:
        if not isinstance(data.get("canary"), dict):
            return []  # most models: no canary to compare
        found = []
        for field in ("version", "alias"):
            canary, stable = _dig(data, "canary", field), _dig(data, "model", field)
            if canary is not None and _same_ref(canary, stable):
                found.append(FieldError(("canary", field), f"must differ from the stable model's ({canary})"))
        return found


class Serving(CrossChecked):
    models: list[ModelEndpoint] = []

    @classmethod
    def _raw_checks(cls, data: dict[str, Any]) -> list[FieldError]:
        return _duplicates(data, "models")


# --- monitoring ------------------------------------------------------------------------------


class Receiver(Strict):
    name: DnsLabel
    kind: ReceiverKind
    email: Email | None = None
    url_secret: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")] | None = None
    """Name of a Pulumi *secret* config key holding the webhook URL (``pulumi config set --secret``)."""

    @model_validator(mode="after")
    def _target_matches_kind(self) -> Self:
        if self.kind == "email" and (self.email is None or self.url_secret is not None):
            raise ValueError("an email receiver needs email and no url_secret")
        if self.kind != "email" and (self.url_secret is None or self.email is not None):
            raise ValueError(f"a {self.kind} receiver needs url_secret and no email")
        return self


class Monitoring(CrossChecked):
    prometheus_image: ImageRef
    alertmanager_image: ImageRef
    grafana_image: ImageRef | None
    """Image of the environment's own Grafana. ``null``: none; the dashboards (``dashboards``) are left to
    a central Grafana: on Kubernetes, ConfigMaps labelled ``grafana_dashboard: "1"`` for its sidecar; on
    Docker, none."""
    pushgateway_image: ImageRef
    """The Pushgateway the drift jobs push their figures to."""
    drift_image: ImageRef | None = None
    """Image of the drift jobs (``python -m mlops_platform.drift``): the platform's runtime image. Unset:
    each model's own image, which holds the drift job when the model runs the platform's model server."""
    drift_bucket: BucketName = "datasets"
    """Bucket holding ``drift/<model>/reference.csv`` and ``drift/<model>/recent/*.csv`` (or ``.parquet``):
    the samples the drift jobs compare. When set, it must be a bucket of ``storage.object_store``."""
    retention_days: Days
    scrape_interval_seconds: Annotated[int, Field(ge=5, le=3600), NOT_A_BOOLEAN] = 30
    receivers: Annotated[list[Receiver], Field(min_length=1)]
    dashboards: bool = True
    """One Grafana dashboard per model: provisioned into the environment's Grafana, or (no
    ``grafana_image``, Kubernetes) ConfigMaps for a central Grafana's sidecar."""
    drift: DriftCheck = DriftCheck()
    """Drift checks for every model unless a model overrides them."""

    @classmethod
    def _raw_checks(cls, data: dict[str, Any]) -> list[FieldError]:
        return _duplicates(data, "receivers")


# --- the whole environment -------------------------------------------------------------------


class EnvironmentSpec(CrossChecked):
    """One environment of the platform, as declared in ``stacks/Pulumi.<env>.yaml``."""

    environment: Environment
    storage: Storage
    registry: Registry
    serving: Serving
    monitoring: Monitoring

    @classmethod
    def _raw_checks(cls, data: dict[str, Any]) -> list[FieldError]:
        buckets = _dig(data, "storage", "object_store", "buckets")
        if not isinstance(buckets, list):
            return []
        names = sorted(str(b["name"]) for b in buckets if isinstance(b, dict) and "name" in b)
        if len(set(names)) < len(names) or not all(re.fullmatch(BUCKET_PATTERN, n) for n in names):
            return []  # the bucket list's own errors say what is wrong; a cross-check would only echo them
        found = []
        for path in (("registry", "model_registry", "artifact_bucket"), ("monitoring", "drift_bucket")):
            bucket = _dig(data, *path)
            if isinstance(bucket, str) and bucket not in names:
                message = f"{bucket!r} is not a bucket of storage.object_store ({', '.join(names)})"
                found.append(FieldError(path, message))
        return found

    def drift_for(self, model: ModelEndpoint) -> DriftCheck:
        """The drift check that applies to ``model``: its own, else the global one."""
        return model.drift or self.monitoring.drift


SECTIONS = tuple(EnvironmentSpec.model_fields)
