"""Bad input that slipped through: exit 2 with the file and line, never 70, never read as something else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import mlops


def _dev_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A project made by `mlops init --name team-a`, with ``Pulumi.<name>.yaml``: its dev with one change."""
    project = tmp_path / "p"
    assert mlops("init", str(project), "--name", "team-a").returncode == 0
    dev = (project / "stacks" / "Pulumi.dev.yaml").read_text()
    text = dev.replace("name: dev", f"name: {name}").replace(
        "namespace: team-a-dev", f"namespace: team-a-{name}"
    )
    assert old in text
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(text.replace(old, new, 1))
    return project


def test_a_5000_digit_integer_is_a_located_error(tmp_path: Path) -> None:
    """go-yaml reads it as a string (beyond int64 and uint64); Python's int() raised its digit limit."""
    project = _dev_with(tmp_path, "big", "version: 1", "version: " + "9" * 5000)
    result = mlops("-C", str(project), "validate", "big")
    assert result.returncode == 2
    written = (project / "stacks" / "Pulumi.big.yaml").read_text().splitlines()
    expected = 1 + next(i for i, text in enumerate(written) if text.strip() == "version: " + "9" * 5000)
    line = result.stderr.splitlines()[0]
    assert line.split(":")[0].endswith("stacks/Pulumi.big.yaml") and line.split(":")[1] == str(expected), line
    assert ": serving.models[0].model.version: " in line and "(5,002 characters)" in line
    neighbour = mlops("-C", str(project), "validate", "dev")  # reads big's namespace: no crash either
    assert neighbour.returncode == 0, neighbour.stderr


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("      governance:", "      canary: {version: 2, weight: true}\n      governance:", "canary.weight"),
        ("version: 1", "version: true", "model.version"),
        ("      governance:", "      replicas: {min: true, max: 2}\n      governance:", "replicas.min"),
    ],
)
def test_a_boolean_is_never_a_number(tmp_path: Path, old: str, new: str, key: str) -> None:
    project = _dev_with(tmp_path, "flags", old, new)
    result = mlops("-C", str(project), "validate", "flags")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].endswith(
        f"serving.models[0].{key}: a boolean is not a number here (true and false are never 1 and 0): "
        "write the number"
    ), result.stderr


def test_a_quoted_canary_version_equal_to_the_stable_fails_validate(tmp_path: Path) -> None:
    project = _dev_with(
        tmp_path, "quoted", "      governance:", "      canary: {version: '1', weight: 10}\n      governance:"
    )
    result = mlops("-C", str(project), "validate", "quoted")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].endswith(
        "serving.models[0].canary.version: must differ from the stable model's (1)"
    ), result.stderr


@pytest.mark.parametrize("config", ["config:\n- a\n- b\n", "config: 3\n"])
@pytest.mark.parametrize("engine", ["offline", "pulumi"])
def test_a_config_that_is_not_a_mapping_is_exit_2_with_its_line(
    tmp_path: Path, config: str, engine: str
) -> None:
    stack_file = tmp_path / "Pulumi.qa.yaml"
    stack_file.write_text("# a stack file\n" + config)
    result = mlops("audit", str(stack_file), "--engine", engine)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"{stack_file}:2: config: a Pulumi stack file needs a 'config:' mapping"
    ]
