"""``mlops up`` against a real API server: prerequisites, values on the server, reapply, edits, destroy.

The tests share one control plane and run in file order (one xdist group): the first finds the
cluster without the operators' CRDs, the next installs them with ``--install-crds``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.tools.engine.audit import capture_environment
from mlops_platform.tools.engine_pulumi.audit import (
    EngineRunError,
    environment_config,
    plan_packs,
    policy_analyze,
)
from mlops_platform.tools.engine_pulumi.events import EngineRecord
from mlops_platform.tools.engine_pulumi.operations import StackChoice, engine_run
from mlops_platform.tools.engine_pulumi.workspace import EngineTools, open_stack, run_cli
from mlops_platform.tools.findings import SECRET_MARKER, UNKNOWN_MARKER
from mlops_platform.tools.local_cluster import LocalCluster
from tests.cli_runner import mlops as run_mlops
from tests.realengine.conftest import REPO, bundled_stack_file

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster")]

DESTROY_TIMEOUT_S = 180.0


def _env_file(root: Path, env: str, edit=None, *, name: str | None = None) -> Path:  # type: ignore[no-untyped-def]
    """The bundled ``env`` for a cluster without nodes, edited, saved."""
    return bundled_stack_file(root, env, edit, name=name, nodes=False)


def mlops(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return run_mlops(*args, env=cluster.env(), timeout_s=900)


def _client(cluster: LocalCluster) -> Any:
    from kubernetes import config, dynamic

    return dynamic.DynamicClient(config.new_client_from_config(config_file=str(cluster.kubeconfig)))


def _api_version(resource_type: str) -> str:
    group_version = resource_type.split(":")[1]
    return group_version.removeprefix("core/")


def _live(client: Any, resource_type: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    from kubernetes.dynamic.exceptions import NotFoundError

    kind = resource_type.split(":")[2]
    api = client.resources.get(api_version=_api_version(resource_type), kind=kind)
    meta = inputs.get("metadata") or {}
    try:
        found = api.get(name=meta["name"], namespace=meta.get("namespace"))
    except NotFoundError:
        return None
    return dict(found.to_dict())


def _quantity_equal(a: Any, b: Any) -> bool:
    from kubernetes.utils import parse_quantity

    try:
        return bool(parse_quantity(a) == parse_quantity(b))
    except (ValueError, TypeError):
        return False


def mismatches(expected: Any, live: Any, path: str = "") -> list[str]:
    """Where the live object differs from what the program set (server defaults are extra, fine)."""
    if expected in (UNKNOWN_MARKER, SECRET_MARKER):
        return []
    if isinstance(expected, dict):
        if not isinstance(live, dict):
            return [f"{path}: {live!r} is not an object"]
        return [m for k, v in expected.items() for m in mismatches(v, live.get(k), f"{path}.{k}")]
    if isinstance(expected, list):
        if not isinstance(live, list) or len(live) != len(expected):
            return [f"{path}: {live!r} != {expected!r}"]
        return [
            m
            for i, (e, v) in enumerate(zip(expected, live, strict=True))
            for m in mismatches(e, v, f"{path}[{i}]")
        ]
    if expected == live or str(expected) == str(live) or _quantity_equal(expected, live):
        return []
    return [f"{path}: {live!r} != {expected!r}"]


def _kubernetes_objects(env_file: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (r.type, r.inputs)
        for r in capture_environment(env_file).resources
        if r.custom and r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:apiextensions")
    ]


def _changed(record: EngineRecord) -> dict[str, set[str]]:
    ops: dict[str, set[str]] = {}
    for urn, step in record.steps.items():
        if step.get("op") not in {"same", "read"}:
            ops.setdefault(str(step.get("op")), set()).add(urn.rsplit("::", 1)[-1])
    return ops


@pytest.fixture(scope="module")
def crd_dirs() -> list[str]:
    """The CRD files the operators' Go modules ship, CRDs only."""
    from mlops_platform.tools.cluster_prereqs import crd_only_files
    from mlops_platform.tools.toolchain import crd_files

    return crd_only_files(f for group in crd_files().values() for f in group)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stacks")


@pytest.fixture(scope="module")
def crds(cluster: LocalCluster, crd_dirs: list[str]) -> list[str]:
    """The operators' CRDs applied to the shared cluster (idempotent: server-side apply)."""
    from mlops_platform.tools.cluster_prereqs import api_client, install_crds, read_crds

    return install_crds(api_client(str(cluster.kubeconfig)), read_crds(crd_dirs))


def _own_prod(work: Path, namespace: str) -> Path:
    """Bundled prod in a namespace of its own, with a state of its own (stack still ``prod``: its config)."""

    def move(config: dict[str, Any]) -> None:
        config["config"]["mlops-platform:environment"]["namespace"] = namespace

    return _env_file(work / namespace, "prod", move)


def test_missing_crds_stop_up_before_any_change(engine_tools: EngineTools, tmp_path: Path) -> None:
    from mlops_platform.tools.local_cluster import running, toolchain_binaries

    binaries = toolchain_binaries()
    assert binaries is not None
    with running(tmp_path / "bare-cluster", binaries) as cluster:  # a cluster no test gave CRDs
        _missing_crds_stop_up(cluster, tmp_path)


def _missing_crds_stop_up(cluster: LocalCluster, work: Path) -> None:
    env_file = _env_file(work, "staging")
    # --no-verify-images: the images' registries are not reachable here (tests/supply_chain: the gate on)
    result = mlops(
        cluster,
        "up",
        str(env_file),
        "--yes",
        "--no-verify-images",
        "--local-state",
        str(work / "staging-state"),
    )
    assert result.returncode == 2, result.stderr
    for kind in ("ServiceMonitor", "PrometheusRule", "Prometheus", "Alertmanager"):
        assert kind in result.stderr
    assert "Prometheus Operator" in result.stderr and "Nothing was changed" in result.stderr
    namespaces = {
        n.metadata.name
        for n in _client(cluster).resources.get(api_version="v1", kind="Namespace").get().items
    }
    assert "mlops-staging" not in namespaces
    assert not (work / "staging-state" / "state").exists() or not any(
        (work / "staging-state" / "state").rglob("*.json")
    )


def test_prod_and_staging_apply_with_the_spec_values(
    engine_tools: EngineTools, cluster: LocalCluster, work: Path, crd_dirs: list[str]
) -> None:
    client = _client(cluster)
    for env in ("prod", "staging"):
        env_file = _env_file(work, env)
        args = [
            "up",
            str(env_file),
            "--yes",
            "--no-verify-images",
            "--local-state",
            str(work / f"{env}-state"),
        ]
        for crd in crd_dirs:
            args += ["--install-crds", crd]
        t0 = time.monotonic()
        result = mlops(cluster, *args)
        assert result.returncode == 0, result.stderr[-3000:]
        print(f"up {env}: {time.monotonic() - t0:.1f} s")
        objects = _kubernetes_objects(env_file)
        assert len(objects) > 50
        problems = {}
        for resource_type, inputs in objects:
            live = _live(client, resource_type, inputs)
            if live is None:
                problems[f"{resource_type} {inputs['metadata']['name']}"] = ["missing on the server"]
                continue
            expected = {k: v for k, v in inputs.items() if k not in {"stringData", "apiVersion", "kind"}}
            found = mismatches(expected, live)
            if found:
                problems[f"{resource_type} {inputs['metadata']['name']}"] = found
        assert problems == {}


def _bump(name: str):  # type: ignore[no-untyped-def]
    def edit(config: dict[str, Any]) -> None:
        config["config"]["mlops-platform:environment"]["await_readiness"] = False
        for model in config["config"]["mlops-platform:serving"]["models"]:
            if model["name"] == name:
                model["replicas"] = {"min": 4, "max": 10}

    return edit


def _add_model(config: dict[str, Any]) -> None:
    models = config["config"]["mlops-platform:serving"]["models"]
    clone = yaml.safe_load(yaml.safe_dump(models[-1]))
    clone["name"] = "ltv-forecaster"
    clone["model"] = {"name": "ltv-forecaster", "version": 3}
    models.append(clone)


def test_reapply_edit_add_and_remove_change_exactly_their_objects(
    engine_tools: EngineTools, cluster: LocalCluster, work: Path, crds: list[str]
) -> None:
    state = work / "staging-state"
    env = cluster.env()
    engine_run(StackChoice(_env_file(work, "staging"), local_state=state, env=env), "up")  # as it is
    same = engine_run(StackChoice(_env_file(work, "staging"), local_state=state, env=env), "up")
    assert _changed(same) == {}
    model = yaml.safe_load((REPO / "stacks" / "Pulumi.staging.yaml").read_text())["config"][
        "mlops-platform:serving"
    ]["models"][0]["name"]
    edited = engine_run(
        StackChoice(_env_file(work, "staging", _bump(model)), local_state=state, env=env), "up"
    )
    names = {n for group in _changed(edited).values() for n in group}
    assert names and all(model in n for n in names), _changed(edited)
    added = engine_run(StackChoice(_env_file(work, "staging", _add_model), local_state=state, env=env), "up")
    created = _changed(added).get("create", set())
    assert created and all("ltv-forecaster" in n for n in created), _changed(added)
    removed = engine_run(StackChoice(_env_file(work, "staging"), local_state=state, env=env), "up")
    assert _changed(removed).get("delete", set()) == created


def _unpinned(config: dict[str, Any]) -> None:
    config["config"]["mlops-platform:environment"].update(name="qa", namespace="mlops-qa")
    config["config"]["mlops-platform:serving"]["models"][0]["image"] = "ghcr.io/acme-ml/fraud-scorer:3.2.0"


def test_a_mandatory_violation_stops_up_before_the_server_has_any_object(
    engine_tools: EngineTools, cluster: LocalCluster, work: Path, crds: list[str]
) -> None:
    env_file = _env_file(work, "prod", _unpinned, name="qa")
    args = ("up", str(env_file), "--yes", "--no-verify-images", "--local-state", str(work / "qa-state"))
    result = mlops(cluster, *args)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "image-digest-pinned" in result.stderr
    namespaces = {
        n.metadata.name
        for n in _client(cluster).resources.get(api_version="v1", kind="Namespace").get().items
    }
    assert "mlops-qa" not in namespaces


def test_out_of_band_changes_are_found_by_refresh_and_by_an_audit_of_the_state(
    engine_tools: EngineTools, cluster: LocalCluster, work: Path, crds: list[str]
) -> None:
    env_file, namespace = _own_prod(work, "mlops-drift"), "mlops-drift"
    choice = StackChoice(env_file, local_state=work / "drift-state", env=cluster.env())
    engine_run(choice, "up")
    client = _client(cluster)
    deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
    target = next(d for d in deployments.get(namespace=namespace).items if "serving" in d.metadata.name)
    container = target.spec.template.spec.containers[0].name
    # An unpinned image, as someone with kubectl might set it (a privileged container, the first idea,
    # is refused by this API server itself: --allow-privileged defaults to false).
    image = {"name": container, "image": "ghcr.io/acme-ml/churn-predictor:latest"}
    patch = {"spec": {"template": {"spec": {"containers": [image]}}}}
    deployments.patch(
        name=target.metadata.name,
        namespace=namespace,
        body=patch,
        content_type="application/strategic-merge-patch+json",
    )
    config_maps = client.resources.get(api_version="v1", kind="ConfigMap")
    victim = next(
        c for c in config_maps.get(namespace=namespace).items if c.metadata.name.startswith("monitoring")
    )
    config_maps.delete(name=victim.metadata.name, namespace=namespace)
    refreshed = engine_run(choice, "refresh")
    drift: dict[str, set[str]] = {}
    for urn, outcome in refreshed.outcomes.items():  # what the refresh changed in the state
        if outcome.get("op") in {"update", "delete"}:
            drift.setdefault(outcome["op"], set()).add(urn.rsplit("::", 1)[-1])
    patched = f"{target.metadata.name}-deployment"  # the Deployment's resource name
    assert drift == {"update": {patched}, "delete": {victim.metadata.name}}, drift
    with open_stack(env_file, keep=(work / "drift-state").resolve(), extra_env=cluster.env()) as handle:
        analyzed = policy_analyze(
            handle, plan_packs(environment_config(env_file, REPO / "policies" / "config"), handle.scratch)
        )
    flagged = {(v.policy, v.urn.rsplit("::", 1)[-1]) for v in analyzed.violations}
    assert ("image-digest-pinned", patched) in flagged, flagged
    assert ("image-no-latest-tag", patched) in flagged, flagged


def test_destroy_is_refused_while_protected_then_leaves_nothing(
    engine_tools: EngineTools, cluster: LocalCluster, work: Path, crds: list[str]
) -> None:
    env_file = _own_prod(work, "mlops-gone")
    choice = StackChoice(env_file, local_state=work / "gone-state", env=cluster.env())
    engine_run(choice, "up")
    with pytest.raises(EngineRunError, match="protected"):
        engine_run(choice, "destroy")
    with open_stack(env_file, keep=(work / "gone-state").resolve(), extra_env=cluster.env()) as handle:
        done = run_cli(handle, "state", "unprotect", "--all", "--yes")
        assert done.returncode == 0, done.stderr
    t0 = time.monotonic()
    engine_run(choice, "destroy")
    client = _client(cluster)
    namespaces = client.resources.get(api_version="v1", kind="Namespace")
    while any(n.metadata.name == "mlops-gone" for n in namespaces.get().items):
        assert time.monotonic() - t0 < DESTROY_TIMEOUT_S, "the namespace was not gone in time"
        time.sleep(1)
    print(f"destroy prod: {time.monotonic() - t0:.1f} s")
