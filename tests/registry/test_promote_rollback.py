"""`mlops promote` and `mlops rollback` against a real MLflow server: diff, --yes, comments intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import mlops
from tests.registry.conftest import Registry
from tests.registry.envs import approved, registry_env

pytestmark = pytest.mark.slow


def seed(registry: Registry, *, challenger_ref: str = "MRM-2026-014") -> None:
    """fraud-scorer v1 champion (prod), v2 challenger (what staging serves); the others compliant."""
    registry.run(
        {
            "op": "version",
            "model": "fraud-scorer",
            "tags": approved("MRM-2026-014"),
            "metrics": {"auc": 0.95},
            "aliases": ["champion"],
        },
        {
            "op": "version",
            "model": "fraud-scorer",
            "tags": approved(challenger_ref),
            "metrics": {"auc": 0.96},
            "aliases": ["challenger"],
        },
        {
            "op": "version",
            "model": "fraud-scorer",
            "tags": approved("MRM-2026-014"),
            "metrics": {"auc": 0.97},
        },
        {"op": "alias", "model": "fraud-scorer", "alias": "challenger", "version": 3},
        {"op": "alias", "model": "fraud-scorer", "alias": "staging-stable", "version": 2},
        {
            "op": "version",
            "model": "churn-predictor",
            "tags": approved("MRM-2026-021"),
            "metrics": {"auc": 0.84},
        },
        {
            "op": "version",
            "model": "churn-predictor",
            "tags": approved("MRM-2026-021"),
            "metrics": {"auc": 0.86},
        },
        {"op": "version", "model": "recommender", "tags": approved("MRM-2026-030"), "aliases": ["champion"]},
    )


def envs(registry: Registry, root: Path) -> tuple[Path, Path]:
    """staging serving fraud-scorer@staging-stable (v2); prod serving champion (v1), challenger v3 canary."""
    staging = registry_env(root, "staging", registry.uri)
    text = staging.read_text().replace(
        "model: {name: fraud-scorer, alias: challenger}", "model: {name: fraud-scorer, alias: staging-stable}"
    )
    staging.write_text(text)
    return staging, registry_env(root, "prod", registry.uri)


def test_promote_shows_the_diff_then_writes_with_yes_keeping_comments(
    registry: Registry, tmp_path: Path
) -> None:
    seed(registry)
    staging, prod = envs(registry, tmp_path)
    original = prod.read_text()
    dry = mlops("promote", "fraud-scorer", "--from", str(staging), "--to", str(prod))
    assert dry.returncode == 0, dry.stderr
    assert (
        f"fraud-scorer: {staging} serves version 2 (alias:staging-stable); pinning it in {prod}" in dry.stdout
    )
    assert (
        "-        model: {name: fraud-scorer, alias: champion}\n"
        "+        model: {name: fraud-scorer, version: 2}" in dry.stdout
    )
    assert "registry rules of" in dry.stderr and "not written: pass --yes to write this change" in dry.stderr
    assert prod.read_text() == original

    done = mlops("promote", "fraud-scorer", "--from", str(staging), "--to", str(prod), "--yes")
    assert done.returncode == 0, done.stderr
    written = prod.read_text()
    expected = original.replace(
        "model: {name: fraud-scorer, alias: champion}", "model: {name: fraud-scorer, version: 2}"
    )
    assert written == expected  # one line changed: every comment, quote and flow mapping kept
    assert written.startswith("# Production: Kubernetes, every image pinned by digest")
    again = mlops("promote", "fraud-scorer", "--from", str(staging), "--to", str(prod))
    assert again.returncode == 0 and "already pinned to version 2" in again.stdout


def test_promote_is_refused_when_the_target_tier_rejects_the_version(
    registry: Registry, tmp_path: Path
) -> None:
    seed(registry, challenger_ref="MRM-2025-999")
    staging, prod = envs(registry, tmp_path)
    original = prod.read_text()
    refused = mlops("promote", "fraud-scorer", "--from", str(staging), "--to", str(prod), "--yes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (
        "model-version-approved: urn:pulumi:prod::mlops-platform::mlops:serving:ServingStack$mlops:serving:"
        "ModelEndpoint$kubernetes:apps/v1:Deployment::serving-fraud-scorer-deployment: version 2 of "
        '"fraud-scorer" is approved under "MRM-2025-999", not the spec\'s "MRM-2026-014" (tag "approval_ref")'
    ) in refused.stderr
    assert (
        "refuses version 2 of fraud-scorer: 1 mandatory registry finding(s); nothing written"
        in refused.stderr
    )
    assert prod.read_text() == original


def test_rollback_pins_the_previous_version(registry: Registry, tmp_path: Path) -> None:
    seed(registry)
    registry.alias("fraud-scorer", "champion", 3)
    _staging, prod = envs(registry, tmp_path)
    original = prod.read_text()
    rolled = mlops("rollback", "fraud-scorer", str(prod), "--yes")
    assert rolled.returncode == 0, rolled.stderr
    assert f"fraud-scorer: {prod} serves version 3 (alias:champion); rolling back to 2" in rolled.stdout
    assert prod.read_text() == original.replace(
        "model: {name: fraud-scorer, alias: champion}", "model: {name: fraud-scorer, version: 2}"
    )
    twice = mlops("rollback", "fraud-scorer", str(prod), "--yes")
    assert twice.returncode == 0 and "serves version 2 (version:2); rolling back to 1" in twice.stdout
    assert "model: {name: fraud-scorer, version: 1}" in prod.read_text()
    last = mlops("rollback", "fraud-scorer", str(prod))
    assert last.returncode == 2
    assert (
        last.stderr.strip()
        == 'error: model "fraud-scorer" has no registered version older than 1 to roll back to'
    )


def test_promote_errors_are_one_line(registry: Registry, tmp_path: Path) -> None:
    seed(registry)
    staging, prod = envs(registry, tmp_path)
    unknown = mlops("promote", "no-such-model", "--from", str(staging), "--to", str(prod))
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "error: environment staging: no model 'no-such-model' (models: fraud-scorer, churn-predictor)"
    )
    bundled = mlops("promote", "fraud-scorer", "--from", "staging", "--to", "prod")
    assert bundled.returncode == 2
    assert bundled.stderr.strip() == (
        "error: environment staging names no registry_source: cannot tell which version alias "
        "'challenger' of 'fraud-scorer' points to"
    )


def test_snapshot_and_rollback_read_every_page_of_a_model_with_over_200_versions(
    registry: Registry, tmp_path: Path
) -> None:
    """Over 200 versions of recommender, one deleted: main kept the first page of 200 in the snapshot."""
    seed(registry)
    made = registry.run(
        *({"op": "version", "model": "recommender", "tags": approved("MRM-2026-030")} for _ in range(202))
    )
    numbers = sorted({1, *(int(r["version"]) for r in made)})
    champion, deleted = numbers[-1], numbers[-2]
    registry.alias("recommender", "champion", champion)
    registry.delete_version("recommender", deleted)
    kept = [n for n in numbers if n != deleted]
    assert len(kept) > 200
    _staging, prod = envs(registry, tmp_path)
    snapshot = tmp_path / "registry.json"
    written = mlops("registry", "snapshot", str(prod), "-o", str(snapshot))
    assert written.returncode == 0, written.stderr
    versions = json.loads(snapshot.read_text())["models"]["recommender"]["versions"]
    assert sorted(map(int, versions)) == kept
    rolled = mlops("rollback", "recommender", str(prod))
    assert rolled.returncode == 0, rolled.stderr
    assert f"serves version {champion} (alias:champion); rolling back to {kept[-2]}" in rolled.stdout


def test_a_snapshot_never_replaces_its_input_or_an_existing_file(registry: Registry, tmp_path: Path) -> None:
    seed(registry)
    _staging, prod = envs(registry, tmp_path)
    original = prod.read_text()
    itself = mlops("registry", "snapshot", str(prod), "-o", str(prod), "--force")
    assert itself.returncode == 2
    assert itself.stderr.strip() == (
        f"mlops: --output: cannot write {prod}: is an input of this command (--output must name another file)"
    )
    assert prod.read_text() == original
    existing = tmp_path / "registry.json"
    existing.write_text("{}\n")
    refused = mlops("registry", "snapshot", str(prod), "-o", str(existing))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"mlops: --output: cannot write {existing}: already exists (pass --force to overwrite it)"
    )
    assert existing.read_text() == "{}\n"
    assert mlops("registry", "snapshot", str(prod), "-o", str(existing), "--force").returncode == 0
    assert json.loads(existing.read_text())["format"] == "mlops-registry-snapshot/1"
