"""The platform end to end on the node, as a user runs it: `mlops up`, train, serve, alert, restore, destroy.

The environment is a project made by ``mlops init`` (see ``platform_env``) with every image built here
and served by the node's registry. The tests run in file order and share one platform: each step is
the state the next one starts from, as it is for a user.

Canary traffic is not split here: the model's HTTPRoute needs a GAMMA mesh (README, "Canary
traffic"), which this node does not run; each track's Service is tested on its own.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.tools.images.builder import build_images, images_root
from mlops_platform.tools.images.recipes import RECIPES
from mlops_platform.tools.local_cluster import LocalCluster
from mlops_platform.tools.node import mirror, tryout
from tests.cli_runner import mlops
from tests.images.conftest import TOOLS, require_tools

from . import platform_env as pe

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("node")]

UP_TIMEOUT_S = 1200.0
ALERT_TIMEOUT_S = 240.0


@dataclass
class Platform:
    """The platform brought up on the node, and what the steps learned about it."""

    cluster: LocalCluster
    project: Path
    state: Path
    overrides: dict[str, str]
    trained: dict[str, Any] = field(default_factory=dict)

    @property
    def api(self) -> Any:
        return pe.api(self.cluster)

    def mlops(self, *args: str) -> Any:
        return mlops("-C", str(self.project), *args, env=self.cluster.env(), timeout_s=UP_TIMEOUT_S)

    def up(self) -> None:
        # --no-admission: the test's own read-back Jobs are not the platform's workloads and carry none of
        # its labels; the admission policies themselves are proven on the API server (tests/admission).
        done = self.mlops("up", pe.STACK, "--yes", "--no-admission", "--local-state", str(self.state))
        assert done.returncode == 0, (
            f"mlops up exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )

    def rolled_out(self) -> None:
        try:
            tryout.wait_rolled_out(self.api, pe.NAMESPACE)
        except TimeoutError as exc:
            pytest.fail(str(exc))

    @property
    def mlflow(self) -> str:
        selector = {L.APP_NAME: "mlflow", L.APP_COMPONENT: L.COMPONENT_MODEL_REGISTRY}
        return tryout.service_url(self.api, pe.NAMESPACE, selector)

    def model_url(self, model: str, track: str) -> str:
        selector = {L.MODEL: model, L.TRACK: track, L.APP_COMPONENT: L.COMPONENT_MODEL_SERVER}
        return tryout.service_url(self.api, pe.NAMESPACE, selector)

    def _pod(self, app: str, port: int) -> str:
        url = tryout.pod_url(self.api, pe.NAMESPACE, {L.APP_NAME: app}, port)
        assert url is not None, f"no ready {app} pod"
        return url

    @property
    def prometheus(self) -> str:
        return self._pod("prometheus", 9090)

    @property
    def alertmanager(self) -> str:
        return self._pod("alertmanager", 9093)

    def job(self, name: str, spec: dict[str, Any]) -> str:
        try:
            return tryout.run_job(self.api, pe.NAMESPACE, name, spec)
        except tryout.JobFailed as exc:
            pytest.fail(str(exc))


def _mirrored(name: str) -> str:
    return next(mirror.mirror_ref(r) for r in RECIPES if r.name == name)


@pytest.fixture(scope="module")
def platform(node: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Images pushed to the node's registry, the project written, its first ``mlops up`` (no models yet)."""
    require_tools(*TOOLS)
    assert node.registry is not None, "the session's node runs an image registry"
    images = build_images(root=images_root(), progress=lambda line: None)
    overrides = mirror.publish(images, node.registry, progress=lambda line: None)
    overrides[tryout.MODEL_IMAGE] = _mirrored("platform-python")
    root = tmp_path_factory.mktemp("e2e")
    project = tryout.write_project(root / "project", pe.STACK, pe.NAMESPACE, overrides)
    tryout.write_stack(project, pe.STACK, pe.NAMESPACE, overrides, scrape_interval_seconds=5)
    started = Platform(cluster=node, project=project, state=root / "state", overrides=overrides)
    started.up()
    yield started
    # Whatever a failed step left: destroy, so that the session's node stops clean.
    if (root / "state").exists():
        started.mlops("destroy", pe.STACK, "--yes", "--local-state", str(root / "state"))


def test_up_rolls_out_every_workload_and_job(platform: Platform) -> None:
    platform.rolled_out()
    from kubernetes import client

    apps = client.AppsV1Api(platform.api)
    names = {d.metadata.labels.get(L.APP_NAME) for d in apps.list_namespaced_deployment(pe.NAMESPACE).items}
    names |= {
        s.metadata.labels.get(L.APP_NAME) for s in apps.list_namespaced_stateful_set(pe.NAMESPACE).items
    }
    assert {"minio", "postgres", "mlflow", "registry", "pushgateway", "prometheus", "alertmanager"} <= names
    claims = client.CoreV1Api(platform.api).list_namespaced_persistent_volume_claim(pe.NAMESPACE)
    unbound = [
        c.metadata.name
        for c in claims.items
        if c.status.phase != "Bound" and "backups" not in c.metadata.name  # bound by its first Job
    ]
    assert not unbound, unbound


def test_training_logs_to_the_platforms_registry_store_and_database(platform: Platform) -> None:
    try:
        trained = tryout.train_demo_models(
            platform.api, pe.NAMESPACE, _mirrored("platform-python"), platform.mlflow, tryout.TWO_MODELS
        )
    except tryout.JobFailed as exc:
        pytest.fail(str(exc))
    platform.trained = trained
    versions = {(v["name"], v["version"]): v for v in trained["versions"]}
    assert set(versions) == {(pe.FRAUD, "1"), (pe.FRAUD, "2"), (pe.CHURN, "1")}

    # The artifacts are in the object store: read back directly, with the keys the platform gave its jobs.
    keys = set(_objects(platform, ["list", "mlflow-artifacts"], "e2e-list-artifacts")["keys"])
    for v in versions.values():
        location = v["artifact_location"]
        assert location.startswith("mlflow-artifacts:/"), location
        prefix = location.removeprefix("mlflow-artifacts:/").strip("/")
        assert f"{prefix}/MLmodel" in keys, f"{v['name']} v{v['version']}: no {prefix}/MLmodel in the bucket"
        serialised = [k for k in keys if k.startswith(f"{prefix}/model.")]  # model.pkl or model.skops
        assert serialised, f"{v['name']} v{v['version']}: no serialised model under {prefix}"

    # The metadata is in PostgreSQL: read back directly with the database environment of the backup job.
    rows = _psql(platform, "select name, version, run_id from model_versions order by name, version")
    assert sorted(rows) == sorted([v["name"], v["version"], v["run_id"]] for v in versions.values())
    aliases = _psql(platform, "select name, alias, version from registered_model_aliases order by name")
    assert sorted(aliases) == [[pe.CHURN, "champion", "1"], [pe.FRAUD, "champion", "1"]]


def test_models_serve_exactly_their_pinned_versions(platform: Platform) -> None:
    assert platform.trained, "the training step ran"
    tryout.write_stack(
        platform.project,
        pe.STACK,
        pe.NAMESPACE,
        platform.overrides,
        tracking_uri=platform.mlflow,
        models=tryout.model_entries(tryout.TWO_MODELS, alert_after_seconds=0),  # the tests wait for alerts
        scrape_interval_seconds=5,
    )
    platform.up()
    platform.rolled_out()
    versions = {(v["name"], v["version"]): v for v in platform.trained["versions"]}
    batch = {"dataframe_split": {"columns": platform.trained["columns"], "data": platform.trained["rows"]}}
    for model, track, version in (
        (pe.FRAUD, "stable", "1"),
        (pe.FRAUD, "canary", "2"),
        (pe.CHURN, "stable", "1"),
    ):
        url = platform.model_url(model, track)
        answer = pe.http_json(f"{url}/invocations", batch)
        expected = versions[(model, version)]["predictions"]
        assert answer["predictions"] == pytest.approx(expected, rel=1e-9), f"{model} {track}"
        metrics = pe.http_text(f"{url}/metrics")
        info = [line for line in metrics.splitlines() if line.startswith("mlops_served_model_info{")]
        assert len(info) == 1 and f'version="{version}"' in info[0] and f'model="{model}"' in info[0], info


def _autoscaler(platform: Platform, model: str) -> Any:
    from kubernetes import client

    scaler = client.AutoscalingV2Api(platform.api)
    items = scaler.list_namespaced_horizontal_pod_autoscaler(
        pe.NAMESPACE, label_selector=f"{L.MODEL}={model}"
    ).items
    assert len(items) == 1, [i.metadata.name for i in items]
    return items[0]


def test_load_scales_a_model_out_through_its_autoscaler(platform: Platform) -> None:
    """The model's HorizontalPodAutoscaler reads its pods' CPU (the node's metrics-server) and adds a
    replica under load, up to the spec's maximum."""
    from kubernetes import client

    def measuring() -> Any:
        hpa = _autoscaler(platform, pe.FRAUD)
        conditions = {c.type: c for c in (hpa.status.conditions or [])}
        active = conditions.get("ScalingActive")
        return hpa if active is not None and active.status == "True" and hpa.status.current_metrics else None

    hpa = tryout.wait_for(f"{pe.FRAUD}'s autoscaler reading CPU", measuring, 180, every_s=5)
    ceiling = hpa.spec.max_replicas
    assert hpa.spec.min_replicas == 1 and ceiling > 1, (hpa.spec.min_replicas, ceiling)
    deployment = hpa.spec.scale_target_ref.name
    url = platform.model_url(pe.FRAUD, "stable")
    batch = {"dataframe_split": {"columns": platform.trained["columns"], "data": platform.trained["rows"]}}
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            pe.http_status(f"{url}/invocations", batch)

    workers = [threading.Thread(target=load, daemon=True) for _ in range(4)]
    for worker in workers:
        worker.start()
    apps = client.AppsV1Api(platform.api)

    def scaled_out() -> int | None:
        ready = apps.read_namespaced_deployment(deployment, pe.NAMESPACE).status.ready_replicas or 0
        return ready if ready == ceiling else None

    try:
        tryout.wait_for(f"{deployment} scaled out to {ceiling} ready replicas", scaled_out, 300, every_s=5)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=15)
    scaled = _autoscaler(platform, pe.FRAUD)
    assert scaled.status.desired_replicas == ceiling
    cpu = [m.resource.current.average_utilization for m in scaled.status.current_metrics if m.resource]
    assert cpu and cpu[0] is not None and cpu[0] > 0, cpu


def test_prometheus_scrapes_every_model_target(platform: Platform) -> None:
    """Every serving pod is a target, up: fraud-scorer's stable replicas (the autoscaler's) and its
    canary, churn-predictor's one."""
    from kubernetes import client

    pods = client.CoreV1Api(platform.api).list_namespaced_pod(
        pe.NAMESPACE, label_selector=f"{L.APP_COMPONENT}={L.COMPONENT_MODEL_SERVER}"
    )
    serving = Counter(
        pod.metadata.labels[L.MODEL]
        for pod in pods.items
        if pod.status.phase == "Running" and pod.metadata.deletion_timestamp is None
    )
    assert serving.get(pe.FRAUD, 0) >= 2 and serving.get(pe.CHURN) == 1, serving  # both tracks, one replica

    def targets_up() -> Counter[str] | None:
        answer = pe.http_json(f"{platform.prometheus}/api/v1/query?query=up%7Bmodel%21%3D%22%22%7D")
        found = Counter(s["metric"]["model"] for s in answer["data"]["result"] if s["value"][1] == "1")
        return found if found == serving else None

    tryout.wait_for(f"Prometheus scraping every serving pod up ({serving})", targets_up, 180)


def _alerts(platform: Platform, name: str, model: str) -> list[dict[str, Any]]:
    """The alerts ``name`` for ``model`` that Alertmanager received (its API v2)."""
    answer = pe.http_json(f"{platform.alertmanager}/api/v2/alerts")
    return [a for a in answer if a["labels"].get("alertname") == name and a["labels"].get("model") == model]


def test_an_error_rate_above_the_slo_fires_the_models_alert(platform: Platform) -> None:
    from kubernetes import client

    deployment, _ = pe.workload(platform.cluster, "Deployment", L.COMPONENT_MODEL_SERVER, model=pe.CHURN)
    assert not _alerts(platform, "ModelErrorRateAboveSlo", pe.CHURN), "no alert before the fault"
    container = deployment.spec.template.spec.containers[0].name
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": container, "env": [{"name": "MLOPS_INJECT_ERROR_RATIO", "value": "0.5"}]}
                    ]
                }
            }
        }
    }
    client.AppsV1Api(platform.api).patch_namespaced_deployment(deployment.metadata.name, pe.NAMESPACE, patch)
    platform.rolled_out()
    url = platform.model_url(pe.CHURN, "stable")
    batch = {"dataframe_split": {"columns": platform.trained["columns"], "data": platform.trained["rows"]}}
    stop = threading.Event()
    statuses: list[int] = []

    def load() -> None:
        while not stop.is_set():
            statuses.append(pe.http_status(f"{url}/invocations", batch))
            time.sleep(0.1)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        fired = tryout.wait_for(
            "ModelErrorRateAboveSlo for churn-predictor in Alertmanager",
            lambda: _alerts(platform, "ModelErrorRateAboveSlo", pe.CHURN),
            ALERT_TIMEOUT_S,
            every_s=5,
        )
    finally:
        stop.set()
        worker.join(timeout=15)
    assert 500 in statuses and 200 in statuses, sorted(set(statuses))
    assert fired[0]["labels"]["severity"] == "critical" and fired[0]["labels"]["slo"] == "error-rate"
    assert not _alerts(platform, "ModelErrorRateAboveSlo", pe.FRAUD), "only the failing model alerts"


def _store_env(platform: Platform) -> list[dict[str, Any]]:
    """The object store's endpoint and keys: its Service, and the Secret references of its own workload
    (the drift jobs' environment, once models exist, names the same store)."""
    _, store_spec = pe.workload(platform.cluster, "StatefulSet", L.COMPONENT_OBJECT_STORE)
    refs = {e["name"]: e.get("valueFrom") for e in pe.env_of(store_spec)}
    selector = {L.APP_NAME: "minio", L.APP_COMPONENT: L.COMPONENT_OBJECT_STORE}
    endpoint = tryout.service_url(platform.api, pe.NAMESPACE, selector, port="api")
    return [
        {"name": "AWS_ENDPOINT_URL", "value": endpoint},
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": refs["MINIO_ROOT_USER"]},
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": refs["MINIO_ROOT_PASSWORD"]},
    ]


def _objects(platform: Platform, args: list[str], job: str) -> Any:
    """``jobs/objects.py ARGS`` in the runtime image: the object store's keys, and for drift samples the
    churn-predictor drift job's own environment (bucket, prefix, model)."""
    if args[0] == "list":
        env = _store_env(platform)
    else:
        _, drift_spec = pe.workload(platform.cluster, "CronJob", L.COMPONENT_DRIFT_CHECK, model=pe.CHURN)
        env = pe.env_of(drift_spec)
    script = (pe.SCRIPTS / "objects.py").read_text(encoding="utf-8")
    volume = tryout.script_volume(platform.api, pe.NAMESPACE, job, {"objects.py": script})
    spec = tryout.restricted_pod(
        "objects",
        _mirrored("platform-python"),
        ["python", "/scripts/objects.py", *args],
        env=env,
        volumes=[volume],
        mounts=[{"name": "scripts", "mountPath": "/scripts"}],
    )
    return tryout.result_line(platform.job(job, spec), "E2E-RESULT ")


def _psql(platform: Platform, query: str, database: str | None = None) -> list[list[str]]:
    """Rows of ``query``, run by psql in the database image with the backup job's environment."""
    _, backup_spec = pe.workload(platform.cluster, "CronJob", L.COMPONENT_DATABASE_BACKUP)
    env = pe.env_of(backup_spec)
    if database is not None:
        env = [e for e in env if e["name"] != "PGDATABASE"] + [{"name": "PGDATABASE", "value": database}]
    spec = tryout.restricted_pod(
        "psql",
        _mirrored("postgres"),
        ["sh", "-c", 'echo "E2E-ROWS-BEGIN"; psql -At -F "|" -c "$0"; echo "E2E-ROWS-END"', query],
        env=env,
        user=999,
    )
    log = platform.job(f"e2e-psql-{_counter()}", spec)
    body = log.split("E2E-ROWS-BEGIN", 1)[1].split("E2E-ROWS-END", 1)[0]
    return [line.split("|") for line in body.strip().splitlines() if line]


_COUNT = iter(range(1, 10_000))


def _counter() -> int:
    return next(_COUNT)


def _drift_figure(platform: Platform, metric: str, model: str) -> float | None:
    answer = pe.http_json(f"{platform.prometheus}/api/v1/query?query={metric}%7Bmodel%3D%22{model}%22%7D")
    values = [float(s["value"][1]) for s in answer["data"]["result"]]
    return max(values) if values else None


def _run_drift(platform: Platform, shift: float, job: str) -> str:
    _objects(platform, ["drift-samples", repr(shift)], f"{job}-samples")
    cronjob, _ = pe.workload(platform.cluster, "CronJob", L.COMPONENT_DRIFT_CHECK, model=pe.CHURN)
    return pe.job_from_cronjob(platform.cluster, cronjob, job)


def test_drift_on_shifted_data_raises_the_figures_and_fires_the_alert(platform: Platform) -> None:
    # Unshifted data: the job succeeds, the figures reach Prometheus, and no drift alert fires.
    log = _run_drift(platform, 0.0, "e2e-drift-same")
    assert "stable" in log, log
    share = tryout.wait_for(
        "model_drift_feature_share of churn-predictor in Prometheus",
        lambda: _drift_figure(platform, "model_drift_feature_share", pe.CHURN) is not None,
        120,
    )
    assert share
    assert _drift_figure(platform, "model_drift_feature_share", pe.CHURN) == 0.0
    time.sleep(20)  # several rule evaluations (5 s) with alert_after_seconds 0: it would have fired
    assert not _alerts(platform, "ModelDriftFeatureShareAboveThreshold", pe.CHURN)
    assert not _alerts(platform, "ModelDriftPsiAboveThreshold", pe.CHURN)

    # Every feature moved by three standard deviations: both figures rise and both drift alerts fire.
    log = _run_drift(platform, 3.0, "e2e-drift-shifted")
    assert "drifted" in log, log
    tryout.wait_for(
        "model_drift_feature_share of churn-predictor at 1",
        lambda: _drift_figure(platform, "model_drift_feature_share", pe.CHURN) == 1.0,
        120,
    )
    psi = _drift_figure(platform, "model_drift_psi", pe.CHURN)
    assert psi is not None and psi > 0.2, psi
    for alert in ("ModelDriftFeatureShareAboveThreshold", "ModelDriftPsiAboveThreshold"):
        tryout.wait_for(
            f"{alert} for churn-predictor", lambda a=alert: _alerts(platform, a, pe.CHURN), ALERT_TIMEOUT_S
        )


def test_the_database_backup_restores_into_a_scratch_database(platform: Platform) -> None:
    cronjob, backup_spec = pe.workload(platform.cluster, "CronJob", L.COMPONENT_DATABASE_BACKUP)
    pe.job_from_cronjob(platform.cluster, cronjob, "e2e-backup")
    claim = next(v for v in pe.volumes_of(backup_spec) if v["name"] == "backups")
    restore = (
        'set -e; dump=$(ls -1 /backups/mlflow-*.dump | tail -n 1); echo "restoring $dump"; '
        'createdb scratch_restore; pg_restore --no-owner --dbname=scratch_restore "$dump"; '
        "echo E2E-COUNT $(psql -At -d scratch_restore -c 'select count(*) from model_versions'); "
        "dropdb scratch_restore"
    )
    spec = tryout.restricted_pod(
        "restore",
        _mirrored("postgres"),
        ["sh", "-c", restore],
        env=pe.env_of(backup_spec),
        volumes=[claim],
        mounts=[{"name": "backups", "mountPath": "/backups", "readOnly": True}],
        user=999,
    )
    log = platform.job("e2e-restore", spec)
    counts = [line.split("E2E-COUNT ", 1)[1].strip() for line in log.splitlines() if "E2E-COUNT " in line]
    assert counts == ["3"], log


def test_deleting_the_store_and_database_pods_loses_no_data(platform: Platform) -> None:
    from kubernetes import client

    core = client.CoreV1Api(platform.api)
    for component in (L.COMPONENT_OBJECT_STORE, L.COMPONENT_METADATA_DATABASE):
        selector = f"{L.APP_COMPONENT}={component}"
        pods = core.list_namespaced_pod(pe.NAMESPACE, label_selector=selector).items
        running = [p for p in pods if p.status.phase == "Running"]
        assert running, f"no running pod of {component}"
        for pod in running:
            core.delete_namespaced_pod(pod.metadata.name, pe.NAMESPACE)
    time.sleep(5)
    platform.rolled_out()
    rows = _psql(platform, "select name, version from model_versions order by name, version")
    assert rows == [[pe.CHURN, "1"], [pe.FRAUD, "1"], [pe.FRAUD, "2"]]
    keys = set(_objects(platform, ["list", "mlflow-artifacts"], "e2e-list-after")["keys"])
    for v in platform.trained["versions"]:
        prefix = v["artifact_location"].removeprefix("mlflow-artifacts:/").strip("/")
        assert f"{prefix}/MLmodel" in keys, f"{v['name']} v{v['version']} lost its artifacts"
    # and the registry still serves them through MLflow, which reads both again
    found = pe.http_json(f"{platform.mlflow}/api/2.0/mlflow/registered-models/get?name={pe.FRAUD}")
    assert {v["version"] for v in found["registered_model"]["latest_versions"]} >= {"2"}


def test_destroy_leaves_nothing_behind(platform: Platform) -> None:
    from kubernetes import client

    # The test's own Jobs first (read-backs, restores: not the platform's): a finished pod still holds
    # the backup claim it mounted, and Pulumi's delete of that claim would wait for it.
    batch = client.BatchV1Api(platform.api)
    for job in batch.list_namespaced_job(pe.NAMESPACE).items:
        if job.metadata.name.startswith(("e2e-", "demo-train")):
            batch.delete_namespaced_job(job.metadata.name, pe.NAMESPACE, propagation_policy="Foreground")
    core = client.CoreV1Api(platform.api)
    tryout.wait_for(
        "the test's Job pods gone",
        lambda: (
            not [
                p
                for p in core.list_namespaced_pod(pe.NAMESPACE).items
                if (p.metadata.labels or {}).get("job-name", "").startswith(("e2e-", "demo-train"))
            ]
        ),
        120,
    )
    done = platform.mlops("destroy", pe.STACK, "--yes", "--local-state", str(platform.state))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    def gone() -> bool:
        names = {n.metadata.name for n in core.list_namespace().items}
        return pe.NAMESPACE not in names

    tryout.wait_for(f"namespace {pe.NAMESPACE} deleted", gone, 300)

    def volumes_left() -> list[str]:
        return [
            v.metadata.name
            for v in core.list_persistent_volume().items
            if v.spec.claim_ref is not None and v.spec.claim_ref.namespace == pe.NAMESPACE
        ]

    # The provisioner removes each volume (reclaim policy Delete) once its claim is gone.
    tryout.wait_for("no volume of the destroyed environment left", lambda: not volumes_left(), 180)
    shutil.rmtree(platform.state)  # nothing left for the fixture's own destroy
