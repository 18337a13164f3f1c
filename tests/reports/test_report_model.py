"""The typed reader of the JSON report (``report_model``) reads what the writer writes, and only that."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mlops_platform.tools.findings import AuditResult, SpecLocation
from mlops_platform.tools.reports import render
from mlops_platform.tools.reports.json_report import SCHEMA_VERSION, schema
from mlops_platform.tools.reports.report_model import ReportError, load_report, parse_report
from tests.reports.report_fixtures import provenance

STAMP = "2026-06-01T10:00:00Z"


def test_the_reader_reads_every_environment_the_writer_wrote(prod: AuditResult, dev: AuditResult) -> None:
    text = render([prod, dev], "json", provenance=provenance(), generated_at=STAMP)
    doc = json.loads(text)
    report = parse_report(text)
    assert report.schema_version == SCHEMA_VERSION
    assert [e.environment for e in report.environments] == ["prod", "dev"]
    for env, raw in zip(report.environments, doc["environments"], strict=True):
        assert env.summary.model_dump() == raw["summary"]
        assert [(v.policy, v.urn, v.outcome) for v in env.violations] == [
            (v["policy"], v["urn"], v["outcome"]) for v in raw["violations"]
        ]
        assert [c.counts.model_dump(by_alias=True) for c in env.controls] == [
            c["counts"] for c in raw["controls"]
        ]
    assert report.environment("dev").passed is doc["environments"][1]["passed"]


def test_a_stale_shape_is_a_located_error(prod: AuditResult, tmp_path: Path) -> None:
    doc = json.loads(render([prod], "json", provenance=provenance(), generated_at=STAMP))
    doc["summary"] = doc["environments"][0].pop("summary")  # the shape the bench once read
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ReportError) as raised:
        load_report(path)
    assert str(raised.value) == f"{path}: environments.0.summary: Field required (2 problem(s))"


def test_another_schema_version_is_refused(prod: AuditResult) -> None:
    doc = json.loads(render([prod], "json", provenance=provenance(), generated_at=STAMP))
    doc["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ReportError, match=f"schema_version: {SCHEMA_VERSION + 1}, this version reads"):
        parse_report(json.dumps(doc), source="old.json")


def test_a_violations_spec_flags_are_written_when_true_and_read_back_whole(prod: AuditResult) -> None:
    plain = SpecLocation("stacks/Pulumi.prod.yaml", 12, "serving.models[0].image")
    default = SpecLocation("stacks/defaults.yaml", 3, "tiers.prod.replicas", default=True)
    first, second, *rest = prod.findings
    prod.findings = [dataclasses.replace(first, spec=plain), dataclasses.replace(second, spec=default), *rest]
    text = render([prod], "json", provenance=provenance(), generated_at=STAMP)
    raw = {v["urn"] + v["policy"]: v["spec"] for v in json.loads(text)["environments"][0]["violations"]}
    assert raw[first.urn + first.policy] == {"file": plain.file, "line": 12, "path": plain.path}
    assert raw[second.urn + second.policy] == {
        "file": default.file,
        "line": 3,
        "path": default.path,
        "default": True,
    }
    assert list(Draft202012Validator(schema()).iter_errors(json.loads(text))) == []
    specs = {v.urn + v.policy: v.spec for v in parse_report(text).environments[0].violations}
    assert specs[first.urn + first.policy] == dataclasses.asdict(plain)
    assert specs[second.urn + second.policy] == dataclasses.asdict(default)
    assert str(SpecLocation(**raw[second.urn + second.policy])) == str(default)
