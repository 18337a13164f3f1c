"""The real engine gets the tier's policy config, and says which file (and its hash) it was given."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlops_platform.tools.engine_pulumi.workspace import EngineTools
from tests.cli_runner import mlops
from tests.realengine.conftest import REPO

pytestmark = pytest.mark.slow


def test_a_new_staging_tier_environment_previews_with_stagings_config(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    text = (REPO / "stacks" / "Pulumi.staging.yaml").read_text(encoding="utf-8")
    env_file = tmp_path / "Pulumi.predmaint.yaml"
    env_file.write_text(text.replace("name: staging", "name: predmaint").replace("mlops-staging", "mlops-pm"))
    staging = REPO / "policies" / "config" / "tiers" / "staging.json"
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()

    preview = mlops("preview", str(env_file), "--pulumi")
    assert preview.returncode == 0, preview.stderr
    assert f"policy config: policies/config/tiers/staging.json (sha256 {digest})" in preview.stderr

    audit = mlops("audit", str(env_file), "--engine", "pulumi", "--format", "json")
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)
    (audited,) = report["environments"]
    assert audited["policy_config"] == [{"path": "policies/config/tiers/staging.json", "sha256": digest}]
    levels = {name: entry["enforcementLevel"] for name, entry in json.loads(staging.read_text()).items()}
    assert {r["name"]: r["enforcement"]["predmaint"] for r in report["rules"]} == levels
