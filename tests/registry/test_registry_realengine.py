"""The real engine resolves and pins like the offline audit: a real `pulumi preview` against a real
MLflow server reports the same registry findings and registers the pinned versions; after an `up`
(rendered to a directory), moving `champion` previews as updates of exactly that model's resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform import vocabulary as L
from mlops_platform.tools.engine.audit import audit_environment
from mlops_platform.tools.engine_pulumi.audit import audit_with_engine
from mlops_platform.tools.engine_pulumi.operations import StackChoice, engine_run, render_config
from mlops_platform.tools.engine_pulumi.workspace import EngineTools
from tests.realengine.conftest import engine_tools  # noqa: F401 (the fixture)
from tests.realengine.test_fidelity import assert_same_audit
from tests.registry.conftest import Registry
from tests.registry.envs import approved, registry_env
from tests.registry.test_registry_audit import (
    DEPLOYMENT,
    broken_findings,
    registry_findings,
    seed_broken,
    seed_compliant,
)

pytestmark = pytest.mark.slow


def test_real_preview_pins_versions_and_judges_them_as_offline(
    engine_tools: EngineTools,  # noqa: F811
    registry: Registry,
    tmp_path: Path,
) -> None:
    seed_broken(registry)
    path = registry_env(tmp_path, "prod", registry.uri)
    engine = audit_with_engine(path)
    assert registry_findings(engine) == broken_findings(registry.uri)
    assert_same_audit(audit_environment(path), engine)
    deployments = {
        r.urn.removeprefix(DEPLOYMENT): r.inputs for r in engine.resources if r.urn.startswith(DEPLOYMENT)
    }
    labels = deployments["serving-fraud-scorer-deployment"]["metadata"]["labels"]
    canary = deployments["serving-fraud-scorer-canary-deployment"]["metadata"]["labels"]
    assert (labels[L.MODEL_VERSION], canary[L.MODEL_VERSION]) == ("2", "1")
    recommender = deployments["serving-recommender-deployment"]["metadata"]
    assert recommender["annotations"][L.REGISTRY_RESOLUTION] == "unresolved"
    assert recommender["labels"][L.MODEL_VERSION] == "champion"


def test_moving_champion_is_a_preview_change_of_exactly_that_models_resources(
    engine_tools: EngineTools,  # noqa: F811
    registry: Registry,
    tmp_path: Path,
) -> None:
    seed_compliant(registry)
    path = registry_env(tmp_path / "env", "prod", registry.uri)
    choice = StackChoice(path, local_state=tmp_path / "state", config=render_config(tmp_path / "render"))
    first = engine_run(choice, "up")
    assert not first.mandatory(), first.violations
    newest = registry.version("fraud-scorer", tags=approved("MRM-2026-014"), metrics={"auc": 0.97})
    registry.alias("fraud-scorer", "champion", newest)
    preview = engine_run(choice, "preview")
    changed = {urn for urn, step in preview.steps.items() if step.get("op") not in {"same", "read"}}
    assert sorted(urn.rsplit("::", 1)[1] for urn in changed) == [
        f"serving-fraud-scorer-{role}" for role in ("deployment", "hpa", "ingress", "pdb", "route", "service")
    ]
    assert {preview.steps[urn].get("op") for urn in changed} == {"update"}
