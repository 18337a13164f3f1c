"""The audit's supply-chain checks: ask each image's registry, judge with the catalogue's registry rules.

:func:`with_supply_chain` adds the rules of ``catalogue.REGISTRY_RULES`` to an audit (either engine),
at the level and with the knobs the environment's policy config gives them, as a pack would:

- consulted (``mlops up`` by default, ``mlops audit --verify-images``): every distinct image
  reference is asked of its registry once (:mod:`.oci`); the signatures of images a rule requires
  signed are verified with the tier's trusted keys (:mod:`.cosign`); each rule then judges each
  resource it applies to, and its violations are findings like a pack's;
- not consulted: each resource a rule applies to is recorded ``not_verified``, which every report
  shows as "not verified", never as a pass.

A registry that cannot answer (down, slow, refusing the credentials) fails the rules that needed
it, with the reason: an outage never passes silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlops_platform.policies.catalogue import REGISTRY_RULES, SUPPLY_CHAIN
from mlops_platform.policies.declaration import Rule
from mlops_platform.policies.rules._images import parse_image
from mlops_platform.policies.rules._model import Res
from mlops_platform.policies.rules.security import declared_images
from mlops_platform.policies.rules.supply_chain import ImageAnswer, signature_required
from mlops_platform.tools.findings import (
    AuditResult,
    CapturedResource,
    Check,
    Enforcement,
    Finding,
    Framework,
    ImageRecord,
    PolicyMeta,
    Severity,
    SupplyChainRecord,
)
from mlops_platform.tools.registry.client import ErrorKind
from mlops_platform.tools.spec_locations import remediation_line
from mlops_platform.tools.supply_chain.cosign import (
    TrustedKey,
    TrustedKeyError,
    check_signatures,
    trusted_keys,
)
from mlops_platform.tools.supply_chain.oci import OciClient, OciError, credentials_for, invalid_name
from mlops_platform.validation import Tier

PACK: str = SUPPLY_CHAIN.value
"""The pack name the audit's own checks carry in findings and reports (``supply-chain``)."""
SIGNATURE_RULE = "image-signature-verified"
TIMEOUT_S = 10.0  # per request; a registry answers a manifest in well under a second
WORKERS = 4  # registries asked at once; requests to one registry go one after the other


class SupplyChainConfigError(ValueError):
    """The policy config's entry for a registry rule is unusable (a trusted key that is no key)."""


def rule_config(rule: Rule, document: Mapping[str, Any] | None) -> tuple[Enforcement, dict[str, Any]]:
    """The rule's level and knobs in ``document``, over its schema defaults (as the engine configures
    a pack's: the pack's default level, then ``all``, then the rule's own entry).

    Raises:
        SupplyChainConfigError: a level that is none, or a knob of the wrong type.
    """
    document = document or {}
    level: Any = rule.levels[Tier.PROD].value  # the pack default a pack would have
    knobs: dict[str, Any] = {}
    for name in ("all", rule.name):
        entry = document.get(name)
        if isinstance(entry, str):
            entry = {"enforcementLevel": entry}
        if not isinstance(entry, dict):
            continue
        level = entry.get("enforcementLevel") or level
        if name == rule.name:
            knobs = {k: v for k, v in entry.items() if k != "enforcementLevel"}
    if level not in {e.value for e in Enforcement}:
        raise SupplyChainConfigError(
            f"policy config: {rule.name}: invalid enforcementLevel {str(level)[:40]!r}"
        )
    for key, value in knobs.items():
        expected = rule.schema.get(key, {}).get("type")
        if expected == "boolean" and not isinstance(value, bool):
            raise SupplyChainConfigError(f"policy config: {rule.name}.{key}: expected true or false")
        if expected == "array" and not isinstance(value, list):
            raise SupplyChainConfigError(f"policy config: {rule.name}.{key}: expected a list")
    return Enforcement(level), {**rule.defaults(), **knobs}


def policy_meta(rule: Rule, enforcement: Enforcement) -> PolicyMeta:
    """The rule as the reports know every policy (what ``GetAnalyzerInfo`` says of a pack's)."""
    name, version, control = rule.framework
    return PolicyMeta(
        name=rule.name,
        pack=PACK,
        pack_version="",
        display_name=rule.name,
        description=rule.description,
        enforcement=enforcement,
        severity=Severity(rule.severity.value),
        framework=Framework(name, version, control, rule.spec_title),
        tags=tuple(rule.tags),
        remediation_steps=rule.remediation,
        url=rule.url,
        stack_level=False,
    )


def _res(resource: CapturedResource) -> Res:
    inputs = resource.inputs if isinstance(resource.inputs, dict) else {}
    return Res(type=resource.type, name=resource.name, props=inputs, urn=resource.urn)


def with_supply_chain(
    result: AuditResult,
    *,
    consult: bool,
    timeout_s: float = TIMEOUT_S,
) -> AuditResult:
    """``result`` with the registry rules' policies, checks and findings (or not-verified pairs).

    Args:
        result: an environment's audit, before waivers.
        consult: ask the image registries; False records every applicable pair as not verified.
        timeout_s: the bound of each registry request.

    Raises:
        SupplyChainConfigError: a trusted key in the policy config is not a usable public key.
    """
    sources = ", ".join(c.path for c in result.policy_config) or "none"
    try:
        configs = {rule.name: rule_config(rule, result.policy_document) for rule in REGISTRY_RULES}
        keys = trusted_keys(configs[SIGNATURE_RULE][1].get("trustedKeys"))
    except SupplyChainConfigError as exc:
        raise SupplyChainConfigError(f"{exc} (files: {sources})") from None
    except TrustedKeyError as exc:
        raise SupplyChainConfigError(f"policy config: {SIGNATURE_RULE}.{exc} (files: {sources})") from None
    resources = [(r, _res(r)) for r in result.resources if isinstance(r.inputs, dict)]
    scoped: dict[str, list[tuple[CapturedResource, Res]]] = {}
    not_applicable: list[Check] = []
    for rule in REGISTRY_RULES:
        enforcement, cfg = configs[rule.name]
        if enforcement is Enforcement.DISABLED:
            scoped[rule.name] = []
            continue
        scoped[rule.name] = [(c, r) for c, r in resources if rule.applies_to(r, cfg)]
        inside = {c.urn for c, _ in scoped[rule.name]}
        not_applicable += [
            Check(rule.name, PACK, c.urn)
            for c, r in resources
            if rule.applies_to.type_may_apply(r.type) and c.urn not in inside
        ]
    policies = [policy_meta(rule, configs[rule.name][0]) for rule in REGISTRY_RULES]
    policies_by_name = {p.name: p for p in policies}
    updated = dataclasses.replace(
        result,
        policies=sorted([*result.policies, *policies], key=lambda m: (m.pack, m.name)),
        not_applicable=[*result.not_applicable, *not_applicable],
    )
    if not consult:
        pending = [Check(rule.name, PACK, c.urn) for rule in REGISTRY_RULES for c, _ in scoped[rule.name]]
        return dataclasses.replace(
            updated, not_verified=[*result.not_verified, *pending], supply_chain=SupplyChainRecord(False)
        )

    wanted = {ref for rule in REGISTRY_RULES for _, r in scoped[rule.name] for _, ref in declared_images(r)}
    signed = {
        ref
        for _, r in scoped[SIGNATURE_RULE]
        if signature_required(r, configs[SIGNATURE_RULE][1])
        for _, ref in declared_images(r)
    }
    answers = consult_registries(wanted, signed, keys, timeout_s=timeout_s)
    findings: list[Finding] = []
    checks: list[Check] = []
    for rule in REGISTRY_RULES:
        enforcement, cfg = configs[rule.name]
        remediation = remediation_line(policies_by_name[rule.name])
        for captured, res in scoped[rule.name]:
            messages = rule.check(res, cfg, answers) or []
            checks.append(Check(rule.name, PACK, captured.urn))
            findings += [
                Finding(
                    policy=rule.name,
                    pack=PACK,
                    enforcement=enforcement,
                    severity=Severity(rule.severity.value),
                    urn=captured.urn,
                    resource_type=captured.type,
                    message=message,
                    remediation=remediation,
                )
                for message in messages
            ]
    record = SupplyChainRecord(
        True,
        tuple(
            ImageRecord(
                reference=ref,
                registry=parse_image(ref).registry,
                digest=answer.digest,
                exists=answer.exists,
                error=answer.error,
                signatures=answer.signatures,
                verified_by=answer.verified_by,
                signature_checked=ref in signed,
            )
            for ref, answer in sorted(answers.items())
        ),
    )
    return dataclasses.replace(
        updated,
        findings=[*result.findings, *findings],
        checks=sorted({*result.checks, *checks}, key=lambda c: (c.urn, c.pack, c.policy)),
        supply_chain=record,
    )


def consult_registries(
    references: Iterable[str], signed: set[str], keys: list[TrustedKey], *, timeout_s: float = TIMEOUT_S
) -> dict[str, ImageAnswer]:
    """What each reference's registry answers: its digest, and for those in ``signed``, its signatures.

    One client per registry (its token reused); registries are asked in parallel, each one's
    references in order. A registry that did not answer in time or could not be reached is not asked
    again in this call: its other references get the same reason, so a dead registry costs one
    timeout, not one per image.
    """
    by_registry: dict[str, list[str]] = {}
    for ref in sorted(set(references)):
        by_registry.setdefault(parse_image(ref).registry, []).append(ref)

    def ask(registry: str) -> dict[str, ImageAnswer]:
        client = OciClient(registry, credentials=credentials_for(registry), timeout_s=timeout_s)
        answers: dict[str, ImageAnswer] = {}
        down: str | None = None
        for ref in by_registry[registry]:
            if down is not None:
                answers[ref] = ImageAnswer(reference=ref, digest=parse_image(ref).digest, error=down)
                continue
            answers[ref], kind = _answer(client, ref, ref in signed, keys)
            if kind in (ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT):
                down = f"{answers[ref].error} (not asked again)"
        return answers

    answers: dict[str, ImageAnswer] = {}
    if not by_registry:
        return answers
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(by_registry))) as pool:
        for part in pool.map(ask, sorted(by_registry)):
            answers.update(part)
    return answers


def _answer(
    client: OciClient, ref: str, verify_signatures: bool, keys: list[TrustedKey]
) -> tuple[ImageAnswer, ErrorKind | None]:
    """Resolve ``ref`` (by its digest, else its tag) and, when asked, check its signatures; the kind
    of the registry's failure, if it failed."""
    image = parse_image(ref)
    if image.digest is not None and not image.digest_valid:
        return ImageAnswer(reference=ref, error=f"{image.digest[:80]!r} is not a sha256 digest"), None
    reference = image.digest or image.tag or "latest"
    problem = invalid_name(image.registry, image.repository, reference)
    if problem is not None:  # never sent: a name no registry can hold
        return ImageAnswer(reference=ref, error=f"not an image reference a registry serves: {problem}"), None
    try:
        manifest = client.manifest(image.repository, reference)
        if manifest is None:
            return ImageAnswer(reference=ref, digest=image.digest, exists=False), None
        if not verify_signatures:
            return ImageAnswer(reference=ref, digest=manifest.digest, exists=True), None
        found = check_signatures(client, image.repository, manifest.digest, keys)
    except OciError as exc:
        return ImageAnswer(reference=ref, digest=image.digest, error=str(exc)), exc.kind
    answer = ImageAnswer(
        reference=ref,
        digest=manifest.digest,
        exists=True,
        signatures=found.found,
        verified_by=found.verified_by,
        signature_problems=found.problems,
    )
    return answer, None
