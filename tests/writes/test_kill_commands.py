"""Each writing command killed (SIGKILL) at random points: its files are whole (old or new) or absent.

The atomic-write helper itself is killed 300 times in ``test_atomic_write.py``; here the commands as
users run them, fewer times each (every run starts an interpreter): `schema -o --force`, `init`
(rollback and promote: ``tests/registry/test_edit_safety.py``).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_platform.tools.atomic_write import TMP_MARK
from tests.cli_runner import REPO

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "mlops_platform.tools.cli"]


def _runtime(args: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(args, cwd=REPO, capture_output=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def _kill_at(args: list[str], delay_s: float) -> None:
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay_s)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_schema_output_killed_is_old_or_new(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    args = [*CLI, "schema", "-o", str(target), "--force"]
    old = b'{"old": true}\n'
    target.write_bytes(old)
    runtime = _runtime(args)
    new = target.read_bytes()
    rng = random.Random(25)
    for _ in range(30):
        target.write_bytes(old)
        _kill_at(args, rng.uniform(0.6, 1.1) * runtime)
        assert target.read_bytes() in (old, new)
    _runtime(args)  # the next run removes what the killed ones left
    assert [p.name for p in tmp_path.iterdir()] == ["schema.json"]


def test_init_killed_leaves_whole_files_or_none(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    _runtime([*CLI, "init", str(reference), "--name", "kill"])
    expected = {p.relative_to(reference): p.read_bytes() for p in reference.rglob("*") if p.is_file()}
    runtime = _runtime([*CLI, "init", str(tmp_path / "timing"), "--name", "kill"])
    rng = random.Random(25)
    for n in range(30):
        project = tmp_path / f"p{n}"
        _kill_at([*CLI, "init", str(project), "--name", "kill"], rng.uniform(0.6, 1.1) * runtime)
        for path in project.rglob("*") if project.exists() else []:
            if path.is_file() and TMP_MARK not in path.name:
                assert path.read_bytes() == expected[path.relative_to(project)], path
