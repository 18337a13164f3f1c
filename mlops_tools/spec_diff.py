"""`mlops diff A B`: where two environments really differ, after tier defaults are applied.

Compares the fully merged specs key by key, so a reviewer sees the effective difference between,
say, staging and prod (replicas, digests, retention...) rather than the difference between two
files that each state only what departs from their tier's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_platform.stacks.schema import EnvironmentSpec


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    left: Any
    right: Any


MISSING = "(absent)"


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(child, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
        # Named entries (models, buckets, receivers) compare by name, not by position.
        for child in value:
            _flatten({k: v for k, v in child.items() if k != "name"}, f"{path}[{child['name']}]", out)
    else:
        out[path] = value


def flatten(spec: EnvironmentSpec) -> dict[str, Any]:
    """Leaf path -> value of the merged spec (``serving.models[fraud-scorer].replicas.min``)."""
    out: dict[str, Any] = {}
    _flatten(spec.model_dump(mode="json"), "", out)
    return out


def diff_specs(left: EnvironmentSpec, right: EnvironmentSpec) -> list[Difference]:
    """Every leaf whose value differs, sorted by path; absent on one side shows as ``(absent)``."""
    a, b = flatten(left), flatten(right)
    return [
        Difference(path, a.get(path, MISSING), b.get(path, MISSING))
        for path in sorted(a.keys() | b.keys())
        if a.get(path, MISSING) != b.get(path, MISSING)
    ]
