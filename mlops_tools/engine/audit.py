"""Audit one environment: run its program under mocks and every policy pack over it, as a preview would.

Packs start (in parallel processes) while the program starts; each resource is sent to every pack
the moment it is registered, as the engine analyzes each resource as it is registered; AnalyzeStack
runs once at the end. The result holds findings before waivers (the waiver engine applies them).

Each request is serialized once and handed to the relay process (``relay.py``), which makes the
Analyze calls to every pack: the capturing process, the critical path, does no gRPC work per resource.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from pulumi.runtime.proto.analyzer_pb2 import AnalyzeResponse, AnalyzeStackRequest

from mlops_platform.heap import paused_gc
from mlops_platform.tools.engine.analyzer import (
    PACK_NICENESS,
    AnalysisResult,
    EngineServer,
    PackError,
    PackSession,
    PolicyConfigError,
    RelayedRpcError,
    analyze_request,
    stack_resource,
)
from mlops_platform.tools.engine.capture import Capture, Registration, capture_program
from mlops_platform.tools.engine.config import PROJECT, StackConfig, StackOutputs, load_stack_config
from mlops_platform.tools.engine.relay import OK as RELAY_OK
from mlops_platform.tools.engine.relay import Relay
from mlops_platform.tools.findings import AuditResult, CapturedResource, Check, EvidenceMode, Finding
from mlops_platform.tools.policy_config import (
    UNDECLARED,
    PolicyConfig,
    PolicyConfigFileError,
    StackProfile,
    declared_profile,
    discover_packs,
    load_policy_config,
)
from mlops_platform.tools.project import Project, project_or_cwd
from mlops_platform.tools.reports.evidence import gather_evidence

ProgressCallback = Callable[[str, int], None]  # (phase, resources registered so far)
NO_TIER = "none"  # an environment no spec, flag or stacks.json gives a tier: packs at their defaults


def default_workers() -> int:
    """Processes per pack: one, as the engine runs them.

    Measured on 2 cores (100 models): with each resource converted once per request in the packs
    (``policies/packs.py``), a pack keeps up with the program alone, and a second process per pack
    cost more (its start-up, ~0.5 s of CPU) than it saved.
    """
    return 1


def environment_profile(
    config_dir: Path | None,
    stack_config: StackConfig,
    *,
    environment: str | None = None,
    given: StackProfile = UNDECLARED,
) -> StackProfile:
    """The environment's tier and target: ``given`` (flags), else its spec's, else ``stacks.json``'s.

    Raises:
        PolicyConfigError: ``stacks.json`` is invalid.
    """
    spec_env = stack_config.object("environment")
    spec_env = spec_env if isinstance(spec_env, dict) else {}
    try:
        declared = declared_profile(config_dir, environment or stack_config.environment)
    except PolicyConfigFileError as exc:
        raise PolicyConfigError(str(exc)) from None

    def pick(key: str) -> str | None:
        spec_value = spec_env.get(key)
        for value in (getattr(given, key), spec_value, getattr(declared, key)):
            if isinstance(value, str) and value:
                return value
        return None

    return StackProfile(pick("tier"), pick("target"))


def environment_policy_config(
    config_dir: Path | None,
    stack_config: StackConfig,
    *,
    environment: str | None = None,
    tier: str | None = None,
) -> PolicyConfig:
    """The policy config of the stack's environment, chosen by its tier (``environment_profile``).

    ``environment`` names the override file when it is not the stack's (a layer stack's environment);
    ``tier``, when given, is the tier already decided (a flag).

    Raises:
        PolicyConfigError: a config file is missing or invalid.
    """
    environment = environment or stack_config.environment
    if tier is None:
        tier = environment_profile(config_dir, stack_config, environment=environment).tier
    try:
        return load_policy_config(config_dir, tier, environment)
    except PolicyConfigFileError as exc:
        raise PolicyConfigError(str(exc)) from None


def deployed_target(resources: list[CapturedResource]) -> str:
    """The target a program deploys to, read from what it registers: its packages, joined by ``+``.

    ``kubernetes`` for a program of Kubernetes objects only, ``docker+kubernetes`` for both; ``none``
    for a program that registers no custom resource of any provider.
    """
    packages = {
        r.type.split(":", 1)[0]
        for r in resources
        if r.custom and not r.type.startswith("pulumi:providers:") and not r.type.startswith("pulumi:")
    }
    return "+".join(sorted(packages)) or "none"


class _Sent(NamedTuple):
    """What ``collect`` reads of an answered request: its URN and type."""

    urn: str
    type: str


class _Dispatcher:
    """Streams each registration to every pack (through the relay) as it is registered."""

    def __init__(self, relay: Relay, progress: ProgressCallback | None) -> None:
        self._relay = relay
        self._progress = progress
        self._lock = threading.Lock()
        self.sent: dict[int, Registration] = {}  # relay request number -> registration
        self.count = 0

    def __call__(self, reg: Registration) -> None:
        request = analyze_request(reg, reg.provider)
        number = self._relay.request(request.SerializeToString())  # once, the same bytes to every pack
        with self._lock:
            self.sent[number] = reg  # not the request: rebuilt only if a call failed (memory)
            self.count += 1
            count = self.count
        if self._progress is not None and count % 100 == 0:
            self._progress("capture", count)

    def deliver(self, sessions: list[PackSession]) -> None:
        """Hand every pack its answers, in request order (``collect`` then reads them)."""
        answers = self._relay.answers()
        if len(answers) != len(self.sent) * len(sessions):
            raise PackError(
                f"analyze relay answered {len(answers)} of {len(self.sent) * len(sessions)} calls"
            )
        for number, pack, status, body in sorted(answers, key=lambda a: (a[1], a[0])):
            reg = self.sent[number]
            if status == RELAY_OK:
                sessions[pack].deliver(_Sent(reg.urn, reg.type), reg.urn, AnalyzeResponse.FromString(body))
            else:  # the failure path re-sends the very request to a fallback pack: rebuild it
                error = RelayedRpcError(status, body.decode("utf-8", "replace"))
                sessions[pack].deliver(analyze_request(reg, reg.provider), reg.urn, error)


def _start_all(sessions: list[PackSession], relay: Relay | None = None) -> list[BaseException]:
    errors: list[BaseException] = []

    def start(session: PackSession) -> None:
        try:
            session.start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,), daemon=True) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if relay is not None and not errors:
        relay.addresses([session.addresses for session in sessions])
    return errors


# A stack whose memory matters more than a few seconds (here, 300 models and up). Above this many
# resources the program's garbage is collected once it has run (below) and the packs judge the stack one
# after the other, each stopped once it has answered. A pack's AnalyzeStack holds the whole stack as
# requests and rule views: at 1,000 models (10,797 resources) each pack grew from ~70 to 255-287 MB, all
# three at once on top of the audit's 1.2 GB (tree peak 1,990 MB). One at a time, a pack's peak meets the
# others' exits instead. Below the threshold they run at once: at 100 models (1,122 resources) their stack
# analysis is a few tenths of a second and the audit's time is what counts.
LARGE_STACK_RESOURCES = 2_000


def _stack_analysis(sessions: list[PackSession], capture: Capture) -> list[AnalysisResult]:
    """``AnalyzeStack`` in every pack, the request serialized once for all of them.

    Serialized resource by resource: serialized protobuf messages of one type concatenate into the
    message holding all their repeated fields, so the request for the whole stack (10,797 resources at
    1,000 models) is never built as one message tree beside its bytes; a pack whose call fails gets
    the request parsed back from the bytes. Each pack is stopped as soon as it has answered (its
    policies' descriptions are kept); with more than :data:`LARGE_STACK_RESOURCES` resources the
    packs run one after the other.
    """
    payload = b"".join(
        AnalyzeStackRequest(resources=[stack_resource(reg, reg.provider)]).SerializeToString()
        for reg in capture.registrations
    )
    types = {reg.urn: reg.type for reg in capture.registrations}
    results: list[AnalysisResult | None] = [None] * len(sessions)
    errors: list[BaseException] = []

    def run(i: int, session: PackSession) -> None:
        try:
            results[i] = session.analyze_stack_request(None, types=types, payload=payload)
            session.close()  # done with this run: its memory goes back before the next pack peaks
        except BaseException as exc:
            errors.append(exc)

    if len(capture.registrations) > LARGE_STACK_RESOURCES:
        for i, session in enumerate(sessions):
            run(i, session)
            if errors:
                break
    else:
        threads = [threading.Thread(target=run, args=(i, s), daemon=True) for i, s in enumerate(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def _sorted_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.urn, f.pack, f.policy, f.kind, f.message))


def audit_capture_and_packs(
    env_file: Path,
    *,
    packs: list[Path],
    config_dir: Path | None,
    program: Path,
    project: str = PROJECT,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    stack_config: StackConfig | None = None,
    policy_environment: str | None = None,
    evidence: EvidenceMode | None = None,
    profile: StackProfile = UNDECLARED,
) -> tuple[Capture, AuditResult]:
    """``audit_environment`` returning the capture too (for tools that render both).

    ``project`` is the project's name: the namespace of its stack config and ``PULUMI_PROJECT``.
    ``stack_config`` replaces the one read from ``env_file`` (a layer stack of a split environment),
    ``policy_environment`` the stack name in the policy config lookup (the layer stack's environment).
    ``evidence``: gather the rules' evidence in this mode (``AuditResult.evidence``), the resource
    rules' while the packs judge the stack; None leaves it to the caller.
    """
    with paused_gc():  # collecting answers allocates per check on the program's heap: see paused_gc
        return _audit_capture_and_packs(
            env_file,
            packs=packs,
            config_dir=config_dir,
            program=program,
            project=project,
            progress=progress,
            workers=workers,
            stack_config=stack_config,
            policy_environment=policy_environment,
            evidence_mode=evidence,
            profile=profile,
        )


def _audit_capture_and_packs(
    env_file: Path,
    *,
    packs: list[Path],
    config_dir: Path | None,
    program: Path,
    project: str,
    progress: ProgressCallback | None,
    workers: int | None,
    stack_config: StackConfig | None,
    policy_environment: str | None,
    evidence_mode: EvidenceMode | None,
    profile: StackProfile,
) -> tuple[Capture, AuditResult]:
    started_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    t0 = time.perf_counter()
    stack_config = stack_config or load_stack_config(env_file, project=project)
    env = stack_config.environment
    profile = environment_profile(config_dir, stack_config, environment=policy_environment, given=profile)
    policy_config = environment_policy_config(
        config_dir, stack_config, environment=policy_environment, tier=profile.tier
    )
    workers_per_pack = default_workers() if workers is None else workers
    engine = EngineServer()
    sessions: list[PackSession] = []
    relays: list[Relay] = []
    secrets_holder: dict[str, Capture] = {}

    def redact(text: str) -> str:
        capture = secrets_holder.get("capture")
        return capture.redact(text) if capture is not None else text

    try:
        for pack_dir in packs:
            sessions.append(
                PackSession(
                    pack_dir,
                    engine_address=engine.address,
                    project=stack_config.project,
                    stack=env,
                    config=stack_config.values,
                    policy_config=policy_config.document,
                    strict_config=False,  # one document serves every pack (checked below)
                    redact=redact,
                    workers=workers_per_pack,
                )
            )
        relay = Relay(niceness=PACK_NICENESS)
        relays.append(relay)
        starting: list[BaseException] = []
        starter = threading.Thread(target=lambda: starting.extend(_start_all(sessions, relay)), daemon=True)
        starter.start()
        dispatcher = _Dispatcher(relay, progress)
        try:
            capture = capture_program(program, stack_config, on_resource=dispatcher)
        finally:
            starter.join()
        if starting:
            raise starting[0]
        # The program is done: most of what the SDK allocated for it is now garbage in cycles (at 300
        # models 937,000 of 1,178,000 objects), which the paused collector would keep to the end. On a
        # large stack one collection here lets the answers, the stack's request, the evidence and the
        # reports reuse that memory instead of growing the heap (300 models: the audit process's peak
        # 499 MB instead of 551-585). It costs seconds (bench, under cProfile at load 5-8: 2.6 s at 100
        # models, 4.9 s at 1,000), so a small stack, whose memory does not matter, skips it.
        if len(capture.registrations) > LARGE_STACK_RESOURCES:
            gc.collect()
        secrets_holder["capture"] = capture
        _check_shared_config(sessions, policy_config.document)
        try:
            dispatcher.deliver(sessions)
        except RuntimeError as exc:
            raise PackError(str(exc)) from exc
        if progress is not None:
            progress("analyze", len(capture.registrations))
        findings: list[Finding] = []
        checks: list[Check] = []
        skipped: list[Check] = []
        for session in sessions:
            for _urn, result in session.collect():
                findings.extend(result.findings)
                checks.extend(result.checks)
                skipped.extend(result.skipped)
        if progress is not None:
            progress("analyze-stack", len(capture.registrations))
        stack_results: list[AnalysisResult] = []
        stack_errors: list[BaseException] = []

        def judge_stack() -> None:
            try:
                stack_results.extend(_stack_analysis(sessions, capture))
            except BaseException as exc:
                stack_errors.append(exc)

        judging = threading.Thread(target=judge_stack, daemon=True)
        judging.start()
        evidence = None
        if evidence_mode is not None:  # the resource rules' evidence, while the packs judge the stack
            evidence = gather_evidence(capture.resources, findings, checks, evidence_mode)
        judging.join()
        if stack_errors:
            raise stack_errors[0]
        for result in stack_results:
            findings.extend(result.findings)
            checks.extend(result.checks)
            skipped.extend(result.skipped)
        if evidence_mode is not None:  # the stack rules' (the resource rules' are kept)
            evidence = gather_evidence(capture.resources, findings, checks, evidence_mode, into=evidence)
        policies = sorted((m for s in sessions for m in s.info()), key=lambda m: (m.pack, m.name))
    finally:
        for relay in relays:
            relay.close()
        for session in sessions:
            session.close()
        engine.stop()
    audit_result = AuditResult(
        environment=env,
        tier=profile.tier or NO_TIER,
        target=profile.target or deployed_target(capture.resources),
        resources=capture.resources,
        policies=policies,
        findings=_sorted_findings([_redacted(f, capture) for f in findings]),
        checks=sorted(set(checks), key=lambda c: (c.urn, c.pack, c.policy)),
        waivers=[],
        started_at=started_at,
        duration_s=time.perf_counter() - t0,
        not_applicable=sorted(set(skipped), key=lambda c: (c.urn, c.pack, c.policy)),
        policy_config=list(policy_config.sources),
        evidence=evidence,
        policy_document=policy_config.document,
    )
    return capture, audit_result


def _redacted(finding: Finding, capture: Capture) -> Finding:
    message = capture.redact(finding.message)
    if message == finding.message:
        return finding
    fields = {name: getattr(finding, name) for name in Finding.__dataclass_fields__}
    fields["message"] = message
    return Finding(**fields)


def _check_shared_config(sessions: list[PackSession], document: dict[str, Any] | None) -> None:
    """The environment's config, shared by every pack, must name only policies that exist in some pack.

    A project's tier file names every bundled policy, so when some bundled pack does not run
    (``mlops audit --pack DIR``) the bundled catalogue's names count as known too: not typos.
    """
    if document is None:
        return
    from mlops_platform.policies.catalogue import REGISTRY_RULES

    # The audit's own checks (supply chain) are configured in the same document, judged by no pack.
    known = {p.name for s in sessions for p in s.info_response.policies} | {"all"}
    known |= {rule.name for rule in REGISTRY_RULES}
    if not {p.name for p in discover_packs()} <= {s.pack_dir.name for s in sessions}:
        from mlops_platform.policies.catalogue import RULES

        known |= {rule.name for rule in RULES}
    unknown = sorted(set(document) - known)
    if unknown:
        raise PolicyConfigError(f"policy config names no known policy: {', '.join(unknown)}")


def audit_environment(
    env_file: Path,
    *,
    project: Project | None = None,
    packs: list[Path] | None = None,
    config_dir: Path | None = None,
    program: Path | None = None,
    progress: ProgressCallback | None = None,
    evidence: EvidenceMode | None = None,
    profile: StackProfile = UNDECLARED,
) -> AuditResult:
    """Audit one environment: findings of every pack on what its program registers, before waivers.

    Args:
        env_file: the stack file (``<stackConfigDir>/Pulumi.<ENV>.yaml``).
        project: the Pulumi project: its program, name and policy config directory (default: the
            working directory's).
        packs: policy pack directories (default: the library's bundled packs).
        config_dir: policy config directory (default: the project's ``policies/config``); the spec's
            tier picks ``tiers/<tier>.json`` in it, ``environments/<env>.json`` overrides it.
        program: the stack program (default: the project's).
        progress: called with ``(phase, resources)`` as the audit advances.
        evidence: gather the rules' evidence in this mode while the packs judge (None: not gathered).
        profile: the tier and target given on the command line (over the spec's and ``stacks.json``'s;
            without any, the target is what the program deploys to, ``deployed_target``).

    Raises:
        StackConfigError: the stack file is unreadable.
        PolicyConfigError: the policy config is invalid.
        PackError: a pack failed to start or died.
        Exception: whatever the program raises (invalid spec included).
    """
    project = project_or_cwd(project)
    _capture, result = audit_capture_and_packs(
        env_file,
        packs=discover_packs() if packs is None else packs,
        config_dir=project.policy_config_dir if config_dir is None else config_dir,
        program=project.program if program is None else program,
        project=project.name,
        progress=progress,
        evidence=evidence,
        profile=profile,
    )
    return result


def audit_split_environment(
    env_file: Path,
    *,
    project: Project | None = None,
    packs: list[Path] | None = None,
    progress: ProgressCallback | None = None,
    trail: dict[str, tuple[str | int, ...]] | None = None,
) -> list[tuple[Capture, AuditResult]]:
    """Audit one environment deployed as one stack per layer, the layers in order.

    ``trail``, when given, receives every layer run's spec trail (component URN -> spec path), for
    ``locate_findings``: the process's own trail is the last layer's only.

    Each layer stack (``<env>-<layer>``: the environment's stack file plus ``layer: <layer>``) runs
    under mocks as its own stack, every pack over it; each ``StackReference`` reads the outputs its
    upstream layer's capture exported, secrets still marked secret. The policy config is the
    environment's, as each layer stack's would be.

    Stack rules judge relations between resources (every model monitored, every pod under a
    NetworkPolicy, a namespace's classification ceiling over its models) that a split puts in two
    stacks: they are judged over the environment, once, on the resources of all four layer stacks
    (``environment_stack_analysis``), and replace each layer stack's own stack-rule results (reported
    with the last layer). Resource rules stay per layer stack.

    Raises:
        as ``audit_environment``; ``StackReferenceError`` when a layer reads a stack not captured.
    """
    from mlops_platform.stacks.layers import LAYER_KEY, Layer, layer_stack_name

    project = project_or_cwd(project)
    base = load_stack_config(env_file, project=project.name)
    packs = discover_packs() if packs is None else packs
    environment = base.environment
    spec_env = base.object("environment")
    env_name = str(spec_env.get("name", environment)) if isinstance(spec_env, dict) else environment
    references: dict[str, StackOutputs] = {}
    audited = []
    for layer in Layer:
        stack = layer_stack_name(env_name, layer)
        config = base.with_layer(stack, {f"{project.name}:{LAYER_KEY}": layer.value}, references)
        capture, result = audit_capture_and_packs(
            env_file,
            packs=packs,
            config_dir=project.policy_config_dir,
            program=project.program,
            project=project.name,
            progress=progress,
            stack_config=config,
            policy_environment=environment,
        )
        references[stack] = StackOutputs(dict(capture.exported), capture.secret_outputs)
        audited.append((capture, result))
        if trail is not None:
            from mlops_platform.stacks.composition import spec_trail

            trail.update(spec_trail())
    if not packs:
        return audited
    whole = environment_stack_analysis(
        [c for c, _ in audited],
        packs=packs,
        config_dir=project.policy_config_dir,
        project=project.name,
        policy_environment=environment,
    )
    stack_rules = {(m.pack, m.name) for _, result in audited for m in result.policies if m.stack_level}
    combined = []
    for index, (capture, result) in enumerate(audited):
        own = [f for f in result.findings if (f.pack, f.policy) not in stack_rules]
        checks = [c for c in result.checks if (c.pack, c.policy) not in stack_rules]
        if index == len(audited) - 1:  # the environment's stack-rule results, reported once
            own += [_redacted(f, capture) for f in whole.findings]
            checks += whole.checks
        fields = {name: getattr(result, name) for name in AuditResult.__dataclass_fields__}
        fields["findings"] = _sorted_findings(own)
        fields["checks"] = sorted(set(checks), key=lambda c: (c.urn, c.pack, c.policy))
        fields["not_applicable"] = [c for c in result.not_applicable if (c.pack, c.policy) not in stack_rules]
        if index == len(audited) - 1:
            fields["not_applicable"] += whole.skipped
        combined.append((capture, AuditResult(**fields)))
    return combined


def environment_result(environment: str, layers: list[AuditResult]) -> AuditResult:
    """One result for an environment audited as layer stacks: what a report of the environment shows.

    Resources, findings and checks of every layer stack (each with its own stack's URN); the policies
    and tier of the first (every layer runs the same packs with the same config).
    """
    first = layers[0]
    return AuditResult(
        environment=environment,
        tier=first.tier,
        target=first.target,
        resources=[r for result in layers for r in result.resources],
        policies=first.policies,
        findings=_sorted_findings([f for result in layers for f in result.findings]),
        checks=sorted(
            {c for result in layers for c in result.checks}, key=lambda c: (c.urn, c.pack, c.policy)
        ),
        waivers=[],
        started_at=first.started_at,
        duration_s=sum(result.duration_s for result in layers),
        secret_fingerprints=frozenset().union(*(result.secret_fingerprints for result in layers)),
        not_applicable=sorted(
            {c for result in layers for c in result.not_applicable}, key=lambda c: (c.urn, c.pack, c.policy)
        ),
        policy_config=first.policy_config,
        policy_document=first.policy_document,
    )


@dataclass(frozen=True, slots=True)
class _Registrations:
    """What ``_stack_analysis`` reads of a capture: its registrations."""

    registrations: list[Registration]


def environment_stack_analysis(
    captures: list[Capture],
    *,
    packs: list[Path],
    config_dir: Path | None,
    project: str,
    policy_environment: str,
) -> AnalysisResult:
    """Every pack's stack rules over the resources of several stacks of one environment at once.

    The packs run with the first stack's config and the environment's policy config; each resource
    keeps its own stack's URN. Returns the stack rules' findings and checks (no resource rule runs).
    """
    first = captures[0].config
    engine = EngineServer()
    sessions: list[PackSession] = []
    policy_config = environment_policy_config(config_dir, first, environment=policy_environment)
    try:
        for pack_dir in packs:
            sessions.append(
                PackSession(
                    pack_dir,
                    engine_address=engine.address,
                    project=project,
                    stack=first.environment,
                    config=first.values,
                    policy_config=policy_config.document,
                    strict_config=False,  # one document serves every pack
                )
            )
        errors = _start_all(sessions)
        if errors:
            raise errors[0]
        union = _Registrations([reg for capture in captures for reg in capture.registrations])
        whole = AnalysisResult()
        for result in _stack_analysis(sessions, union):  # type: ignore[arg-type]
            whole.extend(result)
        return whole
    finally:
        for session in sessions:
            session.close()
        engine.stop()


def capture_environment(env_file: Path, *, project: Project | None = None) -> Capture:
    """Run an environment's program under mocks and return what it registers (for ``mlops preview``)."""
    project = project_or_cwd(project)
    return capture_program(project.program, load_stack_config(env_file, project=project.name))


__all__ = [
    "PackError",
    "PolicyConfigError",
    "audit_environment",
    "capture_environment",
    "discover_packs",
    "environment_policy_config",
]
