"""One stack per layer: storage -> registry -> serving -> monitoring, wired by StackReferences.

The offline audit runs the layer stacks in order; each ``StackReference`` reads the outputs its
upstream layer's capture exported. Split, the environment registers the very same resources with the
very same inputs as in one stack, credentials crossing stacks as secrets.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_platform.stacks.loader import SpecError, load_environment
from mlops_platform.tools.engine.audit import audit_environment, audit_split_environment, capture_environment
from mlops_platform.tools.engine.capture import Capture, StackReferenceError, capture_program
from mlops_platform.tools.engine.config import load_stack_config
from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.project import Project

REPO = Path(__file__).resolve().parents[2]
PROJECT = Project.load(REPO)
ROOT = "pulumi:pulumi:Stack"


def _norm(urn: str) -> str:
    return re.sub(r"^urn:pulumi:[^:]+::", "urn:pulumi:STACK::", urn)


@pytest.fixture(scope="module")
def prod_split() -> list[tuple[Capture, AuditResult]]:
    return audit_split_environment(PROJECT.stack_file("prod"), project=PROJECT)


@pytest.mark.slow
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_split_registers_the_same_resources_with_the_same_inputs(env: str) -> None:
    single = capture_environment(PROJECT.stack_file(env), project=PROJECT)
    split = [c for c, _ in audit_split_environment(PROJECT.stack_file(env), project=PROJECT, packs=[])]
    assert [c.environment for c in split] == [
        f"{env}-storage",
        f"{env}-registry",
        f"{env}-serving",
        f"{env}-monitoring",
    ]
    one = {_norm(r.urn): r.inputs for r in single.resources if r.type != ROOT}
    four = {_norm(r.urn): r.inputs for c in split for r in c.resources if r.type != ROOT}
    assert set(four) == set(one) and len(one) > 30
    assert [urn for urn in one if one[urn] != four[urn]] == []


@pytest.mark.slow
def test_credentials_cross_stacks_as_secrets(prod_split: list[tuple[Capture, AuditResult]]) -> None:
    storage, registry = prod_split[0][0], prod_split[1][0]
    assert storage.secret_outputs == {"databaseUrl", "objectStoreAccessKey", "objectStoreSecretKey"}
    url = storage.exported["databaseUrl"]
    assert (
        url.startswith("postgresql+psycopg2://") and url in registry.secret_values
    )  # still a secret downstream
    assert "postgresql+psycopg2://" not in str(storage.outputs)  # reports show the outputs redacted
    for capture, _ in prod_split:
        assert all(url not in str(r.inputs) for r in capture.resources if "Secret" not in r.type)


def _findings(results: list[AuditResult]) -> set[tuple[str, str, str, str]]:
    return {(f.policy, _norm(f.urn), f.message, f.enforcement.value) for r in results for f in r.findings}


@pytest.mark.slow
def test_split_prod_audits_with_the_same_findings(prod_split: list[tuple[Capture, AuditResult]]) -> None:
    single = audit_environment(PROJECT.stack_file("prod"), project=PROJECT)
    assert _findings([r for _, r in prod_split]) == _findings([single])
    stack_rules = {m.name for m in single.policies if m.stack_level}
    judged = {c.policy for c in prod_split[-1][1].checks if c.policy in stack_rules}
    assert judged == {c.policy for c in single.checks if c.policy in stack_rules} != set()


@pytest.mark.slow
def test_a_relation_broken_across_layers_is_still_found(tmp_path: Path) -> None:
    """Drift checks off for a high-risk model: the serving stack has the model, monitoring has no job."""
    text = (REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8")
    canary = "        canary:\n          version: 41"
    broken = text.replace(canary, "        drift: {enabled: false}\n" + canary, 1)
    assert broken != text
    (tmp_path / "Pulumi.prod.yaml").write_text(broken, encoding="utf-8")
    single = audit_environment(tmp_path / "Pulumi.prod.yaml", project=PROJECT)
    split = [r for _, r in audit_split_environment(tmp_path / "Pulumi.prod.yaml", project=PROJECT)]
    assert {f[0] for f in _findings([single])} >= {"model-drift-check"}
    assert _findings(split) == _findings([single])


def test_a_layer_stack_needs_its_upstream_captured() -> None:
    config = load_stack_config(PROJECT.stack_file("dev"), project=PROJECT.name)
    serving = config.with_layer("dev-serving", {"mlops-platform:layer": "serving"}, {})
    with pytest.raises(StackReferenceError) as caught:
        capture_program(PROJECT.program, serving)
    assert str(caught.value) == "StackReference to stack 'dev-registry': no outputs of it (known: none)"


def test_layer_keys_are_checked_with_the_spec(tmp_path: Path) -> None:
    text = (REPO / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    broken = text + "  mlops-platform:layer: frontend\n  mlops-platform:layerStacks: {storage: 'a b'}\n"
    (tmp_path / "Pulumi.dev.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_environment(tmp_path / "Pulumi.dev.yaml")
    lines = len(text.splitlines())
    assert [str(p).removeprefix(str(tmp_path) + "/") for p in caught.value.problems] == [
        f"Pulumi.dev.yaml:{lines + 1}: mlops-platform:layer: layer: must be one of storage, registry, "
        "serving, monitoring (got 'frontend')",
        f"Pulumi.dev.yaml:{lines + 2}: mlops-platform:layerStacks: layerStacks.storage: must be a stack name "
        "such as prod-storage (got 'a b')",
    ]


@pytest.mark.slow
def test_mlops_audit_split_reports_the_environment_as_one_stack_would() -> None:
    import json

    from tests.cli_runner import mlops

    reports = []
    for extra in ((), ("--split",)):
        done = mlops("audit", "dev", *extra, "-f", "json")
        assert done.returncode == 0, done.stderr
        (audited,) = json.loads(done.stdout)["environments"]
        reports.append(audited)
    one, four = reports
    assert four["environment"] == one["environment"] == "dev"
    keep = ("mandatory", "advisory", "waived", "errors", "blocking")
    assert {k: four["summary"][k] for k in keep} == {k: one["summary"][k] for k in keep}
    seen = [
        {(v["policy"], _norm(v["urn"]), v["message"], v["outcome"]) for v in r["violations"]} for r in reports
    ]
    assert seen[0] == seen[1] and seen[0]


def test_split_is_offline_only() -> None:
    from tests.cli_runner import mlops

    done = mlops("audit", "prod", "--split", "--engine", "pulumi")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "--split: the offline engine only (layer stacks on the real engine are not supported)"
    )
