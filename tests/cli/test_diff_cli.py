"""`mlops diff`: the effective differences between two environments, after tier defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlops_platform.stacks.loader import load_environment
from mlops_platform.tools.spec_diff import MISSING, diff_specs, flatten

REPO = Path(__file__).resolve().parents[2]


def test_diff_reports_effective_values_by_model_name() -> None:
    staging, prod = load_environment("staging"), load_environment("prod")
    differences = {d.path: (d.left, d.right) for d in diff_specs(staging, prod)}
    # prod's min replicas come from defaults.yaml (tier prod), staging's from its own tier default.
    assert differences["serving.models[churn-predictor].replicas.min"] == (2, 3)
    assert differences["serving.models[fraud-scorer].canary.weight"] == (50, 10)
    assert differences["serving.models[recommender]"][0] == MISSING  # only prod serves it: one row
    assert differences["serving.models[recommender]"][1]["image"].startswith("ghcr.io/acme-ml/recommender")
    assert "environment.team" not in differences  # equal values never appear
    assert all(left != right for left, right in differences.values())


def test_an_environment_does_not_differ_from_itself() -> None:
    prod = load_environment("prod")
    assert diff_specs(prod, prod) == []
    assert "storage.database.backup.retention_days" in flatten(prod)


def test_diff_cli_prints_json_and_rejects_bad_input(tmp_path: Path) -> None:
    def mlops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlops_platform.tools.cli", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )

    result = mlops("diff", "dev", "prod", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = {row["path"]: row for row in json.loads(result.stdout)}
    assert rows["environment.target"] == {"path": "environment.target", "dev": "docker", "prod": "kubernetes"}
    assert mlops("diff", "dev", "nowhere").returncode == 2
    assert mlops("diff", "dev", "prod", "--format", "xml").returncode == 2
