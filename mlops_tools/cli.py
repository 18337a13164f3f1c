"""The `mlops` command line: thin commands that hand off to library functions.

Heavy modules (Pulumi, provider SDKs, the engine) are imported inside the commands that need
them, so `mlops --help` and `mlops validate` stay fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlops_platform.tools import __version__
from mlops_platform.tools.cli_registry import register as register_registry_commands
from mlops_platform.tools.cli_registry import use_registry_snapshot
from mlops_platform.tools.cli_toolchain import toolchain_app

app = typer.Typer(
    name="mlops",
    help="Declare, preview and audit an MLOps platform on Pulumi. ENV is a stack name (prod) or a path.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
app.add_typer(toolchain_app, name="toolchain")

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2

EnvArg = Annotated[str, typer.Argument(help="Stack name resolved to stacks/Pulumi.ENV.yaml, or a path.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"mlops {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """mlops-platform: typed environment specs, Pulumi components, CrossGuard packs, offline audits."""


def _report_problems(problems: list) -> None:
    for problem in problems:
        err.print(str(problem), markup=False)


@app.command()
def validate(envs: Annotated[list[str], typer.Argument(help="Environments to validate.")]) -> None:
    """Validate environment specs; every problem is reported as file:line: key: message."""
    from mlops_platform.stacks.loader import SpecError, load_environment, resolve_environment
    from mlops_platform.stacks.yaml_source import display_path

    failed = False
    for env in envs:
        try:
            path = resolve_environment(env)
            spec = load_environment(path)
        except SpecError as exc:
            _report_problems(exc.problems)
            failed = True
            continue
        e = spec.environment
        out.print(
            f"[green]ok[/] {display_path(path)}: {e.name} (tier {e.tier}, target {e.target}, "
            f"{len(spec.serving.models)} models)"
        )
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of the environment spec, for editors and CI."""
    from mlops_platform.stacks.json_schema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command()
def envs() -> None:
    """List the environments found in stacks/, with tier, target and model count."""
    from rich.table import Table

    from mlops_platform.stacks.loader import SpecError, environment_files, load_environment
    from mlops_platform.stacks.yaml_source import display_path

    table = Table("environment", "file", "tier", "target", "namespace", "models", "status")
    invalid = False
    for path in environment_files():
        name = path.name.split(".")[1]
        try:
            spec = load_environment(path)
        except SpecError as exc:
            invalid = True
            table.add_row(name, display_path(path), "", "", "", "", f"[red]{len(exc.problems)} problems[/]")
            continue
        e = spec.environment
        models = str(len(spec.serving.models))
        table.add_row(name, display_path(path), e.tier, e.target, e.namespace, models, "[green]valid")
    out.print(table)
    if invalid:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def diff(
    left: EnvArg,
    right: EnvArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Show where two environments really differ, after tier defaults are applied."""
    from mlops_platform.stacks.loader import SpecError, load_environment
    from mlops_platform.tools.spec_diff import diff_specs

    try:
        specs = [load_environment(_spec_file(env)) for env in (left, right)]
    except SpecError as exc:  # pragma: no cover - _spec_file already reported and exited
        _report_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    differences = diff_specs(*specs)
    if fmt == "json":
        rows = [{"path": d.path, left: d.left, right: d.right} for d in differences]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if fmt != "table":
        err.print(f"--format: must be table or json (got {fmt!r})", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{left} vs {right}: {len(differences)} differences")
    table.add_column("key", overflow="fold")
    for column in (left, right):
        table.add_column(column, overflow="fold")
    for d in differences:  # Text: keys such as models[fraud-scorer] are not rich markup
        table.add_row(Text(d.path), Text(str(d.left)), Text(str(d.right)))
    out.print(table)


def _spec_file(env: str) -> Path:
    """Resolve and fully validate ``env`` before anything runs; exit 2 with located errors if bad."""
    from mlops_platform.stacks.loader import SpecError, load_environment, resolve_environment

    try:
        path = resolve_environment(env)
        load_environment(path)
    except SpecError as exc:
        _report_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return path


StackOpt = Annotated[
    str | None, typer.Option("--stack", "-s", help="A stack of your own Pulumi backend (in this project).")
]
LocalStateOpt = Annotated[
    Path | None,
    typer.Option(
        "--local-state",
        help="Keep a self-contained stack here (file backend, passphrase, config); reused by later runs.",
    ),
]


def _engine(  # type: ignore[no-untyped-def]
    env: str,
    verb: str,
    *,
    stack: str | None,
    local_state: Path | None,
    config=None,
    refresh: bool = False,
    cluster_check: bool = False,
    install_crds: list[str] | None = None,
) -> int:
    """Run ``verb`` on the real engine with every pack; print its progress; return the exit code.

    With ``cluster_check``, the target cluster is asked first for every kind the program creates
    (installing the CRD files named in ``install_crds`` before that); a missing one stops the run.
    """
    from mlops_platform.tools.cluster_prereqs import PrerequisiteError
    from mlops_platform.tools.engine_pulumi.audit import EngineRunError
    from mlops_platform.tools.engine_pulumi.operations import (
        StackChoice,
        check_prerequisites,
        engine_run,
        exit_code,
    )
    from mlops_platform.tools.engine_pulumi.workspace import EngineUnavailable, find_engine_tools

    choice = StackChoice(_spec_file(env), stack_name=stack, local_state=local_state, config=config or {})
    try:
        find_engine_tools()  # no CLI: say so before asking any cluster
        if cluster_check:
            for name in check_prerequisites(choice, install=install_crds or []):
                err.print(f"installed CRD {name}", markup=False)
        record = engine_run(
            choice, verb, echo=lambda line: err.print(line, markup=False, highlight=False), refresh=refresh
        )
    except (EngineUnavailable, EngineRunError, PrerequisiteError) as exc:
        err.print(f"mlops {verb}: {exc}", markup=False)
        return EXIT_BAD_INPUT
    for violation in record.mandatory():
        err.print(
            f"mandatory: {violation.policy}: {violation.urn}: {violation.message.strip()}", markup=False
        )
    if record.mandatory():
        err.print(
            f"mlops {verb}: stopped by {len(record.mandatory())} mandatory policy violations", markup=False
        )
    return exit_code(record)


def _confirm(question: str, yes: bool) -> None:
    """Ask before a change unless ``--yes``; without a terminal to ask on, require ``--yes``."""
    if yes:
        return
    if not sys.stdin.isatty():
        err.print(f"{question} Pass --yes to confirm without a terminal.", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def preview(
    env: EnvArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, tree or json.")] = "table",
    pulumi: Annotated[
        bool, typer.Option("--pulumi", help="Run a real `pulumi preview` with every policy pack instead.")
    ] = False,
    stack: StackOpt = None,
    local_state: LocalStateOpt = None,
) -> None:
    """Show the resources the program registers for ENV, by layer and component (secrets redacted).

    With --pulumi: a real `pulumi preview` with every pack (an ephemeral stack unless --stack or
    --local-state); exit 1 on a mandatory violation.
    """
    if pulumi:
        check = _targets_kubernetes(env) and _cluster_configured(env)
        raise typer.Exit(_engine(env, "preview", stack=stack, local_state=local_state, cluster_check=check))
    from mlops_platform.tools.engine.preview import PreviewFormat

    if fmt not in {f.value for f in PreviewFormat}:
        err.print(f"--format: must be one of {', '.join(f.value for f in PreviewFormat)} (got {fmt!r})")
        raise typer.Exit(EXIT_BAD_INPUT)
    path = _spec_file(env)
    from mlops_platform.tools.engine.audit import capture_environment
    from mlops_platform.tools.engine.preview import render_preview

    _no_cyclic_gc()

    capture = _guarded(lambda: capture_environment(path))
    sys.stdout.write(render_preview(capture, fmt, width=max(out.width, 100)))


@app.command()
def audit(
    envs: Annotated[list[str], typer.Argument(help="Environments to audit.")],
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="text, json, sarif, junit, markdown or html; repeatable."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (a directory when several formats are asked)."),
    ] = None,
    waivers: Annotated[Path, typer.Option(help="Waivers file.")] = Path("policies/waivers.yaml"),
    today: Annotated[
        str | None, typer.Option(help="Judge waiver expiry as of this ISO date (default: today).")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="offline (the program under mocks) or pulumi (a real `pulumi preview`).")
    ] = "offline",
    stack: Annotated[
        str | None,
        typer.Option("--stack", "-s", help="With --engine pulumi: audit this stack of your backend."),
    ] = None,
    refresh: Annotated[
        bool, typer.Option(help="With --engine pulumi: refresh the stack's state from the providers first.")
    ] = False,
    registry_snapshot: Annotated[
        Path | None,
        typer.Option(help="Resolve model versions from this file (mlops registry snapshot) offline."),
    ] = None,
) -> None:
    """Run ENV's program and every policy pack offline, then report.

    Exit 0 when no mandatory violation is left unwaived, 1 when one is, 2 on bad input.
    """
    from datetime import date

    from mlops_platform.tools.audit_run import AuditRequest, run_audits

    formats = fmt or ["text"]
    if engine not in {"offline", "pulumi"}:
        err.print(f"--engine: must be offline or pulumi (got {engine!r})", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if (stack or refresh) and engine != "pulumi":
        err.print("--stack and --refresh need --engine pulumi", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if stack and len(envs) > 1:
        err.print("--stack: audit one environment at a time", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    use_registry_snapshot(registry_snapshot)
    if engine == "offline":
        _no_cyclic_gc()
    try:
        as_of = date.fromisoformat(today) if today else date.today()
    except ValueError:
        err.print(f"--today: must be an ISO date such as 2026-12-31 (got {today!r})")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    request = AuditRequest(
        env_files=[_spec_file(env) for env in envs],
        formats=formats,
        output=output,
        waivers=waivers,
        today=as_of,
        engine=engine,
        stack=stack,
        refresh=refresh,
    )
    raise typer.Exit(run_audits(request, out, err))


@app.command()
def up(
    env: EnvArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    stack: StackOpt = None,
    local_state: LocalStateOpt = None,
    render_to: Annotated[
        Path | None,
        typer.Option(
            "--render-to",
            help="Write the Kubernetes manifests to this directory instead of a cluster (GitOps).",
        ),
    ] = None,
    install_crds: Annotated[
        list[str] | None,
        typer.Option("--install-crds", help="CRD file, directory or URL to apply first (repeatable)."),
    ] = None,
) -> None:
    """A real `pulumi up` of ENV with every policy pack; a mandatory violation stops it before any change.

    Runs on a stack of your backend (--stack, default ENV) or a self-contained one (--local-state DIR).
    """
    config = {}
    if render_to is not None:
        from mlops_platform.tools.engine_pulumi.operations import render_config

        if stack is not None:
            err.print(
                "--render-to: use it with --local-state (it sets the stack's provider config)", markup=False
            )
            raise typer.Exit(EXIT_BAD_INPUT)
        config = render_config(render_to)
        err.print(
            f"warning: Kubernetes Secrets are written to {render_to} in plaintext (base64): keep it out of "
            "version control or encrypt it (SOPS, sealed-secrets)",
            markup=False,
        )
    if stack is None and local_state is None:
        stack = env
    _confirm(f"Apply ENV {env} ({'stack ' + stack if stack else local_state})?", yes)
    raise typer.Exit(
        _engine(
            env,
            "up",
            stack=stack,
            local_state=local_state,
            config=config,
            cluster_check=render_to is None and _targets_kubernetes(env),
            install_crds=install_crds,
        )
    )


def _cluster_configured(env: str) -> bool:
    """A preview asks a cluster only when one is named (``KUBECONFIG`` or ``kubernetes:kubeconfig``)."""
    from mlops_platform.tools.engine.config import load_stack_config

    return bool(os.environ.get("KUBECONFIG") or load_stack_config(_spec_file(env)).namespace("kubernetes"))


def _targets_kubernetes(env: str) -> bool:
    from mlops_platform.stacks.loader import load_environment

    return load_environment(_spec_file(env)).environment.target == "kubernetes"


@app.command()
def refresh(env: EnvArg, stack: StackOpt = None, local_state: LocalStateOpt = None) -> None:
    """A real `pulumi refresh`: read every resource back from the providers into the stack's state."""
    if stack is None and local_state is None:
        stack = env
    raise typer.Exit(_engine(env, "refresh", stack=stack, local_state=local_state))


@app.command()
def destroy(
    env: EnvArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Destroy without asking.")] = False,
    stack: StackOpt = None,
    local_state: LocalStateOpt = None,
) -> None:
    """A real `pulumi destroy` of ENV; refused by the engine while protected resources remain."""
    if stack is None and local_state is None:
        stack = env
    _confirm(f"Destroy every resource of {env}?", yes)
    raise typer.Exit(_engine(env, "destroy", stack=stack, local_state=local_state))


@app.command("secrets")
def secrets_command(
    env: Annotated[str, typer.Argument(help="The Pulumi stack (prod) to write the credential seed to.")],
    rotate: Annotated[
        list[str] | None,
        typer.Option("--rotate", help="Rotate one credential (storage-postgres-password); repeatable."),
    ] = None,
    new_seed: Annotated[
        bool, typer.Option("--new-seed", help="Replace the seed: every generated credential changes.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Replace the seed without asking.")] = False,
) -> None:
    """Give stack ENV its credential seed (a Pulumi secret) if it has none; rotate credentials.

    The seed is never printed. Credentials change on the next `pulumi up`.
    """
    from mlops_platform.tools.stack_secrets import SecretsError, describe, update_stack_secrets

    if new_seed:
        _confirm(
            f"Replace the credential seed of {env}? Every generated credential changes on the next up, "
            "the object store's KMS key too (objects encrypted under the old key become unreadable).",
            yes,
        )
    try:
        result = update_stack_secrets(env, rotate=rotate or (), new_seed=new_seed)
    except SecretsError as exc:
        err.print(f"mlops secrets: {exc}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    for line in describe(result):
        out.print(line, markup=False, highlight=False)


def _no_cyclic_gc() -> None:
    """Leave the cyclic GC off for the rest of this short-lived command.

    The engine pauses it while a program runs (``paused_gc``); turned back on, its first collection
    walks the whole heap the program left (0.7 s at 100 models) only to find little: this process
    ends after the report, and reference counting frees everything acyclic meanwhile.
    """
    import gc

    gc.disable()


def _guarded(run):  # type: ignore[no-untyped-def]
    """Run the program; report its failure (a RunError carries located spec errors) without a traceback."""
    try:
        return run()
    except Exception as exc:  # the program's own error, shown as the CLI would show it
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


register_registry_commands(app)  # registry snapshot, promote, rollback: after the core commands


def run() -> None:
    """The ``mlops`` console script: the app, then an exit that skips the interpreter's teardown.

    An audit leaves the program's whole heap behind (1.5 GB at 1,000 models): freeing it object by
    object at exit took 2 s at 300 models, after the last line was written. By the time a command
    returns, its reports are written and closed and its pack processes stopped; output is flushed
    here, then the process ends with the command's exit code.
    """
    try:
        app()
    except SystemExit as exc:  # how typer ends every command
        code = exc.code
    else:
        code = 0
    if isinstance(code, str):  # what sys.exit(message) prints
        err.print(code, markup=False)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    run()
