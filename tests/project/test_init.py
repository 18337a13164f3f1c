"""``mlops init DIR``: a new project validates and audits clean as written, from its directory or not."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from mlops_platform.policies.catalogue import admission_document, config_document
from tests.cli_runner import mlops

EXPECTED_FILES = [
    "Pulumi.yaml",
    "__main__.py",
    "policies/config/admission.json",
    "policies/config/tiers/dev.json",
    "policies/config/tiers/prod.json",
    "policies/config/tiers/staging.json",
    "policies/waivers.yaml",
    "requirements.txt",
    "stacks/Pulumi.dev.yaml",
    "stacks/Pulumi.prod.yaml",
    "stacks/Pulumi.staging.yaml",
    "stacks/stack-file.schema.json",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "team-a"
    done = mlops("init", str(root), "--owner", "team-a@example.com")
    assert done.returncode == 0, done.stderr
    return root


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_init_writes_a_whole_project(project: Path) -> None:
    assert _files(project) == EXPECTED_FILES
    assert "name: team-a\n" in (project / "Pulumi.yaml").read_text()
    dev = (project / "stacks" / "Pulumi.dev.yaml").read_text()
    assert "team-a:environment:" in dev and "owner: team-a@example.com" in dev  # its own namespace
    # The policy config is the catalogue's, not a copy of some other project's.
    prod = project / "policies" / "config" / "tiers" / "prod.json"
    assert json.loads(prod.read_text()) == config_document("prod")
    admission = project / "policies" / "config" / "admission.json"
    assert json.loads(admission.read_text()) == admission_document()


def test_its_stack_files_name_a_schema_of_its_own_namespace(project: Path) -> None:
    """Each stack file's modeline names the scaffold's schema, whose keys are the project's."""
    import jsonschema

    schema = json.loads((project / "stacks" / "stack-file.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for tier in ("dev", "staging", "prod"):
        text = (project / "stacks" / f"Pulumi.{tier}.yaml").read_text()
        assert "# yaml-language-server: $schema=stack-file.schema.json\n" in text
        assert list(validator.iter_errors(yaml.safe_load(text))) == []
    assert "team-a:serving" in schema["properties"]["config"]["properties"]
    assert "mlops-platform:serving" not in schema["properties"]["config"]["properties"]
    # The same schema as the command prints for the project.
    printed = mlops("--project", str(project), "schema", "--stack-file")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == schema


def test_the_new_project_validates_from_its_directory_and_by_option(project: Path, tmp_path: Path) -> None:
    here = mlops("validate", "dev", "staging", "prod", cwd=project)
    assert here.returncode == 0, here.stderr
    assert here.stdout.splitlines() == [
        "ok stacks/Pulumi.dev.yaml: dev (tier dev, target docker, 1 models)",
        "ok stacks/Pulumi.staging.yaml: staging (tier staging, target kubernetes, 1 models)",
        "ok stacks/Pulumi.prod.yaml: prod (tier prod, target kubernetes, 1 models)",
    ]
    listed = mlops("--project", str(project), "envs", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[1] for line in listed.stdout.splitlines() if line.startswith("│")] == [
        "dev",
        "prod",
        "staging",
    ]


@pytest.mark.slow
def test_the_new_project_audits_clean_in_every_tier(project: Path, tmp_path: Path) -> None:
    done = mlops("--project", str(project), "audit", "dev", "staging", "prod", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    reports = {r["environment"]: r for r in json.loads(done.stdout)["environments"]}
    assert {env: (r["passed"], r["summary"]["blocking"]) for env, r in reports.items()} == {
        "dev": (True, 0),
        "staging": (True, 0),
        "prod": (True, 0),
    }
    assert all(r["summary"]["resources"] > 20 and r["summary"]["checks"] > 0 for r in reports.values())


def test_the_new_project_runs_under_its_own_name(project: Path) -> None:
    done = mlops("preview", "staging", "-f", "json", cwd=project)
    assert done.returncode == 0, done.stderr
    preview = json.loads(done.stdout)
    assert (preview["project"], preview["environment"]) == ("team-a", "staging")
    urns = [r["urn"] for r in preview["resources"]]
    assert all(urn.startswith("urn:pulumi:staging::team-a::") for urn in urns)
    assert any(urn.endswith("::serving-example-model") for urn in urns)


def test_init_never_overwrites(project: Path) -> None:
    before = (project / "stacks" / "Pulumi.prod.yaml").read_text()
    again = mlops("init", str(project))
    assert again.returncode == 2
    assert again.stderr.startswith(f"mlops init: {project}: already holds Pulumi.yaml, __main__.py")
    assert again.stderr.rstrip().endswith("; nothing written")
    assert (project / "stacks" / "Pulumi.prod.yaml").read_text() == before


def test_init_refuses_a_name_pulumi_would_refuse(tmp_path: Path) -> None:
    done = mlops("init", str(tmp_path / "x"), "--name", "no spaces")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "mlops init: --name: not a Pulumi project name (letters, digits, '_', '.', '-'): 'no spaces'"
    )
    assert not (tmp_path / "x").exists()


def test_outside_any_project_every_command_says_so(tmp_path: Path) -> None:
    done = mlops("validate", "dev", cwd=tmp_path)
    assert done.returncode == 2
    assert "no Pulumi project (Pulumi.yaml) here or above: pass --project DIR" in done.stderr


def test_any_pulumi_project_name_gives_valid_namespaces(tmp_path: Path) -> None:
    root = tmp_path / "odd"
    assert mlops("init", str(root), "--name", "1Team_X.y").returncode == 0
    done = mlops("validate", "dev", "prod", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "1Team_X.y:environment:" in (root / "stacks" / "Pulumi.prod.yaml").read_text()
    assert "namespace: team-x-y-prod\n" in (root / "stacks" / "Pulumi.prod.yaml").read_text()


def test_provenance_names_the_projects_own_policy_config_from_any_directory(project: Path) -> None:
    """With ``-C``, the report's inputs are the project's files, named from its root (the path was
    resolved against the working directory: ``/work/policies/...`` for a project in ``/work/team-a``)."""
    report = project.parent / "report.json"
    done = mlops("-C", str(project), "audit", "staging", "-f", "json", "-o", str(report))
    assert done.returncode == 0, done.stderr
    inputs = json.loads(report.read_text())["provenance"]["inputs"]
    configs = [i for i in inputs if i["role"] == "policy-config"]
    assert [c["path"] for c in configs] == ["policies/config/tiers/staging.json"], configs
    digest = hashlib.sha256((project / configs[0]["path"]).read_bytes()).hexdigest()
    assert configs[0]["sha256"] == digest
