"""The offline audit of environments without a Grafana of their own (``monitoring.grafana_image: null``).

Program under mocks, the real packs: compared with the bundled environment, every rule judges exactly
the same resources except Grafana's own, and reaches the same verdicts; the dashboards left for a
central Grafana are judged like any ConfigMap. A rule fails for its own reason with or without
Grafana; the one thing that changes a verdict is a waiver written for the Grafana container.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from mlops_platform.tools.engine.audit import audit_environment
from mlops_platform.tools.findings import AuditResult, Check
from mlops_platform.tools.waivers import WAIVER_UNMATCHED, apply_waivers, load_waivers
from tests.integration.test_broken_environments import CASES
from tests.stacks.stack_fixtures import REPO, without_grafana

pytestmark = pytest.mark.slow

TODAY = date(2026, 12, 1)  # every bundled waiver is valid then
K8S_GRAFANA = {
    "monitoring-grafana",
    "monitoring-grafana-service",
    "monitoring-grafana-ingress",
    "monitoring-grafana-admin",
    "monitoring-grafana-datasources",
    "monitoring-grafana-dashboard-provider",
}
DOCKER_GRAFANA = {"monitoring-grafana", "monitoring-grafana-image", "monitoring-grafana-data"}


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _bundled(env: str, directory: Path) -> Path:
    """The bundled stack file, copied beside nothing else (as ``without_grafana`` writes its case)."""
    directory.mkdir()
    path = directory / f"Pulumi.{env}.yaml"
    path.write_text((REPO / "stacks" / f"Pulumi.{env}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _resource_names(result: AuditResult) -> set[str]:
    return {_name(r.urn) for r in result.resources}


def _checks_except(result: AuditResult, names: set[str]) -> set[Check]:
    return {c for c in result.checks if _name(c.urn) not in names}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_kubernetes_audit_judges_the_same_resources_but_grafanas_with_the_same_verdicts(
    env: str, tmp_path: Path
) -> None:
    bundled = audit_environment(_bundled(env, tmp_path / "bundled"))
    result = audit_environment(without_grafana(env, tmp_path))
    assert _resource_names(bundled) - _resource_names(result) == K8S_GRAFANA
    assert set(result.checks) == _checks_except(bundled, K8S_GRAFANA)
    assert {c for c in bundled.checks if _name(c.urn) in K8S_GRAFANA}, "the bundled audit judged Grafana"
    not_applicable = {c for c in bundled.not_applicable if _name(c.urn) not in K8S_GRAFANA}
    assert set(result.not_applicable) == not_applicable
    assert [(f.policy, f.urn, f.message) for f in result.findings] == [
        (f.policy, f.urn, f.message) for f in bundled.findings
    ]
    assert result.passed == bundled.passed
    judged = {c.policy for c in result.checks if _name(c.urn).startswith("monitoring-dashboard-")}
    assert {"secret-no-plaintext-config", "resource-ownership-labels", "resource-app-labels"} <= judged


def test_a_violation_is_found_for_its_own_reason_without_grafana(tmp_path: Path) -> None:
    edit, expected = CASES["unpinned-image"]
    path = without_grafana("prod", tmp_path)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config["config"]["mlops-platform:monitoring"]["grafana_image"] is None
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    result = audit_environment(path)
    assert {(f.policy, _name(f.urn), f.message) for f in result.findings} == expected
    assert not result.passed


def test_docker_audit_flags_only_the_grafana_waiver_as_unmatched(tmp_path: Path) -> None:
    waivers = load_waivers(REPO / "policies" / "waivers.yaml")
    bundled = apply_waivers(audit_environment(_bundled("dev", tmp_path / "bundled")), waivers, TODAY)
    result = apply_waivers(audit_environment(without_grafana("dev", tmp_path)), waivers, TODAY)
    assert bundled.passed, [f.message for f in bundled.blocking]
    assert _resource_names(bundled) - _resource_names(result) == DOCKER_GRAFANA
    assert set(result.checks) == _checks_except(bundled, DOCKER_GRAFANA)
    grafana_violations = [f for f in bundled.findings if _name(f.urn) in DOCKER_GRAFANA]
    assert [(f.policy, f.waiver is not None) for f in grafana_violations] == [
        ("workload-read-only-root-filesystem", True)
    ]
    kept = [(f.policy, f.urn, f.message) for f in bundled.findings if _name(f.urn) not in DOCKER_GRAFANA]
    added = [f for f in result.findings if (f.policy, f.urn, f.message) not in kept]
    lines = (REPO / "policies" / "waivers.yaml").read_text(encoding="utf-8").splitlines()
    line = lines.index("    selector: monitoring-grafana")  # its entry starts on the line above (1-based)
    assert [(f.policy, f.message) for f in added] == [
        (
            WAIVER_UNMATCHED,
            f"policies/waivers.yaml:{line}: waiver of 'workload-read-only-root-filesystem' for "
            "'monitoring-grafana' matches nothing in environment 'dev' (it matches no violation); "
            "delete it or fix its policy, selector or environment",
        )
    ]
    assert len(result.findings) == len(kept) + 1
    assert not result.passed  # a stale waiver blocks until it is deleted, as for any other
