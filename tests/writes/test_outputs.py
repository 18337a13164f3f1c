"""`-o` never clobbers, follows a link or replaces an input; `mlops init` never writes out of its project."""

from __future__ import annotations

import os
from pathlib import Path

from mlops_platform.tools.atomic_write import TMP_MARK
from tests.cli_runner import REPO, mlops


def test_an_existing_output_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    target.write_text("mine\n")
    refused = mlops("schema", "-o", str(target))
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"mlops: --output: cannot write {target}: already exists (pass --force to overwrite it)"
    ]
    assert target.read_text() == "mine\n"
    forced = mlops("schema", "-o", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert target.read_text().startswith("{") and [p.name for p in tmp_path.iterdir()] == ["schema.json"]


def test_an_output_that_is_a_symbolic_link_is_refused_even_with_force(tmp_path: Path) -> None:
    kept = tmp_path / "Pulumi.prod.yaml"
    kept.write_text("config: {}\n")
    link = tmp_path / "schema.json"
    link.symlink_to(kept)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "elsewhere" / "x.json")
    for output in (link, dangling):
        refused = mlops("schema", "-o", str(output), "--force")
        assert refused.returncode == 2
        assert refused.stderr.splitlines() == [
            f"mlops: --output: cannot write {output}: is a symbolic link (name the file it points to, or "
            "another file)"
        ]
    assert kept.read_text() == "config: {}\n" and not (tmp_path / "elsewhere").exists()


def test_a_device_output_is_written_as_a_stream() -> None:
    result = mlops("schema", "-o", "/dev/null")
    assert result.returncode == 0, result.stderr
    assert Path("/dev/null").is_char_device()


def test_an_audit_report_never_replaces_its_own_input(tmp_path: Path) -> None:
    env = tmp_path / "Pulumi.dev.yaml"
    env.write_bytes((REPO / "stacks" / "Pulumi.dev.yaml").read_bytes())
    original = env.read_bytes()
    result = mlops("audit", str(env), "-f", "json", "-o", str(env), "--force", timeout_s=900)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"mlops: --output: cannot write {env}: is an input of this command (--output must name another file)"
    )
    assert env.read_bytes() == original
    assert not [p for p in tmp_path.iterdir() if TMP_MARK in p.name]


def test_init_never_follows_a_link_out_of_the_project(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    project = tmp_path / "proj"
    project.mkdir()
    (project / "__main__.py").symlink_to(outside / "main.py")  # dangling: exists() is False
    refused = mlops("init", str(project))
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"mlops init: {project}: already holds __main__.py; nothing written"
    assert not outside.exists()
    assert sorted(p.name for p in project.iterdir()) == ["__main__.py"]

    linked = tmp_path / "linked"
    linked.mkdir()
    outside.mkdir()
    (linked / "stacks").symlink_to(outside)
    refused = mlops("init", str(linked))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"mlops init: {linked}: stacks/stack-file.schema.json, stacks/Pulumi.dev.yaml, "
        "stacks/Pulumi.staging.yaml, stacks/Pulumi.prod.yaml "
        "would be written outside the project through a symbolic link; nothing written"
    )
    assert list(outside.iterdir()) == [] and sorted(os.listdir(linked)) == ["stacks"]
