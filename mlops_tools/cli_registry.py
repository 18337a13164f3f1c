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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from mlops_platform.stacks.schema import EnvironmentSpec
    from mlops_platform.tools.atomic_write import ReadFile
    from mlops_platform.tools.project import Project
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


_chosen_project: list[Callable[[], Project]] = []
"""The ``mlops`` app's project of this invocation (see :func:`register`)."""


def _fail(message: str) -> typer.Exit:
    _err.print(f"error: {message}", markup=False)
    return typer.Exit(EXIT_BAD_INPUT)


@dataclass(frozen=True, slots=True)
class _Env:
    """One environment as named on the command line: its stack file, spec and project (config namespace)."""

    path: Path
    spec: EnvironmentSpec
    project: Project | None
    """The project the file belongs to (None: a file outside any; its keys are ``mlops-platform:``)."""

    @property
    def namespace(self) -> str:
        from mlops_platform.stacks.loader import PROJECT

        return PROJECT if self.project is None else self.project.name


def _load(env: str) -> _Env:
    """ENV as a path, or a stack name in the chosen project (``--project``/``-C``, else the working one's)."""
    from mlops_platform.stacks.loader import SpecError, load_environment, resolve_environment
    from mlops_platform.tools.project import Project, ProjectError

    try:
        is_path = Path(env).suffix in {".yaml", ".yml"} or "/" in env
        path = resolve_environment(env, None if is_path else _chosen_project[-1]().stack_config_dir)
        try:
            owner: Project | None = Project.find(path.resolve().parent)
        except ProjectError:
            owner = None
        spec = load_environment(path, project=owner.name if owner else None)
    except SpecError as exc:
        for problem in exc.problems:
            _err.print(str(problem), markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return _Env(path, spec, owner)


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
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")] = False,
) -> None:
    """Write every version and alias of ENV's models, from its live registry, to a snapshot file.

    `mlops audit ENV --registry-snapshot FILE` then judges against it offline, reproducibly.
    """
    from mlops_platform.tools.cli_guard import write_output
    from mlops_platform.tools.registry.client import RegistryError
    from mlops_platform.tools.registry.resolve import snapshot

    loaded = _load(env)
    lookup = _lookup(loaded.spec, None)
    assert lookup is not None
    try:
        document = snapshot(loaded.spec, lookup)
    except RegistryError as exc:
        raise _fail(str(exc)) from None
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    write_output(output, text, force=force, inputs=[loaded.path])  # an OutputError: exit 2, one line
    models = document["models"]
    count = sum(len(m["versions"]) for m in models.values())
    _err.print(f"wrote {output}: {len(models)} models, {count} versions", markup=False)


SharedAnchorOpt = Annotated[
    bool,
    typer.Option(
        "--shared-anchor",
        help="Pin a model: that a YAML anchor shares with other endpoints, for every one of them.",
    ),
]


@dataclass(frozen=True, slots=True)
class _Change:
    """A stack file as read (bytes and digest, for the locked write) and the text after the pin."""

    read: ReadFile
    after: str

    @property
    def before(self) -> str:
        return self.read.text


def _rewrite(env: _Env, model: str, version: int, *, shared: bool) -> _Change:
    from mlops_platform.tools.atomic_write import read_for_edit
    from mlops_platform.tools.registry.stackfile import StackFileError, pinned_text, unified_diff

    try:
        read = read_for_edit(env.path)
        if read.digest is None:
            raise _fail(f"{env.path}: the stack file is gone")
        _before, after = pinned_text(
            env.path, model, version, project=env.namespace, text=read.text, shared=shared
        )
    except UnicodeDecodeError:
        raise _fail(f"{env.path}: not UTF-8 text") from None
    except OSError as exc:
        raise _fail(f"{env.path}: cannot read it ({exc.strerror})") from None
    except StackFileError as exc:
        raise _fail(str(exc)) from None
    diff = unified_diff(env.path, read.text, after)
    _out.print(
        diff.rstrip("\n") if diff else f"{env.path}: {model} already pinned to version {version}",
        markup=False,
    )
    return _Change(read, after)


def _checked(env: _Env, change: _Change, scratch: Path) -> Path:
    """The rewritten file, in ``scratch``, validated as `mlops validate` would; exit 2 if it is not."""
    from mlops_platform.stacks.consistency import check_environment
    from mlops_platform.stacks.loader import SpecError, load_environment

    candidate = scratch / env.path.name
    candidate.write_text(change.after, encoding="utf-8", newline="")
    shown = str(candidate)
    try:
        spec = load_environment(candidate, project=env.namespace)
        problems = check_environment(candidate, spec, stacks_dir=scratch).errors
    except SpecError as exc:
        problems = exc.problems
    if problems:
        for problem in problems:
            _err.print(str(problem).replace(shown, str(env.path), 1), markup=False)
        raise _fail(f"{env.path}: the pinned file would not validate (shown above); nothing written")
    return candidate


def _write(env: _Env, change: _Change, yes: bool) -> None:
    from mlops_platform.tools.atomic_write import WriteRefused, write_atomic

    if change.before == change.after:
        return
    if not yes:
        _err.print("not written: pass --yes to write this change", markup=False)
        return
    try:
        write_atomic(env.path, change.after, expect=change.read)
    except WriteRefused as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{env.path}: cannot write it ({exc.strerror or exc}); it is unchanged") from None
    _err.print(f"wrote {env.path}", markup=False)


def promote(
    model: Annotated[str, typer.Argument(help="Endpoint name (serving.models[].name).")],
    source: Annotated[str, typer.Option("--from", help="Environment whose served version is promoted.")],
    target: Annotated[str, typer.Option("--to", help="Environment whose stack file is rewritten.")],
    yes: YesOpt = False,
    registry_snapshot: SnapshotOpt = None,
    allow_downgrade: Annotated[
        bool, typer.Option("--allow-downgrade", help="Pin a version older than the one TO serves.")
    ] = False,
    shared_anchor: SharedAnchorOpt = False,
) -> None:
    """Pin in TO's stack file the version FROM serves, once TO's registry rules accept it.

    Shows the change as a diff; writes it only with --yes. Exit 1 when the target tier refuses it.
    Refused: FROM and TO the same environment, a version older than TO's (without --allow-downgrade),
    a version that is another artifact in TO's registry, a pin that would not validate.
    """
    from mlops_platform.tools.atomic_write import scratch_dir
    from mlops_platform.tools.registry.promotion import (
        PromotionError,
        canary_conflict,
        registry_gate,
        same_artifact,
        served,
        served_version,
    )

    src, dst = _load(source), _load(target)
    if src.path.resolve() == dst.path.resolve() or src.spec.environment.name == dst.spec.environment.name:
        raise _fail(
            f"--from and --to are the same environment ({dst.spec.environment.name}): nothing to promote"
        )
    try:
        source_lookup = _lookup(src.spec, registry_snapshot, required=False)
        resolution = served(src.spec, model, source_lookup)
        version = served_version(resolution)
        target_lookup = _lookup(dst.spec, registry_snapshot)
        assert target_lookup is not None
        _out.print(
            f"{model}: {source} serves version {version} ({resolution.ref}); pinning it in {target}",
            markup=False,
        )
        same_artifact(resolution, source_lookup, dst.spec, model, version, target_lookup)
        canary_conflict(dst.spec, model, version, target_lookup)
        current = _current(dst, model, target_lookup)
        if current is not None and version < current and not allow_downgrade:
            raise PromotionError(
                f"{target} serves version {current} of {model}, newer than {version}: a promotion would "
                "downgrade it; pass --allow-downgrade to pin the older version (or use mlops rollback)"
            )
        change = _rewrite(dst, model, version, shared=shared_anchor)
        with scratch_dir(dst.path, "promote") as scratch:
            candidate = _checked(dst, change, scratch)
            gate = registry_gate(candidate, dst.spec, model, target_lookup, scratch, project=dst.project)
    except PromotionError as exc:
        raise _fail(str(exc)) from None
    if gate.blocking:
        for policy, urn, message in gate.blocking:
            _err.print(f"refused: {policy}: {urn}: {message}", markup=False)
        _err.print(
            f"mlops promote: {target} ({dst.spec.environment.tier}) refuses version {version} of {model}: "
            f"{len(gate.blocking)} mandatory registry finding(s); nothing written",
            markup=False,
        )
        raise typer.Exit(EXIT_REFUSED)
    _err.print(
        f"registry rules of {target} ({dst.spec.environment.tier}) pass for version {version}",
        markup=False,
    )
    _write(dst, change, yes)


def _current(env: _Env, model: str, lookup: Lookup) -> int | None:
    """The version ENV serves on ``model`` now; None when it cannot be told (nothing to compare)."""
    from mlops_platform.tools.registry.promotion import PromotionError, served, served_version

    try:
        return served_version(served(env.spec, model, lookup))
    except PromotionError:
        return None


def rollback(
    model: Annotated[str, typer.Argument(help="Endpoint name (serving.models[].name).")],
    env: EnvArg,
    yes: YesOpt = False,
    registry_snapshot: SnapshotOpt = None,
    shared_anchor: SharedAnchorOpt = False,
) -> None:
    """Pin in ENV's stack file the newest registered version older than the one ENV serves.

    Shows the change as a diff; writes it only with --yes, and only a file that still validates.
    """
    from mlops_platform.tools.atomic_write import scratch_dir
    from mlops_platform.tools.registry.promotion import (
        PromotionError,
        canary_conflict,
        previous_version,
        served,
        served_version,
    )

    loaded = _load(env)
    lookup = _lookup(loaded.spec, registry_snapshot)
    assert lookup is not None
    try:
        resolution = served(loaded.spec, model, lookup)
        current = served_version(resolution)
        previous = previous_version(lookup, resolution.model, current)
        canary_conflict(loaded.spec, model, previous, lookup)
    except PromotionError as exc:
        raise _fail(str(exc)) from None
    _out.print(
        f"{model}: {env} serves version {current} ({resolution.ref}); rolling back to {previous}",
        markup=False,
    )
    change = _rewrite(loaded, model, previous, shared=shared_anchor)
    with scratch_dir(loaded.path, "rollback") as scratch:
        _checked(loaded, change, scratch)
    _write(loaded, change, yes)


def register(app: typer.Typer, project: Callable[[], Project]) -> None:
    """Add ``registry``, ``promote`` and ``rollback`` to the ``mlops`` app.

    Args:
        app: the ``mlops`` app.
        project: the project this invocation chose (``--project``/``-C`` or the working directory's);
            exits 2 when there is none. Passed in, because ``python -m ...cli`` runs the app as
            ``__main__``: importing the module here would read another copy's ``--project``.
    """
    _chosen_project.append(project)
    app.add_typer(registry_app, name="registry")
    app.command()(promote)
    app.command()(rollback)
