"""promote and rollback write only a file that validates, only the chosen project's, and never lose a change.

Offline: the registry is a snapshot file written by hand (``tests/registry/snapshots.py``), read with
``--registry-snapshot``; the endpoint is never contacted (``http://127.0.0.1:9``, the discard port).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_platform.tools.atomic_write import TMP_MARK
from tests.cli_runner import REPO, kill_tree, mlops
from tests.registry.envs import registry_env
from tests.registry.snapshots import bundled_models, record, write_snapshot

URI = "http://127.0.0.1:9"
STABLE = "model: {name: fraud-scorer, alias: champion}"
STAGING_STABLE = "model: {name: fraud-scorer, alias: challenger}"
CANARY = "          alias: challenger\n          weight: 10"


def prod_and_snapshot(root: Path, *, fraud_versions: int = 4) -> tuple[Path, Path]:
    return registry_env(root, "prod", URI), bundled_models(
        URI, root / "snapshot.json", fraud_versions=fraud_versions
    )


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if TMP_MARK in p.name)


def test_rollback_in_another_project_writes_that_projects_file(tmp_path: Path) -> None:
    """`mlops -C projB rollback` from projA: projB's file (a project named team-a), projA's untouched."""
    assert mlops("init", str(tmp_path / "projA")).returncode == 0
    assert mlops("init", str(tmp_path / "projB"), "--name", "team-a").returncode == 0
    theirs = tmp_path / "projB" / "stacks" / "Pulumi.prod.yaml"
    text = theirs.read_text().replace(
        "    data_classification_ceiling: internal\n",
        f"    data_classification_ceiling: internal\n    registry_source:\n      tracking_uri: {URI}\n",
    )
    theirs.write_text(text.replace("        version: 1\n", "        version: 3\n"))
    before = theirs.read_text()
    ours = tmp_path / "projA" / "stacks" / "Pulumi.prod.yaml"
    ours_before = ours.read_text()
    snapshot = write_snapshot(
        tmp_path / "snapshot.json",
        {"example-model": ({}, [record("example-model", v) for v in (1, 2, 3)])},
        URI,
    )
    args = (
        "-C",
        "../projB",
        "rollback",
        "example-model",
        "prod",
        "--registry-snapshot",
        str(snapshot),
        "--yes",
    )
    done = mlops(*args, cwd=tmp_path / "projA")
    assert done.returncode == 0, done.stderr
    assert "example-model: prod serves version 3 (version:3); rolling back to 2" in done.stdout
    assert theirs.read_text() == before.replace("        version: 3\n", "        version: 2\n")
    assert ours.read_text() == ours_before
    assert leftovers(tmp_path) == []


def test_rollback_to_the_canarys_version_is_refused_and_nothing_written(tmp_path: Path) -> None:
    prod, snapshot = prod_and_snapshot(tmp_path)
    prod.write_text(prod.read_text().replace(CANARY, "          version: 2\n          weight: 10"))
    original = prod.read_text()
    refused = mlops("rollback", "fraud-scorer", str(prod), "--registry-snapshot", str(snapshot), "--yes")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip() == (
        "error: environment prod: the canary of 'fraud-scorer' serves version 2 (its version): the stable "
        "track cannot serve the same version; end the canary (remove canary:) or move it first"
    )
    assert prod.read_text() == original
    assert leftovers(tmp_path) == []


def test_an_edit_that_would_not_validate_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last check before a write: the edited text must pass what `mlops validate` checks."""
    import typer

    from mlops_platform.stacks.loader import load_environment
    from mlops_platform.tools.atomic_write import read_for_edit, scratch_dir
    from mlops_platform.tools.cli_registry import _Change, _checked, _Env

    prod, _snapshot = prod_and_snapshot(tmp_path)
    env = _Env(prod, load_environment(prod), None)
    read = read_for_edit(prod)
    change = _Change(read, read.text.replace(STABLE, "model: {name: fraud-scorer, version: 0}"))
    with scratch_dir(prod, "rollback") as scratch, pytest.raises(typer.Exit) as stopped:
        _checked(env, change, scratch)
    assert stopped.value.exit_code == 2
    lines = capsys.readouterr().err.splitlines()
    assert (
        lines[0].startswith(f"{prod}:30: serving.models[0].model.version: ")
        and "greater than or equal to 1" in lines[0]
    )
    assert lines[-1] == f"error: {prod}: the pinned file would not validate (shown above); nothing written"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (-5, "version must be a positive integer below 10^18, not -5"),
        (True, "version must be a positive integer, not bool 'True'"),
        (1e400, "version must be a positive integer, not float 'inf'"),
        ("9" * 5000, "version must be a positive integer, not '" + "9" * 40 + "'"),
    ],
)
def test_a_snapshot_with_a_bad_version_is_exit_2(tmp_path: Path, version: object, reason: str) -> None:
    prod, snapshot = prod_and_snapshot(tmp_path)
    document = json.loads(snapshot.read_text())
    document["models"]["fraud-scorer"]["versions"]["1"]["version"] = version
    snapshot.write_text(json.dumps(document))  # 1e400 is written as Infinity, read back as inf
    original = prod.read_text()
    result = mlops("rollback", "fraud-scorer", str(prod), "--registry-snapshot", str(snapshot), "--yes")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f'error: snapshot {snapshot}: model "fraud-scorer": malformed entry ({reason})'
    )
    assert prod.read_text() == original


def test_an_endless_snapshot_file_is_bounded(tmp_path: Path) -> None:
    prod, _snapshot = prod_and_snapshot(tmp_path)
    started = time.monotonic()
    result = mlops("rollback", "fraud-scorer", str(prod), "--registry-snapshot", "/dev/zero")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: snapshot /dev/zero: larger than 64 MiB (a snapshot's limit)"
    audit = mlops("audit", "dev", "--registry-snapshot", "/dev/zero")
    assert audit.returncode == 2
    assert (
        audit.stderr.strip()
        == "error: --registry-snapshot: snapshot /dev/zero: larger than 64 MiB (a snapshot's limit)"
    )
    assert time.monotonic() - started < 120  # it reads 64 MiB and stops, it does not fill the memory


def test_promote_to_the_same_environment_is_refused(tmp_path: Path) -> None:
    prod, snapshot = prod_and_snapshot(tmp_path)
    result = mlops(
        "promote",
        "fraud-scorer",
        "--from",
        str(prod),
        "--to",
        str(prod),
        "--registry-snapshot",
        str(snapshot),
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "error: --from and --to are the same environment (prod): nothing to promote"
    )


def test_a_promotion_that_downgrades_is_refused_unless_asked(tmp_path: Path) -> None:
    prod, snapshot = prod_and_snapshot(tmp_path)
    staging = registry_env(tmp_path, "staging", URI)
    staging.write_text(
        staging.read_text().replace(
            "model: {name: fraud-scorer, alias: challenger}", "model: {name: fraud-scorer, version: 2}"
        )
    )
    original = prod.read_text()
    args = (
        "promote",
        "fraud-scorer",
        "--from",
        str(staging),
        "--to",
        str(prod),
        "--registry-snapshot",
        str(snapshot),
        "--yes",
    )
    refused = mlops(*args)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"error: {prod} serves version 3 of fraud-scorer, newer than 2: a promotion would downgrade it; "
        "pass --allow-downgrade to pin the older version (or use mlops rollback)"
    )
    assert prod.read_text() == original
    allowed = mlops(*args, "--allow-downgrade")
    assert allowed.returncode == 0, allowed.stderr
    assert prod.read_text() == original.replace(STABLE, "model: {name: fraud-scorer, version: 2}")
    assert leftovers(tmp_path) == []


def test_a_promotion_making_stable_equal_the_canary_is_exit_2(tmp_path: Path) -> None:
    prod, snapshot = prod_and_snapshot(tmp_path)
    prod.write_text(prod.read_text().replace(CANARY, "          version: 4\n          weight: 10"))
    staging = registry_env(tmp_path, "staging", URI)
    staging.write_text(staging.read_text().replace(STAGING_STABLE, "model: {name: fraud-scorer, version: 4}"))
    original = prod.read_text()
    args = ("--from", str(staging), "--to", str(prod), "--registry-snapshot", str(snapshot), "--yes")
    result = mlops("promote", "fraud-scorer", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "error: environment prod: the canary of 'fraud-scorer' serves version 4 (its version): the stable "
        "track cannot serve the same version; end the canary (remove canary:) or move it first"
    )
    assert prod.read_text() == original


def test_a_promotion_onto_the_canarys_resolved_version_is_exit_2(tmp_path: Path) -> None:
    """staging serves challenger (4), prod's canary is alias challenger (4): not an internal error."""
    prod, snapshot = prod_and_snapshot(tmp_path)
    staging = registry_env(tmp_path, "staging", URI)
    original = prod.read_text()
    args = ("--from", str(staging), "--to", str(prod), "--registry-snapshot", str(snapshot), "--yes")
    result = mlops("promote", "fraud-scorer", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "error: environment prod: the canary of 'fraud-scorer' serves version 4 (alias 'challenger'): the "
        "stable track cannot serve the same version; end the canary (remove canary:) or move it first"
    )
    assert prod.read_text() == original


def test_a_model_shared_through_an_anchor_is_refused_with_the_reason(tmp_path: Path) -> None:
    prod, snapshot = prod_and_snapshot(tmp_path)
    text = prod.read_text().replace(STABLE, "model: &fraud {name: fraud-scorer, alias: champion}", 1)
    text = text.replace("model: {name: recommender, alias: champion}", "model: *fraud")
    assert "model: *fraud" in text
    prod.write_text(text)
    result = mlops("rollback", "fraud-scorer", str(prod), "--registry-snapshot", str(snapshot), "--yes")
    assert result.returncode == 2
    assert "is shared with another place through a YAML anchor" in result.stderr
    assert "pass --shared-anchor to change every place that shares it" in result.stderr
    assert prod.read_text() == text


def test_an_edit_made_during_promotes_gate_is_not_overwritten(tmp_path: Path) -> None:
    """An editor saves the stack file while promote audits it: promote refuses, the edit stays.

    The promote is stopped (SIGSTOP) as soon as it shows its diff, i.e. after it read the file; the
    edit is made, then it continues. A run that had already written by then proves nothing: retried.
    """
    prod, snapshot = prod_and_snapshot(tmp_path, fraud_versions=6)
    prod.write_text(prod.read_text().replace(CANARY, "          version: 6\n          weight: 10"))
    original = prod.read_text()
    staging = registry_env(tmp_path, "staging", URI)
    staging.write_text(staging.read_text().replace(STAGING_STABLE, "model: {name: fraud-scorer, version: 5}"))
    args = ("--from", str(staging), "--to", str(prod), "--registry-snapshot", str(snapshot), "--yes")
    for _attempt in range(5):
        prod.write_text(original)
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops_platform.tools.cli", "promote", "fraud-scorer", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"},  # each line as it is printed
        )
        assert process.stdout is not None
        for line in process.stdout:  # the diff is printed once the file is read, before the gate
            if line.startswith("+        model: {name: fraud-scorer, version: 5}"):
                process.send_signal(signal.SIGSTOP)
                break
        else:
            pytest.fail(f"promote ended before showing its diff: {process.communicate()[1]}")
        if prod.read_text() != original:  # it wrote before it was stopped
            process.send_signal(signal.SIGCONT)
            process.communicate(timeout=600)
            continue
        edited = original + "# saved by an editor during the promotion\n"
        prod.write_text(edited)
        process.send_signal(signal.SIGCONT)
        _out, err = process.communicate(timeout=600)
        assert process.returncode == 2, err
        assert err.splitlines()[-1] == (
            f"error: {prod}: changed since this command read it (another command or an editor wrote it); "
            "run it again; nothing written"
        )
        assert prod.read_text() == edited
        assert leftovers(tmp_path) == []
        return
    pytest.fail("in 5 runs, promote always wrote before it could be stopped after its diff")


@pytest.mark.slow
def test_rollback_killed_at_random_points_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    prod, snapshot = prod_and_snapshot(tmp_path)
    old = prod.read_bytes()
    new = old.replace(STABLE.encode(), b"model: {name: fraud-scorer, version: 2}")
    args = [
        sys.executable,
        "-m",
        "mlops_platform.tools.cli",
        "rollback",
        "fraud-scorer",
        str(prod),
        "--registry-snapshot",
        str(snapshot),
        "--yes",
    ]
    started = time.monotonic()
    assert subprocess.run(args, cwd=REPO, capture_output=True, check=False).returncode == 0
    runtime = time.monotonic() - started
    rng = random.Random(25)
    seen = {old: 0, new: 0}
    for _ in range(40):
        prod.write_bytes(old)
        process = subprocess.Popen(
            args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(rng.uniform(0.5, 1.1) * runtime)
        kill_tree(process)  # and what it started
        data = prod.read_bytes()
        assert data in seen, f"{len(data)} bytes: neither the old file nor the new"
        seen[data] += 1
    assert subprocess.run(args, cwd=REPO, capture_output=True, check=False).returncode in (0, 2)
    assert leftovers(tmp_path) == []


def test_promotion_between_registries_refuses_another_artifact_under_the_same_number(tmp_path: Path) -> None:
    """staging's registry and prod's both have "version 2" of fraud-scorer, from different runs."""
    from mlops_platform.stacks.loader import load_environment
    from mlops_platform.tools.registry.lookup import SnapshotLookup
    from mlops_platform.tools.registry.promotion import PromotionError, same_artifact, served

    prod = registry_env(tmp_path, "prod", URI)
    staging = registry_env(tmp_path, "staging", "http://127.0.0.1:10")
    ours = bundled_models(URI, tmp_path / "prod-registry.json")
    theirs = write_snapshot(
        tmp_path / "staging-registry.json",
        {
            "fraud-scorer": (
                {"challenger": 2},
                [record("fraud-scorer", v, run=f"other-run-{v}") for v in (1, 2)],
            )
        },
        "http://127.0.0.1:10",
    )
    source, target = SnapshotLookup(theirs), SnapshotLookup(ours)
    resolution = served(load_environment(staging), "fraud-scorer", source)
    with pytest.raises(PromotionError) as refused:
        same_artifact(resolution, source, load_environment(prod), "fraud-scorer", 2, target)
    assert str(refused.value) == (
        f'version 2 of "fraud-scorer" in snapshot:{ours} is another artifact than version 2 of '
        f"\"fraud-scorer\" (run 'run-fraud-scorer-2' there, 'other-run-2' in snapshot:{theirs}): register "
        "that model in the target's registry and pin the version it gets there"
    )
    same = SnapshotLookup(bundled_models(URI, tmp_path / "copy.json"))  # the same runs: accepted
    same_artifact(
        served(load_environment(prod), "fraud-scorer", same),
        same,
        load_environment(prod),
        "fraud-scorer",
        3,
        target,
    )
