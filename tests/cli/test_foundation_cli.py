"""The foundation's `mlops` commands end to end, in subprocesses as a user runs them.

Commands: validate, schema, envs, --version, --help. Neither help nor validation may import Pulumi
(checked with ``python -X importtime``, which lists every module the process imported).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.reference import README, updated_readme
from mlops_platform.tools import __version__

REPO = Path(__file__).resolve().parents[2]
MLOPS = Path(sys.executable).parent / "mlops"  # the console script installed with the package
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def run(*args: str, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    """``python [-X importtime] -m mlops_platform.tools.cli ARGS`` from the repository root."""
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-m", "mlops_platform.tools.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def imported_modules(importtime_stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines: ``import time: self | cumulative | name``."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def pulumi_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "pulumi" or m.startswith(("pulumi.", "pulumi_"))}


def words(text: str) -> str:
    """Whitespace-normalised output: rich wraps long lines at the terminal width."""
    return " ".join(text.split())


def test_validate_bundled_environments_with_the_console_script() -> None:
    assert MLOPS.exists(), f"{MLOPS} not installed: pip install -e ."
    result = subprocess.run(
        [str(MLOPS), "validate", "dev", "staging", "prod"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = words(result.stdout)
    for env, tier, target in (("dev", "dev", "docker"), ("staging", "staging", "kubernetes")):
        assert f"ok stacks/Pulumi.{env}.yaml: {env} (tier {tier}, target {target}," in out
    assert "ok stacks/Pulumi.prod.yaml: prod (tier prod, target kubernetes, 3 models)" in out
    assert result.stderr == ""


def test_validate_reports_every_failing_env_and_still_checks_the_others(tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text("config:\n  mlops-platform:environment: [not, a, mapping]\n", encoding="utf-8")
    result = run("validate", str(broken), "dev", "nowhere")
    assert result.returncode == 2
    assert "ok stacks/Pulumi.dev.yaml" in words(result.stdout)
    assert f"{broken}:2: environment: Input should be a valid dictionary" in result.stderr
    assert "nowhere: unknown environment (known: dev, prod, staging)" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = run("schema")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == DRAFT_2020_12
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == {"environment", "storage", "registry", "serving", "monitoring"}
    assert schema["additionalProperties"] is False  # unknown keys are errors, as in the loader


def test_schema_accepts_the_merged_prod_spec(schema: dict[str, Any]) -> None:
    merged = load_environment("prod").model_dump(mode="json")
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(merged))
    assert errors == []


def test_schema_rejects_a_broken_spec(schema: dict[str, Any]) -> None:
    broken = copy.deepcopy(load_environment("prod").model_dump(mode="json"))
    broken["serving"]["models"][0]["replicas"]["min"] = "three"
    broken["monitoring"]["colour"] = "blue"
    broken["environment"]["tier"] = "qa"
    validator = jsonschema.Draft202012Validator(schema)
    failing = sorted("/".join(map(str, e.absolute_path)) for e in validator.iter_errors(broken))
    assert failing == ["environment/tier", "monitoring", "serving/models/0/replicas/min"]


def test_schema_writes_to_a_file(tmp_path: Path, schema: dict[str, Any]) -> None:
    target = tmp_path / "spec.schema.json"
    result = run("schema", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text(encoding="utf-8")) == schema


def test_envs_lists_the_three_environments() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlops_platform.tools.cli", "envs"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},  # no truncated cells
    )
    assert result.returncode == 0, result.stderr
    rows = {
        cells[0]: cells
        for line in result.stdout.splitlines()
        if (cells := [c.strip() for c in line.strip("│ ").split("│")]) and len(cells) == 7
    }
    assert rows["dev"][1:] == ["stacks/Pulumi.dev.yaml", "dev", "docker", "mlops-dev", "2", "valid"]
    assert rows["staging"][2:4] == ["staging", "kubernetes"]
    assert rows["prod"][2:] == ["prod", "kubernetes", "mlops-prod", "3", "valid"]
    assert set(rows) == {"dev", "staging", "prod"}


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mlops {__version__}"


def test_help_lists_the_commands_without_importing_pulumi() -> None:
    result = run("--help", importtime=True)
    assert result.returncode == 0
    for command in ("validate", "schema", "envs"):
        assert command in result.stdout
    modules = imported_modules(result.stderr)
    assert "mlops_platform.tools.cli" in modules or "typer" in modules  # importtime output really parsed
    assert pulumi_modules(modules) == set()


def thousand_model_spec() -> dict[str, Any]:
    """The prod stack file with 1,000 models, each a variant of the bundled ones."""
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    models = stack["config"]["mlops-platform:serving"]["models"]
    generated = []
    for index in range(1000):
        model = copy.deepcopy(models[index % len(models)])
        model["name"] = f"{model['name']}-{index:04d}"
        generated.append(model)
    stack["config"]["mlops-platform:serving"]["models"] = generated
    return stack


def test_validating_1000_models_does_not_import_pulumi(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"  # the stack name is the environment's (prod)
    path.write_text(yaml.safe_dump(thousand_model_spec(), sort_keys=False), encoding="utf-8")
    result = run("validate", str(path), importtime=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(tier prod, target kubernetes, 1000 models)" in words(result.stdout)
    modules = imported_modules(result.stderr)
    assert "mlops_platform.stacks.loader" in modules and "pydantic" in modules  # validation really ran
    assert pulumi_modules(modules) == set()


def test_readme_spec_reference_is_up_to_date() -> None:
    text = README.read_text(encoding="utf-8")
    assert updated_readme(text) == text, "README is stale: run python -m mlops_platform.stacks.reference"
