"""The platform's vocabulary: label and annotation keys and label values, one contract for all layers.

Components write these keys, stacks and spec validation refer to them, the policy packs read them.
Owned by no layer: this module imports nothing of the project's and nothing of Pulumi's, so a policy
pack installed from the distribution needs no provider or component code.
Kubernetes objects carry these as ``metadata.labels`` / ``metadata.annotations`` (and on pod
templates); Docker containers carry the same keys as container labels.
"""

from typing import Final

DOMAIN: Final = "mlops.dev"

# app.kubernetes.io recommended labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/)
APP_NAME: Final = "app.kubernetes.io/name"
APP_INSTANCE: Final = "app.kubernetes.io/instance"
APP_COMPONENT: Final = "app.kubernetes.io/component"
APP_PART_OF: Final = "app.kubernetes.io/part-of"
APP_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
APP_VERSION: Final = "app.kubernetes.io/version"

# Ownership, on every resource that can carry labels.
ENVIRONMENT: Final = f"{DOMAIN}/environment"
TIER: Final = f"{DOMAIN}/tier"
OWNER: Final = f"{DOMAIN}/owner"
TEAM: Final = f"{DOMAIN}/team"
COST_CENTRE: Final = f"{DOMAIN}/cost-centre"
OWNERSHIP_LABELS: Final = (OWNER, TEAM, COST_CENTRE, ENVIRONMENT)

# Serving workloads (stable and canary Deployments, Docker model containers).
MODEL: Final = f"{DOMAIN}/model"
MODEL_VERSION: Final = f"{DOMAIN}/model-version"
RISK_TIER: Final = f"{DOMAIN}/risk-tier"
DATA_CLASSIFICATION: Final = f"{DOMAIN}/data-classification"
TRACK: Final = f"{DOMAIN}/track"  # "stable" or "canary"
MODEL_LABELS: Final = (MODEL, MODEL_VERSION, RISK_TIER, DATA_CLASSIFICATION)

# Values of APP_COMPONENT that policies key on.
COMPONENT_MODEL_SERVER: Final = "model-server"
COMPONENT_METADATA_DATABASE: Final = "metadata-database"
COMPONENT_OBJECT_STORE: Final = "object-store"
COMPONENT_MODEL_REGISTRY: Final = "model-registry"
COMPONENT_IMAGE_REGISTRY: Final = "image-registry"
COMPONENT_MONITORING: Final = "monitoring"
COMPONENT_DRIFT_CHECK: Final = "drift-check"
COMPONENT_DATABASE_BACKUP: Final = "database-backup"
COMPONENT_BUCKET_INIT: Final = "bucket-init"  # one-shot job creating and configuring buckets

# Annotations (values that are not valid label values: URLs, URIs, free text).
MODEL_WORKLOAD: Final = f"{DOMAIN}/model-workload"  # "true": serves a model (a server not recognised)
MODEL_URI: Final = f"{DOMAIN}/model-uri"  # models:/<name>/<version|alias> or an ad-hoc URI
MODEL_SOURCE: Final = f"{DOMAIN}/model-source"  # "registry-version", "registry-alias" or "uri"
MODEL_CARD_URL: Final = f"{DOMAIN}/model-card-url"
APPROVAL_REF: Final = f"{DOMAIN}/approval-ref"
DRIFT_CHECK: Final = f"{DOMAIN}/drift-check"  # "enabled" or "disabled"
CLASSIFICATION_CEILING: Final = f"{DOMAIN}/data-classification-ceiling"  # on the Namespace / network
BUCKET_VERSIONING: Final = f"{DOMAIN}/bucket-versioning"  # "enabled" or "disabled"
ENCRYPTION_AT_REST: Final = f"{DOMAIN}/encryption-at-rest"  # "enabled" or "disabled"
BACKUP_SCHEDULE: Final = f"{DOMAIN}/backup-schedule"  # cron expression
BACKUP_RETENTION_DAYS: Final = f"{DOMAIN}/backup-retention-days"  # integer as a string
BACKUP_OF: Final = f"{DOMAIN}/backup-of"  # name of the database workload a backup job serves
SCRAPE_TARGET: Final = f"{DOMAIN}/scrape-target"  # model a ServiceMonitor / Prometheus job scrapes
ALERT_RULES_FOR: Final = f"{DOMAIN}/alert-rules-for"  # model a PrometheusRule group covers
EXPOSURE_ALLOWED: Final = f"{DOMAIN}/exposure-allowed"  # "true" allows LoadBalancer/NodePort/0.0.0.0

# Model registry resolution (issue 15), annotations of serving workloads whose environment consults a
# registry (``environment.registry_source``): what the program resolved at preview/up time.
REGISTRY_RESOLUTION: Final = f"{DOMAIN}/registry-resolution"  # "resolved" or "unresolved"
REGISTRY_URI: Final = f"{DOMAIN}/registry-uri"  # the tracking server consulted, or "snapshot:<file>"
REGISTRY_REF: Final = f"{DOMAIN}/registry-ref"  # what the spec asked for: "alias:champion" or "version:12"
REGISTRY_ERROR: Final = f"{DOMAIN}/registry-error"  # one line: why the version is unresolved
REGISTRY_VERSION: Final = f"{DOMAIN}/registry-version"  # the resolved version number
REGISTRY_RUN_ID: Final = f"{DOMAIN}/registry-run-id"
REGISTRY_SOURCE: Final = f"{DOMAIN}/registry-source"  # the version's artifact source URI
REGISTRY_ALIASES: Final = f"{DOMAIN}/registry-aliases"  # comma-separated aliases of the version
REGISTRY_CREATED: Final = f"{DOMAIN}/registry-created"  # creation time, ISO 8601 UTC
REGISTRY_TAGS: Final = f"{DOMAIN}/registry-tags"  # JSON object of the version's tags
REGISTRY_METRICS: Final = f"{DOMAIN}/registry-metrics"  # JSON object of its run's latest metrics
REGISTRY_MODEL_CARD: Final = f"{DOMAIN}/registry-model-card"  # model card link the version carries
METRIC_THRESHOLDS: Final = f"{DOMAIN}/metric-thresholds"  # JSON {"auc": ">= 0.92"} from the spec
# Model version tags (in the registry) that the registry rules read, by MLflow tag key.
TAG_APPROVAL_REF: Final = "approval_ref"  # must equal the spec's governance.approval_ref
TAG_VALIDATION_STATUS: Final = "validation_status"  # "passed" once the version passed validation
TAG_MODEL_CARD_URL: Final = "model_card_url"  # https link to the version's model card
