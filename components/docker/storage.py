"""Docker storage layer: the platform network, volumes, PostgreSQL and MinIO containers.

Children of ``StorageStack``: the network (``CLASSIFICATION_CEILING``), one volume per stateful
service and per spec volume, pinned images, generated credentials, the database and object-store
containers, and a one-shot container creating the buckets. With ``protect_stateful`` the database,
the object store and every volume are ``protect``ed and ``retain_on_delete``.
"""

from __future__ import annotations

import base64

import pulumi
import pulumi_docker as docker

from mlops_platform import vocabulary as L
from mlops_platform.components import metadata
from mlops_platform.components.args import ComputeResources, StorageArgs, StorageOutputs, database_url
from mlops_platform.components.credentials import password
from mlops_platform.components.docker._common import (
    ContainerSpec,
    env,
    hardened_container,
    healthcheck,
    network_labels,
    remote_image,
    secret_env,
    volume_labels,
)
from mlops_platform.components.docker.jobs import scheduled_job
from mlops_platform.components.rendering import render_backup_script, render_bucket_script

DB_HOST = "metadata-db"
DB_PORT = 5432
OBJECT_STORE_HOST = "object-store"
OBJECT_STORE_PORT = 9000
OBJECT_STORE_CONSOLE_PORT = 9001
PGDATA = "/var/lib/postgresql/data"
MINIO_DATA = "/data"
MINIO_USER = "minio-admin"  # fixed, not secret: the generated password is the credential
KMS_KEY_NAME = "mlops-sse"


def postgres_user(image: str) -> str:
    """The postgres uid:gid of the official image: 70 on Alpine variants, 999 on Debian ones."""
    return "70:70" if "alpine" in image.split("@", 1)[0] else "999:999"


def _kms_key(raw: str) -> str:
    """MinIO's single-key KMS format ``<name>:<base64 of 32 bytes>`` from a 32-character password."""
    return f"{KMS_KEY_NAME}:{base64.b64encode(raw.encode()).decode()}"


def build(component: pulumi.ComponentResource, name: str, args: StorageArgs) -> StorageOutputs:
    """Create the storage layer's Docker resources under ``component``."""
    own = args.ownership
    child = pulumi.ResourceOptions(parent=component)
    stateful = pulumi.ResourceOptions(
        parent=component, protect=args.protect_stateful, retain_on_delete=args.protect_stateful
    )

    network = docker.Network(
        f"{name}-network",
        name=args.namespace,
        driver="bridge",
        labels=network_labels(
            {
                **metadata.common_labels(own, app="network", instance=args.namespace, component="network"),
                L.CLASSIFICATION_CEILING: args.data_classification_ceiling,
            }
        ),
        opts=child,
    )

    def volume(role: str, app: str, component_value: str) -> docker.Volume:
        volume_name = f"{args.namespace}-{role}"
        return docker.Volume(
            f"{name}-{role}",
            name=volume_name,
            labels=volume_labels(
                metadata.common_labels(own, app=app, instance=volume_name, component=component_value)
            ),
            opts=stateful,
        )

    db_volume = volume("metadata-db-data", "postgres", L.COMPONENT_METADATA_DATABASE)
    store_volume = volume("object-store-data", "minio", L.COMPONENT_OBJECT_STORE)
    extra_volumes = {v.name: volume(f"volume-{v.name}", v.name, "volume") for v in args.volumes}

    db, store = args.database, args.object_store
    db_image = remote_image(f"{name}-metadata-db-image", db.image, component)
    store_image = remote_image(f"{name}-object-store-image", store.image, component)
    db_password = password(args.credentials, f"{name}-metadata-db-password")
    store_password = password(args.credentials, f"{name}-object-store-password", length=40)

    db_container_name = f"{args.namespace}-{DB_HOST}"
    db_labels = metadata.common_labels(
        own,
        app="postgres",
        instance=db_container_name,
        component=L.COMPONENT_METADATA_DATABASE,
        version=db.version,
    )
    if db.backup is not None:
        db_labels[L.BACKUP_SCHEDULE] = db.backup.schedule
        db_labels[L.BACKUP_RETENTION_DAYS] = str(db.backup.retention_days)
    database = hardened_container(
        f"{name}-metadata-db",
        db_container_name,
        ContainerSpec(
            image=db_image.name,
            network=network.name,
            hostname=DB_HOST,
            labels=db_labels,
            resources=db.resources,
            user=postgres_user(db.image),
            envs=[
                env("POSTGRES_USER", db.username),
                env("POSTGRES_DB", db.database_name),
                env("PGDATA", f"{PGDATA}/pgdata"),
                secret_env("POSTGRES_PASSWORD", db_password.result),
            ],
            health=healthcheck(["CMD", "pg_isready", "-U", db.username, "-d", db.database_name]),
            volumes={PGDATA: db_volume.name},
            writable_paths=("/tmp", "/var/run/postgresql"),
        ),
        stateful,
    )

    store_container_name = f"{args.namespace}-{OBJECT_STORE_HOST}"
    store_envs: list[pulumi.Input[str]] = [
        env("MINIO_ROOT_USER", MINIO_USER),
        secret_env("MINIO_ROOT_PASSWORD", store_password.result),
        env("MINIO_BROWSER", "on"),
    ]
    if store.encryption:
        kms_key = password(args.credentials, f"{name}-object-store-kms-key", length=32)
        store_envs += [
            secret_env("MINIO_KMS_SECRET_KEY", kms_key.result.apply(_kms_key)),
            env("MINIO_KMS_AUTO_ENCRYPTION", "on"),
        ]
    object_store = hardened_container(
        f"{name}-object-store",
        store_container_name,
        ContainerSpec(
            image=store_image.name,
            network=network.name,
            hostname=OBJECT_STORE_HOST,
            labels={
                **metadata.common_labels(
                    own,
                    app="minio",
                    instance=store_container_name,
                    component=L.COMPONENT_OBJECT_STORE,
                    version=metadata.image_version(store.image),
                ),
                L.BUCKET_VERSIONING: metadata.enabled(all(b.versioning for b in store.buckets)),
                L.ENCRYPTION_AT_REST: metadata.enabled(store.encryption),
            },
            resources=store.resources,
            # MinIO needs no root, but a fresh named volume mounted on the image's root-owned /data is
            # root-owned: run as the image's default user with every capability dropped instead.
            user=None,
            command=["server", MINIO_DATA, "--console-address", f":{OBJECT_STORE_CONSOLE_PORT}"],
            envs=store_envs,
            health=healthcheck(["CMD", "mc", "ready", "local"]),
            ports=[(OBJECT_STORE_CONSOLE_PORT, OBJECT_STORE_CONSOLE_PORT)],
            volumes={MINIO_DATA: store_volume.name},
            writable_paths=("/tmp",),
        ),
        stateful,
    )

    if db.backup is not None:
        backups = volume("metadata-db-backups", "postgres", L.COMPONENT_DATABASE_BACKUP)
        backup_name = f"{args.namespace}-metadata-db-backup"
        scheduled_job(
            f"{name}-metadata-db-backup",
            container_name=backup_name,
            schedule=db.backup.schedule,
            command=["/bin/sh", "-c", render_backup_script(PGDATA, db.backup.retention_days)],
            image=db_image.name,
            network=network.name,
            hostname="metadata-db-backup",
            labels={
                **metadata.common_labels(
                    own, app="postgres", instance=backup_name, component=L.COMPONENT_DATABASE_BACKUP
                ),
                L.BACKUP_OF: db_container_name,
                L.BACKUP_SCHEDULE: db.backup.schedule,
                L.BACKUP_RETENTION_DAYS: str(db.backup.retention_days),
            },
            user=postgres_user(db.image),
            envs=[
                env("PGHOST", DB_HOST),
                env("PGPORT", str(DB_PORT)),
                env("PGUSER", db.username),
                env("PGDATABASE", db.database_name),
                secret_env("PGPASSWORD", db_password.result),
            ],
            # Mounted on the image's own postgres-owned PGDATA mount point so that a fresh volume is
            # writable by the postgres uid; in this container that path holds dumps, not a database.
            volumes={PGDATA: backups.name},
            opts=pulumi.ResourceOptions(parent=component, depends_on=[database]),
        )

    endpoint = f"http://{OBJECT_STORE_HOST}:{OBJECT_STORE_PORT}"
    init_name = f"{args.namespace}-object-store-buckets"
    init_labels = metadata.common_labels(
        own, app="minio-buckets", instance=init_name, component=L.COMPONENT_BUCKET_INIT
    )
    hardened_container(
        f"{name}-object-store-buckets",
        init_name,
        ContainerSpec(
            image=store_image.name,
            network=network.name,
            hostname="object-store-buckets",
            labels=init_labels,
            resources=ComputeResources(
                cpu_request_millicores=50,
                memory_request_mib=64,
                cpu_limit_millicores=250,
                memory_limit_mib=128,
            ),
            user="1000:1000",
            entrypoint=["/bin/sh", "-c", render_bucket_script(endpoint, store.buckets)],
            envs=[
                env("MINIO_ROOT_USER", MINIO_USER),
                secret_env("MINIO_ROOT_PASSWORD", store_password.result),
                env("MC_CONFIG_DIR", "/tmp/.mc"),
            ],
            health=None,  # a one-shot job: exits once the buckets exist
            restart="on-failure",
            max_retry_count=5,
            must_run=False,
        ),
        pulumi.ResourceOptions(parent=component, depends_on=[object_store]),
    )

    db_host = database.hostname.apply(lambda h: h or DB_HOST)  # depends on the container: ordering
    url = database_url(
        username=db.username,
        password=db_password.result,
        host=db_host,
        port=DB_PORT,
        database=db.database_name,
    )
    return StorageOutputs(
        namespace=network.name,
        database_host=db_host,
        database_port=DB_PORT,
        database_name=db.database_name,
        database_username=db.username,
        database_password=pulumi.Output.secret(db_password.result),
        database_url=url,
        database_workload=database.name,
        object_store_endpoint=object_store.hostname.apply(
            lambda h: f"http://{h or OBJECT_STORE_HOST}:{OBJECT_STORE_PORT}"
        ),
        object_store_access_key=pulumi.Output.secret(MINIO_USER),
        object_store_secret_key=pulumi.Output.secret(store_password.result),
        buckets=sorted(b.name for b in store.buckets),
        volume_claims={v: vol.name for v, vol in sorted(extra_volumes.items())},
    )
