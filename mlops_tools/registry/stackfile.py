"""Rewrite one model's pin in a stack file, keeping its comments and layout (ruamel.yaml round-trip)."""

from __future__ import annotations

import difflib
import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from mlops_platform.stacks.loader import PROJECT

SERVING_KEY = f"{PROJECT}:serving"


class StackFileError(Exception):
    """The stack file cannot be rewritten as asked; ``str()`` is one line naming the file and key."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines (image digests)
    yaml.indent(mapping=2, sequence=4, offset=2)  # the stack files' style: "- " indented under its key
    return yaml


def _model_entry(data: Any, path: Path, model: str) -> CommentedMap:
    config = data.get("config") if isinstance(data, dict) else None
    serving = config.get(SERVING_KEY) if isinstance(config, dict) else None
    models = serving.get("models") if isinstance(serving, dict) else None
    if not isinstance(models, list):
        raise StackFileError(f"{path}: config.{SERVING_KEY}.models: not a list of models")
    for index, entry in enumerate(models):
        if isinstance(entry, dict) and entry.get("name") == model:
            ref = entry.get("model")
            if not isinstance(ref, CommentedMap) or ref.get("name") is None:
                line = entry.lc.line + 1 if hasattr(entry, "lc") else 0
                raise StackFileError(
                    f"{path}:{line}: serving.models[{index}].model: model {model!r} is not served from "
                    "the registry (no name with a version or alias)"
                )
            return ref
    names = ", ".join(str(e.get("name")) for e in models if isinstance(e, dict)) or "none"
    raise StackFileError(f"{path}: serving.models: no model named {model!r} (models: {names})")


def pinned_text(path: Path, model: str, version: int) -> tuple[str, str]:
    """(current text, text with ``model`` pinned to ``version``): the ref's alias/version replaced.

    Raises:
        StackFileError: the file is unreadable, or has no such registry-backed model.
    """
    try:
        before = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StackFileError(f"{path}: cannot read it ({exc.strerror})") from None
    yaml = _yaml()
    try:
        data = yaml.load(before)
    except Exception as exc:  # ruamel's YAMLError and its scanner/parser errors
        raise StackFileError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    ref = _model_entry(data, path, model)
    ref.pop("alias", None)
    if "version" in ref:
        ref["version"] = version
    else:
        ref.insert(1, "version", version)  # right after `name`, as a person would write it
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return before, buffer.getvalue()


def unified_diff(path: Path, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), str(path), str(path)
        )
    )
