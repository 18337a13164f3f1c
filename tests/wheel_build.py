"""Build the project's wheel from a clean copy of the source tree, as a fresh checkout would.

setuptools builds in place (``build/lib``) and packs whatever that directory holds: a wheel built
in the repository after files moved keeps the old ones, and two tests building at once race on it.
So each build starts from a copy of the files git sees (tracked, and new ones not ignored), symlinks
kept as symlinks (``mlops_platform/components -> ../components``...).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def source_copy(target: Path) -> Path:
    """Copy the working tree's source files (what git lists, deleted ones left out) into ``target``."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        relative = Path(raw.decode())
        source = REPO / relative
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the working tree, not yet committed
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)
    return target


def build_wheel(work: Path) -> Path:
    """The wheel of the working tree, built (build isolation on) in ``work``; returns its path."""
    tree = source_copy(work / "src")
    out = work / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(tree)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("mlops_platform-*.whl")
    return wheel
