"""``MonitoringStack``: metrics, alert rules per model, alert routing, dashboards, drift checks."""

from __future__ import annotations

import importlib

import pulumi

from mlops_platform.components.arg_checks import check_monitoring
from mlops_platform.components.args import MonitoringArgs, MonitoringOutputs


class MonitoringStack(pulumi.ComponentResource):
    """The monitoring layer over the serving layer's scrape targets and SLOs."""

    prometheus_url: pulumi.Output[str]
    """Prometheus inside the namespace / network."""
    alertmanager_url: pulumi.Output[str]
    """Alertmanager inside the namespace / network."""
    grafana_url: pulumi.Output[str] | None
    """Grafana inside the namespace / network; None when the layer has no Grafana (``grafana_image``)."""
    pushgateway_url: pulumi.Output[str]
    """The Pushgateway the drift jobs push to, inside the namespace / network."""
    outputs: MonitoringOutputs
    """Every output of the layer, typed."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_monitoring(name, args)  # before anything registers: a refused component leaves no trace
        super().__init__("mlops:monitoring:MonitoringStack", name, None, opts)
        builder = importlib.import_module(f"mlops_platform.components.{args.target.value}.monitoring")
        self.outputs = builder.build(self, name, args)
        self.prometheus_url = self.outputs.prometheus_url
        self.alertmanager_url = self.outputs.alertmanager_url
        self.grafana_url = self.outputs.grafana_url
        self.pushgateway_url = self.outputs.pushgateway_url
        outputs: dict[str, pulumi.Output[str]] = {
            "prometheus_url": self.prometheus_url,
            "alertmanager_url": self.alertmanager_url,
            "pushgateway_url": self.pushgateway_url,
        }
        if self.grafana_url is not None:
            outputs["grafana_url"] = self.grafana_url
        self.register_outputs(outputs)
