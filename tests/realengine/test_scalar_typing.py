"""Scalars as the Pulumi CLI types them: the real CLI and our loader read the same stack file alike.

A stack file full of scalars that YAML 1.1 and 1.2 read differently (``yes``, ``on``, ``1:30``, ``012``,
``0o14``, ``1_000``, dates...) is given to the real CLI with an inline program (Automation API) that
records what ``pulumi.Config`` hands it, structured (``get_object``) and top-level (``get``). Our
loader's reading of the same file, spelled as the CLI passes values to a program (JSON for objects,
text for scalars), must give the program exactly the same values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.stacks.yaml_source import (
    SourceError,
    load_pulumi_yaml,
    pulumi_config_text,
    read_located_yaml,
)
from mlops_platform.tools.engine.config import load_stack_config
from mlops_platform.tools.engine_pulumi.workspace import EngineTools, _engine_env, pulumi_command

pytestmark = pytest.mark.slow

PROJECT = "scalarprobe"

# Each scalar as written in a stack file, plain (unquoted). Non-finite floats are left out here: JSON
# cannot carry them (see test_non_finite_floats_are_refused_alike).
TRICKY = [
    "yes", "no", "on", "off", "y", "n", "Yes", "ON", "true", "False", "TRUE",
    "1:30", "-1:30", "190:20:30", "0o14", "012", "08", "0x1F", "0b101", "-0b11", "+12",
    "1_000", "1_0.5", "1e3", "1.", ".5", "6.8523015e+5", "685.230_15e+03",
    "~", "null", "Null", "", "2026-03-31", "2001-12-14t21:59:43.10Z", "2026-3-1",
    "2026-03-31T10:00:00Z", "2026-03-31 10:00:00", "2026-3-1T1:2:3.120Z", "2026-02-30",
    "9223372036854775808", "18446744073709551616", "123456789012345678", "1e400", "1e21", "1e20",
    "1e-7", "0.000001", "0.1", "-0", "-0.0", "=", "<<x", ".",
]  # fmt: skip


def _stack_text() -> str:
    lines = [f"  {PROJECT}:probe:"]
    lines += [f"    k{index}: {text}" for index, text in enumerate(TRICKY)]
    lines.append("    seq: [" + ", ".join(t for t in TRICKY if t) + "]")
    lines += [f"  {PROJECT}:top{index}: {text}" for index, text in enumerate(TRICKY)]
    return "config:\n" + "\n".join(lines) + "\n"


def _run_inline(engine_tools: EngineTools, tmp_path: Path, stack_text: str) -> dict[str, Any]:
    """Preview an inline program on a stack file; return what its ``pulumi.Config`` gave it."""
    import pulumi
    from pulumi import automation as auto

    project, state, home = tmp_path / "project", tmp_path / "state", tmp_path / "home"
    for directory in (project, state, home):
        directory.mkdir(parents=True, exist_ok=True)
    (project / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n", encoding="utf-8")
    (project / "Pulumi.probe.yaml").write_text(stack_text, encoding="utf-8")
    received: dict[str, Any] = {}

    def program() -> None:
        config = pulumi.Config()
        received["probe"] = config.get_object("probe")
        received["top"] = {f"top{i}": config.get(f"top{i}") for i in range(len(TRICKY))}

    env = _engine_env(engine_tools, home, f"file://{state}", "probe-passphrase")
    env["TZ"] = "UTC"  # Go names an offset's zone after the local zone when they match
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(project),
        pulumi_home=str(home),
        env_vars=env,
        pulumi_command=pulumi_command(engine_tools.pulumi, tmp_path / "cli"),
    )
    stack = auto.create_or_select_stack("probe", PROJECT, program, opts=opts)
    stack.preview()
    return received


def _as_program_sees(value: Any) -> Any:
    """A structured value of our reading as ``Config.get_object`` returns it: JSON, parsed."""
    return json.loads(pulumi_config_text(value))


def test_tricky_scalars_reach_the_program_as_our_loader_reads_them(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    text = _stack_text()
    received = _run_inline(engine_tools, tmp_path / "engine", text)
    ours = load_pulumi_yaml(text)["config"]

    assert received["probe"] == _as_program_sees(ours[f"{PROJECT}:probe"])
    expected_top = {f"top{i}": pulumi_config_text(ours[f"{PROJECT}:top{i}"]) for i in range(len(TRICKY))}
    assert received["top"] == expected_top
    # The offline audit's config (what the program gets under mocks) is the same reading.
    stack_file = tmp_path / "Pulumi.probe.yaml"
    stack_file.write_text(text, encoding="utf-8")
    offline = load_stack_config(stack_file, project=PROJECT)
    assert offline.object("probe") == received["probe"]
    # YAML 1.1 readings that must not happen: the regressions this test exists for.
    seen = {text: received["probe"][f"k{index}"] for index, text in enumerate(TRICKY)}
    assert [seen[t] for t in ("yes", "on", "off", "1:30")] == ["yes", "on", "off", "1:30"]
    assert [seen[t] for t in ("0o14", "012", "1_000")] == [12, 10, 1000]
    assert seen["2026-03-31"] == "2026-03-31 00:00:00 +0000 UTC"  # Go's time.Time.String(), not a date


@pytest.mark.parametrize(
    ("scalar", "cli_error"),
    [
        (".inf", "unsupported value: +Inf"),
        ("-.Inf", "unsupported value: -Inf"),
        (".nan", "unsupported value: NaN"),
    ],
)
def test_non_finite_floats_are_refused_alike(
    engine_tools: EngineTools, tmp_path: Path, scalar: str, cli_error: str
) -> None:
    """``.inf``/``.nan`` have no JSON form: the CLI refuses the whole stack file, and so do we, located."""
    from pulumi.automation.errors import CommandError

    text = f"config:\n  {PROJECT}:probe:\n    limit: {scalar}\n"
    with pytest.raises(CommandError) as refused:
        _run_inline(engine_tools, tmp_path / "engine", text)
    assert cli_error in str(refused.value)
    stack_file = tmp_path / "Pulumi.probe.yaml"
    stack_file.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as ours:
        read_located_yaml(stack_file)
    assert [(p.line, p.path) for p in ours.value.problems] == [(3, f"config.{PROJECT}:probe.limit")]
    assert "no JSON form" in ours.value.problems[0].message


def test_offset_timestamps_depend_on_the_machine_and_are_refused(
    engine_tools: EngineTools, tmp_path: Path
) -> None:
    """With an offset, Go names the zone after the machine's local zone when it matches: we refuse it."""
    text = f"config:\n  {PROJECT}:probe:\n    at: 2026-03-31T10:00:00.000+01:00\n"
    received = _run_inline(engine_tools, tmp_path / "engine", text)
    assert received["probe"] == {"at": "2026-03-31 10:00:00 +0100 +0100"}  # TZ=UTC
    with pytest.raises(SourceError) as ours:
        load_pulumi_yaml(text)
    assert "UTC offset" in ours.value.problems[0].message
