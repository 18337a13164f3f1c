"""An environment without a Grafana of its own (``monitoring.grafana_image: null``), under Pulumi's mocks.

Each case is a bundled environment with that one line added to its stack file and is compared with the
bundled environment built the same way: exactly Grafana's own objects are gone, nothing else changes,
and on Kubernetes the dashboards stay, as ConfigMaps for a central Grafana's sidecar
(``grafana_dashboard: "1"``), valid against the official schemas. Docker ships no dashboards then.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.components.kubernetes.monitoring import SIDECAR_DASHBOARD_LABEL, SIDECAR_DASHBOARD_VALUE
from mlops_platform.stacks.composition import exports
from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.schema import EnvironmentSpec
from tests.components.conftest import KubernetesSchemas, Recorded, Recording
from tests.components.docker_harness import CONTAINER, IMAGE, VOLUME, run_platform, uploads_of
from tests.components.test_composition import cli_config, run_main
from tests.components.test_kubernetes_platform import APP_LABELS, CM, DEP, NP, OWNERSHIP, SECRET, SVC, build
from tests.stacks.stack_fixtures import without_grafana

GRAFANA_PASSWORD = "monitoring-grafana-admin-password"
# Grafana's own objects on Kubernetes, by resource name (the dashboards are not among them).
K8S_GRAFANA = {
    "monitoring-grafana": DEP,
    "monitoring-grafana-service": SVC,
    "monitoring-grafana-ingress": NP,
    "monitoring-grafana-admin": SECRET,
    "monitoring-grafana-datasources": CM,
    "monitoring-grafana-dashboard-provider": CM,
}


def _without_grafana(env: str, directory: Path) -> EnvironmentSpec:
    spec = load_environment(without_grafana(env, directory))
    assert spec.monitoring.grafana_image is None
    return spec


def _names(rec: Recording) -> set[str]:
    return {r.name for r in rec.resources}


def _monitoring_types(rec: Recording) -> Counter[str]:
    root = rec.named("monitoring")
    return Counter(r.type for r in rec.children_of(root.urn))


def _dashboards(rec: Recording) -> dict[str, Recorded]:
    return {r.name: r for r in rec.of_type(CM) if r.name.startswith("monitoring-dashboard-")}


@pytest.fixture(scope="module", params=("staging", "prod"))
def k8s(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[EnvironmentSpec, Recording, Recording]:
    """(the spec without Grafana, its recording, the bundled environment's recording)."""
    spec = _without_grafana(request.param, tmp_path_factory.mktemp(request.param))
    return spec, build(spec), build(load_environment(request.param))


# --- Kubernetes --------------------------------------------------------------------------------------


def test_exactly_grafanas_own_objects_are_gone(k8s: tuple[EnvironmentSpec, Recording, Recording]) -> None:
    _, rec, bundled = k8s
    assert {n: bundled.named(n).type for n in _names(bundled) - _names(rec)} == K8S_GRAFANA
    assert _names(rec) <= _names(bundled)
    assert _monitoring_types(bundled) - _monitoring_types(rec) == Counter(K8S_GRAFANA.values())
    for resource in rec.resources:
        assert resource.plain.get("metadata", {}).get("labels", {}).get(L.APP_NAME) != "grafana", resource.urn
        if not resource.name.startswith("monitoring-dashboard-"):  # the only objects that change
            assert resource.plain == bundled.named(resource.name).plain, resource.urn
    assert GRAFANA_PASSWORD in bundled.credentials
    assert GRAFANA_PASSWORD not in rec.credentials


def test_dashboards_stay_as_sidecar_config_maps_in_the_namespace(
    k8s: tuple[EnvironmentSpec, Recording, Recording], k8s_schemas: KubernetesSchemas
) -> None:
    spec, rec, bundled = k8s
    models = sorted(m.name for m in spec.serving.models)
    dashboards = _dashboards(rec)
    assert sorted(dashboards) == [f"monitoring-dashboard-{m}" for m in models]
    for model in models:
        obj = dashboards[f"monitoring-dashboard-{model}"].k8s_object()
        assert k8s_schemas.errors(obj) == [], model
        labels = obj["metadata"]["labels"]
        assert labels[SIDECAR_DASHBOARD_LABEL] == SIDECAR_DASHBOARD_VALUE == "1"
        assert labels[L.MODEL] == model
        assert labels[L.APP_COMPONENT] == L.COMPONENT_MONITORING
        assert set(APP_LABELS) | set(OWNERSHIP) <= set(labels), model
        assert obj["metadata"]["namespace"] == spec.environment.namespace
        # the dashboard the environment's own Grafana would have loaded, named for a shared Grafana
        env = spec.environment.name
        (own,) = bundled.named(f"monitoring-dashboard-{model}").k8s_object()["data"].values()
        ((key, text),) = obj["data"].items()
        assert key == f"{env}-model-{model}.json"
        shared, own_dashboard = json.loads(text), json.loads(own)
        assert (shared["uid"], shared["title"]) == (f"{env}-{model}", f"Model {model} ({env})")
        assert shared["tags"] == [*own_dashboard["tags"], env]
        renamed = ("uid", "title", "tags")
        assert {k: v for k, v in shared.items() if k not in renamed} == {
            k: v for k, v in own_dashboard.items() if k not in renamed
        }


def test_environments_sharing_a_grafana_do_not_overwrite_each_others_dashboards(tmp_path: Path) -> None:
    """staging and prod both serve fraud-scorer: a central Grafana keeps both dashboards."""
    seen: dict[str, tuple[str, str, str]] = {}
    for env in ("staging", "prod"):
        (tmp_path / env).mkdir()
        rec = build(_without_grafana(env, tmp_path / env))
        ((key, text),) = rec.named("monitoring-dashboard-fraud-scorer").k8s_object()["data"].items()
        dashboard = json.loads(text)
        seen[env] = (key, dashboard["uid"], dashboard["title"])
    for a, b in zip(seen["staging"], seen["prod"], strict=True):
        assert a != b


def test_the_bundled_environment_keeps_its_grafana_and_unlabelled_dashboards(
    k8s: tuple[EnvironmentSpec, Recording, Recording],
) -> None:
    _, _, bundled = k8s
    assert bundled.named("monitoring-grafana").plain["spec"]["template"]["spec"]["containers"][0]["image"]
    for name, dashboard in _dashboards(bundled).items():
        assert SIDECAR_DASHBOARD_LABEL not in dashboard.plain["metadata"]["labels"], name


def test_outputs_name_no_grafana(k8s: tuple[EnvironmentSpec, Recording, Recording]) -> None:
    spec, rec, bundled = k8s
    monitoring = rec.result.monitoring
    assert monitoring.grafana_url is None
    assert monitoring.outputs.grafana_admin_password is None
    assert monitoring.outputs.dashboards == sorted(m.name for m in spec.serving.models)
    assert set(exports(bundled.result)) - set(exports(rec.result)) == {"grafanaUrl"}
    assert rec.resolve(exports(rec.result)["prometheusUrl"]) == rec.resolve(
        exports(bundled.result)["prometheusUrl"]
    )


def test_without_dashboards_nothing_of_grafana_is_created(tmp_path: Path) -> None:
    spec = _without_grafana("staging", tmp_path)
    spec = spec.model_copy(update={"monitoring": spec.monitoring.model_copy(update={"dashboards": False})})
    rec = build(spec)
    assert _dashboards(rec) == {}
    assert _monitoring_types(rec)[CM] == 0
    assert rec.result.monitoring.outputs.dashboards == []


def test_the_program_reads_null_from_the_stack_config_as_the_cli_passes_it() -> None:
    """``__main__.py`` with the config map ``pulumi up`` hands over: the section is JSON with ``null``."""
    config, secrets = cli_config("prod")
    monitoring: dict[str, Any] = json.loads(config["mlops-platform:monitoring"])
    config["mlops-platform:monitoring"] = json.dumps({**monitoring, "grafana_image": None})
    rec = run_main(config, secrets)
    assert len(rec.resources) == 83 - len(K8S_GRAFANA)  # test_composition: 83 with Grafana
    assert "grafanaUrl" not in rec.result
    assert not [r.urn for r in rec.resources if "grafana" in r.name]


# --- Docker ------------------------------------------------------------------------------------------


def test_docker_has_no_grafana_container_and_writes_no_dashboards(tmp_path: Path) -> None:
    run = run_platform(_without_grafana("dev", tmp_path))
    bundled = run_platform(load_environment("dev"))
    assert bundled.counts("monitoring") == {IMAGE: 6, VOLUME: 3, CONTAINER: 6}
    # no Grafana image, volume or container
    assert run.counts("monitoring") == {IMAGE: 5, VOLUME: 2, CONTAINER: 5}
    assert not [r.name for r in run.resources if "grafana" in r.name]
    for container in run.containers():
        assert not [p for p in uploads_of(container) if "grafana" in p or p.endswith(".json")], container.name
    assert GRAFANA_PASSWORD in bundled.credentials and GRAFANA_PASSWORD not in run.credentials
    assert set(bundled.exports) - set(run.exports) == {"grafanaUrl"}
    assert {k: v for k, v in bundled.exports.items() if k != "grafanaUrl"} == run.exports
