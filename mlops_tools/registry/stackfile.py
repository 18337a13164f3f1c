"""Rewrite one model's pin in a stack file by editing its text at the located span: every other byte stays.

A YAML round trip (ruamel.yaml) re-emits the whole document: it dropped comments next to a block-style
``model:``, turned CR LF into LF, lost a BOM and ``---``/``...`` markers, re-indented unindented
sequences and 4-space files, respelled ``~``/``+12``/``-0`` and re-wrapped long scalars. So the file is
only *parsed* (PyYAML's composer, whose nodes carry character offsets) to find where the endpoint's
``model:`` mapping, its ``version`` and ``alias`` are; the new text is the old one with those spans
replaced. The result is read back with the loader's own reader and must equal the old document with
exactly that pin changed, or nothing is returned.

A ``model:`` reached through a YAML anchor shared with another place (``model: *m``, ``<<: *base``)
cannot change for one endpoint alone: it is refused, or, with ``shared=True``, edited at its anchor
for every place sharing it.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_platform.stacks.loader import PROJECT
from mlops_platform.stacks.yaml_source import SourceError, load_pulumi_yaml

_MERGE = "tag:yaml.org,2002:merge"
_NEWLINE = re.compile(r"\r\n|\n|\r")


class StackFileError(Exception):
    """The stack file cannot be rewritten as asked; ``str()`` is one line naming the file and key."""


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str


def _compose(text: str, path: Path) -> yaml.Node:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # pure-Python reader: offsets in characters
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise StackFileError(f"{where}: not YAML ({getattr(exc, 'problem', None) or exc})") from None
    if node is None:
        raise StackFileError(f"{path}: empty file: a Pulumi stack file needs a 'config:' mapping")
    return node


def _items(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's pairs, those it merges (``<<: *base``) after its own, as YAML's merge key reads."""
    own = [(k, v) for k, v in node.value if k.tag != _MERGE]
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in node.value:
        if key.tag == _MERGE:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            merged += [p for s in sources if isinstance(s, yaml.MappingNode) for p in _items(s)]
    return own + merged


def _get(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in _items(node):
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _uses(root: yaml.Node) -> Counter[int]:
    """How many places reach each node: more than one means it is shared through an alias."""
    counts: Counter[int] = Counter()

    def walk(node: yaml.Node) -> None:
        counts[id(node)] += 1
        if counts[id(node)] > 1:
            return
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(k)
                walk(v)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)

    walk(root)
    return counts


def _config_key(config: yaml.Node, project: str, section: str) -> yaml.Node | None:
    """The section's value, under ``<project>:<section>`` or the bare ``<section>`` (the project's)."""
    for name in (f"{project}:{section}", section, f"{project}:config:{section}"):
        found = _get(config, name)
        if found is not None:
            return found[1]
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _model_node(
    root: yaml.Node, path: Path, model: str, project: str
) -> tuple[yaml.MappingNode, list[yaml.Node]]:
    """The ``model:`` mapping of endpoint ``model`` and every node on the way to it."""
    config = _get(root, "config")
    serving = _config_key(config[1], project, "serving") if config else None
    models = _get(serving, "models")
    key = f"config.{project}:serving.models"
    if models is None or not isinstance(models[1], yaml.SequenceNode):
        raise StackFileError(f"{path}: {key}: not a list of models")
    names = []
    for index, entry in enumerate(models[1].value):
        name = _get(entry, "name")
        if name is None or not isinstance(name[1], yaml.ScalarNode):
            continue
        names.append(name[1].value)
        if name[1].value != model:
            continue
        ref = _get(entry, "model")
        if ref is None or not isinstance(ref[1], yaml.MappingNode) or _get(ref[1], "name") is None:
            raise StackFileError(
                f"{path}:{_line(entry)}: serving.models[{index}].model: model {model!r} is not served from "
                "the registry (no name with a version or alias)"
            )
        return ref[1], [root, config[1] if config else root, serving or root, models[1], entry]
    raise StackFileError(
        f"{path}: serving.models: no model named {model!r} (models: {', '.join(names) or 'none'})"
    )


def _newline_at(text: str, index: int) -> str:
    found = _NEWLINE.search(text, index)
    return found.group(0) if found else "\n"


def _pair_span(text: str, key: yaml.Node, value: yaml.Node, flow: bool) -> tuple[int, int]:
    """The span of ``key: value`` to delete, with its separator (flow) or its whole line (block)."""
    start, end = key.start_mark.index, value.end_mark.index
    if flow:
        after = re.compile(r"\s*,\s*").match(text, end)
        if after:
            return start, after.end()
        before = re.compile(r",\s*$").search(text, 0, start)
        return (before.start(), end) if before else (start, end)
    line_start = text.rfind("\n", 0, start) + 1
    line_end = _NEWLINE.search(text, end)
    if text[line_start:start].strip() or text[end : line_end.start() if line_end else len(text)].strip(" \t"):
        return start, end  # not alone on its line (a comment after it stays where the value was)
    return line_start, line_end.end() if line_end else len(text)


def _edits(text: str, ref: yaml.MappingNode, version: int) -> list[_Edit]:
    flow = bool(ref.flow_style)
    pinned = _get(ref, "version")
    alias = _get(ref, "alias")
    own = {id(k) for k, _v in ref.value}
    for found in (pinned, alias):
        if found is not None and id(found[0]) not in own:
            raise StackFileError("merged")  # reported by the caller as a shared anchor
    if pinned is not None:
        edits = [_Edit(pinned[1].start_mark.index, pinned[1].end_mark.index, str(version))]
        if alias is not None:
            start, end = _pair_span(text, *alias, flow)
            edits.append(_Edit(start, end, ""))
        return edits
    if alias is not None:
        return [_Edit(alias[0].start_mark.index, alias[1].end_mark.index, f"version: {version}")]
    name_key, name_value = _get(ref, "name") or (ref, ref)
    end = name_value.end_mark.index
    if flow:
        return [_Edit(end, end, f", version: {version}")]
    indent = " " * name_key.start_mark.column
    eol = _NEWLINE.search(text, end)
    at = eol.end() if eol else len(text)
    newline = _newline_at(text, end) if eol else ""
    prefix = "" if eol else _newline_at(text, 0)
    return [_Edit(at, at, f"{prefix}{indent}version: {version}{newline}")]


def _ref_of(data: Any, project: str, model: str) -> Any:
    """The ``model:`` of endpoint ``model`` in loaded ``data`` (None when it has none)."""
    config = data.get("config") if isinstance(data, dict) else None
    for key in (f"{project}:serving", "serving", f"{project}:config:serving"):
        serving = config.get(key) if isinstance(config, dict) else None
        for entry in serving.get("models", []) if isinstance(serving, dict) else []:
            if isinstance(entry, dict) and entry.get("name") == model:
                return entry.get("model")
    return None


def _expected(data: Any, project: str, model: str, version: int) -> Any:
    """``data`` with the endpoint's pin changed as the text edit should have changed it."""
    result = copy.deepcopy(data)
    config = result["config"]
    key = next(k for k in (f"{project}:serving", "serving", f"{project}:config:serving") if k in config)
    for entry in config[key]["models"]:
        if isinstance(entry, dict) and entry.get("name") == model:
            ref = entry["model"]
            ref.pop("alias", None)
            ref["version"] = version
    return result


def pinned_text(
    path: Path,
    model: str,
    version: int,
    *,
    project: str = PROJECT,
    text: str | None = None,
    shared: bool = False,
) -> tuple[str, str]:
    """(current text, text with ``model`` pinned to ``version``): its alias/version replaced in place.

    Args:
        path: the stack file (read unless ``text`` is given).
        model: the endpoint's name (``serving.models[].name``).
        version: the version to pin.
        project: the config namespace (the project's name).
        text: the file's content as already read (for a locked edit).
        shared: edit a ``model:`` that a YAML anchor shares with other places, for all of them.

    Raises:
        StackFileError: the file is unreadable, has no such registry-backed model, shares it through
            an anchor (without ``shared``), or the edit could not be made exactly.
    """
    if text is None:
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as exc:
            raise StackFileError(f"{path}: cannot read it ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise StackFileError(f"{path}: not UTF-8 text") from None
    root = _compose(text, path)
    ref, way = _model_node(root, path, model, project)
    uses = _uses(root)
    inner = [n for pair in ref.value for n in pair]
    is_shared = any(uses[id(n)] > 1 for n in [*way[1:], ref, *inner])
    if is_shared and not shared:
        raise StackFileError(
            f"{path}:{_line(ref)}: serving.models: the model of {model!r} is shared with another place "
            "through a YAML anchor, so pinning it here would change that place too; give this endpoint a "
            "model: of its own, or pass --shared-anchor to change every place that shares it"
        )
    try:
        edits = _edits(text, ref, version)
    except StackFileError:
        raise StackFileError(
            f"{path}:{_line(ref)}: serving.models: the version of {model!r} comes from a merged mapping "
            "(<<: *anchor); write its version or alias in its own model: mapping"
        ) from None
    after = text
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        after = after[: edit.start] + edit.text + after[edit.end :]
    try:
        expected = _expected(load_pulumi_yaml(text, str(path)), project, model, version)
        got = load_pulumi_yaml(after, str(path))
    except (SourceError, KeyError, TypeError) as exc:
        raise StackFileError(f"{path}: cannot pin {model!r} exactly ({exc}); nothing changed") from None
    exact = (
        got == expected
        if not is_shared
        else _ref_of(got, project, model) == _ref_of(expected, project, model)
    )
    if not exact:
        raise StackFileError(
            f"{path}: pinning {model!r} in place would change more than its version; nothing changed"
        )
    return text, after


def unified_diff(path: Path, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), str(path), str(path)
        )
    )
