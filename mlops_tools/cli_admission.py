"""``mlops admission render ENV``: an environment's admission policies, for GitOps (see ``admission``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from mlops_platform.tools.admission import EnvironmentAdmission
    from mlops_platform.tools.project import Project

EXIT_BAD_INPUT = 2

err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)
admission_app = typer.Typer(
    help="The rules inside the cluster: ValidatingAdmissionPolicies generated from the rule catalogue.",
    no_args_is_help=True,
)

_hooks: dict[str, Callable[..., object]] = {}


def output_file(directory: Path, environment: str) -> Path:
    """Where ``render -o DIR`` writes an environment's objects (and ``up --render-to`` too)."""
    return directory / f"{environment}.admission.yaml"


def load(env: str, waivers: Path | None) -> EnvironmentAdmission:
    """Render ENV's objects; report bad input (exit 2) like every command."""
    from mlops_platform.stacks.yaml_source import SourceError
    from mlops_platform.tools.admission import AdmissionError, environment_admission
    from mlops_platform.tools.engine.calls import program_failure

    path: Path = _hooks["spec_file"](env)  # type: ignore[assignment]
    project: Project = _hooks["project"](runs_program=True)  # type: ignore[assignment]
    if waivers is not None and not waivers.exists():
        err.print(f"--waivers: file not found: {waivers}")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        return environment_admission(path, project, project.waivers_file if waivers is None else waivers)
    except (AdmissionError, SourceError) as exc:
        for line in getattr(exc, "problems", None) or [exc]:
            err.print(f"mlops admission: {line}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as exc:
        line = program_failure(exc, project.root)
        if line is None:
            raise  # ours: the entry guard's exit 70
        err.print(f"mlops admission: {line}")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def summary(admission: EnvironmentAdmission) -> list[str]:
    """What was rendered, in a few lines for people."""
    rendered = admission.rendered
    deny = sum("Deny" in b["spec"]["validationActions"] for b in rendered.bindings)
    lines = [
        f"{admission.target.environment}: {len(rendered.policies)} policies in namespace "
        f"{admission.target.namespace} ({deny} deny, {len(rendered.bindings) - deny} warn), "
        f"{len(admission.waivers)} waived object sets; {len(rendered.skipped)} rules not in the cluster "
        "(policies/README.md says why)"
    ]
    lines += [f"waiver {source}: covers no Kubernetes object here" for source in admission.unresolved]
    return lines


@admission_app.command("render")
def render_command(
    env: Annotated[
        str, typer.Argument(help="Stack name resolved to <stackConfigDir>/Pulumi.ENV.yaml, or a path.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Directory to write <env>.admission.yaml to (default: stdout)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")] = False,
    waivers: Annotated[
        Path | None, typer.Option(help="Waivers file (default: the project's policies/waivers.yaml).")
    ] = None,
) -> None:
    """Write ENV's ValidatingAdmissionPolicies and bindings: one per rule CEL expresses.

    Mandatory rules deny, advisory rules warn; the bindings match ENV's namespace; waivers exempt the
    objects they cover until they expire. `kubectl apply -f` the file, or let `mlops up --admission`
    install them.
    """
    from mlops_platform.tools.admission import to_yaml
    from mlops_platform.tools.cli_guard import write_output

    admission = load(env, waivers)
    text = to_yaml(admission.rendered.objects)
    if output is None:
        sys.stdout.write(text)
    else:
        target = output_file(output, admission.target.environment)
        path: Path = _hooks["spec_file"](env)  # type: ignore[assignment]
        write_output(target, text, force=force, inputs=[path])  # an OutputError: exit 2, one line
        err.print(f"wrote {target}")
    for line in summary(admission):
        err.print(line)


def register(app: typer.Typer, spec_file: Callable[[str], Path], project: Callable[..., Project]) -> None:
    """Add ``mlops admission`` to the app, with the CLI's spec and project resolution."""
    _hooks.update(spec_file=spec_file, project=project)
    app.add_typer(admission_app, name="admission")
