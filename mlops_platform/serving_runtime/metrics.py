"""The server's Prometheus metrics, named as the platform's alert rules and dashboards read them.

Only invocations are counted: health probes and scrapes answer every few seconds and would dilute the
5xx ratio the error-rate SLO is judged on. No ``model`` label here: the scrape configuration attaches
``model`` (and ``track``) to every series of the target; the registered model's own name and version
are labels of the info metric instead.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    gc_collector,
    platform_collector,
    process_collector,
)

INVOCATIONS = "/invocations"
# Seconds; the SLOs' p99 targets run from tens of ms to seconds (histogram_quantile interpolates
# within a bucket, so the buckets bracket the usual 50-1000 ms targets closely).
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    """One registry per server (tests start several in a process; the default registry is global)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests",
            "Invocations answered, by HTTP status",
            ["handler", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an invocation, seconds",
            ["handler"],
            buckets=BUCKETS_S,
            registry=self.registry,
        )
        self.served = Info(
            "mlops_served_model", "The registered model version this server serves", registry=self.registry
        )

    def observe(self, status: int, seconds: float) -> None:
        self.requests.labels(handler=INVOCATIONS, status=str(status)).inc()
        self.duration.labels(handler=INVOCATIONS).observe(seconds)
