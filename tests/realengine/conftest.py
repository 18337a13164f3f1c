"""Fixtures for tests that drive the real Pulumi engine (the toolchain's CLI and kubernetes provider).

Without the toolchain these tests skip on a developer's machine and fail under ``CI=true``: CI builds
it (``tests/run.sh`` runs ``mlops toolchain install`` first), so a missing build there is a defect.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops_tools.engine_pulumi.workspace import EngineTools

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def require_tool(what: str) -> None:
    """Fail under CI, skip elsewhere: a test that needs a tool never passes without it."""
    message = f"{what} is not installed: run `mlops toolchain install`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def engine_tools() -> EngineTools:
    from mlops_tools.toolchain import installed

    built = installed(["pulumi-cli", "kubernetes-provider"])
    if built is None:
        require_tool("the Pulumi CLI and kubernetes provider build")
    assert built is not None
    return EngineTools(built.pulumi, built.kubernetes_provider_dir)
