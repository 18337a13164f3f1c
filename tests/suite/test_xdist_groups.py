"""README's test command schedules with ``--dist loadgroup``: every ``xdist_group`` runs in one worker.

The suite depends on it (one control plane per group, the node tests in file order before the
session's node). pytest 9.2.0 with pytest-xdist 3.8.0 silently broke it (the group suffix no longer
reached the nodeid) and each group ran split across the workers; this runs a small suite the same way
and checks where each test ran.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TEST_FILE = """
import os, time
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("together")]


@pytest.mark.parametrize("i", range(3))
def test_{name}(i: int) -> None:
    time.sleep(0.2)
    with open(os.environ["WHERE"], "a") as log:
        log.write(f"{{os.environ['PYTEST_XDIST_WORKER']}} {name} {{i}}\\n")
"""


def test_an_xdist_group_runs_in_one_worker_in_file_order(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"test_{name}.py").write_text(TEST_FILE.format(name=name), encoding="utf-8")
    for name in ("d", "e", "f"):  # ungrouped tests that keep the other worker busy
        (tmp_path / f"test_{name}.py").write_text(f"def test_{name}() -> None:\n    pass\n", encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers = slow: grouped\n", encoding="utf-8")
    where = tmp_path / "where.log"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "WHERE": str(where)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = [line.split() for line in where.read_text(encoding="utf-8").splitlines()]
    assert len({worker for worker, _name, _i in runs}) == 1, runs
    assert [(name, int(i)) for _w, name, i in runs] == [(n, i) for n in "abc" for i in range(3)]
