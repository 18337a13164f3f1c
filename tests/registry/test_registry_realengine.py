"""The real engine resolves and pins like the offline audit: a real `pulumi preview` against a real
MLflow server reports the same registry findings and registers the pinned versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.components import labels as L
from mlops_platform.tools.engine.audit import audit_environment
from mlops_platform.tools.engine_pulumi.audit import audit_with_engine
from mlops_platform.tools.engine_pulumi.workspace import EngineTools
from tests.realengine.conftest import engine_tools  # noqa: F401 (the fixture)
from tests.realengine.test_fidelity import assert_same_audit
from tests.registry.conftest import Registry
from tests.registry.envs import registry_env
from tests.registry.test_registry_audit import DEPLOYMENT, broken_findings, registry_findings, seed_broken

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
