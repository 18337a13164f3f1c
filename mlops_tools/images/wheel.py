"""This project's wheel, for the images that run the platform's own code (``platform-python``).

Built from a copy of the files git lists, as a fresh checkout would hold them: setuptools builds in
place (``build/lib``) and would pack files that moved away since the last build.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from mlops_platform.tools.toolchain.commands import ToolchainError, run_captured


def project_root() -> Path:
    """The source checkout this package runs from (``pyproject.toml`` beside ``mlops_platform``).

    Raises:
        ToolchainError: the package is installed from a wheel: the platform's image is built from a
            checkout (``pip install -e .``).
    """
    import mlops_platform

    root = Path(mlops_platform.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file() or not (root / ".git").exists():
        raise ToolchainError(
            f"the platform-python image is built from a source checkout; {root} is not one "
            "(install the project with `pip install -e .` from a clone)"
        )
    return root


def source_files(root: Path) -> list[Path]:
    """The files git lists (tracked, and new ones not ignored), relative, deleted ones left out."""
    listed = run_captured(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    ).split("\0")
    return [
        Path(name)
        for name in sorted(filter(None, listed))
        if (root / name).is_symlink() or (root / name).exists()
    ]


# What the wheel's code comes from: the import root, the folders it maps in, and the build's
# configuration. Tests, benchmarks, examples and README (the wheel's long description, never read at
# run time) change no byte the image runs, so editing them does not rebuild the platform's image.
CODE_ROOTS = ("mlops_platform", "components", "stacks", "policies", "mlops_tools", "pyproject.toml")


def source_digest(root: Path) -> str:
    """A digest of the code files' paths and contents (symlinks by their target): the image's key."""
    digest = hashlib.sha256()
    for relative in source_files(root):
        if relative.parts[0] not in CODE_ROOTS:
            continue
        path = root / relative
        digest.update(relative.as_posix().encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + str(path.readlink()).encode())
        elif path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def dependency_digest(root: Path, extra: str) -> str:
    """A digest of what the project's wheel with ``extra`` pulls in: ``[project].dependencies``, the
    extra's list and ``requires-python``; the key of the image layer holding them (the code is a layer
    of its own above it, so a code change rebuilds only that one)."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    fields = {
        "dependencies": project.get("dependencies", []),
        "extra": project.get("optional-dependencies", {}).get(extra, []),
        "requires-python": project.get("requires-python"),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def build_wheel(root: Path, work: Path) -> Path:
    """The project's wheel built from a clean copy of ``root`` in ``work``; its path."""
    tree = work / "src"
    for relative in source_files(root):
        source = root / relative
        destination = tree / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)
    out = work / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(tree)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolchainError(f"building the project's wheel failed:\n{done.stderr[-3000:]}")
    wheels = sorted(out.glob("mlops_platform-*.whl"))
    if len(wheels) != 1:
        raise ToolchainError(f"pip wheel left {len(wheels)} wheels in {out}")
    shutil.rmtree(tree)
    return wheels[0]
