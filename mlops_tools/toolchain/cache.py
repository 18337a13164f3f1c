"""Where the toolchain's components live and how they are keyed: one entry each in a build cache.

A component is usable only as ``<root>/<name>-<key>`` holding a ``manifest.json`` whose listed files
exist; ``mlops_platform.tools.build_cache`` builds, verifies and publishes it atomically under a lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlops_platform.tools.build_cache import MANIFEST, cache_home, cache_key, read_manifest
from mlops_platform.tools.build_cache import entry_path as component_dir

ROOT_ENV = "MLOPS_TOOLCHAIN_CACHE"

__all__ = ["MANIFEST", "ROOT_ENV", "cache_key", "cache_root", "component_dir", "read_manifest"]


def cache_root() -> Path:
    """``$MLOPS_TOOLCHAIN_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/mlops-platform/toolchain``."""
    explicit = os.environ.get(ROOT_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    return cache_home() / "toolchain"
