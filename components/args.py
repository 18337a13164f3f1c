"""Typed arguments and outputs of the four platform layers, shared by both targets.

Every layer component (``StorageStack``, ``RegistryStack``, ``ServingStack`` / ``ModelEndpoint``,
``MonitoringStack``) takes one keyword-only frozen dataclass of ``pulumi.Input`` / plain values and
returns its outputs as a second dataclass, so each layer is usable on its own from any Pulumi program,
and layers can be composed across projects with StackReferences. Cross-layer inputs are the previous
layer's outputs; credentials are ``Output`` secrets. Units are in field names. No pydantic here: the
spec is validated at the config boundary (``mlops_platform.stacks.schema``),
``mlops_platform.stacks.composition`` maps it to these.

Target builders (``components/<target>/<layer>.py``) expose ``build(component, name, args) -> <Outputs>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import pulumi

# The spec's enum, not a second one: the composition hands ``environment.target`` through as it is.
from mlops_platform.validation import Target as Target

PART_OF = "mlops-platform"
"""Value of ``app.kubernetes.io/part-of`` on every resource."""
MANAGED_BY = "pulumi"
"""Value of ``app.kubernetes.io/managed-by`` on every resource."""


DATABASE_URL_SCHEME = "postgresql+psycopg2://"
"""The metadata database URL's scheme, its driver named: SQLAlchemy 2.1 (which MLflow 3 installs)
reads a bare ``postgresql://`` as psycopg 3, which MLflow server images do not ship (ours, and the
drivers teams add to the official one, carry psycopg2): the registry crash-looped on it."""


def database_url(
    *,
    username: pulumi.Input[str],
    password: pulumi.Input[str],
    host: pulumi.Input[str],
    port: int,
    database: str,
) -> pulumi.Output[str]:
    """The metadata database's URL, as both targets' storage layers output it: a secret.

    Args:
        username: the database role.
        password: its password (a generated secret).
        host: the host the registry reaches the database at.
        port: the database's port.
        database: the database's name.
    """
    return pulumi.Output.secret(
        pulumi.Output.concat(DATABASE_URL_SCHEME, username, ":", password, "@", host, f":{port}/{database}")
    )


class ModelSource(StrEnum):
    """How a served model is referenced (annotation ``MODEL_SOURCE``)."""

    REGISTRY_VERSION = "registry-version"
    REGISTRY_ALIAS = "registry-alias"
    URI = "uri"


class Track(StrEnum):
    """Traffic track of a serving workload (label ``TRACK``)."""

    STABLE = "stable"
    CANARY = "canary"


# --- small value types -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Ownership:
    """Who owns the resources: becomes the ownership labels on every labelable resource.

    ``owner`` is an e-mail address; label values cannot hold ``@``, so ``mlops_platform.components.metadata``
    writes it as ``<local>_at_<domain>`` in labels (and verbatim in an annotation on Kubernetes).
    """

    owner: str
    team: str
    cost_centre: str
    environment: str
    """Environment name (``prod``); also the Pulumi stack name."""
    tier: str
    """``dev``, ``staging`` or ``prod``."""


@dataclass(frozen=True, kw_only=True)
class CredentialArgs:
    """Where a layer's generated credentials come from (``mlops_platform.components.credentials``); no
    default exists.

    Every credential is derived from ``seed`` and its own name, so the same seed gives the same
    credentials on every run. A program reads both from stack config
    (``mlops_platform.stacks.credentials_config``).
    """

    seed: pulumi.Input[str]
    """Secret: at least 32 random bytes' worth (``mlops secrets ENV`` writes a CSPRNG value)."""
    rotations: Mapping[str, int] = field(default_factory=dict)
    """Credential name -> generation; a credential not listed is generation 0. Bumping one rotates it
    alone."""


@dataclass(frozen=True, kw_only=True)
class ComputeResources:
    """Requests and limits of one container. Defaults suit the small platform services."""

    cpu_request_millicores: int = 100
    memory_request_mib: int = 256
    cpu_limit_millicores: int = 500
    memory_limit_mib: int = 512


# --- storage -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BucketArgs:
    name: str
    versioning: bool = True
    retention_days: int | None = None
    """Objects expire after this many days; None keeps them forever."""


@dataclass(frozen=True, kw_only=True)
class ObjectStoreArgs:
    """S3-compatible object store (MinIO)."""

    image: str
    size_gib: int
    buckets: Sequence[BucketArgs]
    encryption: bool = True
    """Server-side encryption at rest with a generated key (MinIO KMS secret key)."""
    resources: ComputeResources = ComputeResources(memory_request_mib=512, memory_limit_mib=1024)


@dataclass(frozen=True, kw_only=True)
class BackupArgs:
    schedule: str
    """Five-field cron expression."""
    retention_days: int


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    """The metadata database (PostgreSQL) behind the model registry."""

    image: str
    version: str
    """Pinned engine version (``16.4``); recorded as ``app.kubernetes.io/version``."""
    size_gib: int
    backup: BackupArgs | None = None
    """None: no backups."""
    database_name: str = "mlflow"
    username: str = "mlflow"
    resources: ComputeResources = ComputeResources(memory_request_mib=512, memory_limit_mib=1024)


@dataclass(frozen=True, kw_only=True)
class VolumeArgs:
    name: str
    size_gib: int
    access_mode: str = "ReadWriteOnce"


@dataclass(frozen=True, kw_only=True)
class StorageArgs:
    """Namespace (Kubernetes) or network (Docker), object store, metadata database, shared volumes."""

    target: Target
    ownership: Ownership
    namespace: str
    """Kubernetes Namespace to create, or the Docker network name / container name prefix."""
    credentials: CredentialArgs
    """Seed of the database and object-store credentials (and the object store's KMS key)."""
    data_classification_ceiling: str
    """Most sensitive data class the environment may process (``CLASSIFICATION_CEILING``)."""
    object_store: ObjectStoreArgs
    database: DatabaseArgs
    volumes: Sequence[VolumeArgs] = ()
    storage_class: str | None = None
    """Kubernetes StorageClass of every claim; None uses the cluster default. Ignored on Docker."""
    protect_stateful: bool = False
    """``protect`` + ``retain_on_delete`` on the database, the object store and their volumes (prod)."""


@dataclass(frozen=True, kw_only=True)
class StorageOutputs:
    namespace: pulumi.Output[str]
    """Kubernetes namespace / Docker network name the other layers deploy into."""
    database_host: pulumi.Output[str]
    database_port: int
    database_name: str
    database_username: str
    database_password: pulumi.Output[str]
    """Secret."""
    database_url: pulumi.Output[str]
    """Secret: ``postgresql+psycopg2://user:password@host:port/db``."""
    database_workload: pulumi.Output[str]
    """Name of the database StatefulSet / container."""
    object_store_endpoint: pulumi.Output[str]
    """``http://host:9000`` reachable from inside the namespace / network."""
    object_store_access_key: pulumi.Output[str]
    """Secret."""
    object_store_secret_key: pulumi.Output[str]
    """Secret."""
    buckets: Sequence[str]
    volume_claims: Mapping[str, pulumi.Output[str]]
    """Spec volume name -> PVC / Docker volume name."""


# --- registry ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModelRegistryArgs:
    """MLflow tracking + model registry server; artifacts proxied by the server (``--serve-artifacts``)."""

    image: str
    artifact_bucket: str
    replicas: int = 1
    resources: ComputeResources = ComputeResources(
        cpu_request_millicores=250, memory_request_mib=512, cpu_limit_millicores=1000, memory_limit_mib=1024
    )
    port: int = 5000


@dataclass(frozen=True, kw_only=True)
class ImageRegistryArgs:
    """OCI image registry (distribution) with a persistent volume."""

    image: str
    size_gib: int
    auth: str = "htpasswd"
    """``htpasswd`` (generated user/password) or ``none``."""
    port: int = 5000
    resources: ComputeResources = ComputeResources()


@dataclass(frozen=True, kw_only=True)
class RegistryArgs:
    target: Target
    ownership: Ownership
    namespace: pulumi.Input[str]
    credentials: CredentialArgs
    """Seed of the image registry's HTTP secret and htpasswd password."""
    model_registry: ModelRegistryArgs
    database_url: pulumi.Input[str]
    """Secret: the storage layer's ``database_url``."""
    object_store_endpoint: pulumi.Input[str]
    object_store_access_key: pulumi.Input[str]
    """Secret."""
    object_store_secret_key: pulumi.Input[str]
    """Secret."""
    image_registry: ImageRegistryArgs | None = None
    """None: no image registry."""
    storage_class: str | None = None
    protect_stateful: bool = False
    """``protect`` + ``retain_on_delete`` on the image registry's storage (prod): pushed images live there."""


@dataclass(frozen=True, kw_only=True)
class RegistryOutputs:
    model_registry_uri: pulumi.Output[str]
    """MLflow tracking URI reachable inside the namespace / network (``http://host:5000``)."""
    artifact_root: str
    """``s3://<artifact_bucket>``."""
    image_registry_host: pulumi.Output[str] | None
    """``host:port`` of the image registry, None when disabled."""
    image_registry_username: str | None
    image_registry_password: pulumi.Output[str] | None
    """Secret; None without htpasswd auth."""


# --- serving -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModelSlo:
    p99_latency_ms: int
    error_rate: float
    """Acceptable ratio of 5xx responses, e.g. 0.01."""
    alert_after_seconds: int = 300
    """How long a breach must last before its alert fires (the rule's ``for``)."""


@dataclass(frozen=True, kw_only=True)
class DriftArgs:
    """A scheduled drift check; absent (None) means disabled."""

    schedule: str
    psi_threshold: float = 0.2
    feature_share_threshold: float = 0.3
    alert_after_seconds: int = 900
    """How long a drift figure must stay above its threshold before its alert fires."""


@dataclass(frozen=True, kw_only=True)
class ModelGovernance:
    owner: str
    risk_tier: str
    """``minimal``, ``limited`` or ``high``."""
    data_classification: str
    """``public``, ``internal``, ``confidential`` or ``restricted``."""
    model_card_url: str | None = None
    approval_ref: str | None = None


@dataclass(frozen=True, kw_only=True)
class CanaryArgs:
    model_uri: str
    model_source: ModelSource
    version_label: str
    """Version as a label value: ``41`` or ``challenger``."""
    weight_percent: int
    """Share of traffic sent to the canary (1-99)."""
    image: str | None = None
    """None: the stable image."""
    registry_annotations: Mapping[str, str] = field(default_factory=dict)
    """What the model registry resolved for the canary (``labels.REGISTRY_*``); empty: not consulted."""


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One served model, independent of where it runs."""

    name: str
    """Endpoint name: a DNS label, the stable key of every child resource."""
    image: str
    model_uri: str
    """``models:/<name>/<version-or-alias>`` (the contract's form, see ``metadata.mlflow_model_uri`` for the
    URI MLflow loads) or an ad-hoc artifact URI."""
    model_source: ModelSource
    version_label: str
    """Version as a label value: ``42``, ``champion`` or ``uri``."""
    governance: ModelGovernance
    slo: ModelSlo
    port: int = 8080
    replicas_min: int = 1
    replicas_max: int = 1
    resources: ComputeResources = ComputeResources()
    target_cpu_utilization_percent: int = 70
    canary: CanaryArgs | None = None
    drift: DriftArgs | None = None
    metrics_path: str = "/metrics"
    health_path: str = "/health"
    registry_annotations: Mapping[str, str] = field(default_factory=dict)
    """What the model registry resolved for the stable track (``labels.REGISTRY_*``); empty: not consulted."""


@dataclass(frozen=True, kw_only=True)
class ModelEndpointArgs:
    """Arguments of one ``ModelEndpoint``: the model plus where it runs and the registry it loads from."""

    target: Target
    ownership: Ownership
    namespace: pulumi.Input[str]
    registry_uri: pulumi.Input[str]
    model: ModelSpec


@dataclass(frozen=True, kw_only=True)
class ServingArgs:
    target: Target
    ownership: Ownership
    namespace: pulumi.Input[str]
    registry_uri: pulumi.Input[str]
    """The registry layer's ``model_registry_uri`` (``MLFLOW_TRACKING_URI`` of every server)."""
    models: Sequence[ModelSpec] = ()

    def endpoint_args(self, model: ModelSpec) -> ModelEndpointArgs:
        return ModelEndpointArgs(
            target=self.target,
            ownership=self.ownership,
            namespace=self.namespace,
            registry_uri=self.registry_uri,
            model=model,
        )


@dataclass(frozen=True, kw_only=True)
class ScrapeTarget:
    """What monitoring needs to know about one endpoint.

    The model, port, SLO and drift check decide which resources monitoring creates: plain values. Where
    the endpoint runs (``host``, ``selector``, ``canary_host``) may come from another stack (a serving
    layer's exports read through a ``StackReference``): Inputs, rendered inside ``apply``.
    """

    model: str
    host: pulumi.Input[str]
    """Service name (Kubernetes, same namespace) or container name (Docker)."""
    port: int
    slo: ModelSlo
    metrics_path: str = "/metrics"
    drift: DriftArgs | None = None
    selector: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    """Kubernetes: labels of the model's Service, for its ServiceMonitor. Empty on Docker."""
    image: str | None = None
    """The model's serving image: its drift job runs in it when no ``drift_image`` is set."""
    canary_host: pulumi.Input[str] | None = None
    """Docker: container name of the canary, scraped beside ``host`` (track ``canary``). None on Kubernetes,
    where the ServiceMonitor's selector covers both Deployments."""


@dataclass(frozen=True, kw_only=True)
class ModelEndpointOutputs:
    url: pulumi.Output[str]
    """In-cluster / in-network URL of the endpoint (traffic-split when a canary is configured)."""
    scrape_target: ScrapeTarget


@dataclass(frozen=True, kw_only=True)
class ServingOutputs:
    endpoints: Mapping[str, ModelEndpointOutputs]
    """Model name -> endpoint outputs."""

    @property
    def scrape_targets(self) -> list[ScrapeTarget]:
        return [self.endpoints[name].scrape_target for name in sorted(self.endpoints)]


# --- monitoring --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReceiverArgs:
    """An Alertmanager receiver. Webhook URLs are secrets (``Output.secret``)."""

    name: str
    kind: str
    """``email``, ``webhook`` or ``slack``."""
    email: str | None = None
    webhook_url: pulumi.Input[str] | None = None
    """Secret."""


@dataclass(frozen=True, kw_only=True)
class DriftStoreArgs:
    """Where the drift jobs read each model's samples: an S3 API object store (the storage layer's).

    Layout: ``s3://<bucket>/<prefix>/<model>/reference.{csv,parquet}`` and
    ``.../<model>/recent/*.{csv,parquet}`` (see ``mlops_platform.drift``).
    """

    endpoint: pulumi.Input[str]
    """``http://host:port``: the storage layer's ``object_store_endpoint``."""
    access_key: pulumi.Input[str]
    """Secret."""
    secret_key: pulumi.Input[str]
    """Secret."""
    bucket: str = "datasets"
    prefix: str = "drift"


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    target: Target
    ownership: Ownership
    namespace: pulumi.Input[str]
    credentials: CredentialArgs
    """Seed of the Grafana admin password."""
    prometheus_image: str
    alertmanager_image: str
    grafana_image: str | None
    """The environment's own Grafana. None: no Grafana (nor its Service, Secret, datasource or volume);
    the dashboards are left to a central Grafana (``dashboards``)."""
    pushgateway_image: str
    """The Pushgateway the drift jobs push their figures to (Prometheus scrapes it, ``honor_labels``)."""
    retention_days: int
    receivers: Sequence[ReceiverArgs]
    scrape_targets: Sequence[ScrapeTarget] = ()
    scrape_interval_seconds: int = 30
    dashboards: bool = True
    """One Grafana dashboard per model, provisioned into the layer's Grafana. Without ``grafana_image``:
    on Kubernetes, one ConfigMap per model labelled ``grafana_dashboard: "1"`` for a central Grafana's
    dashboard sidecar (kube-prometheus-stack's convention); on Docker, none (nothing could load them)."""
    drift_image: str | None = None
    """Image of the drift jobs, which run ``python -m mlops_platform.drift``: the platform's runtime image.
    None: each model's serving image, which is that image when the model runs the platform's server
    (``mlops_platform.serving_runtime``)."""
    drift_store: DriftStoreArgs | None = None
    """Where the drift jobs read samples. Required when a target has drift checks; None otherwise."""
    storage_class: str | None = None
    prometheus_size_gib: int = 20


@dataclass(frozen=True, kw_only=True)
class MonitoringOutputs:
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str] | None
    """None without ``grafana_image``."""
    pushgateway_url: pulumi.Output[str]
    """The Pushgateway the drift jobs push to (``http://host:9091``)."""
    grafana_admin_password: pulumi.Output[str] | None
    """Secret; None without ``grafana_image``."""
    dashboards: Sequence[str]
    """Model names with a dashboard: provisioned into the layer's Grafana, or (Kubernetes, no Grafana)
    shipped as a sidecar ConfigMap."""
