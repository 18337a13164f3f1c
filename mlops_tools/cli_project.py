"""``mlops init DIR``: start a project of one's own that uses the platform as a library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

EXIT_BAD_INPUT = 2

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(soft_wrap=True)


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project (created if missing).")],
    name: Annotated[
        str | None, typer.Option(help="The Pulumi project name (default: the directory's name).")
    ] = None,
    owner: Annotated[str, typer.Option(help="Owner e-mail of the environments.")] = "ml-platform@example.com",
    team: Annotated[str, typer.Option(help="Owning team.")] = "ml-platform",
    cost_centre: Annotated[str, typer.Option(help="Cost centre.")] = "cc-0000",
) -> None:
    """Scaffold a Pulumi project: Pulumi.yaml, __main__.py, dev/staging/prod stacks, policy config, waivers.

    It validates and audits clean as written (`mlops --project DIR audit dev`); replace the example
    model, images and contacts with your own. Refuses to overwrite any file.
    """
    from mlops_platform.tools.scaffold import Organisation, ScaffoldError, scaffold

    try:
        written = scaffold(
            directory, name=name, org=Organisation(owner=owner, team=team, cost_centre=cost_centre)
        )
    except ScaffoldError as exc:
        err.print(f"mlops init: {exc}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    for path in written:
        out.print(f"created {path}", markup=False, highlight=False)
    out.print(f"next: mlops --project {directory} validate dev staging prod", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``mlops`` app."""
    app.command("init")(init)
