"""Evidence gathered once per (rule, resource), listed by mode: failures always, passes sampled by default."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from mlops_platform.tools.findings import AuditResult, CapturedResource, Check, EvidenceMode
from mlops_platform.tools.reports import FORMATS, build_report, render_report
from mlops_platform.tools.reports import evidence as evidence_module
from mlops_platform.tools.reports.evidence import PASS_SAMPLE, gather_evidence
from mlops_platform.tools.reports.json_report import schema
from tests.reports.report_fixtures import finding, policy, provenance, urn

STAMP = "2026-06-01T10:00:00Z"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RUN_AS_NON_ROOT = policy("workload-run-as-non-root", tags=("control:cis-kubernetes:5.2.7",))
MONITORED = policy("model-monitoring-coverage", stack_level=True, pack="mlops-governance")
PASSING = 12
FAILING = 2


def workload(name: str, non_root: bool) -> CapturedResource:
    return CapturedResource(
        urn("prod", DEPLOYMENT, name),
        DEPLOYMENT,
        name,
        True,
        {
            "metadata": {"labels": {"mlops.dev/model": name}},
            "spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": non_root}}}},
        },
    )


def audited() -> AuditResult:
    """12 workloads passing, 2 failing a resource rule; a stack rule that judged the stack and passed."""
    good = [workload(f"ok-{i:02d}", True) for i in range(PASSING)]
    bad = [workload(f"bad-{i}", False) for i in range(FAILING)]
    everything = good + bad
    return AuditResult(
        environment="prod",
        tier="prod",
        target="kubernetes",
        resources=everything,
        policies=[RUN_AS_NON_ROOT, MONITORED],
        findings=[finding(RUN_AS_NON_ROOT, r, "runAsNonRoot is false") for r in bad],
        checks=[Check(RUN_AS_NON_ROOT.name, RUN_AS_NON_ROOT.pack, r.urn) for r in everything]
        + [Check(MONITORED.name, MONITORED.pack, "")],
        waivers=[],
        started_at=STAMP,
        duration_s=1.0,
    )


def policy_results(result: AuditResult, mode: EvidenceMode) -> dict[str, dict[str, Any]]:
    """Per policy: its result, the evidence rows of resources without a violation and of those with one.

    Version 3 writes a failing resource's evidence on its violation (``evidence``), not again among
    the policy's rows: both are read back here as rows, by resource name.
    """
    gathered = gather_evidence(result.resources, result.findings, result.checks, mode)
    report = build_report(
        [dataclasses.replace(result, evidence=gathered)], provenance=provenance(), generated_at=STAMP
    )
    doc = json.loads("".join(render_report(report, "json")))
    (env,) = doc["environments"]
    assert env["evidence"] == str(mode)
    results = {r["policy"]: dict(r) for r in env["policy_results"]}
    for r in results.values():
        r["resources"] = [{**row, "resource_name": _name(row["urn"])} for row in r["resources"]]
        failed = [v for v in env["violations"] if v["policy"] == r["policy"] and v["evidence"] is not None]
        r["failed"] = [
            {"resource_name": _name(v["urn"]), "outcome": v["outcome"], **v["evidence"]} for v in failed
        ]
    return results


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else "stack"


def test_by_default_every_failure_and_the_first_passes_are_listed_the_rest_counted() -> None:
    rows = policy_results(audited(), EvidenceMode.SAMPLE)
    rule = rows["workload-run-as-non-root"]
    listed = [(r["resource_name"], r["outcome"]) for r in rule["failed"] + rule["resources"]]
    assert listed == [("bad-0", "fail"), ("bad-1", "fail")] + [
        (f"ok-{i:02d}", "pass") for i in range(PASS_SAMPLE)
    ]
    assert rule["counts"]["pass"] == PASSING and rule["counts"]["fail"] == FAILING
    assert rule["passes_left_out"] == PASSING - PASS_SAMPLE
    assert rule["failed"][0]["observed"] == [["spec.template.spec.securityContext.runAsNonRoot", "false"]]
    stack = rows["model-monitoring-coverage"]
    via_stack = [r["resource_name"] for r in stack["resources"] if r["via_stack"]]
    assert via_stack == ["bad-0", "bad-1", "ok-00", "ok-01", "ok-02"]  # PASS_SAMPLE, by name
    assert stack["stack_reads_sampled"] is True
    assert stack["passes_left_out"] == 0  # the stack is the one unit judged, and it is listed


def test_full_evidence_lists_every_resource_judged_with_the_same_counts() -> None:
    sample = policy_results(audited(), EvidenceMode.SAMPLE)
    full = policy_results(audited(), EvidenceMode.FULL)
    rule = full["workload-run-as-non-root"]
    assert len(rule["failed"] + rule["resources"]) == PASSING + FAILING and rule["passes_left_out"] == 0
    assert rule["counts"] == sample["workload-run-as-non-root"]["counts"]
    stack = full["model-monitoring-coverage"]
    assert len([r for r in stack["resources"] if r["via_stack"]]) == PASSING + FAILING
    assert stack["stack_reads_sampled"] is False


@pytest.mark.parametrize("mode", list(EvidenceMode))
def test_both_modes_validate_against_the_published_schema(mode: EvidenceMode) -> None:
    result = audited()
    gathered = gather_evidence(result.resources, result.findings, result.checks, mode)
    report = build_report(
        [dataclasses.replace(result, evidence=gathered)], provenance=provenance(), generated_at=STAMP
    )
    doc = json.loads("".join(render_report(report, "json")))
    validator = Draft202012Validator(schema(), format_checker=FormatChecker())
    assert [e.message for e in validator.iter_errors(doc)] == []


def test_evidence_is_read_once_per_rule_and_resource_whatever_the_formats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[tuple[str, str]] = []
    observe = evidence_module._Observer.observe

    def counted(self: object, resource: CapturedResource | None, rule: str) -> object:
        reads.append((rule, resource.urn if resource is not None else ""))
        return observe(self, resource, rule)  # type: ignore[arg-type]

    monkeypatch.setattr(evidence_module._Observer, "observe", counted)
    result = audited()
    gathered = gather_evidence(result.resources, result.findings, result.checks, EvidenceMode.SAMPLE)
    gathered_reads = len(reads)
    assert len(set(reads)) == gathered_reads, "no (rule, resource) read twice"
    report = build_report(
        [dataclasses.replace(result, evidence=gathered)],
        provenance=provenance(),
        generated_at=STAMP,
        with_checks=True,
    )
    for fmt in FORMATS:
        assert "".join(render_report(report, fmt))
    assert len(reads) == gathered_reads, "rendering read nothing again"
