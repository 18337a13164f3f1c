"""The real engine brings a split prod up, the four layer stacks in order on one local backend.

Rendered to manifests (``renderYamlToDirectory``), so no cluster is needed: the split renders the same
Kubernetes objects as one stack. Generated credentials differ (each layer stack has its own seed), so
Secrets are compared by name only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.tools.engine_pulumi.operations import StackChoice, engine_run, render_config, up_split
from mlops_platform.tools.project import Project
from tests.realengine.conftest import require_tool

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _engine_built() -> None:
    from mlops_platform.tools.toolchain import installed

    if installed(["pulumi-cli", "kubernetes-provider"]) is None:
        require_tool("the Pulumi CLI and kubernetes provider build")


def _objects(render: Path) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    found = {}
    for file in sorted(render.rglob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
            if doc:
                meta = doc.get("metadata") or {}
                key = (doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta["name"])
                found[key] = {} if doc["kind"] == "Secret" else doc
    return found


def test_split_prod_goes_up_layer_by_layer_and_renders_what_one_stack_renders(tmp_path: Path) -> None:
    prod = REPO / "stacks" / "Pulumi.prod.yaml"
    split = up_split(prod, local_state=tmp_path / "split", render_to=tmp_path / "split-render",
                     project=Project.load(REPO))  # fmt: skip
    assert split.gate == []
    assert [(run.stack, run.record.mandatory()) for run in split.runs] == [
        ("prod-storage", []),
        ("prod-registry", []),
        ("prod-serving", []),
        ("prod-monitoring", []),
    ]
    assert all(run.record.changes.get("create", 0) > 5 for run in split.runs)
    one = engine_run(
        StackChoice(prod, local_state=tmp_path / "one", config=render_config(tmp_path / "one-render")), "up"
    )
    assert not one.mandatory()
    single, layered = _objects(tmp_path / "one-render"), _objects(tmp_path / "split-render")
    assert len(single) > 50
    assert set(layered) == set(single)
    assert [key for key in single if layered[key] != single[key]] == []


def test_mlops_up_split_goes_up_in_order(tmp_path: Path) -> None:
    from tests.cli_runner import mlops

    done = mlops(
        "up", "prod", "--split", "--local-state", str(tmp_path / "state"),
        "--render-to", str(tmp_path / "render"), "--yes",
        "--no-verify-images",  # no image registry is reachable here (tests/supply_chain: the gate on)
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    verdicts = [line for line in done.stderr.splitlines() if "mandatory violations" in line]
    assert [line.split(":")[0] for line in verdicts] == [
        "prod-storage",
        "prod-registry",
        "prod-serving",
        "prod-monitoring",
    ]
    assert all(": 0 mandatory violations, " in line for line in verdicts), verdicts
    assert {p.name for p in (tmp_path / "render").iterdir()} == {
        "storage",
        "registry",
        "serving",
        "monitoring",
        "prod.admission.yaml",  # prod's tier asks for its admission policies (policies/config/admission.json)
    }


def test_up_split_needs_local_state() -> None:
    from tests.cli_runner import mlops

    done = mlops("up", "prod", "--split", "--yes")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "--split: give --local-state DIR (the layer stacks share its backend); --stack and --install-crds "
        "do not apply"
    )
