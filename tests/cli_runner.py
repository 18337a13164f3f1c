"""Run the ``mlops`` command as a user would: a fresh interpreter, the repository as working directory.

Every call fails on a traceback in its output: no command may print one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def mlops(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path = REPO, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "mlops_platform.tools.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(root: int) -> list[int]:
    """Every live process below ``root`` (``/proc``), children first found first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # after "(comm)": state, ppid
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``process`` (started with ``start_new_session=True``) and every process it started.

    A SIGKILLed command can leave children running a while: its policy-pack servers exit within
    half a second of noticing they were orphaned (``children.python_module``; before that, 61 of
    them, 3.6 GB, after one run of the kill tests), secrets leaves its Pulumi CLI. Its group is
    stopped first, so nothing starts between finding the processes and killing them; for the
    command that instant is its kill.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGSTOP)
    family = _descendants(process.pid)
    process.kill()
    process.wait()
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
