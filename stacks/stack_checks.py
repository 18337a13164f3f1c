"""Checks of a stack file as a whole that the spec schema cannot make: its top level and its secrets.

- Only the keys a Pulumi stack file has may sit beside ``config:`` (a typo such as ``confg:`` next to
  it would otherwise be ignored by every reader).
- Every ``secure:`` value is the ciphertext string ``pulumi config set --secret`` writes: a number,
  null, an empty string, a list or a mapping is a broken secret that the CLI cannot decrypt.
- A receiver's ``url_secret`` names a key that the file really holds, as a secret: otherwise the
  program fails later, at the engine, without a location.

Messages never echo a secret: only its kind and where it is.
"""

from __future__ import annotations

import re
from typing import Any

from mlops_platform.stacks.yaml_source import LocatedYaml, PathKey, Problem, format_path

# The keys of a Pulumi stack file (Pulumi.<stack>.yaml): `pulumi config`, secrets providers, ESC.
STACK_FILE_KEYS = ("config", "encryptionsalt", "encryptedkey", "secretsprovider", "environment")
# Ciphertext as Pulumi's secrets providers write it: base64 with ':'-separated parts (v1:salt:data).
_CIPHERTEXT = re.compile(r"[A-Za-z0-9+/=:_-]+")


def stack_file_problems(located: LocatedYaml, project: str) -> list[Problem]:
    """Every problem of ``located`` (a stack file as read) outside the spec sections' schema."""
    data = located.data
    if not isinstance(data, dict):
        return []
    problems = [
        Problem(
            located.file,
            located.lines.get((key,)),
            format_path((key,)),
            f"unknown top-level key (a stack file has {', '.join(STACK_FILE_KEYS)})",
        )
        for key in data
        if key not in STACK_FILE_KEYS
    ]
    config = data.get("config")
    if not isinstance(config, dict):
        return problems
    problems += _secure_problems_of(located, config)
    problems += _url_secret_problems(located, config, project)
    return problems


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "text that is not ciphertext"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _secure_problems_of(located: LocatedYaml, config: dict[str, Any]) -> list[Problem]:
    """The problems of every ``secure:`` value in ``config``.

    The reader lists the mappings with a ``secure`` key (``secure_holders``): when each is a config
    value itself (``key: {secure: ...}``, as ``pulumi config set --secret`` writes them), they are
    checked where they are; only a ``secure`` key deeper in a value needs the walk of the whole file
    (0.8 s of 9 in a profiled 20,000-model validate).
    """
    holders = located.secure_holders
    top = {id(value): key for key, value in config.items()}
    if all(id(holder) in top for holder in holders):
        return [p for h in holders for p in _secure_problems(located, h, ("config", top[id(h)]))]
    return _secure_problems(located, config, ("config",))


def _secure_problems(located: LocatedYaml, value: Any, path: PathKey) -> list[Problem]:
    if isinstance(value, dict) and "secure" in value:
        secret = value["secure"]
        if isinstance(secret, str) and _CIPHERTEXT.fullmatch(secret):
            return []
        where = (*path, "secure")
        shown = where[1:] if where[0] == "config" else where
        message = (
            f"must be the ciphertext that `pulumi config set --secret` writes, got {_kind(secret)}; "
            "set the secret again with that command"
        )
        return [Problem(located.file, located.line_of(where), format_path(shown), message)]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _secure_problems(located, item, (*path, key))]
    if isinstance(value, list):
        return [
            p for index, item in enumerate(value) for p in _secure_problems(located, item, (*path, index))
        ]
    return []


def _url_secret_problems(located: LocatedYaml, config: dict[str, Any], project: str) -> list[Problem]:
    """A receiver's ``url_secret`` must name a secret key of the file (namespaced or not)."""
    monitoring_key = next((k for k in (f"{project}:monitoring", "monitoring") if k in config), None)
    monitoring = config.get(monitoring_key) if monitoring_key else None
    receivers = monitoring.get("receivers") if isinstance(monitoring, dict) else None
    problems = []
    for index, receiver in enumerate(receivers if isinstance(receivers, list) else []):
        name = receiver.get("url_secret") if isinstance(receiver, dict) else None
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            continue  # absent or malformed: the schema reports it
        held = next((config[k] for k in (f"{project}:{name}", name) if k in config), None)
        path = ("config", monitoring_key or "", "receivers", index, "url_secret")
        if held is None:
            message = (
                f"names the secret {name!r}, which this file does not hold; set it with "
                f"`pulumi config set --secret {name} <url>`"
            )
        elif not (isinstance(held, dict) and set(held) == {"secure"}):
            message = (
                f"names {name!r}, which this file holds in plaintext: a webhook URL is a credential; "
                f"set it with `pulumi config set --secret {name} <url>`"
            )
        else:
            continue
        problems.append(Problem(located.file, located.line_of(path), format_path(path[1:]), message))
    return problems
