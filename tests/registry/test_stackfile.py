"""Pinning rewrites exactly one line of a stack file: comments, quotes, flow mappings and indentation stay."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from mlops_platform.tools.registry.stackfile import StackFileError, pinned_text

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def _registry_models(path: Path) -> list[tuple[str, str]]:
    models = yaml.safe_load(path.read_text())["config"]["mlops-platform:serving"]["models"]
    return [(m["name"], m["model"]["name"]) for m in models if m["model"].get("name")]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_pinning_changes_only_the_models_ref_line(env: str) -> None:
    path = STACKS / f"Pulumi.{env}.yaml"
    for endpoint, registered in _registry_models(path):
        before, after = pinned_text(path, endpoint, 99)
        changed = [
            line
            for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
        ]
        assert len(changed) == 2 and changed[0].startswith("-"), changed
        assert changed[1].strip() == f"+        model: {{name: {registered}, version: 99}}".strip()
        assert yaml.safe_load(after)["config"] == {
            **yaml.safe_load(before)["config"],
            "mlops-platform:serving": yaml.safe_load(after)["config"]["mlops-platform:serving"],
        }


def test_unknown_or_ad_hoc_models_are_located_errors(tmp_path: Path) -> None:
    path = STACKS / "Pulumi.prod.yaml"
    with pytest.raises(StackFileError) as unknown:
        pinned_text(path, "no-such-model", 3)
    assert str(unknown.value) == (
        f"{path}: serving.models: no model named 'no-such-model' (models: fraud-scorer, churn-predictor, "
        "recommender)"
    )
    adhoc = tmp_path / "Pulumi.dev.yaml"
    adhoc.write_text(
        "config:\n  mlops-platform:serving:\n    models:\n      - name: m\n        model: {uri: 's3://b/m'}\n"
    )
    with pytest.raises(StackFileError) as info:
        pinned_text(adhoc, "m", 3)
    assert str(info.value) == (
        f"{adhoc}:4: serving.models[0].model: model 'm' is not served from the registry (no name with a "
        "version or alias)"
    )
