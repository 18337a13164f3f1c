"""write_atomic: whole or nothing; mode, owner and link kept; a change made meanwhile refused."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlops_platform.tools.atomic_write import (
    TMP_MARK,
    ReadFile,
    WriteRefused,
    read_for_edit,
    scratch_dir,
    write_atomic,
)

OLD = b"old\r\n" + bytes(range(256)) * 4096  # 1 MiB: a write takes long enough to be caught halfway
NEW = b"\xef\xbb\xbfnew\n" + bytes(range(255, -1, -1)) * 4096
REPO = Path(__file__).resolve().parents[2]


def test_replaces_the_file_keeping_its_mode_and_leaving_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "Pulumi.prod.yaml"
    target.write_bytes(b"a: 1\r\n")
    target.chmod(0o640)
    write_atomic(target, "a: 2\r\n")
    assert target.read_bytes() == b"a: 2\r\n"  # str is written as is: no newline translation
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.prod.yaml"]


def test_a_new_file_gets_the_umask_mode_not_the_temporary_files_0600(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file to another owner")
def test_keeps_the_owner(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    os.chown(target, 12345, 23456)
    write_atomic(target, "y")
    assert (target.stat().st_uid, target.stat().st_gid) == (12345, 23456)


def test_writes_through_a_symbolic_link_and_keeps_it(tmp_path: Path) -> None:
    real = tmp_path / "real" / "Pulumi.prod.yaml"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "Pulumi.prod.yaml"
    link.symlink_to(real)
    assert write_atomic(link, "new") == real
    assert link.is_symlink() and real.read_text() == "new"
    with pytest.raises(WriteRefused, match="is a symbolic link"):
        write_atomic(link, "newer", follow_symlinks=False)
    assert real.read_text() == "new"


def test_a_file_changed_since_it_was_read_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "Pulumi.prod.yaml"
    target.write_text("version: 1\n")
    read = read_for_edit(target)
    target.write_text("version: 1\n# an editor saved meanwhile\n")
    with pytest.raises(WriteRefused) as refused:
        write_atomic(target, "version: 2\n", expect=read)
    assert str(refused.value) == (
        f"{target}: changed since this command read it (another command or an editor wrote it); "
        "run it again; nothing written"
    )
    assert target.read_text() == "version: 1\n# an editor saved meanwhile\n"
    absent = ReadFile(tmp_path / "new", b"", None)
    (tmp_path / "new").write_text("made meanwhile")
    with pytest.raises(WriteRefused):
        write_atomic(tmp_path / "new", "mine", expect=absent)
    assert (tmp_path / "new").read_text() == "made meanwhile"


def test_concurrent_read_modify_writes_lose_nothing_silently(tmp_path: Path) -> None:
    """Each of 8 threads appends its line 20 times; a refused write is retried, so all 160 arrive."""
    target = tmp_path / "counter"
    target.write_text("")
    refused = []

    def worker(n: int) -> None:
        done = 0
        while done < 20:
            read = read_for_edit(target)
            time.sleep(random.random() / 1000)
            try:
                write_atomic(target, read.text + f"{n}\n", expect=read)
            except WriteRefused:
                refused.append(n)
                continue
            done += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = target.read_text().splitlines()
    assert sorted(lines) == sorted(str(n) for n in range(8) for _ in range(20))
    assert refused  # the race really happened and was caught, not won by luck


def _write_forever(target: Path) -> None:
    """The body of a forked writer: replace ``target`` with OLD or NEW, alternately, until killed."""
    while True:
        read = read_for_edit(target)
        write_atomic(target, NEW if read.data == OLD else OLD, expect=read)


def test_a_writer_killed_at_random_points_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    """300 SIGKILLs of a process replacing a 1 MiB file in a loop: never a mix, a cut or an empty file.

    The writer is forked (no interpreter start per kill), so the kills land all over its write path.
    """
    target = tmp_path / "Pulumi.prod.yaml"
    target.write_bytes(OLD)
    rng = random.Random(25)
    seen = {OLD: 0, NEW: 0}
    for _ in range(300):
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                _write_forever(target)
            finally:
                os._exit(1)
        time.sleep(rng.random() * 0.03)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        data = target.read_bytes()
        assert data in seen, f"{len(data)} bytes, neither the old nor the new content"
        seen[data] += 1
    assert seen[OLD] and seen[NEW]  # the kills landed on both sides of the rename
    leftovers = [p.name for p in tmp_path.iterdir() if TMP_MARK in p.name]
    write_atomic(target, b"after")  # the next writer of the file removes what killed ones left
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.prod.yaml"], leftovers


def test_a_killed_runs_scratch_directory_is_removed_by_the_next_run(tmp_path: Path) -> None:
    target = tmp_path / "Pulumi.prod.yaml"
    target.write_text("x")
    script = (
        "import os, sys; from pathlib import Path\n"
        "from mlops_platform.tools.atomic_write import scratch_dir\n"
        "with scratch_dir(Path(sys.argv[1]), 'promote') as d:\n"
        "    (d / 'Pulumi.prod.yaml').write_text('secret-ish copy')\n"
        "    print(d, flush=True); os.kill(os.getpid(), 9)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True, env=env)
    assert run.returncode == -signal.SIGKILL
    left = Path(run.stdout.strip())
    assert left.is_dir() and left.name.startswith(f"{TMP_MARK}promote-")
    with scratch_dir(target, "promote") as mine:
        assert not left.exists()  # a stale one (nobody holds its lock) is removed
        with scratch_dir(target, "promote") as other:
            assert mine.is_dir() and other.is_dir()  # a live one is left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.prod.yaml"]
