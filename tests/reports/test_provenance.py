"""Provenance: the code, packs and inputs behind a report, and reports that reproduce byte for byte."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from mlops_platform.tools.policy_config import discover_packs
from mlops_platform.tools.provenance import (
    collect_provenance,
    git_state,
    input_file,
    pack_source,
)
from tests.cli_runner import mlops

REPO = Path(__file__).resolve().parents[2]


def test_provenance_of_this_checkout() -> None:
    from datetime import date

    spec = REPO / "stacks" / "Pulumi.prod.yaml"
    recorded = collect_provenance(
        engine="offline",
        as_of=date(2026, 12, 1),
        packs=discover_packs(),
        inputs=[
            input_file("spec", spec, REPO, "prod"),
            input_file("waivers", REPO / "no-such-waivers.yaml", REPO),
        ],
        root=REPO,
    )
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    assert recorded.commit == head.stdout.strip()
    assert isinstance(recorded.dirty, bool)
    assert recorded.as_of == "2026-12-01"
    assert recorded.versions["pulumi"] == version("pulumi")
    assert recorded.versions["pulumi-policy"] == version("pulumi-policy")
    assert {"mlops-platform", "pulumi-kubernetes", "pulumi-docker"} <= set(recorded.versions)
    assert [p.name for p in recorded.packs] == ["mlops-governance", "mlops-reliability", "mlops-security"]
    assert all(p.version == "1.0.0" and p.files >= 3 for p in recorded.packs)
    by_role = {f.role: f for f in recorded.inputs}
    assert by_role["spec"].path == "stacks/Pulumi.prod.yaml", (
        "relative to the repository: stable across checkouts"
    )
    assert by_role["spec"].sha256 == hashlib.sha256(spec.read_bytes()).hexdigest()
    assert by_role["waivers"].sha256 is None, "a missing file is recorded as missing"


def test_a_pack_hash_follows_its_sources(tmp_path: Path) -> None:
    pack = tmp_path / "mlops-security"
    shutil.copytree(REPO / "policies" / "mlops-security", pack, ignore=shutil.ignore_patterns("__pycache__"))
    before = pack_source(pack)
    assert before == pack_source(pack), "deterministic"
    (pack / "__pycache__").mkdir()
    (pack / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert pack_source(pack) == before, "caches are not sources"
    (pack / "__main__.py").write_text((pack / "__main__.py").read_text() + "\n# changed\n")
    assert pack_source(pack).sources_sha256 != before.sources_sha256


def test_outside_git_the_commit_is_unknown(tmp_path: Path) -> None:
    assert git_state(tmp_path) == (None, None)


STAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.mark.slow
def test_two_runs_on_the_same_inputs_give_identical_reports_but_the_generation_time(tmp_path: Path) -> None:
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / run
        args = ["audit", "dev", "--today", "2026-12-01", "-o", str(out)]
        for fmt in ("json", "html", "markdown", "text", "sarif", "junit"):
            args += ["-f", fmt]
        result = mlops(*args, timeout_s=600)
        assert result.returncode == 0, result.stderr
        outputs.append({p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir())})
    first, second = outputs
    assert sorted(first) == sorted(second) and len(first) == 6
    doc = json.loads(first["mlops-audit.json"])
    stamp = doc["provenance"]["generated_at"]
    assert doc["provenance"]["as_of"] == "2026-12-01"
    assert {f["path"] for f in doc["provenance"]["inputs"]} >= {
        "stacks/Pulumi.dev.yaml",
        "stacks/defaults.yaml",
        "policies/config/tiers/dev.json",
        "policies/waivers.yaml",
    }
    for name in first:
        # The timestamp is the only difference allowed: each report carries it, none any other.
        assert STAMP_RE.findall(first[name]) == [stamp] * len(STAMP_RE.findall(first[name])), name
        other = json.loads(second["mlops-audit.json"])["provenance"]["generated_at"]
        assert first[name] == second[name].replace(other, stamp), name
