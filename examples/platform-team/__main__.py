"""A platform team's program: object store, metadata database and model serving, nothing else.

The team runs MLflow and monitoring elsewhere (a shared registry, its own Prometheus), so it takes two
of the four layers, ``StorageStack`` and ``ServingStack``, with its own arguments instead of a spec.
The registry URI comes from stack config (or, in a real setup, a ``StackReference`` to the shared
registry's stack: any Input works). Audit it as it is: ``mlops --project examples/platform-team audit dev``.
"""

import pulumi

from mlops_platform.components import (
    BackupArgs,
    BucketArgs,
    CredentialArgs,
    DatabaseArgs,
    ModelGovernance,
    ModelSlo,
    ModelSource,
    ModelSpec,
    ObjectStoreArgs,
    Ownership,
    ServingArgs,
    ServingStack,
    StorageArgs,
    StorageStack,
    Target,
)

config = pulumi.Config()
tier = config.get("tier") or "dev"
owner = Ownership(
    owner="ranking-platform@example.com",
    team="ranking-platform",
    cost_centre="cc-3301",
    environment=pulumi.get_stack(),
    tier=tier,
)

storage = StorageStack(
    "storage",
    StorageArgs(
        target=Target.KUBERNETES,
        ownership=owner,
        namespace=f"ranking-{pulumi.get_stack()}",
        credentials=CredentialArgs(seed=config.require_secret("credentialSeed")),
        data_classification_ceiling="internal",
        object_store=ObjectStoreArgs(
            image="quay.io/minio/minio:RELEASE.2024-08-17T01-24-54Z",
            size_gib=20,
            buckets=[BucketArgs(name="ranking-features", retention_days=90)],
        ),
        database=DatabaseArgs(
            image="docker.io/library/postgres:16.4-alpine",
            version="16.4",
            size_gib=10,
            backup=BackupArgs(schedule="0 3 * * *", retention_days=7),
        ),
    ),
)

serving = ServingStack(
    "serving",
    ServingArgs(
        target=Target.KUBERNETES,
        ownership=owner,
        namespace=storage.namespace,
        registry_uri=config.require("registryUri"),
        models=[
            ModelSpec(
                name="ranker",
                image="ghcr.io/acme-ml/ranker:2.0.0",
                model_uri="models:/ranker/7",
                model_source=ModelSource.REGISTRY_VERSION,
                version_label="7",
                governance=ModelGovernance(
                    owner="ranking-platform@example.com", risk_tier="limited", data_classification="internal"
                ),
                slo=ModelSlo(p99_latency_ms=120, error_rate=0.005),
                replicas_min=2,
                replicas_max=6,
            )
        ],
    ),
)

pulumi.export("namespace", storage.namespace)
pulumi.export("objectStoreEndpoint", storage.object_store_endpoint)
pulumi.export("databaseUrl", storage.database_url)  # a secret output: downstream stacks read it as one
pulumi.export("rankerUrl", serving.urls["ranker"])
