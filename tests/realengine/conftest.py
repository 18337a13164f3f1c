"""Fixtures for tests that drive the real Pulumi engine (the toolchain's CLI and kubernetes provider).

Without the toolchain these tests skip on a developer's machine and fail under ``CI=true``: CI builds
it (``tests/run.sh`` runs ``mlops toolchain install`` first), so a missing build there is a defect.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.tools.engine_pulumi.workspace import EngineTools

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
    from mlops_platform.tools.toolchain import installed

    built = installed(["pulumi-cli", "kubernetes-provider"])
    if built is None:
        require_tool("the Pulumi CLI and kubernetes provider build")
    assert built is not None
    return EngineTools(built.pulumi, built.kubernetes_provider_dir)


def bundled_stack_file(
    root: Path,
    env: str,
    edit: Callable[[dict[str, Any]], None] | None = None,
    *,
    name: str | None = None,
    nodes: bool = True,
) -> Path:
    """The bundled ``stacks/Pulumi.<env>.yaml``, edited, saved as ``root/env/Pulumi.<name or env>.yaml``.

    ``nodes=False`` sets ``environment.await_readiness: false``, for a cluster where nothing runs.
    """
    config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{env}.yaml").read_text(encoding="utf-8"))
    if not nodes:
        config["config"]["mlops-platform:environment"]["await_readiness"] = False
    if edit is not None:
        edit(config)
    path = root / "env" / f"Pulumi.{name or env}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
