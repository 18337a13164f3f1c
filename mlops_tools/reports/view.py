"""The one view of an audit that every report format renders.

Building it in one place keeps the formats consistent (same counts, same order, same outcomes) and
gives redaction a single choke point: every string passes through :class:`Redactor` before any
template or serializer sees it. Everything here is sorted and free of timestamps, so two audits of
the same code render identically.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from typing import Any

from mlops_platform.policies.controls import (
    COVERAGE_TAG,
    FRAMEWORKS,
    Coverage,
    applies_to,
    control_title,
    coverage_of,
    natural_key,
    required_for,
)
from mlops_platform.tools.findings import (
    AuditResult,
    Enforcement,
    Finding,
    Observed,
    PolicyMeta,
    Severity,
    Waiver,
)
from mlops_platform.tools.reports.evidence import evidence_of, judged_units
from mlops_platform.tools.reports.inventory import GOVERNANCE_PACK, Declaration, model_rows
from mlops_platform.tools.reports.outcomes import OUTCOMES, worst
from mlops_platform.tools.reports.redact import Redactor
from mlops_platform.tools.required_controls import COVERAGE_RULES
from mlops_platform.tools.waivers import (
    WAIVER_EXPIRED,
    WAIVER_EXPIRING,
    WAIVER_RULES,
    WAIVER_UNMATCHED,
    WAIVERS_PACK,
    resource_name,
)

SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}  # unspecified < low < ... < critical


def frameworks_of(policy: PolicyMeta | None) -> list[tuple[str, str]]:
    """(framework, control) pairs of a policy, from its ``prefix:framework:control`` tags.

    Any tag with at least three colon-separated parts counts (``control:nist-800-53:AC-6``,
    ``framework:cis-kubernetes:5.2.1``) but a coverage tag (``coverage:<full|partial>:...``, read by
    :func:`coverage_of`); the control keeps any further colons. ``policy.framework``
    (one framework, named in prose) is used only when no tag maps the policy: it normally repeats
    one of the tags and would split that framework in two.
    """
    if policy is None:
        return []
    pairs: set[tuple[str, str]] = set()
    for tag in policy.tags:
        parts = tag.split(":", 2)
        if len(parts) == 3 and parts[0] != COVERAGE_TAG and parts[1] and parts[2]:
            pairs.add((parts[1], parts[2]))
    if not pairs and policy.framework is not None and policy.framework.name:
        pairs.add((policy.framework.name, policy.framework.reference or "*"))
    return sorted(pairs)


def framework_titles(policies: Iterable[PolicyMeta]) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Readable names for framework slugs and controls, learnt from ``policy.framework``.

    A policy tagged ``control:cis-kubernetes:5.2.7`` whose framework is ``CIS Kubernetes Benchmark``
    version ``1.9.0``, reference ``5.2.7``, tells that the slug ``cis-kubernetes`` is that benchmark
    and what control 5.2.7 says (its ``specification``).
    """
    frameworks: dict[str, str] = {}
    controls: dict[tuple[str, str], str] = {}
    for policy in sorted(policies, key=lambda p: (p.pack, p.name)):
        fw = policy.framework
        if fw is None or not fw.name:
            continue
        for slug, control in frameworks_of(policy):
            if control == fw.reference:
                frameworks.setdefault(slug, " ".join(filter(None, (fw.name, fw.version))))
                if fw.specification:
                    controls.setdefault((slug, control), fw.specification)
    return frameworks, controls


def outcome(finding: Finding) -> str:
    """``error`` (the policy raised), ``fail`` (blocking), ``waived``, or ``warn`` (not blocking)."""
    if finding.kind == "policy-error":
        return "error"
    if finding.waiver is not None:
        return "waived"
    return "fail" if finding.blocking else "warn"


def _finding_key(f: Finding) -> tuple[Any, ...]:
    return (OUTCOMES.index(outcome(f)), -SEVERITY_RANK[f.severity], f.policy, f.urn, f.message)


def _waiver_dict(w: Waiver) -> dict[str, str]:
    return {
        "policy": w.policy,
        "selector": w.selector,
        "environment": w.environment,
        "reason": w.reason,
        "owner": w.owner,
        "approval_ref": w.approval_ref,
        "expires": w.expires,
        "source": w.source,
    }


def _spec_dict(f: Finding) -> dict[str, Any] | None:
    """Where in the spec the finding comes from: ``{file, line, path, default, text}``."""
    if f.spec is None:
        return None
    spec = f.spec
    return {
        "file": spec.file,
        "line": spec.line,
        "path": spec.path,
        "default": spec.default,
        "program": spec.program,
        "text": str(spec),
    }


def _policy_dict(p: PolicyMeta) -> dict[str, Any]:
    return {
        "name": p.name,
        "pack": p.pack,
        "pack_version": p.pack_version,
        "display_name": p.display_name,
        "description": p.description,
        "enforcement": str(p.enforcement),
        "severity": str(p.severity),
        "tags": sorted(p.tags),
        "frameworks": [f"{fw}:{ctl}" for fw, ctl in frameworks_of(p)],
        "remediation": p.remediation_steps,
        "url": p.url,
        "stack_level": p.stack_level,
        "waivable": p.waivable,
    }


def _evidence_row(urn: str, outcome_: str, found: Observed, *, via_stack: bool) -> dict[str, Any]:
    """One resource a policy judged (``via_stack``: read by a stack policy that judged the stack)."""
    return {
        "urn": urn,
        "resource_name": resource_name(urn) if urn else "stack",
        "outcome": outcome_,
        "via_stack": via_stack,
        "observed": [{"path": path, "value": value} for path, value in found.values],
        "more_observed": found.more,
    }


def _policy_units(
    checked: set[str],
    not_applicable: set[str],
    own: list[dict[str, Any]],
    not_verified: Collection[str] = (),
) -> tuple[dict[str, str], bool]:
    """Outcome per unit judged by a policy (a URN, ``""`` for the stack), and whether the stack was checked.

    The units are :func:`judged_units` (the evidence gathered lists the same ones). Resources the rule
    declared not applicable are ``not-applicable`` unless also judged; those it applies to but could
    not judge (the registries were not consulted) are ``not-verified``.
    """
    by_unit: dict[str, list[str]] = defaultdict(list)
    for f in own:
        # a problem of the waiver file, or a control no rule judged: not an evaluation of a resource
        if f["kind"] in ("waiver", "coverage"):
            continue
        by_unit[f["urn"]].append(f["outcome"])
    units = {urn: worst(by_unit[urn]) if urn in by_unit else "pass" for urn in judged_units(checked, by_unit)}
    for urn in not_verified:
        units.setdefault(urn, "not-verified")
    for urn in not_applicable:
        units.setdefault(urn, "not-applicable")
    return units, "" in checked


def _control_counts(
    keys: tuple[tuple[str, str], ...],
    units_by_policy: dict[tuple[str, str], dict[str, str]],
    counted: dict[tuple[tuple[str, str], ...], dict[str, int]],
) -> dict[str, int]:
    """Per-outcome counts of the units the rules ``keys`` judged, each unit its worst outcome.

    Memoized in ``counted`` by rules: controls of several frameworks are evidenced by the same rules
    (at 1,000 models 118 controls, each outcome per resource taken again for every one of them).
    """
    if keys not in counted:
        if len(keys) == 1:
            counted[keys] = _counts(units_by_policy[keys[0]].values())
        else:
            per_resource: dict[str, list[str]] = defaultdict(list)
            for key in keys:
                for unit, result_ in units_by_policy[key].items():
                    per_resource[unit].append(result_)
            # not-applicable ranks below pass: a resource counts as n/a only if no policy judged it
            counted[keys] = _counts(worst(outcomes) for outcomes in per_resource.values())
    return dict(counted[keys])


def _counts(units: Iterable[str]) -> dict[str, int]:
    tally = Counter(units)
    return {
        "in_scope": sum(n for o, n in tally.items() if o != "not-applicable"),
        "pass": tally["pass"],
        "fail": tally["fail"],
        "warn": tally["warn"],
        "waived": tally["waived"],
        "error": tally["error"],
        "not_applicable": tally["not-applicable"],
    }


def environment_view(
    result: AuditResult, *, declaration: Declaration | None = None, with_checks: bool = False
) -> dict[str, Any]:
    """The redacted, sorted view of one environment's audit (plain JSON-able data)."""
    policies = {(p.pack, p.name): p for p in result.policies}
    by_name = {p.name: p for p in result.policies}
    gathered = evidence_of(result)

    def policy_of(f: Finding) -> PolicyMeta | None:
        return (
            policies.get((f.pack, f.policy))
            or by_name.get(f.policy)
            or WAIVER_RULES.get(f.policy)
            or COVERAGE_RULES.get(f.policy)
        )

    ordered = sorted(result.findings, key=_finding_key)
    findings: list[dict[str, Any]] = [
        {
            "policy": f.policy,
            "pack": f.pack,
            "kind": f.kind,
            "outcome": outcome(f),
            "enforcement": str(f.enforcement),
            "severity": str(f.severity),
            "urn": f.urn,
            "resource_name": resource_name(f.urn),
            "resource_type": f.resource_type,
            "message": f.message,
            "frameworks": [f"{fw}:{ctl}" for fw, ctl in frameworks_of(policy_of(f))],
            "waiver": _waiver_dict(f.waiver) if f.waiver else None,
            "subject_waiver": f.subject_waiver.source if f.subject_waiver else None,
            "spec": _spec_dict(f),
            "remediation": f.remediation,
        }
        for f in ordered
    ]

    checks_by_policy: dict[tuple[str, str], set[str]] = defaultdict(set)
    for check in result.checks:
        checks_by_policy[(check.pack, check.policy)].add(check.urn)
    na_by_policy: dict[tuple[str, str], set[str]] = defaultdict(set)
    for check in result.not_applicable:
        na_by_policy[(check.pack, check.policy)].add(check.urn)
    unverified_by_policy: dict[tuple[str, str], set[str]] = defaultdict(set)
    for check in result.not_verified:
        unverified_by_policy[(check.pack, check.policy)].add(check.urn)
    findings_by_policy: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in findings:
        findings_by_policy[(row["pack"], row["policy"])].append(row)

    ordered_policies = sorted(result.policies, key=lambda p: (p.pack, p.name))
    results_by_policy: dict[tuple[str, str], dict[str, Any]] = {}
    units_by_policy: dict[tuple[str, str], dict[str, str]] = {}
    governance: dict[str, dict[str, str]] = {}
    for p in ordered_policies:
        key = (p.pack, p.name)
        own = findings_by_policy.get(key, [])
        units, stack_checked = _policy_units(
            checks_by_policy.get(key, set()), na_by_policy[key], own, unverified_by_policy[key]
        )
        units_by_policy[key] = units
        counts = _counts(units.values())
        if p.enforcement is Enforcement.DISABLED and not own:
            status = "disabled"
        else:
            status = worst(units.values(), "not-applicable")
        # Every unit the rule did not pass has its evidence (a KeyError here is a gathering bug);
        # passing ones are listed as gathered: a sample by default, all with --evidence full.
        evidence = [
            _evidence_row(urn, outcome_, gathered.observed[(p.pack, p.name, urn)], via_stack=False)
            for urn, outcome_ in units.items()
            if outcome_ not in ("pass", "not-applicable", "not-verified")
            or (p.pack, p.name, urn) in gathered.observed
        ]
        left_out = sum(
            1 for urn, o in units.items() if o == "pass" and (p.pack, p.name, urn) not in gathered.observed
        )
        if "" in units:  # a stack policy reads the whole stack: show what it read, resource by resource
            evidence += [
                _evidence_row(urn, units[""], gathered.observed[(p.pack, p.name, urn)], via_stack=True)
                for urn in gathered.stack_reads.get(key, ())
            ]
        evidence.sort(
            key=lambda e: (OUTCOMES.index(e["outcome"]), e["via_stack"], e["resource_name"], e["urn"])
        )
        results_by_policy[key] = {
            "policy": p.name,
            "pack": p.pack,
            "status": status,
            "counts": counts,
            "resources": evidence,
            "passes_left_out": left_out,
            "stack_reads_sampled": key in gathered.stack_reads_cut,
            "findings": own,
        }
        if p.pack == GOVERNANCE_PACK:
            governance[p.name] = dict(units) | ({"": "pass"} if stack_checked else {})

    controls: list[dict[str, Any]] = []
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for p in ordered_policies:
        for pair in frameworks_of(p):
            pairs[pair].append((p.pack, p.name))
    counted: dict[tuple[tuple[str, str], ...], dict[str, int]] = {}
    prose_frameworks, prose_controls = framework_titles(result.policies)
    risk_tiers = {str(m["risk_tier"]) for m in declaration.models} if declaration is not None else set()
    for (framework, control), keys in sorted(pairs.items(), key=lambda kv: (kv[0][0], natural_key(kv[0][1]))):
        applicable = applies_to(framework, result.target)
        rows = [results_by_policy[k] for k in keys]
        coverage = {
            k: coverage_of(policies[k].tags).get(f"{framework}:{control}", Coverage.PARTIAL) for k in keys
        }
        missing: list[str] = []
        if applicable:
            status = worst((r["status"] for r in rows), "not-applicable")
            counts = _control_counts(tuple(keys), units_by_policy, counted)
            reason = ""
            if status == "pass":
                missing = _missing(framework, control, keys, coverage, results_by_policy)
                status = "partial" if missing else "pass"
            elif status == "not-verified":
                missing = [
                    f"{name}: not verified: the audit did not consult the image registries (`mlops audit "
                    "--verify-images`; `mlops up` consults them by default)"
                    for pack, name in keys
                    if results_by_policy[(pack, name)]["status"] == "not-verified"
                ]
            elif status == "not-applicable" and (required := required_for(framework, risk_tiers)):
                # as strict as the control's rules in this tier (required_controls makes the finding)
                mandatory = (Enforcement.MANDATORY, Enforcement.REMEDIATE)
                status = "fail" if any(policies[k].enforcement in mandatory for k in keys) else "warn"
                reason = f"must apply to every {'/'.join(required)}-risk model, but no check judged it here"
        else:
            status = "not-applicable"
            counts = _counts(())
            reason = (
                f"{_framework_name(framework, prose_frameworks)} does not apply to a {result.target} target"
            )
        controls.append(
            {
                "framework": framework,
                "id": control,
                "title": control_title(framework, control) or prose_controls.get((framework, control), ""),
                "status": status,
                "applicable": applicable,
                "not_applicable_reason": reason,
                "missing": missing,
                "counts": counts,
                "evidence": [
                    {
                        "policy": r["policy"],
                        "pack": r["pack"],
                        "coverage": str(coverage[k]),
                        "status": r["status"] if applicable else "not-applicable",
                        "counts": r["counts"],
                    }
                    for k, r in zip(keys, rows, strict=True)
                ],
            }
        )
    frameworks = []
    for framework in sorted({c["framework"] for c in controls}):
        edition = FRAMEWORKS.get(framework)
        frameworks.append(
            {
                "name": framework,
                "title": _framework_name(framework, prose_frameworks),
                "source": edition.source if edition else "",
                "note": edition.note if edition else "",
                "applicable": applies_to(framework, result.target),
                "controls": [c for c in controls if c["framework"] == framework],
            }
        )

    waived_by: dict[str, int] = defaultdict(int)
    for f in result.findings:
        if f.waiver is not None:
            waived_by[f.waiver.source] += 1
    problems = {f.subject_waiver.source: f for f in result.findings if f.subject_waiver is not None}
    waivers = [
        {
            **_waiver_dict(w),
            "status": _waiver_status(problems.get(w.source)),
            "waived": waived_by.get(w.source, 0),
        }
        for w in sorted(result.waivers, key=lambda w: (w.policy, w.selector, w.environment, w.source))
    ]

    rule_keys = {(p.pack, p.name) for p in result.policies}
    extra_rules = sorted({f.policy for f in result.findings if f.kind == "waiver"} & WAIVER_RULES.keys())
    rules = [_policy_dict(p) for p in ordered_policies]
    rules += [
        _policy_dict(WAIVER_RULES[name]) for name in extra_rules if (WAIVERS_PACK, name) not in rule_keys
    ]
    rules += [
        _policy_dict(COVERAGE_RULES[name])
        for name in sorted(
            {f.policy for f in result.findings if f.kind == "coverage"} & COVERAGE_RULES.keys()
        )
    ]

    counts = Counter(f["outcome"] for f in findings)
    blocking = [f for f in findings if f["outcome"] in ("error", "fail")]
    summary = {
        "resources": len(result.resources),
        "policies": len(result.policies),
        "checks": len(result.checks),  # applicable evaluations only
        "not_applicable": len(result.not_applicable),  # pairs a rule declared out of its scope
        "mandatory": counts["fail"],
        "advisory": counts["warn"],
        "waived": counts["waived"],
        "errors": counts["error"],
        "blocking": len(blocking),
    }
    names = {r.urn: resource_name(r.urn) for r in result.resources}
    models = model_rows(declaration, result.resources, governance, names) if declaration is not None else []
    view = {
        "environment": result.environment,
        "tier": result.tier,
        "target": result.target,
        "stack_file": result.stack_file or f"stacks/Pulumi.{result.environment}.yaml",
        "passed": result.passed,
        "evidence": str(gathered.mode),
        "summary": summary,
        "classification_ceiling": declaration.ceiling if declaration is not None else None,
        "models": models,
        "images": list(declaration.images) if declaration is not None else [],
        "supply_chain": _supply_chain(result),
        "findings": findings,
        "blocking": blocking,
        "controls": controls,
        "frameworks": frameworks,
        "policy_results": [results_by_policy[(p.pack, p.name)] for p in ordered_policies],
        "waivers": waivers,
        "rules": rules,
        "policy_config": [{"path": c.path, "sha256": c.sha256} for c in result.policy_config],
    }
    if with_checks:  # every (pack, policy, urn) evaluated: only JUnit lists them (356,572 at 1,000 models)
        view["checks"] = sorted({(c.pack, c.policy, c.urn) for c in result.checks})
        view["not_applicable_by_pack"] = dict(Counter(c.pack for c in result.not_applicable))
    return Redactor(result.secret_fingerprints).deep(view)


def _supply_chain(result: AuditResult) -> dict[str, Any]:
    """Whether the audit consulted the image registries and, if it did, each image's answer."""
    record = result.supply_chain
    if record is None or not record.consulted:
        return {"consulted": False, "images": []}
    return {
        "consulted": True,
        "images": [
            {
                "reference": i.reference,
                "registry": i.registry,
                "digest": i.digest,
                "exists": i.exists,
                "error": i.error,
                "signature_checked": i.signature_checked,
                "signatures": i.signatures,
                "verified_by": list(i.verified_by),
            }
            for i in record.images
        ],
    }


def _missing(
    framework: str,
    control: str,
    keys: list[tuple[str, str]],
    coverage: dict[tuple[str, str], Coverage],
    results: dict[tuple[str, str], dict[str, Any]],
) -> list[str]:
    """What a control whose checks all passed still lacks: empty when a fully covering rule passed."""
    full = [k for k in keys if coverage[k] is Coverage.FULL]
    if any(results[k]["status"] == "pass" for k in full):
        return []
    missing = [f"{name} (full coverage) judged no resource here" for _, name in full]
    for pack, name in keys:
        if coverage[(pack, name)] is Coverage.PARTIAL and results[(pack, name)]["status"] == "pass":
            missing.append(f"{name}: {_gap(pack, name, f'{framework}:{control}')}")
    return missing or ["no rule covering the control fully"]


def _gap(pack: str, policy: str, control: str) -> str:
    """What a partial mapping leaves out, from the rule's declaration in the bundled catalogue."""
    from mlops_platform.policies.catalogue import PACKS, REGISTRY_RULES_BY_NAME, RULES_BY_NAME, SUPPLY_CHAIN

    rule = REGISTRY_RULES_BY_NAME.get(policy) if pack == SUPPLY_CHAIN else RULES_BY_NAME.get(policy)
    if (pack not in PACKS and pack != SUPPLY_CHAIN) or rule is None:
        return "partial coverage (the pack does not say what is missing)"
    return next((m.missing for m in rule.mappings if m.control == control), "not mapped by the catalogue")


def _framework_name(framework: str, prose: dict[str, str]) -> str:
    edition = FRAMEWORKS.get(framework)
    if edition is not None:
        return edition.name if edition.version in edition.name else f"{edition.name} {edition.version}"
    return prose.get(framework, framework)


def _waiver_status(problem: Finding | None) -> str:
    if problem is None:
        return "active"
    return {WAIVER_EXPIRED: "expired", WAIVER_UNMATCHED: "unmatched", WAIVER_EXPIRING: "expiring"}.get(
        problem.policy, "rejected"
    )
