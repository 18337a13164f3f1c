"""Policy packs in the form this engine starts without a Python language host: an executable each.

The Pulumi CLI runs a pack *directory* through the language host of its runtime
(``pulumi-language-python``), which these machines cannot build. A ``--policy-pack`` path that is an
executable file is started as a binary analyzer plugin instead: the engine runs it with its own
address as the only argument and reads ``PulumiPolicy.yaml`` beside it for the pack's version. Each
launcher written here sits beside a copy of its pack's ``PulumiPolicy.yaml`` and starts the pack
exactly as the language host would (``python -u -m pulumi.policy <engine> .`` in the pack
directory), with the Python that runs this tool, the one that has the project installed; the pack
exits when the engine that started it is gone (``children.python_module``).
"""

from __future__ import annotations

import shlex
import shutil
import stat
import sys
from pathlib import Path

from mlops_platform.tools.engine.children import python_module

LAUNCHER_NAME = "pulumi-analyzer-policy"


def write_launchers(packs: list[Path], into: Path, *, python: str | None = None) -> list[Path]:
    """Write one launcher per pack directory under ``into``; return the executables, in ``packs`` order.

    Args:
        packs: policy pack directories (each holding ``PulumiPolicy.yaml``).
        into: a private directory; one subdirectory per pack is created there.
        python: the interpreter that starts the packs (default: this process's).
    """
    interpreter = python or sys.executable
    launchers = []
    for pack in packs:
        home = into / pack.name
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pack / "PulumiPolicy.yaml", home / "PulumiPolicy.yaml")
        launcher = home / LAUNCHER_NAME
        launcher.write_text(
            "#!/bin/sh\n"
            f"# Starts the {pack.name} policy pack as the Python language host would.\n"
            f"cd {shlex.quote(str(pack.resolve()))} || exit 1\n"
            f'exec {shlex.join(python_module(interpreter, "pulumi.policy"))} "$1" .\n',
            encoding="utf-8",
        )
        launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        launchers.append(launcher)
    return launchers
