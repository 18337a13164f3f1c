"""What one engine operation reported, read from the engine's events as the CLI wrote them (JSON).

The engine (3.274.1) emits, per resource and policy pack, ``policyAnalyzeSummaryEvent`` (the
policies that passed and failed on that resource) and, once per pack,
``policyAnalyzeStackSummaryEvent``: the engine's own record of which policies judged what, which is
the evidence an audit counts as checks. The Automation API drops those kinds before ``on_event``;
each event's JSON reaches :class:`EngineRecord` as ``.raw`` through ``sdk_events.raw_events`` (the
one adapter of the SDK's private API) or straight from ``pulumi policy analyze --json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlops_platform.tools.findings import Enforcement

_BLOCKING = frozenset({Enforcement.MANDATORY, Enforcement.REMEDIATE})


@dataclass(slots=True)
class PolicyViolation:
    """One ``policyEvent``: a violation the engine reported for a policy of a pack."""

    pack: str
    pack_version: str
    policy: str
    urn: str  # empty for a stack policy's violation that names no resource
    enforcement: str  # as the engine spells it: advisory, mandatory, remediate
    message: str


@dataclass(slots=True)
class EngineRecord:
    """What one engine operation reported, sorted by kind."""

    violations: list[PolicyViolation] = field(default_factory=list)
    # (urn, pack) -> (passed, failed) policy names, from the engine's per-resource summaries
    resource_checks: dict[tuple[str, str], tuple[list[str], list[str]]] = field(default_factory=dict)
    stack_checks: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # urn -> resourcePreEvent metadata
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)  # urn -> resOutputsEvent metadata
    errors: list[str] = field(default_factory=list)  # error diagnostics, in order
    warnings: list[str] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)  # summaryEvent.resourceChanges
    packs: dict[str, str] = field(default_factory=dict)  # pack name -> version

    def __call__(self, event: Any) -> None:
        """``on_event`` for the Automation API (inside ``sdk_events.raw_events``)."""
        raw: dict[str, Any] = getattr(event, "raw", None) or {}
        if "policyEvent" in raw:
            p = raw["policyEvent"]
            self.violations.append(
                PolicyViolation(
                    pack=p.get("policyPackName", ""),
                    pack_version=p.get("policyPackVersion", ""),
                    policy=p.get("policyName", ""),
                    urn=p.get("resourceUrn") or "",
                    enforcement=p.get("enforcementLevel", ""),
                    message=p.get("message", ""),
                )
            )
        elif "policyAnalyzeSummaryEvent" in raw:
            s = raw["policyAnalyzeSummaryEvent"]
            key = (s.get("resourceUrn", ""), s.get("policyPackName", ""))
            self.resource_checks[key] = (list(s.get("passed") or []), list(s.get("failed") or []))
            self.packs[key[1]] = s.get("policyPackVersion", "")
        elif "policyAnalyzeStackSummaryEvent" in raw:
            s = raw["policyAnalyzeStackSummaryEvent"]
            pack = s.get("policyPackName", "")
            self.stack_checks[pack] = (list(s.get("passed") or []), list(s.get("failed") or []))
        elif "resourcePreEvent" in raw:
            metadata = raw["resourcePreEvent"].get("metadata") or {}
            if metadata.get("urn"):
                self.steps[metadata["urn"]] = metadata
        elif "resOutputsEvent" in raw:
            metadata = raw["resOutputsEvent"].get("metadata") or {}
            if metadata.get("urn"):
                self.outcomes[metadata["urn"]] = metadata
        elif "diagnosticEvent" in raw:
            d = raw["diagnosticEvent"]
            severity = d.get("severity")
            if severity == "error":
                self.errors.append(_diagnostic_text(d))
            elif severity == "warning":
                self.warnings.append(_diagnostic_text(d))
        elif "summaryEvent" in raw:
            self.changes = dict(raw["summaryEvent"].get("resourceChanges") or {})

    def mandatory(self) -> list[PolicyViolation]:
        return [v for v in self.violations if v.enforcement in _BLOCKING]


def _diagnostic_text(diagnostic: dict[str, Any]) -> str:
    urn = diagnostic.get("urn") or ""
    message = str(diagnostic.get("message", "")).strip()
    return f"{urn}: {message}" if urn else message


def echo(write: Callable[[str], None]) -> Callable[[str], None]:
    """``on_output`` that forwards the CLI's progress lines to ``write`` (a console's stderr)."""

    def forward(line: str) -> None:
        write(line.rstrip("\n"))

    return forward
