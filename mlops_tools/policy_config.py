"""Which policy config applies to an environment: its tier's file, with its own override merged over it.

``<config dir>/tiers/<tier>.json`` holds one entry per policy of every pack for that tier (generated
by ``python -m mlops_platform.policies.catalogue``); ``<config dir>/environments/<env>.json`` may
change entries for one environment (merged key by key over the tier's entry). The environment's
*tier* decides, never its stack name: a new staging-tier environment gets staging's config.

The offline audit reads the merged document; the real-engine runs write it to a file and hand that
to the Pulumi CLI as every pack's ``--policy-pack-config``. Light on purpose (no Pulumi import): the
CLI uses it before any engine starts. The config directory is an argument: the project supplies it
(``Project.policy_config_dir``); the packs are the library's unless a command names others.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlops_platform.policies  # light: its __init__ is a docstring
from mlops_platform.tools.findings import ConfigSource

BUNDLED_PACKS_DIR = Path(mlops_platform.policies.__file__).resolve().parent
"""The library's own packs (``mlops-security``...), installed with it."""
TIERS_DIR = "tiers"
ENVIRONMENTS_DIR = "environments"
LEVEL_KEY = "enforcementLevel"


class PolicyConfigFileError(ValueError):
    """A policy config file is missing, not JSON, or not a JSON object of policy entries."""


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """The policy config of one environment and the files it was merged from (tier first)."""

    document: dict[str, Any] | None  # None: no config directory at all (packs keep their defaults)
    sources: tuple[ConfigSource, ...]

    @property
    def paths(self) -> list[Path]:
        return [Path(s.path) for s in self.sources]


def discover_packs(policies_dir: Path = BUNDLED_PACKS_DIR) -> list[Path]:
    """Every directory under ``policies_dir`` holding a ``PulumiPolicy.yaml``, sorted."""
    return sorted(p.parent for p in policies_dir.glob("*/PulumiPolicy.yaml"))


def tier_config_file(config_dir: Path, tier: str) -> Path:
    """Where a tier's policy config lives in a config directory (``tiers/<tier>.json``)."""
    return config_dir / TIERS_DIR / f"{tier}.json"


def policy_config_files(config_dir: Path | None, tier: str | None, environment: str) -> list[Path]:
    """The files that make ``environment``'s policy config, tier file first; [] without a config dir.

    Raises:
        PolicyConfigFileError: the directory exists but has no file for ``tier``.
    """
    if config_dir is None or not config_dir.is_dir():
        return []
    files = []
    if tier:
        tier_file = tier_config_file(config_dir, tier)
        if not tier_file.is_file():
            known = sorted(p.stem for p in (config_dir / TIERS_DIR).glob("*.json")) or ["none"]
            raise PolicyConfigFileError(
                f"{tier_file}: no policy config for tier {tier!r} (tiers with one: {', '.join(known)})"
            )
        files.append(tier_file)
    override = config_dir / ENVIRONMENTS_DIR / f"{environment}.json"
    if override.is_file():
        files.append(override)
    return files


def load_policy_config(config_dir: Path | None, tier: str | None, environment: str) -> PolicyConfig:
    """``environment``'s policy config: the tier's document with the environment's override over it.

    An override entry replaces the tier entry's keys it names; a bare level (``"advisory"``) stands
    for ``{"enforcementLevel": "advisory"}``. Every merged entry keeps an explicit level.

    Raises:
        PolicyConfigFileError: a file is missing, unreadable, not JSON or not an object.
    """
    files = policy_config_files(config_dir, tier, environment)
    if config_dir is None or not config_dir.is_dir():
        return PolicyConfig(None, ())
    merged: dict[str, Any] = {}
    sources = []
    for path in files:
        raw = _read_bytes(path)
        sources.append(ConfigSource(_shown(path), hashlib.sha256(raw).hexdigest()))
        for name, entry in _parse(path, raw).items():
            merged[name] = _merge_entry(merged.get(name), entry)
    return PolicyConfig(merged if files else None, tuple(sources))


def write_policy_config(config: PolicyConfig, target: Path) -> Path:
    """Write the merged document where the Pulumi CLI can read it as ``--policy-pack-config``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(config.document or {}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def describe_sources(config: PolicyConfig) -> str:
    """``policies/config/tiers/prod.json (sha256 1a2b…)``, one per file; says so when there is none."""
    if not config.sources:
        return "none (every policy at its pack's default level)"
    return ", ".join(f"{s.path} (sha256 {s.sha256})" for s in config.sources)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PolicyConfigFileError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyConfigFileError(f"{path}: not UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise PolicyConfigFileError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise PolicyConfigFileError(f"{path}: expected a JSON object of policy names")
    return data


def _merge_entry(base: Any, override: Any) -> Any:
    if isinstance(override, str):
        override = {LEVEL_KEY: override}
    if isinstance(base, str):
        base = {LEVEL_KEY: base}
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **override}
    return override


def _shown(path: Path) -> str:
    """The path relative to the working directory when below it (as the stack file is shown)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


STACKS_FILE = "stacks.json"
"""``<config dir>/stacks.json``: the tier and target of environments whose stack file has no spec."""


@dataclass(frozen=True, slots=True)
class StackProfile:
    """The tier and target an environment declares outside a spec; None where nothing says."""

    tier: str | None = None
    target: str | None = None


UNDECLARED = StackProfile()
"""No tier and no target given."""


def declared_profile(config_dir: Path | None, environment: str) -> StackProfile:
    """What ``stacks.json`` says of ``environment`` (its entry over the ``"*"`` entry).

    A program of one's own has no ``environment.tier``: this file of the project's policy config
    (``{"prod": {"tier": "prod", "target": "kubernetes"}, "*": {"tier": "dev"}}``) gives it one.

    Raises:
        PolicyConfigFileError: the file is unreadable, not JSON, or an entry is not an object of
            ``tier``/``target`` strings.
    """
    if config_dir is None:
        return StackProfile()
    path = config_dir / STACKS_FILE
    if not path.is_file():
        return StackProfile()
    data = _parse(path, _read_bytes(path))
    merged: dict[str, str] = {}
    for key in ("*", environment):
        entry = data.get(key, {})
        if not isinstance(entry, dict) or not all(
            k in ("tier", "target") and isinstance(v, str) and v for k, v in entry.items()
        ):
            raise PolicyConfigFileError(
                f'{path}: {key!r}: expected an object of non-empty "tier" and "target" strings'
            )
        merged.update(entry)
    return StackProfile(merged.get("tier"), merged.get("target"))


ADMISSION_FILE = "admission.json"
"""``<config dir>/admission.json``: per tier, ``{"install": true|false}``: whether ``mlops up`` installs the
environment's admission policies when ``--admission``/``--no-admission`` is not given (generated from
``mlops_platform.policies.admission.INSTALL_BY_DEFAULT``, the default when the file is absent)."""


def admission_install(config_dir: Path | None, tier: str) -> bool:
    """Whether an environment of ``tier`` gets its admission policies installed by ``mlops up``.

    Raises:
        PolicyConfigFileError: the file is unreadable, not JSON, or its tier entry is not
            ``{"install": <bool>}``.
    """
    from mlops_platform.policies.admission import INSTALL_BY_DEFAULT
    from mlops_platform.validation import Tier

    default = INSTALL_BY_DEFAULT.get(Tier(tier), False) if tier in set(Tier) else False
    path = (config_dir / ADMISSION_FILE) if config_dir is not None else None
    if path is None or not path.is_file():
        return default
    entry = _parse(path, _read_bytes(path)).get(tier)
    if entry is None:
        return default
    if not (isinstance(entry, dict) and set(entry) == {"install"} and isinstance(entry["install"], bool)):
        raise PolicyConfigFileError(f'{path}: {tier!r}: expected {{"install": true}} or {{"install": false}}')
    return bool(entry["install"])
