"""``components/REFERENCE.md`` is generated from the components and their argument types, and kept in step."""

from __future__ import annotations

import dataclasses
import inspect

import pulumi

import mlops_platform.components as components
from mlops_platform.components import args
from mlops_platform.components.reference import COMPONENTS, REFERENCE, attribute_docs, render_reference


def test_the_reference_is_in_step_with_the_code() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), (
        "components/REFERENCE.md is stale: run python -m mlops_platform.components.reference"
    )


def test_every_public_component_is_in_the_reference() -> None:
    public = {
        name for name in components.__all__ if isinstance(obj := getattr(components, name), type)
        and issubclass(obj, pulumi.ComponentResource)
    }  # fmt: skip
    assert public == {component for _, component, _, _ in COMPONENTS}
    text = render_reference()
    for _, component, arguments, outputs in COMPONENTS:
        assert f"### {arguments}\n" in text and f"### {outputs}\n" in text, component


def test_every_argument_field_is_documented_with_its_type_and_default() -> None:
    text = render_reference()
    for _, cls in inspect.getmembers(args, inspect.isclass):
        if cls.__module__ != args.__name__ or not dataclasses.is_dataclass(cls):
            continue
        section = text.split(f"### {cls.__name__}\n", 1)[1].split("\n### ", 1)[0]
        for field in dataclasses.fields(cls):
            spelled = str(field.type).replace("|", "\\|")  # escaped in a Markdown table
            assert f"| `{field.name}` | `{spelled}` |" in section, (cls.__name__, field.name)


def test_attribute_docstrings_are_read_from_the_source() -> None:
    docs = attribute_docs(args.StorageArgs)
    assert docs["protect_stateful"] == (
        "``protect`` + ``retain_on_delete`` on the database, the object store and their volumes (prod)."
    )
    assert "target" not in docs  # a field without a docstring has none
