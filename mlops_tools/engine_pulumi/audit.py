"""``mlops audit --engine pulumi``: a real ``pulumi preview`` with every pack, read into an audit result.

The findings are the engine's policy events; the checks are the engine's per-resource policy
summaries (which policies passed and failed on which resource); the resources are the engine's
steps. Policy metadata (titles, severities, frameworks, configured levels) comes from the packs
themselves over ``GetAnalyzerInfo``, as the offline audit gets it. The result feeds the same
waiver engine and report formats as the offline audit's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_platform.tools.engine.analyzer import EngineServer, PackSession
from mlops_platform.tools.engine.audit import (
    NO_TIER,
    _sorted_findings,
    _start_all,
    deployed_target,
    environment_policy_config,
    environment_profile,
)
from mlops_platform.tools.engine.config import PROJECT, environment_name, load_stack_config
from mlops_platform.tools.engine.props import mask_secret_envelopes
from mlops_platform.tools.engine_pulumi.events import EngineRecord, PolicyViolation
from mlops_platform.tools.engine_pulumi.launchers import write_launchers
from mlops_platform.tools.engine_pulumi.sdk_events import raw_events
from mlops_platform.tools.engine_pulumi.workspace import StackHandle, open_stack, run_cli
from mlops_platform.tools.findings import (
    AuditResult,
    CapturedResource,
    Check,
    Enforcement,
    Finding,
    PolicyMeta,
    Severity,
)
from mlops_platform.tools.policy_config import (
    LEVEL_KEY,
    UNDECLARED,
    PolicyConfig,
    StackProfile,
    discover_packs,
    write_policy_config,
)
from mlops_platform.tools.project import Project, project_or_cwd

Echo = Callable[[str], None]


class EngineRunError(RuntimeError):
    """The engine failed for a reason other than policy violations (the program, a provider...)."""


@dataclass(frozen=True, slots=True)
class PackPlan:
    """The packs of one run: their launchers and ``--policy-pack-config`` files, in one order."""

    packs: list[Path]
    launchers: list[Path]
    configs: list[Path]
    policy_config: PolicyConfig  # what the config files hold, and the files it was merged from


def environment_config(
    env_file: Path,
    config_dir: Path | None,
    *,
    environment: str | None = None,
    project: str = PROJECT,
    tier: str | None = None,
) -> PolicyConfig:
    """The policy config of the environment in ``env_file``: its tier's file and its own override.

    ``environment`` names the override file when it is not the stack file's (a layer stack's);
    ``project`` is the namespace of the stack's config; ``tier`` one already decided (a flag).
    """
    stack_config = load_stack_config(env_file, project=project)
    return environment_policy_config(config_dir, stack_config, environment=environment, tier=tier)


def plan_packs(
    policy_config: PolicyConfig,
    scratch: Path,
    *,
    packs: list[Path] | None = None,
    disabled: frozenset[str] = frozenset(),
) -> PackPlan:
    """Launchers for every pack and the config file each gets: the environment's merged document.

    The CLI pairs ``--policy-pack-config`` flags with ``--policy-pack`` flags by position, so every
    pack gets a file (the same one: it names policies of every pack, and a pack ignores the others').
    ``disabled`` policies are turned off in that document (a split environment's stack rules, judged
    over the whole environment before the run).
    """
    packs = discover_packs() if packs is None else packs
    launchers = write_launchers(packs, scratch / "packs")
    if disabled:
        off = {name: {LEVEL_KEY: Enforcement.DISABLED.value} for name in disabled}
        policy_config = PolicyConfig({**(policy_config.document or {}), **off}, policy_config.sources)
    merged = write_policy_config(policy_config, scratch / "packs" / "policy-config.json").resolve()
    return PackPlan(packs, launchers, [merged] * len(packs), policy_config)


def pack_policies(environment: str, packs: list[Path], policy_config: PolicyConfig) -> list[PolicyMeta]:
    """Every policy of ``packs`` as ``GetAnalyzerInfo`` describes it, configured by ``policy_config``."""
    engine = EngineServer()
    sessions = []
    try:
        for pack in packs:
            sessions.append(
                PackSession(
                    pack,
                    engine_address=engine.address,
                    stack=environment,
                    policy_config=policy_config.document,
                    strict_config=False,
                )
            )
        errors = _start_all(sessions)
        if errors:
            raise errors[0]
        return sorted((m for s in sessions for m in s.info()), key=lambda m: (m.pack, m.name))
    finally:
        for session in sessions:
            session.close()
        engine.stop()


def run_operation(
    handle: StackHandle,
    verb: str,
    plan: PackPlan | None,
    *,
    echo: Echo | None = None,
    refresh: bool = False,
) -> EngineRecord:
    """Run ``preview``, ``up``, ``refresh`` or ``destroy`` on ``handle`` and return what the engine said.

    A run stopped by mandatory policy violations returns normally (the record holds them); any other
    failure raises :class:`EngineRunError` with the engine's error diagnostics.
    """
    from pulumi.automation import errors as auto_errors

    record = EngineRecord()
    kwargs: dict[str, Any] = {"on_event": record, "color": "never"}
    if echo is not None:
        kwargs["on_output"] = echo
    if plan is not None and verb in {"preview", "up"}:
        kwargs["policy_packs"] = [str(p) for p in plan.launchers]
        kwargs["policy_pack_configs"] = [str(c) for c in plan.configs]
    if refresh and verb in {"preview", "up"}:
        kwargs["refresh"] = True
    operation = {
        "preview": handle.stack.preview,
        "up": handle.stack.up,
        "refresh": handle.stack.refresh,
        "destroy": handle.stack.destroy,
    }[verb]
    with raw_events():
        try:
            operation(**kwargs)
        except auto_errors.CommandError as exc:
            errors = _non_policy_errors(record)
            if record.mandatory() and not errors:
                return record
            details = "\n".join(errors) or _tail(str(exc))
            raise EngineRunError(_run_failure(verb, details)) from None
    return record


def policy_analyze(handle: StackHandle, plan: PackPlan) -> EngineRecord:
    """``pulumi policy analyze``: the packs over the stack's existing state (no program, no providers).

    Raises:
        EngineRunError: the command failed for a reason other than mandatory violations.
    """

    command = ["policy", "analyze", "--json", "--color", "never"]
    for launcher, config in zip(plan.launchers, plan.configs, strict=True):
        command += ["--policy-pack", str(launcher), "--policy-pack-config", str(config)]
    done = run_cli(handle, *command)
    record = EngineRecord()
    for line in done.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            event = json.loads(line)
            record(_Raw(event))
    if done.returncode != 0 and not record.mandatory():
        raise EngineRunError(f"pulumi policy analyze failed:\n{_tail(done.stderr or done.stdout)}")
    return record


class _Raw:
    """An event as ``EngineRecord`` reads it: the JSON the CLI wrote."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw


# How the engine ends a run it stopped; after policy violations it adds nothing else of its own.
_RUN_FAILED = {"preview failed", "update failed", "destroy failed", "refresh failed"}


# The program's own error when the engine stopped it for another one (its traceback says nothing more).
_MONITOR_SHUT_DOWN = "resource monitor shut down"
# What the kubernetes provider answers a v4 chart or a yaml.v2 component with no cluster to reach.
_CLUSTER_UNREACHABLE = "configured Kubernetes cluster is unreachable"
_CLUSTER_HINT = (
    "hint: the kubernetes provider constructs Helm v4 charts and yaml.v2 components against a cluster: "
    "point KUBECONFIG (or kubernetes:kubeconfig) at one, or, in a stack used only for previews and audits, "
    "set kubernetes:renderYamlToDirectory in its config (an up then writes YAML instead of deploying); "
    "the offline audit (without --engine) needs neither"
)


def _non_policy_errors(record: EngineRecord) -> list[str]:
    errors = [e for e in record.errors if e.strip() not in _RUN_FAILED]
    causes = [e for e in errors if _MONITOR_SHUT_DOWN not in e]
    return causes or errors


def _run_failure(verb: str, details: str) -> str:
    hint = f"\n{_CLUSTER_HINT}" if _CLUSTER_UNREACHABLE in details else ""
    return f"pulumi {verb} failed:\n{details.strip()}{hint}"


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def audit_with_engine(
    env_file: Path,
    *,
    project: Project | None = None,
    packs: list[Path] | None = None,
    stack_name: str | None = None,
    refresh: bool = False,
    echo: Echo | None = None,
    profile: StackProfile = UNDECLARED,
) -> AuditResult:
    """Audit one environment through a real ``pulumi preview`` with every pack; findings before waivers.

    Args:
        env_file: the environment's stack file.
        project: the Pulumi project (default: the working directory's).
        packs: policy pack directories (default: the library's bundled packs).
        stack_name: audit this real stack of the user's backend (its state, its config); default: an
            ephemeral stack made from ``env_file`` alone.
        refresh: refresh the stack's state from the providers first (``pulumi preview --refresh``).
        echo: receives the engine's progress lines.
        profile: the tier and target given on the command line (see ``environment_profile``).

    Raises:
        EngineUnavailable: no Pulumi CLI.
        EngineRunError: the engine failed for a reason other than policy violations.
    """
    started_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    t0 = time.perf_counter()
    environment = stack_name or environment_name(env_file)
    project = project_or_cwd(project)
    packs = discover_packs() if packs is None else packs
    stack_config = load_stack_config(env_file, project=project.name)
    profile = environment_profile(project.policy_config_dir, stack_config, given=profile)
    policy_config = environment_policy_config(project.policy_config_dir, stack_config, tier=profile.tier)
    metas: list[PolicyMeta] = []
    failures: list[BaseException] = []

    def learn() -> None:
        try:
            metas.extend(pack_policies(environment, packs, policy_config))
        except BaseException as exc:
            failures.append(exc)

    learner = threading.Thread(target=learn, daemon=True)
    learner.start()
    try:
        with open_stack(env_file, project=project, stack_name=stack_name) as handle:
            plan = plan_packs(policy_config, handle.scratch, packs=packs)
            record = run_operation(handle, "preview", plan, echo=echo, refresh=refresh)
            placeholders = handle.placeholders
    finally:
        learner.join()
    if failures:
        raise failures[0]
    result = audit_result(
        record,
        metas,
        environment=environment,
        tier=profile.tier or NO_TIER,
        target=profile.target or "",
        started_at=started_at,
        duration_s=time.perf_counter() - t0,
        redact=placeholders,
    )
    result.policy_config = list(policy_config.sources)
    result.policy_document = policy_config.document
    if not result.target:
        result.target = deployed_target(result.resources)
    return result


def audit_result(
    record: EngineRecord,
    metas: list[PolicyMeta],
    *,
    environment: str,
    tier: str,
    target: str,
    started_at: str,
    duration_s: float,
    redact: frozenset[str] = frozenset(),
) -> AuditResult:
    """An ``AuditResult`` from one engine run's record and the packs' policy metadata."""
    by_name = {(m.pack, m.name): m for m in metas}
    resources = [_resource(urn, step) for urn, step in record.steps.items() if not step.get("delete")]
    types = {r.urn: r.type for r in resources}
    findings = [_finding(v, by_name, types, redact) for v in record.violations]
    checks = {
        Check(policy, pack, urn)
        for (urn, pack), (passed, failed) in record.resource_checks.items()
        for policy in (*passed, *failed)
    }
    checks |= {
        Check(policy, pack, "")
        for pack, (passed, failed) in record.stack_checks.items()
        for policy in (*passed, *failed)
    }
    return AuditResult(
        not_applicable=sorted(_not_applicable(record, metas), key=lambda c: (c.urn, c.pack, c.policy)),
        environment=environment,
        tier=tier,
        target=target,
        resources=sorted(resources, key=lambda r: r.urn),
        policies=metas,
        findings=_sorted_findings(findings),
        checks=sorted(checks, key=lambda c: (c.urn, c.pack, c.policy)),
        waivers=[],
        started_at=started_at,
        duration_s=duration_s,
    )


def _not_applicable(record: EngineRecord, metas: list[PolicyMeta]) -> set[Check]:
    """The pairs each pack answered not-applicable, from the engine's summaries.

    The 3.274.1 engine's ``policyAnalyzeSummaryEvent`` carries no not-applicable list: it lists as
    passed every enabled policy of the summary's type that neither reported a violation nor answered
    not-applicable (pulumi/pulumi ``pkg/resource/analyzer/summary.go`` ``newPolicySummary``). So the
    not-applicable pairs are the pack's enabled policies of that type that are neither passed nor failed.
    """
    enabled: dict[tuple[str, bool], set[str]] = {}
    for m in metas:
        if m.enforcement is not Enforcement.DISABLED:
            enabled.setdefault((m.pack, m.stack_level), set()).add(m.name)
    out = {
        Check(policy, pack, urn)
        for (urn, pack), (passed, failed) in record.resource_checks.items()
        for policy in enabled.get((pack, False), set()) - {*passed, *failed}
    }
    out |= {
        Check(policy, pack, "")
        for pack, (passed, failed) in record.stack_checks.items()
        for policy in enabled.get((pack, True), set()) - {*passed, *failed}
    }
    return out


def _resource(urn: str, step: dict[str, Any]) -> CapturedResource:
    new = step.get("new") or step.get("old") or {}
    return CapturedResource(
        urn=urn,
        type=str(step.get("type") or new.get("type", "")),
        name=urn.rsplit("::", 1)[-1],
        custom=bool(new.get("custom", False)),
        inputs=mask_secret_envelopes(dict(new.get("inputs") or {})),
        parent=new.get("parent") or None,
        provider=new.get("provider") or step.get("provider") or None,
        protect=bool(new.get("protect", False)),
        retain_on_delete=bool(new.get("retainOnDelete", False)),
    )


def _finding(
    violation: PolicyViolation,
    metas: dict[tuple[str, str], PolicyMeta],
    types: dict[str, str],
    redact: frozenset[str],
) -> Finding:
    meta = metas.get((violation.pack, violation.policy))
    # The engine names a violation's level after reporting (remediate as mandatory); anything else
    # blocks: a level this audit cannot read is never taken for advisory.
    level = Enforcement.ADVISORY if violation.enforcement == Enforcement.ADVISORY else Enforcement.MANDATORY
    message = violation.message
    if meta is not None and meta.description and message.startswith(meta.description):
        message = message[len(meta.description) :].lstrip("\n") or meta.description
    for secret in redact:
        message = message.replace(secret, "[secret]")
    return Finding(
        policy=violation.policy,
        pack=violation.pack,
        enforcement=level,
        severity=meta.severity if meta is not None else Severity.UNSPECIFIED,
        urn=violation.urn,
        resource_type=types.get(violation.urn, ""),
        message=message.strip(),
    )
