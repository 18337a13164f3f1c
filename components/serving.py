"""``ServingStack``: one ``ModelEndpoint`` per model, each keyed by the model's name.

Children derive their names from the model name, never its position, so renaming, re-ordering or
editing one model leaves every other model's resources (URNs and inputs) untouched.
"""

from __future__ import annotations

import importlib

import pulumi

from mlops_platform.components.arg_checks import check_endpoint, check_serving
from mlops_platform.components.args import (
    ModelEndpointArgs,
    ModelEndpointOutputs,
    ServingArgs,
    ServingOutputs,
)


class ModelEndpoint(pulumi.ComponentResource):
    """One served model: its workload(s), Service, autoscaling, disruption budget, traffic policy."""

    url: pulumi.Output[str]
    """In-cluster / in-network URL of the endpoint."""
    outputs: ModelEndpointOutputs
    """Every output of the endpoint, typed (includes the monitoring scrape target)."""

    def __init__(
        self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_endpoint(name, args)  # before anything registers: a refused component leaves no trace
        super().__init__("mlops:serving:ModelEndpoint", name, None, opts)
        builder = importlib.import_module(f"mlops_platform.components.{args.target.value}.serving")
        self.outputs = builder.build(self, name, args)
        self.url = self.outputs.url
        self.register_outputs({"url": self.url})


class ServingStack(pulumi.ComponentResource):
    """The serving layer: ``ModelEndpoint`` ``<name>-<model>`` for every model."""

    urls: pulumi.Output[dict[str, str]]
    """Model name -> endpoint URL."""
    endpoints: dict[str, ModelEndpoint]
    """Model name -> its component."""
    outputs: ServingOutputs
    """Every output of the layer, typed (``outputs.scrape_targets`` feeds the monitoring layer)."""

    def __init__(self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_serving(name, args)  # before anything registers: a refused component leaves no trace
        super().__init__("mlops:serving:ServingStack", name, None, opts)
        self.endpoints = {
            model.name: ModelEndpoint(
                f"{name}-{model.name}", args.endpoint_args(model), pulumi.ResourceOptions(parent=self)
            )
            for model in sorted(args.models, key=lambda m: m.name)
        }
        self.outputs = ServingOutputs(endpoints={k: e.outputs for k, e in self.endpoints.items()})
        self.urls = pulumi.Output.all(**{k: e.url for k, e in self.endpoints.items()})
        self.register_outputs({"urls": self.urls})
