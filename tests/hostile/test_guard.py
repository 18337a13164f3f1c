"""The CLI's entry guard: internal errors are one line with exit 70; path and output errors exit 2.

A command that raises is added to the real app in a fresh interpreter and run through ``cli.run()``,
the console script's entry point, exactly as ``mlops`` runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_platform.tools.cli_guard import BUG_HINT, EXIT_INTERNAL
from tests.cli_runner import REPO, mlops

_WITH_BUG = """
import sys
from mlops_platform.tools import cli

@cli.app.command("explode")
def explode() -> None:
    raise KeyError("a key the code forgot")

sys.argv = ["mlops", *sys.argv[1:]]
cli.run()
"""


def run_with_bug(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITH_BUG, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_an_unexpected_exception_is_one_line_with_its_own_exit_code() -> None:
    result = run_with_bug("explode")
    assert result.returncode == EXIT_INTERNAL == 70
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"mlops: internal error: KeyError: 'a key the code forgot' ({BUG_HINT})"
    ]


@pytest.mark.parametrize(
    ("args", "env"), [(("--debug", "explode"), {}), (("explode",), {"MLOPS_DEBUG": "1"})]
)
def test_debug_shows_the_traceback(args: tuple[str, ...], env: dict[str, str]) -> None:
    result = run_with_bug(*args, env=env)
    assert result.returncode == 70
    assert "Traceback (most recent call last)" in result.stderr
    assert ", in explode\n" in result.stderr and "KeyError: 'a key the code forgot'\n" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("mlops: internal error: KeyError")


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("/proc/no-such-dir/schema.json", "No such file or directory"),
        ("/dev/full", "No space left on device"),
        ("README.md/schema.json", "Not a directory (README.md is a file)"),
        ("/proc/version", "already exists (pass --force to overwrite it)"),
    ],
)
def test_an_unwritable_output_is_exit_2_one_line(output: str, reason: str) -> None:
    result = mlops("schema", "-o", output)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"mlops: --output: cannot write {output}: {reason}"]


def test_an_output_on_a_file_system_without_temporary_files_is_exit_2() -> None:
    """A file is replaced by renaming a temporary file over it: where none can be made, nothing is written."""
    result = mlops("schema", "-o", "/proc/version", "--force")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mlops: --output: cannot write /proc/version: cannot make a temporary file in /proc "
        "(No such file or directory)"
    ]


def test_an_unwritable_audit_output_directory_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    target = tmp_path / "file" / "reports"
    result = mlops("audit", "dev", "-f", "json", "-f", "sarif", "-o", str(target), timeout_s=600)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"mlops: --output: cannot write {target}/mlops-audit.json: "
        f"Not a directory ({target.parent} is a file)"
    )


def _shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


MLOPS = f"{sys.executable} -m mlops_platform.tools.cli"


@pytest.mark.parametrize(
    ("redirect", "reason"),
    [(">/dev/full", "No space left on device"), (">&-", "it is closed")],
)
def test_a_full_or_closed_stdout_is_exit_2_one_line(redirect: str, reason: str) -> None:
    result = _shell(f"{MLOPS} schema {redirect}")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"mlops: cannot write to standard output: {reason}"]


def test_a_closed_pipe_is_exit_2_one_line() -> None:
    result = _shell(f"{MLOPS} schema | true; exit ${{PIPESTATUS[0]}}")  # the reader is gone before a write
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["mlops: cannot write to standard output: Broken pipe"]


def test_missing_paths_are_exit_2_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "no" / "Pulumi.x.yaml")
    result = mlops("validate", missing)
    assert (result.returncode, result.stderr.splitlines()) == (2, [f"{missing}: file not found"])


def test_a_usage_error_is_plain_exit_2() -> None:
    result = mlops("validate", "--no-such-option")
    assert result.returncode == 2
    assert "No such option: --no-such-option" in result.stderr
