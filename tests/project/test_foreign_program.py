"""``mlops audit --project DIR`` on a Pulumi program of one's own that uses two of the library's components.

The program is not the platform program: it builds a ``StorageStack`` and a ``ServingStack`` from its
own arguments, and its stack file holds no spec. The project has its own ``components`` package, as
a platform team's may: the library imports only through ``mlops_platform`` and never clashes with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_platform.tools.policy_config import BUNDLED_PACKS_DIR
from tests.cli_runner import mlops

PROGRAM = '''"""A platform team's own program: storage and serving only, from the library's components."""

import pulumi

from components.naming import team_namespace  # the project's own package named `components`
from mlops_platform.components.args import (
    BucketArgs,
    CredentialArgs,
    DatabaseArgs,
    ModelGovernance,
    ModelSlo,
    ModelSource,
    ModelSpec,
    ObjectStoreArgs,
    Ownership,
    ServingArgs,
    StorageArgs,
    Target,
)
from mlops_platform.components.serving import ServingStack
from mlops_platform.components.storage import StorageStack

config = pulumi.Config()
owner = Ownership(
    owner="team-b@example.com",
    team="team-b",
    cost_centre="cc-2",
    environment=pulumi.get_stack(),
    tier="staging",
)
storage = StorageStack(
    "storage",
    StorageArgs(
        target=Target.KUBERNETES,
        ownership=owner,
        namespace=team_namespace("team-b"),
        credentials=CredentialArgs(seed=config.require_secret("credentialSeed")),
        data_classification_ceiling="internal",
        object_store=ObjectStoreArgs(
            image="quay.io/minio/minio:RELEASE.2024-08-17T01-24-54Z",
            size_gib=5,
            buckets=[BucketArgs(name="models")],
        ),
        database=DatabaseArgs(image="docker.io/library/postgres:16.4-alpine", version="16.4", size_gib=5),
    ),
)
serving = ServingStack(
    "serving",
    ServingArgs(
        target=Target.KUBERNETES,
        ownership=owner,
        namespace=storage.namespace,
        registry_uri=config.require("registryUri"),
        models=[
            ModelSpec(
                name="ranker",
                image="ghcr.io/acme-ml/ranker:2.0.0",
                model_uri="models:/ranker/7",
                model_source=ModelSource.REGISTRY_VERSION,
                version_label="7",
                governance=ModelGovernance(
                    owner="team-b@example.com", risk_tier="minimal", data_classification="internal"
                ),
                slo=ModelSlo(p99_latency_ms=200, error_rate=0.01),
                replicas_min=2,
                replicas_max=4,
            )
        ],
    ),
)
pulumi.export("rankerUrl", serving.urls["ranker"])
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "team-b"
    (root / "components").mkdir(parents=True)
    (root / "components" / "__init__.py").write_text("", encoding="utf-8")
    (root / "components" / "naming.py").write_text(
        "def team_namespace(team: str) -> str:\n    return f'{team}-ml'\n", encoding="utf-8"
    )
    (root / "components" / "args.py").write_text("RAISE = 1 / 0  # never imported\n", encoding="utf-8")
    (root / "Pulumi.yaml").write_text("name: team-b\nruntime: python\n", encoding="utf-8")
    (root / "__main__.py").write_text(PROGRAM, encoding="utf-8")
    (root / "Pulumi.qa.yaml").write_text(
        "config:\n  team-b:registryUri: http://mlflow.team-b-ml.svc:5000\n", encoding="utf-8"
    )
    return root


def _report(done_stdout: str) -> dict:
    """The report's one environment, with the run-level rule catalogue beside it."""
    document = json.loads(done_stdout)
    (report,) = document["environments"]
    assert report["environment"] == "qa"
    return {**report, "rules": document["rules"]}


@pytest.mark.slow
def test_a_program_of_ones_own_is_audited_with_the_bundled_packs(project: Path, tmp_path: Path) -> None:
    done = mlops("audit", "qa", "--project", str(project), "-f", "json", cwd=tmp_path)
    report = _report(done.stdout)
    packs = {rule["pack"] for rule in report["rules"]}
    # The bundled packs, and the bundled registry rules (offline: every image pair "not verified").
    assert packs == {"mlops-security", "mlops-reliability", "mlops-governance", "supply-chain"}
    assert report["summary"]["resources"] > 10 and report["summary"]["checks"] > 0
    urns = {v["urn"] for v in report["violations"]}
    assert all("::team-b::" in urn for urn in urns)
    # One stack rule spans layers: serving without monitoring is reported, not silently passed.
    assert any(v["policy"] == "model-monitoring-coverage" for v in report["violations"]), report["violations"]
    assert done.returncode == (0 if report["passed"] else 1), done.stderr


@pytest.mark.slow
def test_the_program_registers_both_components(project: Path) -> None:
    done = mlops("preview", "qa", "-f", "json", cwd=project)
    assert done.returncode == 0, done.stderr
    types = {r["type"] for r in json.loads(done.stdout)["resources"]}
    assert {
        "mlops:storage:StorageStack",
        "mlops:serving:ServingStack",
        "mlops:serving:ModelEndpoint",
    } <= types
    assert "kubernetes:apps/v1:Deployment" in types


@pytest.mark.slow
def test_pack_names_the_packs_to_run(project: Path, tmp_path: Path) -> None:
    security = BUNDLED_PACKS_DIR / "mlops-security"
    done = mlops(
        "audit", "qa", "--project", str(project), "--pack", str(security), "-f", "json", cwd=tmp_path
    )
    assert {rule["pack"] for rule in _report(done.stdout)["rules"]} == {"mlops-security"}


def test_pack_must_be_a_policy_pack(project: Path, tmp_path: Path) -> None:
    done = mlops("audit", "qa", "--project", str(project), "--pack", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"--pack: {tmp_path}: not a policy pack (no PulumiPolicy.yaml)"
