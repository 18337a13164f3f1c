"""The recipe table against the platform's defaults, the override mapping and the command line.

No build here: these run everywhere in a second.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_platform.tools.images import RECIPES, image_overrides, local_ref, recipe
from mlops_platform.tools.images.builder import image_key

DEFAULTS = Path(__file__).resolve().parents[2] / "stacks" / "defaults.yaml"
# Grafana cannot be built here: the Go module proxy refuses github.com/grafana/grafana (AGPL).
NOT_BUILT = {"docker.io/grafana/grafana:11.2.0"}


def _default_images() -> set[str]:
    common = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))["common"]
    return {
        common["storage"]["object_store"]["image"],
        common["storage"]["database"]["image"],
        common["registry"]["model_registry"]["image"],
        common["registry"]["image_registry"]["image"],
        common["monitoring"]["prometheus_image"],
        common["monitoring"]["alertmanager_image"],
        common["monitoring"]["grafana_image"],
        common["monitoring"]["pushgateway_image"],
    }


def test_every_upstream_default_but_grafana_has_a_recipe() -> None:
    stands_for = {r.upstream for r in RECIPES if r.upstream is not None}
    assert _default_images() - stands_for == NOT_BUILT


def test_names_are_unique_and_the_platform_image_is_declared() -> None:
    names = [r.name for r in RECIPES]
    assert len(names) == len(set(names))
    assert recipe("platform-python").project_extra == "runtime"


@pytest.mark.parametrize("name", ["prometheus", "alertmanager", "prometheus-config-reloader", "mlflow"])
def test_tag_is_the_upstream_tag_where_the_version_is_the_same(name: str) -> None:
    # The Prometheus Operator chooses flags by the CR's version, which the platform reads off the tag.
    image = recipe(name)
    assert image.upstream is not None
    assert image.upstream.rsplit(":", 1)[1] == image.tag


def test_postgres_tag_never_says_alpine() -> None:
    # components/kubernetes/storage.py runs an image whose reference says "alpine" as uid 70.
    assert "alpine" not in local_ref(recipe("postgres"), "127.0.0.1:5000")
    assert recipe("postgres").user == 999


def test_overrides_map_each_upstream_to_its_local_repository() -> None:
    overrides = image_overrides("127.0.0.1:5000")
    assert overrides["docker.io/prom/prometheus:v2.54.1"] == "127.0.0.1:5000/mlops/prometheus:v2.54.1"
    assert overrides["ghcr.io/acme-ml/mlflow-server:3.17.2"] == "127.0.0.1:5000/mlops/mlflow:3.17.2"
    assert set(overrides) == {r.upstream for r in RECIPES if r.upstream is not None}
    assert all(value.startswith("127.0.0.1:5000/mlops/") for value in overrides.values())


def test_image_key_follows_the_recipe_but_not_its_description() -> None:
    import dataclasses

    image = recipe("alertmanager")
    key = image_key(image, source_digest=None)
    assert image_key(dataclasses.replace(image, closeness="other words"), source_digest=None) == key
    assert image_key(dataclasses.replace(image, user=1234), source_digest=None) != key
    assert image_key(dataclasses.replace(image, ports=(9094,)), source_digest=None) != key


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_platform.tools.images", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_prints_the_overrides_as_json() -> None:
    done = _cli("overrides", "--registry", "127.0.0.1:5999")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == image_overrides("127.0.0.1:5999")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("overrides", "--registry", "no-port"), "--registry: 'no-port' is not HOST:PORT"),
        (("build", "no-such-image"), "no image recipe 'no-such-image'"),
        (("list", "--format", "xml"), "--format: 'xml' is not one of table, json"),
    ],
)
def test_cli_refuses_bad_input_with_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    done = _cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_lists_every_recipe() -> None:
    done = _cli("list", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert [row["name"] for row in json.loads(done.stdout)] == [r.name for r in RECIPES]


@pytest.mark.parametrize("image", [r for r in RECIPES if r.pip_lock], ids=lambda r: r.name)
def test_a_lock_pins_the_recipes_requirements_and_everything_else_with_hashes(image: object) -> None:
    from packaging.requirements import Requirement

    from mlops_platform.tools.images.builder import package_file

    assert isinstance(image, type(RECIPES[0]))
    assert image.pip_lock is not None
    text = package_file(image.pip_lock).decode()
    logical = text.replace("\\\n", " ")
    pins = {}
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line.split(" --hash=")[0].strip())
        specifier = str(requirement.specifier)
        assert specifier.startswith("=="), f"{requirement.name} is not pinned: {line}"
        assert "--hash=sha256:" in line, f"{requirement.name} has no hash"
        pins[requirement.name.lower()] = specifier.removeprefix("==")
    for wanted in image.pip_requirements:
        requirement = Requirement(wanted)
        assert pins.get(requirement.name.lower()) == str(requirement.specifier).removeprefix("=="), wanted
    assert len(pins) > len(image.pip_requirements)  # the dependencies too, not only the direct pins
