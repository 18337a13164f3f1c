"""Positive evidence: the observed values a rule judged, read from a resource's captured inputs.

The paths come from :data:`mlops_platform.policies.evidence.RULE_EVIDENCE`. Output is bounded
(:data:`MAX_OBSERVATIONS` per policy and resource, :data:`MAX_VALUE_CHARS` per value) and never holds
a secret: the engine already replaced secret inputs by ``SECRET_MARKER``, rendered here as
``[secret]``, and the report view redacts every string by fingerprint on top.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonpath

from mlops_platform.policies.evidence import OPTION_PREFIX, RULE_EVIDENCE, RULE_SUBJECTS
from mlops_platform.tools.engine.props import SECRET_SIG, SIG_KEY
from mlops_platform.tools.findings import SECRET_MARKER, CapturedResource

MAX_OBSERVATIONS = 8
MAX_VALUE_CHARS = 160
SECRET_TEXT = "[secret]"
_OPTIONS = frozenset({"protect", "retain_on_delete", "additional_secret_outputs", "delete_before_replace"})


@cache
def _compiled(path: str) -> jsonpath.JSONPath | jsonpath.CompoundJSONPath:
    return jsonpath.compile(path)


@cache
def _literal_prefix(path: str) -> tuple[str, ...]:
    """The plain keys a query starts with (``$.spec.template.spec.containers[*]`` -> spec, template, spec).

    Most queries match nothing on most resources; walking these keys first skips the JSONPath engine
    for them (measured on the bundled prod, 40 policies x 80 resources: 0.67 -> 0.31 ms per pair).
    """
    keys: list[str] = []
    for segment in path.removeprefix("$.").split("."):
        name, bracket, _ = segment.partition("[")
        if not name.isidentifier():
            break
        keys.append(name)
        if bracket:
            break
    return tuple(keys) if path.startswith("$.") else ()


def _may_match(document: Any, path: str) -> bool:
    for key in _literal_prefix(path):
        if not isinstance(document, dict) or key not in document:
            return False
        document = document[key]
    return True


def _format_parts(parts: tuple[Any, ...]) -> str:
    """``("spec", "containers", 0, "mlops.dev/x")`` -> ``spec.containers[0]['mlops.dev/x']``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = str(part)
        if key.startswith("~"):  # python-jsonpath's key selector: the match is the key itself
            out += f"['{key[1:]}'] (key)" if not key[1:].isidentifier() else f".{key[1:]} (key)"
        elif key.replace("_", "").replace("-", "").isalnum() and not key[0].isdigit():
            out += f".{key}" if out else key
        else:
            out += f"['{key}']"
    return out


def _parts_key(parts: tuple[Any, ...]) -> tuple[tuple[int, int, str], ...]:
    """Document order independent of map order: indices numerically, keys alphabetically."""
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in parts)


def _named(document: Any, parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """``("labels", 8, "value")`` -> ``("labels", "mlops.dev/model")`` for Docker's ``[{label, value}]``."""
    if len(parts) < 3 or parts[-1] != "value" or not isinstance(parts[-2], int):
        return parts
    item = document
    for part in parts[:-1]:
        try:
            item = item[part]
        except (KeyError, IndexError, TypeError):
            return parts
    return (
        (*parts[:-2], item["label"])
        if isinstance(item, dict) and isinstance(item.get("label"), str)
        else parts
    )


def _is_secret(value: Any) -> bool:
    """The offline engine's ``SECRET_MARKER``, or a Pulumi secret envelope as the real engine's state
    holds it (``{SIG_KEY: SECRET_SIG, "ciphertext": ...}``): neither is printed, not even its keys."""
    return isinstance(value, dict) and (value == SECRET_MARKER or value.get(SIG_KEY) == SECRET_SIG)


def _scrub(value: Any) -> Any:
    if _is_secret(value):
        return SECRET_TEXT
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _holds_secret(value: Any) -> bool:
    if _is_secret(value):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_secret(v) for v in value)
    return False


def _text(value: Any) -> str:
    value = _scrub(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def is_subject(inputs: Any, policy: str) -> bool:
    """Whether a resource with ``inputs`` is one ``policy``'s evidence may list (``RULE_SUBJECTS``)."""
    subjects = RULE_SUBJECTS.get(policy)
    return subjects is None or any(
        _may_match(inputs, path) and next(iter(_compiled(path).finditer(inputs)), None) is not None
        for path in subjects
    )


def observe(resource: CapturedResource, policy: str) -> tuple[list[dict[str, str]], int]:
    """The values ``policy`` reads on ``resource``: up to :data:`MAX_OBSERVATIONS` ``{path, value}``.

    Returns:
        The observations, in path order then document order, and how many more were left out.
    """
    observed: list[dict[str, str]] = []
    seen: set[str] = set()
    total = 0
    # Secrets become the plain text "[secret]" before any query runs: a key selector (``$.data.~``)
    # must not list the keys of a secret envelope either.
    inputs = _scrub(resource.inputs) if _holds_secret(resource.inputs) else resource.inputs
    if not is_subject(inputs, policy):
        return [], 0
    for path in RULE_EVIDENCE.get(policy, ()):
        if path.startswith(OPTION_PREFIX):
            name = path.removeprefix(OPTION_PREFIX)
            pairs = [(f"options.{name}", getattr(resource, name))] if name in _OPTIONS else []
        else:
            pairs = (
                [
                    (_format_parts(_named(inputs, m.parts)), m.value)
                    # Sorted: map order is the engine's (the real engine's Structs sort keys, the
                    # mocks keep insertion order), and the bound must keep the same observations.
                    for m in sorted(_compiled(path).finditer(inputs), key=lambda m: _parts_key(m.parts))
                ]
                if _may_match(inputs, path)
                else []
            )
        for where, value in pairs:
            if where in seen:  # labels and annotations overlap for Docker, recursive paths repeat
                continue
            seen.add(where)
            total += 1
            if len(observed) < MAX_OBSERVATIONS:
                observed.append({"path": where, "value": _text(value)})
    return observed, total - len(observed)
