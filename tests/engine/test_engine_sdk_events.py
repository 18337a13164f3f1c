"""The events adapter: the engine's JSON kept beside each parsed event, on the pinned SDK only."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from pulumi.automation import _stack

from mlops_platform.tools.engine_pulumi import sdk_events
from mlops_platform.tools.engine_pulumi.events import EngineRecord
from mlops_platform.tools.engine_pulumi.workspace import EngineUnavailable

REPO = Path(__file__).resolve().parents[2]

SUMMARY = {
    "sequence": 3,
    "timestamp": 0,
    "policyAnalyzeSummaryEvent": {
        "resourceUrn": "urn:pulumi:prod::mlops-platform::kubernetes:apps/v1:Deployment::api",
        "policyPackName": "mlops-security",
        "policyPackVersion": "1.0.0",
        "passed": ["k8s-workload-run-as-non-root"],
        "failed": ["k8s-workload-resource-limits"],
    },
}


def test_written_for_the_pinned_sdk() -> None:
    pins = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert f"pulumi=={sdk_events.WRITTEN_FOR}" in pins
    assert metadata.version("pulumi") == sdk_events.WRITTEN_FOR


def test_summary_events_reach_the_record_while_open_and_the_sdk_is_restored() -> None:
    original = _stack.EngineEvent
    record = EngineRecord()
    with sdk_events.raw_events():
        record(_stack.EngineEvent.from_json(SUMMARY))  # as the SDK's event servicer calls it
    assert _stack.EngineEvent is original
    urn = SUMMARY["policyAnalyzeSummaryEvent"]["resourceUrn"]
    assert record.resource_checks == {
        (urn, "mlops-security"): (["k8s-workload-run-as-non-root"], ["k8s-workload-resource-limits"])
    }
    assert not hasattr(original.from_json(SUMMARY), "raw")  # outside, the SDK's own parsing


def test_another_sdk_is_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _stack.EngineEvent
    monkeypatch.setattr(sdk_events.metadata, "version", lambda name: "3.999.0")
    expected = r"SDK 3\.999\.0 is installed; .* Install pulumi==3\.272\.0"
    refused = pytest.raises(EngineUnavailable, match=expected)
    with refused, sdk_events.raw_events():
        pytest.fail("entered on another SDK version")
    assert _stack.EngineEvent is original
