"""What the registry knows about one model version, in the form resolution, snapshots and pins share."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops_platform import vocabulary as L

MAX_VERSION_DIGITS = 18  # far beyond any registry's count, far below Python's int-to-str limit (4,300)


def version_number(value: Any) -> int:
    """A model version as the registry or a snapshot writes it: a positive integer, or its decimal text.

    A boolean, a float (``1e400`` is infinity), a negative number, zero, an over-long number or any
    other text is not a version.

    Raises:
        ValueError: ``value`` is not a version number (the message quotes it, clipped).
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f"version must be a positive integer, not {type(value).__name__} {str(value)[:40]!r}"
        )
    text = str(value) if isinstance(value, str) else None
    if text is not None and not (text.isascii() and text.isdigit() and len(text) <= MAX_VERSION_DIGITS):
        raise ValueError(f"version must be a positive integer, not {text[:40]!r}")
    number = int(value)
    if not 1 <= number < 10**MAX_VERSION_DIGITS:
        raise ValueError(f"version must be a positive integer below 10^{MAX_VERSION_DIGITS}, not {number}")
    return number


def metric_value(value: Any) -> float:
    """A metric's value: a finite number (a boolean is not one).

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"a metric must be a number, not {type(value).__name__}")
    number = float(value) if not isinstance(value, str) or len(value) <= 40 else math.nan
    if not math.isfinite(number):
        raise ValueError(f"a metric must be a finite number, not {str(value)[:40]!r}")
    return number


@dataclass(frozen=True, kw_only=True)
class VersionRecord:
    """One registered model version: number, provenance, aliases, tags and its run's metrics."""

    model: str
    version: int
    run_id: str = ""
    source: str = ""
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    created: str = ""
    """Creation time, ISO 8601 UTC (``2026-12-01T14:03:11Z``)."""
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = ""

    @property
    def model_card_url(self) -> str:
        return self.tags.get(L.TAG_MODEL_CARD_URL, "")

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "source": self.source,
            "aliases": list(self.aliases),
            "tags": dict(sorted(self.tags.items())),
            "created": self.created,
            "metrics": dict(sorted(self.metrics.items())),
            "status": self.status,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VersionRecord:
        """Raises ValueError/KeyError/TypeError on a malformed entry (the snapshot reader locates it)."""
        return cls(
            model=str(data["model"]),
            version=version_number(data["version"]),
            run_id=str(data.get("run_id", "")),
            source=str(data.get("source", "")),
            aliases=tuple(str(a) for a in data.get("aliases", [])),
            tags={str(k): str(v) for k, v in dict(data.get("tags", {})).items()},
            created=str(data.get("created", "")),
            metrics={str(k): metric_value(v) for k, v in dict(data.get("metrics", {})).items()},
            status=str(data.get("status", "")),
        )


def iso_from_ms(timestamp_ms: Any) -> str:
    """MLflow's epoch milliseconds as ISO 8601 UTC; empty when absent or not a number."""
    try:
        seconds = int(timestamp_ms) / 1000
    except (TypeError, ValueError):
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_from_mlflow(version: dict[str, Any], metrics: dict[str, float]) -> VersionRecord:
    """A ``VersionRecord`` from MLflow's ``model_version`` JSON and its run's metrics."""
    tags = {
        str(t["key"]): str(t.get("value", ""))
        for t in version.get("tags", [])
        if isinstance(t, dict) and "key" in t
    }
    return VersionRecord(
        model=str(version.get("name", "")),
        version=version_number(version.get("version")),
        run_id=str(version.get("run_id") or ""),
        source=str(version.get("source") or ""),
        aliases=tuple(sorted(str(a) for a in version.get("aliases", []))),
        tags=tags,
        created=iso_from_ms(version.get("creation_timestamp")),
        metrics=metrics,
        status=str(version.get("status") or ""),
    )
