"""The audit's child processes (policy packs, the analyze relay): their own process groups, always reaped.

Each child is started in a session of its own (``start_new_session=True``), so a terminal's Ctrl-C or a
``kill -TERM -<pgid>`` aimed at the CLI does not race the CLI's own cleanup, and is registered here.
:func:`stop_all` ends every registered child's group (SIGTERM, then SIGKILL after a grace period); it
runs at interpreter exit (``atexit``). On SIGTERM, SIGHUP and SIGINT, and before the CLI's ``os._exit``,
:func:`stop_descendants` also ends every other descendant (the Pulumi CLI of a real-engine run and what
it started); then the signal takes its usual course (the process dies of it; KeyboardInterrupt for
SIGINT). A SIGKILL of the CLI itself cannot be caught: the Python children it starts through
:func:`python_module` watch their parent and exit once it is gone (they are orphaned, never leaked).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from types import FrameType
from typing import Any

GRACE_S = 2.0  # SIGTERM to SIGKILL; a pack stops in well under 0.1 s
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

_lock = threading.Lock()
_children: set[subprocess.Popen[bytes]] = set()
_previous: dict[int, Any] = {}


ORPHAN_POLL_S = 0.5
# Runs a module as ``python -m`` would, after starting a thread that ends the process once its parent
# is gone (the child is then adopted: ``getppid`` changes). Plain code, so any interpreter runs it
# (a pack's own virtualenv need not have this project installed).
_ORPHAN_GUARD = f"""\
import os, runpy, sys, threading, time
_parent = os.getppid()
def _watch():
    while os.getppid() == _parent:
        time.sleep({ORPHAN_POLL_S})
    os._exit(1)
threading.Thread(target=_watch, name="orphan-guard", daemon=True).start()
runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)
"""


def python_module(python: str, module: str, *args: str) -> list[str]:
    """The argv of ``python -u -m module args...`` for a child that exits when its parent dies.

    A SIGKILL of the parent cannot be caught, so its children cannot be stopped by it: this child
    notices within ``ORPHAN_POLL_S`` that it was adopted, and exits.
    """
    return [python, "-u", "-c", _ORPHAN_GUARD, module, *args]


def spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(argv, ...)`` in a new session (process group), registered until it is reaped."""
    proc: subprocess.Popen[bytes] = subprocess.Popen(argv, start_new_session=True, **kwargs)
    with _lock:
        _children.add(proc)
    return proc


def forget(proc: subprocess.Popen[bytes]) -> None:
    """``proc`` was stopped and waited for by its owner."""
    with _lock:
        _children.discard(proc)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def stop_all(grace_s: float = GRACE_S) -> None:
    """Stop every registered child's process group: SIGTERM, then SIGKILL for what remains."""
    with _lock:
        procs = list(_children)
        _children.clear()
    alive = [p for p in procs if p.poll() is None]
    for proc in alive:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.poll() is None]
        if alive:
            time.sleep(0.02)
    for proc in alive:
        _signal_group(proc, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
            proc.wait(grace_s)


def descendants(pid: int | None = None) -> list[int]:
    """Every live descendant of ``pid`` (default: this process), from ``/proc``; empty elsewhere.

    Covers what this module did not start: the Pulumi CLI of a real-engine run and the packs and
    plugins it starts in its turn.
    """
    parents: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if fields[0] != "Z":  # a zombie is already dead
                    parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [os.getpid() if pid is None else pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def stop_descendants(grace_s: float = GRACE_S) -> None:
    """:func:`stop_all`, then every other descendant of this process: SIGTERM, then SIGKILL."""
    stop_all(grace_s)
    pids = descendants()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [pid for pid in pids if pid in set(descendants())]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    stop_descendants()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):  # SIGINT's default_int_handler raises KeyboardInterrupt
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)  # die of the signal, as without this handler
    os.kill(os.getpid(), signum)


def install_handlers() -> None:
    """Stop the children on SIGTERM/SIGHUP/SIGINT; a no-op off the main thread or when already done."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in HANDLED_SIGNALS:
        current = signal.getsignal(signum)
        if current is _on_signal or current == signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            continue
        _previous[signum] = current
        signal.signal(signum, _on_signal)


atexit.register(stop_all)
install_handlers()  # imported by the engine modules, from the CLI's main thread
