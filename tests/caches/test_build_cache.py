"""Every cache the project builds is built once, whole, under a lock; an interrupted build is never used.

Builders here are separate processes, as pytest-xdist workers and concurrent ``mlops toolchain install``
runs are: two at once build once, and one killed halfway leaves nothing that a later build uses or keeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_platform.tools import build_cache

PARTS = 8
BUILDER = """
import json, sys, time
from pathlib import Path
from mlops_platform.tools import build_cache

root, counter, delay = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
PARTS = int(sys.argv[4])

def build(work):
    with counter.open("a") as handle:
        handle.write(f"{__import__('os').getpid()}\\n")
    for i in range(PARTS):
        (work / f"part-{i}").write_text(str(i) * 1000)
        time.sleep(delay)
    return {"parts": PARTS}

def verify(work):
    missing = [i for i in range(PARTS) if not (work / f"part-{i}").is_file()]
    assert not missing, f"missing parts {missing}"

entry = build_cache.ensure(root, "demo", "k1", build, verify=verify, progress=lambda line: None)
print(json.dumps({"path": str(entry.path), "built_now": entry.built_now}))
"""


def _builder(root: Path, counter: Path, delay_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", BUILDER, str(root), str(counter), str(delay_s), str(PARTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate: object, timeout_s: float = 30.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the builder"
        time.sleep(0.05)


def test_two_builders_at_once_build_once_and_a_killed_one_leaves_nothing(tmp_path: Path) -> None:
    root, counter = tmp_path / "cache", tmp_path / "builds-started"
    builds = root / build_cache.BUILDS

    killed = _builder(root, counter, 0.3)
    _wait_for(lambda: any(builds.glob("demo-k1.*/part-3")))
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    assert build_cache.lookup(root, "demo", "k1") is None, "a half-built entry was published"
    assert len(list(builds.glob("demo-k1.*"))) == 1  # the half build is there, to be cleaned

    first, second = _builder(root, counter, 0.05), _builder(root, counter, 0.05)
    answers = []
    for process in (first, second):
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        answers.append(json.loads(out))

    assert {a["path"] for a in answers} == {str(root / "demo-k1")}
    assert sorted(a["built_now"] for a in answers) == [False, True], answers
    assert len(counter.read_text().split()) == 2, "the killed build and exactly one more"
    entry = build_cache.lookup(root, "demo", "k1")
    assert entry is not None and entry.manifest["parts"] == PARTS and entry.manifest["file_count"] == PARTS
    assert sorted(p.name for p in entry.path.iterdir()) == sorted(
        [build_cache.MANIFEST, *(f"part-{i}" for i in range(PARTS))]
    )
    leftovers = [p for p in builds.iterdir() if p.resolve() != entry.path.resolve()]
    assert leftovers == [], leftovers
    assert [p.name for p in root.iterdir() if p.name.startswith(".link-")] == []


def test_a_build_that_fails_its_check_publishes_nothing_and_leaves_nothing(tmp_path: Path) -> None:
    def build(work: Path) -> None:
        (work / "half").write_text("x")

    def verify(work: Path) -> None:
        raise ValueError("the built thing does not run")

    with pytest.raises(build_cache.BuildCacheError, match="demo-k1: the built thing does not run"):
        build_cache.ensure(tmp_path, "demo", "k1", build, verify=verify)
    assert build_cache.lookup(tmp_path, "demo", "k1") is None
    assert list((tmp_path / build_cache.BUILDS).iterdir()) == []


def test_a_published_entry_is_a_file_check(tmp_path: Path) -> None:
    calls = []

    def build(work: Path) -> None:
        calls.append(work)
        (work / "bin").mkdir()
        (work / "bin" / "tool").write_text("#!/bin/sh\n")

    first = build_cache.ensure(tmp_path, "demo", "k1", build, list_files=True)
    again = build_cache.ensure(tmp_path, "demo", "k1", build, list_files=True)
    assert (first.built_now, again.built_now, len(calls)) == (True, False, 1)
    assert again.manifest["files"] == {"bin/tool": 10}
    (again.path / "bin" / "tool").unlink()  # a listed file gone: the entry no longer counts
    assert build_cache.lookup(tmp_path, "demo", "k1") is None


def test_a_venv_counts_only_when_its_check_runs(tmp_path: Path) -> None:
    # pip's own requirement is already satisfied in a fresh venv: no index is asked.
    with pytest.raises(build_cache.BuildCacheError, match="No module named 'mlflow'"):
        build_cache.ensure_venv("demo", ["pip"], check="import mlflow", root=tmp_path, progress=print)
    assert list(tmp_path.glob("demo-*")) == []
    assert list((tmp_path / build_cache.BUILDS).iterdir()) == []

    python = build_cache.ensure_venv(
        "demo", ["pip"], check="import pip", root=tmp_path, progress=lambda s: None
    )
    # The venv stays where it was built: its python runs through the published link.
    done = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True
    )
    assert Path(done.stdout.strip()) == python.parent.parent
    assert os.path.islink(python.parent.parent)
