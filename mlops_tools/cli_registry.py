"""`mlops registry snapshot`, `mlops promote`, `mlops rollback`: the model registry from the command line.

Thin commands over ``mlops_platform.tools.registry``, imported inside each command so ``mlops --help``
stays fast. The CLI reads registry credentials from ``MLFLOW_TRACKING_TOKEN`` / ``MLFLOW_TRACKING_PASSWORD``
(the program reads the Pulumi secrets the spec names). Failures exit 2 with one line, never a traceback;
promote exits 1 when the target tier's registry rules refuse the version.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from mlops_platform.stacks.schema import EnvironmentSpec
    from mlops_platform.tools.registry.lookup import Lookup

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT = 0, 1, 2

registry_app = typer.Typer(
    help="Consult the model registry an environment names (environment.registry_source).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_out = Console(soft_wrap=True, highlight=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

EnvArg = Annotated[str, typer.Argument(help="Stack name resolved to stacks/Pulumi.ENV.yaml, or a path.")]
SnapshotOpt = Annotated[
    Path | None,
    typer.Option("--registry-snapshot", help="Resolve from this snapshot file instead of the live registry."),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Write the change (default: show the diff only).")]


def _fail(message: str) -> typer.Exit:
    _err.print(f"error: {message}", markup=False)
    return typer.Exit(EXIT_BAD_INPUT)


def _load(env: str) -> tuple[Path, EnvironmentSpec]:
    from mlops_platform.stacks.loader import SpecError, load_environment, resolve_environment
    from mlops_platform.tools.cli import _project  # the invocation's project (--project or found)

    project = _project()
    try:
        path = resolve_environment(env, project.stack_config_dir)
        return path, load_environment(path, project=project.name)
    except SpecError as exc:
        for problem in exc.problems:
            _err.print(str(problem), markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _lookup(spec: EnvironmentSpec, snapshot_file: Path | None, *, required: bool = True) -> Lookup | None:
    from mlops_platform.tools.registry.client import RegistryError
    from mlops_platform.tools.registry.promotion import cli_lookup

    source = spec.environment.registry_source
    if source is None:
        if required:
            raise _fail(f"environment {spec.environment.name} names no environment.registry_source")
        return None
    try:
        return cli_lookup(source, snapshot_file)
    except RegistryError as exc:
        raise _fail(str(exc)) from None


def use_registry_snapshot(snapshot_file: Path | None) -> None:
    """For ``mlops audit --registry-snapshot``: check the file, then let the program resolve from it."""
    if snapshot_file is None:
        return
    from mlops_platform.tools.registry.client import RegistryError
    from mlops_platform.tools.registry.lookup import SNAPSHOT_ENV, read_snapshot

    try:
        read_snapshot(snapshot_file)
    except RegistryError as exc:
        raise _fail(f"--registry-snapshot: {exc}") from None
    os.environ[SNAPSHOT_ENV] = str(snapshot_file.resolve())


@registry_app.command("snapshot")
def snapshot_command(
    env: EnvArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
) -> None:
    """Write every version and alias of ENV's models, from its live registry, to a snapshot file.

    `mlops audit ENV --registry-snapshot FILE` then judges against it offline, reproducibly.
    """
    from mlops_platform.tools.registry.client import RegistryError
    from mlops_platform.tools.registry.resolve import snapshot

    _path, spec = _load(env)
    lookup = _lookup(spec, None)
    assert lookup is not None
    try:
        document = snapshot(spec, lookup)
    except RegistryError as exc:
        raise _fail(str(exc)) from None
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    models = document["models"]
    count = sum(len(m["versions"]) for m in models.values())
    _err.print(f"wrote {output}: {len(models)} models, {count} versions", markup=False)


def _rewrite(path: Path, model: str, version: int) -> tuple[str, str]:
    from mlops_platform.tools.registry.stackfile import StackFileError, pinned_text, unified_diff

    try:
        before, after = pinned_text(path, model, version)
    except StackFileError as exc:
        raise _fail(str(exc)) from None
    diff = unified_diff(path, before, after)
    _out.print(
        diff.rstrip("\n") if diff else f"{path}: {model} already pinned to version {version}", markup=False
    )
    return before, after


def _write(path: Path, before: str, after: str, yes: bool) -> None:
    if before == after:
        return
    if not yes:
        _err.print("not written: pass --yes to write this change", markup=False)
        return
    path.write_text(after, encoding="utf-8")
    _err.print(f"wrote {path}", markup=False)


def promote(
    model: Annotated[str, typer.Argument(help="Endpoint name (serving.models[].name).")],
    source: Annotated[str, typer.Option("--from", help="Environment whose served version is promoted.")],
    target: Annotated[str, typer.Option("--to", help="Environment whose stack file is rewritten.")],
    yes: YesOpt = False,
    registry_snapshot: SnapshotOpt = None,
) -> None:
    """Pin in TO's stack file the version FROM serves, once TO's registry rules accept it.

    Shows the change as a diff; writes it only with --yes. Exit 1 when the target tier refuses it.
    """
    from mlops_platform.tools.registry.promotion import PromotionError, registry_gate, served, served_version

    _source_path, source_spec = _load(source)
    target_path, target_spec = _load(target)
    try:
        resolution = served(source_spec, model, _lookup(source_spec, registry_snapshot, required=False))
        version = served_version(resolution)
        target_lookup = _lookup(target_spec, registry_snapshot)
        assert target_lookup is not None
        _out.print(
            f"{model}: {source} serves version {version} ({resolution.ref}); pinning it in {target}",
            markup=False,
        )
        before, after = _rewrite(target_path, model, version)
        gate = registry_gate(target_spec.environment.name, after, target_spec, model, target_lookup)
    except PromotionError as exc:
        raise _fail(str(exc)) from None
    if gate.blocking:
        for policy, urn, message in gate.blocking:
            _err.print(f"refused: {policy}: {urn}: {message}", markup=False)
        _err.print(
            f"mlops promote: {target} ({target_spec.environment.tier}) refuses version {version} of {model}: "
            f"{len(gate.blocking)} mandatory registry finding(s); nothing written",
            markup=False,
        )
        raise typer.Exit(EXIT_REFUSED)
    _err.print(
        f"registry rules of {target} ({target_spec.environment.tier}) pass for version {version}",
        markup=False,
    )
    _write(target_path, before, after, yes)


def rollback(
    model: Annotated[str, typer.Argument(help="Endpoint name (serving.models[].name).")],
    env: EnvArg,
    yes: YesOpt = False,
    registry_snapshot: SnapshotOpt = None,
) -> None:
    """Pin in ENV's stack file the newest registered version older than the one ENV serves.

    Shows the change as a diff; writes it only with --yes.
    """
    from mlops_platform.tools.registry.promotion import (
        PromotionError,
        previous_version,
        served,
        served_version,
    )

    path, spec = _load(env)
    lookup = _lookup(spec, registry_snapshot)
    assert lookup is not None
    try:
        resolution = served(spec, model, lookup)
        current = served_version(resolution)
        previous = previous_version(lookup, resolution.model, current)
    except PromotionError as exc:
        raise _fail(str(exc)) from None
    _out.print(
        f"{model}: {env} serves version {current} ({resolution.ref}); rolling back to {previous}",
        markup=False,
    )
    before, after = _rewrite(path, model, previous)
    _write(path, before, after, yes)


def register(app: typer.Typer) -> None:
    """Add ``registry``, ``promote`` and ``rollback`` to the ``mlops`` app."""
    app.add_typer(registry_app, name="registry")
    app.command()(promote)
    app.command()(rollback)
