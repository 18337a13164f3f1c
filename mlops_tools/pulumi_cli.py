"""Hand over to the real Pulumi CLI with every policy pack and its per-environment config.

The offline engine and the CLI run the very same program and packs; this module only builds the
command line a user would otherwise type.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POLICIES_DIR = REPO / "policies"
INSTALL_HINT = (
    "the Pulumi CLI is not on PATH. Install it (https://www.pulumi.com/docs/install/), "
    "run `pulumi login`, then `pulumi stack init <env>`; `mlops audit <env>` works without it."
)


@dataclass(frozen=True, slots=True)
class PackConfig:
    pack: Path
    config: Path | None


def policy_packs(policies_dir: Path = POLICIES_DIR) -> list[Path]:
    """Every CrossGuard pack: a directory under ``policies/`` holding ``PulumiPolicy.yaml``."""
    return sorted(p.parent for p in policies_dir.glob("*/PulumiPolicy.yaml"))


def pack_config(pack: Path, environment: str, policies_dir: Path = POLICIES_DIR) -> Path | None:
    """The pack's ``--policy-pack-config`` for ``environment``: per pack, else one file per env."""
    for candidate in (
        policies_dir / "config" / environment / f"{pack.name}.json",
        policies_dir / "config" / f"{environment}.json",
    ):
        if candidate.is_file():
            return candidate
    return None


def packs_for(environment: str, policies_dir: Path = POLICIES_DIR) -> list[PackConfig]:
    return [PackConfig(p, pack_config(p, environment, policies_dir)) for p in policy_packs(policies_dir)]


def pulumi_command(verb: str, stack: str, policies_dir: Path = POLICIES_DIR) -> list[str]:
    """``pulumi <verb> -s <stack> --policy-pack P --policy-pack-config C ...`` for every pack."""
    command = ["pulumi", verb, "--stack", stack]
    for item in packs_for(stack, policies_dir):
        command += ["--policy-pack", str(item.pack)]
        if item.config is not None:
            command += ["--policy-pack-config", str(item.config)]
    return command


def find_pulumi() -> str | None:
    return shutil.which("pulumi")
