"""`mlops secrets ENV`: the credential seed as a Pulumi secret, written once; single-credential rotation.

Runs the real Pulumi CLI (when one is installed; under CI=true its absence fails) on a scratch project
with a file backend, never on the repository's stack files. The stack file is written as promote
writes it: every other byte kept, atomically, never over a change made meanwhile.
"""

from __future__ import annotations

import os
import random
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlops_platform.stacks.loader import load_environment
from mlops_platform.tools.atomic_write import TMP_MARK
from mlops_platform.tools.cli import app
from mlops_platform.tools.stack_secrets import SecretsError, SeedChange, find_cli, update_stack_secrets
from tests.cli_runner import kill_tree, mlops

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


def _scratch_project(root: Path) -> Path:
    """A project in ``root`` (the repository's Pulumi.yaml) with stack qa: staging's file, renamed."""
    (root / "stacks").mkdir()
    (root / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())  # stackConfigDir: stacks
    staging = (REPO / "stacks" / "Pulumi.staging.yaml").read_text()  # as stack qa: its name too
    stack_file = root / "stacks" / "Pulumi.qa.yaml"
    stack_file.write_text(staging.replace("name: staging", "name: qa"))
    return stack_file


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    cli = find_cli()
    if cli is None:
        message = "no Pulumi CLI (mlops toolchain install)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    _scratch_project(tmp_path)
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


SEED_BLOCK = re.compile(
    rf"  {SEED}:\n    secure: (v1:[A-Za-z0-9+/=:]+)\nencryptionsalt: (v1:[A-Za-z0-9+/=:]+)\n"
)
"""What `mlops secrets` adds to staging's file (a first seed of a passphrase stack): nothing else."""


def test_a_rotation_needs_no_pulumi_cli_and_adds_only_its_lines(tmp_path: Path) -> None:
    """The seed is already a secret: rotating writes one plain value, with no CLI to run (main ran one)."""
    stack_file = _scratch_project(tmp_path)
    before = stack_file.read_text().replace(
        "config:\n", f"config:\n  {SEED}:   # set by mlops secrets\n    secure: v1:abc:def\n", 1
    )
    stack_file.write_text(before)
    result = update_stack_secrets(
        "qa", work_dir=tmp_path, rotate=["storage-postgres-password"], cli=tmp_path / "no-such-pulumi"
    )
    assert (result.seed, result.rotations) == (SeedChange.KEPT, {"storage-postgres-password": 1})
    assert stack_file.read_text() == before + f"  {ROTATIONS}:\n    storage-postgres-password: 1\n"
    again = update_stack_secrets("qa", work_dir=tmp_path, rotate=["storage-postgres-password"])
    assert again.rotations == {"storage-postgres-password": 2}
    assert stack_file.read_text() == before + f"  {ROTATIONS}:\n    storage-postgres-password: 2\n"
    assert [p.name for p in stack_file.parent.iterdir()] == ["Pulumi.qa.yaml"]


def test_stored_rotations_that_are_not_generations_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    stack_file = _scratch_project(tmp_path)
    before = stack_file.read_text().replace(
        "config:\n", f"config:\n  {SEED}:\n    secure: v1:abc\n  {ROTATIONS}: {{a-b: true}}\n", 1
    )
    stack_file.write_text(before)
    with pytest.raises(SecretsError) as info:
        update_stack_secrets("qa", work_dir=tmp_path, rotate=["a-b"], cli=tmp_path / "no-such-pulumi")
    assert str(info.value) == (
        f"{stack_file}: mlops-platform:credentialRotations.a-b: a generation is a non-negative integer "
        "(got True)"
    )
    assert stack_file.read_text() == before


@pytest.mark.slow
def test_the_stack_file_keeps_every_other_byte(project: tuple[Path, dict[str, str]]) -> None:
    """main ran `pulumi config set` on the file itself: the CLI re-emits it whole ("x  # c" became
    "x # c", encryptionsalt moved); now only the seed's lines and the salt are added."""
    work_dir, env = project
    stack_file = work_dir / "stacks" / "Pulumi.qa.yaml"
    before = stack_file.read_text().replace(
        "    receivers:\n", "    receivers:   # who is told  (two spaces stay)\n"
    )
    stack_file.write_text(before)
    assert update_stack_secrets("qa", work_dir=work_dir, env=env).seed is SeedChange.CREATED
    after = stack_file.read_text()
    assert after.startswith(before) and SEED_BLOCK.fullmatch(after[len(before) :]), after[len(before) :]
    assert stat.S_IMODE(stack_file.stat().st_mode) == 0o644
    seed = _seed_from_cli(work_dir, env)  # Pulumi decrypts what was written beside its own output
    assert len(seed) == 43


def _seed_from_cli(work_dir: Path, env: dict[str, str]) -> str:
    return subprocess.run(
        [str(find_cli()), "config", "get", SEED, "--stack", "qa"],
        cwd=work_dir,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout.strip()


@pytest.mark.slow
def test_a_stack_file_changed_while_secrets_runs_is_not_overwritten(
    project: tuple[Path, dict[str, str]],
) -> None:
    """An editor saves the stack file while the CLI encrypts the seed: refused, the save stays.

    main had no digest check: its `pulumi config set` read and wrote the file itself, whatever had
    happened to it since the command started.
    """
    work_dir, env = project
    stack_file = work_dir / "stacks" / "Pulumi.qa.yaml"
    saved = stack_file.read_text() + "# saved by an editor\n"
    editor = work_dir / "saved.yaml"
    editor.write_text(saved)
    wrapper = work_dir / "pulumi-wrapper"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = config ] && [ "$2" = set ]; then cp {_sh(str(editor))} {_sh(str(stack_file))}; fi\n'
        f'exec {_sh(str(find_cli()))} "$@"\n'
    )
    wrapper.chmod(0o755)
    with pytest.raises(SecretsError) as info:
        update_stack_secrets("qa", work_dir=work_dir, env=env, cli=wrapper)
    assert str(info.value) == (
        f"{stack_file}: changed since this command read it (another command or an editor wrote it); "
        "run it again; nothing written"
    )
    assert stack_file.read_text() == saved
    assert [p.name for p in stack_file.parent.iterdir()] == ["Pulumi.qa.yaml"]


def _sh(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.mark.slow
def test_secrets_killed_at_random_points_leaves_the_old_or_the_new_file(
    project: tuple[Path, dict[str, str]],
) -> None:
    """SIGKILL during `mlops secrets qa`: the file is the old one, or the old one plus the seed's lines."""
    work_dir, env = project
    stack_file = work_dir / "stacks" / "Pulumi.qa.yaml"
    old = stack_file.read_bytes()
    args = [sys.executable, "-m", "mlops_platform.tools.cli", "--project", str(work_dir), "secrets", "qa"]
    run_env = {**os.environ, **env}
    assert subprocess.run(args, env=run_env, capture_output=True, check=False).returncode == 0  # stack init
    stack_file.write_bytes(old)
    started = time.monotonic()  # a run as the killed ones run: the stack exists
    assert subprocess.run(args, env=run_env, capture_output=True, check=False).returncode == 0
    runtime = time.monotonic() - started
    seen = {"old": 0, "new": 0}
    rng = random.Random(25)
    for _ in range(15):
        stack_file.write_bytes(old)
        process = subprocess.Popen(
            args, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(rng.uniform(0.3, 1.2) * runtime)
        kill_tree(process)  # and what it started
        data = stack_file.read_bytes()
        if data == old:
            seen["old"] += 1  # killed before its write (its CLI may still finish, in the scratch copy)
        else:
            assert data.startswith(old) and SEED_BLOCK.fullmatch(data[len(old) :].decode()), data[len(old) :]
            seen["new"] += 1
    assert seen["old"] and seen["new"], seen
    stack_file.write_bytes(old)
    assert subprocess.run(args, env=run_env, capture_output=True, check=False).returncode == 0
    assert sorted(p.name for p in stack_file.parent.iterdir() if TMP_MARK in p.name) == []


def test_a_pulumi_cli_that_cannot_run_is_a_located_error(tmp_path: Path) -> None:
    """main let the OSError through (exit 70 from the command)."""
    stack_file = _scratch_project(tmp_path)
    before = stack_file.read_bytes()
    with pytest.raises(SecretsError) as info:
        update_stack_secrets("qa", work_dir=tmp_path, cli=tmp_path / "no-such-pulumi")
    missing = tmp_path / "no-such-pulumi"
    assert str(info.value) == f"cannot run the Pulumi CLI {missing}: No such file or directory"
    assert stack_file.read_bytes() == before
    assert [p.name for p in stack_file.parent.iterdir()] == ["Pulumi.qa.yaml"]
