"""Push the drift figures to the Pushgateway, named as the platform's alert rules select them."""

from __future__ import annotations

import time
import urllib.error

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from mlops_platform.drift.errors import ServiceError
from mlops_platform.drift.psi import FeatureDrift

JOB = "mlops-drift"
PUSH_TIMEOUT_S = 30


def registry(model_share: float, results: list[FeatureDrift]) -> CollectorRegistry:
    """The figures of one run; ``model`` comes from the grouping key (``push``), never a metric label."""
    out = CollectorRegistry()
    psi = Gauge("model_drift_psi", "Population stability index of a feature", ["feature"], registry=out)
    for r in results:
        psi.labels(feature=r.feature).set(r.psi)
    Gauge(
        "model_drift_feature_share", "Share of features whose PSI is above the threshold", registry=out
    ).set(model_share)
    rows = Gauge("model_drift_rows", "Rows of each sample the last run compared", ["sample"], registry=out)
    rows.labels(sample="reference").set(max(r.reference_rows for r in results))
    rows.labels(sample="recent").set(max(r.recent_rows for r in results))
    Gauge(
        "model_drift_last_success_timestamp_seconds", "When the last drift run succeeded", registry=out
    ).set(time.time())
    return out


def push(gateway: str, model: str, figures: CollectorRegistry) -> None:
    """Replace the model's group ``{job="mlops-drift", model=<model>}`` on the Pushgateway (PUT).

    A PUT, not a POST: features that left the reference leave the group too.
    """
    try:
        push_to_gateway(
            gateway, job=JOB, registry=figures, grouping_key={"model": model}, timeout=PUSH_TIMEOUT_S
        )
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"pushing to the Pushgateway {gateway}: {exc}") from None
