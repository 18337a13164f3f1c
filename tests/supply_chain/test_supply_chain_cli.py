"""`mlops audit --verify-images` and `mlops up`'s gate, in subprocesses as a user runs them.

The bundled prod pins every image by digest; mirrored to the local registry (``environment.images
.mirror``), none of those digests exists there. Without ``--verify-images`` the audit says "not
verified"; ``mlops up`` asks the registries by default and stops before any change when it cannot
prove the images.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli_runner import REPO, mlops
from tests.supply_chain.conftest import Registry

pytestmark = pytest.mark.slow
PROD = REPO / "stacks" / "Pulumi.prod.yaml"


def _mirrored_prod(tmp_path: Path, mirror: str) -> Path:
    config = yaml.safe_load(PROD.read_text(encoding="utf-8"))
    config["config"]["mlops-platform:environment"]["images"] = {"mirror": mirror}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def test_the_offline_audit_says_not_verified_and_passes_nothing_it_did_not_ask() -> None:
    result = mlops("audit", "prod", "-f", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scope"]["supply_chain"] == "not verified"
    (env,) = report["environments"]
    assert env["supply_chain"] == {"consulted": False, "images": []}
    cm14 = next(c for c in env["controls"] if (c["framework"], c["id"]) == ("nist-800-53", "CM-14"))
    assert cm14["status"] == "not-verified"


def test_verify_images_finds_that_no_pinned_digest_exists_in_the_mirror(
    registry: Registry, tmp_path: Path
) -> None:
    spec = _mirrored_prod(tmp_path, registry.address)
    result = mlops("audit", str(spec), "--verify-images", "-f", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    (env,) = report["environments"]
    assert env["supply_chain"]["consulted"] is True
    images = env["supply_chain"]["images"]
    assert images and all(i["reference"].startswith(f"{registry.address}/") for i in images)
    assert all(i["exists"] is False and i["error"] is None for i in images)
    resolves = [v for v in env["violations"] if v["policy"] == "image-digest-resolves"]
    assert resolves and all(v["enforcement"] == "mandatory" for v in resolves)
    assert all(v["message"].endswith("does not exist in its registry") for v in resolves)
    assert all(v["spec"] is not None for v in resolves), "located in the spec like any finding"
    assert report["scope"]["supply_chain"].startswith(
        f"prod: {len(images)} image reference(s) asked, 0 found"
    )


def test_up_asks_the_registries_first_and_stops_before_any_change(tmp_path: Path) -> None:
    """No registry of the bundled prod is reachable here: `up` must not go on as if they were proven."""
    env = {"PATH": str(Path(sys.executable).parent), "MLOPS_TOOLCHAIN_CACHE": str(tmp_path / "empty")}
    result = mlops("up", "prod", "--yes", "--local-state", str(tmp_path / "state"), env=env)
    assert result.returncode == 1, result.stderr
    assert "image references asked of their registries" in result.stderr
    assert "blocking: " in result.stderr and "image-digest-resolves" in result.stderr
    assert "is unreachable" in result.stderr
    assert "stopped by the offline audit before any change" in result.stderr
    assert not (tmp_path / "state").exists()
