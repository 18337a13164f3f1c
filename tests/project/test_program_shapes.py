"""Programs platform teams already have, through the offline audit: findings, their lines, exit codes.

Each program (``program_shapes``) is a project named ``team-web`` audited with ``--project`` from
another directory, as a CI job would. These need no provider: plain resources, components, an
inference server, a lookup the offline engine cannot answer, a program that raises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.tools.findings import SpecLocation
from tests.cli_runner import mlops
from tests.project import program_shapes as shapes

pytestmark = pytest.mark.slow


def audit(root: Path, cwd: Path, *args: str) -> tuple[Any, dict[str, Any] | None]:
    done = mlops("--project", str(root), "audit", "dev", "-f", "json", *args, cwd=cwd)
    report = json.loads(done.stdout) if done.stdout.startswith("{") else None
    return done, report


def located(report: dict[str, Any], policy: str) -> dict[str, str]:
    """Resource name -> ``file:line`` of ``policy``'s violations."""
    return {
        v["urn"].rsplit("::", 1)[-1]: str(SpecLocation(**v["spec"]))
        for v in report["environments"][0]["violations"]
        if v["policy"] == policy
    }


@pytest.fixture(scope="module")
def pod_kinds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, dict[str, Any]]:
    root = shapes.write_project(tmp_path_factory.mktemp("pods"), shapes.POD_KINDS)
    done, report = audit(root, tmp_path_factory.mktemp("elsewhere"))
    assert report is not None, done.stderr
    return root, done, report


def test_every_pod_bearing_kind_is_found_at_its_line(pod_kinds: tuple[Path, Any, dict[str, Any]]) -> None:
    _root, done, report = pod_kinds
    assert done.returncode == 1, done.stderr  # mandatory violations: a mutable tag, no limits...
    program = shapes.POD_KINDS
    expected = {
        "shop-deploy": f"__main__.py:{shapes.line_of(program, 'deployment')}",  # inside the component
        "bare": f"__main__.py:{shapes.line_of(program, 'pod')}",
        "db": f"__main__.py:{shapes.line_of(program, 'statefulset')}",
        "agent": f"__main__.py:{shapes.line_of(program, 'daemonset')}",
        "rs": f"__main__.py:{shapes.line_of(program, 'replicaset')}",
        "rc": f"__main__.py:{shapes.line_of(program, 'replicationcontroller')}",
        "once": f"__main__.py:{shapes.line_of(program, 'job')}",
        "nightly": f"__main__.py:{shapes.line_of(program, 'cronjob')}",
        "tmpl": f"__main__.py:{shapes.line_of(program, 'podtemplate')}",
    }
    assert located(report, "image-no-latest-tag") == expected
    messages = {
        v["message"] for v in report["environments"][0]["violations"] if v["policy"] == "image-no-latest-tag"
    }
    assert messages == {'container "app" image "ghcr.io/acme/app:main" uses the mutable "main" tag'}


def test_a_foreign_program_has_a_tier_a_target_and_its_own_inputs(
    pod_kinds: tuple[Path, Any, dict[str, Any]],
) -> None:
    _root, _done, report = pod_kinds
    env = report["environments"][0]
    assert (env["tier"], env["target"], env["stack_file"]) == ("none", "kubernetes", "Pulumi.dev.yaml")
    docker = [c for c in env["controls"] if c["framework"] == "cis-docker"]
    assert docker and all(c["status"] == "not-applicable" for c in docker)
    inputs = {(i["role"], i["path"]) for i in report["provenance"]["inputs"]}
    assert inputs == {("spec", "Pulumi.dev.yaml"), ("waivers", "policies/waivers.yaml")}
    urns = {v["urn"] for v in env["violations"] if v["urn"]}
    assert urns and all("::team-web::" in urn for urn in urns)


def test_tier_and_target_from_the_projects_policy_config(tmp_path: Path) -> None:
    root = shapes.write_project(tmp_path / "p", shapes.POD_KINDS)
    stacks = root / "policies" / "config" / "stacks.json"
    stacks.parent.mkdir(parents=True)
    stacks.write_text(json.dumps({"*": {"tier": "prod"}}), encoding="utf-8")
    tiers = root / "policies" / "config" / "tiers"
    tiers.mkdir()
    (tiers / "prod.json").write_text("{}", encoding="utf-8")
    done, report = audit(root, tmp_path)
    assert report is not None, done.stderr
    env = report["environments"][0]
    assert (env["tier"], env["target"]) == ("prod", "kubernetes")
    assert [c["path"] for c in env["policy_config"]] == ["policies/config/tiers/prod.json"]
    done, report = audit(root, tmp_path, "--tier", "prod", "--target", "docker")
    assert report is not None and report["environments"][0]["target"] == "docker", done.stderr


def test_sarif_locations_are_relative_to_the_project(tmp_path: Path) -> None:
    root = shapes.write_project(tmp_path / "p", shapes.POD_KINDS)
    done = mlops(
        "--project", str(root), "audit", "dev", "-f", "sarif", "-o", str(tmp_path / "a.sarif"), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    run = json.loads((tmp_path / "a.sarif").read_text())["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": root.resolve().as_uri() + "/"}}
    line = shapes.line_of(shapes.POD_KINDS, "pod")
    bare = [
        r["locations"][0]["physicalLocation"]
        for r in run["results"]
        if r["ruleId"] == "image-no-latest-tag" and r["locations"][0]["logicalLocations"][0]["name"] == "bare"
    ]
    assert bare == [
        {"artifactLocation": {"uri": "__main__.py", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": line}}
    ]


def test_an_inference_server_without_our_labels_is_a_model_workload(tmp_path: Path) -> None:
    root = shapes.write_project(tmp_path / "p", shapes.INFERENCE_SERVER)
    done, report = audit(root, tmp_path)
    assert report is not None, done.stderr
    line = f"__main__.py:{shapes.line_of(shapes.INFERENCE_SERVER, 'llm')}"
    assert located(report, "model-artifact-pinned") == {"llm": line}
    assert located(report, "model-serving-labels") == {"llm": line}
    # Limits alone: Kubernetes copies them into the requests.
    assert located(report, "workload-resource-requests") == {}


def test_a_lookup_the_offline_engine_cannot_answer_is_one_located_line(tmp_path: Path) -> None:
    root = shapes.write_project(tmp_path / "p", shapes.GET_FUNCTION)
    done, _report = audit(root, tmp_path)
    line = shapes.line_of(shapes.GET_FUNCTION, "lookup")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        f"dev: __main__.py:{line}: function docker:index/getRegistryImage:getRegistryImage: the offline "
        "engine cannot answer it; audit with `--engine pulumi` (a real preview with its provider)",
    )


def test_an_exception_in_the_program_is_located_there(tmp_path: Path) -> None:
    root = shapes.write_project(tmp_path / "p", shapes.RAISING)
    done, _report = audit(root, tmp_path)
    line = shapes.line_of(shapes.RAISING, "mistake")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        f"dev: __main__.py:{line}: TypeError: ChartOpts.__init__() got an unexpected keyword argument 'path'",
    )
    preview = mlops("--project", str(root), "preview", "dev", cwd=tmp_path)
    assert preview.returncode == 2 and f"__main__.py:{line}: TypeError" in preview.stderr, preview.stderr


def test_a_malformed_project_file_is_bad_input_at_its_line(tmp_path: Path) -> None:
    root = shapes.write_project(tmp_path / "p", shapes.POD_KINDS)
    (root / "Pulumi.yaml").write_text("name: team-web\nruntime: [python\n", encoding="utf-8")
    for args in (("audit", "dev"), ("validate",), ("schema", "--stack-file")):
        done = mlops("--project", str(root), *args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert "Pulumi.yaml:3: YAML syntax error" in done.stderr, (args, done.stderr)


def test_transforms_run_on_the_components_children(tmp_path: Path) -> None:
    """Mocks run no transform; the offline engine calls each through the program's callback server."""
    root = shapes.write_project(tmp_path / "p", shapes.TRANSFORMED)
    done, report = audit(root, tmp_path)
    assert report is not None, done.stderr
    line = f"__main__.py:{shapes.line_of(shapes.TRANSFORMED, 'child')}"
    assert located(report, "image-no-latest-tag") == {"w-d": line}
    messages = [
        v["message"] for v in report["environments"][0]["violations"] if v["policy"] == "image-no-latest-tag"
    ]
    assert messages == ['container "c" image "nginx:edge" uses the mutable "edge" tag']
