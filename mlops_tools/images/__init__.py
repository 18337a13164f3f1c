"""The platform's images, built here: Debian packages, PyPI and Go modules into OCI image layouts.

No image is pulled from a public registry. ``recipes`` declares each image (what upstream default it
stands for, its software version, entrypoint, user, ports and how close it is); ``builder`` builds
them through the shared build cache on one Debian base layer; ``registry`` runs a local OCI registry,
pushes the images there and maps each upstream reference to its local one
(``image_overrides``, for the spec's ``environment.image_overrides``).

Command line: ``python -m mlops_platform.tools.images build [NAMES]`` and
``python -m mlops_platform.tools.images push --registry HOST:PORT``.
"""

from __future__ import annotations

from mlops_platform.tools.images.recipes import RECIPES, ImageRecipe, recipe
from mlops_platform.tools.images.registry import image_overrides, local_ref

__all__ = ["RECIPES", "ImageRecipe", "image_overrides", "local_ref", "recipe"]
