"""Helm charts and YAML manifests through the offline audit, rendered by the real kubernetes provider.

The provider (``pulumi-resource-kubernetes``, built by ``mlops toolchain install``) answers the
SDK's functions (Helm v3 ``Chart``, ``yaml.ConfigFile``/``ConfigGroup``) and constructs its components
(Helm v4 ``Chart``, ``yaml.v2``) over gRPC. Each finding on a chart's or manifest's object points at
the program line that declared the chart or the manifest. Without the provider these tests skip on a
developer's machine and fail under ``CI=true``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.tools.engine.provider_host import find_provider
from mlops_platform.tools.findings import SpecLocation
from tests.cli_runner import mlops
from tests.project import program_shapes as shapes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def kubernetes_provider() -> Path:
    binary = find_provider()
    if binary is None:
        message = "the kubernetes provider is not built: run `mlops toolchain install`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


def audit(tmp_path: Path, program: str, files: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    root = shapes.write_project(tmp_path / "p", program, files)
    done = mlops("--project", str(root), "audit", "dev", "-f", "json", cwd=tmp_path)
    assert done.stdout.startswith("{"), done.stderr
    return done, json.loads(done.stdout)


def violations(report: dict[str, Any], policy: str) -> set[tuple[str, str, str]]:
    """(resource type, message, location) of ``policy``'s violations."""
    return {
        (v["resource_type"], v["message"], str(SpecLocation(**v["spec"])))
        for v in report["environments"][0]["violations"]
        if v["policy"] == policy
    }


# Helm v3 through the provider's Invoke (kubernetes:helm:template), v4 through its Construct.
@pytest.mark.parametrize("program", [shapes.HELM_V3, shapes.HELM_V4], ids=["helm-v3", "helm-v4"])
def test_a_local_charts_privileged_latest_deployment_is_found_at_the_charts_line(
    tmp_path: Path, program: str
) -> None:
    done, report = audit(tmp_path, program, shapes.CHART_FILES)
    assert done.returncode == 1, done.stderr
    line = f"__main__.py:{shapes.line_of(program, 'chart')}"
    deployment = "kubernetes:apps/v1:Deployment"
    assert violations(report, "image-no-latest-tag") == {
        (deployment, 'container "web" image "nginx:latest" uses the mutable "latest" tag', line)
    }
    assert violations(report, "workload-no-privileged") == {
        (deployment, 'container "web" runs privileged (securityContext.privileged=true)', line)
    }


# yaml.ConfigFile/ConfigGroup through the provider's Invoke (kubernetes:yaml:decodeYaml), with the
# SDK's `transformations`; yaml.v2 through its Construct, with a `transforms` resource option the engine
# runs on the provider's children. Either way only the ConfigFile's copy moves to :main.
@pytest.mark.parametrize("program", [shapes.CONFIG_FILES, shapes.YAML_V2], ids=["yaml", "yaml-v2"])
def test_manifests_yield_their_objects_and_the_transformation_applies(tmp_path: Path, program: str) -> None:
    done, report = audit(tmp_path, program, shapes.MANIFEST_FILES)
    assert done.returncode == 1, done.stderr
    deployment = "kubernetes:apps/v1:Deployment"
    configfile = f"__main__.py:{shapes.line_of(program, 'configfile')}"
    configgroup = f"__main__.py:{shapes.line_of(program, 'configgroup')}"
    assert violations(report, "image-no-latest-tag") == {
        (deployment, 'container "api" image "ghcr.io/acme/api:main" uses the mutable "main" tag', configfile)
    }
    pinned = {(loc, msg) for _t, msg, loc in violations(report, "image-digest-pinned")}
    assert pinned == {
        (configfile, 'container "api" image "ghcr.io/acme/api:main" is not pinned by digest (@sha256:...)'),
        (configgroup, 'container "api" image "ghcr.io/acme/api:1.4.2" is not pinned by digest (@sha256:...)'),
    }
