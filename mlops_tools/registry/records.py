"""What the registry knows about one model version, in the form resolution, snapshots and pins share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops_platform import vocabulary as L


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
            version=int(data["version"]),
            run_id=str(data.get("run_id", "")),
            source=str(data.get("source", "")),
            aliases=tuple(str(a) for a in data.get("aliases", [])),
            tags={str(k): str(v) for k, v in dict(data.get("tags", {})).items()},
            created=str(data.get("created", "")),
            metrics={str(k): float(v) for k, v in dict(data.get("metrics", {})).items()},
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
        version=int(version.get("version", 0)),
        run_id=str(version.get("run_id") or ""),
        source=str(version.get("source") or ""),
        aliases=tuple(sorted(str(a) for a in version.get("aliases", []))),
        tags=tags,
        created=iso_from_ms(version.get("creation_timestamp")),
        metrics=metrics,
        status=str(version.get("status") or ""),
    )
