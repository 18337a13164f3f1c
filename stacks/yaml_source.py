"""YAML reading that remembers where every key came from.

PyYAML's composer (with the libyaml C parser when available) gives each node a start mark, so one
walk builds both the plain data and a map from key paths to 1-based line numbers. Duplicate keys,
which YAML forbids but PyYAML silently collapses, are reported as problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem: ``file:line: path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SourceError(Exception):
    """Every problem found in one or more source files; nothing was built."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(slots=True)
class LocatedYaml:
    """A parsed document plus the line of every key and item in it."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)
    duplicates: list[Problem] = field(default_factory=list)

    def line_of(self, path: PathKey) -> int | None:
        """Line of ``path`` or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            if (line := self.lines.get(path[:end])) is not None:
                return line
        return None


_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_KEY = re.compile(r"[^\s\[\].'\"]+")


def format_path(path: PathKey) -> str:
    """``serving.models[1].replicas``; an odd key is quoted (``['a b']``) so a problem stays one line."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it, as users typed it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_located_yaml(path: Path) -> LocatedYaml:
    """Parse ``path``; raise SourceError for a missing file or a syntax error."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError([Problem(shown, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError([Problem(shown, None, "", f"cannot read: {exc}")]) from None
    loader = None
    try:
        loader = _Loader(text)  # the pure-Python reader checks characters here already
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:  # a control character: no mark, only an offset
        # libyaml counts the offset in UTF-8 bytes, PyYAML's pure-Python reader in characters.
        if exc.encoding != "unicode":
            line = text.encode()[: exc.position].count(b"\n") + 1
        else:
            line = text[: exc.position].count("\n") + 1
        reason = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise SourceError([Problem(shown, line, "", f"YAML syntax error: {reason}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        mark_line = mark.line + 1 if mark is not None else None
        raise SourceError([Problem(shown, mark_line, "", f"YAML syntax error: {reason}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    located = LocatedYaml(shown, None)
    if node is not None:
        located.data = _build(node, (), located, yaml.SafeLoader(""), frozenset())
    return located


def _build(
    node: yaml.Node, path: PathKey, out: LocatedYaml, constructor: yaml.SafeLoader, active: frozenset[int]
) -> Any:
    """Plain data of ``node``; ``active`` holds the collections being built above it.

    An alias to one of its own ancestors (``a: &x [*x]``) is legal YAML but has no finite plain
    value: it is reported instead of recursing until the interpreter gives up.
    """
    out.lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in active:
        line = node.start_mark.line + 1
        raise SourceError([Problem(out.file, line, format_path(path), "recursive YAML alias")])
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        active = active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, (*path, "?"), out, constructor)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in result:
                out.duplicates.append(
                    Problem(out.file, key_node.start_mark.line + 1, format_path(child), "duplicate key")
                )
            out.lines[child] = key_node.start_mark.line + 1
            result[key] = _build(value_node, child, out, constructor, active)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), out, constructor, active) for index, item in enumerate(node.value)
        ]
    return _construct(node, path, out, constructor)


def _construct(node: yaml.Node, path: PathKey, out: LocatedYaml, constructor: yaml.SafeLoader) -> Any:
    """The value of one scalar (or key) node; a value its tag cannot build is a located problem.

    PyYAML's constructors raise assorted exceptions for values that parse but cannot be built:
    ``2024-13-45`` (matches the timestamp pattern, ValueError), ``!!int abc``, unknown tags.
    """
    if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
        return node.value  # what SafeConstructor builds, minus its bookkeeping: most values are strings
    try:
        return constructor.construct_object(node, deep=True)
    except Exception as exc:
        reason = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        value = f" {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
        line = node.start_mark.line + 1
        raise SourceError(
            [Problem(out.file, line, format_path(path), f"invalid value{value}: {reason}")]
        ) from None
