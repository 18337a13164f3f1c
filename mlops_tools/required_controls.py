"""Controls that must apply to a model of some risk tier: never "not applicable" where one is served.

The EU AI Act binds every high-risk system (``FrameworkEdition.required_for_risk``): when an
environment serves a high-risk model and none of the rules mapped to such a control judged anything,
the control did not come out "not applicable": the audit could not evidence it. That is a mandatory,
non-waivable finding of its own (``kind="coverage"``), as strict as the strictest of the control's
rules in the tier (mandatory where one is: the audit fails and says which control; advisory in dev).
"""

from __future__ import annotations

from collections import defaultdict

from mlops_platform.policies.controls import control_title, natural_key, required_for
from mlops_platform.tools.findings import AuditResult, Enforcement, Finding, PolicyMeta, Severity

COVERAGE_PACK = "audit"
CONTROL_NOT_EVALUATED = "control-not-evaluated"

COVERAGE_RULES: dict[str, PolicyMeta] = {
    CONTROL_NOT_EVALUATED: PolicyMeta(
        name=CONTROL_NOT_EVALUATED,
        pack=COVERAGE_PACK,
        pack_version="",
        display_name="Controls binding a served model's risk tier must be evaluated",
        description="A control that must apply to a model of the environment's risk tiers was judged "
        "by no check: it cannot be not applicable.",
        enforcement=Enforcement.MANDATORY,
        severity=Severity.HIGH,
        framework=None,
        tags=("non-waivable", "governance"),
        remediation_steps="Give the environment what the control's rules judge (for the EU AI Act: a "
        "model registry resolving each served version, or a pinned version), or stop serving the model "
        "there.",
        url="",
        stack_level=True,
    )
}
"""The rule behind ``kind="coverage"`` findings, for the reports' rule catalogue."""


def _controls(policy: PolicyMeta) -> list[tuple[str, str]]:
    from mlops_platform.tools.reports.view import frameworks_of

    return frameworks_of(policy)


def required_control_findings(result: AuditResult, models: dict[str, str]) -> list[Finding]:
    """One finding per control binding a served model's risk tier that no check judged.

    Args:
        result: The environment's audit.
        models: Risk tier per served model name (from the spec's declaration).
    """
    tiers = set(models.values())
    judged = {(c.pack, c.policy) for c in result.checks}
    judged |= {(f.pack, f.policy) for f in result.findings if f.kind != "waiver"}
    rules: dict[tuple[str, str], list[str]] = defaultdict(list)
    mandatory: set[tuple[str, str]] = set()
    evaluated: set[tuple[str, str]] = set()
    for policy in result.policies:
        if policy.enforcement is Enforcement.DISABLED:
            continue
        for framework, control in _controls(policy):
            if required_for(framework, tiers):
                rules[(framework, control)].append(policy.name)
                if policy.enforcement in (Enforcement.MANDATORY, Enforcement.REMEDIATE):
                    mandatory.add((framework, control))
                if (policy.pack, policy.name) in judged:
                    evaluated.add((framework, control))
    findings = []
    for framework, control in sorted(set(rules) - evaluated, key=lambda k: (k[0], natural_key(k[1]))):
        required = required_for(framework, tiers)
        names = sorted(name for name, tier in models.items() if tier in required)
        title = control_title(framework, control)
        findings.append(
            Finding(
                policy=CONTROL_NOT_EVALUATED,
                pack=COVERAGE_PACK,
                enforcement=(
                    Enforcement.MANDATORY if (framework, control) in mandatory else Enforcement.ADVISORY
                ),
                severity=Severity.HIGH,
                urn="",
                resource_type="",
                message=f"{framework} {control}{f' ({title})' if title else ''} must apply to the "
                f"{'/'.join(required)}-risk model(s) {', '.join(names)}, but none of its rules judged "
                f"anything here ({', '.join(sorted(rules[(framework, control)]))}): it is not evidenced, "
                "not 'not applicable'",
                kind="coverage",
                remediation=COVERAGE_RULES[CONTROL_NOT_EVALUATED].remediation_steps,
            )
        )
    return findings
