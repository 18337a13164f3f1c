"""Waivers: the file's located validation and how waivers judge an audit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mlops_platform.tools.findings import AuditResult, Enforcement, Waiver
from mlops_platform.tools.waivers import (
    WAIVER_EXPIRED,
    WAIVER_REJECTED,
    WAIVER_UNMATCHED,
    WAIVERS_PACK,
    WaiverError,
    apply_waivers,
    load_waivers,
    selector_matches,
)
from tests.reports.report_fixtures import (
    NO_PLAINTEXT_SECRET,
    RESOURCE_LIMITS,
    RUN_AS_NON_ROOT,
    STACK_OWNER,
    TODAY,
    finding,
    make_prod,
    resources,
    waiver,
)

REPO = Path(__file__).resolve().parents[2]

VALID = """\
# Approved exceptions.
waivers:
  - policy: k8s-workload-run-as-non-root
    selector: fraud-*
    environment: dev
    reason: The vendor image runs as root until release 4.0 ships a rootless build.
    owner: ml-platform@example.org
    approval_ref: CHG-1234
    expires: 2026-12-31
  - policy: image-digest-pinned
    selector: "urn:pulumi:staging::*::docker:index/container:Container::*"
    environment: "*"
    reason: Staging pulls nightly builds by tag to test them before they are released.
    owner: release-team
    approval_ref: https://tickets.example.org/SEC-42
    expires: "2027-01-15"
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path`` so files display as ``policies/waivers.yaml``, like the real one."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    return tmp_path / "policies" / "waivers.yaml"


def errors_of(path: Path, text: str) -> list[str]:
    path.write_text(text)
    with pytest.raises(WaiverError) as info:
        load_waivers(path)
    return info.value.errors


# --- loading -------------------------------------------------------------------------------------


def test_bundled_waivers_file_is_valid() -> None:
    waivers = load_waivers(REPO / "policies" / "waivers.yaml")
    assert waivers, "the bundled file documents at least one real exception"
    for w in waivers:
        assert w.environment != "*", "bundled exceptions are scoped to one environment"
        assert len(w.reason) >= 20


def test_valid_file_loads_every_field_with_its_source_line(in_tmp: Path) -> None:
    in_tmp.write_text(VALID)
    first, second = load_waivers(in_tmp)
    assert first == Waiver(
        policy="k8s-workload-run-as-non-root",
        selector="fraud-*",
        environment="dev",
        reason="The vendor image runs as root until release 4.0 ships a rootless build.",
        owner="ml-platform@example.org",
        approval_ref="CHG-1234",
        expires="2026-12-31",
        source="policies/waivers.yaml:3",
    )
    assert second.expires == "2027-01-15"  # a quoted ISO date is accepted too
    assert second.source == "policies/waivers.yaml:10"
    assert second.environment == "*"


def test_empty_file_means_no_waivers(in_tmp: Path) -> None:
    in_tmp.write_text("# nothing waived\n")
    assert load_waivers(in_tmp) == []


def test_every_problem_is_reported_at_once_with_file_and_line(in_tmp: Path) -> None:
    text = """\
waivers:
  - policy: k8s-workload-run-as-non-root
    selector: fraud-*
    environment: dev
    reason: todo
    owner: ml-platform
    approval_ref: CHG-1
    expires: "2026-13-01"
  - policy: image-digest-pinned
    selector: api
    environment: Prod
    reason: "n/a n/a n/a n/a n/a n/a n/a"
    owner: team
    approval_ref: tbd
    expiry: 2026-01-01
  - policy: Bad Name
    selector: api
    environment: dev
    owner: team
    approval_ref: CHG-2
    expires: 2026-01-01T10:00:00
"""
    assert errors_of(in_tmp, text) == [
        "policies/waivers.yaml:5: waivers[0].reason: must explain the exception in at least 20 characters,"
        " got 'todo'",
        "policies/waivers.yaml:8: waivers[0].expires: must be an ISO date (YYYY-MM-DD), got '2026-13-01'",
        "policies/waivers.yaml:11: waivers[1].environment: must be an environment name such as prod, or *,"
        " got 'Prod'",
        "policies/waivers.yaml:12: waivers[1].reason: must say why the exception is acceptable,"
        " not placeholder text 'n/a n/a n/a n/a n/a n/a n/a'",
        "policies/waivers.yaml:14: waivers[1].approval_ref: must be a real value, not placeholder text 'tbd'",
        "policies/waivers.yaml:9: waivers[1].expires: Field required",
        "policies/waivers.yaml:15: waivers[1].expiry: unknown field (did you mean 'expires'? allowed: policy,"
        " selector, environment, reason, owner, approval_ref, expires)",
        "policies/waivers.yaml:16: waivers[2].policy: must be a rule name such as"
        " k8s-workload-run-as-non-root, got 'Bad Name'",
        "policies/waivers.yaml:16: waivers[2].reason: Field required",
        "policies/waivers.yaml:21: waivers[2].expires: must be an ISO date (YYYY-MM-DD),"
        " got '2026-01-01T10:00:00'",
    ]


def test_impossible_unquoted_date_is_located(in_tmp: Path) -> None:
    text = VALID.replace("expires: 2026-12-31", "expires: 2026-02-30")
    assert errors_of(in_tmp, text) == [
        "policies/waivers.yaml:9: waivers[0].expires: must be an ISO date (YYYY-MM-DD), got '2026-02-30'"
    ]


def test_duplicate_keys_and_duplicate_waivers_are_errors(in_tmp: Path) -> None:
    entry = """\
  - policy: image-digest-pinned
    selector: api
    environment: dev
    reason: Nightly builds are pulled by tag on purpose in this environment.
    owner: team
    approval_ref: CHG-7
    expires: 2026-01-01
"""
    text = "waivers:\n" + entry.replace("    owner: team\n", "    owner: team\n    owner: other\n") + entry
    assert errors_of(in_tmp, text) == [
        "policies/waivers.yaml:7: waivers[0].owner: duplicate key",
        "policies/waivers.yaml:10: waivers[1]: duplicates waivers[0] (same policy, selector and environment)",
    ]


def test_yaml_syntax_error_and_missing_file_are_located(in_tmp: Path) -> None:
    assert errors_of(in_tmp, "waivers:\n  - policy: [unclosed\n") == [
        "policies/waivers.yaml:3: YAML syntax error: did not find expected ',' or ']'"
    ]
    with pytest.raises(WaiverError) as info:
        load_waivers(in_tmp.parent / "missing.yaml")
    assert info.value.errors == ["policies/missing.yaml: file not found"]


def test_top_level_must_be_a_waivers_list(in_tmp: Path) -> None:
    assert errors_of(in_tmp, "exceptions: []\n") == [
        "policies/waivers.yaml:1: exceptions: unknown field (allowed: waivers)"
    ]


# --- selectors -----------------------------------------------------------------------------------

URN = "urn:pulumi:prod::mlops-platform::mlops:serving:Endpoint$kubernetes:apps/v1:Deployment::fraud-stable"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("fraud-stable", True),
        ("fraud-*", True),
        ("fraud", False),
        ("urn:pulumi:prod::*::fraud-stable", True),
        ("urn:pulumi:prod::*Deployment::*", True),
        ("urn:pulumi:dev::*", False),
        ("*", True),
    ],
)
def test_selector_is_a_urn_glob_or_a_name_glob(selector: str, expected: bool) -> None:
    assert selector_matches(selector, URN) is expected


def test_only_star_matches_stack_level_findings() -> None:
    assert selector_matches("*", "")
    assert not selector_matches("urn:*", "")
    assert not selector_matches("fraud-*", "")


# --- applying ------------------------------------------------------------------------------------


def bare_prod() -> AuditResult:
    """The prod fixture before any waiver: two run-as-root violations, one advisory, one secret."""
    result = make_prod(policy_error=False)
    return dataclasses.replace(
        result, findings=[dataclasses.replace(f, waiver=None) for f in result.findings if f.kind != "waiver"]
    )


def test_waived_violation_is_reported_as_waived_not_hidden() -> None:
    w = waiver(RUN_AS_NON_ROOT.name, "fraud-*", environment="prod")
    before = bare_prod()
    after = apply_waivers(before, [w], TODAY)
    assert len(after.findings) == len(before.findings)
    waived = [f for f in after.findings if f.waiver is not None]
    assert {f.urn.rsplit("::", 1)[1] for f in waived} == {"fraud-stable", "fraud-canary"}
    assert all(f.waiver == w and not f.blocking for f in waived)
    assert after.waivers == [w]
    # The secret violation is still blocking: the audit fails on it alone.
    assert [f.policy for f in after.blocking] == [NO_PLAINTEXT_SECRET.name]
    assert before.findings[0].waiver is None, "the input result is not mutated"


def test_audit_passes_once_every_mandatory_violation_is_waived() -> None:
    result = bare_prod()
    result.findings = [f for f in result.findings if f.policy != NO_PLAINTEXT_SECRET.name]
    assert not result.passed
    after = apply_waivers(result, [waiver(RUN_AS_NON_ROOT.name, "*", environment="prod")], TODAY)
    assert after.passed


def test_expired_waiver_is_a_mandatory_finding_and_waives_nothing() -> None:
    w = waiver(RUN_AS_NON_ROOT.name, "fraud-stable", expires="2026-05-31", line=12)
    after = apply_waivers(bare_prod(), [w], TODAY)
    assert all(f.waiver is None for f in after.findings)
    (problem,) = [f for f in after.findings if f.kind == "waiver"]
    assert problem.policy == WAIVER_EXPIRED
    assert problem.pack == WAIVERS_PACK
    assert problem.enforcement is Enforcement.MANDATORY and problem.blocking
    assert problem.subject_waiver == w
    assert problem.message == (
        "policies/waivers.yaml:12: waiver of 'k8s-workload-run-as-non-root' for 'fraud-stable' expired on "
        "2026-05-31 (owner ml-platform@example.org, approval CHG-1234); fix the violation or renew the "
        "waiver with a new approval"
    )


def test_waiver_is_valid_through_its_expiry_day() -> None:
    w = waiver(RUN_AS_NON_ROOT.name, "fraud-stable", expires=TODAY.isoformat())
    after = apply_waivers(bare_prod(), [w], TODAY)
    assert not [f for f in after.findings if f.kind == "waiver"]
    assert sum(f.waiver == w for f in after.findings) == 1


def test_waiver_matching_nothing_in_the_environment_is_a_finding() -> None:
    stale = waiver(RESOURCE_LIMITS.name, "fraud-canary", line=20)
    unknown = waiver("no-such-policy", "*", line=30)
    other_env = waiver(RUN_AS_NON_ROOT.name, "*", environment="dev", line=40)
    after = apply_waivers(bare_prod(), [stale, unknown, other_env], TODAY)
    problems = [f for f in after.findings if f.kind == "waiver"]
    assert [(f.policy, f.subject_waiver) for f in problems] == [
        (WAIVER_UNMATCHED, stale),
        (WAIVER_UNMATCHED, unknown),
    ]
    assert problems[0].message == (
        "policies/waivers.yaml:20: waiver of 'k8s-workload-resource-limits' for 'fraud-canary' matches "
        "nothing in environment 'prod' (it matches no violation); delete it or fix its policy, selector "
        "or environment"
    )
    assert "(no pack in this audit defines that policy)" in problems[1].message
    assert after.waivers == [stale, unknown], "a waiver for another environment is not this audit's"
    assert all(f.blocking for f in problems)


def test_non_waivable_rule_cannot_be_waived() -> None:
    w = waiver(NO_PLAINTEXT_SECRET.name, "db-credentials", line=7)
    after = apply_waivers(bare_prod(), [w], TODAY)
    secret = next(f for f in after.findings if f.policy == NO_PLAINTEXT_SECRET.name)
    assert secret.waiver is None and secret.blocking
    (problem,) = [f for f in after.findings if f.kind == "waiver"]
    assert problem.policy == WAIVER_REJECTED
    assert problem.message == (
        "policies/waivers.yaml:7: waiver of 'k8s-secret-no-plaintext' for 'db-credentials' is not allowed: "
        "the rule is non-waivable; fix the resource and delete the waiver"
    )


def test_audit_can_declare_more_rules_non_waivable() -> None:
    w = waiver(RESOURCE_LIMITS.name, "fraud-stable")
    after = apply_waivers(bare_prod(), [w], TODAY, non_waivable={RESOURCE_LIMITS.name})
    assert [f.policy for f in after.findings if f.kind == "waiver"] == [WAIVER_REJECTED]
    assert all(f.waiver is None for f in after.findings)


def test_policy_errors_are_never_waivable() -> None:
    result = bare_prod()
    error = finding(STACK_OWNER, None, "policy raised KeyError", kind="policy-error")
    result.findings.append(error)
    after = apply_waivers(result, [waiver(STACK_OWNER.name, "*")], TODAY)
    kept = next(f for f in after.findings if f.kind == "policy-error")
    assert kept.waiver is None and kept.blocking
    assert [f.policy for f in after.findings if f.kind == "waiver"] == [WAIVER_UNMATCHED]


def test_first_waiver_in_file_order_wins_and_the_shadowed_one_is_reported() -> None:
    broad = waiver(RUN_AS_NON_ROOT.name, "*", line=3)
    narrow = waiver(RUN_AS_NON_ROOT.name, "fraud-stable", environment="prod", line=10)
    after = apply_waivers(bare_prod(), [broad, narrow], TODAY)
    assert {f.waiver for f in after.findings if f.policy == RUN_AS_NON_ROOT.name} == {broad}
    assert [f.subject_waiver for f in after.findings if f.kind == "waiver"] == [narrow]


def test_waivers_do_not_touch_other_resources_or_policies() -> None:
    w = waiver(RUN_AS_NON_ROOT.name, "urn:pulumi:prod::*::fraud-canary")
    after = apply_waivers(bare_prod(), [w], TODAY)
    canary = resources("prod")[1].urn
    assert [f.urn for f in after.findings if f.waiver] == [canary]
