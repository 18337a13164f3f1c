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

# Helm v4 and yaml.v2 (remote components) need a reachable cluster in the provider: see
# tests/project/test_provider_programs.py.
PROGRAMS = {
    "pod-kinds": (shapes.POD_KINDS, {}),
    "inference-server": (shapes.INFERENCE_SERVER, {}),
    "transformed-component": (shapes.TRANSFORMED, {}),
    "helm-v3": (shapes.HELM_V3, shapes.CHART_FILES),
    "config-files": (shapes.CONFIG_FILES, shapes.MANIFEST_FILES),
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
    program, files = PROGRAMS[shape]
    root = shapes.write_project(tmp_path / "p", program, files)
    offline = mlops("--project", str(root), "audit", "dev", "-f", "json", cwd=tmp_path)
    engine = mlops("--project", str(root), "audit", "dev", "-f", "json", "--engine", "pulumi", cwd=tmp_path)
    assert (engine.returncode, offline.returncode) == (1, 1), engine.stderr[-3000:]
    found = _violations(offline)
    assert found and _violations(engine) == found
