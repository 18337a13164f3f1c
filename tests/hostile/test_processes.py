"""An audit ended by a signal leaves no process behind: packs and relay run in groups of their own.

The CLI is started as a user starts it, its pack processes are waited for (three ``pulumi.policy``
children), then the signal is sent to the CLI alone (as ``kill PID`` or a closing terminal does); every
descendant recorded before the signal must be gone shortly after the CLI is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_platform.tools.engine.children import descendants
from tests.cli_runner import REPO
from tests.cli_runner import alive as _alive

pytestmark = pytest.mark.slow


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _packs_of(pid: int, timeout_s: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [child for child in descendants(pid) if "pulumi.policy" in _cmdline(child)]
        if len(found) == 3:
            return found
        time.sleep(0.1)
    raise AssertionError(f"the audit did not start its three packs in {timeout_s} s")


def _assert_none_survive(pids: list[int], when: str) -> None:
    """Every process of ``pids`` is gone within 10 s (survivors are killed, not leaked)."""
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = {p: _cmdline(p) for p in pids if _alive(p)}
    for pid in survivors:  # don't leak them into the next test
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"left running {when}: {survivors}"


def _signals_as_from_a_terminal() -> None:
    for signum in (signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_no_child_survives_a_signal_during_an_audit(signum: signal.Signals) -> None:
    cli = subprocess.Popen(
        [sys.executable, "-m", "mlops_platform.tools.cli", "audit", "prod"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the signal reaches the CLI only, not a group the packs share
        env={**os.environ, "COLUMNS": "200"},
        # As from a terminal: a suite started under nohup, or as a background job of a shell, passes
        # SIGHUP and SIGINT down ignored, and the CLI then rightly keeps them ignored
        # (engine/children.py) and finishes with 0.
        preexec_fn=_signals_as_from_a_terminal,
    )
    try:
        packs = _packs_of(cli.pid)
        before = descendants(cli.pid)
        assert set(packs) <= set(before) and all(_alive(p) for p in packs)
        cli.send_signal(signum)
        returncode = cli.wait(30)
        stderr = cli.stderr.read().decode() if cli.stderr else ""
    finally:
        if cli.poll() is None:
            cli.kill()
    _assert_none_survive(before, f"after {signum.name}")
    assert "Traceback" not in stderr
    if signum == signal.SIGINT:
        assert returncode == 130  # KeyboardInterrupt: typer's exit code for it
    else:
        assert returncode == -signum  # the CLI dies of the signal, as without a handler


def test_no_child_outlives_a_killed_cli() -> None:
    """SIGKILL cannot be caught: the packs and the relay notice they were orphaned, and exit."""
    cli = subprocess.Popen(
        [sys.executable, "-m", "mlops_platform.tools.cli", "audit", "prod"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        packs = _packs_of(cli.pid)
        before = descendants(cli.pid)
        assert set(packs) <= set(before) and all(_alive(p) for p in packs)
        cli.kill()
        assert cli.wait(30) == -signal.SIGKILL
    finally:
        if cli.poll() is None:
            cli.kill()
    _assert_none_survive(before, "after the CLI was killed")
