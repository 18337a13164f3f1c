"""The project the local node's try-it and end-to-end tests bring up validates and audits clean offline.

Its images come from the node's mirror through ``environment.images.overrides``, which the project's
own staging policy config approves: the audit judges the images that run.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlops_platform.tools.images.registry import image_overrides
from mlops_platform.tools.node import mirror, tryout
from tests.cli_runner import mlops


def _overrides() -> dict[str, str]:
    overrides = image_overrides(mirror.MIRROR)
    overrides[tryout.MODEL_IMAGE] = tryout.runtime_image()
    return overrides


def test_the_tryout_project_audits_clean_with_the_mirrors_images(tmp_path: Path) -> None:
    project = tryout.write_project(tmp_path / "p", tryout.STACK, tryout.NAMESPACE, _overrides())
    report = tmp_path / "report.json"
    done = mlops("-C", str(project), "audit", tryout.STACK, "-f", "json", "-o", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    environment = json.loads(report.read_text())["environments"][0]
    assert environment["summary"]["mandatory"] == 0, environment["summary"]
    preview = mlops("-C", str(project), "preview", tryout.STACK, "--format", "json")
    assert preview.returncode == 0, preview.stderr
    pod_specs = [
        r.get("inputs", {}).get("spec", {}).get("template", {}).get("spec", {})
        for r in json.loads(preview.stdout)["resources"]
    ]
    images = {c["image"] for spec in pod_specs for c in spec.get("containers", [])}
    assert images and all(i.startswith(tryout.MIRROR_PREFIX) for i in images), images


def test_with_models_it_still_audits_clean_and_serves_each_from_the_runtime_image(tmp_path: Path) -> None:
    project = tryout.write_project(tmp_path / "p", tryout.STACK, tryout.NAMESPACE, _overrides())
    tryout.write_stack(
        project,
        tryout.STACK,
        tryout.NAMESPACE,
        _overrides(),
        models=tryout.model_entries(tryout.TWO_MODELS, alert_after_seconds=0),
    )
    done = mlops("-C", str(project), "validate", tryout.STACK)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 models" in done.stdout
    audit = mlops("-C", str(project), "audit", tryout.STACK)
    assert audit.returncode == 0, audit.stdout + audit.stderr
