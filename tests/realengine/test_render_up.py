"""Real ``pulumi up`` of staging and prod, rendered to manifests (``kubernetes:renderYamlToDirectory``).

Every manifest passes ``kubernetes-validate --strict`` (built-in kinds) or its operator's published CRD
schema (custom resources); a second ``up`` changes nothing; editing one model changes only that
model's resources; a mandatory violation stops ``up`` before anything is written; ``destroy`` of prod
is refused while its stateful resources are protected; the exported state holds no plaintext secret.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.components.credentials import derive
from mlops_platform.tools.engine.audit import audit_environment
from mlops_platform.tools.engine.config import load_stack_config
from mlops_platform.tools.engine_pulumi.audit import (
    EngineRunError,
    environment_config,
    plan_packs,
    policy_analyze,
    run_operation,
)
from mlops_platform.tools.engine_pulumi.events import EngineRecord
from mlops_platform.tools.engine_pulumi.operations import StackChoice, engine_run, render_config
from mlops_platform.tools.engine_pulumi.workspace import EngineTools, open_stack, run_cli
from tests.realengine.conftest import REPO, bundled_stack_file, require_tool
from tests.realengine.crd_schemas import load_crds, validate_custom_resource

pytestmark = pytest.mark.slow

BUILT_IN_GROUPS = {
    "",
    "apps",
    "batch",
    "policy",
    "networking.k8s.io",
    "autoscaling",
    "rbac.authorization.k8s.io",
}


def _up(env_file: Path, state: Path, render: Path) -> EngineRecord:
    return engine_run(StackChoice(env_file, local_state=state, config=render_config(render)), "up")


def _manifests(render: Path) -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for file in sorted(render.rglob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
            if doc:
                docs.append((file, doc))
    return docs


def _changed(record: EngineRecord) -> set[str]:
    return {urn for urn, step in record.steps.items() if step.get("op") not in {"same", "read"}}


@pytest.fixture(scope="module")
def crd_schemas() -> dict[tuple[str, str, str], dict[str, Any]]:
    from mlops_platform.tools.toolchain import crd_files

    try:
        files = [f for group in crd_files().values() for f in group]
    except Exception:  # not installed
        require_tool("the CRD files (toolchain component crds)")
        raise
    return load_crds(files)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_rendered_manifests_pass_the_real_validators(
    engine_tools: EngineTools,
    crd_schemas: dict[tuple[str, str, str], dict[str, Any]],
    tmp_path: Path,
    env: str,
) -> None:
    env_file, render = bundled_stack_file(tmp_path, env), tmp_path / "render"
    first = _up(env_file, tmp_path / "state", render)
    assert not first.mandatory(), first.violations
    assert first.changes.get("create", 0) > 50, first.changes
    docs = _manifests(render)
    built_in = [f for f, d in docs if d["apiVersion"].rpartition("/")[0] in BUILT_IN_GROUPS]
    custom = [
        (f, d)
        for f, d in docs
        if d["apiVersion"].rpartition("/")[0] not in BUILT_IN_GROUPS | {"apiextensions.k8s.io"}
    ]
    assert len(built_in) > 40 and len(custom) >= 5, (len(built_in), len(custom))
    checked = subprocess.run(
        [
            str(Path(sys.executable).parent / "kubernetes-validate"),
            "--strict",
            "--quiet",
            *map(str, sorted(set(built_in))),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    kinds = set()
    for _file, doc in custom:
        validate_custom_resource(doc, crd_schemas)  # raises with the path of the first bad field
        kinds.add(doc["kind"])
    assert {"ServiceMonitor", "PrometheusRule", "Prometheus", "Alertmanager"} <= kinds
    if env == "prod":
        assert "HTTPRoute" in kinds  # prod's fraud-scorer runs a canary
    # Applied again, the same spec changes nothing.
    second = _up(env_file, tmp_path / "state", render)
    assert _changed(second) == set(), _changed(second)
    assert second.changes.get("same", 0) == sum(first.changes.values())


def _bump_churn_predictor(config: dict[str, Any]) -> None:
    for model in config["config"]["mlops-platform:serving"]["models"]:
        if model["name"] == "churn-predictor":
            model["replicas"] = {"min": 4, "max": 8}


def test_editing_one_model_changes_only_its_resources(engine_tools: EngineTools, tmp_path: Path) -> None:
    state, render = tmp_path / "state", tmp_path / "render"
    _up(bundled_stack_file(tmp_path, "prod"), state, render)
    edited = _up(bundled_stack_file(tmp_path, "prod", _bump_churn_predictor), state, render)
    changed = _changed(edited)
    assert changed, "raising the replicas must change the Deployment and the HPA"
    assert all("churn-predictor" in urn for urn in changed), sorted(changed)


def _unpin(config: dict[str, Any]) -> None:
    config["config"]["mlops-platform:serving"]["models"][0]["image"] = "ghcr.io/acme-ml/fraud-scorer:3.2.0"


def test_a_mandatory_violation_stops_up_before_anything_is_written(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    render = tmp_path / "render"
    record = _up(bundled_stack_file(tmp_path, "prod", _unpin), tmp_path / "state", render)
    assert {v.policy for v in record.mandatory()} == {"image-digest-pinned"}
    written = list(render.rglob("*")) if render.exists() else []
    assert written == [], written


def test_destroy_of_prod_is_refused_while_protected_and_state_has_no_plaintext_secret(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    env_file, state = bundled_stack_file(tmp_path, "prod"), tmp_path / "state"
    _up(env_file, state, tmp_path / "render")
    with pytest.raises(EngineRunError, match="protected"):
        engine_run(StackChoice(env_file, local_state=state), "destroy")
    with open_stack(env_file, keep=state.resolve()) as handle:
        # The CLI's own export, as a user would run it (the Automation API adds --show-secrets).
        done = run_cli(handle, "stack", "export")
        assert done.returncode == 0, done.stderr
        exported = done.stdout
        placeholders = handle.placeholders
    assert '"protect": true' in exported
    config = load_stack_config(env_file)
    seed = config.values["mlops-platform:credentialSeed"]
    credentials = {
        derive(seed, name) for name in ("storage-postgres-password", "monitoring-grafana-admin-password")
    }
    for secret in {*placeholders, *credentials}:
        assert secret not in exported, "a secret in plaintext in the exported state"
    assert "ciphertext" in exported  # the secrets are there, encrypted


def test_policy_analyze_of_the_deployed_state_finds_what_the_offline_audit_finds(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    """``pulumi policy analyze`` runs the packs over the state, not the program: the same violations.

    The state here comes from an ``up`` without the packs (the audit of what was deployed is the point).
    What differs, and README says so: the CLI reports no per-resource pass summaries (so no check
    counts), and secrets in state reach the packs as ``[secret]``.
    """
    env_file, state = bundled_stack_file(tmp_path, "prod", _unpin), tmp_path / "state"
    with open_stack(
        env_file, keep=state.resolve(), extra_config=render_config(tmp_path / "render")
    ) as handle:
        run_operation(handle, "up", None)  # deployed without the packs
        analyzed = policy_analyze(
            handle, plan_packs(environment_config(env_file, REPO / "policies" / "config"), handle.scratch)
        )
    offline = audit_environment(env_file)
    assert {(v.policy, v.urn, v.enforcement) for v in analyzed.violations} == {
        (f.policy, f.urn, f.enforcement.value) for f in offline.findings
    }
    messages = {f.message for f in offline.findings}
    assert all(any(v.message.rstrip().endswith(m) for m in messages) for v in analyzed.violations)
    assert analyzed.resource_checks == {}  # no pass evidence from `policy analyze`
