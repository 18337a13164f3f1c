"""The node's image registry: the platform's images, as an air-gapped organisation mirrors them.

Pods name images ``mlops.local:5000/mlops/<name>:<tag>`` (``MIRROR``); containerd's ``hosts.toml``
sends those pulls to Debian's ``docker-registry`` running inside the node on its own address, which
the host reaches through the node's veth pair. ``publish`` pushes built images there (``skopeo copy
--preserve-digests``: the digests stay as built) and returns the spec's ``environment.images``
overrides that make a bundled environment run them.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence

from mlops_platform.tools.images.builder import BuiltImage
from mlops_platform.tools.images.recipes import RECIPES, ImageRecipe
from mlops_platform.tools.images.registry import image_overrides, local_ref, pushed
from mlops_platform.tools.toolchain.commands import Progress

MIRROR = "mlops.local:5000"
"""The registry name every pod of the node pulls the platform's images by."""
REGISTRY_PORT = 5000


def answers(address: str) -> bool:
    """Whether the registry at ``host:port`` answers the distribution API's base endpoint."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def mirror_ref(image: ImageRecipe) -> str:
    """Where a pod of the node pulls ``image`` from."""
    return local_ref(image, MIRROR)


def config_reloader_image() -> str:
    """The Prometheus Operator's config reloader, as pods of the node pull it."""
    return next(mirror_ref(r) for r in RECIPES if r.name == "prometheus-config-reloader")


def publish(images: Sequence[BuiltImage], registry: str, *, progress: Progress) -> dict[str, str]:
    """Push ``images`` to the node's registry at ``registry``; the overrides that make a spec use them.

    Raises:
        ToolchainError: a push failed or the registry serves another digest than the one built.
    """
    pushed(images, registry, progress=progress)
    return image_overrides(MIRROR, [image.recipe for image in images])
