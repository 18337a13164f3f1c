"""The one view of an audit that every report format renders.

Building it in one place keeps the formats consistent (same counts, same order, same outcomes) and
gives redaction a single choke point: every string passes through :class:`Redactor` before any
template or serializer sees it. Everything here is sorted and free of timestamps, so two audits of
the same code render identically.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from mlops_platform.tools.findings import AuditResult, Enforcement, Finding, PolicyMeta, Severity, Waiver
from mlops_platform.tools.reports.redact import Redactor
from mlops_platform.tools.waivers import (
    WAIVER_EXPIRED,
    WAIVER_RULES,
    WAIVER_UNMATCHED,
    WAIVERS_PACK,
    resource_name,
)

SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}  # unspecified < low < ... < critical
# Outcomes, worst first: a control takes the worst outcome of its policies.
OUTCOMES = ("error", "fail", "warn", "waived", "pass", "not-applicable", "disabled")


def frameworks_of(policy: PolicyMeta | None) -> list[tuple[str, str]]:
    """(framework, control) pairs of a policy, from its ``prefix:framework:control`` tags.

    Any tag with at least three colon-separated parts counts (``control:nist-800-53:AC-6``,
    ``framework:cis-kubernetes:5.2.1``); the control keeps any further colons. ``policy.framework``
    (one framework, named in prose) is used only when no tag maps the policy: it normally repeats
    one of the tags and would split that framework in two.
    """
    if policy is None:
        return []
    pairs: set[tuple[str, str]] = set()
    for tag in policy.tags:
        parts = tag.split(":", 2)
        if len(parts) == 3 and parts[1] and parts[2]:
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


def natural_key(text: str) -> tuple[str | int, ...]:
    """Sort key that orders control ids as people do: 5.2 < 5.10, AC-6 < AC-6(2) < AC-17."""
    # re.split with a group alternates text and digits, always starting with text: types line up.
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", text)))


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


def _worst(outcomes: Iterable[str], default: str) -> str:
    ranked = sorted(outcomes, key=OUTCOMES.index)
    return ranked[0] if ranked else default


def environment_view(result: AuditResult, *, with_checks: bool = False) -> dict[str, Any]:
    """The redacted, sorted view of one environment's audit (plain JSON-able data)."""
    policies = {(p.pack, p.name): p for p in result.policies}
    by_name = {p.name: p for p in result.policies}

    def policy_of(f: Finding) -> PolicyMeta | None:
        return policies.get((f.pack, f.policy)) or by_name.get(f.policy) or WAIVER_RULES.get(f.policy)

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
    findings_by_policy: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in findings:
        findings_by_policy[(row["pack"], row["policy"])].append(row)

    def policy_status(p: PolicyMeta) -> dict[str, Any]:
        key = (p.pack, p.name)
        own = findings_by_policy.get(key, [])
        checked = len(checks_by_policy.get(key, ()))
        if p.enforcement is Enforcement.DISABLED and not own:
            status = "disabled"
        else:
            status = _worst((f["outcome"] for f in own), "pass" if checked else "not-applicable")
        return {"policy": p.name, "pack": p.pack, "status": status, "checked": checked, "findings": own}

    ordered_policies = sorted(result.policies, key=lambda p: (p.pack, p.name))
    controls_map: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for p in ordered_policies:
        status = policy_status(p)
        for pair in frameworks_of(p):
            controls_map[pair].append(status)
    titles, control_titles = framework_titles(result.policies)
    frameworks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (framework, control), rows in sorted(
        controls_map.items(), key=lambda kv: (kv[0][0], natural_key(kv[0][1]))
    ):
        frameworks[framework].append(
            {
                "control": control,
                "title": control_titles.get((framework, control), ""),
                "status": _worst((r["status"] for r in rows), "pass"),
                "policies": rows,
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
    view = {
        "environment": result.environment,
        "tier": result.tier,
        "target": result.target,
        "stack_file": f"stacks/Pulumi.{result.environment}.yaml",
        "passed": result.passed,
        "summary": summary,
        "findings": findings,
        "blocking": blocking,
        "frameworks": [
            {"name": name, "title": titles.get(name, name), "controls": rows}
            for name, rows in sorted(frameworks.items())
        ],
        "waivers": waivers,
        "rules": rules,
        "policy_config": [{"path": c.path, "sha256": c.sha256} for c in result.policy_config],
    }
    if with_checks:  # every (pack, policy, urn) evaluated: only JUnit lists them (356,572 at 1,000 models)
        view["checks"] = sorted({(c.pack, c.policy, c.urn) for c in result.checks})
        view["not_applicable_by_pack"] = dict(Counter(c.pack for c in result.not_applicable))
    return Redactor(result.secret_fingerprints).deep(view)


def _waiver_status(problem: Finding | None) -> str:
    if problem is None:
        return "active"
    return {WAIVER_EXPIRED: "expired", WAIVER_UNMATCHED: "unmatched"}.get(problem.policy, "rejected")
