"""The built wheel, installed into a fresh virtual environment, beside a project with its own packages.

The wheel is built as a user's ``pip`` builds it (``pip wheel --no-deps .``, build isolation on) and
installed with ``--no-deps`` into a new venv. The dependencies (pulumi, the provider SDKs...) are not
downloaded again: a ``.pth`` line puts this test environment's site-packages *after* the venv's own, so
the package under test is the installed wheel, never the repository (that environment's editable
install is a ``.pth`` hook there, which a plain path line does not run). The project then has its own
``components``, ``stacks`` and ``policies`` packages, as a platform team's may.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.wheel_build import build_wheel

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

PROBE = """
import json, components.args, stacks.layers, policies.rules
import mlops_platform, mlops_platform.components.args, mlops_platform.stacks.loader
import mlops_platform.policies.catalogue, mlops_platform.tools.cli
print(json.dumps({
    "own": [components.args.__file__, stacks.layers.__file__, policies.rules.__file__],
    "library": [mlops_platform.components.args.__file__, mlops_platform.stacks.loader.__file__,
                mlops_platform.policies.catalogue.__file__, mlops_platform.tools.cli.__file__],
    "own_values": [components.args.OWN, stacks.layers.OWN, policies.rules.OWN],
}))
"""


def _run(*args: str | Path, cwd: Path, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    assert _run(sys.executable, "-m", "venv", root, cwd=root).returncode == 0
    python = root / "bin" / "python"
    site = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root).stdout.strip()
    )
    (site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    done = _run(python, "-m", "pip", "install", "--no-deps", "-q", wheel, cwd=root)
    assert done.returncode == 0, done.stderr
    return root


def test_the_wheel_holds_one_package_and_no_example_organisation(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"mlops_platform"}
    assert (zipfile.Path(wheel) / "mlops_platform-0.1.0.dist-info" / "top_level.txt").read_text().split() == [
        "mlops_platform"
    ]
    project_files = [n for n in names if "/Pulumi." in n and "PulumiPolicy" not in n]
    project_files += [n for n in names if n.endswith("waivers.yaml") or "/policies/config/" in n]
    assert project_files == []
    # What the library reads at run time is there.
    for needed in (
        "mlops_platform/stacks/defaults.yaml",
        "mlops_platform/components/templates/prometheus.yml.j2",
        "mlops_platform/tools/reports/templates/report.html.j2",
        "mlops_platform/tools/toolchain/gomod/pulumi/go.mod",
        *(f"mlops_platform/policies/{p}/{f}" for p in ("mlops-security", "mlops-reliability",
          "mlops-governance") for f in ("PulumiPolicy.yaml", "__main__.py", "requirements.txt")),
    ):  # fmt: skip
        assert needed in names, needed


@pytest.fixture(scope="module")
def project(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("platform-team") / "platform-team"
    done = _run(venv / "bin" / "mlops", "init", root, cwd=root.parent)
    assert done.returncode == 0, done.stderr
    for package, module in (("components", "args"), ("stacks", "layers"), ("policies", "rules")):
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").write_text("", encoding="utf-8")
        (root / package / f"{module}.py").write_text(f"OWN = '{package}.{module}'\n", encoding="utf-8")
    return root


def test_the_projects_packages_and_the_library_import_side_by_side(venv: Path, project: Path) -> None:
    done = _run(venv / "bin" / "python", "-c", PROBE, cwd=project)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["own_values"] == ["components.args", "stacks.layers", "policies.rules"]
    assert all(Path(f).is_relative_to(project) for f in found["own"]), found["own"]
    assert all(Path(f).is_relative_to(venv) for f in found["library"]), found["library"]


def test_the_installed_cli_validates_and_audits_the_project(venv: Path, project: Path) -> None:
    mlops = venv / "bin" / "mlops"
    listed = _run(mlops, "envs", cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert "site-packages" not in listed.stdout
    assert [line.split()[1] for line in listed.stdout.splitlines() if line.startswith("│")] == [
        "dev",
        "prod",
        "staging",
    ]
    audited = _run(mlops, "audit", "dev", "prod", cwd=project)
    assert audited.returncode == 0, audited.stderr
    assert "== dev (tier dev, target docker): PASSED ==" in audited.stdout
    assert "== prod (tier prod, target kubernetes): PASSED ==" in audited.stdout
