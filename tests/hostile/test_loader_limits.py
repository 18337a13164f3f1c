"""Structure bombs and unreadable files: a located error and exit 2, never a crash, hang or OOM kill.

Stack files go through ``mlops validate``, waiver files through ``mlops audit --waivers`` (refused before
any program runs). Each run is bounded in time and address space, so a regression fails instead of
taking the machine down.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_platform.stacks.yaml_source import MAX_ALIAS_CHARS, MAX_ALIAS_NODES, MAX_DEPTH, MAX_FILE_BYTES
from tests.cli_runner import REPO

MEMORY_LIMIT_BYTES = 1536 * 1024 * 1024  # the billion laughs took 2.6 GB before the limit
TIMEOUT_S = 60


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def mlops_bounded(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "mlops_platform.tools.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        preexec_fn=_bounded,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


LIMIT = f"{MAX_FILE_BYTES // (1024 * 1024)} MiB"


def laughs(levels: int = 9, width: int = 9) -> str:
    """The billion laughs: ``width ** levels`` strings from a file of a few hundred bytes."""
    lines = [f"a: &a [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * width)}]")
    return "\n".join(lines) + "\n"


def stack_with(section_text: str) -> str:
    return "config:\n  mlops-platform:environment:\n" + "".join(
        f"    {line}\n" for line in section_text.splitlines()
    )


def waiver_case(tmp_path: Path, text: str | bytes) -> tuple[subprocess.CompletedProcess[str], str]:
    path = tmp_path / "waivers.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return mlops_bounded("audit", "dev", "--waivers", str(path)), str(path)


def stack_case(tmp_path: Path, text: str | bytes) -> tuple[subprocess.CompletedProcess[str], str]:
    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return mlops_bounded("validate", str(path)), str(path)


CASES = {
    # name: (stack file text, waiver file text, expected line, message fragment)
    "flow nesting 100,000 deep": (
        stack_with("name: " + "[" * 100_000 + "]" * 100_000),
        "waivers: " + "[" * 100_000 + "]" * 100_000 + "\n",
        None,
        "nesting depth",
    ),
    "block nesting past the limit": (
        stack_with(
            "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "x: 1"
        ),
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "x: 1\n",
        None,
        f"nested deeper than {MAX_DEPTH} levels",
    ),
    "billion laughs": (
        "config:\n  mlops-platform:x:\n" + "".join(f"    {line}\n" for line in laughs().splitlines()),
        laughs(),
        None,
        f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} values",
    ),
    "one huge string aliased many times": (
        "config:\n  mlops-platform:x:\n    a: &a '"
        + "x" * 1_000_000
        + "'\n    b: ["
        + ", ".join(["*a"] * 20)
        + "]\n",
        "a: &a '" + "x" * 1_000_000 + "'\nb: [" + ", ".join(["*a"] * 20) + "]\n",
        None,
        "characters (the limit for a YAML file)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["stack", "waivers"])
def test_structure_bombs_are_refused_located(tmp_path: Path, case: str, kind: str) -> None:
    stack_text, waiver_text, _line, fragment = CASES[case]
    result, file = (stack_case if kind == "stack" else waiver_case)(
        tmp_path, stack_text if kind == "stack" else waiver_text
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{file}:") and fragment in lines[0], lines[0]
    assert lines[0].split(":")[1].isdigit(), f"no line number: {lines[0]}"


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    result, file = stack_case(tmp_path, "config: {}\n# " + "x" * MAX_FILE_BYTES + "\n")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{file}: file is larger than {LIMIT} (the limit for a YAML file)"


@pytest.mark.parametrize("kind", ["stack", "waivers"])
def test_dev_zero_is_read_bounded(kind: str) -> None:
    args = ("validate", "/dev/zero") if kind == "stack" else ("audit", "dev", "--waivers", "/dev/zero")
    result = mlops_bounded(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == f"/dev/zero: file is larger than {LIMIT} (the limit for a YAML file)"


@pytest.mark.parametrize("kind", ["stack", "waivers"])
def test_invalid_utf8_is_located_at_its_line(tmp_path: Path, kind: str) -> None:
    text = b"config:\n  mlops-platform:environment:\n    name: caf\xe9\n"
    result, file = (stack_case if kind == "stack" else waiver_case)(tmp_path, text)
    assert result.returncode == 2
    assert result.stderr.strip() == f"{file}:3: not valid UTF-8: byte 0xe9 at column 14"


@pytest.mark.parametrize("kind", ["stack", "waivers"])
def test_a_symlink_loop_is_one_line(tmp_path: Path, kind: str) -> None:
    (tmp_path / "Pulumi.a.yaml").symlink_to(tmp_path / "Pulumi.b.yaml")
    (tmp_path / "Pulumi.b.yaml").symlink_to(tmp_path / "Pulumi.a.yaml")
    loop = str(tmp_path / "Pulumi.a.yaml")
    result = mlops_bounded(*(("validate", loop) if kind == "stack" else ("audit", "dev", "--waivers", loop)))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{loop}: cannot read: Too many levels of symbolic links"


def test_a_directory_is_one_line(tmp_path: Path) -> None:
    result = mlops_bounded("validate", f"{tmp_path}/")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path}: cannot read: Is a directory"


def test_the_readme_states_the_limits_and_exit_codes_in_force() -> None:
    from mlops_platform.tools.cli_guard import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes and limits", 1)[1].split("\n## ", 1)[0]
    assert f"| {MAX_FILE_BYTES // (1024 * 1024)} MiB |" in section
    assert f"| {MAX_DEPTH} levels |" in section
    assert f"| {MAX_ALIAS_NODES:,} values or {MAX_ALIAS_CHARS // (1024 * 1024)} MiB of text |" in section
    for code in (EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED):
        assert f"\n| {code} | " in section
