"""Provenance of an audit report: which code, packs, config and inputs produced it, as of which day.

Everything here is a pure function of the inputs and the checkout (no clock, no absolute paths
inside the repository), so two runs on the same inputs record the same provenance; the report's
generation time is added by the renderer, the only field allowed to differ. Pulumi-free and light:
the CLI builds it before any engine starts.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

import mlops_platform

LIBRARY_ROOT = Path(mlops_platform.__file__).parent
"""The installed library (``mlops_platform``): where the packs' shared sources are."""

# The distributions whose versions decide what an audit finds: ours, the engine SDK, the policy SDK
# the packs run on, and the provider SDKs whose resource types the program registers.
DISTRIBUTIONS = ("mlops-platform", "pulumi", "pulumi-policy", "pulumi-kubernetes", "pulumi-docker")
# Sources every pack imports from our distribution (the rules, their metadata and the label
# vocabulary): a change there changes every pack's verdicts without touching its directory.
POLICY_LIBRARY = ("policies/*.py", "policies/rules/*.py", "vocabulary.py")  # under LIBRARY_ROOT
_SKIPPED_DIRS = frozenset({"__pycache__", ".venv", "venv", "node_modules"})
GIT_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class InputFile:
    """One file the audit read, with its role (``spec``, ``defaults``, ``policy-config``, ``waivers``)."""

    role: str
    path: str
    sha256: str | None  # None: the file does not exist (e.g. no waivers file)
    environment: str = ""


@dataclass(frozen=True, slots=True)
class PackSource:
    name: str
    version: str
    sources_sha256: str
    files: int


@dataclass(frozen=True, slots=True)
class Provenance:
    commit: str | None
    dirty: bool | None  # tracked files differ from ``commit``; None outside a git checkout
    engine: str
    as_of: str  # ISO date that judged waiver expiry (``--today``)
    versions: dict[str, str]
    packs: list[PackSource]
    policy_library_sha256: str
    inputs: list[InputFile] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def tree_sha256(files: Iterable[Path], root: Path) -> tuple[str, int]:
    """One digest over relative paths and contents, in sorted path order; and the number of files."""
    digest = hashlib.sha256()
    count = 0
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
        count += 1
    return digest.hexdigest(), count


def _pack_files(pack_dir: Path) -> list[Path]:
    return [
        p
        for p in pack_dir.rglob("*")
        if p.is_file()
        and not _SKIPPED_DIRS.intersection(p.relative_to(pack_dir).parts)
        and p.suffix != ".pyc"
    ]


def pack_source(pack_dir: Path) -> PackSource:
    """A pack's name (its directory, as ``pulumi policy`` names it), version and source digest."""
    manifest = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8")) or {}
    sources, count = tree_sha256(_pack_files(pack_dir), pack_dir)
    return PackSource(pack_dir.name, str(manifest.get("version", "")), sources, count)


def relative(path: Path, root: Path) -> str:
    """``path`` relative to the project root when inside it (stable across checkouts), else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout at ``root``; (None, None) outside git.

    Untracked files do not count as dirty: reports written into the tree would otherwise make a
    second identical run differ from the first.
    """
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return None, None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return head.strip(), None if status is None else bool(status.strip())


def distribution_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in DISTRIBUTIONS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def policy_library_sha256(root: Path = LIBRARY_ROOT) -> str:
    """One digest of the library sources every pack imports, named by their path in the package.

    Paths stay unresolved (a source tree maps its folders into ``mlops_platform`` by symlinks), so
    an editable install and the wheel of the same sources give the same digest.
    """
    files = {p for pattern in POLICY_LIBRARY for p in root.glob(pattern) if p.is_file()}
    return tree_sha256(files, root)[0]


def collect_provenance(
    *,
    engine: str,
    as_of: date,
    packs: list[Path],
    inputs: list[InputFile],
    root: Path,
    git: tuple[str | None, bool | None] | None = None,
) -> Provenance:
    """The provenance of one report run.

    Args:
        engine: ``offline`` (mocks and the Analyzer protocol) or ``pulumi`` (a real preview).
        as_of: the date that judged waiver expiry.
        packs: the policy pack directories that ran.
        inputs: the spec, defaults, policy config and waiver files read (see :func:`input_file`).
        root: the project whose checkout (commit, dirty) is recorded.
        git: ``git_state(root)`` when the caller took it already (at the start of a run); else taken now.
    """
    commit, dirty = git_state(root) if git is None else git
    return Provenance(
        commit=commit,
        dirty=dirty,
        engine=engine,
        as_of=as_of.isoformat(),
        versions=distribution_versions(),
        packs=[pack_source(p) for p in sorted(packs)],
        policy_library_sha256=policy_library_sha256(),
        inputs=sorted(set(inputs), key=lambda f: (f.role, f.environment, f.path)),
    )


def input_file(role: str, path: Path, root: Path, environment: str = "") -> InputFile:
    """A file the audit read, named relative to the project ``root`` when inside it."""
    return InputFile(role, relative(path, root), file_sha256(path), environment)
