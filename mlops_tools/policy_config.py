"""Which ``--policy-pack-config`` file applies to a pack in an environment: one lookup for every engine.

The offline audit reads the file it names; the real-engine runs hand the very same path to the
Pulumi CLI. The config directory is the project's (``Project.policy_config_dir``); the packs are the
library's unless a command names others.
Light on purpose (no Pulumi import): the CLI uses it before any engine starts.
"""

from __future__ import annotations

from pathlib import Path

import mlops_platform.policies  # light: its __init__ is a docstring

BUNDLED_PACKS_DIR = Path(mlops_platform.policies.__file__).resolve().parent
"""The library's own packs (``mlops-security``...), installed with it."""


def discover_packs(policies_dir: Path = BUNDLED_PACKS_DIR) -> list[Path]:
    """Every directory under ``policies_dir`` holding a ``PulumiPolicy.yaml``, sorted."""
    return sorted(p.parent for p in policies_dir.glob("*/PulumiPolicy.yaml"))


def policy_config_file(config_dir: Path | None, environment: str, pack_dir: Path) -> tuple[Path | None, bool]:
    """The policy config file of one pack in one environment, and whether it is that pack's own.

    Looks for a per-pack file first (``<env>/<pack>.json``, ``<pack>.<env>.json``, ``<pack>/<env>.json``),
    then the environment's shared file ``<env>.json`` (keyed by policy name across all packs). A
    pack's own file may name only that pack's policies; a shared one names policies of any pack.
    """
    if config_dir is None or not config_dir.is_dir():
        return None, False
    pack = pack_dir.name
    for candidate in (
        config_dir / environment / f"{pack}.json",
        config_dir / f"{pack}.{environment}.json",
        config_dir / pack / f"{environment}.json",
    ):
        if candidate.is_file():
            return candidate, True
    shared = config_dir / f"{environment}.json"
    if shared.is_file():
        return shared, False
    return None, False
