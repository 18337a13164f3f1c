"""End to end on the repository's own program, stack and packs: what `pulumi preview --policy-pack` runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_platform.tools.engine.audit import audit_capture_and_packs, discover_packs
from mlops_platform.tools.engine.capture import Capture
from mlops_platform.tools.engine.preview import render_preview, summary
from mlops_platform.tools.findings import AuditResult

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "stacks" / "Pulumi.dev.yaml"
DEFAULT_PROGRAM = REPO / "__main__.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not DEFAULT_PROGRAM.is_file(), reason="the stack program __main__.py is not there yet"
    ),
]


@pytest.fixture(scope="module")
def dev() -> tuple[Capture, AuditResult]:
    return audit_capture_and_packs(
        DEV, packs=discover_packs(), config_dir=REPO / "policies" / "config", program=DEFAULT_PROGRAM
    )


def test_dev_program_is_captured_in_four_layers(dev: tuple[Capture, AuditResult]) -> None:
    capture, _ = dev
    assert all(r.urn.startswith("urn:pulumi:dev::mlops-platform::") for r in capture.resources)
    layers = summary(capture)["by_layer"]
    assert {"storage", "registry", "serving", "monitoring"} <= set(layers)
    assert any(r.type == "docker:index/container:Container" for r in capture.resources)


def test_every_pack_analyzed_every_resource(dev: tuple[Capture, AuditResult]) -> None:
    capture, audit = dev
    assert len({p.pack for p in audit.policies}) == len(discover_packs()) >= 1
    checked = {c.urn for c in audit.checks if c.urn}
    containers = {r.urn for r in capture.resources if r.type == "docker:index/container:Container"}
    assert containers and containers <= checked
    assert {c.urn for c in audit.checks} <= {r.urn for r in capture.resources} | {""}


def test_no_secret_leaks_into_findings_or_preview(dev: tuple[Capture, AuditResult]) -> None:
    capture, audit = dev
    assert capture.secret_values, "the dev program generates passwords"
    texts = [repr(audit.findings)] + [
        render_preview(capture, fmt, width=300) for fmt in ("table", "tree", "json")
    ]
    for secret in capture.secret_values:
        for text in texts:
            assert secret not in text
    assert json.loads(render_preview(capture, "json"))["environment"] == "dev"
