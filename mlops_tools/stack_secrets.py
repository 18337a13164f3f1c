"""``mlops secrets ENV``: write a stack's credential seed and rotations as Pulumi stack config.

The seed (``mlops-platform:credentialSeed``) is ``secrets.token_urlsafe(32)`` (32 bytes from the OS
CSPRNG), stored with ``pulumi config set --secret`` through the Automation API, so the stack's secrets
provider encrypts it (``secure:`` in ``stacks/Pulumi.ENV.yaml``). It is written only when the stack has
none, unless ``new_seed`` asks to replace it (which rotates every credential). Rotating one credential
bumps its generation in the plain map ``mlops-platform:credentialRotations`` (``{name: generation}``).
The seed is never printed or returned. The stack is the user's own, in the project directory, on the
backend of their environment (``PULUMI_BACKEND_URL``, ``pulumi login``), created when missing.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from mlops_platform.stacks.credentials_config import (
    CREDENTIAL_ROTATIONS_KEY,
    CREDENTIAL_SEED_KEY,
    parse_rotations,
)

SEED_BYTES = 32  # 256 bits from secrets.token_urlsafe: 43 URL-safe characters
CREDENTIAL_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")  # child names: f"{component}-{role}"


class SecretsError(RuntimeError):
    """No Pulumi CLI to write with, or the CLI refused (its message, which never holds the seed)."""


class SeedChange(StrEnum):
    """What happened to the stack's seed."""

    CREATED = "created"
    KEPT = "kept"
    REPLACED = "replaced"
    SECURED = "secured"
    """It was stored in plaintext: the same value is now stored as a secret (credentials unchanged)."""


@dataclass(frozen=True, slots=True)
class SecretsResult:
    """What ``update_stack_secrets`` changed; no secret value in it."""

    stack: str
    seed: SeedChange
    rotations: dict[str, int] = field(default_factory=dict)
    """Credential name -> its new generation, for each rotated credential."""


def find_cli() -> Path | None:
    """The Pulumi CLI: the toolchain's choice (``$MLOPS_PULUMI``, its build, a new enough one on PATH)."""
    from mlops_platform.tools.toolchain import find_pulumi

    return find_pulumi()


def _noop() -> None:
    """The inline program of a workspace that only writes config: never run."""


def _get(stack: Any, key: str) -> Any | None:
    """``stack.get_config(key)``, None when the key is not set."""
    from pulumi.automation import errors

    try:
        return stack.get_config(key)
    except errors.CommandError as exc:
        if "not found" in str(exc):
            return None
        raise


def _set_secret(cli: Path, work_dir: Path, stack: str, key: str, value: str, env: Mapping[str, str]) -> None:
    """``pulumi config set --secret KEY`` with the value on standard input.

    The Automation API's ``set_config`` passes the value as a command-line argument, which every local
    user can read in the process list while the command runs.
    """
    import os
    import subprocess

    done = subprocess.run(
        [str(cli), "config", "set", "--secret", key, "--stack", stack, "--non-interactive"],
        input=value,
        cwd=work_dir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SecretsError(f"pulumi config set --secret {key}: {done.stderr.strip()}")


def update_stack_secrets(
    stack_name: str,
    *,
    rotate: Sequence[str] = (),
    new_seed: bool = False,
    work_dir: Path | None = None,
    cli: Path | None = None,
    env: dict[str, str] | None = None,
) -> SecretsResult:
    """Give ``stack_name`` a credential seed when it has none, replace it, or rotate single credentials.

    Args:
        stack_name: the Pulumi stack (``prod``), selected or created in ``work_dir``'s project.
        rotate: credential names (``storage-postgres-password``) whose generation goes up by one.
        new_seed: replace an existing seed: every credential changes on the next ``pulumi up``.
        work_dir: the project directory (``Pulumi.yaml``; the stack file under its ``stackConfigDir``;
            its name is the config namespace); default: the working directory's project.
        cli: the Pulumi CLI; default ``find_cli()``.
        env: more environment for the CLI (a backend URL, a passphrase); default: this process's.

    Raises:
        SecretsError: no Pulumi CLI, or the CLI failed.
    """
    from pulumi import automation as auto

    from mlops_platform.tools.engine_pulumi.workspace import pulumi_command
    from mlops_platform.tools.project import Project, ProjectError

    try:
        project = Project.find() if work_dir is None else Project.load(work_dir)
    except ProjectError as exc:
        raise SecretsError(str(exc)) from None
    bad = [name for name in rotate if not CREDENTIAL_NAME.fullmatch(name)]
    if bad:
        raise SecretsError(f"--rotate: not a credential name (such as storage-postgres-password): {bad[0]!r}")
    cli = cli or find_cli()
    if cli is None:
        raise SecretsError(
            "no Pulumi CLI: run `mlops toolchain install`, install the official Pulumi CLI, "
            "or point MLOPS_PULUMI at one"
        )
    scratch = Path(tempfile.mkdtemp(prefix="mlops-secrets-"))
    try:
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(project.root),
            pulumi_command=pulumi_command(cli, scratch / "cli"),
            env_vars={"PULUMI_SKIP_UPDATE_CHECK": "true", **(env or {})},
        )
        stack = auto.create_or_select_stack(
            stack_name=stack_name, project_name=project.name, program=_noop, opts=opts
        )
        seed_key = f"{project.name}:{CREDENTIAL_SEED_KEY}"
        rotations_key = f"{project.name}:{CREDENTIAL_ROTATIONS_KEY}"
        current = _get(stack, seed_key)
        if current is None or new_seed:
            value = secrets.token_urlsafe(SEED_BYTES)
            change = SeedChange.CREATED if current is None else SeedChange.REPLACED
        elif not current.secret:
            value, change = current.value, SeedChange.SECURED
        else:
            value, change = None, SeedChange.KEPT
        if value is not None:
            _set_secret(cli, project.root, stack_name, seed_key, value, opts.env_vars or {})
        rotated: dict[str, int] = {}
        if rotate:
            stored = _get(stack, rotations_key)
            generations = parse_rotations(json.loads(stored.value) if stored is not None else None)
            for name in dict.fromkeys(rotate):
                rotated[name] = generations.get(name, 0) + 1
                # --path stores the generation as an integer in a map: {name: 2} in the stack file
                stack.set_config(
                    f'{rotations_key}["{name}"]', auto.ConfigValue(str(rotated[name])), path=True
                )
        return SecretsResult(stack_name, change, rotated)
    except auto.errors.CommandError as exc:
        raise SecretsError(_cli_message(exc)) from None
    except ValueError as exc:  # stored rotations that are not a map of generations
        raise SecretsError(f"stack {stack_name!r}: {project.name}:{exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _cli_message(exc: Exception) -> str:
    """The CLI's own error lines (``error: ...``) without the command line, which holds the new seed."""
    text = getattr(exc, "stderr", None) or str(exc)
    lines = [line.strip() for line in str(text).splitlines() if line.strip().startswith("error:")]
    return "; ".join(lines) or "the Pulumi CLI failed (run with PULUMI_DEBUG_COMMANDS=true for details)"


def describe(result: SecretsResult) -> list[str]:
    """What changed, one line each, for people; never a secret value."""
    seed = {
        SeedChange.CREATED: "credential seed created (secret)",
        SeedChange.KEPT: "credential seed already set: kept (pass --new-seed to replace it)",
        SeedChange.REPLACED: "credential seed replaced: every generated credential changes on the next up",
        SeedChange.SECURED: "credential seed was stored in plaintext: now stored as a secret, same value",
    }[result.seed]
    lines = [f"{result.stack}: {seed}"]
    lines += [f"{result.stack}: {name} rotated to generation {gen}" for name, gen in result.rotations.items()]
    return lines
