"""Audit evidence: control catalogue, positive evidence, per-control counts, model inventory, schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonpath
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from mlops_platform.policies.catalogue import ALL_RULES as RULES  # the packs' and the audit's own
from mlops_platform.policies.controls import CONTROL_TITLES, FRAMEWORKS, applies_to
from mlops_platform.policies.evidence import OPTION_PREFIX
from mlops_platform.stacks.loader import load_environment
from mlops_platform.tools.findings import SECRET_MARKER, AuditResult, CapturedResource, Check, Framework
from mlops_platform.tools.reports import FORMATS, render
from mlops_platform.tools.reports.evidence import MAX_OBSERVATIONS, MAX_VALUE_CHARS, observe
from mlops_platform.tools.reports.inventory import declared_models
from mlops_platform.tools.reports.json_report import MODEL_COLUMNS, SCHEMA_VERSION, schema
from mlops_platform.tools.reports.report_model import parse_report
from tests.reports.report_fixtures import finding, make_dev, make_prod, policy, provenance, urn

REPO = Path(__file__).resolve().parents[2]
STAMP = "2026-06-01T10:00:00Z"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

# --- the control catalogue -------------------------------------------------------------------------


def test_every_control_the_catalogue_maps_has_a_title() -> None:
    mapped = sorted({c for rule in RULES for c in rule.controls})
    untitled = [c for c in mapped if not CONTROL_TITLES.get(c.split(":", 1)[0], {}).get(c.split(":", 1)[1])]
    assert untitled == []
    assert len(mapped) > 100, "the catalogue maps every framework's controls"


def test_every_framework_the_rules_map_to_is_named_with_its_edition_and_titles() -> None:
    mapped = {c.split(":", 1)[0] for rule in RULES for c in rule.controls}
    assert mapped == set(FRAMEWORKS) == set(CONTROL_TITLES), "no framework unknown, none without a rule"
    for slug, edition in FRAMEWORKS.items():
        assert edition.name and edition.version, slug
        assert edition.source, f"{slug}: the source edition is named"


def test_cis_benchmarks_apply_only_to_their_target() -> None:
    assert applies_to("cis-docker", "docker") and not applies_to("cis-docker", "kubernetes")
    assert applies_to("cis-kubernetes", "kubernetes") and not applies_to("cis-kubernetes", "docker")
    assert all(applies_to("nist-800-53", t) for t in ("kubernetes", "docker"))


# --- positive evidence ---------------------------------------------------------------------------


def test_every_catalogue_rule_declares_the_properties_it_reads() -> None:
    for rule in RULES:
        assert rule.evidence.reads, rule.name
        for path in (*rule.evidence.reads, *(rule.evidence.subjects or ())):
            if not path.startswith(OPTION_PREFIX):
                jsonpath.compile(path)  # raises on a malformed query


def deployment(name: str, **pod: object) -> CapturedResource:
    container = {"name": "server", "image": "ghcr.io/acme-ml/fraud-scorer:3.2.0@sha256:" + "7b" * 32}
    return CapturedResource(
        urn("prod", DEPLOYMENT, name),
        DEPLOYMENT,
        name,
        True,
        {
            "metadata": {"labels": {"mlops.dev/model": "fraud-scorer", "mlops.dev/risk-tier": "high"}},
            "spec": {"template": {"spec": {"containers": [container], **pod}}},
        },
    )


def test_observed_values_name_the_property_and_its_value() -> None:
    res = deployment("fraud-stable", securityContext={"runAsNonRoot": True, "runAsUser": 10001})
    observed, more = observe(res, "workload-run-as-non-root")
    assert observed == [
        {"path": "spec.template.spec.securityContext.runAsNonRoot", "value": "true"},
        {"path": "spec.template.spec.securityContext.runAsUser", "value": "10001"},
    ]
    assert more == 0
    images, _ = observe(res, "image-digest-pinned")
    assert images == [
        {
            "path": "spec.template.spec.containers[0].image",
            "value": res.inputs["spec"]["template"]["spec"]["containers"][0]["image"],
        }
    ]
    labels, _ = observe(res, "model-high-risk-documentation")
    assert labels == [{"path": "metadata.labels['mlops.dev/risk-tier']", "value": "high"}]


def test_observed_values_are_bounded_and_never_secret() -> None:
    many = [
        {"name": f"c{i}", "image": f"img{i}:1", "securityContext": {"privileged": False}} for i in range(20)
    ]
    res = CapturedResource(
        "urn:x",
        DEPLOYMENT,
        "x",
        True,
        {"spec": {"template": {"spec": {"containers": many}}}},
    )
    observed, more = observe(res, "workload-no-privileged")
    assert len(observed) == MAX_OBSERVATIONS and more == 20 - MAX_OBSERVATIONS
    long = CapturedResource("urn:l", "docker:index/container:Container", "l", True, {"image": "y" * 500})
    (observed_long,) = observe(long, "image-no-latest-tag")[0]
    assert observed_long["path"] == "image" and len(observed_long["value"]) == MAX_VALUE_CHARS
    secret = CapturedResource("urn:s", DEPLOYMENT, "s", True, {"image": SECRET_MARKER})
    assert observe(secret, "image-no-latest-tag")[0] == [{"path": "image", "value": "[secret]"}]
    # The real engine's state keeps Pulumi's secret envelope: neither its ciphertext nor its keys show.
    envelope = {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        "ciphertext": "v1:abc",
    }
    sealed = CapturedResource("urn:k", "kubernetes:core/v1:Secret", "k", True, {"data": envelope})
    assert observe(sealed, "secret-no-plaintext-config")[0] == []
    assert observe(
        CapturedResource("urn:i", DEPLOYMENT, "i", True, {"image": envelope}), "image-no-latest-tag"
    )[0] == [{"path": "image", "value": "[secret]"}]
    # Environment variables: names only, whatever the value.
    env = CapturedResource(
        "urn:e",
        DEPLOYMENT,
        "e",
        True,
        {"spec": {"containers": [{"env": [{"name": "DB_URL", "value": "pg://u:pw@h"}]}]}},
    )
    assert observe(env, "secret-no-plaintext-env")[0] == [
        {"path": "spec.containers[0].env[0].name", "value": "DB_URL"},
        {"path": "options.additional_secret_outputs", "value": "[]"},
    ]
    docker = CapturedResource(
        "urn:d",
        "docker:index/container:Container",
        "d",
        True,
        {"labels": [{"label": "mlops.dev/risk-tier", "value": "high"}]},
    )
    assert observe(docker, "model-high-risk-documentation")[0] == [
        {"path": "labels['mlops.dev/risk-tier']", "value": "high"}
    ]
    protected = CapturedResource(
        "urn:p", "kubernetes:core/v1:PersistentVolumeClaim", "p", True, {}, protect=True
    )
    assert {"path": "options.protect", "value": "true"} in observe(protected, "storage-protected")[0]


# --- per-control counts and applicability ----------------------------------------------------------

RUN_AS_NON_ROOT = policy(
    "workload-run-as-non-root",
    tags=("control:cis-kubernetes:5.2.7", "control:cis-docker:4.1", "control:nist-800-53:AC-6(2)"),
    framework=Framework(
        "CIS Kubernetes Benchmark", "1.9.0", "5.2.7", "Minimize the admission of root containers"
    ),
)


def judged(target: str = "kubernetes") -> AuditResult:
    """Three workloads judged (one failing), one declared not applicable (a ConfigMap)."""
    ok = deployment("fraud-stable", securityContext={"runAsNonRoot": True})
    also_ok = deployment("fraud-canary", securityContext={"runAsNonRoot": True})
    bad = deployment("churn-stable", securityContext={"runAsNonRoot": False})
    config = CapturedResource(
        urn("prod", "kubernetes:core/v1:ConfigMap", "cfg"), "kubernetes:core/v1:ConfigMap", "cfg", True, {}
    )
    p = RUN_AS_NON_ROOT
    return AuditResult(
        environment="prod",
        tier="prod",
        target=target,
        resources=[ok, also_ok, bad, config],
        policies=[p],
        findings=[finding(p, bad, "runAsNonRoot is false")],
        checks=[Check(p.name, p.pack, r.urn) for r in (ok, also_ok, bad)],
        waivers=[],
        started_at=STAMP,
        duration_s=1.0,
        not_applicable=[Check(p.name, p.pack, config.urn)],
    )


def controls_of(result: AuditResult) -> dict[str, dict[str, object]]:
    doc = json.loads(render([result], "json", provenance=provenance(), generated_at=STAMP))
    return {f"{c['framework']}:{c['id']}": c for c in doc["environments"][0]["controls"]}


def test_control_counts_resources_per_outcome_and_carries_evidence() -> None:
    controls = controls_of(judged())
    control = controls["cis-kubernetes:5.2.7"]
    assert control["title"] == "Minimize the admission of root containers"
    assert control["status"] == "fail"
    assert control["counts"] == {
        "in_scope": 3,
        "pass": 2,
        "fail": 1,
        "warn": 0,
        "waived": 0,
        "error": 0,
        "not_applicable": 1,
    }
    assert [e["policy"] for e in control["evidence"]] == ["workload-run-as-non-root"]
    assert controls["nist-800-53:AC-6(2)"]["title"].startswith("Least Privilege | Non-privileged Access")
    doc = json.loads(render([judged()], "json", provenance=provenance(), generated_at=STAMP))
    (result,) = doc["environments"][0]["policy_results"]
    (violation,) = doc["environments"][0]["violations"]  # the failing resource's evidence is on it
    assert (violation["urn"].rsplit("::", 1)[-1], violation["outcome"], violation["evidence"]) == (
        "churn-stable",
        "fail",
        {"observed": [["spec.template.spec.securityContext.runAsNonRoot", "false"]], "more_observed": 0},
    )
    listed = {r["urn"].rsplit("::", 1)[-1]: r["outcome"] for r in result["resources"]}
    assert "churn-stable" not in listed, "written once: on its violation"
    assert set(listed.values()) == {"pass"}
    assert "cfg" not in listed, "n/a resources are only counted"


def test_a_framework_for_another_target_is_not_applicable_never_pass() -> None:
    on_kubernetes = controls_of(judged("kubernetes"))
    assert on_kubernetes["cis-docker:4.1"]["status"] == "not-applicable"
    assert on_kubernetes["cis-docker:4.1"]["applicable"] is False
    assert on_kubernetes["cis-docker:4.1"]["counts"]["in_scope"] == 0
    assert on_kubernetes["cis-docker:4.1"]["not_applicable_reason"] == (
        "CIS Docker Benchmark 1.6.0 does not apply to a kubernetes target"
    )
    on_docker = controls_of(judged("docker"))
    assert on_docker["cis-kubernetes:5.2.7"]["status"] == "not-applicable"
    assert on_docker["cis-docker:4.1"]["status"] == "fail"
    html = render([judged("kubernetes")], "html", provenance=provenance(), generated_at=STAMP)
    docker_section = html[html.index("CIS Docker Benchmark 1.6.0 <span") :].split("<h4>")[0]
    assert "does not apply to a kubernetes target" in docker_section
    assert "b-pass" not in docker_section


def test_an_environment_with_no_resource_in_scope_is_not_applicable() -> None:
    result = judged()
    result.checks, result.findings = [], []
    assert controls_of(result)["cis-kubernetes:5.2.7"]["status"] == "not-applicable"


# --- model inventory -----------------------------------------------------------------------------


def test_the_inventory_names_every_declared_model_with_its_governance() -> None:
    declaration = declared_models(load_environment(REPO / "stacks" / "Pulumi.prod.yaml"))
    assert declaration.ceiling == "confidential"
    by_name = {m["name"]: m for m in declaration.models}
    assert sorted(by_name) == ["churn-predictor", "fraud-scorer", "recommender"]
    fraud = by_name["fraud-scorer"]
    assert fraud["risk_tier"] == "high"
    assert fraud["model_card_url"] == "https://models.acme.example/cards/fraud-scorer"
    assert fraud["approval_ref"] == "MRM-2026-014"
    assert fraud["image_pinned_by_digest"] is True
    # high risk, no registry in prod: served by exact versions (model-version-pinned)
    assert fraud["model"] == {"name": "fraud-scorer", "version": 40, "alias": None, "uri": None}
    assert fraud["canary"] is not None and fraud["canary"]["weight_percent"] == 10
    assert (fraud["canary"]["alias"], fraud["canary"]["version"]) == (None, 41)
    assert fraud["slo"] == {"p99_latency_ms": 150, "error_rate": 0.001}
    assert fraud["within_ceiling"] is True and fraud["data_classification"] == "confidential"


def test_inventory_rows_carry_each_models_results() -> None:
    declaration = declared_models(load_environment(REPO / "stacks" / "Pulumi.prod.yaml"))
    result = judged()
    docs = policy(
        "model-high-risk-documentation", pack="mlops-governance", tags=("control:eu-ai-act:Art.11",)
    )
    result.policies.append(docs)
    result.checks += [Check(docs.name, docs.pack, r.urn) for r in result.resources[:3]]
    canary = result.resources[1]
    result.findings.append(finding(docs, canary, "high-risk model has no approval reference"))
    text = render(
        [result], "json", provenance=provenance(), declarations={"prod": declaration}, generated_at=STAMP
    )
    table = json.loads(text)["environments"][0]["models"]
    assert table["governance_policies"] == ["model-high-risk-documentation"]
    models = parse_report(text).environments[0].models.by_name()
    fraud = models["fraud-scorer"]
    assert fraud.governance == {"model-high-risk-documentation": "fail"}
    assert fraud.status == "fail"
    assert fraud.resources == ["churn-stable", "fraud-canary", "fraud-stable"]  # labelled fraud-scorer
    assert models["recommender"].governance == {}, "no resource of it in this hand-built audit"
    recommender = table["rows"][[r[0] for r in table["rows"]].index("recommender")]
    assert recommender[MODEL_COLUMNS.index("governance")] == [None], "no result: null, not a status"
    for fmt in ("html", "markdown", "text"):
        text = render(
            [result], fmt, provenance=provenance(), declarations={"prod": declaration}, generated_at=STAMP
        )
        assert "MRM-2026-014" in text and "https://models.acme.example/cards/fraud-scorer" in text, fmt


# --- JSON Schema -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    loaded = schema()
    Draft202012Validator.check_schema(loaded)
    assert loaded["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    return Draft202012Validator(loaded, format_checker=FormatChecker())


def errors(validator: Draft202012Validator, doc: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_json_reports_validate_against_the_published_schema(validator: Draft202012Validator) -> None:
    declaration = declared_models(load_environment(REPO / "stacks" / "Pulumi.prod.yaml"))
    for results in ([make_prod()], [make_prod(), make_dev()], [judged()]):
        doc = json.loads(
            render(
                results,
                "json",
                provenance=provenance(),
                declarations={"prod": declaration},
                generated_at=STAMP,
            )
        )
        assert errors(validator, doc) == []
    assert (REPO / "mlops_tools" / "reports" / "schema" / f"audit-report.v{SCHEMA_VERSION}.json").is_file()


def test_schema_rejects_what_the_report_must_not_contain(validator: Draft202012Validator) -> None:
    good = json.loads(render([judged()], "json", provenance=provenance(), generated_at=STAMP))
    env = good["environments"][0]
    for mutate in (
        lambda d: d["environments"][0]["controls"][0].update(status="ok"),
        lambda d: d["environments"][0]["controls"][0].pop("title"),
        lambda d: d["provenance"].pop("as_of"),
        lambda d: d["provenance"]["packs"][0].update(sources_sha256="nothex"),
        lambda d: d["environments"][0]["policy_results"][0]["resources"][0]["observed"].extend(
            [{"path": "p", "value": "v"}] * 9
        ),
        lambda d: d.update(environments=[]),
        lambda d: d["environments"][0].update(rules=[]),
    ):
        doc = copy.deepcopy(good)
        mutate(doc)
        assert errors(validator, doc) != [], doc
    assert env["controls"], "the mutations hit real content"


def test_schema_bounds_match_the_evidence_bounds(validator: Draft202012Validator) -> None:
    observed = validator.schema["$defs"]["observed"]  # an evidence row's and a violation's
    assert observed["maxItems"] == MAX_OBSERVATIONS
    assert observed["items"]["prefixItems"][1]["maxLength"] == MAX_VALUE_CHARS


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_records_the_provenance(fmt: str) -> None:
    text = render([make_prod()], fmt, provenance=provenance(), generated_at=STAMP)
    p = provenance()
    assert p.commit is not None and p.commit[:12] in text
    assert p.as_of in text
    assert p.packs[0].sources_sha256[:12] in text
    assert "policies/config/prod.json" in text
