"""Shared helpers for the spec tests: the repository, the minimal valid stack file, the CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlops_platform.stacks.yaml_source import Problem, SourceError

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "stacks"
DEFAULTS_SHOWN = "stacks/defaults.yaml"  # as messages name it when run from the repository root
MINIMAL_STACK = (Path(__file__).parent / "minimal_stack.yaml").read_text(encoding="utf-8")
ENVS = ("dev", "staging", "prod")


def mutate(old: str, new: str, base: str = MINIMAL_STACK) -> str:
    """``base`` with its one occurrence of ``old`` replaced: fails loudly if the anchor is ambiguous."""
    count = base.count(old)
    assert count == 1, f"{old!r} occurs {count} times in the base stack"
    return base.replace(old, new)


MONITORING_SECTION = "  mlops-platform:monitoring:\n"


def without_grafana(env: str, directory: Path) -> Path:
    """The bundled ``env`` stack file with ``monitoring.grafana_image: null``, written to ``directory``
    under its stack file name (so its stack name and tier policies stay those of ``env``)."""
    text = (STACKS / f"Pulumi.{env}.yaml").read_text(encoding="utf-8")
    path = directory / f"Pulumi.{env}.yaml"
    path.write_text(
        mutate(MONITORING_SECTION, f"{MONITORING_SECTION}    grafana_image: null\n", text), encoding="utf-8"
    )
    return path


def run_cli(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m mlops_platform.tools.cli ARGS`` from the repository root, as a user runs ``mlops``."""
    return subprocess.run(
        [sys.executable, "-m", "mlops_platform.tools.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_well_located(error: SourceError) -> None:
    """Every problem names a file that exists, a line inside it and the key path it is about."""
    assert error.problems, "a SourceError without problems"
    for problem in error.problems:
        _assert_located(problem)


def _assert_located(problem: Problem) -> None:
    assert problem.file, f"no file: {problem}"
    assert problem.path, f"no key path: {problem}"
    assert isinstance(problem.line, int), f"no line: {problem}"
    # Relative names are relative to the working directory, as the loader shows them.
    line_count = len(Path(problem.file).read_text(encoding="utf-8").splitlines())
    assert 1 <= problem.line <= line_count, f"line outside 1..{line_count}: {problem}"
