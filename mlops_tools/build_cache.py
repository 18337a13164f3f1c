"""Everything the project builds for itself is built once, whole, and never used half-built.

The toolchain's components, the virtualenvs the tests and benchmarks run tools from, the node's
binaries and the platform's images are caches keyed by what determines them. Each goes through
``ensure``:

- ``<root>/<name>-<key>`` is the published entry: a symbolic link to the build directory
  ``<root>/.builds/<name>-<key>.<random>/``, whose ``manifest.json`` is written last;
- a build runs under ``<root>/.locks/<name>-<key>.lock`` (``flock``): concurrent callers wait for
  the one build and then find it published, and the lock dies with its holder, so a killed build
  never blocks the next one;
- the build directory is verified (``verify``: the MLflow venv imports ``mlflow`` at its pinned
  version) before the manifest is written and before the link is renamed into place, which
  ``rename(2)`` does in one step;
- with the lock held, build directories of the entry that the link does not point to (left by an
  interrupted build) are removed before a new build starts.

Builds stay where they were built: a virtualenv's scripts carry its absolute path, so moving a
finished build (the toolchain's first layout did) is not an option for every cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
BUILDS = ".builds"
LOCKS = ".locks"
WAIT_NOTICE_S = 1.0  # say that we wait for another build once it has held the lock this long

Progress = Callable[[str], None]
Build = Callable[[Path], Mapping[str, Any] | None]
Verify = Callable[[Path], None]


class BuildCacheError(RuntimeError):
    """A build or its verification failed; nothing was published."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A published cache entry."""

    path: Path
    """``<root>/<name>-<key>``: use this path (it stays valid across rebuilds of other keys)."""
    manifest: dict[str, Any]
    """The manifest its build wrote last."""
    built_now: bool
    """True when this call built it; False when it was already published."""


def cache_home() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/mlops-platform``: the parent of every cache the project builds."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(base).expanduser() / "mlops-platform").resolve()


def entry_path(root: Path, name: str, key: str) -> Path:
    """Where entry ``name`` built with ``key`` is published."""
    return root / f"{name}-{key}"


def read_manifest(path: Path, key: str) -> dict[str, Any] | None:
    """The manifest of a published entry, or None when it is not usable.

    Not usable: no manifest (never finished), unreadable JSON, another key, or a file the manifest
    lists (``files``) gone.

    Args:
        path: The entry's published path (a link to its build, or a directory of the first layout).
        key: The key it must have been built with.
    """
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        return None
    files = manifest.get("files")
    if files is not None and (
        not isinstance(files, dict) or not files or not all((path / name).is_file() for name in files)
    ):
        return None
    return manifest


def lookup(root: Path, name: str, key: str) -> Entry | None:
    """The published entry, without building or locking anything (a file check)."""
    path = entry_path(root, name, key)
    manifest = read_manifest(path, key)
    return Entry(path, manifest, built_now=False) if manifest is not None else None


def file_sizes(directory: Path) -> dict[str, int]:
    """Every file under ``directory`` (relative POSIX path) with its size in bytes, the manifest aside."""
    return {
        p.relative_to(directory).as_posix(): p.stat().st_size
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != MANIFEST
    }


@contextlib.contextmanager
def _locked(root: Path, entry: str, progress: Progress) -> Iterator[None]:
    locks = root / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{entry}.lock").open("a") as handle:
        start = time.monotonic()
        noticed = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not noticed and time.monotonic() - start >= WAIT_NOTICE_S:
                    progress(f"{entry}: waiting for another process building it")
                    noticed = True
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def remove_leftovers(root: Path, entry: str) -> list[Path]:
    """Remove what interrupted builds of ``entry`` left; call with its lock held. Returns what went.

    Leftovers: build directories the published link does not point to, half-made links, and the
    first layout's ``.tmp-<name>-*`` staging directories.
    """
    published = root / entry
    target = published.resolve() if published.is_symlink() else None
    removed = []
    candidates = [
        *(root / BUILDS).glob(f"{entry}.*"),
        *root.glob(f".link-{entry}.*"),
        *root.glob(f".tmp-{entry.rsplit('-', 1)[0]}-*"),
    ]
    for path in candidates:
        if target is not None and path.resolve() == target:
            continue
        _remove(path)
        removed.append(path)
    if published.exists() and not published.is_symlink() and not (published / MANIFEST).is_file():
        _remove(published)  # a first-layout directory that never got its manifest
        removed.append(published)
    return removed


def _publish(root: Path, entry: str, work: Path) -> None:
    link = root / f".link-{entry}.{os.getpid()}"
    _remove(link)
    link.symlink_to(Path(BUILDS) / work.name)  # relative: the cache root may be moved whole
    published = root / entry
    if published.exists() and not published.is_symlink():
        _remove(published)  # rename(2) cannot replace a directory with a link
    os.replace(link, published)
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_manifest(work: Path, manifest: Mapping[str, Any]) -> None:
    path = work / MANIFEST
    with path.open("w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ensure(
    root: Path,
    name: str,
    key: str,
    build: Build,
    *,
    verify: Verify | None = None,
    list_files: bool = False,
    progress: Progress = _stderr,
) -> Entry:
    """The published entry ``name``/``key`` under ``root``, built first when missing.

    Args:
        root: The cache's root directory (created when missing).
        name: The entry's name (``mlflow-server``, ``pulumi-cli``).
        key: A digest of everything that determines the build's output.
        build: Fills the empty build directory it is given; may return extra manifest fields.
        verify: Raises when the build directory is not what it must be (then nothing is published).
        list_files: Record every file with its size in the manifest, so a lookup also checks that
            none has gone (right for a few large binaries; a virtualenv's thousands are not worth it).
        progress: Receives a line when the call has to wait for another build.

    Raises:
        BuildCacheError: ``build`` or ``verify`` raised; the message says which and why.
    """
    found = lookup(root, name, key)
    if found is not None:
        return found
    entry = f"{name}-{key}"
    with _locked(root, entry, progress):
        found = lookup(root, name, key)  # another process may have built it while we waited
        if found is not None:
            return found
        remove_leftovers(root, entry)
        builds = root / BUILDS
        builds.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{entry}.", dir=builds))
        published = False
        try:
            start = time.monotonic()
            try:
                extra = build(work) or {}
                if verify is not None:
                    verify(work)
            except BuildCacheError:
                raise
            except Exception as exc:
                raise BuildCacheError(f"{entry}: {exc}") from exc
            files = file_sizes(work)
            manifest: dict[str, Any] = {
                "name": name,
                "key": key,
                "file_count": len(files),
                "size_bytes": sum(files.values()),
                "build_seconds": round(time.monotonic() - start, 1),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **({"files": files} if list_files else {}),
                **extra,
            }
            umask = os.umask(0)
            os.umask(umask)
            work.chmod(0o777 & ~umask)  # mkdtemp made it private; the finished build is not
            _write_manifest(work, manifest)
            _publish(root, entry, work)
            published = True
        finally:
            if not published:
                shutil.rmtree(work, ignore_errors=True)
    done = lookup(root, name, key)
    if done is None:  # pragma: no cover - published under the lock just above
        raise BuildCacheError(f"{entry}: published but not readable under {root}")
    return Entry(done.path, done.manifest, built_now=True)


def cache_key(inputs: Mapping[str, Any], length: int = 12) -> str:
    """A short, stable digest of everything that determines a build's output.

    Args:
        inputs: JSON-serialisable values; key order does not matter.
        length: Hex digits kept (12: 48 bits, plenty for a handful of builds per entry).
    """
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def ensure_venv(
    name: str,
    requirements: Sequence[str],
    *,
    check: str,
    root: Path | None = None,
    progress: Progress = _stderr,
) -> Path:
    """The Python of a virtualenv holding ``requirements``, built once per requirement set.

    Args:
        name: The cache entry's name (``mlflow-server``).
        requirements: Pinned requirement specifiers (``mlflow[auth]==3.17.2``).
        check: Python code the finished venv must run without error before it counts (for example
            an import with a version assertion): pip can exit 0 over a venv that lacks a package.
        root: The cache root; default ``cache_home() / "venvs"``.
        progress: Receives a line when the build starts and when it has to wait for another.

    Raises:
        BuildCacheError: venv creation, the install or the check failed.
    """
    root = root if root is not None else cache_home() / "venvs"
    python_tag = f"{sys.implementation.name}{sys.version_info.major}.{sys.version_info.minor}"
    key = cache_key({"requirements": sorted(requirements), "python": python_tag, "check": check})

    def build(work: Path) -> dict[str, Any]:
        progress(f"{name}: creating a virtualenv with {' '.join(requirements)} (once)")
        _run([sys.executable, "-m", "venv", str(work)], timeout_s=300)
        _run([str(work / "bin" / "python"), "-m", "pip", "install", "-q", *requirements], timeout_s=1800)
        return {"requirements": list(requirements), "python": python_tag}

    def verify(work: Path) -> None:
        _run([str(work / "bin" / "python"), "-c", check], timeout_s=300)

    entry = ensure(root, name, key, build, verify=verify, progress=progress)
    return entry.path / "bin" / "python"


def _run(command: Sequence[str], *, timeout_s: float) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildCacheError(f"{' '.join(command)}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise BuildCacheError(f"{' '.join(command)} exited {done.returncode}:\n" + "\n".join(output))
