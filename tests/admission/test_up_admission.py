"""``mlops up`` installs the environment's admission policies by default in the tiers that ask for it.

A real ``pulumi up`` of staging rendered to manifests (``--render-to``: no cluster), whose tier asks for
admission policies (``policies/config/admission.json``): they are written beside the manifests, the
same file ``mlops admission render`` writes. The install into a cluster is
``mlops_platform.tools.admission.install``, exercised against a real API server in ``test_out_of_band``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.tools.engine_pulumi.workspace import EngineTools
from tests.cli_runner import mlops
from tests.realengine.conftest import engine_tools

__all__ = ["engine_tools"]

pytestmark = pytest.mark.slow


def test_up_writes_the_admission_policies_beside_the_rendered_manifests(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    render, state = tmp_path / "manifests", tmp_path / "state"
    done = mlops(
        "up",
        "staging",
        "--local-state",
        str(state),
        "--render-to",
        str(render),
        "--skip-audit",
        "--yes",
        timeout_s=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = render / "staging.admission.yaml"
    assert f"admission: wrote {written}" in done.stderr
    rendered = mlops("admission", "render", "staging")
    assert rendered.returncode == 0, rendered.stderr
    assert written.read_text() == rendered.stdout
    skipped = mlops(
        "up",
        "staging",
        "--local-state",
        str(state),
        "--render-to",
        str(tmp_path / "again"),
        "--skip-audit",
        "--yes",
        "--no-admission",
        timeout_s=1200,
    )
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert not (tmp_path / "again" / "staging.admission.yaml").exists() and "admission:" not in skipped.stderr
