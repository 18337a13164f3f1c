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
    layers = {name: [layer["digest"] for layer in image.manifest["layers"]] for name, image in built.items()}
    assert len({value[0] for value in layers.values()}) == 1, layers  # one base blob for all
    assert all(len(value) == 2 for value in layers.values()), layers
