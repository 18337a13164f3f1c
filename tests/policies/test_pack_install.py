"""A pack installs like any pack: its directory as ``pulumi policy publish`` uploads it, its own
``requirements.txt`` into a fresh virtual environment outside the repository, and it answers the
engine byte for byte as the in-repo pack does.

The project's distribution comes from a wheel built from this tree (pip's ``--find-links``); every
other requirement from the package index, as for any pack. The three packs' requirements are the same
file (tested), so one fresh environment serves them.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2

from mlops_platform.policies import sdk_adapter
from mlops_platform.policies.catalogue import rules_for
from mlops_platform.tools.engine.analyzer import (
    CALL_TIMEOUT_S,
    _captured_stack_resource,
    captured_request,
    start_pack,
)
from mlops_platform.tools.engine.audit import capture_environment
from tests.policies.conftest import PACKS, ROOT
from tests.wheel_build import build_wheel

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
PINS = dict(d.split("==", 1) for d in PYPROJECT["project"]["dependencies"])


def _requirements(pack: str) -> list[str]:
    lines = (ROOT / "policies" / pack / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("pack", PACKS)
def test_requirements_name_the_distribution_pinned(pack: str) -> None:
    reqs = _requirements(pack)
    assert f"mlops-platform=={VERSION}" in reqs
    for req in reqs:
        name, _, version = req.partition("==")
        assert version, f"{pack}: {req} is not pinned"
        if name in PINS:
            assert version == PINS[name], f"{pack}: {req} differs from pyproject's {PINS[name]}"
    assert reqs == _requirements(PACKS[0]), "one requirement set for the three packs"


def test_fast_path_mirrors_the_pinned_pulumi_policy() -> None:
    """The fast path copies pulumi-policy's servicer loop: a new pin needs a new look at it."""
    assert PINS["pulumi-policy"] == sdk_adapter.WRITTEN_FOR
    assert metadata.version("pulumi_policy") == sdk_adapter.WRITTEN_FOR


def test_fast_path_says_once_that_it_is_active(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=sdk_adapter.__name__)
    from pulumi_policy import policy as sdk

    monkeypatch.setattr(sdk, "_PolicyAnalyzerServicer", sdk._PolicyAnalyzerServicer)
    assert sdk_adapter.install_shared_analysis() is True
    assert sdk_adapter.install_shared_analysis() is True
    on = [r for r in caplog.records if r.name == sdk_adapter.__name__]
    assert [(r.levelno, "1.21.0" in r.getMessage()) for r in on] == [(logging.INFO, True)]


def test_a_pack_on_another_pulumi_policy_stops_with_a_message(tmp_path: Path) -> None:
    """Not the SDK's servicer silently, not a traceback: the pack exits saying which versions differ."""
    main = ROOT / "policies" / "mlops-security" / "__main__.py"
    started = (
        "import importlib.metadata as m, runpy\n"
        "real = m.version\n"
        "m.version = lambda name: '9.9.9' if name == 'pulumi_policy' else real(name)\n"
        f"runpy.run_path({str(main)!r}, run_name='__main__')\n"
    )
    command = [sys.executable, "-c", started]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("mlops-security: pulumi-policy 9.9.9 is installed;"), done.stderr
    assert "Install pulumi-policy==1.21.0" in done.stderr and "Traceback" not in done.stderr


def _tarball(pack_dir: Path, target: Path) -> Path:
    """The pack directory as one archive (what ``pulumi policy publish`` uploads), caches left out."""
    archive = target / f"{pack_dir.name}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(pack_dir.rglob("*")):
            if "__pycache__" not in path.parts and path.is_file():
                tar.add(path, arcname=str(path.relative_to(pack_dir)))
    return archive


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(directory holding the unpacked packs, the fresh venv's python), both outside the repository."""
    work = tmp_path_factory.mktemp("pack-install")
    assert ROOT not in work.parents
    wheels = build_wheel(work / "build").parent
    unpacked = work / "packs"
    for pack in PACKS:
        archive = _tarball(ROOT / "policies" / pack, work)
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked / pack, filter="data")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(unpacked / PACKS[0] / "requirements.txt"),
            "--find-links",
            str(wheels),
        ],
        check=True,
        cwd=work,
    )
    yield unpacked, python


@pytest.mark.slow
@pytest.mark.parametrize("pack", PACKS)
def test_tarball_pack_answers_like_the_in_repo_pack(installed: tuple[Path, Path], pack: str) -> None:
    unpacked, python = installed
    where = subprocess.run(
        [str(python), "-c", "import mlops_platform; print(mlops_platform.__file__)"],
        cwd=unpacked / pack,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert not Path(where).is_relative_to(ROOT), f"the fresh venv imported the repository: {where}"
    capture = capture_environment(ROOT / "stacks" / "Pulumi.prod.yaml")
    config = packs_config(pack)
    with (
        start_pack(ROOT / "policies" / pack, stack="prod", policy_config=config) as repo,
        start_pack(unpacked / pack, stack="prod", policy_config=config, python=str(python)) as fresh,
    ):
        stubs = [session._stub for session in (repo, fresh)]
        infos = [s.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT_S) for s in stubs]
        assert infos[0].SerializeToString() == infos[1].SerializeToString()
        answered = 0
        for resource in capture.resources:
            request = captured_request(resource)
            a, b = (s.Analyze(request, timeout=CALL_TIMEOUT_S).SerializeToString() for s in stubs)
            assert a == b, resource.urn
            answered += bool(a)
        assert answered, "some resource got a non-empty answer (violations or not-applicable)"
        stack = analyzer_pb2.AnalyzeStackRequest(
            resources=[_captured_stack_resource(r) for r in capture.resources]
        )
        a, b = (s.AnalyzeStack(stack, timeout=CALL_TIMEOUT_S).SerializeToString() for s in stubs)
        assert a == b


def packs_config(pack: str) -> dict[str, object]:
    """Prod's ``--policy-pack-config`` entries of this pack's rules."""
    everything = json.loads((ROOT / "policies" / "config" / "tiers" / "prod.json").read_text())
    return {rule.name: everything[rule.name] for rule in rules_for(pack)}
