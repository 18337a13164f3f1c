"""What a rule is: one keyword-only declaration, next to its check, holding everything about it.

A rule module defines its check and declares it right below, under the rule's own name in capitals::

    def no_privileged(res: Res, cfg: Config) -> list[str]: ...


    WORKLOAD_NO_PRIVILEGED = ResourceRule(
        name="workload-no-privileged",
        pack=Pack.SECURITY,
        description="Containers must not run privileged.",
        check=no_privileged,
        applies_to=POD_OR_CONTAINER,
        admission=Cel(match=cel.WORKLOADS, violations="..."),  # the same rule in the cluster
        ...
    )

(like pulumi/compliance-policies' ``registerPolicy({...})`` or a checkov check class). Everything
else is derived from these declarations (:func:`declared_in` collects a module's, in order):
the catalogue and the packs (:mod:`mlops_platform.policies.catalogue`,
:mod:`mlops_platform.policies.packs`), the tier files, ``policies/README.md``, the evidence the
audit reports and the admission policies (:mod:`mlops_platform.policies.admission`: a rule's CEL gives
the same messages as its check, or ``NotInCel`` says why CEL cannot express it). A declaration that
misses a part is refused where it is made (:class:`RuleDeclarationError`, with the check's file and
line).

Severity and enforcement levels are pulumi-policy's own enums; tiers are
:class:`mlops_platform.validation.Tier`; control titles and framework editions are facts about the
frameworks, kept once in :mod:`mlops_platform.policies.controls`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType, ModuleType
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Severity

from mlops_platform.policies.admission import Admission, Cel, NotInCel
from mlops_platform.policies.controls import ALL_TARGETS, FRAMEWORKS, ControlMapping, control_title
from mlops_platform.policies.evidence import EvidenceSelector
from mlops_platform.policies.rules._model import AppliesTo, Config, Res
from mlops_platform.validation import Tier

__all__ = [
    "BOTH",
    "DOCKER",
    "K8S",
    "MANDATORY_FROM_STAGING",
    "MANDATORY_IN_PROD",
    "NON_WAIVABLE",
    "STRING_LIST",
    "Cel",
    "EnforcementLevel",
    "NotInCel",
    "Pack",
    "RegistryRule",
    "ResourceRule",
    "Rule",
    "RuleDeclarationError",
    "Severity",
    "StackRule",
    "declared_in",
    "per_tier",
]

NON_WAIVABLE: Final = "non-waivable"
"""Tag of a rule no waiver may suppress."""

K8S: Final = ("kubernetes",)
DOCKER: Final = ("docker",)
BOTH: Final = ALL_TARGETS

STRING_LIST: Final[Mapping[str, Any]] = MappingProxyType({"type": "array", "items": {"type": "string"}})
"""JSON Schema of a config knob holding a list of strings."""

Levels = Mapping[Tier, EnforcementLevel]
MANDATORY_FROM_STAGING: Final[Levels] = MappingProxyType(
    {
        Tier.DEV: EnforcementLevel.ADVISORY,
        Tier.STAGING: EnforcementLevel.MANDATORY,
        Tier.PROD: EnforcementLevel.MANDATORY,
    }
)
"""The default: advisory in dev, mandatory from staging on."""
MANDATORY_IN_PROD: Final[Levels] = MappingProxyType(
    {
        Tier.DEV: EnforcementLevel.ADVISORY,
        Tier.STAGING: EnforcementLevel.ADVISORY,
        Tier.PROD: EnforcementLevel.MANDATORY,
    }
)
"""For rules a team adopts on the way to production: advisory until prod."""

Knobs = Mapping[Tier, Mapping[str, Any]]


class Pack(StrEnum):
    """The CrossGuard pack a rule belongs to (its directory under ``policies/``)."""

    SECURITY = "mlops-security"
    RELIABILITY = "mlops-reliability"
    GOVERNANCE = "mlops-governance"
    SUPPLY_CHAIN = "supply-chain"
    """Not a CrossGuard pack: the checks the audit runs itself, because they ask the image registries
    and no pack may reach the network (:class:`RegistryRule`)."""

    @property
    def area(self) -> str:
        """``security``, ``reliability``, ``governance``: the ``area:`` tag."""
        return self.removeprefix("mlops-")


def per_tier(**values: Sequence[Any]) -> Knobs:
    """Per-tier config values, one per tier in :class:`Tier` order: ``minReplicas=(1, 2, 3)``."""
    out: dict[Tier, dict[str, Any]] = {tier: {} for tier in Tier}
    for key, per in values.items():
        for tier, value in zip(Tier, per, strict=True):
            out[tier][key] = value
    return MappingProxyType(out)


class RuleDeclarationError(ValueError):
    """A rule declaration is incomplete or names a rule already declared."""


ResourceCheck = Callable[[Res, Config], list[str]]
"""A resource rule's check: violation messages for one resource (empty: compliant)."""
StackCheck = Callable[[list[Res], Config], Sequence[tuple[str | None, str]]]
"""A stack rule's check: ``(urn or None, message)`` per violation over the whole stack."""

RegistryCheck = Callable[[Res, Config, Mapping[str, Any]], list[str] | None]
"""A registry rule's check: violation messages for one resource, given what the image registries
answered per image reference; None where the rule does not apply."""

_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    """One rule: what it checks and where, how bad a violation is, which controls it serves, what it
    reads, how to fix it. Declared as a :class:`ResourceRule` or a :class:`StackRule`."""

    name: str
    """``<resource>-<check>`` with a target-neutral resource: ``workload-no-privileged``."""
    pack: Pack
    description: str
    """One sentence: what must hold."""
    check: Callable[..., Any]
    applies_to: AppliesTo
    """Where the rule judges; elsewhere the pack answers not-applicable and no check is counted."""
    targets: tuple[str, ...]
    """The deployment targets the rule covers (``target:`` tags)."""
    severity: Severity
    mappings: tuple[ControlMapping, ...]
    """Each control the rule evidences, with its coverage (full or partial) and why; the first is the
    rule's ``PolicyComplianceFramework``."""
    evidence: EvidenceSelector
    """The properties whose values the audit reports as what the rule judged."""
    remediation: str
    admission: Admission
    """The same rule inside the cluster: its CEL validation (``Cel``, same messages as ``check``), or why
    CEL cannot express it (``NotInCel``); see :mod:`mlops_platform.policies.admission`."""
    levels: Levels = field(default_factory=lambda: MANDATORY_FROM_STAGING)
    """Enforcement level per tier, written to ``policies/config/tiers/<tier>.json``."""
    non_waivable: bool = False
    schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """JSON Schema properties of the rule's config (``PolicyConfigSchema``), with their defaults."""
    knobs: Knobs = field(default_factory=dict)
    """Config values per tier, written beside the level to the tier files."""

    stack: bool = field(init=False, default=False)
    """Whether the rule judges the whole stack at once (a :class:`StackRule`)."""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise RuleDeclarationError(f"{self.where}: rule {self.name!r}: {'; '.join(problems)}")

    def problems(self) -> list[str]:
        """What the declaration lacks or gets wrong (empty when complete)."""
        out: list[str] = []
        if type(self) is Rule:
            out.append("declare a ResourceRule or a StackRule")
        if not _NAME_RE.match(self.name):
            out.append("name must be <resource>-<check> in lowercase words joined by '-'")
        for what in ("description", "remediation"):
            if not getattr(self, what).strip():
                out.append(f"no {what}")
        if not isinstance(self.pack, Pack):
            out.append(f"pack must be a Pack: {', '.join(Pack)}")
        elif isinstance(self, RegistryRule) != (self.pack is Pack.SUPPLY_CHAIN):
            out.append(f"a RegistryRule, and only one, belongs to {Pack.SUPPLY_CHAIN.value!r}")
        if not callable(self.check):
            out.append("check is not callable")
        if not isinstance(self.severity, Severity):
            out.append("severity must be a pulumi_policy Severity")
        if not self.targets or not set(self.targets) <= set(ALL_TARGETS):
            out.append(f"targets must be some of {', '.join(ALL_TARGETS)}")
        if not self.mappings:
            out.append("maps to no control")
        for m in self.mappings:
            fw, _, ref = m.control.partition(":")
            if fw not in FRAMEWORKS:
                out.append(f"{m.control}: unknown framework (known: {', '.join(FRAMEWORKS)})")
            elif not control_title(fw, ref):
                out.append(f"{m.control}: no title in policies/controls.py CONTROL_TITLES")
        if len({m.control for m in self.mappings}) != len(self.mappings):
            out.append("maps a control twice")
        if not isinstance(self.admission, Cel | NotInCel):
            out.append("admission: declare its CEL validation (Cel) or why it has none (NotInCel)")
        elif isinstance(self.admission, NotInCel) and not self.admission.why.strip():
            out.append("admission: NotInCel must say why")
        elif isinstance(self.admission, Cel) and "kubernetes" not in self.targets:
            out.append("admission: a rule without the kubernetes target has no admission policy")
        if not self.evidence.reads:
            out.append("no evidence selector (what the rule reads)")
        if set(self.levels) != set(Tier) or not all(
            isinstance(v, EnforcementLevel) for v in self.levels.values()
        ):
            out.append(f"levels must give an EnforcementLevel for each tier: {', '.join(Tier)}")
        if not set(self.knobs) <= set(Tier):
            out.append(f"knobs are given per tier: {', '.join(Tier)}")
        for tier, values in self.knobs.items():
            if unknown := sorted(set(values) - set(self.schema)):
                out.append(f"knobs of {tier} not in the schema: {', '.join(unknown)}")
        return out

    @property
    def where(self) -> str:
        """``file:line`` of the check, where the declaration sits."""
        try:
            return f"{inspect.getsourcefile(self.check)}:{inspect.getsourcelines(self.check)[1]}"
        except (OSError, TypeError):
            return getattr(self.check, "__module__", "?")

    @property
    def controls(self) -> tuple[str, ...]:
        """``<framework>:<control>`` of every mapping, in the declared order."""
        return tuple(m.control for m in self.mappings)

    @property
    def area(self) -> str:
        return self.pack.area

    @property
    def framework_id(self) -> str:
        return self.controls[0].split(":", 1)[0]

    @property
    def framework(self) -> tuple[str, str, str]:
        """(name, version, reference) of the primary framework: the first control listed."""
        fw, ref = self.controls[0].split(":", 1)
        edition = FRAMEWORKS[fw]
        return edition.name, edition.version, ref

    @property
    def spec_title(self) -> str:
        """The primary control's own title (``PolicyComplianceFramework.specification``)."""
        fw, ref = self.controls[0].split(":", 1)
        return control_title(fw, ref)

    @property
    def tags(self) -> list[str]:
        tags = [f"control:{c}" for c in self.controls]
        tags += [m.tag for m in self.mappings]
        tags += [f"target:{t}" for t in self.targets]
        tags += [f"area:{self.area}", f"scope:{'stack' if self.stack else 'resource'}"]
        if self.non_waivable:
            tags.append(NON_WAIVABLE)
        return tags

    @property
    def url(self) -> str:
        return f"policies/README.md#{self.name}"

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.schema.items() if "default" in v}

    def config_for(self, tier: str) -> dict[str, Any]:
        """This rule's entry in ``policies/config/tiers/<tier>.json``: always with an explicit level."""
        return {"enforcementLevel": self.levels[Tier(tier)].value, **self.knobs.get(Tier(tier), {})}


@dataclass(frozen=True, kw_only=True, slots=True)
class ResourceRule(Rule):
    """A rule judging one resource at a time (``ResourceValidationPolicy``)."""

    check: ResourceCheck


@dataclass(frozen=True, kw_only=True, slots=True)
class StackRule(Rule):
    """A rule judging the whole stack at once (``StackValidationPolicy``)."""

    check: StackCheck
    stack: bool = field(init=False, default=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class RegistryRule(Rule):
    """A rule the audit runs itself on what the image registries answered (no pack may reach the
    network): ``mlops_platform.tools.supply_chain`` asks them and hands the check the answers."""

    check: RegistryCheck


def declared_in(module: ModuleType) -> tuple[Rule, ...]:
    """The rules ``module`` declares, in the order it declares them.

    Each is bound once, to the rule's name in capitals (``WORKLOAD_NO_PRIVILEGED`` for
    ``workload-no-privileged``); a rule bound under another name (an import, an alias) is refused, so
    no rule is collected twice.
    """
    out: list[Rule] = []
    for attr, value in vars(module).items():
        if not isinstance(value, Rule):
            continue
        expected = value.name.upper().replace("-", "_")
        if attr != expected:
            raise RuleDeclarationError(
                f"{module.__name__}.{attr}: rule {value.name!r} must be declared as {expected}, once"
            )
        out.append(value)
    return tuple(out)
