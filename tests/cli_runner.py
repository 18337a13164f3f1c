"""Run the ``mlops`` command as a user would: a fresh interpreter, the repository as working directory.

Every call fails on a traceback in its output: no command may print one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def mlops(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path = REPO, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "mlops_platform.tools.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result
