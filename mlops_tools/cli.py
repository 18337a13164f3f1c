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

from mlops_tools import __version__

app = typer.Typer(
    name="mlops",
    help="Declare, preview and audit an MLOps platform on Pulumi. ENV is a stack name (prod) or a path.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
    from stacks.loader import SpecError, load_environment, resolve_environment
    from stacks.yaml_source import display_path

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
    from stacks.json_schema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command()
def envs() -> None:
    """List the environments found in stacks/, with tier, target and model count."""
    from rich.table import Table

    from stacks.loader import SpecError, environment_files, load_environment
    from stacks.yaml_source import display_path

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
    from mlops_tools.spec_diff import diff_specs
    from stacks.loader import SpecError, load_environment

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
    from stacks.loader import SpecError, load_environment, resolve_environment

    try:
        path = resolve_environment(env)
        load_environment(path)
    except SpecError as exc:
        _report_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return path


def _hand_over_to_pulumi(verb: str, env: str, extra: list[str]) -> None:
    """Run the real Pulumi CLI with every pack and its per-environment config, or say what is missing."""
    import subprocess

    from mlops_tools.pulumi_cli import INSTALL_HINT, find_pulumi, pulumi_command

    _spec_file(env)
    if find_pulumi() is None:
        err.print(f"mlops {verb}: {INSTALL_HINT}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    command = [*pulumi_command(verb, env), *extra]
    err.print("$ " + " ".join(command), markup=False)
    raise typer.Exit(subprocess.call(command))


@app.command()
def preview(
    env: EnvArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, tree or json.")] = "table",
    pulumi: Annotated[
        bool, typer.Option("--pulumi", help="Run `pulumi preview` with every policy pack instead.")
    ] = False,
) -> None:
    """Show the resources the program registers for ENV, by layer and component (secrets redacted)."""
    if pulumi:
        _hand_over_to_pulumi("preview", env, [])
    from mlops_tools.engine.preview import PreviewFormat

    if fmt not in {f.value for f in PreviewFormat}:
        err.print(f"--format: must be one of {', '.join(f.value for f in PreviewFormat)} (got {fmt!r})")
        raise typer.Exit(EXIT_BAD_INPUT)
    path = _spec_file(env)
    from mlops_tools.engine.audit import capture_environment
    from mlops_tools.engine.preview import render_preview

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
) -> None:
    """Run ENV's program and every policy pack offline, then report.

    Exit 0 when no mandatory violation is left unwaived, 1 when one is, 2 on bad input.
    """
    from datetime import date

    from mlops_tools.audit_run import AuditRequest, run_audits

    formats = fmt or ["text"]
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
    )
    raise typer.Exit(run_audits(request, out, err))


@app.command()
def up(
    env: EnvArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Skip Pulumi's confirmation prompt.")] = False,
) -> None:
    """Run `pulumi up` for ENV with every policy pack and its per-environment config."""
    _hand_over_to_pulumi("up", env, ["--yes"] if yes else [])


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
