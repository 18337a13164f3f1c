"""Preview formats: grouped table, parent tree, stable JSON; secrets redacted in all of them."""

from __future__ import annotations

import json

import pytest

from mlops_platform.tools.engine.capture import Capture, placeholder
from mlops_platform.tools.engine.config import StackConfig
from mlops_platform.tools.engine.preview import placements, render_preview, summary


def test_table_groups_by_layer_and_component_with_counts(capture: Capture) -> None:
    text = render_preview(capture, "table", width=160)
    assert "mlops preview: fixture (18 resources)" in text  # the root stack counts, as in the audit
    rows = [line for line in text.splitlines() if "Service web " in line]
    assert len(rows) == 1 and "│         6 │" in rows[0]
    assert "Container, Deployment, RandomPassword, RemoteImage, Secret, Service" in rows[0]
    assert "provider:kubernetes ×2" in text


def test_tree_follows_parents(capture: Capture) -> None:
    lines = render_preview(capture, "tree", width=160).splitlines()
    web = next(i for i, line in enumerate(lines) if "web  fixture:index:Service" in line)
    assert "web-container" in lines[web + 1] and "[retain]" in lines[web + 1]
    assert any("web-deployment" in line and "[protect]" in line for line in lines)
    assert lines[0] == "mlops-platform / fixture"


def test_json_is_stable_and_complete(capture: Capture) -> None:
    doc = json.loads(render_preview(capture, "json"))
    assert doc["summary"]["resources"] == 18  # the root stack too, as the audit counts
    assert doc["summary"]["by_type"]["kubernetes:apps/v1:Deployment"] == 2
    deployment = next(r for r in doc["resources"] if r["name"] == "web-deployment")
    assert deployment["options"]["protect"] is True
    assert deployment["component"] == "Service web" and deployment["layer"] == "(stack)"
    assert render_preview(capture, "json") == render_preview(capture, "json")


def test_layers_come_from_mlops_component_types(capture: Capture) -> None:
    where = placements(capture.resources)
    assert {p.layer for p in where.values()} == {"(stack)", "(providers)"}
    assert summary(capture)["by_layer"] == {"(stack)": 14, "(providers)": 4}


@pytest.mark.parametrize("fmt", ["table", "tree", "json"])
def test_known_secrets_are_redacted_in_every_format(
    capture: Capture, stack_config: StackConfig, fmt: str
) -> None:
    known = [
        stack_config.values["mlops-platform:apiToken"],
        placeholder("random:index/randomPassword:RandomPassword", "web-password", "result"),
    ]
    text = render_preview(capture, fmt, width=400)
    for secret in known:
        assert secret not in text
