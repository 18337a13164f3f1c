"""`mlops secrets ENV`: the credential seed as a Pulumi secret, written once; single-credential rotation.

Runs the real Pulumi CLI (when one is installed) on a scratch project with a file backend, never on
the repository's stack files.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlops_platform.stacks.loader import load_environment
from mlops_platform.tools.cli import app
from mlops_platform.tools.stack_secrets import SecretsError, SeedChange, find_cli, update_stack_secrets
from tests.cli_runner import mlops

REPO = Path(__file__).resolve().parents[2]
SEED = "mlops-platform:credentialSeed"
ROTATIONS = "mlops-platform:credentialRotations"


def test_without_a_pulumi_cli_it_exits_2_and_says_how_to_get_one(tmp_path: Path) -> None:
    result = mlops("secrets", "prod", env={"MLOPS_PULUMI": str(tmp_path / "no-such-pulumi")})
    assert result.returncode == 2
    assert "mlops secrets: no Pulumi CLI: run `mlops toolchain install`" in result.stderr
    assert not (tmp_path / "no-such-pulumi").exists()


def test_a_malformed_credential_name_is_refused_before_any_cli_runs() -> None:
    with pytest.raises(SecretsError, match="--rotate: not a credential name"):
        update_stack_secrets("prod", rotate=['x"] --evil'], cli=Path("/nonexistent"))


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    cli = find_cli()
    if cli is None:
        pytest.skip("no Pulumi CLI (mlops toolchain install)")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())  # stackConfigDir: stacks
    staging = (REPO / "stacks" / "Pulumi.staging.yaml").read_text()  # as stack qa: its name too
    (tmp_path / "stacks" / "Pulumi.qa.yaml").write_text(staging.replace("name: staging", "name: qa"))
    (tmp_path / "state").mkdir()
    env = {
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "test-passphrase",
        "PULUMI_HOME": str(tmp_path / "home"),
    }
    return tmp_path, env


def stack_config(project: Path) -> dict[str, object]:
    return yaml.safe_load((project / "stacks" / "Pulumi.qa.yaml").read_text())["config"]


@pytest.mark.slow
def test_the_seed_is_written_once_as_a_secret_and_credentials_rotate_one_by_one(
    project: tuple[Path, dict[str, str]],
) -> None:
    work_dir, env = project
    first = update_stack_secrets("qa", work_dir=work_dir, env=env)
    assert first.seed is SeedChange.CREATED
    config = stack_config(work_dir)
    ciphertext = config[SEED]
    assert isinstance(ciphertext, dict) and set(ciphertext) == {"secure"}
    assert "mlops-platform:environment" in config  # the rest of the file is untouched

    again = update_stack_secrets("qa", work_dir=work_dir, env=env, rotate=["storage-postgres-password"])
    assert (again.seed, again.rotations) == (SeedChange.KEPT, {"storage-postgres-password": 1})
    again = update_stack_secrets(
        "qa",
        work_dir=work_dir,
        env=env,
        rotate=["storage-postgres-password", "monitoring-grafana-admin-password"],
    )
    assert again.rotations == {"storage-postgres-password": 2, "monitoring-grafana-admin-password": 1}
    config = stack_config(work_dir)
    assert config[SEED] == ciphertext
    assert config[ROTATIONS] == {"storage-postgres-password": 2, "monitoring-grafana-admin-password": 1}
    # the spec loader accepts both keys (mlops validate)
    assert load_environment(work_dir / "stacks" / "Pulumi.qa.yaml").environment.name == "qa"

    replaced = update_stack_secrets("qa", work_dir=work_dir, env=env, new_seed=True)
    assert replaced.seed is SeedChange.REPLACED
    assert stack_config(work_dir)[SEED] != ciphertext


@pytest.mark.slow
def test_the_command_never_prints_the_seed(
    project: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    work_dir, env = project
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["--project", str(work_dir), "secrets", "qa"])
    assert (result.exit_code, result.output) == (0, "qa: credential seed created (secret)\n")
    # no terminal to confirm on
    result = CliRunner().invoke(app, ["--project", str(work_dir), "secrets", "qa", "--new-seed"])
    assert result.exit_code == 2 and "Pass --yes" in result.output
    seed = subprocess.run(
        [str(find_cli()), "config", "get", SEED, "--stack", "qa"],
        cwd=work_dir,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout.strip()
    assert len(seed) == 43 and seed not in result.output


def test_the_real_engine_commands_honour_mlops_pulumi_too(tmp_path: Path) -> None:
    """One choice of CLI for every command: a missing ``$MLOPS_PULUMI`` is refused, not passed over."""
    result = mlops(
        "audit", "dev", "--engine", "pulumi", env={"MLOPS_PULUMI": str(tmp_path / "no-such-pulumi")}
    )
    assert result.returncode == 2, result.stderr
    assert "no Pulumi CLI: run `mlops toolchain install`" in result.stderr
    assert "point MLOPS_PULUMI at one" in result.stderr
