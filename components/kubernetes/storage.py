"""Storage layer on Kubernetes: Namespace, baseline NetworkPolicies, PostgreSQL, MinIO, volumes.

The database and the object store are single-replica StatefulSets whose data lives on explicit
PersistentVolumeClaims (Pulumi resources, so policies see them and prod can ``protect`` them; PVCs from
``volumeClaimTemplates`` would be invisible). A Job creates the buckets with versioning, lifecycle
expiry and SSE; a CronJob dumps the database on schedule to its own claim and prunes old dumps.
"""

from __future__ import annotations

import base64
import shlex

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform import vocabulary as L
from mlops_platform.components import metadata as md
from mlops_platform.components.args import ComputeResources, StorageArgs, StorageOutputs, database_url
from mlops_platform.components.credentials import password
from mlops_platform.components.kubernetes import workload as w

POSTGRES_PORT = 5432
MINIO_PORT = 9000
MINIO_CONSOLE_PORT = 9001
MINIO_USER = 1000
KMS_KEY_NAME = "mlops-sse"  # name of MinIO's static KMS key; data keys derive from it
PGDATA = "/var/lib/postgresql/data/pgdata"  # a subdirectory: the volume root holds lost+found


def _postgres_uid(image: str) -> int:
    """The ``postgres`` user of the official images: 70 on Alpine, 999 on Debian."""
    return 70 if "alpine" in image else 999


def _claim(
    component: pulumi.Resource,
    name: str,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    size_gib: int,
    storage_class: str | None,
    access_mode: str = "ReadWriteOnce",
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.core.v1.PersistentVolumeClaim:
    spec: w.Json = {"accessModes": [access_mode], "resources": {"requests": {"storage": f"{size_gib}Gi"}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return k8s.core.v1.PersistentVolumeClaim(
        name,
        metadata=w.metadata(name, namespace, labels),
        spec=spec,
        opts=opts or w.child(component),
    )


def _bucket_script(args: StorageArgs, endpoint: str) -> str:
    """Idempotent ``mc`` script: create each bucket, set versioning, expiry and default encryption."""
    lines = [
        f'mc alias set store {shlex.quote(endpoint)} "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"',
    ]
    for bucket in sorted(args.object_store.buckets, key=lambda b: b.name):
        target = shlex.quote(f"store/{bucket.name}")
        lines.append(f"mc mb --ignore-existing {target}")
        lines.append(f"mc version {'enable' if bucket.versioning else 'suspend'} {target}")
        if bucket.retention_days is not None:
            lines.append(f"mc ilm rule rm --all --force {target} || true")
            days = bucket.retention_days
            noncurrent = f" --noncurrent-expire-days {days}" if bucket.versioning else ""
            lines.append(f"mc ilm rule add --expire-days {days}{noncurrent} {target}")
        if args.object_store.encryption:
            lines.append(f"mc encrypt set sse-s3 {target}")
    return "\n".join(lines) + "\n"


def build(component: pulumi.Resource, name: str, args: StorageArgs) -> StorageOutputs:
    own = args.ownership
    stateful = w.child(component, protect=True, retain_on_delete=True) if args.protect_stateful else None

    # --- namespace and baseline network policy ---------------------------------------------------
    ns_labels = {
        **md.common_labels(own, app="mlops-platform", instance=args.namespace, component="namespace"),
        L.CLASSIFICATION_CEILING: args.data_classification_ceiling,
        # Pod Security Admission: reject any pod below the restricted profile.
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    namespace = k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata={
            "name": args.namespace,
            "labels": ns_labels,
            "annotations": {L.CLASSIFICATION_CEILING: args.data_classification_ceiling},
        },
        opts=w.child(component),
    )
    ns = namespace.metadata.apply(lambda m: m.name)
    in_ns = w.child(component, depends_on=[namespace])

    np_labels = md.common_labels(own, app="network-policy", instance=f"{name}-baseline", component="network")
    k8s.networking.v1.NetworkPolicy(
        f"{name}-default-deny",
        metadata=w.metadata(f"{name}-default-deny", ns, np_labels),
        spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        opts=in_ns,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-allow-internal-egress",
        metadata=w.metadata(f"{name}-allow-internal-egress", ns, np_labels),
        spec={
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {}}]},  # every pod of the namespace; ingress policies still apply
                {
                    "to": [
                        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
            ],
        },
        opts=in_ns,
    )

    # --- metadata database -----------------------------------------------------------------------
    db = args.database
    db_name = f"{name}-postgres"
    db_labels = md.common_labels(
        own, app="postgres", instance=db_name, component=L.COMPONENT_METADATA_DATABASE, version=db.version
    )
    db_selector = md.selector_labels("postgres", db_name)
    db_password = password(args.credentials, f"{name}-postgres-password")
    db_secret = k8s.core.v1.Secret(
        f"{name}-postgres-credentials",
        metadata=w.metadata(f"{name}-postgres-credentials", ns, db_labels),
        type="Opaque",
        string_data={"username": db.username, "database": db.database_name, "password": db_password.result},
        opts=in_ns,
    )
    secret_name = db_secret.metadata.apply(lambda m: m.name)
    db_claim = _claim(
        component,
        f"{name}-postgres-data",
        ns,
        db_labels,
        db.size_gib,
        args.storage_class,
        opts=stateful or in_ns,
    )
    uid = _postgres_uid(db.image)
    pg_ready = ["pg_isready", "-U", db.username, "-d", db.database_name, "-h", "127.0.0.1"]
    db_container = w.container(
        "postgres",
        db.image,
        compute=db.resources,
        ports={"postgres": POSTGRES_PORT},
        env_vars=[
            w.env("POSTGRES_USER", db.username),
            w.env("POSTGRES_DB", db.database_name),
            w.env("PGDATA", PGDATA),
            w.secret_env("POSTGRES_PASSWORD", secret_name, "password"),
        ],
        probes=(
            w.exec_probe(pg_ready, initial_delay_seconds=30),
            w.exec_probe(pg_ready, initial_delay_seconds=5),
        ),
        volume_mounts=[
            {"name": "data", "mountPath": "/var/lib/postgresql/data"},
            {"name": "run", "mountPath": "/var/run/postgresql"},
        ],
    )
    db_claim_name = db_claim.metadata.apply(lambda m: m.name)
    db_headless = k8s.core.v1.Service(
        f"{name}-postgres-service",
        metadata=w.metadata(db_name, ns, db_labels),
        spec=w.service_spec(db_selector, {"postgres": POSTGRES_PORT}),
        opts=in_ns,
    )
    database = k8s.apps.v1.StatefulSet(
        f"{name}-postgres",
        metadata=w.metadata(db_name, ns, db_labels),
        spec={
            "replicas": 1,
            "serviceName": db_headless.metadata.apply(lambda m: m.name),
            "selector": {"matchLabels": db_selector},
            "template": w.pod_template(
                db_labels,
                w.pod_spec(
                    [db_container],
                    run_as_user=uid,
                    volumes=[
                        {"name": "data", "persistentVolumeClaim": {"claimName": db_claim_name}},
                        {"name": "run", "emptyDir": {"sizeLimit": "16Mi"}},
                    ],
                ),
            ),
        },
        opts=stateful or in_ns,
    )
    database_workload = database.metadata.apply(lambda m: m.name)
    db_host = pulumi.Output.concat(db_name, ".", ns, ".svc.cluster.local")

    k8s.networking.v1.NetworkPolicy(
        f"{name}-postgres-ingress",
        metadata=w.metadata(f"{name}-postgres-ingress", ns, db_labels),
        spec=w.ingress_policy_spec(
            db_selector,
            [POSTGRES_PORT],
            from_components=[L.COMPONENT_MODEL_REGISTRY, L.COMPONENT_DATABASE_BACKUP],
        ),
        opts=in_ns,
    )

    if db.backup is not None:
        backup_name = f"{name}-postgres-backup"
        backup_labels = {
            **md.common_labels(
                own, app="postgres-backup", instance=backup_name, component=L.COMPONENT_DATABASE_BACKUP
            ),
            L.BACKUP_OF: db_name,
        }
        backup_annotations = {
            L.BACKUP_SCHEDULE: db.backup.schedule,
            L.BACKUP_RETENTION_DAYS: str(db.backup.retention_days),
        }
        backup_claim = _claim(
            component,
            f"{name}-postgres-backups",
            ns,
            backup_labels,
            db.size_gib,
            args.storage_class,
            opts=stateful or in_ns,
        )
        script = (
            'pg_dump --format=custom --file="/backups/mlflow-$(date -u +%Y%m%dT%H%M%SZ).dump"\n'
            f"find /backups -name 'mlflow-*.dump' -mtime +{db.backup.retention_days} -delete\n"
        )
        backup_container = w.container(
            "pg-dump",
            db.image,
            compute=db.resources,
            command=["/bin/sh", "-ec", script],
            env_vars=[
                w.env("PGHOST", db_host),
                w.env("PGPORT", str(POSTGRES_PORT)),
                w.env("PGUSER", db.username),
                w.env("PGDATABASE", db.database_name),
                w.secret_env("PGPASSWORD", secret_name, "password"),
            ],
            volume_mounts=[{"name": "backups", "mountPath": "/backups"}],
        )
        k8s.batch.v1.CronJob(
            backup_name,
            metadata=w.metadata(backup_name, ns, backup_labels, backup_annotations),
            spec={
                "schedule": db.backup.schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": backup_labels},
                    "spec": {
                        "backoffLimit": 2,
                        "template": w.pod_template(
                            backup_labels,
                            w.pod_spec(
                                [backup_container],
                                run_as_user=uid,
                                restart_policy="OnFailure",
                                volumes=[
                                    {
                                        "name": "backups",
                                        "persistentVolumeClaim": {
                                            "claimName": backup_claim.metadata.apply(lambda m: m.name)
                                        },
                                    }
                                ],
                            ),
                            backup_annotations,
                        ),
                    },
                },
            },
            opts=w.child(component, depends_on=[database]),
        )

    # --- object store ----------------------------------------------------------------------------
    store = args.object_store
    store_name = f"{name}-minio"
    all_versioned = all(b.versioning for b in store.buckets)
    store_annotations = {
        L.BUCKET_VERSIONING: md.enabled(all_versioned),
        L.ENCRYPTION_AT_REST: md.enabled(store.encryption),
    }
    store_labels = md.common_labels(
        own,
        app="minio",
        instance=store_name,
        component=L.COMPONENT_OBJECT_STORE,
        version=md.image_version(store.image),
    )
    store_selector = md.selector_labels("minio", store_name)
    access_key = password(args.credentials, f"{name}-minio-access-key", length=20)
    secret_key = password(args.credentials, f"{name}-minio-secret-key", length=40)
    store_secret_data: dict[str, pulumi.Input[str]] = {
        "rootUser": access_key.result,
        "rootPassword": secret_key.result,
    }
    if store.encryption:
        kms_seed = password(args.credentials, f"{name}-minio-kms-key", length=32)
        # 32 random characters -> a 32-byte key, base64 as MinIO's KMS_SECRET_KEY format requires.
        store_secret_data["kmsSecretKey"] = kms_seed.result.apply(
            lambda s: f"{KMS_KEY_NAME}:{base64.b64encode(s.encode()).decode()}"
        )
    store_secret = k8s.core.v1.Secret(
        f"{name}-minio-credentials",
        metadata=w.metadata(f"{name}-minio-credentials", ns, store_labels),
        type="Opaque",
        string_data=store_secret_data,
        opts=in_ns,
    )
    store_secret_name = store_secret.metadata.apply(lambda m: m.name)
    store_claim = _claim(
        component,
        f"{name}-minio-data",
        ns,
        store_labels,
        store.size_gib,
        args.storage_class,
        opts=stateful or in_ns,
    )
    store_env = [
        w.secret_env("MINIO_ROOT_USER", store_secret_name, "rootUser"),
        w.secret_env("MINIO_ROOT_PASSWORD", store_secret_name, "rootPassword"),
        w.env("HOME", "/tmp"),
    ]
    if store.encryption:
        store_env.append(w.secret_env("MINIO_KMS_SECRET_KEY", store_secret_name, "kmsSecretKey"))
    store_container = w.container(
        "minio",
        store.image,
        compute=store.resources,
        command=["minio"],
        args=["server", "/data", "--console-address", f":{MINIO_CONSOLE_PORT}", "--certs-dir", "/tmp/certs"],
        ports={"api": MINIO_PORT, "console": MINIO_CONSOLE_PORT},
        env_vars=store_env,
        probes=(w.http_probe("/minio/health/live", "api"), w.http_probe("/minio/health/ready", "api")),
        volume_mounts=[{"name": "data", "mountPath": "/data"}],
    )
    store_service = k8s.core.v1.Service(
        f"{name}-minio-service",
        metadata=w.metadata(store_name, ns, store_labels, store_annotations),
        spec=w.service_spec(store_selector, {"api": MINIO_PORT, "console": MINIO_CONSOLE_PORT}),
        opts=in_ns,
    )
    object_store = k8s.apps.v1.StatefulSet(
        f"{name}-minio",
        metadata=w.metadata(store_name, ns, store_labels, store_annotations),
        spec={
            "replicas": 1,
            "serviceName": store_service.metadata.apply(lambda m: m.name),
            "selector": {"matchLabels": store_selector},
            "template": w.pod_template(
                store_labels,
                w.pod_spec(
                    [store_container],
                    run_as_user=MINIO_USER,
                    volumes=[
                        {
                            "name": "data",
                            "persistentVolumeClaim": {
                                "claimName": store_claim.metadata.apply(lambda m: m.name)
                            },
                        }
                    ],
                ),
                store_annotations,
            ),
        },
        opts=stateful or in_ns,
    )
    store_endpoint = pulumi.Output.concat(
        "http://", store_name, ".", ns, ".svc.cluster.local:", str(MINIO_PORT)
    )
    setup_component = "object-store-setup"
    k8s.networking.v1.NetworkPolicy(
        f"{name}-minio-ingress",
        metadata=w.metadata(f"{name}-minio-ingress", ns, store_labels),
        spec=w.ingress_policy_spec(
            store_selector,
            [MINIO_PORT],
            from_components=[L.COMPONENT_MODEL_REGISTRY, setup_component, L.COMPONENT_DRIFT_CHECK],
        ),
        opts=in_ns,
    )

    setup_name = f"{name}-minio-setup"
    setup_labels = md.common_labels(own, app="minio-setup", instance=setup_name, component=setup_component)
    setup_container = w.container(
        "mc",
        store.image,  # the MinIO server image ships the ``mc`` client
        compute=ComputeResources(),
        command=["/bin/sh", "-ec", _bucket_script(args, f"http://{store_name}:{MINIO_PORT}")],
        env_vars=[
            w.secret_env("MINIO_ROOT_USER", store_secret_name, "rootUser"),
            w.secret_env("MINIO_ROOT_PASSWORD", store_secret_name, "rootPassword"),
            w.env("MC_CONFIG_DIR", "/tmp/.mc"),
        ],
    )
    k8s.batch.v1.Job(
        setup_name,
        metadata=w.metadata(setup_name, ns, setup_labels),
        spec={
            "backoffLimit": 6,
            "template": w.pod_template(
                setup_labels,
                w.pod_spec([setup_container], run_as_user=MINIO_USER, restart_policy="OnFailure"),
            ),
        },
        opts=w.child(component, depends_on=[object_store]),
    )

    # --- shared volumes --------------------------------------------------------------------------
    claims: dict[str, pulumi.Output[str]] = {}
    for volume in sorted(args.volumes, key=lambda v: v.name):
        vol_name = f"{name}-{volume.name}"
        vol_labels = md.common_labels(own, app=volume.name, instance=vol_name, component="volume")
        claim = _claim(
            component,
            vol_name,
            ns,
            vol_labels,
            volume.size_gib,
            args.storage_class,
            volume.access_mode,
            # Shared volumes hold data (feature caches, datasets): as safe as the database in prod.
            w.child(component, depends_on=[namespace], protect=True, retain_on_delete=True)
            if args.protect_stateful
            else in_ns,
        )
        claims[volume.name] = claim.metadata.apply(lambda m: m.name)

    url = database_url(
        username=db.username,
        password=db_password.result,
        host=db_host,
        port=POSTGRES_PORT,
        database=db.database_name,
    )
    return StorageOutputs(
        namespace=ns,
        database_host=db_host,
        database_port=POSTGRES_PORT,
        database_name=db.database_name,
        database_username=db.username,
        database_password=pulumi.Output.secret(db_password.result),
        database_url=url,
        database_workload=database_workload,
        object_store_endpoint=store_endpoint,
        object_store_access_key=pulumi.Output.secret(access_key.result),
        object_store_secret_key=pulumi.Output.secret(secret_key.result),
        buckets=sorted(b.name for b in store.buckets),
        volume_claims=claims,
    )
