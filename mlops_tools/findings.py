"""The audit's data model: what the engine captured, what the packs said, and how it was judged.

Plain frozen dataclasses so that every report format renders the same facts. Nothing here imports
Pulumi; the engine fills these in, the waiver engine annotates them, the reports read them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

UNKNOWN_MARKER = "<unknown>"
"""Stands for a value that is only known after deployment (a computed output during preview)."""

SECRET_MARKER: dict[str, str] = {"<secret>": "redacted"}
"""Stands for a secret value: the plaintext never leaves the engine. Compare with ``==``, never mutate."""


# Severity and enforcement, once for everything that reads an audit. The rules declare theirs with
# pulumi_policy's enums (``policies/declaration.py``); those reach the audit only over the analyzer
# protocol, as ``pulumirpc.EnforcementLevel`` / ``PolicySeverity`` numbers. These two enums are that
# protocol's vocabulary without Pulumi (reports, waivers and their tests must not import it): member
# names are the protocol's names (``POLICY_SEVERITY_`` dropped), values pulumi_policy's strings and
# the policy config files' spelling. The one conversion is at the engine boundary
# (``engine.analyzer``), derived from the protocol's enums by name, so a level or severity added
# upstream fails there at import; ``tests/engine/test_engine_analyzer.py`` holds pulumi_policy's
# values to these.


class Enforcement(StrEnum):
    """Enforcement level of a policy, as the pack reports it after configuration."""

    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    REMEDIATE = "remediate"
    DISABLED = "disabled"

    @property
    def reported(self) -> Enforcement:
        """The level a violation is reported at: the engine reports an unremediated one as mandatory."""
        return Enforcement.MANDATORY if self is Enforcement.REMEDIATE else self


class Severity(StrEnum):
    """A policy's severity; ``UNSPECIFIED`` when its pack declares none (the protocol's zero value)."""

    UNSPECIFIED = "unspecified"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def secret_fingerprint(value: str) -> str:
    """``"<length>:<sha256 hex>"`` of a secret value: enough to find it in text, useless to print."""
    return f"{len(value)}:{hashlib.sha256(value.encode()).hexdigest()}"


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a program created a resource: the absolute file and the line of the call."""

    file: str
    line: int


@dataclass(frozen=True, slots=True)
class CapturedResource:
    """One RegisterResource call as the engine would see it: identity, inputs and options.

    ``inputs`` hold plain Python values; unknown values are the ``UNKNOWN`` marker string and secret
    values are replaced by ``SECRET`` marker dicts before anything leaves the engine.
    """

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    parent: str | None = None
    provider: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool | None = None
    ignore_changes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    additional_secret_outputs: tuple[str, ...] = ()
    source: SourcePosition | None = None  # the program line that created it, when the engine said


@dataclass(frozen=True, slots=True)
class Framework:
    """A compliance framework a policy maps to (``PolicyComplianceFramework``)."""

    name: str
    version: str = ""
    reference: str = ""
    specification: str = ""


@dataclass(frozen=True, slots=True)
class PolicyMeta:
    """A policy as ``GetAnalyzerInfo`` describes it, after ``Configure``."""

    name: str
    pack: str
    pack_version: str
    display_name: str
    description: str
    enforcement: Enforcement
    severity: Severity
    framework: Framework | None
    tags: tuple[str, ...]
    remediation_steps: str
    url: str
    stack_level: bool

    @property
    def waivable(self) -> bool:
        return "non-waivable" not in self.tags


@dataclass(frozen=True, slots=True)
class Waiver:
    """An approved exception from ``policies/waivers.yaml``."""

    policy: str
    selector: str
    environment: str
    reason: str
    owner: str
    approval_ref: str
    expires: str  # ISO date
    source: str  # "file:line"


@dataclass(frozen=True, slots=True)
class SpecLocation:
    """A place in an environment's spec: ``file:line`` and the key path (``serving.models[0].image``)."""

    file: str
    line: int | None
    path: str
    default: bool = False  # the value came from a tier default (``file`` is stacks/defaults.yaml)
    program: bool = False  # a line of the program (the call that created the resource), not of the spec

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}" if self.path else where


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """A policy config file an audit used, and the SHA-256 of its bytes."""

    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnostic from one policy about one resource (or the stack when ``urn`` is empty)."""

    policy: str
    pack: str
    enforcement: Enforcement
    severity: Severity
    urn: str
    resource_type: str
    message: str
    kind: str = "violation"  # also "policy-error" (the policy raised), "waiver" (waiver problem),
    # "coverage" (a control binding a served model's risk tier that no check judged)
    waiver: Waiver | None = None
    # For kind="waiver": the waiver the problem is about (``waiver`` stays None: the problem is not waived).
    subject_waiver: Waiver | None = None
    # Where in the spec the finding comes from (``spec_locations.locate_findings``): the stack file's
    # line, or the tier default's line in stacks/defaults.yaml when a default caused it.
    spec: SpecLocation | None = None
    remediation: str = ""  # one line: what to change (the first sentence of the policy's remediation)

    @property
    def blocking(self) -> bool:
        """True when this finding alone makes the audit fail (exit 1)."""
        if self.kind == "policy-error":
            return True
        return self.enforcement is Enforcement.MANDATORY and self.waiver is None


class Check(NamedTuple):
    """That ``policy`` was evaluated against ``urn`` (empty for stack policies); for JUnit and evidence.

    A named tuple, not a dataclass: an audit makes one per policy x resource (356,572 at 1,000
    models), and a frozen dataclass's ``__init__`` cost 3x a tuple's.
    """

    policy: str
    pack: str
    urn: str


class EvidenceMode(StrEnum):
    """How much positive evidence an audit keeps (``mlops audit --evidence``)."""

    SAMPLE = "sample"  # every resource a rule did not pass, and a bounded sample of those it passed
    FULL = "full"  # every resource every rule judged, and every resource a stack rule read


class Observed(NamedTuple):
    """The values one rule read on one resource: ``(path, value)`` pairs, bounded, and how many more."""

    values: tuple[tuple[str, str], ...]
    more: int


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the rules read on the resources they judged, gathered once per (rule, resource).

    ``observed`` holds an entry for every (pack, policy, urn) the report lists (``urn`` empty for
    the stack); ``stack_reads`` the resources a stack rule that judged the whole stack read values
    on, in report order, and ``stack_reads_cut`` the stack rules whose reads are a sample (the
    bound was reached: more resources may hold values it reads).
    """

    mode: EvidenceMode
    observed: dict[tuple[str, str, str], Observed] = field(default_factory=dict)
    stack_reads: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    stack_reads_cut: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One image reference and what its registry answered (digest, signatures), for the reports."""

    reference: str
    registry: str
    digest: str | None
    exists: bool
    error: str | None
    signatures: int
    verified_by: tuple[str, ...]
    signature_checked: bool
    """Signatures were read: the tier requires them for an image this environment runs."""


@dataclass(frozen=True, slots=True)
class SupplyChainRecord:
    """Whether the audit consulted the image registries, and what they answered."""

    consulted: bool
    images: tuple[ImageRecord, ...] = ()


@dataclass(slots=True)
class AuditResult:
    """Everything one environment's audit established; the single input of every report."""

    environment: str
    tier: str
    target: str
    resources: list[CapturedResource]
    policies: list[PolicyMeta]
    findings: list[Finding]
    checks: list[Check]  # applicable evaluations only: a rule judged a resource it applies to
    waivers: list[Waiver]
    started_at: str  # ISO 8601 UTC; the only field allowed to differ between two identical audits
    duration_s: float
    # ``secret_fingerprint`` of each secret value the engine redacted: lets every report redact a policy
    # message that echoes one, without the plaintext ever being kept in the result.
    secret_fingerprints: frozenset[str] = frozenset()
    # Policy x resource pairs the rule declared not applicable (``PolicyNotApplicable``): never checks.
    not_applicable: list[Check] = field(default_factory=list)
    policy_config: list[ConfigSource] = field(default_factory=list)  # tier file first, then the override
    # What each rule read, gathered once (``reports.evidence.gather_evidence``); None: not gathered yet.
    evidence: Evidence | None = None
    stack_file: str = ""  # the environment's stack file, relative to the project's root
    # The merged policy config the audit ran with (None: no config directory); the audit's own checks
    # (``supply_chain``) read their levels and knobs from it, as the packs read theirs.
    policy_document: dict[str, Any] | None = None
    # Policy x resource pairs a rule applies to but could not judge without the network: the image
    # registries were not consulted (``supply_chain``). Reported "not verified", never as checks.
    not_verified: list[Check] = field(default_factory=list)
    # What the image registries answered, when the audit consulted them (``supply_chain``).
    supply_chain: SupplyChainRecord | None = None

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def passed(self) -> bool:
        return not self.blocking
