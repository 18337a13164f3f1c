"""The fast paths of reading a stack file give what the exact paths give, and refuse what they refuse.

- The event reader (``yaml_source._build_from_events``) against the node reader (``_compose`` and
  ``_Builder``): the same data, lines of every key and item, duplicates, and the same located error.
- ``pulumi_config_value`` against decoding the text the CLI hands over (``pulumi_config_text``).
- Every number of the spec refuses a boolean (the check lives on the number types now).
"""

from __future__ import annotations

import json
import string
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from mlops_platform.stacks import schema as spec_schema
from mlops_platform.stacks import yaml_source
from mlops_platform.stacks.registry_spec import RegistrySource
from mlops_platform.stacks.types import BOOLEAN_NOT_NUMBER, NOT_A_BOOLEAN
from mlops_platform.stacks.yaml_source import (
    LocatedYaml,
    SourceError,
    pulumi_config_text,
    pulumi_config_value,
)

REPO = Path(__file__).resolve().parents[2]


def _node_path(text: str, timestamps: bool = True) -> LocatedYaml:
    """The reading every document had before the event reader: compose the node graph, build it."""
    located = LocatedYaml("doc.yaml", None)
    node = yaml_source._compose(text, "doc.yaml")
    if node is not None:
        located.data = yaml_source._Builder(located, timestamps).build(node, ())
    return located


def _outcome(read: Any, text: str) -> Any:
    try:
        located = read(text)
    except SourceError as exc:
        return ("error", [str(p) for p in exc.problems])
    holders = [json.dumps(h, sort_keys=True, default=str) for h in located.secure_holders]
    return ("ok", located.data, dict(located.lines), [str(p) for p in located.duplicates], holders)


def _same_reading(text: str, *, timestamps: bool = True) -> None:
    fast = _outcome(lambda t: yaml_source._read(t, "doc.yaml", timestamps=timestamps), text)
    exact = _outcome(lambda t: _node_path(t, timestamps), text)
    assert fast == exact


def _event_reader_takes(text: str) -> bool:
    try:
        yaml_source._build_from_events(text, LocatedYaml("doc.yaml", None), True)
    except yaml_source._NodePathNeeded:
        return False
    return True


@pytest.mark.parametrize(
    "path", sorted({*REPO.glob("stacks/*.yaml"), REPO / "policies" / "waivers.yaml"}), ids=lambda p: p.name
)
def test_the_bundled_files_read_the_same(path: Path) -> None:
    _same_reading(path.read_text(encoding="utf-8"))


def test_a_generated_prod_file_is_read_by_events() -> None:
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    try:
        import run as bench_run  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(REPO / "bench"))
    text = yaml.safe_dump(bench_run.prod_spec(40), sort_keys=False)
    assert _event_reader_takes(text), "the documents people write take the fast path"
    _same_reading(text)
    located = yaml_source._read(text, "doc.yaml", timestamps=True)
    assert located.lines[("config", "mlops-platform:serving", "models", 39, "name")] > 1
    assert ("config", "mlops-platform:serving", "models", 40) not in located.lines


# Scalars and structures both readers must agree on, and the things only the node reader takes on
# (aliases, tags, duplicates, several documents, merge keys) or refuses.
_SCALARS = [
    "1", "yes", "'q'", '"d"', "~", "0o7", "012", "1_000", "2026-03-31", "1e3", ".5", "-0", "+12", "true",
    "True", "null", "''", "x y", "'a: b'", "[]", "{}", "1:30", ".inf", "<<", "!!str 3", "!!int '3'",
    "&a 1", "*a", "|\n  block\n", ">-\n  folded\n  text\n", "2026-03-31T10:00:00+02:00", "\"\\u00e9\"",
]  # fmt: skip
_KEYS = ["a", "b", "'quoted'", "1", "true", "~", "secure", "x y", "a", "? [k]"]


# Only what the event reader takes on itself: no tag, alias, merge key, complex or duplicate key.
_PLAIN_SCALARS = [s for s in _SCALARS if not s.startswith(("!", "&", "*", "<<", ".inf", "2026-03-31T"))]
_PLAIN_KEYS = ["a", "b", "'quoted'", "secure", "x y", '"d q"', "name", "0x"]


def _mapping(depth: int, scalars: list[str] = _SCALARS, keys: list[str] = _KEYS) -> st.SearchStrategy[str]:
    scalar = st.sampled_from(scalars)
    if depth == 0:
        return scalar.map(lambda s: " " + s)
    inner = _mapping(depth - 1, scalars, keys)
    unique = keys is _PLAIN_KEYS

    def block(pairs: list[tuple[str, str]], indent: int) -> str:
        pad = " " * indent
        return "\n" + "".join(f"{pad}{k}:{v.replace(chr(10), chr(10) + pad)}\n" for k, v in pairs).rstrip(
            "\n"
        )

    def sequence(items: list[str], indent: int) -> str:
        pad = " " * indent
        return "\n" + "".join(f"{pad}-{v.replace(chr(10), chr(10) + pad)}\n" for v in items).rstrip("\n")

    pairs = st.lists(
        st.tuples(st.sampled_from(keys), inner), max_size=4, unique_by=(lambda p: p[0]) if unique else None
    )
    return (
        scalar.map(lambda s: " " + s)
        | st.builds(block, pairs, st.just(2))
        | st.builds(sequence, st.lists(inner, max_size=4), st.just(2))
    )


@settings(max_examples=400, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(_KEYS), _mapping(3)), min_size=1, max_size=5))
def test_generated_documents_read_the_same(pairs: list[tuple[str, str]]) -> None:
    _same_reading("".join(f"{k}:{v}\n" for k, v in pairs))


@settings(max_examples=400, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(_PLAIN_KEYS), _mapping(3, _PLAIN_SCALARS, _PLAIN_KEYS)),
        min_size=1,
        max_size=5,
        unique_by=lambda p: p[0],
    )
)
def test_plain_documents_are_read_by_events_the_same(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{k}:{v}\n" for k, v in pairs)
    assert _event_reader_takes(text), text
    _same_reading(text)


_TOKENS = [
    "\n", " ", "  ", "- ", ": ", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "? ", "| ", "> ", "'",
    '"', "#", "---\n", "...\n", "<<: *a", "yes", "012", "key", "\t", "\ufeff",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(st.sampled_from(_TOKENS) | st.text(string.printable, max_size=5), max_size=40).map("".join),
    timestamps=st.booleans(),
)
def test_any_text_reads_or_fails_the_same(text: str, timestamps: bool) -> None:
    _same_reading(text, timestamps=timestamps)


# --- the values a program reads back ---------------------------------------------------------------

_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_values = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


def _typed(value: Any) -> Any:
    """``value`` with every scalar's type beside it: 1 and 1.0 and True must not compare equal."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _decoded_text(value: Any) -> Any:
    text = pulumi_config_text(value)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@settings(max_examples=1_000, deadline=None)
@given(value=_values)
def test_a_program_reads_back_what_its_text_says(value: Any) -> None:
    assert _typed(pulumi_config_value(value)) == _typed(_decoded_text(value))


def test_numbers_read_back_as_go_spells_them() -> None:
    # float64 through Go's text: 100.0 is spelt 100, 2**63 (beyond int64) 9223372036854776000
    value = {"b": [100.0, 2**63, 2**64 - 1, -(2**63), 1e21, 1e-7], "a": "123"}
    assert _typed(pulumi_config_value(value)) == _typed(
        {"a": "123", "b": [100, 9223372036854776000, 18446744073709552000, -(2**63), 1e21, 1e-7]}
    )
    assert pulumi_config_value("123") == 123 and pulumi_config_value(None) == ""


# --- booleans are never numbers ----------------------------------------------------------------------


def _number_annotations(annotation: Any, metadata: list[Any]) -> list[tuple[Any, list[Any]]]:
    """Every int or float inside ``annotation``, with the metadata that applies to it."""
    if annotation in (int, float):
        return [(annotation, metadata)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return _number_annotations(inner, [*metadata, *extra])
    if origin in (typing.Union, types.UnionType, list, dict, tuple, set, frozenset):
        return [
            found
            for arg in typing.get_args(annotation)
            if not isinstance(arg, FieldInfo)
            for found in _number_annotations(arg, [])
        ]
    return []


def _spec_models() -> list[type[BaseModel]]:
    found = [
        value
        for value in vars(spec_schema).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    ]
    return [*found, RegistrySource]


@pytest.mark.parametrize("model", _spec_models(), ids=lambda m: m.__name__)
def test_every_number_of_the_spec_refuses_booleans(model: type[BaseModel]) -> None:
    for name, info in model.model_fields.items():
        for _number, metadata in _number_annotations(info.annotation, list(info.metadata)):
            assert NOT_A_BOOLEAN in metadata, f"{model.__name__}.{name}: a number without NOT_A_BOOLEAN"
            assert metadata[-1] is NOT_A_BOOLEAN, (
                f"{model.__name__}.{name}: NOT_A_BOOLEAN must come last (bounds checked by pydantic-core)"
            )


def test_a_boolean_for_a_number_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as raised:
        spec_schema.Replicas.model_validate({"min": True, "max": 3})
    (error,) = raised.value.errors()
    assert (error["loc"], error["type"]) == (("min",), "value_error")
    assert BOOLEAN_NOT_NUMBER in error["msg"]
    with pytest.raises(ValidationError):
        spec_schema.Slo.model_validate({"p99_latency_ms": 100, "error_rate": False})
