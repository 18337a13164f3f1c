"""Docker registry layer: the MLflow tracking/registry server and an OCI image registry.

MLflow stores run and model metadata in the storage layer's PostgreSQL and proxies artifacts to
its object store; credentials arrive as secrets and reach the containers only as secret env.
The image registry authenticates with htpasswd: a generated password, stored as its bcrypt hash in
a secret upload.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from mlops_platform import vocabulary as L
from mlops_platform.components import metadata, mlflow_server
from mlops_platform.components.args import RegistryArgs, RegistryOutputs
from mlops_platform.components.credentials import password
from mlops_platform.components.docker._common import (
    ContainerSpec,
    env,
    hardened_container,
    healthcheck,
    http_check,
    remote_image,
    secret_env,
    volume_labels,
)

MLFLOW_HOST = "mlflow"
IMAGE_REGISTRY_HOST = "image-registry"
MLFLOW_PUBLISHED_PORT = 5000
IMAGE_REGISTRY_PUBLISHED_PORT = 5001  # 5000 is MLflow's on the host
IMAGE_REGISTRY_USER = "mlops"
HTPASSWD_PATH = "/tmp/htpasswd"
WRITE_HTPASSWD_AND_SERVE = (
    f'umask 077 && printf "%s\\n" "$HTPASSWD_ENTRY" > {HTPASSWD_PATH} && unset HTPASSWD_ENTRY'
    " && exec registry serve /etc/docker/registry/config.yml"
)
REGISTRY_DATA = "/var/lib/registry"
NON_ROOT = "1000:1000"


def build(component: pulumi.ComponentResource, name: str, args: RegistryArgs) -> RegistryOutputs:
    """Create the registry layer's Docker resources under ``component``."""
    own = args.ownership
    child = pulumi.ResourceOptions(parent=component)
    network = pulumi.Output.from_input(args.namespace)
    mlflow_spec = args.model_registry

    mlflow_name = pulumi.Output.concat(network, f"-{MLFLOW_HOST}")
    mlflow_image = remote_image(f"{name}-mlflow-image", mlflow_spec.image, component)
    artifact_root = f"s3://{mlflow_spec.artifact_bucket}"
    mlflow = hardened_container(
        f"{name}-mlflow",
        mlflow_name,
        ContainerSpec(
            image=mlflow_image.name,
            network=network,
            hostname=MLFLOW_HOST,
            labels=metadata.common_labels(
                own,
                app="mlflow",
                instance=f"{name}-mlflow",
                component=L.COMPONENT_MODEL_REGISTRY,
                version=metadata.image_version(mlflow_spec.image),
            ),
            resources=mlflow_spec.resources,
            user=NON_ROOT,  # the MLflow image runs as root by default but needs no root: it writes only /tmp
            command=[
                "mlflow",
                "server",
                "--host",
                "0.0.0.0",  # inside the container; published on 127.0.0.1 only
                "--port",
                str(mlflow_spec.port),
                "--serve-artifacts",
                "--artifacts-destination",
                artifact_root,
                "--workers",
                str(mlflow_server.WORKERS),
            ],
            envs=[
                env("HOME", "/tmp"),
                env(
                    mlflow_server.ALLOWED_HOSTS_VARIABLE,
                    mlflow_server.allowed_hosts([MLFLOW_HOST], mlflow_spec.port),
                ),
                pulumi.Output.concat("MLFLOW_S3_ENDPOINT_URL=", args.object_store_endpoint),
                secret_env("MLFLOW_BACKEND_STORE_URI", args.database_url),
                secret_env("AWS_ACCESS_KEY_ID", args.object_store_access_key),
                secret_env("AWS_SECRET_ACCESS_KEY", args.object_store_secret_key),
            ],
            health=healthcheck(http_check(f"http://127.0.0.1:{mlflow_spec.port}/health", tool="python")),
            ports=[(mlflow_spec.port, MLFLOW_PUBLISHED_PORT)],
        ),
        child,
    )
    registry_uri = mlflow.hostname.apply(lambda h: f"http://{h or MLFLOW_HOST}:{mlflow_spec.port}")

    registry_host: pulumi.Output[str] | None = None
    registry_password: pulumi.Output[str] | None = None
    registry_user: str | None = None
    spec = args.image_registry
    if spec is not None:
        container_name = pulumi.Output.concat(network, f"-{IMAGE_REGISTRY_HOST}")
        labels = metadata.common_labels(
            own,
            app="registry",
            instance=f"{name}-image-registry",
            component=L.COMPONENT_IMAGE_REGISTRY,
            version=metadata.image_version(spec.image),
        )
        data = docker.Volume(
            f"{name}-image-registry-data",
            name=pulumi.Output.concat(network, "-image-registry-data"),
            labels=volume_labels(labels),
            opts=child,
        )
        http_secret = password(args.credentials, f"{name}-image-registry-http-secret")
        envs: list[pulumi.Input[str]] = [
            env("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
            secret_env("REGISTRY_HTTP_SECRET", http_secret.result),
        ]
        entrypoint: list[str] | None = None  # the image's own unless htpasswd needs writing first
        if spec.auth == "htpasswd":
            registry_user = IMAGE_REGISTRY_USER
            pw = password(args.credentials, f"{name}-image-registry-password")
            registry_password = pulumi.Output.secret(pw.result)
            # The bcrypt entry reaches the container as secret env; the entrypoint writes it to tmpfs
            # (owner-only) so the root filesystem stays read-only (uploads would force it writable).
            envs.append(
                secret_env("HTPASSWD_ENTRY", pulumi.Output.concat(IMAGE_REGISTRY_USER, ":", pw.bcrypt_hash))
            )
            entrypoint = ["/bin/sh", "-c", WRITE_HTPASSWD_AND_SERVE]
            envs += [
                env("REGISTRY_AUTH", "htpasswd"),
                env("REGISTRY_AUTH_HTPASSWD_REALM", "mlops-registry"),
                env("REGISTRY_AUTH_HTPASSWD_PATH", HTPASSWD_PATH),
            ]
        registry = hardened_container(
            f"{name}-image-registry",
            container_name,
            ContainerSpec(
                image=remote_image(f"{name}-image-registry-image", spec.image, component).name,
                network=network,
                hostname=IMAGE_REGISTRY_HOST,
                labels=labels,
                resources=spec.resources,
                # The distribution image keeps its data in the root-owned /var/lib/registry volume: it runs
                # as the image's default user, with every capability dropped and no-new-privileges.
                user=None,
                envs=envs,
                # /v2/ answers 401 with htpasswd; the root path answers 200 either way.
                health=healthcheck(http_check(f"http://127.0.0.1:{spec.port}/")),
                ports=[(spec.port, IMAGE_REGISTRY_PUBLISHED_PORT)],
                entrypoint=entrypoint,
                volumes={REGISTRY_DATA: data.name},
            ),
            child,
        )
        registry_host = registry.hostname.apply(lambda h: f"{h or IMAGE_REGISTRY_HOST}:{spec.port}")

    return RegistryOutputs(
        model_registry_uri=registry_uri,
        artifact_root=artifact_root,
        image_registry_host=registry_host,
        image_registry_username=registry_user,
        image_registry_password=registry_password,
    )
