"""The Docker target under Pulumi's mocks: resource sets, wiring, hardening, labels, secrets, stability.

``dev`` is the bundled Docker environment. ``prod-on-docker`` is the prod spec re-targeted at Docker: it
exercises what dev lacks (a canary with its nginx split, a Slack receiver, protected stateful resources).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from mlops_platform import vocabulary as L
from mlops_platform.components.rendering import RULES_PATH
from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.schema import EnvironmentSpec
from mlops_platform.stacks.types import Target
from tests.components.conftest import credential
from tests.components.docker_harness import (
    CONTAINER,
    IMAGE,
    NETWORK,
    VOLUME,
    WEBHOOK_URL,
    Run,
    envs_of,
    is_secret,
    labels_of,
    plain_strings,
    require_tool,
    reveal,
    run_platform,
    uploads_of,
)

COMMON = (
    L.APP_NAME,
    L.APP_INSTANCE,
    L.APP_COMPONENT,
    L.APP_PART_OF,
    L.APP_MANAGED_BY,
    *L.OWNERSHIP_LABELS,
    L.TIER,
)
ROOT_BY_NECESSITY = {"storage-object-store", "registry-image-registry"}  # root-owned data volumes
JOBS = {"storage-object-store-buckets"}  # one-shot containers: no healthcheck, restart on failure


def _prod_on_docker() -> EnvironmentSpec:
    spec = load_environment("prod")
    return spec.model_copy(
        update={"environment": spec.environment.model_copy(update={"target": Target.DOCKER})}
    )


@pytest.fixture(scope="module")
def dev() -> Run:
    return run_platform(load_environment("dev"))


@pytest.fixture(scope="module")
def prod_docker() -> Run:
    return run_platform(_prod_on_docker(), stack="prod")


def _without_counts(run: Run) -> dict[str, dict[str, int]]:
    return {layer: run.counts(layer) for layer in ("storage", "registry", "serving", "monitoring")}


def test_dev_resource_set_per_layer(dev: Run) -> None:
    assert _without_counts(dev) == {
        "storage": {NETWORK: 1, VOLUME: 3, IMAGE: 2, CONTAINER: 4},
        "registry": {IMAGE: 2, VOLUME: 1, CONTAINER: 2},
        "serving": {"mlops:serving:ModelEndpoint": 2, IMAGE: 2, CONTAINER: 2},
        "monitoring": {IMAGE: 6, VOLUME: 3, CONTAINER: 6},  # + the Pushgateway
    }
    assert sorted(c.name for c in dev.containers()) == [
        "monitoring-alertmanager",
        "monitoring-fraud-scorer-drift",
        "monitoring-grafana",
        "monitoring-prometheus",
        "monitoring-pushgateway",
        "monitoring-sentiment-experiment-drift",
        "registry-image-registry",
        "registry-mlflow",
        "serving-fraud-scorer-stable",
        "serving-sentiment-experiment-stable",
        "storage-metadata-db",
        "storage-metadata-db-backup",
        "storage-object-store",
        "storage-object-store-buckets",
    ]
    assert not any(t.startswith("kubernetes:") for t in (r.type for r in dev.resources))


def test_canary_adds_a_canary_container_and_an_nginx_split(prod_docker: Run) -> None:
    serving = prod_docker.counts("serving")
    # fraud-scorer: stable + canary + split; churn-predictor, recommender: stable only
    assert serving[CONTAINER] == 5 and serving["mlops:serving:ModelEndpoint"] == 3
    split = prod_docker.named("serving-fraud-scorer-split")
    conf = uploads_of(split)["/etc/nginx/conf.d/default.conf"]
    assert "server model-fraud-scorer-stable:8080 weight=90 " in conf
    assert "server model-fraud-scorer-canary:8080 weight=10 " in conf
    assert split.inputs["networksAdvanced"][0]["aliases"] == ["model-fraud-scorer"]
    canary = labels_of(prod_docker.named("serving-fraud-scorer-canary"))
    # prod pins the canary's version (issue 24: a high-risk model is served by an exact version)
    assert canary[L.TRACK] == "canary" and canary[L.MODEL_VERSION] == "41"
    assert canary[L.MODEL_URI] == "models:/fraud-scorer/41"
    assert labels_of(prod_docker.named("serving-fraud-scorer-stable"))[L.TRACK] == "stable"


@pytest.mark.parametrize("run_name", ["dev", "prod_docker"])
def test_every_container_is_hardened(run_name: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(run_name)
    network = reveal(run.of_type(NETWORK)[0].inputs["name"])
    for container in run.containers():
        inputs, where = container.inputs, container.name
        assert inputs["privileged"] is False, where
        # the provider extracts uploads at "/", which Docker refuses on a read-only root filesystem
        assert inputs["readOnly"] is (not inputs.get("uploads")), where
        assert inputs["capabilities"] == {"drops": ["ALL"]}, where
        assert inputs["securityOpts"] == ["no-new-privileges:true"], where
        assert inputs["memory"] > 0 and float(inputs["cpus"]) > 0, where
        assert inputs["memorySwap"] == inputs["memory"], where
        assert inputs["networkMode"] == network, where
        assert inputs.get("publishAllPorts") is not True, where
        assert all(p["ip"] == "127.0.0.1" for p in inputs.get("ports", [])), where
        if where in JOBS:
            assert inputs["restart"] == "on-failure" and "healthcheck" not in inputs, where
        else:
            assert inputs["restart"] == "unless-stopped", where
            assert inputs["healthcheck"]["tests"][0] in ("CMD", "CMD-SHELL"), where
        if where not in ROOT_BY_NECESSITY:
            assert inputs["user"] and not inputs["user"].startswith(("0:", "root")), where
    writable_root = {c.name for c in run.containers() if not c.inputs["readOnly"]}
    splits = {c.name for c in run.containers() if c.name.endswith("-split")}
    assert writable_root == {
        "monitoring-prometheus",
        "monitoring-alertmanager",
        "monitoring-grafana",
        *splits,
    }


def test_images_are_pinned_remote_images_kept_locally(dev: Run) -> None:
    images = {reveal(i.inputs["name"]) for i in dev.of_type(IMAGE)}
    assert all(i.inputs["keepLocally"] is True for i in dev.of_type(IMAGE))
    for container in dev.containers():
        assert container.inputs["image"] in images, container.name
        assert ":" in container.inputs["image"].rsplit("/", 1)[-1], container.name  # tag or digest


@pytest.mark.parametrize("run_name", ["dev", "prod_docker"])
def test_contract_labels(run_name: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(run_name)
    spec = load_environment("dev") if run_name == "dev" else _prod_on_docker()
    for resource in run.containers() + run.of_type(VOLUME) + run.of_type(NETWORK):
        labels = labels_of(resource)
        assert all(labels.get(key) for key in COMMON), (resource.name, sorted(set(COMMON) - set(labels)))
        assert labels[L.ENVIRONMENT] == spec.environment.name, resource.name
    assert (
        labels_of(run.of_type(NETWORK)[0])[L.CLASSIFICATION_CEILING]
        == spec.environment.data_classification_ceiling
    )

    db = labels_of(run.named("storage-metadata-db"))
    assert db[L.APP_COMPONENT] == L.COMPONENT_METADATA_DATABASE
    assert db[L.BACKUP_SCHEDULE] == spec.storage.database.backup.schedule
    assert db[L.BACKUP_RETENTION_DAYS] == str(spec.storage.database.backup.retention_days)
    store = labels_of(run.named("storage-object-store"))
    assert store[L.APP_COMPONENT] == L.COMPONENT_OBJECT_STORE
    assert store[L.BUCKET_VERSIONING] == "enabled" and store[L.ENCRYPTION_AT_REST] == "enabled"
    prometheus = labels_of(run.named("monitoring-prometheus"))
    assert prometheus[L.APP_COMPONENT] == L.COMPONENT_MONITORING and prometheus[L.APP_NAME] == "prometheus"

    servers = [c for c in run.containers() if labels_of(c)[L.APP_COMPONENT] == L.COMPONENT_MODEL_SERVER]
    assert {labels_of(c)[L.MODEL] for c in servers} == {m.name for m in spec.serving.models}
    for server in servers:
        labels = labels_of(server)
        model = next(m for m in spec.serving.models if m.name == labels[L.MODEL])
        assert labels[L.RISK_TIER] == model.governance.risk_tier.value, server.name
        assert labels[L.DATA_CLASSIFICATION] == model.governance.data_classification.value, server.name
        assert labels[L.DRIFT_CHECK] == ("enabled" if spec.drift_for(model).enabled else "disabled")
        assert labels[L.MODEL_SOURCE] in ("registry-version", "registry-alias", "uri"), server.name
        assert L.MODEL_URI in labels and labels[L.TRACK] in ("stable", "canary"), server.name
        if model.governance.approval_ref:
            assert labels[L.APPROVAL_REF] == model.governance.approval_ref


def test_dev_model_labels_record_the_source(dev: Run) -> None:
    fraud = labels_of(dev.named("serving-fraud-scorer-stable"))
    assert (fraud[L.MODEL_URI], fraud[L.MODEL_SOURCE], fraud[L.MODEL_VERSION]) == (
        "models:/fraud-scorer/42",
        "registry-version",
        "42",
    )
    sentiment = labels_of(dev.named("serving-sentiment-experiment-stable"))
    assert sentiment[L.MODEL_SOURCE] == "uri" and sentiment[L.MODEL_URI].startswith("s3://datasets/")


@pytest.mark.parametrize("run_name", ["dev", "prod_docker"])
def test_secrets_never_appear_in_plaintext(run_name: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(run_name)
    # database, object store, its KMS key, registry HTTP secret and login, Grafana
    assert len(run.credentials) == 6, sorted(run.credentials)
    needles = run.needles()
    for resource in run.resources:
        leaks = [s for s in plain_strings(resource.inputs) if any(n in s for n in needles)]
        assert not leaks, f"{resource.type} {resource.name} holds secrets in plaintext: {leaks}"
    assert not any(any(n in s for n in needles) for s in plain_strings(run.exports))


def test_credentials_reach_containers_as_secret_env(dev: Run) -> None:
    db = dev.named("storage-metadata-db")
    assert is_secret(db.inputs["envs"]), "the database env carries its password: it must be secret"
    assert envs_of(db)["POSTGRES_PASSWORD"] == credential("storage-metadata-db-password")
    grafana = envs_of(dev.named("monitoring-grafana"))
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == credential("monitoring-grafana-admin-password")
    store = envs_of(dev.named("storage-object-store"))
    assert (
        store["MINIO_KMS_SECRET_KEY"].startswith("mlops-sse:") and store["MINIO_KMS_AUTO_ENCRYPTION"] == "on"
    )
    registry = dev.named("registry-image-registry")
    assert is_secret(registry.inputs["envs"]) and "uploads" not in registry.inputs
    user, _, bcrypt_hash = envs_of(registry)["HTPASSWD_ENTRY"].partition(":")
    assert user == "mlops" and bcrypt_hash.startswith("$2b$10$")
    assert bcrypt.checkpw(credential("registry-image-registry-password").encode(), bcrypt_hash.encode())
    assert envs_of(registry)["REGISTRY_AUTH_HTPASSWD_PATH"] == "/tmp/htpasswd"
    assert "/tmp" in registry.inputs["tmpfs"] and registry.inputs["entrypoints"][:2] == ["/bin/sh", "-c"]


def test_layers_are_wired_through_outputs(dev: Run) -> None:
    mlflow = envs_of(dev.named("registry-mlflow"))
    assert mlflow["MLFLOW_BACKEND_STORE_URI"] == (
        f"postgresql+psycopg2://mlflow:{credential('storage-metadata-db-password')}@metadata-db:5432/mlflow"
    )
    assert mlflow["MLFLOW_S3_ENDPOINT_URL"] == "http://object-store:9000"
    assert mlflow["AWS_SECRET_ACCESS_KEY"] == credential("storage-object-store-password", length=40)
    assert "s3://mlflow-artifacts" in dev.named("registry-mlflow").inputs["command"]
    for model in ("fraud-scorer", "sentiment-experiment"):
        assert envs_of(dev.named(f"serving-{model}-stable"))["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert dev.exports["modelEndpoints"] == {
        "fraud-scorer": "http://model-fraud-scorer:8080",
        "sentiment-experiment": "http://model-sentiment-experiment:8080",
    }


def _aliases(run: Run) -> dict[str, dict[str, Any]]:
    """Network alias -> container inputs."""
    return {alias: c.inputs for c in run.containers() for alias in c.inputs["networksAdvanced"][0]["aliases"]}


@pytest.mark.parametrize("run_name", ["dev", "prod_docker"])
def test_prometheus_scrapes_every_model_container(run_name: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(run_name)
    uploads = uploads_of(run.named("monitoring-prometheus"))
    config = yaml.safe_load(uploads["/etc/prometheus/prometheus.yml"])
    rules = yaml.safe_load(uploads[RULES_PATH])
    servers = [c for c in run.containers() if labels_of(c)[L.APP_COMPONENT] == L.COMPONENT_MODEL_SERVER]
    models = sorted({labels_of(c)[L.MODEL] for c in servers})

    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert sorted(j for j in jobs if j.startswith("model-")) == [f"model-{m}" for m in models]
    assert [g["name"] for g in rules["groups"]] == [f"model-{m}" for m in models]
    assert config["rule_files"] == [RULES_PATH]
    aliases = _aliases(run)
    scraped = 0
    for model in models:
        for static in jobs[f"model-{model}"]["static_configs"]:
            host, port = static["targets"][0].rsplit(":", 1)
            target = aliases[host]  # a real container on the network answers at that name...
            assert {item["label"]: item["value"] for item in target["labels"]}[L.MODEL] == model
            assert f"PORT={port}" in reveal(target["envs"])  # ...and listens on that port
            scraped += 1
    assert scraped == len(servers)  # every stable and canary container, nothing else
    alertmanagers = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert [a.split(":")[0] for a in alertmanagers] == ["alertmanager"] and "alertmanager" in aliases


def test_uploaded_prometheus_files_pass_promtool(prod_docker: Run, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    uploads = uploads_of(prod_docker.named("monitoring-prometheus"))
    (tmp_path / "prometheus.yml").write_text(uploads["/etc/prometheus/prometheus.yml"])
    (tmp_path / "models.yml").write_text(uploads[RULES_PATH])
    for command in (["check", "config", "--syntax-only", "prometheus.yml"], ["check", "rules", "models.yml"]):
        result = subprocess.run(
            [promtool, *command], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_is_secret_with_a_webhook_receiver(
    prod_docker: Run, dev: Run, tmp_path: Path
) -> None:
    content = uploads_of(prod_docker.named("monitoring-alertmanager"))["/etc/alertmanager/alertmanager.yml"]
    assert is_secret(content) or is_secret(prod_docker.named("monitoring-alertmanager").inputs["uploads"])
    config = yaml.safe_load(reveal(content))
    assert {r["name"] for r in config["receivers"]} == {"oncall", "slack-ml-alerts"}
    slack = next(r for r in config["receivers"] if r["name"] == "slack-ml-alerts")
    assert slack["slack_configs"][0]["api_url"] == WEBHOOK_URL
    dev_config = uploads_of(dev.named("monitoring-alertmanager"))["/etc/alertmanager/alertmanager.yml"]
    assert not is_secret(dev_config)  # e-mail only: nothing secret to hide
    amtool = require_tool("amtool")
    (tmp_path / "am.yml").write_text(reveal(content))
    result = subprocess.run(
        [amtool, "check-config", str(tmp_path / "am.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_is_provisioned_with_a_dashboard_per_model(dev: Run) -> None:
    uploads = uploads_of(dev.named("monitoring-grafana"))
    assert sorted(p for p in uploads if p.startswith("/etc/grafana/dashboards/")) == [
        "/etc/grafana/dashboards/model-fraud-scorer.json",
        "/etc/grafana/dashboards/model-sentiment-experiment.json",
    ]
    datasource = yaml.safe_load(uploads["/etc/grafana/provisioning/datasources/prometheus.yml"])
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_stateful_resources_are_protected_only_where_asked(dev: Run, prod_docker: Run) -> None:
    stateful = {
        "storage-metadata-db",
        "storage-object-store",
        "storage-metadata-db-data",
        "storage-metadata-db-backups",
        "storage-object-store-data",
        "storage-volume-feature-cache",
    }
    assert {name for name, protected in prod_docker.protect.items() if protected} == stateful
    assert {name for name, retained in prod_docker.retain_on_delete.items() if retained} == stateful
    assert not any(dev.protect.values()) and not any(dev.retain_on_delete.values())


def _by_name(run: Run) -> dict[str, Any]:
    return {(r.type, r.name): r.inputs for r in run.resources}


def test_two_runs_are_identical(dev: Run) -> None:
    assert _by_name(run_platform(load_environment("dev"))) == _by_name(dev)


def test_reordering_models_changes_nothing(dev: Run) -> None:
    spec = load_environment("dev")
    reordered = spec.model_copy(
        update={"serving": spec.serving.model_copy(update={"models": list(reversed(spec.serving.models))})}
    )
    assert _by_name(run_platform(reordered)) == _by_name(dev)


def test_editing_one_model_touches_only_it_and_the_shared_monitoring_files(dev: Run) -> None:
    spec = load_environment("dev")
    fraud, sentiment = spec.serving.models
    edited = fraud.model_copy(update={"slo": fraud.slo.model_copy(update={"p99_latency_ms": 120})})
    renamed = sentiment.model_copy(update={"name": "sentiment-v2"})
    changed = spec.model_copy(
        update={"serving": spec.serving.model_copy(update={"models": [edited, renamed]})}
    )

    before, after = _by_name(dev), _by_name(run_platform(changed))

    differing = {key[1] for key in before.keys() & after.keys() if before[key] != after[key]}
    assert differing == {"monitoring-prometheus", "monitoring-grafana"}  # rule thresholds, dashboards
    assert {k[1] for k in before.keys() - after.keys()} == {
        "serving-sentiment-experiment",
        "serving-sentiment-experiment-stable",
        "serving-sentiment-experiment-stable-image",
        "monitoring-sentiment-experiment-drift",
        "monitoring-sentiment-experiment-drift-image",
    }


def test_database_backups_run_as_a_scheduled_job(dev: Run) -> None:
    spec = load_environment("dev")
    backup = dev.named("storage-metadata-db-backup")
    labels = labels_of(backup)
    assert labels[L.APP_COMPONENT] == L.COMPONENT_DATABASE_BACKUP
    assert labels[L.BACKUP_OF] == dev.named("storage-metadata-db").inputs["name"]
    assert labels[L.BACKUP_SCHEDULE] == spec.storage.database.backup.schedule
    shell, flag, runner, name = backup.inputs["entrypoints"]
    assert (shell, flag, name) == ("/bin/sh", "-c", "cron-runner")
    assert f"SCHEDULE='{spec.storage.database.backup.schedule}'" in runner
    assert backup.inputs["command"][:2] == ["/bin/sh", "-c"]
    assert "pg_dump --format=custom" in backup.inputs["command"][2]
    assert envs_of(backup)["PGHOST"] == "metadata-db" and is_secret(backup.inputs["envs"])
    assert [v["volumeName"] for v in backup.inputs["volumes"]] == ["mlops-dev-metadata-db-backups"]
    assert backup.inputs["readOnly"] is True and "uploads" not in backup.inputs


def test_drift_checks_run_as_scheduled_jobs_per_model(dev: Run) -> None:
    for model in ("fraud-scorer", "sentiment-experiment"):
        job = dev.named(f"monitoring-{model}-drift")
        labels = labels_of(job)
        assert labels[L.APP_COMPONENT] == L.COMPONENT_DRIFT_CHECK and labels[L.MODEL] == model
        assert job.inputs["command"] == ["python", "-m", "mlops_platform.drift"]
        envs = envs_of(job)
        assert (envs["MODEL_NAME"], envs["PSI_THRESHOLD"], envs["FEATURE_SHARE_THRESHOLD"]) == (
            model,
            "0.2",
            "0.3",
        )
        assert envs["AWS_ENDPOINT_URL"] == "http://object-store:9000"
        assert envs["AWS_ACCESS_KEY_ID"] and envs["AWS_SECRET_ACCESS_KEY"] and is_secret(job.inputs["envs"])
        assert (envs["DRIFT_BUCKET"], envs["DRIFT_PREFIX"]) == ("datasets", "drift")
        assert envs["PUSHGATEWAY_URL"] == "http://pushgateway:9091"
        assert "MLFLOW_TRACKING_URI" not in envs  # the drift job reads the object store, not the registry
        assert "SCHEDULE='0 * * * *'" in job.inputs["entrypoints"][2]
        assert job.inputs["healthcheck"]["tests"][0] == "CMD-SHELL"
