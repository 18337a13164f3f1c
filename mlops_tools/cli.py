"""The `mlops` command line: thin commands that hand off to library functions.

Heavy modules (Pulumi, provider SDKs, the engine) are imported inside the commands that need
them, so `mlops --help` and `mlops validate` stay fast.
"""

from __future__ import annotations

import json
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
out = Console()
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
        table.add_row(
            name, display_path(path), e.tier, e.target, e.namespace, str(len(spec.serving.models)), "[green]valid"
        )
    out.print(table)
    if invalid:
        raise typer.Exit(EXIT_BAD_INPUT)


if __name__ == "__main__":  # pragma: no cover
    app()
