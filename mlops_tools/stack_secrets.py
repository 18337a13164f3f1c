"""``mlops secrets ENV``: write a stack's credential seed and rotations as Pulumi stack config.

The seed (``mlops-platform:credentialSeed``) is ``secrets.token_urlsafe(32)`` (32 bytes from the OS
CSPRNG), encrypted by the stack's own secrets provider (``secure:`` in the stack file). It is written
only when the stack has none, unless ``new_seed`` asks to replace it (which rotates every credential).
Rotating one credential bumps its generation in the plain map ``mlops-platform:credentialRotations``
(``{name: generation}``). The seed is never printed or returned. The stack is the user's own, on the
backend of their environment (``PULUMI_BACKEND_URL``, ``pulumi login``, ``backend:`` in Pulumi.yaml),
created when missing.

**How the stack file is written.** As promote and rollback write it: read once (bytes and digest),
the new values set at their located spans (:mod:`mlops_platform.tools.stack_config_edit`, every other
byte kept), written by :func:`~mlops_platform.tools.atomic_write.write_atomic` under the file's lock,
refused when the file changed since it was read. The config is read as the engine reads it
(``read_stack_file``). Only the encryption needs the Pulumi CLI: a secrets provider (passphrase,
cloud KMS, Pulumi Cloud) is the CLI's, and there is no ``encrypt`` command. So the CLI runs ``pulumi
config set --secret`` (the value on standard input) on a *copy* of the stack file in a scratch
project beside it (``stack init`` first when the stack does not exist), never on the user's file; the
ciphertext, and the ``encryptionsalt`` (or ``encryptedkey``, ``secretsprovider``) the CLI gave a file
that had none, are taken from the copy. The CLI writing the user's file itself would re-emit it whole
and in place (comments and spacing changed, a kill mid-write leaving it cut).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlops_platform.stacks.credentials_config import (
    CREDENTIAL_ROTATIONS_KEY,
    CREDENTIAL_SEED_KEY,
    parse_rotations,
)
from mlops_platform.stacks.loader import has_secure
from mlops_platform.stacks.yaml_source import pulumi_config_text

if TYPE_CHECKING:
    from mlops_platform.tools.atomic_write import ReadFile
    from mlops_platform.tools.project import Project

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


STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # a stack's short name: its file is Pulumi.<name>.yaml
PROVIDER_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")
"""The stack file's keys beside ``config:`` that say how its ``secure:`` values are encrypted."""


def _run(cli: Path, args: Sequence[str], cwd: Path, env: Mapping[str, str], stdin: str | None = None) -> str:
    """``pulumi ARGS --non-interactive``; its standard output, or a SecretsError with its error lines."""
    try:
        done = subprocess.run(
            [str(cli), *args, "--non-interactive"],
            input=stdin,
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:  # not there, not executable
        raise SecretsError(f"cannot run the Pulumi CLI {cli}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise SecretsError(f"pulumi {' '.join(args[:2])}: {_cli_message(done.stderr)}")
    return done.stdout


def _backend_url(cli: Path, root: Path, env: Mapping[str, str]) -> str:
    """The backend the CLI uses in the project directory, as a URL that means the same from anywhere.

    ``pulumi whoami`` answers the URL as configured; a relative ``file://`` path is relative to the
    working directory (pulumi/pulumi ``pkg/backend/diy/backend.go``, ``massageBlobPath``): made absolute
    against the project directory, where the CLI would have run.
    """
    try:
        url = str(json.loads(_run(cli, ["whoami", "--json"], root, env))["url"])
    except (ValueError, KeyError, TypeError):
        raise SecretsError("pulumi whoami: not the JSON it answers (is this the Pulumi CLI?)") from None
    prefix = "file://"
    if url.startswith(prefix):
        where, mark, query = url[len(prefix) :].partition("?")
        if not where.startswith(("/", "~")):
            url = prefix + os.path.abspath(os.path.join(root, where)) + mark + query
    return url


def _encrypt(
    cli: Path, project: Project, stack_name: str, data: bytes, key: str, value: str, env: Mapping[str, str]
) -> tuple[str, dict[str, str]]:
    """(ciphertext of ``value`` under the stack's secrets provider, the provider keys of the file).

    The CLI runs on a copy of the stack file (``data``) in a scratch project beside the real one: the
    same project name, backend and stack; the user's file is never handed to it.
    """
    from mlops_platform.stacks.loader import read_stack_file
    from mlops_platform.stacks.yaml_source import SourceError
    from mlops_platform.tools.atomic_write import scratch_dir

    with scratch_dir(project.stack_file(stack_name), "secrets") as scratch:
        backend = _backend_url(cli, project.root, env)
        work = scratch / "project"
        (work / "stacks").mkdir(parents=True)
        settings = yaml.safe_load(project.project_file.read_text(encoding="utf-8"))
        settings["stackConfigDir"] = "stacks"  # the copy's layout, whatever the project's own
        (work / "Pulumi.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
        copy = work / "stacks" / f"Pulumi.{stack_name}.yaml"
        if data:
            copy.write_bytes(data)
        run_env = {**env, "PULUMI_BACKEND_URL": backend}
        listed = _run(cli, ["stack", "ls", "--json"], work, run_env)
        try:
            names = {str(entry["name"]).rsplit("/", 1)[-1] for entry in json.loads(listed)}
        except (ValueError, KeyError, TypeError):
            raise SecretsError("pulumi stack ls: not the JSON it answers (is this the Pulumi CLI?)") from None
        if stack_name not in names:
            _run(cli, ["stack", "init", "--stack", stack_name, "--no-select"], work, run_env)
        _run(cli, ["config", "set", "--secret", key, "--stack", stack_name], work, run_env, stdin=value)
        try:
            written = read_stack_file(copy, project.name)
        except SourceError as exc:
            raise SecretsError(f"the Pulumi CLI wrote a stack file it cannot read back: {exc}") from None
    secure = written.values.get(key)
    if not (isinstance(secure, dict) and set(secure) == {"secure"} and isinstance(secure["secure"], str)):
        raise SecretsError(f"the Pulumi CLI did not store {key} as a secret")
    document = written.located.data if isinstance(written.located.data, dict) else {}
    return secure["secure"], {k: str(document[k]) for k in PROVIDER_KEYS if k in document}


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
        stack_name: the Pulumi stack (``prod``) of ``work_dir``'s project, created when missing.
        rotate: credential names (``storage-postgres-password``) whose generation goes up by one.
        new_seed: replace an existing seed: every credential changes on the next ``pulumi up``.
        work_dir: the project directory (``Pulumi.yaml``; the stack file under its ``stackConfigDir``;
            its name is the config namespace); default: the working directory's project.
        cli: the Pulumi CLI (needed only to encrypt a seed); default ``find_cli()``.
        env: more environment for the CLI (a backend URL, a passphrase); default: this process's.

    Raises:
        SecretsError: a bad name; a stack file that cannot be read, or edited in place; one changed
            while this ran (nothing written); no Pulumi CLI to encrypt with, or the CLI failed.
    """
    from mlops_platform.tools.project import Project, ProjectError

    try:
        project = Project.find() if work_dir is None else Project.load(work_dir)
    except ProjectError as exc:
        raise SecretsError(str(exc)) from None
    if not STACK_NAME.fullmatch(stack_name):
        raise SecretsError(f"not a stack name (letters, digits, '_', '.', '-'): {stack_name!r}")
    bad = [name for name in rotate if not CREDENTIAL_NAME.fullmatch(name)]
    if bad:
        raise SecretsError(f"--rotate: not a credential name (such as storage-postgres-password): {bad[0]!r}")
    stack_file = project.stack_file(stack_name)
    read, values, document = _read(stack_file, project.name)
    seed_key = f"{project.name}:{CREDENTIAL_SEED_KEY}"
    rotations_key = f"{project.name}:{CREDENTIAL_ROTATIONS_KEY}"
    current = values.get(seed_key)
    value: str | None
    if current is None or new_seed:
        value = secrets.token_urlsafe(SEED_BYTES)
        change = SeedChange.CREATED if current is None else SeedChange.REPLACED
    elif has_secure(current):
        value, change = None, SeedChange.KEPT
    else:
        value, change = pulumi_config_text(current), SeedChange.SECURED
    try:
        generations = parse_rotations(values.get(rotations_key))
    except ValueError as exc:  # stored rotations that are not a map of generations
        raise SecretsError(f"{stack_file}: {project.name}:{exc}") from None
    rotated = {name: generations.get(name, 0) + 1 for name in dict.fromkeys(rotate)}
    config: dict[str, Any] = {}
    provider: dict[str, str] = {}
    if value is not None:
        cli = cli or find_cli()
        if cli is None:
            raise SecretsError(
                "no Pulumi CLI: run `mlops toolchain install`, install the official Pulumi CLI, "
                "or point MLOPS_PULUMI at one"
            )
        run_env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true", **(env or {})}
        ciphertext, provider = _encrypt(cli, project, stack_name, read.data, seed_key, value, run_env)
        config[seed_key] = {"secure": ciphertext}
        for key, written in provider.items():
            if key in document and str(document[key]) != written:
                raise SecretsError(
                    f"{stack_file}: the Pulumi CLI changed {key} (what the file's secure: values are "
                    "encrypted with); nothing written"
                )
    if rotated:
        config[rotations_key] = rotated
    if config:
        _write(stack_file, read, project.name, config, provider)
    return SecretsResult(stack_name, change, rotated)


def _read(stack_file: Path, namespace: str) -> tuple[ReadFile, dict[str, Any], dict[str, Any]]:
    """(the file as read for the edit, its config as the engine reads it, its top-level keys).

    The bytes are read first: a change after that is refused when writing, whichever reading saw it.
    A missing file is an empty one (the stack's first config).
    """
    from mlops_platform.stacks.loader import read_stack_file
    from mlops_platform.stacks.yaml_source import SourceError
    from mlops_platform.tools.atomic_write import read_for_edit

    try:
        read = read_for_edit(stack_file)
        read.text  # noqa: B018 - a file that is not UTF-8 is refused before anything runs
        if read.digest is None:
            return read, {}, {}
        stack = read_stack_file(stack_file, namespace)
    except UnicodeDecodeError:
        raise SecretsError(f"{stack_file}: not UTF-8 text") from None
    except OSError as exc:
        raise SecretsError(f"{stack_file}: cannot read it ({exc.strerror or exc})") from None
    except SourceError as exc:
        raise SecretsError("; ".join(str(p) for p in exc.problems) or str(stack_file)) from None
    if stack.problems:  # an edit of a file the engine reads otherwise than it looks: fixed first
        more = f" (and {len(stack.problems) - 1} more: mlops validate)" if len(stack.problems) > 1 else ""
        raise SecretsError(f"{stack.problems[0]}{more}")
    document = stack.located.data
    return read, stack.values, document if isinstance(document, dict) else {}


def _write(
    stack_file: Path, read: ReadFile, namespace: str, config: dict[str, Any], provider: dict[str, str]
) -> None:
    """The values set in place at their spans, written atomically unless the file changed since ``read``."""
    from mlops_platform.tools.atomic_write import WriteRefused, write_atomic
    from mlops_platform.tools.stack_config_edit import ConfigEditError, set_stack_config

    try:
        after = set_stack_config(read.text, stack_file, project=namespace, config=config, top_level=provider)
        write_atomic(stack_file, after, expect=read)
    except (ConfigEditError, WriteRefused) as exc:
        raise SecretsError(str(exc)) from None
    except OSError as exc:
        raise SecretsError(
            f"{stack_file}: cannot write it ({exc.strerror or exc}); it is unchanged"
        ) from None


def _cli_message(stderr: str) -> str:
    """The CLI's own error lines (``error: ...``); the seed is never on its command line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip().startswith("error:")]
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
