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


def _flatten(value: Any, path: str, out: dict[str, Any], entries: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(child, f"{path}.{key}" if path else str(key), out, entries)
    elif isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
        # Named entries (models, buckets, receivers) compare by name, not by position.
        for child in value:
            entry = f"{path}[{child['name']}]"
            entries[entry] = child
            _flatten({k: v for k, v in child.items() if k != "name"}, entry, out, entries)
    else:
        out[path] = value


def flatten(spec: EnvironmentSpec) -> dict[str, Any]:
    """Leaf path -> value of the merged spec (``serving.models[fraud-scorer].replicas.min``)."""
    out: dict[str, Any] = {}
    _flatten(spec.model_dump(mode="json"), "", out, {})
    return out


def _entries(spec: EnvironmentSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    out: dict[str, Any] = {}
    entries: dict[str, Any] = {}
    _flatten(spec.model_dump(mode="json"), "", out, entries)
    return out, entries


def diff_specs(left: EnvironmentSpec, right: EnvironmentSpec) -> list[Difference]:
    """Every leaf whose value differs, sorted by path; absent on one side shows as ``(absent)``.

    A named entry (a model, a bucket, a receiver) on one side only is one row, its path
    ``serving.models[recommender]`` and its value the whole entry, not one row per key.
    """
    (a, a_entries), (b, b_entries) = _entries(left), _entries(right)
    whole = {e for e in a_entries.keys() ^ b_entries.keys()}
    whole = {e for e in whole if not any(e.startswith(f"{w}.") or e.startswith(f"{w}[") for w in whole - {e})}

    def inside(path: str) -> bool:
        return any(path.startswith(f"{w}.") or path.startswith(f"{w}[") for w in whole)

    rows = [
        Difference(path, a.get(path, MISSING), b.get(path, MISSING))
        for path in a.keys() | b.keys()
        if not inside(path) and a.get(path, MISSING) != b.get(path, MISSING)
    ]
    rows += [Difference(e, a_entries.get(e, MISSING), b_entries.get(e, MISSING)) for e in whole]
    return sorted(rows, key=lambda d: d.path)
