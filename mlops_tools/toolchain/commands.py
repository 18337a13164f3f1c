"""Running the external commands of a build: the environment Go needs, logs, timed steps.

A failing command raises ``ToolchainError`` carrying the command and the last lines of its log, so
the CLI can print it without a traceback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

Progress = Callable[[str], None]
TAIL_LINES = 25


class ToolchainError(Exception):
    """A toolchain step failed, or a required part is not installed; the message says which."""


def go_binary() -> Path | None:
    """The ``go`` command on PATH, if any."""
    found = shutil.which("go")
    return Path(found) if found else None


def go_version() -> str | None:
    """The Go toolchain's version (``go1.26.8``), read from ``$GOROOT/VERSION`` without running go.

    Checking a warm cache must stay a file check, so this reads the file the release ships; only a
    toolchain without one (some distribution builds) costs a ``go env GOVERSION``.
    """
    go = go_binary()
    if go is None:
        return None
    version_file = go.resolve().parent.parent / "VERSION"
    with contextlib.suppress(OSError):
        first = version_file.read_text(encoding="utf-8").splitlines()[0].strip()
        if first.startswith("go"):
            return first
    result = subprocess.run([str(go), "env", "GOVERSION"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or None


def go_environment(root: Path) -> dict[str, str]:
    """The process environment for go commands: caches under ``root``, no cgo, no surprises.

    Args:
        root: The toolchain cache root.
    """
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(root / "go" / "mod"),
        GOCACHE=str(root / "go" / "build"),
        GOFLAGS="-modcacherw",  # lets the next install (or rm -rf) delete the module cache
        CGO_ENABLED="0",
        GOTOOLCHAIN="local",  # fail with a clear error rather than download another Go
        GOWORK="off",  # a go.work above a build directory must not change what is built
    )
    return env


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file (empty when unreadable)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_logged(command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path) -> None:
    """Run ``command`` with its output in ``log``; raise ``ToolchainError`` with the log's tail on failure.

    Args:
        command: The argv to run.
        cwd: Working directory.
        env: Full process environment.
        log: File that receives stdout and stderr (appended).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        try:
            code = subprocess.call(command, cwd=cwd, env=dict(env), stdout=handle, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise ToolchainError(f"cannot run {command[0]}: {exc}") from None
    if code != 0:
        raise ToolchainError(
            f"`{' '.join(command)}` failed (exit {code}) in {cwd}; last lines of {log}:\n{tail(log)}"
        )


def run_captured(command: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> str:
    """Run ``command`` and return its stdout; raise ``ToolchainError`` with its stderr on failure."""
    try:
        result = subprocess.run(command, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ToolchainError(f"cannot run {command[0]}: {exc}") from None
    if result.returncode != 0:
        last = "\n".join((result.stderr or result.stdout).splitlines()[-TAIL_LINES:])
        raise ToolchainError(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{last}")
    return result.stdout


@contextlib.contextmanager
def step(progress: Progress, label: str) -> Iterator[None]:
    """Time one step and report ``<label> ... <seconds> s`` when it ends (``failed`` if it raised)."""
    start = time.monotonic()
    try:
        yield
    except BaseException:
        progress(f"{label} ... failed after {time.monotonic() - start:.1f} s")
        raise
    progress(f"{label} ... {time.monotonic() - start:.1f} s")
