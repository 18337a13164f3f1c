"""Stack configuration as the Pulumi CLI hands it to a program, read from ``stacks/Pulumi.<ENV>.yaml``.

The file is read by ``stacks.loader.read_stack_file``, the reading ``mlops validate`` and the program
share: keys without a namespace are the project's, other namespaces pass through.

The CLI passes every config value to the language host as a string: plain strings as they are, other
scalars in their YAML spelling, objects and lists as JSON. ``secure:`` values are ciphertext that only
the stack's secrets provider can decrypt; offline they become a deterministic placeholder and the key
is listed as secret, so ``Config.get_secret``/``require_secret`` still yield secret Outputs. A file
without the credential seed (every bundled one: the seed is written per deployed stack by
``mlops secrets ENV``) gets ``credential_seed_placeholder(ENV)`` as that secret, so the program can run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_platform.stacks.credentials_config import CREDENTIAL_SEED_KEY, credential_seed_placeholder
from mlops_platform.stacks.loader import StackFile, read_stack_file
from mlops_platform.stacks.yaml_source import SourceError, pulumi_config_text

PROJECT = "mlops-platform"


@dataclass(frozen=True, slots=True)
class StackOutputs:
    """The outputs of another stack, as a ``StackReference`` reads them."""

    values: dict[str, Any]
    secret_names: frozenset[str] = frozenset()


class StackConfigError(ValueError):
    """The stack file cannot be read as Pulumi stack configuration."""


@dataclass(frozen=True, slots=True)
class StackConfig:
    """The runtime configuration of one stack: what ``PULUMI_CONFIG`` would hold."""

    environment: str
    project: str
    values: dict[str, str]
    secret_keys: frozenset[str]
    secret_values: frozenset[str] = frozenset()  # the placeholders standing for encrypted values
    stack_references: Mapping[str, StackOutputs] = field(default_factory=dict)
    """Stack name -> its outputs, served to the program's ``StackReference``s (a split environment's
    upstream layers, captured before)."""

    def with_layer(
        self, stack: str, extra: Mapping[str, str], references: Mapping[str, StackOutputs]
    ) -> StackConfig:
        """This config as stack ``stack`` of a split environment: more values, upstream outputs."""
        values = {**self.values, **extra}
        return StackConfig(
            stack, self.project, values, self.secret_keys, self.secret_values, dict(references)
        )

    def namespace(self, namespace: str) -> dict[str, str]:
        """Config values of one namespace (``kubernetes``, ``mlops-platform``), keyed without it."""
        prefix = f"{namespace}:"
        return {k[len(prefix) :]: v for k, v in self.values.items() if k.startswith(prefix)}

    def object(self, key: str) -> Any:
        """A structured value of the project namespace, parsed back from JSON (None when absent)."""
        raw = self.values.get(f"{self.project}:{key}")
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw


def secret_placeholder(key: str, ciphertext: str) -> str:
    """The stand-in for an encrypted value: deterministic, unique per key and ciphertext, obviously fake."""
    digest = hashlib.sha256(f"{key}\0{ciphertext}".encode()).hexdigest()[:12]
    return f"mock-secret-{digest}"


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _strip_secure(key: str, value: Any, found: set[str]) -> Any:
    """Replace nested ``{secure: ...}`` leaves by placeholders, adding each placeholder to ``found``."""
    if _is_secure(value):
        stand_in = secret_placeholder(key, str(value["secure"]))
        found.add(stand_in)
        return stand_in
    if isinstance(value, dict):
        return {k: _strip_secure(f"{key}.{k}", v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secure(f"{key}[{i}]", v, found) for i, v in enumerate(value)]
    return value


def environment_name(env_file: Path) -> str:
    """``stacks/Pulumi.prod.yaml`` -> ``prod``."""
    name = env_file.name
    if not (name.startswith("Pulumi.") and name.endswith((".yaml", ".yml"))):
        raise StackConfigError(f"{env_file}: not a stack file (expected Pulumi.<ENV>.yaml)")
    return name.removeprefix("Pulumi.").rsplit(".", 1)[0]


def misshapen_stack_file(stack_file: StackFile) -> bool:
    """Whether no program can run with this file: not a mapping, or a ``config:`` that is not one.

    Its ``problems`` then say where (a file without ``config:`` is fine: a program without config).
    """
    data = stack_file.located.data
    if data is not None and not isinstance(data, dict):
        return True
    return isinstance(data, dict) and data.get("config") is not None and not stack_file.has_config


def load_stack_config(env_file: Path, *, project: str = PROJECT) -> StackConfig:
    """Read a stack file into the runtime config the CLI would pass to the program.

    A file without ``credentialSeed`` gets the stand-in seed ``credential_seed_placeholder(ENV)``,
    listed in ``secret_keys`` and ``secret_values`` like the stand-in of a ``secure:`` value.

    Args:
        env_file: ``stacks/Pulumi.<ENV>.yaml``.
        project: namespace given to keys written without one.

    Raises:
        StackConfigError: the file is missing, not YAML, or its ``config`` is not a mapping.
    """
    env = environment_name(env_file)
    try:
        stack_file = read_stack_file(env_file, project)
    except SourceError as exc:
        syntax = any(p.message.startswith("YAML syntax error") for p in exc.problems)
        raise StackConfigError(f"invalid YAML: {exc}" if syntax else str(exc)) from exc
    data = stack_file.located.data
    if data is not None and not isinstance(data, dict):
        raise StackConfigError(f"{env_file}: expected a mapping at the top level")
    if isinstance(data, dict) and data.get("config") is not None and not stack_file.has_config:
        line = stack_file.located.lines.get(("config",))
        raise StackConfigError(f"{env_file}{f':{line}' if line else ''}: `config` must be a mapping")
    if stack_file.has_config and stack_file.problems:  # duplicate keys, both forms of one key
        raise StackConfigError("\n".join(map(str, stack_file.problems)))
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    placeholders: set[str] = set()
    for key, raw_value in stack_file.values.items():  # namespaced as the Pulumi CLI reads them
        found: set[str] = set()
        values[key] = pulumi_config_text(_strip_secure(key, raw_value, found))
        if found:
            secret_keys.add(key)
            placeholders |= found
    seed_key = f"{project}:{CREDENTIAL_SEED_KEY}"
    if seed_key not in values:  # as `mlops secrets ENV` would set it, with an obviously fake value
        values[seed_key] = credential_seed_placeholder(env)
        secret_keys.add(seed_key)
        placeholders.add(values[seed_key])
    return StackConfig(env, project, values, frozenset(secret_keys), frozenset(placeholders))
