"""The Kubernetes target under Pulumi's mocks: resource sets, schemas, hardening, wiring, secrets.

Each bundled environment that targets Kubernetes (staging, prod) is built once per module; every test
reads that recording. Objects are validated against the official strict schemas; CRDs (Prometheus
Operator, Gateway API) are not in kubernetes-validate's bundle and get minimal structural checks here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import bcrypt
import pytest

from mlops_platform import vocabulary as L
from mlops_platform.stacks.composition import build_platform
from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.schema import EnvironmentSpec
from tests.components.conftest import (
    SECRET_MARK,
    KubernetesSchemas,
    Recorded,
    Recording,
    credential,
    is_secret_value,
    plaintext_leaks,
    run_program,
    secret_lookup,
)

ENVIRONMENTS = ("staging", "prod")
WEBHOOK = "https://hooks.slack.example/services/WEBHOOKPLAINTEXT"
CRD_TYPES = {
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    "kubernetes:monitoring.coreos.com/v1:Prometheus",
    "kubernetes:monitoring.coreos.com/v1:Alertmanager",
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
}
WORKLOADS = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:batch/v1:Job",
}
LONG_RUNNING = {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"}
APP_LABELS = (L.APP_NAME, L.APP_INSTANCE, L.APP_COMPONENT, L.APP_PART_OF, L.APP_MANAGED_BY)
OWNERSHIP = (L.OWNER, L.TEAM, L.COST_CENTRE, L.ENVIRONMENT, L.TIER)

K = "kubernetes:"
NP, SVC, SECRET, CM, PVC = (
    f"{K}networking.k8s.io/v1:NetworkPolicy",
    f"{K}core/v1:Service",
    f"{K}core/v1:Secret",
    f"{K}core/v1:ConfigMap",
    f"{K}core/v1:PersistentVolumeClaim",
)
DEP, STS, CRON, JOB = (
    f"{K}apps/v1:Deployment",
    f"{K}apps/v1:StatefulSet",
    f"{K}batch/v1:CronJob",
    f"{K}batch/v1:Job",
)


def build(spec: EnvironmentSpec, **kwargs: Any) -> Recording:
    return run_program(
        lambda: build_platform(spec, secret=secret_lookup(WEBHOOK)),
        stack=spec.environment.name,
        **kwargs,
    )


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def env(request: pytest.FixtureRequest) -> tuple[EnvironmentSpec, Recording]:
    spec = load_environment(request.param)
    return spec, build(spec)


def layer(rec: Recording, component_type: str) -> Counter[str]:
    (root,) = rec.of_type(component_type)
    return Counter(r.type for r in rec.children_of(root.urn))


def k8s_objects(rec: Recording) -> list[Recorded]:
    return [r for r in rec.resources if r.type.startswith(K)]


def pod_spec(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    if type_ == CRON:
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def pod_labels(obj: dict[str, Any], type_: str) -> dict[str, str]:
    template = obj["spec"]["jobTemplate"]["spec"]["template"] if type_ == CRON else obj["spec"]["template"]
    return template["metadata"]["labels"]


# --- the resource set ----------------------------------------------------------------------------


def expected_layers(spec: EnvironmentSpec) -> dict[str, Counter[str]]:
    """What each layer must contain, derived from the spec by hand (independently of the builders)."""
    models = spec.serving.models
    canaries = sum(m.canary is not None for m in models)
    drift = sum(spec.drift_for(m).enabled for m in models)
    backup = spec.storage.database.backup.enabled
    storage = Counter(
        {
            f"{K}core/v1:Namespace": 1,
            NP: 4,  # default deny, internal egress, postgres ingress, minio ingress
            SECRET: 2,
            PVC: 2 + backup + len(spec.storage.volumes),
            STS: 2,
            SVC: 2,
            CRON: int(backup),
            JOB: 1,
        }
    )
    registry = Counter({SECRET: 1, DEP: 1, SVC: 1, NP: 1})
    if spec.registry.model_registry.replicas > 1:
        registry += Counter({f"{K}policy/v1:PodDisruptionBudget": 1})
    if spec.registry.image_registry.enabled:
        registry += Counter({SECRET: 1, PVC: 1, DEP: 1, SVC: 1, NP: 1})
    serving = Counter(
        {
            "mlops:serving:ModelEndpoint": len(models),
            DEP: len(models) + canaries,
            SVC: len(models) + canaries,
            f"{K}autoscaling/v2:HorizontalPodAutoscaler": len(models),
            f"{K}policy/v1:PodDisruptionBudget": len(models),
            NP: len(models),
            f"{K}gateway.networking.k8s.io/v1:HTTPRoute": canaries,
        }
    )
    dashboards = len(models) + 1 if spec.monitoring.dashboards else 0  # + the provider
    monitoring = Counter(
        {
            f"{K}core/v1:ServiceAccount": 1,
            f"{K}rbac.authorization.k8s.io/v1:Role": 1,
            f"{K}rbac.authorization.k8s.io/v1:RoleBinding": 1,
            f"{K}monitoring.coreos.com/v1:Prometheus": 1,
            f"{K}monitoring.coreos.com/v1:Alertmanager": 1,
            f"{K}monitoring.coreos.com/v1:ServiceMonitor": len(models) + 1,  # + the Pushgateway's
            f"{K}monitoring.coreos.com/v1:PrometheusRule": len(models),
            SECRET: 2 + int(drift > 0),  # alertmanager config, grafana admin, drift jobs' store keys
            CM: 1 + dashboards,  # datasources
            DEP: 2,  # grafana, pushgateway
            SVC: 2,
            NP: 4,
            CRON: drift,
        }
    )
    return {"storage": storage, "registry": registry, "serving": serving, "monitoring": monitoring}


def test_each_layer_creates_exactly_the_expected_resources(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    expected = expected_layers(spec)
    for name, component in [
        ("storage", "mlops:storage:StorageStack"),
        ("registry", "mlops:registry:RegistryStack"),
        ("serving", "mlops:serving:ServingStack"),
        ("monitoring", "mlops:monitoring:MonitoringStack"),
    ]:
        assert layer(rec, component) == expected[name], f"{spec.environment.name} {name}"
    # nothing outside the four layers
    assert sum(expected.values(), Counter()).total() + 4 == len(rec.resources)


def test_layer_components_and_children_follow_the_naming_rule(env: tuple[EnvironmentSpec, Recording]) -> None:
    _, rec = env
    for component in ("storage", "registry", "serving", "monitoring"):
        root = rec.named(component)
        for child in rec.children_of(root.urn):
            assert child.name.startswith(f"{component}-"), child.urn


# --- schemas -----------------------------------------------------------------------------------


def test_every_kubernetes_object_passes_strict_schema_validation(
    env: tuple[EnvironmentSpec, Recording], k8s_schemas: KubernetesSchemas
) -> None:
    _, rec = env
    checked = 0
    for resource in k8s_objects(rec):
        if resource.type in CRD_TYPES:
            continue
        assert k8s_schemas.errors(resource.k8s_object()) == [], resource.urn
        checked += 1
    assert checked > 40


def test_the_strict_validator_rejects_what_the_api_server_would(
    env: tuple[EnvironmentSpec, Recording], k8s_schemas: KubernetesSchemas
) -> None:
    """The validation above can fail: an unknown field and a wrong type are both reported."""
    _, rec = env
    obj = next(r for r in rec.of_type(DEP)).k8s_object()
    obj["spec"] = {**obj["spec"], "replica": 2}
    obj["metadata"] = {**obj["metadata"], "labels": {"a": 1}}
    errors = k8s_schemas.errors(obj)
    assert any("'replica' was unexpected" in e for e in errors)
    assert any(e.startswith("metadata/labels/a") for e in errors)


def test_custom_resources_have_the_structure_their_crds_require(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    """Minimal checks: CRD schemas are not bundled with kubernetes-validate."""
    spec, rec = env
    services = {r.k8s_object()["metadata"]["name"]: r.k8s_object() for r in rec.of_type(SVC)}
    for resource in k8s_objects(rec):
        if resource.type not in CRD_TYPES:
            continue
        obj = resource.k8s_object()
        assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}, resource.urn
        assert obj["metadata"]["namespace"] == spec.environment.namespace
    for monitor in rec.of_type(f"{K}monitoring.coreos.com/v1:ServiceMonitor"):
        obj = monitor.k8s_object()
        selector = obj["spec"]["selector"]["matchLabels"]
        matched = [n for n, s in services.items() if selector.items() <= s["metadata"]["labels"].items()]
        (endpoint,) = obj["spec"]["endpoints"]
        if L.SCRAPE_TARGET not in obj["metadata"]["labels"]:  # the Pushgateway's: keeps pushed labels
            assert matched == ["monitoring-pushgateway"] and endpoint["honorLabels"] is True, monitor.urn
            continue
        model = obj["metadata"]["labels"][L.SCRAPE_TARGET]
        canary = next(m for m in spec.serving.models if m.name == model).canary is not None
        assert len(matched) == 1 + canary, f"{monitor.urn} selects {matched}"
        assert endpoint["port"] in {p["name"] for p in services[matched[0]]["spec"]["ports"]}
    for rule in rec.of_type(f"{K}monitoring.coreos.com/v1:PrometheusRule"):
        obj = rule.k8s_object()
        model = obj["metadata"]["labels"][L.ALERT_RULES_FOR]
        (group,) = obj["spec"]["groups"]
        assert group["name"] == f"model-{model}"
        assert group["rules"] and all({"alert", "expr"} <= set(r) for r in group["rules"])
    for route in rec.of_type(f"{K}gateway.networking.k8s.io/v1:HTTPRoute"):
        (rule,) = route.k8s_object()["spec"]["rules"]
        assert sum(b["weight"] for b in rule["backendRefs"]) == 100
        assert all(b["name"] in services for b in rule["backendRefs"])


# --- hardening ---------------------------------------------------------------------------------


def test_every_workload_is_hardened(env: tuple[EnvironmentSpec, Recording]) -> None:
    _, rec = env
    workloads = [r for r in rec.resources if r.type in WORKLOADS]
    assert len(workloads) >= 8
    for workload in workloads:
        pod = pod_spec(workload.k8s_object(), workload.type)
        where = workload.urn
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] > 0, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp for m in container["volumeMounts"]), (
                where
            )
            if workload.type in LONG_RUNNING:
                assert "livenessProbe" in container and "readinessProbe" in container, where


def test_every_object_and_pod_carries_the_recommended_and_ownership_labels(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    spec, rec = env
    for resource in k8s_objects(rec):
        obj = resource.k8s_object()
        labelled = [obj["metadata"]["labels"]]
        if resource.type in WORKLOADS:
            labelled.append(pod_labels(obj, resource.type))
        for labels in labelled:
            missing = [k for k in (*APP_LABELS, *OWNERSHIP) if not labels.get(k)]
            assert not missing, f"{resource.urn} lacks {missing}"
            assert labels[L.ENVIRONMENT] == spec.environment.name
            assert labels[L.OWNER] == spec.environment.owner.replace("@", "_at_")


def test_model_servers_carry_model_governance_labels_and_annotations(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    spec, rec = env
    servers = [
        r for r in rec.of_type(DEP) if r.k8s_object()["metadata"]["labels"][L.APP_COMPONENT] == "model-server"
    ]
    assert len(servers) == len(spec.serving.models) + sum(m.canary is not None for m in spec.serving.models)
    for model in spec.serving.models:
        mine = {
            r.k8s_object()["metadata"]["labels"][L.TRACK]: r.k8s_object()
            for r in servers
            if r.name.startswith(f"serving-{model.name}-")
        }
        assert set(mine) == ({"stable", "canary"} if model.canary else {"stable"}), model.name
        for track, obj in mine.items():
            for labels in (obj["metadata"]["labels"], obj["spec"]["template"]["metadata"]["labels"]):
                assert labels[L.MODEL] == model.name
                assert labels[L.RISK_TIER] == model.governance.risk_tier.value
                assert labels[L.DATA_CLASSIFICATION] == model.governance.data_classification.value
                assert labels[L.TRACK] == track
            annotations = obj["metadata"]["annotations"]
            version = (
                model.model.label if track == "stable" else str(model.canary.version or model.canary.alias)
            )
            assert obj["metadata"]["labels"][L.MODEL_VERSION] == version
            if model.model.uri is None:
                assert annotations[L.MODEL_URI] == f"models:/{model.model.name}/{version}"
            assert annotations[L.DRIFT_CHECK] == ("enabled" if spec.drift_for(model).enabled else "disabled")
            if model.governance.approval_ref:
                assert annotations[L.APPROVAL_REF] == model.governance.approval_ref
            env_vars = {
                e["name"]: e.get("value") for e in obj["spec"]["template"]["spec"]["containers"][0]["env"]
            }
            if model.model.alias and track == "stable":  # MLflow's own alias syntax at runtime
                assert env_vars["MODEL_URI"] == f"models:/{model.model.name}@{model.model.alias}"
        if model.canary:
            (route,) = [
                r
                for r in rec.of_type(f"{K}gateway.networking.k8s.io/v1:HTTPRoute")
                if r.name == f"serving-{model.name}-route"
            ]
            weights = {b["name"]: b["weight"] for b in route.k8s_object()["spec"]["rules"][0]["backendRefs"]}
            assert weights == {
                f"serving-{model.name}": 100 - model.canary.weight,
                f"serving-{model.name}-canary": model.canary.weight,
            }


def test_autoscaling_and_disruption_budgets_follow_the_spec(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    for model in spec.serving.models:
        hpa = rec.named(f"serving-{model.name}-hpa").k8s_object()["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (model.replicas.min, model.replicas.max)
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"serving-{model.name}",
        }
        pdb = rec.named(f"serving-{model.name}-pdb").k8s_object()["spec"]
        assert pdb["maxUnavailable"] == 1  # always leaves room for voluntary disruption (node drains)
        assert pdb["selector"]["matchLabels"][L.MODEL] == model.name


def test_every_pod_is_selected_by_a_network_policy_admitting_it(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    _spec, rec = env
    policies = [r.k8s_object()["spec"] for r in rec.of_type(NP)]
    default_deny = [
        p for p in policies if p["podSelector"] == {} and set(p["policyTypes"]) == {"Ingress", "Egress"}
    ]
    assert default_deny and all("ingress" not in p and "egress" not in p for p in default_deny)

    def admitted(labels: dict[str, str]) -> bool:
        return any(
            p.get("ingress")
            and p["podSelector"].get("matchLabels")
            and p["podSelector"]["matchLabels"].items() <= labels.items()
            for p in policies
        )

    for workload in (r for r in rec.resources if r.type in LONG_RUNNING):
        assert admitted(pod_labels(workload.k8s_object(), workload.type)), workload.urn
    for instance in ("Prometheus", "Alertmanager"):
        (cr,) = rec.of_type(f"{K}monitoring.coreos.com/v1:{instance}")
        assert admitted(cr.k8s_object()["spec"]["podMetadata"]["labels"]), cr.urn


def test_services_are_cluster_internal(env: tuple[EnvironmentSpec, Recording]) -> None:
    _, rec = env
    assert {r.k8s_object()["spec"]["type"] for r in rec.of_type(SVC)} == {"ClusterIP"}


def test_prod_pins_every_image_by_digest(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    images = [
        c["image"]
        for r in rec.resources
        if r.type in WORKLOADS
        for c in pod_spec(r.k8s_object(), r.type)["containers"]
    ] + [
        r.k8s_object()["spec"]["image"]
        for r in rec.resources
        if r.type.endswith((":Prometheus", ":Alertmanager"))
    ]
    assert images
    if spec.environment.tier.value == "prod":
        assert all("@sha256:" in image for image in images), images


# --- storage contract --------------------------------------------------------------------------


def test_namespace_declares_the_classification_ceiling(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    (namespace,) = rec.of_type(f"{K}core/v1:Namespace")
    meta = namespace.k8s_object()["metadata"]
    ceiling = spec.environment.data_classification_ceiling.value
    assert meta["name"] == spec.environment.namespace
    assert (
        meta["annotations"][L.CLASSIFICATION_CEILING] == ceiling == meta["labels"][L.CLASSIFICATION_CEILING]
    )


def test_database_backup_and_object_store_contract(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    database = rec.named("storage-postgres").k8s_object()
    assert database["metadata"]["labels"][L.APP_COMPONENT] == "metadata-database"
    (backup,) = rec.of_type(CRON)[:0] or [r for r in rec.of_type(CRON) if r.name == "storage-postgres-backup"]
    obj = backup.k8s_object()
    assert obj["metadata"]["labels"][L.APP_COMPONENT] == "database-backup"
    assert obj["metadata"]["labels"][L.BACKUP_OF] == database["metadata"]["name"]
    assert obj["spec"]["schedule"] == spec.storage.database.backup.schedule
    assert obj["metadata"]["annotations"] == {
        L.BACKUP_SCHEDULE: spec.storage.database.backup.schedule,
        L.BACKUP_RETENTION_DAYS: str(spec.storage.database.backup.retention_days),
    }
    store = rec.named("storage-minio").k8s_object()
    assert store["metadata"]["labels"][L.APP_COMPONENT] == "object-store"
    assert store["metadata"]["annotations"] == {
        L.BUCKET_VERSIONING: "enabled",
        L.ENCRYPTION_AT_REST: "enabled",
    }
    script = rec.named("storage-minio-setup").k8s_object()["spec"]["template"]["spec"]["containers"][0][
        "command"
    ][2]
    for bucket in spec.storage.object_store.buckets:
        assert f"mc version enable store/{bucket.name}" in script
        assert f"mc encrypt set sse-s3 store/{bucket.name}" in script


def test_stateful_resources_are_protected_in_prod_only(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    stateful = {
        "storage-postgres",
        "storage-postgres-data",
        "storage-postgres-backups",
        "storage-minio",
        "storage-minio-data",
        *(f"storage-{v.name}" for v in spec.storage.volumes),
    }
    if spec.registry.image_registry.enabled:
        stateful.add("registry-images-data")
    prod = spec.environment.tier.value == "prod"
    for resource in rec.resources:
        expected = prod and resource.name in stateful
        assert (resource.protect, resource.retain_on_delete) == (expected, expected), resource.urn
    assert {r.name for r in rec.resources} >= stateful


# --- wiring ------------------------------------------------------------------------------------


def secret_refs(rec: Recording) -> list[tuple[Recorded, dict[str, str]]]:
    found = []
    for workload in (r for r in rec.resources if r.type in WORKLOADS):
        for container in pod_spec(workload.k8s_object(), workload.type)["containers"]:
            for var in container.get("env", []):
                if "valueFrom" in var:
                    found.append((workload, var["valueFrom"]["secretKeyRef"]))
    return found


def test_every_secret_reference_resolves_to_a_key_of_a_declared_secret(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    _, rec = env
    secrets = {r.k8s_object()["metadata"]["name"]: r for r in rec.of_type(SECRET)}
    refs = secret_refs(rec)
    assert len(refs) >= 10
    for workload, ref in refs:
        assert ref["name"] in secrets, f"{workload.urn} -> {ref}"
        assert ref["key"] in secrets[ref["name"]].k8s_object()["stringData"], f"{workload.urn} -> {ref}"
        assert secrets[ref["name"]].urn in workload.dependencies, (
            f"{workload.urn} does not depend on {ref['name']}"
        )


def test_registry_consumes_the_storage_outputs(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    credentials = rec.named("registry-mlflow-credentials")
    data = credentials.inputs["stringData"]
    password = credential("storage-postgres-password")
    namespace = spec.environment.namespace
    assert data == {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        "value": {
            "backendStoreUri": f"postgresql+psycopg2://mlflow:{password}@storage-postgres.{namespace}.svc.cluster.local:5432/mlflow",
            "awsAccessKeyId": credential("storage-minio-access-key", length=20),
            "awsSecretAccessKey": credential("storage-minio-secret-key", length=40),
        },
    }
    mlflow = rec.named("registry-mlflow").k8s_object()["spec"]["template"]["spec"]["containers"][0]
    env_vars = {e["name"]: e.get("value") for e in mlflow["env"]}
    assert env_vars["MLFLOW_S3_ENDPOINT_URL"] == f"http://storage-minio.{namespace}.svc.cluster.local:9000"
    assert "--artifacts-destination=s3://mlflow-artifacts" in mlflow["args"]
    assert rec.named("storage-namespace").urn in rec.named("registry-mlflow").dependencies


def test_serving_and_monitoring_consume_the_registry_and_serving_outputs(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    spec, rec = env
    uri = f"http://registry-mlflow.{spec.environment.namespace}.svc.cluster.local:5000"
    for model in spec.serving.models:
        container = rec.named(f"serving-{model.name}-deployment").k8s_object()["spec"]["template"]["spec"][
            "containers"
        ][0]
        assert {"name": "MLFLOW_TRACKING_URI", "value": uri} in container["env"]
        monitor = rec.named(f"monitoring-{model.name}-servicemonitor").k8s_object()
        assert monitor["metadata"]["labels"][L.SCRAPE_TARGET] == model.name
        drift = [r for r in rec.of_type(CRON) if r.name == f"monitoring-{model.name}-drift"]
        assert len(drift) == int(spec.drift_for(model).enabled)
        for job in drift:
            labels = job.k8s_object()["metadata"]["labels"]
            assert (labels[L.APP_COMPONENT], labels[L.MODEL]) == ("drift-check", model.name)
    platform = rec.result
    assert rec.resolve(platform.registry.model_registry_uri) == uri
    assert sorted(rec.resolve(platform.serving.urls)) == sorted(m.name for m in spec.serving.models)


def test_alert_routing_keeps_webhook_urls_secret(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    config = rec.named("monitoring-alertmanager-config")
    has_webhook = any(r.url_secret for r in spec.monitoring.receivers)
    text = config.plain["stringData"]["alertmanager.yaml"]
    assert (WEBHOOK in text) == has_webhook
    for receiver in spec.monitoring.receivers:
        assert f"name: {receiver.name}" in text or f'name: "{receiver.name}"' in text


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_appears_in_plaintext_in_any_input(env: tuple[EnvironmentSpec, Recording]) -> None:
    spec, rec = env
    images = spec.registry.image_registry
    htpasswd = images.enabled and images.auth == "htpasswd"
    # postgres, MinIO access + secret key, Grafana; MinIO's KMS key; the image registry's HTTP secret
    # and login
    expected = 4 + spec.storage.object_store.encryption + images.enabled + htpasswd
    assert len(rec.credentials) == expected, sorted(rec.credentials)
    for needle in (SECRET_MARK, WEBHOOK, *rec.credentials.values()):
        for resource in rec.resources:
            assert plaintext_leaks(resource.inputs, needle) == [], resource.urn
            if resource.type.startswith(K) and resource.type != SECRET:
                # Pulumi encrypts secret inputs in its state, but the cluster stores them as given:
                # outside Secrets a Kubernetes object must not hold one even wrapped.
                assert needle not in str(resource.plain), resource.urn
    # the scan is able to see them: they do reach the Secrets, wrapped
    secrets_text = str([r.inputs for r in rec.of_type(SECRET)])
    in_secrets = {name for name, value in rec.credentials.items() if value in secrets_text}
    transformed = {"registry-images-password", "storage-minio-kms-key"}  # as a bcrypt hash, in base64
    assert set(rec.credentials) - transformed <= in_secrets
    assert (WEBHOOK in secrets_text) == any(r.url_secret for r in spec.monitoring.receivers)


def test_credential_outputs_are_secret(env: tuple[EnvironmentSpec, Recording]) -> None:
    _, rec = env
    platform = rec.result
    storage = platform.storage.outputs
    for output in (
        storage.database_url,
        storage.database_password,
        storage.object_store_access_key,
        storage.object_store_secret_key,
        platform.registry.outputs.image_registry_password,
        platform.monitoring.outputs.grafana_admin_password,
    ):
        assert rec.is_secret(output)
        assert any(value in rec.resolve(output) for value in rec.credentials.values())
    assert not rec.is_secret(platform.registry.model_registry_uri)


def test_the_image_registry_htpasswd_verifies_the_generated_login(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    spec, rec = env
    if not spec.registry.image_registry.enabled or spec.registry.image_registry.auth != "htpasswd":
        pytest.skip(f"{spec.environment.name} has no htpasswd image registry")
    auth = rec.named("registry-images-auth")
    assert is_secret_value(auth.inputs["stringData"])
    user, _, hashed = auth.plain["stringData"]["htpasswd"].rstrip("\n").partition(":")
    login = rec.resolve(rec.result.registry.outputs.image_registry_password)
    assert (user, login) == ("mlops", credential("registry-images-password"))
    assert bcrypt.checkpw(login.encode(), hashed.encode())


# --- drift jobs and the Pushgateway ------------------------------------------------------------


def test_drift_jobs_run_the_platform_module_with_the_store_and_the_pushgateway(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    spec, rec = env
    ns = spec.environment.namespace
    drifting = [m for m in spec.serving.models if spec.drift_for(m).enabled]
    assert drifting
    for model in drifting:
        job = rec.named(f"monitoring-{model.name}-drift").k8s_object()["spec"]["jobTemplate"]["spec"]
        (container,) = job["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", "mlops_platform.drift"] and "args" not in container
        assert container["image"] == (spec.monitoring.drift_image or model.image)
        env_vars = {e["name"]: e for e in container["env"]}
        plain = {name: e.get("value") for name, e in env_vars.items()}
        assert plain["MODEL_NAME"] == model.name
        assert plain["PSI_THRESHOLD"] == repr(spec.drift_for(model).psi_threshold)
        assert plain["AWS_ENDPOINT_URL"] == f"http://storage-minio.{ns}.svc.cluster.local:9000"
        assert (plain["DRIFT_BUCKET"], plain["DRIFT_PREFIX"]) == (spec.monitoring.drift_bucket, "drift")
        assert plain["PUSHGATEWAY_URL"] == f"http://monitoring-pushgateway.{ns}.svc.cluster.local:9091"
        for name, key in (("AWS_ACCESS_KEY_ID", "accessKey"), ("AWS_SECRET_ACCESS_KEY", "secretKey")):
            assert env_vars[name]["valueFrom"]["secretKeyRef"] == {
                "name": "monitoring-drift-credentials",
                "key": key,
            }
        assert "MLFLOW_TRACKING_URI" not in env_vars  # the job reads the object store, not the registry
    secret = rec.named("monitoring-drift-credentials")
    minio = rec.named("storage-minio-credentials")
    assert set(secret.plain["stringData"]) == {"accessKey", "secretKey"}
    assert set(secret.plain["stringData"].values()) <= set(minio.plain["stringData"].values())


def test_the_pushgateway_admits_drift_jobs_and_monitoring_only(
    env: tuple[EnvironmentSpec, Recording],
) -> None:
    _, rec = env
    gateway = rec.named("monitoring-pushgateway").k8s_object()
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 9091, "protocol": "TCP"}]
    policy = rec.named("monitoring-pushgateway-ingress").k8s_object()["spec"]
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchExpressions"] == [
        {
            "key": L.APP_COMPONENT,
            "operator": "In",
            "values": [L.COMPONENT_DRIFT_CHECK, L.COMPONENT_MONITORING],
        }
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9091}]


def test_prometheus_may_reach_what_it_scrapes_and_alerts(env: tuple[EnvironmentSpec, Recording]) -> None:
    """Its egress admits the model servers (any port), the Pushgateway and Alertmanager, the API server."""
    _, rec = env
    egress = rec.named("monitoring-prometheus-network").k8s_object()["spec"]["egress"]
    selectors = [
        peer["podSelector"]["matchExpressions"][0]["values"] for rule in egress for peer in rule.get("to", [])
    ]
    assert selectors == [[L.COMPONENT_MODEL_SERVER], [L.COMPONENT_MONITORING]]
    ports = [[p["port"] for p in rule.get("ports", [])] for rule in egress]
    assert ports == [[443, 6443], [], [9091, 9093]]
    model_pods = [r.k8s_object()["spec"]["template"]["metadata"]["labels"] for r in rec.of_type(DEP)]
    assert any(labels[L.APP_COMPONENT] == L.COMPONENT_MODEL_SERVER for labels in model_pods)
