"""An environment as one stack or as one stack per layer: the stack config that says which.

A stack deploys every layer unless its config names one: ``<project>:layer: serving``. A layer
stack reads its upstream layer's exports through a ``pulumi.StackReference``: storage -> registry ->
serving -> monitoring. The upstream stack of layer ``L`` is ``<environment>-<L>`` (``prod-storage``)
unless ``<project>:layerStacks`` maps ``L`` to another name (``acme/platform/prod-storage``). Every
layer stack holds the whole spec of its environment, so all four agree on it. Nothing here imports
Pulumi: the loader checks these keys with the spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

LAYER_KEY = "layer"
LAYER_STACKS_KEY = "layerStacks"
STACK_NAME = re.compile(
    r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$"
)  # stack, project/stack or org/project/stack


class Layer(StrEnum):
    """The four layers, in the order they deploy (each reads the one before)."""

    STORAGE = "storage"
    REGISTRY = "registry"
    SERVING = "serving"
    MONITORING = "monitoring"

    @property
    def upstream(self) -> Layer | None:
        """The layer whose exports this one reads (None for storage)."""
        order = list(Layer)
        index = order.index(self)
        return order[index - 1] if index else None


def parse_layer(value: Any) -> Layer | None:
    """The layer a stack config names, None for every layer; ValueError with the key's message."""
    if value is None:
        return None
    try:
        return Layer(value)
    except ValueError:
        allowed = ", ".join(layer.value for layer in Layer)
        raise ValueError(f"{LAYER_KEY}: must be one of {allowed} (got {value!r})") from None


def parse_layer_stacks(value: Any) -> dict[Layer, str]:
    """``layerStacks``: a map of layer to stack name; ValueError naming the bad entry."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{LAYER_STACKS_KEY}: must be a map of layer to stack name (got {value!r})")
    stacks: dict[Layer, str] = {}
    for key, name in value.items():
        layer = parse_layer(key)
        if layer is None or not isinstance(name, str) or not STACK_NAME.fullmatch(name):
            raise ValueError(
                f"{LAYER_STACKS_KEY}.{key}: must be a stack name such as prod-storage (got {name!r})"
            )
        stacks[layer] = name
    return stacks


def layer_stack_name(environment: str, layer: Layer, overrides: Mapping[Layer, str] | None = None) -> str:
    """The stack that deploys ``layer`` of ``environment``: ``<environment>-<layer>`` unless overridden."""
    return (overrides or {}).get(layer) or f"{environment}-{layer.value}"
