"""The images an environment really runs: every image reference through its mirror and overrides.

Organisations without access to public registries mirror them (``environment.images.mirror``) or
build their own replacements (``environment.images.overrides``). Resolved once, before the spec
becomes components, so components, policies and reports all see the reference that is deployed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mlops_platform.stacks.schema import EnvironmentSpec, ImageSource


def resolve(image: str, source: ImageSource) -> str:
    """The reference ``image`` is pulled as: its override, else under the mirror, else itself.

    Args:
        image: A reference with a registry host, as the spec validates it (``registry/path:tag``).
        source: The environment's image source.
    """
    if image in source.overrides:
        return source.overrides[image]
    if source.mirror is not None:
        return f"{source.mirror}/{image}"
    return image


def _is_image_field(name: str) -> bool:
    return name == "image" or name.endswith("_image")


def _rewrite(model: BaseModel, source: ImageSource) -> BaseModel:
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, ImageSource):
            continue
        if isinstance(value, str) and _is_image_field(name):
            update[name] = resolve(value, source)
        elif isinstance(value, BaseModel):
            update[name] = _rewrite(value, source)
        elif isinstance(value, list) and any(isinstance(item, BaseModel) for item in value):
            update[name] = [_rewrite(item, source) if isinstance(item, BaseModel) else item for item in value]
    changed = {k: v for k, v in update.items() if v is not getattr(model, k)}
    return model.model_copy(update=changed) if changed else model


def image_fields(model: BaseModel, at: str = "") -> list[tuple[str, str]]:
    """Every image reference in ``model`` with its spec path (``serving.models[fraud-scorer].image``).

    A list item is named by its ``name`` when it has one, else by its position.
    """
    out: list[tuple[str, str]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{at}.{name}" if at else name
        if isinstance(value, ImageSource):
            continue
        if isinstance(value, str) and _is_image_field(name):
            out.append((path, value))
        elif isinstance(value, BaseModel):
            out += image_fields(value, path)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out += image_fields(item, f"{path}[{getattr(item, 'name', i)}]")
    return out


def resolve_spec(spec: EnvironmentSpec) -> EnvironmentSpec:
    """``spec`` with every image field (``image``, ``*_image``) resolved through ``environment.images``."""
    source = spec.environment.images
    if source.mirror is None and not source.overrides:
        return spec
    resolved = _rewrite(spec, source)
    assert isinstance(resolved, EnvironmentSpec)
    return resolved
