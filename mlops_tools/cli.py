"""The `mlops` command line: thin commands that hand off to library functions.

Heavy modules (Pulumi, provider SDKs, the engine) are imported inside the commands that need
them, so `mlops --help` and `mlops validate` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from mlops_platform.tools import __version__
from mlops_platform.tools.cli_admission import register as register_admission_commands
from mlops_platform.tools.cli_project import register as register_project_commands
from mlops_platform.tools.cli_registry import register as register_registry_commands
from mlops_platform.tools.cli_registry import use_registry_snapshot
from mlops_platform.tools.cli_report import report_app
from mlops_platform.tools.cli_toolchain import toolchain_app
from mlops_platform.tools.findings import EvidenceMode

if TYPE_CHECKING:
    from mlops_platform.tools.project import Project

app = typer.Typer(
    name="mlops",
    help="Declare, preview and audit an MLOps platform on Pulumi. ENV is a stack name (prod) or a path.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# User text (keys, paths, messages) is printed as it is: no markup, no :emoji: codes, no highlighting.
# Piped without COLUMNS, rich assumes 80 columns and folds tables; a wide console keeps each table at
# its own width (a table is only as wide as its content), so `mlops diff a b | less` reads as on screen.
PIPED_WIDTH = 400
out = Console(
    soft_wrap=True,
    markup=False,
    emoji=False,
    highlight=False,
    # sys.stdout is None when the shell closed it (`>&-`): the guard reports that on the first write.
    width=None if sys.stdout is None or sys.stdout.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH,
)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
app.add_typer(toolchain_app, name="toolchain")
app.add_typer(report_app, name="report")
register_project_commands(app)

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2  # and 70, 130: see cli_guard

DEFAULT_WAIVERS = Path("policies/waivers.yaml")

EnvArg = Annotated[
    str, typer.Argument(help="Stack name resolved to <stackConfigDir>/Pulumi.ENV.yaml, or a path.")
]

_chosen: dict[str, Path | Project | None] = {"dir": None, "project": None}
"""The global ``--project`` directory of this invocation, and its project once read."""


def _version(value: bool) -> None:
    if value:
        out.print(f"mlops {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="On an internal error (exit 70), print its traceback.")
    ] = False,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-C",
            help="The Pulumi project (a directory with Pulumi.yaml); default: the working directory's.",
        ),
    ] = None,
) -> None:
    """mlops-platform: typed environment specs, Pulumi components, CrossGuard packs, offline audits."""
    _chosen.update(dir=project, project=None)


def _project(*, runs_program: bool = False) -> Project:
    """The project of this invocation (``--project`` or found from the working directory); exit 2 if none.

    With ``runs_program``, its program file must exist too.
    """
    from mlops_platform.tools.project import Project, ProjectError

    found = _chosen["project"]
    directory = _chosen["dir"]
    try:
        if not isinstance(found, Project):
            found = Project.load(directory) if isinstance(directory, Path) else Project.find()
            _chosen["project"] = found
        if runs_program:
            found.check_program()
    except ProjectError as exc:
        _report_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return found


def _project_name() -> str:
    """The chosen project's name; outside any project (``mlops schema`` anywhere), the library's own."""
    from mlops_platform.stacks.loader import PROJECT

    if _chosen["dir"] is None and _chosen["project"] is None:
        from mlops_platform.tools.project import Project, ProjectError

        try:
            return Project.find().name
        except ProjectError as exc:
            if all("no Pulumi project" in str(p) for p in exc.problems):
                return PROJECT
            _report_problems(exc.problems)  # a Pulumi.yaml that is there but broken
            raise typer.Exit(EXIT_BAD_INPUT) from None
    return _project().name


def _report_problems(problems: list) -> None:
    for problem in problems:
        err.print(str(problem), markup=False)


@app.command()
def validate(
    envs: Annotated[
        list[str] | None,
        typer.Argument(help="Environments to validate (default: every stacks/Pulumi.*.yaml)."),
    ] = None,
) -> None:
    """Validate environment specs; every problem is reported as file:line: key: message.

    Also checks each environment against the others (a shared namespace is an error; a namespace
    naming another environment, or a tier-named environment of another tier, a warning).
    """
    from rich.text import Text

    from mlops_platform.stacks.consistency import check_environment
    from mlops_platform.stacks.loader import (
        SpecError,
        environment_files,
        load_environment,
        resolve_environment,
    )
    from mlops_platform.stacks.yaml_source import display_path

    _no_cyclic_gc()  # re-enabled after a large file, its first collection walked every value (0.2 s)
    project = _project()
    failed = False
    targets: list[str | Path] = list(envs) if envs else list(environment_files(project.stack_config_dir))
    if not targets:
        err.print("no environment: stacks/ holds no Pulumi.<ENV>.yaml", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    for env in targets:
        try:
            path = env if isinstance(env, Path) else resolve_environment(env, project.stack_config_dir)
            spec = load_environment(path, project=project.name)
            checked = check_environment(path, spec, project=project.name)
        except SpecError as exc:
            _report_problems(exc.problems)
            failed = True
            continue
        _report_warnings(checked.warnings)
        if checked.errors:
            _report_problems(checked.errors)
            failed = True
            continue
        e = spec.environment
        out.print(
            Text.assemble(
                ("ok", "green"),
                f" {display_path(path)}: {e.name} (tier {e.tier}, target {e.target}, "
                f"{len(spec.serving.models)} models)",
            )
        )
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


def _report_warnings(problems: list) -> None:
    for problem in problems:
        err.print(f"warning: {problem}", markup=False)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    stack_file: Annotated[
        bool,
        typer.Option(
            "--stack-file",
            help="The schema of a stack file as written (config:, namespaced keys, tier defaults optional).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")] = False,
) -> None:
    """Print the JSON Schema (draft 2020-12) of the environment spec, for editors and CI.

    Without --stack-file: the merged spec (tier defaults applied). With it: the stack file people
    edit, its keys in the project's namespace (its name); stacks/stack-file.schema.json is this
    repository's, named by each bundled file's `yaml-language-server` modeline.
    """
    from mlops_platform.stacks.json_schema import render_stack_file_schema, spec_json_schema
    from mlops_platform.tools.cli_guard import write_output

    text = (
        render_stack_file_schema(_project_name())
        if stack_file
        else json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"
    )
    if output:
        write_output(output, text, force=force)
    else:
        sys.stdout.write(text)


@app.command()
def envs() -> None:
    """List the project's environments (its stack files), with tier, target and model count."""
    from rich.table import Table
    from rich.text import Text

    from mlops_platform.stacks.loader import SpecError, load_environment
    from mlops_platform.stacks.yaml_source import display_path

    project = _project()
    table = Table("environment", "file", "tier", "target", "namespace", "models", "status")
    invalid = False
    for path in project.stack_files():
        name = path.name.split(".")[1]
        try:
            spec = load_environment(path, project=project.name)
        except SpecError as exc:
            invalid = True
            problems = Text(f"{len(exc.problems)} problems", style="red")
            table.add_row(name, display_path(path), "", "", "", "", problems)
            continue
        e = spec.environment
        models = str(len(spec.serving.models))
        table.add_row(name, display_path(path), e.tier, e.target, e.namespace, models, Text("valid", "green"))
    out.print(table)
    if invalid:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def diff(
    left: EnvArg,
    right: EnvArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    exit_code: Annotated[
        bool,
        typer.Option("--exit-code", help="Exit 1 when the environments differ, 0 when not (as git diff)."),
    ] = False,
) -> None:
    """Show where two environments really differ, after tier defaults are applied.

    A model (or bucket, receiver) only one side has is one row holding the whole entry.
    """
    from mlops_platform.stacks.loader import SpecError, load_environment
    from mlops_platform.tools.spec_diff import diff_specs

    try:
        specs = [load_environment(_spec_file(env), project=_project().name) for env in (left, right)]
    except SpecError as exc:  # pragma: no cover - _spec_file already reported and exited
        _report_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    differences = diff_specs(*specs)
    if fmt == "json":
        rows = [{"path": d.path, left: d.left, right: d.right} for d in differences]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        raise typer.Exit(EXIT_VIOLATIONS if exit_code and differences else EXIT_OK)
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
        table.add_row(Text(d.path), Text(_cell(d.left)), Text(_cell(d.right)))
    out.print(table)
    raise typer.Exit(EXIT_VIOLATIONS if exit_code and differences else EXIT_OK)


def _cell(value: object) -> str:
    """A diff value as one cell: a whole entry (an added model) as compact JSON."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


_CHECKED: dict[str, Path] = {}  # env argument -> its validated file: checked (and warned about) once


def _spec_file(env: str) -> Path:
    """Resolve and fully validate ``env`` before anything runs; exit 2 with located errors if bad.

    The consistency checks run too (``mlops validate`` explains them): errors exit 2, warnings print.
    """
    if env in _CHECKED:
        return _CHECKED[env]
    from mlops_platform.stacks.consistency import check_environment
    from mlops_platform.stacks.loader import SpecError, load_environment, resolve_environment

    project = _project()
    try:
        path = resolve_environment(env, project.stack_config_dir)
        checked = check_environment(path, load_environment(path, project=project.name), project=project.name)
    except SpecError as exc:
        _report_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _report_warnings(checked.warnings)
    if checked.errors:
        _report_problems(checked.errors)
        raise typer.Exit(EXIT_BAD_INPUT)
    _CHECKED[env] = path
    return path


def _program_stack_file(env: str) -> Path:
    """The stack file a program runs with: validated as a spec when it declares one (``_spec_file``).

    Any Pulumi Python program can be audited or previewed; its stack file then only has to exist.
    """
    from mlops_platform.stacks.loader import SpecError, declares_spec, read_stack_file, resolve_environment
    from mlops_platform.tools.engine.config import misshapen_stack_file

    project = _project()
    try:
        path = resolve_environment(env, project.stack_config_dir)
        stack_file = read_stack_file(path, project.name)
        if misshapen_stack_file(stack_file):  # no engine can run it: say where, as validate does
            raise SpecError(stack_file.problems)
        if declares_spec(path, project.name):
            return _spec_file(env)
    except SpecError as exc:
        _report_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return path


ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")]
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
    from mlops_platform.tools.engine.analyzer import PolicyConfigError
    from mlops_platform.tools.engine_pulumi.audit import EngineRunError
    from mlops_platform.tools.engine_pulumi.operations import (
        StackChoice,
        check_prerequisites,
        engine_run,
        exit_code,
    )
    from mlops_platform.tools.engine_pulumi.workspace import EngineUnavailable, find_engine_tools

    choice = StackChoice(
        _spec_file(env), stack_name=stack, local_state=local_state, config=config or {}, project=_project()
    )
    try:
        find_engine_tools()  # no CLI: say so before asking any cluster
        if cluster_check:
            for name in check_prerequisites(choice, install=install_crds or []):
                err.print(f"installed CRD {name}", markup=False)
        record = engine_run(
            choice, verb, echo=lambda line: err.print(line, markup=False, highlight=False), refresh=refresh
        )
    except (EngineUnavailable, EngineRunError, PrerequisiteError, PolicyConfigError) as exc:
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
    path = _program_stack_file(env)
    from mlops_platform.tools.engine.audit import capture_environment
    from mlops_platform.tools.engine.preview import render_preview

    _no_cyclic_gc()

    project = _project(runs_program=True)
    capture = _guarded(lambda: capture_environment(path, project=project))
    sys.stdout.write(render_preview(capture, fmt, width=max(out.width, 100)))


@app.command()
def audit(
    envs: Annotated[list[str], typer.Argument(help="Environments to audit.")],
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="text, json, sarif, junit, markdown, html or cyclonedx (the AI-BOM); repeatable.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (a directory when several formats are asked)."),
    ] = None,
    waivers: Annotated[
        Path | None, typer.Option(help="Waivers file (default: the project's policies/waivers.yaml).")
    ] = None,
    packs: Annotated[
        list[Path] | None,
        typer.Option(
            "--pack",
            help="A policy pack directory to run instead of the bundled; repeatable. The bundled "
            "supply-chain rules then run only with --verify-images.",
        ),
    ] = None,
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
    split: Annotated[
        bool,
        typer.Option(
            "--split", help="Audit ENV as one stack per layer (storage, registry, serving, monitoring)."
        ),
    ] = False,
    registry_snapshot: Annotated[
        Path | None,
        typer.Option(help="Resolve model versions from this file (mlops registry snapshot) offline."),
    ] = None,
    force: ForceOpt = False,
    evidence: Annotated[
        EvidenceMode,
        typer.Option(
            help="Evidence per rule: sample (every resource not passed, a few passed; the rest counted) "
            "or full (every resource judged)."
        ),
    ] = EvidenceMode.SAMPLE,
    tier: Annotated[
        str | None,
        typer.Option(
            help="The environment's tier (its policy config's tiers/<tier>.json), over the spec's "
            "environment.tier and policies/config/stacks.json."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="kubernetes or docker, over the spec's and stacks.json's "
            "(default: what the program deploys to)."
        ),
    ] = None,
    verify_images: Annotated[
        bool,
        typer.Option(
            "--verify-images/--no-verify-images",
            help="Ask each image's registry that its pinned digest exists and, where the tier requires "
            "it, that a trusted key signed it (default: off; the reports then say 'not verified').",
        ),
    ] = False,
) -> None:
    """Run ENV's program (the project's) and every policy pack offline, then report.

    The packs are the library's bundled packs unless --pack names others.
    Exit 0 when no mandatory violation is left unwaived, 1 when one is, 2 on bad input.
    """
    from datetime import date

    from mlops_platform.policies.controls import ALL_TARGETS
    from mlops_platform.stacks.yaml_source import echo
    from mlops_platform.tools.audit_run import AuditRequest, run_audits

    formats = fmt or ["text"]
    if engine not in {"offline", "pulumi"}:
        err.print(f"--engine: must be offline or pulumi (got {engine!r})", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if (stack or refresh) and engine != "pulumi":
        err.print("--stack and --refresh need --engine pulumi", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if split and engine != "offline":
        err.print(
            "--split: the offline engine only (layer stacks on the real engine are not supported)",
            markup=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    if target is not None and target not in ALL_TARGETS:
        err.print(f"--target: must be one of {', '.join(ALL_TARGETS)} (got {target!r})", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if stack and len(envs) > 1:
        err.print("--stack: audit one environment at a time", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    use_registry_snapshot(registry_snapshot)
    if engine == "offline":
        _no_cyclic_gc()
    try:
        as_of = date.fromisoformat(today) if today is not None else date.today()
    except ValueError:
        err.print(f"--today: must be an ISO date such as 2026-12-31 (got {echo(today)})")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if waivers is not None and not os.path.lexists(waivers):  # the default may be absent, a named one not
        err.print(f"--waivers: file not found: {waivers}")
        raise typer.Exit(EXIT_BAD_INPUT)
    project = _project(runs_program=True)
    pack_dirs = [_pack_dir(p) for p in packs] if packs else None
    request = AuditRequest(
        env_files=[_program_stack_file(env) for env in envs],
        formats=formats,
        output=output,
        waivers=project.waivers_file if waivers is None else waivers,
        project=project,
        packs=pack_dirs,
        split=split,
        today=as_of,
        engine=engine,
        stack=stack,
        refresh=refresh,
        force=force,
        inputs=[
            *(p for p in [waivers, registry_snapshot] if p is not None),
            *(pack for pack in pack_dirs or []),
        ],
        evidence=evidence,
        tier=tier,
        target=target,
        verify_images=verify_images,
    )
    raise typer.Exit(run_audits(request, out, err))


def _pack_dir(path: Path) -> Path:
    """A ``--pack`` directory, checked: it must hold a ``PulumiPolicy.yaml``."""
    if not (path / "PulumiPolicy.yaml").is_file():
        err.print(f"--pack: {path}: not a policy pack (no PulumiPolicy.yaml)", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    return path.resolve()


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
    skip_audit: Annotated[
        bool, typer.Option("--skip-audit", help="Do not run the offline audit (with waivers) first.")
    ] = False,
    waivers: Annotated[Path, typer.Option(help="Waivers file for the offline audit.")] = Path(
        "policies/waivers.yaml"
    ),
    split: Annotated[
        bool,
        typer.Option(
            "--split", help="One stack per layer (storage, registry, serving, monitoring), up in order."
        ),
    ] = False,
    verify_images: Annotated[
        bool,
        typer.Option(
            "--verify-images/--no-verify-images",
            help="In the offline audit, ask each image's registry that its pinned digest exists and, where "
            "the tier requires it, that a trusted key signed it (default: on).",
        ),
    ] = True,
    admission: Annotated[
        bool | None,
        typer.Option(
            "--admission/--no-admission",
            help="After the update, install ENV's admission policies (default: as the policy config's "
            "admission.json says for ENV's tier).",
        ),
    ] = None,
) -> None:
    """A real `pulumi up` of ENV with every policy pack; a mandatory violation stops it before any change.

    The offline audit runs first (waivers applied) and a blocking finding stops `up` unless --skip-audit.
    Runs on a stack of your backend (--stack, default ENV) or a self-contained one (--local-state DIR).
    With --split (and --local-state): the environment's stack rules are judged over all four layers
    first, then each layer stack goes up in order, reading its upstream's outputs.
    With --admission (the default in the tiers policies/config/admission.json names), a successful update
    installs ENV's ValidatingAdmissionPolicies (`mlops admission render`), so that what reaches the
    cluster any other way is judged by the same rules; with --render-to they are written there instead.
    """
    if split and (local_state is None or stack is not None or install_crds):
        err.print(
            "--split: give --local-state DIR (the layer stacks share its backend); "
            "--stack and --install-crds do not apply",
            markup=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    if not skip_audit:
        _audit_gate(env, waivers, verify_images=verify_images)
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
    install = _admission_wanted(env, admission)
    if split and local_state is not None:
        code = _split_up(env, local_state, render_to)
    else:
        code = _engine(
            env,
            "up",
            stack=stack,
            local_state=local_state,
            config=config,
            cluster_check=render_to is None and _targets_kubernetes(env),
            install_crds=install_crds,
        )
    if code == EXIT_OK and install:
        code = _install_admission(env, StackChoiceArgs(stack, local_state), render_to, waivers)
    raise typer.Exit(code)


@dataclass(frozen=True, slots=True)
class StackChoiceArgs:
    """The stack options ``up`` was given, to reach the same cluster after it."""

    stack: str | None
    local_state: Path | None


def _admission_wanted(env: str, given: bool | None) -> bool:
    """``--admission``/``--no-admission``, else the policy config's ``admission.json`` for ENV's tier.

    Only for Kubernetes environments: a Docker one has no API server (``--admission`` is refused).
    """
    from mlops_platform.stacks.loader import load_environment
    from mlops_platform.tools.policy_config import PolicyConfigFileError, admission_install

    spec = load_environment(_spec_file(env), project=_project().name)
    if spec.environment.target != "kubernetes":
        if given:
            err.print(
                f"--admission: {env} targets {spec.environment.target}; admission policies are for Kubernetes"
            )
            raise typer.Exit(EXIT_BAD_INPUT)
        return False
    if given is not None:
        return given
    try:
        return admission_install(_project().policy_config_dir, str(spec.environment.tier))
    except PolicyConfigFileError as exc:
        err.print(f"mlops up: {exc}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _install_admission(env: str, stack: StackChoiceArgs, render_to: Path | None, waivers: Path) -> int:
    """Install (or, with ``render_to``, write) ENV's admission objects after a successful update."""
    from mlops_platform.tools.admission import install, to_yaml
    from mlops_platform.tools.cli_admission import load, output_file, summary
    from mlops_platform.tools.cluster_prereqs import PrerequisiteError

    admission = load(env, waivers if waivers.exists() else None)
    for line in summary(admission):
        err.print(f"admission: {line}", markup=False)
    if render_to is not None:
        from mlops_platform.tools.cli_guard import write_output

        target = output_file(render_to, admission.target.environment)
        write_output(target, to_yaml(admission.rendered.objects), option="--render-to", force=True)
        err.print(f"admission: wrote {target}", markup=False)
        return EXIT_OK
    from kubernetes.client.exceptions import ApiException

    from mlops_platform.tools.cluster_prereqs import api_client
    from mlops_platform.tools.engine_pulumi.operations import StackChoice, stack_cluster

    choice = StackChoice(
        _spec_file(env), stack_name=stack.stack, local_state=stack.local_state, project=_project()
    )
    try:
        applied, deleted = install(api_client(stack_cluster(choice)), admission)
    except (PrerequisiteError, ApiException) as exc:
        err.print(f"mlops up: the update is done, but the admission policies were not installed: {exc}")
        return EXIT_BAD_INPUT
    err.print(
        f"admission: applied {len(applied)} objects, removed {len(deleted)} no longer rendered", markup=False
    )
    return EXIT_OK


def _audit_gate(env: str, waivers: Path, *, verify_images: bool) -> None:
    """Run the offline audit of ``env``; exit 1 on a blocking finding, 2 when it cannot run."""
    from mlops_platform.tools.engine.audit import PackError, PolicyConfigError
    from mlops_platform.tools.engine.calls import program_failure
    from mlops_platform.tools.supply_chain.verify import SupplyChainConfigError
    from mlops_platform.tools.up_gate import offline_gate
    from mlops_platform.tools.waivers import WaiverError

    path = _spec_file(env)
    project = _project(runs_program=True)
    try:
        passed = offline_gate(path, waivers, err, project, verify_images=verify_images)
    except WaiverError as exc:
        _report_problems(exc.problems)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (PolicyConfigError, PackError, SupplyChainConfigError) as exc:
        err.print(f"mlops up: the offline audit cannot run: {exc}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except Exception as exc:
        line = program_failure(exc, project.root)
        if line is None:
            raise  # ours, not the program's: the entry guard's exit 70
        err.print(f"mlops up: {line}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not passed:
        err.print("mlops up: stopped by the offline audit before any change (--skip-audit to bypass)")
        raise typer.Exit(EXIT_VIOLATIONS)


def _split_up(env: str, local_state: Path, render_to: Path | None) -> int:
    """``up_split`` of ENV; its progress and verdicts on stderr; the exit code."""
    from mlops_platform.tools.engine_pulumi.audit import EngineRunError
    from mlops_platform.tools.engine_pulumi.operations import up_split
    from mlops_platform.tools.engine_pulumi.workspace import EngineUnavailable, find_engine_tools

    path = _spec_file(env)
    try:
        find_engine_tools()
        result = up_split(
            path,
            local_state=local_state.resolve(),
            project=_project(runs_program=True),
            render_to=render_to,
            echo=lambda line: err.print(line, markup=False, highlight=False),
        )
    except (EngineUnavailable, EngineRunError) as exc:
        err.print(f"mlops up: {exc}", markup=False)
        return EXIT_BAD_INPUT
    for finding in result.gate:
        err.print(f"mandatory: {finding.policy}: {finding.urn}: {finding.message}", markup=False)
    if result.gate:
        err.print(
            f"mlops up: stopped by {len(result.gate)} mandatory stack-rule findings; nothing changed",
            markup=False,
        )
        return EXIT_VIOLATIONS
    for run in result.runs:
        created = run.record.changes.get("create", 0)
        err.print(
            f"{run.stack}: {len(run.record.mandatory())} mandatory violations, {created} created",
            markup=False,
        )
    return EXIT_VIOLATIONS if any(run.record.mandatory() for run in result.runs) else EXIT_OK


def _cluster_configured(env: str) -> bool:
    """A preview asks a cluster only when one is named (the stack's config or ``KUBECONFIG``)."""
    from mlops_platform.tools.engine_pulumi.operations import StackChoice, stack_cluster

    return stack_cluster(StackChoice(_spec_file(env), project=_project())).named


def _targets_kubernetes(env: str) -> bool:
    from mlops_platform.stacks.loader import load_environment

    return load_environment(_spec_file(env), project=_project().name).environment.target == "kubernetes"


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
    """A real `pulumi destroy` of ENV; refused by the engine while protected resources remain.

    Then, for a Kubernetes environment, the admission policies `mlops up` installed for ENV are removed.
    """
    if stack is None and local_state is None:
        stack = env
    _confirm(f"Destroy every resource of {env}?", yes)
    code = _engine(env, "destroy", stack=stack, local_state=local_state)
    if code == EXIT_OK and _targets_kubernetes(env):
        code = _uninstall_admission(env, StackChoiceArgs(stack, local_state))
    raise typer.Exit(code)


def _uninstall_admission(env: str, stack: StackChoiceArgs) -> int:
    """Remove ENV's admission objects from the cluster its stack deployed to (after a destroy)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from mlops_platform.tools.admission import uninstall
    from mlops_platform.tools.cluster_prereqs import PrerequisiteError, api_client
    from mlops_platform.tools.engine_pulumi.operations import StackChoice, stack_cluster

    choice = StackChoice(
        _spec_file(env), stack_name=stack.stack, local_state=stack.local_state, project=_project()
    )
    try:
        deleted = uninstall(api_client(stack_cluster(choice)), env)
    except (PrerequisiteError, ApiException, HTTPError) as exc:
        err.print(
            f"mlops destroy: the resources are destroyed, but the admission policies were not removed: {exc}",
            markup=False,
        )
        return EXIT_BAD_INPUT
    if deleted:
        err.print(f"admission: removed {len(deleted)} objects of {env}", markup=False)
    return EXIT_OK


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
        result = update_stack_secrets(env, rotate=rotate or (), new_seed=new_seed, work_dir=_project().root)
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
    """Run the program; report its own failure (a RunError carries located spec errors), exit 2.

    Anything else it raises is a bug, left to the entry guard (exit 70, see ``cli_guard``).
    """
    from mlops_platform.tools.engine.calls import program_failure

    try:
        return run()
    except Exception as exc:
        line = program_failure(exc, _project().root)
        if line is None:
            raise
        err.print(f"error: {line}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


register_registry_commands(app, _project)  # registry snapshot, promote, rollback: after the core commands
register_admission_commands(app, _spec_file, _project)  # admission render


PROJECT_FLAGS = ("--project", "-C")


def global_options_first(argv: list[str]) -> list[str]:
    """Move ``--project DIR`` to the front, so it may follow the command (``mlops audit prod --project .``).

    Click reads an option of the app's callback only before the command name; a project is chosen for
    every command, so it is accepted anywhere before a ``--``.
    """
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg in PROJECT_FLAGS and i + 1 < len(argv):
            moved += argv[i : i + 2]
            i += 2
            continue
        if arg.startswith("--project="):
            moved.append(arg)
        else:
            rest.append(arg)
        i += 1
    return moved + rest


def run() -> None:
    """The ``mlops`` console script: the app under the entry guard, then an exit skipping teardown.

    The guard (``cli_guard.run_guarded``) maps every ending to an exit code and at most one line:
    bad paths and unwritable outputs exit 2, an unexpected exception exits 70 with a bug-report hint
    (its traceback with ``mlops --debug``). An audit leaves the program's whole heap behind (1.5 GB at
    1,000 models): freeing it object by object at exit took 2 s at 300 models, after the last line was
    written. By the time a command returns, its reports are written and closed and its pack processes
    stopped; output is flushed by the guard, then the process ends with the command's exit code.
    """
    from mlops_platform.tools.cli_guard import debug_requested, run_guarded

    argv = global_options_first(sys.argv[1:])
    code = run_guarded(lambda: app(args=argv, standalone_mode=False), debug=lambda: debug_requested(argv))
    children = sys.modules.get("mlops_platform.tools.engine.children")
    if children is not None:  # os._exit skips atexit: stop any process a failure path left running
        children.stop_descendants()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
