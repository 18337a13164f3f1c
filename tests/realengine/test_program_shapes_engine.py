"""Teams' program shapes through the real engine (`--engine pulumi`): the same findings as offline.

Each program of ``tests.project.program_shapes`` is audited both ways; the violations (policy, URN,
enforcement, message) must be the same. The real engine's events carry no source position, so the
locations are compared offline only (``tests/project/test_program_shapes.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.tools.engine_pulumi.workspace import EngineTools
from tests.cli_runner import mlops
from tests.project import program_shapes as shapes

pytestmark = pytest.mark.slow

# Helm v4 and yaml.v2 are components the provider constructs, against a cluster or in its render mode:
# with no cluster here, their stack sets kubernetes:renderYamlToDirectory (a preview writes nothing).
PROGRAMS = {
    "pod-kinds": (shapes.POD_KINDS, {}, shapes.STACK_FILE),
    "inference-server": (shapes.INFERENCE_SERVER, {}, shapes.STACK_FILE),
    "transformed-component": (shapes.TRANSFORMED, {}, shapes.STACK_FILE),
    "helm-v3": (shapes.HELM_V3, shapes.CHART_FILES, shapes.STACK_FILE),
    "helm-v4": (shapes.HELM_V4, shapes.CHART_FILES, shapes.RENDER_STACK_FILE),
    "config-files": (shapes.CONFIG_FILES, shapes.MANIFEST_FILES, shapes.STACK_FILE),
    "yaml-v2": (shapes.YAML_V2, shapes.MANIFEST_FILES, shapes.RENDER_STACK_FILE),
}


def _violations(done: Any) -> set[tuple[str, str, str, str]]:
    assert done.stdout.startswith("{"), done.stderr[-3000:]
    report = json.loads(done.stdout)
    return {
        (v["policy"], v["urn"], v["enforcement"], v["message"])
        for v in report["environments"][0]["violations"]
    }


@pytest.mark.parametrize("shape", sorted(PROGRAMS))
def test_the_real_engine_finds_what_the_offline_audit_finds(
    engine_tools: EngineTools, tmp_path: Path, shape: str
) -> None:
    program, files, stack_file = PROGRAMS[shape]
    root = shapes.write_project(tmp_path / "p", program, files, stack_file=stack_file)
    offline = mlops("--project", str(root), "audit", "dev", "-f", "json", cwd=tmp_path)
    engine = mlops("--project", str(root), "audit", "dev", "-f", "json", "--engine", "pulumi", cwd=tmp_path)
    assert (engine.returncode, offline.returncode) == (1, 1), engine.stderr[-3000:]
    found = _violations(offline)
    assert found and _violations(engine) == found


def test_a_v4_chart_with_no_cluster_is_one_reason_and_a_hint_through_the_real_engine(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    root = shapes.write_project(tmp_path / "p", shapes.HELM_V4, shapes.CHART_FILES)
    done = mlops("--project", str(root), "audit", "dev", "-f", "json", "--engine", "pulumi", cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-3000:]
    reason = "configured Kubernetes cluster is unreachable"
    assert f"kubernetes:helm.sh/v4:Chart resource 'web' has a problem: {reason}" in done.stderr
    assert "kubernetes:renderYamlToDirectory" in done.stderr
    assert "Traceback" not in done.stderr and "resource monitor shut down" not in done.stderr
    assert done.stdout == ""
