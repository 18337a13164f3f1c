"""A stack the real engine can run: an ephemeral one made from a stack file, or the user's own.

An *ephemeral* stack needs nothing but the stack file: a private ``PULUMI_HOME``, a file backend and
a passphrase under a temporary directory, a copy of the project file and of the stack file, read by
the engine as they are. ``secure:`` values in the file were encrypted under another stack's key and
cannot be decrypted here; each is replaced by the offline audit's placeholder for it, set as a real
Pulumi secret, so both engines run the program on the same values (the credential seed too, when
the file has none).

A *named* stack (``--stack``) is the user's: their backend, secrets provider and config, in the
project directory. Nothing here writes to it except what the operation itself does.

Either way the engine runs the project's own program (``Project.program``) as an inline program,
from the program's directory as the language host would, in this process's interpreter.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_platform.stacks.credentials_config import CREDENTIAL_SEED_KEY, credential_seed_placeholder
from mlops_platform.tools.atomic_write import absent, write_atomic
from mlops_platform.tools.engine.config import environment_name, secret_placeholder
from mlops_platform.tools.project import Project, project_or_cwd

# The engine's own switches for a machine with no Pulumi Cloud and no plugin downloads.
OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PULUMI_SKIP_CONFIRMATIONS": "true",
}


class EngineUnavailable(RuntimeError):
    """No Pulumi CLI (or no kubernetes provider) to run the real engine with."""


@dataclass(frozen=True, slots=True)
class EngineTools:
    """The binaries a real-engine run uses."""

    pulumi: Path
    kubernetes_provider_dir: Path | None = None  # None: the engine finds its installed plugin itself


def find_engine_tools() -> EngineTools:
    """The CLI ``find_pulumi`` chooses, with the toolchain's kubernetes provider when it is built.

    ``find_pulumi`` honours ``$MLOPS_PULUMI``, then the toolchain's build, then a new enough CLI on
    PATH; without the toolchain's provider the engine finds its installed plugin itself.

    Raises:
        EngineUnavailable: no Pulumi CLI at all.
    """
    from mlops_platform.tools.toolchain import find_pulumi, installed

    pulumi = find_pulumi()
    if pulumi is None:
        raise EngineUnavailable(
            "no Pulumi CLI: run `mlops toolchain install` (builds the pinned CLI and kubernetes provider "
            "from the Go module proxy), install the official Pulumi CLI, or point MLOPS_PULUMI at one"
        )
    built = installed(["kubernetes-provider"])
    return EngineTools(pulumi, built.kubernetes_provider_dir if built is not None else None)


@dataclass(slots=True)
class StackHandle:
    """A selected stack and the environment its engine runs with."""

    stack: Any  # pulumi.automation.Stack
    name: str
    work_dir: Path
    env: dict[str, str]
    ephemeral: bool
    scratch: Path  # private files of this run (launchers, renders); removed afterwards
    tools: EngineTools
    placeholders: frozenset[str] = field(default_factory=frozenset)


def run_cli(handle: StackHandle, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the stack's Pulumi CLI on it (``pulumi <args> --stack <name>``) with its environment.

    For the commands the Automation API does not offer as the CLI runs them: ``stack export``
    without ``--show-secrets``, ``policy analyze``, ``state unprotect``.
    """
    return subprocess.run(
        [str(handle.tools.pulumi), *args, "--stack", handle.name, "--non-interactive"],
        input=stdin,
        cwd=handle.work_dir,
        env={**os.environ, **handle.env},
        capture_output=True,
        text=True,
        check=False,
    )


def _secure_paths(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(config path, ciphertext)`` of every ``secure:`` leaf, in Pulumi's path syntax."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        yield path, str(value["secure"])
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secure_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secure_paths(item, f"{path}[{index}]")


def project_program(project: Project) -> Callable[[], None]:
    """The project's program as an inline program: its file run as ``__main__`` from its directory."""

    def run() -> None:
        import runpy

        from mlops_platform.tools.engine.capture import _program_dir

        with _program_dir(project.program):
            runpy.run_path(str(project.program), run_name="__main__")

    return run


def _project_settings(project: Project, provider_dir: Path | None) -> str:
    """The project file as it is, plus a plugin entry that makes the engine use the built provider."""
    settings = yaml.safe_load(project.project_file.read_text(encoding="utf-8"))
    if provider_dir is not None:
        # The SDK asks for the provider version it was generated for; a project plugin entry with a
        # path serves that request from the toolchain's build (pulumi-toolchain.md).
        settings["plugins"] = {"providers": [{"name": "kubernetes", "path": str(provider_dir)}]}
    return yaml.safe_dump(settings, sort_keys=False)


def _engine_env(
    tools: EngineTools, home: Path, backend: str | None, passphrase: str | None
) -> dict[str, str]:
    env = dict(OFFLINE_ENV)
    env["PULUMI_HOME"] = str(home)
    path = [str(tools.pulumi.parent)]
    if tools.kubernetes_provider_dir is not None:
        path.append(str(tools.kubernetes_provider_dir))
    env["PATH"] = os.pathsep.join([*path, os.environ.get("PATH", "")])
    if backend is not None:
        env["PULUMI_BACKEND_URL"] = backend
    if passphrase is not None:
        env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    return env


def pulumi_command(cli: Path, root: Path) -> Any:
    """A ``PulumiCommand`` for ``cli``: the SDK runs ``<root>/bin/pulumi``, so link it there."""
    from pulumi.automation import PulumiCommand

    (root / "bin").mkdir(parents=True, exist_ok=True)
    link = root / "bin" / "pulumi"
    if not link.exists():
        link.symlink_to(cli)
    return PulumiCommand(root=str(root), skip_version_check=True)


@contextmanager
def open_stack(
    env_file: Path,
    *,
    project: Project | None = None,
    stack_name: str | None = None,
    tools: EngineTools | None = None,
    extra_config: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    keep: Path | None = None,
) -> Iterator[StackHandle]:
    """Select the stack an operation runs on, with the platform program as its inline program.

    Args:
        env_file: the environment's stack file (``<stackConfigDir>/Pulumi.<ENV>.yaml``).
        project: the Pulumi project: its name, program and project file (default: the working
            directory's).
        stack_name: a real stack of the user's backend, run in the project directory; None makes an
            ephemeral stack from ``env_file`` alone.
        tools: the CLI and provider (default: ``find_engine_tools()``).
        extra_config: plain config values to set on an ephemeral stack (``kubernetes:*`` settings).
        extra_env: more environment for the engine (``KUBECONFIG``).
        keep: put the ephemeral state here and keep it (for a later ``up`` or ``destroy`` of the
            same stack); default: a temporary directory removed on exit.
    """
    from pulumi import automation as auto

    project = project_or_cwd(project)
    tools = tools or find_engine_tools()
    scratch = Path(tempfile.mkdtemp(prefix="mlops-engine-"))
    try:
        if stack_name is not None:
            env = _engine_env(tools, Path(os.environ.get("PULUMI_HOME", Path.home() / ".pulumi")), None, None)
            env.pop("PULUMI_HOME")  # the user's own home, backend and passphrase, from their environment
            env.update(extra_env or {})
            opts = auto.LocalWorkspaceOptions(
                work_dir=str(project.root),
                env_vars=env,
                pulumi_command=pulumi_command(tools.pulumi, scratch / "cli"),
            )
            stack = auto.select_stack(stack_name, project.name, project_program(project), opts=opts)
            yield StackHandle(stack, stack_name, project.root, env, False, scratch, tools)
            return
        yield _ephemeral(env_file, project, tools, scratch, keep, extra_config or {}, extra_env or {})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _link_project_files(root: Path, work_dir: Path) -> None:
    """Link the project's own files into the ephemeral copy, which the engine runs providers from.

    A plugin's working directory is the project directory the engine runs in (the copy): a chart
    path (``./chart``) or a manifest (``manifests/api.yaml``) the provider reads is relative to it, as
    in the project itself. The copy's project file and stack files stay its own.
    """
    for entry in root.iterdir():
        if entry.name in {"Pulumi.yaml", "Pulumi.yml", "stacks"} or entry.name.startswith("Pulumi."):
            continue
        link = work_dir / entry.name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(entry)


def _ephemeral(
    env_file: Path,
    project: Project,
    tools: EngineTools,
    scratch: Path,
    keep: Path | None,
    extra_config: Mapping[str, str],
    extra_env: Mapping[str, str],
) -> StackHandle:
    from pulumi import automation as auto

    name = environment_name(env_file)
    base = keep if keep is not None else scratch
    work_dir = base / "project"
    state, home = base / "state", base / "home"
    for directory in (work_dir / "stacks", state, home):
        directory.mkdir(parents=True, exist_ok=True)
    passphrase_file = base / "passphrase"
    if not passphrase_file.exists():  # whole or absent: a kept stack's secrets depend on it
        write_atomic(
            passphrase_file, secrets.token_urlsafe(24), expect=absent(passphrase_file), new_mode=0o600
        )
    env = _engine_env(tools, home, f"file://{state}", passphrase_file.read_text(encoding="utf-8"))
    env.update(extra_env)
    settings = yaml.safe_load(_project_settings(project, tools.kubernetes_provider_dir))
    settings["stackConfigDir"] = "stacks"  # the copy's layout, whatever the project's own
    settings.pop("main", None)  # the program runs inline, from the project itself
    write_atomic(work_dir / "Pulumi.yaml", yaml.safe_dump(settings, sort_keys=False))
    _link_project_files(project.root, work_dir)
    text = env_file.read_text(encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    target = work_dir / "stacks" / f"Pulumi.{name}.yaml"
    # A kept stack's file gets the environment's current text again, with the salt the engine wrote
    # into it at `stack init`: the state's secrets are encrypted under a key derived from it.
    salt = (
        (yaml.safe_load(target.read_text(encoding="utf-8")) or {}).get("encryptionsalt")
        if target.exists()
        else None
    )
    # Atomic: a kill mid-write of a kept stack's file would lose the salt, and with it its secrets.
    write_atomic(target, text if salt is None else f"encryptionsalt: {salt}\n{text}")
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        pulumi_home=str(home),
        env_vars=env,
        pulumi_command=pulumi_command(tools.pulumi, scratch / "cli"),
    )
    stack = auto.create_or_select_stack(name, project.name, project_program(project), opts=opts)
    placeholders: set[str] = set()
    values: dict[str, Any] = {}  # top-level keys, set in one CLI call
    config = doc.get("config") if isinstance(doc, dict) else None
    for raw_key, value in (config or {}).items():
        key = str(raw_key) if ":" in str(raw_key) else f"{project.name}:{raw_key}"
        for path, ciphertext in _secure_paths(value, key):
            stand_in = secret_placeholder(path, ciphertext)
            placeholders.add(stand_in)
            if path == key:
                values[key] = auto.ConfigValue(stand_in, secret=True)
            else:  # a secure leaf inside an object: Pulumi's path syntax
                stack.set_config(path, auto.ConfigValue(stand_in, secret=True), path=True)
    seed_key = f"{project.name}:{CREDENTIAL_SEED_KEY}"
    if not any(str(k) in {seed_key, CREDENTIAL_SEED_KEY} for k in (config or {})):
        stand_in = credential_seed_placeholder(name)  # as the offline audit stands in for it
        placeholders.add(stand_in)
        values[seed_key] = auto.ConfigValue(stand_in, secret=True)
    values.update({key: auto.ConfigValue(value) for key, value in extra_config.items()})
    if values:
        stack.set_all_config(values)
    return StackHandle(stack, name, work_dir, env, True, scratch, tools, frozenset(placeholders))
