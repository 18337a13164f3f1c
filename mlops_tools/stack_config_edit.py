"""Set stack config values by editing the stack file's text at located spans: every other byte stays.

What ``mlops secrets`` writes (the credential seed's ``secure:`` value, credential rotations, the
secrets provider's ``encryptionsalt``) goes into the user's stack file this way, never through
``pulumi config set`` on it: the CLI re-emits the whole file (measured with 3.274.1: ``x  # c``
became ``x # c``, and ``encryptionsalt`` moved below ``config:``) and writes it in place. As in
``registry/stackfile.py``, the file is only *parsed* (PyYAML's pure-Python composer, whose marks are
character offsets) to locate a value; the new text is the old one with that span replaced, or a
pair inserted after the last line of its mapping in the mapping's own style (block lines at its
indentation, or ``, key: value`` inside ``{}``). The result is read back as the Pulumi CLI reads it
(:func:`load_pulumi_yaml`) and must equal the old data with exactly these values set, or nothing is
returned.

A mapping given as a value is merged into the one in the file (``{secure: C}`` replaces only the
ciphertext; rotations add or bump their entries); over a scalar it is written in flow style on the
same line (``credentialSeed: {secure: v1:...}``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mlops_platform.stacks.loader import full_key
from mlops_platform.stacks.yaml_source import SourceError, load_pulumi_yaml

_NEWLINE = re.compile(r"\r\n|\n|\r")
_MERGE = "tag:yaml.org,2002:merge"
PULUMI_INDENT = 2  # what the Pulumi CLI indents a stack file's nested mappings by
MAX_EDITS = 1_000  # edits for one value (one per entry merged into a mapping): far beyond any real one

Value = str | int | Mapping[str, Any]
"""A scalar, or a mapping of such (``{"secure": ciphertext}`` for a secret)."""


class ConfigEditError(Exception):
    """The values cannot be set exactly; ``str()`` is one line naming the file (and line)."""


def _compose(text: str, path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)  # pure-Python reader: offsets in characters
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigEditError(f"{where}: not YAML ({getattr(exc, 'problem', None) or exc})") from None


def _newline(text: str) -> str:
    found = _NEWLINE.search(text)
    return found.group(0) if found else "\n"


def _scalar(value: str | int, *, flow: bool = False) -> str:
    """``value`` as YAML text the Pulumi CLI reads back as ``value``: plain when it can be, else quoted."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"no stack-file scalar for {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    for candidate in (value, json.dumps(value)):  # JSON's double-quoted string is YAML's too
        probe = f"{{k: {candidate}}}" if flow else f"k: {candidate}"
        try:
            if load_pulumi_yaml(probe) == {"k": value}:
                return candidate
        except SourceError:
            continue
    raise ValueError(f"cannot write {value!r} as a YAML scalar")


def _flow(value: Value) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_scalar(k, flow=True)}: {_flow(v)}" for k, v in value.items()) + "}"
    return _scalar(value, flow=True)


def _block(key: str, value: Value, indent: int, step: int, newline: str) -> str:
    head = " " * indent + _scalar(key)
    if isinstance(value, Mapping):
        inner = "".join(_block(k, v, indent + step, step, newline) for k, v in value.items())
        return f"{head}:{newline}{inner}"
    return f"{head}: {_scalar(value)}{newline}"


def _content_end(node: yaml.Node) -> int:
    """Where the last line of a block collection's content ends (its own end mark is the next token)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return int(node.end_mark.index)


def _after_line(text: str, index: int) -> int:
    """The start of the line after the one holding ``text[index - 1]`` (its comment included)."""
    if index > 0 and text[index - 1] in "\r\n":  # a block scalar ends after its line break
        return index
    found = _NEWLINE.search(text, index)
    return found.end() if found else len(text)


def _step(root: yaml.Node | None) -> int:
    """The file's indentation step, from its ``config:`` keys; Pulumi's 2 when it shows none."""
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            block = isinstance(value, yaml.MappingNode) and not value.flow_style and value.value
            if key.value == "config" and block:
                step = int(value.value[0][0].start_mark.column) - int(key.start_mark.column)
                if step > 0:
                    return step
    return PULUMI_INDENT


def _matches(node: yaml.Node, key: str, project: str | None) -> bool:
    if not isinstance(node, yaml.ScalarNode) or node.tag == _MERGE:
        return False
    return node.value == key if project is None else full_key(node.value, project) == full_key(key, project)


def _insert(text: str, mapping: yaml.MappingNode, key: str, value: Value, step: int) -> str:
    """``text`` with ``key: value`` added to ``mapping`` as its last pair, in the mapping's style."""
    if mapping.flow_style:
        close = int(mapping.end_mark.index) - 1
        if mapping.value:
            at = int(mapping.value[-1][1].end_mark.index)
            return f"{text[:at]}, {_scalar(key, flow=True)}: {_flow(value)}{text[at:]}"
        return f"{text[:close]}{_scalar(key, flow=True)}: {_flow(value)}{text[close:]}"
    newline = _newline(text)
    at = _after_line(text, _content_end(mapping))
    lead = "" if at == 0 or text[at - 1] in "\r\n" else newline  # a last line without its line break
    indent = int(mapping.value[0][0].start_mark.column)
    return text[:at] + lead + _block(key, value, indent, step, newline) + text[at:]


def _replace(text: str, node: yaml.ScalarNode, written: str) -> str:
    start, end = int(node.start_mark.index), int(node.end_mark.index)
    if start == end and start > 0 and text[start - 1] == ":":  # `key:` with no value written
        written = " " + written
    return text[:start] + written + text[end:]


def _put(
    text: str, path: Path, keys: tuple[str, ...], value: Value, project: str, shown: str
) -> tuple[str, bool]:
    """One edit toward ``keys`` = ``value``: (new text, whether ``value`` is now wholly written).

    A mapping value merged into a mapping in the file takes one edit per entry: the caller calls again
    until the second item is true.
    """
    root = _compose(text, path)
    step = _step(root)
    if root is None:  # an empty document: the whole file is this value
        newline = _newline(text)
        nested: Value = value
        for key in reversed(keys[1:]):
            nested = {key: nested}
        lead = "" if not text or text[-1] in "\r\n" else newline
        return text + lead + _block(keys[0], nested, 0, step, newline), True
    node: yaml.Node = root
    for depth, key in enumerate(keys):
        if not isinstance(node, yaml.MappingNode):
            place = ".".join(keys[:depth]) or "the document"
            raise ConfigEditError(
                f"{path}:{int(node.start_mark.line) + 1}: {place}: not a mapping; cannot set {shown}"
            )
        namespace = project if depth == 1 and keys[0] == "config" else None
        found = next((pair for pair in node.value if _matches(pair[0], key, namespace)), None)
        if found is None:
            rest: Value = value
            for inner in reversed(keys[depth + 1 :]):
                rest = {inner: rest}
            return _insert(text, node, key, rest, step), True
        node = found[1]
    where = f"{path}:{int(node.start_mark.line) + 1}: {shown}"
    if isinstance(value, Mapping):
        if isinstance(node, yaml.MappingNode):
            for inner, item in value.items():
                current = next((v for k, v in node.value if _matches(k, inner, None)), None)
                if _same(text, current, item):
                    continue
                edited, done = _put(text, path, (*keys, inner), item, project, shown)
                if edited != text or not done:
                    return edited, False
            return text, True
        if isinstance(node, yaml.ScalarNode) and node.style not in ("|", ">"):
            return _replace(text, node, _flow(value)), True
        raise ConfigEditError(f"{where}: a {type(node).__name__[:-4].lower()}; cannot make it a mapping")
    if isinstance(node, yaml.ScalarNode) and node.style not in ("|", ">"):
        return _replace(text, node, _scalar(value)), True
    raise ConfigEditError(f"{where}: not a one-line scalar; cannot set it to a value")


def _same(text: str, node: yaml.Node | None, value: Value) -> bool:
    """Whether ``node`` already holds the scalar ``value`` (so a merge needs no edit for it)."""
    if not isinstance(node, yaml.ScalarNode) or isinstance(value, Mapping):
        return False
    raw = text[int(node.start_mark.index) : int(node.end_mark.index)]
    try:
        current = load_pulumi_yaml(raw) if raw.strip() else None
    except SourceError:
        return False
    return _typed(current) == _typed(value)


def _typed(value: Any) -> Any:
    """``value`` compared strictly: ``True`` is not ``1``, nor ``1.0``, as they are to ``==``."""
    if isinstance(value, dict):
        return {_typed(k): _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def _merged(current: Any, value: Value) -> Any:
    """``value`` over ``current`` as :func:`set_stack_config` writes it: a mapping merges into a dict."""
    if not isinstance(value, Mapping):
        return value
    result = dict(current) if isinstance(current, dict) else {}
    for key, item in value.items():
        result[key] = _merged(result.get(key), item)
    return result


def _expected(data: Any, keys: tuple[str, ...], value: Value, project: str) -> Any:
    """``data`` with ``keys`` = ``value`` set; a config key found however it is written."""
    result = data if isinstance(data, dict) else {}
    node = result
    for depth, key in enumerate(keys):
        name = key
        if depth == 1 and keys[0] == "config":
            name = next((k for k in node if full_key(str(k), project) == full_key(key, project)), key)
        if depth == len(keys) - 1:
            node[name] = _merged(node.get(name), value)
        else:
            if not isinstance(node.get(name), dict):
                node[name] = {}
            node = node[name]
    return result


def set_stack_config(
    text: str,
    path: Path,
    *,
    project: str,
    config: Mapping[str, Value] | None = None,
    top_level: Mapping[str, str] | None = None,
) -> str:
    """``text`` (a stack file) with ``config`` values and ``top_level`` keys set, every other byte kept.

    Args:
        text: the stack file as read (BOM, line ends and all); empty for a file not written yet.
        path: the file, for messages.
        project: the config namespace: a key matches however it is written (``credentialSeed`` or
            ``<project>:credentialSeed``), as the Pulumi CLI reads it; a new key is written in full.
        config: full config key -> value; a mapping merges into a mapping already there.
        top_level: keys beside ``config:`` (``encryptionsalt``) -> their value.

    Raises:
        ConfigEditError: a value cannot be set in place (not a mapping on the way, a block scalar),
            or the edited text would read back as anything but the intended data.
    """
    steps: list[tuple[tuple[str, ...], Value]] = [(("config", k), v) for k, v in (config or {}).items()]
    steps += [((key,), value) for key, value in (top_level or {}).items()]
    try:
        before = load_pulumi_yaml(text, str(path)) if text.strip() else None
    except SourceError as exc:
        raise ConfigEditError(str(exc.problems[0]) if exc.problems else f"{path}: not YAML") from None
    expected = copy.deepcopy(before)
    after = text
    for keys, value in steps:
        shown = ".".join(keys)
        for _edit in range(MAX_EDITS):
            after, done = _put(after, path, keys, value, project, shown)
            if done:
                break
        else:
            raise ConfigEditError(f"{path}: {shown}: more than {MAX_EDITS} edits; nothing changed")
        expected = _expected(expected, keys, value, project)
    try:
        got = load_pulumi_yaml(after, str(path))
    except SourceError:
        got = object()
    if _typed(got) != _typed(expected):
        names = ", ".join(".".join(keys) for keys, _value in steps)
        raise ConfigEditError(
            f"{path}: setting {names} in place would change more than that; nothing changed"
        )
    return after
