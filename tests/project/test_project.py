"""``Project``: the user's Pulumi project, read from its ``Pulumi.yaml`` as the Pulumi CLI reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.tools.project import Project, ProjectError

REPO = Path(__file__).resolve().parents[2]


def _write(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(text, encoding="utf-8")
    return root


def test_the_repository_is_the_example_organisations_project() -> None:
    project = Project.load(REPO)
    assert (project.name, project.runtime) == ("mlops-platform", "python")
    assert project.program == REPO / "__main__.py"
    assert project.stack_config_dir == REPO / "stacks"
    assert [p.name for p in project.stack_files()] == [
        "Pulumi.dev.yaml",
        "Pulumi.prod.yaml",
        "Pulumi.staging.yaml",
    ]
    assert project.policy_config_dir == REPO / "policies" / "config"
    assert project.waivers_file == REPO / "policies" / "waivers.yaml"


def test_defaults_are_the_project_directory(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", "name: team-a\nruntime: python\n")
    (root / "__main__.py").write_text("", encoding="utf-8")
    (root / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    project = Project.load(root)
    assert (project.program, project.stack_config_dir) == (root / "__main__.py", root)
    assert project.stack_files() == [root / "Pulumi.dev.yaml"]
    project.check_program()


def test_main_names_a_file_or_a_directory(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", "name: a\nruntime: {name: python}\nmain: src/\n")
    (root / "src").mkdir()
    (root / "src" / "__main__.py").write_text("", encoding="utf-8")
    assert Project.load(root).program == root / "src" / "__main__.py"
    (root / "Pulumi.yaml").write_text("name: a\nruntime: python\nmain: infra.py\n", encoding="utf-8")
    (root / "infra.py").write_text("", encoding="utf-8")
    assert Project.load(root).program == root / "infra.py"


def test_found_from_a_subdirectory_as_the_pulumi_cli_finds_it(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", "name: a\nruntime: python\n")
    (root / "deep" / "er").mkdir(parents=True)
    assert Project.find(root / "deep" / "er").root == root


def test_no_project_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as caught:
        Project.find(tmp_path)
    hint = "no Pulumi project (Pulumi.yaml) here or above: pass --project DIR, or run `mlops init DIR`"
    assert str(caught.value) == f"{tmp_path}: {hint}"


def test_every_problem_of_the_project_file_is_located(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", "description: x\nruntime: nodejs\nstackConfigDir: missing\n")
    with pytest.raises(ProjectError) as caught:
        Project.load(root)
    shown = str(root / "Pulumi.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"{shown}:1: name: a Pulumi project needs a name",
        f"{shown}:2: runtime: mlops runs Python programs only (got 'nodejs')",
        f"{shown}:3: stackConfigDir: no directory {root / 'missing'}",
    ]


def test_a_missing_program_is_reported_by_commands_that_run_it(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", "name: a\nruntime: python\nmain: nowhere.py\n")
    project = Project.load(root)  # validate and secrets need no program
    with pytest.raises(ProjectError) as caught:
        project.check_program()
    assert (
        str(caught.value)
        == f"{root / 'Pulumi.yaml'}: main: no program at {root / 'nowhere.py'} (Pulumi.yaml main)"
    )
