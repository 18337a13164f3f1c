"""Each built image's configuration is what its recipe declares, on the one shared base layer."""

from __future__ import annotations

import pytest

from mlops_platform.tools.images.builder import BuiltImage, image_config, image_env, verify_layout
from mlops_platform.tools.images.recipes import RECIPES

NAMES = [r.name for r in RECIPES]


@pytest.mark.parametrize("name", NAMES)
def test_config_has_the_declared_entrypoint_user_ports(built: dict[str, BuiltImage], name: str) -> None:
    image = built[name]
    config = image_config(image.layout, image.recipe.tag)["config"]
    assert config.get("Entrypoint") == (list(image.recipe.entrypoint) or None)
    assert config.get("Cmd") == (list(image.recipe.cmd) or None)
    assert config["User"] == str(image.recipe.user)
    assert config["WorkingDir"] == image.recipe.workdir
    assert set(config.get("ExposedPorts", {})) == {f"{port}/tcp" for port in image.recipe.ports}
    assert config["Env"] == [f"{k}={v}" for k, v in image_env(image.recipe).items()]
    if image.recipe.upstream is not None:
        assert config["Labels"]["io.mlops-platform.stands-for"] == image.recipe.upstream


@pytest.mark.parametrize("name", NAMES)
def test_layout_blobs_match_their_digests_and_the_manifest_records_the_digest(
    built: dict[str, BuiltImage], name: str
) -> None:
    image = built[name]
    verify_layout(image.layout, image.recipe.tag)
    assert image.manifest["digest"] == image.digest
    assert image.digest.startswith("sha256:")


def test_every_image_is_the_shared_base_layer_plus_one_of_its_own(built: dict[str, BuiltImage]) -> None:
    """The project's own image has a second layer of its own: its wheel above its dependencies."""
    layers = {name: [layer["digest"] for layer in image.manifest["layers"]] for name, image in built.items()}
    assert len({value[0] for value in layers.values()}) == 1, layers  # one base blob for all
    own = {name: 3 if built[name].recipe.project_extra else 2 for name in layers}
    assert {name: len(value) for name, value in layers.items()} == own, layers


def test_the_projects_code_is_a_layer_above_its_dependencies(built: dict[str, BuiltImage]) -> None:
    """A code change rebuilds one small layer: the dependencies' entry is its own, keyed without the code."""
    from mlops_platform.tools import build_cache
    from mlops_platform.tools.images import wheel
    from mlops_platform.tools.images.builder import image_key, images_root

    image = built["platform-python"]
    assert image.recipe.project_extra is not None
    root = wheel.project_root()
    deps_key = image_key(
        image.recipe, source_digest=wheel.dependency_digest(root, image.recipe.project_extra)
    )
    deps = build_cache.lookup(images_root(), "image-platform-python-deps", deps_key)
    assert deps is not None, "the dependencies' layer is a cache entry of its own"
    lower = [layer["digest"] for layer in deps.manifest["layers"]]
    upper = [layer["digest"] for layer in image.manifest["layers"]]
    assert upper[:2] == lower and len(upper) == 3, (lower, upper)
    sizes = [layer["size"] for layer in image.manifest["layers"]]
    assert sizes[2] < sizes[1] / 20, sizes  # the wheel is small beside MLflow, SciPy and the rest
