"""Where finished components live, how they are keyed, and how a build becomes one atomically.

A component is usable only as ``<root>/<name>-<key>/`` holding a ``manifest.json``. A build writes
into ``<root>/.tmp-<name>-<random>/``, writes the manifest last, then renames the directory into
place, so an interrupted build leaves only a ``.tmp-`` directory, which the next install removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT_ENV = "MLOPS_TOOLCHAIN_CACHE"
MANIFEST = "manifest.json"
KEY_LENGTH = 12  # hex digits of sha256: 48 bits, plenty for a handful of builds per component


def cache_root() -> Path:
    """``$MLOPS_TOOLCHAIN_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/mlops-platform/toolchain``."""
    explicit = os.environ.get(ROOT_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(base).expanduser() / "mlops-platform" / "toolchain").resolve()


def cache_key(inputs: Mapping[str, Any]) -> str:
    """A short, stable digest of everything that determines a component's output.

    Args:
        inputs: JSON-serialisable values; key order does not matter.
    """
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def component_dir(root: Path, name: str, key: str) -> Path:
    """The final directory of component ``name`` built with ``key``."""
    return root / f"{name}-{key}"


def read_manifest(directory: Path, key: str) -> dict[str, Any] | None:
    """The manifest of a finished component, or None when it is unusable.

    Unusable: no manifest (never published), unreadable JSON, another key, or a listed file gone.

    Args:
        directory: The component's final directory.
        key: The key it must have been built with.
    """
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        return None
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return None
    if not all((directory / name).is_file() for name in files):
        return None
    return manifest


def file_sizes(directory: Path) -> dict[str, int]:
    """Every file under ``directory`` (relative POSIX path) with its size in bytes."""
    return {
        p.relative_to(directory).as_posix(): p.stat().st_size
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold ``<root>/.lock`` so two installs never build into the same cache at once."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_builds(root: Path) -> None:
    """Delete ``.tmp-*`` directories left by interrupted builds (call with the lock held)."""
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def staging(root: Path, name: str) -> Iterator[Path]:
    """A fresh ``<root>/.tmp-<name>-<random>/``, removed unless it was published."""
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
    try:
        yield work
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def publish(work: Path, final: Path, manifest: Mapping[str, Any]) -> None:
    """Write the manifest into ``work`` last, then rename ``work`` to ``final`` in one step.

    Args:
        work: The staging directory holding the outputs.
        final: The component's final directory; a leftover one without a valid manifest is replaced.
        manifest: The manifest to write.
    """
    path = work / MANIFEST
    with path.open("w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp made it private; the finished component is not
    if final.exists():
        shutil.rmtree(final)
    os.rename(work, final)
