"""`mlops audit`: audit environments, apply waivers, write reports, decide the exit code.

Exit codes: 0 when no mandatory violation is left unwaived, 1 when one is (or a policy raised),
2 on bad input (spec, waivers, policy config) or when a pack cannot run.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mlops_platform.tools.findings import AuditResult, EvidenceMode

if TYPE_CHECKING:
    from mlops_platform.tools.project import Project

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class AuditRequest:
    env_files: list[Path]
    formats: list[str]
    output: Path | None
    waivers: Path
    today: date
    engine: str = "offline"  # or "pulumi": a real `pulumi preview` with every pack
    stack: str | None = None  # with the pulumi engine: a real stack of the user's backend
    refresh: bool = False  # with the pulumi engine: refresh the stack's state first
    project: Project | None = None  # None: the working directory's
    packs: list[Path] | None = None  # None: the library's bundled packs
    split: bool = False  # offline: each environment as one stack per layer, in order
    force: bool = False  # overwrite existing report files
    inputs: list[Path] = field(default_factory=list)  # files read besides env_files: never overwritten
    evidence: EvidenceMode = EvidenceMode.SAMPLE  # how much positive evidence the reports list
    tier: str | None = None  # over the spec's and the policy config's stacks.json
    target: str | None = None
    verify_images: bool = False  # ask the image registries (supply chain); off: "not verified"


def run_audits(request: AuditRequest, out: Console, err: Console) -> int:
    """Audit every environment in ``request`` and write its reports; return the exit code."""
    from mlops_platform.policies.catalogue import SUPPLY_CHAIN
    from mlops_platform.tools.reports import OUTPUT_FORMATS, SUFFIXES, build_report, render_report
    from mlops_platform.tools.reports.evidence import gather_evidence
    from mlops_platform.tools.waivers import WaiverError, load_waivers

    unknown = [f for f in request.formats if f not in OUTPUT_FORMATS]
    if unknown:
        err.print(
            f"--format: must be among {', '.join(OUTPUT_FORMATS)} (got {', '.join(unknown)})", markup=False
        )
        return EXIT_BAD_INPUT
    if len(request.formats) > 1 and request.output is not None and request.output.suffix:
        err.print("--output: give a directory when asking for several formats", markup=False)
        return EXIT_BAD_INPUT
    try:
        # Absent: no waivers (the CLI refuses a --waivers naming a missing file); a broken link is read.
        waivers = load_waivers(request.waivers) if os.path.lexists(request.waivers) else []
    except WaiverError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        return EXIT_BAD_INPUT

    # The checkout's state now, while this process is small: ``git`` started after the audit forks a
    # process as large as the audit's heap (1.2 GB at 1,000 models) until it executes, and the run
    # reads the same checkout either way.
    from mlops_platform.stacks.yaml_source import SourceError
    from mlops_platform.tools.project import project_or_cwd
    from mlops_platform.tools.provenance import git_state

    try:
        checkout: tuple[str | None, bool | None] | None = git_state(project_or_cwd(request.project).root)
    except SourceError:  # no project: reported where the reports need it
        checkout = None
    results = []
    for env_file in request.env_files:
        trail: dict[str, tuple[str | int, ...]] = {}
        result = (
            _audit_one(request, env_file, err, trail)
            if request.engine == "offline"
            else _engine_audit(request, env_file, err)
        )
        if result is None:
            return EXIT_BAD_INPUT
        from mlops_platform.tools.spec_locations import locate_findings
        from mlops_platform.tools.supply_chain.verify import SupplyChainConfigError, with_supply_chain

        # The registry rules are bundled: packs named instead (--pack) leave them out unless asked.
        if request.packs is None or request.verify_images:
            try:
                result = with_supply_chain(result, consult=request.verify_images)
            except SupplyChainConfigError as exc:
                err.print(f"{result.environment}: {exc}", markup=False)
                return EXIT_BAD_INPUT

        # Right after its run: the spec trail is this one's (a split audit's: every layer's).
        result = locate_findings(result, env_file, trail if request.split else None, project=request.project)
        if result.evidence is None or result.evidence.mode is not request.evidence:
            evidence = gather_evidence(result.resources, result.findings, result.checks, request.evidence)
            result = dataclasses.replace(result, evidence=evidence)
        else:  # the engine's, gathered while the packs judged: add the audit's own checks
            evidence = gather_evidence(
                result.resources,
                [f for f in result.findings if f.pack == SUPPLY_CHAIN],
                [c for c in result.checks if c.pack == SUPPLY_CHAIN],
                request.evidence,
                into=result.evidence,
            )
            result = dataclasses.replace(result, evidence=evidence)
        _warn_cluster_needs(result, err)
        from mlops_platform.tools.waivers import apply_waivers, over_limit

        refused = over_limit(waivers, result.environment, result.tier, request.today)
        if refused:  # the policy config's limit for the tier: refused like a bad waiver file
            for line in refused:
                err.print(line, markup=False)
            return EXIT_BAD_INPUT
        results.append(apply_waivers(result, waivers, request.today))

    from mlops_platform.stacks.loader import declares_spec
    from mlops_platform.stacks.yaml_source import SourceError
    from mlops_platform.tools.project import project_or_cwd

    try:
        project = project_or_cwd(request.project)
        declarations = {
            r.environment: _declaration(f, project.name)
            for r, f in zip(results, request.env_files, strict=True)
            if declares_spec(f, project.name)  # a program of one's own declares no models
        }
    except SourceError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        return EXIT_BAD_INPUT
    results = [_with_required_controls(r, declarations.get(r.environment)) for r in results]
    provenance = _provenance(request, results, checkout)
    generated_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    report = build_report(  # once: every format renders the same view
        results,
        provenance=provenance,
        declarations=declarations,
        generated_at=generated_at,
        with_checks="junit" in request.formats,
    )
    for fmt in request.formats:
        target = _target(request, fmt, SUFFIXES[fmt])
        if target is None:
            for piece in render_report(report, fmt, root=project.root):
                out.file.write(piece)
        else:
            from mlops_platform.tools.cli_guard import write_output

            inputs = [*request.env_files, request.waivers, *request.inputs]
            # OutputError: exit 2 (cli_guard)
            pieces = render_report(report, fmt, root=project.root)
            write_output(target, pieces, force=request.force, inputs=inputs)
            err.print(f"wrote {target}", markup=False)
    if request.output is not None and "text" not in request.formats:
        for piece in render_report(report, "text", root=project.root):
            out.file.write(piece)
    return EXIT_OK if all(r.passed for r in results) else EXIT_VIOLATIONS


def _with_required_controls(result: AuditResult, declaration) -> AuditResult:  # type: ignore[no-untyped-def]
    """``result`` with a finding per control that binds a served model's risk tier and was not judged."""
    import dataclasses

    from mlops_platform.tools.required_controls import required_control_findings

    if declaration is None:
        return result
    models = {str(m["name"]): str(m["risk_tier"]) for m in declaration.models}
    extra = required_control_findings(result, models)
    return dataclasses.replace(result, findings=[*result.findings, *extra]) if extra else result


def _declaration(env_file: Path, project: str):  # type: ignore[no-untyped-def]
    """What the environment's spec declares for the report (the model inventory), by the spec loader."""
    from mlops_platform.stacks.loader import load_environment
    from mlops_platform.tools.reports.inventory import declared_models

    return declared_models(load_environment(env_file, project=project))


def _provenance(  # type: ignore[no-untyped-def]
    request: AuditRequest, results: list[AuditResult], checkout: tuple[str | None, bool | None] | None
):
    """Which code, packs and input files produced this run's reports.

    The policy config files are the ones each audit read (``AuditResult.policy_config``), with the
    hash of the bytes it read: not a second lookup that could pick other files.
    """
    from mlops_platform.stacks.loader import DEFAULTS_FILE, declares_spec
    from mlops_platform.tools.policy_config import discover_packs
    from mlops_platform.tools.project import project_or_cwd
    from mlops_platform.tools.provenance import (
        LIBRARY_ROOT,
        InputFile,
        collect_provenance,
        input_file,
        relative,
    )

    project = project_or_cwd(request.project)
    root = project.root
    packs = discover_packs() if request.packs is None else request.packs
    inputs = [input_file("waivers", request.waivers, root)]
    if any(declares_spec(f, project.name) for f in request.env_files):  # tier defaults were read
        defaults = input_file("defaults", DEFAULTS_FILE, root)
        if not DEFAULTS_FILE.is_relative_to(root):  # the library's: named inside it, not by this machine
            defaults = replace(defaults, path=f"{LIBRARY_ROOT.name}/stacks/{DEFAULTS_FILE.name}")
        inputs.append(defaults)
    for result, env_file in zip(results, request.env_files, strict=True):
        inputs.append(input_file("spec", env_file, root, result.environment))
        inputs += [  # a config file's path as the audit located it: relative to the project's root
            InputFile("policy-config", relative(root / source.path, root), source.sha256, result.environment)
            for source in result.policy_config
        ]
    return collect_provenance(
        engine=request.engine, as_of=request.today, packs=packs, inputs=inputs, root=root, git=checkout
    )


def _target(request: AuditRequest, fmt: str, suffix: str) -> Path | None:
    if request.output is None:
        return None
    if len(request.formats) == 1 and request.output.suffix:
        return request.output
    return request.output / f"mlops-audit{suffix}"


def _audit_one(  # type: ignore[no-untyped-def]
    request: AuditRequest, env_file: Path, err: Console, trail: dict[str, tuple[str | int, ...]]
):
    """One environment's audit with a progress display on stderr; None after reporting a failure.

    A split audit fills ``trail`` with every layer run's spec trail.
    """
    from mlops_platform.tools.engine.audit import (
        PackError,
        PolicyConfigError,
        audit_environment,
        audit_split_environment,
        environment_result,
    )
    from mlops_platform.tools.engine.calls import program_failure
    from mlops_platform.tools.policy_config import StackProfile
    from mlops_platform.tools.project import project_or_cwd

    env = env_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=None),
        TextColumn("{task.fields[phase]} · {task.completed:.0f} resources"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        from rich.markup import escape

        task = progress.add_task(f"audit {escape(env)}", total=None, phase="starting")

        def update(phase: str, resources: int) -> None:
            progress.update(task, phase=phase, completed=resources)

        try:
            if request.split:
                layers = audit_split_environment(
                    env_file, project=request.project, packs=request.packs, progress=update, trail=trail
                )
                return environment_result(env, [result for _, result in layers])
            return audit_environment(
                env_file,
                project=request.project,
                packs=request.packs,
                progress=update,
                evidence=request.evidence,
                profile=StackProfile(request.tier, request.target),
            )
        except (PolicyConfigError, PackError) as exc:
            err.print(f"{env}: {exc}", markup=False)
        except Exception as exc:
            line = program_failure(exc, project_or_cwd(request.project).root)
            if line is None:
                raise  # ours, not the program's: the entry guard's exit 70
            err.print(f"{env}: {line}", markup=False)
    return None


def _engine_audit(request: AuditRequest, env_file: Path, err: Console):  # type: ignore[no-untyped-def]
    """One environment's audit through a real ``pulumi preview``; None after reporting a failure."""
    from mlops_platform.tools.engine.audit import PackError, PolicyConfigError
    from mlops_platform.tools.engine_pulumi.audit import EngineRunError, audit_with_engine
    from mlops_platform.tools.engine_pulumi.workspace import EngineUnavailable
    from mlops_platform.tools.policy_config import StackProfile

    env = env_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        return audit_with_engine(
            env_file,
            project=request.project,
            packs=request.packs,
            stack_name=request.stack,
            refresh=request.refresh,
            profile=StackProfile(request.tier, request.target),
        )
    except (EngineUnavailable, EngineRunError, PolicyConfigError, PackError) as exc:
        err.print(f"{env}: {exc}", markup=False)
    return None


def _warn_cluster_needs(result, err: Console) -> None:  # type: ignore[no-untyped-def]
    """Say which CRDs the environment's cluster must serve (``mlops up`` checks them for real)."""
    from mlops_platform.tools.cluster_prereqs import describe_needs, kinds_of

    for line in describe_needs(kinds_of(r.type for r in result.resources)):
        err.print(f"{result.environment}: note: its cluster {line}", markup=False)
