"""Waivers: approved, expiring exceptions to policy violations (``policies/waivers.yaml``).

A waiver never hides a violation: :func:`apply_waivers` marks the violations it covers as waived
(``Finding.waiver``), so every report still shows them. A waiver that has expired, that matches nothing
in the audited environment, or that names a non-waivable rule is itself a mandatory finding
(``kind="waiver"``): stale exceptions must be cleaned up as deliberately as they were granted.
Policy errors (a policy that raised) are never waivable.

The file is validated with pydantic and every problem is reported at once, located like spec errors::

    policies/waivers.yaml:12: waivers[3].expires: must be an ISO date (YYYY-MM-DD), got '2026-13-01'
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Collection, Iterable
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from mlops_platform.stacks.yaml_source import (
    LocatedYaml,
    Problem,
    SourceError,
    echo,
    format_path,
    read_located_yaml,
)
from mlops_platform.tools.findings import AuditResult, Enforcement, Finding, PolicyMeta, Severity, Waiver

WAIVERS_PACK = "waivers"
"""``Finding.pack`` of the findings about waivers themselves."""

MIN_REASON_CHARS = 20
# Words that say nothing about why an exception is acceptable; a reason made only of these is rejected.
_BOILERPLATE_WORDS = frozenset(
    {
        "todo",
        "tbd",
        "tbc",
        "n",
        "a",
        "na",
        "none",
        "fixme",
        "temp",
        "temporary",
        "wip",
        "xxx",
        "test",
        "later",
    }
    | {
        "fix",
        "exception",
        "waiver",
        "waived",
        "needed",
        "required",
        "ok",
        "approved",
        "see",
        "ticket",
        "asap",
    }
)


def _rule(name: str, display: str, description: str, remediation: str) -> PolicyMeta:
    return PolicyMeta(
        name=name,
        pack=WAIVERS_PACK,
        pack_version="",
        display_name=display,
        description=description,
        enforcement=Enforcement.MANDATORY,
        severity=Severity.MEDIUM,
        framework=None,
        tags=("non-waivable", "governance"),
        remediation_steps=remediation,
        url="",
        stack_level=True,
    )


WAIVER_EXPIRING = "waiver-expiring"
WAIVER_EXPIRED = "waiver-expired"
WAIVER_UNMATCHED = "waiver-unmatched"
WAIVER_REJECTED = "waiver-not-allowed"

WAIVER_RULES: dict[str, PolicyMeta] = {
    rule.name: rule
    for rule in (
        _rule(
            WAIVER_EXPIRED,
            "Waivers must not be expired",
            "A waiver past its expiry date no longer waives anything.",
            "Fix the violation and delete the waiver, or renew it with a new approval and expiry date.",
        ),
        _rule(
            WAIVER_EXPIRING,
            "Waivers about to expire are renewed or retired in time",
            "A waiver expiring within the tier's warning window (WaiverLimits.warn_within_days).",
            "Fix the violation before the expiry date, or renew the waiver with a new approval.",
        ),
        _rule(
            WAIVER_UNMATCHED,
            "Waivers must match a violation",
            "A waiver that matches no violation in the environment is stale or mistyped.",
            "Delete the waiver if the violation is fixed; otherwise correct its policy, resource or "
            "environment so that it matches.",
        ),
        _rule(
            WAIVER_REJECTED,
            "Non-waivable rules cannot be waived",
            "The rule is tagged non-waivable (or listed as such by the audit): the violation must be fixed.",
            "Delete the waiver and fix the resource.",
        ),
    )
}
"""The rules behind ``kind="waiver"`` findings, for the reports' rule catalogue."""


class WaiverError(SourceError):
    """The waivers file is invalid: every problem, located like spec errors (``file:line: path: message``).

    A :class:`mlops_platform.stacks.yaml_source.SourceError`, so callers handle bad waivers like a bad spec
    (exit 2).
    """

    @property
    def errors(self) -> list[str]:
        return [str(problem) for problem in self.problems]


# --- validation ---------------------------------------------------------------------------------


def _meaningful_reason(value: str) -> str:
    text = " ".join(value.split())
    if len(text) < MIN_REASON_CHARS:
        raise ValueError(
            f"must explain the exception in at least {MIN_REASON_CHARS} characters, got {echo(text)}"
        )
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    if words <= _BOILERPLATE_WORDS:
        raise ValueError(f"must say why the exception is acceptable, not placeholder text {echo(text)}")
    return text


def _not_placeholder(value: str) -> str:
    text = value.strip()
    if set(re.findall(r"[a-z0-9]+", text.lower())) <= _BOILERPLATE_WORDS:
        raise ValueError(f"must be a real value, not placeholder text {echo(text)}")
    return text


def _iso_date(value: Any) -> date:
    # PyYAML already turns an unquoted 2026-03-31 into a date; a datetime or a number is a mistake.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be an ISO date (YYYY-MM-DD), got {echo(str(value))}")


def _matching(pattern: str, expected: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {expected}, got {echo(value)}")
        return value

    return AfterValidator(check)


_PolicyName = Annotated[
    str, _matching(r"[A-Za-z0-9][A-Za-z0-9._-]*", "a rule name such as k8s-workload-run-as-non-root")
]
_Selector = Annotated[str, _matching(r"\S+", "a URN glob (urn:pulumi:...) or a resource name glob")]
_Environment = Annotated[str, _matching(r"\*|[a-z][a-z0-9-]*", "an environment name such as prod, or *")]


class WaiverSpec(BaseModel):
    """One entry of ``waivers:`` as written in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    policy: _PolicyName
    """The rule name (``k8s-workload-run-as-non-root``)."""
    selector: _Selector
    """A URN glob when it starts with ``urn:``, otherwise a glob on the resource name."""
    environment: _Environment
    """One environment name, or ``*`` for every environment."""
    reason: Annotated[str, AfterValidator(_meaningful_reason)]
    owner: Annotated[str, Field(min_length=2), AfterValidator(_not_placeholder)]
    approval_ref: Annotated[str, Field(min_length=2), AfterValidator(_not_placeholder)]
    """Where the exception was approved (ticket, change request, ADR)."""
    expires: Annotated[date, BeforeValidator(_iso_date)]
    """The last day the waiver applies."""


class WaiversFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    waivers: list[WaiverSpec] = []


# --- loading ------------------------------------------------------------------------------------


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        model = WaiverSpec if len(error["loc"]) > 1 else WaiversFile
        allowed = list(model.model_fields)
        hint = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        did_you_mean = f"did you mean '{hint[0]}'? " if hint else ""
        return f"unknown field ({did_you_mean}allowed: {', '.join(allowed)})"
    return str(error["msg"]).removeprefix("Value error, ")


def waivers_from(located: LocatedYaml) -> list[Waiver]:
    """Validate a parsed waivers file; every problem is located by file and line.

    Raises:
        WaiverError: with every problem found, each ``file:line: path: message``.
    """
    problems = list(located.duplicates)
    try:
        parsed = WaiversFile.model_validate({} if located.data is None else located.data)
    except ValidationError as exc:
        for error in exc.errors():
            path = tuple(error["loc"])
            problems.append(Problem(located.file, located.line_of(path), format_path(path), _message(error)))
        raise WaiverError(problems) from None

    first: dict[tuple[str, str, str], int] = {}
    waivers: list[Waiver] = []
    for index, spec in enumerate(parsed.waivers):
        line = located.line_of(("waivers", index))
        key = (spec.policy, spec.selector, spec.environment)
        if key in first:
            problems.append(
                Problem(
                    located.file,
                    line,
                    f"waivers[{index}]",
                    f"duplicates waivers[{first[key]}] (same policy, selector and environment)",
                )
            )
        first.setdefault(key, index)
        waivers.append(
            Waiver(
                policy=spec.policy,
                selector=spec.selector,
                environment=spec.environment,
                reason=spec.reason,
                owner=spec.owner,
                approval_ref=spec.approval_ref,
                expires=spec.expires.isoformat(),
                source=f"{located.file}:{line}",
            )
        )
    if problems:
        raise WaiverError(problems)
    return waivers


def load_waivers(path: str | Path) -> list[Waiver]:
    """Load and validate a waivers file (``policies/waivers.yaml``).

    Errors and ``Waiver.source`` name the file relative to the working directory when below it.

    Raises:
        WaiverError: with every problem found, including a missing file or a YAML syntax error.
    """
    try:
        located = read_located_yaml(Path(path), timestamps=False)  # Pulumi never reads this file
    except SourceError as exc:
        raise WaiverError(exc.problems) from None
    return waivers_from(located)


# --- limits per tier ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class WaiverLimits:
    """How long a waiver may run in a tier, and how early its expiry is warned of."""

    max_days: int
    """Longest allowed time from the audit's date to ``expires``: a longer waiver is refused."""
    warn_within_days: int
    """A waiver expiring within this many days is an advisory finding in every report format."""


WAIVER_LIMITS: dict[str, WaiverLimits] = {
    "dev": WaiverLimits(max_days=365, warn_within_days=30),
    "staging": WaiverLimits(max_days=180, warn_within_days=30),
    "prod": WaiverLimits(max_days=90, warn_within_days=30),
}
"""Per tier (``environment.tier``); a tier not listed has no limit."""


def over_limit(waivers: Iterable[Waiver], environment: str, tier: str, today: date) -> list[str]:
    """Located refusals (``file:line: ...``): waivers for ``environment`` past its tier's limit."""
    limits = WAIVER_LIMITS.get(tier)
    if limits is None:
        return []
    out = []
    for waiver in waivers:
        days = (date.fromisoformat(waiver.expires) - today).days
        if applies_to(waiver, environment) and days > limits.max_days:
            out.append(
                f"{waiver.source}: expires: {waiver.expires} is {days} days after {today.isoformat()}; "
                f"tier {tier} allows a waiver at most {limits.max_days} days (environment {environment})"
            )
    return out


# --- application --------------------------------------------------------------------------------


def resource_name(urn: str) -> str:
    """The name segment of a URN (``urn:pulumi:stack::project::type::name`` -> ``name``).

    Same split as the engine's ``urn_name`` (a name may itself contain ``::``), kept here so that
    waivers and reports need no Pulumi import; empty for the stack (empty URN).
    """
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else ""


def selector_matches(selector: str, urn: str) -> bool:
    """A ``urn:`` selector globs the whole URN; any other globs the resource name.

    Stack-level findings (empty URN) only match the selector ``*``.
    """
    if selector.startswith("urn:"):
        return bool(urn) and fnmatchcase(urn, selector)
    return fnmatchcase(resource_name(urn), selector)


def applies_to(waiver: Waiver, environment: str) -> bool:
    return waiver.environment in ("*", environment)


def apply_waivers(
    result: AuditResult,
    waivers: Iterable[Waiver],
    today: date,
    non_waivable: Collection[str] = (),
) -> AuditResult:
    """Return ``result`` with waivers applied: waived violations marked, waiver problems added.

    Args:
        result: One environment's audit, as the engine produced it.
        waivers: Every waiver of the file; those for other environments are ignored.
        today: The audit's date (injected so tests are deterministic); a waiver is valid through its
            ``expires`` day.
        non_waivable: Rule names that may not be waived in addition to those tagged ``non-waivable``.

    Returns:
        A new ``AuditResult`` whose ``waivers`` are the ones applying to this environment and whose
        ``findings`` are the originals (waived ones with ``waiver`` set) followed by one mandatory
        ``kind="waiver"`` finding per expired, unmatched or rejected waiver.
    """
    policies = {p.name: p for p in result.policies}
    applicable = [w for w in waivers if applies_to(w, result.environment)]
    findings = list(result.findings)
    problems: list[Finding] = []

    for waiver in applicable:
        policy = policies.get(waiver.policy)
        if (policy is not None and not policy.waivable) or waiver.policy in non_waivable:
            problems.append(
                _problem(
                    WAIVER_REJECTED,
                    waiver,
                    Severity.HIGH,
                    f"{waiver.source}: waiver of '{waiver.policy}' for '{waiver.selector}' is not allowed: "
                    f"the rule is non-waivable; fix the resource and delete the waiver",
                )
            )
            continue
        if date.fromisoformat(waiver.expires) < today:
            problems.append(
                _problem(
                    WAIVER_EXPIRED,
                    waiver,
                    policy.severity if policy else Severity.MEDIUM,
                    f"{waiver.source}: waiver of '{waiver.policy}' for '{waiver.selector}' expired on "
                    f"{waiver.expires} (owner {waiver.owner}, approval {waiver.approval_ref}); fix the "
                    f"violation or renew the waiver with a new approval",
                )
            )
            continue
        limits = WAIVER_LIMITS.get(result.tier)
        left = (date.fromisoformat(waiver.expires) - today).days
        if limits is not None and left <= limits.warn_within_days:
            problems.append(
                dataclasses.replace(
                    _problem(
                        WAIVER_EXPIRING,
                        waiver,
                        Severity.LOW,
                        f"{waiver.source}: waiver of '{waiver.policy}' for '{waiver.selector}' expires on "
                        f"{waiver.expires}, in {left} day(s) (tier {result.tier} warns within "
                        f"{limits.warn_within_days}); fix the violation or renew the waiver",
                    ),
                    enforcement=Enforcement.ADVISORY,
                )
            )
        matched = 0
        for index, finding in enumerate(findings):
            if (
                finding.kind == "violation"  # policy errors and waiver problems are never waivable
                and finding.waiver is None  # the first waiver in file order wins
                and finding.policy == waiver.policy
                and selector_matches(waiver.selector, finding.urn)
            ):
                findings[index] = dataclasses.replace(finding, waiver=waiver)
                matched += 1
        if not matched:
            why = "no pack in this audit defines that policy" if policy is None else "it matches no violation"
            problems.append(
                _problem(
                    WAIVER_UNMATCHED,
                    waiver,
                    Severity.MEDIUM,
                    f"{waiver.source}: waiver of '{waiver.policy}' for '{waiver.selector}' matches nothing "
                    f"in environment '{result.environment}' ({why}); delete it or fix its policy, selector "
                    f"or environment",
                )
            )

    return dataclasses.replace(result, findings=findings + problems, waivers=applicable)


def _problem(rule: str, waiver: Waiver, severity: Severity, message: str) -> Finding:
    return Finding(
        policy=rule,
        pack=WAIVERS_PACK,
        enforcement=Enforcement.MANDATORY,
        severity=severity,
        urn="",
        resource_type="",
        message=message,
        kind="waiver",
        subject_waiver=waiver,
    )
