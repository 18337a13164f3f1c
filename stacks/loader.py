"""Load an environment spec from its Pulumi stack file, apply tier defaults, validate, locate errors.

An environment file ``Pulumi.<env>.yaml`` (in the project's ``stackConfigDir``) is ordinary Pulumi
stack configuration: the spec's sections live under the project's namespace, its name
(``mlops-platform:storage``...). Tier defaults, the library's ``stacks/defaults.yaml``, are merged
underneath, so an environment file states only what differs.
Every problem is reported at once, located at the file and line of the offending key. Nothing here
imports Pulumi: validation stays fast and usable without the SDK.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import re
import types
import typing
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mlops_platform.heap import paused_gc
from mlops_platform.stacks.credentials_config import (
    CREDENTIAL_ROTATIONS_KEY,
    CREDENTIAL_SEED_KEY,
    SEED_FIX,
    parse_rotations,
)
from mlops_platform.stacks.layers import (
    LAYER_KEY,
    LAYER_STACKS_KEY,
    layer_stack_name,
    parse_layer,
    parse_layer_stacks,
)
from mlops_platform.stacks.schema import SECTIONS, EnvironmentSpec, FieldError
from mlops_platform.stacks.stack_checks import stack_file_problems
from mlops_platform.stacks.yaml_source import (
    LocatedYaml,
    PathKey,
    Problem,
    SourceError,
    echo,
    format_path,
    pulumi_config_text,
    pulumi_config_value,
    read_located_yaml,
)
from mlops_platform.validation import PATTERN_MESSAGES

PROJECT = "mlops-platform"
"""The namespace of a stack file that belongs to no project (and this repository's project name)."""
DEFAULTS_FILE = Path(__file__).resolve().parent / "defaults.yaml"  # library data, shipped in the wheel
MODEL_DEFAULTS_KEY = "model"  # defaults.yaml key merged under every serving.models[] entry

SpecError = SourceError  # the name callers of this module know the exception by

_FRIENDLY_PATTERNS = PATTERN_MESSAGES  # one wording for the spec and the components


def _project_of(start: Path | None) -> Any:
    """The Pulumi project of ``start`` (default: the working directory), or None outside any."""
    from mlops_platform.tools.project import Project, ProjectError  # Pulumi-free, as this module

    try:
        return Project.find(start)
    except ProjectError:
        return None


def _stacks_dir(stacks_dir: Path | None) -> Path:
    """``stacks_dir``, or the stack config directory of the working directory's project."""
    if stacks_dir is not None:
        return stacks_dir
    from mlops_platform.tools.project import Project

    return Project.find().stack_config_dir  # ProjectError (a SourceError) says there is none


def environment_files(stacks_dir: Path | None = None) -> list[Path]:
    """Every ``Pulumi.<env>.yaml`` in the stacks directory (default: the project's), sorted by name."""
    return sorted(_stacks_dir(stacks_dir).glob("Pulumi.*.yaml"))


def resolve_environment(name_or_path: str, stacks_dir: Path | None = None) -> Path:
    """Map a stack name (``prod``) to ``<stackConfigDir>/Pulumi.prod.yaml``; accept a path as given.

    Args:
        name_or_path: a stack name, or a path (ends in ``.yaml``/``.yml`` or holds a ``/``).
        stacks_dir: where stack files live; default: the working directory's project's.
    """
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or "/" in name_or_path:
        return candidate
    stacks_dir = _stacks_dir(stacks_dir)
    path = stacks_dir / f"Pulumi.{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(p.name.split(".")[1] for p in environment_files(stacks_dir)) or "none"
        raise SourceError([Problem(name_or_path, None, "", f"unknown environment (known: {known})")])
    return path


def stack_name_of(path: Path) -> str | None:
    """``Pulumi.prod.yaml`` -> ``prod``; None for a file not named as a stack file."""
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")) and name.count(".") >= 2:
        return name.removeprefix("Pulumi.").rsplit(".", 1)[0]
    return None


def full_key(key: str, project: str = PROJECT) -> str:
    """A config key as the Pulumi CLI reads it: ``serving`` -> ``mlops-platform:serving``.

    A key without a namespace belongs to the project's; ``ns:config:name`` is the old spelling of
    ``ns:name`` (pulumi/pulumi ``sdk/go/common/resource/config/key.go``, ``ParseKey``).
    """
    if ":" not in key:
        return f"{project}:{key}"
    namespace, _, name = key.partition(":")
    if name.startswith("config:") and name.count(":") == 1:
        name = name.removeprefix("config:")
    return f"{namespace}:{name}"


@dataclass(slots=True)
class StackFile:
    """A stack file's ``config:`` as the Pulumi CLI reads it: every key in its namespace."""

    located: LocatedYaml  # the document; lines keyed by ``('config', <key as written>, ...)``
    values: dict[str, Any]  # ``namespace:name`` -> the value as written
    written: dict[str, str]  # ``namespace:name`` -> the key as written in the file
    problems: list[Problem]
    has_config: bool

    def line(self, key: str) -> int | None:
        """Line of the (namespaced) ``key`` in the file, however it was written there."""
        written = self.written.get(key)
        return None if written is None else self.located.lines.get(("config", written))


# One command reads the same stack file in several places (``mlops audit``: the CLI's check, the
# engine's config, the spec for the inventory, the locator of findings: 7 readings, 2.2 s each for a
# 1,000-model file on a loaded machine): each reading after the first is this cache's. Keyed by the
# file's identity and change time (a rewrite, atomic or in place, misses) and by the working
# directory (messages name the file relative to it). Callers treat a ``StackFile`` as read-only.
_STACK_FILE_CACHE: dict[tuple[Any, ...], StackFile] = {}
_STACK_FILE_CACHE_SIZE = 4


def read_stack_file(path: Path, project: str = PROJECT) -> StackFile:
    """Read a stack file's config as Pulumi does: the one reading shared by the CLI and the engines.

    Raises:
        SourceError: the file is missing or not YAML (other problems are listed in ``problems``).
    """
    try:
        st = path.stat()
    except OSError:
        return _read_stack_file(path, project)  # read_located_yaml reports it, located
    key = (
        str(path),
        str(path.resolve()),
        Path.cwd(),
        project,
        st.st_dev,
        st.st_ino,
        st.st_mtime_ns,
        st.st_size,
    )
    cached = _STACK_FILE_CACHE.get(key)
    if cached is None:
        cached = _read_stack_file(path, project)
        if len(_STACK_FILE_CACHE) >= _STACK_FILE_CACHE_SIZE:
            _STACK_FILE_CACHE.pop(next(iter(_STACK_FILE_CACHE)))
        _STACK_FILE_CACHE[key] = cached
    return cached


def _read_stack_file(path: Path, project: str) -> StackFile:
    located = read_located_yaml(path)
    problems = list(located.duplicates)
    data = located.data
    values: dict[str, Any] = {}
    written: dict[str, str] = {}
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        config_line = located.lines.get(("config",), 1)
        problems.append(
            Problem(located.file, config_line, "config", "a Pulumi stack file needs a 'config:' mapping")
        )
        return StackFile(located, values, written, problems, False)
    problems += stack_file_problems(located, project)  # secure: values, url_secret keys, top-level keys
    for raw_key, value in data["config"].items():
        key = full_key(str(raw_key), project)
        if key in values:
            first = located.lines.get(("config", written[key]))
            problems.append(
                Problem(
                    located.file,
                    located.lines.get(("config", raw_key)),
                    format_path((str(raw_key),)),
                    f"sets {key} again (as {written[key]!r} on line {first}); a key without a namespace "
                    f"is in the project's ({project}:): keep one of the two",
                )
            )
            continue
        values[key], written[key] = value, str(raw_key)
    return StackFile(located, values, written, problems, True)


def has_secure(value: Any) -> bool:
    """True when ``value`` is or holds a ``secure:`` value."""
    if _is_secure(value):
        return True
    if isinstance(value, dict):
        return any(has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secure(v) for v in value)
    return False


def load_environment(
    name_or_path: str | Path, stacks_dir: Path | None = None, *, project: str | None = None
) -> EnvironmentSpec:
    """Read, merge with tier defaults and validate one environment; raise SourceError on any problem.

    The file is read as the Pulumi CLI reads it (:func:`read_stack_file`), turned into the strings
    the program receives, and validated by the function the program itself uses
    (:func:`spec_from_stack_config`): what validates here is what the program deploys.

    Args:
        name_or_path: a stack file, or a stack name resolved by ``resolve_environment``.
        stacks_dir: where a stack name is looked up; default: the working directory's project's.
        project: the config namespace (the project's name); default: the name of the project the
            file belongs to, ``PROJECT`` for a file outside any project.
    """
    path = name_or_path if isinstance(name_or_path, Path) else resolve_environment(name_or_path, stacks_dir)
    if project is None:
        owner = _project_of(path.resolve().parent)
        project = PROJECT if owner is None else owner.name
    stack_file = read_stack_file(path, project)
    if not stack_file.has_config:  # no config mapping: "required key missing" for every section is noise
        raise SourceError(stack_file.problems)
    values = _ConfigTexts(stack_file.values)
    secret = _secret_keys(stack_file)
    with paused_gc():
        decoded = {key: pulumi_config_value(value) for key, value in stack_file.values.items()}
    return spec_from_stack_config(values, secret, stack_name_of(path), stack_file, project, decoded=decoded)


def _secret_keys(stack_file: StackFile) -> set[str]:
    """The keys whose values are or hold a ``secure:`` value.

    The reader lists the mappings with a ``secure`` key: when each is a config value itself, those
    are the secrets; only one deeper in a value needs a walk of every value (1.2 s of a profiled
    20,000-model validate).
    """
    top = {id(value) for value in stack_file.values.values()}
    if all(id(holder) in top for holder in stack_file.located.secure_holders):
        return {key for key, value in stack_file.values.items() if _is_secure(value)}
    return {key for key, value in stack_file.values.items() if has_secure(value)}


class _ConfigTexts(Mapping[str, str]):
    """A stack file's values as the Pulumi CLI hands them to the program, each written when read.

    ``load_environment`` gives :func:`spec_from_stack_config` the decoded values too
    (:func:`pulumi_config_value`), so the text of a section (13 MB at 20,000 models) is never written.
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> str:
        return pulumi_config_text(self._values[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def declares_spec(path: Path, project: str) -> bool:
    """Whether a stack file holds any spec section (``<project>:environment``, or ``environment``).

    A project whose program is not the platform program has stack files without one: tools that run
    any program (``mlops audit``) validate a spec only where a file declares it.
    """
    stack_file = read_stack_file(path, project)
    return any(f"{project}:{section}" in stack_file.values for section in SECTIONS)


def spec_from_pulumi_config(
    values: Mapping[str, str],
    secret_keys: Set[str],
    stack: str,
    *,
    stacks_dir: Path | None = None,
    project: str = PROJECT,
) -> EnvironmentSpec:
    """Validate the config a program received; the stack file, when present, locates errors.

    Args:
        values: every config key, namespaced, and its string value.
        secret_keys: the keys whose values are secrets.
        stack: the stack name.
        stacks_dir: the project's stack config directory; default: the working directory's project's
            (none: errors name the file, without a line).
        project: the config namespace (``pulumi.get_project()``).
    """
    if stacks_dir is None and (owner := _project_of(None)) is not None:
        stacks_dir = owner.stack_config_dir
    stack_file = None
    path = None if stacks_dir is None else stacks_dir / f"Pulumi.{stack}.yaml"
    if path is not None and path.exists():
        with contextlib.suppress(SourceError):  # the engine has read it already
            stack_file = read_stack_file(path, project)
    return spec_from_stack_config(values, secret_keys, stack, stack_file, project)


def spec_from_stack_config(
    values: Mapping[str, str],
    secret_keys: Set[str],
    stack: str | None,
    stack_file: StackFile | None = None,
    project: str = PROJECT,
    *,
    decoded: Mapping[str, Any] | None = None,
) -> EnvironmentSpec:
    """The spec in a stack's config as the program receives it (``namespace:key`` -> string).

    Structured values are decoded as ``pulumi.Config.get_object`` decodes them. Other namespaces
    (``kubernetes:context``) are their providers'. The stack name must equal ``environment.name``.

    Args:
        values: every config key, namespaced, and its string value.
        secret_keys: the keys whose values are secrets.
        stack: the stack name (None when unknown: no name check).
        stack_file: the file the config was read from, to locate problems (and to report its own).
        project: the project's namespace.
        decoded: the values as the program decodes them (``pulumi.Config.get_object``), by key, when
            the caller has them (:func:`load_environment`); else each is decoded from its string.

    Raises:
        SourceError: every problem, located in the stack file when there is one.
    """
    shown = f"stacks/Pulumi.{stack}.yaml" if stack else "stack configuration"
    located = _relocate_sections(stack_file, project) if stack_file is not None else LocatedYaml(shown, None)
    problems = list(stack_file.problems) if stack_file is not None else []
    sections: dict[str, Any] = {}
    prefix = f"{project}:"
    for key in values:
        if not key.startswith(prefix):
            continue  # provider settings such as kubernetes:context belong to their providers
        name = key.removeprefix(prefix)
        if name in SECTIONS:
            sections[name] = decoded[key] if decoded is not None else _decode(values[key])
            continue
        raw = values[key]
        line = stack_file.line(key) if stack_file is not None else None
        shown_key = stack_file.written.get(key, key) if stack_file is not None else key
        if name == CREDENTIAL_ROTATIONS_KEY:
            try:
                json.loads(raw)  # as pulumi.Config.get_object reads it, in the program
                parse_rotations(_decode(raw))
            except json.JSONDecodeError:
                message = f"{raw!r} is not a valid 'JSON object' (a map of credential names to generations)"
                problems.append(Problem(located.file, line, format_path((shown_key,)), message))
            except ValueError as exc:
                problems.append(Problem(located.file, line, format_path((shown_key,)), str(exc)))
        elif name == CREDENTIAL_SEED_KEY:
            if key not in secret_keys:
                fix = SEED_FIX.format(environment=stack or "ENV")
                message = f"the credential seed must be a secret value (secure:); {fix}"
                problems.append(Problem(located.file, line, format_path((shown_key,)), message))
        elif name in (LAYER_KEY, LAYER_STACKS_KEY):
            try:
                (parse_layer if name == LAYER_KEY else parse_layer_stacks)(_decode(raw))
            except ValueError as exc:
                problems.append(Problem(located.file, line, format_path((shown_key,)), str(exc)))
        elif key not in secret_keys:
            known = (*SECTIONS, CREDENTIAL_ROTATIONS_KEY, LAYER_KEY, LAYER_STACKS_KEY)
            allowed = ", ".join(f"{project}:{s}" for s in known)
            problems.append(
                Problem(
                    located.file,
                    line,
                    format_path((shown_key,)),
                    f"unknown key (allowed: {allowed}, or a secret value)",
                )
            )
    spec = None
    try:
        spec = validate_sections(sections, located)
    except SourceError as exc:
        problems += [p for p in exc.problems if p not in problems]
    expected = None if spec is None else _expected_stack_name(spec.environment.name, values, prefix)
    if spec is not None and stack is not None and expected is not None and expected != stack:
        problems.append(
            Problem(
                located.file,
                located.line_of(("environment", "name")),
                "environment.name",
                f"must equal the stack name {stack!r} (got {spec.environment.name!r}"
                + ("" if expected == spec.environment.name else f", whose layer stack is {expected!r}")
                + "): the stack name picks "
                "the Pulumi stack and its state, environment.name labels every resource and selects the "
                "waivers; a copied stack file keeps the old name",
            )
        )
    if problems:
        raise SourceError(sorted(problems, key=lambda p: (p.file, p.line or 0, p.path)))
    assert spec is not None
    return spec


def _expected_stack_name(environment: str, values: Mapping[str, str], prefix: str) -> str | None:
    """The stack an environment's config belongs to: its name, or its layer stack's (``prod-serving``).

    None when the layer keys are invalid (reported as such by the caller's key checks).
    """
    layer_raw = values.get(f"{prefix}{LAYER_KEY}")
    if layer_raw is None:
        return environment
    try:
        layer = parse_layer(_decode(layer_raw))
        overrides = parse_layer_stacks(_decode(values.get(f"{prefix}{LAYER_STACKS_KEY}", "null")))
    except ValueError:
        return None
    return environment if layer is None else layer_stack_name(environment, layer, overrides)


def _decode(raw: str) -> Any:
    """A config string as ``pulumi.Config.get_object`` reads it: JSON, else the string itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def validate_sections(sections: Mapping[str, Any], located: LocatedYaml) -> EnvironmentSpec:
    """Merge tier defaults under ``sections`` and validate; every problem located in ``located``."""
    defaults = _read_defaults()
    tier = (
        sections.get("environment", {}).get("tier") if isinstance(sections.get("environment"), dict) else None
    )
    with paused_gc():  # 190,000 model instances at 20,000 models: see paused_gc
        merged = _with_defaults(dict(sections), defaults.data, tier)
        try:
            return EnvironmentSpec.model_validate(merged)
        except ValidationError as exc:
            raise SourceError(_problems_from(exc, located, defaults, tier)) from None


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _relocate_sections(stack_file: StackFile, project: str = PROJECT) -> LocatedYaml:
    """The stack file, lines keyed by spec path: ``('serving', 1)`` for ``('config', 'ns:serving', 1)``.

    Keys written without the namespace (``serving:``) are the project's too. The lines are looked up
    in the file's own (:class:`_SectionLines`), never copied: a 20,000-model file has 456,000.
    """
    located = stack_file.located
    prefix = f"{project}:"
    written = stack_file.written.items()
    sections = {key.removeprefix(prefix): raw for key, raw in written if key.startswith(prefix)}
    return LocatedYaml(located.file, located.data, _SectionLines(located.lines, sections), [])


class _SectionLines(Mapping[PathKey, int]):
    """The lines of a stack file's sections by spec path, read through to the file's lines.

    A section missing from the file is reported at the ``config:`` key that should hold it: the root
    path ``()`` is that key's line.
    """

    def __init__(self, lines: Mapping[PathKey, int], sections: dict[str, str]) -> None:
        self._lines = lines
        self._sections = sections  # section name -> its key as written in the file
        self._written = {raw: name for name, raw in sections.items()}

    def __getitem__(self, path: PathKey) -> int:
        if not path:
            return self._lines.get(("config",), 1)
        written = self._sections.get(str(path[0])) if isinstance(path[0], str) else None
        if written is None:
            raise KeyError(path)
        return self._lines[("config", written, *path[1:])]

    def __iter__(self) -> Iterator[PathKey]:
        yield ()
        for path in self._lines:
            if len(path) >= 2 and path[0] == "config" and path[1] in self._written:
                yield (self._written[str(path[1])], *path[2:])

    def __len__(self) -> int:
        return sum(1 for _ in self)


# Keyed by the working directory: the file name shown in messages is relative to it.
_defaults_cache: dict[Path, LocatedYaml] = {}


def _read_defaults() -> LocatedYaml:
    cwd = Path.cwd()
    if cwd not in _defaults_cache:
        _defaults_cache[cwd] = read_located_yaml(DEFAULTS_FILE)
    return _defaults_cache[cwd]


def _deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else in ``override`` replaces ``base``."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return override


def _with_defaults(sections: dict[str, Any], defaults: dict[str, Any], tier: Any) -> dict[str, Any]:
    layers = [defaults.get("common", {})]
    if isinstance(tier, str) and tier in defaults:
        layers.append(defaults[tier])
    base: dict[str, Any] = {}
    model_defaults: dict[str, Any] = {}
    for layer in layers:
        layer = copy.deepcopy(layer)
        model_defaults = _deep_merge(model_defaults, layer.pop(MODEL_DEFAULTS_KEY, {}))
        base = _deep_merge(base, layer)
    merged = _deep_merge(base, sections)
    serving = merged.get("serving")
    if isinstance(serving, dict) and isinstance(serving.get("models"), list):
        serving["models"] = [
            _deep_merge(model_defaults, m) if isinstance(m, dict) else m for m in serving["models"]
        ]
    return merged


def _problems_from(
    exc: ValidationError, located: LocatedYaml, defaults: LocatedYaml, tier: Any
) -> list[Problem]:
    problems = list(located.duplicates)
    for error in exc.errors(include_url=False):
        path: PathKey = tuple(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            path = (*path, *cause.path)
        message = _message(error, cause)
        file, line = located.file, located.lines.get(path)
        if line is None:
            default_line = _default_line(path, defaults, tier)
            if default_line is not None:
                file, line = defaults.file, default_line
                message += " (tier default)"
            else:
                line = located.line_of(path)
        problems.append(Problem(file, line, format_path(path), message))
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.path))


def _default_line(path: PathKey, defaults: LocatedYaml, tier: Any) -> int | None:
    """Line in defaults.yaml that supplied ``path``, if a default did."""
    if not isinstance(tier, str):  # an unhashable tier (a list...) cannot name a defaults layer
        tier = "common"
    if len(path) >= 3 and path[:2] == ("serving", "models"):
        candidates = [(layer, MODEL_DEFAULTS_KEY, *path[3:]) for layer in (tier, "common")]
    else:
        candidates = [(layer, *path) for layer in (tier, "common")]
    for candidate in candidates:
        if (line := defaults.lines.get(candidate)) is not None:
            return line
    return None


def _message(error: Any, cause: Any) -> str:
    kind = error["type"]
    if kind == "cross_field":
        return str(error["msg"])
    if isinstance(cause, FieldError) or kind == "value_error":
        return str(cause) if cause is not None else error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(error["loc"][:-1]))
        hint = difflib.get_close_matches(str(error["loc"][-1]), allowed, n=1)
        return (
            f"unknown key (did you mean {hint[0]!r}?)"
            if hint
            else f"unknown key (allowed: {', '.join(allowed)})"
        )
    if kind == "missing":
        return "required key missing"
    if kind == "string_pattern_mismatch":
        pattern = error["ctx"]["pattern"]
        text = _FRIENDLY_PATTERNS.get(pattern, f"must match {pattern}")
        return f"{text} (got {echo(error['input'], tuple(error['loc']))})"
    message = error["msg"]
    if not isinstance(error.get("input"), dict | list):
        message += f" (got {echo(error['input'], tuple(error['loc']))})"
    return re.sub(r"^Value error, ", "", message)


def _allowed_keys(path: PathKey) -> list[str]:
    """Field names of the model found at ``path`` in the schema (empty when it is not a model)."""
    model: Any = EnvironmentSpec
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _model_in(model.model_fields[part].annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside ``X``, ``X | None``, ``list[X]`` or ``Annotated[...]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            if (found := _model_in(arg)) is not None:
                return found
    return None


class SpecLocator:
    """Where a spec path (``('serving', 'models', 1, 'image')``) is written: the stack file or a default.

    For tools that point people at the spec (audit findings): the stack file's line when the file
    states the key, else the tier default's line in ``stacks/defaults.yaml`` that supplied it.
    """

    def __init__(self, path: Path, project: str = PROJECT, *, defaults: bool = True) -> None:
        """``defaults=False``: a key only a tier default states points at its nearest written ancestor."""
        stack_file = read_stack_file(path, project)
        self._located = _relocate_sections(stack_file, project)
        environment = stack_file.values.get(f"{project}:environment")
        tier = environment.get("tier") if isinstance(environment, dict) else None
        self._tier = tier if isinstance(tier, str) else "common"
        self._defaults = _read_defaults()
        self._use_defaults = defaults

    def declares(self, path: PathKey) -> bool:
        """Whether the stack file writes ``path`` down (a program of one's own declares no spec)."""
        return path in self._located.lines

    @property
    def file(self) -> str:
        return self._located.file

    def locate(self, path: PathKey) -> tuple[str, int | None, bool]:
        """``(file, line, from_default)`` of ``path``, or of its nearest ancestor that is written down."""
        for end in range(len(path), 0, -1):
            key = path[:end]
            if (line := self._located.lines.get(key)) is not None:
                return self._located.file, line, False
            if self._use_defaults and (line := _default_line(key, self._defaults, self._tier)) is not None:
                return self._defaults.file, line, True
        return self._located.file, self._located.lines.get(()), False
