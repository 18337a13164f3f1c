"""``examples/platform-team``: a worked project on two of the library's components, audited as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_platform.policies.catalogue import config_document
from tests.cli_runner import mlops

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "platform-team"


def test_the_examples_policy_config_is_the_catalogues() -> None:
    path = EXAMPLE / "policies" / "config" / "environments" / "dev.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written == config_document("dev"), "regenerate it from the catalogue (see the example's README)"


@pytest.mark.slow
def test_the_example_previews_two_layers(tmp_path: Path) -> None:
    done = mlops("--project", str(EXAMPLE), "preview", "dev", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    preview = json.loads(done.stdout)
    types = {r["type"] for r in preview["resources"]}
    assert {"mlops:storage:StorageStack", "mlops:serving:ServingStack"} <= types
    assert "mlops:registry:RegistryStack" not in types and "mlops:monitoring:MonitoringStack" not in types
    assert preview["project"] == "platform-team"
    assert set(preview["outputs"]) == {"namespace", "objectStoreEndpoint", "databaseUrl", "rankerUrl"}
    assert "postgresql://" not in json.dumps(preview["outputs"])  # the secret output stays redacted


@pytest.mark.slow
def test_the_example_audits_as_its_readme_says(tmp_path: Path) -> None:
    done = mlops("--project", str(EXAMPLE), "audit", "dev", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)["environments"]
    assert report["passed"] and report["summary"]["blocking"] == 0
    assert sorted(v["policy"] for v in report["violations"]) == [
        "autoscaler-bounds-sane",
        "model-monitoring-coverage",
        "model-monitoring-coverage",
    ]
