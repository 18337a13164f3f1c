"""The offline audit against the real engine: the same program and packs, the same findings.

For staging, prod and every broken prod of ``tests/integration/test_broken_environments.py``, a real
``pulumi preview`` with the three packs (``mlops audit --engine pulumi``) and the offline audit of the
same file must report the same violations: the same (policy, URN, enforcement level) set and the same
message for each, and count the same checks (policy x resource pairs the packs judged).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from mlops_platform.tools.engine.audit import audit_environment
from mlops_platform.tools.engine_pulumi.audit import audit_with_engine
from mlops_platform.tools.engine_pulumi.workspace import EngineTools
from mlops_platform.tools.findings import AuditResult
from tests.integration.test_broken_environments import CASES, PROD
from tests.realengine.conftest import REPO

pytestmark = pytest.mark.slow

Violation = tuple[str, str, str, str]  # (policy, urn, enforcement, message)


def _violations(result: AuditResult) -> set[Violation]:
    return {
        (f.policy, f.urn, f.enforcement.value, f.message) for f in result.findings if f.kind == "violation"
    }


def _both(env_file: Path) -> tuple[AuditResult, AuditResult]:
    return audit_environment(env_file), audit_with_engine(env_file)


def assert_same_audit(offline: AuditResult, engine: AuditResult) -> None:
    assert _violations(engine) == _violations(offline)
    assert {c for c in engine.checks} == {c for c in offline.checks}
    assert set(engine.not_applicable) == set(offline.not_applicable)
    assert {p.name: p.enforcement for p in engine.policies} == {
        p.name: p.enforcement for p in offline.policies
    }
    assert engine.passed == offline.passed


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_bundled_environment_is_audited_alike(engine_tools: EngineTools, env: str) -> None:
    offline, engine = _both(REPO / "stacks" / f"Pulumi.{env}.yaml")
    assert_same_audit(offline, engine)
    assert engine.checks, "the engine's policy summaries name the checks"
    assert {r.urn for r in engine.resources} >= {r.urn for r in offline.resources if r.custom}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_environment_is_audited_alike(engine_tools: EngineTools, tmp_path: Path, case: str) -> None:
    edit, _expected = CASES[case]
    config = copy.deepcopy(PROD)
    edit(config)
    env_file = tmp_path / "Pulumi.prod.yaml"
    env_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    offline, engine = _both(env_file)
    assert engine.findings, "every broken case has findings"
    assert_same_audit(offline, engine)
