"""Registry layer on Kubernetes: the MLflow server and an authenticated OCI image registry.

MLflow reads its backend store URI and S3 credentials from a Secret (``secretKeyRef``; the URI is
expanded into the command line by the kubelet, never written in the object) and proxies artifacts
(``--serve-artifacts``), so model servers need only the tracking URI, never storage credentials.
The image registry authenticates with an htpasswd file built from a generated password's bcrypt hash.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from mlops_platform import vocabulary as L
from mlops_platform.components import metadata as md
from mlops_platform.components import mlflow_server
from mlops_platform.components.args import RegistryArgs, RegistryOutputs
from mlops_platform.components.credentials import password
from mlops_platform.components.kubernetes import workload as w

MLFLOW_USER = 1000
REGISTRY_USER = 1000
REGISTRY_USERNAME = "mlops"
HTPASSWD_DIR = "/auth"


def _service_hosts(app_name: str, namespace: str, port: int) -> str:
    """The Service's names as pods call it, for MLflow's Host allow-list."""
    names = [app_name, f"{app_name}.{namespace}", f"{app_name}.{namespace}.svc"]
    return mlflow_server.allowed_hosts([*names, f"{app_name}.{namespace}.svc.cluster.local"], port)


def _mlflow(component: pulumi.Resource, name: str, args: RegistryArgs) -> pulumi.Output[str]:
    own, ns, spec = args.ownership, args.namespace, args.model_registry
    app_name = f"{name}-mlflow"
    labels = md.common_labels(
        own,
        app="mlflow",
        instance=app_name,
        component=L.COMPONENT_MODEL_REGISTRY,
        version=md.image_version(spec.image),
    )
    selector = md.selector_labels("mlflow", app_name)
    secret = k8s.core.v1.Secret(
        f"{name}-mlflow-credentials",
        metadata=w.metadata(f"{name}-mlflow-credentials", ns, labels),
        type="Opaque",
        string_data={
            "backendStoreUri": pulumi.Output.secret(args.database_url),
            "awsAccessKeyId": pulumi.Output.secret(args.object_store_access_key),
            "awsSecretAccessKey": pulumi.Output.secret(args.object_store_secret_key),
        },
        opts=w.child(component),
    )
    secret_name = secret.metadata.apply(lambda m: m.name)
    mlflow = w.container(
        "mlflow",
        spec.image,
        compute=spec.resources,
        command=["mlflow", "server"],
        args=[
            "--host=0.0.0.0",
            f"--port={spec.port}",
            "--backend-store-uri=$(MLFLOW_BACKEND_STORE_URI)",  # expanded by the kubelet from the Secret
            f"--artifacts-destination=s3://{spec.artifact_bucket}",
            "--serve-artifacts",
            f"--workers={mlflow_server.WORKERS}",
        ],
        ports={"http": spec.port},
        env_vars=[
            w.secret_env("MLFLOW_BACKEND_STORE_URI", secret_name, "backendStoreUri"),
            w.secret_env("AWS_ACCESS_KEY_ID", secret_name, "awsAccessKeyId"),
            w.secret_env("AWS_SECRET_ACCESS_KEY", secret_name, "awsSecretAccessKey"),
            w.env("MLFLOW_S3_ENDPOINT_URL", args.object_store_endpoint),
            w.env(
                mlflow_server.ALLOWED_HOSTS_VARIABLE,
                pulumi.Output.from_input(ns).apply(lambda n: _service_hosts(app_name, n, spec.port)),
            ),
            w.env("HOME", "/tmp"),
        ],
        probes=(w.http_probe("/health", "http", initial_delay_seconds=30), w.http_probe("/health", "http")),
    )
    w.web_app(
        component,
        prefix=f"{name}-mlflow",
        app_name=app_name,
        namespace=ns,
        labels=labels,
        selector=selector,
        pod=w.pod_spec([mlflow], run_as_user=MLFLOW_USER),
        port=spec.port,
        replicas=spec.replicas,
    )  # any_namespace=False: only pods of the namespace call the registry
    if spec.replicas > 1:  # let node drains proceed one pod at a time without losing the registry
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-mlflow-pdb",
            metadata=w.metadata(app_name, ns, labels),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            opts=w.child(component),
        )
    return pulumi.Output.concat("http://", app_name, ".", ns, ".svc.cluster.local:", str(spec.port))


def _image_registry(
    component: pulumi.Resource, name: str, args: RegistryArgs
) -> tuple[pulumi.Output[str], pulumi.Output[str] | None]:
    own, ns, spec = args.ownership, args.namespace, args.image_registry
    assert spec is not None
    app_name = f"{name}-images"
    labels = md.common_labels(
        own,
        app="registry",
        instance=app_name,
        component=L.COMPONENT_IMAGE_REGISTRY,
        version=md.image_version(spec.image),
    )
    selector = md.selector_labels("registry", app_name)
    http_secret = password(args.credentials, f"{name}-images-http-secret")
    secret_data: dict[str, pulumi.Input[str]] = {"httpSecret": http_secret.result}
    login_password: pulumi.Output[str] | None = None
    if spec.auth == "htpasswd":
        generated = password(args.credentials, f"{name}-images-password")
        login_password = pulumi.Output.secret(generated.result)
        secret_data["htpasswd"] = pulumi.Output.secret(
            pulumi.Output.concat(REGISTRY_USERNAME, ":", generated.bcrypt_hash, "\n")
        )
    secret = k8s.core.v1.Secret(
        f"{name}-images-auth",
        metadata=w.metadata(f"{name}-images-auth", ns, labels),
        type="Opaque",
        string_data=secret_data,
        opts=w.child(component),
    )
    secret_name = secret.metadata.apply(lambda m: m.name)
    claim_spec: w.Json = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{spec.size_gib}Gi"}},
    }
    if args.storage_class:
        claim_spec["storageClassName"] = args.storage_class
    claim = k8s.core.v1.PersistentVolumeClaim(
        f"{name}-images-data",
        metadata=w.metadata(f"{name}-images-data", ns, labels),
        spec=claim_spec,
        opts=w.child(component, protect=True, retain_on_delete=True)
        if args.protect_stateful
        else w.child(component),
    )
    env_vars = [
        w.secret_env("REGISTRY_HTTP_SECRET", secret_name, "httpSecret"),
        w.env("REGISTRY_HTTP_ADDR", f"0.0.0.0:{spec.port}"),
        w.env("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
    ]
    mounts: list[w.Json] = [{"name": "data", "mountPath": "/var/lib/registry"}]
    volumes: list[w.Json] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": claim.metadata.apply(lambda m: m.name)}}
    ]
    if spec.auth == "htpasswd":
        env_vars += [
            w.env("REGISTRY_AUTH", "htpasswd"),
            w.env("REGISTRY_AUTH_HTPASSWD_REALM", "mlops-platform"),
            w.env("REGISTRY_AUTH_HTPASSWD_PATH", f"{HTPASSWD_DIR}/htpasswd"),
        ]
        mounts.append({"name": "auth", "mountPath": HTPASSWD_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "auth",
                "secret": {"secretName": secret_name, "items": [{"key": "htpasswd", "path": "htpasswd"}]},
            }
        )
    registry = w.container(
        "registry",
        spec.image,
        compute=spec.resources,
        ports={"http": spec.port},
        env_vars=env_vars,
        probes=(w.http_probe("/", "http"), w.http_probe("/", "http", initial_delay_seconds=2)),
        volume_mounts=mounts,
    )
    w.web_app(
        component,
        prefix=f"{name}-images",
        app_name=app_name,
        namespace=ns,
        labels=labels,
        selector=selector,
        pod=w.pod_spec([registry], run_as_user=REGISTRY_USER, volumes=volumes),
        port=spec.port,
        strategy={"type": "Recreate"},  # one ReadWriteOnce volume: never two pods at once
        any_namespace=True,  # CI pushes from other namespaces
    )
    host = pulumi.Output.concat(app_name, ".", ns, ".svc.cluster.local:", str(spec.port))
    return host, login_password


def build(component: pulumi.Resource, name: str, args: RegistryArgs) -> RegistryOutputs:
    uri = _mlflow(component, name, args)
    host: pulumi.Output[str] | None = None
    password: pulumi.Output[str] | None = None
    if args.image_registry is not None:
        host, password = _image_registry(component, name, args)
    return RegistryOutputs(
        model_registry_uri=uri,
        artifact_root=f"s3://{args.model_registry.artifact_bucket}",
        image_registry_host=host,
        image_registry_username=REGISTRY_USERNAME if password is not None else None,
        image_registry_password=password,
    )
