"""``StorageStack``: namespace / network, object store, metadata database and shared volumes."""

from __future__ import annotations

import importlib

import pulumi

from mlops_platform.components.arg_checks import check_storage
from mlops_platform.components.args import StorageArgs, StorageOutputs


class StorageStack(pulumi.ComponentResource):
    """The storage layer on the target named by ``args.target`` (Kubernetes or Docker)."""

    namespace: pulumi.Output[str]
    """Namespace (Kubernetes) or network (Docker) the other layers deploy into."""
    database_url: pulumi.Output[str]
    """Secret: ``postgresql+psycopg2://user:password@host:port/db``."""
    object_store_endpoint: pulumi.Output[str]
    """``http://host:9000`` inside the namespace / network."""
    object_store_access_key: pulumi.Output[str]
    """Secret."""
    object_store_secret_key: pulumi.Output[str]
    """Secret."""
    outputs: StorageOutputs
    """Every output of the layer, typed."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_storage(name, args)  # before anything registers: a refused component leaves no trace
        super().__init__("mlops:storage:StorageStack", name, None, opts)
        builder = importlib.import_module(f"mlops_platform.components.{args.target.value}.storage")
        self.outputs = builder.build(self, name, args)
        self.namespace = self.outputs.namespace
        self.database_url = self.outputs.database_url
        self.object_store_endpoint = self.outputs.object_store_endpoint
        self.object_store_access_key = self.outputs.object_store_access_key
        self.object_store_secret_key = self.outputs.object_store_secret_key
        self.register_outputs(
            {
                "namespace": self.namespace,
                "database_url": self.database_url,
                "object_store_endpoint": self.object_store_endpoint,
                "object_store_access_key": self.object_store_access_key,
                "object_store_secret_key": self.object_store_secret_key,
            }
        )
