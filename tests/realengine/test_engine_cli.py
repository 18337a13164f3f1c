"""The real-engine commands end to end: `audit --engine pulumi`, `preview --pulumi`, `up --render-to`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.tools.engine_pulumi.workspace import EngineTools
from mlops_platform.tools.reports import SUFFIXES
from mlops_platform.tools.reports.digest import digest_matches
from tests.cli_runner import mlops
from tests.realengine.conftest import REPO

pytestmark = pytest.mark.slow

FORMATS = ("json", "sarif", "junit", "markdown", "html")


def _unpinned_prod(tmp_path: Path) -> Path:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    config["config"]["mlops-platform:serving"]["models"][0]["image"] = "ghcr.io/acme-ml/fraud-scorer:3.2.0"
    path = tmp_path / "env" / "Pulumi.prod.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _report(directory: Path) -> dict[str, Any]:
    document = json.loads((directory / "mlops-audit.json").read_text(encoding="utf-8"))
    # The canonical digest covers the provenance's engine, so it differs with it: each report's must
    # be its own content's, and the rest is compared below.
    assert digest_matches(document)
    assert document.pop("digest")
    # The generation time differs, and the provenance names the engine that ran: nothing else may.
    assert document["provenance"].pop("generated_at")
    assert document["provenance"].pop("engine") in ("offline", "pulumi")
    # Observed values are what each engine saw: the provider's Check normalises quantities ("1000m" ->
    # "1"), so only the paths read must agree.
    for env in document["environments"]:
        for result in env["policy_results"]:
            for resource in result["resources"]:
                resource["observed"] = [path for path, _value in resource["observed"]]
        for violation in env["violations"]:
            if violation["evidence"] is not None:
                violation["evidence"]["observed"] = [
                    path for path, _value in violation["evidence"]["observed"]
                ]
    return dict(document)


def test_the_engine_audit_writes_the_offline_audits_reports_and_exit_code(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    env_file = _unpinned_prod(tmp_path)
    formats = [arg for fmt in FORMATS for arg in ("-f", fmt)]
    engine = mlops("audit", str(env_file), "--engine", "pulumi", *formats, "-o", str(tmp_path / "engine"))
    offline = mlops("audit", str(env_file), *formats, "-o", str(tmp_path / "offline"))
    assert (engine.returncode, offline.returncode) == (1, 1), engine.stderr
    for fmt in FORMATS:
        assert (tmp_path / "engine" / f"mlops-audit{SUFFIXES[fmt]}").stat().st_size > 0, fmt
    assert _report(tmp_path / "engine") == _report(tmp_path / "offline")  # all but the timestamp
    assert "FAILED: 3 blocking finding(s)" in engine.stdout


def test_engine_options_need_the_pulumi_engine() -> None:
    result = mlops("audit", "prod", "--refresh")
    assert result.returncode == 2
    assert "--stack and --refresh need --engine pulumi" in result.stderr


def test_preview_with_pulumi_exits_1_on_a_mandatory_violation(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    broken = mlops("preview", str(_unpinned_prod(tmp_path)), "--pulumi")
    assert broken.returncode == 1, broken.stderr[-2000:]
    assert "mandatory: image-digest-pinned:" in broken.stderr
    clean = mlops("preview", "staging", "--pulumi")
    assert clean.returncode == 0, clean.stderr[-2000:]


def test_up_render_to_warns_about_plaintext_secrets_and_writes_manifests(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    render = tmp_path / "render"
    # --no-verify-images: no image registry is reachable here (tests/supply_chain: the gate on)
    args = ["up", "staging", "--yes", "--no-verify-images", "--local-state", str(tmp_path / "state")]
    args += ["--render-to", str(render)]
    result = mlops(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Secrets are written to" in result.stderr and "plaintext" in result.stderr
    secrets = list(render.rglob("v1-secret-*.yaml"))
    assert secrets, sorted(p.name for p in render.rglob("*.yaml"))[:10]
