"""Wire the declared rules into ``pulumi_policy`` policies, through its public API only.

Importing this module constructs no ``PolicyPack`` (whose constructor serves gRPC and blocks); the
pack directories' ``__main__.py`` do that with :func:`pack_arguments`, after
``sdk_adapter.install_shared_analysis`` (one conversion of a resource per request, not per policy: the
packs' one use of pulumi-policy's private API, isolated there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from mlops_platform.policies.catalogue import PACKS, rules_for
from mlops_platform.policies.declaration import ResourceRule, Rule, StackRule
from mlops_platform.policies.rules._model import Res, plain, res_of
from mlops_platform.policies.sdk_adapter import mark_shareable, shared_res, shared_stack_res
from mlops_platform.validation import Tier


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
    return res_of(resource_type, name, urn, plain(props) if props is not None else {}, opts)


def _own_res(args: ResourceValidationArgs) -> Res:
    """The request's shared ``Res`` when the servicer made one, else this policy's own conversion."""
    res = shared_res(args)
    return res if res is not None else to_res(args.resource_type, args.name, args.urn, args.props, args.opts)


def _own_stack_res(args: StackValidationArgs) -> list[Res]:
    resources = shared_stack_res(args)
    if resources is not None:
        return resources
    return [to_res(r.resource_type, r.name, r.urn, r.props, r.opts) for r in args.resources]


def not_applicable_reason(rule: Rule) -> str:
    """What the pack says when ``rule`` does not apply (the engine and the audit keep it per pair)."""
    return f"applies to {rule.applies_to.summary}"


def resource_validation(rule: ResourceRule):
    scope, reason = rule.applies_to, not_applicable_reason(rule)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not scope.type_may_apply(args.resource_type):
            args.not_applicable(reason)  # raises: decided without converting the resource
        res = _own_res(args)
        config = _config(rule, args.get_config())
        messages: list[str] | None
        try:
            messages = rule.check(res, config) if scope(res, config) else None
        except Exception as exc:
            messages = [_failure(rule, exc)]
        if messages is None:
            args.not_applicable(reason)
        for message in messages or ():
            report_violation(message, None)

    return validate


def stack_validation(rule: StackRule):
    scope, reason = rule.applies_to, not_applicable_reason(rule)

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = _own_stack_res(args)
        config = _config(rule, args.get_config())
        findings: Sequence[tuple[str | None, str]] | None
        try:
            in_scope = any(scope(r, config) for r in resources if scope.type_may_apply(r.type))
            findings = rule.check(resources, config) if in_scope else None
        except Exception as exc:
            findings = [(None, _failure(rule, exc))]
        if findings is None:
            args.not_applicable(f"no resource in the stack is in scope: {reason}")
        for urn, message in findings or ():
            report_violation(message, urn or None)

    return validate


def build_policy(rule: Rule) -> Policy:
    name, version, reference = rule.framework
    common: dict[str, Any] = dict(
        name=rule.name,
        description=rule.description,
        enforcement_level=rule.levels[Tier.PROD],
        config_schema=PolicyConfigSchema(properties={k: dict(v) for k, v in rule.schema.items()})
        if rule.schema
        else None,
        severity=rule.severity,
        framework=PolicyComplianceFramework(
            name=name, version=version, reference=reference, specification=rule.spec_title
        ),
        tags=rule.tags,
        remediation_steps=rule.remediation,
        url=rule.url,
    )
    policy: Policy
    if isinstance(rule, StackRule):
        policy = StackValidationPolicy(validate=stack_validation(rule), **common)
    elif isinstance(rule, ResourceRule):
        policy = ResourceValidationPolicy(validate=resource_validation(rule), **common)
    else:
        raise TypeError(f"{rule.name}: a rule is a ResourceRule or a StackRule, not {type(rule).__name__}")
    mark_shareable(policy)  # its validation only reads ``args`` (through ``to_res``, into plain copies)
    return policy


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


def settle_gc() -> None:
    """In a pack process, once imported: keep the start-up heap out of every later collection and
    collect young objects less often.

    A pack serves thousands of short requests, each allocating a resource's worth of dicts: with the
    default thresholds the collector ran every 700 allocations over the imported modules' objects too.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
