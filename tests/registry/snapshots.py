"""Registry snapshot files written by hand, for promote and rollback tests that need no MLflow server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.registry.envs import approved


def record(
    model: str, version: Any, *, run: str = "", ref: str = "MRM-2026-014", auc: float = 0.95
) -> dict[str, Any]:
    return {
        "model": model,
        "version": version,
        "run_id": run or f"run-{model}-{version}",
        "source": f"models:/{model}/{version}",
        "aliases": [],
        "tags": approved(ref),
        "created": "2026-12-01T00:00:00Z",
        "metrics": {"auc": auc},
        "status": "READY",
    }


def write_snapshot(
    path: Path, models: dict[str, tuple[dict[str, int], list[dict[str, Any]]]], uri: str
) -> Path:
    """``models``: name -> (aliases, version records), as ``mlops registry snapshot`` writes them.

    Each record lists the aliases pointing at it, as the registry's answers do.
    """
    for aliases, records in models.values():
        for entry in records:
            entry["aliases"] = sorted(a for a, v in aliases.items() if v == entry["version"])
    document = {
        "format": "mlops-registry-snapshot/1",
        "environment": "prod",
        "tracking_uri": uri,
        "taken_at": "2026-12-01T00:00:00Z",
        "models": {
            name: {"aliases": aliases, "versions": {str(r["version"]): r for r in records}}
            for name, (aliases, records) in models.items()
        },
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def bundled_models(uri: str, path: Path, *, fraud_versions: int = 4) -> Path:
    """fraud-scorer 1..N (champion 3, challenger 4), churn-predictor 1..2, recommender 1 (champion)."""
    return write_snapshot(
        path,
        {
            "fraud-scorer": (
                {"champion": 3, "challenger": 4},
                [record("fraud-scorer", v) for v in range(1, fraud_versions + 1)],
            ),
            "churn-predictor": (
                {},
                [record("churn-predictor", v, ref="MRM-2026-021", auc=0.86) for v in (1, 2)],
            ),
            "recommender": ({"champion": 1}, [record("recommender", 1, ref="MRM-2026-030")]),
        },
        uri,
    )
