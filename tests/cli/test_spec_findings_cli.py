"""The tier decides the policy config, findings point at spec lines, and the smaller CLI promises.

A new environment beside the bundled ones, broken copies of prod, the reports that name the policy
config used, ``mlops up``'s offline audit gate, ``validate`` without arguments, ``diff --exit-code``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_platform.tools.findings import SpecLocation
from tests.cli_runner import REPO, mlops

STACKS = REPO / "stacks"
TIERS = REPO / "policies" / "config" / "tiers"


def copy_env(tmp_path: Path, source: str, name: str, *edits: tuple[str, str]) -> Path:
    text = (STACKS / f"Pulumi.{source}.yaml").read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    return next(i for i, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in t)


@pytest.fixture(scope="module")
def broken_prod(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prod with fraud-scorer's image on `:latest`: mandatory image findings at that line."""
    text = (STACKS / "Pulumi.prod.yaml").read_text(encoding="utf-8")
    image = next(t for t in text.splitlines() if "image: ghcr.io/acme-ml/fraud-scorer:" in t)
    path = tmp_path_factory.mktemp("broken") / "Pulumi.prod.yaml"
    path.write_text(
        text.replace(image, "        image: ghcr.io/acme-ml/fraud-scorer:latest"), encoding="utf-8"
    )
    return path


def test_a_new_staging_tier_environment_audits_with_stagings_config(tmp_path: Path) -> None:
    env = copy_env(
        tmp_path,
        "staging",
        "predmaint",
        ("name: staging", "name: predmaint"),
        ("mlops-staging", "mlops-predmaint"),
    )
    result = mlops("audit", str(env), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (audited,) = report["environments"]
    staging = TIERS / "staging.json"
    assert audited["policy_config"] == [
        {
            "path": "policies/config/tiers/staging.json",
            "sha256": hashlib.sha256(staging.read_bytes()).hexdigest(),
        }
    ]
    levels = {name: entry["enforcementLevel"] for name, entry in json.loads(staging.read_text()).items()}
    assert {r["name"]: r["enforcement"]["predmaint"] for r in report["rules"]} == levels
    text = mlops("audit", str(env)).stdout
    assert "policy config: policies/config/tiers/staging.json (sha256 " in text


def test_a_prod_spec_under_another_stack_name_is_refused(tmp_path: Path) -> None:
    env = copy_env(
        tmp_path, "prod", "dev", ("image: ghcr.io/acme-ml/fraud-scorer:", "image: ghcr.io/x/y:latest #")
    )
    result = mlops("audit", str(env))
    assert result.returncode == 2
    line = line_of(env, "name: prod")
    assert f"Pulumi.dev.yaml:{line}: environment.name: must equal the stack name 'dev' (got 'prod')" in (
        result.stderr
    )


def test_sarif_findings_point_at_the_stack_file_lines(broken_prod: Path) -> None:
    result = mlops("audit", str(broken_prod), "--format", "sarif")
    assert result.returncode == 1, result.stderr
    results = json.loads(result.stdout)["runs"][0]["results"]
    image_line = line_of(broken_prod, "fraud-scorer:latest")
    on_deployment = [
        r
        for r in results
        if r["ruleId"] == "image-no-latest-tag"
        and r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith(
            "Deployment::serving-fraud-scorer-deployment"
        )
    ]
    assert len(on_deployment) == 1
    physical = on_deployment[0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == str(broken_prod)
    assert physical["region"] == {"startLine": image_line}
    assert on_deployment[0]["properties"]["specPath"] == "serving.models[0].image"
    assert on_deployment[0]["properties"]["remediation"].startswith("Reference images as")
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in results)


def test_every_format_names_the_spec_location_and_remediation(broken_prod: Path, tmp_path: Path) -> None:
    formats = ["text", "json", "junit", "markdown", "html"]
    result = mlops("audit", str(broken_prod), *[a for f in formats for a in ("-f", f)], "-o", str(tmp_path))
    assert result.returncode == 1, result.stderr
    where = f"{broken_prod}:{line_of(broken_prod, 'fraud-scorer:latest')}: serving.models[0].image"
    for suffix in (".txt", ".json", ".xml", ".md", ".html"):
        text = (tmp_path / f"mlops-audit{suffix}").read_text(encoding="utf-8")
        if suffix == ".json":  # a violation's spec location as fields; its rule holds the remediation
            violations = json.loads(text)["environments"][0]["violations"]
            assert where in {str(SpecLocation(**v["spec"])) for v in violations if v["spec"]}
        else:
            assert where in text, suffix
        assert "Reference images as" in text, suffix
        assert "policies/config/tiers/prod.json" in text, suffix


def test_up_stops_on_the_offline_audit_before_the_engine(broken_prod: Path, tmp_path: Path) -> None:
    """No Pulumi CLI anywhere: had `up` reached the engine, it would exit 2 saying so."""
    env = {"PATH": str(Path(sys.executable).parent), "MLOPS_TOOLCHAIN_CACHE": str(tmp_path / "empty")}
    result = mlops("up", str(broken_prod), "--yes", "--local-state", str(tmp_path / "state"), env=env)
    assert result.returncode == 1, result.stderr
    assert f"blocking: {broken_prod}:{line_of(broken_prod, 'fraud-scorer:latest')}: " in result.stderr
    assert "stopped by the offline audit before any change" in result.stderr
    assert "no Pulumi CLI" not in result.stderr
    skipped = mlops(
        "up", str(broken_prod), "--yes", "--skip-audit", "--local-state", str(tmp_path / "state"), env=env
    )
    assert skipped.returncode == 2
    assert "no Pulumi CLI" in skipped.stderr


def test_validate_without_arguments_validates_every_environment() -> None:
    result = mlops("validate")
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        f"ok stacks/Pulumi.{env}.yaml" for env in ("dev", "prod", "staging")
    ]


def test_diff_exit_code_and_an_added_model_as_one_row() -> None:
    differ = mlops("diff", "staging", "prod", "--format", "json", "--exit-code")
    assert differ.returncode == 1
    rows = {row["path"]: row for row in json.loads(differ.stdout)}
    added = rows["serving.models[recommender]"]
    assert added["staging"] == "(absent)"
    assert added["prod"]["name"] == "recommender"
    assert not any(path.startswith("serving.models[recommender].") for path in rows)
    assert mlops("diff", "prod", "prod", "--exit-code").returncode == 0
    assert mlops("diff", "staging", "prod").returncode == 0  # without --exit-code: a difference is no error


def test_tables_keep_their_width_when_piped() -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run(
        [sys.executable, "-m", "mlops_platform.tools.cli", "diff", "staging", "prod"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    digest = "docker.io/grafana/grafana:11.2.0@sha256:"
    row = next(line for line in result.stdout.splitlines() if "monitoring.grafana_image" in line)
    assert digest in row, "the row was folded to the 80 columns of a pipe"
