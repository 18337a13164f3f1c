"""``RegistryStack``: MLflow tracking / model registry server and the container image registry."""

from __future__ import annotations

import importlib

import pulumi

from mlops_platform.components.arg_checks import check_registry
from mlops_platform.components.args import RegistryArgs, RegistryOutputs


class RegistryStack(pulumi.ComponentResource):
    """The registry layer, wired to the storage layer's database and object store."""

    model_registry_uri: pulumi.Output[str]
    """MLflow tracking URI inside the namespace / network."""
    image_registry_host: pulumi.Output[str] | None
    """``host:port`` of the image registry; None when disabled."""
    outputs: RegistryOutputs
    """Every output of the layer, typed."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_registry(name, args)  # before anything registers: a refused component leaves no trace
        super().__init__("mlops:registry:RegistryStack", name, None, opts)
        builder = importlib.import_module(f"mlops_platform.components.{args.target.value}.registry")
        self.outputs = builder.build(self, name, args)
        self.model_registry_uri = self.outputs.model_registry_uri
        self.image_registry_host = self.outputs.image_registry_host
        self.register_outputs(
            {"model_registry_uri": self.model_registry_uri, "image_registry_host": self.image_registry_host}
        )
