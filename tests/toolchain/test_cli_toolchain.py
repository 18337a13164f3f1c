"""`mlops toolchain env|status|install` as a shell sees them; failures exit 2 without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_platform.tools.cli import app
from mlops_platform.tools.toolchain import installed
from mlops_platform.tools.toolchain.pins import COMPONENTS

from .conftest import Fill

REPO = Path(__file__).resolve().parents[2]
ALL = [c.name for c in COMPONENTS]


def _mlops(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_env_output_is_shell_that_names_the_provider_dir(root: Path, fill: Fill) -> None:
    fill(ALL)
    code, stdout, _ = _mlops("toolchain", "env")
    assert code == 0
    assert all(line.startswith("export ") for line in stdout.splitlines())
    script = stdout + 'printf "%s\\n%s" "$MLOPS_KUBERNETES_PROVIDER_DIR" "$PATH"'
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    provider_dir, path = shell.stdout.split("\n", 1)
    toolchain = installed()
    assert toolchain is not None
    assert " " in provider_dir  # the fixture's root has a space: quoting held
    assert provider_dir == str(toolchain.kubernetes_provider_dir)
    assert path.split(os.pathsep)[:2] == [str(toolchain.pulumi.parent), provider_dir]


def test_env_without_a_toolchain_exits_2_and_says_what_to_run(root: Path) -> None:
    code, stdout, stderr = _mlops("toolchain", "env")
    assert (code, stdout) == (2, "")
    assert "the toolchain is not installed: run `mlops toolchain install` first" in stderr


def test_status_lists_every_component_built_or_missing(root: Path, fill: Fill) -> None:
    fill(["pulumi-cli", "crds"])
    code, stdout, _ = _mlops("toolchain", "status", "--format", "json")
    assert code == 0
    rows = {row["component"]: row for row in json.loads(stdout)}
    assert list(rows) == ALL
    assert {name: row["built"] for name, row in rows.items()} == {
        "pulumi-cli": True,
        "kubernetes-provider": False,
        "kube-apiserver": False,
        "etcd": False,
        "crds": True,
        "kube-node": False,
        "metrics-server": False,
        "coredns": False,
        "local-path-provisioner": False,
        "prometheus-operator": False,
    }
    assert rows["pulumi-cli"]["path"].endswith(f"pulumi-cli-{rows['pulumi-cli']['key']}")
    code, stdout, _ = _mlops("toolchain", "status")
    assert code == 0
    assert "missing" in stdout
    assert "built" in stdout


def test_install_of_an_unknown_component_exits_2(root: Path) -> None:
    code, _, stderr = _mlops("toolchain", "install", "--only", "kube-proxy")
    assert code == 2
    assert "error: unknown component(s) kube-proxy; choose from pulumi-cli" in stderr
    assert "Traceback" not in stderr


def test_install_on_a_warm_cache_prints_one_line_per_component(root: Path, fill: Fill) -> None:
    fill(ALL)
    code, _, stderr = _mlops("toolchain", "install")
    assert code == 0
    assert [line for line in stderr.splitlines() if "cached" in line] == [
        f"{c.name} {c.version}: cached ... 0.0 s" for c in COMPONENTS
    ]


def test_help_imports_neither_pulumi_nor_the_toolchain() -> None:
    probe = (
        "import sys\n"
        "from mlops_platform.tools.cli import app\n"
        "from typer.testing import CliRunner\n"
        "assert CliRunner().invoke(app, ['toolchain', '--help']).exit_code == 0\n"
        "names = [m for m in sys.modules if m.split('.')[0] == 'pulumi']\n"
        "names += [m for m in sys.modules if m.startswith('mlops_platform.tools.toolchain')]\n"
        "heavy = sorted(names)\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("fmt", ["yaml"])
def test_status_refuses_an_unknown_format(root: Path, fmt: str) -> None:
    code, _, stderr = _mlops("toolchain", "status", "--format", fmt)
    assert code == 2
    assert "--format: must be table or json" in stderr
