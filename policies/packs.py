"""Wire catalogue rules into ``pulumi_policy`` policies.

Importing this module constructs no ``PolicyPack`` (whose constructor serves gRPC and blocks); the
pack directories' ``__main__.py`` do that with :func:`pack_arguments`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.catalogue import PACKS, Rule, rules_for
from policies.rules._model import Res, plain

_SEVERITY = {s.value: s for s in Severity}


def _failure(rule: Rule, exc: Exception) -> str:
    """Fail closed: a rule that raises reports a violation at its own level instead of crashing the pack."""
    return (
        f"internal error while evaluating {rule.name} ({type(exc).__name__}: {exc}); treated as a violation"
    )


def _config(rule: Rule, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Schema defaults under the configured values (the engine fills defaults too; tests may not)."""
    return {**rule.defaults(), **dict(given or {})}


def to_res(resource_type: str, name: str, urn: str, props: Any, opts: Any) -> Res:
    """Build the plain rule view from the SDK's arguments (``args`` or a ``PolicyResource``)."""
    return Res(
        type=resource_type,
        name=name,
        urn=urn,
        props=plain(props) if props is not None else {},
        protect=bool(getattr(opts, "protect", False)),
        secret_outputs=tuple(str(o) for o in (getattr(opts, "additional_secret_outputs", None) or ())),
    )


def resource_validation(rule: Rule):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        res = to_res(args.resource_type, args.name, args.urn, args.props, args.opts)
        try:
            messages = rule.check(res, _config(rule, args.get_config()))
        except Exception as exc:
            messages = [_failure(rule, exc)]
        for message in messages:
            report_violation(message, None)

    return validate


def stack_validation(rule: Rule):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [to_res(r.resource_type, r.name, r.urn, r.props, r.opts) for r in args.resources]
        try:
            findings = rule.check(resources, _config(rule, args.get_config()))
        except Exception as exc:
            findings = [(None, _failure(rule, exc))]
        for urn, message in findings:
            report_violation(message, urn or None)

    return validate


def build_policy(rule: Rule) -> Policy:
    name, version, reference = rule.framework
    common: dict[str, Any] = dict(
        name=rule.name,
        description=rule.description,
        enforcement_level=EnforcementLevel(rule.levels["prod"]),
        config_schema=PolicyConfigSchema(properties=rule.schema) if rule.schema else None,
        severity=_SEVERITY[rule.severity],
        framework=PolicyComplianceFramework(
            name=name, version=version, reference=reference, specification=rule.spec_title
        ),
        tags=rule.tags,
        remediation_steps=rule.remediation,
        url=rule.url,
    )
    if rule.stack:
        return StackValidationPolicy(validate=stack_validation(rule), **common)
    return ResourceValidationPolicy(validate=resource_validation(rule), **common)


def build_policies(pack: str) -> list[Policy]:
    if pack not in PACKS:
        raise KeyError(f"unknown pack {pack!r}; known: {', '.join(PACKS)}")
    return [build_policy(rule) for rule in rules_for(pack)]


def pack_arguments(pack: str) -> dict[str, Any]:
    """Keyword arguments for ``PolicyPack`` (without constructing it)."""
    return dict(
        name=pack,
        policies=build_policies(pack),
        enforcement_level=EnforcementLevel.MANDATORY,
        description=PACKS[pack],
        display_name=pack.replace("-", " ").title().replace("Mlops", "MLOps"),
        tags=["mlops", "kubernetes", "docker", pack.removeprefix("mlops-")],
        provider="kubernetes",
    )
