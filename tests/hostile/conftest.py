"""Shared helpers of the hostile-input tests: bundled stack files edited into broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import REPO

PROD_TEXT = (REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8")


def located(line: str, file: str, lineno: int | None = None) -> bool:
    """Whether one output line is a problem located in ``file`` (at ``lineno`` when given)."""
    prefix = f"{file}:{lineno}:" if lineno is not None else f"{file}:"
    return line.startswith(prefix)


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    """A directory for hostile stack files (``Pulumi.<name>.yaml``)."""
    return tmp_path
