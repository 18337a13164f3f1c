"""Property-based tests (hypothesis) per class of hostile input: exit code, location, no traceback.

In-process properties run many examples against the loaders; the CLI properties run a few examples
through ``mlops`` itself (a fresh interpreter each), asserting the exit code and located lines.
"""

from __future__ import annotations

import json
import math
import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.yaml_source import (
    MAX_ECHO_CHARS,
    SourceError,
    echo,
    pulumi_config_text,
    pulumi_scalar,
    read_located_yaml,
)
from mlops_platform.tools.waivers import WaiverError, load_waivers
from tests.cli_runner import mlops
from tests.hostile.conftest import PROD_TEXT

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CLI = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# YAML's syntax characters, scalars both YAML versions disagree on, and bytes that are not UTF-8.
_TOKENS = [
    "\n", " ", "  ", "- ", ": ", "[", "]", "{", "}", ",", "&a ", "*a", "&b ", "*b", "!!str ", "!!int ",
    "!foo ", "? ", "| ", "> ", "'", '"', "#", "%YAML 1.1\n", "---\n", "...\n", "<<: *a", "yes", "on",
    "1:30", "012", "0o14", "1_000", ".inf", ".nan", "~", "2026-03-31", "2026-13-45", "1e400", "key",
    "config", "mlops-platform:environment", "\t", "\x00", "\x1b", "\ufeff", "\u2028",
]  # fmt: skip
yaml_like = st.lists(st.sampled_from(_TOKENS) | st.text(string.printable, max_size=5), max_size=60).map(
    "".join
)
raw_bytes = st.binary(max_size=300)


def _assert_located(exc: SourceError, file: str) -> None:
    assert exc.problems
    for problem in exc.problems:
        assert problem.file == file
        text = str(problem)
        assert "\n" not in text and len(text) <= 1_200 + len(file)
        assert problem.line is None or problem.line >= 1


@FAST
@given(text=yaml_like | raw_bytes)
def test_any_input_reads_or_fails_located(tmp_path: Path, text: str | bytes) -> None:
    path = tmp_path / "Pulumi.fuzz.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        read_located_yaml(path)
    except SourceError as exc:
        _assert_located(exc, str(path))


# Nested data with anchors: documents the loader must build or refuse by its limits, never crash on.
def _nested(depth: int) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(["1", "yes", "'q'", "*x", "~", "0o7", "[]", "{}", "2026-03-31"])
    if depth == 0:
        return leaf
    inner = _nested(depth - 1)
    return (
        leaf
        | st.builds(lambda items: "[" + ", ".join(items) + "]", st.lists(inner, max_size=4))
        | st.builds(
            lambda items: "{" + ", ".join(f"k{i}: {v}" for i, v in enumerate(items)) + "}",
            st.lists(inner, max_size=4),
        )
    )


@FAST
@given(body=_nested(6), depth=st.integers(0, 120))
def test_nested_documents_build_or_fail_located(tmp_path: Path, body: str, depth: int) -> None:
    text = (
        "anchor: &x "
        + "[" * depth
        + "1"
        + "]" * depth
        + "\nconfig:\n  mlops-platform:environment: "
        + body
        + "\n"
    )
    path = tmp_path / "Pulumi.fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_environment(path)
    except SourceError as exc:
        _assert_located(exc, str(path))
        assert all(p.line is not None for p in exc.problems), exc


@FAST
@given(text=yaml_like)
def test_any_waiver_file_loads_or_fails_located(tmp_path: Path, text: str) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_waivers(path)
    except WaiverError as exc:
        _assert_located(exc, str(path))


@settings(max_examples=2_000, deadline=None)
@given(text=st.text(max_size=40))
def test_pulumi_scalar_is_total(text: str) -> None:
    """Every plain scalar has a value or a stated refusal; numbers survive the CLI's JSON spelling."""
    try:
        value = pulumi_scalar(text)
    except ValueError as exc:  # ScalarError, MergeKeyError: refused with a reason
        assert str(exc)
        return
    assert value is None or isinstance(value, str | bool | int | float)
    if isinstance(value, float):
        assert math.isfinite(value)
        assert float(json.loads(pulumi_config_text([value]))[0]) == value


@settings(max_examples=2_000, deadline=None)
@given(value=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**63 - 1))
def test_the_cli_spelling_of_a_number_reads_back_as_the_number(value: float) -> None:
    """As float64, which is what the CLI's JSON carries (2.149099987307547e16 is spelt 21490999873075470)."""
    assert float(json.loads(pulumi_config_text({"v": value}))["v"]) == float(value)
    assert float(pulumi_scalar(pulumi_config_text(value))) == float(value)


@settings(max_examples=500, deadline=None)
@given(value=st.text(max_size=20_000) | st.integers() | st.lists(st.integers(), max_size=50))
def test_echo_is_bounded(value: Any) -> None:
    assert len(echo(value)) <= MAX_ECHO_CHARS + 40


@settings(max_examples=300, deadline=None)
@given(
    host=st.from_regex(r"[a-z]{3,10}\.[a-z]{2,5}", fullmatch=True),
    token=st.from_regex(r"[A-Za-z0-9]{24,40}", fullmatch=True),
)
def test_echo_never_shows_a_webhook_url(host: str, token: str) -> None:
    url = f"https://{host}/hooks/{token}"
    assert token not in echo(url) and token not in echo(url, ("monitoring", "receivers", 0, "url"))


# --- through the CLI: few examples, each a fresh interpreter ----------------------------------------

_BREAKS = st.sampled_from(
    [
        ("    name: prod\n", "    name: [" + "[" * 200 + "]" * 200 + "]\n"),
        ("    name: prod\n", "    name: prod\n    1: x\n"),
        ("    name: prod\n", "    name: prod\n    ':fire: [red]x[/red]': 1\n"),
        ("    owner: ml-platform@acme.example\n", "    owner: .nan\n"),
        ("    secure: v1:4m7cFh0qk2P8vLzR:Yx8kV2h3p9QwEr5tZ1nB6mC0aD7sF4gH\n", "    secure: [1, 2]\n"),
        ("url_secret: slackWebhookUrl", "url_secret: missing_key"),
        ("config:\n", "confg: 1\nconfig:\n"),
        ("        size_gib: 50\n", "        size_gib: 2026-03-31T10:00:00+02:00\n"),
    ]
)


@CLI
@given(breaks=st.lists(_BREAKS, min_size=1, max_size=3, unique=True))
def test_broken_stack_files_exit_2_located(tmp_path: Path, breaks: list[tuple[str, str]]) -> None:
    text = PROD_TEXT
    for old, new in breaks:
        text = text.replace(old, new, 1)
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text, encoding="utf-8")
    result = mlops("validate", str(path))  # fails on any traceback
    assert result.returncode == 2, result.stdout
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(f"{path}:") and line.split(":")[1].isdigit() for line in lines), (
        lines
    )
    assert "\N{FIRE}" not in result.stderr
