"""A pin changes exactly the bytes of the version (or the alias it replaces); every other byte stays.

The property test renders stack files in many styles (CR LF or LF, a BOM, ``---``/``...``, 2 or 4
spaces, indented or unindented sequences, flow or block ``model:``, comments on and between its
lines, ``~``/``+12``/``-0``, trailing spaces, long scalars) twice: as written, and as a person would
write them with the new version. ``pinned_text`` must turn the first into the second, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_platform.tools.registry.stackfile import StackFileError, pinned_text

NAMES = ("fraud-scorer", "churn-predictor", "recommender")


@dataclass(frozen=True)
class Ref:
    """One endpoint's ``model:``: its pairs (key, value as written, end-of-line comment)."""

    pairs: tuple[tuple[str, str, str], ...]
    flow: bool
    comment_line: str  # a whole-line comment inside a block mapping, "" for none

    def pinned(self, version: int) -> Ref:
        pairs = []
        for key, value, comment in self.pairs:
            if key in ("alias", "version"):
                pairs.append(("version", str(version), comment))
            else:
                pairs.append((key, value, comment))
        return replace(self, pairs=tuple(pairs))


@dataclass(frozen=True)
class Style:
    newline: str
    bom: bool
    markers: bool
    indent: int
    indented_sequences: bool
    trailing: str  # trailing spaces on untouched lines


def render(style: Style, refs: list[tuple[str, Ref]]) -> str:
    nl, pad = style.newline, " " * style.indent
    seq = pad if style.indented_sequences else ""
    lines = ["# Production stack: comments stay" + style.trailing]
    if style.markers:
        lines.append("---")
    lines += [
        "config:",
        f"{pad}mlops-platform:environment:  # who owns it",
        f"{pad}{pad}name: prod",
        f"{pad}{pad}replicas_hint: +12" + style.trailing,
        f"{pad}{pad}nothing: ~",
        f"{pad}{pad}zero: -0",
        f"{pad}{pad}description: " + "a long scalar that must never be re-wrapped " * 5,
        f"{pad}mlops-platform:serving:",
        f"{pad}{pad}models:",
    ]
    item = f"{pad}{pad}{seq}"
    for name, ref in refs:
        lines.append(f"{item}- name: {name}  # endpoint {name}")
        lines.append(f"{item}  image: 'ghcr.io/acme/{name}:1.0'")
        inner = f"{item}  "
        if ref.flow:
            body = ", ".join(f"{k}: {v}" for k, v, _c in ref.pairs)
            comment = next((c for _k, _v, c in ref.pairs if c), "")
            lines.append(f"{inner}model: {{{body}}}" + (f"  # {comment}" if comment else ""))
        else:
            lines.append(f"{inner}model:")
            for index, (key, value, comment) in enumerate(ref.pairs):
                lines.append(f"{inner}{pad}{key}: {value}" + (f"  # {comment}" if comment else ""))
                if index == 0 and ref.comment_line:
                    lines.append(f"{inner}{pad}# {ref.comment_line}")
        lines.append(f"{inner}replicas: {{min: 1, max: 3}}" + style.trailing)
    if style.markers:
        lines.append("...")
    return ("\ufeff" if style.bom else "") + nl.join(lines) + nl


scalars = st.sampled_from(["champion", "'champion'", '"champion"', "blue-green"])
comments = st.sampled_from(["", "", "pinned by the release board", "CHANGE-1234"])


@st.composite
def refs(draw: st.DrawFn, name: str) -> Ref:
    by_alias = draw(st.booleans())
    registered = draw(st.sampled_from([name, f"'{name}'", f'"{name}"']))
    chosen = ("alias", draw(scalars)) if by_alias else ("version", draw(st.sampled_from(["7", "'7'", "0o7"])))
    pairs = [("name", registered, draw(comments)), (*chosen, draw(comments))]
    if draw(st.booleans()):
        pairs.reverse()
    flow = draw(st.booleans())
    return Ref(tuple(pairs), flow, "" if flow else draw(comments))


@st.composite
def stack_files(draw: st.DrawFn) -> tuple[Style, list[tuple[str, Ref]], int]:
    style = Style(
        newline=draw(st.sampled_from(["\n", "\r\n"])),
        bom=draw(st.booleans()),
        markers=draw(st.booleans()),
        indent=draw(st.sampled_from([2, 4])),
        indented_sequences=draw(st.booleans()),
        trailing=draw(st.sampled_from(["", "  ", " "])),
    )
    count = draw(st.integers(1, 3))
    endpoints = [(name, draw(refs(name))) for name in NAMES[:count]]
    return style, endpoints, draw(st.integers(0, count - 1))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=stack_files(), version=st.integers(1, 10**6))
def test_a_pin_changes_exactly_the_version_bytes(
    case: tuple[Style, list[tuple[str, Ref]], int], version: int
) -> None:
    style, endpoints, target = case
    before = render(style, endpoints)
    name = endpoints[target][0]
    expected = render(
        style, [(n, ref.pinned(version) if i == target else ref) for i, (n, ref) in enumerate(endpoints)]
    )
    got_before, after = pinned_text(Path("Pulumi.prod.yaml"), name, version, text=before)
    assert got_before == before
    assert after == expected


BLOCK_WITH_COMMENTS = (
    "config:\n"
    "  mlops-platform:serving:\n"
    "    models:\n"
    "    - name: fraud-scorer\n"
    "      model:\n"
    "        name: fraud-scorer\n"
    "        alias: champion   # moved by the release board\n"
    "        # champion is v3 since 2026-11-02\n"
    "      replicas: {min: 1, max: 3}\n"
)


def test_block_model_comments_stay() -> None:
    """The issue's case: ruamel dropped both comments around a block-style model's alias."""
    _before, after = pinned_text(Path("Pulumi.prod.yaml"), "fraud-scorer", 2, text=BLOCK_WITH_COMMENTS)
    assert after == BLOCK_WITH_COMMENTS.replace("alias: champion", "version: 2")


def test_crlf_bom_and_markers_stay() -> None:
    text = "\ufeff---\r\n" + BLOCK_WITH_COMMENTS.replace("\n", "\r\n") + "...\r\n"
    _before, after = pinned_text(Path("Pulumi.prod.yaml"), "fraud-scorer", 2, text=text)
    assert after == text.replace("alias: champion", "version: 2")


SHARED = (
    "x-model: &fraud {name: fraud-scorer, alias: champion}\n"
    "config:\n"
    "  mlops-platform:serving:\n"
    "    models:\n"
    "      - name: fraud-scorer\n"
    "        model: *fraud\n"
    "      - name: fraud-shadow\n"
    "        model: *fraud\n"
)


def test_a_model_shared_through_an_anchor_is_refused_unless_asked() -> None:
    path = Path("Pulumi.prod.yaml")
    with pytest.raises(StackFileError) as refused:
        pinned_text(path, "fraud-scorer", 2, text=SHARED)
    assert str(refused.value) == (
        "Pulumi.prod.yaml:1: serving.models: the model of 'fraud-scorer' is shared with another place "
        "through a YAML anchor, so pinning it here would change that place too; give this endpoint a "
        "model: of its own, or pass --shared-anchor to change every place that shares it"
    )
    _before, after = pinned_text(path, "fraud-scorer", 2, text=SHARED, shared=True)
    assert after == SHARED.replace("alias: champion", "version: 2")


def test_a_version_from_a_merge_key_is_refused() -> None:
    text = (
        "x-base: &base {name: fraud-scorer, alias: champion}\n"
        "config:\n"
        "  mlops-platform:serving:\n"
        "    models:\n"
        "      - name: fraud-scorer\n"
        "        model:\n"
        "          <<: *base\n"
        "          name: fraud-scorer\n"
    )
    with pytest.raises(StackFileError, match="shared with another place through a YAML anchor"):
        pinned_text(Path("Pulumi.prod.yaml"), "fraud-scorer", 2, text=text)
