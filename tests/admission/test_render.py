"""What `mlops admission render` generates from the catalogue, without an API server.

The objects' behaviour is proven against a real API server in ``test_equivalence.py`` and
``test_out_of_band.py``; here: which objects, named how, with which actions, scope, knobs and waivers,
and the command's file handling (atomic, ``--force``, bad input exit 2).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mlops_platform.policies.admission import (
    DIFFERENCES,
    Cel,
    NotInCel,
    Target,
    WaivedObjects,
    policy_name,
    render,
    waiver_expression,
)
from mlops_platform.policies.catalogue import README, RULES, RULES_BY_NAME, config_document
from mlops_platform.policies.rules._cel import SHARED
from mlops_platform.tools.admission import waived_objects
from mlops_platform.tools.findings import Waiver
from mlops_platform.tools.policy_config import PolicyConfigFileError, admission_install
from tests.cli_runner import REPO, mlops

CEL = [r for r in RULES if isinstance(r.admission, Cel)]
TARGET = Target("prod", "mlops-prod", "prod")


def _rendered(config: dict[str, Any] | None = None, waivers: tuple[WaivedObjects, ...] = ()) -> Any:
    return render(RULES, TARGET, config_document("prod") if config is None else config, waivers, SHARED)


def test_every_rule_is_a_policy_or_says_why_not() -> None:
    rendered = _rendered()
    names = [p["metadata"]["name"] for p in rendered.policies]
    assert names == [policy_name("prod", r.name) for r in CEL]
    assert [b["spec"]["policyName"] for b in rendered.bindings] == names
    assert set(rendered.skipped) == {r.name for r in RULES if isinstance(r.admission, NotInCel)}
    assert len(CEL) >= 30  # what the catalogue expresses today: a regression guard, not a target
    readme = README.read_text()
    for rule in RULES:
        if isinstance(rule.admission, NotInCel):
            assert f"| [`{rule.name}`](#{rule.name}) | no: {rule.admission.why} | - |" in readme
    for difference in DIFFERENCES:
        assert f"- **{difference.id}**: " in readme


def test_levels_become_actions_and_the_namespace_the_scope() -> None:
    config = config_document("staging")
    rendered = render(RULES, Target("staging", "mlops-staging", "staging"), config, (), SHARED)
    for binding in rendered.bindings:
        rule = binding["metadata"]["labels"]["mlops.dev/rule"]
        level = config[rule]["enforcementLevel"]
        assert binding["spec"]["validationActions"] == (
            ["Deny"] if level == "mandatory" else ["Warn", "Audit"]
        )
        assert binding["spec"]["matchResources"] == {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops-staging"}}
        }
    actions = {
        b["metadata"]["labels"]["mlops.dev/rule"]: b["spec"]["validationActions"] for b in rendered.bindings
    }
    assert actions["resource-app-labels"] == ["Warn", "Audit"]  # advisory until prod
    assert actions["workload-no-privileged"] == ["Deny"]


def test_a_disabled_rule_is_not_rendered() -> None:
    config = config_document("prod")
    config["image-no-latest-tag"] = {**config["image-no-latest-tag"], "enforcementLevel": "disabled"}
    rendered = _rendered(config)
    assert policy_name("prod", "image-no-latest-tag") not in [
        p["metadata"]["name"] for p in rendered.policies
    ]
    assert rendered.skipped["image-no-latest-tag"] == "level 'disabled' in this environment's policy config"


def test_knobs_are_the_environments_config() -> None:
    def violations(config: dict[str, Any], rule: str) -> str:
        policy = next(
            p
            for p in render(RULES, TARGET, config, (), SHARED).policies
            if p["metadata"]["name"].endswith(rule)
        )
        return next(v["expression"] for v in policy["spec"]["variables"] if v["name"] == "violations")

    assert violations(config_document("dev"), "image-digest-pinned") == "[]"  # requireDigest false in dev
    assert "is not pinned by digest" in violations(config_document("prod"), "image-digest-pinned")
    assert '"ghcr.io/acme-ml"' in violations(config_document("prod"), "image-approved-registry")
    prod = config_document("prod")
    prod["autoscaler-bounds-sane"] = {**prod["autoscaler-bounds-sane"], "minReplicas": 4}
    assert "is below the tier minimum of 4" in violations(prod, "autoscaler-bounds-sane")


def test_each_policy_defines_the_variables_it_uses_in_order() -> None:
    order = [name for name, _ in SHARED] + ["violations"]
    for policy in _rendered().policies:
        names = [v["name"] for v in policy["spec"]["variables"]]
        assert names == sorted(names, key=order.index) and names[-1] == "violations"
        text = " ".join(v["expression"] for v in policy["spec"]["variables"])
        used = {
            n
            for n in order
            if f"variables.{n}" in text
            or f"variables.{n}" in policy["spec"]["validations"][0]["messageExpression"]
        }
        assert used <= set(names), policy["metadata"]["name"]
        validation = policy["spec"]["validations"][0]
        rule = policy["metadata"]["labels"]["mlops.dev/rule"]
        assert validation["messageExpression"] == f"'{rule}: ' + variables.violations.join('; ')"
        assert validation["message"] == f"{rule}: {RULES_BY_NAME[rule].description}"


def _waiver(policy: str, selector: str, expires: str = "2027-01-31") -> Waiver:
    return Waiver(
        policy=policy,
        selector=selector,
        environment="prod",
        reason="a reason long enough to be accepted",
        owner="me@example.com",
        approval_ref="CHG-1",
        expires=expires,
        source="policies/waivers.yaml:3",
    )


def test_waivers_name_the_objects_and_stop_the_day_after_they_expire() -> None:
    resources = [
        SimpleNamespace(
            urn="urn:pulumi:prod::mlops-platform::kubernetes:apps/v1:Deployment::serving-fraud-deployment",
            type="kubernetes:apps/v1:Deployment",
            inputs={"metadata": {"name": "serving-fraud"}},
        ),
        SimpleNamespace(
            urn="urn:pulumi:prod::mlops-platform::docker:index/container:Container::serving-fraud-x",
            type="docker:index/container:Container",
            inputs={"name": "x"},
        ),
    ]
    covered, empty = waived_objects(
        [
            _waiver("workload-run-as-non-root", "serving-fraud-*"),
            _waiver("workload-run-as-non-root", "none-*"),
        ],
        resources,  # type: ignore[arg-type]
        {"workload-run-as-non-root"},
    )
    assert covered == [
        WaivedObjects(
            "workload-run-as-non-root",
            "apps",
            "Deployment",
            ("serving-fraud",),
            date(2027, 1, 31),
            "policies/waivers.yaml:3",
        )
    ]
    assert empty == ["policies/waivers.yaml:3"]
    policy = next(
        p
        for p in _rendered(waivers=tuple(covered)).policies
        if p["metadata"]["name"].endswith("workload-run-as-non-root")
    )
    condition = policy["spec"]["matchConditions"][-1]
    assert condition == {"name": "not-waived", "expression": f"!({waiver_expression(covered)})"}
    assert 'timestamp("2027-02-01T00:00:00Z")' in condition["expression"]
    assert 'object.metadata.name in ["serving-fraud"]' in condition["expression"]


def test_a_non_waivable_rule_ignores_waivers() -> None:
    waived = WaivedObjects("workload-no-privileged", "apps", "Deployment", ("x",), date(2027, 1, 1), "w:1")
    policy = next(
        p
        for p in _rendered(waivers=(waived,)).policies
        if p["metadata"]["name"].endswith("workload-no-privileged")
    )
    assert [c["name"] for c in policy["spec"]["matchConditions"]] == [
        "not-controlled",
        "not-created-by-kubernetes",
    ]


def test_install_default_per_tier(tmp_path: Path) -> None:
    assert [admission_install(None, t) for t in ("dev", "staging", "prod")] == [False, True, True]
    (tmp_path / "admission.json").write_text(json.dumps({"dev": {"install": True}}))
    assert admission_install(tmp_path, "dev") is True and admission_install(tmp_path, "prod") is True
    (tmp_path / "admission.json").write_text(json.dumps({"prod": {"install": "yes"}}))
    with pytest.raises(PolicyConfigFileError, match=r"admission\.json: 'prod': expected"):
        admission_install(tmp_path, "prod")


# --- the command ---------------------------------------------------------------------------------


def test_render_writes_one_file_atomically_and_needs_force_to_replace_it(tmp_path: Path) -> None:
    out = tmp_path / "gitops"
    written = mlops("admission", "render", "prod", "-o", str(out))
    assert written.returncode == 0, written.stderr
    target = out / "prod.admission.yaml"
    assert [p.name for p in out.iterdir()] == ["prod.admission.yaml"]
    documents = list(yaml.safe_load_all(target.read_text()))
    kinds = Counter(d["kind"] for d in documents)
    assert kinds == {"ValidatingAdmissionPolicy": len(CEL), "ValidatingAdmissionPolicyBinding": len(CEL)}
    assert f"wrote {target}" in written.stderr
    assert f"prod: {len(CEL)} policies in namespace mlops-prod ({len(CEL)} deny, 0 warn)" in written.stderr
    again = mlops("admission", "render", "prod", "-o", str(out))
    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        f"mlops: --output: cannot write {target}: already exists (pass --force to overwrite it)"
    ]
    first = target.read_text()
    target.write_text("stale\n")
    forced = mlops("admission", "render", "prod", "-o", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert target.read_text() == first and [p.name for p in out.iterdir()] == ["prod.admission.yaml"]


def test_render_to_stdout_equals_the_file(tmp_path: Path) -> None:
    printed = mlops("admission", "render", "staging")
    assert printed.returncode == 0, printed.stderr
    assert mlops("admission", "render", "staging", "-o", str(tmp_path)).returncode == 0
    assert (tmp_path / "staging.admission.yaml").read_text() == printed.stdout


def test_render_refuses_a_docker_environment_and_bad_waivers(tmp_path: Path) -> None:
    docker = mlops("admission", "render", "dev", "-o", str(tmp_path))
    assert docker.returncode == 2
    assert docker.stderr.splitlines() == [
        "mlops admission: dev: the environment targets docker; admission policies are for Kubernetes"
    ]
    bad = tmp_path / "waivers.yaml"
    bad.write_text("waivers:\n  - policy: workload-run-as-non-root\n    expires: soon\n")
    refused = mlops("admission", "render", "prod", "--waivers", str(bad))
    assert refused.returncode == 2
    assert f"{bad}:3: waivers[0].expires: must be an ISO date (YYYY-MM-DD), got 'soon'" in refused.stderr
    assert list(tmp_path.iterdir()) == [bad]
    assert (REPO / "policies" / "waivers.yaml").exists()


def test_up_refuses_admission_for_a_docker_environment_before_anything_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    refused = mlops("up", "dev", "--admission", "--skip-audit", "--yes", "--local-state", str(state))
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "--admission: dev targets docker; admission policies are for Kubernetes"
    ]
    assert not state.exists()
